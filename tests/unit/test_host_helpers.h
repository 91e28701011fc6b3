/*
 * test_host_helpers.h — an instance of tests/wat/host_imports.wat (or another test
 * module) linked with the supervisor's host functions, for test_host_*.c.
 */
#ifndef LIQUID_TEST_HOST_HELPERS_H
#define LIQUID_TEST_HOST_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/host_functions.h"

typedef struct host_fixture {
    wasm_module *module;
    wasm_store *store;
    wasm_linker *linker;
    wasm_instance *instance;
    wasm_exec *exec;
    host_env env;
} host_fixture;

static inline uint8_t *read_test_wasm(const char *name, size_t *size)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/wat/%s.wasm", LIQUID_BUILD_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s (built from tests/wat/%s.wat)", path, name);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *bytes = malloc((size_t)n);
    assert_int_equal(fread(bytes, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return bytes;
}

/* Loads tests/wat/<name>.wasm and instantiates it with env's settings (the store is
 * filled in unless keep_store_null). */
static inline host_fixture *host_fixture_new(const char *name, host_env env, bool keep_store_null)
{
    host_fixture *f = calloc(1, sizeof *f);
    size_t size;
    uint8_t *bytes = read_test_wasm(name, &size);
    wasm_error err = {0};
    f->module = wasm_module_load(bytes, size, &err);
    free(bytes);
    if (!f->module)
        fail_msg("%s does not load: %s", name, err.message);
    f->store = wasm_store_new();
    f->linker = wasm_linker_new(f->store);
    f->env = env;
    if (!keep_store_null)
        f->env.store = f->store;
    char message[256];
    if (!host_functions_define(f->linker, &f->env, message, sizeof message))
        fail_msg("host_functions_define: %s", message);
    f->instance = wasm_instantiate(f->store, f->module, f->linker, NULL, NULL, &err);
    if (!f->instance)
        fail_msg("%s does not instantiate: %s", name, err.message);
    f->exec = wasm_exec_new(f->store, NULL);
    return f;
}

static inline void host_fixture_free(host_fixture *f)
{
    wasm_exec_free(f->exec);
    wasm_linker_free(f->linker);
    wasm_store_free(f->store);
    wasm_module_free(f->module);
    free(f);
}

/* Calls an export with i32 arguments; returns the status. */
static inline wasm_status host_call(host_fixture *f, const char *export_name, int argc, ...)
{
    wasm_func *func = wasm_instance_export_func(f->instance, export_name);
    if (!func)
        fail_msg("no export %s", export_name);
    wasm_value args[8];
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++)
        args[i] = (wasm_value){.type = WASM_I32, .of.i32 = va_arg(ap, uint32_t)};
    va_end(ap);
    return wasm_exec_call(f->exec, func, args, (uint32_t)argc);
}

/* Calls an export that must succeed and return one i32. */
static inline uint32_t host_call_i32(host_fixture *f, const char *export_name, int argc, ...)
{
    wasm_func *func = wasm_instance_export_func(f->instance, export_name);
    if (!func)
        fail_msg("no export %s", export_name);
    wasm_value args[8];
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++)
        args[i] = (wasm_value){.type = WASM_I32, .of.i32 = va_arg(ap, uint32_t)};
    va_end(ap);
    if (wasm_exec_call(f->exec, func, args, (uint32_t)argc) != WASM_STATUS_OK)
        fail_msg("%s trapped: %s", export_name, wasm_exec_trap(f->exec)->message);
    wasm_value result;
    assert_int_equal(wasm_exec_results(f->exec, &result, 1), 1);
    return result.of.i32;
}

/* The trap of the last call, which must have trapped. */
static inline const wasm_trap *host_trap(host_fixture *f)
{
    const wasm_trap *trap = wasm_exec_trap(f->exec);
    assert_int_not_equal(trap->kind, WASM_TRAP_NONE);
    return trap;
}

static inline void assert_contains(const char *text, const char *part)
{
    if (!strstr(text, part))
        fail_msg("\"%s\" does not contain \"%s\"", text, part);
}

#endif
