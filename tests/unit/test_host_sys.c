/*
 * test_host_sys.c — the sys.* host functions: what they print, how long sys.delay
 * sleeps and that it gives way to an interrupt, what millis returns, that every
 * pointer is checked, and that host_functions_define offers exactly the list.
 */
#define _GNU_SOURCE
#include "test_host_helpers.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1000 + (double)t.tv_nsec / 1e6;
}

/* Runs the calls with stdout going to a file, and returns what they printed. */
typedef struct captured {
    int saved_fd;
    char path[64];
} captured;

static void capture_start(captured *c)
{
    fflush(stdout);
    snprintf(c->path, sizeof c->path, "/tmp/test_host_sys_XXXXXX");
    int fd = mkstemp(c->path);
    assert_true(fd >= 0);
    c->saved_fd = dup(STDOUT_FILENO);
    dup2(fd, STDOUT_FILENO);
    close(fd);
}

static char *capture_end(captured *c)
{
    fflush(stdout);
    dup2(c->saved_fd, STDOUT_FILENO);
    close(c->saved_fd);
    FILE *f = fopen(c->path, "r");
    static char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    unlink(c->path);
    return text;
}

static void test_define_offers_exactly_the_listed_functions(void **state)
{
    (void)state;
    wasm_store *store = wasm_store_new();
    wasm_linker *linker = wasm_linker_new(store);
    host_env env = {0};
    char err[256];
    assert_true(host_functions_define(linker, &env, err, sizeof err));
    assert_int_equal(wasm_linker_count(linker), host_function_count);
    const char *expected[] = {"sys.millis", "sys.delay", "sys.print", "sys.println",
                              "sys.printInt", "communication.rpcCall",
                              "camera.takeImageDynamicSize", "camera.takeImageStaticSize",
                              "camera.takeImage"};
    assert_int_equal(host_function_count, sizeof expected / sizeof *expected);
    for (size_t i = 0; i < host_function_count; i++) {
        const char *module, *name;
        wasm_extern_kind kind;
        assert_true(wasm_linker_entry(linker, (uint32_t)i, &module, &name, &kind));
        char full[128];
        snprintf(full, sizeof full, "%s.%s", module, name);
        assert_string_equal(full, expected[i]);
        assert_int_equal(kind, WASM_EXTERN_FUNC);
    }
    wasm_linker_free(linker);
    wasm_store_free(store);
}

static void test_print_println_and_print_int_write_to_stdout(void **state)
{
    (void)state;
    host_fixture *f = host_fixture_new("host_imports", (host_env){0}, false);
    captured c;
    capture_start(&c);
    wasm_status s1 = host_call(f, "print", 2, 16, 5);         /* "hello" */
    wasm_status s2 = host_call(f, "println", 2, 16, 13);      /* "hello, device\n" */
    wasm_status s3 = host_call(f, "print_int", 1, (uint32_t)-42);
    wasm_status s4 = host_call(f, "print", 2, 16, 0);         /* nothing */
    char *out = capture_end(&c);
    assert_int_equal(s1, WASM_STATUS_OK);
    assert_int_equal(s2, WASM_STATUS_OK);
    assert_int_equal(s3, WASM_STATUS_OK);
    assert_int_equal(s4, WASM_STATUS_OK);
    assert_string_equal(out, "hellohello, device\n-42\n");
    host_fixture_free(f);
}

static void test_print_refuses_strings_outside_memory(void **state)
{
    (void)state;
    host_fixture *f = host_fixture_new("host_imports", (host_env){0}, false);
    /* 2 pages = 131072 bytes; the string would end 100 bytes past it. */
    assert_int_equal(host_call(f, "print", 2, 131000, 172), WASM_STATUS_TRAP);
    const wasm_trap *trap = host_trap(f);
    assert_int_equal(trap->kind, WASM_TRAP_MEMORY_OUT_OF_BOUNDS);
    assert_contains(trap->message, "sys.print: the string at 131000..131172 is outside the "
                                   "module's memory (131072 bytes)");
    /* A length that wraps around 32 bits is not a way around the check. */
    assert_int_equal(host_call(f, "println", 2, 16, 0xfffffff8u), WASM_STATUS_TRAP);
    assert_contains(host_trap(f)->message, "sys.println: the string");
    /* The instance is still usable afterwards. */
    assert_int_equal(host_call_i32(f, "byte_at", 1, 16), 'h');
    host_fixture_free(f);
}

static void test_millis_is_the_low_32_bits_of_epoch_milliseconds(void **state)
{
    (void)state;
    host_fixture *f = host_fixture_new("host_imports", (host_env){0}, false);
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    uint32_t before = (uint32_t)((uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000);
    uint32_t millis = host_call_i32(f, "millis", 0);
    assert_true((uint32_t)(millis - before) < 1000);
    host_fixture_free(f);
}

static void test_delay_sleeps_the_given_milliseconds(void **state)
{
    (void)state;
    host_fixture *f = host_fixture_new("host_imports", (host_env){0}, false);
    double start = now_ms();
    assert_int_equal(host_call(f, "delay", 1, 150), WASM_STATUS_OK);
    double took = now_ms() - start;
    if (took < 150 || took >= 1500)
        fail_msg("delay(150) took %.3f ms", took);
    start = now_ms();
    assert_int_equal(host_call(f, "delay", 1, (uint32_t)-5), WASM_STATUS_OK);   /* negative: none */
    assert_true(now_ms() - start < 50);
    host_fixture_free(f);
}

typedef struct interrupter {
    wasm_exec *exec;
    int after_ms;
} interrupter;

static void *interrupt_later(void *arg)
{
    interrupter *i = arg;
    struct timespec pause = {0, i->after_ms * 1000000L};
    nanosleep(&pause, NULL);
    wasm_exec_interrupt(i->exec);
    return NULL;
}

/* A migration suspends calls: a module sleeping in sys.delay must not hold it up. */
static void test_delay_returns_early_when_the_call_is_interrupted(void **state)
{
    (void)state;
    host_fixture *f = host_fixture_new("host_imports", (host_env){0}, false);
    interrupter i = {f->exec, 100};
    pthread_t thread;
    pthread_create(&thread, NULL, interrupt_later, &i);
    double start = now_ms();
    wasm_status status = host_call(f, "delay", 1, 10000);
    double took = now_ms() - start;
    pthread_join(thread, NULL);
    assert_true(status == WASM_STATUS_SUSPENDED || status == WASM_STATUS_OK);
    if (took > 1000)
        fail_msg("delay(10000) took %.0f ms after an interrupt at 100 ms", took);
    host_fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_define_offers_exactly_the_listed_functions),
        cmocka_unit_test(test_print_println_and_print_int_write_to_stdout),
        cmocka_unit_test(test_print_refuses_strings_outside_memory),
        cmocka_unit_test(test_millis_is_the_low_32_bits_of_epoch_milliseconds),
        cmocka_unit_test(test_delay_sleeps_the_given_milliseconds),
        cmocka_unit_test(test_delay_returns_early_when_the_call_is_interrupted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
