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

void lease_renew(lease *l, uint64_t duration_ms)
{
    atomic_store(&l->renewed_ms, lease_now_ms());
    atomic_store(&l->duration_ms, duration_ms);
}

bool lease_expired(lease *l, uint64_t *duration_ms)
{
    uint64_t duration = atomic_load(&l->duration_ms);
    *duration_ms = duration;
    return duration && lease_now_ms() - atomic_load(&l->renewed_ms) > duration;
}
