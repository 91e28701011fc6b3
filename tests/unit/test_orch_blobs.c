/*
 * test_orch_blobs.c — content-addressed files: the same bytes are one blob named by
 * their SHA-256, a file on the same file system is moved rather than copied, an
 * expected digest that does not match stores nothing, a damaged blob is found and
 * removed, digests cannot name paths outside the store, and gc removes exactly the
 * blobs no document names once they are older than the grace period.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "orchestrator/blobs.h"
#include "orchestrator/store.h"

#include "base/fs.h"

#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include "test_http_util.h"

/* SHA-256 of "hello\n" and of the empty string */
#define HELLO_SHA "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct fixture {
    char *dir;
    blob_store *b;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = test_make_temp_dir();
    char *blobs = fs_join(f->dir, "blobs");
    char err[512] = "";
    f->b = blobs_open(blobs, err, sizeof err);
    free(blobs);
    *state = f;
    return f->b ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    blobs_close(f->b);
    fs_remove_tree(f->dir, NULL, 0);
    free(f->dir);
    free(f);
    return 0;
}

static char *write_file(const char *dir, const char *name, const char *text)
{
    char *path = fs_join(dir, name);
    FILE *out = fopen(path, "wb");
    assert_non_null(out);
    fputs(text, out);
    fclose(out);
    return path;
}

static void test_put_memory_and_read(void **state)
{
    fixture *f = *state;
    char err[512] = "", digest[BLOB_DIGEST_SIZE];
    assert_true(blobs_put_memory(f->b, "hello\n", 6, NULL, digest, err, sizeof err));
    assert_string_equal(digest, HELLO_SHA);
    assert_true(blobs_has(f->b, HELLO_SHA));
    char *path = blobs_path(f->b, HELLO_SHA);
    /* DIR/ab/cdef...: two hex digits, then the rest */
    char expected[1024];
    snprintf(expected, sizeof expected, "%s/blobs/58/%s", f->dir, HELLO_SHA + 2);
    assert_string_equal(path, expected);
    free(path);
    uint8_t *data = NULL;
    size_t size = 0;
    assert_true(blobs_read(f->b, HELLO_SHA, 0, &data, &size, err, sizeof err));
    assert_int_equal(size, 6);
    assert_memory_equal(data, "hello\n", 6);
    free(data);
    assert_false(blobs_read(f->b, HELLO_SHA, 3, &data, &size, err, sizeof err));

    /* the same bytes again: the same blob */
    char again[BLOB_DIGEST_SIZE];
    assert_true(blobs_put_memory(f->b, "hello\n", 6, HELLO_SHA, again, err, sizeof err));
    assert_string_equal(again, HELLO_SHA);
    assert_true(blobs_put_memory(f->b, "", 0, NULL, again, err, sizeof err));
    assert_string_equal(again, EMPTY_SHA);
    assert_true(blobs_verify(f->b, EMPTY_SHA, err, sizeof err));
}

static void test_expected_digest_mismatch_stores_nothing(void **state)
{
    fixture *f = *state;
    char err[512] = "", digest[BLOB_DIGEST_SIZE];
    assert_false(blobs_put_memory(f->b, "hello\n", 6, EMPTY_SHA, digest, err, sizeof err));
    assert_non_null(strstr(err, HELLO_SHA));
    assert_non_null(strstr(err, EMPTY_SHA));
    assert_false(blobs_has(f->b, HELLO_SHA));
    char *src = write_file(f->dir, "upload", "hello\n");
    assert_false(blobs_put_file(f->b, src, true, EMPTY_SHA, digest, NULL, err, sizeof err));
    assert_false(blobs_has(f->b, HELLO_SHA));
    assert_true(fs_exists(src));   /* a refused move leaves the caller's file */
    char *tmp = fs_join(f->dir, "blobs/tmp");
    assert_int_equal(test_count_entries(tmp), 0);
    free(tmp);
    free(src);
}

