/*
 * test_wasi_memory.c — guest pointers. A module can pass any 32-bit number as a
 * pointer or length; every WASI call must answer EFAULT for memory it does not
 * have (including ranges that wrap past 4 GiB or end one byte too far), must not
 * write anything partially, and must work right up to the last byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "wasm/wasi_internal.h"

#include <stdlib.h>
#include <string.h>

#define MEMORY_SIZE 65536u

typedef struct fixture {
    wasi_ctx *ctx;
    uint8_t memory[MEMORY_SIZE];
    wasi_call call;
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->ctx = wasi_ctx_new();
    assert_non_null(fx->ctx);
    assert_true(wasi_ctx_add_arg(fx->ctx, "prog.wasm"));
    assert_true(wasi_ctx_add_arg(fx->ctx, "first"));
    assert_true(wasi_ctx_add_env(fx->ctx, "KEY=value"));
    wasi_ctx_capture_stdout(fx->ctx);
    fx->call = (wasi_call){.ctx = fx->ctx, .memory = fx->memory, .memory_size = MEMORY_SIZE};
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    wasi_ctx_free(fx->ctx);
    free(fx);
    return 0;
}

static void test_guest_range_bounds(void **state)
{
    fixture *fx = *state;
    assert_ptr_equal(wasi_guest_range(&fx->call, 0, 0), fx->memory);
    assert_ptr_equal(wasi_guest_range(&fx->call, MEMORY_SIZE, 0), fx->memory + MEMORY_SIZE);
    assert_ptr_equal(wasi_guest_range(&fx->call, MEMORY_SIZE - 1, 1),
                     fx->memory + MEMORY_SIZE - 1);
    assert_null(wasi_guest_range(&fx->call, MEMORY_SIZE, 1));
    assert_null(wasi_guest_range(&fx->call, MEMORY_SIZE - 3, 4));
    assert_null(wasi_guest_range(&fx->call, MEMORY_SIZE + 1, 0));
    /* 0xffffffff + 2 wraps to 1 in 32 bits; it must not look in bounds. */
    assert_null(wasi_guest_range(&fx->call, UINT32_MAX, 2));
    assert_null(wasi_guest_range(&fx->call, 16, UINT32_MAX));

    wasi_call no_memory = {.ctx = fx->ctx};
    assert_null(wasi_guest_range(&no_memory, 0, 0));
    wasm_slot args[] = {0, 4};
    assert_int_equal(wasi_args_sizes_get(&no_memory, args), WASI_EFAULT);
}

static void put_iovec(fixture *fx, uint32_t at, uint32_t buf, uint32_t len)
{
    wasi_put_u32(fx->memory + at, buf);
    wasi_put_u32(fx->memory + at + 4, len);
}

static size_t captured_size(const fixture *fx)
{
    size_t size;
    wasi_captured_stdout(fx->ctx, &size);
    return size;
}

static void test_fd_write_checks_every_pointer(void **state)
{
    fixture *fx = *state;
    memcpy(fx->memory + 100, "hello", 5);
    put_iovec(fx, 0, 100, 5);
    put_iovec(fx, 8, MEMORY_SIZE - 2, 4);   /* the second buffer runs off the end */
    wasm_slot args[] = {1, 0, 2, 200};
    assert_int_equal(wasi_fd_write(&fx->call, args), WASI_EFAULT);
    assert_int_equal(captured_size(fx), 0);     /* nothing half-written */

    wasm_slot bad_array[] = {1, MEMORY_SIZE - 8, 2, 200};     /* 16 bytes at size-8 */
    assert_int_equal(wasi_fd_write(&fx->call, bad_array), WASI_EFAULT);
    wasm_slot bad_result[] = {1, 0, 1, MEMORY_SIZE - 3};
    assert_int_equal(wasi_fd_write(&fx->call, bad_result), WASI_EFAULT);
    assert_int_equal(captured_size(fx), 0);

    /* The very last bytes of memory are fine. */
    memcpy(fx->memory + MEMORY_SIZE - 2, "!\n", 2);
    put_iovec(fx, 8, MEMORY_SIZE - 2, 2);
    assert_int_equal(wasi_fd_write(&fx->call, args), WASI_ESUCCESS);
    assert_int_equal(wasi_get_u32(fx->memory + 200), 7);
    size_t size;
    const uint8_t *out = wasi_captured_stdout(fx->ctx, &size);
    assert_int_equal(size, 7);
    assert_memory_equal(out, "hello!\n", 7);
}

static void test_fd_read_checks_buffers(void **state)
{
    fixture *fx = *state;
    put_iovec(fx, 0, MEMORY_SIZE - 1, 2);
    wasm_slot args[] = {0, 0, 1, 200};
    assert_int_equal(wasi_fd_read(&fx->call, args), WASI_EFAULT);
    put_iovec(fx, 0, 300, 16);
    assert_int_equal(wasi_fd_read(&fx->call, args), WASI_ESUCCESS);
    assert_int_equal(wasi_get_u32(fx->memory + 200), 0);    /* empty stdin: end of file */
}

