/*
 * fleet_internal.h — what the fleet's files share (fleet.c: the table of devices and
 * how a change is recorded; fleet_intro.c: registration and introduction;
 * fleet_health.c: the health loop; fleet_probe.c: parallel GET /health;
 * fleet_discovery.c: mDNS; fleet_routes.c: HTTP).
 *
 * Locks, in the order they are taken:
 *   write_lock   one change at a time: decide it, write it to the store, publish it,
 *                so the store and the events see changes in the order they were made
 *   (the store's and the event bus's own locks)
 *   lock         the table below; held only to read or change memory, never across
 *                network calls or store calls
 * Network calls (probes, descriptions, /register) hold no lock at all.
 */
#ifndef LIQUID_ORCHESTRATOR_FLEET_INTERNAL_H
#define LIQUID_ORCHESTRATOR_FLEET_INTERNAL_H

#include "orchestrator/fleet.h"
#include "orchestrator/fleet_state.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct mdns_browser mdns_browser;
typedef struct health_prober health_prober;

typedef struct fleet_member {
    char id[25];
    char *name;
    char **addresses;
    size_t address_count;
    uint16_t port;
    size_t address_index;       /* the address url uses */
    char *url;                  /* "http://address:port" */
    json_t *description;
    json_t *report;             /* last health report; NULL after a failed check */
    char report_time[32];
    device_health health;
    bool blacklisted;
    double rtt_ms;
    double last_peer_report;    /* monotonic s of the last counted fleet_report_failure */
    double last_register;       /* monotonic s of the last POST /register we sent it */
} fleet_member;

/* A device as an mDNS answer or a registration describes it. */
typedef struct device_record {
    char *name;
    char **addresses;
    size_t address_count;
    uint16_t port;
    bool goodbye;               /* mDNS: the device left */
    const char *source;         /* "registration", "mDNS": for reasons and logs */
} device_record;

typedef struct peer_report {
    char id[25];
    char *reason;
} peer_report;

/* One change, recorded under the lock and written and published after it. */
typedef struct fleet_change {
    char id[25];
    json_t *updates;            /* top-level members for store_device_update, or NULL */
    json_t *document;           /* a whole new document for store_device_put, or NULL */
    const char *status;         /* new status for store_device_set_status, or NULL */
    char *reason;
    const char *event;          /* event type to publish, or NULL */
    json_t *event_data;
    bool deleted;               /* store_device_delete */
} fleet_change;

typedef struct fleet_changes {
    fleet_change *items;
    size_t count, capacity;
} fleet_changes;

struct fleet {
    orchestrator *o;
    store *store;
    events *events;
    health_thresholds thresholds;
    unsigned interval_ms;
    char *public_url;           /* no trailing slash; what POST /register tells devices */
    char public_host[256];      /* X-Forwarded-For of health checks */
    bool mdns;

    pthread_mutex_t write_lock;
    pthread_mutex_t lock;
    pthread_cond_t wake;        /* the health thread: stop, reports, early round */
    pthread_cond_t turn;        /* introductions of one name, one at a time */
    fleet_member **devices;
    size_t count, capacity;
    bool stopping;

    char **introducing;         /* names being introduced */
    size_t introducing_count;

    peer_report *reports;       /* fleet_report_failure, applied by the health thread */
    size_t report_count;
    bool round_requested;

    pthread_t health_thread;
    bool health_running;
    health_prober *prober;

    /* discovery: mDNS answers are queued for the introduction thread */
    pthread_mutex_t browser_lock;
    mdns_browser *browser;
    device_record *queue;
    size_t queue_count;
    pthread_cond_t queue_ready;
    pthread_t intro_thread;
    bool intro_running;

    fleet_counters counters;    /* the monotonic ones; devices[] is computed */

    /* the lease each probe grants (fleet_set_lease); lease_lock is held while
     * epochs_fn runs, so unsetting it waits for a call in progress */
    pthread_mutex_t lease_lock;
    fleet_epochs_fn epochs_fn;
    void *epochs_user;
    unsigned lease_ms;
};

/* ---- fleet.c */
double fleet_monotonic(void);
fleet_member *fleet_find_locked(fleet *f, const char *id_or_name);
fleet_member *fleet_add_locked(fleet *f, const char *name);
void fleet_remove_locked(fleet *f, fleet_member *d);
void fleet_member_free(fleet_member *d);
bool fleet_set_address_locked(fleet_member *d, size_t index);
json_t *fleet_member_document(const fleet_member *d);
json_t *fleet_event_data(const fleet_member *d, device_state previous, bool has_previous,
                         const char *reason);
json_t *fleet_health_updates(const fleet_member *d);
fleet_change *fleet_change_add(fleet_changes *c, const fleet_member *d);
/* A state change of d (from `previous`) as a status write and its event. */
void fleet_change_state(fleet_changes *c, const fleet_member *d, device_state previous,
                        const char *reason);
/* Writes every change (one store transaction), then publishes their events; frees them.
 * Call with write_lock held and lock not held. */
void fleet_apply_changes(fleet *f, fleet_changes *c);
/* Applies one check result to d; records what changed. Lock held. */
void fleet_record_check_locked(fleet *f, fleet_member *d, bool ok, json_t *report,
                               double rtt_ms, const char *error, fleet_changes *c);

/* ---- fleet_intro.c */
bool fleet_record_parse(const json_t *record, const char *peer_address, device_record *out,
                        char *err, size_t err_size);
void device_record_clear(device_record *r);
/* Introduces (or re-introduces) a device; false with err and *status when none of its
 * addresses answered. */
bool fleet_introduce(fleet *f, const device_record *r, int *status, char *err,
                     size_t err_size);
/* Marks a device lost after an mDNS goodbye. */
void fleet_goodbye(fleet *f, const char *name);
/* POST /register {url} to a device whose health answer said it has no orchestrator. */
void fleet_register_with_device(fleet *f, const char *device_id, const char *url);
char *fleet_base_url(const char *address, uint16_t port);

/* ---- fleet_health.c */
bool fleet_health_start(fleet *f, char *err, size_t err_size);
void fleet_health_stop(fleet *f);

/* ---- fleet_discovery.c */
bool fleet_discovery_start(fleet *f, char *err, size_t err_size);
void fleet_discovery_stop(fleet *f);
/* POST /file/device/discovery/reset: browse anew, so every device present answers. */
bool fleet_discovery_reset(fleet *f, char *err, size_t err_size);

/* ---- fleet.c, for the routes */
bool fleet_set_blacklisted(fleet *f, const char *id_or_name, bool blacklisted, char *id_out);
bool fleet_delete(fleet *f, const char *id_or_name, char *id_out);
size_t fleet_delete_all(fleet *f);

#endif
