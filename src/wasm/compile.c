/*
 * compile.c — validates one function body and compiles it, in the same single pass,
 * into the interpreter's three-address form (see compile.h for the frame layout).
 *
 * Validation follows the algorithm of the spec's validation appendix: a stack of
 * operand types ("unknown" in unreachable code) and a stack of control frames.
 *
 * Compilation keeps a virtual operand stack beside the type stack: each entry
 * knows which cell holds its value. `local.get` and constants push aliases of a
 * local's or a constant's cell instead of copying, so the consuming instruction
 * names that cell directly. Before a local is overwritten, entries still aliasing
 * it are copied to their own cells; `local.set` after an instruction rewrites that
 * instruction's destination; a comparison followed by `br_if`/`if` becomes one
 * conditional branch. At block boundaries, calls and loop headers every entry is
 * moved to its own positional cell, so control-flow joins agree on where values are
 * and every safe point has the whole operand stack in place (what snapshots need).
 *
 * Cells are named virtually while compiling: locals by index, operand-stack cells
 * as POS_TAG|height and constants as CONST_TAG|index, because the number of
 * constants (and so where the operand stack starts) is known only at the end. Every
 * code word holding a tagged cell is recorded and rewritten when the body is done.
 */
#include "wasm/compile.h"

#include <stdlib.h>
#include <string.h>

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

/* ------------------------------------------------------------------ errors */

static bool fail(compiler *c, wasm_error_kind kind, const char *message)
{
    return wasm_fail_at(c->err, kind, c->instr_offset, "%s (function %u)", message,
                        c->func_index);
}

static bool invalid(compiler *c, const char *message)
{
    return fail(c, WASM_ERR_INVALID, message);
}

static bool malformed(compiler *c, const char *message)
{
    return fail(c, WASM_ERR_MALFORMED, message);
}

static bool out_of_memory(compiler *c)
{
    return fail(c, WASM_ERR_NOMEM, "out of memory compiling function");
}

/* Grows *array so that it holds at least `need` elements. */
static bool reserve(void **array, uint32_t *cap, uint64_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    if (need > UINT32_MAX / 2)
        return false;
    uint64_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *grown = realloc(*array, (size_t)n * elem);
    if (!grown)
        return false;
    *array = grown;
    *cap = (uint32_t)n;
    return true;
}

#define RESERVE(c, arr, cap, need) \
    (reserve((void **)&(arr), &(cap), (need), sizeof *(arr)) || out_of_memory(c))

/* ------------------------------------------------------------------ reading */

static bool read_byte(compiler *c, uint8_t *out)
{
    *out = 0;
    if (c->p >= c->end)
        return malformed(c, "unexpected end of section or function");
    *out = *c->p++;
    return true;
}

static bool read_u32(compiler *c, uint32_t *out)
{
    if (!wasm_read_u32(&c->p, c->end, out))
        return malformed(c, c->p >= c->end ? "unexpected end of section or function"
                                           : "integer representation too long");
    return true;
}

static bool read_zero_byte(compiler *c)
{
    uint8_t b;
    if (!read_byte(c, &b))
        return false;
    return b == 0 || malformed(c, "zero byte expected");
}

/* ------------------------------------------------------------ code emission */

static bool emit_word(compiler *c, wasm_iword word)
{
    if (c->len >= c->code_limit)
        return fail(c, WASM_ERR_LIMIT, "function too large to compile: its branches carry "
                    "too many values");
    if (!RESERVE(c, c->code, c->code_cap, (uint64_t)c->len + 1))
        return false;
    c->code[c->len++] = word;
    return true;
}

static const struct {
    enum wasm_interp_op first, second, fused;
} fused_pairs[] = {
#define FUSED_PAIR(a, b) {WASM_OP_##a, WASM_OP_##b, WASM_OP_##a##__##b},
    WASM_INTERP_PAIRS(FUSED_PAIR)
#undef FUSED_PAIR
};

static const struct {
    enum wasm_interp_op first, second, chained;
    uint32_t word;
} chained_pairs[] = {
#define CHAINED_PAIR(a, b, k) {WASM_OP_##a, WASM_OP_##b, WASM_OP_##a##__##b##__chain##k, k},
    WASM_INTERP_CHAINS(CHAINED_PAIR)
#undef CHAINED_PAIR
};

/* Once the second instruction of a pair is complete: if it reads the first one's
 * destination cell, use the chained form that passes the value in a register. */
static void close_pair(compiler *c)
{
    if (!c->pair_open)
        return;
    c->pair_open = false;
    wasm_iword first_result = c->code[c->pair_start + 1];
    for (size_t i = 0; i < sizeof chained_pairs / sizeof chained_pairs[0]; i++) {
        if (chained_pairs[i].first != c->pair_first ||
            chained_pairs[i].second != c->pair_second)
            continue;
        uint32_t at = c->pair_second_at + chained_pairs[i].word;
        if (at < c->len && c->code[at] == first_result) {
            c->code[c->pair_start] = wasm_interp_handler(chained_pairs[i].chained);
            return;
        }
    }
}

/* Comparisons stay alone: a following br_if or if may still absorb them. */
static bool is_comparison(enum wasm_interp_op op)
{
    return (op >= WASM_OP_i32_eqz && op <= WASM_OP_i64_ge_u) ||
           (op >= WASM_OP_i32_eq_imm && op <= WASM_OP_i32_ge_u_imm);
}

/* If op can run in the same handler as the previous instruction, makes that
 * instruction the fused pair; op's operands then follow with no handler word, and
 * its virtual start is the word before them. */
static bool fuse_with_last(compiler *c, enum wasm_interp_op op)
{
    if (!c->last_ok || is_comparison(op))
        return false;
    for (size_t i = 0; i < sizeof fused_pairs / sizeof fused_pairs[0]; i++)
        if (fused_pairs[i].first == c->last_op && fused_pairs[i].second == op) {
            c->code[c->last_start] = wasm_interp_handler(fused_pairs[i].fused);
            c->instr_start = c->len - 1;
            c->last_ok = false;     /* a pair is not extended further */
            c->pair_open = true;
            c->pair_first = c->last_op;
            c->pair_second = op;
            c->pair_start = c->last_start;
            c->pair_second_at = c->len;
            return true;
        }
    return false;
}

/* Starts an instruction. Nothing is emitted in unreachable code. */
static bool emit_op(compiler *c, enum wasm_interp_op op)
{
    if (!c->live)
        return true;
    close_pair(c);
    c->fold_ok = false;
    c->cmp_ok = false;
    if (fuse_with_last(c, op))
        return true;
    c->instr_start = c->len;
    c->prior_ok = c->last_ok;
    c->prior_op = c->last_op;
    c->prior_start = c->last_start;
    c->last_ok = true;
    c->last_op = op;
    c->last_start = c->len;
    return emit_word(c, wasm_interp_handler(op));
}

static bool emit_imm(compiler *c, uint32_t value)
{
    return !c->live || emit_word(c, value);
}

static bool emit_cell(compiler *c, uint32_t cell)
{
    if (!c->live)
        return true;
    if (cell & (POS_TAG | CONST_TAG)) {
        if (!RESERVE(c, c->relocs, c->reloc_cap, (uint64_t)c->reloc_count + 1))
            return false;
        c->relocs[c->reloc_count++] = c->len;
    }
    return emit_word(c, cell);
}

/* Records the current instruction's Wasm offset (it can trap or is a safe point). */
static bool emit_site(compiler *c)
{
    if (!c->live)
        return true;
    if (!RESERVE(c, c->sites, c->site_cap, (uint64_t)c->site_count + 1))
        return false;
    c->sites[c->site_count].code_pos = c->instr_start;
    c->sites[c->site_count].wasm_offset = (uint32_t)c->instr_offset;
    c->site_count++;
    return true;
}

/* Drops the last instruction (a comparison being fused into a branch): the one
 * before it may again fuse with what comes next. */
static void rewind_code(compiler *c, uint32_t pos)
{
    bool was_last = c->last_ok && c->last_start == pos;
    c->len = pos;
    while (c->reloc_count && c->relocs[c->reloc_count - 1] >= pos)
        c->reloc_count--;
    while (c->site_count && c->sites[c->site_count - 1].code_pos >= pos)
        c->site_count--;
    c->fold_ok = false;
    c->cmp_ok = false;
    c->last_ok = was_last && c->prior_ok;
    c->last_op = c->prior_op;
    c->last_start = c->prior_start;
}

static bool record_safe_point(compiler *c, uint8_t kind, uint32_t resume_pos, uint32_t height)
{
    if (!c->live)
        return true;
    /* the types of the operand stack are kept for every safe point: bounded like
     * the code, so a deep stack under many calls cannot exhaust memory */
    if ((uint64_t)c->stack_types_count + height > c->code_limit)
        return fail(c, WASM_ERR_LIMIT, "function too large to compile: too many values "
                    "live across its calls and loops");
    if (!RESERVE(c, c->safe_points, c->safe_cap, (uint64_t)c->safe_count + 1) ||
        !RESERVE(c, c->stack_types, c->stack_types_cap, (uint64_t)c->stack_types_count + height))
        return false;
    wasm_safe_point *sp = &c->safe_points[c->safe_count++];
    sp->kind = kind;
    sp->resume_pos = resume_pos;
    sp->wasm_offset = (uint32_t)c->instr_offset;
    sp->height = height;
    sp->types_at = c->stack_types_count;
    sp->callee_type = NULL;
    for (uint32_t i = 0; i < height; i++)
        c->stack_types[c->stack_types_count++] = c->stack[i].type;
    return true;
}

/* ------------------------------------------------------------------ constants */

static uint32_t hash_slot(wasm_slot v)
{
    v ^= v >> 33;
    v *= 0xff51afd7ed558ccdull;
    v ^= v >> 33;
    return (uint32_t)v;
}

static bool const_cell(compiler *c, wasm_slot value, uint32_t *cell)
{
    if (c->const_count * 2 >= c->const_hash_cap) {
        uint32_t cap = c->const_hash_cap ? c->const_hash_cap * 2 : 64;
        uint32_t *table = calloc(cap, sizeof *table);
        if (!table)
            return out_of_memory(c);
        for (uint32_t i = 0; i < c->const_count; i++) {
            uint32_t h = hash_slot(c->consts[i]) & (cap - 1);
            while (table[h])
                h = (h + 1) & (cap - 1);
            table[h] = i + 1;
        }
        free(c->const_hash);
        c->const_hash = table;
        c->const_hash_cap = cap;
    }
    uint32_t h = hash_slot(value) & (c->const_hash_cap - 1);
    while (c->const_hash[h]) {
        uint32_t i = c->const_hash[h] - 1;
        if (c->consts[i] == value) {
            *cell = CONST_TAG | i;
            return true;
        }
        h = (h + 1) & (c->const_hash_cap - 1);
    }
    if (c->const_count >= CELL_INDEX_MASK)
        return invalid(c, "too many constants in function");
    if (!RESERVE(c, c->consts, c->const_cap, (uint64_t)c->const_count + 1))
        return false;
    c->consts[c->const_count] = value;
    c->const_hash[h] = c->const_count + 1;
    *cell = CONST_TAG | c->const_count++;
    return true;
}

