/*
 * openapi.c — the OpenAPI 3.0.3 document of a module's supervisor endpoints, in the
 * shape the Wasm-IoT orchestrator generates (wasmiot-api.md §3.2), because the
 * deployer derives each step's Endpoint from it and existing clients read it:
 *
 *   paths["/{deployment}/modules/<module>/<func>"] = {
 *     "summary", "parameters": [the `deployment` path parameter],
 *     "<method>": {"tags": [], "summary", "parameters": [each FD parameter in the query],
 *                  "responses": {"200": {"description", "content": {<output>}}},
 *                  "requestBody": {multipart/form-data of the non-output mounts}}}
 *
 * The output is {"application/json": {"schema": {"type": T}}} for integer and float,
 * and {"<media type>": {"schema": {"type": "string", "format": "binary"}}} otherwise,
 * the media type of an output mount taking precedence over `output`.
 */
#include "orchestrator/modules.h"

#include <stdio.h>
#include <string.h>

static bool is_primitive(const char *type)
{
    return type && (!strcmp(type, "integer") || !strcmp(type, "float"));
}

/* The output mount's media type as the description gave it, else `output`. */
static const char *output_type(const json_t *func)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(func, "mounts"), i, m) {
        const char *stage = json_string_value(json_object_get(m, "stage"));
        const char *media = json_string_value(json_object_get(m, "mediaType"));
        if (stage && !strcmp(stage, "output") && media)
            return media;
    }
    const char *output = json_string_value(json_object_get(func, "output"));
    return output ? output : "application/octet-stream";
}

static json_t *response_content(const json_t *func)
{
    const char *type = output_type(func);
    if (is_primitive(type))
        return json_pack("{s:{s:{s:s}}}", "application/json", "schema", "type", type);
    return json_pack("{s:{s:{s:s, s:s}}}", type, "schema", "type", "string", "format", "binary");
}

static json_t *query_parameters(const json_t *func)
{
    json_t *list = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(func, "parameters"), i, p) {
        json_array_append_new(
            list, json_pack("{s:O, s:s, s:s, s:b, s:{s:O}}", "name", json_object_get(p, "name"),
                            "in", "query", "description", "Auto-generated description",
                            "required", 1, "schema", "type", json_object_get(p, "type")));
    }
    return list;
}

/* Mounts that are inputs (deployment and execution stage) as multipart parts; NULL
 * when there are none. */
static json_t *request_body(const json_t *func, const json_t *func_mounts)
{
    json_t *properties = json_object(), *encoding = json_object();
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(func, "mounts"), i, m) {
        const char *name = json_string_value(json_object_get(m, "name"));
        if (!strcmp(json_string_value(json_object_get(m, "stage")), "output"))
            continue;
        const char *media =
            json_string_value(json_object_get(json_object_get(func_mounts, name), "mediaType"));
        json_object_set_new(properties, name,
                            json_pack("{s:s, s:s}", "type", "string", "format", "binary"));
        json_object_set_new(encoding, name,
                            json_pack("{s:s}", "contentType",
                                      media ? media : "application/octet-stream"));
    }
    if (json_object_size(properties) == 0) {
        json_decref(properties);
        json_decref(encoding);
        return NULL;
    }
    return json_pack("{s:b, s:{s:{s:{s:s, s:o}, s:o}}}", "required", 1, "content",
                     "multipart/form-data", "schema", "type", "object", "properties",
                     properties, "encoding", encoding);
}

static json_t *path_item(const json_t *func, const json_t *func_mounts)
{
    json_t *operation = json_pack(
        "{s:[], s:s, s:o, s:{s:{s:s, s:o}}}", "tags", "summary",
        "Auto-generated description of function call method", "parameters",
        query_parameters(func), "responses", "200", "description",
        "Auto-generated description of response", "content", response_content(func));
    json_t *body = request_body(func, func_mounts);
    if (body)
        json_object_set_new(operation, "requestBody", body);
    json_t *item = json_pack(
        "{s:s, s:[{s:s, s:s, s:s, s:b, s:{s:s}}]}", "summary",
        "Auto-generated description of function", "parameters", "name", "deployment", "in",
        "path", "description", "Deployment ID", "required", 1, "schema", "type", "string");
    json_object_set_new(item, json_string_value(json_object_get(func, "method")), operation);
    return item;
}

json_t *module_openapi(const char *module_name, const json_t *fd, const json_t *mounts)
{
    json_t *paths = json_object();
    const char *name;
    json_t *func;
    json_object_foreach((json_t *)fd, name, func) {
        char path[1024];
        snprintf(path, sizeof path, "/{deployment}/modules/%s/%s", module_name, name);
        json_object_set_new(paths, path, path_item(func, json_object_get(mounts, name)));
    }
    return json_pack(
        "{s:s, s:{s:s, s:s, s:s}, s:[{s:s, s:s}],"
        " s:[{s:s, s:{s:{s:s, s:s}, s:{s:[s, s], s:s}}}], s:o}",
        "openapi", "3.0.3", "info", "title", module_name, "description",
        "Calling microservices defined as WebAssembly functions", "version", "0.0.1", "tags",
        "name", "WebAssembly", "description", "Executing WebAssembly functions", "servers",
        "url", "http://{serverIp}:{port}", "variables", "serverIp", "default", "localhost",
        "description", "IP or name found with mDNS of the machine running supervisor", "port",
        "enum", "5000", "80", "default", "5000", "paths", paths);
}
