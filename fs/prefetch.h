/* Prefetch: a view that a glob asks of every cluster of a fleet, fetched from all of
 * them at once.
 *
 * A glob such as MOUNT/ * /state=failure/ (spaces added) has the shell look up
 * c1/state=failure, c2/state=failure and so on, one after another, and the lookup of a view fetches its listing (so that
 * a query the cluster rejects fails there, not in the middle of a readdir): a glob over
 * N clusters costs the sum of their times. When one view is looked up in a second
 * cluster within PREFETCH_WINDOW_MS of the first, the prefetcher asks every other
 * cluster for it at once, on threads of its own; the lookups that follow find it
 * fetched or in flight (the store shares a fetch under way), so the glob costs about
 * what the slowest cluster does. A view looked up in one cluster alone costs nothing
 * more; one globbed in the last PREFETCH_RECALL_MS is asked of all clusters from its
 * first lookup (a `watch` of the glob, or the shell's second pass over it).
 *
 * Nothing here answers a caller: the store keeps what comes back (a failure too, for
 * its moment, and a failure the prefetch meets first is logged here, once). The threads are not FUSE workers:
 * a cluster that stalls holds prefetch threads, never a reader's. */
#ifndef JOBSFS_FS_PREFETCH_H
#define JOBSFS_FS_PREFETCH_H

#include "mount.h"

struct jfs_query;

/* Start the prefetcher of a fleet of three clusters or more (a glob over two clusters
 * has nothing left to fetch ahead); otherwise, and when JOBSFS_NO_PREFETCH is set
 * (for measurements), the calls below do nothing. Returns 0 or negative errno. */
int jfs_prefetch_start(struct jfs_mount *m);

/* End the threads (each after the fetch it is making) and drop what is queued.
 * Idempotent; then free. */
void jfs_prefetch_free(struct jfs_mount *m);

/* A lookup of view q (a query from a cluster's root, not under .history) in cluster
 * c: remembered, and when the same view was looked up in another cluster just before,
 * every other cluster is asked for it. Quick: takes no lock but the prefetcher's. */
void jfs_prefetch_view(struct jfs_mount *m, struct jfs_cluster *c, const struct jfs_query *q);

#endif
