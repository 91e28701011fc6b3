/*
 * test_wasi_path.c — the WASI sandbox: every path a guest gives resolves beneath
 * its preopened directory, whatever mix of `..`, absolute paths and symbolic
 * links (direct, intermediate, nested, absolute) it uses, and nothing outside is
 * read, created or changed.
 *
 * Layout made for each test, in a fresh temporary directory BASE:
 *   BASE/outside                    "secret", must never be reached
 *   BASE/box/                       the preopen
 *     inside.txt                    "inside"
 *     sub/deeper/
 *     sub/link-up     -> ../inside.txt        (inside: allowed)
 *     link-in         -> sub                  (inside: allowed)
 *     link-out        -> ../outside
 *     link-abs        -> BASE/outside         (absolute)
 *     link-dir        -> ..
 *     link-nested     -> link-out
 *     link-deep-out   -> sub/deeper/../../../outside
 *     loop1 -> loop2, loop2 -> loop1
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "wasm/wasi_internal.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fixture {
    char base[256];
    char box[PATH_MAX];
    int box_fd;
    wasi_ctx *ctx;
    uint32_t preopen;           /* the guest fd of the box */
    uint8_t memory[65536];
    wasi_call call;
} fixture;

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void read_text(const char *path, char *out, size_t size)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, size - 1, f);
    out[n] = '\0';
    fclose(f);
}

static void make_link(const fixture *fx, const char *target, const char *name)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%s", fx->box, name);
    assert_int_equal(symlink(target, path), 0);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    strcpy(fx->base, "/tmp/liquid_wasi_path_XXXXXX");
    assert_non_null(mkdtemp(fx->base));
    snprintf(fx->box, sizeof fx->box, "%s/box", fx->base);
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/outside", fx->base);
    write_text(path, "secret");
    assert_int_equal(mkdir(fx->box, 0755), 0);
    snprintf(path, sizeof path, "%s/inside.txt", fx->box);
    write_text(path, "inside");
    snprintf(path, sizeof path, "%s/sub", fx->box);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/sub/deeper", fx->box);
    assert_int_equal(mkdir(path, 0755), 0);
    make_link(fx, "../inside.txt", "sub/link-up");
    make_link(fx, "sub", "link-in");
    make_link(fx, "../outside", "link-out");
    snprintf(path, sizeof path, "%s/outside", fx->base);
    make_link(fx, path, "link-abs");
    make_link(fx, "..", "link-dir");
    make_link(fx, "link-out", "link-nested");
    make_link(fx, "sub/deeper/../../../outside", "link-deep-out");
    make_link(fx, "loop2", "loop1");
    make_link(fx, "loop1", "loop2");

    fx->box_fd = open(fx->box, O_RDONLY | O_DIRECTORY);
    assert_true(fx->box_fd >= 0);
    fx->ctx = wasi_ctx_new();
    assert_non_null(fx->ctx);
    wasm_error err;
    assert_true(wasi_ctx_preopen_dir(fx->ctx, fx->box, "/box", &err));
    fx->preopen = 3;
    fx->call = (wasi_call){.ctx = fx->ctx, .memory = fx->memory,
                           .memory_size = sizeof fx->memory};
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    close(fx->box_fd);
    wasi_ctx_free(fx->ctx);
    char command[PATH_MAX + 16];
    snprintf(command, sizeof command, "rm -rf '%s'", fx->base);
    assert_int_equal(system(command), 0);
    free(fx);
    return 0;
}

static uint16_t resolve(fixture *fx, const char *path, bool follow, wasi_resolved *out)
{
    return wasi_path_resolve(fx->box_fd, path, strlen(path), follow, out);
}

static uint16_t resolve_only(fixture *fx, const char *path, bool follow)
{
    wasi_resolved r;
    uint16_t err = resolve(fx, path, follow, &r);
    wasi_resolved_release(&r);
    return err;
}

/* The inode of name beneath the resolved directory, to see where it really is. */
static ino_t inode_at(int dirfd, const char *name)
{
    struct stat st;
    assert_int_equal(fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
    return st.st_ino;
}

static ino_t inode_of(const fixture *fx, const char *relative)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%s", fx->box, relative);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    return st.st_ino;
}

/* ------------------------------------------------------------ resolution */

