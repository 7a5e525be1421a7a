/* Housekeeping: about once a second, sweep the store (free expired jobs, stale
 * listings, old negative entries) and take back from the kernel what it keeps of jobs
 * that expired or changed: their names (inval_entry) and, of directories, their
 * attributes and listings (inval_inode; a file's inode never changes, see inode.h).
 * Runs outside every lock: the notifications write to /dev/fuse and the kernel may
 * send requests (forget) while handling them. */
#include "mount.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inode.h"
#include "jobsfs/clock.h"
#include "jobsfs/log.h"
#include "jobsfs/store.h"

#define KEEPER_PERIOD_MS 1000

/* $JOBSFS_TEST_KEEPER_DELAY_MS: sleep that long before each notification, so that a
 * test can stop jobsfs while the keeper is about to write to /dev/fuse (the exit must
 * not wait on the kernel then, see stop.h). Read once, at start. */
static long test_delay_ms;

static void keeper_test_delay(void)
{
	if (test_delay_ms > 0) {
		struct timespec ts = { .tv_sec = test_delay_ms / 1000,
				       .tv_nsec = (test_delay_ms % 1000) * 1000000 };
		nanosleep(&ts, NULL);
	}
}

/* The keeper's cond waits on the monotonic clock: a step of the wall clock (NTP, a
 * VM resumed) neither stops nor hurries the sweeps. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Take back what the kernel holds of these jobs: one pass over the inode table. */
static void invalidate_jobs(struct jfs_mount *m, char **uuids, size_t n)
{
	struct jfs_inode_ref *refs;

	qsort(uuids, n, sizeof(*uuids), cmp_str);
	long nrefs = jfs_inodes_of_jobs(m->inodes, uuids, n, &refs);
	if (nrefs < 0)
		return; /* out of memory: the kernel's own timeouts still apply */
	for (long i = 0; i < nrefs; i++) {
		keeper_test_delay();
		/* -ENOENT: the kernel no longer holds it; nothing to take back. A file
		 * version never changes: only its name may now be another version's. */
		int rc = 0;
		if (!refs[i].file)
			rc = fuse_lowlevel_notify_inval_inode(m->se, refs[i].ino, 0, 0);
		if (rc != 0 && rc != -ENOENT)
			jfs_debug("inval_inode %lu: %s", (unsigned long)refs[i].ino,
				  strerror(-rc));
		rc = fuse_lowlevel_notify_inval_entry(m->se, refs[i].parent, refs[i].name,
						      strlen(refs[i].name));
		if (rc != 0 && rc != -ENOENT)
			jfs_debug("inval_entry %s: %s", refs[i].name, strerror(-rc));
	}
	/* The directories listing these jobs: the kernel keeps a listing it read
	 * (FOPEN_CACHE_DIR) until the directory's mtime moves, and would go on showing
	 * a job that is gone (`ls -l` then fails on its name). Each once. */
	fuse_ino_t *dirs;
	long ndirs = jfs_inode_refs_dirs(refs, (size_t)nrefs, &dirs);
	for (long i = 0; i < ndirs; i++) {
		keeper_test_delay();
		int rc = fuse_lowlevel_notify_inval_inode(m->se, dirs[i], 0, 0);
		if (rc != 0 && rc != -ENOENT)
			jfs_debug("inval_inode %lu: %s", (unsigned long)dirs[i], strerror(-rc));
	}
	free(dirs);
	jfs_inode_refs_free(refs, (size_t)nrefs);
}

/* A handler's request (jfs_keeper_invalidate_job). Guarded by keeper_lock. */
struct jfs_keeper_request {
	struct jfs_keeper_request *next;
	char *uuid;
	bool done;
	bool abandoned; /* its handler stopped waiting: the keeper frees it */
};

static void request_free(struct jfs_keeper_request *r)
{
	free(r->uuid);
	free(r);
}

/* Do the requests taken off keeper_asked (called without the lock), then tell. */
static void serve_requests(struct jfs_mount *m, struct jfs_keeper_request *asked)
{
	size_t n = 0;
	for (struct jfs_keeper_request *r = asked; r; r = r->next)
		n++;
	char **uuids = malloc(n * sizeof(*uuids));
	if (uuids) {
		n = 0;
		for (struct jfs_keeper_request *r = asked; r; r = r->next)
			uuids[n++] = r->uuid;
		invalidate_jobs(m, uuids, n);
		free(uuids);
	}
	pthread_mutex_lock(&m->keeper_lock);
	for (struct jfs_keeper_request *r = asked, *next; r; r = next) {
		next = r->next;
		if (r->abandoned)
			request_free(r);
		else
			r->done = true;
	}
	pthread_cond_broadcast(&m->keeper_done);
	pthread_mutex_unlock(&m->keeper_lock);
}

