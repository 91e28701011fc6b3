/*
 * deployer.c — sending DeploymentNodes to devices: every device at once (one thread
 * each, so 50 devices take as long as the slowest, not the sum), and a deployment is
 * active only when every device accepted its node; otherwise the devices that did
 * accept are put back as they were.
 */
#define _GNU_SOURCE
#include "orchestrator/placement.h"

#include "base/http_client.h"
#include "base/log.h"
#include "orchestrator/events.h"
#include "orchestrator/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEPLOY_TIMEOUT_MS 60000
#define REMOVE_TIMEOUT_MS 3000

typedef struct send_job {
    const char *deployment_id;
    deploy_target *target;
    long timeout_ms;
} send_job;

static const char *action_name(deploy_action a)
{
    return a == DEPLOY_NODE ? "deploy" : a == DEPLOY_ROUTES ? "routes" : "remove";
}

/* "the answer's errorText", or its text, cut to fit. */
static void describe_answer(const http_result *res, const json_t *answer, char *out,
                            size_t size)
{
    const char *text = json_string_value(json_object_get(answer, "errorText"));
    if (!text)
        text = json_string_value(json_object_get(answer, "error"));
    if (!text)
        text = json_string_value(json_object_get(answer, "result"));
    if (!text)
        text = json_string_value(json_object_get(answer, "message"));
    if (!text)
        text = res->body && *res->body ? res->body : "(no body)";
    snprintf(out, size, "%s", text);
}

static void *send_one(void *arg)
{
    send_job *job = arg;
    deploy_target *t = job->target;
    size_t len = strlen(t->device_url);
    while (len && t->device_url[len - 1] == '/')
        len--;
    char *url = NULL;
    int n = t->action == DEPLOY_NODE
                ? asprintf(&url, "%.*s/deploy", (int)len, t->device_url)
                : t->action == DEPLOY_ROUTES
                      ? asprintf(&url, "%.*s/deploy/%s/routes", (int)len, t->device_url,
                                 job->deployment_id)
                      : asprintf(&url, "%.*s/deploy/%s", (int)len, t->device_url,
                                 job->deployment_id);
    if (n < 0) {
        snprintf(t->error, sizeof t->error, "out of memory");
        return NULL;
    }
    http_result res = {0};
    bool answered;
    if (t->action == DEPLOY_NODE) {
        answered = http_post_json(url, t->node, job->timeout_ms, &res);
    } else if (t->action == DEPLOY_ROUTES) {
        json_t *routes = json_pack("{s:O, s:O}", "endpoints", json_object_get(t->node, "endpoints"),
                                   "instructions", json_object_get(t->node, "instructions"));
        if (json_object_get(t->node, "epoch"))
            json_object_set(routes, "epoch", json_object_get(t->node, "epoch"));
        char *body = json_dumps(routes, JSON_COMPACT);
        json_decref(routes);
        answered = http_request_send("PUT", url, NULL, 0, body, body ? strlen(body) : 0,
                                     "application/json", job->timeout_ms, &res);
        free(body);
    } else {
        answered = http_request_send("DELETE", url, NULL, 0, NULL, 0, NULL, job->timeout_ms, &res);
    }
    t->ms = res.seconds * 1000;
    const char *label = t->device_name ? t->device_name : t->device_id;
    if (!answered) {
        snprintf(t->error, sizeof t->error, "device '%s' cannot be reached: %s", label,
                 res.error);
    } else {
        t->status = res.status;
        t->answer = http_result_json(&res);
        if (!t->answer && res.body)
            t->answer = json_string(res.body);
        t->ok = res.status >= 200 && res.status < 300;
        if (!t->ok) {
            char why[400];
            describe_answer(&res, t->answer, why, sizeof why);
            snprintf(t->error, sizeof t->error, "device '%s' answered %ld to %s: %s", label,
                     res.status, action_name(t->action), why);
        }
    }
    log_event(t->ok ? (log_level)1 : (log_level)2, "deploy.sent",
              "deployment=%s device=%s action=%s status=%ld ms=%.1f%s%s", job->deployment_id,
              log_quote(label), action_name(t->action), t->status, t->ms,
              t->ok ? "" : " error=", t->ok ? "" : log_quote(t->error));
    http_result_free(&res);
    free(url);
    return NULL;
}

void deployer_send(const char *deployment_id, deploy_target *targets, size_t count,
                   long timeout_ms)
{
    send_job *jobs = calloc(count + 1, sizeof *jobs);
    pthread_t *threads = calloc(count + 1, sizeof *threads);
    bool *started = calloc(count + 1, sizeof *started);
    for (size_t i = 0; i < count; i++) {
        targets[i].ok = false;
        targets[i].status = 0;
        targets[i].answer = NULL;
        targets[i].error[0] = '\0';
        if (!jobs || !threads || !started) {
            snprintf(targets[i].error, sizeof targets[i].error, "out of memory");
            continue;
        }
        jobs[i] = (send_job){deployment_id, &targets[i], timeout_ms};
        started[i] = pthread_create(&threads[i], NULL, send_one, &jobs[i]) == 0;
        if (!started[i])
            send_one(&jobs[i]);     /* no thread to spare: do it here */
    }
    for (size_t i = 0; threads && started && i < count; i++)
        if (started[i])
            pthread_join(threads[i], NULL);
    free(jobs);
    free(threads);
    free(started);
}

