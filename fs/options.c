/* The jobsfs command line (see options.h), parsed with fuse_opt_parse. */
#include "options.h"

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <fuse_opt.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jobsfs/client.h"
#include "jobsfs/history.h"
#include "jobsfs/log.h"
#include "jobsfs/recorder.h"
#include "jobsfs/store.h"

enum {
	KEY_URL_OR_MOUNT = FUSE_OPT_KEY_NONOPT,
	KEY_HELP = 1,
	KEY_VERSION,
	KEY_USER,
	KEY_PASSWORD_FILE,
	KEY_CERT,
	KEY_KEY,
	KEY_TOKEN_FILE,
	KEY_CACERT,
	KEY_NETRC_FILE,
	KEY_INSECURE,
	KEY_TTL,
	KEY_EXPIRY,
	KEY_PAGE_SIZE,
	KEY_TIMEOUT,
	KEY_CACHE_MEM,
	KEY_PASSWORD,
	KEY_LOGLEVEL,
	KEY_HISTORY,
	KEY_RECORD,
	KEY_HISTORY_KEEP,
	KEY_ALLOW_OTHER,
	KEY_DEFAULT_PERMISSIONS,
	KEY_CONTROL,
};

static const struct fuse_opt jfs_opt_spec[] = {
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_KEY("user=", KEY_USER),
	FUSE_OPT_KEY("username=", KEY_USER),
	FUSE_OPT_KEY("password_file=", KEY_PASSWORD_FILE),
	FUSE_OPT_KEY("password=", KEY_PASSWORD),
	FUSE_OPT_KEY("cert=", KEY_CERT),
	FUSE_OPT_KEY("key=", KEY_KEY),
	FUSE_OPT_KEY("token_file=", KEY_TOKEN_FILE),
	FUSE_OPT_KEY("cacert=", KEY_CACERT),
	FUSE_OPT_KEY("netrc_file=", KEY_NETRC_FILE),
	FUSE_OPT_KEY("insecure", KEY_INSECURE),
	FUSE_OPT_KEY("ttl=", KEY_TTL),
	FUSE_OPT_KEY("expiry=", KEY_EXPIRY),
	FUSE_OPT_KEY("page_size=", KEY_PAGE_SIZE),
	FUSE_OPT_KEY("timeout=", KEY_TIMEOUT),
	FUSE_OPT_KEY("cache_mem=", KEY_CACHE_MEM),
	FUSE_OPT_KEY("loglevel=", KEY_LOGLEVEL),
	FUSE_OPT_KEY("history=", KEY_HISTORY),
	FUSE_OPT_KEY("record=", KEY_RECORD),
	FUSE_OPT_KEY("history_keep=", KEY_HISTORY_KEEP),
	FUSE_OPT_KEY("control", KEY_CONTROL),
	/* libfuse's, noted here for the allow_other rule and then left to libfuse. */
	FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
	FUSE_OPT_KEY("default_permissions", KEY_DEFAULT_PERMISSIONS),
	FUSE_OPT_END,
};

