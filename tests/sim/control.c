/* /_sim: the control API (see tests/sim/README.md) and the /api request counters. Never
 * faulted, never authenticated: it is the test's side door. */
#include "control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobsfs/isotime.h"
#include "jobsfs/log.h"
#include "jobsfs/urlenc.h"
#include "server.h"
#include "sim.h"

static const char *const endpoint_names[EP_OTHER] = {
	[EP_COLLECTION] = "GET /api/cluster/jobs",
	[EP_INSTANCE] = "GET /api/cluster/jobs/{uuid}",
	[EP_PATCH] = "PATCH /api/cluster/jobs/{uuid}",
};

/* o[key] = v, consuming v. false when out of memory. */
static bool put(json_object *o, const char *key, json_object *v)
{
	if (!v || json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

int counters_init(struct sim_counters *c)
{
	memset(c, 0, sizeof(*c));
	c->by_query = json_object_new_object();
	if (!c->by_query)
		return -ENOMEM;
	return -pthread_mutex_init(&c->lock, NULL);
}

void counters_destroy(struct sim_counters *c)
{
	json_object_put(c->by_query);
	pthread_mutex_destroy(&c->lock);
}

void counters_count(struct sim_counters *c, enum sim_endpoint ep, const char *query_key)
{
	pthread_mutex_lock(&c->lock);
	c->total++;
	if (ep != EP_OTHER)
		c->by_endpoint[ep]++;
	json_object *n;
	if (json_object_object_get_ex(c->by_query, query_key, &n))
		json_object_set_int64(n, json_object_get_int64(n) + 1);
	else if (!put(c->by_query, query_key, json_object_new_int64(1)))
		jfs_warn("out of memory counting %s", query_key);
	pthread_mutex_unlock(&c->lock);
}

static enum MHD_Result get_counters(struct sim *s, struct MHD_Connection *conn)
{
	struct sim_counters *c = &s->counters;
	json_object *o = json_object_new_object(), *eps = json_object_new_object();
	json_object *byq = NULL;
	bool ok = o && eps;
	pthread_mutex_lock(&c->lock);
	if (ok)
		ok = put(o, "total", json_object_new_int64((int64_t)c->total));
	for (int i = 0; ok && i < EP_OTHER; i++)
		ok = put(eps, endpoint_names[i], json_object_new_int64((int64_t)c->by_endpoint[i]));
	if (ok)
		ok = json_object_deep_copy(c->by_query, &byq, NULL) == 0;
	pthread_mutex_unlock(&c->lock);
	if (ok) {
		ok = put(o, "by_endpoint", eps);
		eps = NULL;
	}
	if (ok) {
		ok = put(o, "by_query", byq);
		byq = NULL;
	}
	enum MHD_Result ret = ok ? sim_reply_json(s, conn, 200, o) : MHD_NO;
	json_object_put(o);
	json_object_put(eps);
	json_object_put(byq);
	return ret;
}

static enum MHD_Result reset_counters(struct sim *s, struct MHD_Connection *conn)
{
	struct sim_counters *c = &s->counters;
	json_object *fresh = json_object_new_object();
	if (!fresh)
		return MHD_NO;
	pthread_mutex_lock(&c->lock);
	c->total = 0;
	memset(c->by_endpoint, 0, sizeof(c->by_endpoint));
	json_object_put(c->by_query);
	c->by_query = fresh;
	pthread_mutex_unlock(&c->lock);
	return sim_reply(s, conn, 204, NULL, 0);
}

/* GET /_sim/jobs: every job, all fields, no paging. */
static enum MHD_Result get_jobs(struct sim *s, struct MHD_Connection *conn)
{
	char *body = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&body, &len);
	if (!out)
		return MHD_NO;
	fputs("{\"records\":[", out);
	pthread_rwlock_rdlock(&s->store.lock);
	for (size_t i = 0; i < s->store.n; i++) {
		if (i)
			fputc(',', out);
		fwrite(s->store.jobs[i]->json, 1, s->store.jobs[i]->json_len, out);
	}
	fprintf(out, "],\"num_records\":%zu}", s->store.n);
	pthread_rwlock_unlock(&s->store.lock);
	if (fclose(out) != 0) {
		free(body);
		return MHD_NO;
	}
	return sim_reply(s, conn, 200, body, len);
}

static enum MHD_Result bad_request(struct sim *s, struct MHD_Connection *conn, const char *msg)
{
	return sim_reply_error(s, conn, 400, "2", msg, NULL);
}

static enum MHD_Result not_found(struct sim *s, struct MHD_Connection *conn)
{
	return sim_reply_error(s, conn, 404, "4", "entry doesn't exist", "uuid");
}

/* The body as a JSON object; NULL when absent (*bad stays false) or invalid. */
static json_object *body_object(const char *body, size_t len, bool *bad)
{
	*bad = false;
	if (!body || !len)
		return NULL;
	json_tokener *tok = json_tokener_new();
	if (!tok) {
		*bad = true;
		return NULL;
	}
	json_object *o = json_tokener_parse_ex(tok, body, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
		*bad = true;
	}
	json_tokener_free(tok);
	return o;
}

/* Apply the fields of b to job j (caller holds the write lock). */
static const char *apply_fields(struct sim *s, struct sim_job *j, json_object *b, bool creating)
{
	const int off = s->cfg.utc_offset;
	int64_t now = sim_now(s);
	json_object *v;
	enum job_state st = j->state;
	const char *message = NULL;
	int64_t code;

	if (json_object_object_get_ex(b, "state", &v)) {
		if (!json_object_is_type(v, json_type_string) ||
		    job_state_parse(json_object_get_string(v), &st))
			return "\"state\" must be queued, running, paused, success or failure";
	}
	if (json_object_object_get_ex(b, "message", &v)) {
		if (!json_object_is_type(v, json_type_string))
			return "\"message\" must be a string";
		message = json_object_get_string(v);
	}
	code = st == JOB_FAILURE ? 1 : 0;
	json_object *cur;
	if (!creating && json_object_object_get_ex(j->rec, "code", &cur))
		code = json_object_get_int64(cur);
	if (json_object_object_get_ex(b, "code", &v)) {
		if (!json_object_is_type(v, json_type_int))
			return "\"code\" must be an integer";
		code = json_object_get_int64(v);
	}
	if (!message && creating)
		message = st == JOB_SUCCESS ? "success" : st == JOB_FAILURE ? "failed" :
			  st == JOB_QUEUED ? "Queued" : st == JOB_PAUSED ? "Paused" : "Running";
	/* Every other field as given (null removes it). */
	json_object_object_foreach(b, key, val)
	{
		if (!strcmp(key, "uuid") || !strcmp(key, "state") || !strcmp(key, "message") ||
		    !strcmp(key, "code") || !strcmp(key, "_links") || !strcmp(key, "end_time"))
			continue;
		if (!val) {
			json_object_object_del(j->rec, key);
		} else if (json_object_object_add(j->rec, key, json_object_get(val)) != 0) {
			json_object_put(val);
			return "out of memory";
		}
	}
	if (json_object_object_get_ex(j->rec, "start_time", &v)) {
		int64_t t;
		if (!json_object_is_type(v, json_type_string) ||
		    jfs_isotime_parse(json_object_get_string(v), &t))
			return "\"start_time\" must be an ISO 8601 time";
		j->start = t;
	}
	int64_t end = now;
	if (json_object_object_get_ex(b, "end_time", &v)) {
		if (!json_object_is_type(v, json_type_string) ||
		    jfs_isotime_parse(json_object_get_string(v), &end))
			return "\"end_time\" must be an ISO 8601 time";
	}
	j->plan.active = false; /* told what to be: the workload lets go of it */
	/* A terminal job keeps its end_time when only its message changes. */
	if (!creating && job_state_terminal(j->state) && st == j->state && j->end &&
	    !json_object_object_get_ex(b, "end_time", NULL))
		end = j->end;
	if (job_set_state(j, st, message, code, end, off))
		return "out of memory";
	return NULL;
}

static enum MHD_Result create_job(struct sim *s, struct MHD_Connection *conn,
				  const char *body, size_t len)
{
	bool bad;
	json_object *b = body_object(body, len, &bad);
	if (bad)
		return bad_request(s, conn, "The body must be a JSON object.");
	if (!b && !(b = json_object_new_object()))
		return MHD_NO;

	enum MHD_Result ret;
	json_object *v;
	char uuid[512];
	pthread_rwlock_wrlock(&s->store.lock);
	if (json_object_object_get_ex(b, "uuid", &v) && json_object_is_type(v, json_type_string))
		snprintf(uuid, sizeof(uuid), "%s", json_object_get_string(v));
	else
		sim_uuid(&s->workload.rng, uuid);
	struct sim_job *j = job_new(uuid);
	const char *err = j ? NULL : "out of memory";
	if (!err) {
		j->start = sim_now(s);
		j->can_pause = j->can_cancel = true;
		j->state = JOB_RUNNING;
		/* _links: the standard one, added when the record is serialized. */
		if (!put(j->rec, "uuid", json_object_new_string(uuid)) ||
		    !put(j->rec, "description", json_object_new_string("Simulated job")) ||
		    job_set_time(j, "start_time", j->start, s->cfg.utc_offset))
			err = "out of memory";
	}
	if (!err)
		err = apply_fields(s, j, b, true);
	if (!err) {
		json_object *d;
		if (json_object_object_get_ex(j->rec, "description", &d) &&
		    json_object_is_type(d, json_type_string))
			workload_job_support(json_object_get_string(d), &j->can_pause,
					     &j->can_cancel);
		int rc = store_insert(&s->store, j);
		if (rc == -EEXIST)
			err = "a job with this uuid exists";
		else if (rc)
			err = "out of memory";
	}
	if (err) {
		job_free(j);
		ret = bad_request(s, conn, err);
	} else {
		ret = sim_reply(s, conn, 201, strndup(j->json, j->json_len), j->json_len);
	}
	pthread_rwlock_unlock(&s->store.lock);
	json_object_put(b);
	return ret;
}

static enum MHD_Result update_job(struct sim *s, struct MHD_Connection *conn, const char *uuid,
				  const char *body, size_t len)
{
	bool bad;
	json_object *b = body_object(body, len, &bad);
	if (bad)
		return bad_request(s, conn, "The body must be a JSON object.");
	if (!b && !(b = json_object_new_object()))
		return MHD_NO;
	enum MHD_Result ret;
	pthread_rwlock_wrlock(&s->store.lock);
	long idx = store_find(&s->store, uuid);
	if (idx < 0) {
		ret = not_found(s, conn);
	} else {
		struct sim_job *j = s->store.jobs[idx];
		const char *err = apply_fields(s, j, b, false);
		ret = err ? bad_request(s, conn, err)
			  : sim_reply(s, conn, 200, strndup(j->json, j->json_len), j->json_len);
	}
	pthread_rwlock_unlock(&s->store.lock);
	json_object_put(b);
	return ret;
}

static enum MHD_Result delete_job(struct sim *s, struct MHD_Connection *conn, const char *uuid)
{
	pthread_rwlock_wrlock(&s->store.lock);
	long idx = store_find(&s->store, uuid);
	if (idx >= 0)
		store_remove_at(&s->store, (size_t)idx);
	pthread_rwlock_unlock(&s->store.lock);
	return idx < 0 ? not_found(s, conn) : sim_reply(s, conn, 204, NULL, 0);
}

static enum MHD_Result clock_reply(struct sim *s, struct MHD_Connection *conn)
{
	char iso[64], body[256];
	int64_t now = sim_now(s);
	if (jfs_isotime_format(now, s->cfg.utc_offset, iso, sizeof(iso)) < 0)
		iso[0] = '\0';
	int n = snprintf(body, sizeof(body), "{\"now\":%lld,\"iso\":\"%s\",\"skew\":%lld}",
			 (long long)now, iso, (long long)atomic_load(&s->skew));
	return sim_reply(s, conn, 200, strndup(body, (size_t)n), (size_t)n);
}

static enum MHD_Result post_clock(struct sim *s, struct MHD_Connection *conn, const char *body,
				  size_t len)
{
	bool bad;
	json_object *b = body_object(body, len, &bad), *v;
	if (bad || !b) {
		json_object_put(b);
		return bad_request(s, conn, "Expected {\"advance\":S} and/or {\"skew\":S}.");
	}
	const char *err = NULL;
	if (json_object_object_get_ex(b, "skew", &v)) {
		if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))
			atomic_store(&s->skew, json_object_get_int64(v));
		else
			err = "\"skew\" must be a number of seconds";
	}
	if (!err && json_object_object_get_ex(b, "advance", &v)) {
		if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))
			atomic_fetch_add(&s->skew, json_object_get_int64(v));
		else
			err = "\"advance\" must be a number of seconds";
	}
	json_object_put(b);
	if (err)
		return bad_request(s, conn, err);
	workload_advance(s); /* expiry and the workload catch up with the new time */
	return clock_reply(s, conn);
}

