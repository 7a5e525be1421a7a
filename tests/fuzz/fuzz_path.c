/* Fuzz target: path resolution as the driver does it (fs/ops.c lookup, fs/place.c),
 * without a mount: what the kernel would ask, one name at a time, from the root.
 *
 * Input: a JSON body, then path segments, each after a NUL byte:
 *     {"records":[{"uuid":"u1","state":"failure",...}]} \0 state=failure \0 u1 \0 error
 * The body is a collection page (or, when it is not one, a single-job body): the jobs
 * of the listing. Each segment is looked up where the walk stands: in the root or a
 * view, a query segment (jfs_segment_is_query) narrows the view by a copy of its query
 * and jfs_query_add_segment, any other name is a job, found by its directory name or,
 * in the root, by the uuid jfs_name_decode gives; in a job, a name is a child
 * (jfs_node_child). A refused segment leaves the walk where it was (the next name is a
 * new lookup in the same directory).
 *
 * Checks: the node found name by name is the one jfs_node_lookup finds from the job
 * by the whole path (how place.c resolves a node inode), and exists exactly when a
 * child of that name does; a job found by name decodes to its uuid; and, for every
 * segment as a raw name (any bytes but NUL), the jfs_name_encode / jfs_name_decode
 * invariants: decode(encode(x)) == x, encode(x) never holds '/', is never "", "." or
 * "..", and is never longer than NAME_MAX. */
#include "fuzz.h"

#include "jobsfs/error.h"
#include "jobsfs/job.h"
#include "jobsfs/page.h"
#include "jobsfs/query.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#define MAX_SEGMENTS 64
#define MAX_PATH_BYTES 4096 /* PATH_MAX: the kernel asks no deeper */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_log();
	return 0;
}

enum where { AT_ROOT, AT_VIEW, AT_JOB, AT_NODE };

struct walk {
	const struct jfs_page *listing;
	enum where where;
	struct jfs_query *query;     /* AT_VIEW: the view's whole query */
	const struct jfs_job *job;   /* AT_JOB, AT_NODE */
	const struct jfs_node *node; /* AT_JOB, AT_NODE */
	char path[MAX_PATH_BYTES];   /* AT_NODE: the path within the job ("a/b") */
};

/* The job in the listing whose directory is `name`, or NULL. */
static const struct jfs_job *find_by_name(const struct jfs_page *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->jobs[i]->name, name) == 0)
			return l->jobs[i];
	return NULL;
}

static const struct jfs_job *find_by_uuid(const struct jfs_page *l, const char *uuid)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->jobs[i]->uuid, uuid) == 0)
			return l->jobs[i];
	return NULL;
}

/* A name in the root or a view. */
static void lookup_in_view(struct walk *w, const char *name)
{
	if (jfs_segment_is_query(name)) {
		struct jfs_query *q = w->query ? jfs_query_dup(w->query) : jfs_query_new();
		struct jfs_error e;
		if (!q)
			abort();
		jfs_error_clear(&e);
		int rc = jfs_query_add_segment(q, name, &e);
		if (rc < 0) {
			FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM, "refused with %d", rc);
			FUZZ_CHECK(e.err == -rc && e.message[0], "refused without a message");
			jfs_query_free(q);
			return;
		}
		FUZZ_CHECK(jfs_query_count(q) == (w->query ? jfs_query_count(w->query) : 0) + 1,
			   "a view one segment deeper is one parameter more");
		jfs_query_free(w->query);
		w->query = q;
		w->where = AT_VIEW;
		return;
	}
	const struct jfs_job *job = find_by_name(w->listing, name);
	if (job) {
		char *uuid = jfs_name_decode(name);
		FUZZ_CHECK(uuid && strcmp(uuid, job->uuid) == 0,
			   "job directory \"%s\" does not decode to its uuid %s", name, job->uuid);
		free(uuid);
	} else if (w->where == AT_ROOT) {
		/* Not listed: lookup asks the cluster for the uuid the name decodes to. */
		char *uuid = jfs_name_decode(name);
		if (uuid) {
			job = find_by_uuid(w->listing, uuid);
			/* Listed under its encoded name, so found above, unless the name was
			 * another encoding of it (e.g. "%2E" inside). */
			if (job)
				FUZZ_CHECK(strcmp(job->name, name) != 0, "missed by name");
			free(uuid);
		}
	}
	if (!job)
		return;
	w->where = AT_JOB;
	w->job = job;
	w->node = &job->root;
	w->path[0] = '\0';
}

