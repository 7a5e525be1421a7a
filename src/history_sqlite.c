/* The history in an SQLite file (see history_db.h): the embedded default.
 *
 * Durability: WAL with synchronous=FULL, so a transaction that returned is on disk
 * and survives kill -9 and power loss alike; one transaction per listing keeps that
 * to one fsync a minute. Connections: the recorder writes on one of its own; readers
 * take one from a small pool, so a long scan never waits for a write (WAL) and never
 * holds up another reader; a last one is asked only for the file's version. */
#include "history_db.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobsfs/error.h"

static const char schema_sql[] =
	"CREATE TABLE jobs ("
	" cluster TEXT NOT NULL,"
	" uuid TEXT NOT NULL,"
	" description TEXT,"
	" state TEXT COLLATE NOCASE,"
	" message TEXT,"
	" code INTEGER,"
	" start_time TEXT,"
	" end_time TEXT,"
	" svm_name TEXT,"
	" record TEXT NOT NULL,"
	" first_seen TEXT NOT NULL,"
	" last_seen TEXT NOT NULL,"
	" PRIMARY KEY (cluster, uuid));"
	"CREATE INDEX jobs_end_time ON jobs (cluster, end_time);"
	"CREATE INDEX jobs_state ON jobs (cluster, state, end_time);"
	"CREATE TABLE listings ("
	" cluster TEXT PRIMARY KEY,"
	" last_listed INTEGER NOT NULL);" /* ms since the epoch, cluster time */
	"CREATE TABLE gaps ("
	" cluster TEXT NOT NULL,"
	" from_time TEXT NOT NULL,"
	" to_time TEXT NOT NULL,"
	" cause TEXT NOT NULL);"
	"CREATE INDEX gaps_cluster ON gaps (cluster, from_time);";

#define POOL_MAX 4 /* idle read connections kept */

struct sqlite_db {
	char *path;
	char *cluster;

	pthread_mutex_t write_lock; /* guards wdb (the recorder's connection) */
	sqlite3 *wdb;

	pthread_mutex_t pool_lock; /* guards pool, npool and vdb */
	sqlite3 *pool[POOL_MAX];   /* idle read connections */
	size_t npool;
	sqlite3 *vdb;		   /* asked only for PRAGMA data_version: it moves when
				    * any other connection (the recorder's, another
				    * process's) commits, and is comparable only on the
				    * one connection */
};

/* ---- errors ----------------------------------------------------------------------- */

static int sql_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return ENOSPC;
	case SQLITE_NOMEM:
		return ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return EBUSY;
	case SQLITE_READONLY:
		return EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return EACCES;
	default:
		return EIO;
	}
}

/* Fill e from db's last error: "history PATH: what: SQLite's message". */
static int sql_fail(struct sqlite_db *h, sqlite3 *db, int rc, const char *what,
		    struct jfs_error *e)
{
	int err = sql_errno(rc);
	if ((rc & 0xff) == SQLITE_CANTOPEN && db && sqlite3_system_errno(db))
		err = sqlite3_system_errno(db);
	return jfs_error_set(e, err, "history %s: %s: %s", h->path, what,
			     db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

/* ---- connections ------------------------------------------------------------------ */

static int exec(struct sqlite_db *h, sqlite3 *db, const char *sql, const char *what,
		struct jfs_error *e)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : sql_fail(h, db, rc, what, e);
}

static int conn_open(struct sqlite_db *h, bool reader, sqlite3 **out, struct jfs_error *e)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(h->path, &db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
					 SQLITE_OPEN_EXRESCODE,
				 NULL);
	if (rc != SQLITE_OK) {
		sql_fail(h, db, rc, "cannot open", e);
		sqlite3_close(db);
		return -e->err;
	}
	sqlite3_busy_timeout(db, JFS_HISTORY_BUSY_MS);
	if (reader)
		rc = exec(h, db, "PRAGMA query_only = 1", "cannot read", e);
	else
		rc = exec(h, db, "PRAGMA synchronous = FULL", "cannot set up", e);
	if (rc != 0) {
		sqlite3_close(db);
		return rc;
	}
	*out = db;
	return 0;
}

