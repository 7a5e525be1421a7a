/* ontap-sim end to end over HTTP: auth, filters, fields, order_by, paging (also while
 * jobs come and go), the documented errors, PATCH actions, expiry on a clock
 * advance, faults, query decoding and TLS. Skips (77) without ONTAP_SIM. */
#include <check.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_helpers.h"

/* ---- a small HTTP client that also returns headers and sends credentials ---- */

struct resp {
	long status; /* -1: transport failure */
	int curl_rc;
	char *body;
	size_t len;
	char *headers;
	size_t hlen;
};

static struct resp http(const struct sim *s, const char *method, const char *path,
			const char *userpwd)
{
	struct resp r = { .status = -1 };
	struct membuf body = { 0 }, hdr = { 0 };
	CURL *h = sim_curl(s, method, path, 20L, &body);
	ck_assert_ptr_nonnull(h);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, membuf_collect);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &hdr);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L); /* the TLS test's self-signed cert */
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	if (userpwd)
		curl_easy_setopt(h, CURLOPT_USERPWD, userpwd);
	r.curl_rc = (int)curl_easy_perform(h);
	if (r.curl_rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_cleanup(h);
	r.body = body.data ? body.data : strdup("");
	r.len = body.len;
	r.headers = hdr.data ? hdr.data : strdup("");
	r.hlen = hdr.len;
	return r;
}

static void resp_free(struct resp *r)
{
	free(r->body);
	free(r->headers);
}

/* GET path, expect 200 and JSON; returns the parsed body. */
static json_object *get_json(const struct sim *s, const char *path)
{
	struct resp r = http(s, "GET", path, NULL);
	ck_assert_msg(r.status == 200, "GET %s: %ld %s", path, r.status, r.body);
	json_object *o = json_tokener_parse(r.body);
	ck_assert_msg(o != NULL, "GET %s: not JSON: %.200s", path, r.body);
	resp_free(&r);
	return o;
}

static json_object *field(json_object *o, const char *key)
{
	json_object *v = NULL;
	json_object_object_get_ex(o, key, &v);
	return v;
}

static const char *str_field(json_object *o, const char *key)
{
	json_object *v = field(o, key);
	return v ? json_object_get_string(v) : NULL;
}

/* Check an error answer: status, code, target (NULL: none expected). */
static void expect_error(const struct sim *s, const char *method, const char *path,
			 long status, const char *code, const char *target)
{
	struct resp r = http(s, method, path, NULL);
	ck_assert_msg(r.status == status, "%s %s: %ld, wanted %ld (%s)", method, path, r.status,
		      status, r.body);
	json_object *o = json_tokener_parse(r.body);
	ck_assert_msg(o != NULL, "%s %s: body not JSON: %s", method, path, r.body);
	json_object *e = field(o, "error");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(str_field(e, "code"), code);
	ck_assert_ptr_nonnull(str_field(e, "message"));
	if (target)
		ck_assert_str_eq(str_field(e, "target"), target);
	json_object_put(o);
	resp_free(&r);
}

static void start(struct sim *s, const char *const args[])
{
	ck_assert_msg(sim_start(s, args) == 0, "ontap-sim did not start");
}

static void control(const struct sim *s, const char *method, const char *path,
		    const char *body, long want)
{
	char *out = NULL;
	long st = sim_request(s, method, path, body, &out);
	ck_assert_msg(st == want, "%s %s: %ld, wanted %ld: %s", method, path, st, want, out);
	free(out);
}

static void pause_workload(const struct sim *s)
{
	control(s, "POST", "/_sim/workload", "{\"paused\":true}", 200);
}

/* ---- uuid sets ---- */

struct uuids {
	char **v;
	size_t n, cap;
};

static void uuids_add(struct uuids *u, const char *uuid)
{
	if (u->n == u->cap) {
		u->cap = u->cap ? u->cap * 2 : 64;
		u->v = realloc(u->v, u->cap * sizeof(*u->v));
		ck_assert_ptr_nonnull(u->v);
	}
	u->v[u->n++] = strdup(uuid);
}

static bool uuids_has(const struct uuids *u, const char *uuid)
{
	for (size_t i = 0; i < u->n; i++)
		if (strcmp(u->v[i], uuid) == 0)
			return true;
	return false;
}

