/*
 * compile_internal.h — what the parts of the compiler share: the state of one
 * function being compiled, and the functions one part offers the others.
 *
 *   compile.c          validation and the instructions' translation, driver
 *   compile_numeric.c  numeric and memory instructions, immediate operands
 *   compile_code.c     the code being built: words, cells, constants, trap sites,
 *                      safe points, superinstructions; finishing it; lookups
 *
 * Shared functions are named compiler_*; each part calls them by the short names
 * of the inline wrappers at the end of this file.
 */
#ifndef LIQUID_WASM_COMPILE_INTERNAL_H
#define LIQUID_WASM_COMPILE_INTERNAL_H

#include "wasm/compile.h"

#define POS_TAG 0x40000000u
#define CONST_TAG 0x80000000u
#define CELL_INDEX_MASK 0x3fffffffu
#define MAX_FRAME_CELLS 0x3fffff00u

#define TYPE_UNKNOWN 0

/* Compiled code takes under one word per byte of body in practice (at most three
 * for tiny bodies). Branches that carry many values can take more, and a hostile
 * body could repeat them to make compilation allocate gigabytes: refuse a body
 * whose code would exceed this many words per byte. */
#define CODE_WORDS_PER_BYTE 32
#define CODE_WORDS_MIN 4096

/* An operand-stack entry: its type and the (virtual) cell holding its value. */
typedef struct operand {
    uint8_t type;
    uint32_t cell;
} operand;

/* A block type: nothing, one result, or a function type (multi-value). */
typedef struct block_type {
    const wasm_functype *func;
    uint8_t single;         /* the result type when func is NULL; 0 for none */
} block_type;

typedef struct control {
    uint8_t opcode;         /* 0 for the function body, else block/loop/if/else */
    block_type type;
    uint32_t height;        /* operand stack height below the block's parameters */
    bool unreachable;
    bool entry_live;        /* code was being emitted when the block began */
    uint32_t loop_pos;      /* loop: its header instruction */
    uint32_t patches;       /* forward branches to the end (patch index + 1; 0 = none) */
    uint32_t else_patches;  /* if: the jump taken when the condition is false */
    uint32_t fuel;          /* loop: instructions charged at each iteration */
    uint32_t cost_pos;      /* loop: where its header's cost operand is */
    uint32_t outer_fuel_scope;
    size_t offset;          /* of the block instruction, for safe points */
    /* per br_table (numbered by table_serial): each label is checked once, and
     * its stub of moves, if it needs one, emitted once */
    uint32_t table_serial;
    bool table_needs_moves;
    uint32_t table_stub;
} control;

typedef struct patch {
    uint32_t field;         /* code word to receive the distance */
    uint32_t instr;         /* start of the instruction the distance is relative to */
    uint32_t next;
} patch;

/* A conditional jump being built: a fused comparison or a plain test of a cell. */
typedef struct condition {
    enum wasm_interp_op op;
    uint32_t a, b;
    bool binary;
    bool imm;               /* b is an immediate, not a cell */
} condition;

typedef struct compiler {
    wasm_module *module;
    uint32_t func_index;
    const wasm_functype *type;
    const uint8_t *p, *end;
    size_t instr_offset;    /* module offset of the instruction being compiled */
    wasm_error *err;

    uint32_t local_count;
    uint8_t *local_types;
    /* Declared locals nothing has written yet on any path from the entry: they still
     * hold their initial zero, so storing zero into them again is dropped. Cleared
     * for all at a loop header, whose back edges may bring other values. */
    uint8_t *local_zero;

    operand *stack;
    uint32_t height, stack_cap, max_height;
    /* Bounds that keep compilation linear on any input: every entry below
     * clean_below is in its own cell, and alias_count[x] entries alias local x. */
    uint32_t clean_below;
    uint32_t *alias_count;

    control *ctrl;
    uint32_t ctrl_depth, ctrl_cap;
    uint32_t fuel_scope;    /* innermost loop's control index, or 0 (the function) */
    uint32_t table_serial;  /* br_tables seen */

    wasm_iword *code;
    uint32_t len, code_cap;
    uint32_t code_limit;    /* words; see CODE_WORDS_PER_BYTE */
    bool live;              /* false in code no path reaches: nothing is emitted */
    uint32_t instr_start;   /* of the instruction being emitted (virtual when fused) */

    /* superinstructions: the last instruction, if the next may fuse with it, and
     * the same for the one before (restored when the last is taken back) */
    bool last_ok, prior_ok;
    enum wasm_interp_op last_op, prior_op;
    uint32_t last_start, prior_start;
    /* a fused pair whose second instruction is still being emitted */
    bool pair_open;
    enum wasm_interp_op pair_first, pair_second;
    uint32_t pair_start, pair_second_at;

    /* local.set folding: the last instruction wrote operand height fold_height
     * through the code word fold_field. */
    bool fold_ok;
    uint32_t fold_field, fold_end, fold_height;

    /* compare + branch fusion: the last instruction was this comparison, of cmp_a
     * with cell cmp_b or, when cmp_has_imm, with the immediate cmp_b. */
    bool cmp_ok, cmp_has_imm;
    uint32_t cmp_start, cmp_end, cmp_height, cmp_a, cmp_b;
    enum wasm_interp_op cmp_op;

    uint32_t *relocs;
    uint32_t reloc_count, reloc_cap;
    patch *patches;
    uint32_t patch_count, patch_cap;

    wasm_slot *consts;
    uint32_t const_count, const_cap;
    uint32_t *const_hash;   /* const index + 1, open addressing */
    uint32_t const_hash_cap;

    wasm_code_site *sites;
    uint32_t site_count, site_cap;
    wasm_safe_point *safe_points;
    uint32_t safe_count, safe_cap;
    uint8_t *stack_types;
    uint32_t stack_types_count, stack_types_cap;
} compiler;

