/* ONTAP's query language evaluator (src/eval.c): filters, order_by and fields on job
 * records shaped like a cluster's. String matching is case-insensitive (the decision
 * documented at the top of eval.c); the tests below hold it to that. */
#include "jobsfs/eval.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Jobs j1..j7: the uuid's last digit names each one in the expected sets below. */
static const char *const job_json[] = {
	/* j1: a finished REST job, cluster offset -04:00. */
	"{\"uuid\":\"9a6b1c2d-0000-4000-8000-000000000001\","
	"\"description\":\"PATCH /api/cluster\",\"state\":\"success\",\"message\":\"success\","
	"\"code\":0,\"start_time\":\"2021-06-29T05:25:26-04:00\","
	"\"end_time\":\"2021-06-29T05:25:27-04:00\",\"node\":{\"name\":\"node-01\"},"
	"\"_links\":{\"self\":{\"href\":\"/api/cluster/jobs/9a6b1c2d-0000-4000-8000-000000000001\"}}}",
	/* j2: running, no end_time yet, offset +00:00. */
	"{\"uuid\":\"9a6b1c2d-0000-4000-8000-000000000002\","
	"\"description\":\"Cluster Backup Job\",\"state\":\"running\",\"message\":\"joe is running\","
	"\"code\":0,\"start_time\":\"2021-06-29T09:30:00+00:00\",\"node\":{\"name\":\"node-02\"},"
	"\"_links\":{\"self\":{\"href\":\"/api/cluster/jobs/9a6b1c2d-0000-4000-8000-000000000002\"}}}",
	/* j3: queued, never started, empty message, SVM-scoped. */
	"{\"uuid\":\"9a6b1c2d-0000-4000-8000-000000000003\","
	"\"description\":\"DELETE /api/storage/volumes/{uuid}/snapshots/{uuid}\","
	"\"state\":\"queued\",\"message\":\"\",\"code\":0,"
	"\"svm\":{\"name\":\"vs1\",\"uuid\":\"5c1f0000-0000-4000-8000-0000000000a1\","
	"\"_links\":{\"self\":{\"href\":\"/api/svm/svms/5c1f0000-0000-4000-8000-0000000000a1\"}}},"
	"\"_links\":{\"self\":{\"href\":\"/api/cluster/jobs/9a6b1c2d-0000-4000-8000-000000000003\"}}}",
	/* j4: failed with an error object; offset +12:00 (09:00:00Z). */
	"{\"uuid\":\"9a6b1c2d-0000-4000-8000-000000000004\","
	"\"description\":\"Create vol1\",\"state\":\"failure\",\"message\":\"entry doesn't exist\","
	"\"code\":4,\"start_time\":\"2021-06-29T21:00:00+12:00\","
	"\"end_time\":\"2021-06-29T21:00:05+12:00\","
	"\"error\":{\"code\":\"4\",\"message\":\"entry doesn't exist\",\"target\":\"uuid\","
	"\"arguments\":[{\"code\":\"1\",\"message\":\"vol1\"},"
	"{\"code\":\"2\",\"message\":\"Snapshot copy busy\"}]},"
	"\"node\":{\"name\":\"node-01\"},\"svm\":{\"name\":\"VS2\",\"uuid\":\"5c1f0000-0000-4000-8000-0000000000a2\"},"
	"\"_links\":{\"self\":{\"href\":\"/api/cluster/jobs/9a6b1c2d-0000-4000-8000-000000000004\"}}}",
	/* j5: an older failure, empty arguments, node null; its message has a '|'. */
	"{\"uuid\":\"9a6b1c2d-0000-4000-8000-000000000005\","
	"\"description\":\"File Directory Security Apply Job\",\"state\":\"failure\","
	"\"message\":\"a|b\",\"code\":1638555,\"start_time\":\"2020-06-16T06:47:13-04:00\","
	"\"end_time\":\"2020-06-16T06:48:00-04:00\","
	"\"error\":{\"code\":\"1638555\",\"message\":\"Failed to apply policy\",\"arguments\":[]},"
	"\"node\":null,"
	"\"_links\":{\"self\":{\"href\":\"/api/cluster/jobs/9a6b1c2d-0000-4000-8000-000000000005\"}}}",
	/* j6: paused; its message is literally joe* . */
	"{\"uuid\":\"9a6b1c2d-0000-4000-8000-000000000006\","
	"\"description\":\"App Snapshot Job\",\"state\":\"paused\",\"message\":\"joe*\","
	"\"code\":0,\"start_time\":\"2021-06-30T00:00:00Z\",\"svm\":{\"name\":\"vs1\"},"
	"\"_links\":{\"self\":{\"href\":\"/api/cluster/jobs/9a6b1c2d-0000-4000-8000-000000000006\"}}}",
	/* j7: a sparse record: uuid and state only. */
	"{\"uuid\":\"9a6b1c2d-0000-4000-8000-000000000007\",\"state\":\"Success\"}",
};
#define NJOBS (sizeof(job_json) / sizeof(job_json[0]))

static json_object *jobs[NJOBS];
static struct jfs_eval_row *rows[NJOBS]; /* rows[i] is built from jobs[i] */

static void jobs_setup(void)
{
	for (size_t i = 0; i < NJOBS; i++) {
		jobs[i] = json_tokener_parse(job_json[i]);
		ck_assert_msg(jobs[i] != NULL, "fixture %zu is not JSON", i + 1);
		rows[i] = jfs_eval_row_new(jobs[i]);
		ck_assert_ptr_nonnull(rows[i]);
	}
}

static void jobs_teardown(void)
{
	for (size_t i = 0; i < NJOBS; i++) {
		json_object_put(jobs[i]);
		jfs_eval_row_free(rows[i]);
	}
}

/* The job's name: the last digit of its uuid. */
static char job_name(json_object *job)
{
	json_object *u;
	ck_assert(json_object_object_get_ex(job, "uuid", &u));
	const char *s = json_object_get_string(u);
	return s[strlen(s) - 1];
}

/* The names of the jobs matching field=query, in fixture order ("" for none). Every
 * call also holds the row matcher to the same answer as the record matcher. */
