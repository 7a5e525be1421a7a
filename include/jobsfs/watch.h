/* Watching jobs until they end, for whoever waits on them (MOUNT/<uuid>/wait): one
 * thread asks the cluster, through the store, for every job waited on at once, one
 * request per JFS_STORE_REFRESH_BATCH uuids, at most once per interval (the ttl), and
 * reports each job that ended or left the cluster. A thousand waiters cost the same
 * requests as one.
 *
 * What is waited on is the caller's to know: the watch asks it (collect) before each
 * poll, so the caller's table is the one truth and nothing is counted twice. While
 * nothing is waited on, the thread sleeps until kicked. A poll that fails is logged
 * once per failure window and tried again an interval later: waiters keep waiting
 * through a cluster's outage. */
#ifndef JOBSFS_WATCH_H
#define JOBSFS_WATCH_H

#include <stdbool.h>
#include <stddef.h>

struct jfs_job;
struct jfs_store;

struct jfs_watch_config {
	struct jfs_store *store; /* must outlive the watch */
	double interval;	 /* seconds between polls; > 0 */
	/* The uuids waited on now, valid job uuids (others are ignored): *uuids a
	 * malloc'd array of *n malloc'd strings (jfs_store_uuids_free frees them).
	 * Returns 0 or -ENOMEM (the poll is then tried again an interval later). */
	int (*collect)(void *arg, char ***uuids, size_t *n);
	/* uuid ended: job (a reference the callee may take) is its version that is no
	 * longer queued, running or paused; or it left the cluster (job NULL: expired
	 * or deleted). Called from the watch's thread, with no lock of the watch held. */
	void (*on_end)(void *arg, const char *uuid, struct jfs_job *job);
	void *arg;
};

struct jfs_watch;

/* Start the thread. Returns 0 or negative errno. */
int jfs_watch_start(const struct jfs_watch_config *cfg, struct jfs_watch **out);

/* Something new is waited on: poll now, or an interval after the last poll if that is
 * later (a burst of new waiters makes one request, not one each). Never blocks. */
void jfs_watch_kick(struct jfs_watch *w);

/* End the thread (a poll under way ends with the client's stop, or completes) and
 * free. NULL is fine. */
void jfs_watch_stop(struct jfs_watch *w);

struct jfs_watch_counters {
	unsigned long polls;	/* polls made (each one request per batch) */
	unsigned long failures; /* polls that failed */
};
void jfs_watch_counters_get(struct jfs_watch *w, struct jfs_watch_counters *out);

#endif
