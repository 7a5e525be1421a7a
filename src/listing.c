/* Listings as values (see jobsfs/listing.h). */
#include "jobsfs/listing.h"

#include <stdlib.h>
#include <string.h>

#include "jobsfs/job.h"

static int cmp_job_name(const void *a, const void *b)
{
	const struct jfs_job *const *x = a, *const *y = b;
	return strcmp((*x)->name, (*y)->name);
}

struct jfs_listing *jfs_listing_ref(struct jfs_listing *l)
{
	if (l)
		__atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED);
	return l;
}

void jfs_listing_unref(struct jfs_listing *l)
{
	if (!l || __atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (size_t i = 0; i < l->n; i++)
		jfs_job_unref(l->jobs[i]);
	free(l->jobs);
	free(l->by_name);
	free(l);
}

struct jfs_listing *jfs_listing_new(struct jfs_job *const *jobs, size_t n, int64_t fetched_ms,
				    int64_t ready_ms, int64_t ready_mono_ms, bool full_records)
{
	struct jfs_listing *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->refs = 1;
	l->fetched_ms = fetched_ms;
	l->ready_ms = ready_ms;
	l->ready_mono_ms = ready_mono_ms;
	l->changed_ms = fetched_ms;
	l->full_records = full_records;
	if (n > 0) {
		l->jobs = malloc(n * sizeof(*l->jobs));
		l->by_name = malloc(n * sizeof(*l->by_name));
		if (!l->jobs || !l->by_name) {
			free(l->jobs);
			free(l->by_name);
			free(l);
			return NULL;
		}
		for (size_t i = 0; i < n; i++)
			l->jobs[i] = l->by_name[i] = jfs_job_ref(jobs[i]);
		l->n = n;
		qsort(l->by_name, l->n, sizeof(*l->by_name), cmp_job_name);
	}
	return l;
}

struct jfs_job **jfs_listing_slot(const struct jfs_listing *l, const char *name)
{
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, l->by_name[mid]->name);
		if (c == 0)
			return &l->by_name[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

struct jfs_job *jfs_listing_find(const struct jfs_listing *l, const char *name)
{
	struct jfs_job **slot = jfs_listing_slot(l, name);
	return slot ? *slot : NULL;
}

