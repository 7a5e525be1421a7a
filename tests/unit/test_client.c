/* The jobs API client (src/client.c) against ontap-sim: walks over many pages, query
 * strings reaching the cluster exactly, max_records, the next-link rules (repeats,
 * foreign origins, empty pages), broken answers, the cluster's errors as errno, one job
 * by uuid, authentication, many threads at once; and, against a canned server in this
 * file, duplicates across pages and absolute next links. */
#include "jobsfs/client.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_helpers.h"
#include "jobsfs/error.h"
#include "jobsfs/job.h"
#include "jobsfs/query.h"
#include "jobsfs/urlenc.h"

#define JOBS "/api/cluster/jobs"
#define NJOBS 250
#define PAGE 7

/* ---- helpers ------------------------------------------------------------------- */

static struct jfs_client *client_for(const char *url, unsigned page_size)
{
	struct jfs_client_config cfg = { .http = { .base_url = url }, .page_size = page_size };
	struct jfs_client *c = NULL;
	struct jfs_error e = { 0 };
	int rc = jfs_client_new(&cfg, &c, &e);
	ck_assert_msg(rc == 0, "jfs_client_new: %d %s", rc, e.message);
	return c;
}

static struct jfs_query *query_of(const char *const segments[])
{
	struct jfs_query *q = jfs_query_new();
	ck_assert_ptr_nonnull(q);
	for (size_t i = 0; segments[i]; i++) {
		struct jfs_error e = { 0 };
		int rc = jfs_query_add_segment(q, segments[i], &e);
		ck_assert_msg(rc == 0, "segment %s: %s", segments[i], e.message);
	}
	return q;
}

static struct json_object *sim_json(const struct sim *s, const char *path)
{
	char *body = NULL;
	ck_assert_int_eq(sim_request(s, "GET", path, NULL, &body), 200);
	struct json_object *root = json_tokener_parse(body);
	ck_assert_msg(root != NULL, "not JSON: %s", body);
	free(body);
	return root;
}

static struct json_object *counters(const struct sim *s, const char *member)
{
	struct json_object *root = sim_json(s, "/_sim/counters"), *m;
	ck_assert(json_object_object_get_ex(root, member, &m));
	json_object_get(m);
	json_object_put(root);
	return m; /* one reference, the caller's */
}

static long sim_total(const struct sim *s)
{
	struct json_object *t = counters(s, "total");
	long n = (long)json_object_get_int64(t);
	json_object_put(t);
	return n;
}