void jfs_options_usage(const char *prog)
{
	printf("usage: %s [options] URL MOUNTPOINT\n"
	       "       %s [options] CONFIG MOUNTPOINT\n"
	       "\n"
	       "Mounts the job list of the ONTAP cluster at URL (https://host[:port]), or of\n"
	       "every cluster a fleet config names (an INI file: [defaults], then one\n"
	       "[name] section per cluster with url = and the options below, as keys).\n"
	       "Unmount with: fusermount3 -u MOUNTPOINT\n"
	       "\n"
	       "jobsfs options:\n"
	       "    -o user=NAME           HTTP Basic user; the password comes from\n"
	       "                           -o password_file, $JOBSFS_PASSWORD or ~/.netrc\n"
	       "    -o username=NAME       the same as user=NAME (in /etc/fstab, mount(8)\n"
	       "                           also reads user= as its own \"user\" keyword)\n"
	       "    -o password_file=PATH  file holding the password (mode 0600 or stricter)\n"
	       "    -o netrc_file=PATH     a netrc file instead of ~/.netrc\n"
	       "    -o cert=PATH,key=PATH  client certificate and its key\n"
	       "    -o token_file=PATH     file holding an OAuth 2.0 bearer token (mode 0600)\n"
	       "    -o cacert=PATH         CA bundle to verify the cluster (default: system's)\n"
	       "    -o insecure            do not verify the cluster's certificate\n"
	       "    -o ttl=SECONDS         freshness of active jobs and listings (default %g)\n"
	       "    -o expiry=SECONDS      cluster's retention of finished jobs (default %d)\n"
	       "    -o page_size=N         records per request (default %d)\n"
	       "    -o timeout=SECONDS     limit on one request (default 30)\n"
	       "    -o cache_mem=MiB       cap on the jobs held in memory (default %zu)\n"
	       "    -o loglevel=LEVEL      err, warn, info or debug (default warn; -d sets\n"
	       "                           debug; $JOBSFS_LOG overrides both)\n"
	       "    -o history=PATH        the history of every job seen, under MOUNT/.history:\n"
	       "                           an SQLite file, or postgresql://USER@HOST/DB (a\n"
	       "                           team's server; password from ~/.pgpass or\n"
	       "                           $PGPASSWORD); off: none (default: on, in\n"
	       "                           /var/lib/jobsfs/HOST.sqlite for root, else\n"
	       "                           $XDG_STATE_HOME/jobsfs/HOST.sqlite)\n"
	       "    -o record=SECONDS      list the cluster for the history this often while\n"
	       "                           mounted (default %d; below expiry; off: only what\n"
	       "                           readers fetch)\n"
	       "    -o history_keep=DAYS   prune finished jobs older than this (default %d;\n"
	       "                           0 keeps them all)\n"
	       "    -o control             MOUNT/<uuid>/ctl takes cancel, pause or resume (one\n"
	       "                           PATCH each); without it the mount is read-only\n"
	       "    -o allow_other         let other users in: only with -o default_permissions\n"
	       "                           (the kernel then enforces the modes: only the\n"
	       "                           mount's owner may write ctl)\n"
	       "    -h, --help             this help\n"
	       "    -V, --version          versions\n"
	       "\n"
	       "Ignored, for /etc/fstab and mount(8): _netdev, nofail, auto, noauto, user,\n"
	       "users, nouser, owner, group, defaults, comment=..., x-*.\n"
	       "Logs go to stderr with -f (or -d), to syslog otherwise.\n"
	       "\n",
	       prog, prog, JFS_STORE_TTL_DEFAULT, JFS_STORE_EXPIRY_DEFAULT, JFS_PAGE_SIZE_DEFAULT,
	       JFS_STORE_MEM_DEFAULT / (1024 * 1024), JFS_RECORDER_EVERY_DEFAULT,
	       JFS_HISTORY_KEEP_DAYS_DEFAULT);
}

void jfs_options_unknown(const char *what)
{
	/* libfuse lists them as it kept them: "-o a,b", "--x", "--x -o a". */
	const char *list = strncmp(what, "-o ", 3) == 0 ? what + 3 : what;
	bool several = strchr(list, ',') || strchr(list, ' ');

	fprintf(stderr, "jobsfs: unknown option%s %s; see jobsfs -h\n", several ? "s" : "",
		what);
}

/* mount(8) keywords that may reach us through mount.fuse3 (it drops some of them
 * itself, mount(8) others, but not every version nor every caller drops all), and
 * mean nothing to a FUSE filesystem. "x-" is a prefix: x-systemd.*, x-gvfs-*. */
static bool mount_keyword(const char *arg)
{
	static const char *const words[] = {
		"_netdev", "nofail", "auto", "noauto", "user", "users", "nouser",
		"owner",   "group",  "defaults",
	};
	if (strncmp(arg, "x-", 2) == 0 || strncmp(arg, "comment=", 8) == 0)
		return true;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(arg, words[i]) == 0)
			return true;
	return false;
}

/* Where the option being parsed was written: "" for the command line, "FILE:LINE: "
 * for a fleet config's (jfs_options_apply). Only the parsing thread touches it. */
static char opt_where[PATH_MAX + 32];

/* One line on stderr about the option being parsed. */
static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "jobsfs: %s", opt_where);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/* The value after "name=" in arg. */
static const char *opt_value(const char *arg)
{
	const char *eq = strchr(arg, '=');
	return eq ? eq + 1 : "";
}

static int set_string(char **dst, const char *arg)
{
	const char *v = opt_value(arg);
	if (!*v) {
		say("-o %s: needs a value (see jobsfs -h)\n", arg);
		return -1;
	}
	char *copy = strdup(v);
	if (!copy) {
		say("out of memory\n");
		return -1;
	}
	free(*dst);
	*dst = copy;
	return 0;
}

