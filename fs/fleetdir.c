/* A fleet's MOUNT/: one directory per cluster of the config, in its order. It never
 * changes while mounted, and never asks a cluster: `ls MOUNT` and `stat MOUNT/<name>`
 * work whatever state the clusters are in (only a cluster's own listing needs it). */
#include "ops.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "inode.h"

void jfs_fleet_attr(struct jfs_mount *m, const struct jfs_inode *in, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = in->ino;
	st->st_mode = S_IFDIR | 0555;
	st->st_nlink = 2 + m->nclusters;
	st->st_uid = m->uid;
	st->st_gid = m->gid;
	st->st_blksize = 4096;
	st->st_mtim.tv_sec = m->mounted_ms / 1000;
	st->st_mtim.tv_nsec = (m->mounted_ms % 1000) * 1000000;
	st->st_ctim = st->st_atim = st->st_mtim;
}

/* Offsets: 0 ".", 1 "..", 2 + i cluster i; an entry's cookie is the next offset. */
void jfs_fleet_readdir(fuse_req_t req, struct jfs_mount *m, struct jfs_inode *in, size_t size,
		       off_t off, bool plus)
{
	char *buf = calloc(1, size); /* (zeroed: a reply may be empty) */
	fuse_ino_t *linked = plus ? malloc((size / 128 + 1) * sizeof(*linked)) : NULL;
	size_t pos = 0, nlinked = 0;
	if (!buf || (plus && !linked)) {
		free(buf);
		free(linked);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t o = off < 0 ? 0 : (size_t)off; o < 2 + m->nclusters; o++) {
		struct fuse_entry_param ep;
		const char *name;
		memset(&ep, 0, sizeof(ep));
		if (o < 2) {
			name = o == 0 ? "." : "..";
			ep.attr.st_ino = in->ino;
			ep.attr.st_mode = S_IFDIR;
		} else {
			struct jfs_cluster *c = &m->clusters[o - 2];
			name = c->name;
			if (plus) {
				struct jfs_place p;
				if (jfs_inodes_link_cluster(m->inodes, in, name, c, &p.in) != 0)
					break;
				struct jfs_inode *root = p.in;
				jfs_place_resolve_attr(m, root, &p);
				ep.ino = root->ino;
				ep.generation = 1;
				ep.attr_timeout = jfs_place_attr(m, &p, &ep.attr);
				ep.entry_timeout = JFS_FILE_ATTR_TIMEOUT;
				jfs_place_release(&p);
			} else {
				ep.attr.st_ino = 0xffffffff; /* no lookup counted */
				ep.attr.st_mode = S_IFDIR;
			}
		}
		size_t need = plus ? fuse_add_direntry_plus(req, buf + pos, size - pos, name, &ep,
							    (off_t)(o + 1))
				   : fuse_add_direntry(req, buf + pos, size - pos, name, &ep.attr,
						       (off_t)(o + 1));
		if (need > size - pos) {
			if (plus && ep.ino)
				jfs_inodes_forget(m->inodes, ep.ino, 1);
			break;
		}
		pos += need;
		if (plus && ep.ino)
			linked[nlinked++] = ep.ino;
	}
	if (fuse_reply_buf(req, buf, pos) != 0)
		for (size_t i = 0; i < nlinked; i++)
			jfs_inodes_forget(m->inodes, linked[i], 1);
	free(buf);
	free(linked);
}
