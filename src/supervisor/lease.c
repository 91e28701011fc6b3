/*
 * lease.c — the orchestrator's lease on this supervisor (see lease.h).
 */
#include "supervisor/lease.h"

#include <time.h>

uint64_t lease_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#define LEASE_WITHHELD_MS 1

void lease_renew(lease *l, uint64_t duration_ms)
{
    uint64_t unused;
    if (duration_ms <= LEASE_WITHHELD_MS) {
        atomic_store(&l->grants_while_fenced, 0);
        atomic_store(&l->renewed_ms, 0);
        atomic_store(&l->duration_ms, LEASE_WITHHELD_MS);
        return;
    }
    if (lease_expired(l, &unused) && atomic_fetch_add(&l->grants_while_fenced, 1) + 1 < 2)
        return;
    atomic_store(&l->grants_while_fenced, 0);
    atomic_store(&l->renewed_ms, lease_now_ms());
    atomic_store(&l->duration_ms, duration_ms);
}

bool lease_expired(lease *l, uint64_t *duration_ms)
{
    uint64_t duration = atomic_load(&l->duration_ms);
    *duration_ms = duration;
    return duration && lease_now_ms() - atomic_load(&l->renewed_ms) > duration;
}
