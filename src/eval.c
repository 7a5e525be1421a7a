/* ONTAP's query language (see jobsfs/eval.h): filters, order_by and fields of
 * GET /api/cluster/jobs, evaluated locally on json-c job records, by ontap-sim and by
 * the history alike.
 *
 * Case: the vendor's REST documentation (docs.netapp.com: ontap-automation "Input
 * variables", the REST API reference's "Getting started", the CLI's "query operators"
 * page) lists the operators but never says whether matching folds letter case.
 * Decision: it does. REST queries go through the same query layer as the CLI, which
 * matches names regardless of case as far as we know (not verified on a live
 * cluster), and an admin who types state=Failure means the failed jobs. Every string
 * operation (=, *, <, >, .., literals) folds ASCII letters; bytes >= 0x80 compare as
 * they are. order_by compares strings the same way: "Success" and "success" tie, and
 * like every tie fall back to uuid order. fold() is the one place to change this.
 *
 * Semantics decided where the documentation is silent:
 * - A query is alternatives separated by '|'; a record matches when any value of the
 *   field (several when the path crosses an array: error.arguments.message) matches
 *   any alternative.
 * - An unset or JSON-null field matches only `null`. Every other term, negated or not,
 *   is false on it ("unset fields are excluded from matching queries").
 * - '*' works on every type, against the value's text (code=1*, start_time=2021-06*).
 * - `a..b` is an inclusive range; on a string field a '*' takes precedence and a side
 *   left empty makes the term a plain value (so message=Complete... still works).
 *
 * Speed: jfs_eval_filter_compile does all parsing and allocation; jfs_eval_filter_match walks
 * the record with json-c lookups and compares in place (no allocation, no copies, no
 * json-c call that formats or caches text inside a shared object), so it is safe on
 * records that other threads read at the same time. Walking json-c objects costs
 * several scattered memory reads per field, so for bulk work a server keeps a
 * jfs_eval_row per record (all values typed, in one allocation) and matches and sorts
 * those: same answers, a fraction of the memory traffic. */
#include "jobsfs/eval.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jobsfs/isotime.h"

#define JFS_EVAL_MAX_DEPTH 4 /* deepest schema path is 3 segments: error.arguments.code */
#define JFS_EVAL_NUM_BUF 32	 /* text of an int64 or a double, for '*' on numbers */

/* ------------------------------------------------------------------------------ */
/* Schema                                                                          */

static const struct jfs_eval_field schema[] = {
	{ "uuid", JFS_EVAL_STRING },
	{ "description", JFS_EVAL_STRING },
	{ "state", JFS_EVAL_STRING },
	{ "message", JFS_EVAL_STRING },
	{ "code", JFS_EVAL_NUMBER },
	{ "start_time", JFS_EVAL_TIME },
	{ "end_time", JFS_EVAL_TIME },
	{ "error.code", JFS_EVAL_STRING },
	{ "error.message", JFS_EVAL_STRING },
	{ "error.target", JFS_EVAL_STRING },
	{ "error.arguments.code", JFS_EVAL_STRING },
	{ "error.arguments.message", JFS_EVAL_STRING },
	{ "node.name", JFS_EVAL_STRING },
	{ "node.uuid", JFS_EVAL_STRING },
	{ "svm.name", JFS_EVAL_STRING },
	{ "svm.uuid", JFS_EVAL_STRING },
};

#define NFIELDS (sizeof(schema) / sizeof(schema[0]))

/* A dotted path, split: "svm.name" is { 2, { "svm", "name" } }. */
struct path {
	size_t n;
	const char *seg[JFS_EVAL_MAX_DEPTH];
};

/* schema[k]'s path, split (the row/record equivalence tests cover every entry). */
static const struct path schema_paths[NFIELDS] = {
	{ 1, { "uuid" } },
	{ 1, { "description" } },
	{ 1, { "state" } },
	{ 1, { "message" } },
	{ 1, { "code" } },
	{ 1, { "start_time" } },
	{ 1, { "end_time" } },
	{ 2, { "error", "code" } },
	{ 2, { "error", "message" } },
	{ 2, { "error", "target" } },
	{ 3, { "error", "arguments", "code" } },
	{ 3, { "error", "arguments", "message" } },
	{ 2, { "node", "name" } },
	{ 2, { "node", "uuid" } },
	{ 2, { "svm", "name" } },
	{ 2, { "svm", "uuid" } },
};

const struct jfs_eval_field *jfs_eval_field_find(const char *path)
{
	if (!path)
		return NULL;
	for (size_t i = 0; i < NFIELDS; i++)
		if (strcmp(schema[i].path, path) == 0)
			return &schema[i];
	return NULL;
}

static const struct path *field_path(const struct jfs_eval_field *f)
{
	return &schema_paths[f - schema];
}

/* ------------------------------------------------------------------------------ */
/* Errors                                                                          */

