/* The history (see jobsfs/history.h): what is the same whatever database holds it
 * (history_db.h): records into columns, views evaluated by the one evaluator over the
 * rows the database narrowed, the caches, gaps as text, the history as a source. */
#include "jobsfs/history.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "history_db.h"
#include "jobsfs/clock.h"
#include "jobsfs/error.h"
#include "jobsfs/eval.h"
#include "jobsfs/isotime.h"
#include "jobsfs/job.h"
#include "jobsfs/listing.h"
#include "jobsfs/log.h"
#include "jobsfs/query.h"

#define VIEW_CACHE 8	  /* views whose answers are reused within ttl */
#define JSON_DEPTH 256	  /* records were accepted by the client's own limit */
#define TERMINAL_LIFE 3600.0 /* seconds the kernel keeps a recorded finished job */
#define JOB_CACHE 4096	  /* jobs kept by uuid (direct-mapped): a walk resolves each
			   * job a dozen times, once per file looked up */

struct cached_view {
	char *key;		/* jfs_query_string, "" for every job */
	struct jfs_listing *l;	/* a reference */
};

struct jfs_history {
	const struct jfs_hdb_ops *ops; /* the database holding it */
	void *db;
	char *path;
	int64_t ttl_ms;

	pthread_mutex_t cache_lock; /* guards jobs, views and next_view */
	struct cached_job {
		struct jfs_job *job;	/* a reference; NULL: empty */
		int64_t mono_ms;	/* when it was read */
	} jobs[JOB_CACHE];
	struct cached_view views[VIEW_CACHE];
	size_t next_view;	   /* the slot a new view takes (round robin) */

	bool read_failing;	   /* atomic: reads fail now (the database away) */
};

/* A read's result: the first failure of a window is logged by whoever gets it, the
 * others of the window only at debug level (e->repeated), so a server away for an
 * hour is one line, not one per `ls`. ENOENT and a bad query are no failure of the
 * database. */
static int read_result(struct jfs_history *h, int rc, struct jfs_error *e)
{
	if (rc == 0 || rc == -ENOENT || rc == -EINVAL) {
		if (rc == 0 && __atomic_exchange_n(&h->read_failing, false, __ATOMIC_ACQ_REL))
			jfs_info("history %s: readable again", h->path);
		return rc;
	}
	if (__atomic_exchange_n(&h->read_failing, true, __ATOMIC_ACQ_REL))
		e->repeated = true;
	return rc;
}

const char *jfs_history_time_text(int64_t epoch, char buf[JFS_HISTORY_TIME_BUF])
{
	if (epoch == 0 || jfs_isotime_format(epoch, 0, buf, JFS_HISTORY_TIME_BUF) < 0)
		return NULL;
	return buf;
}

/* ---- naming ----------------------------------------------------------------------- */

int jfs_history_cluster_key(const char *url, char *buf, size_t len)
{
	const char *host = strstr(url, "://");
	bool https = strncmp(url, "https://", 8) == 0;
	if (!host || !host[3])
		return -EINVAL;
	host += 3;
	size_t n = strcspn(host, "/?#");
	const char *port = NULL;
	if (host[0] == '[') { /* [v6]:port */
		const char *close = memchr(host, ']', n);
		if (close && close + 1 < host + n && close[1] == ':')
			port = close + 2;
	} else {
		const char *colon = memchr(host, ':', n);
		if (colon)
			port = colon + 1;
	}
	size_t host_len = port ? (size_t)(port - 1 - host) : n;
	size_t port_len = port ? (size_t)(host + n - port) : 0;
	if (port && ((https && port_len == 3 && strncmp(port, "443", 3) == 0) ||
		     (!https && port_len == 2 && strncmp(port, "80", 2) == 0)))
		port_len = 0;
	if (host_len + (port_len ? port_len + 1 : 0) + 1 > len)
		return -ENAMETOOLONG;
	size_t k = 0;
	for (size_t i = 0; i < host_len; i++) {
		char c = host[i];
		if (c == '[' || c == ']')
			continue;
		bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
		buf[k++] = safe ? c : '_';
	}
	if (port_len) {
		buf[k++] = '_';
		memcpy(buf + k, port, port_len);
		k += port_len;
	}
	buf[k] = '\0';
	return k > 0 ? 0 : -EINVAL;
}

