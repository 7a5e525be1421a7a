/* The history on a PostgreSQL server (see history_db.h): a team's, shared by several
 * recorders and read by every workstation.
 *
 * The connection is a libpq URI (postgresql://USER@HOST[:PORT]/DB[?sslmode=...]); the
 * password comes from libpq's own sources (~/.pgpass, PGPASSFILE, PGPASSWORD, a client
 * certificate): a URI that holds one is refused, and no URI with one is ever logged.
 *
 * Connections: a libpq connection serves one thread at a time, so the recorder writes
 * on one of its own and readers take one from a small pool. A connection that broke
 * (the server restarted) is reset on its next use. Reads stream rows (single-row
 * mode): a million-row view is never a million rows in memory at once.
 *
 * Several recorders: rows are upserted (a finished job's row is never rewritten), and
 * each record transaction locks its cluster's listings row first, so that two
 * recorders see each other's last listing and never both write the same gap. */
#include "history_db.h"

#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobsfs/clock.h"
#include "jobsfs/error.h"

#define POOL_MAX 4		/* idle read connections kept */
#define CONNECT_TIMEOUT "10"	/* seconds, unless the URI says otherwise */
#define VERSION_REUSE_MS 500	/* a version read is reused this long (a round trip) */
#define SCHEMA_LOCK "7206126001" /* pg_advisory_xact_lock key: one creator at a time */

static const char schema_sql[] =
	"CREATE TABLE jobs ("
	" cluster text COLLATE \"C\" NOT NULL,"
	" uuid text COLLATE \"C\" NOT NULL,"
	" description text,"
	" state text,"
	" message text,"
	" code bigint,"
	" start_time text COLLATE \"C\","
	" end_time text COLLATE \"C\","
	" svm_name text,"
	" record text NOT NULL,"
	" first_seen text NOT NULL,"
	" last_seen text NOT NULL,"
	" PRIMARY KEY (cluster, uuid));"
	"CREATE INDEX jobs_end_time ON jobs (cluster, end_time);"
	"CREATE INDEX jobs_state ON jobs (cluster, lower(state), end_time);"
	"CREATE TABLE listings ("
	" cluster text COLLATE \"C\" PRIMARY KEY,"
	" last_listed bigint NOT NULL);" /* ms since the epoch, cluster time */
	"CREATE TABLE gaps ("
	" cluster text COLLATE \"C\" NOT NULL,"
	" from_time text COLLATE \"C\" NOT NULL,"
	" to_time text COLLATE \"C\" NOT NULL,"
	" cause text NOT NULL);"
	"CREATE INDEX gaps_cluster ON gaps (cluster, from_time);"
	/* What SQLite's data_version is to the SQLite history: moves at every commit. */
	"CREATE TABLE changes ("
	" cluster text COLLATE \"C\" PRIMARY KEY,"
	" version bigint NOT NULL);"
	"CREATE TABLE jobsfs_schema (version integer NOT NULL);";

struct pg_db {
	char *uri;	/* as given (it holds no password: refused at open) */
	char *cluster;

	pthread_mutex_t write_lock; /* guards wconn (the recorder's) */
	PGconn *wconn;

	pthread_mutex_t pool_lock; /* guards pool, npool, version, version_ms */
	PGconn *pool[POOL_MAX];
	size_t npool;
	uint64_t version;
	int64_t version_ms;
};

/* ---- errors ----------------------------------------------------------------------- */

/* libpq's message, one line (it ends its messages with newlines). */
static const char *pq_message(PGconn *c, const PGresult *r)
{
	const char *m = r ? PQresultErrorMessage(r) : NULL;
	if (!m || !*m)
		m = c ? PQerrorMessage(c) : "out of memory";
	return m;
}

static int pg_fail(struct pg_db *h, PGconn *c, const PGresult *r, const char *what,
		   struct jfs_error *e)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	int err = EIO;
	if (state && (strncmp(state, "53100", 5) == 0)) /* disk_full */
		err = ENOSPC;
	else if (state && (strncmp(state, "42501", 5) == 0 || strncmp(state, "28", 2) == 0))
		err = EACCES; /* insufficient privilege; invalid authorization */
	int rc = jfs_error_set(e, err, "history %s: %s: %s", h->uri, what, pq_message(c, r));
	/* One line: libpq ends messages with a newline, some have two. */
	for (char *p = e->message; *p; p++)
		if (*p == '\n')
			*p = p[1] ? ' ' : '\0';
	return rc;
}

