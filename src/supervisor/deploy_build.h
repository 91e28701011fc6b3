/*
 * deploy_build.h — turning a parsed manifest into a running deployment version in its
 * directory: fetch each module binary and data file (or find them on disk after a
 * restart), check each module with the engine and against what this supervisor
 * offers, and start one runtime per module.
 */
#ifndef LIQUID_SUPERVISOR_DEPLOY_BUILD_H
#define LIQUID_SUPERVISOR_DEPLOY_BUILD_H

#include "supervisor/deployment.h"
#include "supervisor/deployment_store.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum deploy_source {
    DEPLOY_FETCH,       /* POST /deploy: download everything into d->dir */
    DEPLOY_RESTORE,     /* restart: the files are in d->dir; restore saved memory */
} deploy_source;

/* Fills d->runtimes. With previous (the version a POST /deploy replaces), a module
 * whose name, id and SHA-256 are unchanged keeps its running instance (memory, files,
 * checkpoints): d borrows it (d->not_owned) and its binary is linked into d->dir; its
 * directory moves over with deploy_adopt_sandboxes. Returns 200, or the HTTP status
 * of the failure with the reason (naming the field or URL at fault) in err. */
int deploy_build(const deploy_settings *settings, deployment *d, deployment *previous,
                 deploy_source source, char *err, size_t err_size);

/* Moves the directory of every instance d borrows into the version `into`: d itself
 * (the last step before d is READY), or the previous version (undoing that when
 * READY fails). 200, or 500 with the reason. */
int deploy_move_sandboxes(deployment *d, const deployment *into, char *err, size_t err_size);

/* Liquid's route change (PUT /deploy/{id}/routes): every function the manifest of d
 * describes is an export of its module's running instance taking numbers; d->runtimes
 * must be filled. 200, or 400 with the reason in err. */
int deploy_check_functions(const deployment *d, char *err, size_t err_size);

#endif