/* A whole number in [min, max]; else one line on stderr and -1. */
static int parse_long(const char *arg, long min, long max, long *out)
{
	const char *v = opt_value(arg);
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (!*v || *end || errno || n < min || n > max) {
		say("-o %s: expected a whole number from %ld to %ld "
				"(see jobsfs -h)\n", arg, min, max);
		return -1;
	}
	*out = n;
	return 0;
}

static int parse_seconds(const char *arg, double *out)
{
	const char *v = opt_value(arg);
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (!*v || *end || errno || !isfinite(d) || d < 0 || d > 1e6) {
		say("-o %s: expected seconds from 0 to 1000000 "
				"(see jobsfs -h)\n", arg);
		return -1;
	}
	*out = d;
	return 0;
}

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct jfs_options *o = data;
	long n;

	switch (key) {
	case KEY_URL_OR_MOUNT:
		if (!o->url) {
			o->url = strdup(arg);
			if (!o->url) {
				say("out of memory\n");
				return -1;
			}
			return 0;
		}
		return 1; /* the mount point: libfuse's */
	case KEY_HELP:
		o->show_help = true;
		return 0;
	case KEY_VERSION:
		o->show_version = true;
		return 0;
	case KEY_USER:
		return set_string(&o->user, arg);
	case KEY_PASSWORD_FILE:
		return set_string(&o->password_file, arg);
	case KEY_PASSWORD:
		say("-o password= is not accepted: a password on a command "
				"line is visible to every user; use $JOBSFS_PASSWORD, "
				"-o password_file or ~/.netrc\n");
		return -1;
	case KEY_CERT:
		return set_string(&o->cert, arg);
	case KEY_KEY:
		return set_string(&o->key, arg);
	case KEY_TOKEN_FILE:
		return set_string(&o->token_file, arg);
	case KEY_CACERT:
		return set_string(&o->cacert, arg);
	case KEY_NETRC_FILE:
		return set_string(&o->netrc_file, arg);
	case KEY_INSECURE:
		o->insecure = true;
		return 0;
	case KEY_TTL:
		return parse_seconds(arg, &o->ttl);
	case KEY_EXPIRY:
		return parse_long(arg, 0, 100L * 365 * 86400, &o->expiry);
	case KEY_PAGE_SIZE:
		if (parse_long(arg, 1, 1000000, &n) != 0)
			return -1;
		o->page_size = (unsigned)n;
		return 0;
	case KEY_TIMEOUT:
		return parse_long(arg, 1, 86400, &o->timeout);
	case KEY_CACHE_MEM:
		if (parse_long(arg, 1, 1024L * 1024, &n) != 0)
			return -1;
		o->cache_mem = (size_t)n;
		return 0;
	case KEY_LOGLEVEL: {
		int level = jfs_log_level_parse(opt_value(arg));
		if (level < 0) {
			say("-o %s: expected err, warn, info or debug "
					"(see jobsfs -h)\n", arg);
			return -1;
		}
		o->log_level = level;
		return 0;
	}
	case KEY_HISTORY:
		if (strcmp(opt_value(arg), "off") == 0) {
			o->history_off = true;
			return 0;
		}
		if (!*opt_value(arg)) {
			say("-o history= needs a file, or off\n");
			return -1;
		}
		o->history_off = false;
		return set_string(&o->history, arg);
	case KEY_RECORD:
		if (strcmp(opt_value(arg), "off") == 0) {
			o->record = 0;
			return 0;
		}
		if (parse_seconds(arg, &o->record) != 0)
			return -1;
		if (o->record < 1) {
			say("-o %s: at least 1 second, or off\n", arg);
			return -1;
		}
		return 0;
	case KEY_HISTORY_KEEP:
		return parse_long(arg, 0, 100L * 365, &o->history_keep);
	case KEY_CONTROL:
		o->control = true;
		return 0;
	case KEY_ALLOW_OTHER:
		o->allow_other = true;
		return 1;
	case KEY_DEFAULT_PERMISSIONS:
		o->default_permissions = true;
		return 1;
	case FUSE_OPT_KEY_OPT:
		if (mount_keyword(arg))
			return 0;
		return 1; /* FUSE's own options and -f/-d/-s: left for libfuse */
	default:
		return 1; /* (every key of jfs_opt_spec has its case above) */
	}
}

