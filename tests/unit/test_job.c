/* The job model: records into node trees, names, lookups, references (src/job.c). */
#include "jobsfs/job.h"

#include "check_helpers.h"
#include "jobsfs/error.h"
#include "jobsfs/isotime.h"
#include "jobsfs/page.h"

#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct jfs_job *load(const char *file)
{
	size_t len;
	char *body = testdata_read(file, &len);
	ck_assert_msg(body != NULL, "cannot read test data %s (JOBSFS_TESTDATA)", file);
	struct jfs_job *job = NULL;
	struct jfs_error e;
	jfs_error_clear(&e);
	int rc = jfs_job_parse(body, len, JFS_MAX_DEPTH_DEFAULT, &job, &e);
	ck_assert_msg(rc == 0, "%s: %d %s", file, rc, e.message);
	free(body);
	return job;
}

static struct jfs_job *from_string(const char *json)
{
	struct jfs_job *job = NULL;
	struct jfs_error e;
	jfs_error_clear(&e);
	int rc = jfs_job_parse(json, strlen(json), JFS_MAX_DEPTH_DEFAULT, &job, &e);
	ck_assert_msg(rc == 0, "%d %s", rc, e.message);
	return job;
}

static int64_t iso(const char *s)
{
	int64_t t;
	ck_assert_int_eq(jfs_isotime_parse(s, &t), 0);
	return t;
}

/* The file at path under dir holds exactly text ("value\n"). */
static void assert_file(const struct jfs_node *dir, const char *path, const char *text)
{
	const struct jfs_node *n = jfs_node_lookup(dir, path);
	ck_assert_msg(n != NULL, "no node %s", path);
	ck_assert_msg(!n->is_dir, "%s is a directory", path);
	ck_assert_str_eq(node_text(n), text);
	ck_assert_uint_eq(n->size, strlen(text));
}

static void assert_dir(const struct jfs_node *dir, const char *path, size_t nchildren)
{
	const struct jfs_node *n = jfs_node_lookup(dir, path);
	ck_assert_msg(n != NULL, "no node %s", path);
	ck_assert_msg(n->is_dir, "%s is not a directory", path);
	ck_assert_uint_eq(n->nchildren, nchildren);
}

/* Every invariant a reader relies on, over the whole tree; returns the node count. */
static size_t check_tree(const struct jfs_node *node)
{
	ck_assert_ptr_nonnull(jfs_node_name(node));
	size_t len = strlen(jfs_node_name(node));
	ck_assert_uint_ge(len, 1);
	ck_assert_uint_le(len, NAME_MAX);
	ck_assert_ptr_null(strchr(jfs_node_name(node), '/'));
	ck_assert(strcmp(jfs_node_name(node), ".") != 0 && strcmp(jfs_node_name(node), "..") != 0);
	if (!node->is_dir) {
		ck_assert_ptr_nonnull(jfs_node_data(node));
		ck_assert_uint_ge(node->size, 1);
		const char *text = node_text(node);
		ck_assert_int_eq(text[node->size - 1], '\n');
		return 1;
	}
	ck_assert(node->nchildren == 0 || node->ref != 0);
	size_t count = 1;
	for (size_t i = 0; i < node->nchildren; i++) {
		if (i > 0)
			ck_assert_msg(strcmp(jfs_node_name(&jfs_node_children(node)[i - 1]), jfs_node_name(&jfs_node_children(node)[i])) < 0,
				      "children of %s not sorted: %s before %s", jfs_node_name(node),
				      jfs_node_name(&jfs_node_children(node)[i - 1]), jfs_node_name(&jfs_node_children(node)[i]));
		/* binary search finds every child */
		ck_assert_ptr_eq(jfs_node_child(node, jfs_node_name(&jfs_node_children(node)[i])), &jfs_node_children(node)[i]);
		count += check_tree(&jfs_node_children(node)[i]);
	}
	return count;
}

/* No node anywhere is named _links. */
static void assert_no_links(const struct jfs_node *node)
{
	ck_assert_str_ne(jfs_node_name(node), "_links");
	for (size_t i = 0; node->is_dir && i < node->nchildren; i++)
		assert_no_links(&jfs_node_children(node)[i]);
}