static void test_put_file_moves_or_copies(void **state)
{
    fixture *f = *state;
    char err[512] = "", digest[BLOB_DIGEST_SIZE];
    char *src = write_file(f->dir, "upload", "hello\n");
    struct stat before;
    assert_int_equal(stat(src, &before), 0);
    uint64_t size = 0;
    assert_true(blobs_put_file(f->b, src, true, HELLO_SHA, digest, &size, err, sizeof err));
    assert_string_equal(digest, HELLO_SHA);
    assert_int_equal(size, 6);
    assert_false(fs_exists(src));   /* moved */
    char *path = blobs_path(f->b, HELLO_SHA);
    struct stat after;
    assert_int_equal(stat(path, &after), 0);
    assert_int_equal(after.st_ino, before.st_ino);   /* renamed, not copied */
    free(path);

    char *copy = write_file(f->dir, "keep", "another\n");
    assert_true(blobs_put_file(f->b, copy, false, NULL, digest, NULL, err, sizeof err));
    assert_true(fs_exists(copy));   /* copied: the caller keeps its file */
    assert_true(blobs_verify(f->b, digest, err, sizeof err));

    /* a second upload of bytes already stored: the upload goes, the blob stays */
    char *dup = write_file(f->dir, "dup", "hello\n");
    assert_true(blobs_put_file(f->b, dup, true, NULL, digest, NULL, err, sizeof err));
    assert_false(fs_exists(dup));
    assert_true(blobs_has(f->b, HELLO_SHA));
    assert_false(blobs_put_file(f->b, "/nonexistent/file", true, NULL, digest, NULL, err,
                                sizeof err));
    assert_non_null(strstr(err, "/nonexistent/file"));
    free(dup);
    free(copy);
    free(src);
}

static void test_damaged_blob_is_found(void **state)
{
    fixture *f = *state;
    char err[512] = "", digest[BLOB_DIGEST_SIZE];
    assert_true(blobs_put_memory(f->b, "hello\n", 6, NULL, digest, err, sizeof err));
    char *path = blobs_path(f->b, HELLO_SHA);
    chmod(path, 0644);
    FILE *out = fopen(path, "r+b");
    assert_non_null(out);
    fputc('J', out);   /* a flipped byte on disk */
    fclose(out);
    assert_false(blobs_verify(f->b, HELLO_SHA, err, sizeof err));
    assert_non_null(strstr(err, "damaged"));
    assert_false(blobs_has(f->b, HELLO_SHA));
    assert_false(blobs_verify(f->b, HELLO_SHA, err, sizeof err));
    assert_non_null(strstr(err, "missing"));
    free(path);
}

static void test_digests_cannot_escape(void **state)
{
    fixture *f = *state;
    assert_true(blobs_is_digest(HELLO_SHA));
    assert_false(blobs_is_digest("../../../../etc/passwd"));
    assert_false(blobs_is_digest("5891B5B522D5DF086D0FF0B110FBD9D21BB4FC7163AF34D08286A2E846F6BE03"));
    assert_false(blobs_is_digest(HELLO_SHA "00"));
    assert_false(blobs_is_digest(""));
    assert_false(blobs_is_digest(NULL));
    assert_null(blobs_path(f->b, "../x"));
    assert_false(blobs_has(f->b, "../x"));
    uint8_t *data = NULL;
    size_t size;
    char err[256];
    assert_false(blobs_read(f->b, "/etc/passwd", 0, &data, &size, err, sizeof err));
    assert_null(data);
}

static void age(blob_store *b, const char *digest, int seconds)
{
    char *path = blobs_path(b, digest);
    struct utimbuf times = {time(NULL) - seconds, time(NULL) - seconds};
    assert_int_equal(utime(path, &times), 0);
    free(path);
}

