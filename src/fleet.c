/* Reading a fleet config (see include/jobsfs/fleet.h). libinih parses; this module
 * reads the lines for it (counting them: the library's build gives its handler no line
 * number, nor a call for a section without keys), and checks what it hands over. */
#include "jobsfs/fleet.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jobsfs/job.h"

const char *const jfs_fleet_keys[] = {
	"url",	     "username", "password_file", "netrc_file", "cert",	    "key",
	"token_file", "cacert",	  "insecure",	   "ttl",	 "expiry",    "page_size",
	"timeout",   "history",	  "record",	   "history_keep", "control", NULL,
};

/* What the parse builds; every pointer owned. */
struct parse {
	const char *path;
	FILE *file;
	int line;		    /* lines handed to inih so far: the current one */
	int header_line;	    /* the line of the last section header read */
	char header[NAME_MAX + 2];  /* its name, as the header wrote it */
	bool header_entered;	    /* inih handed over a key of it */
	struct {		    /* every header read, for the names given twice */
		char *name;
		int line;
	} *seen;
	size_t nseen;
	struct jfs_fleet_cluster defaults;
	struct jfs_fleet_cluster *clusters;
	size_t n, cap;
	char *current;		    /* the section inih is in ("" before any) */
	char msg[512];		    /* the error of the earliest line */
	int err;
	int err_line;
};

static int fail(struct parse *p, int line, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct parse *p, int line, int err, const char *fmt, ...)
{
	if (p->err && (line <= 0 || p->err_line <= 0 || line >= p->err_line))
		return 0; /* one line is said: the first in the file */
	char what[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(p->msg, sizeof(p->msg), "%s:%d: %s", p->path, line, what);
	else
		snprintf(p->msg, sizeof(p->msg), "%s: %s", p->path, what);
	p->err = err;
	p->err_line = line;
	return 0; /* inih: stop caring about this line */
}

static void note_header(struct parse *p, const char *name);

/* The reader inih calls for each line: counts them, and notes section headers (with
 * their line: inih does not call the handler for a section until it holds a key). */
static char *read_line(char *buf, int size, void *arg)
{
	struct parse *p = arg;
	if (!fgets(buf, size, p->file))
		return NULL;
	p->line++;
	size_t len = strlen(buf);
	if (len == (size_t)size - 1 && buf[len - 1] != '\n' && !feof(p->file)) {
		fail(p, p->line, EINVAL, "line longer than %d bytes", size - 2);
		int c;
		while ((c = fgetc(p->file)) != EOF && c != '\n') /* the rest of it */
			;
		buf[0] = '\0';
		return buf;
	}
	const char *s = buf;
	while (*s == ' ' || *s == '\t')
		s++;
	const char *end = *s == '[' ? strchr(s, ']') : NULL;
	if (end && (size_t)(end - s - 1) < sizeof(p->header)) {
		char name[sizeof(p->header)];
		memcpy(name, s + 1, (size_t)(end - s - 1));
		name[end - s - 1] = '\0';
		note_header(p, name);
	}
	return buf;
}

static bool known_key(const char *key)
{
	for (size_t i = 0; jfs_fleet_keys[i]; i++)
		if (strcmp(jfs_fleet_keys[i], key) == 0)
			return true;
	return false;
}

/* A cluster's name is its directory in MOUNT: it must be one name, the same once
 * encoded, and not one that reads as something else (hidden, a view's segment). */
static const char *bad_name(const char *name)
{
	if (!*name)
		return "an empty name";
	if (strcmp(name, JFS_FLEET_DEFAULTS) == 0)
		return NULL;
	if (name[0] == '.')
		return "a name starting with '.'";
	if (strchr(name, '='))
		return "a name with '=' (it would read as a view)";
	char *enc = jfs_name_encode(name);
	bool same = enc && strcmp(enc, name) == 0;
	free(enc);
	return same ? NULL : "not a safe file name ('/', '%', control bytes, or too long)";
}

/* A section with no key is invisible to inih: a header whose section got none by the
 * next header (or the end) has no url. */
static void check_entered(struct parse *p)
{
	if (p->header_line && !p->header_entered && strcmp(p->header, JFS_FLEET_DEFAULTS) != 0)
		fail(p, p->header_line, EINVAL, "[%s] has no url", p->header);
}

/* A section header read: its name checked, and not given before. */
static void note_header(struct parse *p, const char *name)
{
	check_entered(p);
	const char *why = bad_name(name);
	if (why)
		fail(p, p->line, EINVAL, "[%s]: %s for a cluster's directory", name, why);
	for (size_t i = 0; i < p->nseen; i++)
		if (strcmp(p->seen[i].name, name) == 0)
			fail(p, p->line, EINVAL, "[%s] a second time (line %d)", name,
			     p->seen[i].line);
	void *grown = realloc(p->seen, (p->nseen + 1) * sizeof(*p->seen));
	if (grown) {
		p->seen = grown;
		if ((p->seen[p->nseen].name = strdup(name)))
			p->seen[p->nseen++].line = p->line;
	}
	snprintf(p->header, sizeof(p->header), "%s", name);
	p->header_line = p->line;
	p->header_entered = false;
}

static void cluster_clear(struct jfs_fleet_cluster *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->settings[i].key);
		free(c->settings[i].value);
	}
	free(c->settings);
	free(c->name);
	memset(c, 0, sizeof(*c));
}

