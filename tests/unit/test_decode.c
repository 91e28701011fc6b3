/*
 * test_decode.c — wasm_module_load on hand-made binaries: every rule of the binary
 * format and of module-level validation the decoder enforces, each refused with its
 * kind, its byte offset and the spec's wording; and what a loaded module reports.
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

/* A type section with one type [] -> [], a function section with one function of
 * it, and its code section with an empty body: 16 bytes at offsets 8..23. */
#define ONE_FUNC 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00
#define ONE_EMPTY_BODY 0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b

static void expect_refused(const uint8_t *bytes, size_t size, wasm_error_kind kind,
                           size_t offset, const char *prefix)
{
    wasm_error err;
    wasm_module *module = wasm_module_load(bytes, size, &err);
    if (module) {
        wasm_module_free(module);
        fail_msg("module loaded, expected \"%s\"", prefix);
    }
    if (err.kind != kind)
        fail_msg("kind %s (\"%s\"), expected %s", wasm_error_kind_name(err.kind), err.message,
                 wasm_error_kind_name(kind));
    if (strncmp(err.message, prefix, strlen(prefix)))
        fail_msg("message \"%s\", expected \"%s...\"", err.message, prefix);
    assert_true(err.has_offset);
    if (err.offset != offset)
        fail_msg("offset %zu, expected %zu (\"%s\")", err.offset, offset, err.message);
}

static wasm_module *expect_loads(const uint8_t *bytes, size_t size)
{
    wasm_error err;
    wasm_module *module = wasm_module_load(bytes, size, &err);
    if (!module)
        fail_msg("refused: %s at %zu: %s", wasm_error_kind_name(err.kind), err.offset,
                 err.message);
    return module;
}

static uint8_t *read_test_module(const char *name, size_t *size)
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
    *size = (size_t)length;
    return bytes;
}

static void test_header(void **state)
{
    (void)state;
    expect_refused((const uint8_t *)"", 0, WASM_ERR_MALFORMED, 0, "unexpected end");
    expect_refused(BYTES(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00), WASM_ERR_MALFORMED, 6,
                   "unexpected end");
    expect_refused(BYTES(0x00, 0x61, 0x73, 0x6e, 0x01, 0x00, 0x00, 0x00), WASM_ERR_MALFORMED, 0,
                   "magic header not detected");
    expect_refused(BYTES(0x00, 0x61, 0x73, 0x6d, 0x02, 0x00, 0x00, 0x00), WASM_ERR_MALFORMED, 4,
                   "unknown binary version");

    wasm_module *module = expect_loads(BYTES(HEADER));
    assert_int_equal(wasm_module_import_count(module), 0);
    assert_int_equal(wasm_module_export_count(module), 0);
    wasm_module_free(module);
}

static void test_section_framing(void **state)
{
    (void)state;
    expect_refused(BYTES(HEADER, 0x0d, 0x00), WASM_ERR_MALFORMED, 8, "malformed section id");
    /* Type section twice; function before type. */
    expect_refused(BYTES(HEADER, 0x01, 0x01, 0x00, 0x01, 0x01, 0x00), WASM_ERR_MALFORMED, 11,
                   "unexpected content after last section");
    expect_refused(BYTES(HEADER, 0x03, 0x01, 0x00, 0x01, 0x01, 0x00), WASM_ERR_MALFORMED, 11,
                   "unexpected content after last section");
    /* The size runs past the file; the content is shorter than the size. */
    expect_refused(BYTES(HEADER, 0x01, 0x05, 0x01, 0x60, 0x00, 0x00), WASM_ERR_MALFORMED, 9,
                   "length out of bounds");
    expect_refused(BYTES(HEADER, 0x01, 0x05, 0x01, 0x60, 0x00, 0x00, 0x00), WASM_ERR_MALFORMED,
                   10, "section size mismatch");
    /* Custom sections go anywhere, even between others and twice. */
    wasm_module *module = expect_loads(BYTES(HEADER, 0x00, 0x02, 0x01, 'a', ONE_FUNC, 0x00,
                                             0x01, 0x00, ONE_EMPTY_BODY, 0x00, 0x03, 0x01, 'b',
                                             0xff));
    assert_int_equal(module->func_count, 1);
    wasm_module_free(module);
    /* A custom section's name must fit in the section. */
    expect_refused(BYTES(HEADER, 0x00, 0x00, 0x05, 0x01, 0x00, 0x07, 0x00, 0x00),
                   WASM_ERR_MALFORMED, 10, "unexpected end");
}