/* ---------------------------------------------------------- operand stack */

static uint32_t pos_cell(uint32_t height)
{
    return POS_TAG | height;
}

static bool is_local_cell(uint32_t cell)
{
    return !(cell & (POS_TAG | CONST_TAG));
}

static bool push(compiler *c, uint8_t type, uint32_t cell)
{
    if (c->height >= CELL_INDEX_MASK - 1)
        return invalid(c, "operand stack too deep");
    if (!RESERVE(c, c->stack, c->stack_cap, (uint64_t)c->height + 1))
        return false;
    c->stack[c->height].type = type;
    c->stack[c->height].cell = cell;
    if (is_local_cell(cell))
        c->alias_count[cell]++;
    c->height++;
    if (c->height > c->max_height)
        c->max_height = c->height;
    return true;
}

/* Pushes a value produced by an instruction into its own positional cell. */
static bool push_result(compiler *c, uint8_t type)
{
    return push(c, type, pos_cell(c->height));
}

static bool pop_any(compiler *c, operand *out)
{
    control *frame = &c->ctrl[c->ctrl_depth - 1];
    if (c->height == frame->height) {
        if (frame->unreachable) {
            out->type = TYPE_UNKNOWN;
            out->cell = pos_cell(c->height);
            return true;
        }
        return invalid(c, "type mismatch");
    }
    *out = c->stack[--c->height];
    if (is_local_cell(out->cell))
        c->alias_count[out->cell]--;
    if (c->clean_below > c->height)
        c->clean_below = c->height;
    return true;
}

/* Drops the entries from height h up (block ends, unreachable code). */
static void truncate_stack(compiler *c, uint32_t h)
{
    for (uint32_t i = h; i < c->height; i++)
        if (is_local_cell(c->stack[i].cell))
            c->alias_count[c->stack[i].cell]--;
    c->height = h;
    if (c->clean_below > h)
        c->clean_below = h;
}

static bool pop_expect(compiler *c, uint8_t expected, operand *out)
{
    if (!pop_any(c, out))
        return false;
    if (out->type != expected && out->type != TYPE_UNKNOWN && expected != TYPE_UNKNOWN)
        return invalid(c, "type mismatch");
    return true;
}

static bool is_reftype(uint8_t t)
{
    return t == WASM_FUNCREF || t == WASM_EXTERNREF;
}

static bool is_numtype(uint8_t t)
{
    return t == WASM_I32 || t == WASM_I64 || t == WASM_F32 || t == WASM_F64;
}

/* Moves operand i to its positional cell if it is an alias. */
static bool materialize(compiler *c, uint32_t i)
{
    operand *e = &c->stack[i];
    if (e->cell == pos_cell(i))
        return true;
    if (c->live) {
        if (!emit_op(c, WASM_OP_copy) || !emit_cell(c, pos_cell(i)) || !emit_cell(c, e->cell))
            return false;
    }
    if (is_local_cell(e->cell))
        c->alias_count[e->cell]--;
    e->cell = pos_cell(i);
    return true;
}

static bool materialize_from(compiler *c, uint32_t from)
{
    uint32_t start = from > c->clean_below ? from : c->clean_below;
    for (uint32_t i = start; i < c->height; i++)
        if (!materialize(c, i))
            return false;
    if (from <= c->clean_below)
        c->clean_below = c->height;
    return true;
}

/* ------------------------------------------------------------- block types */

static uint32_t bt_param_count(block_type t) { return t.func ? t.func->param_count : 0; }
static uint32_t bt_result_count(block_type t)
{
    return t.func ? t.func->result_count : (t.single ? 1u : 0u);
}
static uint8_t bt_param(block_type t, uint32_t i) { return t.func->types[i]; }
static uint8_t bt_result(block_type t, uint32_t i)
{
    return t.func ? t.func->types[t.func->param_count + i] : t.single;
}

/* The types a branch to this frame carries: a loop's parameters, else its results. */
static uint32_t label_arity(const control *f)
{
    return f->opcode == 0x03 ? bt_param_count(f->type) : bt_result_count(f->type);
}
static uint8_t label_type(const control *f, uint32_t i)
{
    return f->opcode == 0x03 ? bt_param(f->type, i) : bt_result(f->type, i);
}

static bool read_block_type(compiler *c, block_type *out)
{
    out->func = NULL;
    out->single = 0;
    if (c->p >= c->end)
        return malformed(c, "unexpected end of section or function");
    uint8_t b = *c->p;
    if (b == 0x40) {
        c->p++;
        return true;
    }
    if (wasm_is_valtype(b)) {
        c->p++;
        out->single = b;
        return true;
    }
    int64_t index;
    if (!wasm_read_s33(&c->p, c->end, &index))
        return malformed(c, "integer representation too long");
    if (index < 0)
        return malformed(c, "malformed value type");
    if ((uint64_t)index >= c->module->type_count)
        return invalid(c, "unknown type");
    out->func = &c->module->types[index];
    return true;
}

/* ------------------------------------------------------------ control frames */

static bool push_control(compiler *c, uint8_t opcode, block_type type)
{
    if (!RESERVE(c, c->ctrl, c->ctrl_cap, (uint64_t)c->ctrl_depth + 1))
        return false;
    control *f = &c->ctrl[c->ctrl_depth++];
    memset(f, 0, sizeof *f);
    f->opcode = opcode;
    f->type = type;
    f->height = c->height - bt_param_count(type);
    f->entry_live = c->live;
    f->offset = c->instr_offset;
    f->outer_fuel_scope = c->fuel_scope;
    return true;
}

static bool add_patch(compiler *c, uint32_t *list, uint32_t field, uint32_t instr)
{
    if (!RESERVE(c, c->patches, c->patch_cap, (uint64_t)c->patch_count + 1))
        return false;
    patch *p = &c->patches[c->patch_count];
    p->field = field;
    p->instr = instr;
    p->next = *list;
    *list = ++c->patch_count;
    return true;
}

/* Makes every branch in the list land here. The previous instruction is no longer
 * the only way to reach this point, so nothing may be fused across it. */
static void bind_patches(compiler *c, uint32_t *list)
{
    for (uint32_t i = *list; i; i = c->patches[i - 1].next) {
        const patch *p = &c->patches[i - 1];
        c->code[p->field] = (wasm_iword)(int32_t)(c->len - p->instr);
    }
    *list = 0;
    close_pair(c);
    c->fold_ok = false;
    c->cmp_ok = false;
    c->last_ok = false;
}

/* Emits the distance word of a branch to control frame `depth` (0 = innermost),
 * relative to the current instruction. */
static bool emit_label_ref(compiler *c, uint32_t depth)
{
    if (!c->live)
        return true;
    control *f = &c->ctrl[c->ctrl_depth - 1 - depth];
    if (f->opcode == 0x03)
        return emit_word(c, (wasm_iword)(int32_t)(f->loop_pos - c->instr_start));
    if (!add_patch(c, &f->patches, c->len, c->instr_start))
        return false;
    return emit_word(c, 0);
}

static bool targets_loop(compiler *c, int64_t depth)
{
    return depth >= 0 && c->ctrl[c->ctrl_depth - 1 - depth].opcode == 0x03;
}

/* Whether a branch to `depth` needs code beyond a jump: moving its values, or
 * returning from the function. */
static bool branch_needs_moves(compiler *c, uint32_t depth)
{
    const control *f = &c->ctrl[c->ctrl_depth - 1 - depth];
    if (depth == c->ctrl_depth - 1)
        return true;
    uint32_t arity = label_arity(f);
    if (arity == 0)
        return false;
    if (c->height - arity != f->height)
        return true;
    for (uint32_t i = c->height - arity; i < c->height; i++)
        if (c->stack[i].cell != pos_cell(i))
            return true;
    return false;
}

static bool emit_return(compiler *c)
{
    uint32_t n = c->type->result_count;
    uint32_t first = c->height - n;
    /* Results are copied to cells 0..n-1 in order; a source below its own index
     * could already have been overwritten, so move it to its positional cell
     * (which is at least its index) first. */
    for (uint32_t k = 0; k < n; k++) {
        uint32_t cell = c->stack[first + k].cell;
        if (!(cell & (POS_TAG | CONST_TAG)) && cell < k && !materialize(c, first + k))
            return false;
        if ((cell & CONST_TAG) && c->local_count + (cell & CELL_INDEX_MASK) < k &&
            !materialize(c, first + k))
            return false;
    }
    if (n == 0)
        return emit_op(c, WASM_OP_return0);
    if (n == 1)
        return emit_op(c, WASM_OP_return1) && emit_cell(c, c->stack[first].cell);
    if (!emit_op(c, WASM_OP_return_n) || !emit_imm(c, n))
        return false;
    for (uint32_t k = 0; k < n; k++)
        if (!emit_cell(c, c->stack[first + k].cell))
            return false;
    return true;
}

/* Unconditional branch to `depth` with the label's values on top of the stack. */
static bool emit_branch(compiler *c, uint32_t depth)
{
    if (!c->live)
        return true;
    if (depth == c->ctrl_depth - 1)
        return emit_return(c);
    const control *f = &c->ctrl[c->ctrl_depth - 1 - depth];
    uint32_t arity = label_arity(f);
    uint32_t first = c->height - arity;
    /* Targets are below or at the sources, and locals/constants are never
     * targets, so copying in ascending order never clobbers a pending source. */
    for (uint32_t i = 0; i < arity; i++) {
        uint32_t target = pos_cell(f->height + i);
        uint32_t source = c->stack[first + i].cell;
        if (target != source &&
            (!emit_op(c, WASM_OP_copy) || !emit_cell(c, target) || !emit_cell(c, source)))
            return false;
    }
    return emit_op(c, targets_loop(c, depth) ? WASM_OP_br_back : WASM_OP_br) &&
           emit_label_ref(c, depth);
}

