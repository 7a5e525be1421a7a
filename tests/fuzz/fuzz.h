/* What every fuzz target shares: the libFuzzer entry points (declared here, so that
 * -Wmissing-prototypes holds for them as for everything else), the check that turns
 * a broken property into a crash the fuzzer keeps, and the property checks that more
 * than one target applies (fuzz_checks.c).
 *
 * A target is built two ways (tests/fuzz/meson.build): with clang's libFuzzer, which
 * supplies main(); or with replay_main.c, which runs the files of a corpus through it
 * once (a regression replay, under gcc and its sanitizers). */
#ifndef JOBSFS_FUZZ_H
#define JOBSFS_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct jfs_job;
struct jfs_node;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property that must hold for every input: when it does not, say which and where,
 * and abort, so that libFuzzer saves the input and the replay test fails. */
#define FUZZ_CHECK(cond, ...)                                                            \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__,        \
				__LINE__, #cond);                                        \
			fprintf(stderr, __VA_ARGS__);                                    \
			fputc('\n', stderr);                                             \
			abort();                                                         \
		}                                                                        \
	} while (0)

/* Quiet the library's log (a fuzzer calls it millions of times) unless JOBSFS_LOG
 * asks otherwise. Every target's LLVMFuzzerInitialize calls it. */
void fuzz_quiet_log(void);

/* The input as a NUL-terminated string (bytes after an embedded NUL are kept but
 * unseen by string functions). malloc'd; aborts on ENOMEM (not a finding). */
char *fuzz_strndup(const uint8_t *data, size_t size);

/* s (at most size bytes, NUL within them) is one clean log line: NUL-terminated
 * inside its field, no control bytes, and UTF-8 (RFC 3629: whole sequences, no
 * overlong forms, surrogates or code points past U+10FFFF), as error.c promises. */
bool fuzz_text_is_clean(const char *s, size_t size);

/* A name the filesystem shows: non-empty, at most NAME_MAX bytes, no '/', not "." or
 * "..", and an encoding jfs_name_decode accepts. */
void fuzz_check_file_name(const char *name);

/* The invariants of jfs_name_encode / jfs_name_decode for one raw name (any bytes):
 * encode gives a file name or fails only with ENAMETOOLONG for a long name, and
 * decode(encode(raw)) == raw. */
void fuzz_check_name_round_trip(const char *raw);

/* Every invariant of a built job: names, sorted children that jfs_node_child finds,
 * file contents ending in a newline, job.json present, name == encode(uuid). */
void fuzz_check_job(const struct jfs_job *job);

/* Two jobs hold the same tree (names, kinds, contents), uuid, state and times. */
void fuzz_check_same_job(const struct jfs_job *a, const struct jfs_job *b);

/* job.json parses back (jfs_job_parse) into the same job. */
void fuzz_check_job_json_round_trip(const struct jfs_job *job, int max_depth);

#endif
