/*
 * manifest_routes.c — the routes of manifests and executions (wasmiot-api.md §3.1,
 * §3.5, §3.6), the manifest_routes[] table of orchestrator.h:
 *
 *   POST   /file/manifest          solve and store: 201 text/plain "\"<id>\"" (the quoted
 *                                  id is the reference's quirk that clients strip)
 *   GET    /file/manifest          [Deployment]
 *   GET    /file/manifest/{id}     Deployment (id or name), with its placement's reasons
 *   PUT    /file/manifest/{id}     solve again from a new manifest; redeploy if active
 *   POST   /file/manifest/{id}     deploy: 200 {"deviceResponses"}
 *   DELETE /file/manifest/{id}     remove from its devices and the store: {"deletedCount": 1}
 *   DELETE /file/manifest          all of them
 *   POST   /execute/{id}           run: {"result", "fetched_from_device", "resultUrl",
 *                                  "isInFailover", "executionId", "steps"}
 *   GET    /execute, /execute/{id} Liquid: executions, newest first; one execution
 *
 * A bad manifest is a 400 naming what is wrong, and nothing is stored.
 */
#define _GNU_SOURCE
#include "orchestrator/placement.h"

#include "base/log.h"
#include "orchestrator/events.h"
#include "orchestrator/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static const char *string_member(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* The posted manifest, parsed; false when answered with a 400. */
static bool read_manifest(http_request *req, manifest_request *m)
{
    char err[512];
    json_t *body = http_request_json(req, err, sizeof err);
    if (!body) {
        http_respond_error(req, 400, "the manifest must be JSON: %s", err);
        return false;
    }
    if (!manifest_request_parse(body, m, err, sizeof err)) {
        http_respond_error(req, 400, "%s", err);
        return false;
    }
    return true;
}

/* The deployment by id or name; false when answered (404, 500). */
static bool load_deployment(orchestrator *o, http_request *req, const char *ref, json_t **out)
{
    char err[512];
    store_result r = store_deployment_get(o->store, ref, out, err, sizeof err);
    if (r == STORE_NOT_FOUND) {
        http_respond_error(req, 404, "no deployment '%s' (by id or name): GET /file/manifest "
                           "lists them", ref);
        return false;
    }
    if (r != STORE_OK) {
        http_respond_error(req, status_of(r), "%s", err);
        return false;
    }
    return true;
}

static bool name_taken(orchestrator *o, const char *name, const char *except_id)
{
    json_t *other = NULL;
    char err[256];
    if (store_deployment_get(o->store, name, &other, err, sizeof err) != STORE_OK)
        return false;
    bool taken = !except_id || strcmp(string_member(other, "_id"), except_id);
    json_decref(other);
    return taken;
}

static void publish(orchestrator *o, const char *type, const json_t *deployment, json_t *extra)
{
    const char *id = string_member(deployment, "_id");
    json_t *data = json_pack("{s:s, s:s?}", "deployment", id, "name",
                             string_member(deployment, "name"));
    if (extra) {
        json_object_update(data, extra);
        json_decref(extra);
    }
    events_publish(o->events, type, id, data);
}

/* ---------------------------------------------------------------- create */

static void create_manifest(http_request *req, void *user)
{
    orchestrator *o = user;
    manifest_request m;
    if (!read_manifest(req, &m))
        return;
    placement_lock(o->placement);
    char err[1024];
    if (name_taken(o, m.name, NULL)) {
        placement_unlock(o->placement);
        http_respond_error(req, 409, "a deployment named '%s' already exists: choose another "
                           "name, or change it with PUT /file/manifest/%s", m.name, m.name);
        manifest_request_free(&m);
        return;
    }
    json_t *doc = manifest_solve(o, &m, NULL, err, sizeof err);
    store_result r = doc ? store_deployment_put(o->store, doc, err, sizeof err) : STORE_INVALID;
    placement_unlock(o->placement);
    manifest_request_free(&m);
    if (r != STORE_OK) {
        log_info("manifest.refused", "request=%s reason=%s", http_request_id(req),
                 log_quote(err));
        http_respond_error(req, doc ? status_of(r) : 400, "%s", err);
        json_decref(doc);
        return;
    }
    const char *id = string_member(doc, "_id");
    publish(o, "deployment.created", doc,
            json_pack("{s:O}", "placement", json_object_get(doc, "sequence")));
    log_info("deployment.created", "deployment=%s name=%s steps=%zu request=%s", id,
             log_quote(string_member(doc, "name")),
             json_array_size(json_object_get(doc, "sequence")), http_request_id(req));
    char *quoted = NULL;
    if (asprintf(&quoted, "\"%s\"", id) < 0)
        quoted = NULL;
    http_response_header(req, "Location", "/file/manifest");
    http_respond_text(req, 201, "text/plain; charset=utf-8", quoted ? quoted : "");
    free(quoted);
    json_decref(doc);
}

