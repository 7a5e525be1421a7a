/* Query segments and the canonical query string (src/query.c). */
#include "jobsfs/query.h"

#include "jobsfs/error.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A query from a chain of segments, each of which must be accepted. */
static struct jfs_query *chain(const char *const segments[])
{
	struct jfs_query *q = jfs_query_new();
	ck_assert_ptr_nonnull(q);
	for (size_t i = 0; segments[i]; i++) {
		struct jfs_error e;
		jfs_error_clear(&e);
		int rc = jfs_query_add_segment(q, segments[i], &e);
		ck_assert_msg(rc == 0, "segment \"%s\" rejected: %s", segments[i], e.message);
	}
	return q;
}

/* Add a segment that must be rejected with EINVAL; returns e's message (static). */
static const char *reject(struct jfs_query *q, const char *segment)
{
	static struct jfs_error e;
	jfs_error_clear(&e);
	int rc = jfs_query_add_segment(q, segment, &e);
	ck_assert_msg(rc == -EINVAL, "segment \"%s\" gave %d", segment, rc);
	ck_assert_int_eq(e.err, EINVAL);
	ck_assert_msg(e.message[0] != '\0', "no message for \"%s\"", segment);
	return e.message;
}

START_TEST(is_query)
{
	ck_assert(jfs_segment_is_query("state=failure"));
	ck_assert(jfs_segment_is_query("a="));
	ck_assert(jfs_segment_is_query("description=a=b"));
	ck_assert(!jfs_segment_is_query("=failure"));
	ck_assert(!jfs_segment_is_query("493e64d1-99e2-11eb-9fc4-080027c8f2a7"));
	ck_assert(!jfs_segment_is_query(""));
	ck_assert(!jfs_segment_is_query("job.json"));
	ck_assert(!jfs_segment_is_query(NULL));
}
END_TEST

START_TEST(canonical_string)
{
	struct jfs_query *q = jfs_query_new();
	ck_assert_ptr_nonnull(q);
	ck_assert_str_eq(jfs_query_string(q), "");
	ck_assert_uint_eq(jfs_query_count(q), 0);
	jfs_query_free(q);

	q = chain((const char *const[]){ "state=failure", "description=*Snapshot*", NULL });
	ck_assert_str_eq(jfs_query_string(q), "description=%2ASnapshot%2A&state=failure");
	ck_assert_uint_eq(jfs_query_count(q), 2);
	jfs_query_free(q);

	q = chain((const char *const[]){ "order_by=end_time desc", "max_records=10",
					 "fields=*", "svm.name=vs1", "code=3|5..9|>100",
					 "message=\"joe*\"", "node.name={a|b}", "end_time=", NULL });
	ck_assert_str_eq(jfs_query_string(q),
			 "code=3%7C5..9%7C%3E100&end_time=&fields=%2A&max_records=10&"
			 "message=%22joe%2A%22&node.name=%7Ba%7Cb%7D&"
			 "order_by=end_time%20desc&svm.name=vs1");
	jfs_query_free(q);
}
END_TEST

START_TEST(canonical_order)
{
	/* Every order of the same segments gives one string. */
	static const char *const segs[] = { "state=failure", "description=*Snapshot*",
					    "svm.name=vs1", "code=!0" };
	static const int perms[][4] = { { 0, 1, 2, 3 }, { 3, 2, 1, 0 }, { 1, 3, 0, 2 },
					{ 2, 0, 3, 1 } };
	char *first = NULL;
	for (size_t p = 0; p < sizeof(perms) / sizeof(perms[0]); p++) {
		const char *list[5];
		for (int i = 0; i < 4; i++)
			list[i] = segs[perms[p][i]];
		list[4] = NULL;
		struct jfs_query *q = chain(list);
		if (!first) {
			first = strdup(jfs_query_string(q));
			ck_assert_ptr_nonnull(first);
		} else {
			ck_assert_str_eq(jfs_query_string(q), first);
		}
		jfs_query_free(q);
	}
	ck_assert_str_eq(first, "code=%210&description=%2ASnapshot%2A&state=failure&"
				"svm.name=vs1");
	free(first);
}
END_TEST

START_TEST(get_raw_values)
{
	struct jfs_query *q = chain((const char *const[]){ "description=*Snap shot*",
							   "state=queued|running", NULL });
	ck_assert_str_eq(jfs_query_get(q, "description"), "*Snap shot*");
	ck_assert_str_eq(jfs_query_get(q, "state"), "queued|running");
	ck_assert_ptr_null(jfs_query_get(q, "code"));
	ck_assert_ptr_null(jfs_query_get(q, "stat"));
	ck_assert_uint_eq(jfs_query_max_records(q), 0);
	jfs_query_free(q);
}
END_TEST

