/* ISO 8601 parsing and formatting (src/isotime.c). */
#include "jobsfs/isotime.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t parse_ok(const char *s)
{
	int64_t t = -1;
	int rc = jfs_isotime_parse(s, &t);
	ck_assert_msg(rc == 0, "parse \"%s\" gave %d", s, rc);
	return t;
}

START_TEST(parse_offsets)
{
	/* 2021-06-29T09:25:26Z is 1624958726 (date -u -d ... +%s). */
	ck_assert_int_eq(parse_ok("2021-06-29T09:25:26Z"), 1624958726);
	ck_assert_int_eq(parse_ok("2021-06-29T05:25:26-04:00"), 1624958726);
	ck_assert_int_eq(parse_ok("2021-06-29T21:25:26+12:00"), 1624958726);
	ck_assert_int_eq(parse_ok("2021-06-29T09:25:26+00:00"), 1624958726);
	ck_assert_int_eq(parse_ok("2021-06-29T14:55:26+0530"), 1624958726);
	ck_assert_int_eq(parse_ok("2021-06-29T09:25:26-00:00"), 1624958726);
	/* The samples' times. */
	ck_assert_int_eq(parse_ok("2021-04-10T09:51:13+00:00"), 1618048273);
	ck_assert_int_eq(parse_ok("2020-06-16T06:47:13-04:00"), 1592304433);
	/* Crossing a day and a year boundary through the offset. */
	ck_assert_int_eq(parse_ok("2021-12-31T20:00:00-04:00"), 1640995200);
	ck_assert_int_eq(parse_ok("2022-01-01T11:00:00+11:00"), 1640995200);
}
END_TEST

START_TEST(parse_fractions)
{
	ck_assert_int_eq(parse_ok("2021-06-29T09:25:26.5Z"), 1624958726);
	ck_assert_int_eq(parse_ok("2021-06-29T09:25:26.999999999-04:00"), 1624958726 + 4 * 3600);
	ck_assert_int_eq(parse_ok("2021-06-29T09:25:26.000+12:00"), 1624958726 - 12 * 3600);
}
END_TEST

START_TEST(parse_calendar)
{
	ck_assert_int_eq(parse_ok("1970-01-01T00:00:00Z"), 0);
	ck_assert_int_eq(parse_ok("1969-12-31T23:59:59Z"), -1);
	ck_assert_int_eq(parse_ok("1970-01-01T00:00:00+01:00"), -3600);
	ck_assert_int_eq(parse_ok("2000-02-29T00:00:00Z"), 951782400); /* leap: div by 400 */
	ck_assert_int_eq(parse_ok("2024-02-29T12:00:00Z"), 1709208000);
	ck_assert_int_eq(parse_ok("2038-01-19T03:14:08Z"), 2147483648LL); /* past int32 */
	ck_assert_int_eq(parse_ok("9999-12-31T23:59:59Z"), 253402300799LL);
	ck_assert_int_eq(parse_ok("0000-01-01T00:00:00Z"), -62167219200LL);
	/* A leap second is the next minute's first second. */
	ck_assert_int_eq(parse_ok("2016-12-31T23:59:60Z"), 1483228800);
}
END_TEST

START_TEST(parse_matches_timegm)
{
	/* Cross-check every day of several years (leap and not) against the C library,
	 * with TZ forced to UTC just for the reference. */
	static const int years[] = { 1900, 1970, 1999, 2000, 2023, 2024, 2100 };
	for (size_t y = 0; y < sizeof(years) / sizeof(years[0]); y++) {
		for (int yday = 0; yday < 366; yday++) {
			struct tm tm = { .tm_year = years[y] - 1900, .tm_mon = 0,
					 .tm_mday = 1 + yday, .tm_hour = 13, .tm_min = 7,
					 .tm_sec = 59 };
			time_t ref = timegm(&tm); /* normalizes tm as well */
			if (tm.tm_year != years[y] - 1900)
				break;
			char s[40];
			snprintf(s, sizeof(s), "%04d-%02d-%02dT13:07:59Z", years[y],
				 tm.tm_mon + 1, tm.tm_mday);
			ck_assert_int_eq(parse_ok(s), (int64_t)ref);
		}
	}
}
END_TEST

