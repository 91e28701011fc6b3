/*
 * fleet_probe.h — GET /health on many devices at once (curl multi), measuring the
 * round-trip time of each.
 *
 * A prober keeps one curl multi handle, so the connections of one round are kept
 * alive for the next: after the first round a check costs one request and its answer,
 * which is also what the round-trip time then measures.
 */
#ifndef LIQUID_ORCHESTRATOR_FLEET_PROBE_H
#define LIQUID_ORCHESTRATOR_FLEET_PROBE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct health_probe {
    const char *url;            /* in: the device's base URL, "http://10.0.0.5:8080" */
    const char *epochs;         /* in: X-Liquid-Epochs, or NULL for no lease headers */
    unsigned lease_ms;          /* in: X-Liquid-Lease-Ms (with epochs) */
    bool ok;                    /* out: 200 with a JSON body (the reference's test) */
    long status;                /* HTTP status, 0 if no answer */
    json_t *report;             /* the body when ok; the caller takes it */
    bool orchestrator_set;      /* Custom-Orchestrator-Set: true */
    double rtt_ms;
    char error[256];            /* why it failed, in words */
    /* private */
    char *body;
    size_t body_size;
    bool body_too_large;
    struct curl_slist *headers; /* this probe's own headers (the lease) */
} health_probe;

typedef struct health_prober health_prober;
health_prober *health_prober_new(void);
void health_prober_free(health_prober *p);
/* Checks every probe's url + "/health" in parallel, each within timeout_ms, sending
 * X-Forwarded-For: forwarded_for (may be NULL). Returns when all have finished. */
void health_prober_run(health_prober *p, health_probe *probes, size_t n,
                       const char *forwarded_for, long timeout_ms);
/* Frees what a run left in a probe (report, body). */
void health_probe_clear(health_probe *probe);

#endif
