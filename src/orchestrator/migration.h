/*
 * migration.h — moving a placed step to another device with its state, and what the
 * orchestrator keeps of module state (docs/migration.md is the contract with the
 * supervisors; docs/orchestrator.md, "Moving functions", says what a user sees).
 *
 *   migration.c         planned migration of one step: target, node, the source's
 *                       transfer, placement stored, routes pushed, source dropped
 *   migration_routes.c  POST /file/manifest/{id}/migrate, POST /liquid/drain,
 *                       POST /liquid/move-away, GET /liquid/route/{dep}/{module},
 *                       PUT /liquid/checkpoints/{dep}/{module}: liquid_routes[]
 *   checkpoint.c        the LQCP and LQSB formats: a checkpoint applied to its base
 *   checkpoint_store.c  the newest checkpoint per module instance (SQLite + blobs),
 *                       and sending it to a device that replaces a lost one
 *
 * Everything here changes deployments under the placement lock (placement.h).
 */
#ifndef LIQUID_ORCHESTRATOR_MIGRATION_H
#define LIQUID_ORCHESTRATOR_MIGRATION_H

#include "orchestrator/orchestrator.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern const http_route liquid_routes[];
extern const size_t liquid_route_count;

/* ---- planned migration (migration.c) */

typedef struct migration_request {
    const char *deployment;     /* id or name */
    long step;                  /* index into the sequence, or -1: by module */
    const char *module;         /* the step's module name (or its name on its device) */
    const char *device;         /* target id or name; NULL: the solver chooses */
    const char *trigger;        /* "api", "drain", "move-away" */
    const char *reason;         /* in words, for the record; may be NULL */
} migration_request;

/* Migrates one step. Answers with *status (200 done; 4xx the request; 409 busy, not
 * deployed or no device can take it; 502 a device refused) and *answer (the
 * migration record, or an error body naming why). A failed migration leaves the
 * deployment as it was. */
void migration_run(orchestrator *o, const migration_request *m, int *status, json_t **answer);

/* Migrates every step placed on device (id or name) away, and keeps the solver off
 * it until it is lost and comes back. *answer: {"device", "migrations": [records],
 * "failed": N}. */
void migration_drain(orchestrator *o, const char *device, int *status, json_t **answer);

/* ---- the devices the solver must not choose (placement.c) */

/* A device being drained: the solver places nothing new on it (steps pinned there,
 * which are the steps still on it, stay until they move). */
void placement_set_leaving(placement *p, const char *device_id, bool leaving);
bool placement_is_leaving(placement *p, const char *device_id);
/* The source of the migration being placed: step `step` may not stay on device_id
 * (NULL: no such step). One at a time, set and cleared under the placement lock. */
void placement_set_step_leaving(placement *p, long step, const char *device_id);
const char *placement_step_leaving(placement *p, size_t step);
/* A deployment whose step has moved (the target holds its state) while its new
 * placement is being sent and recorded: route lookups answer from `next` meanwhile
 * (NULL clears it). placement_moving returns a reference, or NULL. */
void placement_set_moving(placement *p, const char *deployment_id, const json_t *next);
json_t *placement_moving(placement *p, const char *deployment_id);
/* One migration per deployment at a time: false when one is running already. */
bool placement_claim_migration(placement *p, const char *deployment_id);
void placement_release_migration(placement *p, const char *deployment_id);
bool placement_migration_running(placement *p, const char *deployment_id);

/* ---- counters for /metrics (placement.c) */

#define MIGRATION_BUCKETS 10
extern const double migration_unavailable_bounds[MIGRATION_BUCKETS];
typedef struct migration_counters {
    uint64_t completed, failed;
    uint64_t unavailable[MIGRATION_BUCKETS + 1];   /* cumulative, the last is +Inf */
    double unavailable_seconds_sum;
    uint64_t checkpoints, checkpoint_bytes;        /* bytes received */
    uint64_t checkpoints_restored;
    uint64_t reroutes;                             /* GET /liquid/route answered */
    uint64_t executions_retried;
} migration_counters;
void migration_count_done(placement *p, bool ok, double unavailable_ms);
void migration_count_checkpoint(placement *p, uint64_t bytes_received);
void migration_count_restored(placement *p);
void migration_count_reroute(placement *p);
void migration_count_retry(placement *p);
void migration_counters_get(placement *p, migration_counters *out);

#endif
