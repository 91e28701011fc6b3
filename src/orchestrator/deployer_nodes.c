/*
 * deployer_nodes.c — each device's DeploymentNode ("mini-manifest", wasmiot-api.md
 * §2.5) for a placed chain: the modules it runs with their URLs and digests, the
 * endpoint of each function, the instruction linking step i to step i + 1 (possibly
 * on another device), and the mounts.
 *
 * Float schemas are written as "number", the type Liquid supervisors take for floats
 * (the reference supervisors accept no float at all, §2.5).
 */
#define _GNU_SOURCE
#include "orchestrator/placement.h"

#include "base/http_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *string_member(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* A copy of a schema with "float" types renamed "number", at any depth. */
static json_t *liquid_schema(const json_t *schema)
{
    json_t *copy = json_deep_copy(schema);
    if (!json_is_object(copy))
        return copy ? copy : json_object();
    const char *type = string_member(copy, "type");
    if (type && !strcmp(type, "float"))
        json_object_set_new(copy, "type", json_string("number"));
    const char *key;
    json_t *value;
    json_object_foreach(json_object_get(copy, "properties"), key, value) {
        json_t *inner = liquid_schema(value);
        json_object_set_new(json_object_get(copy, "properties"), key, inner);
    }
    return copy;
}

static json_t *with_liquid_schema(const json_t *obj)
{
    json_t *copy = json_deep_copy(obj);
    if (json_is_object(copy) && json_object_get(copy, "schema"))
        json_object_set_new(copy, "schema", liquid_schema(json_object_get(copy, "schema")));
    return copy;
}

static json_t *endpoint(const char *deployment_id, const node_step *step, const char *alias)
{
    const step_function *f = step->function;
    char *path = NULL;
    if (asprintf(&path, "/%s/modules/%s/%s", deployment_id, alias, f->func) < 0)
        return NULL;
    size_t url_len = strlen(step->device_url);
    while (url_len && step->device_url[url_len - 1] == '/')
        url_len--;
    json_t *parameters = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(f->parameters, i, p)
        json_array_append_new(parameters, with_liquid_schema(p));
    json_t *request = json_pack("{s:o}", "parameters", parameters);
    if (f->request_body)
        json_object_set_new(request, "request_body", with_liquid_schema(f->request_body));
    json_t *e = json_pack("{s:s%, s:s, s:s, s:o, s:o}", "url", step->device_url, url_len, "path",
                          path, "method", f->method, "request", request, "response",
                          with_liquid_schema(f->response));
    free(path);
    return e;
}

static json_t *mount_list(const step_function *f, const char *stage)
{
    json_t *list = json_array();
    json_t *mounts = json_object_get(json_object_get(f->module, "mounts"), f->func);
    const char *name;
    json_t *mount;
    json_object_foreach(mounts, name, mount) {
        const char *s = string_member(mount, "stage");
        if (!s || strcmp(s, stage))
            continue;
        const char *media = string_member(mount, "mediaType");
        json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "path", name, "media_type",
                                              media ? media : "application/octet-stream",
                                              "stage", stage));
    }
    return list;
}

static json_t *module_entry(const step_function *f, const char *alias, const char *base)
{
    const char *id = f->module_id;
    char *binary = NULL, *description = NULL;
    if (asprintf(&binary, "%s/file/module/%s/wasm", base, id) < 0)
        return NULL;
    if (asprintf(&description, "%s/file/module/%s/description", base, id) < 0) {
        free(binary);
        return NULL;
    }
    json_t *other = json_object();
    const char *mount;
    json_t *file;
    json_object_foreach(json_object_get(f->module, "dataFiles"), mount, file) {
        char *url = NULL;
        char *escaped = http_url_encode(mount);
        if (escaped && asprintf(&url, "%s/file/module/%s/%s", base, id, escaped) >= 0)
            json_object_set_new(other, mount, json_string(url));
        free(url);
        free(escaped);
    }
    json_t *entry = json_pack("{s:s, s:s, s:{s:s, s:s, s:o}}", "id", id, "name", alias, "urls",
                              "binary", binary, "description", description, "other", other);
    const char *sha = string_member(json_object_get(f->module, "wasm"), "sha256");
    if (entry && sha)
        json_object_set_new(entry, "sha256", json_string(sha));
    free(binary);
    free(description);
    return entry;
}

