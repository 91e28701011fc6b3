/*
 * placement.c — the placement part of the orchestrator: its lock, its start and stop
 * (the failover listener), and what it remembers of modules between solves.
 */
#define _GNU_SOURCE
#include "orchestrator/placement.h"

#include "base/log.h"
#include "orchestrator/blobs.h"
#include "orchestrator/migration.h"
#include "orchestrator/store.h"
#include "wasm/wasm.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WASM_PAGE 65536u
#define MAX_MODULE_BYTES (256u << 20)

struct placement {
    orchestrator *o;
    pthread_mutex_t lock;           /* recursive: changes to deployments */
    pthread_mutex_t memory_lock;
    json_t *min_memory;             /* {"<sha256>": bytes} */
    failover *failover;
    pthread_mutex_t pending_lock;
    json_t *pending;                /* {"<deployment>": {"<device>": epoch}} being sent */
    json_t *leaving;                /* {"<device>": true}: drained or a migration's source */
    json_t *migrating;              /* {"<deployment>": true} */
    json_t *moving;                 /* {"<deployment>": document}: moved, not yet recorded */
    long leaving_step;              /* the step being migrated off leaving_device, or -1 */
    char leaving_device[32];
    migration_counters counters;
};

/* ---- what each device should hold (the lease of docs/migration.md) */

void placement_pending_add(placement *p, const char *deployment_id, const json_t *nodes,
                           json_int_t epoch)
{
    if (!p || !deployment_id)
        return;
    pthread_mutex_lock(&p->pending_lock);
    json_t *devices = json_object_get(p->pending, deployment_id);
    if (!devices) {
        devices = json_object();
        json_object_set_new(p->pending, deployment_id, devices);
    }
    const char *device;
    json_t *node;
    json_object_foreach((json_t *)nodes, device, node)
        json_object_set_new(devices, device, json_integer(epoch));
    pthread_mutex_unlock(&p->pending_lock);
}

void placement_pending_clear(placement *p, const char *deployment_id)
{
    if (!p || !deployment_id)
        return;
    pthread_mutex_lock(&p->pending_lock);
    json_object_del(p->pending, deployment_id);
    pthread_mutex_unlock(&p->pending_lock);
}

/* by_device[device][deployment] = epoch, keeping the lower of two: a device is only
 * told to drop a copy older than what it is told, so while a change is being sent
 * the old epoch is the safe one to tell. */
static void note_epoch(json_t *by_device, const char *device, const char *deployment,
                       json_int_t epoch)
{
    json_t *held = json_object_get(by_device, device);
    if (!held) {
        held = json_object();
        json_object_set_new(by_device, device, held);
    }
    json_t *known = json_object_get(held, deployment);
    if (!known || json_integer_value(known) > epoch)
        json_object_set_new(held, deployment, json_integer(epoch));
}

json_t *placement_epochs_by_device(orchestrator *o)
{
    json_t *list = NULL;
    char err[256];
    if (store_deployment_list(o->store, &list, err, sizeof err) != STORE_OK) {
        log_warn("placement.epochs_unreadable", "reason=%s", log_quote(err));
        return NULL;    /* no lease this round rather than a wrong one */
    }
    json_t *by_device = json_object();
    size_t i;
    json_t *doc;
    json_array_foreach(list, i, doc) {
        if (!json_is_true(json_object_get(doc, "active")))
            continue;
        const char *id = json_string_value(json_object_get(doc, "_id"));
        const char *device;
        json_t *node;
        json_object_foreach(json_object_get(doc, "fullManifest"), device, node)
            note_epoch(by_device, device, id, deployment_epoch(doc));
    }
    json_decref(list);
    placement *p = o->placement;
    pthread_mutex_lock(&p->pending_lock);
    const char *deployment;
    json_t *devices;
    json_object_foreach(p->pending, deployment, devices) {
        const char *device;
        json_t *epoch;
        json_object_foreach(devices, device, epoch)
            note_epoch(by_device, device, deployment, json_integer_value(epoch));
    }
    pthread_mutex_unlock(&p->pending_lock);
    return by_device;
}

