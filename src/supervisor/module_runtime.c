/*
 * module_runtime.c — one running module of a deployment (see module_runtime.h).
 */
#include "supervisor/module_runtime.h"

#include "supervisor/imports.h"
#include "wasm/wasi.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A saved state holds the engine's snapshot and the WASI state (open files):
 *   "LQSNAP1\0", u64 little-endian engine size, engine bytes, WASI bytes
 * — the layout `liquid run --snapshot` writes, so a state can be inspected there. */
#define STATE_MAGIC "LQSNAP1"
#define STATE_HEADER 16

struct module_runtime {
    char *deployment_id;
    char *name;
    char *sandbox_dir;
    char **former_sandboxes;    /* paths before a relocation: a reader may still hold one */
    size_t former_count;
    char *camera_dir;
    char *remote_functions;
    host_env env;               /* points at the strings above */
    wasm_module *module;
    wasm_store *store;
    wasm_linker *linker;
    wasi_ctx *wasi;
    wasm_instance *instance;
    wasm_exec *exec;
    wasm_exec_limits limits;
    manifest_limits manifest_limits;    /* what the instance was made with (to remake it) */
    pthread_mutex_t lock;
    atomic_bool interrupted;    /* a call was stopped mid-way: memory is not consistent */
    atomic_bool stopping;       /* module_runtime_interrupt: the supervisor shuts down */
    _Atomic uint64_t calls;     /* calls that finished, for the checkpointer */
    /* migration (docs/migration.md): the phase changes under the lock, and waiters
     * sleep on phase_changed with the lock */
    _Atomic int phase;          /* runtime_phase */
    pthread_cond_t phase_changed;
    bool parked;                /* a call suspended for a migration waits for the verdict */
    json_t *carried;            /* what that call is (carried in the bundle) */
    char *moved_to;             /* RUNTIME_MOVED: the base URL of the target */
    char *moved_as;             /* ... and the module's name there */
};

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void describe_trap(const wasm_trap *trap, const char *what, char *out, size_t size)
{
    const char *message = trap->message[0] ? trap->message : wasm_trap_kind_name(trap->kind);
    if (trap->kind == WASM_TRAP_EXIT)
        snprintf(out, size, "%s exited with status %d (WASI proc_exit)", what, trap->exit_code);
    else if (trap->has_location)
        snprintf(out, size, "%s trapped: %s (function %" PRIu32 ", offset 0x%" PRIx32 ")", what,
                 message, trap->func_index, trap->offset);
    else
        snprintf(out, size, "%s trapped: %s", what, message);
}

static bool unpack_state(const uint8_t *data, size_t size, const uint8_t **engine,
                         size_t *engine_size, const uint8_t **wasi, size_t *wasi_size)
{
    if (size < STATE_HEADER || memcmp(data, STATE_MAGIC, 8))
        return false;
    uint64_t n = 0;
    for (int i = 0; i < 8; i++)
        n |= (uint64_t)data[8 + i] << (8 * i);
    if (n > size - STATE_HEADER)
        return false;
    *engine = data + STATE_HEADER;
    *engine_size = (size_t)n;
    *wasi = *engine + n;
    *wasi_size = size - STATE_HEADER - (size_t)n;
    return true;
}

/* The engine's snapshot into the fresh instance (and its call into the fresh exec). */
static bool restore_engine(module_runtime *rt, const uint8_t *engine, size_t engine_size,
                           bool call_allowed, char *err, size_t err_size)
{
    wasm_error werr = {0};
    bool has_call = wasm_snapshot_has_call(engine, engine_size);
    if (has_call && !call_allowed) {
        snprintf(err, err_size, "the saved state holds a call in progress");
        return false;
    }
    if (!wasm_snapshot_restore(rt->instance, has_call ? rt->exec : NULL, engine, engine_size,
                               &werr)) {
        snprintf(err, err_size, "%s", werr.message);
        return false;
    }
    return true;
}

static bool restore_state(module_runtime *rt, const uint8_t *state, size_t size,
                          bool call_allowed, char *err, size_t err_size)
{
    const uint8_t *engine, *wasi;
    size_t engine_size, wasi_size;
    wasm_error werr = {0};
    if (!unpack_state(state, size, &engine, &engine_size, &wasi, &wasi_size)) {
        snprintf(err, err_size, "the saved state is truncated or not a state file");
        return false;
    }
    if (!restore_engine(rt, engine, engine_size, call_allowed, err, err_size))
        return false;
    if (wasi_size && !wasi_ctx_restore(rt->wasi, wasi, wasi_size, &werr)) {
        snprintf(err, err_size, "%s", werr.message);
        return false;
    }
    return true;
}