static void uuids_free(struct uuids *u)
{
	for (size_t i = 0; i < u->n; i++)
		free(u->v[i]);
	free(u->v);
	memset(u, 0, sizeof(*u));
}

/* The uuids of /_sim/jobs whose `key` (a top-level field) passes keep(). */
static void sim_jobs(const struct sim *s, struct uuids *out,
		     bool (*keep)(json_object *rec))
{
	json_object *all = get_json(s, "/_sim/jobs");
	json_object *recs = field(all, "records");
	ck_assert_ptr_nonnull(recs);
	for (size_t i = 0; i < json_object_array_length(recs); i++) {
		json_object *rec = json_object_array_get_idx(recs, i);
		if (!keep || keep(rec))
			uuids_add(out, str_field(rec, "uuid"));
	}
	json_object_put(all);
}

/* Walk the collection from path; every record's uuid into seen (duplicates fail).
 * between() runs after each page. Returns the number of pages. */
static int walk(const struct sim *s, const char *path, struct uuids *seen,
		void (*between)(const struct sim *s, int page, void *arg), void *arg)
{
	char next[4096];
	int pages = 0;
	snprintf(next, sizeof(next), "%s", path);
	for (;;) {
		struct resp r = http(s, "GET", next, NULL);
		ck_assert_msg(r.status == 200, "GET %s: %ld %s", next, r.status, r.body);
		json_object *o = json_tokener_parse(r.body);
		ck_assert_ptr_nonnull(o);
		json_object *recs = field(o, "records");
		ck_assert_ptr_nonnull(recs);
		ck_assert_int_eq(json_object_get_int(field(o, "num_records")),
				 (int)json_object_array_length(recs));
		for (size_t i = 0; i < json_object_array_length(recs); i++) {
			const char *u = str_field(json_object_array_get_idx(recs, i), "uuid");
			ck_assert_msg(!uuids_has(seen, u), "uuid %s seen twice", u);
			uuids_add(seen, u);
		}
		pages++;
		json_object *nx = field(field(o, "_links"), "next");
		const char *href = nx ? str_field(nx, "href") : NULL;
		if (href) {
			/* The same URL comes in a Link header. */
			char link[4200];
			snprintf(link, sizeof(link), "Link: <%s>; rel=\"next\"", href);
			ck_assert_msg(strstr(r.headers, link), "no %s in %s", link, r.headers);
			ck_assert_str_ne(href, next);
			snprintf(next, sizeof(next), "%s", href);
		} else {
			ck_assert_ptr_null(strstr(r.headers, "Link:"));
		}
		json_object_put(o);
		resp_free(&r);
		if (!href)
			break;
		if (between)
			between(s, pages, arg);
	}
	return pages;
}

/* ---- tests ---- */

START_TEST(test_auth)
{
	struct sim s;
	char pwfile[] = "/tmp/test_sim_pw_XXXXXX";
	int fd = mkstemp(pwfile);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "s3cret\nignored\n", 15), 15);
	close(fd);
	const char *args[] = { "--jobs", "5", "--user", "admin", "--password-file", pwfile, NULL };
	start(&s, args);

	struct resp r = http(&s, "GET", "/api/cluster/jobs", NULL);
	ck_assert_int_eq(r.status, 401);
	ck_assert_ptr_nonnull(strstr(r.headers, "WWW-Authenticate: Basic"));
	ck_assert_ptr_nonnull(strstr(r.body, "\"code\":\"6\""));
	resp_free(&r);
	r = http(&s, "GET", "/api/cluster/jobs", "admin:wrong");
	ck_assert_int_eq(r.status, 401);
	resp_free(&r);
	r = http(&s, "GET", "/api/cluster/jobs", "admin:s3cret\nignored");
	ck_assert_int_eq(r.status, 401);
	resp_free(&r);
	r = http(&s, "GET", "/api/cluster/jobs", "admin:s3cret");
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.headers, "Content-Type: application/hal+json"));
	ck_assert_ptr_nonnull(strstr(r.headers, "Server: libzapid-httpd"));
	resp_free(&r);
	/* /_sim needs no credentials, and counts the refused requests too. */
	json_object *c = get_json(&s, "/_sim/counters");
	ck_assert_int_eq(json_object_get_int(field(c, "total")), 4);
	json_object_put(c);
	sim_stop(&s);
	unlink(pwfile);
}
END_TEST

