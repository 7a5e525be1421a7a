/* ISO 8601 times as ONTAP writes them (see include/jobsfs/isotime.h).
 *
 * Strict on purpose: a time that does not parse is an error, never a silent zero that
 * would date a job to 1970. The civil-date arithmetic is done here (days_from_civil /
 * civil_from_days, proleptic Gregorian) rather than with mktime/timegm, so the result
 * never depends on TZ, the locale or the C library's range of time_t. */
#include "jobsfs/isotime.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

/* The offsets that exist on Earth span -12:00..+14:00; accept the symmetric range. */
#define MAX_OFFSET_SECONDS (14 * 3600)

/* Years 0000..9999: what four digits can hold. */
#define MIN_YEAR 0
#define MAX_YEAR 9999

static bool is_digit(char c)
{
	return c >= '0' && c <= '9'; /* not isdigit(): no locale */
}

/* Read exactly n digits at *p into *value and advance; false if any is not a digit. */
static bool read_digits(const char **p, int n, int *value)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (!is_digit(c))
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*value = v;
	return true;
}

static bool is_leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && is_leap_year(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm:
 * years start in March so that the leap day is the last day of the year). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;				  /* [0, 399] */
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1; /* [0, 365] */
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;	  /* [0, 146096] */
	return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;					    /* [0, 146096] */
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);		    /* [0, 365] */
	int64_t mp = (5 * doy + 2) / 153;				    /* [0, 11] */
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Parse an offset at *p ("Z", "+HH:MM", "-HH:MM", "+HHMM") and advance past it. */
static int parse_offset(const char **p, int *seconds)
{
	const char *s = *p;
	int sign, hh, mm;

	if (*s == 'Z') {
		*seconds = 0;
		*p = s + 1;
		return 0;
	}
	if (*s == '+')
		sign = 1;
	else if (*s == '-')
		sign = -1;
	else
		return -EINVAL;
	s++;
	if (!read_digits(&s, 2, &hh))
		return -EINVAL;
	if (*s == ':')
		s++;
	if (!read_digits(&s, 2, &mm))
		return -EINVAL;
	if (hh > 23 || mm > 59)
		return -EINVAL;
	int off = sign * (hh * 3600 + mm * 60);
	if (off < -MAX_OFFSET_SECONDS || off > MAX_OFFSET_SECONDS)
		return -EINVAL;
	*seconds = off;
	*p = s;
	return 0;
}

int jfs_utc_offset_parse(const char *s, int *seconds)
{
	int off;
	if (!s || !seconds)
		return -EINVAL;
	if (parse_offset(&s, &off) < 0 || *s != '\0')
		return -EINVAL;
	*seconds = off;
	return 0;
}

int jfs_isotime_parse(const char *s, int64_t *epoch)
{
	int year, month, day, hour, minute, second, offset;

	if (!s || !epoch)
		return -EINVAL;
	if (!read_digits(&s, 4, &year) || *s++ != '-' || !read_digits(&s, 2, &month) ||
	    *s++ != '-' || !read_digits(&s, 2, &day) || *s++ != 'T' ||
	    !read_digits(&s, 2, &hour) || *s++ != ':' || !read_digits(&s, 2, &minute) ||
	    *s++ != ':' || !read_digits(&s, 2, &second))
		return -EINVAL;
	if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) ||
	    hour > 23 || minute > 59 || second > 60)
		return -EINVAL;
	if (*s == '.') {
		/* Fractional seconds: at least one digit, then dropped (the epoch counts
		 * whole seconds; truncation keeps a time within the second it names). */
		s++;
		if (!is_digit(*s))
			return -EINVAL;
		while (is_digit(*s))
			s++;
	}
	if (parse_offset(&s, &offset) < 0 || *s != '\0')
		return -EINVAL;

	/* A leap second (:60) counts as the first second of the next minute, as POSIX
	 * time has no room for it. */
	*epoch = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
		 second - offset;
	return 0;
}

int jfs_isotime_format(int64_t epoch, int offset_seconds, char *buf, size_t len)
{
	/* Bounds that keep the arithmetic far from overflow; the year check below is the
	 * precise one. 400 years of seconds beyond 9999 is more than enough slack. */
	const int64_t limit = (int64_t)(MAX_YEAR + 400) * 366 * 86400;
	int64_t year;
	int month, day;

	if (!buf)
		return -EINVAL;
	if (offset_seconds < -MAX_OFFSET_SECONDS || offset_seconds > MAX_OFFSET_SECONDS ||
	    offset_seconds % 60 != 0)
		return -EINVAL;
	if (epoch < -limit || epoch > limit)
		return -EINVAL;

	int64_t local = epoch + offset_seconds;
	int64_t days = local / 86400;
	int64_t secs = local % 86400;
	if (secs < 0) { /* floor division for times before 1970 */
		secs += 86400;
		days--;
	}
	civil_from_days(days, &year, &month, &day);
	if (year < MIN_YEAR || year > MAX_YEAR)
		return -EINVAL;

	int off = offset_seconds < 0 ? -offset_seconds : offset_seconds;
	int n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", (int)year,
			 month, day, (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60),
			 offset_seconds < 0 ? '-' : '+', off / 3600, off / 60 % 60);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= len)
		return -ENOSPC;
	return n;
}
