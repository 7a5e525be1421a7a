/* Files: open/read/release, and the list of open handles the mount frees at exit.
 * A file's inode is one version of it (see inode.h), so its pages stay in the
 * kernel; with no-open, open never leaves the kernel. */
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "inode.h"
#include "jobsfs/error.h"
#include "jobsfs/job.h"
#include "jobsfs/log.h"
#include "push.h"

int jfs_open_init(struct jfs_mount *m)
{
	m->open.prev = m->open.next = &m->open;
	return -pthread_mutex_init(&m->open_lock, NULL);
}

void jfs_open_add(struct jfs_mount *m, struct jfs_open_handle *h)
{
	pthread_mutex_lock(&m->open_lock);
	h->next = m->open.next;
	h->prev = &m->open;
	m->open.next->prev = h;
	m->open.next = h;
	pthread_mutex_unlock(&m->open_lock);
}

void jfs_open_del(struct jfs_mount *m, struct jfs_open_handle *h)
{
	pthread_mutex_lock(&m->open_lock);
	h->prev->next = h->next;
	h->next->prev = h->prev;
	pthread_mutex_unlock(&m->open_lock);
}

void jfs_open_free_all(struct jfs_mount *m)
{
	while (m->open.next != &m->open) {
		struct jfs_open_handle *h = m->open.next;
		jfs_open_del(m, h);
		h->free(h);
	}
	pthread_mutex_destroy(&m->open_lock);
}

/* An open file: the version of the job it shows. */
struct open_file {
	struct jfs_open_handle h; /* first: the open list links it */
	struct jfs_job *job;
	const struct jfs_node *node;
};

static void open_file_free(struct jfs_open_handle *h)
{
	struct open_file *of = (struct open_file *)h;
	jfs_job_unref(of->job);
	free(of);
}

void jfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct jfs_mount *m = jfs_mount_of(req);
	struct jfs_inode *in = jfs_inodes_get(m->inodes, ino);
	struct jfs_place p;

	if (!in) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	bool ctl = in->kind == JFS_INODE_CTL;
	if (!ctl && ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))) {
		fuse_reply_err(req, EROFS);
		return;
	}
	/* Made anew at each read, waiting, or acting: straight to us, no page cache
	 * (without no-open mode; with it, see JFS_WAIT_SIZE and ctl.c). */
	if ((in->kind == JFS_INODE_GAPS || in->kind == JFS_INODE_WAIT || ctl) && !m->no_open) {
		fi->direct_io = 1;
		fi->fh = 0;
		fuse_reply_open(req, fi);
		return;
	}
	if (m->no_open) {
		/* Once: from now on the kernel opens files itself, keeping their pages
		 * until their size or mtime changes or the keeper invalidates them. */
		fuse_reply_err(req, ENOSYS);
		return;
	}
	int rc = jfs_place_resolve(m, in, &p);
	if (rc != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (p.listing || p.node->is_dir) {
		jfs_place_release(&p);
		fuse_reply_err(req, EISDIR);
		return;
	}
	struct open_file *fh = malloc(sizeof(*fh));
	if (!fh) {
		jfs_place_release(&p);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fh->job = p.job; /* the place's reference moves to the handle */
	fh->node = p.node;
	fi->keep_cache = 1; /* the inode's version never changes: keep its pages */
	fi->fh = (uint64_t)(uintptr_t)fh;
	fh->h.free = open_file_free;
	jfs_open_add(m, &fh->h);
	if (fuse_reply_open(req, fi) != 0) {
		jfs_open_del(m, &fh->h);
		open_file_free(&fh->h);
	}
}

/* Bytes [off, off + size) of what a file shows. A copy: a value's newline is not
 * stored, and job.json is printed at each read (job.h). */
static void reply_file(fuse_req_t req, const struct jfs_node *node, off_t off, size_t size)
{
	if (off < 0 || (uint64_t)off >= node->size) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	size_t n = node->size - (size_t)off < size ? node->size - (size_t)off : size;
	char small[4096], *buf = n <= sizeof(small) ? small : malloc(n);
	ssize_t got = buf ? jfs_file_read(node, (uint64_t)off, buf, n) : -ENOMEM;
	if (got < 0)
		fuse_reply_err(req, (int)-got);
	else
		fuse_reply_buf(req, buf, (size_t)got);
	if (buf != small)
		free(buf);
}

void jfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct open_file *fh = (struct open_file *)(uintptr_t)fi->fh;
	struct jfs_place p;
	const struct jfs_node *node;

	memset(&p, 0, sizeof(p));
	if (fh) {
		node = fh->node;
	} else { /* no-open mode: the inode's version */
		struct jfs_mount *m = jfs_mount_of(req);
		struct jfs_inode *in = jfs_inodes_get(m->inodes, ino);
		if (in && in->kind == JFS_INODE_GAPS) {
			jfs_gaps_read(req, m, in, size, off);
			return;
		}
		if (in && in->kind == JFS_INODE_WAIT) {
			jfs_wait_read(req, m, in, size, off);
			return;
		}
		if (in && in->kind == JFS_INODE_CTL) { /* nothing to read */
			fuse_reply_buf(req, NULL, 0);
			return;
		}
		int rc = in ? jfs_place_resolve(m, in, &p) : -ESTALE;
		if (rc == 0 && (p.listing || p.node->is_dir)) {
			jfs_place_release(&p);
			rc = -EISDIR;
		}
		if (rc != 0) {
			fuse_reply_err(req, -rc);
			return;
		}
		node = p.node;
	}
	jfs_push_saw_read(jfs_mount_of(req), fuse_req_ctx(req)->pid, jfs_node_name(node));
	reply_file(req, node, off, size);
	jfs_place_release(&p);
}

void jfs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct open_file *fh = (struct open_file *)(uintptr_t)fi->fh;
	if (fh) {
		jfs_open_del(jfs_mount_of(req), &fh->h);
		open_file_free(&fh->h);
	}
	fuse_reply_err(req, 0);
}
