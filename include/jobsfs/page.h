/* One page of a collection answer: {"records":[...], "num_records":N,
 * "_links":{"next":{"href":...}}}. */
#ifndef JOBSFS_PAGE_H
#define JOBSFS_PAGE_H

#include <stddef.h>

struct jfs_error;
struct jfs_job;
struct json_object;

/* Default limits on what the client accepts from a cluster. */
#define JFS_MAX_BODY_DEFAULT (256u * 1024 * 1024) /* bytes of one answer */
#define JFS_MAX_DEPTH_DEFAULT 32		  /* JSON nesting */

struct jfs_page {
	struct jfs_job **jobs; /* n jobs, each with one reference the page owns */
	size_t n;
	char *next_href;       /* _links.next.href, or NULL when absent */
};

/* Parse a page body. A body that is not JSON, nests deeper than max_depth, has no
 * "records" array (when return_records is on) or holds a record without a uuid is
 * -EIO with e saying what was wrong (a record without a uuid is skipped with a log
 * line instead, when the rest is fine). Returns 0 or negative errno. */
int jfs_page_parse(const char *body, size_t len, int max_depth, struct jfs_page *out,
		   struct jfs_error *e);
void jfs_page_free(struct jfs_page *page);

/* s[0..len) escaped for the inside of a JSON string (no quotes), as json-c writes it:
 * '"', '\\' and control bytes escaped (\b \f \n \r \t, else \u00XX, lower-case hex),
 * every other byte as it is (UTF-8 passes). Written to out when out is not NULL (room
 * for the length returned); returns that length either way, so a first call with NULL
 * measures. The length is len exactly when nothing needed an escape. */
size_t jfs_json_escape(const char *s, size_t len, char *out);

/* Parse a whole body as one JSON value, strictly (RFC 8259), nesting at most max_depth
 * deep; only whitespace may follow the value. A body that is empty, truncated, not
 * JSON, too deep, or followed by anything is -EIO with e's message saying what and at
 * which byte offset. On success *out holds the value (json_object_put it). */
int jfs_json_body_parse(const char *body, size_t len, int max_depth, struct json_object **out,
			struct jfs_error *e);

#endif
