/* ontap-sim: the state one simulated cluster shares between its threads.
 *
 * Threads: MHD runs one thread per connection (so a stalled answer blocks only its
 * own connection); the workload ticker (workload.c) advances jobs and expiry; main
 * waits for a signal. Each part below says which lock guards it. */
#ifndef ONTAP_SIM_SIM_H
#define ONTAP_SIM_SIM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "control.h"
#include "faults.h"
#include "store.h"
#include "workload.h"

/* The command line, read-only once the server runs. */
struct sim_config {
	const char *bind;          /* address to listen on, default 127.0.0.1 */
	unsigned port;             /* 0: a free port */
	long jobs;                 /* jobs created at start */
	double rate;               /* new jobs per second */
	uint64_t seed;             /* PRNG seed */
	int64_t expiry;            /* seconds a finished job stays listed */
	int utc_offset;            /* seconds east of UTC of the cluster's times */
	int64_t skew;              /* initial clock skew, seconds */
	const char *user;          /* Basic auth user; NULL: no auth */
	char *password;            /* first line of --password-file */
	char *tls_cert;            /* PEM contents of --tls-cert, NULL: plain HTTP */
	char *tls_key;             /* PEM contents of --tls-key */
	const char *fixture;       /* --fixture FILE */
	const char *fault_spec;    /* --fault SPEC */
	long max_records_default;  /* default page size */
};

struct sim {
	struct sim_config cfg;
	struct sim_store store;       /* the jobs; its rwlock also guards the workload */
	struct sim_workload workload; /* guarded by store.lock (write side) */
	struct sim_faults faults;     /* has its own mutex */
	struct sim_counters counters; /* has its own mutex */
	struct sim_store hostile;     /* the "hostile" fault's extra records, immutable */
	_Atomic int64_t skew;         /* sim clock = host clock + skew (advances add to it) */
	atomic_bool stopping;         /* set at shutdown: stalls and sleeps end early */
};

/* The sim's clock in seconds since the epoch. */
int64_t sim_now(const struct sim *s);

/* Sleep ms milliseconds in short slices; returns early (false) once s->stopping. */
bool sim_sleep_ms(const struct sim *s, long ms);

#endif
