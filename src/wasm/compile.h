/*
 * compile.h — the compiled form of one function, shared by the compiler
 * (compile.c), the interpreter (interp.c) and snapshots (snapshot.c).
 *
 * A frame is an array of 64-bit cells:
 *
 *   [ params | declared locals | constants | operand stack ... ]
 *   0        param_count       local_count stack_base
 *
 * The operand-stack entry at height h lives in cell stack_base + h whenever
 * execution is at a safe point; between safe points an entry may still be an
 * alias of a local or a constant (the compiler folds local.get and constants into
 * the instructions that consume them). A call's arguments are the top cells of
 * the caller's operand stack and become the callee's first cells: calls copy
 * nothing, and results come back in the same cells.
 *
 * The code is immutable once compiled and shared by every instance of the module.
 */
#ifndef LIQUID_WASM_COMPILE_H
#define LIQUID_WASM_COMPILE_H

#include "wasm/internal.h"
#include "wasm/interp_ops.h"

typedef uint32_t wasm_iword;    /* one word of compiled code */

#define WASM_FRAME_INIT_MIN 4

/* A code position whose Wasm byte offset must be recoverable: instructions that can
 * trap and safe points. Sorted by code_pos. */
typedef struct wasm_code_site {
    uint32_t code_pos;
    uint32_t wasm_offset;
} wasm_code_site;

typedef enum wasm_safe_kind {
    WASM_SAFE_ENTRY = 0,    /* the function's first instruction */
    WASM_SAFE_LOOP = 1,     /* a loop header, entered or branched to */
    WASM_SAFE_CALL = 2,     /* a caller waiting for its callee to return */
} wasm_safe_kind;

/* Where a frame can be stopped and later resumed. For ENTRY and LOOP, resume_pos is
 * the safe-point instruction itself (it is re-executed on resume); for CALL it is the
 * instruction after the call. */
typedef struct wasm_safe_point {
    uint32_t resume_pos;
    uint32_t wasm_offset;   /* ENTRY: body_offset; LOOP: the `loop`; CALL: the call */
    uint32_t height;        /* live operand-stack cells (for CALL: below the arguments) */
    uint32_t types_at;      /* index of `height` value types in stack_types */
    uint8_t kind;
    const wasm_functype *callee_type;   /* CALL: the type of what is called */
} wasm_safe_point;

struct wasm_code_compiled {
    uint32_t func_index;        /* in the module's function index space */
    uint32_t param_count;
    uint32_t result_count;
    uint32_t local_count;       /* params + declared locals */
    uint32_t const_count;
    uint32_t stack_base;        /* local_count + const_count */
    uint32_t frame_cells;       /* cells the frame needs, at least result_count */
    /* What a call writes after the arguments: zeros for the declared locals, then
     * the constants. At least WASM_FRAME_INIT_MIN cells (zero-padded), so short
     * images are copied without a loop or a library call. */
    wasm_slot *init_cells;
    uint32_t init_count;
    uint8_t *local_types;       /* local_count value types (params first) */
    uint32_t entry_cost;        /* fuel charged on entry */

    wasm_iword *code;
    uint32_t code_size;

    wasm_code_site *sites;
    uint32_t site_count;
    wasm_safe_point *safe_points;   /* sorted by resume_pos */
    uint32_t safe_point_count;
    uint8_t *stack_types;
};

/* The word to store for an instruction: its handler (computed-goto build) or its
 * opcode (portable build). Implemented by interp.c. */
wasm_iword wasm_interp_handler(enum wasm_interp_op op);

/* The Wasm byte offset of the instruction at code_pos (the nearest site at or before
 * it), for trap reports. */
uint32_t wasm_compiled_offset_of(const struct wasm_code_compiled *code, uint32_t code_pos);
const wasm_safe_point *wasm_compiled_safe_point_at(const struct wasm_code_compiled *code,
                                                   uint32_t resume_pos);
const wasm_safe_point *wasm_compiled_safe_point_find(const struct wasm_code_compiled *code,
                                                     uint8_t kind, uint32_t wasm_offset);

#endif
