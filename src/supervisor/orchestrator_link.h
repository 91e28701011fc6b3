/*
 * orchestrator_link.h — how the supervisor is found by and talks to its orchestrator:
 *
 * - mDNS advertisement of _webthing._tcp for the whole uptime (TXT path=/, tls=0,
 *   address=<ip>), with a goodbye at stop;
 * - direct registration POST {url}/file/device/discovery/register when an orchestrator
 *   URL is known (WASMIOT_ORCHESTRATOR_URL / flag / POST /register);
 * - renewal as the reference does: re-advertise and re-register after
 *   WASMIOT_REGISTER_RENEWAL_TIME without a health check from the orchestrator;
 * - log forwarding: a log sink POSTing form field logData=<json> to <url>/device/logs
 *   (or WASMIOT_LOGGING_ENDPOINT) from a background thread with a bounded queue (never
 *   blocks the caller; drops the oldest, counting them, while the orchestrator is down).
 */
#ifndef LIQUID_SUPERVISOR_ORCHESTRATOR_LINK_H
#define LIQUID_SUPERVISOR_ORCHESTRATOR_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct orchestrator_link_config {
    const char *device_name;
    uint16_t port;
    const char *address;           /* advertised IPv4; NULL: the primary interface's */
    bool mdns;                     /* false: no multicast at all (loopback demos and tests) */
    const char *orchestrator_url;  /* NULL: none yet */
    const char *logging_endpoint;  /* NULL: <orchestrator_url>/device/logs */
    unsigned renewal_seconds;      /* 0: 900 */
} orchestrator_link_config;

typedef struct orchestrator_link orchestrator_link;

/* Copies the config. Starts advertising (if mdns) and registering (if a URL is known)
 * in the background; returns at once. NULL on failure, with the reason in err. */
orchestrator_link *orchestrator_link_start(const orchestrator_link_config *config,
                                           char *err, size_t err_size);
void orchestrator_link_set_url(orchestrator_link *link, const char *url);   /* POST /register */
char *orchestrator_link_url(orchestrator_link *link);       /* malloc'ed copy or NULL */
/* Called by GET /health: if the request came from the orchestrator (X-Forwarded-For or peer
 * address matches the orchestrator URL's host), the renewal timer restarts. */
void orchestrator_link_health_checked(orchestrator_link *link, const char *forwarded_for,
                                      const char *peer_address);
void orchestrator_link_stop(orchestrator_link *link);       /* goodbye + final log flush */

#endif
