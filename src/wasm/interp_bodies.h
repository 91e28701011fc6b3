/*
 * interp_bodies.h — what each simple instruction does, written once for both its
 * own handler and the fused pairs it takes part in (interp.c, WASM_INTERP_PAIRS).
 *
 * EXEC_name(o) performs one instruction whose first operand word is pc[o]: o is 1
 * for an instruction on its own, and the length of the first instruction of a pair
 * for the second (whose handler word the compiler left out; its virtual start,
 * where its trap site and branch distances are anchored, is pc + o - 1).
 * Straight-line bodies fall through; branch bodies end by dispatching.
 *
 * Included by interp.c only, inside the interpreter function's scope.
 */
#ifndef LIQUID_WASM_INTERP_BODIES_H
#define LIQUID_WASM_INTERP_BODIES_H

#define VALUE_TYPE_I32 uint32_t
#define VALUE_TYPE_S32 int32_t
#define VALUE_TYPE_I64 uint64_t
#define VALUE_TYPE_S64 int64_t
#define VALUE_TYPE_F32 float
#define VALUE_TYPE_F64 double
#define IMM_I32(word) ((uint32_t)(word))
#define IMM_S32(word) ((int32_t)(word))
#define IMM_I64(word) ((uint64_t)(int64_t)(int32_t)(word))
#define IMM_S64(word) ((int64_t)(int32_t)(word))
#define PUT_U32(x) ((wasm_slot)(uint32_t)(x))
#define PUT_U64(x) ((wasm_slot)(x))
#define PUT_F32(x) cell_of_f32(x)
#define PUT_F64(x) cell_of_f64(x)

/* Operands and results. CELL(i) is the value of the cell named by code word pc[i];
 * IN(get, i) the same read as a value type; OUT(o, v) writes the result of the
 * instruction at offset o to its destination cell (pc[o]), and keeps it in `chain`:
 * in a chained pair (interp.c) the second instruction reads operand word
 * chain_word from there instead of through memory. Elsewhere chain_word is 0, no
 * operand word, so the test folds away. */
#define CELL(i) ((i) == chain_word ? chain : fp[pc[i]])
#define IN(get, i) VALUE_OF_##get(CELL(i))
#define OUT(o, value)                                                           \
    do {                                                                        \
        chain = (value);                                                        \
        fp[pc[o]] = chain;                                                      \
    } while (0)
#define VALUE_OF_I32(slot) ((uint32_t)(slot))
#define VALUE_OF_S32(slot) ((int32_t)(uint32_t)(slot))
#define VALUE_OF_I64(slot) ((uint64_t)(slot))
#define VALUE_OF_S64(slot) ((int64_t)(slot))
#define VALUE_OF_F32(slot) f32_of(slot)
#define VALUE_OF_F64(slot) f64_of(slot)

/* A trap in the instruction at offset o: point pc at its (virtual) start first. */
#define TRAP_AT(o, kind, message)                                               \
    do {                                                                        \
        pc += (o) - 1;                                                          \
        TRAP(kind, message);                                                    \
    } while (0)

/* dst = a op b, dst = a op imm, dst = op a */
#define BINARY(o, get, put, expr)                                               \
    do {                                                                        \
        VALUE_TYPE_##get a = IN(get, (o) + 1), b = IN(get, (o) + 2);            \
        OUT(o, put(expr));                                                      \
    } while (0)
#define BINARY_IMM(o, get, put, expr)                                           \
    do {                                                                        \
        VALUE_TYPE_##get a = IN(get, (o) + 1), b = IMM_##get(pc[(o) + 2]);      \
        OUT(o, put(expr));                                                      \
    } while (0)
#define UNARY(o, get, put, expr)                                                \
    do {                                                                        \
        VALUE_TYPE_##get a = IN(get, (o) + 1);                                  \
        OUT(o, put(expr));                                                      \
    } while (0)

#define SELECT(o)                                                               \
    do {                                                                        \
        wasm_slot a = CELL((o) + 1), b = CELL((o) + 2);                         \
        OUT(o, IN(I32, (o) + 3) ? a : b);                                       \
    } while (0)

/* Integer division: by zero traps, and so does the one signed overflow. */
#define DIV_S(o, get, put, min)                                                 \
    do {                                                                        \
        VALUE_TYPE_##get a = IN(get, (o) + 1), b = IN(get, (o) + 2);            \
        if (UNLIKELY(b == 0))                                                   \
            TRAP_AT(o, WASM_TRAP_INTEGER_DIVIDE_BY_ZERO, NULL);                 \
        if (UNLIKELY(a == (min) && b == -1))                                    \
            TRAP_AT(o, WASM_TRAP_INTEGER_OVERFLOW, NULL);                       \
        OUT(o, put(a / b));                                                     \
    } while (0)
#define REM_S(o, get, put)                                                      \
    do {                                                                        \
        VALUE_TYPE_##get a = IN(get, (o) + 1), b = IN(get, (o) + 2);            \
        if (UNLIKELY(b == 0))                                                   \
            TRAP_AT(o, WASM_TRAP_INTEGER_DIVIDE_BY_ZERO, NULL);                 \
        OUT(o, put(b == -1 ? 0 : a % b));                                       \
    } while (0)
#define DIV_U(o, get, put, expr)                                                \
    do {                                                                        \
        VALUE_TYPE_##get a = IN(get, (o) + 1), b = IN(get, (o) + 2);            \
        if (UNLIKELY(b == 0))                                                   \
            TRAP_AT(o, WASM_TRAP_INTEGER_DIVIDE_BY_ZERO, NULL);                 \
        OUT(o, put(expr));                                                      \
    } while (0)

/* Trapping float -> int conversion: NaN is invalid, out of range overflows. */
#define TRUNC(o, get, put, ctype, lo_ok, hi_ok)                                 \
    do {                                                                        \
        VALUE_TYPE_##get a = IN(get, (o) + 1);                                  \
        if (UNLIKELY(isnan(a)))                                                 \
            TRAP_AT(o, WASM_TRAP_INVALID_CONVERSION, NULL);                     \
        if (UNLIKELY(!((lo_ok) && (hi_ok))))                                    \
            TRAP_AT(o, WASM_TRAP_INTEGER_OVERFLOW, NULL);                       \
        OUT(o, put((ctype)a));                                                  \
    } while (0)

