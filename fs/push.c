/* Push: the files of directories a reader walks, into the kernel's page cache (see
 * push.h for why and when). */
#include "push.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobsfs/clock.h"
#include "jobsfs/job.h"
#include "jobsfs/log.h"

/* A caller reads as it walks when it sent a READ less than this ago, or has gone on
 * walking (finished a directory) since, each step less than this after the last. */
#define READER_WINDOW_MS 1000
#define READERS 16		  /* callers remembered; the one whose window ends first goes */
#define NAMES_MAX 32		  /* file names remembered per reader */
#define NAME_KEPT_MAX 48	  /* longer names are not remembered (so not pushed) */
#define PUSH_FILE_MAX (64 * 1024) /* bigger files (a huge job.json) are left to READ */

/* A caller that reads as it walks, and the names of the files it read. */
struct reader {
	pid_t pid;
	int64_t until_ms; /* monotonic; 0: a free slot */
	char names[NAMES_MAX][NAME_KEPT_MAX];
	unsigned nnames; /* names[0..nnames) are set */
	unsigned next;	 /* the slot a new name takes once all are set */
};

struct jfs_pusher {
	pthread_mutex_t lock; /* guards readers */
	struct reader readers[READERS];
};

/* The slot of pid, or NULL. */
static struct reader *reader_locked(struct jfs_pusher *p, pid_t pid)
{
	for (size_t i = 0; i < READERS; i++)
		if (p->readers[i].until_ms && p->readers[i].pid == pid)
			return &p->readers[i];
	return NULL;
}

static bool reader_knows(const struct reader *r, const char *name)
{
	for (unsigned i = 0; i < r->nnames; i++)
		if (strcmp(r->names[i], name) == 0)
			return true;
	return false;
}

void jfs_push_saw_read(struct jfs_mount *m, pid_t pid, const char *name)
{
	struct jfs_pusher *p = m->pusher;
	if (!p)
		return;
	int64_t now = jfs_mono_ms();
	pthread_mutex_lock(&p->lock);
	struct reader *r = reader_locked(p, pid);
	if (!r || r->until_ms <= now) {
		if (!r) { /* the slot that ends first (a free one ends at 0) */
			r = &p->readers[0];
			for (size_t i = 1; i < READERS; i++)
				if (p->readers[i].until_ms < r->until_ms)
					r = &p->readers[i];
		}
		r->pid = pid;
		r->nnames = r->next = 0; /* a new reader, or one that stopped reading */
	}
	r->until_ms = now + READER_WINDOW_MS;
	if (strlen(name) < NAME_KEPT_MAX && !reader_knows(r, name)) {
		unsigned i = r->nnames < NAMES_MAX ? r->nnames++ : r->next++ % NAMES_MAX;
		strcpy(r->names[i], name);
	}
	pthread_mutex_unlock(&p->lock);
}

/* Whether pid reads as it walks (its window then goes on), and which of node's first
 * n children it read files of: wanted[i]. */
static bool wanted_locked(struct jfs_pusher *p, pid_t pid, const struct jfs_node *node,
			  size_t n, bool *wanted)
{
	int64_t now = jfs_mono_ms();
	struct reader *r = reader_locked(p, pid);
	if (!r || r->until_ms <= now)
		return false;
	r->until_ms = now + READER_WINDOW_MS; /* the walk goes on */
	bool any = false;
	for (size_t i = 0; i < n; i++) {
		const struct jfs_node *child = &node->children[i];
		wanted[i] = !child->is_dir && reader_knows(r, child->name);
		any |= wanted[i];
	}
	return any;
}

void jfs_push_dir_read(struct jfs_mount *m, pid_t pid, struct jfs_inode *dir,
		       const struct jfs_node *node, size_t n)
{
	struct jfs_pusher *p = m->pusher;
	bool few[64], *wanted = few;
	size_t pushed = 0;

	if (!p)
		return;
	if (n > node->nchildren)
		n = node->nchildren;
	if (n > sizeof(few) / sizeof(few[0]) && !(wanted = malloc(n * sizeof(*wanted))))
		return; /* out of memory: the reads ask as usual */
	pthread_mutex_lock(&p->lock);
	bool any = wanted_locked(p, pid, node, n, wanted);
	pthread_mutex_unlock(&p->lock);

	for (size_t i = 0; any && i < n; i++) {
		fuse_ino_t ino;
		struct jfs_job *version;
		const struct jfs_node *file;
		if (!wanted[i])
			continue;
		/* The inode the kernel has for the name: its version is what a READ of it
		 * gives, so what to push. */
		if (jfs_inodes_named_file(m->inodes, dir, node->children[i].name, &ino, &version,
					  &file) != 0)
			continue;
		if (file && !file->is_dir && file->size > 0 && file->size <= PUSH_FILE_MAX) {
			struct fuse_bufvec buf = FUSE_BUFVEC_INIT(file->size);
			buf.buf[0].mem = file->data;
			/* -ENOENT: the kernel forgot the inode meanwhile; a read asks. */
			int rc = fuse_lowlevel_notify_store(m->se, ino, 0, &buf, 0);
			if (rc == 0)
				pushed++;
			else if (rc != -ENOENT)
				jfs_debug("push of inode %lu: %s", (unsigned long)ino,
					  strerror(-rc));
		}
		jfs_job_unref(version);
	}
	if (wanted != few)
		free(wanted);
	if (pushed)
		jfs_debug("pushed %zu files of inode %lu to the page cache", pushed,
			  (unsigned long)dir->ino);
}

int jfs_push_start(struct jfs_mount *m, bool one_worker)
{
	if (one_worker || getenv("JOBSFS_NO_PUSH"))
		return 0;
	struct jfs_pusher *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	int rc = pthread_mutex_init(&p->lock, NULL);
	if (rc != 0) {
		free(p);
		return -rc;
	}
	m->pusher = p;
	return 0;
}

void jfs_push_stop(struct jfs_mount *m)
{
	struct jfs_pusher *p = m->pusher;
	if (!p)
		return;
	m->pusher = NULL;
	pthread_mutex_destroy(&p->lock);
	free(p);
}
