/*
 * test_exec_basic.c — calling Wasm functions: results of arithmetic, recursion,
 * loops, memory, globals, indirect calls, multi-value blocks, host imports, calls
 * between instances, and the refusal of badly typed arguments.
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
    int host_calls;
} fixture;

static int host_add_one(wasm_host_call *call, const wasm_slot *args, wasm_slot *results,
                        void *user)
{
    (void)call;
    fixture *f = user;
    f->host_calls++;
    results[0] = (uint32_t)args[0] + 1;
    return 0;
}

static int host_swap(wasm_host_call *call, const wasm_slot *args, wasm_slot *results, void *user)
{
    (void)call;
    (void)user;
    results[0] = args[1];
    results[1] = args[0];
    return 0;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    wasm_error err;
    f->store = wasm_store_new();
    f->module = load_wat_module("exec_basic");
    f->linker = wasm_linker_new(f->store);
    assert_true(wasm_linker_define_func(f->linker, "host", "add_one", "i", "i", host_add_one, f,
                                        &err));
    assert_true(wasm_linker_define_func(f->linker, "host", "swap", "IF", "FI", host_swap, f, &err));
    f->instance = instantiate_or_fail(f->store, f->module, f->linker, NULL);
    f->exec = wasm_exec_new(f->store, NULL);
    assert_non_null(f->exec);
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

static uint32_t fib(uint32_t n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static void test_recursion(void **state)
{
    fixture *f = *state;
    for (uint32_t n = 0; n < 22; n += 3) {
        wasm_value arg = i32_value(n);
        assert_int_equal(call_i32(f->exec, f->instance, "fib", &arg, 1), fib(n));
    }
}

static void test_loop_with_i64_accumulator(void **state)
{
    fixture *f = *state;
    uint32_t n = 100000;
    uint64_t expected = 0;
    for (uint64_t i = 0; i < n; i++)
        expected += (uint64_t)(uint32_t)(i * i);
    wasm_value arg = i32_value(n), result;
    assert_int_equal(call_ok(f->exec, f->instance, "sum_squares", &arg, 1, &result, 1), 1);
    assert_int_equal(result.type, WASM_I64);
    assert_true(result.of.i64 == expected);
}

static void test_memory_bytes_and_words(void **state)
{
    fixture *f = *state;
    uint32_t n = 64, expected = 0;
    for (uint32_t i = 0; i < n; i += 4)
        expected += i | (i + 1) << 8 | (i + 2) << 16 | (uint32_t)(i + 3) << 24;
    wasm_value arg = i32_value(n);
    assert_int_equal(call_i32(f->exec, f->instance, "memory_roundtrip", &arg, 1), expected);
    uint64_t size;
    uint8_t *memory = wasm_instance_memory(f->instance, &size);
    assert_int_equal(size, WASM_PAGE_SIZE);
    assert_int_equal(memory[100 + 37], 37);
}

static void test_memory_grow_up_to_the_module_maximum(void **state)
{
    fixture *f = *state;
    assert_int_equal(call_i32(f->exec, f->instance, "size", NULL, 0), 1);
    wasm_value two = i32_value(2);
    assert_int_equal(call_i32(f->exec, f->instance, "grow", &two, 1), 1);
    assert_int_equal(call_i32(f->exec, f->instance, "size", NULL, 0), 3);
    /* past the module's own maximum of 4 pages: -1, not a trap */
    assert_int_equal(call_i32(f->exec, f->instance, "grow", &two, 1), (uint32_t)-1);
    assert_int_equal(call_i32(f->exec, f->instance, "size", NULL, 0), 3);
}

static void test_globals_persist_between_calls(void **state)
{
    fixture *f = *state;
    for (uint32_t i = 1; i <= 3; i++)
        assert_int_equal(call_i32(f->exec, f->instance, "bump", NULL, 0), i);
    wasm_value answer;
    assert_true(wasm_instance_export_global(f->instance, "answer", &answer));
    assert_int_equal(answer.of.i32, 42);
}

