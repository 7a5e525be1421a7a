/* What an inode stands for right now (see place.h): resolution through its source,
 * the attributes the kernel sees, and how long it may keep them. */
#include "place.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "inode.h"
#include "jobsfs/error.h"
#include "jobsfs/job.h"
#include "jobsfs/log.h"
#include "jobsfs/query.h"
#include "jobsfs/listing.h"
#include "jobsfs/source.h"

#define PATH_LOG_MAX 1024

void jfs_place_release(struct jfs_place *p)
{
	jfs_listing_unref(p->listing);
	jfs_job_unref(p->job);
	memset(p, 0, sizeof(*p));
}

/* Log an error that is about to reach a user: once, with the path asked for. Not
 * finding a name is ordinary (shells and tools probe), so ENOENT is debug only, and
 * so is the failure of a fetch that another request made and logged. */
void jfs_place_log_failure(const struct jfs_inode *in, const char *child, int rc,
			   const struct jfs_error *e)
{
	char path[PATH_LOG_MAX];
	if (rc == -ENOENT || e->repeated) {
		jfs_debug("%s: %s", jfs_inode_path(in, child, path, sizeof(path)), e->message);
		return;
	}
	jfs_error_log(e, jfs_inode_path(in, child, path, sizeof(path)));
}

bool jfs_view_has_fields(const struct jfs_inode *view)
{
	return view->query && jfs_query_get(view->query, JFS_QUERY_FIELDS);
}

bool jfs_view_has_cap(const struct jfs_inode *view)
{
	return view->query && jfs_query_max_records(view->query) > 0;
}

/* The job a JOB inode stands for: by uuid from its source, or, in a view that names
 * its fields, as that view's listing returned it. */
static int job_of(struct jfs_mount *m, const struct jfs_inode *jobin, struct jfs_place *p,
		  struct jfs_error *e)
{
	const struct jfs_source *src = jfs_source_of(m, jobin);
	const struct jfs_inode *view = jobin->view;
	if (!jfs_view_has_fields(view)) {
		int rc = jfs_source_job(src, jobin->uuid, &p->job, e);
		if (rc == 0)
			p->life = jfs_source_job_life(src, p->job);
		return rc;
	}
	struct jfs_listing *l;
	int rc = jfs_source_listing(src, view->query, &l, e);
	if (rc != 0)
		return rc;
	struct jfs_job *job = jfs_listing_find(l, jobin->name);
	if (!job || jfs_source_job_expired(src, job, l->fetched_ms)) {
		jfs_listing_unref(l);
		return jfs_error_set(e, ENOENT, "job %s is no longer in this view", jobin->uuid);
	}
	p->job = jfs_job_ref(job);
	p->life = jfs_source_listing_life(src, l);
	jfs_listing_unref(l);
	return 0;
}

int jfs_place_resolve(struct jfs_mount *m, struct jfs_inode *in, struct jfs_place *p)
{
	struct jfs_error e;
	int rc;

	memset(p, 0, sizeof(*p));
	p->in = in;
	jfs_error_clear(&e);
	switch (in->kind) {
	case JFS_INODE_ROOT:
	case JFS_INODE_VIEW:
		rc = jfs_source_listing(jfs_source_of(m, in), in->query, &p->listing, &e);
		if (rc == 0) {
			jfs_inodes_set_listing(m->inodes, in, p->listing);
			p->life = jfs_source_listing_life(jfs_source_of(m, in), p->listing);
		}
		break;
	case JFS_INODE_FILE:
		/* One version, for good (see inode.h): no store, no network. */
		jfs_inodes_file(m->inodes, in, &p->job, &p->node);
		rc = p->node ? 0 : jfs_error_set(&e, EIO, "job %s: no %s in its version", in->uuid,
						 in->path);
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
	case JFS_INODE_FLEET: /* (fleetdir.c: no place of a cluster) */
		rc = jfs_error_set(&e, EISDIR, "a fleet's directory");
		break;
	case JFS_INODE_GAPS: /* a file made anew at each read (gaps.c), no job's */
	case JFS_INODE_WAIT: /* files of no version: wait.c and ctl.c serve them */
	case JFS_INODE_CTL:
		rc = jfs_error_set(&e, ENOTDIR, "not a directory, nor a job's field");
		break;
	default:
		rc = -EIO;
	}
	if (rc != 0) {
		jfs_place_log_failure(in, NULL, rc, &e);
		jfs_place_release(p);
	}
	return rc;
}

