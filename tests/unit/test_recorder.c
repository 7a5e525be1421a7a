/* The recorder (src/recorder.c) with a real store over ontap-sim and a history on a
 * temporary file: its own listings with nobody reading, what readers fetch (offers),
 * finished jobs written once, the gap a failing cluster leaves, and what is queued
 * written at the end. Threaded: it also runs under ThreadSanitizer (tests/tsan). */
#include "jobsfs/recorder.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_helpers.h"
#include "jobsfs/client.h"
#include "jobsfs/error.h"
#include "jobsfs/history.h"
#include "jobsfs/job.h"
#include "jobsfs/listing.h"
#include "jobsfs/store.h"

#define JOBS 30

static struct sim sim;
static char dir[64], path[128];

struct rig {
	struct jfs_client *client;
	struct jfs_store *store;
	struct jfs_history *history;
	struct jfs_recorder *recorder;
};

static void setup(void)
{
	static const char *const args[] = { "--jobs", "30", "--seed", "5", "--expiry", "4", NULL };
	if (sim_start(&sim, args) != 0)
		ck_abort_msg("ontap-sim did not start");
	/* No arrivals, no transitions: what changes, the tests change. */
	ck_assert_int_eq(sim_request(&sim, "POST", "/_sim/workload", "{\"paused\":true}", NULL),
			 200);
	snprintf(dir, sizeof(dir), "/tmp/jobsfs-recorder-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/h.sqlite", dir);
}