static void test_counts_are_checked_before_allocating(void **state)
{
    (void)state;
    /* 2^32-1 types announced in a 6-byte section: refused, nothing allocated. */
    expect_refused(BYTES(HEADER, 0x01, 0x06, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x60),
                   WASM_ERR_MALFORMED, 10, "unexpected end of section or function");
    /* 2^32-1 data bytes. */
    expect_refused(BYTES(HEADER, 0x0b, 0x07, 0x01, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f),
                   WASM_ERR_MALFORMED, 12, "unexpected end of section or function");
    /* A name longer than what is left. */
    expect_refused(BYTES(HEADER, 0x07, 0x03, 0x01, 0x7f, 0x00), WASM_ERR_MALFORMED, 11,
                   "length out of bounds");
}

static void test_integers_and_names(void **state)
{
    (void)state;
    /* A section size of six bytes. */
    expect_refused(BYTES(HEADER, 0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00), WASM_ERR_MALFORMED,
                   9, "integer representation too long");
    /* A memory minimum with bits past 32. */
    expect_refused(BYTES(HEADER, 0x05, 0x07, 0x01, 0x00, 0x80, 0x80, 0x80, 0x80, 0x70),
                   WASM_ERR_MALFORMED, 12, "integer too large");
    /* Limits flags are a 1-bit integer: 2 is too large. */
    expect_refused(BYTES(HEADER, 0x05, 0x03, 0x01, 0x02, 0x00), WASM_ERR_MALFORMED, 11,
                   "integer too large");
    /* Import module name "\xc3\x28": a lead byte without its continuation. */
    expect_refused(BYTES(HEADER, 0x02, 0x08, 0x01, 0x02, 0xc3, 0x28, 0x01, 'f', 0x00, 0x00),
                   WASM_ERR_MALFORMED, 11, "malformed UTF-8 encoding");
    /* Overlong "/" and an encoded surrogate. */
    expect_refused(BYTES(HEADER, 0x00, 0x03, 0x02, 0xc0, 0xaf), WASM_ERR_MALFORMED, 10,
                   "malformed UTF-8 encoding");
    expect_refused(BYTES(HEADER, 0x00, 0x04, 0x03, 0xed, 0xa0, 0x80), WASM_ERR_MALFORMED, 10,
                   "malformed UTF-8 encoding");
    /* Import kind 4 and global mutability 2. */
    expect_refused(BYTES(HEADER, 0x02, 0x05, 0x01, 0x00, 0x00, 0x04, 0x00), WASM_ERR_MALFORMED,
                   13, "malformed import kind");
    expect_refused(BYTES(HEADER, 0x06, 0x06, 0x01, 0x7f, 0x02, 0x41, 0x00, 0x0b),
                   WASM_ERR_MALFORMED, 12, "malformed mutability");
    /* Table of i32. */
    expect_refused(BYTES(HEADER, 0x04, 0x04, 0x01, 0x7f, 0x00, 0x00), WASM_ERR_MALFORMED, 11,
                   "malformed reference type");
}

static void test_limits_validation(void **state)
{
    (void)state;
    /* Memory of 65537 pages, and a maximum of 65537. */
    expect_refused(BYTES(HEADER, 0x05, 0x05, 0x01, 0x00, 0x81, 0x80, 0x04), WASM_ERR_INVALID, 11,
                   "memory size must be at most 65536 pages (4GiB)");
    expect_refused(BYTES(HEADER, 0x05, 0x06, 0x01, 0x01, 0x00, 0x81, 0x80, 0x04),
                   WASM_ERR_INVALID, 11, "memory size must be at most 65536 pages (4GiB)");
    expect_refused(BYTES(HEADER, 0x05, 0x04, 0x01, 0x01, 0x02, 0x01), WASM_ERR_INVALID, 11,
                   "size minimum must not be greater than maximum");
    expect_refused(BYTES(HEADER, 0x04, 0x05, 0x01, 0x70, 0x01, 0x02, 0x01), WASM_ERR_INVALID, 12,
                   "size minimum must not be greater than maximum");
    expect_refused(BYTES(HEADER, 0x05, 0x05, 0x02, 0x00, 0x00, 0x00, 0x00), WASM_ERR_INVALID, 10,
                   "multiple memories");
    /* An imported memory and a defined one. */
    expect_refused(BYTES(HEADER, 0x02, 0x06, 0x01, 0x00, 0x00, 0x02, 0x00, 0x00, 0x05, 0x03,
                         0x01, 0x00, 0x00),
                   WASM_ERR_INVALID, 18, "multiple memories");
    /* 65536 pages and a table of 2^32-1 are fine. */
    wasm_module *module = expect_loads(BYTES(HEADER, 0x04, 0x08, 0x01, 0x70, 0x00, 0xff, 0xff,
                                             0xff, 0xff, 0x0f, 0x05, 0x05, 0x01, 0x00, 0x80, 0x80,
                                             0x04));
    assert_int_equal(module->memories[0].min, 65536);
    assert_int_equal(module->tables[0].limits.min, UINT32_MAX);
    wasm_module_free(module);
}