static int conn_get(struct sqlite_db *h, sqlite3 **db, struct jfs_error *e)
{
	pthread_mutex_lock(&h->pool_lock);
	*db = h->npool > 0 ? h->pool[--h->npool] : NULL;
	pthread_mutex_unlock(&h->pool_lock);
	return *db ? 0 : conn_open(h, true, db, e);
}

static void conn_put(struct sqlite_db *h, sqlite3 *db)
{
	pthread_mutex_lock(&h->pool_lock);
	if (h->npool < POOL_MAX) {
		h->pool[h->npool++] = db;
		db = NULL;
	}
	pthread_mutex_unlock(&h->pool_lock);
	sqlite3_close(db); /* NULL is fine */
}

/* ---- opening ---------------------------------------------------------------------- */

/* mkdir -p of path's folder, each new folder 0700. */
static int make_dirs(const char *path, struct jfs_error *e)
{
	char dir[PATH_MAX];
	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return jfs_error_set(e, ENAMETOOLONG, "history %s: path too long", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char keep = *p;
		*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return jfs_error_set(e, errno, "history %s: cannot create folder %s: %s",
					     path, dir, strerror(errno));
		if (!keep)
			break;
		*p = keep;
	}
	return 0;
}

/* Create the file 0600 when absent: messages can name customers' volumes, and SQLite
 * would make it 0644 (its -wal and -shm files take the file's mode). */
static int create_file(const char *path, struct jfs_error *e)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return jfs_error_set(e, errno, "history %s: cannot open or create: %s", path,
				     strerror(errno));
	close(fd);
	return 0;
}

static int user_version(struct sqlite_db *h, sqlite3 *db, int *version, int *objects,
			struct jfs_error *e)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "SELECT (SELECT user_version FROM pragma_user_version),"
				    " (SELECT count(*) FROM sqlite_master)",
				    -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*version = sqlite3_column_int(st, 0);
		*objects = sqlite3_column_int(st, 1);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_OK ? 0 : sql_fail(h, db, rc, "not a usable SQLite file", e);
}

