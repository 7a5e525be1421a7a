/* The job model (see include/jobsfs/job.h).
 *
 * Memory is the point of this file: a mount may hold 100,000 jobs, so a job is ONE
 * allocation. A first pass over the record measures it (nodes and string bytes), a
 * second fills a block laid out as
 *
 *     struct jfs_job | struct jfs_node[nodes] | names, values, uuid, job.json text
 *
 * Both passes run the same code (struct builder's `measure` flag says which), so they
 * cannot disagree; the fill pass checks that it used exactly what was measured. A job
 * is immutable once built and freed whole when its last reference goes. */
#include "jobsfs/job.h"

#include "jobsfs/error.h"
#include "jobsfs/isotime.h"
#include "jobsfs/log.h"
#include "jobsfs/page.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define JOB_JSON "job.json"
/* job.json's form: pretty-printed, and '/' as it is (not "\/"). */
#define RECORD_PRETTY (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE)
#define LINKS "_links"

/* ---- names ------------------------------------------------------------------------ */

static bool needs_escape(unsigned char c)
{
	return c == '%' || c == '/' || c < 0x20 || c == 0x7f;
}

/* Encode raw into out (NAME_MAX + 1 bytes, or NULL to only measure). Returns the
 * length, or -1 when it would exceed NAME_MAX. */
static ssize_t encode_name(const char *raw, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *special = NULL;
	size_t n = 0;

	if (raw[0] == '\0')
		special = "%";
	else if (strcmp(raw, ".") == 0)
		special = "%2E";
	else if (strcmp(raw, "..") == 0)
		special = "%2E%2E";
	if (special) {
		if (out)
			strcpy(out, special);
		return (ssize_t)strlen(special);
	}
	for (const unsigned char *p = (const unsigned char *)raw; *p; p++) {
		size_t w = needs_escape(*p) ? 3 : 1;
		if (n + w > NAME_MAX)
			return -1;
		if (out) {
			if (w == 3) {
				out[n] = '%';
				out[n + 1] = hex[*p >> 4];
				out[n + 2] = hex[*p & 0xf];
			} else {
				out[n] = (char)*p;
			}
		}
		n += w;
	}
	if (out)
		out[n] = '\0';
	return (ssize_t)n;
}

char *jfs_name_encode(const char *raw)
{
	char buf[NAME_MAX + 1];
	if (encode_name(raw, buf) < 0) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	return strdup(buf);
}