START_TEST(parse_malformed)
{
	static const char *const bad[] = {
		"",
		"2021",
		"2021-06-29",
		"2021-06-29T05:25:26",		 /* no offset */
		"2021-06-29 05:25:26Z",		 /* space for T */
		"2021-06-29t05:25:26Z",		 /* lower-case t */
		"2021-06-29T05:25:26z",		 /* lower-case z */
		"2021-06-29T05:25Z",		 /* no seconds */
		"2021-6-29T05:25:26Z",		 /* one-digit month */
		"21-06-29T05:25:26Z",		 /* two-digit year */
		"2021-00-29T05:25:26Z",		 /* month 0 */
		"2021-13-01T05:25:26Z",		 /* month 13 */
		"2021-06-00T05:25:26Z",		 /* day 0 */
		"2021-06-31T05:25:26Z",		 /* June has 30 days */
		"2021-02-29T05:25:26Z",		 /* not a leap year */
		"1900-02-29T05:25:26Z",		 /* century, not a leap year */
		"2021-06-29T24:00:00Z",		 /* hour 24 */
		"2021-06-29T05:60:00Z",		 /* minute 60 */
		"2021-06-29T05:25:61Z",		 /* second 61 */
		"2021-06-29T05:25:26.Z",	 /* fraction without digits */
		"2021-06-29T05:25:26,5Z",	 /* comma fraction */
		"2021-06-29T05:25:26+4:00",	 /* one-digit offset hour */
		"2021-06-29T05:25:26+04:0",	 /* one-digit offset minute */
		"2021-06-29T05:25:26+04",	 /* offset without minutes */
		"2021-06-29T05:25:26+04:60",	 /* offset minute 60 */
		"2021-06-29T05:25:26+15:00",	 /* beyond +14:00 */
		"2021-06-29T05:25:26-24:00",	 /* beyond -14:00 */
		"2021-06-29T05:25:26+04:00 ",	 /* trailing space */
		" 2021-06-29T05:25:26+04:00",	 /* leading space */
		"2021-06-29T05:25:26Zjunk",	 /* trailing garbage */
		"2021-06-29T05:25:26+04:00:00", /* seconds in the offset */
		"2021-06-29T05:25:2６Z",	 /* non-ASCII digit */
		"+2021-06-29T05:25:26Z",	 /* signed year */
		"2021-06-29T05:25:26-+4:00",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t t = 12345;
		ck_assert_msg(jfs_isotime_parse(bad[i], &t) == -EINVAL, "accepted \"%s\"",
			      bad[i]);
		ck_assert_msg(t == 12345, "\"%s\" wrote a result", bad[i]);
	}
	int64_t t;
	ck_assert_int_eq(jfs_isotime_parse(NULL, &t), -EINVAL);
}
END_TEST

START_TEST(format_offsets)
{
	char buf[26];
	ck_assert_int_eq(jfs_isotime_format(1624958726, -4 * 3600, buf, sizeof(buf)), 25);
	ck_assert_str_eq(buf, "2021-06-29T05:25:26-04:00");
	ck_assert_int_eq(jfs_isotime_format(1624958726, 12 * 3600, buf, sizeof(buf)), 25);
	ck_assert_str_eq(buf, "2021-06-29T21:25:26+12:00");
	ck_assert_int_eq(jfs_isotime_format(1624958726, 0, buf, sizeof(buf)), 25);
	ck_assert_str_eq(buf, "2021-06-29T09:25:26+00:00");
	ck_assert_int_eq(jfs_isotime_format(1624958726, 5 * 3600 + 1800, buf, sizeof(buf)), 25);
	ck_assert_str_eq(buf, "2021-06-29T14:55:26+05:30");
	ck_assert_int_eq(jfs_isotime_format(-1, 0, buf, sizeof(buf)), 25);
	ck_assert_str_eq(buf, "1969-12-31T23:59:59+00:00");
	ck_assert_int_eq(jfs_isotime_format(951782400 - 1, -3 * 3600 - 1800, buf, sizeof(buf)),
			 25);
	ck_assert_str_eq(buf, "2000-02-28T20:29:59-03:30");
}
END_TEST

