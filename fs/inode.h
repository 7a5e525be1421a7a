/* The inode table of the low-level driver: what each inode number the kernel holds
 * stands for, and the kernel's lookup count on it.
 *
 * The root, a view (a query), a job directory (a uuid in a view) and a directory
 * inside a job (a path within the job) each name a place, never a snapshot: each use
 * re-resolves the job through the store, so a change shows within ttl, and the same
 * (parent, name) gets the same inode while the kernel holds it (st_ino is stable).
 *
 * A file is the other way round: its inode is one version of the file, and never
 * changes. The kernel cuts every read to the size it holds and keeps pages by inode,
 * so a file whose value changed in place under it could be read cut to its old size
 * or mixed with its old pages, whatever the timeouts (the soak found it, issue 6).
 * When a lookup finds a file's value (or mtime) changed, the name gets a new inode,
 * as if the file had been replaced by rename: whoever still reads the old inode reads
 * the old version whole, and the next open gets the new one.
 *
 * What the table's lock guards is marked below; the rest is immutable once created,
 * so request handlers read it without the lock. */
#ifndef JOBSFS_FS_INODE_H
#define JOBSFS_FS_INODE_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jfs_cluster;
struct jfs_job;
struct jfs_listing;
struct jfs_node;
struct jfs_query;

enum jfs_inode_kind {
	JFS_INODE_FLEET, /* a fleet's MOUNT/: its clusters' directories */
	JFS_INODE_ROOT, /* every job of a source: MOUNT/ (a fleet's MOUNT/<cluster>/),
			 * and its .history/ */
	JFS_INODE_VIEW,
	JFS_INODE_JOB,
	JFS_INODE_NODE, /* a directory inside a job */
	JFS_INODE_FILE, /* one version of a file inside a job */
	JFS_INODE_GAPS, /* MOUNT/.history/gaps: made anew at each read */
	JFS_INODE_WAIT, /* MOUNT/<uuid>/wait: a read ends when the job does (wait.c);
			 * a new inode at each lookup, so that each reader has its own
			 * request, its own interrupt, and no page another one cached */
	JFS_INODE_CTL,	/* MOUNT/<uuid>/ctl with -o control: a write acts (ctl.c) */
};

/* The history's tree, reachable by name and never listed (like a view). */
#define JFS_HISTORY_DIR ".history"
#define JFS_GAPS_FILE "gaps"
/* In each job directory: never listed; and with -o control, listed, live jobs only. */
#define JFS_WAIT_FILE "wait"
#define JFS_CTL_FILE "ctl"


/* A cold `find` over 100,000 jobs makes 1.5 million of these: fields that only some
 * kinds use share storage, and the small ones share words. */
struct jfs_inode {
	fuse_ino_t ino;
	enum jfs_inode_kind kind;
	unsigned refs;		  /* children holding this inode as parent (table lock) */
	struct jfs_inode *parent; /* NULL for the root; the child holds a reference */
	struct jfs_cluster *cluster; /* whose jobs it shows (a parent's, or the one
				      * jfs_inodes_link_cluster gave); NULL: FLEET */
	const char *name;	  /* name in parent ("" for the root) */
	struct jfs_query *query;  /* ROOT: NULL (every job); VIEW: its whole query */
	struct jfs_inode *view;	  /* JOB, NODE, FILE, WAIT, CTL: the root or view the job
				   * was found in */
	struct jfs_inode *job;	  /* JOB: itself; NODE, FILE, WAIT, CTL: its job directory */
	const char *uuid;	  /* JOB, NODE, FILE, WAIT, CTL: the job's uuid; strings live
				   * in the inode's own allocation (or an ancestor's) */
	const char *path;	  /* NODE, FILE, WAIT, CTL: path within the job ("svm/name");
				   * JOB: "" */
	bool history;		  /* under MOUNT/.history (the history's own root
				   * included): served by the recorded source (next
				   * to the flags below: one word for the four) */

	/* Guarded by the table's lock. */
	bool listing_told;	  /* the kernel was told that listing went stale */
	bool named;		  /* in the (parent, name) map: false once a newer
				   * version of the file took the name */
	bool marked;		  /* JOB: one of the jobs jfs_inodes_of_jobs is
				   * collecting (set for every JOB inode at the
				   * start of each call; read only within it) */
	union {
		struct jfs_listing *listing; /* ROOT, VIEW: the newest listing served for
					      * it (a reference; see jfs_inodes_listing) */
		struct jfs_job *version;     /* FILE: the job version it shows (a
					      * reference; the file is at path in it); a
					      * later one with the same value and mtime
					      * may take its place, so that the older can
					      * be freed */
	};
	struct jfs_inode *dir_next; /* the table's list of inodes holding a listing */
	uint64_t nlookup;	  /* the kernel's lookup count */
	struct jfs_inode *ino_next, *name_next; /* hash chains */
	uint64_t name_hash;
};

struct jfs_inodes;

/* A table holding the root (FUSE_ROOT_ID): the ROOT of cluster, or with cluster NULL
 * a FLEET (whose children are made by jfs_inodes_link_cluster). 0 or -ENOMEM. */
int jfs_inodes_new(struct jfs_cluster *cluster, struct jfs_inodes **out);
void jfs_inodes_free(struct jfs_inodes *t); /* frees every inode left */