void deploy_targets_clear(deploy_target *targets, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        json_decref(targets[i].answer);
        targets[i].answer = NULL;
    }
}

/* ---- a whole deployment */

typedef struct device_address {
    char *name, *url;
} device_address;

static bool address_of(orchestrator *o, const char *device_id, device_address *out, char *err,
                       size_t err_size)
{
    device_view v;
    if (!fleet_device(o->fleet, device_id, &v)) {
        snprintf(err, err_size, "device %s is not known any more: solve the manifest again "
                 "(PUT /file/manifest/{id})", device_id);
        return false;
    }
    out->name = strdup(v.name ? v.name : device_id);
    out->url = v.url ? strdup(v.url) : NULL;
    fleet_view_clear(&v);
    if (!out->url || !out->name) {
        snprintf(err, err_size, "device '%s' has no address that answered",
                 out->name ? out->name : device_id);
        free(out->name);
        free(out->url);
        *out = (device_address){0};
        return false;
    }
    return true;
}

static json_t *device_responses(const deploy_target *t, size_t n)
{
    json_t *all = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(all, t[i].device_id,
                            json_pack("{s:I, s:O?, s:s?}", "status", (json_int_t)t[i].status,
                                      "data", t[i].answer, "error",
                                      t[i].ok ? NULL : t[i].error));
    return all;
}

static void publish_steps(orchestrator *o, const json_t *deployment, const deploy_target *t,
                          size_t n)
{
    const char *id = json_string_value(json_object_get(deployment, "_id"));
    size_t i;
    json_t *step;
    json_array_foreach(json_object_get(deployment, "sequence"), i, step) {
        const char *device = json_string_value(json_object_get(step, "device"));
        double ms = 0;
        for (size_t k = 0; k < n; k++)
            if (!strcmp(t[k].device_id, device))
                ms = t[k].ms;
        events_publish(o->events, "deployment.step_deployed", id,
                       json_pack("{s:s, s:I, s:s, s:O, s:O, s:f}", "deployment", id, "step",
                                 (json_int_t)i, "device", device, "module",
                                 json_object_get(step, "moduleName"), "func",
                                 json_object_get(step, "func"), "ms", ms));
    }
}