int jfs_history_default_path(const char *key, char *buf, size_t len)
{
	int n;
	const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	if (geteuid() == 0)
		n = snprintf(buf, len, "/var/lib/jobsfs/%s.sqlite", key);
	else if (state && state[0] == '/')
		n = snprintf(buf, len, "%s/jobsfs/%s.sqlite", state, key);
	else if (home && home[0] == '/')
		n = snprintf(buf, len, "%s/.local/state/jobsfs/%s.sqlite", home, key);
	else
		return -ENOENT;
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

/* ---- opening ---------------------------------------------------------------------- */

bool jfs_history_is_server(const char *where)
{
	return strncmp(where, "postgresql://", 13) == 0 || strncmp(where, "postgres://", 11) == 0;
}

int jfs_history_open(const struct jfs_history_config *cfg, struct jfs_history **out,
		     struct jfs_error *e)
{
	struct jfs_history *h = calloc(1, sizeof(*h));
	if (!h)
		return jfs_error_set(e, ENOMEM, "out of memory opening the history");
	h->ops = jfs_history_is_server(cfg->path) ? &jfs_hdb_pg : &jfs_hdb_sqlite;
	h->path = strdup(cfg->path);
	h->ttl_ms = (int64_t)(cfg->ttl * 1000.0);
	pthread_mutex_init(&h->cache_lock, NULL);
	int rc = h->path ? h->ops->open(cfg, &h->db, e)
			 : jfs_error_set(e, ENOMEM, "out of memory opening the history");
	if (rc != 0) {
		jfs_history_close(h);
		return rc;
	}
	*out = h;
	return 0;
}

void jfs_history_close(struct jfs_history *h)
{
	if (!h)
		return;
	if (h->db)
		h->ops->close(h->db);
	for (size_t i = 0; i < VIEW_CACHE; i++) {
		free(h->views[i].key);
		jfs_listing_unref(h->views[i].l);
	}
	for (size_t i = 0; i < JOB_CACHE; i++)
		jfs_job_unref(h->jobs[i].job);
	pthread_mutex_destroy(&h->cache_lock);
	free(h->path);
	free(h);
}

const char *jfs_history_path(const struct jfs_history *h)
{
	return h->path;
}

/* ---- writing ---------------------------------------------------------------------- */

static const char *string_member(json_object *o, const char *name)
{
	json_object *v;
	if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static json_object *parse_record(const char *text, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
	if (!tok || len > INT32_MAX) {
		json_tokener_free(tok);
		return NULL;
	}
	json_object *o = json_tokener_parse_ex(tok, text, (int)len);
	json_tokener_free(tok);
	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

/* A job's columns. The record is the compact text job.json is printed from (see
 * jfs_job_record), so the history shows the very bytes the live tree showed. r's
 * strings live in the job, *o and the buffers. */
static int row_of(const struct jfs_job *job, struct jfs_hrow *r, json_object **o,
		  char start[JFS_HISTORY_TIME_BUF], char end[JFS_HISTORY_TIME_BUF],
		  struct jfs_error *e)
{
	const char *rec = jfs_job_record(job);
	if (!(*o = parse_record(rec, strlen(rec))))
		return jfs_error_set(e, EINVAL, "job %s: its record does not parse", job->uuid);
	json_object *code = NULL, *svm = NULL;
	memset(r, 0, sizeof(*r));
	r->uuid = job->uuid;
	r->description = string_member(*o, "description");
	r->state = string_member(*o, "state");
	r->message = string_member(*o, "message");
	if (json_object_object_get_ex(*o, "code", &code) &&
	    json_object_is_type(code, json_type_int)) {
		r->has_code = true;
		r->code = json_object_get_int64(code);
	}
	r->start_time = jfs_history_time_text(job->start_time, start);
	r->end_time = jfs_history_time_text(job->end_time, end);
	r->svm_name = json_object_object_get_ex(*o, "svm", &svm) ? string_member(svm, "name")
								 : NULL;
	r->record = rec;
	return 0;
}

int jfs_history_record(struct jfs_history *h, struct jfs_job *const *jobs, size_t n,
		       int64_t seen_ms, bool listed, int64_t expiry_ms, const char *cause,
		       struct jfs_error *e)
{
	struct jfs_hrow *rows = n ? calloc(n, sizeof(*rows)) : NULL;
	json_object **objs = n ? calloc(n, sizeof(*objs)) : NULL;
	char (*times)[2][JFS_HISTORY_TIME_BUF] = n ? calloc(n, sizeof(*times)) : NULL;
	int rc = 0;
	size_t k = 0;
	if (n && (!rows || !objs || !times))
		rc = jfs_error_set(e, ENOMEM, "out of memory recording jobs");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct jfs_error re;
		jfs_error_clear(&re);
		int r = row_of(jobs[i], &rows[k], &objs[k], times[k][0], times[k][1], &re);
		if (r == 0)
			k++;
		else /* one odd record never stops the rest */
			jfs_warn("history %s: %s", h->path, re.message);
	}
	if (rc == 0)
		rc = h->ops->record(h->db, rows, k, seen_ms, listed, expiry_ms, cause, e);
	for (size_t i = 0; objs && i < k; i++)
		json_object_put(objs[i]);
	free(rows);
	free(objs);
	free(times);
	return rc;
}

int64_t jfs_history_last_listed(struct jfs_history *h)
{
	return h->ops->last_listed(h->db);
}

int jfs_history_add_gap(struct jfs_history *h, int64_t from_ms, int64_t to_ms,
			const char *cause, struct jfs_error *e)
{
	return h->ops->add_gap(h->db, from_ms, to_ms, cause, e);
}

int jfs_history_prune(struct jfs_history *h, int64_t before_ms, long *dropped,
		      struct jfs_error *e)
{
	char before[JFS_HISTORY_TIME_BUF];
	long n = 0;
	jfs_history_time_text(before_ms / 1000, before);
	int rc = h->ops->prune(h->db, before, &n, e);
	if (dropped)
		*dropped = n;
	return rc;
}

/* ---- reading: one job ------------------------------------------------------------- */

static size_t job_slot(const char *uuid)
{
	uint64_t x = 1469598103934665603ULL;
	for (const char *c = uuid; *c; c++)
		x = (x ^ (unsigned char)*c) * 1099511628211ULL;
	return (size_t)(x % JOB_CACHE);
}

/* The job from the cache: a finished one for good (a recorded finished job never
 * changes), an active one within ttl. */
static struct jfs_job *cached_job(struct jfs_history *h, const char *uuid)
{
	struct jfs_job *job = NULL;
	size_t i = job_slot(uuid);
	pthread_mutex_lock(&h->cache_lock);
	struct cached_job *c = &h->jobs[i];
	if (c->job && strcmp(c->job->uuid, uuid) == 0 &&
	    (jfs_job_is_terminal(c->job) || c->mono_ms + h->ttl_ms > jfs_mono_ms()))
		job = jfs_job_ref(c->job);
	pthread_mutex_unlock(&h->cache_lock);
	return job;
}

static void cache_job(struct jfs_history *h, struct jfs_job *job)
{
	struct jfs_job *old;
	size_t i = job_slot(job->uuid);
	pthread_mutex_lock(&h->cache_lock);
	old = h->jobs[i].job;
	h->jobs[i].job = jfs_job_ref(job);
	h->jobs[i].mono_ms = jfs_mono_ms();
	pthread_mutex_unlock(&h->cache_lock);
	jfs_job_unref(old);
}

/* The job as a view read moments ago holds it: a walk of .history looks up each job
 * of the listing it just read, which would otherwise read and parse every record a
 * second time. A finished job from any view's answer (it never changes); an active
 * one only from an answer within ttl. Views naming their fields hold partial jobs. */
static struct jfs_job *viewed_job(struct jfs_history *h, const char *uuid)
{
	struct jfs_job *job = NULL;
	int64_t now = jfs_mono_ms();
	pthread_mutex_lock(&h->cache_lock);
	for (size_t i = 0; i < VIEW_CACHE && !job; i++) {
		const struct jfs_listing *l = h->views[i].l;
		struct jfs_job *j = l && l->full_records ? jfs_listing_find(l, uuid) : NULL;
		if (j && (jfs_job_is_terminal(j) || l->ready_mono_ms + h->ttl_ms > now))
			job = jfs_job_ref(j);
	}
	pthread_mutex_unlock(&h->cache_lock);
	return job;
}

int jfs_history_job(struct jfs_history *h, const char *uuid, struct jfs_job **out,
		    struct jfs_error *e)
{
	if ((*out = cached_job(h, uuid)))
		return 0;
	if ((*out = viewed_job(h, uuid))) {
		cache_job(h, *out);
		return 0;
	}
	char *text = NULL;
	size_t len = 0;
	int rc = read_result(h, h->ops->record_of(h->db, uuid, &text, &len, e), e);
	if (rc != 0)
		return rc;
	json_object *o = parse_record(text, len);
	free(text);
	rc = o ? jfs_job_from_json(o, out, e)
	       : jfs_error_set(e, EIO, "history %s: job %s: its record does not parse", h->path,
			       uuid);
	json_object_put(o);
	if (rc == 0)
		cache_job(h, *out);
	return rc;
}

/* ---- reading: views --------------------------------------------------------------- */

/* A view compiled: the evaluator's filters, order and fields, and what SQL can do of
 * it (a WHERE clause that keeps every row the filters keep). */
struct view {
	struct jfs_eval_filter **filters;
	size_t nfilters;
	struct jfs_eval_order *order;
	struct jfs_eval_fields *fields; /* NULL: whole records */
	unsigned long cap;		/* max_records, 0: none */
	int order_end_time;		/* order_by is end_time alone: 1 asc, -1 desc, 0 no */
	struct jfs_hnarrow nw;		/* what the database narrows (values malloc'd) */
};

static void view_free(struct view *v)
{
	for (size_t i = 0; i < v->nfilters; i++)
		jfs_eval_filter_free(v->filters[i]);
	free(v->filters);
	jfs_eval_order_free(v->order);
	jfs_eval_fields_free(v->fields);
	for (int i = 0; i < v->nw.n; i++)
		free((char *)v->nw.c[i].value);
}

static int eval_fail(const struct jfs_eval_error *err, struct jfs_error *e)
{
	int rc = jfs_error_set(e, EINVAL, "%s", err->message);
	snprintf(e->code, sizeof(e->code), "%s", err->code);
	snprintf(e->target, sizeof(e->target), "%.*s", (int)sizeof(e->target) - 1, err->target);
	return rc;
}

/* Narrow by "column op text" (a copy of text is kept). */
static void where_add(struct view *v, const char *column, const char *op, const char *text)
{
	if (v->nw.n >= JFS_HNARROW_MAX)
		return; /* the database narrows less; the evaluator still decides */
	char *copy = strdup(text);
	if (!copy)
		return;
	v->nw.c[v->nw.n].column = column;
	v->nw.c[v->nw.n].op = op;
	v->nw.c[v->nw.n].value = copy;
	v->nw.n++;
}

/* A time as the schema writes it, from a query's value; false when it is not one. */
static bool time_value(const char *s, size_t len, char buf[JFS_HISTORY_TIME_BUF])
{
	char tmp[JFS_HISTORY_TIME_BUF];
	int64_t epoch;
	if (len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return jfs_isotime_parse(tmp, &epoch) == 0 && jfs_history_time_text(epoch, buf) != NULL;
}

/* What SQL can narrow for field=query: a plain state, or an end_time range. Only
 * the simplest forms; anything else is left to the evaluator alone. */
static void push_down(struct view *v, const char *field, const char *query)
{
	if (strpbrk(query, "*|!{}\"") != NULL)
		return;
	if (strcmp(field, "state") == 0) {
		for (const char *c = query; *c; c++)
			if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')))
				return;
		if (*query)
			where_add(v, "state", "=", query); /* NOCASE, as the evaluator folds */
		return;
	}
	if (strcmp(field, "end_time") != 0)
		return;
	char t[JFS_HISTORY_TIME_BUF], u[JFS_HISTORY_TIME_BUF];
	const char *dots = strstr(query, "..");
	/* end_time is whole seconds in the column: a bound on seconds keeps every row
	 * whose instant is within it (">" widened to ">="). */
	if (dots && time_value(query, (size_t)(dots - query), t) &&
	    time_value(dots + 2, strlen(dots + 2), u)) {
		where_add(v, "end_time", ">=", t);
		where_add(v, "end_time", "<=", u);
	} else if (query[0] == '>' || query[0] == '<') {
		const char *at = query + 1 + (query[1] == '=');
		if (time_value(at, strlen(at), t))
			where_add(v, "end_time", query[0] == '>' ? ">=" : "<=", t);
	}
}

static int view_compile(const struct jfs_query *q, struct view *v, struct jfs_error *e)
{
	struct jfs_eval_error err;
	size_t n = q ? jfs_query_count(q) : 0;
	memset(v, 0, sizeof(*v));
	if (n > 0 && !(v->filters = calloc(n, sizeof(*v->filters))))
		return jfs_error_set(e, ENOMEM, "out of memory compiling a view");
	for (size_t i = 0; i < n; i++) {
		const char *value;
		const char *name = jfs_query_name_at(q, i, &value);
		if (strcmp(name, JFS_QUERY_MAX_RECORDS) == 0) {
			v->cap = jfs_query_max_records(q);
		} else if (strcmp(name, JFS_QUERY_ORDER_BY) == 0) {
			if (jfs_eval_order_parse(value, &v->order, &err) != 0)
				return eval_fail(&err, e);
			const char *desc = " desc";
			size_t len = strlen(value);
			if (strcmp(value, "end_time") == 0 || strcmp(value, "end_time asc") == 0)
				v->order_end_time = 1;
			else if (len == strlen("end_time") + strlen(desc) &&
				 strncmp(value, "end_time", 8) == 0 && strcmp(value + 8, desc) == 0)
				v->order_end_time = -1;
		} else if (strcmp(name, JFS_QUERY_FIELDS) == 0) {
			if (strcmp(value, "*") != 0 && strcmp(value, "**") != 0 &&
			    jfs_eval_fields_parse(value, &v->fields, &err) != 0)
				return eval_fail(&err, e);
		} else {
			if (jfs_eval_filter_compile(name, value, &v->filters[v->nfilters], &err) != 0)
				return eval_fail(&err, e);
			v->nfilters++;
			push_down(v, name, value);
		}
	}
	return 0;
}

/* A job of a view's answer, with its row of typed values when the view is ordered. */
struct hit {
	struct jfs_job *job;
	struct jfs_eval_row *row;
};

struct hits {
	struct hit *v;
	size_t n, cap;
};

static void hits_free(struct hits *hs)
{
	for (size_t i = 0; i < hs->n; i++) {
		jfs_job_unref(hs->v[i].job);
		jfs_eval_row_free(hs->v[i].row);
	}
	free(hs->v);
}

static int cmp_hits_uuid(const void *a, const void *b)
{
	return strcmp(((const struct hit *)a)->job->uuid, ((const struct hit *)b)->job->uuid);
}

static int cmp_hits(const void *a, const void *b, void *order)
{
	return jfs_eval_order_compare_rows(order, ((const struct hit *)a)->row,
					   ((const struct hit *)b)->row);
}

/* One matching record into hs: its job (projected when the view names fields), and
 * its row when the view is ordered. The record's json is not kept: a million of them
 * would be gigabytes, their jobs and rows a fraction. */
static int keep_hit(struct jfs_history *h, const struct view *v, json_object *o,
		    struct hits *hs, struct jfs_error *e)
{
	if (hs->n == hs->cap) {
		size_t cap = hs->cap ? hs->cap * 2 : 256;
		struct hit *grown = realloc(hs->v, cap * sizeof(*grown));
		if (!grown)
			return jfs_error_set(e, ENOMEM, "out of memory reading the history");
		hs->v = grown;
		hs->cap = cap;
	}
	struct hit *ht = &hs->v[hs->n];
	memset(ht, 0, sizeof(*ht));
	json_object *shown = v->fields ? jfs_eval_fields_project(v->fields, o) : json_object_get(o);
	struct jfs_error je;
	jfs_error_clear(&je);
	if (!shown)
		return jfs_error_set(e, ENOMEM, "out of memory reading the history");
	int rc = jfs_job_from_json(shown, &ht->job, &je);
	json_object_put(shown);
	if (rc == -ENOMEM)
		return jfs_error_set(e, ENOMEM, "out of memory reading the history");
	if (rc != 0) { /* not ours to judge: sqlite3 users may have edited it */
		jfs_warn("history %s: a record skipped: %s", h->path, je.message);
		return 0;
	}
	if (v->order && !(ht->row = jfs_eval_row_new(o))) {
		jfs_job_unref(ht->job);
		return jfs_error_set(e, ENOMEM, "out of memory reading the history");
	}
	hs->n++;
	return 0;
}

/* order_by=end_time with max_records N: the N-th end_time in that order bounds the
 * rows worth reading (an index walk of N entries), so the last twenty of a million
 * jobs read twenty-odd records. Ties at the bound are all kept; the evaluator sorts
 * and cuts. Rows without end_time sort last, so with N rows having one they are out. */
static int bound_by_order(struct jfs_history *h, struct view *v, struct jfs_error *e)
{
	if (!v->order_end_time || v->cap == 0)
		return 0;
	char at[JFS_HISTORY_TIME_BUF];
	bool found = false;
	int rc = h->ops->nth_end_time(h->db, &v->nw, v->order_end_time < 0, v->cap, at, &found, e);
	if (rc == 0 && found)
		where_add(v, "end_time", v->order_end_time > 0 ? "<=" : ">=", at);
	return rc;
}

struct scan_state {
	struct jfs_history *h;
	const struct view *v;
	struct hits *hs;
	struct jfs_error *e;
};

static int scan_one(void *arg, const char *text, size_t len)
{
	struct scan_state *s = arg;
	json_object *o = parse_record(text, len);
	if (!o)
		return 0; /* not ours to judge: sqlite3 users may have edited it */
	bool keep = true;
	for (size_t i = 0; i < s->v->nfilters && keep; i++)
		keep = jfs_eval_filter_match(s->v->filters[i], o);
	int rc = keep ? keep_hit(s->h, s->v, o, s->hs, s->e) : 0;
	json_object_put(o);
	/* Unordered, the answer is in uuid order: the first cap are it. */
	if (rc == 0 && !s->v->order && s->v->cap && s->hs->n >= s->v->cap)
		return 1;
	return rc;
}

static int listing_of(struct jfs_history *h, const struct jfs_query *q,
		      struct jfs_listing **out, struct jfs_error *e)
{
	struct view v;
	struct hits hs = { 0 };
	uint64_t version = h->ops->version(h->db); /* before reading: a commit moves it */
	int rc = view_compile(q, &v, e);
	if (rc == 0)
		rc = bound_by_order(h, &v, e);
	/* Unordered views answer in uuid order, as the cluster does. The database reads
	 * rows in the order they lie (walking the uuid index of a million rows in
	 * SQLite is a million random reads: 54 s, against 35 s in table order) and they
	 * are sorted here; only a capped unordered view asks for uuid order, to stop at
	 * the cap. */
	bool by_uuid = !v.order && v.cap;
	if (rc == 0) {
		struct scan_state s = { h, &v, &hs, e };
		rc = h->ops->scan(h->db, &v.nw, by_uuid, scan_one, &s, e);
		if (rc > 0)
			rc = 0; /* stopped at the cap */
	}
	if (rc == 0 && v.order && hs.n > 1)
		qsort_r(hs.v, hs.n, sizeof(*hs.v), cmp_hits, v.order);
	else if (rc == 0 && !by_uuid && hs.n > 1)
		qsort(hs.v, hs.n, sizeof(*hs.v), cmp_hits_uuid);
	size_t keep = v.cap && v.cap < hs.n ? v.cap : hs.n;
	struct jfs_job **jobs = keep ? malloc(keep * sizeof(*jobs)) : NULL;
	if (rc == 0 && keep && !jobs)
		rc = jfs_error_set(e, ENOMEM, "out of memory reading the history");
	if (rc == 0) {
		for (size_t i = 0; i < keep; i++)
			jobs[i] = hs.v[i].job;
		int64_t now = (int64_t)time(NULL) * 1000;
		*out = jfs_listing_new(jobs, keep, now, now, jfs_mono_ms(), !v.fields);
		if (!*out)
			rc = jfs_error_set(e, ENOMEM, "out of memory reading the history");
		else
			(*out)->version = version; /* not shared yet */
	}
	free(jobs);
	hits_free(&hs); /* the listing holds its own references */
	view_free(&v);
	return rc;
}

int jfs_history_listing(struct jfs_history *h, const struct jfs_query *q,
			struct jfs_listing **out, struct jfs_error *e)
{
	const char *key = q ? jfs_query_string(q) : "";
	int64_t now = jfs_mono_ms();
	uint64_t version = 0;
	struct jfs_listing *l = NULL;
	pthread_mutex_lock(&h->cache_lock);
	for (size_t i = 0; i < VIEW_CACHE && !l; i++)
		if (h->views[i].key && strcmp(h->views[i].key, key) == 0)
			l = jfs_listing_ref(h->views[i].l);
	pthread_mutex_unlock(&h->cache_lock);
	/* Within ttl, or older but the history has not changed since: the same. */
	if (l && (l->ready_mono_ms + h->ttl_ms > now ||
		  (l->version && l->version == (version = h->ops->version(h->db))))) {
		*out = l;
		return 0;
	}
	jfs_listing_unref(l);

	int rc = read_result(h, listing_of(h, q, out, e), e);
	if (rc != 0)
		return rc;
	char *copy = strdup(key);
	if (!copy)
		return 0; /* not kept: asked again next time */
	pthread_mutex_lock(&h->cache_lock);
	struct cached_view *c = NULL;
	for (size_t i = 0; i < VIEW_CACHE && !c; i++)
		if (h->views[i].key && strcmp(h->views[i].key, key) == 0)
			c = &h->views[i];
	if (!c) {
		c = &h->views[h->next_view];
		h->next_view = (h->next_view + 1) % VIEW_CACHE;
	}
	struct jfs_listing *old = c->l;
	free(c->key);
	c->key = copy;
	c->l = jfs_listing_ref(*out);
	pthread_mutex_unlock(&h->cache_lock);
	jfs_listing_unref(old); /* may free many jobs: outside the lock */
	return 0;
}

/* ---- gaps ------------------------------------------------------------------------- */

static int gap_line(void *arg, const char *from, const char *to, const char *cause)
{
	char clean[256];
	jfs_clean_text(clean, sizeof(clean), cause, strlen(cause));
	return fprintf(arg, "%s %s %s\n", from, to, clean) < 0 ? -ENOMEM : 0;
}

int jfs_history_gaps(struct jfs_history *h, char **text, size_t *len, struct jfs_error *e)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	if (!f)
		return jfs_error_set(e, ENOMEM, "out of memory reading the gaps");
	int rc = read_result(h, h->ops->gaps(h->db, gap_line, f, e), e);
	if (fclose(f) != 0 && rc == 0)
		rc = jfs_error_set(e, ENOMEM, "out of memory reading the gaps");
	if (rc != 0) {
		free(buf);
		return rc < 0 ? rc : -EIO;
	}
	*text = buf;
	*len = size;
	return 0;
}

/* ---- the history as a source (source.h) ------------------------------------------- */

static int source_listing(void *self, const struct jfs_query *q, struct jfs_listing **out,
			  struct jfs_error *e)
{
	return jfs_history_listing(self, q, out, e);
}

static int source_check(void *self, const struct jfs_query *q, struct jfs_error *e)
{
	(void)self;
	struct view v;
	int rc = view_compile(q, &v, e);
	view_free(&v);
	return rc;
}

static int source_job(void *self, const char *uuid, struct jfs_job **out, struct jfs_error *e)
{
	return jfs_history_job(self, uuid, out, e);
}

static int64_t source_now_ms(void *self)
{
	(void)self;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t source_job_expires_ms(void *self, const struct jfs_job *job, int64_t seen_ms)
{
	(void)self, (void)job, (void)seen_ms;
	return INT64_MAX; /* only retention removes a recorded job */
}

/* A recorded finished job never changes; an active one changes as recording goes on. */
static double source_job_life(void *self, const struct jfs_job *job)
{
	struct jfs_history *h = self;
	return jfs_job_is_terminal(job) ? TERMINAL_LIFE : (double)h->ttl_ms / 1000.0;
}

/* A view's answer stays true for ttl, and then for as long as the file does not change
 * (a million-job .history is not read again every ttl for nothing). */
static double source_listing_life(void *self, const struct jfs_listing *l)
{
	struct jfs_history *h = self;
	int64_t left = l->ready_mono_ms + h->ttl_ms - jfs_mono_ms();
	if (left > 0)
		return (double)left / 1000.0;
	return l->version && l->version == h->ops->version(h->db) ? (double)h->ttl_ms / 1000.0
								    : 0.0;
}

static const struct jfs_source_ops history_source_ops = {
	.listing = source_listing,
	.check = source_check,
	.job = source_job,
	.now_ms = source_now_ms,
	.job_expires_ms = source_job_expires_ms,
	.job_life = source_job_life,
	.listing_life = source_listing_life,
};

struct jfs_source jfs_history_source(struct jfs_history *h)
{
	return (struct jfs_source){ .ops = &history_source_ops, .self = h };
}
