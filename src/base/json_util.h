/*
 * json_util.h — reading JSON documents from clients with precise errors.
 *
 * Each getter checks one member and, when it is missing or of the wrong type, writes
 * an error that names the member by its full path in the document:
 *
 *     deploymentId: missing
 *     modules[2].urls.binary: expected a string, got a number
 *
 * The path is a chain of json_where records on the caller's stack, so building it
 * costs nothing until an error is written:
 *
 *     json_where modules = JSON_MEMBER(NULL, "modules");
 *     json_where item = JSON_INDEX(&modules, i);
 *     json_where urls = JSON_MEMBER(&item, "urls");
 *     if (!json_get_string(urls_obj, &urls, "binary", &binary, err, sizeof err))
 *         return http_respond_error(req, 400, "%s", err);
 *
 * A NULL where means the document's top level.
 */
#ifndef LIQUID_BASE_JSON_UTIL_H
#define LIQUID_BASE_JSON_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct json_where {
    const struct json_where *parent;
    const char *key;    /* a member name, or NULL for an array element */
    size_t index;
} json_where;

#define JSON_MEMBER(parent_where, name) ((json_where){(parent_where), (name), 0})
#define JSON_INDEX(parent_where, i) ((json_where){(parent_where), NULL, (i)})

/* "modules[2].urls" plus ".key" when key is not NULL; "(document)" for the top level. */
void json_where_format(const json_where *where, const char *key, char *out, size_t size);

/* "a string", "an integer", "null", ... for messages. */
const char *json_type_phrase(const json_t *value);

/* Writes "<path>: <message>" into err. Returns false, so handlers can `return
 * json_fail(...)`. */
bool json_fail(const json_where *where, const char *key, char *err, size_t err_size,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Required members: false with an error when missing, null, or of another type. */
bool json_get_string(const json_t *obj, const json_where *where, const char *key,
                     const char **out, char *err, size_t err_size);
/* An integer; a number with no fractional part (12.0, as JavaScript may send) counts. */
bool json_get_int(const json_t *obj, const json_where *where, const char *key,
                  json_int_t *out, char *err, size_t err_size);
bool json_get_number(const json_t *obj, const json_where *where, const char *key,
                     double *out, char *err, size_t err_size);
bool json_get_bool(const json_t *obj, const json_where *where, const char *key, bool *out,
                   char *err, size_t err_size);
bool json_get_object(const json_t *obj, const json_where *where, const char *key,
                     json_t **out, char *err, size_t err_size);
bool json_get_array(const json_t *obj, const json_where *where, const char *key,
                    json_t **out, char *err, size_t err_size);

/* Optional members: a missing or null member leaves *out as the fallback and returns
 * true; a member of the wrong type is still an error. */
bool json_opt_string(const json_t *obj, const json_where *where, const char *key,
                     const char **out, const char *fallback, char *err, size_t err_size);
bool json_opt_int(const json_t *obj, const json_where *where, const char *key,
                  json_int_t *out, json_int_t fallback, char *err, size_t err_size);
bool json_opt_bool(const json_t *obj, const json_where *where, const char *key, bool *out,
                   bool fallback, char *err, size_t err_size);
/* *out is NULL when the member is missing or null. */
bool json_opt_object(const json_t *obj, const json_where *where, const char *key,
                     json_t **out, char *err, size_t err_size);
bool json_opt_array(const json_t *obj, const json_where *where, const char *key,
                    json_t **out, char *err, size_t err_size);

/* Checks that value itself is an object (e.g. a request body, or an array element). */
bool json_expect_object(const json_t *value, const json_where *where, char *err,
                        size_t err_size);

#endif