START_TEST(svm_job)
{
	struct jfs_job *job = load("job_svm.json");
	ck_assert_str_eq(job->uuid, "5b3e6a1c-2f4d-11ef-8a21-00a0b8c4d7e2");
	ck_assert_str_eq(job->name, job->uuid);
	ck_assert_str_eq(jfs_node_name(&job->root), job->name);
	ck_assert(job->root.is_dir);
	ck_assert_int_eq(job->state, JFS_JOB_SUCCESS);
	ck_assert(jfs_job_is_terminal(job));
	ck_assert_int_eq(job->start_time, iso("2024-06-18T18:02:11Z"));
	ck_assert_int_eq(job->end_time, iso("2024-06-18T18:02:13Z"));
	ck_assert_int_eq(jfs_job_mtime(job), job->end_time);
	ck_assert_int_eq(job->refs, 1);

	/* uuid description state message code start_time end_time svm node job.json */
	ck_assert_uint_eq(job->root.nchildren, 10);
	assert_file(&job->root, "uuid", "5b3e6a1c-2f4d-11ef-8a21-00a0b8c4d7e2\n");
	assert_file(&job->root, "state", "success\n");
	assert_file(&job->root, "message", "Complete: Successful [0]\n");
	assert_file(&job->root, "code", "0\n");
	assert_file(&job->root, "start_time", "2024-06-18T14:02:11-04:00\n");
	assert_file(&job->root, "end_time", "2024-06-18T14:02:13-04:00\n");
	assert_dir(&job->root, "svm", 2); /* name, uuid: no _links */
	assert_file(&job->root, "svm/name", "vs_data1\n");
	assert_file(&job->root, "svm/uuid", "7e0f1a2b-2f4b-11ef-8a21-00a0b8c4d7e2\n");
	assert_file(&job->root, "node/name", "cluster1-02\n");
	ck_assert_ptr_null(jfs_node_lookup(&job->root, "_links"));
	ck_assert_ptr_null(jfs_node_lookup(&job->root, "svm/_links"));
	assert_no_links(&job->root);
	ck_assert_uint_eq(check_tree(&job->root), 14); /* root, 7 scalars, svm+2, node+1, job.json */
	jfs_job_unref(job);
}
END_TEST

START_TEST(job_json_file)
{
	size_t len;
	char *body = testdata_read("job_svm.json", &len);
	ck_assert_ptr_nonnull(body);
	struct jfs_job *job = from_string(body);
	const struct jfs_node *f = jfs_node_child(&job->root, "job.json");
	ck_assert_ptr_nonnull(f);
	ck_assert(!f->is_dir);
	const char *text = node_text(f);
	ck_assert_uint_eq(f->size, strlen(text));
	ck_assert_int_eq(text[f->size - 1], '\n');
	ck_assert_int_ne(text[f->size - 2], '\n');
	/* The whole record, _links included, slashes not escaped, pretty-printed. */
	ck_assert_ptr_nonnull(strstr(text, "\"_links\""));
	ck_assert_ptr_nonnull(strstr(text, "\"/api/svm/svms/7e0f1a2b-2f4b-11ef-8a21-00a0b8c4d7e2\""));
	ck_assert_ptr_null(strstr(text, "\\/"));
	ck_assert_ptr_nonnull(strstr(text, "\n  \"uuid\""));
	/* Read in pieces, it is the same bytes. */
	char piece[7], whole[8192];
	size_t at = 0;
	ssize_t got;
	while ((got = jfs_file_read(f, at, piece, sizeof(piece))) > 0) {
		ck_assert_uint_lt(at + (size_t)got, sizeof(whole));
		memcpy(whole + at, piece, (size_t)got);
		at += (size_t)got;
	}
	ck_assert_uint_eq(at, f->size);
	ck_assert_mem_eq(whole, text, f->size);
	/* Held once, compact: the record is what jfs_job_record gives, and job.json is it
	 * printed again. */
	ck_assert_ptr_eq(jfs_job_record(job), jfs_node_data(f));
	ck_assert_ptr_null(strchr(jfs_node_data(f), '\n'));
	/* And it parses back to the same record. */
	struct json_object *orig = json_tokener_parse(body);
	struct json_object *back = json_tokener_parse(text);
	ck_assert_ptr_nonnull(orig);
	ck_assert_ptr_nonnull(back);
	ck_assert(json_object_equal(orig, back));
	json_object_put(orig);
	json_object_put(back);
	free(body);
	jfs_job_unref(job);
}
END_TEST