START_TEST(format_errors)
{
	char buf[26];
	char small[25];
	ck_assert_int_eq(jfs_isotime_format(0, 0, small, sizeof(small)), -ENOSPC);
	ck_assert_int_eq(jfs_isotime_format(0, 15 * 3600, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(jfs_isotime_format(0, -15 * 3600, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(jfs_isotime_format(0, 30, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(jfs_isotime_format(253402300800LL, 0, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(jfs_isotime_format(-62167219201LL, 0, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(jfs_isotime_format(INT64_MAX, 0, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(jfs_isotime_format(INT64_MIN, 0, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(jfs_isotime_format(0, 0, NULL, 0), -EINVAL);
}
END_TEST

START_TEST(round_trip)
{
	/* format then parse gives the same instant, for offsets across the range. */
	static const int offsets[] = { -14 * 3600, -4 * 3600, 0, 3600, 5 * 3600 + 2700,
				       14 * 3600 };
	char buf[26];
	for (int64_t t = -2000000000LL; t < 4000000000LL; t += 86399 * 37 + 11) {
		for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
			ck_assert_int_eq(jfs_isotime_format(t, offsets[i], buf, sizeof(buf)), 25);
			ck_assert_int_eq(parse_ok(buf), t);
		}
	}
}
END_TEST

START_TEST(utc_offset)
{
	int s = 1;
	ck_assert_int_eq(jfs_utc_offset_parse("-04:00", &s), 0);
	ck_assert_int_eq(s, -4 * 3600);
	ck_assert_int_eq(jfs_utc_offset_parse("+12:00", &s), 0);
	ck_assert_int_eq(s, 12 * 3600);
	ck_assert_int_eq(jfs_utc_offset_parse("+0530", &s), 0);
	ck_assert_int_eq(s, 5 * 3600 + 1800);
	ck_assert_int_eq(jfs_utc_offset_parse("Z", &s), 0);
	ck_assert_int_eq(s, 0);
	s = 7;
	static const char *const bad[] = { "", "04:00", "+4:00", "+04:", "+04:00x",
					   "z", "+14:01", "-0460", "UTC", "+04:00Z" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(jfs_utc_offset_parse(bad[i], &s) == -EINVAL, "accepted \"%s\"",
			      bad[i]);
	ck_assert_int_eq(s, 7);
	ck_assert_int_eq(jfs_utc_offset_parse(NULL, &s), -EINVAL);
}
END_TEST

START_TEST(no_tz_dependence)
{
	/* The parser must not consult TZ: results match under a far-off zone. */
	setenv("TZ", "Pacific/Kiritimati", 1);
	tzset();
	ck_assert_int_eq(parse_ok("2021-06-29T05:25:26-04:00"), 1624958726);
	char buf[26];
	ck_assert_int_eq(jfs_isotime_format(1624958726, 0, buf, sizeof(buf)), 25);
	ck_assert_str_eq(buf, "2021-06-29T09:25:26+00:00");
	unsetenv("TZ");
	tzset();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("isotime");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, parse_offsets);
	tcase_add_test(tc, parse_fractions);
	tcase_add_test(tc, parse_calendar);
	tcase_add_test(tc, parse_matches_timegm);
	tcase_add_test(tc, parse_malformed);
	tcase_add_test(tc, format_offsets);
	tcase_add_test(tc, format_errors);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, utc_offset);
	tcase_add_test(tc, no_tz_dependence);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