static const char *match(const char *field, const char *query)
{
	static char names[NJOBS + 1];
	struct jfs_eval_filter *f = NULL;
	struct jfs_eval_error err = { 0 };
	int rc = jfs_eval_filter_compile(field, query, &f, &err);
	ck_assert_msg(rc == 0, "%s=%s rejected: %s", field, query, err.message);
	size_t n = 0;
	for (size_t i = 0; i < NJOBS; i++) {
		bool m = jfs_eval_filter_match(f, jobs[i]);
		ck_assert_msg(jfs_eval_filter_match_row(f, rows[i]) == m,
			      "%s=%s on j%zu: the row says %d, the record %d", field, query, i + 1,
			      !m, m);
		if (m)
			names[n++] = job_name(jobs[i]);
	}
	names[n] = '\0';
	jfs_eval_filter_free(f);
	return names;
}

#define ck_match(field, query, expect) ck_assert_str_eq(match(field, query), expect)

/* field=query must fail with this code and target; message checked when not NULL. */
static void ck_reject(const char *field, const char *query, const char *code,
		      const char *target, const char *message)
{
	struct jfs_eval_filter *f = (struct jfs_eval_filter *)&f; /* must be reset to NULL */
	struct jfs_eval_error err = { 0 };
	int rc = jfs_eval_filter_compile(field, query, &f, &err);
	ck_assert_msg(rc == -EINVAL, "%s=%s: rc %d", field, query, rc);
	ck_assert_ptr_null(f);
	ck_assert_int_eq(err.http_status, 400);
	ck_assert_str_eq(err.code, code);
	ck_assert_str_eq(err.target, target);
	if (message)
		ck_assert_str_eq(err.message, message);
}

/* ---- schema ---- */

static const char *const all_fields[] = {
	"uuid",	      "description",	 "state",	  "message",
	"code",	      "start_time",	 "end_time",	  "error.code",
	"error.message", "error.target", "error.arguments.code", "error.arguments.message",
	"node.name",  "node.uuid",	 "svm.name",	  "svm.uuid",
};
#define NFIELDS (sizeof(all_fields) / sizeof(all_fields[0]))

START_TEST(schema_lookup)
{
	const struct jfs_eval_field *f = jfs_eval_field_find("code");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(f->type, JFS_EVAL_NUMBER);
	ck_assert_int_eq(jfs_eval_field_find("start_time")->type, JFS_EVAL_TIME);
	ck_assert_int_eq(jfs_eval_field_find("end_time")->type, JFS_EVAL_TIME);
	ck_assert_int_eq(jfs_eval_field_find("error.code")->type, JFS_EVAL_STRING);
	ck_assert_int_eq(jfs_eval_field_find("error.arguments.message")->type, JFS_EVAL_STRING);
	ck_assert_str_eq(jfs_eval_field_find("svm.uuid")->path, "svm.uuid");
	for (size_t i = 0; i < NFIELDS; i++) {
		ck_assert_ptr_nonnull(jfs_eval_field_find(all_fields[i]));
		ck_assert_str_eq(jfs_eval_field_find(all_fields[i])->path, all_fields[i]);
	}
	ck_assert_ptr_null(jfs_eval_field_find("svm"));
	ck_assert_ptr_null(jfs_eval_field_find("Code"));
	ck_assert_ptr_null(jfs_eval_field_find(""));
	ck_assert_ptr_null(jfs_eval_field_find(NULL));
}
END_TEST

/* ---- each operator alone ---- */

START_TEST(equality)
{
	ck_match("state", "success", "17");
	ck_match("state", "running", "2");
	ck_match("state", "succ", "");
	ck_match("description", "Create vol1", "4");
	ck_match("uuid", "9a6b1c2d-0000-4000-8000-000000000003", "3");
	ck_match("code", "4", "4");
	ck_match("code", "0", "1236");
	ck_match("code", "+4", "4");
}
END_TEST

START_TEST(case_insensitive)
{
	ck_match("state", "SUCCESS", "17");
	ck_match("state", "Success", "17");
	ck_match("description", "create VOL1", "4");
	ck_match("description", "*SNAPSHOT*", "36");
	ck_match("svm.name", "vs2", "4");
	ck_match("svm.name", "VS1", "36");
	/* Comparisons fold too: "VS2" sorts after "vs1". */
	ck_match("svm.name", ">vs1", "4");
	ck_match("svm.name", "<VS2", "36");
	/* Literals fold: only the operators are switched off. */
	ck_match("message", "\"JOE*\"", "6");
}
END_TEST

START_TEST(wildcards)
{
	ck_match("description", "*Snapshot*", "36");
	ck_match("description", "Clu*", "2");
	ck_match("description", "*Job", "256");
	ck_match("description", "C*e*1", "4");	  /* a*b*c */
	ck_match("description", "*a*p*", "12356"); /* several stars, backtracking */
	ck_match("description", "*", "123456");	  /* any set value; j7 has none */
	ck_match("description", "**", "123456");
	ck_match("message", "joe*", "26");	  /* "joe*" itself matches joe* too */
	ck_match("message", "*", "123456");	  /* the empty message is set */
	ck_match("description", "Create vol1*", "4"); /* a star may match nothing */
	ck_match("description", "*vol", "");
	/* On numbers and times a star works on the value's text. */
	ck_match("code", "16*", "5");
	ck_match("code", "*", "123456");
	ck_match("start_time", "2021-06-29*", "124");
}
END_TEST

START_TEST(negation)
{
	ck_match("state", "!success", "23456");
	ck_match("state", "!queued", "124567"); /* j7's "Success" is not queued */
	ck_match("description", "!*Job", "134");
	ck_match("code", "!0", "45");
	ck_match("end_time", "!null", "145");
	/* An unset field is excluded from every term but null, negated ones included. */
	ck_match("description", "!Create vol1", "12356");
	ck_match("svm.name", "!vs1", "4");
}
END_TEST

START_TEST(alternatives)
{
	ck_match("state", "queued|running", "23");
	ck_match("state", "queued|running|paused|nonsense", "236");
	ck_match("code", "3|5..9|>100", "5");
	ck_match("code", "4|>100", "45");
	ck_match("state", "!success|success", "1234567");
	ck_match("end_time", "null|<2021-01-01T00:00:00Z", "23567");
	/* Each alternative alone decides: !a|!b matches all but a record that is both. */
	ck_match("state", "!failure|!success", "1234567");
}
END_TEST

