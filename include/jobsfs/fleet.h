/* A fleet config: the clusters one mount holds, from one INI file (read with libinih).
 *
 *     [defaults]                  ; optional: settings every cluster starts from
 *     username = monitor
 *     cacert = /etc/ssl/ontap-ca.pem
 *     [cluster1]                  ; a cluster: MOUNT/cluster1/
 *     url = https://cluster1.example.com
 *     password_file = /etc/jobsfs/cluster1.pass
 *     [lab]
 *     url = https://10.0.0.5
 *     ttl = 5
 *
 * A section's name is its cluster's directory name. Keys are jobsfs's options for one
 * cluster (JFS_FLEET_KEYS); a section's own value of a key wins over [defaults]'. What
 * the values mean is the command line's business: this module checks the file's shape
 * (its permissions, known keys, names, one url per cluster) and says where each value
 * was written, so that a bad value is reported at its line too. */
#ifndef JOBSFS_FLEET_H
#define JOBSFS_FLEET_H

#include <stdbool.h>
#include <stddef.h>

#define JFS_FLEET_DEFAULTS "defaults"

/* The keys a section may hold, NULL-terminated. */
extern const char *const jfs_fleet_keys[];

struct jfs_fleet_setting {
	char *key;
	char *value;
	int line; /* where it was written (in [defaults] or the cluster's section) */
};

struct jfs_fleet_cluster {
	char *name; /* the section's name: the cluster's directory */
	int line;   /* the section's header */
	struct jfs_fleet_setting *settings; /* [defaults]' merged with the section's */
	size_t n;
};

struct jfs_fleet {
	char *path;
	struct jfs_fleet_cluster *clusters; /* in the file's order */
	size_t n;
};

/* Whether the first argument of the command line names a fleet config rather than a
 * cluster (an http:// or https:// URL). */
bool jfs_fleet_is_config(const char *arg);

/* Read and check the config at path. Refused, -errno and one line in msg
 * ("PATH:LINE: what is wrong", or "PATH: ..." for the file as a whole): a file that
 * cannot be read, is not a regular file, or that group or others may write; a line
 * inih cannot parse, or longer than it reads; a key outside jfs_fleet_keys (a
 * `password` key says where a password goes instead); a key given twice in a section;
 * `url` in [defaults]; a section named twice; a name that is not a safe directory name
 * (jfs_name_encode would change it; '.', '..', a leading '.', or '='); a cluster
 * without `url`; a file without clusters. */
int jfs_fleet_read(const char *path, struct jfs_fleet **out, char *msg, size_t len);
void jfs_fleet_free(struct jfs_fleet *f); /* NULL is fine */

/* The setting of key in force for cluster c, or NULL. */
const struct jfs_fleet_setting *jfs_fleet_get(const struct jfs_fleet_cluster *c,
					      const char *key);

#endif