/* ---- connections ------------------------------------------------------------------ */

static PGconn *connect_uri(const char *uri)
{
	/* The URI's own settings win: they come after (expand_dbname). */
	const char *const keys[] = { "connect_timeout", "application_name", "dbname", NULL };
	const char *const values[] = { CONNECT_TIMEOUT, "jobsfs", uri, NULL };
	return PQconnectdbParams(keys, values, 1);
}

static int conn_open(struct pg_db *h, PGconn **out, struct jfs_error *e)
{
	PGconn *c = connect_uri(h->uri);
	if (!c || PQstatus(c) != CONNECTION_OK) {
		int rc = pg_fail(h, c, NULL, "cannot connect", e);
		PQfinish(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* A connection that broke (the server went away) is tried again, once per use. */
static int conn_ready(struct pg_db *h, PGconn *c, struct jfs_error *e)
{
	if (PQstatus(c) == CONNECTION_OK)
		return 0;
	PQreset(c);
	return PQstatus(c) == CONNECTION_OK ? 0 : pg_fail(h, c, NULL, "cannot connect", e);
}

static int conn_get(struct pg_db *h, PGconn **c, struct jfs_error *e)
{
	pthread_mutex_lock(&h->pool_lock);
	*c = h->npool > 0 ? h->pool[--h->npool] : NULL;
	pthread_mutex_unlock(&h->pool_lock);
	if (!*c)
		return conn_open(h, c, e);
	int rc = conn_ready(h, *c, e);
	if (rc != 0) {
		PQfinish(*c);
		*c = NULL;
	}
	return rc;
}

static void conn_put(struct pg_db *h, PGconn *c)
{
	if (PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE) {
		pthread_mutex_lock(&h->pool_lock);
		if (h->npool < POOL_MAX) {
			h->pool[h->npool++] = c;
			c = NULL;
		}
		pthread_mutex_unlock(&h->pool_lock);
	}
	PQfinish(c); /* NULL is fine */
}

/* Run sql with text parameters; *out gets the result when wanted (else cleared). */
static int run(struct pg_db *h, PGconn *c, const char *sql, int n, const char *const *params,
	       const char *what, PGresult **out, struct jfs_error *e)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		int rc = pg_fail(h, c, r, what, e);
		PQclear(r);
		return rc;
	}
	if (out)
		*out = r;
	else
		PQclear(r);
	return 0;
}

static void rollback(PGconn *c)
{
	if (PQtransactionStatus(c) != PQTRANS_IDLE)
		PQclear(PQexec(c, "ROLLBACK"));
}

/* ---- opening ---------------------------------------------------------------------- */

/* A password in the URI would be on a command line and in fstab: libpq's own sources
 * are the place for it. */
static bool uri_has_password(const char *uri)
{
	const char *p = strstr(uri, "://");
	if (!p)
		return false;
	p += 3;
	size_t authority = strcspn(p, "/?#");
	const char *at = memchr(p, '@', authority);
	if (at && memchr(p, ':', (size_t)(at - p)))
		return true;
	const char *q = strchr(p, '?');
	return q && (strstr(q, "password=") != NULL);
}

static int schema_ready(struct pg_db *h, struct jfs_error *e)
{
	PGconn *c = h->wconn;
	PGresult *r = NULL;
	int rc = run(h, c, "BEGIN", 0, NULL, "cannot create the schema", NULL, e);
	/* One creator at a time, across every recorder and reader. */
	if (rc == 0)
		rc = run(h, c, "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK ")", 0, NULL,
			 "cannot create the schema", NULL, e);
	if (rc == 0)
		rc = run(h, c,
			 "SELECT to_regclass('jobsfs_schema') IS NOT NULL,"
			 " to_regclass('jobs') IS NOT NULL",
			 0, NULL, "cannot read the schema", &r, e);
	if (rc != 0) {
		rollback(c);
		return rc;
	}
	bool have_schema = PQgetvalue(r, 0, 0)[0] == 't', have_jobs = PQgetvalue(r, 0, 1)[0] == 't';
	PQclear(r);
	if (have_schema) {
		rc = run(h, c, "SELECT max(version) FROM jobsfs_schema", 0, NULL,
			 "cannot read the schema", &r, e);
		if (rc == 0) {
			int version = atoi(PQgetvalue(r, 0, 0));
			PQclear(r);
			if (version > JFS_HISTORY_SCHEMA_VERSION)
				rc = jfs_error_set(e, EPROTO,
						   "history %s: schema version %d is newer than this "
						   "jobsfs knows (%d): use a newer jobsfs, or another "
						   "database",
						   h->uri, version, JFS_HISTORY_SCHEMA_VERSION);
		}
	} else if (have_jobs) {
		rc = jfs_error_set(e, EPROTO,
				   "history %s: the database has a table \"jobs\" that is not a "
				   "jobsfs history's",
				   h->uri);
	} else {
		char sql[sizeof(schema_sql) + 64];
		snprintf(sql, sizeof(sql), "%sINSERT INTO jobsfs_schema VALUES (%d);", schema_sql,
			 JFS_HISTORY_SCHEMA_VERSION);
		PGresult *cr = PQexec(c, sql); /* several statements: the simple protocol */
		if (!cr || PQresultStatus(cr) != PGRES_COMMAND_OK)
			rc = pg_fail(h, c, cr, "cannot create the schema (the role needs CREATE "
					       "on the database's schema)",
				     e);
		PQclear(cr);
	}
	if (rc == 0)
		rc = run(h, c, "COMMIT", 0, NULL, "cannot create the schema", NULL, e);
	rollback(c);
	return rc;
}