static bool is_failure(json_object *rec)
{
	return strcmp(str_field(rec, "state"), "failure") == 0;
}

static bool is_active(json_object *rec)
{
	const char *st = str_field(rec, "state");
	return !strcmp(st, "queued") || !strcmp(st, "running") || !strcmp(st, "paused");
}

static bool is_not_success(json_object *rec)
{
	return strcmp(str_field(rec, "state"), "success") != 0;
}

static bool code_over_10(json_object *rec)
{
	return json_object_get_int64(field(rec, "code")) > 10;
}

/* The uuids a filtered collection query returns (one page) equal want. */
static void expect_query(const struct sim *s, const char *path, const struct uuids *want)
{
	struct uuids got = { 0 };
	walk(s, path, &got, NULL, NULL);
	ck_assert_msg(got.n == want->n, "%s: %zu records, wanted %zu", path, got.n, want->n);
	for (size_t i = 0; i < want->n; i++)
		ck_assert_msg(uuids_has(&got, want->v[i]), "%s: missing %s", path, want->v[i]);
	uuids_free(&got);
}

START_TEST(test_filters)
{
	struct sim s;
	const char *args[] = { "--jobs", "400", "--seed", "11", NULL };
	start(&s, args);
	pause_workload(&s);

	struct uuids want = { 0 };
	sim_jobs(&s, &want, is_failure);
	ck_assert_uint_gt(want.n, 0);
	expect_query(&s, "/api/cluster/jobs?state=failure", &want);
	uuids_free(&want);

	sim_jobs(&s, &want, is_active);
	expect_query(&s, "/api/cluster/jobs?state=queued|running|paused&max_records=13", &want);
	uuids_free(&want);

	sim_jobs(&s, &want, is_not_success);
	expect_query(&s, "/api/cluster/jobs?state=%21success", &want);
	uuids_free(&want);

	sim_jobs(&s, &want, code_over_10);
	ck_assert_uint_gt(want.n, 0);
	expect_query(&s, "/api/cluster/jobs?code=%3E10&fields=code", &want);
	uuids_free(&want);
	sim_stop(&s);
}
END_TEST

START_TEST(test_paging)
{
	struct sim s;
	const char *args[] = { "--jobs", "500", "--seed", "5", NULL };
	start(&s, args);
	pause_workload(&s);

	struct uuids all = { 0 }, seen = { 0 };
	sim_jobs(&s, &all, NULL);
	ck_assert_uint_eq(all.n, 500);
	int pages = walk(&s, "/api/cluster/jobs?max_records=7&fields=state", &seen, NULL, NULL);
	ck_assert_int_eq(pages, (500 + 6) / 7);
	ck_assert_uint_eq(seen.n, all.n);
	for (size_t i = 0; i < all.n; i++)
		ck_assert(uuids_has(&seen, all.v[i]));

	/* The next link's shape: the cursor first, then the query as it came. */
	json_object *o = get_json(&s, "/api/cluster/jobs?max_records=2&fields=%2A");
	json_object *recs = field(o, "records");
	char want[256];
	snprintf(want, sizeof(want), "/api/cluster/jobs?start.uuid=%s&max_records=2&fields=%%2A",
		 str_field(json_object_array_get_idx(recs, 1), "uuid"));
	ck_assert_str_eq(str_field(field(field(o, "_links"), "next"), "href"), want);
	ck_assert_str_eq(str_field(field(field(o, "_links"), "self"), "href"),
			 "/api/cluster/jobs?max_records=2&fields=%2A");
	json_object_put(o);
	uuids_free(&all);
	uuids_free(&seen);
	sim_stop(&s);
}
END_TEST

struct churn {
	struct uuids deleted, created;
	struct uuids victims; /* jobs of the first snapshot, deleted one per page */
	size_t next_victim;
};

static void churn_page(const struct sim *s, int page, void *arg)
{
	struct churn *c = arg;
	char path[256], *out = NULL;
	if (c->next_victim < c->victims.n) {
		const char *u = c->victims.v[c->next_victim];
		c->next_victim += 7;
		snprintf(path, sizeof(path), "/_sim/jobs/%s", u);
		long st = sim_request(s, "DELETE", path, NULL, NULL);
		ck_assert(st == 204 || st == 404); /* 404: it had expired */
		uuids_add(&c->deleted, u);
	}
	ck_assert_int_eq(sim_request(s, "POST", "/_sim/jobs", "{\"state\":\"running\"}", &out),
			 201);
	json_object *rec = json_tokener_parse(out);
	ck_assert_ptr_nonnull(rec);
	uuids_add(&c->created, str_field(rec, "uuid"));
	json_object_put(rec);
	free(out);
}

