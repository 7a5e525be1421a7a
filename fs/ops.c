/* The FUSE low-level operations table, and the operations on names: lookup (the
 * root, views, jobs, nodes within jobs), forget, getattr, statfs, and the refusals of
 * a read-only mount. Directories are in dir.c, files in file.c, what an inode stands
 * for and its attributes in place.c.
 *
 * Kernel caching follows the data: a finished job never changes until it expires, so
 * its names and attributes are kept until its expiry; active jobs and listings for
 * what remains of ttl, and the keeper takes back what changed. A file's inode is one
 * version of it (inode.h): its attributes are kept a day, its name as its job's. */
#include "ops.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "inode.h"
#include "jobsfs/error.h"
#include "jobsfs/job.h"
#include "jobsfs/listing.h"
#include "jobsfs/log.h"
#include "jobsfs/query.h"
#include "jobsfs/source.h"
#include "prefetch.h"

static void reply_entry(fuse_req_t req, struct jfs_mount *m, const struct jfs_place *p,
			double entry_timeout)
{
	struct fuse_entry_param ep;
	memset(&ep, 0, sizeof(ep));
	ep.ino = p->in->ino;
	ep.generation = 1;
	ep.attr_timeout = jfs_place_attr(m, p, &ep.attr);
	ep.entry_timeout = entry_timeout;
	if (fuse_reply_entry(req, &ep) != 0) /* the kernel never got it: no lookup */
		jfs_inodes_forget(m->inodes, p->in->ino, 1);
}

/* ---- lookup ------------------------------------------------------------------------ */

static void lookup_view(fuse_req_t req, struct jfs_mount *m, struct jfs_inode *parent,
			const char *name)
{
	struct jfs_error e;
	struct jfs_place p;
	struct jfs_query *q = parent->query ? jfs_query_dup(parent->query) : jfs_query_new();
	int rc;

	memset(&p, 0, sizeof(p));
	jfs_error_clear(&e);
	if (!q) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	const struct jfs_source *src = jfs_source_of(m, parent);
	rc = jfs_query_add_segment(q, name, &e);
	if (rc == 0 && !parent->history) /* a glob over a fleet: the others at once */
		jfs_prefetch_view(m, parent->cluster, q);
	/* Ask the source now, so a segment it rejects fails here; one that can check a
	 * query without answering it answers when the directory is read. */
	if (rc == 0 && src->ops->check)
		rc = src->ops->check(src->self, q, &e);
	else if (rc == 0)
		rc = jfs_source_listing(src, q, &p.listing, &e);
	if (rc != 0) {
		jfs_place_log_failure(parent, name, rc, &e);
		jfs_query_free(q);
		fuse_reply_err(req, -rc);
		return;
	}
	rc = jfs_inodes_link(m->inodes, parent, name, JFS_INODE_VIEW, NULL, q, &p.in);
	if (rc != 0) {
		jfs_place_release(&p);
		fuse_reply_err(req, -rc);
		return;
	}
	if (p.listing) {
		jfs_inodes_set_listing(m->inodes, p.in, p.listing);
		p.life = jfs_source_listing_life(src, p.listing);
	} else { /* checked, not answered: the attributes of what it last answered, if any */
		struct jfs_inode *in = p.in;
		jfs_place_resolve_attr(m, in, &p);
	}
	reply_entry(req, m, &p, parent->cluster->ttl);
	jfs_place_release(&p);
}

