/*
 * test_orch_modules.c — the module registry's parsing: requirements and exports read
 * from a binary by the engine (functions only, with signatures), malformed and invalid
 * binaries refused with the byte offset, function descriptions in both encodings (the
 * CLI's JSON and the GUI's bracket fields) giving the same normalised description,
 * every kind of bad description named, the reference's "missing mounts" rule, and the
 * generated OpenAPI document in the reference's exact shape.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "orchestrator/modules.h"

#include "base/fs.h"

#include <string.h>

static uint8_t *read_wat_module(const char *name, size_t *size)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/wat/%s.wasm", LIQUID_BUILD_DIR, name);
    char *data = NULL;
    char err[512] = "";
    if (!fs_read_file(path, 0, &data, size, err, sizeof err))
        fail_msg("%s", err);
    return (uint8_t *)data;
}

static json_t *parse_json(const char *text)
{
    json_error_t error;
    json_t *value = json_loads(text, 0, &error);
    if (!value)
        fail_msg("bad JSON in test: %s: %s", error.text, text);
    return value;
}

static void assert_json(const json_t *actual, const char *expected_text)
{
    json_t *expected = parse_json(expected_text);
    if (!json_equal(actual, expected)) {
        char *a = json_dumps(actual, JSON_COMPACT | JSON_SORT_KEYS);
        char *e = json_dumps(expected, JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("JSON differs\n  actual:   %s\n  expected: %s", a, e);
    }
    json_decref(expected);
}

/* ------------------------------------------------------------ the binary */

static void test_parse_requirements_and_exports(void **state)
{
    (void)state;
    size_t size = 0;
    uint8_t *bytes = read_wat_module("orch_module", &size);
    assert_true(module_looks_like_wasm(bytes, size));
    json_t *requirements = NULL, *exports = NULL, *detail = NULL;
    char err[512] = "";
    assert_true(module_parse_wasm(bytes, size, &requirements, &exports, &detail, err,
                                  sizeof err));
    assert_null(detail);
    /* function imports only: the memory import is not a requirement */
    assert_json(requirements,
                "[{\"module\": \"wasi_snapshot_preview1\", \"name\": \"fd_write\","
                "  \"kind\": \"function\"},"
                " {\"module\": \"sys\", \"name\": \"millis\", \"kind\": \"function\"}]");
    /* function exports only, with Liquid's full signatures */
    assert_json(exports,
                "[{\"name\": \"add\", \"parameterCount\": 2, \"params\": [\"i64\", \"i64\"],"
                "  \"results\": [\"i64\"]},"
                " {\"name\": \"now\", \"parameterCount\": 0, \"params\": [], "
                "  \"results\": [\"i64\"]}]");
    json_decref(requirements);
    json_decref(exports);
    free(bytes);
}

static void test_bad_binaries_are_refused_with_offset(void **state)
{
    (void)state;
    json_t *requirements = NULL, *exports = NULL, *detail = NULL;
    char err[512] = "";
    /* a truncated type section */
    static const uint8_t truncated[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 1, 5, 1, 0x60};
    assert_false(module_parse_wasm(truncated, sizeof truncated, &requirements, &exports, &detail,
                                   err, sizeof err));
    assert_null(requirements);
    assert_null(exports);
    assert_non_null(strstr(err, "malformed WebAssembly module at byte"));
    assert_string_equal(json_string_value(json_object_get(detail, "kind")), "malformed");
    assert_true(json_is_integer(json_object_get(detail, "offset")));
    json_int_t offset = json_integer_value(json_object_get(detail, "offset"));
    assert_true(offset > 8 && offset <= (json_int_t)sizeof truncated);
    char at[64];
    snprintf(at, sizeof at, "at byte %lld ", (long long)offset);
    assert_non_null(strstr(err, at));
    json_decref(detail);

    /* well-formed but invalid: a function typed () -> i32 whose body is empty */
    static const uint8_t invalid[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7f,
                                      3, 2, 1, 0, 10, 4, 1, 2, 0, 0x0b};
    assert_false(module_parse_wasm(invalid, sizeof invalid, &requirements, &exports, &detail,
                                   err, sizeof err));
    assert_non_null(strstr(err, "invalid WebAssembly module"));
    assert_string_equal(json_string_value(json_object_get(detail, "kind")), "invalid");
    json_decref(detail);

    static const uint8_t text[] = "hello world";
    assert_false(module_looks_like_wasm(text, sizeof text));
    assert_false(module_parse_wasm(text, sizeof text, &requirements, &exports, NULL, err,
                                   sizeof err));
    assert_false(module_looks_like_wasm(truncated, 3));
}

