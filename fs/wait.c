/* MOUNT/<uuid>/wait: a read that ends when the job does, with its final state.
 *
 * A read of a job still queued, running or paused is not answered by the worker that
 * got it: it becomes a waiter here and the worker goes back to the loop, so a thousand
 * waiters hold no thread. The watch (src/watch.c) polls every waited job in one
 * request per batch, once per ttl, and answers each waiter from its thread when the
 * job ends. An INTERRUPT from the kernel (Ctrl-C, timeout(1), kill) answers the waiter
 * EINTR at once.
 *
 * Who answers a waiter is settled under the table's lock: the first to take it off the
 * list (the watch, an interrupt, the handler itself) replies, and nobody else touches
 * its request. A waiter is "armed" once the handler has registered its interrupt
 * function: before that, libfuse may call the function from inside
 * fuse_req_interrupt_func (an interrupt that came first), where replying would free
 * the request under libfuse's feet; so the function only marks it, and the handler
 * replies once registration is over. From find_interrupted (the usual case) libfuse
 * holds a reference on the request while the function runs, and it may reply. */
#include "ops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "inode.h"
#include "jobsfs/error.h"
#include "jobsfs/job.h"
#include "jobsfs/log.h"
#include "jobsfs/store.h"
#include "jobsfs/watch.h"

/* The answer: the job's state as its state file shows it ("success\n"), or an errno. */
struct answer {
	int err; /* positive errno; 0: text */
	char text[32];
	size_t len;
};

struct waiter {
	struct waiter *prev, *next; /* the table's list */
	fuse_req_t req;
	char uuid[40];		    /* a valid uuid: 36 characters */
	size_t size;
	off_t off;
	bool armed;		    /* the handler is done: whoever unlinks it replies */
	bool interrupted;	    /* an INTERRUPT came before it was armed */
	bool ended;		    /* the job ended before it was armed: answer holds it */
	struct answer answer;
};

struct jfs_waits {
	struct jfs_cluster *c;
	/* watch_lock guards watch: started by the first wait (watch_of), so that a fleet
	 * of a hundred clusters holds no idle thread for each. */
	pthread_mutex_t watch_lock;
	struct jfs_watch *watch;
	pthread_mutex_t lock; /* guards the list, count, and every waiter's fields */
	struct waiter head;   /* sentinel of the list of waiters */
	size_t count;
};

static void unlink_locked(struct jfs_waits *ws, struct waiter *w)
{
	w->prev->next = w->next;
	w->next->prev = w->prev;
	ws->count--;
}

static void reply_answer(fuse_req_t req, const struct answer *a, size_t size, off_t off)
{
	if (a->err)
		fuse_reply_err(req, a->err);
	else if (off < 0 || (size_t)off >= a->len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, a->text + off,
			       a->len - (size_t)off < size ? a->len - (size_t)off : size);
}

/* The answer for a job that is over (or, from the history, as it was last seen). */
static void answer_of(const struct jfs_job *job, struct answer *a)
{
	const struct jfs_node *state = jfs_node_child(&job->root, "state");
	memset(a, 0, sizeof(*a));
	ssize_t n = state ? jfs_file_read(state, 0, a->text, sizeof(a->text) - 1) : 0;
	if (n > 0) { /* the state's file, cut to the answer's room with its newline */
		a->len = (size_t)n;
		a->text[a->len - 1] = '\n';
	} else {
		a->len = (size_t)snprintf(a->text, sizeof(a->text), "%s\n",
					  jfs_job_state_name(job->state));
	}
}

/* A job that left the cluster (expired, or deleted) while waited on: its last state
 * in the history when there is one, else ENOENT. */
static void answer_gone(struct jfs_cluster *c, const char *uuid, struct answer *a)
{
	memset(a, 0, sizeof(*a));
	a->err = ENOENT;
	if (!c->recorded.ops)
		return;
	struct jfs_job *job = NULL;
	struct jfs_error e;
	jfs_error_clear(&e);
	int rc = jfs_source_job(&c->recorded, uuid, &job, &e);
	if (rc == 0) {
		answer_of(job, a);
		jfs_info("%s/wait: the job left the cluster; its last recorded state: %.*s", uuid,
			 (int)a->len - 1, a->text);
		jfs_job_unref(job);
	} else if (rc != -ENOENT) {
		jfs_error_log(&e, "wait: the job left the cluster, and the history");
		a->err = -rc;
	}
}