/* Pops and checks a branch's values against its label, then pushes them back,
 * keeping their cells. As in the spec's algorithm, br_if pushes the label's types
 * while br_table pushes back what it popped (in unreachable code: unknowns, so
 * labels of different types can meet). */
static bool check_label_values(compiler *c, uint32_t depth, bool keep_popped_types)
{
    const control *f = &c->ctrl[c->ctrl_depth - 1 - depth];
    uint32_t arity = label_arity(f);
    operand tmp[16];
    operand *vals = arity <= 16 ? tmp : malloc(arity * sizeof *vals);
    if (!vals)
        return out_of_memory(c);
    bool ok = true;
    for (uint32_t i = arity; i-- > 0;)
        if (!(ok = pop_expect(c, label_type(f, i), &vals[i])))
            break;
    if (ok)
        for (uint32_t i = 0; i < arity; i++) {
            uint8_t t = keep_popped_types ? vals[i].type : label_type(f, i);
            if (!(ok = push(c, t, vals[i].cell)))
                break;
        }
    if (vals != tmp)
        free(vals);
    return ok;
}

static bool read_label(compiler *c, uint32_t *depth)
{
    if (!read_u32(c, depth))
        return false;
    return *depth < c->ctrl_depth || invalid(c, "unknown label");
}

/* Marks the rest of the current block unreachable (after br, return, unreachable). */
static void set_unreachable(compiler *c)
{
    control *f = &c->ctrl[c->ctrl_depth - 1];
    truncate_stack(c, f->height);
    f->unreachable = true;
    c->live = false;
    c->fold_ok = false;
    c->cmp_ok = false;
}

/* ------------------------------------------------------- conditional jumps */

static enum wasm_interp_op fused_branch_op(enum wasm_interp_op cmp, bool negate)
{
    static const struct { enum wasm_interp_op cmp, br, neg; } table[] = {
        {WASM_OP_i32_eqz, WASM_OP_br_if_eqz, WASM_OP_br_if_nez},
        {WASM_OP_i64_eqz, WASM_OP_br_if_i64_eqz, WASM_OP_br_if_i64_nez},
        {WASM_OP_i32_eq, WASM_OP_br_if_i32_eq, WASM_OP_br_if_i32_ne},
        {WASM_OP_i32_ne, WASM_OP_br_if_i32_ne, WASM_OP_br_if_i32_eq},
        {WASM_OP_i32_lt_s, WASM_OP_br_if_i32_lt_s, WASM_OP_br_if_i32_ge_s},
        {WASM_OP_i32_lt_u, WASM_OP_br_if_i32_lt_u, WASM_OP_br_if_i32_ge_u},
        {WASM_OP_i32_gt_s, WASM_OP_br_if_i32_gt_s, WASM_OP_br_if_i32_le_s},
        {WASM_OP_i32_gt_u, WASM_OP_br_if_i32_gt_u, WASM_OP_br_if_i32_le_u},
        {WASM_OP_i32_le_s, WASM_OP_br_if_i32_le_s, WASM_OP_br_if_i32_gt_s},
        {WASM_OP_i32_le_u, WASM_OP_br_if_i32_le_u, WASM_OP_br_if_i32_gt_u},
        {WASM_OP_i32_ge_s, WASM_OP_br_if_i32_ge_s, WASM_OP_br_if_i32_lt_s},
        {WASM_OP_i32_ge_u, WASM_OP_br_if_i32_ge_u, WASM_OP_br_if_i32_lt_u},
        {WASM_OP_i64_eq, WASM_OP_br_if_i64_eq, WASM_OP_br_if_i64_ne},
        {WASM_OP_i64_ne, WASM_OP_br_if_i64_ne, WASM_OP_br_if_i64_eq},
        {WASM_OP_i64_lt_s, WASM_OP_br_if_i64_lt_s, WASM_OP_br_if_i64_ge_s},
        {WASM_OP_i64_lt_u, WASM_OP_br_if_i64_lt_u, WASM_OP_br_if_i64_ge_u},
        {WASM_OP_i64_gt_s, WASM_OP_br_if_i64_gt_s, WASM_OP_br_if_i64_le_s},
        {WASM_OP_i64_gt_u, WASM_OP_br_if_i64_gt_u, WASM_OP_br_if_i64_le_u},
        {WASM_OP_i64_le_s, WASM_OP_br_if_i64_le_s, WASM_OP_br_if_i64_gt_s},
        {WASM_OP_i64_le_u, WASM_OP_br_if_i64_le_u, WASM_OP_br_if_i64_gt_u},
        {WASM_OP_i64_ge_s, WASM_OP_br_if_i64_ge_s, WASM_OP_br_if_i64_lt_s},
        {WASM_OP_i64_ge_u, WASM_OP_br_if_i64_ge_u, WASM_OP_br_if_i64_lt_u},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].cmp == cmp)
            return negate ? table[i].neg : table[i].br;
    return WASM_OP_COUNT;
}

/* Builds the jump for an i32 condition that was just popped: when the condition
 * was computed by the previous instruction (a comparison into that very cell), the
 * comparison is removed and becomes the branch. Must run before anything else is
 * emitted for the branch. */
static condition take_condition(compiler *c, const operand *cond, bool jump_if_true)
{
    condition k;
    if (c->live && c->cmp_ok && c->len == c->cmp_end && cond->cell == pos_cell(c->cmp_height)) {
        k.op = fused_branch_op(c->cmp_op, !jump_if_true);
        k.a = c->cmp_a;
        k.b = c->cmp_b;
        k.binary = c->cmp_op != WASM_OP_i32_eqz && c->cmp_op != WASM_OP_i64_eqz;
        k.imm = c->cmp_has_imm;
        if (k.imm)
            k.op = (enum wasm_interp_op)(k.op - WASM_OP_br_if_i32_eq + WASM_OP_br_if_i32_eq_imm);
        rewind_code(c, c->cmp_start);
        return k;
    }
    k.op = jump_if_true ? WASM_OP_br_if_nez : WASM_OP_br_if_eqz;
    k.a = cond->cell;
    k.b = 0;
    k.binary = false;
    k.imm = false;
    return k;
}

/* The form of a branch instruction that also runs the safe point of the loop header
 * it jumps back to. */
static enum wasm_interp_op back_edge_op(enum wasm_interp_op op)
{
    if (op >= WASM_OP_br && op <= WASM_OP_br_if_i64_ge_u)
        return (enum wasm_interp_op)(op - WASM_OP_br + WASM_OP_br_back);
    return (enum wasm_interp_op)(op - WASM_OP_br_if_i32_eq_imm + WASM_OP_br_if_i32_eq_imm_back);
}

/* Emits the conditional jump's opcode and operands; the caller adds the target
 * (label `depth`, or -1 for a forward jump of the compiler's own). */
static bool emit_condition(compiler *c, const condition *k, int64_t depth)
{
    enum wasm_interp_op op = targets_loop(c, depth) ? back_edge_op(k->op) : k->op;
    if (!emit_op(c, op) || !emit_cell(c, k->a))
        return false;
    if (!k->binary)
        return true;
    return k->imm ? emit_imm(c, k->b) : emit_cell(c, k->b);
}

/* ------------------------------------------------------------------ locals */

static bool read_local(compiler *c, uint32_t *index)
{
    if (!read_u32(c, index))
        return false;
    return *index < c->local_count || invalid(c, "unknown local");
}

/* Stores v into local x: entries still aliasing x get their own copy first, and
 * when v was just computed by the previous instruction, that instruction writes
 * x directly. */
static bool assign_local(compiler *c, uint32_t x, const operand *v, uint32_t v_height)
{
    bool zero = (v->cell & CONST_TAG) && c->consts[v->cell & CELL_INDEX_MASK] == 0;
    if (zero && c->local_zero[x])
        return true;
    c->local_zero[x] = 0;
    if (!c->live || v->cell == x)
        return true;
    for (uint32_t i = c->height; c->alias_count[x] && i-- > 0;)
        if (c->stack[i].cell == x && !materialize(c, i))
            return false;
    if (c->fold_ok && c->len == c->fold_end && v_height == c->fold_height &&
        v->cell == pos_cell(v_height)) {
        c->code[c->fold_field] = x;    /* its reloc entry now sees an untagged cell */
        c->fold_ok = false;
        c->cmp_ok = false;
        return true;
    }
    return emit_op(c, WASM_OP_copy) && emit_cell(c, x) && emit_cell(c, v->cell);
}

/* ------------------------------------------------------------ instructions */

/* Emits `op dst, cells..., immediates...` producing one value of type `type`, and
 * remembers that its destination can be redirected by a following local.set. */
static bool emit_result_op(compiler *c, enum wasm_interp_op op, uint8_t type,
                           const uint32_t *cells, uint32_t n, const uint32_t *imms, uint32_t m,
                           bool traps)
{
    uint32_t h = c->height;
    if (c->live) {
        if (!emit_op(c, op))
            return false;
        uint32_t field = c->len;
        if (!emit_cell(c, pos_cell(h)))
            return false;
        for (uint32_t i = 0; i < n; i++)
            if (!emit_cell(c, cells[i]))
                return false;
        for (uint32_t i = 0; i < m; i++)
            if (!emit_imm(c, imms[i]))
                return false;
        if (traps && !emit_site(c))
            return false;
        c->fold_ok = true;
        c->fold_field = field;
        c->fold_end = c->len;
        c->fold_height = h;
    }
    return push_result(c, type);
}

static bool emit_value_op(compiler *c, enum wasm_interp_op op, uint8_t type,
                          const uint32_t *cells, uint32_t n, bool traps)
{
    return emit_result_op(c, op, type, cells, n, NULL, 0, traps);
}

enum numeric_kind { NUM_NONE = 0, NUM_UNARY, NUM_BINARY, NUM_RETYPE };

typedef struct numeric_op {
    uint8_t kind;
    uint8_t in, out;
    bool traps;
    bool compare;           /* an integer comparison that can fuse with a branch */
    uint16_t op;
} numeric_op;

#define I32 WASM_I32
#define I64 WASM_I64
#define F32 WASM_F32
#define F64 WASM_F64
#define UN(in, out, name) {NUM_UNARY, in, out, false, false, WASM_OP_##name}
#define UNT(in, out, name) {NUM_UNARY, in, out, true, false, WASM_OP_##name}
#define BIN(t, out, name) {NUM_BINARY, t, out, false, false, WASM_OP_##name}
#define BINT(t, out, name) {NUM_BINARY, t, out, true, false, WASM_OP_##name}
#define CMP(t, name) {NUM_BINARY, t, I32, false, true, WASM_OP_##name}
#define RETYPE(in, out) {NUM_RETYPE, in, out, false, false, 0}

