/*
 * host_functions.h — the Wasm-IoT host imports a supervisor offers its modules
 * (wasmiot-api.md §5.3): sys.*, communication.rpcCall and camera.*.
 *
 * Every guest pointer is bounds-checked against the caller's memory; a bad one traps
 * the call with a message saying which argument was wrong.
 */
#ifndef LIQUID_SUPERVISOR_HOST_FUNCTIONS_H
#define LIQUID_SUPERVISOR_HOST_FUNCTIONS_H

#include "wasm/wasm.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct host_env {
    const char *camera_dir;        /* directory of JPEG files the camera "captures", NULL: none */
    const char *remote_functions;  /* path of remote_functions.json for communication.rpcCall */
    const char *deployment_id;     /* for log lines */
    const char *module_name;
    /* The store the linked instances live in. camera.takeImageDynamicSize calls the
     * module's alloc export from inside the host call, on an exec of its own, and an
     * exec needs its store; NULL: that one function traps saying so. */
    wasm_store *store;
} host_env;                        /* must outlive instances linked with it */

/* Every (module, name, signature) defined, for documentation and tests. */
typedef struct host_function_info {
    const char *module;
    const char *name;
    const char *params;            /* wasm_linker_define_func letters: "ii" = (i32, i32) */
    const char *results;
} host_function_info;
extern const host_function_info host_function_list[];
extern const size_t host_function_count;

/* Defines sys.millis, sys.delay, sys.print, sys.println, sys.printInt, communication.rpcCall,
 * camera.takeImageDynamicSize, camera.takeImageStaticSize, camera.takeImage in the linker. */
bool host_functions_define(wasm_linker *linker, host_env *env, char *err, size_t err_size);

#endif
