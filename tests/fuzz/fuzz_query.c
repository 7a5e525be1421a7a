/* Fuzz target: a chain of query segments as a path names them ("state=failure" /
 * "description=*Snap*" / ...: the input split at '/' and NUL), added one by one to a
 * query (jfs_query_add_segment), as lookup in a view does; plus jfs_url_decode over
 * the raw input.
 *
 * Checks after every segment: an accepted segment is a query segment
 * (jfs_segment_is_query) and is found by name with its value; a refused one is
 * -EINVAL with a message and leaves the query exactly as it was; the canonical string
 * reads back (names sorted and unique, values decoding to the parameters) and equals
 * that of a copy (jfs_query_dup) and that of the same segments added in reverse order
 * (one filter, one cache key, whatever the path). */
#include "fuzz.h"

#include "jobsfs/error.h"
#include "jobsfs/query.h"
#include "jobsfs/urlenc.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#define MAX_SEGMENTS 64

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_log();
	return 0;
}

static bool is_name_byte(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.';
}

static bool is_unreserved(char c)
{
	return is_name_byte(c) || c == '-' || c == '~';
}

static bool is_upper_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/* The canonical string, read back against the query's own parameters. */
static void check_canonical(const struct jfs_query *q)
{
	const char *s = jfs_query_string(q);
	char *copy = fuzz_strndup((const uint8_t *)s, strlen(s));
	char *prev = NULL, *save = NULL;
	size_t count = 0;

	FUZZ_CHECK((jfs_query_count(q) == 0) == (s[0] == '\0'), "empty string iff no params");
	for (char *pair = strtok_r(copy, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(pair, '=');
		FUZZ_CHECK(eq && eq > pair, "pair \"%s\" without a name", pair);
		*eq = '\0';
		const char *name = pair, *enc = eq + 1;
		for (const char *p = name; *p; p++)
			FUZZ_CHECK(is_name_byte(*p), "name \"%s\"", name);
		for (const char *p = enc; *p; p++) {
			if (*p == '%') {
				FUZZ_CHECK(is_upper_hex(p[1]) && is_upper_hex(p[2]), "escape in %s",
					   enc);
				p += 2;
			} else {
				FUZZ_CHECK(is_unreserved(*p), "raw '%c' in %s", *p, enc);
			}
		}
		if (prev)
			FUZZ_CHECK(strcmp(prev, name) < 0, "\"%s\" before \"%s\"", prev, name);
		prev = pair;
		const char *value = jfs_query_get(q, name);
		FUZZ_CHECK(value != NULL, "\"%s\" in the string but not in the query", name);
		size_t len;
		char *dec = jfs_url_decode(enc, strlen(enc), &len);
		FUZZ_CHECK(dec != NULL || value[0] == '\0', "value of %s does not decode", name);
		if (dec) {
			FUZZ_CHECK(strcmp(dec, value) == 0 && len == strlen(value),
				   "%s: \"%s\" reads back as \"%s\"", name, value, dec);
			free(dec);
		}
		count++;
	}
	FUZZ_CHECK(count == jfs_query_count(q), "%zu pairs for %zu params", count,
		   jfs_query_count(q));
	free(copy);
}

static void check_same_query(const struct jfs_query *a, const struct jfs_query *b)
{
	FUZZ_CHECK(strcmp(jfs_query_string(a), jfs_query_string(b)) == 0, "\"%s\" vs \"%s\"",
		   jfs_query_string(a), jfs_query_string(b));
	FUZZ_CHECK(jfs_query_count(a) == jfs_query_count(b), "counts");
	FUZZ_CHECK(jfs_query_max_records(a) == jfs_query_max_records(b), "max_records");
}

/* Add one segment to q and check what that did. Returns true when it was accepted. */
static bool add_segment(struct jfs_query *q, const char *seg)
{
	struct jfs_error e;
	char *before = fuzz_strndup((const uint8_t *)jfs_query_string(q),
				    strlen(jfs_query_string(q)));
	size_t count = jfs_query_count(q);
	unsigned long max = jfs_query_max_records(q);

	jfs_error_clear(&e);
	int rc = jfs_query_add_segment(q, seg, &e);
	if (rc < 0) {
		FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM, "refused with %d", rc);
		FUZZ_CHECK(e.err == -rc && e.message[0], "refusal without e");
		FUZZ_CHECK(fuzz_text_is_clean(e.message, sizeof(e.message)), "message");
		FUZZ_CHECK(strcmp(before, jfs_query_string(q)) == 0 &&
				   count == jfs_query_count(q) &&
				   max == jfs_query_max_records(q),
			   "a refused \"%s\" changed the query", seg);
		free(before);
		return false;
	}
	FUZZ_CHECK(rc == 0, "returned %d", rc);
	FUZZ_CHECK(jfs_segment_is_query(seg), "accepted \"%s\", not a query segment", seg);
	FUZZ_CHECK(jfs_query_count(q) == count + 1, "count did not grow");

	const char *eq = strchr(seg, '=');
	char *name = fuzz_strndup((const uint8_t *)seg, (size_t)(eq - seg));
	const char *value = jfs_query_get(q, name);
	FUZZ_CHECK(value != NULL, "\"%s\" not found after adding it", name);
	if (strcmp(name, JFS_QUERY_MAX_RECORDS) == 0) {
		char number[32];
		snprintf(number, sizeof(number), "%lu", jfs_query_max_records(q));
		FUZZ_CHECK(jfs_query_max_records(q) > 0 && strcmp(value, number) == 0,
			   "max_records \"%s\" stored as \"%s\" / %lu", eq + 1, value,
			   jfs_query_max_records(q));
		FUZZ_CHECK(strtoul(eq + 1, NULL, 10) == jfs_query_max_records(q), "value");
	} else {
		FUZZ_CHECK(strcmp(value, eq + 1) == 0, "\"%s\" stored as \"%s\"", eq + 1, value);
		FUZZ_CHECK(max == jfs_query_max_records(q), "max_records changed");
	}
	free(name);
	free(before);
	return true;
}