static const numeric_op numeric_ops[256] = {
    [0x45] = {NUM_UNARY, I32, I32, false, true, WASM_OP_i32_eqz},
    [0x46] = CMP(I32, i32_eq), [0x47] = CMP(I32, i32_ne), [0x48] = CMP(I32, i32_lt_s),
    [0x49] = CMP(I32, i32_lt_u), [0x4a] = CMP(I32, i32_gt_s), [0x4b] = CMP(I32, i32_gt_u),
    [0x4c] = CMP(I32, i32_le_s), [0x4d] = CMP(I32, i32_le_u), [0x4e] = CMP(I32, i32_ge_s),
    [0x4f] = CMP(I32, i32_ge_u),
    [0x50] = {NUM_UNARY, I64, I32, false, true, WASM_OP_i64_eqz},
    [0x51] = CMP(I64, i64_eq), [0x52] = CMP(I64, i64_ne), [0x53] = CMP(I64, i64_lt_s),
    [0x54] = CMP(I64, i64_lt_u), [0x55] = CMP(I64, i64_gt_s), [0x56] = CMP(I64, i64_gt_u),
    [0x57] = CMP(I64, i64_le_s), [0x58] = CMP(I64, i64_le_u), [0x59] = CMP(I64, i64_ge_s),
    [0x5a] = CMP(I64, i64_ge_u),
    [0x5b] = BIN(F32, I32, f32_eq), [0x5c] = BIN(F32, I32, f32_ne),
    [0x5d] = BIN(F32, I32, f32_lt), [0x5e] = BIN(F32, I32, f32_gt),
    [0x5f] = BIN(F32, I32, f32_le), [0x60] = BIN(F32, I32, f32_ge),
    [0x61] = BIN(F64, I32, f64_eq), [0x62] = BIN(F64, I32, f64_ne),
    [0x63] = BIN(F64, I32, f64_lt), [0x64] = BIN(F64, I32, f64_gt),
    [0x65] = BIN(F64, I32, f64_le), [0x66] = BIN(F64, I32, f64_ge),
    [0x67] = UN(I32, I32, i32_clz), [0x68] = UN(I32, I32, i32_ctz),
    [0x69] = UN(I32, I32, i32_popcnt), [0x6a] = BIN(I32, I32, i32_add),
    [0x6b] = BIN(I32, I32, i32_sub), [0x6c] = BIN(I32, I32, i32_mul),
    [0x6d] = BINT(I32, I32, i32_div_s), [0x6e] = BINT(I32, I32, i32_div_u),
    [0x6f] = BINT(I32, I32, i32_rem_s), [0x70] = BINT(I32, I32, i32_rem_u),
    [0x71] = BIN(I32, I32, i32_and), [0x72] = BIN(I32, I32, i32_or),
    [0x73] = BIN(I32, I32, i32_xor), [0x74] = BIN(I32, I32, i32_shl),
    [0x75] = BIN(I32, I32, i32_shr_s), [0x76] = BIN(I32, I32, i32_shr_u),
    [0x77] = BIN(I32, I32, i32_rotl), [0x78] = BIN(I32, I32, i32_rotr),
    [0x79] = UN(I64, I64, i64_clz), [0x7a] = UN(I64, I64, i64_ctz),
    [0x7b] = UN(I64, I64, i64_popcnt), [0x7c] = BIN(I64, I64, i64_add),
    [0x7d] = BIN(I64, I64, i64_sub), [0x7e] = BIN(I64, I64, i64_mul),
    [0x7f] = BINT(I64, I64, i64_div_s), [0x80] = BINT(I64, I64, i64_div_u),
    [0x81] = BINT(I64, I64, i64_rem_s), [0x82] = BINT(I64, I64, i64_rem_u),
    [0x83] = BIN(I64, I64, i64_and), [0x84] = BIN(I64, I64, i64_or),
    [0x85] = BIN(I64, I64, i64_xor), [0x86] = BIN(I64, I64, i64_shl),
    [0x87] = BIN(I64, I64, i64_shr_s), [0x88] = BIN(I64, I64, i64_shr_u),
    [0x89] = BIN(I64, I64, i64_rotl), [0x8a] = BIN(I64, I64, i64_rotr),
    [0x8b] = UN(F32, F32, f32_abs), [0x8c] = UN(F32, F32, f32_neg),
    [0x8d] = UN(F32, F32, f32_ceil), [0x8e] = UN(F32, F32, f32_floor),
    [0x8f] = UN(F32, F32, f32_trunc), [0x90] = UN(F32, F32, f32_nearest),
    [0x91] = UN(F32, F32, f32_sqrt), [0x92] = BIN(F32, F32, f32_add),
    [0x93] = BIN(F32, F32, f32_sub), [0x94] = BIN(F32, F32, f32_mul),
    [0x95] = BIN(F32, F32, f32_div), [0x96] = BIN(F32, F32, f32_min),
    [0x97] = BIN(F32, F32, f32_max), [0x98] = BIN(F32, F32, f32_copysign),
    [0x99] = UN(F64, F64, f64_abs), [0x9a] = UN(F64, F64, f64_neg),
    [0x9b] = UN(F64, F64, f64_ceil), [0x9c] = UN(F64, F64, f64_floor),
    [0x9d] = UN(F64, F64, f64_trunc), [0x9e] = UN(F64, F64, f64_nearest),
    [0x9f] = UN(F64, F64, f64_sqrt), [0xa0] = BIN(F64, F64, f64_add),
    [0xa1] = BIN(F64, F64, f64_sub), [0xa2] = BIN(F64, F64, f64_mul),
    [0xa3] = BIN(F64, F64, f64_div), [0xa4] = BIN(F64, F64, f64_min),
    [0xa5] = BIN(F64, F64, f64_max), [0xa6] = BIN(F64, F64, f64_copysign),
    [0xa7] = UN(I64, I32, i32_wrap_i64),
    [0xa8] = UNT(F32, I32, i32_trunc_f32_s), [0xa9] = UNT(F32, I32, i32_trunc_f32_u),
    [0xaa] = UNT(F64, I32, i32_trunc_f64_s), [0xab] = UNT(F64, I32, i32_trunc_f64_u),
    [0xac] = UN(I32, I64, i64_extend_i32_s),
    [0xad] = RETYPE(I32, I64),  /* i64.extend_i32_u: i32 cells are zero-extended */
    [0xae] = UNT(F32, I64, i64_trunc_f32_s), [0xaf] = UNT(F32, I64, i64_trunc_f32_u),
    [0xb0] = UNT(F64, I64, i64_trunc_f64_s), [0xb1] = UNT(F64, I64, i64_trunc_f64_u),
    [0xb2] = UN(I32, F32, f32_convert_i32_s), [0xb3] = UN(I32, F32, f32_convert_i32_u),
    [0xb4] = UN(I64, F32, f32_convert_i64_s), [0xb5] = UN(I64, F32, f32_convert_i64_u),
    [0xb6] = UN(F64, F32, f32_demote_f64),
    [0xb7] = UN(I32, F64, f64_convert_i32_s), [0xb8] = UN(I32, F64, f64_convert_i32_u),
    [0xb9] = UN(I64, F64, f64_convert_i64_s), [0xba] = UN(I64, F64, f64_convert_i64_u),
    [0xbb] = UN(F32, F64, f64_promote_f32),
    /* reinterpretations keep the bits: only the type changes */
    [0xbc] = RETYPE(F32, I32), [0xbd] = RETYPE(F64, I64),
    [0xbe] = RETYPE(I32, F32), [0xbf] = RETYPE(I64, F64),
    [0xc0] = UN(I32, I32, i32_extend8_s), [0xc1] = UN(I32, I32, i32_extend16_s),
    [0xc2] = UN(I64, I64, i64_extend8_s), [0xc3] = UN(I64, I64, i64_extend16_s),
    [0xc4] = UN(I64, I64, i64_extend32_s),
};

static const numeric_op saturating_ops[8] = {
    UN(F32, I32, i32_trunc_sat_f32_s), UN(F32, I32, i32_trunc_sat_f32_u),
    UN(F64, I32, i32_trunc_sat_f64_s), UN(F64, I32, i32_trunc_sat_f64_u),
    UN(F32, I64, i64_trunc_sat_f32_s), UN(F32, I64, i64_trunc_sat_f32_u),
    UN(F64, I64, i64_trunc_sat_f64_s), UN(F64, I64, i64_trunc_sat_f64_u),
};

/* Binary operations with an immediate form, used when an operand is a constant:
 * the constant then costs no frame cell and no load. `mirror` is the operation
 * that gives the same result with the operands swapped (for comparisons), or the
 * operation itself when it is commutative; WASM_OP_COUNT when it cannot swap. */
typedef struct imm_form {
    enum wasm_interp_op op, imm, mirror;
    bool wide;              /* i64: the constant must fit a sign-extended 32 bits */
    bool shift;             /* only the low bits of the constant count */
} imm_form;

