/* main() for a fuzz target built without libFuzzer: run every file named on the
 * command line, or found in a directory named there, through LLVMFuzzerTestOneInput
 * once. meson runs this over each target's seed corpus (suite "fuzz"), so the seeds
 * and every regression input are replayed by each gcc and sanitizer test run.
 *
 * A broken property aborts (FUZZ_CHECK) and a sanitizer report ends the process, so
 * a failure is the exit status; the input that caused it was the last one named on
 * stderr. Exits 0 when every input ran, 1 when an input could not be read, 77 (the
 * meson skip code) when no input was found at all. */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Read the whole file at path; NULL (with a message) when it cannot be read. */
static uint8_t *read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? 2 * cap : 4096;
			uint8_t *p = realloc(buf, cap);
			if (!p) {
				fprintf(stderr, "replay: %s: out of memory\n", path);
				goto fail;
			}
			buf = p;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		goto fail;
	}
	fclose(f);
	*size = len;
	return buf;
fail:
	free(buf);
	fclose(f);
	return NULL;
}

/* Run one file; returns 0, or -1 when it could not be read. */
static int run_file(const char *path)
{
	size_t size;
	uint8_t *data = read_file(path, &size);
	if (!data)
		return -1;
	fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
	/* A copy of exactly size bytes, so ASan sees a read one past the input. */
	uint8_t *exact = malloc(size ? size : 1);
	if (!exact) {
		free(data);
		fprintf(stderr, "replay: %s: out of memory\n", path);
		return -1;
	}
	if (size)
		memcpy(exact, data, size);
	free(data);
	LLVMFuzzerTestOneInput(exact, size);
	free(exact);
	return 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run the regular files of dir, in name order (a stable replay). Returns the number
 * run, or -1 on a read error. */
static long run_dir(const char *dir)
{
	DIR *d = opendir(dir);
	char **names = NULL;
	size_t n = 0, cap = 0;
	long ran = 0;
	struct dirent *de;

	if (!d) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			char **p = realloc(names, cap * sizeof(*names));
			if (!p)
				goto enomem;
			names = p;
		}
		size_t len = strlen(dir) + 1 + strlen(de->d_name) + 1;
		if (!(names[n] = malloc(len)))
			goto enomem;
		snprintf(names[n++], len, "%s/%s", dir, de->d_name);
	}
	closedir(d);
	d = NULL;
	if (n > 0)
		qsort(names, n, sizeof(*names), compare_names);
	for (size_t i = 0; i < n && ran >= 0; i++) {
		struct stat st;
		if (stat(names[i], &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		ran = run_file(names[i]) == 0 ? ran + 1 : -1;
	}
	goto out;
enomem:
	fprintf(stderr, "replay: %s: out of memory\n", dir);
	ran = -1;
out:
	if (d)
		closedir(d);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ran;
}

int main(int argc, char **argv)
{
	long total = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (argv[i][0] == '-')
			continue; /* a libFuzzer flag: meaningless for a replay */
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		long ran = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i]) == 0 ? 1 : -1;
		if (ran < 0)
			return 1;
		total += ran;
	}
	if (total == 0) {
		fprintf(stderr, "replay: no input found\n");
		return 77;
	}
	fprintf(stderr, "replay: %ld inputs, every property held\n", total);
	return 0;
}