static void teardown(void)
{
	char cmd[128];
	sim_stop(&sim);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void rig_up(struct rig *r, double every, int64_t expiry_ms)
{
	struct jfs_error e;
	jfs_error_clear(&e);
	struct jfs_history_config hc = { .path = path, .cluster = "c", .ttl = 0 };
	ck_assert_msg(jfs_history_open(&hc, &r->history, &e) == 0, "%s", e.message);
	struct jfs_recorder_config rc = {
		.history = r->history, .every = every, .expiry_ms = expiry_ms, .keep_days = 30,
	};
	ck_assert_int_eq(jfs_recorder_new(&rc, &r->recorder), 0);
	struct jfs_client_config cc = {
		.http = { .base_url = sim.url, .timeout_ms = 1000, .max_retries = -1 },
		.page_size = 1000,
	};
	ck_assert_msg(jfs_client_new(&cc, &r->client, &e) == 0, "%s", e.message);
	struct jfs_store_config sc = { .ttl = 0.1, .expiry = expiry_ms / 1000,
				       .on_fetched = jfs_recorder_offer,
				       .on_fetched_arg = r->recorder };
	ck_assert_int_eq(jfs_store_new(r->client, &sc, &r->store), 0);
}

static void rig_down(struct rig *r)
{
	jfs_recorder_free(r->recorder);
	jfs_store_free(r->store);
	jfs_client_free(r->client);
	jfs_history_close(r->history);
}

static size_t recorded(struct jfs_history *h)
{
	struct jfs_listing *l;
	struct jfs_error e;
	jfs_error_clear(&e);
	ck_assert_int_eq(jfs_history_listing(h, NULL, &l, &e), 0);
	size_t n = l->n;
	jfs_listing_unref(l);
	return n;
}

static struct jfs_recorder_counters counters(struct rig *r)
{
	struct jfs_recorder_counters c;
	jfs_recorder_counters_get(r->recorder, &c);
	return c;
}

START_TEST(lists_with_nobody_reading)
{
	struct rig r;
	rig_up(&r, 0.2, 300000);
	ck_assert_int_eq(jfs_recorder_start(r.recorder, r.store), 0);
	for (int i = 0; i < 100 && recorded(r.history) < JOBS; i++)
		usleep(50000);
	ck_assert_uint_eq(recorded(r.history), JOBS);
	usleep(1100000);
	struct jfs_recorder_counters c = counters(&r);
	ck_assert_uint_ge(c.listings, 4); /* every 0.2 s: 5 or 6 in 1.1 s and the first */
	ck_assert_uint_le(c.listings, 9);
	/* Nothing changed (the workload is off): every job written once, no more. */
	ck_assert_uint_eq(c.jobs_written, JOBS);
	ck_assert_uint_eq(c.failures, 0);
	rig_down(&r);
}
END_TEST

START_TEST(records_what_readers_fetch)
{
	struct rig r;
	rig_up(&r, 0, 300000); /* record=off: only what readers fetch */
	ck_assert_int_eq(jfs_recorder_start(r.recorder, r.store), 0);
	/* A new running job, read by uuid (a lookup), then finished and read again. */
	char *resp = NULL;
	ck_assert_int_eq(sim_request(&sim, "POST", "/_sim/jobs",
				     "{\"state\":\"running\",\"description\":\"rec test\"}", &resp),
			 201);
	const char *u = strstr(resp, "\"uuid\":\"");
	ck_assert_ptr_nonnull(u);
	char uuid[37];
	memcpy(uuid, u + 8, 36);
	uuid[36] = '\0';
	free(resp);
	struct jfs_job *job;
	struct jfs_error e;
	jfs_error_clear(&e);
	ck_assert_int_eq(jfs_store_job(r.store, uuid, &job, &e), 0);
	jfs_job_unref(job);
	char p[128];
	snprintf(p, sizeof(p), "/_sim/jobs/%s", uuid);
	ck_assert_int_eq(sim_request(&sim, "POST", p, "{\"state\":\"failure\",\"message\":\"gone\"}",
				     NULL),
			 200);
	usleep(150000); /* past the store's ttl */
	ck_assert_int_eq(jfs_store_job(r.store, uuid, &job, &e), 0);
	jfs_job_unref(job);
	/* Offers are written when the recorder ends, at the latest. */
	jfs_recorder_free(r.recorder);
	r.recorder = NULL;
	jfs_error_clear(&e);
	ck_assert_int_eq(jfs_history_job(r.history, uuid, &job, &e), 0);
	const struct jfs_node *state = jfs_node_child(&job->root, "state");
	ck_assert_str_eq(node_text(state), "failure\n");
	jfs_job_unref(job);
	ck_assert_uint_eq(recorded(r.history), 1); /* no listing of its own */
	rig_down(&r);
}
END_TEST

START_TEST(a_failing_cluster_leaves_a_gap)
{
	struct rig r;
	rig_up(&r, 0.2, 1000); /* the cluster keeps finished jobs 1 s: quick gaps */
	ck_assert_int_eq(jfs_recorder_start(r.recorder, r.store), 0);
	for (int i = 0; i < 100 && recorded(r.history) < JOBS; i++)
		usleep(50000);
	sim_faults(&sim, "status=503");
	usleep(1800000);
	ck_assert_int_eq(sim_request(&sim, "DELETE", "/_sim/faults", NULL, NULL), 204);
	char *text = NULL;
	size_t len = 0;
	struct jfs_error e;
	for (int i = 0; i < 60; i++) {
		free(text);
		jfs_error_clear(&e);
		ck_assert_int_eq(jfs_history_gaps(r.history, &text, &len, &e), 0);
		if (len)
			break;
		usleep(50000);
	}
	ck_assert_msg(strstr(text, "cluster not listed") && strstr(text, "503"), "gaps: %s", text);
	ck_assert_msg(strchr(text, '\n') == text + len - 1, "not one line: %s", text);
	free(text);
	ck_assert_uint_ge(counters(&r).failures, 1);
	rig_down(&r);
}
END_TEST

static Suite *recorder_suite(void)
{
	Suite *s = suite_create("recorder");
	TCase *tc = tcase_create("recorder");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, lists_with_nobody_reading);
	tcase_add_test(tc, records_what_readers_fetch);
	tcase_add_test(tc, a_failing_cluster_leaves_a_gap);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (!sim_available()) {
		fprintf(stderr, "ontap-sim not available (ONTAP_SIM empty): skipped\n");
		return 77;
	}
	return run_suite(recorder_suite(), true);
}
