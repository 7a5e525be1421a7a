/* The history: every job jobsfs saw, kept past the cluster's 300 s, in an SQLite file
 * (the default) or on a PostgreSQL server (a team's: several recorders, every
 * workstation reading), with one logical schema (history_db.h).
 *
 * One row per (cluster, uuid) in table `jobs` (the schema is in history.c and in the
 * README, for people who want SQL): the API's fields as columns (times in UTC, ISO
 * 8601), `record` the whole record as the cluster sent it (JSON), `first_seen` and
 * `last_seen`. A finished job is written once and never rewritten; an active job's row
 * follows its changes, so a job deleted while active keeps its last state.
 *
 * Views over the history answer like the cluster: ONTAP's query language is evaluated
 * by the one evaluator (eval.h) on the recorded records. Where an index serves a
 * filter (state, end_time ranges, order_by end_time with max_records) SQL narrows the
 * rows first; the evaluator still decides, so the answer is the evaluator's.
 *
 * Gaps: windows in which jobs may have come and gone unseen, because no listing of the
 * cluster was recorded for longer than the cluster keeps a finished job (expiry).
 * Per cluster, across every process recording into the file.
 *
 * WAL mode with a busy timeout: several processes may use one file. Reads and writes
 * use separate connections, so a long write never holds up a read. Thread-safe. */
#ifndef JOBSFS_HISTORY_H
#define JOBSFS_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobsfs/source.h"

struct jfs_error;
struct jfs_job;
struct jfs_listing;
struct jfs_query;

#define JFS_HISTORY_SCHEMA_VERSION 1
#define JFS_HISTORY_KEEP_DAYS_DEFAULT 30
#define JFS_HISTORY_BUSY_MS 5000 /* how long a write waits for another process's */

struct jfs_history_config {
	const char *path;	/* the SQLite file, or a PostgreSQL server's libpq URI
				 * (postgresql://USER@HOST[:PORT]/DB[?...], no password) */
	const char *cluster;	/* the cluster's key in the file: "host", "host_port" */
	double ttl;		/* seconds a view's answer is reused (>= 0) */
	/* Create the file's folder (0700, with missing parents) when absent. The file
	 * itself is always created 0600 when absent. */
	bool make_dirs;
};

struct jfs_history;

/* The cluster's key in a history file, from its URL (scheme://host[:port]): the host,
 * with "_PORT" when the port is not the scheme's default; bytes other than letters,
 * digits, '.', '-' and '_' become '_' (an IPv6 address's colons). -EINVAL for a URL
 * without a host, -ENAMETOOLONG when it does not fit len. */
int jfs_history_cluster_key(const char *url, char *buf, size_t len);

/* The default history file of cluster key: /var/lib/jobsfs/KEY.sqlite for root (a
 * mount from fstab), else $XDG_STATE_HOME/jobsfs/KEY.sqlite, $XDG_STATE_HOME being
 * ~/.local/state when unset. -ENOENT when neither it nor $HOME is set. */
int jfs_history_default_path(const char *key, char *buf, size_t len);

/* Whether where names a PostgreSQL server (postgresql://, postgres://) rather than a
 * file. */
bool jfs_history_is_server(const char *where);

/* Open (and create, or bring to the current schema) the history file. A file that
 * is not SQLite, is corrupt, is of a newer schema, or cannot be created is refused:
 * -errno with e naming the file and the cause. */
int jfs_history_open(const struct jfs_history_config *cfg, struct jfs_history **out,
		     struct jfs_error *e);
void jfs_history_close(struct jfs_history *h); /* NULL is fine */

const char *jfs_history_path(const struct jfs_history *h);

/* ---- writing (the recorder) ---- */

/* Record n jobs seen at seen_ms (cluster time), in one transaction. listed: they are
 * a whole listing of the cluster; then the cluster's last listing moves to seen_ms,
 * and when the previous one is older than expiry_ms a gap (previous, seen_ms, cause)
 * is written in the same transaction (cause: why nothing was recorded meanwhile;
 * NULL for "not recorded (no jobsfs was recording this cluster)"). Jobs without a
 * whole record (views with fields=) must not be passed. 0 or negative errno with e
 * saying why (-ENOSPC: the disk is full). */
int jfs_history_record(struct jfs_history *h, struct jfs_job *const *jobs, size_t n,
		       int64_t seen_ms, bool listed, int64_t expiry_ms, const char *cause,
		       struct jfs_error *e);

/* The cluster time (ms) of the last recorded listing of the cluster; 0 when none. */
int64_t jfs_history_last_listed(struct jfs_history *h);

/* Write a gap from from_ms to to_ms (cluster time). */
int jfs_history_add_gap(struct jfs_history *h, int64_t from_ms, int64_t to_ms,
			const char *cause, struct jfs_error *e);

/* Drop the cluster's finished jobs that ended, and gaps that ended, before before_ms.
 * *dropped gets the count of jobs (may be NULL). */
int jfs_history_prune(struct jfs_history *h, int64_t before_ms, long *dropped,
		      struct jfs_error *e);

/* ---- reading ---- */

/* The recorded jobs of view q (NULL: all), as a listing (full_records unless the
 * view names its fields). -EINVAL with e quoting the evaluator for a bad query. */
int jfs_history_listing(struct jfs_history *h, const struct jfs_query *q,
			struct jfs_listing **out, struct jfs_error *e);

/* The recorded job with this uuid; -ENOENT when none. */
int jfs_history_job(struct jfs_history *h, const char *uuid, struct jfs_job **out,
		    struct jfs_error *e);

/* The gaps, one line each: "FROM TO CAUSE\n" (ISO 8601, UTC), oldest first. *text is
 * malloc'd ("" when none). */
int jfs_history_gaps(struct jfs_history *h, char **text, size_t *len, struct jfs_error *e);

/* The history as the source of MOUNT/.history (source.h): recorded jobs never
 * expire; a finished one never changes. */
struct jfs_source jfs_history_source(struct jfs_history *h);

#endif