START_TEST(comparisons)
{
	ck_match("code", ">0", "45");
	ck_match("code", ">=4", "45");
	ck_match("code", "<4", "1236");
	ck_match("code", "<=4", "12346");
	ck_match("code", ">1638555", "");
	ck_match("code", ">=1638555", "5");
	ck_match("code", "<-1", "");
	/* Strings compare alphabetically: "node-01" < "node-02". */
	ck_match("node.name", "<node-02", "14");
	ck_match("node.name", ">=node-02", "2");
	ck_match("state", ">running", "17"); /* success, Success; not paused */
}
END_TEST

START_TEST(ranges)
{
	ck_match("code", "1..4", "4");
	ck_match("code", "0..4", "12346");
	ck_match("code", "4..4", "4");
	ck_match("code", "5..3", ""); /* an empty range */
	ck_match("code", "-10..0", "1236");
	/* Strings: inclusive bounds, alphabetical ("DELETE ..." > "d"). */
	ck_match("description", "a..d", "246");
	ck_match("description", "a..e", "2346"); /* not "File ..." */
	ck_match("state", "queued..running", "23");
	/* A string term with an empty side is a plain value. */
	ck_match("message", "a..", "");
}
END_TEST

START_TEST(times)
{
	/* The same instant written at other offsets. */
	ck_match("start_time", "2021-06-29T09:25:26Z", "1");
	ck_match("start_time", "2021-06-29T09:25:26+00:00", "1");
	ck_match("start_time", "2021-06-29T05:25:26-04:00", "1");
	ck_match("start_time", "2021-06-29T14:55:26+05:30", "1");
	ck_match("start_time", "2021-06-29T09:00:00Z", "4"); /* j4 wrote 21:00+12:00 */
	/* Chronological order, not the text's: 21:00+12:00 is before 05:25-04:00. */
	ck_match("start_time", "<2021-06-29T09:25:26Z", "45");
	ck_match("start_time", "<=2021-06-29T09:25:26Z", "145");
	ck_match("start_time", ">2021-06-29T09:25:26Z", "26");
	ck_match("start_time", ">=2021-06-30T00:00:00+00:00", "6");
	/* A range of times, bounds inclusive and at different offsets. */
	ck_match("start_time", "2021-06-29T00:00:00Z..2021-06-29T09:30:00Z", "124");
	ck_match("start_time", "2021-06-29T05:00:00-04:00..2021-06-29T18:30:00+09:00", "124");
	ck_match("start_time", "2021-06-29T09:00:01Z..2021-06-29T09:29:59Z", "1");
	/* Fractions of a second are within the second. */
	ck_match("start_time", "2021-06-29T09:25:26.000Z", "1");
	/* end_time is unset on active jobs: never < or >, only null. */
	ck_match("end_time", ">2000-01-01T00:00:00Z", "145");
	ck_match("end_time", "<2100-01-01T00:00:00Z", "145");
	ck_match("end_time", "2000-01-01T00:00:00Z..2100-01-01T00:00:00Z", "145");
	ck_match("end_time", "null", "2367");
}
END_TEST

START_TEST(types_differ)
{
	/* The same text, three types. code is a number: 10 > 9. */
	ck_match("code", ">9", "5");
	/* error.code is a string: "1638555" < "5" alphabetically, and so is "4". */
	ck_match("error.code", "<5", "45");
	ck_match("error.code", ">2", "4");
	/* Numerically "4" and "04" are one value; as strings they are not. */
	ck_match("code", "04", "4");
	ck_match("error.code", "04", "");
}
END_TEST

/* ---- null, literals, empty ---- */

START_TEST(nulls)
{
	ck_match("end_time", "null", "2367");
	ck_match("end_time", "!null", "145");
	ck_match("svm.name", "null", "1257");
	ck_match("svm.name", "!null", "346");
	/* node: absent on j3, j6, j7; JSON null on j5. */
	ck_match("node.name", "null", "3567");
	ck_match("node.name", "!null", "124");
	ck_match("error.target", "null", "123567");
	ck_match("code", "null", "7");
	ck_match("code", "!null", "123456");
	/* null is a keyword only unquoted. */
	ck_match("end_time", "null|>2021-06-29T00:00:00Z", "123467");
}
END_TEST

START_TEST(literals)
{
	ck_match("message", "joe*", "26");
	ck_match("message", "\"joe*\"", "6");
	ck_match("message", "{joe*}", "6");
	ck_match("message", "!\"joe*\"", "12345");
	/* No splitting on | inside quotes or braces. */
	ck_match("message", "a|b", "");
	ck_match("message", "{a|b}", "5");
	ck_match("message", "\"a|b\"", "5");
	ck_match("message", "{a|b}|success", "15");
	ck_match("message", "success|\"a|b\"", "15");
	/* No operators inside either. */
	ck_match("message", "{<b}", "");
	ck_match("message", "\"null\"", "");
	ck_match("description", "{a..z}", "");
	ck_match("state", "{success}", "17");
	/* A literal on a number is still a number. */
	ck_match("code", "\"4\"", "4");
	/* The comparison operand may be quoted. */
	ck_match("node.name", "<\"node-02\"", "14");
}
END_TEST

START_TEST(empty_query)
{
	ck_match("message", "", "3");
	ck_match("message", "!", "12456");
	ck_match("message", "success|", "13"); /* a trailing | adds the empty value */
	ck_match("message", "\"\"", "3");
	ck_match("message", "{}", "3");
}
END_TEST

/* ---- nested fields and arrays ---- */

START_TEST(nested)
{
	ck_match("svm.name", "vs1", "36");
	ck_match("svm.uuid", "*a2", "4");
	ck_match("node.name", "node-01", "14");
	ck_match("error.code", "4", "4");
	ck_match("error.message", "*policy*", "5");
	ck_match("error.target", "uuid", "4");
	/* An array matches when any element does. */
	ck_match("error.arguments.message", "vol1", "4");
	ck_match("error.arguments.message", "*busy*", "4");
	ck_match("error.arguments.message", "nothing", "");
	ck_match("error.arguments.code", "2", "4");
	ck_match("error.arguments.code", ">1", "4");
	ck_match("error.arguments.code", "3|4", "");
	/* !vol1 holds for the second argument of j4. */
	ck_match("error.arguments.message", "!vol1", "4");
	/* No error, or an empty arguments array: unset. */
	ck_match("error.arguments.message", "null", "123567");
	ck_match("error.arguments.message", "!null", "4");
}
END_TEST

/* ---- errors ---- */

