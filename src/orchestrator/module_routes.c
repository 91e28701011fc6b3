/*
 * module_routes.c — the module registry's HTTP routes (modules.h lists them), with
 * the Wasm-IoT orchestrator's request and answer shapes (wasmiot-api.md §3.2).
 *
 * A request either stores everything it brings or nothing: the binary is parsed and
 * the description checked before any file becomes a blob, and the document is written
 * in one transaction. Blobs of a request that fails late are left for blobs_gc.
 */
#define _GNU_SOURCE
#include "orchestrator/modules.h"

#include "base/fs.h"
#include "base/ids.h"
#include "base/log.h"
#include "orchestrator/blobs.h"
#include "orchestrator/events.h"
#include "orchestrator/orchestrator.h"
#include "orchestrator/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int status_of(store_result r)
{
    switch (r) {
    case STORE_OK: return 200;
    case STORE_NOT_FOUND: return 404;
    case STORE_CONFLICT: return 409;
    case STORE_INVALID: return 400;
    case STORE_ERROR: break;
    }
    return 500;
}

/* {"errorText": text, "error": detail}: the Wasm-IoT error body with a structured
 * `error` where there is more to say than the sentence. */
static void respond_error_detail(http_request *req, int status, const char *text,
                                 json_t *detail)
{
    log_info("http.error", "request=%s method=%s path=%s status=%d error=%s",
             http_request_id(req), http_request_method(req),
             log_quote(http_request_path(req)), status, log_quote(text));
    http_respond_json(req, status,
                      json_pack("{s:s, s:o}", "errorText", text, "error",
                                detail ? detail : json_string(text)));
}

static void publish(orchestrator *o, const char *type, const char *id, json_t *data)
{
    if (o->events)
        events_publish(o->events, type, id, data);
    else
        json_decref(data);
}

/* Removes blobs no document names any more (older than the grace period, so a blob
 * whose module is being written right now is spared). */
static void collect_garbage(orchestrator *o)
{
    blobs_gc_stats stats;
    char err[512];
    if (!blobs_gc(o->blobs, o->store, o->settings.blob_gc_grace_seconds, &stats, err,
                  sizeof err))
        log_warn("blobs.gc_failed", "reason=%s", log_quote(err));
    else if (stats.removed)
        log_info("blobs.gc", "removed=%llu bytes=%llu kept=%llu young=%llu",
                 (unsigned long long)stats.removed, (unsigned long long)stats.bytes_removed,
                 (unsigned long long)stats.kept, (unsigned long long)stats.young);
}

/* ------------------------------------------------------------- creating */

static bool is_octet_stream(const char *type)
{
    return !type || !*type || !strncasecmp(type, "application/octet-stream", 24);
}

static bool is_wasm_type(const char *type)
{
    return type && !strncasecmp(type, "application/wasm", 16);
}

/* The one file part holding the binary: sent as application/wasm (any field name),
 * or — Liquid's leniency — as application/octet-stream when it starts with \0asm. */
static const http_upload *wasm_part(http_request *req, char *err, size_t err_size)
{
    size_t count = http_request_upload_count(req);
    if (count == 0) {
        snprintf(err, err_size, "no .wasm file: send the binary as a multipart file part "
                 "(any field name, e.g. module) with Content-Type application/wasm");
        return NULL;
    }
    if (count > 1) {
        snprintf(err, err_size, "expected one file part holding the .wasm binary, got %zu; "
                 "data files are uploaded later with POST /file/module/{id}/upload", count);
        return NULL;
    }
    const http_upload *part = http_request_upload_at(req, 0);
    if (is_wasm_type(part->content_type))
        return part;
    if (is_octet_stream(part->content_type)) {
        uint8_t magic[4] = {0};
        FILE *f = fopen(part->path, "rb");
        size_t n = f ? fread(magic, 1, sizeof magic, f) : 0;
        if (f)
            fclose(f);
        if (module_looks_like_wasm(magic, n))
            return part;
    }
    snprintf(err, err_size, "the file part '%s'%s%s%s is not WebAssembly: send a .wasm binary "
             "with Content-Type application/wasm (it was %s)", part->field,
             part->filename ? " (" : "", part->filename ? part->filename : "",
             part->filename ? ")" : "", part->content_type ? part->content_type : "untyped");
    return NULL;
}

