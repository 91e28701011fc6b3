/*
 * state_transfer.c — the target's side of a migration (docs/migration.md):
 *
 *   PUT /deploy/{dep}/modules/{module}/state?transfer=<id>&epoch=N
 *       X-Liquid-Digest: sha256:<hex>, Content-Range: bytes a-b/total (per part)
 *   GET /deploy/{dep}/modules/{module}/state?transfer=<id>  -> {"received", "digest"}
 *
 * Parts are appended to <instance>/transfers/<id>/bundle and synced as they arrive,
 * so a transfer broken by the network — or by a crash of this supervisor — goes on
 * from the last part kept. When every byte is in and the digest matches, the bundle
 * is restored into the module (files, then memory, globals, tables and a suspended
 * call, which resumes in the background under its own request id).
 */
#define _GNU_SOURCE
#include "supervisor/supervisor.h"

#include "base/fs.h"
#include "supervisor/departures.h"
#include "supervisor/files.h"
#include "supervisor/state_bundle.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_BUNDLE_BYTES (4ull << 30)

/* Parts of one transfer arrive one after another; this keeps two senders (a retry
 * racing the original) from interleaving their appends. */
static pthread_mutex_t transfers_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct part {
    const char *dep, *module, *transfer, *digest;
    uint64_t first, total;
    const uint8_t *bytes;
    size_t size;
} part;

void state_bundle_digest(const uint8_t *data, size_t size, char out[72])
{
    uint8_t d[SHA256_DIGEST_LENGTH];
    SHA256(data, size, d);
    memcpy(out, "sha256:", 7);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", d[i]);
}

static bool parse_range(const char *text, uint64_t size, uint64_t *first, uint64_t *total)
{
    if (!text) {
        *first = 0;
        *total = size;
        return true;
    }
    uint64_t a, b, t;
    int used = 0;
    if (sscanf(text, "bytes %" SCNu64 "-%" SCNu64 "/%" SCNu64 "%n", &a, &b, &t, &used) != 3 ||
        text[used] || b < a || b >= t || b - a + 1 != size)
        return false;
    *first = a;
    *total = t;
    return true;
}

/* ----------------------------------------------------------- the parts on disk */

static char *transfer_path(supervisor *sv, const char *transfer, const char *leaf)
{
    return files_join(sv->transfer_dir, transfer, leaf, NULL);
}

/* What is kept of a transfer: bytes received and for which bundle. */
static uint64_t kept(supervisor *sv, const part *p, char *digest, size_t digest_size)
{
    char *meta_path = transfer_path(sv, p->transfer, "meta.json");
    char *data_path = transfer_path(sv, p->transfer, "bundle");
    json_t *meta = meta_path ? json_load_file(meta_path, 0, NULL) : NULL;
    struct stat st;
    uint64_t received = data_path && stat(data_path, &st) == 0 ? (uint64_t)st.st_size : 0;
    const char *d = json_string_value(json_object_get(meta, "digest"));
    snprintf(digest, digest_size, "%s", d ? d : "");
    bool same = d && (!p->digest || (!strcmp(d, p->digest) &&
                      json_integer_value(json_object_get(meta, "total")) == (json_int_t)p->total &&
                      !strcmp(json_string_value(json_object_get(meta, "deployment")) ?: "", p->dep) &&
                      !strcmp(json_string_value(json_object_get(meta, "module")) ?: "", p->module)));
    json_decref(meta);
    free(meta_path);
    free(data_path);
    return same ? received : 0;
}

static void discard(supervisor *sv, const char *transfer)
{
    char *dir = files_join(sv->transfer_dir, transfer, NULL);
    if (dir)
        fs_remove_tree(dir, NULL, 0);
    free(dir);
}

/* Starts a transfer's record afresh (another bundle under the same id starts over). */
static bool begin(supervisor *sv, const part *p, char *err, size_t err_size)
{
    discard(sv, p->transfer);
    char *dir = files_join(sv->transfer_dir, p->transfer, NULL);
    char *meta_path = transfer_path(sv, p->transfer, "meta.json");
    json_t *meta = json_pack("{s:s, s:I, s:s, s:s}", "digest", p->digest, "total",
                             (json_int_t)p->total, "deployment", p->dep, "module", p->module);
    char *text = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
    bool ok = dir && text && fs_mkdir_p(dir, 0755, err, err_size) &&
              fs_write_atomic(meta_path, text, strlen(text), 0644, err, err_size);
    free(text);
    json_decref(meta);
    free(dir);
    free(meta_path);
    return ok;
}

static bool append(supervisor *sv, const part *p, char *err, size_t err_size)
{
    char *path = transfer_path(sv, p->transfer, "bundle");
    int fd = path ? open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;
    bool ok = fd >= 0;
    for (size_t done = 0; ok && done < p->size;) {
        ssize_t n = write(fd, p->bytes + done, p->size - done);
        if (n < 0 && errno == EINTR)
            continue;
        ok = n > 0;
        done += n > 0 ? (size_t)n : 0;
    }
    ok = ok && fsync(fd) == 0;
    if (!ok)
        snprintf(err, err_size, "cannot keep the transfer's part in %s: %s",
                 path ? path : "(out of memory)", strerror(errno));
    if (fd >= 0)
        close(fd);
    free(path);
    return ok;
}

