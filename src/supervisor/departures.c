/*
 * departures.c — moved modules and stale deployments (see departures.h). A short
 * list under one lock: entries are few (one per migration out) and expire. The
 * whole list is rewritten to disk on each change; that is cheap at this size and
 * keeps the file a plain JSON array a user can read.
 */
#define _GNU_SOURCE
#include "supervisor/departures.h"

#include "base/fs.h"
#include "base/log.h"

#include <errno.h>
#include <jansson.h>
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
    char *path;                 /* NULL: kept in memory only */
    entry *head;
};

#define MAX_FILE_BYTES ((size_t)16 << 20)

static double clock_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double now_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

static void entry_free(entry *e)
{
    free(e->deployment);
    free(e->module);
    free(e->target);
    free(e->target_module);
    free(e);
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
    free(d->path);
    free(d);
}

/* ---- on disk: [{"kind": "moved", "deployment", "module", "target", "targetModule",
 * "expiresAt": unix ms or 0}, {"kind": "stale", "deployment", "held", "seen"}] */

static json_t *entry_json(const entry *e, double now_mono, double now_wall)
{
    if (e->kind == DEPARTURE_STALE)
        return json_pack("{s:s, s:s, s:I, s:I}", "kind", "stale", "deployment", e->deployment,
                         "held", (json_int_t)e->held, "seen", (json_int_t)e->seen);
    /* monotonic time means nothing after a restart: keep the wall-clock expiry */
    json_int_t expires = e->expires_ms ? (json_int_t)(now_wall + (e->expires_ms - now_mono))
                                       : 0;
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "kind", "moved", "deployment",
                     e->deployment, "module", e->module, "target", e->target, "targetModule",
                     e->target_module, "expiresAt", expires);
}

/* Writes the list to disk; lock held. A failure is logged: the markers still hold
 * in memory, only a restart would forget them. */
static void save(departures *d)
{
    if (!d->path)
        return;
    double now_mono = now_ms(), now_wall = clock_ms(CLOCK_REALTIME);
    json_t *list = json_array();
    for (entry *e = d->head; e && list; e = e->next)
        json_array_append_new(list, entry_json(e, now_mono, now_wall));
    char *text = list ? json_dumps(list, JSON_INDENT(1)) : NULL;
    json_decref(list);
    char err[512] = "out of memory";
    if (!text || !fs_write_atomic(d->path, text, strlen(text), 0644, err, sizeof err))
        log_error("departures.not_saved", "path=%s reason=%s", log_quote(d->path),
                  log_quote(err));
    free(text);
}

static const char *string_of(const json_t *item, const char *key)
{
    return json_string_value(json_object_get(item, key));
}

static bool epoch_of(const json_t *item, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(item, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

/* One marker read back; *out NULL (and true) when it expired meanwhile. */
static bool entry_from_json(const json_t *item, entry **out, char *why, size_t why_size)
{
    *out = NULL;
    const char *kind = string_of(item, "kind"), *deployment = string_of(item, "deployment");
    if (!kind || !deployment) {
        snprintf(why, why_size, "a marker without a \"kind\" or \"deployment\" string");
        return false;
    }
    entry *e = calloc(1, sizeof *e);
    if (!e || !(e->deployment = strdup(deployment))) {
        free(e);
        snprintf(why, why_size, "out of memory");
        return false;
    }
    bool ok = true;
    if (!strcmp(kind, "stale")) {
        e->kind = DEPARTURE_STALE;
        ok = epoch_of(item, "held", &e->held) && epoch_of(item, "seen", &e->seen);
        if (!ok)
            snprintf(why, why_size, "stale marker of %s without \"held\" and \"seen\" "
                     "epochs", deployment);
    } else if (!strcmp(kind, "moved")) {
        e->kind = DEPARTURE_MOVED;
        const char *module = string_of(item, "module"), *target = string_of(item, "target");
        const char *as = string_of(item, "targetModule");
        json_t *expires = json_object_get(item, "expiresAt");
        ok = module && target && as && json_is_integer(expires);
        if (!ok) {
            snprintf(why, why_size, "moved marker of %s without \"module\", \"target\", "
                     "\"targetModule\" or \"expiresAt\"", deployment);
        } else {
            e->module = strdup(module);
            e->target = strdup(target);
            e->target_module = strdup(as);
            double left = (double)json_integer_value(expires) - clock_ms(CLOCK_REALTIME);
            if (json_integer_value(expires) && left <= 0) {
                entry_free(e);      /* expired while the supervisor was down */
                return true;
            }
            e->expires_ms = json_integer_value(expires) ? now_ms() + left : 0;
        }
    } else {
        snprintf(why, why_size, "unknown marker kind '%.40s'", kind);
        ok = false;
    }
    if (!ok) {
        entry_free(e);
        return false;
    }
    *out = e;
    return true;
}

static bool load(departures *d, char *err, size_t err_size)
{
    char *text = NULL;
    size_t size = 0;
    char why[400];
    if (!fs_read_file(d->path, MAX_FILE_BYTES, &text, &size, why, sizeof why)) {
        if (errno == ENOENT)
            return true;        /* nothing ever left this device */
        snprintf(err, err_size, "cannot read the moved-module markers: %s", why);
        return false;
    }
    json_error_t jerr;
    json_t *list = json_loadb(text, size, 0, &jerr);
    free(text);
    bool ok = json_is_array(list);
    if (!ok)
        snprintf(why, sizeof why, "%s", list ? "not a JSON array" : jerr.text);
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) {
        entry *e;
        if (!ok || !(ok = entry_from_json(item, &e, why, sizeof why)))
            break;
        if (e) {
            e->next = d->head;
            d->head = e;
        }
    }
    json_decref(list);
    if (!ok)
        snprintf(err, err_size, "the moved-module markers in %s are damaged (%s); they say "
                 "where modules that left this device went: repair the file, or remove it "
                 "if those redirects no longer matter", d->path, why);
    return ok;
}

departures *departures_open(const char *path, uint64_t moved_ttl_ms, char *err,
                            size_t err_size)
{
    departures *d = calloc(1, sizeof *d);
    if (!d || (path && !(d->path = strdup(path)))) {
        free(d);
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&d->lock, NULL);
    d->moved_ttl_ms = moved_ttl_ms;
    if (d->path && !load(d, err, err_size)) {
        departures_free(d);
        return NULL;
    }
    return d;
}

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Unlinks expired entries and those matching (deployment, module); lock held.
 * Returns how many matched. */
static size_t prune(departures *d, const char *deployment, const char *module,
                    bool match_any_module)
{
    size_t matched = 0;
    double now = now_ms();
    for (entry **p = &d->head; *p;) {
        entry *e = *p;
        bool expired = e->expires_ms && e->expires_ms <= now;
        bool matches = deployment && !strcmp(e->deployment, deployment) &&
                       (match_any_module || same(e->module, module));
        matched += matches;
        if (expired || matches) {
            *p = e->next;
            entry_free(e);
        } else {
            p = &e->next;
        }
    }
    return matched;
}

static void add(departures *d, entry *e)
{
    pthread_mutex_lock(&d->lock);
    prune(d, e->deployment, e->module, false);
    e->next = d->head;
    d->head = e;
    save(d);
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
    size_t forgotten = prune(d, deployment, NULL, false);
    for (size_t i = 0; i < module_count; i++)
        forgotten += prune(d, deployment, modules[i], false);
    if (forgotten)      /* every deploy comes here: write only when something went */
        save(d);
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