START_TEST(unknown_field)
{
	ck_reject("foo", "x", "262179", "foo", "Unexpected argument \"foo\".");
	ck_reject("svm", "vs1", "262179", "svm", "Unexpected argument \"svm\".");
	ck_reject("error.arguments", "x", "262179", "error.arguments", NULL);
	ck_reject("svm.name.x", "x", "262179", "svm.name.x", NULL);
	ck_reject("State", "success", "262179", "State", NULL);
	ck_reject("", "x", "262179", "", "Unexpected argument \"\".");
	/* A long name is cut to fit target, in full in the message. */
	char name[300];
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	struct jfs_eval_filter *f;
	struct jfs_eval_error err;
	ck_assert_int_eq(jfs_eval_filter_compile(name, "1", &f, &err), -EINVAL);
	ck_assert_uint_eq(strlen(err.target), sizeof(err.target) - 1);
	ck_assert_ptr_nonnull(strstr(err.message, name));
}
END_TEST

START_TEST(invalid_value)
{
	ck_reject("code", "<abc", "262197", "code",
		  "The value \"abc\" is invalid for field \"code\"");
	ck_reject("code", "abc", "262197", "code",
		  "The value \"abc\" is invalid for field \"code\"");
	ck_reject("code", "4|x", "262197", "code",
		  "The value \"x\" is invalid for field \"code\"");
	ck_reject("code", "1..x", "262197", "code",
		  "The value \"x\" is invalid for field \"code\"");
	ck_reject("code", "3.5", "262197", "code", NULL);
	ck_reject("code", "", "262197", "code",
		  "The value \"\" is invalid for field \"code\"");
	ck_reject("code", "{1|2}", "262197", "code",
		  "The value \"1|2\" is invalid for field \"code\"");
	ck_reject("code", "99999999999999999999", "262197", "code", NULL);
	ck_reject("start_time", ">yesterday", "262197", "start_time",
		  "The value \"yesterday\" is invalid for field \"start_time\"");
	ck_reject("end_time", "2021-06-29", "262197", "end_time", NULL);	  /* no time */
	ck_reject("end_time", "2021-06-29T09:25:26", "262197", "end_time", NULL); /* no offset */
	ck_reject("start_time", "2021-06-29T00:00:00Z..", "262197", "start_time",
		  "The value \"\" is invalid for field \"start_time\"");
	/* Strings take any value. */
	ck_match("state", "<abc", "");
	ck_match("error.code", "abc", "");
}
END_TEST

/* ---- order_by ---- */

static const struct jfs_eval_order *sort_order;

static const struct jfs_eval_row *jobs_row(size_t i)
{
	return rows[i];
}

static int cmp_jobs(const void *a, const void *b)
{
	return jfs_eval_order_compare(sort_order, *(json_object *const *)a, *(json_object *const *)b);
}

static int cmp_rows(const void *a, const void *b)
{
	const struct jfs_eval_row *ra = jobs_row(*(const size_t *)a), *rb = jobs_row(*(const size_t *)b);
	return jfs_eval_order_compare_rows(sort_order, ra, rb);
}

/* Job names sorted by order_by. */
static const char *sorted(const char *order_by)
{
	static char names[NJOBS + 1];
	struct jfs_eval_order *o = NULL;
	struct jfs_eval_error err = { 0 };
	int rc = jfs_eval_order_parse(order_by, &o, &err);
	ck_assert_msg(rc == 0, "order_by=%s rejected: %s", order_by, err.message);
	/* Start from reverse order so a sort that leaves ties alone shows. */
	json_object *v[NJOBS];
	for (size_t i = 0; i < NJOBS; i++)
		v[i] = jobs[NJOBS - 1 - i];
	sort_order = o;
	qsort(v, NJOBS, sizeof(v[0]), cmp_jobs);
	for (size_t i = 0; i < NJOBS; i++)
		names[i] = job_name(v[i]);
	names[NJOBS] = '\0';

	/* Rows sort the same. */
	size_t idx[NJOBS];
	for (size_t i = 0; i < NJOBS; i++)
		idx[i] = NJOBS - 1 - i;
	qsort(idx, NJOBS, sizeof(idx[0]), cmp_rows);
	for (size_t i = 0; i < NJOBS; i++)
		ck_assert_msg(job_name(jobs[idx[i]]) == names[i], "order_by=%s: rows differ at %zu",
			      order_by ? order_by : "(null)", i);
	jfs_eval_order_free(o);
	return names;
}

START_TEST(order_single)
{
	ck_assert_str_eq(sorted(NULL), "1234567"); /* no keys: uuid order */
	ck_assert_str_eq(sorted(""), "1234567");
	ck_assert_str_eq(sorted("uuid"), "1234567");
	ck_assert_str_eq(sorted("uuid desc"), "7654321");
	/* Ties (code 0) by uuid ascending; j7 lacks code: last. */
	ck_assert_str_eq(sorted("code"), "1236457");
	ck_assert_str_eq(sorted("code asc"), "1236457");
	ck_assert_str_eq(sorted("code desc"), "5412367");
	ck_assert_str_eq(sorted("code DESC"), "5412367");
	ck_assert_str_eq(sorted("  code   desc  "), "5412367");
	ck_assert_str_eq(sorted("code+desc"), "5412367"); /* '+' from a form-encoded space */
}
END_TEST

START_TEST(order_types)
{
	/* Times chronologically: j5 (2020), j4 09:00Z, j1 09:25Z, j2 09:30Z, j6; unset last. */
	ck_assert_str_eq(sorted("start_time"), "5412637");
	ck_assert_str_eq(sorted("start_time desc"), "6214537");
	/* Missing fields last in both directions. */
	ck_assert_str_eq(sorted("end_time"), "5412367");
	ck_assert_str_eq(sorted("end_time desc"), "1452367");
	/* Strings alphabetically, case folded (vs1 < VS2), unset last. */
	ck_assert_str_eq(sorted("svm.name"), "3641257");
	ck_assert_str_eq(sorted("svm.name desc"), "4361257");
	/* App, Cluster, Create, DELETE, File, PATCH, unset. */
	ck_assert_str_eq(sorted("description"), "6243517");
	/* An array sorts by its first element. */
	ck_assert_str_eq(sorted("error.arguments.message"), "4123567");
}
END_TEST

START_TEST(order_several)
{
	/* failure (4, 5), paused, queued, running, success/Success (1, 7). */
	ck_assert_str_eq(sorted("state"), "4563217");
	ck_assert_str_eq(sorted("state,code desc"), "5463217");
	ck_assert_str_eq(sorted("state desc,code desc"), "1723654");
	ck_assert_str_eq(sorted("state, start_time desc"), "4563217");
	/* node-02, node-01 (codes 0, 4), then no node.name, by code (j7 has none). */
	ck_assert_str_eq(sorted("node.name desc,code"), "2143657");
}
END_TEST