/* ------------------------------------------------- function descriptions */

static const char *const fibo_fd_json =
    "{\"fibo\": {\"parameters\": [{\"name\": \"param0\", \"type\": \"integer\"}],"
    "            \"method\": \"GET\", \"output\": \"integer\", \"mounts\": []},"
    " \"cam\": {\"parameters\": [], \"method\": \"post\", \"output\": \"image/jpeg\","
    "           \"mounts\": [{\"name\": \"image.jpeg\", \"mediaType\": \"image/jpeg\","
    "                         \"stage\": \"output\"},"
    "                        {\"name\": \"model\", \"stage\": \"deployment\"}]}}";

static const char *const fibo_fd_normal =
    "{\"fibo\": {\"method\": \"get\", \"parameters\": [{\"name\": \"param0\","
    "            \"type\": \"integer\"}], \"mounts\": [], \"output\": \"integer\"},"
    " \"cam\": {\"method\": \"post\", \"parameters\": [], \"output\": \"image/jpeg\","
    "           \"mounts\": [{\"name\": \"image.jpeg\", \"stage\": \"output\","
    "                         \"mediaType\": \"image/jpeg\"},"
    "                        {\"name\": \"model\", \"stage\": \"deployment\"}]}}";

static void test_fd_json_is_normalised(void **state)
{
    (void)state;
    char err[512] = "";
    json_t *fd = module_fd_from_json_text(fibo_fd_json, err, sizeof err);
    if (!fd)
        fail_msg("%s", err);
    assert_json(fd, fibo_fd_normal);
    json_decref(fd);

    /* parameters as paramN members, in the order of N (param10 after param2) */
    fd = module_fd_from_json_text(
        "{\"f\": {\"param10\": \"float\", \"param2\": \"integer\", \"param0\": \"integer\","
        " \"method\": \"POST\", \"output\": \"float\"}, \"note\": \"not a function\"}",
        err, sizeof err);
    if (!fd)
        fail_msg("%s", err);
    assert_json(fd, "{\"f\": {\"method\": \"post\", \"parameters\": ["
                    "{\"name\": \"param0\", \"type\": \"integer\"},"
                    "{\"name\": \"param2\", \"type\": \"integer\"},"
                    "{\"name\": \"param10\", \"type\": \"float\"}],"
                    " \"mounts\": [], \"output\": \"float\"}}");
    json_decref(fd);
}

static void test_fd_bracket_fields_match_json(void **state)
{
    (void)state;
    const char *names[] = {"name",
                           "fibo[param0]",
                           "fibo[output]",
                           "fibo[method]",
                           "cam[method]",
                           "cam[output]",
                           "cam[mounts][1][name]",
                           "cam[mounts][1][stage]",
                           "cam[mounts][0][name]",
                           "cam[mounts][0][stage]",
                           "cam[mounts][0][mediaType]"};
    const char *values[] = {"ignored", "integer", "integer", "GET", "post", "image/jpeg",
                            "model", "deployment", "image.jpeg", "output", "image/jpeg"};
    char err[512] = "";
    json_t *fd = module_fd_from_fields(names, values, sizeof names / sizeof names[0], err,
                                       sizeof err);
    if (!fd)
        fail_msg("%s", err);
    /* the same description the CLI's JSON gives: mounts ordered by index */
    json_t *from_json = module_fd_from_json_text(fibo_fd_json, err, sizeof err);
    assert_true(json_equal(fd, from_json));
    json_decref(from_json);
    json_decref(fd);

    const char *bad_names[] = {"fibo[param0"};
    const char *bad_values[] = {"integer"};
    assert_null(module_fd_from_fields(bad_names, bad_values, 1, err, sizeof err));
    assert_non_null(strstr(err, "fibo[param0"));
    const char *twice_names[] = {"f[method]", "f[method][x]"};
    const char *twice_values[] = {"GET", "y"};
    assert_null(module_fd_from_fields(twice_names, twice_values, 2, err, sizeof err));
    const char *none_names[] = {"name"};
    const char *none_values[] = {"fibo"};
    assert_null(module_fd_from_fields(none_names, none_values, 1, err, sizeof err));
    assert_non_null(strstr(err, "names no function"));
}

