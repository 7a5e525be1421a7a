/* ontap-sim's query language: the filters, fields and order_by of
 * GET /api/cluster/jobs, evaluated on job records (json-c objects) the way a cluster
 * evaluates them. Pure functions: no I/O, no globals, safe from any thread. */
#ifndef ONTAP_SIM_SIMQ_H
#define ONTAP_SIM_SIMQ_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

/* How a field's values compare: strings alphabetically, numbers numerically, times
 * chronologically (ISO 8601 with offsets, compared as instants). */
enum simq_type { SIMQ_STRING, SIMQ_NUMBER, SIMQ_TIME };

/* The fields a job record may carry, by dotted path ("svm.name", "error.code"). */
struct simq_field {
	const char *path;
	enum simq_type type;
};
/* The schema entry for a dotted path, NULL when the cluster has no such field. */
const struct simq_field *simq_field_find(const char *path);

/* An error as the cluster reports it: HTTP 400 with code "262179" (unexpected
 * argument, target = the name) or "262197" (invalid value, target = the field). */
struct simq_error {
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
 * simq_filter_match neither allocates nor writes to the record (see simq.c). */
struct simq_filter;
int simq_filter_compile(const char *field, const char *query, struct simq_filter **out,
			struct simq_error *err);
bool simq_filter_match(const struct simq_filter *f, json_object *record);
void simq_filter_free(struct simq_filter *f);

/* order_by: "field", "field asc", "field desc", several comma-separated. Records
 * lacking the field sort after those having it. Ties keep uuid order. */
struct simq_order;
int simq_order_parse(const char *order_by, struct simq_order **out, struct simq_error *err);
int simq_order_compare(const struct simq_order *o, json_object *a, json_object *b);
void simq_order_free(struct simq_order *o);

/* fields: a comma-separated list of dotted paths, "*" (all standard fields) or "**"
 * (all, expensive ones included). NULL or "" means the default: uuid and _links. */
struct simq_fields;
int simq_fields_parse(const char *fields, struct simq_fields **out, struct simq_error *err);
/* A new record holding uuid, _links and the selected fields of record (deep copies). */
json_object *simq_fields_project(const struct simq_fields *fs, json_object *record);
void simq_fields_free(struct simq_fields *fs);

/* Rows: the same filters and order_by on a compact copy of a record's queryable
 * values, for a server that filters and sorts many records per request. Walking a
 * json-c record touches several scattered allocations per field; a row is one
 * allocation with every value already typed (times parsed, numbers and their text),
 * so matching 100,000 rows reads little, mostly adjacent, memory. A row is a snapshot:
 * build it when the record is stored and again whenever the record changes (the
 * record is only read, under the caller's lock). Rows are immutable: any number of
 * threads may read one. simq_filter_match_row(f, row) == simq_filter_match(f, record)
 * and simq_order_compare_rows agrees with simq_order_compare, for the record the row
 * was built from. */
struct simq_row;
/* NULL when out of memory. */
struct simq_row *simq_row_new(json_object *record);
void simq_row_free(struct simq_row *row);
bool simq_filter_match_row(const struct simq_filter *f, const struct simq_row *row);
int simq_order_compare_rows(const struct simq_order *o, const struct simq_row *a,
			    const struct simq_row *b);

#endif
