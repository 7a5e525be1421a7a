/* The jobs API client (see include/jobsfs/client.h): builds the collection URL, walks
 * the next links of a listing, maps answers to errno. Parsing is page.c's and job.c's;
 * transport is http.c's. A client is immutable once made, so threads share it freely
 * (http.c is thread-safe on its own). */
#include "jobsfs/client.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobsfs/error.h"
#include "jobsfs/job.h"
#include "jobsfs/log.h"
#include "jobsfs/page.h"
#include "jobsfs/query.h"
#include "jobsfs/urlenc.h"

/* A walk longer than this is a cluster (or a proxy) looping on us. */
#define MAX_PAGES_PER_WALK 10000

struct jfs_client {
	struct jfs_http *http;
	unsigned page_size;
	int max_depth;
};

int jfs_client_new(const struct jfs_client_config *cfg, struct jfs_client **out,
		   struct jfs_error *e)
{
	struct jfs_client *c;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return jfs_error_set(e, ENOMEM, "out of memory");
	rc = jfs_http_new(&cfg->http, &c->http, e);
	if (rc < 0) {
		free(c);
		return rc;
	}
	c->page_size = cfg->page_size ? cfg->page_size : JFS_PAGE_SIZE_DEFAULT;
	c->max_depth = cfg->max_depth > 0 ? cfg->max_depth : JFS_MAX_DEPTH_DEFAULT;
	*out = c;
	return 0;
}

void jfs_client_free(struct jfs_client *c)
{
	if (!c)
		return;
	jfs_http_free(c->http);
	free(c);
}

struct jfs_http *jfs_client_http(struct jfs_client *c)
{
	return c->http;
}

void jfs_client_stop(struct jfs_client *c)
{
	jfs_http_stop(c->http);
}

/* ---- errors -------------------------------------------------------------------- */

/* How much of an answer that is not ONTAP's is quoted in its error. */
#define FOREIGN_QUOTE_MAX 100

/* text[0..len) without the blanks around it. */
static const char *trimmed(const char *text, size_t *len)
{
	while (*len > 0 && isspace((unsigned char)text[0]))
		text++, (*len)--;
	while (*len > 0 && isspace((unsigned char)text[*len - 1]))
		(*len)--;
	return text;
}

/* What answered when the body of an error is not ONTAP's (a proxy, a load balancer, a
 * web server at the wrong address): its page's <title> when it has one, else the
 * body's first line. Never more: a server that echoes the request would have our
 * Authorization header on a later line. jfs_error_set cleans what is quoted. */
static void foreign_error(const struct jfs_http_response *r, int err, struct jfs_error *e)
{
	const char *body = r->body ? r->body : ""; /* NUL-terminated (http.h) */
	size_t len = 0;
	const char *text = strcasestr(body, "<title");

	if (text && (text = strchr(text, '>'))) {
		text++;
		len = strcspn(text, "<");
		text = trimmed(text, &len);
	}
	if (len == 0) { /* no title, or an empty one */
		len = strnlen(body, r->body ? r->len : 0);
		text = trimmed(body, &len);
		size_t line = strcspn(text, "\r\n");
		if (line < len)
			len = line;
	}
	if (len == 0) {
		jfs_error_set(e, err, "not ONTAP's answer (an empty body)");
		return;
	}
	jfs_error_set(e, err, "not ONTAP's answer: \"%.*s%s\"",
		      (int)(len < FOREIGN_QUOTE_MAX ? len : FOREIGN_QUOTE_MAX), text,
		      len > FOREIGN_QUOTE_MAX ? "..." : "");
}

/* An HTTP answer that is not 2xx: the cluster's own error (code, message) when the
 * body is one, and the errno for it. */
static int answer_error(const struct jfs_http_response *r, const char *method,
			const char *path, struct jfs_error *e)
{
	bool ontap = jfs_ontap_error_parse(r->body, r->len, e) == 0;
	int err = jfs_errno_from_http(r->status, ontap ? e->code : "");

	if (ontap)
		e->err = err;
	else
		foreign_error(r, err, e);
	e->http_status = r->status;
	jfs_error_set_request(e, method, path);
	return -err;
}