static void expect_fd_error(const char *json_text, const char *fragment)
{
    char err[512] = "";
    json_t *fd = module_fd_from_json_text(json_text, err, sizeof err);
    if (fd)
        fail_msg("accepted %s", json_text);
    if (!strstr(err, fragment))
        fail_msg("error '%s' does not say '%s'", err, fragment);
}

static void test_fd_errors_name_the_problem(void **state)
{
    (void)state;
    expect_fd_error("{\"f\": ", "not valid JSON");
    expect_fd_error("[1, 2]", "expected an object");
    expect_fd_error("{}", "names no function");
    expect_fd_error("{\"f\": {\"output\": \"integer\"}}", "f.method: missing");
    expect_fd_error("{\"f\": {\"method\": \"FETCH\", \"output\": \"integer\"}}", "'FETCH'");
    expect_fd_error("{\"f\": {\"method\": \"GET\", \"parameters\": [{\"name\": \"p\","
                    " \"type\": \"bool\"}], \"output\": \"integer\"}}", "type 'bool'");
    expect_fd_error("{\"f\": {\"method\": \"GET\", \"parameters\": {\"a\": 1},"
                    " \"output\": \"integer\"}}", "f.parameters");
    expect_fd_error("{\"f\": {\"method\": \"GET\", \"parameters\": [{\"type\": \"integer\"}],"
                    " \"output\": \"integer\"}}", "f.parameters[0]");
    expect_fd_error("{\"f\": {\"method\": \"GET\", \"output\": \"number\"}}", "'number'");
    expect_fd_error("{\"f\": {\"method\": \"GET\"}}", "f.output: missing");
    expect_fd_error("{\"f\": {\"method\": \"GET\", \"output\": 3}}", "f.output");
    expect_fd_error("{\"f\": {\"method\": \"GET\", \"output\": \"integer\", \"mounts\": "
                    "[{\"name\": \"../x\", \"stage\": \"execution\"}]}}", "f.mounts[0].name");
    expect_fd_error("{\"f\": {\"method\": \"GET\", \"output\": \"integer\", \"mounts\": "
                    "[{\"name\": \"x\", \"stage\": \"later\"}]}}", "'later'");
    expect_fd_error("{\"f\": {\"method\": \"GET\", \"output\": \"integer\", \"mounts\": 5}}",
                    "f.mounts");
}

static json_t *fibo_module(void)
{
    return parse_json("{\"name\": \"fibo\", \"exports\": ["
                      "{\"name\": \"fibo\", \"parameterCount\": 1},"
                      "{\"name\": \"cam\", \"parameterCount\": 0}]}");
}

