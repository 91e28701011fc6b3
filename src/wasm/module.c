/*
 * module.c — loading a module (decode, validate, compile every body) and what the
 * embedder may ask of a loaded one: its imports, exports and hash.
 */
#include "wasm/decode.h"

#include <stdlib.h>
#include <string.h>

void wasm_module_free(wasm_module *module)
{
    if (!module)
        return;
    for (uint32_t i = 0; i < module->type_count; i++)
        free(module->types[i].types);
    free(module->types);
    for (uint32_t i = 0; i < module->import_count; i++) {
        free(module->imports[i].module);
        free(module->imports[i].name);
    }
    free(module->imports);
    free(module->func_type_index);
    if (module->codes) {
        for (uint32_t i = 0; i < module->func_count - module->func_import_count; i++) {
            free(module->codes[i].local_types);
            if (module->codes[i].compiled)
                wasm_compiled_free(module->codes[i].compiled);
        }
    }
    free(module->codes);
    free(module->tables);
    free(module->memories);
    free(module->global_types);
    free(module->globals);
    for (uint32_t i = 0; i < module->export_count; i++)
        free(module->exports[i].name);
    free(module->exports);
    for (uint32_t i = 0; i < module->elem_count; i++)
        free(module->elems[i].items);
    free(module->elems);
    free(module->datas);
    free(module->func_declared);
    free(module->bytes);
    free(module);
}

wasm_module *wasm_module_load(const uint8_t *bytes, size_t size, wasm_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
    if (!bytes && size) {
        wasm_fail(err, WASM_ERR_ARGUMENT, "no bytes given for a module of %zu bytes", size);
        return NULL;
    }
    /* Offsets inside the module are 32-bit. */
    if (size > UINT32_MAX) {
        wasm_fail(err, WASM_ERR_MALFORMED, "a module of %zu bytes is too large (at most 4 GiB)",
                  size);
        return NULL;
    }
    wasm_module *module = calloc(1, sizeof *module);
    if (!module || !(module->bytes = malloc(size ? size : 1))) {
        free(module);
        wasm_fail(err, WASM_ERR_NOMEM, "out of memory loading a module of %zu bytes", size);
        return NULL;
    }
    if (size)
        memcpy(module->bytes, bytes, size);
    module->size = size;
    wasm_sha256(module->bytes, size, module->sha256);

    if (!wasm_decode_module(module, err))
        goto fail;
    for (uint32_t i = 0; i < module->func_count - module->func_import_count; i++)
        if (!wasm_compile_function(module, i, err))
            goto fail;
    return module;

fail:
    wasm_module_free(module);
    return NULL;
}

uint32_t wasm_module_import_count(const wasm_module *module)
{
    return module->import_count;
}

uint32_t wasm_module_export_count(const wasm_module *module)
{
    return module->export_count;
}

const uint8_t *wasm_module_sha256(const wasm_module *module)
{
    return module->sha256;
}

static wasm_functype_view functype_view(const wasm_functype *type)
{
    return (wasm_functype_view){type->param_count, type->result_count,
                                wasm_functype_params(type), wasm_functype_results(type)};
}

/* Fill what describes an extern of `kind` at `index` in the module's index spaces. */
static void describe_extern(const wasm_module *module, wasm_extern_kind kind, uint32_t index,
                            wasm_extern_info *out)
{
    out->kind = kind;
    switch (kind) {
    case WASM_EXTERN_FUNC:
        out->func = functype_view(&module->types[module->func_type_index[index]]);
        break;
    case WASM_EXTERN_TABLE: {
        const wasm_tabletype *table = &module->tables[index];
        out->table_elem_type = table->elem_type;
        out->limits = (wasm_limits_view){table->limits.min, table->limits.max,
                                         table->limits.has_max};
        break;
    }
    case WASM_EXTERN_MEMORY: {
        const wasm_limits_decl *memory = &module->memories[index];
        out->limits = (wasm_limits_view){memory->min, memory->max, memory->has_max};
        break;
    }
    case WASM_EXTERN_GLOBAL:
        out->global_type = module->global_types[index].type;
        out->global_mutable = module->global_types[index].mutable_;
        break;
    }
}

bool wasm_module_import(const wasm_module *module, uint32_t i, wasm_extern_info *out)
{
    if (i >= module->import_count)
        return false;
    memset(out, 0, sizeof *out);
    const wasm_import *import = &module->imports[i];
    out->module = import->module;
    out->name = import->name;
    /* The index of this import in its own index space: imports of a kind come first,
     * in import order. */
    uint32_t index = 0;
    for (uint32_t k = 0; k < i; k++)
        if (module->imports[k].kind == import->kind)
            index++;
    describe_extern(module, import->kind, index, out);
    return true;
}

bool wasm_module_export(const wasm_module *module, uint32_t i, wasm_extern_info *out)
{
    if (i >= module->export_count)
        return false;
    memset(out, 0, sizeof *out);
    const wasm_export *export = &module->exports[i];
    out->name = export->name;
    describe_extern(module, export->kind, export->index, out);
    return true;
}
