/* Prefetch of a view across a fleet (see prefetch.h). */
#include "prefetch.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "jobsfs/clock.h"
#include "jobsfs/error.h"
#include "jobsfs/listing.h"
#include "jobsfs/log.h"
#include "jobsfs/query.h"
#include "jobsfs/source.h"

#define PREFETCH_WINDOW_MS 2000 /* a glob's next lookup comes well within it */
#define PREFETCH_RECALL_MS 60000 /* a view globbed this lately is fanned out from its
				  * first lookup (watch ls MOUNT/ * /VIEW/, a glob the
				  * shell walks twice) */
#define PREFETCH_THREADS 8	/* clusters asked at once */
#define RECENT_MAX 32		/* views remembered (distinct globs at once) */
#define QUEUE_MAX 4096		/* fetches waiting; more are dropped (the lookup asks) */

/* A view looked up lately: in which cluster first, and whether the others were asked. */
struct recent {
	char *key; /* the view's canonical query (jfs_query_string); NULL: a free slot */
	struct jfs_cluster *first;
	int64_t at_ms;	   /* monotonic: the round's last lookup */
	bool fanned;	   /* this round asked the other clusters */
	int64_t fanned_ms; /* when a round last did (0: never) */
};

struct item {
	struct jfs_cluster *cluster;
	struct jfs_query *query; /* owned */
};

struct jfs_prefetcher {
	struct jfs_mount *mount;
	pthread_t threads[PREFETCH_THREADS];
	size_t nthreads;

	/* lock guards everything below; cond is signalled when items come or stopping
	 * turns true. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct recent recent[RECENT_MAX];
	struct item queue[QUEUE_MAX]; /* a ring: len items from head */
	size_t head, len;
	bool stopping;
};

static void *prefetch_main(void *arg)
{
	struct jfs_prefetcher *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stopping && p->len == 0)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->stopping)
			break;
		struct item it = p->queue[p->head];
		p->head = (p->head + 1) % QUEUE_MAX;
		p->len--;
		pthread_mutex_unlock(&p->lock);

		struct jfs_listing *l = NULL;
		struct jfs_error e;
		jfs_error_clear(&e);
		int rc = jfs_source_listing(&it.cluster->live, it.query, &l, &e);
		/* A failure is logged once where it first happens (the store marks the
		 * others repeated): here, when the prefetch met it first. */
		if (rc != 0 && !e.repeated)
			jfs_warn("/%s/%s: %s (%s)", it.cluster->name, jfs_query_string(it.query),
				 strerror(-rc), e.message);
		else if (rc != 0)
			jfs_debug("prefetch of %s in %s: %s", jfs_query_string(it.query),
				  it.cluster->name, e.message);
		jfs_listing_unref(l);
		jfs_query_free(it.query);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int jfs_prefetch_start(struct jfs_mount *m)
{
	if (!m->fleet || m->nclusters < 3 || getenv("JOBSFS_NO_PREFETCH"))
		return 0;
	struct jfs_prefetcher *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->mount = m;
	int rc = pthread_mutex_init(&p->lock, NULL);
	if (rc == 0 && (rc = pthread_cond_init(&p->cond, NULL)) != 0)
		pthread_mutex_destroy(&p->lock);
	if (rc != 0) {
		free(p);
		return -rc;
	}
	size_t want = m->nclusters < PREFETCH_THREADS ? m->nclusters : PREFETCH_THREADS;
	while (p->nthreads < want &&
	       (rc = pthread_create(&p->threads[p->nthreads], NULL, prefetch_main, p)) == 0)
		p->nthreads++;
	m->prefetcher = p;
	if (p->nthreads == 0) { /* none started: off */
		jfs_prefetch_free(m);
		return -rc;
	}
	return 0;
}

void jfs_prefetch_free(struct jfs_mount *m)
{
	struct jfs_prefetcher *p = m->prefetcher;
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	for (; p->len; p->len--, p->head = (p->head + 1) % QUEUE_MAX)
		jfs_query_free(p->queue[p->head].query);
	for (size_t i = 0; i < RECENT_MAX; i++)
		free(p->recent[i].key);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
	m->prefetcher = NULL;
}

/* Queue view q for every cluster but a and b (b may be NULL), for the round of r
 * (lock held). */
static void fan_out_locked(struct jfs_prefetcher *p, struct recent *r, const struct jfs_query *q,
			   const struct jfs_cluster *a, const struct jfs_cluster *b, int64_t now)
{
	struct jfs_mount *m = p->mount;
	size_t queued = 0;
	for (size_t i = 0; i < m->nclusters; i++) {
		struct jfs_cluster *c = &m->clusters[i];
		if (c == a || c == b || !c->store)
			continue;
		struct jfs_query *dup = p->len < QUEUE_MAX ? jfs_query_dup(q) : NULL;
		if (!dup)
			break; /* full, or out of memory: those lookups ask for themselves */
		p->queue[(p->head + p->len++) % QUEUE_MAX] = (struct item){ c, dup };
		queued++;
	}
	r->fanned = true;
	r->fanned_ms = now;
	if (queued)
		pthread_cond_broadcast(&p->cond);
	jfs_debug("prefetch: %s looked up in %s%s%s: %zu other clusters asked",
		  jfs_query_string(q), a->name, b ? " and " : "", b ? b->name : "", queued);
}

void jfs_prefetch_view(struct jfs_mount *m, struct jfs_cluster *c, const struct jfs_query *q)
{
	struct jfs_prefetcher *p = m->prefetcher;
	if (!p)
		return;
	const char *key = jfs_query_string(q);
	int64_t now = jfs_mono_ms();
	struct recent *slot = NULL, *oldest = &p->recent[0];

	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < RECENT_MAX && !slot; i++) {
		struct recent *r = &p->recent[i];
		if (r->key && strcmp(r->key, key) == 0)
			slot = r;
		else if (!r->key || r->at_ms < oldest->at_ms)
			oldest = r;
	}
	if (slot && (now - slot->at_ms > PREFETCH_WINDOW_MS || slot->first == c)) {
		/* A new round: long after the last, or the first cluster again (the
		 * glob's next pass). A view globbed lately is asked of all at once. */
		slot->first = c;
		slot->at_ms = now;
		slot->fanned = false;
		if (slot->fanned_ms && now - slot->fanned_ms <= PREFETCH_RECALL_MS)
			fan_out_locked(p, slot, q, c, NULL, now);
	} else if (slot) {
		slot->at_ms = now; /* a glob over many clusters stays one round */
		if (!slot->fanned)
			fan_out_locked(p, slot, q, slot->first, c, now);
	} else {
		char *dup = strdup(key);
		if (dup && !p->stopping) {
			free(oldest->key);
			*oldest = (struct recent){ .key = dup, .first = c, .at_ms = now };
		} else {
			free(dup);
		}
	}
	pthread_mutex_unlock(&p->lock);
}
