/* A listing: the jobs of a view as one answer gave them, from the cluster (the store)
 * or from the history. A value: immutable once built, shared by reference, so a
 * directory read in several calls walks one answer while newer ones arrive. */
#ifndef JOBSFS_LISTING_H
#define JOBSFS_LISTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jfs_job;

/* A view's jobs as one fetch (or one history query) returned them. Immutable; shared
 * by reference. */
struct jfs_listing {
	struct jfs_job **jobs;	  /* n jobs in the cluster's order (one reference each) */
	struct jfs_job **by_name; /* the same n jobs sorted by name (no extra reference) */
	size_t n;
	int64_t fetched_ms;	  /* cluster time the fetch started (what the cluster
				   * held then: expiry decisions go by this) */
	int64_t ready_ms;	  /* cluster time the fetch completed */
	int64_t ready_mono_ms;	  /* the same on the monotonic clock (the store's
				   * mono_clock): the listing is fresh for ttl from
				   * here, so a walk longer than ttl is not stale on
				   * arrival, and a step of the wall clock changes no
				   * freshness */
	int64_t changed_ms;	  /* fetched_ms of the first listing of this view with
				   * the same names (a directory's mtime moves only when
				   * entries come or go) */
	bool full_records;	  /* fetched with fields=* (false when the view names fields) */
	uint64_t version;	  /* the history's: the version of the file it was read
				   * from (it stays true while that does); 0 otherwise */
	int refs;		  /* atomic */
};

/* A listing of the n jobs (a reference is taken on each; their order kept in jobs,
 * and sorted by name in by_name), with changed_ms = fetched_ms. NULL on ENOMEM. */
struct jfs_listing *jfs_listing_new(struct jfs_job *const *jobs, size_t n, int64_t fetched_ms,
				    int64_t ready_ms, int64_t ready_mono_ms, bool full_records);

struct jfs_listing *jfs_listing_ref(struct jfs_listing *l);
void jfs_listing_unref(struct jfs_listing *l); /* NULL is fine */

/* A job of the listing by its directory name (binary search); NULL when absent. The
 * job belongs to the listing: take a reference to keep it longer. */
struct jfs_job *jfs_listing_find(const struct jfs_listing *l, const char *name);

/* The slot of by_name holding the job named name, or NULL (for the store, which
 * swaps in newer versions of a job before the listing is shared). */
struct jfs_job **jfs_listing_slot(const struct jfs_listing *l, const char *name);

#endif
