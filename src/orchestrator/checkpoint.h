/*
 * checkpoint.h — module state as the orchestrator keeps it (docs/migration.md, "The
 * state bundle" and "Checkpoints").
 *
 * A supervisor sends only what changed since its last checkpoint (LQCP: the changed
 * memory chunks, and the rest of the state without the memory); the orchestrator
 * applies it to the full bundle it holds (the base) and keeps the result, a complete
 * LQSB bundle that a device can restore as a migration's target does.
 *
 * The memory lives inside the bundle's engine snapshot (LQSN, src/wasm/snapshot.c):
 * a checkpoint's snapshot carries memory 0 with zero pages, and applying it puts the
 * memory back as pages (an all-zero page as the format's one-byte marker) and
 * recomputes the snapshot's closing SHA-256. Nothing else of the snapshot is read, so
 * a new engine version changes nothing here as long as the memory section leads.
 */
#ifndef LIQUID_ORCHESTRATOR_CHECKPOINT_H
#define LIQUID_ORCHESTRATOR_CHECKPOINT_H

#include "base/http_server.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUNDLE_KIND_SNAPSHOT 1
#define BUNDLE_KIND_FILE 2
#define BUNDLE_KIND_CALL 3
#define BUNDLE_KIND_DIRECTORY 4     /* a subdirectory of the module's: a path, no bytes */
#define BUNDLE_MAX_PATH 1024u       /* a file's or directory's path, in bytes */

/* One section of an LQSB bundle; name and data point into the parsed bytes. */
typedef struct bundle_section {
    uint8_t kind;
    const char *name;
    uint32_t name_len;
    const uint8_t *data;
    uint64_t size;
} bundle_section;

/* Parses an LQSB bundle: *sections (malloc'ed) point into data. false with what is
 * wrong in err (truncated, unknown version, a path that is not plain names joined
 * by '/', a directory with bytes, two calls). */
bool bundle_parse(const uint8_t *data, size_t size, bundle_section **sections, size_t *count,
                  char *err, size_t err_size);
/* Writes an LQSB bundle; *out is malloc'ed. */
bool bundle_write(const bundle_section *sections, size_t count, uint8_t **out, size_t *out_size);

/* The linear memory (memory 0) of a full bundle's engine snapshot: *memory malloc'ed
 * (NULL when the size is 0). */
bool bundle_memory(const uint8_t *bundle, size_t size, uint8_t **memory, uint64_t *memory_size,
                   char *err, size_t err_size);

/* Applies an LQCP checkpoint to its base (a full bundle, or NULL for none: memory
 * all zeros), giving the full bundle (*out malloc'ed). false with a sentence in err
 * when the checkpoint is malformed (bad magic or version, a chunk past the memory,
 * a rest that is not a bundle of one engine snapshot and files, a snapshot whose
 * checksum does not match). *memory_size gets the memory's size. */
bool checkpoint_apply(const uint8_t *base, size_t base_size, const uint8_t *checkpoint,
                      size_t checkpoint_size, uint8_t **out, size_t *out_size,
                      uint64_t *memory_size, char *err, size_t err_size);

/* Upper bound of a checkpoint's memory (the engine's 4 GiB of a 32-bit memory). */
#define CHECKPOINT_MAX_MEMORY (UINT64_C(4) << 30)

/* ---- checkpoint_store.c */

/* PUT /liquid/checkpoints/{deployment}/{module} (X-Liquid-Epoch, X-Liquid-Base). */
void checkpoint_put(http_request *req, void *user);

struct orchestrator;
/* Sends the newest checkpoint of (deployment, module) to device_url as its state
 * (PUT /deploy/{dep}/modules/{module}/state with a transfer id and digest), publishing
 * checkpoint.restored. false with the reason in err; *had_checkpoint says whether
 * there was one to send (false: nothing to do, and true is returned). */
bool checkpoint_restore(struct orchestrator *o, const char *deployment_id,
                        const char *module, const char *target_module, const char *device_id,
                        const char *device_url, long long epoch, bool *had_checkpoint,
                        char *err, size_t err_size);

#endif
