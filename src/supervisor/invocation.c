/*
 * invocation.c — one call of a deployed function (wasmiot-api.md §2.6, §2.9, §2.10):
 *
 *   prepare   find the function, check the uploaded files against the execution
 *             mounts and move them to the spool, convert the query arguments — all
 *             before answering, so a bad request gets its 4xx and nothing runs;
 *   run       in the module's runtime, under its lock: place the inputs in the
 *             sandbox, call the export, take the result as the endpoint describes it,
 *             copy output files aside for the next step;
 *   chain     hand the result to the next step and follow it to the final result;
 *   record    one history entry, success or failure, with timings.
 *
 * A GET runs on the HTTP worker and answers {resultUrl, result}; a POST answers
 * {resultUrl} at once and runs on the executor (history says 404 until it is done).
 */
#define _GNU_SOURCE
#include "supervisor/supervisor.h"

#include "base/fs.h"
#include "base/http_client.h"
#include "base/ids.h"
#include "supervisor/call_args.h"
#include "supervisor/chain.h"
#include "supervisor/departures.h"
#include "supervisor/device.h"
#include "supervisor/files.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_PARAMS 64

typedef struct staged_file {
    const char *mount;          /* points into the manifest */
    char *spool_path;           /* where it waits until the call runs */
    char *sandbox_path;         /* where the module finds it */
} staged_file;

typedef struct invocation {
    supervisor *sv;
    deployment *dep;
    module_runtime *rt;
    const manifest_module *module;
    const manifest_function *function;
    char id[IDS_OBJECT_ID_SIZE];
    const char *method;         /* "GET" or "POST" */
    char *base_url;
    wasm_value *args;           /* param_count of them */
    uint32_t arg_count;
    json_t *request_args;
    staged_file *files;
    size_t file_count;
    char *spool_dir;            /* <spool>/<request id>, created on demand */
    /* times: wall clock for the record, monotonic for durations */
    struct timespec queued_wall;
    double queued, started, ran, finished;
    /* outcome */
    bool success;
    int status;                 /* HTTP status for a synchronous answer */
    char *error;                /* when !success */
    json_t *own_result;
    json_t *outputs;            /* URLs of output files */
    chain_file *chain_files;
    size_t chain_file_count;
    chain_outcome *chain;       /* when the function has a next step */
    bool chained;
    /* migration (docs/migration.md) */
    bool resuming;              /* a call carried here from another device: resume it */
    json_t *adopted;            /* the module moved: the target's history entry is ours */
} invocation;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static json_t *rfc3339(const struct timespec *ts)
{
    struct tm tm;
    gmtime_r(&ts->tv_sec, &tm);
    char buf[96];
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             ts->tv_nsec / 1000000L);
    return json_string(buf);
}

static void fail(invocation *inv, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(invocation *inv, int status, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    char *message;
    if (vasprintf(&message, fmt, args) < 0)
        message = NULL;
    va_end(args);
    free(inv->error);
    inv->error = message ? message : strdup("out of memory");
    inv->status = status;
    inv->success = false;
}

static const char *error_text(const invocation *inv)
{
    return inv->error ? inv->error : "the call failed";
}

static void invocation_free(invocation *inv)
{
    for (size_t i = 0; i < inv->file_count; i++) {
        if (inv->files[i].spool_path)
            unlink(inv->files[i].spool_path);
        free(inv->files[i].spool_path);
        free(inv->files[i].sandbox_path);
    }
    for (size_t i = 0; i < inv->chain_file_count; i++) {
        unlink(inv->chain_files[i].path);
        free((char *)inv->chain_files[i].path);
    }
    if (inv->spool_dir)
        rmdir(inv->spool_dir);
    free(inv->chain_files);
    free(inv->files);
    free(inv->spool_dir);
    free(inv->base_url);
    json_decref(inv->request_args);
    json_decref(inv->own_result);
    json_decref(inv->outputs);
    if (inv->chain) {
        chain_outcome_free(inv->chain);
        free(inv->chain);
    }
    free(inv->args);
    free(inv->error);
    json_decref(inv->adopted);
    deployment_release(inv->dep);
    free(inv);
}

static char *result_url(const invocation *inv)
{
    char *url;
    return asprintf(&url, "%s/request-history/%s", inv->base_url, inv->id) < 0 ? NULL : url;
}

/* ------------------------------------------------------------- prepare */

static bool ensure_spool_dir(invocation *inv, char *err, size_t err_size)
{
    if (inv->spool_dir)
        return true;
    inv->spool_dir = files_join(inv->sv->spool_dir, inv->id, NULL);
    if (!inv->spool_dir) {
        snprintf(err, err_size, "out of memory");
        return false;
    }
    if (mkdir(inv->spool_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, err_size, "cannot keep the request's files in %s: %s", inv->spool_dir,
                 strerror(errno));
        free(inv->spool_dir);
        inv->spool_dir = NULL;
        return false;
    }
    return true;
}

static const manifest_mount *execution_mount(const manifest_function *f, const char *name)
{
    for (size_t i = 0; i < f->execution.count; i++)
        if (!strcmp(f->execution.items[i].path, name))
            return &f->execution.items[i];
    return NULL;
}

static staged_file *staged(invocation *inv, const char *mount)
{
    for (size_t i = 0; i < inv->file_count; i++)
        if (!strcmp(inv->files[i].mount, mount))
            return &inv->files[i];
    return NULL;
}

static void list_mounts(const manifest_function *f, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < f->execution.count && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%s", i ? ", " : "",
                                 f->execution.items[i].path);
    if (!f->execution.count)
        snprintf(out, size, "none");
}