static void test_fd_check_against_module(void **state)
{
    (void)state;
    char err[512] = "";
    json_t *module = fibo_module();
    json_t *fd = module_fd_from_json_text(fibo_fd_json, err, sizeof err);
    assert_true(module_fd_check(fd, module, err, sizeof err));
    json_decref(fd);

    fd = module_fd_from_json_text("{\"fib\": {\"method\": \"GET\", \"output\": \"integer\"}}",
                                  err, sizeof err);
    assert_false(module_fd_check(fd, module, err, sizeof err));
    assert_non_null(strstr(err, "exports no function 'fib'"));
    assert_non_null(strstr(err, "fibo, cam"));
    json_decref(fd);

    fd = module_fd_from_json_text("{\"fibo\": {\"method\": \"GET\", \"output\": \"integer\"}}",
                                  err, sizeof err);
    assert_false(module_fd_check(fd, module, err, sizeof err));
    assert_non_null(strstr(err, "takes 1 parameter, the description gives 0"));
    json_decref(fd);

    fd = module_fd_from_json_text("{\"cam\": {\"method\": \"GET\", \"output\": \"integer\","
                                  " \"mounts\": [{\"name\": \"a\", \"stage\": \"execution\"},"
                                  " {\"name\": \"a\", \"stage\": \"output\"}]}}",
                                  err, sizeof err);
    assert_false(module_fd_check(fd, module, err, sizeof err));
    assert_non_null(strstr(err, "mount 'a' twice"));
    json_decref(fd);
    json_decref(module);
}

static void test_missing_mounts(void **state)
{
    (void)state;
    char err[512] = "";
    json_t *fd = module_fd_from_json_text(fibo_fd_json, err, sizeof err);
    json_t *none = json_object();
    json_t *missing = module_fd_missing_mounts(fd, none);
    assert_json(missing, "[[\"cam\", \"model\"]]");
    json_decref(missing);
    json_t *uploaded = parse_json("{\"model\": \"application/x-onnx\"}");
    assert_null(module_fd_missing_mounts(fd, uploaded));

    /* the stored mounts: the uploaded file's type, else application/octet-stream */
    json_t *mounts = module_fd_mounts(fd, uploaded);
    assert_json(mounts, "{\"fibo\": {}, \"cam\": {"
                        "\"image.jpeg\": {\"mediaType\": \"application/octet-stream\","
                        "                 \"stage\": \"output\"},"
                        "\"model\": {\"mediaType\": \"application/x-onnx\","
                        "            \"stage\": \"deployment\"}}}");
    json_decref(mounts);
    json_decref(fd);

    /* a mount the _wasmiot_init function produces is not missing */
    fd = module_fd_from_json_text(
        "{\"_wasmiot_init\": {\"method\": \"POST\", \"output\": \"integer\", \"mounts\":"
        "   [{\"name\": \"id\", \"stage\": \"output\"}]},"
        " \"push\": {\"method\": \"PUT\", \"output\": \"integer\", \"mounts\":"
        "   [{\"name\": \"id\", \"stage\": \"deployment\"},"
        "    {\"name\": \"other\", \"stage\": \"deployment\"}]}}", err, sizeof err);
    missing = module_fd_missing_mounts(fd, none);
    assert_json(missing, "[[\"push\", \"other\"]]");
    json_decref(missing);
    json_decref(fd);
    json_decref(uploaded);
    json_decref(none);
}

/* ------------------------------------------------------------- OpenAPI */