static long sim_collection_gets(const struct sim *s)
{
	struct json_object *by = counters(s, "by_endpoint"), *n;
	long v = json_object_object_get_ex(by, "GET /api/cluster/jobs", &n)
			 ? (long)json_object_get_int64(n) : 0;
	json_object_put(by);
	return v;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The list holds exactly the simulator's jobs (optionally only those in states), each
 * once. */
static void assert_same_jobs(const struct sim *s, const struct jfs_job_list *list,
			     const char *const states[])
{
	struct json_object *all = sim_json(s, "/_sim/jobs"), *recs;
	ck_assert(json_object_object_get_ex(all, "records", &recs));
	size_t total = json_object_array_length(recs), want_n = 0;
	char **want = calloc(total + 1, sizeof(*want));
	char **got = calloc(list->n + 1, sizeof(*got));
	ck_assert(want && got);
	for (size_t i = 0; i < total; i++) {
		struct json_object *r = json_object_array_get_idx(recs, i), *u, *st;
		ck_assert(json_object_object_get_ex(r, "uuid", &u));
		bool keep = !states;
		if (states && json_object_object_get_ex(r, "state", &st))
			for (size_t k = 0; states[k]; k++)
				keep |= strcmp(json_object_get_string(st), states[k]) == 0;
		if (keep)
			want[want_n++] = (char *)json_object_get_string(u);
	}
	for (size_t i = 0; i < list->n; i++)
		got[i] = (char *)list->jobs[i]->uuid; /* sorted, never written */
	qsort(want, want_n, sizeof(*want), cmp_str);
	qsort(got, list->n, sizeof(*got), cmp_str);
	ck_assert_uint_eq(list->n, want_n);
	for (size_t i = 0; i < want_n; i++)
		ck_assert_str_eq(got[i], want[i]);
	free(want);
	free(got);
	json_object_put(all);
}

/* ---- the shared simulator ------------------------------------------------------ */

static struct sim shared;

/* A day's retention: with the default 300 s, the oldest finished jobs expire while a slow
 * run (ThreadSanitizer) is still counting them. */
static const char *const shared_args[] = { "--jobs", "250", "--seed", "7", "--expiry", "86400",
					   NULL };

/* List the shared simulator's jobs that one query segment selects, pages of page_size,
 * with a client and query of its own: returns what jfs_client_list did, the list (the
 * caller's to free when 0) and the error. */
static int list_matching(const char *segment, unsigned page_size, struct jfs_job_list *list,
			 struct jfs_error *e)
{
	const char *const seg[] = { segment, NULL };
	struct jfs_client *c = client_for(shared.url, page_size);
	struct jfs_query *q = query_of(seg);
	int rc = jfs_client_list(c, q, list, e);
	jfs_query_free(q);
	jfs_client_free(c);
	return rc;
}

/* How often the shared simulator received key (a path with the query it decoded, as its
 * by_query counters name requests); fails the test, listing the keys, when never. */
static int times_queried(const char *key)
{
	struct json_object *by = counters(&shared, "by_query"), *n;
	ck_assert_msg(json_object_object_get_ex(by, key, &n), "no key %s in %s", key,
		      json_object_to_json_string(by));
	int times = json_object_get_int(n);
	json_object_put(by);
	return times;
}

START_TEST(list_every_page)
{
	struct jfs_client *c = client_for(shared.url, PAGE);
	struct jfs_job_list list;
	struct jfs_error e = { 0 };

	ck_assert_int_eq(jfs_client_list(c, NULL, &list, &e), 0);
	ck_assert_uint_eq(list.n, NJOBS);
	ck_assert_uint_eq(list.pages, (NJOBS + PAGE - 1) / PAGE);
	ck_assert_int_eq(sim_collection_gets(&shared), (NJOBS + PAGE - 1) / PAGE);
	assert_same_jobs(&shared, &list, NULL);
	/* fields=* came: every job has its state and description. */
	for (size_t i = 0; i < list.n; i++) {
		ck_assert_int_ne(list.jobs[i]->state, JFS_JOB_UNKNOWN);
		ck_assert_ptr_nonnull(jfs_node_child(&list.jobs[i]->root, "description"));
	}
	jfs_job_list_free(&list);
	ck_assert_uint_eq(list.n, 0);

	/* The default page size takes one page. */
	struct jfs_client *big = client_for(shared.url, 0);
	sim_clean(&shared);
	ck_assert_int_eq(jfs_client_list(big, NULL, &list, &e), 0);
	ck_assert_uint_eq(list.n, NJOBS);
	ck_assert_uint_eq(list.pages, 1);
	ck_assert_int_ge(times_queried(JOBS "?fields=*&max_records=1000"), 1);
	jfs_job_list_free(&list);
	jfs_client_free(big);
	jfs_client_free(c);
}
END_TEST

START_TEST(filter_selects)
{
	static const char *const states[] = { "success", "failure", NULL };
	struct jfs_job_list list;
	struct jfs_error e = { 0 };

	ck_assert_int_eq(list_matching("state=success|failure", PAGE, &list, &e), 0);
	assert_same_jobs(&shared, &list, states);
	ck_assert_uint_gt(list.n, 0);
	for (size_t i = 0; i < list.n; i++)
		ck_assert(jfs_job_is_terminal(list.jobs[i]));
	jfs_job_list_free(&list);
}
END_TEST

/* Every byte of a filter reaches the cluster as written: the simulator's key of the
 * request is the decoded query it received. */
START_TEST(filter_reaches_cluster_exactly)
{
	static const char *const seg[] = {
		"description=*\"Snap shot\"|{a&b}|!<x>=#%+?\xc3\xa9'*", "state=!failure", NULL
	};
	struct jfs_client *c = client_for(shared.url, PAGE);
	struct jfs_query *q = query_of(seg);
	struct jfs_job_list list;
	struct jfs_error e = { 0 };

	int rc = jfs_client_list(c, q, &list, &e);
	ck_assert_msg(rc == 0 || rc == -EINVAL, "rc %d: %s", rc, e.message);
	if (rc == 0)
		jfs_job_list_free(&list);

	const char *qs = jfs_query_string(q);
	char *decoded = jfs_url_decode(qs, strlen(qs), NULL), *want;
	ck_assert_ptr_nonnull(decoded);
	ck_assert_int_ge(asprintf(&want, JOBS "?%s&fields=*&max_records=%d", decoded, PAGE), 0);
	ck_assert_ptr_nonnull(strstr(want, "description=*\"Snap shot\"|{a&b}|!<x>=#%+?\xc3\xa9'*"));
	ck_assert_ptr_nonnull(strstr(want, "state=!failure"));

	ck_assert_int_eq(times_queried(want), 1);
	free(want);
	free(decoded);
	jfs_query_free(q);
	jfs_client_free(c);
}
END_TEST

START_TEST(fields_from_query)
{
	struct jfs_job_list list;
	struct jfs_error e = { 0 };

	ck_assert_int_eq(list_matching("fields=state", 50, &list, &e), 0);
	ck_assert_uint_eq(list.n, NJOBS);
	for (size_t i = 0; i < list.n; i++)
		ck_assert_ptr_null(jfs_node_child(&list.jobs[i]->root, "description"));
	ck_assert_int_ge(times_queried(JOBS "?fields=state&max_records=50"), 1);
	jfs_job_list_free(&list);
}
END_TEST

START_TEST(max_records_is_one_page)
{
	struct jfs_job_list list;
	struct jfs_error e = { 0 };

	ck_assert_int_eq(list_matching("max_records=5", PAGE, &list, &e), 0);
	ck_assert_uint_eq(list.n, 5);
	ck_assert_uint_eq(list.pages, 1);
	ck_assert_int_eq(sim_total(&shared), 1);
	ck_assert_int_ge(times_queried(JOBS "?max_records=5&fields=*"), 1);
	jfs_job_list_free(&list);
}
END_TEST

START_TEST(repeated_next_link_stops)
{
	struct jfs_client *c = client_for(shared.url, PAGE);
	struct jfs_job_list list;
	struct jfs_error e = { 0 };

	sim_faults(&shared, "repeat-next");
	ck_assert_int_eq(jfs_client_list(c, NULL, &list, &e), 0);
	ck_assert_uint_eq(list.n, PAGE);
	ck_assert_int_eq(sim_total(&shared), 1);
	jfs_job_list_free(&list);
	jfs_client_free(c);
}
END_TEST

START_TEST(foreign_next_link_refused)
{
	struct jfs_client *c = client_for(shared.url, PAGE);
	struct jfs_job_list list;
	struct jfs_error e = { 0 };
	struct jfs_http_counters hc;

	sim_faults(&shared, "foreign-next=http://127.0.0.2:1");
	ck_assert_int_eq(jfs_client_list(c, NULL, &list, &e), -EIO);
	ck_assert_int_eq(e.err, EIO);
	ck_assert_str_eq(e.message, "next link leaves the cluster: http://127.0.0.2:1");
	ck_assert_ptr_null(list.jobs);
	ck_assert_uint_eq(list.n, 0);
	jfs_http_counters_get(jfs_client_http(c), &hc);
	ck_assert_uint_eq(hc.requests, 1); /* nothing went to the foreign origin */
	ck_assert_uint_eq(hc.fail_connect, 0);
	ck_assert_int_eq(sim_total(&shared), 1);
	jfs_client_free(c);
}
END_TEST

START_TEST(empty_pages_followed)
{
	struct jfs_client *c = client_for(shared.url, 1000);
	struct jfs_job_list list;
	struct jfs_error e = { 0 };

	/* Three empty pages with next links, then one page with every job. */
	sim_faults(&shared, "empty-pages=3");
	ck_assert_int_eq(jfs_client_list(c, NULL, &list, &e), 0);
	ck_assert_uint_eq(list.n, NJOBS);
	ck_assert_uint_eq(list.pages, 4);
	ck_assert_int_eq(sim_total(&shared), 4);
	assert_same_jobs(&shared, &list, NULL);
	jfs_job_list_free(&list);
	jfs_client_free(c);

	/* Over many pages: every job once, and every page fetched counted. */
	c = client_for(shared.url, PAGE);
	sim_clean(&shared);
	sim_faults(&shared, "empty-pages=3");
	ck_assert_int_eq(jfs_client_list(c, NULL, &list, &e), 0);
	assert_same_jobs(&shared, &list, NULL);
	ck_assert_uint_ge(list.pages, 3 + (NJOBS + PAGE - 1) / PAGE);
	ck_assert_int_eq(sim_total(&shared), (long)list.pages);
	jfs_job_list_free(&list);
	jfs_client_free(c);
}
END_TEST

START_TEST(broken_answers)
{
	struct jfs_client_config cfg = { .http = { .base_url = shared.url, .max_retries = 2 },
					 .page_size = 50 };
	struct jfs_client *c = NULL;
	struct jfs_job_list list;
	struct jfs_error e = { 0 };
	struct jfs_http_counters hc;
	ck_assert_int_eq(jfs_client_new(&cfg, &c, &e), 0);

	/* A body cut once: the transfer is retried, the listing whole. */
	sim_faults(&shared, "truncate*1");
	ck_assert_int_eq(jfs_client_list(c, NULL, &list, &e), 0);
	ck_assert_uint_eq(list.n, NJOBS);
	ck_assert_int_eq(e.err, 0);
	jfs_job_list_free(&list);

	/* Always cut: EIO once the retries are spent. */
	sim_clean(&shared);
	jfs_http_counters_reset(jfs_client_http(c));
	sim_faults(&shared, "truncate");
	ck_assert_int_eq(jfs_client_list(c, NULL, &list, &e), -EIO);
	ck_assert_int_eq(e.err, EIO);
	ck_assert_str_eq(e.request, "GET " JOBS "?fields=*&max_records=50");
	jfs_http_counters_get(jfs_client_http(c), &hc);
	ck_assert_uint_eq(hc.retries, 2);
	ck_assert_int_eq(sim_total(&shared), 3);

	/* Not JSON: EIO at once, a complete answer is not retried. */
	sim_clean(&shared);
	jfs_http_counters_reset(jfs_client_http(c));
	sim_faults(&shared, "badjson");
	ck_assert_int_eq(jfs_client_list(c, NULL, &list, &e), -EIO);
	ck_assert_ptr_nonnull(strstr(e.request, JOBS));
	jfs_http_counters_get(jfs_client_http(c), &hc);
	ck_assert_uint_eq(hc.retries, 0);
	ck_assert_int_eq(sim_total(&shared), 1);

	sim_clean(&shared);
	sim_faults(&shared, "badjson");
	struct jfs_job *job = NULL;
	ck_assert_int_eq(jfs_client_get(c, "00000000-0000-0000-0000-0000000000ab", &job, &e), -EIO);
	ck_assert_ptr_null(job);

	/* A server error that stays: EIO with the cluster's message. */
	sim_clean(&shared);
	sim_faults(&shared, "status=503");
	ck_assert_int_eq(jfs_client_list(c, NULL, &list, &e), -EIO);
	ck_assert_int_eq(e.http_status, 503);
	ck_assert_str_ne(e.message, "");
	jfs_client_free(c);
}
END_TEST

START_TEST(query_rejected_is_einval)
{
	struct jfs_job_list list;
	struct jfs_error e = { 0 };

	ck_assert_int_eq(list_matching("no_such_field=1", PAGE, &list, &e), -EINVAL);
	ck_assert_int_eq(e.err, EINVAL);
	ck_assert_int_eq(e.http_status, 400);
	ck_assert_str_eq(e.request, "GET " JOBS "?no_such_field=1&fields=*&max_records=7");

	/* The message and code are the cluster's own. */
	char *body = NULL;
	ck_assert_int_eq(sim_request(&shared, "GET", JOBS "?no_such_field=1", NULL, &body), 400);
	struct json_object *root = json_tokener_parse(body), *err, *msg, *code;
	ck_assert_ptr_nonnull(root);
	ck_assert(json_object_object_get_ex(root, "error", &err));
	ck_assert(json_object_object_get_ex(err, "message", &msg));
	ck_assert(json_object_object_get_ex(err, "code", &code));
	ck_assert_ptr_nonnull(strstr(e.message, json_object_get_string(msg)));
	ck_assert_str_eq(e.code, json_object_get_string(code));
	json_object_put(root);
	free(body);
}
END_TEST

START_TEST(get_one_job)
{
	struct jfs_client *c = client_for(shared.url, PAGE);
	struct jfs_error e = { 0 };
	struct jfs_job *job = NULL;

	struct json_object *all = sim_json(&shared, "/_sim/jobs"), *recs, *u, *st;
	ck_assert(json_object_object_get_ex(all, "records", &recs));
	struct json_object *rec = json_object_array_get_idx(recs, 17);
	ck_assert(json_object_object_get_ex(rec, "uuid", &u));
	ck_assert(json_object_object_get_ex(rec, "state", &st));

	ck_assert_int_eq(jfs_client_get(c, json_object_get_string(u), &job, &e), 0);
	ck_assert_str_eq(job->uuid, json_object_get_string(u));
	ck_assert_str_eq(jfs_job_state_name(job->state), json_object_get_string(st));
	ck_assert_ptr_nonnull(jfs_node_child(&job->root, "description"));
	jfs_job_unref(job);
	json_object_put(all);

	ck_assert_int_eq(jfs_client_get(c, "00000000-0000-0000-0000-000000000000", &job, &e),
			 -ENOENT);
	ck_assert_ptr_null(job);
	ck_assert_int_eq(e.err, ENOENT);
	ck_assert_int_eq(e.http_status, 404);
	ck_assert_str_eq(e.request, "GET " JOBS "/00000000-0000-0000-0000-000000000000?fields=*");
	jfs_client_free(c);
}
END_TEST

/* Only /api/cluster/jobs/<a job uuid> is ever asked: "..", "." and "" would reach
 * the cluster object or the whole collection (issue 11), and a name with '/', '?' or
 * '#' another path. None of them sends a request. */
START_TEST(get_only_job_uuids)
{
	struct jfs_client *c = client_for(shared.url, PAGE);
	struct jfs_error e = { 0 };
	struct jfs_job *job = NULL;
	static const char *const odd[] = { "..", ".", "", "a/b", "x?y#z", "../../etc",
					   "sp ace%41", "whatever",
					   "00000000-0000-0000-0000-00000000000",
					   "00000000-0000-0000-0000-0000000000000",
					   "00000000x0000-0000-0000-000000000000",
					   "0000000g-0000-0000-0000-000000000000" };

	sim_clean(&shared);
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		ck_assert_int_eq(jfs_client_get(c, odd[i], &job, &e), -ENOENT);
		ck_assert_ptr_null(job);
	}
	ck_assert_int_eq(sim_total(&shared), 0);
	/* Upper-case hex is a uuid too: asked, and answered 404 (ENOENT) by the cluster. */
	ck_assert_int_eq(jfs_client_get(c, "ABCDEF00-0000-0000-0000-000000000000", &job, &e),
			 -ENOENT);
	ck_assert_int_eq(sim_total(&shared), 1);
	jfs_client_free(c);
}
END_TEST