static void db_close(void *db)
{
	struct pg_db *h = db;
	if (!h)
		return;
	for (size_t i = 0; i < h->npool; i++)
		PQfinish(h->pool[i]);
	PQfinish(h->wconn);
	pthread_mutex_destroy(&h->write_lock);
	pthread_mutex_destroy(&h->pool_lock);
	free(h->uri);
	free(h->cluster);
	free(h);
}

static int db_open(const struct jfs_history_config *cfg, void **out, struct jfs_error *e)
{
	if (uri_has_password(cfg->path))
		return jfs_error_set(e, EINVAL,
				     "history: a password in the PostgreSQL URI is refused (it "
				     "would be on the command line): use ~/.pgpass, PGPASSFILE, "
				     "PGPASSWORD or a client certificate");
	struct pg_db *h = calloc(1, sizeof(*h));
	if (!h)
		return jfs_error_set(e, ENOMEM, "out of memory opening the history");
	h->uri = strdup(cfg->path);
	h->cluster = strdup(cfg->cluster);
	pthread_mutex_init(&h->write_lock, NULL);
	pthread_mutex_init(&h->pool_lock, NULL);
	int rc = 0;
	if (!h->uri || !h->cluster)
		rc = jfs_error_set(e, ENOMEM, "out of memory opening the history");
	if (rc == 0)
		rc = conn_open(h, &h->wconn, e);
	if (rc == 0)
		rc = schema_ready(h, e);
	if (rc != 0) {
		db_close(h);
		return rc;
	}
	*out = h;
	return 0;
}

/* ---- writing ---------------------------------------------------------------------- */


static int add_gap_conn(struct pg_db *h, PGconn *c, int64_t from_ms, int64_t to_ms,
			const char *cause, struct jfs_error *e)
{
	char from[JFS_HISTORY_TIME_BUF], to[JFS_HISTORY_TIME_BUF];
	const char *p[] = { h->cluster, jfs_history_time_text(from_ms / 1000, from),
			    jfs_history_time_text(to_ms / 1000, to), cause };
	return run(h, c, "INSERT INTO gaps (cluster, from_time, to_time, cause)"
			 " VALUES ($1, $2, $3, $4)",
		   4, p, "cannot record a gap", NULL, e);
}

