/*
 * test_state_bundle.c — the state bundle a migration sends (docs/migration.md): what
 * is written reads back section by section, and every way a bundle can be cut short
 * or damaged is refused with a message that says so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "supervisor/state_bundle.h"

#include <stdlib.h>
#include <string.h>

static const char CALL[] = "{\"requestId\":\"r1\",\"function\":\"run\",\"args\":{}}";
static const uint8_t STATE[] = {'L', 'Q', 'S', 'N', 'A', 'P', '1', 0, 1, 2, 3};
static const char FILE_TEXT[] = "hello from the sandbox";

static void sample(uint8_t **out, size_t *size, const char *file_name, const char *call)
{
    state_section s[] = {
        {BUNDLE_STATE, "", STATE, sizeof STATE},
        {BUNDLE_FILE, file_name, (const uint8_t *)FILE_TEXT, strlen(FILE_TEXT)},
        {BUNDLE_CALL, "r1", (const uint8_t *)call, strlen(call)},
    };
    assert_true(state_bundle_write(s, 3, out, size));
}

static void round_trip(void **unused)
{
    (void)unused;
    uint8_t *data;
    size_t size;
    sample(&data, &size, "notes.txt", CALL);
    assert_memory_equal(data, "LQSB\1\0\0\0\3\0\0\0", 12);
    state_bundle b;
    char err[300];
    assert_true(state_bundle_read(data, size, &b, err, sizeof err));
    assert_int_equal(b.count, 3);
    assert_int_equal(b.state->size, sizeof STATE);
    assert_memory_equal(b.state->data, STATE, sizeof STATE);
    assert_string_equal(b.sections[1].name, "notes.txt");
    assert_int_equal(b.sections[1].size, strlen(FILE_TEXT));
    assert_memory_equal(b.sections[1].data, FILE_TEXT, strlen(FILE_TEXT));
    assert_non_null(b.call);
    assert_string_equal(json_string_value(json_object_get(b.call, "function")), "run");
    state_bundle_free(&b);
    free(data);
}

/* Every prefix of a bundle is refused as truncated (or not a bundle at all). */
static void every_truncation_refused(void **unused)
{
    (void)unused;
    uint8_t *data;
    size_t size;
    sample(&data, &size, "notes.txt", CALL);
    for (size_t cut = 0; cut < size; cut++) {
        state_bundle b;
        char err[300] = "";
        assert_false(state_bundle_read(data, cut, &b, err, sizeof err));
        assert_true(strstr(err, "truncated") || strstr(err, "not a state bundle"));
    }
    free(data);
}

static void expect_refused(const uint8_t *data, size_t size, const char *words)
{
    state_bundle b;
    char err[300] = "";
    assert_false(state_bundle_read(data, size, &b, err, sizeof err));
    if (!strstr(err, words))
        fail_msg("expected '%s' in: %s", words, err);
}

static void corruption_refused(void **unused)
{
    (void)unused;
    uint8_t *data;
    size_t size;
    sample(&data, &size, "notes.txt", CALL);
    uint8_t *copy = malloc(size + 1);

    memcpy(copy, data, size);
    copy[0] = 'X';
    expect_refused(copy, size, "not a state bundle");
    memcpy(copy, data, size);
    copy[4] = 9;
    expect_refused(copy, size, "version 9 is not supported");
    memcpy(copy, data, size);
    copy[12] = 7;                               /* the first section's kind */
    expect_refused(copy, size, "unknown section kind 7");
    memcpy(copy, data, size);
    copy[size] = 0;                             /* one byte too many */
    expect_refused(copy, size + 1, "after its last section");
    memcpy(copy, data, size);
    copy[8] = 200;                              /* more sections than can fit */
    expect_refused(copy, size, "cannot fit");
    free(copy);
    free(data);

    sample(&data, &size, "../escape", CALL);     /* a file outside the directory */
    expect_refused(data, size, "not plain names");
    free(data);
    sample(&data, &size, "notes.txt", "{\"requestId\":\"other\",\"function\":\"run\"}");
    expect_refused(data, size, "suspended call");
    free(data);
    sample(&data, &size, "notes.txt", "not json");
    expect_refused(data, size, "suspended call");
    free(data);

    state_section no_state[] = {{BUNDLE_FILE, "a", (const uint8_t *)"x", 1}};
    assert_true(state_bundle_write(no_state, 1, &data, &size));
    expect_refused(data, size, "no module state");
    free(data);
    state_section two[] = {{BUNDLE_STATE, "", STATE, 3}, {BUNDLE_STATE, "", STATE, 3}};
    assert_true(state_bundle_write(two, 2, &data, &size));
    expect_refused(data, size, "a second module state");
    free(data);
}

