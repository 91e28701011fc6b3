/*
 * test_exec_limits.c — each limit of wasm_exec_limits and wasm_instance_limits
 * ends a call with a clean trap: fuel and the deadline stop it resumably (and the
 * resumed call gives the uninterrupted result), call depth and stack cells end it
 * with "call stack exhausted", and memory.grow past the embedder's limit traps
 * while growing past the module's own maximum answers -1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <time.h>

#include "test_exec_helpers.h"

typedef struct fixture {
    wasm_store *store;
    wasm_module *module;
    wasm_linker *linker;
    wasm_instance *instance;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->store = wasm_store_new();
    f->module = load_wat_module("limits_work");
    f->linker = wasm_linker_new(f->store);
    f->instance = instantiate_or_fail(f->store, f->module, f->linker, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    wasm_linker_free(f->linker);
    wasm_store_free(f->store);
    wasm_module_free(f->module);
    free(f);
    return 0;
}

static uint64_t spin_expected(uint32_t n)
{
    uint64_t acc = 0;
    for (uint32_t i = 0; i < n; i++)
        acc += i ^ (i >> 3);
    return acc;
}

static uint64_t result_i64(wasm_exec *exec)
{
    wasm_value v;
    assert_int_equal(wasm_exec_results(exec, &v, 1), 1);
    assert_int_equal(v.type, WASM_I64);
    return v.of.i64;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint32_t loop_offset(const wasm_module *module, uint32_t func_index)
{
    const wasm_code *code = &module->codes[func_index - module->func_import_count];
    for (uint32_t at = code->body_offset; at + 1 < code->body_end; at++)
        if (module->bytes[at] == 0x03 && module->bytes[at + 1] == 0x40)
            return at;
    fail_msg("no loop in function %u", func_index);
    return 0;
}

static void test_fuel_stops_resumably_and_deterministically(void **state)
{
    fixture *f = *state;
    uint32_t n = 300000;
    wasm_value arg = i32_value(n);
    wasm_func *spin = export_or_fail(f->instance, "spin");

    /* without a limit, for reference: the fuel is still counted */
    wasm_exec *free_run = wasm_exec_new(f->store, NULL);
    assert_int_equal(wasm_exec_call(free_run, spin, &arg, 1), WASM_STATUS_OK);
    assert_true(result_i64(free_run) == spin_expected(n));
    uint64_t total = wasm_exec_fuel_used(free_run);
    assert_true(total > n);     /* at least one instruction per iteration */
    wasm_exec_free(free_run);

    wasm_exec_limits limits = {.fuel = 100000};
    uint64_t first_stop = 0;
    for (int run = 0; run < 2; run++) {
        wasm_exec *exec = wasm_exec_new(f->store, &limits);
        wasm_status status = wasm_exec_call(exec, spin, &arg, 1);
        int stops = 0;
        while (status == WASM_STATUS_TRAP) {
            const wasm_trap *trap = wasm_exec_trap(exec);
            assert_int_equal(trap->kind, WASM_TRAP_FUEL_EXHAUSTED);
            assert_true(wasm_exec_resumable(exec));
            assert_true(trap->has_location);
            assert_int_equal(trap->func_index, spin->index);
            assert_int_equal(trap->offset, loop_offset(f->module, spin->index));
            assert_true(wasm_exec_fuel_used(exec) <= limits.fuel * (uint64_t)(stops + 1));
            if (stops == 0 && run == 0)
                first_stop = wasm_exec_fuel_used(exec);
            if (stops == 0 && run == 1)
                assert_true(wasm_exec_fuel_used(exec) == first_stop);   /* deterministic */
            stops++;
            wasm_exec_add_fuel(exec, 100000);
            status = wasm_exec_resume(exec);
        }
        assert_int_equal(status, WASM_STATUS_OK);
        assert_true(stops >= 5);
        assert_true(result_i64(exec) == spin_expected(n));
        assert_true(wasm_exec_fuel_used(exec) == total);
        wasm_exec_free(exec);
    }
}

static void test_fuel_exhausted_before_it_starts(void **state)
{
    fixture *f = *state;
    wasm_exec_limits limits = {.fuel = 1};
    wasm_exec *exec = wasm_exec_new(f->store, &limits);
    wasm_value arg = i32_value(10);
    assert_int_equal(wasm_exec_call(exec, export_or_fail(f->instance, "spin"), &arg, 1),
                     WASM_STATUS_TRAP);
    assert_int_equal(wasm_exec_trap(exec)->kind, WASM_TRAP_FUEL_EXHAUSTED);
    assert_non_null(strstr(wasm_exec_trap(exec)->message, "fuel exhausted"));
    wasm_exec_add_fuel(exec, 1000000);
    assert_int_equal(wasm_exec_resume(exec), WASM_STATUS_OK);
    assert_true(result_i64(exec) == spin_expected(10));
    wasm_exec_free(exec);
}

