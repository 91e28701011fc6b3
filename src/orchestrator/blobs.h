/*
 * blobs.h — content-addressed files: module binaries, data files, execution inputs.
 *
 * A blob is named by the SHA-256 of its bytes and lives at DIR/ab/cdef... (the first
 * two hex digits are a directory, so no directory grows huge). The same bytes put
 * twice are one file. A blob is written to a temporary file, hashed, fsynced and
 * renamed into place, so a reader never sees a partial blob and a crash leaves at
 * most a stray temporary file (removed at open).
 *
 * Blobs are not reference counted: documents in the store name them, and blobs_gc
 * removes those no document names (mark and sweep). A blob put moments ago may not be
 * referenced yet (its document is written next), so gc spares blobs younger than a
 * grace period.
 *
 * Digests are 64 lowercase hex digits; every function taking one checks its shape, so
 * a digest from a request cannot name a path outside DIR.
 */
#ifndef LIQUID_ORCHESTRATOR_BLOBS_H
#define LIQUID_ORCHESTRATOR_BLOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct blob_store blob_store;
typedef struct store store;

#define BLOB_DIGEST_SIZE 65    /* 64 hex digits + NUL */

/* Opens DIR (creating it), removing temporary files a crash left behind. */
blob_store *blobs_open(const char *dir, char *err, size_t err_size);
void blobs_close(blob_store *b);
const char *blobs_dir(const blob_store *b);

bool blobs_is_digest(const char *text);

/* Stores the file at path. When move is true and path is on the same file system
 * the file is renamed into place (the caller's file is gone); otherwise it is copied.
 * expected (may be NULL) is a digest the bytes must have: a mismatch stores nothing
 * and says so. digest_out gets the blob's digest; *size_out (may be NULL) its size. */
bool blobs_put_file(blob_store *b, const char *path, bool move, const char *expected,
                    char digest_out[BLOB_DIGEST_SIZE], uint64_t *size_out, char *err,
                    size_t err_size);
bool blobs_put_memory(blob_store *b, const void *data, size_t size, const char *expected,
                      char digest_out[BLOB_DIGEST_SIZE], char *err, size_t err_size);

bool blobs_has(blob_store *b, const char *digest);
/* The file holding a blob, for http_respond_file (the caller frees it); NULL when the
 * digest is malformed. The file may not exist: check blobs_has or let the server 404. */
char *blobs_path(blob_store *b, const char *digest);
/* Reads a blob into memory (the caller frees *data; NUL-terminated), refusing blobs
 * over max_bytes (0: no limit). */
bool blobs_read(blob_store *b, const char *digest, size_t max_bytes, uint8_t **data,
                size_t *size, char *err, size_t err_size);
/* Re-hashes a stored blob: false with a message when it is missing or its bytes no
 * longer match its name (a damaged disk); a damaged blob is removed. */
bool blobs_verify(blob_store *b, const char *digest, char *err, size_t err_size);
bool blobs_remove(blob_store *b, const char *digest);

typedef struct blobs_gc_stats {
    uint64_t kept, removed, young;    /* young: unreferenced but within the grace period */
    uint64_t bytes_removed;
} blobs_gc_stats;

/* Removes blobs that no document of st names and that are older than grace_seconds.
 * stats may be NULL. */
bool blobs_gc(blob_store *b, store *st, unsigned grace_seconds, blobs_gc_stats *stats,
              char *err, size_t err_size);

#endif
