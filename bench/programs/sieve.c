/*
 * sieve — the sieve of Eratosthenes over a byte array, several rounds.
 *
 * Tight loops of byte loads and stores with a stride: measures memory access
 * (bounds handling, address arithmetic) and loop branches. Each round uses a
 * slightly different limit so no round can be skipped as a repeat of another.
 *
 * usage: sieve [LIMIT]   (default 4000000; 12 rounds)
 */
#include "bench_common.h"

#define ROUNDS 12

/* Marks composites in flags[0..limit] and folds every prime found into hash. */
static uint64_t sieve_round(uint8_t *flags, uint32_t limit, uint32_t *prime_count)
{
    memset(flags, 1, (size_t)limit + 1);
    flags[0] = flags[1] = 0;
    for (uint32_t p = 2; (uint64_t)p * p <= limit; p++) {
        if (!flags[p])
            continue;
        for (uint32_t multiple = p * p; multiple <= limit; multiple += p)
            flags[multiple] = 0;
    }

    uint64_t hash = BENCH_HASH_SEED;
    uint32_t count = 0;
    for (uint32_t i = 2; i <= limit; i++) {
        if (flags[i]) {
            count++;
            hash = (hash ^ i) * UINT64_C(0x100000001b3);
        }
    }
    *prime_count = count;
    return hash;
}

int main(int argc, char **argv)
{
    uint32_t limit = bench_size_arg(argc, argv, 4000000);
    uint8_t *flags = malloc((size_t)limit + 1);
    if (!flags) {
        fprintf(stderr, "sieve: cannot allocate %" PRIu32 " bytes\n", limit + 1);
        return 1;
    }

    uint64_t checksum = BENCH_HASH_SEED;
    uint32_t count = 0, round_limit = limit;
    for (uint32_t round = 0; round < ROUNDS; round++) {
        round_limit = limit > round ? limit - round : limit;
        checksum = bench_hash_u64(checksum, sieve_round(flags, round_limit, &count));
        checksum = bench_hash_u64(checksum, count);
    }
    printf("primes <= %" PRIu32 ": %" PRIu32 "\n", round_limit, count);
    bench_print_checksum(checksum);
    free(flags);
    return 0;
}
