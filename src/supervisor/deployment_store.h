/*
 * deployment_store.h — every deployment of this supervisor: deploying (fetch, check,
 * lay out, instantiate, then swap in), finding, listing, removing, and bringing them
 * all back after a restart.
 *
 * A deployment is built entirely beside the one it replaces; the swap is a pointer
 * change under a lock, so the old version serves until the new one is ready, and is
 * untouched if the new one fails. Deploys of the same id are serialized; deploys of
 * different ids run in parallel.
 */
#ifndef LIQUID_SUPERVISOR_DEPLOYMENT_STORE_H
#define LIQUID_SUPERVISOR_DEPLOYMENT_STORE_H

#include "supervisor/deployment.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct deploy_settings {
    const char *instance_dir;       /* deployments live in <instance_dir>/deployments */
    const char *camera_dir;         /* for camera.* host functions; NULL: none */
    const char *remote_functions;   /* for communication.rpcCall; may be NULL */
    manifest_limits default_limits; /* all three set */
    long download_timeout_ms;
    uint64_t max_download_bytes;
} deploy_settings;

typedef struct deployment_store deployment_store;

/* Opens the store and restores every deployment found on disk (a deployment that
 * cannot be restored is logged and skipped, its files kept). NULL with the reason in
 * err if the deployments directory cannot be created. */
deployment_store *deployment_store_open(const deploy_settings *settings, char *err,
                                        size_t err_size);
/* Frees the store (deployments still referenced by calls stay alive until released). */
void deployment_store_close(deployment_store *store);

/* Deploys a mini-manifest. Returns the HTTP status to answer with: 200, or 4xx/5xx
 * with the reason in err (400 bad manifest or module, 502 a file could not be
 * fetched, 507 no space left, 409 an older epoch than the deployment held here,
 * 500 anything else on this side). */
int deployment_store_deploy(deployment_store *store, json_t *manifest_json, char *err,
                            size_t err_size);
/* Liquid's route change: replaces the `endpoints` and `instructions` of a running
 * deployment (routes: {"endpoints": {...}, "instructions": {...}}) without touching
 * its modules, so their memory carries on; the orchestrator uses it to point a step
 * at the new device of the next one after a failover. The new manifest is validated
 * as a deploy's is and must describe only functions the running modules export.
 * routes may carry "epoch" (older than the deployment's: 409).
 * Returns 200, 404 unknown deployment, 400 with the reason in err, 5xx storage. */
int deployment_store_update_routes(deployment_store *store, const char *id,
                                   const json_t *routes, char *err, size_t err_size);

/* 200 removed (its files go when its last call ends), 404 unknown. */
int deployment_store_remove(deployment_store *store, const char *id);

/* A reference to the deployment (release it), or NULL. */
deployment *deployment_store_get(deployment_store *store, const char *id);
/* The newest deployment with a module of this name, for the Python reference's
 * /module_results/{module}/{file} route. */
deployment *deployment_store_find_module(deployment_store *store, const char *module_name);
/* {"deployments": [...]} */
json_t *deployment_store_list(deployment_store *store);
size_t deployment_store_count(deployment_store *store);

/* Every deployment, acquired; release each and free the array. */
deployment **deployment_store_snapshot(deployment_store *store, size_t *count);

/* Asks every running call to stop (shutdown after the grace period). */
void deployment_store_interrupt_all(deployment_store *store);
/* Saves every module's memory to state/<module>.snap, restored at the next start. */
void deployment_store_save_states(deployment_store *store);

#endif
