/* Directories: opendir/readdir(plus)/releasedir. readdirplus hands the kernel every
 * entry with its attributes, so `ls -l` is one request per buffer; with no-opendir
 * the kernel keeps listings itself (FOPEN_CACHE_DIR) until the directory's mtime
 * moves or the keeper invalidates it.
 *
 * Offset cookies: the position in the low 32 bits (0 ".", 1 "..", 2 + i entry i; the
 * cookie given with an entry is the position of the one after it) and the names hash
 * of the snapshot being walked in the high bits (snapshot.h), so a read continues on
 * its own snapshot whoever read the directory since. The last entry's cookie is
 * POS_END: the call after it answers "no more" at once, without resolving. */
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
#include "jobsfs/listing.h"
#include "jobsfs/source.h"
#include "push.h"
#include "snapshot.h"

/* An open directory: the listing or the job as they were at opendir, so that a
 * listing read in several calls is one consistent snapshot. */
struct dir_handle {
	struct jfs_open_handle h; /* first: the open list links it */
	struct jfs_place p;
	uint32_t hash; /* of p's names (snapshot.h), for the cookies */
};

#define POS_BITS 32
#define POS_MASK 0xffffffffu
#define POS_END POS_MASK /* the last entry's cookie: nothing after it */

static off_t cookie(uint32_t hash, uint32_t pos)
{
	return (off_t)(((uint64_t)hash << POS_BITS) | pos);
}

static uint32_t place_hash(const struct jfs_place *p)
{
	return p->listing ? jfs_snapshot_hash_listing(p->listing)
			  : jfs_snapshot_hash_node(p->node);
}

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
	if (in->kind == JFS_INODE_FLEET && !m->no_opendir) { /* (fleetdir.c: no handle) */
		fi->fh = 0;
		fi->cache_readdir = 1;
		fi->keep_cache = 1;
		fuse_reply_open(req, fi);
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
	dh->hash = place_hash(&dh->p);
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
	const struct jfs_node *node; /* for attributes; NULL for listings and ctl */
	bool ctl;		     /* the ctl file of a job directory */
};

/* Whether the directory shows a ctl file after the job's fields: a live job's, with
 * -o control. (wait is never listed: `grep -r` and `find` must not block on it.) */
static bool has_ctl(const struct jfs_mount *m, const struct dir_handle *dh)
{
	return dh->p.in->cluster->control && !dh->p.listing && dh->p.in->kind == JFS_INODE_JOB &&
	       !dh->p.in->history;
}

/* Entry i of a directory (after "." and ".."). Returns 1 when entry i exists, 0 past
 * the end, -1 when it is to be skipped (a job past its expiry). */
static int dir_entry_at(struct jfs_mount *m, const struct dir_handle *dh, size_t i,
			struct dir_entry *de)
{
	de->ctl = false;
	if (dh->p.listing) {
		if (i >= dh->p.listing->n)
			return 0;
		de->job = dh->p.listing->jobs[i];
		if (jfs_source_job_expired(jfs_source_of(m, dh->p.in), de->job,
					   dh->p.listing->fetched_ms))
			return -1;
		de->name = de->job->name;
		de->node = &de->job->root;
		de->mode = S_IFDIR;
		return 1;
	}
	if (i == dh->p.node->nchildren && has_ctl(m, dh)) {
		de->job = dh->p.job;
		de->node = NULL;
		de->name = JFS_CTL_FILE;
		de->mode = S_IFREG;
		de->ctl = true;
		return 1;
	}
	if (i >= dh->p.node->nchildren)
		return 0;
	de->job = dh->p.job;
	de->node = &jfs_node_children(dh->p.node)[i];
	de->name = jfs_node_name(de->node);
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
	if (de->ctl) {
		rc = jfs_inodes_link(m->inodes, parent, de->name, JFS_INODE_CTL, NULL, NULL, &in);
		if (rc != 0)
			return rc;
		memset(ep, 0, sizeof(*ep));
		ep->ino = in->ino;
		ep->generation = 1;
		jfs_ctl_attr(m, in, &ep->attr);
		ep->entry_timeout = dh->p.life;
		ep->attr_timeout = 0;
		return 0;
	}
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
		const struct jfs_source *src = jfs_source_of(m, parent);
		double life = jfs_view_has_fields(parent)
				      ? jfs_source_listing_life(src, dh->p.listing)
				      : jfs_source_job_life(src, de->job);
		ep->attr_timeout = life;
		ep->entry_timeout = jfs_job_entry_timeout(m, parent, life);
	} else {
		ep->entry_timeout = dh->p.life;
		ep->attr_timeout = jfs_node_attr_timeout(de->node, dh->p.life);
	}
	return 0;
}

