/*
 * test_instance.c — linking and instantiation: every missing import named at once,
 * import type matching (limits subtyping included), embedder limits, the 2.0
 * order of segment initialisation and what stays written when it fails, globals,
 * exports, and memory/table growth.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/internal.h"

#define HEADER 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00
#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static wasm_module *load_bytes(const uint8_t *bytes, size_t size)
{
    wasm_error err;
    wasm_module *module = wasm_module_load(bytes, size, &err);
    if (!module)
        fail_msg("refused: %s", err.message);
    return module;
}

static wasm_module *load_test_module(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/wat/%s.wasm", LIQUID_BUILD_DIR, name);
    FILE *file = fopen(path, "rb");
    if (!file)
        fail_msg("cannot open %s", path);
    fseek(file, 0, SEEK_END);
    long length = ftell(file);
    fseek(file, 0, SEEK_SET);
    uint8_t *bytes = malloc((size_t)length);
    assert_non_null(bytes);
    assert_int_equal(fread(bytes, 1, (size_t)length, file), (size_t)length);
    fclose(file);
    wasm_module *module = load_bytes(bytes, (size_t)length);
    free(bytes);
    return module;
}

static wasm_instance *instantiate_ok(wasm_store *store, const wasm_module *module,
                                     const wasm_linker *linker)
{
    wasm_error err;
    wasm_instance *instance = wasm_instantiate(store, module, linker, NULL, NULL, &err);
    if (!instance)
        fail_msg("instantiation failed: %s", err.message);
    return instance;
}

static wasm_error instantiate_fails(wasm_store *store, const wasm_module *module,
                                    const wasm_linker *linker, const wasm_instance_limits *limits,
                                    wasm_error_kind kind)
{
    wasm_error err;
    wasm_instance *instance = wasm_instantiate(store, module, linker, limits, NULL, &err);
    if (instance)
        fail_msg("instantiation succeeded, expected %s", wasm_error_kind_name(kind));
    if (err.kind != kind)
        fail_msg("failed as %s (%s), expected %s", wasm_error_kind_name(err.kind), err.message,
                 wasm_error_kind_name(kind));
    return err;
}

static void assert_starts_with(const char *text, const char *prefix)
{
    if (strncmp(text, prefix, strlen(prefix)))
        fail_msg("\"%s\" does not start with \"%s\"", text, prefix);
}

static int host_nothing(wasm_host_call *call, const wasm_slot *args, wasm_slot *results,
                        void *user)
{
    (void)call, (void)args, (void)results, (void)user;
    return 0;
}

/* A linker holding everything link_missing.wat imports, with the right types. */
static wasm_linker *linker_for_link_missing(wasm_store *store)
{
    wasm_linker *linker = wasm_linker_new(store);
    wasm_error err;
    wasm_value seed = {.type = WASM_I64, .of.i64 = 99};
    assert_true(wasm_linker_define_func(linker, "env", "log", "i", "", host_nothing, NULL, &err));
    assert_true(wasm_linker_define_memory(linker, "env", "memory", 1, false, 0, &err));
    assert_true(wasm_linker_define_global(linker, "env", "seed", &seed, true, &err));
    assert_true(wasm_linker_define_table(linker, "sys", "table", WASM_EXTERNREF, 2, true, 10,
                                         &err));
    return linker;
}

