/* The stop signals' handler (see stop.h). */
#include "stop.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "jobsfs/client.h"

static const int stop_signals[] = { SIGHUP, SIGINT, SIGTERM };
#define NSTOP (sizeof(stop_signals) / sizeof(stop_signals[0]))

/* Written by chain before the handlers go in and by unchain after they are out; read
 * by the handler (atomic: a signal on another thread may come while unchain runs). */
static struct jfs_client *_Atomic stop_client;
static struct sigaction fuse_actions[NSTOP]; /* libfuse's, by stop_signals' index */
static bool chained[NSTOP];

static void on_stop_signal(int sig, siginfo_t *info, void *ctx)
{
	struct jfs_client *c = stop_client; /* NULL once unchained (a late signal) */
	if (c)
		jfs_client_stop(c); /* one atomic store */
	for (size_t i = 0; i < NSTOP; i++) {
		if (stop_signals[i] != sig)
			continue;
		const struct sigaction *fuse = &fuse_actions[i];
		if (fuse->sa_flags & SA_SIGINFO)
			fuse->sa_sigaction(sig, info, ctx);
		else if (fuse->sa_handler != SIG_DFL && fuse->sa_handler != SIG_IGN)
			fuse->sa_handler(sig);
	}
}

/* Undo what chain did so far and say why it stopped. */
static int chain_failed(int err)
{
	jfs_stop_signals_unchain();
	return -err;
}

int jfs_stop_signals_chain(struct jfs_client *c)
{
	struct sigaction sa = { .sa_sigaction = on_stop_signal, .sa_flags = SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	stop_client = c;
	for (size_t i = 0; i < NSTOP; i++) {
		struct sigaction *fuse = &fuse_actions[i];
		if (sigaction(stop_signals[i], NULL, fuse) != 0)
			return chain_failed(errno);
		if (!(fuse->sa_flags & SA_SIGINFO) &&
		    (fuse->sa_handler == SIG_DFL || fuse->sa_handler == SIG_IGN))
			continue; /* not a signal libfuse stops on: left as it is */
		if (sigaction(stop_signals[i], &sa, NULL) != 0)
			return chain_failed(errno);
		chained[i] = true;
	}
	return 0;
}

void jfs_stop_signals_unchain(void)
{
	for (size_t i = 0; i < NSTOP; i++) {
		if (chained[i])
			sigaction(stop_signals[i], &fuse_actions[i], NULL);
		chained[i] = false;
	}
	stop_client = NULL;
}
