/* The history's databases (internal to src/): what history.c asks of the one holding
 * the recorded jobs, SQLite (history_sqlite.c) or PostgreSQL (history_pg.c). One
 * logical schema in both (the README shows it): tables jobs, listings, gaps; times are
 * text in UTC (ISO 8601, +00:00), so they sort as they compare.
 *
 * history.c does everything else once: records into columns, views (the evaluator
 * decides; a database only narrows the rows with the conditions it is given), the
 * caches, gaps as text. A database connection is the backend's business; every
 * function here may be called from any thread. */
#ifndef JOBSFS_HISTORY_DB_H
#define JOBSFS_HISTORY_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobsfs/history.h"

struct jfs_error;

#define JFS_HISTORY_TIME_BUF 40

/* An epoch in the schema's form; NULL for 0 (absent). */
const char *jfs_history_time_text(int64_t epoch, char buf[JFS_HISTORY_TIME_BUF]);

/* The gap cause written when the window had no other. */
#define JFS_HISTORY_UNSEEN "not recorded (no jobsfs was recording this cluster)"

/* The upsert of one job, in both databases' SQL ($N numbers the parameters in SQLite
 * too: in order of first use). A finished job's row is written once: what the
 * cluster keeps never changes. $11 is the time it was seen. */
#define JFS_HISTORY_UPSERT_SQL                                                             \
	"INSERT INTO jobs (cluster, uuid, description, state, message, code, start_time,"  \
	" end_time, svm_name, record, first_seen, last_seen)"                              \
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)"                      \
	" ON CONFLICT (cluster, uuid) DO UPDATE SET description = excluded.description,"   \
	" state = excluded.state, message = excluded.message, code = excluded.code,"       \
	" start_time = excluded.start_time, end_time = excluded.end_time,"                 \
	" svm_name = excluded.svm_name, record = excluded.record,"                         \
	" last_seen = excluded.last_seen"                                                  \
	" WHERE jobs.state NOT IN ('success', 'failure')"

/* One recorded job's columns. */
struct jfs_hrow {
	const char *uuid;
	const char *description, *state, *message; /* NULL: absent */
	bool has_code;
	int64_t code;
	const char *start_time, *end_time; /* the schema's form; NULL: absent */
	const char *svm_name;
	const char *record; /* compact JSON */
};

/* What a database may narrow a view's rows by: "column op value", ANDed. Columns and
 * ops come from history.c only (never from a user): state "=" (compared without
 * letter case), end_time ">=" / "<=". */
#define JFS_HNARROW_MAX 8
struct jfs_hnarrow {
	struct {
		const char *column;
		const char *op;
		const char *value;
	} c[JFS_HNARROW_MAX];
	int n;
};

/* Called for each row of a scan (the record's JSON) or gap; non-zero stops. */
typedef int (*jfs_hrecord_fn)(void *arg, const char *record, size_t len);
typedef int (*jfs_hgap_fn)(void *arg, const char *from, const char *to, const char *cause);

struct jfs_hdb_ops {
	/* Open (create the schema when absent; refuse a newer one, or a file/database
	 * that is not a jobsfs history, with e naming it). */
	int (*open)(const struct jfs_history_config *cfg, void **db, struct jfs_error *e);
	void (*close)(void *db);
	/* One transaction: upsert rows (a finished job's row is never rewritten;
	 * first_seen kept, last_seen = seen); when listed, the gap since the cluster's
	 * previous last listing if it is older than expiry_ms (cause, else
	 * JFS_HISTORY_UNSEEN), and the last listing moved to seen_ms (never back). */
	int (*record)(void *db, const struct jfs_hrow *rows, size_t n, int64_t seen_ms,
		      bool listed, int64_t expiry_ms, const char *cause, struct jfs_error *e);
	int64_t (*last_listed)(void *db); /* 0: none, or unreadable */
	int (*add_gap)(void *db, int64_t from_ms, int64_t to_ms, const char *cause,
		       struct jfs_error *e);
	/* Drop finished jobs that ended, and gaps that ended, before `before`. */
	int (*prune)(void *db, const char *before, long *dropped, struct jfs_error *e);
	/* The record of uuid (malloc'd), -ENOENT when none. */
	int (*record_of)(void *db, const char *uuid, char **text, size_t *len,
			 struct jfs_error *e);
	/* Every record the conditions keep (in uuid order when by_uuid). */
	int (*scan)(void *db, const struct jfs_hnarrow *nw, bool by_uuid, jfs_hrecord_fn each,
		    void *arg, struct jfs_error *e);
	/* The n-th (1-based) end_time in that order among the rows nw keeps that have
	 * one: into out, *found false when fewer. */
	int (*nth_end_time)(void *db, const struct jfs_hnarrow *nw, bool desc, unsigned long n,
			    char out[JFS_HISTORY_TIME_BUF], bool *found, struct jfs_error *e);
	int (*gaps)(void *db, jfs_hgap_fn each, void *arg, struct jfs_error *e);
	/* Moves whenever anything was committed since (by anyone); 0: unknown. */
	uint64_t (*version)(void *db);
};

extern const struct jfs_hdb_ops jfs_hdb_sqlite;
extern const struct jfs_hdb_ops jfs_hdb_pg;

#endif
