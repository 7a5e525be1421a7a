/* jobsfs: mount an ONTAP cluster's job list.
 *
 *     jobsfs [options] URL MOUNTPOINT
 *
 * Parses the command line, reads credentials (never from the command line itself),
 * asks the cluster once so that a wrong URL, TLS failure or refused credentials end
 * here with one line instead of a mount that fails every request, then mounts and
 * serves until fusermount3 -u. */
#include "mount.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "inode.h"
#include "ops.h"
#include "jobsfs/client.h"
#include "jobsfs/credentials.h"
#include "jobsfs/error.h"
#include "jobsfs/job.h"
#include "jobsfs/log.h"
#include "jobsfs/page.h"
#include "jobsfs/query.h"
#include "jobsfs/store.h"
#include "options.h"
#include "push.h"
#include "recording.h"
#include "snapshot.h"
#include "stop.h"

/* libfuse's messages, into jobsfs's log: to syslog too once daemonized (libfuse's
 * own handler writes to stderr, which is /dev/null by then). libfuse writes some
 * lines in pieces, so they are assembled up to the '\n'. Its debug output (-d, one
 * piece per line) keeps libfuse's format on stderr, for tools that read it. */
static pthread_mutex_t fuse_line_lock = PTHREAD_MUTEX_INITIALIZER;
static char fuse_line[1024]; /* guarded by fuse_line_lock: the line assembled so far */
static size_t fuse_line_len; /* guarded by fuse_line_lock */

static void fuse_line_emit(enum fuse_log_level level, char *line)
{
	static const char unknown[] = "fuse: unknown option(s): `";
	size_t n = strlen(line);

	/* libfuse's "unknown option(s): `-o foo'": said the jobsfs way, with the hint. */
	if (strncmp(line, unknown, sizeof(unknown) - 1) == 0 && line[n - 1] == '\'') {
		line[n - 1] = '\0';
		jfs_options_unknown(line + sizeof(unknown) - 1);
		return;
	}
	enum jfs_log_level l = level <= FUSE_LOG_ERR	  ? JFS_LOG_ERR
			       : level == FUSE_LOG_WARNING ? JFS_LOG_WARN
							   : JFS_LOG_INFO;
	jfs_log_at(l, __FILE__, __LINE__, __func__, "%s", line);
}

/* fmt comes from libfuse: the attribute lets the compiler check the forwarding. */
__attribute__((format(printf, 2, 0))) static void
fuse_log_bridge(enum fuse_log_level level, const char *fmt, va_list ap)
{
	char line[sizeof(fuse_line)];
	bool whole = false;

	if (level == FUSE_LOG_DEBUG) {
		vfprintf(stderr, fmt, ap);
		return;
	}
	pthread_mutex_lock(&fuse_line_lock);
	/* room > 1: a full buffer was emitted by the call that filled it. */
	size_t room = sizeof(fuse_line) - fuse_line_len;
	int n = vsnprintf(fuse_line + fuse_line_len, room, fmt, ap);
	if (n > 0) /* what vsnprintf wrote: all of it, or what fitted */
		fuse_line_len += (size_t)n < room ? (size_t)n : room - 1;
	bool full = fuse_line_len == sizeof(fuse_line) - 1; /* a longer line is cut here */
	if (fuse_line_len > 0 && (fuse_line[fuse_line_len - 1] == '\n' || full)) {
		fuse_line_len -= fuse_line[fuse_line_len - 1] == '\n';
		memcpy(line, fuse_line, fuse_line_len);
		line[fuse_line_len] = '\0';
		fuse_line_len = 0;
		whole = line[0] != '\0';
	}
	pthread_mutex_unlock(&fuse_line_lock);
	if (whole)
		fuse_line_emit(level, line);
}

/* Secrets read for the client config; wiped and freed once the client copied them. */
struct secrets {
	char *password;
	char *token;
};

static int read_secrets(const struct jfs_options *o, struct secrets *sec)
{
	struct jfs_error e;
	char buf[1024];

	jfs_error_clear(&e);
	memset(sec, 0, sizeof(*sec));
	if (o->password_file && !o->user) {
		fprintf(stderr, "jobsfs: -o password_file needs -o user=NAME\n");
		return -1;
	}
	if (o->user && o->password_file &&
	    jfs_secret_read_file_as("password file", o->password_file, &sec->password, &e) != 0)
		goto fail;
	if (o->token_file &&
	    jfs_secret_read_file_as("token file", o->token_file, &sec->token, &e) != 0)
		goto fail;
	if ((o->cert != NULL) != (o->key != NULL)) {
		fprintf(stderr, "jobsfs: -o cert= and -o key= go together\n");
		return -1;
	}
	return 0;
fail:
	fprintf(stderr, "jobsfs: %s\n", e.message[0] ? e.message
						      : jfs_error_format(&e, buf, sizeof(buf)));
	jfs_secret_free(sec->password);
	jfs_secret_free(sec->token);
	memset(sec, 0, sizeof(*sec));
	return -1;
}