/* One uploaded file (or text field) for an execution mount, moved to the spool.
 * Returns the HTTP status: 400 for what the client sent, 500 for a local failure. */
static int stage_one(invocation *inv, const char *field, const char *upload_path,
                     const char *text, char *err, size_t err_size)
{
    const manifest_mount *mount = execution_mount(inv->function, field);
    if (!mount) {
        char mounts[512];
        list_mounts(inv->function, mounts, sizeof mounts);
        if (upload_path)
            snprintf(err, err_size, "%s: unexpected input file: %s takes the files: %s",
                     field, inv->function->name, mounts);
        else
            snprintf(err, err_size, "%s: unexpected form field: send arguments in the query "
                     "string (?%s=...) and files as parts named after %s's mounts: %s",
                     field, field, inv->function->name, mounts);
        return 400;
    }
    if (staged(inv, field)) {
        snprintf(err, err_size, "%s: sent twice", field);
        return 400;
    }
    if (!ensure_spool_dir(inv, err, err_size))
        return 500;
    staged_file *f = &inv->files[inv->file_count];
    f->mount = mount->path;
    f->spool_path = files_join(inv->spool_dir, mount->path, NULL);
    f->sandbox_path = files_join(module_runtime_sandbox(inv->rt), mount->path, NULL);
    if (!f->spool_path || !f->sandbox_path) {
        snprintf(err, err_size, "out of memory");
        return 500;
    }
    inv->file_count++;
    bool ok = upload_path ? files_move(upload_path, f->spool_path, err, err_size)
                          : fs_write_atomic(f->spool_path, text, strlen(text), 0644, err, err_size);
    return ok ? 200 : (errno == ENOSPC ? 507 : 500);
}

static int stage_files(invocation *inv, http_request *req, char *err, size_t err_size)
{
    size_t uploads = http_request_upload_count(req), fields = http_request_field_count(req);
    inv->files = calloc(uploads + fields + 1, sizeof *inv->files);
    if (!inv->files) {
        snprintf(err, err_size, "out of memory");
        return 500;
    }
    int status = 200;
    for (size_t i = 0; i < uploads && status == 200; i++) {
        const http_upload *u = http_request_upload_at(req, i);
        status = stage_one(inv, u->field, u->path, NULL, err, err_size);
    }
    for (size_t i = 0; i < fields && status == 200; i++) {
        const char *name, *value;
        if (http_request_field_at(req, i, &name, &value))
            status = stage_one(inv, name, NULL, value, err, err_size);
    }
    for (size_t i = 0; i < inv->function->execution.count && status == 200; i++) {
        const manifest_mount *m = &inv->function->execution.items[i];
        if (m->required && !staged(inv, m->path)) {
            snprintf(err, err_size, "%s: missing input file: send it as a multipart/form-data "
                     "part named '%s'", m->path, m->path);
            status = 400;
        }
    }
    return status;
}

static int convert_args(invocation *inv, http_request *req, char *err, size_t err_size)
{
    wasm_functype_view type;
    if (!module_runtime_export_type(inv->rt, inv->function->name, &type)) {
        snprintf(err, err_size, "module %s has no exported function %s", inv->module->name,
                 inv->function->name);
        return 404;
    }
    size_t count = http_request_query_count(req);
    call_arg args[MAX_PARAMS];
    if (type.param_count > MAX_PARAMS || count > MAX_PARAMS) {
        snprintf(err, err_size, "too many parameters (at most %d)", MAX_PARAMS);
        return 400;
    }
    inv->request_args = json_object();
    for (size_t i = 0; i < count; i++) {
        http_request_query_at(req, i, &args[i].name, &args[i].value);
        json_object_set_new(inv->request_args, args[i].name, json_string(args[i].value));
    }
    inv->args = calloc(type.param_count ? type.param_count : 1, sizeof *inv->args);
    if (!inv->args) {
        snprintf(err, err_size, "out of memory");
        return 500;
    }
    if (!call_args_convert(inv->function->name, type, inv->function->endpoint, args, count,
                           inv->args, err, err_size))
        return 400;
    inv->arg_count = type.param_count;
    return 200;
}

