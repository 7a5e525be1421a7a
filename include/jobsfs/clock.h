/* The monotonic clock, in milliseconds: for timeouts, back-offs and windows, which a
 * step of the wall clock (NTP, an admin's `date -s`) must not stretch or cut. */
#ifndef JOBSFS_CLOCK_H
#define JOBSFS_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t jfs_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
