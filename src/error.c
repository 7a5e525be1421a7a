/* Errors that cross the core library's API (see include/jobsfs/error.h).
 *
 * Every text that lands in a struct jfs_error comes from the cluster's body or the
 * transport, so it is treated as hostile: control bytes become spaces (one log line
 * stays one line), bytes that are not UTF-8 become '?', and a text too long for its
 * field is cut between characters and marked with "...". Nothing here allocates except
 * the JSON parse of an error body. */
#include "jobsfs/error.h"

#include "jobsfs/log.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Error bodies are flat ({"error":{...,"arguments":[{...}]}}): anything deeper is not
 * one, and a small limit keeps a hostile body cheap to reject. */
#define ERROR_BODY_MAX_DEPTH 8

static const char ellipsis[] = "...";

/* The length of the well-formed UTF-8 sequence at s (avail bytes readable), or 0 when
 * s does not start one (stray continuation byte, overlong lead, cut sequence). */
static size_t utf8_sequence(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	size_t n = c < 0x80		   ? 1
		   : c >= 0xC2 && c <= 0xDF ? 2
		   : (c & 0xF0) == 0xE0	   ? 3
		   : c >= 0xF0 && c <= 0xF4 ? 4
					   : 0;
	if (n == 0 || n > avail)
		return 0;
	/* RFC 3629's table: the second byte's range excludes overlong forms (E0, F0),
	 * UTF-16 surrogates (ED) and code points past U+10FFFF (F4). */
	unsigned char lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
	unsigned char hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
	if (n > 1 && (s[1] < lo || s[1] > hi))
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return n;
}

/* Copy len bytes of src into dst (size bytes, size >= 1) as clean text, NUL-terminated:
 * control bytes become spaces and bytes that are not UTF-8 become '?', so a log line
 * stays one readable line. A text that does not fit is cut between characters and
 * ends in "..." (when dst has room for it). Returns true when the text was cut. */
bool jfs_clean_text(char *dst, size_t size, const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0, i = 0;

	while (i < len) {
		size_t n = utf8_sequence(s + i, len - i);
		if (o + (n ? n : 1) > size - 1)
			break;
		if (n == 0) {
			dst[o++] = '?';
			n = 1;
		} else if (n == 1 && (s[i] < 0x20 || s[i] == 0x7f)) {
			dst[o++] = ' ';
		} else {
			memcpy(dst + o, s + i, n);
			o += n;
		}
		i += n;
	}
	if (i == len) {
		dst[o] = '\0';
		return false;
	}
	if (size > sizeof(ellipsis)) {
		/* Make room for the mark, backing up to a character boundary (dst holds
		 * only whole sequences, so a lead byte is one, and so is the end of what
		 * was written: dst[written] and on were never written, never read). */
		size_t written = o;
		if (o > size - sizeof(ellipsis))
			o = size - sizeof(ellipsis);
		while (o > 0 && o < written && ((unsigned char)dst[o] & 0xC0) == 0x80)
			o--;
		memcpy(dst + o, ellipsis, sizeof(ellipsis));
	} else {
		dst[o] = '\0';
	}
	return true;
}

#define COPY_FIELD(field, src, len) jfs_clean_text((field), sizeof(field), (src), (len))

void jfs_error_clear(struct jfs_error *e)
{
	if (e)
		memset(e, 0, sizeof(*e));
}

int jfs_error_set(struct jfs_error *e, int err, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	if (!e)
		return -err;
	va_start(ap, fmt);
	if (vsnprintf(text, sizeof(text), fmt, ap) < 0)
		text[0] = '\0';
	va_end(ap);
	e->err = err;
	e->repeated = false; /* a new error: its caller logs it */
	/* text holds more than message can, so a text vsnprintf cut is cut again here,
	 * safely and marked. */
	COPY_FIELD(e->message, text, strlen(text));
	return -err;
}

void jfs_error_set_request(struct jfs_error *e, const char *method, const char *path)
{
	char text[sizeof(e->request) + 1];

	if (!e)
		return;
	if (!method || !path) {
		e->request[0] = '\0';
		return;
	}
	/* Callers pass a path; should a whole URL come, never keep its user:password@. */
	const char *scheme_end = strstr(path, "://");
	if (scheme_end) {
		const char *host = scheme_end + 3;
		size_t authority = strcspn(host, "/?#");
		const char *at = memchr(host, '@', authority);
		if (at)
			snprintf(text, sizeof(text), "%s %.*s%s", method,
				 (int)(host - path), path, at + 1);
		else
			snprintf(text, sizeof(text), "%s %s", method, path);
	} else {
		snprintf(text, sizeof(text), "%s %s", method, path);
	}
	COPY_FIELD(e->request, text, strlen(text));
}

/* Copy a JSON string or integer member of obj into a field ("" when absent or of
 * another type). Returns true when the text was cut. */
static bool copy_member(struct json_object *obj, const char *key, char *dst, size_t size)
{
	struct json_object *v;
	char num[32];

	dst[0] = '\0';
	if (!json_object_object_get_ex(obj, key, &v))
		return false;
	switch (json_object_get_type(v)) {
	case json_type_string:
		return jfs_clean_text(dst, size, json_object_get_string(v),
				 (size_t)json_object_get_string_len(v));
	case json_type_int: /* some releases send the code as a number */
		snprintf(num, sizeof(num), "%" PRId64, json_object_get_int64(v));
		return jfs_clean_text(dst, size, num, strlen(num));
	default:
		return false; /* null, objects, arrays, doubles, booleans: not a text */
	}
}

/* Append "; message" of each argument that has a string message, while the field
 * has room. */
