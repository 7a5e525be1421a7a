/* Errors: ONTAP error bodies, the errno mapping, formatting (src/error.c). */
#include "jobsfs/error.h"

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse(const char *body, struct jfs_error *e)
{
	return jfs_ontap_error_parse(body, strlen(body), e);
}

/* True when s is valid UTF-8 (no cut sequence) and has no control bytes. */
static bool clean_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int follow = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2
				: (*p & 0xF8) == 0xF0 ? 3 : -1;
		if (follow < 0 || *p < 0x20 || *p == 0x7f)
			return false;
		p++;
		for (int i = 0; i < follow; i++, p++)
			if ((*p & 0xC0) != 0x80)
				return false;
	}
	return true;
}

START_TEST(body_unexpected_argument)
{
	struct jfs_error e;
	jfs_error_clear(&e);
	ck_assert_int_eq(parse("{\n  \"error\": {\n    \"message\": \"Unexpected argument "
			       "\\\"foo\\\".\",\n    \"code\": \"262179\",\n    \"target\": "
			       "\"foo\"\n  }\n}\n",
			       &e),
			 0);
	ck_assert_str_eq(e.code, "262179");
	ck_assert_str_eq(e.target, "foo");
	ck_assert_str_eq(e.message, "Unexpected argument \"foo\".");
	ck_assert_int_eq(e.err, 0); /* not set by the parser */
}
END_TEST

START_TEST(body_invalid_value)
{
	struct jfs_error e;
	jfs_error_clear(&e);
	ck_assert_int_eq(parse("{\"error\":{\"message\":\"The value \\\"600\\\" is invalid "
			       "for field \\\"return_timeout\\\" (<0..120>)\",\"code\":"
			       "\"262197\",\"target\":\"return_timeout\"}}",
			       &e),
			 0);
	ck_assert_str_eq(e.code, "262197");
	ck_assert_str_eq(e.target, "return_timeout");
	ck_assert_str_eq(e.message,
			 "The value \"600\" is invalid for field \"return_timeout\" (<0..120>)");
}
END_TEST

START_TEST(body_not_found_uuid)
{
	struct jfs_error e;
	jfs_error_clear(&e);
	ck_assert_int_eq(parse("{\"error\":{\"message\":\"entry doesn't exist\",\"code\":\"4\","
			       "\"target\":\"uuid\"}}",
			       &e),
			 0);
	ck_assert_str_eq(e.code, "4");
	ck_assert_str_eq(e.target, "uuid");
	ck_assert_str_eq(e.message, "entry doesn't exist");
	ck_assert_int_eq(jfs_errno_from_http(404, e.code), ENOENT);
}
END_TEST

START_TEST(body_unauthorized)
{
	/* A 401 answer: message and code, no target. Fields from an earlier error go. */
	struct jfs_error e;
	jfs_error_clear(&e);
	snprintf(e.target, sizeof(e.target), "stale");
	ck_assert_int_eq(parse("{\"error\":{\"message\":\"not authorized for that command\","
			       "\"code\":\"6\"}}",
			       &e),
			 0);
	ck_assert_str_eq(e.code, "6");
	ck_assert_str_eq(e.target, "");
	ck_assert_str_eq(e.message, "not authorized for that command");
	ck_assert_int_eq(jfs_errno_from_http(401, e.code), EACCES);
}
END_TEST

START_TEST(body_arguments)
{
	struct jfs_error e;
	jfs_error_clear(&e);
	ck_assert_int_eq(parse("{\"error\":{\"message\":\"Failed to delete\",\"code\":"
			       "\"1638555\",\"arguments\":[{\"code\":\"1\",\"message\":\"vol1\"},"
			       "{\"code\":\"2\"},7,{\"message\":3},{\"message\":\"is locked\"}]}}",
			       &e),
			 0);
	ck_assert_str_eq(e.message, "Failed to delete; vol1; is locked");
	ck_assert_str_eq(e.code, "1638555");

	/* No message of its own: the arguments alone, without a leading "; ". */
	jfs_error_clear(&e);
	ck_assert_int_eq(parse("{\"error\":{\"code\":\"2\",\"arguments\":[{\"message\":\"a\"},"
			       "{\"message\":\"b\"}]}}",
			       &e),
			 0);
	ck_assert_str_eq(e.message, "a; b");
}
END_TEST

