/* Logging: level names, thresholds, the JOBSFS_LOG override, line format (src/log.c). */
#include "jobsfs/log.h"

#include "jobsfs/error.h"
#include "jobsfs/job.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Run fn with stderr sent to a temporary file; returns what it wrote (malloc'd). */
static char *capture_stderr(void (*fn)(void))
{
	FILE *tmp = tmpfile();
	ck_assert_ptr_nonnull(tmp);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(dup2(fileno(tmp), STDERR_FILENO), 0);
	fn();
	fflush(stderr);
	ck_assert_int_ge(dup2(saved, STDERR_FILENO), 0);
	close(saved);

	ck_assert_int_eq(fseek(tmp, 0, SEEK_END), 0);
	long size = ftell(tmp);
	ck_assert_int_ge(size, 0);
	rewind(tmp);
	char *text = malloc((size_t)size + 1);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(fread(text, 1, (size_t)size, tmp), (size_t)size);
	text[size] = '\0';
	fclose(tmp);
	return text;
}

START_TEST(level_names)
{
	ck_assert_int_eq(jfs_log_level_parse("err"), JFS_LOG_ERR);
	ck_assert_int_eq(jfs_log_level_parse("error"), JFS_LOG_ERR);
	ck_assert_int_eq(jfs_log_level_parse("warn"), JFS_LOG_WARN);
	ck_assert_int_eq(jfs_log_level_parse("warning"), JFS_LOG_WARN);
	ck_assert_int_eq(jfs_log_level_parse("info"), JFS_LOG_INFO);
	ck_assert_int_eq(jfs_log_level_parse("debug"), JFS_LOG_DEBUG);
	ck_assert_int_eq(jfs_log_level_parse("DEBUG"), -1);
	ck_assert_int_eq(jfs_log_level_parse("verbose"), -1);
	ck_assert_int_eq(jfs_log_level_parse(""), -1);
	ck_assert_int_eq(jfs_log_level_parse("debug "), -1);
	ck_assert_int_eq(jfs_log_level_parse(NULL), -1);
}
END_TEST

START_TEST(thresholds)
{
	unsetenv("JOBSFS_LOG");
	jfs_log_init("t", JFS_LOG_WARN, JFS_LOG_STDERR);
	ck_assert(jfs_log_enabled(JFS_LOG_ERR));
	ck_assert(jfs_log_enabled(JFS_LOG_WARN));
	ck_assert(!jfs_log_enabled(JFS_LOG_INFO));
	ck_assert(!jfs_log_enabled(JFS_LOG_DEBUG));
	jfs_log_set_level(JFS_LOG_DEBUG);
	ck_assert(jfs_log_enabled(JFS_LOG_DEBUG));
	jfs_log_set_level(JFS_LOG_ERR);
	ck_assert(jfs_log_enabled(JFS_LOG_ERR));
	ck_assert(!jfs_log_enabled(JFS_LOG_WARN));
}
END_TEST

START_TEST(env_override)
{
	/* JOBSFS_LOG beats the level the program asks for, both ways. */
	setenv("JOBSFS_LOG", "debug", 1);
	jfs_log_init("t", JFS_LOG_ERR, JFS_LOG_STDERR);
	ck_assert(jfs_log_enabled(JFS_LOG_DEBUG));
	setenv("JOBSFS_LOG", "err", 1);
	jfs_log_init("t", JFS_LOG_DEBUG, JFS_LOG_STDERR);
	ck_assert(jfs_log_enabled(JFS_LOG_ERR));
	ck_assert(!jfs_log_enabled(JFS_LOG_WARN));
	/* An unknown value is ignored: the program's level stands. */
	setenv("JOBSFS_LOG", "loud", 1);
	jfs_log_init("t", JFS_LOG_INFO, JFS_LOG_STDERR);
	ck_assert(jfs_log_enabled(JFS_LOG_INFO));
	ck_assert(!jfs_log_enabled(JFS_LOG_DEBUG));
	unsetenv("JOBSFS_LOG");
}
END_TEST

static void write_some_lines(void)
{
	jfs_err("disk %s", "gone");
	jfs_warn("careful: %d", 3);
	jfs_info("hidden at warn");
	jfs_debug("hidden too %d", 1);
}

START_TEST(line_format)
{
	unsetenv("JOBSFS_LOG");
	jfs_log_init("jobsfs-test", JFS_LOG_WARN, JFS_LOG_STDERR);
	char *out = capture_stderr(write_some_lines);
	ck_assert_str_eq(out, "jobsfs-test: error: disk gone\njobsfs-test: warning: careful: 3\n");
	free(out);
}
END_TEST

static void write_debug_line(void)
{
	jfs_debug("value %d", 42);
	jfs_info("note");
}

START_TEST(debug_has_location)
{
	setenv("JOBSFS_LOG", "debug", 1);
	jfs_log_init("x", JFS_LOG_WARN, JFS_LOG_STDERR);
	char *out = capture_stderr(write_debug_line);
	ck_assert_msg(strncmp(out, "x: debug: test_log.c:", 21) == 0, "got: %s", out);
	ck_assert_ptr_nonnull(strstr(out, " write_debug_line: value 42\n"));
	ck_assert_ptr_nonnull(strstr(out, "\nx: info: note\n"));
	free(out);
	unsetenv("JOBSFS_LOG");
}
END_TEST

static void write_long_line(void)
{
	char big[5000];
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	jfs_err("%s", big);
}