static enum MHD_Result faults_reply(struct sim *s, struct MHD_Connection *conn)
{
	char *spec = faults_spec(&s->faults);
	json_object *o = json_object_new_object();
	if (!spec || !o) {
		free(spec);
		json_object_put(o);
		return MHD_NO;
	}
	bool ok = put(o, "spec", json_object_new_string(spec));
	free(spec);
	if (!ok) {
		json_object_put(o);
		return MHD_NO;
	}
	enum MHD_Result ret = sim_reply_json(s, conn, 200, o);
	json_object_put(o);
	return ret;
}

static enum MHD_Result post_faults(struct sim *s, struct MHD_Connection *conn, const char *body,
				   size_t len)
{
	char err[256];
	char *spec = strndup(body ? body : "", len);
	if (!spec)
		return MHD_NO;
	spec[strcspn(spec, "\r\n")] = '\0';
	int rc = faults_set(&s->faults, spec, err, sizeof(err));
	free(spec);
	if (rc)
		return bad_request(s, conn, err);
	return faults_reply(s, conn);
}

static enum MHD_Result post_workload(struct sim *s, struct MHD_Connection *conn,
				     const char *body, size_t len)
{
	bool bad;
	json_object *b = body_object(body, len, &bad), *v;
	if (bad || !b) {
		json_object_put(b);
		return bad_request(s, conn, "Expected {\"rate\":R} and/or {\"paused\":true|false}.");
	}
	const char *err = NULL;
	char out[128];
	pthread_rwlock_wrlock(&s->store.lock);
	if (json_object_object_get_ex(b, "rate", &v)) {
		if ((json_object_is_type(v, json_type_int) ||
		     json_object_is_type(v, json_type_double)) && json_object_get_double(v) >= 0)
			s->workload.rate = json_object_get_double(v);
		else
			err = "\"rate\" must be a number >= 0";
	}
	if (!err && json_object_object_get_ex(b, "paused", &v)) {
		if (json_object_is_type(v, json_type_boolean))
			s->workload.paused = json_object_get_boolean(v);
		else
			err = "\"paused\" must be true or false";
	}
	int n = snprintf(out, sizeof(out), "{\"rate\":%g,\"paused\":%s}", s->workload.rate,
			 s->workload.paused ? "true" : "false");
	pthread_rwlock_unlock(&s->store.lock);
	json_object_put(b);
	if (err)
		return bad_request(s, conn, err);
	return sim_reply(s, conn, 200, strndup(out, (size_t)n), (size_t)n);
}