START_TEST(failure_with_arguments)
{
	struct jfs_job *job = load("job_failure.json");
	ck_assert_int_eq(job->state, JFS_JOB_FAILURE);
	ck_assert(jfs_job_is_terminal(job));
	ck_assert_int_eq(job->end_time, iso("2024-07-09T09:15:04Z"));
	assert_file(&job->root, "code", "1638555\n");
	assert_dir(&job->root, "error", 3);
	assert_file(&job->root, "error/code", "1638555\n");
	assert_file(&job->root, "error/message", "Snapshot copy \"daily.2024-07-09_0010\" is locked.\n");
	assert_dir(&job->root, "error/arguments", 2);
	assert_file(&job->root, "error/arguments/0/message", "daily.2024-07-09_0010\n");
	assert_file(&job->root, "error/arguments/1/code", "1638556\n");
	assert_file(&job->root, "error/arguments/1/message", "vol_home\n");
	assert_file(&job->root, "node/name", "cluster1-01\n");
	ck_assert_ptr_null(jfs_node_lookup(&job->root, "error/arguments/2"));
	check_tree(&job->root);
	jfs_job_unref(job);
}
END_TEST

START_TEST(future_fields)
{
	struct jfs_job *job = load("job_future.json");
	ck_assert_int_eq(job->state, JFS_JOB_RUNNING);
	ck_assert(!jfs_job_is_terminal(job));
	ck_assert_int_eq(job->start_time, iso("2024-07-20T11:59:59Z"));
	ck_assert_int_eq(job->end_time, 0);
	ck_assert_int_eq(jfs_job_mtime(job), job->start_time);

	/* Unicode verbatim. */
	assert_file(&job->root, "description",
		    "File Directory Security Apply Job \xe2\x80\x94 \xc3\xa9t\xc3\xa9 "
		    "\xe6\x97\xa5\xe6\x9c\xac\n");
	assert_file(&job->root, "message", "Processing: 47% \xe2\x9c\x93\n");
	/* Scalars of every type; numbers as written. */
	assert_file(&job->root, "progress", "0.47\n");
	assert_file(&job->root, "ratio", "1.50\n");
	assert_file(&job->root, "big", "12345678901234\n");
	assert_file(&job->root, "negative", "-7\n");
	assert_file(&job->root, "cancelable", "true\n");
	assert_file(&job->root, "paused_by", "\n");
	/* Nested arrays of objects. */
	assert_dir(&job->root, "future_stats", 3);
	assert_dir(&job->root, "future_stats/phases", 2);
	assert_file(&job->root, "future_stats/phases/0/name", "scan\n");
	assert_file(&job->root, "future_stats/phases/0/files", "1200\n");
	assert_file(&job->root, "future_stats/phases/0/tags/1", "b\n");
	assert_file(&job->root, "future_stats/phases/1/done", "false\n");
	assert_dir(&job->root, "future_stats/phases/1/tags", 0);
	assert_file(&job->root, "future_stats/matrix/1/1/0", "4\n");
	assert_file(&job->root, "future_stats/matrix/1/1/1", "5\n");
	assert_dir(&job->root, "future_stats/empty", 0);
	/* Array names sort as strings, and lookup still finds two-digit ones. */
	assert_dir(&job->root, "items", 12);
	const struct jfs_node *items = jfs_node_child(&job->root, "items");
	ck_assert_str_eq(jfs_node_name(&jfs_node_children(items)[1]), "1");
	ck_assert_str_eq(jfs_node_name(&jfs_node_children(items)[2]), "10");
	ck_assert_str_eq(jfs_node_name(&jfs_node_children(items)[3]), "11");
	ck_assert_str_eq(jfs_node_name(&jfs_node_children(items)[4]), "2");
	assert_file(&job->root, "items/10", "10\n");
	assert_file(&job->root, "items/11", "11\n");
	assert_file(&job->root, "items/9", "9\n");
	ck_assert_ptr_null(jfs_node_child(items, "12"));
	ck_assert_ptr_null(jfs_node_child(items, "01"));

	/* Hostile names, encoded; the one too long is gone; job.json is the record. */
	assert_file(&job->root, "%2F", "slash\n");
	assert_file(&job->root, "%2E%2E", "dotdot\n");
	assert_file(&job->root, "%", "empty\n");
	assert_file(&job->root, "%2E", "dot\n");
	assert_file(&job->root, "%25", "percent\n");
	assert_file(&job->root, "a%2Fb", "slash inside\n");
	assert_file(&job->root, "tab%09here", "control\n");
	assert_file(&job->root, "job%2Ejson", "shadow\n");
	const struct jfs_node *rec = jfs_node_child(&job->root, "job.json");
	ck_assert_ptr_nonnull(rec);
	ck_assert_ptr_nonnull(strstr(node_text(rec), "\"shadow\""));
	ck_assert_ptr_nonnull(strstr(node_text(rec), "\"too long\"")); /* kept in job.json */
	ck_assert_ptr_nonnull(strstr(node_text(rec), "1.50"));
	for (size_t i = 0; i < job->root.nchildren; i++) {
		ck_assert_uint_le(strlen(jfs_node_name(&jfs_node_children(&job->root)[i])), NAME_MAX);
		if (!jfs_node_children(&job->root)[i].is_dir)
			ck_assert_ptr_null(strstr(node_text(&jfs_node_children(&job->root)[i]), "too long\n"));
	}
	/* 24 fields in the record, less _links and the long name, plus job.json. */
	ck_assert_uint_eq(job->root.nchildren, 24 - 2 + 1);
	assert_no_links(&job->root);
	check_tree(&job->root);
	jfs_job_unref(job);
}
END_TEST

