/* ISO 8601 times as ONTAP sends them: 2021-06-29T05:25:26-04:00, ...+12:00, ...Z,
 * optionally with fractional seconds. */
#ifndef JOBSFS_ISOTIME_H
#define JOBSFS_ISOTIME_H

#include <stddef.h>
#include <stdint.h>

/* Parse s (the whole string) to seconds since the epoch (UTC). Returns 0, or -EINVAL
 * for anything malformed or out of range (never a silent zero). */
int jfs_isotime_parse(const char *s, int64_t *epoch);

/* Format epoch at a UTC offset in seconds (-14h..+14h), as
 * 2021-06-29T05:25:26-04:00 (an offset of 0 gives +00:00, as clusters do). Returns
 * the length written, or -EINVAL/-ENOSPC. buf needs 26 bytes. */
int jfs_isotime_format(int64_t epoch, int offset_seconds, char *buf, size_t len);

/* Parse a UTC offset "-04:00", "+12:00", "+0530", "Z" to seconds. 0 or -EINVAL. */
int jfs_utc_offset_parse(const char *s, int *seconds);

#endif
