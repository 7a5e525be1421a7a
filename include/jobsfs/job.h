/* The job model: one record of /api/cluster/jobs, every field the cluster sent, as a
 * tree of named nodes that the filesystem shows as it is (the filesystem never parses
 * JSON). Jobs are immutable once built and reference-counted, so a listing and a
 * reader can share one without copying or locking. */
#ifndef JOBSFS_JOB_H
#define JOBSFS_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct jfs_error;
struct json_object;

enum jfs_job_state {
	JFS_JOB_UNKNOWN = 0, /* absent, or a state this version does not know */
	JFS_JOB_QUEUED,
	JFS_JOB_RUNNING,
	JFS_JOB_PAUSED,
	JFS_JOB_SUCCESS,
	JFS_JOB_FAILURE,
};

/* One entry of a job's tree: a directory (a JSON object or array, or the job itself)
 * or a file (a scalar: its value and a newline; or job.json). A million jobs hold
 * a dozen of these each, so a node is 16 bytes: it refers to its name and to its data
 * or children by their distance from the node itself (4 bytes, not a pointer's 8:
 * a node never moves, and what it refers to is in its job's block), or, for a name
 * the API documents, by its number among shared constants. Read them with
 * jfs_node_name, jfs_node_data and jfs_node_children.
 *
 * A job holds its record once, compact, as the cluster could have sent it; a scalar's
 * file points at its value inside that text (the newline every file ends with is not
 * stored), and job.json is the text itself, pretty-printed again at each read. So
 * the content of a file is read with jfs_file_read, never from its data directly. */
struct jfs_node {
	int32_t name_ref; /* >= 0: the name's distance from the node; < 0: -1 - its
			   * number in jfs_node_common_names */
	int32_t ref;	  /* the distance of the data (files) or of the children
			   * (directories) from the node */
	union {
		uint32_t size;	    /* files: the bytes the file shows */
		uint32_t nchildren; /* directories */
	};
	bool is_dir;
	bool record;	/* the job's job.json */
	uint16_t depth; /* job.json: how deep the record nests (to parse it again) */
};

/* Names many jobs share (the fields the API documents, the first array indexes). */
extern const char *const jfs_node_common_names[];

/* A node's name: a safe file name (see jfs_name_encode). */
static inline const char *jfs_node_name(const struct jfs_node *n)
{
	return n->name_ref < 0 ? jfs_node_common_names[-1 - (long)n->name_ref]
			       : (const char *)n + n->name_ref;
}

/* A file's data: a value's bytes (size - 1 of them, not NUL-terminated); for
 * job.json the record, compact and NUL-terminated (jfs_job_record). */
static inline const char *jfs_node_data(const struct jfs_node *n)
{
	return (const char *)n + n->ref;
}

/* A directory's entries, nchildren of them, sorted by name (strcmp). */
static inline const struct jfs_node *jfs_node_children(const struct jfs_node *n)
{
	return (const struct jfs_node *)((const char *)n + n->ref);
}

struct jfs_job {
	const char *uuid;	/* as the cluster sent it */
	const char *name;	/* the job directory's name: jfs_name_encode(uuid) (the
				 * same string as uuid when the encoding changes nothing) */
	enum jfs_job_state state;
	int refs;		/* atomic (__atomic builtins); see jfs_job_ref */
	int64_t start_time;	/* epoch seconds; 0 when absent */
	int64_t end_time;	/* epoch seconds; 0 when absent (active jobs) */
	struct jfs_node root;	/* the job directory: one node per field, plus job.json */
	size_t mem;		/* bytes this job holds (for the cache's memory cap) */
	uint64_t seq;		/* the store's number of the fetch that brought it: of
				 * two versions of a job, the later fetch has the larger
				 * (0 until a store sets it, before sharing the job) */
};

/* Build a job from one parsed record. Scalars become files ("value\n"; true/false;
 * null as an empty line; numbers as the cluster wrote them), objects directories,
 * arrays directories named 0, 1, 2... (sorted as strings: "10" before "2");
 * "_links" is left out of the tree at every level (svm/_links too); job.json holds
 * the whole record, _links included, pretty-printed, with a final newline. A name
 * that is not a safe file name is encoded (jfs_name_encode); one that cannot be (too
 * long) is skipped with a log line. A record without a string uuid, or whose uuid
 * cannot be a file name, is -EINVAL. A start_time/end_time that does not parse is
 * logged and left 0 (its file still shows the text). The whole job (struct, nodes,
 * strings) is one allocation of job->mem bytes, but for the names the API documents,
 * which point to shared constants. The job starts with one reference.
 * Returns 0 or negative errno with e filled. */
