/*
 * executor.c — POST /execute/{id}: call the chain's first step as the reference does
 * (wasmiot-api.md §3.6: arguments as query parameters by name, files as multipart
 * parts named after the execution mounts), then follow it to its end: each step's
 * history entry, reached through its resultUrl and the entry's `next` link, gives
 * the step's result, success and timings.
 *
 * No fixed sleeps: a Liquid supervisor holds a history request open until the entry
 * is written (?wait=MS); a supervisor that ignores the parameter answers 404 at once,
 * and is asked again after a short back-off that doubles up to 200 ms.
 *
 * Every execution is recorded (store.h) with its input — files kept as blobs so it
 * can be run again — its result, per-step timings and error, and ends in an
 * execution.finished or execution.failed event.
 */
#define _GNU_SOURCE
#include "orchestrator/placement.h"

#include "base/http_client.h"
#include "base/ids.h"
#include "base/log.h"
#include "orchestrator/blobs.h"
#include "orchestrator/events.h"
#include "orchestrator/migration.h"
#include "orchestrator/store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define EXECUTION_TIMEOUT_MS 120000
#define LONG_POLL_MS 10000
#define FIRST_BACKOFF_MS 2
#define LAST_BACKOFF_MS 200
#define MAX_FOLLOWED 64
#define CALL_TIMEOUT_MS 120000

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static const char *string_member(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* ---------------------------------------------------------------- one run */

typedef struct run {
    orchestrator *o;
    json_t *deployment;
    const char *deployment_id;
    json_t *sequence;
    char id[IDS_OBJECT_ID_SIZE];
    json_t *args;               /* the arguments, by name */
    json_t *input_files;        /* {"<field>": sha256} */
    http_part *parts;           /* files forwarded to step 0 */
    size_t part_count;
    json_t *steps;              /* what each step did */
    json_t *result;
    char *result_url;           /* the last step's */
    char error[1024];
    int status;                 /* HTTP status of a failure */
    long failed_step;           /* -1: none */
    double started;
    char labels[2][300];
    unsigned next_label;
    json_t *attempts;           /* earlier attempts, when the execution was run again */
    long unreachable_step;      /* the step whose device could not be reached, or -1 */
    bool stale_epoch;           /* step 1 refused as a device whose placement changes:
                                 * a newer epoch, fenced, or the deployment gone */
    bool fenced;                /* ... as fenced: it may serve again where it is */
} run;

static void fail(run *r, int status, long step, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(run *r, int status, long step, const char *fmt, ...)
{
    if (r->error[0])
        return;     /* the first failure is the one to tell */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
    r->status = status;
    r->failed_step = step;
}

static const json_t *step_at(const run *r, size_t s)
{
    return json_array_get(r->sequence, s);
}

/* "step 2 (grayscale.grayscale) on 'edge-1'", for messages: made only when one is
 * written (it looks the device's name up). Two buffers, for messages naming two steps. */
static const char *label(run *r, size_t s)
{
    const json_t *step = step_at(r, s);
    const char *device = string_member(step, "device");
    char *out = r->labels[r->next_label++ % 2];
    device_view v;
    bool known = device && fleet_device(r->o->fleet, device, &v);
    snprintf(out, sizeof r->labels[0], "step %zu (%s.%s) on '%s'", s + 1,
             string_member(step, "moduleName"), string_member(step, "func"),
             known && v.name ? v.name : device ? device : "?");
    if (known)
        fleet_view_clear(&v);
    return out;
}

static const json_t *endpoint_of(const run *r, size_t s)
{
    const json_t *step = step_at(r, s);
    const json_t *node = json_object_get(json_object_get(r->deployment, "fullManifest"),
                                         string_member(step, "device"));
    const char *alias = string_member(step, "alias");
    return json_object_get(json_object_get(json_object_get(node, "endpoints"),
                                           alias ? alias : string_member(step, "moduleName")),
                           string_member(step, "func"));
}

static const json_t *execution_mounts(const run *r, size_t s)
{
    const json_t *step = step_at(r, s);
    const json_t *node = json_object_get(json_object_get(r->deployment, "fullManifest"),
                                         string_member(step, "device"));
    const char *alias = string_member(step, "alias");
    return json_object_get(
        json_object_get(json_object_get(json_object_get(node, "mounts"),
                                        alias ? alias : string_member(step, "moduleName")),
                        string_member(step, "func")),
        "execution");
}

/* ------------------------------------------------------------ arguments */

/* The arguments: a JSON object body, or the text fields of a form, plus the query. */
static bool read_args(http_request *req, run *r)
{
    r->args = json_object();
    for (size_t i = 0; i < http_request_query_count(req); i++) {
        const char *name, *value;
        if (http_request_query_at(req, i, &name, &value))
            json_object_set_new(r->args, name, json_string(value ? value : ""));
    }
    if (http_request_field_count(req) || http_request_upload_count(req)) {
        for (size_t i = 0; i < http_request_field_count(req); i++) {
            const char *name, *value;
            if (http_request_field_at(req, i, &name, &value))
                json_object_set_new(r->args, name, json_string(value ? value : ""));
        }
        return true;
    }
    size_t size = 0;
    http_request_body(req, &size);
    if (size == 0)
        return true;
    char err[256];
    json_t *body = http_request_json(req, err, sizeof err);
    if (!json_is_object(body)) {
        fail(r, 400, -1, "the arguments must be a JSON object such as {\"param0\": 12}, or "
             "form fields%s%s", body ? "" : ": ", body ? "" : err);
        return false;
    }
    json_object_update(r->args, body);
    return true;
}

/* A JSON value as query text: numbers as written, strings as they are. */
static char *arg_text(const json_t *v)
{
    char buf[64];
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, sizeof buf, "%d", json_is_true(v) ? 1 : 0);
    else
        return NULL;
    return strdup(buf);
}

/* endpoint url + path + ?name=value for each query parameter, in declaration order. */
static char *first_url(run *r, const json_t *endpoint)
{
    const char *base = string_member(endpoint, "url"), *path = string_member(endpoint, "path");
    if (!base || !path) {
        fail(r, 500, 0, "%s: the stored deployment has no endpoint for it: deploy it again",
             label(r, 0));
        return NULL;
    }
    char *url = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&url, &size);
    if (!out)
        return NULL;
    fprintf(out, "%s%s", base, path);
    size_t i, n = 0;
    json_t *p;
    json_array_foreach(json_object_get(json_object_get(endpoint, "request"), "parameters"), i, p) {
        const char *name = string_member(p, "name");
        const char *in = string_member(p, "in");
        if (!name || (in && strcmp(in, "query")))
            continue;
        json_t *value = json_object_get(r->args, name);
        char *text = value ? arg_text(value) : NULL;
        if (!text) {
            const char *type = string_member(json_object_get(p, "schema"), "type");
            fail(r, 400, 0, "missing argument '%s' (%s) for %s: send {\"%s\": ...} as JSON, or "
                 "a form field", name, type ? type : "a value", label(r, 0), name);
            fclose(out);
            free(url);
            return NULL;
        }
        char *escaped = http_url_encode(text);
        fprintf(out, "%c%s=%s", n++ ? '&' : '?', name, escaped ? escaped : "");
        free(escaped);
        free(text);
    }
    fclose(out);
    return url;
}

