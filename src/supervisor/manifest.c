/*
 * manifest.c — parsing and checking a deployment mini-manifest (see manifest.h).
 *
 * Strings point into the JSON document, which the manifest holds a reference to
 * and never modifies, so nothing is copied. Validation is complete before the
 * caller fetches anything: a deployment that will fail for a reason visible in the
 * document fails here, with the field's path in the message.
 */
#include "supervisor/manifest.h"

#include "base/fs.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DEPLOYMENT_ID 128

typedef struct parse_ctx {
    char *err;
    size_t err_size;
    bool failed;
} parse_ctx;

static bool fail(parse_ctx *ctx, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fail(parse_ctx *ctx, const char *path, const char *fmt, ...)
{
    if (ctx->failed)
        return false;
    ctx->failed = true;
    int n = snprintf(ctx->err, ctx->err_size, "%s: ", path);
    if (n < 0 || (size_t)n >= ctx->err_size)
        return false;
    va_list args;
    va_start(args, fmt);
    vsnprintf(ctx->err + n, ctx->err_size - (size_t)n, fmt, args);
    va_end(args);
    return false;
}

/* A JSON path below parent: "parent.key" or "parent[i]". */
typedef struct field_path {
    char text[512];
} field_path;

/* A path too long for the buffer ends in "..." rather than being cut silently. */
static void mark_if_cut(field_path *p, int written)
{
    if (written < 0 || (size_t)written >= sizeof p->text)
        memcpy(p->text + sizeof p->text - 4, "...", 4);
}

static field_path path_key(const char *parent, const char *key)
{
    field_path p;
    mark_if_cut(&p, snprintf(p.text, sizeof p.text, "%s%s%s", parent, *parent ? "." : "", key));
    return p;
}

static field_path path_index(const char *parent, size_t i)
{
    field_path p;
    mark_if_cut(&p, snprintf(p.text, sizeof p.text, "%s[%zu]", parent, i));
    return p;
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "something else";
}

/* ------------------------------------------------------------ checks */

bool manifest_is_safe_name(const char *s)
{
    /* no backslash either: these names become file names and URL path segments, and
     * some clients read a backslash as a separator */
    return fs_is_safe_name(s) && !strchr(s, '\\');
}

bool manifest_is_http_url(const char *s)
{
    if (!s)
        return false;
    const char *rest;
    if (!strncasecmp(s, "http://", 7))
        rest = s + 7;
    else if (!strncasecmp(s, "https://", 8))
        rest = s + 8;
    else
        return false;
    /* a host must follow, and nothing in the URL may be blank or a control character */
    if (!*rest || *rest == '/' || *rest == ':' || *rest == '?' || *rest == '#')
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return false;
    return true;
}

const char *schema_type_name(schema_type type)
{
    switch (type) {
    case SCHEMA_NONE: return "none";
    case SCHEMA_INTEGER: return "integer";
    case SCHEMA_NUMBER: return "number";
    case SCHEMA_STRING: return "string";
    case SCHEMA_OBJECT: return "object";
    }
    return "unknown";
}

/* ------------------------------------------------------- field readers */

/* A member that must be an object; absent is allowed when optional. */
static json_t *get_object(parse_ctx *ctx, json_t *obj, const char *parent, const char *key,
                          bool required)
{
    json_t *v = json_object_get(obj, key);
    if (!v || (json_is_null(v) && !required)) {
        if (required)
            fail(ctx, path_key(parent, key).text, "missing");
        return NULL;
    }
    if (!json_is_object(v)) {
        fail(ctx, path_key(parent, key).text, "expected an object, got %s", json_kind(v));
        return NULL;
    }
    return v;
}

static const char *get_string(parse_ctx *ctx, json_t *obj, const char *parent, const char *key,
                              bool required)
{
    json_t *v = json_object_get(obj, key);
    if (!v || (json_is_null(v) && !required)) {
        if (required)
            fail(ctx, path_key(parent, key).text, "missing");
        return NULL;
    }
    if (!json_is_string(v)) {
        fail(ctx, path_key(parent, key).text, "expected a string, got %s", json_kind(v));
        return NULL;
    }
    return json_string_value(v);
}

static bool get_bool(parse_ctx *ctx, json_t *obj, const char *parent, const char *key,
                     bool fallback)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return fallback;
    if (!json_is_boolean(v)) {
        fail(ctx, path_key(parent, key).text, "expected true or false, got %s", json_kind(v));
        return fallback;
    }
    return json_is_true(v);
}

