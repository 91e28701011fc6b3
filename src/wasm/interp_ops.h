/*
 * interp_ops.h — the instruction set of the compiled form, as one X-macro list.
 *
 * Each instruction is a handler word followed by 32-bit operand words. Operands
 * named "cell" are indices into the frame (fp[cell]); "rel" is a signed jump
 * distance in words from the first word of the instruction. The compiler
 * (compile.c) emits these layouts and the interpreter (interp.c) reads them; the
 * comment after each entry is the contract between the two.
 */
#ifndef LIQUID_WASM_INTERP_OPS_H
#define LIQUID_WASM_INTERP_OPS_H

#define WASM_INTERP_OPS(X)                                                                \
    /* control */                                                                         \
    X(unreachable)          /* */                                                         \
    X(entry)                /* cost: function entry safe point */                         \
    X(loop)                 /* cost: loop header safe point */                            \
    X(br)                   /* rel */                                                     \
    X(br_if_nez)            /* cond, rel: jump if i32 cond != 0 */                        \
    X(br_if_eqz)            /* cond, rel */                                               \
    X(br_if_i64_nez)        /* cond, rel */                                               \
    X(br_if_i64_eqz)        /* cond, rel */                                               \
    X(br_if_i32_eq) X(br_if_i32_ne) X(br_if_i32_lt_s) X(br_if_i32_lt_u)                   \
    X(br_if_i32_gt_s) X(br_if_i32_gt_u) X(br_if_i32_le_s) X(br_if_i32_le_u)               \
    X(br_if_i32_ge_s) X(br_if_i32_ge_u)  /* a, b, rel */                                  \
    X(br_if_i64_eq) X(br_if_i64_ne) X(br_if_i64_lt_s) X(br_if_i64_lt_u)                   \
    X(br_if_i64_gt_s) X(br_if_i64_gt_u) X(br_if_i64_le_s) X(br_if_i64_le_u)               \
    X(br_if_i64_ge_s) X(br_if_i64_ge_u)  /* a, b, rel */                                  \
    X(br_table)             /* index cell, n, rel[n + 1] (the last is the default) */     \
    X(call)                 /* defined function index, arg cell */                       \
    X(call_import)          /* function index, arg cell */                                \
    X(call_indirect)        /* type index, table index, element cell, arg cell */        \
    X(return0)              /* */                                                         \
    X(return1)              /* src */                                                     \
    X(return_n)             /* n, src[n] */                                               \
    X(copy)                 /* dst, src */                                                \
    X(select)               /* dst, a, b, cond */                                         \
    X(global_get)           /* dst, global index */                                       \
    X(global_set)           /* global index, src */                                       \
    /* memory: loads are dst, addr, offset; stores are addr, value, offset */             \
    X(load32) X(load64) X(load8_s32) X(load8_u) X(load16_s32) X(load16_u)                 \
    X(load8_s64) X(load16_s64) X(load32_s64)                                              \
    X(store8) X(store16) X(store32) X(store64)                                            \
    X(memory_size)          /* dst */                                                     \
    X(memory_grow)          /* dst, delta */                                              \
    X(memory_fill)          /* dst addr, value, n */                                      \
    X(memory_copy)          /* dst addr, src addr, n */                                   \
    X(memory_init)          /* segment, dst addr, src offset, n */                        \
    X(data_drop)            /* segment */                                                 \
    /* tables and references */                                                           \
    X(table_get)            /* dst, index, table */                                       \
    X(table_set)            /* table, index, value */                                     \
    X(table_size)           /* dst, table */                                              \
    X(table_grow)           /* dst, init, n, table */                                     \
    X(table_fill)           /* table, index, value, n */                                  \
    X(table_copy)           /* dst table, src table, dst, src, n */                       \
    X(table_init)           /* segment, table, dst, src, n */                             \
    X(elem_drop)            /* segment */                                                 \
    X(ref_func)             /* dst, function index */                                     \
    X(ref_is_null)          /* dst, a */                                                  \
    /* numeric: unary ops are dst, a; binary ops are dst, a, b */                         \
    X(i32_eqz) X(i32_eq) X(i32_ne) X(i32_lt_s) X(i32_lt_u) X(i32_gt_s) X(i32_gt_u)        \
    X(i32_le_s) X(i32_le_u) X(i32_ge_s) X(i32_ge_u)                                       \
    X(i64_eqz) X(i64_eq) X(i64_ne) X(i64_lt_s) X(i64_lt_u) X(i64_gt_s) X(i64_gt_u)        \
    X(i64_le_s) X(i64_le_u) X(i64_ge_s) X(i64_ge_u)                                       \
    X(f32_eq) X(f32_ne) X(f32_lt) X(f32_gt) X(f32_le) X(f32_ge)                           \
    X(f64_eq) X(f64_ne) X(f64_lt) X(f64_gt) X(f64_le) X(f64_ge)                           \
    X(i32_clz) X(i32_ctz) X(i32_popcnt) X(i32_add) X(i32_sub) X(i32_mul) X(i32_div_s)     \
    X(i32_div_u) X(i32_rem_s) X(i32_rem_u) X(i32_and) X(i32_or) X(i32_xor) X(i32_shl)     \
    X(i32_shr_s) X(i32_shr_u) X(i32_rotl) X(i32_rotr)                                     \
    X(i64_clz) X(i64_ctz) X(i64_popcnt) X(i64_add) X(i64_sub) X(i64_mul) X(i64_div_s)     \
    X(i64_div_u) X(i64_rem_s) X(i64_rem_u) X(i64_and) X(i64_or) X(i64_xor) X(i64_shl)     \
    X(i64_shr_s) X(i64_shr_u) X(i64_rotl) X(i64_rotr)                                     \
    X(f32_abs) X(f32_neg) X(f32_ceil) X(f32_floor) X(f32_trunc) X(f32_nearest)            \
    X(f32_sqrt) X(f32_add) X(f32_sub) X(f32_mul) X(f32_div) X(f32_min) X(f32_max)         \
    X(f32_copysign)                                                                       \
    X(f64_abs) X(f64_neg) X(f64_ceil) X(f64_floor) X(f64_trunc) X(f64_nearest)            \
    X(f64_sqrt) X(f64_add) X(f64_sub) X(f64_mul) X(f64_div) X(f64_min) X(f64_max)         \
    X(f64_copysign)                                                                       \
    X(i32_wrap_i64) X(i32_trunc_f32_s) X(i32_trunc_f32_u) X(i32_trunc_f64_s)              \
    X(i32_trunc_f64_u) X(i64_extend_i32_s) X(i64_trunc_f32_s) X(i64_trunc_f32_u)          \
    X(i64_trunc_f64_s) X(i64_trunc_f64_u) X(f32_convert_i32_s) X(f32_convert_i32_u)       \
    X(f32_convert_i64_s) X(f32_convert_i64_u) X(f32_demote_f64) X(f64_convert_i32_s)      \
    X(f64_convert_i32_u) X(f64_convert_i64_s) X(f64_convert_i64_u) X(f64_promote_f32)     \
    X(i32_extend8_s) X(i32_extend16_s) X(i64_extend8_s) X(i64_extend16_s)                 \
    X(i64_extend32_s)                                                                     \
    X(i32_trunc_sat_f32_s) X(i32_trunc_sat_f32_u) X(i32_trunc_sat_f64_s)                  \
    X(i32_trunc_sat_f64_u) X(i64_trunc_sat_f32_s) X(i64_trunc_sat_f32_u)                  \
    X(i64_trunc_sat_f64_s) X(i64_trunc_sat_f64_u)                                         \
    /* a constant right operand as an immediate: dst, a, imm (i64: sign-extended) */      \
    X(i32_add_imm) X(i32_sub_imm) X(i32_mul_imm) X(i32_and_imm) X(i32_or_imm)             \
    X(i32_xor_imm) X(i32_shl_imm) X(i32_shr_s_imm) X(i32_shr_u_imm) X(i32_rotl_imm)       \
    X(i32_rotr_imm)                                                                       \
    X(i32_eq_imm) X(i32_ne_imm) X(i32_lt_s_imm) X(i32_lt_u_imm) X(i32_gt_s_imm)           \
    X(i32_gt_u_imm) X(i32_le_s_imm) X(i32_le_u_imm) X(i32_ge_s_imm) X(i32_ge_u_imm)       \
    X(i64_add_imm) X(i64_sub_imm) X(i64_mul_imm) X(i64_and_imm) X(i64_or_imm)             \
    X(i64_xor_imm) X(i64_shl_imm) X(i64_shr_s_imm) X(i64_shr_u_imm) X(i64_rotl_imm)       \
    X(i64_rotr_imm)                                                                       \
    X(br_if_i32_eq_imm) X(br_if_i32_ne_imm) X(br_if_i32_lt_s_imm) X(br_if_i32_lt_u_imm)   \
    X(br_if_i32_gt_s_imm) X(br_if_i32_gt_u_imm) X(br_if_i32_le_s_imm)                     \
    X(br_if_i32_le_u_imm) X(br_if_i32_ge_s_imm) X(br_if_i32_ge_u_imm) /* a, imm, rel */   \
    /* back edges: the branch, when taken, also runs its target loop header's safe     */ \
    /* point (whose cost it reads there) and continues after the header               */ \
    X(br_back)                                                                            \
    X(br_if_nez_back) X(br_if_eqz_back) X(br_if_i64_nez_back) X(br_if_i64_eqz_back)       \
    X(br_if_i32_eq_back) X(br_if_i32_ne_back) X(br_if_i32_lt_s_back)                      \
    X(br_if_i32_lt_u_back) X(br_if_i32_gt_s_back) X(br_if_i32_gt_u_back)                  \
    X(br_if_i32_le_s_back) X(br_if_i32_le_u_back) X(br_if_i32_ge_s_back)                  \
    X(br_if_i32_ge_u_back)                                                                \
    X(br_if_i64_eq_back) X(br_if_i64_ne_back) X(br_if_i64_lt_s_back)                      \
    X(br_if_i64_lt_u_back) X(br_if_i64_gt_s_back) X(br_if_i64_gt_u_back)                  \
    X(br_if_i64_le_s_back) X(br_if_i64_le_u_back) X(br_if_i64_ge_s_back)                  \
    X(br_if_i64_ge_u_back)                                                                \
    X(br_if_i32_eq_imm_back) X(br_if_i32_ne_imm_back) X(br_if_i32_lt_s_imm_back)          \
    X(br_if_i32_lt_u_imm_back) X(br_if_i32_gt_s_imm_back) X(br_if_i32_gt_u_imm_back)      \
    X(br_if_i32_le_s_imm_back) X(br_if_i32_le_u_imm_back) X(br_if_i32_ge_s_imm_back)      \
    X(br_if_i32_ge_u_imm_back)