static void check_url_round_trip(const char *s)
{
	char *enc = jfs_url_encode(s);
	if (!enc)
		return;
	size_t len;
	char *dec = jfs_url_decode(enc, strlen(enc), &len);
	FUZZ_CHECK(dec && len == strlen(s) && strcmp(dec, s) == 0,
		   "url decode(encode(\"%s\")) failed", s);
	free(dec);
	free(enc);
}

static void check_url_decode(const uint8_t *data, size_t size)
{
	size_t len = SIZE_MAX;
	char *dec = jfs_url_decode((const char *)data, size, &len);
	if (!dec) {
		FUZZ_CHECK(errno == EINVAL || errno == ENOMEM, "errno %d", errno);
		return;
	}
	FUZZ_CHECK(len <= size && dec[len] == '\0' && strlen(dec) == len,
		   "decoded %zu bytes of %zu, or a NUL inside", len, size);
	FUZZ_CHECK(!memchr(data, '\0', size), "a raw NUL was accepted");
	check_url_round_trip(dec);
	free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size);
	char *segs[MAX_SEGMENTS];
	size_t nsegs = 0;

	check_url_decode(data, size);

	/* Split at '/' and NUL: a path cannot hold either inside one segment. */
	for (size_t i = 0, start = 0; i <= size && nsegs < MAX_SEGMENTS; i++) {
		if (i == size || text[i] == '/' || text[i] == '\0') {
			text[i] = '\0';
			segs[nsegs++] = text + start;
			start = i + 1;
		}
	}

	struct jfs_query *q = jfs_query_new();
	bool *accepted = calloc(nsegs ? nsegs : 1, sizeof(*accepted));
	if (!q || !accepted)
		abort();
	for (size_t i = 0; i < nsegs; i++) {
		const char *s = segs[i];
		FUZZ_CHECK(jfs_segment_is_query(s) == (s[0] && strchr(s + 1, '=')),
			   "jfs_segment_is_query(\"%s\")", s);
		check_url_round_trip(s);
		/* As lookup does: a copy of the parent's query, then one segment more. */
		struct jfs_query *child = jfs_query_dup(q);
		if (!child)
			abort();
		check_same_query(q, child);
		if (!jfs_segment_is_query(s)) {
			/* lookup never adds one, and the parser refuses it too. */
			struct jfs_error e;
			jfs_error_clear(&e);
			FUZZ_CHECK(jfs_query_add_segment(child, s, &e) == -EINVAL,
				   "\"%s\" is no query segment, but was taken", s);
			check_same_query(q, child);
			jfs_query_free(child);
			continue;
		}
		accepted[i] = add_segment(child, s);
		check_canonical(child);
		if (accepted[i]) {
			jfs_query_free(q);
			q = child;
		} else {
			check_same_query(q, child);
			jfs_query_free(child);
		}
	}

	/* The same filter reached the other way round is the same query. */
	struct jfs_query *rev = jfs_query_new();
	if (!rev)
		abort();
	for (size_t i = nsegs; i-- > 0;) {
		if (!accepted[i])
			continue;
		struct jfs_error e;
		jfs_error_clear(&e);
		int rc = jfs_query_add_segment(rev, segs[i], &e);
		FUZZ_CHECK(rc == 0, "\"%s\" refused in reverse order: %s", segs[i], e.message);
	}
	check_same_query(q, rev);
	check_canonical(q);

	jfs_query_free(rev);
	jfs_query_free(q);
	free(accepted);
	free(text);
	return 0;
}
