/* /_sim: the control API tests drive (see tests/sim/README.md), and the request counters. */
#ifndef ONTAP_SIM_CONTROL_H
#define ONTAP_SIM_CONTROL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <microhttpd.h>

struct sim;

enum sim_endpoint { EP_COLLECTION, EP_INSTANCE, EP_PATCH, EP_OTHER };

struct sim_counters {
	pthread_mutex_t lock;   /* guards the three fields below */
	uint64_t total;
	uint64_t by_endpoint[EP_OTHER];
	json_object *by_query;  /* decoded path+query -> count */
};

int counters_init(struct sim_counters *c);
void counters_destroy(struct sim_counters *c);
/* Count one /api request. */
void counters_count(struct sim_counters *c, enum sim_endpoint ep, const char *query_key);

/* Answer a /_sim request (path starts with "/_sim"; body may be NULL). */
enum MHD_Result control_handle(struct sim *s, struct MHD_Connection *conn, const char *method,
			       const char *path, const char *body, size_t body_len);

#endif
