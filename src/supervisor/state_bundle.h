/*
 * state_bundle.h — what moves when a module migrates (docs/migration.md, "The state
 * bundle"): the module's saved state (engine snapshot, with a suspended call if there
 * is one, and its WASI state), the files of its directory, and the description of a
 * suspended call. All integers little-endian:
 *
 *   "LQSB" u32 version=1
 *   u32 n_sections, then per section: u8 kind, u32 name_len, name, u64 size, bytes
 *
 * Reading checks everything a sender could get wrong or a network could cut short —
 * magic, version, every length against what is left, known kinds, file and
 * directory paths made of plain names (never '..', never absolute), no path twice,
 * exactly one state, at most one call, nothing after the last section — so a bundle
 * that reads is one that can be restored section by section.
 */
#ifndef LIQUID_SUPERVISOR_STATE_BUNDLE_H
#define LIQUID_SUPERVISOR_STATE_BUNDLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATE_BUNDLE_VERSION 1

typedef enum bundle_kind {
    BUNDLE_STATE = 1,       /* name "": the saved state: "LQSNAP1\0", u64 engine size, the
                               engine snapshot (wasm_snapshot_save), the WASI state */
    BUNDLE_FILE = 2,        /* name: the file's path in the module's directory */
    BUNDLE_CALL = 3,        /* name: request id; bytes: JSON {"requestId", "function", ...} */
    BUNDLE_DIRECTORY = 4,   /* name: a subdirectory's path; no bytes (an empty one moves too) */
} bundle_kind;

/* Longest section name: a path of several plain names. */
#define STATE_BUNDLE_MAX_NAME 1024u

/* A path in the module's directory as a bundle names it: plain names (no '.', '..',
 * control characters or backslash) joined by single '/', none leading or trailing. */
bool state_bundle_is_relative_path(const char *name);

typedef struct state_section {
    uint8_t kind;
    const char *name;       /* NUL-terminated (reading: a copy owned by the bundle) */
    const uint8_t *data;    /* reading: points into the bundle's bytes */
    uint64_t size;
} state_section;

typedef struct state_bundle {
    state_section *sections;
    size_t count;
    const state_section *state;    /* the one BUNDLE_STATE section */
    json_t *call;                   /* the BUNDLE_CALL's JSON, or NULL */
} state_bundle;

/* Lays the sections out; *out is malloc'ed. false only when out of memory. */
bool state_bundle_write(const state_section *sections, size_t count, uint8_t **out,
                        size_t *out_size);

/* Parses and checks data (which must outlive the bundle). false with what is wrong,
 * and where, in err. */
bool state_bundle_read(const uint8_t *data, size_t size, state_bundle *out, char *err,
                       size_t err_size);
void state_bundle_free(state_bundle *bundle);

/* "sha256:<hex>" of a bundle, as X-Liquid-Digest carries it (state_transfer.c). */
void state_bundle_digest(const uint8_t *data, size_t size, char out[72]);

#endif
