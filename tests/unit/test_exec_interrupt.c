/*
 * test_exec_interrupt.c — wasm_exec_interrupt from another thread stops a running
 * call at its next safe point; resuming it finishes with the result of an
 * uninterrupted run. A host function that waits can see the interrupt and return.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <time.h>

#include "test_exec_helpers.h"

typedef struct fixture {
    wasm_store *store;
    wasm_module *module;
    wasm_linker *linker;
    wasm_instance *instance;
    wasm_exec *exec;
    bool host_saw_interrupt;
} fixture;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits until the call is interrupted (at most 10 s, so a broken flag fails the
 * test instead of hanging it). */
static int host_wait(wasm_host_call *call, const wasm_slot *args, wasm_slot *results, void *user)
{
    (void)args;
    (void)results;
    fixture *f = user;
    for (int i = 0; i < 10000 && !wasm_host_interrupted(call); i++)
        sleep_ms(1);
    f->host_saw_interrupt = wasm_host_interrupted(call);
    return 0;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    wasm_error err;
    f->store = wasm_store_new();
    f->module = load_wat_module("exec_interrupt");
    f->linker = wasm_linker_new(f->store);
    assert_true(wasm_linker_define_func(f->linker, "host", "wait", "", "", host_wait, f, &err));
    f->instance = instantiate_or_fail(f->store, f->module, f->linker, NULL);
    f->exec = wasm_exec_new(f->store, NULL);
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

static uint64_t spin_expected(uint32_t n)
{
    uint64_t acc = 0;
    for (uint32_t i = 0; i < n; i++)
        acc += i ^ (i >> 3);
    return acc;
}

typedef struct interrupter {
    pthread_t thread;
    wasm_exec *exec;
    long delay_ms;
} interrupter;

static void *interrupt_later(void *arg)
{
    interrupter *t = arg;
    sleep_ms(t->delay_ms);
    wasm_exec_interrupt(t->exec);
    return NULL;
}

static void start_interrupter(interrupter *t, wasm_exec *exec, long delay_ms)
{
    t->exec = exec;
    t->delay_ms = delay_ms;
    assert_int_equal(pthread_create(&t->thread, NULL, interrupt_later, t), 0);
}

static void test_interrupt_and_resume(void **state)
{
    fixture *f = *state;
    uint32_t n = 100000000;     /* far longer than 3 x 20 ms: every interrupt lands inside it */
    wasm_value arg = i32_value(n);
    interrupter t;
    start_interrupter(&t, f->exec, 20);
    wasm_status status = wasm_exec_call(f->exec, export_or_fail(f->instance, "spin"), &arg, 1);
    pthread_join(t.thread, NULL);
    int suspensions = 0;
    while (status == WASM_STATUS_SUSPENDED && suspensions < 3) {
        assert_true(wasm_exec_resumable(f->exec));
        assert_int_equal(wasm_exec_trap(f->exec)->kind, WASM_TRAP_NONE);
        assert_int_equal(wasm_exec_results(f->exec, NULL, 0), 0);
        suspensions++;
        if (suspensions < 3)
            start_interrupter(&t, f->exec, 20);
        status = wasm_exec_resume(f->exec);
        if (suspensions < 3)
            pthread_join(t.thread, NULL);
    }
    assert_int_equal(suspensions, 3);
    assert_int_equal(status, WASM_STATUS_OK);
    wasm_value result;
    assert_int_equal(wasm_exec_results(f->exec, &result, 1), 1);
    assert_true(result.of.i64 == spin_expected(n));
}

static void test_host_function_sees_the_interrupt(void **state)
{
    fixture *f = *state;
    uint32_t n = 1000;
    wasm_value arg = i32_value(n);
    interrupter t;
    start_interrupter(&t, f->exec, 30);
    wasm_status status =
        wasm_exec_call(f->exec, export_or_fail(f->instance, "wait_then_spin"), &arg, 1);
    pthread_join(t.thread, NULL);
    assert_true(f->host_saw_interrupt);
    /* the host returned; the call stopped at the next safe point, the callee's entry */
    assert_int_equal(status, WASM_STATUS_SUSPENDED);
    assert_int_equal(wasm_exec_resume(f->exec), WASM_STATUS_OK);
    wasm_value result;
    assert_int_equal(wasm_exec_results(f->exec, &result, 1), 1);
    assert_true(result.of.i64 == spin_expected(n));
}

static void test_interrupt_before_a_call_applies_to_it(void **state)
{
    fixture *f = *state;
    wasm_value arg = i32_value(10);
    wasm_exec_interrupt(f->exec);
    assert_int_equal(wasm_exec_call(f->exec, export_or_fail(f->instance, "spin"), &arg, 1),
                     WASM_STATUS_SUSPENDED);
    assert_int_equal(wasm_exec_resume(f->exec), WASM_STATUS_OK);
    /* consumed: the next call runs through */
    assert_int_equal(wasm_exec_call(f->exec, export_or_fail(f->instance, "spin"), &arg, 1),
                     WASM_STATUS_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_interrupt_and_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_function_sees_the_interrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_before_a_call_applies_to_it, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
