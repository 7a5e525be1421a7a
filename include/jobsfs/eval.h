/* ONTAP's query language: the filters, fields and order_by of GET /api/cluster/jobs,
 * evaluated on job records (json-c objects) the way a cluster evaluates them. The one
 * implementation in the project: ontap-sim answers queries with it, and the history
 * (history.h) evaluates views over recorded jobs with it. Pure functions: no I/O, no
 * globals, safe from any thread. */
#ifndef JOBSFS_EVAL_H
#define JOBSFS_EVAL_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

/* How a field's values compare: strings alphabetically, numbers numerically, times
 * chronologically (ISO 8601 with offsets, compared as instants). */
enum jfs_eval_type { JFS_EVAL_STRING, JFS_EVAL_NUMBER, JFS_EVAL_TIME };

/* The fields a job record may carry, by dotted path ("svm.name", "error.code"). */
struct jfs_eval_field {
	const char *path;
	enum jfs_eval_type type;
};
/* The schema entry for a dotted path, NULL when the cluster has no such field. */
const struct jfs_eval_field *jfs_eval_field_find(const char *path);

/* An error as the cluster reports it: HTTP 400 with code "262179" (unexpected
 * argument, target = the name) or "262197" (invalid value, target = the field). */
struct jfs_eval_error {
	int http_status;
	char code[16];
	char target[128];
	char message[512];
};

/* One filter: field=query in the whole query language: * wildcards, ! negation,
 * | alternatives, < > <= >= comparisons, a..b ranges, null / !null, and values
 * in double quotes or braces taken literally. Unknown field: 262179. A query that
 * cannot be evaluated for the field's type (e.g. "<abc" on a number): 262197. */
/* String matching folds ASCII case; an unset or null field matches only null; a
 * path through an array (error.arguments.message) matches when any element does.
 * jfs_eval_filter_match neither allocates nor writes to the record (see eval.c). */
struct jfs_eval_filter;
int jfs_eval_filter_compile(const char *field, const char *query, struct jfs_eval_filter **out,
			struct jfs_eval_error *err);
bool jfs_eval_filter_match(const struct jfs_eval_filter *f, json_object *record);
void jfs_eval_filter_free(struct jfs_eval_filter *f);

/* order_by: "field", "field asc", "field desc", several comma-separated. Records
 * lacking the field sort after those having it. Ties keep uuid order. */
struct jfs_eval_order;
int jfs_eval_order_parse(const char *order_by, struct jfs_eval_order **out, struct jfs_eval_error *err);
int jfs_eval_order_compare(const struct jfs_eval_order *o, json_object *a, json_object *b);
void jfs_eval_order_free(struct jfs_eval_order *o);

/* fields: a comma-separated list of dotted paths, "*" (all standard fields) or "**"
 * (all, expensive ones included). NULL or "" means the default: uuid and _links. */
struct jfs_eval_fields;
int jfs_eval_fields_parse(const char *fields, struct jfs_eval_fields **out, struct jfs_eval_error *err);
/* A new record holding uuid, _links and the selected fields of record (deep copies). */
json_object *jfs_eval_fields_project(const struct jfs_eval_fields *fs, json_object *record);
void jfs_eval_fields_free(struct jfs_eval_fields *fs);

/* Rows: the same filters and order_by on a compact copy of a record's queryable
 * values, for a server that filters and sorts many records per request. Walking a
 * json-c record touches several scattered allocations per field; a row is one
 * allocation with every value already typed (times parsed, numbers and their text),
 * so matching 100,000 rows reads little, mostly adjacent, memory. A row is a snapshot:
 * build it when the record is stored and again whenever the record changes (the
 * record is only read, under the caller's lock). Rows are immutable: any number of
 * threads may read one. jfs_eval_filter_match_row(f, row) == jfs_eval_filter_match(f, record)
 * and jfs_eval_order_compare_rows agrees with jfs_eval_order_compare, for the record the row
 * was built from. */
struct jfs_eval_row;
/* NULL when out of memory. */
struct jfs_eval_row *jfs_eval_row_new(json_object *record);
void jfs_eval_row_free(struct jfs_eval_row *row);
bool jfs_eval_filter_match_row(const struct jfs_eval_filter *f, const struct jfs_eval_row *row);
int jfs_eval_order_compare_rows(const struct jfs_eval_order *o, const struct jfs_eval_row *a,
			    const struct jfs_eval_row *b);

#endif
