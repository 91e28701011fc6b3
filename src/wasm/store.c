/*
 * store.c — the store owns every runtime object (instances, memories, tables,
 * globals, function instances) and frees them all at once: objects refer to each
 * other freely (a table holds functions of other instances), so none can go alone.
 *
 * It also interns function types: equal types get equal ids across every module
 * of the store, which is what call_indirect and import matching compare.
 */
#include "wasm/runtime.h"

#include <stdlib.h>
#include <string.h>

#define FUNCS_PER_SLAB 64u

/* A growable array of owned pointers. */
typedef struct owned_list {
    void **items;
    size_t count, capacity;
} owned_list;

typedef struct interned_type {
    wasm_functype type;
    uint32_t hash;
} interned_type;

typedef struct func_slab {
    struct func_slab *next;
    uint32_t used;
    wasm_func funcs[FUNCS_PER_SLAB];
} func_slab;

struct wasm_store {
    interned_type **types;
    uint32_t type_count, type_capacity;

    owned_list memories, tables, globals, instances;
    func_slab *slabs;
};

static bool owned_list_push(owned_list *list, void *item)
{
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 16;
        void **items = realloc(list->items, capacity * sizeof *items);
        if (!items)
            return false;
        list->items = items;
        list->capacity = capacity;
    }
    list->items[list->count++] = item;
    return true;
}

wasm_store *wasm_store_new(void)
{
    return calloc(1, sizeof(wasm_store));
}

void wasm_store_free(wasm_store *store)
{
    if (!store)
        return;
    for (size_t i = 0; i < store->instances.count; i++)
        wasm_instance_destroy(store->instances.items[i]);
    for (size_t i = 0; i < store->memories.count; i++) {
        wasm_memory_inst *memory = store->memories.items[i];
        free(memory->data);
        free(memory);
    }
    for (size_t i = 0; i < store->tables.count; i++) {
        wasm_table_inst *table = store->tables.items[i];
        free(table->elems);
        free(table);
    }
    for (size_t i = 0; i < store->globals.count; i++)
        free(store->globals.items[i]);
    free(store->instances.items);
    free(store->memories.items);
    free(store->tables.items);
    free(store->globals.items);
    while (store->slabs) {
        func_slab *next = store->slabs->next;
        free(store->slabs);
        store->slabs = next;
    }
    for (uint32_t i = 0; i < store->type_count; i++) {
        free(store->types[i]->type.types);
        free(store->types[i]);
    }
    free(store->types);
    free(store);
}

static uint32_t hash_functype(const wasm_functype *type)
{
    uint32_t hash = 2166136261u;     /* FNV-1a */
    uint32_t counts[2] = {type->param_count, type->result_count};
    const uint8_t *bytes = (const uint8_t *)counts;
    for (size_t i = 0; i < sizeof counts; i++)
        hash = (hash ^ bytes[i]) * 16777619u;
    for (uint32_t i = 0; i < type->param_count + type->result_count; i++)
        hash = (hash ^ type->types[i]) * 16777619u;
    return hash;
}

uint32_t wasm_store_intern_type(wasm_store *store, const wasm_functype *type)
{
    uint32_t hash = hash_functype(type);
    for (uint32_t id = 0; id < store->type_count; id++)
        if (store->types[id]->hash == hash && wasm_functype_equal(&store->types[id]->type, type))
            return id;

    if (store->type_count == store->type_capacity) {
        uint32_t capacity = store->type_capacity ? store->type_capacity * 2 : 16;
        interned_type **types = realloc(store->types, capacity * sizeof *types);
        if (!types)
            return UINT32_MAX;
        store->types = types;
        store->type_capacity = capacity;
    }
    size_t count = (size_t)type->param_count + type->result_count;
    interned_type *copy = malloc(sizeof *copy);
    uint8_t *types = malloc(count ? count : 1);
    if (!copy || !types) {
        free(copy);
        free(types);
        return UINT32_MAX;
    }
    if (count)
        memcpy(types, type->types, count);
    copy->type = (wasm_functype){type->param_count, type->result_count, types};
    copy->hash = hash;
    store->types[store->type_count] = copy;
    return store->type_count++;
}

const wasm_functype *wasm_store_type(const wasm_store *store, uint32_t type_id)
{
    return type_id < store->type_count ? &store->types[type_id]->type : NULL;
}

wasm_memory_inst *wasm_store_new_memory(wasm_store *store, const wasm_limits_decl *type,
                                        uint32_t limit_pages, wasm_error *err)
{
    if (limit_pages && type->min > limit_pages) {
        wasm_fail(err, WASM_ERR_LIMIT, "a memory of %u pages exceeds the instance limit of %u "
                  "pages", type->min, limit_pages);
        return NULL;
    }
    uint64_t bytes = (uint64_t)type->min * WASM_PAGE_SIZE;
    wasm_memory_inst *memory = calloc(1, sizeof *memory);
    /* Never a null data pointer, so the interpreter never offsets one. */
    uint8_t *data = bytes <= SIZE_MAX ? calloc(bytes ? (size_t)bytes : 1, 1) : NULL;
    if (!memory || !data || !owned_list_push(&store->memories, memory)) {
        free(memory);
        free(data);
        wasm_fail(err, WASM_ERR_NOMEM, "out of memory allocating a memory of %u pages",
                  type->min);
        return NULL;
    }
    memory->data = data;
    memory->size = bytes;
    memory->pages = type->min;
    memory->has_max = type->has_max;
    memory->max_pages = type->has_max ? type->max : WASM_MAX_PAGES;
    memory->limit_pages = limit_pages;
    return memory;
}

wasm_table_inst *wasm_store_new_table(wasm_store *store, const wasm_tabletype *type,
                                      uint32_t limit, wasm_error *err)
{
    if (limit && type->limits.min > limit) {
        wasm_fail(err, WASM_ERR_LIMIT, "a table of %u elements exceeds the instance limit of "
                  "%u elements", type->limits.min, limit);
        return NULL;
    }
    size_t size = type->limits.min;
    wasm_table_inst *table = calloc(1, sizeof *table);
    wasm_slot *elems = size <= SIZE_MAX / sizeof(wasm_slot)
                           ? calloc(size ? size : 1, sizeof(wasm_slot))
                           : NULL;
    if (!table || !elems || !owned_list_push(&store->tables, table)) {
        free(table);
        free(elems);
        wasm_fail(err, WASM_ERR_NOMEM, "out of memory allocating a table of %u elements",
                  type->limits.min);
        return NULL;
    }
    table->elem_type = type->elem_type;
    table->size = type->limits.min;
    table->has_max = type->limits.has_max;
    table->max = type->limits.has_max ? type->limits.max : UINT32_MAX;
    table->limit = limit;
    table->elems = elems;
    return table;
}

wasm_global_inst *wasm_store_new_global(wasm_store *store, uint8_t type, bool mutable_)
{
    wasm_global_inst *global = calloc(1, sizeof *global);
    if (!global || !owned_list_push(&store->globals, global)) {
        free(global);
        return NULL;
    }
    global->type = type;
    global->mutable_ = mutable_;
    return global;
}

wasm_func *wasm_store_new_func(wasm_store *store)
{
    if (!store->slabs || store->slabs->used == FUNCS_PER_SLAB) {
        func_slab *slab = calloc(1, sizeof *slab);
        if (!slab)
            return NULL;
        slab->next = store->slabs;
        store->slabs = slab;
    }
    return &store->slabs->funcs[store->slabs->used++];
}

bool wasm_store_adopt_instance(wasm_store *store, wasm_instance *instance)
{
    return owned_list_push(&store->instances, instance);
}
