/* Percent-encoding for URL query components (see include/jobsfs/urlenc.h). */
#include "jobsfs/urlenc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* RFC 3986 section 2.3; tested byte by byte, not with isalnum(), so no locale. */
static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

char *jfs_url_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);

	if (n > (SIZE_MAX - 1) / 3) {
		errno = ENOMEM;
		return NULL;
	}
	char *out = malloc(3 * n + 1);
	if (!out)
		return NULL;
	char *o = out;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (is_unreserved(*p)) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 0xf];
		}
	}
	*o = '\0';
	return out;
}

char *jfs_url_decode(const char *s, size_t len, size_t *out_len)
{
	if (len == SIZE_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	char *out = malloc(len + 1); /* decoding never grows the text */
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			/* Two hex digits must follow within len. */
			int hi = i + 2 < len ? hex_value((unsigned char)s[i + 1]) : -1;
			int lo = hi >= 0 ? hex_value((unsigned char)s[i + 2]) : -1;
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				goto invalid;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '\0') {
			goto invalid; /* a raw NUL cannot be represented in the result either */
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	if (out_len)
		*out_len = o;
	return out;

invalid:
	free(out);
	errno = EINVAL;
	return NULL;
}
