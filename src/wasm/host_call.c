/*
 * host_call.c — what a host function can ask about the call it serves, and how it
 * fails: a trap with a message, or the end of the whole call (WASI proc_exit).
 */
#include "wasm/exec.h"

#include <stdio.h>
#include <string.h>

uint8_t *wasm_host_memory(wasm_host_call *call, uint64_t *size_bytes)
{
    if (size_bytes)
        *size_bytes = 0;
    if (!call || !call->instance || call->instance->module->memory_count == 0)
        return NULL;
    wasm_memory_inst *memory = call->instance->memories[0];
    if (size_bytes)
        *size_bytes = memory->size;
    return memory->data;
}

wasm_instance *wasm_host_instance(wasm_host_call *call)
{
    return call ? call->instance : NULL;
}

int wasm_host_trap(wasm_host_call *call, wasm_trap_kind kind, const char *fmt, ...)
{
    if (!call)
        return -1;
    wasm_trap *trap = &call->exec->trap;
    memset(trap, 0, sizeof *trap);
    trap->kind = kind == WASM_TRAP_NONE ? WASM_TRAP_HOST : kind;
    va_list args;
    va_start(args, fmt);
    vsnprintf(trap->message, sizeof trap->message, fmt, args);
    va_end(args);
    call->trapped = true;
    return -1;
}

int wasm_host_exit(wasm_host_call *call, int exit_code)
{
    if (!call)
        return -1;
    wasm_trap *trap = &call->exec->trap;
    memset(trap, 0, sizeof *trap);
    trap->kind = WASM_TRAP_EXIT;
    trap->exit_code = exit_code;
    snprintf(trap->message, sizeof trap->message, "exit with status %d", exit_code);
    call->trapped = true;
    return -1;
}

bool wasm_host_interrupted(wasm_host_call *call)
{
    if (!call)
        return false;
    wasm_exec *exec = call->exec;
    if (atomic_load(&exec->interrupt))
        return true;
    return exec->has_deadline && wasm_exec_now_ns() >= exec->deadline_ns;
}