static int record_tx(struct pg_db *h, const struct jfs_hrow *rows, size_t n, int64_t seen_ms,
		     bool listed, int64_t expiry_ms, const char *cause, struct jfs_error *e)
{
	PGconn *c = h->wconn;
	char seen[JFS_HISTORY_TIME_BUF], ms[24];
	PGresult *r = NULL;
	jfs_history_time_text(seen_ms / 1000, seen);
	snprintf(ms, sizeof(ms), "%lld", (long long)seen_ms);
	int rc = run(h, c, "BEGIN", 0, NULL, "cannot record", NULL, e);
	int64_t before = 0;
	if (rc == 0 && listed) {
		/* The cluster's row, locked: another recorder's listing waits for ours. */
		const char *p[] = { h->cluster };
		rc = run(h, c, "INSERT INTO listings (cluster, last_listed) VALUES ($1, 0)"
			       " ON CONFLICT (cluster) DO NOTHING",
			 1, p, "cannot record", NULL, e);
		if (rc == 0)
			rc = run(h, c, "SELECT last_listed FROM listings WHERE cluster = $1"
				       " FOR UPDATE",
				 1, p, "cannot record", &r, e);
		if (rc == 0) {
			before = PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
			PQclear(r);
		}
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const struct jfs_hrow *w = &rows[i];
		char code[24];
		snprintf(code, sizeof(code), "%lld", (long long)w->code);
		const char *p[] = { h->cluster, w->uuid, w->description, w->state, w->message,
				    w->has_code ? code : NULL, w->start_time, w->end_time,
				    w->svm_name, w->record, seen };
		rc = run(h, c, JFS_HISTORY_UPSERT_SQL, 11, p, "cannot record", NULL, e);
	}
	if (rc == 0 && listed && before > 0 && seen_ms - before > expiry_ms)
		rc = add_gap_conn(h, c, before, seen_ms, cause ? cause : JFS_HISTORY_UNSEEN, e);
	if (rc == 0 && listed) {
		const char *p[] = { h->cluster, ms };
		rc = run(h, c, "UPDATE listings SET last_listed = GREATEST(last_listed, $2::bigint)"
			       " WHERE cluster = $1",
			 2, p, "cannot record", NULL, e);
	}
	if (rc == 0) {
		const char *p[] = { h->cluster };
		rc = run(h, c, "INSERT INTO changes (cluster, version) VALUES ($1, 1)"
			       " ON CONFLICT (cluster) DO UPDATE SET version = changes.version + 1",
			 1, p, "cannot record", NULL, e);
	}
	if (rc == 0)
		rc = run(h, c, "COMMIT", 0, NULL, "cannot record", NULL, e);
	rollback(c);
	return rc;
}

static int db_record(void *db, const struct jfs_hrow *rows, size_t n, int64_t seen_ms,
		     bool listed, int64_t expiry_ms, const char *cause, struct jfs_error *e)
{
	struct pg_db *h = db;
	pthread_mutex_lock(&h->write_lock);
	int rc = conn_ready(h, h->wconn, e);
	if (rc == 0)
		rc = record_tx(h, rows, n, seen_ms, listed, expiry_ms, cause, e);
	pthread_mutex_unlock(&h->write_lock);
	return rc;
}

static int64_t db_last_listed(void *db)
{
	struct pg_db *h = db;
	struct jfs_error e;
	PGresult *r = NULL;
	int64_t at = 0;
	const char *p[] = { h->cluster };
	pthread_mutex_lock(&h->write_lock);
	if (conn_ready(h, h->wconn, &e) == 0 &&
	    run(h, h->wconn, "SELECT last_listed FROM listings WHERE cluster = $1", 1, p,
		"cannot read", &r, &e) == 0) {
		at = PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
		PQclear(r);
	}
	pthread_mutex_unlock(&h->write_lock);
	return at;
}

static int db_add_gap(void *db, int64_t from_ms, int64_t to_ms, const char *cause,
		      struct jfs_error *e)
{
	struct pg_db *h = db;
	pthread_mutex_lock(&h->write_lock);
	int rc = conn_ready(h, h->wconn, e);
	if (rc == 0)
		rc = add_gap_conn(h, h->wconn, from_ms, to_ms, cause, e);
	pthread_mutex_unlock(&h->write_lock);
	return rc;
}

