/*
 * failover.c — keeping deployments running while devices come and go.
 *
 * The fleet publishes device.lost (and device.blacklisted, device.deleted) when a
 * device can no longer be used, and device.active / device.found when one can. The
 * listener only queues the device; a thread of this part does the work, so the event
 * bus is never held up by a redeploy.
 *
 * Lost: every active deployment with a step on the device is placed again. Steps on
 * usable devices stay where they are (pinned there, so their module memory survives);
 * each step of the lost device goes to the first device of its manifest `failovers`
 * list that can run it (wasmiot-api.md §3.7), else wherever the solver puts it. Then:
 *
 *   - a device that gets a module it did not run: POST /deploy with its new node;
 *   - a device whose modules are unchanged but whose routes are not (the step before
 *     the moved one): PUT /deploy/{id}/routes, which swaps endpoints and instructions
 *     without re-instantiating its modules; a supervisor without that route (404/405)
 *     gets the whole node instead;
 *   - a device that no longer runs anything of it: DELETE /deploy/{id}, or, when it
 *     cannot be reached, it is remembered (staleDevices) and cleaned up when it returns.
 *
 * New nodes go out first and routes after, so no step is pointed at a device that is
 * not ready. The deployment records isInFailover (some step is not on its goal
 * device) and each change is an event: deployment.failover, deployment.recovered,
 * deployment.failover_failed.
 *
 * Active: a step the manifest pinned to this device comes home (only pinned ones: an
 * unpinned step stays where failover put it); steps left without a device by an
 * earlier failover are placed again; stale copies on this device are removed.
 */
#define _GNU_SOURCE
#include "orchestrator/placement.h"

#include "base/http_client.h"
#include "base/log.h"
#include "orchestrator/checkpoint.h"
#include "orchestrator/events.h"
#include "orchestrator/migration.h"
#include "orchestrator/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NODE_TIMEOUT_MS 60000
#define ROUTES_TIMEOUT_MS 10000
#define MAX_QUEUED 4096

typedef enum change_kind { DEVICE_GONE, DEVICE_BACK } change_kind;

typedef struct change {
    change_kind kind;
    char device[25];
    char reason[160];
    double at;              /* when the event arrived (ms, monotonic) */
} change;

