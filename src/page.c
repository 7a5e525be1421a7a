/* One page of a collection answer (see include/jobsfs/page.h).
 *
 * The body comes from the network and is parsed with limits: strict JSON, a nesting
 * depth cap (a "depth bomb" of brackets costs nothing), and nothing after the value.
 * Every failure says what was wrong and where, for the one log line the user sees. */
#include "jobsfs/page.h"

#include "jobsfs/error.h"
#include "jobsfs/job.h"
#include "jobsfs/log.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* json-c allocates its parse stack for the whole depth up front: keep it modest. */
#define MAX_DEPTH_CAP 4096

static bool is_json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int jfs_json_body_parse(const char *body, size_t len, int max_depth, struct json_object **out,
			struct jfs_error *e)
{
	struct json_tokener *tok;
	struct json_object *root;
	int rc = 0;

	*out = NULL;
	if (!body || len == 0)
		return jfs_error_set(e, EIO, "empty body where JSON was expected");
	if (len > INT_MAX) /* json_tokener_parse_ex takes an int */
		return jfs_error_set(e, EIO, "body of %zu bytes is too large to parse", len);
	if (max_depth < 1)
		max_depth = 1;
	if (max_depth > MAX_DEPTH_CAP)
		max_depth = MAX_DEPTH_CAP;
	/* json-c's depth counts one more than the levels it lets nest: ask for one more,
	 * so that max_depth levels ({"records":[{...}]} is three) parse. */
	tok = json_tokener_new_ex(max_depth + 1);
	if (!tok)
		return jfs_error_set(e, ENOMEM, "out of memory");
	/* Strict: no comments, trailing commas or bare words (json-c 0.16 still lets a
	 * single-quoted key through; harmless). Trailing bytes are allowed here so that
	 * the check below can say where they start. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
	root = json_tokener_parse_ex(tok, body, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	if (!root && jerr == json_tokener_continue) {
		/* Either the body ends inside a value, or it is a bare number the tokener
		 * cannot close without seeing an end: give it one. */
		root = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		if (!root) {
			rc = jfs_error_set(e, EIO,
					   "truncated JSON: the body ends at byte %zu inside a "
					   "value",
					   len);
			goto out;
		}
		goto done;
	}
	if (!root || jerr != json_tokener_success) {
		size_t at = json_tokener_get_parse_end(tok);
		if (jerr == json_tokener_error_depth)
			rc = jfs_error_set(e, EIO,
					   "invalid JSON at offset %zu: nested deeper than %d "
					   "levels",
					   at, max_depth);
		else
			rc = jfs_error_set(e, EIO, "invalid JSON at offset %zu: %s", at,
					   json_tokener_error_desc(jerr));
		goto out;
	}
	for (size_t i = json_tokener_get_parse_end(tok); i < len; i++) {
		if (!is_json_space(body[i])) {
			rc = jfs_error_set(e, EIO,
					   "invalid JSON at offset %zu: trailing data after the "
					   "value",
					   i);
			goto out;
		}
	}
done:
	*out = root;
	root = NULL;
out:
	json_object_put(root);
	json_tokener_free(tok);
	return rc;
}

void jfs_page_free(struct jfs_page *page)
{
	if (!page)
		return;
	for (size_t i = 0; i < page->n; i++)
		jfs_job_unref(page->jobs[i]);
	free(page->jobs);
	free(page->next_href);
	memset(page, 0, sizeof(*page));
}

/* _links.next.href as a malloc'd string; *href stays NULL when there is none. */
static int next_href(struct json_object *root, char **href)
{
	struct json_object *links, *next, *h;

	*href = NULL;
	if (!json_object_object_get_ex(root, "_links", &links) ||
	    !json_object_object_get_ex(links, "next", &next) ||
	    !json_object_object_get_ex(next, "href", &h) ||
	    !json_object_is_type(h, json_type_string))
		return 0;
	*href = strdup(json_object_get_string(h));
	return *href ? 0 : -ENOMEM;
}

int jfs_page_parse(const char *body, size_t len, int max_depth, struct jfs_page *out,
		   struct jfs_error *e)
{
	struct json_object *root, *records, *num;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = jfs_json_body_parse(body, len, max_depth, &root, e)) < 0)
		return rc;
	if (!json_object_is_type(root, json_type_object)) {
		rc = jfs_error_set(e, EIO, "collection body is not a JSON object");
		goto out;
	}
	if (!json_object_object_get_ex(root, "records", &records)) {
		/* return_records=false answers carry only num_records. */
		if (json_object_object_get_ex(root, "num_records", &num) &&
		    json_object_is_type(num, json_type_int))
			goto links;
		rc = jfs_error_set(e, EIO, "collection body has no \"records\" array");
		goto out;
	}
	if (!json_object_is_type(records, json_type_array)) {
		rc = jfs_error_set(e, EIO, "collection body's \"records\" is not an array");
		goto out;
	}

	size_t n = json_object_array_length(records);
	if (n > 0 && !(out->jobs = calloc(n, sizeof(*out->jobs)))) {
		rc = jfs_error_set(e, ENOMEM, "out of memory for %zu records", n);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct jfs_error why;
		jfs_error_clear(&why);
		rc = jfs_job_from_json(json_object_array_get_idx(records, i),
				       &out->jobs[out->n], &why);
		if (rc == -EINVAL) {
			/* One bad record must not hide the others. */
			jfs_warn("collection record %zu skipped: %s", i, why.message);
			continue;
		}
		if (rc < 0) {
			rc = jfs_error_set(e, -rc, "record %zu: %s", i, why.message);
			goto out;
		}
		out->n++;
	}
links:
	if (next_href(root, &out->next_href) < 0) {
		rc = jfs_error_set(e, ENOMEM, "out of memory");
		goto out;
	}
	rc = 0;
out:
	json_object_put(root);
	if (rc < 0)
		jfs_page_free(out);
	return rc;
}

size_t jfs_json_escape(const char *s, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6] = { '\\', (char)c };
		size_t w = 2;
		switch (c) {
		case '"': case '\\': break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			if (c >= 0x20) { /* as it is */
				if (out)
					out[n] = (char)c;
				n++;
				continue;
			}
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			w = 6;
		}
		if (out)
			memcpy(out + n, esc, w);
		n += w;
	}
	return n;
}
