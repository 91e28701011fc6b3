/*
 * modules.h — the module registry (wasmiot-api.md §3.2): what a module's binary
 * imports and exports, how its functions are described, and the OpenAPI document
 * generated from that description.
 *
 * Routes (module_routes[], orchestrator.h):
 *   POST   /file/module                  multipart name + .wasm      201 {"id"}
 *   POST   /file/module/{id}/upload      function description + data files  200 {"description"}
 *   GET    /file/module                  [Module]
 *   GET    /file/module/{id}             [Module] (id or name; an array even for one)
 *   GET    /file/module/{id}/description the OpenAPI document
 *   GET    /file/module/{id}/wasm        the binary (ETag and X-Content-SHA256: its digest)
 *   GET    /file/module/{id}/{filename}  a data file
 *   DELETE /file/module/{id}             204 (409 when a deployment uses it)
 *   DELETE /file/module                  200 {"deletedCount"}
 */
#ifndef LIQUID_ORCHESTRATOR_MODULES_H
#define LIQUID_ORCHESTRATOR_MODULES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes and validates a binary with the engine. On success *requirements gets the
 * function imports [{"module", "name", "kind": "function"}] and *exports the function
 * exports [{"name", "parameterCount", "params": ["i32", ...], "results": [...]}]. On
 * failure err holds the engine's message with the byte offset, e.g.
 * "invalid WebAssembly module at byte 31 (0x1f): unknown opcode 0xff", and *detail
 * (detail may be NULL) the same as an object for an error body:
 * {"kind": "malformed"|"invalid", "offset": N (when known), "message": "..."}. */
bool module_parse_wasm(const uint8_t *bytes, size_t size, json_t **requirements,
                       json_t **exports, json_t **detail, char *err, size_t err_size);

/* True when the bytes start like a WebAssembly binary ("\0asm"). */
bool module_looks_like_wasm(const uint8_t *bytes, size_t size);

/* A function description (FD) from either encoding: the JSON text of a `functions`
 * field, or bracket-notation form fields (fibo[param0]=integer,
 * cam[mounts][0][name]=image.jpeg). names/values are the form's text fields in order.
 * Returns {"<func>": {"method", "parameters": [{"name","type"}], "output",
 * "mounts": [{"name","stage","mediaType"}]}}, normalised (parameters as a list, method
 * upper-case), or NULL with err naming what is wrong. */
json_t *module_fd_from_json_text(const char *text, char *err, size_t err_size);
json_t *module_fd_from_fields(const char *const *names, const char *const *values,
                              size_t count, char *err, size_t err_size);
/* Checks a normalised FD against the module: every function is exported, types and
 * stages are known. */
bool module_fd_check(const json_t *fd, const json_t *module, char *err, size_t err_size);

/* mounts[func][mount] = {"mediaType", "stage"}: the media type of the uploaded file for
 * the mount (uploaded: {"<mount>": "<content type>"}), else application/octet-stream. */
json_t *module_fd_mounts(const json_t *fd, const json_t *uploaded);
/* The reference's validation: every deployment-stage mount has an uploaded file unless
 * _wasmiot_init lists it. NULL when none is missing, else [[func, mount], ...]. */
json_t *module_fd_missing_mounts(const json_t *fd, const json_t *uploaded);

/* The OpenAPI 3.0.3 description of a module's supervisor endpoints (§3.2). */
json_t *module_openapi(const char *module_name, const json_t *fd, const json_t *mounts);

#endif
