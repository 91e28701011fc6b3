/*
 * imports.c — the imports a supervisor offers (see imports.h).
 *
 * The catalogue is read once from a real linker built exactly as instances are
 * linked, rather than from a hand-written list, so what is advertised and checked is
 * what instantiation will find.
 */
#include "supervisor/imports.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct offered_import {
    char *module;
    char *name;
    wasm_extern_kind kind;
} offered_import;

static offered_import *catalogue;
static size_t catalogue_size;
static char catalogue_error[256];
static pthread_once_t catalogue_once = PTHREAD_ONCE_INIT;

bool imports_link(wasm_linker *linker, wasi_ctx *wasi, host_env *env, char *err,
                  size_t err_size)
{
    wasm_error werr = {0};
    if (!wasi_link(wasi, linker, &werr)) {
        snprintf(err, err_size, "cannot link WASI: %s", werr.message);
        return false;
    }
    return host_functions_define(linker, env, err, err_size);
}

static void build_catalogue(void)
{
    static host_env env = {.deployment_id = "-", .module_name = "-"};
    wasm_store *store = wasm_store_new();
    wasm_linker *linker = store ? wasm_linker_new(store) : NULL;
    wasi_ctx *wasi = wasi_ctx_new();
    if (!linker || !wasi) {
        snprintf(catalogue_error, sizeof catalogue_error, "out of memory");
    } else if (imports_link(linker, wasi, &env, catalogue_error, sizeof catalogue_error)) {
        uint32_t n = wasm_linker_count(linker);
        catalogue = calloc(n ? n : 1, sizeof *catalogue);
        for (uint32_t i = 0; catalogue && i < n; i++) {
            const char *module, *name;
            wasm_extern_kind kind;
            if (!wasm_linker_entry(linker, i, &module, &name, &kind))
                continue;
            offered_import *o = &catalogue[catalogue_size];
            o->module = strdup(module);
            o->name = strdup(name);
            o->kind = kind;
            if (o->module && o->name)
                catalogue_size++;
        }
    }
    if (linker)
        wasm_linker_free(linker);
    if (store)
        wasm_store_free(store);
    wasi_ctx_free(wasi);
}

static void ensure_catalogue(void)
{
    pthread_once(&catalogue_once, build_catalogue);
}

json_t *imports_interface_names(void)
{
    ensure_catalogue();
    json_t *names = json_array();
    json_t *seen = json_object();
    for (size_t i = 0; i < catalogue_size; i++) {
        if (json_object_get(seen, catalogue[i].name))
            continue;
        json_object_set_new(seen, catalogue[i].name, json_true());
        json_array_append_new(names, json_string(catalogue[i].name));
    }
    json_decref(seen);
    return names;
}

static const char *kind_name(wasm_extern_kind kind)
{
    switch (kind) {
    case WASM_EXTERN_FUNC: return "function";
    case WASM_EXTERN_TABLE: return "table";
    case WASM_EXTERN_MEMORY: return "memory";
    case WASM_EXTERN_GLOBAL: return "global";
    }
    return "extern";
}

static bool offered(const wasm_extern_info *import)
{
    for (size_t i = 0; i < catalogue_size; i++)
        if (catalogue[i].kind == import->kind && !strcmp(catalogue[i].module, import->module) &&
            !strcmp(catalogue[i].name, import->name))
            return true;
    return false;
}

bool imports_check(const wasm_module *module, char *err, size_t err_size)
{
    ensure_catalogue();
    if (!catalogue) {
        snprintf(err, err_size, "this supervisor cannot list its imports: %s", catalogue_error);
        return false;
    }
    size_t used = 0, missing = 0;
    err[0] = '\0';
    uint32_t n = wasm_module_import_count(module);
    for (uint32_t i = 0; i < n; i++) {
        wasm_extern_info info;
        if (!wasm_module_import(module, i, &info) || offered(&info))
            continue;
        if (used < err_size)
            used += (size_t)snprintf(err + used, err_size - used, "%s%s.%s (%s)",
                                     missing ? ", " : "", info.module, info.name,
                                     kind_name(info.kind));
        missing++;
    }
    return missing == 0;
}