static void test_section_consistency(void **state)
{
    (void)state;
    /* Two functions declared, one body. */
    expect_refused(BYTES(HEADER, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x03, 0x02, 0x00,
                         0x00, 0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b),
                   WASM_ERR_MALFORMED, 21, "function and code section have inconsistent lengths");
    /* A function and no code section at all. */
    expect_refused(BYTES(HEADER, ONE_FUNC), WASM_ERR_MALFORMED, 18,
                   "function and code section have inconsistent lengths");
    /* Data count 2, no segments; data count 2 and no data section. */
    expect_refused(BYTES(HEADER, 0x05, 0x03, 0x01, 0x00, 0x01, 0x0c, 0x01, 0x02, 0x0b, 0x01,
                         0x00),
                   WASM_ERR_MALFORMED, 18,
                   "data count and data section have inconsistent lengths");
    expect_refused(BYTES(HEADER, 0x05, 0x03, 0x01, 0x00, 0x01, 0x0c, 0x01, 0x02),
                   WASM_ERR_MALFORMED, 16,
                   "data count and data section have inconsistent lengths");
}

static void test_constant_expressions(void **state)
{
    (void)state;
    /* i32 global initialised with i64.const. */
    expect_refused(BYTES(HEADER, 0x06, 0x06, 0x01, 0x7f, 0x00, 0x42, 0x00, 0x0b),
                   WASM_ERR_INVALID, 13, "type mismatch");
    /* Two values, and none. */
    expect_refused(BYTES(HEADER, 0x06, 0x08, 0x01, 0x7f, 0x00, 0x41, 0x00, 0x41, 0x00, 0x0b),
                   WASM_ERR_INVALID, 13, "type mismatch");
    expect_refused(BYTES(HEADER, 0x06, 0x04, 0x01, 0x7f, 0x00, 0x0b), WASM_ERR_INVALID, 13,
                   "type mismatch");
    /* i32.ctz is not constant; 0xf3 is no instruction at all. */
    expect_refused(BYTES(HEADER, 0x06, 0x07, 0x01, 0x7f, 0x00, 0x41, 0x00, 0x68, 0x0b),
                   WASM_ERR_INVALID, 15, "constant expression required");
    expect_refused(BYTES(HEADER, 0x06, 0x05, 0x01, 0x7f, 0x00, 0xf3, 0x0b), WASM_ERR_MALFORMED,
                   13, "illegal opcode");
    /* global.get of a global that is not imported. */
    expect_refused(BYTES(HEADER, 0x06, 0x06, 0x01, 0x7f, 0x00, 0x23, 0x00, 0x0b),
                   WASM_ERR_INVALID, 13, "unknown global 0");
    /* global.get of an imported mutable global. */
    expect_refused(BYTES(HEADER, 0x02, 0x06, 0x01, 0x00, 0x00, 0x03, 0x7f, 0x01, 0x06, 0x06,
                         0x01, 0x7f, 0x00, 0x23, 0x00, 0x0b),
                   WASM_ERR_INVALID, 21, "constant expression required");
    /* Reading an imported immutable global is fine, and so is ref.null / ref.func. */
    wasm_module *module = expect_loads(BYTES(HEADER, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x02,
                                             0x06, 0x01, 0x00, 0x00, 0x03, 0x7f, 0x00, 0x03, 0x02,
                                             0x01, 0x00, 0x06, 0x0b, 0x02, 0x7f, 0x00, 0x23, 0x00,
                                             0x0b, 0x70, 0x00, 0xd2, 0x00, 0x0b, ONE_EMPTY_BODY));
    assert_int_equal(module->global_count, 3);
    assert_int_equal(module->globals[0].init.op, WASM_CONST_GLOBAL_GET);
    assert_int_equal(module->globals[1].init.op, WASM_CONST_REF_FUNC);
    assert_int_equal(module->globals[1].init.value, 0);
    wasm_module_free(module);
}

