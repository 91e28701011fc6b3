/*
 * device_logs.c — the supervisors' logs (wasmiot-api.md §2.12, §3.1): POST /device/logs
 * with a form field logData holding one JSON log entry, as both reference supervisors
 * send it (a JSON body {"logData": ...} or the entry itself is taken too); GET
 * /device/logs?after=ISO lists what arrived after that time, oldest first. Liquid adds
 * ?limit=N (the newest N) and ?device=NAME.
 */
#define _GNU_SOURCE
#include "orchestrator/event_handlers.h"
#include "orchestrator/orchestrator.h"
#include "orchestrator/store.h"

#include "base/json_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LIMIT 100000

/* The log entry of a request, or NULL with the reason in err. The caller owns it. */
static json_t *log_entry_of(http_request *req, char *err, size_t err_size)
{
    const char *field = http_request_field(req, "logData");
    if (field) {
        json_error_t error;
        json_t *entry = json_loads(field, 0, &error);
        if (!entry)
            snprintf(err, err_size, "logData: not JSON (%s at character %d); send the log "
                     "entry as a JSON object", error.text, error.position);
        return entry;
    }
    size_t size = 0;
    http_request_body(req, &size);
    if (size == 0 || http_request_field_count(req) > 0) {
        snprintf(err, err_size, "logData: missing; send the form field logData=<JSON object> "
                 "(application/x-www-form-urlencoded), as Wasm-IoT supervisors do");
        return NULL;
    }
    char why[512];
    json_t *body = http_request_json(req, why, sizeof why);
    if (!body) {
        snprintf(err, err_size, "the body is neither a form with logData nor JSON: %s", why);
        return NULL;
    }
    json_t *inner = json_object_get(body, "logData");
    if (json_is_string(inner)) {
        json_error_t error;
        json_t *entry = json_loads(json_string_value(inner), 0, &error);
        if (!entry)
            snprintf(err, err_size, "logData: not JSON (%s)", error.text);
        return entry;
    }
    return json_incref(inner ? inner : body);
}

void device_logs_post(http_request *req, void *user)
{
    orchestrator *o = user;
    char err[768];
    json_t *entry = log_entry_of(req, err, sizeof err);
    if (!entry)
        return http_respond_error(req, 400, "%s", err);
    if (!json_is_object(entry)) {
        const char *got = json_type_phrase(entry);     /* a static string */
        json_decref(entry);
        return http_respond_error(req, 400, "logData: expected a JSON object such as "
                                  "{\"timestamp\": ..., \"loglevel\": \"INFO\", \"message\": "
                                  "...}, got %s", got);
    }
    int64_t seq = 0;
    store_result r = store_log_add(o->store, entry, &seq, err, sizeof err);
    json_decref(entry);
    if (r != STORE_OK)
        return http_respond_error(req, r == STORE_INVALID ? 400 : 500, "%s", err);
    http_respond_json(req, 200, json_pack("{ss sI}", "message", "Log received", "seq",
                                          (json_int_t)seq));
}

void device_logs_get(http_request *req, void *user)
{
    orchestrator *o = user;
    const char *after = http_request_query(req, "after");
    const char *limit_text = http_request_query(req, "limit");
    const char *device = http_request_query(req, "device");
    long long limit = 0;
    if (limit_text) {
        char *end;
        limit = strtoll(limit_text, &end, 10);
        if (!*limit_text || *end || limit < 1 || limit > MAX_LIMIT)
            return http_respond_error(req, 400, "limit: expected a whole number from 1 to %d, "
                                      "got '%s'", MAX_LIMIT, limit_text);
    }
    json_t *list = NULL;
    char err[512];
    /* With a device filter the limit applies to that device's entries, below. */
    store_result r = store_log_list(o->store, after && *after ? after : NULL,
                                    device ? 0 : (size_t)limit, &list, err, sizeof err);
    if (r != STORE_OK)
        return http_respond_error(req, r == STORE_INVALID ? 400 : 500, "%s", err);
    if (device) {
        for (size_t i = json_array_size(list); i-- > 0;) {
            const char *name = json_string_value(json_object_get(json_array_get(list, i),
                                                                 "deviceName"));
            if (!name || strcmp(name, device) != 0)
                json_array_remove(list, i);
        }
        while (limit > 0 && json_array_size(list) > (size_t)limit)
            json_array_remove(list, 0);
    }
    http_respond_json(req, 200, list);
}
