/*
 * module_runtime.h — one module of one deployment, running: its engine instance,
 * WASI context (its sandbox directory preopened as "."), host functions and the
 * limits its calls run under.
 *
 * The instance lives as long as the deployment, so a module's memory and globals
 * survive from call to call (the references do the same). Calls into one runtime
 * are serialized by its lock; different runtimes run in parallel. The lock also
 * covers what surrounds a call — placing input files in the sandbox, copying output
 * files out — so two calls never see each other's files.
 */
#ifndef LIQUID_SUPERVISOR_MODULE_RUNTIME_H
#define LIQUID_SUPERVISOR_MODULE_RUNTIME_H

#include "supervisor/manifest.h"
#include "wasm/wasm.h"

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct module_runtime module_runtime;

typedef struct module_runtime_config {
    const char *deployment_id;
    const char *name;
    const char *sandbox_dir;        /* preopened as "." */
    const char *camera_dir;         /* NULL: none */
    const char *remote_functions;   /* path of remote_functions.json, may be NULL */
    manifest_limits limits;         /* effective limits (defaults applied) */
} module_runtime_config;

/* Instantiates module (the runtime takes ownership of it) and runs its _initialize
 * export if it has one — or, given a saved state, restores that instead. A state
 * that cannot be restored is reported in state_err (when non-NULL) and the module
 * starts afresh. NULL with the reason in err if the module cannot run here. */
module_runtime *module_runtime_new(const module_runtime_config *config, wasm_module *module,
                                   const uint8_t *state, size_t state_size, char *state_err,
                                   size_t state_err_size, char *err, size_t err_size);
void module_runtime_free(module_runtime *rt);

const char *module_runtime_name(const module_runtime *rt);
const char *module_runtime_sandbox(const module_runtime *rt);
/* A redeploy that keeps this instance (docs/supervisor.md, Deploying) moves its
 * directory into the new version's: renames sandbox to to, under the lock (a call
 * running finishes first). The WASI context holds the directory open, so the module
 * sees nothing; the old path string stays valid until the runtime is freed, for a
 * caller that read it before. false (reason in err) leaves everything in place. */
bool module_runtime_relocate(module_runtime *rt, const char *to, char *err, size_t err_size);
const wasm_module *module_runtime_module(const module_runtime *rt);

/* The type of an exported function; false if there is no such function export. */
bool module_runtime_export_type(const module_runtime *rt, const char *function,
                                wasm_functype_view *type);

void module_runtime_lock(module_runtime *rt);
void module_runtime_unlock(module_runtime *rt);

typedef struct module_call_outcome {
    bool ok;
    bool suspended;             /* stopped for a migration: park, then resume or let go */
    bool has_value;
    wasm_value value;           /* the first result, as the references take */
    wasm_trap_kind trap;        /* when !ok */
    char error[400];            /* when !ok: what happened, with the trap's location */
    uint64_t fuel_used;
} module_call_outcome;

/* Calls an export under the runtime's limits. The caller holds the lock. */
void module_runtime_call(module_runtime *rt, const char *function, const wasm_value *args,
                         uint32_t arg_count, module_call_outcome *out);

/* Asks a running call to stop at its next safe point (any thread). The call then
 * fails with "interrupted", and the runtime's state is no longer saved. */
void module_runtime_interrupt(module_runtime *rt);

/* The instance's memory, globals, tables and open files, in the format `liquid run
 * --restore` reads. The caller holds the lock. false (reason in err) if there is
 * nothing consistent to save: a call was interrupted mid-way. */
bool module_runtime_save_state(module_runtime *rt, uint8_t **out, size_t *out_size, char *err,
                               size_t err_size);
/* The same with memory 0 left out (the engine snapshot holds it as zero pages: a
 * checkpoint's rest, docs/migration.md), for a caller that copies from
 * module_runtime_memory only the parts it needs. The caller holds the lock. */
bool module_runtime_save_state_without_memory(module_runtime *rt, uint8_t **out,
                                              size_t *out_size, char *err, size_t err_size);
