/*
 * manifest.h — the deployment "mini-manifest" a supervisor receives on POST /deploy
 * (wasmiot-api.md §2.5), parsed and checked as a whole before anything is fetched.
 *
 * The parser accepts exactly what the Wasm-IoT orchestrators send (a DeploymentNode)
 * plus Liquid's additions: `modules[i].sha256` (hex digest of the binary), schema
 * type `number` for floats, and call limits `limits: {timeoutMs, fuel,
 * maxMemoryBytes}` at the top level or per module. Every error names the field
 * it is about, as a JSON path: `modules[0].urls.binary: not an http(s) URL`.
 *
 * A manifest is immutable once parsed and may be read from any thread.
 */
#ifndef LIQUID_SUPERVISOR_MANIFEST_H
#define LIQUID_SUPERVISOR_MANIFEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum schema_type {
    SCHEMA_NONE = 0,        /* no schema given */
    SCHEMA_INTEGER,
    SCHEMA_NUMBER,          /* Liquid's addition: floats */
    SCHEMA_STRING,
    SCHEMA_OBJECT,
} schema_type;

const char *schema_type_name(schema_type type);

typedef struct manifest_param {
    const char *name;
    schema_type type;
    bool required;
} manifest_param;

/* An Endpoint: where a function is reached and what it takes and gives. */
typedef struct manifest_endpoint {
    const char *url;            /* scheme://host:port, without a trailing slash */
    const char *path;           /* "/<deployment>/modules/<module>/<function>" */
    const char *method;         /* "get" or "post" (lower case, as the references) */
    manifest_param *params;
    size_t param_count;
    const char *request_media_type;     /* request_body.media_type, or NULL */
    const char *response_media_type;   /* "application/json", or a file type */
    schema_type response_type;
    bool response_is_file;      /* any media type but application/json */
} manifest_endpoint;

typedef struct manifest_mount {
    const char *path;           /* a single, safe path component */
    const char *media_type;     /* may be NULL */
    bool required;
} manifest_mount;

typedef struct manifest_mount_list {
    manifest_mount *items;
    size_t count;
} manifest_mount_list;

typedef struct manifest_function {
    const char *name;
    const manifest_endpoint *endpoint;  /* endpoints[module][function], or NULL */
    const manifest_endpoint *next;      /* instructions.modules[module][function].to */
    manifest_mount_list execution, deployment, output;
} manifest_function;

/* Call limits; has_* false means "not set here" (the next level decides). */
typedef struct manifest_limits {
    bool has_timeout_ms, has_fuel, has_max_memory_bytes;
    uint64_t timeout_ms, fuel, max_memory_bytes;
} manifest_limits;

typedef struct manifest_data_file {
    const char *mount;          /* the name the module opens it by */
    const char *url;
} manifest_data_file;

typedef struct manifest_module {
    const char *id;             /* may be NULL */
    const char *name;           /* a safe path component, unique in the deployment */
    const char *binary_url;
    const char *description_url;    /* never fetched, as the references */
    manifest_data_file *data_files;
    size_t data_file_count;
    bool has_sha256;
    uint8_t sha256[32];
    manifest_limits limits;
    manifest_function *functions;
    size_t function_count;
} manifest_module;

typedef struct manifest {
    const char *deployment_id;
    manifest_module *modules;
    size_t module_count;
    manifest_limits limits;
    uint64_t epoch;             /* Liquid: the placement's epoch (0 when not given) */
    json_t *json;               /* the document as received (kept for GET /deploy) */
} manifest;

/* Parses and validates the whole document. On failure returns NULL and writes
 * "<field>: <what is wrong>" to err. The manifest keeps a reference to json. */
manifest *manifest_parse(json_t *json, char *err, size_t err_size);
void manifest_free(manifest *m);

const manifest_module *manifest_find_module(const manifest *m, const char *name);
const manifest_function *manifest_find_function(const manifest_module *module,
                                                const char *name);

/* Limits for one module: the module's own, then the deployment's, then defaults. */
manifest_limits manifest_effective_limits(const manifest *m, const manifest_module *module,
                                          const manifest_limits *defaults);

/* Whether s is one path component that cannot leave a directory: not empty, not
 * "." or "..", no '/', no NUL or control characters, at most 255 bytes. */
bool manifest_is_safe_name(const char *s);
/* Whether s is an absolute http:// or https:// URL with a host. */
bool manifest_is_http_url(const char *s);

#endif
