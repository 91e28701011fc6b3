/*
 * migration_routes.c — the routes of moving functions (docs/migration.md), the
 * liquid_routes[] table of migration.h:
 *
 *   POST /file/manifest/{id}/migrate   {"step": N | "module": name, "device"?}: the
 *                                      migration record (200), or why not (4xx/502)
 *   POST /liquid/drain                 {"device"}: a supervisor shutting down; every
 *                                      step on it is migrated, then the answer
 *   POST /liquid/move-away             {"device", "deployment", "module", "reason"}: a
 *                                      supervisor's rule; at most one per step per
 *                                      MOVE_AWAY_INTERVAL_S (429 otherwise)
 *   GET  /liquid/route/{dep}/{module}  where a step runs now (?function= picks one of
 *                                      the module's functions): {"url", "device",
 *                                      "deviceName", "epoch"}
 *   PUT  /liquid/checkpoints/{dep}/{module}   (checkpoint_store.c)
 */
#define _GNU_SOURCE
#include "orchestrator/migration.h"

#include "base/log.h"
#include "orchestrator/checkpoint.h"
#include "orchestrator/events.h"
#include "orchestrator/placement.h"
#include "orchestrator/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MOVE_AWAY_INTERVAL_S 60
#define ROUTE_WAIT_MS 10000