/* Memory: dst, addr, offset / addr, value, offset. The effective address is
 * computed in 64 bits, so addr + offset + size cannot wrap. */
#define LOAD(o, size, expr)                                                     \
    do {                                                                        \
        uint64_t ea = (uint64_t)IN(I32, (o) + 1) + pc[(o) + 2];                 \
        if (UNLIKELY(ea + (size) > mem_size))                                   \
            TRAP_AT(o, WASM_TRAP_MEMORY_OUT_OF_BOUNDS, NULL);                   \
        const uint8_t *at = mem + ea;                                           \
        OUT(o, (expr));                                                         \
    } while (0)
#define STORE(o, size, stmt)                                                    \
    do {                                                                        \
        uint64_t ea = (uint64_t)IN(I32, o) + pc[(o) + 2];                       \
        if (UNLIKELY(ea + (size) > mem_size))                                   \
            TRAP_AT(o, WASM_TRAP_MEMORY_OUT_OF_BOUNDS, NULL);                   \
        uint8_t *at = mem + ea;                                                 \
        wasm_slot v = CELL((o) + 1);                                            \
        stmt;                                                                   \
    } while (0)

/* Branches. A taken back edge (BACK) also runs the safe point of the loop header
 * it lands on; a forward one (FWD) just dispatches there. */
#define TAKEN_FWD() DISPATCH()
#define TAKEN_BACK() SAFE_POINT()
#define BR(o)                                                                   \
    do {                                                                        \
        pc += (o) - 1 + REL(pc[o]);                                             \
        DISPATCH();                                                             \
    } while (0)
#define BR_BACK(o)                                                              \
    do {                                                                        \
        pc += (o) - 1 + REL(pc[o]);                                             \
        SAFE_POINT();                                                           \
    } while (0)
#define BR_TEST(o, dir, get, cond)                                              \
    do {                                                                        \
        VALUE_TYPE_##get a = IN(get, o);                                        \
        if (cond) {                                                             \
            pc += (o) - 1 + REL(pc[(o) + 1]);                                   \
            TAKEN_##dir();                                                      \
        }                                                                       \
        NEXT((o) - 1 + 3);                                                      \
    } while (0)
#define BR_CMP(o, dir, get, cond)                                               \
    do {                                                                        \
        VALUE_TYPE_##get a = IN(get, o), b = IN(get, (o) + 1);                  \
        if (cond) {                                                             \
            pc += (o) - 1 + REL(pc[(o) + 2]);                                   \
            TAKEN_##dir();                                                      \
        }                                                                       \
        NEXT((o) - 1 + 4);                                                      \
    } while (0)
#define BR_CMP_IMM(o, dir, get, cond)                                           \
    do {                                                                        \
        VALUE_TYPE_##get a = IN(get, o), b = IMM_##get(pc[(o) + 1]);            \
        if (cond) {                                                             \
            pc += (o) - 1 + REL(pc[(o) + 2]);                                   \
            TAKEN_##dir();                                                      \
        }                                                                       \
        NEXT((o) - 1 + 4);                                                      \
    } while (0)

/* A call of a function of the same module, which runs the callee's entry safe
 * point itself (no dispatch to it); and the return of one value. Both end by
 * going elsewhere, like branches. */
#define CALL_DEFINED(o)                                                         \
    do {                                                                        \
        const struct wasm_code_compiled *callee = codes[pc[o]].compiled;        \
        wasm_slot *callee_fp = fp + pc[(o) + 1];                                \
        if (UNLIKELY(frame + 1 >= frames_end ||                                 \
                     callee->frame_cells > (size_t)(stack_end - callee_fp)))    \
            TRAP_AT(o, WASM_TRAP_STACK_EXHAUSTED, NULL);                        \
        frame->pc = pc + (o) - 1 + 3;                                           \
        frame++;                                                                \
        frame->code = callee;                                                   \
        frame->instance = frame[-1].instance;                                   \
        frame->fp = callee_fp;                                                  \
        wasm_frame_init(callee_fp, callee);                                     \
        fp = callee_fp;                                                         \
        pc = callee->code;                                                      \
        SAFE_POINT();                                                           \
    } while (0)
#define RETURN_ONE(o)                                                           \
    do {                                                                        \
        fp[0] = CELL(o);                                                        \
        goto do_return;                                                         \
    } while (0)

/* ------------------------------------------------------------ the bodies */