static int fail(struct jfs_eval_error *err, int rc, int http_status, const char *code,
		const char *target, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int fail(struct jfs_eval_error *err, int rc, int http_status, const char *code,
		const char *target, const char *fmt, ...)
{
	if (!err)
		return rc;
	err->http_status = http_status;
	snprintf(err->code, sizeof(err->code), "%s", code);
	snprintf(err->target, sizeof(err->target), "%s", target ? target : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return rc;
}

static int fail_unexpected(struct jfs_eval_error *err, const char *name)
{
	return fail(err, -EINVAL, 400, "262179", name, "Unexpected argument \"%s\".", name);
}

static int fail_invalid(struct jfs_eval_error *err, const char *field, const char *value,
			size_t len)
{
	return fail(err, -EINVAL, 400, "262197", field,
		    "The value \"%.*s\" is invalid for field \"%s\"", (int)len, value, field);
}

static int fail_nomem(struct jfs_eval_error *err)
{
	return fail(err, -ENOMEM, 500, "1", NULL, "Out of memory.");
}

/* ------------------------------------------------------------------------------ */
/* Text, numbers and times                                                          */

static inline unsigned char fold(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Copy n bytes of s folded into dst, NUL-terminate. */
static void fold_copy(char *dst, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = (char)fold((unsigned char)s[i]);
	dst[n] = '\0';
}

/* Alphabetical order ignoring ASCII case. */
static int cmp_fold(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	for (size_t i = 0; i < n; i++) {
		unsigned char ca = fold((unsigned char)a[i]), cb = fold((unsigned char)b[i]);
		if (ca != cb)
			return ca < cb ? -1 : 1;
	}
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* n bytes of s (any case) equal the folded p. */
static inline bool eq_fold(const char *s, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fold((unsigned char)s[i]) != (unsigned char)p[i])
			return false;
	return true;
}

/* Leftmost place of the folded needle p in s[0..slen), or NULL. */
static const char *find_fold(const char *s, size_t slen, const char *p, size_t plen)
{
	if (plen > slen)
		return NULL;
	for (size_t i = 0; i + plen <= slen; i++)
		if (fold((unsigned char)s[i]) == (unsigned char)p[0] &&
		    eq_fold(s + i + 1, p + 1, plen - 1))
			return s + i;
	return NULL;
}

/* s (any case) against a '*' pattern p that is already folded. The pattern is a
 * prefix, a suffix and middle pieces between stars: the prefix and suffix are
 * compared in place and each middle piece is found leftmost after the one before,
 * which decides a '*'-only glob without backtracking. */
static bool glob_fold(const char *s, size_t slen, const char *p, size_t plen)
{
	const char *first = memchr(p, '*', plen);
	if (!first)
		return slen == plen && eq_fold(s, p, plen);
	const char *last = memrchr(p, '*', plen);
	size_t pre = (size_t)(first - p), suf = plen - (size_t)(last - p) - 1;
	if (pre + suf > slen || !eq_fold(s, p, pre) || !eq_fold(s + slen - suf, last + 1, suf))
		return false;
	const char *at = s + pre, *end = s + slen - suf;
	for (const char *piece = first + 1; piece < last;) {
		const char *star = memchr(piece, '*', (size_t)(last - piece) + 1);
		size_t n = (size_t)(star - piece);
		if (n) {
			const char *hit = find_fold(at, (size_t)(end - at), piece, n);
			if (!hit)
				return false;
			at = hit + n;
		}
		piece = star + 1;
	}
	return true;
}

/* A whole decimal integer, optional sign, no spaces. */
static bool parse_int64(const char *s, size_t len, int64_t *out)
{
	char tmp[JFS_EVAL_NUM_BUF];
	if (len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (tmp[0] != '-' && tmp[0] != '+' && (tmp[0] < '0' || tmp[0] > '9'))
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(tmp, &end, 10);
	if (errno || *end != '\0')
		return false;
	*out = (int64_t)v;
	return true;
}

static bool parse_time(const char *s, size_t len, int64_t *epoch)
{
	char tmp[64];
	if (len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return jfs_isotime_parse(tmp, epoch) == 0;
}

/* ------------------------------------------------------------------------------ */
/* Values read from a record                                                        */

/* A leaf of a record, read for a field's type. */
struct leaf {
	enum { LEAF_ABSENT, LEAF_UNREADABLE, LEAF_OK } kind;
	const char *text; /* its text (strings: in the record; others: in buf) */
	size_t len;
	bool is_int; /* numbers: which of i / d holds it */
	int64_t i;   /* numbers; times: epoch (time_ok) */
	double d;
	bool time_ok;
};

/* What a caller needs of a leaf beyond its kind (each costs time per record). */
enum {
	NEED_EPOCH = 1, /* times: parse to an instant */
	NEED_TEXT = 2	/* numbers: their text, for '*' terms */
};

/* Read v as a value of type t, without allocating and without asking json-c for a
 * string form of a non-string object (that would cache text inside v). The text of a
 * number goes to buf. */
static void leaf_read(json_object *v, enum jfs_eval_type t, unsigned need, struct leaf *l,
		      char buf[JFS_EVAL_NUM_BUF])
{
	l->kind = LEAF_OK;
	l->text = "";
	l->len = 0;
	l->time_ok = false;
	l->is_int = false;
	l->i = 0;
	l->d = 0;
	switch (v ? json_object_get_type(v) : json_type_null) {
	case json_type_null:
		l->kind = LEAF_ABSENT;
		return;
	case json_type_string:
		l->text = json_object_get_string(v);
		l->len = (size_t)json_object_get_string_len(v);
		if (t == JFS_EVAL_NUMBER) {
			if (parse_int64(l->text, l->len, &l->i)) {
				l->is_int = true;
			} else {
				char *end;
				char tmp[JFS_EVAL_NUM_BUF];
				if (l->len == 0 || l->len >= sizeof(tmp)) {
					l->kind = LEAF_UNREADABLE;
					return;
				}
				memcpy(tmp, l->text, l->len);
				tmp[l->len] = '\0';
				l->d = strtod(tmp, &end);
				if (*end != '\0' || l->d != l->d)
					l->kind = LEAF_UNREADABLE;
			}
		} else if (t == JFS_EVAL_TIME && (need & NEED_EPOCH)) {
			l->time_ok = parse_time(l->text, l->len, &l->i);
		}
		return;
	case json_type_int:
		l->is_int = true;
		l->i = json_object_get_int64(v);
		l->text = buf;
		l->len = 0;
		buf[0] = '\0';
		if (t != JFS_EVAL_NUMBER || (need & NEED_TEXT))
			l->len = (size_t)snprintf(buf, JFS_EVAL_NUM_BUF, "%" PRId64, l->i);
		if (t == JFS_EVAL_TIME)
			l->kind = LEAF_UNREADABLE;
		return;
	case json_type_double:
		l->d = json_object_get_double(v);
		l->text = buf;
		l->len = 0;
		buf[0] = '\0';
		if (t != JFS_EVAL_NUMBER || (need & NEED_TEXT))
			l->len = (size_t)snprintf(buf, JFS_EVAL_NUM_BUF, "%.17g", l->d);
		if (t == JFS_EVAL_TIME || l->d != l->d)
			l->kind = LEAF_UNREADABLE;
		return;
	case json_type_boolean:
		l->text = json_object_get_boolean(v) ? "true" : "false";
		l->len = strlen(l->text);
		if (t != JFS_EVAL_STRING)
			l->kind = LEAF_UNREADABLE;
		return;
	case json_type_object:
	case json_type_array:
	default:
		l->kind = LEAF_UNREADABLE;
		return;
	}
}

/* Numbers: exact between integers, as doubles when either side is not one. */
static int cmp_num(bool a_int, int64_t ai, double ad, bool b_int, int64_t bi, double bd)
{
	if (a_int && b_int)
		return ai < bi ? -1 : ai > bi ? 1 : 0;
	double x = a_int ? (double)ai : ad, y = b_int ? (double)bi : bd;
	return x < y ? -1 : x > y ? 1 : 0;
}

/* Split the NUL-terminated buf in place at dots. False when empty segments or too
 * deep. */
static bool path_split(char *buf, struct path *p)
{
	p->n = 0;
	char *s = buf;
	for (;;) {
		char *dot = strchr(s, '.');
		if (p->n == JFS_EVAL_MAX_DEPTH)
			return false;
		p->seg[p->n++] = s;
		if (dot)
			*dot = '\0';
		if (*s == '\0')
			return false;
		if (!dot)
			return true;
		s = dot + 1;
	}
}

/* ------------------------------------------------------------------------------ */
/* Filters                                                                          */

enum op { OP_NULL, OP_EQ, OP_GLOB, OP_LT, OP_LE, OP_GT, OP_GE, OP_RANGE };

struct operand {
	const char *s; /* folded text, NUL-terminated, in the filter's buffer */
	size_t len;
	int64_t n; /* numbers: the value; times: the epoch */
};

struct term {
	bool negate;
	enum op op;
	struct operand a, b; /* b: upper bound of OP_RANGE */
};

struct jfs_eval_filter {
	const struct jfs_eval_field *field;
	const struct path *path;
	unsigned need; /* NEED_*: what the terms read of each value */
	size_t nterms;
	char *buf; /* every operand's text */
	struct term terms[];
};

/* Make an operand of the field's type from text. Strings and '*' patterns are kept
 * folded; numbers and times must read whole, else 262197. */
static int operand_make(struct jfs_eval_filter *f, bool pattern, const char *s, size_t len,
			char **cursor, struct operand *o, struct jfs_eval_error *err)
{
	char *dst = *cursor;
	fold_copy(dst, s, len);
	*cursor += len + 1;
	o->s = dst;
	o->len = len;
	o->n = 0;
	if (pattern) {
		f->need |= NEED_TEXT;
		return 0;
	}
	switch (f->field->type) {
	case JFS_EVAL_STRING:
		return 0;
	case JFS_EVAL_NUMBER:
		if (parse_int64(s, len, &o->n))
			return 0;
		break;
	case JFS_EVAL_TIME:
		if (parse_time(s, len, &o->n)) {
			f->need |= NEED_EPOCH;
			return 0;
		}
		break;
	}
	return fail_invalid(err, f->field->path, s, len);
}

static bool is_literal(const char *s, size_t len)
{
	return len >= 2 &&
	       ((s[0] == '"' && s[len - 1] == '"') || (s[0] == '{' && s[len - 1] == '}'));
}

static const char *find_dotdot(const char *s, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++)
		if (s[i] == '.' && s[i + 1] == '.')
			return s + i;
	return NULL;
}

/* One alternative of a query: [!] then a literal, null, a comparison, a range, a
 * pattern or a plain value. */
static int term_compile(struct jfs_eval_filter *f, struct term *t, const char *s, size_t len,
			char **cursor, struct jfs_eval_error *err)
{
	t->negate = false;
	if (len > 0 && s[0] == '!') {
		t->negate = true;
		s++;
		len--;
	}
	if (is_literal(s, len)) {
		t->op = OP_EQ;
		return operand_make(f, false, s + 1, len - 2, cursor, &t->a, err);
	}
	if (len == 4 && memcmp(s, "null", 4) == 0) {
		t->op = OP_NULL;
		return 0;
	}
	static const struct {
		const char *tok;
		size_t len;
		enum op op;
	} cmps[] = {
		{ "<=", 2, OP_LE }, { ">=", 2, OP_GE }, { "<", 1, OP_LT }, { ">", 1, OP_GT }
	};
	for (size_t i = 0; i < sizeof(cmps) / sizeof(cmps[0]); i++) {
		if (len >= cmps[i].len && memcmp(s, cmps[i].tok, cmps[i].len) == 0) {
			t->op = cmps[i].op;
			s += cmps[i].len;
			len -= cmps[i].len;
			if (is_literal(s, len)) {
				s++;
				len -= 2;
			}
			return operand_make(f, false, s, len, cursor, &t->a, err);
		}
	}
	if (memchr(s, '*', len)) {
		t->op = OP_GLOB;
		return operand_make(f, true, s, len, cursor, &t->a, err);
	}
	const char *dd = find_dotdot(s, len);
	if (dd) {
		size_t lo = (size_t)(dd - s), hi = len - lo - 2;
		if (f->field->type != JFS_EVAL_STRING || (lo > 0 && hi > 0)) {
			t->op = OP_RANGE;
			int rc = operand_make(f, false, s, lo, cursor, &t->a, err);
			if (rc)
				return rc;
			return operand_make(f, false, dd + 2, hi, cursor, &t->b, err);
		}
	}
	t->op = OP_EQ;
	return operand_make(f, false, s, len, cursor, &t->a, err);
}

/* Length of the alternative starting at s (up to the next top-level '|'): a value in
 * quotes or braces runs to its closing mark when that mark ends the alternative, so
 * `{a|b}` and `"x|y"` are one value. */
static size_t alt_length(const char *s, size_t len)
{
	size_t start = (len > 0 && s[0] == '!') ? 1 : 0;
	if (start < len && (s[start] == '"' || s[start] == '{')) {
		char close = s[start] == '"' ? '"' : '}';
		for (size_t j = start + 1; j < len; j++)
			if (s[j] == close && (j + 1 == len || s[j + 1] == '|'))
				return j + 1;
	}
	const char *bar = memchr(s, '|', len);
	return bar ? (size_t)(bar - s) : len;
}

int jfs_eval_filter_compile(const char *field, const char *query, struct jfs_eval_filter **out,
			struct jfs_eval_error *err)
{
	*out = NULL;
	if (!field)
		return fail_unexpected(err, "");
	const struct jfs_eval_field *fd = jfs_eval_field_find(field);
	if (!fd)
		return fail_unexpected(err, field);
	if (!query)
		query = "";

	size_t qlen = strlen(query);
	size_t maxterms = 1;
	for (size_t i = 0; i < qlen; i++)
		maxterms += query[i] == '|';

	struct jfs_eval_filter *f = calloc(1, sizeof(*f) + maxterms * sizeof(f->terms[0]));
	if (!f)
		return fail_nomem(err);
	/* Each operand's text + NUL: a term's operands take at most its length + 2. */
	f->buf = malloc(qlen + 2 * maxterms);
	if (!f->buf) {
		free(f);
		return fail_nomem(err);
	}
	f->field = fd;
	f->path = field_path(fd);
	char *cursor = f->buf;

	/* Alternatives up to the end; a trailing '|' leaves an empty one ("a|" is a or ""). */
	for (size_t pos = 0;; pos++) {
		size_t n = alt_length(query + pos, qlen - pos);
		int rc = term_compile(f, &f->terms[f->nterms], query + pos, n, &cursor, err);
		if (rc) {
			jfs_eval_filter_free(f);
			return rc;
		}
		f->nterms++;
		pos += n;
		if (pos == qlen)
			break;
	}
	*out = f;
	return 0;
}

static bool term_eval_string(const struct term *t, const struct leaf *l)
{
	switch (t->op) {
	case OP_EQ:
		return l->len == t->a.len && eq_fold(l->text, t->a.s, t->a.len);
	case OP_LT:
		return cmp_fold(l->text, l->len, t->a.s, t->a.len) < 0;
	case OP_LE:
		return cmp_fold(l->text, l->len, t->a.s, t->a.len) <= 0;
	case OP_GT:
		return cmp_fold(l->text, l->len, t->a.s, t->a.len) > 0;
	case OP_GE:
		return cmp_fold(l->text, l->len, t->a.s, t->a.len) >= 0;
	case OP_RANGE:
		return cmp_fold(l->text, l->len, t->a.s, t->a.len) >= 0 &&
		       cmp_fold(l->text, l->len, t->b.s, t->b.len) <= 0;
	case OP_NULL:
	case OP_GLOB: /* term_eval's */
	default:
		return false;
	}
}

/* c: the value compared to operand a; c2: to operand b (ranges). */
static bool term_eval_order(const struct term *t, int c, int c2)
{
	switch (t->op) {
	case OP_EQ:
		return c == 0;
	case OP_LT:
		return c < 0;
	case OP_LE:
		return c <= 0;
	case OP_GT:
		return c > 0;
	case OP_GE:
		return c >= 0;
	case OP_RANGE:
		return c >= 0 && c2 <= 0;
	case OP_NULL:
	case OP_GLOB:
	default:
		return false;
	}
}

/* One term on one present, readable value (before negation). */
static bool term_eval(const struct jfs_eval_filter *f, const struct term *t, const struct leaf *l)
{
	if (t->op == OP_GLOB)
		return glob_fold(l->text, l->len, t->a.s, t->a.len);
	switch (f->field->type) {
	case JFS_EVAL_STRING:
		return term_eval_string(t, l);
	case JFS_EVAL_NUMBER:
		return term_eval_order(t, cmp_num(l->is_int, l->i, l->d, true, t->a.n, 0),
				       cmp_num(l->is_int, l->i, l->d, true, t->b.n, 0));
	case JFS_EVAL_TIME:
		if (!l->time_ok)
			return false;
		return term_eval_order(t, l->i < t->a.n ? -1 : l->i > t->a.n,
				       l->i < t->b.n ? -1 : l->i > t->b.n);
	}
	return false;
}

/* Any term holds for the value l. */
static bool leaf_match(const struct jfs_eval_filter *f, const struct leaf *l)
{
	for (size_t i = 0; i < f->nterms; i++) {
		const struct term *t = &f->terms[i];
		bool r;
		if (t->op == OP_NULL)
			r = l->kind == LEAF_ABSENT;
		else if (l->kind != LEAF_OK)
			continue; /* unset or unreadable: only null/!null decide */
		else
			r = term_eval(f, t, l);
		if (t->negate ? !r : r)
			return true;
	}
	return false;
}

static bool value_match(const struct jfs_eval_filter *f, json_object *v)
{
	char buf[JFS_EVAL_NUM_BUF];
	struct leaf l;
	leaf_read(v, f->field->type, f->need, &l, buf);
	return leaf_match(f, &l);
}

/* Any value of the field below node (depth segments already walked) matches. An
 * array stands for each of its elements; an empty one for an unset value. */
static bool node_match(const struct jfs_eval_filter *f, json_object *node, size_t depth)
{
	if (node && json_object_is_type(node, json_type_array)) {
		size_t n = json_object_array_length(node);
		if (n == 0)
			return value_match(f, NULL);
		for (size_t i = 0; i < n; i++)
			if (node_match(f, json_object_array_get_idx(node, i), depth))
				return true;
		return false;
	}
	if (depth == f->path->n)
		return value_match(f, node);
	json_object *child = NULL;
	if (node && json_object_is_type(node, json_type_object))
		json_object_object_get_ex(node, f->path->seg[depth], &child);
	return node_match(f, child, depth + 1);
}

bool jfs_eval_filter_match(const struct jfs_eval_filter *f, json_object *record)
{
	return node_match(f, record, 0);
}

void jfs_eval_filter_free(struct jfs_eval_filter *f)
{
	if (!f)
		return;
	free(f->buf);
	free(f);
}

/* ------------------------------------------------------------------------------ */
/* order_by                                                                         */

struct order_key {
	const struct jfs_eval_field *field;
	bool desc;
};

struct jfs_eval_order {
	size_t n;
	struct order_key keys[];
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '+';
}

static void trim(const char **s, size_t *len)
{
	while (*len > 0 && is_space(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && is_space((*s)[*len - 1]))
		(*len)--;
}

/* s without leading and trailing blanks, cut in place. */
static char *trim_in_place(char *s)
{
	const char *t = s;
	size_t n = strlen(s);
	trim(&t, &n);
	char *r = s + (t - s);
	r[n] = '\0';
	return r;
}

/* One item of order_by: "field", then optionally blanks and asc|desc. item is
 * trimmed and NUL-terminated; the field name is cut out of it in place. */
static int order_key_parse(char *item, const char *order_by, struct order_key *k,
			   struct jfs_eval_error *err)
{
	size_t itemlen = strlen(item), namelen = 0;
	while (namelen < itemlen && !is_space(item[namelen]))
		namelen++;
	const char *dir = item + namelen;
	size_t dirlen = itemlen - namelen;
	trim(&dir, &dirlen);
	if (dirlen == 0 || (dirlen == 3 && strncasecmp(dir, "asc", 3) == 0)) {
		k->desc = false;
	} else if (dirlen == 4 && strncasecmp(dir, "desc", 4) == 0) {
		k->desc = true;
	} else {
		return fail_invalid(err, "order_by", order_by, strlen(order_by));
	}
	item[namelen] = '\0';
	k->field = jfs_eval_field_find(item);
	if (!k->field)
		return fail_unexpected(err, item);
	return 0;
}

int jfs_eval_order_parse(const char *order_by, struct jfs_eval_order **out, struct jfs_eval_error *err)
{
	*out = NULL;
	if (!order_by)
		order_by = "";
	size_t len = strlen(order_by), maxkeys = 1;
	for (size_t i = 0; i < len; i++)
		maxkeys += order_by[i] == ',';

	struct jfs_eval_order *o = calloc(1, sizeof(*o) + maxkeys * sizeof(o->keys[0]));
	char *copy = strdup(order_by);
	if (!o || !copy) {
		free(o);
		free(copy);
		return fail_nomem(err);
	}
	int rc = 0;
	if (*trim_in_place(copy) == '\0')
		goto out; /* "" or blanks: no keys, uuid order */
	for (char *s = copy;;) {
		char *comma = strchr(s, ',');
		if (comma)
			*comma = '\0';
		char *item = trim_in_place(s);
		if (*item == '\0') { /* "a,,b", "a," */
			rc = fail_invalid(err, "order_by", order_by, len);
			goto out;
		}
		rc = order_key_parse(item, order_by, &o->keys[o->n], err);
		if (rc)
			goto out;
		o->n++;
		if (!comma)
			break;
		s = comma + 1;
	}
out:
	free(copy);
	if (rc) {
		jfs_eval_order_free(o);
		return rc;
	}
	*out = o;
	return 0;
}

/* The value an order key sorts by: the first value on the path (an array gives its
 * first element), NULL when unset. */
static json_object *first_value(json_object *node, const struct path *p)
{
	for (size_t depth = 0;; depth++) {
		while (node && json_object_is_type(node, json_type_array))
			node = json_object_array_length(node)
				       ? json_object_array_get_idx(node, 0)
				       : NULL;
		if (!node || depth == p->n)
			return node;
		json_object *child = NULL;
		if (!json_object_is_type(node, json_type_object) ||
		    !json_object_object_get_ex(node, p->seg[depth], &child))
			return NULL;
		node = child;
	}
}

/* Compare two readable values of one type, ascending. */
static int leaf_cmp(enum jfs_eval_type t, const struct leaf *a, const struct leaf *b)
{
	switch (t) {
	case JFS_EVAL_STRING:
		return cmp_fold(a->text, a->len, b->text, b->len);
	case JFS_EVAL_NUMBER:
		return cmp_num(a->is_int, a->i, a->d, b->is_int, b->i, b->d);
	case JFS_EVAL_TIME:
		return a->i < b->i ? -1 : a->i > b->i;
	}
	return 0;
}

static bool leaf_sortable(enum jfs_eval_type t, const struct leaf *l)
{
	return l->kind == LEAF_OK && (t != JFS_EVAL_TIME || l->time_ok);
}

/* One key on two values: <0, >0, or 0 to go on to the next key. */
static int key_compare(const struct order_key *k, const struct leaf *la, const struct leaf *lb)
{
	bool ha = leaf_sortable(k->field->type, la);
	bool hb = leaf_sortable(k->field->type, lb);
	if (ha != hb)
		return ha ? -1 : 1; /* unset last, in either direction */
	if (!ha)
		return 0;
	int c = leaf_cmp(k->field->type, la, lb);
	return k->desc ? -c : c;
}

static int uuid_compare(const char *a, const char *b)
{
	int c = strcmp(a, b);
	return c < 0 ? -1 : c > 0;
}

int jfs_eval_order_compare(const struct jfs_eval_order *o, json_object *a, json_object *b)
{
	for (size_t i = 0; o && i < o->n; i++) {
		const struct order_key *k = &o->keys[i];
		char bufa[JFS_EVAL_NUM_BUF], bufb[JFS_EVAL_NUM_BUF];
		struct leaf la, lb;
		leaf_read(first_value(a, field_path(k->field)), k->field->type, NEED_EPOCH, &la,
			  bufa);
		leaf_read(first_value(b, field_path(k->field)), k->field->type, NEED_EPOCH, &lb,
			  bufb);
		int c = key_compare(k, &la, &lb);
		if (c)
			return c;
	}
	/* Ties by uuid (schema[0]), read as any string field is ("" when unset). */
	char bufa[JFS_EVAL_NUM_BUF], bufb[JFS_EVAL_NUM_BUF];
	struct leaf ua, ub;
	leaf_read(first_value(a, &schema_paths[0]), JFS_EVAL_STRING, 0, &ua, bufa);
	leaf_read(first_value(b, &schema_paths[0]), JFS_EVAL_STRING, 0, &ub, bufb);
	return uuid_compare(ua.kind == LEAF_OK ? ua.text : "",
			    ub.kind == LEAF_OK ? ub.text : "");
}

void jfs_eval_order_free(struct jfs_eval_order *o)
{
	free(o);
}

/* ------------------------------------------------------------------------------ */
/* fields                                                                           */

struct jfs_eval_fields {
	bool all;
	size_t n;
	char *buf; /* the paths' segments */
	struct path paths[];
};

/* A name fields= accepts: a schema path, an object on the way to one (svm,
 * error.arguments), or _links. */
static bool projectable(const char *name)
{
	if (strcmp(name, "_links") == 0 || jfs_eval_field_find(name))
		return true;
	size_t n = strlen(name);
	for (size_t i = 0; i < sizeof(schema) / sizeof(schema[0]); i++)
		if (strncmp(schema[i].path, name, n) == 0 && schema[i].path[n] == '.')
			return true;
	return false;
}

int jfs_eval_fields_parse(const char *fields, struct jfs_eval_fields **out, struct jfs_eval_error *err)
{
	*out = NULL;
	if (!fields)
		fields = "";
	size_t len = strlen(fields), max = 1;
	for (size_t i = 0; i < len; i++)
		max += fields[i] == ',';

	struct jfs_eval_fields *fs = calloc(1, sizeof(*fs) + max * sizeof(fs->paths[0]));
	if (!fs)
		return fail_nomem(err);
	fs->buf = malloc(len + 1);
	if (!fs->buf) {
		free(fs);
		return fail_nomem(err);
	}
	memcpy(fs->buf, fields, len + 1);

	int rc = 0;
	char *save = NULL;
	for (char *item = strtok_r(fs->buf, ",", &save); item;
	     item = strtok_r(NULL, ",", &save)) {
		item = trim_in_place(item);
		if (*item == '\0')
			continue; /* "a,,b": an empty name selects nothing */
		if (strcmp(item, "*") == 0 || strcmp(item, "**") == 0) {
			fs->all = true;
			continue;
		}
		if (!projectable(item)) {
			rc = fail_unexpected(err, item);
			goto out;
		}
		struct path p;
		if (!path_split(item, &p)) {
			rc = fail_unexpected(err, item);
			goto out;
		}
		fs->paths[fs->n++] = p;
	}
out:
	if (rc) {
		jfs_eval_fields_free(fs);
		return rc;
	}
	*out = fs;
	return 0;
}

/* dst[key] = deep copy of v (JSON null stays null). 0 or -1. */
static int put_copy(json_object *dst, const char *key, json_object *v)
{
	json_object *copy = NULL;
	if (v && json_object_deep_copy(v, &copy, NULL) != 0)
		return -1;
	if (json_object_object_add(dst, key, copy) != 0) {
		json_object_put(copy);
		return -1;
	}
	return 0;
}

/* Does a selected path go through key at depth, below the keys chain[0..depth-1]?
 * 2: it selects the whole value there; 1: a part of it; 0: no. */
static int selection_at(const struct jfs_eval_fields *fs, const char *const *chain, size_t depth,
			const char *key)
{
	int best = 0;
	for (size_t i = 0; i < fs->n && best < 2; i++) {
		const struct path *p = &fs->paths[i];
		if (p->n <= depth || strcmp(p->seg[depth], key) != 0)
			continue;
		size_t d = 0;
		while (d < depth && strcmp(p->seg[d], chain[d]) == 0)
			d++;
		if (d == depth)
			best = p->n == depth + 1 ? 2 : 1;
	}
	return best;
}

static int project_object(const struct jfs_eval_fields *fs, json_object *src, json_object *dst,
			  const char **chain, size_t depth);

/* dst[key] = the selected parts of v (an object, or an array of objects), in v's own
 * order. An object with nothing selected in it is left out. */
static int project_part(const struct jfs_eval_fields *fs, const char *key, json_object *v,
			json_object *dst, const char **chain, size_t depth)
{
	chain[depth] = key;
	json_object *part = NULL;
	if (json_object_is_type(v, json_type_object)) {
		part = json_object_new_object();
		if (!part || project_object(fs, v, part, chain, depth + 1) != 0)
			goto fail;
		if (json_object_object_length(part) == 0) {
			json_object_put(part);
			return 0;
		}
	} else if (json_object_is_type(v, json_type_array)) {
		part = json_object_new_array();
		if (!part)
			goto fail;
		size_t n = json_object_array_length(v);
		for (size_t i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(v, i);
			json_object *pe = json_object_new_object();
			if (!pe)
				goto fail;
			if (json_object_array_add(part, pe) != 0) {
				json_object_put(pe);
				goto fail;
			}
			if (json_object_is_type(e, json_type_object) &&
			    project_object(fs, e, pe, chain, depth + 1) != 0)
				goto fail;
		}
	} else {
		return 0; /* a scalar where the path needs an object */
	}
	if (json_object_object_add(dst, key, part) != 0)
		goto fail;
	return 0;
fail:
	json_object_put(part);
	return -1;
}

static int project_object(const struct jfs_eval_fields *fs, json_object *src, json_object *dst,
			  const char **chain, size_t depth)
{
	if (depth >= JFS_EVAL_MAX_DEPTH)
		return 0;
	struct json_object_iterator it = json_object_iter_begin(src);
	struct json_object_iterator end = json_object_iter_end(src);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *key = json_object_iter_peek_name(&it);
		json_object *v = json_object_iter_peek_value(&it);
		if (depth == 0 && (strcmp(key, "uuid") == 0 || strcmp(key, "_links") == 0))
			continue; /* placed first and last by the caller */
		int sel = fs->all && depth == 0 ? 2 : selection_at(fs, chain, depth, key);
		if (sel == 2 && put_copy(dst, key, v) != 0)
			return -1;
		if (sel == 1 && project_part(fs, key, v, dst, chain, depth) != 0)
			return -1;
	}
	return 0;
}

json_object *jfs_eval_fields_project(const struct jfs_eval_fields *fs, json_object *record)
{
	static const struct jfs_eval_fields none = { 0 };
	if (!fs)
		fs = &none;
	json_object *out = json_object_new_object();
	if (!out || !json_object_is_type(record, json_type_object))
		return out;
	/* The record's own key order (the cluster's), with uuid first and _links last. */
	const char *chain[JFS_EVAL_MAX_DEPTH];
	json_object *v;
	if (json_object_object_get_ex(record, "uuid", &v) && put_copy(out, "uuid", v) != 0)
		goto fail;
	if (project_object(fs, record, out, chain, 0) != 0)
		goto fail;
	if (json_object_object_get_ex(record, "_links", &v) && put_copy(out, "_links", v) != 0)
		goto fail;
	return out;
fail:
	json_object_put(out);
	return NULL;
}

void jfs_eval_fields_free(struct jfs_eval_fields *fs)
{
	if (!fs)
		return;
	free(fs->buf);
	free(fs);
}

/* ------------------------------------------------------------------------------ */
/* Rows: a record's values, extracted once                                          */

/* One value of a field, as leaf_read saw it, in 16 bytes; its text in the row's text
 * area. */
#define RVAL_MAX_LEN ((1u << 28) - 1)
struct rval {
	uint32_t off;
	unsigned int len : 28, kind : 2, is_int : 1, time_ok : 1;
	union {
		int64_t i; /* integers (is_int), times (epoch, time_ok) */
		double d;  /* other numbers */
	};
};

/* The header fits one cache line; the values follow it, then their text, all in the
 * one allocation, so a filter reads the header, one value and its text. */
struct jfs_eval_row {
	uint16_t first[NFIELDS]; /* field k's values: vals[first[k] .. first[k]+count[k]) */
	uint16_t count[NFIELDS]; /* >= 1: an unset field has one LEAF_ABSENT value */
};

_Static_assert(sizeof(struct rval) == 16, "a row value takes 16 bytes");
_Static_assert(sizeof(struct jfs_eval_row) == 64, "a row header takes one cache line");

static const struct rval *row_vals(const struct jfs_eval_row *row)
{
	return (const struct rval *)(row + 1);
}

/* The values gathered before the row is allocated: a record has about one per field;
 * long error.arguments arrays spill to the heap. */
struct row_builder {
	struct pending {
		struct leaf l;
		char buf[JFS_EVAL_NUM_BUF];
	} local[2 * NFIELDS], *v;
	size_t n, cap, ntext;
	uint16_t first[NFIELDS], count[NFIELDS];
	bool failed;
};

static void row_add(struct row_builder *b, json_object *v, enum jfs_eval_type t)
{
	if (b->failed)
		return;
	if (b->n == b->cap) {
		size_t cap = b->cap * 2;
		struct pending *nv = cap > UINT16_MAX ? NULL : malloc(cap * sizeof(*nv));
		if (!nv) {
			b->failed = true;
			return;
		}
		memcpy(nv, b->v, b->n * sizeof(*nv));
		for (size_t i = 0; i < b->n; i++) /* number text lives in the entry itself */
			if (b->v[i].l.text == b->v[i].buf)
				nv[i].l.text = nv[i].buf;
		if (b->v != b->local)
			free(b->v);
		b->v = nv;
		b->cap = cap;
	}
	struct pending *e = &b->v[b->n++];
	leaf_read(v, t, NEED_EPOCH | NEED_TEXT, &e->l, e->buf);
	if (e->l.kind == LEAF_ABSENT)
		e->l.len = 0;
	b->ntext += e->l.len + 1;
	if (e->l.len > RVAL_MAX_LEN || b->ntext > UINT32_MAX)
		b->failed = true;
}

/* The values of one field below node, walked as node_match walks them. */
static void row_collect(struct row_builder *b, json_object *node, const struct path *p,
			size_t depth, enum jfs_eval_type t)
{
	if (node && json_object_is_type(node, json_type_array)) {
		size_t n = json_object_array_length(node);
		if (n == 0)
			row_add(b, NULL, t);
		for (size_t i = 0; i < n; i++)
			row_collect(b, json_object_array_get_idx(node, i), p, depth, t);
		return;
	}
	if (depth == p->n) {
		row_add(b, node, t);
		return;
	}
	json_object *child = NULL;
	if (node && json_object_is_type(node, json_type_object))
		json_object_object_get_ex(node, p->seg[depth], &child);
	row_collect(b, child, p, depth + 1, t);
}

struct jfs_eval_row *jfs_eval_row_new(json_object *record)
{
	struct row_builder b;
	b.v = b.local;
	b.n = b.ntext = 0;
	b.cap = sizeof(b.local) / sizeof(b.local[0]);
	b.failed = false;
	for (size_t k = 0; k < NFIELDS; k++) {
		size_t before = b.n;
		row_collect(&b, record, &schema_paths[k], 0, schema[k].type);
		b.first[k] = (uint16_t)before;
		b.count[k] = (uint16_t)(b.n - before);
	}
	struct jfs_eval_row *row = NULL;
	if (!b.failed)
		row = malloc(sizeof(*row) + b.n * sizeof(struct rval) + b.ntext);
	if (row) {
		memcpy(row->first, b.first, sizeof(row->first));
		memcpy(row->count, b.count, sizeof(row->count));
		struct rval *vals = (struct rval *)(row + 1);
		char *text = (char *)(vals + b.n);
		size_t off = 0;
		for (size_t i = 0; i < b.n; i++) {
			const struct leaf *l = &b.v[i].l;
			struct rval *r = &vals[i];
			r->kind = l->kind & 3u;
			r->is_int = l->is_int;
			r->time_ok = l->time_ok;
			if (l->is_int || l->time_ok)
				r->i = l->i;
			else
				r->d = l->d;
			r->off = (uint32_t)off;
			r->len = (unsigned int)l->len & RVAL_MAX_LEN;
			memcpy(text + off, l->text, l->len);
			text[off + l->len] = '\0';
			off += l->len + 1;
		}
	}
	if (b.v != b.local)
		free(b.v);
	return row;
}

void jfs_eval_row_free(struct jfs_eval_row *row)
{
	free(row);
}

static void row_leaf(const struct jfs_eval_row *row, size_t field, size_t idx, struct leaf *l)
{
	const struct rval *vals = row_vals(row);
	const struct rval *r = &vals[row->first[field] + idx];
	l->kind = r->kind;
	/* The text follows the last field's values, which are the last values. */
	l->text = (const char *)(vals + row->first[NFIELDS - 1] + row->count[NFIELDS - 1]) +
		  r->off;
	l->len = r->len;
	l->is_int = r->is_int;
	l->time_ok = r->time_ok;
	l->i = r->i;
	l->d = r->d;
}

bool jfs_eval_filter_match_row(const struct jfs_eval_filter *f, const struct jfs_eval_row *row)
{
	size_t field = (size_t)(f->field - schema);
	for (size_t i = 0; i < row->count[field]; i++) {
		struct leaf l;
		row_leaf(row, field, i, &l);
		if (leaf_match(f, &l))
			return true;
	}
	return false;
}

int jfs_eval_order_compare_rows(const struct jfs_eval_order *o, const struct jfs_eval_row *a,
			    const struct jfs_eval_row *b)
{
	for (size_t i = 0; o && i < o->n; i++) {
		const struct order_key *k = &o->keys[i];
		size_t field = (size_t)(k->field - schema);
		struct leaf la, lb;
		row_leaf(a, field, 0, &la);
		row_leaf(b, field, 0, &lb);
		int c = key_compare(k, &la, &lb);
		if (c)
			return c;
	}
	/* Ties by uuid (schema[0]), as jfs_eval_order_compare breaks them. */
	struct leaf ua, ub;
	row_leaf(a, 0, 0, &ua);
	row_leaf(b, 0, 0, &ub);
	return uuid_compare(ua.kind == LEAF_OK ? ua.text : "",
			    ub.kind == LEAF_OK ? ub.text : "");
}