START_TEST(test_paging_live)
{
	struct sim s;
	const char *args[] = { "--jobs", "300", "--rate", "100", "--seed", "9", NULL };
	start(&s, args);

	struct churn c = { 0 };
	struct uuids before = { 0 }, after = { 0 }, seen = { 0 };
	sim_jobs(&s, &before, NULL);
	sim_jobs(&s, &c.victims, NULL);
	walk(&s, "/api/cluster/jobs?max_records=10&fields=uuid", &seen, churn_page, &c);
	sim_jobs(&s, &after, NULL);

	/* Every job that lived through the whole walk was seen (exactly once: walk()). */
	size_t lived = 0;
	for (size_t i = 0; i < before.n; i++) {
		if (uuids_has(&after, before.v[i])) {
			lived++;
			ck_assert_msg(uuids_has(&seen, before.v[i]), "missed %s", before.v[i]);
		}
	}
	ck_assert_uint_gt(lived, 200);
	ck_assert_uint_gt(c.deleted.n, 3);
	uuids_free(&before);
	uuids_free(&after);
	uuids_free(&seen);
	uuids_free(&c.deleted);
	uuids_free(&c.created);
	uuids_free(&c.victims);
	sim_stop(&s);
}
END_TEST

START_TEST(test_errors)
{
	struct sim s;
	const char *args[] = { "--jobs", "20", NULL };
	start(&s, args);

	expect_error(&s, "GET", "/api/cluster/jobs?foo=1", 400, "262179", "foo");
	expect_error(&s, "GET", "/api/cluster/jobs?svm.nonsense=1", 400, "262179", "svm.nonsense");
	expect_error(&s, "GET", "/api/cluster/jobs?max_records=0", 400, "262197", "max_records");
	expect_error(&s, "GET", "/api/cluster/jobs?max_records=ten", 400, "262197", "max_records");
	expect_error(&s, "GET", "/api/cluster/jobs?return_records=maybe", 400, "262197",
		     "return_records");
	expect_error(&s, "GET", "/api/cluster/jobs?return_timeout=121", 400, "262197",
		     "return_timeout");
	struct resp r = http(&s, "GET", "/api/cluster/jobs?return_timeout=600", NULL);
	ck_assert_str_eq(r.body, "{\"error\":{\"message\":\"The value \\\"600\\\" is invalid for "
				 "field \\\"return_timeout\\\" (<0..120>)\",\"code\":\"262197\","
				 "\"target\":\"return_timeout\"}}");
	resp_free(&r);
	expect_error(&s, "GET", "/api/cluster/jobs?code=%3Cabc", 400, "262197", NULL);
	expect_error(&s, "GET", "/api/cluster/jobs?max_records=5&%ZZ=1", 400, "262197", NULL);
	expect_error(&s, "GET", "/api/cluster/jobs/2f0e5f4e-8a4b-4d1c-9c1e-000000000000", 404, "4",
		     "uuid");
	expect_error(&s, "GET", "/api/cluster/jobs/1", 404, "2", "uuid");
	expect_error(&s, "GET", "/api/cluster/jobs/2f0e5f4e-8a4b-4d1c-9c1e-000000000000?max_records=1",
		     400, "262179", "max_records");
	expect_error(&s, "PATCH", "/api/cluster/jobs/2f0e5f4e-8a4b-4d1c-9c1e-000000000000?action=cancel",
		     404, "4", "uuid");
	expect_error(&s, "PATCH", "/api/cluster/jobs/1?action=jump", 400, "262197", "action");

	/* A huge query string: an error, and the simulator lives on. */
	size_t big = 100000;
	char *path = malloc(big + 64);
	ck_assert_ptr_nonnull(path);
	strcpy(path, "/api/cluster/jobs?description=");
	memset(path + strlen(path), 'a', big);
	path[30 + big] = '\0';
	strcat(path, "&x%");
	expect_error(&s, "GET", path, 400, "262197", NULL);
	free(path);
	json_object_put(get_json(&s, "/api/cluster/jobs"));
	sim_stop(&s);
}
END_TEST