/* Store, linker, WASI context and instance, with no module code run yet. */
static bool instantiate(module_runtime *rt, const manifest_limits *limits, char *err,
                        size_t err_size)
{
    wasm_error werr = {0};
    rt->store = wasm_store_new();
    rt->linker = rt->store ? wasm_linker_new(rt->store) : NULL;
    rt->wasi = wasi_ctx_new();
    if (!rt->linker || !rt->wasi || !wasi_ctx_add_arg(rt->wasi, rt->name)) {
        snprintf(err, err_size, "out of memory");
        return false;
    }
    rt->env.store = rt->store;  /* camera.takeImageDynamicSize calls the module's alloc */
    if (!wasi_ctx_preopen_dir(rt->wasi, rt->sandbox_dir, ".", &werr)) {
        snprintf(err, err_size, "cannot open the module's directory: %s", werr.message);
        return false;
    }
    if (!imports_link(rt->linker, rt->wasi, &rt->env, err, err_size))
        return false;
    rt->manifest_limits = *limits;
    rt->limits.fuel = limits->fuel;
    rt->limits.timeout_ms = limits->timeout_ms;
    uint64_t pages = limits->max_memory_bytes / 65536;
    wasm_instance_limits instance_limits = {
        .max_memory_pages = pages > UINT32_MAX ? UINT32_MAX : (uint32_t)pages,
    };
    rt->instance = wasm_instantiate(rt->store, rt->module, rt->linker, &instance_limits,
                                    &rt->limits, &werr);
    if (!rt->instance) {
        snprintf(err, err_size, "%s: %s", wasm_error_kind_name(werr.kind), werr.message);
        return false;
    }
    rt->exec = wasm_exec_new(rt->store, &rt->limits);
    if (!rt->exec) {
        snprintf(err, err_size, "out of memory");
        return false;
    }
    return true;
}

/* A reactor (wasi-libc's -mexec-model=reactor, Rust cdylib) sets itself up in
 * _initialize before any other export may run. */
static bool initialize(module_runtime *rt, char *err, size_t err_size)
{
    wasm_func *init = wasm_instance_export_func(rt->instance, "_initialize");
    if (!init)
        return true;
    if (wasm_exec_call(rt->exec, init, NULL, 0) == WASM_STATUS_OK)
        return true;
    describe_trap(wasm_exec_trap(rt->exec), "_initialize", err, err_size);
    return false;
}

