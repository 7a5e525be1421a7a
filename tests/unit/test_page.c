/* Collection pages and the limited JSON body parse (src/page.c). */
#include "jobsfs/page.h"

#include "check_helpers.h"
#include "jobsfs/error.h"
#include "jobsfs/job.h"

#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void parse_file(const char *file, struct jfs_page *page)
{
	size_t len;
	char *body = testdata_read(file, &len);
	ck_assert_msg(body != NULL, "cannot read test data %s (JOBSFS_TESTDATA)", file);
	struct jfs_error e;
	jfs_error_clear(&e);
	int rc = jfs_page_parse(body, len, JFS_MAX_DEPTH_DEFAULT, page, &e);
	ck_assert_msg(rc == 0, "%s: %d %s", file, rc, e.message);
	free(body);
}

/* Parse a body that must fail with -EIO; returns e's message (static). */
static const char *parse_fails(const char *body, size_t len, int depth)
{
	static struct jfs_error e;
	struct jfs_page page;
	jfs_error_clear(&e);
	memset(&page, 0xa5, sizeof(page)); /* the parser must reset it */
	int rc = jfs_page_parse(body, len, depth, &page, &e);
	ck_assert_msg(rc == -EIO, "gave %d for a bad body", rc);
	ck_assert_int_eq(e.err, EIO);
	ck_assert(e.message[0]);
	ck_assert_ptr_null(page.jobs);
	ck_assert_uint_eq(page.n, 0);
	ck_assert_ptr_null(page.next_href);
	return e.message;
}

START_TEST(several_records_and_next)
{
	struct jfs_page page;
	parse_file("page_first.json", &page);
	ck_assert_uint_eq(page.n, 3);
	ck_assert_str_eq(page.jobs[0]->uuid, "11111111-5c20-11ef-8a21-00a0b8c4d7e2");
	ck_assert_str_eq(page.jobs[1]->uuid, "22222222-5c20-11ef-8a21-00a0b8c4d7e2");
	ck_assert_str_eq(page.jobs[2]->uuid, "33333333-5c20-11ef-8a21-00a0b8c4d7e2");
	ck_assert_int_eq(page.jobs[0]->state, JFS_JOB_SUCCESS);
	ck_assert_int_eq(page.jobs[1]->state, JFS_JOB_FAILURE);
	ck_assert_int_eq(page.jobs[2]->state, JFS_JOB_RUNNING);
	ck_assert_int_eq(page.jobs[2]->end_time, 0);
	ck_assert_int_ne(page.jobs[2]->start_time, 0);
	const struct jfs_node *n = jfs_node_lookup(&page.jobs[1]->root, "error/code");
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(node_text(n), "4\n");
	n = jfs_node_lookup(&page.jobs[2]->root, "svm/name");
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(node_text(n), "vs1\n");
	for (size_t i = 0; i < page.n; i++) {
		ck_assert_int_eq(page.jobs[i]->refs, 1); /* the page's own reference */
		ck_assert_ptr_null(jfs_node_child(&page.jobs[i]->root, "_links"));
	}
	ck_assert_str_eq(page.next_href, "/api/cluster/jobs?start.uuid=33333333-5c20-11ef-8a21-"
					 "00a0b8c4d7e2&fields=%2A&max_records=3");

	/* A job outlives its page while someone holds a reference. */
	struct jfs_job *kept = jfs_job_ref(page.jobs[0]);
	jfs_page_free(&page);
	ck_assert_ptr_null(page.jobs);
	ck_assert_uint_eq(page.n, 0);
	ck_assert_ptr_null(page.next_href);
	ck_assert_str_eq(kept->uuid, "11111111-5c20-11ef-8a21-00a0b8c4d7e2");
	ck_assert_int_eq(kept->refs, 1);
	jfs_job_unref(kept);
}
END_TEST

START_TEST(last_page_without_next)
{
	struct jfs_page page;
	parse_file("page_last.json", &page);
	ck_assert_uint_eq(page.n, 2);
	ck_assert_ptr_null(page.next_href);
	ck_assert_int_eq(page.jobs[0]->state, JFS_JOB_QUEUED);
	/* A record with only uuid and _links: uuid and job.json. */
	ck_assert_uint_eq(page.jobs[1]->root.nchildren, 2);
	jfs_page_free(&page);
}
END_TEST

