/* HTTP over libcurl (src/http.c): same-origin rules and configuration checks without
 * a network, then the transport against ontap-sim: answers, the Date header and clock
 * skew, connection reuse, Basic auth and netrc, retries and what is never retried,
 * timeouts, refused connections, the body cap, TLS, and what the debug log shows. */
#include "jobsfs/http.h"

#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check_helpers.h"
#include "jobsfs/error.h"
#include "jobsfs/log.h"

#define JOBS "/api/cluster/jobs"

/* ---- helpers ------------------------------------------------------------------- */

static struct jfs_http *http_new_ok(const struct jfs_http_config *cfg)
{
	struct jfs_http *http = NULL;
	struct jfs_error e = { 0 };
	int rc = jfs_http_new(cfg, &http, &e);
	ck_assert_msg(rc == 0, "jfs_http_new: %d %s", rc, e.message);
	return http;
}

static struct jfs_http *http_for(const char *url)
{
	struct jfs_http_config cfg = { .base_url = url };
	return http_new_ok(&cfg);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The simulator's count of /api requests received. */
static long sim_total(const struct sim *s)
{
	char *body = NULL;
	ck_assert_int_eq(sim_request(s, "GET", "/_sim/counters", NULL, &body), 200);
	struct json_object *root = json_tokener_parse(body), *total;
	ck_assert_ptr_nonnull(root);
	ck_assert(json_object_object_get_ex(root, "total", &total));
	long n = (long)json_object_get_int64(total);
	json_object_put(root);
	free(body);
	return n;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

/* ---- without a network --------------------------------------------------------- */

START_TEST(same_origin_rules)
{
	struct jfs_http *http = http_for("http://Cluster1.example.com");
	const char *path = NULL;

	ck_assert(jfs_http_same_origin(http, "/api/cluster/jobs?x=1", &path));
	ck_assert_str_eq(path, "/api/cluster/jobs?x=1");
	ck_assert(jfs_http_same_origin(http, "http://cluster1.example.com/api/a?b=c", &path));
	ck_assert_str_eq(path, "/api/a?b=c");
	ck_assert(jfs_http_same_origin(http, "HTTP://CLUSTER1.EXAMPLE.COM:80/api", &path));
	ck_assert_str_eq(path, "/api");
	ck_assert(jfs_http_same_origin(http, "http://u:p@cluster1.example.com/api", &path));
	ck_assert_str_eq(path, "/api");
	ck_assert(jfs_http_same_origin(http, "http://cluster1.example.com", &path));
	ck_assert_str_eq(path, "");

	ck_assert(!jfs_http_same_origin(http, "//cluster1.example.com/api", &path));
	ck_assert(!jfs_http_same_origin(http, "//evil.example.com/api", &path));
	ck_assert(!jfs_http_same_origin(http, "https://cluster1.example.com/api", &path));
	ck_assert(!jfs_http_same_origin(http, "http://cluster1.example.com:8080/api", &path));
	ck_assert(!jfs_http_same_origin(http, "http://cluster1.example.com:0/api", &path));
	ck_assert(!jfs_http_same_origin(http, "http://cluster1.example.com:99999/", &path));
	ck_assert(!jfs_http_same_origin(http, "http://cluster1.example.com.evil.com/", &path));
	ck_assert(!jfs_http_same_origin(http, "http://evil.com/@cluster1.example.com/", &path));
	ck_assert(!jfs_http_same_origin(http, "http://evil.com#@cluster1.example.com/", &path));
	ck_assert(!jfs_http_same_origin(http, "http://evil.com?@cluster1.example.com/", &path));
	ck_assert(!jfs_http_same_origin(http, "ftp://cluster1.example.com/api", &path));
	ck_assert(!jfs_http_same_origin(http, "api/cluster/jobs", &path));
	ck_assert(!jfs_http_same_origin(http, "", &path));
	ck_assert(!jfs_http_same_origin(http, NULL, &path));
	jfs_http_free(http);

	/* Default ports made explicit, IPv6 literals, a trailing '/' on the base. */
	http = http_for("https://c1/");
	ck_assert(jfs_http_same_origin(http, "https://c1:443/a", &path));
	ck_assert_str_eq(path, "/a");
	ck_assert(!jfs_http_same_origin(http, "http://c1/a", &path));
	ck_assert(!jfs_http_same_origin(http, "https://c1:80/a", &path));
	jfs_http_free(http);

	http = http_for("https://[::1]:8443");
	ck_assert(jfs_http_same_origin(http, "https://[::1]:8443/a", &path));
	ck_assert_str_eq(path, "/a");
	ck_assert(!jfs_http_same_origin(http, "https://[::1]/a", &path));
	ck_assert(!jfs_http_same_origin(http, "https://[::2]:8443/a", &path));
	jfs_http_free(http);
}
END_TEST

START_TEST(config_checked)
{
	struct jfs_http *http = NULL;
	struct jfs_error e = { 0 };
	struct jfs_http_config cfg = { 0 };

	ck_assert_int_eq(jfs_http_new(&cfg, &http, &e), -EINVAL);
	static const char *const bad[] = { "ftp://host", "host:80", "http://", "http://h/api",
					   "http://h:x", "http://[::1", "http://u:p@h" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg.base_url = bad[i];
		ck_assert_msg(jfs_http_new(&cfg, &http, &e) == -EINVAL, "accepted %s", bad[i]);
		ck_assert_ptr_null(http);
	}
	cfg = (struct jfs_http_config){ .base_url = "https://h", .token = "t", .user = "u",
					.password = "p" };
	ck_assert_int_eq(jfs_http_new(&cfg, &http, &e), -EINVAL);
	cfg = (struct jfs_http_config){ .base_url = "https://h", .key = "k.pem" };
	ck_assert_int_eq(jfs_http_new(&cfg, &http, &e), -EINVAL);

	/* Everything a mount may set, accepted. */
	cfg = (struct jfs_http_config){ .base_url = "https://h:8443", .user = "u", .password = "p",
					.cert = "c.pem", .key = "k.pem", .cacert = "ca.pem",
					.insecure = true, .connect_timeout_ms = 100,
					.timeout_ms = 200, .max_retries = -1,
					.retry_budget_ms = 10, .max_body = 10 };
	http = http_new_ok(&cfg);
	ck_assert_int_eq(jfs_http_clock_skew(http), 0);
	ck_assert_int_le(llabs(jfs_http_cluster_now(http) - (int64_t)time(NULL)), 1);

	struct jfs_http_response resp;
	ck_assert_int_eq(jfs_http_get(http, "api/no-slash", &resp, &e), -EINVAL);
	jfs_http_free(http);
	jfs_http_free(NULL);
}
END_TEST

START_TEST(refused_port)
{
	/* A port nobody listens on: take one, note it, close it. */
	unsigned short port;
	close(loopback_listen(1, &port));

	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
	struct jfs_http_config cfg = { .base_url = url, .max_retries = 2,
				       .retry_budget_ms = 2000 };
	struct jfs_http *http = http_new_ok(&cfg);
	struct jfs_http_response resp;
	struct jfs_error e = { 0 };
	struct jfs_http_counters c;

	ck_assert_int_eq(jfs_http_get(http, JOBS "?a=1", &resp, &e), -ECONNREFUSED);
	ck_assert_int_eq(e.err, ECONNREFUSED);
	ck_assert_str_eq(e.request, "GET " JOBS "?a=1");
	ck_assert_str_ne(e.message, "");
	ck_assert_ptr_null(resp.body);
	jfs_http_counters_get(http, &c);
	ck_assert_uint_eq(c.requests, 3); /* refusals are retried */
	ck_assert_uint_eq(c.retries, 2);
	ck_assert_uint_eq(c.fail_connect, 3);
	ck_assert_uint_eq(c.reused, 0);
	jfs_http_free(http);
}
END_TEST

START_TEST(unresolvable_host)
{
	/* .invalid never resolves (RFC 6761): resolvers answer at once. */
	struct jfs_http_config cfg = { .base_url = "http://no-such-host.invalid",
				       .max_retries = -1, .timeout_ms = 5000 };
	struct jfs_http *http = http_new_ok(&cfg);
	struct jfs_http_response resp;
	struct jfs_error e = { 0 };
	ck_assert_int_eq(jfs_http_get(http, "/", &resp, &e), -EHOSTUNREACH);
	jfs_http_free(http);
}
END_TEST

/* ---- a scripted server --------------------------------------------------------- */

/* Serves scripted raw answers in order, one connection per request, and keeps what
 * each request said: for what ontap-sim does not do (Retry-After, gzip, no Date). */
struct scripted {
	int fd;
	pthread_t thread;
	const char *const *answers; /* raw HTTP answers, NULL-terminated */
	size_t len0;		    /* byte length of answers[0] when it holds NULs, else 0 */
	char requests[4][2048];	    /* the first requests' heads */
	size_t nrequests;
	char url[64];
};

static void *scripted_serve(void *arg)
{
	struct scripted *ss = arg;
	for (size_t i = 0; ss->answers[i]; i++) {
		int conn = accept(ss->fd, NULL, NULL);
		if (conn < 0)
			return NULL;
		char req[2048];
		size_t n = read_request_head(conn, req, sizeof(req));
		if (ss->nrequests < 4)
			memcpy(ss->requests[ss->nrequests++], req, n + 1);
		size_t len = i == 0 && ss->len0 ? ss->len0 : strlen(ss->answers[i]);
		if (write(conn, ss->answers[i], len) != (ssize_t)len)
			fprintf(stderr, "scripted server: short write\n");
		close(conn);
	}
	return NULL;
}

static void scripted_start(struct scripted *ss, const char *const *answers, size_t len0)
{
	unsigned short port;
	memset(ss, 0, sizeof(*ss));
	ss->answers = answers;
	ss->len0 = len0;
	ss->fd = loopback_listen(8, &port);
	snprintf(ss->url, sizeof(ss->url), "http://127.0.0.1:%u", port);
	ck_assert_int_eq(pthread_create(&ss->thread, NULL, scripted_serve, ss), 0);
}

/* Wait for every scripted answer to be served. */
static void scripted_join(struct scripted *ss)
{
	ck_assert_int_eq(pthread_join(ss->thread, NULL), 0);
	close(ss->fd);
}

#define BUSY(after)                                                                     \
	"HTTP/1.1 503 Service Unavailable\r\nRetry-After: " after "\r\nContent-Length: 2\r\n" \
	"Connection: close\r\n\r\n{}"
#define OK_EMPTY                                                                         \
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"

START_TEST(retry_after_honoured)
{
	static const char *const answers[] = { BUSY("1"), OK_EMPTY, NULL };
	struct scripted ss;
	scripted_start(&ss, answers, 0);
	struct jfs_http_config cfg = { .base_url = ss.url, .retry_budget_ms = 3000 };
	struct jfs_http *http = http_new_ok(&cfg);
	struct jfs_http_response resp;
	struct jfs_error e = { 0 };
	struct jfs_http_counters c;

	double t0 = now_s();
	ck_assert_int_eq(jfs_http_get(http, "/x", &resp, &e), 0);
	double took = now_s() - t0;
	ck_assert_int_eq(resp.status, 200);
	ck_assert_msg(took >= 0.95 && took < 2.0, "took %.3f s", took);
	ck_assert_int_eq(resp.date, 0); /* no Date header */
	jfs_http_response_free(&resp);
	jfs_http_counters_get(http, &c);
	ck_assert_uint_eq(c.retries, 1);
	ck_assert_int_eq(jfs_http_clock_skew(http), 0); /* no Date, no estimate */
	jfs_http_free(http);
	scripted_join(&ss);
}
END_TEST

START_TEST(retry_after_past_budget)
{
	static const char *const answers[] = { BUSY("30"), NULL };
	struct scripted ss;
	scripted_start(&ss, answers, 0);
	struct jfs_http_config cfg = { .base_url = ss.url, .retry_budget_ms = 1000 };
	struct jfs_http *http = http_new_ok(&cfg);
	struct jfs_http_response resp;
	struct jfs_error e = { 0 };
	struct jfs_http_counters c;

	double t0 = now_s();
	ck_assert_int_eq(jfs_http_get(http, "/x", &resp, &e), 0);
	ck_assert_int_eq(resp.status, 503); /* given up at once: the wait does not fit */
	ck_assert_msg(now_s() - t0 < 0.5, "waited %.3f s", now_s() - t0);
	jfs_http_response_free(&resp);
	jfs_http_counters_get(http, &c);
	ck_assert_uint_eq(c.retries, 0);
	jfs_http_free(http);
	scripted_join(&ss);
}
END_TEST

START_TEST(gzip_decoded_and_headers_sent)
{
	static const unsigned char gz[] = {
		0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xab, 0x56, 0x2a, 0x4a,
		0x4d, 0xce, 0x2f, 0x4a, 0x29, 0x56, 0xb2, 0x8a, 0x8e, 0xd5, 0x51, 0xca, 0x2b, 0xcd,
		0x8d, 0x87, 0x0b, 0x18, 0xd4, 0x02, 0x00, 0x1c, 0xa4, 0x33, 0x95, 0x1e, 0x00, 0x00,
		0x00,
	};
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
				   "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
				   "Content-Length: 43\r\nConnection: close\r\n\r\n";
	static char raw[sizeof(head) + sizeof(gz)];
	memcpy(raw, head, sizeof(head) - 1);
	memcpy(raw + sizeof(head) - 1, gz, sizeof(gz));
	const char *const answers[] = { raw, NULL };
	struct scripted ss;
	scripted_start(&ss, answers, sizeof(head) - 1 + sizeof(gz));

	struct jfs_http_config cfg = { .base_url = ss.url, .token = "tok-123" };
	struct jfs_http *http = http_new_ok(&cfg);
	struct jfs_http_response resp;
	struct jfs_error e = { 0 };
	ck_assert_int_eq(jfs_http_get(http, "/api/cluster/jobs?fields=%2A", &resp, &e), 0);
	ck_assert_str_eq(resp.body, "{\"records\":[],\"num_records\":0}");
	ck_assert_uint_eq(resp.len, 30);
	ck_assert_int_eq(resp.date, 784111777); /* RFC 7231's example date */
	jfs_http_response_free(&resp);
	jfs_http_free(http);
	scripted_join(&ss);

	const char *req = ss.requests[0];
	ck_assert_msg(strncmp(req, "GET /api/cluster/jobs?fields=%2A HTTP/1.1\r\n", 43) == 0,
		      "request: %s", req);
	ck_assert_msg(strcasestr(req, "\r\nAccept-Encoding: ") != NULL, "request: %s", req);
	ck_assert_msg(strcasestr(req, "gzip") != NULL, "request: %s", req);
	ck_assert_msg(strcasestr(req, "\r\nAuthorization: Bearer tok-123\r\n") != NULL,
		      "request: %s", req);
}
END_TEST

START_TEST(redirect_not_followed)
{
	static const char *const answers[] = {
		"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.2:1/elsewhere\r\n"
		"Content-Length: 0\r\nConnection: close\r\n\r\n",
		NULL
	};
	struct scripted ss;
	scripted_start(&ss, answers, 0);
	struct jfs_http_config cfg = { .base_url = ss.url, .user = "u", .password = "p" };
	struct jfs_http *http = http_new_ok(&cfg);
	struct jfs_http_response resp;
	struct jfs_error e = { 0 };
	struct jfs_http_counters c;
	ck_assert_int_eq(jfs_http_get(http, "/x", &resp, &e), 0);
	ck_assert_int_eq(resp.status, 302);
	ck_assert_uint_eq(resp.len, 0);
	ck_assert_str_eq(resp.body, "");
	jfs_http_response_free(&resp);
	jfs_http_counters_get(http, &c);
	ck_assert_uint_eq(c.requests, 1);
	jfs_http_free(http);
	scripted_join(&ss);
}
END_TEST

/* ---- against the simulator ----------------------------------------------------- */

static struct sim shared; /* one simulator for the tests that need no special flags */
static const char *const shared_args[] = { "--jobs", "40", NULL };

/* One GET of path by a client of its own while the shared simulator injects the fault
 * spec: checks the status it answered at last, and returns the client's counters and
 * (when e is not NULL) the error the request left. */
static struct jfs_http_counters get_under_fault(const char *spec, const char *path,
						long status, struct jfs_error *e)
{
	struct jfs_http *http = http_for(shared.url);
	struct jfs_http_response resp;
	struct jfs_error local = { 0 };
	struct jfs_http_counters c;

	if (!e)
		e = &local;
	sim_faults(&shared, spec);
	ck_assert_int_eq(jfs_http_get(http, path, &resp, e), 0);
	ck_assert_int_eq(resp.status, status);
	jfs_http_response_free(&resp);
	jfs_http_counters_get(http, &c);
	jfs_http_free(http);
	return c;
}

START_TEST(plain_get)
{
	struct jfs_http *http = http_for(shared.url);
	struct jfs_http_response resp;
	struct jfs_error e = { 0 };
	struct jfs_http_counters c;

	ck_assert_int_eq(jfs_http_get(http, JOBS "?fields=*&max_records=3", &resp, &e), 0);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_ptr_nonnull(resp.body);
	ck_assert_uint_eq(strlen(resp.body), resp.len);
	struct json_object *root = json_tokener_parse(resp.body), *n;
	ck_assert_ptr_nonnull(root);
	ck_assert(json_object_object_get_ex(root, "num_records", &n));
	ck_assert_int_eq(json_object_get_int(n), 3);
	json_object_put(root);
	ck_assert_int_le(llabs(resp.date - (int64_t)time(NULL)), 3);

	jfs_http_counters_get(http, &c);
	ck_assert_uint_eq(c.requests, 1);
	ck_assert_uint_eq(c.connections, 1);
	ck_assert_uint_eq(c.retries, 0);
	ck_assert_uint_eq(c.bytes, resp.len);
	ck_assert_int_eq(sim_total(&shared), 1);
	jfs_http_response_free(&resp);
	ck_assert_ptr_null(resp.body);

	/* A 404 is an answer, not a failure. */
	ck_assert_int_eq(jfs_http_get(http, JOBS "/no-such-uuid", &resp, &e), 0);
	ck_assert_int_eq(resp.status, 404);
	ck_assert_ptr_nonnull(strstr(resp.body, "\"error\""));
	jfs_http_response_free(&resp);
	jfs_http_counters_get(http, &c);
	ck_assert_uint_eq(c.http_4xx, 1);
	ck_assert_uint_eq(c.retries, 0);

	jfs_http_counters_reset(http);
	jfs_http_counters_get(http, &c);
	ck_assert_uint_eq(c.requests + c.connections + c.http_4xx + c.bytes, 0);
	jfs_http_free(http);
}
END_TEST

START_TEST(connections_reused)
{
	struct jfs_http *http = http_for(shared.url);
	struct jfs_http_counters c;

	for (int i = 0; i < 20; i++) {
		struct jfs_http_response resp;
		struct jfs_error e = { 0 };
		ck_assert_int_eq(jfs_http_get(http, JOBS "?max_records=1", &resp, &e), 0);
		ck_assert_int_eq(resp.status, 200);
		jfs_http_response_free(&resp);
	}
	jfs_http_counters_get(http, &c);
	ck_assert_uint_eq(c.requests, 20);
	ck_assert_msg(c.connections <= 2, "%llu connections for 20 requests",
		      (unsigned long long)c.connections);
	ck_assert_uint_ge(c.reused, 18);
	ck_assert_uint_eq(c.connections + c.reused, 20);
	jfs_http_free(http);
}
END_TEST

START_TEST(retry_5xx_then_success)
{
	struct jfs_http_counters c = get_under_fault("status=503*2", JOBS "?max_records=1", 200,
						     NULL);
	ck_assert_uint_eq(c.retries, 2);
	ck_assert_uint_eq(c.http_5xx, 2);
	ck_assert_uint_eq(c.requests, 3);
	ck_assert_int_eq(sim_total(&shared), 3);
}
END_TEST

START_TEST(retry_429)
{
	struct jfs_http_counters c = get_under_fault("status=429*1", JOBS "?max_records=1", 200,
						     NULL);
	ck_assert_uint_eq(c.retries, 1);
}
END_TEST

START_TEST(persistent_5xx_returned_after_retries)
{
	struct jfs_http_config cfg = { .base_url = shared.url, .max_retries = 3 };
	struct jfs_http *http = http_new_ok(&cfg);
	struct jfs_http_response resp;
	struct jfs_error e = { 0 };
	struct jfs_http_counters c;

	sim_faults(&shared, "status=500");
	ck_assert_int_eq(jfs_http_get(http, JOBS, &resp, &e), 0);
	ck_assert_int_eq(resp.status, 500);
	ck_assert_ptr_nonnull(strstr(resp.body, "\"error\"")); /* the last answer's body */
	jfs_http_response_free(&resp);
	jfs_http_counters_get(http, &c);
	ck_assert_uint_eq(c.requests, 4);
	ck_assert_uint_eq(c.retries, 3);
	ck_assert_int_eq(sim_total(&shared), 4);
	jfs_http_free(http);
}
END_TEST

START_TEST(client_errors_not_retried)
{
	static const char *const specs[] = { "status=400", "status=403", "status=404" };
	static const long codes[] = { 400, 403, 404 };
	for (size_t i = 0; i < 3; i++) {
		sim_clean(&shared);
		struct jfs_http_counters c = get_under_fault(specs[i], JOBS, codes[i], NULL);
		ck_assert_uint_eq(c.requests, 1);
		ck_assert_uint_eq(c.retries, 0);
		ck_assert_uint_eq(c.http_4xx, 1);
		ck_assert_int_eq(sim_total(&shared), 1);
	}
}
END_TEST

START_TEST(reset_retried)
{
	struct jfs_error e = { 0 };
	struct jfs_http_counters c = get_under_fault("reset*1", JOBS "?max_records=2", 200, &e);
	/* The failed attempt leaves no error behind a request that succeeded. */
	ck_assert_int_eq(e.err, 0);
	ck_assert_str_eq(e.message, "");
	ck_assert_uint_eq(c.retries, 1);
	ck_assert_uint_eq(c.fail_reset, 1);
	ck_assert_int_eq(sim_total(&shared), 2);
}
END_TEST

START_TEST(truncated_retried)
{
	struct jfs_http_config cfg = { .base_url = shared.url, .max_retries = 2 };
	struct jfs_http *http = http_new_ok(&cfg);
	struct jfs_http_response resp;
	struct jfs_error e = { 0 };
	struct jfs_http_counters c;

	sim_faults(&shared, "truncate*1");
	ck_assert_int_eq(jfs_http_get(http, JOBS "?fields=*", &resp, &e), 0);
	ck_assert_int_eq(resp.status, 200);
	struct json_object *root = json_tokener_parse(resp.body);
	ck_assert_ptr_nonnull(root); /* the whole body of the retry */
	json_object_put(root);
	jfs_http_response_free(&resp);
	jfs_http_counters_get(http, &c);
	ck_assert_uint_eq(c.retries, 1);
	ck_assert_uint_eq(c.fail_reset, 1);

	/* Always truncated: the partial answer is never returned as a body. */
	sim_faults(&shared, "truncate");
	ck_assert_int_eq(jfs_http_get(http, JOBS "?fields=*", &resp, &e), -ECONNRESET);
	ck_assert_ptr_null(resp.body);
	ck_assert_str_eq(e.request, "GET " JOBS "?fields=*");
	jfs_http_free(http);
}
END_TEST

START_TEST(stall_times_out_within_budget)
{
	struct jfs_http_config cfg = { .base_url = shared.url, .timeout_ms = 500,
				       .retry_budget_ms = 1000 };
	struct jfs_http *http = http_new_ok(&cfg);
	struct jfs_http_response resp;
	struct jfs_error e = { 0 };
	struct jfs_http_counters c;

	sim_faults(&shared, "stall=2");
	double t0 = now_s();
	ck_assert_int_eq(jfs_http_get(http, JOBS "?max_records=1", &resp, &e), -ETIMEDOUT);
	double took = now_s() - t0;
	ck_assert_msg(took >= 0.45 && took < 1.5 + 0.4, "took %.3f s", took);
	ck_assert_int_eq(e.err, ETIMEDOUT);
	ck_assert_str_eq(e.request, "GET " JOBS "?max_records=1");
	ck_assert_str_ne(e.message, "");
	jfs_http_counters_get(http, &c);
	ck_assert_uint_ge(c.fail_timeout, 2); /* the first attempt, and a retry at least */
	ck_assert_uint_eq(c.fail_timeout, c.requests);
	jfs_http_free(http);
}
END_TEST

static void *stop_later(void *http)
{
	usleep(300 * 1000);
	jfs_http_stop(http);
	return NULL;
}

/* jfs_http_stop ends an attempt under way (within libcurl's progress interval, about
 * a second) with -ECANCELED and no retry, and every later request without one. */
START_TEST(stop_cancels_a_stalled_request)
{
	struct jfs_http_config cfg = { .base_url = shared.url, .timeout_ms = 10000,
				       .retry_budget_ms = 10000 };
	struct jfs_http *http = http_new_ok(&cfg);
	struct jfs_http_response resp;
	struct jfs_error e = { 0 };
	struct jfs_http_counters c;
	pthread_t t;

	sim_faults(&shared, "stall=3"); /* unstopped, the answer would come after 3 s */
	ck_assert_int_eq(pthread_create(&t, NULL, stop_later, http), 0);
	double t0 = now_s();
	ck_assert_int_eq(jfs_http_get(http, JOBS "?max_records=1", &resp, &e), -ECANCELED);
	double took = now_s() - t0;
	pthread_join(t, NULL);
	ck_assert_msg(took >= 0.25 && took < 2.0, "took %.3f s", took);
	ck_assert_ptr_null(resp.body);
	ck_assert_int_eq(e.err, ECANCELED);
	ck_assert_str_eq(e.request, "GET " JOBS "?max_records=1");
	ck_assert_ptr_nonnull(strstr(e.message, "stopping"));
	jfs_http_counters_get(http, &c);
	ck_assert_uint_eq(c.requests, 1);
	ck_assert_uint_eq(c.retries, 0);

	ck_assert_int_eq(jfs_http_get(http, JOBS "?max_records=1", &resp, &e), -ECANCELED);
	jfs_http_counters_get(http, &c);
	ck_assert_uint_eq(c.requests, 1); /* none made */
	jfs_http_free(http);

	/* Stopped while an attempt is under way that then ends on its own (its 1 s
	 * timeout comes before libcurl asks the progress callback again, about a second
	 * after the first time): still -ECANCELED, and no retry. */
	cfg.timeout_ms = 1000;
	http = http_new_ok(&cfg);
	ck_assert_int_eq(pthread_create(&t, NULL, stop_later, http), 0);
	t0 = now_s();
	ck_assert_int_eq(jfs_http_get(http, JOBS "?max_records=1", &resp, &e), -ECANCELED);
	took = now_s() - t0;
	pthread_join(t, NULL);
	ck_assert_msg(took < 2.5, "took %.3f s", took);
	jfs_http_counters_get(http, &c);
	ck_assert_uint_eq(c.retries, 0);
	jfs_http_free(http);
}
END_TEST

START_TEST(body_cap)
{
	struct jfs_http_config cfg = { .base_url = shared.url, .max_body = 1000 };
	struct jfs_http *http = http_new_ok(&cfg);
	struct jfs_http_response resp;
	struct jfs_error e = { 0 };
	struct jfs_http_counters c;

	ck_assert_int_eq(jfs_http_get(http, JOBS "?fields=*", &resp, &e), -EFBIG);
	ck_assert_int_eq(e.err, EFBIG);
	ck_assert_ptr_null(resp.body);
	jfs_http_counters_get(http, &c);
	ck_assert_uint_eq(c.too_large, 1);
	ck_assert_uint_eq(c.requests, 1); /* not retried */

	/* A small answer still fits. */
	ck_assert_int_eq(jfs_http_get(http, JOBS "?max_records=1", &resp, &e), 0);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_uint_le(resp.len, 1000);
	jfs_http_response_free(&resp);
	jfs_http_free(http);
}
END_TEST

/* Debug logging shows each exchange, and never the credentials. */
START_TEST(debug_log_has_no_credentials)
{
	char logpath[] = "/tmp/jobsfs-httplog-XXXXXX";
	int fd = mkstemp(logpath);
	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
	jfs_log_set_level(JFS_LOG_DEBUG);

	struct jfs_http_config cfg = { .base_url = shared.url, .user = "admin",
				       .password = "Sup3rS3cret" };
	struct jfs_http *http = http_new_ok(&cfg);
	struct jfs_http_response resp;
	struct jfs_error e = { 0 };
	ck_assert_int_eq(jfs_http_get(http, JOBS "?max_records=1", &resp, &e), 0);
	jfs_http_response_free(&resp);
	jfs_http_free(http);

	jfs_log_set_level(JFS_LOG_WARN);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);

	FILE *f = fopen(logpath, "r");
	char text[8192] = "";
	ck_assert_ptr_nonnull(f);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	unlink(logpath);
	ck_assert_msg(strstr(text, "GET " JOBS "?max_records=1 -> 200"), "log: %s", text);
	ck_assert_msg(!strstr(text, "Sup3rS3cret"), "password logged: %s", text);
	ck_assert_msg(!strcasestr(text, "Authorization"), "header logged: %s", text);
	ck_assert_msg(!strstr(text, "YWRtaW46"), "Basic credentials logged: %s", text);
}
END_TEST

/* ---- simulators of their own --------------------------------------------------- */

static void skew_case(const char *skew, int64_t want)
{
	const char *const args[] = { "--jobs", "3", "--clock-skew", skew, NULL };
	struct sim s;
	ck_assert_int_eq(sim_start(&s, args), 0);
	struct jfs_http *http = http_for(s.url);
	for (int i = 0; i < 3; i++) {
		struct jfs_http_response resp;
		struct jfs_error e = { 0 };
		ck_assert_int_eq(jfs_http_get(http, JOBS "?max_records=1", &resp, &e), 0);
		ck_assert_int_le(llabs(resp.date - ((int64_t)time(NULL) + want)), 3);
		jfs_http_response_free(&resp);
	}
	int64_t skew_est = jfs_http_clock_skew(http);
	ck_assert_msg(llabs(skew_est - want) <= 2, "skew %lld, want %lld", (long long)skew_est,
		      (long long)want);
	int64_t now = jfs_http_cluster_now(http);
	ck_assert_int_le(llabs(now - ((int64_t)time(NULL) + want)), 2);
	jfs_http_free(http);
	sim_stop(&s);
}

START_TEST(clock_skew_ahead)
{
	skew_case("600", 600);
}
END_TEST

START_TEST(clock_skew_behind)
{
	skew_case("-600", -600);
}
END_TEST

START_TEST(basic_auth)
{
	char dir[] = "/tmp/jobsfs-auth-XXXXXX", pwfile[64], netrc[64], text[128];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(pwfile, sizeof(pwfile), "%s/pw", dir);
	write_file(pwfile, "r1ght-pw\n", 0600);

	const char *const args[] = { "--jobs", "3", "--user", "admin", "--password-file", pwfile,
				     NULL };
	struct sim s;
	ck_assert_int_eq(sim_start(&s, args), 0);

	struct {
		const char *user, *password;
		long status;
	} cases[] = {
		{ "admin", "r1ght-pw", 200 },
		{ "admin", "wrong", 401 },
		{ "someone", "r1ght-pw", 401 },
		{ NULL, NULL, 401 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct jfs_http_config cfg = { .base_url = s.url, .user = cases[i].user,
					       .password = cases[i].password };
		struct jfs_http *http = http_new_ok(&cfg);
		struct jfs_http_response resp;
		struct jfs_error e = { 0 };
		struct jfs_http_counters c;
		ck_assert_int_eq(sim_request(&s, "POST", "/_sim/counters/reset", NULL, NULL), 204);
		ck_assert_int_eq(jfs_http_get(http, JOBS "?max_records=1", &resp, &e), 0);
		ck_assert_msg(resp.status == cases[i].status, "case %zu: %ld", i, resp.status);
		jfs_http_response_free(&resp);
		jfs_http_counters_get(http, &c);
		ck_assert_uint_eq(c.retries, 0); /* a 401 is never retried */
		ck_assert_int_eq(sim_total(&s), 1);
		jfs_http_free(http);
	}

	/* A user without a password: the password comes from a netrc file. */
	snprintf(netrc, sizeof(netrc), "%s/netrc", dir);
	snprintf(text, sizeof(text), "machine 127.0.0.1 login admin password r1ght-pw\n");
	write_file(netrc, text, 0600);
	struct jfs_http_config cfg = { .base_url = s.url, .user = "admin", .netrc = true,
				       .netrc_file = netrc };
	struct jfs_http *http = http_new_ok(&cfg);
	struct jfs_http_response resp;
	struct jfs_error e = { 0 };
	ck_assert_int_eq(jfs_http_get(http, JOBS "?max_records=1", &resp, &e), 0);
	ck_assert_int_eq(resp.status, 200);
	jfs_http_response_free(&resp);
	jfs_http_free(http);

	sim_stop(&s);
	unlink(netrc);
	unlink(pwfile);
	rmdir(dir);
}
END_TEST

/* HTTPS with a self-signed certificate: refused by default, accepted with the
 * certificate as CA bundle (also from CURL_CA_BUNDLE), or with insecure. */
START_TEST(tls_verification)
{
	struct tls_files tls;
	if (tls_files_make(&tls) != 0)
		return; /* nothing to test with */
	struct sim s;
	sim_start_tls(&s, &tls, "3");

	struct jfs_http_response resp;
	struct jfs_error e = { 0 };
	unsetenv("CURL_CA_BUNDLE");
	unsetenv("SSL_CERT_FILE");
	struct jfs_http_config cfg = { .base_url = s.url, .max_retries = -1 };
	struct jfs_http *http = http_new_ok(&cfg);
	ck_assert_int_eq(jfs_http_get(http, JOBS "?max_records=1", &resp, &e), -EIO);
	ck_assert_msg(strncmp(e.message, "TLS: ", 5) == 0, "message %s", e.message);
	jfs_http_free(http);

	cfg.cacert = tls.cert;
	http = http_new_ok(&cfg);
	ck_assert_int_eq(jfs_http_get(http, JOBS "?max_records=1", &resp, &e), 0);
	ck_assert_int_eq(resp.status, 200);
	jfs_http_response_free(&resp);
	jfs_http_free(http);

	cfg.cacert = NULL;
	setenv("CURL_CA_BUNDLE", tls.cert, 1);
	http = http_new_ok(&cfg);
	ck_assert_int_eq(jfs_http_get(http, JOBS "?max_records=1", &resp, &e), 0);
	jfs_http_response_free(&resp);
	jfs_http_free(http);
	unsetenv("CURL_CA_BUNDLE");

	cfg.insecure = true;
	http = http_new_ok(&cfg);
	ck_assert_int_eq(jfs_http_get(http, JOBS "?max_records=1", &resp, &e), 0);
	ck_assert_int_eq(resp.status, 200);
	jfs_http_response_free(&resp);
	jfs_http_free(http);

	sim_stop(&s);
	tls_files_remove(&tls);
}
END_TEST

int main(void)
{
	/* CURLOPT_NOSIGNAL leaves SIGPIPE to the process, as jobsfs itself does. */
	signal(SIGPIPE, SIG_IGN);

	Suite *s = suite_create("http");
	TCase *offline = tcase_create("offline");
	tcase_add_test(offline, same_origin_rules);
	tcase_add_test(offline, config_checked);
	tcase_add_test(offline, refused_port);
	tcase_add_test(offline, unresolvable_host);
	tcase_add_test(offline, retry_after_honoured);
	tcase_add_test(offline, retry_after_past_budget);
	tcase_add_test(offline, gzip_decoded_and_headers_sent);
	tcase_add_test(offline, redirect_not_followed);
	suite_add_tcase(s, offline);

	bool sim = sim_available();
	if (sim) {
		TCase *tc = sim_shared_tcase("sim", &shared, shared_args);
		tcase_set_timeout(tc, 30);
		tcase_add_test(tc, plain_get);
		tcase_add_test(tc, connections_reused);
		tcase_add_test(tc, retry_5xx_then_success);
		tcase_add_test(tc, retry_429);
		tcase_add_test(tc, persistent_5xx_returned_after_retries);
		tcase_add_test(tc, client_errors_not_retried);
		tcase_add_test(tc, reset_retried);
		tcase_add_test(tc, truncated_retried);
		tcase_add_test(tc, stall_times_out_within_budget);
		tcase_add_test(tc, stop_cancels_a_stalled_request);
		tcase_add_test(tc, body_cap);
		tcase_add_test(tc, debug_log_has_no_credentials);
		suite_add_tcase(s, tc);

		TCase *own = tcase_create("own-sim");
		tcase_set_timeout(own, 30);
		tcase_add_test(own, clock_skew_ahead);
		tcase_add_test(own, clock_skew_behind);
		tcase_add_test(own, basic_auth);
		tcase_add_test(own, tls_verification);
		suite_add_tcase(s, own);
	}
	return run_suite(s, sim);
}
