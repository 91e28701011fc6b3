/*
 * instance.c — instantiation (WebAssembly 2.0, §4.5.4): resolve every import,
 * allocate what the module defines, initialise globals, apply active element and
 * data segments in order, then run the start function. And what an instance
 * offers afterwards: its exports.
 *
 * Segments are applied one at a time, each bounds-checked before it writes: when one
 * is out of bounds, instantiation fails but the writes of the earlier ones stay,
 * visible through imported tables and memories (2.0 semantics, linking.wast).
 */
#include "wasm/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ values */

wasm_slot wasm_value_to_slot(const wasm_value *value)
{
    switch (value->type) {
    case WASM_I32: return value->of.i32;
    case WASM_F32: return value->of.f32_bits;
    case WASM_I64: return value->of.i64;
    case WASM_F64: return value->of.f64_bits;
    case WASM_FUNCREF: return (wasm_slot)(uintptr_t)value->of.funcref;
    case WASM_EXTERNREF: return (wasm_slot)(uintptr_t)value->of.externref;
    case WASM_V128: break;
    }
    return 0;
}

wasm_value wasm_value_from_slot(uint8_t type, wasm_slot slot)
{
    wasm_value value;
    memset(&value, 0, sizeof value);
    value.type = (wasm_valtype)type;
    switch (type) {
    case WASM_I32: value.of.i32 = (uint32_t)slot; break;
    case WASM_F32: value.of.f32_bits = (uint32_t)slot; break;
    case WASM_I64: value.of.i64 = slot; break;
    case WASM_F64: value.of.f64_bits = slot; break;
    case WASM_FUNCREF: value.of.funcref = (wasm_func *)(uintptr_t)slot; break;
    case WASM_EXTERNREF: value.of.externref = (void *)(uintptr_t)slot; break;
    default: break;
    }
    return value;
}

/* ------------------------------------------------------------ messages */

const char *wasm_valtype_name(uint8_t type)
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
    return "?";
}

/* Appends to buf, never past size, always terminated. */
static void append(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t size, const char *fmt, ...)
{
    size_t used = strlen(buf);
    if (used + 1 >= size)
        return;
    va_list args;
    va_start(args, fmt);
    vsnprintf(buf + used, size - used, fmt, args);
    va_end(args);
}

static void append_valtypes(char *buf, size_t size, const uint8_t *types, uint32_t count)
{
    append(buf, size, "[");
    for (uint32_t i = 0; i < count; i++)
        append(buf, size, "%s%s", i ? " " : "", wasm_valtype_name(types[i]));
    append(buf, size, "]");
}

void wasm_format_functype(const wasm_functype *type, char *buf, size_t size)
{
    if (!size)
        return;
    buf[0] = '\0';
    append(buf, size, "(func ");
    append_valtypes(buf, size, wasm_functype_params(type), type->param_count);
    append(buf, size, " -> ");
    append_valtypes(buf, size, wasm_functype_results(type), type->result_count);
    append(buf, size, ")");
}

static void format_limits(char *buf, size_t size, uint32_t min, bool has_max, uint32_t max)
{
    append(buf, size, "%u", min);
    if (has_max)
        append(buf, size, " %u", max);
}

/* What the module asks an import to be, in the text format's words. */
static void format_import_type(const wasm_module *module, const wasm_import *import, char *buf,
                               size_t size)
{
    buf[0] = '\0';
    switch (import->kind) {
    case WASM_EXTERN_FUNC:
        if (import->as.type_index < module->type_count)
            wasm_format_functype(&module->types[import->as.type_index], buf, size);
        break;
    case WASM_EXTERN_TABLE:
        append(buf, size, "(table ");
        format_limits(buf, size, import->as.table.limits.min, import->as.table.limits.has_max,
                      import->as.table.limits.max);
        append(buf, size, " %s)", wasm_valtype_name(import->as.table.elem_type));
        break;
    case WASM_EXTERN_MEMORY:
        append(buf, size, "(memory ");
        format_limits(buf, size, import->as.memory.min, import->as.memory.has_max,
                      import->as.memory.max);
        append(buf, size, ")");
        break;
    case WASM_EXTERN_GLOBAL:
        if (import->as.global.mutable_)
            append(buf, size, "(global (mut %s))", wasm_valtype_name(import->as.global.type));
        else
            append(buf, size, "(global %s)", wasm_valtype_name(import->as.global.type));
        break;
    }
}

