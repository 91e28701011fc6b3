/*
 * compute.c — a long, deterministic computation: run(iterations) stirs a 4 KiB
 * table in linear memory with a 64-bit mixing function and returns a checksum.
 * The same input always gives the same checksum, so a run that was suspended,
 * snapshotted and resumed elsewhere can be checked against one that was not.
 *
 *   liquid run --invoke run compute.wasm 1000000     (export)
 *   liquid run compute.wasm 1000000                  (command: prints the checksum)
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define TABLE_WORDS 512

static uint64_t table[TABLE_WORDS];

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= UINT64_C(0x7fb5d329728ea185);
    x ^= x >> 27;
    x *= UINT64_C(0x81dadef4bc2dd44d);
    x ^= x >> 33;
    return x;
}

__attribute__((export_name("run"))) uint64_t run(uint64_t iterations)
{
    for (uint32_t i = 0; i < TABLE_WORDS; i++)
        table[i] = mix(i + 1);
    uint64_t state = UINT64_C(0x243f6a8885a308d3);
    for (uint64_t n = 0; n < iterations; n++) {
        uint32_t slot = (uint32_t)(state % TABLE_WORDS);
        state = mix(state ^ table[slot] ^ n);
        table[slot] = state;
    }
    uint64_t checksum = 0;
    for (uint32_t i = 0; i < TABLE_WORDS; i++)
        checksum = mix(checksum ^ table[i]);
    return checksum;
}

int main(int argc, char **argv)
{
    uint64_t iterations = argc > 1 ? strtoull(argv[1], NULL, 0) : 1000000;
    printf("%" PRIu64 "\n", run(iterations));
    return 0;
}