static const char *get_url(parse_ctx *ctx, json_t *obj, const char *parent, const char *key,
                           bool required)
{
    const char *url = get_string(ctx, obj, parent, key, required);
    if (url && !manifest_is_http_url(url)) {
        fail(ctx, path_key(parent, key).text, "not an http(s) URL: '%s'", url);
        return NULL;
    }
    return url;
}

static bool parse_schema_type(parse_ctx *ctx, json_t *schema, const char *path, schema_type *out)
{
    *out = SCHEMA_NONE;
    if (!schema || json_is_null(schema))
        return true;
    if (!json_is_object(schema))
        return fail(ctx, path, "expected an object, got %s", json_kind(schema));
    field_path type_path = path_key(path, "type");
    json_t *type = json_object_get(schema, "type");
    if (!type)
        return true;
    if (!json_is_string(type))
        return fail(ctx, type_path.text, "expected a string, got %s", json_kind(type));
    static const struct { const char *name; schema_type type; } known[] = {
        {"integer", SCHEMA_INTEGER}, {"number", SCHEMA_NUMBER},
        {"string", SCHEMA_STRING},   {"object", SCHEMA_OBJECT},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(json_string_value(type), known[i].name)) {
            *out = known[i].type;
            return true;
        }
    return fail(ctx, type_path.text,
                "unknown type '%s' (expected integer, number, string or object)",
                json_string_value(type));
}

static bool parse_limits(parse_ctx *ctx, json_t *parent_obj, const char *parent,
                         manifest_limits *out)
{
    memset(out, 0, sizeof *out);
    json_t *limits = get_object(ctx, parent_obj, parent, "limits", false);
    if (!limits)
        return !ctx->failed;
    field_path path = path_key(parent, "limits");
    const char *key;
    json_t *v;
    json_object_foreach(limits, key, v) {
        field_path p = path_key(path.text, key);
        bool *has;
        uint64_t *value;
        if (!strcmp(key, "timeoutMs"))
            has = &out->has_timeout_ms, value = &out->timeout_ms;
        else if (!strcmp(key, "fuel"))
            has = &out->has_fuel, value = &out->fuel;
        else if (!strcmp(key, "maxMemoryBytes"))
            has = &out->has_max_memory_bytes, value = &out->max_memory_bytes;
        else
            return fail(ctx, p.text, "unknown limit (expected timeoutMs, fuel or maxMemoryBytes)");
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return fail(ctx, p.text, "expected a whole number >= 0 (0: no limit), got %s",
                        json_kind(v));
        *has = true;
        *value = (uint64_t)json_integer_value(v);
        if (value == &out->max_memory_bytes && *value && *value < 65536)
            return fail(ctx, p.text, "at least 65536 (one page), or 0 for no limit");
    }
    return true;
}

/* ------------------------------------------------------------ endpoints */