static int upper_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *jfs_name_decode(const char *name)
{
	size_t len = strlen(name);
	if (strcmp(name, "%") == 0)
		return strdup("");
	char *out = malloc(len + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '%') {
			int hi = i + 2 < len ? upper_hex_value(name[i + 1]) : -1;
			int lo = hi >= 0 ? upper_hex_value(name[i + 2]) : -1;
			if (lo < 0)
				goto invalid;
			unsigned char d = (unsigned char)(hi << 4 | lo);
			/* Only bytes an encoding escapes: '%', '/', '.', control bytes. */
			if (d == '\0' || !(needs_escape(d) || d == '.'))
				goto invalid;
			out[o++] = (char)d;
			i += 2;
		} else if (needs_escape(c)) {
			goto invalid; /* a raw '/' or control byte is no encoding */
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	if (o == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0) {
		/* "" , "." and ".." are encoded whole ("%", "%2E", "%2E%2E"); a bare "."
		 * or ".." is a directory entry, not an encoding. */
		if (strcmp(name, "%2E") != 0 && strcmp(name, "%2E%2E") != 0)
			goto invalid;
	}
	return out;
invalid:
	free(out);
	errno = EINVAL;
	return NULL;
}

/* ---- the two-pass builder --------------------------------------------------------- */

struct builder {
	bool measure;		 /* first pass: count only, write nothing */
	const char *uuid;	 /* for log lines */
	size_t nodes;		 /* measure: nodes counted; fill: nodes handed out */
	size_t json;		 /* measure: bytes of the record's text; fill: written */
	size_t bytes;		 /* measure: string bytes counted; fill: bytes used */
	size_t record_size;	 /* what job.json shows: the record pretty-printed, and a
				  * newline */
	unsigned depth, max_depth; /* of objects and arrays, to parse the text again */
	char *base;		 /* fill: the job's block */
	struct jfs_node *node_base; /* fill: the node area of the block */
	char *json_base;	 /* fill: the record's text, compact */
	char *char_base;	 /* fill: the string area (what the text cannot hold) */
};

/* Take n consecutive nodes (NULL when measuring or n == 0). */
static struct jfs_node *take_nodes(struct builder *b, size_t n)
{
	struct jfs_node *p = b->measure || n == 0 ? NULL : b->node_base + b->nodes;
	b->nodes += n;
	return p;
}

/* Place len bytes (plus a newline when asked) and a NUL in the string area. */
static char *put_text(struct builder *b, const char *s, size_t len, bool newline)
{
	char *p = b->measure ? NULL : b->char_base + b->bytes;
	if (p) {
		memcpy(p, s, len);
		if (newline)
			p[len] = '\n';
		p[len + newline] = '\0';
	}
	b->bytes += len + newline + 1;
	return p;
}

/* Top-level names a job directory gives to files of its own (the record; the wait
 * and ctl files of the filesystem): a field of the same name is shown with one byte
 * escaped, an escape jfs_name_encode never makes, so it can be no other field's. */
static const struct {
	const char *raw, *shown;
} reserved[] = {
	{ JOB_JSON, "job%2Ejson" },
	{ "wait", "%77ait" },
	{ "ctl", "%63tl" },
};

/* Field names the API documents (cluster-jobs-api-reference.txt) and the first array
 * indexes: a job names them through these constants instead of a copy of its own, which
 * is 50 to 80 bytes a job in a mount of a million. */
const char *const jfs_node_common_names[] = {
	"0",	      "1",	     "2",	 "3",	  "4",	      "5",    "6",
	"7",	      "8",	     "9",	 "arguments", "code",    "description",
	"end_time",   "error",	     "message",	 "name",      "node",    "start_time",
	"state",      "svm",	     "target",	 "uuid",      JOB_JSON,
};

#define COMMON_NAMES (sizeof(jfs_node_common_names) / sizeof(jfs_node_common_names[0]))

/* The shared constant spelled as name[0..len), or NULL. */
static const char *common_name(const char *name, size_t len)
{
	for (size_t i = 0; i < COMMON_NAMES; i++)
		if (strncmp(jfs_node_common_names[i], name, len) == 0 &&
		    jfs_node_common_names[i][len] == '\0')
			return jfs_node_common_names[i];
	return NULL;
}

/* ---- references from a node ------------------------------------------------------- *
 * A node refers to its name and data by their distance from itself (job.h). While a
 * directory is built, its children are sorted, which moves them: so references are
 * first written as distances from the job's block (which nothing moves), and made
 * the node's own once the node has its place (settle). Measuring, nothing is set. */

static void node_set_name(struct builder *b, struct jfs_node *n, const char *name)
{
	for (size_t i = 0; i < COMMON_NAMES; i++)
		if (name == jfs_node_common_names[i]) {
			n->name_ref = -1 - (int32_t)i;
			return;
		}
	if (!b->measure)
		n->name_ref = (int32_t)(name - b->base);
}

static void node_set_ref(struct builder *b, struct jfs_node *n, const void *to)
{
	if (!b->measure)
		n->ref = to ? (int32_t)((const char *)to - b->base) : 0;
}

/* The name of a node whose references are still the block's. */
static const char *unsettled_name(const struct jfs_node *n, const char *base)
{
	return n->name_ref < 0 ? jfs_node_name(n) : base + n->name_ref;
}

static int cmp_unsettled(const void *a, const void *b, void *base)
{
	return strcmp(unsettled_name(a, base), unsettled_name(b, base));
}

/* Node n is in its place: its references become its own. */
static void settle(struct jfs_node *n, const char *base)
{
	int32_t at = (int32_t)((const char *)n - base);
	if (n->name_ref >= 0)
		n->name_ref -= at;
	n->ref -= at;
}

/* Place a name: a shared constant when it is one of the common names. */
static const char *put_name_text(struct builder *b, const char *s, size_t len)
{
	const char *common = common_name(s, len);
	return common ? common : put_text(b, s, len, false);
}

static const char *reserved_name(const char *raw)
{
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strcmp(raw, reserved[i].raw) == 0)
			return reserved[i].shown;
	return NULL;
}