/* ------------------------------------------------------------ compile_code.c */

bool compiler_fail(compiler *c, wasm_error_kind kind, const char *message);
bool compiler_invalid(compiler *c, const char *message);
bool compiler_malformed(compiler *c, const char *message);
bool compiler_out_of_memory(compiler *c);
/* Grows *array so that it holds at least `need` elements. */
bool compiler_reserve(void **array, uint32_t *cap, uint64_t need, size_t elem);
#define RESERVE(c, arr, cap, need) \
    (compiler_reserve((void **)&(arr), &(cap), (need), sizeof *(arr)) || out_of_memory(c))

bool compiler_emit_word(compiler *c, wasm_iword word);
bool compiler_emit_op(compiler *c, enum wasm_interp_op op);
bool compiler_emit_imm(compiler *c, uint32_t value);
bool compiler_emit_cell(compiler *c, uint32_t cell);
bool compiler_emit_site(compiler *c);
void compiler_close_pair(compiler *c);
void compiler_rewind_code(compiler *c, uint32_t pos);
bool compiler_record_safe_point(compiler *c, uint8_t kind, uint32_t resume_pos,
                                uint32_t height);
bool compiler_const_cell(compiler *c, wasm_slot value, uint32_t *cell);
bool compiler_finish(compiler *c, wasm_code *code);

/* ------------------------------------------------------------------ compile.c */

bool compiler_read_u32(compiler *c, uint32_t *out);
bool compiler_push(compiler *c, uint8_t type, uint32_t cell);
bool compiler_push_result(compiler *c, uint8_t type);
bool compiler_pop_expect(compiler *c, uint8_t expected, operand *out);

/* ---------------------------------------------------------- compile_numeric.c */

bool compiler_emit_result_op(compiler *c, enum wasm_interp_op op, uint8_t type,
                             const uint32_t *cells, uint32_t n, const uint32_t *imms,
                             uint32_t m, bool traps);
bool compiler_emit_value_op(compiler *c, enum wasm_interp_op op, uint8_t type,
                            const uint32_t *cells, uint32_t n, bool traps);
bool compiler_require_memory(compiler *c);
/* The numeric instructions (0x45..0xc4); false, with no error, for other opcodes. */
bool compiler_is_numeric(uint8_t opcode);
bool compiler_numeric(compiler *c, uint8_t opcode);
/* 0xfc 0..7: the saturating float-to-int conversions */
bool compiler_saturating(compiler *c, uint32_t sub);
/* 0x28..0x3e: loads and stores */
bool compiler_memory_access(compiler *c, uint8_t opcode);

/* ------------------------------------------------------------- short names */

static inline uint32_t pos_cell(uint32_t height) { return POS_TAG | height; }
static inline bool is_local_cell(uint32_t cell) { return !(cell & (POS_TAG | CONST_TAG)); }

static inline bool fail(compiler *c, wasm_error_kind kind, const char *message)
{
    return compiler_fail(c, kind, message);
}
static inline bool invalid(compiler *c, const char *m) { return compiler_invalid(c, m); }
static inline bool malformed(compiler *c, const char *m) { return compiler_malformed(c, m); }
static inline bool out_of_memory(compiler *c) { return compiler_out_of_memory(c); }
static inline bool emit_word(compiler *c, wasm_iword w) { return compiler_emit_word(c, w); }
static inline bool emit_op(compiler *c, enum wasm_interp_op op) { return compiler_emit_op(c, op); }
static inline bool emit_imm(compiler *c, uint32_t v) { return compiler_emit_imm(c, v); }
static inline bool emit_cell(compiler *c, uint32_t cell) { return compiler_emit_cell(c, cell); }
static inline bool emit_site(compiler *c) { return compiler_emit_site(c); }
static inline void close_pair(compiler *c) { compiler_close_pair(c); }
static inline void rewind_code(compiler *c, uint32_t pos) { compiler_rewind_code(c, pos); }
static inline bool record_safe_point(compiler *c, uint8_t kind, uint32_t resume_pos,
                                     uint32_t height)
{
    return compiler_record_safe_point(c, kind, resume_pos, height);
}
static inline bool const_cell(compiler *c, wasm_slot value, uint32_t *cell)
{
    return compiler_const_cell(c, value, cell);
}
static inline bool read_u32(compiler *c, uint32_t *out) { return compiler_read_u32(c, out); }
static inline bool push(compiler *c, uint8_t type, uint32_t cell)
{
    return compiler_push(c, type, cell);
}
static inline bool push_result(compiler *c, uint8_t type) { return compiler_push_result(c, type); }
static inline bool pop_expect(compiler *c, uint8_t expected, operand *out)
{
    return compiler_pop_expect(c, expected, out);
}
static inline bool emit_result_op(compiler *c, enum wasm_interp_op op, uint8_t type,
                                  const uint32_t *cells, uint32_t n, const uint32_t *imms,
                                  uint32_t m, bool traps)
{
    return compiler_emit_result_op(c, op, type, cells, n, imms, m, traps);
}
static inline bool emit_value_op(compiler *c, enum wasm_interp_op op, uint8_t type,
                                 const uint32_t *cells, uint32_t n, bool traps)
{
    return compiler_emit_value_op(c, op, type, cells, n, traps);
}
static inline bool require_memory(compiler *c) { return compiler_require_memory(c); }

#endif
