/*
 * exec.c — the public wasm_exec_* API: starting a call, resuming it, results,
 * traps, and the limits (fuel, deadline, call depth, stack cells).
 *
 * Fuel and the deadline share one mechanism. The interpreter counts a signed
 * budget down at safe points (function entries and loop headers, each charging
 * the static instruction count of the code it starts); when the budget would go
 * negative it calls wasm_exec_safe_point(), which accounts the fuel spent, reads
 * the clock if there is a deadline, and issues the next budget: the remaining fuel,
 * or at most CLOCK_CHECK_INTERVAL when a deadline must be watched. So the clock is
 * read about once per CLOCK_CHECK_INTERVAL instructions, never per safe point, and
 * an exec with neither limit never leaves the fast path.
 *
 * Both limits are per call: wasm_exec_call starts with limits.fuel to spend and
 * timeout_ms from now; wasm_exec_resume keeps the fuel left (plus any added) and
 * restarts the clock. The fuel charged is deterministic: the same program spends
 * the same amount on every machine, and a call stopped and resumed (even in
 * another process, through a snapshot) spends exactly what an uninterrupted one
 * does. An interrupt that arrives while no call runs stops the next one at its
 * first safe point.
 */
#include "wasm/exec.h"
#include "wasm/runtime.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLOCK_CHECK_INTERVAL 20000
#define UNLIMITED_BUDGET (INT64_MAX / 2)

uint64_t wasm_exec_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

wasm_exec *wasm_exec_new(wasm_store *store, const wasm_exec_limits *limits)
{
    wasm_exec *exec = calloc(1, sizeof *exec);
    if (!exec)
        return NULL;
    exec->store = store;
    if (limits)
        exec->limits = *limits;
    exec->max_depth = exec->limits.max_call_depth ? exec->limits.max_call_depth
                                                  : WASM_DEFAULT_CALL_DEPTH;
    exec->stack_cells = exec->limits.stack_slots ? exec->limits.stack_slots
                                                 : WASM_DEFAULT_STACK_SLOTS;
    /* Untouched pages of these arrays cost nothing on systems with virtual memory;
     * devices without it set smaller limits. */
    exec->stack = malloc((size_t)exec->stack_cells * sizeof *exec->stack);
    exec->frames = malloc((size_t)exec->max_depth * sizeof *exec->frames);
    if (!exec->stack || !exec->frames) {
        wasm_exec_free(exec);
        return NULL;
    }
    atomic_init(&exec->interrupt, false);
    exec->fuel_limited = exec->limits.fuel != 0;
    exec->fuel_remaining = exec->limits.fuel;
    exec->timeout_ms = exec->limits.timeout_ms;
    exec->status = WASM_STATUS_OK;
    return exec;
}

void wasm_exec_free(wasm_exec *exec)
{
    if (!exec)
        return;
    free(exec->stack);
    free(exec->frames);
    free(exec);
}

/* ------------------------------------------------------------------- traps */