/* Uploads must be exactly step 0's execution mounts; they are kept as blobs. */
static bool collect_files(http_request *req, run *r, const json_t *mounts)
{
    size_t n = http_request_upload_count(req);
    r->parts = calloc(n + 1, sizeof *r->parts);
    r->input_files = json_object();
    if (!r->parts)
        return false;
    for (size_t i = 0; i < n; i++) {
        const http_upload *u = http_request_upload_at(req, i);
        bool expected = false;
        size_t k;
        json_t *m;
        json_array_foreach(mounts, k, m)
            expected = expected || !strcmp(string_member(m, "path"), u->field);
        if (!expected) {
            fail(r, 400, 0, "unexpected file '%s': %s takes %s", u->field, label(r, 0),
                 json_array_size(mounts) ? "the files named by its execution mounts"
                                         : "no files");
            return false;
        }
        char digest[BLOB_DIGEST_SIZE], err[256];
        if (!blobs_put_file(r->o->blobs, u->path, false, NULL, digest, NULL, err, sizeof err)) {
            fail(r, 507, 0, "cannot keep the file '%s': %s", u->field, err);
            return false;
        }
        json_object_set_new(r->input_files, u->field, json_string(digest));
        r->parts[r->part_count++] = (http_part){.field = u->field, .path = u->path,
                                                .filename = u->field,
                                                .content_type = "application/octet-stream"};
    }
    size_t k;
    json_t *m;
    json_array_foreach(mounts, k, m) {
        const char *path = string_member(m, "path");
        json_t *required = json_object_get(m, "required");
        if (path && !json_is_false(required) && !json_object_get(r->input_files, path)) {
            fail(r, 400, 0, "missing file '%s' for %s: send it as a multipart/form-data part "
                 "named %s", path, label(r, 0), path);
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------- following the chain */

static bool is_url(const char *s)
{
    return s && (!strncmp(s, "http://", 7) || !strncmp(s, "https://", 8));
}

/* Reports an unreachable device to the fleet, which counts it as a failed check. */
static void report_unreachable(run *r, size_t s, const char *why)
{
    const char *device = string_member(step_at(r, s), "device");
    if (device)
        fleet_report_failure(r->o->fleet, device, why);
    if (r->unreachable_step < 0)
        r->unreachable_step = (long)s;
}

/* Waits for a history entry: 200 done, 500 failed; NULL (failure recorded) when the
 * device cannot be reached or the entry never comes. */
/* The same history entry on the device step s has moved to, when a migration moved it
 * since this run read the placement (a call suspended at the source is resumed there
 * under the same request id, and the source may be gone by now: it was drained). NULL
 * when the step is where it was. */
static char *moved_history(run *r, size_t s, const char *url)
{
    const char *tail = strstr(url, "/request-history/");
    json_t *doc = NULL;
    char err[256];
    if (!tail || store_deployment_get(r->o->store, r->deployment_id, &doc, err, sizeof err) !=
                     STORE_OK)
        return NULL;
    const json_t *was = step_at(r, s);
    const json_t *now = json_array_get(json_object_get(doc, "sequence"), s);
    const char *device = string_member(now, "device");
    char *moved = NULL;
    device_view v;
    if (device && strcmp(device, string_member(was, "device")) &&
        fleet_device(r->o->fleet, device, &v)) {
        if (v.url && asprintf(&moved, "%s%s", v.url, tail) < 0)
            moved = NULL;
        fleet_view_clear(&v);
    }
    json_decref(doc);
    return moved;
}

static json_t *fetch_entry(run *r, size_t s, const char *url, double deadline, bool *failed)
{
    long backoff = FIRST_BACKOFF_MS;
    bool followed = false;
    char *waiting = NULL;
    if (asprintf(&waiting, "%s%swait=%d", url, strchr(url, '?') ? "&" : "?", LONG_POLL_MS) < 0)
        return NULL;
    json_t *entry = NULL;
    for (;;) {
        double left = deadline - now_ms();
        if (left <= 0) {
            fail(r, 504, (long)s, "%s: no result within %d s", label(r, s),
                 EXECUTION_TIMEOUT_MS / 1000);
            break;
        }
        http_result res = {0};
        double asked = now_ms();
        if (!http_get(waiting, (long)left + 1000, &res)) {
            char *moved = followed ? NULL : moved_history(r, s, waiting);
            if (moved) {
                /* its device is gone, but the step moved first: ask where it went */
                log_info("execution.history_moved", "deployment=%s execution=%s step=%zu "
                         "url=%s", r->deployment_id, r->id, s, log_quote(moved));
                http_result_free(&res);
                free(waiting);
                waiting = moved;
                followed = true;
                continue;
            }
            fail(r, 502, (long)s, "%s cannot be reached: %s", label(r, s), res.error);
            report_unreachable(r, s, res.error);
            http_result_free(&res);
            break;
        }
        if (res.status == 200 || res.status == 500) {
            entry = http_result_json(&res);
            *failed = res.status == 500;
            http_result_free(&res);
            if (!entry)
                fail(r, 502, (long)s, "%s: its history entry is not JSON", label(r, s));
            break;
        }
        long status = res.status;
        if ((status == 307 || status == 308) && res.location && is_url(res.location)) {
            /* the module moved: its history is answered where it went */
            free(waiting);
            waiting = strdup(res.location);
            http_result_free(&res);
            if (!waiting)
                break;
            continue;
        }
        http_result_free(&res);
        if (status == 503 && !followed) {
            /* a device shutting down (drained) answers 503: its call may have moved */
            char *moved = moved_history(r, s, waiting);
            if (moved) {
                log_info("execution.history_moved", "deployment=%s execution=%s step=%zu "
                         "url=%s", r->deployment_id, r->id, s, log_quote(moved));
                free(waiting);
                waiting = moved;
                followed = true;
                continue;
            }
        }
        if (status != 404) {
            fail(r, 502, (long)s, "%s: its history answered %ld", label(r, s), status);
            break;
        }
        if (now_ms() - asked < LONG_POLL_MS / 2) {
            /* it did not wait for us: a reference supervisor */
            sleep_ms(backoff);
            backoff = backoff * 2 > LAST_BACKOFF_MS ? LAST_BACKOFF_MS : backoff * 2;
        }
    }
    free(waiting);
    return entry;
}

static json_t *step_record(run *r, size_t s, const char *url, const json_t *entry, bool failed)
{
    const json_t *step = step_at(r, s);
    json_t *rec = json_pack("{s:I, s:O?, s:O?, s:O?, s:s, s:O?, s:b}", "step", (json_int_t)s,
                            "device", json_object_get(step, "device"), "module",
                            json_object_get(step, "moduleName"), "function",
                            json_object_get(step, "func"), "resultUrl", url, "requestId",
                            json_object_get(entry, "request_id"), "success", !failed);
    if (!rec)
        return NULL;
    if (json_object_get(entry, "result"))
        json_object_set(rec, failed ? "error" : "result", json_object_get(entry, "result"));
    if (json_array_size(json_object_get(entry, "outputs")))
        json_object_set(rec, "outputs", json_object_get(entry, "outputs"));
    if (json_object_get(entry, "timings"))
        json_object_set(rec, "timings", json_object_get(entry, "timings"));
    return rec;
}

/* The failure of a step that only relayed one from further down: find the step that
 * failed itself, or the one that could not be reached. */
static bool relayed_failure(const json_t *entry)
{
    return json_is_string(json_object_get(entry, "next"));
}

/* Follows the chain from step 0's resultUrl; fills r->steps, r->result. */
static void follow(run *r, const char *first_result_url, const json_t *first_answer)
{
    double deadline = r->started + EXECUTION_TIMEOUT_MS;
    char *url = strdup(first_result_url);
    json_t *first_entry = NULL;
    size_t count = json_array_size(r->sequence);
    for (size_t s = 0; url && s < MAX_FOLLOWED; s++) {
        size_t at = s < count ? s : count - 1;
        bool failed = false;
        json_t *entry = fetch_entry(r, at, url, deadline, &failed);
        if (!entry)
            break;
        json_array_append_new(r->steps, step_record(r, at, url, entry, failed));
        free(r->result_url);
        r->result_url = url;
        url = NULL;
        if (!first_entry)
            first_entry = json_incref(entry);
        const json_t *next = json_object_get(entry, "next");
        const char *own = string_member(entry, "result");
        if (failed && !relayed_failure(entry)) {
            fail(r, 500, (long)at, "%s failed: %s", label(r, at), own ? own : "(no message)");
        } else if (failed) {
            const char *n = json_string_value(next);
            if (strstr(n, "/request-history/")) {
                url = strdup(n);    /* the next step answered: its entry tells more */
            } else {
                size_t t = at + 1 < count ? at + 1 : at;
                fail(r, 502, (long)t, "%s could not be called: %s", label(r, t),
                     own ? own : "(no message)");
                if (own && (strstr(own, "cannot connect") || strstr(own, "no answer from")))
                    report_unreachable(r, t, own);
            }
        } else if (json_is_string(next)) {
            url = strdup(json_string_value(next));
        } else if (!json_object_get(entry, "timings") && is_url(own)) {
            url = strdup(own);      /* a Python reference supervisor's link chain */
        } else if (!r->result) {
            /* the end: the chain's result as the first step gave it, else this step's */
            if (json_object_get(first_answer, "result"))
                r->result = json_incref(json_object_get(first_answer, "result"));
            else if (json_object_get(first_entry, "chainResult"))
                r->result = json_incref(json_object_get(first_entry, "chainResult"));
            else if (json_object_get(entry, "timings")) {
                r->result = json_pack("{s:O?}", "result", json_object_get(entry, "result"));
                if (json_array_size(json_object_get(entry, "outputs")))
                    json_object_set(r->result, "outputs", json_object_get(entry, "outputs"));
            } else {
                r->result = json_incref(json_object_get(entry, "result"));
            }
        }
        json_decref(entry);
        if (r->error[0])
            break;
    }
    if (url && !r->error[0])
        fail(r, 502, (long)count - 1, "the chain's results link on more than %d times",
             MAX_FOLLOWED);
    free(url);
    json_decref(first_entry);
    if (!r->error[0] && !r->result)
        r->result = json_null();
}

/* Calls step 0 and follows the chain. */
static void call_and_follow(run *r, const char *url, const json_t *endpoint)
{
    const char *method = string_member(endpoint, "method");
    bool post = r->part_count || (method && !strcasecmp(method, "post"));
    http_result res = {0};
    bool answered;
    /* the placement's epoch, so a device holding an older copy learns it is stale */
    char epoch[32];
    snprintf(epoch, sizeof epoch, "%" JSON_INTEGER_FORMAT, deployment_epoch(r->deployment));
    http_header headers[] = {{"X-Liquid-Epoch", epoch}};
    char *moved_to = NULL;
    for (int hops = 0;; hops++) {
        const char *target = moved_to ? moved_to : url;
        if (r->part_count)
            answered = http_post_multipart_with_headers(target, headers, moved_to ? 0 : 1,
                                                        r->parts, r->part_count,
                                                        CALL_TIMEOUT_MS, &res);
        else    /* after a redirect without the epoch: the stored one may be older */
            answered = http_request_send(post ? "POST" : "GET", target, headers,
                                         moved_to ? 0 : 1,
                                         post ? "" : NULL, 0, NULL, CALL_TIMEOUT_MS, &res);
        /* the module moved (docs/migration.md): call it where it is now */
        if (!answered || (res.status != 307 && res.status != 308) || !is_url(res.location) ||
            hops >= 3)
            break;
        free(moved_to);
        moved_to = strdup(res.location);
        http_result_free(&res);
        if (!moved_to) {
            answered = false;
            snprintf(res.error, sizeof res.error, "out of memory");
            break;
        }
    }
    free(moved_to);
    if (!answered) {
        fail(r, 502, 0, "%s cannot be reached: %s", label(r, 0), res.error);
        report_unreachable(r, 0, res.error);
        http_result_free(&res);
        return;
    }
    json_t *answer = http_result_json(&res);
    const char *result_url = string_member(answer, "resultUrl");
    const char *refusal = string_member(answer, "errorText");
    /* refusals that say the placement is changing under us: nothing ran */
    if (!result_url && ((res.status == 409 && refusal && strstr(refusal, "stale epoch")) ||
                        (res.status == 503 && refusal && strstr(refusal, "fenced")) ||
                        (res.status == 404 && refusal && strstr(refusal, "does not exist")))) {
        r->stale_epoch = true;
        r->fenced = res.status == 503;
    }
    if (res.status >= 400 && !result_url) {
        const char *why = string_member(answer, "errorText");
        fail(r, res.status >= 500 ? 502 : 400, 0, "%s refused the call (%ld): %s", label(r, 0),
             res.status, why ? why : res.body ? res.body : "(no body)");
    } else if (!result_url) {
        /* no history to follow: the answer is the result */
        r->result = json_incref(json_object_get(answer, "result"));
        if (!r->result)
            fail(r, 502, 0, "%s answered without a resultUrl or result", label(r, 0));
    } else {
        follow(r, result_url, answer);
    }
    json_decref(answer);
    http_result_free(&res);
}

/* ---------------------------------------------------------------- records */

static void record_start(run *r, http_request *req)
{
    char now[32], err[256];
    store_now_iso(now);
    json_t *doc = json_pack("{s:s, s:s, s:O?, s:O, s:O, s:s, s:s, s:s}", "_id", r->id,
                            "deployment", r->deployment_id, "deploymentName",
                            json_object_get(r->deployment, "name"), "input", r->args,
                            "inputFiles", r->input_files, "status", "running", "createdAt", now,
                            "request", http_request_id(req));
    if (store_execution_put(r->o->store, doc, err, sizeof err) != STORE_OK)
        log_warn("execution.record_failed", "execution=%s reason=%s", r->id, log_quote(err));
    json_decref(doc);
}

static void record_end(run *r, double ms)
{
    char now[32], err[256];
    store_now_iso(now);
    bool ok = !r->error[0];
    json_t *changes = json_pack("{s:s, s:O?, s:O, s:s?, s:s, s:f, s:s?}", "status",
                                ok ? "success" : "failed", "result", ok ? r->result : NULL,
                                "steps", r->steps, "error", ok ? NULL : r->error, "finishedAt",
                                now, "durationMs", ms, "resultUrl", r->result_url);
    if (!ok && r->failed_step >= 0)
        json_object_set_new(changes, "failedStep", json_integer(r->failed_step));
    if (json_array_size(r->attempts))
        json_object_set(changes, "attempts", r->attempts);
    if (store_execution_update(r->o->store, r->id, changes, NULL, err, sizeof err) != STORE_OK)
        log_warn("execution.record_failed", "execution=%s reason=%s", r->id, log_quote(err));
    json_decref(changes);
    json_t *data = json_pack("{s:s, s:s, s:f, s:I}", "deployment", r->deployment_id, "execution",
                             r->id, "durationMs", ms, "steps", (json_int_t)json_array_size(r->steps));
    if (!ok) {
        json_object_set_new(data, "error", json_string(r->error));
        if (r->failed_step >= 0)
            json_object_set_new(data, "failedStep", json_integer(r->failed_step));
    }
    events_publish(r->o->events, ok ? "execution.finished" : "execution.failed", r->id, data);
    if (ok)
        log_info("execution.finished", "deployment=%s execution=%s ms=%.1f", r->deployment_id,
                 r->id, ms);
    else
        log_warn("execution.failed", "deployment=%s execution=%s ms=%.1f reason=%s",
                 r->deployment_id, r->id, ms, log_quote(r->error));
}

/* The host of a URL, for the reference's fetched_from_device. */
static json_t *host_of(const char *url)
{
    if (!url)
        return json_null();
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, ":/?");
    return json_stringn(p, n);
}

static void respond(run *r, http_request *req)
{
    if (!r->error[0]) {
        json_t *body = json_pack("{s:O, s:o, s:s?, s:O, s:s, s:O}", "result", r->result,
                                 "fetched_from_device", host_of(r->result_url), "resultUrl",
                                 r->result_url, "isInFailover",
                                 json_is_true(json_object_get(r->deployment, "isInFailover"))
                                     ? json_true() : json_false(),
                                 "executionId", r->id, "steps", r->steps);
        http_respond_json(req, 200, body);
        return;
    }
    const char *id = r->id[0] ? r->id : NULL;
    json_t *body = json_pack("{s:s, s:{s:s, s:s?, s:O?}, s:s?, s:O?}", "errorText", r->error,
                             "error", "message", r->error, "executionId", id, "steps", r->steps,
                             "executionId", id, "steps", r->steps);
    if (r->failed_step >= 0)
        json_object_set_new(body, "failedStep", json_integer(r->failed_step));
    http_respond_json(req, r->status ? r->status : 500, body);
}

/* ------------------------------------------------------------ running again */

/* The device the failed step ran on, when the failure was that it could not be
 * reached (a trap, a refusal or a bad argument is an answer: never run again). */
static const char *unreachable_device(const run *r)
{
    if (r->failed_step < 0 || r->failed_step != r->unreachable_step)
        return NULL;
    return string_member(step_at(r, (size_t)r->failed_step), "device");
}

/* Waits for failover to place the failed step elsewhere (docs/migration.md, "Crash");
 * the deployment as it is then, or NULL when its device stayed (a blip, not a loss),
 * the deployment went, or time ran out. */
static json_t *await_replacement(run *r, const char *device, double deadline)
{
    orchestrator *o = r->o;
    /* a device is lost after lost_after failed checks; past that and a margin, a
     * device still holding the step was not lost */
    double settle = now_ms() + (o->settings.lost_after + 2.0) * o->settings.health_interval_ms +
                    2000;
    if (settle < deadline)
        deadline = settle;
    size_t s = (size_t)r->failed_step;
    json_int_t epoch = deployment_epoch(r->deployment);
    while (now_ms() < deadline) {
        json_t *doc = NULL;
        char err[256];
        if (store_deployment_get(o->store, r->deployment_id, &doc, err, sizeof err) != STORE_OK)
            return NULL;
        const char *now_on = string_member(json_array_get(json_object_get(doc, "sequence"), s),
                                           "device");
        if (deployment_epoch(doc) > epoch && now_on && strcmp(now_on, device) &&
            json_is_true(json_object_get(doc, "active")))
            return doc;
        json_decref(doc);
        sleep_ms(50);
    }
    return NULL;
}

/* Keeps what the failed attempt did and makes r ready to run on `doc`. */
static void start_again(run *r, json_t *doc, const char *device)
{
    json_t *attempt = json_pack("{s:I, s:s, s:I, s:s, s:O, s:I}", "attempt",
                                (json_int_t)json_array_size(r->attempts) + 1, "error", r->error,
                                "failedStep", (json_int_t)r->failed_step, "device", device,
                                "steps", r->steps, "epoch", deployment_epoch(r->deployment));
    json_array_append_new(r->attempts, attempt);
    migration_count_retry(r->o->placement);
    log_info("execution.retried", "deployment=%s execution=%s step=%ld device=%s reason=%s",
             r->deployment_id, r->id, r->failed_step, device, log_quote(r->error));
    events_publish(r->o->events, "execution.retried", r->id,
                   json_pack("{s:s, s:s, s:I, s:s, s:s, s:I}", "deployment", r->deployment_id,
                             "execution", r->id, "failedStep", (json_int_t)r->failed_step,
                             "device", device, "reason", r->error, "epoch",
                             deployment_epoch(doc)));
    json_decref(r->deployment);
    r->deployment = doc;
    r->deployment_id = string_member(doc, "_id");
    r->sequence = json_object_get(doc, "sequence");
    json_decref(r->steps);
    r->steps = json_array();
    json_decref(r->result);
    r->result = NULL;
    free(r->result_url);
    r->result_url = NULL;
    r->error[0] = '\0';
    r->status = 0;
    r->failed_step = -1;
    r->unreachable_step = -1;
}

/* Step 1 refused the call as a device whose placement is changing: it holds a newer
 * epoch than the document this run read (a migration's target gets its node before
 * the migration is recorded), it is fenced (cut off from the orchestrator, about to
 * be replaced), or it no longer has the deployment. Nothing ran. The call goes again
 * once a newer placement is stored — never into the same device without the epoch: a
 * target that already runs a step of the chain holds the new routes before the moved
 * state has arrived. A device that is replaced shows within the failover bound of
 * await_replacement; a migration may take longer (STALE_WAIT_MS). */
#define STALE_WAIT_MS 30000

static void retry_if_stale(run *r)
{
    double settle = (r->o->settings.lost_after + 2.0) * r->o->settings.health_interval_ms + 2000;
    double deadline = now_ms() + (settle > STALE_WAIT_MS ? settle : STALE_WAIT_MS);
    if (deadline > r->started + EXECUTION_TIMEOUT_MS)
        deadline = r->started + EXECUTION_TIMEOUT_MS;
    for (int tries = 0; tries < 5 && r->stale_epoch && r->error[0]; tries++) {
        json_int_t had = deployment_epoch(r->deployment);
        double fenced_retry = now_ms() + 1.5 * r->o->settings.health_interval_ms;
        json_t *doc = NULL;
        char err[256];
        for (;;) {
            if (store_deployment_get(r->o->store, r->deployment_id, &doc, err, sizeof err) !=
                STORE_OK)
                return;
            /* A fenced device that is still the placement (it came back, or had one
             * probe too few) serves again after its next probes: call it again then. */
            if (deployment_epoch(doc) > had || (r->fenced && now_ms() >= fenced_retry))
                break;
            json_decref(doc);
            doc = NULL;
            if (now_ms() >= deadline)
                return;     /* the refusal stands */
            sleep_ms(20);
        }
        log_info("execution.reread", "deployment=%s execution=%s epoch=%" JSON_INTEGER_FORMAT
                 " reason=%s", r->deployment_id, r->id, deployment_epoch(doc),
                 log_quote(r->error));
        json_decref(r->deployment);
        r->deployment = doc;
        r->deployment_id = string_member(doc, "_id");
        r->sequence = json_object_get(doc, "sequence");
        json_array_clear(r->steps);
        r->error[0] = '\0';
        r->status = 0;
        r->failed_step = -1;
        r->stale_epoch = false;
        r->fenced = false;
        const json_t *endpoint = endpoint_of(r, 0);
        char *url = first_url(r, endpoint);
        if (url)
            call_and_follow(r, url, endpoint);
        free(url);
    }
}

/* An execution whose step's device died under it runs once more, from its stored
 * input, on the placement failover made (bounded by the execution's deadline). */
static void retry_if_lost(run *r)
{
    char device[32];
    const char *d = unreachable_device(r);
    if (!d)
        return;
    snprintf(device, sizeof device, "%s", d);
    json_t *doc = await_replacement(r, device, r->started + EXECUTION_TIMEOUT_MS);
    if (!doc)
        return;
    start_again(r, doc, device);
    const json_t *endpoint = endpoint_of(r, 0);
    char *url = first_url(r, endpoint);
    if (url)
        call_and_follow(r, url, endpoint);
    free(url);
}

void executor_execute(orchestrator *o, http_request *req, const char *ref)
{
    run r = {.o = o, .failed_step = -1, .started = now_ms(), .attempts = json_array(),
             .unreachable_step = -1};
    char err[512];
    store_result sr = store_deployment_get(o->store, ref, &r.deployment, err, sizeof err);
    if (sr != STORE_OK) {
        http_respond_error(req, sr == STORE_NOT_FOUND ? 404 : 500,
                           sr == STORE_NOT_FOUND ? "no deployment '%s' (by id or name): POST "
                                                   "/file/manifest creates one"
                                                 : "%s",
                           sr == STORE_NOT_FOUND ? ref : err);
        return;
    }
    r.deployment_id = string_member(r.deployment, "_id");
    r.sequence = json_object_get(r.deployment, "sequence");
    r.steps = json_array();
    if (!json_is_true(json_object_get(r.deployment, "active"))) {
        http_respond_error(req, 409, "deployment '%s' is not deployed: deploy it first with "
                           "POST /file/manifest/%s", string_member(r.deployment, "name"),
                           r.deployment_id);
        json_decref(r.deployment);
        json_decref(r.steps);
        return;
    }
    const json_t *endpoint = endpoint_of(&r, 0);
    char *url = NULL;
    bool ready = read_args(req, &r) && collect_files(req, &r, execution_mounts(&r, 0)) &&
                 (url = first_url(&r, endpoint)) != NULL;
    if (!ready && !r.error[0])
        fail(&r, 500, -1, "out of memory");
    if (ready) {
        ids_new_object_id(r.id);
        record_start(&r, req);
        call_and_follow(&r, url, endpoint);
        retry_if_stale(&r);
        if (r.error[0])
            retry_if_lost(&r);
        record_end(&r, now_ms() - r.started);
    }
    respond(&r, req);
    free(url);
    free(r.parts);
    free(r.result_url);
    json_decref(r.args);
    json_decref(r.input_files);
    json_decref(r.steps);
    json_decref(r.result);
    json_decref(r.deployment);
    json_decref(r.attempts);
}

/* ------------------------------------------------------------ listing */

void executor_list(orchestrator *o, http_request *req)
{
    const char *deployment = http_request_query(req, "deployment");
    const char *limit_text = http_request_query(req, "limit");
    long limit = limit_text ? strtol(limit_text, NULL, 10) : 100;
    if (limit < 0)
        limit = 100;
    char err[512];
    json_t *ref = NULL;
    const char *deployment_id = NULL;
    if (deployment) {
        store_result sr = store_deployment_get(o->store, deployment, &ref, err, sizeof err);
        if (sr != STORE_OK) {
            http_respond_error(req, sr == STORE_NOT_FOUND ? 404 : 500, "%s", err);
            return;
        }
        deployment_id = string_member(ref, "_id");
    }
    json_t *list = NULL;
    store_result sr = store_execution_list(o->store, deployment_id, (size_t)limit, &list, err,
                                           sizeof err);
    json_decref(ref);
    if (sr != STORE_OK) {
        http_respond_error(req, 500, "%s", err);
        return;
    }
    http_respond_json(req, 200, list);
}

void executor_get(orchestrator *o, http_request *req, const char *id)
{
    json_t *doc = NULL;
    char err[512];
    store_result sr = store_execution_get(o->store, id, &doc, err, sizeof err);
    if (sr == STORE_NOT_FOUND) {
        http_respond_error(req, 404, "no execution '%s': GET /execute lists them", id);
        return;
    }
    if (sr != STORE_OK) {
        http_respond_error(req, 500, "%s", err);
        return;
    }
    http_respond_json(req, 200, doc);
}