/* Memory 0 of the instance (NULL, *size 0 if none): valid while the caller holds the
 * lock and runs no call. */
const uint8_t *module_runtime_memory(module_runtime *rt, uint64_t *size);

/* ------------------------------------------------------------- migration
 *
 * A migration (docs/migration.md) quiesces the runtime: new calls wait, a running
 * call gets --migrate-grace-ms and is then suspended at a safe point and *parked*
 * (its thread waits for the verdict without the lock). The migration, holding the
 * lock, saves the state (with the parked call) and sends it; the verdict either
 * moves the runtime (the parked call's result comes from the target, later calls are
 * redirected) or lets it serve on (the parked call resumes here, nothing lost). */

typedef enum runtime_phase {
    RUNTIME_SERVING = 0,
    RUNTIME_MIGRATING,          /* a migration holds or waits for the lock */
    RUNTIME_RESUMING,           /* restored with a carried call: it runs before others */
    RUNTIME_MOVED,              /* the module lives on another device now */
} runtime_phase;

runtime_phase module_runtime_phase(module_runtime *rt);
/* Calls that finished in this runtime (a checkpoint is taken when it changed). */
uint64_t module_runtime_call_count(module_runtime *rt);
/* Takes the lock for a call, waiting out a migration or a carried call first.
 * Returns RUNTIME_SERVING or RUNTIME_MOVED, with the lock held either way. */
runtime_phase module_runtime_enter(module_runtime *rt);
/* The phase once no migration is under way (waits for one to end), and where the
 * module went when it moved (*target, and its name there *as; malloc'ed, else NULL);
 * no lock held. */
runtime_phase module_runtime_settled_phase(module_runtime *rt, char **target, char **as);
/* RUNTIME_MOVED: where to (malloc'ed), else NULL; *as its name there (malloc'ed).
 * The caller holds the lock. */
char *module_runtime_moved_to(module_runtime *rt, char **as);

/* After a call came back suspended: records what the call is (the runtime takes
 * call, a JSON object carried in the bundle) and waits for the migration's verdict.
 * The lock is held on entry and on return. RUNTIME_SERVING: resume it here with
 * module_runtime_resume_call; RUNTIME_MOVED: the target runs it. */
runtime_phase module_runtime_park(module_runtime *rt, json_t *call);
/* Continues the suspended call (a parked one, or one restored from a bundle). The
 * caller holds the lock. */
void module_runtime_resume_call(module_runtime *rt, const char *function,
                                module_call_outcome *out);

/* The migration's side. Stops admission, waits grace_ms for a running call, then
 * suspends it. Returns with the lock held, and the parked call's description (new
 * reference) or NULL. Save the state with module_runtime_save_state. */
json_t *module_runtime_quiesce(module_runtime *rt, uint64_t grace_ms);
/* Ends the migration and releases the lock: moved to target, or serving on. */
void module_runtime_settle(module_runtime *rt, bool moved, const char *target,
                           const char *target_module);

/* The engine's snapshot of the instance (wasm_snapshot_save: memory, globals, tables,
 * and the parked call if there is one) — what a state bundle carries. The caller
 * holds the lock. (Checkpoints; a bundle carries module_runtime_save_state's, which
 * wraps it with the WASI state, as the orchestrator's checkpoint code reads.) */
bool module_runtime_snapshot(module_runtime *rt, uint8_t **out, size_t *out_size, char *err,
                             size_t err_size);

/* A migration's target: replaces the instance with one restored from a saved state
 * (module_runtime_save_state's: the engine snapshot wrapped with the WASI state),
 * keeping the old one if that fails. With a
 * suspended call in it (*has_call), the runtime admits no other call until
 * module_runtime_resume_call runs it. The caller holds the lock. */
bool module_runtime_replace_state(module_runtime *rt, const uint8_t *state, size_t size,
                                  bool *has_call, char *err, size_t err_size);

#endif