/* What the linker offers, in the same words. */
static void format_extern(const wasm_extern_ref *ref, char *buf, size_t size)
{
    buf[0] = '\0';
    switch (ref->kind) {
    case WASM_EXTERN_FUNC:
        wasm_format_functype(ref->as.func->type, buf, size);
        break;
    case WASM_EXTERN_TABLE:
        append(buf, size, "(table ");
        format_limits(buf, size, ref->as.table->size, ref->as.table->has_max,
                      ref->as.table->max);
        append(buf, size, " %s)", wasm_valtype_name(ref->as.table->elem_type));
        break;
    case WASM_EXTERN_MEMORY:
        append(buf, size, "(memory ");
        format_limits(buf, size, ref->as.memory->pages, ref->as.memory->has_max,
                      ref->as.memory->max_pages);
        append(buf, size, ")");
        break;
    case WASM_EXTERN_GLOBAL:
        if (ref->as.global->mutable_)
            append(buf, size, "(global (mut %s))", wasm_valtype_name(ref->as.global->type));
        else
            append(buf, size, "(global %s)", wasm_valtype_name(ref->as.global->type));
        break;
    }
}

/* ------------------------------------------------------------ allocation */

wasm_instance *wasm_instance_allocate(wasm_store *store, const wasm_module *module)
{
    wasm_instance *instance = calloc(1, sizeof *instance);
    if (!instance)
        return NULL;
    instance->store = store;
    instance->module = module;
    /* One spare entry each, so no count of zero asks calloc for nothing. */
    instance->funcs = calloc((size_t)module->func_count + 1, sizeof *instance->funcs);
    instance->tables = calloc((size_t)module->table_count + 1, sizeof *instance->tables);
    instance->memories = calloc((size_t)module->memory_count + 1, sizeof *instance->memories);
    instance->globals = calloc((size_t)module->global_count + 1, sizeof *instance->globals);
    instance->type_ids = calloc((size_t)module->type_count + 1, sizeof *instance->type_ids);
    instance->elem_dropped = calloc((size_t)module->elem_count + 1, 1);
    instance->data_dropped = calloc((size_t)module->data_count + 1, 1);
    if (!instance->funcs || !instance->tables || !instance->memories || !instance->globals ||
        !instance->type_ids || !instance->elem_dropped || !instance->data_dropped) {
        wasm_instance_destroy(instance);
        return NULL;
    }
    return instance;
}

void wasm_instance_destroy(wasm_instance *instance)
{
    if (!instance)
        return;
    free(instance->funcs);
    free(instance->tables);
    free(instance->memories);
    free(instance->globals);
    free(instance->type_ids);
    free(instance->elem_dropped);
    free(instance->data_dropped);
    free(instance);
}

/* ------------------------------------------------------------ imports */

/* Limits subtyping (§4.5.2): the actual size covers the declared minimum, and if a
 * maximum is declared the actual one exists and is no larger. */
static bool limits_match(uint32_t actual_min, bool actual_has_max, uint32_t actual_max,
                         const wasm_limits_decl *declared)
{
    if (actual_min < declared->min)
        return false;
    if (declared->has_max && (!actual_has_max || actual_max > declared->max))
        return false;
    return true;
}

static bool import_matches(const wasm_instance *instance, const wasm_import *import,
                           const wasm_extern_ref *ref)
{
    if (ref->kind != import->kind)
        return false;
    switch (import->kind) {
    case WASM_EXTERN_FUNC:
        return ref->as.func->type_id == instance->type_ids[import->as.type_index];
    case WASM_EXTERN_TABLE: {
        const wasm_table_inst *table = ref->as.table;
        return table->elem_type == import->as.table.elem_type &&
               limits_match(table->size, table->has_max, table->max, &import->as.table.limits);
    }
    case WASM_EXTERN_MEMORY: {
        const wasm_memory_inst *memory = ref->as.memory;
        return limits_match(memory->pages, memory->has_max, memory->max_pages,
                            &import->as.memory);
    }
    case WASM_EXTERN_GLOBAL:
        return ref->as.global->type == import->as.global.type &&
               ref->as.global->mutable_ == import->as.global.mutable_;
    }
    return false;
}

