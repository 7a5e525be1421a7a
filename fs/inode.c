/* The inode table (see inode.h): two chained hash maps over the same inodes, one by
 * number and one by (parent number, name). */
#include "inode.h"
#include "mount.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobsfs/job.h"
#include "jobsfs/query.h"
#include "jobsfs/listing.h"
#include "jobsfs/source.h"

struct jfs_inodes {
	/* Guards both maps, next_ino, and every inode's listing, version, named, nlookup,
	 * refs and chain links. */
	pthread_mutex_t lock;
	struct jfs_inode **by_ino;  /* ino -> inode */
	struct jfs_inode **by_name; /* (parent ino, name) -> inode */
	size_t nbuckets;	    /* both maps; a power of two */
	size_t count;
	fuse_ino_t next_ino;	    /* numbers are never reused within a mount */
	struct jfs_inode *root;
	struct jfs_inode *dirs;	    /* inodes holding a listing, by dir_next */
};

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static uint64_t name_hash(fuse_ino_t parent, const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ mix64(parent);
	for (; *name; name++) {
		h ^= (unsigned char)*name;
		h *= 1099511628211ULL;
	}
	return h;
}

static void insert_locked(struct jfs_inodes *t, struct jfs_inode *in)
{
	size_t mask = t->nbuckets - 1;
	struct jfs_inode **bi = &t->by_ino[mix64(in->ino) & mask];
	in->ino_next = *bi;
	*bi = in;
	if (in->parent) {
		struct jfs_inode **bn = &t->by_name[in->name_hash & mask];
		in->name_next = *bn;
		*bn = in;
		in->named = true;
	}
	t->count++;
}

/* Take in out of the (parent, name) map: a newer version of the file has the name. */
static void unname_locked(struct jfs_inodes *t, struct jfs_inode *in)
{
	for (struct jfs_inode **p = &t->by_name[in->name_hash & (t->nbuckets - 1)]; *p;
	     p = &(*p)->name_next)
		if (*p == in) {
			*p = in->name_next;
			break;
		}
	in->named = false;
}

static void remove_locked(struct jfs_inodes *t, struct jfs_inode *in)
{
	size_t mask = t->nbuckets - 1;
	if (in->kind != JFS_INODE_FILE && in->listing)
		for (struct jfs_inode **p = &t->dirs; *p; p = &(*p)->dir_next)
			if (*p == in) {
				*p = in->dir_next;
				break;
			}
	for (struct jfs_inode **p = &t->by_ino[mix64(in->ino) & mask]; *p; p = &(*p)->ino_next)
		if (*p == in) {
			*p = in->ino_next;
			break;
		}
	if (in->named)
		unname_locked(t, in);
	t->count--;
}

/* Doubling both maps; a failed grow just leaves the chains longer. */
static void grow_locked(struct jfs_inodes *t)
{
	size_t nb = t->nbuckets * 2;
	struct jfs_inode **bi = calloc(nb, sizeof(*bi));
	struct jfs_inode **bn = calloc(nb, sizeof(*bn));
	if (!bi || !bn) {
		free(bi);
		free(bn);
		return;
	}
	for (size_t i = 0; i < t->nbuckets; i++) {
		for (struct jfs_inode *in = t->by_ino[i], *next; in; in = next) {
			next = in->ino_next;
			in->ino_next = bi[mix64(in->ino) & (nb - 1)];
			bi[mix64(in->ino) & (nb - 1)] = in;
		}
		for (struct jfs_inode *in = t->by_name[i], *next; in; in = next) {
			next = in->name_next;
			in->name_next = bn[in->name_hash & (nb - 1)];
			bn[in->name_hash & (nb - 1)] = in;
		}
	}
	free(t->by_ino);
	free(t->by_name);
	t->by_ino = bi;
	t->by_name = bn;
	t->nbuckets = nb;
}

/* The strings of an inode live in its own allocation (see inode_new). */
static void inode_free(struct jfs_inode *in)
{
	if (in->kind == JFS_INODE_FILE)
		jfs_job_unref(in->version);
	else
		jfs_listing_unref(in->listing);
	jfs_query_free(in->query);
	free(in);
}

static struct jfs_inode *inode_new(struct jfs_inode *parent, const char *name,
				   enum jfs_inode_kind kind, const char *uuid,
				   struct jfs_query *query);

