/*
 * test_fs.c — directories, atomic writes (a reader never sees a half-written file),
 * bounded reads, copies, tree removal that does not follow links, and the names
 * that keep path traversal out.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/fs.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "test_http_util.h"

static int make_dir(void **state)
{
    *state = test_make_temp_dir();
    return *state ? 0 : -1;
}

static int drop_dir(void **state)
{
    char err[512];
    if (!fs_remove_tree(*state, err, sizeof err))
        fprintf(stderr, "cleanup: %s\n", err);
    free(*state);
    return 0;
}

static char *path_in(const char *dir, const char *name)
{
    char *p = fs_join(dir, name);
    assert_non_null(p);
    return p;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_mkdir_p(void **state)
{
    const char *dir = *state;
    char err[512];
    char *deep = path_in(dir, "a/b//c/d/");
    assert_true(fs_mkdir_p(deep, 0755, err, sizeof err));
    assert_true(fs_is_dir(deep));
    assert_true(fs_mkdir_p(deep, 0755, err, sizeof err));   /* again: fine */
    free(deep);

    char *file = path_in(dir, "plain");
    write_text(file, "x");
    char *under_file = path_in(dir, "plain/sub");
    assert_false(fs_mkdir_p(under_file, 0755, err, sizeof err));
    assert_int_equal(errno, ENOTDIR);
    assert_non_null(strstr(err, "plain"));
    assert_false(fs_mkdir_p(file, 0755, err, sizeof err));
    free(file);
    free(under_file);
}

static void test_write_atomic_and_read(void **state)
{
    const char *dir = *state;
    char err[512];
    char *path = path_in(dir, "deployment.json");
    assert_true(fs_write_atomic(path, "{\"v\":1}", 7, 0600, err, sizeof err));
    assert_true(fs_write_atomic(path, "{\"v\":22}", 8, 0640, err, sizeof err));
    char *data;
    size_t size;
    assert_true(fs_read_file(path, 0, &data, &size, err, sizeof err));
    assert_int_equal(size, 8);
    assert_string_equal(data, "{\"v\":22}");
    free(data);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    /* No temporary file is left beside it. */
    assert_int_equal(test_count_entries(dir), 1);

    /* A directory that does not exist: an error naming the path, nothing created. */
    char *missing = path_in(dir, "nope/file");
    assert_false(fs_write_atomic(missing, "x", 1, 0644, err, sizeof err));
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(err, "nope/file"));
    free(missing);
    free(path);
}

typedef struct race {
    const char *path;
    atomic_bool stop;
    int bad_reads;
    int reads;
} race;

static void *read_constantly(void *arg)
{
    race *r = arg;
    while (!atomic_load(&r->stop)) {
        char *data;
        size_t size;
        if (!fs_read_file(r->path, 0, &data, &size, NULL, 0)) {
            r->bad_reads++;   /* the file must always exist */
            continue;
        }
        r->reads++;
        /* Either version, whole: 4000 'a' or 9000 'b'. */
        bool whole_a = size == 4000 && data[0] == 'a' && data[3999] == 'a';
        bool whole_b = size == 9000 && data[0] == 'b' && data[8999] == 'b';
        if (!whole_a && !whole_b)
            r->bad_reads++;
        free(data);
    }
    return NULL;
}

static void test_atomic_write_is_never_seen_half_done(void **state)
{
    const char *dir = *state;
    char *path = path_in(dir, "state.bin");
    char *a = malloc(4000), *b = malloc(9000);
    memset(a, 'a', 4000);
    memset(b, 'b', 9000);
    char err[512];
    assert_true(fs_write_atomic(path, a, 4000, 0644, err, sizeof err));
    race r = {.path = path};
    pthread_t reader;
    pthread_create(&reader, NULL, read_constantly, &r);
    for (int i = 0; i < 150; i++) {
        bool ok = i % 2 ? fs_write_atomic(path, a, 4000, 0644, err, sizeof err)
                        : fs_write_atomic(path, b, 9000, 0644, err, sizeof err);
        assert_true(ok);
    }
    atomic_store(&r.stop, true);
    pthread_join(reader, NULL);
    assert_true(r.reads > 0);
    assert_int_equal(r.bad_reads, 0);
    free(a);
    free(b);
    free(path);
}

static void test_read_file_limit(void **state)
{
    const char *dir = *state;
    char *path = path_in(dir, "big");
    write_text(path, "0123456789");
    char err[512];
    char *data;
    size_t size;
    assert_false(fs_read_file(path, 9, &data, &size, err, sizeof err));
    assert_int_equal(errno, EFBIG);
    assert_null(data);
    assert_non_null(strstr(err, "limit"));
    assert_true(fs_read_file(path, 10, &data, &size, err, sizeof err));
    assert_int_equal(size, 10);
    free(data);

    char *missing = path_in(dir, "missing");
    assert_false(fs_read_file(missing, 0, &data, &size, err, sizeof err));
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(err, missing));
    assert_false(fs_read_file(dir, 0, &data, &size, err, sizeof err));
    assert_int_equal(errno, EISDIR);
    free(missing);
    free(path);
}