START_TEST(huge_message)
{
	size_t n = 1 << 20;
	char *msg = malloc(n + 1);
	ck_assert_ptr_nonnull(msg);
	for (size_t i = 0; i < n; i++)
		msg[i] = (char)('a' + i % 26);
	msg[n] = '\0';
	struct json_object *rec = json_object_new_object();
	ck_assert_ptr_nonnull(rec);
	json_object_object_add(rec, "uuid", json_object_new_string("d0d0d0d0-0000-11ef-0000-000000000001"));
	json_object_object_add(rec, "state", json_object_new_string("failure"));
	json_object_object_add(rec, "message", json_object_new_string(msg));
	struct jfs_job *job = NULL;
	struct jfs_error e;
	jfs_error_clear(&e);
	ck_assert_int_eq(jfs_job_from_json(rec, &job, &e), 0);
	json_object_put(rec);
	const struct jfs_node *m = jfs_node_child(&job->root, "message");
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->size, n + 1);
	char *shown = malloc(n + 1);
	ck_assert_ptr_nonnull(shown);
	ck_assert_int_eq(jfs_file_read(m, 0, shown, n + 1), n + 1);
	ck_assert_mem_eq(shown, msg, n);
	ck_assert_int_eq(shown[n], '\n');
	free(shown);
	const struct jfs_node *j = jfs_node_child(&job->root, "job.json");
	ck_assert_uint_gt(j->size, n);
	/* The message once: its file reads it where the record holds it. */
	ck_assert_uint_ge(job->mem, n);
	ck_assert_uint_lt(job->mem, n + 2048);
	free(msg);
	jfs_job_unref(job);
}
END_TEST

/* Regression (found by fuzz_page): a member skipped for its too-long name, after every
 * kept member of a nested object, wrote one node past that object's children: the
 * name of an earlier node became NULL, or the job's uuid was overwritten. */