/* ---- the watch's side ------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The uuids waited on, each once. */
static int collect(void *arg, char ***out, size_t *n)
{
	struct jfs_waits *ws = arg;
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&ws->lock);
	char **uuids = malloc((ws->count ? ws->count : 1) * sizeof(*uuids));
	size_t k = 0;
	for (struct waiter *w = ws->head.next; uuids && w != &ws->head; w = w->next) {
		if (!(uuids[k] = strdup(w->uuid)))
			break;
		k++;
	}
	bool short_of_memory = !uuids || k < ws->count;
	pthread_mutex_unlock(&ws->lock);
	if (short_of_memory) {
		jfs_store_uuids_free(uuids, k);
		return -ENOMEM;
	}
	qsort(uuids, k, sizeof(*uuids), cmp_str);
	size_t u = 0;
	for (size_t i = 0; i < k; i++) {
		if (u && strcmp(uuids[u - 1], uuids[i]) == 0)
			free(uuids[i]);
		else
			uuids[u++] = uuids[i];
	}
	*out = uuids;
	*n = u;
	return 0;
}

/* uuid ended (job) or left the cluster (NULL): answer every waiter on it. */
static void on_end(void *arg, const char *uuid, struct jfs_job *job)
{
	struct jfs_waits *ws = arg;
	struct answer a;
	struct waiter done; /* sentinel of the waiters taken */

	if (job)
		answer_of(job, &a);
	else
		answer_gone(ws->c, uuid, &a);
	done.next = done.prev = &done;
	pthread_mutex_lock(&ws->lock);
	for (struct waiter *w = ws->head.next, *next; w != &ws->head; w = next) {
		next = w->next;
		if (strcmp(w->uuid, uuid) != 0)
			continue;
		if (!w->armed) { /* its handler answers it, in a moment */
			w->ended = true;
			w->answer = a;
			continue;
		}
		unlink_locked(ws, w);
		w->next = done.next;
		w->prev = &done;
		done.next->prev = w;
		done.next = w;
	}
	pthread_mutex_unlock(&ws->lock);
	for (struct waiter *w = done.next, *next; w != &done; w = next) {
		next = w->next;
		reply_answer(w->req, &a, w->size, w->off);
		free(w);
	}
}

/* libfuse's interrupt function (see the top of the file for when it may reply). */
static void on_interrupt(fuse_req_t req, void *arg)
{
	struct jfs_waits *ws = arg;
	struct waiter *w;

	pthread_mutex_lock(&ws->lock);
	for (w = ws->head.next; w != &ws->head && w->req != req; w = w->next)
		;
	if (w == &ws->head) { /* answered already */
		pthread_mutex_unlock(&ws->lock);
		return;
	}
	if (!w->armed) {
		w->interrupted = true;
		pthread_mutex_unlock(&ws->lock);
		return;
	}
	unlink_locked(ws, w);
	pthread_mutex_unlock(&ws->lock);
	jfs_debug("%s/wait: interrupted", w->uuid);
	fuse_reply_err(req, EINTR);
	free(w);
}

/* ---- the handler's side ---------------------------------------------------------- */

/* The cluster's watch, started now if it is not yet; NULL (with a log line) when no
 * thread can be made. */
static struct jfs_watch *watch_of(struct jfs_waits *ws)
{
	pthread_mutex_lock(&ws->watch_lock);
	if (!ws->watch) {
		struct jfs_cluster *c = ws->c;
		struct jfs_watch_config wc = {
			.store = c->store,
			.interval = c->ttl > 0.1 ? c->ttl : 0.1, /* ttl=0 must not spin */
			.collect = collect,
			.on_end = on_end,
			.arg = ws,
		};
		int rc = jfs_watch_start(&wc, &ws->watch);
		if (rc != 0) {
			ws->watch = NULL;
			jfs_err("cannot start the thread behind wait files: %s", strerror(-rc));
		}
	}
	struct jfs_watch *watch = ws->watch;
	pthread_mutex_unlock(&ws->watch_lock);
	return watch;
}

