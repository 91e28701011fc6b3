/*
 * fuzz_module.c — libFuzzer target: any bytes through everything a module goes
 * through in Liquid.
 *
 *   1. decode + validate (wasm_module_load); a refusal must be a well-formed error;
 *   2. instantiate, every import satisfied by a dummy of the right type;
 *   3. call each exported function with zero arguments under a small fuel limit.
 *      For the first few, the same call also runs as a migration would: from a
 *      snapshot of the instance, stopped half-way, snapshotted with its frames,
 *      restored into a third instance and finished there. It must end the same
 *      way (status, trap kind, results) and leave the same state;
 *   4. snapshot the instance, restore it into a fresh instance, and snapshot again:
 *      the two snapshots must be equal; truncated or damaged snapshots must be
 *      refused or restored, never crash.
 *
 * Anything the sanitizers catch is a crash; so is an answer of the engine that
 * breaks its own contract (see `contract_broken`).
 */
#include "wasm/wasm.h"
#include "wasm/internal.h"      /* wasm_sha256, to re-seal damaged snapshots */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_MEMORY_PAGES 32u       /* 2 MiB per memory: every snapshot copies them */
#define FUZZ_MAX_TABLE_ELEMS 65536u
#define FUZZ_MAX_EXPORT_CALLS 32u
#define FUZZ_MAX_MIGRATED_CALLS 4u
#define FUZZ_FUEL 100000u
#define FUZZ_MAX_RESULTS 64u
#define SNAPSHOT_CHECKSUM_SIZE 32u      /* a snapshot ends in SHA-256 of what precedes */

static const wasm_exec_limits call_limits = {
    .fuel = FUZZ_FUEL,
    .timeout_ms = 2000,
    .max_call_depth = 500,
    .stack_slots = 1u << 16,
};

static const wasm_instance_limits instance_limits = {
    .max_memory_pages = FUZZ_MAX_MEMORY_PAGES,
    .max_table_elems = FUZZ_MAX_TABLE_ELEMS,
};

