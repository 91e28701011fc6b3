/*
 * interp.c — the interpreter loop over the compiled form (compile.h, interp_ops.h).
 *
 * One C function runs every Wasm frame of a call: calls push a frame record on the
 * exec's own stack and continue in the loop; returns pop it. pc, fp, the memory's
 * base and size and the current instance's tables live in locals so the C compiler
 * can keep them in registers; memory base and size are reloaded after anything
 * that can move or grow the memory (calls, memory.grow, host functions).
 *
 * Dispatch is computed goto: each instruction's first word is the distance from a
 * base label to its handler. Built with LIQUID_WASM_PORTABLE_DISPATCH (or without
 * GNU C), the word is the opcode and a switch dispatches.
 *
 * Invariants the handlers keep: an instruction reads all its operands before it
 * writes its destination (the compiler may make a destination one of the
 * operands); i32 and f32 values are stored zero-extended in their cells; pc points
 * at the running instruction until it completes, so a trap knows where it is.
 */
#include "wasm/exec.h"

#include <math.h>
#include <string.h>

#if defined(__GNUC__) && !defined(LIQUID_WASM_PORTABLE_DISPATCH)
#define USE_COMPUTED_GOTO 1
#else
#define USE_COMPUTED_GOTO 0
#endif

#if defined(__GNUC__)
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define LIKELY(x) (x)
#define UNLIKELY(x) (x)
#endif

/* ------------------------------------------------------------ value helpers */

