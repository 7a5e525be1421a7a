/* The jobs API client: every page of a collection query, one job by uuid, errors
 * mapped to errno. Thread-safe: any number of threads may call it at once. */
#ifndef JOBSFS_CLIENT_H
#define JOBSFS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "jobsfs/http.h"

struct jfs_error;
struct jfs_job;
struct jfs_query;

#define JFS_JOBS_PATH "/api/cluster/jobs"
#define JFS_PAGE_SIZE_DEFAULT 1000

struct jfs_client_config {
	struct jfs_http_config http;
	unsigned page_size;	/* max_records per page (JFS_PAGE_SIZE_DEFAULT) */
	int max_depth;		/* JSON nesting limit (JFS_MAX_DEPTH_DEFAULT) */
};

struct jfs_job_list {
	struct jfs_job **jobs;	/* n jobs, one reference each owned by the list */
	size_t n;
	size_t pages;		/* pages fetched */
};

struct jfs_client;

int jfs_client_new(const struct jfs_client_config *cfg, struct jfs_client **out,
		   struct jfs_error *e);
void jfs_client_free(struct jfs_client *c);

/* All jobs matching q (NULL: all jobs), with fields=* unless q names fields. Follows
 * _links.next over every page, only to the same origin (another origin is -EIO and
 * a log line; credentials are never sent there), stopping when a next link repeats;
 * empty pages that carry a next link are followed. When q has max_records, fetches
 * that many (one page) and stops. A job seen twice is kept once. Returns 0 or
 * negative errno (e filled): -EINVAL for a query the cluster rejected, -EACCES,
 * -EIO, -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH... */
int jfs_client_list(struct jfs_client *c, const struct jfs_query *q,
		    struct jfs_job_list *out, struct jfs_error *e);
void jfs_job_list_free(struct jfs_job_list *list);

/* One job by uuid, with fields=*. -ENOENT when the cluster has none (404/code 4). */
int jfs_client_get(struct jfs_client *c, const char *uuid, struct jfs_job **out,
		   struct jfs_error *e);

/* The actions a job may be asked to take, NULL-terminated: cancel, pause, resume. */
extern const char *const jfs_job_actions[];

/* Ask the cluster to act on a job: PATCH /api/cluster/jobs/<uuid>?action=<action>.
 * Returns 0 when the cluster took it (2xx), else negative errno with e filled: -EINVAL
 * for an action not in jfs_job_actions (no request made), -ENOENT for a uuid the
 * cluster does not have (or that is not a uuid: no request made), the cluster's
 * refusals as jfs_errno_from_http maps them (-ESRCH already finished, -EALREADY,
 * -EAGAIN, -EOPNOTSUPP, -EACCES), transport errors as jfs_client_get's. Never repeated
 * once the cluster may have acted (jfs_http_patch). */
int jfs_client_act(struct jfs_client *c, const char *uuid, const char *action,
		   struct jfs_error *e);

struct jfs_http *jfs_client_http(struct jfs_client *c);

/* Cancel the client's requests, now and from here on (jfs_http_stop): each fails
 * with -ECANCELED. Safe in a signal handler. */
void jfs_client_stop(struct jfs_client *c);

#endif