/* How long a call carrying a newer epoch waits for this device to be told of it. */
#define EPOCH_CATCH_UP_MS 2000

static int find_function(invocation *inv, http_request *req, char *err, size_t err_size);

/* A call carrying a newer epoch than this copy's: the orchestrator may be telling every
 * device of the deployment about the new epoch right now, and an upstream device told
 * first calls here before this one is told. Wait a moment for the news (a routes update
 * or a new node) and serve if it comes; if it does not, this copy was replaced while it
 * could not hear of it: 0. */
static int wait_for_epoch(invocation *inv, http_request *req, unsigned long long carried,
                          char *err, size_t err_size)
{
    for (int waited = 0; waited < EPOCH_CATCH_UP_MS; waited += 10) {
        struct timespec pause = {0, 10 * 1000000L};
        nanosleep(&pause, NULL);
        deployment_release(inv->dep);
        inv->dep = NULL;
        int status = find_function(inv, req, err, err_size);
        if (status != 200)
            return status;
        if (inv->dep->manifest->epoch >= carried)
            return 200;
    }
    return 0;
}

/* X-Liquid-Epoch (docs/migration.md): an older epoch than this copy's is refused; a
 * newer one that this device is not told of within EPOCH_CATCH_UP_MS means this copy
 * was replaced while it could not hear of it, so it is dropped and never serves again. */
static int check_epoch(invocation *inv, http_request *req, char *err, size_t err_size)
{
    const char *text = http_request_header(req, "X-Liquid-Epoch");
    if (!text)
        return 200;
    char *end;
    unsigned long long carried = strtoull(text, &end, 10);
    if (end == text || *end) {
        snprintf(err, err_size, "X-Liquid-Epoch: '%s' is not an epoch (a non-negative "
                 "integer)", text);
        return 400;
    }
    unsigned long long held = inv->dep->manifest->epoch;
    if (carried > held) {
        int status = wait_for_epoch(inv, req, carried, err, err_size);
        if (status != 0 && status != 200)
            return status;
        if (status == 200)
            held = inv->dep->manifest->epoch;
    }
    if (carried == held)
        return 200;
    snprintf(err, err_size, "stale epoch: this device holds epoch %llu, the request carries "
             "%llu", held, carried);
    if (carried > held) {
        departures_stale(inv->sv->departures, inv->dep->id, held, carried);
        deployment_store_remove(inv->sv->deployments, inv->dep->id);
        log_warn("deployment.stale", "deployment=%s held=%llu seen=%llu action=dropped",
                 inv->dep->id, held, carried);
    }
    return 409;
}

/* Finds deployment, module and function. 404 names what is missing. */
static int find_function(invocation *inv, http_request *req, char *err, size_t err_size)
{
    const char *dep_id = http_request_param(req, "deployment");
    const char *module = http_request_param(req, "module");
    const char *function = http_request_param(req, "function");
    inv->dep = deployment_store_get(inv->sv->deployments, dep_id);
    if (!inv->dep) {
        snprintf(err, err_size, "deployment %s does not exist on this device", dep_id);
        return 404;
    }
    inv->rt = deployment_module(inv->dep, module, &inv->module);
    if (!inv->rt) {
        snprintf(err, err_size, "deployment %s has no module %s", dep_id, module);
        return 404;
    }
    inv->function = manifest_find_function(inv->module, function);
    if (!inv->function || !inv->function->endpoint) {
        snprintf(err, err_size, "module %s of deployment %s has no endpoint %s", module, dep_id,
                 function);
        return 404;
    }
    return 200;
}

/* ------------------------------------------------------------------ run */

/* Places staged inputs in the sandbox (under the module lock). */
static bool place_inputs(invocation *inv)
{
    char err[600];
    for (size_t i = 0; i < inv->file_count; i++) {
        staged_file *f = &inv->files[i];
        if (!files_move(f->spool_path, f->sandbox_path, err, sizeof err)) {
            fail(inv, 500, "cannot place input file %s for the module: %s", f->mount, err);
            return false;
        }
        free(f->spool_path);
        f->spool_path = NULL;
    }
    return true;
}

/* The output files the endpoint promises: they must exist; copies go to the spool
 * for the next step, so a later call cannot change them under the transfer. */
