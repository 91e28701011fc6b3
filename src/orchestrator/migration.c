/*
 * migration.c — planned migration of one step (docs/migration.md, "Planned migration"):
 *
 *   1. the target: the request's device, else the solver's choice with the source
 *      ruled out for this step; the other steps stay where they are (pinned), so the same
 *      filters and scores as a deployment's apply, and the epoch goes up by one;
 *   2. the target gets its new node (it instantiates the module fresh);
 *   3. the source is asked to move the module: it quiesces it, streams the state
 *      bundle to the target directly, and answers once the target has restored it;
 *   4. the new placement is stored (with the migration's record), every other device
 *      of the deployment gets the new routes and epoch, and the source, if nothing
 *      else of the deployment stays there, drops its copy.
 *
 * A failure before 4 leaves the deployment as it was: the target's new copy is
 * removed (or its previous node put back) and the source, which keeps serving,
 * holds what it held. The whole migration holds the placement lock, so it never
 * interleaves with a failover or a redeploy of the same deployment.
 */
#define _GNU_SOURCE
#include "orchestrator/migration.h"

#include "base/http_client.h"
#include "base/ids.h"
#include "base/log.h"
#include "orchestrator/events.h"
#include "orchestrator/placement.h"
#include "orchestrator/store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NODE_TIMEOUT_MS 60000
#define ROUTES_TIMEOUT_MS 10000
#define TRANSFER_TIMEOUT_MS 300000
#define RECORDS_KEPT 50

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

/* ------------------------------------------------------------ one migration */

typedef struct migration {
    orchestrator *o;
    const migration_request *request;
    json_t *doc;                /* the stored deployment */
    json_t *next;               /* the deployment as it will be */
    const char *id;
    size_t step;
    char transfer[IDS_OBJECT_ID_SIZE];
    device_view source, target;
    bool have_source, have_target;
    bool target_had_node;       /* it ran other steps of the deployment before */
    json_t *record;
    int status;
    char error[1024];
    double started;
} migration;