static void bind_import(wasm_instance *instance, const wasm_extern_ref *ref, uint32_t *counts)
{
    switch (ref->kind) {
    case WASM_EXTERN_FUNC: instance->funcs[counts[0]++] = ref->as.func; break;
    case WASM_EXTERN_TABLE: instance->tables[counts[1]++] = ref->as.table; break;
    case WASM_EXTERN_MEMORY: instance->memories[counts[2]++] = ref->as.memory; break;
    case WASM_EXTERN_GLOBAL: instance->globals[counts[3]++] = ref->as.global; break;
    }
}

/* Resolves every import. The message lists every missing one, one per line, so an
 * operator sees at once all a device lacks; when nothing is missing it names the
 * first import whose type does not match. */
static bool resolve_imports(wasm_instance *instance, const wasm_linker *linker, wasm_error *err)
{
    const wasm_module *module = instance->module;
    uint32_t counts[4] = {0, 0, 0, 0};
    uint32_t missing = 0, listed = 0;
    char message[sizeof err->message] = "";
    char mismatch[sizeof err->message] = "";
    char wanted[160], offered[160];

    for (uint32_t i = 0; i < module->import_count; i++) {
        const wasm_import *import = &module->imports[i];
        wasm_extern_ref ref;
        if (!linker || !wasm_linker_resolve(linker, import->module, import->module_len,
                                            import->name, import->name_len, &ref)) {
            format_import_type(module, import, wanted, sizeof wanted);
            size_t before = strlen(message);
            append(message, sizeof message, "%sunknown import: %s.%s %s", missing ? "\n" : "",
                   import->module, import->name, wanted);
            /* Keep only whole lines; count what did not fit. */
            if (strlen(message) + 1 >= sizeof message - 32)
                message[before] = '\0';
            else
                listed++;
            missing++;
            continue;
        }
        if (!import_matches(instance, import, &ref)) {
            if (!mismatch[0]) {
                format_import_type(module, import, wanted, sizeof wanted);
                format_extern(&ref, offered, sizeof offered);
                snprintf(mismatch, sizeof mismatch,
                         "incompatible import type: %s.%s is imported as %s but is %s",
                         import->module, import->name, wanted, offered);
            }
            continue;
        }
        bind_import(instance, &ref, counts);
    }
    if (missing) {
        if (listed < missing)
            append(message, sizeof message, "%s... and %u more unknown imports",
                   listed ? "\n" : "", missing - listed);
        return wasm_fail(err, WASM_ERR_LINK, "%s", message);
    }
    if (mismatch[0])
        return wasm_fail(err, WASM_ERR_LINK, "%s", mismatch);
    return true;
}

/* ------------------------------------------------------------ definitions */

static bool intern_types(wasm_instance *instance, wasm_error *err)
{
    const wasm_module *module = instance->module;
    for (uint32_t i = 0; i < module->type_count; i++) {
        instance->type_ids[i] = wasm_store_intern_type(instance->store, &module->types[i]);
        if (instance->type_ids[i] == UINT32_MAX)
            return wasm_fail(err, WASM_ERR_NOMEM, "out of memory interning function types");
    }
    return true;
}

static bool create_funcs(wasm_instance *instance, wasm_error *err)
{
    const wasm_module *module = instance->module;
    for (uint32_t i = module->func_import_count; i < module->func_count; i++) {
        wasm_func *func = wasm_store_new_func(instance->store);
        if (!func)
            return wasm_fail(err, WASM_ERR_NOMEM, "out of memory creating functions");
        uint32_t type_index = module->func_type_index[i];
        func->type_id = instance->type_ids[type_index];
        func->type = wasm_store_type(instance->store, func->type_id);
        func->instance = instance;
        func->index = i;
        func->code = &module->codes[i - module->func_import_count];
        instance->funcs[i] = func;
    }
    return true;
}

static bool create_globals(wasm_instance *instance, wasm_error *err)
{
    const wasm_module *module = instance->module;
    for (uint32_t i = module->global_import_count; i < module->global_count; i++) {
        const wasm_global_decl *decl = &module->globals[i - module->global_import_count];
        wasm_global_inst *global =
            wasm_store_new_global(instance->store, decl->type.type, decl->type.mutable_);
        if (!global)
            return wasm_fail(err, WASM_ERR_NOMEM, "out of memory creating globals");
        /* Initialisers read only imported globals, all bound by now. */
        global->value = wasm_constexpr_eval(instance, &decl->init);
        instance->globals[i] = global;
    }
    return true;
}