static void append_arguments(struct json_object *arguments, char *msg, size_t size)
{
	size_t n = json_object_array_length(arguments);
	size_t used = strlen(msg);

	for (size_t i = 0; i < n; i++) {
		struct json_object *arg = json_object_array_get_idx(arguments, i);
		struct json_object *m;
		if (!json_object_is_type(arg, json_type_object) ||
		    !json_object_object_get_ex(arg, "message", &m) ||
		    !json_object_is_type(m, json_type_string))
			continue;
		if (used > 0) {
			if (size - used < sizeof("; ") + sizeof(ellipsis))
				return;
			memcpy(msg + used, "; ", sizeof("; "));
			used += 2;
		}
		if (jfs_clean_text(msg + used, size - used, json_object_get_string(m),
			      (size_t)json_object_get_string_len(m)))
			return;
		used += strlen(msg + used);
	}
}

int jfs_ontap_error_parse(const char *body, size_t len, struct jfs_error *e)
{
	struct json_tokener *tok;
	struct json_object *root, *error, *arguments;
	int rc = -EINVAL;

	if (!body || !e || len == 0 || len > INT_MAX)
		return -EINVAL;
	tok = json_tokener_new_ex(ERROR_BODY_MAX_DEPTH);
	if (!tok)
		return -ENOMEM;
	root = json_tokener_parse_ex(tok, body, (int)len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success)
		goto out;
	/* Only whitespace may follow the object. */
	for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
		if (!strchr(" \t\r\n", body[i]) || body[i] == '\0')
			goto out;
	if (!json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "error", &error) ||
	    !json_object_is_type(error, json_type_object))
		goto out;

	copy_member(error, "code", e->code, sizeof(e->code));
	copy_member(error, "target", e->target, sizeof(e->target));
	bool cut = copy_member(error, "message", e->message, sizeof(e->message));
	if (!cut && json_object_object_get_ex(error, "arguments", &arguments) &&
	    json_object_is_type(arguments, json_type_array))
		append_arguments(arguments, e->message, sizeof(e->message));
	rc = 0;
out:
	json_object_put(root);
	json_tokener_free(tok);
	return rc;
}

/* The refusals of PATCH /api/cluster/jobs/{uuid}?action=... (ontap-jobs-api.md), as a
 * shell shows them: `echo pause > ctl` fails with the errno's text, and the log line
 * quotes the cluster's message. */
static const struct {
	const char *code;
	int err;
} action_refusals[] = {
	{ "458762", ESRCH },	  /* the job already finished: nothing runs to act on */
	{ "458771", EALREADY },	  /* resume of a job that is running */
	{ "458776", EAGAIN },	  /* pause of a job that is not running (yet) */
	{ "458783", EOPNOTSUPP }, /* the job cannot pause or resume */
	{ "458784", EOPNOTSUPP }, /* the job cannot be canceled */
	{ "458773", EAGAIN },	  /* the Job Manager is not initialized yet */
};

int jfs_errno_from_http(long status, const char *code)
{
	for (size_t i = 0; code && i < sizeof(action_refusals) / sizeof(action_refusals[0]); i++)
		if (strcmp(code, action_refusals[i].code) == 0)
			return action_refusals[i].err;
	if (code && strcmp(code, "4") == 0)
		return ENOENT;
	if (code && strcmp(code, "6") == 0)
		return EACCES;
	if (status == 404)
		return ENOENT;
	if (status == 401 || status == 403)
		return EACCES;
	if (status >= 400 && status < 500)
		return EINVAL;
	return EIO;
}

/* Append formatted text at *pos in buf (len bytes), cutting safely when full. */
static void __attribute__((format(printf, 4, 5)))
append(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
	char text[1024]; /* more than any one piece: the largest field is 512 bytes */
	va_list ap;

	if (*pos + 1 >= len)
		return;
	va_start(ap, fmt);
	if (vsnprintf(text, sizeof(text), fmt, ap) < 0)
		text[0] = '\0';
	va_end(ap);
	if (jfs_clean_text(buf + *pos, len - *pos, text, strlen(text)))
		*pos = len - 1; /* full: later pieces are dropped */
	else
		*pos += strlen(buf + *pos);
}

const char *jfs_error_format(const struct jfs_error *e, char *buf, size_t len)
{
	char errtext[128];
	size_t pos = 0;
	bool open = false; /* the " (details" part has begun */

	if (!buf || len == 0)
		return buf;
	buf[0] = '\0';
	if (!e)
		return buf;
	if (e->request[0])
		append(buf, len, &pos, "%s: ", e->request);
	/* GNU strerror_r: thread-safe, returns the text (maybe not in errtext). */
	append(buf, len, &pos, "%s",
	       e->err ? strerror_r(e->err, errtext, sizeof(errtext)) : "no error");

	/* " (HTTP 400, ONTAP code 262197: message, target "x")", each part optional. */
	if (e->http_status) {
		append(buf, len, &pos, " (HTTP %ld", e->http_status);
		open = true;
	}
	if (e->code[0]) {
		append(buf, len, &pos, "%sONTAP code %s", open ? ", " : " (", e->code);
		open = true;
	}
	if (e->message[0]) {
		append(buf, len, &pos, "%s%s", e->code[0] ? ": " : open ? ", " : " (",
		       e->message);
		open = true;
	}
	/* The target is usually named in the message; add it only when it is not. */
	if (e->target[0] && !strstr(e->message, e->target)) {
		append(buf, len, &pos, "%starget \"%s\"", open ? ", " : " (", e->target);
		open = true;
	}
	if (open)
		append(buf, len, &pos, ")");
	return buf;
}

void jfs_error_log(const struct jfs_error *e, const char *what)
{
	char text[1024];

	jfs_error_format(e, text, sizeof(text));
	if (what && what[0])
		jfs_err("%s: %s", what, text);
	else
		jfs_err("%s", text);
}