/* ---------------------------------------------------------------- read */

static void list_manifests(http_request *req, void *user)
{
    orchestrator *o = user;
    json_t *list = NULL;
    char err[512];
    store_result r = store_deployment_list(o->store, &list, err, sizeof err);
    if (r != STORE_OK)
        return http_respond_error(req, status_of(r), "%s", err);
    http_respond_json(req, 200, list);
}

static void get_manifest(http_request *req, void *user)
{
    orchestrator *o = user;
    json_t *doc = NULL;
    if (load_deployment(o, req, http_request_param(req, "id"), &doc))
        http_respond_json(req, 200, doc);
}

/* ---------------------------------------------------------------- deploy */

/* Any placed device that is not usable now (lost, blacklisted, gone): the chain is
 * placed again before deploying, keeping the manifest's pins. */
static bool placement_is_stale(orchestrator *o, const json_t *doc)
{
    size_t i;
    json_t *step;
    json_array_foreach(json_object_get(doc, "sequence"), i, step) {
        device_view v;
        if (!fleet_device(o->fleet, string_member(step, "device"), &v))
            return true;
        bool usable = fleet_usable(&v);
        fleet_view_clear(&v);
        if (!usable)
            return true;
    }
    return false;
}

static void deploy_manifest(http_request *req, void *user)
{
    orchestrator *o = user;
    placement_lock(o->placement);
    json_t *doc = NULL;
    if (!load_deployment(o, req, http_request_param(req, "id"), &doc)) {
        placement_unlock(o->placement);
        return;
    }
    json_t *previous = json_is_true(json_object_get(doc, "active"))
                           ? json_incref(json_object_get(doc, "fullManifest"))
                           : NULL;
    char err[1024];
    if (placement_is_stale(o, doc)) {
        const char **pins = deployment_pins(doc);
        bool ok = pins && deployment_replace(o, doc, pins, err, sizeof err);
        free(pins);
        if (!ok || store_deployment_put(o->store, doc, err, sizeof err) != STORE_OK) {
            placement_unlock(o->placement);
            http_respond_error(req, 409, "deployment '%s' cannot be placed on the devices "
                               "there are now: %s", string_member(doc, "name"), err);
            json_decref(previous);
            json_decref(doc);
            return;
        }
        publish(o, "deployment.replaced", doc,
                json_pack("{s:s, s:O}", "reason", "a device it was placed on is not usable",
                          "placement", json_object_get(doc, "sequence")));
    } else if (previous) {
        /* deploying again is a placement change too: the devices learn a new epoch */
        deployment_set_epoch(doc, deployment_epoch(doc) + 1);
        if (store_deployment_put(o->store, doc, err, sizeof err) != STORE_OK) {
            placement_unlock(o->placement);
            http_respond_error(req, 500, "%s", err);
            json_decref(previous);
            json_decref(doc);
            return;
        }
    }
    int status = 500;
    json_t *answer = NULL;
    deployer_deploy(o, doc, previous, &status, &answer);
    placement_unlock(o->placement);
    http_respond_json(req, status, answer);
    json_decref(previous);
    json_decref(doc);
}

/* ---------------------------------------------------------------- update */