static json_t *lease_epochs(void *user)
{
    json_t *by_device = placement_epochs_by_device(user);
    if (!by_device)
        return NULL;
    json_t *text = json_object();
    const char *device;
    json_t *held;
    json_object_foreach(by_device, device, held) {
        char *line = NULL;
        size_t size = 0;
        FILE *out = open_memstream(&line, &size);
        if (!out)
            continue;
        const char *deployment;
        json_t *epoch;
        size_t n = 0;
        json_object_foreach(held, deployment, epoch)
            fprintf(out, "%s%s=%" JSON_INTEGER_FORMAT, n++ ? "," : "", deployment,
                    json_integer_value(epoch));
        fclose(out);
        json_object_set_new(text, device, json_string(line));
        free(line);
    }
    json_decref(by_device);
    return text;
}

/* ---- devices the solver must not choose, migrations in progress, counters
 * (migration.h); all under pending_lock, which is never held across a call out */

void placement_set_leaving(placement *p, const char *device_id, bool leaving)
{
    if (!p || !device_id)
        return;
    pthread_mutex_lock(&p->pending_lock);
    if (leaving)
        json_object_set_new(p->leaving, device_id, json_true());
    else
        json_object_del(p->leaving, device_id);
    pthread_mutex_unlock(&p->pending_lock);
}

bool placement_is_leaving(placement *p, const char *device_id)
{
    if (!p || !device_id)
        return false;
    pthread_mutex_lock(&p->pending_lock);
    bool leaving = json_object_get(p->leaving, device_id) != NULL;
    pthread_mutex_unlock(&p->pending_lock);
    return leaving;
}

void placement_set_step_leaving(placement *p, long step, const char *device_id)
{
    pthread_mutex_lock(&p->pending_lock);
    p->leaving_step = device_id ? step : -1;
    snprintf(p->leaving_device, sizeof p->leaving_device, "%s", device_id ? device_id : "");
    pthread_mutex_unlock(&p->pending_lock);
}

/* The pointer stays valid while the placement lock is held (the caller's solve). */
const char *placement_step_leaving(placement *p, size_t step)
{
    if (!p)
        return NULL;
    pthread_mutex_lock(&p->pending_lock);
    bool match = p->leaving_step >= 0 && (size_t)p->leaving_step == step;
    pthread_mutex_unlock(&p->pending_lock);
    return match ? p->leaving_device : NULL;
}

void placement_set_moving(placement *p, const char *deployment_id, const json_t *next)
{
    pthread_mutex_lock(&p->pending_lock);
    if (next)
        json_object_set_new(p->moving, deployment_id, json_deep_copy(next));
    else
        json_object_del(p->moving, deployment_id);
    pthread_mutex_unlock(&p->pending_lock);
}

json_t *placement_moving(placement *p, const char *deployment_id)
{
    if (!p || !deployment_id)
        return NULL;
    pthread_mutex_lock(&p->pending_lock);
    json_t *doc = json_incref(json_object_get(p->moving, deployment_id));
    pthread_mutex_unlock(&p->pending_lock);
    return doc;
}

bool placement_claim_migration(placement *p, const char *deployment_id)
{
    pthread_mutex_lock(&p->pending_lock);
    bool free_to_go = !json_object_get(p->migrating, deployment_id);
    if (free_to_go)
        json_object_set_new(p->migrating, deployment_id, json_true());
    pthread_mutex_unlock(&p->pending_lock);
    return free_to_go;
}

bool placement_migration_running(placement *p, const char *deployment_id)
{
    pthread_mutex_lock(&p->pending_lock);
    bool running = json_object_get(p->migrating, deployment_id) != NULL;
    pthread_mutex_unlock(&p->pending_lock);
    return running;
}

void placement_release_migration(placement *p, const char *deployment_id)
{
    pthread_mutex_lock(&p->pending_lock);
    json_object_del(p->migrating, deployment_id);
    pthread_mutex_unlock(&p->pending_lock);
}

const double migration_unavailable_bounds[MIGRATION_BUCKETS] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};

void migration_count_done(placement *p, bool ok, double unavailable_ms)
{
    pthread_mutex_lock(&p->pending_lock);
    if (ok) {
        p->counters.completed++;
        double seconds = unavailable_ms / 1000.0;
        for (size_t i = 0; i < MIGRATION_BUCKETS; i++)
            if (seconds <= migration_unavailable_bounds[i])
                p->counters.unavailable[i]++;
        p->counters.unavailable[MIGRATION_BUCKETS]++;
        p->counters.unavailable_seconds_sum += seconds;
    } else {
        p->counters.failed++;
    }
    pthread_mutex_unlock(&p->pending_lock);
}