/* ----------------------------------------------------------------- restore */

/* Empties the module's directory (subdirectories too; a link is removed, never
 * followed). */
static bool empty_sandbox(const char *sandbox, char *err, size_t err_size)
{
    DIR *dir = opendir(sandbox);
    bool ok = true;
    for (struct dirent *e; ok && dir && (e = readdir(dir));) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || !strcmp(e->d_name, "..")))
            continue;
        struct stat st;
        if (fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (!S_ISDIR(st.st_mode)) {
            unlinkat(dirfd(dir), e->d_name, 0);
            continue;
        }
        char *path = files_join(sandbox, e->d_name, NULL);
        ok = path && fs_remove_tree(path, err, err_size);
        if (!path)
            snprintf(err, err_size, "out of memory");
        free(path);
    }
    if (dir)
        closedir(dir);
    return ok;
}

/* The module's directory becomes the bundle's files and subdirectories: the others
 * go. The reader checked every path (plain names joined by '/'), and the emptied
 * directory holds no link a path could run through. */
static bool replace_files(module_runtime *rt, const state_bundle *b, char *err, size_t err_size)
{
    const char *sandbox = module_runtime_sandbox(rt);
    if (!empty_sandbox(sandbox, err, err_size))
        return false;
    for (size_t i = 0; i < b->count; i++) {
        const state_section *s = &b->sections[i];
        if (s->kind != BUNDLE_FILE && s->kind != BUNDLE_DIRECTORY)
            continue;
        char *path = files_join(sandbox, s->name, NULL);
        char *slash = path ? strrchr(path, '/') : NULL;
        bool ok = path != NULL;
        if (ok && s->kind == BUNDLE_DIRECTORY) {
            ok = fs_mkdir_p(path, 0755, err, err_size);
        } else if (ok) {
            if (strchr(s->name, '/')) {     /* its directory, if no section made it yet */
                *slash = 0;
                ok = fs_mkdir_p(path, 0755, err, err_size);
                *slash = '/';
            }
            ok = ok && fs_write_atomic(path, s->data, (size_t)s->size, 0644, err, err_size);
        }
        if (!path)
            snprintf(err, err_size, "out of memory");
        free(path);
        if (!ok)
            return false;
    }
    return true;
}

/* Restores a complete, verified bundle; answers the request. */
static void restore(supervisor *sv, http_request *req, deployment *d, module_runtime *rt,
                    const uint8_t *bytes, size_t size)
{
    char err[600];
    state_bundle b;
    if (!state_bundle_read(bytes, size, &b, err, sizeof err)) {
        http_respond_error(req, 400, "%s", err);
        return;
    }
    const char *module = module_runtime_name(rt);
    module_runtime_enter(rt);
    bool has_call = false;
    bool ok = replace_files(rt, &b, err, sizeof err) &&
              module_runtime_replace_state(rt, b.state->data, (size_t)b.state->size, &has_call,
                                           err, sizeof err);
    module_runtime_unlock(rt);
    if (!ok) {
        http_respond_error(req, 400, "cannot restore module %s from the bundle: %s", module,
                           err);
        state_bundle_free(&b);
        return;
    }
    /* the state lives here (again): what said it had moved away no longer holds */
    deployment_unmark_moved(d, module);
    departures_forget(sv->departures, d->id, &module, 1);
    const char *call_id = NULL;
    if (has_call && b.call) {
        char *base = supervisor_base_url(sv, req);
        if (base && invocation_resume_carried(sv, d, module, b.call, base, err, sizeof err))
            call_id = json_string_value(json_object_get(b.call, "requestId"));
        else
            log_error("migration.resume_failed", "deployment=%s module=%s reason=%s", d->id,
                      module, log_quote(err));
        free(base);
    }
    log_info("migration.restored", "deployment=%s module=%s bytes=%zu resumed=%s", d->id, module,
             size, call_id ? call_id : "-");
    http_respond_json(req, 200, json_pack("{s:s, s:s?}", "status", "restored", "resumedCall",
                                          call_id));
    state_bundle_free(&b);
}

/* ------------------------------------------------------------------- routes */

/* The deployment and module the transfer is for, with the epoch checked. NULL when
 * answered. */
static deployment *target_of(supervisor *sv, http_request *req, module_runtime **rt)
{
    const char *dep_id = http_request_param(req, "deployment");
    const char *module = http_request_param(req, "module");
    deployment *d = deployment_store_get(sv->deployments, dep_id);
    *rt = d ? deployment_module(d, module, NULL) : NULL;
    if (!*rt) {
        http_respond_error(req, 404, "%s %s is not deployed on this device; deploy it (the "
                           "migration's new node) before sending its state",
                           d ? "module" : "deployment", d ? module : dep_id);
        deployment_release(d);
        return NULL;
    }
    const char *epoch = http_request_query(req, "epoch");
    if (epoch && strtoull(epoch, NULL, 10) < d->manifest->epoch) {
        http_respond_error(req, 409, "stale epoch: this device holds epoch %llu, the request "
                           "carries %s", (unsigned long long)d->manifest->epoch, epoch);
        deployment_release(d);
        return NULL;
    }
    return d;
}