START_TEST(skipped_name_after_kept_members)
{
	char long_name[301];
	memset(long_name, 'x', 300);
	long_name[300] = '\0';
	char json[512];

	snprintf(json, sizeof(json), "{\"uuid\":\"0123456789abcdef\",\"a\":{\"k\":{\"m\":1},\"%s\":2}}",
		 long_name);
	struct jfs_job *job = from_string(json);
	assert_file(&job->root, "a/k/m", "1\n");
	assert_dir(&job->root, "a", 1);
	ck_assert_str_eq(job->uuid, "0123456789abcdef");
	check_tree(&job->root);
	jfs_job_unref(job);

	/* The same with the skipped member last in the block: the uuid must survive. */
	snprintf(json, sizeof(json), "{\"uuid\":\"0123456789abcdef\",\"a\":{\"k\":1,\"%s\":2}}",
		 long_name);
	job = from_string(json);
	ck_assert_str_eq(job->uuid, "0123456789abcdef");
	ck_assert_str_eq(job->name, "0123456789abcdef");
	assert_file(&job->root, "a/k", "1\n");
	check_tree(&job->root);
	jfs_job_unref(job);
}
END_TEST

START_TEST(memory_per_job)
{
	/* A job holds its record once (compact) and, beyond it, its struct, 16 bytes a
	 * node, the uuid, and only what the record cannot give: escaped strings, odd
	 * names. Under 32 bytes a node beyond the record (16 of them the node), so
	 * a few hundred bytes a job at these fixtures' dozen or two fields. */
	static const char *const files[] = { "job_svm.json", "job_failure.json" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct jfs_job *job = load(files[i]);
		size_t record = strlen(jfs_job_record(job)) + 1;
		size_t nodes = 1 + check_tree(&job->root);
		ck_assert_uint_gt(job->mem, record);
		ck_assert_msg(job->mem - record < 32 * nodes, "%s: %zu bytes beyond the record "
			      "for %zu nodes", files[i], job->mem - record, nodes);
		jfs_job_unref(job);
	}
}
END_TEST

START_TEST(bad_times)
{
	struct jfs_job *job = from_string(
		"{\"uuid\":\"u1\",\"state\":\"success\",\"start_time\":\"yesterday\","
		"\"end_time\":\"2024-02-30T00:00:00Z\"}");
	ck_assert_int_eq(job->start_time, 0);
	ck_assert_int_eq(job->end_time, 0);
	ck_assert_int_eq(jfs_job_mtime(job), 0);
	assert_file(&job->root, "start_time", "yesterday\n");
	assert_file(&job->root, "end_time", "2024-02-30T00:00:00Z\n");
	jfs_job_unref(job);

	job = from_string("{\"uuid\":\"u2\",\"start_time\":12,\"state\":7}");
	ck_assert_int_eq(job->start_time, 0);
	ck_assert_int_eq(job->state, JFS_JOB_UNKNOWN);
	assert_file(&job->root, "start_time", "12\n");
	jfs_job_unref(job);
}
END_TEST

