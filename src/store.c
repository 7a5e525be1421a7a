/* The store: jobs and listings cached between the filesystem and the client (see
 * include/jobsfs/store.h for what it promises).
 *
 * One mutex guards both tables. It is never held across a request: a miss puts an
 * in-flight record on its entry, drops the lock, fetches, takes the lock again and
 * stores; other threads missing the same key find the record and wait on its
 * condition variable (with the store lock) for the result.
 *
 * Ordering of answers: every fetch takes a sequence number from one store-wide
 * counter when it starts; every entry remembers the number of the fetch its data came
 * from. An answer is stored only when its fetch started after that one, so a slow GET
 * cannot overwrite what a later listing brought, nor the other way round. */
#include "jobsfs/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "jobsfs/client.h"
#include "jobsfs/clock.h"
#include "jobsfs/error.h"
#include "jobsfs/http.h"
#include "jobsfs/job.h"
#include "jobsfs/log.h"
#include "jobsfs/query.h"

/* ---- a small string-keyed hash table with intrusive nodes ---------------------- */

struct hnode {
	struct hnode *next;
	uint64_t hash;
	char *key; /* owned by the node's container */
};

struct htable {
	struct hnode **buckets;
	size_t nbuckets; /* a power of two */
	size_t count;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static int ht_init(struct htable *t)
{
	t->nbuckets = 64;
	t->count = 0;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	return t->buckets ? 0 : -ENOMEM;
}

static struct hnode *ht_find(const struct htable *t, const char *key)
{
	uint64_t h = hash_str(key);
	for (struct hnode *n = t->buckets[h & (t->nbuckets - 1)]; n; n = n->next)
		if (n->hash == h && strcmp(n->key, key) == 0)
			return n;
	return NULL;
}

/* Doubling keeps chains short; a failed grow just leaves them longer. */
static void ht_grow(struct htable *t)
{
	size_t nb = t->nbuckets * 2;
	struct hnode **b = calloc(nb, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct hnode *n = t->buckets[i];
		while (n) {
			struct hnode *next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
			n = next;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nb;
}

static void ht_insert(struct htable *t, struct hnode *n)
{
	if (t->count >= t->nbuckets)
		ht_grow(t);
	n->hash = hash_str(n->key);
	struct hnode **head = &t->buckets[n->hash & (t->nbuckets - 1)];
	n->next = *head;
	*head = n;
	t->count++;
}

static void ht_remove(struct htable *t, struct hnode *n)
{
	for (struct hnode **p = &t->buckets[n->hash & (t->nbuckets - 1)]; *p; p = &(*p)->next)
		if (*p == n) {
			*p = n->next;
			t->count--;
			return;
		}
}

/* ---- entries ------------------------------------------------------------------- */

/* A request in progress; shared by its fetcher and the threads waiting for it. All
 * fields are guarded by the store lock. */
struct inflight {
	pthread_cond_t cond; /* signalled (with the store lock) when done turns true */
	bool done;
	int users;			/* fetcher + waiters; the last one frees it */
	int err;			/* result: 0 or negative errno */
	struct jfs_error error;		/* result: what went wrong */
	struct jfs_job *job;		/* result of a job fetch (one reference) */
	struct jfs_listing *listing;	/* result of a listing fetch (one reference) */
};

struct job_entry {
	struct hnode h;			/* key: the uuid */
	struct jfs_job *job;		/* one reference; NULL: negative or not yet known */
	int64_t fetched_ms;		/* cluster time the fetch of job started */
	int64_t ready_mono_ms;		/* monotonic time that fetch completed: an
					 * active job is fresh for ttl from here */
	int64_t negative_until_ms;	/* job == NULL: -ENOENT until then; 0: not negative */
	uint64_t data_seq;		/* sequence number of the fetch the data came from */
	struct inflight *inflight;	/* a GET in progress, or NULL */
	struct inflight *failed;	/* the last GET, when it failed: its answer stands
					 * until failed_until_ms (see failure_recall_locked) */
	int64_t failed_until_ms;
	struct job_entry *prev, *next;	/* LRU list; the store's sentinel is both ends */
};

struct listing_entry {
	struct hnode h;			/* key: the canonical query string */
	struct jfs_listing *listing;	/* one reference; NULL before the first or once swept */
	uint64_t data_seq;
	struct inflight *inflight;
	struct inflight *failed;	/* as a job entry's */
	int64_t failed_until_ms;
	/* Kept after the listing is swept, so the view's mtime stays put while its
	 * names do: */
	uint64_t names;			/* names_digest of the last listing */
	int64_t changed_ms;		/* when those names were first seen */
	int64_t used_ms;		/* last time the view was asked for */
	/* The root only: the uuids of its last listing, sorted, to tell which jobs the
	 * cluster deleted since (kept when the listing itself is swept). One allocation
	 * (see sorted_uuids). */
	char **uuids;
	size_t nuuids;
};

/* A view's entry outlives its swept listing this long without use. */
#define LISTING_ENTRY_IDLE_MS (600 * 1000)

struct jfs_store {
	struct jfs_client *client;	/* immutable after new */
	struct jfs_http *http;
	int64_t ttl_ms;
	int64_t expiry_ms;
	int64_t negative_ms;
	size_t mem_max;
	struct jfs_store_budget *budget; /* shared with other stores, or NULL */
	jfs_store_clock_fn clock;
	jfs_store_clock_fn mono; /* the monotonic clock: ages against ttl */
	void *mono_arg;
	void *clock_arg;
	void (*on_change)(void *arg);
	void *on_change_arg;
	void (*on_fetched)(void *arg, struct jfs_listing *l, bool whole, struct jfs_job *job);
	void *on_fetched_arg;
	unsigned max_waiting;

	/* gate_lock guards entered and refusing; gate is signalled (with it) when a caller
	 * leaves. Apart from the store's lock, so that a caller waiting at the gate holds
	 * up nobody's hits. */
	pthread_mutex_t gate_lock;
	pthread_cond_t gate;	    /* on CLOCK_MONOTONIC */
	unsigned entered;	    /* callers past the gate: fetching, or waiting for a
				     * fetch (at most max_waiting) */
	bool refusing;		    /* the stall was logged (once per stall) */

	/* Guards everything below, the entries and their in-flight records. Never held
	 * across a request, nor while calling the client. */
	pthread_mutex_t lock;
	struct htable jobs;	    /* uuid -> struct job_entry */
	struct htable listings;	    /* query string -> struct listing_entry */
	struct job_entry lru;	    /* sentinel: lru.next is the most recently used */
	uint64_t seq;		    /* last fetch sequence number handed out */
	size_t mem;		    /* sum of job->mem over the job entries */
	char **changed;		    /* uuids expired/changed since the last sweep */
	size_t nchanged, changed_cap;
	struct jfs_store_counters ctr;
};

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static int64_t default_clock(void *arg)
{
	struct jfs_http *http = arg;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
	       (http ? jfs_http_clock_skew(http) * 1000 : 0);
}

int64_t jfs_store_now_ms(struct jfs_store *s)
{
	return s->clock(s->clock_arg);
}

static int64_t default_mono(void *arg)
{
	(void)arg;
	return jfs_mono_ms();
}

/* Now on the monotonic clock: what ages (freshness against ttl) are measured on. The
 * store's clock, the cluster's, can step (NTP, a VM resumed): measured on it, an hour
 * back made every listing and active job fresh for that hour (issue 11). */
static int64_t mono_now(const struct jfs_store *s)
{
	return s->mono(s->mono_arg);
}

/* The cluster time a fetch started, from the time it completed (done_ms) and when it
 * started by the monotonic clock (mono_start_ms). Not the cluster time read at the
 * start: the first fetch is what teaches the default clock the cluster's skew, so a
 * start read before it would be off by that skew (600 s for a cluster 10 minutes
 * behind, and every finished job would look seen after its expiry). */
static int64_t fetch_start_ms(int64_t done_ms, int64_t mono_start_ms)
{
	return done_ms - (jfs_mono_ms() - mono_start_ms);
}

/* A digest of the listing's names, to tell whether entries came or went. */
static uint64_t names_digest(const struct jfs_listing *l)
{
	uint64_t h = 1469598103934665603ULL ^ l->n;
	for (size_t i = 0; i < l->n; i++) {
		for (const char *c = l->by_name[i]->name; *c; c++) {
			h ^= (unsigned char)*c;
			h *= 1099511628211ULL;
		}
		h ^= '/';
		h *= 1099511628211ULL;
	}
	return h;
}

/* ---- in-flight records ------------------------------------------------------------ */

static struct inflight *inflight_new(void)
{
	struct inflight *inf = calloc(1, sizeof(*inf));
	if (!inf)
		return NULL;
	if (pthread_cond_init(&inf->cond, NULL) != 0) {
		free(inf);
		return NULL;
	}
	inf->users = 1;
	return inf;
}

/* Drop one user (store lock held); the last one frees the record and its results. */
static void inflight_release_locked(struct inflight *inf)
{
	if (--inf->users > 0)
		return;
	jfs_job_unref(inf->job);
	jfs_listing_unref(inf->listing);
	pthread_cond_destroy(&inf->cond);
	free(inf);
}

/* Wait (store lock held) for another thread's request to finish. */
static void inflight_wait_locked(struct jfs_store *s, struct inflight *inf)
{
	inf->users++;
	s->ctr.shared_waits++;
	while (!inf->done)
		pthread_cond_wait(&inf->cond, &s->lock);
}

static void inflight_finish_locked(struct inflight *inf, int err, const struct jfs_error *e)
{
	inf->err = err;
	if (err && e)
		inf->error = *e;
	inf->done = true;
	pthread_cond_broadcast(&inf->cond);
}

/* ---- remembered failures ------------------------------------------------------- *
 * A failed fetch is answered again, without a request, for negative_ms (a second at
 * most, never longer than ttl). The kernel asks twice when a lookup fails (to
 * revalidate, then afresh), and a shell loop over a failing cluster would otherwise
 * cost a whole retry budget and a log line per access. */

static void failure_forget_locked(struct inflight **failed)
{
	if (*failed) {
		inflight_release_locked(*failed);
		*failed = NULL;
	}
}

/* Whether a short window (a negative answer, a remembered failure) that was to last
 * until `until` on the store's clock is over at now. That clock can step back (the
 * cluster's skew is learned after the window began, or the host's clock is set back):
 * a window ending further ahead than it can ever last is over too. */
static bool window_over(const struct jfs_store *s, int64_t until, int64_t now)
{
	return now >= until || until - now > s->negative_ms;
}

static void failure_keep_locked(struct jfs_store *s, struct inflight **failed, int64_t *until,
				struct inflight *inf, int64_t now)
{
	failure_forget_locked(failed);
	if (s->negative_ms <= 0)
		return;
	inf->users++;
	*failed = inf;
	*until = now + s->negative_ms;
}

/* The remembered failure (a new user of it), or NULL when none stands now. */
static struct inflight *failure_recall_locked(const struct jfs_store *s,
					      struct inflight **failed, int64_t until,
					      int64_t now)
{
	if (*failed && window_over(s, until, now))
		failure_forget_locked(failed);
	if (*failed)
		(*failed)->users++;
	return *failed;
}

/* How a miss is answered (store lock held): by the fetch in flight in *slot (joined),
 * by the failure remembered in *failed, or by a new fetch that the caller makes:
 * *fetcher set, the new record in *slot and the fetch's sequence number in *seq.
 * NULL when no record can be made (out of memory). */
static struct inflight *miss_answer_locked(struct jfs_store *s, struct inflight **slot,
					   struct inflight **failed, int64_t failed_until,
					   int64_t now, bool *fetcher, uint64_t *seq)
{
	struct inflight *inf = *slot;
	*fetcher = false;
	if (inf) {
		inflight_wait_locked(s, inf);
	} else if ((inf = failure_recall_locked(s, failed, failed_until, now))) {
		s->ctr.failures_recalled++;
	} else if ((inf = inflight_new())) {
		*fetcher = true;
		*slot = inf;
		*seq = ++s->seq;
	}
	return inf;
}

/* ---- the gate ----------------------------------------------------------------------
 * With max_waiting set (a fleet), at most that many callers at once wait on the cluster
 * (fetching, or waiting for a fetch). One more waits at the gate for one of them to
 * leave, as long as the cluster shows life; once it is stalled (jfs_http_stalled) the
 * callers at the gate, and those arriving, are answered -EAGAIN (marked repeated but
 * for the first of each stall, so that it is logged once): a cluster that hangs holds
 * max_waiting threads, not the process's every FUSE worker. A caller that hits the
 * cache never meets the gate. */

#define GATE_POLL_MS 250 /* how often a caller at the gate looks at the cluster again */

/* Returned by a lookup that missed before passing the gate. */
#define MISS_AT_GATE 1

static int gate_enter(struct jfs_store *s, struct jfs_error *e)
{
	int64_t silent_ms;
	int rc = 0;

	pthread_mutex_lock(&s->gate_lock);
	while (s->entered >= s->max_waiting) {
		if (jfs_http_stalled(s->http, &silent_ms)) {
			rc = jfs_error_set(e, EAGAIN,
					   "%s: %u requests wait on it and it has answered "
					   "nothing for %lld s: not one more until it answers",
					   jfs_http_base_url(s->http), s->entered,
					   (long long)(silent_ms / 1000));
			e->repeated = s->refusing; /* the caller logs the first */
			s->refusing = true;
			break;
		}
		struct timespec until = jfs_mono_timespec(jfs_mono_ms() + GATE_POLL_MS);
		pthread_cond_timedwait(&s->gate, &s->gate_lock, &until);
	}
	if (rc == 0)
		s->entered++;
	pthread_mutex_unlock(&s->gate_lock);
	if (rc < 0) {
		pthread_mutex_lock(&s->lock);
		s->ctr.refused_stalled++;
		pthread_mutex_unlock(&s->lock);
	}
	return rc;
}

static void gate_leave(struct jfs_store *s)
{
	pthread_mutex_lock(&s->gate_lock);
	s->entered--;
	s->refusing = false; /* room again: the next stall is logged anew */
	pthread_cond_signal(&s->gate);
	pthread_mutex_unlock(&s->gate_lock);
}

/* ---- job entries ---------------------------------------------------------------- */

static void lru_unlink(struct job_entry *je)
{
	je->prev->next = je->next;
	je->next->prev = je->prev;
}

static void lru_push_front(struct jfs_store *s, struct job_entry *je)
{
	je->next = s->lru.next;
	je->prev = &s->lru;
	s->lru.next->prev = je;
	s->lru.next = je;
}

static void lru_touch(struct jfs_store *s, struct job_entry *je)
{
	lru_unlink(je);
	lru_push_front(s, je);
}

static void queue_changed_locked(struct jfs_store *s, const char *uuid)
{
	if (s->nchanged == s->changed_cap) {
		size_t cap = s->changed_cap ? s->changed_cap * 2 : 16;
		char **c = realloc(s->changed, cap * sizeof(*c));
		if (!c)
			return; /* the kernel then learns of it through its own timeouts */
		s->changed = c;
		s->changed_cap = cap;
	}
	char *u = strdup(uuid);
	if (!u)
		return;
	s->changed[s->nchanged++] = u;
	if (s->on_change)
		s->on_change(s->on_change_arg);
}

static void entry_drop_job_locked(struct jfs_store *s, struct job_entry *je)
{
	if (!je->job)
		return;
	s->mem -= je->job->mem;
	if (s->budget)
		__atomic_sub_fetch(&s->budget->used, je->job->mem, __ATOMIC_RELAXED);
	jfs_job_unref(je->job);
	je->job = NULL;
}

static struct job_entry *job_entry_get_locked(struct jfs_store *s, const char *uuid,
					      bool create)
{
	struct hnode *n = ht_find(&s->jobs, uuid);
	if (n || !create)
		return n ? container_of(n, struct job_entry, h) : NULL;
	/* One allocation: the key follows the entry (a listing makes one per job). */
	size_t len = strlen(uuid) + 1;
	struct job_entry *je = calloc(1, sizeof(*je) + len);
	if (!je)
		return NULL;
	je->h.key = memcpy(je + 1, uuid, len);
	ht_insert(&s->jobs, &je->h);
	lru_push_front(s, je);
	return je;
}

static void job_entry_free_locked(struct jfs_store *s, struct job_entry *je)
{
	ht_remove(&s->jobs, &je->h);
	lru_unlink(je);
	entry_drop_job_locked(s, je);
	failure_forget_locked(&je->failed);
	free(je); /* the key with it */
}

/* The record file is the whole job as the cluster sent it: equal records, equal jobs. */
static bool job_differs(const struct jfs_job *a, const struct jfs_job *b)
{
	if (a->state != b->state || a->end_time != b->end_time)
		return true;
	return strcmp(jfs_job_record(a), jfs_job_record(b)) != 0;
}

static int64_t expiry_at_ms(const struct jfs_store *s, const struct jfs_job *job)
{
	return job->end_time * 1000 + s->expiry_ms;
}

/* A finished job with an end time expires; one without is treated as active. */
static bool job_has_expiry(const struct jfs_job *job)
{
	return jfs_job_is_terminal(job) && job->end_time != 0;
}

/* A finished job the cluster was last seen holding at seen_ms is gone once now passes
 * its expiry. A job seen *after* its expiry shows the cluster keeps jobs longer than
 * we were told (or its clock differs): it is then trusted like an active job, for
 * ttl after each sighting, rather than hidden while the cluster still serves it. */
static bool job_scheduled(const struct jfs_store *s, const struct jfs_job *job,
			  int64_t seen_ms)
{
	return job_has_expiry(job) && expiry_at_ms(s, job) > seen_ms;
}

static bool job_expired_at(const struct jfs_store *s, const struct jfs_job *job,
			   int64_t seen_ms, int64_t now)
{
	return job_scheduled(s, job, seen_ms) && now >= expiry_at_ms(s, job);
}

/* Store *job (a new reference is taken) as fetched by the fetch seq that started at
 * fetched_ms and completed at ready_mono_ms (monotonic), unless the entry holds the
 * answer of a later fetch. When the entry holds a job with the same record, that one
 * is kept and *job becomes it (the caller's reference moves): a job that did not
 * change is one object however often it is fetched, shared by every listing, reader
 * and kernel inode that holds it. */
static bool set_job_locked(struct jfs_store *s, struct job_entry *je, struct jfs_job **job,
			   uint64_t seq, int64_t fetched_ms, int64_t ready_mono_ms)
{
	if (seq <= je->data_seq) {
		s->ctr.stale_drops++;
		return false;
	}
	if (je->job && je->job != *job) {
		if (job_differs(je->job, *job)) {
			queue_changed_locked(s, je->h.key);
		} else {
			jfs_job_unref(*job);
			*job = jfs_job_ref(je->job);
		}
	}
	if (je->job != *job) {
		entry_drop_job_locked(s, je);
		je->job = jfs_job_ref(*job);
		s->mem += (*job)->mem;
		if (s->budget)
			__atomic_add_fetch(&s->budget->used, (*job)->mem, __ATOMIC_RELAXED);
	}
	je->fetched_ms = fetched_ms;
	je->ready_mono_ms = ready_mono_ms;
	je->negative_until_ms = 0;
	je->data_seq = seq;
	lru_touch(s, je);
	return true;
}

static bool set_negative_locked(struct jfs_store *s, struct job_entry *je, uint64_t seq,
				int64_t now)
{
	if (seq <= je->data_seq) {
		s->ctr.stale_drops++;
		return false;
	}
	if (je->job)
		queue_changed_locked(s, je->h.key);
	entry_drop_job_locked(s, je);
	je->negative_until_ms = now + s->negative_ms;
	je->data_seq = seq;
	return true;
}

/* Drop least recently used jobs that nobody else holds (no cached listing, no
 * reader, no file inode the kernel keeps) until the memory held is under the cap.
 * Each call passes over at most EVICT_HELD_MAX jobs held elsewhere: when those alone
 * exceed the cap, a call costs that much, not a walk of every entry under the lock. */
#define EVICT_HELD_MAX 64
static bool over_cap(const struct jfs_store *s)
{
	if (s->budget)
		return __atomic_load_n(&s->budget->used, __ATOMIC_RELAXED) > s->budget->max;
	return s->mem > s->mem_max;
}

static void evict_locked(struct jfs_store *s)
{
	unsigned held = 0;
	struct job_entry *je = s->lru.prev;
	while (over_cap(s) && je != &s->lru && held < EVICT_HELD_MAX) {
		struct job_entry *prev = je->prev;
		if (je->job && !je->inflight &&
		    __atomic_load_n(&je->job->refs, __ATOMIC_ACQUIRE) == 1) {
			s->ctr.evictions++;
			job_entry_free_locked(s, je);
		} else if (je->job) {
			/* In use (a listing, a reader, a file the kernel keeps): dropping
			 * it frees nothing. To the recent end, so that the next call
			 * looks at others. */
			held++;
			lru_touch(s, je);
		}
		je = prev;
	}
}

enum verdict { MISS, HIT, GONE };

static enum verdict job_entry_check(const struct jfs_store *s, const struct job_entry *je,
				    int64_t now, int64_t mono)
{
	if (je->job) {
		if (job_scheduled(s, je->job, je->fetched_ms))
			return now >= expiry_at_ms(s, je->job) ? GONE : HIT;
		return mono - je->ready_mono_ms < s->ttl_ms ? HIT : MISS;
	}
	if (je->negative_until_ms && !window_over(s, je->negative_until_ms, now))
		return GONE;
	return MISS;
}

static int gone(struct jfs_error *e, const char *uuid)
{
	jfs_error_clear(e);
	return jfs_error_set(e, ENOENT, "job %s: no such job (or it expired)", uuid);
}

/* The answer a finished fetch leaves (store lock held): whatever the entry now holds
 * when it holds a valid answer (the newest), else the fetch's own error. */
static int entry_result_locked(struct jfs_store *s, struct job_entry *je, int64_t now,
			       int err, struct jfs_job **out)
{
	*out = NULL;
	if (je->job && !job_expired_at(s, je->job, je->fetched_ms, now)) {
		*out = jfs_job_ref(je->job);
		return 0;
	}
	if (!je->job && je->negative_until_ms)
		return -ENOENT;
	return err ? err : -ENOENT;
}

/* jfs_store_job, once the caller is past the gate, or until it must pass it
 * (MISS_AT_GATE). */
static int job_lookup(struct jfs_store *s, const char *uuid, bool past_gate,
		      struct jfs_job **out, struct jfs_error *e)
{
	int64_t now = jfs_store_now_ms(s);

	*out = NULL;
	pthread_mutex_lock(&s->lock);
	struct job_entry *je = job_entry_get_locked(s, uuid, true);
	if (!je) {
		pthread_mutex_unlock(&s->lock);
		return jfs_error_set(e, ENOMEM, "out of memory caching job %s", uuid);
	}
	switch (job_entry_check(s, je, now, mono_now(s))) {
	case HIT:
		s->ctr.job_hits++;
		lru_touch(s, je);
		*out = jfs_job_ref(je->job);
		pthread_mutex_unlock(&s->lock);
		return 0;
	case GONE:
		s->ctr.job_hits++;
		s->ctr.job_negative++;
		if (je->job) { /* finished and past its expiry: the cluster deleted it */
			s->ctr.expired++;
			queue_changed_locked(s, uuid);
			entry_drop_job_locked(s, je);
			je->negative_until_ms = now + s->negative_ms;
		}
		pthread_mutex_unlock(&s->lock);
		return gone(e, uuid);
	case MISS:
		break;
	}
	if (s->max_waiting && !past_gate) {
		if (!je->job && !je->negative_until_ms && !je->failed && !je->inflight)
			job_entry_free_locked(s, je);
		pthread_mutex_unlock(&s->lock);
		return MISS_AT_GATE;
	}

	bool fetcher;
	uint64_t seq = 0;
	struct inflight *inf = miss_answer_locked(s, &je->inflight, &je->failed,
						  je->failed_until_ms, now, &fetcher, &seq);
	if (!inf) {
		if (!je->job && !je->negative_until_ms && !je->failed)
			job_entry_free_locked(s, je);
		pthread_mutex_unlock(&s->lock);
		return jfs_error_set(e, ENOMEM, "out of memory fetching job %s", uuid);
	}
	if (fetcher) {
		s->ctr.job_misses++;
		pthread_mutex_unlock(&s->lock);

		struct jfs_job *job = NULL;
		struct jfs_error fe;
		int64_t mono_start = jfs_mono_ms();
		jfs_error_clear(&fe);
		int rc = jfs_client_get(s->client, uuid, &job, &fe);
		int64_t done = jfs_store_now_ms(s), mono_done = mono_now(s);
		int64_t start = fetch_start_ms(done, mono_start);
		if (rc == 0)
			job->seq = seq; /* not shared yet */
		if (rc == 0 && job_expired_at(s, job, start, done)) {
			jfs_job_unref(job);
			job = NULL;
			rc = gone(&fe, uuid);
		}

		pthread_mutex_lock(&s->lock);
		if (rc == 0)
			set_job_locked(s, je, &job, seq, start, mono_done);
		else if (rc == -ENOENT)
			set_negative_locked(s, je, seq, done);
		jfs_job_unref(job);
		if (rc == 0 || rc == -ENOENT)
			rc = entry_result_locked(s, je, done, rc, &inf->job);
		inflight_finish_locked(inf, rc, &fe);
		je->inflight = NULL;
		if (rc != 0 && rc != -ENOENT)
			failure_keep_locked(s, &je->failed, &je->failed_until_ms, inf, done);
		else
			failure_forget_locked(&je->failed);
		if (!je->job && !je->negative_until_ms && !je->failed)
			job_entry_free_locked(s, je); /* nothing to keep */
		evict_locked(s);
	}

	int rc = inf->err;
	if (rc == 0) {
		*out = jfs_job_ref(inf->job);
	} else {
		*e = inf->error;
		e->repeated = !fetcher;
	}
	inflight_release_locked(inf);
	pthread_mutex_unlock(&s->lock);
	if (rc == 0 && fetcher && s->on_fetched)
		s->on_fetched(s->on_fetched_arg, NULL, false, *out);
	return rc;
}

int jfs_store_job(struct jfs_store *s, const char *uuid, struct jfs_job **out,
		  struct jfs_error *e)
{
	struct jfs_error local;
	if (!e)
		e = &local;
	int rc = job_lookup(s, uuid, false, out, e);
	if (rc != MISS_AT_GATE)
		return rc;
	if ((rc = gate_enter(s, e)) < 0)
		return rc;
	rc = job_lookup(s, uuid, true, out, e);
	gate_leave(s);
	return rc;
}

bool jfs_store_job_expired(struct jfs_store *s, const struct jfs_job *job, int64_t seen_ms)
{
	return job_expired_at(s, job, seen_ms, jfs_store_now_ms(s));
}

int64_t jfs_store_job_expires_ms(struct jfs_store *s, const struct jfs_job *job,
				 int64_t seen_ms)
{
	return job_scheduled(s, job, seen_ms) ? expiry_at_ms(s, job) : INT64_MAX;
}

double jfs_store_job_life(struct jfs_store *s, const struct jfs_job *job)
{
	int64_t now = jfs_store_now_ms(s);
	int64_t left = 0;

	if (job_has_expiry(job) && expiry_at_ms(s, job) > now) {
		left = expiry_at_ms(s, job) - now;
	} else {
		pthread_mutex_lock(&s->lock);
		struct job_entry *je = job_entry_get_locked(s, job->uuid, false);
		if (je && je->job == job)
			left = je->ready_mono_ms + s->ttl_ms - mono_now(s);
		pthread_mutex_unlock(&s->lock);
	}
	return left > 0 ? (double)left / 1000.0 : 0.0;
}

/* ---- listings --------------------------------------------------------------------- */

static size_t jfs_query_count_or_zero(const struct jfs_query *q)
{
	return q ? jfs_query_count(q) : 0;
}

static void listing_entry_free_locked(struct jfs_store *s, struct listing_entry *le)
{
	ht_remove(&s->listings, &le->h);
	failure_forget_locked(&le->failed);
	free(le->uuids);
	jfs_listing_unref(le->listing);
	free(le->h.key);
	free(le);
}

static struct listing_entry *listing_entry_get_locked(struct jfs_store *s, const char *key)
{
	struct hnode *n = ht_find(&s->listings, key);
	if (n)
		return container_of(n, struct listing_entry, h);
	struct listing_entry *le = calloc(1, sizeof(*le));
	if (!le)
		return NULL;
	le->h.key = strdup(key);
	if (!le->h.key) {
		free(le);
		return NULL;
	}
	ht_insert(&s->listings, &le->h);
	return le;
}

/* Every job of a full listing refreshes its job entry (a later GET's answer wins).
 * No other thread has seen l yet (the store lock has been held since it was made), so
 * a job that did not change since the cache got it is swapped for the object the
 * cache holds, in jobs and in by_name (names are unique in a listing: the client
 * drops repeated uuids, and a name is its uuid, encoded reversibly). */
static void fill_jobs_locked(struct jfs_store *s, struct jfs_listing *l, uint64_t seq)
{
	for (size_t i = 0; i < l->n; i++) {
		struct jfs_job *job = jfs_job_ref(l->jobs[i]); /* alive until by_name is done */
		struct job_entry *je = job_entry_get_locked(s, job->uuid, true);
		if (je)
			set_job_locked(s, je, &l->jobs[i], seq, l->fetched_ms, l->ready_mono_ms);
		struct jfs_job **slot = l->jobs[i] != job ? jfs_listing_slot(l, job->name) : NULL;
		if (slot) /* by_name holds the same pointers, unreferenced */
			*slot = l->jobs[i];
		jfs_job_unref(job);
	}
	evict_locked(s);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The uuids of l, sorted, in one allocation (the pointers, then the strings: free
 * the whole with free()); NULL (and *n = 0) on ENOMEM. */
static char **sorted_uuids(const struct jfs_listing *l, size_t *n)
{
	size_t bytes = 0;
	*n = 0;
	for (size_t i = 0; i < l->n; i++)
		bytes += strlen(l->jobs[i]->uuid) + 1;
	char **u = malloc((l->n ? l->n : 1) * sizeof(*u) + bytes);
	if (!u)
		return NULL;
	char *text = (char *)(u + l->n);
	for (size_t i = 0; i < l->n; i++) {
		size_t len = strlen(l->jobs[i]->uuid) + 1;
		u[i] = memcpy(text, l->jobs[i]->uuid, len);
		text += len;
	}
	qsort(u, l->n, sizeof(*u), cmp_str);
	*n = l->n;
	return u;
}

/* The root listing holds every job: one that was in the previous root listing and is
 * not in the new one l was deleted by the cluster. Its cached job goes (a short
 * negative entry, so its path fails at once) and the sweep reports it. */
static void drop_deleted_locked(struct jfs_store *s, struct listing_entry *le,
				const struct jfs_listing *l, uint64_t seq, int64_t now)
{
	size_t n;
	char **cur = sorted_uuids(l, &n);
	size_t i = 0, j = 0;

	while (cur && i < le->nuuids) {
		int c = j < n ? strcmp(le->uuids[i], cur[j]) : -1;
		if (c > 0) {
			j++;
			continue;
		}
		if (c < 0) {
			struct job_entry *je = job_entry_get_locked(s, le->uuids[i], false);
			if (je && !je->inflight && je->job)
				set_negative_locked(s, je, seq, now);
		} else {
			j++;
		}
		i++;
	}
	free(le->uuids);
	le->uuids = cur; /* NULL when out of memory: then no comparison next time */
	le->nuuids = n;
}

double jfs_store_listing_life(struct jfs_store *s, const struct jfs_listing *l)
{
	int64_t left = l->ready_mono_ms + s->ttl_ms - mono_now(s);
	return left > 0 ? (double)left / 1000.0 : 0.0;
}

/* jfs_store_listing, as job_lookup is jfs_store_job. */
static int listing_lookup(struct jfs_store *s, const struct jfs_query *q, bool past_gate,
			  struct jfs_listing **out, struct jfs_error *e)
{
	const char *key = q ? jfs_query_string(q) : "";
	int64_t now = jfs_store_now_ms(s);

	*out = NULL;
	pthread_mutex_lock(&s->lock);
	struct listing_entry *le = listing_entry_get_locked(s, key);
	if (!le) {
		pthread_mutex_unlock(&s->lock);
		return jfs_error_set(e, ENOMEM, "out of memory caching a listing");
	}
	le->used_ms = now;
	if (le->listing && mono_now(s) - le->listing->ready_mono_ms < s->ttl_ms) {
		s->ctr.list_hits++;
		*out = jfs_listing_ref(le->listing);
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	if (s->max_waiting && !past_gate) {
		if (!le->listing && !le->changed_ms && !le->failed && !le->inflight)
			listing_entry_free_locked(s, le);
		pthread_mutex_unlock(&s->lock);
		return MISS_AT_GATE;
	}

	bool fetcher;
	uint64_t seq = 0;
	struct inflight *inf = miss_answer_locked(s, &le->inflight, &le->failed,
						  le->failed_until_ms, now, &fetcher, &seq);
	if (!inf) {
		if (!le->listing && !le->changed_ms && !le->failed)
			listing_entry_free_locked(s, le);
		pthread_mutex_unlock(&s->lock);
		return jfs_error_set(e, ENOMEM, "out of memory fetching a listing");
	}
	if (fetcher) {
		s->ctr.list_misses++;
		pthread_mutex_unlock(&s->lock);

		struct jfs_job_list list = { 0 };
		struct jfs_error fe;
		struct jfs_listing *l = NULL;
		bool full = !q || !jfs_query_get(q, JFS_QUERY_FIELDS);
		int64_t mono_start = jfs_mono_ms();
		jfs_error_clear(&fe);
		int rc = jfs_client_list(s->client, q, &list, &fe);
		int64_t done = jfs_store_now_ms(s), mono_done = mono_now(s);
		if (rc == 0) {
			for (size_t i = 0; i < list.n; i++)
				list.jobs[i]->seq = seq; /* not shared yet */
			l = jfs_listing_new(list.jobs, list.n, fetch_start_ms(done, mono_start),
					    done, mono_done, full);
			if (!l)
				rc = jfs_error_set(&fe, ENOMEM, "out of memory holding a listing");
		}
		jfs_job_list_free(&list);

		pthread_mutex_lock(&s->lock);
		if (rc == 0) {
			if (seq > le->data_seq) {
				/* l is not shared yet, so it may still be changed. */
				uint64_t names = names_digest(l);
				if (le->changed_ms && names == le->names)
					l->changed_ms = le->changed_ms;
				le->names = names;
				le->changed_ms = l->changed_ms;
				if (full && jfs_query_count_or_zero(q) == 0)
					drop_deleted_locked(s, le, l, seq, done);
				jfs_listing_unref(le->listing);
				le->listing = jfs_listing_ref(l);
				le->data_seq = seq;
			} else {
				s->ctr.stale_drops++;
			}
			if (full)
				fill_jobs_locked(s, l, seq);
			/* The newest listing of the view; ours when the sweep already
			 * dropped the newer one. */
			inf->listing = jfs_listing_ref(le->listing ? le->listing : l);
		}
		jfs_listing_unref(l);
		inflight_finish_locked(inf, rc, &fe);
		le->inflight = NULL;
		if (rc != 0)
			failure_keep_locked(s, &le->failed, &le->failed_until_ms, inf, done);
		else
			failure_forget_locked(&le->failed);
		if (!le->listing && !le->changed_ms && !le->failed)
			listing_entry_free_locked(s, le);
	}

	int rc = inf->err;
	if (rc == 0) {
		*out = jfs_listing_ref(inf->listing);
	} else {
		*e = inf->error;
		e->repeated = !fetcher;
	}
	inflight_release_locked(inf);
	pthread_mutex_unlock(&s->lock);
	if (rc == 0 && fetcher && s->on_fetched && (*out)->full_records)
		s->on_fetched(s->on_fetched_arg, *out, jfs_query_count_or_zero(q) == 0, NULL);
	return rc;
}

int jfs_store_listing(struct jfs_store *s, const struct jfs_query *q,
		      struct jfs_listing **out, struct jfs_error *e)
{
	struct jfs_error local;
	if (!e)
		e = &local;
	int rc = listing_lookup(s, q, false, out, e);
	if (rc != MISS_AT_GATE)
		return rc;
	if ((rc = gate_enter(s, e)) < 0)
		return rc;
	rc = listing_lookup(s, q, true, out, e);
	gate_leave(s);
	return rc;
}

void jfs_store_forget(struct jfs_store *s, const char *uuid)
{
	pthread_mutex_lock(&s->lock);
	struct job_entry *je = job_entry_get_locked(s, uuid, false);
	if (je) {
		if (je->job)
			queue_changed_locked(s, uuid);
		entry_drop_job_locked(s, je);
		je->negative_until_ms = 0;
		/* A fetch that started before now (of the job or of a listing) answers
		 * what was true before: kept out by the sequence. The entry stays for
		 * that; the sweep frees it. */
		je->data_seq = ++s->seq;
		failure_forget_locked(&je->failed);
	}
	pthread_mutex_unlock(&s->lock);
}

/* ---- refreshing chosen jobs -------------------------------------------------------- */

/* One batch of jfs_store_refresh: uuids[0..n) by one listing "uuid=a|b|...". */
static int refresh_batch(struct jfs_store *s, char *const *uuids, size_t n,
			 struct jfs_job **jobs, struct jfs_error *e)
{
	size_t len = strlen("uuid=") + 1;
	for (size_t i = 0; i < n; i++)
		len += strlen(uuids[i]) + 1;
	char *segment = malloc(len);
	struct jfs_query *q = jfs_query_new();
	if (!segment || !q) {
		free(segment);
		jfs_query_free(q);
		return jfs_error_set(e, ENOMEM, "out of memory polling jobs");
	}
	char *at = stpcpy(segment, "uuid=");
	for (size_t i = 0; i < n; i++) {
		if (i)
			*at++ = '|';
		at = stpcpy(at, uuids[i]);
	}
	int rc = jfs_query_add_segment(q, segment, e);
	free(segment);
	if (rc != 0) {
		jfs_query_free(q);
		return rc;
	}

	pthread_mutex_lock(&s->lock);
	uint64_t seq = ++s->seq;
	s->ctr.list_misses++;
	pthread_mutex_unlock(&s->lock);

	struct jfs_job_list list = { 0 };
	int64_t mono_start = jfs_mono_ms();
	rc = jfs_client_list(s->client, q, &list, e);
	jfs_query_free(q);
	if (rc != 0)
		return rc;
	int64_t done = jfs_store_now_ms(s), mono_done = mono_now(s);
	int64_t start = fetch_start_ms(done, mono_start);
	for (size_t j = 0; j < list.n; j++)
		list.jobs[j]->seq = seq; /* not shared yet */

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < n; i++) {
		struct jfs_job *job = NULL;
		for (size_t j = 0; j < list.n && !job; j++) /* a batch is small */
			if (strcasecmp(list.jobs[j]->uuid, uuids[i]) == 0)
				job = jfs_job_ref(list.jobs[j]);
		struct job_entry *je = job_entry_get_locked(s, uuids[i], job != NULL);
		if (job && je) {
			set_job_locked(s, je, &job, seq, start, mono_done);
		} else if (!job && je && !je->inflight && je->job) {
			/* Not in the answer: the cluster deleted it (as when it leaves the
			 * root listing). */
			set_negative_locked(s, je, seq, done);
		}
		jobs[i] = job;
	}
	evict_locked(s);
	pthread_mutex_unlock(&s->lock);

	struct jfs_listing *l = NULL;
	if (s->on_fetched && list.n &&
	    (l = jfs_listing_new(list.jobs, list.n, start, done, mono_done, true)))
		s->on_fetched(s->on_fetched_arg, l, false, NULL);
	jfs_listing_unref(l);
	jfs_job_list_free(&list);
	return 0;
}

int jfs_store_refresh(struct jfs_store *s, char *const *uuids, size_t n, struct jfs_job **jobs,
		      struct jfs_error *e)
{
	struct jfs_error local;
	if (!e)
		e = &local;
	for (size_t i = 0; i < n; i++)
		jobs[i] = NULL;
	for (size_t i = 0; i < n; i += JFS_STORE_REFRESH_BATCH) {
		size_t k = n - i < JFS_STORE_REFRESH_BATCH ? n - i : JFS_STORE_REFRESH_BATCH;
		int rc = refresh_batch(s, uuids + i, k, jobs + i, e);
		if (rc != 0) {
			for (size_t j = 0; j < i; j++) {
				jfs_job_unref(jobs[j]);
				jobs[j] = NULL;
			}
			return rc;
		}
	}
	return 0;
}

/* ---- housekeeping ------------------------------------------------------------------ */

static void take_changes_locked(struct jfs_store *s, char ***uuids, size_t *n)
{
	*uuids = NULL;
	*n = 0;
	if (s->nchanged == 0)
		return;
	*uuids = s->changed;
	*n = s->nchanged;
	s->changed = NULL;
	s->nchanged = s->changed_cap = 0;
}

int jfs_store_sweep(struct jfs_store *s, char ***uuids, size_t *n)
{
	int64_t now = jfs_store_now_ms(s);

	*uuids = NULL;
	*n = 0;
	pthread_mutex_lock(&s->lock);
	for (size_t b = 0; b < s->listings.nbuckets; b++) {
		struct hnode *h = s->listings.buckets[b];
		while (h) {
			struct hnode *next = h->next;
			struct listing_entry *le = container_of(h, struct listing_entry, h);
			if (le->inflight) {
				h = next;
				continue;
			}
			if (le->failed && window_over(s, le->failed_until_ms, now))
				failure_forget_locked(&le->failed);
			if (le->listing && mono_now(s) - le->listing->ready_mono_ms >= s->ttl_ms) {
				jfs_listing_unref(le->listing);
				le->listing = NULL;
			} else if (!le->listing && !le->failed &&
				   (!le->changed_ms ||
				    now - le->used_ms >= LISTING_ENTRY_IDLE_MS)) {
				listing_entry_free_locked(s, le); /* nothing left worth keeping */
			}
			h = next;
		}
	}
	for (size_t b = 0; b < s->jobs.nbuckets; b++) {
		struct hnode *h = s->jobs.buckets[b];
		while (h) {
			struct hnode *next = h->next;
			struct job_entry *je = container_of(h, struct job_entry, h);
			h = next;
			if (je->inflight)
				continue;
			if (je->failed && window_over(s, je->failed_until_ms, now))
				failure_forget_locked(&je->failed);
			if (je->job && job_scheduled(s, je->job, je->fetched_ms)) {
				if (now >= expiry_at_ms(s, je->job)) {
					s->ctr.expired++;
					queue_changed_locked(s, je->h.key);
					job_entry_free_locked(s, je);
				}
			} else if (je->job) {
				/* A stale active job stays (the memory cap bounds it): the
				 * next fetch compares with it, and a change is what tells
				 * the kernel to drop the pages it keeps, which it would
				 * not do by itself when size and mtime stay the same
				 * ("running" and "success" are both 8 bytes). */
			} else if (window_over(s, je->negative_until_ms, now) && !je->failed) {
				job_entry_free_locked(s, je);
			}
		}
	}
	evict_locked(s); /* jobs the swept listings held may go now */
	take_changes_locked(s, uuids, n);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int jfs_store_take_changes(struct jfs_store *s, char ***uuids, size_t *n)
{
	pthread_mutex_lock(&s->lock);
	take_changes_locked(s, uuids, n);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void jfs_store_uuids_free(char **uuids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(uuids[i]);
	free(uuids);
}

void jfs_store_counters_get(struct jfs_store *s, struct jfs_store_counters *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->ctr;
	out->mem = s->mem;
	out->jobs = s->jobs.count;
	out->listings = s->listings.count;
	pthread_mutex_unlock(&s->lock);
}

/* ---- life cycle -------------------------------------------------------------------- */

int jfs_store_new(struct jfs_client *c, const struct jfs_store_config *cfg,
		  struct jfs_store **out)
{
	struct jfs_store *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->client = c;
	s->http = c ? jfs_client_http(c) : NULL;
	s->ttl_ms = cfg->ttl > 0 ? (int64_t)(cfg->ttl * 1000.0 + 0.5) : 0;
	s->expiry_ms = cfg->expiry > 0 ? cfg->expiry * 1000 : 0;
	s->negative_ms = s->ttl_ms < JFS_STORE_NEGATIVE_MAX_MS ? s->ttl_ms
							       : JFS_STORE_NEGATIVE_MAX_MS;
	s->mem_max = cfg->mem_max ? cfg->mem_max : JFS_STORE_MEM_DEFAULT;
	s->budget = cfg->budget;
	s->clock = cfg->clock ? cfg->clock : default_clock;
	s->clock_arg = cfg->clock ? cfg->clock_arg : s->http;
	s->mono = cfg->mono_clock ? cfg->mono_clock : default_mono;
	s->mono_arg = cfg->mono_clock ? cfg->mono_clock_arg : NULL;
	s->on_change = cfg->on_change;
	s->on_change_arg = cfg->on_change_arg;
	s->on_fetched = cfg->on_fetched;
	s->on_fetched_arg = cfg->on_fetched_arg;
	s->max_waiting = cfg->max_waiting;
	s->lru.next = s->lru.prev = &s->lru;
	bool gate = jfs_cond_init_mono(&s->gate) == 0;
	if (gate && pthread_mutex_init(&s->gate_lock, NULL) != 0) {
		pthread_cond_destroy(&s->gate);
		gate = false;
	}
	if (!gate) {
		free(s);
		return -ENOMEM;
	}
	if (pthread_mutex_init(&s->lock, NULL) != 0 || ht_init(&s->jobs) != 0 ||
	    ht_init(&s->listings) != 0) {
		free(s->jobs.buckets);
		pthread_mutex_destroy(&s->lock);
		pthread_mutex_destroy(&s->gate_lock);
		pthread_cond_destroy(&s->gate);
		free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

void jfs_store_free(struct jfs_store *s)
{
	if (!s)
		return;
	/* No thread may be inside the store now, so no entry has an in-flight record. */
	for (size_t b = 0; b < s->listings.nbuckets; b++) {
		while (s->listings.buckets[b])
			listing_entry_free_locked(
				s, container_of(s->listings.buckets[b], struct listing_entry, h));
	}
	while (s->lru.next != &s->lru)
		job_entry_free_locked(s, s->lru.next);
	free(s->jobs.buckets);
	free(s->listings.buckets);
	jfs_store_uuids_free(s->changed, s->nchanged);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->gate_lock);
	pthread_cond_destroy(&s->gate);
	free(s);
}

/* ---- the store as a source of jobs (source.h) ------------------------------------- */

static int source_listing(void *self, const struct jfs_query *q, struct jfs_listing **out,
			  struct jfs_error *e)
{
	return jfs_store_listing(self, q, out, e);
}

static int source_job(void *self, const char *uuid, struct jfs_job **out, struct jfs_error *e)
{
	return jfs_store_job(self, uuid, out, e);
}

static int64_t source_now_ms(void *self)
{
	return jfs_store_now_ms(self);
}

static int64_t source_job_expires_ms(void *self, const struct jfs_job *job, int64_t seen_ms)
{
	return jfs_store_job_expires_ms(self, job, seen_ms);
}

static double source_job_life(void *self, const struct jfs_job *job)
{
	return jfs_store_job_life(self, job);
}

static double source_listing_life(void *self, const struct jfs_listing *l)
{
	return jfs_store_listing_life(self, l);
}

static const struct jfs_source_ops store_source_ops = {
	.listing = source_listing,
	.job = source_job,
	.now_ms = source_now_ms,
	.job_expires_ms = source_job_expires_ms,
	.job_life = source_job_life,
	.listing_life = source_listing_life,
};

struct jfs_source jfs_store_source(struct jfs_store *s)
{
	return (struct jfs_source){ .ops = &store_source_ops, .self = s };
}
