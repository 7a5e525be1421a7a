/* Directories: opendir/readdir(plus)/releasedir. readdirplus hands the kernel every
 * entry with its attributes, so `ls -l` is one request per buffer; with no-opendir
 * the kernel keeps listings itself (FOPEN_CACHE_DIR) until the directory's mtime
 * moves or the keeper invalidates it. */
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
#include "jobsfs/store.h"
#include "push.h"

/* An open directory: the listing or the job as they were at opendir, so that a
 * listing read in several calls is one consistent snapshot. */
struct dir_handle {
	struct jfs_open_handle h; /* first: the open list links it */
	struct jfs_place p;
};

static void dir_handle_free(struct jfs_open_handle *h)
{
	struct dir_handle *dh = (struct dir_handle *)h;
	jfs_place_release(&dh->p);
	free(dh);
}

void jfs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct jfs_mount *m = jfs_mount_of(req);
	struct jfs_inode *in = jfs_inodes_get(m->inodes, ino);
	struct dir_handle *dh;

	if (!in) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (m->no_opendir) {
		/* Once: from now on the kernel opens directories itself and keeps their
		 * listings (FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR) until their mtime moves
		 * or the keeper invalidates them. */
		fuse_reply_err(req, ENOSYS);
		return;
	}
	dh = calloc(1, sizeof(*dh));
	if (!dh) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	int rc = jfs_place_resolve(m, in, &dh->p);
	if (rc == 0 && !dh->p.listing && !dh->p.node->is_dir) {
		jfs_place_release(&dh->p);
		rc = -ENOTDIR;
	}
	if (rc != 0) {
		free(dh);
		fuse_reply_err(req, -rc);
		return;
	}
	/* A finished job's directories never change: the kernel may keep them. */
	if (dh->p.job && jfs_job_is_terminal(dh->p.job)) {
		fi->cache_readdir = 1;
		fi->keep_cache = 1;
	}
	fi->fh = (uint64_t)(uintptr_t)dh;
	dh->h.free = dir_handle_free;
	jfs_open_add(m, &dh->h);
	if (fuse_reply_open(req, fi) != 0) {
		jfs_open_del(m, &dh->h);
		dir_handle_free(&dh->h);
	}
}

void jfs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dir_handle *dh = (struct dir_handle *)(uintptr_t)fi->fh;
	if (dh) {
		jfs_open_del(jfs_mount_of(req), &dh->h);
		dir_handle_free(&dh->h);
	}
	fuse_reply_err(req, 0);
}

/* One entry of a directory being read. */
struct dir_entry {
	const char *name;
	mode_t mode;
	const struct jfs_job *job;   /* for attributes */
	const struct jfs_node *node; /* for attributes; NULL for listings */
};

/* Entry i of a directory (after "." and ".."). Returns 1 when entry i exists, 0 past
 * the end, -1 when it is to be skipped (a job past its expiry). */
static int dir_entry_at(struct jfs_mount *m, const struct dir_handle *dh, size_t i,
			struct dir_entry *de)
{
	if (dh->p.listing) {
		if (i >= dh->p.listing->n)
			return 0;
		de->job = dh->p.listing->jobs[i];
		if (jfs_store_job_expired(m->store, de->job, dh->p.listing->fetched_ms))
			return -1;
		de->name = de->job->name;
		de->node = &de->job->root;
		de->mode = S_IFDIR;
		return 1;
	}
	if (i >= dh->p.node->nchildren)
		return 0;
	de->job = dh->p.job;
	de->node = &dh->p.node->children[i];
	de->name = de->node->name;
	de->mode = de->node->is_dir ? S_IFDIR : S_IFREG;
	return 1;
}

/* The entry parameters of a child for readdirplus; its lookup count is raised. */
static int child_entry(struct jfs_mount *m, const struct dir_handle *dh,
		       const struct dir_entry *de, struct fuse_entry_param *ep)
{
	struct jfs_inode *parent = dh->p.in, *in;
	bool is_job = dh->p.listing != NULL;
	int rc;
	if (is_job)
		rc = jfs_inodes_link(m->inodes, parent, de->name, JFS_INODE_JOB, de->job->uuid,
				     NULL, &in);
	else if (de->node->is_dir)
		rc = jfs_inodes_link(m->inodes, parent, de->name, JFS_INODE_NODE, NULL, NULL, &in);
	else
		rc = jfs_inodes_link_file(m->inodes, parent, de->name, dh->p.job, de->node, &in);
	if (rc != 0)
		return rc;
	memset(ep, 0, sizeof(*ep));
	ep->ino = in->ino;
	ep->generation = 1;
	const struct jfs_job *job = de->job;
	const struct jfs_node *node = de->node;
	struct jfs_job *version = NULL;
	if (!is_job && !node->is_dir) { /* the version the inode shows */
		jfs_inodes_file(m->inodes, in, &version, &node);
		job = version;
	}
	jfs_node_attr_fill(m, in->ino, job, node, &ep->attr);
	jfs_job_unref(version);
	if (is_job) {
		double life = jfs_view_has_fields(parent)
				      ? jfs_store_listing_life(m->store, dh->p.listing)
				      : jfs_store_job_life(m->store, de->job);
		ep->attr_timeout = life;
		ep->entry_timeout = jfs_job_entry_timeout(m, parent, life);
	} else {
		ep->entry_timeout = dh->p.life;
		ep->attr_timeout = jfs_node_attr_timeout(de->node, dh->p.life);
	}
	return 0;
}

