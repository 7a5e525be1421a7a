/* HTTP to the cluster over libcurl (see include/jobsfs/http.h).
 *
 * Connection reuse. Each easy handle keeps its own connection cache, and handles live
 * in a LIFO pool: a request takes the handle used most recently, whose kept-alive
 * connection is the one most likely still open, and gives it back afterwards. A
 * sequence of requests therefore runs on one connection, and N concurrent requests
 * on N connections that stay open for the next N.
 * We do NOT put the connection cache in a CURLSH (CURL_LOCK_DATA_CONNECT): libcurl
 * documents that sharing connections between concurrent threads is not supported
 * (CURLSHOPT_SHARE(3), a known bug), and the pool already gives full reuse without
 * it. The share holds only what is safe to share across threads with lock callbacks:
 * the DNS cache and TLS session ids (so a new connection of another handle resumes
 * the TLS session instead of a full handshake).
 *
 * CA bundle. libcurl itself does not read CURL_CA_BUNDLE or SSL_CERT_FILE (the curl
 * tool does; libcurl uses the CA path fixed at its build, CURLOPT_CAINFO(3)). So when
 * no cacert is configured we honour them here, in the curl tool's order:
 * CURL_CA_BUNDLE, then SSL_CERT_FILE (and SSL_CERT_DIR as the CA directory).
 * https_proxy / no_proxy are honoured by libcurl itself.
 *
 * SIGPIPE. CURLOPT_NOSIGNAL is on (handles are used from many threads), so libcurl
 * does not ignore SIGPIPE for us: the process must (the FUSE driver does, as libfuse's
 * signal handlers set SIGPIPE to SIG_IGN). */
#include "jobsfs/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "jobsfs/clock.h"
#include "jobsfs/error.h"
#include "jobsfs/log.h"
#include "jobsfs/page.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_TIMEOUT_MS 30000L
#define DEFAULT_MAX_RETRIES 4
#define DEFAULT_RETRY_BUDGET_MS 30000L
#define BACKOFF_FIRST_MS 100L
#define BACKOFF_MAX_MS 10000L
#define MIN_ATTEMPT_MS 50L  /* a retry with less time than this left is not worth it */
#define POOL_MAX_IDLE 32    /* idle handles kept; more are cleaned up on give-back */
#define SKEW_SAMPLES 9	    /* Date samples the skew estimate is the median of */
#define BODY_FIRST_ALLOC 16384
#define STOP_POLL_MS 50L    /* how often a back-off looks whether jfs_http_stop came */

/* jfs_http_stop may run in a signal handler: its store must not take a lock. */
_Static_assert(ATOMIC_BOOL_LOCK_FREE == 2, "atomic_bool must be lock-free");

/* One pooled easy handle, with the error buffer libcurl writes into. */
struct pooled {
	CURL *curl;
	struct pooled *next; /* in the idle list */
	char errbuf[CURL_ERROR_SIZE];
};

/* scheme, host and port of a URL, for same-origin checks. */
struct origin {
	char scheme[8]; /* "http" or "https", lower case */
	char host[256]; /* as written (compared case-insensitively); [v6] keeps brackets */
	long port;	/* explicit, or 80/443 */
};

struct jfs_http {
	/* Immutable after jfs_http_new: read by any thread without a lock. */
	char *base_url; /* without a trailing '/' */
	char *url_prefix; /* what request URLs start with: base_url, or with "user@" */
	struct origin base;
	char *user, *password, *token; /* copies, wiped at free */
	char *netrc_file, *cert, *key, *cacert, *capath;
	bool netrc, insecure;
	long connect_timeout_ms, timeout_ms, retry_budget_ms;
	int max_retries;
	size_t max_body;
	CURLSH *share;

	/* One lock per kind of data the share holds (libcurl asks for a distinct lock per
	 * curl_lock_data); each guards that kind inside the share. */
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

	/* pool_lock guards idle and nidle: the handles not in use. A handle taken out is
	 * owned by one thread until given back, so performing needs no lock. */
	pthread_mutex_t pool_lock;
	struct pooled *idle;
	size_t nidle;

	/* skew_lock guards samples, nsamples and next_sample. skew_ms is also written
	 * under it, but read without it (atomic). */
	pthread_mutex_t skew_lock;
	int64_t samples[SKEW_SAMPLES];
	size_t nsamples, next_sample;
	_Atomic int64_t skew_ms;

	/* Set once by jfs_http_stop (maybe in a signal handler), read without a lock. */
	atomic_bool stopped;

	/* Whether the cluster answers (jfs_http_stalled): requests under way, and when
	 * the cluster last showed life (an attempt that ended other than by timing out,
	 * or the moment it got busy). Atomics, no lock: an estimate is all it is for. */
	atomic_uint busy;
	_Atomic int64_t alive_ms; /* monotonic */

