/*
 * test_snapshot.c — a call stopped in the middle (by fuel or by an interrupt from
 * another thread), saved, restored into a fresh store and instance of a freshly
 * loaded module, and resumed, ends exactly as the uninterrupted call does, with the
 * same memory. And every damaged or foreign snapshot is refused with a clear error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <time.h>

#include "test_exec_helpers.h"

/* One world: a store with one instance of a module loaded from its bytes. */
typedef struct world {
    wasm_store *store;
    wasm_module *module;
    wasm_linker *linker;
    wasm_instance *instance;
    wasm_exec *exec;
} world;

static void world_open(world *w, const char *module_name, const wasm_exec_limits *limits)
{
    w->store = wasm_store_new();
    w->module = load_wat_module(module_name);
    w->linker = wasm_linker_new(w->store);
    w->instance = instantiate_or_fail(w->store, w->module, w->linker, NULL);
    w->exec = wasm_exec_new(w->store, limits);
    assert_non_null(w->exec);
}

static void world_close(world *w)
{
    wasm_exec_free(w->exec);
    wasm_linker_free(w->linker);
    wasm_store_free(w->store);
    wasm_module_free(w->module);
}

typedef struct outcome {
    uint32_t value;
    uint64_t steps;
    uint32_t memory_checksum;
} outcome;

static outcome read_outcome(world *w)
{
    outcome o;
    wasm_value results[2];
    assert_int_equal(wasm_exec_results(w->exec, results, 2), 2);
    o.value = results[0].of.i32;
    o.steps = results[1].of.i64;
    wasm_exec *probe = wasm_exec_new(w->store, NULL);
    o.memory_checksum = call_i32(probe, w->instance, "checksum", NULL, 0);
    wasm_exec_free(probe);
    return o;
}

static const uint32_t rounds = 9, steps_per_round = 20000;

static outcome uninterrupted(void)
{
    world w;
    world_open(&w, "snapshot_state", NULL);
    wasm_value args[2] = {i32_value(rounds), i32_value(steps_per_round)};
    assert_int_equal(wasm_exec_call(w.exec, export_or_fail(w.instance, "run"), args, 2),
                     WASM_STATUS_OK);
    outcome o = read_outcome(&w);
    world_close(&w);
    return o;
}

/* Restores a snapshot into a new world and finishes the call there. */
static outcome finish_elsewhere(const uint8_t *snapshot, size_t size)
{
    world w;
    world_open(&w, "snapshot_state", NULL);
    wasm_error err;
    assert_true(wasm_snapshot_has_call(snapshot, size));
    if (!wasm_snapshot_restore(w.instance, w.exec, snapshot, size, &err))
        fail_msg("restore refused: %s", err.message);
    assert_true(wasm_exec_resumable(w.exec));
    assert_int_equal(wasm_exec_resume(w.exec), WASM_STATUS_OK);
    outcome o = read_outcome(&w);
    world_close(&w);
    return o;
}

static void expect_same(outcome a, outcome b)
{
    assert_int_equal(a.value, b.value);
    assert_true(a.steps == b.steps);
    assert_int_equal(a.memory_checksum, b.memory_checksum);
}

static void test_resume_after_fuel_stops_elsewhere(void **state)
{
    (void)state;
    outcome expected = uninterrupted();
    assert_true(expected.steps == (uint64_t)rounds * steps_per_round);

    wasm_exec_limits limits = {.fuel = 150000};
    world w;
    world_open(&w, "snapshot_state", &limits);
    wasm_value args[2] = {i32_value(rounds), i32_value(steps_per_round)};
    wasm_status status = wasm_exec_call(w.exec, export_or_fail(w.instance, "run"), args, 2);
    int stops = 0;
    while (status == WASM_STATUS_TRAP && wasm_exec_trap(w.exec)->kind == WASM_TRAP_FUEL_EXHAUSTED) {
        uint8_t *snapshot;
        size_t size;
        wasm_error err;
        if (!wasm_snapshot_save(w.instance, w.exec, &snapshot, &size, &err))
            fail_msg("save refused: %s", err.message);
        expect_same(finish_elsewhere(snapshot, size), expected);
        free(snapshot);
        stops++;
        wasm_exec_add_fuel(w.exec, 150000);
        status = wasm_exec_resume(w.exec);
    }
    assert_int_equal(status, WASM_STATUS_OK);
    assert_true(stops >= 5);
    /* the original world finishes the same way too */
    expect_same(read_outcome(&w), expected);
    world_close(&w);
}

static void *interrupt_after_10ms(void *exec)
{
    struct timespec ts = {0, 10 * 1000000L};
    nanosleep(&ts, NULL);
    wasm_exec_interrupt(exec);
    return NULL;
}

