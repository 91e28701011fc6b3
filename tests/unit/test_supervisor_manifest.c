/*
 * test_supervisor_manifest.c — the deployment mini-manifest parser and validator:
 * the reference's real two-device example parses into what the supervisor needs, and
 * each kind of mistake is refused with a message that names the field.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/manifest.h"

/* Device A's node of the ICWE demo (wasmiot-api.md §2.5), camera -> mobilenet. */
static const char *camera_node =
    "{\"deploymentId\": \"666d616ac015bf5d9be90580\","
    " \"modules\": [{\"id\": \"666d602fc015bf5d9be90571\", \"name\": \"camera\","
    "   \"urls\": {\"binary\": \"http://orch:3000/file/module/666d602fc015bf5d9be90571/wasm\","
    "     \"description\": \"http://orch:3000/file/module/666d602fc015bf5d9be90571/description\","
    "     \"other\": {}}}],"
    " \"endpoints\": {\"camera\": {\"take_image_predefined_path\": {"
    "   \"url\": \"http://172.15.0.21:5000\","
    "   \"path\": \"/666d616ac015bf5d9be90580/modules/camera/take_image_predefined_path\","
    "   \"method\": \"get\", \"request\": {\"parameters\": []},"
    "   \"response\": {\"media_type\": \"image/jpg\","
    "     \"schema\": {\"type\": \"string\", \"format\": \"binary\"}}}}},"
    " \"instructions\": {\"modules\": {\"camera\": {\"take_image_predefined_path\": {"
    "   \"from\": null,"
    "   \"to\": {\"url\": \"http://172.15.0.22:5000/\","
    "     \"path\": \"/666d616ac015bf5d9be90580/modules/mobilenet/infer_predefined_paths\","
    "     \"method\": \"POST\", \"request\": {\"parameters\": [], \"request_body\": {"
    "       \"media_type\": \"multipart/form-data\"}},"
    "     \"response\": {\"media_type\": \"application/json\","
    "       \"schema\": {\"type\": \"integer\"}}}}}}},"
    " \"mounts\": {\"camera\": {\"take_image_predefined_path\": {"
    "   \"execution\": [], \"deployment\": [],"
    "   \"output\": [{\"path\": \"image.jpeg\", \"media_type\": \"image/jpg\","
    "                 \"stage\": \"output\"}]}}}}";

/* A one-module deployment to mutate: fibo with one integer parameter and a data file. */
static const char *fibo_node =
    "{\"deploymentId\": \"d1\","
    " \"modules\": [{\"name\": \"fibo\", \"urls\": {\"binary\": \"http://o:3000/fibo.wasm\","
    "   \"other\": {\"data\": \"https://o:3000/data.csv\"}}}],"
    " \"endpoints\": {\"fibo\": {\"fibo\": {\"url\": \"http://d:8080\", \"path\": \"/d1/modules/fibo/fibo\","
    "   \"method\": \"get\", \"request\": {\"parameters\": [{\"name\": \"param0\", \"in\": \"query\","
    "     \"required\": true, \"schema\": {\"type\": \"integer\"}}]},"
    "   \"response\": {\"media_type\": \"application/json\", \"schema\": {\"type\": \"integer\"}}}}},"
    " \"instructions\": {\"modules\": {\"fibo\": {\"fibo\": {\"from\": null, \"to\": null}}}},"
    " \"mounts\": {\"fibo\": {\"fibo\": {\"execution\": [], \"output\": [],"
    "   \"deployment\": [{\"path\": \"data\", \"media_type\": \"text/csv\", \"stage\": \"deployment\"}]}}}}";

static json_t *load(const char *text)
{
    json_error_t error;
    json_t *json = json_loads(text, 0, &error);
    if (!json)
        fail_msg("test JSON does not parse: %s (line %d)", error.text, error.line);
    return json;
}