static void test_plain_paths_resolve_inside(void **state)
{
    fixture *fx = *state;
    wasi_resolved r;
    assert_int_equal(resolve(fx, "inside.txt", true, &r), WASI_ESUCCESS);
    assert_string_equal(r.name, "inside.txt");
    assert_int_equal(r.dirfd, fx->box_fd);
    wasi_resolved_release(&r);

    assert_int_equal(resolve(fx, "sub/deeper/../../inside.txt", true, &r), WASI_ESUCCESS);
    assert_int_equal(inode_at(r.dirfd, r.name), inode_of(fx, "inside.txt"));
    wasi_resolved_release(&r);

    assert_int_equal(resolve(fx, "./sub//deeper/", true, &r), WASI_ESUCCESS);
    assert_string_equal(r.name, "deeper");
    assert_true(r.trailing_slash);
    wasi_resolved_release(&r);

    /* "sub/.." is the preopen itself, named "." rather than with a host "..". */
    assert_int_equal(resolve(fx, "sub/..", true, &r), WASI_ESUCCESS);
    assert_string_equal(r.name, ".");
    assert_int_equal(inode_at(r.dirfd, r.name), inode_of(fx, "."));
    wasi_resolved_release(&r);
}

static void test_dotdot_above_the_preopen_is_refused(void **state)
{
    fixture *fx = *state;
    assert_int_equal(resolve_only(fx, "..", true), WASI_ENOTCAPABLE);
    assert_int_equal(resolve_only(fx, "../outside", true), WASI_ENOTCAPABLE);
    assert_int_equal(resolve_only(fx, "sub/../../outside", true), WASI_ENOTCAPABLE);
    assert_int_equal(resolve_only(fx, "sub/deeper/../../../box/inside.txt", true),
                     WASI_ENOTCAPABLE);
    assert_int_equal(resolve_only(fx, "./../outside", false), WASI_ENOTCAPABLE);
}

static void test_absolute_paths_are_refused(void **state)
{
    fixture *fx = *state;
    char path[PATH_MAX * 2];
    assert_int_equal(resolve_only(fx, "/etc/passwd", true), WASI_ENOTCAPABLE);
    assert_int_equal(resolve_only(fx, "/", true), WASI_ENOTCAPABLE);
    snprintf(path, sizeof path, "%s/inside.txt", fx->box); /* even the box's own */
    assert_int_equal(resolve_only(fx, path, true), WASI_ENOTCAPABLE);
}

static void test_symlinks_out_are_refused(void **state)
{
    fixture *fx = *state;
    assert_int_equal(resolve_only(fx, "link-out", true), WASI_ENOTCAPABLE);
    assert_int_equal(resolve_only(fx, "link-abs", true), WASI_ENOTCAPABLE);
    assert_int_equal(resolve_only(fx, "link-deep-out", true), WASI_ENOTCAPABLE);
    /* Not following the final link names the link itself, which is inside. */
    wasi_resolved r;
    assert_int_equal(resolve(fx, "link-out", false, &r), WASI_ESUCCESS);
    assert_string_equal(r.name, "link-out");
    assert_int_equal(r.dirfd, fx->box_fd);
    wasi_resolved_release(&r);
}

static void test_intermediate_symlinks_out_are_refused(void **state)
{
    fixture *fx = *state;
    /* An intermediate link is always followed, so it must stay inside too. */
    assert_int_equal(resolve_only(fx, "link-dir/outside", false), WASI_ENOTCAPABLE);
    assert_int_equal(resolve_only(fx, "link-dir/box/inside.txt", false), WASI_ENOTCAPABLE);
    assert_int_equal(resolve_only(fx, "link-abs/x", false), WASI_ENOTCAPABLE);
    assert_int_equal(resolve_only(fx, "sub/../link-dir/outside", true), WASI_ENOTCAPABLE);
}

static void test_nested_symlinks_out_are_refused(void **state)
{
    fixture *fx = *state;
    assert_int_equal(resolve_only(fx, "link-nested", true), WASI_ENOTCAPABLE);
    make_link(fx, "link-nested", "link-twice");
    make_link(fx, "link-in/../link-twice", "link-thrice");
    assert_int_equal(resolve_only(fx, "link-thrice", true), WASI_ENOTCAPABLE);
    assert_int_equal(resolve_only(fx, "loop1", true), WASI_ELOOP);
    assert_int_equal(resolve_only(fx, "loop1/x", false), WASI_ELOOP);
}

