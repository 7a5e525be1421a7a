/* Directory snapshots (see snapshot.h). A plain array: at most SNAPSHOTS_MAX entries,
 * searched in a few hundred nanoseconds, once per readdir call past offset 0. */
#include "snapshot.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "jobsfs/clock.h"
#include "jobsfs/job.h"
#include "jobsfs/store.h"

struct snapshot {
	fuse_ino_t ino; /* 0: a free slot */
	uint32_t hash;
	struct jfs_listing *listing; /* a reference, or NULL */
	struct jfs_job *job;	     /* a reference, or NULL */
	int64_t used_ms;	     /* monotonic: last put or get */
};

struct jfs_snapshots {
	pthread_mutex_t lock; /* guards slots */
	struct snapshot slots[SNAPSHOTS_MAX];
};

int jfs_snapshots_new(struct jfs_snapshots **out)
{
	struct jfs_snapshots *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	int rc = pthread_mutex_init(&t->lock, NULL);
	if (rc != 0) {
		free(t);
		return -rc;
	}
	*out = t;
	return 0;
}

/* Take the slot's references out, to be released outside the lock (a listing's last
 * reference frees every job it held). */
static void slot_clear(struct snapshot *s, struct jfs_listing **l, struct jfs_job **job)
{
	*l = s->listing;
	*job = s->job;
	memset(s, 0, sizeof(*s));
}

void jfs_snapshots_free(struct jfs_snapshots *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < SNAPSHOTS_MAX; i++) {
		jfs_listing_unref(t->slots[i].listing);
		jfs_job_unref(t->slots[i].job);
	}
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* FNV-1a over the names, each with its NUL: the same names in the same order. */
static uint32_t fnv(uint32_t h, const char *s)
{
	do
		h = (h ^ (unsigned char)*s) * 16777619u;
	while (*s++);
	return h;
}

/* 31 bits, so that a cookie holding it stays a positive off_t; never 0. */
static uint32_t cookie_hash(uint32_t h)
{
	h &= 0x7fffffff;
	return h ? h : 1;
}

uint32_t jfs_snapshot_hash_listing(const struct jfs_listing *l)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < l->n; i++)
		h = fnv(h, l->jobs[i]->name);
	return cookie_hash(h);
}

uint32_t jfs_snapshot_hash_node(const struct jfs_node *node)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; node->is_dir && i < node->nchildren; i++)
		h = fnv(h, jfs_node_name(&jfs_node_children(node)[i]));
	return cookie_hash(h);
}

void jfs_snapshots_put(struct jfs_snapshots *t, fuse_ino_t ino, uint32_t hash,
		       struct jfs_listing *l, struct jfs_job *job)
{
	struct jfs_listing *old_l[SNAPSHOTS_MAX + 1];
	struct jfs_job *old_j[SNAPSHOTS_MAX + 1];
	size_t nold = 0;
	int64_t now = jfs_mono_ms();

	pthread_mutex_lock(&t->lock);
	struct snapshot *slot = NULL, *lru = NULL;
	for (size_t i = 0; i < SNAPSHOTS_MAX; i++) {
		struct snapshot *s = &t->slots[i];
		if (s->ino && now - s->used_ms > SNAPSHOT_IDLE_MS)
			slot_clear(s, &old_l[nold], &old_j[nold]), nold++;
		if (s->ino == ino && s->hash == hash)
			slot = s; /* the same walk: the newer snapshot serves it */
		else if (!slot && !s->ino)
			slot = s;
		if (s->ino && (!lru || s->used_ms < lru->used_ms))
			lru = s;
	}
	if (!slot)
		slot = lru;
	if (slot->ino)
		slot_clear(slot, &old_l[nold], &old_j[nold]), nold++;
	slot->ino = ino;
	slot->hash = hash;
	slot->listing = l ? jfs_listing_ref(l) : NULL;
	slot->job = job ? jfs_job_ref(job) : NULL;
	slot->used_ms = now;
	pthread_mutex_unlock(&t->lock);
	for (size_t i = 0; i < nold; i++) {
		jfs_listing_unref(old_l[i]);
		jfs_job_unref(old_j[i]);
	}
}

bool jfs_snapshots_get(struct jfs_snapshots *t, fuse_ino_t ino, uint32_t hash,
		       struct jfs_listing **l, struct jfs_job **job)
{
	bool found = false;
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < SNAPSHOTS_MAX && !found; i++) {
		struct snapshot *s = &t->slots[i];
		if (s->ino != ino || s->hash != hash)
			continue;
		*l = s->listing ? jfs_listing_ref(s->listing) : NULL;
		*job = s->job ? jfs_job_ref(s->job) : NULL;
		s->used_ms = jfs_mono_ms();
		found = true;
	}
	pthread_mutex_unlock(&t->lock);
	return found;
}

size_t jfs_snapshots_count(struct jfs_snapshots *t)
{
	size_t n = 0;
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < SNAPSHOTS_MAX; i++)
		n += t->slots[i].ino != 0;
	pthread_mutex_unlock(&t->lock);
	return n;
}
