/*
 * test_json_util.c — member getters whose errors name the member by its path in the
 * document, as a client sees it in a 400 answer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/json_util.h"

#include <string.h>

static json_t *deployment(void)
{
    json_t *doc = json_loads(
        "{\"deploymentId\": \"66ab\", \"count\": 12.0, \"half\": 1.5, \"flag\": true,"
        " \"nothing\": null, \"modules\": [{\"urls\": {\"binary\": \"http://o/wasm\"}},"
        " {\"urls\": {\"binary\": \"http://o/2\"}}, {\"urls\": {\"binary\": 7}}]}",
        0, NULL);
    assert_non_null(doc);
    return doc;
}

static void test_required_members(void **state)
{
    (void)state;
    json_t *doc = deployment();
    char err[256];
    const char *id;
    assert_true(json_get_string(doc, NULL, "deploymentId", &id, err, sizeof err));
    assert_string_equal(id, "66ab");

    json_int_t count;
    assert_true(json_get_int(doc, NULL, "count", &count, err, sizeof err));
    assert_int_equal(count, 12);   /* 12.0, as JavaScript may send it, is an integer */
    assert_false(json_get_int(doc, NULL, "half", &count, err, sizeof err));
    assert_string_equal(err, "half: expected an integer, got a number");

    assert_false(json_get_string(doc, NULL, "name", &id, err, sizeof err));
    assert_string_equal(err, "name: missing");
    assert_false(json_get_string(doc, NULL, "nothing", &id, err, sizeof err));
    assert_string_equal(err, "nothing: must not be null");
    assert_false(json_get_object(doc, NULL, "flag", NULL, err, sizeof err));
    assert_string_equal(err, "flag: expected an object, got a boolean");

    bool flag = false;
    assert_true(json_get_bool(doc, NULL, "flag", &flag, err, sizeof err));
    assert_true(flag);
    double half;
    assert_true(json_get_number(doc, NULL, "half", &half, err, sizeof err));
    assert_true(half == 1.5);
    json_decref(doc);
}

static void test_paths_in_errors(void **state)
{
    (void)state;
    json_t *doc = deployment();
    char err[256];
    json_t *modules;
    assert_true(json_get_array(doc, NULL, "modules", &modules, err, sizeof err));
    json_where at_modules = JSON_MEMBER(NULL, "modules");
    size_t i;
    json_t *module;
    int failures = 0;
    json_array_foreach(modules, i, module) {
        json_where item = JSON_INDEX(&at_modules, i);
        json_t *urls;
        assert_true(json_get_object(module, &item, "urls", &urls, err, sizeof err));
        json_where at_urls = JSON_MEMBER(&item, "urls");
        const char *binary;
        if (!json_get_string(urls, &at_urls, "binary", &binary, err, sizeof err)) {
            failures++;
            assert_string_equal(err, "modules[2].urls.binary: expected a string, got an integer");
        }
    }
    assert_int_equal(failures, 1);

    /* An element that is not an object. */
    json_t *list = json_loads("[1]", 0, NULL);
    json_where at_list = JSON_MEMBER(NULL, "sequence");
    json_where first = JSON_INDEX(&at_list, 0);
    assert_false(json_expect_object(json_array_get(list, 0), &first, err, sizeof err));
    assert_string_equal(err, "sequence[0]: expected an object, got an integer");
    assert_false(json_expect_object(list, NULL, err, sizeof err));
    assert_string_equal(err, "(document): expected an object, got an array");
    json_decref(list);

    char path[64];
    json_where nested = JSON_MEMBER(&first, "to");
    json_where_format(&nested, "url", path, sizeof path);
    assert_string_equal(path, "sequence[0].to.url");
    json_decref(doc);
}

static void test_optional_members(void **state)
{
    (void)state;
    json_t *doc = deployment();
    char err[256];
    const char *text;
    assert_true(json_opt_string(doc, NULL, "absent", &text, "fallback", err, sizeof err));
    assert_string_equal(text, "fallback");
    assert_true(json_opt_string(doc, NULL, "nothing", &text, "fallback", err, sizeof err));
    assert_string_equal(text, "fallback");
    assert_false(json_opt_string(doc, NULL, "flag", &text, "fallback", err, sizeof err));
    assert_string_equal(err, "flag: expected a string, got a boolean");

    json_int_t n;
    assert_true(json_opt_int(doc, NULL, "absent", &n, 42, err, sizeof err));
    assert_int_equal(n, 42);
    bool b;
    assert_true(json_opt_bool(doc, NULL, "absent", &b, true, err, sizeof err));
    assert_true(b);
    json_t *obj;
    assert_true(json_opt_object(doc, NULL, "absent", &obj, err, sizeof err));
    assert_null(obj);
    json_t *arr;
    assert_true(json_opt_array(doc, NULL, "modules", &arr, err, sizeof err));
    assert_int_equal(json_array_size(arr), 3);
    assert_false(json_opt_array(doc, NULL, "deploymentId", &arr, err, sizeof err));

    /* Not an object at all. */
    json_t *number = json_integer(3);
    assert_false(json_opt_string(number, NULL, "x", &text, NULL, err, sizeof err));
    assert_string_equal(err, "(document): expected an object, got an integer");
    json_decref(number);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_required_members),
        cmocka_unit_test(test_paths_in_errors),
        cmocka_unit_test(test_optional_members),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
