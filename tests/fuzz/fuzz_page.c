/* Fuzz target: a collection page as a cluster sends it (jfs_page_parse), and the same
 * bytes as a single-job body (jfs_job_parse).
 *
 * Beyond "no crash, no leak, no sanitizer report", it checks what the filesystem
 * relies on: a failure is -EIO with a clean message and an empty page; every job
 * built is a valid tree (names that are file names, sorted, found by lookup, files
 * ending in a newline, job.json present) and its job.json parses back into the
 * same job. */
#include "fuzz.h"

#include "jobsfs/error.h"
#include "jobsfs/job.h"
#include "jobsfs/page.h"

#include <errno.h>
#include <json-c/json.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_log();
	return 0;
}

static void check_failure(int rc, const struct jfs_error *e)
{
	FUZZ_CHECK(rc == -EIO || rc == -ENOMEM, "failed with %d", rc);
	FUZZ_CHECK(e->err == -rc, "e.err %d for rc %d", e->err, rc);
	FUZZ_CHECK(e->message[0] != '\0', "failure without a message");
	FUZZ_CHECK(fuzz_text_is_clean(e->message, sizeof(e->message)), "message not clean");
}

static void fuzz_page(const char *body, size_t len)
{
	struct jfs_page page;
	struct jfs_error e;

	jfs_error_clear(&e);
	memset(&page, 0xa5, sizeof(page)); /* the parser must set every field */
	int rc = jfs_page_parse(body, len, JFS_MAX_DEPTH_DEFAULT, &page, &e);
	if (rc < 0) {
		check_failure(rc, &e);
		FUZZ_CHECK(page.jobs == NULL && page.n == 0 && page.next_href == NULL,
			   "a failed parse left a page");
		return;
	}
	FUZZ_CHECK(e.err == 0, "success with e.err %d", e.err);
	FUZZ_CHECK(page.n == 0 || page.jobs != NULL, "jobs missing");
	for (size_t i = 0; i < page.n; i++) {
		fuzz_check_job(page.jobs[i]);
		fuzz_check_job_json_round_trip(page.jobs[i], JFS_MAX_DEPTH_DEFAULT);
		/* A reference taken and dropped leaves the job to the page. */
		FUZZ_CHECK(jfs_job_ref(page.jobs[i]) == page.jobs[i], "ref");
		jfs_job_unref(page.jobs[i]);
	}
	if (page.next_href)
		FUZZ_CHECK(strlen(page.next_href) < len, "next href longer than the body");
	jfs_page_free(&page);
	FUZZ_CHECK(page.jobs == NULL && page.n == 0 && page.next_href == NULL,
		   "jfs_page_free left a page");
}

static void fuzz_job(const char *body, size_t len)
{
	struct jfs_job *job = (struct jfs_job *)&job; /* must be reset */
	struct jfs_error e;

	jfs_error_clear(&e);
	int rc = jfs_job_parse(body, len, JFS_MAX_DEPTH_DEFAULT, &job, &e);
	if (rc < 0) {
		check_failure(rc, &e);
		FUZZ_CHECK(job == NULL, "a failed parse left a job");
		return;
	}
	fuzz_check_job(job);
	fuzz_check_job_json_round_trip(job, JFS_MAX_DEPTH_DEFAULT);
	jfs_job_unref(job);
}

/* The body parse at the edges of its depth limit: below 1 and above its cap. */
static void fuzz_depth_limits(const char *body, size_t len)
{
	static const int depths[] = { -1, 1, 1 << 20 };
	for (size_t i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
		struct json_object *root = (struct json_object *)&root; /* must be reset */
		struct jfs_error e;
		jfs_error_clear(&e);
		int rc = jfs_json_body_parse(body, len, depths[i], &root, &e);
		if (rc < 0) {
			check_failure(rc, &e);
			FUZZ_CHECK(root == NULL, "a failed parse left a value");
		} else {
			/* Only a JSON null parses to no object. */
			FUZZ_CHECK(root != NULL || memmem(body, len, "null", 4), "no value");
			json_object_put(root);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The exact bytes, not NUL-terminated: the parsers take a length. */
	fuzz_page((const char *)data, size);
	fuzz_job((const char *)data, size);
	fuzz_depth_limits((const char *)data, size);
	return 0;
}