START_TEST(empty_page_with_next)
{
	struct jfs_page page;
	parse_file("page_empty_next.json", &page);
	ck_assert_uint_eq(page.n, 0);
	ck_assert_ptr_nonnull(page.next_href);
	ck_assert_ptr_nonnull(strstr(page.next_href, "start.uuid=77777777"));
	jfs_page_free(&page);
}
END_TEST

START_TEST(records_missing)
{
	/* return_records=false: num_records only, n = 0. */
	struct jfs_page page;
	parse_file("page_no_records.json", &page);
	ck_assert_uint_eq(page.n, 0);
	ck_assert_ptr_null(page.jobs);
	ck_assert_ptr_null(page.next_href);
	jfs_page_free(&page);

	/* Neither records nor num_records, or records of the wrong type. */
	const char *b = "{\"_links\":{}}";
	ck_assert_ptr_nonnull(strstr(parse_fails(b, strlen(b), 32), "records"));
	b = "{\"records\":{\"uuid\":\"x\"},\"num_records\":1}";
	ck_assert_ptr_nonnull(strstr(parse_fails(b, strlen(b), 32), "records"));
	b = "{\"num_records\":\"many\"}";
	parse_fails(b, strlen(b), 32);
}
END_TEST

START_TEST(records_without_uuid_skipped)
{
	struct jfs_page page;
	parse_file("page_bad_records.json", &page);
	ck_assert_uint_eq(page.n, 1);
	ck_assert_str_eq(page.jobs[0]->uuid, "88888888-5c20-11ef-8a21-00a0b8c4d7e2");
	ck_assert_int_eq(page.jobs[0]->state, JFS_JOB_PAUSED);
	jfs_page_free(&page);
}
END_TEST

START_TEST(truncated_json)
{
	/* Every proper prefix of a real page is rejected, never half-read. */
	size_t len;
	char *body = testdata_read("page_first.json", &len);
	ck_assert_ptr_nonnull(body);
	while (len > 0 && strchr(" \n", body[len - 1]))
		len--; /* the last byte that matters is the closing brace */
	for (size_t cut = 1; cut < len; cut += (cut < 64 ? 1 : 7)) {
		const char *m = parse_fails(body, cut, 32);
		ck_assert_msg(strstr(m, "JSON") != NULL, "cut %zu: %s", cut, m);
	}
	const char *m = parse_fails(body, len - 1, 32);
	ck_assert_ptr_nonnull(strstr(m, "truncated"));
	free(body);
	ck_assert_ptr_nonnull(strstr(parse_fails("", 0, 32), "empty"));
}
END_TEST

START_TEST(invalid_json)
{
	static const char *const bad[] = {
		"<html><body>Service Unavailable</body></html>",
		"{\"records\":[],}",	       /* trailing comma (strict JSON) */
		"{\"records\":[] /* c */}",    /* comment */
		"{\"records\":[]}}",	       /* extra brace */
		"{\"records\":[]} {\"records\":[]}", /* two values */
		"{\"records\":[]}\0",	       /* NUL after the value (length includes it) */
		"[{\"uuid\":\"x\"}]",	       /* not an object */
		"\"records\"",
		"{\"records\":[nul]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i]) + (i == 5);
		parse_fails(bad[i], len, 32);
	}
	const char *m = parse_fails("{\"records\": [] xyz", 18, 32);
	ck_assert_ptr_nonnull(strstr(m, "offset 15"));
	m = parse_fails("{\"records\":[]} x", 16, 32);
	ck_assert_ptr_nonnull(strstr(m, "offset 15"));
	ck_assert_ptr_nonnull(strstr(m, "trailing"));
	/* Trailing whitespace is fine. */
	struct jfs_page page;
	struct jfs_error e;
	jfs_error_clear(&e);
	ck_assert_int_eq(jfs_page_parse("{\"records\":[]}\r\n \t", 18, 32, &page, &e), 0);
	jfs_page_free(&page);
}
END_TEST