int jfs_options_parse(struct fuse_args *args, struct jfs_options *o)
{
	memset(o, 0, sizeof(*o));
	o->ttl = JFS_STORE_TTL_DEFAULT;
	o->expiry = JFS_STORE_EXPIRY_DEFAULT;
	o->page_size = JFS_PAGE_SIZE_DEFAULT;
	o->timeout = 30;
	o->cache_mem = JFS_STORE_MEM_DEFAULT / (1024 * 1024);
	o->log_level = JFS_LOG_WARN;
	o->record = JFS_RECORDER_EVERY_DEFAULT;
	o->history_keep = JFS_HISTORY_KEEP_DAYS_DEFAULT;
	return fuse_opt_parse(args, o, jfs_opt_spec, opt_proc) == 0 ? 0 : -1;
}

void jfs_options_free(struct jfs_options *o)
{
	free(o->url);
	free(o->user);
	free(o->password_file);
	free(o->cert);
	free(o->key);
	free(o->token_file);
	free(o->cacert);
	free(o->netrc_file);
	free(o->history);
	memset(o, 0, sizeof(*o));
}

int jfs_url_check(char *url, char *msg, size_t len)
{
	const char *host;
	if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else {
		snprintf(msg, len, "%s: the URL needs a scheme, https://host[:port]", url);
		return -1;
	}
	size_t n = strlen(host);
	if (n > 0 && host[n - 1] == '/')
		url[strlen(url) - 1] = '\0', n--;
	if (n == 0) {
		snprintf(msg, len, "%s: the URL has no host", url);
		return -1;
	}
	if (memchr(host, '/', n) || memchr(host, '?', n) || memchr(host, '#', n)) {
		snprintf(msg, len, "%s: the URL must not have a path, only https://host[:port]",
			 url);
		return -1;
	}
	if (memchr(host, '@', n)) {
		snprintf(msg, len, "the URL must not hold credentials; use -o user= and "
				   "$JOBSFS_PASSWORD, -o password_file or ~/.netrc");
		return -1;
	}
	return 0;
}

int jfs_options_copy(struct jfs_options *dst, const struct jfs_options *src)
{
	*dst = *src;
	char **strings[] = { &dst->url,	     &dst->user,    &dst->password_file, &dst->cert,
			     &dst->key,	     &dst->token_file, &dst->cacert,	  &dst->netrc_file,
			     &dst->history };
	bool failed = false;
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		if (*strings[i] && !(*strings[i] = strdup(*strings[i])))
			failed = true;
	if (failed) {
		jfs_options_free(dst);
		return -1;
	}
	return 0;
}

/* A config's yes or no. */
static int flag_value(const char *v, bool *on)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return *on = true, 0;
		if (strcasecmp(v, no[i]) == 0)
			return *on = false, 0;
	}
	return -1;
}

int jfs_options_apply(struct jfs_options *o, const char *key, const char *value,
		      const char *file, int line)
{
	snprintf(opt_where, sizeof(opt_where), "%s:%d: ", file, line);
	int rc = 0;
	bool on;
	if (strcmp(key, "url") == 0) {
		char *url = strdup(value), msg[512];
		if (!url || jfs_url_check(url, msg, sizeof(msg)) != 0) {
			say("%s\n", url ? msg : "out of memory");
			free(url);
			rc = -1;
		} else {
			free(o->url);
			o->url = url;
		}
	} else if (strcmp(key, "insecure") == 0 || strcmp(key, "control") == 0) {
		if (flag_value(value, &on) != 0) {
			say("%s = %s: expected true or false\n", key, value);
			rc = -1;
		} else if (key[0] == 'i') {
			o->insecure = on;
		} else {
			o->control = on;
		}
	} else {
		/* -o splits at commas: the value's own are escaped, as are backslashes. */
		char *arg = malloc(strlen(key) + 2 * strlen(value) + 2);
		if (arg) {
			char *at = stpcpy(arg, key);
			*at++ = '=';
			for (const char *v = value; *v; v++) {
				if (*v == ',' || *v == '\\')
					*at++ = '\\';
				*at++ = *v;
			}
			*at = '\0';
		}
		if (!arg) {
			say("out of memory\n");
			rc = -1;
		} else {
			char *argv[] = { "jobsfs", "-o", arg, NULL };
			struct fuse_args args = FUSE_ARGS_INIT(3, argv);
			char *url = o->url; /* (a bare word would be taken as the URL) */
			rc = fuse_opt_parse(&args, o, jfs_opt_spec, opt_proc) == 0 ? 0 : -1;
			o->url = url;
			if (rc == 0 && args.argc > 1) { /* left for libfuse: not one of ours */
				say("%s: not an option of a cluster\n", key);
				rc = -1;
			}
			fuse_opt_free_args(&args);
			free(arg);
		}
	}
	opt_where[0] = '\0';
	return rc;
}