START_TEST(body_code_as_number)
{
	struct jfs_error e;
	jfs_error_clear(&e);
	ck_assert_int_eq(parse("{\"error\":{\"message\":\"m\",\"code\":262179}}", &e), 0);
	ck_assert_str_eq(e.code, "262179");
	ck_assert_int_eq(parse("{\"error\":{\"message\":\"m\",\"code\":1.5,\"target\":[1]}}", &e),
			 0);
	ck_assert_str_eq(e.code, "");
	ck_assert_str_eq(e.target, "");
}
END_TEST

START_TEST(body_garbage)
{
	static const char *const bad[] = {
		"",
		"not json",
		"<html><body>502 Bad Gateway</body></html>",
		"{",
		"{\"error\":",
		"{\"error\":{\"message\":\"x\"}",	   /* truncated */
		"{\"error\":{\"message\":\"x\"}} junk", /* trailing garbage */
		"[]",
		"null",
		"42",
		"\"error\"",
		"{}",
		"{\"records\":[]}",
		"{\"error\":\"a string\"}",
		"{\"error\":[{\"message\":\"x\"}]}",
		"{\"error\":null}",
		"{\"error\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{}}}}}}}}}", /* deep */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct jfs_error e;
		jfs_error_clear(&e);
		snprintf(e.message, sizeof(e.message), "kept");
		snprintf(e.code, sizeof(e.code), "9");
		ck_assert_msg(parse(bad[i], &e) == -EINVAL, "accepted \"%s\"", bad[i]);
		ck_assert_str_eq(e.message, "kept");
		ck_assert_str_eq(e.code, "9");
	}
	/* Bytes past len are not read; a NUL inside len is garbage. */
	struct jfs_error e;
	jfs_error_clear(&e);
	const char body[] = "{\"error\":{\"code\":\"4\"}}\0{";
	ck_assert_int_eq(jfs_ontap_error_parse(body, sizeof(body) - 3, &e), 0);
	ck_assert_int_eq(jfs_ontap_error_parse(body, sizeof(body) - 1, &e), -EINVAL);
	ck_assert_int_eq(jfs_ontap_error_parse(NULL, 0, &e), -EINVAL);
	/* Trailing whitespace is fine. */
	ck_assert_int_eq(parse("{\"error\":{\"code\":\"4\"}} \r\n\t", &e), 0);
}
END_TEST

START_TEST(body_huge_hostile_message)
{
	/* A 1 MiB message of multi-byte characters and control bytes: cut to the field on
	 * a character boundary, marked, single-line. */
	size_t n = 1 << 20;
	char *body = malloc(n + 128);
	ck_assert_ptr_nonnull(body);
	size_t pos = (size_t)sprintf(body, "{\"error\":{\"code\":\"12345678901234567890123456789\","
					   "\"target\":\"t\\n\",\"message\":\"a");
	while (pos < n) {
		memcpy(body + pos, "\xe2\x82\xac\\n\\u0001", 11); /* euro sign, \n, \u0001 */
		pos += 11;
	}
	pos += (size_t)sprintf(body + pos, "\"}}");
	struct jfs_error e;
	jfs_error_clear(&e);
	ck_assert_int_eq(jfs_ontap_error_parse(body, pos, &e), 0);
	free(body);
	ck_assert(clean_text(e.message));
	ck_assert(clean_text(e.target));
	ck_assert(clean_text(e.code));
	ck_assert_uint_le(strlen(e.message), sizeof(e.message) - 1);
	ck_assert_uint_ge(strlen(e.message), sizeof(e.message) - 8);
	ck_assert_str_eq(e.message + strlen(e.message) - 3, "...");
	ck_assert_str_eq(e.target, "t ");
	ck_assert_uint_eq(strlen(e.code), sizeof(e.code) - 1);
	ck_assert_str_eq(e.code + strlen(e.code) - 3, "...");

	/* Bytes that are not UTF-8 become '?'; whole characters stay. */
	jfs_error_clear(&e);
	ck_assert_int_eq(parse("{\"error\":{\"message\":\"a\x80" "b\xc3\xa9\xe2\x82 \xf8!\"}}", &e), 0);
	ck_assert_str_eq(e.message, "a?b\xc3\xa9?? ?!");

	/* Lead bytes that look right but begin no character (RFC 3629): an overlong
	 * E0 80 80, a surrogate ED A0 80, a code point past U+10FFFF F4 90 80 80; the
	 * edges of the allowed ranges stay. */
	jfs_error_clear(&e);
	ck_assert_int_eq(parse("{\"error\":{\"message\":\"A\xe0\x80\x80 B\xed\xa0\x80 "
			       "C\xf4\x90\x80\x80 D\xe0\xa0\x80\xed\x9f\xbf\xf4\x8f\xbf\xbf\"}}", &e), 0);
	ck_assert_str_eq(e.message, "A??? B??? C???? D\xe0\xa0\x80\xed\x9f\xbf\xf4\x8f\xbf\xbf");
}
END_TEST

