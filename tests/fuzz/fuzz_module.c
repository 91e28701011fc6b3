/*
 * fuzz_module.c — libFuzzer target: any bytes through everything a module goes
 * through in Liquid.
 *
 *   1. decode + validate (wasm_module_load); a refusal must be a well-formed error;
 *   2. instantiate, every import satisfied by a dummy of the right type;
 *   3. call each exported function with zero arguments under a small fuel limit;
 *      a call stopped by fuel is snapshotted with its frames, restored into a fresh
 *      instance and resumed there, as a migration would;
 *   4. snapshot the instance, restore it into a fresh instance, and snapshot again:
 *      the two snapshots must be equal; truncated or damaged snapshots must be
 *      refused or restored, never crash.
 *
 * Anything the sanitizers catch is a crash; so is an answer of the engine that
 * breaks its own contract (see `contract_broken`).
 */
#include "wasm/wasm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_MEMORY_PAGES 256u      /* 16 MiB per memory */
#define FUZZ_MAX_TABLE_ELEMS 65536u
#define FUZZ_MAX_EXPORT_CALLS 32u
#define FUZZ_FUEL 100000u

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

static void define_dummy(wasm_linker *linker, const wasm_extern_info *info)
{
    wasm_error err;
    switch (info->kind) {
    case WASM_EXTERN_FUNC:
        define_dummy_func(linker, info);
        break;
    case WASM_EXTERN_TABLE:
        if (info->limits.min <= FUZZ_MAX_TABLE_ELEMS)
            wasm_linker_define_table(linker, info->module, info->name,
                                     (wasm_valtype)info->table_elem_type, info->limits.min,
                                     info->limits.has_max, info->limits.max, &err);
        break;
    case WASM_EXTERN_MEMORY:
        if (info->limits.min <= FUZZ_MAX_MEMORY_PAGES)
            wasm_linker_define_memory(linker, info->module, info->name, info->limits.min,
                                      info->limits.has_max, info->limits.max, &err);
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

static void define_dummy_imports(wasm_linker *linker, const wasm_module *module)
{
    uint32_t count = wasm_module_import_count(module);
    for (uint32_t i = 0; i < count; i++) {
        wasm_extern_info info;
        if (!wasm_module_import(module, i, &info))
            contract_broken("import %u of %u cannot be described", i, count);
        if (!info.module || !info.name)
            contract_broken("import %u has no module or name", i);
        define_dummy(linker, &info);
    }
}

static wasm_instance *instantiate(wasm_store *store, const wasm_module *module,
                                  const wasm_linker *linker)
{
    wasm_error err;
    wasm_instance *instance =
        wasm_instantiate(store, module, linker, &instance_limits, &call_limits, &err);
    if (!instance && (!is_terminated(err.message, sizeof err.message) || !err.message[0]))
        contract_broken("instantiation failed without a message (kind %s)",
                        wasm_error_kind_name(err.kind));
    return instance;
}

/* ------------------------------------------------------------- 4. snapshots */

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

/* A damaged snapshot may be refused or accepted; it must not crash. Each try gets
 * its own instance because a refused restore may leave one half-written. */
static void restore_damaged(wasm_store *store, const wasm_module *module,
                            const wasm_linker *linker, const uint8_t *data, size_t size)
{
    if (!size)
        return;
    uint8_t *damaged = malloc(size);
    if (!damaged)
        return;
    const size_t cuts[] = {0, 1, size / 2, size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0] + 1; i++) {
        wasm_instance *target = instantiate(store, module, linker);
        if (!target)
            break;
        memcpy(damaged, data, size);
        size_t length = size;
        if (i < sizeof cuts / sizeof cuts[0]) {
            length = cuts[i];
        } else {    /* flip a byte picked by the content, so runs differ by input */
            size_t at = 0;
            for (size_t k = 0; k < size; k++)
                at = at * 31 + data[k];
            damaged[at % size] ^= 0x5a;
        }
        wasm_error err;
        wasm_snapshot_restore(target, NULL, damaged, length, &err);
        wasm_snapshot_has_call(damaged, length);
    }
    free(damaged);
}

static void check_snapshot_round_trip(wasm_store *store, const wasm_module *module,
                                      const wasm_linker *linker, const wasm_instance *instance)
{
    uint8_t *first = NULL, *second = NULL;
    size_t first_size = 0, second_size = 0;
    if (!snapshot(instance, NULL, &first, &first_size))
        return;
    if (wasm_snapshot_has_call(first, first_size))
        contract_broken("a snapshot without an exec claims to carry a call");
    wasm_instance *copy = instantiate(store, module, linker);
    if (copy) {
        wasm_error err;
        if (!wasm_snapshot_restore(copy, NULL, first, first_size, &err))
            contract_broken("restore refused a snapshot of the same module: %s", err.message);
        if (!snapshot(copy, NULL, &second, &second_size))
            contract_broken("a restored instance cannot be snapshotted");
        if (second_size != first_size || memcmp(first, second, first_size))
            contract_broken("snapshot, restore, snapshot gives different bytes (%zu vs %zu)",
                            first_size, second_size);
        free(second);
        restore_damaged(store, module, linker, first, first_size);
    }
    free(first);
}

/* A call stopped by fuel moves to a fresh instance, as in a migration, and goes on
 * there with a little more fuel. */
static void migrate_stopped_call(wasm_store *store, const wasm_module *module,
                                 const wasm_linker *linker, const wasm_instance *instance,
                                 const wasm_exec *exec)
{
    uint8_t *data = NULL;
    size_t size = 0;
    if (!snapshot(instance, exec, &data, &size))
        return;
    wasm_instance *target = instantiate(store, module, linker);
    wasm_exec *resumed = target ? wasm_exec_new(store, &call_limits) : NULL;
    if (resumed) {
        wasm_error err;
        if (!wasm_snapshot_restore(target, resumed, data, size, &err))
            contract_broken("restore refused a snapshot with a call of the same module: %s",
                            err.message);
        if (wasm_snapshot_has_call(data, size)) {
            wasm_exec_add_fuel(resumed, FUZZ_FUEL / 10);
            wasm_exec_resume(resumed);
        }
        wasm_exec_free(resumed);
    }
    free(data);
}

/* ---------------------------------------------------------- 3. calling exports */

static void check_call_ending(wasm_exec *exec, wasm_status status, const wasm_func *func)
{
    wasm_functype_view type = wasm_func_type(func);
    if (status == WASM_STATUS_TRAP) {
        const wasm_trap *trap = wasm_exec_trap(exec);
        if (!trap || trap->kind == WASM_TRAP_NONE || trap->kind > WASM_TRAP_EXIT)
            contract_broken("a trap without a valid kind");
        if (!is_terminated(trap->message, sizeof trap->message))
            contract_broken("a trap message without its terminating NUL");
        return;
    }
    if (status != WASM_STATUS_OK)
        return;
    wasm_value results[64];
    uint32_t capacity = type.result_count < 64 ? type.result_count : 64;
    uint32_t got = wasm_exec_results(exec, results, capacity);
    if (got != capacity)
        contract_broken("a call returned %u results, its type has %u", got, type.result_count);
    for (uint32_t i = 0; i < got; i++)
        if (results[i].type != type.results[i])
            contract_broken("result %u has type 0x%x, the function's type says 0x%x", i,
                            (unsigned)results[i].type, (unsigned)type.results[i]);
}

static void call_with_zeros(wasm_store *store, const wasm_module *module,
                            const wasm_linker *linker, const wasm_instance *instance,
                            wasm_func *func)
{
    wasm_functype_view type = wasm_func_type(func);
    wasm_value *args = calloc(type.param_count ? type.param_count : 1, sizeof *args);
    wasm_exec *exec = args ? wasm_exec_new(store, &call_limits) : NULL;
    if (exec) {
        for (uint32_t i = 0; i < type.param_count; i++)
            args[i].type = (wasm_valtype)type.params[i];
        wasm_status status = wasm_exec_call(exec, func, args, type.param_count);
        check_call_ending(exec, status, func);
        if (wasm_exec_resumable(exec))
            migrate_stopped_call(store, module, linker, instance, exec);
        wasm_exec_free(exec);
    }
    free(args);
}

static void call_exports(wasm_store *store, const wasm_module *module,
                         const wasm_linker *linker, const wasm_instance *instance)
{
    uint32_t count = wasm_module_export_count(module);
    uint32_t calls = 0;
    for (uint32_t i = 0; i < count && calls < FUZZ_MAX_EXPORT_CALLS; i++) {
        wasm_extern_info info;
        if (!wasm_module_export(module, i, &info))
            contract_broken("export %u of %u cannot be described", i, count);
        if (info.kind != WASM_EXTERN_FUNC)
            continue;
        /* A name with a NUL byte is cut short by the C API and may find nothing. */
        wasm_func *func = wasm_instance_export_func(instance, info.name);
        if (!func)
            continue;
        call_with_zeros(store, module, linker, instance, func);
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
    wasm_store *store = wasm_store_new();
    wasm_linker *linker = store ? wasm_linker_new(store) : NULL;
    if (linker) {
        define_dummy_imports(linker, module);
        wasm_instance *instance = instantiate(store, module, linker);
        if (instance) {
            call_exports(store, module, linker, instance);
            check_snapshot_round_trip(store, module, linker, instance);
        }
        wasm_linker_free(linker);
    }
    if (store)
        wasm_store_free(store);
    wasm_module_free(module);
    return 0;
}