struct walker {
	struct jfs_client *c;
	int rc;
	size_t n;
};

static void *walk(void *arg)
{
	struct walker *w = arg;
	struct jfs_job_list list;
	struct jfs_error e = { 0 };
	w->rc = jfs_client_list(w->c, NULL, &list, &e);
	w->n = list.n;
	if (w->rc == 0)
		jfs_job_list_free(&list);
	return NULL;
}

START_TEST(threads_list_at_once)
{
	enum { THREADS = 16 };
	struct jfs_client *c = client_for(shared.url, 25);
	struct walker w[THREADS];
	pthread_t t[THREADS];
	struct jfs_http_counters hc;

	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct walker){ .c = c, .rc = -1 };
		ck_assert_int_eq(pthread_create(&t[i], NULL, walk, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_int_eq(w[i].rc, 0);
		ck_assert_uint_eq(w[i].n, NJOBS);
	}
	jfs_http_counters_get(jfs_client_http(c), &hc);
	ck_assert_uint_eq(hc.requests, THREADS * ((NJOBS + 24) / 25));
	ck_assert_int_eq(sim_total(&shared), THREADS * ((NJOBS + 24) / 25));
	ck_assert_uint_le(hc.connections, THREADS + 2); /* at most one per thread, near enough */
	jfs_client_free(c);
}
END_TEST