static bool take_outputs(invocation *inv)
{
    const manifest_mount_list *out = &inv->function->output;
    const char *sandbox = module_runtime_sandbox(inv->rt);
    inv->outputs = json_array();
    /* files go to the next step only when they are the result */
    bool forward = inv->function->next && inv->function->endpoint->response_is_file;
    if (forward && out->count) {
        char err[600];
        inv->chain_files = calloc(out->count, sizeof *inv->chain_files);
        if (!inv->chain_files || !ensure_spool_dir(inv, err, sizeof err)) {
            fail(inv, 500, "cannot keep output files for the next step: %s", err);
            return false;
        }
    }
    for (size_t i = 0; i < out->count; i++) {
        const char *name = out->items[i].path;
        int fd = files_open_regular(sandbox, name);
        if (fd < 0) {
            if (!out->items[i].required)
                continue;
            fail(inv, 500, "%s.%s returned without writing its output file %s",
                 inv->module->name, inv->function->name, name);
            return false;
        }
        close(fd);
        char *url;
        if (asprintf(&url, "%s/module_results/%s/%s/%s", inv->base_url, inv->dep->id,
                     inv->module->name, name) >= 0) {
            json_array_append_new(inv->outputs, json_string(url));
            free(url);
        }
        if (!forward)
            continue;
        char err[600];
        char *from = files_join(sandbox, name, NULL);
        char *to = files_join(inv->spool_dir, name, NULL);
        bool copied = from && to && fs_copy_file(from, to, err, sizeof err);
        free(from);
        if (!copied) {
            free(to);
            fail(inv, 500, "cannot keep output file %s for the next step: %s", name, err);
            return false;
        }
        inv->chain_files[inv->chain_file_count++] = (chain_file){.mount = name, .path = to};
    }
    return true;
}

/* The endpoint's response description decides what the result is. */
static void take_result(invocation *inv, const module_call_outcome *call)
{
    if (inv->function->endpoint->response_is_file) {
        inv->own_result = json_null();     /* the file is the result: see outputs */
        return;
    }
    if (!call->has_value) {
        inv->own_result = json_null();
        return;
    }
    char text[64];
    call_value_format(&call->value, text, sizeof text);
    inv->own_result = json_string(text);   /* "233": a string, as the references answer */
}

/* ------------------------------------------------------------- moved */

#define MOVED_POLL_MS 10000

/* The module moved and the target ran this call: its history entry becomes ours,
 * under this call's id, so pollers of our resultUrl and a waiting GET see it. */
static void adopt_entry(invocation *inv, json_t *entry)
{
    json_t *copy = json_deep_copy(entry);
    json_object_set_new(copy, "request_id", json_string(inv->id));
    inv->adopted = copy;
    inv->success = json_is_true(json_object_get(copy, "success"));
    if (!inv->success)
        fail(inv, 500, "%s", json_string_value(json_object_get(copy, "result"))
                                 ? json_string_value(json_object_get(copy, "result"))
                                 : "the call failed on the device it moved to");
}

/* Waits on a history entry of the device the module moved to (its ?wait= holds the
 * answer until the entry is there); NULL if none arrived by the deadline. */
static json_t *poll_entry(const char *entry_url, double deadline)
{
    while (now_ms() < deadline) {
        char *url;
        if (asprintf(&url, "%s%swait=%d", entry_url, strchr(entry_url, '?') ? "&" : "?",
                     MOVED_POLL_MS) < 0)
            return NULL;
        http_result r = {0};
        bool answered = http_get(url, MOVED_POLL_MS + 5000, &r);
        free(url);
        json_t *entry = answered && r.status != 404 ? http_result_json(&r) : NULL;
        http_result_free(&r);
        if (entry)
            return entry;
        if (!answered) {
            struct timespec pause = {0, 100 * 1000000L};
            nanosleep(&pause, NULL);
        }
    }
    return NULL;
}

/* Waits on the target's history for the entry of the call that moved mid-way. */
static void await_moved(invocation *inv, const char *target)
{
    double deadline = now_ms() + (double)inv->sv->config->chain_timeout_ms;
    char *url;
    json_t *entry = NULL;
    if (asprintf(&url, "%s/request-history/%s", target, inv->id) >= 0) {
        entry = poll_entry(url, deadline);
        free(url);
    }
    if (entry) {
        adopt_entry(inv, entry);
        json_decref(entry);
        return;
    }
    fail(inv, 504, "%s.%s moved to %s mid-call, and its result did not arrive from there in "
         "time; ask %s/request-history/%s", inv->module->name, inv->function->name, target,
         target, inv->id);
}

/* The call's URL on the device its module moved to, with its query arguments. No
 * X-Liquid-Epoch goes with it: the target holds the newer epoch, ours would be refused. */
static char *moved_call_url(const invocation *inv, const char *target, const char *target_module)
{
    char *url;
    if (asprintf(&url, "%s/%s/modules/%s/%s", target, inv->dep->id, target_module,
                 inv->function->name) < 0)
        return NULL;
    const char *key;
    json_t *value;
    char sep = '?';
    json_object_foreach(inv->request_args, key, value) {
        char *k = http_url_encode(key), *v = http_url_encode(json_string_value(value));
        char *longer = NULL;
        if (k && v && asprintf(&longer, "%s%c%s=%s", url, sep, k, v) >= 0) {
            free(url);
            url = longer;
        }
        free(k);
        free(v);
        sep = '&';
    }
    return url;
}

