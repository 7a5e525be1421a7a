/* Secrets from files and the environment (src/credentials.c), with real files in a
 * private temporary directory. */
#include "jobsfs/credentials.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobsfs/error.h"

static char dir[64];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/jobsfs-cred-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Write len bytes to dir/name with the given mode (set after creation: no umask). */
static const char *put(const char *name, const void *data, size_t len, mode_t mode)
{
	static char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static const char *put_str(const char *name, const char *data, mode_t mode)
{
	return put(name, data, strlen(data), mode);
}

START_TEST(owner_only_files_are_read)
{
	static const mode_t ok[] = { 0600, 0400, 0700 };
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct jfs_error e = { 0 };
		char *secret = NULL;
		const char *path = put_str("pw", "s3cr3t\n", ok[i]);
		ck_assert_int_eq(jfs_secret_read_file(path, &secret, &e), 0);
		ck_assert_str_eq(secret, "s3cr3t");
		jfs_secret_free(secret);
	}
}
END_TEST

START_TEST(group_or_other_bits_refused)
{
	static const mode_t bad[] = { 0644, 0640, 0604, 0620, 0602, 0610, 0601, 0666, 0660 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct jfs_error e = { 0 };
		char *secret = (char *)"untouched";
		char mode[16];
		const char *path = put_str("pw", "s3cr3t\n", bad[i]);
		ck_assert_int_eq(jfs_secret_read_file(path, &secret, &e), -EACCES);
		ck_assert_ptr_null(secret);
		ck_assert_int_eq(e.err, EACCES);
		snprintf(mode, sizeof(mode), "(mode %04o)", (unsigned)bad[i]);
		ck_assert_msg(strstr(e.message, mode), "message: %s", e.message);
		ck_assert_msg(strstr(e.message, path), "message: %s", e.message);
		ck_assert_msg(strstr(e.message, "chmod 600"), "message: %s", e.message);
		ck_assert_msg(!strstr(e.message, "s3cr3t"), "the secret leaked: %s", e.message);
	}
	/* The exact wording for the common case. */
	struct jfs_error e = { 0 };
	char *secret = NULL, want[256];
	const char *path = put_str("pw", "x\n", 0644);
	ck_assert_int_eq(jfs_secret_read_file(path, &secret, &e), -EACCES);
	snprintf(want, sizeof(want),
		 "password file %s is readable by group or others (mode 0644): chmod 600 it", path);
	ck_assert_str_eq(e.message, want);
}
END_TEST

START_TEST(symlink_checks_the_target)
{
	struct jfs_error e = { 0 };
	char *secret = NULL, link[160], target[128];
	snprintf(target, sizeof(target), "%s", put_str("open", "s3cr3t\n", 0644));
	snprintf(link, sizeof(link), "%s/link", dir);
	ck_assert_int_eq(symlink(target, link), 0);
	ck_assert_int_eq(jfs_secret_read_file(link, &secret, &e), -EACCES);
	ck_assert_ptr_null(secret);
}
END_TEST

START_TEST(not_a_regular_file)
{
	struct jfs_error e = { 0 };
	char *secret = NULL, fifo[128];

	ck_assert_int_eq(chmod(dir, 0700), 0);
	ck_assert_int_eq(jfs_secret_read_file(dir, &secret, &e), -EINVAL);
	ck_assert_ptr_nonnull(strstr(e.message, "not a regular file"));

	/* A FIFO with no writer must be refused, not block the open or the read. */
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_eq(jfs_secret_read_file(fifo, &secret, &e), -EINVAL);
	ck_assert_ptr_null(secret);

	ck_assert_int_eq(jfs_secret_read_file("/dev/null", &secret, &e), -EINVAL);
}
END_TEST

START_TEST(missing_file)
{
	struct jfs_error e = { 0 };
	char *secret = NULL, path[128];
	snprintf(path, sizeof(path), "%s/absent", dir);
	ck_assert_int_eq(jfs_secret_read_file(path, &secret, &e), -ENOENT);
	ck_assert_int_eq(e.err, ENOENT);
	ck_assert_ptr_nonnull(strstr(e.message, path));
}
END_TEST