static bool parse_params(parse_ctx *ctx, json_t *request, const char *path,
                         manifest_endpoint *out)
{
    json_t *params = json_object_get(request, "parameters");
    field_path params_path = path_key(path, "parameters");
    if (!params || json_is_null(params))
        return true;
    if (!json_is_array(params))
        return fail(ctx, params_path.text, "expected an array, got %s", json_kind(params));
    size_t count = json_array_size(params);
    out->params = calloc(count ? count : 1, sizeof *out->params);
    if (!out->params)
        return fail(ctx, params_path.text, "out of memory");
    out->param_count = count;
    for (size_t i = 0; i < count; i++) {
        json_t *p = json_array_get(params, i);
        field_path pp = path_index(params_path.text, i);
        if (!json_is_object(p))
            return fail(ctx, pp.text, "expected an object, got %s", json_kind(p));
        out->params[i].name = get_string(ctx, p, pp.text, "name", true);
        if (ctx->failed)
            return false;
        if (!*out->params[i].name)
            return fail(ctx, path_key(pp.text, "name").text, "empty");
        out->params[i].required = get_bool(ctx, p, pp.text, "required", false);
        if (!parse_schema_type(ctx, json_object_get(p, "schema"),
                               path_key(pp.text, "schema").text, &out->params[i].type))
            return false;
    }
    return !ctx->failed;
}

static bool parse_endpoint(parse_ctx *ctx, json_t *e, const char *path, manifest_endpoint *out)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(e))
        return fail(ctx, path, "expected an Endpoint object, got %s", json_kind(e));
    const char *url = get_url(ctx, e, path, "url", true);
    const char *ep_path = get_string(ctx, e, path, "path", true);
    const char *method = get_string(ctx, e, path, "method", true);
    if (ctx->failed)
        return false;
    if (ep_path[0] != '/')
        return fail(ctx, path_key(path, "path").text, "must start with '/', got '%s'", ep_path);
    if (!strcasecmp(method, "get"))
        out->method = "get";
    else if (!strcasecmp(method, "post"))
        out->method = "post";
    else
        return fail(ctx, path_key(path, "method").text, "expected get or post, got '%s'", method);
    out->url = url;
    out->path = ep_path;

    json_t *request = get_object(ctx, e, path, "request", false);
    if (request) {
        field_path rp = path_key(path, "request");
        if (!parse_params(ctx, request, rp.text, out))
            return false;
        json_t *body = get_object(ctx, request, rp.text, "request_body", false);
        if (body)
            out->request_media_type = get_string(ctx, body, path_key(rp.text, "request_body").text,
                                                 "media_type", false);
    }
    if (ctx->failed)
        return false;

    json_t *response = get_object(ctx, e, path, "response", true);
    if (!response)
        return false;
    field_path resp_path = path_key(path, "response");
    out->response_media_type = get_string(ctx, response, resp_path.text, "media_type", true);
    if (ctx->failed)
        return false;
    out->response_is_file = strcasecmp(out->response_media_type, "application/json") != 0;
    return parse_schema_type(ctx, json_object_get(response, "schema"),
                             path_key(resp_path.text, "schema").text, &out->response_type);
}

/* ------------------------------------------------------------ functions */

static manifest_function *function_of(parse_ctx *ctx, manifest_module *module, const char *name,
                                      const char *path)
{
    for (size_t i = 0; i < module->function_count; i++)
        if (!strcmp(module->functions[i].name, name))
            return &module->functions[i];
    if (!*name) {
        fail(ctx, path, "empty function name");
        return NULL;
    }
    manifest_function *grown = realloc(module->functions,
                                       (module->function_count + 1) * sizeof *grown);
    if (!grown) {
        fail(ctx, path, "out of memory");
        return NULL;
    }
    module->functions = grown;
    manifest_function *f = &grown[module->function_count++];
    memset(f, 0, sizeof *f);
    f->name = name;
    return f;
}

/* The module a top-level section names, or an error naming the key. */
static manifest_module *module_of(parse_ctx *ctx, manifest *m, const char *name,
                                  const char *path)
{
    for (size_t i = 0; i < m->module_count; i++)
        if (!strcmp(m->modules[i].name, name))
            return &m->modules[i];
    fail(ctx, path, "no module named '%s' in modules", name);
    return NULL;
}

