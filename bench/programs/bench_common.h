/*
 * bench_common.h — what every benchmark program shares.
 *
 * Each program is built twice from the same source (gcc -O2 natively, clang-14
 * --target=wasm32-wasi -O2) and prints one line "checksum: <hex>" that must be
 * identical in both builds, so that a faster run can never be a wrong run.
 * Sizes come from argv (with a default) so the compiler cannot fold the work
 * away at build time, and so a quick smoke run can use a smaller size.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

/* clang marks a*b+c as contractable and, when it folds such an expression at
 * build time, rounds it once as a fused multiply-add, while the same expression
 * evaluated at run time (no FMA in wasm32 or baseline x86-64) rounds twice; gcc
 * never contracts without FMA hardware. Forbidding contraction keeps doubles
 * bit-identical across the two builds. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* argv[1] as a positive size, or fallback when absent; a bad argument exits
 * rather than silently benchmarking a different workload. */
static inline uint32_t bench_size_arg(int argc, char **argv, uint32_t fallback)
{
    if (argc < 2)
        return fallback;
    char *end = NULL;
    unsigned long value = strtoul(argv[1], &end, 10);
    if (end == argv[1] || *end != '\0' || value == 0 || value > 0x7fffffffUL) {
        fprintf(stderr, "%s: size must be a positive integer, got \"%s\"\n", argv[0], argv[1]);
        exit(2);
    }
    return (uint32_t)value;
}

/* FNV-1a over the 8 bytes of a 64-bit word: a cheap, order-sensitive way to
 * fold many results (including the bit patterns of doubles) into one value. */
static inline uint64_t bench_hash_u64(uint64_t hash, uint64_t word)
{
    for (int i = 0; i < 8; i++) {
        hash ^= (word >> (8 * i)) & 0xffu;
        hash *= UINT64_C(0x100000001b3);
    }
    return hash;
}

#define BENCH_HASH_SEED UINT64_C(0xcbf29ce484222325)

/* Doubles are hashed by their bit pattern: native and wasm must agree to the
 * last bit, which IEEE 754 guarantees for + - * / and sqrt. */
static inline uint64_t bench_hash_double(uint64_t hash, double value)
{
    uint64_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bench_hash_u64(hash, bits);
}

static inline void bench_print_checksum(uint64_t checksum)
{
    printf("checksum: %016" PRIx64 "\n", checksum);
}

#endif
