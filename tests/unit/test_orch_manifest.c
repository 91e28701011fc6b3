/*
 * test_orch_manifest.c — a posted manifest's shape (errors name the member by its
 * path; members by name, not key order), what a step's function is read from its module
 * document (and the refusals: not exported, never described, a data file missing, a
 * file answer without an output mount), and the DeploymentNodes built for a placed
 * chain (§2.5: endpoints, instructions i -> i+1 across devices, mounts, data file URLs,
 * digests, float schemas as "number", a repeated function on one device renamed).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator/placement.h"

static json_t *load(const char *text)
{
    json_error_t error;
    json_t *json = json_loads(text, 0, &error);
    if (!json)
        fail_msg("bad test JSON: %s at %d", error.text, error.position);
    return json;
}

/* ---- manifest_request_parse */

static void assert_refused(const char *text, const char *words)
{
    json_t *json = load(text);
    manifest_request m;
    char err[512] = "";
    assert_false(manifest_request_parse(json, &m, err, sizeof err));
    if (!strstr(err, words))
        fail_msg("expected '%s' in '%s'", words, err);
    json_decref(json);
}

static void test_manifest_shape_errors_name_the_member(void **state)
{
    (void)state;
    assert_refused("[]", "expected an object");
    assert_refused("{\"sequence\": []}", "name: missing");
    assert_refused("{\"name\": \"\", \"sequence\": [{\"module\": \"m\", \"func\": \"f\"}]}",
                   "name: expected a name of 1 to");
    assert_refused("{\"name\": \"x\", \"sequence\": {}}", "sequence: expected an array");
    assert_refused("{\"name\": \"x\", \"sequence\": []}", "sequence: empty");
    assert_refused("{\"name\": \"x\", \"sequence\": [1]}", "sequence[0]: expected an object");
    assert_refused("{\"name\": \"x\", \"sequence\": [{\"module\": \"m\", \"func\": \"f\"},"
                   " {\"func\": \"f\"}]}", "sequence[1].module: missing");
    assert_refused("{\"name\": \"x\", \"sequence\": [{\"module\": \"m\", \"func\": \"\"}]}",
                   "sequence[0].func: empty");
    assert_refused("{\"name\": \"x\", \"sequence\": [{\"module\": \"m\", \"func\": \"f\","
                   " \"device\": 12}]}", "sequence[0].device: expected a string");
    assert_refused("{\"name\": \"x\", \"sequence\": [{\"module\": \"m\", \"func\": \"f\","
                   " \"failovers\": [\"a\", 3]}]}", "sequence[0].failovers[1]: expected a device");
}

static void test_manifest_members_by_name_in_any_order(void **state)
{
    (void)state;
    json_t *json = load("{\"sequence\": [{\"func\": \"take\", \"device\": null, \"module\": \"cam\","
                        " \"failovers\": [\"b\", \"c\"]},"
                        " {\"module\": \"gray\", \"device\": \"pi-2\", \"func\": \"g\"},"
                        " {\"module\": \"m\", \"func\": \"f\", \"device\": \"\"}],"
                        " \"name\": \"pipe\"}");
    manifest_request m;
    char err[512];
    assert_true(manifest_request_parse(json, &m, err, sizeof err));
    assert_string_equal(m.name, "pipe");
    assert_int_equal(m.step_count, 3);
    assert_null(m.steps[0].device);
    assert_string_equal(m.steps[0].module, "cam");
    assert_string_equal(m.steps[0].func, "take");
    assert_int_equal(m.steps[0].failover_count, 2);
    assert_string_equal(m.steps[0].failovers[1], "c");
    assert_string_equal(m.steps[1].device, "pi-2");
    assert_null(m.steps[2].device);     /* "" means "choose", as a form sends it */
    manifest_request_free(&m);
    json_decref(json);
}

/* ---- step_function_load: module documents as the registry stores them */

