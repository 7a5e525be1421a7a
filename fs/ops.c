/* The FUSE low-level operations: path resolution over the inode table, the store's
 * jobs and listings as directories and files, and what the kernel may keep of them.
 *
 * Kernel caching follows the data: a finished job never changes until it expires, so
 * its entries, attributes, directory listings and file pages are kept until its
 * expiry; active jobs and listings are kept for what remains of ttl, and files of
 * active jobs are read with direct_io so a changed value is never cut to an old size. */
#include "mount.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "inode.h"
#include "jobsfs/error.h"
#include "jobsfs/job.h"
#include "jobsfs/log.h"
#include "jobsfs/query.h"
#include "jobsfs/store.h"

#define PATH_LOG_MAX 1024

static struct jfs_mount *mount_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* What an inode stands for right now. */
struct place {
	struct jfs_inode *in;
	struct jfs_listing *listing; /* ROOT, VIEW: its listing (a reference) */
	struct jfs_job *job;	     /* JOB, NODE: the job (a reference) */
	const struct jfs_node *node; /* JOB, NODE: the node within job */
	double life;		     /* seconds the kernel may keep the attributes */
};

static void place_release(struct place *p)
{
	jfs_listing_unref(p->listing);
	jfs_job_unref(p->job);
	memset(p, 0, sizeof(*p));
}

/* Log an error that is about to reach a user: once, with the path asked for. Not
 * finding a name is ordinary (shells and tools probe), so ENOENT is debug only. */
static void log_failure(const struct jfs_inode *in, const char *child, int rc,
			const struct jfs_error *e)
{
	char path[PATH_LOG_MAX];
	if (rc == -ENOENT) {
		jfs_debug("%s: %s", jfs_inode_path(in, child, path, sizeof(path)), e->message);
		return;
	}
	jfs_error_log(e, jfs_inode_path(in, child, path, sizeof(path)));
}

static bool view_has_fields(const struct jfs_inode *view)
{
	return view->query && jfs_query_get(view->query, JFS_QUERY_FIELDS);
}

static bool view_has_cap(const struct jfs_inode *view)
{
	return view->query && jfs_query_max_records(view->query) > 0;
}

/* The job a JOB inode stands for: by uuid through the store, or, in a view that
 * names its fields, as that view's listing returned it. */
static int job_of(struct jfs_mount *m, const struct jfs_inode *jobin, struct place *p,
		  struct jfs_error *e)
{
	const struct jfs_inode *view = jobin->view;
	if (!view_has_fields(view)) {
		int rc = jfs_store_job(m->store, jobin->uuid, &p->job, e);
		if (rc == 0)
			p->life = jfs_store_job_life(m->store, p->job);
		return rc;
	}
	struct jfs_listing *l;
	int rc = jfs_store_listing(m->store, view->query, &l, e);
	if (rc != 0)
		return rc;
	struct jfs_job *job = jfs_listing_find(l, jobin->name);
	if (!job || jfs_store_job_expired(m->store, job, l->fetched_ms)) {
		jfs_listing_unref(l);
		return jfs_error_set(e, ENOENT, "job %s is no longer in this view", jobin->uuid);
	}
	p->job = jfs_job_ref(job);
	p->life = jfs_store_listing_life(m->store, l);
	jfs_listing_unref(l);
	return 0;
}

static int resolve(struct jfs_mount *m, struct jfs_inode *in, struct place *p)
{
	struct jfs_error e;
	int rc;

	memset(p, 0, sizeof(*p));
	p->in = in;
	jfs_error_clear(&e);
	switch (in->kind) {
	case JFS_INODE_ROOT:
	case JFS_INODE_VIEW:
		rc = jfs_store_listing(m->store, in->query, &p->listing, &e);
		if (rc == 0)
			p->life = jfs_store_listing_life(m->store, p->listing);
		break;
	case JFS_INODE_JOB:
	case JFS_INODE_NODE:
		rc = job_of(m, in->job, p, &e);
		if (rc != 0)
			break;
		p->node = in->kind == JFS_INODE_JOB ? &p->job->root
						    : jfs_node_lookup(&p->job->root, in->path);
		if (!p->node)
			rc = jfs_error_set(&e, ENOENT, "job %s no longer has %s", in->uuid,
					   in->path);
		break;
	default:
		rc = -EIO;
	}
	if (rc != 0) {
		log_failure(in, NULL, rc, &e);
		place_release(p);
	}
	return rc;
}