/* A transport failure from http.c. A connection reset or a partial answer that
 * outlived the retries is, for the filesystem, an I/O error on the cluster's side:
 * EIO, with the transport's words kept in e->message. The other errnos (ETIMEDOUT,
 * ECONNREFUSED, EHOSTUNREACH, EFBIG, ENOMEM, EIO) say more as they are. */
static int transport_error(int rc, struct jfs_error *e)
{
	if (rc == -ECONNRESET) {
		e->err = EIO;
		return -EIO;
	}
	return rc;
}

/* ---- a set of strings ---------------------------------------------------------- */

/* Open addressing, linear probing, at most half full. The set does not own its keys:
 * the uuids are the list's jobs', the visited paths are freed by str_set_free_keys. */
struct str_set {
	const char **slots;
	size_t cap, n;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static int set_grow(struct str_set *set)
{
	size_t cap = set->cap ? set->cap * 2 : 256;
	const char **slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < set->cap; i++) {
		if (!set->slots[i])
			continue;
		size_t j = hash_str(set->slots[i]) & (cap - 1);
		while (slots[j])
			j = (j + 1) & (cap - 1);
		slots[j] = set->slots[i];
	}
	free(set->slots);
	set->slots = slots;
	set->cap = cap;
	return 0;
}

static void str_set_free_keys(struct str_set *set)
{
	for (size_t i = 0; i < set->cap; i++)
		free((char *)set->slots[i]);
}

/* 1 when key was added, 0 when it was there already, -ENOMEM. */
static int set_add(struct str_set *set, const char *key)
{
	if ((set->n + 1) * 2 > set->cap && set_grow(set) < 0)
		return -ENOMEM;
	size_t i = hash_str(key) & (set->cap - 1);
	for (; set->slots[i]; i = (i + 1) & (set->cap - 1))
		if (strcmp(set->slots[i], key) == 0)
			return 0;
	set->slots[i] = key;
	set->n++;
	return 1;
}

/* ---- the list ------------------------------------------------------------------ */

void jfs_job_list_free(struct jfs_job_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->n; i++)
		jfs_job_unref(list->jobs[i]);
	free(list->jobs);
	memset(list, 0, sizeof(*list));
}

/* Add the page's jobs not seen yet, each with a reference of its own. */
static int list_add_page(struct jfs_job_list *list, size_t *cap, struct str_set *seen,
			 const struct jfs_page *page)
{
	if (list->n + page->n > *cap) {
		size_t want = *cap ? *cap : 64;
		while (want < list->n + page->n)
			want *= 2;
		struct jfs_job **grown = realloc(list->jobs, want * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		list->jobs = grown;
		*cap = want;
	}
	for (size_t i = 0; i < page->n; i++) {
		struct jfs_job *job = page->jobs[i];
		int added = set_add(seen, job->uuid);
		if (added < 0)
			return added;
		if (added)
			list->jobs[list->n++] = jfs_job_ref(job);
		else
			jfs_debug("job %s seen twice in one listing: kept once", job->uuid);
	}
	return 0;
}

/* The first page's path: the query, then fields=* and max_records unless the query
 * sets them. */
static char *first_path(const struct jfs_client *c, const struct jfs_query *q)
{
	const char *qs = q ? jfs_query_string(q) : "";
	bool has_fields = q && jfs_query_get(q, JFS_QUERY_FIELDS);
	bool has_max = q && jfs_query_max_records(q) > 0;
	char max[32] = "";
	char *path;

	if (!has_max)
		snprintf(max, sizeof(max), "max_records=%u", c->page_size);
	if (asprintf(&path, "%s?%s%s%s%s%s", JFS_JOBS_PATH, qs, *qs ? "&" : "",
		     has_fields ? "" : "fields=*", !has_fields && !has_max ? "&" : "", max) < 0)
		return NULL;
	/* With both set by the query, the string may end in '&' or '?': drop it. */
	size_t len = strlen(path);
	if (path[len - 1] == '&' || path[len - 1] == '?')
		path[len - 1] = '\0';
	return path;
}

/* A next link's path as a request path: bytes that may not appear raw in a URL
 * (spaces, controls, non-ASCII, "<>\^`{|}) are percent-encoded; '%' escapes and the
 * reserved characters are kept as the cluster wrote them. NULL on ENOMEM. */
static char *link_path(const char *p)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(p);
	char *out = malloc(len * 3 + 1);
	char *w = out;

	if (!out)
		return NULL;
	for (; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (*p == '#')
			break; /* a fragment is not sent */
		if (ch <= 0x20 || ch >= 0x7f || strchr("\"<>\\^`{|}", ch)) {
			*w++ = '%';
			*w++ = hex[ch >> 4];
			*w++ = hex[ch & 15];
		} else {
			*w++ = (char)ch;
		}
	}
	*w = '\0';
	return out;
}