/* ---- simulators of their own --------------------------------------------------- */

START_TEST(auth_refused_is_eacces)
{
	char dir[] = "/tmp/jobsfs-cauth-XXXXXX", pw[64];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(pw, sizeof(pw), "%s/pw", dir);
	FILE *f = fopen(pw, "w");
	ck_assert_ptr_nonnull(f);
	fputs("g00d\n", f);
	fclose(f);
	chmod(pw, 0600);
	const char *const args[] = { "--jobs", "3", "--user", "admin", "--password-file", pw,
				     NULL };
	struct sim s;
	ck_assert_int_eq(sim_start(&s, args), 0);

	struct jfs_client_config cfg = { .http = { .base_url = s.url, .user = "admin",
						   .password = "bad" } };
	struct jfs_client *c = NULL;
	struct jfs_job_list list;
	struct jfs_error e = { 0 };
	ck_assert_int_eq(jfs_client_new(&cfg, &c, &e), 0);
	ck_assert_int_eq(jfs_client_list(c, NULL, &list, &e), -EACCES);
	ck_assert_int_eq(e.http_status, 401);
	ck_assert_ptr_null(strstr(e.message, "bad"));
	jfs_client_free(c);

	cfg.http.password = "g00d";
	ck_assert_int_eq(jfs_client_new(&cfg, &c, &e), 0);
	ck_assert_int_eq(jfs_client_list(c, NULL, &list, &e), 0);
	ck_assert_uint_eq(list.n, 3);
	jfs_job_list_free(&list);
	jfs_client_free(c);

	sim_stop(&s);
	unlink(pw);
	rmdir(dir);
}
END_TEST

