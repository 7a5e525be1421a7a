/* The history in SQLite (see jobsfs/history.h).
 *
 * Durability: WAL with synchronous=FULL, so a transaction that returned is on disk
 * and survives kill -9 and power loss alike; one transaction per listing keeps that
 * to one fsync a minute. Connections: the recorder writes on one of its own; readers
 * take one from a small pool, so a long scan never waits for a write (WAL) and never
 * holds up another reader. */
#include "jobsfs/history.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "jobsfs/clock.h"
#include "jobsfs/error.h"
#include "jobsfs/eval.h"
#include "jobsfs/isotime.h"
#include "jobsfs/job.h"
#include "jobsfs/listing.h"
#include "jobsfs/log.h"
#include "jobsfs/query.h"

/* The schema, as the README shows it. Times are text in UTC (ISO 8601, +00:00), so
 * they sort as they compare; `record` is the record as the cluster sent it. */
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

#define POOL_MAX 4	  /* idle read connections kept */
#define VIEW_CACHE 8	  /* views whose answers are reused within ttl */
#define JSON_DEPTH 256	  /* records were accepted by the client's own limit */
#define TERMINAL_LIFE 3600.0 /* seconds the kernel keeps a recorded finished job */
#define JOB_CACHE 4096	  /* jobs kept by uuid (direct-mapped): a walk resolves each
			   * job a dozen times, once per file looked up */

struct cached_view {
	char *key;		/* jfs_query_string, "" for every job */
	struct jfs_listing *l;	/* a reference */
};

struct jfs_history {
	char *path;
	char *cluster;
	int64_t ttl_ms;

	pthread_mutex_t write_lock; /* guards wdb (the recorder's connection) */
	sqlite3 *wdb;

	pthread_mutex_t cache_lock;	    /* guards jobs */
	struct cached_job {
		struct jfs_job *job;	    /* a reference; NULL: empty */
		int64_t mono_ms;	    /* when it was read */
	} jobs[JOB_CACHE];