/* Set key in c (replacing an inherited value). false on ENOMEM. */
static bool put(struct jfs_fleet_cluster *c, const char *key, const char *value, int line)
{
	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->settings[i].key, key) == 0) {
			char *v = strdup(value);
			if (!v)
				return false;
			free(c->settings[i].value);
			c->settings[i].value = v;
			c->settings[i].line = line;
			return true;
		}
	}
	struct jfs_fleet_setting *s = realloc(c->settings, (c->n + 1) * sizeof(*s));
	if (!s)
		return false;
	c->settings = s;
	s[c->n].key = strdup(key);
	s[c->n].value = strdup(value);
	s[c->n].line = line;
	if (!s[c->n].key || !s[c->n].value) {
		free(s[c->n].key);
		free(s[c->n].value);
		return false;
	}
	c->n++;
	return true;
}

/* inih enters section: make its cluster (or take [defaults]), once. */
static struct jfs_fleet_cluster *enter(struct parse *p, const char *section)
{
	int line = strcmp(p->header, section) == 0 ? p->header_line : p->line;
	if (strcmp(p->header, section) == 0)
		p->header_entered = true;
	const char *why = bad_name(section);
	if (why) {
		fail(p, line, EINVAL, "[%s]: %s for a cluster's directory", section, why);
		return NULL;
	}
	/* (a section named twice was refused at its header: note_header) */
	if (strcmp(section, JFS_FLEET_DEFAULTS) == 0) {
		if (p->n) {
			fail(p, line, EINVAL, "[%s] after a cluster's section: put it first",
			     JFS_FLEET_DEFAULTS);
			return NULL;
		}
		p->defaults.line = line;
		return &p->defaults;
	}
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		struct jfs_fleet_cluster *c = realloc(p->clusters, cap * sizeof(*c));
		if (!c) {
			fail(p, 0, ENOMEM, "out of memory");
			return NULL;
		}
		p->clusters = c;
		p->cap = cap;
	}
	struct jfs_fleet_cluster *c = &p->clusters[p->n];
	memset(c, 0, sizeof(*c));
	c->name = strdup(section);
	c->line = line;
	bool ok = c->name != NULL;
	for (size_t i = 0; ok && i < p->defaults.n; i++) /* what [defaults] set */
		ok = put(c, p->defaults.settings[i].key, p->defaults.settings[i].value,
			 p->defaults.settings[i].line);
	if (!ok) {
		cluster_clear(c);
		fail(p, 0, ENOMEM, "out of memory");
		return NULL;
	}
	p->n++;
	return c;
}