static void test_openapi_shape(void **state)
{
    (void)state;
    char err[512] = "";
    json_t *fd = module_fd_from_json_text(fibo_fd_json, err, sizeof err);
    json_t *uploaded = parse_json("{\"model\": \"application/x-onnx\"}");
    json_t *mounts = module_fd_mounts(fd, uploaded);
    json_t *doc = module_openapi("fibo", fd, mounts);
    assert_json(doc,
        "{\"openapi\": \"3.0.3\","
        " \"info\": {\"title\": \"fibo\","
        "   \"description\": \"Calling microservices defined as WebAssembly functions\","
        "   \"version\": \"0.0.1\"},"
        " \"tags\": [{\"name\": \"WebAssembly\","
        "   \"description\": \"Executing WebAssembly functions\"}],"
        " \"servers\": [{\"url\": \"http://{serverIp}:{port}\", \"variables\": {"
        "   \"serverIp\": {\"default\": \"localhost\", \"description\":"
        "     \"IP or name found with mDNS of the machine running supervisor\"},"
        "   \"port\": {\"enum\": [\"5000\", \"80\"], \"default\": \"5000\"}}}],"
        " \"paths\": {"
        "  \"/{deployment}/modules/fibo/fibo\": {"
        "   \"summary\": \"Auto-generated description of function\","
        "   \"parameters\": [{\"name\": \"deployment\", \"in\": \"path\","
        "     \"description\": \"Deployment ID\", \"required\": true,"
        "     \"schema\": {\"type\": \"string\"}}],"
        "   \"get\": {\"tags\": [],"
        "     \"summary\": \"Auto-generated description of function call method\","
        "     \"parameters\": [{\"name\": \"param0\", \"in\": \"query\","
        "       \"description\": \"Auto-generated description\", \"required\": true,"
        "       \"schema\": {\"type\": \"integer\"}}],"
        "     \"responses\": {\"200\": {\"description\": \"Auto-generated description of response\","
        "       \"content\": {\"application/json\": {\"schema\": {\"type\": \"integer\"}}}}}}},"
        "  \"/{deployment}/modules/fibo/cam\": {"
        "   \"summary\": \"Auto-generated description of function\","
        "   \"parameters\": [{\"name\": \"deployment\", \"in\": \"path\","
        "     \"description\": \"Deployment ID\", \"required\": true,"
        "     \"schema\": {\"type\": \"string\"}}],"
        "   \"post\": {\"tags\": [],"
        "     \"summary\": \"Auto-generated description of function call method\","
        "     \"parameters\": [],"
        "     \"responses\": {\"200\": {\"description\": \"Auto-generated description of response\","
        "       \"content\": {\"image/jpeg\": {\"schema\": {\"type\": \"string\","
        "                                                \"format\": \"binary\"}}}}},"
        "     \"requestBody\": {\"required\": true, \"content\": {\"multipart/form-data\": {"
        "       \"schema\": {\"type\": \"object\", \"properties\": {"
        "         \"model\": {\"type\": \"string\", \"format\": \"binary\"}}},"
        "       \"encoding\": {\"model\": {\"contentType\": \"application/x-onnx\"}}}}}}}}}");
    json_decref(doc);
    json_decref(mounts);
    json_decref(uploaded);
    json_decref(fd);

    /* float output is JSON; a media-type output without a mount is a file */
    fd = module_fd_from_json_text("{\"f\": {\"method\": \"GET\", \"output\": \"float\"},"
                                  " \"g\": {\"method\": \"GET\", \"output\": \"text/csv\"}}",
                                  err, sizeof err);
    mounts = module_fd_mounts(fd, NULL);
    doc = module_openapi("m", fd, mounts);
    json_t *paths = json_object_get(doc, "paths");
    assert_json(json_object_get(json_object_get(json_object_get(json_object_get(json_object_get(
                    json_object_get(paths, "/{deployment}/modules/m/f"), "get"), "responses"),
                    "200"), "content"), "application/json"),
                "{\"schema\": {\"type\": \"float\"}}");
    assert_json(json_object_get(json_object_get(json_object_get(json_object_get(json_object_get(
                    json_object_get(paths, "/{deployment}/modules/m/g"), "get"), "responses"),
                    "200"), "content"), "text/csv"),
                "{\"schema\": {\"type\": \"string\", \"format\": \"binary\"}}");
    assert_null(json_object_get(json_object_get(json_object_get(paths,
                                "/{deployment}/modules/m/g"), "get"), "requestBody"));
    json_decref(doc);
    json_decref(mounts);
    json_decref(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_requirements_and_exports),
        cmocka_unit_test(test_bad_binaries_are_refused_with_offset),
        cmocka_unit_test(test_fd_json_is_normalised),
        cmocka_unit_test(test_fd_bracket_fields_match_json),
        cmocka_unit_test(test_fd_errors_name_the_problem),
        cmocka_unit_test(test_fd_check_against_module),
        cmocka_unit_test(test_missing_mounts),
        cmocka_unit_test(test_openapi_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
