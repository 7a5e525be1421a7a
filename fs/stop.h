/* Stopping without waiting out the cluster. libfuse ends its loop on SIGHUP, SIGINT
 * and SIGTERM, but only after its worker threads return, and a worker inside a request
 * to a stalled cluster would hold the exit (and a Ctrl-C of `jobsfs -f`) for the
 * timeout and every retry. So those signals first cancel the client's requests
 * (jfs_client_stop), then run libfuse's own handler. */
#ifndef JOBSFS_FS_STOP_H
#define JOBSFS_FS_STOP_H

struct jfs_client;

/* Put the cancelling handler in front of libfuse's (installed before, by
 * fuse_set_signal_handlers). Returns 0, or -errno when a handler cannot be set (the
 * ones set are put back). */
int jfs_stop_signals_chain(struct jfs_client *c);

/* Give libfuse its handlers back (before fuse_remove_signal_handlers, which removes
 * only its own). */
void jfs_stop_signals_unchain(void);

#endif
