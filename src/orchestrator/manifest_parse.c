/*
 * manifest_parse.c — the shape of a posted manifest (wasmiot-api.md §3.5), checked
 * before anything is looked up, with errors that name the member by its path.
 */
#include "orchestrator/placement.h"

#include "base/json_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STEPS 256
#define MAX_NAME 200

static bool parse_failovers(const json_t *step, const json_where *where,
                            manifest_step_request *out, char *err, size_t err_size)
{
    json_t *list = NULL;
    if (!json_opt_array(step, where, "failovers", &list, err, err_size))
        return false;
    if (!list)
        return true;
    json_where at = JSON_MEMBER(where, "failovers");
    out->failovers = calloc(json_array_size(list) + 1, sizeof *out->failovers);
    if (!out->failovers)
        return json_fail(&at, NULL, err, err_size, "out of memory");
    size_t i;
    json_t *value;
    json_array_foreach(list, i, value) {
        json_where item = JSON_INDEX(&at, i);
        if (!json_is_string(value) || !*json_string_value(value))
            return json_fail(&item, NULL, err, err_size,
                             "expected a device id or name, got %s", json_type_phrase(value));
        out->failovers[out->failover_count++] = json_string_value(value);
    }
    return true;
}

static bool parse_step(const json_t *step, const json_where *where, manifest_step_request *out,
                       char *err, size_t err_size)
{
    if (!json_expect_object(step, where, err, err_size))
        return false;
    if (!json_get_string(step, where, "module", &out->module, err, err_size) ||
        !json_get_string(step, where, "func", &out->func, err, err_size) ||
        !json_opt_string(step, where, "device", &out->device, NULL, err, err_size))
        return false;
    if (!*out->module)
        return json_fail(where, "module", err, err_size, "empty: give a module id or name");
    if (!*out->func)
        return json_fail(where, "func", err, err_size, "empty: give the function to call");
    if (out->device && !*out->device)
        out->device = NULL;     /* "" is taken as null, as a form would send it */
    return parse_failovers(step, where, out, err, err_size);
}

bool manifest_request_parse(json_t *json, manifest_request *out, char *err, size_t err_size)
{
    *out = (manifest_request){0};
    if (!json_expect_object(json, NULL, err, err_size))
        return false;
    json_t *sequence = NULL;
    if (!json_get_string(json, NULL, "name", &out->name, err, err_size) ||
        !json_get_array(json, NULL, "sequence", &sequence, err, err_size))
        return false;
    if (!*out->name || strlen(out->name) > MAX_NAME)
        return json_fail(NULL, "name", err, err_size,
                         "expected a name of 1 to %d characters", MAX_NAME);
    size_t n = json_array_size(sequence);
    if (n == 0)
        return json_fail(NULL, "sequence", err, err_size,
                         "empty: give at least one step {\"module\", \"func\", \"device\"}");
    if (n > MAX_STEPS)
        return json_fail(NULL, "sequence", err, err_size, "%zu steps, at most %d are allowed",
                         n, MAX_STEPS);
    out->steps = calloc(n, sizeof *out->steps);
    if (!out->steps)
        return json_fail(NULL, "sequence", err, err_size, "out of memory");
    out->step_count = n;
    json_where at = JSON_MEMBER(NULL, "sequence");
    for (size_t i = 0; i < n; i++) {
        json_where item = JSON_INDEX(&at, i);
        if (!parse_step(json_array_get(sequence, i), &item, &out->steps[i], err, err_size)) {
            manifest_request_free(out);
            return false;
        }
    }
    out->json = json_incref(json);
    return true;
}

void manifest_request_free(manifest_request *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->step_count; i++)
        free((void *)m->steps[i].failovers);
    free(m->steps);
    json_decref(m->json);
    *m = (manifest_request){0};
}