int jfs_job_from_json(struct json_object *record, struct jfs_job **out, struct jfs_error *e);

/* Parse one job body (GET /api/cluster/jobs/{uuid}) with the given limits (see
 * jfs_json_body_parse in page.h). A body that is not one JSON object holding a job
 * record is -EIO with e saying why. */
int jfs_job_parse(const char *body, size_t len, int max_depth, struct jfs_job **out,
		  struct jfs_error *e);

struct jfs_job *jfs_job_ref(struct jfs_job *job);
void jfs_job_unref(struct jfs_job *job); /* frees at zero; NULL is fine */

/* success or failure: a terminal job never changes until the cluster deletes it. */
bool jfs_job_is_terminal(const struct jfs_job *job);

/* Whether a job is over for whoever waits on it: any state but queued, running or
 * paused, as the vendor's clients judge it (older releases also end jobs "cancelled"
 * or "expired", which this version reads as JFS_JOB_UNKNOWN). A record without a
 * state is not over. */
bool jfs_job_ended(const struct jfs_job *job);
enum jfs_job_state jfs_job_state_parse(const char *s);
const char *jfs_job_state_name(enum jfs_job_state state);

/* The job's time for mtime: end_time, else start_time, else 0. */
int64_t jfs_job_mtime(const struct jfs_job *job);

/* Up to len bytes of what file f shows from offset off, into buf: its value and a
 * newline, or for job.json the record pretty-printed (json-c's PRETTY form, '/'
 * unescaped) and a newline. Returns the count (0 at or past the end), or -ENOMEM. */
ssize_t jfs_file_read(const struct jfs_node *f, uint64_t off, char *buf, size_t len);

/* Whether two files show the same bytes. */
bool jfs_file_same(const struct jfs_node *a, const struct jfs_node *b);

/* The record of a job as the text job.json is made from: one JSON object, compact,
 * NUL-terminated, member order and numbers as the cluster sent them, _links kept. */
const char *jfs_job_record(const struct jfs_job *job);

/* A child of a directory node by name (binary search), NULL when absent. */
const struct jfs_node *jfs_node_child(const struct jfs_node *dir, const char *name);

/* A node by a relative path "error/arguments/0/message" under dir; NULL if absent. */
const struct jfs_node *jfs_node_lookup(const struct jfs_node *dir, const char *path);

/* A name from the cluster made safe as one file name, reversibly: '%' -> %25,
 * '/' -> %2F, control bytes -> %XX; the empty name -> "%", "." -> "%2E", ".." ->
 * "%2E%2E". (Top-level fields named "job.json", "wait" and "ctl" are shown as
 * "job%2Ejson", "%77ait" and "%63tl" by jfs_job_from_json, so that none shadows the
 * record file or the filesystem's own files.) Returns a malloc'd string,
 * or NULL when the result would exceed NAME_MAX (errno ENAMETOOLONG) or on ENOMEM. */
char *jfs_name_encode(const char *raw);

/* The inverse of jfs_name_encode (it also reads %2E inside a name, as in
 * "job%2Ejson"); NULL (errno EINVAL) when name is not an encoding: a raw '/' or
 * control byte, a bare "." or "..", '%' without two upper-case hex digits, or an
 * escape of a byte that is never escaped. */
char *jfs_name_decode(const char *name);

/* Whether s is a job uuid as ONTAP writes them: 8-4-4-4-12 hexadecimal digits. Only
 * such a uuid is ever sent in a request path (/api/cluster/jobs/<uuid>). */
bool jfs_uuid_is_valid(const char *s);

/* The uuid that the job directory called name stands for: jfs_name_decode(name),
 * but only when name is the one name of that uuid (jfs_name_encode of it), so that
 * a job has one directory ("a%2Eb" is not "a.b"'s). NULL (errno EINVAL) otherwise,
 * or on ENOMEM. */
char *jfs_name_to_uuid(const char *name);

#endif
