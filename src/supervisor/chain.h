/*
 * chain.h — handing a step's result to the next step of a pipeline
 * (`instructions.modules[m][f].to`, wasmiot-api.md §2.9) and following the next
 * step's own chain until the pipeline's final result is known, as the Rust reference
 * does.
 *
 * A primitive result becomes the next step's first query parameter; output files
 * travel as multipart parts whose field name and file name are the mount path, and
 * force a POST. A next step that answers at once with only a resultUrl (a POST on a
 * Python reference supervisor, or on Liquid) is then followed: its history entry is
 * polled (Liquid's history waits for it with ?wait=) until it is done or failed.
 */
#ifndef LIQUID_SUPERVISOR_CHAIN_H
#define LIQUID_SUPERVISOR_CHAIN_H

#include "supervisor/manifest.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct chain_file {
    const char *mount;          /* field name and file name */
    const char *path;           /* where the bytes are */
} chain_file;

typedef struct chain_outcome {
    bool ok;
    json_t *final_result;       /* the pipeline's result (new reference) when ok */
    char *next_url;             /* the URL called (malloc'ed) */
    char *next_result_url;      /* the next step's resultUrl, if it gave one (malloc'ed) */
    char *new_base;             /* the next step moved: where it is now (malloc'ed) */
    char error[600];            /* when !ok: which step failed and why */
} chain_outcome;

/* Where the next step is looked up when it moved (docs/migration.md, Rerouting). */
typedef struct chain_context {
    const char *request_id;
    const char *deployment;
    uint64_t epoch;             /* this deployment's, sent as X-Liquid-Epoch */
    const char *orchestrator_url;   /* NULL: follow a 307's Location only */
} chain_context;

/* primitive is the step's own result as text (NULL if it gave files or nothing).
 * A next step that cannot be reached, answers 307 moved or 409 stale epoch is looked
 * up (GET {orchestrator}/liquid/route/{dep}/{module}, or the 307's Location) and
 * called once more there; out->new_base then says where it is, for the caller to keep. */
void chain_forward(const manifest_endpoint *to, const char *primitive, const chain_file *files,
                   size_t file_count, long timeout_ms, const chain_context *ctx,
                   chain_outcome *out);
void chain_outcome_free(chain_outcome *out);

/* The final result an entry of a request history stands for: its own chain result
 * (Liquid), or {"result": <its result>}. */
json_t *chain_result_of_entry(const json_t *entry);

#endif