/* Sends the call's staged input files there as a multipart POST, as the caller sent
 * them here; the target answers with a resultUrl whose entry is then awaited. */
static bool post_moved_files(invocation *inv, const char *url, long timeout_ms, http_result *r)
{
    http_part *parts = calloc(inv->file_count, sizeof *parts);
    if (!parts) {
        snprintf(r->error, sizeof r->error, "out of memory");
        return false;
    }
    for (size_t i = 0; i < inv->file_count; i++) {
        const manifest_mount *m = execution_mount(inv->function, inv->files[i].mount);
        parts[i] = (http_part){.field = inv->files[i].mount, .path = inv->files[i].spool_path,
                               .filename = inv->files[i].mount,
                               .content_type = m && m->media_type ? m->media_type
                                                                  : "application/octet-stream"};
    }
    bool answered = http_post_multipart(url, parts, inv->file_count, timeout_ms, r);
    free(parts);
    return answered;
}

/* A call admitted before its module moved, run where the module is now; its entry
 * there becomes ours, so the caller (or a poller of our resultUrl) gets the result. */
static void proxy_moved(invocation *inv, const char *target, const char *target_module)
{
    double deadline = now_ms() + (double)inv->sv->config->chain_timeout_ms;
    char *url = moved_call_url(inv, target, target_module);
    if (!url) {
        fail(inv, 500, "out of memory");
        return;
    }
    long timeout_ms = (long)inv->sv->config->chain_timeout_ms;
    http_result r = {0};
    bool answered = inv->file_count ? post_moved_files(inv, url, timeout_ms, &r)
                                    : http_get(url, timeout_ms, &r);
    json_t *body = answered ? http_result_json(&r) : NULL;   /* a failure has one too */
    const char *their_url = json_string_value(json_object_get(body, "resultUrl"));
    json_t *their_entry = their_url ? poll_entry(their_url, deadline) : NULL;
    if (their_entry)
        adopt_entry(inv, their_entry);
    else if (!answered)
        fail(inv, 502, "module %s moved to %s, which cannot be reached: %s", inv->module->name,
             target, r.error);
    else if (their_url)
        fail(inv, 504, "module %s moved to %s, which took this call, and its result did not "
             "arrive from there in time; ask %s", inv->module->name, target, their_url);
    else
        fail(inv, r.status >= 400 ? (int)r.status : 502, "module %s moved to %s, which "
             "answered HTTP %ld: %.300s", inv->module->name, target, r.status,
             r.body ? r.body : "");
    log_info("call.forwarded", "deployment=%s module=%s request=%s target=%s files=%zu "
             "success=%s", inv->dep->id, inv->module->name, inv->id, log_quote(target),
             inv->file_count, inv->success ? "true" : "false");
    json_decref(their_entry);
    json_decref(body);
    http_result_free(&r);
    free(url);
}

/* What a suspended call is, for the target to resume it under the same id. */
static json_t *carried_call(invocation *inv)
{
    json_t *instructions = json_object_get(json_object_get(json_object_get(json_object_get(
        inv->dep->manifest->json, "instructions"), "modules"), inv->module->name),
        inv->function->name);
    char *url = result_url(inv);
    json_t *call = json_pack("{s:s, s:s, s:s, s:O, s:s?, s:O?}", "requestId", inv->id,
                             "function", inv->function->name, "method", inv->method, "args",
                             inv->request_args ? inv->request_args : json_object(), "resultUrl",
                             url, "instructions", instructions);
    free(url);
    return call;
}

/* ------------------------------------------------------------------ run */

static void run_module(invocation *inv)
{
    module_call_outcome call;
    runtime_phase phase;
    if (inv->resuming) {
        module_runtime_lock(inv->rt);   /* the runtime waits for this call alone */
        phase = RUNTIME_SERVING;
    } else {
        phase = module_runtime_enter(inv->rt);
    }
    if (phase == RUNTIME_MOVED) {
        char *as, *target = module_runtime_moved_to(inv->rt, &as);
        module_runtime_unlock(inv->rt);
        proxy_moved(inv, target ? target : "(unknown)", as ? as : inv->module->name);
        free(target);
        free(as);
        return;
    }
    inv->started = now_ms();
    bool ok = place_inputs(inv);
    if (ok) {
        if (inv->resuming)
            module_runtime_resume_call(inv->rt, inv->function->name, &call);
        else
            module_runtime_call(inv->rt, inv->function->name, inv->args, inv->arg_count, &call);
        while (call.suspended) {
            phase = module_runtime_park(inv->rt, carried_call(inv));
            if (phase == RUNTIME_MOVED) {
                char *as, *target = module_runtime_moved_to(inv->rt, &as);
                free(as);
                module_runtime_unlock(inv->rt);
                log_info("call.moved", "deployment=%s module=%s request=%s target=%s",
                         inv->dep->id, inv->module->name, inv->id, log_quote(target));
                await_moved(inv, target ? target : "(unknown)");
                free(target);
                inv->ran = now_ms();
                return;
            }
            module_runtime_resume_call(inv->rt, inv->function->name, &call);
        }
        inv->ran = now_ms();
        if (!call.ok)
            fail(inv, 500, "%s", call.error);
        ok = call.ok && take_outputs(inv);
        if (ok)
            take_result(inv, &call);
    }
    module_runtime_unlock(inv->rt);
    if (!inv->ran)
        inv->ran = now_ms();
    inv->success = ok;
}

