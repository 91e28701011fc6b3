/*
 * host_functions.c — the table of Wasm-IoT host imports (wasmiot-api.md §5.3) and the
 * guest-memory checks every one of them goes through.
 *
 * Signatures are the references' own, so modules built for the Python or Rust
 * supervisor link unchanged; the one exception is sys.println, see host_sys.c.
 */
#include "supervisor/host_guest.h"

#include <stdio.h>
#include <string.h>

const host_function_info host_function_list[] = {
    {"sys", "millis", "", "i"},
    {"sys", "delay", "i", ""},
    {"sys", "print", "ii", ""},
    {"sys", "println", "ii", ""},
    {"sys", "printInt", "i", ""},
    {"communication", "rpcCall", "iiii", ""},
    {"camera", "takeImageDynamicSize", "ii", ""},
    {"camera", "takeImageStaticSize", "ii", ""},
    /* The Rust reference declares it and traps; the Python one only had it under
     * wasm3. Ours is takeImageStaticSize under its older name. */
    {"camera", "takeImage", "ii", ""},
};
const size_t host_function_count = sizeof host_function_list / sizeof host_function_list[0];

static const wasm_host_fn host_function_impl[] = {
    host_sys_millis, host_sys_delay, host_sys_print, host_sys_println, host_sys_print_int,
    host_rpc_call, host_camera_dynamic_size, host_camera_static_size, host_camera_static_size,
};

bool host_functions_define(wasm_linker *linker, host_env *env, char *err, size_t err_size)
{
    _Static_assert(sizeof host_function_impl / sizeof host_function_impl[0] ==
                       sizeof host_function_list / sizeof host_function_list[0],
                   "every host function has an implementation");
    for (size_t i = 0; i < host_function_count; i++) {
        const host_function_info *f = &host_function_list[i];
        wasm_error werr = {0};
        if (!wasm_linker_define_func(linker, f->module, f->name, f->params, f->results,
                                     host_function_impl[i], env, &werr)) {
            snprintf(err, err_size, "cannot define %s.%s: %s", f->module, f->name, werr.message);
            return false;
        }
    }
    return true;
}

uint8_t *host_guest_bytes(wasm_host_call *call, uint32_t ptr, uint32_t len, const char *what)
{
    uint64_t size = 0;
    uint8_t *memory = wasm_host_memory(call, &size);
    if (!memory) {
        wasm_host_trap(call, WASM_TRAP_MEMORY_OUT_OF_BOUNDS,
                       "%s: the module has no linear memory to pass it in", what);
        return NULL;
    }
    if ((uint64_t)ptr + len > size) {
        wasm_host_trap(call, WASM_TRAP_MEMORY_OUT_OF_BOUNDS,
                       "%s at %u..%llu is outside the module's memory (%llu bytes)", what, ptr,
                       (unsigned long long)ptr + len, (unsigned long long)size);
        return NULL;
    }
    return memory + ptr;
}

bool host_guest_read_u32(wasm_host_call *call, uint32_t ptr, uint32_t *out, const char *what)
{
    const uint8_t *p = host_guest_bytes(call, ptr, 4, what);
    if (!p)
        return false;
    *out = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return true;
}

bool host_guest_write_u32(wasm_host_call *call, uint32_t ptr, uint32_t value, const char *what)
{
    uint8_t *p = host_guest_bytes(call, ptr, 4, what);
    if (!p)
        return false;
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(value >> (8 * i));
    return true;
}