/* The node at in's path in job (a JOB inode's is the job's root). */
static const struct jfs_node *node_in(const struct jfs_inode *in, const struct jfs_job *job)
{
	return in->kind == JFS_INODE_JOB ? &job->root : jfs_node_lookup(&job->root, in->path);
}

/* A read past offset 0 continues on the snapshot with the cookie's hash: the one the
 * table remembers, else what the directory holds now if its names hash the same. */
static int dir_continue(struct jfs_mount *m, struct jfs_inode *in, uint32_t hash,
			struct dir_handle *dh)
{
	struct jfs_listing *l = NULL;
	struct jfs_job *job = NULL;
	int rc;

	memset(&dh->p, 0, sizeof(dh->p));
	dh->hash = hash;
	if (in->kind == JFS_INODE_ROOT || in->kind == JFS_INODE_VIEW) {
		if (jfs_snapshots_get(m->snapshots, in->ino, hash, &l, &job) ||
		    ((l = jfs_inodes_listing(m->inodes, in)) &&
		     jfs_snapshot_hash_listing(l) == hash)) {
			dh->p.in = in;
			dh->p.listing = l;
			dh->p.life = jfs_source_listing_life(jfs_source_of(m, in), l);
			return 0;
		}
		jfs_listing_unref(l);
	} else {
		rc = jfs_place_resolve(m, in, &dh->p);
		if (rc == 0 && dh->p.node->is_dir && jfs_snapshot_hash_node(dh->p.node) == hash)
			return 0;
		if (rc == 0)
			jfs_place_release(&dh->p);
		const struct jfs_node *node;
		if (jfs_snapshots_get(m->snapshots, in->ino, hash, &l, &job)) {
			if (job && (node = node_in(in, job)) && node->is_dir) {
				dh->p.in = in;
				dh->p.job = job;
				dh->p.node = node;
				dh->p.life = jfs_source_job_life(jfs_source_of(m, in), job);
				return 0;
			}
			jfs_job_unref(job);
			jfs_listing_unref(l);
		}
		if (rc != 0)
			return rc; /* logged by resolve (a job gone is ENOENT) */
	}
	char path[1024];
	jfs_warn("%s: a directory read resumed after what it was reading changed and was "
		 "let go (paused for long, or the directory changed under it): ESTALE; read "
		 "it again", jfs_inode_path(in, NULL, path, sizeof(path)));
	return -ESTALE;
}

/* Without an open handle (no-opendir mode), the directory as offset off sees it:
 * offset 0 starts a read and takes the directory as it is now (a listing fetched
 * when stale), remembering a listing as the read's snapshot; a later offset
 * continues on the snapshot its cookie names, never fetching a listing, so a read in
 * many calls is one snapshot however long it takes and whoever reads meanwhile. */
static int dir_now(struct jfs_mount *m, fuse_ino_t ino, off_t off, struct dir_handle *dh)
{
	struct jfs_inode *in = jfs_inodes_get(m->inodes, ino);
	if (!in)
		return -ESTALE;
	if (in->kind == JFS_INODE_FILE || in->kind == JFS_INODE_GAPS ||
	    in->kind == JFS_INODE_WAIT || in->kind == JFS_INODE_CTL)
		return -ENOTDIR;
	if (off > 0)
		return dir_continue(m, in, (uint32_t)((uint64_t)off >> POS_BITS), dh);
	int rc = jfs_place_resolve(m, in, &dh->p);
	if (rc == 0 && !dh->p.listing && !dh->p.node->is_dir) {
		jfs_place_release(&dh->p);
		return -ENOTDIR;
	}
	if (rc == 0) {
		dh->hash = place_hash(&dh->p);
		if (dh->p.listing) /* a reader may stop anywhere in it */
			jfs_snapshots_put(m->snapshots, ino, dh->hash, dh->p.listing, NULL);
	}
	return rc;
}

