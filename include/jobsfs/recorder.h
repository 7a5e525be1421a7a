/* The recorder: writes what the store fetches into the history, off the path of FUSE
 * requests, and lists the cluster itself every `every` seconds while mounted, read or
 * not, so that no job comes and goes unseen.
 *
 * Every listing with whole records and every job fetched by uuid is offered to it
 * (the store's on_fetched); it queues them (bounded: JFS_RECORDER_PENDING_MAX jobs,
 * beyond which offers are dropped, the next periodic listing bringing them again) and
 * its thread writes each in one transaction. A job already recorded finished is not
 * written again. A listing that fails, or a write that fails (a full disk, a database
 * away), is logged once per failure window. What could not be written is held in
 * memory, in order (JFS_RECORDER_HELD_MAX jobs at most, the oldest let go first), and
 * written when the history answers again, each listing with the time it was seen;
 * when no listing could be recorded for longer than expiry, the history gets a gap
 * naming the cause. Retention is pruned at start and hourly. */
#ifndef JOBSFS_RECORDER_H
#define JOBSFS_RECORDER_H

#include <stdbool.h>
#include <stdint.h>

struct jfs_history;
struct jfs_job;
struct jfs_listing;
struct jfs_store;

#define JFS_RECORDER_EVERY_DEFAULT 60		/* seconds */
#define JFS_RECORDER_PENDING_MAX 200000		/* jobs queued at most */
#define JFS_RECORDER_PRUNE_EVERY_MS (3600 * 1000) /* retention, hourly */
#define JFS_RECORDER_HELD_MAX 200000	/* jobs held in memory while the history
					 * cannot be written (listings share their
					 * jobs with the cache: a pointer each) */
#define JFS_RECORDER_RETRY_MS 5000	/* how often a failed history is tried again */
#define JFS_RECORDER_QUIET_MS 10000	/* a whole listing that brings nothing new is
					 * written at most this often */

struct jfs_recorder_config {
	struct jfs_history *history; /* must outlive the recorder */
	double every;		     /* seconds between the recorder's own listings; 0:
				      * none (record only what readers fetch) */
	int64_t expiry_ms;	     /* the cluster's retention of a finished job */
	int keep_days;		     /* retention of the history; 0: keep for ever */
	const char *name;	     /* the cluster, as log lines name it (NULL: none) */
};

struct jfs_recorder;

/* A recorder, not yet started: offers are queued from now on. 0 or -ENOMEM. */
int jfs_recorder_new(const struct jfs_recorder_config *cfg, struct jfs_recorder **out);

/* Start the thread, listing through store (which must outlive the recorder). */
int jfs_recorder_start(struct jfs_recorder *r, struct jfs_store *store);

/* The store's on_fetched (store.h): queue l (whole: every job of the cluster) or job. */
void jfs_recorder_offer(void *recorder, struct jfs_listing *l, bool whole, struct jfs_job *job);

/* Write what is queued, end the thread, free. NULL is fine. */
void jfs_recorder_free(struct jfs_recorder *r);

struct jfs_recorder_counters {
	uint64_t listings;	/* the recorder's own listings recorded */
	uint64_t batches;	/* transactions committed */
	uint64_t jobs_written;	/* rows written (finished jobs once each) */
	uint64_t failures;	/* listings or writes that failed */
	uint64_t dropped;	/* offers dropped for the queue's bound */
};
void jfs_recorder_counters_get(struct jfs_recorder *r, struct jfs_recorder_counters *out);

/* Wake the thread to list now (tests, and a resumed machine). */
void jfs_recorder_kick(struct jfs_recorder *r);

#endif
