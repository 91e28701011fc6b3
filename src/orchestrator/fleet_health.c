/*
 * fleet_health.c — the health loop: every interval, GET /health on every device that
 * is not blacklisted, all at once, and record each answer (fleet_state.h decides the
 * state; fleet.c writes and announces the change). Between rounds it applies the
 * failures peers report (fleet_report_failure), so a caller inside a store
 * transaction never waits for the fleet.
 *
 * Rounds start at a fixed rate: a round that takes longer than the interval (every
 * device timing out) is followed by the next at once, never by a pile of them.
 */
#define _GNU_SOURCE
#include "orchestrator/fleet_internal.h"
#include "orchestrator/fleet_probe.h"

#include "base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIN_TIMEOUT_MS 200
#define MAX_TIMEOUT_MS 10000

typedef struct target {
    char id[25];
    char *url;
    size_t hint;                /* its index in devices[] when the round began */
    bool active;                /* when the round began: only an active device gets a lease */
} target;

/* The lease a probe grants a device that is not active: 1 ms, run out on arrival. A
 * probe to a suspect or lost device may reach it late (its TCP segments are resent when
 * a cut link comes back, even after we gave up on it), after its steps were placed
 * elsewhere; such a probe must never let it serve again. */
#define LEASE_WITHHELD_MS 1

/* -------------------------------------------------------- peer reports */

/* Counts each report as a failed check; write_lock held. Frees the reasons. */
static void apply_reports_held(fleet *f, peer_report *reports, size_t n)
{
    fleet_changes c = {0};
    double now = fleet_monotonic();
    double interval_s = f->interval_ms / 1000.0;
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < n; i++) {
        fleet_member *d = fleet_find_locked(f, reports[i].id);
        /* Many calls failing at once are one piece of news, not many: at most one
         * report counts per device per interval. */
        if (!d || d->blacklisted || (d->last_peer_report > 0 &&
                                     now - d->last_peer_report < interval_s))
            continue;
        d->last_peer_report = now;
        f->counters.peer_failure_reports++;
        char reason[512];
        snprintf(reason, sizeof reason, "reported by a peer: %s", reports[i].reason);
        log_info("device.peer_failure", "device=%s name=%s reason=%s", d->id,
                 log_quote(d->name), log_quote(reports[i].reason));
        fleet_record_check_locked(f, d, false, NULL, 0, reason, &c);
    }
    pthread_mutex_unlock(&f->lock);
    fleet_apply_changes(f, &c);
    for (size_t i = 0; i < n; i++)
        free(reports[i].reason);
}

static void apply_reports(fleet *f, peer_report *reports, size_t n)
{
    pthread_mutex_lock(&f->write_lock);
    apply_reports_held(f, reports, n);
    pthread_mutex_unlock(&f->write_lock);
    free(reports);
}

/* At once when no other change is being written (so the caller sees its effect when
 * this returns, in the common case); otherwise queued for the health thread, so that
 * a caller holding a store transaction never waits for a fleet change that waits for
 * the store. */
void fleet_report_failure(fleet *f, const char *device_id, const char *reason)
{
    if (!f || !device_id)
        return;
    peer_report report;
    snprintf(report.id, sizeof report.id, "%s", device_id);
    report.reason = strdup(reason ? reason : "a peer could not reach it");
    if (!report.reason)
        return;
    if (pthread_mutex_trylock(&f->write_lock) == 0) {
        apply_reports_held(f, &report, 1);
        pthread_mutex_unlock(&f->write_lock);
        return;
    }
    pthread_mutex_lock(&f->lock);
    peer_report *grown = realloc(f->reports, (f->report_count + 1) * sizeof *grown);
    if (grown) {
        f->reports = grown;
        f->reports[f->report_count++] = report;
        pthread_cond_broadcast(&f->wake);
    } else {
        free(report.reason);
    }
    pthread_mutex_unlock(&f->lock);
}

/* --------------------------------------------------------------- rounds */

static fleet_member *find_with_hint(fleet *f, const target *t)
{
    if (t->hint < f->count && strcmp(f->devices[t->hint]->id, t->id) == 0)
        return f->devices[t->hint];
    return fleet_find_locked(f, t->id);
}

static size_t collect_targets(fleet *f, target **out)
{
    pthread_mutex_lock(&f->lock);
    target *targets = f->count ? calloc(f->count, sizeof *targets) : NULL;
    size_t n = 0;
    for (size_t i = 0; targets && i < f->count; i++) {
        fleet_member *d = f->devices[i];
        if (d->blacklisted || !d->url)
            continue;
        snprintf(targets[n].id, sizeof targets[n].id, "%s", d->id);
        targets[n].hint = i;
        targets[n].active = d->health.state == DEVICE_ACTIVE;
        if ((targets[n].url = strdup(d->url)))
            n++;
    }
    pthread_mutex_unlock(&f->lock);
    *out = targets;
    return n;
}

