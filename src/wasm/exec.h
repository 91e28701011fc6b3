/*
 * exec.h — one call stack: what the interpreter (interp.c), the public exec API
 * (exec.c), host calls (host_call.c) and snapshots (snapshot.c) share.
 *
 * Wasm frames never live on the C stack. The exec owns an array of value cells
 * (frames overlap: a callee's first cells are its caller's argument cells) and an
 * array of frame records. The record of a frame that is not running holds the
 * position where it continues: the instruction after its pending call, or the
 * safe point where the whole call stopped.
 */
#ifndef LIQUID_WASM_EXEC_H
#define LIQUID_WASM_EXEC_H

#include "wasm/compile.h"

#include <stdatomic.h>
#include <string.h>

typedef struct wasm_frame {
    const struct wasm_code_compiled *code;
    wasm_instance *instance;
    wasm_slot *fp;
    const wasm_iword *pc;
} wasm_frame;

struct wasm_host_call {
    wasm_exec *exec;
    wasm_instance *instance;    /* of the calling Wasm function; NULL from the API */
    const wasm_func *func;
    bool trapped;               /* wasm_host_trap or wasm_host_exit was called */
};

struct wasm_exec {
    wasm_store *store;
    wasm_exec_limits limits;

    wasm_slot *stack;
    uint32_t stack_cells;
    wasm_frame *frames;
    uint32_t max_depth;
    uint32_t depth;             /* frames in use; 0 when no call is in progress */

    atomic_bool interrupt;

    bool fuel_limited;
    uint64_t fuel_remaining;    /* limited fuel not yet charged */
    uint64_t fuel_used;         /* charged in the current call */
    int64_t budget_issued;      /* what the interpreter's running budget started at */

    uint64_t timeout_ms;
    bool has_deadline;
    uint64_t deadline_ns;       /* CLOCK_MONOTONIC */

    bool running;               /* inside wasm_exec_call/resume: no reentry */
    wasm_status status;
    wasm_trap trap;
    const wasm_functype *call_type;     /* of the outermost function */
    bool has_results;
};

/* The interpreter: runs the top frame from its saved pc until the outermost frame
 * returns, a trap, or a stop at a safe point. */
wasm_status wasm_interp_run(wasm_exec *exec);

/* Sets the cells of a new frame that are not arguments: zeroed locals, constants.
 * Most images are short: copy the padded minimum unconditionally (the frame is
 * large enough for it) rather than calling memcpy from the interpreter loop. */
static inline void wasm_frame_init(wasm_slot *fp, const struct wasm_code_compiled *code)
{
    wasm_slot *dst = fp + code->param_count;
    const wasm_slot *src = code->init_cells;
    if (code->init_count <= WASM_FRAME_INIT_MIN) {
        dst[0] = src[0];
        dst[1] = src[1];
        dst[2] = src[2];
        dst[3] = src[3];
    } else {
        memcpy(dst, src, code->init_count * sizeof *dst);
    }
}

/* Safe-point slow path: accounts the fuel spent since the budget was issued and
 * decides whether the call stops here (interrupt, deadline, fuel). Returns true to
 * go on, with *budget refilled so that it covers `cost`. */
bool wasm_exec_safe_point(wasm_exec *exec, uint32_t cost, int64_t *budget);
/* Gives the interpreter its starting budget. */
int64_t wasm_exec_issue_budget(wasm_exec *exec);
/* Accounts the fuel spent when the interpreter leaves. */
void wasm_exec_settle_budget(wasm_exec *exec, int64_t budget);

/* Records a trap at `pc` of the top frame (message NULL: the kind's usual text). */
void wasm_exec_set_trap(wasm_exec *exec, wasm_trap_kind kind, const char *message,
                        const wasm_frame *frame, const wasm_iword *pc);

/* Adds the location of `pc` in the frame's function to exec->trap. */
void wasm_exec_locate_trap(wasm_exec *exec, const wasm_frame *frame, const wasm_iword *pc);

/* Calls a host function; args and results are the same cells (results overwrite
 * the arguments). Returns false when it trapped (exec->trap is filled). */
bool wasm_exec_call_host(wasm_exec *exec, const wasm_func *func, wasm_instance *caller,
                         wasm_slot *cells);

uint64_t wasm_exec_now_ns(void);

#endif
