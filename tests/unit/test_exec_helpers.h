/*
 * test_exec_helpers.h — loading the test modules of tests/wat and calling their
 * exports, shared by the test_exec_* and test_snapshot* tests. Include after
 * cmocka.h.
 */
#ifndef LIQUID_TEST_EXEC_HELPERS_H
#define LIQUID_TEST_EXEC_HELPERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/internal.h"

static inline uint8_t *read_wat_module(const char *name, size_t *size)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/wat/%s.wasm", LIQUID_BUILD_DIR, name);
    FILE *file = fopen(path, "rb");
    if (!file)
        fail_msg("cannot open %s", path);
    fseek(file, 0, SEEK_END);
    long n = ftell(file);
    fseek(file, 0, SEEK_SET);
    uint8_t *bytes = malloc((size_t)n);
    assert_non_null(bytes);
    assert_int_equal(fread(bytes, 1, (size_t)n, file), (size_t)n);
    fclose(file);
    *size = (size_t)n;
    return bytes;
}

static inline wasm_module *load_wat_module(const char *name)
{
    size_t size;
    uint8_t *bytes = read_wat_module(name, &size);
    wasm_error err;
    wasm_module *module = wasm_module_load(bytes, size, &err);
    free(bytes);
    if (!module)
        fail_msg("%s does not load: %s", name, err.message);
    return module;
}

static inline wasm_instance *instantiate_or_fail(wasm_store *store, const wasm_module *module,
                                                 const wasm_linker *linker,
                                                 const wasm_instance_limits *limits)
{
    wasm_error err;
    wasm_instance *instance = wasm_instantiate(store, module, linker, limits, NULL, &err);
    if (!instance)
        fail_msg("instantiation failed: %s", err.message);
    return instance;
}

static inline wasm_func *export_or_fail(const wasm_instance *instance, const char *name)
{
    wasm_func *func = wasm_instance_export_func(instance, name);
    if (!func)
        fail_msg("no export %s", name);
    return func;
}

static inline wasm_value i32_value(uint32_t v)
{
    wasm_value value = {.type = WASM_I32};
    value.of.i32 = v;
    return value;
}

static inline wasm_value i64_value(uint64_t v)
{
    wasm_value value = {.type = WASM_I64};
    value.of.i64 = v;
    return value;
}

static inline wasm_value f64_value(double d)
{
    wasm_value value = {.type = WASM_F64};
    memcpy(&value.of.f64_bits, &d, sizeof d);
    return value;
}

/* Calls an export and fails the test unless it returns normally. */
static inline uint32_t call_ok(wasm_exec *exec, const wasm_instance *instance, const char *name,
                               const wasm_value *args, uint32_t count, wasm_value *results,
                               uint32_t capacity)
{
    wasm_status status = wasm_exec_call(exec, export_or_fail(instance, name), (wasm_value *)args,
                                        count);
    if (status != WASM_STATUS_OK)
        fail_msg("%s: status %d, trap %s: %s", name, status,
                 wasm_trap_kind_name(wasm_exec_trap(exec)->kind), wasm_exec_trap(exec)->message);
    return wasm_exec_results(exec, results, capacity);
}

static inline uint32_t call_i32(wasm_exec *exec, const wasm_instance *instance, const char *name,
                                const wasm_value *args, uint32_t count)
{
    wasm_value result;
    assert_int_equal(call_ok(exec, instance, name, args, count, &result, 1), 1);
    assert_int_equal(result.type, WASM_I32);
    return result.of.i32;
}

#endif
