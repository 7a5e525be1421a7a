/* The recorder (see jobsfs/recorder.h). */
#include "jobsfs/recorder.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobsfs/clock.h"
#include "jobsfs/error.h"
#include "jobsfs/history.h"
#include "jobsfs/job.h"
#include "jobsfs/listing.h"
#include "jobsfs/log.h"
#include "jobsfs/store.h"

/* One offer waiting to be written: a listing (whole or a view's), or one job. */
struct offer {
	struct offer *next;
	struct jfs_listing *l;
	struct jfs_job *job;
	bool whole;
	int64_t seen_ms; /* cluster time it was seen */
};

struct jfs_recorder {
	struct jfs_recorder_config cfg;
	struct jfs_store *store; /* set by start, then read-only */

	pthread_t thread;
	bool running; /* only touched by the thread that starts/stops it */

	pthread_mutex_t lock; /* guards the queue, stop, kick and ctr */
	pthread_cond_t cond;  /* on CLOCK_MONOTONIC: an offer, a kick, or stop */
	struct offer *head, **tail;
	size_t pending;	      /* jobs in the queue */
	bool stop, kick;
	struct jfs_recorder_counters ctr;

	/* The thread's own (no lock). */
	struct offer *held, **held_tail; /* taken from the queue, not written yet (the
					  * history failed): written in order when it
					  * answers again */
	size_t held_jobs;		 /* jobs in held, bounded by
					  * JFS_RECORDER_HELD_MAX */
	bool held_dropped;		 /* some were let go (logged once) */
	struct jfs_listing *last;  /* the last whole listing written: its finished jobs
				    * are recorded, and are not written again */
	int64_t whole_ms;	   /* seen_ms of the last whole listing written */
	char cause[640];	   /* why nothing could be recorded, since the failure
				    * began ("" while all is well): a gap's cause */
	bool list_failing, write_failing;
};

int jfs_recorder_new(const struct jfs_recorder_config *cfg, struct jfs_recorder **out)
{
	struct jfs_recorder *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cfg = *cfg;
	r->tail = &r->head;
	r->held_tail = &r->held;
	int rc = jfs_cond_init_mono(&r->cond);
	if (rc != 0) {
		free(r);
		return -rc;
	}
	pthread_mutex_init(&r->lock, NULL);
	*out = r;
	return 0;
}

