/* The FUSE operations that live outside ops.c: directories (dir.c) and files
 * (file.c). ops.c puts them in the operations table. */
#ifndef JOBSFS_FS_OPS_H
#define JOBSFS_FS_OPS_H

#include "place.h"

void jfs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void jfs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi);
void jfs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi);
void jfs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

void jfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void jfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi);
void jfs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

/* MOUNT/.history/gaps (gaps.c): its attributes (returns the seconds the kernel may
 * keep them: none), and a read of it. */
double jfs_gaps_attr(struct jfs_mount *m, const struct jfs_inode *in, struct stat *st);
void jfs_gaps_read(fuse_req_t req, struct jfs_mount *m, const struct jfs_inode *in,
		   size_t size, off_t off);

#endif
