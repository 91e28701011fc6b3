/*
 * test_ids.c — object ids in the MongoDB ObjectId shape Wasm-IoT clients expect, and
 * request ids.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/ids.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static int compare_ids(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_object_ids(void **state)
{
    (void)state;
    enum { COUNT = 20000 };
    char (*ids)[IDS_OBJECT_ID_SIZE] = malloc(COUNT * IDS_OBJECT_ID_SIZE);
    time_t before = time(NULL);
    for (int i = 0; i < COUNT; i++)
        ids_new_object_id(ids[i]);
    time_t after = time(NULL);
    for (int i = 0; i < COUNT; i++) {
        assert_int_equal(strlen(ids[i]), 24);
        assert_true(ids_is_object_id(ids[i]));
        assert_int_equal(strspn(ids[i], "0123456789abcdef"), 24);
        uint32_t t;
        assert_true(ids_object_id_time(ids[i], &t));
        assert_true(t >= (uint32_t)before && t <= (uint32_t)after);
    }
    qsort(ids, COUNT, IDS_OBJECT_ID_SIZE, compare_ids);
    for (int i = 1; i < COUNT; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
    free(ids);

    /* Ids sort by the time they carry. */
    char older[IDS_OBJECT_ID_SIZE], newer[IDS_OBJECT_ID_SIZE];
    ids_object_id_at(1700000000u, older);
    ids_object_id_at(1700000001u, newer);
    assert_true(strcmp(older, newer) < 0);
    uint32_t t;
    assert_true(ids_object_id_time(newer, &t));
    assert_int_equal(t, 1700000001u);
}

static void test_object_id_validation(void **state)
{
    (void)state;
    assert_true(ids_is_object_id("68625a3144799bc88dfe2d69"));
    assert_true(ids_is_object_id("68625A3144799BC88DFE2D69"));
    assert_false(ids_is_object_id("68625a3144799bc88dfe2d6"));
    assert_false(ids_is_object_id("68625a3144799bc88dfe2d690"));
    assert_false(ids_is_object_id("68625a3144799bc88dfe2d6g"));
    assert_false(ids_is_object_id("fibo"));
    assert_false(ids_is_object_id(""));
    assert_false(ids_is_object_id(NULL));
    uint32_t t;
    assert_false(ids_object_id_time("fibo", &t));
}

static void test_request_ids(void **state)
{
    (void)state;
    enum { COUNT = 20000 };
    char (*ids)[IDS_REQUEST_ID_SIZE] = malloc(COUNT * IDS_REQUEST_ID_SIZE);
    for (int i = 0; i < COUNT; i++) {
        ids_new_request_id(ids[i]);
        assert_int_equal(strlen(ids[i]), 16);
        assert_int_equal(strspn(ids[i], "0123456789abcdef"), 16);
    }
    qsort(ids, COUNT, IDS_REQUEST_ID_SIZE, compare_ids);
    for (int i = 1; i < COUNT; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
    free(ids);

    unsigned char a[32] = {0}, b[32] = {0};
    assert_true(ids_random_bytes(a, sizeof a));
    assert_true(ids_random_bytes(b, sizeof b));
    assert_memory_not_equal(a, b, sizeof a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_object_ids),
        cmocka_unit_test(test_object_id_validation),
        cmocka_unit_test(test_request_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