static void test_args_and_environ_bounds(void **state)
{
    fixture *fx = *state;
    wasm_slot sizes[] = {0, 4};
    assert_int_equal(wasi_args_sizes_get(&fx->call, sizes), WASI_ESUCCESS);
    assert_int_equal(wasi_get_u32(fx->memory), 2);
    assert_int_equal(wasi_get_u32(fx->memory + 4), strlen("prog.wasm") + 1 + strlen("first") + 1);

    /* The strings need 16 bytes; two bytes short of the end is too little. */
    wasm_slot short_buf[] = {100, MEMORY_SIZE - 14};
    assert_int_equal(wasi_args_get(&fx->call, short_buf), WASI_EFAULT);
    wasm_slot bad_ptrs[] = {MEMORY_SIZE - 4, 200};
    assert_int_equal(wasi_args_get(&fx->call, bad_ptrs), WASI_EFAULT);

    wasm_slot good[] = {100, 200};
    assert_int_equal(wasi_args_get(&fx->call, good), WASI_ESUCCESS);
    assert_int_equal(wasi_get_u32(fx->memory + 100), 200);
    assert_int_equal(wasi_get_u32(fx->memory + 104), 210);
    assert_string_equal((const char *)fx->memory + 200, "prog.wasm");
    assert_string_equal((const char *)fx->memory + 210, "first");

    wasm_slot env[] = {300, 400};
    assert_int_equal(wasi_environ_get(&fx->call, env), WASI_ESUCCESS);
    assert_string_equal((const char *)fx->memory + wasi_get_u32(fx->memory + 300), "KEY=value");
    wasm_slot env_bad[] = {300, UINT32_MAX - 3};
    assert_int_equal(wasi_environ_get(&fx->call, env_bad), WASI_EFAULT);
}

static void test_output_pointers_out_of_bounds(void **state)
{
    fixture *fx = *state;
    wasm_slot clock[] = {1, 0, MEMORY_SIZE - 7};
    assert_int_equal(wasi_clock_time_get(&fx->call, clock), WASI_EFAULT);
    wasm_slot random[] = {MEMORY_SIZE - 16, 17};
    assert_int_equal(wasi_random_get(&fx->call, random), WASI_EFAULT);
    wasm_slot fdstat[] = {1, MEMORY_SIZE - 23};
    assert_int_equal(wasi_fd_fdstat_get(&fx->call, fdstat), WASI_EFAULT);
    wasm_slot filestat[] = {1, MEMORY_SIZE - 63};
    assert_int_equal(wasi_fd_filestat_get(&fx->call, filestat), WASI_EFAULT);

    /* In bounds they work, right to the end. */
    wasm_slot clock_ok[] = {1, 0, MEMORY_SIZE - 8};
    assert_int_equal(wasi_clock_time_get(&fx->call, clock_ok), WASI_ESUCCESS);
    assert_true(wasi_get_u64(fx->memory + MEMORY_SIZE - 8) > 0);
    memset(fx->memory + 1000, 0, 64);
    wasm_slot random_ok[] = {1000, 64};
    assert_int_equal(wasi_random_get(&fx->call, random_ok), WASI_ESUCCESS);
    uint8_t zeros[64] = {0};
    assert_memory_not_equal(fx->memory + 1000, zeros, 64);
}

static void test_path_pointers_out_of_bounds(void **state)
{
    fixture *fx = *state;
    wasm_error err;
    assert_true(wasi_ctx_preopen_dir(fx->ctx, "/tmp", "/tmp", &err));
    /* fd 3 is the preopen; a path that runs past the end of memory is refused
     * before any host call is made. */
    wasm_slot open_args[] = {3, 0, MEMORY_SIZE - 4, 8, 0, WASI_RIGHT_FD_READ, 0, 0, 100};
    assert_int_equal(wasi_path_open(&fx->call, open_args), WASI_EFAULT);
    wasm_slot mkdir_args[] = {3, UINT32_MAX, 2};
    assert_int_equal(wasi_path_create_directory(&fx->call, mkdir_args), WASI_EFAULT);
    wasm_slot prestat_name[] = {3, MEMORY_SIZE - 2, 4};
    assert_int_equal(wasi_fd_prestat_dir_name(&fx->call, prestat_name), WASI_EFAULT);
    wasm_slot readdir_args[] = {3, MEMORY_SIZE - 10, 64, 0, 100};
    assert_int_equal(wasi_fd_readdir(&fx->call, readdir_args), WASI_EFAULT);

    wasm_slot prestat[] = {3, 100};
    assert_int_equal(wasi_fd_prestat_get(&fx->call, prestat), WASI_ESUCCESS);
    assert_int_equal(fx->memory[100], 0);
    assert_int_equal(wasi_get_u32(fx->memory + 104), 4);
    wasm_slot name_ok[] = {3, MEMORY_SIZE - 4, 4};
    assert_int_equal(wasi_fd_prestat_dir_name(&fx->call, name_ok), WASI_ESUCCESS);
    assert_memory_equal(fx->memory + MEMORY_SIZE - 4, "/tmp", 4);
    wasm_slot not_preopen[] = {1, 100};
    assert_int_equal(wasi_fd_prestat_get(&fx->call, not_preopen), WASI_EBADF);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_guest_range_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fd_write_checks_every_pointer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fd_read_checks_buffers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_args_and_environ_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_pointers_out_of_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path_pointers_out_of_bounds, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
