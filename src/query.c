/* Query segments (see include/jobsfs/query.h).
 *
 * A query is a small array of name/value parameters kept sorted by name (strcmp), so
 * lookups are a binary search and the canonical string is a walk in order. The
 * canonical string is built whenever the query changes and cached in the struct, so
 * jfs_query_string() on a const query never allocates and never fails. */
#include "jobsfs/query.h"

#include "jobsfs/error.h"
#include "jobsfs/urlenc.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct param {
	char *name;
	char *value; /* raw, as the segment gave it (max_records normalized) */
};

struct jfs_query {
	struct param *params; /* sorted by name (strcmp), names unique */
	size_t n, cap;
	char *canonical;      /* "a=x&b=y", NULL while the query is empty */
	unsigned long max_records; /* 0 when not given */
};

struct jfs_query *jfs_query_new(void)
{
	return calloc(1, sizeof(struct jfs_query));
}

void jfs_query_free(struct jfs_query *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->n; i++) {
		free(q->params[i].name);
		free(q->params[i].value);
	}
	free(q->params);
	free(q->canonical);
	free(q);
}

struct jfs_query *jfs_query_dup(const struct jfs_query *q)
{
	struct jfs_query *d = jfs_query_new();
	if (!d)
		return NULL;
	if (q->n > 0) {
		d->params = calloc(q->n, sizeof(*d->params));
		if (!d->params)
			goto fail;
		d->cap = q->n;
		for (size_t i = 0; i < q->n; i++) {
			d->params[i].name = strdup(q->params[i].name);
			d->params[i].value = strdup(q->params[i].value);
			d->n = i + 1; /* so that a failure frees what was copied */
			if (!d->params[i].name || !d->params[i].value)
				goto fail;
		}
	}
	if (q->canonical && !(d->canonical = strdup(q->canonical)))
		goto fail;
	d->max_records = q->max_records;
	return d;
fail:
	jfs_query_free(d);
	errno = ENOMEM;
	return NULL;
}

bool jfs_segment_is_query(const char *segment)
{
	return segment && segment[0] != '\0' && strchr(segment + 1, '=') != NULL;
}

static bool is_name_byte(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.';
}

/* Index of name in q->params, or -(insertion point) - 1 when absent. */
static ptrdiff_t find(const struct jfs_query *q, const char *name)
{
	size_t lo = 0, hi = q->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, q->params[mid].name);
		if (c == 0)
			return (ptrdiff_t)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -(ptrdiff_t)lo - 1;
}

/* Rebuild q->canonical from the sorted parameters. On ENOMEM the old string stays. */
static int rebuild_canonical(struct jfs_query *q)
{
	char **enc = calloc(q->n ? q->n : 1, sizeof(*enc));
	size_t total = 1;
	char *s = NULL;
	int rc = -ENOMEM;

	if (!enc)
		return -ENOMEM;
	for (size_t i = 0; i < q->n; i++) {
		enc[i] = jfs_url_encode(q->params[i].value);
		if (!enc[i])
			goto out;
		total += strlen(q->params[i].name) + 1 + strlen(enc[i]) + 1;
	}
	if (q->n > 0) {
		s = malloc(total);
		if (!s)
			goto out;
		char *p = s;
		for (size_t i = 0; i < q->n; i++) {
			if (i > 0)
				*p++ = '&';
			p = stpcpy(p, q->params[i].name);
			*p++ = '=';
			p = stpcpy(p, enc[i]);
		}
	}
	free(q->canonical);
	q->canonical = s;
	rc = 0;
out:
	for (size_t i = 0; i < q->n; i++)
		free(enc[i]);
	free(enc);
	return rc;
}

/* max_records: a positive decimal integer that fits an unsigned long. */
static bool parse_max_records(const char *v, unsigned long *out)
{
	unsigned long n = 0;
	if (*v == '\0')
		return false;
	for (; *v; v++) {
		if (*v < '0' || *v > '9')
			return false;
		unsigned d = (unsigned)(*v - '0');
		if (n > (ULONG_MAX - d) / 10)
			return false;
		n = n * 10 + d;
	}
	if (n == 0)
		return false;
	*out = n;
	return true;
}

