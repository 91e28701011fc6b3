/*
 * placement.c — the placement part of the orchestrator: its lock, its start and stop
 * (the failover listener), and what it remembers of modules between solves.
 */
#define _GNU_SOURCE
#include "orchestrator/placement.h"

#include "base/log.h"
#include "orchestrator/blobs.h"
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
};

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
    p->min_memory = json_object();
    o->placement = p;
    p->failover = failover_start(o, err, err_size);
    if (!p->failover) {
        placement_stop(o);
        return false;
    }
    return true;
}

void placement_stop(orchestrator *o)
{
    placement *p = o->placement;
    if (!p)
        return;
    failover_stop(p->failover);
    json_decref(p->min_memory);
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
