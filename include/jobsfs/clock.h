/* The monotonic clock, in milliseconds: for timeouts, back-offs and windows, which a
 * step of the wall clock (NTP, an admin's `date -s`) must not stretch or cut. */
#ifndef JOBSFS_CLOCK_H
#define JOBSFS_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

static inline int64_t jfs_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The moment at_ms (jfs_mono_ms's clock) as pthread_cond_timedwait takes it, for a
 * condition variable made by jfs_cond_init_mono. */
static inline struct timespec jfs_mono_timespec(int64_t at_ms)
{
	return (struct timespec){ .tv_sec = at_ms / 1000, .tv_nsec = (at_ms % 1000) * 1000000 };
}

/* A condition variable whose timed waits go by the monotonic clock. 0 or errno. */
static inline int jfs_cond_init_mono(pthread_cond_t *cond)
{
	pthread_condattr_t ca;
	int rc = pthread_condattr_init(&ca);
	if (rc != 0)
		return rc;
	rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(cond, &ca);
	pthread_condattr_destroy(&ca);
	return rc;
}

#endif
