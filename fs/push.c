/* Push: the files of directories a reader walks, into the kernel's page cache (see
 * push.h for why and when). */
#include "push.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

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
#define QUEUE_MAX 2048		  /* files waiting to be pushed; more are left to READ */

/* A caller that reads as it walks, and the names of the files it read. */
struct reader {
	pid_t pid;
	int64_t until_ms; /* monotonic; 0: a free slot */
	char names[NAMES_MAX][NAME_KEPT_MAX];
	unsigned nnames; /* names[0..nnames) are set */
	unsigned next;	 /* the slot a new name takes once all are set */
};

/* A file waiting to be pushed: one version of it (a reference), so what a READ of
 * inode ino gives, for ever. */
struct push_item {
	fuse_ino_t dir; /* the directory it is in (for the debug log) */
	fuse_ino_t ino;
	struct jfs_job *version;
	const struct jfs_node *file; /* in version */
};

struct jfs_pusher {
	struct fuse_session *se;
	pthread_t thread;
	pthread_mutex_t lock; /* guards readers, queue, head, len, stopping, dropped */
	pthread_cond_t cond;  /* signalled when the queue gets an item or stopping is set */
	struct reader readers[READERS];
	struct push_item queue[QUEUE_MAX]; /* a ring: len items from head */
	size_t head, len;
	bool stopping;	   /* set by jfs_push_stop: the thread ends, nothing is queued */
	uint64_t dropped;  /* files not queued because the queue was full */
	char content[PUSH_FILE_MAX]; /* the pusher thread's own: the bytes of the file it
				      * stores (jfs_file_read makes them) */
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
		const struct jfs_node *child = &jfs_node_children(node)[i];
		wanted[i] = !child->is_dir && reader_knows(r, jfs_node_name(child));
		any |= wanted[i];
	}
	return any;
}

/* Queue a push of the file (parent, name) as the kernel now knows it; false when the
 * queue is full or stopping (the file is then left to READ). */
static bool queue_push_locked(struct jfs_pusher *p, struct jfs_mount *m, struct jfs_inode *dir,
			      const char *name)
{
	struct push_item it;

	if (p->stopping)
		return false;
	if (p->len == QUEUE_MAX) {
		p->dropped++;
		return false;
	}
	/* The inode the kernel has for the name: its version is what a READ of it gives,
	 * so what to push. (The table has its own lock, never held around ours.) */
	if (jfs_inodes_named_file(m->inodes, dir, name, &it.ino, &it.version, &it.file) != 0)
		return true;
	if (!it.file || it.file->is_dir || it.file->size == 0 || it.file->size > PUSH_FILE_MAX) {
		jfs_job_unref(it.version);
		return true;
	}
	it.dir = dir->ino;
	p->queue[(p->head + p->len++) % QUEUE_MAX] = it;
	return true;
}

void jfs_push_dir_read(struct jfs_mount *m, pid_t pid, struct jfs_inode *dir,
		       const struct jfs_node *node, size_t n)
{
	struct jfs_pusher *p = m->pusher;
	bool few[64], *wanted = few;
	size_t queued = 0;

	if (!p)
		return;
	if (n > node->nchildren)
		n = node->nchildren;
	if (n > sizeof(few) / sizeof(few[0]) && !(wanted = malloc(n * sizeof(*wanted))))
		return; /* out of memory: the reads ask as usual */
	pthread_mutex_lock(&p->lock);
	bool any = wanted_locked(p, pid, node, n, wanted);
	for (size_t i = 0; any && i < n; i++) {
		if (!wanted[i])
			continue;
		if (!queue_push_locked(p, m, dir, jfs_node_name(&jfs_node_children(node)[i])))
			break;
		queued++;
	}
	if (queued)
		pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	if (wanted != few)
		free(wanted);
}

/* The debug line for a directory's files, once they are all stored. */
static void log_pushed(fuse_ino_t dir, size_t n)
{
	if (n)
		jfs_debug("pushed %zu files of inode %lu to the page cache", n,
			  (unsigned long)dir);
}

/* The pusher thread: stores queued files, one at a time. A store may wait for a page
 * that a READ in flight holds locked, until a worker answers that READ; no worker ever
 * waits for this thread, so that wait always ends. */
static void *pusher_main(void *arg)
{
	struct jfs_pusher *p = arg;
	fuse_ino_t dir = 0; /* the directory of the files stored last, n_dir of them */
	size_t n_dir = 0;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stopping && p->len == 0) {
			log_pushed(dir, n_dir);
			n_dir = 0;
			pthread_cond_wait(&p->cond, &p->lock);
		}
		if (p->stopping)
			break;
		struct push_item it = p->queue[p->head];
		p->head = (p->head + 1) % QUEUE_MAX;
		p->len--;
		pthread_mutex_unlock(&p->lock);

		if (it.dir != dir) {
			log_pushed(dir, n_dir);
			dir = it.dir;
			n_dir = 0;
		}
		ssize_t len = jfs_file_read(it.file, 0, p->content, sizeof(p->content));
		struct fuse_bufvec buf = FUSE_BUFVEC_INIT(len > 0 ? (size_t)len : 0);
		buf.buf[0].mem = p->content;
		/* -ENOENT: the kernel forgot the inode meanwhile; a read asks. */
		int rc = len < 0 ? (int)len : fuse_lowlevel_notify_store(p->se, it.ino, 0, &buf, 0);
		if (rc == 0)
			n_dir++;
		else if (rc != -ENOENT)
			jfs_debug("push of inode %lu: %s", (unsigned long)it.ino, strerror(-rc));
		jfs_job_unref(it.version);
		pthread_mutex_lock(&p->lock);
	}
	uint64_t dropped = p->dropped;
	pthread_mutex_unlock(&p->lock);
	log_pushed(dir, n_dir);
	if (dropped)
		jfs_debug("pusher: %llu files left to READ (the queue was full)",
			  (unsigned long long)dropped);
	return NULL;
}

int jfs_push_start(struct jfs_mount *m)
{
	if (getenv("JOBSFS_NO_PUSH"))
		return 0;
	struct jfs_pusher *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->se = m->se;
	int rc = pthread_mutex_init(&p->lock, NULL);
	if (rc == 0 && (rc = pthread_cond_init(&p->cond, NULL)) != 0)
		pthread_mutex_destroy(&p->lock);
	if (rc == 0 && (rc = pthread_create(&p->thread, NULL, pusher_main, p)) != 0) {
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
	}
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
	pthread_mutex_lock(&p->lock);
	bool joined = p->stopping;
	p->stopping = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	if (!joined)
		pthread_join(p->thread, NULL);
	/* What was still queued is left to READ. */
	pthread_mutex_lock(&p->lock);
	while (p->len) {
		jfs_job_unref(p->queue[p->head].version);
		p->head = (p->head + 1) % QUEUE_MAX;
		p->len--;
	}
	pthread_mutex_unlock(&p->lock);
}

void jfs_push_free(struct jfs_mount *m)
{
	struct jfs_pusher *p = m->pusher;
	if (!p)
		return;
	jfs_push_stop(m);
	m->pusher = NULL;
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