#define COUNT(field, amount)                   \
    do {                                       \
        pthread_mutex_lock(&p->pending_lock);  \
        p->counters.field += (amount);         \
        pthread_mutex_unlock(&p->pending_lock); \
    } while (0)

void migration_count_checkpoint(placement *p, uint64_t bytes_received)
{
    pthread_mutex_lock(&p->pending_lock);
    p->counters.checkpoints++;
    p->counters.checkpoint_bytes += bytes_received;
    pthread_mutex_unlock(&p->pending_lock);
}

void migration_count_restored(placement *p)
{
    COUNT(checkpoints_restored, 1);
}

void migration_count_reroute(placement *p)
{
    COUNT(reroutes, 1);
}

void migration_count_retry(placement *p)
{
    COUNT(executions_retried, 1);
}

void migration_counters_get(placement *p, migration_counters *out)
{
    *out = (migration_counters){0};
    if (!p)
        return;
    pthread_mutex_lock(&p->pending_lock);
    *out = p->counters;
    pthread_mutex_unlock(&p->pending_lock);
}

bool placement_start(orchestrator *o, char *err, size_t err_size)
{
    placement *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, err_size, "out of memory");
        return false;
    }
    p->o = o;
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&p->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    pthread_mutex_init(&p->memory_lock, NULL);
    pthread_mutex_init(&p->pending_lock, NULL);
    p->min_memory = json_object();
    p->pending = json_object();
    p->leaving = json_object();
    p->migrating = json_object();
    p->leaving_step = -1;
    p->moving = json_object();
    o->placement = p;
    p->failover = failover_start(o, err, err_size);
    if (!p->failover) {
        placement_stop(o);
        return false;
    }
    if (o->fleet)
        fleet_set_lease(o->fleet, 2 * o->settings.health_interval_ms, lease_epochs, o);
    return true;
}

void placement_stop(orchestrator *o)
{
    placement *p = o->placement;
    if (!p)
        return;
    if (o->fleet)
        fleet_set_lease(o->fleet, 0, NULL, NULL);
    failover_stop(p->failover);
    json_decref(p->min_memory);
    json_decref(p->pending);
    json_decref(p->leaving);
    json_decref(p->migrating);
    json_decref(p->moving);
    pthread_mutex_destroy(&p->pending_lock);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->memory_lock);
    free(p);
    o->placement = NULL;
}

void placement_lock(placement *p)
{
    pthread_mutex_lock(&p->lock);
}

void placement_unlock(placement *p)
{
    pthread_mutex_unlock(&p->lock);
}

/* The module's own memory (or the one it imports): its initial size. */
static uint64_t initial_memory(const wasm_module *m)
{
    wasm_extern_info info;
    for (uint32_t i = 0; i < wasm_module_export_count(m); i++)
        if (wasm_module_export(m, i, &info) && info.kind == WASM_EXTERN_MEMORY)
            return (uint64_t)info.limits.min * WASM_PAGE;
    for (uint32_t i = 0; i < wasm_module_import_count(m); i++)
        if (wasm_module_import(m, i, &info) && info.kind == WASM_EXTERN_MEMORY)
            return (uint64_t)info.limits.min * WASM_PAGE;
    return 0;
}

uint64_t placement_module_min_memory(orchestrator *o, const json_t *module)
{
    placement *p = o->placement;
    const char *digest = json_string_value(json_object_get(json_object_get(module, "wasm"),
                                                           "sha256"));
    if (!p || !digest)
        return 0;
    pthread_mutex_lock(&p->memory_lock);
    json_t *known = json_object_get(p->min_memory, digest);
    uint64_t bytes = known ? (uint64_t)json_integer_value(known) : 0;
    pthread_mutex_unlock(&p->memory_lock);
    if (known)
        return bytes;
    uint8_t *data = NULL;
    size_t size = 0;
    char err[256];
    if (blobs_read(o->blobs, digest, MAX_MODULE_BYTES, &data, &size, err, sizeof err)) {
        wasm_error werr;
        wasm_module *m = wasm_module_load(data, size, &werr);
        if (m) {
            bytes = initial_memory(m);
            wasm_module_free(m);
        }
        free(data);
    } else {
        log_warn("placement.module_unreadable", "sha256=%s reason=%s", digest, log_quote(err));
        return 0;
    }
    pthread_mutex_lock(&p->memory_lock);
    json_object_set_new(p->min_memory, digest, json_integer((json_int_t)bytes));
    pthread_mutex_unlock(&p->memory_lock);
    return bytes;
}
