/* Property checks shared by the fuzz targets (see fuzz.h). */
#include "fuzz.h"

#include "jobsfs/error.h"
#include "jobsfs/job.h"
#include "jobsfs/log.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

void fuzz_quiet_log(void)
{
	/* jfs_log_init lets JOBSFS_LOG override the level, to watch a run by hand. */
	jfs_log_init("jobsfs-fuzz", JFS_LOG_ERR, JFS_LOG_STDERR);
}

char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s) {
		perror("fuzz: malloc");
		abort();
	}
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

bool fuzz_text_is_clean(const char *s, size_t size)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strnlen(s, size);

	if (len == size)
		return false; /* no NUL inside the field */
	for (size_t i = 0; i < len;) {
		unsigned char c = p[i];
		size_t n = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : (c & 0xF0) == 0xE0 ? 3
			 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
		if (n == 0 || i + n > len)
			return false;
		if (n == 1 && (c < 0x20 || c == 0x7f))
			return false;
		for (size_t k = 1; k < n; k++)
			if ((p[i + k] & 0xC0) != 0x80)
				return false;
		/* RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF. */
		if ((c == 0xE0 && p[i + 1] < 0xA0) || (c == 0xED && p[i + 1] > 0x9F) ||
		    (c == 0xF0 && p[i + 1] < 0x90) || (c == 0xF4 && p[i + 1] > 0x8F))
			return false;
		i += n;
	}
	return true;
}

void fuzz_check_file_name(const char *name)
{
	size_t len = strlen(name);
	FUZZ_CHECK(len > 0 && len <= NAME_MAX, "name of %zu bytes", len);
	FUZZ_CHECK(!strchr(name, '/'), "name \"%s\" holds a '/'", name);
	FUZZ_CHECK(strcmp(name, ".") != 0 && strcmp(name, "..") != 0, "name \"%s\"", name);
	char *raw = jfs_name_decode(name);
	FUZZ_CHECK(raw != NULL, "name \"%s\" is no encoding (errno %d)", name, errno);
	free(raw);
}

void fuzz_check_name_round_trip(const char *raw)
{
	size_t len = strlen(raw);
	errno = 0;
	char *name = jfs_name_encode(raw);
	if (!name) {
		FUZZ_CHECK(errno == ENAMETOOLONG || errno == ENOMEM, "encode failed, errno %d",
			   errno);
		/* Escapes at most triple a byte: a name of NAME_MAX / 3 bytes always fits. */
		FUZZ_CHECK(errno == ENOMEM || len > NAME_MAX / 3,
			   "a %zu-byte name called too long", len);
		return;
	}
	fuzz_check_file_name(name);
	FUZZ_CHECK(len > NAME_MAX || strlen(name) >= len, "encoding shorter than the name");
	char *back = jfs_name_decode(name);
	FUZZ_CHECK(back != NULL, "decode(encode(\"%s\")) failed", raw);
	FUZZ_CHECK(strcmp(back, raw) == 0, "decode(encode(\"%s\")) gave \"%s\" (via \"%s\")",
		   raw, back, name);
	free(back);
	free(name);

	/* The other way: whatever decodes re-encodes to a name decoding to the same
	 * bytes (the encoding itself may differ: "job%2Ejson" reads as "job.json"). */
	char *dec = jfs_name_decode(raw);
	if (dec) {
		FUZZ_CHECK(!strchr(raw, '/'), "decode accepted a raw '/' in \"%s\"", raw);
		char *again = jfs_name_encode(dec);
		if (again) {
			char *dec2 = jfs_name_decode(again);
			FUZZ_CHECK(dec2 && strcmp(dec2, dec) == 0,
				   "\"%s\" decodes to \"%s\", re-encoded \"%s\" does not", raw,
				   dec, again);
			free(dec2);
			free(again);
		}
		free(dec);
	} else {
		FUZZ_CHECK(errno == EINVAL || errno == ENOMEM, "decode failed, errno %d", errno);
	}
}

/* What file n shows, malloc'd and NUL-terminated (NULL only without memory). */
static char *content(const struct jfs_node *n)
{
	char *buf = malloc((size_t)n->size + 1);
	if (!buf)
		return NULL;
	ssize_t got = jfs_file_read(n, 0, buf, n->size);
	if (got == -ENOMEM) {
		free(buf);
		return NULL;
	}
	FUZZ_CHECK(got == (ssize_t)n->size, "file \"%s\": read %zd of %u bytes", jfs_node_name(n), got,
		   (unsigned)n->size);
	buf[got] = '\0';
	return buf;
}

static void check_node(const struct jfs_node *node, bool top, int depth)
{
	FUZZ_CHECK(depth < 10000, "tree deeper than any parse allows");
	if (!node->is_dir) {
		FUZZ_CHECK(jfs_node_data(node) != NULL, "file \"%s\" without data", jfs_node_name(node));
		char *text = content(node);
		FUZZ_CHECK(!text || (node->size >= 1 && text[node->size - 1] == '\n'),
			   "file \"%s\": %u bytes, not newline-terminated", jfs_node_name(node),
			   (unsigned)node->size);
		/* job.json is printed again at each read, to the size measured when the job
		 * was built: never cut, never padded. */
		FUZZ_CHECK(!text || !node->record || (node->size >= 2 && text[node->size - 2] == '}'),
			   "job.json printed to another length than its size (%u)",
			   (unsigned)node->size);
		free(text);
		return;
	}
	FUZZ_CHECK(node->nchildren == 0 || node->ref != 0, "children missing");
	bool has_record = false;
	for (size_t i = 0; i < node->nchildren; i++) {
		const struct jfs_node *c = &jfs_node_children(node)[i];
		fuzz_check_file_name(jfs_node_name(c));
		if (i > 0)
			FUZZ_CHECK(strcmp(jfs_node_name(&jfs_node_children(node)[i - 1]), jfs_node_name(c)) < 0,
				   "children \"%s\" and \"%s\" out of order or repeated",
				   jfs_node_name(&jfs_node_children(node)[i - 1]), jfs_node_name(c));
		FUZZ_CHECK(jfs_node_child(node, jfs_node_name(c)) == c, "jfs_node_child misses \"%s\"",
			   jfs_node_name(c));
		if (top && strcmp(jfs_node_name(c), "job.json") == 0) {
			has_record = true;
			FUZZ_CHECK(!c->is_dir, "job.json is a directory");
		}
		/* "_links" is never shown, at any level. */
		FUZZ_CHECK(strcmp(jfs_node_name(c), "_links") != 0, "_links in the tree");
		check_node(c, false, depth + 1);
	}
	if (top)
		FUZZ_CHECK(has_record, "job without job.json");
}

