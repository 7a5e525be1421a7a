/* The one logging facility of jobsfs: every part of the project logs through it.
 *
 * Lines go to stderr (foreground, tests) or to syslog (daemonized mount). Each line
 * carries the level and, at debug level, the source location. Nothing passed here
 * may hold a password or a token: callers log requests, statuses and the cluster's
 * messages, never credentials. */
#ifndef JOBSFS_LOG_H
#define JOBSFS_LOG_H

#include <stdbool.h>

enum jfs_log_level {
	JFS_LOG_ERR = 0,
	JFS_LOG_WARN = 1,
	JFS_LOG_INFO = 2,
	JFS_LOG_DEBUG = 3,
};

enum jfs_log_sink {
	JFS_LOG_STDERR = 0,
	JFS_LOG_SYSLOG = 1,
};

/* Set the program name, threshold and sink. Safe to call again (e.g. when the
 * mount daemonizes and moves from stderr to syslog). Without a call: "jobsfs",
 * JFS_LOG_WARN, stderr. The JOBSFS_LOG environment variable (err, warn, info,
 * debug) overrides the threshold given here, so tests can turn on debug. */
void jfs_log_init(const char *ident, enum jfs_log_level level, enum jfs_log_sink sink);
void jfs_log_set_level(enum jfs_log_level level);
bool jfs_log_enabled(enum jfs_log_level level);
/* Parse "err", "warn", "info", "debug"; -1 when unknown. */
int jfs_log_level_parse(const char *name);

void jfs_log_at(enum jfs_log_level level, const char *file, int line, const char *func,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define jfs_err(...) jfs_log_at(JFS_LOG_ERR, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define jfs_warn(...) jfs_log_at(JFS_LOG_WARN, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define jfs_info(...) jfs_log_at(JFS_LOG_INFO, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define jfs_debug(...)                                                                   \
	do {                                                                             \
		if (jfs_log_enabled(JFS_LOG_DEBUG))                                      \
			jfs_log_at(JFS_LOG_DEBUG, __FILE__, __LINE__, __func__, __VA_ARGS__); \
	} while (0)

#endif