enum MHD_Result control_handle(struct sim *s, struct MHD_Connection *conn, const char *method,
			       const char *path, const char *body, size_t body_len)
{
	const bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
	const bool del = !strcmp(method, "DELETE");

	if (!strcmp(path, "/_sim/counters") && get)
		return get_counters(s, conn);
	if (!strcmp(path, "/_sim/counters/reset") && post)
		return reset_counters(s, conn);
	if (!strcmp(path, "/_sim/jobs") && get)
		return get_jobs(s, conn);
	if (!strcmp(path, "/_sim/jobs") && post)
		return create_job(s, conn, body, body_len);
	if (!strncmp(path, "/_sim/jobs/", 11) && (post || del)) {
		char *uuid = jfs_url_decode(path + 11, strlen(path + 11), NULL);
		if (!uuid)
			return not_found(s, conn);
		enum MHD_Result ret = post ? update_job(s, conn, uuid, body, body_len)
					   : delete_job(s, conn, uuid);
		free(uuid);
		return ret;
	}
	if (!strcmp(path, "/_sim/clock") && get)
		return clock_reply(s, conn);
	if (!strcmp(path, "/_sim/clock") && post)
		return post_clock(s, conn, body, body_len);
	if (!strcmp(path, "/_sim/faults") && get)
		return faults_reply(s, conn);
	if (!strcmp(path, "/_sim/faults") && post)
		return post_faults(s, conn, body, body_len);
	if (!strcmp(path, "/_sim/faults") && del) {
		char err[64];
		faults_set(&s->faults, "", err, sizeof(err));
		return sim_reply(s, conn, 204, NULL, 0);
	}
	if (!strcmp(path, "/_sim/workload") && post)
		return post_workload(s, conn, body, body_len);
	return sim_reply_error(s, conn, 404, "3", "No such control.", NULL);
}