int jfs_inodes_new(struct jfs_cluster *cluster, struct jfs_inodes **out)
{
	struct jfs_inodes *t = calloc(1, sizeof(*t));
	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->nbuckets = 1024;
	t->by_ino = calloc(t->nbuckets, sizeof(*t->by_ino));
	t->by_name = calloc(t->nbuckets, sizeof(*t->by_name));
	t->root = inode_new(NULL, "", JFS_INODE_ROOT, NULL, NULL);
	if (!t->by_ino || !t->by_name || !t->root || pthread_mutex_init(&t->lock, NULL) != 0) {
		free(t->by_ino);
		free(t->by_name);
		free(t->root);
		free(t);
		return -ENOMEM;
	}
	t->root->ino = FUSE_ROOT_ID;
	t->root->kind = cluster ? JFS_INODE_ROOT : JFS_INODE_FLEET;
	t->root->cluster = cluster;
	t->root->nlookup = 1; /* the kernel never forgets the root */
	t->next_ino = FUSE_ROOT_ID + 1;
	insert_locked(t, t->root);
	*out = t;
	return 0;
}

void jfs_inodes_free(struct jfs_inodes *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nbuckets; i++)
		for (struct jfs_inode *in = t->by_ino[i], *next; in; in = next) {
			next = in->ino_next;
			inode_free(in);
		}
	free(t->by_ino);
	free(t->by_name);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static struct jfs_inode *get_locked(struct jfs_inodes *t, fuse_ino_t ino)
{
	for (struct jfs_inode *in = t->by_ino[mix64(ino) & (t->nbuckets - 1)]; in;
	     in = in->ino_next)
		if (in->ino == ino)
			return in;
	return NULL;
}

struct jfs_inode *jfs_inodes_get(struct jfs_inodes *t, fuse_ino_t ino)
{
	pthread_mutex_lock(&t->lock);
	struct jfs_inode *in = get_locked(t, ino);
	pthread_mutex_unlock(&t->lock);
	return in;
}

/* A new inode for (parent, name); NULL on ENOMEM (or a JOB without uuid). Takes
 * query. One allocation: the strings follow the struct, and are shared where they
 * can be: a node's path ends with its name (name points into it), a node uses its job
 * directory's uuid (the job directory outlives it: it is an ancestor), and a job
 * directory whose name is its uuid (the usual case) holds it once. A cold `find` over
 * 100,000 jobs makes a million inodes, and the inode table was its largest userspace
 * cost (tests/bench/RESULTS.md): four allocations each, now one. */
static struct jfs_inode *inode_new(struct jfs_inode *parent, const char *name,
				   enum jfs_inode_kind kind, const char *uuid,
				   struct jfs_query *query)
{
	size_t name_len = strlen(name) + 1;
	size_t prefix = 0;  /* NODE below a node: "parent/path/" before the name */
	size_t uuid_len = 0; /* JOB: a uuid that is not the name, stored after it */

	if (kind == JFS_INODE_JOB) {
		if (!uuid) {
			jfs_query_free(query);
			return NULL;
		}
		if (strcmp(uuid, name) != 0)
			uuid_len = strlen(uuid) + 1;
	} else if ((kind == JFS_INODE_NODE || kind == JFS_INODE_FILE) &&
		   parent->kind == JFS_INODE_NODE) {
		prefix = strlen(parent->path) + 1;
	}
	struct jfs_inode *in = calloc(1, sizeof(*in) + prefix + name_len + uuid_len);
	if (!in) {
		jfs_query_free(query);
		return NULL;
	}
	char *text = (char *)(in + 1);
	if (prefix) {
		memcpy(text, parent->path, prefix - 1);
		text[prefix - 1] = '/';
	}
	memcpy(text + prefix, name, name_len);
	in->name = text + prefix;
	in->kind = kind;
	in->parent = parent;
	in->query = query;
	in->history = parent && (parent->history ||
				 (kind == JFS_INODE_ROOT && parent->kind == JFS_INODE_ROOT));
	in->cluster = parent ? parent->cluster : NULL;
	switch (kind) {
	case JFS_INODE_JOB:
		in->view = parent;
		in->job = in;
		in->path = "";
		if (uuid_len) {
			memcpy(text + name_len, uuid, uuid_len);
			in->uuid = text + name_len;
		} else {
			in->uuid = in->name;
		}
		break;
	case JFS_INODE_NODE:
	case JFS_INODE_FILE:
	case JFS_INODE_WAIT:
	case JFS_INODE_CTL:
		in->view = parent->view;
		in->job = parent->job;
		in->uuid = parent->uuid;
		in->path = text; /* "name" below a job directory, else "parent/path/name" */
		break;
	case JFS_INODE_FLEET:
	case JFS_INODE_ROOT:
	case JFS_INODE_VIEW:
	case JFS_INODE_GAPS:
		break;
	}
	return in;
}

