/* Fault SPEC parsing and per-request consumption (see faults.h, tests/sim/README.md). */
#include "faults.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	enum fault_kind kind;
	bool needs_value; /* VALUE is required */
	bool takes_value; /* VALUE is allowed */
	long min, max, dflt;
} kinds[] = {
	{ "latency", FAULT_LATENCY, true, true, 0, 600000, 0 },
	{ "stall", FAULT_STALL, true, true, 0, 3600, 0 },
	{ "status", FAULT_STATUS, true, true, 100, 599, 0 },
	{ "reset", FAULT_RESET, false, false, 0, 0, 0 },
	{ "truncate", FAULT_TRUNCATE, false, false, 0, 0, 0 },
	{ "badjson", FAULT_BADJSON, false, false, 0, 0, 0 },
	{ "bigfield", FAULT_BIGFIELD, false, true, 1, 64L << 20, 1048576 },
	{ "hostile", FAULT_HOSTILE, false, false, 0, 0, 0 },
	{ "repeat-next", FAULT_REPEAT_NEXT, false, false, 0, 0, 0 },
	{ "foreign-next", FAULT_FOREIGN_NEXT, true, true, 0, 0, 0 },
	{ "empty-pages", FAULT_EMPTY_PAGES, true, true, 0, 1000000, 0 },
	{ "readonly", FAULT_READONLY, false, false, 0, 0, 0 },
	{ "jobmgr", FAULT_JOBMGR, false, false, 0, 0, 0 },
};

int faults_init(struct sim_faults *f)
{
	memset(f, 0, sizeof(*f));
	return -pthread_mutex_init(&f->lock, NULL);
}

void faults_destroy(struct sim_faults *f)
{
	pthread_mutex_destroy(&f->lock);
}

static bool parse_long(const char *s, size_t len, long *out)
{
	char buf[32], *end;
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (!isdigit((unsigned char)buf[0]))
		return false;
	errno = 0;
	long v = strtol(buf, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static int parse_item(const char *s, size_t len, struct fault_item *it, char *err,
		      size_t errlen)
{
	while (len && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	memset(it, 0, sizeof(*it));
	it->count = -1;

	const char *star = memrchr(s, '*', len);
	if (star) {
		if (!parse_long(star + 1, len - (size_t)(star + 1 - s), &it->count) ||
		    it->count < 1) {
			snprintf(err, errlen, "bad count in \"%.*s\"", (int)len, s);
			return -EINVAL;
		}
		len = (size_t)(star - s);
	}
	const char *eq = memchr(s, '=', len);
	size_t name_len = eq ? (size_t)(eq - s) : len;
	const char *val = eq ? eq + 1 : NULL;
	size_t val_len = eq ? len - name_len - 1 : 0;

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		if (strlen(kinds[k].name) != name_len || memcmp(kinds[k].name, s, name_len))
			continue;
		it->kind = kinds[k].kind;
		it->value = kinds[k].dflt;
		if (!val && kinds[k].needs_value) {
			snprintf(err, errlen, "fault \"%s\" needs a value", kinds[k].name);
			return -EINVAL;
		}
		if (val && !kinds[k].takes_value) {
			snprintf(err, errlen, "fault \"%s\" takes no value", kinds[k].name);
			return -EINVAL;
		}
		if (val && it->kind == FAULT_FOREIGN_NEXT) {
			if (val_len == 0 || val_len >= sizeof(it->origin)) {
				snprintf(err, errlen, "bad origin for foreign-next");
				return -EINVAL;
			}
			memcpy(it->origin, val, val_len);
			it->origin[val_len] = '\0';
		} else if (val && (!parse_long(val, val_len, &it->value) ||
				   it->value < kinds[k].min || it->value > kinds[k].max)) {
			snprintf(err, errlen, "bad value \"%.*s\" for fault \"%s\" (%ld..%ld)",
				 (int)val_len, val, kinds[k].name, kinds[k].min, kinds[k].max);
			return -EINVAL;
		}
		return 0;
	}
	snprintf(err, errlen, "unknown fault \"%.*s\"", (int)name_len, s);
	return -EINVAL;
}

int faults_parse(const char *spec, struct fault_item *items, size_t *n, char *err,
		 size_t errlen)
{
	*n = 0;
	const char *p = spec;
	while (*p) {
		size_t len = strcspn(p, ",");
		bool blank = true;
		for (size_t i = 0; i < len; i++)
			blank = blank && isspace((unsigned char)p[i]);
		if (!blank) {
			if (*n == FAULTS_MAX) {
				snprintf(err, errlen, "more than %d faults", FAULTS_MAX);
				return -EINVAL;
			}
			int rc = parse_item(p, len, &items[*n], err, errlen);
			if (rc)
				return rc;
			(*n)++;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

int faults_set(struct sim_faults *f, const char *spec, char *err, size_t errlen)
{
	struct fault_item items[FAULTS_MAX];
	size_t n;
	int rc = faults_parse(spec, items, &n, err, errlen);
	if (rc)
		return rc;
	pthread_mutex_lock(&f->lock);
	memcpy(f->items, items, n * sizeof(items[0]));
	f->n = n;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static void apply(const struct fault_item *it, struct fault_effect *e)
{
	switch (it->kind) {
	case FAULT_LATENCY: e->latency_ms += it->value; break;
	case FAULT_STALL: e->stall_s = it->value; break;
	case FAULT_STATUS: e->status = (int)it->value; break;
	case FAULT_RESET: e->reset = true; break;
	case FAULT_TRUNCATE: e->truncate = true; break;
	case FAULT_BADJSON: e->badjson = true; break;
	case FAULT_BIGFIELD: e->bigfield = (size_t)it->value; break;
	case FAULT_HOSTILE: e->hostile = true; break;
	case FAULT_REPEAT_NEXT: e->repeat_next = true; break;
	case FAULT_FOREIGN_NEXT:
		snprintf(e->foreign_origin, sizeof(e->foreign_origin), "%s", it->origin);
		break;
	case FAULT_EMPTY_PAGES: e->empty_pages = it->value; break;
	case FAULT_READONLY: e->readonly = true; break;
	case FAULT_JOBMGR: e->jobmgr = true; break;
	}
}

void faults_take(struct sim_faults *f, struct fault_effect *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&f->lock);
	size_t kept = 0;
	for (size_t i = 0; i < f->n; i++) {
		struct fault_item *it = &f->items[i];
		apply(it, out);
		if (it->count > 0 && --it->count == 0)
			continue; /* used up */
		f->items[kept++] = *it;
	}
	f->n = kept;
	pthread_mutex_unlock(&f->lock);
}

char *faults_spec(struct sim_faults *f)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	if (!out)
		return NULL;
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->n; i++) {
		const struct fault_item *it = &f->items[i];
		const char *name = "?";
		bool valued = false;
		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
			if (kinds[k].kind == it->kind) {
				name = kinds[k].name;
				valued = kinds[k].takes_value;
			}
		}
		fprintf(out, "%s%s", i ? "," : "", name);
		if (it->kind == FAULT_FOREIGN_NEXT)
			fprintf(out, "=%s", it->origin);
		else if (valued)
			fprintf(out, "=%ld", it->value);
		if (it->count > 0)
			fprintf(out, "*%ld", it->count);
	}
	pthread_mutex_unlock(&f->lock);
	if (fclose(out) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