/* "scheme://authority" of an absolute URL, for messages. */
static void origin_text(const char *url, char *buf, size_t len)
{
	const char *auth = strstr(url, "://");
	const char *start = auth ? auth + 3 : (url[0] == '/' && url[1] == '/' ? url + 2 : url);
	size_t n = (size_t)(start - url) + strcspn(start, "/?#");
	snprintf(buf, len, "%.*s", (int)n, url);
}

/* Where the walk goes after a page: 0 with *next set (malloc'd) or NULL when the walk
 * is over; negative errno when the next link may not be followed. */
static int next_path(struct jfs_client *c, const char *href, const char *current,
		     char **next, struct jfs_error *e)
{
	const char *path;

	*next = NULL;
	if (!href)
		return 0;
	bool absolute = strstr(href, "://") || (href[0] == '/' && href[1] == '/');
	if (!absolute && href[0] != '/') {
		jfs_error_set(e, EIO, "next link is neither a path nor a URL: %.200s", href);
		jfs_error_set_request(e, "GET", current);
		return -EIO;
	}
	if (!jfs_http_same_origin(c->http, href, &path)) {
		char origin[256];
		origin_text(href, origin, sizeof(origin));
		jfs_warn("GET %s: not following a next link to another origin: %s", current,
			 origin);
		jfs_error_set(e, EIO, "next link leaves the cluster: %s", origin);
		jfs_error_set_request(e, "GET", current);
		return -EIO;
	}
	if (path[0] != '/') {
		jfs_error_set(e, EIO, "next link without a path: %.200s", href);
		jfs_error_set_request(e, "GET", current);
		return -EIO;
	}
	*next = link_path(path);
	if (!*next)
		return jfs_error_set(e, ENOMEM, "out of memory");
	return 0;
}

int jfs_client_list(struct jfs_client *c, const struct jfs_query *q,
		    struct jfs_job_list *out, struct jfs_error *e)
{
	struct jfs_error local;
	struct str_set seen = { 0 };	  /* uuids in out */
	struct str_set visited = { 0 }; /* paths fetched, owned */
	size_t cap = 0;
	int rc = 0;

	if (!e)
		e = &local;
	jfs_error_clear(e);
	memset(out, 0, sizeof(*out));
	bool one_page = q && jfs_query_max_records(q) > 0;
	char *path = first_path(c, q);
	if (!path)
		return jfs_error_set(e, ENOMEM, "out of memory");

	while (path) {
		struct jfs_http_response resp;
		struct jfs_page page;
		char *next = NULL;

		/* A walk's next links carry cursors: one seen before means the cluster
		 * sends us round in a circle (a page linking to itself, or A->B->A). */
		int added = set_add(&visited, path);
		if (added <= 0) {
			if (added == 0)
				jfs_warn("next link %s leads back to a page of this listing: "
					 "listing ends here", path);
			else
				rc = jfs_error_set(e, ENOMEM, "out of memory");
			free(path);
			break;
		}
		if (out->pages >= MAX_PAGES_PER_WALK) {
			rc = jfs_error_set(e, EIO, "more than %d pages in one listing: giving up",
					   MAX_PAGES_PER_WALK);
			jfs_error_set_request(e, "GET", path);
			break;
		}
		rc = jfs_http_get(c->http, path, &resp, e);
		if (rc < 0) {
			rc = transport_error(rc, e);
			break;
		}
		if (resp.status < 200 || resp.status > 299) {
			rc = answer_error(&resp, "GET", path, e);
			jfs_http_response_free(&resp);
			break;
		}
		out->pages++;
		rc = jfs_page_parse(resp.body, resp.len, c->max_depth, &page, e);
		jfs_http_response_free(&resp);
		if (rc < 0) {
			jfs_error_set_request(e, "GET", path);
			break;
		}
		rc = list_add_page(out, &cap, &seen, &page);
		if (rc < 0)
			jfs_error_set(e, -rc, "out of memory");
		else if (!one_page)
			rc = next_path(c, page.next_href, path, &next, e);
		jfs_page_free(&page);
		if (rc < 0)
			break;
		path = next; /* the fetched one stays in visited */
	}
	str_set_free_keys(&visited);
	free(visited.slots);
	free(seen.slots);
	if (rc < 0) {
		size_t pages = out->pages;
		jfs_job_list_free(out);
		out->pages = pages;
	}
	return rc;
}

