/*
 * test_exec_traps.c — every kind of trap a program can cause: its kind, the spec's
 * message, the function it happened in and the byte offset of the instruction in
 * the module binary; and that the exec is usable again afterwards.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_exec_helpers.h"

typedef struct fixture {
    wasm_store *store;
    wasm_module *module;
    wasm_linker *linker;
    wasm_instance *instance;
    wasm_exec *exec;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->store = wasm_store_new();
    f->module = load_wat_module("exec_traps");
    f->linker = wasm_linker_new(f->store);
    f->instance = instantiate_or_fail(f->store, f->module, f->linker, NULL);
    wasm_exec_limits limits = {.max_call_depth = 500};
    f->exec = wasm_exec_new(f->store, &limits);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    wasm_exec_free(f->exec);
    wasm_linker_free(f->linker);
    wasm_store_free(f->store);
    wasm_module_free(f->module);
    free(f);
    return 0;
}

/* Where the first occurrence of an instruction's encoding is in a function's body:
 * the test functions are written so that it is the trapping instruction. */
static uint32_t instruction_offset(const wasm_module *module, uint32_t func_index,
                                   const uint8_t *encoding, size_t length)
{
    const wasm_code *code = &module->codes[func_index - module->func_import_count];
    for (uint32_t at = code->body_offset; at + length <= code->body_end; at++)
        if (!memcmp(module->bytes + at, encoding, length))
            return at;
    fail_msg("instruction not found in function %u", func_index);
    return 0;
}

/* Calls `name` and checks the trap: kind, message, function and offset. */
static void expect_trap(fixture *f, const char *name, const wasm_value *args, uint32_t count,
                        wasm_trap_kind kind, const char *message, int func_delta,
                        const uint8_t *encoding, size_t length)
{
    wasm_func *func = export_or_fail(f->instance, name);
    wasm_status status = wasm_exec_call(f->exec, func, args, count);
    if (status != WASM_STATUS_TRAP)
        fail_msg("%s: status %d, expected a trap", name, status);
    const wasm_trap *trap = wasm_exec_trap(f->exec);
    if (trap->kind != kind)
        fail_msg("%s: trap %s (%s), expected %s", name, wasm_trap_kind_name(trap->kind),
                 trap->message, wasm_trap_kind_name(kind));
    if (strcmp(trap->message, message))
        fail_msg("%s: message \"%s\", expected \"%s\"", name, trap->message, message);
    assert_true(trap->has_location);
    uint32_t where = func->index + (uint32_t)func_delta;
    assert_int_equal(trap->func_index, where);
    assert_int_equal(trap->offset, instruction_offset(f->module, where, encoding, length));
    assert_false(wasm_exec_resumable(f->exec));
    assert_int_equal(wasm_exec_results(f->exec, NULL, 0), 0);
}

#define OP(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static void test_unreachable(void **state)
{
    expect_trap(*state, "unreachable", NULL, 0, WASM_TRAP_UNREACHABLE, "unreachable", 0, OP(0x00));
}

static void test_integer_division(void **state)
{
    wasm_value zero32 = i32_value(0), zero64 = i64_value(0);
    expect_trap(*state, "div_by_zero", &zero32, 1, WASM_TRAP_INTEGER_DIVIDE_BY_ZERO,
                "integer divide by zero", 0, OP(0x6d));
    expect_trap(*state, "rem_by_zero", &zero64, 1, WASM_TRAP_INTEGER_DIVIDE_BY_ZERO,
                "integer divide by zero", 0, OP(0x82));
    expect_trap(*state, "overflow", NULL, 0, WASM_TRAP_INTEGER_OVERFLOW, "integer overflow", 0,
                OP(0x6d));
}

static void test_float_to_int(void **state)
{
    wasm_value nan = f64_value(0.0 / 0.0), big = f64_value(3e9);
    expect_trap(*state, "bad_conversion", &nan, 1, WASM_TRAP_INVALID_CONVERSION,
                "invalid conversion to integer", 0, OP(0xaa));
    expect_trap(*state, "bad_conversion", &big, 1, WASM_TRAP_INTEGER_OVERFLOW,
                "integer overflow", 0, OP(0xaa));
    expect_trap(*state, "conversion_overflow", NULL, 0, WASM_TRAP_INTEGER_OVERFLOW,
                "integer overflow", 0, OP(0xaf));
}

static void test_memory_bounds(void **state)
{
    fixture *f = *state;
    /* the last 4 bytes of the page are in bounds: 65524 + offset 8 */
    wasm_value last = i32_value(65524), past = i32_value(65525), huge = i32_value(0xfffffffc);
    assert_int_equal(call_i32(f->exec, f->instance, "load_oob", &last, 1), 0);
    expect_trap(f, "load_oob", &past, 1, WASM_TRAP_MEMORY_OUT_OF_BOUNDS,
                "out of bounds memory access", 0, OP(0x28));
    /* address + offset does not wrap around 32 bits */
    expect_trap(f, "load_oob", &huge, 1, WASM_TRAP_MEMORY_OUT_OF_BOUNDS,
                "out of bounds memory access", 0, OP(0x28));
    wasm_value store_at = i32_value(65529);
    expect_trap(f, "store_oob", &store_at, 1, WASM_TRAP_MEMORY_OUT_OF_BOUNDS,
                "out of bounds memory access", 0, OP(0x37));
    expect_trap(f, "fill_oob", NULL, 0, WASM_TRAP_MEMORY_OUT_OF_BOUNDS,
                "out of bounds memory access", 0, OP(0xfc, 0x0b));
}

static void test_tables_and_indirect_calls(void **state)
{
    expect_trap(*state, "undefined_element", NULL, 0, WASM_TRAP_TABLE_OUT_OF_BOUNDS,
                "undefined element", 0, OP(0x11));
    expect_trap(*state, "uninitialized", NULL, 0, WASM_TRAP_UNINITIALIZED_ELEMENT,
                "uninitialized element", 0, OP(0x11));
    expect_trap(*state, "type_mismatch", NULL, 0, WASM_TRAP_INDIRECT_CALL_TYPE_MISMATCH,
                "indirect call type mismatch", 0, OP(0x11));
    expect_trap(*state, "table_oob", NULL, 0, WASM_TRAP_TABLE_OUT_OF_BOUNDS,
                "out of bounds table access", 0, OP(0x25));
}

static void test_call_stack_exhaustion(void **state)
{
    fixture *f = *state;
    wasm_value zero = i32_value(0);
    expect_trap(f, "recurse", &zero, 1, WASM_TRAP_STACK_EXHAUSTED, "call stack exhausted", 0,
                OP(0x10));
    /* after unwinding 500 frames, the exec runs again */
    wasm_value address = i32_value(0);
    assert_int_equal(call_i32(f->exec, f->instance, "load_oob", &address, 1), 0);
}

static void test_trap_in_a_callee_reports_the_callee(void **state)
{
    /* $inner is defined right after "nested" */
    expect_trap(*state, "nested", NULL, 0, WASM_TRAP_INTEGER_DIVIDE_BY_ZERO,
                "integer divide by zero", 1, OP(0x6e));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unreachable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_integer_division, setup, teardown),
        cmocka_unit_test_setup_teardown(test_float_to_int, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tables_and_indirect_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_stack_exhaustion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trap_in_a_callee_reports_the_callee, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
