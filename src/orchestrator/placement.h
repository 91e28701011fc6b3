/*
 * placement.h — manifests into running pipelines: solve, deploy, execute, keep running.
 *
 *   manifest*.c   POST/GET/PUT/DELETE /file/manifest..., POST/GET /execute... (the
 *                 manifest_routes[] table), and the checks of a posted manifest
 *   solver*.c     the pure placement algorithm (solver.h), and solver_build.c which
 *                 turns the fleet and the module documents into its inputs
 *   deployer*.c   each device's DeploymentNode (wasmiot-api.md §2.5) and sending them
 *                 all in parallel, all or nothing
 *   executor*.c   POST /execute: call step 0, follow the chain, record the execution
 *   failover*.c   on device.lost / device.blacklisted, re-place the steps the device
 *                 ran and push new routes upstream; on device.active, bring pinned
 *                 steps home
 *
 * A deployment document (store.h) as this part writes it:
 *
 *   {"_id", "name", "manifest": {as posted},
 *    "sequence": [{"device": id, "module": id, "func", "moduleName", "alias"}],
 *    "fullManifest": {"<deviceId>": DeploymentNode}, "placement": {"totalCost",
 *    "exact", "solvedAt", "steps": [reasons, see solver_explain]},
 *    "failoversBySequence": [[id, ...]], "goalDeployment": [id per step],
 *    "pins": [id or null per step], "active": bool, "isInFailover": bool,
 *    "epoch": N, "createdAt", "updatedAt", "deployedAt"?, "failoverError"? }
 *
 * "alias" is the module name the step has on its device: the module's own name,
 * unless one device runs the same function for two steps of the chain (a supervisor
 * routes by module and function, so the second gets "<name>-<step>").
 *
 * Changes to deployments (create, update, deploy, delete, failover) are serialized by
 * the part's lock; executions read the stored document and run in parallel.
 */
#ifndef LIQUID_ORCHESTRATOR_PLACEMENT_H
#define LIQUID_ORCHESTRATOR_PLACEMENT_H

#include "orchestrator/fleet.h"
#include "orchestrator/orchestrator.h"
#include "orchestrator/solver.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the part (orchestrator.c's parts[] list) */

bool placement_start(orchestrator *o, char *err, size_t err_size);
void placement_stop(orchestrator *o);

/* Serializes changes to deployments (recursive: a failover may redeploy). */
void placement_lock(placement *p);
void placement_unlock(placement *p);

/* ---- epochs (docs/migration.md): what each device should hold */

/* While a change sends nodes (deploy, failover, migration), the devices of `nodes`
 * are counted as holding deployment_id at epoch, so a health probe in between does
 * not tell a device that just received its node to drop it. Cleared once the
 * change is stored (or given up). */
void placement_pending_add(placement *p, const char *deployment_id, const json_t *nodes,
                           json_int_t epoch);
void placement_pending_clear(placement *p, const char *deployment_id);
/* {"<deviceId>": {"<deploymentId>": epoch}}: every active deployment's devices, and
 * the pending ones (the lower epoch where both name one). NULL if the store fails. */
json_t *placement_epochs_by_device(orchestrator *o);

/* The initial linear memory of a module in bytes, read from its binary with the
 * engine's decoder once per digest; 0 when it cannot be read. */
uint64_t placement_module_min_memory(orchestrator *o, const json_t *module);

/* ---- a posted manifest, checked for shape (manifest_parse.c) */

typedef struct manifest_step_request {
    const char *device;         /* id or name; NULL: the solver chooses */
    const char *module;         /* id or name */
    const char *func;
    const char **failovers;     /* device ids or names, in order of preference */
    size_t failover_count;
} manifest_step_request;

typedef struct manifest_request {
    const char *name;
    manifest_step_request *steps;
    size_t step_count;
    json_t *json;               /* the document (referenced) */
} manifest_request;

/* Checks the shape of a manifest: {"name": string, "sequence": [{"device": id|name|null,
 * "module": id|name, "func": name, "failovers"?: [id|name]}]}, members looked up by
 * name (not by key order, as the JS orchestrator did). false with "<path>: <what is
 * wrong>" in err. */
