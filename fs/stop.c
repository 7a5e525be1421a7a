/* The stop signals' handler and the stopper thread (see stop.h). */
#include "stop.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "jobsfs/client.h"
#include "jobsfs/log.h"
#include "push.h"

static const int stop_signals[] = { SIGHUP, SIGINT, SIGTERM };
#define NSTOP (sizeof(stop_signals) / sizeof(stop_signals[0]))

/* Written by start before the handlers go in and by end after they are out, or by
 * the stopper; read by the handler (atomic: a signal on another thread may come
 * meanwhile). */
static struct jfs_mount *_Atomic stop_clients; /* whose clients a signal stops */
static struct sigaction fuse_actions[NSTOP]; /* libfuse's, by stop_signals' index */
static bool chained[NSTOP];		     /* only touched with the handlers chained
					      * by start, and unchained once: by the
					      * stopper or, after joining it, by end */

/* The stopper: woken by the handler (sem_post is async-signal-safe) or by end. */
static sem_t wake;
static atomic_int signalled;	  /* the stop signal received; 0: none yet */
static atomic_bool ending;	  /* set by end: the loop is over, do nothing */
static bool stopper_running;	  /* only touched by the loop's thread */
static pthread_t stopper, loop_thread;
static struct jfs_mount *stop_mount; /* set by start, before the stopper starts */

static void unchain(void)
{
	for (size_t i = 0; i < NSTOP; i++) {
		if (chained[i])
			sigaction(stop_signals[i], &fuse_actions[i], NULL);
		chained[i] = false;
	}
	stop_clients = NULL;
}

static void on_stop_signal(int sig, siginfo_t *info, void *ctx)
{
	struct jfs_mount *m = stop_clients; /* NULL once unchained (a late signal) */
	for (size_t i = 0; m && i < m->nclusters; i++)
		jfs_client_stop(m->clusters[i].client); /* one atomic store each */
	if (stopper_running) { /* the stopper ends the loop, once its threads are done */
		int none = 0;
		if (atomic_compare_exchange_strong(&signalled, &none, sig))
			sem_post(&wake);
		return;
	}
	for (size_t i = 0; i < NSTOP; i++) { /* no stopper: libfuse's handler at once */
		if (stop_signals[i] != sig)
			continue;
		const struct sigaction *fuse = &fuse_actions[i];
		if (fuse->sa_flags & SA_SIGINFO)
			fuse->sa_sigaction(sig, info, ctx);
		else if (fuse->sa_handler != SIG_DFL && fuse->sa_handler != SIG_IGN)
			fuse->sa_handler(sig);
	}
}

static void *stopper_main(void *arg)
{
	(void)arg;
	while (sem_wait(&wake) != 0 && errno == EINTR)
		;
	if (atomic_load(&ending))
		return NULL;
	/* The workers still answer: whatever these threads wait on in the kernel ends. */
	jfs_push_stop(stop_mount);
	jfs_keeper_stop(stop_mount);
	jfs_debug("stopper: pusher and keeper ended; ending the session loop");
	/* libfuse's handler, on the loop's thread: it ends the loop and interrupts the
	 * wait (sem_wait, or read on /dev/fuse) the loop's thread is in. */
	int sig = atomic_load(&signalled);
	unchain();
	if (!atomic_load(&ending))
		pthread_kill(loop_thread, sig);
	return NULL;
}

int jfs_stop_start(struct jfs_mount *m)
{
	struct sigaction sa = { .sa_sigaction = on_stop_signal, .sa_flags = SA_SIGINFO };
	int err;

	sigemptyset(&sa.sa_mask);
	stop_mount = m;
	loop_thread = pthread_self();
	atomic_store(&signalled, 0);
	atomic_store(&ending, false);
	if (sem_init(&wake, 0, 0) != 0)
		return -errno;
	/* The stopper takes no stop signal itself: they reach the loop's threads. */
	sigset_t block, old;
	sigemptyset(&block);
	for (size_t i = 0; i < NSTOP; i++)
		sigaddset(&block, stop_signals[i]);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	err = pthread_create(&stopper, NULL, stopper_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err != 0) {
		sem_destroy(&wake);
		return -err;
	}
	stopper_running = true;
	stop_clients = m;
	for (size_t i = 0; i < NSTOP; i++) {
		struct sigaction *fuse = &fuse_actions[i];
		if (sigaction(stop_signals[i], NULL, fuse) != 0) {
			err = errno;
			jfs_stop_end();
			return -err;
		}
		if (!(fuse->sa_flags & SA_SIGINFO) &&
		    (fuse->sa_handler == SIG_DFL || fuse->sa_handler == SIG_IGN))
			continue; /* not a signal libfuse stops on: left as it is */
		if (sigaction(stop_signals[i], &sa, NULL) != 0) {
			err = errno;
			jfs_stop_end();
			return -err;
		}
		chained[i] = true;
	}
	return 0;
}

void jfs_stop_end(void)
{
	if (stopper_running) {
		/* Woken by a signal already, the stopper finishes its work (the loop has
		 * ended, so the connection is gone and nothing it does waits); else it
		 * wakes here and does nothing. */
		atomic_store(&ending, true);
		sem_post(&wake);
		pthread_join(stopper, NULL);
		stopper_running = false;
		sem_destroy(&wake);
	}
	unchain();
}