static inline float f32_of(wasm_slot cell)
{
    uint32_t bits = (uint32_t)cell;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline double f64_of(wasm_slot cell)
{
    double d;
    memcpy(&d, &cell, sizeof d);
    return d;
}

static inline wasm_slot cell_of_f32(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

static inline wasm_slot cell_of_f64(double d)
{
    wasm_slot bits;
    memcpy(&bits, &d, sizeof bits);
    return bits;
}

static inline uint32_t clz32(uint32_t x)
{
#if defined(__GNUC__)
    return x ? (uint32_t)__builtin_clz(x) : 32;
#else
    uint32_t n = 0;
    for (uint32_t bit = 1u << 31; bit && !(x & bit); bit >>= 1)
        n++;
    return n;
#endif
}

static inline uint64_t clz64(uint64_t x)
{
#if defined(__GNUC__)
    return x ? (uint64_t)__builtin_clzll(x) : 64;
#else
    uint64_t n = 0;
    for (uint64_t bit = 1ull << 63; bit && !(x & bit); bit >>= 1)
        n++;
    return n;
#endif
}

static inline uint32_t ctz32(uint32_t x)
{
#if defined(__GNUC__)
    return x ? (uint32_t)__builtin_ctz(x) : 32;
#else
    uint32_t n = 0;
    for (uint32_t bit = 1; bit && !(x & bit); bit <<= 1)
        n++;
    return n;
#endif
}

static inline uint64_t ctz64(uint64_t x)
{
#if defined(__GNUC__)
    return x ? (uint64_t)__builtin_ctzll(x) : 64;
#else
    uint64_t n = 0;
    for (uint64_t bit = 1; bit && !(x & bit); bit <<= 1)
        n++;
    return n;
#endif
}

static inline uint32_t popcnt32(uint32_t x)
{
#if defined(__GNUC__)
    return (uint32_t)__builtin_popcount(x);
#else
    uint32_t n = 0;
    for (; x; x &= x - 1)
        n++;
    return n;
#endif
}

static inline uint64_t popcnt64(uint64_t x)
{
#if defined(__GNUC__)
    return (uint64_t)__builtin_popcountll(x);
#else
    uint64_t n = 0;
    for (; x; x &= x - 1)
        n++;
    return n;
#endif
}

static inline uint32_t rotl32(uint32_t x, uint32_t n)
{
    n &= 31;
    return (x << n) | (x >> ((32 - n) & 31));
}

static inline uint32_t rotr32(uint32_t x, uint32_t n)
{
    n &= 31;
    return (x >> n) | (x << ((32 - n) & 31));
}

static inline uint64_t rotl64(uint64_t x, uint64_t n)
{
    n &= 63;
    return (x << n) | (x >> ((64 - n) & 63));
}

static inline uint64_t rotr64(uint64_t x, uint64_t n)
{
    n &= 63;
    return (x >> n) | (x << ((64 - n) & 63));
}

/* min and max: NaN wins, and -0 is less than +0 (unlike fmin/fmax). */
static inline float f32_min(float a, float b)
{
    if (isnan(a) || isnan(b))
        return a + b;
    if (a == b)
        return signbit(a) ? a : b;
    return a < b ? a : b;
}

static inline float f32_max(float a, float b)
{
    if (isnan(a) || isnan(b))
        return a + b;
    if (a == b)
        return signbit(a) ? b : a;
    return a > b ? a : b;
}

static inline double f64_min(double a, double b)
{
    if (isnan(a) || isnan(b))
        return a + b;
    if (a == b)
        return signbit(a) ? a : b;
    return a < b ? a : b;
}

static inline double f64_max(double a, double b)
{
    if (isnan(a) || isnan(b))
        return a + b;
    if (a == b)
        return signbit(a) ? b : a;
    return a > b ? a : b;
}

/* Saturating float -> int conversions: NaN is 0, out of range clamps. */
static inline uint32_t sat_i32_f64(double d)
{
    if (isnan(d))
        return 0;
    if (d <= -2147483649.0)
        return (uint32_t)INT32_MIN;
    if (d >= 2147483648.0)
        return (uint32_t)INT32_MAX;
    return (uint32_t)(int32_t)d;
}

static inline uint32_t sat_u32_f64(double d)
{
    if (isnan(d) || d <= -1.0)
        return 0;
    if (d >= 4294967296.0)
        return UINT32_MAX;
    return (uint32_t)d;
}

static inline uint64_t sat_i64_f64(double d)
{
    if (isnan(d))
        return 0;
    if (d < -9223372036854775808.0)
        return (uint64_t)INT64_MIN;
    if (d >= 9223372036854775808.0)
        return (uint64_t)INT64_MAX;
    return (uint64_t)(int64_t)d;
}

static inline uint64_t sat_u64_f64(double d)
{
    if (isnan(d) || d <= -1.0)
        return 0;
    if (d >= 18446744073709551616.0)
        return UINT64_MAX;
    return (uint64_t)d;
}

/* Little-endian memory on any host. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define LE16(x) __builtin_bswap16(x)
#define LE32(x) __builtin_bswap32(x)
#define LE64(x) __builtin_bswap64(x)
#else
#define LE16(x) (x)
#define LE32(x) (x)
#define LE64(x) (x)
#endif

static inline uint16_t load_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return LE16(v); }
static inline uint32_t load_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return LE32(v); }
static inline uint64_t load_u64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return LE64(v); }
static inline void store_u16(uint8_t *p, uint16_t v) { v = LE16(v); memcpy(p, &v, 2); }
static inline void store_u32(uint8_t *p, uint32_t v) { v = LE32(v); memcpy(p, &v, 4); }
static inline void store_u64(uint8_t *p, uint64_t v) { v = LE64(v); memcpy(p, &v, 8); }

/* An instance without memory reads as one of size 0 (validation keeps memory
 * instructions out of such modules; this only saves a branch on reload). */
static wasm_memory_inst no_memory;

/* --------------------------------------------------------------- the loop */

#define I32(cell) ((uint32_t)fp[cell])
#define S32(cell) ((int32_t)(uint32_t)fp[cell])
#define I64(cell) (fp[cell])
#define S64(cell) ((int64_t)fp[cell])
#define F32(cell) f32_of(fp[cell])
#define F64(cell) f64_of(fp[cell])
#define REL(word) ((int32_t)(word))

#if USE_COMPUTED_GOTO
#define HANDLER(name) op_##name:
#define DISPATCH() goto *(const void *)((const char *)&&op_unreachable + REL(*pc))
#define GOTO_HANDLER(name) goto op_##name
#else
#define HANDLER(name) case WASM_OP_##name:
#define DISPATCH() goto dispatch
#define GOTO_HANDLER(name)                  \
    do {                                    \
        op = WASM_OP_##name;                \
        goto dispatch_op;                   \
    } while (0)
#endif

/* Compact pairs: the first half runs here, then the second instruction's own
 * handler (pc moved to its virtual start). The same semantics with far less code:
 * under clang's sanitizers the fully fused form makes the interpreter function so
 * large that instrumenting it takes many minutes. Chained pairs become plain ones
 * (the first instruction has written the cell the second reads). */
#if !defined(LIQUID_WASM_COMPACT_PAIRS) && defined(__clang__) && defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer) || \
    __has_feature(coverage_sanitizer)
#define LIQUID_WASM_COMPACT_PAIRS 1
#endif
#endif
#define NEXT(n)        \
    do {               \
        pc += (n);     \
        DISPATCH();    \
    } while (0)

#define TRAP(kind, message)         \
    do {                            \
        trap_kind = (kind);         \
        trap_message = (message);   \
        goto trap;                  \
    } while (0)

/* The running function's instance is its frame's; handlers that need it (tables,
 * indirect calls) read it from there, which leaves registers for pc, fp and memory. */
#define INST (frame->instance)

#define LOAD_INSTANCE()                                                              \
    do {                                                                             \
        const wasm_instance *inst_ = INST;                                           \
        codes = inst_->module->codes;                                                \
        globals = inst_->globals;                                                    \
        memory = inst_->module->memory_count ? inst_->memories[0] : &no_memory;      \
    } while (0)

#define RELOAD_MEMORY()             \
    do {                            \
        mem = memory->data;         \
        mem_size = memory->size;    \
    } while (0)

#include "wasm/interp_bodies.h"

/* One safe point: charge its cost and look for an interrupt. */
#define SAFE_POINT()                                                                    \
    do {                                                                                \
        uint32_t cost = pc[1];                                                          \
        budget -= cost;                                                                 \
        if (UNLIKELY(budget < 0 ||                                                      \
                     atomic_load_explicit(&exec->interrupt, memory_order_relaxed))) {   \
            budget += cost;                                                             \
            goto safe_point_slow;                                                       \
        }                                                                               \
        NEXT(2);                                                                        \
    } while (0)

/* The length in words of each instruction with a body, for fused pairs. */
enum instruction_length {
#define LENGTH_ENUM(name, length) LENGTH_##name = (length),
    WASM_INTERP_SIMPLE_OPS(LENGTH_ENUM) WASM_INTERP_BRANCH_OPS(LENGTH_ENUM)
#undef LENGTH_ENUM
};

static wasm_status interp_loop(wasm_exec *exec, const int32_t **handler_table)
{
#if USE_COMPUTED_GOTO
    static const int32_t handlers[WASM_OP_COUNT] = {
#define HANDLER_OFFSET(name) (int32_t)(&&op_##name - &&op_unreachable),
#define PAIR_OFFSET(a, b) (int32_t)(&&op_##a##__##b - &&op_unreachable),
#define CHAIN_OFFSET(a, b, k) (int32_t)(&&op_##a##__##b##__chain##k - &&op_unreachable),
        WASM_INTERP_OPS(HANDLER_OFFSET)
        WASM_INTERP_PAIRS(PAIR_OFFSET)
        WASM_INTERP_CHAINS(CHAIN_OFFSET)
#undef CHAIN_OFFSET
#undef PAIR_OFFSET
#undef HANDLER_OFFSET
    };
    if (handler_table) {
        *handler_table = handlers;
        return WASM_STATUS_OK;
    }
#else
    (void)handler_table;
#endif

    wasm_frame *const frames = exec->frames;
    wasm_frame *const frames_end = exec->frames + exec->max_depth;
    wasm_slot *const stack_end = exec->stack + exec->stack_cells;
    wasm_frame *frame = frames + exec->depth - 1;
    const wasm_iword *pc = frame->pc;
    wasm_slot *fp = frame->fp;
    const wasm_code *codes;
    wasm_global_inst **globals;
    wasm_memory_inst *memory;
    uint8_t *mem;
    uint64_t mem_size;
    int64_t budget = wasm_exec_issue_budget(exec);

    wasm_trap_kind trap_kind = WASM_TRAP_NONE;
    const char *trap_message = NULL;

    /* outside chained pairs, no operand comes from `chain` (see interp_bodies.h) */
    const uint32_t chain_word = 0;
    wasm_slot chain = 0;
#if !USE_COMPUTED_GOTO
    enum wasm_interp_op op;
#endif

    /* a call in progress: the function to call, where its arguments are, and how
     * long the calling instruction is */
    const wasm_func *call_target;
    uint32_t call_args, call_length;

    LOAD_INSTANCE();
    RELOAD_MEMORY();

#if USE_COMPUTED_GOTO
    DISPATCH();
#else
dispatch:
    op = (enum wasm_interp_op)*pc;
#if LIQUID_WASM_COMPACT_PAIRS
dispatch_op:
#endif
    switch (op) {
#endif

    /* ------------------------------------------------------------ control */

    HANDLER(unreachable) {
        TRAP(WASM_TRAP_UNREACHABLE, NULL);
    }
    HANDLER(entry) {
        SAFE_POINT();
    }
    HANDLER(loop) {
        SAFE_POINT();
    }
    /* conditional and unconditional branches, alone */
#define BRANCH_HANDLER(name, length) \
    HANDLER(name) {                  \
        EXEC_##name(1);              \
    }
    WASM_INTERP_BRANCH_OPS(BRANCH_HANDLER)
#undef BRANCH_HANDLER

    HANDLER(br_table) {
        uint32_t i = I32(pc[1]);
        uint32_t n = pc[2];
        if (i > n)
            i = n;
        pc += REL(pc[3 + i]);
        DISPATCH();
    }

    HANDLER(call_import) {
        call_target = INST->funcs[pc[1]];
        call_args = pc[2];
        call_length = 3;
        goto call_function;
    }
    HANDLER(call_indirect) {
        const wasm_table_inst *table = INST->tables[pc[2]];
        uint32_t i = I32(pc[3]);
        if (UNLIKELY(i >= table->size))
            TRAP(WASM_TRAP_TABLE_OUT_OF_BOUNDS, "undefined element");
        call_target = (const wasm_func *)(uintptr_t)table->elems[i];
        if (UNLIKELY(!call_target))
            TRAP(WASM_TRAP_UNINITIALIZED_ELEMENT, NULL);
        if (UNLIKELY(call_target->type_id != INST->type_ids[pc[1]]))
            TRAP(WASM_TRAP_INDIRECT_CALL_TYPE_MISMATCH, NULL);
        call_args = pc[4];
        call_length = 5;
        goto call_function;
    }

    HANDLER(return0) {
        goto do_return;
    }
    HANDLER(return_n) {
        /* the compiler ordered the sources so that ascending copies are safe */
        uint32_t n = pc[1];
        for (uint32_t i = 0; i < n; i++)
            fp[i] = fp[pc[2 + i]];
        goto do_return;
    }

    /* copies, globals, loads, stores and every numeric instruction, alone */
#define SIMPLE_HANDLER(name, length) \
    HANDLER(name) {                  \
        EXEC_##name(1);              \
        NEXT(length);                \
    }
    WASM_INTERP_SIMPLE_OPS(SIMPLE_HANDLER)
#undef SIMPLE_HANDLER

#if LIQUID_WASM_COMPACT_PAIRS
#define PAIR_HANDLER(a, b)                                       \
    HANDLER(a##__##b) {                                          \
        EXEC_##a(1);                                             \
        pc += LENGTH_##a - 1;                                    \
        GOTO_HANDLER(b);                                         \
    }
#define CHAIN_HANDLER(a, b, k)                                   \
    HANDLER(a##__##b##__chain##k) {                              \
        EXEC_##a(1);                                             \
        pc += LENGTH_##a - 1;                                    \
        GOTO_HANDLER(b);                                         \
    }
#else
    /* fused pairs: the second instruction's operands follow the first's */
#define PAIR_HANDLER(a, b)                                       \
    HANDLER(a##__##b) {                                          \
        EXEC_##a(1);                                             \
        EXEC_##b(LENGTH_##a);                                    \
        NEXT(LENGTH_##a + LENGTH_##b - 1);                       \
    }
    /* chained pairs: the second reads one operand from the first's result */
#define CHAIN_HANDLER(a, b, k)                                   \
    HANDLER(a##__##b##__chain##k) {                              \
        const uint32_t chain_word = LENGTH_##a + (k);            \
        wasm_slot chain;                                         \
        EXEC_##a(1);                                             \
        EXEC_##b(LENGTH_##a);                                    \
        NEXT(LENGTH_##a + LENGTH_##b - 1);                       \
    }
#endif
    WASM_INTERP_PAIRS(PAIR_HANDLER)
    WASM_INTERP_CHAINS(CHAIN_HANDLER)
#undef PAIR_HANDLER
#undef CHAIN_HANDLER

    HANDLER(memory_size) {
        fp[pc[1]] = memory->pages;
        NEXT(2);
    }
    HANDLER(memory_grow) {
        bool limit_hit = false;
        int64_t old = wasm_memory_grow(memory, I32(pc[2]), &limit_hit);
        if (UNLIKELY(limit_hit))
            TRAP(WASM_TRAP_MEMORY_LIMIT, NULL);
        fp[pc[1]] = (uint32_t)(int32_t)old;
        RELOAD_MEMORY();
        NEXT(3);
    }
    HANDLER(memory_fill) {
        uint64_t d = I32(pc[1]), n = I32(pc[3]);
        if (UNLIKELY(d + n > mem_size))
            TRAP(WASM_TRAP_MEMORY_OUT_OF_BOUNDS, NULL);
        if (n)
            memset(mem + d, (int)(uint8_t)I32(pc[2]), (size_t)n);
        NEXT(4);
    }
    HANDLER(memory_copy) {
        uint64_t d = I32(pc[1]), s = I32(pc[2]), n = I32(pc[3]);
        if (UNLIKELY(d + n > mem_size || s + n > mem_size))
            TRAP(WASM_TRAP_MEMORY_OUT_OF_BOUNDS, NULL);
        if (n)
            memmove(mem + d, mem + s, (size_t)n);
        NEXT(4);
    }
    HANDLER(memory_init) {
        uint32_t seg = pc[1];
        const wasm_data_segment *data = &INST->module->datas[seg];
        uint64_t seg_size = INST->data_dropped[seg] ? 0 : data->size;
        uint64_t d = I32(pc[2]), s = I32(pc[3]), n = I32(pc[4]);
        if (UNLIKELY(s + n > seg_size || d + n > mem_size))
            TRAP(WASM_TRAP_MEMORY_OUT_OF_BOUNDS, NULL);
        if (n)
            memcpy(mem + d, INST->module->bytes + data->bytes_offset + s, (size_t)n);
        NEXT(5);
    }
    HANDLER(data_drop) {
        INST->data_dropped[pc[1]] = 1;
        NEXT(2);
    }

    /* ------------------------------------------------- tables and references */

    HANDLER(table_get) {
        const wasm_table_inst *table = INST->tables[pc[3]];
        uint32_t i = I32(pc[2]);
        if (UNLIKELY(i >= table->size))
            TRAP(WASM_TRAP_TABLE_OUT_OF_BOUNDS, NULL);
        fp[pc[1]] = table->elems[i];
        NEXT(4);
    }
    HANDLER(table_set) {
        wasm_table_inst *table = INST->tables[pc[1]];
        uint32_t i = I32(pc[2]);
        if (UNLIKELY(i >= table->size))
            TRAP(WASM_TRAP_TABLE_OUT_OF_BOUNDS, NULL);
        table->elems[i] = fp[pc[3]];
        NEXT(4);
    }
    HANDLER(table_size) {
        fp[pc[1]] = INST->tables[pc[2]]->size;
        NEXT(3);
    }
    HANDLER(table_grow) {
        bool limit_hit = false;
        wasm_slot init = fp[pc[2]];
        int64_t old = wasm_table_grow(INST->tables[pc[4]], I32(pc[3]), init, &limit_hit);
        if (UNLIKELY(limit_hit))
            TRAP(WASM_TRAP_MEMORY_LIMIT, "table.grow past the embedder's limit");
        fp[pc[1]] = (uint32_t)(int32_t)old;
        NEXT(5);
    }
    HANDLER(table_fill) {
        wasm_table_inst *table = INST->tables[pc[1]];
        uint64_t i = I32(pc[2]), n = I32(pc[4]);
        wasm_slot value = fp[pc[3]];
        if (UNLIKELY(i + n > table->size))
            TRAP(WASM_TRAP_TABLE_OUT_OF_BOUNDS, NULL);
        for (uint64_t k = 0; k < n; k++)
            table->elems[i + k] = value;
        NEXT(5);
    }
    HANDLER(table_copy) {
        wasm_table_inst *dst = INST->tables[pc[1]];
        const wasm_table_inst *src = INST->tables[pc[2]];
        uint64_t d = I32(pc[3]), s = I32(pc[4]), n = I32(pc[5]);
        if (UNLIKELY(d + n > dst->size || s + n > src->size))
            TRAP(WASM_TRAP_TABLE_OUT_OF_BOUNDS, NULL);
        if (n)
            memmove(dst->elems + d, src->elems + s, (size_t)n * sizeof(wasm_slot));
        NEXT(6);
    }
    HANDLER(table_init) {
        uint32_t seg = pc[1];
        wasm_table_inst *table = INST->tables[pc[2]];
        const wasm_elem_segment *elem = &INST->module->elems[seg];
        uint64_t seg_size = INST->elem_dropped[seg] ? 0 : elem->item_count;
        uint64_t d = I32(pc[3]), s = I32(pc[4]), n = I32(pc[5]);
        if (UNLIKELY(s + n > seg_size || d + n > table->size))
            TRAP(WASM_TRAP_TABLE_OUT_OF_BOUNDS, NULL);
        for (uint64_t k = 0; k < n; k++)
            table->elems[d + k] = wasm_constexpr_eval(INST, &elem->items[s + k]);
        NEXT(6);
    }
    HANDLER(elem_drop) {
        INST->elem_dropped[pc[1]] = 1;
        NEXT(2);
    }
    HANDLER(ref_func) {
        fp[pc[1]] = (wasm_slot)(uintptr_t)INST->funcs[pc[2]];
        NEXT(3);
    }
#if !USE_COMPUTED_GOTO
    default:
        TRAP(WASM_TRAP_UNREACHABLE, "corrupt compiled code");
    }
#endif

    /* ------------------------------------------------------- shared paths */

call_function:
    if (call_target->host) {
        frame->pc = pc;     /* a trap in the host function is reported at the call */
        if (UNLIKELY(!wasm_exec_call_host(exec, call_target, INST, fp + call_args))) {
            wasm_exec_locate_trap(exec, frame, pc);
            wasm_exec_settle_budget(exec, budget);
            exec->depth = 0;
            exec->status = WASM_STATUS_TRAP;
            return WASM_STATUS_TRAP;
        }
        RELOAD_MEMORY();
        NEXT(call_length);
    }
    {
        const struct wasm_code_compiled *callee = call_target->code->compiled;
        wasm_slot *callee_fp = fp + call_args;
        if (UNLIKELY(frame + 1 >= frames_end || callee->frame_cells > (size_t)(stack_end - callee_fp)))
            TRAP(WASM_TRAP_STACK_EXHAUSTED, NULL);
        frame->pc = pc + call_length;
        frame++;
        frame->code = callee;
        frame->instance = call_target->instance;
        frame->fp = callee_fp;
        wasm_frame_init(callee_fp, callee);
        fp = callee_fp;
        pc = callee->code;
        if (frame->instance != frame[-1].instance) {
            LOAD_INSTANCE();
            RELOAD_MEMORY();
        }
        SAFE_POINT();
    }

do_return:
    if (UNLIKELY(frame == frames)) {
        wasm_exec_settle_budget(exec, budget);
        exec->depth = 0;
        exec->status = WASM_STATUS_OK;
        return WASM_STATUS_OK;
    }
    frame--;
    fp = frame->fp;
    pc = frame->pc;
    if (UNLIKELY(frame->instance != frame[1].instance))
        LOAD_INSTANCE();
    RELOAD_MEMORY();
    DISPATCH();

safe_point_slow:
    frame->pc = pc;
    if (wasm_exec_safe_point(exec, pc[1], &budget))
        DISPATCH();
    /* stopped: the frames stay as they are, to be resumed or snapshotted */
    exec->depth = (uint32_t)(frame - frames) + 1;
    return exec->status;

trap:
    frame->pc = pc;
    wasm_exec_set_trap(exec, trap_kind, trap_message, frame, pc);
    wasm_exec_settle_budget(exec, budget);
    exec->depth = 0;
    exec->status = WASM_STATUS_TRAP;
    return WASM_STATUS_TRAP;
}

wasm_status wasm_interp_run(wasm_exec *exec)
{
    return interp_loop(exec, NULL);
}

wasm_iword wasm_interp_handler(enum wasm_interp_op op)
{
#if USE_COMPUTED_GOTO
    const int32_t *table = NULL;
    interp_loop(NULL, &table);
    return (wasm_iword)table[op];
#else
    return (wasm_iword)op;
#endif
}
