/* The history (src/history.c) on temporary SQLite files: the schema and its refusals,
 * records written once and shown byte for byte, views that equal the evaluator's
 * answer (with and without what SQL narrows), gaps, retention, two writers. */
#include "jobsfs/history.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_helpers.h"
#include "jobsfs/error.h"
#include "jobsfs/eval.h"
#include "jobsfs/isotime.h"
#include "jobsfs/job.h"
#include "jobsfs/listing.h"
#include "jobsfs/query.h"

#define CLUSTER "cluster-a"
#define EXPIRY_MS (300 * 1000)

static char dir[64];
static char path[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/jobsfs-history-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/h.sqlite", dir);
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct jfs_history *open_at(const char *p, const char *cluster)
{
	struct jfs_history_config cfg = { .path = p, .cluster = cluster, .ttl = 0 };
	struct jfs_history *h = NULL;
	struct jfs_error e;
	jfs_error_clear(&e);
	int rc = jfs_history_open(&cfg, &h, &e);
	ck_assert_msg(rc == 0, "open %s: %s", p, e.message);
	return h;
}

static struct jfs_history *open_history(void)
{
	return open_at(path, CLUSTER);
}

/* A job like a cluster's: i picks its uuid, state, times, description and SVM. */
static json_object *record_of(int i, const char *state, int64_t end)
{
	char uuid[64], text[128], when[40];
	snprintf(uuid, sizeof(uuid), "%08x-0000-4000-8000-%012x", (unsigned)i, (unsigned)i);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "uuid", json_object_new_string(uuid));
	snprintf(text, sizeof(text), i % 3 ? "Volume Move %d" : "Snapshot delete %d", i);
	json_object_object_add(o, "description", json_object_new_string(text));
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_object_add(o, "message",
			       json_object_new_string(strcmp(state, "failure") ? "Complete: ok"
									: "entry doesn't exist"));
	json_object_object_add(o, "code", json_object_new_int(strcmp(state, "failure") ? 0 : 4));
	jfs_isotime_format(end - 60 - i % 7, i % 2 ? -4 * 3600 : 0, when, sizeof(when));
	json_object_object_add(o, "start_time", json_object_new_string(when));
	if (end) {
		jfs_isotime_format(end, i % 2 ? -4 * 3600 : 5 * 3600 + 1800, when, sizeof(when));
		json_object_object_add(o, "end_time", json_object_new_string(when));
	}
	json_object *svm = json_object_new_object();
	json_object_object_add(svm, "name", json_object_new_string(i % 4 ? "vs1" : "vs2"));
	json_object_object_add(o, "svm", svm);
	json_object *links = json_object_new_object(), *self = json_object_new_object();
	snprintf(text, sizeof(text), "/api/cluster/jobs/%s", uuid);
	json_object_object_add(self, "href", json_object_new_string(text));
	json_object_object_add(links, "self", self);
	json_object_object_add(o, "_links", links);
	return o;
}

static struct jfs_job *job_of(json_object *rec)
{
	struct jfs_job *job;
	struct jfs_error e;
	jfs_error_clear(&e);
	ck_assert_int_eq(jfs_job_from_json(rec, &job, &e), 0);
	return job;
}

static void record(struct jfs_history *h, struct jfs_job **jobs, size_t n, int64_t seen_ms,
		   bool listed)
{
	struct jfs_error e;
	jfs_error_clear(&e);
	int rc = jfs_history_record(h, jobs, n, seen_ms, listed, EXPIRY_MS, NULL, &e);
	ck_assert_msg(rc == 0, "record: %s", e.message);
}

static const char *file_of(const struct jfs_job *job, const char *p)
{
	const struct jfs_node *n = jfs_node_lookup(&job->root, p);
	return node_text(n);
}