/* A name in a job or a directory within it. */
static void lookup_in_job(struct walk *w, const char *name)
{
	const struct jfs_node *child = w->node->is_dir ? jfs_node_child(w->node, name) : NULL;

	/* The binary search agrees with a plain scan. */
	const struct jfs_node *scan = NULL;
	if (w->node->is_dir)
		for (size_t i = 0; i < w->node->nchildren && !scan; i++)
			if (strcmp(jfs_node_name(&jfs_node_children(w->node)[i]), name) == 0)
				scan = &jfs_node_children(w->node)[i];
	FUZZ_CHECK(child == scan, "jfs_node_child(\"%s\") disagrees with a scan", name);
	if (!child)
		return;

	size_t used = strlen(w->path);
	if (used + 1 + strlen(name) + 1 > sizeof(w->path))
		return; /* deeper than a path the kernel would send */
	if (used > 0)
		w->path[used++] = '/';
	strcpy(w->path + used, name);

	const struct jfs_node *by_path = jfs_node_lookup(&w->job->root, w->path);
	FUZZ_CHECK(by_path == child, "\"%s\" found name by name, not by path (%p vs %p)",
		   w->path, (const void *)child, (const void *)by_path);
	w->where = AT_NODE;
	w->node = child;
}

/* jfs_node_lookup's contract, by hand: '/'-separated parts, empty ones skipped, each a
 * child (found by a plain scan) of the one before. */
static const struct jfs_node *lookup_by_hand(const struct jfs_node *dir, const char *path)
{
	while (dir && *path) {
		size_t n = strcspn(path, "/");
		if (n > 0) {
			const struct jfs_node *next = NULL;
			for (size_t i = 0; dir->is_dir && i < dir->nchildren && !next; i++)
				if (strlen(jfs_node_name(&jfs_node_children(dir)[i])) == n &&
				    memcmp(jfs_node_name(&jfs_node_children(dir)[i]), path, n) == 0)
					next = &jfs_node_children(dir)[i];
			dir = next;
		}
		path += n;
		if (*path == '/')
			path++;
	}
	return dir;
}

/* The listing the body gives: a page, or one job as a page, or none. */
static int parse_listing(const char *body, size_t len, struct jfs_page *page)
{
	struct jfs_error e;
	jfs_error_clear(&e);
	if (jfs_page_parse(body, len, JFS_MAX_DEPTH_DEFAULT, page, &e) == 0)
		return 0;
	struct jfs_job *job;
	if (jfs_job_parse(body, len, JFS_MAX_DEPTH_DEFAULT, &job, &e) < 0)
		return -1;
	page->jobs = malloc(sizeof(*page->jobs));
	if (!page->jobs)
		abort();
	page->jobs[0] = job;
	page->n = 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *end = memchr(data, '\0', size);
	size_t body_len = end ? (size_t)(end - data) : size;
	struct jfs_page listing;
	memset(&listing, 0, sizeof(listing));

	if (parse_listing((const char *)data, body_len, &listing) < 0)
		memset(&listing, 0, sizeof(listing)); /* no jobs: names still resolve */
	for (size_t i = 0; i < listing.n; i++)
		fuzz_check_job(listing.jobs[i]);

	struct walk w = { .listing = &listing, .where = AT_ROOT };
	char *segs = fuzz_strndup(data, size);
	size_t n = 0;
	for (size_t at = body_len + 1; at < size && n < MAX_SEGMENTS; n++) {
		const char *name = segs + at;
		at += strlen(name) + 1;

		fuzz_check_name_round_trip(name);
		/* The segment as a whole path within the job the walk is in (or the
		 * first job): any bytes, '/' and long parts included. */
		const struct jfs_job *in = w.job ? w.job : listing.n ? listing.jobs[0] : NULL;
		if (in)
			FUZZ_CHECK(jfs_node_lookup(&in->root, name) ==
					   lookup_by_hand(&in->root, name),
				   "jfs_node_lookup(\"%s\") disagrees with its contract", name);
		/* The kernel sends only one component, never "", "." or "..", and never
		 * more than NAME_MAX bytes. */
		if (name[0] == '\0' || strchr(name, '/') || strcmp(name, ".") == 0 ||
		    strcmp(name, "..") == 0 || strlen(name) > NAME_MAX)
			continue;
		if (w.where == AT_ROOT || w.where == AT_VIEW)
			lookup_in_view(&w, name);
		else
			lookup_in_job(&w, name);
	}

	jfs_query_free(w.query);
	free(segs);
	jfs_page_free(&listing);
	return 0;
}
