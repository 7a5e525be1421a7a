/* Secrets from files and the environment (see include/jobsfs/credentials.h). */
#include "jobsfs/credentials.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobsfs/error.h"

void jfs_secret_wipe(char *secret)
{
	if (secret)
		explicit_bzero(secret, strlen(secret));
}

void jfs_secret_free(char *secret)
{
	jfs_secret_wipe(secret);
	free(secret);
}

const char *jfs_password_from_env(void)
{
	const char *pw = getenv("JOBSFS_PASSWORD");
	return pw && *pw ? pw : NULL;
}

/* Read the whole file (at most max bytes) into buf; *len gets the bytes read. Reading
 * past st_size catches a file that grows between fstat and read. */
static int read_capped(int fd, char *buf, size_t max, size_t *len)
{
	size_t n = 0;
	while (n < max) {
		ssize_t got = read(fd, buf + n, max - n);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	*len = n;
	return 0;
}

/* The permission check, on the descriptor that will be read (no stat-then-open race). */
static int check_file(int fd, const char *what, const char *path, struct jfs_error *e)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return jfs_error_set(e, errno, "%s %s: %s", what, path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return jfs_error_set(e, EINVAL, "%s %s is not a regular file", what, path);
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		return jfs_error_set(e, EACCES, "%s %s is %s by group or others (mode %04o): chmod 600 it",
				     what, path,
				     (st.st_mode & (S_IRGRP | S_IROTH)) ? "readable" : "accessible",
				     (unsigned)(st.st_mode & 07777));
	if (st.st_size > JFS_SECRET_FILE_MAX)
		return jfs_error_set(e, EFBIG, "%s %s is larger than %d bytes", what, path,
				     JFS_SECRET_FILE_MAX);
	return 0;
}

int jfs_secret_read_file_as(const char *what, const char *path, char **out,
			    struct jfs_error *e)
{
	const size_t cap = JFS_SECRET_FILE_MAX + 1; /* one more byte: sees "too large" */
	size_t len = 0;
	int rc;

	*out = NULL;
	/* O_NONBLOCK: a FIFO must not hang the open; fstat refuses it right after. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return jfs_error_set(e, errno, "%s %s: %s", what, path, strerror(errno));
	char *buf = malloc(cap);
	if (!buf) {
		close(fd);
		return jfs_error_set(e, ENOMEM, "%s %s: out of memory", what, path);
	}
	rc = check_file(fd, what, path, e);
	if (rc == 0) {
		rc = read_capped(fd, buf, cap, &len);
		if (rc < 0)
			jfs_error_set(e, -rc, "%s %s: %s", what, path, strerror(-rc));
		else if (len > JFS_SECRET_FILE_MAX)
			rc = jfs_error_set(e, EFBIG, "%s %s is larger than %d bytes", what, path,
					   JFS_SECRET_FILE_MAX);
	}
	close(fd);

	if (rc == 0) {
		size_t line = 0;
		while (line < len && buf[line] != '\n')
			line++;
		if (line > 0 && buf[line - 1] == '\r')
			line--;
		if (line == 0)
			rc = jfs_error_set(e, EINVAL, "%s %s: the first line is empty", what, path);
		else if (memchr(buf, '\0', line))
			rc = jfs_error_set(e, EINVAL, "%s %s holds a NUL byte", what, path);
		else if (!(*out = strndup(buf, line)))
			rc = jfs_error_set(e, ENOMEM, "%s %s: out of memory", what, path);
	}
	/* The read buffer is wiped too, whatever happened. */
	explicit_bzero(buf, cap);
	free(buf);
	return rc;
}

int jfs_secret_read_file(const char *path, char **out, struct jfs_error *e)
{
	return jfs_secret_read_file_as("password file", path, out, e);
}
