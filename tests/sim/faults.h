/* Fault injection: the SPEC grammar of tests/sim/README.md, parsed once, consumed per /api
 * request. */
#ifndef ONTAP_SIM_FAULTS_H
#define ONTAP_SIM_FAULTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

enum fault_kind {
	FAULT_LATENCY, FAULT_STALL, FAULT_STATUS, FAULT_RESET, FAULT_TRUNCATE,
	FAULT_BADJSON, FAULT_BIGFIELD, FAULT_HOSTILE, FAULT_REPEAT_NEXT,
	FAULT_FOREIGN_NEXT, FAULT_EMPTY_PAGES, FAULT_READONLY, FAULT_JOBMGR,
};

struct fault_item {
	enum fault_kind kind;
	long value;        /* ms, s, status, bytes or pages */
	char origin[256];  /* foreign-next */
	long count;        /* requests left; -1: until cleared */
};

/* What the faults in force do to one /api request. */
struct fault_effect {
	long latency_ms;
	long stall_s;           /* 0: none */
	int status;             /* 0: none */
	bool reset, truncate, badjson, hostile, repeat_next;
	bool readonly;          /* a PATCH is not authorized (403, code 6) */
	bool jobmgr;            /* a PATCH finds the Job Manager down (code 458773) */
	size_t bigfield;        /* 0: off */
	char foreign_origin[256];
	long empty_pages;
};

#define FAULTS_MAX 32

struct sim_faults {
	pthread_mutex_t lock; /* guards items and n */
	struct fault_item items[FAULTS_MAX];
	size_t n;
};

int faults_init(struct sim_faults *f);
void faults_destroy(struct sim_faults *f);

/* Parse spec (a whole SPEC; "" clears) into items[] (at most FAULTS_MAX). 0, or
 * -EINVAL with a reason in err. Pure: safe on a scratch array. */
int faults_parse(const char *spec, struct fault_item *items, size_t *n, char *err,
		 size_t errlen);
/* Replace the faults in force. 0 or -EINVAL (then nothing changed). */
int faults_set(struct sim_faults *f, const char *spec, char *err, size_t errlen);
/* The effect on the next /api request; counted items lose one and go at zero. */
void faults_take(struct sim_faults *f, struct fault_effect *out);
/* The faults in force as a SPEC (counts as they stand now), malloc'd; NULL on ENOMEM. */
char *faults_spec(struct sim_faults *f);

#endif
