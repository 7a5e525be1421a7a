/* Stopping without waiting out the cluster, and without waiting on the kernel.
 *
 * libfuse ends its loop on SIGHUP, SIGINT and SIGTERM, but only after its worker
 * threads return, and a worker inside a request to a stalled cluster would hold the
 * exit (and a Ctrl-C of `jobsfs -f`) for the timeout and every retry. So those signals
 * first cancel the client's requests (jfs_client_stop, in the handler).
 *
 * Then a stopper thread ends the mount's threads that write to /dev/fuse, the pusher
 * and the keeper, and only after them the loop: a notification may wait for the
 * kernel (inval_entry for a directory's lock held by a LOOKUP in flight; a store for a
 * page a READ holds), and the kernel waits for the workers to answer. Once the loop
 * has ended nothing answers, so joining such a thread then would wait for ever. The
 * stopper finally hands the signal to libfuse's own handler, on the loop's thread. */
#ifndef JOBSFS_FS_STOP_H
#define JOBSFS_FS_STOP_H

#include "mount.h"

/* Put the stopping handler in front of libfuse's (installed before, by
 * fuse_set_signal_handlers) and start the stopper. To be called from the thread that
 * runs the session loop, after the keeper and the pusher started. Returns 0, or
 * negative errno when a handler cannot be set (the ones set are put back). */
int jfs_stop_start(struct jfs_mount *m);

/* After the loop, whatever ended it: end the stopper and give libfuse its handlers
 * back (before fuse_remove_signal_handlers, which removes only its own). */
void jfs_stop_end(void);

#endif
