/*
 * files.h — the few file operations the supervisor needs, each reporting why it
 * failed in words a user can act on ("No space left on device", "Permission denied")
 * and each leaving either the old file or the whole new one, never half a file.
 */
#ifndef LIQUID_SUPERVISOR_FILES_H
#define LIQUID_SUPERVISOR_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* malloc'ed "a/b", "a/b/c"...; NULL-terminated list of parts. NULL if out of memory. */
char *files_join(const char *first, ...) __attribute__((sentinel));

bool files_mkdir_p(const char *path, char *err, size_t err_size);
/* Removes a file or a directory tree (symbolic links are removed, never followed). */
bool files_remove_tree(const char *path);
/* Writes to path.tmp, syncs, renames over path and syncs the directory. */
bool files_write_atomic(const char *path, const void *data, size_t size, char *err,
                        size_t err_size);
/* Reads a whole file, refusing more than max_bytes. */
uint8_t *files_read(const char *path, size_t max_bytes, size_t *size, char *err,
                    size_t err_size);
/* Copies from -> to (through to.tmp and a rename). */
bool files_copy(const char *from, const char *to, char *err, size_t err_size);
/* Renames from -> to, copying when they are on different file systems. */
bool files_move(const char *from, const char *to, char *err, size_t err_size);
/* Opens name inside dir for reading without following a symbolic link, and only if
 * it is a regular file; -1 (errno set) otherwise. */
int files_open_regular(const char *dir, const char *name);

#endif