static manifest_endpoint *new_endpoint(parse_ctx *ctx, json_t *e, const char *path)
{
    manifest_endpoint *ep = calloc(1, sizeof *ep);
    if (!ep) {
        fail(ctx, path, "out of memory");
        return NULL;
    }
    if (!parse_endpoint(ctx, e, path, ep)) {
        free(ep->params);
        free(ep);
        return NULL;
    }
    return ep;
}

static void free_endpoint(const manifest_endpoint *ep)
{
    if (ep) {
        free(ep->params);
        free((void *)ep);
    }
}

/* Iterates a section shaped {module: {function: value}}, calling visit for each. */
typedef bool (*section_visit_fn)(parse_ctx *ctx, manifest *m, manifest_module *module,
                                 manifest_function *f, json_t *value, const char *path);

static bool walk_section(parse_ctx *ctx, manifest *m, json_t *section, const char *section_path,
                         section_visit_fn visit)
{
    const char *module_name;
    json_t *per_module;
    json_object_foreach(section, module_name, per_module) {
        field_path mp = path_key(section_path, module_name);
        manifest_module *module = module_of(ctx, m, module_name, mp.text);
        if (!module)
            return false;
        if (!json_is_object(per_module))
            return fail(ctx, mp.text, "expected an object of functions, got %s",
                        json_kind(per_module));
        const char *function_name;
        json_t *value;
        json_object_foreach(per_module, function_name, value) {
            field_path fp = path_key(mp.text, function_name);
            manifest_function *f = function_of(ctx, module, function_name, fp.text);
            if (!f || !visit(ctx, m, module, f, value, fp.text))
                return false;
        }
    }
    return true;
}

static bool visit_endpoint(parse_ctx *ctx, manifest *m, manifest_module *module,
                           manifest_function *f, json_t *value, const char *path)
{
    (void)m, (void)module;
    f->endpoint = new_endpoint(ctx, value, path);
    return f->endpoint != NULL;
}

static bool visit_instruction(parse_ctx *ctx, manifest *m, manifest_module *module,
                              manifest_function *f, json_t *value, const char *path)
{
    (void)m, (void)module;
    if (!json_is_object(value))
        return fail(ctx, path, "expected an object {from, to}, got %s", json_kind(value));
    json_t *from = json_object_get(value, "from");
    if (from && !json_is_null(from)) {
        /* only checked: the function's own endpoint comes from `endpoints` */
        const manifest_endpoint *ep = new_endpoint(ctx, from, path_key(path, "from").text);
        if (!ep)
            return false;
        free_endpoint(ep);
    }
    json_t *to = json_object_get(value, "to");
    if (to && !json_is_null(to)) {
        f->next = new_endpoint(ctx, to, path_key(path, "to").text);
        if (!f->next)
            return false;
    }
    return true;
}

static bool parse_mount_list(parse_ctx *ctx, json_t *mounts, const char *path, const char *stage,
                             manifest_mount_list *out)
{
    json_t *list = json_object_get(mounts, stage);
    field_path lp = path_key(path, stage);
    if (!list || json_is_null(list))
        return true;
    if (!json_is_array(list))
        return fail(ctx, lp.text, "expected an array, got %s", json_kind(list));
    size_t count = json_array_size(list);
    out->items = calloc(count ? count : 1, sizeof *out->items);
    if (!out->items)
        return fail(ctx, lp.text, "out of memory");
    out->count = count;
    for (size_t i = 0; i < count; i++) {
        json_t *mount = json_array_get(list, i);
        field_path ip = path_index(lp.text, i);
        if (!json_is_object(mount))
            return fail(ctx, ip.text, "expected a mount object {path, media_type, stage}, got %s",
                        json_kind(mount));
        manifest_mount *mt = &out->items[i];
        mt->path = get_string(ctx, mount, ip.text, "path", true);
        mt->media_type = get_string(ctx, mount, ip.text, "media_type", false);
        const char *declared = get_string(ctx, mount, ip.text, "stage", false);
        mt->required = get_bool(ctx, mount, ip.text, "required", true);
        if (ctx->failed)
            return false;
        if (!manifest_is_safe_name(mt->path))
            return fail(ctx, path_key(ip.text, "path").text,
                        "'%s' is not a plain file name (no '/', '..' or control characters)",
                        mt->path);
        if (declared && strcmp(declared, stage))
            return fail(ctx, path_key(ip.text, "stage").text, "'%s' in the %s list", declared,
                        stage);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(out->items[j].path, mt->path))
                return fail(ctx, path_key(ip.text, "path").text, "'%s' is listed twice",
                            mt->path);
    }
    return true;
}

