/* Helpers shared by the Check unit tests: start and stop ontap-sim, and a small HTTP
 * client (independent of the library under test) to drive its control API. */
#ifndef JOBSFS_CHECK_HELPERS_H
#define JOBSFS_CHECK_HELPERS_H

#include <stddef.h>
#include <sys/types.h>

struct sim {
	pid_t pid;
	char url[128]; /* base URL the simulator printed, e.g. http://127.0.0.1:41234 */
};

/* Start $ONTAP_SIM --port 0 followed by the NULL-terminated extra arguments, and wait
 * for it to print its URL. Returns 0, or -1 when ONTAP_SIM is unset/missing or the
 * simulator did not come up (a message is printed). */
int sim_start(struct sim *s, const char *const extra_args[]);
void sim_stop(struct sim *s);

/* True when the simulator binary is available (tests that need it skip otherwise). */
int sim_available(void);

/* A plain HTTP request to the simulator: method, path (starting with '/'), optional
 * body. Returns the HTTP status (or -1 on transport failure); *resp (when not NULL)
 * gets the malloc'd NUL-terminated body. */
long sim_request(const struct sim *s, const char *method, const char *path,
		 const char *body, char **resp);

/* Read the file at $JOBSFS_TESTDATA/name into a malloc'd NUL-terminated buffer. */
char *testdata_read(const char *name, size_t *len);

#endif
