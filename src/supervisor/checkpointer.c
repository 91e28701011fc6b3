/*
 * checkpointer.c — checkpoints of every module instance to the orchestrator
 * (docs/migration.md, "Checkpoints"), from one background thread, so that a device
 * lost to a crash loses at most what changed since its last checkpoint.
 *
 * After a call (--checkpoint-after-call) or every --checkpoint-interval-ms, each
 * instance that ran a call since its last checkpoint is taken under its lock: the
 * engine saves everything but memory 0, the 4 KiB chunks of memory 0 are hashed and
 * compared with the last checkpoint's, and only the chunks that differ are copied —
 * a 64 MiB memory with 1% changed costs a hashing pass and 640 KiB of copying, not a
 * 64 MiB snapshot. Outside the lock those chunks travel (LQCP) with the memory-less
 * rest. An instance whose chunks and
 * rest are all unchanged sends nothing. The orchestrator's 409 "unknown base" (it lost
 * or never had the base) gets a full checkpoint at once.
 */
#define _GNU_SOURCE
#include "supervisor/supervisor.h"

#include "base/http_client.h"
#include "supervisor/device.h"
#include "supervisor/lqcp.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct instance_record {
    char *deployment, *module;
    const module_runtime *rt;   /* identity: another runtime (a redeploy) starts over */
    uint64_t epoch;
    uint64_t calls_seen;
    bool pending;               /* the last attempt failed: try again */
    uint64_t *hashes;           /* per chunk of the last checkpoint's memory */
    size_t chunk_count;
    uint64_t rest_hash;
    char base[80];              /* "sha256:..." of the last checkpoint, "" for none */
} instance_record;