START_TEST(order_errors)
{
	struct jfs_eval_order *o = (struct jfs_eval_order *)&o;
	struct jfs_eval_error err = { 0 };
	ck_assert_int_eq(jfs_eval_order_parse("foo", &o, &err), -EINVAL);
	ck_assert_ptr_null(o);
	ck_assert_str_eq(err.code, "262179");
	ck_assert_str_eq(err.target, "foo");
	ck_assert_str_eq(err.message, "Unexpected argument \"foo\".");
	ck_assert_int_eq(err.http_status, 400);

	ck_assert_int_eq(jfs_eval_order_parse("state,svm desc", &o, &err), -EINVAL);
	ck_assert_str_eq(err.code, "262179");
	ck_assert_str_eq(err.target, "svm");

	ck_assert_int_eq(jfs_eval_order_parse("state sideways", &o, &err), -EINVAL);
	ck_assert_str_eq(err.code, "262197");
	ck_assert_str_eq(err.target, "order_by");

	ck_assert_int_eq(jfs_eval_order_parse("state desc asc", &o, &err), -EINVAL);
	ck_assert_str_eq(err.code, "262197");
	ck_assert_int_eq(jfs_eval_order_parse("state,,code", &o, &err), -EINVAL);
	ck_assert_str_eq(err.code, "262197");
	ck_assert_int_eq(jfs_eval_order_parse("state,", &o, &err), -EINVAL);
	ck_assert_str_eq(err.code, "262197");
}
END_TEST

/* ---- fields ---- */

/* Project job i (1-based) with fields and compare with the expected JSON. */
static void ck_project(const char *fields, size_t i, const char *expect_json)
{
	struct jfs_eval_fields *fs = NULL;
	struct jfs_eval_error err = { 0 };
	int rc = jfs_eval_fields_parse(fields, &fs, &err);
	ck_assert_msg(rc == 0, "fields=%s rejected: %s", fields ? fields : "(null)", err.message);
	json_object *got = jfs_eval_fields_project(fs, jobs[i - 1]);
	ck_assert_ptr_nonnull(got);
	json_object *want = json_tokener_parse(expect_json);
	ck_assert_ptr_nonnull(want);
	ck_assert_msg(json_object_equal(got, want), "fields=%s on j%zu gave %s", fields, i,
		      json_object_to_json_string(got));
	json_object_put(want);
	json_object_put(got);
	jfs_eval_fields_free(fs);
}

#define LINKS(n)                                                                             \
	"\"_links\":{\"self\":{\"href\":\"/api/cluster/jobs/9a6b1c2d-0000-4000-8000-00000000000" \
	#n "\"}}}"
#define UUID(n) "{\"uuid\":\"9a6b1c2d-0000-4000-8000-00000000000" #n "\","

START_TEST(fields_default)
{
	ck_project(NULL, 4, UUID(4) LINKS(4));
	ck_project("", 4, UUID(4) LINKS(4));
	ck_project("uuid", 4, UUID(4) LINKS(4));
	ck_project("_links", 1, UUID(1) LINKS(1));
	/* j7 has no _links: none is invented. */
	ck_project(NULL, 7, "{\"uuid\":\"9a6b1c2d-0000-4000-8000-000000000007\"}");
}
END_TEST

START_TEST(fields_all)
{
	for (size_t i = 1; i <= NJOBS; i++) {
		ck_project("*", i, job_json[i - 1]);
		ck_project("**", i, job_json[i - 1]);
		ck_project("state,*", i, job_json[i - 1]);
	}
	/* The record's key order is kept, uuid first and _links last. */
	struct jfs_eval_fields *fs;
	struct jfs_eval_error err;
	ck_assert_int_eq(jfs_eval_fields_parse("*", &fs, &err), 0);
	json_object *p = jfs_eval_fields_project(fs, jobs[0]);
	struct json_object_iterator it = json_object_iter_begin(p);
	ck_assert_str_eq(json_object_iter_peek_name(&it), "uuid");
	size_t n = (size_t)json_object_object_length(p), k = 0;
	for (; k + 1 < n; k++)
		json_object_iter_next(&it);
	ck_assert_str_eq(json_object_iter_peek_name(&it), "_links");
	json_object_put(p);
	jfs_eval_fields_free(fs);
}
END_TEST

START_TEST(fields_list)
{
	ck_project("state,code", 4, UUID(4) "\"state\":\"failure\",\"code\":4," LINKS(4));
	ck_project(" state , code ", 4, UUID(4) "\"state\":\"failure\",\"code\":4," LINKS(4));
	ck_project("code,state", 4, UUID(4) "\"state\":\"failure\",\"code\":4," LINKS(4));
	ck_project("state,state", 4, UUID(4) "\"state\":\"failure\"," LINKS(4));
	/* Fields a record lacks are left out. */
	ck_project("end_time,svm.name", 2, UUID(2) LINKS(2));
	/* JSON null is shown as null. */
	ck_project("node", 5, UUID(5) "\"node\":null," LINKS(5));
}
END_TEST

