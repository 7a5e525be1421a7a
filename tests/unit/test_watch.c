/* Acting on jobs and watching them end, against ontap-sim: jfs_client_act (each action,
 * each refusal the cluster documents, and what never becomes a request),
 * jfs_store_refresh (many jobs by few requests) and the watch's thread (an end seen
 * within an interval, a job that left, one poll per interval however many wait). */
#include "jobsfs/watch.h"

#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_helpers.h"
#include "jobsfs/client.h"
#include "jobsfs/clock.h"
#include "jobsfs/error.h"
#include "jobsfs/job.h"
#include "jobsfs/store.h"

#define PATCH_EP "PATCH /api/cluster/jobs/{uuid}"
#define LIST_EP "GET /api/cluster/jobs"

static struct sim sim;
static const char *const sim_args[] = { "--jobs", "0", "--expiry", "600", NULL };

static struct json_object *sim_json(const char *method, const char *path, const char *body,
				    long want)
{
	return sim_call_json(&sim, method, path, body, want);
}

static long sim_count(const char *endpoint)
{
	return sim_endpoint_count(&sim, endpoint);
}

/* A job made in the simulator, with this description and state: its uuid, malloc'd. */
static char *sim_create(const char *description, const char *state)
{
	char body[256];
	snprintf(body, sizeof(body), "{\"description\":\"%s\",\"state\":\"%s\"}", description,
		 state);
	struct json_object *rec = sim_json("POST", "/_sim/jobs", body, 201), *u;
	ck_assert(json_object_object_get_ex(rec, "uuid", &u));
	char *uuid = strdup(json_object_get_string(u));
	json_object_put(rec);
	return uuid;
}

static char *sim_state(const char *uuid)
{
	char path[128];
	snprintf(path, sizeof(path), "/api/cluster/jobs/%s?fields=state", uuid);
	struct json_object *rec = sim_json("GET", path, NULL, 200), *st;
	ck_assert(json_object_object_get_ex(rec, "state", &st));
	char *state = strdup(json_object_get_string(st));
	json_object_put(rec);
	return state;
}

static void sim_set(const char *uuid, const char *state)
{
	char path[128], body[128];
	snprintf(path, sizeof(path), "/_sim/jobs/%s", uuid);
	snprintf(body, sizeof(body), "{\"state\":\"%s\"}", state);
	json_object_put(sim_json("POST", path, body, 200));
}

static struct jfs_client *client_new(void)
{
	struct jfs_client_config cc = { .http = { .base_url = sim.url } };
	struct jfs_client *c = NULL;
	struct jfs_error e;
	jfs_error_clear(&e);
	ck_assert_msg(jfs_client_new(&cc, &c, &e) == 0, "client: %s", e.message);
	return c;
}

/* ---- jfs_client_act --------------------------------------------------------------- */

static void act_is(struct jfs_client *c, const char *uuid, const char *action, int want,
		   const char *cluster_says)
{
	struct jfs_error e;
	jfs_error_clear(&e);
	int rc = jfs_client_act(c, uuid, action, &e);
	ck_assert_msg(rc == want, "%s %s: %d (%s), wanted %d", action, uuid, rc, e.message,
		      want);
	if (cluster_says) {
		ck_assert_msg(strstr(e.message, cluster_says), "%s: message \"%s\"", action,
			      e.message);
		char request[256];
		snprintf(request, sizeof(request), "PATCH /api/cluster/jobs/%s?action=%s", uuid,
			 action);
		ck_assert_str_eq(e.request, request);
	}
}

static void state_is(const char *uuid, const char *want)
{
	char *state = sim_state(uuid);
	ck_assert_msg(strcmp(state, want) == 0, "job %s is %s, wanted %s", uuid, state, want);
	free(state);
}