	/* Counters: relaxed atomics, no lock (a get is not a snapshot across fields). */
	struct {
		_Atomic uint64_t requests, connections, reused, retries, fail_connect,
			fail_timeout, fail_reset, http_4xx, http_5xx, too_large, bytes;
	} ctr;
};

#define COUNT(h, field, n) atomic_fetch_add_explicit(&(h)->ctr.field, (n), memory_order_relaxed)

/* ---- global init --------------------------------------------------------------- */

/* curl_global_init once per process, never undone: curl_global_cleanup is not
 * thread-safe and other libcurl users in the process may still need it. */
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT; /* written once, inside global_once */

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_ALL);
}

/* ---- small helpers ------------------------------------------------------------- */

static int64_t real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
	while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static bool stopped(const struct jfs_http *http)
{
	return atomic_load_explicit(&http->stopped, memory_order_relaxed);
}

/* Sleep ms, or less when jfs_http_stop comes meanwhile. */
static void sleep_unless_stopped(const struct jfs_http *http, int64_t ms)
{
	int64_t end = jfs_mono_ms() + ms;
	for (int64_t left = ms; left > 0 && !stopped(http); left = end - jfs_mono_ms())
		sleep_ms(left < STOP_POLL_MS ? left : STOP_POLL_MS);
}

/* libcurl's progress callback, called about once a second or more often, even while
 * nothing arrives: non-zero aborts the transfer (CURLE_ABORTED_BY_CALLBACK). */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return stopped(arg) ? 1 : 0;
}

void jfs_http_stop(struct jfs_http *http)
{
	atomic_store_explicit(&http->stopped, true, memory_order_relaxed);
}

/* The error of a request that jfs_http_stop ended. */
static int cancelled(struct jfs_error *e)
{
	return jfs_error_set(e, ECANCELED, "cancelled: jobsfs is stopping");
}

/* A uniform random number in [0, bound] for back-off jitter: xorshift64*, one state
 * per thread, seeded from the clock and the state's address. Not for secrets. */
static int64_t jitter(int64_t bound)
{
	static __thread uint64_t state;
	if (bound <= 0)
		return 0;
	if (state == 0)
		state = ((uint64_t)real_ms() * 0x9E3779B97F4A7C15ull) ^ (uint64_t)(uintptr_t)&state;
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return (int64_t)((state * 0x2545F4914F6CDD1Dull) % (uint64_t)(bound + 1));
}

static char *dup_opt(const char *s, bool *failed)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*failed = true;
	return d;
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* Split "scheme://[userinfo@]host[:port][/path...]" into o; *rest gets the first byte
 * after the authority. Returns false when url is not an absolute http(s) URL. */
static bool origin_parse(const char *url, struct origin *o, const char **rest)
{
	const char *sep = strstr(url, "://");
	if (!sep || sep == url || (size_t)(sep - url) >= sizeof(o->scheme))
		return false;
	size_t slen = (size_t)(sep - url);
	for (size_t i = 0; i < slen; i++)
		o->scheme[i] = (char)((url[i] >= 'A' && url[i] <= 'Z') ? url[i] + 32 : url[i]);
	o->scheme[slen] = '\0';
	if (strcmp(o->scheme, "http") != 0 && strcmp(o->scheme, "https") != 0)
		return false;

	const char *auth = sep + 3;
	const char *end = auth + strcspn(auth, "/?#");
	/* Userinfo ends at the last '@' of the authority. */
	for (const char *p = end; p > auth; p--)
		if (p[-1] == '@') {
			auth = p;
			break;
		}
	const char *host_end;
	const char *port = NULL;
	if (*auth == '[') {
		const char *close = memchr(auth, ']', (size_t)(end - auth));
		if (!close)
			return false;
		host_end = close + 1;
		if (host_end < end) {
			if (*host_end != ':')
				return false;
			port = host_end + 1;
		}
	} else {
		const char *colon = memchr(auth, ':', (size_t)(end - auth));
		host_end = colon ? colon : end;
		if (colon)
			port = colon + 1;
	}
	size_t hlen = (size_t)(host_end - auth);
	if (hlen == 0 || hlen >= sizeof(o->host))
		return false;
	memcpy(o->host, auth, hlen);
	o->host[hlen] = '\0';

	if (port && port < end) {
		long v = 0;
		for (const char *p = port; p < end; p++) {
			if (*p < '0' || *p > '9' || v > 65535)
				return false;
			v = v * 10 + (*p - '0');
		}
		if (v < 1 || v > 65535)
			return false;
		o->port = v;
	} else {
		o->port = strcmp(o->scheme, "https") == 0 ? 443 : 80; /* "host:" counts too */
	}
	if (rest)
		*rest = end;
	return true;
}