static bool check_module_name(const char *name, char *err, size_t err_size)
{
    if (!name || !*name) {
        snprintf(err, err_size, "name: missing: send a form field `name` with the module's name");
        return false;
    }
    /* supervisors keep a module's files under its name, so it must be one path
     * component; ids are not names, so a name cannot shadow another module's id */
    if (!fs_is_safe_name(name) || strchr(name, '\\') || strchr(name, '?') ||
        strchr(name, '#') || strchr(name, '%')) {
        snprintf(err, err_size, "name '%s': use letters, digits and . - _ : (no '/', '\\', "
                 "'?', '#', '%%', not '.' or '..', at most 255 bytes)", name);
        return false;
    }
    if (ids_is_object_id(name)) {
        snprintf(err, err_size, "name '%s' looks like a module id: choose another name", name);
        return false;
    }
    return true;
}

/* Parses the binary and builds the new module's document (without storing it). */
static json_t *new_module_doc(orchestrator *o, const char *name, const http_upload *part,
                              json_t **detail, char *err, size_t err_size)
{
    uint8_t *bytes = NULL;
    size_t size = 0;
    char *data = NULL;
    if (!fs_read_file(part->path, o->settings.max_upload_bytes, &data, &size, err, err_size))
        return NULL;
    bytes = (uint8_t *)data;
    json_t *requirements = NULL, *exports = NULL;
    bool ok = module_parse_wasm(bytes, size, &requirements, &exports, detail, err, err_size);
    free(bytes);
    if (!ok)
        return NULL;
    char id[IDS_OBJECT_ID_SIZE], now[32];
    ids_new_object_id(id);
    store_now_iso(now);
    const char *filename = part->filename ? part->filename : "module.wasm";
    return json_pack("{s:s, s:s, s:o, s:o, s:{s:s}, s:{}, s:{}, s:s, s:s}", "_id", id, "name",
                     name, "exports", exports, "requirements", requirements, "wasm",
                     "originalFilename", filename, "dataFiles", "mounts", "createdAt", now,
                     "updatedAt", now);
}

static void create_module(http_request *req, void *user)
{
    orchestrator *o = user;
    char err[1024];
    const char *name = http_request_field(req, "name");
    if (!check_module_name(name, err, sizeof err))
        return http_respond_error(req, 400, "%s", err);
    const http_upload *part = wasm_part(req, err, sizeof err);
    if (!part)
        return http_respond_error(req, 400, "%s", err);
    json_t *detail = NULL;
    json_t *doc = new_module_doc(o, name, part, &detail, err, sizeof err);
    if (!doc) {
        if (detail)
            return respond_error_detail(req, 400, err, detail);
        return http_respond_error(req, 500, "%s", err);
    }
    json_t *existing = NULL;
    if (store_module_get(o->store, name, &existing, NULL, 0) == STORE_OK) {
        json_decref(doc);
        http_respond_error(req, 409, "a module named '%s' already exists (id %s): delete it "
                           "first or choose another name", name,
                           json_string_value(json_object_get(existing, "_id")));
        json_decref(existing);
        return;
    }
    char digest[BLOB_DIGEST_SIZE];
    uint64_t size = 0;
    if (!blobs_put_file(o->blobs, part->path, true, NULL, digest, &size, err, sizeof err)) {
        json_decref(doc);
        return http_respond_error(req, 500, "storing the module binary: %s", err);
    }
    json_t *wasm = json_object_get(doc, "wasm");
    json_object_set_new(wasm, "fileName", json_string(digest));
    json_object_set_new(wasm, "sha256", json_string(digest));
    json_object_set_new(wasm, "size", json_integer((json_int_t)size));
    store_result r = store_module_put(o->store, doc, err, sizeof err);
    if (r != STORE_OK) {
        json_decref(doc);
        return http_respond_error(req, status_of(r), "%s", err);
    }
    const char *id = json_string_value(json_object_get(doc, "_id"));
    log_info("module.created", "module=%s name=%s sha256=%s bytes=%llu imports=%zu exports=%zu "
             "request=%s", id, log_quote(name), digest, (unsigned long long)size,
             json_array_size(json_object_get(doc, "requirements")),
             json_array_size(json_object_get(doc, "exports")), http_request_id(req));
    publish(o, "module.created", id, json_pack("{s:s, s:s}", "name", name, "sha256", digest));
    http_respond_json(req, 201, json_pack("{s:s}", "id", id));
    json_decref(doc);
}

/* ----------------------------------------------------------- describing */

static bool is_json_body(http_request *req)
{
    const char *type = http_request_header(req, "Content-Type");
    return type && !strncasecmp(type, "application/json", 16);
}

