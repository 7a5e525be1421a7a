/* Fuzz target: ISO 8601 times as a job record carries them (jfs_isotime_parse), UTC
 * offsets (jfs_utc_offset_parse), and the formatter the simulator and tests use
 * (jfs_isotime_format), fed the input read as a number.
 *
 * Checks: a time that parses formats back, at its own offset, into a string that
 * parses to the same instant, and into the very same string when the input was
 * already in the canonical form (no fraction, no leap second, "+HH:MM"); offsets stay
 * within -14h..+14h in whole minutes; the formatter's output parses back. */
#include "fuzz.h"

#include "jobsfs/isotime.h"

#include <errno.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_log();
	return 0;
}

#define MAX_OFFSET (14 * 3600)

static void check_offset(const char *s)
{
	int off = 12345;
	int rc = jfs_utc_offset_parse(s, &off);
	if (rc < 0) {
		FUZZ_CHECK(rc == -EINVAL, "returned %d", rc);
		FUZZ_CHECK(off == 12345, "a refused offset was stored");
		return;
	}
	FUZZ_CHECK(rc == 0, "returned %d", rc);
	FUZZ_CHECK(off >= -MAX_OFFSET && off <= MAX_OFFSET && off % 60 == 0,
		   "offset %d from \"%s\"", off, s);
	size_t len = strlen(s);
	FUZZ_CHECK(len == 1 || len == 5 || len == 6, "offset \"%s\" of %zu bytes", s, len);
}

/* The canonical form jfs_isotime_format writes: YYYY-MM-DDTHH:MM:SS+HH:MM. */
static bool is_canonical(const char *s)
{
	return strlen(s) == 25 && (s[19] == '+' || s[19] == '-') && s[22] == ':' &&
	       strncmp(s + 17, "60", 2) != 0 && strcmp(s + 19, "-00:00") != 0;
}

static void check_time(const char *s)
{
	int64_t t = 42;
	int rc = jfs_isotime_parse(s, &t);
	if (rc < 0) {
		FUZZ_CHECK(rc == -EINVAL, "returned %d", rc);
		FUZZ_CHECK(t == 42, "a refused time was stored");
		return;
	}
	FUZZ_CHECK(rc == 0, "returned %d", rc);
	size_t len = strlen(s);
	FUZZ_CHECK(len >= 20, "\"%s\" is too short to be a time", s);

	int off;
	FUZZ_CHECK(jfs_utc_offset_parse(strchr(s + 19, 'Z') ? strchr(s + 19, 'Z')
							     : s + len - (s[len - 3] == ':' ? 6 : 5),
					&off) == 0,
		   "the offset of \"%s\" does not parse alone", s);

	/* Year 0000 at +14:00 is before year 0 in UTC: the formatter may refuse what
	 * lies outside 0000..9999 at the offset asked. */
	char buf[26];
	int n = jfs_isotime_format(t, off, buf, sizeof(buf));
	FUZZ_CHECK(n == 25 || n == -EINVAL, "format gave %d", n);
	if (n == 25) {
		int64_t back;
		FUZZ_CHECK(jfs_isotime_parse(buf, &back) == 0 && back == t,
			   "\"%s\" -> %lld -> \"%s\" -> another instant", s, (long long)t, buf);
		if (is_canonical(s))
			FUZZ_CHECK(strcmp(buf, s) == 0, "\"%s\" formats as \"%s\"", s, buf);
	}
	n = jfs_isotime_format(t, 0, buf, sizeof(buf));
	if (n == 25) {
		int64_t back;
		FUZZ_CHECK(jfs_isotime_parse(buf, &back) == 0 && back == t, "UTC \"%s\"", buf);
	}
	/* Too small a buffer is -ENOSPC, never a cut time. */
	char small[25];
	n = jfs_isotime_format(t, off, small, sizeof(small));
	FUZZ_CHECK(n == -ENOSPC || n == -EINVAL, "format into 25 bytes gave %d", n);
}

/* The input's first bytes as an epoch and an offset. */
static void check_format(const uint8_t *data, size_t size)
{
	int64_t epoch;
	int32_t off;
	char buf[26];

	if (size < sizeof(epoch) + sizeof(off))
		return;
	memcpy(&epoch, data, sizeof(epoch));
	memcpy(&off, data + sizeof(epoch), sizeof(off));
	int offsets[] = { off, off % (MAX_OFFSET + 60) / 60 * 60, 0 };
	for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		int n = jfs_isotime_format(epoch, offsets[i], buf, sizeof(buf));
		if (n < 0) {
			FUZZ_CHECK(n == -EINVAL, "format gave %d", n);
			continue;
		}
		FUZZ_CHECK(n == 25 && strlen(buf) == 25, "format wrote %d bytes", n);
		int64_t back;
		FUZZ_CHECK(jfs_isotime_parse(buf, &back) == 0 && back == epoch,
			   "%lld at %d is \"%s\", which parses otherwise", (long long)epoch,
			   offsets[i], buf);
		check_offset(buf + 19);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size);
	check_time(s);
	check_offset(s);
	check_format(data, size);
	free(s);
	return 0;
}
