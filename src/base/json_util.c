/*
 * json_util.c — member getters whose errors name the member's path.
 */
#include "base/json_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Writes the chain root-first; returns the length written (bounded by size). */
static size_t format_chain(const json_where *where, char *out, size_t size)
{
    if (!where)
        return 0;
    size_t n = format_chain(where->parent, out, size);
    if (n >= size)
        return n;
    int added;
    if (where->key)
        added = snprintf(out + n, size - n, "%s%s", n ? "." : "", where->key);
    else
        added = snprintf(out + n, size - n, "[%zu]", where->index);
    return added < 0 ? n : n + (size_t)added;
}

void json_where_format(const json_where *where, const char *key, char *out, size_t size)
{
    if (!size)
        return;
    out[0] = '\0';
    size_t n = format_chain(where, out, size);
    if (key && n < size)
        snprintf(out + n, size - n, "%s%s", n ? "." : "", key);
    if (!out[0])
        snprintf(out, size, "(document)");
}

const char *json_type_phrase(const json_t *value)
{
    if (!value)
        return "nothing";
    switch (json_typeof(value)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "an unknown value";
}

bool json_fail(const json_where *where, const char *key, char *err, size_t err_size,
               const char *fmt, ...)
{
    if (!err || !err_size)
        return false;
    char path[256];
    json_where_format(where, key, path, sizeof path);
    int n = snprintf(err, err_size, "%s: ", path);
    if (n < 0 || (size_t)n >= err_size)
        return false;
    va_list args;
    va_start(args, fmt);
    vsnprintf(err + n, err_size - (size_t)n, fmt, args);
    va_end(args);
    return false;
}

/* The member, or NULL with an error when obj is not an object or key is missing. */
static json_t *member(const json_t *obj, const json_where *where, const char *key,
                      bool required, char *err, size_t err_size, bool *failed)
{
    *failed = false;
    if (!json_is_object(obj)) {
        *failed = true;
        json_fail(where, NULL, err, err_size, "expected an object, got %s",
                  json_type_phrase(obj));
        return NULL;
    }
    json_t *value = json_object_get(obj, key);
    if ((!value || json_is_null(value)) && required) {
        *failed = true;
        json_fail(where, key, err, err_size, value ? "must not be null" : "missing");
        return NULL;
    }
    return json_is_null(value) ? NULL : value;
}

static bool wrong_type(const json_where *where, const char *key, const json_t *value,
                       const char *wanted, char *err, size_t err_size)
{
    return json_fail(where, key, err, err_size, "expected %s, got %s", wanted,
                     json_type_phrase(value));
}

static bool read_string(const json_t *obj, const json_where *where, const char *key,
                        bool required, const char **out, char *err, size_t err_size)
{
    bool failed;
    json_t *value = member(obj, where, key, required, err, err_size, &failed);
    if (failed)
        return false;
    if (!value)
        return true;
    if (!json_is_string(value))
        return wrong_type(where, key, value, "a string", err, err_size);
    *out = json_string_value(value);
    return true;
}

static bool to_int(const json_t *value, json_int_t *out)
{
    if (json_is_integer(value)) {
        *out = json_integer_value(value);
        return true;
    }
    if (json_is_real(value)) {
        double d = json_real_value(value);
        /* Within the range doubles hold every integer exactly, and integral. */
        if (d >= -9007199254740992.0 && d <= 9007199254740992.0 && d == (double)(json_int_t)d) {
            *out = (json_int_t)d;
            return true;
        }
    }
    return false;
}

static bool read_int(const json_t *obj, const json_where *where, const char *key,
                     bool required, json_int_t *out, char *err, size_t err_size)
{
    bool failed;
    json_t *value = member(obj, where, key, required, err, err_size, &failed);
    if (failed)
        return false;
    if (!value)
        return true;
    if (!to_int(value, out))
        return wrong_type(where, key, value, "an integer", err, err_size);
    return true;
}

static bool read_bool(const json_t *obj, const json_where *where, const char *key,
                      bool required, bool *out, char *err, size_t err_size)
{
    bool failed;
    json_t *value = member(obj, where, key, required, err, err_size, &failed);
    if (failed)
        return false;
    if (!value)
        return true;
    if (!json_is_boolean(value))
        return wrong_type(where, key, value, "true or false", err, err_size);
    *out = json_is_true(value);
    return true;
}

static bool read_typed(const json_t *obj, const json_where *where, const char *key,
                       bool required, json_type type, json_t **out, char *err, size_t err_size)
{
    bool failed;
    json_t *value = member(obj, where, key, required, err, err_size, &failed);
    if (failed)
        return false;
    if (!value)
        return true;
    if (json_typeof(value) != type)
        return wrong_type(where, key, value, type == JSON_OBJECT ? "an object" : "an array",
                          err, err_size);
    *out = value;
    return true;
}

bool json_get_string(const json_t *obj, const json_where *where, const char *key,
                     const char **out, char *err, size_t err_size)
{
    return read_string(obj, where, key, true, out, err, err_size);
}

bool json_get_int(const json_t *obj, const json_where *where, const char *key,
                  json_int_t *out, char *err, size_t err_size)
{
    return read_int(obj, where, key, true, out, err, err_size);
}

bool json_get_number(const json_t *obj, const json_where *where, const char *key,
                     double *out, char *err, size_t err_size)
{
    bool failed;
    json_t *value = member(obj, where, key, true, err, err_size, &failed);
    if (failed)
        return false;
    if (!json_is_number(value))
        return wrong_type(where, key, value, "a number", err, err_size);
    *out = json_number_value(value);
    return true;
}

bool json_get_bool(const json_t *obj, const json_where *where, const char *key, bool *out,
                   char *err, size_t err_size)
{
    return read_bool(obj, where, key, true, out, err, err_size);
}

bool json_get_object(const json_t *obj, const json_where *where, const char *key,
                     json_t **out, char *err, size_t err_size)
{
    return read_typed(obj, where, key, true, JSON_OBJECT, out, err, err_size);
}

bool json_get_array(const json_t *obj, const json_where *where, const char *key,
                    json_t **out, char *err, size_t err_size)
{
    return read_typed(obj, where, key, true, JSON_ARRAY, out, err, err_size);
}

bool json_opt_string(const json_t *obj, const json_where *where, const char *key,
                     const char **out, const char *fallback, char *err, size_t err_size)
{
    *out = fallback;
    return read_string(obj, where, key, false, out, err, err_size);
}

bool json_opt_int(const json_t *obj, const json_where *where, const char *key,
                  json_int_t *out, json_int_t fallback, char *err, size_t err_size)
{
    *out = fallback;
    return read_int(obj, where, key, false, out, err, err_size);
}

bool json_opt_bool(const json_t *obj, const json_where *where, const char *key, bool *out,
                   bool fallback, char *err, size_t err_size)
{
    *out = fallback;
    return read_bool(obj, where, key, false, out, err, err_size);
}

bool json_opt_object(const json_t *obj, const json_where *where, const char *key,
                     json_t **out, char *err, size_t err_size)
{
    *out = NULL;
    return read_typed(obj, where, key, false, JSON_OBJECT, out, err, err_size);
}

bool json_opt_array(const json_t *obj, const json_where *where, const char *key,
                    json_t **out, char *err, size_t err_size)
{
    *out = NULL;
    return read_typed(obj, where, key, false, JSON_ARRAY, out, err, err_size);
}

bool json_expect_object(const json_t *value, const json_where *where, char *err,
                        size_t err_size)
{
    if (json_is_object(value))
        return true;
    return json_fail(where, NULL, err, err_size, "expected an object, got %s",
                     json_type_phrase(value));
}
