/* MOUNT/.history/gaps: the windows in which jobs may have come and gone unseen, one
 * line each, made anew from the history at each getattr and read. Its size is exact
 * and its mtime is the moment it was made, so the kernel (which may keep a file's
 * pages until its size or mtime moves) never serves an old text. */
#include "ops.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "jobsfs/error.h"
#include "jobsfs/history.h"
#include "jobsfs/log.h"

static int gaps_text(struct jfs_mount *m, const struct jfs_inode *in, char **text, size_t *len)
{
	struct jfs_error e;
	jfs_error_clear(&e);
	int rc = jfs_history_gaps(in->cluster->history, text, len, &e);
	if (rc != 0)
		jfs_place_log_failure(in, NULL, rc, &e);
	return rc;
}

double jfs_gaps_attr(struct jfs_mount *m, const struct jfs_inode *in, struct stat *st)
{
	char *text = NULL;
	size_t len = 0;
	struct timespec now;
	gaps_text(m, in, &text, &len); /* a failing history shows an empty file; read says why */
	free(text);
	clock_gettime(CLOCK_REALTIME, &now);
	jfs_file_attr_fill(m, in->ino, 0444, len,
			   (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, st);
	return 0; /* asked again at each use */
}

void jfs_gaps_read(fuse_req_t req, struct jfs_mount *m, const struct jfs_inode *in,
		   size_t size, off_t off)
{
	char *text = NULL;
	size_t len = 0;
	int rc = gaps_text(m, in, &text, &len);
	if (rc != 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (off < 0 || (size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, text + off, len - (size_t)off < size ? len - (size_t)off : size);
	free(text);
}
