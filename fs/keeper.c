/* Housekeeping: about once a second, sweep the store (free expired jobs, stale
 * listings, old negative entries) and take back from the kernel what it keeps of jobs
 * that expired or changed: their names (inval_entry) and their attributes and pages
 * (inval_inode). Runs outside every lock: the notifications write to /dev/fuse and
 * the kernel may send requests (forget) while handling them. */
#include "mount.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "inode.h"
#include "jobsfs/log.h"
#include "jobsfs/store.h"

#define KEEPER_PERIOD_MS 1000

static void invalidate_job(struct jfs_mount *m, const char *uuid)
{
	struct jfs_inode_ref *refs;
	long n = jfs_inodes_of_job(m->inodes, uuid, &refs);
	if (n < 0)
		return;
	for (long i = 0; i < n; i++) {
		/* -ENOENT: the kernel no longer holds it; nothing to take back. */
		int rc = fuse_lowlevel_notify_inval_inode(m->se, refs[i].ino, 0, 0);
		if (rc != 0 && rc != -ENOENT)
			jfs_debug("inval_inode %lu: %s", (unsigned long)refs[i].ino,
				  strerror(-rc));
		rc = fuse_lowlevel_notify_inval_entry(m->se, refs[i].parent, refs[i].name,
						      strlen(refs[i].name));
		if (rc != 0 && rc != -ENOENT)
			jfs_debug("inval_entry %s: %s", refs[i].name, strerror(-rc));
	}
	jfs_inode_refs_free(refs, (size_t)n);
}

static void *keeper_main(void *arg)
{
	struct jfs_mount *m = arg;

	pthread_mutex_lock(&m->keeper_lock);
	while (!m->keeper_stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)KEEPER_PERIOD_MS * 1000000;
		until.tv_sec += until.tv_nsec / 1000000000;
		until.tv_nsec %= 1000000000;
		pthread_cond_timedwait(&m->keeper_cond, &m->keeper_lock, &until);
		if (m->keeper_stop)
			break;
		pthread_mutex_unlock(&m->keeper_lock);

		char **uuids;
		size_t n;
		if (jfs_store_sweep(m->store, &uuids, &n) == 0) {
			for (size_t i = 0; i < n; i++)
				invalidate_job(m, uuids[i]);
			if (n)
				jfs_debug("told the kernel about %zu expired or changed jobs", n);
			jfs_store_uuids_free(uuids, n);
		}
		pthread_mutex_lock(&m->keeper_lock);
	}
	pthread_mutex_unlock(&m->keeper_lock);
	return NULL;
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