/* Bring the file to the current schema, or refuse it. */
static int schema_ready(struct sqlite_db *h, struct jfs_error *e)
{
	int version, objects;
	int rc = user_version(h, h->wdb, &version, &objects, e);
	if (rc != 0)
		return rc;
	if (version == JFS_HISTORY_SCHEMA_VERSION)
		return 0;
	if (version > JFS_HISTORY_SCHEMA_VERSION)
		return jfs_error_set(e, EPROTO,
				     "history %s: schema version %d is newer than this jobsfs "
				     "knows (%d): use a newer jobsfs, or another file",
				     h->path, version, JFS_HISTORY_SCHEMA_VERSION);
	rc = exec(h, h->wdb, "BEGIN IMMEDIATE", "cannot create the schema", e);
	if (rc != 0)
		return rc;
	/* Again inside the transaction: another process may have created it. */
	rc = user_version(h, h->wdb, &version, &objects, e);
	if (rc == 0 && version == 0 && objects > 0)
		rc = jfs_error_set(e, EPROTO,
				   "history %s: an SQLite file that is not a jobsfs history "
				   "(it has tables of its own)",
				   h->path);
	if (rc == 0 && version == 0) {
		char sql[sizeof(schema_sql) + 64];
		snprintf(sql, sizeof(sql), "%sPRAGMA user_version = %d;", schema_sql,
			 JFS_HISTORY_SCHEMA_VERSION);
		rc = exec(h, h->wdb, sql, "cannot create the schema", e);
	}
	if (rc == 0)
		return exec(h, h->wdb, "COMMIT", "cannot create the schema", e);
	sqlite3_exec(h->wdb, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static void db_close(void *db)
{
	struct sqlite_db *h = db;
	if (!h)
		return;
	for (size_t i = 0; i < h->npool; i++)
		sqlite3_close(h->pool[i]);
	sqlite3_close(h->vdb);
	sqlite3_close(h->wdb);
	pthread_mutex_destroy(&h->write_lock);
	pthread_mutex_destroy(&h->pool_lock);
	free(h->path);
	free(h->cluster);
	free(h);
}

static int db_open(const struct jfs_history_config *cfg, void **out, struct jfs_error *e)
{
	struct sqlite_db *h = calloc(1, sizeof(*h));
	if (!h)
		return jfs_error_set(e, ENOMEM, "out of memory opening the history");
	h->path = strdup(cfg->path);
	h->cluster = strdup(cfg->cluster);
	pthread_mutex_init(&h->write_lock, NULL);
	pthread_mutex_init(&h->pool_lock, NULL);
	int rc = 0;
	if (!h->path || !h->cluster)
		rc = jfs_error_set(e, ENOMEM, "out of memory opening the history");
	if (rc == 0 && cfg->make_dirs)
		rc = make_dirs(h->path, e);
	if (rc == 0)
		rc = create_file(h->path, e);
	if (rc == 0)
		rc = conn_open(h, false, &h->wdb, e);
	/* WAL: readers and one writer at once, across processes too. */
	if (rc == 0)
		rc = exec(h, h->wdb, "PRAGMA journal_mode = WAL", "not a usable SQLite file", e);
	if (rc == 0)
		rc = schema_ready(h, e);
	if (rc == 0)
		rc = conn_open(h, true, &h->vdb, e);
	if (rc != 0) {
		db_close(h);
		return rc;
	}
	*out = h;
	return 0;
}

/* ---- writing ---------------------------------------------------------------------- */

static void bind_text(sqlite3_stmt *st, int col, const char *s)
{
	if (s)
		sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, col);
}


static int64_t last_listed_locked(sqlite3 *db, const char *cluster)
{
	sqlite3_stmt *st = NULL;
	int64_t at = 0;
	if (sqlite3_prepare_v2(db, "SELECT last_listed FROM listings WHERE cluster = ?1", -1,
			       &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, cluster, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			at = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return at;
}

static int add_gap_locked(struct sqlite_db *h, int64_t from_ms, int64_t to_ms,
			  const char *cause, struct jfs_error *e)
{
	char from[JFS_HISTORY_TIME_BUF], to[JFS_HISTORY_TIME_BUF];
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(h->wdb,
				    "INSERT INTO gaps (cluster, from_time, to_time, cause)"
				    " VALUES (?1, ?2, ?3, ?4)",
				    -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, h->cluster, -1, SQLITE_STATIC);
		bind_text(st, 2, jfs_history_time_text(from_ms / 1000, from));
		bind_text(st, 3, jfs_history_time_text(to_ms / 1000, to));
		sqlite3_bind_text(st, 4, cause, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sql_fail(h, h->wdb, rc, "cannot record a gap", e);
}

static int record_locked(struct sqlite_db *h, const struct jfs_hrow *rows, size_t n,
			 int64_t seen_ms, bool listed, int64_t expiry_ms, const char *cause,
			 struct jfs_error *e)
{
	char seen[JFS_HISTORY_TIME_BUF];
	jfs_history_time_text(seen_ms / 1000, seen);
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(h->wdb, JFS_HISTORY_UPSERT_SQL, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sql_fail(h, h->wdb, rc, "cannot record", e);
	int err = 0;
	for (size_t i = 0; i < n && err == 0; i++) {
		const struct jfs_hrow *r = &rows[i];
		sqlite3_bind_text(st, 1, h->cluster, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, r->uuid, -1, SQLITE_STATIC);
		bind_text(st, 3, r->description);
		bind_text(st, 4, r->state);
		bind_text(st, 5, r->message);
		if (r->has_code)
			sqlite3_bind_int64(st, 6, r->code);
		else
			sqlite3_bind_null(st, 6);
		bind_text(st, 7, r->start_time);
		bind_text(st, 8, r->end_time);
		bind_text(st, 9, r->svm_name);
		bind_text(st, 10, r->record);
		sqlite3_bind_text(st, 11, seen, -1, SQLITE_STATIC);
		if ((rc = sqlite3_step(st)) != SQLITE_DONE)
			err = sql_fail(h, h->wdb, rc, "cannot record", e);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	sqlite3_finalize(st);
	if (err != 0 || !listed)
		return err;

	int64_t before = last_listed_locked(h->wdb, h->cluster);
	if (before > 0 && seen_ms - before > expiry_ms) {
		err = add_gap_locked(h, before, seen_ms, cause ? cause : JFS_HISTORY_UNSEEN, e);
		if (err != 0)
			return err;
	}
	rc = sqlite3_prepare_v2(h->wdb,
				"INSERT INTO listings (cluster, last_listed) VALUES (?1, ?2)"
				" ON CONFLICT (cluster) DO UPDATE SET last_listed ="
				" max(last_listed, excluded.last_listed)",
				-1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, h->cluster, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, seen_ms);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sql_fail(h, h->wdb, rc, "cannot record", e);
}

static int db_record(void *db, const struct jfs_hrow *rows, size_t n, int64_t seen_ms,
		     bool listed, int64_t expiry_ms, const char *cause, struct jfs_error *e)
{
	struct sqlite_db *h = db;
	pthread_mutex_lock(&h->write_lock);
	int rc = exec(h, h->wdb, "BEGIN IMMEDIATE", "cannot record", e);
	if (rc == 0)
		rc = record_locked(h, rows, n, seen_ms, listed, expiry_ms, cause, e);
	if (rc == 0)
		rc = exec(h, h->wdb, "COMMIT", "cannot record", e);
	if (rc != 0 && !sqlite3_get_autocommit(h->wdb))
		sqlite3_exec(h->wdb, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&h->write_lock);
	return rc;
}

static int64_t db_last_listed(void *db)
{
	struct sqlite_db *h = db;
	pthread_mutex_lock(&h->write_lock);
	int64_t at = last_listed_locked(h->wdb, h->cluster);
	pthread_mutex_unlock(&h->write_lock);
	return at;
}

static int db_add_gap(void *db, int64_t from_ms, int64_t to_ms, const char *cause,
		      struct jfs_error *e)
{
	struct sqlite_db *h = db;
	pthread_mutex_lock(&h->write_lock);
	int rc = add_gap_locked(h, from_ms, to_ms, cause, e);
	pthread_mutex_unlock(&h->write_lock);
	return rc;
}

static int db_prune(void *db, const char *before, long *dropped, struct jfs_error *e)
{
	struct sqlite_db *h = db;
	pthread_mutex_lock(&h->write_lock);
	int rc = exec(h, h->wdb, "BEGIN IMMEDIATE", "cannot prune", e);
	long n = 0;
	static const char *const sql[] = {
		"DELETE FROM jobs WHERE cluster = ?1 AND end_time < ?2"
		" AND state IN ('success', 'failure')",
		"DELETE FROM gaps WHERE cluster = ?1 AND to_time < ?2",
	};
	for (size_t i = 0; i < 2 && rc == 0; i++) {
		sqlite3_stmt *st = NULL;
		int s = sqlite3_prepare_v2(h->wdb, sql[i], -1, &st, NULL);
		if (s == SQLITE_OK) {
			sqlite3_bind_text(st, 1, h->cluster, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, before, -1, SQLITE_STATIC);
			s = sqlite3_step(st);
		}
		sqlite3_finalize(st);
		if (s != SQLITE_DONE)
			rc = sql_fail(h, h->wdb, s, "cannot prune", e);
		else if (i == 0)
			n = sqlite3_changes(h->wdb);
	}
	if (rc == 0)
		rc = exec(h, h->wdb, "COMMIT", "cannot prune", e);
	if (rc != 0 && !sqlite3_get_autocommit(h->wdb))
		sqlite3_exec(h->wdb, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&h->write_lock);
	*dropped = rc == 0 ? n : 0;
	return rc;
}

/* ---- reading ---------------------------------------------------------------------- */

static int db_record_of(void *db, const char *uuid, char **text, size_t *len,
			struct jfs_error *e)
{
	struct sqlite_db *h = db;
	sqlite3 *c;
	int rc = conn_get(h, &c, e);
	if (rc != 0)
		return rc;
	sqlite3_stmt *st = NULL;
	int s = sqlite3_prepare_v2(c, "SELECT record FROM jobs WHERE cluster = ?1 AND uuid = ?2",
				   -1, &st, NULL);
	if (s == SQLITE_OK) {
		sqlite3_bind_text(st, 1, h->cluster, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, uuid, -1, SQLITE_STATIC);
		s = sqlite3_step(st);
	}
	if (s == SQLITE_ROW) {
		*len = (size_t)sqlite3_column_bytes(st, 0);
		*text = malloc(*len + 1);
		if (*text)
			memcpy(*text, sqlite3_column_text(st, 0), *len + 1);
		else
			rc = jfs_error_set(e, ENOMEM, "out of memory reading the history");
	} else if (s == SQLITE_DONE) {
		rc = jfs_error_set(e, ENOENT, "no job %s in the history", uuid);
	} else {
		rc = sql_fail(h, c, s, "cannot read", e);
	}
	sqlite3_finalize(st);
	conn_put(h, c);
	return rc;
}

/* "SELECT ... FROM jobs WHERE cluster = ?1 AND <nw>" + tail, its values bound. */
static int prepare_where(struct sqlite_db *h, sqlite3 *c, const char *head,
			 const struct jfs_hnarrow *nw, const char *tail, sqlite3_stmt **st,
			 struct jfs_error *e)
{
	char sql[1024];
	/* Nothing to narrow by: read the table in the order it lies ("+cluster" keeps
	 * the planner off the indexes that begin with cluster, whose walk would fetch
	 * each row at random). */
	size_t len = (size_t)snprintf(sql, sizeof(sql), "%s WHERE %scluster = ?1", head,
				      nw->n == 0 && !strstr(tail, "ORDER BY") ? "+" : "");
	for (int i = 0; i < nw->n && len < sizeof(sql); i++)
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, " AND %s %s ?%d",
					nw->c[i].column, nw->c[i].op, i + 2);
	if (len < sizeof(sql))
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s", tail);
	if (len >= sizeof(sql))
		return jfs_error_set(e, EINVAL, "history: a view too long to ask");
	int rc = sqlite3_prepare_v2(c, sql, -1, st, NULL);
	if (rc != SQLITE_OK)
		return sql_fail(h, c, rc, "cannot read", e);
	sqlite3_bind_text(*st, 1, h->cluster, -1, SQLITE_STATIC);
	for (int i = 0; i < nw->n; i++)
		sqlite3_bind_text(*st, i + 2, nw->c[i].value, -1, SQLITE_STATIC);
	return 0;
}

static int db_scan(void *db, const struct jfs_hnarrow *nw, bool by_uuid, jfs_hrecord_fn each,
		   void *arg, struct jfs_error *e)
{
	struct sqlite_db *h = db;
	sqlite3 *c;
	sqlite3_stmt *st;
	int rc = conn_get(h, &c, e);
	if (rc != 0)
		return rc;
	rc = prepare_where(h, c, "SELECT record FROM jobs", nw, by_uuid ? " ORDER BY uuid" : "",
			   &st, e);
	if (rc == 0) {
		int s;
		while ((s = sqlite3_step(st)) == SQLITE_ROW)
			if ((rc = each(arg, (const char *)sqlite3_column_text(st, 0),
				       (size_t)sqlite3_column_bytes(st, 0))) != 0)
				break;
		if (rc == 0 && s != SQLITE_DONE)
			rc = sql_fail(h, c, s, "cannot read", e);
		sqlite3_finalize(st);
	}
	conn_put(h, c);
	return rc;
}

static int db_nth_end_time(void *db, const struct jfs_hnarrow *nw, bool desc, unsigned long n,
			   char out[JFS_HISTORY_TIME_BUF], bool *found, struct jfs_error *e)
{
	struct sqlite_db *h = db;
	sqlite3 *c;
	sqlite3_stmt *st;
	char tail[128];
	*found = false;
	int rc = conn_get(h, &c, e);
	if (rc != 0)
		return rc;
	snprintf(tail, sizeof(tail), " AND end_time IS NOT NULL ORDER BY end_time %s"
		 " LIMIT 1 OFFSET %lu", desc ? "DESC" : "ASC", n - 1);
	rc = prepare_where(h, c, "SELECT end_time FROM jobs", nw, tail, &st, e);
	if (rc == 0) {
		int s = sqlite3_step(st);
		if (s == SQLITE_ROW) {
			snprintf(out, JFS_HISTORY_TIME_BUF, "%s",
				 (const char *)sqlite3_column_text(st, 0));
			*found = true;
		} else if (s != SQLITE_DONE) {
			rc = sql_fail(h, c, s, "cannot read", e);
		}
		sqlite3_finalize(st);
	}
	conn_put(h, c);
	return rc;
}

static int db_gaps(void *db, jfs_hgap_fn each, void *arg, struct jfs_error *e)
{
	struct sqlite_db *h = db;
	sqlite3 *c;
	sqlite3_stmt *st = NULL;
	int rc = conn_get(h, &c, e);
	if (rc != 0)
		return rc;
	int s = sqlite3_prepare_v2(c,
				   "SELECT from_time, to_time, cause FROM gaps WHERE cluster = ?1"
				   " ORDER BY from_time, to_time",
				   -1, &st, NULL);
	if (s == SQLITE_OK) {
		sqlite3_bind_text(st, 1, h->cluster, -1, SQLITE_STATIC);
		while ((s = sqlite3_step(st)) == SQLITE_ROW) {
			const char *cause = (const char *)sqlite3_column_text(st, 2);
			if ((rc = each(arg, (const char *)sqlite3_column_text(st, 0),
				       (const char *)sqlite3_column_text(st, 1),
				       cause ? cause : "")) != 0)
				break;
		}
	}
	if (rc == 0 && s != SQLITE_DONE)
		rc = sql_fail(h, c, s, "cannot read the gaps", e);
	sqlite3_finalize(st);
	conn_put(h, c);
	return rc;
}

/* 1 + data_version, so 0 stays "unknown". */
static uint64_t db_version(void *db)
{
	struct sqlite_db *h = db;
	sqlite3_stmt *st = NULL;
	uint64_t v = 0;
	pthread_mutex_lock(&h->pool_lock);
	if (sqlite3_prepare_v2(h->vdb, "PRAGMA data_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = 1 + (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	pthread_mutex_unlock(&h->pool_lock);
	return v;
}

const struct jfs_hdb_ops jfs_hdb_sqlite = {
	.open = db_open,
	.close = db_close,
	.record = db_record,
	.last_listed = db_last_listed,
	.add_gap = db_add_gap,
	.prune = db_prune,
	.record_of = db_record_of,
	.scan = db_scan,
	.nth_end_time = db_nth_end_time,
	.gaps = db_gaps,
	.version = db_version,
};