/* POST /_sim/jobs with body; returns the new uuid (malloc'd). */
static char *make_job(const struct sim *s, const char *body)
{
	char *out = NULL;
	ck_assert_int_eq(sim_request(s, "POST", "/_sim/jobs", body, &out), 201);
	json_object *rec = json_tokener_parse(out);
	ck_assert_ptr_nonnull(rec);
	char *uuid = strdup(str_field(rec, "uuid"));
	json_object_put(rec);
	free(out);
	return uuid;
}

static void patch(const struct sim *s, const char *uuid, const char *action, long status,
		  const char *code)
{
	char path[256];
	snprintf(path, sizeof(path), "/api/cluster/jobs/%s?action=%s", uuid, action);
	if (code) {
		expect_error(s, "PATCH", path, status, code, NULL);
		return;
	}
	struct resp r = http(s, "PATCH", path, NULL);
	ck_assert_msg(r.status == status, "%s: %ld %s", path, r.status, r.body);
	ck_assert_ptr_nonnull(strstr(r.body, uuid));
	resp_free(&r);
}

static void expect_state(const struct sim *s, const char *uuid, const char *state)
{
	char path[256];
	snprintf(path, sizeof(path), "/api/cluster/jobs/%s", uuid);
	json_object *o = get_json(s, path);
	ck_assert_str_eq(str_field(o, "state"), state);
	json_object_put(o);
}

START_TEST(test_patch)
{
	struct sim s;
	start(&s, NULL);
	char *move = make_job(&s, "{\"description\":\"Vol Move\",\"state\":\"running\"}");
	char *cluster = make_job(&s, "{\"description\":\"PATCH /api/cluster\",\"state\":\"running\"}");
	char *queued = make_job(&s, "{\"description\":\"Vol Move\",\"state\":\"queued\"}");
	char *done = make_job(&s, "{\"state\":\"success\"}");

	patch(&s, move, "pause", 202, NULL);
	expect_state(&s, move, "paused");
	patch(&s, move, "resume", 202, NULL);
	expect_state(&s, move, "running");
	patch(&s, move, "resume", 400, "458771");
	patch(&s, queued, "pause", 400, "458776");
	patch(&s, cluster, "pause", 400, "458783");
	patch(&s, cluster, "cancel", 400, "458784");
	patch(&s, done, "cancel", 400, "458762");
	patch(&s, move, "cancel", 202, NULL);
	expect_state(&s, move, "failure");
	patch(&s, move, "pause", 400, "458762");

	json_object *c = get_json(&s, "/_sim/counters");
	ck_assert_int_eq(json_object_get_int(field(field(c, "by_endpoint"),
						   "PATCH /api/cluster/jobs/{uuid}")), 9);
	json_object_put(c);
	free(move);
	free(cluster);
	free(queued);
	free(done);
	sim_stop(&s);
}
END_TEST

START_TEST(test_return_records_and_order)
{
	struct sim s;
	const char *args[] = { "--jobs", "150", "--seed", "3", NULL };
	start(&s, args);
	pause_workload(&s);

	struct uuids all = { 0 }, seen = { 0 };
	sim_jobs(&s, &all, NULL);
	json_object *o = get_json(&s, "/api/cluster/jobs?return_records=false&max_records=5");
	ck_assert_ptr_null(field(o, "records"));
	ck_assert_int_eq(json_object_get_int(field(o, "num_records")), (int)all.n);
	json_object_put(o);

	/* order_by desc: start_time never increases, also across pages. */
	o = get_json(&s, "/api/cluster/jobs?order_by=start_time%20desc&fields=start_time");
	json_object *recs = field(o, "records");
	ck_assert_int_eq((int)json_object_array_length(recs), (int)all.n);
	for (size_t i = 1; i < json_object_array_length(recs); i++)
		ck_assert_str_ge(str_field(json_object_array_get_idx(recs, i - 1), "start_time"),
				 str_field(json_object_array_get_idx(recs, i), "start_time"));
	json_object_put(o);
	walk(&s, "/api/cluster/jobs?order_by=start_time+desc&max_records=4", &seen, NULL, NULL);
	ck_assert_uint_eq(seen.n, all.n);
	uuids_free(&seen);
	walk(&s, "/api/cluster/jobs?order_by=state,code%20desc&max_records=9", &seen, NULL, NULL);
	ck_assert_uint_eq(seen.n, all.n);
	uuids_free(&seen);
	uuids_free(&all);
	sim_stop(&s);
}
END_TEST