bool jfs_http_same_origin(const struct jfs_http *http, const char *url, const char **path)
{
	struct origin o;
	const char *rest;

	if (!url)
		return false;
	if (url[0] == '/') {
		/* "//host/..." is scheme-relative: another host, not a path. */
		if (url[1] == '/')
			return false;
		if (path)
			*path = url;
		return true;
	}
	if (!origin_parse(url, &o, &rest))
		return false;
	if (strcmp(o.scheme, http->base.scheme) != 0 || strcasecmp(o.host, http->base.host) != 0 ||
	    o.port != http->base.port)
		return false;
	if (path)
		*path = rest;
	return true;
}

/* ---- clock skew ---------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* One Date header seen at local time seen_ms. The Date has whole seconds, truncated,
 * so the cluster's time then was in [date, date+1): its middle is the best guess.
 * The median of the last samples shrugs off one slow answer. */
static void skew_sample(struct jfs_http *http, int64_t date, int64_t seen_ms)
{
	int64_t sorted[SKEW_SAMPLES];
	int64_t sample = date * 1000 + 500 - seen_ms;

	pthread_mutex_lock(&http->skew_lock);
	http->samples[http->next_sample] = sample;
	http->next_sample = (http->next_sample + 1) % SKEW_SAMPLES;
	if (http->nsamples < SKEW_SAMPLES)
		http->nsamples++;
	memcpy(sorted, http->samples, http->nsamples * sizeof(sorted[0]));
	qsort(sorted, http->nsamples, sizeof(sorted[0]), cmp_i64);
	atomic_store(&http->skew_ms, sorted[http->nsamples / 2]);
	pthread_mutex_unlock(&http->skew_lock);
}

int64_t jfs_http_clock_skew(const struct jfs_http *http)
{
	int64_t ms = atomic_load(&((struct jfs_http *)http)->skew_ms);
	/* Round to the nearest second, symmetrically. */
	return ms >= 0 ? (ms + 500) / 1000 : -((-ms + 500) / 1000);
}

int64_t jfs_http_cluster_now(const struct jfs_http *http)
{
	return (int64_t)time(NULL) + jfs_http_clock_skew(http);
}

/* ---- counters ------------------------------------------------------------------ */

void jfs_http_counters_get(const struct jfs_http *http, struct jfs_http_counters *out)
{
	struct jfs_http *h = (struct jfs_http *)http; /* atomic loads only */
	out->requests = atomic_load_explicit(&h->ctr.requests, memory_order_relaxed);
	out->connections = atomic_load_explicit(&h->ctr.connections, memory_order_relaxed);
	out->reused = atomic_load_explicit(&h->ctr.reused, memory_order_relaxed);
	out->retries = atomic_load_explicit(&h->ctr.retries, memory_order_relaxed);
	out->fail_connect = atomic_load_explicit(&h->ctr.fail_connect, memory_order_relaxed);
	out->fail_timeout = atomic_load_explicit(&h->ctr.fail_timeout, memory_order_relaxed);
	out->fail_reset = atomic_load_explicit(&h->ctr.fail_reset, memory_order_relaxed);
	out->http_4xx = atomic_load_explicit(&h->ctr.http_4xx, memory_order_relaxed);
	out->http_5xx = atomic_load_explicit(&h->ctr.http_5xx, memory_order_relaxed);
	out->too_large = atomic_load_explicit(&h->ctr.too_large, memory_order_relaxed);
	out->bytes = atomic_load_explicit(&h->ctr.bytes, memory_order_relaxed);
}

void jfs_http_counters_reset(struct jfs_http *http)
{
	atomic_store(&http->ctr.requests, 0);
	atomic_store(&http->ctr.connections, 0);
	atomic_store(&http->ctr.reused, 0);
	atomic_store(&http->ctr.retries, 0);
	atomic_store(&http->ctr.fail_connect, 0);
	atomic_store(&http->ctr.fail_timeout, 0);
	atomic_store(&http->ctr.fail_reset, 0);
	atomic_store(&http->ctr.http_4xx, 0);
	atomic_store(&http->ctr.http_5xx, 0);
	atomic_store(&http->ctr.too_large, 0);
	atomic_store(&http->ctr.bytes, 0);
}

/* ---- the share's locks --------------------------------------------------------- */

static void share_lock(CURL *handle, curl_lock_data data, curl_lock_access access, void *userp)
{
	struct jfs_http *http = userp;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&http->share_locks[data]);
}

static void share_unlock(CURL *handle, curl_lock_data data, void *userp)
{
	struct jfs_http *http = userp;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&http->share_locks[data]);
}

/* ---- the handle pool ----------------------------------------------------------- */

/* Options every request of this http shares, set once when a handle is made. */
static CURLcode handle_setup(struct jfs_http *http, struct pooled *p)
{
	CURL *c = p->curl;
	CURLcode rc = CURLE_OK;

#define SET(opt, val)                                             \
	do {                                                      \
		if (rc == CURLE_OK)                               \
			rc = curl_easy_setopt(c, opt, val);       \
	} while (0)
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, on_progress);
	SET(CURLOPT_XFERINFODATA, http);