/* Parameters the client itself sets to page through a collection: a segment that set
 * them would break paging (no records, partial pages, or a cursor out of place). */
static bool is_forbidden(const char *name)
{
	return strcmp(name, "return_records") == 0 || strcmp(name, "return_timeout") == 0 ||
	       strncmp(name, "start.", 6) == 0;
}

int jfs_query_add_segment(struct jfs_query *q, const char *segment, struct jfs_error *e)
{
	const char *eq = strchr(segment, '=');
	unsigned long max = 0;

	if (!eq)
		return jfs_error_set(e, EINVAL, "query segment \"%s\" has no '='", segment);
	if (eq == segment)
		return jfs_error_set(e, EINVAL, "query segment \"%s\" has an empty name",
				     segment);
	for (const char *p = segment; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return jfs_error_set(e, EINVAL,
					     "query segment \"%s\" holds a control character",
					     segment);
	for (const char *p = segment; p < eq; p++)
		if (!is_name_byte(*p))
			return jfs_error_set(e, EINVAL,
					     "query segment \"%s\": a name may hold only "
					     "A-Z a-z 0-9 _ .",
					     segment);

	size_t name_len = (size_t)(eq - segment);
	char *name = strndup(segment, name_len);
	if (!name)
		return jfs_error_set(e, ENOMEM, "out of memory");
	const char *value = eq + 1;
	char number[24];
	int rc;

	if (is_forbidden(name)) {
		rc = jfs_error_set(e, EINVAL,
				   "query segment \"%s\": %s is set by jobsfs itself (paging)",
				   segment, name);
		goto fail;
	}
	if (strcmp(name, JFS_QUERY_MAX_RECORDS) == 0) {
		if (!parse_max_records(value, &max)) {
			rc = jfs_error_set(e, EINVAL,
					   "query segment \"%s\": max_records must be a "
					   "positive integer",
					   segment);
			goto fail;
		}
		snprintf(number, sizeof(number), "%lu", max); /* "010" and "10": one key */
		value = number;
	}
	ptrdiff_t at = find(q, name);
	if (at >= 0) {
		rc = jfs_error_set(e, EINVAL, "query segment \"%s\": %s is already set to \"%s\"",
				   segment, name, q->params[at].value);
		goto fail;
	}
	size_t pos = (size_t)(-at - 1);

	if (q->n == q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 4;
		struct param *p = reallocarray(q->params, cap, sizeof(*p));
		if (!p)
			goto enomem;
		q->params = p;
		q->cap = cap;
	}
	char *v = strdup(value);
	if (!v)
		goto enomem;
	memmove(q->params + pos + 1, q->params + pos, (q->n - pos) * sizeof(*q->params));
	q->params[pos] = (struct param){ name, v };
	q->n++;
	if (rebuild_canonical(q) < 0) {
		/* Undo, so that the query stays as it was before this call. */
		q->n--;
		memmove(q->params + pos, q->params + pos + 1, (q->n - pos) * sizeof(*q->params));
		free(v);
		goto enomem;
	}
	if (max)
		q->max_records = max;
	return 0;

enomem:
	rc = jfs_error_set(e, ENOMEM, "out of memory");
fail:
	free(name);
	return rc;
}

const char *jfs_query_string(const struct jfs_query *q)
{
	return q->canonical ? q->canonical : "";
}

size_t jfs_query_count(const struct jfs_query *q)
{
	return q->n;
}

const char *jfs_query_get(const struct jfs_query *q, const char *name)
{
	ptrdiff_t at = find(q, name);
	return at >= 0 ? q->params[at].value : NULL;
}

unsigned long jfs_query_max_records(const struct jfs_query *q)
{
	return q->max_records;
}

const char *jfs_query_name_at(const struct jfs_query *q, size_t i, const char **value)
{
	if (i >= q->n)
		return NULL;
	if (value)
		*value = q->params[i].value;
	return q->params[i].name;
}
