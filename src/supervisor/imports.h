/*
 * imports.h — what a supervisor offers the modules it runs: WASI preview 1 and the
 * Wasm-IoT host functions (sys.*, camera.*, communication.rpcCall). The same list
 * links every instance, is checked against a module's imports at deploy time, and is
 * advertised as `supervisorInterfaces` in the device description, so the three can
 * never disagree.
 */
#ifndef LIQUID_SUPERVISOR_IMPORTS_H
#define LIQUID_SUPERVISOR_IMPORTS_H

#include "supervisor/host_functions.h"
#include "wasm/wasi.h"
#include "wasm/wasm.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Defines WASI (bound to wasi) and the host functions (bound to env) in linker. */
bool imports_link(wasm_linker *linker, wasi_ctx *wasi, host_env *env, char *err,
                  size_t err_size);

/* The import names offered, each once, in a new JSON array of strings. */
json_t *imports_interface_names(void);

/* Whether every import of module is offered; if not, err lists the missing ones as
 * "module.name (kind)". */
bool imports_check(const wasm_module *module, char *err, size_t err_size);

#endif
