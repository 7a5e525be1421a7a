/* The history on a mount: which file, checked before mounting; opened again and the
 * recorder started after fuse_daemonize (SQLite's locks are the process's own, and a
 * connection must not cross a fork); stopped after the session loop. */
#include "recording.h"
#include "mount.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "jobsfs/error.h"
#include "jobsfs/history.h"
#include "jobsfs/log.h"
#include "jobsfs/recorder.h"
#include "options.h"

static void history_config(const struct jfs_recording *rec, double ttl,
			   struct jfs_history_config *hc)
{
	memset(hc, 0, sizeof(*hc));
	hc->path = rec->path;
	hc->cluster = rec->cluster;
	hc->ttl = ttl;
	hc->make_dirs = rec->is_default;
}

int jfs_recording_plan(const struct jfs_options *o, const char *default_path,
		       struct jfs_recording *rec)
{
	memset(rec, 0, sizeof(*rec));
	if (o->history_off)
		return 0;
	if (o->record > 0 && o->record >= (double)o->expiry) {
		fprintf(stderr,
			"jobsfs: -o record=%g must be below -o expiry=%ld: jobs could finish "
			"and be deleted between two listings, unseen\n",
			o->record, o->expiry);
		return -1;
	}
	if (jfs_history_cluster_key(o->url, rec->cluster, sizeof(rec->cluster)) != 0) {
		fprintf(stderr, "jobsfs: %s: no host to name the history by\n", o->url);
		return -1;
	}
	rec->is_default = !o->history;
	if (o->history) {
		snprintf(rec->path, sizeof(rec->path), "%s", o->history);
	} else if (default_path) {
		snprintf(rec->path, sizeof(rec->path), "%s", default_path);
	} else if (jfs_history_default_path(rec->cluster, rec->path, sizeof(rec->path)) != 0) {
		jfs_warn("no history: neither $XDG_STATE_HOME nor $HOME is set (use "
			 "-o history=PATH)");
		return 0;
	}
	/* Open it now, so that a file that cannot be used stops the mount with one line
	 * (or, for the default file, turns the history off with one warning). */
	struct jfs_history_config hc;
	struct jfs_history *h;
	struct jfs_error e;
	jfs_error_clear(&e);
	history_config(rec, o->ttl, &hc);
	if (jfs_history_open(&hc, &h, &e) != 0) {
		if (!rec->is_default) {
			fprintf(stderr, "jobsfs: %s\n", e.message);
			return -1;
		}
		jfs_warn("%s; going on without a history (-o history=PATH picks another file, "
			 "-o history=off silences this)",
			 e.message);
		return 0;
	}
	jfs_history_close(h);
	rec->on = true;
	rec->every = o->record;
	rec->expiry_ms = (int64_t)o->expiry * 1000;
	rec->keep_days = (int)o->history_keep;
	return 0;
}

void jfs_recording_offer(void *cluster, struct jfs_listing *l, bool whole, struct jfs_job *job)
{
	struct jfs_cluster *c = cluster;
	struct jfs_recorder *r = __atomic_load_n(&c->recorder, __ATOMIC_ACQUIRE);
	if (r)
		jfs_recorder_offer(r, l, whole, job);
}

int jfs_recording_start(struct jfs_cluster *c)
{
	const struct jfs_recording *rec = &c->rec;
	if (!rec->on)
		return 0;
	struct jfs_history_config hc;
	struct jfs_error e;
	jfs_error_clear(&e);
	history_config(rec, c->ttl, &hc);
	if (jfs_history_open(&hc, &c->history, &e) != 0) {
		jfs_err("%s; going on without a history", e.message);
		return 0;
	}
	c->recorded = jfs_history_source(c->history);
	struct jfs_recorder_config rc = {
		.history = c->history,
		.every = rec->every,
		.expiry_ms = rec->expiry_ms,
		.keep_days = rec->keep_days,
		.name = c->mount->fleet ? rec->cluster : NULL,
	};
	struct jfs_recorder *r;
	int err = jfs_recorder_new(&rc, &r);
	if (err == 0 && (err = jfs_recorder_start(r, c->store)) != 0)
		jfs_recorder_free(r);
	if (err != 0) {
		jfs_err("cannot start the recorder (%s): the history is read-only",
			strerror(-err));
		return 0;
	}
	__atomic_store_n(&c->recorder, r, __ATOMIC_RELEASE);
	jfs_info("history %s: recording %s every %g s", rec->path, rec->cluster, rec->every);
	return 0;
}

void jfs_recording_stop(struct jfs_cluster *c)
{
	struct jfs_recorder *r = __atomic_exchange_n(&c->recorder, NULL, __ATOMIC_ACQ_REL);
	jfs_recorder_free(r); /* writes what it holds first */
}

void jfs_recording_close(struct jfs_cluster *c)
{
	jfs_history_close(c->history);
	c->history = NULL;
	c->recorded.ops = NULL;
}
