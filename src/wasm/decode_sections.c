/*
 * decode_sections.c — the sections that declare things: custom, type, import,
 * function, table, memory, global, export and start. Each index space lists its
 * imports first, then what the module defines.
 */
#include "wasm/decode.h"

#include <stdlib.h>
#include <string.h>

static bool out_of_memory(decoder *d)
{
    return wasm_fail(d->err, WASM_ERR_NOMEM, "out of memory decoding the module");
}

/* calloc that never asks for zero bytes (so NULL always means failure). */
static void *allocate_array(size_t count, size_t size)
{
    return calloc(count ? count : 1, size);
}

/* Grow an index space to `total` entries, keeping the `kept` already there. */
static void *grow_array(void *array, size_t kept, size_t total, size_t size)
{
    void *bigger = realloc(array, (total ? total : 1) * size);
    if (bigger && total > kept)
        memset((char *)bigger + kept * size, 0, (total - kept) * size);
    return bigger;
}

bool decode_custom_section(decoder *d)
{
    char *name;
    uint32_t name_len;
    if (!decoder_read_name(d, &name, &name_len))
        return false;
    free(name);             /* no custom section means anything to the engine yet */
    if (d->p > d->section_end)
        return decoder_unexpected_end(d, d->section_end);
    d->p = d->section_end;
    return true;
}

bool decode_type_section(decoder *d)
{
    wasm_module *m = d->module;
    uint32_t count;
    if (!decoder_read_count(d, &count))
        return false;
    m->types = allocate_array(count, sizeof *m->types);
    if (!m->types)
        return out_of_memory(d);
    for (uint32_t i = 0; i < count; i++) {
        /* The form is a signed 7-bit LEB128 (-0x20, one byte 0x60), so an over-long
         * encoding of it is refused as such. */
        const uint8_t *form_at = d->p;
        int64_t form;
        if (!decoder_read_s7(d, &form))
            return false;
        if (form != -0x20)
            return decoder_malformed(d, form_at, "malformed function type 0x%02x", *form_at);

        /* Every value type is one byte, so the params can be validated in place and
         * copied once the results are known. */
        uint32_t param_count, result_count;
        uint8_t unused = 0;
        if (!decoder_read_count(d, &param_count))
            return false;
        const uint8_t *params = d->p;
        for (uint32_t k = 0; k < param_count; k++)
            if (!decoder_read_valtype(d, &unused))
                return false;
        if (!decoder_read_count(d, &result_count))
            return false;
        const uint8_t *results = d->p;
        for (uint32_t k = 0; k < result_count; k++)
            if (!decoder_read_valtype(d, &unused))
                return false;

        wasm_functype *type = &m->types[i];
        type->types = malloc((size_t)param_count + result_count + 1);
        if (!type->types)
            return out_of_memory(d);
        memcpy(type->types, params, param_count);
        memcpy(type->types + param_count, results, result_count);
        type->param_count = param_count;
        type->result_count = result_count;
        m->type_count = i + 1;
    }
    return true;
}

static bool decode_import_desc(decoder *d, wasm_import *import, uint32_t *memories_seen)
{
    wasm_module *m = d->module;
    const uint8_t *kind_at = d->p;
    uint8_t kind = 0;
    if (!decoder_read_byte(d, &kind))
        return false;
    switch (kind) {
    case WASM_EXTERN_FUNC: {
        const uint8_t *index_at = d->p;
        if (!decoder_read_u32(d, &import->as.type_index))
            return false;
        if (import->as.type_index >= m->type_count)
            decoder_invalid(d, index_at, "unknown type %u", import->as.type_index);
        break;
    }
    case WASM_EXTERN_TABLE:
        if (!decoder_read_tabletype(d, &import->as.table))
            return false;
        break;
    case WASM_EXTERN_MEMORY:
        if (++*memories_seen > 1)
            decoder_invalid(d, kind_at, "multiple memories");
        if (!decoder_read_memtype(d, &import->as.memory))
            return false;
        break;
    case WASM_EXTERN_GLOBAL:
        if (!decoder_read_globaltype(d, &import->as.global))
            return false;
        break;
    default:
        return decoder_malformed(d, kind_at, "malformed import kind 0x%02x", kind);
    }
    import->kind = (wasm_extern_kind)kind;
    return true;
}

bool decode_import_section(decoder *d)
{
    wasm_module *m = d->module;
    uint32_t count, memories_seen = 0;
    if (!decoder_read_count(d, &count))
        return false;
    m->imports = allocate_array(count, sizeof *m->imports);
    if (!m->imports)
        return out_of_memory(d);
    for (uint32_t i = 0; i < count; i++) {
        wasm_import *import = &m->imports[i];
        m->import_count = i + 1;    /* so a failure frees what this one holds */
        if (!decoder_read_name(d, &import->module, &import->module_len) ||
            !decoder_read_name(d, &import->name, &import->name_len) ||
            !decode_import_desc(d, import, &memories_seen))
            return false;
    }
    return true;
}