static void test_reference_node_parses(void **state)
{
    (void)state;
    json_t *json = load(camera_node);
    char err[512] = "";
    manifest *m = manifest_parse(json, err, sizeof err);
    json_decref(json);      /* the manifest keeps its own reference */
    assert_non_null(m);
    assert_string_equal(m->deployment_id, "666d616ac015bf5d9be90580");
    assert_int_equal(m->module_count, 1);
    const manifest_module *camera = manifest_find_module(m, "camera");
    assert_non_null(camera);
    assert_string_equal(camera->id, "666d602fc015bf5d9be90571");
    assert_int_equal(camera->data_file_count, 0);
    assert_false(camera->has_sha256);
    const manifest_function *f = manifest_find_function(camera, "take_image_predefined_path");
    assert_non_null(f);
    assert_non_null(f->endpoint);
    assert_string_equal(f->endpoint->method, "get");
    assert_true(f->endpoint->response_is_file);
    assert_int_equal(f->endpoint->param_count, 0);
    assert_non_null(f->next);
    assert_string_equal(f->next->method, "post");   /* "POST" normalised */
    assert_string_equal(f->next->url, "http://172.15.0.22:5000/");
    assert_string_equal(f->next->request_media_type, "multipart/form-data");
    assert_false(f->next->response_is_file);
    assert_int_equal(f->next->response_type, SCHEMA_INTEGER);
    assert_int_equal(f->output.count, 1);
    assert_string_equal(f->output.items[0].path, "image.jpeg");
    assert_true(f->output.items[0].required);
    assert_int_equal(f->execution.count, 0);
    assert_null(manifest_find_module(m, "mobilenet"));
    manifest_free(m);
}

static void test_data_files_params_and_number_type(void **state)
{
    (void)state;
    json_t *json = load(fibo_node);
    json_t *schema = json_object_get(json_array_get(json_object_get(json_object_get(
        json_object_get(json_object_get(json_object_get(json, "endpoints"), "fibo"), "fibo"),
        "request"), "parameters"), 0), "schema");
    json_object_set_new(schema, "type", json_string("number"));   /* Liquid's addition */
    char err[512] = "";
    manifest *m = manifest_parse(json, err, sizeof err);
    assert_non_null(m);
    const manifest_module *fibo = &m->modules[0];
    assert_int_equal(fibo->data_file_count, 1);
    assert_string_equal(fibo->data_files[0].mount, "data");
    assert_string_equal(fibo->data_files[0].url, "https://o:3000/data.csv");
    const manifest_function *f = manifest_find_function(fibo, "fibo");
    assert_int_equal(f->endpoint->param_count, 1);
    assert_string_equal(f->endpoint->params[0].name, "param0");
    assert_true(f->endpoint->params[0].required);
    assert_int_equal(f->endpoint->params[0].type, SCHEMA_NUMBER);
    assert_null(f->next);
    assert_int_equal(f->deployment.count, 1);
    manifest_free(m);
    json_decref(json);
}

/* Applies `edit` (a JSON merge at a path) to fibo_node and expects `message`. */
typedef void (*edit_fn)(json_t *root);

static void expect_refused(edit_fn edit, const char *message)
{
    json_t *json = load(fibo_node);
    edit(json);
    char err[512] = "";
    manifest *m = manifest_parse(json, err, sizeof err);
    json_decref(json);
    if (m) {
        manifest_free(m);
        fail_msg("accepted; expected: %s", message);
    }
    if (strncmp(err, message, strlen(message)))
        fail_msg("message\n  %s\nexpected to start with\n  %s", err, message);
}

static json_t *first_module(json_t *root)
{
    return json_array_get(json_object_get(root, "modules"), 0);
}

static json_t *fibo_endpoint(json_t *root)
{
    return json_object_get(json_object_get(json_object_get(root, "endpoints"), "fibo"), "fibo");
}