static const char *fibo_module =
    "{\"_id\": \"aaaaaaaaaaaaaaaaaaaaaaaa\", \"name\": \"fibo\","
    " \"exports\": [{\"name\": \"fibo\", \"parameterCount\": 1},"
    "               {\"name\": \"half\", \"parameterCount\": 1},"
    "               {\"name\": \"undescribed\", \"parameterCount\": 0}],"
    " \"requirements\": [{\"module\": \"wasi_snapshot_preview1\", \"name\": \"fd_write\","
    "                     \"kind\": \"function\"},"
    "                    {\"module\": \"camera\", \"name\": \"takeImageStaticSize\","
    "                     \"kind\": \"function\"},"
    "                    {\"module\": \"env\", \"name\": \"memory\", \"kind\": \"memory\"}],"
    " \"wasm\": {\"sha256\": \"0c5484774bb5a4d758c4ce82082d6667d706443b81864f1f97b0eb3d42840218\"},"
    " \"dataFiles\": {\"model\": {\"sha256\": \"11\"}},"
    " \"mounts\": {\"fibo\": {\"model\": {\"mediaType\": \"application/octet-stream\","
    "                                   \"stage\": \"deployment\"},"
    "                        \"in.txt\": {\"mediaType\": \"text/plain\", \"stage\": \"execution\"}},"
    "             \"half\": {}},"
    " \"description\": {\"openapi\": \"3.0.3\", \"paths\": {"
    "   \"/{deployment}/modules/fibo/fibo\": {"
    "     \"parameters\": [{\"name\": \"deployment\", \"in\": \"path\", \"required\": true}],"
    "     \"post\": {\"parameters\": [{\"name\": \"param0\", \"in\": \"query\", \"required\": true,"
    "                                 \"schema\": {\"type\": \"integer\"}}],"
    "       \"responses\": {\"200\": {\"content\": {\"application/json\":"
    "                                               {\"schema\": {\"type\": \"integer\"}}}}},"
    "       \"requestBody\": {\"content\": {\"multipart/form-data\": {"
    "          \"schema\": {\"type\": \"object\", \"properties\": {\"model\": {\"type\": \"string\","
    "            \"format\": \"binary\"}, \"in.txt\": {\"type\": \"string\", \"format\": \"binary\"}}},"
    "          \"encoding\": {\"model\": {\"contentType\": \"application/octet-stream\"}}}}}}},"
    "   \"/{deployment}/modules/fibo/half\": {"
    "     \"get\": {\"parameters\": [{\"name\": \"param0\", \"in\": \"query\", \"required\": true,"
    "                                \"schema\": {\"type\": \"float\"}}],"
    "       \"responses\": {\"200\": {\"content\": {\"application/json\":"
    "                                               {\"schema\": {\"type\": \"float\"}}}}}}}}}}";

static void test_step_function_reads_the_description(void **state)
{
    (void)state;
    json_t *module = load(fibo_module);
    step_function f;
    char err[512];
    assert_true(step_function_load(module, "fibo", &f, err, sizeof err));
    assert_string_equal(f.module_name, "fibo");
    assert_string_equal(f.method, "post");
    assert_int_equal(f.param_count, 1);     /* the {deployment} path parameter is not one */
    assert_string_equal(f.param_types[0], "integer");
    assert_int_equal(f.execution_mount_count, 1);
    assert_string_equal(f.execution_mounts[0], "in.txt");
    assert_int_equal(f.deployment_mount_count, 1);
    assert_string_equal(f.output_type, "integer");
    assert_null(f.output_mount);
    assert_int_equal(f.import_count, 2);    /* function imports only */
    assert_string_equal(f.imports[1].module, "camera");
    assert_int_equal(f.capability_count, 1);     /* camera.* needs a camera */
    assert_string_equal(f.capabilities[0], "camera");
    assert_string_equal(json_string_value(json_object_get(f.request_body, "media_type")),
                        "multipart/form-data");
    solver_signature sig = step_function_signature(&f);
    assert_int_equal(solver_output_data(&sig), SOLVER_DATA_NUMBER);
    step_function_clear(&f);
    json_decref(module);
}

static void assert_function_refused(json_t *module, const char *func, const char *words)
{
    step_function f;
    char err[512] = "";
    assert_false(step_function_load(module, func, &f, err, sizeof err));
    if (!strstr(err, words))
        fail_msg("expected '%s' in '%s'", words, err);
}

static void test_step_function_refusals(void **state)
{
    (void)state;
    json_t *module = load(fibo_module);
    assert_function_refused(module, "nope", "module 'fibo' does not export a function 'nope' "
                                            "(it exports fibo, half, undescribed)");
    assert_function_refused(module, "undescribed",
                            "module 'fibo' has no description of function 'undescribed'");
    json_object_del(json_object_get(module, "dataFiles"), "model");
    assert_function_refused(module, "fibo", "needs the data file 'model' (a deployment mount), "
                                            "which was not uploaded");
    json_decref(module);

    /* a file answer needs an output mount */
    module = load(fibo_module);
    json_t *op = json_object_get(json_object_get(json_object_get(json_object_get(
                                     module, "description"), "paths"),
                                     "/{deployment}/modules/fibo/half"), "get");
    json_object_set_new(json_object_get(op, "responses"), "200",
                        load("{\"content\": {\"image/jpeg\": {\"schema\": {\"type\": \"string\"}}}}"));
    assert_function_refused(module, "half", "answers a file (image/jpeg) but has no output mount");
    json_decref(module);
}

/* ---- deployer_build_nodes */

