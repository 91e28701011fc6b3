/*
 * fleet.c — the table of devices, how a change to one is recorded (store, status log,
 * event), and the fleet's life: start, stop, snapshots for the solver.
 *
 * Memory holds what the health loop and the solver need at hand; the store holds the
 * same facts (and the status log) so that they survive a restart and so that the
 * routes answer the reference's documents. Every change is decided under `lock`,
 * then written and published under `write_lock` alone (fleet_internal.h).
 */
#define _GNU_SOURCE
#include "orchestrator/fleet_internal.h"
#include "orchestrator/events.h"
#include "orchestrator/fleet_probe.h"
#include "orchestrator/store.h"

#include "base/ids.h"
#include "base/log.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RTT_SMOOTHING 0.3           /* weight of the newest sample */

double fleet_monotonic(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- table */

fleet_member *fleet_find_locked(fleet *f, const char *id_or_name)
{
    if (!id_or_name)
        return NULL;
    for (size_t i = 0; i < f->count; i++)
        if (strcmp(f->devices[i]->id, id_or_name) == 0)
            return f->devices[i];
    for (size_t i = 0; i < f->count; i++)
        if (strcmp(f->devices[i]->name, id_or_name) == 0)
            return f->devices[i];
    return NULL;
}

fleet_member *fleet_add_locked(fleet *f, const char *name)
{
    if (f->count == f->capacity) {
        size_t capacity = f->capacity ? f->capacity * 2 : 16;
        fleet_member **grown = realloc(f->devices, capacity * sizeof *grown);
        if (!grown)
            return NULL;
        f->devices = grown;
        f->capacity = capacity;
    }
    fleet_member *d = calloc(1, sizeof *d);
    if (!d || !(d->name = strdup(name))) {
        free(d);
        return NULL;
    }
    ids_new_object_id(d->id);
    d->health.state = DEVICE_ACTIVE;
    f->devices[f->count++] = d;
    return d;
}

void fleet_member_free(fleet_member *d)
{
    if (!d)
        return;
    free(d->name);
    for (size_t i = 0; i < d->address_count; i++)
        free(d->addresses[i]);
    free(d->addresses);
    free(d->url);
    json_decref(d->description);
    json_decref(d->report);
    free(d);
}

void fleet_remove_locked(fleet *f, fleet_member *d)
{
    for (size_t i = 0; i < f->count; i++)
        if (f->devices[i] == d) {
            f->devices[i] = f->devices[--f->count];
            fleet_member_free(d);
            return;
        }
}

bool fleet_set_address_locked(fleet_member *d, size_t index)
{
    if (index >= d->address_count)
        return false;
    char *url = fleet_base_url(d->addresses[index], d->port);
    if (!url)
        return false;
    free(d->url);
    d->url = url;
    d->address_index = index;
    return true;
}

/* ------------------------------------------------------------ documents */

static json_t *health_json(const fleet_member *d)
{
    json_t *h = json_object();
    json_object_set(h, "report", d->report ? d->report : json_null());
    json_object_set_new(h, "timeOfQuery",
                        d->report_time[0] ? json_string(d->report_time) : json_null());
    return h;
}

/* The members the health loop changes, for store_device_update. */
json_t *fleet_health_updates(const fleet_member *d)
{
    json_t *u = json_pack("{so sI sI sf sb}", "health", health_json(d),
                          "failedHealthCheckCount", (json_int_t)d->health.failures,
                          "okHealthCheckCount", (json_int_t)d->health.successes, "rttMs",
                          round(d->rtt_ms * 1000) / 1000, "blacklisted", d->blacklisted);
    if (u && d->url)
        json_object_set_new(u, "url", json_string(d->url));
    return u;
}

/* The whole document of store.h's device shape. */
json_t *fleet_member_document(const fleet_member *d)
{
    json_t *addresses = json_array();
    for (size_t i = 0; i < d->address_count; i++)
        json_array_append_new(addresses, json_string(d->addresses[i]));
    json_t *doc = fleet_health_updates(d);
    if (!doc) {
        json_decref(addresses);
        return NULL;
    }
    json_object_set_new(doc, "_id", json_string(d->id));
    json_object_set_new(doc, "name", json_string(d->name));
    json_object_set_new(doc, "communication",
                        json_pack("{so si}", "addresses", addresses, "port", (int)d->port));
    json_object_set(doc, "description", d->description ? d->description : json_null());
    json_object_set_new(doc, "status", json_string(device_state_name(d->health.state)));
    return doc;
}

json_t *fleet_event_data(const fleet_member *d, device_state previous, bool has_previous,
                         const char *reason)
{
    return json_pack("{ss ss ss? ss so sb ss?}", "id", d->id, "name", d->name, "url", d->url,
                     "state", device_state_name(d->health.state), "previous",
                     has_previous ? json_string(device_state_name(previous)) : json_null(),
                     "blacklisted", d->blacklisted, "reason", reason);
}

/* -------------------------------------------------------------- changes */

fleet_change *fleet_change_add(fleet_changes *c, const fleet_member *d)
{
    if (c->count == c->capacity) {
        size_t capacity = c->capacity ? c->capacity * 2 : 8;
        fleet_change *grown = realloc(c->items, capacity * sizeof *grown);
        if (!grown)
            return NULL;
        c->items = grown;
        c->capacity = capacity;
    }
    fleet_change *change = &c->items[c->count++];
    memset(change, 0, sizeof *change);
    snprintf(change->id, sizeof change->id, "%s", d->id);
    return change;
}

static const char *state_event(device_state state)
{
    switch (state) {
    case DEVICE_ACTIVE: return "device.active";
    case DEVICE_SUSPECT: return "device.suspect";
    default: return "device.lost";
    }
}

void fleet_change_state(fleet_changes *c, const fleet_member *d, device_state previous,
                        const char *reason)
{
    fleet_change *change = fleet_change_add(c, d);
    if (!change)
        return;
    change->status = device_state_name(d->health.state);
    change->reason = strdup(reason);
    change->event = state_event(d->health.state);
    change->event_data = fleet_event_data(d, previous, true, reason);
    log_info(change->event, "device=%s name=%s from=%s reason=%s", d->id, log_quote(d->name),
             device_state_name(previous), log_quote(reason));
}

static void write_change(fleet *f, const fleet_change *change)
{
    char err[512] = "";
    store_result r = STORE_OK;
    if (change->deleted) {
        r = store_device_delete(f->store, change->id, err, sizeof err);
        if (r == STORE_NOT_FOUND)
            r = STORE_OK;
    }
    if (r == STORE_OK && change->document)
        r = store_device_put(f->store, change->document, err, sizeof err);
    if (r == STORE_OK && change->updates)
        r = store_device_update(f->store, change->id, change->updates, NULL, err, sizeof err);
    if (r == STORE_OK && change->status)
        r = store_device_set_status(f->store, change->id, change->status, change->reason, NULL,
                                    err, sizeof err);
    /* A device deleted meanwhile by a user has nothing left to update. */
    if (r != STORE_OK && r != STORE_NOT_FOUND)
        log_error("fleet.store_failed", "device=%s error=%s", change->id, log_quote(err));
}

void fleet_apply_changes(fleet *f, fleet_changes *c)
{
    if (c->count == 0) {
        free(c->items);
        *c = (fleet_changes){0};
        return;
    }
    char err[512] = "";
    bool tx = f->store && store_begin(f->store, err, sizeof err);
    if (f->store && !tx)
        log_error("fleet.store_failed", "error=%s", log_quote(err));
    for (size_t i = 0; f->store && i < c->count; i++)
        write_change(f, &c->items[i]);
    if (tx && !store_commit(f->store, err, sizeof err))
        log_error("fleet.store_failed", "error=%s", log_quote(err));
    for (size_t i = 0; i < c->count; i++) {
        fleet_change *change = &c->items[i];
        if (change->event && f->events) {
            events_publish(f->events, change->event, change->id, change->event_data);
            change->event_data = NULL;
        }
        json_decref(change->event_data);
        json_decref(change->updates);
        json_decref(change->document);
        free(change->reason);
    }
    free(c->items);
    *c = (fleet_changes){0};
}

/* ------------------------------------------------------------- checking */

/* Load from the report, 0..1; the Python supervisor reports CPU in percent. */
static double load_of(const json_t *report, const char *key)
{
    const json_t *v = json_object_get(report, key);
    if (!json_is_number(v))
        return 0;
    double x = json_number_value(v);
    if (x > 1)
        x /= 100;
    return x < 0 ? 0 : x > 1 ? 1 : x;
}

void fleet_record_check_locked(fleet *f, fleet_member *d, bool ok, json_t *report,
                               double rtt_ms, const char *error, fleet_changes *c)
{
    device_state previous = d->health.state;
    bool changed = device_health_record(&d->health, &f->thresholds, ok);
    store_now_iso(d->report_time);
    json_decref(d->report);
    d->report = ok ? report : NULL;
    if (!ok)
        json_decref(report);
    if (ok)
        d->rtt_ms = d->rtt_ms > 0 ? RTT_SMOOTHING * rtt_ms + (1 - RTT_SMOOTHING) * d->rtt_ms
                                  : rtt_ms;
    fleet_change *update = fleet_change_add(c, d);
    if (update)
        update->updates = fleet_health_updates(d);
    if (!changed)
        return;
    char reason[512];
    if (ok)
        snprintf(reason, sizeof reason, "%u good health check%s in a row", d->health.successes,
                 d->health.successes == 1 ? "" : "s");
    else
        snprintf(reason, sizeof reason, "%u failed health check%s in a row: %s",
                 d->health.failures, d->health.failures == 1 ? "" : "s",
                 error && *error ? error : "no answer");
    fleet_change_state(c, d, previous, reason);
}

/* --------------------------------------------------------------- views */

static void view_of(const fleet_member *d, device_view *v)
{
    memset(v, 0, sizeof *v);
    snprintf(v->id, sizeof v->id, "%s", d->id);
    v->name = strdup(d->name);
    v->url = d->url ? strdup(d->url) : NULL;
    v->state = d->health.state;
    v->blacklisted = d->blacklisted;
    v->description = d->description ? json_deep_copy(d->description) : json_object();
    v->health = d->report ? json_deep_copy(d->report) : NULL;
    v->rtt_ms = d->rtt_ms;
    v->cpu = load_of(d->report, "cpuUsage");
    v->memory = load_of(d->report, "memoryUsage");
}

void fleet_view_clear(device_view *v)
{
    if (!v)
        return;
    free(v->name);
    free(v->url);
    json_decref(v->description);
    json_decref(v->health);
    memset(v, 0, sizeof *v);
}

void fleet_views_free(device_view *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        fleet_view_clear(&v[i]);
    free(v);
}

size_t fleet_snapshot(fleet *f, device_view **out)
{
    *out = NULL;
    pthread_mutex_lock(&f->lock);
    size_t n = f->count;
    device_view *views = n ? calloc(n, sizeof *views) : NULL;
    if (views)
        for (size_t i = 0; i < n; i++)
            view_of(f->devices[i], &views[i]);
    pthread_mutex_unlock(&f->lock);
    *out = views;
    return views ? n : 0;
}

bool fleet_device(fleet *f, const char *id_or_name, device_view *out)
{
    pthread_mutex_lock(&f->lock);
    fleet_member *d = fleet_find_locked(f, id_or_name);
    if (d)
        view_of(d, out);
    pthread_mutex_unlock(&f->lock);
    return d != NULL;
}

void fleet_counters_get(fleet *f, fleet_counters *out)
{
    pthread_mutex_lock(&f->lock);
    *out = f->counters;
    memset(out->devices, 0, sizeof out->devices);
    out->blacklisted = 0;
    for (size_t i = 0; i < f->count; i++) {
        out->devices[f->devices[i]->health.state]++;
        if (f->devices[i]->blacklisted)
            out->blacklisted++;
    }
    pthread_mutex_unlock(&f->lock);
}

/* ------------------------------------------------------ peers and users */

bool fleet_set_blacklisted(fleet *f, const char *id_or_name, bool blacklisted, char *id_out)
{
    fleet_changes c = {0};
    pthread_mutex_lock(&f->write_lock);
    pthread_mutex_lock(&f->lock);
    fleet_member *d = fleet_find_locked(f, id_or_name);
    if (d) {
        snprintf(id_out, 25, "%s", d->id);
        bool was = d->blacklisted;
        device_state previous = d->health.state;
        d->blacklisted = blacklisted;
        if (blacklisted)
            device_health_force(&d->health, DEVICE_LOST);
        else
            d->health.failures = d->health.successes = 0;
        fleet_change *change = fleet_change_add(&c, d);
        if (change) {
            change->updates = fleet_health_updates(d);
            const char *reason = blacklisted ? "blacklisted by a user"
                                             : "unblacklisted by a user: health checks resume";
            if (blacklisted && previous != DEVICE_LOST) {
                change->status = device_state_name(DEVICE_LOST);
                change->reason = strdup(reason);
            }
            if (was != blacklisted) {
                change->event = blacklisted ? "device.blacklisted" : "device.unblacklisted";
                change->event_data = fleet_event_data(d, previous, true, reason);
                log_info(change->event, "device=%s name=%s", d->id, log_quote(d->name));
            }
        }
        if (!blacklisted)
            f->round_requested = true;      /* check it now rather than in an interval */
        pthread_cond_broadcast(&f->wake);
    }
    pthread_mutex_unlock(&f->lock);
    fleet_apply_changes(f, &c);
    pthread_mutex_unlock(&f->write_lock);
    return d != NULL;
}

bool fleet_delete(fleet *f, const char *id_or_name, char *id_out)
{
    fleet_changes c = {0};
    pthread_mutex_lock(&f->write_lock);
    pthread_mutex_lock(&f->lock);
    fleet_member *d = fleet_find_locked(f, id_or_name);
    bool found = d != NULL;
    if (d) {
        snprintf(id_out, 25, "%s", d->id);
        fleet_change *change = fleet_change_add(&c, d);
        if (change) {
            change->deleted = true;
            change->event = "device.deleted";
            change->event_data = fleet_event_data(d, d->health.state, true, "deleted by a user");
        }
        log_info("device.deleted", "device=%s name=%s", d->id, log_quote(d->name));
        fleet_remove_locked(f, d);
    }
    pthread_mutex_unlock(&f->lock);
    fleet_apply_changes(f, &c);
    pthread_mutex_unlock(&f->write_lock);
    return found;
}

size_t fleet_delete_all(fleet *f)
{
    fleet_changes c = {0};
    pthread_mutex_lock(&f->write_lock);
    pthread_mutex_lock(&f->lock);
    size_t n = f->count;
    while (f->count > 0) {
        fleet_member *d = f->devices[f->count - 1];
        fleet_change *change = fleet_change_add(&c, d);
        if (change) {
            change->deleted = true;
            change->event = "device.deleted";
            change->event_data = fleet_event_data(d, d->health.state, true,
                                                  "all devices deleted by a user");
        }
        fleet_remove_locked(f, d);
    }
    pthread_mutex_unlock(&f->lock);
    fleet_apply_changes(f, &c);
    /* Devices only the store knew (none, normally) go too. */
    long long left = 0;
    char err[256];
    if (f->store && store_device_delete_all(f->store, &left, err, sizeof err) != STORE_OK)
        log_error("fleet.store_failed", "error=%s", log_quote(err));
    pthread_mutex_unlock(&f->write_lock);
    log_info("device.deleted_all", "count=%zu", n + (size_t)left);
    return n + (size_t)left;
}

/* ------------------------------------------------------------ loading */

static char *dup_string(const json_t *v)
{
    return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

/* A device document from the store back into memory. */
static bool load_device(fleet *f, const json_t *doc)
{
    const char *id = json_string_value(json_object_get(doc, "_id"));
    const char *name = json_string_value(json_object_get(doc, "name"));
    if (!id || !name || !ids_is_object_id(id))
        return false;
    fleet_member *d = fleet_add_locked(f, name);
    if (!d)
        return false;
    snprintf(d->id, sizeof d->id, "%s", id);
    const json_t *communication = json_object_get(doc, "communication");
    const json_t *addresses = json_object_get(communication, "addresses");
    size_t i;
    const json_t *a;
    d->addresses = calloc(json_array_size(addresses) + 1, sizeof *d->addresses);
    json_array_foreach(addresses, i, a) if (d->addresses && json_is_string(a))
        d->addresses[d->address_count++] = strdup(json_string_value(a));
    d->port = (uint16_t)json_integer_value(json_object_get(communication, "port"));
    d->url = dup_string(json_object_get(doc, "url"));
    if (!d->url)
        fleet_set_address_locked(d, 0);
    for (size_t k = 0; d->url && k < d->address_count; k++) {
        char *candidate = fleet_base_url(d->addresses[k], d->port);
        if (candidate && strcmp(candidate, d->url) == 0)
            d->address_index = k;
        free(candidate);
    }
    json_t *description = json_object_get(doc, "description");
    d->description = json_is_object(description) ? json_incref(description) : NULL;
    const json_t *health = json_object_get(doc, "health");
    json_t *report = json_object_get(health, "report");
    d->report = report && !json_is_null(report) ? json_incref(report) : NULL;
    snprintf(d->report_time, sizeof d->report_time, "%s",
             json_string_value(json_object_get(health, "timeOfQuery")) ?: "");
    if (!device_state_parse(json_string_value(json_object_get(doc, "status")), &d->health.state))
        d->health.state = DEVICE_SUSPECT;
    d->health.failures = (unsigned)json_integer_value(json_object_get(doc, "failedHealthCheckCount"));
    d->health.successes = (unsigned)json_integer_value(json_object_get(doc, "okHealthCheckCount"));
    d->blacklisted = json_is_true(json_object_get(doc, "blacklisted"));
    json_t *rtt = json_object_get(doc, "rttMs");
    d->rtt_ms = json_is_number(rtt) ? json_number_value(rtt) : 0;
    return true;
}

static bool load_devices(fleet *f, char *err, size_t err_size)
{
    json_t *list = NULL;
    if (store_device_list(f->store, &list, err, err_size) != STORE_OK)
        return false;
    size_t i;
    json_t *doc;
    pthread_mutex_lock(&f->lock);
    json_array_foreach(list, i, doc) if (!load_device(f, doc))
        log_warn("fleet.device_skipped", "index=%zu reason=%s", i,
                 log_quote("a stored device lacks an id or a name"));
    size_t n = f->count;
    pthread_mutex_unlock(&f->lock);
    json_decref(list);
    log_info("fleet.loaded", "devices=%zu", n);
    return true;
}

/* ------------------------------------------------------------ life */

static void public_host_of(const char *url, char *out, size_t out_size)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = *p == '[' ? strcspn(p + 1, "]") : strcspn(p, ":/?#");
    snprintf(out, out_size, "%.*s", (int)n, *p == '[' ? p + 1 : p);
}

fleet *fleet_start(orchestrator *o, char *err, size_t err_size)
{
    fleet *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    f->o = o;
    f->store = o->store;
    f->events = o->events;
    f->thresholds = health_thresholds_or_defaults(o->settings.suspect_after,
                                                  o->settings.lost_after,
                                                  o->settings.active_after);
    f->interval_ms = o->settings.health_interval_ms ? o->settings.health_interval_ms : 2000;
    f->mdns = o->settings.mdns;
    if (o->settings.public_url) {
        f->public_url = strdup(o->settings.public_url);
        size_t len = f->public_url ? strlen(f->public_url) : 0;
        while (len > 0 && f->public_url[len - 1] == '/')
            f->public_url[--len] = '\0';
        public_host_of(o->settings.public_url, f->public_host, sizeof f->public_host);
    }
    pthread_mutex_init(&f->write_lock, NULL);
    pthread_mutex_init(&f->lock, NULL);
    pthread_mutex_init(&f->browser_lock, NULL);
    pthread_mutex_init(&f->lease_lock, NULL);
    pthread_condattr_t monotonic;
    pthread_condattr_init(&monotonic);
    pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);   /* the health loop's timer */
    pthread_cond_init(&f->wake, &monotonic);
    pthread_condattr_destroy(&monotonic);
    pthread_cond_init(&f->turn, NULL);
    pthread_cond_init(&f->queue_ready, NULL);
    if ((f->store && !load_devices(f, err, err_size)) || !fleet_health_start(f, err, err_size) ||
        (f->mdns && !fleet_discovery_start(f, err, err_size))) {
        fleet_stop(f);
        return NULL;
    }
    log_info("fleet.started", "interval_ms=%u suspect_after=%u lost_after=%u active_after=%u "
             "mdns=%s public_url=%s", f->interval_ms, f->thresholds.suspect_after,
             f->thresholds.lost_after, f->thresholds.active_after, f->mdns ? "on" : "off",
             log_quote(f->public_url ? f->public_url : ""));
    return f;
}

void fleet_stop(fleet *f)
{
    if (!f)
        return;
    fleet_discovery_stop(f);
    fleet_health_stop(f);
    for (size_t i = 0; i < f->count; i++)
        fleet_member_free(f->devices[i]);
    free(f->devices);
    for (size_t i = 0; i < f->report_count; i++)
        free(f->reports[i].reason);
    free(f->reports);
    free(f->introducing);
    free(f->public_url);
    pthread_mutex_destroy(&f->write_lock);
    pthread_mutex_destroy(&f->lock);
    pthread_mutex_destroy(&f->browser_lock);
    pthread_mutex_destroy(&f->lease_lock);
    pthread_cond_destroy(&f->wake);
    pthread_cond_destroy(&f->turn);
    pthread_cond_destroy(&f->queue_ready);
    free(f);
}