static void lookup_job(fuse_req_t req, struct jfs_mount *m, struct jfs_inode *parent,
		       const char *name)
{
	struct jfs_error e;
	struct jfs_listing *l = NULL;
	struct jfs_job *job = NULL;
	struct jfs_place p;
	int rc;

	const struct jfs_source *src = jfs_source_of(m, parent);
	memset(&p, 0, sizeof(p));
	jfs_error_clear(&e);
	if (parent->kind == JFS_INODE_ROOT) {
		/* Every job is in the root: go by uuid, without the listing. The store
		 * answers a finished job from its cache until it expires (so it stays
		 * readable while the cluster is away) and asks for an unknown one by
		 * GET (a job created a moment ago is reachable at once); the history
		 * reads the one row. */
		/* Only a job's one name ("a%2Eb" is not "a.b"'s); the client asks the
		 * cluster for syntactically valid uuids only. */
		char *uuid = jfs_name_to_uuid(name);
		rc = uuid ? jfs_source_job(src, uuid, &job, &e)
			  : jfs_error_set(&e, ENOENT, "not a job name");
		/* A name the cluster finds malformed as a uuid is simply not a job. */
		if (rc == -EINVAL)
			rc = -ENOENT;
		free(uuid);
	} else {
		rc = jfs_source_listing(src, parent->query, &l, &e);
	}
	if (rc == 0 && l) {
		struct jfs_job *listed = jfs_listing_find(l, name);
		if (listed && jfs_view_has_fields(parent))
			job = jfs_job_ref(listed);
		else if (listed)
			rc = jfs_source_job(src, listed->uuid, &job, &e);
		else
			rc = jfs_error_set(&e, ENOENT, "no such job in this view");
		/* (a source never answers a job by uuid that has left it) */
		if (rc == 0 && listed && jfs_view_has_fields(parent) &&
		    jfs_source_job_expired(src, job, l->fetched_ms))
			rc = jfs_error_set(&e, ENOENT, "job %s expired", job->uuid);
	}
	if (rc != 0) {
		jfs_place_log_failure(parent, name, rc, &e);
		jfs_job_unref(job);
		jfs_listing_unref(l);
		fuse_reply_err(req, -rc);
		return;
	}
	rc = jfs_inodes_link(m->inodes, parent, name, JFS_INODE_JOB, job->uuid, NULL, &p.in);
	if (rc != 0) {
		jfs_job_unref(job);
		jfs_listing_unref(l);
		fuse_reply_err(req, -rc);
		return;
	}
	p.job = job;
	p.node = &job->root;
	p.life = jfs_view_has_fields(parent) ? jfs_source_listing_life(src, l)
					 : jfs_source_job_life(src, job);
	jfs_listing_unref(l);
	reply_entry(req, m, &p, jfs_job_entry_timeout(m, parent, p.life));
	jfs_place_release(&p);
}