START_TEST(fields_nested)
{
	ck_project("svm.name", 4, UUID(4) "\"svm\":{\"name\":\"VS2\"}," LINKS(4));
	ck_project("svm", 3,
		   UUID(3) "\"svm\":{\"name\":\"vs1\",\"uuid\":\"5c1f0000-0000-4000-8000-0000000000a1\","
			   "\"_links\":{\"self\":{\"href\":\"/api/svm/svms/5c1f0000-0000-4000-8000-0000000000a1\"}}},"
			   LINKS(3));
	/* The whole object wins over a part of it, in either order. */
	ck_project("svm.name,svm", 4,
		   UUID(4) "\"svm\":{\"name\":\"VS2\",\"uuid\":\"5c1f0000-0000-4000-8000-0000000000a2\"},"
			   LINKS(4));
	ck_project("svm,svm.name", 4,
		   UUID(4) "\"svm\":{\"name\":\"VS2\",\"uuid\":\"5c1f0000-0000-4000-8000-0000000000a2\"},"
			   LINKS(4));
	ck_project("error.code,error.target", 4,
		   UUID(4) "\"error\":{\"code\":\"4\",\"target\":\"uuid\"}," LINKS(4));
	/* Through an array: each element keeps the selected part. */
	ck_project("error.arguments.message", 4,
		   UUID(4) "\"error\":{\"arguments\":[{\"message\":\"vol1\"},"
			   "{\"message\":\"Snapshot copy busy\"}]}," LINKS(4));
	ck_project("error.arguments.code,error.arguments.message", 4,
		   UUID(4) "\"error\":{\"arguments\":[{\"code\":\"1\",\"message\":\"vol1\"},"
			   "{\"code\":\"2\",\"message\":\"Snapshot copy busy\"}]}," LINKS(4));
	ck_project("error.arguments", 5, UUID(5) "\"error\":{\"arguments\":[]}," LINKS(5));
	ck_project("error.message,state", 5,
		   UUID(5) "\"state\":\"failure\",\"error\":{\"message\":\"Failed to apply policy\"},"
			   LINKS(5));
	/* A nested field the record lacks gives no empty object. */
	ck_project("svm.uuid", 6, UUID(6) LINKS(6));
	ck_project("node.name", 5, UUID(5) LINKS(5));
}
END_TEST

START_TEST(fields_unknown)
{
	static const char *const bad[][2] = {
		{ "foo", "foo" },
		{ "state,foo", "foo" },
		{ "svm.nme", "svm.nme" },
		{ "svm.name.x", "svm.name.x" },
		{ "error.arguments.text", "error.arguments.text" },
		{ "State", "State" },
		{ "sv", "sv" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct jfs_eval_fields *fs = (struct jfs_eval_fields *)&fs;
		struct jfs_eval_error err = { 0 };
		ck_assert_int_eq(jfs_eval_fields_parse(bad[i][0], &fs, &err), -EINVAL);
		ck_assert_ptr_null(fs);
		ck_assert_int_eq(err.http_status, 400);
		ck_assert_str_eq(err.code, "262179");
		ck_assert_str_eq(err.target, bad[i][1]);
		char msg[128];
		snprintf(msg, sizeof(msg), "Unexpected argument \"%s\".", bad[i][1]);
		ck_assert_str_eq(err.message, msg);
	}
}
END_TEST

START_TEST(fields_deep_copy)
{
	struct jfs_eval_fields *fs;
	struct jfs_eval_error err;
	ck_assert_int_eq(jfs_eval_fields_parse("svm", &fs, &err), 0);
	json_object *rec = json_tokener_parse(job_json[2]);
	json_object *p = jfs_eval_fields_project(fs, rec);
	json_object_put(rec); /* the projection must not share anything with it */
	json_object *svm, *name;
	ck_assert(json_object_object_get_ex(p, "svm", &svm));
	ck_assert(json_object_object_get_ex(svm, "name", &name));
	ck_assert_str_eq(json_object_get_string(name), "vs1");
	json_object_put(p);
	jfs_eval_fields_free(fs);
}
END_TEST

/* ---- '*' against a reference matcher ---- */

/* The textbook recursive glob, case-folded: slow and obviously right. */
static bool glob_ref(const char *s, const char *p)
{
	if (*p == '\0')
		return *s == '\0';
	if (*p == '*')
		return glob_ref(s, p + 1) || (*s && glob_ref(s + 1, p));
	return *s && (*s | 0x20) == (*p | 0x20) && glob_ref(s + 1, p + 1);
}

START_TEST(glob_random)
{
	/* Short strings over a tiny alphabet hit every overlap of prefix, pieces and
	 * suffix; a fixed seed keeps failures reproducible. */
	unsigned seed = 12345;
	char text[8], pat[8];
	for (int round = 0; round < 20000; round++) {
		size_t tl = (size_t)(rand_r(&seed) % 7), pl = (size_t)(rand_r(&seed) % 7);
		for (size_t i = 0; i < tl; i++)
			text[i] = "abA"[rand_r(&seed) % 3];
		text[tl] = '\0';
		for (size_t i = 0; i < pl; i++)
			pat[i] = "ab**B"[rand_r(&seed) % 5];
		pat[pl] = '\0';
		if (!strchr(pat, '*'))
			continue; /* plain values are tested elsewhere */
		char rec_json[64];
		snprintf(rec_json, sizeof(rec_json), "{\"uuid\":\"u\",\"message\":\"%s\"}", text);
		json_object *rec = json_tokener_parse(rec_json);
		ck_assert_ptr_nonnull(rec);
		struct jfs_eval_row *row = jfs_eval_row_new(rec);
		ck_assert_ptr_nonnull(row);
		struct jfs_eval_filter *f;
		struct jfs_eval_error err;
		ck_assert_int_eq(jfs_eval_filter_compile("message", pat, &f, &err), 0);
		bool want = glob_ref(text, pat);
		ck_assert_msg(jfs_eval_filter_match(f, rec) == want, "\"%s\" against %s", text, pat);
		ck_assert_msg(jfs_eval_filter_match_row(f, row) == want, "row \"%s\" against %s", text, pat);
		jfs_eval_filter_free(f);
		jfs_eval_row_free(row);
		json_object_put(rec);
	}
}
END_TEST

/* Random queries over the language's own characters, on every field: compiling
 * either succeeds or fails with one of the two documented errors, and records and
 * rows always agree. ASan and UBSan watch the parser and matcher meanwhile. */
START_TEST(random_queries)
{
	static const char alphabet[] = "!|*<>=.\"{}n0u1l4-2T:Z+ sS";
	unsigned seed = 4242;
	char q[16];
	for (int round = 0; round < 4000; round++) {
		size_t len = (size_t)(rand_r(&seed) % (sizeof(q) - 1));
		for (size_t i = 0; i < len; i++)
			q[i] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		q[len] = '\0';
		const char *field = all_fields[rand_r(&seed) % NFIELDS];
		struct jfs_eval_filter *f = NULL;
		struct jfs_eval_error err = { 0 };
		int rc = jfs_eval_filter_compile(field, q, &f, &err);
		if (rc) {
			ck_assert_int_eq(rc, -EINVAL);
			ck_assert_ptr_null(f);
			ck_assert_str_eq(err.code, "262197");
			ck_assert_str_eq(err.target, field);
			continue;
		}
		for (size_t i = 0; i < NJOBS; i++)
			ck_assert_msg(jfs_eval_filter_match(f, jobs[i]) == jfs_eval_filter_match_row(f, rows[i]),
				      "%s=%s on j%zu", field, q, i + 1);
		jfs_eval_filter_free(f);
	}
}
END_TEST

/* ---- rows ---- */

START_TEST(row_is_a_snapshot)
{
	/* A row keeps its values after the record is gone (ASan checks the reads). */
	json_object *rec = json_tokener_parse(job_json[3]);
	struct jfs_eval_row *row = jfs_eval_row_new(rec);
	ck_assert_ptr_nonnull(row);
	json_object_put(rec);
	static const char *const q[][2] = {
		{ "description", "create*" },	   { "error.arguments.message", "*busy" },
		{ "start_time", "2021-06-29T09:00:00Z" }, { "code", "4" },
		{ "code", "4*" },			   { "svm.name", "vs2" },
	};
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		struct jfs_eval_filter *f;
		struct jfs_eval_error err;
		ck_assert_int_eq(jfs_eval_filter_compile(q[i][0], q[i][1], &f, &err), 0);
		ck_assert_msg(jfs_eval_filter_match_row(f, row), "%s=%s", q[i][0], q[i][1]);
		jfs_eval_filter_free(f);
	}
	jfs_eval_row_free(row);
	jfs_eval_row_free(NULL);
}
END_TEST