/* The inode named (parent, name) now, or NULL. */
static struct jfs_inode *named_locked(struct jfs_inodes *t, struct jfs_inode *parent,
				      const char *name, uint64_t h)
{
	for (struct jfs_inode *in = t->by_name[h & (t->nbuckets - 1)]; in; in = in->name_next)
		if (in->name_hash == h && in->parent == parent && strcmp(in->name, name) == 0)
			return in;
	return NULL;
}

/* A new inode for (parent, name), in both maps (see inode_new). */
static struct jfs_inode *add_locked(struct jfs_inodes *t, struct jfs_inode *parent,
				    const char *name, uint64_t h, enum jfs_inode_kind kind,
				    const char *uuid, struct jfs_query *query)
{
	struct jfs_inode *in = inode_new(parent, name, kind, uuid, query);
	if (!in)
		return NULL;
	in->ino = t->next_ino++;
	in->name_hash = h;
	in->nlookup = 1;
	parent->refs++;
	if (t->count >= t->nbuckets)
		grow_locked(t);
	insert_locked(t, in);
	return in;
}

int jfs_inodes_link(struct jfs_inodes *t, struct jfs_inode *parent, const char *name,
		    enum jfs_inode_kind kind, const char *uuid, struct jfs_query *query,
		    struct jfs_inode **out)
{
	uint64_t h = name_hash(parent->ino, name);

	pthread_mutex_lock(&t->lock);
	struct jfs_inode *in = named_locked(t, parent, name, h);
	if (in && in->kind == kind && kind != JFS_INODE_WAIT) {
		in->nlookup++;
		pthread_mutex_unlock(&t->lock);
		jfs_query_free(query);
		*out = in;
		return 0;
	}
	/* Built under the lock so that two racing lookups of one name make one inode. */
	struct jfs_inode *made = add_locked(t, parent, name, h, kind, uuid, query);
	if (made && in) /* a field that was a file is now a directory, or the other way;
			 * or another reader's wait */
		unname_locked(t, in);
	pthread_mutex_unlock(&t->lock);
	*out = made;
	return made ? 0 : -ENOMEM;
}

int jfs_inodes_link_cluster(struct jfs_inodes *t, struct jfs_inode *fleet, const char *name,
			    struct jfs_cluster *c, struct jfs_inode **out)
{
	uint64_t h = name_hash(fleet->ino, name);

	pthread_mutex_lock(&t->lock);
	struct jfs_inode *in = named_locked(t, fleet, name, h);
	if (in) {
		in->nlookup++;
	} else if ((in = add_locked(t, fleet, name, h, JFS_INODE_ROOT, NULL, NULL))) {
		in->cluster = c;
		in->history = false;
	}
	pthread_mutex_unlock(&t->lock);
	*out = in;
	return in ? 0 : -ENOMEM;
}

/* What a file's attributes are made of besides the constant ones: its value (so its
 * size) and its job's mtime. */
static bool same_file(const struct jfs_job *a, const struct jfs_node *fa,
		      const struct jfs_job *b, const struct jfs_node *fb)
{
	if (fa == fb)
		return true;
	return fa && jfs_file_same(fa, fb) && jfs_job_mtime(a) == jfs_job_mtime(b);
}

int jfs_inodes_link_file(struct jfs_inodes *t, struct jfs_inode *parent, const char *name,
			 struct jfs_job *version, const struct jfs_node *file,
			 struct jfs_inode **out)
{
	uint64_t h = name_hash(parent->ino, name);
	struct jfs_job *drop = NULL;

