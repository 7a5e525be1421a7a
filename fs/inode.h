/* The inode table of the low-level driver: what each inode number the kernel holds
 * stands for, and the kernel's lookup count on it.
 *
 * An inode is the root, a view (a query), a job directory (a uuid in a view) or a node
 * inside a job (a path within the job). It names a place, never a snapshot: each use
 * re-resolves its job through the store, so a change shows within ttl. The same
 * (parent, name) always gets the same inode while the kernel holds it, so st_ino is
 * stable. Everything but nlookup/refs/the hash links is immutable once created, so
 * request handlers read an inode without the lock. */
#ifndef JOBSFS_FS_INODE_H
#define JOBSFS_FS_INODE_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jfs_listing;
struct jfs_query;
struct jfs_store;

enum jfs_inode_kind {
	JFS_INODE_ROOT,
	JFS_INODE_VIEW,
	JFS_INODE_JOB,
	JFS_INODE_NODE,
};

struct jfs_inode {
	fuse_ino_t ino;
	enum jfs_inode_kind kind;
	struct jfs_inode *parent; /* NULL for the root; the child holds a reference */
	const char *name;	  /* name in parent ("" for the root) */
	struct jfs_query *query;  /* ROOT: NULL (every job); VIEW: its whole query */
	struct jfs_inode *view;	  /* JOB, NODE: the root or view the job was found in */
	struct jfs_inode *job;	  /* JOB: itself; NODE: its job directory */
	const char *uuid;	  /* JOB, NODE: the job's uuid; strings live in the
				   * inode's own allocation (or an ancestor's) */
	const char *path;	  /* NODE: path within the job ("svm/name"); JOB: "" */

	/* Guarded by the table's lock. */
	struct jfs_listing *listing; /* ROOT, VIEW: the newest listing served for it (a
				      * reference; see jfs_inodes_listing) */
	bool listing_told;	  /* the kernel was told that listing went stale */
	struct jfs_inode *dir_next; /* the table's list of inodes holding a listing */
	uint64_t nlookup;	  /* the kernel's lookup count */
	unsigned refs;		  /* children holding this inode as parent */
	struct jfs_inode *ino_next, *name_next; /* hash chains */
	uint64_t name_hash;
};

struct jfs_inodes;

/* A table holding the root (FUSE_ROOT_ID). Returns 0 or -ENOMEM. */
int jfs_inodes_new(struct jfs_inodes **out);
void jfs_inodes_free(struct jfs_inodes *t); /* frees every inode left */

/* The inode for ino, or NULL when the kernel holds no such number. */
struct jfs_inode *jfs_inodes_get(struct jfs_inodes *t, fuse_ino_t ino);

/* The child `name` of parent, created when new (kind; uuid for JOB; query for VIEW,
 * whose ownership passes to the table either way), with its lookup count raised by
 * one. Returns 0 or -ENOMEM (query freed). */
int jfs_inodes_link(struct jfs_inodes *t, struct jfs_inode *parent, const char *name,
		    enum jfs_inode_kind kind, const char *uuid, struct jfs_query *query,
		    struct jfs_inode **out);

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
long jfs_inodes_stale_dirs(struct jfs_inodes *t, struct jfs_store *s, fuse_ino_t **out);

/* The kernel forgets n lookups; the inode (and parents nobody needs) go at zero. */
void jfs_inodes_forget(struct jfs_inodes *t, fuse_ino_t ino, uint64_t n);

/* A place the kernel may cache for a job: the entry (parent, name) and inode ino. */
struct jfs_inode_ref {
	fuse_ino_t parent;
	fuse_ino_t ino;
	char *name;
	bool listed; /* ino is a job directory, so parent is the root or a view, whose
		      * listing (the kernel may cache it) holds the job */
};

/* Every inode of the jobs with these uuids (their directories in every view, and the
 * nodes inside), in one pass over the table. uuids must be sorted (strcmp). *out is
 * malloc'd (free with jfs_inode_refs_free). Returns the count, or -ENOMEM. */
long jfs_inodes_of_jobs(struct jfs_inodes *t, char *const *uuids, size_t nuuids,
			struct jfs_inode_ref **out);
void jfs_inode_refs_free(struct jfs_inode_ref *refs, size_t n);

/* The path of inode below the mount point ("/state=failure/<uuid>/state"), into buf. */
const char *jfs_inode_path(const struct jfs_inode *inode, const char *child, char *buf,
			   size_t len);

/* The number of inodes held (for tests and debug logs). */
size_t jfs_inodes_count(struct jfs_inodes *t);

#endif
