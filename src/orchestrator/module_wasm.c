/*
 * module_wasm.c — what a module binary needs and offers, read with the engine's
 * decoder: function imports become `requirements` (a device must offer each by
 * name), function exports become `exports` (what a manifest step may call).
 */
#include "orchestrator/modules.h"

#include "wasm/wasm.h"

#include <stdio.h>
#include <string.h>

bool module_looks_like_wasm(const uint8_t *bytes, size_t size)
{
    return size >= 4 && !memcmp(bytes, "\0asm", 4);
}

static const char *valtype_name(uint8_t type)
{
    switch (type) {
    case WASM_I32: return "i32";
    case WASM_I64: return "i64";
    case WASM_F32: return "f32";
    case WASM_F64: return "f64";
    case WASM_V128: return "v128";
    case WASM_FUNCREF: return "funcref";
    case WASM_EXTERNREF: return "externref";
    }
    return "unknown";
}

static json_t *valtypes(const uint8_t *types, uint32_t count)
{
    json_t *list = json_array();
    for (uint32_t i = 0; i < count; i++)
        json_array_append_new(list, json_string(valtype_name(types[i])));
    return list;
}

bool module_parse_wasm(const uint8_t *bytes, size_t size, json_t **requirements,
                       json_t **exports, json_t **detail, char *err, size_t err_size)
{
    *requirements = *exports = NULL;
    if (detail)
        *detail = NULL;
    wasm_error error = {0};
    wasm_module *module = wasm_module_load(bytes, size, &error);
    if (!module) {
        const char *what = error.kind == WASM_ERR_MALFORMED ? "malformed" : "invalid";
        if (error.has_offset)
            snprintf(err, err_size, "%s WebAssembly module at byte %zu (0x%zx): %s", what,
                     error.offset, error.offset, error.message);
        else
            snprintf(err, err_size, "%s WebAssembly module: %s", what, error.message);
        if (detail) {
            *detail = json_pack("{s:s, s:s}", "kind", what, "message", error.message);
            if (error.has_offset)
                json_object_set_new(*detail, "offset", json_integer((json_int_t)error.offset));
        }
        return false;
    }
    json_t *imports = json_array(), *funcs = json_array();
    wasm_extern_info info;
    for (uint32_t i = 0; i < wasm_module_import_count(module); i++)
        if (wasm_module_import(module, i, &info) && info.kind == WASM_EXTERN_FUNC)
            json_array_append_new(imports, json_pack("{s:s, s:s, s:s}", "module", info.module,
                                                     "name", info.name, "kind", "function"));
    for (uint32_t i = 0; i < wasm_module_export_count(module); i++)
        if (wasm_module_export(module, i, &info) && info.kind == WASM_EXTERN_FUNC)
            json_array_append_new(
                funcs, json_pack("{s:s, s:I, s:o, s:o}", "name", info.name, "parameterCount",
                                 (json_int_t)info.func.param_count, "params",
                                 valtypes(info.func.params, info.func.param_count), "results",
                                 valtypes(info.func.results, info.func.result_count)));
    wasm_module_free(module);
    *requirements = imports;
    *exports = funcs;
    return true;
}
