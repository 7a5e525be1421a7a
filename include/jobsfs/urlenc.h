/* Percent-encoding for URL query components (RFC 3986). */
#ifndef JOBSFS_URLENC_H
#define JOBSFS_URLENC_H

#include <stddef.h>

/* Encode every byte but the unreserved set (A-Z a-z 0-9 - . _ ~) as %XX, so that the
 * query language's * ! | < > .. and quotes, braces, spaces, &, #, %, +, ?, = and
 * non-ASCII bytes reach the cluster exactly. Returns a malloc'd string, NULL on ENOMEM. */
char *jfs_url_encode(const char *s);

/* Decode the len bytes at s: %XX sequences (hex digits in either case), and nothing
 * else: '+' stays '+'. Returns a malloc'd string of *out_len bytes plus a NUL, or NULL
 * with errno EINVAL for a malformed escape ('%' not followed by two hex digits), an
 * encoded NUL (%00) or a raw NUL byte within len, ENOMEM when out of memory. out_len
 * may be NULL. */
char *jfs_url_decode(const char *s, size_t len, size_t *out_len);

#endif