/* Puts back the devices that accepted: their previous node, or no deployment. */
static void roll_back(orchestrator *o, const char *id, deploy_target *t, size_t n,
                      const json_t *previous_nodes, json_int_t epoch)
{
    /* the previous nodes under the new epoch: a device refuses an older one */
    json_t *previous = json_deep_copy(previous_nodes);
    nodes_set_epoch(previous, epoch);
    deploy_target *undo = calloc(n + 1, sizeof *undo);
    size_t m = 0;
    for (size_t i = 0; undo && i < n; i++) {
        if (!t[i].ok)
            continue;
        const json_t *old = json_object_get(previous, t[i].device_id);
        undo[m++] = (deploy_target){.action = old ? DEPLOY_NODE : DEPLOY_REMOVE,
                                    .device_id = t[i].device_id,
                                    .device_name = t[i].device_name,
                                    .device_url = t[i].device_url,
                                    .node = old};
    }
    if (m) {
        deployer_send(id, undo, m, DEPLOY_TIMEOUT_MS);
        for (size_t i = 0; i < m; i++)
            if (!undo[i].ok)
                log_warn("deploy.rollback_failed", "deployment=%s device=%s error=%s", id,
                         log_quote(undo[i].device_name), log_quote(undo[i].error));
        events_publish(o->events, "deployment.rolled_back", id,
                       json_pack("{s:s, s:I}", "deployment", id, "devices", (json_int_t)m));
    }
    deploy_targets_clear(undo, m);
    free(undo);
    json_decref(previous);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Devices that had a node in `previous` and have none now: their old version goes. */
static void remove_left_behind(orchestrator *o, const char *id, const json_t *nodes,
                               const json_t *previous)
{
    const char *device;
    json_t *node;
    json_object_foreach((json_t *)previous, device, node) {
        if (json_object_get(nodes, device))
            continue;
        device_address a = {0};
        char err[256];
        if (address_of(o, device, &a, err, sizeof err)) {
            deploy_target t = {.action = DEPLOY_REMOVE, .device_id = device,
                               .device_name = a.name, .device_url = a.url};
            deployer_send(id, &t, 1, REMOVE_TIMEOUT_MS);
            deploy_targets_clear(&t, 1);
        }
        free(a.name);
        free(a.url);
    }
}

bool deployer_deploy(orchestrator *o, json_t *deployment, const json_t *previous,
                     int *status_out, json_t **answer_out)
{
    const char *id = json_string_value(json_object_get(deployment, "_id"));
    json_t *nodes = json_object_get(deployment, "fullManifest");
    size_t n = json_object_size(nodes);
    deploy_target *t = calloc(n + 1, sizeof *t);
    device_address *addr = calloc(n + 1, sizeof *addr);
    char err[512] = "";
    bool ok = t && addr;
    size_t i = 0;
    const char *device;
    json_t *node;
    double started = now_ms();
    json_object_foreach(nodes, device, node) {
        if (!ok || !address_of(o, device, &addr[i], err, sizeof err)) {
            ok = false;
            break;
        }
        t[i] = (deploy_target){.action = DEPLOY_NODE, .device_id = device,
                               .device_name = addr[i].name, .device_url = addr[i].url,
                               .node = node};
        i++;
    }
    if (!ok) {
        *status_out = t && addr ? 409 : 500;
        *answer_out = json_pack("{s:s, s:s}", "errorText", err[0] ? err : "out of memory",
                                "error", err[0] ? err : "out of memory");
    } else {
        events_publish(o->events, "deployment.deploying", id,
                       json_pack("{s:s, s:I}", "deployment", id, "devices", (json_int_t)n));
        /* a redeploy's devices hold the epoch before until their node arrives */
        placement_pending_add(o->placement, id, nodes,
                              deployment_epoch(deployment) - (previous ? 1 : 0));
        deployer_send(id, t, n, DEPLOY_TIMEOUT_MS);
        const deploy_target *failed = NULL;
        for (size_t k = 0; k < n && !failed; k++)
            if (!t[k].ok)
                failed = &t[k];
        double ms = now_ms() - started;
        if (failed) {
            ok = false;
            roll_back(o, id, t, n, previous, deployment_epoch(deployment));
            snprintf(err, sizeof err, "%s", failed->error);
            *status_out = 502;
            *answer_out = json_pack(
                "{s:s, s:{s:s, s:s?, s:I, s:O?, s:o}}", "errorText", err, "error", "device",
                failed->device_id, "deviceName", failed->device_name, "status",
                (json_int_t)failed->status, "answer", failed->answer, "deviceResponses",
                device_responses(t, n));
            events_publish(o->events, "deployment.failed", id,
                           json_pack("{s:s, s:s, s:s, s:f}", "deployment", id, "device",
                                     failed->device_id, "reason", err, "durationMs", ms));
            log_warn("deployment.failed", "deployment=%s device=%s reason=%s", id,
                     log_quote(failed->device_name), log_quote(err));
        } else {
            char now[32];
            store_now_iso(now);
            json_t *changes = json_pack("{s:b, s:s}", "active", 1, "deployedAt", now);
            store_deployment_update(o->store, id, changes, NULL, err, sizeof err);
            json_decref(changes);
            json_object_set_new(deployment, "active", json_true());
            json_object_set_new(deployment, "deployedAt", json_string(now));
            if (previous)
                remove_left_behind(o, id, nodes, previous);
            publish_steps(o, deployment, t, n);
            events_publish(o->events, "deployment.deployed", id,
                           json_pack("{s:s, s:I, s:f}", "deployment", id, "devices",
                                     (json_int_t)n, "durationMs", ms));
            log_info("deployment.deployed", "deployment=%s devices=%zu ms=%.1f", id, n, ms);
            *status_out = 200;
            *answer_out = json_pack("{s:o}", "deviceResponses", device_responses(t, n));
        }
    }
    placement_pending_clear(o->placement, id);
    if (t)
        deploy_targets_clear(t, n);
    for (size_t k = 0; addr && k < n; k++) {
        free(addr[k].name);
        free(addr[k].url);
    }
    free(addr);
    free(t);
    return ok;
}

void deployer_remove_everywhere(orchestrator *o, const json_t *deployment)
{
    const char *id = json_string_value(json_object_get(deployment, "_id"));
    json_t *nodes = json_object_get(deployment, "fullManifest");
    size_t n = json_object_size(nodes), m = 0;
    deploy_target *t = calloc(n + 1, sizeof *t);
    device_address *addr = calloc(n + 1, sizeof *addr);
    const char *device;
    json_t *node;
    json_object_foreach(nodes, device, node) {
        char err[256];
        if (!t || !addr || !address_of(o, device, &addr[m], err, sizeof err))
            continue;
        t[m] = (deploy_target){.action = DEPLOY_REMOVE, .device_id = device,
                               .device_name = addr[m].name, .device_url = addr[m].url};
        m++;
    }
    if (m)
        deployer_send(id, t, m, REMOVE_TIMEOUT_MS);
    if (t)
        deploy_targets_clear(t, m);
    for (size_t k = 0; addr && k < n; k++) {
        free(addr[k].name);
        free(addr[k].url);
    }
    free(addr);
    free(t);
}