START_TEST(max_records)
{
	struct jfs_query *q = chain((const char *const[]){ "max_records=25", NULL });
	ck_assert_uint_eq(jfs_query_max_records(q), 25);
	jfs_query_free(q);
	q = chain((const char *const[]){ "max_records=0010", NULL });
	ck_assert_uint_eq(jfs_query_max_records(q), 10);
	ck_assert_str_eq(jfs_query_string(q), "max_records=10");
	jfs_query_free(q);

	static const char *const bad[] = { "max_records=", "max_records=0", "max_records=-1",
					   "max_records=+5", "max_records=1.5",
					   "max_records=10 ", "max_records=ten",
					   "max_records=99999999999999999999999" };
	q = jfs_query_new();
	ck_assert_ptr_nonnull(q);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_ptr_nonnull(strstr(reject(q, bad[i]), "max_records"));
	ck_assert_uint_eq(jfs_query_count(q), 0);
	ck_assert_uint_eq(jfs_query_max_records(q), 0);
	jfs_query_free(q);
}
END_TEST

START_TEST(malformed)
{
	struct jfs_query *q = chain((const char *const[]){ "state=failure", NULL });
	ck_assert_ptr_nonnull(strstr(reject(q, "failure"), "no '='"));
	ck_assert_ptr_nonnull(strstr(reject(q, "=failure"), "empty name"));
	ck_assert_ptr_nonnull(strstr(reject(q, "sta te=x"), "name"));
	reject(q, "st/ate=x");
	reject(q, "st%61te=x");
	reject(q, "st\xc3\xa4te=x");
	reject(q, "a-b=x");
	reject(q, "a*=x");
	ck_assert_ptr_nonnull(strstr(reject(q, "description=a\nb"), "control"));
	reject(q, "description=\x01");
	reject(q, "description=a\x7f");
	reject(q, "desc\tription=a");
	/* The same name twice in one chain, whatever the value. */
	ck_assert_ptr_nonnull(strstr(reject(q, "state=success"), "already"));
	reject(q, "state=failure");
	/* Parameters that would break paging. */
	reject(q, "return_records=false");
	reject(q, "return_timeout=0");
	reject(q, "start.uuid=00c881eb");
	reject(q, "start.end_time=2021");
	/* Nothing of the rejected segments stuck. */
	ck_assert_uint_eq(jfs_query_count(q), 1);
	ck_assert_str_eq(jfs_query_string(q), "state=failure");
	/* Names that merely look alike are fine. */
	struct jfs_error e;
	jfs_error_clear(&e);
	ck_assert_int_eq(jfs_query_add_segment(q, "starting=x", &e), 0);
	ck_assert_int_eq(jfs_query_add_segment(q, "start=x", &e), 0);
	ck_assert_int_eq(jfs_query_add_segment(q, "State=x", &e), 0);
	ck_assert_str_eq(jfs_query_string(q), "State=x&start=x&starting=x&state=failure");
	jfs_query_free(q);
}
END_TEST

START_TEST(dup_independent)
{
	struct jfs_query *q = chain((const char *const[]){ "state=failure", "max_records=3",
							   NULL });
	struct jfs_query *d = jfs_query_dup(q);
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(jfs_query_string(d), jfs_query_string(q));
	ck_assert_uint_eq(jfs_query_max_records(d), 3);
	struct jfs_error e;
	jfs_error_clear(&e);
	ck_assert_int_eq(jfs_query_add_segment(d, "code=4", &e), 0);
	ck_assert_str_eq(jfs_query_string(d), "code=4&max_records=3&state=failure");
	ck_assert_str_eq(jfs_query_string(q), "max_records=3&state=failure");
	jfs_query_free(q);
	ck_assert_str_eq(jfs_query_get(d, "state"), "failure");
	jfs_query_free(d);

	struct jfs_query *empty = jfs_query_new();
	ck_assert_ptr_nonnull(empty);
	d = jfs_query_dup(empty);
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(jfs_query_string(d), "");
	jfs_query_free(empty);
	jfs_query_free(d);
	jfs_query_free(NULL);
}
END_TEST

START_TEST(many_parameters)
{
	/* Growth past the initial capacity keeps the order and the lookups. */
	struct jfs_query *q = jfs_query_new();
	ck_assert_ptr_nonnull(q);
	for (int i = 99; i >= 0; i--) {
		char seg[32];
		snprintf(seg, sizeof(seg), "f%02d=v%d", i, i);
		struct jfs_error e;
		jfs_error_clear(&e);
		ck_assert_int_eq(jfs_query_add_segment(q, seg, &e), 0);
	}
	ck_assert_uint_eq(jfs_query_count(q), 100);
	const char *s = jfs_query_string(q);
	ck_assert(strncmp(s, "f00=v0&f01=v1&", 14) == 0);
	ck_assert_str_eq(s + strlen(s) - 7, "f99=v99");
	for (int i = 0; i < 100; i++) {
		char name[8], value[8];
		snprintf(name, sizeof(name), "f%02d", i);
		snprintf(value, sizeof(value), "v%d", i);
		ck_assert_str_eq(jfs_query_get(q, name), value);
	}
	jfs_query_free(q);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("query");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, is_query);
	tcase_add_test(tc, canonical_string);
	tcase_add_test(tc, canonical_order);
	tcase_add_test(tc, get_raw_values);
	tcase_add_test(tc, max_records);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, dup_independent);
	tcase_add_test(tc, many_parameters);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