static void test_indirect_calls(void **state)
{
    fixture *f = *state;
    wasm_value args[2] = {i32_value(0), i32_value(7)};
    assert_int_equal(call_i32(f->exec, f->instance, "apply", args, 2), 49);
    args[0] = i32_value(1);
    assert_int_equal(call_i32(f->exec, f->instance, "apply", args, 2), (uint32_t)-7);
    args[0] = i32_value(2);
    args[1] = i32_value(10);
    assert_int_equal(call_i32(f->exec, f->instance, "apply", args, 2), fib(10));
}

static void test_multi_value(void **state)
{
    fixture *f = *state;
    wasm_value args[2] = {i32_value(17), i32_value(5)}, results[2];
    assert_int_equal(call_ok(f->exec, f->instance, "divmod", args, 2, results, 2), 2);
    assert_int_equal(results[0].of.i32, 17 / 5);
    assert_int_equal(results[1].of.i32, 17 % 5);

    const uint32_t expected[3][2] = {{1, 2}, {10, 20}, {10, 20}};
    for (uint32_t k = 0; k < 3; k++) {
        wasm_value arg = i32_value(k == 2 ? 9 : k);
        assert_int_equal(call_ok(f->exec, f->instance, "pick", &arg, 1, results, 2), 2);
        assert_int_equal(results[0].of.i32, expected[k][0]);
        assert_int_equal(results[1].of.i32, expected[k][1]);
    }
}

static void test_host_functions(void **state)
{
    fixture *f = *state;
    wasm_value arg = i32_value(5);
    assert_int_equal(call_i32(f->exec, f->instance, "via_host", &arg, 1), (5 + 1) * 2);
    assert_int_equal(f->host_calls, 1);

    wasm_value args[2] = {i64_value(7), f64_value(2.5)}, results[2];
    assert_int_equal(call_ok(f->exec, f->instance, "swap_via_host", args, 2, results, 2), 2);
    assert_int_equal(results[0].type, WASM_F64);
    assert_true(results[0].of.f64_bits == args[1].of.f64_bits);
    assert_int_equal(results[1].type, WASM_I64);
    assert_true(results[1].of.i64 == 7);
}

static void test_floats_and_select(void **state)
{
    fixture *f = *state;
    wasm_value args[2] = {{.type = WASM_F32}, {.type = WASM_F32}}, result;
    float a = 2.0f, b = 4.0f, r;
    memcpy(&args[0].of.f32_bits, &a, 4);
    memcpy(&args[1].of.f32_bits, &b, 4);
    assert_int_equal(call_ok(f->exec, f->instance, "f32_ops", args, 2, &result, 1), 1);
    memcpy(&r, &result.of.f32_bits, 4);
    assert_true(r == a * b + 2.0f);

    wasm_value ints[2] = {i64_value((uint64_t)-5), i64_value(3)};
    assert_int_equal(call_ok(f->exec, f->instance, "select_max", ints, 2, &result, 1), 1);
    assert_true(result.of.i64 == 3);
}

static void test_overwritten_local_keeps_pushed_value(void **state)
{
    fixture *f = *state;
    wasm_value arg = i32_value(7);
    assert_int_equal(call_i32(f->exec, f->instance, "old_value_kept", &arg, 1), (uint32_t)(7 - 1000));
}