START_TEST(act_each_action_and_refusal)
{
	struct jfs_client *c = client_new();
	char *move = sim_create("Vol Move", "running"); /* pauses and cancels */
	long patches = sim_count(PATCH_EP);

	act_is(c, move, "pause", 0, NULL);
	state_is(move, "paused");
	act_is(c, move, "pause", -EAGAIN, "not running");		/* 458776 */
	act_is(c, move, "resume", 0, NULL);
	state_is(move, "running");
	act_is(c, move, "resume", -EALREADY, "already running");	/* 458771 */
	act_is(c, move, "cancel", 0, NULL);
	state_is(move, "failure");
	act_is(c, move, "cancel", -ESRCH, "already completed");		/* 458762 */
	ck_assert_int_eq(sim_count(PATCH_EP) - patches, 6);

	char *rest = sim_create("PATCH /api/cluster", "running"); /* neither */
	act_is(c, rest, "pause", -EOPNOTSUPP, "paused");		/* 458783 */
	act_is(c, rest, "cancel", -EOPNOTSUPP, "canceled");		/* 458784 */
	state_is(rest, "running");
	char *backup = sim_create("Cluster Backup Job", "running"); /* cancels only */
	act_is(c, backup, "pause", -EOPNOTSUPP, "paused");
	act_is(c, backup, "cancel", 0, NULL);
	state_is(backup, "failure");

	act_is(c, "00000000-0000-0000-0000-000000000000", "cancel", -ENOENT, "entry doesn't exist");

	sim_faults(&sim, "readonly*1");
	act_is(c, rest, "cancel", -EACCES, "not authorized");
	sim_faults(&sim, "jobmgr*1");
	act_is(c, rest, "cancel", -EAGAIN, "Job Manager");
	sim_faults(&sim, "");

	/* Never a request: an unknown action, or what is not a job's uuid. */
	patches = sim_count(PATCH_EP);
	act_is(c, rest, "stop", -EINVAL, NULL);
	act_is(c, rest, "cancel\n", -EINVAL, NULL);
	act_is(c, rest, "", -EINVAL, NULL);
	act_is(c, "../../cluster", "cancel", -ENOENT, NULL);
	ck_assert_int_eq(sim_count(PATCH_EP), patches);
	state_is(rest, "running");
	free(move);
	free(rest);
	free(backup);
	jfs_client_free(c);
}
END_TEST

/* A PATCH is not repeated once the cluster may have acted: a reset after the request
 * went out is one attempt, while a 503 (the cluster took nothing) is tried again. */
START_TEST(act_not_repeated_after_sending)
{
	struct jfs_client *c = client_new();
	char *move = sim_create("Vol Move", "running");
	long before = sim_count(PATCH_EP);
	sim_faults(&sim, "reset*1");
	struct jfs_error e;
	jfs_error_clear(&e);
	int rc = jfs_client_act(c, move, "pause", &e);
	ck_assert_int_eq(rc, -EIO);
	ck_assert_msg(strstr(e.message, "may have acted"), "%s", e.message);
	ck_assert_int_eq(sim_count(PATCH_EP) - before, 1);

	sim_faults(&sim, "status=503*1");
	before = sim_count(PATCH_EP);
	act_is(c, move, "pause", 0, NULL);
	ck_assert_int_eq(sim_count(PATCH_EP) - before, 2);
	state_is(move, "paused");
	sim_faults(&sim, "");
	free(move);
	jfs_client_free(c);
}
END_TEST

/* ---- jfs_store_refresh ------------------------------------------------------------- */

#define MANY 230

