/*
 * test_exec_portable.c — the portable interpreter (LIQUID_WASM_PORTABLE_DISPATCH:
 * a switch instead of computed goto, for compilers without labels as values) is
 * built here from the same source, and must give the same results.
 *
 * The library's compiler writes handler offsets for the computed-goto build; this
 * test rewrites each instruction's first word into the opcode the switch expects
 * (walking the code with the instruction lengths), then runs exported functions
 * with both interpreters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#define LIQUID_WASM_PORTABLE_DISPATCH 1
#define wasm_interp_run portable_interp_run
#define wasm_interp_handler portable_interp_handler
#include "../../src/wasm/interp.c"
#undef wasm_interp_run
#undef wasm_interp_handler

#include "test_exec_helpers.h"
#include "wasm/runtime.h"

wasm_status wasm_interp_run(wasm_exec *exec);
wasm_iword wasm_interp_handler(enum wasm_interp_op op);

/* The length in words of the instruction at code[pos] (op already decoded). */
static uint32_t instruction_length(enum wasm_interp_op op, const wasm_iword *at)
{
    switch (op) {
#define SIMPLE_LENGTH(name, length) case WASM_OP_##name: return length;
        WASM_INTERP_SIMPLE_OPS(SIMPLE_LENGTH)
        WASM_INTERP_BRANCH_OPS(SIMPLE_LENGTH)
#undef SIMPLE_LENGTH
#define PAIR_LENGTH(a, b) case WASM_OP_##a##__##b: return LENGTH_##a + LENGTH_##b - 1;
        WASM_INTERP_PAIRS(PAIR_LENGTH)
#undef PAIR_LENGTH
#define CHAIN_LENGTH(a, b, k) \
    case WASM_OP_##a##__##b##__chain##k: return LENGTH_##a + LENGTH_##b - 1;
        WASM_INTERP_CHAINS(CHAIN_LENGTH)
#undef CHAIN_LENGTH
    case WASM_OP_unreachable: case WASM_OP_return0: return 1;
    case WASM_OP_entry: case WASM_OP_loop: case WASM_OP_memory_size: case WASM_OP_data_drop:
    case WASM_OP_elem_drop: return 2;
    case WASM_OP_call_import: case WASM_OP_memory_grow: case WASM_OP_table_size:
    case WASM_OP_ref_func: return 3;
    case WASM_OP_memory_fill: case WASM_OP_memory_copy: case WASM_OP_table_get:
    case WASM_OP_table_set: return 4;
    case WASM_OP_call_indirect: case WASM_OP_memory_init: case WASM_OP_table_grow:
    case WASM_OP_table_fill: return 5;
    case WASM_OP_table_copy: case WASM_OP_table_init: return 6;
    case WASM_OP_br_table: return 3 + at[2] + 1;
    case WASM_OP_return_n: return 2 + at[1];
    default: break;
    }
    fail_msg("no length for opcode %d", (int)op);
    return 1;
}

/* Rewrites every function of the module for the portable interpreter. */
static void make_portable(wasm_module *module)
{
    static wasm_iword offsets[WASM_OP_COUNT];
    for (int op = 0; op < WASM_OP_COUNT; op++)
        offsets[op] = wasm_interp_handler((enum wasm_interp_op)op);
    for (uint32_t d = 0; d < module->func_count - module->func_import_count; d++) {
        struct wasm_code_compiled *code = module->codes[d].compiled;
        for (uint32_t pos = 0; pos < code->code_size;) {
            int op = -1;
            for (int k = 0; k < WASM_OP_COUNT && op < 0; k++)
                if (offsets[k] == code->code[pos])
                    op = k;
            if (op < 0)
                fail_msg("function %u: no handler at %u", code->func_index, pos);
            code->code[pos] = portable_interp_handler((enum wasm_interp_op)op);
            pos += instruction_length((enum wasm_interp_op)op, code->code + pos);
        }
    }
}

/* wasm_exec_call, with the portable interpreter. */
static wasm_status call_portable(wasm_exec *exec, wasm_func *func, const wasm_value *args,
                                 uint32_t count)
{
    const struct wasm_code_compiled *code = func->code->compiled;
    for (uint32_t i = 0; i < count; i++)
        exec->stack[i] = wasm_value_to_slot(&args[i]);
    exec->call_type = func->type;
    exec->frames[0].code = code;
    exec->frames[0].instance = func->instance;
    exec->frames[0].fp = exec->stack;
    exec->frames[0].pc = code->code;
    wasm_frame_init(exec->stack, code);
    exec->depth = 1;
    exec->status = portable_interp_run(exec);
    exec->has_results = exec->status == WASM_STATUS_OK;
    return exec->status;
}