/* Subdirectories move: paths of plain names joined by '/', directories as their own
 * sections (an empty one too). */
static void subdirectory_paths_read_back(void **unused)
{
    (void)unused;
    state_section s[] = {
        {BUNDLE_STATE, "", STATE, sizeof STATE},
        {BUNDLE_DIRECTORY, "logs", (const uint8_t *)"", 0},
        {BUNDLE_DIRECTORY, "logs/2026", (const uint8_t *)"", 0},
        {BUNDLE_FILE, "logs/2026/day.txt", (const uint8_t *)FILE_TEXT, strlen(FILE_TEXT)},
        {BUNDLE_DIRECTORY, "empty", (const uint8_t *)"", 0},
        {BUNDLE_FILE, "logs.txt", (const uint8_t *)"x", 1},
    };
    uint8_t *data;
    size_t size;
    assert_true(state_bundle_write(s, 6, &data, &size));
    state_bundle b;
    char err[300];
    if (!state_bundle_read(data, size, &b, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(b.count, 6);
    assert_int_equal(b.sections[2].kind, BUNDLE_DIRECTORY);
    assert_string_equal(b.sections[3].name, "logs/2026/day.txt");
    assert_memory_equal(b.sections[3].data, FILE_TEXT, strlen(FILE_TEXT));
    state_bundle_free(&b);
    free(data);
}

static void bad_paths_refused(void **unused)
{
    (void)unused;
    static const char *const bad[] = {"a/../b", "..", "a/..", "/etc/passwd", "a//b", "a/",
                                      "./a", "a/./b", "a\\b/c", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        for (uint8_t kind = BUNDLE_FILE; kind <= BUNDLE_DIRECTORY; kind += 2) {
            state_section s[] = {{BUNDLE_STATE, "", STATE, sizeof STATE},
                                 {kind, bad[i], (const uint8_t *)"", 0}};
            uint8_t *data;
            size_t size;
            assert_true(state_bundle_write(s, 2, &data, &size));
            expect_refused(data, size, "is not plain names joined by '/'");
            free(data);
        }
    }
    char longest[STATE_BUNDLE_MAX_NAME + 2];
    memset(longest, 'a', sizeof longest - 1);
    longest[sizeof longest - 1] = 0;
    for (size_t i = 100; i < sizeof longest - 1; i += 100)
        longest[i] = '/';
    assert_false(state_bundle_is_relative_path(longest));
    longest[STATE_BUNDLE_MAX_NAME] = 0;
    assert_true(state_bundle_is_relative_path(longest));

    state_section with_bytes[] = {{BUNDLE_STATE, "", STATE, sizeof STATE},
                                  {BUNDLE_DIRECTORY, "d", (const uint8_t *)"x", 1}};
    uint8_t *data;
    size_t size;
    assert_true(state_bundle_write(with_bytes, 2, &data, &size));
    expect_refused(data, size, "directory 'd' carries bytes");
    free(data);
    state_section twice[] = {{BUNDLE_STATE, "", STATE, sizeof STATE},
                             {BUNDLE_DIRECTORY, "d/e", (const uint8_t *)"", 0},
                             {BUNDLE_FILE, "d/e", (const uint8_t *)"x", 1}};
    assert_true(state_bundle_write(twice, 3, &data, &size));
    expect_refused(data, size, "path 'd/e' appears twice");
    free(data);
}

static void digest_is_sha256(void **unused)
{
    (void)unused;
    char out[72];
    state_bundle_digest((const uint8_t *)"abc", 3, out);
    assert_string_equal(out, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(every_truncation_refused),
        cmocka_unit_test(corruption_refused),
        cmocka_unit_test(subdirectory_paths_read_back),
        cmocka_unit_test(bad_paths_refused),
        cmocka_unit_test(digest_is_sha256),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