static size_t key_count(json_object *o)
{
	size_t n = 0;
	json_object_object_foreach(o, k, v)
	{
		(void)k;
		(void)v;
		n++;
	}
	return n;
}

START_TEST(test_fields)
{
	struct sim s;
	start(&s, NULL);
	char *u = make_job(&s, "{\"description\":\"Create vol1\",\"state\":\"running\","
			       "\"svm\":{\"name\":\"vs1\",\"uuid\":\"0b1c2d3e-0000-4000-8000-"
			       "000000000001\"}}");
	json_object *o = get_json(&s, "/api/cluster/jobs");
	json_object *rec = json_object_array_get_idx(field(o, "records"), 0);
	ck_assert_uint_eq(key_count(rec), 2); /* uuid and _links */
	ck_assert_str_eq(str_field(rec, "uuid"), u);
	ck_assert_ptr_nonnull(field(rec, "_links"));
	json_object_put(o);

	o = get_json(&s, "/api/cluster/jobs?fields=*");
	rec = json_object_array_get_idx(field(o, "records"), 0);
	ck_assert_str_eq(str_field(rec, "description"), "Create vol1");
	ck_assert_str_eq(str_field(rec, "state"), "running");
	ck_assert_ptr_nonnull(field(rec, "start_time"));
	ck_assert_ptr_null(field(rec, "end_time"));
	json_object_put(o);

	o = get_json(&s, "/api/cluster/jobs?fields=state,svm.name");
	rec = json_object_array_get_idx(field(o, "records"), 0);
	ck_assert_str_eq(str_field(rec, "state"), "running");
	ck_assert_str_eq(str_field(field(rec, "svm"), "name"), "vs1");
	ck_assert_ptr_null(field(field(rec, "svm"), "uuid"));
	ck_assert_ptr_null(field(rec, "description"));
	json_object_put(o);

	/* One job: every field by default, or those asked for. */
	char path[256];
	snprintf(path, sizeof(path), "/api/cluster/jobs/%s", u);
	o = get_json(&s, path);
	ck_assert_str_eq(str_field(o, "description"), "Create vol1");
	json_object_put(o);
	snprintf(path, sizeof(path), "/api/cluster/jobs/%s?fields=state", u);
	o = get_json(&s, path);
	ck_assert_ptr_null(field(o, "description"));
	ck_assert_str_eq(str_field(o, "state"), "running");
	json_object_put(o);
	free(u);
	sim_stop(&s);
}
END_TEST

START_TEST(test_expiry_on_clock_advance)
{
	struct sim s;
	const char *args[] = { "--expiry", "300", NULL };
	start(&s, args);
	char *done = make_job(&s, "{\"state\":\"success\",\"message\":\"Complete: Successful [0]\"}");
	char *running = make_job(&s, "{\"state\":\"running\"}");
	char path[256];
	snprintf(path, sizeof(path), "/api/cluster/jobs/%s", done);
	json_object *o = get_json(&s, path);
	ck_assert_ptr_nonnull(field(o, "end_time"));
	json_object_put(o);

	control(&s, "POST", "/_sim/clock", "{\"advance\":200}", 200);
	json_object_put(get_json(&s, path)); /* 200 s after its end: still listed */
	control(&s, "POST", "/_sim/clock", "{\"advance\":101}", 200);
	expect_error(&s, "GET", path, 404, "4", "uuid");
	expect_state(&s, running, "running");
	json_object *c = get_json(&s, "/_sim/clock");
	ck_assert_int_eq(json_object_get_int(field(c, "skew")), 301);
	json_object_put(c);
	free(done);
	free(running);
	sim_stop(&s);
}
END_TEST