/* Without an open handle (no-opendir mode), the directory as offset off sees it:
 * offset 0 starts a read and takes the listing as it is now (fetched when stale);
 * a later offset continues on the snapshot that offset 0 served, never fetching, so
 * a listing read in many calls is one snapshot however long the reading takes. */
static int dir_now(struct jfs_mount *m, fuse_ino_t ino, off_t off, struct dir_handle *dh)
{
	struct jfs_inode *in = jfs_inodes_get(m->inodes, ino);
	if (!in)
		return -ESTALE;
	int rc = off > 0 ? jfs_place_resolve_held(m, in, &dh->p)
			 : jfs_place_resolve(m, in, &dh->p);
	if (rc == 0 && !dh->p.listing && !dh->p.node->is_dir) {
		jfs_place_release(&dh->p);
		rc = -ENOTDIR;
	}
	return rc;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct jfs_mount *m = jfs_mount_of(req);
	struct dir_handle now, *dh = (struct dir_handle *)(uintptr_t)fi->fh;
	char *buf;
	size_t pos = 0;
	/* readdirplus: the inodes whose lookup count an entry in buf raised, to be given
	 * back if the kernel never gets buf. An entry takes more than 128 bytes (its
	 * struct fuse_entry_out alone), so size / 128 bound them. */
	fuse_ino_t *linked = NULL;
	size_t nlinked = 0;

	if (!dh) {
		int rc = dir_now(m, ino, off, &now);
		if (rc != 0) {
			fuse_reply_err(req, -rc);
			return;
		}
		dh = &now;
	}
	buf = malloc(size);
	if (plus)
		linked = malloc((size / 128 + 1) * sizeof(*linked));
	if (!buf || (plus && !linked)) {
		free(buf);
		free(linked);
		if (dh == &now)
			jfs_place_release(&now.p);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* Offsets: 0 ".", 1 "..", 2 + i the directory's entry i. The offset given with
	 * an entry is the one of the entry after it. */
	for (off_t o = off < 0 ? 0 : off;; o++) {
		struct dir_entry de;
		struct fuse_entry_param ep;
		memset(&ep, 0, sizeof(ep));
		if (o < 2) {
			de.name = o == 0 ? "." : "..";
			ep.attr.st_ino = o == 0 ? dh->p.in->ino
						: (dh->p.in->parent ? dh->p.in->parent->ino
								    : dh->p.in->ino);
			ep.attr.st_mode = S_IFDIR;
		} else {
			int have = dir_entry_at(m, dh, (size_t)(o - 2), &de);
			if (have == 0)
				break;
			if (have < 0)
				continue;
			if (plus) {
				int rc = child_entry(m, dh, &de, &ep);
				if (rc != 0) {
					if (pos == 0) {
						free(buf);
						free(linked);
						if (dh == &now)
							jfs_place_release(&now.p);
						fuse_reply_err(req, -rc);
						return;
					}
					break;
				}
			} else {
				/* Not counted as a lookup, so no inode is made: the
				 * number libfuse's high-level API uses for "unknown". */
				ep.attr.st_ino = 0xffffffff;
				ep.attr.st_mode = de.mode;
			}
		}
		size_t need = plus ? fuse_add_direntry_plus(req, buf + pos, size - pos, de.name,
							    &ep, o + 1)
				   : fuse_add_direntry(req, buf + pos, size - pos, de.name,
						       &ep.attr, o + 1);
		if (need > size - pos) {
			/* Did not fit: the kernel will not see it, so it is no lookup. */
			if (plus && ep.ino)
				jfs_inodes_forget(m->inodes, ep.ino, 1);
			break;
		}
		pos += need;
		if (plus && ep.ino)
			linked[nlinked++] = ep.ino;
	}
	/* The call that ends a job directory's stream (nothing left past off): the
	 * kernel now holds its files' inodes, from the calls before. */
	if (plus && !dh->p.listing && pos == 0 && off > 2)
		jfs_push_dir_read(m, fuse_req_ctx(req)->pid, dh->p.in, dh->p.node,
				  (size_t)(off - 2));
	if (fuse_reply_buf(req, buf, pos) != 0) /* interrupted: the kernel saw none */
		for (size_t i = 0; i < nlinked; i++)
			jfs_inodes_forget(m->inodes, linked[i], 1);
	free(buf);
	free(linked);
	if (dh == &now)
		jfs_place_release(&now.p);
}

void jfs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

void jfs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}