static void record_round(fleet *f, target *targets, health_probe *probes, size_t n,
                         bool *needs_register)
{
    fleet_changes c = {0};
    pthread_mutex_lock(&f->write_lock);
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < n; i++) {
        fleet_member *d = find_with_hint(f, &targets[i]);
        /* Deleted, blacklisted or re-registered elsewhere while we asked: the
         * answer is not about the device as it is now. */
        if (!d || d->blacklisted || !d->url || strcmp(d->url, targets[i].url) != 0)
            continue;
        health_probe *p = &probes[i];
        f->counters.health_checks++;
        if (!p->ok)
            f->counters.health_check_failures++;
        fleet_record_check_locked(f, d, p->ok, p->report, p->rtt_ms, p->error, &c);
        p->report = NULL;
        /* Several addresses: try the next one next time. */
        if (!p->ok && d->address_count > 1)
            fleet_set_address_locked(d, (d->address_index + 1) % d->address_count);
        needs_register[i] = p->ok && !p->orchestrator_set;
    }
    pthread_mutex_unlock(&f->lock);
    fleet_apply_changes(f, &c);
    pthread_mutex_unlock(&f->write_lock);
}

static void run_round(fleet *f)
{
    target *targets = NULL;
    size_t n = collect_targets(f, &targets);
    health_probe *probes = n ? calloc(n, sizeof *probes) : NULL;
    bool *needs_register = n ? calloc(n, sizeof *needs_register) : NULL;
    json_t *epochs = NULL;
    unsigned lease_ms = 0;
    if (n && probes && needs_register) {
        pthread_mutex_lock(&f->lease_lock);
        if (f->epochs_fn) {
            epochs = f->epochs_fn(f->epochs_user);
            lease_ms = f->lease_ms;
        }
        pthread_mutex_unlock(&f->lease_lock);
        for (size_t i = 0; i < n; i++) {
            probes[i].url = targets[i].url;
            if (epochs) {
                const char *held = json_string_value(json_object_get(epochs, targets[i].id));
                probes[i].epochs = held ? held : "-";
                probes[i].lease_ms = targets[i].active ? lease_ms : LEASE_WITHHELD_MS;
            }
        }
        long timeout = f->interval_ms < MIN_TIMEOUT_MS   ? MIN_TIMEOUT_MS
                       : f->interval_ms > MAX_TIMEOUT_MS ? MAX_TIMEOUT_MS
                                                         : (long)f->interval_ms;
        health_prober_run(f->prober, probes, n, f->public_host, timeout);
        record_round(f, targets, probes, n, needs_register);
        for (size_t i = 0; i < n; i++)
            if (needs_register[i])
                fleet_register_with_device(f, targets[i].id, targets[i].url);
    }
    for (size_t i = 0; i < n; i++) {
        if (probes)
            health_probe_clear(&probes[i]);
        free(targets[i].url);
    }
    free(probes);
    free(needs_register);
    free(targets);
    json_decref(epochs);
}

void fleet_set_lease(fleet *f, unsigned lease_ms, fleet_epochs_fn fn, void *user)
{
    pthread_mutex_lock(&f->lease_lock);
    f->lease_ms = lease_ms;
    f->epochs_fn = fn;
    f->epochs_user = user;
    pthread_mutex_unlock(&f->lease_lock);
}

/* --------------------------------------------------------------- thread */

static struct timespec monotonic_at(double seconds)
{
    struct timespec t;
    t.tv_sec = (time_t)seconds;
    t.tv_nsec = (long)((seconds - (double)t.tv_sec) * 1e9);
    return t;
}

static void *health_thread(void *arg)
{
    fleet *f = arg;
    double interval_s = f->interval_ms / 1000.0;
    double next_round = fleet_monotonic();
    pthread_mutex_lock(&f->lock);
    while (!f->stopping) {
        if (f->report_count > 0) {
            peer_report *reports = f->reports;
            size_t n = f->report_count;
            f->reports = NULL;
            f->report_count = 0;
            pthread_mutex_unlock(&f->lock);
            apply_reports(f, reports, n);
            pthread_mutex_lock(&f->lock);
            continue;
        }
        double now = fleet_monotonic();
        if (f->round_requested || now >= next_round) {
            f->round_requested = false;
            pthread_mutex_unlock(&f->lock);
            run_round(f);
            pthread_mutex_lock(&f->lock);
            next_round = now + interval_s;
            continue;
        }
        struct timespec until = monotonic_at(next_round);
        pthread_cond_timedwait(&f->wake, &f->lock, &until);
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

bool fleet_health_start(fleet *f, char *err, size_t err_size)
{
    f->prober = health_prober_new();
    if (!f->prober) {
        snprintf(err, err_size, "cannot start the health checks: curl did not initialise");
        return false;
    }
    if (pthread_create(&f->health_thread, NULL, health_thread, f) != 0) {
        snprintf(err, err_size, "cannot start the health-check thread");
        return false;
    }
    f->health_running = true;
    return true;
}

void fleet_health_stop(fleet *f)
{
    pthread_mutex_lock(&f->lock);
    f->stopping = true;
    pthread_cond_broadcast(&f->wake);
    pthread_cond_broadcast(&f->queue_ready);
    pthread_mutex_unlock(&f->lock);
    if (f->health_running)
        pthread_join(f->health_thread, NULL);
    f->health_running = false;
    health_prober_free(f->prober);
    f->prober = NULL;
}