int jfs_client_get(struct jfs_client *c, const char *uuid, struct jfs_job **out,
		   struct jfs_error *e)
{
	struct jfs_error local;
	struct jfs_http_response resp;
	char *enc, *path;
	int rc;

	if (!e)
		e = &local;
	jfs_error_clear(e);
	*out = NULL;
	/* Only /api/cluster/jobs/<uuid> is ever asked: "..", "." or "" would reach
	 * other endpoints (the cluster object, the whole collection). */
	if (!jfs_uuid_is_valid(uuid))
		return jfs_error_set(e, ENOENT, "not a job uuid: no request made");
	enc = jfs_url_encode(uuid);
	if (!enc)
		return jfs_error_set(e, ENOMEM, "out of memory");
	rc = asprintf(&path, "%s/%s?fields=*", JFS_JOBS_PATH, enc);
	free(enc);
	if (rc < 0)
		return jfs_error_set(e, ENOMEM, "out of memory");

	rc = jfs_http_get(c->http, path, &resp, e);
	if (rc < 0) {
		rc = transport_error(rc, e);
	} else if (resp.status < 200 || resp.status > 299) {
		rc = answer_error(&resp, "GET", path, e);
	} else {
		rc = jfs_job_parse(resp.body, resp.len, c->max_depth, out, e);
		if (rc == 0 && strcasecmp((*out)->uuid, uuid) != 0) {
			/* Never cached as the job asked for (nor shown as any job). */
			char got[64];
			jfs_clean_text(got, sizeof(got), (*out)->uuid, strlen((*out)->uuid));
			rc = jfs_error_set(e, EIO, "the cluster answered job \"%s\" for job %s",
					   got, uuid);
			jfs_job_unref(*out);
			*out = NULL;
		}
		if (rc < 0)
			jfs_error_set_request(e, "GET", path);
	}
	jfs_http_response_free(&resp);
	free(path);
	return rc;
}

const char *const jfs_job_actions[] = { "cancel", "pause", "resume", NULL };

int jfs_client_act(struct jfs_client *c, const char *uuid, const char *action,
		   struct jfs_error *e)
{
	struct jfs_error local;
	struct jfs_http_response resp;
	char *path;
	int rc;

	if (!e)
		e = &local;
	jfs_error_clear(e);
	size_t i = 0;
	while (jfs_job_actions[i] && strcmp(jfs_job_actions[i], action) != 0)
		i++;
	if (!jfs_job_actions[i])
		return jfs_error_set(e, EINVAL, "not a job action (cancel, pause, resume): no "
						"request made");
	if (!jfs_uuid_is_valid(uuid)) /* as jfs_client_get: only ever this endpoint */
		return jfs_error_set(e, ENOENT, "not a job uuid: no request made");
	/* A valid uuid and a known action need no encoding. */
	if (asprintf(&path, "%s/%s?action=%s", JFS_JOBS_PATH, uuid, action) < 0)
		return jfs_error_set(e, ENOMEM, "out of memory");
	rc = jfs_http_patch(c->http, path, &resp, e);
	if (rc == -ETIMEDOUT || rc == -ECONNRESET) {
		/* Sent, and no answer: the cluster may have acted. */
		char said[sizeof(e->message)];
		snprintf(said, sizeof(said), "%s", e->message);
		jfs_error_set(e, -rc, "%s (the request was sent: the cluster may have acted; "
				      "read the job's state)", said);
		jfs_error_set_request(e, "PATCH", path);
		rc = transport_error(rc, e);
	} else if (rc < 0) {
		rc = transport_error(rc, e);
	} else if (resp.status < 200 || resp.status > 299) {
		rc = answer_error(&resp, "PATCH", path, e);
	}
	jfs_http_response_free(&resp);
	free(path);
	return rc;
}