static void test_malformed_wins_over_invalid(void **state)
{
    (void)state;
    /* An ill-typed global, then a bad section id: the bytes are reported first. */
    expect_refused(BYTES(HEADER, 0x06, 0x06, 0x01, 0x7f, 0x00, 0x42, 0x00, 0x0b, 0x0d, 0x00),
                   WASM_ERR_MALFORMED, 16, "malformed section id");
}

static void test_indices_and_exports(void **state)
{
    (void)state;
    /* Start function of type [i32] -> []. */
    expect_refused(BYTES(HEADER, 0x01, 0x05, 0x01, 0x60, 0x01, 0x7f, 0x00, 0x03, 0x02, 0x01,
                         0x00, 0x08, 0x01, 0x00, 0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b),
                   WASM_ERR_INVALID, 21, "start function");
    expect_refused(BYTES(HEADER, 0x08, 0x01, 0x00), WASM_ERR_INVALID, 10, "unknown function 0");
    /* Export "a" twice. */
    expect_refused(BYTES(HEADER, ONE_FUNC, 0x07, 0x09, 0x02, 0x01, 'a', 0x00, 0x00, 0x01, 'a',
                         0x00, 0x00, ONE_EMPTY_BODY),
                   WASM_ERR_INVALID, 25, "duplicate export name");
    /* Export names differing only after a NUL byte are distinct. */
    wasm_module *module = expect_loads(BYTES(HEADER, ONE_FUNC, 0x07, 0x0b, 0x02, 0x02, 'a', 0x00,
                                             0x00, 0x00, 0x02, 'a', 0x01, 0x00, 0x00,
                                             ONE_EMPTY_BODY));
    assert_int_equal(module->export_count, 2);
    assert_int_equal(module->exports[0].name_len, 2);
    wasm_module_free(module);
    expect_refused(BYTES(HEADER, 0x07, 0x05, 0x01, 0x01, 'm', 0x02, 0x00), WASM_ERR_INVALID, 14,
                   "unknown memory 0");
    expect_refused(BYTES(HEADER, 0x07, 0x05, 0x01, 0x01, 'g', 0x03, 0x01), WASM_ERR_INVALID, 14,
                   "unknown global 1");
    expect_refused(BYTES(HEADER, 0x07, 0x05, 0x01, 0x01, 'g', 0x04, 0x01), WASM_ERR_MALFORMED, 13,
                   "malformed export kind");
    /* An import of type 3 when there are none. */
    expect_refused(BYTES(HEADER, 0x02, 0x05, 0x01, 0x00, 0x00, 0x00, 0x03), WASM_ERR_INVALID, 14,
                   "unknown type 3");
}

static void test_element_segments(void **state)
{
    (void)state;
    /* Function 5 in a segment of a module with no functions. */
    expect_refused(BYTES(HEADER, 0x04, 0x04, 0x01, 0x70, 0x00, 0x01, 0x09, 0x07, 0x01, 0x00,
                         0x41, 0x00, 0x0b, 0x01, 0x05),
                   WASM_ERR_INVALID, 22, "unknown function 5");
    /* A funcref segment into an externref table. */
    expect_refused(BYTES(HEADER, 0x04, 0x04, 0x01, 0x6f, 0x00, 0x01, 0x09, 0x06, 0x01, 0x00,
                         0x41, 0x00, 0x0b, 0x00),
                   WASM_ERR_INVALID, 17, "type mismatch");
    /* No table at all. */
    expect_refused(BYTES(HEADER, 0x09, 0x06, 0x01, 0x00, 0x41, 0x00, 0x0b, 0x00),
                   WASM_ERR_INVALID, 11, "unknown table 0");
    /* Segment kind 8; element kind 1. */
    expect_refused(BYTES(HEADER, 0x09, 0x02, 0x01, 0x08), WASM_ERR_MALFORMED, 11,
                   "malformed elements segment kind");
    expect_refused(BYTES(HEADER, 0x09, 0x04, 0x01, 0x01, 0x01, 0x00), WASM_ERR_MALFORMED, 12,
                   "malformed element kind");
    /* Encoding 7: declarative, expressions with an explicit type. */
    wasm_module *module = expect_loads(BYTES(HEADER, ONE_FUNC, 0x09, 0x07, 0x01, 0x07, 0x70,
                                             0x01, 0xd2, 0x00, 0x0b, ONE_EMPTY_BODY));
    assert_int_equal(module->elems[0].mode, WASM_SEGMENT_DECLARATIVE);
    assert_int_equal(module->elems[0].elem_type, WASM_FUNCREF);
    assert_int_equal(module->elems[0].items[0].op, WASM_CONST_REF_FUNC);
    assert_int_equal(module->func_declared[0], 1);
    wasm_module_free(module);
    /* An offset of type i64. */
    expect_refused(BYTES(HEADER, 0x04, 0x04, 0x01, 0x70, 0x00, 0x01, 0x09, 0x06, 0x01, 0x00,
                         0x42, 0x00, 0x0b, 0x00),
                   WASM_ERR_INVALID, 18, "type mismatch");
}