static bool create_tables_and_memories(wasm_instance *instance, wasm_error *err)
{
    const wasm_module *module = instance->module;
    for (uint32_t i = module->table_import_count; i < module->table_count; i++) {
        instance->tables[i] = wasm_store_new_table(instance->store, &module->tables[i],
                                                   instance->limits.max_table_elems, err);
        if (!instance->tables[i])
            return false;
    }
    for (uint32_t i = module->memory_import_count; i < module->memory_count; i++) {
        instance->memories[i] = wasm_store_new_memory(instance->store, &module->memories[i],
                                                      instance->limits.max_memory_pages, err);
        if (!instance->memories[i])
            return false;
    }
    return true;
}

/* ------------------------------------------------------------ segments */

static bool apply_elem_segments(wasm_instance *instance, wasm_error *err)
{
    const wasm_module *module = instance->module;
    for (uint32_t i = 0; i < module->elem_count; i++) {
        const wasm_elem_segment *segment = &module->elems[i];
        if (segment->mode == WASM_SEGMENT_PASSIVE)
            continue;
        if (segment->mode == WASM_SEGMENT_ACTIVE) {
            wasm_table_inst *table = instance->tables[segment->table_index];
            uint32_t offset = (uint32_t)wasm_constexpr_eval(instance, &segment->offset);
            if ((uint64_t)offset + segment->item_count > table->size)
                return wasm_fail(err, WASM_ERR_INSTANTIATE,
                                 "out of bounds table access: element segment %u puts %u "
                                 "elements at %u in table %u of size %u",
                                 i, segment->item_count, offset, segment->table_index,
                                 table->size);
            for (uint32_t k = 0; k < segment->item_count; k++)
                table->elems[offset + k] = wasm_constexpr_eval(instance, &segment->items[k]);
        }
        /* Active segments are dropped once applied, declarative ones at once. */
        instance->elem_dropped[i] = 1;
    }
    return true;
}

static bool apply_data_segments(wasm_instance *instance, wasm_error *err)
{
    const wasm_module *module = instance->module;
    for (uint32_t i = 0; i < module->data_count; i++) {
        const wasm_data_segment *segment = &module->datas[i];
        if (segment->mode != WASM_SEGMENT_ACTIVE)
            continue;
        wasm_memory_inst *memory = instance->memories[segment->memory_index];
        uint32_t offset = (uint32_t)wasm_constexpr_eval(instance, &segment->offset);
        if ((uint64_t)offset + segment->size > memory->size)
            return wasm_fail(err, WASM_ERR_INSTANTIATE,
                             "out of bounds memory access: data segment %u writes %u bytes at "
                             "%u in a memory of %llu bytes",
                             i, segment->size, offset, (unsigned long long)memory->size);
        if (segment->size)
            memcpy(memory->data + offset, module->bytes + segment->bytes_offset, segment->size);
        instance->data_dropped[i] = 1;
    }
    return true;
}

static bool run_start(wasm_instance *instance, const wasm_exec_limits *limits, wasm_error *err)
{
    const wasm_module *module = instance->module;
    if (!module->has_start)
        return true;
    wasm_exec *exec = wasm_exec_new(instance->store, limits);
    if (!exec)
        return wasm_fail(err, WASM_ERR_NOMEM, "out of memory running the start function");
    wasm_status status = wasm_exec_call(exec, instance->funcs[module->start_func], NULL, 0);
    bool ok = status == WASM_STATUS_OK;
    if (status == WASM_STATUS_TRAP) {
        const wasm_trap *trap = wasm_exec_trap(exec);
        /* The trap's own words first: the spec suite compares them. */
        wasm_fail(err, WASM_ERR_INSTANTIATE, "%s (in start function %u)",
                  trap->message[0] ? trap->message : wasm_trap_kind_name(trap->kind),
                  module->start_func);
    } else if (status == WASM_STATUS_SUSPENDED) {
        wasm_fail(err, WASM_ERR_INSTANTIATE, "the start function %u was interrupted; an "
                  "instance cannot be created from a suspended start", module->start_func);
    }
    wasm_exec_free(exec);
    return ok;
}

