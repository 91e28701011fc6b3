/*
 * manifest_function.c — what a manifest step's function is, read from its module
 * document (store.h): its HTTP operation in the module's OpenAPI description (as
 * the registry generates it, wasmiot-api.md §3.2), its mounts, the module's imports.
 */
#include "orchestrator/placement.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const http_methods[] = {"get", "post", "put", "delete", "patch"};

/* Import modules that stand for hardware: a module importing from one needs a device
 * declaring the capability of the same name. */
static const char *const hardware_modules[][2] = {
    {"camera", "camera"},
    {"dht", "dht"},
};

static const char *string_member(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static bool is_exported(const json_t *module, const char *func)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(module, "exports"), i, e) {
        const char *name = json_is_string(e) ? json_string_value(e) : string_member(e, "name");
        if (name && !strcmp(name, func))
            return true;
    }
    return false;
}

static void list_exports(const json_t *module, char *out, size_t size)
{
    size_t i, n = 0;
    json_t *e;
    out[0] = '\0';
    json_array_foreach(json_object_get(module, "exports"), i, e) {
        const char *name = json_is_string(e) ? json_string_value(e) : string_member(e, "name");
        if (name && n < size)
            n += (size_t)snprintf(out + n, size - n, "%s%s", n ? ", " : "", name);
    }
    if (!n)
        snprintf(out, size, "no functions");
}

/* The path item of the function in the description: "/{deployment}/modules/<m>/<f>",
 * or any path ending in "/modules/<m>/<f>". */
static json_t *path_item(const json_t *module, const char *name, const char *func)
{
    json_t *paths = json_object_get(json_object_get(module, "description"), "paths");
    char exact[512], tail[512];
    snprintf(exact, sizeof exact, "/{deployment}/modules/%s/%s", name, func);
    snprintf(tail, sizeof tail, "/modules/%s/%s", name, func);
    json_t *item = json_object_get(paths, exact);
    if (item)
        return item;
    const char *key;
    json_t *value;
    size_t tail_len = strlen(tail);
    json_object_foreach(paths, key, value) {
        size_t len = strlen(key);
        if (len >= tail_len && !strcmp(key + len - tail_len, tail))
            return value;
    }
    return NULL;
}

/* {"media_type": <first content key>, "schema": ..., "encoding"?: ...} */
static json_t *first_content(const json_t *content, bool with_encoding)
{
    const char *media;
    json_t *entry;
    json_object_foreach((json_t *)content, media, entry) {
        json_t *out = json_pack("{s:s, s:O}", "media_type", media, "schema",
                                json_object_get(entry, "schema") ? json_object_get(entry, "schema")
                                                                 : json_object());
        if (with_encoding && json_object_get(entry, "encoding"))
            json_object_set(out, "encoding", json_object_get(entry, "encoding"));
        return out;
    }
    return NULL;
}

static bool read_operation(step_function *f, const json_t *item, char *err, size_t err_size)
{
    json_t *op = NULL;
    for (size_t i = 0; i < sizeof http_methods / sizeof *http_methods; i++) {
        json_t *candidate = json_object_get(item, http_methods[i]);
        if (!candidate)
            continue;
        if (op) {
            snprintf(err, err_size, "module '%s' describes function '%s' with more than one "
                     "HTTP method: describe it again with one", f->module_name, f->func);
            return false;
        }
        op = candidate;
        f->method = http_methods[i];
    }
    if (!op) {
        snprintf(err, err_size, "module '%s' describes function '%s' without an HTTP method: "
                 "describe it again (POST /file/module/%s/upload)", f->module_name, f->func,
                 f->module_id);
        return false;
    }
    f->parameters = json_array();
    size_t i;
    json_t *param;
    json_array_foreach(json_object_get(op, "parameters"), i, param) {
        const char *in = string_member(param, "in");
        if (in && strcmp(in, "query"))
            continue;   /* {deployment} is a path parameter the endpoint's path fills */
        json_array_append(f->parameters, param);
    }
    f->param_count = json_array_size(f->parameters);
    f->param_types = calloc(f->param_count + 1, sizeof *f->param_types);
    if (!f->param_types)
        return false;
    json_array_foreach(f->parameters, i, param) {
        const char *type = string_member(json_object_get(param, "schema"), "type");
        f->param_types[i] = type ? type : "integer";
    }
    json_t *ok = json_object_get(json_object_get(op, "responses"), "200");
    f->response = first_content(json_object_get(ok, "content"), false);
    if (!f->response)
        f->response = json_pack("{s:s, s:{s:s}}", "media_type", "application/json", "schema",
                                "type", "integer");
    json_t *body = json_object_get(json_object_get(op, "requestBody"), "content");
    f->request_body = body ? first_content(body, true) : NULL;
    return true;
}