static void test_copy_file(void **state)
{
    const char *dir = *state;
    char *from = path_in(dir, "src.wasm");
    char *to = path_in(dir, "dst.wasm");
    FILE *f = fopen(from, "wb");
    for (int i = 0; i < 300000; i++)
        fputc(i * 13 % 251, f);
    fclose(f);
    chmod(from, 0750);
    char err[512];
    assert_true(fs_copy_file(from, to, err, sizeof err));
    char *a, *b;
    size_t na, nb;
    assert_true(fs_read_file(from, 0, &a, &na, NULL, 0));
    assert_true(fs_read_file(to, 0, &b, &nb, NULL, 0));
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    free(a);
    free(b);
    struct stat st;
    stat(to, &st);
    assert_int_equal(st.st_mode & 0777, 0750);

    char *missing = path_in(dir, "missing");
    assert_false(fs_copy_file(missing, to, err, sizeof err));
    assert_non_null(strstr(err, "missing"));
    assert_false(fs_copy_file(dir, to, err, sizeof err));
    free(missing);
    free(from);
    free(to);
}

static void test_remove_tree_does_not_follow_links(void **state)
{
    const char *dir = *state;
    char err[512];
    /* Something outside the tree that a link points at: it must survive. */
    char *outside = path_in(dir, "outside");
    assert_true(fs_mkdir_p(outside, 0755, err, sizeof err));
    char *precious = path_in(outside, "precious");
    write_text(precious, "keep me");

    char *tree = path_in(dir, "tree");
    char *deep = path_in(tree, "x/y/z");
    assert_true(fs_mkdir_p(deep, 0755, err, sizeof err));
    char *file = path_in(deep, "f");
    write_text(file, "data");
    char *link_dir = path_in(tree, "x/link-to-outside");
    assert_int_equal(symlink(outside, link_dir), 0);
    char *link_file = path_in(tree, "link-to-precious");
    assert_int_equal(symlink(precious, link_file), 0);

    assert_true(fs_remove_tree(tree, err, sizeof err));
    assert_false(fs_exists(tree));
    assert_true(fs_exists(precious));
    /* Removing what is not there is not an error. */
    assert_true(fs_remove_tree(tree, err, sizeof err));
    /* A plain file is removed too. */
    assert_true(fs_remove_tree(precious, err, sizeof err));
    assert_false(fs_exists(precious));
    free(outside);
    free(precious);
    free(tree);
    free(deep);
    free(file);
    free(link_dir);
    free(link_file);
}

static void test_safe_names(void **state)
{
    (void)state;
    const char *good[] = {"image.jpeg", "fibo", "out put.txt", "..hidden", "a..b", "名前",
                          "data-1_2"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!fs_is_safe_name(good[i]))
            fail_msg("'%s' should be accepted", good[i]);
    char too_long[300];
    memset(too_long, 'n', 256);
    too_long[256] = '\0';
    const char *bad[] = {"", ".", "..", "../etc/passwd", "a/b", "/abs", "tab\there", "nl\n",
                         "del\x7f", too_long};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (fs_is_safe_name(bad[i]))
            fail_msg("'%s' should be refused", bad[i]);
    assert_false(fs_is_safe_name(NULL));
    too_long[255] = '\0';
    assert_true(fs_is_safe_name(too_long));
}

static void test_disk_free_and_join(void **state)
{
    const char *dir = *state;
    uint64_t free_bytes = 0, total = 0;
    assert_true(fs_disk_free(dir, &free_bytes, &total));
    assert_true(total > 0);
    assert_true(free_bytes <= total);
    assert_false(fs_disk_free("/nonexistent/liquid", &free_bytes, &total));

    char *p = fs_join("/a/b/", "c");
    assert_string_equal(p, "/a/b/c");
    free(p);
    p = fs_join("/a/b", "c");
    assert_string_equal(p, "/a/b/c");
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mkdir_p, make_dir, drop_dir),
        cmocka_unit_test_setup_teardown(test_write_atomic_and_read, make_dir, drop_dir),
        cmocka_unit_test_setup_teardown(test_atomic_write_is_never_seen_half_done, make_dir,
                                        drop_dir),
        cmocka_unit_test_setup_teardown(test_read_file_limit, make_dir, drop_dir),
        cmocka_unit_test_setup_teardown(test_copy_file, make_dir, drop_dir),
        cmocka_unit_test_setup_teardown(test_remove_tree_does_not_follow_links, make_dir,
                                        drop_dir),
        cmocka_unit_test(test_safe_names),
        cmocka_unit_test_setup_teardown(test_disk_free_and_join, make_dir, drop_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
