/*
 * fs.h — files and directories the way the services need them.
 *
 * Functions that can fail return false, leave errno as the failing call set it (so a
 * caller can tell ENOSPC from EACCES), and, when err is not NULL, put a sentence in
 * it that names the path: "cannot create directory 'x/y': Permission denied".
 */
#ifndef LIQUID_BASE_FS_H
#define LIQUID_BASE_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Creates path and any missing parents (like mkdir -p); an existing directory is fine. */
bool fs_mkdir_p(const char *path, mode_t mode, char *err, size_t err_size);

/* Removes path and everything below it, never following symbolic links (a link is
 * removed, not its target). A path that does not exist is success. */
bool fs_remove_tree(const char *path, char *err, size_t err_size);

/* Replaces path with data so that a reader, or a machine that loses power, sees
 * either the old content or the new, never a mix: a temporary file in the same
 * directory, fsync, rename over path, fsync of the directory. */
bool fs_write_atomic(const char *path, const void *data, size_t size, mode_t mode, char *err,
                     size_t err_size);

/* Reads a whole file into a new NUL-terminated buffer (the caller frees *data);
 * refuses files larger than max_bytes (0: no limit) with EFBIG. */
bool fs_read_file(const char *path, size_t max_bytes, char **data, size_t *size, char *err,
                  size_t err_size);

/* Copies a regular file, atomically at the destination (as fs_write_atomic does),
 * keeping the permission bits. */
bool fs_copy_file(const char *from, const char *to, char *err, size_t err_size);

/* True when name can be used as one path component under a directory we own: not
 * empty, not "." or "..", no '/', no control characters, at most 255 bytes. Mount
 * names, module names and file routes from requests are checked with it, which is
 * what keeps "../../etc/passwd" out. */
bool fs_is_safe_name(const char *name);

/* Free and total bytes of the file system holding path (statvfs): free is what an
 * unprivileged writer can use. */
bool fs_disk_free(const char *path, uint64_t *free_bytes, uint64_t *total_bytes);

/* "dir/name" in a new string (the caller frees it); NULL when out of memory. */
char *fs_join(const char *dir, const char *name);

bool fs_exists(const char *path);
bool fs_is_dir(const char *path);

#endif
