/*
 * deployment.h — one deployment on this supervisor: its manifest, its directory and
 * one running module per manifest module.
 *
 * A deployment is shared by every call that uses it and counted: the deployment
 * store holds one reference, each call another. Replacing or removing a deployment
 * only marks it retired; the last reference frees it and, if retired, removes its
 * directory, so calls in flight finish on the version they started with.
 *
 * On disk (instance/deployments/<id>/v<version>/):
 *   deployment.json        the mini-manifest as received
 *   modules/<name>.wasm    each module's binary
 *   sandbox/<name>/        each module's directory, preopened as "." (data files,
 *                          inputs and outputs under their mount names)
 *   state/<name>.snap      each module's memory, saved at shutdown
 *   READY                  written last: a version without it never finished deploying
 */
#ifndef LIQUID_SUPERVISOR_DEPLOYMENT_H
#define LIQUID_SUPERVISOR_DEPLOYMENT_H

#include "supervisor/manifest.h"
#include "supervisor/module_runtime.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>

typedef struct deployment {
    atomic_int refs;
    atomic_bool retired;
    char *id;
    unsigned version;
    char *dir;                  /* instance/deployments/<id>/v<version> */
    char *deployed_at;          /* RFC 3339 */
    uint64_t created_ms;        /* monotonic, when this version came to be (lease.c) */
    manifest *manifest;
    module_runtime **runtimes;  /* parallel to manifest->modules */
    /* Parallel to runtimes: runtimes[i] is not this version's to free. Set for every
     * runtime a successor took over (a route change takes them all, a redeploy those
     * of unchanged modules), and in a version being built for the runtimes it
     * borrows from the one it replaces until it is in place. */
    bool *not_owned;
    /* Set when a successor took over runtimes: this one holds a reference to it, so
     * they outlive the calls still running here. */
    struct deployment *heir;
} deployment;

/* A deployment with one reference and no runtimes yet; takes the manifest. */
deployment *deployment_new(manifest *m, unsigned version, const char *dir);
deployment *deployment_acquire(deployment *d);
void deployment_release(deployment *d);

/* The runtime and manifest entry of a module by name; NULL if there is none. */
module_runtime *deployment_module(deployment *d, const char *name,
                                  const manifest_module **module);

/* Paths inside the deployment's directory (malloc'ed). */
char *deployment_path(const deployment *d, const char *sub, const char *name,
                      const char *suffix);

/* A module of this version that moved away (docs/migration.md) leaves a file beside
 * its saved state (state/<module>.moved: {"target", "targetModule"}), so a restart
 * marks the copy it reloads as moved — it redirects, and never serves — for as long
 * as this version stays; a new deploy is a new version, without it. */
bool deployment_mark_moved(const deployment *d, const char *module, const char *target,
                           const char *target_module, char *err, size_t err_size);
void deployment_unmark_moved(const deployment *d, const char *module);
/* Where a module of this version moved (malloc'ed), or false if it did not. */
bool deployment_moved_to(const deployment *d, const char *module, char **target,
                         char **target_module);

/* {"deploymentId", "version", "deployedAt", "modules": [...], "manifest": {...}} */
json_t *deployment_describe(const deployment *d);

#endif
