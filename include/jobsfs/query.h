/* Query segments: a path segment "field=query" names an ONTAP query parameter, and a
 * chain of segments ("state=failure" then "description=*Snapshot*", one directory
 * inside the other) is one query, ANDed.
 *
 * The query keeps its parameters in a canonical order (sorted by name), so the same
 * filter reached by two paths has one string form: that string is both the cache key
 * of the view and the query part of its URL. */
#ifndef JOBSFS_QUERY_H
#define JOBSFS_QUERY_H

#include <stdbool.h>
#include <stddef.h>

struct jfs_error;

/* Parameters a segment may set besides field filters. */
#define JFS_QUERY_FIELDS "fields"
#define JFS_QUERY_ORDER_BY "order_by"
#define JFS_QUERY_MAX_RECORDS "max_records"

struct jfs_query;

struct jfs_query *jfs_query_new(void);		      /* NULL on ENOMEM */
struct jfs_query *jfs_query_dup(const struct jfs_query *q); /* NULL on ENOMEM */
void jfs_query_free(struct jfs_query *q);

/* True when a path segment is a query segment (holds '=' after at least one byte). */
bool jfs_segment_is_query(const char *segment);

/* Parse one path segment "name=value" and add it to q. The value is passed to the
 * cluster verbatim, the whole ONTAP query language included (* ! | < > <= >= ..
 * null, quotes, braces). Errors (-EINVAL with e's message saying why):
 *  - no '=', empty name, a name outside [A-Za-z0-9_.], control characters;
 *  - a name given twice in one chain;
 *  - max_records not a positive integer;
 *  - parameters that would break paging: return_records, return_timeout, start.*.
 * An empty value is allowed (the cluster decides). Returns 0 or -EINVAL/-ENOMEM. */
int jfs_query_add_segment(struct jfs_query *q, const char *segment, struct jfs_error *e);

/* The canonical query string, names sorted, values URL-encoded:
 * "description=%2ASnapshot%2A&state=failure". "" for an empty query. The string is
 * owned by q and valid until q changes. */
const char *jfs_query_string(const struct jfs_query *q);

/* The number of parameters; and lookup of one by name (NULL when absent). The value
 * is the raw one the segment gave (not URL-encoded); max_records comes back in its
 * normalized decimal form ("010" gives "10", as in the canonical string). */
size_t jfs_query_count(const struct jfs_query *q);
const char *jfs_query_get(const struct jfs_query *q, const char *name);

/* Parameter i (0 <= i < jfs_query_count) in canonical order: its name, and its raw
 * value in *value (when value is not NULL); NULL past the end. */
const char *jfs_query_name_at(const struct jfs_query *q, size_t i, const char **value);

/* max_records as given by a segment, or 0 when none: a view with max_records shows
 * that many records (the first page), not a page size. */
unsigned long jfs_query_max_records(const struct jfs_query *q);

#endif
