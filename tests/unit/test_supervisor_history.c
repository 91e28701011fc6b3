/*
 * test_supervisor_history.c — the request history: entries kept newest-N in order,
 * replaced in place, persisted across reopening, torn lines skipped, the file
 * compacted, and waiting for an entry that arrives from another thread.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/history.h"

typedef struct fixture {
    char dir[64];
    char path[96];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/liquid-history-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/history.jsonl", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char tmp[128];
    unlink(f->path);
    snprintf(tmp, sizeof tmp, "%s.tmp", f->path);
    unlink(tmp);
    rmdir(f->dir);
    free(f);
    return 0;
}

static json_t *entry(const char *id, const char *result)
{
    return json_pack("{s:s, s:s, s:b}", "request_id", id, "result", result, "success", 1);
}

static history *open_history(fixture *f, size_t limit)
{
    char err[256] = "";
    history *h = history_open(f->path, limit, err, sizeof err);
    if (!h)
        fail_msg("history_open: %s", err);
    return h;
}

static const char *result_of(history *h, const char *id, char *buf, size_t size)
{
    json_t *e = history_get(h, id, 0);
    snprintf(buf, size, "%s", e ? json_string_value(json_object_get(e, "result")) : "(none)");
    json_decref(e);
    return buf;
}

static size_t lines_in(const char *path)
{
    FILE *file = fopen(path, "r");
    size_t n = 0;
    for (int c; file && (c = fgetc(file)) != EOF;)
        n += c == '\n';
    if (file)
        fclose(file);
    return n;
}

static void test_newest_kept_in_order_and_replaced_in_place(void **state)
{
    fixture *f = *state;
    history *h = open_history(f, 3);
    char buf[64];
    assert_true(history_put(h, entry("a", "1")));
    assert_true(history_put(h, entry("b", "2")));
    assert_true(history_put(h, entry("a", "1 again")));   /* same id: replaced, same place */
    assert_true(history_put(h, entry("c", "3")));
    assert_true(history_put(h, entry("d", "4")));         /* a is the oldest: it goes */
    assert_int_equal(history_count(h), 3);
    assert_string_equal(result_of(h, "a", buf, sizeof buf), "(none)");
    json_t *list = history_list(h);
    assert_int_equal(json_array_size(list), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "request_id")), "b");
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 2), "request_id")), "d");
    json_decref(list);
    history_close(h);

    /* reopened: the same three, and the file compacted to them */
    h = open_history(f, 3);
    assert_int_equal(history_count(h), 3);
    assert_string_equal(result_of(h, "c", buf, sizeof buf), "3");
    assert_int_equal(lines_in(f->path), 3);
    history_close(h);

    /* a smaller limit keeps the newest */
    h = open_history(f, 1);
    assert_string_equal(result_of(h, "d", buf, sizeof buf), "4");
    assert_string_equal(result_of(h, "b", buf, sizeof buf), "(none)");
    history_close(h);
}

static void test_torn_and_damaged_lines_are_skipped(void **state)
{
    fixture *f = *state;
    FILE *file = fopen(f->path, "w");
    fputs("{\"request_id\": \"ok1\", \"result\": \"1\"}\n", file);
    fputs("not json at all\n", file);
    fputs("[\"an array\"]\n", file);
    fputs("{\"request_id\": \"ok2\", \"result\": \"2\"}\n", file);
    fputs("{\"request_id\": \"torn\", \"res", file);            /* a crash mid-write */
    fclose(file);
    history *h = open_history(f, 10);
    char buf[64];
    assert_int_equal(history_count(h), 2);
    assert_string_equal(result_of(h, "ok2", buf, sizeof buf), "2");
    assert_string_equal(result_of(h, "torn", buf, sizeof buf), "(none)");
    /* new entries start on a line of their own */
    assert_true(history_put(h, entry("ok3", "3")));
    history_close(h);
    h = open_history(f, 10);
    assert_int_equal(history_count(h), 3);
    assert_string_equal(result_of(h, "ok3", buf, sizeof buf), "3");
    history_close(h);
}

static void test_file_is_compacted_while_running(void **state)
{
    fixture *f = *state;
    history *h = open_history(f, 2);
    char id[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "r%d", i);
        assert_true(history_put(h, entry(id, "x")));
    }
    /* bounded by limit + max(limit, 4096) lines */
    assert_true(lines_in(f->path) <= 2 + 4096);
    assert_int_equal(history_count(h), 2);
    history_close(h);
}

typedef struct late_put {
    history *h;
} late_put;

static void *put_later(void *arg)
{
    late_put *p = arg;
    usleep(100 * 1000);
    history_put(p->h, entry("late", "arrived"));
    return NULL;
}

static void test_waiting_for_an_entry(void **state)
{
    fixture *f = *state;
    history *h = open_history(f, 10);
    assert_null(history_get(h, "late", 50));        /* nobody puts it: NULL after the wait */
    late_put p = {h};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, put_later, &p), 0);
    json_t *e = history_get(h, "late", 10000);
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "result")), "arrived");
    json_decref(e);
    pthread_join(thread, NULL);
    history_close(h);
}

static void test_entry_without_id_is_refused(void **state)
{
    fixture *f = *state;
    history *h = open_history(f, 10);
    assert_false(history_put(h, json_pack("{s:s}", "result", "no id")));
    assert_int_equal(history_count(h), 0);
    history_close(h);
}

static void test_unopenable_path_is_an_error(void **state)
{
    (void)state;
    char err[256] = "";
    assert_null(history_open("/nonexistent-dir-for-liquid/history.jsonl", 10, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent-dir-for-liquid/history.jsonl"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_newest_kept_in_order_and_replaced_in_place, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_torn_and_damaged_lines_are_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_is_compacted_while_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_waiting_for_an_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entry_without_id_is_refused, setup, teardown),
        cmocka_unit_test(test_unopenable_path_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
