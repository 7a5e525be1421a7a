/* Errors that cross the core library's API: an errno for the FUSE boundary plus what a
 * user needs in the one log line that explains it (the request, the HTTP status and
 * the cluster's own code and message). Fixed-size fields: filling an error never
 * allocates, so it works on the out-of-memory path too. Never holds credentials. */
#ifndef JOBSFS_ERROR_H
#define JOBSFS_ERROR_H

#include <stdbool.h>
#include <stddef.h>

struct jfs_error {
	int err;	      /* positive errno; 0 = no error */
	long http_status;     /* 0 when no HTTP answer came */
	char code[24];	      /* ONTAP error code, e.g. "262179"; "" when none */
	char target[64];      /* ONTAP error target, e.g. "foo"; "" when none */
	char message[512];    /* the cluster's message, or the transport's; "" when none */
	char request[256];    /* e.g. "GET /api/cluster/jobs?state=failure" ("" if none) */
	bool repeated;	      /* the answer of a fetch another caller made (shared, or
			       * remembered for a moment): it logged the error already */
};

void jfs_error_clear(struct jfs_error *e);

/* Text from the cluster made fit for a log line (the one cleaning every such text
 * gets): len bytes of src into dst (size >= 1), NUL-terminated, control bytes (ESC,
 * newlines) as spaces, bytes that are not UTF-8 as '?', cut between characters with
 * "..." when it does not fit. Returns true when it was cut. */
bool jfs_clean_text(char *dst, size_t size, const char *src, size_t len);

/* Set err and a formatted message (replacing any earlier one). Returns -err, so
 * `return jfs_error_set(e, EINVAL, "...")` reads naturally. e may be NULL. */
int jfs_error_set(struct jfs_error *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Record the request an error belongs to ("GET /api/..."). e may be NULL. */
void jfs_error_set_request(struct jfs_error *e, const char *method, const char *path);

/* Parse an ONTAP error body {"error":{"message","code","target","arguments"}} into
 * e->code, e->target, e->message (arguments' messages appended to message after
 * "; "; a code sent as a JSON number is accepted; absent members become ""). Any
 * bytes are safe here: text is cut on a UTF-8 boundary with "..." when too long, and
 * control bytes become spaces. Returns 0 when the body was an ONTAP error, -EINVAL
 * otherwise (e's code/target/message are then left untouched), -ENOMEM. Does not set
 * e->err. */
int jfs_ontap_error_parse(const char *body, size_t len, struct jfs_error *e);

/* The errno for an HTTP status and ONTAP code: 404 or code "4" ENOENT; 401, 403 or
 * code "6" EACCES; a job action's refusals: 458762 (already finished) ESRCH, 458771
 * (resume of a running job) EALREADY, 458776 (pause of a job not running) and 458773
 * (Job Manager not initialized) EAGAIN, 458783 and 458784 (no pause/resume, no cancel
 * for this job) EOPNOTSUPP; other 4xx EINVAL (a query the cluster rejected); 5xx EIO;
 * anything else EIO. */
int jfs_errno_from_http(long status, const char *code);

/* Write the error as one log line at error level: errno name and text, request,
 * HTTP status, cluster code and message. `what` says what was being done. */
void jfs_error_log(const struct jfs_error *e, const char *what);

/* The same text as jfs_error_log (without `what`), into buf, cut safely to len:
 *   GET /api/cluster/jobs?state=foo: Invalid argument (HTTP 400, ONTAP code 262197:
 *   The value "foo" is invalid for field "state")
 * Each part appears only when set; the target is added when the message does not
 * name it. Returns buf. */
const char *jfs_error_format(const struct jfs_error *e, char *buf, size_t len);

#endif