	pthread_mutex_lock(&t->lock);
	struct jfs_inode *in = named_locked(t, parent, name, h);
	bool is_file = in && in->kind == JFS_INODE_FILE;
	if (is_file &&
	    same_file(in->version, jfs_node_lookup(&in->version->root, in->path), version, file)) {
		in->nlookup++;
		if (version->seq > in->version->seq) { /* the same file: keep the newer job */
			drop = in->version;
			in->version = jfs_job_ref(version);
		}
	} else if (is_file && in->version->seq > version->seq) {
		/* The caller holds an older job than the name shows (a directory handle
		 * opened before, a lookup that raced a newer one): the name stays. */
		in->nlookup++;
	} else {
		struct jfs_inode *made = add_locked(t, parent, name, h, JFS_INODE_FILE, NULL, NULL);
		if (made) {
			made->version = jfs_job_ref(version);
			if (in)
				unname_locked(t, in); /* its readers keep their version */
		}
		in = made;
	}
	pthread_mutex_unlock(&t->lock);
	jfs_job_unref(drop); /* may free a job: outside the lock */
	*out = in;
	return in ? 0 : -ENOMEM;
}

void jfs_inodes_file(struct jfs_inodes *t, struct jfs_inode *in, struct jfs_job **version,
		     const struct jfs_node **file)
{
	pthread_mutex_lock(&t->lock);
	*version = jfs_job_ref(in->version);
	pthread_mutex_unlock(&t->lock);
	*file = jfs_node_lookup(&(*version)->root, in->path); /* there when it was linked */
}

int jfs_inodes_named_file(struct jfs_inodes *t, struct jfs_inode *parent, const char *name,
			  fuse_ino_t *ino, struct jfs_job **version,
			  const struct jfs_node **file)
{
	uint64_t h = name_hash(parent->ino, name);
	int rc = -ENOENT;

	pthread_mutex_lock(&t->lock);
	struct jfs_inode *in = named_locked(t, parent, name, h);
	if (in && in->kind == JFS_INODE_FILE) {
		*ino = in->ino;
		*version = jfs_job_ref(in->version);
		*file = jfs_node_lookup(&in->version->root, in->path);
		rc = 0;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

struct jfs_listing *jfs_inodes_listing(struct jfs_inodes *t, struct jfs_inode *in)
{
	pthread_mutex_lock(&t->lock);
	struct jfs_listing *l = jfs_listing_ref(in->listing);
	pthread_mutex_unlock(&t->lock);
	return l;
}

void jfs_inodes_set_listing(struct jfs_inodes *t, struct jfs_inode *in,
			    struct jfs_listing *l)
{
	struct jfs_listing *old = NULL;
	pthread_mutex_lock(&t->lock);
	if (in->listing != l && (!in->listing || l->fetched_ms >= in->listing->fetched_ms)) {
		old = in->listing;
		if (!old) {
			in->dir_next = t->dirs;
			t->dirs = in;
		}
		in->listing = jfs_listing_ref(l);
		in->listing_told = false;
	}
	pthread_mutex_unlock(&t->lock);
	jfs_listing_unref(old); /* may free a whole listing: outside the lock */
}

long jfs_inodes_stale_dirs(struct jfs_inodes *t, fuse_ino_t **out)
{
	size_t n = 0, cap = 0;
	fuse_ino_t *inos = NULL;

	*out = NULL;
	pthread_mutex_lock(&t->lock);
	for (struct jfs_inode *in = t->dirs; in; in = in->dir_next) {
		if (in->listing_told ||
		    jfs_source_listing_life(jfs_cluster_source(in->cluster, in->history),
					    in->listing) > 0)
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			fuse_ino_t *r = realloc(inos, nc * sizeof(*r));
			if (!r) {
				pthread_mutex_unlock(&t->lock);
				free(inos);
				return -ENOMEM;
			}
			inos = r;
			cap = nc;
		}
		inos[n++] = in->ino;
		in->listing_told = true;
	}
	pthread_mutex_unlock(&t->lock);
	*out = inos;
	return (long)n;
}

void jfs_inodes_forget(struct jfs_inodes *t, fuse_ino_t ino, uint64_t n)
{
	pthread_mutex_lock(&t->lock);
	struct jfs_inode *in = get_locked(t, ino);
	if (in && in != t->root) {
		in->nlookup = n < in->nlookup ? in->nlookup - n : 0;
		/* Free it, then any parent only it was keeping. */
		while (in && in != t->root && in->nlookup == 0 && in->refs == 0) {
			struct jfs_inode *parent = in->parent;
			remove_locked(t, in);
			inode_free(in);
			parent->refs--;
			in = parent;
		}
	}
	pthread_mutex_unlock(&t->lock);
}

static int cmp_uuid(const void *key, const void *elem)
{
	return strcmp(key, *(char *const *)elem);
}

long jfs_inodes_of_jobs(struct jfs_inodes *t, char *const *uuids, size_t nuuids,
			struct jfs_inode_ref **out)
{
	size_t n = 0, cap = 0;
	struct jfs_inode_ref *refs = NULL;

	*out = NULL;
	pthread_mutex_lock(&t->lock);
	/* Two passes, linear in the inodes: mark the job directories of these uuids (a
	 * binary search each), then take every inode whose job directory is marked. A
	 * search for every inode's uuid took 1.4 s for 1.4 million inodes. The first pass
	 * sets every job directory's mark, true or false, so none is cleared after. */
	for (size_t i = 0; i < t->nbuckets; i++)
		for (struct jfs_inode *in = t->by_ino[i]; in; in = in->ino_next)
			if (in->kind == JFS_INODE_JOB)
				in->marked = bsearch(in->uuid, uuids, nuuids, sizeof(*uuids),
						     cmp_uuid) != NULL;
	for (size_t i = 0; i < t->nbuckets; i++)
		for (struct jfs_inode *in = t->by_ino[i]; in; in = in->ino_next) {
			if (!in->uuid || !in->job->marked || in->kind == JFS_INODE_WAIT ||
			    in->kind == JFS_INODE_CTL)
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 64;
				struct jfs_inode_ref *r = realloc(refs, nc * sizeof(*r));
				if (!r)
					goto nomem;
				refs = r;
				cap = nc;
			}
			refs[n].name = strdup(in->name);
			if (!refs[n].name)
				goto nomem;
			refs[n].parent = in->parent->ino;
			refs[n].listed = in->kind == JFS_INODE_JOB;
			refs[n].file = in->kind == JFS_INODE_FILE;
			refs[n].ino = in->ino;
			n++;
		}
	pthread_mutex_unlock(&t->lock);
	*out = refs;
	return (long)n;
nomem:
	pthread_mutex_unlock(&t->lock);
	jfs_inode_refs_free(refs, n);
	return -ENOMEM;
}

