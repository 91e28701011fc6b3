/*
 * constexpr.c — constant expressions: global initialisers, segment offsets and
 * element items. Wasm 2.0 allows exactly one of t.const, ref.null, ref.func and
 * global.get (of an imported immutable global) before `end`.
 */
#include "wasm/decode.h"

#include <string.h>

enum {
    OP_END = 0x0b,
    OP_GLOBAL_GET = 0x23,
    OP_I32_CONST = 0x41,
    OP_I64_CONST = 0x42,
    OP_F32_CONST = 0x43,
    OP_F64_CONST = 0x44,
    OP_REF_NULL = 0xd0,
    OP_REF_FUNC = 0xd2,
    OP_PREFIX_FC = 0xfc,
};

/* Opcodes of Wasm 2.0 without SIMD: anything else is malformed, not merely
 * non-constant. */
static bool is_known_opcode(uint8_t op)
{
    return op <= 0x05 || (op >= 0x0b && op <= 0x11) || (op >= 0x1a && op <= 0x1c) ||
           (op >= 0x20 && op <= 0x26) || (op >= 0x28 && op <= 0xc4) ||
           (op >= 0xd0 && op <= 0xd2) || op == OP_PREFIX_FC;
}

/* A non-constant instruction: its immediates are not known here, so decoding
 * cannot go on; report it as the validation failure it is. */
static bool stop_not_constant(decoder *d, const uint8_t *op_at, uint8_t op)
{
    if (!is_known_opcode(op))
        return decoder_malformed(d, op_at, "illegal opcode 0x%02x", op);
    decoder_invalid(d, op_at, "constant expression required");
    if (d->err)
        *d->err = d->invalid;
    return false;
}

static bool decode_global_get(decoder *d, const uint8_t *op_at, wasm_constexpr *instr,
                              bool *type_known)
{
    const wasm_module *m = d->module;
    uint32_t index;
    if (!decoder_read_u32(d, &index))
        return false;
    instr->op = WASM_CONST_GLOBAL_GET;
    instr->value = index;
    if (index >= m->global_import_count) {
        /* Only imported globals are in scope: defined ones are not yet initialised. */
        decoder_invalid(d, op_at, "unknown global %u", index);
        *type_known = false;
        return true;
    }
    instr->type = m->global_types[index].type;
    if (m->global_types[index].mutable_)
        decoder_invalid(d, op_at, "constant expression required: global %u is mutable", index);
    return true;
}

static bool decode_ref_func(decoder *d, const uint8_t *op_at, wasm_constexpr *instr,
                            bool *type_known)
{
    uint32_t index;
    if (!decoder_read_u32(d, &index))
        return false;
    instr->op = WASM_CONST_REF_FUNC;
    instr->type = WASM_FUNCREF;
    instr->value = index;
    if (index >= d->module->func_count) {
        decoder_invalid(d, op_at, "unknown function %u", index);
        *type_known = false;
        return true;
    }
    return decoder_declare_func(d, index);
}

static bool decode_constant_instr(decoder *d, uint8_t op, const uint8_t *op_at,
                                  wasm_constexpr *instr, bool *type_known)
{
    int32_t i32;
    int64_t i64;
    uint64_t bits;
    switch (op) {
    case OP_I32_CONST:
        if (!decoder_read_s32(d, &i32))
            return false;
        *instr = (wasm_constexpr){WASM_CONST_I32, WASM_I32, (uint32_t)i32};
        return true;
    case OP_I64_CONST:
        if (!decoder_read_s64(d, &i64))
            return false;
        *instr = (wasm_constexpr){WASM_CONST_I64, WASM_I64, (uint64_t)i64};
        return true;
    case OP_F32_CONST:
        if (!decoder_read_fixed(d, 4, &bits))
            return false;
        *instr = (wasm_constexpr){WASM_CONST_F32, WASM_F32, bits};
        return true;
    case OP_F64_CONST:
        if (!decoder_read_fixed(d, 8, &bits))
            return false;
        *instr = (wasm_constexpr){WASM_CONST_F64, WASM_F64, bits};
        return true;
    case OP_REF_NULL:
        instr->op = WASM_CONST_REF_NULL;
        instr->value = 0;
        return decoder_read_reftype(d, &instr->type);
    case OP_REF_FUNC:
        return decode_ref_func(d, op_at, instr, type_known);
    case OP_GLOBAL_GET:
        return decode_global_get(d, op_at, instr, type_known);
    default:
        return stop_not_constant(d, op_at, op);
    }
}

bool decode_constexpr(decoder *d, uint8_t expected_type, wasm_constexpr *out)
{
    const uint8_t *expr_at = d->p;
    uint32_t count = 0;
    bool type_known = true;
    memset(out, 0, sizeof *out);
    for (;;) {
        const uint8_t *op_at = d->p;
        uint8_t op = 0;
        if (!decoder_read_byte(d, &op))
            return false;
        if (op == OP_END)
            break;
        wasm_constexpr instr = {0};
        bool instr_type_known = true;
        if (!decode_constant_instr(d, op, op_at, &instr, &instr_type_known))
            return false;
        if (count++ == 0) {
            *out = instr;
            type_known = instr_type_known;
        }
    }
    /* Only the first instruction is kept: a valid expression has exactly one. */
    if (count != 1)
        decoder_invalid(d, expr_at, "type mismatch: a constant expression must produce "
                        "exactly one value, this one leaves %u", count);
    else if (type_known && out->type != expected_type)
        decoder_invalid(d, expr_at, "type mismatch: constant expression has the wrong type");
    return true;
}

wasm_slot wasm_constexpr_eval(const wasm_instance *instance, const wasm_constexpr *expr)
{
    switch (expr->op) {
    case WASM_CONST_I32:
    case WASM_CONST_F32:
        return (uint32_t)expr->value;
    case WASM_CONST_I64:
    case WASM_CONST_F64:
        return expr->value;
    case WASM_CONST_REF_NULL:
        return 0;
    case WASM_CONST_REF_FUNC:
        return (wasm_slot)(uintptr_t)instance->funcs[expr->value];
    case WASM_CONST_GLOBAL_GET:
        return instance->globals[expr->value]->value;
    }
    return 0;
}