static void test_every_missing_import_is_listed(void **state)
{
    (void)state;
    wasm_module *module = load_test_module("link_missing");
    wasm_store *store = wasm_store_new();
    wasm_linker *linker = wasm_linker_new(store);
    wasm_error err;
    assert_true(wasm_linker_define_func(linker, "env", "other", "", "", host_nothing, NULL,
                                        &err));

    err = instantiate_fails(store, module, linker, NULL, WASM_ERR_LINK);
    assert_string_equal(err.message, "unknown import: env.log (func [i32] -> [])\n"
                                     "unknown import: env.memory (memory 1)\n"
                                     "unknown import: env.seed (global (mut i64))\n"
                                     "unknown import: sys.table (table 2 10 externref)");
    /* No linker at all: the same list. */
    wasm_error without = instantiate_fails(store, module, NULL, NULL, WASM_ERR_LINK);
    assert_string_equal(without.message, err.message);

    /* Provide half: the other half is still listed. */
    wasm_value seed = {.type = WASM_I64, .of.i64 = 1};
    assert_true(wasm_linker_define_func(linker, "env", "log", "i", "", host_nothing, NULL, &err));
    assert_true(wasm_linker_define_global(linker, "env", "seed", &seed, true, &err));
    err = instantiate_fails(store, module, linker, NULL, WASM_ERR_LINK);
    assert_string_equal(err.message, "unknown import: env.memory (memory 1)\n"
                                     "unknown import: sys.table (table 2 10 externref)");
    wasm_linker_free(linker);

    linker = linker_for_link_missing(store);
    instantiate_ok(store, module, linker);
    wasm_linker_free(linker);
    wasm_store_free(store);
    wasm_module_free(module);
}

/* Forty missing imports do not fit in one message: whole lines, then a count. */
static void test_long_missing_list_is_cut_at_a_line(void **state)
{
    (void)state;
    uint8_t bytes[4096];
    size_t size = 0;
    const uint8_t start[] = {HEADER, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00};
    memcpy(bytes, start, sizeof start);
    size = sizeof start;
    uint8_t imports[4000];
    size_t imports_size = 0;
    imports[imports_size++] = 40;
    for (int i = 0; i < 40; i++) {
        char name[64];
        int name_len = snprintf(name, sizeof name, "function_with_a_rather_long_name_%02d", i);
        imports[imports_size++] = 3;
        memcpy(imports + imports_size, "env", 3);
        imports_size += 3;
        imports[imports_size++] = (uint8_t)name_len;
        memcpy(imports + imports_size, name, (size_t)name_len);
        imports_size += (size_t)name_len;
        imports[imports_size++] = 0x00;    /* func */
        imports[imports_size++] = 0x00;    /* type 0 */
    }
    bytes[size++] = 0x02;
    bytes[size++] = (uint8_t)(0x80 | (imports_size & 0x7f));
    bytes[size++] = (uint8_t)(imports_size >> 7);
    memcpy(bytes + size, imports, imports_size);
    size += imports_size;

    wasm_module *module = load_bytes(bytes, size);
    wasm_store *store = wasm_store_new();
    wasm_error err = instantiate_fails(store, module, NULL, NULL, WASM_ERR_LINK);
    assert_starts_with(err.message, "unknown import: env.function_with_a_rather_long_name_00 "
                                    "(func [] -> [])\n");
    const char *last_line = strrchr(err.message, '\n');
    assert_non_null(last_line);
    unsigned listed = 0, more = 0;
    for (const char *p = err.message; (p = strstr(p, "unknown import: ")); p++)
        listed++;
    assert_int_equal(sscanf(last_line, "\n... and %u more unknown imports", &more), 1);
    assert_int_equal(listed + more, 40);
    assert_true(listed > 5);
    wasm_store_free(store);
    wasm_module_free(module);
}

