/*
 * device.h — what this device is and who knows about it: the device description and
 * health (from sysinfo), and the link to an orchestrator (mDNS advertisement, direct
 * registration, log forwarding; orchestrator_link). These are the only calls into
 * those parts, so the rest of the supervisor does not depend on how they work.
 */
#ifndef LIQUID_SUPERVISOR_DEVICE_H
#define LIQUID_SUPERVISOR_DEVICE_H

#include "supervisor/supervisor.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

device *device_new(const supervisor_config *config, char *err, size_t err_size);
/* Starts advertising and registering (once the deployments are serving). */
bool device_announce(device *d, uint16_t port, char *err, size_t err_size);
/* Says goodbye (mDNS), flushes forwarded logs, frees. */
void device_free(device *d);

/* {"platform": ..., "supervisorInterfaces": [...], "capabilities": {...}, "name": ...} */
json_t *device_description(device *d);
json_t *device_health(device *d);

bool device_has_orchestrator(device *d);
/* The orchestrator's URL (malloc'ed), or NULL when there is none. */
char *device_orchestrator_url(device *d);
/* POST /register: use this orchestrator from now on, and after a restart. */
bool device_set_orchestrator(device *d, const char *url, char *err, size_t err_size);
/* GET /health came in: restart the registration renewal timer if it came from the
 * orchestrator. */
void device_health_checked(device *d, const char *forwarded_for, const char *peer);

#endif