/* Points every endpoint of the moved module at its new base, in one member of the
 * manifest (endpoints, or instructions.modules). */
static void repoint(json_t *section, const char *old_url, const char *prefix, const char *base,
                    bool under_to)
{
    const char *module, *function;
    json_t *functions, *value;
    json_object_foreach(section, module, functions) {
        json_object_foreach(functions, function, value) {
            json_t *ep = under_to ? json_object_get(value, "to") : value;
            const char *url = json_string_value(json_object_get(ep, "url"));
            const char *path = json_string_value(json_object_get(ep, "path"));
            if (url && path && !strcmp(url, old_url) && !strncmp(path, prefix, strlen(prefix)))
                json_object_set_new(ep, "url", json_string(base));
        }
    }
}

/* The next step answered from its new place: keep the route, as if the orchestrator
 * had sent it with PUT /deploy/{id}/routes (the orchestrator sends its own later). */
static void keep_route(invocation *inv, const manifest_endpoint *next, const char *base)
{
    char module[256] = "";
    char prefix[300];
    if (sscanf(next->path, "/%*[^/]/modules/%255[^/]/", module) != 1)
        return;
    snprintf(prefix, sizeof prefix, "/%s/modules/%s/", inv->dep->id, module);
    const json_t *json = inv->dep->manifest->json;
    json_t *routes = json_pack("{s:O, s:O}", "endpoints",
                               json_object_get(json, "endpoints") ?: json_object(),
                               "instructions",
                               json_object_get(json, "instructions") ?: json_object());
    json_t *copy = routes ? json_deep_copy(routes) : NULL;
    json_decref(routes);
    if (!copy)
        return;
    repoint(json_object_get(copy, "endpoints"), next->url, prefix, base, false);
    repoint(json_object_get(json_object_get(copy, "instructions"), "modules"), next->url,
            prefix, base, true);
    char err[600];
    int status = deployment_store_update_routes(inv->sv->deployments, inv->dep->id, copy, err,
                                                sizeof err);
    if (status == 200)
        log_info("route.changed", "deployment=%s module=%s request=%s to=%s", inv->dep->id,
                 module, inv->id, log_quote(base));
    else
        log_warn("route.not_kept", "deployment=%s module=%s request=%s reason=%s",
                 inv->dep->id, module, inv->id, log_quote(err));
    json_decref(copy);
}

static void run_chain(invocation *inv)
{
    const manifest_endpoint *next = inv->function->next;
    if (!next) {
        return;
    }
    const char *primitive = json_string_value(inv->own_result);
    inv->chain = calloc(1, sizeof *inv->chain);
    if (!inv->chain) {
        fail(inv, 500, "out of memory");
        return;
    }
    char *orchestrator = device_orchestrator_url(inv->sv->device);
    chain_context ctx = {.request_id = inv->id, .deployment = inv->dep->id,
                         .epoch = inv->dep->manifest->epoch, .orchestrator_url = orchestrator};
    chain_forward(next, primitive, inv->chain_files, inv->chain_file_count,
                  (long)inv->sv->config->chain_timeout_ms, &ctx, inv->chain);
    free(orchestrator);
    if (inv->chain->new_base)
        keep_route(inv, next, inv->chain->new_base);
    inv->chained = true;
    if (!inv->chain->ok)
        fail(inv, 502, "%s", inv->chain->error);
}

/* {"result": own} at the end of a pipeline (the Rust reference's shape), the next
 * step's final result otherwise. */
static json_t *final_result(invocation *inv)
{
    if (inv->adopted)
        return chain_result_of_entry(inv->adopted);
    if (inv->chained)
        return json_incref(inv->chain->final_result);
    json_t *final = json_pack("{s:O}", "result", inv->own_result);
    if (json_array_size(inv->outputs))
        json_object_set(final, "outputs", inv->outputs);
    return final;
}

/* --------------------------------------------------------------- record */

static json_t *request_files_json(const invocation *inv)
{
    json_t *files = json_object();
    for (size_t i = 0; i < inv->file_count; i++)
        json_object_set_new(files, inv->files[i].mount, json_string(inv->files[i].sandbox_path));
    return files;
}

