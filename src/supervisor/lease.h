/*
 * lease.h — fencing (docs/migration.md, "Lease"): the orchestrator's health probe
 * carries X-Liquid-Lease-Ms: L. A supervisor that has heard no probe for L ms may have
 * been cut off and replaced, so it stops serving the orchestrator's deployments until
 * the next probe says which are still its own. The orchestrator declares a device lost
 * only after three failed probes (later than L), so a device that cannot hear it
 * always stops first: no instance is ever served by two devices.
 *
 * A supervisor never given a lease (no orchestrator, or a reference one) is never
 * fenced.
 */
#ifndef LIQUID_SUPERVISOR_LEASE_H
#define LIQUID_SUPERVISOR_LEASE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct lease {
    _Atomic uint64_t duration_ms;   /* 0: never given one */
    _Atomic uint64_t renewed_ms;    /* monotonic ms of the last probe */
    _Atomic unsigned grants_while_fenced;
} lease;

/* A probe's grant. A lease of 1 ms or less is withheld (the orchestrator does not count
 * this device as active): fenced at once. Once fenced, it takes two grants in a row to
 * serve again: a single grant may be an old probe delivered late, when a cut link came
 * back, and the next one (an interval later) says what is really placed here. */
void lease_renew(lease *l, uint64_t duration_ms);
/* True when a lease was given and has run out; *duration_ms says how long it was. */
bool lease_expired(lease *l, uint64_t *duration_ms);
uint64_t lease_now_ms(void);

#endif