static void test_resume_after_interrupt_elsewhere(void **state)
{
    (void)state;
    world reference;
    world_open(&reference, "snapshot_state", NULL);
    /* long enough that the interrupt lands inside it */
    wasm_value args[2] = {i32_value(8), i32_value(1000000)};
    assert_int_equal(wasm_exec_call(reference.exec, export_or_fail(reference.instance, "run"),
                                    args, 2), WASM_STATUS_OK);
    outcome expected = read_outcome(&reference);
    world_close(&reference);

    world w;
    world_open(&w, "snapshot_state", NULL);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, interrupt_after_10ms, w.exec), 0);
    wasm_status status = wasm_exec_call(w.exec, export_or_fail(w.instance, "run"), args, 2);
    pthread_join(thread, NULL);
    assert_int_equal(status, WASM_STATUS_SUSPENDED);
    uint8_t *snapshot;
    size_t size;
    wasm_error err;
    assert_true(wasm_snapshot_save(w.instance, w.exec, &snapshot, &size, &err));
    world_close(&w);

    world there;
    world_open(&there, "snapshot_state", NULL);
    assert_true(wasm_snapshot_restore(there.instance, there.exec, snapshot, size, &err));
    assert_int_equal(wasm_exec_resume(there.exec), WASM_STATUS_OK);
    expect_same(read_outcome(&there), expected);
    world_close(&there);
    free(snapshot);
}

static void test_instance_without_call(void **state)
{
    (void)state;
    world w;
    world_open(&w, "snapshot_state", NULL);
    wasm_value args[2] = {i32_value(3), i32_value(500)};
    assert_int_equal(wasm_exec_call(w.exec, export_or_fail(w.instance, "run"), args, 2),
                     WASM_STATUS_OK);
    uint32_t checksum = call_i32(w.exec, w.instance, "checksum", NULL, 0);
    uint8_t *snapshot;
    size_t size;
    wasm_error err;
    assert_true(wasm_snapshot_save(w.instance, w.exec, &snapshot, &size, &err));
    assert_false(wasm_snapshot_has_call(snapshot, size));

    world there;
    world_open(&there, "snapshot_state", NULL);
    assert_true(wasm_snapshot_restore(there.instance, NULL, snapshot, size, &err));
    assert_int_equal(call_i32(there.exec, there.instance, "checksum", NULL, 0), checksum);
    uint64_t pages_here, pages_there;
    wasm_instance_memory(w.instance, &pages_here);
    wasm_instance_memory(there.instance, &pages_there);
    assert_true(pages_here == pages_there);
    /* the state goes on from there: the same next run gives the same result */
    wasm_value here_results[2], there_results[2];
    call_ok(w.exec, w.instance, "run", args, 2, here_results, 2);
    call_ok(there.exec, there.instance, "run", args, 2, there_results, 2);
    assert_int_equal(here_results[0].of.i32, there_results[0].of.i32);
    assert_true(here_results[1].of.i64 == there_results[1].of.i64);
    world_close(&there);
    world_close(&w);
    free(snapshot);
}

/* A small snapshot with a call: snapshot_small stopped by fuel mid-loop. */
static uint8_t *small_snapshot(size_t *size)
{
    wasm_exec_limits limits = {.fuel = 200};
    world w;
    world_open(&w, "snapshot_small", &limits);
    wasm_value arg = i32_value(1000);
    assert_int_equal(wasm_exec_call(w.exec, export_or_fail(w.instance, "steps"), &arg, 1),
                     WASM_STATUS_TRAP);
    assert_int_equal(wasm_exec_trap(w.exec)->kind, WASM_TRAP_FUEL_EXHAUSTED);
    uint8_t *snapshot;
    wasm_error err;
    assert_true(wasm_snapshot_save(w.instance, w.exec, &snapshot, size, &err));
    world_close(&w);
    return snapshot;
}

static void expect_refused(const uint8_t *data, size_t size, const char *message)
{
    world w;
    world_open(&w, "snapshot_small", NULL);
    wasm_error err;
    if (wasm_snapshot_restore(w.instance, w.exec, data, size, &err))
        fail_msg("a bad snapshot (%zu bytes) was accepted", size);
    assert_int_equal(err.kind, WASM_ERR_SNAPSHOT);
    if (!strstr(err.message, message))
        fail_msg("message \"%s\", expected \"%s\"", err.message, message);
    assert_false(wasm_exec_resumable(w.exec));
    world_close(&w);
}