static int db_prune(void *db, const char *before, long *dropped, struct jfs_error *e)
{
	struct pg_db *h = db;
	PGresult *r = NULL;
	const char *p[] = { h->cluster, before };
	pthread_mutex_lock(&h->write_lock);
	int rc = conn_ready(h, h->wconn, e);
	if (rc == 0)
		rc = run(h, h->wconn, "BEGIN", 0, NULL, "cannot prune", NULL, e);
	if (rc == 0)
		rc = run(h, h->wconn, "DELETE FROM jobs WHERE cluster = $1 AND end_time < $2"
				      " AND state IN ('success', 'failure')",
			 2, p, "cannot prune", &r, e);
	if (rc == 0) {
		*dropped = strtol(PQcmdTuples(r), NULL, 10);
		PQclear(r);
		rc = run(h, h->wconn, "DELETE FROM gaps WHERE cluster = $1 AND to_time < $2", 2, p,
			 "cannot prune", NULL, e);
	}
	if (rc == 0)
		rc = run(h, h->wconn, "COMMIT", 0, NULL, "cannot prune", NULL, e);
	rollback(h->wconn);
	pthread_mutex_unlock(&h->write_lock);
	return rc;
}

/* ---- reading ---------------------------------------------------------------------- */

static int db_record_of(void *db, const char *uuid, char **text, size_t *len,
			struct jfs_error *e)
{
	struct pg_db *h = db;
	PGconn *c;
	PGresult *r = NULL;
	int rc = conn_get(h, &c, e);
	if (rc != 0)
		return rc;
	const char *p[] = { h->cluster, uuid };
	rc = run(h, c, "SELECT record FROM jobs WHERE cluster = $1 AND uuid = $2", 2, p,
		 "cannot read", &r, e);
	if (rc == 0 && PQntuples(r) == 0) {
		rc = jfs_error_set(e, ENOENT, "no job %s in the history", uuid);
	} else if (rc == 0) {
		*len = (size_t)PQgetlength(r, 0, 0);
		*text = malloc(*len + 1);
		if (*text)
			memcpy(*text, PQgetvalue(r, 0, 0), *len + 1);
		else
			rc = jfs_error_set(e, ENOMEM, "out of memory reading the history");
	}
	PQclear(r);
	conn_put(h, c);
	return rc;
}

/* "SELECT ... FROM jobs WHERE cluster = $1 AND <nw>" + tail, into sql; the values
 * into p (p[0] the cluster). Returns the parameter count, or -1 when too long. */
static int where_sql(struct pg_db *h, const char *head, const struct jfs_hnarrow *nw,
		     const char *tail, char *sql, size_t size, const char **p)
{
	size_t len = (size_t)snprintf(sql, size, "%s WHERE cluster = $1", head);
	p[0] = h->cluster;
	for (int i = 0; i < nw->n && len < size; i++) {
		/* state compares without letter case, as the evaluator does (the index is
		 * on lower(state)); the other columns as text in the "C" collation. */
		if (strcmp(nw->c[i].column, "state") == 0)
			len += (size_t)snprintf(sql + len, size - len,
						" AND lower(state) %s lower($%d)", nw->c[i].op,
						i + 2);
		else
			len += (size_t)snprintf(sql + len, size - len, " AND %s %s $%d",
						nw->c[i].column, nw->c[i].op, i + 2);
		p[i + 1] = nw->c[i].value;
	}
	if (len < size)
		len += (size_t)snprintf(sql + len, size - len, "%s", tail);
	return len < size ? nw->n + 1 : -1;
}

