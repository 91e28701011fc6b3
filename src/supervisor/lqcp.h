/*
 * lqcp.h — the checkpoint format a supervisor sends its orchestrator (docs/migration.md,
 * "Checkpoints"): the memory chunks that changed, and the rest of the state with the
 * memory left out. All integers little-endian:
 *
 *   "LQCP" u32 version=1, u32 chunk_size (4096), u64 memory_size,
 *   u32 n_chunks, then per chunk: u32 index, chunk_size bytes
 *   u64 rest_size, rest: a state bundle whose saved state's engine snapshot has memory 0
 *                        of zero pages (its closing SHA-256 recomputed)
 *
 * The supervisor's checkpointer takes the rest from the engine directly
 * (wasm_snapshot_save_without_memory0) and copies only the changed chunks, so a
 * large memory is not copied whole under the module's lock; lqcp_split_state does
 * the same split on a full saved state (LQSN, src/wasm/snapshot.c: memory first,
 * after a 44-byte header), and gives the same rest.
 */
#ifndef LIQUID_SUPERVISOR_LQCP_H
#define LIQUID_SUPERVISOR_LQCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LQCP_VERSION 1
#define LQCP_CHUNK 4096u

/* Splits a saved state (LQSNAP1-wrapped or a bare engine snapshot) into memory 0
 * (*memory malloc'ed, NULL when empty) and the same state with memory 0 of zero pages
 * (*rest malloc'ed). false with the reason in err. */
bool lqcp_split_state(const uint8_t *state, size_t size, uint8_t **memory,
                      uint64_t *memory_size, uint8_t **rest, size_t *rest_size, char *err,
                      size_t err_size);

/* A fast 64-bit hash of one chunk: the same bytes always give the same value. */
uint64_t lqcp_chunk_hash(const uint8_t *chunk, size_t size);

/* Writes a checkpoint with the chunks listed (indexes into memory). *out malloc'ed. */
bool lqcp_write(const uint8_t *memory, uint64_t memory_size, const uint32_t *chunks,
                size_t chunk_count, const uint8_t *rest, size_t rest_size, uint8_t **out,
                size_t *out_size);

/* The same from chunks already copied out of the memory: chunks holds chunk_count x
 * LQCP_CHUNK bytes, the i-th being chunk indexes[i] of the memory. */
bool lqcp_write_packed(uint64_t memory_size, const uint32_t *indexes, const uint8_t *chunks,
                       size_t chunk_count, const uint8_t *rest, size_t rest_size,
                       uint8_t **out, size_t *out_size);

/* A parsed checkpoint; pointers into the bytes read. */
typedef struct lqcp_view {
    uint64_t memory_size;
    uint32_t chunk_count;
    const uint8_t *chunks;      /* chunk_count x (u32 index, LQCP_CHUNK bytes) */
    const uint8_t *rest;
    uint64_t rest_size;
} lqcp_view;

/* Checks magic, version, chunk size, every index against the memory, every length.
 * false with what is wrong in err. */
bool lqcp_read(const uint8_t *data, size_t size, lqcp_view *out, char *err, size_t err_size);

#endif