#if LIBCURL_VERSION_NUM >= 0x075700
	/* An aborted transfer does not wait for a stalled name lookup to end (its thread
	 * is left to finish alone): stopping stays prompt with a hostname URL too. */
	SET(CURLOPT_QUICK_EXIT, 1L);
#endif
	SET(CURLOPT_ERRORBUFFER, p->errbuf);
	SET(CURLOPT_SHARE, http->share);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_ACCEPT_ENCODING, ""); /* every encoding libcurl decodes (gzip...) */
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_TCP_KEEPIDLE, 60L);
	SET(CURLOPT_TCP_KEEPINTVL, 20L);
	SET(CURLOPT_USERAGENT, "jobsfs/" JOBSFS_VERSION);
	SET(CURLOPT_SSL_VERIFYPEER, http->insecure ? 0L : 1L);
	SET(CURLOPT_SSL_VERIFYHOST, http->insecure ? 0L : 2L);
	if (http->cacert)
		SET(CURLOPT_CAINFO, http->cacert);
	if (http->capath)
		SET(CURLOPT_CAPATH, http->capath);
	if (http->cert)
		SET(CURLOPT_SSLCERT, http->cert);
	if (http->key)
		SET(CURLOPT_SSLKEY, http->key);
	if (http->token) {
		SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		SET(CURLOPT_XOAUTH2_BEARER, http->token);
	} else if (http->user || http->netrc || http->netrc_file) {
		SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		/* With a password, the user goes in CURLOPT_USERNAME. Without one, in
		 * url_prefix instead: libcurl 7.88 takes no password from netrc for a
		 * CURLOPT_USERNAME user, but does for the URL's user. */
		if (http->password) {
			SET(CURLOPT_USERNAME, http->user);
			SET(CURLOPT_PASSWORD, http->password);
		} else if (http->netrc || http->netrc_file) {
			SET(CURLOPT_NETRC, (long)CURL_NETRC_OPTIONAL);
			if (http->netrc_file)
				SET(CURLOPT_NETRC_FILE, http->netrc_file);
		} else if (http->user) {
			SET(CURLOPT_USERNAME, http->user);
		}
	}
#undef SET
	return rc;
}

/* Take an idle handle (the most recently used first), or make one. NULL on ENOMEM or
 * when libcurl refuses an option (*rc says which). */
static struct pooled *pool_take(struct jfs_http *http, CURLcode *rc)
{
	pthread_mutex_lock(&http->pool_lock);
	struct pooled *p = http->idle;
	if (p) {
		http->idle = p->next;
		http->nidle--;
	}
	pthread_mutex_unlock(&http->pool_lock);
	*rc = CURLE_OK;
	if (p)
		return p;

	p = calloc(1, sizeof(*p));
	if (!p) {
		*rc = CURLE_OUT_OF_MEMORY;
		return NULL;
	}
	p->curl = curl_easy_init();
	if (!p->curl) {
		free(p);
		*rc = CURLE_OUT_OF_MEMORY;
		return NULL;
	}
	*rc = handle_setup(http, p);
	if (*rc != CURLE_OK) {
		curl_easy_cleanup(p->curl);
		free(p);
		return NULL;
	}
	return p;
}

static void pool_give(struct jfs_http *http, struct pooled *p)
{
	pthread_mutex_lock(&http->pool_lock);
	if (http->nidle < POOL_MAX_IDLE) {
		p->next = http->idle;
		http->idle = p;
		http->nidle++;
		p = NULL;
	}
	pthread_mutex_unlock(&http->pool_lock);
	if (p) {
		curl_easy_cleanup(p->curl);
		free(p);
	}
}

/* ---- new / free ---------------------------------------------------------------- */

void jfs_http_free(struct jfs_http *http)
{
	if (!http)
		return;
	while (http->idle) {
		struct pooled *p = http->idle;
		http->idle = p->next;
		curl_easy_cleanup(p->curl);
		free(p);
	}
	if (http->share)
		curl_share_cleanup(http->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&http->share_locks[i]);
	pthread_mutex_destroy(&http->pool_lock);
	pthread_mutex_destroy(&http->skew_lock);
	wipe_free(http->user);
	wipe_free(http->password);
	wipe_free(http->token);
	free(http->base_url);
	free(http->url_prefix);
	free(http->netrc_file);
	free(http->cert);
	free(http->key);
	free(http->cacert);
	free(http->capath);
	free(http);
}

/* The CA bundle and directory when none is configured: see the comment at the top. */
static void ca_from_env(const char **file, const char **dir)
{
	const char *v = getenv("CURL_CA_BUNDLE");
	if (!v || !*v)
		v = getenv("SSL_CERT_FILE");
	*file = v && *v ? v : NULL;
	v = getenv("SSL_CERT_DIR");
	*dir = v && *v ? v : NULL;
}

/* The start of request URLs: base_url, with "user@" after the scheme when the
 * password is to come from netrc (see handle_setup). */
