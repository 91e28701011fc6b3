/*
 * compile_numeric.c — the numeric instructions (types and handlers from tables),
 * their immediate forms when an operand is a constant, and loads and stores.
 */
#include "wasm/compile_internal.h"

/* Emits `op dst, cells..., immediates...` producing one value of type `type`, and
 * remembers that its destination can be redirected by a following local.set. */
bool compiler_emit_result_op(compiler *c, enum wasm_interp_op op, uint8_t type,
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

bool compiler_emit_value_op(compiler *c, enum wasm_interp_op op, uint8_t type,
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

bool compiler_require_memory(compiler *c)
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

bool compiler_is_numeric(uint8_t opcode)
{
    return numeric_ops[opcode].kind != NUM_NONE;
}

bool compiler_numeric(compiler *c, uint8_t opcode)
{
    return compile_numeric(c, &numeric_ops[opcode]);
}

bool compiler_saturating(compiler *c, uint32_t sub)
{
    return compile_numeric(c, &saturating_ops[sub]);
}

bool compiler_memory_access(compiler *c, uint8_t opcode)
{
    return compile_memory_access(c, &memory_ops[opcode - 0x28]);
}
