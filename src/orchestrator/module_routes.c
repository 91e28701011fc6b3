/*
 * module_routes.c — the module registry's HTTP routes (modules.h lists them).
 */
#define _GNU_SOURCE
#include "orchestrator/modules.h"

#include "base/log.h"
#include "orchestrator/blobs.h"
#include "orchestrator/orchestrator.h"
#include "orchestrator/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int status_of(store_result r)
{
    switch (r) {
    case STORE_OK: return 200;
    case STORE_NOT_FOUND: return 404;
    case STORE_CONFLICT: return 409;
    case STORE_INVALID: return 400;
    case STORE_ERROR: break;
    }
    return 500;
}

static void list_modules(http_request *req, void *user)
{
    orchestrator *o = user;
    json_t *list = NULL;
    char err[512];
    store_result r = store_module_list(o->store, &list, err, sizeof err);
    if (r != STORE_OK)
        return http_respond_error(req, status_of(r), "%s", err);
    http_respond_json(req, 200, list);
}

/* An array even for one module: Wasm-IoT clients index the answer. */
static void get_module(http_request *req, void *user)
{
    orchestrator *o = user;
    json_t *module = NULL;
    char err[512];
    store_result r = store_module_get(o->store, http_request_param(req, "id"), &module, err,
                                      sizeof err);
    if (r != STORE_OK)
        return http_respond_error(req, status_of(r), "%s", err);
    json_t *list = json_array();
    json_array_append_new(list, module);
    http_respond_json(req, 200, list);
}

const http_route module_routes[] = {
    {"GET", "/file/module", list_modules},
    {"GET", "/file/module/{id}", get_module},
};
const size_t module_route_count = sizeof module_routes / sizeof module_routes[0];