static bool visit_mounts(parse_ctx *ctx, manifest *m, manifest_module *module,
                         manifest_function *f, json_t *value, const char *path)
{
    (void)m;
    if (!json_is_object(value))
        return fail(ctx, path, "expected an object {execution, deployment, output}, got %s",
                    json_kind(value));
    if (!parse_mount_list(ctx, value, path, "execution", &f->execution) ||
        !parse_mount_list(ctx, value, path, "deployment", &f->deployment) ||
        !parse_mount_list(ctx, value, path, "output", &f->output))
        return false;
    /* a deployment-stage file arrives with the module, from urls.other */
    for (size_t i = 0; i < f->deployment.count; i++) {
        bool found = false;
        for (size_t j = 0; j < module->data_file_count; j++)
            found |= !strcmp(module->data_files[j].mount, f->deployment.items[i].path);
        if (!found && f->deployment.items[i].required)
            return fail(ctx, path_index(path_key(path, "deployment").text, i).text,
                        "no data file '%s' in the module's urls.other",
                        f->deployment.items[i].path);
    }
    return true;
}

/* ------------------------------------------------------------ modules */

static bool parse_sha256(parse_ctx *ctx, const char *hex, const char *path, uint8_t out[32])
{
    if (strlen(hex) != 64)
        return fail(ctx, path, "expected 64 hexadecimal digits, got %zu characters",
                    strlen(hex));
    for (size_t i = 0; i < 32; i++) {
        unsigned byte;
        if (!isxdigit((unsigned char)hex[2 * i]) || !isxdigit((unsigned char)hex[2 * i + 1]) ||
            sscanf(hex + 2 * i, "%2x", &byte) != 1)
            return fail(ctx, path, "not a hexadecimal digest");
        out[i] = (uint8_t)byte;
    }
    return true;
}

static bool parse_data_files(parse_ctx *ctx, json_t *urls, const char *path,
                             manifest_module *out)
{
    json_t *other = json_object_get(urls, "other");
    field_path op = path_key(path, "other");
    if (!other || json_is_null(other) || (json_is_array(other) && !json_array_size(other)))
        return true;    /* the reference README's old `[]` means "none" */
    if (!json_is_object(other))
        return fail(ctx, op.text, "expected an object {mountName: url}, got %s",
                    json_kind(other));
    size_t count = json_object_size(other);
    out->data_files = calloc(count ? count : 1, sizeof *out->data_files);
    if (!out->data_files)
        return fail(ctx, op.text, "out of memory");
    const char *mount;
    json_t *v;
    json_object_foreach(other, mount, v) {
        field_path mp = path_key(op.text, mount);
        if (!manifest_is_safe_name(mount))
            return fail(ctx, mp.text,
                        "'%s' is not a plain file name (no '/', '..' or control characters)",
                        mount);
        const char *url = get_url(ctx, other, op.text, mount, true);
        if (!url)
            return false;
        out->data_files[out->data_file_count].mount = mount;
        out->data_files[out->data_file_count++].url = url;
    }
    return true;
}

