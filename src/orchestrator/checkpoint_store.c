/*
 * checkpoint_store.c — checkpoints in and out (docs/migration.md, "Checkpoints" and
 * "Crash"):
 *
 *   in:  PUT /liquid/checkpoints/{deployment}/{module} with X-Liquid-Epoch and
 *        X-Liquid-Base; the LQCP body applied to the base (checkpoint.c), the full
 *        bundle kept as a blob, the instance's pointer moved to it in one SQLite
 *        transaction, the bundle it replaces removed once nothing names it;
 *   out: checkpoint_restore sends the newest bundle to a device that took the step
 *        over from a lost one.
 *
 * Checkpoints of one instance are applied one at a time (a checkpoint builds on the
 * one before it); the lock is this file's, never held across a call to a device.
 */
#define _GNU_SOURCE
#include "orchestrator/checkpoint.h"

#include "base/http_client.h"
#include "base/ids.h"
#include "base/log.h"
#include "orchestrator/blobs.h"
#include "orchestrator/events.h"
#include "orchestrator/migration.h"
#include "orchestrator/placement.h"
#include "orchestrator/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESTORE_TIMEOUT_MS 300000
#define MAX_BUNDLE_BYTES ((size_t)5 << 30)

static pthread_mutex_t checkpoint_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *string_member(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* "sha256:<hex>" or "<hex>" -> "<hex>"; NULL when it is neither. */
static const char *digest_hex(const char *text)
{
    if (text && !strncmp(text, "sha256:", 7))
        text += 7;
    return text && blobs_is_digest(text) ? text : NULL;
}

/* The step of doc whose module is `module` on its device (or by module name). */
static const json_t *step_named(const json_t *doc, const char *module)
{
    size_t i;
    json_t *st;
    for (int pass = 0; pass < 2; pass++)
        json_array_foreach(json_object_get(doc, "sequence"), i, st) {
            const char *name = string_member(st, pass ? "moduleName" : "alias");
            if (name && !strcmp(name, module))
                return st;
        }
    return NULL;
}

static bool read_epoch(http_request *req, long long *epoch)
{
    const char *text = http_request_header(req, "X-Liquid-Epoch");
    char *end = NULL;
    errno = 0;
    *epoch = text ? strtoll(text, &end, 10) : -1;
    return text && *text && end && !*end && !errno && *epoch >= 0;
}

static void stored(orchestrator *o, http_request *req, const char *id, const char *module,
                   long long epoch, const char *digest, size_t full, size_t sent,
                   const char *base)
{
    migration_count_checkpoint(o->placement, sent);
    log_info("checkpoint.stored", "deployment=%s module=%s epoch=%lld bytes=%zu full=%zu "
             "digest=%.12s base=%.12s request=%s", id, log_quote(module), epoch, sent, full,
             digest, base ? base : "none", http_request_id(req));
    events_publish(o->events, "checkpoint.stored", id,
                   json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:s?}", "deployment", id, "module",
                             module, "epoch", (json_int_t)epoch, "bytes", (json_int_t)sent,
                             "fullSize", (json_int_t)full, "digest", digest, "base", base));
    char answer_digest[80];
    snprintf(answer_digest, sizeof answer_digest, "sha256:%s", digest);
    http_respond_json(req, 200, json_pack("{s:s, s:I}", "digest", answer_digest, "bytes",
                                          (json_int_t)full));
}

/* Applies and keeps one checkpoint; answers. Called with checkpoint_lock held. */
static void apply_and_keep(orchestrator *o, http_request *req, const json_t *doc,
                           const char *module, long long epoch)
{
    const char *id = string_member(doc, "_id");
    const char *base_header = http_request_header(req, "X-Liquid-Base");
    bool has_base = base_header && *base_header && strcmp(base_header, "none");
    const char *base = has_base ? digest_hex(base_header) : NULL;
    if (has_base && !base)
        return http_respond_error(req, 400, "X-Liquid-Base must be sha256:<64 hex digits> or "
                                  "none, not '%s'", base_header);
    char err[512];
    json_t *current = NULL;
    store_checkpoint_get(o->store, id, module, &current, err, sizeof err);
    uint8_t *base_bytes = NULL;
    size_t base_size = 0;
    if (base && (!current || strcmp(string_member(current, "sha256"), base) ||
                 !blobs_read(o->blobs, base, MAX_BUNDLE_BYTES, &base_bytes, &base_size, err,
                             sizeof err))) {
        json_decref(current);
        log_info("checkpoint.unknown_base", "deployment=%s module=%s base=%.12s request=%s", id,
                 log_quote(module), base, http_request_id(req));
        http_respond_json(req, 409, json_pack("{s:s, s:s}", "errorText", "unknown base",
                                              "error", "the orchestrator does not hold that "
                                              "checkpoint: send a full one (X-Liquid-Base: "
                                              "none)"));
        return;
    }
    json_decref(current);
    size_t size = 0;
    const uint8_t *body = http_request_body(req, &size);
    uint8_t *full = NULL;
    size_t full_size = 0;
    uint64_t memory_size = 0;
    if (!checkpoint_apply(base_bytes, base_size, body, size, &full, &full_size, &memory_size,
                          err, sizeof err)) {
        free(base_bytes);
        return http_respond_error(req, 400, "checkpoint of module '%s' refused: %s", module,
                                  err);
    }
    free(base_bytes);
    char digest[BLOB_DIGEST_SIZE], old[65];
    bool old_used = false;
    if (!blobs_put_memory(o->blobs, full, full_size, NULL, digest, err, sizeof err)) {
        free(full);
        return http_respond_error(req, 507, "cannot keep the checkpoint: %s", err);
    }
    free(full);
    store_result r = store_checkpoint_put(o->store, id, module, epoch, digest,
                                          (int64_t)full_size, old, &old_used, err, sizeof err);
    if (r == STORE_CONFLICT)
        return http_respond_error(req, 409, "%s", err);
    if (r != STORE_OK)
        return http_respond_error(req, 500, "%s", err);
    if (old[0] && strcmp(old, digest) && !old_used)
        blobs_remove(o->blobs, old);    /* the newest one is all that is kept */
    stored(o, req, id, module, epoch, digest, full_size, size, base);
}

