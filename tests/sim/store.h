/* The job store: every job the simulated cluster lists, sorted by uuid, each with
 * its record as a json-c object and that record's serialized JSON kept ready.
 *
 * Locking: store.lock (a rwlock) guards the array, every job in it (record, cached
 * JSON, times, plan) and the workload state (struct sim_workload). Readers (GET
 * handlers, /_sim/jobs) hold it shared while they build a body from the cached JSON;
 * writers (ticker, PATCH, /_sim changes, clock advance) hold it exclusive. */
#ifndef ONTAP_SIM_STORE_H
#define ONTAP_SIM_STORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_PAUSED, JOB_SUCCESS, JOB_FAILURE };

const char *job_state_name(enum job_state st);
/* 0 and *out, or -1 when name is not a job state. */
int job_state_parse(const char *name, enum job_state *out);
static inline bool job_state_terminal(enum job_state st)
{
	return st == JOB_SUCCESS || st == JOB_FAILURE;
}

/* A workload job's schedule (absolute sim times). Inactive for fixture and /_sim
 * jobs, which change only when told to. */
struct job_plan {
	bool active;
	bool held;           /* paused through PATCH: the schedule waits */
	int64_t held_since;
	int64_t t_run;       /* queued -> running */
	int64_t t_pause;     /* running -> paused (0: never) */
	int64_t t_resume;    /* paused -> running */
	int64_t t_end;       /* -> outcome */
	int outcome;         /* index into workload's outcome table; <0: success */
	uint64_t seed;       /* for the outcome's variable parts */
};

struct sim_job {
	char *uuid;
	/* The full record, as fields=* shows it, except that a record without _links
	 * (the workload's) gets the standard one when serialized: saves memory. Some
	 * nested objects (svm, node) are shared between records: their reference counts
	 * change only under the store's write lock. */
	json_object *rec;
	char *json;        /* json_object_to_json_string of rec, NULL until built */
	size_t json_len;
	enum job_state state;
	int64_t start;     /* sim epoch seconds */
	int64_t end;       /* 0 while active */
	bool expires;      /* false for fixture jobs */
	bool can_pause, can_cancel;
	struct job_plan plan;
};

struct sim_store {
	pthread_rwlock_t lock; /* guards everything listed in the comment above */
	struct sim_job **jobs; /* sorted by strcmp(uuid) */
	size_t n, cap;
};

int store_init(struct sim_store *st);
void store_destroy(struct sim_store *st);

/* A job with its uuid and an empty record, or NULL (ENOMEM). */
struct sim_job *job_new(const char *uuid);
void job_free(struct sim_job *j);
/* {"self":{"href":"/api/cluster/jobs/<uuid>"}}, or NULL (ENOMEM). */
json_object *job_links(const char *uuid);
/* Rebuild the cached JSON after rec changed. 0 or -ENOMEM. */
int job_refresh(struct sim_job *j);

/* The caller holds the lock as noted. */
/* Index of uuid, or -1. (shared) */
long store_find(const struct sim_store *st, const char *uuid);
/* Index of the first job whose uuid sorts strictly after cursor. (shared) */
size_t store_after(const struct sim_store *st, const char *cursor);
/* Insert (takes ownership). -EEXIST for a known uuid, -ENOMEM. (exclusive) */
int store_insert(struct sim_store *st, struct sim_job *j);
/* Bulk loading: append out of order (takes ownership; -ENOMEM), then sort once,
 * dropping duplicate uuids. (exclusive) */
int store_append(struct sim_store *st, struct sim_job *j);
void store_sort(struct sim_store *st);
/* Remove and free the job at idx. (exclusive) */
void store_remove_at(struct sim_store *st, size_t idx);
/* Delete finished jobs whose end + expiry <= now. Returns how many. (exclusive) */
size_t store_expire(struct sim_store *st, int64_t now, int64_t expiry);

/* Set the record's state, message, code and times from the job's fields and the
 * given values, then refresh the cache. end: 0 for active. Times are formatted at
 * utc_offset. 0 or -ENOMEM. */
int job_set_state(struct sim_job *j, enum job_state st, const char *message, int64_t code,
		  int64_t end, int utc_offset);

/* Put rec's fields in the order clusters send them (uuid, description, state, message,
 * code, start_time, end_time, svm, node, error, others, _links) after fields were added. */
int job_canonical_order(json_object *rec);

/* job_set_state without the reordering and the refresh, for a record being built. */
int job_put_state(struct sim_job *j, enum job_state st, const char *message, int64_t code,
		  int64_t end, int utc_offset);

/* Set rec[key] to an ISO 8601 time string at utc_offset. 0 or -ENOMEM/-EINVAL. */
int job_set_time(struct sim_job *j, const char *key, int64_t epoch, int utc_offset);

#endif