static int db_scan(void *db, const struct jfs_hnarrow *nw, bool by_uuid, jfs_hrecord_fn each,
		   void *arg, struct jfs_error *e)
{
	struct pg_db *h = db;
	char sql[1024];
	const char *p[JFS_HNARROW_MAX + 1];
	int np = where_sql(h, "SELECT record FROM jobs", nw, by_uuid ? " ORDER BY uuid" : "", sql,
			   sizeof(sql), p);
	if (np < 0)
		return jfs_error_set(e, EINVAL, "history: a view too long to ask");
	PGconn *c;
	int rc = conn_get(h, &c, e);
	if (rc != 0)
		return rc;
	if (!PQsendQueryParams(c, sql, np, NULL, p, NULL, NULL, 0) || !PQsetSingleRowMode(c)) {
		rc = pg_fail(h, c, NULL, "cannot read", e);
		PQfinish(c);
		return rc;
	}
	/* Every result must be taken, even after a stop or an error; a stop cancels the
	 * query rather than take the rest of a million rows for nothing. */
	PGresult *r;
	int stop = 0;
	bool cancelled = false;
	while ((r = PQgetResult(c))) {
		ExecStatusType st = PQresultStatus(r);
		if (st == PGRES_SINGLE_TUPLE && rc == 0 && !stop)
			stop = each(arg, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
		else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && rc == 0 && !stop)
			rc = pg_fail(h, c, r, "cannot read", e);
		PQclear(r);
		if (stop && !cancelled) {
			PGcancel *cancel = PQgetCancel(c);
			char buf[256];
			if (cancel) {
				PQcancel(cancel, buf, sizeof(buf));
				PQfreeCancel(cancel);
			}
			cancelled = true;
		}
	}
	conn_put(h, c);
	return rc != 0 ? rc : stop;
}

static int db_nth_end_time(void *db, const struct jfs_hnarrow *nw, bool desc, unsigned long n,
			   char out[JFS_HISTORY_TIME_BUF], bool *found, struct jfs_error *e)
{
	struct pg_db *h = db;
	char sql[1024], tail[128];
	const char *p[JFS_HNARROW_MAX + 1];
	*found = false;
	snprintf(tail, sizeof(tail), " AND end_time IS NOT NULL ORDER BY end_time %s"
		 " LIMIT 1 OFFSET %lu", desc ? "DESC" : "ASC", n - 1);
	int np = where_sql(h, "SELECT end_time FROM jobs", nw, tail, sql, sizeof(sql), p);
	if (np < 0)
		return jfs_error_set(e, EINVAL, "history: a view too long to ask");
	PGconn *c;
	PGresult *r = NULL;
	int rc = conn_get(h, &c, e);
	if (rc != 0)
		return rc;
	rc = run(h, c, sql, np, p, "cannot read", &r, e);
	if (rc == 0 && PQntuples(r) > 0) {
		snprintf(out, JFS_HISTORY_TIME_BUF, "%s", PQgetvalue(r, 0, 0));
		*found = true;
	}
	PQclear(r);
	conn_put(h, c);
	return rc;
}

static int db_gaps(void *db, jfs_hgap_fn each, void *arg, struct jfs_error *e)
{
	struct pg_db *h = db;
	PGconn *c;
	PGresult *r = NULL;
	int rc = conn_get(h, &c, e);
	if (rc != 0)
		return rc;
	const char *p[] = { h->cluster };
	rc = run(h, c, "SELECT from_time, to_time, cause FROM gaps WHERE cluster = $1"
		       " ORDER BY from_time, to_time",
		 1, p, "cannot read the gaps", &r, e);
	for (int i = 0; rc == 0 && i < PQntuples(r); i++)
		rc = each(arg, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
	PQclear(r);
	conn_put(h, c);
	return rc;
}

static uint64_t db_version(void *db)
{
	struct pg_db *h = db;
	int64_t now = jfs_mono_ms();
	pthread_mutex_lock(&h->pool_lock);
	uint64_t v = h->version;
	bool fresh = v && now - h->version_ms < VERSION_REUSE_MS;
	pthread_mutex_unlock(&h->pool_lock);
	if (fresh)
		return v;
	PGconn *c;
	PGresult *r = NULL;
	struct jfs_error e;
	const char *p[] = { h->cluster };
	v = 0;
	if (conn_get(h, &c, &e) != 0)
		return 0;
	if (run(h, c, "SELECT version FROM changes WHERE cluster = $1", 1, p, "cannot read", &r,
		&e) == 0) {
		v = 1 + (PQntuples(r) ? strtoull(PQgetvalue(r, 0, 0), NULL, 10) : 0);
		PQclear(r);
	}
	conn_put(h, c);
	pthread_mutex_lock(&h->pool_lock);
	h->version = v;
	h->version_ms = now;
	pthread_mutex_unlock(&h->pool_lock);
	return v;
}

const struct jfs_hdb_ops jfs_hdb_pg = {
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
