/*
 * migrate_out.c — the source's side of a planned migration (docs/migration.md):
 *
 *   POST /deploy/{dep}/modules/{module}/migrate {"target", "epoch", "transferId"}
 *
 * quiesce the module (new calls wait; a running call gets --migrate-grace-ms, then
 * is suspended and carried), build the state bundle (saved state, the module's
 * files, the suspended call), stream it to the target in parts, and on the target's
 * "restored" mark the module moved (requests are redirected, the carried call's
 * caller is answered from the target). On any failure the module serves on here,
 * unchanged, and the suspended call resumes where it stopped.
 */
#define _GNU_SOURCE
#include "supervisor/supervisor.h"

#include "base/fs.h"
#include "base/http_client.h"
#include "supervisor/departures.h"
#include "supervisor/files.h"
#include "supervisor/state_bundle.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_ATTEMPTS 6          /* broken connections a transfer survives */
#define MAX_FILE_BYTES (1ull << 30)

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ----------------------------------------------------------------- the bundle */

typedef struct bundle_parts {
    state_section *sections;
    size_t count, capacity;
    char **owned;               /* names and bytes to free */
    size_t owned_count;
} bundle_parts;

static bool add_section(bundle_parts *b, uint8_t kind, char *name, void *data, size_t size)
{
    if (b->count == b->capacity) {
        size_t capacity = b->capacity ? 2 * b->capacity : 8;
        state_section *grown = realloc(b->sections, capacity * sizeof *grown);
        char **owned = realloc(b->owned, 2 * capacity * sizeof *owned);
        if (grown)
            b->sections = grown;
        if (owned)
            b->owned = owned;
        if (!grown || !owned) {
            free(name);
            free(data);
            return false;
        }
        b->capacity = capacity;
    }
    b->owned[b->owned_count++] = name;
    b->owned[b->owned_count++] = data;
    b->sections[b->count++] = (state_section){kind, name, data, size};
    return true;
}

static void free_parts(bundle_parts *b)
{
    for (size_t i = 0; i < b->owned_count; i++)
        free(b->owned[i]);
    free(b->owned);
    free(b->sections);
}

#define MAX_DEPTH 32            /* subdirectories below the module's directory */

/* Reads the whole regular file open as fd (closed here), up to MAX_FILE_BYTES. */
static bool read_fd(int fd, const char *path, char **data, size_t *size, char *err,
                    size_t err_size)
{
    *data = NULL;
    *size = 0;
    size_t capacity = 64 << 10, used = 0;
    char *buf = malloc(capacity);
    bool ok = buf != NULL;
    while (ok) {
        if (used == capacity) {
            char *grown = capacity < MAX_FILE_BYTES ? realloc(buf, capacity * 2) : NULL;
            if (!grown) {
                snprintf(err, err_size, "file %s of the module is %s", path,
                         capacity < MAX_FILE_BYTES ? "too large for the memory left"
                                                   : "larger than 1 GiB: it cannot move");
                ok = false;
                break;
            }
            buf = grown;
            capacity *= 2;
        }
        ssize_t n = read(fd, buf + used, capacity - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, err_size, "cannot read file %s of the module: %s", path,
                     strerror(errno));
            ok = false;
        } else if (n == 0) {
            break;
        } else {
            used += (size_t)n;
        }
    }
    close(fd);
    if (!buf)
        snprintf(err, err_size, "out of memory reading file %s of the module", path);
    if (!ok) {
        free(buf);
        return false;
    }
    *data = buf;
    *size = used;
    return true;
}

static bool add_tree(bundle_parts *b, int dfd, const char *prefix, int depth,
                     bool subdirectories, char *err, size_t err_size);

/* One entry of a directory being walked: a regular file is added, a subdirectory
 * added and walked; anything else (a symbolic link above all, which the module could
 * point anywhere on the device) and names that are not plain stay behind. */