static int url_prefix_new(struct jfs_http *http)
{
	if (!http->user || http->password || !(http->netrc || http->netrc_file)) {
		http->url_prefix = strdup(http->base_url);
		return http->url_prefix ? 0 : -ENOMEM;
	}
	char *user = curl_easy_escape(NULL, http->user, 0);
	if (!user)
		return -ENOMEM;
	const char *host = strstr(http->base_url, "://") + 3;
	int n = asprintf(&http->url_prefix, "%.*s%s@%s", (int)(host - http->base_url),
			 http->base_url, user, host);
	curl_free(user);
	if (n < 0) {
		http->url_prefix = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int share_new(struct jfs_http *http, struct jfs_error *e)
{
	CURLSHcode rc;

	http->share = curl_share_init();
	if (!http->share)
		return jfs_error_set(e, ENOMEM, "curl_share_init failed");
	rc = curl_share_setopt(http->share, CURLSHOPT_LOCKFUNC, share_lock);
	if (rc == CURLSHE_OK)
		rc = curl_share_setopt(http->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	if (rc == CURLSHE_OK)
		rc = curl_share_setopt(http->share, CURLSHOPT_USERDATA, http);
	if (rc == CURLSHE_OK)
		rc = curl_share_setopt(http->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	if (rc == CURLSHE_OK)
		rc = curl_share_setopt(http->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	if (rc != CURLSHE_OK)
		return jfs_error_set(e, EIO, "curl share: %s", curl_share_strerror(rc));
	return 0;
}

int jfs_http_new(const struct jfs_http_config *cfg, struct jfs_http **out,
		 struct jfs_error *e)
{
	struct jfs_http *http;
	bool oom = false;
	int rc;

	*out = NULL;
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return jfs_error_set(e, EIO, "curl_global_init: %s", curl_easy_strerror(global_rc));
	if (!cfg->base_url)
		return jfs_error_set(e, EINVAL, "no cluster URL");
	if (cfg->token && (cfg->user || cfg->password))
		return jfs_error_set(e, EINVAL, "give either a user and password or a token, not both");
	if (cfg->key && !cfg->cert)
		return jfs_error_set(e, EINVAL, "a client key needs its certificate");

	http = calloc(1, sizeof(*http));
	if (!http)
		return jfs_error_set(e, ENOMEM, "out of memory");
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&http->share_locks[i], NULL);
	pthread_mutex_init(&http->pool_lock, NULL);
	pthread_mutex_init(&http->skew_lock, NULL);

	const char *rest;
	if (!origin_parse(cfg->base_url, &http->base, &rest) || (*rest && strcmp(rest, "/") != 0)) {
		jfs_http_free(http);
		return jfs_error_set(e, EINVAL,
				     "cluster URL %s: expected http[s]://host[:port]", cfg->base_url);
	}
	const char *auth = strstr(cfg->base_url, "://") + 3;
	if (memchr(auth, '@', (size_t)(rest - auth))) {
		jfs_http_free(http);
		return jfs_error_set(e, EINVAL,
				     "cluster URL: give the user as an option, not in the URL");
	}
	http->base_url = strndup(cfg->base_url, (size_t)(rest - cfg->base_url));
	oom |= !http->base_url;

	const char *env_ca = NULL, *env_capath = NULL;
	if (!cfg->cacert)
		ca_from_env(&env_ca, &env_capath);
	http->user = dup_opt(cfg->user, &oom);
	http->password = dup_opt(cfg->password, &oom);
	http->token = dup_opt(cfg->token, &oom);
	http->netrc_file = dup_opt(cfg->netrc_file, &oom);
	http->cert = dup_opt(cfg->cert, &oom);
	http->key = dup_opt(cfg->key, &oom);
	http->cacert = dup_opt(cfg->cacert ? cfg->cacert : env_ca, &oom);
	http->capath = dup_opt(env_capath, &oom);
	if (oom) {
		jfs_http_free(http);
		return jfs_error_set(e, ENOMEM, "out of memory");
	}
	http->netrc = cfg->netrc;
	http->insecure = cfg->insecure;
	http->connect_timeout_ms =
		cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
	http->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
	http->max_retries = cfg->max_retries == 0 ? DEFAULT_MAX_RETRIES
			    : cfg->max_retries < 0 ? 0 : cfg->max_retries;
	http->retry_budget_ms =
		cfg->retry_budget_ms > 0 ? cfg->retry_budget_ms : DEFAULT_RETRY_BUDGET_MS;
	http->max_body = cfg->max_body > 0 ? cfg->max_body : JFS_MAX_BODY_DEFAULT;

	rc = url_prefix_new(http);
	if (rc == 0)
		rc = share_new(http, e);
	else
		jfs_error_set(e, -rc, "out of memory");
	if (rc < 0) {
		jfs_http_free(http);
		return rc;
	}

	/* Make the first handle now: a bad option shows at startup, not at first use. */
	CURLcode crc;
	struct pooled *p = pool_take(http, &crc);
	if (!p) {
		jfs_http_free(http);
		if (crc == CURLE_OUT_OF_MEMORY)
			return jfs_error_set(e, ENOMEM, "out of memory");
		return jfs_error_set(e, EINVAL, "libcurl refused an option: %s",
				     curl_easy_strerror(crc));
	}
	pool_give(http, p);

	/* Said once per process: a mount makes a client for its start-up check and
	 * another for the mount itself, and the user needs the warning once. */
	static atomic_bool warned_insecure, warned_plain;
	if (http->insecure && !atomic_exchange(&warned_insecure, true)) {
		if (strcmp(http->base.scheme, "https") == 0)
			jfs_warn("TLS verification is off (insecure): the cluster at %s is not "
				 "authenticated", http->base_url);
		else
			jfs_warn("insecure was asked for, but %s is plain HTTP: nothing is "
				 "encrypted", http->base_url);
	}
	if (strcmp(http->base.scheme, "http") == 0 && (http->password || http->token) &&
	    !atomic_exchange(&warned_plain, true))
		jfs_warn("credentials go to %s over plain HTTP", http->base_url);
	*out = http;
	return 0;
}

/* ---- one transfer -------------------------------------------------------------- */

/* What the callbacks collect during one attempt. */
struct transfer {
	char *buf;
	size_t len, cap, max;
	bool too_large, oom;
	int64_t date;	 /* Date header of the last response head, 0 when none */
	int64_t date_ms; /* local real time when that header arrived */
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct transfer *t = userp;
	size_t n = size * nmemb;

	if (n > t->max - t->len) {
		t->too_large = true;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : BODY_FIRST_ALLOC;
		while (cap < t->len + n + 1)
			cap *= 2;
		if (cap > t->max + 1)
			cap = t->max + 1;
		char *grown = realloc(t->buf, cap);
		if (!grown) {
			t->oom = true;
			return 0;
		}
		t->buf = grown;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, data, n);
	t->len += n;
	t->buf[t->len] = '\0';
	return n;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *userp)
{
	struct transfer *t = userp;
	size_t n = size * nmemb;

	if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		t->date = 0; /* a new response head (after a 100 Continue, say) */
	} else if (n > 5 && strncasecmp(line, "Date:", 5) == 0) {
		char value[128];
		size_t vlen = n - 5 < sizeof(value) - 1 ? n - 5 : sizeof(value) - 1;
		memcpy(value, line + 5, vlen);
		while (vlen > 0 && (value[vlen - 1] == '\r' || value[vlen - 1] == '\n'))
			vlen--;
		value[vlen] = '\0';
		time_t d = curl_getdate(value, NULL);
		if (d > 0) {
			t->date = (int64_t)d;
			t->date_ms = real_ms();
		}
	}
	return n;
}

/* How an attempt failed, for errno, counters and the retry decision. */
enum failure { F_NONE, F_CONNECT, F_TIMEOUT, F_RESET, F_TLS, F_TOO_LARGE, F_NOMEM, F_STOPPED,
	       F_OTHER };

static bool is_tls_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CLIENTCERT:
	case CURLE_USE_SSL_FAILED:
		return true;
	default:
		return false;
	}
}

/* Map a failed perform to errno and a failure class; fill e's message. */
static int map_curl_error(struct jfs_http *http, struct pooled *p, CURLcode rc,
			  const struct transfer *t, enum failure *f, struct jfs_error *e)
{
	const char *text = p->errbuf[0] ? p->errbuf : curl_easy_strerror(rc);
	long os_errno = 0;

	if (t->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
		*f = F_TOO_LARGE;
		return jfs_error_set(e, EFBIG, "answer larger than %zu bytes (max_body)",
				     http->max_body);
	}
	if (t->oom || rc == CURLE_OUT_OF_MEMORY) {
		*f = F_NOMEM;
		return jfs_error_set(e, ENOMEM, "out of memory reading the answer");
	}
	if (rc == CURLE_ABORTED_BY_CALLBACK) {
		*f = F_STOPPED;
		return cancelled(e);
	}
	if (is_tls_error(rc)) {
		*f = F_TLS;
		return jfs_error_set(e, EIO, "TLS: %s", text);
	}
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		*f = F_TIMEOUT;
		return jfs_error_set(e, ETIMEDOUT, "%s", text);
	case CURLE_COULDNT_CONNECT:
		*f = F_CONNECT;
		curl_easy_getinfo(p->curl, CURLINFO_OS_ERRNO, &os_errno);
		if (os_errno == EHOSTUNREACH || os_errno == ENETUNREACH)
			return jfs_error_set(e, EHOSTUNREACH, "%s", text);
		return jfs_error_set(e, ECONNREFUSED, "%s", text);
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		*f = F_CONNECT;
		return jfs_error_set(e, EHOSTUNREACH, "%s", text);
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		*f = F_RESET;
		return jfs_error_set(e, ECONNRESET, "%s", text);
	default:
		*f = F_OTHER;
		return jfs_error_set(e, EIO, "%s", text);
	}
}