static const imm_form imm_forms[] = {
    {WASM_OP_i32_add, WASM_OP_i32_add_imm, WASM_OP_i32_add, false, false},
    {WASM_OP_i32_sub, WASM_OP_i32_sub_imm, WASM_OP_COUNT, false, false},
    {WASM_OP_i32_mul, WASM_OP_i32_mul_imm, WASM_OP_i32_mul, false, false},
    {WASM_OP_i32_and, WASM_OP_i32_and_imm, WASM_OP_i32_and, false, false},
    {WASM_OP_i32_or, WASM_OP_i32_or_imm, WASM_OP_i32_or, false, false},
    {WASM_OP_i32_xor, WASM_OP_i32_xor_imm, WASM_OP_i32_xor, false, false},
    {WASM_OP_i32_shl, WASM_OP_i32_shl_imm, WASM_OP_COUNT, false, true},
    {WASM_OP_i32_shr_s, WASM_OP_i32_shr_s_imm, WASM_OP_COUNT, false, true},
    {WASM_OP_i32_shr_u, WASM_OP_i32_shr_u_imm, WASM_OP_COUNT, false, true},
    {WASM_OP_i32_rotl, WASM_OP_i32_rotl_imm, WASM_OP_COUNT, false, true},
    {WASM_OP_i32_rotr, WASM_OP_i32_rotr_imm, WASM_OP_COUNT, false, true},
    {WASM_OP_i32_eq, WASM_OP_i32_eq_imm, WASM_OP_i32_eq, false, false},
    {WASM_OP_i32_ne, WASM_OP_i32_ne_imm, WASM_OP_i32_ne, false, false},
    {WASM_OP_i32_lt_s, WASM_OP_i32_lt_s_imm, WASM_OP_i32_gt_s, false, false},
    {WASM_OP_i32_lt_u, WASM_OP_i32_lt_u_imm, WASM_OP_i32_gt_u, false, false},
    {WASM_OP_i32_gt_s, WASM_OP_i32_gt_s_imm, WASM_OP_i32_lt_s, false, false},
    {WASM_OP_i32_gt_u, WASM_OP_i32_gt_u_imm, WASM_OP_i32_lt_u, false, false},
    {WASM_OP_i32_le_s, WASM_OP_i32_le_s_imm, WASM_OP_i32_ge_s, false, false},
    {WASM_OP_i32_le_u, WASM_OP_i32_le_u_imm, WASM_OP_i32_ge_u, false, false},
    {WASM_OP_i32_ge_s, WASM_OP_i32_ge_s_imm, WASM_OP_i32_le_s, false, false},
    {WASM_OP_i32_ge_u, WASM_OP_i32_ge_u_imm, WASM_OP_i32_le_u, false, false},
    {WASM_OP_i64_add, WASM_OP_i64_add_imm, WASM_OP_i64_add, true, false},
    {WASM_OP_i64_sub, WASM_OP_i64_sub_imm, WASM_OP_COUNT, true, false},
    {WASM_OP_i64_mul, WASM_OP_i64_mul_imm, WASM_OP_i64_mul, true, false},
    {WASM_OP_i64_and, WASM_OP_i64_and_imm, WASM_OP_i64_and, true, false},
    {WASM_OP_i64_or, WASM_OP_i64_or_imm, WASM_OP_i64_or, true, false},
    {WASM_OP_i64_xor, WASM_OP_i64_xor_imm, WASM_OP_i64_xor, true, false},
    {WASM_OP_i64_shl, WASM_OP_i64_shl_imm, WASM_OP_COUNT, true, true},
    {WASM_OP_i64_shr_s, WASM_OP_i64_shr_s_imm, WASM_OP_COUNT, true, true},
    {WASM_OP_i64_shr_u, WASM_OP_i64_shr_u_imm, WASM_OP_COUNT, true, true},
    {WASM_OP_i64_rotl, WASM_OP_i64_rotl_imm, WASM_OP_COUNT, true, true},
    {WASM_OP_i64_rotr, WASM_OP_i64_rotr_imm, WASM_OP_COUNT, true, true},
};

static bool const_fits(compiler *c, uint32_t cell, const imm_form *f, uint32_t *imm)
{
    if (!(cell & CONST_TAG))
        return false;
    wasm_slot v = c->consts[cell & CELL_INDEX_MASK];
    if (f->shift) {
        *imm = (uint32_t)(v & 63);
        return true;
    }
    if (f->wide && (int64_t)v != (int64_t)(int32_t)(uint32_t)v)
        return false;
    *imm = (uint32_t)v;
    return true;
}

/* Picks the immediate form for `a op b` when one operand is a suitable constant,
 * leaving the cell operand in *a. The form's `mirror` field then names the
 * operation actually performed (op itself unless the operands were swapped). */
static bool choose_imm_form(compiler *c, enum wasm_interp_op op, operand *a, operand *b,
                            uint32_t *imm, imm_form *chosen)
{
    for (size_t i = 0; i < sizeof imm_forms / sizeof imm_forms[0]; i++) {
        const imm_form *f = &imm_forms[i];
        if (f->op != op)
            continue;
        if (!(a->cell & CONST_TAG) && const_fits(c, b->cell, f, imm)) {
            *chosen = *f;
            chosen->mirror = op;
            return true;
        }
        if (f->mirror != WASM_OP_COUNT && !(b->cell & CONST_TAG) &&
            const_fits(c, a->cell, f, imm)) {
            for (size_t k = 0; k < sizeof imm_forms / sizeof imm_forms[0]; k++)
                if (imm_forms[k].op == f->mirror) {
                    *chosen = imm_forms[k];
                    chosen->mirror = f->mirror;
                    operand t = *a;
                    *a = *b;
                    *b = t;
                    return true;
                }
        }
        return false;
    }
    return false;
}

static bool compile_numeric(compiler *c, const numeric_op *n)
{
    operand a, b;
    if (n->kind == NUM_RETYPE) {
        if (!pop_expect(c, n->in, &a))
            return false;
        return push(c, n->out, a.cell);
    }
    if (n->kind == NUM_UNARY) {
        if (!pop_expect(c, n->in, &a))
            return false;
        uint32_t h = c->height;
        if (!emit_value_op(c, (enum wasm_interp_op)n->op, n->out, &a.cell, 1, n->traps))
            return false;
        if (n->compare && c->live) {
            c->cmp_ok = true;
            c->cmp_start = c->instr_start;
            c->cmp_end = c->len;
            c->cmp_height = h;
            c->cmp_op = (enum wasm_interp_op)n->op;
            c->cmp_a = a.cell;
            c->cmp_b = 0;
            c->cmp_has_imm = false;
        }
        return true;
    }
    if (!pop_expect(c, n->in, &b) || !pop_expect(c, n->in, &a))
        return false;
    uint32_t h = c->height;
    enum wasm_interp_op op = (enum wasm_interp_op)n->op;
    uint32_t imm = 0;
    imm_form chosen;
    bool form = c->live && choose_imm_form(c, op, &a, &b, &imm, &chosen);
    if (form) {
        /* a may have been swapped with b: a is the cell operand now */
        if (!emit_result_op(c, chosen.imm, n->out, &a.cell, 1, &imm, 1, n->traps))
            return false;
        op = chosen.mirror;
    } else {
        uint32_t cells[2] = {a.cell, b.cell};
        if (!emit_value_op(c, op, n->out, cells, 2, n->traps))
            return false;
    }
    if (n->compare && c->live) {
        c->cmp_ok = true;
        c->cmp_start = c->instr_start;
        c->cmp_end = c->len;
        c->cmp_height = h;
        c->cmp_op = op;
        c->cmp_a = a.cell;
        c->cmp_has_imm = form && op >= WASM_OP_i32_eq && op <= WASM_OP_i32_ge_u;
        c->cmp_b = form ? imm : b.cell;
        if (form && !c->cmp_has_imm)
            c->cmp_ok = false;
    }
    return true;
}

/* ---------------------------------------------------------------- memory */

typedef struct memory_op {
    uint8_t natural_log2;   /* alignment may not exceed this */
    uint8_t type;           /* value loaded or stored */
    bool store;
    uint16_t op;
} memory_op;

static const memory_op memory_ops[0x3f - 0x28 + 1] = {
    {2, I32, false, WASM_OP_load32},     {3, I64, false, WASM_OP_load64},
    {2, F32, false, WASM_OP_load32},     {3, F64, false, WASM_OP_load64},
    {0, I32, false, WASM_OP_load8_s32},  {0, I32, false, WASM_OP_load8_u},
    {1, I32, false, WASM_OP_load16_s32}, {1, I32, false, WASM_OP_load16_u},
    {0, I64, false, WASM_OP_load8_s64},  {0, I64, false, WASM_OP_load8_u},
    {1, I64, false, WASM_OP_load16_s64}, {1, I64, false, WASM_OP_load16_u},
    {2, I64, false, WASM_OP_load32_s64}, {2, I64, false, WASM_OP_load32},
    {2, I32, true, WASM_OP_store32},     {3, I64, true, WASM_OP_store64},
    {2, F32, true, WASM_OP_store32},     {3, F64, true, WASM_OP_store64},
    {0, I32, true, WASM_OP_store8},      {1, I32, true, WASM_OP_store16},
    {0, I64, true, WASM_OP_store8},      {1, I64, true, WASM_OP_store16},
    {2, I64, true, WASM_OP_store32},
};

static bool require_memory(compiler *c)
{
    return c->module->memory_count > 0 || invalid(c, "unknown memory 0");
}

static bool compile_memory_access(compiler *c, const memory_op *m)
{
    uint32_t align, offset;
    if (!read_u32(c, &align) || !read_u32(c, &offset) || !require_memory(c))
        return false;
    if (align > m->natural_log2)
        return invalid(c, "alignment must not be larger than natural");
    operand addr, value;
    if (m->store) {
        if (!pop_expect(c, m->type, &value) || !pop_expect(c, WASM_I32, &addr))
            return false;
        if (!emit_op(c, (enum wasm_interp_op)m->op) || !emit_cell(c, addr.cell) ||
            !emit_cell(c, value.cell) || !emit_imm(c, offset))
            return false;
        return emit_site(c);
    }
    if (!pop_expect(c, WASM_I32, &addr))
        return false;
    uint32_t h = c->height;
    if (c->live) {
        if (!emit_op(c, (enum wasm_interp_op)m->op))
            return false;
        uint32_t field = c->len;
        if (!emit_cell(c, pos_cell(h)) || !emit_cell(c, addr.cell) || !emit_imm(c, offset) ||
            !emit_site(c))
            return false;
        c->fold_ok = true;
        c->fold_field = field;
        c->fold_end = c->len;
        c->fold_height = h;
    }
    return push_result(c, m->type);
}

/* ------------------------------------------------------------------- calls */

/* Pops a call's arguments, moves the whole operand stack to its cells (the call is
 * a safe point) and returns the cell where the callee's frame begins. */
static bool prepare_call(compiler *c, const wasm_functype *type, uint32_t *arg_height)
{
    if (c->live && !materialize_from(c, 0))
        return false;
    operand tmp;
    for (uint32_t i = type->param_count; i-- > 0;)
        if (!pop_expect(c, type->types[i], &tmp))
            return false;
    *arg_height = c->height;
    return true;
}

static bool finish_call(compiler *c, const wasm_functype *type, uint32_t base)
{
    if (!emit_site(c) || !record_safe_point(c, WASM_SAFE_CALL, c->len, base))
        return false;
    if (c->live)
        c->safe_points[c->safe_count - 1].callee_type = type;
    for (uint32_t i = 0; i < type->result_count; i++)
        if (!push_result(c, type->types[type->param_count + i]))
            return false;
    return true;
}