#define EXEC_copy(o) OUT(o, CELL((o) + 1))
#define EXEC_select(o) SELECT(o)
#define EXEC_global_get(o) OUT(o, globals[pc[(o) + 1]]->value)
#define EXEC_global_set(o) globals[pc[o]]->value = CELL((o) + 1)
#define EXEC_ref_is_null(o) OUT(o, CELL((o) + 1) == 0)
#define EXEC_load32(o) LOAD(o, 4, load_u32(at))
#define EXEC_load64(o) LOAD(o, 8, load_u64(at))
#define EXEC_load8_s32(o) LOAD(o, 1, (uint32_t)(int32_t)(int8_t)at[0])
#define EXEC_load8_u(o) LOAD(o, 1, at[0])
#define EXEC_load16_s32(o) LOAD(o, 2, (uint32_t)(int32_t)(int16_t)load_u16(at))
#define EXEC_load16_u(o) LOAD(o, 2, load_u16(at))
#define EXEC_load8_s64(o) LOAD(o, 1, (uint64_t)(int64_t)(int8_t)at[0])
#define EXEC_load16_s64(o) LOAD(o, 2, (uint64_t)(int64_t)(int16_t)load_u16(at))
#define EXEC_load32_s64(o) LOAD(o, 4, (uint64_t)(int64_t)(int32_t)load_u32(at))
#define EXEC_store8(o) STORE(o, 1, at[0] = (uint8_t)v)
#define EXEC_store16(o) STORE(o, 2, store_u16(at, (uint16_t)v))
#define EXEC_store32(o) STORE(o, 4, store_u32(at, (uint32_t)v))
#define EXEC_store64(o) STORE(o, 8, store_u64(at, v))
#define EXEC_i32_eqz(o) UNARY(o, I32, PUT_U32, a == 0)
#define EXEC_i32_eq(o) BINARY(o, I32, PUT_U32, a == b)
#define EXEC_i32_ne(o) BINARY(o, I32, PUT_U32, a != b)
#define EXEC_i32_lt_s(o) BINARY(o, S32, PUT_U32, a < b)
#define EXEC_i32_lt_u(o) BINARY(o, I32, PUT_U32, a < b)
#define EXEC_i32_gt_s(o) BINARY(o, S32, PUT_U32, a > b)
#define EXEC_i32_gt_u(o) BINARY(o, I32, PUT_U32, a > b)
#define EXEC_i32_le_s(o) BINARY(o, S32, PUT_U32, a <= b)
#define EXEC_i32_le_u(o) BINARY(o, I32, PUT_U32, a <= b)
#define EXEC_i32_ge_s(o) BINARY(o, S32, PUT_U32, a >= b)
#define EXEC_i32_ge_u(o) BINARY(o, I32, PUT_U32, a >= b)
#define EXEC_i64_eqz(o) UNARY(o, I64, PUT_U32, a == 0)
#define EXEC_i64_eq(o) BINARY(o, I64, PUT_U32, a == b)
#define EXEC_i64_ne(o) BINARY(o, I64, PUT_U32, a != b)
#define EXEC_i64_lt_s(o) BINARY(o, S64, PUT_U32, a < b)
#define EXEC_i64_lt_u(o) BINARY(o, I64, PUT_U32, a < b)
#define EXEC_i64_gt_s(o) BINARY(o, S64, PUT_U32, a > b)
#define EXEC_i64_gt_u(o) BINARY(o, I64, PUT_U32, a > b)
#define EXEC_i64_le_s(o) BINARY(o, S64, PUT_U32, a <= b)
#define EXEC_i64_le_u(o) BINARY(o, I64, PUT_U32, a <= b)
#define EXEC_i64_ge_s(o) BINARY(o, S64, PUT_U32, a >= b)
#define EXEC_i64_ge_u(o) BINARY(o, I64, PUT_U32, a >= b)
#define EXEC_f32_eq(o) BINARY(o, F32, PUT_U32, a == b)
#define EXEC_f32_ne(o) BINARY(o, F32, PUT_U32, a != b)
#define EXEC_f32_lt(o) BINARY(o, F32, PUT_U32, a < b)
#define EXEC_f32_gt(o) BINARY(o, F32, PUT_U32, a > b)
#define EXEC_f32_le(o) BINARY(o, F32, PUT_U32, a <= b)
#define EXEC_f32_ge(o) BINARY(o, F32, PUT_U32, a >= b)
#define EXEC_f64_eq(o) BINARY(o, F64, PUT_U32, a == b)
#define EXEC_f64_ne(o) BINARY(o, F64, PUT_U32, a != b)
#define EXEC_f64_lt(o) BINARY(o, F64, PUT_U32, a < b)
#define EXEC_f64_gt(o) BINARY(o, F64, PUT_U32, a > b)
#define EXEC_f64_le(o) BINARY(o, F64, PUT_U32, a <= b)
#define EXEC_f64_ge(o) BINARY(o, F64, PUT_U32, a >= b)
#define EXEC_i32_clz(o) UNARY(o, I32, PUT_U32, clz32(a))
#define EXEC_i32_ctz(o) UNARY(o, I32, PUT_U32, ctz32(a))
#define EXEC_i32_popcnt(o) UNARY(o, I32, PUT_U32, popcnt32(a))
#define EXEC_i64_clz(o) UNARY(o, I64, PUT_U64, clz64(a))
#define EXEC_i64_ctz(o) UNARY(o, I64, PUT_U64, ctz64(a))
#define EXEC_i64_popcnt(o) UNARY(o, I64, PUT_U64, popcnt64(a))
#define EXEC_i32_add(o) BINARY(o, I32, PUT_U32, a + b)
#define EXEC_i32_sub(o) BINARY(o, I32, PUT_U32, a - b)
#define EXEC_i32_mul(o) BINARY(o, I32, PUT_U32, a * b)
#define EXEC_i32_and(o) BINARY(o, I32, PUT_U32, a & b)
#define EXEC_i32_or(o) BINARY(o, I32, PUT_U32, a | b)
#define EXEC_i32_xor(o) BINARY(o, I32, PUT_U32, a ^ b)
#define EXEC_i32_shl(o) BINARY(o, I32, PUT_U32, a << (b & 31))
#define EXEC_i32_shr_s(o) BINARY(o, I32, PUT_U32, (uint32_t)((int32_t)a >> (b & 31)))
#define EXEC_i32_shr_u(o) BINARY(o, I32, PUT_U32, a >> (b & 31))
#define EXEC_i32_rotl(o) BINARY(o, I32, PUT_U32, rotl32(a, b))
#define EXEC_i32_rotr(o) BINARY(o, I32, PUT_U32, rotr32(a, b))
#define EXEC_i32_div_s(o) DIV_S(o, S32, PUT_U32, INT32_MIN)
#define EXEC_i32_div_u(o) DIV_U(o, I32, PUT_U32, a / b)
#define EXEC_i32_rem_s(o) REM_S(o, S32, PUT_U32)
#define EXEC_i32_rem_u(o) DIV_U(o, I32, PUT_U32, a % b)
#define EXEC_i32_add_imm(o) BINARY_IMM(o, I32, PUT_U32, a + b)
#define EXEC_i32_sub_imm(o) BINARY_IMM(o, I32, PUT_U32, a - b)
#define EXEC_i32_mul_imm(o) BINARY_IMM(o, I32, PUT_U32, a * b)
#define EXEC_i32_and_imm(o) BINARY_IMM(o, I32, PUT_U32, a & b)
#define EXEC_i32_or_imm(o) BINARY_IMM(o, I32, PUT_U32, a | b)
#define EXEC_i32_xor_imm(o) BINARY_IMM(o, I32, PUT_U32, a ^ b)
#define EXEC_i32_shl_imm(o) BINARY_IMM(o, I32, PUT_U32, a << (b & 31))
#define EXEC_i32_shr_s_imm(o) BINARY_IMM(o, I32, PUT_U32, (uint32_t)((int32_t)a >> (b & 31)))
#define EXEC_i32_shr_u_imm(o) BINARY_IMM(o, I32, PUT_U32, a >> (b & 31))
#define EXEC_i32_rotl_imm(o) BINARY_IMM(o, I32, PUT_U32, rotl32(a, b))
#define EXEC_i32_rotr_imm(o) BINARY_IMM(o, I32, PUT_U32, rotr32(a, b))
#define EXEC_i32_eq_imm(o) BINARY_IMM(o, I32, PUT_U32, a == b)
#define EXEC_i32_ne_imm(o) BINARY_IMM(o, I32, PUT_U32, a != b)
#define EXEC_i32_lt_s_imm(o) BINARY_IMM(o, S32, PUT_U32, a < b)
#define EXEC_i32_lt_u_imm(o) BINARY_IMM(o, I32, PUT_U32, a < b)
#define EXEC_i32_gt_s_imm(o) BINARY_IMM(o, S32, PUT_U32, a > b)
#define EXEC_i32_gt_u_imm(o) BINARY_IMM(o, I32, PUT_U32, a > b)
#define EXEC_i32_le_s_imm(o) BINARY_IMM(o, S32, PUT_U32, a <= b)
#define EXEC_i32_le_u_imm(o) BINARY_IMM(o, I32, PUT_U32, a <= b)
#define EXEC_i32_ge_s_imm(o) BINARY_IMM(o, S32, PUT_U32, a >= b)
#define EXEC_i32_ge_u_imm(o) BINARY_IMM(o, I32, PUT_U32, a >= b)
#define EXEC_i64_add(o) BINARY(o, I64, PUT_U64, a + b)
#define EXEC_i64_sub(o) BINARY(o, I64, PUT_U64, a - b)
#define EXEC_i64_mul(o) BINARY(o, I64, PUT_U64, a * b)
#define EXEC_i64_and(o) BINARY(o, I64, PUT_U64, a & b)
#define EXEC_i64_or(o) BINARY(o, I64, PUT_U64, a | b)
#define EXEC_i64_xor(o) BINARY(o, I64, PUT_U64, a ^ b)
#define EXEC_i64_shl(o) BINARY(o, I64, PUT_U64, a << (b & 63))
#define EXEC_i64_shr_s(o) BINARY(o, I64, PUT_U64, (uint64_t)((int64_t)a >> (b & 63)))
#define EXEC_i64_shr_u(o) BINARY(o, I64, PUT_U64, a >> (b & 63))
#define EXEC_i64_rotl(o) BINARY(o, I64, PUT_U64, rotl64(a, b))
#define EXEC_i64_rotr(o) BINARY(o, I64, PUT_U64, rotr64(a, b))
#define EXEC_i64_div_s(o) DIV_S(o, S64, PUT_U64, INT64_MIN)
#define EXEC_i64_div_u(o) DIV_U(o, I64, PUT_U64, a / b)
#define EXEC_i64_rem_s(o) REM_S(o, S64, PUT_U64)
#define EXEC_i64_rem_u(o) DIV_U(o, I64, PUT_U64, a % b)
#define EXEC_i64_add_imm(o) BINARY_IMM(o, I64, PUT_U64, a + b)
#define EXEC_i64_sub_imm(o) BINARY_IMM(o, I64, PUT_U64, a - b)
#define EXEC_i64_mul_imm(o) BINARY_IMM(o, I64, PUT_U64, a * b)
#define EXEC_i64_and_imm(o) BINARY_IMM(o, I64, PUT_U64, a & b)
#define EXEC_i64_or_imm(o) BINARY_IMM(o, I64, PUT_U64, a | b)
#define EXEC_i64_xor_imm(o) BINARY_IMM(o, I64, PUT_U64, a ^ b)
#define EXEC_i64_shl_imm(o) BINARY_IMM(o, I64, PUT_U64, a << (b & 63))
#define EXEC_i64_shr_s_imm(o) BINARY_IMM(o, I64, PUT_U64, (uint64_t)((int64_t)a >> (b & 63)))
#define EXEC_i64_shr_u_imm(o) BINARY_IMM(o, I64, PUT_U64, a >> (b & 63))
#define EXEC_i64_rotl_imm(o) BINARY_IMM(o, I64, PUT_U64, rotl64(a, b))
#define EXEC_i64_rotr_imm(o) BINARY_IMM(o, I64, PUT_U64, rotr64(a, b))
#define EXEC_f32_abs(o) UNARY(o, I32, PUT_U32, a & 0x7fffffffu)
#define EXEC_f32_neg(o) UNARY(o, I32, PUT_U32, a ^ 0x80000000u)
#define EXEC_f32_ceil(o) UNARY(o, F32, PUT_F32, isnan(a) ? a + a : ceilf(a))
#define EXEC_f32_floor(o) UNARY(o, F32, PUT_F32, isnan(a) ? a + a : floorf(a))
#define EXEC_f32_trunc(o) UNARY(o, F32, PUT_F32, isnan(a) ? a + a : truncf(a))
#define EXEC_f32_nearest(o) UNARY(o, F32, PUT_F32, isnan(a) ? a + a : rintf(a))
#define EXEC_f32_sqrt(o) UNARY(o, F32, PUT_F32, sqrtf(a))
#define EXEC_f32_add(o) BINARY(o, F32, PUT_F32, a + b)
#define EXEC_f32_sub(o) BINARY(o, F32, PUT_F32, a - b)
#define EXEC_f32_mul(o) BINARY(o, F32, PUT_F32, a * b)
#define EXEC_f32_div(o) BINARY(o, F32, PUT_F32, a / b)
#define EXEC_f32_min(o) BINARY(o, F32, PUT_F32, f32_min(a, b))
#define EXEC_f32_max(o) BINARY(o, F32, PUT_F32, f32_max(a, b))
#define EXEC_f32_copysign(o) BINARY(o, I32, PUT_U32, (a & 0x7fffffffu) | (b & 0x80000000u))
#define EXEC_f64_abs(o) UNARY(o, I64, PUT_U64, a & 0x7fffffffffffffffull)
#define EXEC_f64_neg(o) UNARY(o, I64, PUT_U64, a ^ 0x8000000000000000ull)
#define EXEC_f64_ceil(o) UNARY(o, F64, PUT_F64, isnan(a) ? a + a : ceil(a))
#define EXEC_f64_floor(o) UNARY(o, F64, PUT_F64, isnan(a) ? a + a : floor(a))
#define EXEC_f64_trunc(o) UNARY(o, F64, PUT_F64, isnan(a) ? a + a : trunc(a))
#define EXEC_f64_nearest(o) UNARY(o, F64, PUT_F64, isnan(a) ? a + a : rint(a))
#define EXEC_f64_sqrt(o) UNARY(o, F64, PUT_F64, sqrt(a))
#define EXEC_f64_add(o) BINARY(o, F64, PUT_F64, a + b)
#define EXEC_f64_sub(o) BINARY(o, F64, PUT_F64, a - b)
#define EXEC_f64_mul(o) BINARY(o, F64, PUT_F64, a * b)
#define EXEC_f64_div(o) BINARY(o, F64, PUT_F64, a / b)
#define EXEC_f64_min(o) BINARY(o, F64, PUT_F64, f64_min(a, b))
#define EXEC_f64_max(o) BINARY(o, F64, PUT_F64, f64_max(a, b))
#define EXEC_f64_copysign(o) \
    BINARY(o, I64, PUT_U64, (a & 0x7fffffffffffffffull) | (b & 0x8000000000000000ull))