/* Wait for uuid to end, answering req then. */
static void wait_for(struct jfs_waits *ws, fuse_req_t req, const char *uuid, size_t size,
		     off_t off)
{
	struct jfs_watch *watch = watch_of(ws);
	struct waiter *w = watch ? calloc(1, sizeof(*w)) : NULL;
	if (!w) {
		fuse_reply_err(req, watch ? ENOMEM : EAGAIN);
		return;
	}
	w->req = req;
	snprintf(w->uuid, sizeof(w->uuid), "%s", uuid);
	w->size = size;
	w->off = off;
	pthread_mutex_lock(&ws->lock);
	w->next = &ws->head;
	w->prev = ws->head.prev;
	ws->head.prev->next = w;
	ws->head.prev = w;
	ws->count++;
	pthread_mutex_unlock(&ws->lock);

	fuse_req_interrupt_func(req, on_interrupt, ws);

	pthread_mutex_lock(&ws->lock);
	w->armed = true;
	bool now = w->interrupted || w->ended;
	if (now)
		unlink_locked(ws, w);
	pthread_mutex_unlock(&ws->lock);
	if (!now) {
		jfs_watch_kick(watch);
		return;
	}
	if (w->interrupted)
		fuse_reply_err(req, EINTR);
	else
		reply_answer(req, &w->answer, size, off);
	free(w);
}

void jfs_wait_read(fuse_req_t req, struct jfs_mount *m, const struct jfs_inode *in,
		   size_t size, off_t off)
{
	const struct jfs_source *src = jfs_source_of(m, in);
	struct jfs_job *job = NULL;
	struct jfs_error e;
	struct answer a;

	jfs_error_clear(&e);
	int rc = jfs_source_job(src, in->uuid, &job, &e);
	if (rc == -ENOENT && !in->history) {
		answer_gone(in->cluster, in->uuid, &a);
		reply_answer(req, &a, size, off);
		return;
	}
	if (rc != 0) {
		jfs_place_log_failure(in, NULL, rc, &e);
		fuse_reply_err(req, -rc);
		return;
	}
	/* The history is a record: it answers at once, with what it holds. */
	bool over = in->history || jfs_job_ended(job);
	if (over)
		answer_of(job, &a);
	jfs_job_unref(job);
	if (over) {
		reply_answer(req, &a, size, off);
	} else if (!in->cluster->waits || !jfs_uuid_is_valid(in->uuid)) {
		/* (a job whose uuid is not one cannot be asked for: never polled) */
		fuse_reply_err(req, in->cluster->waits ? EINVAL : ENOSYS);
	} else {
		wait_for(in->cluster->waits, req, in->uuid, size, off);
	}
}

void jfs_wait_attr(struct jfs_mount *m, const struct jfs_inode *in, struct stat *st)
{
	jfs_file_attr_fill(m, in->ino, 0444, JFS_WAIT_SIZE, m->mounted_ms, st);
}

int jfs_waits_start(struct jfs_cluster *c)
{
	struct jfs_waits *ws = calloc(1, sizeof(*ws));
	if (!ws)
		return -ENOMEM;
	ws->c = c;
	ws->head.next = ws->head.prev = &ws->head;
	int rc = -pthread_mutex_init(&ws->lock, NULL);
	if (rc == 0 && (rc = -pthread_mutex_init(&ws->watch_lock, NULL)) != 0)
		pthread_mutex_destroy(&ws->lock);
	if (rc != 0) {
		free(ws);
		return rc;
	}
	c->waits = ws;
	return 0;
}

void jfs_waits_stop(struct jfs_cluster *c)
{
	struct jfs_waits *ws = c->waits;
	if (!ws)
		return;
	pthread_mutex_lock(&ws->watch_lock);
	jfs_watch_stop(ws->watch); /* NULL: never started */
	ws->watch = NULL;
	pthread_mutex_unlock(&ws->watch_lock);
	/* Whoever still waits learns that the mount is going. The list is taken whole
	 * first: an interrupt arriving meanwhile finds nothing to answer. */
	pthread_mutex_lock(&ws->lock);
	struct waiter *w = ws->head.next;
	ws->head.prev->next = NULL;
	ws->head.next = ws->head.prev = &ws->head;
	ws->count = 0;
	pthread_mutex_unlock(&ws->lock);
	for (struct waiter *next; w && w != &ws->head; w = next) {
		next = w->next;
		fuse_reply_err(w->req, ENOTCONN);
		free(w);
	}
	c->waits = NULL;
	pthread_mutex_destroy(&ws->lock);
	pthread_mutex_destroy(&ws->watch_lock);
	free(ws);
}