/* Whether an attempt that failed so is tried again. A GET is safe to repeat. A PATCH
 * acts: it is repeated only when the cluster cannot have acted on it, that is when no
 * connection was made, or when it answered 503 or 429 (it did not take the request);
 * a timeout or a reset may come after the cluster acted. */
static bool retryable(bool get, enum failure f, long status)
{
	if (!get)
		return f == F_CONNECT || (f == F_NONE && (status == 503 || status == 429));
	if (f == F_CONNECT || f == F_TIMEOUT || f == F_RESET)
		return true;
	return f == F_NONE && (status >= 500 || status == 429);
}

/* One attempt on handle p. Returns 0 with *status set when an HTTP answer came, or
 * negative errno with *f set and e filled. */
static int attempt(struct jfs_http *http, struct pooled *p, const char *method,
		   const char *url, const char *path, long timeout_ms, struct transfer *t, long *status, long *retry_after_s,
		   enum failure *f, struct jfs_error *e)
{
	CURL *c = p->curl;
	CURLcode rc = CURLE_OK;
	long connects = 0;
	curl_off_t total_us = 0, ra = 0;

	*f = F_NONE;
	*status = 0;
	*retry_after_s = 0;
	p->errbuf[0] = '\0';
	long connect_ms = http->connect_timeout_ms < timeout_ms ? http->connect_timeout_ms
								  : timeout_ms;
	if ((rc = curl_easy_setopt(c, CURLOPT_URL, url)) != CURLE_OK ||
	    /* The path as built: never rewritten by dot segments (a "." or ".."
	     * that reached a path would leave /api/cluster/jobs). */
	    (rc = curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_HTTPGET, 1L)) != CURLE_OK ||
	    /* A PATCH has no body (the action is in the query), as the vendor's
	     * examples send it; CUSTOMREQUEST NULL puts a handle back to GET. */
	    (rc = curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST,
				   strcmp(method, "GET") ? method : NULL)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_WRITEDATA, t)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_HEADERDATA, t)) != CURLE_OK) {
		*f = F_OTHER;
		return jfs_error_set(e, rc == CURLE_OUT_OF_MEMORY ? ENOMEM : EIO,
				     "libcurl refused an option: %s", curl_easy_strerror(rc));
	}

	COUNT(http, requests, 1);
	rc = curl_easy_perform(c);

	curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
	curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &total_us);
	if (rc == CURLE_OK || rc == CURLE_WRITE_ERROR)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	COUNT(http, connections, (uint64_t)(connects > 0 ? connects : 0));
	COUNT(http, bytes, t->len);
	if (t->date > 0)
		skew_sample(http, t->date, t->date_ms);

	int ret = 0;
	if (rc != CURLE_OK) {
		ret = map_curl_error(http, p, rc, t, f, e);
		*status = 0;
	}
	/* A reused connection: no new one and yet the server was reached. */
	bool reused = connects == 0 && (rc == CURLE_OK || *f == F_RESET || *f == F_TOO_LARGE);
	if (reused)
		COUNT(http, reused, 1);

	switch (*f) {
	case F_CONNECT:
	case F_TLS:
		COUNT(http, fail_connect, 1);
		break;
	case F_TIMEOUT:
		COUNT(http, fail_timeout, 1);
		break;
	case F_RESET:
		COUNT(http, fail_reset, 1);
		break;
	case F_TOO_LARGE:
		COUNT(http, too_large, 1);
		break;
	default:
		break;
	}
	if (rc == CURLE_OK) {
		if (*status >= 400 && *status < 500)
			COUNT(http, http_4xx, 1);
		else if (*status >= 500)
			COUNT(http, http_5xx, 1);
		if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
			*retry_after_s = ra > 86400 ? 86400 : (long)ra;
	}
	/* The exchange, for -d: never a header (the Authorization one least of all). */
	jfs_debug("%s %s -> %ld, %zu bytes, %.1f ms%s%s%s", method, path, *status, t->len,
		  (double)total_us / 1000.0,
		  reused ? ", reused connection" : connects > 0 ? ", new connection" : "",
		  ret ? ": " : "", ret ? e->message : "");
	return ret;
}

