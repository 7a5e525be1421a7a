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
#include "jobsfs/fleet.h"
#include "jobsfs/history.h"
#include "jobsfs/job.h"
#include "jobsfs/log.h"
#include "jobsfs/page.h"
#include "jobsfs/query.h"
#include "jobsfs/store.h"
#include "options.h"
#include "prefetch.h"
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
static void say_unreachable(const char *url, const char *name, int rc, const struct jfs_error *e)
{
	const char *msg = e->message[0] ? e->message : strerror(-rc);
	char named[PATH_MAX + 300];
	if (name) { /* a fleet's cluster: its section too */
		snprintf(named, sizeof(named), "[%s] %s", name, url);
		url = named;
	}

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
static int preflight(const struct jfs_client_config *base, const char *name)
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
		say_unreachable(base->http.base_url, name, rc, &e);
	else
		jfs_info("%s answers (%zu job in the first record page)", base->http.base_url,
			 list.n);
	jfs_job_list_free(&list);
	jfs_client_free(c);
	jfs_query_free(q);
	return rc == 0 ? 0 : -1;
}

/* A fleet's default ceiling on FUSE workers: libfuse's 10, and 8 per cluster; and what
 * one stalled cluster may hold of them (jfs_store_config.max_waiting). */
#define JFS_FLEET_WORKERS_BASE 10
#define JFS_FLEET_WORKERS_PER_CLUSTER 8

/* Mount m->se (made by main), serve until unmounted, and destroy the session. Logs at
 * log_level, to syslog once daemonized. */
static int run(struct jfs_mount *m, struct fuse_cmdline_opts *fo, enum jfs_log_level log_level)
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
	int err = 0;
	for (size_t i = 0; i < m->nclusters && err == 0; i++) {
		jfs_recording_start(&m->clusters[i]);
		err = jfs_waits_start(&m->clusters[i]);
	}
	if (err != 0) {
		jfs_err("cannot start the threads behind wait files: %s", strerror(-err));
		goto out_threads;
	}
	err = jfs_push_start(m);
	if (err != 0) /* a speed-up only: go on */
		jfs_warn("cannot start the pusher thread (%s): files will not be pushed to the "
			 "page cache", strerror(-err));
	err = jfs_prefetch_start(m);
	if (err != 0) /* likewise */
		jfs_warn("cannot start the prefetch threads (%s): a glob over the fleet asks "
			 "one cluster after another", strerror(-err));
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
		else if (m->fleet) /* requests waiting on one stalled cluster leave the
				    * others workers (made only when needed) */
			fuse_loop_cfg_set_max_threads(lc, (unsigned)(JFS_FLEET_WORKERS_BASE +
								      JFS_FLEET_WORKERS_PER_CLUSTER *
									      m->nclusters));
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
	for (size_t i = 0; i < m->nclusters; i++)
		jfs_waits_stop(&m->clusters[i]); /* whoever still waits is told ENOTCONN */
	jfs_push_free(m);
	jfs_prefetch_free(m);
	jfs_keeper_stop(m);
	for (size_t i = 0; i < m->nclusters; i++)
		jfs_recording_stop(&m->clusters[i]);
out_unmount:
	fuse_session_unmount(m->se);
out_signals:
	fuse_remove_signal_handlers(m->se);
out_session:
	fuse_session_destroy(m->se);
	m->se = NULL;
	return ret;
}

/* The options of each cluster: the command line's for a mount of one URL; for a
 * fleet, the command line's, then the config's [defaults] and the cluster's section.
 * m->clusters is made (names and urls set); per[i] gets cluster i's options. Returns
 * 0, or -1 with one line said. */
static int clusters_plan(struct jfs_mount *m, const struct jfs_options *o,
			 struct jfs_options **per)
{
	struct jfs_fleet *fleet = NULL;
	char msg[600];
	*per = NULL;
	m->fleet = jfs_fleet_is_config(o->url);
	m->budget.max = o->cache_mem * 1024 * 1024; /* the command line's, for all */
	if (m->fleet) {
		int rc = jfs_fleet_read(o->url, &fleet, msg, sizeof(msg));
		if (rc != 0) {
			fprintf(stderr, "jobsfs: %s\n", msg);
			return -1;
		}
	}
	size_t n = fleet ? fleet->n : 1;
	m->clusters = calloc(n, sizeof(*m->clusters));
	*per = calloc(n, sizeof(**per));
	if (!m->clusters || !*per) {
		fprintf(stderr, "jobsfs: out of memory\n");
		jfs_fleet_free(fleet);
		return -1;
	}
	int ret = 0;
	for (size_t i = 0; i < n && ret == 0; i++) {
		struct jfs_options *co = &(*per)[i];
		struct jfs_cluster *c = &m->clusters[i];
		if (jfs_options_copy(co, o) != 0) {
			fprintf(stderr, "jobsfs: out of memory\n");
			ret = -1;
			break;
		}
		m->nclusters++;
		c->mount = m;
		if (fleet) {
			const struct jfs_fleet_cluster *fc = &fleet->clusters[i];
			for (size_t k = 0; k < fc->n && ret == 0; k++)
				ret = jfs_options_apply(co, fc->settings[k].key, fc->settings[k].value,
							fleet->path, fc->settings[k].line);
			if (ret == 0 && co->record > 0 && co->record >= (double)co->expiry) {
				fprintf(stderr, "jobsfs: %s:%d: [%s]: record must be below expiry\n",
					fleet->path, fc->line, fc->name);
				ret = -1;
			}
			c->name = strdup(fc->name);
		} else if (jfs_url_check(co->url, msg, sizeof(msg)) != 0) {
			fprintf(stderr, "jobsfs: %s\n", msg);
			ret = -1;
		}
		if (ret == 0 && fleet && !c->name) {
			fprintf(stderr, "jobsfs: out of memory\n");
			ret = -1;
		}
		c->ttl = co->ttl;
		c->control = co->control;
		m->control |= co->control;
	}
	/* A fleet's history is one file by default: the config's name, in the folder a
	 * cluster's would be in (fleet.conf: fleet.sqlite). */
	if (ret == 0 && fleet) {
		const char *base = strrchr(fleet->path, '/');
		char key[256], path[PATH_MAX];
		snprintf(key, sizeof(key), "%s", base ? base + 1 : fleet->path);
		char *dot = strrchr(key, '.');
		if (dot && dot != key)
			*dot = '\0';
		if (jfs_history_default_path(key, path, sizeof(path)) == 0 &&
		    !(m->fleet_history = strdup(path))) {
			fprintf(stderr, "jobsfs: out of memory\n");
			ret = -1;
		}
	}
	jfs_fleet_free(fleet);
	return ret;
}