static bool compile_call(compiler *c)
{
    uint32_t index, base;
    if (!read_u32(c, &index))
        return false;
    wasm_module *m = c->module;
    if (index >= m->func_count)
        return invalid(c, "unknown function");
    const wasm_functype *type = &m->types[m->func_type_index[index]];
    if (!prepare_call(c, type, &base))
        return false;
    bool imported = index < m->func_import_count;
    if (!emit_op(c, imported ? WASM_OP_call_import : WASM_OP_call) ||
        !emit_imm(c, imported ? index : index - m->func_import_count) ||
        !emit_cell(c, pos_cell(base)))
        return false;
    return finish_call(c, type, base);
}

static bool compile_call_indirect(compiler *c)
{
    uint32_t type_index, table_index, base;
    if (!read_u32(c, &type_index) || !read_u32(c, &table_index))
        return false;
    wasm_module *m = c->module;
    if (table_index >= m->table_count)
        return invalid(c, "unknown table");
    if (type_index >= m->type_count)
        return invalid(c, "unknown type");
    if (m->tables[table_index].elem_type != WASM_FUNCREF)
        return invalid(c, "type mismatch");
    const wasm_functype *type = &m->types[type_index];
    operand elem;
    if (!pop_expect(c, WASM_I32, &elem) || !prepare_call(c, type, &base))
        return false;
    if (!emit_op(c, WASM_OP_call_indirect) || !emit_imm(c, type_index) ||
        !emit_imm(c, table_index) || !emit_cell(c, elem.cell) || !emit_cell(c, pos_cell(base)))
        return false;
    return finish_call(c, type, base);
}

/* ------------------------------------------------------------ control flow */

/* block, loop and if: the stack below the block moves to its cells so that every
 * path through the block agrees on where values live. */
static bool compile_block(compiler *c, uint8_t opcode)
{
    block_type type;
    if (!read_block_type(c, &type))
        return false;
    operand cond;
    condition k = {0};
    if (opcode == 0x04) {
        if (!pop_expect(c, WASM_I32, &cond))
            return false;
        k = take_condition(c, &cond, false);
    }
    uint32_t np = bt_param_count(type);
    operand *vals = NULL;
    if (np) {
        vals = malloc(np * sizeof *vals);
        if (!vals)
            return out_of_memory(c);
        bool ok = true;
        for (uint32_t i = np; i-- > 0 && ok;)
            ok = pop_expect(c, bt_param(type, i), &vals[i]);
        for (uint32_t i = 0; i < np && ok; i++)
            ok = push(c, bt_param(type, i), vals[i].cell);
        free(vals);
        if (!ok)
            return false;
    }
    if (!materialize_from(c, 0))
        return false;
    if (opcode == 0x04 && c->live) {
        if (!emit_condition(c, &k, -1))
            return false;
    }
    uint32_t field = c->len, instr = c->instr_start;
    if (opcode == 0x04 && !emit_imm(c, 0))
        return false;
    if (!push_control(c, opcode, type))
        return false;
    control *f = &c->ctrl[c->ctrl_depth - 1];
    if (opcode == 0x04 && c->live && !add_patch(c, &f->else_patches, field, instr))
        return false;
    if (opcode == 0x03) {
        f = &c->ctrl[c->ctrl_depth - 1];
        f->loop_pos = c->len;
        if (!emit_op(c, WASM_OP_loop))
            return false;
        f->cost_pos = c->len;
        if (!emit_imm(c, 1) || !emit_site(c) ||
            !record_safe_point(c, WASM_SAFE_LOOP, f->loop_pos, c->height))
            return false;
        /* back edges continue right after the header: that must start an instruction */
        c->last_ok = false;
        f->fuel = 0;
        c->fuel_scope = c->ctrl_depth - 1;
        memset(c->local_zero, 0, c->local_count);
    }
    return true;
}

/* Checks that the block's results are exactly what is on its stack (fewer may be
 * there when the rest of the block is unreachable), leaving the stack as it is. */
static bool check_block_end(compiler *c, const control *f)
{
    uint32_t n = bt_result_count(f->type);
    uint32_t have = c->height - f->height;
    if (have > n || (have < n && !f->unreachable))
        return invalid(c, "type mismatch");
    for (uint32_t i = 0; i < have; i++) {
        uint8_t actual = c->stack[c->height - 1 - i].type;
        uint8_t expected = bt_result(f->type, n - 1 - i);
        if (actual != expected && actual != TYPE_UNKNOWN)
            return invalid(c, "type mismatch");
    }
    return true;
}

static bool compile_else(compiler *c)
{
    control *f = &c->ctrl[c->ctrl_depth - 1];
    if (f->opcode != 0x04)
        return malformed(c, "else without matching if");
    if (!check_block_end(c, f))
        return false;
    if (c->live) {
        if (!materialize_from(c, f->height) || !emit_op(c, WASM_OP_br))
            return false;
        if (!add_patch(c, &f->patches, c->len, c->instr_start) || !emit_word(c, 0))
            return false;
    }
    bind_patches(c, &f->else_patches);
    f->opcode = 0x05;
    f->unreachable = false;
    c->live = f->entry_live;
    truncate_stack(c, f->height);
    for (uint32_t i = 0; i < bt_param_count(f->type); i++)
        if (!push_result(c, bt_param(f->type, i)))
            return false;
    return true;
}

static bool compile_end(compiler *c)
{
    control *f = &c->ctrl[c->ctrl_depth - 1];
    uint32_t n = bt_result_count(f->type);
    if (!check_block_end(c, f))
        return false;
    if (f->opcode == 0x04) {
        /* an if without else passes its parameters through as results */
        uint32_t np = bt_param_count(f->type);
        if (np != n)
            return invalid(c, "type mismatch");
        for (uint32_t i = 0; i < n; i++)
            if (bt_param(f->type, i) != bt_result(f->type, i))
                return invalid(c, "type mismatch");
    }
    if (c->ctrl_depth == 1) {
        /* the function's end returns its results */
        if (c->live && !emit_return(c))
            return false;
        bind_patches(c, &f->patches);
        c->ctrl_depth = 0;
        return true;
    }
    if (c->live && !materialize_from(c, f->height))
        return false;
    bool reached = c->live || f->patches != 0 || (f->opcode == 0x04 && f->entry_live);
    if (f->opcode == 0x03) {
        if (f->entry_live)
            c->code[f->cost_pos] = f->fuel ? f->fuel : 1;
        c->fuel_scope = f->outer_fuel_scope;
        reached = c->live;
    }
    bind_patches(c, &f->patches);
    if (f->opcode == 0x04)
        bind_patches(c, &f->else_patches);
    uint32_t height = f->height;
    block_type type = f->type;
    c->ctrl_depth--;
    c->live = reached;
    truncate_stack(c, height);
    for (uint32_t i = 0; i < n; i++)
        if (!push_result(c, bt_result(type, i)))
            return false;
    return true;
}

static bool compile_br(compiler *c)
{
    uint32_t depth;
    if (!read_label(c, &depth) || !check_label_values(c, depth, false))
        return false;
    if (!emit_branch(c, depth))
        return false;
    set_unreachable(c);
    return true;
}

static bool compile_br_if(compiler *c)
{
    uint32_t depth;
    operand cond;
    if (!read_label(c, &depth) || !pop_expect(c, WASM_I32, &cond) ||
        !check_label_values(c, depth, false))
        return false;
    if (!c->live)
        return true;
    if (!branch_needs_moves(c, depth)) {
        condition k = take_condition(c, &cond, true);
        return emit_condition(c, &k, depth) && emit_label_ref(c, depth);
    }
    condition k = take_condition(c, &cond, false);
    if (!emit_condition(c, &k, -1))
        return false;
    uint32_t skip = 0;
    if (!add_patch(c, &skip, c->len, c->instr_start) || !emit_word(c, 0))
        return false;
    if (!emit_branch(c, depth))
        return false;
    bind_patches(c, &skip);
    return true;
}

static bool compile_br_table(compiler *c)
{
    uint32_t count;
    if (!read_u32(c, &count))
        return false;
    /* every label takes at least one byte: refuse counts the body cannot hold */
    if (count > (uint32_t)(c->end - c->p))
        return malformed(c, "unexpected end of section or function");
    uint32_t *depths = malloc(((size_t)count + 1) * sizeof *depths);
    if (!depths)
        return out_of_memory(c);
    bool ok = true;
    for (uint32_t i = 0; i <= count && ok; i++)
        ok = read_label(c, &depths[i]);
    operand index;
    if (ok)
        ok = pop_expect(c, WASM_I32, &index);
    /* A table may name the same label many times: check and plan each label once,
     * so the work stays proportional to the table plus the labels' arities. */
    uint32_t serial = ++c->table_serial;
    if (ok) {
        uint32_t arity = label_arity(&c->ctrl[c->ctrl_depth - 1 - depths[count]]);
        for (uint32_t i = 0; i <= count && ok; i++) {
            control *f = &c->ctrl[c->ctrl_depth - 1 - depths[i]];
            if (f->table_serial == serial)
                continue;
            f->table_serial = serial;
            if (label_arity(f) != arity)
                ok = invalid(c, "type mismatch");
            else
                ok = check_label_values(c, depths[i], true);
            if (ok && c->live) {
                f = &c->ctrl[c->ctrl_depth - 1 - depths[i]];
                f->table_needs_moves = branch_needs_moves(c, depths[i]);
                f->table_stub = 0;
            }
        }
    }
    if (ok && c->live) {
        ok = emit_op(c, WASM_OP_br_table) && emit_cell(c, index.cell) && emit_imm(c, count);
        uint32_t table_start = c->instr_start, first_field = c->len;
        for (uint32_t i = 0; i <= count && ok; i++) {
            if (c->ctrl[c->ctrl_depth - 1 - depths[i]].table_needs_moves)
                ok = emit_word(c, 0);   /* filled in when its stub is emitted */
            else
                ok = emit_label_ref(c, depths[i]);
        }
        /* the stubs: the moves a label needs, then the jump to it */
        for (uint32_t i = 0; i <= count && ok; i++) {
            control *f = &c->ctrl[c->ctrl_depth - 1 - depths[i]];
            if (!f->table_needs_moves)
                continue;
            if (!f->table_stub) {
                f->table_stub = c->len;
                ok = emit_branch(c, depths[i]);
            }
            c->code[first_field + i] = (wasm_iword)(int32_t)(f->table_stub - table_start);
        }
    }
    free(depths);
    if (ok)
        set_unreachable(c);
    return ok;
}

/* ------------------------------------------------------------ other groups */

