/* Helpers shared by the Check unit tests (see check_helpers.h). */
#include "check_helpers.h"

#include "jobsfs/job.h"

#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int sim_available(void)
{
	const char *path = getenv("ONTAP_SIM");
	return path && *path && access(path, X_OK) == 0;
}

int sim_start(struct sim *s, const char *const extra_args[])
{
	const char *path = getenv("ONTAP_SIM");
	const char *argv[64];
	size_t n = 0;
	int fds[2];

	memset(s, 0, sizeof(*s));
	if (!sim_available()) {
		fprintf(stderr, "ontap-sim not available (ONTAP_SIM=%s)\n", path ? path : "");
		return -1;
	}
	argv[n++] = path;
	argv[n++] = "--port";
	argv[n++] = "0";
	for (size_t i = 0; extra_args && extra_args[i] && n < 63; i++)
		argv[n++] = extra_args[i];
	argv[n] = NULL;

	if (pipe(fds) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execv(path, (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	s->pid = pid;

	/* The first line on stdout is the base URL, printed once it accepts. */
	FILE *out = fdopen(fds[0], "r");
	if (!out || !fgets(s->url, sizeof(s->url), out)) {
		fprintf(stderr, "ontap-sim printed no URL\n");
		if (out)
			fclose(out);
		sim_stop(s);
		return -1;
	}
	fclose(out);
	s->url[strcspn(s->url, "\r\n")] = '\0';
	return 0;
}

void sim_stop(struct sim *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		int status;
		for (int i = 0; i < 50; i++) {
			if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
				s->pid = 0;
				return;
			}
			usleep(100 * 1000);
		}
		kill(s->pid, SIGKILL);
		waitpid(s->pid, &status, 0);
		s->pid = 0;
	}
}

size_t membuf_collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct membuf *b = userdata;
	size_t n = size * nmemb;
	char *grown = realloc(b->data, b->len + n + 1);
	if (!grown)
		return 0;
	memcpy(grown + b->len, ptr, n);
	b->len += n;
	grown[b->len] = '\0';
	b->data = grown;
	return n;
}

CURL *sim_curl(const struct sim *s, const char *method, const char *path, long timeout_s,
	       struct membuf *body)
{
	char *url = NULL;
	CURL *h = curl_easy_init();

