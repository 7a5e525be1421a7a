/* A source of jobs behind the tree: the live cluster (the store) or the recorded
 * history. The filesystem asks a source for "the jobs of a view" and "the job with
 * this uuid", and how long what it got stays true; where the jobs come from (HTTP, a
 * cache, SQL) is the source's business, so fs/ serves MOUNT/ and MOUNT/.history/ with
 * one code path. */
#ifndef JOBSFS_SOURCE_H
#define JOBSFS_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

struct jfs_error;
struct jfs_job;
struct jfs_listing;
struct jfs_query;

struct jfs_source_ops {
	/* The jobs of view q (NULL: every job): a reference in *out. 0 or negative
	 * errno with e filled (-EINVAL for a query that cannot be answered). */
	int (*listing)(void *self, const struct jfs_query *q, struct jfs_listing **out,
		       struct jfs_error *e);
	/* Whether view q can be answered (-EINVAL with e saying why), without answering
	 * it: a source whose views cost more than a request (the history sorts every
	 * recorded job for an order_by alone) has the filesystem check a path's middle
	 * segments this way and answer only the directory that is read. NULL: the
	 * filesystem asks for the listing (the store: the cluster judges its queries). */
	int (*check)(void *self, const struct jfs_query *q, struct jfs_error *e);
	/* The job with this uuid: a reference in *out; -ENOENT when none. */
	int (*job)(void *self, const char *uuid, struct jfs_job **out, struct jfs_error *e);
	/* Now, in ms since the epoch, on the clock expiry is judged by. */
	int64_t (*now_ms)(void *self);
	/* When job, seen at seen_ms (its listing's fetch), leaves the source:
	 * INT64_MAX for never (an active job, or a recorded one). */
	int64_t (*job_expires_ms)(void *self, const struct jfs_job *job, int64_t seen_ms);
	/* Seconds what is known of job, and of listing l, stays true (for the kernel). */
	double (*job_life)(void *self, const struct jfs_job *job);
	double (*listing_life)(void *self, const struct jfs_listing *l);
};

struct jfs_source {
	const struct jfs_source_ops *ops; /* NULL: no such source (history off) */
	void *self;
};

static inline int jfs_source_listing(const struct jfs_source *s, const struct jfs_query *q,
				     struct jfs_listing **out, struct jfs_error *e)
{
	return s->ops->listing(s->self, q, out, e);
}

static inline int jfs_source_job(const struct jfs_source *s, const char *uuid,
				 struct jfs_job **out, struct jfs_error *e)
{
	return s->ops->job(s->self, uuid, out, e);
}

static inline int64_t jfs_source_now_ms(const struct jfs_source *s)
{
	return s->ops->now_ms(s->self);
}

static inline int64_t jfs_source_job_expires_ms(const struct jfs_source *s,
						const struct jfs_job *job, int64_t seen_ms)
{
	return s->ops->job_expires_ms(s->self, job, seen_ms);
}

/* Whether job, seen at seen_ms, has left the source by now. */
static inline bool jfs_source_job_expired(const struct jfs_source *s, const struct jfs_job *job,
					  int64_t seen_ms)
{
	int64_t at = jfs_source_job_expires_ms(s, job, seen_ms);
	return at != INT64_MAX && jfs_source_now_ms(s) >= at;
}

static inline double jfs_source_job_life(const struct jfs_source *s, const struct jfs_job *job)
{
	return s->ops->job_life(s->self, job);
}

static inline double jfs_source_listing_life(const struct jfs_source *s,
					     const struct jfs_listing *l)
{
	return s->ops->listing_life(s->self, l);
}

#endif
