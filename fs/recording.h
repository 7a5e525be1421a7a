/* The history on a mount (recording.c): the plan made from the options before
 * mounting, and the recorder's life around the session loop. */
#ifndef JOBSFS_FS_RECORDING_H
#define JOBSFS_FS_RECORDING_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

struct jfs_cluster;
struct jfs_job;
struct jfs_listing;
struct jfs_options;

struct jfs_recording {
	bool on;		/* a usable file was found: record and serve .history */
	bool is_default;	/* the default file (its failure is a warning only) */
	char path[PATH_MAX];
	char cluster[256];	/* the cluster's key in the file */
	double every;		/* seconds between the recorder's listings; 0: none */
	int64_t expiry_ms;
	int keep_days;
};

/* Decide and check the history file (opened, created with its schema, closed): o's,
 * else default_path (a fleet's), else the cluster's default. An
 * explicit file that cannot be used, or record >= expiry: one line on stderr and
 * -1. The default file failing: one warning, rec->on false, 0. */
int jfs_recording_plan(const struct jfs_options *o, const char *default_path,
		       struct jfs_recording *rec);

/* The store's on_fetched (its arg: the cluster): to the recorder once it runs. */
void jfs_recording_offer(void *cluster, struct jfs_listing *l, bool whole, struct jfs_job *job);

/* After fuse_daemonize: open the cluster's history and start its recorder, as
 * c->rec plans (failures are logged, and the mount goes on without). Returns 0. */
int jfs_recording_start(struct jfs_cluster *c);

/* After the session loop: write what is queued and end the recorder. */
void jfs_recording_stop(struct jfs_cluster *c);

/* Close the history (after stop, when nothing reads it any more). */
void jfs_recording_close(struct jfs_cluster *c);

#endif