/* Microseconds, as integers: cheap to write, exact to read. */
static json_t *timings_json(const invocation *inv)
{
    double started = inv->started ? inv->started : inv->finished;
    double ran = inv->ran ? inv->ran : started;
#define US(ms) ((json_int_t)((ms) * 1000.0 + 0.5))
    return json_pack("{s:I, s:I, s:I, s:I}", "queueUs", US(started - inv->queued), "runUs",
                     US(ran - started), "chainUs", US(inv->finished - ran), "totalUs",
                     US(inv->finished - inv->queued));
#undef US
}

static void record(invocation *inv)
{
    inv->finished = now_ms();
    if (inv->adopted) {
        history_put(inv->sv->history, json_incref(inv->adopted));
        log_info("call.adopted", "deployment=%s module=%s function=%s request=%s success=%s",
                 inv->dep->id, inv->module->name, inv->function->name, inv->id,
                 inv->success ? "true" : "false");
        return;
    }
    json_t *result;
    if (inv->success)
        result = json_incref(inv->own_result);
    else
        result = json_string(error_text(inv));
    json_t *outputs = inv->outputs ? json_incref(inv->outputs) : json_array();
    json_t *entry = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:O, s:o, s:o, s:o, s:b, s:o}", "request_id", inv->id,
        "deployment_id", inv->dep->id, "module_name", inv->module->name, "function_name",
        inv->function->name, "method", inv->method, "request_args", inv->request_args,
        "request_files", request_files_json(inv), "work_queued_at", rfc3339(&inv->queued_wall),
        "result", result ? result : json_null(), "success", inv->success, "outputs", outputs);
    if (!entry)
        return;
    if (inv->chained) {
        const chain_outcome *c = inv->chain;
        json_object_set_new(entry, "next", json_string(c->next_result_url ? c->next_result_url
                                                                          : c->next_url));
        if (inv->success)
            json_object_set_new(entry, "chainResult", json_incref(c->final_result));
    }
    json_object_set_new(entry, "deploymentVersion", json_integer(inv->dep->version));
    json_object_set_new(entry, "timings", timings_json(inv));
    history_put(inv->sv->history, entry);
    if (inv->success && inv->sv->config->checkpoint_after_call)
        checkpointer_poke(inv->sv->checkpointer);
    if (inv->success)
        log_info("call.done", "deployment=%s module=%s function=%s request=%s method=%s ms=%.3f",
                 inv->dep->id, inv->module->name, inv->function->name, inv->id, inv->method,
                 inv->finished - inv->queued);
    else
        log_warn("call.failed",
                 "deployment=%s module=%s function=%s request=%s method=%s status=%d reason=%s",
                 inv->dep->id, inv->module->name, inv->function->name, inv->id, inv->method,
                 inv->status, log_quote(error_text(inv)));
}

static void execute(invocation *inv)
{
    run_module(inv);
    if (inv->success && !inv->adopted)
        run_chain(inv);
    record(inv);
}

/* ------------------------------------------------------------- answers */

static void answer(invocation *inv, http_request *req)
{
    char *url = result_url(inv);
    json_t *body;
    if (inv->success) {
        body = json_pack("{s:s?, s:o}", "resultUrl", url, "result", final_result(inv));
        http_respond_json(req, 200, body);
    } else {
        body = json_pack("{s:s, s:s, s:s?}", "errorText", error_text(inv), "error",
                         error_text(inv), "resultUrl", url);
        http_respond_json(req, inv->status ? inv->status : 500, body);
    }
    free(url);
}

static void run_queued(void *arg, bool cancelled)
{
    invocation *inv = arg;
    if (cancelled) {
        fail(inv, 503, "not run: the supervisor shut down before the call's turn came");
        record(inv);
    } else {
        execute(inv);
    }
    invocation_free(inv);
}