/* ---- a canned server ----------------------------------------------------------- */

/* Answers each GET with the body whose path matches, one request per connection,
 * in a thread of its own. Enough HTTP for what the client must do with pages that no
 * faithful cluster sends: a job on two pages, absolute next links. */
struct canned {
	int fd;
	unsigned short port;
	pthread_t thread;
	const char *const *routes; /* path, body, path, body, ..., NULL */
	const char *missing;	   /* the body of a 404, for any other path */
	char url[64];
};

static void *canned_serve(void *arg)
{
	struct canned *cs = arg;
	for (;;) {
		int conn = accept(cs->fd, NULL, NULL);
		if (conn < 0)
			return NULL;
		char req[4096];
		read_request_head(conn, req, sizeof(req));
		if (strncmp(req, "QUIT", 4) == 0) {
			close(conn);
			return NULL;
		}
		char path[2048] = "";
		sscanf(req, "GET %2047s", path);
		const char *body = NULL;
		for (size_t i = 0; cs->routes[i]; i += 2)
			if (strcmp(cs->routes[i], path) == 0)
				body = cs->routes[i + 1];
		char head[256];
		int hl = snprintf(head, sizeof(head),
				  "HTTP/1.1 %s\r\nContent-Type: application/hal+json\r\n"
				  "Content-Length: %zu\r\nConnection: close\r\n\r\n",
				  body ? "200 OK" : "404 Not Found",
				  strlen(body ? body : cs->missing));
		if (!body)
			body = cs->missing;
		if (write(conn, head, (size_t)hl) < 0 ||
		    (body[0] && write(conn, body, strlen(body)) < 0))
			fprintf(stderr, "canned server: write failed\n");
		close(conn);
	}
}