START_TEST(test_faults)
{
	struct sim s;
	const char *args[] = { "--jobs", "10", "--fault", "status=503*2", NULL };
	/* The workload is paused below, before anything could finish or expire. */
	start(&s, args);
	pause_workload(&s);
	expect_error(&s, "GET", "/api/cluster/jobs", 503, "503", NULL);
	expect_error(&s, "GET", "/api/cluster/jobs", 503, "503", NULL);
	json_object_put(get_json(&s, "/api/cluster/jobs"));

	control(&s, "POST", "/_sim/faults", "badjson*1", 200);
	struct resp r = http(&s, "GET", "/api/cluster/jobs", NULL);
	ck_assert_int_eq(r.status, 200);
	json_tokener *tok = json_tokener_new();
	json_object *bad = json_tokener_parse_ex(tok, r.body, (int)r.len);
	ck_assert(bad == NULL || json_tokener_get_error(tok) != json_tokener_success ||
		  (size_t)json_tokener_get_parse_end(tok) != r.len);
	json_object_put(bad);
	json_tokener_free(tok);
	resp_free(&r);

	control(&s, "POST", "/_sim/faults", "reset*1", 200);
	r = http(&s, "GET", "/api/cluster/jobs", NULL);
	ck_assert_int_eq(r.status, -1);
	resp_free(&r);

	control(&s, "POST", "/_sim/faults", "truncate*1,latency=50", 200);
	r = http(&s, "GET", "/api/cluster/jobs", NULL);
	ck_assert_int_eq(r.curl_rc, CURLE_PARTIAL_FILE);
	resp_free(&r);
	json_object *f = get_json(&s, "/_sim/faults");
	ck_assert_str_eq(str_field(f, "spec"), "latency=50");
	json_object_put(f);
	control(&s, "DELETE", "/_sim/faults", NULL, 204);
	control(&s, "POST", "/_sim/faults", "nonsense=1", 400);

	/* empty-pages=2: a walk starts with two empty pages, then lists every job once. */
	control(&s, "POST", "/_sim/faults", "empty-pages=2", 200);
	struct uuids seen = { 0 };
	ck_assert_int_eq(walk(&s, "/api/cluster/jobs?max_records=4", &seen, NULL, NULL), 2 + 3);
	ck_assert_uint_eq(seen.n, 10);
	uuids_free(&seen);

	/* hostile: odd uuids and field names; repeat-next and foreign-next links. */
	control(&s, "POST", "/_sim/faults", "hostile*1", 200);
	walk(&s, "/api/cluster/jobs?fields=*", &seen, NULL, NULL);
	ck_assert_uint_eq(seen.n, 16);
	ck_assert(uuids_has(&seen, "a/b") && uuids_has(&seen, "..") && uuids_has(&seen, "") &&
		  uuids_has(&seen, ".") && uuids_has(&seen, "../../etc"));
	uuids_free(&seen);
	control(&s, "POST", "/_sim/faults", "repeat-next*1,foreign-next=http://127.0.0.2:9*2", 200);
	json_object *o = get_json(&s, "/api/cluster/jobs?max_records=3");
	ck_assert_str_eq(str_field(field(field(o, "_links"), "next"), "href"),
			 "http://127.0.0.2:9/api/cluster/jobs?max_records=3");
	json_object_put(o);
	o = get_json(&s, "/api/cluster/jobs?max_records=3");
	ck_assert_int_eq(strncmp(str_field(field(field(o, "_links"), "next"), "href"),
				 "http://127.0.0.2:9/api/cluster/jobs?start.uuid=", 47), 0);
	json_object_put(o);
	control(&s, "DELETE", "/_sim/faults", NULL, 204);
	json_object_put(get_json(&s, "/api/cluster/jobs"));
	sim_stop(&s);
}
END_TEST

START_TEST(test_query_decoding)
{
	struct sim s;
	start(&s, NULL);
	char *u = make_job(&s, "{\"description\":\"a+b c&d\",\"state\":\"running\"}");
	struct uuids want = { 0 }, none = { 0 };
	uuids_add(&want, u);
	/* Every byte %-encoded reaches the filter exactly; '+' in a query is a space. */
	expect_query(&s, "/api/cluster/jobs?description=a%2Bb%20c%26d", &want);
	expect_query(&s, "/api/cluster/jobs?description=a%2Bb+c%26d", &want);
	expect_query(&s, "/api/cluster/jobs?description=a+b+c%26d", &none);

	json_object *c = get_json(&s, "/_sim/counters");
	ck_assert_int_eq(json_object_get_int(field(field(c, "by_query"),
						   "/api/cluster/jobs?description=a+b c&d")), 2);
	json_object_put(c);
	uuids_free(&want);
	free(u);
	sim_stop(&s);
}
END_TEST