static bool add_entry(bundle_parts *b, int dfd, const char *name, const char *prefix,
                      int depth, bool subdirectories, char *err, size_t err_size)
{
    struct stat st;
    if (!manifest_is_safe_name(name) || fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return true;
    bool is_dir = S_ISDIR(st.st_mode);
    if (!S_ISREG(st.st_mode) && !(is_dir && subdirectories))
        return true;
    char *path;
    if (asprintf(&path, "%s%s%s", prefix, *prefix ? "/" : "", name) < 0) {
        snprintf(err, err_size, "out of memory");
        return false;
    }
    bool ok;
    if (strlen(path) > STATE_BUNDLE_MAX_NAME) {
        snprintf(err, err_size, "the module's directory holds a path longer than %u bytes "
                 "(%.60s...), which cannot move", STATE_BUNDLE_MAX_NAME, path);
        ok = false;
    } else if (is_dir && depth >= MAX_DEPTH) {
        snprintf(err, err_size, "the module's directory nests deeper than %d levels at %.200s, "
                 "which cannot move", MAX_DEPTH, path);
        ok = false;
    } else if (is_dir) {
        int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        ok = sub >= 0 && add_section(b, BUNDLE_DIRECTORY, strdup(path), strdup(""), 0);
        if (sub < 0)
            snprintf(err, err_size, "cannot open directory %s of the module: %s", path,
                     strerror(errno));
        else if (!ok)
            close(sub);
        ok = ok && add_tree(b, sub, path, depth + 1, subdirectories, err, err_size);
    } else {
        int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        char *data = NULL;
        size_t size = 0;
        if (fd < 0)
            snprintf(err, err_size, "cannot open file %s of the module: %s", path,
                     strerror(errno));
        ok = fd >= 0 && read_fd(fd, path, &data, &size, err, err_size) &&
             add_section(b, BUNDLE_FILE, strdup(path), data, size);
    }
    free(path);
    return ok;
}

/* The entries of the directory open as dfd (closed here), named under prefix. */
static bool add_tree(bundle_parts *b, int dfd, const char *prefix, int depth,
                     bool subdirectories, char *err, size_t err_size)
{
    DIR *dir = fdopendir(dfd);
    if (!dir) {
        snprintf(err, err_size, "cannot list directory %s of the module: %s",
                 *prefix ? prefix : ".", strerror(errno));
        close(dfd);
        return false;
    }
    bool ok = true;
    for (struct dirent *e; ok && (e = readdir(dir));)
        ok = add_entry(b, dirfd(dir), e->d_name, prefix, depth, subdirectories, err,
                       err_size);
    closedir(dir);
    return ok;
}

/* The module's directory: its regular files and, unless only the top level is asked
 * for, its subdirectories with theirs. */
static bool add_files(bundle_parts *b, module_runtime *rt, bool subdirectories, char *err,
                      size_t err_size)
{
    int dfd = open(module_runtime_sandbox(rt), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return true;            /* no directory yet: no files */
    return add_tree(b, dfd, "", 0, subdirectories, err, err_size);
}

bool migrate_out_bundle(module_runtime *rt, uint8_t *state, size_t state_size,
                        const json_t *call, bool subdirectories, uint8_t **out, size_t *size,
                        char *err, size_t err_size)
{
    bundle_parts b = {0};
    bool ok = add_section(&b, BUNDLE_STATE, strdup(""), state, state_size) &&
              add_files(&b, rt, subdirectories, err, err_size);
    if (ok && call) {
        char *text = json_dumps(call, JSON_COMPACT);
        const char *id = json_string_value(json_object_get(call, "requestId"));
        ok = text && id && add_section(&b, BUNDLE_CALL, strdup(id), text, strlen(text));
    }
    ok = ok && state_bundle_write(b.sections, b.count, out, size);
    if (!ok && !*err)
        snprintf(err, err_size, "out of memory building the state bundle");
    free_parts(&b);
    return ok;
}

static bool build_bundle(module_runtime *rt, const json_t *call, uint8_t **out, size_t *size,
                         char *err, size_t err_size)
{
    uint8_t *state = NULL;
    size_t state_size = 0;
    return module_runtime_save_state(rt, &state, &state_size, err, err_size) &&
           migrate_out_bundle(rt, state, state_size, call, true, out, size, err, err_size);
}

/* --------------------------------------------------------------- the transfer */

typedef struct transfer {
    const char *url;            /* <target>/deploy/<dep>/modules/<module>/state?... */
    const char *digest;
    const uint8_t *bytes;
    size_t size;
    uint64_t part_bytes;
    long timeout_ms;
    json_t *answer;             /* the target's final answer */
    char error[600];
} transfer;

/* How much of this bundle the target already keeps (a resumed transfer). */
static uint64_t target_has(transfer *t, const char *status_url)
{
    http_result r = {0};
    uint64_t received = 0;
    if (http_get(status_url, 5000, &r) && r.status == 200) {
        json_t *body = http_result_json(&r);
        const char *digest = json_string_value(json_object_get(body, "digest"));
        json_int_t n = json_integer_value(json_object_get(body, "received"));
        if (digest && !strcmp(digest, t->digest) && n > 0 && (uint64_t)n < t->size)
            received = (uint64_t)n;
        json_decref(body);
    }
    http_result_free(&r);
    return received;
}

static void describe(const http_result *r, char *out, size_t size)
{
    json_t *body = http_result_json(r);
    const char *text = json_string_value(json_object_get(body, "errorText"));
    snprintf(out, size, "%.400s", text ? text : r->body ? r->body : "(no body)");
    json_decref(body);
}

/* Sends the bundle part by part, continuing after a broken connection from what the
 * target says it kept. true once the target answered 200 (restored). */
static bool send_bundle(transfer *t, const char *status_url)
{
    uint64_t at = target_has(t, status_url);
    int failures = 0;
    while (failures < MAX_ATTEMPTS) {
        uint64_t n = t->size - at < t->part_bytes ? t->size - at : t->part_bytes;
        char range[96];
        snprintf(range, sizeof range, "bytes %llu-%llu/%zu", (unsigned long long)at,
                 (unsigned long long)(at + n - 1), t->size);
        http_header headers[] = {{"X-Liquid-Digest", t->digest}, {"Content-Range", range}};
        http_result r = {0};
        bool answered = http_request_send("PUT", t->url, headers, 2, t->bytes + at, (size_t)n,
                                          "application/octet-stream", t->timeout_ms, &r);
        json_t *body = answered ? http_result_json(&r) : NULL;
        json_int_t received = json_integer_value(json_object_get(body, "received"));
        if (answered && r.status == 200) {
            t->answer = body;
            http_result_free(&r);
            return true;
        }
        if (answered && (r.status == 202 || r.status == 416)) {
            at = (uint64_t)received <= t->size ? (uint64_t)received : 0;
        } else if (!answered) {
            snprintf(t->error, sizeof t->error, "cannot reach it: %s", r.error);
            failures++;
            sleep_ms(50L << failures);
            at = target_has(t, status_url);
        } else {
            char said[420];
            describe(&r, said, sizeof said);
            snprintf(t->error, sizeof t->error, "it answered HTTP %ld: %s", r.status, said);
            json_decref(body);
            http_result_free(&r);
            return false;
        }
        json_decref(body);
        http_result_free(&r);
    }
    return false;
}

/* ------------------------------------------------------------------ the route */

typedef struct request_body {
    const char *target;
    json_int_t epoch;
    const char *transfer;
    const char *target_module;  /* the module's name on the target (default: the same) */
} request_body;

static bool parse_body(http_request *req, request_body *b)
{
    char err[300];
    json_t *json = http_request_json(req, err, sizeof err);
    if (!json) {
        http_respond_error(req, 400, "(body): not JSON (%s); send {\"target\": "
                           "\"http://host:port\", \"epoch\": N, \"transferId\": \"...\"}", err);
        return false;
    }
    b->target = json_string_value(json_object_get(json, "target"));
    json_t *epoch = json_object_get(json, "epoch");
    b->transfer = json_string_value(json_object_get(json, "transferId"));
    if (!b->target || !manifest_is_http_url(b->target)) {
        http_respond_error(req, 400, "target: expected the http(s) URL of the target "
                           "supervisor, e.g. \"http://10.0.0.2:8080\"");
        return false;
    }
    if (!json_is_integer(epoch) || json_integer_value(epoch) < 0) {
        http_respond_error(req, 400, "epoch: expected the non-negative epoch of the new "
                           "placement");
        return false;
    }
    if (!b->transfer || !manifest_is_safe_name(b->transfer)) {
        http_respond_error(req, 400, "transferId: expected a plain name identifying this "
                           "transfer");
        return false;
    }
    json_t *target_module = json_object_get(json, "targetModule");
    b->target_module = json_string_value(target_module);
    if (target_module && !json_is_null(target_module) &&
        (!b->target_module || !manifest_is_safe_name(b->target_module))) {
        http_respond_error(req, 400, "targetModule: expected the module's name on the target");
        return false;
    }
    b->epoch = json_integer_value(epoch);
    return true;
}

static char *trimmed(const char *url)
{
    size_t n = strlen(url);
    while (n && url[n - 1] == '/')
        n--;
    return strndup(url, n);
}

/* Quiesced and bundled: send it, then move or serve on. Answers the request. */
static void migrate(supervisor *sv, http_request *req, deployment *d, module_runtime *rt,
                    const request_body *b)
{
    const char *module = module_runtime_name(rt);
    const char *as = b->target_module ? b->target_module : module;
    double started = now_ms();
    log_info("migration.started", "deployment=%s module=%s target=%s epoch=%lld", d->id, module,
             log_quote(b->target), (long long)b->epoch);
    json_t *call = module_runtime_quiesce(rt, (uint64_t)sv->config->migrate_grace_ms);
    uint8_t *bytes = NULL;
    size_t size = 0;
    char err[600] = "", digest[80] = "";
    char *target = trimmed(b->target);
    char *url = NULL, *status_url = NULL;
    bool built = build_bundle(rt, call, &bytes, &size, err, sizeof err);
    if (built)
        state_bundle_digest(bytes, size, digest);
    if (target &&
        (asprintf(&url, "%s/deploy/%s/modules/%s/state?transfer=%s&epoch=%lld", target, d->id,
                  as, b->transfer, (long long)b->epoch) < 0 ||
         asprintf(&status_url, "%s/deploy/%s/modules/%s/state?transfer=%s", target, d->id,
                  as, b->transfer) < 0))
        url = status_url = NULL;
    transfer t = {.url = url, .digest = digest, .bytes = bytes, .size = size,
                  .part_bytes = sv->config->transfer_part_bytes,
                  .timeout_ms = (long)sv->config->chain_timeout_ms};
    bool moved = built && url && status_url && send_bundle(&t, status_url);
    if (moved) {
        char why[300];
        departures_moved(sv->departures, d->id, module, target, as);
        if (!deployment_mark_moved(d, module, target, as, why, sizeof why))
            log_error("migration.not_recorded", "deployment=%s module=%s reason=%s hint=%s",
                      d->id, module, log_quote(why),
                      log_quote("after a restart, this device would serve its old copy"));
    }
    module_runtime_settle(rt, moved, target, as);
    double unavailable = now_ms() - started;
    const char *resumed = call ? json_string_value(json_object_get(call, "requestId")) : NULL;
    if (moved) {
        log_info("migration.completed", "deployment=%s module=%s target=%s bytes=%zu "
                 "unavailable_ms=%.1f resumed=%s", d->id, module, log_quote(target), size,
                 unavailable, resumed ? resumed : "-");
        http_respond_json(req, 200, json_pack("{s:s, s:s, s:I, s:f, s:s?}", "status", "moved",
                                              "target", target, "bytes", (json_int_t)size,
                                              "unavailableMs", unavailable, "resumedCall",
                                              resumed));
    } else {
        const char *why = !built ? err : *t.error ? t.error : "out of memory";
        log_warn("migration.failed", "deployment=%s module=%s target=%s reason=%s action=%s",
                 d->id, module, log_quote(b->target), log_quote(why),
                 resumed ? "resumed_here" : "serving_here");
        if (!built)
            http_respond_error(req, 500, "module %s cannot be bundled: %s; it serves on here",
                               module, why);
        else
            http_respond_error(req, 502, "target %s did not take module %s: %s; the module "
                               "serves on here, unchanged", b->target, module, why);
    }
    json_decref(t.answer);
    json_decref(call);
    free(bytes);
    free(target);
    free(url);
    free(status_url);
}

void migrate_out_handle(supervisor *sv, http_request *req)
{
    request_body b;
    if (!parse_body(req, &b))
        return;
    const char *dep_id = http_request_param(req, "deployment");
    const char *module = http_request_param(req, "module");
    deployment *d = deployment_store_get(sv->deployments, dep_id);
    module_runtime *rt = d ? deployment_module(d, module, NULL) : NULL;
    /* after a restart the runtime of a module that moved is a reloaded copy: only the
     * marker knows its state is elsewhere */
    departure gone = departures_find(sv->departures, dep_id, module);
    if (gone.kind == DEPARTURE_MOVED) {
        http_respond_error(req, 409, "module %s is already moved (to %s); a migration needs "
                           "it serving here", module, gone.target);
    } else if (!rt) {
        http_respond_error(req, 404, "%s %s is not deployed on this device",
                           d ? "module" : "deployment", d ? module : dep_id);
    } else if ((uint64_t)b.epoch < d->manifest->epoch) {
        http_respond_error(req, 409, "stale epoch: this device holds epoch %llu, the request "
                           "carries %lld", (unsigned long long)d->manifest->epoch,
                           (long long)b.epoch);
    } else if (module_runtime_phase(rt) != RUNTIME_SERVING) {
        http_respond_error(req, 409, "module %s is %s; a migration needs it serving here",
                           module, module_runtime_phase(rt) == RUNTIME_MOVED
                                       ? "already moved" : "migrating or resuming");
    } else {
        migrate(sv, req, d, rt, &b);
    }
    deployment_release(d);
}