void invocation_handle(supervisor *sv, http_request *req)
{
    invocation *inv = calloc(1, sizeof *inv);
    if (!inv) {
        http_respond_error(req, 500, "out of memory");
        return;
    }
    inv->sv = sv;
    inv->queued = now_ms();
    clock_gettime(CLOCK_REALTIME, &inv->queued_wall);
    inv->method = !strcmp(http_request_method(req), "POST") ? "POST" : "GET";
    ids_new_object_id(inv->id);
    inv->base_url = supervisor_base_url(sv, req);
    char err[800];
    if (supervisor_answer_departed(sv, req, http_request_param(req, "deployment"),
                                   http_request_param(req, "module"))) {
        invocation_free(inv);
        return;
    }
    uint64_t lease_ms;
    if (lease_expired(&sv->lease, &lease_ms)) {
        http_respond_error(req, 503, "fenced: no word from the orchestrator for %llu ms; this "
                           "device serves again after its next health probe",
                           (unsigned long long)lease_ms);
        invocation_free(inv);
        return;
    }
    int status = inv->base_url ? find_function(inv, req, err, sizeof err) : 500;
    if (!inv->base_url)
        snprintf(err, sizeof err, "out of memory");
    if (status == 200)
        status = check_epoch(inv, req, err, sizeof err);
    char *target = NULL, *as = NULL;
    if (status == 200 && module_runtime_phase(inv->rt) != RUNTIME_SERVING &&
        module_runtime_settled_phase(inv->rt, &target, &as) == RUNTIME_MOVED) {
        /* it waited for admission while its module migrated: go where it went */
        if (target)
            supervisor_redirect_moved(req, target, inv->module->name, as);
        else
            http_respond_error(req, 503, "module %s is moving; try again", inv->module->name);
        free(target);
        free(as);
        invocation_free(inv);
        return;
    }
    free(target);
    free(as);
    /* files first: a form field sent for an argument is explained as such */
    if (status == 200)
        status = stage_files(inv, req, err, sizeof err);
    if (status == 200)
        status = convert_args(inv, req, err, sizeof err);
    if (status != 200) {
        http_respond_error(req, status, "%s", err);
        invocation_free(inv);
        return;
    }
    if (!strcmp(inv->method, "GET")) {
        execute(inv);
        answer(inv, req);
        invocation_free(inv);
        return;
    }
    char *url = result_url(inv);
    executor_refusal refusal = url ? executor_submit(sv->executor, run_queued, inv)
                                   : EXECUTOR_NO_MEMORY;
    if (refusal != EXECUTOR_ACCEPTED) {
        free(url);
        if (refusal == EXECUTOR_FULL)
            http_respond_error(req, 503, "%zu calls are already waiting on this device; try "
                               "again later or on another device",
                               (size_t)sv->config->max_queued);
        else if (refusal == EXECUTOR_STOPPING)
            http_respond_error(req, 503, "the supervisor is shutting down; try another device");
        else
            http_respond_error(req, 500, "out of memory");
        invocation_free(inv);
        return;
    }
    http_respond_json(req, 200, json_pack("{s:s}", "resultUrl", url));
    free(url);
}

/* ------------------------------------------------------ a carried call */

static void *resume_main(void *arg)
{
    invocation *inv = arg;
    log_info("call.resumed", "deployment=%s module=%s function=%s request=%s", inv->dep->id,
             inv->module->name, inv->function->name, inv->id);
    supervisor *sv = inv->sv;
    execute(inv);
    invocation_free(inv);
    pthread_mutex_lock(&sv->carried_lock);
    sv->carried_running--;
    pthread_cond_broadcast(&sv->carried_done);
    pthread_mutex_unlock(&sv->carried_lock);
    return NULL;
}

bool invocation_resume_carried(supervisor *sv, deployment *dep, const char *module,
                               const json_t *call, const char *base_url, char *err,
                               size_t err_size)
{
    invocation *inv = calloc(1, sizeof *inv);
    if (!inv) {
        snprintf(err, err_size, "out of memory");
        return false;
    }
    inv->sv = sv;
    inv->dep = deployment_acquire(dep);
    inv->resuming = true;
    inv->queued = now_ms();
    clock_gettime(CLOCK_REALTIME, &inv->queued_wall);
    const char *id = json_string_value(json_object_get(call, "requestId"));
    const char *function = json_string_value(json_object_get(call, "function"));
    const char *method = json_string_value(json_object_get(call, "method"));
    inv->method = method && !strcmp(method, "POST") ? "POST" : "GET";
    inv->rt = deployment_module(dep, module, &inv->module);
    inv->function = inv->rt ? manifest_find_function(inv->module, function) : NULL;
    json_t *args = json_object_get(call, "args");
    inv->request_args = json_is_object(args) ? json_deep_copy(args) : json_object();
    inv->base_url = strdup(base_url);
    if (!inv->function || !inv->function->endpoint || !id ||
        strlen(id) >= sizeof inv->id || !inv->base_url) {
        snprintf(err, err_size, "the carried call %s.%s is not a function of this deployment",
                 module, function ? function : "?");
        invocation_free(inv);
        return false;
    }
    snprintf(inv->id, sizeof inv->id, "%s", id);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    pthread_mutex_lock(&sv->carried_lock);
    sv->carried_running++;
    pthread_mutex_unlock(&sv->carried_lock);
    bool started = pthread_create(&thread, &attr, resume_main, inv) == 0;
    pthread_attr_destroy(&attr);
    if (!started) {
        snprintf(err, err_size, "cannot start a thread for the carried call");
        invocation_free(inv);
        pthread_mutex_lock(&sv->carried_lock);
        sv->carried_running--;
        pthread_cond_broadcast(&sv->carried_done);
        pthread_mutex_unlock(&sv->carried_lock);
    }
    return started;
}