static void client_config(const struct jfs_options *o, const struct secrets *sec,
			  struct jfs_client_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->http.base_url = o->url;
	cfg->http.user = o->user;
	cfg->http.password = sec->password ? sec->password
					   : (o->user ? jfs_password_from_env() : NULL);
	/* Without a password from us, libcurl may find one (and a login) in netrc. */
	cfg->http.netrc = !cfg->http.password && !sec->token;
	cfg->http.netrc_file = o->netrc_file;
	cfg->http.cert = o->cert;
	cfg->http.key = o->key;
	cfg->http.token = sec->token;
	cfg->http.cacert = o->cacert;
	cfg->http.insecure = o->insecure;
	cfg->http.timeout_ms = o->timeout * 1000;
	cfg->page_size = o->page_size;
	cfg->max_depth = JFS_MAX_DEPTH_DEFAULT;
}

/* The one line that says why the cluster could not be used. */
static void say_unreachable(const char *url, int rc, const struct jfs_error *e)
{
	const char *msg = e->message[0] ? e->message : strerror(-rc);

	if (e->http_status == 401)
		fprintf(stderr, "jobsfs: %s: authentication failed (HTTP 401): %s\n", url, msg);
	else if (e->http_status == 403)
		fprintf(stderr, "jobsfs: %s: access denied (HTTP 403): %s\n", url, msg);
	else if (e->http_status == 404 && !e->code[0]) /* a server, but no jobs API */
		fprintf(stderr, "jobsfs: %s: no ONTAP jobs API there: %s answered HTTP 404 (%s). "
			"Is it the cluster's management address?\n", url, e->request, msg);
	else if (e->http_status >= 300)
		fprintf(stderr, "jobsfs: %s: the cluster answered HTTP %ld: %s\n", url,
			e->http_status, msg);
	else if (rc == -ECONNREFUSED || rc == -EHOSTUNREACH || rc == -ENETUNREACH)
		fprintf(stderr, "jobsfs: %s: cannot connect: %s\n", url, strerror(-rc));
	else if (rc == -ETIMEDOUT)
		fprintf(stderr, "jobsfs: %s: no answer (timed out): %s\n", url, msg);
	else
		fprintf(stderr, "jobsfs: %s: %s\n", url, msg);
}

/* One one-record list, with few retries, before anything is mounted. */
static int preflight(const struct jfs_client_config *base)
{
	struct jfs_client_config cfg = *base;
	struct jfs_client *c = NULL;
	struct jfs_query *q = jfs_query_new();
	struct jfs_job_list list = { 0 };
	struct jfs_error e;
	int rc;

	jfs_error_clear(&e);
	cfg.http.max_retries = 1;
	cfg.http.retry_budget_ms = 2000;
	if (!q) {
		fprintf(stderr, "jobsfs: out of memory\n");
		return -1;
	}
	rc = jfs_query_add_segment(q, JFS_QUERY_MAX_RECORDS "=1", &e);
	if (rc == 0)
		rc = jfs_client_new(&cfg, &c, &e);
	if (rc == 0)
		rc = jfs_client_list(c, q, &list, &e);
	if (rc != 0)
		say_unreachable(base->http.base_url, rc, &e);
	else
		jfs_info("%s answers (%zu job in the first record page)", base->http.base_url,
			 list.n);
	jfs_job_list_free(&list);
	jfs_client_free(c);
	jfs_query_free(q);
	return rc == 0 ? 0 : -1;
}

/* Mount m->se (made by main), serve until unmounted, and destroy the session. Logs at
 * log_level, to syslog once daemonized. */
