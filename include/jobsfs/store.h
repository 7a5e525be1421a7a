/* The store: the cache between the filesystem and the jobs API client, at the level of
 * jobs and listings (what sshfs's cache.c is to attributes and directories).
 *
 *  - A listing per view, keyed by the canonical query string (the root is the empty
 *    query), fresh within ttl. Fetching a listing (fields=*) also fills the per-uuid
 *    job cache, so reading every job of a listing costs one request per page.
 *  - Jobs by uuid. A finished job (success/failure) is valid until end_time + expiry
 *    on the cluster's clock and is gone (-ENOENT) after that, whatever a listing still
 *    holds; an active job is fresh within ttl (counted, like a listing's, from when
 *    the fetch that brought it completed, on the monotonic clock: a step of the wall
 *    clock makes nothing fresh or stale), then fetched again. A uuid the cache
 *    does not hold is fetched by GET; -ENOENT answers are cached briefly, and so are
 *    failures (a second at most, never past ttl): the same error again, no request.
 *  - Concurrent misses on one key share one request; a slow answer never replaces
 *    the answer of a request that started after it.
 *  - The bytes of jobs held are capped (least recently used jobs that no cached
 *    listing shares are dropped first); expired entries are freed by the sweep.
 *
 * Jobs and listings handed out are reference-counted snapshots: a reader keeps what it
 * got while the store moves on. Every function is thread-safe. */
#ifndef JOBSFS_STORE_H
#define JOBSFS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobsfs/listing.h"
#include "jobsfs/source.h"

struct jfs_client;
struct jfs_error;
struct jfs_job;
struct jfs_query;

#define JFS_STORE_TTL_DEFAULT 2.0			  /* seconds */
#define JFS_STORE_EXPIRY_DEFAULT 300			  /* seconds */
#define JFS_STORE_MEM_DEFAULT ((size_t)256 * 1024 * 1024) /* bytes */
#define JFS_STORE_NEGATIVE_MAX_MS 1000 /* -ENOENT is kept min(this, ttl) */

/* The cluster's "now" in milliseconds since the epoch. */
typedef int64_t (*jfs_store_clock_fn)(void *arg);

struct jfs_store_config {
	double ttl;		  /* seconds active jobs and listings stay fresh; >= 0 */
	int64_t expiry;		  /* seconds the cluster keeps a finished job */
	size_t mem_max;		  /* cap on the bytes of jobs held (job->mem); 0: default */
	/* A cap shared with other stores (a fleet's clusters): the bytes of jobs every
	 * store holds, counted here too, and kept under its max (each store evicting its
	 * own least recently used jobs); mem_max is then ignored. NULL: this store's
	 * own cap. Must outlive the store. */
	struct jfs_store_budget *budget;
	jfs_store_clock_fn clock; /* NULL: our clock plus the skew the HTTP layer saw */
	void *clock_arg;
	/* The monotonic clock that ages are measured on (freshness against ttl, the
	 * lives given to the kernel); only expiry goes by the cluster's clock above.
	 * NULL: CLOCK_MONOTONIC. For tests that step one clock and not the other. */
	jfs_store_clock_fn mono_clock;
	void *mono_clock_arg;
	/* Called when a job is found expired, changed or deleted (its uuid then waits
	 * for jfs_store_take_changes), so that a housekeeper can act at once. Called
	 * with the store's lock held: it must not call the store. NULL: none. */
	void (*on_change)(void *arg);
	void *on_change_arg;
	/* Called when a fetch of this caller's brought jobs, outside the store's lock,
	 * before the caller gets them: a listing with whole records (l; whole when it
	 * is the root's, every job of the cluster), or a job by GET (job). For the
	 * history's recorder: it must be quick (take references, queue them) and must
	 * not call the store. NULL: none. */
	void (*on_fetched)(void *arg, struct jfs_listing *l, bool whole, struct jfs_job *job);
	void *on_fetched_arg;
	/* Callers that may wait on the cluster at once, fetching or waiting for another's
	 * fetch, while it is stalled (jfs_http_stalled): one more is answered -EAGAIN at
	 * once instead of holding its thread (a fleet: one stalled cluster must not hold
	 * every FUSE worker). While the cluster answers, nobody is refused. 0: no cap. */
	unsigned max_waiting;
};

/* The bytes of jobs several stores hold together, and their cap. */
struct jfs_store_budget {
	size_t used; /* atomic (__atomic builtins) */
	size_t max;
};

struct jfs_store_counters {
	uint64_t job_hits;	/* answered from the cache (negative hits included) */
	uint64_t job_misses;	/* GET by uuid sent */
	uint64_t job_negative;	/* -ENOENT answered from a negative entry or an expiry */
	uint64_t list_hits;
	uint64_t list_misses;	/* listing fetches sent */
	uint64_t shared_waits;	/* misses that waited for another thread's request */
	uint64_t failures_recalled; /* misses answered with the failure of a fetch made
				     * moments before (see jfs_store_job) */
	uint64_t evictions;	/* jobs dropped for the memory cap */
	uint64_t expired;	/* finished jobs dropped at end_time + expiry */
	uint64_t stale_drops;	/* answers not stored because a newer one was */
	uint64_t refused_stalled; /* misses answered -EAGAIN: the cluster was stalled and
				   * max_waiting callers waited on it already */
	size_t mem;		/* bytes of jobs held now */
	size_t jobs;		/* job entries held now (negative ones included) */
	size_t listings;	/* views known (a fresh listing or not) */
};