static void fail(migration *m, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(migration *m, int status, const char *fmt, ...)
{
    if (m->error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->error, sizeof m->error, fmt, ap);
    va_end(ap);
    m->status = status;
}

static const char *device_label(const device_view *v)
{
    return v->name ? v->name : v->id;
}

/* The step the request names; false when answered. */
static bool find_step(migration *m)
{
    const migration_request *r = m->request;
    const json_t *sequence = json_object_get(m->doc, "sequence");
    size_t n = json_array_size(sequence);
    if (r->step >= 0) {
        if ((size_t)r->step >= n) {
            fail(m, 404, "deployment '%s' has no step %ld: its steps are 0 to %zu",
                 string_member(m->doc, "name"), r->step, n ? n - 1 : 0);
            return false;
        }
        m->step = (size_t)r->step;
        return true;
    }
    long found = -1;
    size_t i;
    json_t *st;
    json_array_foreach(sequence, i, st) {
        const char *alias = string_member(st, "alias"), *name = string_member(st, "moduleName");
        if (!(alias && !strcmp(alias, r->module)) && !(name && !strcmp(name, r->module)))
            continue;
        if (found >= 0) {
            fail(m, 400, "module '%s' runs more than one step of deployment '%s' (%ld and "
                 "%zu): name the step with {\"step\": N}", r->module,
                 string_member(m->doc, "name"), found, i);
            return false;
        }
        found = (long)i;
    }
    if (found < 0) {
        fail(m, 404, "deployment '%s' has no step running module '%s'",
             string_member(m->doc, "name"), r->module);
        return false;
    }
    m->step = (size_t)found;
    return true;
}

/* Source and target devices; the new placement in m->next. false when answered. */
static bool plan(migration *m)
{
    orchestrator *o = m->o;
    const json_t *sequence = json_object_get(m->doc, "sequence");
    const char *source_id = string_member(json_array_get(sequence, m->step), "device");
    if (!source_id || !fleet_device(o->fleet, source_id, &m->source)) {
        fail(m, 409, "step %zu of deployment '%s' is on a device the orchestrator no longer "
             "knows: deploy it again", m->step, string_member(m->doc, "name"));
        return false;
    }
    m->have_source = true;
    if (m->source.state == DEVICE_LOST) {
        fail(m, 409, "device '%s' running step %zu is lost: its steps are placed again by "
             "failover, with their newest checkpoint", device_label(&m->source), m->step);
        return false;
    }
    const char *wanted = NULL;
    if (m->request->device) {
        if (!fleet_device(o->fleet, m->request->device, &m->target)) {
            fail(m, 404, "no device '%s' (by id or name): GET /file/device lists them",
                 m->request->device);
            return false;
        }
        m->have_target = true;
        if (!strcmp(m->target.id, m->source.id)) {
            fail(m, 400, "step %zu already runs on '%s': name another device, or none to let "
                 "the solver choose", m->step, device_label(&m->target));
            return false;
        }
        if (!fleet_usable(&m->target)) {
            fail(m, 409, "device '%s' cannot take it: it is %s", device_label(&m->target),
                 m->target.blacklisted ? "blacklisted" : device_state_name(m->target.state));
            return false;
        }
        if (placement_is_leaving(o->placement, m->target.id)) {
            fail(m, 409, "device '%s' cannot take it: it is leaving (being drained)",
                 device_label(&m->target));
            return false;
        }
        wanted = m->target.id;
    }
    size_t n = json_array_size(sequence);
    const char **pins = calloc(n + 1, sizeof *pins);
    if (!pins) {
        fail(m, 500, "out of memory");
        return false;
    }
    for (size_t s = 0; s < n; s++)
        pins[s] = s == m->step ? wanted : string_member(json_array_get(sequence, s), "device");
    placement_set_step_leaving(o->placement, (long)m->step, m->source.id);
    char err[768] = "";
    bool ok = false;
    /* Without a device named, the step's failovers come first, in the manifest's order
     * (as when its device is lost), then the solver's choice. */
    const json_t *failovers = json_array_get(json_object_get(m->doc, "failoversBySequence"),
                                             m->step);
    for (size_t i = 0; !wanted && !ok && i < json_array_size(failovers); i++) {
        const char *candidate = json_string_value(json_array_get(failovers, i));
        device_view v;
        if (!candidate || !strcmp(candidate, m->source.id) ||
            !fleet_device(o->fleet, candidate, &v))
            continue;
        bool usable = fleet_usable(&v) && !placement_is_leaving(o->placement, v.id);
        fleet_view_clear(&v);
        if (!usable)
            continue;
        pins[m->step] = candidate;
        json_decref(m->next);
        char why[768];
        ok = (m->next = json_deep_copy(m->doc)) &&
             deployment_replace(o, m->next, pins, why, sizeof why);
    }
    if (!ok) {
        pins[m->step] = wanted;
        json_decref(m->next);
        ok = (m->next = json_deep_copy(m->doc)) &&
             deployment_replace(o, m->next, pins, err, sizeof err);
    }
    placement_set_step_leaving(o->placement, -1, NULL);
    free(pins);
    if (!ok) {
        if (wanted)
            fail(m, 409, "device '%s' cannot run step %zu: %s", device_label(&m->target),
                 m->step, err);
        else
            fail(m, 409, "no other device can run step %zu: %s", m->step, err);
        return false;
    }
    const char *chosen = string_member(json_array_get(json_object_get(m->next, "sequence"),
                                                      m->step), "device");
    if (!m->have_target) {
        if (!fleet_device(o->fleet, chosen, &m->target)) {
            fail(m, 409, "the device chosen for step %zu went away: try again", m->step);
            return false;
        }
        m->have_target = true;
    }
    m->target_had_node = json_object_get(json_object_get(m->doc, "fullManifest"),
                                         m->target.id) != NULL;
    return true;
}

/* Sends one node (or routes, or a removal) to a device; false with the reason. */
static bool send_one(migration *m, deploy_action action, const device_view *v,
                     const json_t *node, long timeout_ms, char *why, size_t why_size)
{
    deploy_target t = {.action = action, .device_id = v->id, .device_name = device_label(v),
                       .device_url = v->url, .node = node};
    if (!v->url) {
        snprintf(why, why_size, "device '%s' has no address that answered", device_label(v));
        return false;
    }
    deployer_send(m->id, &t, 1, timeout_ms);
    if (!t.ok)
        snprintf(why, why_size, "%s", t.error);
    bool ok = t.ok;
    deploy_targets_clear(&t, 1);
    return ok;
}

static const char *step_alias(const json_t *doc, size_t s)
{
    const json_t *st = json_array_get(json_object_get(doc, "sequence"), s);
    const char *alias = string_member(st, "alias");
    return alias ? alias : string_member(st, "moduleName");
}

/* POST {source}/deploy/{id}/modules/{module}/migrate; *answer the source's answer. */
static bool ask_source(migration *m, json_t **answer)
{
    char *url = NULL;
    char *module = http_url_encode(step_alias(m->doc, m->step));
    if (!module || !m->source.url ||
        asprintf(&url, "%s/deploy/%s/modules/%s/migrate", m->source.url, m->id, module) < 0) {
        free(module);
        fail(m, 500, "out of memory");
        return false;
    }
    free(module);
    json_t *body = json_pack("{s:s, s:I, s:s, s:s}", "target", m->target.url, "epoch",
                             deployment_epoch(m->next), "transferId", m->transfer,
                             "targetModule", step_alias(m->next, m->step));
    http_result res = {0};
    bool answered = http_post_json(url, body, TRANSFER_TIMEOUT_MS, &res);
    json_decref(body);
    free(url);
    if (!answered) {
        fail(m, 502, "device '%s' (the source) cannot be reached: %s",
             device_label(&m->source), res.error);
        http_result_free(&res);
        return false;
    }
    *answer = http_result_json(&res);
    if (res.status != 200) {
        const char *why = string_member(*answer, "errorText");
        fail(m, 502, "device '%s' (the source) could not move the module to '%s' (%ld): %s",
             device_label(&m->source), device_label(&m->target), res.status,
             why ? why : res.body && *res.body ? res.body : "(no body)");
        http_result_free(&res);
        return false;
    }
    http_result_free(&res);
    return true;
}

/* A failure before the placement was stored: the target loses what it was given. */
static void undo_target(migration *m)
{
    char why[512];
    if (!m->target_had_node) {
        if (!send_one(m, DEPLOY_REMOVE, &m->target, NULL, ROUTES_TIMEOUT_MS, why, sizeof why))
            log_warn("migration.undo_failed", "deployment=%s device=%s reason=%s", m->id,
                     log_quote(device_label(&m->target)), log_quote(why));
        return;
    }
    /* it ran other steps: its previous node, under the new epoch (a device refuses an
     * older one), and every other device learns that epoch too */
    json_int_t epoch = deployment_epoch(m->next);
    deployment_set_epoch(m->doc, epoch);
    const char *device;
    json_t *node;
    json_object_foreach(json_object_get(m->doc, "fullManifest"), device, node) {
        device_view v;
        if (!fleet_device(m->o->fleet, device, &v))
            continue;
        bool ok = send_one(m, strcmp(device, m->target.id) ? DEPLOY_ROUTES : DEPLOY_NODE, &v,
                           node, NODE_TIMEOUT_MS, why, sizeof why);
        if (!ok)
            log_warn("migration.undo_failed", "deployment=%s device=%s reason=%s", m->id,
                     log_quote(device_label(&v)), log_quote(why));
        fleet_view_clear(&v);
    }
    char err[256];
    json_t *changes = json_pack("{s:O, s:O}", "epoch", json_object_get(m->doc, "epoch"),
                                "fullManifest", json_object_get(m->doc, "fullManifest"));
    store_deployment_update(m->o->store, m->id, changes, NULL, err, sizeof err);
    json_decref(changes);
}

/* Whether every module of `now` was in `before` (the device keeps running them: a
 * routes update is enough, and their memory carries on). */
static bool modules_kept(const json_t *before, const json_t *now)
{
    size_t i, j;
    json_t *a, *b;
    json_array_foreach(json_object_get(now, "modules"), i, a) {
        bool found = false;
        json_array_foreach(json_object_get(before, "modules"), j, b)
            found = found || (json_equal(json_object_get(a, "name"), json_object_get(b, "name")) &&
                              json_equal(json_object_get(a, "id"), json_object_get(b, "id")) &&
                              json_equal(json_object_get(a, "sha256"),
                                         json_object_get(b, "sha256")));
        if (!found)
            return false;
    }
    return true;
}

/* Every device of the new placement but the target gets its routes and the new epoch.
 * Returns how many devices could not be told (they are named in the record). */
static size_t push_routes(migration *m)
{
    orchestrator *o = m->o;
    const json_t *before = json_object_get(m->doc, "fullManifest");
    const json_t *after = json_object_get(m->next, "fullManifest");
    size_t n = json_object_size(after) + 1, count = 0;
    deploy_target *t = calloc(n, sizeof *t);
    device_view *views = calloc(n, sizeof *views);
    json_t *failed = json_array();
    const char *device;
    json_t *node;
    json_object_foreach((json_t *)after, device, node) {
        if (!t || !views || !strcmp(device, m->target.id))
            continue;
        if (!fleet_device(o->fleet, device, &views[count]))
            continue;
        const json_t *old = json_object_get(before, device);
        t[count] = (deploy_target){
            .action = old && modules_kept(old, node) ? DEPLOY_ROUTES : DEPLOY_NODE,
            .device_id = views[count].id, .device_name = device_label(&views[count]),
            .device_url = views[count].url, .node = node};
        if (views[count].url)
            count++;
        else
            fleet_view_clear(&views[count]);
    }
    if (count)
        deployer_send(m->id, t, count, ROUTES_TIMEOUT_MS);
    for (size_t i = 0; i < count; i++) {
        if (t[i].ok)
            events_publish(o->events, "route.changed", m->id,
                           json_pack("{s:s, s:s, s:s, s:I, s:s}", "deployment", m->id, "device",
                                     t[i].device_id, "deviceName", t[i].device_name, "epoch",
                                     deployment_epoch(m->next), "by", "migration"));
        else
            json_array_append_new(failed, json_pack("{s:s, s:s}", "device", t[i].device_id,
                                                    "error", t[i].error));
        fleet_view_clear(&views[i]);
    }
    deploy_targets_clear(t, count);
    free(t);
    free(views);
    size_t failures = json_array_size(failed);
    if (failures)
        json_object_set(m->record, "routesFailed", failed);
    json_decref(failed);
    return failures;
}

/* doc's records with this one appended, the newest RECORDS_KEPT. */
static json_t *records_with(const json_t *doc, const json_t *record)
{
    const json_t *known = json_object_get(doc, "migrations");
    json_t *all = json_is_array(known) ? json_deep_copy(known) : json_array();
    json_array_append_new(all, json_deep_copy(record));
    while (json_array_size(all) > RECORDS_KEPT)
        json_array_remove(all, 0);
    return all;
}

static void record_failure(migration *m)
{
    char now[32], err[256];
    store_now_iso(now);
    json_object_set_new(m->record, "status", json_string("failed"));
    json_object_set_new(m->record, "error", json_string(m->error));
    json_object_set_new(m->record, "finishedAt", json_string(now));
    json_object_set_new(m->record, "durationMs", json_real(now_ms() - m->started));
    json_t *changes = json_pack("{s:o}", "migrations", records_with(m->doc, m->record));
    store_deployment_update(m->o->store, m->id, changes, NULL, err, sizeof err);
    json_decref(changes);
    migration_count_done(m->o->placement, false, 0);
    log_warn("migration.failed", "deployment=%s step=%zu transfer=%s reason=%s", m->id, m->step,
             m->transfer, log_quote(m->error));
    events_publish(m->o->events, "migration.failed", m->id,
                   json_pack("{s:s, s:I, s:O, s:O, s:O, s:s, s:s, s:O}", "deployment", m->id,
                             "step", (json_int_t)m->step, "module",
                             json_object_get(m->record, "module"), "from",
                             json_object_get(m->record, "from"), "to",
                             json_object_get(m->record, "to"), "transferId", m->transfer,
                             "reason", m->error, "trigger", json_object_get(m->record,
                                                                             "trigger")));
}

static void record_success(migration *m, const json_t *source_answer)
{
    orchestrator *o = m->o;
    char now[32], err[512];
    store_now_iso(now);
    double ms = now_ms() - m->started;
    json_t *unavailable = json_object_get(source_answer, "unavailableMs");
    json_object_set_new(m->record, "status", json_string("completed"));
    json_object_set_new(m->record, "finishedAt", json_string(now));
    json_object_set_new(m->record, "durationMs", json_real(ms));
    json_object_set(m->record, "bytes", json_object_get(source_answer, "bytes")
                                            ? json_object_get(source_answer, "bytes")
                                            : json_null());
    json_object_set(m->record, "unavailableMs", unavailable ? unavailable : json_null());
    json_object_set(m->record, "resumedCall", json_object_get(source_answer, "resumedCall")
                                                  ? json_object_get(source_answer, "resumedCall")
                                                  : json_null());
    /* the step's new home is where it belongs now: not a failover */
    json_t *goal = json_object_get(m->next, "goalDeployment");
    if (json_is_array(goal) && m->step < json_array_size(goal))
        json_array_set_new(goal, m->step, json_string(m->target.id));
    bool off_goal = false;
    size_t i;
    json_t *st;
    json_array_foreach(json_object_get(m->next, "sequence"), i, st) {
        const char *want = json_string_value(json_array_get(goal, i));
        off_goal = off_goal || (want && strcmp(want, string_member(st, "device")));
    }
    json_object_set_new(m->next, "isInFailover", json_boolean(off_goal));
    /* Routes first, the record after: an execution reading the placement meanwhile
     * still has the old epoch, which a device already moved on refuses (the executor
     * then waits for the record); were it the other way round, an execution could
     * carry the new epoch to a device not told yet, which takes that for a sign that
     * its own copy is stale and drops it. */
    placement_set_moving(o->placement, m->id, m->next);   /* for route lookups */
    push_routes(m);
    json_object_set_new(m->next, "migrations", records_with(m->doc, m->record));
    if (store_deployment_put(o->store, m->next, err, sizeof err) != STORE_OK)
        log_error("migration.store_failed", "deployment=%s reason=%s", m->id, log_quote(err));
    /* published as soon as the placement is stored, so whoever sees the new placement
     * finds the events that explain it */
    json_t *data = json_deep_copy(m->record);
    json_object_set_new(data, "deployment", json_string(m->id));
    events_publish(o->events, "migration.completed", m->id, data);
    if (m->request->trigger && !strcmp(m->request->trigger, "homecoming"))
        events_publish(o->events, "deployment.recovered", m->id,
                       json_pack("{s:s, s:s?, s:s, s:s?, s:[{s:I, s:s, s:s, s:O?}], s:b, s:b}",
                                 "deployment", m->id, "name", string_member(m->doc, "name"),
                                 "device", m->target.id, "reason", m->request->reason, "moves",
                                 "step", (json_int_t)m->step, "from", m->source.id, "to",
                                 m->target.id, "module", json_object_get(m->record, "module"),
                                 "migrated", 1, "isInFailover", off_goal));
    placement_set_moving(o->placement, m->id, NULL);
    placement_pending_clear(o->placement, m->id);
    char why[512];
    if (!json_object_get(json_object_get(m->next, "fullManifest"), m->source.id) &&
        !send_one(m, DEPLOY_REMOVE, &m->source, NULL, ROUTES_TIMEOUT_MS, why, sizeof why))
        log_warn("migration.source_keeps_copy", "deployment=%s device=%s reason=%s", m->id,
                 log_quote(device_label(&m->source)), log_quote(why));
    double unavailable_ms = json_number_value(unavailable);
    migration_count_done(o->placement, true, unavailable_ms);
    log_info("migration.completed", "deployment=%s step=%zu from=%s to=%s transfer=%s "
             "bytes=%" JSON_INTEGER_FORMAT " unavailable_ms=%.1f ms=%.1f", m->id, m->step,
             log_quote(device_label(&m->source)), log_quote(device_label(&m->target)),
             m->transfer, json_integer_value(json_object_get(m->record, "bytes")), unavailable_ms,
             ms);
}

static void start_record(migration *m)
{
    char now[32];
    store_now_iso(now);
    const json_t *st = json_array_get(json_object_get(m->doc, "sequence"), m->step);
    m->record = json_pack("{s:s, s:I, s:O?, s:s, s:s, s:s, s:s, s:s, s:s?, s:I, s:s, s:s}", "id",
                          m->transfer, "step", (json_int_t)m->step, "module",
                          json_object_get(st, "moduleName"), "from", m->source.id, "fromName",
                          device_label(&m->source), "to", m->target.id, "toName",
                          device_label(&m->target), "trigger",
                          m->request->trigger ? m->request->trigger : "api", "reason",
                          m->request->reason, "epoch", deployment_epoch(m->next), "status",
                          "running", "startedAt", now);
    events_publish(m->o->events, "migration.started", m->id,
                   json_pack("{s:s, s:s?, s:I, s:O?, s:s, s:s, s:s, s:s, s:s, s:s?}",
                             "deployment", m->id, "name", string_member(m->doc, "name"), "step",
                             (json_int_t)m->step, "module", json_object_get(st, "moduleName"),
                             "from", m->source.id, "fromName", device_label(&m->source), "to",
                             m->target.id, "toName", device_label(&m->target), "transferId",
                             m->transfer, "trigger", m->request->trigger));
    log_info("migration.started", "deployment=%s step=%zu from=%s to=%s transfer=%s trigger=%s",
             m->id, m->step, log_quote(device_label(&m->source)),
             log_quote(device_label(&m->target)), m->transfer,
             m->request->trigger ? m->request->trigger : "api");
}

/* The migration itself, once the deployment is loaded and claimed. */
static void migrate(migration *m)
{
    if (!json_is_true(json_object_get(m->doc, "active"))) {
        fail(m, 409, "deployment '%s' is not deployed: deploy it first with POST "
             "/file/manifest/%s", string_member(m->doc, "name"), m->id);
        return;
    }
    if (!find_step(m) || !plan(m))
        return;
    ids_new_object_id(m->transfer);
    start_record(m);
    /* until every device has the new routes, the lease tells them the old epoch (a
     * device is only told to drop a copy older than what it is told) */
    placement_pending_add(m->o->placement, m->id, json_object_get(m->next, "fullManifest"),
                          deployment_epoch(m->doc));
    const json_t *node = json_object_get(json_object_get(m->next, "fullManifest"), m->target.id);
    char why[512];
    json_t *answer = NULL;
    if (!send_one(m, DEPLOY_NODE, &m->target, node, NODE_TIMEOUT_MS, why, sizeof why)) {
        fail(m, 502, "the target could not take the step: %s", why);
        undo_target(m);
    } else if (!ask_source(m, &answer)) {
        undo_target(m);
    }
    if (m->error[0]) {
        placement_pending_clear(m->o->placement, m->id);
        record_failure(m);
    } else {
        record_success(m, answer);
    }
    json_decref(answer);
}

static void migration_free(migration *m)
{
    if (m->have_source)
        fleet_view_clear(&m->source);
    if (m->have_target)
        fleet_view_clear(&m->target);
    json_decref(m->doc);
    json_decref(m->next);
    json_decref(m->record);
}

void migration_run(orchestrator *o, const migration_request *r, int *status, json_t **answer)
{
    migration m = {.o = o, .request = r, .started = now_ms()};
    char err[512];
    placement_lock(o->placement);
    store_result sr = store_deployment_get(o->store, r->deployment, &m.doc, err, sizeof err);
    if (sr == STORE_NOT_FOUND)
        fail(&m, 404, "no deployment '%s' (by id or name): GET /file/manifest lists them",
             r->deployment);
    else if (sr != STORE_OK)
        fail(&m, 500, "%s", err);
    placement_unlock(o->placement);
    char id[32];
    if (!m.error[0]) {
        /* a copy: the document is read again below */
        snprintf(id, sizeof id, "%s", string_member(m.doc, "_id"));
        m.id = id;
        if (!placement_claim_migration(o->placement, m.id)) {
            fail(&m, 409, "deployment '%s' is being migrated already: wait for that migration "
                 "to finish (GET /file/manifest/%s shows it)", string_member(m.doc, "name"),
                 m.id);
        } else {
            placement_lock(o->placement);
            /* read again under the lock: a failover may have changed it meanwhile */
            json_decref(m.doc);
            m.doc = NULL;
            if (store_deployment_get(o->store, r->deployment, &m.doc, err, sizeof err) != STORE_OK)
                fail(&m, 404, "deployment '%s' was deleted meanwhile", r->deployment);
            else
                migrate(&m);
            placement_unlock(o->placement);
            placement_release_migration(o->placement, m.id);
        }
    }
    if (m.error[0]) {
        *status = m.status ? m.status : 500;
        *answer = json_pack("{s:s, s:s, s:O?}", "errorText", m.error, "error", m.error,
                            "migration", m.record);
    } else {
        *status = 200;
        *answer = json_incref(m.record);
    }
    migration_free(&m);
}

/* ------------------------------------------------------------ draining */

void migration_drain(orchestrator *o, const char *device, int *status, json_t **answer)
{
    device_view v;
    if (!device || !fleet_device(o->fleet, device, &v)) {
        *status = 404;
        *answer = json_pack("{s:s, s:s}", "errorText", "no such device: name a device the "
                            "orchestrator knows (GET /file/device)", "error", "unknown device");
        return;
    }
    /* from now on nothing new is placed there, until it is lost and comes back */
    placement_set_leaving(o->placement, v.id, true);
    log_info("device.draining", "device=%s name=%s", v.id, log_quote(device_label(&v)));
    events_publish(o->events, "device.draining", v.id,
                   json_pack("{s:s, s:s}", "id", v.id, "name", device_label(&v)));
    json_t *list = NULL, *done = json_array();
    char err[512];
    size_t failed = 0;
    if (store_deployments_using(o->store, v.id, NULL, &list, err, sizeof err) != STORE_OK) {
        *status = 500;
        *answer = json_pack("{s:s, s:s}", "errorText", err, "error", err);
        json_decref(done);
        fleet_view_clear(&v);
        return;
    }
    size_t i;
    json_t *doc;
    json_array_foreach(list, i, doc) {
        if (!json_is_true(json_object_get(doc, "active")))
            continue;
        /* one step at a time, each read afresh: a step's move changes the document */
        size_t n = json_array_size(json_object_get(doc, "sequence"));
        for (size_t s = 0; s < n; s++) {
            json_t *now = NULL;
            if (store_deployment_get(o->store, string_member(doc, "_id"), &now, err,
                                     sizeof err) != STORE_OK)
                break;
            const char *on = string_member(json_array_get(json_object_get(now, "sequence"), s),
                                           "device");
            bool here = on && !strcmp(on, v.id);
            json_decref(now);
            if (!here)
                continue;
            migration_request r = {.deployment = string_member(doc, "_id"), .step = (long)s,
                                   .trigger = "drain", .reason = "the device is shutting down"};
            int st = 0;
            json_t *a = NULL;
            migration_run(o, &r, &st, &a);
            if (st != 200)
                failed++;
            json_array_append_new(done, json_pack("{s:s, s:I, s:i, s:o}", "deployment",
                                                  r.deployment, "step", (json_int_t)s,
                                                  "status", st, "answer", a));
        }
    }
    json_decref(list);
    *status = 200;
    *answer = json_pack("{s:s, s:s, s:o, s:I}", "device", v.id, "name", device_label(&v),
                        "migrations", done, "failed", (json_int_t)failed);
    fleet_view_clear(&v);
}