static void test_deadline_stops_an_endless_loop(void **state)
{
    fixture *f = *state;
    wasm_exec_limits limits = {.timeout_ms = 50};
    wasm_exec *exec = wasm_exec_new(f->store, &limits);
    uint64_t start = now_ms();
    assert_int_equal(wasm_exec_call(exec, export_or_fail(f->instance, "forever"), NULL, 0),
                     WASM_STATUS_TRAP);
    uint64_t elapsed = now_ms() - start;
    assert_int_equal(wasm_exec_trap(exec)->kind, WASM_TRAP_DEADLINE_EXCEEDED);
    assert_non_null(strstr(wasm_exec_trap(exec)->message, "50 ms"));
    assert_true(elapsed >= 50 && elapsed < 2000);
    assert_true(wasm_exec_resumable(exec));
    /* resumed, it gets its timeout again */
    wasm_exec_set_timeout(exec, 20);
    assert_int_equal(wasm_exec_resume(exec), WASM_STATUS_TRAP);
    assert_int_equal(wasm_exec_trap(exec)->kind, WASM_TRAP_DEADLINE_EXCEEDED);
    wasm_exec_free(exec);
}

static void test_deadline_then_resume_finishes(void **state)
{
    fixture *f = *state;
    uint32_t n = 30000000;      /* well over a millisecond */
    wasm_exec_limits limits = {.timeout_ms = 1};
    wasm_exec *exec = wasm_exec_new(f->store, &limits);
    wasm_value arg = i32_value(n);
    assert_int_equal(wasm_exec_call(exec, export_or_fail(f->instance, "spin"), &arg, 1),
                     WASM_STATUS_TRAP);
    assert_int_equal(wasm_exec_trap(exec)->kind, WASM_TRAP_DEADLINE_EXCEEDED);
    wasm_exec_set_timeout(exec, 0);
    assert_int_equal(wasm_exec_resume(exec), WASM_STATUS_OK);
    assert_true(result_i64(exec) == spin_expected(n));
    wasm_exec_free(exec);
}

static void expect_depth(fixture *f, const wasm_exec_limits *limits, uint32_t n, bool fits)
{
    wasm_exec *exec = wasm_exec_new(f->store, limits);
    wasm_value arg = i32_value(n);
    wasm_status status = wasm_exec_call(exec, export_or_fail(f->instance, "depth"), &arg, 1);
    if (fits) {
        assert_int_equal(status, WASM_STATUS_OK);
        wasm_value v;
        wasm_exec_results(exec, &v, 1);
        assert_int_equal(v.of.i32, n);
    } else {
        assert_int_equal(status, WASM_STATUS_TRAP);
        assert_int_equal(wasm_exec_trap(exec)->kind, WASM_TRAP_STACK_EXHAUSTED);
        assert_string_equal(wasm_exec_trap(exec)->message, "call stack exhausted");
        assert_false(wasm_exec_resumable(exec));
    }
    wasm_exec_free(exec);
}

static void test_call_depth(void **state)
{
    fixture *f = *state;
    wasm_exec_limits limits = {.max_call_depth = 100};
    expect_depth(f, &limits, 99, true);      /* 100 frames: depth(99) .. depth(0) */
    expect_depth(f, &limits, 100, false);
    expect_depth(f, NULL, 9000, true);       /* the default is 10000 */
    expect_depth(f, NULL, 10000, false);
}

static void test_stack_cells(void **state)
{
    fixture *f = *state;
    wasm_exec_limits limits = {.stack_slots = 2000};
    expect_depth(f, &limits, 50, true);
    expect_depth(f, &limits, 1000, false);
}

static void test_memory_limits(void **state)
{
    fixture *f = *state;
    wasm_instance_limits instance_limits = {.max_memory_pages = 3};
    wasm_instance *limited = instantiate_or_fail(f->store, f->module, f->linker, &instance_limits);
    wasm_exec *exec = wasm_exec_new(f->store, NULL);
    wasm_value one = i32_value(1);
    assert_int_equal(call_i32(exec, limited, "grow", &one, 1), 1);
    assert_int_equal(call_i32(exec, limited, "grow", &one, 1), 2);
    assert_int_equal(wasm_exec_call(exec, export_or_fail(limited, "grow"), &one, 1),
                     WASM_STATUS_TRAP);
    const wasm_trap *trap = wasm_exec_trap(exec);
    assert_int_equal(trap->kind, WASM_TRAP_MEMORY_LIMIT);
    assert_non_null(strstr(trap->message, "limit of 3 pages"));
    assert_true(trap->has_location);

    /* without an embedder limit, the module's own maximum (100) answers -1 */
    wasm_value many = i32_value(200);
    assert_int_equal(call_i32(exec, f->instance, "grow", &many, 1), (uint32_t)-1);
    wasm_exec_free(exec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fuel_stops_resumably_and_deterministically, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fuel_exhausted_before_it_starts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_stops_an_endless_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_then_resume_finishes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_depth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stack_cells, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_limits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