START_TEST(body_mutations)
{
	/* A deterministic little fuzz: flip, drop and insert bytes of real-shaped bodies.
	 * Whatever comes, the answer is 0 or -EINVAL and the fields stay clean text. */
	static const char *const seeds[] = {
		"{\"error\":{\"message\":\"Unexpected argument \\\"foo\\\".\",\"code\":"
		"\"262179\",\"target\":\"foo\"}}",
		"{\"error\":{\"message\":\"m\",\"code\":\"4\",\"arguments\":[{\"code\":"
		"\"1\",\"message\":\"caf\xc3\xa9 \\u00e9\"}]}}",
	};
	static const char pool[] = "{}[]\",:\\u0 \x80\xc3\xff\n";
	unsigned long long x = 88172645463325252ULL; /* xorshift64 */
	for (size_t s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
		size_t n = strlen(seeds[s]);
		for (int round = 0; round < 20000; round++) {
			char buf[512];
			memcpy(buf, seeds[s], n);
			size_t len = n;
			int edits = 1 + round % 4;
			for (int k = 0; k < edits; k++) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				size_t at = (size_t)(x >> 8) % len;
				char c = pool[(x >> 40) % (sizeof(pool) - 1)];
				switch (x % 3) {
				case 0:
					buf[at] = c;
					break;
				case 1:
					if (len > 1) {
						memmove(buf + at, buf + at + 1, len - at - 1);
						len--;
					}
					break;
				default:
					if (len + 1 < sizeof(buf)) {
						memmove(buf + at + 1, buf + at, len - at);
						buf[at] = c;
						len++;
					}
				}
			}
			struct jfs_error e;
			jfs_error_clear(&e);
			int rc = jfs_ontap_error_parse(buf, len, &e);
			ck_assert(rc == 0 || rc == -EINVAL);
			ck_assert(clean_text(e.code));
			ck_assert(clean_text(e.target));
			ck_assert(clean_text(e.message));
		}
	}
}
END_TEST

START_TEST(errno_mapping)
{
	ck_assert_int_eq(jfs_errno_from_http(404, ""), ENOENT);
	ck_assert_int_eq(jfs_errno_from_http(404, NULL), ENOENT);
	ck_assert_int_eq(jfs_errno_from_http(400, "4"), ENOENT);
	ck_assert_int_eq(jfs_errno_from_http(401, ""), EACCES);
	ck_assert_int_eq(jfs_errno_from_http(403, NULL), EACCES);
	ck_assert_int_eq(jfs_errno_from_http(400, "6"), EACCES);
	ck_assert_int_eq(jfs_errno_from_http(400, "262179"), EINVAL);
	ck_assert_int_eq(jfs_errno_from_http(400, "262197"), EINVAL);
	/* A job action's refusals (PATCH ?action=): each its own errno. */
	ck_assert_int_eq(jfs_errno_from_http(400, "458762"), ESRCH);
	ck_assert_int_eq(jfs_errno_from_http(400, "458771"), EALREADY);
	ck_assert_int_eq(jfs_errno_from_http(400, "458776"), EAGAIN);
	ck_assert_int_eq(jfs_errno_from_http(400, "458773"), EAGAIN);
	ck_assert_int_eq(jfs_errno_from_http(400, "458783"), EOPNOTSUPP);
	ck_assert_int_eq(jfs_errno_from_http(400, "458784"), EOPNOTSUPP);
	ck_assert_int_eq(jfs_errno_from_http(400, "4587620"), EINVAL); /* not a prefix match */
	ck_assert_int_eq(jfs_errno_from_http(400, "2"), EINVAL);
	ck_assert_int_eq(jfs_errno_from_http(404, "2"), ENOENT);
	ck_assert_int_eq(jfs_errno_from_http(405, NULL), EINVAL);
	ck_assert_int_eq(jfs_errno_from_http(499, NULL), EINVAL);
	ck_assert_int_eq(jfs_errno_from_http(500, NULL), EIO);
	ck_assert_int_eq(jfs_errno_from_http(503, ""), EIO);
	ck_assert_int_eq(jfs_errno_from_http(0, NULL), EIO);
	ck_assert_int_eq(jfs_errno_from_http(302, NULL), EIO);
	ck_assert_int_eq(jfs_errno_from_http(200, NULL), EIO);
	ck_assert_int_eq(jfs_errno_from_http(400, "40"), EINVAL); /* "4" only exactly */
}
END_TEST

