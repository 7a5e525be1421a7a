/* The jobsfs command line: `jobsfs [options] URL MOUNTPOINT`. jobsfs's own -o options
 * are taken out of args here; what is left (the mount point, -f, -d, -s, FUSE's -o
 * options) goes on to libfuse. */
#ifndef JOBSFS_FS_OPTIONS_H
#define JOBSFS_FS_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

struct fuse_args;

struct jfs_options {
	char *url;	     /* scheme://host[:port], without a trailing '/' */
	char *user;
	char *password_file;
	char *cert, *key;
	char *token_file;
	char *cacert;
	char *netrc_file;    /* -o netrc_file=PATH: a netrc other than ~/.netrc */
	bool insecure;
	double ttl;	     /* seconds (2) */
	long expiry;	     /* seconds (300) */
	unsigned page_size;  /* (1000) */
	long timeout;	     /* seconds (30) */
	size_t cache_mem;    /* MiB (256) */
	int log_level;	     /* -o loglevel=: an enum jfs_log_level (warn) */
	char *history;	     /* -o history=PATH; NULL: the default file */
	bool history_off;    /* -o history=off */
	double record;	     /* seconds between the recorder's listings (60); 0: off */
	long history_keep;   /* days (30); 0: for ever */
	bool control;	     /* -o control: ctl files take cancel|pause|resume */
	bool allow_other;	  /* FUSE's allow_other was given (left in args for libfuse) */
	bool default_permissions; /* and default_permissions (likewise) */
	bool show_help;
	bool show_version;
};

/* Parse argv into o and strip what jobsfs consumed from args. Also drops, silently,
 * the mount(8) keywords that can reach a mount helper's program and mean nothing to
 * jobsfs (_netdev, nofail, noauto, x-systemd.*, ...: see options.c). Prints one line
 * to stderr and returns -1 on a bad option; 0 otherwise. Options jobsfs does not know
 * are left in args: libfuse judges them (see jfs_options_unknown). */
int jfs_options_parse(struct fuse_args *args, struct jfs_options *o);
void jfs_options_free(struct jfs_options *o);

/* A copy of src with strings of its own (free with jfs_options_free). 0, or -1 on
 * ENOMEM. */
int jfs_options_copy(struct jfs_options *dst, const struct jfs_options *src);

/* Apply one setting of a fleet config (key as in jfs_fleet_keys) as the command line's
 * option of that name would: url checked as jfs_url_check does, insecure and control
 * taking true/false (yes/no, on/off, 1/0). A bad value: one line on stderr naming
 * file:line, and -1. */
int jfs_options_apply(struct jfs_options *o, const char *key, const char *value,
		      const char *file, int line);

/* Check a cluster URL: http:// or https://, a host, an optional port, no path (a
 * lone trailing '/' is dropped). Returns 0 or -1 with why in msg. */
int jfs_url_check(char *url, char *msg, size_t len);

/* Say that libfuse refused some options: `what` is libfuse's list of them (e.g.
 * "-o foo,bar"). One line on stderr with the hint to see jobsfs -h. */
void jfs_options_unknown(const char *what);

/* jobsfs's part of -h, with every option and its default. */
void jfs_options_usage(const char *prog);

#endif