static bool compile_select(compiler *c, bool typed)
{
    uint8_t type = TYPE_UNKNOWN;
    if (typed) {
        uint32_t n;
        if (!read_u32(c, &n))
            return false;
        if (n != 1)
            return invalid(c, "invalid result arity");
        uint8_t t;
        if (!read_byte(c, &t))
            return false;
        if (!wasm_is_valtype(t))
            return malformed(c, "malformed value type");
        type = t;
    }
    operand cond, a, b;
    if (!pop_expect(c, WASM_I32, &cond))
        return false;
    if (typed) {
        if (!pop_expect(c, type, &b) || !pop_expect(c, type, &a))
            return false;
    } else {
        if (!pop_any(c, &b) || !pop_any(c, &a))
            return false;
        if ((a.type != TYPE_UNKNOWN && !is_numtype(a.type)) ||
            (b.type != TYPE_UNKNOWN && !is_numtype(b.type)))
            return invalid(c, "type mismatch");
        if (a.type != b.type && a.type != TYPE_UNKNOWN && b.type != TYPE_UNKNOWN)
            return invalid(c, "type mismatch");
        type = a.type == TYPE_UNKNOWN ? b.type : a.type;
    }
    uint32_t cells[3] = {a.cell, b.cell, cond.cell};
    return emit_value_op(c, WASM_OP_select, type, cells, 3, false);
}

static bool compile_global(compiler *c, bool set)
{
    uint32_t index;
    if (!read_u32(c, &index))
        return false;
    if (index >= c->module->global_count)
        return invalid(c, "unknown global");
    const wasm_globaltype *g = &c->module->global_types[index];
    if (!set)
        return emit_result_op(c, WASM_OP_global_get, g->type, NULL, 0, &index, 1, false);
    if (!g->mutable_)
        return invalid(c, "global is immutable");
    operand v;
    if (!pop_expect(c, g->type, &v))
        return false;
    return emit_op(c, WASM_OP_global_set) && emit_imm(c, index) && emit_cell(c, v.cell);
}

static bool read_table(compiler *c, uint32_t *index)
{
    if (!read_u32(c, index))
        return false;
    return *index < c->module->table_count || invalid(c, "unknown table");
}

static bool compile_table_get_set(compiler *c, bool set)
{
    uint32_t t;
    if (!read_table(c, &t))
        return false;
    uint8_t type = c->module->tables[t].elem_type;
    operand index, value;
    if (set) {
        if (!pop_expect(c, type, &value) || !pop_expect(c, WASM_I32, &index))
            return false;
        return emit_op(c, WASM_OP_table_set) && emit_imm(c, t) && emit_cell(c, index.cell) &&
               emit_cell(c, value.cell) && emit_site(c);
    }
    if (!pop_expect(c, WASM_I32, &index))
        return false;
    return emit_result_op(c, WASM_OP_table_get, type, &index.cell, 1, &t, 1, true);
}

static bool require_data_count(compiler *c, uint32_t segment)
{
    if (!c->module->has_data_count_section)
        return malformed(c, "data count section required");
    return segment < c->module->data_count || invalid(c, "unknown data segment");
}

static bool read_elem(compiler *c, uint32_t *index)
{
    if (!read_u32(c, index))
        return false;
    return *index < c->module->elem_count || invalid(c, "unknown elem segment");
}

static bool pop_i32s(compiler *c, operand *out, uint32_t n)
{
    for (uint32_t i = n; i-- > 0;)
        if (!pop_expect(c, WASM_I32, &out[i]))
            return false;
    return true;
}

/* The 0xFC prefix: saturating truncation, bulk memory and table instructions. */
static bool compile_prefixed(compiler *c)
{
    uint32_t sub;
    if (!read_u32(c, &sub))
        return false;
    if (sub < 8)
        return compile_numeric(c, &saturating_ops[sub]);
    operand v[3], ref;
    uint32_t x, y;
    switch (sub) {
    case 8: /* memory.init */
        if (!read_u32(c, &x) || !read_zero_byte(c) || !require_memory(c) ||
            !require_data_count(c, x) || !pop_i32s(c, v, 3))
            return false;
        return emit_op(c, WASM_OP_memory_init) && emit_imm(c, x) && emit_cell(c, v[0].cell) &&
               emit_cell(c, v[1].cell) && emit_cell(c, v[2].cell) && emit_site(c);
    case 9: /* data.drop */
        if (!read_u32(c, &x) || !require_data_count(c, x))
            return false;
        return emit_op(c, WASM_OP_data_drop) && emit_imm(c, x);
    case 10: /* memory.copy */
        if (!read_zero_byte(c) || !read_zero_byte(c) || !require_memory(c) || !pop_i32s(c, v, 3))
            return false;
        return emit_op(c, WASM_OP_memory_copy) && emit_cell(c, v[0].cell) &&
               emit_cell(c, v[1].cell) && emit_cell(c, v[2].cell) && emit_site(c);
    case 11: /* memory.fill */
        if (!read_zero_byte(c) || !require_memory(c) || !pop_i32s(c, v, 3))
            return false;
        return emit_op(c, WASM_OP_memory_fill) && emit_cell(c, v[0].cell) &&
               emit_cell(c, v[1].cell) && emit_cell(c, v[2].cell) && emit_site(c);
    case 12: /* table.init elem table */
        if (!read_elem(c, &x) || !read_table(c, &y))
            return false;
        if (c->module->elems[x].elem_type != c->module->tables[y].elem_type)
            return invalid(c, "type mismatch");
        if (!pop_i32s(c, v, 3))
            return false;
        return emit_op(c, WASM_OP_table_init) && emit_imm(c, x) && emit_imm(c, y) &&
               emit_cell(c, v[0].cell) && emit_cell(c, v[1].cell) && emit_cell(c, v[2].cell) &&
               emit_site(c);
    case 13: /* elem.drop */
        if (!read_elem(c, &x))
            return false;
        return emit_op(c, WASM_OP_elem_drop) && emit_imm(c, x);
    case 14: /* table.copy dst src */
        if (!read_table(c, &x) || !read_table(c, &y))
            return false;
        if (c->module->tables[x].elem_type != c->module->tables[y].elem_type)
            return invalid(c, "type mismatch");
        if (!pop_i32s(c, v, 3))
            return false;
        return emit_op(c, WASM_OP_table_copy) && emit_imm(c, x) && emit_imm(c, y) &&
               emit_cell(c, v[0].cell) && emit_cell(c, v[1].cell) && emit_cell(c, v[2].cell) &&
               emit_site(c);
    case 15: /* table.grow */
        if (!read_table(c, &x) || !pop_expect(c, WASM_I32, &v[0]) ||
            !pop_expect(c, c->module->tables[x].elem_type, &ref))
            return false;
    {
        uint32_t cells[2] = {ref.cell, v[0].cell};
        return emit_result_op(c, WASM_OP_table_grow, WASM_I32, cells, 2, &x, 1, true);
    }
    case 16: /* table.size */
        if (!read_table(c, &x))
            return false;
        return emit_result_op(c, WASM_OP_table_size, WASM_I32, NULL, 0, &x, 1, false);
    case 17: /* table.fill */
        if (!read_table(c, &x) || !pop_expect(c, WASM_I32, &v[1]) ||
            !pop_expect(c, c->module->tables[x].elem_type, &ref) ||
            !pop_expect(c, WASM_I32, &v[0]))
            return false;
        return emit_op(c, WASM_OP_table_fill) && emit_imm(c, x) && emit_cell(c, v[0].cell) &&
               emit_cell(c, ref.cell) && emit_cell(c, v[1].cell) && emit_site(c);
    default:
        return malformed(c, "illegal opcode");
    }
}

static bool compile_const(compiler *c, uint8_t opcode)
{
    uint32_t cell;
    wasm_slot bits;
    uint8_t type;
    switch (opcode) {
    case 0x41: {
        int32_t v;
        if (!wasm_read_s32(&c->p, c->end, &v))
            return malformed(c, "integer representation too long");
        bits = (uint32_t)v;
        type = WASM_I32;
        break;
    }
    case 0x42: {
        int64_t v;
        if (!wasm_read_s64(&c->p, c->end, &v))
            return malformed(c, "integer representation too long");
        bits = (uint64_t)v;
        type = WASM_I64;
        break;
    }
    case 0x43: {
        if (c->end - c->p < 4)
            return malformed(c, "unexpected end of section or function");
        bits = (uint32_t)c->p[0] | (uint32_t)c->p[1] << 8 | (uint32_t)c->p[2] << 16 |
               (uint32_t)c->p[3] << 24;
        c->p += 4;
        type = WASM_F32;
        break;
    }
    default: {
        if (c->end - c->p < 8)
            return malformed(c, "unexpected end of section or function");
        bits = 0;
        for (int i = 7; i >= 0; i--)
            bits = bits << 8 | c->p[i];
        c->p += 8;
        type = WASM_F64;
        break;
    }
    }
    if (!const_cell(c, bits, &cell))
        return false;
    return push(c, type, cell);
}