static void test_data_segments(void **state)
{
    (void)state;
    expect_refused(BYTES(HEADER, 0x0b, 0x07, 0x01, 0x00, 0x41, 0x00, 0x0b, 0x01, 'x'),
                   WASM_ERR_INVALID, 11, "unknown memory 0");
    expect_refused(BYTES(HEADER, 0x0b, 0x03, 0x01, 0x03, 0x00), WASM_ERR_MALFORMED, 11,
                   "malformed data segment kind");
    /* The bytes of a segment run past its section's data. */
    expect_refused(BYTES(HEADER, 0x05, 0x03, 0x01, 0x00, 0x01, 0x0b, 0x08, 0x01, 0x00, 0x41,
                         0x00, 0x0b, 0x05, 'a', 'b'),
                   WASM_ERR_MALFORMED, 20, "unexpected end of section or function");
}

static void test_function_bodies(void **state)
{
    (void)state;
    /* 65535 + 1 locals. */
    expect_refused(BYTES(HEADER, ONE_FUNC, 0x0a, 0x0a, 0x01, 0x08, 0x02, 0xff, 0xff, 0x03, 0x7f,
                         0x01, 0x7e, 0x0b),
                   WASM_ERR_MALFORMED, 22, "too many locals");
    /* 2^32-1 + 1 locals. */
    expect_refused(BYTES(HEADER, ONE_FUNC, 0x0a, 0x0c, 0x01, 0x0a, 0x02, 0xff, 0xff, 0xff, 0xff,
                         0x0f, 0x7f, 0x01, 0x7e, 0x0b),
                   WASM_ERR_MALFORMED, 22, "too many locals");
    /* A body without its final `end`, last in the file, then followed by more. */
    expect_refused(BYTES(HEADER, ONE_FUNC, 0x0a, 0x05, 0x01, 0x03, 0x00, 0x41, 0x00),
                   WASM_ERR_MALFORMED, 25, "unexpected end");
    expect_refused(BYTES(HEADER, ONE_FUNC, 0x0a, 0x05, 0x01, 0x03, 0x00, 0x01, 0x01, 0x00, 0x01,
                         0x00),
                   WASM_ERR_MALFORMED, 24, "END opcode expected");
    /* Body size past the section. */
    expect_refused(BYTES(HEADER, ONE_FUNC, 0x0a, 0x04, 0x01, 0x09, 0x00, 0x0b),
                   WASM_ERR_MALFORMED, 21, "unexpected end of section or function");

    /* Locals are expanded, and the body is located. */
    wasm_module *module = expect_loads(BYTES(HEADER, ONE_FUNC, 0x0a, 0x09, 0x01, 0x07, 0x02,
                                             0x02, 0x7f, 0x01, 0x7c, 0x01, 0x0b));
    const wasm_code *code = &module->codes[0];
    assert_int_equal(code->local_count, 3);
    assert_memory_equal(code->local_types, ((uint8_t[]){0x7f, 0x7f, 0x7c}), 3);
    assert_int_equal(code->body_offset, 27);
    assert_int_equal(code->body_end, 29);
    wasm_module_free(module);
}

