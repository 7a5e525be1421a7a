/* The fleet config (src/fleet.c): what a good file gives, and every refusal with its
 * file and line. Each case writes its file in a temporary folder. */
#include "jobsfs/fleet.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_helpers.h"

static char dir[] = "/tmp/jobsfs-fleet-XXXXXX";
static char path[64];

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fleet.conf", dir);
}

static void teardown(void)
{
	unlink(path);
	rmdir(dir);
	strcpy(dir, "/tmp/jobsfs-fleet-XXXXXX");
}

static void write_config(const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
}

static struct jfs_fleet *read_ok(const char *text)
{
	struct jfs_fleet *f = NULL;
	char msg[512] = "";
	write_config(text, 0600);
	int rc = jfs_fleet_read(path, &f, msg, sizeof(msg));
	ck_assert_msg(rc == 0, "refused: %s", msg);
	return f;
}

/* Refused, with this errno and this message after "PATH:" */
static void refused(const char *text, mode_t mode, int err, const char *says)
{
	struct jfs_fleet *f = NULL;
	char msg[512] = "";
	write_config(text, mode);
	int rc = jfs_fleet_read(path, &f, msg, sizeof(msg));
	ck_assert_msg(rc == -err, "%d (%s), wanted %d for:\n%s", rc, msg, -err, text);
	ck_assert_ptr_null(f);
	char want[600];
	snprintf(want, sizeof(want), "%s:%s", path, says);
	ck_assert_msg(strncmp(msg, want, strlen(want)) == 0, "said \"%s\", wanted \"%s...\"", msg,
		      want);
}

static const char *value(const struct jfs_fleet_cluster *c, const char *key, int *line)
{
	const struct jfs_fleet_setting *s = jfs_fleet_get(c, key);
	if (line)
		*line = s ? s->line : 0;
	return s ? s->value : NULL;
}

START_TEST(good_file)
{
	struct jfs_fleet *f = read_ok("; the fleet\n"
				      "[defaults]\n"
				      "username = monitor\n"
				      "cacert = /etc/ssl/ca.pem\n"
				      "ttl = 2\n"
				      "\n"
				      "[cluster1]\n"
				      "url = https://cluster1.example.com\n"
				      "password_file = /etc/jobsfs/c1.pass   ; inline comment\n"
				      "[lab-2_x]\n"
				      "url = https://10.0.0.5:8443\n"
				      "ttl = 5\n"
				      "control = true\n");
	ck_assert_uint_eq(f->n, 2);
	ck_assert_str_eq(f->clusters[0].name, "cluster1");
	ck_assert_int_eq(f->clusters[0].line, 7);
	int line;
	ck_assert_str_eq(value(&f->clusters[0], "url", &line), "https://cluster1.example.com");
	ck_assert_int_eq(line, 8);
	ck_assert_str_eq(value(&f->clusters[0], "username", &line), "monitor");
	ck_assert_int_eq(line, 3); /* inherited: where [defaults] says it */
	ck_assert_str_eq(value(&f->clusters[0], "password_file", NULL), "/etc/jobsfs/c1.pass");
	ck_assert_str_eq(value(&f->clusters[0], "ttl", NULL), "2");
	ck_assert_str_eq(f->clusters[1].name, "lab-2_x");
	ck_assert_str_eq(value(&f->clusters[1], "ttl", &line), "5"); /* its own wins */
	ck_assert_int_eq(line, 12);
	ck_assert_str_eq(value(&f->clusters[1], "cacert", NULL), "/etc/ssl/ca.pem");
	ck_assert_str_eq(value(&f->clusters[1], "control", NULL), "true");
	ck_assert_ptr_null(value(&f->clusters[1], "password_file", NULL));
	jfs_fleet_free(f);
}
END_TEST