static int add_one(wasm_host_call *call, const wasm_slot *args, wasm_slot *results, void *user)
{
    (void)call;
    (void)user;
    results[0] = (uint32_t)args[0] + 1;
    return 0;
}

static int swap(wasm_host_call *call, const wasm_slot *args, wasm_slot *results, void *user)
{
    (void)call;
    (void)user;
    results[0] = args[1];
    results[1] = args[0];
    return 0;
}

static void test_handler_words_are_opcodes(void **state)
{
    (void)state;
    assert_int_equal(portable_interp_handler(WASM_OP_copy), WASM_OP_copy);
    assert_int_equal(portable_interp_handler(WASM_OP_i32_add__i32_add),
                     WASM_OP_i32_add__i32_add);
}

static void test_same_results_as_computed_goto(void **state)
{
    (void)state;
    wasm_error err;
    wasm_store *store = wasm_store_new();
    wasm_linker *linker = wasm_linker_new(store);
    assert_true(wasm_linker_define_func(linker, "host", "add_one", "i", "i", add_one, NULL, &err));
    assert_true(wasm_linker_define_func(linker, "host", "swap", "IF", "FI", swap, NULL, &err));
    wasm_module *fast_module = load_wat_module("exec_basic");
    wasm_module *portable_module = load_wat_module("exec_basic");
    make_portable(portable_module);
    wasm_instance *fast = instantiate_or_fail(store, fast_module, linker, NULL);
    wasm_instance *portable = instantiate_or_fail(store, portable_module, linker, NULL);
    wasm_exec *exec = wasm_exec_new(store, NULL);

    static const struct {
        const char *name;
        uint32_t argc;
        uint32_t args[2];
    } calls[] = {
        {"fib", 1, {20, 0}},          {"sum_squares", 1, {5000, 0}},
        {"memory_roundtrip", 1, {64, 0}}, {"apply", 2, {0, 9}},
        {"apply", 2, {2, 12}},        {"divmod", 2, {1000, 7}},
        {"pick", 1, {0, 0}},          {"pick", 1, {1, 0}},
        {"via_host", 1, {41, 0}},     {"old_value_kept", 1, {3, 0}},
        {"bump", 0, {0, 0}},          {"grow", 1, {1, 0}},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        wasm_value args[2] = {i32_value(calls[i].args[0]), i32_value(calls[i].args[1])};
        wasm_value want[2], got[2];
        uint32_t n = call_ok(exec, fast, calls[i].name, args, calls[i].argc, want, 2);
        assert_int_equal(call_portable(exec, export_or_fail(portable, calls[i].name), args,
                                       calls[i].argc), WASM_STATUS_OK);
        assert_int_equal(wasm_exec_results(exec, got, 2), n);
        for (uint32_t k = 0; k < n; k++)
            if (want[k].of.i64 != got[k].of.i64)
                fail_msg("%s: result %u differs", calls[i].name, k);
    }

    /* traps carry the same location */
    wasm_value zero = i32_value(0), seven = i32_value(7);
    wasm_value bad[2] = {zero, seven};
    assert_int_equal(wasm_exec_call(exec, export_or_fail(fast, "divmod"), bad, 2), WASM_STATUS_OK);
    bad[1] = zero;
    assert_int_equal(wasm_exec_call(exec, export_or_fail(fast, "divmod"), bad, 2),
                     WASM_STATUS_TRAP);
    wasm_trap expected = *wasm_exec_trap(exec);
    assert_int_equal(call_portable(exec, export_or_fail(portable, "divmod"), bad, 2),
                     WASM_STATUS_TRAP);
    assert_int_equal(wasm_exec_trap(exec)->kind, expected.kind);
    assert_int_equal(wasm_exec_trap(exec)->offset, expected.offset);

    wasm_exec_free(exec);
    wasm_linker_free(linker);
    wasm_store_free(store);
    wasm_module_free(fast_module);
    wasm_module_free(portable_module);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handler_words_are_opcodes),
        cmocka_unit_test(test_same_results_as_computed_goto),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