START_TEST(set_and_format)
{
	struct jfs_error e;
	char buf[1024];
	jfs_error_clear(&e);
	ck_assert_int_eq(jfs_error_set(&e, EINVAL, "bad %s %d", "thing", 7), -EINVAL);
	ck_assert_int_eq(e.err, EINVAL);
	ck_assert_str_eq(e.message, "bad thing 7");
	ck_assert_str_eq(jfs_error_format(&e, buf, sizeof(buf)),
			 "Invalid argument (bad thing 7)");
	ck_assert_int_eq(jfs_error_set(NULL, ENOMEM, "x"), -ENOMEM);

	/* The documented shape. */
	jfs_error_clear(&e);
	jfs_error_set_request(&e, "GET", "/api/cluster/jobs?state=foo");
	ck_assert_int_eq(parse("{\"error\":{\"message\":\"The value \\\"foo\\\" is invalid for "
			       "field \\\"state\\\"\",\"code\":\"262197\",\"target\":\"state\"}}",
			       &e),
			 0);
	e.http_status = 400;
	e.err = jfs_errno_from_http(e.http_status, e.code);
	ck_assert_str_eq(jfs_error_format(&e, buf, sizeof(buf)),
			 "GET /api/cluster/jobs?state=foo: Invalid argument (HTTP 400, ONTAP "
			 "code 262197: The value \"foo\" is invalid for field \"state\")");

	/* A target the message does not name is added. */
	snprintf(e.target, sizeof(e.target), "fields");
	ck_assert_ptr_nonnull(strstr(jfs_error_format(&e, buf, sizeof(buf)),
				     "\"state\", target \"fields\")"));

	/* HTTP status without a cluster code; and no request. */
	jfs_error_clear(&e);
	e.err = EIO;
	e.http_status = 502;
	snprintf(e.message, sizeof(e.message), "Bad Gateway");
	ck_assert_str_eq(jfs_error_format(&e, buf, sizeof(buf)),
			 "Input/output error (HTTP 502, Bad Gateway)");

	/* Nothing but the errno. */
	jfs_error_clear(&e);
	e.err = ENOENT;
	ck_assert_str_eq(jfs_error_format(&e, buf, sizeof(buf)), "No such file or directory");
}
END_TEST

START_TEST(format_truncates_safely)
{
	struct jfs_error e;
	jfs_error_clear(&e);
	e.err = EIO;
	e.http_status = 500;
	jfs_error_set_request(&e, "GET", "/api/cluster/jobs");
	memset(e.message, 0, sizeof(e.message));
	for (size_t i = 0; i + 2 < sizeof(e.message) - 1; i += 2)
		memcpy(e.message + i, "\xc3\xa9", 2); /* é */
	for (size_t len = 1; len < 120; len++) {
		char buf[128];
		memset(buf, 'X', sizeof(buf));
		jfs_error_format(&e, buf, len);
		ck_assert_uint_lt(strlen(buf), len);
		ck_assert(clean_text(buf));
		ck_assert_int_eq(buf[len], 'X'); /* nothing written past len */
	}
	char buf[40];
	jfs_error_format(&e, buf, sizeof(buf));
	ck_assert_str_eq(buf + strlen(buf) - 3, "...");
	/* A zero-length buffer is left alone. */
	buf[0] = 'Q';
	jfs_error_format(&e, buf, 0);
	ck_assert_int_eq(buf[0], 'Q');
}
END_TEST