int jfs_place_resolve_attr(struct jfs_mount *m, struct jfs_inode *in, struct jfs_place *p)
{
	if (in->kind != JFS_INODE_ROOT && in->kind != JFS_INODE_VIEW)
		return jfs_place_resolve(m, in, p);
	memset(p, 0, sizeof(*p));
	p->in = in;
	p->listing = jfs_inodes_listing(m->inodes, in);
	if (p->listing)
		p->life = jfs_source_listing_life(jfs_source_of(m, in), p->listing);
	return 0;
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
		n += jfs_node_children(dir)[i].is_dir;
	return n;
}

void jfs_file_attr_fill(struct jfs_mount *m, fuse_ino_t ino, mode_t perm, size_t size,
			int64_t mtime_ms, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFREG | perm;
	st->st_nlink = 1;
	st->st_uid = m->uid;
	st->st_gid = m->gid;
	st->st_blksize = 4096;
	st->st_size = (off_t)size;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	st->st_mtim = st->st_ctim = st->st_atim = ts_ms(mtime_ms);
}

void jfs_node_attr_fill(struct jfs_mount *m, fuse_ino_t ino, const struct jfs_job *job,
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

/* What a listing's directory shows now: its jobs not yet expired, the last moment
 * its names changed (an expiry changes them too), and the next moment one of its
 * jobs will expire. */
struct listing_now {
	size_t alive;
	int64_t changed_ms;
	int64_t next_expiry_ms; /* INT64_MAX: none */
};

static void listing_now(const struct jfs_source *src, const struct jfs_listing *l,
			struct listing_now *ln)
{
	int64_t now = jfs_source_now_ms(src);
	ln->alive = 0;
	ln->changed_ms = l->changed_ms;
	ln->next_expiry_ms = INT64_MAX;
	for (size_t i = 0; i < l->n; i++) {
		int64_t at = jfs_source_job_expires_ms(src, l->jobs[i], l->fetched_ms);
		if (at > now) {
			ln->alive++;
			if (at < ln->next_expiry_ms)
				ln->next_expiry_ms = at;
		} else if (at > ln->changed_ms) {
			ln->changed_ms = at;
		}
	}
}

double jfs_node_attr_timeout(const struct jfs_node *node, double life)
{
	return node->is_dir ? life : JFS_FILE_ATTR_TIMEOUT;
}

double jfs_place_attr(struct jfs_mount *m, const struct jfs_place *p, struct stat *st)
{
	if (!p->listing && !p->node) { /* a directory never listed yet (see resolve_attr) */
		memset(st, 0, sizeof(*st));
		st->st_ino = p->in->ino;
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		st->st_uid = m->uid;
		st->st_gid = m->gid;
		st->st_blksize = 4096;
		st->st_mtim = st->st_ctim = st->st_atim = ts_ms(m->mounted_ms);
		return 0; /* the kernel asks again: the first listing gives the real ones */
	}
	if (!p->listing) {
		jfs_node_attr_fill(m, p->in->ino, p->job, p->node, st);
		return jfs_node_attr_timeout(p->node, p->life);
	}
	const struct jfs_source *src = jfs_source_of(m, p->in);
	struct listing_now ln;
	listing_now(src, p->listing, &ln);
	memset(st, 0, sizeof(*st));
	st->st_ino = p->in->ino;
	st->st_mode = S_IFDIR | 0555;
	st->st_nlink = 2 + ln.alive;
	st->st_uid = m->uid;
	st->st_gid = m->gid;
	st->st_blksize = 4096;
	st->st_mtim = st->st_atim = ts_ms(ln.changed_ms);
	/* The mtime moves when jobs come or go (the kernel drops the listing it keeps
	 * then); the ctime stays the mount's, as for a directory never listed yet: tar
	 * compares a directory's ctime before and after reading it, and its first
	 * listing is no change of the directory. */
	st->st_ctim = ts_ms(m->mounted_ms);
	double life = p->life;
	if (ln.next_expiry_ms != INT64_MAX) {
		double until = (double)(ln.next_expiry_ms - jfs_source_now_ms(src)) / 1000.0;
		if (until < life)
			life = until > 0 ? until : 0;
	}
	return life;
}

/* How long the kernel may keep the name of a job in a view: a finished job stays in
 * a filter view until it expires, but a view capped by max_records changes as new
 * jobs come, so that one is only trusted for ttl. */
double jfs_job_entry_timeout(struct jfs_mount *m, const struct jfs_inode *view, double life)
{
	double ttl = view->cluster->ttl;
	return jfs_view_has_cap(view) && life > ttl ? ttl : life;
}