static void test_import_types_must_match(void **state)
{
    (void)state;
    wasm_module *module = load_test_module("link_missing");
    wasm_store *store = wasm_store_new();
    wasm_linker *linker = linker_for_link_missing(store);
    wasm_error err;
    wasm_value i64_seed = {.type = WASM_I64, .of.i64 = 1};
    wasm_value i32_seed = {.type = WASM_I32, .of.i32 = 1};

    /* Function signature differs; a later definition replaces it. */
    assert_true(wasm_linker_define_func(linker, "env", "log", "I", "", host_nothing, NULL, &err));
    err = instantiate_fails(store, module, linker, NULL, WASM_ERR_LINK);
    assert_starts_with(err.message, "incompatible import type: env.log is imported as "
                                    "(func [i32] -> []) but is (func [i64] -> [])");
    assert_true(wasm_linker_define_func(linker, "env", "log", "i", "", host_nothing, NULL, &err));
    instantiate_ok(store, module, linker);

    /* Memory smaller than the declared minimum. */
    assert_true(wasm_linker_define_memory(linker, "env", "memory", 0, false, 0, &err));
    err = instantiate_fails(store, module, linker, NULL, WASM_ERR_LINK);
    assert_starts_with(err.message, "incompatible import type: env.memory");
    assert_true(wasm_linker_define_memory(linker, "env", "memory", 3, true, 4, &err));
    instantiate_ok(store, module, linker);

    /* The import declares max 10: the table must have a max, no larger. */
    assert_true(wasm_linker_define_table(linker, "sys", "table", WASM_EXTERNREF, 2, false, 0,
                                         &err));
    instantiate_fails(store, module, linker, NULL, WASM_ERR_LINK);
    assert_true(wasm_linker_define_table(linker, "sys", "table", WASM_EXTERNREF, 2, true, 11,
                                         &err));
    instantiate_fails(store, module, linker, NULL, WASM_ERR_LINK);
    assert_true(wasm_linker_define_table(linker, "sys", "table", WASM_FUNCREF, 2, true, 10,
                                         &err));
    instantiate_fails(store, module, linker, NULL, WASM_ERR_LINK);
    assert_true(wasm_linker_define_table(linker, "sys", "table", WASM_EXTERNREF, 5, true, 8,
                                         &err));
    instantiate_ok(store, module, linker);

    /* Globals: same type and the same mutability. */
    assert_true(wasm_linker_define_global(linker, "env", "seed", &i64_seed, false, &err));
    instantiate_fails(store, module, linker, NULL, WASM_ERR_LINK);
    assert_true(wasm_linker_define_global(linker, "env", "seed", &i32_seed, true, &err));
    instantiate_fails(store, module, linker, NULL, WASM_ERR_LINK);
    /* Another kind under the name. */
    assert_true(wasm_linker_define_func(linker, "env", "seed", "", "", host_nothing, NULL, &err));
    err = instantiate_fails(store, module, linker, NULL, WASM_ERR_LINK);
    assert_starts_with(err.message, "incompatible import type: env.seed is imported as "
                                    "(global (mut i64)) but is (func [] -> [])");
    assert_true(wasm_linker_define_global(linker, "env", "seed", &i64_seed, true, &err));
    instantiate_ok(store, module, linker);

    wasm_linker_free(linker);
    wasm_store_free(store);
    wasm_module_free(module);
}

static void test_instance_limits(void **state)
{
    (void)state;
    wasm_store *store = wasm_store_new();
    /* (memory 3) and (table 5 funcref). */
    wasm_module *memory_module = load_bytes(BYTES(HEADER, 0x05, 0x03, 0x01, 0x00, 0x03));
    wasm_module *table_module = load_bytes(BYTES(HEADER, 0x04, 0x04, 0x01, 0x70, 0x00, 0x05));
    wasm_error err;

    wasm_instance_limits limits = {.max_memory_pages = 2};
    err = instantiate_fails(store, memory_module, NULL, &limits, WASM_ERR_LIMIT);
    assert_starts_with(err.message, "a memory of 3 pages exceeds the instance limit of 2 pages");
    limits.max_memory_pages = 3;
    wasm_instance *instance =
        wasm_instantiate(store, memory_module, NULL, &limits, NULL, &err);
    assert_non_null(instance);
    bool limit_hit = false;
    assert_int_equal(wasm_memory_grow(instance->memories[0], 1, &limit_hit), -1);
    assert_true(limit_hit);
    assert_int_equal(wasm_memory_grow(instance->memories[0], 0, &limit_hit), 3);
    assert_false(limit_hit);

    wasm_instance_limits table_limits = {.max_table_elems = 4};
    err = instantiate_fails(store, table_module, NULL, &table_limits, WASM_ERR_LIMIT);
    assert_starts_with(err.message, "a table of 5 elements exceeds the instance limit of 4");
    table_limits.max_table_elems = 6;
    instance = wasm_instantiate(store, table_module, NULL, &table_limits, NULL, &err);
    assert_non_null(instance);
    assert_int_equal(wasm_table_grow(instance->tables[0], 1, 0, &limit_hit), 5);
    assert_false(limit_hit);
    assert_int_equal(wasm_table_grow(instance->tables[0], 1, 0, &limit_hit), -1);
    assert_true(limit_hit);

    wasm_store_free(store);
    wasm_module_free(memory_module);
    wasm_module_free(table_module);
}