/* The position of the directory's last entry shown (1, "..", when none is): its
 * cookie is POS_END. A listing's expired jobs at its end are not shown. */
static size_t last_pos(struct jfs_mount *m, const struct dir_handle *dh)
{
	if (!dh->p.listing)
		return 1 + dh->p.node->nchildren + has_ctl(m, dh);
	const struct jfs_source *src = jfs_source_of(m, dh->p.in);
	size_t n = dh->p.listing->n;
	while (n > 0 &&
	       jfs_source_job_expired(src, dh->p.listing->jobs[n - 1], dh->p.listing->fetched_ms))
		n--;
	return 1 + n;
}

/* The call after a directory's last entry: "no more", at once. For a job's directory
 * that a reader walks, the kernel now holds its files' inodes (from the calls before):
 * the time to push them (push.h). */
static void reply_end(fuse_req_t req, struct jfs_mount *m, fuse_ino_t ino,
		      struct dir_handle *dh, bool plus)
{
	struct jfs_inode *in = dh ? dh->p.in : jfs_inodes_get(m->inodes, ino);
	if (plus && m->pusher && in &&
	    (in->kind == JFS_INODE_JOB || in->kind == JFS_INODE_NODE)) {
		struct jfs_place p;
		const struct jfs_place *at = dh ? &dh->p : NULL;
		if (!at && jfs_place_resolve(m, in, &p) == 0)
			at = &p;
		if (at && at->node->is_dir)
			jfs_push_dir_read(m, fuse_req_ctx(req)->pid, in, at->node,
					  at->node->nchildren);
		if (at == &p)
			jfs_place_release(&p);
	}
	fuse_reply_buf(req, NULL, 0);
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
	uint32_t start = off > 0 ? (uint32_t)((uint64_t)off & POS_MASK) : 0;

	struct jfs_inode *fleet = dh ? NULL : jfs_inodes_get(m->inodes, ino);
	if (fleet && fleet->kind == JFS_INODE_FLEET) {
		jfs_fleet_readdir(req, m, fleet, size, off, plus);
		return;
	}
	if (start == POS_END) {
		reply_end(req, m, ino, dh, plus);
		return;
	}
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
	size_t last = last_pos(m, dh);
	bool ended = false; /* the last entry went in buf */
	for (size_t o = start;; o++) {
		struct dir_entry de;
		struct fuse_entry_param ep;
		memset(&ep, 0, sizeof(ep));
		if (o > last) {
			ended = true;
			break;
		}
		if (o < 2) {
			de.name = o == 0 ? "." : "..";
			ep.attr.st_ino = o == 0 ? dh->p.in->ino
						: (dh->p.in->parent ? dh->p.in->parent->ino
								    : dh->p.in->ino);
			ep.attr.st_mode = S_IFDIR;
		} else {
			int have = dir_entry_at(m, dh, o - 2, &de);
			if (have == 0) {
				ended = true;
				break;
			}
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
		off_t next = cookie(dh->hash, o == last ? POS_END : (uint32_t)(o + 1));
		size_t need = plus ? fuse_add_direntry_plus(req, buf + pos, size - pos, de.name,
							    &ep, next)
				   : fuse_add_direntry(req, buf + pos, size - pos, de.name,
						       &ep.attr, next);
		if (need > size - pos) {
			/* Did not fit: the kernel will not see it, so it is no lookup. */
			if (plus && ep.ino)
				jfs_inodes_forget(m->inodes, ep.ino, 1);
			break;
		}
		pos += need;
		if (plus && ep.ino)
			linked[nlinked++] = ep.ino;
		if (o == last) {
			ended = true;
			break;
		}
	}
	/* A job's directory read in more than one call: its next call continues on this
	 * version (a listing was remembered when its read began). */
	if (!ended && dh == &now && !now.p.listing)
		jfs_snapshots_put(m->snapshots, ino, now.hash, NULL, now.p.job);
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