void checkpoint_put(http_request *req, void *user)
{
    orchestrator *o = user;
    const char *ref = http_request_param(req, "deployment");
    const char *module = http_request_param(req, "module");
    json_t *doc = NULL;
    char err[512];
    if (store_deployment_get(o->store, ref, &doc, err, sizeof err) != STORE_OK)
        return http_respond_error(req, 404, "no deployment '%s': the checkpoint has no "
                                  "instance to belong to", ref);
    const json_t *step = step_named(doc, module);
    long long epoch = 0;
    if (!step) {
        http_respond_error(req, 404, "deployment '%s' has no module '%s'", ref, module);
    } else if (!read_epoch(req, &epoch)) {
        http_respond_error(req, 400, "X-Liquid-Epoch must be the deployment's epoch this "
                           "device holds (a number)");
    } else if (epoch < deployment_epoch(doc)) {
        http_respond_error(req, 409, "stale epoch: this orchestrator holds epoch %lld, the "
                           "request carries %lld", (long long)deployment_epoch(doc), epoch);
    } else {
        /* the name the instance has on its device keys it */
        const char *alias = string_member(step, "alias");
        pthread_mutex_lock(&checkpoint_lock);
        apply_and_keep(o, req, doc, alias ? alias : module, epoch);
        pthread_mutex_unlock(&checkpoint_lock);
    }
    json_decref(doc);
}

/* ------------------------------------------------------------ restoring */

bool checkpoint_restore(orchestrator *o, const char *deployment_id, const char *module,
                        const char *target_module, const char *device_id,
                        const char *device_url, long long epoch, bool *had_checkpoint,
                        char *err, size_t err_size)
{
    json_t *cp = NULL;
    *had_checkpoint = false;
    if (store_checkpoint_get(o->store, deployment_id, module, &cp, err, err_size) != STORE_OK)
        return true;
    *had_checkpoint = true;
    const char *digest = string_member(cp, "sha256");
    uint8_t *bytes = NULL;
    size_t size = 0;
    char transfer[IDS_OBJECT_ID_SIZE];
    ids_new_object_id(transfer);
    char *url = NULL, *escaped = http_url_encode(target_module);
    bool ok = blobs_read(o->blobs, digest, MAX_BUNDLE_BYTES, &bytes, &size, err, err_size);
    if (ok && (!escaped || asprintf(&url, "%s/deploy/%s/modules/%s/state?transfer=%s&epoch=%lld",
                                    device_url, deployment_id, escaped, transfer, epoch) < 0)) {
        url = NULL;
        ok = false;
        snprintf(err, err_size, "out of memory");
    }
    free(escaped);
    if (ok) {
        char digest_header[80];
        snprintf(digest_header, sizeof digest_header, "sha256:%s", digest);
        http_header headers[] = {{"X-Liquid-Digest", digest_header}};
        http_result res = {0};
        if (!http_request_send("PUT", url, headers, 1, bytes, size, "application/octet-stream",
                               RESTORE_TIMEOUT_MS, &res)) {
            ok = false;
            snprintf(err, err_size, "the device cannot be reached: %s", res.error);
        } else if (res.status != 200) {
            json_t *answer = http_result_json(&res);
            const char *why = string_member(answer, "errorText");
            ok = false;
            snprintf(err, err_size, "the device answered %ld: %s", res.status,
                     why ? why : res.body ? res.body : "(no body)");
            json_decref(answer);
        }
        http_result_free(&res);
    }
    if (ok) {
        migration_count_restored(o->placement);
        log_info("checkpoint.restored", "deployment=%s module=%s device=%s transfer=%s "
                 "bytes=%zu digest=%.12s", deployment_id, log_quote(target_module), device_id,
                 transfer, size, digest);
        events_publish(o->events, "checkpoint.restored", deployment_id,
                       json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:O, s:O}", "deployment",
                                 deployment_id, "module", target_module, "device", device_id,
                                 "transferId", transfer, "digest", digest, "bytes",
                                 (json_int_t)size, "checkpointEpoch",
                                 json_object_get(cp, "epoch"), "checkpointedAt",
                                 json_object_get(cp, "createdAt")));
    } else {
        log_warn("checkpoint.restore_failed", "deployment=%s module=%s device=%s reason=%s",
                 deployment_id, log_quote(target_module), device_id, log_quote(err));
    }
    free(url);
    free(bytes);
    json_decref(cp);
    return ok;
}