static void test_bad_arguments_are_refused(void **state)
{
    fixture *f = *state;
    wasm_func *fib_func = export_or_fail(f->instance, "fib");
    assert_int_equal(wasm_exec_call(f->exec, fib_func, NULL, 0), WASM_STATUS_TRAP);
    assert_int_equal(wasm_exec_trap(f->exec)->kind, WASM_TRAP_HOST);
    assert_non_null(strstr(wasm_exec_trap(f->exec)->message, "takes 1 arguments, 0 given"));
    assert_false(wasm_exec_resumable(f->exec));

    wasm_value wrong = i64_value(3);
    assert_int_equal(wasm_exec_call(f->exec, fib_func, &wrong, 1), WASM_STATUS_TRAP);
    assert_non_null(strstr(wasm_exec_trap(f->exec)->message, "argument 0 is i64"));

    /* the exec is still usable */
    wasm_value right = i32_value(10);
    assert_int_equal(call_i32(f->exec, f->instance, "fib", &right, 1), 55);
}

static void test_calls_between_instances(void **state)
{
    (void)state;
    wasm_error err;
    wasm_store *store = wasm_store_new();
    wasm_module *callee_module = load_wat_module("exec_callee");
    wasm_module *caller_module = load_wat_module("exec_caller");
    wasm_linker *linker = wasm_linker_new(store);
    wasm_instance *callee = instantiate_or_fail(store, callee_module, linker, NULL);
    assert_true(wasm_linker_define_instance(linker, "callee", callee, &err));
    wasm_instance *caller = instantiate_or_fail(store, caller_module, linker, NULL);
    wasm_exec *exec = wasm_exec_new(store, NULL);

    wasm_value arg = i32_value(5);
    /* callee counts 2 stores; caller adds what it reads back (5) and its own global (7) */
    assert_int_equal(call_i32(exec, caller, "twice", &arg, 1), 2 + 5 + 7);
    assert_int_equal(call_i32(exec, caller, "twice", &arg, 1), 4 + 5 + 7);
    /* the callee grows the memory both share: the caller uses the new page at once */
    assert_int_equal(call_i32(exec, caller, "grow_then_touch", NULL, 0), 2 + 5);

    wasm_exec_free(exec);
    wasm_linker_free(linker);
    wasm_store_free(store);
    wasm_module_free(callee_module);
    wasm_module_free(caller_module);
}

typedef struct reentry {
    wasm_exec *exec;
    wasm_func *inner;
    wasm_status nested_status;
} reentry;

static int host_reenter(wasm_host_call *call, const wasm_slot *args, wasm_slot *results,
                        void *user)
{
    (void)call;
    (void)args;
    reentry *r = user;
    r->nested_status = wasm_exec_call(r->exec, r->inner, NULL, 0);
    results[0] = 41;
    return 0;
}

static void test_a_running_exec_refuses_nested_calls(void **state)
{
    (void)state;
    wasm_error err;
    reentry r = {0};
    wasm_store *store = wasm_store_new();
    wasm_module *module = load_wat_module("exec_reenter");
    wasm_linker *linker = wasm_linker_new(store);
    assert_true(wasm_linker_define_func(linker, "host", "reenter", "", "i", host_reenter, &r,
                                        &err));
    wasm_instance *instance = instantiate_or_fail(store, module, linker, NULL);
    r.exec = wasm_exec_new(store, NULL);
    r.inner = export_or_fail(instance, "inner");
    /* the nested call is refused and the outer call goes on undisturbed */
    assert_int_equal(call_i32(r.exec, instance, "outer", NULL, 0), 42);
    assert_int_equal(r.nested_status, WASM_STATUS_TRAP);
    /* and the exec is usable again once the outer call is over */
    assert_int_equal(call_i32(r.exec, instance, "inner", NULL, 0), 100);
    wasm_exec_free(r.exec);
    wasm_linker_free(linker);
    wasm_store_free(store);
    wasm_module_free(module);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_recursion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loop_with_i64_accumulator, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_bytes_and_words, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_grow_up_to_the_module_maximum, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_globals_persist_between_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indirect_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_functions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_floats_and_select, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overwritten_local_keeps_pushed_value, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments_are_refused, setup, teardown),
        cmocka_unit_test(test_calls_between_instances),
        cmocka_unit_test(test_a_running_exec_refuses_nested_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