static void test_memory_grow(void **state)
{
    (void)state;
    wasm_store *store = wasm_store_new();
    wasm_limits_decl type = {1, 3, true};
    wasm_error err;
    wasm_memory_inst *memory = wasm_store_new_memory(store, &type, 0, &err);
    assert_non_null(memory);
    assert_int_equal(memory->size, WASM_PAGE_SIZE);
    memset(memory->data, 0xaa, memory->size);

    bool limit_hit = true;
    assert_int_equal(wasm_memory_grow(memory, 2, &limit_hit), 1);
    assert_false(limit_hit);
    assert_int_equal(memory->pages, 3);
    assert_int_equal(memory->size, 3 * WASM_PAGE_SIZE);
    assert_int_equal(memory->data[WASM_PAGE_SIZE - 1], 0xaa);
    for (uint64_t i = WASM_PAGE_SIZE; i < memory->size; i++)
        if (memory->data[i] != 0)
            fail_msg("byte %llu of a new page is not zero", (unsigned long long)i);
    /* The module's maximum answers -1 without the embedder limit flag. */
    assert_int_equal(wasm_memory_grow(memory, 1, &limit_hit), -1);
    assert_false(limit_hit);
    assert_int_equal(memory->pages, 3);

    /* Without a maximum, 65536 pages is the bound. */
    wasm_limits_decl unbounded = {0, 0, false};
    memory = wasm_store_new_memory(store, &unbounded, 0, &err);
    assert_non_null(memory);
    assert_int_equal(wasm_memory_grow(memory, 65537, &limit_hit), -1);
    assert_int_equal(wasm_memory_grow(memory, UINT32_MAX, &limit_hit), -1);
    assert_int_equal(wasm_memory_grow(memory, 1, NULL), 0);
    wasm_store_free(store);
}

static void test_table_grow(void **state)
{
    (void)state;
    wasm_store *store = wasm_store_new();
    wasm_tabletype type = {WASM_EXTERNREF, {2, 4, true}};
    wasm_error err;
    wasm_table_inst *table = wasm_store_new_table(store, &type, 0, &err);
    assert_non_null(table);
    assert_int_equal(table->size, 2);
    assert_true(table->elems[0] == 0 && table->elems[1] == 0);
    bool limit_hit;
    assert_int_equal(wasm_table_grow(table, 2, 0x1234, &limit_hit), 2);
    assert_false(limit_hit);
    assert_int_equal(table->size, 4);
    assert_true(table->elems[1] == 0 && table->elems[2] == 0x1234 && table->elems[3] == 0x1234);
    assert_int_equal(wasm_table_grow(table, 1, 0, &limit_hit), -1);
    assert_false(limit_hit);

    /* Without a maximum, 2^32-1 entries is the bound. */
    wasm_tabletype unbounded = {WASM_FUNCREF, {1, 0, false}};
    table = wasm_store_new_table(store, &unbounded, 0, &err);
    assert_non_null(table);
    assert_int_equal(table->max, UINT32_MAX);
    assert_int_equal(wasm_table_grow(table, UINT32_MAX, 0, &limit_hit), -1);
    assert_int_equal(table->size, 1);
    wasm_store_free(store);
}

/* Segments are applied in order, each checked before it writes: the failing one
 * writes nothing, the earlier ones stay (they are visible through the imports). */