bool decoder_index_imports(decoder *d)
{
    wasm_module *m = d->module;
    d->imports_indexed = true;
    for (uint32_t i = 0; i < m->import_count; i++) {
        switch (m->imports[i].kind) {
        case WASM_EXTERN_FUNC: m->func_import_count++; break;
        case WASM_EXTERN_TABLE: m->table_import_count++; break;
        case WASM_EXTERN_MEMORY: m->memory_import_count++; break;
        case WASM_EXTERN_GLOBAL: m->global_import_count++; break;
        }
    }
    m->func_type_index = allocate_array(m->func_import_count, sizeof *m->func_type_index);
    m->tables = allocate_array(m->table_import_count, sizeof *m->tables);
    m->memories = allocate_array(m->memory_import_count, sizeof *m->memories);
    m->global_types = allocate_array(m->global_import_count, sizeof *m->global_types);
    if (!m->func_type_index || !m->tables || !m->memories || !m->global_types)
        return out_of_memory(d);
    for (uint32_t i = 0; i < m->import_count; i++) {
        const wasm_import *import = &m->imports[i];
        switch (import->kind) {
        case WASM_EXTERN_FUNC:
            m->func_type_index[m->func_count++] = import->as.type_index;
            break;
        case WASM_EXTERN_TABLE:
            m->tables[m->table_count++] = import->as.table;
            break;
        case WASM_EXTERN_MEMORY:
            m->memories[m->memory_count++] = import->as.memory;
            break;
        case WASM_EXTERN_GLOBAL:
            m->global_types[m->global_count++] = import->as.global;
            break;
        }
    }
    return true;
}

bool decoder_declare_func(decoder *d, uint32_t func_index)
{
    wasm_module *m = d->module;
    if (func_index >= m->func_count)
        return true;        /* already reported as an unknown function */
    if (!m->func_declared) {
        /* Only sections after the function section refer to functions, so the
         * index space has its final size here. */
        m->func_declared = allocate_array(m->func_count, 1);
        if (!m->func_declared)
            return out_of_memory(d);
    }
    m->func_declared[func_index] = 1;
    return true;
}

bool decode_function_section(decoder *d)
{
    wasm_module *m = d->module;
    uint32_t count;
    if (!decoder_read_count(d, &count))
        return false;
    size_t total = (size_t)m->func_import_count + count;
    if (total > UINT32_MAX)
        return decoder_malformed(d, d->p, "too many functions");
    uint32_t *indices = grow_array(m->func_type_index, m->func_count, total, sizeof *indices);
    if (!indices)
        return out_of_memory(d);
    m->func_type_index = indices;
    m->codes = allocate_array(count, sizeof *m->codes);
    if (!m->codes)
        return out_of_memory(d);
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *index_at = d->p;
        uint32_t type_index;
        if (!decoder_read_u32(d, &type_index))
            return false;
        if (type_index >= m->type_count)
            decoder_invalid(d, index_at, "unknown type %u", type_index);
        indices[m->func_import_count + i] = type_index;
        m->codes[i].type_index = type_index;
    }
    m->func_count = (uint32_t)total;
    return true;
}

bool decode_table_section(decoder *d)
{
    wasm_module *m = d->module;
    uint32_t count;
    if (!decoder_read_count(d, &count))
        return false;
    size_t total = (size_t)m->table_import_count + count;
    if (total > UINT32_MAX)
        return decoder_malformed(d, d->p, "too many tables");
    wasm_tabletype *tables = grow_array(m->tables, m->table_count, total, sizeof *tables);
    if (!tables)
        return out_of_memory(d);
    m->tables = tables;
    for (uint32_t i = 0; i < count; i++)
        if (!decoder_read_tabletype(d, &tables[m->table_count++]))
            return false;
    return true;
}

bool decode_memory_section(decoder *d)
{
    wasm_module *m = d->module;
    const uint8_t *count_at = d->p;
    uint32_t count;
    if (!decoder_read_count(d, &count))
        return false;
    size_t total = (size_t)m->memory_import_count + count;
    if (total > 1)
        decoder_invalid(d, count_at, "multiple memories");
    wasm_limits_decl *memories = grow_array(m->memories, m->memory_count, total,
                                            sizeof *memories);
    if (!memories)
        return out_of_memory(d);
    m->memories = memories;
    for (uint32_t i = 0; i < count; i++)
        if (!decoder_read_memtype(d, &memories[m->memory_count++]))
            return false;
    return true;
}