static void test_segment_encodings(void **state)
{
    (void)state;
    size_t size;
    uint8_t *bytes = read_test_module("decode_segments", &size);
    wasm_module *module = expect_loads(bytes, size);
    assert_int_equal(module->elem_count, 8);

    static const struct {
        wasm_segment_mode mode;
        uint8_t type;
        uint32_t table;
        uint32_t items;
        wasm_const_op first;
    } want[8] = {
        {WASM_SEGMENT_ACTIVE, WASM_FUNCREF, 0, 1, WASM_CONST_REF_FUNC},
        {WASM_SEGMENT_PASSIVE, WASM_FUNCREF, 0, 2, WASM_CONST_REF_FUNC},
        {WASM_SEGMENT_ACTIVE, WASM_FUNCREF, 2, 1, WASM_CONST_REF_FUNC},
        {WASM_SEGMENT_DECLARATIVE, WASM_FUNCREF, 0, 1, WASM_CONST_REF_FUNC},
        {WASM_SEGMENT_ACTIVE, WASM_FUNCREF, 0, 2, WASM_CONST_REF_NULL},
        {WASM_SEGMENT_PASSIVE, WASM_EXTERNREF, 0, 1, WASM_CONST_REF_NULL},
        {WASM_SEGMENT_ACTIVE, WASM_EXTERNREF, 1, 1, WASM_CONST_REF_NULL},
        {WASM_SEGMENT_DECLARATIVE, WASM_FUNCREF, 0, 1, WASM_CONST_REF_FUNC},
    };
    for (int i = 0; i < 8; i++) {
        const wasm_elem_segment *segment = &module->elems[i];
        assert_int_equal(segment->mode, want[i].mode);
        assert_int_equal(segment->elem_type, want[i].type);
        assert_int_equal(segment->item_count, want[i].items);
        assert_int_equal(segment->items[0].op, want[i].first);
        if (segment->mode == WASM_SEGMENT_ACTIVE)
            assert_int_equal(segment->table_index, want[i].table);
    }
    assert_int_equal(module->elems[0].offset.value, 0);
    assert_int_equal(module->elems[2].offset.value, 1);
    assert_int_equal(module->elems[4].items[1].op, WASM_CONST_REF_FUNC);

    assert_int_equal(module->data_count, 3);
    assert_int_equal(module->datas[0].mode, WASM_SEGMENT_ACTIVE);
    assert_int_equal(module->datas[0].offset.value, 8);
    assert_int_equal(module->datas[0].size, 2);
    assert_memory_equal(module->bytes + module->datas[0].bytes_offset, "ab", 2);
    assert_int_equal(module->datas[1].mode, WASM_SEGMENT_PASSIVE);
    assert_memory_equal(module->bytes + module->datas[1].bytes_offset, "passive", 7);
    assert_int_equal(module->datas[2].mode, WASM_SEGMENT_ACTIVE);
    assert_int_equal(module->datas[2].offset.op, WASM_CONST_GLOBAL_GET);

    /* C.refs: functions named by exports, segments and globals may be ref.func'ed. */
    assert_int_equal(module->func_count, 5);
    assert_int_equal(module->func_declared[0], 1);     /* element segments */
    assert_int_equal(module->func_declared[1], 1);     /* a global's initialiser */
    assert_int_equal(module->func_declared[2], 1);     /* an export */
    assert_int_equal(module->func_declared[3], 0);     /* only called */
    assert_int_equal(module->func_declared[4], 0);
    wasm_module_free(module);
    free(bytes);
}

static void assert_functype(wasm_functype_view view, const char *params, const char *results)
{
    assert_int_equal(view.param_count, strlen(params));
    assert_int_equal(view.result_count, strlen(results));
    assert_memory_equal(view.params, params, view.param_count);
    assert_memory_equal(view.results, results, view.result_count);
}