START_TEST(refresh_many_by_few_requests)
{
	struct jfs_client *c = client_new();
	struct jfs_store_config sc = { .ttl = 60, .expiry = 600 };
	struct jfs_store *s = NULL;
	ck_assert_int_eq(jfs_store_new(c, &sc, &s), 0);

	char *uuids[MANY + 1];
	for (int i = 0; i < MANY; i++)
		uuids[i] = sim_create("Vol Move", "running");
	uuids[MANY] = strdup("11111111-2222-3333-4444-555555555555"); /* no such job */
	struct jfs_job *jobs[MANY + 1];
	struct jfs_error e;
	jfs_error_clear(&e);

	long lists = sim_count(LIST_EP);
	ck_assert_int_eq(jfs_store_refresh(s, uuids, MANY + 1, jobs, &e), 0);
	/* 231 uuids: three batches of at most JFS_STORE_REFRESH_BATCH. */
	ck_assert_int_eq(sim_count(LIST_EP) - lists,
			 (MANY + 1 + JFS_STORE_REFRESH_BATCH - 1) / JFS_STORE_REFRESH_BATCH);
	for (int i = 0; i < MANY; i++) {
		ck_assert_ptr_nonnull(jobs[i]);
		ck_assert_str_eq(jobs[i]->uuid, uuids[i]);
		ck_assert_int_eq(jobs[i]->state, JFS_JOB_RUNNING);
		jfs_job_unref(jobs[i]);
	}
	ck_assert_ptr_null(jobs[MANY]);

	/* What a refresh brings is the store's: the job by uuid, with no request. */
	sim_set(uuids[7], "success");
	ck_assert_int_eq(jfs_store_refresh(s, uuids + 7, 1, jobs, &e), 0);
	ck_assert_int_eq(jobs[0]->state, JFS_JOB_SUCCESS);
	jfs_job_unref(jobs[0]);
	long gets = sim_count("GET /api/cluster/jobs/{uuid}");
	struct jfs_job *job = NULL;
	ck_assert_int_eq(jfs_store_job(s, uuids[7], &job, &e), 0);
	ck_assert_int_eq(job->state, JFS_JOB_SUCCESS);
	ck_assert_int_eq(sim_count("GET /api/cluster/jobs/{uuid}"), gets);
	jfs_job_unref(job);

	/* A job deleted: NULL, and the store drops it. */
	char path[128];
	snprintf(path, sizeof(path), "/_sim/jobs/%s", uuids[8]);
	sim_json("DELETE", path, NULL, 204);
	ck_assert_int_eq(jfs_store_refresh(s, uuids + 8, 1, jobs, &e), 0);
	ck_assert_ptr_null(jobs[0]);
	ck_assert_int_eq(jfs_store_job(s, uuids[8], &job, &e), -ENOENT);

	/* A cluster that fails: an error, and no job handed out. */
	sim_faults(&sim, "status=400");
	ck_assert_int_eq(jfs_store_refresh(s, uuids, 3, jobs, &e), -EINVAL);
	for (int i = 0; i < 3; i++)
		ck_assert_ptr_null(jobs[i]);
	sim_faults(&sim, "");

	for (int i = 0; i <= MANY; i++)
		free(uuids[i]);
	jfs_store_free(s);
	jfs_client_free(c);
}
END_TEST

/* ---- the watch ----------------------------------------------------------------------- */

#define WAITED 3

struct waiting {
	pthread_mutex_t lock; /* guards the rest */
	char *uuids[WAITED];
	bool over[WAITED];
	char state[WAITED][16]; /* "gone" when it left */
	int64_t ended_ms[WAITED];
};

