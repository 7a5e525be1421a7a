/* The keeper's work when many jobs expire at once, without the FUSE notifications
 * themselves: find every inode of the expired jobs (jfs_inodes_of_jobs) and the
 * directories that list them, each once (jfs_inode_refs_dirs). The table is what a
 * cold `find` leaves: the root listing N jobs, each job directory with FILES entries.
 *
 *     build/tests/bench/keeper_bench [--old] [--views] [N...]
 *
 * (default N: 1000 10000 100000). --views also lists each job in a view of its own
 * (`uuid=<uuid>/`, as scripts that stat a job through a view leave), so that the
 * expired jobs are listed by N + 1 directories.
 *
 * --old also times the scan the keeper made before issue 11 (for each job directory,
 * every earlier entry: quadratic), kept here only as the reference the figures are
 * compared with. Prints one line per N. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inode.h"
#include "mount.h"

static struct jfs_cluster cluster; /* the one cluster the table's root shows */
#include "jobsfs/query.h"

#define FILES 13 /* entries of a job directory (fields and job.json) */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The keeper's dedupe before issue 11, for reference. */
static long old_dirs(const struct jfs_inode_ref *refs, long nrefs)
{
	long ndirs = 0;
	for (long i = 0; i < nrefs; i++) {
		if (!refs[i].listed)
			continue;
		bool seen = false;
		for (long j = 0; j < i && !seen; j++)
			seen = refs[j].listed && refs[j].parent == refs[i].parent;
		ndirs += !seen;
	}
	return ndirs;
}

static int run(size_t n, bool old, bool views)
{
	struct jfs_inodes *t;
	char **uuids = calloc(n, sizeof(*uuids));
	if (!uuids || jfs_inodes_new(&cluster, &t) != 0)
		return -1;
	struct jfs_inode *root = jfs_inodes_get(t, FUSE_ROOT_ID);
	for (size_t j = 0; j < n; j++) {
		char uuid[40], name[16];
		struct jfs_inode *job, *child;
		snprintf(uuid, sizeof(uuid), "%08zx-1111-2222-3333-444444444444", j * 2654435761u);
		if (!(uuids[j] = strdup(uuid)) ||
		    jfs_inodes_link(t, root, uuid, JFS_INODE_JOB, uuid, NULL, &job) != 0)
			return -1;
		for (int f = 0; f < FILES; f++) {
			snprintf(name, sizeof(name), "field%d", f);
			if (jfs_inodes_link(t, job, name, JFS_INODE_NODE, NULL, NULL, &child) != 0)
				return -1;
		}
		if (views) {
			char view_name[64];
			struct jfs_inode *view;
			snprintf(view_name, sizeof(view_name), "uuid=%s", uuid);
			if (jfs_inodes_link(t, root, view_name, JFS_INODE_VIEW, NULL,
					    jfs_query_new(), &view) != 0 ||
			    jfs_inodes_link(t, view, uuid, JFS_INODE_JOB, uuid, NULL, &job) != 0)
				return -1;
		}
	}
	qsort(uuids, n, sizeof(*uuids), cmp_str);

	double t0 = now_s();
	struct jfs_inode_ref *refs;
	long nrefs = jfs_inodes_of_jobs(t, uuids, n, &refs);
	double t1 = now_s();
	fuse_ino_t *dirs;
	long ndirs = jfs_inode_refs_dirs(refs, (size_t)nrefs, &dirs);
	double t2 = now_s();
	printf("%7zu jobs expiring, %8zu inodes: refs %7.1f ms, listing dirs (sort) %6.2f ms "
	       "(%ld dir)",
	       n, jfs_inodes_count(t), (t1 - t0) * 1e3, (t2 - t1) * 1e3, ndirs);
	if (old) {
		double t3 = now_s();
		long old_n = old_dirs(refs, nrefs);
		printf(", old scan %.1f ms (%ld dir)", (now_s() - t3) * 1e3, old_n);
	}
	printf("\n");
	fflush(stdout);
	free(dirs);
	jfs_inode_refs_free(refs, (size_t)nrefs);
	for (size_t j = 0; j < n; j++)
		free(uuids[j]);
	free(uuids);
	jfs_inodes_free(t);
	return 0;
}

int main(int argc, char **argv)
{
	bool old = false, views = false;
	size_t sizes[16], nsizes = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--old") == 0)
			old = true;
		else if (strcmp(argv[i], "--views") == 0)
			views = true;
		else if (nsizes < 16)
			sizes[nsizes++] = strtoul(argv[i], NULL, 10);
	}
	if (nsizes == 0) {
		sizes[0] = 1000;
		sizes[1] = 10000;
		sizes[2] = 100000;
		nsizes = 3;
	}
	for (size_t i = 0; i < nsizes; i++)
		if (run(sizes[i], old, views) != 0) {
			fprintf(stderr, "keeper_bench: out of memory\n");
			return 1;
		}
	return 0;
}