static void test_small_snapshot_resumes(void **state)
{
    (void)state;
    size_t size;
    uint8_t *snapshot = small_snapshot(&size);
    world w;
    world_open(&w, "snapshot_small", NULL);
    wasm_error err;
    assert_true(wasm_snapshot_restore(w.instance, w.exec, snapshot, size, &err));
    assert_int_equal(wasm_exec_resume(w.exec), WASM_STATUS_OK);
    wasm_value result, count;
    assert_int_equal(wasm_exec_results(w.exec, &result, 1), 1);
    assert_int_equal(result.of.i32, 3 * 1000);
    assert_true(wasm_instance_export_global(w.instance, "count", &count));
    assert_int_equal(count.of.i32, 1000);
    world_close(&w);
    free(snapshot);
}

static void test_truncated_at_every_length(void **state)
{
    (void)state;
    size_t size;
    uint8_t *snapshot = small_snapshot(&size);
    assert_true(size < 4096);
    for (size_t n = 0; n < size; n++) {
        assert_false(wasm_snapshot_has_call(snapshot, n));
        expect_refused(snapshot, n, n < 76 ? "truncated" : "checksum");
    }
    free(snapshot);
}

static void test_every_flipped_byte(void **state)
{
    (void)state;
    size_t size;
    uint8_t *snapshot = small_snapshot(&size);
    for (size_t i = 0; i < size; i++) {
        snapshot[i] ^= 0x20;
        expect_refused(snapshot, size, i < 4 ? "bad magic" : "checksum");
        snapshot[i] ^= 0x20;
    }
    free(snapshot);
}

static void test_unknown_version(void **state)
{
    (void)state;
    size_t size;
    uint8_t *snapshot = small_snapshot(&size);
    snapshot[4] = 99;   /* the version, then a checksum that matches it */
    wasm_sha256(snapshot, size - 32, snapshot + size - 32);
    expect_refused(snapshot, size, "unknown snapshot format version 99");
    assert_false(wasm_snapshot_has_call(snapshot, size));
    free(snapshot);
}

static void test_snapshot_of_another_module(void **state)
{
    (void)state;
    size_t size;
    uint8_t *snapshot = small_snapshot(&size);
    world other;
    world_open(&other, "snapshot_state", NULL);
    wasm_error err;
    assert_false(wasm_snapshot_restore(other.instance, other.exec, snapshot, size, &err));
    assert_int_equal(err.kind, WASM_ERR_SNAPSHOT);
    assert_non_null(strstr(err.message, "another module"));
    world_close(&other);
    free(snapshot);
}

static void test_call_needs_an_exec(void **state)
{
    (void)state;
    size_t size;
    uint8_t *snapshot = small_snapshot(&size);
    world w;
    world_open(&w, "snapshot_small", NULL);
    wasm_error err;
    assert_false(wasm_snapshot_restore(w.instance, NULL, snapshot, size, &err));
    assert_non_null(strstr(err.message, "suspended call"));
    world_close(&w);
    free(snapshot);
}

static void test_function_references(void **state)
{
    (void)state;
    wasm_error err;
    world w;
    world_open(&w, "snapshot_small", NULL);
    wasm_instance *other = instantiate_or_fail(w.store, w.module, w.linker, NULL);
    wasm_value ref = {.type = WASM_FUNCREF};

    /* a reference to one of the instance's own functions travels as its index */
    ref.of.funcref = export_or_fail(w.instance, "steps");
    assert_true(wasm_instance_set_global(w.instance, "g", &ref));
    uint8_t *snapshot;
    size_t size;
    assert_true(wasm_snapshot_save(w.instance, NULL, &snapshot, &size, &err));
    world there;
    world_open(&there, "snapshot_small", NULL);
    assert_true(wasm_snapshot_restore(there.instance, NULL, snapshot, size, &err));
    wasm_value restored;
    assert_true(wasm_instance_export_global(there.instance, "g", &restored));
    assert_ptr_equal(restored.of.funcref, export_or_fail(there.instance, "steps"));
    world_close(&there);
    free(snapshot);

    /* one of another instance's cannot be written down */
    ref.of.funcref = export_or_fail(other, "steps");
    assert_true(wasm_instance_set_global(w.instance, "g", &ref));
    assert_false(wasm_snapshot_save(w.instance, NULL, &snapshot, &size, &err));
    assert_int_equal(err.kind, WASM_ERR_SNAPSHOT);
    assert_non_null(strstr(err.message, "another instance"));
    world_close(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_after_fuel_stops_elsewhere),
        cmocka_unit_test(test_resume_after_interrupt_elsewhere),
        cmocka_unit_test(test_instance_without_call),
        cmocka_unit_test(test_small_snapshot_resumes),
        cmocka_unit_test(test_truncated_at_every_length),
        cmocka_unit_test(test_every_flipped_byte),
        cmocka_unit_test(test_unknown_version),
        cmocka_unit_test(test_snapshot_of_another_module),
        cmocka_unit_test(test_call_needs_an_exec),
        cmocka_unit_test(test_function_references),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
