/*
 * fleet_state.c — the hysteresis of device health (see fleet_state.h).
 */
#include "orchestrator/fleet_state.h"

#include <string.h>

#define DEFAULT_SUSPECT_AFTER 1
#define DEFAULT_LOST_AFTER 3
#define DEFAULT_ACTIVE_AFTER 2

static const char *const state_names[] = {"active", "suspect", "lost"};

const char *device_state_name(device_state state)
{
    return (unsigned)state < 3 ? state_names[state] : "unknown";
}

bool device_state_parse(const char *name, device_state *out)
{
    for (unsigned i = 0; name && i < 3; i++)
        if (strcmp(name, state_names[i]) == 0) {
            *out = (device_state)i;
            return true;
        }
    return false;
}

health_thresholds health_thresholds_or_defaults(unsigned suspect_after, unsigned lost_after,
                                                unsigned active_after)
{
    return (health_thresholds){
        .suspect_after = suspect_after ? suspect_after : DEFAULT_SUSPECT_AFTER,
        .lost_after = lost_after ? lost_after : DEFAULT_LOST_AFTER,
        .active_after = active_after ? active_after : DEFAULT_ACTIVE_AFTER,
    };
}

static device_state after_failure(const device_health *h, const health_thresholds *t)
{
    if (h->failures >= t->lost_after)
        return DEVICE_LOST;
    if (h->state == DEVICE_ACTIVE && h->failures >= t->suspect_after)
        return DEVICE_SUSPECT;
    return h->state;
}

bool device_health_record(device_health *h, const health_thresholds *t, bool ok)
{
    device_state before = h->state;
    if (ok) {
        h->failures = 0;
        h->successes++;
        if (h->state != DEVICE_ACTIVE && h->successes >= t->active_after)
            h->state = DEVICE_ACTIVE;
    } else {
        h->successes = 0;
        h->failures++;
        h->state = after_failure(h, t);
    }
    return h->state != before;
}

bool device_health_force(device_health *h, device_state state)
{
    device_state before = h->state;
    h->state = state;
    h->failures = 0;
    h->successes = 0;
    return state != before;
}
