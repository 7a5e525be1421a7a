/* What an inode stands for right now: the listing of the root or a view, or a job
 * and a node within it, resolved through the store on each use (so a change shows
 * within ttl), or for a file the one version its inode shows; with the attributes and
 * timeouts the kernel gets for it. */
#ifndef JOBSFS_FS_PLACE_H
#define JOBSFS_FS_PLACE_H

#include "inode.h"
#include "mount.h"

#include <stdbool.h>
#include <sys/stat.h>

struct jfs_error;
struct jfs_inode;
struct jfs_job;
struct jfs_listing;
struct jfs_node;

/* Where the jobs of inode in come from: its cluster's history under .history, else
 * the live cluster (an inode is `history` only while the history is on). */
static inline const struct jfs_source *jfs_source_of(const struct jfs_mount *m,
						     const struct jfs_inode *in)
{
	return jfs_cluster_source(in->cluster, in->history);
}

/* What an inode stands for right now. */
struct jfs_place {
	struct jfs_inode *in;
	struct jfs_listing *listing; /* ROOT, VIEW: its listing (a reference) */
	struct jfs_job *job;	     /* JOB, NODE: the job (a reference); FILE: the
				      * version the inode shows */
	const struct jfs_node *node; /* JOB, NODE, FILE: the node within job */
	double life;		     /* seconds the kernel may keep the attributes */
};

/* Resolve inode in: 0, or negative errno (logged once, ENOENT at debug level). A ROOT
 * or VIEW gets the store's listing (fetched when stale), remembered on the inode; a
 * FILE its version, without asking the store. */
int jfs_place_resolve(struct jfs_mount *m, struct jfs_inode *in, struct jfs_place *p);

void jfs_place_release(struct jfs_place *p);

/* Resolve inode in for its attributes (getattr). A ROOT or VIEW resolves to the
 * listing it last served, even stale, never asking the store: fetching would make a
 * walk of every page out of each stat of the root (nlink and mtime may lag by one
 * ttl). One that holds no listing yet resolves to none (p->listing and p->node NULL):
 * `stat MOUNT` and `df MOUNT` work while the cluster fails, and only `ls MOUNT` fails
 * with its errno; jfs_place_attr then gives a plain directory (nlink 2, mtime the
 * mount's start) that the kernel does not keep. Other kinds as jfs_place_resolve. */
int jfs_place_resolve_attr(struct jfs_mount *m, struct jfs_inode *in, struct jfs_place *p);

/* Log an error about to reach a user, with the path asked for (in, then child). */
void jfs_place_log_failure(const struct jfs_inode *in, const char *child, int rc,
			   const struct jfs_error *e);

/* A view (or the root) whose query names its fields / caps its records. */
bool jfs_view_has_fields(const struct jfs_inode *view);
bool jfs_view_has_cap(const struct jfs_inode *view);

/* Attributes of a regular file of the mount's owner that is no job's field (gaps,
 * wait, ctl): permission bits perm, size bytes, modified at mtime_ms. */
void jfs_file_attr_fill(struct jfs_mount *m, fuse_ino_t ino, mode_t perm, size_t size,
			int64_t mtime_ms, struct stat *st);

/* Attributes of a node of job (inode number ino), and of a resolved place; the
 * latter returns the seconds the kernel may keep them: p->life, and for a listing no
 * longer than until the next of its jobs expires (its mtime moves then, so that the
 * kernel drops the listing it keeps). */
void jfs_node_attr_fill(struct jfs_mount *m, fuse_ino_t ino, const struct jfs_job *job,
			const struct jfs_node *node, struct stat *st);
double jfs_place_attr(struct jfs_mount *m, const struct jfs_place *p, struct stat *st);

/* How long the kernel may keep a node's attributes, given its job's remaining life.
 * A file's inode is one version of it and never changes (see inode.h): a day. */
#define JFS_FILE_ATTR_TIMEOUT 86400.0
double jfs_node_attr_timeout(const struct jfs_node *node, double life);

/* How long the kernel may keep the name of a job in view, given the job's life. */
double jfs_job_entry_timeout(struct jfs_mount *m, const struct jfs_inode *view, double life);

#endif