	if (!h || asprintf(&url, "%s%s", s->url, path) < 0) {
		curl_easy_cleanup(h);
		return NULL;
	}
	curl_easy_setopt(h, CURLOPT_URL, url); /* curl keeps a copy */
	free(url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, membuf_collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
	return h;
}

long sim_request(const struct sim *s, const char *method, const char *path,
		 const char *body, char **resp)
{
	struct membuf b = { 0 };
	long status = -1;
	CURL *h = sim_curl(s, method, path, 30L, &b);

	if (!h)
		return -1;
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	if (resp)
		*resp = b.data ? b.data : strdup("");
	else
		free(b.data);
	return status;
}

struct json_object *sim_call_json(const struct sim *s, const char *method, const char *path,
				  const char *body, long want_status)
{
	char *resp = NULL;
	long status = sim_request(s, method, path, body, &resp);
	ck_assert_msg(status == want_status, "%s %s: HTTP %ld, wanted %ld: %s", method, path,
		      status, want_status, resp ? resp : "");
	struct json_object *root = resp && *resp ? json_tokener_parse(resp) : NULL;
	ck_assert_msg(root != NULL || !resp || !*resp, "%s %s: not JSON: %s", method, path, resp);
	free(resp);
	return root;
}

long sim_endpoint_count(const struct sim *s, const char *endpoint)
{
	struct json_object *root = sim_call_json(s, "GET", "/_sim/counters", NULL, 200), *by, *n;
	ck_assert(json_object_object_get_ex(root, "by_endpoint", &by));
	long v = json_object_object_get_ex(by, endpoint, &n) ? (long)json_object_get_int64(n)
							      : 0;
	json_object_put(root);
	return v;
}

void sim_faults(const struct sim *s, const char *spec)
{
	ck_assert_int_eq(sim_request(s, "POST", "/_sim/faults", spec, NULL), 200);
}

void sim_clean(const struct sim *s)
{
	ck_assert_int_eq(sim_request(s, "DELETE", "/_sim/faults", NULL, NULL), 204);
	ck_assert_int_eq(sim_request(s, "POST", "/_sim/counters/reset", NULL, NULL), 204);
}

/* What sim_shared_tcase's fixtures work on: they are called without arguments. */
static struct sim *shared_sim;
static const char *const *shared_args;

static void shared_sim_start(void)
{
	if (sim_start(shared_sim, shared_args) != 0)
		ck_abort_msg("ontap-sim did not start");
}

static void shared_sim_stop(void)
{
	sim_stop(shared_sim);
}

static void shared_sim_clean(void)
{
	sim_clean(shared_sim);
}

TCase *sim_shared_tcase(const char *name, struct sim *s, const char *const args[])
{
	if (shared_sim && shared_sim != s) {
		/* The first TCase's fixtures would start the second's simulator. */
		fprintf(stderr, "sim_shared_tcase: one shared simulator per test program\n");
		abort();
	}
	shared_sim = s;
	shared_args = args;
	TCase *tc = tcase_create(name);
	tcase_add_unchecked_fixture(tc, shared_sim_start, shared_sim_stop);
	tcase_add_checked_fixture(tc, shared_sim_clean, NULL);
	return tc;
}

int tls_files_make(struct tls_files *t)
{
	char cmd[512];

	snprintf(t->dir, sizeof(t->dir), "/tmp/jobsfs-tls-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t->dir));
	snprintf(t->cert, sizeof(t->cert), "%s/cert.pem", t->dir);
	snprintf(t->key, sizeof(t->key), "%s/key.pem", t->dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
		 "-addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s >/dev/null 2>&1",
		 t->key, t->cert);
	if (system(cmd) != 0) {
		fprintf(stderr, "openssl could not make a certificate: TLS not checked\n");
		tls_files_remove(t);
		return -1;
	}
	return 0;
}

void tls_files_remove(const struct tls_files *t)
{
	unlink(t->cert);
	unlink(t->key);
	rmdir(t->dir);
}

void sim_start_tls(struct sim *s, const struct tls_files *t, const char *jobs)
{
	const char *const args[] = { "--jobs", jobs, "--tls-cert", t->cert, "--tls-key", t->key,
				     NULL };
	ck_assert_msg(sim_start(s, args) == 0, "ontap-sim did not start with TLS");
	ck_assert_msg(strncmp(s->url, "https://", 8) == 0, "url %s", s->url);
}

int loopback_listen(int backlog, unsigned short *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, backlog), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

size_t read_request_head(int conn, char *buf, size_t size)
{
	size_t n = 0;
	while (n < size - 1 && !memmem(buf, n, "\r\n\r\n", 4)) {
		ssize_t got = read(conn, buf + n, size - 1 - n);
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	buf[n] = '\0';
	return n;
}

char *testdata_read(const char *name, size_t *len)
{
	const char *dir = getenv("JOBSFS_TESTDATA");
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/unit/data", name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *data = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			char *grown = realloc(data, cap);
			if (!grown) {
				free(data);
				fclose(f);
				return NULL;
			}
			data = grown;
		}
		size_t got = fread(data + n, 1, 4096, f);
		n += got;
		if (got < 4096)
			break;
	}
	fclose(f);
	data[n] = '\0';
	if (len)
		*len = n;
	return data;
}

int run_suite(Suite *s, bool with_sim)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (failed)
		return EXIT_FAILURE;
	if (!with_sim) {
		fprintf(stderr, "ontap-sim not available (ONTAP_SIM empty): "
				"simulator tests skipped\n");
		return 77;
	}
	return EXIT_SUCCESS;
}

const char *node_text(const struct jfs_node *n)
{
	static char bufs[8][64 * 1024];
	static unsigned next;
	if (!n || n->is_dir)
		return NULL;
	char *buf = bufs[next++ % 8];
	ck_assert_uint_lt(n->size, sizeof(bufs[0]));
	ssize_t got = jfs_file_read(n, 0, buf, sizeof(bufs[0]) - 1);
	ck_assert_int_eq(got, n->size);
	buf[got] = '\0';
	return buf;
}