static const char *string_member(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static json_t *body_object(http_request *req)
{
    char err[256];
    json_t *body = http_request_json(req, err, sizeof err);
    if (!json_is_object(body)) {
        http_respond_error(req, 400, "the body must be a JSON object%s%s", body ? "" : ": ",
                           body ? "" : err);
        return NULL;
    }
    return body;
}

/* ---------------------------------------------------------------- migrate */

static void migrate(http_request *req, void *user)
{
    orchestrator *o = user;
    json_t *body = body_object(req);
    if (!body)
        return;
    json_t *step = json_object_get(body, "step"), *device = json_object_get(body, "device");
    const char *module = string_member(body, "module");
    if ((step && !json_is_integer(step)) || (step && module) || (!step && !module) ||
        (device && !json_is_null(device) && !json_is_string(device)) ||
        (json_object_get(body, "module") && !module))
        return http_respond_error(req, 400, "name the step to move as {\"step\": N} (its index "
                                  "in the sequence, from 0) or {\"module\": \"name\"}, and "
                                  "optionally {\"device\": \"id or name\"} to move it to");
    if (step && json_integer_value(step) < 0)
        return http_respond_error(req, 400, "step %" JSON_INTEGER_FORMAT " does not exist: "
                                  "steps count from 0", json_integer_value(step));
    migration_request r = {.deployment = http_request_param(req, "id"),
                           .step = step ? (long)json_integer_value(step) : -1,
                           .module = module, .device = json_string_value(device),
                           .trigger = "api", .reason = string_member(body, "reason")};
    int status = 500;
    json_t *answer = NULL;
    migration_run(o, &r, &status, &answer);
    http_respond_json(req, status, answer);
}

/* ---------------------------------------------------------------- drain */

static void drain(http_request *req, void *user)
{
    orchestrator *o = user;
    json_t *body = body_object(req);
    if (!body)
        return;
    const char *device = string_member(body, "device");
    if (!device)
        return http_respond_error(req, 400, "name the device to drain: {\"device\": \"name\"}");
    int status = 500;
    json_t *answer = NULL;
    migration_drain(o, device, &status, &answer);
    http_respond_json(req, status, answer);
}

/* ---------------------------------------------------------------- move-away */

static pthread_mutex_t move_away_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *move_away_last;     /* {"<deployment>/<module>": monotonic seconds} */

static double monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* false when the step moved away less than MOVE_AWAY_INTERVAL_S ago (*wait: seconds
 * left); otherwise notes now. */
static bool move_away_allowed(const char *deployment, const char *module, long *wait)
{
    char key[512];
    snprintf(key, sizeof key, "%s/%s", deployment, module);
    double now = monotonic_s();
    pthread_mutex_lock(&move_away_lock);
    if (!move_away_last)
        move_away_last = json_object();
    json_t *last = json_object_get(move_away_last, key);
    bool allowed = !last || now - json_real_value(last) >= MOVE_AWAY_INTERVAL_S;
    if (allowed)
        json_object_set_new(move_away_last, key, json_real(now));
    else
        *wait = (long)(MOVE_AWAY_INTERVAL_S - (now - json_real_value(last))) + 1;
    pthread_mutex_unlock(&move_away_lock);
    return allowed;
}

static void move_away(http_request *req, void *user)
{
    orchestrator *o = user;
    json_t *body = body_object(req);
    if (!body)
        return;
    const char *device = string_member(body, "device");
    const char *deployment = string_member(body, "deployment");
    const char *module = string_member(body, "module");
    const char *reason = string_member(body, "reason");
    if (!device || !deployment || !module)
        return http_respond_error(req, 400, "send {\"device\", \"deployment\", \"module\", "
                                  "\"reason\"}: the device asking, and the module to move "
                                  "away from it");
    json_t *doc = NULL;
    char err[512];
    if (store_deployment_get(o->store, deployment, &doc, err, sizeof err) != STORE_OK)
        return http_respond_error(req, 404, "no deployment '%s'", deployment);
    device_view v;
    bool known = fleet_device(o->fleet, device, &v);
    const char *on = NULL;
    size_t i;
    json_t *st;
    json_array_foreach(json_object_get(doc, "sequence"), i, st) {
        const char *alias = string_member(st, "alias");
        if ((alias && !strcmp(alias, module)) || !strcmp(string_member(st, "moduleName"), module))
            on = string_member(st, "device");
    }
    if (!known || !on || strcmp(on, v.id)) {
        http_respond_error(req, 409, "module '%s' of deployment '%s' does not run on device "
                           "'%s': nothing to move away", module, deployment, device);
        if (known)
            fleet_view_clear(&v);
        json_decref(doc);
        return;
    }
    fleet_view_clear(&v);
    long wait = 0;
    if (!move_away_allowed(string_member(doc, "_id"), module, &wait)) {
        char retry[32];
        snprintf(retry, sizeof retry, "%ld", wait);
        http_response_header(req, "Retry-After", retry);
        http_respond_error(req, 429, "module '%s' of deployment '%s' was moved away less than "
                           "%d s ago: ask again in %ld s", module, deployment,
                           MOVE_AWAY_INTERVAL_S, wait);
        json_decref(doc);
        return;
    }
    migration_request r = {.deployment = string_member(doc, "_id"), .step = -1,
                           .module = module, .trigger = "move-away",
                           .reason = reason ? reason : "asked by the device"};
    int status = 500;
    json_t *answer = NULL;
    migration_run(o, &r, &status, &answer);
    json_decref(doc);
    http_respond_json(req, status, answer);
}

/* ---------------------------------------------------------------- route */

static void route(http_request *req, void *user)
{
    orchestrator *o = user;
    const char *ref = http_request_param(req, "deployment");
    const char *module = http_request_param(req, "module");
    const char *function = http_request_query(req, "function");
    json_t *doc = NULL;
    char err[512];
    if (store_deployment_get(o->store, ref, &doc, err, sizeof err) != STORE_OK)
        return http_respond_error(req, 404, "no deployment '%s' (by id or name)", ref);
    /* During a migration of the deployment the answer waits (as calls to the moving
     * module wait at its source) until the step has moved — then it is found where it
     * went, before that is recorded — or the migration has ended. */
    char id[32];
    snprintf(id, sizeof id, "%s", string_member(doc, "_id"));
    json_t *moving = NULL;
    for (double waited = 0; waited < ROUTE_WAIT_MS; waited += 10) {
        if ((moving = placement_moving(o->placement, id)) ||
            !placement_migration_running(o->placement, id))
            break;
        struct timespec pause = {0, 10 * 1000000L};
        nanosleep(&pause, NULL);
    }
    json_t *now = moving;
    if (!now && store_deployment_get(o->store, id, &now, err, sizeof err) != STORE_OK)
        now = NULL;
    if (now) {
        json_decref(doc);
        doc = now;
    }
    if (!json_is_true(json_object_get(doc, "active"))) {
        http_respond_error(req, 409, "deployment '%s' is not deployed", ref);
        json_decref(doc);
        return;
    }
    const json_t *found = NULL;
    size_t i;
    json_t *st;
    /* by its name on its device first (what the caller knows), then by module name */
    for (int pass = 0; pass < 2 && !found; pass++)
        json_array_foreach(json_object_get(doc, "sequence"), i, st) {
            const char *name = string_member(st, pass ? "moduleName" : "alias");
            if (name && !strcmp(name, module) &&
                (!function || !strcmp(string_member(st, "func"), function))) {
                found = st;
                break;
            }
        }
    if (!found) {
        http_respond_error(req, 404, "deployment '%s' has no step running module '%s'%s%s",
                           ref, module, function ? " function " : "", function ? function : "");
        json_decref(doc);
        return;
    }
    const char *device = string_member(found, "device");
    const char *alias = string_member(found, "alias");
    const json_t *node = json_object_get(json_object_get(doc, "fullManifest"), device);
    const json_t *endpoint = json_object_get(
        json_object_get(json_object_get(node, "endpoints"),
                        alias ? alias : string_member(found, "moduleName")),
        string_member(found, "func"));
    device_view v;
    bool known = fleet_device(o->fleet, device, &v);
    char *url = NULL;
    if (!endpoint || asprintf(&url, "%s%s", string_member(endpoint, "url"),
                              string_member(endpoint, "path")) < 0)
        url = NULL;
    json_t *answer = json_pack("{s:s?, s:s, s:s?, s:I, s:s?, s:O}", "url", url, "device", device,
                               "deviceName", known ? v.name : NULL, "epoch",
                               deployment_epoch(doc), "module", alias, "function",
                               json_object_get(found, "func"));
    migration_count_reroute(o->placement);
    log_info("route.asked", "deployment=%s module=%s device=%s peer=%s request=%s",
             string_member(doc, "_id"), log_quote(module), device,
             http_request_peer_address(req), http_request_id(req));
    events_publish(o->events, "route.changed", string_member(doc, "_id"),
                   json_pack("{s:s, s:s, s:s, s:s?, s:I, s:s, s:s?}", "deployment",
                             string_member(doc, "_id"), "module", module, "device", device,
                             "deviceName", known ? v.name : NULL, "epoch", deployment_epoch(doc),
                             "by", "supervisor", "peer", http_request_peer_address(req)));
    if (known)
        fleet_view_clear(&v);
    free(url);
    json_decref(doc);
    http_respond_json(req, 200, answer);
}

const http_route liquid_routes[] = {
    {"POST", "/file/manifest/{id}/migrate", migrate},
    {"POST", "/liquid/drain", drain},
    {"POST", "/liquid/move-away", move_away},
    {"GET", "/liquid/route/{deployment}/{module}", route},
    {"PUT", "/liquid/checkpoints/{deployment}/{module}", checkpoint_put},
};
const size_t liquid_route_count = sizeof liquid_routes / sizeof liquid_routes[0];