static void test_nodes_link_steps_across_devices(void **state)
{
    (void)state;
    json_t *module = load(fibo_module);
    step_function f, h;
    char err[512];
    assert_true(step_function_load(module, "half", &h, err, sizeof err));
    assert_true(step_function_load(module, "fibo", &f, err, sizeof err));
    /* half on A -> fibo on B -> half on A -> half on A (the same function again on A) */
    node_step steps[4] = {{&h, "devA", "http://10.0.0.1:8080/"}, {&f, "devB", "http://10.0.0.2:8080"},
                          {&h, "devA", "http://10.0.0.1:8080/"}, {&h, "devA", "http://10.0.0.1:8080/"}};
    json_t *aliases = NULL;
    json_t *nodes = deployer_build_nodes("dep1", steps, 4, "http://orch:3000/", &aliases, err,
                                         sizeof err);
    assert_non_null(nodes);
    assert_int_equal(json_object_size(nodes), 2);
    assert_string_equal(json_string_value(json_array_get(aliases, 0)), "fibo");
    assert_string_equal(json_string_value(json_array_get(aliases, 2)), "fibo-3");
    assert_string_equal(json_string_value(json_array_get(aliases, 3)), "fibo-4");

    json_t *a = json_object_get(nodes, "devA"), *b = json_object_get(nodes, "devB");
    assert_string_equal(json_string_value(json_object_get(a, "deploymentId")), "dep1");
    /* A runs the module three times over: as fibo, fibo-3 and fibo-4 */
    assert_int_equal(json_array_size(json_object_get(a, "modules")), 3);
    json_t *m0 = json_array_get(json_object_get(a, "modules"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(m0, "urls"), "binary")),
                        "http://orch:3000/file/module/aaaaaaaaaaaaaaaaaaaaaaaa/wasm");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(m0, "urls"), "other"), "model")),
                        "http://orch:3000/file/module/aaaaaaaaaaaaaaaaaaaaaaaa/model");
    assert_int_equal(strlen(json_string_value(json_object_get(m0, "sha256"))), 64);

    json_t *half = json_object_get(json_object_get(json_object_get(a, "endpoints"), "fibo"), "half");
    assert_string_equal(json_string_value(json_object_get(half, "url")), "http://10.0.0.1:8080");
    assert_string_equal(json_string_value(json_object_get(half, "path")),
                        "/dep1/modules/fibo/half");
    assert_string_equal(json_string_value(json_object_get(half, "method")), "get");
    json_t *param = json_array_get(json_object_get(json_object_get(half, "request"), "parameters"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(param, "schema"), "type")),
                        "number");     /* float, as Liquid supervisors take it */
    assert_string_equal(json_string_value(json_object_get(json_object_get(
                            json_object_get(half, "response"), "schema"), "type")), "number");

    /* step 1 on A points at step 2 on B; step 2 on B at step 3 on A (as fibo-3) */
    json_t *to = json_object_get(json_object_get(json_object_get(json_object_get(
                     json_object_get(a, "instructions"), "modules"), "fibo"), "half"), "to");
    assert_string_equal(json_string_value(json_object_get(to, "url")), "http://10.0.0.2:8080");
    assert_string_equal(json_string_value(json_object_get(to, "path")), "/dep1/modules/fibo/fibo");
    to = json_object_get(json_object_get(json_object_get(json_object_get(
             json_object_get(b, "instructions"), "modules"), "fibo"), "fibo"), "to");
    assert_string_equal(json_string_value(json_object_get(to, "path")),
                        "/dep1/modules/fibo-3/half");
    to = json_object_get(json_object_get(json_object_get(json_object_get(
             json_object_get(a, "instructions"), "modules"), "fibo-4"), "half"), "to");
    assert_true(json_is_null(to));      /* the last step */

    json_t *mounts = json_object_get(json_object_get(json_object_get(b, "mounts"), "fibo"), "fibo");
    assert_int_equal(json_array_size(json_object_get(mounts, "execution")), 1);
    json_t *dm = json_array_get(json_object_get(mounts, "deployment"), 0);
    assert_string_equal(json_string_value(json_object_get(dm, "path")), "model");
    assert_string_equal(json_string_value(json_object_get(dm, "stage")), "deployment");
    assert_int_equal(json_array_size(json_object_get(mounts, "output")), 0);

    json_decref(nodes);
    json_decref(aliases);
    step_function_clear(&f);
    step_function_clear(&h);
    json_decref(module);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_shape_errors_name_the_member),
        cmocka_unit_test(test_manifest_members_by_name_in_any_order),
        cmocka_unit_test(test_step_function_reads_the_description),
        cmocka_unit_test(test_step_function_refusals),
        cmocka_unit_test(test_nodes_link_steps_across_devices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