static int run(struct jfs_mount *m, struct fuse_cmdline_opts *fo, enum jfs_log_level log_level,
	       const struct jfs_recording *rec)
{
	int ret = 1;

	if (fuse_set_signal_handlers(m->se) != 0)
		goto out_session;
	if (fuse_session_mount(m->se, fo->mountpoint) != 0)
		goto out_signals;
	if (fuse_daemonize(fo->foreground) != 0)
		goto out_unmount;
	if (!fo->foreground) /* stderr is gone: log to syslog from here on */
		jfs_log_init("jobsfs", log_level, JFS_LOG_SYSLOG);
	/* Threads start after fuse_daemonize, which forks. */
	if (jfs_keeper_start(m) != 0) {
		jfs_err("cannot start the housekeeping thread");
		goto out_unmount;
	}
	jfs_recording_start(m, rec);
	int err = jfs_waits_start(m);
	if (err != 0) {
		jfs_err("cannot start the thread behind wait files: %s", strerror(-err));
		goto out_threads;
	}
	err = jfs_push_start(m);
	if (err != 0) /* a speed-up only: go on */
		jfs_warn("cannot start the pusher thread (%s): files will not be pushed to the "
			 "page cache", strerror(-err));
	err = jfs_stop_start(m);
	if (err != 0) {
		jfs_err("cannot set the signal handlers: %s", strerror(-err));
		goto out_threads;
	}
	jfs_info("mounted %s", fo->mountpoint);

	int rc;
	if (fo->singlethread) {
		rc = fuse_session_loop(m->se);
	} else {
		struct fuse_loop_config *lc = fuse_loop_cfg_create();
		if (!lc) {
			jfs_err("out of memory");
			jfs_stop_end();
			goto out_threads;
		}
		fuse_loop_cfg_set_clone_fd(lc, (unsigned)fo->clone_fd);
		/* UINT_MAX: not given, keep libfuse's defaults. */
		if (fo->max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(lc, fo->max_idle_threads);
		if (fo->max_threads != UINT_MAX)
			fuse_loop_cfg_set_max_threads(lc, fo->max_threads);
		rc = fuse_session_loop_mt(m->se, lc);
		fuse_loop_cfg_destroy(lc);
	}
	/* A stop signal had the stopper end the pusher and the keeper while the workers
	 * still answered. Otherwise the loop ended because the kernel's connection did
	 * (an unmount): then their notifications fail at once, and stopping them here
	 * waits on nothing. */
	jfs_stop_end();
	ret = rc < 0 ? 1 : 0;
out_threads:
	jfs_waits_stop(m); /* whoever still waits is told ENOTCONN */
	jfs_push_free(m);
	jfs_keeper_stop(m);
	jfs_recording_stop(m);
out_unmount:
	fuse_session_unmount(m->se);
out_signals:
	fuse_remove_signal_handlers(m->se);
out_session:
	fuse_session_destroy(m->se);
	m->se = NULL;
	return ret;
}

/*
 * Two malloc arenas, unless MALLOC_ARENA_MAX says otherwise. glibc gives each thread
 * that allocates under contention an arena of its own (up to 8 per CPU); every FUSE
 * worker then parses pages in its own heap, jobs outlive the parse in all of them, and
 * each arena keeps its own free high-water mark. Over a churning cluster that was 34 MiB
 * of RSS for 5 MiB of live data, still creeping after minutes; with two arenas it is
 * 20 MiB and flat (tests/soak/soak.py, mallinfo2 sampled every 5 s). jobsfs spends
 * its time waiting on the cluster and the kernel, so a shared arena costs no speed.
 * Called before any thread starts: glibc reads the cap when it creates an arena.
 */
static void cap_malloc_arenas(void)
{
#ifdef M_ARENA_MAX
	if (!getenv("MALLOC_ARENA_MAX"))
		mallopt(M_ARENA_MAX, 2);
#endif
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts fo;
	struct jfs_options o;
	struct secrets sec = { 0 };
	struct jfs_client_config cfg;
	struct jfs_mount m;
	struct jfs_recording rec;
	struct jfs_error e;
	char msg[512];
	int ret = 1;

	memset(&fo, 0, sizeof(fo));
	memset(&m, 0, sizeof(m));
	jfs_error_clear(&e);
	cap_malloc_arenas();
	jfs_log_init("jobsfs", JFS_LOG_WARN, JFS_LOG_STDERR);
	fuse_set_log_func(fuse_log_bridge);
	if (jfs_options_parse(&args, &o) != 0)
		goto out_args;
	if (o.show_help) {
		jfs_options_usage(argv[0]);
		printf("FUSE options:\n");
		fuse_cmdline_help();
		fuse_lowlevel_help();
		ret = 0;
		goto out_args;
	}
	if (o.show_version) {
		printf("jobsfs %s\n", JOBSFS_VERSION);
		printf("FUSE library version %s\n", fuse_pkgversion());
		fflush(stdout); /* fuse_lowlevel_version runs fusermount3, which writes too */
		fuse_lowlevel_version();
		ret = 0;
		goto out_args;
	}
	if (fuse_parse_cmdline(&args, &fo) != 0)
		goto out_args;
	if (!o.url || !fo.mountpoint) {
		fprintf(stderr, "jobsfs: usage: jobsfs [options] URL MOUNTPOINT (see jobsfs -h)\n");
		goto out_args;
	}
	if (jfs_url_check(o.url, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "jobsfs: %s\n", msg);
		goto out_args;
	}
	/* The mount is read-only and jobsfs checks no permission itself: with
	 * allow_other and without default_permissions, every user could read it whatever
	 * its modes say. With it, the kernel enforces them. */
	if (o.allow_other && !o.default_permissions) {
		fprintf(stderr, "jobsfs: -o allow_other needs -o default_permissions too: jobsfs "
				"checks no permissions itself, the kernel does with it\n");
		goto out_args;
	}
	/* -d (libfuse's debug, which implies -f) turns on jobsfs's debug lines too;
	 * $JOBSFS_LOG, read by jfs_log_init, overrides both. */
	enum jfs_log_level log_level = fo.debug ? JFS_LOG_DEBUG : (enum jfs_log_level)o.log_level;
	jfs_log_init("jobsfs", log_level, JFS_LOG_STDERR);
	if (read_secrets(&o, &sec) != 0)
		goto out_args;
	client_config(&o, &sec, &cfg);
	/* The session checks FUSE's options (an unknown -o fails here), before any
	 * request is sent; it is mounted later, in run(). */
	/* Read-only in the kernel too: every write, and every open for writing, fails
	 * with EROFS there, even when open never reaches us (no-open mode). With -o
	 * control, ctl files take writes: then every other write reaches jobsfs, which
	 * refuses it with EROFS (ops.c). */
	if (!o.control && fuse_opt_add_arg(&args, "-oro") != 0) {
		fprintf(stderr, "jobsfs: out of memory\n");
		goto out_secrets;
	}
	m.se = fuse_session_new(&args, jfs_fs_ops(), sizeof(*jfs_fs_ops()), &m);
	if (!m.se) /* libfuse said why (unknown options: see fuse_line_emit) */
		goto out_secrets;
	if (preflight(&cfg) != 0)
		goto out_secrets;
	if (jfs_recording_plan(&o, &rec) != 0)
		goto out_secrets;
	if (jfs_client_new(&cfg, &m.client, &e) != 0) {
		say_unreachable(o.url, -e.err, &e);
		goto out_secrets;
	}
	jfs_secret_free(sec.password); /* the client holds its own copy */
	jfs_secret_free(sec.token);
	memset(&sec, 0, sizeof(sec));

	struct jfs_store_config scfg = {
		.ttl = o.ttl,
		.expiry = o.expiry,
		.mem_max = o.cache_mem * 1024 * 1024,
		.on_change = jfs_keeper_kick,
		.on_change_arg = &m,
		.on_fetched = rec.on ? jfs_recording_offer : NULL,
		.on_fetched_arg = &m,
	};
	m.kernel_open_off = getenv("JOBSFS_NO_KERNEL_OPEN") != NULL;
	if (jfs_store_new(m.client, &scfg, &m.store) != 0 || jfs_inodes_new(&m.inodes) != 0 ||
	    jfs_snapshots_new(&m.snapshots) != 0) {
		fprintf(stderr, "jobsfs: out of memory\n");
		goto out_mount;
	}
	if (jfs_open_init(&m) != 0 || jfs_keeper_init(&m) != 0) {
		fprintf(stderr, "jobsfs: cannot initialise locks\n");
		goto out_mount; /* (never happens with default attributes) */
	}
	m.uid = getuid();
	m.gid = getgid();
	m.ttl = o.ttl;
	m.control = o.control;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	m.mounted_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	m.live = jfs_store_source(m.store);
	ret = run(&m, &fo, log_level, &rec);
	jfs_open_free_all(&m); /* what the kernel did not release before unmounting */
	jfs_keeper_destroy(&m);
out_mount:
	jfs_snapshots_free(m.snapshots);
	jfs_inodes_free(m.inodes);
	jfs_recording_close(&m);
	jfs_store_free(m.store);
	jfs_client_free(m.client);
out_secrets:
	if (m.se) /* made, but never run */
		fuse_session_destroy(m.se);
	jfs_secret_free(sec.password);
	jfs_secret_free(sec.token);
out_args:
	free(fo.mountpoint);
	jfs_options_free(&o);
	fuse_opt_free_args(&args);
	return ret;
}
