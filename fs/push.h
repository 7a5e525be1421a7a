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
 * The push is made in the handler of the READDIRPLUS call that ends a directory's
 * stream, before its reply: the walker cannot read those files yet (it has not seen
 * the end of the directory), so the store does not wait for pages it is filling. A
 * store waits for a page another process is reading at that moment (until its READ
 * is answered by another worker), so pushing needs more than one worker: with -s or
 * -o max_threads=1 it is off. */
#ifndef JOBSFS_FS_PUSH_H
#define JOBSFS_FS_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "inode.h"
#include "mount.h"

/* Set up and free what pushing needs. Off (the calls below do nothing) with one
 * worker thread, or when JOBSFS_NO_PUSH is set (for measurements). Returns 0 or
 * -ENOMEM. */
int jfs_push_start(struct jfs_mount *m, bool one_worker);
void jfs_push_stop(struct jfs_mount *m);

/* The caller pid sent a READ of a file called name: it reads what it walks, and
 * files called so are worth pushing to it. */
void jfs_push_saw_read(struct jfs_mount *m, pid_t pid, const char *name);

/* Caller pid is at the end of directory dir (a job directory or a directory in one)
 * whose first n entries, node's children, the kernel now holds: when pid reads as it
 * walks, put those of the files with names it read in the kernel's page cache. */
void jfs_push_dir_read(struct jfs_mount *m, pid_t pid, struct jfs_inode *dir,
		       const struct jfs_node *node, size_t n);

#endif
