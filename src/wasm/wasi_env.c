/*
 * wasi_env.c — what a program learns about its surroundings (args, environ,
 * clocks, randomness) and how it leaves (proc_exit), plus the calls this host
 * does not offer (signals, sockets), which answer ENOSYS.
 */
#define _GNU_SOURCE
#include "wasi_internal.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* ------------------------------------------------------- args and environ */

/* Sizes of a string list as the guest lays it out: count, and bytes with NULs. */
static uint16_t list_sizes(wasi_call *call, char *const *list, uint32_t count,
                           uint32_t count_out, uint32_t size_out)
{
    uint64_t size = 0;
    for (uint32_t i = 0; i < count; i++)
        size += strlen(list[i]) + 1;
    if (size > UINT32_MAX)
        return WASI_E2BIG;
    if (!wasi_guest_range(call, count_out, 4) || !wasi_guest_range(call, size_out, 4))
        return WASI_EFAULT;
    wasi_store_u32(call, count_out, count);
    wasi_store_u32(call, size_out, (uint32_t)size);
    return WASI_ESUCCESS;
}

/* Writes the pointer array at ptrs and the NUL-terminated strings at buf. */
static uint16_t list_get(wasi_call *call, char *const *list, uint32_t count, uint32_t ptrs,
                         uint32_t buf)
{
    uint64_t size = 0;
    for (uint32_t i = 0; i < count; i++)
        size += strlen(list[i]) + 1;
    uint8_t *pointers = wasi_guest_range(call, ptrs, (uint64_t)count * 4);
    uint8_t *strings = wasi_guest_range(call, buf, size);
    if (!pointers || !strings)
        return WASI_EFAULT;
    uint32_t offset = 0;
    for (uint32_t i = 0; i < count; i++) {
        size_t len = strlen(list[i]) + 1;
        wasi_put_u32(pointers + 4 * i, buf + offset);
        memcpy(strings + offset, list[i], len);
        offset += (uint32_t)len;
    }
    return WASI_ESUCCESS;
}

uint16_t wasi_args_sizes_get(wasi_call *call, const wasm_slot *args)
{
    return list_sizes(call, call->ctx->args, call->ctx->arg_count, wasi_arg_u32(args, 0),
                      wasi_arg_u32(args, 1));
}

uint16_t wasi_args_get(wasi_call *call, const wasm_slot *args)
{
    return list_get(call, call->ctx->args, call->ctx->arg_count, wasi_arg_u32(args, 0),
                    wasi_arg_u32(args, 1));
}

uint16_t wasi_environ_sizes_get(wasi_call *call, const wasm_slot *args)
{
    return list_sizes(call, call->ctx->envs, call->ctx->env_count, wasi_arg_u32(args, 0),
                      wasi_arg_u32(args, 1));
}

uint16_t wasi_environ_get(wasi_call *call, const wasm_slot *args)
{
    return list_get(call, call->ctx->envs, call->ctx->env_count, wasi_arg_u32(args, 0),
                    wasi_arg_u32(args, 1));
}

/* ---------------------------------------------------------------- clocks */

static bool host_clock(uint32_t id, clockid_t *out)
{
    static const clockid_t clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC,
                                       CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID};
    if (id >= sizeof clocks / sizeof clocks[0])
        return false;
    *out = clocks[id];
    return true;
}

uint16_t wasi_clock_res_get(wasi_call *call, const wasm_slot *args)
{
    clockid_t clock;
    struct timespec ts;
    if (!host_clock(wasi_arg_u32(args, 0), &clock))
        return WASI_EINVAL;
    if (clock_getres(clock, &ts) != 0)
        return wasi_errno_from_host(errno);
    uint64_t ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return wasi_store_u64(call, wasi_arg_u32(args, 1), ns ? ns : 1) ? WASI_ESUCCESS
                                                                    : WASI_EFAULT;
}

uint16_t wasi_clock_now(uint32_t id, uint64_t *ns)
{
    clockid_t clock;
    struct timespec ts;
    if (!host_clock(id, &clock))
        return WASI_EINVAL;
    if (clock_gettime(clock, &ts) != 0)
        return wasi_errno_from_host(errno);
    *ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return WASI_ESUCCESS;
}

uint16_t wasi_clock_time_get(wasi_call *call, const wasm_slot *args)
{
    uint64_t ns = 0;
    uint16_t err = wasi_clock_now(wasi_arg_u32(args, 0), &ns);
    if (err)
        return err;
    return wasi_store_u64(call, wasi_arg_u32(args, 2), ns) ? WASI_ESUCCESS : WASI_EFAULT;
}

/* ---------------------------------------------------------------- random */

uint16_t wasi_random_get(wasi_call *call, const wasm_slot *args)
{
    uint32_t len = wasi_arg_u32(args, 1);
    uint8_t *dest = wasi_guest_range(call, wasi_arg_u32(args, 0), len);
    if (!dest)
        return WASI_EFAULT;
    size_t filled = 0;
    while (filled < len) {
        ssize_t n = getrandom(dest + filled, len - filled, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return wasi_errno_from_host(errno);
        }
        filled += (size_t)n;
    }
    return WASI_ESUCCESS;
}

/* ---------------------------------------------------------- the process */

uint16_t wasi_proc_exit(wasi_call *call, const wasm_slot *args)
{
    /* The host wrapper turns this into wasm_host_exit(), which ends the call. */
    call->exited = true;
    call->exit_code = (int)wasi_arg_u32(args, 0);
    return WASI_ESUCCESS;
}

uint16_t wasi_proc_raise(wasi_call *call, const wasm_slot *args)
{
    (void)call, (void)args;
    return WASI_ENOSYS;     /* no signals in the sandbox */
}

uint16_t wasi_sched_yield(wasi_call *call, const wasm_slot *args)
{
    (void)call, (void)args;
    sched_yield();
    return WASI_ESUCCESS;
}

/* --------------------------------------------------------------- sockets */

/* Preview 1 can only use sockets handed to it as preopens; this host hands out
 * none, so every socket call is unsupported. */
uint16_t wasi_sock_accept(wasi_call *call, const wasm_slot *args)
{
    (void)call, (void)args;
    return WASI_ENOSYS;
}

uint16_t wasi_sock_recv(wasi_call *call, const wasm_slot *args)
{
    (void)call, (void)args;
    return WASI_ENOSYS;
}

uint16_t wasi_sock_send(wasi_call *call, const wasm_slot *args)
{
    (void)call, (void)args;
    return WASI_ENOSYS;
}

uint16_t wasi_sock_shutdown(wasi_call *call, const wasm_slot *args)
{
    (void)call, (void)args;
    return WASI_ENOSYS;
}