static bool collect_mounts(step_function *f, char *err, size_t err_size)
{
    json_t *mounts = json_object_get(json_object_get(f->module, "mounts"), f->func);
    size_t n = json_object_size(mounts);
    f->execution_mounts = calloc(n + 1, sizeof *f->execution_mounts);
    f->deployment_mounts = calloc(n + 1, sizeof *f->deployment_mounts);
    if (!f->execution_mounts || !f->deployment_mounts)
        return false;
    json_t *data_files = json_object_get(f->module, "dataFiles");
    const char *name;
    json_t *mount;
    json_object_foreach(mounts, name, mount) {
        const char *stage = string_member(mount, "stage");
        if (!stage)
            continue;
        if (!strcmp(stage, "execution")) {
            f->execution_mounts[f->execution_mount_count++] = name;
        } else if (!strcmp(stage, "deployment")) {
            if (!json_object_get(data_files, name)) {
                snprintf(err, err_size, "module '%s' function '%s' needs the data file '%s' "
                         "(a deployment mount), which was not uploaded: upload it with POST "
                         "/file/module/%s/upload", f->module_name, f->func, name, f->module_id);
                return false;
            }
            f->deployment_mounts[f->deployment_mount_count++] = name;
        } else if (!strcmp(stage, "output")) {
            f->output_mount = name;
        }
    }
    const char *media = string_member(f->response, "media_type");
    if (media && !strcasecmp(media, "application/json")) {
        f->output_type = string_member(json_object_get(f->response, "schema"), "type");
        if (!f->output_type)
            f->output_type = "integer";
        f->output_mount = NULL;     /* a number is what flows on */
    } else {
        f->output_type = media ? media : "application/octet-stream";
        if (!f->output_mount) {
            snprintf(err, err_size, "module '%s' function '%s' answers a file (%s) but has no "
                     "output mount: describe it again with a mount of stage output",
                     f->module_name, f->func, f->output_type);
            return false;
        }
    }
    return true;
}

static bool add_capability(step_function *f, const char *name, size_t cap)
{
    for (size_t i = 0; i < f->capability_count; i++)
        if (!strcmp(f->capabilities[i], name))
            return true;
    if (f->capability_count >= cap)
        return false;
    f->capabilities[f->capability_count++] = name;
    return true;
}

static bool collect_imports(step_function *f)
{
    json_t *requirements = json_object_get(f->module, "requirements");
    json_t *declared = json_object_get(f->module, "capabilities");
    size_t n = json_array_size(requirements), cap = n + json_array_size(declared) + 1;
    f->imports = calloc(n + 1, sizeof *f->imports);
    f->capabilities = calloc(cap, sizeof *f->capabilities);
    if (!f->imports || !f->capabilities)
        return false;
    size_t i;
    json_t *r;
    json_array_foreach(requirements, i, r) {
        const char *module = string_member(r, "module"), *name = string_member(r, "name");
        const char *kind = string_member(r, "kind");
        if (!module || !name || (kind && strcmp(kind, "function")))
            continue;
        f->imports[f->import_count++] = (solver_import){module, name};
        for (size_t h = 0; h < sizeof hardware_modules / sizeof *hardware_modules; h++)
            if (!strcmp(module, hardware_modules[h][0]))
                add_capability(f, hardware_modules[h][1], cap);
    }
    json_array_foreach(declared, i, r)
        if (json_is_string(r))
            add_capability(f, json_string_value(r), cap);
    return true;
}

bool step_function_load(json_t *module, const char *func, step_function *f, char *err,
                        size_t err_size)
{
    *f = (step_function){.module = json_incref(module), .func = func};
    if (err_size)
        err[0] = '\0';
    f->module_id = string_member(module, "_id");
    f->module_name = string_member(module, "name");
    if (!f->module_id || !f->module_name) {
        snprintf(err, err_size, "the module document lacks its id or name");
        step_function_clear(f);
        return false;
    }
    if (!is_exported(module, func)) {
        char exports[400];
        list_exports(module, exports, sizeof exports);
        snprintf(err, err_size, "module '%s' does not export a function '%s' (it exports %s)",
                 f->module_name, func, exports);
        step_function_clear(f);
        return false;
    }
    json_t *item = path_item(module, f->module_name, func);
    if (!item) {
        snprintf(err, err_size, "module '%s' has no description of function '%s': describe "
                 "it first (POST /file/module/%s/upload)", f->module_name, func, f->module_id);
        step_function_clear(f);
        return false;
    }
    bool ok = read_operation(f, item, err, err_size) && collect_mounts(f, err, err_size);
    if (ok && !collect_imports(f)) {
        snprintf(err, err_size, "out of memory");
        ok = false;
    }
    if (!ok) {
        if (!err[0])
            snprintf(err, err_size, "out of memory");
        step_function_clear(f);
    }
    return ok;
}

void step_function_clear(step_function *f)
{
    if (!f)
        return;
    json_decref(f->module);
    json_decref(f->parameters);
    json_decref(f->request_body);
    json_decref(f->response);
    free(f->param_types);
    free(f->execution_mounts);
    free(f->deployment_mounts);
    free(f->imports);
    free(f->capabilities);
    *f = (step_function){0};
}

solver_signature step_function_signature(const step_function *f)
{
    return (solver_signature){
        .module = f->module_name,
        .function = f->func,
        .param_types = f->param_types,
        .param_count = f->param_count,
        .execution_mounts = f->execution_mounts,
        .execution_mount_count = f->execution_mount_count,
        .output_type = f->output_type,
        .output_mount = f->output_mount,
    };
}