	pthread_mutex_t pool_lock; /* guards pool, npool, views, next_view, vdb */
	sqlite3 *vdb;		   /* asked only for PRAGMA data_version: it moves when
				    * any other connection (the recorder's, another
				    * process's) commits, and is comparable only on the
				    * one connection */
	sqlite3 *pool[POOL_MAX];   /* idle read connections */
	size_t npool;
	struct cached_view views[VIEW_CACHE];
	size_t next_view;	   /* the slot a new view takes (round robin) */
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

/* Fill e from db's last error: "PATH: what: SQLite's message". */
static int sql_fail(struct jfs_history *h, sqlite3 *db, int rc, const char *what,
		    struct jfs_error *e)
{
	int err = sql_errno(rc);
	if ((rc & 0xff) == SQLITE_CANTOPEN && db && sqlite3_system_errno(db))
		err = sqlite3_system_errno(db);
	return jfs_error_set(e, err, "history %s: %s: %s", h->path, what,
			     db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

/* ---- connections ------------------------------------------------------------------ */

static int exec(struct jfs_history *h, sqlite3 *db, const char *sql, const char *what,
		struct jfs_error *e)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : sql_fail(h, db, rc, what, e);
}

static int conn_open(struct jfs_history *h, bool reader, sqlite3 **out, struct jfs_error *e)
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

static int conn_get(struct jfs_history *h, sqlite3 **db, struct jfs_error *e)
{
	pthread_mutex_lock(&h->pool_lock);
	*db = h->npool > 0 ? h->pool[--h->npool] : NULL;
	pthread_mutex_unlock(&h->pool_lock);
	return *db ? 0 : conn_open(h, true, db, e);
}

static void conn_put(struct jfs_history *h, sqlite3 *db)
{
	pthread_mutex_lock(&h->pool_lock);
	if (h->npool < POOL_MAX) {
		h->pool[h->npool++] = db;
		db = NULL;
	}
	pthread_mutex_unlock(&h->pool_lock);
	sqlite3_close(db); /* NULL is fine */
}

/* ---- naming ----------------------------------------------------------------------- */

int jfs_history_cluster_key(const char *url, char *buf, size_t len)
{
	const char *host = strstr(url, "://");
	bool https = strncmp(url, "https://", 8) == 0;
	if (!host || !host[3])
		return -EINVAL;
	host += 3;
	size_t n = strcspn(host, "/?#");
	const char *port = NULL;
	if (host[0] == '[') { /* [v6]:port */
		const char *close = memchr(host, ']', n);
		if (close && close + 1 < host + n && close[1] == ':')
			port = close + 2;
	} else {
		const char *colon = memchr(host, ':', n);
		if (colon)
			port = colon + 1;
	}
	size_t host_len = port ? (size_t)(port - 1 - host) : n;
	size_t port_len = port ? (size_t)(host + n - port) : 0;
	if (port && ((https && port_len == 3 && strncmp(port, "443", 3) == 0) ||
		     (!https && port_len == 2 && strncmp(port, "80", 2) == 0)))
		port_len = 0;
	if (host_len + (port_len ? port_len + 1 : 0) + 1 > len)
		return -ENAMETOOLONG;
	size_t k = 0;
	for (size_t i = 0; i < host_len; i++) {
		char c = host[i];
		if (c == '[' || c == ']')
			continue;
		bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
		buf[k++] = safe ? c : '_';
	}
	if (port_len) {
		buf[k++] = '_';
		memcpy(buf + k, port, port_len);
		k += port_len;
	}
	buf[k] = '\0';
	return k > 0 ? 0 : -EINVAL;
}

int jfs_history_default_path(const char *key, char *buf, size_t len)
{
	int n;
	const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	if (geteuid() == 0)
		n = snprintf(buf, len, "/var/lib/jobsfs/%s.sqlite", key);
	else if (state && state[0] == '/')
		n = snprintf(buf, len, "%s/jobsfs/%s.sqlite", state, key);
	else if (home && home[0] == '/')
		n = snprintf(buf, len, "%s/.local/state/jobsfs/%s.sqlite", home, key);
	else
		return -ENOENT;
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
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

static int user_version(struct jfs_history *h, sqlite3 *db, int *version, int *objects,
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
static int schema_ready(struct jfs_history *h, struct jfs_error *e)
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

int jfs_history_open(const struct jfs_history_config *cfg, struct jfs_history **out,
		     struct jfs_error *e)
{
	struct jfs_history *h = calloc(1, sizeof(*h));
	if (!h)
		return jfs_error_set(e, ENOMEM, "out of memory opening the history");
	h->path = strdup(cfg->path);
	h->cluster = strdup(cfg->cluster);
	h->ttl_ms = (int64_t)(cfg->ttl * 1000.0);
	pthread_mutex_init(&h->write_lock, NULL);
	pthread_mutex_init(&h->pool_lock, NULL);
	pthread_mutex_init(&h->cache_lock, NULL);
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
		jfs_history_close(h);
		return rc;
	}
	*out = h;
	return 0;
}

void jfs_history_close(struct jfs_history *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->npool; i++)
		sqlite3_close(h->pool[i]);
	for (size_t i = 0; i < VIEW_CACHE; i++) {
		free(h->views[i].key);
		jfs_listing_unref(h->views[i].l);
	}
	for (size_t i = 0; i < JOB_CACHE; i++)
		jfs_job_unref(h->jobs[i].job);
	sqlite3_close(h->vdb);
	sqlite3_close(h->wdb);
	pthread_mutex_destroy(&h->write_lock);
	pthread_mutex_destroy(&h->pool_lock);
	pthread_mutex_destroy(&h->cache_lock);
	free(h->path);
	free(h->cluster);
	free(h);
}

const char *jfs_history_path(const struct jfs_history *h)
{
	return h->path;
}

/* ---- writing ---------------------------------------------------------------------- */

#define TIME_BUF 40

/* An epoch in the schema's form (UTC ISO 8601); NULL for 0 (absent). */
static const char *time_text(int64_t epoch, char buf[TIME_BUF])
{
	if (epoch == 0 || jfs_isotime_format(epoch, 0, buf, TIME_BUF) < 0)
		return NULL;
	return buf;
}

static void bind_text(sqlite3_stmt *st, int col, const char *s)
{
	if (s)
		sqlite3_bind_text(st, col, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, col);
}

static const char *string_member(json_object *o, const char *name)
{
	json_object *v;
	if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static const char upsert_sql[] =
	"INSERT INTO jobs (cluster, uuid, description, state, message, code, start_time,"
	" end_time, svm_name, record, first_seen, last_seen)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)"
	" ON CONFLICT (cluster, uuid) DO UPDATE SET description = excluded.description,"
	" state = excluded.state, message = excluded.message, code = excluded.code,"
	" start_time = excluded.start_time, end_time = excluded.end_time,"
	" svm_name = excluded.svm_name, record = excluded.record,"
	" last_seen = excluded.last_seen"
	/* A finished job is written once: what the cluster keeps never changes. */
	" WHERE jobs.state NOT IN ('success', 'failure')";

/* Bind job's columns to the upsert. The record is job.json made compact again:
 * parsed back, it prints as job.json did (json-c keeps member order and numbers'
 * text), so the history shows the very bytes the live tree showed. */
static int bind_job(struct jfs_history *h, sqlite3_stmt *st, const struct jfs_job *job,
		    const char *seen, struct jfs_error *e)
{
	const struct jfs_node *rec = jfs_node_child(&job->root, "job.json");
	if (!rec || rec->is_dir)
		return jfs_error_set(e, EINVAL, "job %s has no record", job->uuid);
	struct json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
	if (!tok)
		return jfs_error_set(e, ENOMEM, "out of memory recording job %s", job->uuid);
	json_object *o = json_tokener_parse_ex(tok, rec->data, (int)rec->size);
	json_tokener_free(tok);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return jfs_error_set(e, EINVAL, "job %s: its record does not parse", job->uuid);
	}
	char start[TIME_BUF], end[TIME_BUF];
	json_object *code = NULL, *svm = NULL;
	sqlite3_bind_text(st, 1, h->cluster, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, job->uuid, -1, SQLITE_STATIC);
	bind_text(st, 3, string_member(o, "description"));
	bind_text(st, 4, string_member(o, "state"));
	bind_text(st, 5, string_member(o, "message"));
	if (json_object_object_get_ex(o, "code", &code) && json_object_is_type(code, json_type_int))
		sqlite3_bind_int64(st, 6, json_object_get_int64(code));
	else
		sqlite3_bind_null(st, 6);
	bind_text(st, 7, time_text(job->start_time, start));
	bind_text(st, 8, time_text(job->end_time, end));
	bind_text(st, 9, json_object_object_get_ex(o, "svm", &svm) ? string_member(svm, "name")
								    : NULL);
	sqlite3_bind_text(st, 10,
			  json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								    JSON_C_TO_STRING_NOSLASHESCAPE),
			  -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 11, seen, -1, SQLITE_STATIC);
	json_object_put(o);
	return 0;
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

static int add_gap_locked(struct jfs_history *h, int64_t from_ms, int64_t to_ms,
			  const char *cause, struct jfs_error *e)
{
	char from[TIME_BUF], to[TIME_BUF];
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(h->wdb,
				    "INSERT INTO gaps (cluster, from_time, to_time, cause)"
				    " VALUES (?1, ?2, ?3, ?4)",
				    -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, h->cluster, -1, SQLITE_STATIC);
		bind_text(st, 2, time_text(from_ms / 1000, from));
		bind_text(st, 3, time_text(to_ms / 1000, to));
		sqlite3_bind_text(st, 4, cause, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sql_fail(h, h->wdb, rc, "cannot record a gap", e);
}

static int record_locked(struct jfs_history *h, struct jfs_job *const *jobs, size_t n,
			 int64_t seen_ms, bool listed, int64_t expiry_ms, const char *cause,
			 struct jfs_error *e)
{
	char seen[TIME_BUF];
	time_text(seen_ms / 1000, seen);
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(h->wdb, upsert_sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sql_fail(h, h->wdb, rc, "cannot record", e);
	int err = 0;
	for (size_t i = 0; i < n && err == 0; i++) {
		err = bind_job(h, st, jobs[i], seen, e);
		if (err == -EINVAL) { /* one odd record never stops the rest */
			jfs_warn("%s", e->message);
			err = 0;
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			continue;
		}
		if (err == 0 && (rc = sqlite3_step(st)) != SQLITE_DONE)
			err = sql_fail(h, h->wdb, rc, "cannot record", e);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	sqlite3_finalize(st);
	if (err != 0 || !listed)
		return err;

	int64_t before = last_listed_locked(h->wdb, h->cluster);
	if (before > 0 && seen_ms - before > expiry_ms) {
		err = add_gap_locked(h, before, seen_ms,
				     cause ? cause : "not recorded (no jobsfs was recording "
						     "this cluster)",
				     e);
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

int jfs_history_record(struct jfs_history *h, struct jfs_job *const *jobs, size_t n,
		       int64_t seen_ms, bool listed, int64_t expiry_ms, const char *cause,
		       struct jfs_error *e)
{
	pthread_mutex_lock(&h->write_lock);
	int rc = exec(h, h->wdb, "BEGIN IMMEDIATE", "cannot record", e);
	if (rc == 0)
		rc = record_locked(h, jobs, n, seen_ms, listed, expiry_ms, cause, e);
	if (rc == 0)
		rc = exec(h, h->wdb, "COMMIT", "cannot record", e);
	if (rc != 0 && !sqlite3_get_autocommit(h->wdb))
		sqlite3_exec(h->wdb, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&h->write_lock);
	return rc;
}

int64_t jfs_history_last_listed(struct jfs_history *h)
{
	pthread_mutex_lock(&h->write_lock);
	int64_t at = last_listed_locked(h->wdb, h->cluster);
	pthread_mutex_unlock(&h->write_lock);
	return at;
}

int jfs_history_add_gap(struct jfs_history *h, int64_t from_ms, int64_t to_ms,
			const char *cause, struct jfs_error *e)
{
	pthread_mutex_lock(&h->write_lock);
	int rc = add_gap_locked(h, from_ms, to_ms, cause, e);
	pthread_mutex_unlock(&h->write_lock);
	return rc;
}

int jfs_history_prune(struct jfs_history *h, int64_t before_ms, long *dropped,
		      struct jfs_error *e)
{
	char before[TIME_BUF];
	time_text(before_ms / 1000, before);
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
	if (dropped)
		*dropped = rc == 0 ? n : 0;
	return rc;
}

/* ---- reading: one job ------------------------------------------------------------- */

static json_object *parse_record(const char *text, int len)
{
	struct json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
	if (!tok)
		return NULL;
	json_object *o = json_tokener_parse_ex(tok, text, len);
	json_tokener_free(tok);
	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

static size_t job_slot(const char *uuid)
{
	uint64_t x = 1469598103934665603ULL;
	for (const char *c = uuid; *c; c++)
		x = (x ^ (unsigned char)*c) * 1099511628211ULL;
	return (size_t)(x % JOB_CACHE);
}

/* The job from the cache: a finished one for good (a recorded finished job never
 * changes), an active one within ttl. */
static struct jfs_job *cached_job(struct jfs_history *h, const char *uuid)
{
	struct jfs_job *job = NULL;
	size_t i = job_slot(uuid);
	pthread_mutex_lock(&h->cache_lock);
	struct cached_job *c = &h->jobs[i];
	if (c->job && strcmp(c->job->uuid, uuid) == 0 &&
	    (jfs_job_is_terminal(c->job) || c->mono_ms + h->ttl_ms > jfs_mono_ms()))
		job = jfs_job_ref(c->job);
	pthread_mutex_unlock(&h->cache_lock);
	return job;
}

static void cache_job(struct jfs_history *h, struct jfs_job *job)
{
	struct jfs_job *old;
	size_t i = job_slot(job->uuid);
	pthread_mutex_lock(&h->cache_lock);
	old = h->jobs[i].job;
	h->jobs[i].job = jfs_job_ref(job);
	h->jobs[i].mono_ms = jfs_mono_ms();
	pthread_mutex_unlock(&h->cache_lock);
	jfs_job_unref(old);
}

int jfs_history_job(struct jfs_history *h, const char *uuid, struct jfs_job **out,
		    struct jfs_error *e)
{
	if ((*out = cached_job(h, uuid)))
		return 0;
	sqlite3 *db;
	int rc = conn_get(h, &db, e);
	if (rc != 0)
		return rc;
	sqlite3_stmt *st = NULL;
	int s = sqlite3_prepare_v2(db, "SELECT record FROM jobs WHERE cluster = ?1 AND uuid = ?2",
				   -1, &st, NULL);
	if (s == SQLITE_OK) {
		sqlite3_bind_text(st, 1, h->cluster, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, uuid, -1, SQLITE_STATIC);
		s = sqlite3_step(st);
	}
	if (s == SQLITE_ROW) {
		json_object *o = parse_record((const char *)sqlite3_column_text(st, 0),
					      sqlite3_column_bytes(st, 0));
		rc = o ? jfs_job_from_json(o, out, e)
		       : jfs_error_set(e, EIO, "history %s: job %s: its record does not parse",
				       h->path, uuid);
		json_object_put(o);
		if (rc == 0)
			cache_job(h, *out);
	} else if (s == SQLITE_DONE) {
		rc = jfs_error_set(e, ENOENT, "no job %s in the history", uuid);
	} else {
		rc = sql_fail(h, db, s, "cannot read", e);
	}
	sqlite3_finalize(st);
	conn_put(h, db);
	return rc;
}

/* ---- reading: views --------------------------------------------------------------- */

/* The file's version: any commit since moves it. 1 + data_version, so 0 stays "none";
 * 0 when it cannot be read (then nothing is taken as unchanged). */
static uint64_t version_locked(struct jfs_history *h)
{
	sqlite3_stmt *st = NULL;
	uint64_t v = 0;
	if (sqlite3_prepare_v2(h->vdb, "PRAGMA data_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = 1 + (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static uint64_t version_now(struct jfs_history *h)
{
	pthread_mutex_lock(&h->pool_lock);
	uint64_t v = version_locked(h);
	pthread_mutex_unlock(&h->pool_lock);
	return v;
}

/* A view compiled: the evaluator's filters, order and fields, and what SQL can do of
 * it (a WHERE clause that keeps every row the filters keep). */
struct view {
	struct jfs_eval_filter **filters;
	size_t nfilters;
	struct jfs_eval_order *order;
	struct jfs_eval_fields *fields; /* NULL: whole records */
	unsigned long cap;		/* max_records, 0: none */
	int order_end_time;		/* order_by is end_time alone: 1 asc, -1 desc, 0 no */
	char where[512];		/* " AND ..." with ?N for binds[N - 2] */
	char *binds[8];
	int nbinds;
};

static void view_free(struct view *v)
{
	for (size_t i = 0; i < v->nfilters; i++)
		jfs_eval_filter_free(v->filters[i]);
	free(v->filters);
	jfs_eval_order_free(v->order);
	jfs_eval_fields_free(v->fields);
	for (int i = 0; i < v->nbinds; i++)
		free(v->binds[i]);
}

static int eval_fail(const struct jfs_eval_error *err, struct jfs_error *e)
{
	int rc = jfs_error_set(e, EINVAL, "%s", err->message);
	snprintf(e->code, sizeof(e->code), "%s", err->code);
	snprintf(e->target, sizeof(e->target), "%.*s", (int)sizeof(e->target) - 1, err->target);
	return rc;
}

/* Add " AND column op ?N" binding text. */
static void where_add(struct view *v, const char *column, const char *op, const char *text)
{
	if (v->nbinds >= (int)(sizeof(v->binds) / sizeof(v->binds[0])))
		return; /* SQL narrows less; the evaluator still decides */
	char *copy = strdup(text);
	if (!copy)
		return;
	size_t len = strlen(v->where);
	int n = snprintf(v->where + len, sizeof(v->where) - len, " AND %s %s ?%d", column, op,
			 v->nbinds + 2);
	if (n < 0 || (size_t)n >= sizeof(v->where) - len) {
		v->where[len] = '\0';
		free(copy);
		return;
	}
	v->binds[v->nbinds++] = copy;
}

/* A time as the schema writes it, from a query's value; false when it is not one. */
static bool time_value(const char *s, size_t len, char buf[TIME_BUF])
{
	char tmp[TIME_BUF];
	int64_t epoch;
	if (len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return jfs_isotime_parse(tmp, &epoch) == 0 && time_text(epoch, buf) != NULL;
}

/* What SQL can narrow for field=query: a plain state, or an end_time range. Only
 * the simplest forms; anything else is left to the evaluator alone. */
static void push_down(struct view *v, const char *field, const char *query)
{
	if (strpbrk(query, "*|!{}\"") != NULL)
		return;
	if (strcmp(field, "state") == 0) {
		for (const char *c = query; *c; c++)
			if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')))
				return;
		if (*query)
			where_add(v, "state", "=", query); /* NOCASE, as the evaluator folds */
		return;
	}
	if (strcmp(field, "end_time") != 0)
		return;
	char t[TIME_BUF], u[TIME_BUF];
	const char *dots = strstr(query, "..");
	/* end_time is whole seconds in the column: a bound on seconds keeps every row
	 * whose instant is within it (">" widened to ">="). */
	if (dots && time_value(query, (size_t)(dots - query), t) &&
	    time_value(dots + 2, strlen(dots + 2), u)) {
		where_add(v, "end_time", ">=", t);
		where_add(v, "end_time", "<=", u);
	} else if (query[0] == '>' || query[0] == '<') {
		const char *at = query + 1 + (query[1] == '=');
		if (time_value(at, strlen(at), t))
			where_add(v, "end_time", query[0] == '>' ? ">=" : "<=", t);
	}
}

static int view_compile(const struct jfs_query *q, struct view *v, struct jfs_error *e)
{
	struct jfs_eval_error err;
	size_t n = q ? jfs_query_count(q) : 0;
	memset(v, 0, sizeof(*v));
	if (n > 0 && !(v->filters = calloc(n, sizeof(*v->filters))))
		return jfs_error_set(e, ENOMEM, "out of memory compiling a view");
	for (size_t i = 0; i < n; i++) {
		const char *value;
		const char *name = jfs_query_name_at(q, i, &value);
		if (strcmp(name, JFS_QUERY_MAX_RECORDS) == 0) {
			v->cap = jfs_query_max_records(q);
		} else if (strcmp(name, JFS_QUERY_ORDER_BY) == 0) {
			if (jfs_eval_order_parse(value, &v->order, &err) != 0)
				return eval_fail(&err, e);
			const char *desc = " desc";
			size_t len = strlen(value);
			if (strcmp(value, "end_time") == 0 || strcmp(value, "end_time asc") == 0)
				v->order_end_time = 1;
			else if (len == strlen("end_time") + strlen(desc) &&
				 strncmp(value, "end_time", 8) == 0 && strcmp(value + 8, desc) == 0)
				v->order_end_time = -1;
		} else if (strcmp(name, JFS_QUERY_FIELDS) == 0) {
			if (strcmp(value, "*") != 0 && strcmp(value, "**") != 0 &&
			    jfs_eval_fields_parse(value, &v->fields, &err) != 0)
				return eval_fail(&err, e);
		} else {
			if (jfs_eval_filter_compile(name, value, &v->filters[v->nfilters], &err) != 0)
				return eval_fail(&err, e);
			v->nfilters++;
			push_down(v, name, value);
		}
	}
	return 0;
}

static int prepare_where(struct jfs_history *h, sqlite3 *db, const char *head,
			 const struct view *v, const char *tail, sqlite3_stmt **st,
			 struct jfs_error *e)
{
	char sql[1024];
	snprintf(sql, sizeof(sql), "%s WHERE cluster = ?1%s%s", head, v->where, tail);
	int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);
	if (rc != SQLITE_OK)
		return sql_fail(h, db, rc, "cannot read", e);
	sqlite3_bind_text(*st, 1, h->cluster, -1, SQLITE_STATIC);
	for (int i = 0; i < v->nbinds; i++)
		sqlite3_bind_text(*st, i + 2, v->binds[i], -1, SQLITE_STATIC);
	return 0;
}

/* order_by=end_time with max_records N: the N-th end_time in that order bounds the
 * rows worth reading (an index walk of N entries), so the last twenty of a million
 * jobs read twenty-odd records. Ties at the bound are all kept; the evaluator sorts
 * and cuts. Rows without end_time sort last, so with N rows having one they are out. */
static int bound_by_order(struct jfs_history *h, sqlite3 *db, struct view *v,
			  struct jfs_error *e)
{
	if (!v->order_end_time || v->cap == 0)
		return 0;
	char tail[160];
	snprintf(tail, sizeof(tail), " AND end_time IS NOT NULL ORDER BY end_time %s LIMIT 1 OFFSET %lu",
		 v->order_end_time > 0 ? "ASC" : "DESC", v->cap - 1);
	sqlite3_stmt *st;
	int rc = prepare_where(h, db, "SELECT end_time FROM jobs", v, tail, &st, e);
	if (rc != 0)
		return rc;
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		where_add(v, "end_time", v->order_end_time > 0 ? "<=" : ">=",
			  (const char *)sqlite3_column_text(st, 0));
	else if (s != SQLITE_DONE)
		rc = sql_fail(h, db, s, "cannot read", e);
	sqlite3_finalize(st);
	return rc;
}

/* A job of a view's answer, with its row of typed values when the view is ordered. */
struct hit {
	struct jfs_job *job;
	struct jfs_eval_row *row;
};

struct hits {
	struct hit *v;
	size_t n, cap;
};

static void hits_free(struct hits *hs)
{
	for (size_t i = 0; i < hs->n; i++) {
		jfs_job_unref(hs->v[i].job);
		jfs_eval_row_free(hs->v[i].row);
	}
	free(hs->v);
}

static int cmp_hits(const void *a, const void *b, void *order)
{
	return jfs_eval_order_compare_rows(order, ((const struct hit *)a)->row,
					   ((const struct hit *)b)->row);
}

/* One matching record into hs: its job (projected when the view names fields), and
 * its row when the view is ordered. The record's json is not kept: a million of them
 * would be gigabytes, their jobs and rows a fraction. */
static int keep_hit(struct jfs_history *h, const struct view *v, json_object *o,
		    struct hits *hs, struct jfs_error *e)
{
	if (hs->n == hs->cap) {
		size_t cap = hs->cap ? hs->cap * 2 : 256;
		struct hit *grown = realloc(hs->v, cap * sizeof(*grown));
		if (!grown)
			return jfs_error_set(e, ENOMEM, "out of memory reading the history");
		hs->v = grown;
		hs->cap = cap;
	}
	struct hit *ht = &hs->v[hs->n];
	memset(ht, 0, sizeof(*ht));
	json_object *shown = v->fields ? jfs_eval_fields_project(v->fields, o) : json_object_get(o);
	struct jfs_error je;
	jfs_error_clear(&je);
	if (!shown)
		return jfs_error_set(e, ENOMEM, "out of memory reading the history");
	int rc = jfs_job_from_json(shown, &ht->job, &je);
	json_object_put(shown);
	if (rc == -ENOMEM)
		return jfs_error_set(e, ENOMEM, "out of memory reading the history");
	if (rc != 0) { /* not ours to judge: sqlite3 users may have edited it */
		jfs_warn("history %s: a record skipped: %s", h->path, je.message);
		return 0;
	}
	if (v->order && !(ht->row = jfs_eval_row_new(o))) {
		jfs_job_unref(ht->job);
		return jfs_error_set(e, ENOMEM, "out of memory reading the history");
	}
	hs->n++;
	return 0;
}

static int scan(struct jfs_history *h, sqlite3 *db, const struct view *v, struct hits *hs,
		struct jfs_error *e)
{
	sqlite3_stmt *st;
	/* Unordered views answer in uuid order, as the cluster does; an ordered one is
	 * sorted below, so SQL is free to walk whichever index narrows best. */
	int rc = prepare_where(h, db, "SELECT record FROM jobs", v, v->order ? "" : " ORDER BY uuid",
			       &st, e);
	if (rc != 0)
		return rc;
	int s;
	while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
		json_object *o = parse_record((const char *)sqlite3_column_text(st, 0),
					      sqlite3_column_bytes(st, 0));
		if (!o)
			continue;
		bool keep = true;
		for (size_t i = 0; i < v->nfilters && keep; i++)
			keep = jfs_eval_filter_match(v->filters[i], o);
		if (keep)
			rc = keep_hit(h, v, o, hs, e);
		json_object_put(o);
		/* Unordered, the answer is in uuid order: the first cap are it. */
		if (!v->order && v->cap && hs->n >= v->cap) {
			s = SQLITE_DONE;
			break;
		}
	}
	if (rc == 0 && s != SQLITE_DONE)
		rc = sql_fail(h, db, s, "cannot read", e);
	sqlite3_finalize(st);
	return rc;
}

static int listing_of(struct jfs_history *h, const struct jfs_query *q,
		      struct jfs_listing **out, struct jfs_error *e)
{
	struct view v;
	struct hits hs = { 0 };
	sqlite3 *db = NULL;
	uint64_t version = version_now(h); /* before reading: a commit meanwhile moves it */
	int rc = view_compile(q, &v, e);
	if (rc == 0)
		rc = conn_get(h, &db, e);
	if (rc == 0)
		rc = bound_by_order(h, db, &v, e);
	if (rc == 0)
		rc = scan(h, db, &v, &hs, e);
	if (db)
		conn_put(h, db);
	if (rc == 0 && v.order && hs.n > 1)
		qsort_r(hs.v, hs.n, sizeof(*hs.v), cmp_hits, v.order);
	size_t keep = v.cap && v.cap < hs.n ? v.cap : hs.n;
	struct jfs_job **jobs = keep ? malloc(keep * sizeof(*jobs)) : NULL;
	if (rc == 0 && keep && !jobs)
		rc = jfs_error_set(e, ENOMEM, "out of memory reading the history");
	if (rc == 0) {
		for (size_t i = 0; i < keep; i++)
			jobs[i] = hs.v[i].job;
		int64_t now = (int64_t)time(NULL) * 1000;
		*out = jfs_listing_new(jobs, keep, now, now, jfs_mono_ms(), !v.fields);
		if (!*out)
			rc = jfs_error_set(e, ENOMEM, "out of memory reading the history");
		else
			(*out)->version = version; /* not shared yet */
	}
	free(jobs);
	hits_free(&hs); /* the listing holds its own references */
	view_free(&v);
	return rc;
}

int jfs_history_listing(struct jfs_history *h, const struct jfs_query *q,
			struct jfs_listing **out, struct jfs_error *e)
{
	const char *key = q ? jfs_query_string(q) : "";
	int64_t now = jfs_mono_ms();
	pthread_mutex_lock(&h->pool_lock);
	uint64_t version = 0;
	for (size_t i = 0; i < VIEW_CACHE; i++) {
		struct cached_view *c = &h->views[i];
		if (!c->key || strcmp(c->key, key) != 0)
			continue;
		/* Within ttl, or older but the file has not changed since: the same. */
		if (c->l->ready_mono_ms + h->ttl_ms > now ||
		    (c->l->version && c->l->version == (version ? version
								 : (version = version_locked(h))))) {
			*out = jfs_listing_ref(c->l);
			pthread_mutex_unlock(&h->pool_lock);
			return 0;
		}
	}
	pthread_mutex_unlock(&h->pool_lock);

	int rc = listing_of(h, q, out, e);
	if (rc != 0)
		return rc;
	char *copy = strdup(key);
	if (!copy)
		return 0; /* not kept: asked again next time */
	pthread_mutex_lock(&h->pool_lock);
	struct cached_view *c = &h->views[h->next_view];
	h->next_view = (h->next_view + 1) % VIEW_CACHE;
	free(c->key);
	jfs_listing_unref(c->l);
	c->key = copy;
	c->l = jfs_listing_ref(*out);
	pthread_mutex_unlock(&h->pool_lock);
	return 0;
}

/* ---- gaps ------------------------------------------------------------------------- */

int jfs_history_gaps(struct jfs_history *h, char **text, size_t *len, struct jfs_error *e)
{
	sqlite3 *db;
	int rc = conn_get(h, &db, e);
	if (rc != 0)
		return rc;
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	sqlite3_stmt *st = NULL;
	int s = f ? sqlite3_prepare_v2(db,
				       "SELECT from_time, to_time, cause FROM gaps WHERE cluster = ?1"
				       " ORDER BY from_time, to_time",
				       -1, &st, NULL)
		  : SQLITE_NOMEM;
	if (s == SQLITE_OK) {
		sqlite3_bind_text(st, 1, h->cluster, -1, SQLITE_STATIC);
		while ((s = sqlite3_step(st)) == SQLITE_ROW) {
			char cause[256];
			const char *c = (const char *)sqlite3_column_text(st, 2);
			jfs_clean_text(cause, sizeof(cause), c ? c : "", c ? strlen(c) : 0);
			fprintf(f, "%s %s %s\n", sqlite3_column_text(st, 0),
				sqlite3_column_text(st, 1), cause);
		}
	}
	sqlite3_finalize(st);
	if (f && fclose(f) != 0)
		s = SQLITE_NOMEM;
	if (s != SQLITE_DONE) {
		rc = sql_fail(h, db, s, "cannot read the gaps", e);
		free(buf);
	} else {
		*text = buf;
		*len = size;
	}
	conn_put(h, db);
	return rc;
}

/* ---- the history as a source (source.h) ------------------------------------------- */

static int source_listing(void *self, const struct jfs_query *q, struct jfs_listing **out,
			  struct jfs_error *e)
{
	return jfs_history_listing(self, q, out, e);
}

static int source_check(void *self, const struct jfs_query *q, struct jfs_error *e)
{
	(void)self;
	struct view v;
	int rc = view_compile(q, &v, e);
	view_free(&v);
	return rc;
}

static int source_job(void *self, const char *uuid, struct jfs_job **out, struct jfs_error *e)
{
	return jfs_history_job(self, uuid, out, e);
}

static int64_t source_now_ms(void *self)
{
	(void)self;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t source_job_expires_ms(void *self, const struct jfs_job *job, int64_t seen_ms)
{
	(void)self, (void)job, (void)seen_ms;
	return INT64_MAX; /* only retention removes a recorded job */
}

/* A recorded finished job never changes; an active one changes as recording goes on. */
static double source_job_life(void *self, const struct jfs_job *job)
{
	struct jfs_history *h = self;
	return jfs_job_is_terminal(job) ? TERMINAL_LIFE : (double)h->ttl_ms / 1000.0;
}

/* A view's answer stays true for ttl, and then for as long as the file does not change
 * (a million-job .history is not read again every ttl for nothing). */
static double source_listing_life(void *self, const struct jfs_listing *l)
{
	struct jfs_history *h = self;
	int64_t left = l->ready_mono_ms + h->ttl_ms - jfs_mono_ms();
	if (left > 0)
		return (double)left / 1000.0;
	return l->version && l->version == version_now(h) ? (double)h->ttl_ms / 1000.0 : 0.0;
}

static const struct jfs_source_ops history_source_ops = {
	.listing = source_listing,
	.check = source_check,
	.job = source_job,
	.now_ms = source_now_ms,
	.job_expires_ms = source_job_expires_ms,
	.job_life = source_job_life,
	.listing_life = source_listing_life,
};

struct jfs_source jfs_history_source(struct jfs_history *h)
{
	return (struct jfs_source){ .ops = &history_source_ops, .self = h };
}