static bool parse_module(parse_ctx *ctx, manifest *m, json_t *mod, size_t index)
{
    field_path path = path_index("modules", index);
    manifest_module *out = &m->modules[index];
    if (!json_is_object(mod))
        return fail(ctx, path.text, "expected a module object, got %s", json_kind(mod));
    out->name = get_string(ctx, mod, path.text, "name", true);
    out->id = get_string(ctx, mod, path.text, "id", false);
    json_t *urls = get_object(ctx, mod, path.text, "urls", true);
    if (ctx->failed)
        return false;
    if (!manifest_is_safe_name(out->name))
        return fail(ctx, path_key(path.text, "name").text,
                    "'%s' is not a plain name (no '/', '..' or control characters)", out->name);
    for (size_t i = 0; i < index; i++)
        if (!strcmp(m->modules[i].name, out->name))
            return fail(ctx, path_key(path.text, "name").text,
                        "'%s' is already the name of modules[%zu]", out->name, i);
    field_path up = path_key(path.text, "urls");
    out->binary_url = get_url(ctx, urls, up.text, "binary", true);
    out->description_url = get_string(ctx, urls, up.text, "description", false);
    if (ctx->failed || !parse_data_files(ctx, urls, up.text, out))
        return false;
    const char *sha = get_string(ctx, mod, path.text, "sha256", false);
    if (sha) {
        if (!parse_sha256(ctx, sha, path_key(path.text, "sha256").text, out->sha256))
            return false;
        out->has_sha256 = true;
    }
    return parse_limits(ctx, mod, path.text, &out->limits);
}

static bool parse_deployment_id(parse_ctx *ctx, json_t *json, manifest *m)
{
    m->deployment_id = get_string(ctx, json, "", "deploymentId", true);
    if (ctx->failed)
        return false;
    if (!manifest_is_safe_name(m->deployment_id) || m->deployment_id[0] == '.')
        return fail(ctx, "deploymentId",
                    "'%s' is not a plain name (no '/', leading '.' or control characters)",
                    m->deployment_id);
    if (strlen(m->deployment_id) > MAX_DEPLOYMENT_ID)
        return fail(ctx, "deploymentId", "longer than %d characters", MAX_DEPLOYMENT_ID);
    return true;
}

/* Liquid's placement epoch (docs/migration.md): a reference node without one is 0. */
static bool parse_epoch(parse_ctx *ctx, json_t *json, manifest *m)
{
    json_t *v = json_object_get(json, "epoch");
    if (!v || json_is_null(v))
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return fail(ctx, "epoch", "expected a non-negative integer (the placement's epoch), "
                    "got %s", json_is_integer(v) ? "a negative number" : json_kind(v));
    m->epoch = (uint64_t)json_integer_value(v);
    return true;
}

/* A function whose response is a file must say which file: exactly one output. */
static bool check_functions(parse_ctx *ctx, manifest *m)
{
    for (size_t i = 0; i < m->module_count; i++) {
        manifest_module *mod = &m->modules[i];
        for (size_t j = 0; j < mod->function_count; j++) {
            manifest_function *f = &mod->functions[j];
            if (f->endpoint && f->endpoint->response_is_file && f->output.count != 1) {
                field_path p = path_key(path_key(path_key("endpoints", mod->name).text,
                                                 f->name).text, "response.media_type");
                return fail(ctx, p.text,
                            "'%s' is a file, so mounts.%s.%s needs exactly one output mount "
                            "(found %zu)",
                            f->endpoint->response_media_type, mod->name, f->name,
                            f->output.count);
            }
        }
    }
    return true;
}

static bool parse_sections(parse_ctx *ctx, json_t *json, manifest *m)
{
    json_t *endpoints = get_object(ctx, json, "", "endpoints", false);
    json_t *instructions = get_object(ctx, json, "", "instructions", false);
    json_t *mounts = get_object(ctx, json, "", "mounts", false);
    if (ctx->failed)
        return false;
    /* mounts first, so an endpoint's file response can be checked against them */
    if (mounts && !walk_section(ctx, m, mounts, "mounts", visit_mounts))
        return false;
    if (endpoints && !walk_section(ctx, m, endpoints, "endpoints", visit_endpoint))
        return false;
    if (instructions) {
        json_t *per_module = get_object(ctx, instructions, "instructions", "modules", false);
        if (ctx->failed)
            return false;
        if (per_module &&
            !walk_section(ctx, m, per_module, "instructions.modules", visit_instruction))
            return false;
    }
    return check_functions(ctx, m);
}

