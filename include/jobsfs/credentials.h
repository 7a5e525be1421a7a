/* Secrets (passwords, bearer tokens) read from files and the environment, so that
 * they never have to appear on a command line. A secret is held in memory only as
 * long as needed and wiped before it is freed. Nothing here logs a secret. */
#ifndef JOBSFS_CREDENTIALS_H
#define JOBSFS_CREDENTIALS_H

struct jfs_error;

/* The largest secret file accepted, in bytes. */
#define JFS_SECRET_FILE_MAX (64 * 1024)

/* Read the first line of a password file into *out (malloc'd; free it with
 * jfs_secret_free). A trailing "\r\n" or "\n" is not part of the secret. Refused:
 *  - -EACCES when group or others have any permission on the file ("password file
 *    /x is readable by group or others (mode 0644): chmod 600 it"); the mode is read
 *    from the opened descriptor, so the file checked is the file read;
 *  - -EINVAL when it is not a regular file, when the first line is empty or holds a
 *    NUL byte;
 *  - -EFBIG over JFS_SECRET_FILE_MAX;
 *  - the open/read errno otherwise (-ENOENT...).
 * Returns 0 or negative errno with e's message saying which file and why. */
int jfs_secret_read_file(const char *path, char **out, struct jfs_error *e);

/* The same, with `what` naming the file in messages ("token file", "password file"). */
int jfs_secret_read_file_as(const char *what, const char *path, char **out,
			    struct jfs_error *e);

/* Overwrite the secret's bytes with zeros in place (a store the compiler keeps even
 * when the memory is freed right after). NULL is fine. */
void jfs_secret_wipe(char *secret);

/* Wipe the secret, then free it. NULL is fine. */
void jfs_secret_free(char *secret);

/* The password from the JOBSFS_PASSWORD environment variable, or NULL when unset or
 * empty. The string belongs to the environment: do not free it. */
const char *jfs_password_from_env(void);

#endif