#define EXEC_i32_wrap_i64(o) UNARY(o, I64, PUT_U32, (uint32_t)a)
#define EXEC_i32_trunc_f32_s(o) \
    TRUNC(o, F32, PUT_U32, int32_t,                                             \
          a >= -2147483648.0f, a < 2147483648.0f)
#define EXEC_i32_trunc_f32_u(o) TRUNC(o, F32, PUT_U32, uint32_t, a > -1.0f, a < 4294967296.0f)
#define EXEC_i32_trunc_f64_s(o) \
    TRUNC(o, F64, PUT_U32, int32_t,                                             \
          a > -2147483649.0, a < 2147483648.0)
#define EXEC_i32_trunc_f64_u(o) TRUNC(o, F64, PUT_U32, uint32_t, a > -1.0, a < 4294967296.0)
#define EXEC_i64_extend_i32_s(o) UNARY(o, S32, PUT_U64, (uint64_t)(int64_t)a)
#define EXEC_i64_trunc_f32_s(o) \
    TRUNC(o, F32, PUT_U64, int64_t,                                             \
          a >= -9223372036854775808.0f, a < 9223372036854775808.0f)
#define EXEC_i64_trunc_f32_u(o) \
    TRUNC(o, F32, PUT_U64, uint64_t,                                            \
          a > -1.0f, a < 18446744073709551616.0f)
