/*
 * fleet_routes.c — the device routes (wasmiot-api.md §3.1, §3.3) and Liquid's
 * additions (GET and DELETE of one device).
 *
 * Documents are the reference's Device (store.h), with two readings of the state:
 * "status" as Wasm-IoT clients know it ("active", or "inactive" for a suspect, lost
 * or blacklisted device) and Liquid's "state" (active, suspect, lost).
 */
#define _GNU_SOURCE
#include "orchestrator/fleet_internal.h"
#include "orchestrator/store.h"

#include "base/log.h"

#include <stdio.h>
#include <string.h>

static orchestrator *orch(void *user)
{
    return user;
}

/* A stored device as the routes answer it. */
static json_t *device_out(json_t *doc)
{
    const char *state = json_string_value(json_object_get(doc, "status"));
    bool blacklisted = json_is_true(json_object_get(doc, "blacklisted"));
    json_object_set_new(doc, "state", json_string(state ? state : "lost"));
    bool active = state && strcmp(state, "active") == 0 && !blacklisted;
    json_object_set_new(doc, "status", json_string(active ? "active" : "inactive"));
    if (!json_object_get(doc, "rttMs"))
        json_object_set_new(doc, "rttMs", json_integer(0));
    return doc;
}

static void respond_store_error(http_request *req, store_result r, const char *err)
{
    http_respond_error(req, r == STORE_NOT_FOUND ? 404 : 500, "%s", err);
}

static void handle_list(http_request *req, void *user)
{
    json_t *list = NULL;
    char err[512];
    store_result r = store_device_list(orch(user)->store, &list, err, sizeof err);
    if (r != STORE_OK)
        return respond_store_error(req, r, err);
    size_t i;
    json_t *doc;
    json_array_foreach(list, i, doc) device_out(doc);
    http_respond_json(req, 200, list);
}

static void handle_get(http_request *req, void *user)
{
    const char *id = http_request_param(req, "id");
    json_t *doc = NULL;
    char err[512];
    store_result r = store_device_get(orch(user)->store, id, &doc, err, sizeof err);
    if (r == STORE_NOT_FOUND)
        return http_respond_error(req, 404, "no device with id or name '%s'; GET /file/device "
                                  "lists the known devices", id);
    if (r != STORE_OK)
        return respond_store_error(req, r, err);
    http_respond_json(req, 200, device_out(doc));
}

static void handle_delete_all(http_request *req, void *user)
{
    size_t n = fleet_delete_all(orch(user)->fleet);
    http_respond_json(req, 200, json_pack("{sI}", "deletedCount", (json_int_t)n));
}

static void handle_delete(http_request *req, void *user)
{
    const char *id = http_request_param(req, "id");
    char deleted[25];
    if (!fleet_delete(orch(user)->fleet, id, deleted))
        return http_respond_error(req, 404, "no device with id or name '%s'; GET /file/device "
                                  "lists the known devices", id);
    http_respond_json(req, 200, json_pack("{si ss}", "deletedCount", 1, "deviceId", deleted));
}

static void set_blacklisted(http_request *req, void *user, bool blacklisted)
{
    const char *id = http_request_param(req, "id");
    char device_id[25];
    if (!fleet_set_blacklisted(orch(user)->fleet, id, blacklisted, device_id))
        return http_respond_error(req, 404, "no device with id or name '%s'; GET /file/device "
                                  "lists the known devices", id);
    http_respond_json(req, 200, json_pack("{ss ss}", "message",
                                          blacklisted ? "Device blacklisted"
                                                      : "Device removed from blacklist",
                                          "deviceId", device_id));
}

static void handle_blacklist(http_request *req, void *user)
{
    set_blacklisted(req, user, true);
}

static void handle_unblacklist(http_request *req, void *user)
{
    set_blacklisted(req, user, false);
}

static void handle_register(http_request *req, void *user)
{
    char err[1536];
    json_t *record = http_request_json(req, err, sizeof err);
    if (!record)
        return http_respond_error(req, 400, "the body must be a JSON service record such as "
                                  "{\"name\": \"supervisor-1\", \"port\": 8080, \"addresses\": "
                                  "[\"10.0.0.5\"]}: %s", err);
    int status = 500;
    if (!fleet_register(orch(user)->fleet, record, http_request_peer_address(req), &status, err,
                        sizeof err))
        return http_respond_error(req, status, "%s", err);
    http_respond_bytes(req, 204, NULL, NULL, 0);
}

static void handle_reset(http_request *req, void *user)
{
    char err[512];
    if (!fleet_discovery_reset(orch(user)->fleet, err, sizeof err))
        return http_respond_error(req, 500, "cannot restart mDNS browsing: %s", err);
    http_respond_bytes(req, 204, NULL, NULL, 0);
}

const http_route device_routes[] = {
    {"GET", "/file/device", handle_list},
    {"DELETE", "/file/device", handle_delete_all},
    {"POST", "/file/device/discovery/reset", handle_reset},
    {"POST", "/file/device/discovery/register", handle_register},
    {"GET", "/file/device/{id}", handle_get},
    {"DELETE", "/file/device/{id}", handle_delete},
    {"POST", "/file/device/{id}/blacklist", handle_blacklist},
    {"POST", "/file/device/{id}/unblacklist", handle_unblacklist},
};
const size_t device_route_count = sizeof device_routes / sizeof device_routes[0];

/* ------------------------------------------------- the orchestrator part */

bool fleet_part_start(orchestrator *o, char *err, size_t err_size)
{
    o->fleet = fleet_start(o, err, err_size);
    return o->fleet != NULL;
}

void fleet_part_stop(orchestrator *o)
{
    fleet_stop(o->fleet);
    o->fleet = NULL;
}