void jfs_http_response_free(struct jfs_http_response *resp)
{
	if (!resp)
		return;
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
}

static int request(struct jfs_http *http, const char *method, const char *path,
		   struct jfs_http_response *resp, struct jfs_error *e)
{
	bool get = strcmp(method, "GET") == 0;
	struct jfs_error local;
	/* Attempts write here; e gets it only when the request fails, so an attempt
	 * that failed before a retry succeeded leaves no error behind. */
	struct jfs_error failure;
	struct pooled *p;
	CURLcode crc;
	char *url;
	int ret;

	if (!e)
		e = &local;
	memset(resp, 0, sizeof(*resp));
	if (!path || path[0] != '/') {
		jfs_error_set_request(e, method, path ? path : "");
		return jfs_error_set(e, EINVAL, "request path must start with '/'");
	}
	if (asprintf(&url, "%s%s", http->url_prefix, path) < 0) {
		jfs_error_set_request(e, method, path);
		return jfs_error_set(e, ENOMEM, "out of memory");
	}
	p = pool_take(http, &crc);
	if (!p) {
		free(url);
		jfs_error_set_request(e, method, path);
		return jfs_error_set(e, crc == CURLE_OUT_OF_MEMORY ? ENOMEM : EIO,
				     "no curl handle: %s", curl_easy_strerror(crc));
	}