#define EXEC_i64_trunc_f64_s(o) \
    TRUNC(o, F64, PUT_U64, int64_t,                                             \
          a >= -9223372036854775808.0, a < 9223372036854775808.0)
#define EXEC_i64_trunc_f64_u(o) \
    TRUNC(o, F64, PUT_U64, uint64_t,                                            \
          a > -1.0, a < 18446744073709551616.0)
#define EXEC_f32_convert_i32_s(o) UNARY(o, S32, PUT_F32, (float)a)
#define EXEC_f32_convert_i32_u(o) UNARY(o, I32, PUT_F32, (float)a)
#define EXEC_f32_convert_i64_s(o) UNARY(o, S64, PUT_F32, (float)a)
#define EXEC_f32_convert_i64_u(o) UNARY(o, I64, PUT_F32, (float)a)
#define EXEC_f32_demote_f64(o) UNARY(o, F64, PUT_F32, (float)a)
#define EXEC_f64_convert_i32_s(o) UNARY(o, S32, PUT_F64, (double)a)
#define EXEC_f64_convert_i32_u(o) UNARY(o, I32, PUT_F64, (double)a)
#define EXEC_f64_convert_i64_s(o) UNARY(o, S64, PUT_F64, (double)a)
#define EXEC_f64_convert_i64_u(o) UNARY(o, I64, PUT_F64, (double)a)
#define EXEC_f64_promote_f32(o) UNARY(o, F32, PUT_F64, (double)a)
#define EXEC_i32_extend8_s(o) UNARY(o, I32, PUT_U32, (uint32_t)(int32_t)(int8_t)(uint8_t)a)
#define EXEC_i32_extend16_s(o) UNARY(o, I32, PUT_U32, (uint32_t)(int32_t)(int16_t)(uint16_t)a)
#define EXEC_i64_extend8_s(o) UNARY(o, I64, PUT_U64, (uint64_t)(int64_t)(int8_t)(uint8_t)a)
#define EXEC_i64_extend16_s(o) UNARY(o, I64, PUT_U64, (uint64_t)(int64_t)(int16_t)(uint16_t)a)
#define EXEC_i64_extend32_s(o) UNARY(o, I64, PUT_U64, (uint64_t)(int64_t)(int32_t)(uint32_t)a)
#define EXEC_i32_trunc_sat_f32_s(o) UNARY(o, F32, PUT_U32, sat_i32_f64((double)a))
#define EXEC_i32_trunc_sat_f32_u(o) UNARY(o, F32, PUT_U32, sat_u32_f64((double)a))
#define EXEC_i32_trunc_sat_f64_s(o) UNARY(o, F64, PUT_U32, sat_i32_f64(a))
#define EXEC_i32_trunc_sat_f64_u(o) UNARY(o, F64, PUT_U32, sat_u32_f64(a))
#define EXEC_i64_trunc_sat_f32_s(o) UNARY(o, F32, PUT_U64, sat_i64_f64((double)a))
#define EXEC_i64_trunc_sat_f32_u(o) UNARY(o, F32, PUT_U64, sat_u64_f64((double)a))
#define EXEC_i64_trunc_sat_f64_s(o) UNARY(o, F64, PUT_U64, sat_i64_f64(a))
#define EXEC_i64_trunc_sat_f64_u(o) UNARY(o, F64, PUT_U64, sat_u64_f64(a))