static int cmp_ino(const void *a, const void *b)
{
	fuse_ino_t x = *(const fuse_ino_t *)a, y = *(const fuse_ino_t *)b;
	return x < y ? -1 : x > y;
}

long jfs_inode_refs_dirs(const struct jfs_inode_ref *refs, size_t n, fuse_ino_t **out)
{
	size_t k = 0;

	*out = NULL;
	for (size_t i = 0; i < n; i++)
		k += refs[i].listed;
	if (k == 0)
		return 0;
	fuse_ino_t *dirs = malloc(k * sizeof(*dirs));
	if (!dirs)
		return -ENOMEM;
	k = 0;
	for (size_t i = 0; i < n; i++)
		if (refs[i].listed)
			dirs[k++] = refs[i].parent;
	/* Sorted, then each once: n log n, where a scan of the earlier entries for each
	 * was quadratic (10^9 steps for 10,000 jobs after a find). */
	qsort(dirs, k, sizeof(*dirs), cmp_ino);
	size_t u = 0;
	for (size_t i = 0; i < k; i++)
		if (u == 0 || dirs[u - 1] != dirs[i])
			dirs[u++] = dirs[i];
	*out = dirs;
	return (long)u;
}

void jfs_inode_refs_free(struct jfs_inode_ref *refs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(refs[i].name);
	free(refs);
}

const char *jfs_inode_path(const struct jfs_inode *inode, const char *child, char *buf,
			   size_t len)
{
	/* Walk up collecting names, then write them root first. Parents are held by
	 * their children, so the chain is alive while inode is. */
	const char *names[256];
	size_t depth = 0, pos = 0;

	if (child)
		names[depth++] = child;
	for (const struct jfs_inode *in = inode; in && in->parent && depth < 256;
	     in = in->parent)
		names[depth++] = in->name;
	buf[0] = '\0';
	if (depth == 0)
		snprintf(buf, len, "/");
	while (depth > 0 && pos < len) {
		int w = snprintf(buf + pos, len - pos, "/%s", names[--depth]);
		if (w < 0)
			break;
		pos += (size_t)w;
	}
	return buf;
}

size_t jfs_inodes_count(struct jfs_inodes *t)
{
	pthread_mutex_lock(&t->lock);
	size_t n = t->count;
	pthread_mutex_unlock(&t->lock);
	return n;
}
