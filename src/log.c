/* The one logging facility (see include/jobsfs/log.h). */
#include "jobsfs/log.h"

#include "jobsfs/error.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

/* Guards the three settings below; logging itself writes one line with one call, so
 * concurrent lines never interleave within a line. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_ident[32] = "jobsfs";
static enum jfs_log_level log_level = JFS_LOG_WARN;
static enum jfs_log_sink log_sink = JFS_LOG_STDERR;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

int jfs_log_level_parse(const char *name)
{
	static const struct {
		const char *name;
		enum jfs_log_level level;
	} names[] = {
		{ "err", JFS_LOG_ERR },	  { "error", JFS_LOG_ERR },   { "warn", JFS_LOG_WARN },
		{ "warning", JFS_LOG_WARN }, { "info", JFS_LOG_INFO }, { "debug", JFS_LOG_DEBUG },
	};
	if (!name)
		return -1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i].name) == 0)
			return (int)names[i].level;
	return -1;
}

void jfs_log_init(const char *ident, enum jfs_log_level level, enum jfs_log_sink sink)
{
	const char *env = getenv("JOBSFS_LOG");
	int env_level = jfs_log_level_parse(env);

	pthread_mutex_lock(&log_lock);
	if (ident)
		snprintf(log_ident, sizeof(log_ident), "%s", ident);
	log_level = env_level >= 0 ? (enum jfs_log_level)env_level : level;
	if (log_sink == JFS_LOG_SYSLOG && sink != JFS_LOG_SYSLOG)
		closelog();
	log_sink = sink;
	if (sink == JFS_LOG_SYSLOG)
		openlog(log_ident, LOG_PID, LOG_DAEMON);
	pthread_mutex_unlock(&log_lock);
}

void jfs_log_set_level(enum jfs_log_level level)
{
	pthread_mutex_lock(&log_lock);
	log_level = level;
	pthread_mutex_unlock(&log_lock);
}

bool jfs_log_enabled(enum jfs_log_level level)
{
	pthread_mutex_lock(&log_lock);
	bool on = level <= log_level;
	pthread_mutex_unlock(&log_lock);
	return on;
}

void jfs_log_at(enum jfs_log_level level, const char *file, int line, const char *func,
		const char *fmt, ...)
{
	static const int syslog_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char raw[2048], msg[2048];
	va_list ap;

	if (!jfs_log_enabled(level))
		return;
	va_start(ap, fmt);
	if (vsnprintf(raw, sizeof(raw), fmt, ap) < 0)
		raw[0] = '\0';
	va_end(ap);
	/* Lines quote what the cluster sent (uuids, times, next links): a newline or an
	 * escape sequence in it must not forge a line or rewrite the terminal. Every
	 * line is cleaned here, whatever its call site formats. */
	jfs_clean_text(msg, sizeof(msg), raw, strlen(raw));

	pthread_mutex_lock(&log_lock);
	enum jfs_log_sink sink = log_sink;
	char ident[sizeof(log_ident)];
	memcpy(ident, log_ident, sizeof(ident));
	pthread_mutex_unlock(&log_lock);

	if (sink == JFS_LOG_SYSLOG) {
		syslog(syslog_prio[level], "%s", msg);
		return;
	}
	/* One fprintf per line: stdio locks the stream, so lines from threads stay whole. */
	if (level == JFS_LOG_DEBUG) {
		const char *base = strrchr(file, '/');
		fprintf(stderr, "%s: debug: %s:%d %s: %s\n", ident, base ? base + 1 : file, line,
			func, msg);
	} else {
		fprintf(stderr, "%s: %s: %s\n", ident, level_names[level], msg);
	}
}