static void contract_broken(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void contract_broken(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz_module: engine contract broken: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

static bool is_terminated(const char *text, size_t capacity)
{
    return memchr(text, '\0', capacity) != NULL;
}

/* ------------------------------------------------------- 1. load's errors */

static void check_load_error(const wasm_error *err, size_t size)
{
    if (err->kind != WASM_ERR_MALFORMED && err->kind != WASM_ERR_INVALID &&
        err->kind != WASM_ERR_LIMIT && err->kind != WASM_ERR_NOMEM)
        contract_broken("load refused with kind %d (%s)", (int)err->kind,
                        wasm_error_kind_name(err->kind));
    if (!is_terminated(err->message, sizeof err->message) || !err->message[0])
        contract_broken("load refused without a message (kind %s)",
                        wasm_error_kind_name(err->kind));
    if (err->has_offset && err->offset > size)
        contract_broken("error offset %zu beyond the module's %zu bytes: %s", err->offset, size,
                        err->message);
}

/* ----------------------------------------------------- 2. dummy imports */

static char valtype_letter(uint8_t type)
{
    switch (type) {
    case WASM_I32: return 'i';
    case WASM_I64: return 'I';
    case WASM_F32: return 'f';
    case WASM_F64: return 'F';
    case WASM_FUNCREF: return 'r';
    case WASM_EXTERNREF: return 'e';
    default: return 0;
    }
}

/* Signature letters for a list of types; false if one has no letter (v128). */
static bool letters_of(const uint8_t *types, uint32_t count, char **out)
{
    char *letters = malloc((size_t)count + 1);
    if (!letters)
        return false;
    for (uint32_t i = 0; i < count; i++) {
        letters[i] = valtype_letter(types[i]);
        if (!letters[i]) {
            free(letters);
            return false;
        }
    }
    letters[count] = '\0';
    *out = letters;
    return true;
}

/* The user pointer carries the result count; no memory to own. */
static int return_zeros(wasm_host_call *call, const wasm_slot *args, wasm_slot *results,
                        void *user)
{
    (void)call;
    (void)args;
    size_t count = (size_t)(uintptr_t)user;
    if (count)
        memset(results, 0, count * sizeof *results);
    return 0;
}

static void define_dummy_func(wasm_linker *linker, const wasm_extern_info *info)
{
    char *params = NULL, *results = NULL;
    if (letters_of(info->func.params, info->func.param_count, &params) &&
        letters_of(info->func.results, info->func.result_count, &results)) {
        wasm_error err;
        /* A second import of the same name may be refused: linking then says so. */
        wasm_linker_define_func(linker, info->module, info->name, params, results, return_zeros,
                                (void *)(uintptr_t)info->func.result_count, &err);
    }
    free(params);
    free(results);
}

static uint32_t bounded_max(const wasm_limits_view *limits, uint32_t bound)
{
    return limits->has_max && limits->max < bound ? limits->max : bound;
}

static void define_dummy(wasm_linker *linker, const wasm_extern_info *info)
{
    wasm_error err;
    switch (info->kind) {
    case WASM_EXTERN_FUNC:
        define_dummy_func(linker, info);
        break;
    /* The instance limits do not reach what the host defines, so the dummy's own
     * maximum bounds it; it still matches the import (min <= max <= its max). */
    case WASM_EXTERN_TABLE:
        if (info->limits.min <= FUZZ_MAX_TABLE_ELEMS)
            wasm_linker_define_table(linker, info->module, info->name,
                                     (wasm_valtype)info->table_elem_type, info->limits.min, true,
                                     bounded_max(&info->limits, FUZZ_MAX_TABLE_ELEMS), &err);
        break;
    case WASM_EXTERN_MEMORY:
        if (info->limits.min <= FUZZ_MAX_MEMORY_PAGES)
            wasm_linker_define_memory(linker, info->module, info->name, info->limits.min, true,
                                      bounded_max(&info->limits, FUZZ_MAX_MEMORY_PAGES), &err);
        break;
    case WASM_EXTERN_GLOBAL: {
        wasm_value zero;
        memset(&zero, 0, sizeof zero);
        zero.type = (wasm_valtype)info->global_type;
        wasm_linker_define_global(linker, info->module, info->name, &zero,
                                  info->global_mutable, &err);
        break;
    }
    default:
        contract_broken("import with unknown kind %d", (int)info->kind);
    }
}

/* A store with a linker whose dummies satisfy the module. Each run of a call that
 * must be compared gets its own world, so imported memories, tables and globals
 * are not shared between the runs. */
typedef struct world {
    wasm_store *store;
    wasm_linker *linker;
} world;

static bool world_open(world *w, const wasm_module *module)
{
    w->store = wasm_store_new();
    w->linker = w->store ? wasm_linker_new(w->store) : NULL;
    if (!w->linker)
        return false;
    uint32_t count = wasm_module_import_count(module);
    for (uint32_t i = 0; i < count; i++) {
        wasm_extern_info info;
        if (!wasm_module_import(module, i, &info))
            contract_broken("import %u of %u cannot be described", i, count);
        if (!info.module || !info.name)
            contract_broken("import %u has no module or name", i);
        define_dummy(w->linker, &info);
    }
    return true;
}

static void world_close(world *w)
{
    if (w->linker)
        wasm_linker_free(w->linker);
    if (w->store)
        wasm_store_free(w->store);
    w->linker = NULL;
    w->store = NULL;
}

static wasm_instance *instantiate(const world *w, const wasm_module *module)
{
    wasm_error err;
    wasm_instance *instance =
        wasm_instantiate(w->store, module, w->linker, &instance_limits, &call_limits, &err);
    if (!instance && (!is_terminated(err.message, sizeof err.message) || !err.message[0]))
        contract_broken("instantiation failed without a message (kind %s)",
                        wasm_error_kind_name(err.kind));
    return instance;
}

/* ------------------------------------------------------------- snapshots */

static bool snapshot(const wasm_instance *instance, const wasm_exec *exec, uint8_t **out,
                     size_t *size)
{
    wasm_error err;
    *out = NULL;
    if (wasm_snapshot_save(instance, exec, out, size, &err))
        return true;
    if (!is_terminated(err.message, sizeof err.message) || !err.message[0])
        contract_broken("snapshot failed without a message");
    return false;
}

static void restore_or_die(wasm_instance *instance, wasm_exec *exec, const uint8_t *data,
                           size_t size, const char *what)
{
    wasm_error err;
    if (!wasm_snapshot_restore(instance, exec, data, size, &err))
        contract_broken("restore refused %s of the same module: %s", what, err.message);
}

static void check_same_snapshots(const wasm_instance *a, const wasm_instance *b,
                                 const char *what)
{
    uint8_t *first = NULL, *second = NULL;
    size_t first_size = 0, second_size = 0;
    if (snapshot(a, NULL, &first, &first_size)) {
        if (!snapshot(b, NULL, &second, &second_size))
            contract_broken("%s: one instance can be snapshotted, the other not", what);
        if (first_size != second_size || memcmp(first, second, first_size))
            contract_broken("%s: the instances' snapshots differ (%zu and %zu bytes)", what,
                            first_size, second_size);
    }
    free(first);
    free(second);
}

/* Damage a snapshot and re-seal its checksum, so the damage reaches the parser
 * behind the envelope. The positions come from the content, so inputs differ. */
static void damage(uint8_t *data, size_t size, unsigned variant)
{
    if (size <= SNAPSHOT_CHECKSUM_SIZE)
        return;
    size_t body = size - SNAPSHOT_CHECKSUM_SIZE;
    size_t at = variant;
    for (size_t k = 0; k < body; k++)
        at = at * 31 + data[k];
    data[at % body] ^= (uint8_t)(0x5a + variant);
    wasm_sha256(data, body, data + body);
}

/* A damaged snapshot may be refused or accepted; it must not crash. Each try gets
 * its own instance because a refused restore may leave one half-written. */
static void restore_damaged(const world *w, const wasm_module *module, const uint8_t *data,
                            size_t size)
{
    if (!size)
        return;
    uint8_t *damaged = malloc(size);
    if (!damaged)
        return;
    const size_t cuts[] = {1, size / 2};
    const unsigned cut_count = sizeof cuts / sizeof cuts[0];
    for (unsigned i = 0; i < cut_count + 2; i++) {
        wasm_instance *target = instantiate(w, module);
        if (!target)
            break;
        memcpy(damaged, data, size);
        size_t length = size;
        if (i < cut_count)
            length = cuts[i];
        else
            damage(damaged, size, i - cut_count);
        wasm_error err;
        wasm_snapshot_restore(target, NULL, damaged, length, &err);
        if (i == cut_count)
            wasm_snapshot_has_call(damaged, length);
    }
    free(damaged);
}

/* 4. snapshot -> restore -> snapshot reproduces the bytes. */
static void check_snapshot_round_trip(const world *w, const wasm_module *module,
                                      const wasm_instance *instance)
{
    uint8_t *data = NULL;
    size_t size = 0;
    if (!snapshot(instance, NULL, &data, &size))
        return;
    if (wasm_snapshot_has_call(data, size))
        contract_broken("a snapshot without an exec claims to carry a call");
    wasm_instance *copy = instantiate(w, module);
    if (copy) {
        restore_or_die(copy, NULL, data, size, "a snapshot");
        check_same_snapshots(instance, copy, "snapshot, restore, snapshot");
        restore_damaged(w, module, data, size);
    }
    free(data);
}

/* ---------------------------------------------------------- 3. calling exports */

typedef struct call_ending {
    wasm_status status;
    wasm_trap_kind trap;
    uint32_t result_count;
    wasm_value results[FUZZ_MAX_RESULTS];
    uint64_t fuel_used;
} call_ending;

static void read_ending(wasm_exec *exec, wasm_status status, const wasm_func *func,
                        call_ending *out)
{
    memset(out, 0, sizeof *out);
    out->status = status;
    out->fuel_used = wasm_exec_fuel_used(exec);
    if (status == WASM_STATUS_TRAP) {
        const wasm_trap *trap = wasm_exec_trap(exec);
        if (!trap || trap->kind == WASM_TRAP_NONE || trap->kind > WASM_TRAP_EXIT)
            contract_broken("a trap without a valid kind");
        if (!is_terminated(trap->message, sizeof trap->message))
            contract_broken("a trap message without its terminating NUL");
        out->trap = trap->kind;
        return;
    }
    if (status != WASM_STATUS_OK)
        return;
    wasm_functype_view type = wasm_func_type(func);
    uint32_t capacity = type.result_count < FUZZ_MAX_RESULTS ? type.result_count
                                                             : FUZZ_MAX_RESULTS;
    uint32_t got = wasm_exec_results(exec, out->results, capacity);
    if (got != type.result_count)
        contract_broken("a call returned %u results, its type has %u", got, type.result_count);
    for (uint32_t i = 0; i < capacity; i++)
        if (out->results[i].type != type.results[i])
            contract_broken("result %u has type 0x%x, the function's type says 0x%x", i,
                            (unsigned)out->results[i].type, (unsigned)type.results[i]);
    out->result_count = capacity;
}

/* References live in different stores, so only their null-ness can agree. */
static bool same_value(const wasm_value *a, const wasm_value *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case WASM_I32:
    case WASM_F32:
        return a->of.i32 == b->of.i32;
    case WASM_I64:
    case WASM_F64:
        return a->of.i64 == b->of.i64;
    case WASM_FUNCREF:
        return (a->of.funcref == NULL) == (b->of.funcref == NULL);
    case WASM_EXTERNREF:
        return (a->of.externref == NULL) == (b->of.externref == NULL);
    default:
        return true;
    }
}

static void check_same_ending(const call_ending *direct, const call_ending *migrated)
{
    if (direct->status != migrated->status || direct->trap != migrated->trap)
        contract_broken("a migrated call ended with status %d trap %s, the direct one with "
                        "status %d trap %s", (int)migrated->status,
                        wasm_trap_kind_name(migrated->trap), (int)direct->status,
                        wasm_trap_kind_name(direct->trap));
    for (uint32_t i = 0; i < direct->result_count; i++)
        if (!same_value(&direct->results[i], &migrated->results[i]))
            contract_broken("result %u of a migrated call differs from the direct call's", i);
}

static wasm_value *zero_args(const wasm_func *func)
{
    wasm_functype_view type = wasm_func_type(func);
    wasm_value *args = calloc(type.param_count ? type.param_count : 1, sizeof *args);
    if (args)
        for (uint32_t i = 0; i < type.param_count; i++)
            args[i].type = (wasm_valtype)type.params[i];
    return args;
}

static wasm_status call_with_zeros(wasm_exec *exec, wasm_func *func)
{
    wasm_value *args = zero_args(func);
    if (!args)
        return WASM_STATUS_TRAP;
    wasm_status status = wasm_exec_call(exec, func, args, wasm_func_type(func).param_count);
    free(args);
    return status;
}

/* The direct call's twin: from the state before it (`before`), run the same call
 * with half the fuel it needed, so it stops part-way at a safe point; move it with
 * its frames into a third instance and finish it there. */
static void run_migrated(const wasm_module *module, const char *name, const uint8_t *before,
                         size_t before_size, const call_ending *direct,
                         const wasm_instance *direct_instance)
{
    world first = {0}, second = {0};
    wasm_exec *exec = NULL, *resumed = NULL;
    uint8_t *moving = NULL;
    size_t moving_size = 0;
    wasm_instance *origin = world_open(&first, module) ? instantiate(&first, module) : NULL;
    wasm_func *func = origin ? wasm_instance_export_func(origin, name) : NULL;
    if (!func)
        goto done;
    restore_or_die(origin, NULL, before, before_size, "a snapshot");
    wasm_exec_limits part_way = call_limits;
    part_way.fuel = direct->fuel_used / 2 + 1;
    exec = wasm_exec_new(first.store, &part_way);
    if (!exec)
        goto done;
    wasm_status status = call_with_zeros(exec, func);
    call_ending ending;
    const wasm_instance *finished = origin;
    if (wasm_exec_resumable(exec)) {
        if (!snapshot(origin, exec, &moving, &moving_size))
            goto done;
        wasm_exec_limits plenty = call_limits;
        plenty.fuel = 2 * (uint64_t)FUZZ_FUEL;
        wasm_instance *target = world_open(&second, module) ? instantiate(&second, module)
                                                            : NULL;
        resumed = target ? wasm_exec_new(second.store, &plenty) : NULL;
        if (!resumed)
            goto done;
        restore_or_die(target, resumed, moving, moving_size, "a snapshot with a call");
        read_ending(resumed, wasm_exec_resume(resumed), func, &ending);
        finished = target;
    } else {
        read_ending(exec, status, func, &ending);
    }
    check_same_ending(direct, &ending);
    check_same_snapshots(direct_instance, finished, "after a direct and a migrated call");
done:
    if (exec)
        wasm_exec_free(exec);
    if (resumed)
        wasm_exec_free(resumed);
    free(moving);
    world_close(&second);
    world_close(&first);
}

/* Fuel and the clock stop the two runs at different places: not comparable. */
static bool comparable(const call_ending *ending)
{
    return ending->status != WASM_STATUS_TRAP || (ending->trap != WASM_TRAP_FUEL_EXHAUSTED &&
                                                  ending->trap != WASM_TRAP_DEADLINE_EXCEEDED);
}

static void call_export(const world *w, const wasm_module *module, wasm_instance *instance,
                        const char *name, bool also_migrate)
{
    /* A name with a NUL byte is cut short by the C API and may find nothing. */
    wasm_func *func = wasm_instance_export_func(instance, name);
    if (!func)
        return;
    uint8_t *before = NULL;
    size_t before_size = 0;
    if (also_migrate && !snapshot(instance, NULL, &before, &before_size))
        also_migrate = false;
    wasm_exec *exec = wasm_exec_new(w->store, &call_limits);
    if (exec) {
        call_ending direct;
        read_ending(exec, call_with_zeros(exec, func), func, &direct);
        if (also_migrate && comparable(&direct))
            run_migrated(module, name, before, before_size, &direct, instance);
        wasm_exec_free(exec);
    }
    free(before);
}

static void call_exports(const world *w, const wasm_module *module, wasm_instance *instance)
{
    uint32_t count = wasm_module_export_count(module);
    uint32_t calls = 0;
    for (uint32_t i = 0; i < count && calls < FUZZ_MAX_EXPORT_CALLS; i++) {
        wasm_extern_info info;
        if (!wasm_module_export(module, i, &info))
            contract_broken("export %u of %u cannot be described", i, count);
        if (info.kind != WASM_EXTERN_FUNC)
            continue;
        call_export(w, module, instance, info.name, calls < FUZZ_MAX_MIGRATED_CALLS);
        calls++;
    }
}

/* ------------------------------------------------------------------ entry */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wasm_error err;
    wasm_module *module = wasm_module_load(data, size, &err);
    if (!module) {
        check_load_error(&err, size);
        return 0;
    }
    world main_world = {0};
    if (world_open(&main_world, module)) {
        wasm_instance *instance = instantiate(&main_world, module);
        if (instance) {
            call_exports(&main_world, module, instance);
            check_snapshot_round_trip(&main_world, module, instance);
        }
    }
    world_close(&main_world);
    wasm_module_free(module);
    return 0;
}