wasm_instance *wasm_instantiate(wasm_store *store, const wasm_module *module,
                                const wasm_linker *linker, const wasm_instance_limits *limits,
                                const wasm_exec_limits *start_limits, wasm_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
    if (!store || !module) {
        wasm_fail(err, WASM_ERR_ARGUMENT, "instantiation needs a store and a module");
        return NULL;
    }
    if (linker && wasm_linker_store(linker) != store) {
        wasm_fail(err, WASM_ERR_ARGUMENT, "the linker belongs to another store");
        return NULL;
    }
    wasm_instance *instance = wasm_instance_allocate(store, module);
    if (!instance) {
        wasm_fail(err, WASM_ERR_NOMEM, "out of memory creating an instance");
        return NULL;
    }
    if (limits)
        instance->limits = *limits;
    if (!intern_types(instance, err) || !resolve_imports(instance, linker, err)) {
        wasm_instance_destroy(instance);
        return NULL;
    }
    if (!wasm_store_adopt_instance(store, instance)) {
        wasm_instance_destroy(instance);
        wasm_fail(err, WASM_ERR_NOMEM, "out of memory creating an instance");
        return NULL;
    }
    /* From here on a failure leaves the instance to the store: tables elsewhere may
     * already hold its functions. */
    if (!create_funcs(instance, err) || !create_globals(instance, err) ||
        !create_tables_and_memories(instance, err) || !apply_elem_segments(instance, err) ||
        !apply_data_segments(instance, err) || !run_start(instance, start_limits, err))
        return NULL;
    return instance;
}

/* ------------------------------------------------------------ exports */

static const wasm_export *find_export(const wasm_instance *instance, const char *name,
                                      size_t name_len, wasm_extern_kind kind)
{
    const wasm_module *module = instance->module;
    for (uint32_t i = 0; i < module->export_count; i++) {
        const wasm_export *export = &module->exports[i];
        if (export->kind == kind && export->name_len == name_len &&
            (name_len == 0 || memcmp(export->name, name, name_len) == 0))
            return export;
    }
    return NULL;
}

const wasm_module *wasm_instance_module(const wasm_instance *instance)
{
    return instance->module;
}

wasm_func *wasm_instance_export_func(const wasm_instance *instance, const char *name)
{
    if (!instance || !name)
        return NULL;
    return wasm_instance_export_func_sized(instance, name, strlen(name));
}

wasm_func *wasm_instance_export_func_sized(const wasm_instance *instance, const char *name,
                                           size_t name_len)
{
    if (!instance || !name)
        return NULL;
    const wasm_export *export = find_export(instance, name, name_len, WASM_EXTERN_FUNC);
    return export ? instance->funcs[export->index] : NULL;
}

bool wasm_instance_export_global(const wasm_instance *instance, const char *name,
                                 wasm_value *out)
{
    if (!instance || !name || !out)
        return false;
    const wasm_export *export = find_export(instance, name, strlen(name), WASM_EXTERN_GLOBAL);
    if (!export)
        return false;
    const wasm_global_inst *global = instance->globals[export->index];
    *out = wasm_value_from_slot(global->type, global->value);
    return true;
}

bool wasm_instance_set_global(wasm_instance *instance, const char *name, const wasm_value *v)
{
    if (!instance || !name || !v)
        return false;
    const wasm_export *export = find_export(instance, name, strlen(name), WASM_EXTERN_GLOBAL);
    if (!export)
        return false;
    wasm_global_inst *global = instance->globals[export->index];
    if (!global->mutable_ || (uint8_t)v->type != global->type)
        return false;
    global->value = wasm_value_to_slot(v);
    return true;
}

uint8_t *wasm_instance_memory(const wasm_instance *instance, uint64_t *size_bytes)
{
    if (!instance || instance->module->memory_count == 0) {
        if (size_bytes)
            *size_bytes = 0;
        return NULL;
    }
    wasm_memory_inst *memory = instance->memories[0];
    if (size_bytes)
        *size_bytes = memory->size;
    return memory->data;
}

wasm_functype_view wasm_func_type(const wasm_func *func)
{
    const wasm_functype *type = func->type;
    return (wasm_functype_view){type->param_count, type->result_count,
                                wasm_functype_params(type), wasm_functype_results(type)};
}