#define EXEC_call(o) CALL_DEFINED(o)
#define EXEC_return1(o) RETURN_ONE(o)
#define EXEC_br(o) BR(o)
#define EXEC_br_back(o) BR_BACK(o)
#define EXEC_br_if_nez(o) BR_TEST(o, FWD, I32, a != 0)
#define EXEC_br_if_eqz(o) BR_TEST(o, FWD, I32, a == 0)
#define EXEC_br_if_i64_nez(o) BR_TEST(o, FWD, I64, a != 0)
#define EXEC_br_if_i64_eqz(o) BR_TEST(o, FWD, I64, a == 0)
#define EXEC_br_if_i32_eq(o) BR_CMP(o, FWD, I32, a == b)
#define EXEC_br_if_i32_ne(o) BR_CMP(o, FWD, I32, a != b)
#define EXEC_br_if_i32_lt_s(o) BR_CMP(o, FWD, S32, a < b)
#define EXEC_br_if_i32_lt_u(o) BR_CMP(o, FWD, I32, a < b)
#define EXEC_br_if_i32_gt_s(o) BR_CMP(o, FWD, S32, a > b)
#define EXEC_br_if_i32_gt_u(o) BR_CMP(o, FWD, I32, a > b)
#define EXEC_br_if_i32_le_s(o) BR_CMP(o, FWD, S32, a <= b)
#define EXEC_br_if_i32_le_u(o) BR_CMP(o, FWD, I32, a <= b)
#define EXEC_br_if_i32_ge_s(o) BR_CMP(o, FWD, S32, a >= b)
#define EXEC_br_if_i32_ge_u(o) BR_CMP(o, FWD, I32, a >= b)
#define EXEC_br_if_i64_eq(o) BR_CMP(o, FWD, I64, a == b)
#define EXEC_br_if_i64_ne(o) BR_CMP(o, FWD, I64, a != b)
#define EXEC_br_if_i64_lt_s(o) BR_CMP(o, FWD, S64, a < b)
#define EXEC_br_if_i64_lt_u(o) BR_CMP(o, FWD, I64, a < b)
#define EXEC_br_if_i64_gt_s(o) BR_CMP(o, FWD, S64, a > b)
#define EXEC_br_if_i64_gt_u(o) BR_CMP(o, FWD, I64, a > b)
#define EXEC_br_if_i64_le_s(o) BR_CMP(o, FWD, S64, a <= b)
#define EXEC_br_if_i64_le_u(o) BR_CMP(o, FWD, I64, a <= b)
#define EXEC_br_if_i64_ge_s(o) BR_CMP(o, FWD, S64, a >= b)
#define EXEC_br_if_i64_ge_u(o) BR_CMP(o, FWD, I64, a >= b)
#define EXEC_br_if_i32_eq_imm(o) BR_CMP_IMM(o, FWD, I32, a == b)
#define EXEC_br_if_i32_ne_imm(o) BR_CMP_IMM(o, FWD, I32, a != b)
#define EXEC_br_if_i32_lt_s_imm(o) BR_CMP_IMM(o, FWD, S32, a < b)
#define EXEC_br_if_i32_lt_u_imm(o) BR_CMP_IMM(o, FWD, I32, a < b)
#define EXEC_br_if_i32_gt_s_imm(o) BR_CMP_IMM(o, FWD, S32, a > b)
#define EXEC_br_if_i32_gt_u_imm(o) BR_CMP_IMM(o, FWD, I32, a > b)
#define EXEC_br_if_i32_le_s_imm(o) BR_CMP_IMM(o, FWD, S32, a <= b)
#define EXEC_br_if_i32_le_u_imm(o) BR_CMP_IMM(o, FWD, I32, a <= b)
#define EXEC_br_if_i32_ge_s_imm(o) BR_CMP_IMM(o, FWD, S32, a >= b)
#define EXEC_br_if_i32_ge_u_imm(o) BR_CMP_IMM(o, FWD, I32, a >= b)
#define EXEC_br_if_nez_back(o) BR_TEST(o, BACK, I32, a != 0)
#define EXEC_br_if_eqz_back(o) BR_TEST(o, BACK, I32, a == 0)
#define EXEC_br_if_i64_nez_back(o) BR_TEST(o, BACK, I64, a != 0)
#define EXEC_br_if_i64_eqz_back(o) BR_TEST(o, BACK, I64, a == 0)
#define EXEC_br_if_i32_eq_back(o) BR_CMP(o, BACK, I32, a == b)
#define EXEC_br_if_i32_ne_back(o) BR_CMP(o, BACK, I32, a != b)
#define EXEC_br_if_i32_lt_s_back(o) BR_CMP(o, BACK, S32, a < b)
#define EXEC_br_if_i32_lt_u_back(o) BR_CMP(o, BACK, I32, a < b)
#define EXEC_br_if_i32_gt_s_back(o) BR_CMP(o, BACK, S32, a > b)
#define EXEC_br_if_i32_gt_u_back(o) BR_CMP(o, BACK, I32, a > b)
#define EXEC_br_if_i32_le_s_back(o) BR_CMP(o, BACK, S32, a <= b)
#define EXEC_br_if_i32_le_u_back(o) BR_CMP(o, BACK, I32, a <= b)
#define EXEC_br_if_i32_ge_s_back(o) BR_CMP(o, BACK, S32, a >= b)
#define EXEC_br_if_i32_ge_u_back(o) BR_CMP(o, BACK, I32, a >= b)
#define EXEC_br_if_i64_eq_back(o) BR_CMP(o, BACK, I64, a == b)
#define EXEC_br_if_i64_ne_back(o) BR_CMP(o, BACK, I64, a != b)
#define EXEC_br_if_i64_lt_s_back(o) BR_CMP(o, BACK, S64, a < b)
#define EXEC_br_if_i64_lt_u_back(o) BR_CMP(o, BACK, I64, a < b)
#define EXEC_br_if_i64_gt_s_back(o) BR_CMP(o, BACK, S64, a > b)
#define EXEC_br_if_i64_gt_u_back(o) BR_CMP(o, BACK, I64, a > b)
#define EXEC_br_if_i64_le_s_back(o) BR_CMP(o, BACK, S64, a <= b)
#define EXEC_br_if_i64_le_u_back(o) BR_CMP(o, BACK, I64, a <= b)
#define EXEC_br_if_i64_ge_s_back(o) BR_CMP(o, BACK, S64, a >= b)
#define EXEC_br_if_i64_ge_u_back(o) BR_CMP(o, BACK, I64, a >= b)
#define EXEC_br_if_i32_eq_imm_back(o) BR_CMP_IMM(o, BACK, I32, a == b)
#define EXEC_br_if_i32_ne_imm_back(o) BR_CMP_IMM(o, BACK, I32, a != b)
#define EXEC_br_if_i32_lt_s_imm_back(o) BR_CMP_IMM(o, BACK, S32, a < b)
#define EXEC_br_if_i32_lt_u_imm_back(o) BR_CMP_IMM(o, BACK, I32, a < b)
#define EXEC_br_if_i32_gt_s_imm_back(o) BR_CMP_IMM(o, BACK, S32, a > b)
#define EXEC_br_if_i32_gt_u_imm_back(o) BR_CMP_IMM(o, BACK, I32, a > b)
#define EXEC_br_if_i32_le_s_imm_back(o) BR_CMP_IMM(o, BACK, S32, a <= b)
#define EXEC_br_if_i32_le_u_imm_back(o) BR_CMP_IMM(o, BACK, I32, a <= b)
#define EXEC_br_if_i32_ge_s_imm_back(o) BR_CMP_IMM(o, BACK, S32, a >= b)
#define EXEC_br_if_i32_ge_u_imm_back(o) BR_CMP_IMM(o, BACK, I32, a >= b)

