/*
 * test_wasi_fd.c — what programs built with wasi-libc rely on: files opened under
 * a preopen can be written, sought, read back and stat'ed; directories list with
 * resumable cookies; fds renumber and close; the path_* calls change the
 * directory as asked; and open files survive wasi_ctx_save/wasi_ctx_restore.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "wasm/wasi_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MEMORY_SIZE 65536u
#define PATH_AT 1024u       /* where the tests put guest strings */
#define PATH2_AT 1536u
#define OUT_AT 512u         /* where results are written */
#define IOV_AT 256u
#define DATA_AT 4096u

typedef struct fixture {
    char dir[256];
    wasi_ctx *ctx;
    uint8_t memory[MEMORY_SIZE];
    wasi_call call;
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    strcpy(fx->dir, "/tmp/liquid_wasi_fd_XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    fx->ctx = wasi_ctx_new();
    wasm_error err;
    assert_true(wasi_ctx_preopen_dir(fx->ctx, fx->dir, "/work", &err));
    fx->call = (wasi_call){.ctx = fx->ctx, .memory = fx->memory, .memory_size = MEMORY_SIZE};
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    wasi_ctx_free(fx->ctx);
    char command[300];
    snprintf(command, sizeof command, "rm -rf '%s'", fx->dir);
    assert_int_equal(system(command), 0);
    free(fx);
    return 0;
}

static uint32_t put_string(fixture *fx, uint32_t at, const char *s)
{
    memcpy(fx->memory + at, s, strlen(s));
    return (uint32_t)strlen(s);
}

static uint32_t open_file(fixture *fx, uint32_t dirfd, const char *path, uint32_t oflags,
                          uint64_t rights, uint32_t fdflags)
{
    uint32_t len = put_string(fx, PATH_AT, path);
    wasm_slot args[] = {dirfd, WASI_LOOKUP_SYMLINK_FOLLOW, PATH_AT, len, oflags, rights,
                        WASI_RIGHTS_ALL, fdflags, OUT_AT};
    assert_int_equal(wasi_path_open(&fx->call, args), WASI_ESUCCESS);
    return wasi_get_u32(fx->memory + OUT_AT);
}

static uint32_t write_text(fixture *fx, uint32_t fd, const char *text)
{
    uint32_t len = put_string(fx, DATA_AT, text);
    wasi_put_u32(fx->memory + IOV_AT, DATA_AT);
    wasi_put_u32(fx->memory + IOV_AT + 4, len);
    wasm_slot args[] = {fd, IOV_AT, 1, OUT_AT};
    assert_int_equal(wasi_fd_write(&fx->call, args), WASI_ESUCCESS);
    return wasi_get_u32(fx->memory + OUT_AT);
}

static uint32_t read_into(fixture *fx, uint32_t fd, uint32_t max)
{
    memset(fx->memory + DATA_AT, 0, max + 1);
    wasi_put_u32(fx->memory + IOV_AT, DATA_AT);
    wasi_put_u32(fx->memory + IOV_AT + 4, max);
    wasm_slot args[] = {fd, IOV_AT, 1, OUT_AT};
    assert_int_equal(wasi_fd_read(&fx->call, args), WASI_ESUCCESS);
    return wasi_get_u32(fx->memory + OUT_AT);
}

static uint64_t seek(fixture *fx, uint32_t fd, int64_t offset, uint32_t whence)
{
    wasm_slot args[] = {fd, (uint64_t)offset, whence, OUT_AT};
    assert_int_equal(wasi_fd_seek(&fx->call, args), WASI_ESUCCESS);
    return wasi_get_u64(fx->memory + OUT_AT);
}

static const uint64_t read_write = WASI_RIGHT_FD_READ | WASI_RIGHT_FD_WRITE | WASI_RIGHT_FD_SEEK;

static void test_write_seek_read_stat(void **state)
{
    fixture *fx = *state;
    uint32_t fd = open_file(fx, 3, "notes.txt", WASI_OFLAG_CREAT, read_write, 0);
    assert_true(fd > 3);
    assert_int_equal(write_text(fx, fd, "hello, wasi"), 11);
    assert_int_equal(seek(fx, fd, 0, 1), 11);
    assert_int_equal(seek(fx, fd, 7, 0), 7);
    assert_int_equal(read_into(fx, fd, 100), 4);
    assert_string_equal((const char *)fx->memory + DATA_AT, "wasi");
    assert_int_equal(seek(fx, fd, -4, 2), 7);
    wasm_slot tell[] = {fd, OUT_AT};
    assert_int_equal(wasi_fd_tell(&fx->call, tell), WASI_ESUCCESS);
    assert_int_equal(wasi_get_u64(fx->memory + OUT_AT), 7);

    wasm_slot stat[] = {fd, 2048};
    assert_int_equal(wasi_fd_filestat_get(&fx->call, stat), WASI_ESUCCESS);
    assert_int_equal(fx->memory[2048 + 16], WASI_FILETYPE_REGULAR_FILE);
    assert_int_equal(wasi_get_u64(fx->memory + 2048 + 32), 11);

    wasm_slot truncate[] = {fd, 5};
    assert_int_equal(wasi_fd_filestat_set_size(&fx->call, truncate), WASI_ESUCCESS);
    /* pread does not move the offset. */
    wasi_put_u32(fx->memory + IOV_AT, DATA_AT);
    wasi_put_u32(fx->memory + IOV_AT + 4, 100);
    memset(fx->memory + DATA_AT, 0, 101);
    wasm_slot pread[] = {fd, IOV_AT, 1, 0, OUT_AT};
    assert_int_equal(wasi_fd_pread(&fx->call, pread), WASI_ESUCCESS);
    assert_string_equal((const char *)fx->memory + DATA_AT, "hello");
    assert_int_equal(seek(fx, fd, 0, 1), 7);

    /* A bad whence and a seek on a stream are refused. */
    wasm_slot bad_whence[] = {fd, 0, 3, OUT_AT};
    assert_int_equal(wasi_fd_seek(&fx->call, bad_whence), WASI_EINVAL);
    wasm_slot seek_stdin[] = {0, 0, 0, OUT_AT};
    assert_int_equal(wasi_fd_seek(&fx->call, seek_stdin), WASI_ESPIPE);

    wasm_slot close_args[] = {fd};
    assert_int_equal(wasi_fd_close(&fx->call, close_args), WASI_ESUCCESS);
    assert_int_equal(wasi_fd_close(&fx->call, close_args), WASI_EBADF);
    wasm_slot read_closed[] = {fd, IOV_AT, 1, OUT_AT};
    assert_int_equal(wasi_fd_read(&fx->call, read_closed), WASI_EBADF);
}

static void test_append_flag(void **state)
{
    fixture *fx = *state;
    uint32_t fd = open_file(fx, 3, "log.txt", WASI_OFLAG_CREAT, read_write, 0);
    write_text(fx, fd, "one\n");
    seek(fx, fd, 0, 0);
    wasm_slot flags[] = {fd, WASI_FDFLAG_APPEND};
    assert_int_equal(wasi_fd_fdstat_set_flags(&fx->call, flags), WASI_ESUCCESS);
    write_text(fx, fd, "two\n");
    wasm_slot fdstat[] = {fd, 2048};
    assert_int_equal(wasi_fd_fdstat_get(&fx->call, fdstat), WASI_ESUCCESS);
    assert_int_equal(fx->memory[2048 + 2] & WASI_FDFLAG_APPEND, WASI_FDFLAG_APPEND);

    char path[300], text[32] = {0};
    snprintf(path, sizeof path, "%s/log.txt", fx->dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_int_equal(fread(text, 1, sizeof text - 1, f), 8);
    fclose(f);
    assert_string_equal(text, "one\ntwo\n");
}

static void test_readdir_resumes_from_cookies(void **state)
{
    fixture *fx = *state;
    const char *names[] = {"alpha", "beta", "gamma", "delta", "epsilon"};
    for (int i = 0; i < 5; i++)
        open_file(fx, 3, names[i], WASI_OFLAG_CREAT, WASI_RIGHT_FD_WRITE, 0);

    /* Read with a buffer that holds about one entry at a time, continuing from the
     * last complete entry's d_next, as wasi-libc does. */
    int seen[5] = {0};
    int dots = 0, total = 0;
    uint64_t cookie = 0;
    for (int rounds = 0; rounds < 50; rounds++) {
        wasm_slot args[] = {3, 8192, 40, cookie, OUT_AT};
        assert_int_equal(wasi_fd_readdir(&fx->call, args), WASI_ESUCCESS);
        uint32_t used = wasi_get_u32(fx->memory + OUT_AT);
        uint32_t pos = 0;
        while (pos + 24 <= used) {
            const uint8_t *entry = fx->memory + 8192 + pos;
            uint32_t namlen = wasi_get_u32(entry + 16);
            if (pos + 24 + namlen > used)
                break;  /* truncated: ask again from the previous cookie */
            char name[64] = {0};
            memcpy(name, entry + 24, namlen);
            if (!strcmp(name, ".") || !strcmp(name, ".."))
                dots++;
            for (int i = 0; i < 5; i++)
                if (!strcmp(name, names[i])) {
                    seen[i]++;
                    assert_int_equal(entry[20], WASI_FILETYPE_REGULAR_FILE);
                }
            total++;
            cookie = wasi_get_u64(entry);
            pos += 24 + namlen;
        }
        if (used < 40)
            break;  /* a short buffer means the end */
    }
    for (int i = 0; i < 5; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(dots, 2);
    assert_int_equal(total, 7);

    wasm_slot not_dir[] = {1, 8192, 40, 0, OUT_AT};
    assert_int_equal(wasi_fd_readdir(&fx->call, not_dir), WASI_ENOTDIR);
}

static void test_renumber(void **state)
{
    fixture *fx = *state;
    uint32_t a = open_file(fx, 3, "a.txt", WASI_OFLAG_CREAT, read_write, 0);
    uint32_t b = open_file(fx, 3, "b.txt", WASI_OFLAG_CREAT, read_write, 0);
    write_text(fx, a, "from a");
    wasm_slot renumber[] = {a, b};
    assert_int_equal(wasi_fd_renumber(&fx->call, renumber), WASI_ESUCCESS);
    wasm_slot close_a[] = {a};
    assert_int_equal(wasi_fd_close(&fx->call, close_a), WASI_EBADF);    /* moved away */
    seek(fx, b, 0, 0);
    assert_int_equal(read_into(fx, b, 100), 6);
    assert_string_equal((const char *)fx->memory + DATA_AT, "from a");
    wasm_slot to_missing[] = {b, 99};
    assert_int_equal(wasi_fd_renumber(&fx->call, to_missing), WASI_EBADF);
}

static void test_directory_operations(void **state)
{
    fixture *fx = *state;
    uint32_t len = put_string(fx, PATH_AT, "made");
    wasm_slot mkdir_args[] = {3, PATH_AT, len};
    assert_int_equal(wasi_path_create_directory(&fx->call, mkdir_args), WASI_ESUCCESS);
    assert_int_equal(wasi_path_create_directory(&fx->call, mkdir_args), WASI_EEXIST);

    /* Open the new directory and create a file relative to it. */
    uint32_t dirfd = open_file(fx, 3, "made", WASI_OFLAG_DIRECTORY, WASI_RIGHT_FD_READDIR, 0);
    uint32_t fd = open_file(fx, dirfd, "inner.txt", WASI_OFLAG_CREAT, WASI_RIGHT_FD_WRITE, 0);
    write_text(fx, fd, "x");
    /* Relative to a subdirectory, ".." still may not leave the preopen's tree... */
    len = put_string(fx, PATH_AT, "../../x");
    wasm_slot escape[] = {dirfd, 0, PATH_AT, len, 0, WASI_RIGHT_FD_READ, 0, 0, OUT_AT};
    assert_int_equal(wasi_path_open(&fx->call, escape), WASI_ENOTCAPABLE);

    wasm_slot rmdir_nonempty[] = {3, PATH_AT, put_string(fx, PATH_AT, "made")};
    assert_int_equal(wasi_path_remove_directory(&fx->call, rmdir_nonempty), WASI_ENOTEMPTY);

    uint32_t from = put_string(fx, PATH_AT, "made/inner.txt");
    uint32_t to = put_string(fx, PATH2_AT, "moved.txt");
    wasm_slot rename[] = {3, PATH_AT, from, 3, PATH2_AT, to};
    assert_int_equal(wasi_path_rename(&fx->call, rename), WASI_ESUCCESS);

    len = put_string(fx, PATH_AT, "moved.txt");
    wasm_slot stat[] = {3, 0, PATH_AT, len, 2048};
    assert_int_equal(wasi_path_filestat_get(&fx->call, stat), WASI_ESUCCESS);
    assert_int_equal(wasi_get_u64(fx->memory + 2048 + 32), 1);

    uint32_t target = put_string(fx, PATH_AT, "moved.txt");
    uint32_t name = put_string(fx, PATH2_AT, "link.txt");
    wasm_slot symlink[] = {PATH_AT, target, 3, PATH2_AT, name};
    assert_int_equal(wasi_path_symlink(&fx->call, symlink), WASI_ESUCCESS);
    wasm_slot lstat_args[] = {3, 0, PATH2_AT, name, 2048};
    assert_int_equal(wasi_path_filestat_get(&fx->call, lstat_args), WASI_ESUCCESS);
    assert_int_equal(fx->memory[2048 + 16], WASI_FILETYPE_SYMBOLIC_LINK);
    wasm_slot follow_args[] = {3, WASI_LOOKUP_SYMLINK_FOLLOW, PATH2_AT, name, 2048};
    assert_int_equal(wasi_path_filestat_get(&fx->call, follow_args), WASI_ESUCCESS);
    assert_int_equal(fx->memory[2048 + 16], WASI_FILETYPE_REGULAR_FILE);

    wasm_slot unlink[] = {3, PATH_AT, put_string(fx, PATH_AT, "moved.txt")};
    assert_int_equal(wasi_path_unlink_file(&fx->call, unlink), WASI_ESUCCESS);
    assert_int_equal(wasi_path_unlink_file(&fx->call, unlink), WASI_ENOENT);
    wasm_slot rmdir[] = {3, PATH_AT, put_string(fx, PATH_AT, "made")};
    assert_int_equal(wasi_path_remove_directory(&fx->call, rmdir), WASI_ESUCCESS);
}

static void test_preopen_reports_directory_rights(void **state)
{
    fixture *fx = *state;
    wasm_slot fdstat[] = {3, 2048};
    assert_int_equal(wasi_fd_fdstat_get(&fx->call, fdstat), WASI_ESUCCESS);
    assert_int_equal(fx->memory[2048], WASI_FILETYPE_DIRECTORY);
    /* wasi-libc derives a new file's rights from the directory's inheriting rights. */
    assert_int_equal(wasi_get_u64(fx->memory + 2048 + 16) & read_write, read_write);

    /* Rights can be dropped, never gained back. */
    wasm_slot drop[] = {3, WASI_RIGHT_FD_READDIR, WASI_RIGHTS_ALL};
    assert_int_equal(wasi_fd_fdstat_set_rights(&fx->call, drop), WASI_ESUCCESS);
    wasm_slot regain[] = {3, WASI_RIGHTS_ALL, WASI_RIGHTS_ALL};
    assert_int_equal(wasi_fd_fdstat_set_rights(&fx->call, regain), WASI_ENOTCAPABLE);
}

static void test_save_and_restore_open_files(void **state)
{
    fixture *fx = *state;
    uint32_t dirfd = open_file(fx, 3, ".", WASI_OFLAG_DIRECTORY, WASI_RIGHT_FD_READDIR, 0);
    uint32_t len = put_string(fx, PATH_AT, "sub");
    wasm_slot mkdir_args[] = {3, PATH_AT, len};
    assert_int_equal(wasi_path_create_directory(&fx->call, mkdir_args), WASI_ESUCCESS);
    uint32_t fd = open_file(fx, dirfd, "sub/data.txt", WASI_OFLAG_CREAT, read_write, 0);
    write_text(fx, fd, "0123456789");
    seek(fx, fd, 4, 0);

    uint8_t *saved;
    size_t size;
    wasm_error err;
    assert_true(wasi_ctx_save(fx->ctx, &saved, &size, &err));

    /* A new context with the same preopen (another process, another device). */
    wasi_ctx *restored = wasi_ctx_new();
    assert_true(wasi_ctx_preopen_dir(restored, fx->dir, "/work", &err));
    assert_true(wasi_ctx_restore(restored, saved, size, &err));
    wasi_call call = {.ctx = restored, .memory = fx->memory, .memory_size = MEMORY_SIZE};
    wasi_put_u32(fx->memory + IOV_AT, DATA_AT);
    wasi_put_u32(fx->memory + IOV_AT + 4, 100);
    memset(fx->memory + DATA_AT, 0, 101);
    wasm_slot read_args[] = {fd, IOV_AT, 1, OUT_AT};
    assert_int_equal(wasi_fd_read(&call, read_args), WASI_ESUCCESS);
    assert_string_equal((const char *)fx->memory + DATA_AT, "456789");   /* same offset */
    wasm_slot fdstat[] = {dirfd, 2048};
    assert_int_equal(wasi_fd_fdstat_get(&call, fdstat), WASI_ESUCCESS);
    assert_int_equal(fx->memory[2048], WASI_FILETYPE_DIRECTORY);
    wasi_ctx_free(restored);

    /* Without the preopen the files were under, restoring fails and says why. */
    wasi_ctx *bare = wasi_ctx_new();
    assert_false(wasi_ctx_restore(bare, saved, size, &err));
    assert_non_null(strstr(err.message, "/work"));
    wasi_ctx_free(bare);

    /* Truncated or altered bytes are refused, not misread. */
    wasi_ctx *other = wasi_ctx_new();
    assert_true(wasi_ctx_preopen_dir(other, fx->dir, "/work", &err));
    for (size_t cut = 0; cut < size; cut++)
        assert_false(wasi_ctx_restore(other, saved, cut, &err));
    saved[0] ^= 0xff;
    assert_false(wasi_ctx_restore(other, saved, size, &err));
    wasi_ctx_free(other);
    free(saved);
}

/* One subscription (48 bytes) at `at`: a relative clock or an fd. */
static void put_clock_subscription(fixture *fx, uint32_t at, uint64_t userdata, uint64_t ns)
{
    memset(fx->memory + at, 0, 48);
    wasi_put_u64(fx->memory + at, userdata);
    fx->memory[at + 8] = 0;                     /* clock */
    wasi_put_u32(fx->memory + at + 16, 1);      /* monotonic */
    wasi_put_u64(fx->memory + at + 24, ns);
}

static uint64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_poll_sleeps_for_the_soonest_clock(void **state)
{
    fixture *fx = *state;
    put_clock_subscription(fx, 8192, 11, 400 * 1000000ull);
    put_clock_subscription(fx, 8192 + 48, 22, 60 * 1000000ull);
    wasm_slot args[] = {8192, 16384, 2, OUT_AT};
    uint64_t start = monotonic_ms();
    assert_int_equal(wasi_poll_oneoff(&fx->call, args), WASI_ESUCCESS);
    uint64_t took = monotonic_ms() - start;
    assert_true(took >= 60 && took < 350);
    assert_int_equal(wasi_get_u32(fx->memory + OUT_AT), 1);
    assert_int_equal(wasi_get_u64(fx->memory + 16384), 22);      /* userdata */
    assert_int_equal(fx->memory[16384 + 10], 0);                   /* a clock event */
    assert_int_equal(wasi_get_u32(fx->memory + 16384 + 8) & 0xffff, 0);
}

static void test_poll_answers_fd_subscriptions_at_once(void **state)
{
    fixture *fx = *state;
    put_clock_subscription(fx, 8192, 1, 5ull * 1000000000ull);   /* 5 s: must not wait */
    memset(fx->memory + 8192 + 48, 0, 96);
    wasi_put_u64(fx->memory + 8192 + 48, 2);
    fx->memory[8192 + 48 + 8] = 2;                                 /* fd_write */
    wasi_put_u32(fx->memory + 8192 + 48 + 16, 1);
    wasi_put_u64(fx->memory + 8192 + 96, 3);
    fx->memory[8192 + 96 + 8] = 1;                                 /* fd_read */
    wasi_put_u32(fx->memory + 8192 + 96 + 16, 77);                 /* not open */
    wasm_slot args[] = {8192, 16384, 3, OUT_AT};
    uint64_t start = monotonic_ms();
    assert_int_equal(wasi_poll_oneoff(&fx->call, args), WASI_ESUCCESS);
    assert_true(monotonic_ms() - start < 1000);
    assert_int_equal(wasi_get_u32(fx->memory + OUT_AT), 2);
    assert_int_equal(wasi_get_u64(fx->memory + 16384), 2);
    assert_int_equal(fx->memory[16384 + 8], 0);
    assert_int_equal(wasi_get_u64(fx->memory + 16384 + 32), 3);
    assert_int_equal(fx->memory[16384 + 32 + 8], WASI_EBADF);

    wasm_slot none[] = {8192, 16384, 0, OUT_AT};
    assert_int_equal(wasi_poll_oneoff(&fx->call, none), WASI_EINVAL);
    wasm_slot out_of_bounds[] = {MEMORY_SIZE - 47, 16384, 1, OUT_AT};
    assert_int_equal(wasi_poll_oneoff(&fx->call, out_of_bounds), WASI_EFAULT);
    wasm_slot events_out[] = {8192, MEMORY_SIZE - 95, 3, OUT_AT};
    assert_int_equal(wasi_poll_oneoff(&fx->call, events_out), WASI_EFAULT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_seek_read_stat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readdir_resumes_from_cookies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renumber, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory_operations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_preopen_reports_directory_rights, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_save_and_restore_open_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poll_sleeps_for_the_soonest_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poll_answers_fd_subscriptions_at_once, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