void fuzz_check_job(const struct jfs_job *job)
{
	FUZZ_CHECK(job->uuid && job->name, "job without uuid or name");
	char *name = jfs_name_encode(job->uuid);
	FUZZ_CHECK(name && strcmp(name, job->name) == 0, "job name \"%s\" is not encode(%s)",
		   job->name, job->uuid);
	free(name);
	FUZZ_CHECK(jfs_node_name(&job->root) == job->name || strcmp(jfs_node_name(&job->root), job->name) == 0,
		   "root node named \"%s\"", jfs_node_name(&job->root));
	FUZZ_CHECK(job->root.is_dir, "job root is a file");
	check_node(&job->root, true, 0);
	FUZZ_CHECK(job->refs == 1, "new job with %d references", job->refs);
	const char *state = jfs_job_state_name(job->state);
	FUZZ_CHECK(jfs_job_state_parse(state) == job->state, "state %d named \"%s\"",
		   (int)job->state, state);
	FUZZ_CHECK(jfs_job_is_terminal(job) ==
			   (job->state == JFS_JOB_SUCCESS || job->state == JFS_JOB_FAILURE),
		   "terminal");
	FUZZ_CHECK(jfs_job_mtime(job) == (job->end_time ? job->end_time : job->start_time),
		   "mtime");
	FUZZ_CHECK(jfs_node_lookup(&job->root, "") == &job->root, "lookup of \"\"");
	FUZZ_CHECK(jfs_node_lookup(&job->root, "job.json") ==
			   jfs_node_child(&job->root, "job.json"),
		   "lookup of job.json");
}

static void check_same_node(const struct jfs_node *a, const struct jfs_node *b)
{
	FUZZ_CHECK(strcmp(jfs_node_name(a), jfs_node_name(b)) == 0, "\"%s\" vs \"%s\"", jfs_node_name(a), jfs_node_name(b));
	FUZZ_CHECK(a->is_dir == b->is_dir, "\"%s\": a file one time, a directory the other",
		   jfs_node_name(a));
	if (!a->is_dir) {
		char *ta = content(a), *tb = content(b);
		FUZZ_CHECK(!ta || !tb || (a->size == b->size && memcmp(ta, tb, a->size) == 0),
			   "\"%s\": \"%.*s\" vs \"%.*s\"", jfs_node_name(a), (int)a->size, ta,
			   (int)b->size, tb);
		FUZZ_CHECK(!ta || !tb || jfs_file_same(a, b), "\"%s\": not the same file",
			   jfs_node_name(a));
		free(ta);
		free(tb);
		return;
	}
	FUZZ_CHECK(a->nchildren == b->nchildren, "\"%s\": %u vs %u children", jfs_node_name(a),
		   (unsigned)a->nchildren, (unsigned)b->nchildren);
	for (size_t i = 0; i < a->nchildren; i++)
		check_same_node(&jfs_node_children(a)[i], &jfs_node_children(b)[i]);
}

void fuzz_check_same_job(const struct jfs_job *a, const struct jfs_job *b)
{
	FUZZ_CHECK(strcmp(a->uuid, b->uuid) == 0, "uuid %s vs %s", a->uuid, b->uuid);
	FUZZ_CHECK(a->state == b->state, "state");
	FUZZ_CHECK(a->start_time == b->start_time && a->end_time == b->end_time, "times");
	check_same_node(&a->root, &b->root);
}

void fuzz_check_job_json_round_trip(const struct jfs_job *job, int max_depth)
{
	const struct jfs_node *record = jfs_node_child(&job->root, "job.json");
	struct jfs_job *again = NULL;
	struct jfs_error e;

	FUZZ_CHECK(record != NULL, "no job.json");
	/* Both forms: the compact text held, and job.json as a reader gets it. */
	const char *held = jfs_job_record(job);
	char *shown = content(record);
	if (!shown)
		return;
	const char *forms[] = { held, shown };
	for (size_t i = 0; i < 2; i++) {
		jfs_error_clear(&e);
		int rc = jfs_job_parse(forms[i], strlen(forms[i]), max_depth, &again, &e);
		if (rc == -ENOMEM)
			break;
		FUZZ_CHECK(rc == 0, "job.json of %s (%s) does not parse back: %s", job->uuid,
			   i ? "as shown" : "as held", e.message);
		fuzz_check_job(again);
		fuzz_check_same_job(job, again);
		FUZZ_CHECK(strcmp(jfs_job_record(again), held) == 0,
			   "job %s: its record is not written the same way twice", job->uuid);
		jfs_job_unref(again);
	}
	free(shown);
}