/* The function description in whichever encoding the client used. */
static json_t *read_fd(http_request *req, char *err, size_t err_size)
{
    const char *text = http_request_field(req, "functions");
    if (text)
        return module_fd_from_json_text(text, err, err_size);
    const http_upload *big = http_request_upload(req, "functions");
    if (big && !big->filename) {   /* a text field over 64 KiB arrives as a file */
        char *data = NULL;
        size_t size = 0;
        if (!fs_read_file(big->path, 16 << 20, &data, &size, err, err_size))
            return NULL;
        json_t *fd = module_fd_from_json_text(data, err, err_size);
        free(data);
        return fd;
    }
    if (is_json_body(req)) {
        json_t *body = http_request_json(req, err, err_size);
        if (!body)
            return NULL;
        json_t *functions = json_object_get(body, "functions");
        if (json_is_string(functions))
            return module_fd_from_json_text(json_string_value(functions), err, err_size);
        char *dumped = json_dumps(functions ? functions : body, JSON_COMPACT);
        json_t *fd = dumped ? module_fd_from_json_text(dumped, err, err_size) : NULL;
        free(dumped);
        return fd;
    }
    size_t count = http_request_field_count(req);
    const char **names = calloc(count + 1, sizeof *names);
    const char **values = calloc(count + 1, sizeof *values);
    for (size_t i = 0; i < count; i++)
        http_request_field_at(req, i, &names[i], &values[i]);
    json_t *fd = module_fd_from_fields(names, values, count, err, err_size);
    free(names);
    free(values);
    return fd;
}

static bool is_mount_of(const json_t *fd, const char *name)
{
    const char *func_name;
    json_t *func;
    json_object_foreach((json_t *)fd, func_name, func) {
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(func, "mounts"), i, m) {
            if (!strcmp(json_string_value(json_object_get(m, "name")), name))
                return true;
        }
    }
    return false;
}

/* {"<mount>": "<content type>"} of the uploaded data files, each checked to be a
 * mount of the description and not a second binary. */
static json_t *uploaded_files(http_request *req, const json_t *fd, char *err, size_t err_size)
{
    json_t *uploaded = json_object();
    for (size_t i = 0; i < http_request_upload_count(req); i++) {
        const http_upload *part = http_request_upload_at(req, i);
        if (!strcmp(part->field, "functions") && !part->filename)
            continue;
        const char *problem = NULL;
        if (!is_mount_of(fd, part->field))
            problem = "is not a mount of any described function: name each file part after "
                      "its mount";
        else if (json_object_get(uploaded, part->field))
            problem = "is sent twice";
        else if (is_wasm_type(part->content_type))
            problem = "is application/wasm: a data file cannot be a module binary";
        if (problem) {
            snprintf(err, err_size, "file part '%s' %s", part->field, problem);
            json_decref(uploaded);
            return NULL;
        }
        json_object_set_new(uploaded, part->field,
                            json_string(part->content_type && *part->content_type
                                            ? part->content_type
                                            : "application/octet-stream"));
    }
    return uploaded;
}

/* Stores each uploaded file as a blob: {"<mount>": {originalFilename, fileName, sha256,
 * size, mediaType}}. */
static json_t *store_data_files(orchestrator *o, http_request *req, const json_t *uploaded,
                                char *err, size_t err_size)
{
    json_t *files = json_object();
    const char *mount;
    json_t *type;
    json_object_foreach((json_t *)uploaded, mount, type) {
        const http_upload *part = http_request_upload(req, mount);
        char digest[BLOB_DIGEST_SIZE];
        uint64_t size = 0;
        if (!blobs_put_file(o->blobs, part->path, true, NULL, digest, &size, err, err_size)) {
            json_decref(files);
            return NULL;
        }
        json_object_set_new(files, mount,
                            json_pack("{s:s, s:s, s:s, s:I, s:O}", "originalFilename",
                                      part->filename ? part->filename : mount, "fileName",
                                      digest, "sha256", digest, "size", (json_int_t)size,
                                      "mediaType", type));
    }
    return files;
}

/* Reads the module, applies the description and writes it back in one transaction,
 * so a concurrent describe or delete cannot interleave. */
static store_result save_description(orchestrator *o, const char *id, json_t *changes,
                                     char *err, size_t err_size)
{
    if (!store_begin(o->store, err, err_size))
        return STORE_ERROR;
    json_t *module = NULL;
    store_result r = store_module_get(o->store, id, &module, err, err_size);
    if (r == STORE_OK) {
        json_object_update(module, changes);
        r = store_module_put(o->store, module, err, err_size);
    }
    json_decref(module);
    if (r != STORE_OK) {
        store_rollback(o->store);
        return r;
    }
    return store_commit(o->store, err, err_size) ? STORE_OK : STORE_ERROR;
}

