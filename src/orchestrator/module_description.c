/*
 * module_description.c — a module's function description (FD), as clients send it to
 * POST /file/module/{id}/upload (wasmiot-api.md §3.2):
 *
 *   the CLI:  functions={"fibo": {"parameters": [{"name": "param0", "type": "integer"}],
 *                                 "method": "GET", "output": "integer", "mounts": []}}
 *   the GUI:  fibo[param0]=integer  fibo[method]=GET  fibo[output]=integer
 *             cam[mounts][0][name]=image.jpeg  cam[mounts][0][stage]=output
 *
 * Both become one normalised FD: per function, the method in lower case, parameters as
 * an ordered list, the output, and mounts as a list of {name, stage, mediaType}.
 */
#define _GNU_SOURCE
#include "orchestrator/modules.h"

#include "base/fs.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WASMIOT_INIT "_wasmiot_init"

static bool fail(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fail(char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
    return false;
}

/* ------------------------------------------------------ bracket notation */

/* Splits "cam[mounts][0][name]" into its keys; false when the brackets are not
 * well-formed. keys gets new strings (the caller frees them). */
static bool split_brackets(const char *field, char **keys, size_t max, size_t *count)
{
    const char *open = strchr(field, '[');
    size_t n = 0;
    keys[n++] = strndup(field, open ? (size_t)(open - field) : strlen(field));
    while (open) {
        const char *close = strchr(open, ']');
        if (!close || n == max)
            break;
        keys[n++] = strndup(open + 1, (size_t)(close - open - 1));
        if (close[1] == '\0') {
            *count = n;
            return **keys != '\0';
        }
        if (close[1] != '[')
            break;
        open = close + 1;
    }
    *count = n;
    return !open && **keys != '\0';
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

static int compare_numeric_keys(const void *a, const void *b)
{
    long x = strtol(*(const char *const *)a, NULL, 10);
    long y = strtol(*(const char *const *)b, NULL, 10);
    return (x > y) - (x < y);
}

/* Objects whose keys are all indices ("0", "1", ...) become arrays in index order,
 * which is what "cam[mounts][0][name]" means. */
static json_t *arrays_from_indices(json_t *value)
{
    if (!json_is_object(value))
        return json_incref(value);
    size_t n = json_object_size(value);
    const char *key;
    json_t *member;
    bool indices = n > 0;
    json_object_foreach(value, key, member) {
        if (!all_digits(key))
            indices = false;
    }
    if (!indices) {
        json_t *out = json_object();
        json_object_foreach(value, key, member) {
            json_object_set_new(out, key, arrays_from_indices(member));
        }
        return out;
    }
    const char **keys = malloc(n * sizeof *keys);
    size_t i = 0;
    json_object_foreach(value, key, member) {
        keys[i++] = key;
    }
    qsort(keys, n, sizeof *keys, compare_numeric_keys);
    json_t *out = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(out, arrays_from_indices(json_object_get(value, keys[i])));
    free(keys);
    return out;
}

json_t *module_fd_from_fields(const char *const *names, const char *const *values,
                              size_t count, char *err, size_t err_size)
{
    json_t *root = json_object();
    for (size_t f = 0; f < count; f++) {
        if (!strchr(names[f], '['))
            continue;   /* a plain field such as "name": not part of the description */
        char *keys[16];
        size_t n = 0;
        bool ok = split_brackets(names[f], keys, 16, &n);
        json_t *at = root;
        for (size_t k = 0; ok && k + 1 < n; k++) {
            json_t *next = json_object_get(at, keys[k]);
            if (!next)
                json_object_set_new(at, keys[k], next = json_object());
            if (!json_is_object(next))
                ok = false;
            at = next;
        }
        if (ok && json_is_object(json_object_get(at, keys[n - 1])))
            ok = false;
        if (ok)
            json_object_set_new(at, keys[n - 1], json_string(values[f]));
        else
            fail(err, err_size,
                 "form field '%s': expected bracket notation such as fibo[param0] or "
                 "cam[mounts][0][name], each key given once", names[f]);
        for (size_t k = 0; k < n; k++)
            free(keys[k]);
        if (!ok) {
            json_decref(root);
            return NULL;
        }
    }
    json_t *fd = arrays_from_indices(root);
    json_decref(root);
    json_t *normal = NULL;
    char *text = json_dumps(fd, JSON_COMPACT);
    json_decref(fd);
    if (text)
        normal = module_fd_from_json_text(text, err, err_size);
    free(text);
    return normal;
}

/* --------------------------------------------------------- normalising */

static int compare_param_keys(const void *a, const void *b)
{
    long x = strtol(*(const char *const *)a + 5, NULL, 10);
    long y = strtol(*(const char *const *)b + 5, NULL, 10);
    return (x > y) - (x < y);
}

static bool is_param_type(const char *type)
{
    return !strcmp(type, "integer") || !strcmp(type, "float");
}

/* parameters: a list of {name, type}, or "paramN": type members ordered by N. */
static json_t *normal_parameters(const char *func_name, json_t *func, char *err,
                                 size_t err_size)
{
    json_t *list = json_object_get(func, "parameters");
    json_t *out = json_array();
    if (list && !json_is_null(list)) {
        if (!json_is_array(list)) {
            fail(err, err_size, "%s.parameters: expected a list of {\"name\", \"type\"}",
                 func_name);
            json_decref(out);
            return NULL;
        }
        size_t i;
        json_t *p;
        json_array_foreach(list, i, p) {
            const char *name = json_string_value(json_object_get(p, "name"));
            const char *type = json_string_value(json_object_get(p, "type"));
            if (!name || !*name || !type) {
                fail(err, err_size, "%s.parameters[%zu]: expected {\"name\": ..., \"type\": "
                     "\"integer\" or \"float\"}", func_name, i);
                json_decref(out);
                return NULL;
            }
            json_array_append_new(out, json_pack("{s:s, s:s}", "name", name, "type", type));
        }
    } else {
        const char *keys[256];
        size_t n = 0;
        const char *key;
        json_t *value;
        json_object_foreach(func, key, value) {
            if (!strncmp(key, "param", 5) && all_digits(key + 5) && n < 256)
                keys[n++] = key;
        }
        qsort(keys, n, sizeof *keys, compare_param_keys);
        for (size_t i = 0; i < n; i++) {
            const char *type = json_string_value(json_object_get(func, keys[i]));
            if (!type) {
                fail(err, err_size, "%s.%s: expected a type, \"integer\" or \"float\"",
                     func_name, keys[i]);
                json_decref(out);
                return NULL;
            }
            json_array_append_new(out, json_pack("{s:s, s:s}", "name", keys[i], "type", type));
        }
    }
    size_t i;
    json_t *p;
    json_array_foreach(out, i, p) {
        const char *type = json_string_value(json_object_get(p, "type"));
        if (!is_param_type(type)) {
            fail(err, err_size, "%s: parameter %s has type '%s': expected \"integer\" or "
                 "\"float\"", func_name, json_string_value(json_object_get(p, "name")), type);
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static bool is_stage(const char *stage)
{
    return stage && (!strcmp(stage, "deployment") || !strcmp(stage, "execution") ||
                     !strcmp(stage, "output"));
}

static json_t *normal_mounts(const char *func_name, json_t *func, char *err, size_t err_size)
{
    json_t *mounts = json_object_get(func, "mounts");
    json_t *out = json_array();
    if (!mounts || json_is_null(mounts))
        return out;
    if (json_is_object(mounts) && json_object_size(mounts) == 0)
        return out;
    if (!json_is_array(mounts)) {
        fail(err, err_size, "%s.mounts: expected a list of {\"name\", \"stage\"}", func_name);
        json_decref(out);
        return NULL;
    }
    size_t i;
    json_t *m;
    json_array_foreach(mounts, i, m) {
        const char *name = json_string_value(json_object_get(m, "name"));
        const char *stage = json_string_value(json_object_get(m, "stage"));
        const char *media = json_string_value(json_object_get(m, "mediaType"));
        if (!name || !fs_is_safe_name(name)) {
            fail(err, err_size, "%s.mounts[%zu].name: expected a file name (no '/', not '.' "
                 "or '..'), got %s", func_name, i, name ? name : "nothing");
        } else if (!is_stage(stage)) {
            fail(err, err_size, "%s.mounts[%zu].stage: expected \"deployment\", \"execution\" "
                 "or \"output\", got %s%s%s", func_name, i, stage ? "'" : "",
                 stage ? stage : "nothing", stage ? "'" : "");
        } else {
            json_t *entry = json_pack("{s:s, s:s}", "name", name, "stage", stage);
            if (media)
                json_object_set_new(entry, "mediaType", json_string(media));
            json_array_append_new(out, entry);
            continue;
        }
        json_decref(out);
        return NULL;
    }
    return out;
}

static bool is_media_type(const char *text)
{
    const char *slash = strchr(text, '/');
    return slash && slash != text && slash[1] && !strchr(slash + 1, '/');
}

/* output: "integer", "float", or a media type; it may be left out only when an
 * output-stage mount says what the function produces. */
static bool check_output(const char *name, const json_t *value, const json_t *mounts,
                         char *err, size_t err_size)
{
    const char *output = json_string_value(value);
    if (value && !json_is_null(value) && !output)
        return fail(err, err_size, "%s.output: expected a string such as \"integer\"", name);
    if (output)
        return is_param_type(output) || is_media_type(output) ||
               fail(err, err_size, "%s.output: '%s' is neither \"integer\", \"float\" nor a "
                    "media type such as image/jpeg", name, output);
    size_t i;
    json_t *m;
    json_array_foreach(mounts, i, m) {
        if (!strcmp(json_string_value(json_object_get(m, "stage")), "output"))
            return true;
    }
    return fail(err, err_size, "%s.output: missing: give \"integer\" or \"float\", or a "
                "media type with an output-stage mount", name);
}

static json_t *normal_function(const char *name, json_t *func, char *err, size_t err_size)
{
    const char *method = json_string_value(json_object_get(func, "method"));
    if (!method) {
        fail(err, err_size, "%s.method: missing: give GET, POST, PUT or DELETE", name);
        return NULL;
    }
    char lower[16] = "";
    for (size_t i = 0; method[i] && i < sizeof lower - 1; i++)
        lower[i] = (char)tolower((unsigned char)method[i]);
    if (strlen(method) >= sizeof lower || (strcmp(lower, "get") && strcmp(lower, "post") &&
                                           strcmp(lower, "put") && strcmp(lower, "delete"))) {
        fail(err, err_size, "%s.method: '%s' is not GET, POST, PUT or DELETE", name, method);
        return NULL;
    }
    json_t *params = normal_parameters(name, func, err, err_size);
    json_t *mounts = params ? normal_mounts(name, func, err, err_size) : NULL;
    if (!mounts) {
        json_decref(params);
        return NULL;
    }
    const char *output = json_string_value(json_object_get(func, "output"));
    if (!check_output(name, json_object_get(func, "output"), mounts, err, err_size)) {
        json_decref(params);
        json_decref(mounts);
        return NULL;
    }
    json_t *out = json_pack("{s:s, s:o, s:o}", "method", lower, "parameters", params, "mounts",
                            mounts);
    if (output)
        json_object_set_new(out, "output", json_string(output));
    return out;
}

json_t *module_fd_from_json_text(const char *text, char *err, size_t err_size)
{
    json_error_t error;
    json_t *doc = json_loads(text, 0, &error);
    if (!doc) {
        fail(err, err_size, "functions: not valid JSON (line %d, column %d: %s)", error.line,
             error.column, error.text);
        return NULL;
    }
    if (!json_is_object(doc)) {
        fail(err, err_size, "functions: expected an object of function descriptions, such as "
             "{\"fibo\": {\"method\": \"GET\", \"parameters\": [...], \"output\": \"integer\"}}");
        json_decref(doc);
        return NULL;
    }
    json_t *fd = json_object();
    const char *name;
    json_t *func;
    json_object_foreach(doc, name, func) {
        if (!json_is_object(func))
            continue;   /* as the reference: only objects describe functions */
        json_t *normal = normal_function(name, func, err, err_size);
        if (!normal) {
            json_decref(fd);
            fd = NULL;
            break;
        }
        json_object_set_new(fd, name, normal);
    }
    json_decref(doc);
    if (fd && json_object_size(fd) == 0) {
        fail(err, err_size, "the description names no function: send a `functions` field "
             "such as {\"fibo\": {\"method\": \"GET\", \"parameters\": [{\"name\": \"param0\", "
             "\"type\": \"integer\"}], \"output\": \"integer\"}}, or form fields such as "
             "fibo[method]=GET");
        json_decref(fd);
        return NULL;
    }
    return fd;
}

/* ------------------------------------------------------------ checking */

static json_t *find_export(const json_t *module, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(module, "exports"), i, e) {
        const char *export_name = json_string_value(json_object_get(e, "name"));
        if (export_name && !strcmp(export_name, name))
            return e;
    }
    return NULL;
}

bool module_fd_check(const json_t *fd, const json_t *module, char *err, size_t err_size)
{
    const char *module_name = json_string_value(json_object_get(module, "name"));
    const char *name;
    json_t *func;
    json_object_foreach((json_t *)fd, name, func) {
        json_t *e = find_export(module, name);
        if (!e) {
            char exported[512] = "";
            size_t used = 0, i;
            json_t *x;
            json_array_foreach(json_object_get(module, "exports"), i, x) {
                int n = snprintf(exported + used, sizeof exported - used, "%s%s", i ? ", " : "",
                                 json_string_value(json_object_get(x, "name")));
                if (n < 0 || (size_t)n >= sizeof exported - used)
                    break;
                used += (size_t)n;
            }
            return fail(err, err_size, "module '%s' exports no function '%s' (it exports: %s)",
                        module_name, name, *exported ? exported : "no functions");
        }
        json_int_t wanted = json_integer_value(json_object_get(e, "parameterCount"));
        size_t given = json_array_size(json_object_get(func, "parameters"));
        if ((json_int_t)given != wanted)
            return fail(err, err_size, "function '%s' takes %lld parameter%s, the description "
                        "gives %zu", name, (long long)wanted, wanted == 1 ? "" : "s", given);
        /* one mount name per function: it is one file in the module's directory */
        json_t *seen = json_object();
        size_t i;
        json_t *m;
        bool dup = false;
        json_array_foreach(json_object_get(func, "mounts"), i, m) {
            const char *mount = json_string_value(json_object_get(m, "name"));
            if (json_object_get(seen, mount)) {
                fail(err, err_size, "function '%s' lists mount '%s' twice", name, mount);
                dup = true;
                break;
            }
            json_object_set_new(seen, mount, json_true());
        }
        json_decref(seen);
        if (dup)
            return false;
    }
    return true;
}

/* --------------------------------------------------- mounts and uploads */

json_t *module_fd_mounts(const json_t *fd, const json_t *uploaded)
{
    json_t *mounts = json_object();
    const char *name;
    json_t *func;
    json_object_foreach((json_t *)fd, name, func) {
        json_t *per = json_object();
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(func, "mounts"), i, m) {
            const char *mount = json_string_value(json_object_get(m, "name"));
            /* the reference keeps the uploaded file's type, and cannot know one
             * without a file: the description's own mediaType is not used here */
            const char *media = json_string_value(json_object_get(uploaded, mount));
            json_object_set_new(per, mount,
                                json_pack("{s:s, s:O}", "mediaType",
                                          media ? media : "application/octet-stream", "stage",
                                          json_object_get(m, "stage")));
        }
        json_object_set_new(mounts, name, per);
    }
    return mounts;
}

static bool init_provides(const json_t *fd, const char *mount)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(json_object_get(fd, WASMIOT_INIT), "mounts"), i, m) {
        if (!strcmp(json_string_value(json_object_get(m, "name")), mount))
            return true;
    }
    return false;
}

json_t *module_fd_missing_mounts(const json_t *fd, const json_t *uploaded)
{
    json_t *missing = json_array();
    const char *name;
    json_t *func;
    json_object_foreach((json_t *)fd, name, func) {
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(func, "mounts"), i, m) {
            const char *mount = json_string_value(json_object_get(m, "name"));
            if (strcmp(json_string_value(json_object_get(m, "stage")), "deployment"))
                continue;
            if (json_object_get(uploaded, mount) || init_provides(fd, mount))
                continue;
            json_array_append_new(missing, json_pack("[s, s]", name, mount));
        }
    }
    if (json_array_size(missing) == 0) {
        json_decref(missing);
        return NULL;
    }
    return missing;
}