START_TEST(test_tls)
{
	struct tls_files tls;
	if (tls_files_make(&tls) != 0)
		return; /* nothing to test with */
	struct sim s;
	sim_start_tls(&s, &tls, "3");
	struct resp r = http(&s, "GET", "/api/cluster/jobs?fields=*", NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "\"num_records\":3"));
	resp_free(&r);
	sim_stop(&s);
	tls_files_remove(&tls);
}
END_TEST

START_TEST(test_clock_and_offset)
{
	struct sim s;
	const char *args[] = { "--jobs", "5", "--clock-skew", "63072000", "--utc-offset", "-04:00",
			       NULL };
	start(&s, args);
	/* The Date header and the jobs' times come from the sim's clock (two years on). */
	time_t then = time(NULL) + 63072000;
	struct tm tm;
	char year[16];
	gmtime_r(&then, &tm);
	snprintf(year, sizeof(year), " %d ", tm.tm_year + 1900);
	struct resp r = http(&s, "GET", "/api/cluster/jobs?fields=start_time&max_records=1", NULL);
	ck_assert_int_eq(r.status, 200);
	char *date = strstr(r.headers, "Date: ");
	ck_assert_ptr_nonnull(date);
	ck_assert_msg(strstr(date, year) && strstr(date, year) < strchr(date, '\n'), "%s", date);
	ck_assert_ptr_nonnull(strstr(r.body, "-04:00\""));
	resp_free(&r);
	json_object *c = get_json(&s, "/_sim/clock");
	ck_assert_int_ge(json_object_get_int64(field(c, "now")), (int64_t)then - 5);
	ck_assert_str_eq(str_field(c, "iso") + 19, "-04:00");
	json_object_put(c);
	sim_stop(&s);
}
END_TEST

START_TEST(test_fixture)
{
	const char *data = getenv("JOBSFS_TESTDATA");
	char path[4096];
	snprintf(path, sizeof(path), "%s/../../sim/fixtures/jobs.json", data ? data : "tests/unit/data");
	ck_assert_msg(access(path, R_OK) == 0, "no fixture at %s", path);
	struct sim s;
	const char *args[] = { "--fixture", path, NULL };
	start(&s, args);

	json_object *o = get_json(&s, "/api/cluster/jobs/4e5b7a96-ab6c-4fbd-9a85-9c2b6dbe5f05");
	ck_assert_str_eq(str_field(o, "message"),
			 "Le partage \u00abdonn\u00e9es\u00bb n\u2019existe pas \u2014 v\u00e9rifiez le "
			 "chemin \"/vol/donn\u00e9es/projets\".");
	ck_assert_str_eq(str_field(o, "end_time"), "2026-03-02T08:01:12-04:00");
	json_object_put(o);
	o = get_json(&s, "/api/cluster/jobs?error.code=1638555&fields=error");
	json_object *recs = field(o, "records");
	ck_assert_int_eq((int)json_object_array_length(recs), 1);
	json_object *args0 = json_object_array_get_idx(
		field(field(json_object_array_get_idx(recs, 0), "error"), "arguments"), 0);
	ck_assert_str_eq(str_field(args0, "message"), "daily.2026-03-01_0010");
	json_object_put(o);

	/* Fixture jobs never expire. */
	control(&s, "POST", "/_sim/clock", "{\"advance\":1000000}", 200);
	o = get_json(&s, "/api/cluster/jobs?return_records=false");
	ck_assert_int_eq(json_object_get_int(field(o, "num_records")), 5);
	json_object_put(o);
	sim_stop(&s);
}
END_TEST

int main(void)
{
	if (!sim_available()) {
		fprintf(stderr, "ONTAP_SIM not set: skipping\n");
		return 77;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	Suite *su = suite_create("sim");
	TCase *tc = tcase_create("http");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_auth);
	tcase_add_test(tc, test_filters);
	tcase_add_test(tc, test_paging);
	tcase_add_test(tc, test_paging_live);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_patch);
	tcase_add_test(tc, test_return_records_and_order);
	tcase_add_test(tc, test_fields);
	tcase_add_test(tc, test_expiry_on_clock_advance);
	tcase_add_test(tc, test_faults);
	tcase_add_test(tc, test_query_decoding);
	tcase_add_test(tc, test_tls);
	tcase_add_test(tc, test_fixture);
	tcase_add_test(tc, test_clock_and_offset);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? 1 : 0;
}
