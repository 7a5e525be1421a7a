/* HTTP to the cluster over libcurl: a pool of easy handles (keep-alive, never one
 * handle in two threads), authentication, TLS, timeouts, retries with back-off, the
 * cluster's clock from Date headers, and counters that tests and benchmarks read. */
#ifndef JOBSFS_HTTP_H
#define JOBSFS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jfs_error;

struct jfs_http_config {
	const char *base_url;	   /* scheme://host[:port], e.g. https://cluster1 */
	/* Authentication; credentials are copied, never logged. */
	const char *user;	   /* HTTP Basic user, or NULL */
	const char *password;	   /* its password (env, file), or NULL: then ~/.netrc */
	bool netrc;		   /* allow libcurl's ~/.netrc lookup */
	const char *netrc_file;	   /* a netrc file instead of ~/.netrc, or NULL */
	const char *cert, *key;	   /* client certificate and key files, or NULL */
	const char *token;	   /* bearer token (the token itself), or NULL */
	/* TLS */
	const char *cacert;	   /* CA bundle file, or NULL for the system's */
	bool insecure;		   /* skip verification (logs a warning) */
	/* Limits; 0 means the default in parentheses. */
	long connect_timeout_ms;   /* (10000) */
	long timeout_ms;	   /* whole request (30000) */
	int max_retries;	   /* (4); -1 for none */
	long retry_budget_ms;	   /* total time spent retrying one request (30000) */
	size_t max_body;	   /* (JFS_MAX_BODY_DEFAULT) */
};

struct jfs_http_counters {
	uint64_t requests;	  /* every attempt sent, retries included */
	uint64_t connections;	  /* new connections opened */
	uint64_t reused;	  /* attempts that reused a kept-alive connection */
	uint64_t retries;
	uint64_t fail_connect;	  /* refused, unreachable, DNS, TLS */
	uint64_t fail_timeout;
	uint64_t fail_reset;	  /* connection reset, empty or partial answer */
	uint64_t http_4xx;
	uint64_t http_5xx;
	uint64_t too_large;	  /* answers over max_body */
	uint64_t bytes;		  /* body bytes received */
};

struct jfs_http_response {
	long status;	      /* HTTP status */
	char *body;	      /* NUL-terminated, len bytes */
	size_t len;
	int64_t date;	      /* the Date header as epoch seconds; 0 when absent */
};

struct jfs_http;

/* Global curl initialisation happens once, inside. Returns 0 or negative errno. */
int jfs_http_new(const struct jfs_http_config *cfg, struct jfs_http **out,
		 struct jfs_error *e);
void jfs_http_free(struct jfs_http *http);

/* GET base_url + path (path starts with '/', already URL-encoded). Retries connection
 * failures, resets, timeouts, 5xx and 429 with exponential back-off and jitter within
 * the budget; never other 4xx. Returns 0 when an HTTP answer came (any status; resp
 * filled), or a negative errno when none did: -ETIMEDOUT, -ECONNREFUSED,
 * -EHOSTUNREACH, -ECONNRESET, -EIO (TLS and others; e says which), -EFBIG over
 * max_body, -ECANCELED after jfs_http_stop. e->request and e->message are filled on
 * failure. */
int jfs_http_get(struct jfs_http *http, const char *path, struct jfs_http_response *resp,
		 struct jfs_error *e);
void jfs_http_response_free(struct jfs_http_response *resp);

/* The base URL the client was made for (no credentials in it), for log lines. */
const char *jfs_http_base_url(const struct jfs_http *http);

/* A cluster is stalled when requests to it are under way and it has shown no life for
 * this long: no attempt ended but by timing out since (an answer of any status, a
 * refusal, a reset all show the host is there). A cold page of a listing is answered
 * well within it; a cluster that lets a connection hang is not. */
#define JFS_HTTP_STALL_MS 3000

/* Whether the cluster is stalled now (see JFS_HTTP_STALL_MS); *silent_ms (when not
 * NULL) gets how long it has shown no life. For whoever must choose not to wait on it. */
bool jfs_http_stalled(struct jfs_http *http, int64_t *silent_ms);

/* PATCH base_url + path, without a body, as jfs_http_get otherwise. A PATCH acts, so it
 * is tried again only when the cluster cannot have acted on it: no connection was
 * made, or it answered 503 or 429. After a timeout or a reset, whether it acted is
 * unknown: the caller is told (-ETIMEDOUT, -ECONNRESET), the request is not repeated. */
int jfs_http_patch(struct jfs_http *http, const char *path, struct jfs_http_response *resp,
		   struct jfs_error *e);

/* Stop http's requests, now and from here on: an attempt under way ends within about
 * a second (libcurl's progress callback), a back-off at once, and each, like every
 * later jfs_http_get, fails with -ECANCELED. One lock-free atomic store, so a signal
 * handler may call it: stopping the mount never waits out a stalled cluster. */
void jfs_http_stop(struct jfs_http *http);

/* True when url (absolute, or a path starting with '/') stays on base_url's scheme,
 * host and port. For an absolute url, *path gets a pointer to its path part. */
bool jfs_http_same_origin(const struct jfs_http *http, const char *url, const char **path);

/* The cluster's clock minus ours, in seconds, from the Date headers seen (0 before
 * any). And the cluster's "now" by that estimate. */
int64_t jfs_http_clock_skew(const struct jfs_http *http);
int64_t jfs_http_cluster_now(const struct jfs_http *http);

void jfs_http_counters_get(const struct jfs_http *http, struct jfs_http_counters *out);
void jfs_http_counters_reset(struct jfs_http *http);

#endif