void jfs_keeper_invalidate_job(struct jfs_mount *m, const char *uuid)
{
	struct jfs_keeper_request *r = calloc(1, sizeof(*r));
	if (r && !(r->uuid = strdup(uuid))) {
		free(r);
		r = NULL;
	}
	if (!r)
		return; /* out of memory: the store's change reaches the keeper anyway */
	struct timespec until = jfs_mono_timespec(jfs_mono_ms() + JFS_KEEPER_ASK_MS);
	pthread_mutex_lock(&m->keeper_lock);
	r->next = m->keeper_asked;
	m->keeper_asked = r;
	pthread_cond_signal(&m->keeper_cond);
	while (!r->done &&
	       pthread_cond_timedwait(&m->keeper_done, &m->keeper_lock, &until) != ETIMEDOUT)
		;
	bool ours = true;
	if (!r->done) {
		struct jfs_keeper_request **p = &m->keeper_asked;
		while (*p && *p != r)
			p = &(*p)->next;
		if (*p) {
			*p = r->next; /* never taken: ours to free */
		} else {
			r->abandoned = true; /* the keeper has it, and frees it */
			ours = false;
		}
		jfs_debug("the keeper did not take back job %s within %d ms", uuid,
			  JFS_KEEPER_ASK_MS);
	}
	pthread_mutex_unlock(&m->keeper_lock);
	if (ours)
		request_free(r);
}

/* Take back the listings the kernel keeps of directories whose listing went stale:
 * their next readdir then starts at offset 0, which refreshes (so a new job shows
 * within ttl and a period of the keeper). */
static void invalidate_stale_dirs(struct jfs_mount *m)
{
	fuse_ino_t *inos;
	long n = jfs_inodes_stale_dirs(m->inodes, &inos);
	for (long i = 0; i < n; i++) {
		int rc = fuse_lowlevel_notify_inval_inode(m->se, inos[i], 0, 0);
		if (rc != 0 && rc != -ENOENT)
			jfs_debug("inval_inode %lu: %s", (unsigned long)inos[i], strerror(-rc));
	}
	free(inos);
}

static void *keeper_main(void *arg)
{
	struct jfs_mount *m = arg;
	int64_t next_sweep_ms = jfs_mono_ms() + KEEPER_PERIOD_MS;

	pthread_mutex_lock(&m->keeper_lock);
	while (!m->keeper_stop) {
		struct timespec next_sweep = jfs_mono_timespec(next_sweep_ms);
		while (!m->keeper_stop && !m->keeper_kick && !m->keeper_asked &&
		       pthread_cond_timedwait(&m->keeper_cond, &m->keeper_lock, &next_sweep) !=
			       ETIMEDOUT)
			;
		if (m->keeper_stop)
			break;
		m->keeper_kick = false;
		struct jfs_keeper_request *asked = m->keeper_asked;
		m->keeper_asked = NULL;
		pthread_mutex_unlock(&m->keeper_lock);

		if (asked) /* a handler waits for these: first */
			serve_requests(m, asked);

		/* A kick hands over changes at once; the full sweep runs on the period. */
		bool sweep = jfs_mono_ms() >= next_sweep_ms;
		if (sweep)
			next_sweep_ms = jfs_mono_ms() + KEEPER_PERIOD_MS;
		for (size_t i = 0; i < m->nclusters; i++) {
			struct jfs_store *store = m->clusters[i].store;
			char **uuids;
			size_t n;
			int rc = sweep ? jfs_store_sweep(store, &uuids, &n)
				       : jfs_store_take_changes(store, &uuids, &n);
			if (rc == 0) {
				if (n) {
					invalidate_jobs(m, uuids, n);
					jfs_debug("told the kernel about %zu expired or changed "
						  "jobs", n);
				}
				jfs_store_uuids_free(uuids, n);
			}
		}
		if (sweep)
			invalidate_stale_dirs(m);
		pthread_mutex_lock(&m->keeper_lock);
	}
	pthread_mutex_unlock(&m->keeper_lock);
	return NULL;
}

void jfs_keeper_kick(void *mount)
{
	struct jfs_mount *m = mount;
	pthread_mutex_lock(&m->keeper_lock);
	m->keeper_kick = true;
	pthread_cond_signal(&m->keeper_cond);
	pthread_mutex_unlock(&m->keeper_lock);
}

int jfs_keeper_init(struct jfs_mount *m)
{
	int rc = jfs_cond_init_mono(&m->keeper_cond);
	if (rc == 0 && (rc = jfs_cond_init_mono(&m->keeper_done)) != 0)
		pthread_cond_destroy(&m->keeper_cond);
	if (rc != 0)
		return -rc;
	rc = pthread_mutex_init(&m->keeper_lock, NULL);
	if (rc != 0) {
		pthread_cond_destroy(&m->keeper_cond);
		pthread_cond_destroy(&m->keeper_done);
		return -rc;
	}
	const char *delay = getenv("JOBSFS_TEST_KEEPER_DELAY_MS");
	test_delay_ms = delay ? strtol(delay, NULL, 10) : 0;
	return 0;
}

void jfs_keeper_destroy(struct jfs_mount *m)
{
	pthread_cond_destroy(&m->keeper_done);
	pthread_cond_destroy(&m->keeper_cond);
	pthread_mutex_destroy(&m->keeper_lock);
}

int jfs_keeper_start(struct jfs_mount *m)
{
	m->keeper_stop = false;
	int rc = pthread_create(&m->keeper, NULL, keeper_main, m);
	if (rc != 0)
		return -rc;
	m->keeper_running = true;
	return 0;
}

void jfs_keeper_stop(struct jfs_mount *m)
{
	if (!m->keeper_running)
		return;
	pthread_mutex_lock(&m->keeper_lock);
	m->keeper_stop = true;
	pthread_cond_signal(&m->keeper_cond);
	pthread_mutex_unlock(&m->keeper_lock);
	pthread_join(m->keeper, NULL);
	m->keeper_running = false;
}