static void describe_module(http_request *req, void *user)
{
    orchestrator *o = user;
    char err[1024];
    json_t *module = NULL;
    store_result r = store_module_get(o->store, http_request_param(req, "id"), &module, err,
                                      sizeof err);
    if (r != STORE_OK)
        return http_respond_error(req, status_of(r), "%s", err);
    const char *id = json_string_value(json_object_get(module, "_id"));
    const char *name = json_string_value(json_object_get(module, "name"));
    json_t *fd = read_fd(req, err, sizeof err), *uploaded = NULL, *missing = NULL;
    if (fd && module_fd_check(fd, module, err, sizeof err))
        uploaded = uploaded_files(req, fd, err, sizeof err);
    if (!uploaded) {
        http_respond_error(req, 400, "%s", err);
        goto done;
    }
    if ((missing = module_fd_missing_mounts(fd, uploaded))) {
        char *list = json_dumps(missing, JSON_COMPACT);
        http_respond_error(req, 400, "Functions missing mounts: %s", list ? list : "[]");
        free(list);
        goto done;
    }
    json_t *files = store_data_files(o, req, uploaded, err, sizeof err);
    if (!files) {
        http_respond_error(req, 500, "storing the data files: %s", err);
        goto done;
    }
    json_t *mounts = module_fd_mounts(fd, uploaded);
    json_t *description = module_openapi(name, fd, mounts);
    char now[32];
    store_now_iso(now);
    json_t *changes = json_pack("{s:o, s:o, s:O, s:O, s:s}", "dataFiles", files, "mounts",
                                mounts, "description", description, "functions", fd,
                                "updatedAt", now);
    r = save_description(o, id, changes, err, sizeof err);
    json_decref(changes);
    if (r != STORE_OK) {
        json_decref(description);
        http_respond_error(req, status_of(r), "%s", err);
        goto done;
    }
    log_info("module.described", "module=%s name=%s functions=%zu data_files=%zu request=%s",
             id, log_quote(name), json_object_size(fd), json_object_size(uploaded),
             http_request_id(req));
    publish(o, "module.described", id, json_pack("{s:s}", "name", name));
    http_respond_json(req, 200, json_pack("{s:o}", "description", description));
done:
    json_decref(missing);
    json_decref(uploaded);
    json_decref(fd);
    json_decref(module);
}

/* -------------------------------------------------------------- reading */

static void list_modules(http_request *req, void *user)
{
    orchestrator *o = user;
    json_t *list = NULL;
    char err[512];
    store_result r = store_module_list(o->store, &list, err, sizeof err);
    if (r != STORE_OK)
        return http_respond_error(req, status_of(r), "%s", err);
    http_respond_json(req, 200, list);
}

/* An array even for one module: Wasm-IoT clients index the answer. */
static void get_module(http_request *req, void *user)
{
    orchestrator *o = user;
    json_t *module = NULL;
    char err[512];
    store_result r = store_module_get(o->store, http_request_param(req, "id"), &module, err,
                                      sizeof err);
    if (r != STORE_OK)
        return http_respond_error(req, status_of(r), "%s", err);
    http_respond_json(req, 200, json_pack("[o]", module));
}

static void get_description(http_request *req, void *user)
{
    orchestrator *o = user;
    json_t *module = NULL;
    char err[512];
    store_result r = store_module_get(o->store, http_request_param(req, "id"), &module, err,
                                      sizeof err);
    if (r != STORE_OK)
        return http_respond_error(req, status_of(r), "%s", err);
    json_t *description = json_object_get(module, "description");
    if (!json_is_object(description))
        http_respond_error(req, 404, "module '%s' has no description yet: describe its "
                           "functions with POST /file/module/%s/upload",
                           json_string_value(json_object_get(module, "name")),
                           json_string_value(json_object_get(module, "_id")));
    else
        http_respond_json(req, 200, json_incref(description));
    json_decref(module);
}

/* Serves a blob with its digest as ETag and X-Content-SHA256: the deployer puts the
 * digest in mini-manifests, and a supervisor can check what it fetched. */
