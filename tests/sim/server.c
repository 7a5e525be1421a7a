/* The HTTP side of ontap-sim: libmicrohttpd with a thread per connection, dispatch
 * between /api (the cluster, faulted, authenticated) and /_sim (control), and the
 * cluster's three job endpoints. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobsfs/isotime.h"
#include "jobsfs/log.h"
#include "jobsfs/page.h"
#include "jobsfs/urlenc.h"
#include "fixture.h"
#include "sim.h"
#include "jobsfs/eval.h"

#define COLLECTION "/api/cluster/jobs"
#define BODY_MAX (1u << 20)         /* largest request body accepted */
#define CONN_MEMORY (2u << 20)      /* per connection: room for very long URLs */

/* ---- growing buffer ---- */

struct buf {
	char *p;
	size_t len, cap;
	bool failed; /* an allocation failed: the content is incomplete */
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *grown = realloc(b->p, cap);
		if (!grown) {
			b->failed = true;
			return;
		}
		b->p = grown;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* The characters of s escaped for the inside of a JSON string (no quotes), as json-c
 * writes them (jfs_json_escape). */
static void buf_json_chars(struct buf *b, const char *s)
{
	size_t len = strlen(s), n = jfs_json_escape(s, len, NULL);
	if (n == len) {
		buf_add(b, s, len);
		return;
	}
	char small[256], *esc = n <= sizeof(small) ? small : malloc(n);
	if (!esc) {
		b->failed = true;
		return;
	}
	jfs_json_escape(s, len, esc);
	buf_add(b, esc, n);
	if (esc != small)
		free(esc);
}

static void buf_json_string(struct buf *b, const char *s)
{
	buf_str(b, "\"");
	buf_json_chars(b, s);
	buf_str(b, "\"");
}

/* s percent-encoded. */
static void buf_enc(struct buf *b, const char *s)
{
	char *e = jfs_url_encode(s);
	if (!e) {
		b->failed = true;
		return;
	}
	buf_str(b, e);
	free(e);
}

/* ---- replies ---- */

struct reply {
	unsigned status;
	char *body; /* malloc'd */
	size_t len;
	char *next; /* the next link, also sent as a Link header; NULL: none */
};

static void add_cluster_headers(struct sim *s, struct MHD_Response *r)
{
	char date[64];
	time_t now = (time_t)sim_now(s);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	MHD_add_response_header(r, MHD_HTTP_HEADER_DATE, date);
	MHD_add_response_header(r, MHD_HTTP_HEADER_SERVER, "libzapid-httpd");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/hal+json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
				"no-cache,no-store,must-revalidate");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
}

static enum MHD_Result queue(struct sim *s, struct MHD_Connection *conn, unsigned status,
			     struct MHD_Response *r, const char *next)
{
	if (!r)
		return MHD_NO;
	add_cluster_headers(s, r);
	if (next) {
		char *link = NULL;
		if (asprintf(&link, "<%s>; rel=\"next\"", next) >= 0) {
			MHD_add_response_header(r, "Link", link);
			free(link);
		}
	}
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result sim_reply(struct sim *s, struct MHD_Connection *conn, unsigned status,
			  char *body, size_t len)
{
	if (!body && len)
		return MHD_NO; /* the caller ran out of memory making it */
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, body ? body : (char *)"",
						body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!r)
		free(body);
	return queue(s, conn, status, r, NULL);
}