static void canned_start_missing(struct canned *cs, const char *const *routes,
				 const char *missing)
{
	cs->routes = routes;
	cs->missing = missing;
	cs->fd = loopback_listen(16, &cs->port);
	snprintf(cs->url, sizeof(cs->url), "http://127.0.0.1:%u", cs->port);
	ck_assert_int_eq(pthread_create(&cs->thread, NULL, canned_serve, cs), 0);
}

static void canned_start(struct canned *cs, const char *const *routes)
{
	canned_start_missing(cs, routes, "{}");
}

static void canned_stop(struct canned *cs)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(cs->port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(write(fd, "QUIT\r\n\r\n", 8), 8);
	close(fd);
	pthread_join(cs->thread, NULL);
	close(cs->fd);
}

/* An answer about another job than the one asked is refused, not taken as it. */
START_TEST(get_refuses_another_job)
{
	struct canned cs;
	static const char *routes[] = {
		JOBS "/11111111-2222-3333-4444-555555555555?fields=*",
		"{\"uuid\":\"99999999-2222-3333-4444-555555555555\",\"state\":\"success\"}",
		NULL,
	};
	canned_start(&cs, routes);
	struct jfs_client *c = client_for(cs.url, 2);
	struct jfs_error e = { 0 };
	struct jfs_job *job = NULL;
	ck_assert_int_eq(jfs_client_get(c, "11111111-2222-3333-4444-555555555555", &job, &e),
			 -EIO);
	ck_assert_ptr_null(job);
	ck_assert_ptr_nonnull(strstr(e.message, "99999999-2222-3333-4444-555555555555"));
	jfs_client_free(c);
	canned_stop(&cs);
}
END_TEST

START_TEST(duplicates_and_absolute_links)
{
	struct canned cs;
	static char second[256];
	static const char *routes[7];
	routes[0] = JOBS "?fields=*&max_records=2";
	routes[1] = "{\"records\":[{\"uuid\":\"a\"},{\"uuid\":\"b\"}],\"num_records\":2,"
		    "\"_links\":{\"next\":{\"href\":\"/api/cluster/jobs?start.uuid=b\"}}}";
	routes[2] = JOBS "?start.uuid=b";
	routes[3] = second; /* an absolute link to the same origin, filled below */
	routes[4] = JOBS "?start.uuid=c%20d";
	routes[5] = "{\"records\":[{\"uuid\":\"c\"},{\"uuid\":\"a\"},{\"uuid\":\"d\"}],"
		    "\"num_records\":3}";
	routes[6] = NULL;
	canned_start(&cs, routes);
	/* A raw space in the link is sent encoded; the origin is written in capitals. */
	snprintf(second, sizeof(second),
		 "{\"records\":[{\"uuid\":\"b\"},{\"uuid\":\"c\"}],\"num_records\":2,"
		 "\"_links\":{\"next\":{\"href\":\"HTTP://127.0.0.1:%u/api/cluster/jobs?"
		 "start.uuid=c d\"}}}",
		 cs.port);

	struct jfs_client *c = client_for(cs.url, 2);
	struct jfs_job_list list;
	struct jfs_error e = { 0 };
	ck_assert_int_eq(jfs_client_list(c, NULL, &list, &e), 0);
	ck_assert_uint_eq(list.pages, 3);
	ck_assert_uint_eq(list.n, 4); /* a b c d, each once, in the order first seen */
	ck_assert_str_eq(list.jobs[0]->uuid, "a");
	ck_assert_str_eq(list.jobs[1]->uuid, "b");
	ck_assert_str_eq(list.jobs[2]->uuid, "c");
	ck_assert_str_eq(list.jobs[3]->uuid, "d");
	jfs_job_list_free(&list);
	jfs_client_free(c);
	canned_stop(&cs);
}
END_TEST