static void update_manifest(http_request *req, void *user)
{
    orchestrator *o = user;
    manifest_request m;
    if (!read_manifest(req, &m))
        return;
    placement_lock(o->placement);
    json_t *old = NULL;
    if (!load_deployment(o, req, http_request_param(req, "id"), &old)) {
        placement_unlock(o->placement);
        manifest_request_free(&m);
        return;
    }
    const char *id = string_member(old, "_id");
    char err[1024];
    json_t *doc = NULL;
    int status = 0;
    json_t *answer = NULL;
    if (name_taken(o, m.name, id)) {
        status = 409;
        snprintf(err, sizeof err, "a deployment named '%s' already exists: choose another name",
                 m.name);
    } else if (!(doc = manifest_solve(o, &m, id, err, sizeof err))) {
        status = 400;
    } else {
        json_object_set(doc, "createdAt", json_object_get(old, "createdAt"));
        deployment_set_epoch(doc, deployment_epoch(old) + 1);
        bool active = json_is_true(json_object_get(old, "active"));
        if (active && !deployer_deploy(o, doc, json_object_get(old, "fullManifest"), &status,
                                       &answer)) {
            /* the devices have their previous version back, under the new epoch (an
             * epoch never goes down); so does the store */
            deployment_set_epoch(old, deployment_epoch(doc));
            json_t *changes = json_pack("{s:O, s:O}", "epoch", json_object_get(old, "epoch"),
                                        "fullManifest", json_object_get(old, "fullManifest"));
            store_deployment_update(o->store, id, changes, NULL, err, sizeof err);
            json_decref(changes);
        } else {
            json_object_set_new(doc, "active", json_boolean(active));
            store_result r = store_deployment_put(o->store, doc, err, sizeof err);
            status = r != STORE_OK ? status_of(r) : active ? 200 : 204;
            if (r == STORE_OK)
                publish(o, "deployment.updated", doc,
                        json_pack("{s:b, s:O}", "redeployed", active, "placement",
                                  json_object_get(doc, "sequence")));
        }
    }
    placement_unlock(o->placement);
    manifest_request_free(&m);
    if (answer)
        http_respond_json(req, status, answer);
    else if (status == 204)
        http_respond_bytes(req, 204, NULL, NULL, 0);
    else
        http_respond_error(req, status, "%s", err);
    json_decref(doc);
    json_decref(old);
}

/* ---------------------------------------------------------------- delete */

static bool delete_one(orchestrator *o, json_t *doc, char *err, size_t err_size)
{
    deployer_remove_everywhere(o, doc);
    const char *id = string_member(doc, "_id");
    if (store_deployment_delete(o->store, id, err, err_size) != STORE_OK)
        return false;
    publish(o, "deployment.deleted", doc, NULL);
    log_info("deployment.deleted", "deployment=%s", id);
    return true;
}

static void delete_manifest(http_request *req, void *user)
{
    orchestrator *o = user;
    placement_lock(o->placement);
    json_t *doc = NULL;
    char err[512];
    if (load_deployment(o, req, http_request_param(req, "id"), &doc)) {
        if (delete_one(o, doc, err, sizeof err))
            http_respond_json(req, 200, json_pack("{s:i}", "deletedCount", 1));
        else
            http_respond_error(req, 500, "%s", err);
    }
    placement_unlock(o->placement);
    json_decref(doc);
}

static void delete_all_manifests(http_request *req, void *user)
{
    orchestrator *o = user;
    placement_lock(o->placement);
    json_t *list = NULL;
    char err[512];
    store_result r = store_deployment_list(o->store, &list, err, sizeof err);
    long long deleted = 0;
    size_t i;
    json_t *doc;
    bool ok = r == STORE_OK;
    json_array_foreach(list, i, doc) {
        if (!delete_one(o, doc, err, sizeof err)) {
            ok = false;
            break;
        }
        deleted++;
    }
    placement_unlock(o->placement);
    json_decref(list);
    if (!ok)
        return http_respond_error(req, 500, "%s (after deleting %lld)", err, deleted);
    http_respond_json(req, 200, json_pack("{s:I}", "deletedCount", (json_int_t)deleted));
}

/* ---------------------------------------------------------------- execute */

static void execute(http_request *req, void *user)
{
    executor_execute(user, req, http_request_param(req, "id"));
}

static void list_executions(http_request *req, void *user)
{
    executor_list(user, req);
}

static void get_execution(http_request *req, void *user)
{
    executor_get(user, req, http_request_param(req, "id"));
}

const http_route manifest_routes[] = {
    {"POST", "/file/manifest", create_manifest},
    {"GET", "/file/manifest", list_manifests},
    {"DELETE", "/file/manifest", delete_all_manifests},
    {"GET", "/file/manifest/{id}", get_manifest},
    {"POST", "/file/manifest/{id}", deploy_manifest},
    {"PUT", "/file/manifest/{id}", update_manifest},
    {"DELETE", "/file/manifest/{id}", delete_manifest},
    {"POST", "/execute/{id}", execute},
    {"GET", "/execute", list_executions},
    {"GET", "/execute/{id}", get_execution},
};
const size_t manifest_route_count = sizeof manifest_routes / sizeof manifest_routes[0];