enum MHD_Result sim_reply_json(struct sim *s, struct MHD_Connection *conn, unsigned status,
			       json_object *obj)
{
	if (!obj)
		return sim_reply(s, conn, status, NULL, 0);
	size_t len;
	const char *text = json_object_to_json_string_length(
		obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	char *copy = text ? strndup(text, len) : NULL;
	if (!copy)
		return MHD_NO;
	return sim_reply(s, conn, status, copy, len);
}

/* {"error":{"message","code","target"}} into r. */
static void error_body(struct reply *r, unsigned status, const char *code, const char *message,
		       const char *target)
{
	struct buf b = { 0 };
	buf_str(&b, "{\"error\":{\"message\":");
	buf_json_string(&b, message);
	buf_str(&b, ",\"code\":");
	buf_json_string(&b, code);
	if (target) {
		buf_str(&b, ",\"target\":");
		buf_json_string(&b, target);
	}
	buf_str(&b, "}}");
	free(r->body);
	r->status = status;
	r->body = b.failed ? NULL : b.p;
	r->len = b.failed ? 0 : b.len;
	if (b.failed)
		free(b.p);
}

enum MHD_Result sim_reply_error(struct sim *s, struct MHD_Connection *conn, unsigned status,
				const char *code, const char *message, const char *target)
{
	struct reply r = { 0 };
	error_body(&r, status, code, message, target);
	if (!r.body)
		return MHD_NO;
	return sim_reply(s, conn, status, r.body, r.len);
}

static void unexpected_argument(struct reply *r, const char *name)
{
	char msg[512];
	snprintf(msg, sizeof(msg), "Unexpected argument \"%.400s\".", name);
	error_body(r, 400, "262179", msg, name);
}

static void invalid_value(struct reply *r, const char *field, const char *value,
			  const char *range)
{
	char msg[768];
	snprintf(msg, sizeof(msg), "The value \"%.400s\" is invalid for field \"%.200s\"%s%s",
		 value, field, range ? " " : "", range ? range : "");
	error_body(r, 400, "262197", msg, field);
}

static void jfs_eval_failed(struct reply *r, const struct jfs_eval_error *e)
{
	error_body(r, e->http_status ? (unsigned)e->http_status : 400, e->code, e->message,
		   e->target[0] ? e->target : NULL);
}

/* ---- query strings ---- */

struct qparam {
	char *key, *value;  /* decoded */
	const char *raw;    /* the key=value segment as received */
	size_t raw_len;
};

struct query {
	struct qparam *p;
	size_t n;
};

static void query_free(struct query *q)
{
	for (size_t i = 0; i < q->n; i++) {
		free(q->p[i].key);
		free(q->p[i].value);
	}
	free(q->p);
	q->p = NULL;
	q->n = 0;
}

/* One component of a query string: '+' is a space (the form convention servers
 * follow, libmicrohttpd among them), %XX a byte. NULL with errno on a bad escape. */
static char *decode_component(const char *s, size_t len)
{
	char *plus = strndup(s, len);
	if (!plus)
		return NULL;
	for (char *p = plus; *p; p++)
		if (*p == '+')
			*p = ' ';
	char *out = jfs_url_decode(plus, len, NULL);
	int saved = errno;
	free(plus);
	errno = saved;
	return out;
}

/* Split raw (NULL or a query string without '?') into decoded pairs. 0, -EINVAL
 * (bad escape) or -ENOMEM. */
static int query_parse(const char *raw, struct query *q)
{
	memset(q, 0, sizeof(*q));
	if (!raw)
		return 0;
	size_t cap = 1;
	for (const char *p = raw; *p; p++)
		cap += *p == '&';
	q->p = calloc(cap, sizeof(*q->p));
	if (!q->p)
		return -ENOMEM;
	for (const char *p = raw; *p;) {
		size_t seg = strcspn(p, "&");
		if (seg) {
			const char *eq = memchr(p, '=', seg);
			size_t klen = eq ? (size_t)(eq - p) : seg;
			struct qparam *qp = &q->p[q->n];
			qp->raw = p;
			qp->raw_len = seg;
			qp->key = decode_component(p, klen);
			qp->value = eq ? decode_component(eq + 1, seg - klen - 1) : strdup("");
			if (!qp->key || !qp->value) {
				int rc = errno == ENOMEM ? -ENOMEM : -EINVAL;
				q->n++;
				query_free(q);
				return rc;
			}
			q->n++;
		}
		p += seg;
		if (*p == '&')
			p++;
	}
	return 0;
}

/* ---- records ---- */

/* The value at a dotted path ("svm.name"), or NULL. */
static json_object *path_get(json_object *rec, const char *path)
{
	char part[128];
	json_object *cur = rec;
	while (cur && *path) {
		size_t n = strcspn(path, ".");
		if (n >= sizeof(part) || !json_object_is_type(cur, json_type_object))
			return NULL;
		memcpy(part, path, n);
		part[n] = '\0';
		if (!json_object_object_get_ex(cur, part, &cur))
			return NULL;
		path += n + (path[n] == '.');
	}
	return cur;
}

/* Set a dotted path in rec to v (consumed). 0 or -ENOMEM. */
static int path_set(json_object *rec, const char *path, json_object *v)
{
	char part[128];
	json_object *cur = rec;
	for (;;) {
		size_t n = strcspn(path, ".");
		if (n >= sizeof(part)) {
			json_object_put(v);
			return -EINVAL;
		}
		memcpy(part, path, n);
		part[n] = '\0';
		if (!path[n]) {
			if (json_object_object_add(cur, part, v) != 0) {
				json_object_put(v);
				return -ENOMEM;
			}
			return 0;
		}
		json_object *next;
		if (!json_object_object_get_ex(cur, part, &next)) {
			next = json_object_new_object();
			if (!next || json_object_object_add(cur, part, next) != 0) {
				json_object_put(next);
				json_object_put(v);
				return -ENOMEM;
			}
		}
		cur = next;
		path += n + 1;
	}
}

/* ---- GET /api/cluster/jobs ---- */

#define MAX_ORDER_FIELDS 16

struct coll {
	struct jfs_eval_filter **filters;
	size_t nfilters;
	struct jfs_eval_fields *fields;  /* NULL when fields_all */
	bool fields_all;
	bool fields_default;         /* no fields asked: uuid and _links */
	struct jfs_eval_order *order;
	char *order_fields[MAX_ORDER_FIELDS];
	bool order_desc[MAX_ORDER_FIELDS];
	size_t norder;
	long max_records;
	bool return_records;
	const char *cursor_uuid;     /* start.uuid, NULL: from the beginning */
	json_object *cursor_rec;     /* uuid + start.<field> values, for order_by */
	long empty_index;            /* start.empty (the empty-pages fault) */
};

static void coll_free(struct coll *c)
{
	for (size_t i = 0; i < c->nfilters; i++)
		jfs_eval_filter_free(c->filters[i]);
	free(c->filters);
	jfs_eval_fields_free(c->fields);
	jfs_eval_order_free(c->order);
	for (size_t i = 0; i < c->norder; i++)
		free(c->order_fields[i]);
	json_object_put(c->cursor_rec);
}

static bool parse_long_strict(const char *s, long *out)
{
	char *end;
	if (!*s || (*s != '-' && (*s < '0' || *s > '9')))
		return false;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

/* The field names of an order_by value ("a desc,b" -> a, b). */
static int order_fields(struct coll *c, const char *order_by)
{
	const char *p = order_by;
	while (*p && c->norder < MAX_ORDER_FIELDS) {
		while (*p == ' ' || *p == ',')
			p++;
		size_t n = strcspn(p, " ,");
		if (n) {
			c->order_fields[c->norder] = strndup(p, n);
			if (!c->order_fields[c->norder])
				return -ENOMEM;
			p += n;
			size_t rest = strcspn(p, ",");
			c->order_desc[c->norder] = memmem(p, rest, "desc", 4) != NULL;
			c->norder++;
		}
		p += strcspn(p, ","); /* past asc/desc */
	}
	return 0;
}

/* Parse the collection's parameters into c; on an error fills r and returns -1. */
static int coll_parse(struct sim *s, const struct query *q, struct coll *c, struct reply *r)
{
	struct jfs_eval_error err;
	const char *fields = NULL, *order_by = NULL;

	memset(c, 0, sizeof(*c));
	c->max_records = s->cfg.max_records_default;
	c->return_records = true;
	c->filters = calloc(q->n + 1, sizeof(*c->filters));
	c->cursor_rec = json_object_new_object();
	if (!c->filters || !c->cursor_rec)
		goto oom;

	for (size_t i = 0; i < q->n; i++) {
		const char *k = q->p[i].key, *v = q->p[i].value;
		if (strcmp(k, "fields") == 0) {
			fields = v;
		} else if (strcmp(k, "max_records") == 0) {
			if (!parse_long_strict(v, &c->max_records) || c->max_records < 1) {
				invalid_value(r, k, v, "(<1..>)");
				return -1;
			}
		} else if (strcmp(k, "return_records") == 0) {
			if (strcmp(v, "true") && strcmp(v, "false")) {
				invalid_value(r, k, v, "(<true|false>)");
				return -1;
			}
			c->return_records = strcmp(v, "true") == 0;
		} else if (strcmp(k, "return_timeout") == 0) {
			long t;
			if (!parse_long_strict(v, &t) || t < 0 || t > 120) {
				invalid_value(r, k, v, "(<0..120>)");
				return -1;
			}
		} else if (strcmp(k, "order_by") == 0) {
			order_by = v;
		} else if (strcmp(k, "start.uuid") == 0) {
			c->cursor_uuid = v;
			if (path_set(c->cursor_rec, "uuid", json_object_new_string(v)))
				goto oom;
		} else if (strcmp(k, "start.empty") == 0) {
			if (!parse_long_strict(v, &c->empty_index) || c->empty_index < 0) {
				invalid_value(r, k, v, NULL);
				return -1;
			}
		} else if (strncmp(k, "start.", 6) == 0) {
			const struct jfs_eval_field *f = jfs_eval_field_find(k + 6);
			if (!f) {
				unexpected_argument(r, k);
				return -1;
			}
			json_object *val;
			long n;
			if (f->type == JFS_EVAL_NUMBER) {
				if (!parse_long_strict(v, &n)) {
					invalid_value(r, k, v, NULL);
					return -1;
				}
				val = json_object_new_int64(n);
			} else {
				val = json_object_new_string(v);
			}
			int rc = path_set(c->cursor_rec, k + 6, val);
			if (rc == -EINVAL) {
				unexpected_argument(r, k);
				return -1;
			} else if (rc) {
				goto oom;
			}
		} else {
			if (!jfs_eval_field_find(k)) {
				unexpected_argument(r, k);
				return -1;
			}
			if (jfs_eval_filter_compile(k, v, &c->filters[c->nfilters], &err)) {
				jfs_eval_failed(r, &err);
				return -1;
			}
			c->nfilters++;
		}
	}
	c->fields_default = !fields || !*fields;
	if (fields && (strcmp(fields, "*") == 0 || strcmp(fields, "**") == 0)) {
		c->fields_all = true;
	} else if (jfs_eval_fields_parse(fields, &c->fields, &err)) {
		jfs_eval_failed(r, &err);
		return -1;
	}
	if (order_by) {
		if (jfs_eval_order_parse(order_by, &c->order, &err)) {
			jfs_eval_failed(r, &err);
			return -1;
		}
		if (order_fields(c, order_by))
			goto oom;
	}
	return 0;
oom:
	error_body(r, 500, "1", "Out of memory.", NULL);
	return -1;
}

static bool coll_match(const struct coll *c, const struct sim_job *j)
{
	for (size_t i = 0; i < c->nfilters; i++)
		if (!jfs_eval_filter_match(c->filters[i], j->rec))
			return false;
	return true;
}

/* The query's order: order_by, then uuid. */
static int coll_compare(const struct coll *c, json_object *a, const char *auuid, json_object *b,
			const char *buuid)
{
	int d = c->order ? jfs_eval_order_compare(c->order, a, b) : 0;
	return d ? d : strcmp(auuid, buuid);
}

static int job_compare(const void *pa, const void *pb, void *arg)
{
	const struct sim_job *a = *(struct sim_job *const *)pa;
	const struct sim_job *b = *(struct sim_job *const *)pb;
	return coll_compare(arg, a->rec, a->uuid, b->rec, b->uuid);
}

/* The records a page is cut from. */
struct selection {
	struct sim_job **jobs;
	size_t n, cap;
};

/* Sorting by order_by fast: jfs_eval_order_compare reads (and parses) both records' values
 * at every comparison, which over 100,000 jobs takes a second. So each record's keys are
 * read once, the records sorted on them, and the result checked pair by pair with
 * jfs_eval_order_compare, the arbiter; should the two ever disagree (a value this reading
 * does not mirror), the records are sorted again with the evaluator alone. */
struct sort_key {
	bool set;
	int64_t i;        /* numbers (integers) and times */
	const char *text; /* strings */
};

struct keyed {
	struct sim_job *job;
	struct sort_key *keys; /* norder of them, in one array for all records */
};

struct key_ctx {
	const struct coll *c;
	enum jfs_eval_type types[MAX_ORDER_FIELDS];
};

static unsigned char fold(unsigned char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch + 32) : ch;
}

/* false: a value this reading does not handle (then the evaluator sorts alone). */
static bool read_key(json_object *v, enum jfs_eval_type t, struct sort_key *k)
{
	k->set = false;
	if (!v || json_object_is_type(v, json_type_null))
		return true;
	switch (t) {
	case JFS_EVAL_STRING:
		if (!json_object_is_type(v, json_type_string))
			return false;
		k->text = json_object_get_string(v);
		break;
	case JFS_EVAL_NUMBER:
		if (!json_object_is_type(v, json_type_int))
			return false;
		k->i = json_object_get_int64(v);
		break;
	case JFS_EVAL_TIME:
		if (!json_object_is_type(v, json_type_string))
			return false;
		if (jfs_isotime_parse(json_object_get_string(v), &k->i) != 0)
			return true; /* unreadable times sort as unset */
		break;
	}
	k->set = true;
	return true;
}

static int keyed_compare(const void *pa, const void *pb, void *arg)
{
	const struct keyed *a = pa, *b = pb;
	const struct key_ctx *kc = arg;
	for (size_t i = 0; i < kc->c->norder; i++) {
		const struct sort_key *ka = &a->keys[i], *kb = &b->keys[i];
		if (ka->set != kb->set)
			return ka->set ? -1 : 1; /* unset last, either direction */
		if (!ka->set)
			continue;
		int d = 0;
		if (kc->types[i] == JFS_EVAL_STRING) {
			const unsigned char *x = (const unsigned char *)ka->text;
			const unsigned char *y = (const unsigned char *)kb->text;
			while (*x && fold(*x) == fold(*y)) {
				x++;
				y++;
			}
			d = fold(*x) < fold(*y) ? -1 : fold(*x) > fold(*y);
		} else {
			d = ka->i < kb->i ? -1 : ka->i > kb->i;
		}
		if (d)
			return kc->c->order_desc[i] ? -d : d;
	}
	return strcmp(a->job->uuid, b->job->uuid);
}

/* Sort sel by c's order through precomputed keys. false: not done (the evaluator must). */
static bool sort_keyed(const struct coll *c, struct selection *sel)
{
	struct key_ctx kc = { .c = c };
	for (size_t i = 0; i < c->norder; i++) {
		const struct jfs_eval_field *f = jfs_eval_field_find(c->order_fields[i]);
		if (!f)
			return false;
		kc.types[i] = f->type;
	}
	struct keyed *k = malloc(sel->n * sizeof(*k));
	struct sort_key *keys = malloc(sel->n * c->norder * sizeof(*keys) + 1);
	if (!k || !keys) {
		free(k);
		free(keys);
		return false;
	}
	for (size_t j = 0; j < sel->n; j++) {
		k[j].job = sel->jobs[j];
		k[j].keys = keys + j * c->norder;
		for (size_t i = 0; i < c->norder; i++) {
			if (!read_key(path_get(sel->jobs[j]->rec, c->order_fields[i]), kc.types[i],
				      &k[j].keys[i])) {
				free(k);
				free(keys);
				return false;
			}
		}
	}
	qsort_r(k, sel->n, sizeof(*k), keyed_compare, &kc);
	bool agreed = true;
	for (size_t j = 0; j < sel->n; j++)
		sel->jobs[j] = k[j].job;
	free(k);
	free(keys);
	for (size_t j = 1; j < sel->n && agreed; j++) {
		agreed = coll_compare(c, sel->jobs[j - 1]->rec, sel->jobs[j - 1]->uuid,
				      sel->jobs[j]->rec, sel->jobs[j]->uuid) < 0;
	}
	return agreed;
}

/* The records to list, in the query's order, strictly after the cursor. For the
 * default order (uuid) without return_records=false, stops at limit. */

static int sel_add(struct selection *sel, struct sim_job *j)
{
	if (sel->n == sel->cap) {
		size_t cap = sel->cap ? sel->cap * 2 : 256;
		struct sim_job **grown = realloc(sel->jobs, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		sel->jobs = grown;
		sel->cap = cap;
	}
	sel->jobs[sel->n++] = j;
	return 0;
}

static int select_jobs(const struct coll *c, const struct sim_store *st,
		       const struct sim_store *hostile, size_t limit, struct selection *sel)
{
	const bool by_uuid = !c->order;
	size_t i = 0, h = 0;
	if (by_uuid && c->cursor_uuid) {
		i = store_after(st, c->cursor_uuid);
		h = hostile ? store_after(hostile, c->cursor_uuid) : 0;
	}
	/* Merge the two uuid-sorted arrays. */
	while (i < st->n || (hostile && h < hostile->n)) {
		struct sim_job *j;
		if (!hostile || h >= hostile->n ||
		    (i < st->n && strcmp(st->jobs[i]->uuid, hostile->jobs[h]->uuid) < 0))
			j = st->jobs[i++];
		else
			j = hostile->jobs[h++];
		if (!coll_match(c, j))
			continue;
		if (sel_add(sel, j))
			return -ENOMEM;
		if (by_uuid && sel->n >= limit)
			break;
	}
	if (by_uuid)
		return 0;

	if (sel->n == 0)
		return 0;
	if (!sort_keyed(c, sel))
		qsort_r(sel->jobs, sel->n, sizeof(sel->jobs[0]), job_compare, (void *)c);
	if (c->cursor_uuid) {
		/* Keep what sorts strictly after the cursor (a binary search: sel is sorted). */
		size_t first = 0, hi = sel->n;
		while (first < hi) {
			size_t mid = first + (hi - first) / 2;
			if (coll_compare(c, sel->jobs[mid]->rec, sel->jobs[mid]->uuid,
					 c->cursor_rec, c->cursor_uuid) <= 0)
				first = mid + 1;
			else
				hi = mid;
		}
		memmove(sel->jobs, sel->jobs + first, (sel->n - first) * sizeof(sel->jobs[0]));
		sel->n -= first;
	}
	return 0;
}

/* A message of exactly n bytes for the bigfield fault. */
static char *big_message(size_t n)
{
	static const char text[] = "Transferring data from the source volume to the destination "
				   "volume; this message is long on purpose. ";
	char *m = malloc(n + 1);
	if (!m)
		return NULL;
	for (size_t i = 0; i < n; i++)
		m[i] = text[i % (sizeof(text) - 1)];
	m[n] = '\0';
	return m;
}

/* A private copy of j's record with the fields fs selects (NULL: all), carrying the
 * _links the cached JSON adds to records stored without (see store.h). */
static json_object *project(const struct jfs_eval_fields *fs, const struct sim_job *j)
{
	json_object *rec = NULL;
	if (!fs) {
		if (json_object_deep_copy(j->rec, &rec, NULL) != 0)
			return NULL;
	} else if (!(rec = jfs_eval_fields_project(fs, j->rec))) {
		return NULL;
	}
	if (!json_object_object_get_ex(rec, "_links", NULL)) {
		json_object *links = job_links(j->uuid);
		if (!links || json_object_object_add(rec, "_links", links) != 0) {
			json_object_put(links);
			json_object_put(rec);
			return NULL;
		}
	}
	return rec;
}

/* Append one record of j as the query asks. */
static void add_record(struct buf *b, const struct coll *c, const struct sim_job *j,
		       const char *bigmsg)
{
	if (c->fields_all && !bigmsg) {
		buf_add(b, j->json, j->json_len);
		return;
	}
	if (c->fields_default && !json_object_object_get_ex(j->rec, "_links", NULL)) {
		/* What the projection would give, without building it (the common case of
		 * the default fields on the workload's records). */
		buf_str(b, "{\"uuid\":");
		buf_json_string(b, j->uuid);
		buf_str(b, ",\"_links\":{\"self\":{\"href\":\"/api/cluster/jobs/");
		buf_json_chars(b, j->uuid);
		buf_str(b, "\"}}}");
		return;
	}
	json_object *rec = project(c->fields_all ? NULL : c->fields, j);
	if (!rec) {
		b->failed = true;
		return;
	}
	if (bigmsg && json_object_object_get_ex(rec, "message", NULL)) {
		json_object *m = json_object_new_string(bigmsg);
		if (!m || json_object_object_add(rec, "message", m) != 0) {
			json_object_put(m);
			json_object_put(rec);
			b->failed = true;
			return;
		}
	}
	buf_str(b, json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(rec);
}

/* The original query minus its start.* parameters, as received. */
static void add_rest(struct buf *b, const struct query *q)
{
	for (size_t i = 0; i < q->n; i++) {
		if (strncmp(q->p[i].key, "start.", 6) == 0)
			continue;
		buf_str(b, "&");
		buf_add(b, q->p[i].raw, q->p[i].raw_len);
	}
}

/* The cursor part of the next link after record last. */
static void add_cursor(struct buf *b, const struct coll *c, const struct sim_job *last)
{
	buf_str(b, "start.uuid=");
	buf_enc(b, last->uuid);
	for (size_t i = 0; i < c->norder; i++) {
		if (strcmp(c->order_fields[i], "uuid") == 0)
			continue;
		json_object *v = path_get(last->rec, c->order_fields[i]);
		if (!v || json_object_is_type(v, json_type_null) ||
		    json_object_is_type(v, json_type_object) ||
		    json_object_is_type(v, json_type_array))
			continue;
		buf_str(b, "&start.");
		buf_enc(b, c->order_fields[i]);
		buf_str(b, "=");
		buf_enc(b, json_object_get_string(v));
	}
}

static void get_collection(struct sim *s, const char *raw_query, const struct query *q,
			   const struct fault_effect *fx, struct reply *r)
{
	struct coll c;
	struct selection sel = { 0 };
	struct buf b = { 0 }, next = { 0 };
	char *bigmsg = NULL;

	if (coll_parse(s, q, &c, r))
		goto out;
	if (fx->bigfield && !(bigmsg = big_message(fx->bigfield))) {
		error_body(r, 500, "1", "Out of memory.", NULL);
		goto out;
	}
	/* A walk begins without a cursor; its empty pages carry start.empty=K. */
	const bool empty_page = c.empty_index < fx->empty_pages &&
				(c.empty_index > 0 || !c.cursor_uuid);

	pthread_rwlock_rdlock(&s->store.lock);
	size_t limit = c.return_records ? (size_t)c.max_records + 1 : SIZE_MAX;
	int rc = empty_page ? 0 : select_jobs(&c, &s->store, fx->hostile ? &s->hostile : NULL,
					      limit, &sel);
	size_t page = sel.n < (size_t)c.max_records ? sel.n : (size_t)c.max_records;
	bool more = sel.n > page;
	if (!c.return_records) {
		page = 0;
		more = false;
	}

	buf_str(&b, "{");
	if (c.return_records) {
		buf_str(&b, "\"records\":[");
		for (size_t i = 0; i < page; i++) {
			if (i)
				buf_str(&b, ",");
			add_record(&b, &c, sel.jobs[i], bigmsg);
		}
		buf_str(&b, "],");
	}
	char num[32];
	snprintf(num, sizeof(num), "%zu", c.return_records ? page : sel.n);
	buf_str(&b, "\"num_records\":");
	buf_str(&b, num);

	/* The next link: a cursor after the page's last record plus the query as it came. */
	if (empty_page || more) {
		if (fx->foreign_origin[0])
			buf_str(&next, fx->foreign_origin);
		buf_str(&next, COLLECTION "?");
		if (fx->repeat_next) {
			next.len = 0;
			if (fx->foreign_origin[0])
				buf_str(&next, fx->foreign_origin);
			buf_str(&next, COLLECTION);
			if (raw_query) {
				buf_str(&next, "?");
				buf_str(&next, raw_query);
			}
		} else if (empty_page) {
			for (size_t i = 0; i < q->n; i++) {
				if (strncmp(q->p[i].key, "start.", 6) ||
				    strcmp(q->p[i].key, "start.empty") == 0)
					continue;
				buf_add(&next, q->p[i].raw, q->p[i].raw_len);
				buf_str(&next, "&");
			}
			snprintf(num, sizeof(num), "%ld", c.empty_index + 1);
			buf_str(&next, "start.empty=");
			buf_str(&next, num);
			add_rest(&next, q);
		} else {
			add_cursor(&next, &c, sel.jobs[page - 1]);
			add_rest(&next, q);
		}
	}
	pthread_rwlock_unlock(&s->store.lock);

	buf_str(&b, ",\"_links\":{\"self\":{\"href\":");
	struct buf self = { 0 };
	buf_str(&self, COLLECTION);
	if (raw_query) {
		buf_str(&self, "?");
		buf_str(&self, raw_query);
	}
	buf_json_string(&b, self.failed ? "" : self.p);
	free(self.p);
	buf_str(&b, "}");
	if (next.len && !next.failed) {
		buf_str(&b, ",\"next\":{\"href\":");
		buf_json_string(&b, next.p);
		buf_str(&b, "}");
	}
	buf_str(&b, "}}");
	if (rc || b.failed || next.failed || self.failed) {
		error_body(r, 500, "1", "Out of memory.", NULL);
		free(b.p);
		free(next.p);
		goto out;
	}
	r->status = 200;
	r->body = b.p;
	r->len = b.len;
	r->next = next.len ? next.p : NULL;
	if (!r->next)
		free(next.p);
out:
	free(bigmsg);
	free(sel.jobs);
	coll_free(&c);
}

/* ---- GET / PATCH /api/cluster/jobs/{uuid} ---- */

static bool uuid_shaped(const char *u)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	if (strlen(u) != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; shape[i]; i++) {
		bool hex = (u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' && u[i] <= 'f') ||
			   (u[i] >= 'A' && u[i] <= 'F');
		if (shape[i] == '-' ? u[i] != '-' : !hex)
			return false;
	}
	return true;
}

static void not_found(struct reply *r, const char *uuid)
{
	if (uuid_shaped(uuid)) {
		error_body(r, 404, "4", "entry doesn't exist", "uuid");
	} else {
		char msg[512];
		snprintf(msg, sizeof(msg), "\"%.400s\" is an invalid value for field \"uuid\" (<UUID>)",
			 uuid);
		error_body(r, 404, "2", msg, "uuid");
	}
}

/* A single job: only `fields` is accepted; without it every field comes, as a
 * cluster answers a GET on one object. */
static void get_instance(struct sim *s, const char *uuid, const struct query *q,
			 struct reply *r)
{
	const char *fields = NULL;
	struct jfs_eval_fields *fs = NULL;
	struct jfs_eval_error err;

	for (size_t i = 0; i < q->n; i++) {
		if (strcmp(q->p[i].key, "fields")) {
			unexpected_argument(r, q->p[i].key);
			return;
		}
		fields = q->p[i].value;
	}
	bool all = !fields || strcmp(fields, "*") == 0 || strcmp(fields, "**") == 0;
	if (!all && jfs_eval_fields_parse(fields, &fs, &err)) {
		jfs_eval_failed(r, &err);
		return;
	}
	pthread_rwlock_rdlock(&s->store.lock);
	long idx = store_find(&s->store, uuid);
	if (idx < 0) {
		not_found(r, uuid);
	} else if (all) {
		const struct sim_job *j = s->store.jobs[idx];
		r->body = strndup(j->json, j->json_len);
		r->len = j->json_len;
		r->status = 200;
	} else {
		json_object *proj = project(fs, s->store.jobs[idx]);
		const char *text = proj ? json_object_to_json_string_ext(
						  proj, JSON_C_TO_STRING_PLAIN |
								JSON_C_TO_STRING_NOSLASHESCAPE)
					: NULL;
		r->body = text ? strdup(text) : NULL;
		r->len = text ? strlen(text) : 0;
		r->status = 200;
		json_object_put(proj);
	}
	pthread_rwlock_unlock(&s->store.lock);
	jfs_eval_fields_free(fs);
	if (!r->body)
		error_body(r, 500, "1", "Out of memory.", NULL);
}

static void patch_instance(struct sim *s, const char *uuid, const struct query *q,
			   struct reply *r)
{
	const char *action = NULL;
	for (size_t i = 0; i < q->n; i++) {
		if (strcmp(q->p[i].key, "action")) {
			unexpected_argument(r, q->p[i].key);
			return;
		}
		action = q->p[i].value;
	}
	if (!action) {
		error_body(r, 400, "262186", "Field \"action\" is required.", "action");
		return;
	}
	if (strcmp(action, "pause") && strcmp(action, "resume") && strcmp(action, "cancel")) {
		invalid_value(r, "action", action, "(<pause|resume|cancel>)");
		return;
	}
	pthread_rwlock_wrlock(&s->store.lock);
	long idx = store_find(&s->store, uuid);
	if (idx < 0) {
		not_found(r, uuid);
	} else {
		const char *msg = NULL;
		long code = workload_action(s, s->store.jobs[idx], action, &msg);
		if (code) {
			char c[24];
			snprintf(c, sizeof(c), "%ld", code);
			error_body(r, 400, c, msg, "action");
		} else {
			r->status = 202;
			if (asprintf(&r->body,
				     "{\"job\":{\"uuid\":\"%s\",\"_links\":{\"self\":{\"href\":"
				     "\"/api/cluster/jobs/%s\"}}}}",
				     uuid, uuid) < 0)
				r->body = NULL;
			r->len = r->body ? strlen(r->body) : 0;
			if (!r->body)
				error_body(r, 500, "1", "Out of memory.", NULL);
		}
	}
	pthread_rwlock_unlock(&s->store.lock);
}

/* ---- dispatch ---- */

/* Per request (MHD's con_cls): the URI as received and the body so far. */
struct request {
	char *uri;
	char *body;
	size_t body_len;
	bool too_big;
	bool started;
};

/* Per connection: the request whose URI came but that MHD may drop without calling
 * the access handler (a request it cannot parse), in which case it never calls the
 * completion callback either: the connection's close frees it. */
struct conn_ctx {
	struct request *pending;
};

static void request_free(struct request *rq)
{
	if (rq) {
		free(rq->uri);
		free(rq->body);
		free(rq);
	}
}

static struct conn_ctx *conn_ctx_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return info ? info->socket_context : NULL;
}

static void connection_notified(void *cls, struct MHD_Connection *conn, void **socket_context,
				enum MHD_ConnectionNotificationCode toe)
{
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		*socket_context = calloc(1, sizeof(struct conn_ctx)); /* NULL: requests refused */
	} else {
		struct conn_ctx *ctx = *socket_context;
		if (ctx) {
			request_free(ctx->pending);
			free(ctx);
		}
		*socket_context = NULL;
	}
}

static void *uri_logged(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct conn_ctx *ctx = conn_ctx_of(conn);
	struct request *rq = ctx ? calloc(1, sizeof(*rq)) : NULL;
	if (rq && !(rq->uri = strdup(uri))) {
		free(rq);
		rq = NULL;
	}
	if (ctx) {
		request_free(ctx->pending); /* never the case: the last one completed */
		ctx->pending = rq;
	}
	return rq; /* NULL: the access handler refuses the request */
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			      enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *con_cls;
	struct conn_ctx *ctx = conn_ctx_of(conn);
	if (ctx && ctx->pending == rq)
		ctx->pending = NULL;
	request_free(rq);
	*con_cls = NULL;
}

static const char *const status_messages[][2] = {
	{ "429", "Too many requests. Try again later." },
	{ "500", "Internal error. An unexpected error occurred." },
	{ "502", "Bad gateway: the cluster management process did not answer." },
	{ "503", "The system is busy. Try again later." },
	{ "504", "Gateway timeout: the request took too long." },
};

static void fault_status(int status, struct reply *r)
{
	char code[8];
	const char *msg = "Simulated failure.";
	snprintf(code, sizeof(code), "%d", status);
	for (size_t i = 0; i < sizeof(status_messages) / sizeof(status_messages[0]); i++)
		if (strcmp(status_messages[i][0], code) == 0)
			msg = status_messages[i][1];
	error_body(r, (unsigned)status, code, msg, NULL);
}

/* The truncate fault: half the body under a Content-Length of the whole. */
struct half {
	char *body;
	size_t len;
};

static ssize_t half_reader(void *cls, uint64_t pos, char *out, size_t max)
{
	struct half *h = cls;
	if (pos >= h->len / 2)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	size_t n = h->len / 2 - (size_t)pos;
	if (n > max)
		n = max;
	memcpy(out, h->body + pos, n);
	return (ssize_t)n;
}

static void half_free(void *cls)
{
	struct half *h = cls;
	free(h->body);
	free(h);
}

static bool authorized(struct sim *s, struct MHD_Connection *conn)
{
	if (!s->cfg.user)
		return true;
	char *pass = NULL;
	char *user = MHD_basic_auth_get_username_password(conn, &pass);
	bool ok = user && pass && strcmp(user, s->cfg.user) == 0 &&
		  strcmp(pass, s->cfg.password) == 0;
	if (user)
		MHD_free(user);
	if (pass)
		MHD_free(pass);
	return ok;
}

static enum sim_endpoint classify(const char *method, const char *path, const char **uuid_raw)
{
	*uuid_raw = NULL;
	if (strcmp(path, COLLECTION) == 0)
		return strcmp(method, "GET") == 0 ? EP_COLLECTION : EP_OTHER;
	if (strncmp(path, COLLECTION "/", sizeof(COLLECTION)) == 0) {
		*uuid_raw = path + sizeof(COLLECTION);
		if (strcmp(method, "GET") == 0)
			return EP_INSTANCE;
		if (strcmp(method, "PATCH") == 0)
			return EP_PATCH;
	}
	return EP_OTHER;
}

/* The counter key: decoded path + '?' + decoded query (the raw URI if it cannot be). */
static char *query_key(const char *path, const struct query *q, bool decoded, const char *uri)
{
	if (!decoded)
		return strdup(uri);
	struct buf b = { 0 };
	char *p = jfs_url_decode(path, strlen(path), NULL);
	buf_str(&b, p ? p : path);
	free(p);
	for (size_t i = 0; i < q->n; i++) {
		buf_str(&b, i ? "&" : "?");
		buf_str(&b, q->p[i].key);
		buf_str(&b, "=");
		buf_str(&b, q->p[i].value);
	}
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p ? b.p : strdup("");
}

static enum MHD_Result handle_api(struct sim *s, struct MHD_Connection *conn,
				  const char *method, struct request *rq)
{
	char *qmark = strchr(rq->uri, '?');
	char *path = qmark ? strndup(rq->uri, (size_t)(qmark - rq->uri)) : strdup(rq->uri);
	const char *raw_query = qmark && qmark[1] ? qmark + 1 : NULL;
	struct query q;
	struct reply r = { 0 };
	struct fault_effect fx;
	enum MHD_Result ret = MHD_NO;

	if (!path)
		return MHD_NO;
	int qrc = query_parse(raw_query, &q);
	const char *uuid_raw;
	enum sim_endpoint ep = classify(method, path, &uuid_raw);
	char *key = query_key(path, &q, qrc == 0, rq->uri);
	counters_count(&s->counters, ep, key ? key : rq->uri);
	free(key);

	faults_take(&s->faults, &fx);
	if (fx.latency_ms && !sim_sleep_ms(s, fx.latency_ms))
		goto out;
	if (fx.reset)
		goto out; /* MHD_NO: close without an answer */
	if (fx.stall_s) {
		sim_sleep_ms(s, fx.stall_s * 1000L);
		goto out;
	}

	if (fx.status) {
		fault_status(fx.status, &r);
	} else if (!authorized(s, conn)) {
		error_body(&r, 401, "6", "not authorized", NULL);
		struct MHD_Response *resp = r.body ? MHD_create_response_from_buffer(
			r.len, r.body, MHD_RESPMEM_MUST_FREE) : NULL;
		if (!resp) {
			free(r.body);
			goto out;
		}
		r.body = NULL;
		add_cluster_headers(s, resp);
		ret = MHD_queue_basic_auth_fail_response(conn, "ontap", resp);
		MHD_destroy_response(resp);
		goto out;
	} else if (qrc == -EINVAL) {
		error_body(&r, 400, "262197", "The query string holds an invalid %-escape.", NULL);
	} else if (qrc) {
		error_body(&r, 500, "1", "Out of memory.", NULL);
	} else if (ep == EP_COLLECTION) {
		get_collection(s, raw_query, &q, &fx, &r);
	} else if (ep == EP_INSTANCE || ep == EP_PATCH) {
		char *uuid = jfs_url_decode(uuid_raw, strlen(uuid_raw), NULL);
		if (!uuid)
			not_found(&r, uuid_raw);
		else if (ep == EP_INSTANCE)
			get_instance(s, uuid, &q, &r);
		else if (fx.readonly) /* a role that may read, not act */
			error_body(&r, 403, "6", "not authorized for that command", NULL);
		else if (fx.jobmgr)
			error_body(&r, 400, "458773", "Job Manager is not initialized.", NULL);
		else
			patch_instance(s, uuid, &q, &r);
		free(uuid);
	} else if (strcmp(path, COLLECTION) == 0 || uuid_raw) {
		error_body(&r, 405, "3", "The method is not supported for this API.", NULL);
	} else {
		error_body(&r, 404, "3", "API not found", NULL);
	}
	if (!r.body)
		goto out;

	if (fx.badjson) {
		static const char junk[] = "<html><body><h1>Service temporarily unavailable"
					   "</h1>{\"records\":[{\"uuid\":</body></html>\n";
		free(r.body);
		r.body = strdup(junk);
		r.len = sizeof(junk) - 1;
		r.status = 200;
		free(r.next);
		r.next = NULL;
		if (!r.body)
			goto out;
	}
	if (fx.truncate) {
		struct half *h = malloc(sizeof(*h));
		struct MHD_Response *resp =
			h ? MHD_create_response_from_callback(r.len, 4096, half_reader, h, half_free)
			  : NULL;
		if (!resp) {
			free(h);
			goto out;
		}
		h->body = r.body;
		h->len = r.len;
		r.body = NULL;
		ret = queue(s, conn, 200, resp, r.next);
		goto out;
	}
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(r.len, r.body, MHD_RESPMEM_MUST_FREE);
	if (!resp)
		goto out;
	r.body = NULL;
	ret = queue(s, conn, r.status, resp, r.next);
out:
	free(r.body);
	free(r.next);
	free(path);
	query_free(&q);
	return ret;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
				      const char *method, const char *version,
				      const char *upload_data, size_t *upload_data_size,
				      void **con_cls)
{
	struct sim *s = cls;
	struct request *rq = *con_cls;

	if (!rq)
		return MHD_NO; /* out of memory when the URI came */
	if (!rq->started) {
		rq->started = true;
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (rq->too_big || rq->body_len + n > BODY_MAX) {
			rq->too_big = true;
			return MHD_YES;
		}
		char *grown = realloc(rq->body, rq->body_len + n + 1);
		if (!grown)
			return MHD_NO;
		memcpy(grown + rq->body_len, upload_data, n);
		rq->body = grown;
		rq->body_len += n;
		rq->body[rq->body_len] = '\0';
		return MHD_YES;
	}

	if (strncmp(rq->uri, "/_sim", 5) == 0 && (rq->uri[5] == '/' || rq->uri[5] == '\0' ||
						  rq->uri[5] == '?')) {
		if (rq->too_big)
			return sim_reply_error(s, conn, 413, "1", "Body too large.", NULL);
		size_t plen = strcspn(rq->uri, "?");
		char *path = strndup(rq->uri, plen);
		if (!path)
			return MHD_NO;
		enum MHD_Result ret = control_handle(s, conn, method, path, rq->body, rq->body_len);
		free(path);
		return ret;
	}
	if (strncmp(rq->uri, "/api/", 5) != 0 && strcmp(rq->uri, "/api") != 0 &&
	    strncmp(rq->uri, "/api?", 5) != 0)
		return sim_reply_error(s, conn, 404, "3", "API not found", NULL); /* not counted */
	return handle_api(s, conn, method, rq);
}

/* fmt comes from libmicrohttpd: the attribute lets clang check the forwarding. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt,
							   va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	jfs_debug("libmicrohttpd: %s", msg);
}

int server_start(struct sim *s, struct MHD_Daemon **out, char *url, size_t url_len)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_POLL | MHD_USE_ERROR_LOG;
	bool v6 = strchr(s->cfg.bind, ':') != NULL;
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)s->cfg.port);
		if (inet_pton(AF_INET6, s->cfg.bind, &a->sin6_addr) != 1)
			return -EINVAL;
		flags |= MHD_USE_IPv6;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)s->cfg.port);
		if (inet_pton(AF_INET, s->cfg.bind, &a->sin_addr) != 1)
			return -EINVAL;
	}
	if (s->cfg.tls_cert)
		flags |= MHD_USE_TLS;

	struct MHD_OptionItem tls[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, s->cfg.tls_cert },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, s->cfg.tls_key },
		{ MHD_OPTION_END, 0, NULL },
	};
	struct MHD_Daemon *d = MHD_start_daemon(
		flags, 0, NULL, NULL, access_handler, s,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_URI_LOG_CALLBACK, uri_logged, s,
		MHD_OPTION_NOTIFY_COMPLETED, request_completed, s,
		MHD_OPTION_NOTIFY_CONNECTION, connection_notified, s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
		MHD_OPTION_ARRAY, s->cfg.tls_cert ? tls : &tls[2],
		MHD_OPTION_END);
	if (!d)
		return -EADDRNOTAVAIL;
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	unsigned port = info ? info->port : s->cfg.port;
	snprintf(url, url_len, "%s://%s%s%s:%u", s->cfg.tls_cert ? "https" : "http",
		 v6 ? "[" : "", s->cfg.bind, v6 ? "]" : "", port);
	*out = d;
	return 0;
}

void server_stop(struct MHD_Daemon *d)
{
	if (d)
		MHD_stop_daemon(d);
}