START_TEST(minimal_and_rejected)
{
	/* A record as returned without fields=: uuid and _links only. */
	struct jfs_job *job = from_string("{\"uuid\":\"u3\",\"_links\":{\"self\":{\"href\":\"/x\"}}}");
	ck_assert_uint_eq(job->root.nchildren, 2);
	ck_assert_str_eq(jfs_node_name(&jfs_node_children(&job->root)[0]), "job.json");
	ck_assert_str_eq(jfs_node_name(&jfs_node_children(&job->root)[1]), "uuid");
	ck_assert_int_eq(job->state, JFS_JOB_UNKNOWN);
	jfs_job_unref(job);

	/* A uuid that is not a plain name is encoded for the directory. */
	job = from_string("{\"uuid\":\"../etc\"}");
	ck_assert_str_eq(job->uuid, "../etc");
	ck_assert_str_eq(job->name, "..%2Fetc");
	jfs_job_unref(job);

	static const char *const bad[] = { "{}", "{\"uuid\":5}", "{\"uuid\":null}",
					   "{\"uuid\":{\"a\":1}}", "[]", "\"uuid\"" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct jfs_job *j = (struct jfs_job *)1;
		struct jfs_error e;
		jfs_error_clear(&e);
		ck_assert_int_eq(jfs_job_parse(bad[i], strlen(bad[i]), 32, &j, &e), -EIO);
		ck_assert_ptr_null(j);
		ck_assert_int_eq(e.err, EIO);
		ck_assert(e.message[0]);
	}
	/* jfs_job_from_json itself says EINVAL. */
	struct json_object *o = json_tokener_parse("{\"state\":\"success\"}");
	struct jfs_job *j;
	struct jfs_error e;
	jfs_error_clear(&e);
	ck_assert_int_eq(jfs_job_from_json(o, &j, &e), -EINVAL);
	ck_assert_ptr_nonnull(strstr(e.message, "uuid"));
	json_object_put(o);
	/* A uuid too long to be a file name. */
	char body[400];
	snprintf(body, sizeof(body), "{\"uuid\":\"%0300d\"}", 1);
	jfs_error_clear(&e);
	ck_assert_int_eq(jfs_job_parse(body, strlen(body), 32, &j, &e), -EIO);
	/* Invalid JSON and depth. */
	ck_assert_int_eq(jfs_job_parse("{\"uuid\":", 8, 32, &j, &e), -EIO);
	ck_assert_int_eq(jfs_job_parse("{\"uuid\":\"u\",\"a\":[[[[1]]]]}", 26, 4, &j, &e), -EIO);
	ck_assert_ptr_nonnull(strstr(e.message, "deeper"));
	ck_assert_int_eq(jfs_job_parse("{\"uuid\":\"u\",\"a\":[[[[1]]]]}", 26, 5, &j, &e), 0); /* 5 levels */
	jfs_job_unref(j);
}
END_TEST

