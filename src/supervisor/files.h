/*
 * files.h — the file operations the supervisor needs beyond base/fs.h: paths of
 * several parts, moving a file across file systems, and opening a file a module wrote
 * without following a link it may have planted.
 */
#ifndef LIQUID_SUPERVISOR_FILES_H
#define LIQUID_SUPERVISOR_FILES_H

#include <stdbool.h>
#include <stddef.h>

/* malloc'ed "a/b", "a/b/c"...; the list of parts ends with NULL. NULL if out of memory. */
char *files_join(const char *first, ...) __attribute__((sentinel));

/* Renames from -> to, copying (atomically at the destination) when they are on
 * different file systems; errno says why on failure. */
bool files_move(const char *from, const char *to, char *err, size_t err_size);

/* Creates (or truncates) path with data and syncs it. Not atomic: for files of a
 * directory no reader looks at until a marker says it is complete. */
bool files_write_synced(const char *path, const void *data, size_t size, char *err,
                        size_t err_size);

/* Makes the entries of a directory durable (fsync of the directory itself), so files
 * renamed into it survive a power cut. */
bool files_sync_dir(const char *path);

/* Opens name inside dir for reading without following a symbolic link, and only if
 * it is a regular file; -1 (errno set) otherwise. */
int files_open_regular(const char *dir, const char *name);

#endif
