/*
 * linker.c — names for what imports resolve to: host functions, host-created
 * memories, tables and globals, and the exports of instances already in the store.
 * A later definition of the same (module, name) replaces the earlier one.
 */
#include "wasm/runtime.h"

#include <stdlib.h>
#include <string.h>

typedef struct linker_entry {
    char *module;
    char *name;
    size_t module_len, name_len;
    wasm_extern_ref target;
} linker_entry;

struct wasm_linker {
    wasm_store *store;
    linker_entry *entries;
    uint32_t count, capacity;
};

wasm_linker *wasm_linker_new(wasm_store *store)
{
    if (!store)
        return NULL;
    wasm_linker *linker = calloc(1, sizeof *linker);
    if (linker)
        linker->store = store;
    return linker;
}

void wasm_linker_free(wasm_linker *linker)
{
    if (!linker)
        return;
    for (uint32_t i = 0; i < linker->count; i++) {
        free(linker->entries[i].module);
        free(linker->entries[i].name);
    }
    free(linker->entries);
    free(linker);
}

wasm_store *wasm_linker_store(const wasm_linker *linker)
{
    return linker->store;
}

static bool names_equal(const char *a, size_t a_len, const char *b, size_t b_len)
{
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

static linker_entry *find_entry(const wasm_linker *linker, const char *module,
                                size_t module_len, const char *name, size_t name_len)
{
    for (uint32_t i = 0; i < linker->count; i++) {
        linker_entry *entry = &linker->entries[i];
        if (names_equal(entry->name, entry->name_len, name, name_len) &&
            names_equal(entry->module, entry->module_len, module, module_len))
            return entry;
    }
    return NULL;
}

bool wasm_linker_resolve(const wasm_linker *linker, const char *module, size_t module_len,
                         const char *name, size_t name_len, wasm_extern_ref *out)
{
    const linker_entry *entry = find_entry(linker, module, module_len, name, name_len);
    if (!entry)
        return false;
    *out = entry->target;
    return true;
}

static char *copy_name(const char *name, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy) {
        memcpy(copy, name, len);
        copy[len] = '\0';
    }
    return copy;
}

static bool define(wasm_linker *linker, const char *module, size_t module_len,
                   const char *name, size_t name_len, const wasm_extern_ref *target,
                   wasm_error *err)
{
    linker_entry *existing = find_entry(linker, module, module_len, name, name_len);
    if (existing) {
        existing->target = *target;
        return true;
    }
    if (linker->count == linker->capacity) {
        uint32_t capacity = linker->capacity ? linker->capacity * 2 : 32;
        linker_entry *entries = realloc(linker->entries, capacity * sizeof *entries);
        if (!entries)
            return wasm_fail(err, WASM_ERR_NOMEM, "out of memory defining %s.%s", module, name);
        linker->entries = entries;
        linker->capacity = capacity;
    }
    linker_entry *entry = &linker->entries[linker->count];
    entry->module = copy_name(module, module_len);
    entry->name = copy_name(name, name_len);
    if (!entry->module || !entry->name) {
        free(entry->module);
        free(entry->name);
        return wasm_fail(err, WASM_ERR_NOMEM, "out of memory defining %s.%s", module, name);
    }
    entry->module_len = module_len;
    entry->name_len = name_len;
    entry->target = *target;
    linker->count++;
    return true;
}

static bool check_names(const char *module, const char *name, wasm_error *err)
{
    if (!module || !name)
        return wasm_fail(err, WASM_ERR_ARGUMENT, "a definition needs a module and a name");
    return true;
}

bool wasm_linker_define_func(wasm_linker *linker, const char *module, const char *name,
                             const char *params, const char *results, wasm_host_fn fn,
                             void *user, wasm_error *err)
{
    if (!check_names(module, name, err))
        return false;
    if (!fn)
        return wasm_fail(err, WASM_ERR_ARGUMENT, "host function %s.%s has no implementation",
                         module, name);
    wasm_functype type;
    if (!wasm_functype_from_letters(params, results, &type))
        return wasm_fail(err, WASM_ERR_ARGUMENT, "host function %s.%s: bad signature \"%s\" -> "
                         "\"%s\" (letters: i=i32 I=i64 f=f32 F=f64 r=funcref e=externref)",
                         module, name, params ? params : "", results ? results : "");
    uint32_t type_id = wasm_store_intern_type(linker->store, &type);
    wasm_functype_release(&type);
    wasm_func *func = type_id == UINT32_MAX ? NULL : wasm_store_new_func(linker->store);
    if (!func)
        return wasm_fail(err, WASM_ERR_NOMEM, "out of memory defining %s.%s", module, name);
    func->type = wasm_store_type(linker->store, type_id);
    func->type_id = type_id;
    func->host = fn;
    func->host_user = user;
    wasm_extern_ref target = {.kind = WASM_EXTERN_FUNC, .as.func = func};
    return define(linker, module, strlen(module), name, strlen(name), &target, err);
}

