/*
 * host_guest.h — what the host_*.c files share (internal): reaching the calling
 * module's memory safely, and the functions each file defines.
 */
#ifndef LIQUID_SUPERVISOR_HOST_GUEST_H
#define LIQUID_SUPERVISOR_HOST_GUEST_H

#include "supervisor/host_functions.h"

#include <stdint.h>

/* The guest bytes [ptr, ptr + len) of the calling instance's memory, or NULL after
 * recording a trap that names the function and argument (`what`, e.g.
 * "sys.print: the string"). Valid until the module runs again (memory.grow moves it). */
uint8_t *host_guest_bytes(wasm_host_call *call, uint32_t ptr, uint32_t len, const char *what);

/* Reads or writes a little-endian u32 of guest memory; false after a trap. */
bool host_guest_read_u32(wasm_host_call *call, uint32_t ptr, uint32_t *out, const char *what);
bool host_guest_write_u32(wasm_host_call *call, uint32_t ptr, uint32_t value, const char *what);

/* The host functions, by file. */
int host_sys_millis(wasm_host_call *call, const wasm_slot *args, wasm_slot *results, void *user);
int host_sys_delay(wasm_host_call *call, const wasm_slot *args, wasm_slot *results, void *user);
int host_sys_print(wasm_host_call *call, const wasm_slot *args, wasm_slot *results, void *user);
int host_sys_println(wasm_host_call *call, const wasm_slot *args, wasm_slot *results, void *user);
int host_sys_print_int(wasm_host_call *call, const wasm_slot *args, wasm_slot *results,
                       void *user);
int host_rpc_call(wasm_host_call *call, const wasm_slot *args, wasm_slot *results, void *user);
int host_camera_dynamic_size(wasm_host_call *call, const wasm_slot *args, wasm_slot *results,
                             void *user);
int host_camera_static_size(wasm_host_call *call, const wasm_slot *args, wasm_slot *results,
                            void *user);

#endif