START_TEST(row_odd_records)
{
	/* Values of unexpected types are read as the record matcher reads them. */
	static const char *const odd[] = {
		"{\"uuid\":7,\"code\":\"12\",\"state\":true,\"start_time\":5}",
		"{\"uuid\":\"u\",\"code\":2.5,\"description\":12,\"svm\":\"vs1\"}",
		"{\"uuid\":\"u\",\"error\":{\"arguments\":[1,{\"message\":null},[]]}}",
		"[1,2,3]",
		"{}",
	};
	static const char *const q[][2] = {
		{ "code", "12" },	  { "code", ">2" },	   { "code", "2..3" },
		{ "code", "null" },	  { "state", "true" },	   { "state", "!null" },
		{ "start_time", "null" }, { "start_time", "!null" }, { "start_time", ">2000-01-01T00:00:00Z" },
		{ "description", "1*" },  { "svm.name", "null" },  { "error.arguments.message", "null" },
		{ "error.arguments.message", "!null" }, { "uuid", "7" }, { "code", "2.5*" },
	};
	for (size_t r = 0; r < sizeof(odd) / sizeof(odd[0]); r++) {
		json_object *rec = json_tokener_parse(odd[r]);
		ck_assert_ptr_nonnull(rec);
		struct jfs_eval_row *row = jfs_eval_row_new(rec);
		ck_assert_ptr_nonnull(row);
		for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
			struct jfs_eval_filter *f;
			struct jfs_eval_error err;
			ck_assert_int_eq(jfs_eval_filter_compile(q[i][0], q[i][1], &f, &err), 0);
			ck_assert_msg(jfs_eval_filter_match_row(f, row) == jfs_eval_filter_match(f, rec),
				      "%s=%s on %s", q[i][0], q[i][1], odd[r]);
			jfs_eval_filter_free(f);
		}
		jfs_eval_row_free(row);
		json_object_put(rec);
	}
	/* A few answers pinned down. */
	json_object *rec = json_tokener_parse(odd[0]);
	ck_assert_ptr_nonnull(rec);
	struct jfs_eval_filter *f;
	struct jfs_eval_error err;
	ck_assert_int_eq(jfs_eval_filter_compile("code", ">11", &f, &err), 0);
	ck_assert(jfs_eval_filter_match(f, rec)); /* "12" read as a number */
	jfs_eval_filter_free(f);
	ck_assert_int_eq(jfs_eval_filter_compile("start_time", "null", &f, &err), 0);
	ck_assert(!jfs_eval_filter_match(f, rec)); /* set, though not a time */
	jfs_eval_filter_free(f);
	ck_assert_int_eq(jfs_eval_filter_compile("start_time", "!null", &f, &err), 0);
	ck_assert(jfs_eval_filter_match(f, rec));
	jfs_eval_filter_free(f);
	json_object_put(rec);
}
END_TEST

START_TEST(row_many_values)
{
	/* More values than a row gathers on the stack: error.arguments of 100. */
	json_object *rec = json_tokener_parse(job_json[3]);
	json_object *err_obj, *args;
	ck_assert(json_object_object_get_ex(rec, "error", &err_obj));
	ck_assert(json_object_object_get_ex(err_obj, "arguments", &args));
	for (int i = 0; i < 100; i++) {
		char code[16], msg[32];
		snprintf(code, sizeof(code), "%d", 1000 + i);
		snprintf(msg, sizeof(msg), "argument number %d", i);
		json_object *a = json_object_new_object();
		ck_assert_ptr_nonnull(a);
		json_object_object_add(a, "code", json_object_new_string(code));
		json_object_object_add(a, "message", json_object_new_string(msg));
		ck_assert_int_eq(json_object_array_add(args, a), 0);
	}
	struct jfs_eval_row *row = jfs_eval_row_new(rec);
	ck_assert_ptr_nonnull(row);
	static const char *const q[][2] = {
		{ "error.arguments.message", "argument number 99" },
		{ "error.arguments.message", "*number 5" },
		{ "error.arguments.code", "1099" },
		{ "error.arguments.code", ">1098" },
		{ "error.arguments.message", "nope" },
		{ "svm.uuid", "*a2" },	/* a field after the long array */
		{ "node.name", "node-01" },
		{ "description", "Create vol1" }, /* and one before it */
	};
	static const bool want[] = { true, true, true, true, false, true, true, true };
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		struct jfs_eval_filter *f;
		struct jfs_eval_error err;
		ck_assert_int_eq(jfs_eval_filter_compile(q[i][0], q[i][1], &f, &err), 0);
		ck_assert_msg(jfs_eval_filter_match(f, rec) == want[i], "%s=%s", q[i][0], q[i][1]);
		ck_assert_msg(jfs_eval_filter_match_row(f, row) == want[i], "row %s=%s", q[i][0], q[i][1]);
		jfs_eval_filter_free(f);
	}
	jfs_eval_row_free(row);
	json_object_put(rec);
}
END_TEST

/* ---- many records ---- */

/* Counting allocations: this executable's malloc family stands in for glibc's and
 * counts calls (json-c's and Check's too). Not under ASan, which owns malloc. */