START_TEST(many_duplicates_hash_set)
{
	/* 3000 jobs on two pages that both hold all of them: the set must grow. */
	enum { N = 3000 };
	size_t cap = (size_t)N * 32 + 256;
	char *page1 = malloc(cap), *page2 = malloc(cap);
	ck_assert(page1 && page2);
	size_t l1 = (size_t)snprintf(page1, cap, "{\"records\":[");
	size_t l2 = (size_t)snprintf(page2, cap, "{\"records\":[");
	for (int i = 0; i < N; i++) {
		l1 += (size_t)snprintf(page1 + l1, cap - l1, "%s{\"uuid\":\"j%05d\"}", i ? "," : "", i);
		l2 += (size_t)snprintf(page2 + l2, cap - l2, "%s{\"uuid\":\"j%05d\"}", i ? "," : "",
				       N - 1 - i);
	}
	snprintf(page1 + l1, cap - l1,
		 "],\"_links\":{\"next\":{\"href\":\"/api/cluster/jobs?start.uuid=x\"}}}");
	snprintf(page2 + l2, cap - l2, "]}");
	const char *routes[] = { JOBS "?fields=*&max_records=1000", page1,
				 JOBS "?start.uuid=x", page2, NULL };
	struct canned cs;
	canned_start(&cs, routes);
	struct jfs_client *c = client_for(cs.url, 0);
	struct jfs_job_list list;
	struct jfs_error e = { 0 };
	ck_assert_int_eq(jfs_client_list(c, NULL, &list, &e), 0);
	ck_assert_uint_eq(list.n, N);
	for (int i = 0; i < N; i++) {
		char want[16];
		snprintf(want, sizeof(want), "j%05d", i);
		ck_assert_str_eq(list.jobs[i]->uuid, want);
	}
	jfs_job_list_free(&list);
	jfs_client_free(c);
	canned_stop(&cs);
	free(page1);
	free(page2);
}
END_TEST

START_TEST(next_link_cycle_stops)
{
	/* A -> B -> A: the second visit of A is not made. */
	static const char *const routes[] = {
		JOBS "?fields=*&max_records=1000",
		"{\"records\":[{\"uuid\":\"a\"}],\"_links\":{\"next\":{\"href\":"
		"\"/api/cluster/jobs?start.uuid=a\"}}}",
		JOBS "?start.uuid=a",
		"{\"records\":[{\"uuid\":\"b\"}],\"_links\":{\"next\":{\"href\":"
		"\"/api/cluster/jobs?fields=*&max_records=1000\"}}}",
		NULL
	};
	struct canned cs;
	canned_start(&cs, routes);
	struct jfs_client *c = client_for(cs.url, 0);
	struct jfs_job_list list;
	struct jfs_error e = { 0 };
	struct jfs_http_counters hc;
	ck_assert_int_eq(jfs_client_list(c, NULL, &list, &e), 0);
	ck_assert_uint_eq(list.pages, 2);
	ck_assert_uint_eq(list.n, 2);
	jfs_http_counters_get(jfs_client_http(c), &hc);
	ck_assert_uint_eq(hc.requests, 2);
	jfs_job_list_free(&list);
	jfs_client_free(c);
	canned_stop(&cs);
}
END_TEST