void state_transfer_handle_get(supervisor *sv, http_request *req)
{
    module_runtime *rt;
    deployment *d = target_of(sv, req, &rt);
    if (!d)
        return;
    const char *transfer = http_request_query(req, "transfer");
    if (!transfer || !manifest_is_safe_name(transfer)) {
        http_respond_error(req, 400, "transfer: give ?transfer=<id>, a plain name");
    } else {
        part p = {.dep = d->id, .module = module_runtime_name(rt), .transfer = transfer};
        char digest[80];
        pthread_mutex_lock(&transfers_lock);
        uint64_t received = kept(sv, &p, digest, sizeof digest);
        pthread_mutex_unlock(&transfers_lock);
        http_respond_json(req, 200, json_pack("{s:I, s:s?}", "received", (json_int_t)received,
                                              "digest", *digest ? digest : NULL));
    }
    deployment_release(d);
}

static void put_part(supervisor *sv, http_request *req, deployment *d, module_runtime *rt,
                     part *p)
{
    char err[600], digest[80];
    uint64_t received = kept(sv, p, digest, sizeof digest);
    if (p->first != received) {
        json_t *body = json_pack("{s:s, s:s, s:I}", "errorText",
                                 "this part does not start where the kept bytes end; continue "
                                 "from 'received'", "error", "range", "received",
                                 (json_int_t)received);
        http_respond_json(req, 416, body);
        return;
    }
    if ((!received && !begin(sv, p, err, sizeof err)) || !append(sv, p, err, sizeof err)) {
        http_respond_error(req, errno == ENOSPC ? 507 : 500, "%s", err);
        return;
    }
    received += p->size;
    if (received < p->total) {
        http_respond_json(req, 202, json_pack("{s:s, s:I}", "status", "receiving", "received",
                                              (json_int_t)received));
        return;
    }
    char *path = transfer_path(sv, p->transfer, "bundle");
    char *bytes = NULL;
    size_t size = 0;
    bool read = path && fs_read_file(path, MAX_BUNDLE_BYTES, &bytes, &size, err, sizeof err);
    free(path);
    discard(sv, p->transfer);   /* complete: restored or refused, it is not kept */
    if (!read) {
        http_respond_error(req, 500, "cannot read the received bundle: %s", err);
        return;
    }
    char actual[80];
    state_bundle_digest((const uint8_t *)bytes, size, actual);
    if (strcmp(actual, p->digest))
        http_respond_error(req, 409, "digest mismatch: the %zu bytes received have %s, "
                           "X-Liquid-Digest says %s; the parts were discarded, send the bundle "
                           "again", size, actual, p->digest);
    else
        restore(sv, req, d, rt, (const uint8_t *)bytes, size);
    free(bytes);
}

void state_transfer_handle_put(supervisor *sv, http_request *req)
{
    module_runtime *rt;
    deployment *d = target_of(sv, req, &rt);
    if (!d)
        return;
    part p = {.dep = d->id, .module = module_runtime_name(rt),
              .transfer = http_request_query(req, "transfer"),
              .digest = http_request_header(req, "X-Liquid-Digest")};
    p.bytes = http_request_body(req, &p.size);
    const char *range = http_request_header(req, "Content-Range");
    if (!p.digest || strncmp(p.digest, "sha256:", 7) || strlen(p.digest) != 71) {
        http_respond_error(req, 400, "X-Liquid-Digest: %s; send sha256:<64 hex digits> of the "
                           "whole bundle", p.digest ? "not sha256:<hex>" : "missing");
    } else if (!parse_range(range, p.size, &p.first, &p.total)) {
        http_respond_error(req, 400, "Content-Range: '%s' does not describe the %zu bytes "
                           "sent; expected 'bytes first-last/total'", range, p.size);
    } else if (p.transfer && !manifest_is_safe_name(p.transfer)) {
        http_respond_error(req, 400, "transfer: '%s' is not a plain name", p.transfer);
    } else if (!p.transfer && (p.first || p.size != p.total)) {
        http_respond_error(req, 400, "a bundle sent in parts needs ?transfer=<id>");
    } else if (!p.transfer) {
        char actual[80];
        state_bundle_digest(p.bytes, p.size, actual);
        if (strcmp(actual, p.digest))
            http_respond_error(req, 409, "digest mismatch: the %zu bytes received have %s, "
                               "X-Liquid-Digest says %s", p.size, actual, p.digest);
        else
            restore(sv, req, d, rt, p.bytes, p.size);
    } else {
        pthread_mutex_lock(&transfers_lock);
        put_part(sv, req, d, rt, &p);
        pthread_mutex_unlock(&transfers_lock);
    }
    deployment_release(d);
}