/* The node of device_id in nodes, created on first use. */
static json_t *node_of(json_t *nodes, const char *deployment_id, const char *device_id)
{
    json_t *node = json_object_get(nodes, device_id);
    if (node)
        return node;
    node = json_pack("{s:s, s:[], s:{}, s:{s:{}}, s:{}}", "deploymentId", deployment_id,
                     "modules", "endpoints", "instructions", "modules", "mounts");
    json_object_set_new(nodes, device_id, node);
    return node;
}

static bool has_module(const json_t *node, const char *alias)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(node, "modules"), i, m)
        if (!strcmp(string_member(m, "name"), alias))
            return true;
    return false;
}

/* The name step s's module has on its device: its own, unless an earlier step of the
 * chain already runs the same function on the same device. */
static char *alias_for(const node_step *steps, size_t s)
{
    const step_function *f = steps[s].function;
    for (size_t t = 0; t < s; t++) {
        const step_function *g = steps[t].function;
        if (!strcmp(steps[t].device_id, steps[s].device_id) &&
            !strcmp(g->module_id, f->module_id) && !strcmp(g->func, f->func)) {
            char *alias = NULL;
            if (asprintf(&alias, "%s-%zu", f->module_name, s + 1) < 0)
                return NULL;
            return alias;
        }
    }
    return strdup(f->module_name);
}

json_t *deployer_build_nodes(const char *deployment_id, const node_step *steps, size_t count,
                             const char *base_url, json_t **aliases_out, char *err,
                             size_t err_size)
{
    size_t base_len = strlen(base_url);
    while (base_len && base_url[base_len - 1] == '/')
        base_len--;
    char *base = strndup(base_url, base_len);
    json_t *nodes = json_object(), *aliases = json_array();
    json_t **endpoints = calloc(count + 1, sizeof *endpoints);
    bool ok = base && nodes && aliases && endpoints;
    for (size_t s = 0; ok && s < count; s++) {
        char *alias = alias_for(steps, s);
        ok = alias && !json_array_append_new(aliases, json_string(alias));
        endpoints[s] = ok ? endpoint(deployment_id, &steps[s], alias) : NULL;
        ok = ok && endpoints[s];
        free(alias);
    }
    for (size_t s = 0; ok && s < count; s++) {
        const step_function *f = steps[s].function;
        const char *alias = json_string_value(json_array_get(aliases, s));
        json_t *node = node_of(nodes, deployment_id, steps[s].device_id);
        if (!has_module(node, alias)) {
            json_t *entry = module_entry(f, alias, base);
            ok = entry && !json_array_append_new(json_object_get(node, "modules"), entry);
        }
        json_t *by_func;
#define SECTION(obj, key) \
    ((by_func = json_object_get((obj), (key))) \
         ? by_func \
         : (json_object_set_new((obj), (key), json_object()), json_object_get((obj), (key))))
        json_object_set(SECTION(json_object_get(node, "endpoints"), alias), f->func,
                        endpoints[s]);
        json_t *instruction = json_pack("{s:O, s:O}", "from", endpoints[s], "to",
                                        s + 1 < count ? endpoints[s + 1] : json_null());
        json_object_set_new(
            SECTION(json_object_get(json_object_get(node, "instructions"), "modules"), alias),
            f->func, instruction);
        json_object_set_new(SECTION(json_object_get(node, "mounts"), alias), f->func,
                            json_pack("{s:o, s:o, s:o}", "execution", mount_list(f, "execution"),
                                      "deployment", mount_list(f, "deployment"), "output",
                                      mount_list(f, "output")));
#undef SECTION
    }
    for (size_t s = 0; endpoints && s < count; s++)
        json_decref(endpoints[s]);
    free(endpoints);
    free(base);
    if (!ok) {
        snprintf(err, err_size, "out of memory while building the deployment's nodes");
        json_decref(nodes);
        json_decref(aliases);
        return NULL;
    }
    *aliases_out = aliases;
    return nodes;
}
