/* Directory snapshots: what a directory read in several calls walks, from its first
 * entry to its last, whoever else reads the directory meanwhile (issue 11: a reader
 * paused halfway through the root while `ls` ran went on in the newer listing that
 * `ls` fetched, and read 2,154 names of 2,000, 39 of them twice).
 *
 * Without open handles (no-opendir: the kernel opens directories itself) a read is
 * known only by the offset cookie the kernel hands back with each call. A cookie
 * (dir.c) carries the position and a hash of the snapshot's names in their order; a
 * call past offset 0 continues on the snapshot with that hash: the one this table
 * remembers for the directory, else the directory's current listing or job version
 * when its names hash the same (the same names in the same order is the same walk).
 * When neither is there, the read fails with ESTALE rather than go on in another
 * listing.
 *
 * A listing (the root, a view) is remembered each time a read of it starts, since a
 * reader may stop anywhere; a job's directory only when a call did not reach its end
 * (its ~13 entries fit in one). The table is small and bounded: SNAPSHOTS_MAX entries,
 * the least recently used going first, and none unused for longer than
 * SNAPSHOT_IDLE_MS. Thread-safe. */
#ifndef JOBSFS_FS_SNAPSHOT_H
#define JOBSFS_FS_SNAPSHOT_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jfs_job;
struct jfs_listing;
struct jfs_node;

#define SNAPSHOTS_MAX 64
#define SNAPSHOT_IDLE_MS (10 * 60 * 1000)

struct jfs_snapshots;

/* Returns 0 or -ENOMEM. */
int jfs_snapshots_new(struct jfs_snapshots **out);
void jfs_snapshots_free(struct jfs_snapshots *t); /* NULL is fine */

/* The hash of a snapshot's names, in order: of a listing's jobs, of a node's
 * children. 31 bits (it goes in a positive off_t), never 0. */
uint32_t jfs_snapshot_hash_listing(const struct jfs_listing *l);
uint32_t jfs_snapshot_hash_node(const struct jfs_node *node);

/* Remember that reads of directory ino with names hash `hash` walk listing l (ROOT,
 * VIEW) or job version job (JOB, NODE; one of the two is NULL). References are taken.
 * A newer snapshot with the same names replaces the older. Out of memory: forgotten. */
void jfs_snapshots_put(struct jfs_snapshots *t, fuse_ino_t ino, uint32_t hash,
		       struct jfs_listing *l, struct jfs_job *job);

/* The snapshot of directory ino with names hash `hash`, with references taken into *l
 * and *job (one of them NULL); false when the table holds none. */
bool jfs_snapshots_get(struct jfs_snapshots *t, fuse_ino_t ino, uint32_t hash,
		       struct jfs_listing **l, struct jfs_job **job);

/* Entries held now (for tests and debug lines). */
size_t jfs_snapshots_count(struct jfs_snapshots *t);

#endif