struct jfs_store;

/* The store over client c (which must outlive it). Returns 0 or negative errno. */
int jfs_store_new(struct jfs_client *c, const struct jfs_store_config *cfg,
		  struct jfs_store **out);
void jfs_store_free(struct jfs_store *s);

/* The cluster's now, in ms, by the store's clock. */
int64_t jfs_store_now_ms(struct jfs_store *s);

/* The listing of view q (NULL or empty: every job), fetched when absent or when ttl
 * has passed since its fetch completed. *out gets a reference (release with
 * jfs_listing_unref). Returns 0 or negative errno with e filled (e.g. -EINVAL for a
 * query the cluster rejected). */
int jfs_store_listing(struct jfs_store *s, const struct jfs_query *q,
		      struct jfs_listing **out, struct jfs_error *e);

/* Seconds the listing stays fresh from now (0 once stale). */
double jfs_store_listing_life(struct jfs_store *s, const struct jfs_listing *l);

/* The job with this uuid: from the cache while valid, else by GET. *out gets a
 * reference (release with jfs_job_unref). -ENOENT when the cluster has no such job,
 * or when it finished longer than expiry ago. Other errors as jfs_client_get. */
int jfs_store_job(struct jfs_store *s, const char *uuid, struct jfs_job **out,
		  struct jfs_error *e);

/* True when job is finished and past end_time + expiry by the store's clock, and the
 * cluster was last seen holding it (seen_ms: e.g. the fetch time of the listing it
 * came in) before that moment: a job the cluster still served after its expiry is
 * kept, and handled like an active one (fresh for ttl after each fetch). */
bool jfs_store_job_expired(struct jfs_store *s, const struct jfs_job *job, int64_t seen_ms);

/* The cluster time (ms) at which job, seen at seen_ms, expires as
 * jfs_store_job_expired tells it; INT64_MAX for a job that does not (active, or kept
 * by the cluster past its expiry). */
int64_t jfs_store_job_expires_ms(struct jfs_store *s, const struct jfs_job *job,
				 int64_t seen_ms);

/* Seconds what is known of job may be kept (by the kernel): a finished job until its
 * expiry; an active job (or a finished one the cluster keeps past its expiry) what
 * remains of its ttl in the cache, 0 when the cache does not hold this very job. */
double jfs_store_job_life(struct jfs_store *s, const struct jfs_job *job);

/* Forget what is cached of the job with this uuid (someone just acted on it): the
 * next jfs_store_job asks the cluster, and a fetch of it already under way is not
 * kept. Reported as a change (jfs_store_take_changes). */
void jfs_store_forget(struct jfs_store *s, const char *uuid);

/* uuids a refresh asks for in one request (uuid=a|b|...): 100 uuids make a query of
 * about 4 KB, well inside what HTTP servers take in a request line. */
#define JFS_STORE_REFRESH_BATCH 100

/* The jobs with these uuids as the cluster has them now, never from the cache: one
 * listing request per JFS_STORE_REFRESH_BATCH uuids (uuid=a|b|..., every field), for
 * whoever waits on many jobs at once. What comes replaces the cached jobs (a change is
 * reported as any other, and on_fetched sees the records); a uuid the answer lacks is
 * gone, and its cached job dropped. jobs[i] gets a reference to uuid i's job, or NULL
 * when the cluster no longer has it. uuids must be valid job uuids (jfs_uuid_is_valid).
 * Returns 0, or negative errno with e filled when a request failed (then every jobs[i]
 * is NULL). */
int jfs_store_refresh(struct jfs_store *s, char *const *uuids, size_t n, struct jfs_job **jobs,
		      struct jfs_error *e);

/* Housekeeping, to be called about once a second: frees expired jobs, stale listings
 * and expired negative entries, and hands over the uuids of jobs that expired, changed
 * or disappeared since the last call (so the caller can tell the kernel). *uuids is a
 * malloc'd array of *n malloc'd strings (free with jfs_store_uuids_free); NULL and 0
 * when nothing changed. Returns 0 or -ENOMEM (changes are then kept for next time). */
int jfs_store_sweep(struct jfs_store *s, char ***uuids, size_t *n);
void jfs_store_uuids_free(char **uuids, size_t n);

/* Only the second half of the sweep: the uuids of jobs that expired, changed or
 * disappeared since the last call, as jfs_store_sweep hands them over. */
int jfs_store_take_changes(struct jfs_store *s, char ***uuids, size_t *n);

void jfs_store_counters_get(struct jfs_store *s, struct jfs_store_counters *out);

/* The store as the source of the live tree (source.h). */
struct jfs_source jfs_store_source(struct jfs_store *s);

#endif