/* Place the encoded form of a field name; NULL name and false when it cannot be one.
 * A top-level reserved name is shown escaped (see reserved[]). */
static bool put_name(struct builder *b, const char *raw, bool top, const char **name)
{
	char buf[NAME_MAX + 1];
	ssize_t n;
	const char *shown = top ? reserved_name(raw) : NULL;

	if (shown) {
		strcpy(buf, shown);
		n = (ssize_t)strlen(buf);
	} else {
		n = encode_name(raw, buf);
	}
	if (n < 0) {
		if (b->measure)
			jfs_warn("job %s: skipping a field whose name (%zu bytes) is too long "
				 "for a file name",
				 b->uuid, strlen(raw));
		*name = NULL;
		return false;
	}
	*name = put_name_text(b, buf, (size_t)n);
	return true;
}

/* Whether a member of an object becomes a node (put_name agrees on the names). */
static bool keeps_member(const char *key, bool top)
{
	if (strcmp(key, LINKS) == 0)
		return false;
	if (top && reserved_name(key))
		return true; /* shown escaped */
	return encode_name(key, NULL) >= 0;
}



/* ---- the record, written compact, and the nodes pointing into it ------------------- */

/* Append len bytes to the record's text (counted only, when measuring). */
static char *emit(struct builder *b, const char *s, size_t len)
{
	char *p = b->measure ? NULL : b->json_base + b->json;
	if (p)
		memcpy(p, s, len);
	b->json += len;
	return p;
}

/* Append s[0..len) as a JSON string. Returns whether it needed no escape, so that its
 * bytes in the text are s's own; *at gets where they start (NULL when measuring). */
static bool emit_string(struct builder *b, const char *s, size_t len, const char **at)
{
	emit(b, "\"", 1);
	char *start = b->measure ? NULL : b->json_base + b->json;
	size_t n = jfs_json_escape(s, len, start);
	b->json += n;
	emit(b, "\"", 1);
	*at = start;
	return n == len;
}

/* A file node whose value is bytes[0..len) (the file shows them and a newline). */
static int file_node(struct builder *b, struct jfs_node *node, const char *bytes, size_t len)
{
	if (len >= UINT32_MAX)
		return -EFBIG; /* a field of 4 GiB: far past any body the client takes */
	node->is_dir = false;
	node->record = false;
	node_set_ref(b, node, len ? bytes : NULL); /* nothing to read of an empty value */
	node->size = (uint32_t)(len + 1);
	return 0;
}

static int build_value(struct builder *b, struct jfs_node *node, struct json_object *v,
		       bool top);

/* Append an object or array; with node, make it the directory of its members (at the
 * top, the job's, which also holds job.json). */