/* The inode for ino, or NULL when the kernel holds no such number. */
struct jfs_inode *jfs_inodes_get(struct jfs_inodes *t, fuse_ino_t ino);

/* The child `name` of parent, created when new (kind; uuid for JOB; query for VIEW,
 * whose ownership passes to the table either way; a WAIT is always new, and takes the
 * name), with its lookup count raised by one. A ROOT child of a ROOT is the history's
 * root: it and all below it are `history`. A name whose inode is of another kind (a
 * field that was a file is now an
 * object) gets a new inode. Returns 0 or -ENOMEM (query freed). */
int jfs_inodes_link(struct jfs_inodes *t, struct jfs_inode *parent, const char *name,
		    enum jfs_inode_kind kind, const char *uuid, struct jfs_query *query,
		    struct jfs_inode **out);

/* The ROOT inode of cluster c, child `name` of the FLEET root, as jfs_inodes_link. */
int jfs_inodes_link_cluster(struct jfs_inodes *t, struct jfs_inode *fleet, const char *name,
			    struct jfs_cluster *c, struct jfs_inode **out);

/* The inode of file `name` of parent (a job directory or a directory inside one) as
 * file, a node of version, is now: the inode the name has when it shows the same
 * value and mtime (or a newer version of the job than the caller's), else a new one
 * that takes the name. Its lookup count is raised by one; the attributes to give the
 * kernel are its version's (jfs_inodes_file). Returns 0 or -ENOMEM. */
int jfs_inodes_link_file(struct jfs_inodes *t, struct jfs_inode *parent, const char *name,
			 struct jfs_job *version, const struct jfs_node *file,
			 struct jfs_inode **out);

/* The version a FILE inode shows: *version gets a reference, *file the node in it. */
void jfs_inodes_file(struct jfs_inodes *t, struct jfs_inode *in, struct jfs_job **version,
		     const struct jfs_node **file);

/* The FILE inode that (parent, name) names now, for a notification about it: *ino,
 * *version (a reference) and *file, the node in it. Returns 0, or -ENOENT when the
 * name is no file's. The kernel may forget the inode meanwhile: numbers are never
 * reused, so a notification about ino then finds nothing. */
int jfs_inodes_named_file(struct jfs_inodes *t, struct jfs_inode *parent, const char *name,
			  fuse_ino_t *ino, struct jfs_job **version,
			  const struct jfs_node **file);

/* The newest listing a ROOT or VIEW inode was served from (a reference, NULL when
 * none): what a readdir past offset 0 continues on, and what getattr answers from,
 * even once stale. */
struct jfs_listing *jfs_inodes_listing(struct jfs_inodes *t, struct jfs_inode *in);

/* Remember l (a reference is taken) as in's listing, unless in holds a newer one
 * (a later fetch start): a slow answer never replaces a newer one. */
void jfs_inodes_set_listing(struct jfs_inodes *t, struct jfs_inode *in,
			    struct jfs_listing *l);

/* The ROOT and VIEW inodes whose listing went stale since the last call, each once
 * per listing: the kernel keeps a directory's listing (FOPEN_CACHE_DIR) until its
 * mtime moves, so it must be told to drop it for the next readdir to ask (and
 * refresh). *out is malloc'd. Returns the count, or -ENOMEM. */
long jfs_inodes_stale_dirs(struct jfs_inodes *t, fuse_ino_t **out);

/* The kernel forgets n lookups; the inode (and parents nobody needs) go at zero. */
void jfs_inodes_forget(struct jfs_inodes *t, fuse_ino_t ino, uint64_t n);

/* A place the kernel may cache for a job: the entry (parent, name) and inode ino. */
struct jfs_inode_ref {
	fuse_ino_t parent;
	fuse_ino_t ino;
	char *name;
	bool listed; /* ino is a job directory, so parent is the root or a view, whose
		      * listing (the kernel may cache it) holds the job */
	bool file;   /* ino is a file version: it never changes, only its name may
		      * now be another's */
};

/* Every inode of the jobs with these uuids (their directories in every view, and the
 * nodes and files inside, the versions of files that lost their name included: the
 * kernel may not have seen the version that took it), in one pass over the table;
 * not their wait and ctl files, whose attributes never change and which the kernel
 * may hold locked for as long as a read waits or a write acts (invalidating one would
 * block the caller until then).
 * uuids must be sorted (strcmp). *out is malloc'd (free with jfs_inode_refs_free).
 * Returns the count, or -ENOMEM. */
long jfs_inodes_of_jobs(struct jfs_inodes *t, char *const *uuids, size_t nuuids,
			struct jfs_inode_ref **out);
void jfs_inode_refs_free(struct jfs_inode_ref *refs, size_t n);

/* The directories listing the job directories among refs (their parents, the root
 * and views, each once, in ascending order): *out is malloc'd. n log n. Returns the
 * count, or -ENOMEM. */
long jfs_inode_refs_dirs(const struct jfs_inode_ref *refs, size_t n, fuse_ino_t **out);

/* The path of inode below the mount point ("/state=failure/<uuid>/state"), into buf. */
const char *jfs_inode_path(const struct jfs_inode *inode, const char *child, char *buf,
			   size_t len);

/* The number of inodes held (for tests and debug logs). */
size_t jfs_inodes_count(struct jfs_inodes *t);

#endif