/* Cluster c's client and store, from its options o; checked against the cluster first.
 * A mount of one cluster stops when the cluster cannot be used (one line); a fleet
 * says one line for it and goes on: its directory fails until it answers. Returns 0 or
 * -1. */
static int cluster_open(struct jfs_mount *m, struct jfs_cluster *c, const struct jfs_options *o)
{
	struct secrets sec;
	struct jfs_client_config cfg;
	struct jfs_error e;
	jfs_error_clear(&e);
	if (read_secrets(o, &sec) != 0)
		return -1;
	client_config(o, &sec, &cfg);
	int ret = -1;
	if (preflight(&cfg, c->name) != 0 && !m->fleet)
		goto out;
	if (jfs_recording_plan(o, m->fleet_history, &c->rec) != 0)
		goto out;
	if (jfs_client_new(&cfg, &c->client, &e) != 0) {
		say_unreachable(o->url, c->name, -e.err, &e);
		goto out;
	}
	struct jfs_store_config scfg = {
		.ttl = o->ttl,
		.expiry = o->expiry,
		.mem_max = o->cache_mem * 1024 * 1024,
		.on_change = jfs_keeper_kick,
		.on_change_arg = m,
		.on_fetched = c->rec.on ? jfs_recording_offer : NULL,
		.on_fetched_arg = c,
		.budget = m->fleet ? &m->budget : NULL,
		/* A stalled cluster holds at most its own share of the workers. */
		.max_waiting = m->fleet ? JFS_FLEET_WORKERS_PER_CLUSTER : 0,
	};
	if (jfs_store_new(c->client, &scfg, &c->store) != 0) {
		fprintf(stderr, "jobsfs: out of memory\n");
		goto out;
	}
	c->live = jfs_store_source(c->store);
	ret = 0;
out:
	jfs_secret_free(sec.password); /* the client holds its own copy */
	jfs_secret_free(sec.token);
	return ret;
}

static void clusters_free(struct jfs_mount *m)
{
	for (size_t i = 0; i < m->nclusters; i++) {
		struct jfs_cluster *c = &m->clusters[i];
		jfs_recording_close(c);
		jfs_store_free(c->store);
		jfs_client_free(c->client);
		free(c->name);
	}
	free(m->clusters);
	m->clusters = NULL;
	m->nclusters = 0;
	free(m->fleet_history);
	m->fleet_history = NULL;
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
	struct jfs_options *per = NULL; /* each cluster's */
	struct jfs_mount m;
	int ret = 1;

	memset(&fo, 0, sizeof(fo));
	memset(&m, 0, sizeof(m));
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
		fprintf(stderr, "jobsfs: usage: jobsfs [options] URL|CONFIG MOUNTPOINT (see jobsfs "
				"-h)\n");
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
	if (clusters_plan(&m, &o, &per) != 0)
		goto out_clusters;
	/* The session checks FUSE's options (an unknown -o fails here), before any
	 * request is sent; it is mounted later, in run(). */
	/* Read-only in the kernel too: every write, and every open for writing, fails
	 * with EROFS there, even when open never reaches us (no-open mode). With -o
	 * control, ctl files take writes: then every other write reaches jobsfs, which
	 * refuses it with EROFS (ops.c). */
	if (!m.control && fuse_opt_add_arg(&args, "-oro") != 0) {
		fprintf(stderr, "jobsfs: out of memory\n");
		goto out_clusters;
	}
	m.se = fuse_session_new(&args, jfs_fs_ops(), sizeof(*jfs_fs_ops()), &m);
	if (!m.se) /* libfuse said why (unknown options: see fuse_line_emit) */
		goto out_clusters;
	for (size_t i = 0; i < m.nclusters; i++)
		if (cluster_open(&m, &m.clusters[i], &per[i]) != 0)
			goto out_clusters;

	m.kernel_open_off = getenv("JOBSFS_NO_KERNEL_OPEN") != NULL;
	if (jfs_inodes_new(m.fleet ? NULL : &m.clusters[0], &m.inodes) != 0 ||
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
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	m.mounted_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	ret = run(&m, &fo, log_level);
	jfs_open_free_all(&m); /* what the kernel did not release before unmounting */
	jfs_keeper_destroy(&m);
out_mount:
	jfs_snapshots_free(m.snapshots);
	jfs_inodes_free(m.inodes);
out_clusters:
	if (m.se) /* made, but never run */
		fuse_session_destroy(m.se);
	for (size_t i = 0; per && i < m.nclusters; i++)
		jfs_options_free(&per[i]);
	free(per);
	clusters_free(&m);
out_args:
	free(fo.mountpoint);
	jfs_options_free(&o);
	fuse_opt_free_args(&args);
	return ret;
}
