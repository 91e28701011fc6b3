/*
 * runtime.h — what the store, the linker and instantiation share (store.c,
 * linker.c, instance.c) beyond internal.h.
 */
#ifndef LIQUID_WASM_RUNTIME_H
#define LIQUID_WASM_RUNTIME_H

#include "wasm/internal.h"

/* What an import resolves to: an object owned by the linker's store. */
typedef struct wasm_extern_ref {
    wasm_extern_kind kind;
    union {
        wasm_func *func;
        wasm_table_inst *table;
        wasm_memory_inst *memory;
        wasm_global_inst *global;
    } as;
} wasm_extern_ref;

/* The latest definition of (module, name), compared with lengths since names may
 * hold NUL bytes. */
bool wasm_linker_resolve(const wasm_linker *linker, const char *module, size_t module_len,
                         const char *name, size_t name_len, wasm_extern_ref *out);
wasm_store *wasm_linker_store(const wasm_linker *linker);

/* An instance allocated for module (zeroed arrays), not yet owned by any store. */
wasm_instance *wasm_instance_allocate(wasm_store *store, const wasm_module *module);
void wasm_instance_destroy(wasm_instance *instance);
/* From here on the store frees the instance (its functions may be referenced from
 * other instances' tables even if instantiation fails later on). */
bool wasm_store_adopt_instance(wasm_store *store, wasm_instance *instance);

/* Value cells <-> wasm_value for a value type. */
wasm_slot wasm_value_to_slot(const wasm_value *value);
wasm_value wasm_value_from_slot(uint8_t type, wasm_slot slot);

/* "(func [i32 i64] -> [f32])": how a function type reads in messages. */
void wasm_format_functype(const wasm_functype *type, char *buf, size_t size);
const char *wasm_valtype_name(uint8_t type);

#endif