START_TEST(set_truncates_safely)
{
	struct jfs_error e;
	char big[4000];
	for (size_t i = 0; i + 3 < sizeof(big); i += 3)
		memcpy(big + i, "\xe2\x82\xac", 3);
	big[sizeof(big) - 1 - (sizeof(big) - 1) % 3] = '\0';
	jfs_error_clear(&e);
	jfs_error_set(&e, EIO, "%s", big);
	ck_assert(clean_text(e.message));
	ck_assert_str_eq(e.message + strlen(e.message) - 3, "...");
	jfs_error_set(&e, EIO, "line one\nline two\ttab");
	ck_assert_str_eq(e.message, "line one line two tab");
}
END_TEST

START_TEST(request_without_credentials)
{
	struct jfs_error e;
	jfs_error_clear(&e);
	jfs_error_set_request(&e, "GET", "/api/cluster/jobs?fields=*");
	ck_assert_str_eq(e.request, "GET /api/cluster/jobs?fields=*");
	jfs_error_set_request(&e, "GET", "https://admin:s3cret@cluster:443/api/cluster/jobs");
	ck_assert_str_eq(e.request, "GET https://cluster:443/api/cluster/jobs");
	ck_assert_ptr_null(strstr(e.request, "s3cret"));
	jfs_error_set_request(&e, "GET", "http://cluster/api/x?q=a@b");
	ck_assert_str_eq(e.request, "GET http://cluster/api/x?q=a@b");
	jfs_error_set_request(&e, NULL, NULL);
	ck_assert_str_eq(e.request, "");
	jfs_error_set_request(NULL, "GET", "/x"); /* no crash */
}
END_TEST

/* A cut text backs up to a character boundary within what it wrote, and never reads
 * the destination past that (issue 11: stopped at size - 4, it read a byte it had not
 * written; a continuation byte left there cut a character more than needed). The
 * destination is filled with continuation bytes first. For every size around the cut
 * of a 4-byte character, the result is the longest whole-character prefix that fits,
 * then "...". */
START_TEST(cut_reads_only_what_it_wrote)
{
	static const char text[] = "abcd\xF0\x9F\x98\x80" "efgh\xE2\x82\xAC" "ij";
	const size_t len = sizeof(text) - 1;
	for (size_t size = 5; size <= len; size++) {
		char dst[64];
		memset(dst, 0x80, sizeof(dst));
		ck_assert(jfs_clean_text(dst, size, text, len));
		size_t room = size - 4, keep = 0; /* the longest whole prefix within room */
		for (size_t i = 0; i < len;) {
			unsigned char c = (unsigned char)text[i];
			size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
			if (i + n > room)
				break;
			i += n;
			keep = i;
		}
		char want[64];
		memcpy(want, text, keep);
		memcpy(want + keep, "...", 4);
		ck_assert_msg(strcmp(dst, want) == 0, "size %zu: \"%s\", want \"%s\"", size, dst,
			      want);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("error");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, body_unexpected_argument);
	tcase_add_test(tc, cut_reads_only_what_it_wrote);
	tcase_add_test(tc, body_invalid_value);
	tcase_add_test(tc, body_not_found_uuid);
	tcase_add_test(tc, body_unauthorized);
	tcase_add_test(tc, body_arguments);
	tcase_add_test(tc, body_code_as_number);
	tcase_add_test(tc, body_garbage);
	tcase_add_test(tc, body_huge_hostile_message);
	tcase_add_test(tc, body_mutations);
	tcase_add_test(tc, errno_mapping);
	tcase_add_test(tc, set_and_format);
	tcase_add_test(tc, format_truncates_safely);
	tcase_add_test(tc, set_truncates_safely);
	tcase_add_test(tc, request_without_credentials);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