bool wasm_linker_define_memory(wasm_linker *linker, const char *module, const char *name,
                               uint32_t min_pages, bool has_max, uint32_t max_pages,
                               wasm_error *err)
{
    if (!check_names(module, name, err))
        return false;
    if (min_pages > WASM_MAX_PAGES || (has_max && max_pages > WASM_MAX_PAGES))
        return wasm_fail(err, WASM_ERR_ARGUMENT, "memory %s.%s: at most %u pages", module, name,
                         WASM_MAX_PAGES);
    if (has_max && min_pages > max_pages)
        return wasm_fail(err, WASM_ERR_ARGUMENT, "memory %s.%s: minimum %u above maximum %u",
                         module, name, min_pages, max_pages);
    wasm_limits_decl type = {min_pages, has_max ? max_pages : 0, has_max};
    wasm_memory_inst *memory = wasm_store_new_memory(linker->store, &type, 0, err);
    if (!memory)
        return false;
    wasm_extern_ref target = {.kind = WASM_EXTERN_MEMORY, .as.memory = memory};
    return define(linker, module, strlen(module), name, strlen(name), &target, err);
}

bool wasm_linker_define_table(wasm_linker *linker, const char *module, const char *name,
                              wasm_valtype elem_type, uint32_t min, bool has_max, uint32_t max,
                              wasm_error *err)
{
    if (!check_names(module, name, err))
        return false;
    if (!wasm_is_reftype((uint8_t)elem_type))
        return wasm_fail(err, WASM_ERR_ARGUMENT, "table %s.%s: elements must be funcref or "
                         "externref", module, name);
    if (has_max && min > max)
        return wasm_fail(err, WASM_ERR_ARGUMENT, "table %s.%s: minimum %u above maximum %u",
                         module, name, min, max);
    wasm_tabletype type = {(uint8_t)elem_type, {min, has_max ? max : 0, has_max}};
    wasm_table_inst *table = wasm_store_new_table(linker->store, &type, 0, err);
    if (!table)
        return false;
    wasm_extern_ref target = {.kind = WASM_EXTERN_TABLE, .as.table = table};
    return define(linker, module, strlen(module), name, strlen(name), &target, err);
}

bool wasm_linker_define_global(wasm_linker *linker, const char *module, const char *name,
                               const wasm_value *value, bool mutable_, wasm_error *err)
{
    if (!check_names(module, name, err))
        return false;
    if (!value || !wasm_is_valtype((uint8_t)value->type))
        return wasm_fail(err, WASM_ERR_ARGUMENT, "global %s.%s: no value or an unknown type",
                         module, name);
    wasm_global_inst *global = wasm_store_new_global(linker->store, (uint8_t)value->type,
                                                     mutable_);
    if (!global)
        return wasm_fail(err, WASM_ERR_NOMEM, "out of memory defining %s.%s", module, name);
    global->value = wasm_value_to_slot(value);
    wasm_extern_ref target = {.kind = WASM_EXTERN_GLOBAL, .as.global = global};
    return define(linker, module, strlen(module), name, strlen(name), &target, err);
}

bool wasm_linker_define_instance(wasm_linker *linker, const char *module_name,
                                 wasm_instance *instance, wasm_error *err)
{
    if (!module_name || !instance)
        return wasm_fail(err, WASM_ERR_ARGUMENT, "define_instance needs a name and an instance");
    if (instance->store != linker->store)
        return wasm_fail(err, WASM_ERR_ARGUMENT, "instance registered as \"%s\" belongs to "
                         "another store", module_name);
    const wasm_module *module = instance->module;
    for (uint32_t i = 0; i < module->export_count; i++) {
        const wasm_export *export = &module->exports[i];
        wasm_extern_ref target = {.kind = export->kind};
        switch (export->kind) {
        case WASM_EXTERN_FUNC: target.as.func = instance->funcs[export->index]; break;
        case WASM_EXTERN_TABLE: target.as.table = instance->tables[export->index]; break;
        case WASM_EXTERN_MEMORY: target.as.memory = instance->memories[export->index]; break;
        case WASM_EXTERN_GLOBAL: target.as.global = instance->globals[export->index]; break;
        }
        if (!define(linker, module_name, strlen(module_name), export->name, export->name_len,
                    &target, err))
            return false;
    }
    return true;
}

uint32_t wasm_linker_count(const wasm_linker *linker)
{
    return linker->count;
}

bool wasm_linker_entry(const wasm_linker *linker, uint32_t i, const char **module,
                       const char **name, wasm_extern_kind *kind)
{
    if (i >= linker->count)
        return false;
    const linker_entry *entry = &linker->entries[i];
    if (module)
        *module = entry->module;
    if (name)
        *name = entry->name;
    if (kind)
        *kind = entry->target.kind;
    return true;
}