static struct waiting waiting = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int collect(void *arg, char ***out, size_t *n)
{
	struct waiting *w = arg;
	*out = calloc(WAITED, sizeof(char *));
	*n = 0;
	pthread_mutex_lock(&w->lock);
	for (int i = 0; i < WAITED; i++)
		if (!w->over[i])
			(*out)[(*n)++] = strdup(w->uuids[i]);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

static void on_end(void *arg, const char *uuid, struct jfs_job *job)
{
	struct waiting *w = arg;
	pthread_mutex_lock(&w->lock);
	for (int i = 0; i < WAITED; i++)
		if (strcmp(w->uuids[i], uuid) == 0 && !w->over[i]) {
			w->over[i] = true;
			snprintf(w->state[i], sizeof(w->state[i]), "%s",
				 job ? jfs_job_state_name(job->state) : "gone");
			w->ended_ms[i] = jfs_mono_ms();
		}
	pthread_mutex_unlock(&w->lock);
}

static bool over(int i)
{
	pthread_mutex_lock(&waiting.lock);
	bool o = waiting.over[i];
	pthread_mutex_unlock(&waiting.lock);
	return o;
}

START_TEST(watch_sees_ends_with_one_poll_per_interval)
{
	struct jfs_client *c = client_new();
	struct jfs_store_config sc = { .ttl = 0.3, .expiry = 600 };
	struct jfs_store *s = NULL;
	ck_assert_int_eq(jfs_store_new(c, &sc, &s), 0);
	for (int i = 0; i < WAITED; i++)
		waiting.uuids[i] = sim_create("Vol Move", "running");

	struct jfs_watch_config wc = { .store = s, .interval = 0.3, .collect = collect,
				       .on_end = on_end, .arg = &waiting };
	struct jfs_watch *w = NULL;
	ck_assert_int_eq(jfs_watch_start(&wc, &w), 0);
	long lists = sim_count(LIST_EP);
	int64_t t0 = jfs_mono_ms();
	jfs_watch_kick(w);
	for (int k = 0; k < 20; k++)
		jfs_watch_kick(w); /* a burst of waiters: still one poll per interval */
	usleep(1500 * 1000);
	long polled = sim_count(LIST_EP) - lists;
	int64_t spent = jfs_mono_ms() - t0;
	/* Three waited jobs, one request per poll, a poll per 0.3 s at most. */
	ck_assert_msg(polled >= 2 && polled <= spent / 300 + 1, "%ld polls in %lld ms", polled,
		      (long long)spent);
	ck_assert(!over(0) && !over(1) && !over(2));

	sim_set(waiting.uuids[0], "success");
	int64_t changed = jfs_mono_ms();
	char path[128];
	snprintf(path, sizeof(path), "/_sim/jobs/%s", waiting.uuids[1]);
	sim_json("DELETE", path, NULL, 204);
	while ((!over(0) || !over(1)) && jfs_mono_ms() - changed < 5000)
		usleep(20 * 1000);
	pthread_mutex_lock(&waiting.lock);
	ck_assert_str_eq(waiting.state[0], "success");
	ck_assert_str_eq(waiting.state[1], "gone");
	/* Seen within an interval and a request. */
	ck_assert_msg(waiting.ended_ms[0] - changed < 1300, "seen after %lld ms",
		      (long long)(waiting.ended_ms[0] - changed));
	pthread_mutex_unlock(&waiting.lock);
	ck_assert(!over(2));

	/* Through an outage (answers a client does not retry), the waiter keeps
	 * waiting; after it, the end is seen. */
	struct jfs_watch_counters ctr;
	sim_faults(&sim, "status=400");
	sim_set(waiting.uuids[2], "failure");
	int64_t out = jfs_mono_ms();
	do {
		usleep(50 * 1000);
		jfs_watch_counters_get(w, &ctr);
	} while (ctr.failures < 2 && jfs_mono_ms() - out < 5000);
	ck_assert_uint_ge(ctr.failures, 2);
	ck_assert(!over(2));
	sim_faults(&sim, "");
	int64_t back = jfs_mono_ms();
	while (!over(2) && jfs_mono_ms() - back < 5000)
		usleep(20 * 1000);
	ck_assert(over(2));
	ck_assert_str_eq(waiting.state[2], "failure");

	/* Nothing waited on: no more polls. */
	usleep(400 * 1000);
	lists = sim_count(LIST_EP);
	usleep(1000 * 1000);
	ck_assert_int_eq(sim_count(LIST_EP), lists);

	jfs_watch_stop(w);
	for (int i = 0; i < WAITED; i++)
		free(waiting.uuids[i]);
	jfs_store_free(s);
	jfs_client_free(c);
}
END_TEST

START_TEST(job_ended_reads_states)
{
	static const struct {
		const char *record;
		bool ended;
	} cases[] = {
		{ "{\"uuid\":\"u1\",\"state\":\"running\"}", false },
		{ "{\"uuid\":\"u1\",\"state\":\"queued\"}", false },
		{ "{\"uuid\":\"u1\",\"state\":\"paused\"}", false },
		{ "{\"uuid\":\"u1\",\"state\":\"success\"}", true },
		{ "{\"uuid\":\"u1\",\"state\":\"failure\"}", true },
		{ "{\"uuid\":\"u1\",\"state\":\"cancelled\"}", true }, /* older releases */
		{ "{\"uuid\":\"u1\"}", false },			     /* no state said */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct jfs_job *job = NULL;
		struct jfs_error e;
		jfs_error_clear(&e);
		ck_assert_int_eq(jfs_job_parse(cases[i].record, strlen(cases[i].record), 64, &job,
					       &e),
				 0);
		ck_assert_msg(jfs_job_ended(job) == cases[i].ended, "%s", cases[i].record);
		jfs_job_unref(job);
	}
}
END_TEST

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	Suite *s = suite_create("watch");
	TCase *local = tcase_create("local");
	tcase_add_test(local, job_ended_reads_states);
	suite_add_tcase(s, local);
	bool with_sim = sim_available();
	if (with_sim) {
		TCase *tc = sim_shared_tcase("sim", &sim, sim_args);
		tcase_set_timeout(tc, 60);
		tcase_add_test(tc, act_each_action_and_refusal);
		tcase_add_test(tc, act_not_repeated_after_sending);
		tcase_add_test(tc, refresh_many_by_few_requests);
		tcase_add_test(tc, watch_sees_ends_with_one_poll_per_interval);
		suite_add_tcase(s, tc);
	}
	return run_suite(s, with_sim);
}
