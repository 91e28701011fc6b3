/*
 * orchestrator.h — the control plane of one domain (`liquid orchestrator`).
 *
 * The orchestrator is one process made of parts that share this context:
 *
 *   store      SQLite (WAL) state: devices, modules, deployments, executions, logs, events
 *   blobs      content-addressed files (SHA-256): module binaries and data files
 *   events     the event bus: every change is an event, kept in the store and streamed
 *              on GET /events (server-sent events)
 *   fleet      devices: discovery (mDNS, registration), introduction, health loop,
 *              active -> suspect -> lost with hysteresis, blacklist
 *   placement  manifests: solve (filter, score, whole chain jointly), deploy (all or
 *              nothing), execute, and keep running (re-place when a device is lost)
 *
 * Each part contributes its HTTP routes as a table; orchestrator.c joins the tables and
 * starts one server whose handlers all receive the `orchestrator *` as user data.
 */
#ifndef LIQUID_ORCHESTRATOR_H
#define LIQUID_ORCHESTRATOR_H

#include "base/http_server.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store;
typedef struct blob_store blob_store;
typedef struct events events;
typedef struct fleet fleet;
typedef struct placement placement;

typedef struct orchestrator_settings {
    const char *bind_address;
    uint16_t port;
    const char *public_url;         /* how devices reach us: PUBLIC_HOST + PUBLIC_PORT */
    const char *data_dir;           /* store + blobs */
    bool mdns;                      /* browse _webthing._tcp */
    unsigned health_interval_ms;    /* default about 2000 */
    unsigned suspect_after;         /* failed checks before suspect */
    unsigned lost_after;            /* failed checks before lost */
    unsigned active_after;          /* good checks before a suspect/lost device is active again */
    size_t max_upload_bytes;
    unsigned blob_gc_grace_seconds; /* unreferenced blobs younger than this are kept */
} orchestrator_settings;

typedef struct orchestrator {
    orchestrator_settings settings;
    store *store;
    blob_store *blobs;
    events *events;
    fleet *fleet;
    placement *placement;
    http_server *server;
} orchestrator;

/* A part with threads or sockets of its own (events, fleet, placement): orchestrator.c
 * starts the parts in the order of its `parts[]` list, after the store and blobs and
 * before the server (settings.public_url is final by then), and stops them in reverse
 * order after the server has stopped, so no handler runs against a stopped part.
 * start returns false with a sentence in err to abort the start-up; stop may be NULL. */
typedef struct orchestrator_part {
    const char *name;
    bool (*start)(orchestrator *o, char *err, size_t err_size);
    void (*stop)(orchestrator *o);
} orchestrator_part;

/* Route tables of the parts (each defined in its part's routes file). */
extern const http_route module_routes[];
extern const size_t module_route_count;
extern const http_route device_routes[];
extern const size_t device_route_count;
extern const http_route event_routes[];          /* /events, /metrics, /device/logs */
extern const size_t event_route_count;
extern const http_route manifest_routes[];       /* /file/manifest..., /execute... */
extern const size_t manifest_route_count;
extern const http_route dashboard_routes[];      /* /, static files */
extern const size_t dashboard_route_count;

#endif
