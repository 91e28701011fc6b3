/*
 * compile.c — validates one function body and compiles it, in the same single pass,
 * into the interpreter's three-address form (see compile.h for the frame layout).
 * This file holds the validation algorithm and the translation of control flow,
 * locals, calls and the other instructions; compile_numeric.c the numeric and
 * memory instructions; compile_code.c the building of the code itself.
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
#include "wasm/compile_internal.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ reading */

static bool read_byte(compiler *c, uint8_t *out)
{
    *out = 0;
    if (c->p >= c->end)
        return malformed(c, "unexpected end of section or function");
    *out = *c->p++;
    return true;
}

bool compiler_read_u32(compiler *c, uint32_t *out)
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

/* ---------------------------------------------------------- operand stack */


bool compiler_push(compiler *c, uint8_t type, uint32_t cell)
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
bool compiler_push_result(compiler *c, uint8_t type)
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

bool compiler_pop_expect(compiler *c, uint8_t expected, operand *out)
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
        return compiler_saturating(c, sub);
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
        return compiler_memory_access(c, opcode);
    if (compiler_is_numeric(opcode))
        return compiler_numeric(c, opcode);
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
    ok = ok && compiler_finish(&c, code);
    compiler_release(&c);
    return ok;
}