static void test_gc_removes_unreferenced_old_blobs(void **state)
{
    fixture *f = *state;
    char err[512] = "";
    char *db = fs_join(f->dir, "orchestrator.db");
    store *st = store_open(db, err, sizeof err);
    assert_non_null(st);
    char used[BLOB_DIGEST_SIZE], data[BLOB_DIGEST_SIZE], input[BLOB_DIGEST_SIZE],
        old[BLOB_DIGEST_SIZE], young[BLOB_DIGEST_SIZE];
    assert_true(blobs_put_memory(f->b, "wasm", 4, NULL, used, err, sizeof err));
    assert_true(blobs_put_memory(f->b, "model", 5, NULL, data, err, sizeof err));
    assert_true(blobs_put_memory(f->b, "frame", 5, NULL, input, err, sizeof err));
    assert_true(blobs_put_memory(f->b, "orphan", 6, NULL, old, err, sizeof err));
    assert_true(blobs_put_memory(f->b, "just put", 8, NULL, young, err, sizeof err));
    json_t *module = json_pack("{s:s, s:s, s:{s:s}, s:{s:{s:s}}}", "_id",
                               "6650bb000000000000000001", "name", "m", "wasm", "sha256", used,
                               "dataFiles", "model", "sha256", data);
    assert_int_equal(store_module_put(st, module, err, sizeof err), STORE_OK);
    json_t *execution = json_pack("{s:s, s:{s:s}}", "_id", "6650dd000000000000000001",
                                  "inputFiles", "image.jpeg", input);
    assert_int_equal(store_execution_put(st, execution, err, sizeof err), STORE_OK);
    age(f->b, used, 7200);
    age(f->b, data, 7200);
    age(f->b, input, 7200);
    age(f->b, old, 7200);

    blobs_gc_stats stats;
    assert_true(blobs_gc(f->b, st, 3600, &stats, err, sizeof err));
    assert_int_equal(stats.removed, 1);
    assert_int_equal(stats.bytes_removed, 6);
    assert_int_equal(stats.kept, 3);
    assert_int_equal(stats.young, 1);
    assert_true(blobs_has(f->b, used));
    assert_true(blobs_has(f->b, data));
    assert_true(blobs_has(f->b, input));
    assert_false(blobs_has(f->b, old));
    assert_true(blobs_has(f->b, young));

    /* deleting the module frees its files; the young orphan goes with no grace */
    assert_int_equal(store_module_delete(st, "6650bb000000000000000001", err, sizeof err),
                     STORE_OK);
    assert_true(blobs_gc(f->b, st, 0, &stats, err, sizeof err));
    assert_int_equal(stats.removed, 3);
    assert_false(blobs_has(f->b, used));
    assert_false(blobs_has(f->b, young));
    assert_true(blobs_has(f->b, input));

    /* putting an old unreferenced blob again renews it, so gc spares it */
    assert_true(blobs_put_memory(f->b, "orphan", 6, NULL, old, err, sizeof err));
    age(f->b, old, 7200);
    assert_true(blobs_put_memory(f->b, "orphan", 6, NULL, old, err, sizeof err));
    assert_true(blobs_gc(f->b, st, 3600, &stats, err, sizeof err));
    assert_true(blobs_has(f->b, old));
    json_decref(execution);
    json_decref(module);
    store_close(st);
    free(db);
}

static void test_open_clears_interrupted_writes(void **state)
{
    fixture *f = *state;
    char *tmp = fs_join(f->dir, "blobs/tmp");
    char *stray = write_file(tmp, "blob-abcdef", "half a write");
    blobs_close(f->b);
    char *dir = fs_join(f->dir, "blobs");
    char err[512] = "";
    f->b = blobs_open(dir, err, sizeof err);
    assert_non_null(f->b);
    assert_false(fs_exists(stray));
    assert_true(fs_is_dir(tmp));
    free(dir);
    free(stray);
    free(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_memory_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expected_digest_mismatch_stores_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_put_file_moves_or_copies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_blob_is_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_digests_cannot_escape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_removes_unreferenced_old_blobs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_open_clears_interrupted_writes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