START_TEST(every_refusal_with_its_line)
{
	refused("[a]\nurl = https://a\nfoo = 1\n", 0600, EINVAL, "3: unknown key \"foo\" in [a]");
	refused("[a]\nurl = https://a\npassword = secret\n", 0600, EINVAL,
		"3: no password in the config");
	refused("[a]\nurl = https://a\n[b]\nttl = 2\n", 0600, EINVAL, "3: [b] has no url");
	refused("[a]\n[b]\nurl = https://b\n", 0600, EINVAL, "1: [a] has no url");
	refused("[a]\nurl = https://a\n[a]\nurl = https://b\n", 0600, EINVAL,
		"3: [a] a second time (line 1)");
	refused("[a]\nurl = https://a\n[b]\nurl=https://b\n[a]\n", 0600, EINVAL,
		"5: [a] a second time (line 1)");
	refused("[a]\nurl = https://a\nurl = https://b\n", 0600, EINVAL,
		"3: url given twice in [a] (line 2)");
	refused("[defaults]\nurl = https://a\n[a]\nurl = https://a\n", 0600, EINVAL,
		"2: url in [defaults]");
	refused("[a]\nurl = https://a\n[defaults]\nttl = 1\n", 0600, EINVAL,
		"3: [defaults] after a cluster's section");
	refused("[..]\nurl = https://a\n", 0600, EINVAL, "1: [..]: a name starting with '.'");
	refused("[.history]\nurl = https://a\n", 0600, EINVAL, "1: [.history]");
	refused("[a/b]\nurl = https://a\n", 0600, EINVAL, "1: [a/b]: not a safe file name");
	refused("[state=failure]\nurl = https://a\n", 0600, EINVAL, "1: [state=failure]");
	refused("url = https://a\n", 0600, EINVAL, "1: url = ... before any [section]");
	refused("[a]\nurl = https://a\nthis is not ini\n", 0600, EINVAL, "3: not \"[name]\"");
	refused("[a\nurl = https://a\n", 0600, EINVAL, "1: not \"[name]\"");
	refused("; nothing\n[defaults]\nttl = 1\n", 0600, EINVAL, " no cluster");
	refused("", 0600, EINVAL, " no cluster");
	char longline[400];
	snprintf(longline, sizeof(longline), "[a]\nurl = https://a\ncacert = /%0300d\n", 0);
	refused(longline, 0600, EINVAL, "3: line longer than");
	/* The file itself. */
	refused("[a]\nurl = https://a\n", 0620, EPERM, " group or others may write it");
	refused("[a]\nurl = https://a\n", 0602, EPERM, " group or others may write it");
	struct jfs_fleet *f = NULL;
	char msg[512];
	ck_assert_int_eq(jfs_fleet_read("/nonexistent/fleet.conf", &f, msg, sizeof(msg)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(msg, "/nonexistent/fleet.conf: cannot read it"));
	ck_assert_int_eq(jfs_fleet_read(dir, &f, msg, sizeof(msg)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(msg, "not a regular file"));
}
END_TEST

START_TEST(readable_by_others_is_fine)
{
	write_config("[a]\nurl = https://a\n", 0644); /* it holds no secret */
	struct jfs_fleet *f = NULL;
	char msg[512] = "";
	ck_assert_int_eq(jfs_fleet_read(path, &f, msg, sizeof(msg)), 0);
	jfs_fleet_free(f);
}
END_TEST

START_TEST(is_config)
{
	ck_assert(!jfs_fleet_is_config("https://cluster1"));
	ck_assert(!jfs_fleet_is_config("http://127.0.0.1:8080"));
	ck_assert(jfs_fleet_is_config("/etc/jobsfs/fleet.conf"));
	ck_assert(jfs_fleet_is_config("fleet.conf"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fleet");
	TCase *tc = tcase_create("config");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, good_file);
	tcase_add_test(tc, every_refusal_with_its_line);
	tcase_add_test(tc, readable_by_others_is_fine);
	tcase_add_test(tc, is_config);
	suite_add_tcase(s, tc);
	return run_suite(s, true);
}