static int build_dir(struct builder *b, struct jfs_node *node, struct json_object *v, bool top)
{
	bool object = json_object_is_type(v, json_type_object);
	size_t n = 0, i = 0, k = 0;
	int rc;

	if (node && object) {
		json_object_object_foreach(v, key, val)
		{
			(void)val;
			n += keeps_member(key, top);
		}
	} else if (node) {
		n = json_object_array_length(v);
	}
	n += node && top;

	struct jfs_node *children = node ? take_nodes(b, n) : NULL;
	struct jfs_node scratch; /* measuring: children are counted, not stored */
	const char *text = b->measure ? NULL : b->json_base + b->json;

	if (++b->depth > b->max_depth)
		b->max_depth = b->depth;
	emit(b, object ? "{" : "[", 1);
	if (object) {
		json_object_object_foreach(v, key, val)
		{
			if (k++ > 0)
				emit(b, ",", 1);
			const char *at;
			emit_string(b, key, strlen(key), &at);
			emit(b, ":", 1);
			/* The name goes to a local first: a skipped member (_links, or a name
			 * too long to show) must not touch children[i], which may be past
			 * this array. It is still written to the record. */
			const char *name;
			struct jfs_node *child = NULL;
			if (node && strcmp(key, LINKS) != 0 && put_name(b, key, top, &name)) {
				child = children ? &children[i] : &scratch;
				node_set_name(b, child, name);
				i++;
			}
			if ((rc = build_value(b, child, val, false)) < 0)
				return rc;
		}
	} else {
		size_t len = json_object_array_length(v);
		for (size_t a = 0; a < len; a++) {
			if (a > 0)
				emit(b, ",", 1);
			struct jfs_node *child = NULL;
			if (node) {
				char idx[24];
				int w = snprintf(idx, sizeof(idx), "%zu", a);
				child = children ? &children[i] : &scratch;
				node_set_name(b, child, put_name_text(b, idx, (size_t)w));
				i++;
			}
			if ((rc = build_value(b, child, json_object_array_get_idx(v, a), false)) < 0)
				return rc;
		}
	}
	emit(b, object ? "}" : "]", 1);
	b->depth--;
	if (!node)
		return 0;
	if (top) {
		/* job.json: the record as written above (NUL-terminated), shown
		 * pretty-printed (jfs_file_read), record_size bytes with its newline. */
		emit(b, "", 1);
		struct jfs_node *child = children ? &children[i] : &scratch;
		node_set_name(b, child, JOB_JSON);
		child->is_dir = false;
		child->record = true;
		child->depth = b->max_depth < UINT16_MAX ? (uint16_t)b->max_depth : UINT16_MAX;
		node_set_ref(b, child, text);
		child->size = (uint32_t)b->record_size;
		i++;
	}
	if (i != n)
		return -EIO; /* the passes disagree: a bug, not the cluster's fault */

	node->is_dir = true;
	node->record = false;
	node_set_ref(b, node, children);
	node->nchildren = (uint32_t)n;
	if (children) { /* sorted, then each in its place for good */
		qsort_r(children, n, sizeof(*children), cmp_unsettled, b->base);
		for (size_t c = 0; c < n; c++)
			settle(&children[c], b->base);
	}
	return 0;
}

/* Append one JSON value; with node, make it the value's node: a directory for objects
 * and arrays, else a file whose bytes are the value's own in the text (a string that
 * needed escapes keeps its bytes in the string area). */
static int build_value(struct builder *b, struct jfs_node *node, struct json_object *v,
		       bool top)
{
	const char *text, *at;
	size_t len;

	switch (json_object_get_type(v)) {
	case json_type_object:
	case json_type_array:
		return build_dir(b, node, v, top);
	case json_type_string:
		text = json_object_get_string(v);
		len = (size_t)json_object_get_string_len(v);
		if (!emit_string(b, text, len, &at) && node)
			at = put_text(b, text, len, false);
		return node ? file_node(b, node, at, len) : 0;
	case json_type_boolean:
		text = json_object_get_boolean(v) ? "true" : "false";
		break;
	case json_type_int:
	case json_type_double:
		/* A double parsed from text keeps that text (json_object_new_double_s),
		 * so 1.50 stays 1.50; integers print as decimal. */
		text = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
		if (!text)
			return -ENOMEM;
		break;
	case json_type_null:
	default:
		emit(b, "null", 4);
		return node ? file_node(b, node, NULL, 0) : 0; /* an empty line */
	}
	len = strlen(text);
	at = emit(b, text, len);
	return node ? file_node(b, node, at, len) : 0;
}