static void respond_blob(orchestrator *o, http_request *req, const json_t *file,
                         const char *content_type)
{
    const char *digest = json_string_value(json_object_get(file, "sha256"));
    char *path = blobs_path(o->blobs, digest);
    if (!path)
        return http_respond_error(req, 500, "the module's file has no valid digest");
    char etag[BLOB_DIGEST_SIZE + 2];
    snprintf(etag, sizeof etag, "\"%s\"", digest);
    http_response_header(req, "ETag", etag);
    http_response_header(req, "X-Content-SHA256", digest);
    const char *match = http_request_header(req, "If-None-Match");
    if (match && (strstr(match, etag) || !strcmp(match, "*")))
        http_respond_bytes(req, 304, content_type, "", 0);
    else
        http_respond_file(req, 200, content_type, path);
    free(path);
}

static void get_wasm(http_request *req, void *user)
{
    orchestrator *o = user;
    json_t *module = NULL;
    char err[512];
    store_result r = store_module_get(o->store, http_request_param(req, "id"), &module, err,
                                      sizeof err);
    if (r != STORE_OK)
        return http_respond_error(req, status_of(r), "%s", err);
    respond_blob(o, req, json_object_get(module, "wasm"), "application/wasm");
    json_decref(module);
}

static void get_data_file(http_request *req, void *user)
{
    orchestrator *o = user;
    json_t *module = NULL;
    char err[512];
    store_result r = store_module_get(o->store, http_request_param(req, "id"), &module, err,
                                      sizeof err);
    if (r != STORE_OK)
        return http_respond_error(req, status_of(r), "%s", err);
    const char *filename = http_request_param(req, "filename");
    json_t *file = json_object_get(json_object_get(module, "dataFiles"), filename);
    if (!file) {
        /* 400 with "err" as the reference answers, plus the usual error members */
        char text[600];
        snprintf(text, sizeof text, "file '%s' missing from module '%s'", filename,
                 json_string_value(json_object_get(module, "name")));
        http_respond_json(req, 400, json_pack("{s:s, s:s, s:s}", "errorText", text, "error",
                                              text, "err", text));
    } else {
        respond_blob(o, req, file, "application/octet-stream");
    }
    json_decref(module);
}

/* ------------------------------------------------------------- deleting */

static void delete_module(http_request *req, void *user)
{
    orchestrator *o = user;
    json_t *module = NULL;
    char err[512];
    store_result r = store_module_get(o->store, http_request_param(req, "id"), &module, err,
                                      sizeof err);
    if (r == STORE_OK)
        r = store_module_delete(o->store, json_string_value(json_object_get(module, "_id")),
                                err, sizeof err);
    if (r != STORE_OK) {
        json_decref(module);
        return http_respond_error(req, status_of(r), "%s", err);
    }
    const char *id = json_string_value(json_object_get(module, "_id"));
    log_info("module.deleted", "module=%s name=%s request=%s", id,
             log_quote(json_string_value(json_object_get(module, "name"))),
             http_request_id(req));
    publish(o, "module.deleted", id, json_pack("{s:O}", "name", json_object_get(module, "name")));
    json_decref(module);
    collect_garbage(o);
    http_respond_bytes(req, 204, NULL, "", 0);
}

/* Modules in use by a deployment stay; the answer says how many. */
static void delete_all_modules(http_request *req, void *user)
{
    orchestrator *o = user;
    long long deleted = 0, kept = 0;
    char err[512];
    store_result r = store_module_delete_all(o->store, &deleted, &kept, err, sizeof err);
    if (r != STORE_OK)
        return http_respond_error(req, status_of(r), "%s", err);
    log_info("module.deleted_all", "deleted=%lld kept=%lld request=%s", deleted, kept,
             http_request_id(req));
    if (deleted)
        publish(o, "module.deleted", NULL, json_pack("{s:I}", "count", (json_int_t)deleted));
    collect_garbage(o);
    http_respond_json(req, 200, json_pack("{s:I, s:I}", "deletedCount", (json_int_t)deleted,
                                          "keptInUse", (json_int_t)kept));
}

const http_route module_routes[] = {
    {"POST", "/file/module", create_module},
    {"GET", "/file/module", list_modules},
    {"DELETE", "/file/module", delete_all_modules},
    {"POST", "/file/module/{id}/upload", describe_module},
    {"GET", "/file/module/{id}/description", get_description},
    {"GET", "/file/module/{id}/wasm", get_wasm},
    {"GET", "/file/module/{id}/{filename}", get_data_file},
    {"GET", "/file/module/{id}", get_module},
    {"DELETE", "/file/module/{id}", delete_module},
};
const size_t module_route_count = sizeof module_routes / sizeof module_routes[0];