static bool compile_instruction(compiler *c, uint8_t opcode)
{
    operand a;
    uint32_t x;
    switch (opcode) {
    case 0x00: /* unreachable */
        if (!emit_op(c, WASM_OP_unreachable) || !emit_site(c))
            return false;
        set_unreachable(c);
        return true;
    case 0x01: /* nop */
        return true;
    case 0x02: case 0x03: case 0x04:
        return compile_block(c, opcode);
    case 0x05:
        return compile_else(c);
    case 0x0b:
        return compile_end(c);
    case 0x0c:
        return compile_br(c);
    case 0x0d:
        return compile_br_if(c);
    case 0x0e:
        return compile_br_table(c);
    case 0x0f: /* return */
        if (!check_label_values(c, c->ctrl_depth - 1, false) || !emit_return(c))
            return false;
        set_unreachable(c);
        return true;
    case 0x10:
        return compile_call(c);
    case 0x11:
        return compile_call_indirect(c);
    case 0x1a: /* drop */
        return pop_any(c, &a);
    case 0x1b:
        return compile_select(c, false);
    case 0x1c:
        return compile_select(c, true);
    case 0x20: /* local.get */
        if (!read_local(c, &x))
            return false;
        return push(c, c->local_types[x], x);
    case 0x21: /* local.set */
    case 0x22: /* local.tee */
        if (!read_local(c, &x) || !pop_expect(c, c->local_types[x], &a))
            return false;
        if (!assign_local(c, x, &a, c->height))
            return false;
        return opcode == 0x21 || push(c, c->local_types[x], x);
    case 0x23:
        return compile_global(c, false);
    case 0x24:
        return compile_global(c, true);
    case 0x25:
        return compile_table_get_set(c, false);
    case 0x26:
        return compile_table_get_set(c, true);
    case 0x3f: /* memory.size */
        if (!read_zero_byte(c) || !require_memory(c))
            return false;
        return emit_value_op(c, WASM_OP_memory_size, WASM_I32, NULL, 0, false);
    case 0x40: /* memory.grow */
        if (!read_zero_byte(c) || !require_memory(c) || !pop_expect(c, WASM_I32, &a))
            return false;
        return emit_value_op(c, WASM_OP_memory_grow, WASM_I32, &a.cell, 1, true);
    case 0x41: case 0x42: case 0x43: case 0x44:
        return compile_const(c, opcode);
    case 0xd0: { /* ref.null t */
        uint8_t t;
        if (!read_byte(c, &t))
            return false;
        if (!is_reftype(t))
            return malformed(c, "malformed reference type");
        uint32_t cell;
        return const_cell(c, 0, &cell) && push(c, t, cell);
    }
    case 0xd1: /* ref.is_null */
        if (!pop_any(c, &a))
            return false;
        if (a.type != TYPE_UNKNOWN && !is_reftype(a.type))
            return invalid(c, "type mismatch");
        return emit_value_op(c, WASM_OP_ref_is_null, WASM_I32, &a.cell, 1, false);
    case 0xd2: /* ref.func */
        if (!read_u32(c, &x))
            return false;
        if (x >= c->module->func_count)
            return invalid(c, "unknown function");
        if (!c->module->func_declared || !c->module->func_declared[x])
            return invalid(c, "undeclared function reference");
        return emit_result_op(c, WASM_OP_ref_func, WASM_FUNCREF, NULL, 0, &x, 1, false);
    case 0xfc:
        return compile_prefixed(c);
    default:
        break;
    }
    if (opcode >= 0x28 && opcode <= 0x3e)
        return compile_memory_access(c, &memory_ops[opcode - 0x28]);
    if (numeric_ops[opcode].kind != NUM_NONE)
        return compile_numeric(c, &numeric_ops[opcode]);
    return malformed(c, "illegal opcode");
}

/* ---------------------------------------------------------------- driver */

static void compiler_release(compiler *c)
{
    free(c->local_types);
    free(c->local_zero);
    free(c->alias_count);
    free(c->stack);
    free(c->ctrl);
    free(c->code);
    free(c->relocs);
    free(c->patches);
    free(c->consts);
    free(c->const_hash);
    free(c->sites);
    free(c->safe_points);
    free(c->stack_types);
}

static bool setup_locals(compiler *c, const wasm_code *code)
{
    uint64_t total = (uint64_t)c->type->param_count + code->local_count;
    if (total >= MAX_FRAME_CELLS / 2)
        return malformed(c, "too many locals");
    c->local_count = (uint32_t)total;
    c->local_types = malloc(total ? total : 1);
    c->local_zero = calloc(total ? total : 1, 1);
    c->alias_count = calloc(total ? total : 1, sizeof *c->alias_count);
    if (!c->local_types || !c->local_zero || !c->alias_count)
        return out_of_memory(c);
    memset(c->local_zero + c->type->param_count, 1, code->local_count);
    if (c->type->param_count)
        memcpy(c->local_types, c->type->types, c->type->param_count);
    if (code->local_count)
        memcpy(c->local_types + c->type->param_count, code->local_types, code->local_count);
    return true;
}

/* Turns the virtual cells into frame indices and hands the arrays over. */
static bool finish(compiler *c, wasm_code *code)
{
    close_pair(c);
    /* Constants that ended up as immediates (or in dead code) need no cell: keep
     * only those the code still names, renumbered in order. */
    uint32_t *renumber = calloc(c->const_count ? c->const_count : 1, sizeof *renumber);
    if (!renumber)
        return out_of_memory(c);
    for (uint32_t i = 0; i < c->reloc_count; i++) {
        wasm_iword w = c->code[c->relocs[i]];
        if ((w & CONST_TAG) && !(w & POS_TAG))
            renumber[w & CELL_INDEX_MASK] = 1;
    }
    uint32_t kept = 0;
    for (uint32_t i = 0; i < c->const_count; i++)
        if (renumber[i]) {
            c->consts[kept] = c->consts[i];
            renumber[i] = kept++;
        }
    for (uint32_t i = 0; i < c->reloc_count; i++) {
        wasm_iword *w = &c->code[c->relocs[i]];
        if ((*w & CONST_TAG) && !(*w & POS_TAG))
            *w = CONST_TAG | renumber[*w & CELL_INDEX_MASK];
    }
    free(renumber);
    c->const_count = kept;

    uint64_t stack_base = (uint64_t)c->local_count + c->const_count;
    uint64_t frame = stack_base + c->max_height;
    if (frame < c->type->result_count)
        frame = c->type->result_count;
    if (frame < (uint64_t)c->type->param_count + WASM_FRAME_INIT_MIN)
        frame = (uint64_t)c->type->param_count + WASM_FRAME_INIT_MIN;
    if (frame >= MAX_FRAME_CELLS)
        return invalid(c, "function frame too large");
    for (uint32_t i = 0; i < c->reloc_count; i++) {
        wasm_iword *w = &c->code[c->relocs[i]];
        if (*w & POS_TAG)
            *w = (wasm_iword)(stack_base + (*w & CELL_INDEX_MASK));
        else if (*w & CONST_TAG)
            *w = (wasm_iword)(c->local_count + (*w & CELL_INDEX_MASK));
    }
    /* never NULL, so that `stack_types + types_at` is defined even when no safe
     * point has a value on its stack */
    if (!c->stack_types && !RESERVE(c, c->stack_types, c->stack_types_cap, 1))
        return false;
    uint32_t declared = c->local_count - c->type->param_count;
    uint32_t init_count = declared + c->const_count;
    wasm_slot *init = calloc(init_count > WASM_FRAME_INIT_MIN ? init_count : WASM_FRAME_INIT_MIN,
                             sizeof *init);
    struct wasm_code_compiled *out = calloc(1, sizeof *out);
    if (!out || !init) {
        free(out);
        free(init);
        return out_of_memory(c);
    }
    if (c->const_count)
        memcpy(init + declared, c->consts, c->const_count * sizeof *init);
    out->func_index = c->func_index;
    out->param_count = c->type->param_count;
    out->result_count = c->type->result_count;
    out->local_count = c->local_count;
    out->const_count = c->const_count;
    out->stack_base = (uint32_t)stack_base;
    out->frame_cells = (uint32_t)frame;
    out->init_cells = init;
    out->init_count = init_count;
    out->local_types = c->local_types;
    c->local_types = NULL;
    out->entry_cost = c->ctrl_cap ? c->ctrl[0].fuel : 1;
    if (out->entry_cost == 0)
        out->entry_cost = 1;
    out->code = c->code;
    c->code = NULL;
    out->code_size = c->len;
    out->code[1] = out->entry_cost;
    out->sites = c->sites;
    c->sites = NULL;
    out->site_count = c->site_count;
    out->safe_points = c->safe_points;
    c->safe_points = NULL;
    out->safe_point_count = c->safe_count;
    out->stack_types = c->stack_types;
    c->stack_types = NULL;
    code->compiled = out;
    return true;
}

bool wasm_compile_function(wasm_module *module, uint32_t defined_index, wasm_error *err)
{
    wasm_code *code = &module->codes[defined_index];
    compiler c;
    memset(&c, 0, sizeof c);
    c.module = module;
    c.err = err;
    c.func_index = module->func_import_count + defined_index;
    c.type = &module->types[module->func_type_index[c.func_index]];
    c.p = module->bytes + code->body_offset;
    c.end = module->bytes + code->body_end;
    c.instr_offset = code->body_offset;
    c.live = true;
    uint64_t limit = (uint64_t)(code->body_end - code->body_offset) * CODE_WORDS_PER_BYTE;
    c.code_limit = limit < CODE_WORDS_MIN ? CODE_WORDS_MIN
                   : limit > UINT32_MAX / 4 ? UINT32_MAX / 4 : (uint32_t)limit;

    bool ok = setup_locals(&c, code);
    block_type fn_type = {c.type, 0};
    ok = ok && push_control(&c, 0, fn_type);
    if (ok) {
        c.ctrl[0].height = 0;
        ok = emit_op(&c, WASM_OP_entry) && emit_imm(&c, 1) && emit_site(&c) &&
             record_safe_point(&c, WASM_SAFE_ENTRY, 0, 0);
        c.last_ok = false;  /* calls continue right after the entry safe point */
    }
    while (ok && c.ctrl_depth > 0) {
        if (c.p >= c.end) {
            c.instr_offset = (size_t)(c.p - module->bytes);
            ok = malformed(&c, "END opcode expected");
            break;
        }
        c.instr_offset = (size_t)(c.p - module->bytes);
        uint8_t opcode = *c.p++;
        c.ctrl[c.fuel_scope].fuel++;
        ok = compile_instruction(&c, opcode);
    }
    if (ok && c.p != c.end) {
        c.instr_offset = (size_t)(c.p - module->bytes);
        ok = malformed(&c, "section size mismatch");
    }
    ok = ok && finish(&c, code);
    compiler_release(&c);
    return ok;
}

/* ------------------------------------------------------------ lookups */

void wasm_compiled_free(struct wasm_code_compiled *compiled)
{
    if (!compiled)
        return;
    free(compiled->init_cells);
    free(compiled->local_types);
    free(compiled->code);
    free(compiled->sites);
    free(compiled->safe_points);
    free(compiled->stack_types);
    free(compiled);
}

uint32_t wasm_compiled_offset_of(const struct wasm_code_compiled *code, uint32_t code_pos)
{
    uint32_t lo = 0, hi = code->site_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (code->sites[mid].code_pos <= code_pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? code->sites[lo - 1].wasm_offset : 0;
}

const wasm_safe_point *wasm_compiled_safe_point_at(const struct wasm_code_compiled *code,
                                                   uint32_t resume_pos)
{
    uint32_t lo = 0, hi = code->safe_point_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint32_t at = code->safe_points[mid].resume_pos;
        if (at == resume_pos)
            return &code->safe_points[mid];
        if (at < resume_pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const wasm_safe_point *wasm_compiled_safe_point_find(const struct wasm_code_compiled *code,
                                                     uint8_t kind, uint32_t wasm_offset)
{
    for (uint32_t i = 0; i < code->safe_point_count; i++)
        if (code->safe_points[i].kind == kind && code->safe_points[i].wasm_offset == wasm_offset)
            return &code->safe_points[i];
    return NULL;
}
