/*
 * fleet_discovery.c — devices found by mDNS (wasmiot-api.md §4): a browser for
 * _webthing._tcp runs for the fleet's whole life. Its callbacks only queue what they
 * saw; one thread introduces the devices in the order they were seen, so the browser
 * never waits on a slow device and a goodbye never overtakes the arrival before it.
 */
#define _GNU_SOURCE
#include "orchestrator/fleet_internal.h"

#include "base/log.h"
#include "base/mdns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERVICE_TYPE "_webthing._tcp"
#define MAX_QUEUED 4096

/* Takes r (its contents) onto the queue; lock held. */
static void enqueue_locked(fleet *f, device_record *r)
{
    if (f->queue_count >= MAX_QUEUED) {
        log_warn("fleet.discovery_dropped", "name=%s reason=%s", log_quote(r->name),
                 log_quote("too many mDNS answers waiting to be introduced"));
        device_record_clear(r);
        return;
    }
    device_record *grown = realloc(f->queue, (f->queue_count + 1) * sizeof *grown);
    if (!grown) {
        device_record_clear(r);
        return;
    }
    f->queue = grown;
    f->queue[f->queue_count++] = *r;
    pthread_cond_broadcast(&f->queue_ready);
}

static void on_found(const mdns_found *found, void *user)
{
    fleet *f = user;
    device_record r = {.port = found->port, .source = "found by mDNS"};
    r.name = strdup(found->instance);
    r.addresses = calloc(2, sizeof *r.addresses);
    if (!r.name || !r.addresses) {
        device_record_clear(&r);
        return;
    }
    if (found->address && *found->address)
        r.addresses[r.address_count++] = strdup(found->address);
    /* The TXT record's address is tried too (the reference does), if it differs. */
    for (const char *const *t = found->txt; t && *t; t++)
        if (strncmp(*t, "address=", 8) == 0 && (*t)[8] &&
            (r.address_count == 0 || strcmp(r.addresses[0], *t + 8) != 0))
            r.addresses[r.address_count++] = strdup(*t + 8);
    log_debug("fleet.mdns_found", "name=%s address=%s port=%u", log_quote(found->instance),
              log_quote(found->address ? found->address : ""), (unsigned)found->port);
    pthread_mutex_lock(&f->lock);
    enqueue_locked(f, &r);
    pthread_mutex_unlock(&f->lock);
}

static void on_lost(const char *instance, void *user)
{
    fleet *f = user;
    device_record r = {.goodbye = true, .name = strdup(instance), .source = "mDNS goodbye"};
    if (!r.name)
        return;
    log_debug("fleet.mdns_lost", "name=%s", log_quote(instance));
    pthread_mutex_lock(&f->lock);
    enqueue_locked(f, &r);
    pthread_mutex_unlock(&f->lock);
}

static void *intro_thread(void *arg)
{
    fleet *f = arg;
    pthread_mutex_lock(&f->lock);
    while (!f->stopping) {
        if (f->queue_count == 0) {
            pthread_cond_wait(&f->queue_ready, &f->lock);
            continue;
        }
        device_record r = f->queue[0];
        memmove(f->queue, f->queue + 1, (f->queue_count - 1) * sizeof *f->queue);
        f->queue_count--;
        pthread_mutex_unlock(&f->lock);
        if (r.goodbye) {
            fleet_goodbye(f, r.name);
        } else if (r.address_count > 0) {
            char err[1536];
            int status;
            fleet_introduce(f, &r, &status, err, sizeof err);   /* it logs a failure */
        }
        device_record_clear(&r);
        pthread_mutex_lock(&f->lock);
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

/* browser_lock held. */
static bool start_browser_locked(fleet *f, char *err, size_t err_size)
{
    f->browser = mdns_browse_start(SERVICE_TYPE, on_found, on_lost, f, err, err_size);
    return f->browser != NULL;
}

bool fleet_discovery_start(fleet *f, char *err, size_t err_size)
{
    if (pthread_create(&f->intro_thread, NULL, intro_thread, f) != 0) {
        snprintf(err, err_size, "cannot start the device-introduction thread");
        return false;
    }
    f->intro_running = true;
    char why[512] = "";
    pthread_mutex_lock(&f->browser_lock);
    bool ok = start_browser_locked(f, why, sizeof why);
    pthread_mutex_unlock(&f->browser_lock);
    if (!ok) {
        snprintf(err, err_size, "cannot browse for devices over mDNS: %s (with --no-mdns, "
                 "devices register with POST /file/device/discovery/register instead)", why);
        return false;
    }
    log_info("fleet.browsing", "type=%s", SERVICE_TYPE);
    return true;
}

void fleet_discovery_stop(fleet *f)
{
    pthread_mutex_lock(&f->browser_lock);
    mdns_browser *b = f->browser;
    f->browser = NULL;
    pthread_mutex_unlock(&f->browser_lock);
    if (b)
        mdns_browse_stop(b);        /* no callback runs after this */
    pthread_mutex_lock(&f->lock);
    f->stopping = true;
    pthread_cond_broadcast(&f->queue_ready);
    pthread_cond_broadcast(&f->wake);
    pthread_mutex_unlock(&f->lock);
    if (f->intro_running)
        pthread_join(f->intro_thread, NULL);
    f->intro_running = false;
    for (size_t i = 0; i < f->queue_count; i++)
        device_record_clear(&f->queue[i]);
    free(f->queue);
    f->queue = NULL;
    f->queue_count = 0;
}

bool fleet_discovery_reset(fleet *f, char *err, size_t err_size)
{
    if (!f->mdns)
        return true;        /* nothing to browse: registrations are the only source */
    /* Held throughout, so two resets at once make one browser, not two. The
     * browser's callbacks never take this lock. */
    pthread_mutex_lock(&f->browser_lock);
    if (f->browser)
        mdns_browse_stop(f->browser);
    bool ok = start_browser_locked(f, err, err_size);
    pthread_mutex_unlock(&f->browser_lock);
    if (!ok)
        return false;
    log_info("fleet.browsing", "type=%s reason=%s", SERVICE_TYPE, "discovery reset");
    return true;
}