/* ---- attributes ------------------------------------------------------------------- */

static struct timespec ts_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
	if (ts.tv_nsec < 0) {
		ts.tv_sec--;
		ts.tv_nsec += 1000000000;
	}
	return ts;
}

static nlink_t subdirs(const struct jfs_node *dir)
{
	nlink_t n = 0;
	for (size_t i = 0; i < dir->nchildren; i++)
		n += dir->children[i].is_dir;
	return n;
}

static void node_attr(struct jfs_mount *m, fuse_ino_t ino, const struct jfs_job *job,
		      const struct jfs_node *node, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = m->uid;
	st->st_gid = m->gid;
	st->st_blksize = 4096;
	if (node->is_dir) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2 + subdirs(node);
	} else {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = (off_t)node->size;
		st->st_blocks = (blkcnt_t)((node->size + 511) / 512);
	}
	st->st_mtim = st->st_ctim = st->st_atim = ts_ms(jfs_job_mtime(job) * 1000);
}

static size_t alive_jobs(struct jfs_mount *m, const struct jfs_listing *l)
{
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++)
		n += !jfs_store_job_expired(m->store, l->jobs[i], l->fetched_ms);
	return n;
}

static void place_attr(struct jfs_mount *m, const struct place *p, struct stat *st)
{
	if (p->listing) {
		memset(st, 0, sizeof(*st));
		st->st_ino = p->in->ino;
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2 + alive_jobs(m, p->listing);
		st->st_uid = m->uid;
		st->st_gid = m->gid;
		st->st_blksize = 4096;
		st->st_mtim = st->st_ctim = st->st_atim = ts_ms(p->listing->changed_ms);
	} else {
		node_attr(m, p->in->ino, p->job, p->node, st);
	}
}

/* How long the kernel may keep the name of a job in a view: a finished job stays in
 * a filter view until it expires, but a view capped by max_records changes as new
 * jobs come, so that one is only trusted for ttl. */
static double job_entry_timeout(struct jfs_mount *m, const struct jfs_inode *view,
				double life)
{
	return view_has_cap(view) && life > m->ttl ? m->ttl : life;
}

static void reply_entry(fuse_req_t req, struct jfs_mount *m, const struct place *p,
			double entry_timeout)
{
	struct fuse_entry_param ep;
	memset(&ep, 0, sizeof(ep));
	ep.ino = p->in->ino;
	ep.generation = 1;
	place_attr(m, p, &ep.attr);
	ep.attr_timeout = p->life;
	ep.entry_timeout = entry_timeout;
	if (fuse_reply_entry(req, &ep) != 0) /* the kernel never got it: no lookup */
		jfs_inodes_forget(m->inodes, p->in->ino, 1);
}

/* ---- lookup ------------------------------------------------------------------------ */

static void lookup_view(fuse_req_t req, struct jfs_mount *m, struct jfs_inode *parent,
			const char *name)
{
	struct jfs_error e;
	struct place p;
	struct jfs_query *q = parent->query ? jfs_query_dup(parent->query) : jfs_query_new();
	int rc;

	memset(&p, 0, sizeof(p));
	jfs_error_clear(&e);
	if (!q) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = jfs_query_add_segment(q, name, &e);
	if (rc == 0) /* ask the cluster now, so a segment it rejects fails here */
		rc = jfs_store_listing(m->store, q, &p.listing, &e);
	if (rc != 0) {
		log_failure(parent, name, rc, &e);
		jfs_query_free(q);
		fuse_reply_err(req, -rc);
		return;
	}
	rc = jfs_inodes_link(m->inodes, parent, name, JFS_INODE_VIEW, NULL, q, &p.in);
	if (rc != 0) {
		place_release(&p);
		fuse_reply_err(req, -rc);
		return;
	}
	p.life = jfs_store_listing_life(m->store, p.listing);
	reply_entry(req, m, &p, m->ttl);
	place_release(&p);
}

