/*
 * fleet.h — the orchestrator's devices: discovery, introduction, health.
 *
 * Devices come from mDNS browsing for _webthing._tcp (unless settings.mdns is off)
 * and from POST /file/device/discovery/register; a device's identity is its name
 * (wasmiot-api.md §3.3). A new or re-registered device is introduced: its
 * description is fetched from each of its addresses until one answers, then it is
 * health-checked at once; a device none of whose addresses answers is not kept.
 *
 * The health loop checks every device that is not blacklisted, all in parallel,
 * every settings.health_interval_ms: GET /health with X-Forwarded-For set to our
 * public host (a supervisor restarts its re-advertising timer on it), measuring the
 * round-trip time. States move with hysteresis (fleet_state.h):
 *
 *     active --suspect_after failures--> suspect --lost_after failures--> lost
 *     suspect or lost --active_after good checks--> active
 *
 * An mDNS goodbye makes a device lost at once (it stays known, and is checked still);
 * blacklisting makes it lost and stops its checks; unblacklisting resumes them, and
 * active_after good checks make it active again. A peer's report of a failed call
 * (fleet_report_failure) counts as a failed check.
 *
 * Every change is written to the store (the device document of store.h, its status
 * log) and published on the event bus with subject = the device's id and data:
 *
 *     {"id", "name", "url", "state": "active|suspect|lost", "previous": state|null,
 *      "blacklisted": bool, "reason": "why, in words"}
 *
 *   device.found         a new device was introduced (state active)
 *   device.updated       a known device re-registered (addresses, port or description)
 *   device.active        back to active
 *   device.suspect       first failures
 *   device.lost          enough failures, or an mDNS goodbye: placement re-places its steps
 *   device.blacklisted   blacklisted by a user (state lost): placement re-places its steps too
 *   device.unblacklisted checks resume (the state stays lost until active_after good checks)
 *   device.deleted       removed by a user
 *
 * A device placement may use: state == DEVICE_ACTIVE && !blacklisted (fleet_usable).
 */
#ifndef LIQUID_ORCHESTRATOR_FLEET_H
#define LIQUID_ORCHESTRATOR_FLEET_H

#include "orchestrator/orchestrator.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum device_state { DEVICE_ACTIVE, DEVICE_SUSPECT, DEVICE_LOST } device_state;

/* "active", "suspect", "lost"; and back (false for any other text). */
const char *device_state_name(device_state state);
bool device_state_parse(const char *name, device_state *out);

/* A copy of what the fleet knows of one device; the caller owns it (fleet_view_clear). */
typedef struct device_view {
    char id[25];
    char *name;
    char *url;              /* "http://10.0.0.5:8080": the address that answered last */
    device_state state;
    bool blacklisted;
    json_t *description;    /* {"platform": {...}, "supervisorInterfaces": [...], ...} */
    json_t *health;         /* the last health report, or NULL before the first answer */
    double rtt_ms;          /* smoothed round-trip time of health checks; 0 before one */
    double cpu;             /* load 0..1 from the health report (a percentage is scaled) */
    double memory;          /* 0..1 from the health report */
} device_view;

/* Loads the devices the store knows, starts mDNS browsing (settings.mdns) and the
 * health loop. o->store and o->events must be set; o->settings is read once here.
 * NULL on failure, with the reason in err. */
fleet *fleet_start(orchestrator *o, char *err, size_t err_size);
/* Stops browsing and the health loop (waits for a round in flight). */
void fleet_stop(fleet *f);

/* A consistent copy of every device, for the solver; *out is malloc'ed (NULL when
 * there are none). Free with fleet_views_free. */
size_t fleet_snapshot(fleet *f, device_view **out);
void fleet_views_free(device_view *v, size_t n);
/* One device by id or name; false if unknown. Free out with fleet_view_clear. */
bool fleet_device(fleet *f, const char *id_or_name, device_view *out);
void fleet_view_clear(device_view *v);
static inline bool fleet_usable(const device_view *v)
{
    return v->state == DEVICE_ACTIVE && !v->blacklisted;
}

/* A peer (supervisor or executor) reports that a device failed to answer: counts like
 * a failed health check, at most once per device per health interval. Unknown ids are
 * ignored. Usually applied (and its event published) before this returns; while the
 * fleet is writing another change it is queued and applied moments later, so a caller
 * inside a store transaction never waits on the fleet. */
void fleet_report_failure(fleet *f, const char *device_id, const char *reason);

/* The orchestrator part (orchestrator.c's parts[]): fleet_start into o->fleet, and
 * fleet_stop. Start it after the events part. */
bool fleet_part_start(orchestrator *o, char *err, size_t err_size);
void fleet_part_stop(orchestrator *o);

/* ---- the lease (docs/migration.md, Epochs): each health probe carries
 * X-Liquid-Lease-Ms: lease_ms and X-Liquid-Epochs: what the device should hold.
 * fn returns {"<deviceId>": "dep1=7,dep2=3"} (a new reference) once per round; a
 * device it does not name is sent "-" (it should hold nothing). fn NULL: no lease
 * headers. Unsetting waits for a call of fn in progress. */
typedef json_t *(*fleet_epochs_fn)(void *user);
void fleet_set_lease(fleet *f, unsigned lease_ms, fleet_epochs_fn fn, void *user);

/* ---- counters for /metrics (monotonic for the life of the process) */
typedef struct fleet_counters {
    size_t devices[3];              /* by device_state, blacklisted ones included */
    size_t blacklisted;
    uint64_t health_checks;         /* checks made by the health loop and introductions */
    uint64_t health_check_failures;
    uint64_t introductions;         /* devices introduced (new or re-registered) */
    uint64_t introduction_failures; /* no address answered */
    uint64_t peer_failure_reports;  /* fleet_report_failure calls counted */
} fleet_counters;
void fleet_counters_get(fleet *f, fleet_counters *out);

/* ---- used by the routes (fleet_routes.c), and by tests */

/* Registers a device from the bonjour-like record of POST /file/device/discovery/register
 * (wasmiot-api.md §3.3): {"name", "port", "addresses"?, "host"?, "properties"?: {...}};
 * peer_address (where the request came from) is tried after the listed addresses, or
 * alone when none are listed. Introduces it (description, then an
 * immediate health check) before returning. false with a sentence in err, and
 * *status the HTTP status it deserves (400 bad record, 502 no address answered). */
bool fleet_register(fleet *f, const json_t *record, const char *peer_address, int *status,
                    char *err, size_t err_size);

#endif
