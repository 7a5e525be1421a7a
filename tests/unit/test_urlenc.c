/* Percent-encoding (src/urlenc.c). */
#include "jobsfs/urlenc.h"

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void assert_encodes(const char *in, const char *expect)
{
	char *out = jfs_url_encode(in);
	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out, expect);
	free(out);
}

START_TEST(encode_specials)
{
	assert_encodes("", "");
	assert_encodes("failure", "failure");
	assert_encodes("AZaz09-._~", "AZaz09-._~");
	/* The query language and everything a URL would misread. */
	assert_encodes("*Snapshot*", "%2ASnapshot%2A");
	assert_encodes("!success", "%21success");
	assert_encodes("queued|running", "queued%7Crunning");
	assert_encodes("<10", "%3C10");
	assert_encodes(">=5", "%3E%3D5");
	assert_encodes("3..9", "3..9");
	assert_encodes("\"joe*\"", "%22joe%2A%22");
	assert_encodes("{a|b}", "%7Ba%7Cb%7D");
	assert_encodes("end_time desc", "end_time%20desc");
	assert_encodes("a&b#c%d+e?f=g", "a%26b%23c%25d%2Be%3Ff%3Dg");
	assert_encodes("a/b\\c", "a%2Fb%5Cc");
	assert_encodes("'[]@:;,$", "%27%5B%5D%40%3A%3B%2C%24");
	assert_encodes("caf\xc3\xa9", "caf%C3%A9");
	assert_encodes("\x01\x7f\xff", "%01%7F%FF");
}
END_TEST

START_TEST(encode_every_byte)
{
	/* Each byte 1..255 alone: unreserved bytes stay, others become %XX (upper). */
	for (int c = 1; c < 256; c++) {
		char in[2] = { (char)c, 0 };
		char *out = jfs_url_encode(in);
		ck_assert_ptr_nonnull(out);
		bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
				  (c >= '0' && c <= '9') || strchr("-._~", c);
		if (unreserved) {
			ck_assert_int_eq(strlen(out), 1);
			ck_assert_int_eq((unsigned char)out[0], c);
		} else {
			char expect[4];
			snprintf(expect, sizeof(expect), "%%%02X", c);
			ck_assert_str_eq(out, expect);
		}
		/* And back, from upper- and lower-case hex. */
		for (int lower = 0; lower < 2; lower++) {
			char esc[4];
			snprintf(esc, sizeof(esc), lower ? "%%%02x" : "%%%02X", c);
			size_t n = 0;
			char *dec = jfs_url_decode(esc, 3, &n);
			ck_assert_ptr_nonnull(dec);
			ck_assert_uint_eq(n, 1);
			ck_assert_int_eq((unsigned char)dec[0], c);
			free(dec);
		}
		free(out);
	}
}
END_TEST

START_TEST(round_trip_all_bytes)
{
	/* All 255 non-NUL byte values in one string, in both orders. */
	char in[256];
	for (int i = 0; i < 255; i++)
		in[i] = (char)(i + 1);
	in[255] = '\0';
	for (int pass = 0; pass < 2; pass++) {
		char *enc = jfs_url_encode(in);
		ck_assert_ptr_nonnull(enc);
		size_t n = 0;
		char *dec = jfs_url_decode(enc, strlen(enc), &n);
		ck_assert_ptr_nonnull(dec);
		ck_assert_uint_eq(n, 255);
		ck_assert_mem_eq(dec, in, 256);
		free(enc);
		free(dec);
		for (int i = 0; i < 127; i++) { /* reverse for the second pass */
			char t = in[i];
			in[i] = in[254 - i];
			in[254 - i] = t;
		}
	}
}
END_TEST

START_TEST(decode_forms)
{
	size_t n = 99;
	char *d = jfs_url_decode("%2aSnap%2Ashot+x%7c", 19, &n);
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(d, "*Snap*shot+x|"); /* '+' is not a space here */
	ck_assert_uint_eq(n, 13);
	free(d);

	/* len bounds the input: a '%' cut off by len is malformed, bytes beyond ignored. */
	d = jfs_url_decode("abc%41def", 6, &n);
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(d, "abcA");
	free(d);
	d = jfs_url_decode("", 0, NULL);
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(d, "");
	free(d);
}
END_TEST

START_TEST(decode_rejects)
{
	static const char *const bad[] = { "%", "%4", "abc%", "%G1", "%1G", "%%41",
					   "%00", "a%00b", "% 1", "%-1", "%+1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		char *d = jfs_url_decode(bad[i], strlen(bad[i]), NULL);
		ck_assert_msg(d == NULL, "accepted \"%s\"", bad[i]);
		ck_assert_int_eq(errno, EINVAL);
	}
	/* '%4' followed by a byte beyond len is still cut off. */
	errno = 0;
	ck_assert_ptr_null(jfs_url_decode("%41", 2, NULL));
	ck_assert_int_eq(errno, EINVAL);
	/* A raw NUL inside len. */
	errno = 0;
	ck_assert_ptr_null(jfs_url_decode("a\0b", 3, NULL));
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("urlenc");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, encode_specials);
	tcase_add_test(tc, encode_every_byte);
	tcase_add_test(tc, round_trip_all_bytes);
	tcase_add_test(tc, decode_forms);
	tcase_add_test(tc, decode_rejects);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
