/* Helpers shared by the Check unit tests: start and stop ontap-sim (also one shared by a
 * TCase's tests, also over TLS), a small HTTP client (independent of the library under
 * test) to drive its control API, pieces of the tests' own little servers, and running a
 * suite to the exit status meson reads. */
#ifndef JOBSFS_CHECK_HELPERS_H
#define JOBSFS_CHECK_HELPERS_H

#include <check.h>
#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct sim {
	pid_t pid;
	char url[128]; /* base URL the simulator printed, e.g. http://127.0.0.1:41234 */
};

/* Start $ONTAP_SIM --port 0 followed by the NULL-terminated extra arguments, and wait
 * for it to print its URL. Returns 0, or -1 when ONTAP_SIM is unset/missing or the
 * simulator did not come up (a message is printed). */
int sim_start(struct sim *s, const char *const extra_args[]);
void sim_stop(struct sim *s);

/* True when the simulator binary is available (tests that need it skip otherwise). */
int sim_available(void);

/* A growing NUL-terminated buffer that curl's callbacks append to. */
struct membuf {
	char *data; /* malloc'd, NULL until something came */
	size_t len;
};

/* CURLOPT_WRITEFUNCTION / CURLOPT_HEADERFUNCTION callback: appends to the struct membuf
 * given as userdata (0, which curl takes as an error, when memory runs out). */
size_t membuf_collect(char *ptr, size_t size, size_t nmemb, void *userdata);

/* A curl handle for method on the simulator's path, failing after timeout_s seconds, its
 * answer's body collected into *body: what sim_request and the tests' own richer clients
 * start from. The caller adds its options, performs and cleans up. NULL when out of
 * memory. */
CURL *sim_curl(const struct sim *s, const char *method, const char *path, long timeout_s,
	       struct membuf *body);

/* A plain HTTP request to the simulator: method, path (starting with '/'), optional
 * body. Returns the HTTP status (or -1 on transport failure); *resp (when not NULL)
 * gets the malloc'd NUL-terminated body. */
long sim_request(const struct sim *s, const char *method, const char *path,
		 const char *body, char **resp);

/* sim_request that fails the test unless the status is want_status, and returns the
 * answer parsed (NULL for an empty body; fails the test when it is not JSON). */
struct json_object;
struct json_object *sim_call_json(const struct sim *s, const char *method, const char *path,
				  const char *body, long want_status);

/* Requests the simulator received on one endpoint ("GET /api/cluster/jobs") since its
 * counters were last reset. */
long sim_endpoint_count(const struct sim *s, const char *endpoint);

/* Set the simulator's faults (POST /_sim/faults spec); fails the test unless accepted. */
void sim_faults(const struct sim *s, const char *spec);

/* Clear the simulator's faults and reset its counters, so a test counts only its own
 * requests; fails the test unless both are accepted. */
void sim_clean(const struct sim *s);

/* A TCase named name whose tests share one simulator: s is started with args once before
 * them (an unchecked fixture, which errors the TCase when it does not come up), and
 * cleaned with sim_clean before each (a checked fixture). Check's fixtures take no
 * argument, so a test program has one such TCase at most; s and args must outlive the
 * run. */
TCase *sim_shared_tcase(const char *name, struct sim *s, const char *const args[]);

/* A key and a self-signed certificate in a temporary directory of their own, for
 * ontap-sim --tls-cert/--tls-key. */
struct tls_files {
	char dir[32];
	char cert[64];
	char key[64];
};

/* Make them with openssl. The certificate names 127.0.0.1 as CN and subjectAltName, so a
 * client that takes it as its CA bundle accepts the simulator. Returns 0, or -1 (with a
 * message, nothing left behind) when openssl could not: the test has nothing to test with. */
int tls_files_make(struct tls_files *t);
void tls_files_remove(const struct tls_files *t);

/* Start ontap-sim with that many --jobs, serving HTTPS with t; fails the test unless it
 * comes up with an https:// URL. */
void sim_start_tls(struct sim *s, const struct tls_files *t, const char *jobs);

/* For the tests' own little HTTP servers (what ontap-sim does not do): a TCP socket
 * listening on 127.0.0.1 at a port of the kernel's choosing. Returns the descriptor, the
 * port in *port; fails the test when any step does. */
int loopback_listen(int backlog, unsigned short *port);

/* Read a request's head from conn into buf, NUL-terminated: up to its blank line, or as
 * much as fits, or what came before the peer closed. Returns its length. */
size_t read_request_head(int conn, char *buf, size_t size);

/* What file node n shows (jfs_file_read: its value and newline, or job.json printed),
 * NUL-terminated, in one of 8 buffers used in turn (so that an assertion can compare
 * two); a test fails when it is longer than 64 KiB. NULL for NULL or a directory. */
struct jfs_node;
const char *node_text(const struct jfs_node *n);

/* Read the file at $JOBSFS_TESTDATA/name into a malloc'd NUL-terminated buffer. */
char *testdata_read(const char *name, size_t *len);

/* Run every test of s (freeing it) and return the exit status for meson: failure when a
 * test failed, else 77 (skipped, with a message) when !with_sim, that is when the
 * simulator tests were left out for want of ONTAP_SIM, else success. */
int run_suite(Suite *s, bool with_sim);

#endif