START_TEST(next_links_not_followed)
{
	static const struct {
		const char *href, *message;
	} cases[] = {
		{ "//evil.example/api/cluster/jobs?x", "next link leaves the cluster: //evil.example" },
		{ "https://127.0.0.1:1/api/cluster/jobs", "next link leaves the cluster: https://127.0.0.1:1" },
		{ "api/cluster/jobs?x", "next link is neither a path nor a URL: api/cluster/jobs?x" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char page[256];
		snprintf(page, sizeof(page),
			 "{\"records\":[{\"uuid\":\"a\"}],\"_links\":{\"next\":{\"href\":\"%s\"}}}",
			 cases[i].href);
		const char *const routes[] = { JOBS "?fields=*&max_records=1000", page, NULL };
		struct canned cs;
		canned_start(&cs, routes);
		struct jfs_client *c = client_for(cs.url, 0);
		struct jfs_job_list list;
		struct jfs_error e = { 0 };
		ck_assert_int_eq(jfs_client_list(c, NULL, &list, &e), -EIO);
		ck_assert_str_eq(e.message, cases[i].message);
		ck_assert_str_eq(e.request, "GET " JOBS "?fields=*&max_records=1000");
		ck_assert_uint_eq(list.n, 0);
		ck_assert_ptr_null(list.jobs);
		jfs_client_free(c);
		canned_stop(&cs);
	}
}
END_TEST

/* An error answer that is not ONTAP's (a proxy's page, a web server at the wrong
 * address) is quoted in the error: its <title>, else its first line, cleaned and cut. */
START_TEST(foreign_error_quoted)
{
	char long_body[151], long_message[160];
	memset(long_body, 'a', 150);
	long_body[150] = '\0';
	snprintf(long_message, sizeof(long_message), "not ONTAP's answer: \"%.100s...\"",
		 long_body);
	const struct {
		const char *body, *message;
	} cases[] = {
		{ "<html><head>\n<TITLE>\n  502 Bad Gateway </title></head><body>x</body></html>",
		  "not ONTAP's answer: \"502 Bad Gateway\"" },
		{ "<html><title lang=\"en\">Access denied</title></html>",
		  "not ONTAP's answer: \"Access denied\"" },
		{ "<html><title> </title></html>",
		  "not ONTAP's answer: \"<html><title> </title></html>\"" },
		{ "{}", "not ONTAP's answer: \"{}\"" },
		{ "", "not ONTAP's answer (an empty body)" },
		{ " \r\n ", "not ONTAP's answer (an empty body)" },
		{ "  line\x01one\nline two", "not ONTAP's answer: \"line one\"" },
		/* A server that echoes the request: the first line only, never a header. */
		{ "GET /api/cluster/jobs HTTP/1.1\r\nAuthorization: Basic c2VjcmV0\r\n",
		  "not ONTAP's answer: \"GET /api/cluster/jobs HTTP/1.1\"" },
		{ long_body, long_message },
	};
	const char *const routes[] = { NULL };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct canned cs;
		canned_start_missing(&cs, routes, cases[i].body);
		struct jfs_client *c = client_for(cs.url, 0);
		struct jfs_job_list list;
		struct jfs_error e = { 0 };
		ck_assert_int_eq(jfs_client_list(c, NULL, &list, &e), -ENOENT);
		ck_assert_int_eq(e.http_status, 404);
		ck_assert_str_eq(e.code, "");
		ck_assert_str_eq(e.message, cases[i].message);
		jfs_client_free(c);
		canned_stop(&cs);
	}
}
END_TEST

int main(void)
{
	signal(SIGPIPE, SIG_IGN);

	Suite *s = suite_create("client");
	TCase *local = tcase_create("canned");
	tcase_add_test(local, duplicates_and_absolute_links);
	tcase_add_test(local, get_refuses_another_job);
	tcase_add_test(local, many_duplicates_hash_set);
	tcase_add_test(local, next_link_cycle_stops);
	tcase_add_test(local, next_links_not_followed);
	tcase_add_test(local, foreign_error_quoted);
	suite_add_tcase(s, local);

	bool sim = sim_available();
	if (sim) {
		TCase *tc = sim_shared_tcase("sim", &shared, shared_args);
		tcase_set_timeout(tc, 30);
		tcase_add_test(tc, list_every_page);
		tcase_add_test(tc, filter_selects);
		tcase_add_test(tc, filter_reaches_cluster_exactly);
		tcase_add_test(tc, fields_from_query);
		tcase_add_test(tc, max_records_is_one_page);
		tcase_add_test(tc, repeated_next_link_stops);
		tcase_add_test(tc, foreign_next_link_refused);
		tcase_add_test(tc, empty_pages_followed);
		tcase_add_test(tc, broken_answers);
		tcase_add_test(tc, query_rejected_is_einval);
		tcase_add_test(tc, get_one_job);
		tcase_add_test(tc, get_only_job_uuids);
		tcase_add_test(tc, threads_list_at_once);
		suite_add_tcase(s, tc);

		TCase *own = tcase_create("own-sim");
		tcase_set_timeout(own, 30);
		tcase_add_test(own, auth_refused_is_eacces);
		suite_add_tcase(s, own);
	}
	return run_suite(s, sim);
}
