/* MOUNT/<uuid>/ctl, with -o control: a write of "cancel", "pause" or "resume" (a
 * trailing newline allowed) asks the cluster to act on the job, one PATCH; the write
 * returns its length when the cluster takes it, else the errno of its refusal
 * (jfs_errno_from_http) with one log line quoting the cluster. Reads give nothing:
 * its size is always 0. Then the job's cached state is dropped, in the store and in
 * the kernel, so that the next read of it asks the cluster. */
#include "ops.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "inode.h"
#include "jobsfs/client.h"
#include "jobsfs/error.h"
#include "jobsfs/log.h"
#include "jobsfs/store.h"

#define COMMAND_MAX 16 /* longer than any action: "resume\n" is 7 bytes */

void jfs_ctl_attr(struct jfs_mount *m, const struct jfs_inode *in, struct stat *st)
{
	jfs_file_attr_fill(m, in->ino, 0200, 0, m->mounted_ms, st);
}

/* The action a write names, or NULL. */
static const char *action_of(const char *buf, size_t size)
{
	if (size > 0 && buf[size - 1] == '\n')
		size--;
	for (size_t i = 0; jfs_job_actions[i]; i++)
		if (strlen(jfs_job_actions[i]) == size && memcmp(jfs_job_actions[i], buf, size) == 0)
			return jfs_job_actions[i];
	return NULL;
}

void jfs_ctl_write(fuse_req_t req, struct jfs_mount *m, const struct jfs_inode *in,
		   const char *buf, size_t size)
{
	char path[1024];
	jfs_inode_path(in, NULL, path, sizeof(path));
	const char *action = size <= COMMAND_MAX ? action_of(buf, size) : NULL;
	if (!action) {
		char said[64];
		size_t shown = size > 0 && buf[size - 1] == '\n' ? size - 1 : size;
		jfs_clean_text(said, sizeof(said), buf, shown < 48 ? shown : 48);
		jfs_warn("%s: \"%s\" is not a command: write cancel, pause or resume", path,
			 said);
		fuse_reply_err(req, EINVAL);
		return;
	}
	struct jfs_error e;
	jfs_error_clear(&e);
	int rc = jfs_client_act(in->cluster->client, in->uuid, action, &e);
	/* Whatever the answer, what is cached of the job may be wrong now: a refusal
	 * ("already finished") says the cache was behind. */
	jfs_store_forget(in->cluster->store, in->uuid);
	jfs_keeper_invalidate_job(m, in->uuid);
	if (rc != 0) {
		jfs_error_log(&e, path);
		fuse_reply_err(req, -rc);
		return;
	}
	jfs_info("%s: %s: the cluster took it", path, action);
	fuse_reply_write(req, size);
}