bool manifest_request_parse(json_t *json, manifest_request *out, char *err, size_t err_size);
void manifest_request_free(manifest_request *m);

/* ---- one step's function, read from its module document (manifest_function.c) */

typedef struct step_function {
    json_t *module;             /* the module document (a reference) */
    const char *module_id, *module_name, *func;
    const char *method;         /* "get" or "post" */
    json_t *parameters;         /* the OpenAPI parameters of the operation (new array) */
    const char **param_types;   /* "integer", "float", ... */
    size_t param_count;
    json_t *request_body;       /* {media_type, schema, encoding} or NULL */
    json_t *response;           /* {media_type, schema} */
    const char **execution_mounts, **deployment_mounts;
    size_t execution_mount_count, deployment_mount_count;
    const char *output_type;    /* "integer", "float" or the output file's media type */
    const char *output_mount;   /* NULL for a number */
    solver_import *imports;     /* function imports of the module */
    size_t import_count;
    const char **capabilities;  /* what the module needs of a device (camera, ...) */
    size_t capability_count;
    uint64_t min_memory_bytes;  /* filled by the caller (placement_module_min_memory) */
} step_function;

/* Reads what the solver, the chain check and the deployer need of one function of a
 * module document: exported, described (POST /file/module/{id}/upload), every
 * deployment mount with its data file. false with a sentence in err naming the
 * module and function and saying what to do. */
bool step_function_load(json_t *module, const char *func, step_function *out, char *err,
                        size_t err_size);
void step_function_clear(step_function *f);
solver_signature step_function_signature(const step_function *f);

/* ---- solving (solver_build.c) */

/* One placement problem built from the fleet and the steps' functions. */
typedef struct placement_problem {
    solver_problem problem;
    device_view *views;         /* the fleet snapshot the devices point into */
    size_t view_count;
    solver_device *devices;
    solver_step *steps;
    void *storage;              /* what the arrays above point into */
} placement_problem;

/* pins[i]: a device id step i must run on, or NULL. */
bool placement_problem_build(orchestrator *o, const step_function *functions, size_t count,
                             const char *const *pins, placement_problem *out, char *err,
                             size_t err_size);
void placement_problem_free(placement_problem *pp);
/* The fleet view of the device chosen for step s. */
const device_view *placement_problem_view(const placement_problem *pp, const solver_result *r,
                                          size_t step);
/* {"totalCost", "exact", "solvedAt", "steps": [...]} for the deployment document. */
json_t *placement_problem_explain(const placement_problem *pp, const solver_result *r);

/* ---- DeploymentNodes (deployer_nodes.c) */

typedef struct node_step {
    const step_function *function;
    const char *device_id;
    const char *device_url;     /* "http://10.0.0.5:8080" */
} node_step;

/* {"<deviceId>": DeploymentNode, ...} for the whole chain, and aliases_out (a new
 * array: the module name each step has on its device). base_url: how devices reach
 * the orchestrator's files. NULL with a sentence in err. */
json_t *deployer_build_nodes(const char *deployment_id, const node_step *steps, size_t count,
                             const char *base_url, json_t **aliases_out, char *err,
                             size_t err_size);

/* ---- deploying (deployer.c) */

typedef enum deploy_action {
    DEPLOY_NODE,        /* POST /deploy with the node */
    DEPLOY_ROUTES,      /* PUT /deploy/{id}/routes with the node's endpoints and instructions */
    DEPLOY_REMOVE,      /* DELETE /deploy/{id} */
} deploy_action;

typedef struct deploy_target {
    deploy_action action;
    const char *device_id;
    const char *device_name;
    const char *device_url;
    const json_t *node;         /* DEPLOY_NODE, DEPLOY_ROUTES */
    /* filled by deployer_send */
    bool ok;                    /* a 2xx answer */
    long status;                /* 0 when no answer came */
    json_t *answer;             /* the answer's JSON (or its text as a string), or NULL */
    char error[512];            /* when !ok: the device and its answer, in words */
    double ms;
} deploy_target;