START_TEST(first_line_only)
{
	static const struct {
		const char *content, *secret;
	} cases[] = {
		{ "pw\n", "pw" },
		{ "pw", "pw" },
		{ "pw\r\n", "pw" },
		{ "pw\r\nsecond line\n", "pw" },
		{ "with spaces and ' \" \\ chars  \nnext", "with spaces and ' \" \\ chars  " },
		{ "tok.en-_=+/\n\n\n", "tok.en-_=+/" },
		{ "caf\xc3\xa9\n", "caf\xc3\xa9" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct jfs_error e = { 0 };
		char *secret = NULL;
		const char *path = put_str("pw", cases[i].content, 0600);
		ck_assert_int_eq(jfs_secret_read_file(path, &secret, &e), 0);
		ck_assert_str_eq(secret, cases[i].secret);
		jfs_secret_free(secret);
	}
}
END_TEST

START_TEST(empty_refused)
{
	static const char *const empty[] = { "", "\n", "\r\n", "\nsecond line\n" };
	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		struct jfs_error e = { 0 };
		char *secret = NULL;
		const char *path = put_str("pw", empty[i], 0600);
		ck_assert_int_eq(jfs_secret_read_file(path, &secret, &e), -EINVAL);
		ck_assert_ptr_null(secret);
		ck_assert_ptr_nonnull(strstr(e.message, "empty"));
	}
}
END_TEST

START_TEST(nul_byte_refused)
{
	struct jfs_error e = { 0 };
	char *secret = NULL;
	const char *path = put("pw", "ab\0cd\n", 6, 0600);
	ck_assert_int_eq(jfs_secret_read_file(path, &secret, &e), -EINVAL);
	ck_assert_ptr_null(secret);
}
END_TEST

START_TEST(size_cap)
{
	struct jfs_error e = { 0 };
	char *secret = NULL;
	size_t len = JFS_SECRET_FILE_MAX + 1;
	char *big = malloc(len);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', len);

	const char *path = put("big", big, len, 0600);
	ck_assert_int_eq(jfs_secret_read_file(path, &secret, &e), -EFBIG);
	ck_assert_ptr_null(secret);

	/* Exactly at the cap is accepted: one line of JFS_SECRET_FILE_MAX bytes. */
	path = put("max", big, len - 1, 0600);
	ck_assert_int_eq(jfs_secret_read_file(path, &secret, &e), 0);
	ck_assert_uint_eq(strlen(secret), len - 1);
	jfs_secret_free(secret);
	free(big);
}
END_TEST

START_TEST(token_file_named_in_messages)
{
	struct jfs_error e = { 0 };
	char *secret = NULL;
	const char *path = put_str("tok", "eyJhbGciOi\n", 0640);
	ck_assert_int_eq(jfs_secret_read_file_as("token file", path, &secret, &e), -EACCES);
	ck_assert_msg(strncmp(e.message, "token file ", 11) == 0, "message: %s", e.message);
}
END_TEST

START_TEST(wipe_zeroes_every_byte)
{
	char *s = strdup("hunter2-and-more");
	size_t len = strlen(s);
	ck_assert_ptr_nonnull(s);
	jfs_secret_wipe(s);
	for (size_t i = 0; i < len; i++)
		ck_assert_int_eq(s[i], 0);
	free(s);
	jfs_secret_wipe(NULL);
	jfs_secret_free(NULL);
}
END_TEST

START_TEST(password_from_environment)
{
	ck_assert_int_eq(unsetenv("JOBSFS_PASSWORD"), 0);
	ck_assert_ptr_null(jfs_password_from_env());
	ck_assert_int_eq(setenv("JOBSFS_PASSWORD", "", 1), 0);
	ck_assert_ptr_null(jfs_password_from_env());
	ck_assert_int_eq(setenv("JOBSFS_PASSWORD", "p@ss word", 1), 0);
	ck_assert_str_eq(jfs_password_from_env(), "p@ss word");
	unsetenv("JOBSFS_PASSWORD");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("credentials");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, make_dir, remove_dir);
	tcase_add_test(tc, owner_only_files_are_read);
	tcase_add_test(tc, group_or_other_bits_refused);
	tcase_add_test(tc, symlink_checks_the_target);
	tcase_add_test(tc, not_a_regular_file);
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, first_line_only);
	tcase_add_test(tc, empty_refused);
	tcase_add_test(tc, nul_byte_refused);
	tcase_add_test(tc, size_cap);
	tcase_add_test(tc, token_file_named_in_messages);
	tcase_add_test(tc, wipe_zeroes_every_byte);
	tcase_add_test(tc, password_from_environment);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