void jfs_recorder_offer(void *recorder, struct jfs_listing *l, bool whole, struct jfs_job *job)
{
	struct jfs_recorder *r = recorder;
	size_t n = l ? l->n : 1;
	struct offer *o = calloc(1, sizeof(*o));
	pthread_mutex_lock(&r->lock);
	if (!o || r->pending + n > JFS_RECORDER_PENDING_MAX) {
		r->ctr.dropped++;
		pthread_mutex_unlock(&r->lock);
		free(o);
		return;
	}
	o->l = jfs_listing_ref(l);
	o->job = jfs_job_ref(job);
	o->whole = whole;
	o->seen_ms = l ? l->fetched_ms : 0; /* a job's: stamped when written */
	*r->tail = o;
	r->tail = &o->next;
	r->pending += n;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void jfs_recorder_kick(struct jfs_recorder *r)
{
	pthread_mutex_lock(&r->lock);
	r->kick = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void jfs_recorder_counters_get(struct jfs_recorder *r, struct jfs_recorder_counters *out)
{
	pthread_mutex_lock(&r->lock);
	*out = r->ctr;
	pthread_mutex_unlock(&r->lock);
}

static void count(struct jfs_recorder *r, uint64_t *c, uint64_t n)
{
	pthread_mutex_lock(&r->lock);
	*c += n;
	pthread_mutex_unlock(&r->lock);
}

/* Whether job needs writing: not when the last whole listing written held it
 * finished (a finished job never changes), nor when it held this very version. */
static bool needs_writing(const struct jfs_recorder *r, const struct jfs_job *job)
{
	const struct jfs_job *had = r->last ? jfs_listing_find(r->last, job->name) : NULL;
	return !had || (had != job && !jfs_job_is_terminal(had));
}

/* Write jobs (whole: a listing of the cluster seen at seen_ms). */
static int write_jobs(struct jfs_recorder *r, struct jfs_job *const *jobs, size_t n,
		      bool whole, int64_t seen_ms)
{
	struct jfs_job **todo = n ? malloc(n * sizeof(*todo)) : NULL;
	size_t k = 0;
	if (n && !todo)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (needs_writing(r, jobs[i]))
			todo[k++] = jobs[i];
	/* Nothing new: a whole listing only moves the cluster's last listing, which
	 * matters at the scale of expiry; every reader's `ls` need not commit. (After a
	 * failure it is written: it closes the window, or records the gap.) */
	int64_t quiet = r->cfg.expiry_ms / 2 < JFS_RECORDER_QUIET_MS ? r->cfg.expiry_ms / 2
								   : JFS_RECORDER_QUIET_MS;
	if (k == 0 && (!whole || (!r->cause[0] && seen_ms - r->whole_ms < quiet))) {
		free(todo);
		return 0;
	}
	struct jfs_error e;
	jfs_error_clear(&e);
	int rc = jfs_history_record(r->cfg.history, todo, k, seen_ms, whole, r->cfg.expiry_ms,
				    r->cause[0] ? r->cause : NULL, &e);
	free(todo);
	if (rc != 0) {
		if (!r->write_failing)
			jfs_err("%s; recording is held off (the live tree is unaffected), the "
				"window will be a gap if it outlasts the cluster's expiry",
				e.message);
		r->write_failing = true;
		snprintf(r->cause, sizeof(r->cause), "history not written: %s", e.message);
		count(r, &r->ctr.failures, 1);
		return rc;
	}
	if (r->write_failing)
		jfs_info("history %s: recording again", jfs_history_path(r->cfg.history));
	r->write_failing = false;
	pthread_mutex_lock(&r->lock);
	r->ctr.batches++;
	r->ctr.jobs_written += k;
	pthread_mutex_unlock(&r->lock);
	if (whole) {
		r->cause[0] = '\0';
		r->whole_ms = seen_ms;
	}
	return 0;
}

static void offer_free(struct offer *o)
{
	jfs_listing_unref(o->l);
	jfs_job_unref(o->job);
	free(o);
}

static size_t offer_jobs(const struct offer *o)
{
	return o->l ? o->l->n : 1;
}

static int write_offer(struct jfs_recorder *r, struct offer *o)
{
	if (!o->l)
		return write_jobs(r, &o->job, 1, false, o->seen_ms);
	if (o->whole && o->l == r->last)
		return 0; /* the very listing written last (the store's, offered again) */
	int rc = write_jobs(r, o->l->jobs, o->l->n, o->whole, o->seen_ms);
	if (rc == 0 && o->whole) {
		jfs_listing_unref(r->last);
		r->last = jfs_listing_ref(o->l);
	}
	return rc;
}

static void hold(struct jfs_recorder *r, struct offer *o)
{
	o->next = NULL;
	*r->held_tail = o;
	r->held_tail = &o->next;
	r->held_jobs += offer_jobs(o);
}

/* Write what is held, in order, up to the first failure (the rest waits for the next
 * try); then let the oldest go while more than the bound is held. Returns true when
 * everything was written. */
static bool write_held(struct jfs_recorder *r)
{
	while (r->held) {
		struct offer *o = r->held;
		if (write_offer(r, o) != 0)
			break;
		r->held = o->next;
		if (!r->held)
			r->held_tail = &r->held;
		r->held_jobs -= offer_jobs(o);
		offer_free(o);
	}
	if (!r->held) {
		r->held_dropped = false;
		return true;
	}
	while (r->held && r->held->next && r->held_jobs > JFS_RECORDER_HELD_MAX) {
		struct offer *o = r->held;
		if (!r->held_dropped)
			jfs_err("history %s: more than %d jobs waiting to be written: the oldest "
				"are let go (the window will be a gap if it outlasts the cluster's "
				"expiry)",
				jfs_history_path(r->cfg.history), JFS_RECORDER_HELD_MAX);
		r->held_dropped = true;
		r->held = o->next;
		r->held_jobs -= offer_jobs(o);
		offer_free(o);
		count(r, &r->ctr.dropped, 1);
	}
	return false;
}

/* The recorder's own listing of the cluster, through the store: no request when a
 * reader's listing is fresh within ttl. */
static void list_cluster(struct jfs_recorder *r)
{
	struct jfs_listing *l = NULL;
	struct jfs_error e;
	jfs_error_clear(&e);
	int rc = jfs_store_listing(r->store, NULL, &l, &e);
	if (rc != 0) {
		char what[512];
		jfs_error_format(&e, what, sizeof(what));
		if (!r->list_failing)
			jfs_warn("recording%s%s: cannot list the cluster: %s",
				 r->cfg.name ? " " : "", r->cfg.name ? r->cfg.name : "", what);
		r->list_failing = true;
		snprintf(r->cause, sizeof(r->cause), "cluster not listed: %s", what);
		count(r, &r->ctr.failures, 1);
		return;
	}
	if (r->list_failing)
		jfs_info("recording%s%s: the cluster answers again", r->cfg.name ? " " : "",
			 r->cfg.name ? r->cfg.name : "");
	r->list_failing = false;
	count(r, &r->ctr.listings, 1);
	struct offer *o = calloc(1, sizeof(*o));
	if (!o) {
		jfs_listing_unref(l);
		return;
	}
	o->l = l; /* the reference moves to the offer */
	o->whole = true;
	o->seen_ms = l->fetched_ms;
	hold(r, o);
	write_held(r);
}

static void prune(struct jfs_recorder *r)
{
	if (r->cfg.keep_days <= 0)
		return;
	struct jfs_error e;
	long dropped = 0;
	jfs_error_clear(&e);
	int64_t before = jfs_store_now_ms(r->store) - (int64_t)r->cfg.keep_days * 86400 * 1000;
	if (jfs_history_prune(r->cfg.history, before, &dropped, &e) != 0)
		jfs_warn("%s", e.message);
	else if (dropped > 0)
		jfs_info("history %s: %ld jobs older than %d days pruned",
			 jfs_history_path(r->cfg.history), dropped, r->cfg.keep_days);
}

/* Write every queued offer (after what is held); returns with the lock held, as it was
 * called. */
static void drain_locked(struct jfs_recorder *r)
{
	while (r->head) {
		struct offer *o = r->head;
		r->head = NULL;
		r->tail = &r->head;
		r->pending = 0;
		pthread_mutex_unlock(&r->lock);
		int64_t now = jfs_store_now_ms(r->store);
		while (o) {
			struct offer *next = o->next;
			if (!o->l)
				o->seen_ms = now;
			hold(r, o);
			o = next;
		}
		write_held(r);
		pthread_mutex_lock(&r->lock);
	}
}

static void *run(void *arg)
{
	struct jfs_recorder *r = arg;
	int64_t every_ms = (int64_t)(r->cfg.every * 1000.0);
	int64_t next_list = jfs_mono_ms(), next_prune = next_list, next_retry = 0;

	pthread_mutex_lock(&r->lock);
	while (!r->stop) {
		drain_locked(r);
		int64_t now = jfs_mono_ms();
		if (r->held && now >= next_retry) { /* the history failed: try again */
			pthread_mutex_unlock(&r->lock);
			write_held(r);
			pthread_mutex_lock(&r->lock);
			next_retry = now + JFS_RECORDER_RETRY_MS;
		}
		if (now >= next_prune) {
			pthread_mutex_unlock(&r->lock);
			prune(r);
			pthread_mutex_lock(&r->lock);
			next_prune = now + JFS_RECORDER_PRUNE_EVERY_MS;
		}
		if ((every_ms > 0 && now >= next_list) || r->kick) {
			r->kick = false;
			pthread_mutex_unlock(&r->lock);
			list_cluster(r);
			pthread_mutex_lock(&r->lock);
			next_list = jfs_mono_ms() + every_ms;
			continue;
		}
		if (r->stop || r->head)
			continue;
		int64_t wake = next_prune;
		if (every_ms > 0 && next_list < wake)
			wake = next_list;
		if (r->held && next_retry < wake)
			wake = next_retry;
		struct timespec ts = jfs_mono_timespec(wake);
		pthread_cond_timedwait(&r->cond, &r->lock, &ts);
	}
	drain_locked(r); /* what readers fetched up to the end is kept too */
	pthread_mutex_unlock(&r->lock);
	if (r->held)
		jfs_err("history %s: %zu jobs seen could not be written before the end",
			jfs_history_path(r->cfg.history), r->held_jobs);
	return NULL;
}

int jfs_recorder_start(struct jfs_recorder *r, struct jfs_store *store)
{
	r->store = store;
	int rc = pthread_create(&r->thread, NULL, run, r);
	if (rc != 0)
		return -rc;
	r->running = true;
	return 0;
}

void jfs_recorder_free(struct jfs_recorder *r)
{
	if (!r)
		return;
	if (r->running) {
		pthread_mutex_lock(&r->lock);
		r->stop = true;
		pthread_cond_signal(&r->cond);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->thread, NULL);
	}
	while (r->head) { /* offers of a recorder never started */
		struct offer *o = r->head;
		r->head = o->next;
		offer_free(o);
	}
	while (r->held) {
		struct offer *o = r->held;
		r->held = o->next;
		offer_free(o);
	}
	jfs_listing_unref(r->last);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