static void test_segments_apply_in_order_and_persist(void **state)
{
    (void)state;
    wasm_module *provider_module = load_test_module("link_provider");
    wasm_module *elem_module = load_test_module("link_elem_partial");
    wasm_module *data_module = load_test_module("link_data_partial");
    wasm_store *store = wasm_store_new();
    wasm_linker *linker = wasm_linker_new(store);
    wasm_error err;
    wasm_instance *provider = instantiate_ok(store, provider_module, NULL);
    assert_true(wasm_linker_define_instance(linker, "provider", provider, &err));

    err = instantiate_fails(store, elem_module, linker, NULL, WASM_ERR_INSTANTIATE);
    assert_starts_with(err.message, "out of bounds table access");
    const wasm_table_inst *table = provider->tables[0];
    assert_true(table->elems[0] != 0);
    assert_true(table->elems[3] == 0);
    const wasm_func *written = (const wasm_func *)(uintptr_t)table->elems[0];
    assert_non_null(written->code);
    assert_int_equal(written->index, 0);
    wasm_functype_view type = wasm_func_type(written);
    assert_int_equal(type.param_count, 0);
    assert_int_equal(type.result_count, 1);
    assert_int_equal(type.results[0], WASM_I32);

    err = instantiate_fails(store, data_module, linker, NULL, WASM_ERR_INSTANTIATE);
    assert_starts_with(err.message, "out of bounds memory access");
    uint64_t size = 0;
    const uint8_t *memory = wasm_instance_memory(provider, &size);
    assert_int_equal(size, WASM_PAGE_SIZE);
    assert_memory_equal(memory, "hi", 2);
    assert_int_equal(memory[65535], 0);

    wasm_linker_free(linker);
    wasm_store_free(store);
    wasm_module_free(provider_module);
    wasm_module_free(elem_module);
    wasm_module_free(data_module);
}

static void test_globals_and_exports(void **state)
{
    (void)state;
    wasm_module *provider_module = load_test_module("link_provider");
    wasm_module *globals_module = load_test_module("link_globals");
    wasm_store *store = wasm_store_new();
    wasm_linker *linker = wasm_linker_new(store);
    wasm_error err;
    wasm_instance *provider = instantiate_ok(store, provider_module, NULL);
    assert_true(wasm_linker_define_instance(linker, "provider", provider, &err));
    wasm_instance *instance = instantiate_ok(store, globals_module, linker);
    assert_ptr_equal(wasm_instance_module(instance), globals_module);

    wasm_value value;
    assert_true(wasm_instance_export_global(instance, "copy", &value));
    assert_int_equal(value.type, WASM_I32);
    assert_int_equal(value.of.i32, 42);
    assert_true(wasm_instance_export_global(instance, "self", &value));
    assert_int_equal(value.type, WASM_FUNCREF);
    assert_ptr_equal(value.of.funcref, wasm_instance_export_func(instance, "get"));
    assert_true(wasm_instance_export_global(instance, "mutable", &value));
    assert_int_equal(value.type, WASM_F64);
    assert_true(value.of.f64_bits == 0x3ff8000000000000ull);   /* 1.5 */

    wasm_value two_and_half = {.type = WASM_F64, .of.f64_bits = 0x4004000000000000ull};
    assert_true(wasm_instance_set_global(instance, "mutable", &two_and_half));
    assert_true(wasm_instance_export_global(instance, "mutable", &value));
    assert_true(value.of.f64_bits == 0x4004000000000000ull);
    wasm_value an_i32 = {.type = WASM_I32, .of.i32 = 1};
    assert_false(wasm_instance_set_global(instance, "mutable", &an_i32));   /* wrong type */
    assert_false(wasm_instance_set_global(instance, "copy", &an_i32));      /* immutable */
    assert_false(wasm_instance_export_global(instance, "get", &value));     /* not a global */
    assert_false(wasm_instance_export_global(instance, "nothing", &value));
    assert_null(wasm_instance_export_func(instance, "copy"));
    assert_null(wasm_instance_memory(instance, NULL));

    /* The provider's mutable global, seen through the linker by a new definition. */
    assert_true(wasm_instance_export_global(provider, "counter", &value));
    assert_int_equal(value.type, WASM_I64);
    assert_true(value.of.i64 == 7);

    wasm_linker_free(linker);
    wasm_store_free(store);
    wasm_module_free(provider_module);
    wasm_module_free(globals_module);
}

