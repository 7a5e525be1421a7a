/* Push: put the files of a directory that a reader walks into the kernel's page cache
 * (FUSE_NOTIFY_STORE), so that `grep -r` reads them without one READ request each.
 *
 * A cold `grep -r` is bound by FUSE round trips, one READ per file above all
 * (tests/bench/RESULTS.md). A file's inode is one version of it (inode.h), so its
 * content can be handed to the kernel ahead of the read and is never wrong later.
 *
 * Only for callers that read: one (a thread, by the pid FUSE gives) that sent a READ
 * within the last second and has gone on walking since, each directory within a
 * second of the last; and only files of the names it has read. `find`, `ls -lR` and
 * `du` read no file and so fill no page cache; `grep -r --include=message` gets its
 * messages pushed, not every file.
 *
 * The handler of the READDIRPLUS call that ends a directory's stream queues the
 * files; a thread of its own stores them (a store is a write to /dev/fuse). A store
 * waits for a page that a READ in flight holds locked until a worker answers that
 * READ, so it is never made by a worker: with every worker in such a store, the READs
 * they wait for would never be answered (issue 11: `grep -r` and `rg` at once hung
 * the mount with -o max_threads=2). No worker waits for the pusher: a full queue
 * leaves the rest to READ. */
#ifndef JOBSFS_FS_PUSH_H
#define JOBSFS_FS_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "inode.h"
#include "mount.h"

/* Start the pusher thread on m->se. Off (the calls below do nothing) when
 * JOBSFS_NO_PUSH is set (for measurements). Returns 0 or negative errno. */
int jfs_push_start(struct jfs_mount *m);

/* End the pusher thread: while the workers still answer (its store may wait for a
 * READ). Later pushes are dropped. Idempotent; not concurrently with itself. */
void jfs_push_stop(struct jfs_mount *m);

/* Stop if not stopped, and free: once no worker runs. */
void jfs_push_free(struct jfs_mount *m);

/* The caller pid sent a READ of a file called name: it reads what it walks, and
 * files called so are worth pushing to it. */
void jfs_push_saw_read(struct jfs_mount *m, pid_t pid, const char *name);

/* Caller pid is at the end of directory dir (a job directory or a directory in one)
 * whose first n entries, node's children, the kernel now holds: when pid reads as it
 * walks, put those of the files with names it read in the kernel's page cache. */
void jfs_push_dir_read(struct jfs_mount *m, pid_t pid, struct jfs_inode *dir,
		       const struct jfs_node *node, size_t n);

#endif