/* Every instruction with a body, with its length in words (handler included). */
#define WASM_INTERP_SIMPLE_OPS(X) \
    X(copy, 3) X(select, 5) X(global_get, 3) X(global_set, 3) X(ref_is_null, 3) \
    X(load32, 4) X(load64, 4) X(load8_s32, 4) X(load8_u, 4) X(load16_s32, 4) \
    X(load16_u, 4) X(load8_s64, 4) X(load16_s64, 4) X(load32_s64, 4) X(store8, 4) \
    X(store16, 4) X(store32, 4) X(store64, 4) X(i32_eqz, 3) X(i32_eq, 4) X(i32_ne, 4) \
    X(i32_lt_s, 4) X(i32_lt_u, 4) X(i32_gt_s, 4) X(i32_gt_u, 4) X(i32_le_s, 4) \
    X(i32_le_u, 4) X(i32_ge_s, 4) X(i32_ge_u, 4) X(i64_eqz, 3) X(i64_eq, 4) X(i64_ne, 4) \
    X(i64_lt_s, 4) X(i64_lt_u, 4) X(i64_gt_s, 4) X(i64_gt_u, 4) X(i64_le_s, 4) \
    X(i64_le_u, 4) X(i64_ge_s, 4) X(i64_ge_u, 4) X(f32_eq, 4) X(f32_ne, 4) X(f32_lt, 4) \
    X(f32_gt, 4) X(f32_le, 4) X(f32_ge, 4) X(f64_eq, 4) X(f64_ne, 4) X(f64_lt, 4) \
    X(f64_gt, 4) X(f64_le, 4) X(f64_ge, 4) X(i32_clz, 3) X(i32_ctz, 3) X(i32_popcnt, 3) \
    X(i64_clz, 3) X(i64_ctz, 3) X(i64_popcnt, 3) X(i32_add, 4) X(i32_sub, 4) X(i32_mul, 4) \
    X(i32_and, 4) X(i32_or, 4) X(i32_xor, 4) X(i32_shl, 4) X(i32_shr_s, 4) X(i32_shr_u, 4) \
    X(i32_rotl, 4) X(i32_rotr, 4) X(i32_div_s, 4) X(i32_div_u, 4) X(i32_rem_s, 4) \
    X(i32_rem_u, 4) X(i32_add_imm, 4) X(i32_sub_imm, 4) X(i32_mul_imm, 4) \
    X(i32_and_imm, 4) X(i32_or_imm, 4) X(i32_xor_imm, 4) X(i32_shl_imm, 4) \
    X(i32_shr_s_imm, 4) X(i32_shr_u_imm, 4) X(i32_rotl_imm, 4) X(i32_rotr_imm, 4) \
    X(i32_eq_imm, 4) X(i32_ne_imm, 4) X(i32_lt_s_imm, 4) X(i32_lt_u_imm, 4) \
    X(i32_gt_s_imm, 4) X(i32_gt_u_imm, 4) X(i32_le_s_imm, 4) X(i32_le_u_imm, 4) \
    X(i32_ge_s_imm, 4) X(i32_ge_u_imm, 4) X(i64_add, 4) X(i64_sub, 4) X(i64_mul, 4) \
    X(i64_and, 4) X(i64_or, 4) X(i64_xor, 4) X(i64_shl, 4) X(i64_shr_s, 4) X(i64_shr_u, 4) \
    X(i64_rotl, 4) X(i64_rotr, 4) X(i64_div_s, 4) X(i64_div_u, 4) X(i64_rem_s, 4) \
    X(i64_rem_u, 4) X(i64_add_imm, 4) X(i64_sub_imm, 4) X(i64_mul_imm, 4) \
    X(i64_and_imm, 4) X(i64_or_imm, 4) X(i64_xor_imm, 4) X(i64_shl_imm, 4) \
    X(i64_shr_s_imm, 4) X(i64_shr_u_imm, 4) X(i64_rotl_imm, 4) X(i64_rotr_imm, 4) \
    X(f32_abs, 3) X(f32_neg, 3) X(f32_ceil, 3) X(f32_floor, 3) X(f32_trunc, 3) \
    X(f32_nearest, 3) X(f32_sqrt, 3) X(f32_add, 4) X(f32_sub, 4) X(f32_mul, 4) \
    X(f32_div, 4) X(f32_min, 4) X(f32_max, 4) X(f32_copysign, 4) X(f64_abs, 3) \
    X(f64_neg, 3) X(f64_ceil, 3) X(f64_floor, 3) X(f64_trunc, 3) X(f64_nearest, 3) \
    X(f64_sqrt, 3) X(f64_add, 4) X(f64_sub, 4) X(f64_mul, 4) X(f64_div, 4) X(f64_min, 4) \
    X(f64_max, 4) X(f64_copysign, 4) X(i32_wrap_i64, 3) X(i32_trunc_f32_s, 3) \
    X(i32_trunc_f32_u, 3) X(i32_trunc_f64_s, 3) X(i32_trunc_f64_u, 3) \
    X(i64_extend_i32_s, 3) X(i64_trunc_f32_s, 3) X(i64_trunc_f32_u, 3) \
    X(i64_trunc_f64_s, 3) X(i64_trunc_f64_u, 3) X(f32_convert_i32_s, 3) \
    X(f32_convert_i32_u, 3) X(f32_convert_i64_s, 3) X(f32_convert_i64_u, 3) \
    X(f32_demote_f64, 3) X(f64_convert_i32_s, 3) X(f64_convert_i32_u, 3) \
    X(f64_convert_i64_s, 3) X(f64_convert_i64_u, 3) X(f64_promote_f32, 3) \
    X(i32_extend8_s, 3) X(i32_extend16_s, 3) X(i64_extend8_s, 3) X(i64_extend16_s, 3) \
    X(i64_extend32_s, 3) X(i32_trunc_sat_f32_s, 3) X(i32_trunc_sat_f32_u, 3) \
    X(i32_trunc_sat_f64_s, 3) X(i32_trunc_sat_f64_u, 3) X(i64_trunc_sat_f32_s, 3) \
    X(i64_trunc_sat_f32_u, 3) X(i64_trunc_sat_f64_s, 3) X(i64_trunc_sat_f64_u, 3)