static void no_id(json_t *r) { json_object_del(r, "deploymentId"); }
static void id_number(json_t *r) { json_object_set_new(r, "deploymentId", json_integer(7)); }
static void id_slash(json_t *r) { json_object_set_new(r, "deploymentId", json_string("a/b")); }
static void id_dot(json_t *r) { json_object_set_new(r, "deploymentId", json_string(".hidden")); }
static void no_modules(json_t *r) { json_object_del(r, "modules"); }
static void empty_modules(json_t *r) { json_object_set_new(r, "modules", json_array()); }
static void module_not_object(json_t *r)
{
    json_array_set_new(json_object_get(r, "modules"), 0, json_string("fibo"));
}
static void no_binary(json_t *r)
{
    json_object_del(json_object_get(first_module(r), "urls"), "binary");
}
static void binary_ftp(json_t *r)
{
    json_object_set_new(json_object_get(first_module(r), "urls"), "binary",
                        json_string("ftp://o/fibo.wasm"));
}
static void binary_no_host(json_t *r)
{
    json_object_set_new(json_object_get(first_module(r), "urls"), "binary",
                        json_string("http:///fibo.wasm"));
}
static void other_is_string(json_t *r)
{
    json_object_set_new(json_object_get(first_module(r), "urls"), "other", json_string("x"));
}
static void duplicate_module(json_t *r)
{
    json_array_append(json_object_get(r, "modules"), first_module(r));
}
static void float_type(json_t *r)
{
    json_t *param = json_array_get(json_object_get(json_object_get(fibo_endpoint(r), "request"),
                                                   "parameters"), 0);
    json_object_set_new(json_object_get(param, "schema"), "type", json_string("float"));
}
static void method_put(json_t *r)
{
    json_object_set_new(fibo_endpoint(r), "method", json_string("PUT"));
}
static void no_response(json_t *r) { json_object_del(fibo_endpoint(r), "response"); }
static void path_relative(json_t *r)
{
    json_object_set_new(fibo_endpoint(r), "path", json_string("d1/modules/fibo/fibo"));
}
static void ghost_endpoint(json_t *r)
{
    json_object_set_new(json_object_get(r, "endpoints"), "ghost", json_object());
}
static void ghost_mounts(json_t *r)
{
    json_object_set_new(json_object_get(r, "mounts"), "ghost", json_object());
}
static void traversal_mount(json_t *r)
{
    json_t *dep = json_object_get(json_object_get(json_object_get(json_object_get(r, "mounts"),
                                                                  "fibo"), "fibo"), "deployment");
    json_object_set_new(json_array_get(dep, 0), "path", json_string(".."));
}
static void wrong_stage(json_t *r)
{
    json_t *dep = json_object_get(json_object_get(json_object_get(json_object_get(r, "mounts"),
                                                                  "fibo"), "fibo"), "deployment");
    json_object_set_new(json_array_get(dep, 0), "stage", json_string("output"));
}
static void data_file_missing(json_t *r)
{
    json_object_set_new(json_object_get(first_module(r), "urls"), "other", json_object());
}
static void file_response_without_output(json_t *r)
{
    json_object_set_new(json_object_get(fibo_endpoint(r), "response"), "media_type",
                        json_string("image/png"));
}
static void next_without_url(json_t *r)
{
    json_t *step = json_object_get(json_object_get(json_object_get(json_object_get(r,
        "instructions"), "modules"), "fibo"), "fibo");
    json_t *to = json_deep_copy(fibo_endpoint(r));
    json_object_del(to, "url");
    json_object_set_new(step, "to", to);
}
static void bad_sha(json_t *r)
{
    json_object_set_new(first_module(r), "sha256", json_string("zz"));
}
static void negative_limit(json_t *r)
{
    json_object_set_new(first_module(r), "limits", json_pack("{s:i}", "fuel", -3));
}
static void tiny_memory_limit(json_t *r)
{
    json_object_set_new(r, "limits", json_pack("{s:i}", "maxMemoryBytes", 1000));
}

static void test_refusals_name_the_field(void **state)
{
    (void)state;
    expect_refused(no_id, "deploymentId: missing");
    expect_refused(id_number, "deploymentId: expected a string, got an integer");
    expect_refused(id_slash, "deploymentId: 'a/b' is not a plain name");
    expect_refused(id_dot, "deploymentId: '.hidden' is not a plain name");
    expect_refused(no_modules, "modules: missing");
    expect_refused(empty_modules, "modules: expected a non-empty array of modules, got an empty array");
    expect_refused(module_not_object, "modules[0]: expected a module object, got a string");
    expect_refused(no_binary, "modules[0].urls.binary: missing");
    expect_refused(binary_ftp, "modules[0].urls.binary: not an http(s) URL: 'ftp://o/fibo.wasm'");
    expect_refused(binary_no_host, "modules[0].urls.binary: not an http(s) URL");
    expect_refused(other_is_string, "modules[0].urls.other: expected an object {mountName: url}");
    expect_refused(duplicate_module, "modules[1].name: 'fibo' is already the name of modules[0]");
    expect_refused(float_type, "endpoints.fibo.fibo.request.parameters[0].schema.type: "
                               "unknown type 'float' (expected integer, number, string or object)");
    expect_refused(method_put, "endpoints.fibo.fibo.method: expected get or post, got 'PUT'");
    expect_refused(no_response, "endpoints.fibo.fibo.response: missing");
    expect_refused(path_relative, "endpoints.fibo.fibo.path: must start with '/'");
    expect_refused(ghost_endpoint, "endpoints.ghost: no module named 'ghost' in modules");
    expect_refused(ghost_mounts, "mounts.ghost: no module named 'ghost' in modules");
    expect_refused(traversal_mount, "mounts.fibo.fibo.deployment[0].path: '..' is not a plain file name");
    expect_refused(wrong_stage, "mounts.fibo.fibo.deployment[0].stage: 'output' in the deployment list");
    expect_refused(data_file_missing, "mounts.fibo.fibo.deployment[0]: no data file 'data'");
    expect_refused(file_response_without_output,
                   "endpoints.fibo.fibo.response.media_type: 'image/png' is a file, so "
                   "mounts.fibo.fibo needs exactly one output mount (found 0)");
    expect_refused(next_without_url, "instructions.modules.fibo.fibo.to.url: missing");
    expect_refused(bad_sha, "modules[0].sha256: expected 64 hexadecimal digits");
    expect_refused(negative_limit, "modules[0].limits.fuel: expected a whole number >= 0");
    expect_refused(tiny_memory_limit, "limits.maxMemoryBytes: at least 65536");
}