static void test_types_are_shared_across_the_store(void **state)
{
    (void)state;
    wasm_module *provider_module = load_test_module("link_provider");
    wasm_module *externs_module = load_test_module("decode_externs");
    wasm_store *store = wasm_store_new();
    wasm_linker *linker = wasm_linker_new(store);
    wasm_error err;
    wasm_instance *provider = instantiate_ok(store, provider_module, NULL);

    /* A host function of the same signature gets the same type id as "add". */
    assert_true(wasm_linker_define_func(linker, "host", "add", "ii", "i", host_nothing, NULL,
                                        &err));
    assert_true(wasm_linker_define_instance(linker, "provider", provider, &err));
    wasm_functype add_type;
    assert_true(wasm_functype_from_letters("ii", "i", &add_type));
    uint32_t id = wasm_store_intern_type(store, &add_type);
    assert_int_equal(wasm_instance_export_func(provider, "add")->type_id, id);
    assert_true(wasm_functype_equal(wasm_store_type(store, id), &add_type));
    wasm_functype_release(&add_type);

    /* An imported function re-exported is the very same function instance. */
    assert_true(wasm_linker_define_func(linker, "env", "print", "iF", "I", host_nothing,
                                        (void *)0x5, &err));
    assert_true(wasm_linker_define_table(linker, "env", "table", WASM_FUNCREF, 1, true, 8, &err));
    assert_true(wasm_linker_define_memory(linker, "env", "memory", 2, false, 0, &err));
    wasm_value flag = {.type = WASM_I32, .of.i32 = 0};
    assert_true(wasm_linker_define_global(linker, "env", "flag", &flag, true, &err));
    wasm_instance *instance = instantiate_ok(store, externs_module, linker);
    wasm_func *again = wasm_instance_export_func(instance, "print_again");
    assert_non_null(again);
    assert_ptr_equal(again->host, host_nothing);
    assert_ptr_equal(again->host_user, (void *)0x5);
    assert_null(again->instance);

    /* Listing: every definition once, the replaced ones not duplicated. */
    uint32_t before = wasm_linker_count(linker);
    assert_true(wasm_linker_define_func(linker, "env", "print", "", "", host_nothing, NULL, &err));
    assert_int_equal(wasm_linker_count(linker), before);
    const char *module_name, *name;
    wasm_extern_kind kind;
    assert_true(wasm_linker_entry(linker, 0, &module_name, &name, &kind));
    assert_string_equal(module_name, "host");
    assert_string_equal(name, "add");
    assert_int_equal(kind, WASM_EXTERN_FUNC);
    bool saw_provider_memory = false;
    for (uint32_t i = 0; i < wasm_linker_count(linker); i++) {
        assert_true(wasm_linker_entry(linker, i, &module_name, &name, &kind));
        if (!strcmp(module_name, "provider") && !strcmp(name, "memory"))
            saw_provider_memory = kind == WASM_EXTERN_MEMORY;
    }
    assert_true(saw_provider_memory);
    assert_false(wasm_linker_entry(linker, wasm_linker_count(linker), &module_name, &name,
                                   &kind));

    /* Bad signatures are refused with the reason. */
    assert_false(wasm_linker_define_func(linker, "env", "bad", "x", "", host_nothing, NULL,
                                         &err));
    assert_int_equal(err.kind, WASM_ERR_ARGUMENT);

    wasm_linker_free(linker);
    wasm_store_free(store);
    wasm_module_free(provider_module);
    wasm_module_free(externs_module);
}

