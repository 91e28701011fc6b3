/*
 * departures.c — moved modules and stale deployments (see departures.h). A short
 * list under one lock: entries are few (one per migration out) and expire.
 */
#include "supervisor/departures.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct entry {
    departure_kind kind;
    char *deployment;
    char *module;               /* NULL for a stale deployment */
    char *target, *target_module;
    uint64_t held, seen;
    double expires_ms;          /* monotonic; 0: never */
    struct entry *next;
} entry;

struct departures {
    pthread_mutex_t lock;
    uint64_t moved_ttl_ms;
    entry *head;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void entry_free(entry *e)
{
    free(e->deployment);
    free(e->module);
    free(e->target);
    free(e->target_module);
    free(e);
}

departures *departures_new(uint64_t moved_ttl_ms)
{
    departures *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    pthread_mutex_init(&d->lock, NULL);
    d->moved_ttl_ms = moved_ttl_ms;
    return d;
}

void departures_free(departures *d)
{
    if (!d)
        return;
    for (entry *e = d->head, *next; e; e = next) {
        next = e->next;
        entry_free(e);
    }
    pthread_mutex_destroy(&d->lock);
    free(d);
}

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Unlinks expired entries and those matching (deployment, module); lock held. */
static void prune(departures *d, const char *deployment, const char *module, bool match_any_module)
{
    double now = now_ms();
    for (entry **p = &d->head; *p;) {
        entry *e = *p;
        bool expired = e->expires_ms && e->expires_ms <= now;
        bool matches = deployment && !strcmp(e->deployment, deployment) &&
                       (match_any_module || same(e->module, module));
        if (expired || matches) {
            *p = e->next;
            entry_free(e);
        } else {
            p = &e->next;
        }
    }
}

static void add(departures *d, entry *e)
{
    pthread_mutex_lock(&d->lock);
    prune(d, e->deployment, e->module, false);
    e->next = d->head;
    d->head = e;
    pthread_mutex_unlock(&d->lock);
}

void departures_moved(departures *d, const char *deployment, const char *module,
                      const char *target, const char *target_module)
{
    entry *e = calloc(1, sizeof *e);
    if (!e)
        return;
    e->kind = DEPARTURE_MOVED;
    e->deployment = strdup(deployment);
    e->module = strdup(module);
    e->target = strdup(target);
    e->target_module = strdup(target_module);
    e->expires_ms = d->moved_ttl_ms ? now_ms() + (double)d->moved_ttl_ms : 0;
    if (!e->deployment || !e->module || !e->target || !e->target_module) {
        entry_free(e);
        return;
    }
    add(d, e);
}

void departures_stale(departures *d, const char *deployment, uint64_t held, uint64_t seen)
{
    entry *e = calloc(1, sizeof *e);
    if (!e)
        return;
    e->kind = DEPARTURE_STALE;
    e->deployment = strdup(deployment);
    e->held = held;
    e->seen = seen;
    if (!e->deployment) {
        entry_free(e);
        return;
    }
    add(d, e);
}

void departures_forget(departures *d, const char *deployment, const char *const *modules,
                       size_t module_count)
{
    pthread_mutex_lock(&d->lock);
    prune(d, deployment, NULL, false);
    for (size_t i = 0; i < module_count; i++)
        prune(d, deployment, modules[i], false);
    pthread_mutex_unlock(&d->lock);
}

departure departures_find(departures *d, const char *deployment, const char *module)
{
    departure found = {.kind = DEPARTURE_NONE};
    pthread_mutex_lock(&d->lock);
    prune(d, NULL, NULL, false);
    for (entry *e = d->head; e; e = e->next) {
        if (strcmp(e->deployment, deployment))
            continue;
        if (e->kind == DEPARTURE_STALE) {
            found = (departure){.kind = DEPARTURE_STALE, .held = e->held, .seen = e->seen};
            break;      /* the whole deployment is gone: nothing else matters */
        }
        if (module && !strcmp(e->module, module)) {
            found.kind = DEPARTURE_MOVED;
            snprintf(found.target, sizeof found.target, "%s", e->target);
            snprintf(found.target_module, sizeof found.target_module, "%s", e->target_module);
        }
    }
    pthread_mutex_unlock(&d->lock);
    return found;
}

size_t departures_count(departures *d)
{
    size_t n = 0;
    pthread_mutex_lock(&d->lock);
    prune(d, NULL, NULL, false);
    for (entry *e = d->head; e; e = e->next)
        n++;
    pthread_mutex_unlock(&d->lock);
    return n;
}