/* ---- jobs ------------------------------------------------------------------------- */

static int64_t record_time(struct json_object *record, const char *field, const char *uuid)
{
	struct json_object *v;
	int64_t t;

	if (!json_object_object_get_ex(record, field, &v) ||
	    !json_object_is_type(v, json_type_string))
		return 0;
	if (jfs_isotime_parse(json_object_get_string(v), &t) < 0) {
		jfs_warn("job %s: %s \"%.64s\" is not an ISO 8601 time; ignored", uuid, field,
			 json_object_get_string(v));
		return 0;
	}
	return t;
}

int jfs_job_from_json(struct json_object *record, struct jfs_job **out, struct jfs_error *e)
{
	struct json_object *v;
	char name[NAME_MAX + 1];
	int rc;

	*out = NULL;
	if (!json_object_is_type(record, json_type_object))
		return jfs_error_set(e, EINVAL, "job record is not a JSON object");
	if (!json_object_object_get_ex(record, "uuid", &v) ||
	    !json_object_is_type(v, json_type_string))
		return jfs_error_set(e, EINVAL, "job record without a string uuid");
	const char *uuid = json_object_get_string(v);
	size_t uuid_len = (size_t)json_object_get_string_len(v);
	ssize_t name_len = encode_name(uuid, name);
	if (name_len < 0 || strlen(uuid) != uuid_len)
		return jfs_error_set(e, EINVAL, "job uuid of %zu bytes cannot be a file name",
				     uuid_len);

	/* job.json's size, for stat: its text is made again at each read (record_text). */
	const char *pretty = json_object_to_json_string_ext(record, RECORD_PRETTY);
	if (!pretty)
		return jfs_error_set(e, ENOMEM, "out of memory");
	size_t record_len = strlen(pretty);
	if (record_len >= UINT32_MAX - 1)
		return jfs_error_set(e, EFBIG, "job %s: a record of %zu bytes", uuid, record_len);
	/* The directory is named by the uuid itself unless the encoding changed it. */
	bool own_name = strcmp(name, uuid) != 0;

	/* Pass 1: measure. */
	struct builder b = { .measure = true, .uuid = uuid, .record_size = record_len + 1 };
	struct jfs_node scratch;
	b.bytes += uuid_len + 1 + (own_name ? (size_t)name_len + 1 : 0);
	if ((rc = build_dir(&b, &scratch, record, true)) < 0)
		return jfs_error_set(e, -rc, "job %s: cannot build its tree", uuid);

	size_t node_bytes = b.nodes * sizeof(struct jfs_node);
	size_t total = sizeof(struct jfs_job) + node_bytes + b.json + b.bytes;
	struct jfs_job *job = malloc(total);
	if (!job)
		return jfs_error_set(e, ENOMEM, "out of memory for job %s (%zu bytes)", uuid,
				     total);

	/* Pass 2: fill. */
	struct builder f = {
		.measure = false,
		.base = (char *)job,
		.uuid = uuid,
		.record_size = b.record_size,
		.node_base = (struct jfs_node *)(job + 1),
		.json_base = (char *)(job + 1) + node_bytes,
		.char_base = (char *)(job + 1) + node_bytes + b.json,
	};
	*job = (struct jfs_job){ .mem = total, .refs = 1 };
	job->uuid = put_text(&f, uuid, uuid_len, false);
	job->name = own_name ? put_text(&f, name, (size_t)name_len, false) : job->uuid;
	node_set_name(&f, &job->root, job->name);
	rc = build_dir(&f, &job->root, record, true);
	settle(&job->root, f.base);
	if (rc == 0 && (f.nodes != b.nodes || f.json != b.json || f.bytes != b.bytes))
		rc = -EIO;
	if (rc < 0) {
		free(job);
		return jfs_error_set(e, -rc, "job %s: cannot build its tree", uuid);
	}

	if (json_object_object_get_ex(record, "state", &v) &&
	    json_object_is_type(v, json_type_string))
		job->state = jfs_job_state_parse(json_object_get_string(v));
	job->start_time = record_time(record, "start_time", job->uuid);
	job->end_time = record_time(record, "end_time", job->uuid);
	*out = job;
	return 0;
}

