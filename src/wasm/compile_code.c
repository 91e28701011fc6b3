/*
 * compile_code.c — the compiled code of a function as it is built: code words and
 * the cells they name (with their relocation once the frame layout is known),
 * constants, trap sites and safe points; the choice of superinstructions (fused and
 * chained pairs, see interp_ops.h); turning it all into the immutable
 * wasm_code_compiled; and the lookups the interpreter and snapshots make in it.
 */
#include "wasm/compile_internal.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ errors */

bool compiler_fail(compiler *c, wasm_error_kind kind, const char *message)
{
    return wasm_fail_at(c->err, kind, c->instr_offset, "%s (function %u)", message,
                        c->func_index);
}

bool compiler_invalid(compiler *c, const char *message)
{
    return fail(c, WASM_ERR_INVALID, message);
}

bool compiler_malformed(compiler *c, const char *message)
{
    return fail(c, WASM_ERR_MALFORMED, message);
}

bool compiler_out_of_memory(compiler *c)
{
    return fail(c, WASM_ERR_NOMEM, "out of memory compiling function");
}

bool compiler_reserve(void **array, uint32_t *cap, uint64_t need, size_t elem)
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

/* ------------------------------------------------------------ code emission */

bool compiler_emit_word(compiler *c, wasm_iword word)
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
void compiler_close_pair(compiler *c)
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
bool compiler_emit_op(compiler *c, enum wasm_interp_op op)
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

bool compiler_emit_imm(compiler *c, uint32_t value)
{
    return !c->live || emit_word(c, value);
}

bool compiler_emit_cell(compiler *c, uint32_t cell)
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
bool compiler_emit_site(compiler *c)
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
void compiler_rewind_code(compiler *c, uint32_t pos)
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

bool compiler_record_safe_point(compiler *c, uint8_t kind, uint32_t resume_pos, uint32_t height)
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

bool compiler_const_cell(compiler *c, wasm_slot value, uint32_t *cell)
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

/* ------------------------------------------------------------ finishing */

/* Turns the virtual cells into frame indices and hands the arrays over. */
bool compiler_finish(compiler *c, wasm_code *code)
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