static void lookup_job(fuse_req_t req, struct jfs_mount *m, struct jfs_inode *parent,
		       const char *name)
{
	struct jfs_error e;
	struct jfs_listing *l = NULL;
	struct jfs_job *job = NULL;
	struct place p;
	int rc;

	memset(&p, 0, sizeof(p));
	jfs_error_clear(&e);
	rc = jfs_store_listing(m->store, parent->query, &l, &e);
	if (rc == 0) {
		struct jfs_job *listed = jfs_listing_find(l, name);
		if (listed && view_has_fields(parent))
			job = jfs_job_ref(listed);
		else if (listed)
			rc = jfs_store_job(m->store, listed->uuid, &job, &e);
		else if (parent->kind != JFS_INODE_ROOT)
			rc = jfs_error_set(&e, ENOENT, "no such job in this view");
		else {
			/* Not listed yet (created a moment ago): ask for it by uuid. */
			char *uuid = jfs_name_decode(name);
			rc = uuid ? jfs_store_job(m->store, uuid, &job, &e)
				  : jfs_error_set(&e, ENOENT, "not a job name");
			/* A name the cluster finds malformed as a uuid is simply not a job. */
			if (rc == -EINVAL)
				rc = -ENOENT;
			free(uuid);
		}
		/* (jfs_store_job never answers with an expired job) */
		if (rc == 0 && listed && view_has_fields(parent) &&
		    jfs_store_job_expired(m->store, job, l->fetched_ms))
			rc = jfs_error_set(&e, ENOENT, "job %s expired", job->uuid);
	}
	if (rc != 0) {
		log_failure(parent, name, rc, &e);
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
	p.life = view_has_fields(parent) ? jfs_store_listing_life(m->store, l)
					 : jfs_store_job_life(m->store, job);
	jfs_listing_unref(l);
	reply_entry(req, m, &p, job_entry_timeout(m, parent, p.life));
	place_release(&p);
}

static void lookup_node(fuse_req_t req, struct jfs_mount *m, struct jfs_inode *parent,
			const char *name)
{
	struct place p;
	int rc = resolve(m, parent, &p);
	if (rc != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	const struct jfs_node *child = p.node->is_dir ? jfs_node_child(p.node, name) : NULL;
	if (!child) {
		place_release(&p);
		fuse_reply_err(req, p.node && !p.node->is_dir ? ENOTDIR : ENOENT);
		return;
	}
	struct jfs_inode *in;
	rc = jfs_inodes_link(m->inodes, parent, name, JFS_INODE_NODE, NULL, NULL, &in);
	if (rc != 0) {
		place_release(&p);
		fuse_reply_err(req, -rc);
		return;
	}
	p.in = in;
	p.node = child;
	reply_entry(req, m, &p, p.life);
	place_release(&p);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct jfs_mount *m = mount_of(req);
	struct jfs_inode *pin = jfs_inodes_get(m->inodes, parent);

	if (!pin) {
		fuse_reply_err(req, ESTALE);
		return;
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
	case JFS_INODE_NODE:
		lookup_node(req, m, pin, name);
		return;
	}
	fuse_reply_err(req, EIO);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	jfs_inodes_forget(mount_of(req)->inodes, ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct jfs_mount *m = mount_of(req);
	for (size_t i = 0; i < count; i++)
		jfs_inodes_forget(m->inodes, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct jfs_mount *m = mount_of(req);
	struct jfs_inode *in = jfs_inodes_get(m->inodes, ino);
	struct place p;
	struct stat st;

	if (!in) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	int rc = resolve(m, in, &p);
	if (rc != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	place_attr(m, &p, &st);
	fuse_reply_attr(req, &st, p.life);
	place_release(&p);
}

/* ---- directories -------------------------------------------------------------------- */

/* An open directory: the listing or the job as they were at opendir, so that a
 * listing read in several calls is one consistent snapshot. */
struct dir_handle {
	struct jfs_open_handle h; /* first: the open list links it */
	struct place p;
};

int jfs_open_init(struct jfs_mount *m)
{
	m->open.prev = m->open.next = &m->open;
	return -pthread_mutex_init(&m->open_lock, NULL);
}

static void open_add(struct jfs_mount *m, struct jfs_open_handle *h)
{
	pthread_mutex_lock(&m->open_lock);
	h->next = m->open.next;
	h->prev = &m->open;
	m->open.next->prev = h;
	m->open.next = h;
	pthread_mutex_unlock(&m->open_lock);
}

static void open_del(struct jfs_mount *m, struct jfs_open_handle *h)
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
		open_del(m, h);
		h->free(h);
	}
	pthread_mutex_destroy(&m->open_lock);
}

static void dir_handle_free(struct jfs_open_handle *h)
{
	struct dir_handle *dh = (struct dir_handle *)h;
	place_release(&dh->p);
	free(dh);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct jfs_mount *m = mount_of(req);
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
	int rc = resolve(m, in, &dh->p);
	if (rc == 0 && !dh->p.listing && !dh->p.node->is_dir) {
		place_release(&dh->p);
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
	open_add(m, &dh->h);
	if (fuse_reply_open(req, fi) != 0) {
		open_del(m, &dh->h);
		dir_handle_free(&dh->h);
	}
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dir_handle *dh = (struct dir_handle *)(uintptr_t)fi->fh;
	if (dh) {
		open_del(mount_of(req), &dh->h);
		dir_handle_free(&dh->h);
	}
	fuse_reply_err(req, 0);
}

/* Entry i of an open directory (after "." and ".."): its name and, for readdirplus,
 * its inode and attributes (a lookup the kernel will count). Returns 1 when entry i
 * exists, 0 past the end, -1 when entry i is to be skipped. */
struct dir_entry {
	const char *name;
	mode_t mode;
	const struct jfs_job *job;   /* for attributes */
	const struct jfs_node *node; /* for attributes; NULL for listings */
};

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
	int rc = jfs_inodes_link(m->inodes, parent, de->name,
				 is_job ? JFS_INODE_JOB : JFS_INODE_NODE,
				 is_job ? de->job->uuid : NULL, NULL, &in);
	if (rc != 0)
		return rc;
	memset(ep, 0, sizeof(*ep));
	ep->ino = in->ino;
	ep->generation = 1;
	node_attr(m, in->ino, de->job, de->node, &ep->attr);
	if (is_job) {
		double life = view_has_fields(parent)
				      ? jfs_store_listing_life(m->store, dh->p.listing)
				      : jfs_store_job_life(m->store, de->job);
		ep->attr_timeout = life;
		ep->entry_timeout = job_entry_timeout(m, parent, life);
	} else {
		ep->attr_timeout = ep->entry_timeout = dh->p.life;
	}
	return 0;
}

/* Without an open handle (no-opendir mode), the directory as it is now. */
static int dir_now(struct jfs_mount *m, fuse_ino_t ino, struct dir_handle *dh)
{
	struct jfs_inode *in = jfs_inodes_get(m->inodes, ino);
	if (!in)
		return -ESTALE;
	int rc = resolve(m, in, &dh->p);
	if (rc == 0 && !dh->p.listing && !dh->p.node->is_dir) {
		place_release(&dh->p);
		rc = -ENOTDIR;
	}
	return rc;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct jfs_mount *m = mount_of(req);
	struct dir_handle now, *dh = (struct dir_handle *)(uintptr_t)fi->fh;
	char *buf;
	size_t pos = 0;

	if (!dh) {
		int rc = dir_now(m, ino, &now);
		if (rc != 0) {
			fuse_reply_err(req, -rc);
			return;
		}
		dh = &now;
	}
	buf = malloc(size);
	if (!buf) {
		if (dh == &now)
			place_release(&now.p);
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
						if (dh == &now)
							place_release(&now.p);
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
	}
	fuse_reply_buf(req, buf, pos);
	free(buf);
	if (dh == &now)
		place_release(&now.p);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

/* ---- files ------------------------------------------------------------------------------ */

/* An open file: the job it was opened on, so one open reads one value. */
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

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct jfs_mount *m = mount_of(req);
	struct jfs_inode *in = jfs_inodes_get(m->inodes, ino);
	struct place p;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (!in) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (m->no_open) {
		/* Once: from now on the kernel opens files itself, keeping their pages
		 * until their size or mtime changes or the keeper invalidates them. */
		fuse_reply_err(req, ENOSYS);
		return;
	}
	int rc = resolve(m, in, &p);
	if (rc != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (p.listing || p.node->is_dir) {
		place_release(&p);
		fuse_reply_err(req, EISDIR);
		return;
	}
	struct open_file *fh = malloc(sizeof(*fh));
	if (!fh) {
		place_release(&p);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fh->job = p.job; /* the place's reference moves to the handle */
	fh->node = p.node;
	if (jfs_job_is_terminal(fh->job))
		fi->keep_cache = 1; /* never changes: keep the pages across opens */
	else
		fi->direct_io = 1;  /* may change: every read comes here, no stale size */
	fi->fh = (uint64_t)(uintptr_t)fh;
	fh->h.free = open_file_free;
	open_add(m, &fh->h);
	if (fuse_reply_open(req, fi) != 0) {
		open_del(m, &fh->h);
		open_file_free(&fh->h);
	}
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct open_file *fh = (struct open_file *)(uintptr_t)fi->fh;
	struct place p;
	const struct jfs_node *node;

	memset(&p, 0, sizeof(p));
	if (fh) {
		node = fh->node;
	} else { /* no-open mode: the file as it is now */
		struct jfs_mount *m = mount_of(req);
		struct jfs_inode *in = jfs_inodes_get(m->inodes, ino);
		int rc = in ? resolve(m, in, &p) : -ESTALE;
		if (rc == 0 && (p.listing || p.node->is_dir)) {
			place_release(&p);
			rc = -EISDIR;
		}
		if (rc != 0) {
			fuse_reply_err(req, -rc);
			return;
		}
		node = p.node;
	}
	if (off < 0 || (size_t)off >= node->size) {
		fuse_reply_buf(req, NULL, 0);
	} else {
		size_t n = node->size - (size_t)off;
		fuse_reply_buf(req, node->data + off, n < size ? n : size);
	}
	place_release(&p);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct open_file *fh = (struct open_file *)(uintptr_t)fi->fh;
	if (fh) {
		open_del(mount_of(req), &fh->h);
		open_file_free(&fh->h);
	}
	fuse_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct jfs_mount *m = mount_of(req);
	struct statvfs st;

	memset(&st, 0, sizeof(st));
	st.f_bsize = 4096;
	st.f_frsize = 4096;
	st.f_files = jfs_inodes_count(m->inodes);
	st.f_namemax = 255;
	st.f_flag = ST_RDONLY | ST_NOSUID | ST_NODEV;
	fuse_reply_statfs(req, &st);
}

/* ---- the mount is read-only ---------------------------------------------------------- */

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
	rofs(req);
}
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
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
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.open = op_open,
	.read = op_read,
	.release = op_release,
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
