/*
 * test_wasi_random_calls.c — a hostile guest. Every preview-1 function is called
 * many times with arguments drawn from the values that break careless code
 * (0, the last byte of memory, just past it, 0xffffffff, small fds, huge
 * lengths) over memory full of random bytes. Each call must return a WASI errno,
 * never crash or read outside memory (run it under ASan), and nothing outside
 * the preopened directory may change.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "wasm/wasi_internal.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MEMORY_SIZE 65536u
#define ROUNDS 40
#define CALLS_PER_FUNCTION 200

typedef struct named_impl {
    const char *name;
    const char *params;
    wasi_impl impl;
} named_impl;

#define WASI_NAMED(name, params, results) {#name, params, wasi_##name},
static const named_impl functions[] = {WASI_FUNCTIONS(WASI_NAMED)};
#undef WASI_NAMED

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t next_random(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static uint64_t hostile_value(bool is_i64)
{
    static const uint64_t edges[] = {0, 1, 2, 3, 4, 5, 7, 8, 24, 48, 64,
                                     MEMORY_SIZE - 1, MEMORY_SIZE, MEMORY_SIZE + 1,
                                     MEMORY_SIZE - 8, MEMORY_SIZE - 24, 0x7fffffff,
                                     0x80000000, 0xfffffff8, 0xffffffff};
    uint64_t r = next_random();
    switch (r % 8) {
    case 0:
        return edges[(r >> 8) % (sizeof edges / sizeof edges[0])];
    case 1:
        return (r >> 8) % MEMORY_SIZE;       /* somewhere in memory */
    case 2:
    case 3:
        return (r >> 8) % 8;                 /* small numbers: fds, flags, lengths */
    case 4:
    case 5:
        return ((r >> 8) % 16) * 4096;       /* one of the planted paths */
    case 6:
        return 3;                            /* the preopen */
    default:
        return is_i64 ? next_random() : (uint32_t)next_random();
    }
}

/* fd_allocate could reserve real disk space and poll_oneoff could sleep for
 * hours on a random timeout; both are exercised with bad pointers elsewhere. */
static bool skipped(const char *name)
{
    return !strcmp(name, "fd_allocate") || !strcmp(name, "poll_oneoff");
}

static bool tree_is(const char *dir, const char *only_entry)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int others = 0, found = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (!strcmp(e->d_name, only_entry))
            found++;
        else
            others++;
    }
    closedir(d);
    return found == 1 && others == 1;   /* the entry and the box itself */
}

static void test_random_calls_never_crash_or_escape(void **state)
{
    (void)state;
    char base[] = "/tmp/liquid_wasi_random_XXXXXX";
    assert_non_null(mkdtemp(base));
    char box[64], sentinel[64];
    snprintf(box, sizeof box, "%s/box", base);
    snprintf(sentinel, sizeof sentinel, "%s/sentinel", base);
    assert_int_equal(mkdir(box, 0755), 0);
    FILE *f = fopen(sentinel, "w");
    assert_non_null(f);
    fputs("untouched", f);
    fclose(f);

    uint32_t path_successes = 0;
    uint8_t *memory = malloc(MEMORY_SIZE);
    assert_non_null(memory);
    for (int round = 0; round < ROUNDS; round++) {
        wasi_ctx *ctx = wasi_ctx_new();
        wasm_error err;
        assert_true(wasi_ctx_preopen_dir(ctx, box, "/box", &err));
        assert_true(wasi_ctx_add_arg(ctx, "random"));
        assert_true(wasi_ctx_add_env(ctx, "A=B"));
        wasi_ctx_capture_stdout(ctx);
        wasi_ctx_capture_stderr(ctx);
        /* Random bytes, with short paths at each 4 KiB the calls may be pointed at. */
        for (uint32_t i = 0; i < MEMORY_SIZE; i += 8) {
            uint64_t r = next_random();
            memcpy(memory + i, &r, 8);
        }
        static const char *paths[] = {"f", "d", "d/f", "..", "d/../f", "l", "d/l", "./d/"};
        for (uint32_t at = 0; at < MEMORY_SIZE; at += 4096) {
            const char *path = paths[(at / 4096) % (sizeof paths / sizeof paths[0])];
            memcpy(memory + at, path, strlen(path));
        }
        wasi_call call = {.ctx = ctx, .memory = memory, .memory_size = MEMORY_SIZE};

        size_t count = sizeof functions / sizeof functions[0];
        for (size_t n = 0; n < count * CALLS_PER_FUNCTION; n++) {
            const named_impl *f = &functions[next_random() % count];
            if (skipped(f->name))
                continue;
            wasm_slot args[16] = {0};
            for (size_t p = 0; f->params[p]; p++)
                args[p] = hostile_value(f->params[p] == 'I');
            /* Keep the preopen, so path calls go on reaching the resolver. */
            bool closes = !strcmp(f->name, "fd_close") || !strcmp(f->name, "fd_renumber");
            if (closes && (args[0] == 3 || (f->name[3] == 'r' && args[1] == 3)))
                continue;
            call.exited = false;
            uint16_t e = f->impl(&call, args);
            if (e > WASI_ENOTCAPABLE)
                fail_msg("%s returned %u, not a WASI errno", f->name, e);
            if (e == WASI_ESUCCESS && !strncmp(f->name, "path_", 5))
                path_successes++;
        }
        wasi_ctx_free(ctx);
    }
    free(memory);
    /* The calls did reach the host file system, not only the argument checks. */
    assert_true(path_successes > 50);

    assert_true(tree_is(base, "sentinel"));
    f = fopen(sentinel, "r");
    char text[16] = {0};
    assert_non_null(f);
    assert_int_equal(fread(text, 1, sizeof text - 1, f), 9);
    fclose(f);
    assert_string_equal(text, "untouched");

    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", base);
    assert_int_equal(system(command), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_calls_never_crash_or_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