bool decode_global_section(decoder *d)
{
    wasm_module *m = d->module;
    uint32_t count;
    if (!decoder_read_count(d, &count))
        return false;
    size_t total = (size_t)m->global_import_count + count;
    if (total > UINT32_MAX)
        return decoder_malformed(d, d->p, "too many globals");
    wasm_globaltype *types = grow_array(m->global_types, m->global_count, total, sizeof *types);
    if (!types)
        return out_of_memory(d);
    m->global_types = types;
    m->globals = allocate_array(count, sizeof *m->globals);
    if (!m->globals)
        return out_of_memory(d);
    for (uint32_t i = 0; i < count; i++) {
        wasm_global_decl *global = &m->globals[i];
        if (!decoder_read_globaltype(d, &global->type))
            return false;
        /* The initialiser may only read imported globals, so the global is added to
         * the index space after it. */
        if (!decode_constexpr(d, global->type.type, &global->init))
            return false;
        types[m->global_count++] = global->type;
    }
    return true;
}

typedef struct export_name {
    const char *name;
    uint32_t len;
    size_t offset;
} export_name;

static int compare_export_names(const void *a, const void *b)
{
    const export_name *x = a, *y = b;
    uint32_t common = x->len < y->len ? x->len : y->len;
    int order = common ? memcmp(x->name, y->name, common) : 0;
    if (order)
        return order;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Sorting finds duplicates in n log n: a module may have very many exports. */
static bool check_export_names_unique(decoder *d, export_name *names, uint32_t count)
{
    qsort(names, count, sizeof *names, compare_export_names);
    for (uint32_t i = 1; i < count; i++) {
        if (names[i].len == names[i - 1].len &&
            (names[i].len == 0 || !memcmp(names[i].name, names[i - 1].name, names[i].len))) {
            decoder_invalid(d, d->base + names[i].offset, "duplicate export name \"%s\"",
                            names[i].name);
            break;
        }
    }
    return true;
}

static void check_export_index(decoder *d, const wasm_export *export, const uint8_t *at)
{
    const wasm_module *m = d->module;
    switch (export->kind) {
    case WASM_EXTERN_FUNC:
        if (export->index >= m->func_count)
            decoder_invalid(d, at, "unknown function %u", export->index);
        break;
    case WASM_EXTERN_TABLE:
        if (export->index >= m->table_count)
            decoder_invalid(d, at, "unknown table %u", export->index);
        break;
    case WASM_EXTERN_MEMORY:
        if (export->index >= m->memory_count)
            decoder_invalid(d, at, "unknown memory %u", export->index);
        break;
    case WASM_EXTERN_GLOBAL:
        if (export->index >= m->global_count)
            decoder_invalid(d, at, "unknown global %u", export->index);
        break;
    }
}

bool decode_export_section(decoder *d)
{
    wasm_module *m = d->module;
    uint32_t count;
    if (!decoder_read_count(d, &count))
        return false;
    m->exports = allocate_array(count, sizeof *m->exports);
    export_name *names = allocate_array(count, sizeof *names);
    if (!m->exports || !names) {
        free(names);
        return out_of_memory(d);
    }
    bool ok = true;
    for (uint32_t i = 0; i < count && ok; i++) {
        wasm_export *export = &m->exports[i];
        const uint8_t *name_at = d->p;
        m->export_count = i + 1;
        if (!decoder_read_name(d, &export->name, &export->name_len)) {
            ok = false;
            break;
        }
        names[i] = (export_name){export->name, export->name_len, decoder_offset(d, name_at)};
        const uint8_t *kind_at = d->p;
        uint8_t kind = 0;
        if (!decoder_read_byte(d, &kind)) {
            ok = false;
        } else if (kind > WASM_EXTERN_GLOBAL) {
            ok = decoder_malformed(d, kind_at, "malformed export kind 0x%02x", kind);
        } else {
            export->kind = (wasm_extern_kind)kind;
            const uint8_t *index_at = d->p;
            ok = decoder_read_u32(d, &export->index);
            if (ok) {
                check_export_index(d, export, index_at);
                if (export->kind == WASM_EXTERN_FUNC)
                    ok = decoder_declare_func(d, export->index);
            }
        }
    }
    if (ok)
        check_export_names_unique(d, names, count);
    free(names);
    return ok;
}

bool decode_start_section(decoder *d)
{
    wasm_module *m = d->module;
    const uint8_t *index_at = d->p;
    if (!decoder_read_u32(d, &m->start_func))
        return false;
    m->has_start = true;
    if (m->start_func >= m->func_count) {
        decoder_invalid(d, index_at, "unknown function %u", m->start_func);
        return true;
    }
    uint32_t type_index = m->func_type_index[m->start_func];
    if (type_index < m->type_count) {
        const wasm_functype *type = &m->types[type_index];
        if (type->param_count || type->result_count)
            decoder_invalid(d, index_at, "start function %u must take no parameters and "
                            "return nothing", m->start_func);
    }
    return true;
}