START_TEST(name_encoding)
{
	static const struct {
		const char *raw, *enc;
	} cases[] = {
		{ "state", "state" },	      { "", "%" },	       { ".", "%2E" },
		{ "..", "%2E%2E" },	      { "...", "..." },	       { ".hidden", ".hidden" },
		{ "/", "%2F" },		      { "a/b", "a%2Fb" },      { "%", "%25" },
		{ "100%", "100%25" },	      { "%2F", "%252F" },      { "a\nb", "a%0Ab" },
		{ "\x7f", "%7F" },	      { "\x1f", "%1F" },       { "job.json", "job.json" },
		{ "caf\xc3\xa9", "caf\xc3\xa9" }, { "a b*?", "a b*?" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *enc = jfs_name_encode(cases[i].raw);
		ck_assert_ptr_nonnull(enc);
		ck_assert_str_eq(enc, cases[i].enc);
		char *dec = jfs_name_decode(enc);
		ck_assert_msg(dec != NULL, "cannot decode %s", enc);
		ck_assert_str_eq(dec, cases[i].raw);
		free(enc);
		free(dec);
	}
	/* Every single byte round-trips. */
	for (int c = 1; c < 256; c++) {
		char raw[2] = { (char)c, 0 };
		char *enc = jfs_name_encode(raw);
		ck_assert_ptr_nonnull(enc);
		ck_assert_ptr_null(strchr(enc, '/'));
		char *dec = jfs_name_decode(enc);
		ck_assert_ptr_nonnull(dec);
		ck_assert_str_eq(dec, raw);
		free(enc);
		free(dec);
	}
	/* NAME_MAX: 255 bytes fit, 256 do not; escapes count three. */
	char raw[NAME_MAX + 2];
	memset(raw, 'a', NAME_MAX);
	raw[NAME_MAX] = '\0';
	char *enc = jfs_name_encode(raw);
	ck_assert_ptr_nonnull(enc);
	ck_assert_uint_eq(strlen(enc), NAME_MAX);
	free(enc);
	raw[NAME_MAX] = 'a';
	raw[NAME_MAX + 1] = '\0';
	errno = 0;
	ck_assert_ptr_null(jfs_name_encode(raw));
	ck_assert_int_eq(errno, ENAMETOOLONG);
	memset(raw, '/', 85);
	raw[85] = '\0';
	enc = jfs_name_encode(raw);
	ck_assert_ptr_nonnull(enc);
	ck_assert_uint_eq(strlen(enc), 255);
	free(enc);
	raw[85] = '/';
	raw[86] = '\0';
	errno = 0;
	ck_assert_ptr_null(jfs_name_encode(raw));
	ck_assert_int_eq(errno, ENAMETOOLONG);
}
END_TEST

START_TEST(name_decoding_rejects)
{
	static const char *const bad[] = { ".", "..", "a/b", "a\nb", "%2", "%zz", "%2e",
					   "%41", "%00", "abc%", "%%", "%2E%2" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		char *d = jfs_name_decode(bad[i]);
		ck_assert_msg(d == NULL, "decoded \"%s\"", bad[i]);
		ck_assert_int_eq(errno, EINVAL);
	}
	char *d = jfs_name_decode("job%2Ejson"); /* the top-level shadow of job.json */
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(d, "job.json");
	free(d);
}
END_TEST

START_TEST(states)
{
	static const char *const names[] = { "queued", "running", "paused", "success",
					     "failure" };
	static const enum jfs_job_state values[] = { JFS_JOB_QUEUED, JFS_JOB_RUNNING,
						     JFS_JOB_PAUSED, JFS_JOB_SUCCESS,
						     JFS_JOB_FAILURE };
	for (size_t i = 0; i < 5; i++) {
		ck_assert_int_eq(jfs_job_state_parse(names[i]), values[i]);
		ck_assert_str_eq(jfs_job_state_name(values[i]), names[i]);
	}
	ck_assert_int_eq(jfs_job_state_parse("Success"), JFS_JOB_UNKNOWN);
	ck_assert_int_eq(jfs_job_state_parse("unknown"), JFS_JOB_UNKNOWN);
	ck_assert_int_eq(jfs_job_state_parse("cancelled"), JFS_JOB_UNKNOWN);
	ck_assert_int_eq(jfs_job_state_parse(""), JFS_JOB_UNKNOWN);
	ck_assert_int_eq(jfs_job_state_parse(NULL), JFS_JOB_UNKNOWN);
	ck_assert_str_eq(jfs_job_state_name(JFS_JOB_UNKNOWN), "unknown");
	ck_assert_str_eq(jfs_job_state_name((enum jfs_job_state)99), "unknown");
}
END_TEST

START_TEST(lookups)
{
	struct jfs_job *job = load("job_failure.json");
	const struct jfs_node *root = &job->root;
	ck_assert_ptr_eq(jfs_node_lookup(root, ""), root);
	ck_assert_ptr_eq(jfs_node_lookup(root, "/error//arguments/0/"),
			 jfs_node_lookup(root, "error/arguments/0"));
	ck_assert_ptr_null(jfs_node_lookup(root, "nope"));
	ck_assert_ptr_null(jfs_node_lookup(root, "code/x"));  /* a file has no children */
	ck_assert_ptr_null(jfs_node_child(jfs_node_child(root, "code"), "x"));
	ck_assert_ptr_null(jfs_node_lookup(root, "error/arguments/00"));
	ck_assert_ptr_null(jfs_node_lookup(root, NULL));
	ck_assert_ptr_null(jfs_node_child(NULL, "x"));
	char longpath[600];
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	ck_assert_ptr_null(jfs_node_lookup(root, longpath));
	jfs_job_unref(job);
}
END_TEST

static void *ref_churn(void *arg)
{
	struct jfs_job *job = arg;
	for (int i = 0; i < 100000; i++) {
		jfs_job_ref(job);
		jfs_job_unref(job);
	}
	return NULL;
}

START_TEST(references)
{
	struct jfs_job *job = load("job_svm.json");
	ck_assert_ptr_eq(jfs_job_ref(job), job);
	ck_assert_int_eq(job->refs, 2);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, ref_churn, job), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	ck_assert_int_eq(job->refs, 2);
	jfs_job_unref(job);
	ck_assert_int_eq(job->refs, 1);
	jfs_job_unref(job); /* freed: ASan reports a leak or a double free otherwise */
	jfs_job_unref(NULL);
	ck_assert_ptr_null(jfs_job_ref(NULL));
}
END_TEST