static void test_not_an_object(void **state)
{
    (void)state;
    char err[256];
    json_t *array = json_array();
    assert_null(manifest_parse(array, err, sizeof err));
    assert_string_equal(err, "(body): expected a JSON object (a deployment mini-manifest), "
                             "got an array");
    json_decref(array);
    assert_null(manifest_parse(NULL, err, sizeof err));
}

static void test_optional_sections_and_old_other_array(void **state)
{
    (void)state;
    /* Rust's reference treats endpoints/instructions/mounts as optional; the README's old
     * example wrote other as [] */
    json_t *json = load("{\"deploymentId\": \"x\", \"modules\": [{\"name\": \"m\", \"urls\": "
                        "{\"binary\": \"HTTPS://host/m.wasm\", \"other\": []}, "
                        "\"sha256\": \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}]}");
    char err[256] = "";
    manifest *m = manifest_parse(json, err, sizeof err);
    assert_non_null(m);
    assert_true(m->modules[0].has_sha256);
    assert_int_equal(m->modules[0].sha256[0], 0x00);
    assert_int_equal(m->modules[0].sha256[31], 0xff);
    assert_int_equal(m->modules[0].function_count, 0);
    manifest_free(m);
    json_decref(json);
}

static void test_limits_precedence(void **state)
{
    (void)state;
    json_t *json = load(fibo_node);
    json_object_set_new(json, "limits", json_pack("{s:i, s:i}", "timeoutMs", 500, "fuel", 7));
    json_object_set_new(first_module(json), "limits", json_pack("{s:i}", "fuel", 9));
    char err[256];
    manifest *m = manifest_parse(json, err, sizeof err);
    assert_non_null(m);
    manifest_limits defaults = {true, true, true, 10000, 0, 1 << 28};
    manifest_limits l = manifest_effective_limits(m, &m->modules[0], &defaults);
    assert_int_equal(l.fuel, 9);                /* the module's own */
    assert_int_equal(l.timeout_ms, 500);        /* the deployment's */
    assert_int_equal(l.max_memory_bytes, 1 << 28);  /* the default */
    manifest_free(m);
    json_decref(json);
}

static void test_names_and_urls(void **state)
{
    (void)state;
    assert_true(manifest_is_safe_name("image.jpeg"));
    assert_true(manifest_is_safe_name("..hidden"));
    assert_false(manifest_is_safe_name(""));
    assert_false(manifest_is_safe_name("."));
    assert_false(manifest_is_safe_name(".."));
    assert_false(manifest_is_safe_name("a/b"));
    assert_false(manifest_is_safe_name("a\\b"));
    assert_false(manifest_is_safe_name("a\nb"));
    assert_false(manifest_is_safe_name(NULL));
    char long_name[300];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_false(manifest_is_safe_name(long_name));

    assert_true(manifest_is_http_url("http://10.0.0.5:5000/file/module/1/wasm"));
    assert_true(manifest_is_http_url("https://orch"));
    assert_false(manifest_is_http_url("http://"));
    assert_false(manifest_is_http_url("http://:80/x"));
    assert_false(manifest_is_http_url("file:///etc/passwd"));
    assert_false(manifest_is_http_url("http://host/a b"));
    assert_false(manifest_is_http_url("orch:3000/wasm"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_node_parses),
        cmocka_unit_test(test_data_files_params_and_number_type),
        cmocka_unit_test(test_refusals_name_the_field),
        cmocka_unit_test(test_not_an_object),
        cmocka_unit_test(test_optional_sections_and_old_other_array),
        cmocka_unit_test(test_limits_precedence),
        cmocka_unit_test(test_names_and_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