START_TEST(long_line_cut)
{
	unsetenv("JOBSFS_LOG");
	jfs_log_init("l", JFS_LOG_WARN, JFS_LOG_STDERR);
	char *out = capture_stderr(write_long_line);
	size_t len = strlen(out);
	ck_assert_uint_gt(len, 1000);
	ck_assert_uint_lt(len, 4999);
	ck_assert_int_eq(out[len - 1], '\n');
	ck_assert_ptr_eq(strchr(out, '\n'), out + len - 1); /* one line */
	free(out);
}
END_TEST

static void *log_from_thread(void *arg)
{
	for (int i = 0; i < 200; i++)
		jfs_warn("thread %ld line %d abcdefghijklmnopqrstuvwxyz", (long)(intptr_t)arg, i);
	return NULL;
}

static void write_from_threads(void)
{
	pthread_t t[4];
	for (long i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, log_from_thread, (void *)(intptr_t)i),
				 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
}

START_TEST(lines_stay_whole)
{
	unsetenv("JOBSFS_LOG");
	jfs_log_init("m", JFS_LOG_WARN, JFS_LOG_STDERR);
	char *out = capture_stderr(write_from_threads);
	int lines = 0;
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		long th;
		int n;
		char tail[64];
		ck_assert_msg(sscanf(line, "m: warning: thread %ld line %d %63s", &th, &n, tail) == 3,
			      "mangled line: %s", line);
		ck_assert_str_eq(tail, "abcdefghijklmnopqrstuvwxyz");
		lines++;
	}
	ck_assert_int_eq(lines, 800);
	free(out);
}
END_TEST

static void write_one_error(void)
{
	jfs_err("to the sink");
}

START_TEST(syslog_sink)
{
	/* On the syslog sink nothing reaches stderr; moving back restores it. */
	unsetenv("JOBSFS_LOG");
	jfs_log_init("jobsfs-test", JFS_LOG_WARN, JFS_LOG_SYSLOG);
	char *out = capture_stderr(write_one_error);
	ck_assert_str_eq(out, "");
	free(out);
	jfs_log_init(NULL, JFS_LOG_WARN, JFS_LOG_STDERR); /* NULL keeps the name */
	out = capture_stderr(write_one_error);
	ck_assert_str_eq(out, "jobsfs-test: error: to the sink\n");
	free(out);
}
END_TEST

static void write_error_log(void)
{
	struct jfs_error e;
	jfs_error_clear(&e);
	jfs_error_set_request(&e, "GET", "/api/cluster/jobs?state=foo");
	e.err = EINVAL;
	e.http_status = 400;
	snprintf(e.code, sizeof(e.code), "262197");
	snprintf(e.message, sizeof(e.message), "The value \"foo\" is invalid for field \"state\"");
	jfs_error_log(&e, "listing state=foo");
}

START_TEST(error_log_line)
{
	unsetenv("JOBSFS_LOG");
	jfs_log_init("jobsfs", JFS_LOG_ERR, JFS_LOG_STDERR);
	char *out = capture_stderr(write_error_log);
	ck_assert_str_eq(out, "jobsfs: error: listing state=foo: GET /api/cluster/jobs?state=foo: "
			      "Invalid argument (HTTP 400, ONTAP code 262197: The value \"foo\" is "
			      "invalid for field \"state\")\n");
	free(out);
}
END_TEST

/* Every control byte and ESC sequence in text from the cluster: as a %s of a line,
 * and as a job's uuid and start_time (job.c warns about a time it cannot read). */
static void write_hostile_lines(void)
{
	char hostile[64];
	size_t n = 0;
	for (int c = 1; c < 0x20; c++)
		hostile[n++] = (char)c;
	hostile[n++] = 0x7f;
	hostile[n] = '\0';
	jfs_log_init("jobsfs", JFS_LOG_DEBUG, JFS_LOG_STDERR);
	jfs_warn("job %s: one line", hostile);
	jfs_debug("next link %s", "/api/cluster/jobs?x\njobsfs: error: forged\x1b[2J\x1b]0;t\x07");

	static const char body[] =
		"{\"uuid\":\"1b9c1f1e-0000-0000-0000-00000000000a\\njobsfs: error: forged "
		"\\u001b[31mred\",\"state\":\"running\",\"start_time\":\"2026\\r\\n"
		"jobsfs: error: forged too\\u001b[0m\"}";
	struct jfs_job *job = NULL;
	struct jfs_error e;
	jfs_error_clear(&e);
	if (jfs_job_parse(body, sizeof(body) - 1, 16, &job, &e) == 0)
		jfs_job_unref(job);
	else
		jfs_error_log(&e, "parsing a hostile job");
	jfs_log_init("jobsfs", JFS_LOG_WARN, JFS_LOG_STDERR);
}

START_TEST(cluster_text_cannot_forge_lines)
{
	char *out = capture_stderr(write_hostile_lines);
	size_t lines = 0;
	for (const char *p = out; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '\n') {
			lines++;
			ck_assert_msg(strncmp(p + 1, "jobsfs: ", 8) == 0 || p[1] == '\0',
				      "a line that is not jobsfs's: %s", p + 1);
			continue;
		}
		ck_assert_msg(c >= 0x20 && c != 0x7f, "control byte 0x%02x in: %s", c, out);
	}
	/* The warning, the debug line, and at least the start_time's warning. */
	ck_assert_uint_ge(lines, 3);
	ck_assert_ptr_null(strstr(out, "\njobsfs: error: forged"));
	free(out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, level_names);
	tcase_add_test(tc, thresholds);
	tcase_add_test(tc, env_override);
	tcase_add_test(tc, line_format);
	tcase_add_test(tc, debug_has_location);
	tcase_add_test(tc, long_line_cut);
	tcase_add_test(tc, lines_stay_whole);
	tcase_add_test(tc, syslog_sink);
	tcase_add_test(tc, error_log_line);
	tcase_add_test(tc, cluster_text_cannot_forge_lines);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