struct checkpointer {
    supervisor *sv;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool poked, stop;
    instance_record *records;
    size_t record_count;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------- records */

static instance_record *record_of(checkpointer *c, deployment *d, size_t i)
{
    const char *module = d->manifest->modules[i].name;
    for (size_t j = 0; j < c->record_count; j++) {
        instance_record *r = &c->records[j];
        if (strcmp(r->deployment, d->id) || strcmp(r->module, module))
            continue;
        if (r->rt != d->runtimes[i] || r->epoch != d->manifest->epoch) {
            free(r->hashes);    /* a new instance or placement: its first one is full */
            r->hashes = NULL;
            r->chunk_count = 0;
            r->base[0] = 0;
            r->calls_seen = 0;
            r->rt = d->runtimes[i];
            r->epoch = d->manifest->epoch;
        }
        return r;
    }
    instance_record *grown = realloc(c->records, (c->record_count + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    c->records = grown;
    instance_record *r = &c->records[c->record_count];
    *r = (instance_record){.deployment = strdup(d->id), .module = strdup(module),
                           .rt = d->runtimes[i], .epoch = d->manifest->epoch};
    if (!r->deployment || !r->module) {
        free(r->deployment);
        free(r->module);
        return NULL;
    }
    c->record_count++;
    return r;
}

/* ----------------------------------------------------------- one instance */

typedef struct taken {
    uint64_t memory_size;
    uint64_t *hashes;           /* per chunk of the memory now */
    size_t chunk_count;
    uint32_t *changed;          /* the chunks that differ from the record's */
    uint8_t *chunks;            /* their bytes, LQCP_CHUNK each, in that order */
    size_t changed_count;
    uint8_t *rest;              /* the memory-less bundle */
    size_t rest_size;
    double locked_ms;           /* how long the module waited for it */
} taken;

static void taken_free(taken *t)
{
    free(t->hashes);
    free(t->changed);
    free(t->chunks);
    free(t->rest);
    memset(t, 0, sizeof *t);
}

/* Hashes every chunk of memory and copies those that differ from the record's (all
 * that are not zero when it has no base). Lock held: this is all the memory work
 * done under it — a pass of hashing, and a copy of the chunks that changed only. */
static bool take_memory(const instance_record *r, const uint8_t *memory, taken *t)
{
    static const uint8_t zero[LQCP_CHUNK];
    uint64_t zero_hash = lqcp_chunk_hash(zero, LQCP_CHUNK);
    size_t count = t->chunk_count = (size_t)(t->memory_size / LQCP_CHUNK);
    t->hashes = calloc(count ? count : 1, sizeof *t->hashes);
    t->changed = calloc(count ? count : 1, sizeof *t->changed);
    if (!t->hashes || !t->changed)
        return false;
    for (size_t i = 0; i < count; i++) {
        uint64_t now = lqcp_chunk_hash(memory + i * LQCP_CHUNK, LQCP_CHUNK);
        uint64_t was = r->base[0] && i < r->chunk_count ? r->hashes[i] : zero_hash;
        t->hashes[i] = now;
        if (now != was)
            t->changed[t->changed_count++] = (uint32_t)i;
    }
    t->chunks = malloc(t->changed_count ? t->changed_count * LQCP_CHUNK : 1);
    if (!t->chunks)
        return false;
    for (size_t i = 0; i < t->changed_count; i++)
        memcpy(t->chunks + i * LQCP_CHUNK, memory + (size_t)t->changed[i] * LQCP_CHUNK,
               LQCP_CHUNK);
    return true;
}

/* The instance's state as a checkpoint on the record's base; false when there is
 * nothing to take now. */
static bool take(module_runtime *rt, const instance_record *r, taken *t, char *err,
                 size_t err_size)
{
    uint8_t *rest_state = NULL;
    size_t rest_state_size = 0;
    memset(t, 0, sizeof *t);
    module_runtime_lock(rt);
    double locked = now_ms();
    bool ok = module_runtime_phase(rt) == RUNTIME_SERVING &&
              module_runtime_save_state_without_memory(rt, &rest_state, &rest_state_size, err,
                                                       err_size);
    if (ok) {
        const uint8_t *memory = module_runtime_memory(rt, &t->memory_size);
        ok = take_memory(r, memory, t);
        if (!ok)
            snprintf(err, err_size, "out of memory");
    }
    t->locked_ms = now_ms() - locked;
    module_runtime_unlock(rt);
    /* the bundle takes rest_state; subdirectories too, so a crash loses none of them */
    if (ok)
        ok = migrate_out_bundle(rt, rest_state, rest_state_size, NULL, true, &t->rest,
                                &t->rest_size, err, err_size);
    else
        free(rest_state);
    if (!ok)
        taken_free(t);
    return ok;
}

/* PUTs one checkpoint; 200, 409 (unknown base / stale) or another status, 0 if none. */
static long send(const char *orchestrator, instance_record *r, taken *t, json_t **answer,
                 size_t *sent)
{
    uint8_t *body = NULL;
    size_t size = 0;
    char *url = NULL, epoch[24];
    long status = 0;
    snprintf(epoch, sizeof epoch, "%llu", (unsigned long long)r->epoch);
    http_header headers[] = {{"X-Liquid-Epoch", epoch},
                             {"X-Liquid-Base", r->base[0] ? r->base : "none"}};
    if (lqcp_write_packed(t->memory_size, t->changed, t->chunks, t->changed_count, t->rest,
                          t->rest_size, &body, &size) &&
        asprintf(&url, "%s/liquid/checkpoints/%s/%s", orchestrator, r->deployment,
                 r->module) >= 0) {
        http_result res = {0};
        if (http_request_send("PUT", url, headers, 2, body, size, "application/octet-stream",
                              30000, &res)) {
            status = res.status;
            *answer = http_result_json(&res);
        }
        http_result_free(&res);
    } else {
        url = NULL;
    }
    *sent = size;
    free(url);
    free(body);
    return status;
}

static void adopt(instance_record *r, taken *t, const char *digest, uint64_t calls)
{
    free(r->hashes);
    r->hashes = t->hashes;
    r->chunk_count = t->chunk_count;
    t->hashes = NULL;
    r->rest_hash = lqcp_chunk_hash(t->rest, t->rest_size);
    snprintf(r->base, sizeof r->base, "%s", digest);
    r->calls_seen = calls;
    r->pending = false;
}

static void checkpoint_one(checkpointer *c, const char *orchestrator, deployment *d, size_t i)
{
    module_runtime *rt = d->runtimes[i];
    instance_record *r = record_of(c, d, i);
    uint64_t calls = module_runtime_call_count(rt);
    /* an instance no call has run in is what its deploy made: nothing to keep yet */
    if (!r || !calls || (calls == r->calls_seen && !r->pending && r->base[0]))
        return;
    char err[400] = "";
    taken t;
    if (!take(rt, r, &t, err, sizeof err))
        return;
    bool same_rest = r->base[0] && lqcp_chunk_hash(t.rest, t.rest_size) == r->rest_hash;
    if (same_rest && t.chunk_count == r->chunk_count && !t.changed_count && !r->pending) {
        r->calls_seen = calls;      /* a call that changed nothing */
        taken_free(&t);
        return;
    }
    json_t *answer = NULL;
    size_t sent = 0;
    long status = send(orchestrator, r, &t, &answer, &sent);
    const char *text = json_string_value(json_object_get(answer, "errorText"));
    if (status == 409 && text && !strcmp(text, "unknown base")) {
        r->base[0] = 0;             /* the orchestrator has no base: a full one, taken anew */
        json_decref(answer);
        answer = NULL;
        taken_free(&t);
        if (!take(rt, r, &t, err, sizeof err))
            return;
        status = send(orchestrator, r, &t, &answer, &sent);
        text = json_string_value(json_object_get(answer, "errorText"));
    }
    const char *digest = json_string_value(json_object_get(answer, "digest"));
    if (status == 200 && digest) {
        log_info("checkpoint.sent", "deployment=%s module=%s bytes=%zu memory=%llu "
                 "copied=%zu locked_ms=%.3f base=%s", d->id, r->module, sent,
                 (unsigned long long)t.memory_size, t.changed_count * (size_t)LQCP_CHUNK,
                 t.locked_ms, r->base[0] ? "previous" : "none");
        adopt(r, &t, digest, calls);
    } else {
        /* no answer or a failing orchestrator is retried; a refusal (stale epoch, an
         * orchestrator without checkpoints) waits for the next call */
        r->pending = status == 0 || status >= 500;
        r->calls_seen = calls;
        log_warn("checkpoint.failed", "deployment=%s module=%s status=%ld reason=%s", d->id,
                 r->module, status, log_quote(text ? text : status ? "(no errorText)"
                                                               : "no answer"));
    }
    json_decref(answer);
    taken_free(&t);
}

/* ------------------------------------------------------------- the thread */

static void round_of_checkpoints(checkpointer *c)
{
    char *orchestrator = device_orchestrator_url(c->sv->device);
    if (!orchestrator)
        return;
    size_t count;
    deployment **all = deployment_store_snapshot(c->sv->deployments, &count);
    for (size_t i = 0; i < count; i++) {
        for (size_t j = 0; j < all[i]->manifest->module_count; j++)
            checkpoint_one(c, orchestrator, all[i], j);
        deployment_release(all[i]);
    }
    free(all);
    free(orchestrator);
}

static void *checkpointer_main(void *arg)
{
    checkpointer *c = arg;
    uint64_t interval = (uint64_t)c->sv->config->checkpoint_interval_ms;
    for (;;) {
        pthread_mutex_lock(&c->lock);
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        uint64_t wait = interval ? interval : 3600000;
        deadline.tv_sec += (time_t)(wait / 1000);
        deadline.tv_nsec += (long)(wait % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        while (!c->poked && !c->stop &&
               pthread_cond_timedwait(&c->wake, &c->lock, &deadline) == 0)
            ;
        bool stop = c->stop;
        c->poked = false;
        pthread_mutex_unlock(&c->lock);
        if (stop)
            return NULL;
        round_of_checkpoints(c);
    }
}

checkpointer *checkpointer_start(supervisor *sv)
{
    if (!sv->config->checkpoint_interval_ms && !sv->config->checkpoint_after_call)
        return NULL;
    checkpointer *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->sv = sv;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    if (pthread_create(&c->thread, NULL, checkpointer_main, c) != 0) {
        pthread_mutex_destroy(&c->lock);
        pthread_cond_destroy(&c->wake);
        free(c);
        return NULL;
    }
    return c;
}

void checkpointer_poke(checkpointer *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->poked = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
}

void checkpointer_stop(checkpointer *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stop = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    for (size_t i = 0; i < c->record_count; i++) {
        free(c->records[i].deployment);
        free(c->records[i].module);
        free(c->records[i].hashes);
    }
    free(c->records);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->wake);
    free(c);
}