manifest *manifest_parse(json_t *json, char *err, size_t err_size)
{
    parse_ctx ctx = {err, err_size, false};
    if (!json_is_object(json)) {
        fail(&ctx, "(body)", "expected a JSON object (a deployment mini-manifest), got %s",
             json ? json_kind(json) : "nothing");
        return NULL;
    }
    manifest *m = calloc(1, sizeof *m);
    if (!m) {
        fail(&ctx, "(body)", "out of memory");
        return NULL;
    }
    m->json = json_incref(json);
    if (!parse_deployment_id(&ctx, json, m) || !parse_epoch(&ctx, json, m))
        goto failed;
    json_t *modules = json_object_get(json, "modules");
    if (!modules) {
        fail(&ctx, "modules", "missing");
        goto failed;
    }
    if (!json_is_array(modules) || !json_array_size(modules)) {
        fail(&ctx, "modules", "expected a non-empty array of modules, got %s",
             json_is_array(modules) ? "an empty array" : json_kind(modules));
        goto failed;
    }
    m->module_count = json_array_size(modules);
    m->modules = calloc(m->module_count, sizeof *m->modules);
    if (!m->modules) {
        fail(&ctx, "modules", "out of memory");
        goto failed;
    }
    for (size_t i = 0; i < m->module_count; i++)
        if (!parse_module(&ctx, m, json_array_get(modules, i), i))
            goto failed;
    if (!parse_limits(&ctx, json, "", &m->limits) || !parse_sections(&ctx, json, m))
        goto failed;
    return m;
failed:
    manifest_free(m);
    return NULL;
}

void manifest_free(manifest *m)
{
    if (!m)
        return;
    for (size_t i = 0; m->modules && i < m->module_count; i++) {
        manifest_module *mod = &m->modules[i];
        for (size_t j = 0; j < mod->function_count; j++) {
            manifest_function *f = &mod->functions[j];
            free_endpoint(f->endpoint);
            free_endpoint(f->next);
            free(f->execution.items);
            free(f->deployment.items);
            free(f->output.items);
        }
        free(mod->functions);
        free(mod->data_files);
    }
    free(m->modules);
    json_decref(m->json);
    free(m);
}

const manifest_module *manifest_find_module(const manifest *m, const char *name)
{
    for (size_t i = 0; i < m->module_count; i++)
        if (!strcmp(m->modules[i].name, name))
            return &m->modules[i];
    return NULL;
}

const manifest_function *manifest_find_function(const manifest_module *module, const char *name)
{
    for (size_t i = 0; i < module->function_count; i++)
        if (!strcmp(module->functions[i].name, name))
            return &module->functions[i];
    return NULL;
}

manifest_limits manifest_effective_limits(const manifest *m, const manifest_module *module,
                                          const manifest_limits *defaults)
{
    const manifest_limits *levels[] = {&module->limits, &m->limits, defaults};
    manifest_limits out = {0};
    for (size_t i = 0; i < 3; i++) {
        const manifest_limits *l = levels[i];
        if (!out.has_timeout_ms && l->has_timeout_ms)
            out.has_timeout_ms = true, out.timeout_ms = l->timeout_ms;
        if (!out.has_fuel && l->has_fuel)
            out.has_fuel = true, out.fuel = l->fuel;
        if (!out.has_max_memory_bytes && l->has_max_memory_bytes)
            out.has_max_memory_bytes = true, out.max_memory_bytes = l->max_memory_bytes;
    }
    return out;
}