/* Only 8-4-4-4-12 hexadecimal uuids are job uuids (the only ones sent in a path). */
START_TEST(uuid_syntax)
{
	ck_assert(jfs_uuid_is_valid("0b1c2d3e-4f5a-6b7c-8d9e-0a1b2c3d4e5f"));
	ck_assert(jfs_uuid_is_valid("0B1C2D3E-4F5A-6B7C-8D9E-0A1B2C3D4E5F"));
	static const char *const bad[] = {
		"", ".", "..", "%", "a.b", "0b1c2d3e-4f5a-6b7c-8d9e-0a1b2c3d4e5",
		"0b1c2d3e-4f5a-6b7c-8d9e-0a1b2c3d4e5f0", "0b1c2d3e_4f5a-6b7c-8d9e-0a1b2c3d4e5f",
		"0b1c2d3e-4f5a-6b7c-8d9e-0a1b2c3d4e5g", "../../../../../../../../../../../..",
		"0b1c2d3e-4f5a-6b7c-8d9e-0a1b2c3d4e/f",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!jfs_uuid_is_valid(bad[i]), "\"%s\" taken for a uuid", bad[i]);
}
END_TEST

/* A job has one name: a lookup name is its uuid's only when it is that uuid's
 * encoding ("a%2Eb" is not "a.b"'s second directory). */
START_TEST(name_to_uuid_one_name)
{
	static const struct {
		const char *name, *uuid; /* uuid NULL: not a job's name */
	} cases[] = {
		{ "0b1c2d3e-4f5a-6b7c-8d9e-0a1b2c3d4e5f", "0b1c2d3e-4f5a-6b7c-8d9e-0a1b2c3d4e5f" },
		{ "a.b", "a.b" },	   { "a%2Eb", NULL },	  { "%2E%2E", ".." },
		{ "%2E", "." },		   { "%", "" },		  { "a%2Fb", "a/b" },
		{ "%2e%2e", NULL },	   { "..", NULL },	  { ".", NULL },
		{ "%252E", "%2E" },	   { "x%41", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *uuid = jfs_name_to_uuid(cases[i].name);
		if (!cases[i].uuid)
			ck_assert_msg(!uuid, "%s: taken for %s", cases[i].name, uuid);
		else
			ck_assert_msg(uuid && strcmp(uuid, cases[i].uuid) == 0, "%s: %s",
				      cases[i].name, uuid ? uuid : "(none)");
		free(uuid);
	}
}
END_TEST

/* The filesystem's own names in a job directory (wait, ctl) are never a field's: a
 * top-level field so named is shown escaped; deeper down, names are as sent. */
START_TEST(reserved_names_escaped)
{
	static const char rec[] = "{\"uuid\":\"u1\",\"state\":\"running\",\"wait\":1,"
				  "\"ctl\":\"x\",\"svm\":{\"wait\":2,\"ctl\":3}}";
	struct jfs_job *job = NULL;
	struct jfs_error e = { 0 };
	ck_assert_int_eq(jfs_job_parse(rec, sizeof(rec) - 1, 64, &job, &e), 0);
	ck_assert_ptr_null(jfs_node_child(&job->root, "wait"));
	ck_assert_ptr_null(jfs_node_child(&job->root, "ctl"));
	assert_file(&job->root, "%77ait", "1\n");
	assert_file(&job->root, "%63tl", "x\n");
	assert_file(&job->root, "svm/wait", "2\n");
	assert_file(&job->root, "svm/ctl", "3\n");
	jfs_job_unref(job);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("job");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, svm_job);
	tcase_add_test(tc, reserved_names_escaped);
	tcase_add_test(tc, uuid_syntax);
	tcase_add_test(tc, name_to_uuid_one_name);
	tcase_add_test(tc, job_json_file);
	tcase_add_test(tc, skipped_name_after_kept_members);
	tcase_add_test(tc, failure_with_arguments);
	tcase_add_test(tc, future_fields);
	tcase_add_test(tc, huge_message);
	tcase_add_test(tc, memory_per_job);
	tcase_add_test(tc, bad_times);
	tcase_add_test(tc, minimal_and_rejected);
	tcase_add_test(tc, name_encoding);
	tcase_add_test(tc, name_decoding_rejects);
	tcase_add_test(tc, states);
	tcase_add_test(tc, lookups);
	tcase_add_test(tc, references);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