/* Superinstructions: pairs of consecutive instructions run by one handler, chosen
 * from the pairs most frequent in the benchmark programs (bench/programs). The
 * compiler fuses A then B when nothing jumps between them: it keeps A's words,
 * drops B's handler word and puts B's operands right after A's (see
 * interp_bodies.h for how B finds them). */
#define WASM_INTERP_PAIRS(X) \
    X(load64, f64_mul) X(i32_add, i32_add_imm) X(store64, i32_add_imm) \
    X(f64_mul, f64_add) X(f64_add, store64) X(i32_add_imm, load64) X(i32_add, i32_add) \
    X(i32_add_imm, i32_add_imm) X(copy, copy) X(store8, i32_add) \
    X(i32_add, br_if_i32_le_u_back) X(i32_add_imm, load32) \
    X(i32_add_imm, br_if_i32_gt_u_imm_back) X(i32_rotl_imm, i32_xor) X(load64, load64) \
    X(load64, i32_add_imm) X(i32_add_imm, br_if_i32_ne_back) \
    X(i32_rotl_imm, i32_rotl_imm) X(i64_xor, i64_mul) X(load8_u, select) \
    X(store64, load64) X(load64, f64_sub) X(f64_sub, store64) X(f64_mul, f64_sub) \
    X(i32_xor, i32_add) X(copy, br_back) X(store32, copy) X(i32_add_imm, load8_u) \
    X(copy, i32_add_imm) X(i32_xor, i32_rotl_imm) X(i32_xor, i32_and) \
    X(i32_and, i32_add) X(i32_add_imm, load16_u) X(load64, f64_add) \
    X(i32_add_imm, f64_mul) X(f64_sub, f64_mul) X(f64_mul, load64) X(f64_mul, f64_mul) \
    X(f64_add, f64_add) X(load32, i32_add) X(load32, i32_rotl_imm) X(load32, copy) \
    X(i32_xor, i32_shr_u_imm) X(i32_shr_u_imm, i32_xor) X(i32_shl_imm, i32_add) \
    X(i32_add, load32) X(i32_add, load8_u) X(i32_add, store32) X(i32_add_imm, store32) \
    X(i32_add_imm, i32_add) X(copy, i32_add) X(load32, store32) X(load32, br_if_eqz) \
    X(load32, br_if_nez) X(i32_and_imm, br_if_eqz) X(i32_and_imm, br_if_nez) \
    X(load8_u, br_if_eqz) X(load8_u, br_if_nez) X(i32_add_imm, br_if_i32_ne_imm_back) \
    X(i32_add_imm, copy) X(load32, load32) X(i32_and, i32_xor) \
    X(i32_add_imm, br_if_nez_back) X(copy, br_if_nez_back) \
    X(i32_add_imm, call) X(i32_add, call) X(copy, call) X(load32, call) \
    X(i32_add, return1) X(i32_add_imm, return1) X(copy, return1) X(load32, return1) \
    X(select, return1) X(i32_and_imm, return1) X(copy, br_if_i32_lt_u_imm) \
    X(i32_add_imm, br_if_i32_lt_u_back) X(i32_add_imm, br_if_i32_lt_s_back) \
    X(i32_add_imm, br_if_i32_lt_u_imm_back) X(i32_add_imm, br_if_i32_lt_s_imm_back) \
    X(i64_add_imm, br_if_i64_ne_back) X(load16_u, i32_mul) X(i32_mul, i32_add) \
    X(i32_mul_imm, i32_and_imm) X(load16_u, i32_shr_u_imm) X(i32_and_imm, i32_xor) \
    X(i32_shr_u_imm, i32_mul_imm) X(copy, br) X(i32_add, load16_u) \
    X(i32_and_imm, i32_shr_u_imm) X(i32_xor, i32_and_imm) X(load16_s32, i32_mul) \
    X(i32_add_imm, load16_s32) X(i32_mul, i32_add_imm) X(load8_u, i32_add_imm) \
    X(i32_shl_imm, load32) X(load32, i32_add_imm)