#if defined(__SANITIZE_ADDRESS__)
#define COUNT_ALLOCS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COUNT_ALLOCS 0
#endif
#endif
#ifndef COUNT_ALLOCS
#define COUNT_ALLOCS 1
#endif

#if COUNT_ALLOCS
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
static unsigned long allocs;

void *malloc(size_t n)
{
	allocs++;
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	allocs++;
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	allocs++;
	return __libc_realloc(p, n);
}
#endif

/* A synthetic job list: the oracle for the matcher is plain C on the index. */
static const char *const bulk_states[] = { "queued", "running", "paused", "success", "failure" };

static json_object *bulk_job(size_t i)
{
	char buf[512];
	snprintf(buf, sizeof(buf),
		 "{\"uuid\":\"00000000-0000-4000-8000-%012zu\",\"description\":\"%s job %zu\","
		 "\"state\":\"%s\",\"message\":\"m\",\"code\":%zu,"
		 "\"start_time\":\"2021-06-29T05:25:26-04:00\","
		 "\"_links\":{\"self\":{\"href\":\"/api/cluster/jobs/%zu\"}}}",
		 i, i % 3 == 0 ? "Volume Snapshot" : "Cluster Backup", i, bulk_states[i % 5],
		 i % 1000, i);
	json_object *j = json_tokener_parse(buf);
	ck_assert_ptr_nonnull(j);
	return j;
}

START_TEST(bulk_match)
{
	enum { N = 20000 };
	json_object **recs = calloc(N, sizeof(*recs));
	struct jfs_eval_row **rs = calloc(N, sizeof(*rs));
	ck_assert_ptr_nonnull(recs);
	ck_assert_ptr_nonnull(rs);
	for (size_t i = 0; i < N; i++) {
		recs[i] = bulk_job(i);
		rs[i] = jfs_eval_row_new(recs[i]);
		ck_assert_ptr_nonnull(rs[i]);
	}
	static const char *const q[3][2] = {
		{ "state", "success|failure" },
		{ "code", ">=500" },
		{ "description", "*SNAPSHOT*" },
	};
	struct jfs_eval_filter *f[3];
	struct jfs_eval_error err;
	for (size_t k = 0; k < 3; k++)
		ck_assert_int_eq(jfs_eval_filter_compile(q[k][0], q[k][1], &f[k], &err), 0);

	size_t want = 0;
	for (size_t i = 0; i < N; i++)
		want += (i % 5 >= 3) && (i % 1000 >= 500) && (i % 3 == 0);

	struct jfs_eval_order *o;
	ck_assert_int_eq(jfs_eval_order_parse("start_time desc,code", &o, &err), 0);

#if COUNT_ALLOCS
	unsigned long allocs_before = allocs;
#endif
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	size_t got = 0;
	for (size_t i = 0; i < N; i++)
		got += jfs_eval_filter_match(f[0], recs[i]) && jfs_eval_filter_match(f[1], recs[i]) &&
		       jfs_eval_filter_match(f[2], recs[i]);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	size_t got_rows = 0;
	for (size_t i = 0; i < N; i++)
		got_rows += jfs_eval_filter_match_row(f[0], rs[i]) &&
			    jfs_eval_filter_match_row(f[1], rs[i]) && jfs_eval_filter_match_row(f[2], rs[i]);
	int order_sum = 0;
	for (size_t i = 1; i < N; i++) {
		order_sum += jfs_eval_order_compare(o, recs[i - 1], recs[i]);
		order_sum -= jfs_eval_order_compare_rows(o, rs[i - 1], rs[i]);
	}
#if COUNT_ALLOCS
	/* Read the counter before any ck_assert: Check allocates as it records one. */
	unsigned long match_allocs = allocs - allocs_before;
	jfs_eval_row_free(jfs_eval_row_new(recs[0])); /* the counter does count: one malloc */
	unsigned long row_allocs = allocs - allocs_before - match_allocs;
	/* Matching and comparing allocate nothing, for any number of records. */
	ck_assert_uint_eq(match_allocs, 0);
	ck_assert_uint_eq(row_allocs, 1);
#endif
	ck_assert_uint_eq(got, want);
	ck_assert_uint_gt(got, 0);
	ck_assert_uint_eq(got_rows, want);
	ck_assert_int_eq(order_sum, 0); /* rows compare as records do */
	jfs_eval_order_free(o);
	/* Elapsed time is taken only to show it is measurable; machines vary too much
	 * for a limit here (the figure is measured by hand, see the report). */
	ck_assert(t1.tv_sec > t0.tv_sec || (t1.tv_sec == t0.tv_sec && t1.tv_nsec >= t0.tv_nsec));

	for (size_t k = 0; k < 3; k++)
		jfs_eval_filter_free(f[k]);
	for (size_t i = 0; i < N; i++) {
		json_object_put(recs[i]);
		jfs_eval_row_free(rs[i]);
	}
	free(recs);
	free(rs);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("eval");
	TCase *tc = tcase_create("query");
	tcase_add_checked_fixture(tc, jobs_setup, jobs_teardown);
	tcase_add_test(tc, schema_lookup);
	tcase_add_test(tc, equality);
	tcase_add_test(tc, case_insensitive);
	tcase_add_test(tc, wildcards);
	tcase_add_test(tc, negation);
	tcase_add_test(tc, alternatives);
	tcase_add_test(tc, comparisons);
	tcase_add_test(tc, ranges);
	tcase_add_test(tc, times);
	tcase_add_test(tc, types_differ);
	tcase_add_test(tc, nulls);
	tcase_add_test(tc, literals);
	tcase_add_test(tc, empty_query);
	tcase_add_test(tc, nested);
	tcase_add_test(tc, unknown_field);
	tcase_add_test(tc, invalid_value);
	tcase_add_test(tc, order_single);
	tcase_add_test(tc, order_types);
	tcase_add_test(tc, order_several);
	tcase_add_test(tc, order_errors);
	tcase_add_test(tc, fields_default);
	tcase_add_test(tc, fields_all);
	tcase_add_test(tc, fields_list);
	tcase_add_test(tc, fields_nested);
	tcase_add_test(tc, fields_unknown);
	tcase_add_test(tc, fields_deep_copy);
	tcase_add_test(tc, glob_random);
	tcase_add_test(tc, random_queries);
	tcase_add_test(tc, row_is_a_snapshot);
	tcase_add_test(tc, row_odd_records);
	tcase_add_test(tc, row_many_values);
	tcase_add_test(tc, bulk_match);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
