/*
 * fleet_state.h — a device's health state with hysteresis, as a pure function of
 * check results, so that it can be tested without a network or a clock.
 *
 *     active  --suspect_after failures in a row-->  suspect
 *     suspect --lost_after failures in a row----->  lost      (straight from active too
 *                                                              when suspect_after >= lost_after)
 *     suspect, lost --active_after good checks in a row--> active
 *
 * A good check while suspect does not make the device active at once: one answer
 * after a failure is not yet trust. The counters are the reference's
 * okHealthCheckCount and failedHealthCheckCount: each resets the other.
 */
#ifndef LIQUID_ORCHESTRATOR_FLEET_STATE_H
#define LIQUID_ORCHESTRATOR_FLEET_STATE_H

#include "orchestrator/fleet.h"

#include <stdbool.h>

typedef struct health_thresholds {
    unsigned suspect_after;     /* >= 1 */
    unsigned lost_after;        /* >= 1 */
    unsigned active_after;      /* >= 1 */
} health_thresholds;

typedef struct device_health {
    device_state state;
    unsigned failures;          /* consecutive failed checks */
    unsigned successes;         /* consecutive good checks */
} device_health;

/* Fills zero thresholds with the defaults (1, 3, 2). */
health_thresholds health_thresholds_or_defaults(unsigned suspect_after, unsigned lost_after,
                                                unsigned active_after);

/* Applies one check; returns true when the state changed (h->state is the new one). */
bool device_health_record(device_health *h, const health_thresholds *t, bool ok);

/* Forces a state (mDNS goodbye, blacklisting): counters restart from zero. Returns
 * true when the state changed. */
bool device_health_force(device_health *h, device_state state);

#endif