struct failover {
    orchestrator *o;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    change queue[MAX_QUEUED];
    size_t head, count;
    bool stopping;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const char *string_member(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* ------------------------------------------------------------ the listener */

static void listener(const char *type, const char *subject, const json_t *data, void *user)
{
    failover *f = user;
    change c = {.at = now_ms()};
    if (!strcmp(type, "device.lost") || !strcmp(type, "device.blacklisted") ||
        !strcmp(type, "device.deleted"))
        c.kind = DEVICE_GONE;
    else if (!strcmp(type, "device.active") || !strcmp(type, "device.found"))
        c.kind = DEVICE_BACK;
    else
        return;
    if (!subject)
        return;
    snprintf(c.device, sizeof c.device, "%s", subject);
    const char *reason = string_member(data, "reason");
    snprintf(c.reason, sizeof c.reason, "%s (%s)", type, reason ? reason : "no reason given");
    pthread_mutex_lock(&f->lock);
    if (f->count < MAX_QUEUED) {
        f->queue[(f->head + f->count) % MAX_QUEUED] = c;
        f->count++;
        pthread_cond_signal(&f->wake);
    } else {
        log_error("failover.queue_full", "device=%s event=%s", subject, type);
    }
    pthread_mutex_unlock(&f->lock);
}

/* ------------------------------------------------------------ the devices */

static bool usable(orchestrator *o, const char *device_id)
{
    device_view v;
    if (!device_id || !fleet_device(o->fleet, device_id, &v))
        return false;
    bool ok = fleet_usable(&v);
    fleet_view_clear(&v);
    return ok;
}

/* Usable, and not being drained: where a step may go. */
static bool may_take(orchestrator *o, const char *device_id)
{
    return usable(o, device_id) && !placement_is_leaving(o->placement, device_id);
}

/* Worth a DELETE now: answering health checks, or blacklisted (which stops the
 * checks, not the device). A lost device is cleaned up when it comes back. */
static bool reachable(orchestrator *o, const char *device_id)
{
    device_view v;
    if (!device_id || !fleet_device(o->fleet, device_id, &v))
        return false;
    bool ok = v.state != DEVICE_LOST || v.blacklisted;
    fleet_view_clear(&v);
    return ok;
}

typedef struct address {
    char *name, *url;
} address;

static bool address_of(orchestrator *o, const char *device_id, address *a)
{
    device_view v;
    *a = (address){0};
    if (!fleet_device(o->fleet, device_id, &v))
        return false;
    a->name = strdup(v.name ? v.name : device_id);
    a->url = v.url ? strdup(v.url) : NULL;
    fleet_view_clear(&v);
    return a->name && a->url;
}

/* The modules of a node, as a comparable set: "<id>/<name>/<sha256>" sorted. */
static json_t *module_set(const json_t *node)
{
    json_t *set = json_object();
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(node, "modules"), i, m) {
        char key[400];
        snprintf(key, sizeof key, "%s/%s/%s", string_member(m, "id"), string_member(m, "name"),
                 string_member(m, "sha256") ? string_member(m, "sha256") : "");
        json_object_set_new(set, key, json_true());
    }
    return set;
}

static bool same_modules(const json_t *a, const json_t *b)
{
    json_t *sa = module_set(a), *sb = module_set(b);
    bool same = json_equal(sa, sb);
    json_decref(sa);
    json_decref(sb);
    return same;
}

/* Routes include the epoch: every device of a deployment learns each new one, or
 * it would take the next call carrying it for a sign that its copy is stale. */
static bool same_routes(const json_t *a, const json_t *b)
{
    return json_equal(json_object_get(a, "epoch"), json_object_get(b, "epoch")) &&
           json_equal(json_object_get(a, "endpoints"), json_object_get(b, "endpoints")) &&
           json_equal(json_object_get(a, "instructions"), json_object_get(b, "instructions")) &&
           json_equal(json_object_get(a, "mounts"), json_object_get(b, "mounts"));
}

/* ------------------------------------------------------------ re-placing */

typedef struct plan {
    deploy_target *targets;
    address *addresses;
    size_t count;
    json_t *stale;          /* device ids that could not be told to remove it */
    size_t restored;        /* moved steps given their checkpoint */
} plan;

static void plan_free(plan *p)
{
    deploy_targets_clear(p->targets, p->count);
    for (size_t i = 0; i < p->count; i++) {
        free(p->addresses[i].name);
        free(p->addresses[i].url);
    }
    free(p->targets);
    free(p->addresses);
    json_decref(p->stale);
}

/* What each device needs, comparing the old nodes with the new. */
static bool make_plan(orchestrator *o, const json_t *old_nodes, const json_t *new_nodes,
                      plan *p)
{
    size_t n = json_object_size(old_nodes) + json_object_size(new_nodes);
    *p = (plan){.targets = calloc(n + 1, sizeof *p->targets),
                .addresses = calloc(n + 1, sizeof *p->addresses), .stale = json_array()};
    if (!p->targets || !p->addresses)
        return false;
    const char *device;
    json_t *node;
    json_object_foreach((json_t *)new_nodes, device, node) {
        const json_t *old = json_object_get(old_nodes, device);
        deploy_action action = !old || !same_modules(old, node) ? DEPLOY_NODE : DEPLOY_ROUTES;
        if (action == DEPLOY_ROUTES && same_routes(old, node))
            continue;
        address *a = &p->addresses[p->count];
        if (!address_of(o, device, a))
            continue;   /* the solver placed nothing on an unknown device */
        p->targets[p->count++] = (deploy_target){.action = action, .device_id = device,
                                                 .device_name = a->name, .device_url = a->url,
                                                 .node = node};
    }
    json_object_foreach((json_t *)old_nodes, device, node) {
        if (json_object_get(new_nodes, device))
            continue;
        address *a = &p->addresses[p->count];
        if (!reachable(o, device) || !address_of(o, device, a)) {
            free(a->name);
            free(a->url);
            *a = (address){0};
            json_array_append_new(p->stale, json_string(device));
            continue;
        }
        p->targets[p->count++] = (deploy_target){.action = DEPLOY_REMOVE, .device_id = device,
                                                 .device_name = a->name, .device_url = a->url};
    }
    return true;
}

/* Each step that moved gets its newest checkpoint on its new device, after its node
 * and before any route points at it (docs/migration.md, "Crash"). A checkpoint that
 * cannot be sent is logged and the step starts afresh: running without the state
 * beats not running. Returns how many were restored. */
static size_t restore_moved(orchestrator *o, const json_t *before, const json_t *after)
{
    const char *id = string_member(after, "_id");
    size_t restored = 0, i;
    json_t *step;
    json_array_foreach(json_object_get(after, "sequence"), i, step) {
        const json_t *old = json_array_get(json_object_get(before, "sequence"), i);
        const char *from = string_member(old, "device"), *to = string_member(step, "device");
        if (!from || !to || !strcmp(from, to) || usable(o, from))
            continue;   /* a live copy is newer than any checkpoint */
        const char *old_alias = string_member(old, "alias");
        const char *new_alias = string_member(step, "alias");
        address a;
        if (!address_of(o, to, &a)) {
            free(a.name);
            free(a.url);
            continue;
        }
        char err[512];
        bool had = false;
        if (checkpoint_restore(o, id, old_alias ? old_alias : string_member(old, "moduleName"),
                               new_alias ? new_alias : string_member(step, "moduleName"), to,
                               a.url, (long long)deployment_epoch(after), &had, err, sizeof err) &&
            had)
            restored++;
        free(a.name);
        free(a.url);
    }
    return restored;
}

/* Sends a plan's nodes, then its routes (removals are sent by send_removals once the
 * new placement is stored); between the two, moved steps get their checkpoints.
 * false with the first failure in err. */
static bool carry_out(orchestrator *o, const json_t *before, const json_t *after,
                      const char *id, plan *p, char *err, size_t err_size)
{
    deploy_target *nodes = calloc(p->count + 1, sizeof *nodes);
    size_t *index = calloc(p->count + 1, sizeof *index);
    if (!nodes || !index) {
        free(nodes);
        free(index);
        snprintf(err, err_size, "out of memory");
        return false;
    }
    for (int phase = 0; phase < 2; phase++) {
        size_t m = 0;
        for (size_t i = 0; i < p->count; i++)
            if (p->targets[i].action != DEPLOY_REMOVE &&
                (p->targets[i].action == DEPLOY_NODE) == (phase == 0)) {
                nodes[m] = p->targets[i];
                index[m++] = i;
            }
        if (m)
            deployer_send(id, nodes, m, phase == 0 ? NODE_TIMEOUT_MS : ROUTES_TIMEOUT_MS);
        for (size_t k = 0; k < m; k++) {
            deploy_target *t = &nodes[k];
            if (t->action == DEPLOY_ROUTES && (t->status == 404 || t->status == 405)) {
                /* a supervisor without the route: it gets the whole node */
                json_decref(t->answer);
                t->action = DEPLOY_NODE;
                deployer_send(id, t, 1, NODE_TIMEOUT_MS);
            }
            p->targets[index[k]] = *t;
            if (!t->ok && !err[0])
                snprintf(err, err_size, "%s", t->error);
        }
        if (err[0])
            break;
        if (phase == 0) {
            p->restored = restore_moved(o, before, after);
            /* the moved steps are ready: supervisors asking where they are learn it
             * now, before the routes and the record */
            placement_set_moving(o->placement, id, after);
        }
    }
    free(nodes);
    free(index);
    return !err[0];
}

/* known + more, each device once (a new array). */
static json_t *merge_stale(const json_t *known, const json_t *more)
{
    json_t *all = json_is_array(known) ? json_deep_copy(known) : json_array();
    size_t i, j;
    json_t *d, *e;
    json_array_foreach(more, i, d) {
        bool seen = false;
        json_array_foreach(all, j, e)
            seen = seen || json_equal(d, e);
        if (!seen)
            json_array_append(all, d);
    }
    return all;
}

/* The devices that no longer run anything of the deployment lose their copy; those
 * that cannot be told are remembered in staleDevices. */
static void send_removals(orchestrator *o, const char *id, plan *p)
{
    deploy_target *removals = calloc(p->count + 1, sizeof *removals);
    size_t m = 0;
    for (size_t i = 0; removals && i < p->count; i++)
        if (p->targets[i].action == DEPLOY_REMOVE)
            removals[m++] = p->targets[i];
    if (m)
        deployer_send(id, removals, m, ROUTES_TIMEOUT_MS);
    size_t failed = 0;
    for (size_t k = 0; k < m; k++)
        if (!removals[k].ok && removals[k].status != 404) {
            json_array_append_new(p->stale, json_string(removals[k].device_id));
            failed++;
        }
    deploy_targets_clear(removals, m);
    free(removals);
    if (failed) {
        char err[256];
        json_t *doc = NULL;
        if (store_deployment_get(o->store, id, &doc, err, sizeof err) == STORE_OK) {
            json_t *changes = json_pack(
                "{s:o}", "staleDevices", merge_stale(json_object_get(doc, "staleDevices"), p->stale));
            store_deployment_update(o->store, id, changes, NULL, err, sizeof err);
            json_decref(changes);
        }
        json_decref(doc);
    }
}

static bool differs_from_goal(const json_t *doc)
{
    const json_t *goal = json_object_get(doc, "goalDeployment");
    size_t i;
    json_t *step;
    json_array_foreach(json_object_get(doc, "sequence"), i, step) {
        const char *want = json_string_value(json_array_get(goal, i));
        if (want && strcmp(want, string_member(step, "device")))
            return true;
    }
    return false;
}

static json_t *moves(const json_t *before, const json_t *after)
{
    json_t *list = json_array();
    size_t i;
    json_t *step;
    json_array_foreach(after, i, step) {
        const char *from = string_member(json_array_get(before, i), "device");
        const char *to = string_member(step, "device");
        if (from && to && strcmp(from, to))
            json_array_append_new(list, json_pack("{s:I, s:s, s:s, s:O}", "step", (json_int_t)i,
                                                  "from", from, "to", to, "module",
                                                  json_object_get(step, "moduleName")));
    }
    return list;
}

/* The devices to try for step s when it must leave its device, best first: the
 * manifest's failovers (then the solver's choice, NULL). */
static const json_t *failover_list(const json_t *doc, size_t s)
{
    return json_array_get(json_object_get(doc, "failoversBySequence"), s);
}

/* Places the deployment again: stays[s] true keeps step s where it is; otherwise
 * wanted[s] (a device id, or NULL) is tried first. The failovers lists are honoured
 * for steps leaving an unusable device. */
static bool replace(orchestrator *o, json_t *doc, const bool *stays, const char **wanted,
                    const char *gone, char *err, size_t err_size)
{
    const json_t *sequence = json_object_get(doc, "sequence");
    size_t n = json_array_size(sequence);
    const char **pins = calloc(n + 1, sizeof *pins);
    size_t *cursor = calloc(n + 1, sizeof *cursor);    /* position in each failovers list */
    if (!pins || !cursor) {
        free(pins);
        free(cursor);
        snprintf(err, err_size, "out of memory");
        return false;
    }
    for (size_t s = 0; s < n; s++)
        pins[s] = stays[s] ? string_member(json_array_get(sequence, s), "device") : wanted[s];
    /* Try the failovers in order, step by step; then let the solver choose. */
    for (;;) {
        for (size_t s = 0; s < n; s++) {
            if (stays[s] || wanted[s])
                continue;
            const json_t *list = failover_list(doc, s);
            pins[s] = NULL;
            while (cursor[s] < json_array_size(list)) {
                const char *candidate = json_string_value(json_array_get(list, cursor[s]));
                if (candidate && (!gone || strcmp(candidate, gone)) && may_take(o, candidate)) {
                    pins[s] = candidate;
                    break;
                }
                cursor[s]++;
            }
        }
        json_t *attempt = json_deep_copy(doc);
        bool ok = attempt && deployment_replace(o, attempt, pins, err, err_size);
        if (ok) {
            json_object_update(doc, attempt);
            json_decref(attempt);
            break;
        }
        json_decref(attempt);
        /* A failover that cannot run its step: the next one, until only the solver's
         * own choice is left. */
        bool advanced = false;
        for (size_t s = 0; s < n && !advanced; s++)
            if (!stays[s] && !wanted[s] && pins[s]) {
                cursor[s]++;
                advanced = true;
            }
        if (!advanced) {
            free(pins);
            free(cursor);
            return false;
        }
    }
    free(pins);
    free(cursor);
    return true;
}

/* Re-places and redeploys one deployment; publishes what happened. */
static void move_steps(failover *f, json_t *doc, const bool *stays, const char **wanted,
                       const change *c, const char *event)
{
    orchestrator *o = f->o;
    char id[32];    /* a copy: placing again replaces the document's members */
    snprintf(id, sizeof id, "%s", string_member(doc, "_id"));
    json_t *before = json_deep_copy(doc);
    char err[1024] = "";
    plan p = {0};
    bool ok = replace(o, doc, stays, wanted, c->kind == DEVICE_GONE ? c->device : NULL, err,
                      sizeof err) &&
              make_plan(o, json_object_get(before, "fullManifest"),
                        json_object_get(doc, "fullManifest"), &p);
    if (ok) {
        placement_pending_add(o->placement, id, json_object_get(doc, "fullManifest"),
                              deployment_epoch(doc));
        ok = carry_out(o, before, doc, id, &p, err, sizeof err);
    }
    double ms = now_ms() - c->at;
    if (ok) {
        json_object_set_new(doc, "staleDevices",
                            merge_stale(json_object_get(doc, "staleDevices"), p.stale));
        json_object_set_new(doc, "isInFailover", json_boolean(differs_from_goal(doc)));
        json_object_del(doc, "failoverError");
        store_deployment_put(o->store, doc, err, sizeof err);
        json_t *moved = moves(json_object_get(before, "sequence"), json_object_get(doc, "sequence"));
        size_t routes = 0, nodes = 0;
        for (size_t i = 0; i < p.count; i++) {
            routes += p.targets[i].action == DEPLOY_ROUTES;
            nodes += p.targets[i].action == DEPLOY_NODE;
        }
        log_info(event, "deployment=%s device=%s moved=%zu nodes=%zu routes=%zu ms=%.1f", id,
                 c->device, json_array_size(moved), nodes, routes, ms);
        events_publish(o->events, event, id,
                       json_pack("{s:s, s:s?, s:s, s:s, s:o, s:I, s:I, s:I, s:b, s:f, s:I}",
                                 "deployment", id, "name", string_member(doc, "name"), "device",
                                 c->device, "reason", c->reason, "moves", moved,
                                 "nodesDeployed", (json_int_t)nodes, "routesUpdated",
                                 (json_int_t)routes, "checkpointsRestored",
                                 (json_int_t)p.restored, "isInFailover",
                                 json_is_true(json_object_get(doc, "isInFailover")),
                                 "durationMs", ms, "epoch", deployment_epoch(doc)));
        json_array_clear(p.stale);
        send_removals(o, id, &p);
    } else {
        /* The devices keep what they had; the document keeps its placement, with
         * the reason, and the next device event tries again. */
        json_t *changes = json_pack("{s:s, s:b}", "failoverError", err, "isInFailover", 1);
        char err2[256];
        store_deployment_update(o->store, id, changes, NULL, err2, sizeof err2);
        json_decref(changes);
        log_warn("deployment.failover_failed", "deployment=%s device=%s reason=%s", id,
                 c->device, log_quote(err));
        events_publish(o->events, "deployment.failover_failed", id,
                       json_pack("{s:s, s:s, s:s, s:f}", "deployment", id, "device", c->device,
                                 "reason", err, "durationMs", ms));
    }
    placement_set_moving(o->placement, id, NULL);
    placement_pending_clear(o->placement, id);
    plan_free(&p);
    json_decref(before);
}

/* ------------------------------------------------------------ the events */

static void device_gone(failover *f, const change *c)
{
    orchestrator *o = f->o;
    json_t *list = NULL;
    char err[512];
    if (store_deployments_using(o->store, c->device, NULL, &list, err, sizeof err) != STORE_OK) {
        log_error("failover.store_failed", "device=%s reason=%s", c->device, log_quote(err));
        return;
    }
    size_t i;
    json_t *doc;
    json_array_foreach(list, i, doc) {
        if (!json_is_true(json_object_get(doc, "active")))
            continue;   /* placed again when it is deployed */
        const json_t *sequence = json_object_get(doc, "sequence");
        size_t n = json_array_size(sequence);
        bool *stays = calloc(n + 1, sizeof *stays);
        const char **wanted = calloc(n + 1, sizeof *wanted);
        bool any = false;
        for (size_t s = 0; stays && wanted && s < n; s++) {
            const char *device = string_member(json_array_get(sequence, s), "device");
            stays[s] = usable(o, device);
            any = any || !stays[s];
        }
        if (stays && wanted && any)
            move_steps(f, doc, stays, wanted, c, "deployment.failover");
        free(stays);
        free((void *)wanted);
    }
    json_decref(list);
}

/* Removes stale copies of deployments from a device that is back. */
static void clean_stale(failover *f, json_t *doc, const change *c)
{
    orchestrator *o = f->o;
    json_t *stale = json_object_get(doc, "staleDevices");
    size_t i;
    json_t *dev;
    json_array_foreach(stale, i, dev) {
        if (strcmp(json_string_value(dev), c->device))
            continue;
        if (!json_object_get(json_object_get(doc, "fullManifest"), c->device)) {
            address a;
            if (address_of(o, c->device, &a)) {
                deploy_target t = {.action = DEPLOY_REMOVE, .device_id = c->device,
                                   .device_name = a.name, .device_url = a.url};
                deployer_send(string_member(doc, "_id"), &t, 1, ROUTES_TIMEOUT_MS);
                deploy_targets_clear(&t, 1);
            }
            free(a.name);
            free(a.url);
        }
        json_array_remove(stale, i);
        char err[256];
        json_t *changes = json_pack("{s:O}", "staleDevices", stale);
        store_deployment_update(o->store, string_member(doc, "_id"), changes, NULL, err,
                                sizeof err);
        json_decref(changes);
        return;
    }
}

/* A device that is back may have lost its copy (a new disk) or kept an older one:
 * it gets what the deployment says it runs now. */
static void resync(failover *f, const json_t *doc, const change *c)
{
    const json_t *node = json_object_get(json_object_get(doc, "fullManifest"), c->device);
    const char *id = string_member(doc, "_id");
    address a;
    if (!node)
        return;
    if (!address_of(f->o, c->device, &a)) {
        free(a.name);
        free(a.url);
        return;
    }
    char *url = NULL;
    http_result res = {0};
    json_t *answer = NULL;
    if (asprintf(&url, "%s/deploy/%s", a.url, id) >= 0 && http_get(url, ROUTES_TIMEOUT_MS, &res) &&
        res.status == 200)
        answer = http_result_json(&res);
    const json_t *has = json_object_get(answer, "manifest");
    deploy_action action = !has || !same_modules(has, node) ? DEPLOY_NODE
                           : !same_routes(has, node)          ? DEPLOY_ROUTES
                                                              : DEPLOY_REMOVE;
    if (action != DEPLOY_REMOVE) {
        deploy_target t = {.action = action, .device_id = c->device, .device_name = a.name,
                           .device_url = a.url, .node = node};
        deployer_send(id, &t, 1, NODE_TIMEOUT_MS);
        log_info("deployment.resynced", "deployment=%s device=%s action=%s ok=%s", id,
                 c->device, action == DEPLOY_NODE ? "deploy" : "routes", t.ok ? "yes" : "no");
        deploy_targets_clear(&t, 1);
    }
    json_decref(answer);
    http_result_free(&res);
    free(url);
    free(a.name);
    free(a.url);
}

/* A deployment whose failover had failed, now that every step's device is usable
 * again: it runs as placed. */
static void clear_failover_error(failover *f, json_t *doc, const change *c)
{
    orchestrator *o = f->o;
    size_t i;
    json_t *st;
    json_array_foreach(json_object_get(doc, "sequence"), i, st)
        if (!usable(o, string_member(st, "device")))
            return;
    const char *id = string_member(doc, "_id");
    json_object_del(doc, "failoverError");
    bool in_failover = differs_from_goal(doc);
    json_t *changes = json_pack("{s:n, s:b}", "failoverError", "isInFailover", in_failover);
    char err[256];
    store_deployment_update(o->store, id, changes, NULL, err, sizeof err);
    json_decref(changes);
    log_info("deployment.recovered", "deployment=%s device=%s", id, c->device);
    events_publish(o->events, "deployment.recovered", id,
                   json_pack("{s:s, s:s?, s:s, s:s, s:[], s:b}", "deployment", id, "name",
                             string_member(doc, "name"), "device", c->device, "reason",
                             c->reason, "moves", "isInFailover", in_failover));
}

/* A pinned step whose device is back moves home by planned migration; 1 when it did. */
static size_t come_home(failover *f, const json_t *doc, size_t step, const change *c)
{
    migration_request r = {.deployment = string_member(doc, "_id"), .step = (long)step,
                           .device = c->device, .trigger = "homecoming",
                           .reason = "its pinned device is back"};
    int status = 0;
    json_t *answer = NULL;
    migration_run(f->o, &r, &status, &answer);   /* publishes deployment.recovered */
    if (status != 200)
        log_warn("deployment.homecoming_failed", "deployment=%s step=%zu device=%s reason=%s",
                 r.deployment, step, c->device,
                 log_quote(json_string_value(json_object_get(answer, "errorText"))));
    json_decref(answer);
    return status == 200;
}

static void device_back(failover *f, const change *c)
{
    orchestrator *o = f->o;
    json_t *list = NULL;
    char err[512];
    /* a drained device that is back (it was lost, then answered again) may be
     * placed on again */
    placement_set_leaving(o->placement, c->device, false);
    if (store_deployment_list(o->store, &list, err, sizeof err) != STORE_OK) {
        log_error("failover.store_failed", "device=%s reason=%s", c->device, log_quote(err));
        return;
    }
    size_t i;
    json_t *doc;
    json_array_foreach(list, i, doc) {
        clean_stale(f, doc, c);
        if (!json_is_true(json_object_get(doc, "active")))
            continue;
        const json_t *sequence = json_object_get(doc, "sequence");
        const json_t *pins = json_object_get(doc, "pins");
        size_t n = json_array_size(sequence);
        bool *stays = calloc(n + 1, sizeof *stays);
        const char **wanted = calloc(n + 1, sizeof *wanted);
        bool homecoming = false, stranded = false;
        size_t migrated = 0;
        for (size_t s = 0; stays && wanted && s < n; s++) {
            const char *device = string_member(json_array_get(sequence, s), "device");
            const char *pin = json_string_value(json_array_get(pins, s));
            stays[s] = true;
            if (pin && !strcmp(pin, c->device) && strcmp(device, c->device) &&
                usable(o, device)) {
                /* its stand-in is alive and serving: the state it has now goes home
                 * with it (a planned migration), not an older checkpoint */
                migrated += come_home(f, doc, s, c);
            } else if (pin && !strcmp(pin, c->device) && strcmp(device, c->device)) {
                stays[s] = false;
                wanted[s] = pin;
                homecoming = true;
            } else if (!usable(o, device)) {
                stays[s] = false;
                stranded = true;
            }
        }
        if (migrated) {
            /* the document changed under us: the rest is done on the next event */
            json_t *now = NULL;
            if (store_deployment_get(o->store, string_member(doc, "_id"), &now, err,
                                     sizeof err) == STORE_OK)
                json_object_update(doc, now);
            json_decref(now);
            homecoming = true;
        } else if (stays && wanted && (homecoming || stranded))
            move_steps(f, doc, stays, wanted, c,
                       homecoming ? "deployment.recovered" : "deployment.failover");
        else if (json_object_get(doc, "failoverError"))
            clear_failover_error(f, doc, c);
        if (!homecoming)
            resync(f, doc, c);
        free(stays);
        free((void *)wanted);
    }
    json_decref(list);
}

static void *work(void *arg)
{
    failover *f = arg;
    pthread_mutex_lock(&f->lock);
    for (;;) {
        while (!f->count && !f->stopping)
            pthread_cond_wait(&f->wake, &f->lock);
        if (f->stopping)
            break;
        change c = f->queue[f->head];
        f->head = (f->head + 1) % MAX_QUEUED;
        f->count--;
        pthread_mutex_unlock(&f->lock);
        placement_lock(f->o->placement);
        if (c.kind == DEVICE_GONE)
            device_gone(f, &c);
        else
            device_back(f, &c);
        placement_unlock(f->o->placement);
        pthread_mutex_lock(&f->lock);
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

failover *failover_start(orchestrator *o, char *err, size_t err_size)
{
    if (!o->events || !o->fleet) {
        snprintf(err, err_size, "placement starts after the event bus and the fleet");
        return NULL;
    }
    failover *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    f->o = o;
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->wake, NULL);
    if (pthread_create(&f->thread, NULL, work, f) != 0) {
        snprintf(err, err_size, "cannot start the failover thread");
        pthread_mutex_destroy(&f->lock);
        pthread_cond_destroy(&f->wake);
        free(f);
        return NULL;
    }
    events_listen(o->events, listener, f);
    return f;
}

void failover_stop(failover *f)
{
    if (!f)
        return;
    events_unlisten(f->o->events, listener, f);
    pthread_mutex_lock(&f->lock);
    f->stopping = true;
    pthread_cond_signal(&f->wake);
    pthread_mutex_unlock(&f->lock);
    pthread_join(f->thread, NULL);
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->wake);
    free(f);
}
