/* The inode table's parts that the keeper uses when jobs expire or change: every
 * inode of those jobs in one pass, and the directories that list them, each once. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../fs/inode.h"
#include "../../fs/mount.h"

static struct jfs_cluster cluster; /* the one cluster the table's root shows */
#include "jobsfs/query.h"

#define VIEWS 3
#define JOBS 200

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The root and VIEWS views, each listing JOBS jobs, each job with a node "svm"; the
 * keeper is told that every odd job changed. */
START_TEST(test_refs_dirs_each_listing_once)
{
	struct jfs_inodes *t;
	ck_assert_int_eq(jfs_inodes_new(&cluster, &t), 0);
	struct jfs_inode *root = jfs_inodes_get(t, FUSE_ROOT_ID), *dirs[VIEWS + 1];
	dirs[0] = root;
	for (int v = 1; v <= VIEWS; v++) {
		char name[32];
		snprintf(name, sizeof(name), "state=v%d", v);
		ck_assert_int_eq(jfs_inodes_link(t, root, name, JFS_INODE_VIEW, NULL,
						 jfs_query_new(), &dirs[v]),
				 0);
	}
	char *uuids[JOBS];
	size_t n = 0;
	for (int j = 0; j < JOBS; j++) {
		char uuid[40];
		snprintf(uuid, sizeof(uuid), "%08d-0000-0000-0000-000000000000", j);
		for (int v = 0; v <= VIEWS; v++) {
			struct jfs_inode *job, *node;
			ck_assert_int_eq(jfs_inodes_link(t, dirs[v], uuid, JFS_INODE_JOB, uuid, NULL,
							 &job),
					 0);
			ck_assert_int_eq(jfs_inodes_link(t, job, "svm", JFS_INODE_NODE, NULL, NULL,
							 &node),
					 0);
		}
		if (j % 2)
			ck_assert_ptr_nonnull(uuids[n++] = strdup(uuid));
	}
	qsort(uuids, n, sizeof(*uuids), cmp_str);

	struct jfs_inode_ref *refs;
	long nrefs = jfs_inodes_of_jobs(t, uuids, n, &refs);
	/* Each changed job: its directory and its node, in the root and every view. */
	ck_assert_int_eq(nrefs, (long)(n * (VIEWS + 1) * 2));
	long listed = 0;
	for (long i = 0; i < nrefs; i++)
		listed += refs[i].listed;
	ck_assert_int_eq(listed, (long)(n * (VIEWS + 1)));

	fuse_ino_t *out;
	long ndirs = jfs_inode_refs_dirs(refs, (size_t)nrefs, &out);
	ck_assert_int_eq(ndirs, VIEWS + 1);
	for (int v = 0; v <= VIEWS; v++) {
		int seen = 0;
		for (long i = 0; i < ndirs; i++)
			seen += out[i] == dirs[v]->ino;
		ck_assert_int_eq(seen, 1);
	}
	for (long i = 1; i < ndirs; i++)
		ck_assert(out[i - 1] < out[i]);
	free(out);
	jfs_inode_refs_free(refs, (size_t)nrefs);

	/* Nothing listed: no directory, nothing allocated. */
	struct jfs_inode_ref file = { .parent = 5, .ino = 6, .listed = false, .file = true };
	ck_assert_int_eq(jfs_inode_refs_dirs(&file, 1, &out), 0);
	ck_assert_ptr_null(out);

	for (size_t i = 0; i < n; i++)
		free(uuids[i]);
	jfs_inodes_free(t);
}
END_TEST

static Suite *inode_suite(void)
{
	Suite *s = suite_create("inode");
	TCase *tc = tcase_create("keeper");
	tcase_add_test(tc, test_refs_dirs_each_listing_once);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(inode_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
