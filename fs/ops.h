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

/* A fleet's MOUNT/ (fleetdir.c): its attributes, and its entries, the clusters. */
void jfs_fleet_attr(struct jfs_mount *m, const struct jfs_inode *in, struct stat *st);
void jfs_fleet_readdir(fuse_req_t req, struct jfs_mount *m, struct jfs_inode *in, size_t size,
		       off_t off, bool plus);

/* MOUNT/<uuid>/wait (wait.c). Its size: a page, for the kernel's page cache to ask
 * for (no-open mode gives it no direct I/O); the read's short answer ("success\n")
 * sets the size the reader sees. Its attributes never change. */
#define JFS_WAIT_SIZE 4096
void jfs_wait_attr(struct jfs_mount *m, const struct jfs_inode *in, struct stat *st);
/* A read: answered at once when the job is over (or from the history, or gone), else
 * when it ends, from the watch's thread; EINTR when the kernel interrupts it. */
void jfs_wait_read(fuse_req_t req, struct jfs_mount *m, const struct jfs_inode *in,
		   size_t size, off_t off);
/* Start the watch behind the waiters (after fuse_daemonize: a thread), and end it,
 * answering whoever still waits ENOTCONN. 0 or negative errno. */
int jfs_waits_start(struct jfs_cluster *c);
void jfs_waits_stop(struct jfs_cluster *c);

/* MOUNT/<uuid>/ctl with -o control (ctl.c): its attributes (mode 0200, size 0), and a
 * write of one command. */
void jfs_ctl_attr(struct jfs_mount *m, const struct jfs_inode *in, struct stat *st);
void jfs_ctl_write(fuse_req_t req, struct jfs_mount *m, const struct jfs_inode *in,
		   const char *buf, size_t size);

#endif
