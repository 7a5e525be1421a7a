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

#include <stddef.h>
#include <stdint.h>

struct jfs_query;

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
	char *name;		  /* name in parent ("" for the root) */
	struct jfs_query *query;  /* ROOT: NULL (every job); VIEW: its whole query */
	struct jfs_inode *view;	  /* JOB, NODE: the root or view the job was found in */
	struct jfs_inode *job;	  /* JOB: itself; NODE: its job directory */
	char *uuid;		  /* JOB, NODE: the job's uuid */
	char *path;		  /* NODE: path within the job ("svm/name"); JOB: "" */

	/* Guarded by the table's lock. */
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

/* The kernel forgets n lookups; the inode (and parents nobody needs) go at zero. */
void jfs_inodes_forget(struct jfs_inodes *t, fuse_ino_t ino, uint64_t n);

/* A place the kernel may cache for a job: the entry (parent, name) and inode ino. */
struct jfs_inode_ref {
	fuse_ino_t parent;
	fuse_ino_t ino;
	char *name;
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
