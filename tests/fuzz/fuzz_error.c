/* Fuzz target: an error body as a cluster sends it (jfs_ontap_error_parse), and the
 * line a user then reads (jfs_error_format) at several buffer sizes; the same bytes
 * as a request path (jfs_error_set_request) and a formatted message (jfs_error_set).
 *
 * Checks: a body that is not an ONTAP error is -EINVAL and leaves e untouched; every
 * field and every formatted line is one clean line (NUL-terminated in its buffer, no
 * control bytes, whole UTF-8 sequences), whatever the body held; a request never
 * keeps the user:password@ of a URL; jfs_errno_from_http gives one of its four
 * errnos. */
#include "fuzz.h"

#include "jobsfs/error.h"

#include <errno.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_log();
	return 0;
}

#define CHECK_CLEAN(field) \
	FUZZ_CHECK(fuzz_text_is_clean((field), sizeof(field)), #field " not clean")

static void check_format(const struct jfs_error *e)
{
	static const size_t sizes[] = { 1, 2, 5, 17, 64, 200, 1024, 2048 };
	char buf[2048 + 1];

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = sizes[i];
		buf[len] = 'X'; /* a canary just past what the call may write */
		const char *r = jfs_error_format(e, buf, len);
		FUZZ_CHECK(r == buf, "format returned another buffer");
		FUZZ_CHECK(buf[len] == 'X', "format wrote past %zu bytes", len);
		FUZZ_CHECK(fuzz_text_is_clean(buf, len), "format into %zu bytes not clean", len);
	}
}

static void fuzz_error_body(const char *body, size_t size)
{
	struct jfs_error e, before;

	/* Fields that a failed parse must leave as they were. */
	jfs_error_clear(&e);
	e.err = EIO;
	e.http_status = 400;
	strcpy(e.code, "123");
	strcpy(e.target, "t");
	strcpy(e.message, "earlier");
	strcpy(e.request, "GET /api/cluster/jobs");
	before = e;

	int rc = jfs_ontap_error_parse(body, size, &e);
	if (rc < 0) {
		FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM, "failed with %d", rc);
		FUZZ_CHECK(memcmp(&e, &before, sizeof(e)) == 0, "a failed parse changed e");
	} else {
		FUZZ_CHECK(rc == 0, "returned %d", rc);
		FUZZ_CHECK(e.err == EIO && e.http_status == 400, "parse changed err/status");
		CHECK_CLEAN(e.code);
		CHECK_CLEAN(e.target);
		CHECK_CLEAN(e.message);
	}
	/* The errno a user gets for this body under each kind of HTTP status: the
	 * cluster's code first (a job action's refusals, "4", "6"), then the status. */
	static const long statuses[] = { 0, 200, 400, 401, 403, 404, 409, 500, 503, 600 };
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		long st = statuses[i];
		int want = strcmp(e.code, "458762") == 0   ? ESRCH
			   : strcmp(e.code, "458771") == 0 ? EALREADY
			   : strcmp(e.code, "458776") == 0 ? EAGAIN
			   : strcmp(e.code, "458773") == 0 ? EAGAIN
			   : strcmp(e.code, "458783") == 0 ? EOPNOTSUPP
			   : strcmp(e.code, "458784") == 0 ? EOPNOTSUPP
			   : strcmp(e.code, "4") == 0	   ? ENOENT
			   : strcmp(e.code, "6") == 0 ? EACCES
			   : st == 404		      ? ENOENT
			   : st == 401 || st == 403   ? EACCES
			   : st >= 400 && st < 500    ? EINVAL
						      : EIO;
		int err = jfs_errno_from_http(st, e.code);
		FUZZ_CHECK(err == want, "HTTP %ld, code \"%s\": errno %d, not %d", st, e.code,
			   err, want);
	}
	check_format(&e);
	e.http_status = 0;
	e.request[0] = '\0';
	check_format(&e);
}

/* The user:password@ part of a URL's authority in s, or 0 when it has none. */
static size_t userinfo_len(const char *s, const char **start)
{
	const char *scheme_end = strstr(s, "://");
	if (!scheme_end)
		return 0;
	const char *host = scheme_end + 3;
	size_t authority = strcspn(host, "/?#");
	const char *at = memchr(host, '@', authority);
	if (!at)
		return 0;
	*start = host;
	return (size_t)(at - host) + 1;
}

static void fuzz_request_and_message(const char *text)
{
	struct jfs_error e;

	jfs_error_clear(&e);
	jfs_error_set_request(&e, "GET", text);
	CHECK_CLEAN(e.request);
	const char *user = NULL;
	size_t n = userinfo_len(text, &user);
	if (n > 8) { /* shorter ones may occur elsewhere by chance */
		/* The secret must be gone, unless the rest of the text holds it too (or
		 * could once control bytes became spaces and broken UTF-8 '?'). */
		size_t len = strlen(text);
		char *secret = fuzz_strndup((const uint8_t *)user, n);
		char *rest = fuzz_strndup((const uint8_t *)text, len);
		memmove(rest + (user - text), user + n, len - (size_t)(user - text) - n + 1);
		if (!strstr(rest, secret) && !strpbrk(secret, " ?"))
			FUZZ_CHECK(!strstr(e.request, secret), "request kept \"%s\"", secret);
		free(rest);
		free(secret);
	}

	FUZZ_CHECK(jfs_error_set(&e, ENOENT, "job %s: %s", text, text) == -ENOENT, "return");
	FUZZ_CHECK(e.err == ENOENT, "err");
	CHECK_CLEAN(e.message);
	check_format(&e);
	FUZZ_CHECK(jfs_error_set(NULL, EIO, "%s", text) == -EIO, "NULL e");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_error_body((const char *)data, size);
	char *text = fuzz_strndup(data, size);
	fuzz_request_and_message(text);
	free(text);
	return 0;
}