static void lookup_node(fuse_req_t req, struct jfs_mount *m, struct jfs_inode *parent,
			const char *name)
{
	struct jfs_place p;
	int rc = jfs_place_resolve(m, parent, &p);
	if (rc != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	const struct jfs_node *child = p.node->is_dir ? jfs_node_child(p.node, name) : NULL;
	if (!child) {
		jfs_place_release(&p);
		fuse_reply_err(req, p.node && !p.node->is_dir ? ENOTDIR : ENOENT);
		return;
	}
	struct jfs_inode *in;
	rc = child->is_dir
		     ? jfs_inodes_link(m->inodes, parent, name, JFS_INODE_NODE, NULL, NULL, &in)
		     : jfs_inodes_link_file(m->inodes, parent, name, p.job, child, &in);
	if (rc != 0) {
		jfs_place_release(&p);
		fuse_reply_err(req, -rc);
		return;
	}
	p.in = in;
	p.node = child;
	if (!child->is_dir) { /* the version the inode shows (a newer one may hold the name) */
		jfs_job_unref(p.job);
		jfs_inodes_file(m->inodes, in, &p.job, &p.node);
	}
	reply_entry(req, m, &p, p.life);
	jfs_place_release(&p);
}

/* The wait file of a job directory (never listed), and its ctl file (-o control, live
 * jobs only): the job must be there; their attributes never change, and so are kept.
 * Each lookup of wait makes a new inode (inode.h), and its name is not kept, so that
 * each reader gets its own. */
static void lookup_special(fuse_req_t req, struct jfs_mount *m, struct jfs_inode *parent,
			   enum jfs_inode_kind kind, const char *name)
{
	struct jfs_place p;
	int rc = jfs_place_resolve(m, parent, &p);
	if (rc != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	struct jfs_inode *in;
	rc = jfs_inodes_link(m->inodes, parent, name, kind, NULL, NULL, &in);
	if (rc != 0) {
		jfs_place_release(&p);
		fuse_reply_err(req, -rc);
		return;
	}
	struct fuse_entry_param ep;
	memset(&ep, 0, sizeof(ep));
	ep.ino = in->ino;
	ep.generation = 1;
	if (kind == JFS_INODE_WAIT) {
		jfs_wait_attr(m, in, &ep.attr);
		ep.attr_timeout = JFS_FILE_ATTR_TIMEOUT;
		ep.entry_timeout = 0;
	} else {
		/* Its size stays 0: the kernel asks again after each write, so that
		 * what a write left in its page cache is dropped. */
		jfs_ctl_attr(m, in, &ep.attr);
		ep.attr_timeout = 0;
		ep.entry_timeout = p.life;
	}
	jfs_place_release(&p);
	if (fuse_reply_entry(req, &ep) != 0)
		jfs_inodes_forget(m->inodes, in->ino, 1);
}

/* A fleet's MOUNT/<cluster>: its tree's root, without asking the cluster (stat of it
 * never needs it; ls does). */
static void lookup_cluster(fuse_req_t req, struct jfs_mount *m, struct jfs_inode *fleet,
			   const char *name)
{
	struct jfs_cluster *c = NULL;
	for (size_t i = 0; i < m->nclusters && !c; i++)
		if (strcmp(m->clusters[i].name, name) == 0)
			c = &m->clusters[i];
	if (!c) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	struct jfs_place p;
	int rc = jfs_inodes_link_cluster(m->inodes, fleet, name, c, &p.in);
	if (rc != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	struct jfs_inode *in = p.in;
	jfs_place_resolve_attr(m, in, &p); /* (never fails for a ROOT) */
	reply_entry(req, m, &p, JFS_FILE_ATTR_TIMEOUT); /* the fleet never changes */
	jfs_place_release(&p);
}

/* MOUNT/.history (the history's root) and MOUNT/.history/gaps: reachable by name,
 * never listed, so `ls MOUNT` and `grep -r MOUNT` see live jobs only. */
static void lookup_history(fuse_req_t req, struct jfs_mount *m, struct jfs_inode *parent,
			   enum jfs_inode_kind kind, const char *name)
{
	struct jfs_place p;
	memset(&p, 0, sizeof(p));
	int rc = jfs_inodes_link(m->inodes, parent, name, kind, NULL, NULL, &p.in);
	if (rc != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (kind == JFS_INODE_GAPS) {
		struct fuse_entry_param ep;
		memset(&ep, 0, sizeof(ep));
		ep.ino = p.in->ino;
		ep.generation = 1;
		ep.attr_timeout = jfs_gaps_attr(m, p.in, &ep.attr);
		ep.entry_timeout = JFS_FILE_ATTR_TIMEOUT;
		if (fuse_reply_entry(req, &ep) != 0)
			jfs_inodes_forget(m->inodes, p.in->ino, 1);
		return;
	}
	struct jfs_inode *in = p.in;
	rc = jfs_place_resolve_attr(m, in, &p);
	if (rc != 0) { /* (resolve_attr of a ROOT never fails) */
		jfs_inodes_forget(m->inodes, in->ino, 1);
		fuse_reply_err(req, -rc);
		return;
	}
	reply_entry(req, m, &p, JFS_FILE_ATTR_TIMEOUT);
	jfs_place_release(&p);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct jfs_mount *m = jfs_mount_of(req);
	struct jfs_inode *pin = jfs_inodes_get(m->inodes, parent);

	if (!pin) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (pin->kind == JFS_INODE_FLEET) {
		lookup_cluster(req, m, pin, name);
		return;
	}
	if (pin->kind == JFS_INODE_ROOT && pin->cluster->history) {
		if (!pin->history && strcmp(name, JFS_HISTORY_DIR) == 0) {
			lookup_history(req, m, pin, JFS_INODE_ROOT, name);
			return;
		}
		if (pin->history && strcmp(name, JFS_GAPS_FILE) == 0) {
			lookup_history(req, m, pin, JFS_INODE_GAPS, name);
			return;
		}
	}
	switch (pin->kind) {
	case JFS_INODE_ROOT:
	case JFS_INODE_VIEW:
		if (jfs_segment_is_query(name))
			lookup_view(req, m, pin, name);
		else
			lookup_job(req, m, pin, name);
		return;
	case JFS_INODE_JOB:
		if (strcmp(name, JFS_WAIT_FILE) == 0) {
			lookup_special(req, m, pin, JFS_INODE_WAIT, name);
			return;
		}
		if (pin->cluster->control && !pin->history && strcmp(name, JFS_CTL_FILE) == 0) {
			lookup_special(req, m, pin, JFS_INODE_CTL, name);
			return;
		}
		lookup_node(req, m, pin, name);
		return;
	case JFS_INODE_NODE:
		lookup_node(req, m, pin, name);
		return;
	case JFS_INODE_FILE:
	case JFS_INODE_GAPS:
	case JFS_INODE_WAIT:
	case JFS_INODE_CTL:
		fuse_reply_err(req, ENOTDIR);
		return;
	case JFS_INODE_FLEET: /* (above) */
		break;
	}
	fuse_reply_err(req, EIO);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	jfs_inodes_forget(jfs_mount_of(req)->inodes, ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct jfs_mount *m = jfs_mount_of(req);
	for (size_t i = 0; i < count; i++)
		jfs_inodes_forget(m->inodes, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct jfs_mount *m = jfs_mount_of(req);
	struct jfs_inode *in = jfs_inodes_get(m->inodes, ino);
	struct jfs_place p;
	struct stat st;

	if (!in) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (in->kind == JFS_INODE_GAPS) {
		double timeout = jfs_gaps_attr(m, in, &st);
		fuse_reply_attr(req, &st, timeout);
		return;
	}
	/* Never blocks, never asks the cluster: constant attributes. */
	if (in->kind == JFS_INODE_WAIT) {
		jfs_wait_attr(m, in, &st);
		fuse_reply_attr(req, &st, JFS_FILE_ATTR_TIMEOUT);
		return;
	}
	if (in->kind == JFS_INODE_CTL) {
		jfs_ctl_attr(m, in, &st);
		fuse_reply_attr(req, &st, 0);
		return;
	}
	if (in->kind == JFS_INODE_FLEET) {
		jfs_fleet_attr(m, in, &st);
		fuse_reply_attr(req, &st, JFS_FILE_ATTR_TIMEOUT);
		return;
	}
	/* A directory answers from the listing it last served, even stale: fetching
	 * here would make a walk of every page out of each stat of the root. One never
	 * listed answers without the cluster: a directory's own attributes never need it. */
	int rc = jfs_place_resolve_attr(m, in, &p);
	if (rc != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	double timeout = jfs_place_attr(m, &p, &st);
	fuse_reply_attr(req, &st, timeout);
	jfs_place_release(&p);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct jfs_mount *m = jfs_mount_of(req);
	struct statvfs st;

	memset(&st, 0, sizeof(st));
	st.f_bsize = 4096;
	st.f_frsize = 4096;
	st.f_files = jfs_inodes_count(m->inodes);
	st.f_namemax = 255;
	st.f_flag = (m->control ? 0 : ST_RDONLY) | ST_NOSUID | ST_NODEV;
	fuse_reply_statfs(req, &st);
}

/* ---- the mount is read-only, but for ctl files -------------------------------------- */

static void rofs(fuse_req_t req)
{
	fuse_reply_err(req, EROFS);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t p, const char *n, mode_t mode) { rofs(req); }
static void op_rmdir(fuse_req_t req, fuse_ino_t p, const char *n) { rofs(req); }
static void op_unlink(fuse_req_t req, fuse_ino_t p, const char *n) { rofs(req); }
static void op_mknod(fuse_req_t req, fuse_ino_t p, const char *n, mode_t mode, dev_t rdev)
{
	rofs(req);
}
static void op_create(fuse_req_t req, fuse_ino_t p, const char *n, mode_t mode,
		      struct fuse_file_info *fi)
{
	rofs(req);
}
static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct jfs_mount *m = jfs_mount_of(req);
	struct jfs_inode *in = jfs_inodes_get(m->inodes, ino);
	if (in && in->kind == JFS_INODE_CTL)
		jfs_ctl_write(req, m, in, buf, size);
	else
		rofs(req);
}

/* Only the truncation of a ctl file that `echo cancel > ctl` opens with (O_TRUNC,
 * which the kernel sends as a setattr of size 0): it is always empty already. */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct jfs_mount *m = jfs_mount_of(req);
	struct jfs_inode *in = jfs_inodes_get(m->inodes, ino);
	/* (with the times a truncation sets: ignored, the file's never change) */
	const int allowed = FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
			    FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME;
	if (in && in->kind == JFS_INODE_CTL && (to_set & FUSE_SET_ATTR_SIZE) &&
	    attr->st_size == 0 && (to_set & ~allowed) == 0) {
		struct stat st;
		jfs_ctl_attr(m, in, &st);
		fuse_reply_attr(req, &st, 0);
		return;
	}
	rofs(req);
}
static void op_rename(fuse_req_t req, fuse_ino_t p, const char *n, fuse_ino_t np,
		      const char *nn, unsigned int flags)
{
	rofs(req);
}
static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t np, const char *nn)
{
	rofs(req);
}
static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t p, const char *n)
{
	rofs(req);
}
static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	rofs(req);
}
static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name) { rofs(req); }
static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
			 struct fuse_file_info *fi)
{
	rofs(req);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	/* One readdir answers `ls -l`: every entry comes with its attributes. */
	if (conn->capable & FUSE_CAP_READDIRPLUS) {
		conn->want |= FUSE_CAP_READDIRPLUS;
		conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	}
	/* Reads through the page cache are sent from the reader's own thread, and so
	 * can be interrupted: a read of a wait file waits for a job (wait.c), and an
	 * asynchronous read would neither hear Ctrl-C nor leave the kernel's dozen
	 * background slots to the other readers while it waits. Files here are a page
	 * or two: nothing to overlap. */
	conn->want &= ~FUSE_CAP_ASYNC_READ;
	/* Drop cached pages when a file's mtime or size changes. */
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	/* open and opendir never leave the kernel (see fuse-performance.md). Only with
	 * auto_inval_data, which is what drops pages and cached listings on change. */
	struct jfs_mount *m = userdata;
	bool inval = conn->want & FUSE_CAP_AUTO_INVAL_DATA;
	m->no_open = inval && (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) && !m->kernel_open_off;
	m->no_opendir = inval && (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) &&
			!m->kernel_open_off;
	jfs_debug("no-open %d, no-opendir %d", m->no_open, m->no_opendir);
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.opendir = jfs_op_opendir,
	.readdir = jfs_op_readdir,
	.readdirplus = jfs_op_readdirplus,
	.releasedir = jfs_op_releasedir,
	.open = jfs_op_open,
	.read = jfs_op_read,
	.release = jfs_op_release,
	.statfs = op_statfs,
	.mkdir = op_mkdir,
	.rmdir = op_rmdir,
	.unlink = op_unlink,
	.mknod = op_mknod,
	.create = op_create,
	.write = op_write,
	.setattr = op_setattr,
	.rename = op_rename,
	.link = op_link,
	.symlink = op_symlink,
	.setxattr = op_setxattr,
	.removexattr = op_removexattr,
	.fallocate = op_fallocate,
};

const struct fuse_lowlevel_ops *jfs_fs_ops(void)
{
	return &ops;
}
