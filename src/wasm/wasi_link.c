/*
 * wasi_link.c — every wasi_snapshot_preview1 function, bound to a context in a
 * linker. Each host function fetches the caller's memory afresh (a previous call
 * may have grown it), runs the implementation and returns its errno as the i32
 * result; proc_exit ends the call through wasm_host_exit().
 */
#include "wasi_internal.h"

#define WASI_MODULE "wasi_snapshot_preview1"

static int run_wasi(wasi_impl impl, wasm_host_call *host, const wasm_slot *args,
                    wasm_slot *results, void *user, bool has_result)
{
    wasi_call call = {.ctx = user, .host = host};
    call.memory = wasm_host_memory(host, &call.memory_size);
    if (!call.memory)
        call.memory_size = 0;
    uint16_t err = impl(&call, args);
    if (call.exited)
        return wasm_host_exit(host, call.exit_code);
    if (has_result)
        results[0] = err;
    return 0;
}

#define WASI_HOST_WRAPPER(name, params, results)                                          \
    static int host_##name(wasm_host_call *host, const wasm_slot *args, wasm_slot *out,    \
                           void *user)                                                    \
    {                                                                                     \
        return run_wasi(wasi_##name, host, args, out, user, (results)[0] != '\0');        \
    }
WASI_FUNCTIONS(WASI_HOST_WRAPPER)
#undef WASI_HOST_WRAPPER

typedef struct wasi_function {
    const char *name;
    const char *params;
    const char *results;
    wasm_host_fn host;
} wasi_function;

#define WASI_TABLE_ENTRY(name, params, results) {#name, params, results, host_##name},
static const wasi_function wasi_functions[] = {WASI_FUNCTIONS(WASI_TABLE_ENTRY)};
#undef WASI_TABLE_ENTRY

#define WASI_FUNCTION_COUNT (sizeof wasi_functions / sizeof wasi_functions[0])

bool wasi_link(wasi_ctx *ctx, wasm_linker *linker, wasm_error *err)
{
    for (size_t i = 0; i < WASI_FUNCTION_COUNT; i++) {
        const wasi_function *f = &wasi_functions[i];
        if (!wasm_linker_define_func(linker, WASI_MODULE, f->name, f->params, f->results,
                                     f->host, ctx, err))
            return false;
    }
    return true;
}

uint32_t wasi_function_count(void)
{
    return (uint32_t)WASI_FUNCTION_COUNT;
}

const char *wasi_function_name(uint32_t i)
{
    return i < WASI_FUNCTION_COUNT ? wasi_functions[i].name : NULL;
}