static int on_value(void *arg, const char *section, const char *key, const char *value)
{
	struct parse *p = arg;
	if (p->err)
		return 0;
	if (!*section)
		return fail(p, p->line, EINVAL, "%s = ... before any [section]", key);
	if (!p->current || strcmp(p->current, section) != 0) {
		free(p->current);
		p->current = strdup(section);
		if (!p->current || !enter(p, section))
			return fail(p, 0, ENOMEM, "out of memory");
	}
	bool is_defaults = strcmp(section, JFS_FLEET_DEFAULTS) == 0;
	struct jfs_fleet_cluster *c = is_defaults ? &p->defaults : &p->clusters[p->n - 1];
	if (strcmp(key, "password") == 0)
		return fail(p, p->line, EINVAL,
			    "no password in the config: password_file = PATH (mode 0600), or "
			    "netrc_file, or $JOBSFS_PASSWORD");
	if (!known_key(key))
		return fail(p, p->line, EINVAL, "unknown key \"%s\" in [%s]", key, section);
	if (is_defaults && strcmp(key, "url") == 0)
		return fail(p, p->line, EINVAL, "url in [%s]: each cluster's section has its own",
			    JFS_FLEET_DEFAULTS);
	const struct jfs_fleet_setting *had = jfs_fleet_get(c, key);
	if (had && (is_defaults || had->line > c->line))
		return fail(p, p->line, EINVAL, "%s given twice in [%s] (line %d)", key, section,
			    had->line);
	if (!put(c, key, value, p->line))
		return fail(p, 0, ENOMEM, "out of memory");
	return 1;
}

const struct jfs_fleet_setting *jfs_fleet_get(const struct jfs_fleet_cluster *c,
					      const char *key)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->settings[i].key, key) == 0)
			return &c->settings[i];
	return NULL;
}

bool jfs_fleet_is_config(const char *arg)
{
	return strncmp(arg, "http://", 7) != 0 && strncmp(arg, "https://", 8) != 0;
}

void jfs_fleet_free(struct jfs_fleet *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		cluster_clear(&f->clusters[i]);
	free(f->clusters);
	free(f->path);
	free(f);
}

/* The file as a whole: readable, regular, and written only by its owner. */
static FILE *open_config(struct parse *p)
{
	FILE *f = fopen(p->path, "r");
	struct stat st;
	if (!f) {
		fail(p, 0, errno, "cannot read it: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fail(p, 0, EINVAL, "not a regular file");
		fclose(f);
		return NULL;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		fail(p, 0, EPERM,
		     "group or others may write it (mode %03o): it says where credentials are "
		     "sent; chmod go-w",
		     (unsigned)(st.st_mode & 0777));
		fclose(f);
		return NULL;
	}
	return f;
}

int jfs_fleet_read(const char *path, struct jfs_fleet **out, char *msg, size_t len)
{
	struct parse p;
	memset(&p, 0, sizeof(p));
	p.path = path;
	*out = NULL;
	p.file = open_config(&p);
	if (p.file) {
		int rc = ini_parse_stream(read_line, &p, on_value, &p);
		fclose(p.file);
		/* inih's own complaint: a line it could not parse (a header without ']',
		 * a line without '=' or ':'). */
		if (rc > 0)
			fail(&p, rc, EINVAL, "not \"[name]\", \"key = value\" or a comment");
		else if (rc < 0 && !p.err)
			fail(&p, 0, ENOMEM, "out of memory");
	}
	check_entered(&p); /* the last section */
	for (size_t i = 0; !p.err && i < p.n; i++)
		if (!jfs_fleet_get(&p.clusters[i], "url"))
			fail(&p, p.clusters[i].line, EINVAL, "[%s] has no url", p.clusters[i].name);
	if (!p.err && p.n == 0)
		fail(&p, 0, EINVAL, "no cluster: add a [name] section with a url");
	struct jfs_fleet *f = p.err ? NULL : calloc(1, sizeof(*f));
	if (!p.err && (!f || !(f->path = strdup(path)))) {
		free(f);
		f = NULL;
		fail(&p, 0, ENOMEM, "out of memory");
	}
	cluster_clear(&p.defaults);
	free(p.current);
	for (size_t i = 0; i < p.nseen; i++)
		free(p.seen[i].name);
	free(p.seen);
	if (p.err) {
		for (size_t i = 0; i < p.n; i++)
			cluster_clear(&p.clusters[i]);
		free(p.clusters);
		snprintf(msg, len, "%s", p.msg);
		return -p.err;
	}
	f->clusters = p.clusters;
	f->n = p.n;
	*out = f;
	return 0;
}