	if (atomic_fetch_add(&http->busy, 1) == 0)
		atomic_store(&http->alive_ms, jfs_mono_ms()); /* no wait counts from before */
	int64_t deadline = 0; /* the retry budget's end, set when the first attempt ends */
	for (int tries = 0;; tries++) {
		struct transfer t = { .max = http->max_body };
		long status, retry_after_s;
		enum failure f;
		long timeout_ms = http->timeout_ms;

		if (stopped(http)) { /* before the first attempt, or during a back-off */
			ret = cancelled(&failure);
			break;
		}
		/* A retry gets what is left of the budget at most, so that the whole
		 * request ends within timeout + budget. */
		if (deadline) {
			int64_t left = deadline - jfs_mono_ms();
			if (left < timeout_ms)
				timeout_ms = left > MIN_ATTEMPT_MS ? (long)left : MIN_ATTEMPT_MS;
		}
		jfs_error_clear(&failure);
		ret = attempt(http, p, method, url, path, timeout_ms, &t, &status, &retry_after_s, &f,
			      &failure);
		if (f != F_TIMEOUT)
			atomic_store(&http->alive_ms, jfs_mono_ms());
		if (!deadline)
			deadline = jfs_mono_ms() + http->retry_budget_ms;

		if (ret == 0) {
			if (!t.buf && !(t.buf = calloc(1, 1))) {
				ret = jfs_error_set(&failure, ENOMEM, "out of memory");
				break;
			}
			resp->status = status;
			resp->body = t.buf;
			resp->len = t.len;
			resp->date = t.date;
		} else {
			free(t.buf);
		}
		if (ret < 0 && stopped(http)) { /* whatever ended it, the caller asked */
			ret = cancelled(&failure);
			break;
		}
		if (!retryable(get, f, status) || tries >= http->max_retries || stopped(http))
			break;

		/* Back off: full jitter over 100 ms doubling, or what Retry-After asks. */
		int64_t left = deadline - jfs_mono_ms();
		int64_t wait;
		if (left < MIN_ATTEMPT_MS)
			break; /* the budget is spent */
		if (retry_after_s > 0) {
			wait = (int64_t)retry_after_s * 1000;
			if (wait > left - MIN_ATTEMPT_MS) {
				jfs_debug("%s %s: Retry-After %lds is past the retry budget", method,
					  path, retry_after_s);
				break;
			}
		} else {
			int64_t cap = BACKOFF_FIRST_MS << (tries < 16 ? tries : 16);
			wait = jitter(cap < BACKOFF_MAX_MS ? cap : BACKOFF_MAX_MS);
			if (wait > left - MIN_ATTEMPT_MS)
				wait = left - MIN_ATTEMPT_MS; /* leave the retry time to run */
		}
		/* This answer is dropped for the next one. */
		jfs_http_response_free(resp);
		COUNT(http, retries, 1);
		jfs_debug("%s %s: retry %d in %lld ms", method, path, tries + 1,
			  (long long)wait);
		sleep_unless_stopped(http, wait);
	}
	atomic_fetch_sub(&http->busy, 1);
	pool_give(http, p);
	free(url);

	if (ret < 0) {
		*e = failure;
		jfs_error_set_request(e, method, path);
	}
	return ret;
}

const char *jfs_http_base_url(const struct jfs_http *http)
{
	return http->base_url;
}

bool jfs_http_stalled(struct jfs_http *http, int64_t *silent_ms)
{
	int64_t silent = jfs_mono_ms() - atomic_load(&http->alive_ms);
	if (silent_ms)
		*silent_ms = silent;
	return atomic_load(&http->busy) > 0 && silent >= JFS_HTTP_STALL_MS;
}

int jfs_http_get(struct jfs_http *http, const char *path, struct jfs_http_response *resp,
		 struct jfs_error *e)
{
	return request(http, "GET", path, resp, e);
}

int jfs_http_patch(struct jfs_http *http, const char *path, struct jfs_http_response *resp,
		   struct jfs_error *e)
{
	return request(http, "PATCH", path, resp, e);
}