#define WASM_INTERP_BRANCH_OPS(X) \
    X(call, 3) X(return1, 2) \
    X(br, 2) X(br_back, 2) X(br_if_nez, 3) X(br_if_eqz, 3) X(br_if_i64_nez, 3) \
    X(br_if_i64_eqz, 3) X(br_if_i32_eq, 4) X(br_if_i32_ne, 4) X(br_if_i32_lt_s, 4) \
    X(br_if_i32_lt_u, 4) X(br_if_i32_gt_s, 4) X(br_if_i32_gt_u, 4) X(br_if_i32_le_s, 4) \
    X(br_if_i32_le_u, 4) X(br_if_i32_ge_s, 4) X(br_if_i32_ge_u, 4) X(br_if_i64_eq, 4) \
    X(br_if_i64_ne, 4) X(br_if_i64_lt_s, 4) X(br_if_i64_lt_u, 4) X(br_if_i64_gt_s, 4) \
    X(br_if_i64_gt_u, 4) X(br_if_i64_le_s, 4) X(br_if_i64_le_u, 4) X(br_if_i64_ge_s, 4) \
    X(br_if_i64_ge_u, 4) X(br_if_i32_eq_imm, 4) X(br_if_i32_ne_imm, 4) \
    X(br_if_i32_lt_s_imm, 4) X(br_if_i32_lt_u_imm, 4) X(br_if_i32_gt_s_imm, 4) \
    X(br_if_i32_gt_u_imm, 4) X(br_if_i32_le_s_imm, 4) X(br_if_i32_le_u_imm, 4) \
    X(br_if_i32_ge_s_imm, 4) X(br_if_i32_ge_u_imm, 4) X(br_if_nez_back, 3) \
    X(br_if_eqz_back, 3) X(br_if_i64_nez_back, 3) X(br_if_i64_eqz_back, 3) \
    X(br_if_i32_eq_back, 4) X(br_if_i32_ne_back, 4) X(br_if_i32_lt_s_back, 4) \
    X(br_if_i32_lt_u_back, 4) X(br_if_i32_gt_s_back, 4) X(br_if_i32_gt_u_back, 4) \
    X(br_if_i32_le_s_back, 4) X(br_if_i32_le_u_back, 4) X(br_if_i32_ge_s_back, 4) \
    X(br_if_i32_ge_u_back, 4) X(br_if_i64_eq_back, 4) X(br_if_i64_ne_back, 4) \
    X(br_if_i64_lt_s_back, 4) X(br_if_i64_lt_u_back, 4) X(br_if_i64_gt_s_back, 4) \
    X(br_if_i64_gt_u_back, 4) X(br_if_i64_le_s_back, 4) X(br_if_i64_le_u_back, 4) \
    X(br_if_i64_ge_s_back, 4) X(br_if_i64_ge_u_back, 4) X(br_if_i32_eq_imm_back, 4) \
    X(br_if_i32_ne_imm_back, 4) X(br_if_i32_lt_s_imm_back, 4) \
    X(br_if_i32_lt_u_imm_back, 4) X(br_if_i32_gt_s_imm_back, 4) \
    X(br_if_i32_gt_u_imm_back, 4) X(br_if_i32_le_s_imm_back, 4) \
    X(br_if_i32_le_u_imm_back, 4) X(br_if_i32_ge_s_imm_back, 4) \
    X(br_if_i32_ge_u_imm_back, 4)

#endif