static void test_symlinks_inside_are_followed(void **state)
{
    fixture *fx = *state;
    wasi_resolved r;
    assert_int_equal(resolve(fx, "link-in/deeper", true, &r), WASI_ESUCCESS);
    assert_int_equal(inode_at(r.dirfd, r.name), inode_of(fx, "sub/deeper"));
    wasi_resolved_release(&r);

    /* sub/link-up -> ../inside.txt climbs out of sub but not out of the box. */
    assert_int_equal(resolve(fx, "sub/link-up", true, &r), WASI_ESUCCESS);
    assert_string_equal(r.name, "inside.txt");
    assert_int_equal(inode_at(r.dirfd, r.name), inode_of(fx, "inside.txt"));
    wasi_resolved_release(&r);

    assert_int_equal(resolve(fx, "link-in/link-up", true, &r), WASI_ESUCCESS);
    assert_int_equal(inode_at(r.dirfd, r.name), inode_of(fx, "inside.txt"));
    wasi_resolved_release(&r);
}

static void test_malformed_paths(void **state)
{
    fixture *fx = *state;
    wasi_resolved r;
    assert_int_equal(wasi_path_resolve(fx->box_fd, "", 0, true, &r), WASI_ENOENT);
    assert_int_equal(wasi_path_resolve(fx->box_fd, "inside.txt\0/../x", 16, true, &r),
                     WASI_EILSEQ);
    assert_int_equal(resolve_only(fx, "inside.txt/x", true), WASI_ENOTDIR);
    assert_int_equal(resolve_only(fx, "missing/x", true), WASI_ENOENT);
    /* Longer than any path the guest could mean: refused before it is copied. */
    static char huge[WASI_MAX_PATH + 2];
    memset(huge, 'a', sizeof huge - 1);
    assert_int_equal(resolve_only(fx, huge, true), WASI_ENAMETOOLONG);
    huge[NAME_MAX + 1] = 0;  /* one component longer than NAME_MAX */
    assert_int_equal(resolve_only(fx, huge, true), WASI_ENAMETOOLONG);
    /* Not NUL-terminated: only len bytes count. */
    assert_int_equal(wasi_path_resolve(fx->box_fd, "inside.txtGARBAGE", 10, true, &r),
                     WASI_ESUCCESS);
    assert_string_equal(r.name, "inside.txt");
    wasi_resolved_release(&r);
}

/* ------------------------------------------------- through the guest calls */

static uint32_t put_string(fixture *fx, uint32_t at, const char *s)
{
    memcpy(fx->memory + at, s, strlen(s));
    return (uint32_t)strlen(s);
}

static uint16_t guest_open(fixture *fx, const char *path, uint32_t oflags, uint64_t rights,
                           uint32_t *fd)
{
    uint32_t len = put_string(fx, 1024, path);
    wasm_slot args[] = {fx->preopen, WASI_LOOKUP_SYMLINK_FOLLOW, 1024, len, oflags,
                        rights, WASI_RIGHTS_ALL, 0, 512};
    uint16_t err = wasi_path_open(&fx->call, args);
    *fd = wasi_get_u32(fx->memory + 512);
    return err;
}

static bool exists_in_base(const fixture *fx, const char *name)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%s", fx->base, name);
    struct stat st;
    return lstat(path, &st) == 0;
}