START_TEST(depth_bomb)
{
	/* 100,000 nested arrays inside a record: rejected at the limit, cheaply. */
	size_t depth = 100000;
	size_t cap = 64 + 2 * depth;
	char *body = malloc(cap);
	ck_assert_ptr_nonnull(body);
	size_t pos = (size_t)sprintf(body, "{\"records\":[{\"uuid\":\"u\",\"a\":");
	memset(body + pos, '[', depth);
	pos += depth;
	memset(body + pos, ']', depth);
	pos += depth;
	pos += (size_t)sprintf(body + pos, "}]}");
	const char *m = parse_fails(body, pos, JFS_MAX_DEPTH_DEFAULT);
	ck_assert_ptr_nonnull(strstr(m, "deeper than 32"));
	free(body);

	/* At the limit exactly: records(2) + record(3) + a's arrays up to 32 levels. */
	char ok[128];
	int n = sprintf(ok, "{\"records\":[{\"uuid\":\"u\",\"a\":[[[1]]]}]}");
	struct jfs_page page;
	struct jfs_error e;
	jfs_error_clear(&e);
	ck_assert_int_eq(jfs_page_parse(ok, (size_t)n, 6, &page, &e), 0);
	ck_assert_uint_eq(page.n, 1);
	jfs_page_free(&page);
	parse_fails(ok, (size_t)n, 5);
}
END_TEST

START_TEST(mutated_pages)
{
	/* A deterministic little fuzz over a real-shaped page: whatever the bytes, the
	 * answer is 0 (with whole jobs) or -EIO, and nothing leaks or overruns. */
	size_t len;
	char *seed = testdata_read("page_first.json", &len);
	ck_assert_ptr_nonnull(seed);
	char *buf = malloc(len + 16);
	ck_assert_ptr_nonnull(buf);
	static const char pool[] = "{}[]\",:\\0 ae.\x80\n";
	unsigned long long x = 0x9E3779B97F4A7C15ULL; /* xorshift64 */
	int ok = 0;
	for (int round = 0; round < 3000; round++) {
		memcpy(buf, seed, len);
		size_t n = len;
		for (int k = 0; k < 1 + round % 3; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			size_t at = (size_t)(x >> 8) % n;
			char c = pool[(x >> 40) % (sizeof(pool) - 1)];
			if (x % 3 == 0) {
				buf[at] = c;
			} else if (x % 3 == 1 && n > 1) {
				memmove(buf + at, buf + at + 1, n - at - 1);
				n--;
			} else if (n + 1 < len + 16) {
				memmove(buf + at + 1, buf + at, n - at);
				buf[at] = c;
				n++;
			}
		}
		struct jfs_page page;
		struct jfs_error e;
		jfs_error_clear(&e);
		int rc = jfs_page_parse(buf, n, JFS_MAX_DEPTH_DEFAULT, &page, &e);
		ck_assert_msg(rc == 0 || rc == -EIO, "round %d: %d", round, rc);
		if (rc == 0) {
			ok++;
			for (size_t i = 0; i < page.n; i++) {
				ck_assert_ptr_nonnull(page.jobs[i]->uuid);
				ck_assert_ptr_nonnull(jfs_node_child(&page.jobs[i]->root, "job.json"));
			}
		}
		jfs_page_free(&page);
	}
	ck_assert_int_gt(ok, 0); /* some mutations (inside strings) still parse */
	free(buf);
	free(seed);
}
END_TEST

START_TEST(body_parse_helper)
{
	struct json_object *o = NULL;
	struct jfs_error e;
	jfs_error_clear(&e);
	ck_assert_int_eq(jfs_json_body_parse("42", 2, 4, &o, &e), 0); /* bare number ends */
	ck_assert(json_object_is_type(o, json_type_int));
	ck_assert_int_eq(json_object_get_int(o), 42);
	json_object_put(o);
	ck_assert_int_eq(jfs_json_body_parse("{\"a\":1.50}", 10, 4, &o, &e), 0);
	ck_assert_str_eq(json_object_to_json_string_ext(json_object_object_get(o, "a"),
							JSON_C_TO_STRING_PLAIN),
			 "1.50");
	json_object_put(o);
	ck_assert_int_eq(jfs_json_body_parse("{\"a\":", 5, 4, &o, &e), -EIO);
	ck_assert_ptr_null(o);
	ck_assert_int_eq(jfs_json_body_parse(NULL, 0, 4, &o, &e), -EIO);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("page");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, several_records_and_next);
	tcase_add_test(tc, last_page_without_next);
	tcase_add_test(tc, empty_page_with_next);
	tcase_add_test(tc, records_missing);
	tcase_add_test(tc, records_without_uuid_skipped);
	tcase_add_test(tc, truncated_json);
	tcase_add_test(tc, invalid_json);
	tcase_add_test(tc, depth_bomb);
	tcase_add_test(tc, mutated_pages);
	tcase_add_test(tc, body_parse_helper);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
