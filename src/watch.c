/* Watching jobs until they end (see include/jobsfs/watch.h). */
#include "jobsfs/watch.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobsfs/clock.h"
#include "jobsfs/error.h"
#include "jobsfs/job.h"
#include "jobsfs/log.h"
#include "jobsfs/store.h"

struct jfs_watch {
	struct jfs_watch_config cfg; /* immutable */
	int64_t interval_ms;
	pthread_t thread;

	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t cond;  /* signalled when kicked or stopped; on CLOCK_MONOTONIC */
	bool stop;
	bool pending;	      /* something is waited on: poll when the interval allows */
	int64_t last_poll_ms; /* monotonic; 0 before the first */
	bool failing;	      /* the last poll failed (its error was logged) */
	struct jfs_watch_counters ctr;
};

/* One poll: the uuids waited on now, their jobs as the cluster has them. Returns
 * whether anything is still waited on (a failed poll: everything is). */
static bool poll_once(struct jfs_watch *w)
{
	char **uuids = NULL;
	size_t n = 0;
	if (w->cfg.collect(w->cfg.arg, &uuids, &n) != 0)
		return true;
	/* Only valid uuids are ever put in a query; the others are simply not polled. */
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (jfs_uuid_is_valid(uuids[i]))
			uuids[k++] = uuids[i];
		else
			free(uuids[i]);
	}
	n = k;
	if (n == 0) {
		free(uuids);
		return false;
	}
	struct jfs_job **jobs = calloc(n, sizeof(*jobs));
	struct jfs_error e;
	jfs_error_clear(&e);
	int rc = jobs ? jfs_store_refresh(w->cfg.store, uuids, n, jobs, &e)
		      : jfs_error_set(&e, ENOMEM, "out of memory polling jobs");

	pthread_mutex_lock(&w->lock);
	w->ctr.polls++;
	bool was_failing = w->failing;
	w->failing = rc != 0;
	if (rc != 0)
		w->ctr.failures++;
	pthread_mutex_unlock(&w->lock);

	bool waiting = rc != 0;
	if (rc != 0 && rc != -ECANCELED) {
		if (!was_failing)
			jfs_error_log(&e, "waiting on jobs: polling them failed (waiters keep "
					  "waiting; tried again each ttl)");
		else
			jfs_debug("waiting on jobs: polling failed again: %s", e.message);
	} else if (rc == 0 && was_failing) {
		jfs_info("waiting on jobs: polling works again");
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!jobs[i] || jfs_job_ended(jobs[i]))
			w->cfg.on_end(w->cfg.arg, uuids[i], jobs[i]);
		else
			waiting = true;
		jfs_job_unref(jobs[i]);
	}
	free(jobs);
	jfs_store_uuids_free(uuids, n);
	return waiting;
}

static void *watch_main(void *arg)
{
	struct jfs_watch *w = arg;
	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		if (!w->pending) {
			pthread_cond_wait(&w->cond, &w->lock);
			continue;
		}
		int64_t due = w->last_poll_ms ? w->last_poll_ms + w->interval_ms : 0;
		if (jfs_mono_ms() < due) {
			struct timespec ts = jfs_mono_timespec(due);
			pthread_cond_timedwait(&w->cond, &w->lock, &ts);
			continue;
		}
		w->pending = false;
		w->last_poll_ms = jfs_mono_ms();
		pthread_mutex_unlock(&w->lock);
		bool waiting = poll_once(w);
		pthread_mutex_lock(&w->lock);
		if (waiting)
			w->pending = true;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int jfs_watch_start(const struct jfs_watch_config *cfg, struct jfs_watch **out)
{
	*out = NULL;
	if (!cfg->store || !cfg->collect || !cfg->on_end || !(cfg->interval > 0))
		return -EINVAL;
	struct jfs_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->cfg = *cfg;
	w->interval_ms = (int64_t)(cfg->interval * 1000.0);
	if (w->interval_ms < 1)
		w->interval_ms = 1;
	int rc = jfs_cond_init_mono(&w->cond);
	if (rc != 0) {
		free(w);
		return -rc;
	}
	pthread_mutex_init(&w->lock, NULL);
	rc = pthread_create(&w->thread, NULL, watch_main, w);
	if (rc != 0) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		free(w);
		return -rc;
	}
	*out = w;
	return 0;
}

void jfs_watch_kick(struct jfs_watch *w)
{
	pthread_mutex_lock(&w->lock);
	w->pending = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void jfs_watch_stop(struct jfs_watch *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

void jfs_watch_counters_get(struct jfs_watch *w, struct jfs_watch_counters *out)
{
	pthread_mutex_lock(&w->lock);
	*out = w->ctr;
	pthread_mutex_unlock(&w->lock);
}