static void test_import_and_export_listing(void **state)
{
    (void)state;
    size_t size;
    uint8_t *bytes = read_test_module("decode_externs", &size);
    wasm_module *module = expect_loads(bytes, size);
    wasm_extern_info info;

    assert_int_equal(wasm_module_import_count(module), 4);
    assert_true(wasm_module_import(module, 0, &info));
    assert_string_equal(info.module, "env");
    assert_string_equal(info.name, "print");
    assert_int_equal(info.kind, WASM_EXTERN_FUNC);
    assert_functype(info.func, "\x7f\x7c", "\x7e");
    assert_true(wasm_module_import(module, 1, &info));
    assert_int_equal(info.kind, WASM_EXTERN_TABLE);
    assert_int_equal(info.table_elem_type, WASM_FUNCREF);
    assert_int_equal(info.limits.min, 1);
    assert_true(info.limits.has_max);
    assert_int_equal(info.limits.max, 8);
    assert_true(wasm_module_import(module, 2, &info));
    assert_int_equal(info.kind, WASM_EXTERN_MEMORY);
    assert_int_equal(info.limits.min, 2);
    assert_false(info.limits.has_max);
    assert_true(wasm_module_import(module, 3, &info));
    assert_string_equal(info.name, "flag");
    assert_int_equal(info.kind, WASM_EXTERN_GLOBAL);
    assert_int_equal(info.global_type, WASM_I32);
    assert_true(info.global_mutable);
    assert_false(wasm_module_import(module, 4, &info));

    assert_int_equal(wasm_module_export_count(module), 5);
    const char *names[5] = {"run", "tab", "pi", "mem", "print_again"};
    for (uint32_t i = 0; i < 5; i++) {
        assert_true(wasm_module_export(module, i, &info));
        assert_string_equal(info.name, names[i]);
        assert_null(info.module);
    }
    wasm_module_export(module, 0, &info);
    assert_functype(info.func, "\x7e", "");
    wasm_module_export(module, 1, &info);
    assert_int_equal(info.kind, WASM_EXTERN_TABLE);
    assert_int_equal(info.table_elem_type, WASM_EXTERNREF);
    assert_int_equal(info.limits.min, 3);
    wasm_module_export(module, 2, &info);
    assert_int_equal(info.global_type, WASM_F32);
    assert_false(info.global_mutable);
    wasm_module_export(module, 3, &info);
    assert_int_equal(info.kind, WASM_EXTERN_MEMORY);
    wasm_module_export(module, 4, &info);
    assert_functype(info.func, "\x7f\x7c", "\x7e");     /* re-exported import */
    assert_false(wasm_module_export(module, 5, &info));

    uint8_t digest[32];
    wasm_sha256(bytes, size, digest);
    assert_memory_equal(wasm_module_sha256(module), digest, 32);
    wasm_module_free(module);
    free(bytes);
}

/* Every prefix and many one-byte changes of a real module: refused cleanly or
 * loaded, never a crash (the sanitizer build checks the reads). */
static void test_damaged_modules_never_crash(void **state)
{
    (void)state;
    size_t size;
    uint8_t *bytes = read_test_module("decode_segments", &size);
    wasm_module *module = expect_loads(bytes, size);
    wasm_module_free(module);
    wasm_error err;
    for (size_t cut = 0; cut < size; cut++) {
        module = wasm_module_load(bytes, cut, &err);
        if (module) {
            wasm_module_free(module);
            continue;
        }
        assert_true(err.kind == WASM_ERR_MALFORMED || err.kind == WASM_ERR_INVALID);
        assert_true(err.has_offset && err.offset <= cut);
    }
    uint8_t *copy = malloc(size);
    assert_non_null(copy);
    static const uint8_t replacements[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0x0b, 0x41, 0x60};
    for (size_t at = 8; at < size; at++) {
        for (size_t r = 0; r < sizeof replacements; r++) {
            memcpy(copy, bytes, size);
            copy[at] = replacements[r];
            module = wasm_module_load(copy, size, &err);
            if (module)
                wasm_module_free(module);
            else
                assert_true(!err.has_offset || err.offset <= size);
        }
    }
    free(copy);
    free(bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_section_framing),
        cmocka_unit_test(test_counts_are_checked_before_allocating),
        cmocka_unit_test(test_integers_and_names),
        cmocka_unit_test(test_limits_validation),
        cmocka_unit_test(test_section_consistency),
        cmocka_unit_test(test_constant_expressions),
        cmocka_unit_test(test_malformed_wins_over_invalid),
        cmocka_unit_test(test_indices_and_exports),
        cmocka_unit_test(test_element_segments),
        cmocka_unit_test(test_data_segments),
        cmocka_unit_test(test_function_bodies),
        cmocka_unit_test(test_segment_encodings),
        cmocka_unit_test(test_import_and_export_listing),
        cmocka_unit_test(test_damaged_modules_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