static void test_export_names_may_hold_nul(void **state)
{
    (void)state;
    /* Two functions exported as "a\0" and "a\1". */
    wasm_module *module = load_bytes(BYTES(HEADER, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x03,
                                           0x02, 0x00, 0x00, 0x07, 0x0b, 0x02, 0x02, 'a', 0x00,
                                           0x00, 0x00, 0x02, 'a', 0x01, 0x00, 0x01, 0x0a, 0x07,
                                           0x02, 0x02, 0x00, 0x0b, 0x02, 0x00, 0x0b));
    wasm_store *store = wasm_store_new();
    wasm_instance *instance = instantiate_ok(store, module, NULL);
    wasm_func *first = wasm_instance_export_func_sized(instance, "a\0", 2);
    wasm_func *second = wasm_instance_export_func_sized(instance, "a\1", 2);
    assert_non_null(first);
    assert_non_null(second);
    assert_int_equal(first->index, 0);
    assert_int_equal(second->index, 1);
    assert_null(wasm_instance_export_func(instance, "a"));
    wasm_store_free(store);
    wasm_module_free(module);
}

static void test_start_function_trap_fails_instantiation(void **state)
{
    (void)state;
    wasm_module *provider_module = load_test_module("link_provider");
    wasm_module *start_module = load_test_module("link_start_trap");
    wasm_store *store = wasm_store_new();
    wasm_linker *linker = wasm_linker_new(store);
    wasm_error err;
    wasm_instance *provider = instantiate_ok(store, provider_module, NULL);
    assert_true(wasm_linker_define_instance(linker, "provider", provider, &err));

    err = instantiate_fails(store, start_module, linker, NULL, WASM_ERR_INSTANTIATE);
    assert_non_null(strstr(err.message, "unreachable"));
    /* The data segment ran before the start function, and stays. */
    const uint8_t *memory = wasm_instance_memory(provider, NULL);
    assert_memory_equal(memory + 16, "start", 5);

    wasm_linker_free(linker);
    wasm_store_free(store);
    wasm_module_free(provider_module);
    wasm_module_free(start_module);
}

static void test_arguments_are_checked(void **state)
{
    (void)state;
    wasm_module *module = load_bytes(BYTES(HEADER));
    wasm_store *store = wasm_store_new();
    wasm_store *other = wasm_store_new();
    wasm_linker *foreign = wasm_linker_new(other);
    wasm_error err;
    assert_null(wasm_instantiate(NULL, module, NULL, NULL, NULL, &err));
    assert_int_equal(err.kind, WASM_ERR_ARGUMENT);
    assert_null(wasm_instantiate(store, module, foreign, NULL, NULL, &err));
    assert_int_equal(err.kind, WASM_ERR_ARGUMENT);
    assert_false(wasm_linker_define_memory(foreign, "m", "mem", 2, true, 1, &err));
    assert_int_equal(err.kind, WASM_ERR_ARGUMENT);
    assert_false(wasm_linker_define_table(foreign, "m", "t", WASM_I32, 1, false, 0, &err));
    assert_int_equal(err.kind, WASM_ERR_ARGUMENT);
    wasm_linker_free(foreign);
    wasm_store_free(other);
    wasm_store_free(store);
    wasm_module_free(module);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_missing_import_is_listed),
        cmocka_unit_test(test_long_missing_list_is_cut_at_a_line),
        cmocka_unit_test(test_import_types_must_match),
        cmocka_unit_test(test_instance_limits),
        cmocka_unit_test(test_memory_grow),
        cmocka_unit_test(test_table_grow),
        cmocka_unit_test(test_segments_apply_in_order_and_persist),
        cmocka_unit_test(test_globals_and_exports),
        cmocka_unit_test(test_types_are_shared_across_the_store),
        cmocka_unit_test(test_export_names_may_hold_nul),
        cmocka_unit_test(test_start_function_trap_fails_instantiation),
        cmocka_unit_test(test_arguments_are_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