START_TEST(creates_private_file_and_schema)
{
	char nested[192];
	snprintf(nested, sizeof(nested), "%s/state/jobsfs/h.sqlite", dir);
	struct jfs_history_config cfg = { .path = nested, .cluster = CLUSTER, .make_dirs = true };
	struct jfs_history *h;
	struct jfs_error e;
	jfs_error_clear(&e);
	ck_assert_msg(jfs_history_open(&cfg, &h, &e) == 0, "%s", e.message);
	jfs_history_close(h);
	struct stat st;
	ck_assert_int_eq(stat(nested, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	char folder[192];
	snprintf(folder, sizeof(folder), "%s/state/jobsfs", dir);
	ck_assert_int_eq(stat(folder, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);

	sqlite3 *db;
	sqlite3_stmt *s;
	ck_assert_int_eq(sqlite3_open(nested, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(s, 0), JFS_HISTORY_SCHEMA_VERSION);
	sqlite3_finalize(s);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	/* The columns the README promises, for people who want SQL. */
	ck_assert_int_eq(sqlite3_prepare_v2(db,
					    "SELECT cluster, uuid, description, state, message, code,"
					    " start_time, end_time, svm_name, record, first_seen,"
					    " last_seen FROM jobs",
					    -1, &s, NULL),
			 SQLITE_OK);
	sqlite3_finalize(s);
	sqlite3_close(db);
	/* Without make_dirs, a missing folder is an error that names the file. */
	snprintf(nested, sizeof(nested), "%s/absent/h.sqlite", dir);
	cfg.make_dirs = false;
	ck_assert_int_eq(jfs_history_open(&cfg, &h, &e), -ENOENT);
	ck_assert_ptr_nonnull(strstr(e.message, nested));
}
END_TEST

START_TEST(refuses_what_is_not_a_history)
{
	struct jfs_history_config cfg = { .path = path, .cluster = CLUSTER };
	struct jfs_history *h;
	struct jfs_error e;

	/* Not SQLite at all. */
	FILE *f = fopen(path, "w");
	fputs("this is a text file, not a database\n", f);
	fclose(f);
	jfs_error_clear(&e);
	ck_assert_int_eq(jfs_history_open(&cfg, &h, &e), -EIO);
	ck_assert_msg(strstr(e.message, path) && strstr(e.message, "not a database"), "%s",
		      e.message);
	unlink(path);

	/* A newer schema. */
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE jobs (x); PRAGMA user_version = 99",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	jfs_error_clear(&e);
	ck_assert_int_eq(jfs_history_open(&cfg, &h, &e), -EPROTO);
	ck_assert_msg(strstr(e.message, "schema version 99"), "%s", e.message);
	unlink(path);

	/* Somebody else's SQLite file. */
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE accounts (x)", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	jfs_error_clear(&e);
	ck_assert_int_eq(jfs_history_open(&cfg, &h, &e), -EPROTO);
	ck_assert_msg(strstr(e.message, "not a jobsfs history"), "%s", e.message);

	/* A folder that is a file. */
	cfg.path = "/dev/null/h.sqlite";
	jfs_error_clear(&e);
	ck_assert_int_eq(jfs_history_open(&cfg, &h, &e), -ENOTDIR);
	ck_assert_ptr_nonnull(strstr(e.message, "/dev/null/h.sqlite"));
}
END_TEST

START_TEST(shows_the_bytes_the_live_tree_showed)
{
	struct jfs_history *h = open_history();
	json_object *rec = record_of(1, "failure", 1764950400);
	/* Numbers as the cluster wrote them, odd characters, nesting, an array. */
	json_object_object_add(rec, "progress", json_object_new_double_s(12.50, "12.50"));
	json_object_object_add(rec, "big", json_object_new_int64(INT64_MAX));
	json_object_object_add(rec, "note", json_object_new_string("tab\there \"quoted\" / é ✓"));
	json_object *err = json_object_new_object(), *args = json_object_new_array();
	json_object *arg = json_object_new_object();
	json_object_object_add(arg, "message", json_object_new_string("vol1"));
	json_object_array_add(args, arg);
	json_object_object_add(err, "arguments", args);
	json_object_object_add(rec, "error", err);
	struct jfs_job *live = job_of(rec);
	record(h, &live, 1, 1764950400000, true);

	struct jfs_job *back;
	struct jfs_error e;
	jfs_error_clear(&e);
	ck_assert_int_eq(jfs_history_job(h, live->uuid, &back, &e), 0);
	ck_assert_str_eq(file_of(back, "job.json"), file_of(live, "job.json"));
	ck_assert_str_eq(file_of(back, "error/arguments/0/message"), "vol1\n");
	ck_assert_str_eq(file_of(back, "progress"), "12.50\n");
	ck_assert_str_eq(file_of(back, "state"), "failure\n");
	ck_assert_int_eq(back->end_time, live->end_time);
	ck_assert_uint_eq(back->root.nchildren, live->root.nchildren);
	jfs_job_unref(back);

	ck_assert_int_eq(jfs_history_job(h, "00000000-0000-4000-8000-00000000ffff", &back, &e),
			 -ENOENT);
	jfs_job_unref(live);
	json_object_put(rec);
	jfs_history_close(h);
}
END_TEST

static const char *message_of(struct jfs_history *h, const char *uuid)
{
	static char buf[128];
	struct jfs_job *job;
	struct jfs_error e;
	jfs_error_clear(&e);
	ck_assert_int_eq(jfs_history_job(h, uuid, &job, &e), 0);
	snprintf(buf, sizeof(buf), "%s", file_of(job, "message"));
	jfs_job_unref(job);
	return buf;
}

START_TEST(finished_once_active_follows)
{
	struct jfs_history *h = open_history();
	json_object *run = record_of(2, "running", 0), *done = record_of(3, "success", 1764950400);
	struct jfs_job *jobs[2] = { job_of(run), job_of(done) };
	record(h, jobs, 2, 1764950000000, false);
	char uuid_run[64], uuid_done[64];
	snprintf(uuid_run, sizeof(uuid_run), "%s", jobs[0]->uuid);
	snprintf(uuid_done, sizeof(uuid_done), "%s", jobs[1]->uuid);
	jfs_job_unref(jobs[0]);
	jfs_job_unref(jobs[1]);

	/* Both change: the active row follows, the finished one was written for good. */
	json_object_object_add(run, "message", json_object_new_string("50% done"));
	json_object_object_add(done, "message", json_object_new_string("rewritten"));
	jobs[0] = job_of(run);
	jobs[1] = job_of(done);
	record(h, jobs, 2, 1764950100000, false);
	ck_assert_str_eq(message_of(h, uuid_run), "50% done\n");
	ck_assert_str_eq(message_of(h, uuid_done), "Complete: ok\n");
	jfs_job_unref(jobs[0]);
	jfs_job_unref(jobs[1]);
	json_object_put(run);
	json_object_put(done);
	jfs_history_close(h);
}
END_TEST

/* ---- views equal the evaluator ---------------------------------------------------- */

#define NJOBS 400
static const char *const states[] = { "success", "failure", "running", "queued", "paused" };

static json_object *recs[NJOBS];

static struct jfs_history *filled(void)
{
	struct jfs_history *h = open_history();
	struct jfs_job *jobs[NJOBS];
	for (int i = 0; i < NJOBS; i++) {
		const char *state = states[(i * 7) % 5];
		bool done = strcmp(state, "success") == 0 || strcmp(state, "failure") == 0;
		/* Ties on purpose: several jobs end in the same second. */
		recs[i] = record_of(i + 1, state, done ? 1764900000 + (i / 3) * 97 : 0);
		jobs[i] = job_of(recs[i]);
	}
	record(h, jobs, NJOBS, 1764990000000, true);
	for (int i = 0; i < NJOBS; i++)
		jfs_job_unref(jobs[i]);
	return h;
}

static void unfill(struct jfs_history *h)
{
	for (int i = 0; i < NJOBS; i++)
		json_object_put(recs[i]);
	jfs_history_close(h);
}

static int cmp_uuid(const void *a, const void *b)
{
	json_object *x = *(json_object *const *)a, *y = *(json_object *const *)b;
	json_object *ux, *uy;
	json_object_object_get_ex(x, "uuid", &ux);
	json_object_object_get_ex(y, "uuid", &uy);
	return strcmp(json_object_get_string(ux), json_object_get_string(uy));
}

static int cmp_order(const void *a, const void *b, void *o)
{
	return jfs_eval_order_compare(o, *(json_object *const *)a, *(json_object *const *)b);
}

/* The evaluator's answer for segments (a NULL-terminated chain), as uuids joined. */
static char *expected(const char *const segs[])
{
	json_object *sel[NJOBS];
	size_t n = 0;
	struct jfs_eval_filter *f[8];
	size_t nf = 0;
	struct jfs_eval_order *order = NULL;
	unsigned long cap = 0;
	struct jfs_eval_error err;
	for (size_t s = 0; segs[s]; s++) {
		char name[64];
		const char *eq = strchr(segs[s], '=');
		snprintf(name, sizeof(name), "%.*s", (int)(eq - segs[s]), segs[s]);
		if (strcmp(name, "order_by") == 0)
			ck_assert_int_eq(jfs_eval_order_parse(eq + 1, &order, &err), 0);
		else if (strcmp(name, "max_records") == 0)
			cap = strtoul(eq + 1, NULL, 10);
		else
			ck_assert_int_eq(jfs_eval_filter_compile(name, eq + 1, &f[nf++], &err), 0);
	}
	for (int i = 0; i < NJOBS; i++) {
		bool keep = true;
		for (size_t k = 0; k < nf && keep; k++)
			keep = jfs_eval_filter_match(f[k], recs[i]);
		if (keep)
			sel[n++] = recs[i];
	}
	qsort(sel, n, sizeof(*sel), cmp_uuid);
	if (order)
		qsort_r(sel, n, sizeof(*sel), cmp_order, order);
	if (cap && cap < n)
		n = cap;
	char *out = calloc(n + 1, 40);
	for (size_t i = 0; i < n; i++) {
		json_object *u;
		json_object_object_get_ex(sel[i], "uuid", &u);
		strcat(out, json_object_get_string(u));
		strcat(out, " ");
	}
	for (size_t k = 0; k < nf; k++)
		jfs_eval_filter_free(f[k]);
	jfs_eval_order_free(order);
	return out;
}

static char *answered(struct jfs_history *h, const char *const segs[], size_t *n)
{
	struct jfs_query *q = jfs_query_new();
	struct jfs_error e;
	jfs_error_clear(&e);
	for (size_t s = 0; segs[s]; s++)
		ck_assert_int_eq(jfs_query_add_segment(q, segs[s], &e), 0);
	struct jfs_listing *l;
	int rc = jfs_history_listing(h, q, &l, &e);
	ck_assert_msg(rc == 0, "%s: %s", segs[0], e.message);
	char *out = calloc(l->n + 1, 40);
	for (size_t i = 0; i < l->n; i++) {
		strcat(out, l->jobs[i]->uuid);
		strcat(out, " ");
	}
	*n = l->n;
	jfs_listing_unref(l);
	jfs_query_free(q);
	return out;
}

START_TEST(views_equal_the_evaluator)
{
	struct jfs_history *h = filled();
	static const char *const views[][5] = {
		{ "state=failure", NULL },
		{ "state=Failure", NULL }, /* folds case, as the evaluator does */
		{ "state=success|failure", NULL },
		{ "state=!success", NULL },
		{ "description=*Snapshot*", NULL },
		/* Jobs end from 02:00 to 05:35 UTC. */
		{ "end_time=>2025-12-05T04:00:00Z", NULL },
		{ "end_time=>=2025-12-05T08:30:00+05:00", NULL },
		{ "end_time=<2025-12-04T23:00:00-04:00", NULL },
		{ "end_time=2025-12-05T02:30:00Z..2025-12-05T03:30:00Z", NULL },
		{ "order_by=end_time desc", "max_records=20", NULL },
		{ "order_by=end_time", "max_records=7", NULL },
		{ "order_by=end_time desc", "max_records=1", NULL },
		{ "order_by=end_time desc", "max_records=5000", NULL },
		{ "state=failure", "order_by=end_time desc", "max_records=5", NULL },
		{ "state=success", "description=*Move*", "svm.name=vs1", NULL },
		{ "end_time=>2025-12-05T03:00:00Z", "order_by=end_time asc", "max_records=3", NULL },
		{ "order_by=description desc,uuid", "max_records=10", NULL },
		{ "code=4", "message=*exist*", NULL },
		{ "end_time=null", NULL },
	};
	for (size_t v = 0; v < sizeof(views) / sizeof(views[0]); v++) {
		size_t n;
		char *want = expected(views[v]), *got = answered(h, views[v], &n);
		ck_assert_msg(strcmp(want, got) == 0, "view %zu (%s %s): the history answered\n%s\n"
			      "the evaluator\n%s", v, views[v][0], views[v][1] ? views[v][1] : "",
			      got, want);
		/* Every view here selects something, or the comparison proves little. */
		ck_assert_msg(n > 0, "view %zu selects nothing", v);
		free(want);
		free(got);
	}
	unfill(h);
}
END_TEST

START_TEST(views_reused_until_the_file_changes)
{
	struct jfs_history *h = filled(); /* ttl 0: only the file's version keeps a view */
	struct jfs_listing *a, *b, *c;
	struct jfs_error e;
	jfs_error_clear(&e);
	ck_assert_int_eq(jfs_history_listing(h, NULL, &a, &e), 0);
	ck_assert_int_eq(jfs_history_listing(h, NULL, &b, &e), 0);
	ck_assert_ptr_eq(a, b); /* not read again */
	struct jfs_source src = jfs_history_source(h);
	ck_assert(jfs_source_listing_life(&src, a) == 0.0); /* ttl 0 */
	/* Another connection (the recorder, another process) commits: read again. */
	struct jfs_history *w = open_history();
	json_object *r = record_of(NJOBS + 7, "running", 0);
	struct jfs_job *job = job_of(r);
	record(w, &job, 1, 1764990001000, false);
	jfs_job_unref(job);
	json_object_put(r);
	jfs_history_close(w);
	ck_assert_int_eq(jfs_history_listing(h, NULL, &c, &e), 0);
	ck_assert_ptr_ne(c, a);
	ck_assert_uint_eq(c->n, a->n + 1);
	jfs_listing_unref(a);
	jfs_listing_unref(b);
	jfs_listing_unref(c);
	unfill(h);
}
END_TEST

START_TEST(fields_views_project)
{
	struct jfs_history *h = filled();
	struct jfs_query *q = jfs_query_new();
	struct jfs_error e;
	jfs_error_clear(&e);
	ck_assert_int_eq(jfs_query_add_segment(q, "state=failure", &e), 0);
	ck_assert_int_eq(jfs_query_add_segment(q, "fields=state,end_time", &e), 0);
	struct jfs_listing *l;
	ck_assert_int_eq(jfs_history_listing(h, q, &l, &e), 0);
	ck_assert_uint_gt(l->n, 0);
	ck_assert(!l->full_records);
	ck_assert_str_eq(file_of(l->jobs[0], "state"), "failure\n");
	ck_assert_ptr_null(file_of(l->jobs[0], "description"));
	jfs_listing_unref(l);
	jfs_query_free(q);
	unfill(h);
}
END_TEST

START_TEST(bad_query_is_einval_with_the_reason)
{
	struct jfs_history *h = open_history();
	static const char *const bad[] = { "no_such_field=1", "code=<abc", "order_by=nope desc" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct jfs_query *q = jfs_query_new();
		struct jfs_error e;
		struct jfs_listing *l = NULL;
		jfs_error_clear(&e);
		ck_assert_int_eq(jfs_query_add_segment(q, bad[i], &e), 0);
		ck_assert_int_eq(jfs_history_listing(h, q, &l, &e), -EINVAL);
		ck_assert_msg(e.message[0] && e.code[0], "%s: no reason given", bad[i]);
		jfs_query_free(q);
	}
	jfs_history_close(h);
}
END_TEST

/* ---- gaps, retention, two writers ------------------------------------------------- */

static char *gaps_of(struct jfs_history *h)
{
	char *text;
	size_t len;
	struct jfs_error e;
	jfs_error_clear(&e);
	ck_assert_int_eq(jfs_history_gaps(h, &text, &len, &e), 0);
	ck_assert_uint_eq(strlen(text), len);
	return text;
}

START_TEST(gaps_when_unlisted_longer_than_expiry)
{
	struct jfs_history *h = open_history();
	int64_t t0 = 1764950400000; /* 2025-12-05T16:00:00Z */
	ck_assert_int_eq(jfs_history_last_listed(h), 0);
	record(h, NULL, 0, t0, true); /* the first listing: history starts, no gap */
	record(h, NULL, 0, t0 + EXPIRY_MS, true); /* exactly expiry: nothing missed */
	char *g = gaps_of(h);
	ck_assert_str_eq(g, "");
	free(g);
	struct jfs_error e;
	jfs_error_clear(&e);
	ck_assert_int_eq(jfs_history_record(h, NULL, 0, t0 + EXPIRY_MS + 301000, true, EXPIRY_MS,
					    "cluster not listed: Connection refused", &e),
			 0);
	/* Jobs-only writes (a view's, a lookup's) are no listing: they close no window. */
	record(h, NULL, 0, t0 + 3 * EXPIRY_MS, false);
	ck_assert_int_eq(jfs_history_last_listed(h), t0 + EXPIRY_MS + 301000);
	g = gaps_of(h);
	ck_assert_str_eq(g, "2025-12-05T16:05:00+00:00 2025-12-05T16:10:01+00:00 cluster not "
			    "listed: Connection refused\n");
	free(g);

	/* Another cluster in the same file has gaps of its own. */
	struct jfs_history *other = open_at(path, "cluster-b");
	g = gaps_of(other);
	ck_assert_str_eq(g, "");
	free(g);
	jfs_history_close(other);
	jfs_history_close(h);
}
END_TEST

START_TEST(prune_drops_old_finished_jobs_only)
{
	struct jfs_history *h = open_history();
	json_object *r[3] = { record_of(1, "success", 1700000000), record_of(2, "running", 0),
			      record_of(3, "failure", 1764950400) };
	struct jfs_job *jobs[3] = { job_of(r[0]), job_of(r[1]), job_of(r[2]) };
	record(h, jobs, 3, 1764950400000, false);
	long dropped = -1;
	struct jfs_error e;
	jfs_error_clear(&e);
	ck_assert_int_eq(jfs_history_prune(h, 1764000000000, &dropped, &e), 0);
	ck_assert_int_eq(dropped, 1);
	struct jfs_job *job;
	ck_assert_int_eq(jfs_history_job(h, jobs[0]->uuid, &job, &e), -ENOENT);
	ck_assert_int_eq(jfs_history_job(h, jobs[1]->uuid, &job, &e), 0);
	jfs_job_unref(job);
	ck_assert_int_eq(jfs_history_job(h, jobs[2]->uuid, &job, &e), 0);
	jfs_job_unref(job);
	for (int i = 0; i < 3; i++) {
		jfs_job_unref(jobs[i]);
		json_object_put(r[i]);
	}
	jfs_history_close(h);
}
END_TEST

#define WRITERS 2
#define BATCHES 60
#define PER_BATCH 20

static void *writer(void *arg)
{
	int w = (int)(intptr_t)arg;
	struct jfs_history *h = open_history(); /* a connection of its own, as a process */
	for (int b = 0; b < BATCHES; b++) {
		struct jfs_job *jobs[PER_BATCH];
		json_object *r[PER_BATCH];
		for (int k = 0; k < PER_BATCH; k++) {
			r[k] = record_of(w * 100000 + b * PER_BATCH + k + 1, "success", 1764950400);
			jobs[k] = job_of(r[k]);
		}
		struct jfs_error e;
		jfs_error_clear(&e);
		int rc = jfs_history_record(h, jobs, PER_BATCH, 1764950400000 + b, true, EXPIRY_MS,
					    NULL, &e);
		for (int k = 0; k < PER_BATCH; k++) {
			jfs_job_unref(jobs[k]);
			json_object_put(r[k]);
		}
		if (rc != 0) {
			fprintf(stderr, "writer %d: %s\n", w, e.message);
			jfs_history_close(h);
			return (void *)1;
		}
	}
	jfs_history_close(h);
	return NULL;
}

START_TEST(two_writers_on_one_file)
{
	pthread_t t[WRITERS];
	jfs_history_close(open_history()); /* the schema, once */
	for (int w = 0; w < WRITERS; w++)
		pthread_create(&t[w], NULL, writer, (void *)(intptr_t)w);
	for (int w = 0; w < WRITERS; w++) {
		void *ret;
		pthread_join(t[w], &ret);
		ck_assert_ptr_null(ret);
	}
	struct jfs_history *h = open_history();
	struct jfs_listing *l;
	struct jfs_error e;
	jfs_error_clear(&e);
	ck_assert_int_eq(jfs_history_listing(h, NULL, &l, &e), 0);
	ck_assert_uint_eq(l->n, WRITERS * BATCHES * PER_BATCH);
	jfs_listing_unref(l);
	jfs_history_close(h);
}
END_TEST

START_TEST(cluster_key_and_default_path)
{
	char key[64], p[256];
	ck_assert_int_eq(jfs_history_cluster_key("https://cluster1.example.com", key, sizeof(key)), 0);
	ck_assert_str_eq(key, "cluster1.example.com");
	ck_assert_int_eq(jfs_history_cluster_key("https://c1:443", key, sizeof(key)), 0);
	ck_assert_str_eq(key, "c1");
	ck_assert_int_eq(jfs_history_cluster_key("https://c1:8443", key, sizeof(key)), 0);
	ck_assert_str_eq(key, "c1_8443");
	ck_assert_int_eq(jfs_history_cluster_key("http://127.0.0.1:41234", key, sizeof(key)), 0);
	ck_assert_str_eq(key, "127.0.0.1_41234");
	ck_assert_int_eq(jfs_history_cluster_key("https://[fd00::1]:8443", key, sizeof(key)), 0);
	ck_assert_str_eq(key, "fd00__1_8443");
	ck_assert_int_eq(jfs_history_cluster_key("https://", key, sizeof(key)), -EINVAL);
	ck_assert_int_eq(jfs_history_cluster_key("https://c1", key, 2), -ENAMETOOLONG);

	ck_assert_int_eq(jfs_history_default_path("c1", p, sizeof(p)), 0);
	if (geteuid() == 0) {
		ck_assert_str_eq(p, "/var/lib/jobsfs/c1.sqlite");
	} else {
		setenv("XDG_STATE_HOME", "/x/state", 1);
		ck_assert_int_eq(jfs_history_default_path("c1", p, sizeof(p)), 0);
		ck_assert_str_eq(p, "/x/state/jobsfs/c1.sqlite");
		unsetenv("XDG_STATE_HOME");
		setenv("HOME", "/home/u", 1);
		ck_assert_int_eq(jfs_history_default_path("c1", p, sizeof(p)), 0);
		ck_assert_str_eq(p, "/home/u/.local/state/jobsfs/c1.sqlite");
	}
}
END_TEST

static Suite *history_suite(void)
{
	Suite *s = suite_create("history");
	TCase *tc = tcase_create("history");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, creates_private_file_and_schema);
	tcase_add_test(tc, refuses_what_is_not_a_history);
	tcase_add_test(tc, shows_the_bytes_the_live_tree_showed);
	tcase_add_test(tc, finished_once_active_follows);
	tcase_add_test(tc, views_equal_the_evaluator);
	tcase_add_test(tc, views_reused_until_the_file_changes);
	tcase_add_test(tc, fields_views_project);
	tcase_add_test(tc, bad_query_is_einval_with_the_reason);
	tcase_add_test(tc, gaps_when_unlisted_longer_than_expiry);
	tcase_add_test(tc, prune_drops_old_finished_jobs_only);
	tcase_add_test(tc, two_writers_on_one_file);
	tcase_add_test(tc, cluster_key_and_default_path);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(history_suite(), true);
}