/* Sends every target at once (one thread each) and waits for all. */
void deployer_send(const char *deployment_id, deploy_target *targets, size_t count,
                   long timeout_ms);
void deploy_targets_clear(deploy_target *targets, size_t count);

/* Deploys a stored deployment's fullManifest to every device, all or nothing: when a
 * device refuses, the devices that accepted get `previous` back (their node of the
 * version before, for an update) or lose the deployment. On success the document is
 * marked active. *status_out is the HTTP status to answer with, *answer_out the body
 * (deviceResponses, or the error). The caller holds the placement lock. */
bool deployer_deploy(orchestrator *o, json_t *deployment, const json_t *previous_nodes,
                     int *status_out, json_t **answer_out);

/* Removes a deployment from every device it has a node on (best effort: a lost device
 * is not waited for long). */
void deployer_remove_everywhere(orchestrator *o, const json_t *deployment);

/* ---- solving a whole deployment (manifest_solve.c) */

/* Loads each step's module (by id or name) and function; false with a sentence
 * naming the step ("sequence[1].func: ...") in err. Free with chain_functions_free. */
bool chain_load_functions(orchestrator *o, const char *const *modules,
                          const char *const *funcs, size_t count, step_function **out,
                          char *err, size_t err_size);
void chain_functions_free(step_function *functions, size_t count);

/* A chain placed on devices: what a deployment document holds of it. */
typedef struct placed_chain {
    json_t *sequence;       /* [{"device", "module", "func", "moduleName", "alias"}] */
    json_t *nodes;          /* {"<deviceId>": DeploymentNode}: the fullManifest */
    json_t *placement;      /* the reasons (placement_problem_explain) */
} placed_chain;

/* Solves (pins[i]: a device id, or NULL) and builds the nodes for deployment_id.
 * false with the solver's sentence in err (a step no device can run, a pinned device
 * that cannot run its step). */
bool chain_place(orchestrator *o, const char *deployment_id, const step_function *functions,
                 size_t count, const char *const *pins, placed_chain *out, char *err,
                 size_t err_size);
void placed_chain_clear(placed_chain *c);

/* Places a stored deployment's chain again with these pins (pins[i] NULL: choose) and
 * writes the new sequence, fullManifest, placement, epoch (+1) and updatedAt into the
 * document (the caller stores it). false with the solver's sentence in err. */
bool deployment_replace(orchestrator *o, json_t *deployment, const char *const *pins,
                        char *err, size_t err_size);
/* Sets a deployment's epoch and writes it into every node of its fullManifest, so
 * each device holds the epoch of the placement it serves (docs/migration.md, Epochs). */
void deployment_set_epoch(json_t *deployment, json_int_t epoch);
/* Writes epoch into every node of a {"<deviceId>": DeploymentNode} object. */
void nodes_set_epoch(json_t *nodes, json_int_t epoch);
/* The epoch of a deployment document (0 when it has none: a reference document). */
json_int_t deployment_epoch(const json_t *deployment);

/* The manifest's pins of a stored deployment (pins[i] a device id or NULL); the
 * array points into the document. */
const char **deployment_pins(const json_t *deployment);

/* Resolves, checks and solves a manifest into a deployment document (new, or with
 * the given id for an update: the caller stores it). NULL with err naming the
 * problem (every such problem is the user's input: a 400). */
json_t *manifest_solve(orchestrator *o, const manifest_request *m, const char *id, char *err,
                       size_t err_size);

/* ---- executing (executor.c) */

void executor_execute(orchestrator *o, http_request *req, const char *deployment_ref);
void executor_list(orchestrator *o, http_request *req);
void executor_get(orchestrator *o, http_request *req, const char *execution_id);

/* ---- keeping it running (failover.c) */

typedef struct failover failover;
failover *failover_start(orchestrator *o, char *err, size_t err_size);
void failover_stop(failover *f);

#endif