static void test_guest_calls_cannot_touch_outside(void **state)
{
    fixture *fx = *state;
    uint32_t fd;
    const uint64_t write = WASI_RIGHT_FD_WRITE, read = WASI_RIGHT_FD_READ;
    assert_int_equal(guest_open(fx, "inside.txt", 0, read, &fd), WASI_ESUCCESS);
    assert_int_equal(guest_open(fx, "../outside", 0, read, &fd), WASI_ENOTCAPABLE);
    assert_int_equal(guest_open(fx, "link-out", WASI_OFLAG_TRUNC, write, &fd),
                     WASI_ENOTCAPABLE);
    assert_int_equal(guest_open(fx, "../created", WASI_OFLAG_CREAT, write, &fd),
                     WASI_ENOTCAPABLE);
    assert_int_equal(guest_open(fx, "link-dir/created", WASI_OFLAG_CREAT, write, &fd),
                     WASI_ENOTCAPABLE);

    uint32_t len = put_string(fx, 1024, "../made");
    wasm_slot mkdir_args[] = {fx->preopen, 1024, len};
    assert_int_equal(wasi_path_create_directory(&fx->call, mkdir_args), WASI_ENOTCAPABLE);

    uint32_t old_len = put_string(fx, 1024, "inside.txt");
    uint32_t new_len = put_string(fx, 2048, "../moved");
    wasm_slot rename_args[] = {fx->preopen, 1024, old_len, fx->preopen, 2048, new_len};
    assert_int_equal(wasi_path_rename(&fx->call, rename_args), WASI_ENOTCAPABLE);

    /* A hard link made by following link-out would put the outside file inside. */
    old_len = put_string(fx, 1024, "link-out");
    new_len = put_string(fx, 2048, "hard");
    wasm_slot link_args[] = {fx->preopen, WASI_LOOKUP_SYMLINK_FOLLOW, 1024, old_len,
                             fx->preopen, 2048, new_len};
    assert_int_equal(wasi_path_link(&fx->call, link_args), WASI_ENOTCAPABLE);

    uint32_t target_len = put_string(fx, 1024, "/etc");
    new_len = put_string(fx, 2048, "abs-made");
    wasm_slot symlink_args[] = {1024, target_len, fx->preopen, 2048, new_len};
    assert_int_equal(wasi_path_symlink(&fx->call, symlink_args), WASI_ENOTCAPABLE);

    len = put_string(fx, 1024, "link-out");
    wasm_slot stat_args[] = {fx->preopen, WASI_LOOKUP_SYMLINK_FOLLOW, 1024, len, 4096};
    assert_int_equal(wasi_path_filestat_get(&fx->call, stat_args), WASI_ENOTCAPABLE);

    len = put_string(fx, 1024, "../outside");
    wasm_slot unlink_args[] = {fx->preopen, 1024, len};
    assert_int_equal(wasi_path_unlink_file(&fx->call, unlink_args), WASI_ENOTCAPABLE);

    /* Nothing new appeared beside the box, and the secret is untouched. */
    assert_false(exists_in_base(fx, "created"));
    assert_false(exists_in_base(fx, "made"));
    assert_false(exists_in_base(fx, "moved"));
    char path[PATH_MAX * 2], text[64];
    snprintf(path, sizeof path, "%s/outside", fx->base);
    read_text(path, text, sizeof text);
    assert_string_equal(text, "secret");
    snprintf(path, sizeof path, "%s/inside.txt", fx->box);
    read_text(path, text, sizeof text);
    assert_string_equal(text, "inside");
}

static void test_guest_calls_work_inside(void **state)
{
    fixture *fx = *state;
    uint32_t fd;
    assert_int_equal(guest_open(fx, "sub/new.txt", WASI_OFLAG_CREAT | WASI_OFLAG_EXCL,
                                WASI_RIGHT_FD_WRITE, &fd),
                     WASI_ESUCCESS);
    /* A dangling link inside is followed to create its target, inside. */
    make_link(fx, "sub/via-link.txt", "dangling");
    assert_int_equal(guest_open(fx, "dangling", WASI_OFLAG_CREAT, WASI_RIGHT_FD_WRITE, &fd),
                     WASI_ESUCCESS);
    struct stat st;
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/sub/via-link.txt", fx->box);
    assert_int_equal(stat(path, &st), 0);
    snprintf(path, sizeof path, "%s/sub/new.txt", fx->box);
    assert_int_equal(stat(path, &st), 0);

    /* readlink reports the link's text; it does not follow it. */
    uint32_t len = put_string(fx, 1024, "link-out");
    wasm_slot readlink_args[] = {fx->preopen, 1024, len, 2048, 64, 512};
    assert_int_equal(wasi_path_readlink(&fx->call, readlink_args), WASI_ESUCCESS);
    assert_int_equal(wasi_get_u32(fx->memory + 512), strlen("../outside"));
    assert_memory_equal(fx->memory + 2048, "../outside", strlen("../outside"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_paths_resolve_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dotdot_above_the_preopen_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_absolute_paths_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlinks_out_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intermediate_symlinks_out_are_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_nested_symlinks_out_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlinks_inside_are_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_calls_cannot_touch_outside, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_guest_calls_work_inside, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
