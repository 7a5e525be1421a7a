/* The simulated cluster's life: a seeded PRNG, realistic jobs that queue, run, pause,
 * finish and expire, a ticker thread that moves them along, and the job actions
 * (pause, resume, cancel) of PATCH /api/cluster/jobs/{uuid}. */
#ifndef ONTAP_SIM_WORKLOAD_H
#define ONTAP_SIM_WORKLOAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct sim;
struct sim_job;

struct sim_workload {
	/* Guarded by the store's rwlock (write side), like the jobs it creates. */
	uint64_t rng;          /* splitmix64 state */
	double rate;           /* new jobs per second */
	bool paused;           /* no arrivals, no transitions */
	double next_arrival;   /* sim time of the next new job */
	char svm_name[3][16];
	struct json_object *svm[3];  /* shared svm objects: {name, uuid, _links} */
	struct json_object *node[2]; /* shared node objects: {name} */

	/* The ticker thread; wake_lock guards nothing but the wait on wake. */
	pthread_t ticker;
	bool ticker_running;
	pthread_mutex_t wake_lock;
	pthread_cond_t wake;
};

/* splitmix64: the one PRNG of the simulator (never rand()). */
uint64_t sim_rand(uint64_t *state);
/* A v4-shaped uuid from the PRNG into out[37]. */
void sim_uuid(uint64_t *state, char out[37]);

/* Seed the workload and create cfg.jobs jobs spread over the last expiry window
 * (call before the server runs). 0 or -errno. */
int workload_init(struct sim *s);
/* Start / stop the ticker (stop wakes it at once). */
int workload_start(struct sim *s);
void workload_stop(struct sim *s);
void workload_destroy(struct sim *s);

/* Create arrivals due, move planned jobs to their state at the sim's now, expire
 * finished jobs. Takes the store's write lock. */
void workload_advance(struct sim *s);

/* Which actions a job of this description supports, as the workload's own jobs of
 * that kind do ("Vol Move": both, "PATCH /api/cluster": neither); any other: both. */
void workload_job_support(const char *description, bool *can_pause, bool *can_cancel);

/* PATCH action on j (caller holds the store's write lock). 0 on success, else the
 * cluster's error code (458762, 458771, 458776, 458783, 458784) and *message. */
long workload_action(struct sim *s, struct sim_job *j, const char *action,
		     const char **message);

#endif
