/* A mount: one cluster (`jobsfs URL MOUNT`) or a fleet of them (`jobsfs CONFIG MOUNT`,
 * each under MOUNT/<name>/), and what the FUSE operations work on. */
#ifndef JOBSFS_FS_MOUNT_H
#define JOBSFS_FS_MOUNT_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "jobsfs/source.h"
#include "jobsfs/store.h"
#include "recording.h"

struct jfs_client;
struct jfs_history;
struct jfs_recorder;
struct jfs_store;
struct jfs_inodes;
struct jfs_pusher;
struct jfs_snapshots;
struct jfs_waits;
struct jfs_keeper_request;

/* An open file or directory; linked in the mount so that handles the kernel never
 * released (it may drop RELEASE at unmount) are freed at exit. */
struct jfs_open_handle {
	struct jfs_open_handle *prev, *next;
	void (*free)(struct jfs_open_handle *h);
};

/* One cluster of a mount: where its jobs come from, and its own options. Set up before
 * the session starts, then read-only, but for recorder (set and cleared atomically)
 * and waits (set before the session loop starts, cleared after it ends); each part
 * has its own lock. */
struct jfs_cluster {
	struct jfs_mount *mount;
	char *name;		       /* its directory in a fleet's MOUNT; NULL alone */
	struct jfs_client *client;
	struct jfs_store *store;
	struct jfs_history *history;   /* NULL when history is off */
	struct jfs_recorder *recorder; /* NULL when history or recording is off */
	struct jfs_recording rec;      /* the history's plan (recording.h) */
	struct jfs_source live;	       /* the store: its tree */
	struct jfs_source recorded;    /* the history: its .history/ (ops NULL when off) */
	struct jfs_waits *waits;       /* reads of wait files waiting (wait.c) */
	double ttl;		       /* seconds */
	bool control;		       /* -o control: ctl files act on its jobs */
};

/* Where the jobs of a cluster's tree come from: its history under .history, else the
 * live cluster. */
static inline const struct jfs_source *jfs_cluster_source(const struct jfs_cluster *c,
							  bool history)
{
	return history ? &c->recorded : &c->live;
}

struct jfs_mount {
	/* Set up before the session starts, then read-only. */
	struct jfs_cluster *clusters;	/* in the order of the config */
	size_t nclusters;
	bool fleet;			/* MOUNT lists the clusters (a config was given) */
	bool control;			/* some cluster takes writes to ctl: not ro */
	char *fleet_history;		/* a fleet's default history file (one for all) */
	struct jfs_store_budget budget;	/* a fleet's one cap on jobs held (cache_mem) */
	struct jfs_inodes *inodes; /* has its own lock */
	struct fuse_session *se;
	uid_t uid;		   /* owner of every file: the mounting user */
	gid_t gid;
	int64_t mounted_ms;	   /* wall clock at start: the mtime of a directory never
				    * listed yet */

	pthread_mutex_t open_lock;	/* guards the open list */
	struct jfs_open_handle open;	/* sentinel of the open handles' list */

	/* The housekeeping thread (keeper.c). */
	pthread_t keeper;
	bool keeper_running;	   /* only touched by the thread that starts/stops it */
	pthread_mutex_t keeper_lock; /* guards keeper_stop, keeper_kick, keeper_asked
				      * and the requests on it */
	pthread_cond_t keeper_cond;  /* signalled when either turns true, or a request
				      * comes; on CLOCK_MONOTONIC (jfs_keeper_init) */
	pthread_cond_t keeper_done;  /* broadcast when requests are done; likewise */
	bool keeper_stop;
	bool keeper_kick;	     /* the store has changes to hand over now */
	struct jfs_keeper_request *keeper_asked; /* handlers' requests (keeper.c) */

	/* Pushing files to the page cache (push.c): set before the session loop
	 * starts, cleared after it ends; NULL when pushing is off. Has its own lock. */
	struct jfs_pusher *pusher;

	/* A fleet's prefetch of globbed views (prefetch.h): set before the session loop
	 * starts, freed after it ends; NULL when off. Has its own lock. */
	struct jfs_prefetcher *prefetcher;

	/* What directory reads in several calls walk (snapshot.h); has its own lock. */
	struct jfs_snapshots *snapshots;

	/* Reads of wait files waiting for their jobs to end (wait.c): set before the
	 * session loop starts, ended after; has its own lock. */
	struct jfs_waits *waits;

	/* Set by init (before any other request), then read-only: the kernel opens
	 * files and directories itself, without asking (FUSE_CAP_NO_OPEN_SUPPORT,
	 * FUSE_CAP_NO_OPENDIR_SUPPORT), so handles are 0 and each read resolves. */
	bool no_open;
	bool no_opendir;
	bool kernel_open_off;	     /* $JOBSFS_NO_KERNEL_OPEN set: for measurements */
};

/* The low-level operations; fuse_req_userdata is the struct jfs_mount. */
const struct fuse_lowlevel_ops *jfs_fs_ops(void);

/* The request's mount. */
static inline struct jfs_mount *jfs_mount_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* Ready the open list (and its lock); link and unlink a handle; free what is left
 * on it (file.c). */
int jfs_open_init(struct jfs_mount *m);
void jfs_open_add(struct jfs_mount *m, struct jfs_open_handle *h);
void jfs_open_del(struct jfs_mount *m, struct jfs_open_handle *h);
void jfs_open_free_all(struct jfs_mount *m);

/* Initialise and destroy keeper_lock and keeper_cond (which waits on the monotonic
 * clock). Returns 0 or negative errno. */
int jfs_keeper_init(struct jfs_mount *m);
void jfs_keeper_destroy(struct jfs_mount *m);

/* Start/stop the thread that, about once a second, frees what expired in the store
 * and tells the kernel to drop what it holds of jobs that expired or changed. */
int jfs_keeper_start(struct jfs_mount *m);
void jfs_keeper_stop(struct jfs_mount *m);

/* Have the keeper take back, now, what the kernel holds of the job with this uuid (its
 * names in every view, its directories' attributes, the listings showing it), and wait
 * until it has (at most JFS_KEEPER_ASK_MS): for a request handler that just changed
 * the job (ctl.c). The keeper's thread does it, not the handler's: a notification may
 * wait for a directory's lock that a reader holds while its own request waits for a
 * worker, and with one worker (-s) that would be this one. */
#define JFS_KEEPER_ASK_MS 2000
void jfs_keeper_invalidate_job(struct jfs_mount *m, const char *uuid);

/* The store's on_change: wake the keeper to invalidate what changed at once. Takes
 * only keeper_lock, so it may be called with the store's lock held. */
void jfs_keeper_kick(void *mount);

#endif