/* Chained pairs: a fused pair whose second instruction reads the first one's result
 * as its operand word k (counted from 0 after its handler word) takes that operand
 * from a register instead of through the frame, shortening the dependency chain.
 * The compiler picks this form when the words match; the pairs and operands are
 * the dependent ones most frequent in the benchmark programs. */
#define WASM_INTERP_CHAINS(X) \
    X(i32_add, br_if_i32_le_u_back, 0) X(i32_add, return1, 0) \
    X(i32_add_imm, br_if_i32_ne_back, 1) X(load64, f64_mul, 2) X(load64, f64_mul, 1) \
    X(f64_mul, f64_add, 2) X(f64_add, store64, 1) X(i64_xor, i64_mul, 1) \
    X(i32_add_imm, load64, 1) X(i32_add_imm, load32, 1) X(i32_add, i32_add, 1) \
    X(f64_sub, store64, 1) X(f64_sub, f64_mul, 1) X(f64_mul, f64_mul, 2) \
    X(load8_u, select, 3) X(i32_add_imm, load8_u, 1) X(load64, f64_sub, 2) \
    X(load64, f64_add, 2) X(f64_mul, f64_sub, 2) X(i32_xor, i32_and, 2) \
    X(i32_and, i32_xor, 2) X(i32_and, i32_add, 2) X(i32_add, load32, 1) \
    X(i32_add, store32, 1) X(load32, i32_rotl_imm, 1) X(i32_xor, i32_add, 1) \
    X(i32_shr_u_imm, i32_xor, 2) X(i32_rotl_imm, i32_xor, 2) X(i32_add, i32_add_imm, 1) \
    X(copy, i32_add_imm, 1) X(i32_add_imm, load16_u, 1) \
    X(i32_add_imm, br_if_i32_ne_imm_back, 0) X(i32_add_imm, br_if_i32_gt_u_imm_back, 0) \
    X(load32, i32_add, 1) X(load32, i32_add, 2) X(i32_add_imm, i32_add, 2) \
    X(i32_xor, i32_rotl_imm, 1)

enum wasm_interp_op {
#define WASM_INTERP_OP_ENUM(name) WASM_OP_##name,
    WASM_INTERP_OPS(WASM_INTERP_OP_ENUM)
#undef WASM_INTERP_OP_ENUM
#define WASM_INTERP_PAIR_ENUM(a, b) WASM_OP_##a##__##b,
    WASM_INTERP_PAIRS(WASM_INTERP_PAIR_ENUM)
#undef WASM_INTERP_PAIR_ENUM
#define WASM_INTERP_CHAIN_ENUM(a, b, k) WASM_OP_##a##__##b##__chain##k,
    WASM_INTERP_CHAINS(WASM_INTERP_CHAIN_ENUM)
#undef WASM_INTERP_CHAIN_ENUM
    WASM_OP_COUNT
};

#endif