static void set_trap(wasm_exec *exec, wasm_trap_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_trap(wasm_exec *exec, wasm_trap_kind kind, const char *fmt, ...)
{
    memset(&exec->trap, 0, sizeof exec->trap);
    exec->trap.kind = kind;
    va_list args;
    va_start(args, fmt);
    vsnprintf(exec->trap.message, sizeof exec->trap.message, fmt, args);
    va_end(args);
}

void wasm_exec_locate_trap(wasm_exec *exec, const wasm_frame *frame, const wasm_iword *pc)
{
    exec->trap.has_location = true;
    exec->trap.func_index = frame->code->func_index;
    exec->trap.offset =
        wasm_compiled_offset_of(frame->code, (uint32_t)(pc - frame->code->code));
}

void wasm_exec_set_trap(wasm_exec *exec, wasm_trap_kind kind, const char *message,
                        const wasm_frame *frame, const wasm_iword *pc)
{
    if (kind == WASM_TRAP_MEMORY_LIMIT && !message) {
        const wasm_memory_inst *memory = frame->instance->memories[0];
        set_trap(exec, kind, "memory.grow past the embedder's limit of %u pages",
                 memory->limit_pages);
    } else {
        set_trap(exec, kind, "%s", message ? message : wasm_trap_kind_name(kind));
    }
    wasm_exec_locate_trap(exec, frame, pc);
}

/* ------------------------------------------------------- fuel and deadline */

int64_t wasm_exec_issue_budget(wasm_exec *exec)
{
    int64_t budget = UNLIMITED_BUDGET;
    if (exec->fuel_limited && exec->fuel_remaining < (uint64_t)budget)
        budget = (int64_t)exec->fuel_remaining;
    if (exec->has_deadline && budget > CLOCK_CHECK_INTERVAL)
        budget = CLOCK_CHECK_INTERVAL;
    exec->budget_issued = budget;
    return budget;
}

void wasm_exec_settle_budget(wasm_exec *exec, int64_t budget)
{
    uint64_t spent = (uint64_t)(exec->budget_issued - budget);
    exec->fuel_used += spent;
    if (exec->fuel_limited)
        exec->fuel_remaining -= spent;
    exec->budget_issued = budget;
}

static bool stop(wasm_exec *exec, wasm_status status)
{
    exec->status = status;
    return false;
}

bool wasm_exec_safe_point(wasm_exec *exec, uint32_t cost, int64_t *budget)
{
    wasm_exec_settle_budget(exec, *budget);
    if (atomic_exchange(&exec->interrupt, false)) {
        memset(&exec->trap, 0, sizeof exec->trap);
        return stop(exec, WASM_STATUS_SUSPENDED);
    }
    if (exec->has_deadline && wasm_exec_now_ns() >= exec->deadline_ns) {
        set_trap(exec, WASM_TRAP_DEADLINE_EXCEEDED,
                 "deadline exceeded: the call ran longer than its %llu ms",
                 (unsigned long long)exec->timeout_ms);
        return stop(exec, WASM_STATUS_TRAP);
    }
    if (exec->fuel_limited && exec->fuel_remaining < cost) {
        set_trap(exec, WASM_TRAP_FUEL_EXHAUSTED,
                 "fuel exhausted after %llu instructions",
                 (unsigned long long)exec->fuel_used);
        return stop(exec, WASM_STATUS_TRAP);
    }
    *budget = wasm_exec_issue_budget(exec);
    /* a loop longer than the clock interval must still make progress */
    if (*budget < (int64_t)cost)
        *budget = exec->budget_issued = cost;
    return true;
}

/* The top frame's location for a stop at a safe point. */
static void locate_stop(wasm_exec *exec)
{
    if (exec->status == WASM_STATUS_TRAP && exec->depth > 0) {
        const wasm_frame *top = &exec->frames[exec->depth - 1];
        wasm_exec_locate_trap(exec, top, top->pc);
    }
}

static void start_clock(wasm_exec *exec)
{
    uint64_t now = wasm_exec_now_ns();
    /* a timeout too long to express in nanoseconds from now is no deadline */
    exec->has_deadline = exec->timeout_ms != 0 &&
                         exec->timeout_ms <= (UINT64_MAX - now) / 1000000u;
    if (exec->has_deadline)
        exec->deadline_ns = now + exec->timeout_ms * 1000000u;
}

/* ------------------------------------------------------------- host calls */

bool wasm_exec_call_host(wasm_exec *exec, const wasm_func *func, wasm_instance *caller,
                         wasm_slot *cells)
{
    const wasm_functype *type = func->type;
    wasm_slot small[16];
    wasm_slot *results = type->result_count <= 16 ? small
                                                  : calloc(type->result_count, sizeof *results);
    if (!results) {
        set_trap(exec, WASM_TRAP_HOST, "out of memory calling a host function");
        return false;
    }
    memset(results, 0, type->result_count * sizeof *results);
    wasm_host_call call = {exec, caller, func, false};
    int rc = func->host(&call, cells, results, func->host_user);
    if (rc != 0) {
        if (!call.trapped)
            set_trap(exec, WASM_TRAP_HOST, "host function failed (returned %d)", rc);
        if (results != small)
            free(results);
        return false;
    }
    /* keep i32/f32 cells zero-extended, whatever the host left in the upper bits */
    for (uint32_t i = 0; i < type->result_count; i++) {
        uint8_t t = type->types[type->param_count + i];
        cells[i] = (t == WASM_I32 || t == WASM_F32) ? (uint32_t)results[i] : results[i];
    }
    if (results != small)
        free(results);
    return true;
}

/* ------------------------------------------------------------ the API */

static const char *valtype_name(uint8_t t)
{
    switch (t) {
    case WASM_I32: return "i32";
    case WASM_I64: return "i64";
    case WASM_F32: return "f32";
    case WASM_F64: return "f64";
    case WASM_V128: return "v128";
    case WASM_FUNCREF: return "funcref";
    case WASM_EXTERNREF: return "externref";
    }
    return "unknown";
}

static wasm_status refuse_call(wasm_exec *exec, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static wasm_status refuse_call(wasm_exec *exec, const char *fmt, ...)
{
    memset(&exec->trap, 0, sizeof exec->trap);
    exec->trap.kind = WASM_TRAP_HOST;
    va_list args;
    va_start(args, fmt);
    vsnprintf(exec->trap.message, sizeof exec->trap.message, fmt, args);
    va_end(args);
    exec->depth = 0;
    exec->status = WASM_STATUS_TRAP;
    return WASM_STATUS_TRAP;
}

static wasm_status finish(wasm_exec *exec, wasm_status status)
{
    exec->status = status;
    exec->has_results = status == WASM_STATUS_OK;
    if (status == WASM_STATUS_TRAP)
        locate_stop(exec);
    return status;
}

/* Runs the interpreter, refusing reentry: a host function may not start or resume
 * a call on the exec that is calling it (its frames are in use). */
static wasm_status run(wasm_exec *exec)
{
    exec->running = true;
    wasm_status status = wasm_interp_run(exec);
    exec->running = false;
    return status;
}

wasm_status wasm_exec_call(wasm_exec *exec, wasm_func *func, const wasm_value *args,
                           uint32_t arg_count)
{
    if (!exec)
        return WASM_STATUS_TRAP;
    if (exec->running)
        return WASM_STATUS_TRAP;    /* the running call's state must stay untouched */
    exec->depth = 0;
    exec->has_results = false;
    exec->call_type = NULL;
    memset(&exec->trap, 0, sizeof exec->trap);
    if (!func)
        return refuse_call(exec, "bad argument: no function to call");
    const wasm_functype *type = func->type;
    if (arg_count != type->param_count)
        return refuse_call(exec, "bad argument: the function takes %u arguments, %u given",
                           type->param_count, arg_count);
    for (uint32_t i = 0; i < arg_count; i++)
        if ((uint8_t)args[i].type != type->types[i])
            return refuse_call(exec, "bad argument: argument %u is %s, the function takes %s",
                               i, valtype_name((uint8_t)args[i].type),
                               valtype_name(type->types[i]));
    uint32_t needed = type->param_count > type->result_count ? type->param_count
                                                             : type->result_count;
    if (needed > exec->stack_cells)
        return refuse_call(exec, "call stack exhausted: %u cells needed, %u allowed", needed,
                           exec->stack_cells);
    for (uint32_t i = 0; i < arg_count; i++)
        exec->stack[i] = wasm_value_to_slot(&args[i]);
    exec->call_type = type;
    exec->fuel_used = 0;
    exec->fuel_limited = exec->limits.fuel != 0;
    exec->fuel_remaining = exec->limits.fuel;
    start_clock(exec);

    if (func->host) {
        exec->running = true;
        bool ok = wasm_exec_call_host(exec, func, NULL, exec->stack);
        exec->running = false;
        return finish(exec, ok ? WASM_STATUS_OK : WASM_STATUS_TRAP);
    }
    const struct wasm_code_compiled *code = func->code->compiled;
    if (code->frame_cells > exec->stack_cells || exec->max_depth == 0) {
        set_trap(exec, WASM_TRAP_STACK_EXHAUSTED, "call stack exhausted");
        exec->status = WASM_STATUS_TRAP;
        return WASM_STATUS_TRAP;
    }
    wasm_frame *frame = &exec->frames[0];
    frame->code = code;
    frame->instance = func->instance;
    frame->fp = exec->stack;
    frame->pc = code->code;
    wasm_frame_init(exec->stack, code);
    exec->depth = 1;
    return finish(exec, run(exec));
}

bool wasm_exec_resumable(const wasm_exec *exec)
{
    if (!exec || exec->depth == 0 || exec->running)
        return false;
    if (exec->status == WASM_STATUS_SUSPENDED)
        return true;
    return exec->status == WASM_STATUS_TRAP &&
           (exec->trap.kind == WASM_TRAP_FUEL_EXHAUSTED ||
            exec->trap.kind == WASM_TRAP_DEADLINE_EXCEEDED);
}

wasm_status wasm_exec_resume(wasm_exec *exec)
{
    if (!exec || exec->running)
        return WASM_STATUS_TRAP;
    if (!wasm_exec_resumable(exec))
        return refuse_call(exec, "bad argument: there is no suspended call to resume");
    memset(&exec->trap, 0, sizeof exec->trap);
    start_clock(exec);
    return finish(exec, run(exec));
}

uint32_t wasm_exec_results(const wasm_exec *exec, wasm_value *out, uint32_t capacity)
{
    if (!exec || !exec->has_results || !exec->call_type)
        return 0;
    const wasm_functype *type = exec->call_type;
    uint32_t n = type->result_count;
    for (uint32_t i = 0; i < n && i < capacity; i++)
        out[i] = wasm_value_from_slot(type->types[type->param_count + i], exec->stack[i]);
    return n;
}

const wasm_trap *wasm_exec_trap(const wasm_exec *exec)
{
    return &exec->trap;
}

void wasm_exec_interrupt(wasm_exec *exec)
{
    if (exec)
        atomic_store(&exec->interrupt, true);
}

void wasm_exec_add_fuel(wasm_exec *exec, uint64_t fuel)
{
    if (!exec)
        return;
    if (UINT64_MAX - exec->fuel_remaining < fuel)
        exec->fuel_remaining = UINT64_MAX;
    else
        exec->fuel_remaining += fuel;
}

uint64_t wasm_exec_fuel_used(const wasm_exec *exec)
{
    return exec ? exec->fuel_used : 0;
}

void wasm_exec_set_timeout(wasm_exec *exec, uint64_t timeout_ms)
{
    if (exec)
        exec->timeout_ms = timeout_ms;
}