module_runtime *module_runtime_new(const module_runtime_config *config, wasm_module *module,
                                   const uint8_t *state, size_t state_size, char *state_err,
                                   size_t state_err_size, char *err, size_t err_size)
{
    module_runtime *rt = calloc(1, sizeof *rt);
    if (!rt) {
        wasm_module_free(module);
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    rt->module = module;
    pthread_mutex_init(&rt->lock, NULL);
    pthread_cond_init(&rt->phase_changed, NULL);
    atomic_init(&rt->interrupted, false);
    atomic_init(&rt->stopping, false);
    atomic_init(&rt->phase, RUNTIME_SERVING);
    rt->deployment_id = dup_or_null(config->deployment_id);
    rt->name = dup_or_null(config->name);
    rt->sandbox_dir = dup_or_null(config->sandbox_dir);
    rt->camera_dir = dup_or_null(config->camera_dir);
    rt->remote_functions = dup_or_null(config->remote_functions);
    rt->env = (host_env){
        .camera_dir = rt->camera_dir,
        .remote_functions = rt->remote_functions,
        .deployment_id = rt->deployment_id,
        .module_name = rt->name,
    };
    if (!rt->deployment_id || !rt->name || !rt->sandbox_dir) {
        snprintf(err, err_size, "out of memory");
        module_runtime_free(rt);
        return NULL;
    }
    if (!instantiate(rt, &config->limits, err, err_size)) {
        module_runtime_free(rt);
        return NULL;
    }
    bool restored = state && restore_state(rt, state, state_size, false, state_err,
                                           state_err_size);
    if (!restored && state) {
        /* a failed restore may have written part of memory: start from a clean instance */
        wasm_exec_free(rt->exec);
        wasm_linker_free(rt->linker);
        wasm_store_free(rt->store);
        wasi_ctx_free(rt->wasi);
        rt->exec = NULL, rt->linker = NULL, rt->store = NULL, rt->wasi = NULL;
        if (!instantiate(rt, &config->limits, err, err_size)) {
            module_runtime_free(rt);
            return NULL;
        }
    }
    if (!restored && !initialize(rt, err, err_size)) {
        module_runtime_free(rt);
        return NULL;
    }
    return rt;
}

void module_runtime_free(module_runtime *rt)
{
    if (!rt)
        return;
    if (rt->exec)
        wasm_exec_free(rt->exec);
    if (rt->linker)
        wasm_linker_free(rt->linker);
    if (rt->store)
        wasm_store_free(rt->store);
    wasi_ctx_free(rt->wasi);
    if (rt->module)
        wasm_module_free(rt->module);
    pthread_mutex_destroy(&rt->lock);
    pthread_cond_destroy(&rt->phase_changed);
    json_decref(rt->carried);
    free(rt->moved_to);
    free(rt->moved_as);
    free(rt->deployment_id);
    free(rt->name);
    free(rt->sandbox_dir);
    for (size_t i = 0; i < rt->former_count; i++)
        free(rt->former_sandboxes[i]);
    free(rt->former_sandboxes);
    free(rt->camera_dir);
    free(rt->remote_functions);
    free(rt);
}

const char *module_runtime_name(const module_runtime *rt)
{
    return rt->name;
}

const char *module_runtime_sandbox(const module_runtime *rt)
{
    return rt->sandbox_dir;
}

bool module_runtime_relocate(module_runtime *rt, const char *to, char *err, size_t err_size)
{
    char *copy = strdup(to);
    char **grown = realloc(rt->former_sandboxes, (rt->former_count + 1) * sizeof *grown);
    if (grown)
        rt->former_sandboxes = grown;
    if (!copy || !grown) {
        free(copy);
        snprintf(err, err_size, "out of memory");
        return false;
    }
    pthread_mutex_lock(&rt->lock);
    bool moved = rename(rt->sandbox_dir, to) == 0;
    if (moved) {
        rt->former_sandboxes[rt->former_count++] = rt->sandbox_dir;
        rt->sandbox_dir = copy;
    } else {
        snprintf(err, err_size, "cannot move %s to %s: %s", rt->sandbox_dir, to,
                 strerror(errno));
        free(copy);
    }
    pthread_mutex_unlock(&rt->lock);
    return moved;
}

const wasm_module *module_runtime_module(const module_runtime *rt)
{
    return rt->module;
}

bool module_runtime_export_type(const module_runtime *rt, const char *function,
                                wasm_functype_view *type)
{
    wasm_func *f = wasm_instance_export_func(rt->instance, function);
    if (!f)
        return false;
    *type = wasm_func_type(f);
    return true;
}

void module_runtime_lock(module_runtime *rt)
{
    pthread_mutex_lock(&rt->lock);
}

void module_runtime_unlock(module_runtime *rt)
{
    pthread_mutex_unlock(&rt->lock);
}

static void take_status(module_runtime *rt, wasm_status status, const char *function,
                        module_call_outcome *out);

void module_runtime_call(module_runtime *rt, const char *function, const wasm_value *args,
                         uint32_t arg_count, module_call_outcome *out)
{
    memset(out, 0, sizeof *out);
    wasm_func *f = wasm_instance_export_func(rt->instance, function);
    if (!f) {
        snprintf(out->error, sizeof out->error, "module %s exports no function %s", rt->name,
                 function);
        out->trap = WASM_TRAP_HOST;
        return;
    }
    take_status(rt, wasm_exec_call(rt->exec, f, args, arg_count), function, out);
}

/* What a call's status means here. A suspension is a migration's (the call is
 * carried or resumed), the shutdown's (the call fails), or a leftover of a migration
 * that found no call running: then the call simply goes on. */
static void take_status(module_runtime *rt, wasm_status status, const char *function,
                        module_call_outcome *out)
{
    while (status == WASM_STATUS_SUSPENDED && !atomic_load(&rt->stopping) &&
           atomic_load(&rt->phase) != RUNTIME_MIGRATING)
        status = wasm_exec_resume(rt->exec);
    out->fuel_used = wasm_exec_fuel_used(rt->exec);
    if (status != WASM_STATUS_SUSPENDED)
        atomic_fetch_add(&rt->calls, 1);
    if (status == WASM_STATUS_SUSPENDED && !atomic_load(&rt->stopping)) {
        out->suspended = true;
        out->trap = WASM_TRAP_HOST;
        snprintf(out->error, sizeof out->error, "%s was suspended for a migration", function);
        return;
    }
    if (status == WASM_STATUS_OK) {
        wasm_value results[16];
        uint32_t n = wasm_exec_results(rt->exec, results, 16);
        out->ok = true;
        out->has_value = n > 0;
        if (n > 0)
            out->value = results[0];
        return;
    }
    if (status == WASM_STATUS_SUSPENDED) {
        atomic_store(&rt->interrupted, true);
        out->trap = WASM_TRAP_HOST;
        snprintf(out->error, sizeof out->error,
                 "%s was interrupted: the supervisor is shutting down", function);
        return;
    }
    const wasm_trap *trap = wasm_exec_trap(rt->exec);
    out->trap = trap->kind;
    describe_trap(trap, function, out->error, sizeof out->error);
}

void module_runtime_interrupt(module_runtime *rt)
{
    atomic_store(&rt->stopping, true);
    wasm_exec_interrupt(rt->exec);
}

static bool save_state(module_runtime *rt, bool without_memory0, uint8_t **out,
                       size_t *out_size, char *err, size_t err_size)
{
    if (atomic_load(&rt->interrupted)) {
        snprintf(err, err_size, "a call was interrupted mid-way, so memory is not consistent");
        return false;
    }
    wasm_error werr = {0};
    uint8_t *engine = NULL, *wasi = NULL;
    size_t engine_size = 0, wasi_size = 0;
    const wasm_exec *parked = rt->parked ? rt->exec : NULL;
    bool ok = (without_memory0
                   ? wasm_snapshot_save_without_memory0(rt->instance, parked, &engine,
                                                        &engine_size, &werr)
                   : wasm_snapshot_save(rt->instance, parked, &engine, &engine_size, &werr)) &&
              wasi_ctx_save(rt->wasi, &wasi, &wasi_size, &werr);
    uint8_t *state = ok ? malloc(STATE_HEADER + engine_size + wasi_size) : NULL;
    if (!state) {
        snprintf(err, err_size, "%s", ok ? "out of memory" : werr.message);
        free(engine);
        free(wasi);
        return false;
    }
    memcpy(state, STATE_MAGIC, 8);
    for (int i = 0; i < 8; i++)
        state[8 + i] = (uint8_t)((uint64_t)engine_size >> (8 * i));
    memcpy(state + STATE_HEADER, engine, engine_size);
    if (wasi_size)
        memcpy(state + STATE_HEADER + engine_size, wasi, wasi_size);
    free(engine);
    free(wasi);
    *out = state;
    *out_size = STATE_HEADER + engine_size + wasi_size;
    return true;
}

bool module_runtime_save_state(module_runtime *rt, uint8_t **out, size_t *out_size, char *err,
                               size_t err_size)
{
    return save_state(rt, false, out, out_size, err, err_size);
}

bool module_runtime_save_state_without_memory(module_runtime *rt, uint8_t **out,
                                              size_t *out_size, char *err, size_t err_size)
{
    return save_state(rt, true, out, out_size, err, err_size);
}

const uint8_t *module_runtime_memory(module_runtime *rt, uint64_t *size)
{
    *size = 0;
    return rt->instance ? wasm_instance_memory(rt->instance, size) : NULL;
}

/* ------------------------------------------------------------- migration */

uint64_t module_runtime_call_count(module_runtime *rt)
{
    return atomic_load(&rt->calls);
}

runtime_phase module_runtime_phase(module_runtime *rt)
{
    return (runtime_phase)atomic_load(&rt->phase);
}

/* Sets the phase and wakes every waiter; the lock is held. */
static void set_phase(module_runtime *rt, runtime_phase phase)
{
    atomic_store(&rt->phase, phase);
    pthread_cond_broadcast(&rt->phase_changed);
}

runtime_phase module_runtime_enter(module_runtime *rt)
{
    pthread_mutex_lock(&rt->lock);
    for (;;) {
        runtime_phase phase = module_runtime_phase(rt);
        if (phase == RUNTIME_SERVING || phase == RUNTIME_MOVED)
            return phase;
        pthread_cond_wait(&rt->phase_changed, &rt->lock);
    }
}

runtime_phase module_runtime_settled_phase(module_runtime *rt, char **target, char **as)
{
    *target = *as = NULL;
    if (module_runtime_phase(rt) == RUNTIME_SERVING)
        return RUNTIME_SERVING;
    runtime_phase phase = module_runtime_enter(rt);
    *target = module_runtime_moved_to(rt, as);
    pthread_mutex_unlock(&rt->lock);
    return phase;
}

char *module_runtime_moved_to(module_runtime *rt, char **as)
{
    *as = rt->moved_as ? strdup(rt->moved_as) : strdup(rt->name);
    return rt->moved_to ? strdup(rt->moved_to) : NULL;
}

runtime_phase module_runtime_park(module_runtime *rt, json_t *call)
{
    json_decref(rt->carried);
    rt->carried = call;
    rt->parked = true;
    pthread_cond_broadcast(&rt->phase_changed);
    while (module_runtime_phase(rt) == RUNTIME_MIGRATING)
        pthread_cond_wait(&rt->phase_changed, &rt->lock);
    rt->parked = false;
    json_decref(rt->carried);
    rt->carried = NULL;
    return module_runtime_phase(rt);
}

void module_runtime_resume_call(module_runtime *rt, const char *function,
                                module_call_outcome *out)
{
    memset(out, 0, sizeof *out);
    if (module_runtime_phase(rt) == RUNTIME_RESUMING)
        set_phase(rt, RUNTIME_SERVING);     /* the carried call runs now; others after it */
    take_status(rt, wasm_exec_resume(rt->exec), function, out);
}

static bool add_ms(struct timespec *ts, uint64_t ms)
{
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
    return true;
}

json_t *module_runtime_quiesce(module_runtime *rt, uint64_t grace_ms)
{
    atomic_store(&rt->phase, RUNTIME_MIGRATING);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    add_ms(&deadline, grace_ms);
    if (pthread_mutex_timedlock(&rt->lock, &deadline) != 0) {
        wasm_exec_interrupt(rt->exec);  /* the call stops at its next safe point */
        pthread_mutex_lock(&rt->lock);
    }
    /* The lock may come from a call that finished, or from one that parked (it waits
     * on phase_changed, which released the lock). */
    return rt->parked ? json_incref(rt->carried) : NULL;
}

void module_runtime_settle(module_runtime *rt, bool moved, const char *target,
                           const char *target_module)
{
    free(rt->moved_to);
    free(rt->moved_as);
    rt->moved_to = moved && target ? strdup(target) : NULL;
    rt->moved_as = moved && target_module ? strdup(target_module) : NULL;
    set_phase(rt, moved ? RUNTIME_MOVED : RUNTIME_SERVING);
    pthread_mutex_unlock(&rt->lock);
}

typedef struct engine_parts {
    wasm_store *store;
    wasm_linker *linker;
    wasi_ctx *wasi;
    wasm_instance *instance;
    wasm_exec *exec;
} engine_parts;

static engine_parts take_parts(module_runtime *rt)
{
    engine_parts p = {rt->store, rt->linker, rt->wasi, rt->instance, rt->exec};
    rt->store = NULL, rt->linker = NULL, rt->wasi = NULL, rt->instance = NULL, rt->exec = NULL;
    return p;
}

static void put_parts(module_runtime *rt, engine_parts p)
{
    rt->store = p.store, rt->linker = p.linker, rt->wasi = p.wasi, rt->instance = p.instance;
    rt->exec = p.exec;
}

static void free_parts(engine_parts p)
{
    if (p.exec)
        wasm_exec_free(p.exec);
    if (p.linker)
        wasm_linker_free(p.linker);
    if (p.store)
        wasm_store_free(p.store);
    wasi_ctx_free(p.wasi);
}

bool module_runtime_snapshot(module_runtime *rt, uint8_t **out, size_t *out_size, char *err,
                             size_t err_size)
{
    if (atomic_load(&rt->interrupted)) {
        snprintf(err, err_size, "a call was interrupted mid-way, so memory is not consistent");
        return false;
    }
    wasm_error werr = {0};
    if (!wasm_snapshot_save(rt->instance, rt->parked ? rt->exec : NULL, out, out_size, &werr)) {
        snprintf(err, err_size, "%s", werr.message);
        return false;
    }
    return true;
}

bool module_runtime_replace_state(module_runtime *rt, const uint8_t *state, size_t size,
                                  bool *has_call, char *err, size_t err_size)
{
    engine_parts old = take_parts(rt);
    char why[512] = "";
    bool ok = instantiate(rt, &rt->manifest_limits, why, sizeof why) &&
              restore_state(rt, state, size, true, why, sizeof why);
    if (!ok) {
        free_parts(take_parts(rt));
        put_parts(rt, old);
        snprintf(err, err_size, "%s", why);
        return false;
    }
    free_parts(old);
    atomic_store(&rt->interrupted, false);
    *has_call = wasm_exec_resumable(rt->exec);
    if (*has_call)
        set_phase(rt, RUNTIME_RESUMING);   /* no other call before the carried one */
    else if (module_runtime_phase(rt) == RUNTIME_MOVED)
        set_phase(rt, RUNTIME_SERVING);    /* it moved back here */
    return true;
}