int jfs_job_parse(const char *body, size_t len, int max_depth, struct jfs_job **out,
		  struct jfs_error *e)
{
	struct json_object *root;
	int rc;

	*out = NULL;
	if ((rc = jfs_json_body_parse(body, len, max_depth, &root, e)) < 0)
		return rc;
	if (!json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return jfs_error_set(e, EIO, "job body is not a JSON object");
	}
	rc = jfs_job_from_json(root, out, e);
	json_object_put(root);
	if (rc == -EINVAL) /* a body the cluster should not send: an I/O error */
		return jfs_error_set(e, EIO, "%s", e ? e->message : "invalid job body");
	return rc;
}

struct jfs_job *jfs_job_ref(struct jfs_job *job)
{
	if (job)
		__atomic_add_fetch(&job->refs, 1, __ATOMIC_RELAXED);
	return job;
}

void jfs_job_unref(struct jfs_job *job)
{
	/* Release/acquire: every reader's accesses happen before the free. */
	if (job && __atomic_sub_fetch(&job->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(job); /* the whole tree lives in this one block */
}

static const char *const state_names[] = {
	[JFS_JOB_UNKNOWN] = "unknown", [JFS_JOB_QUEUED] = "queued",
	[JFS_JOB_RUNNING] = "running", [JFS_JOB_PAUSED] = "paused",
	[JFS_JOB_SUCCESS] = "success", [JFS_JOB_FAILURE] = "failure",
};

enum jfs_job_state jfs_job_state_parse(const char *s)
{
	if (!s)
		return JFS_JOB_UNKNOWN;
	for (size_t i = JFS_JOB_QUEUED; i < sizeof(state_names) / sizeof(state_names[0]); i++)
		if (strcmp(s, state_names[i]) == 0)
			return (enum jfs_job_state)i;
	return JFS_JOB_UNKNOWN;
}

const char *jfs_job_state_name(enum jfs_job_state state)
{
	if ((size_t)state >= sizeof(state_names) / sizeof(state_names[0]))
		return state_names[JFS_JOB_UNKNOWN];
	return state_names[state];
}

bool jfs_job_is_terminal(const struct jfs_job *job)
{
	return job->state == JFS_JOB_SUCCESS || job->state == JFS_JOB_FAILURE;
}

bool jfs_job_ended(const struct jfs_job *job)
{
	switch (job->state) {
	case JFS_JOB_QUEUED:
	case JFS_JOB_RUNNING:
	case JFS_JOB_PAUSED:
		return false;
	case JFS_JOB_SUCCESS:
	case JFS_JOB_FAILURE:
		return true;
	case JFS_JOB_UNKNOWN:
		break;
	}
	const struct jfs_node *state = jfs_node_child(&job->root, "state");
	return state && !state->is_dir && state->size > 1; /* a state this version does not know */
}

int64_t jfs_job_mtime(const struct jfs_job *job)
{
	return job->end_time ? job->end_time : job->start_time;
}

/* ---- what files show -------------------------------------------------------------- */

/* job.json's text: the record parsed again and pretty-printed (json-c prints a value
 * parsed from the compact text exactly as it printed the record it was written from:
 * member order, numbers' text and strings are kept). *o owns the text (put it after
 * use). NULL on ENOMEM. */
static const char *record_pretty(const struct jfs_node *f, struct json_object **o,
				 size_t *len)
{
	struct json_tokener *tok = json_tokener_new_ex(f->depth + 1);
	if (!tok)
		return NULL;
	const char *data = jfs_node_data(f);
	*o = json_tokener_parse_ex(tok, data, (int)strlen(data));
	json_tokener_free(tok);
	/* Our own text always parses: only memory can be missing. */
	const char *text = *o ? json_object_to_json_string_ext(*o, RECORD_PRETTY) : NULL;
	if (text)
		*len = strlen(text);
	return text;
}

ssize_t jfs_file_read(const struct jfs_node *f, uint64_t off, char *buf, size_t len)
{
	if (f->is_dir || off >= f->size)
		return 0;
	size_t n = f->size - (size_t)off < len ? f->size - (size_t)off : len;
	struct json_object *o = NULL;
	const char *value = jfs_node_data(f);
	size_t value_len = f->size - 1; /* the newline is not stored */
	if (f->record) {
		size_t got = 0;
		if (!(value = record_pretty(f, &o, &got))) {
			json_object_put(o);
			return -ENOMEM;
		}
		/* The size stat showed stands: should json-c ever print the text another
		 * length, the file is cut or padded to it, never torn. */
		if (got != value_len)
			jfs_warn("job.json: the record prints as %zu bytes, not %zu", got,
				 value_len);
		value_len = got < value_len ? got : value_len;
	}
	size_t copied = off < value_len ? value_len - (size_t)off : 0;
	if (copied > n)
		copied = n;
	memcpy(buf, value + off, copied);
	for (size_t i = copied; i < n; i++) /* the newline (and any padding before it) */
		buf[i] = (size_t)off + i == f->size - 1U ? '\n' : ' ';
	json_object_put(o); /* job.json's text with it */
	return (ssize_t)n;
}

bool jfs_file_same(const struct jfs_node *a, const struct jfs_node *b)
{
	if (a == b)
		return true;
	if (a->is_dir || b->is_dir || a->size != b->size || a->record != b->record)
		return false;
	if (a->record) /* equal records print equal */
		return strcmp(jfs_node_data(a), jfs_node_data(b)) == 0;
	return memcmp(jfs_node_data(a), jfs_node_data(b), a->size - 1U) == 0;
}

const char *jfs_job_record(const struct jfs_job *job)
{
	const struct jfs_node *r = jfs_node_child(&job->root, JOB_JSON);
	return r ? jfs_node_data(r) : "{}"; /* every job has one (jfs_job_from_json) */
}

/* ---- lookups ---------------------------------------------------------------------- */

const struct jfs_node *jfs_node_child(const struct jfs_node *dir, const char *name)
{
	if (!dir || !dir->is_dir || !name)
		return NULL;
	size_t lo = 0, hi = dir->nchildren;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct jfs_node *child = &jfs_node_children(dir)[mid];
		int c = strcmp(name, jfs_node_name(child));
		if (c == 0)
			return child;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct jfs_node *jfs_node_lookup(const struct jfs_node *dir, const char *path)
{
	char part[NAME_MAX + 1];

	if (!path)
		return NULL;
	while (dir && *path) {
		size_t n = strcspn(path, "/");
		if (n > 0) {
			if (n > NAME_MAX)
				return NULL;
			memcpy(part, path, n);
			part[n] = '\0';
			dir = jfs_node_child(dir, part);
		}
		path += n;
		if (*path == '/')
			path++;
	}
	return dir;
}

bool jfs_uuid_is_valid(const char *s)
{
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false; /* a NUL stops here too */
	}
	return s[36] == '\0';
}

char *jfs_name_to_uuid(const char *name)
{
	char *uuid = jfs_name_decode(name);
	if (!uuid)
		return NULL;
	char *again = jfs_name_encode(uuid);
	bool canonical = again && strcmp(again, name) == 0;
	free(again);
	if (!canonical) {
		free(uuid);
		errno = EINVAL;
		return NULL;
	}
	return uuid;
}
