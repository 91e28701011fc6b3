/*
 * fib — naive recursive Fibonacci.
 *
 * Almost nothing but calls, returns, compares and adds on small integers: it
 * measures what a Wasm call costs the engine (frame set-up, argument passing,
 * the return path), with no memory traffic to hide it.
 *
 * usage: fib [N]   (default 40)
 */
#include "bench_common.h"

static uint32_t fib(uint32_t n)
{
    if (n < 2)
        return n;
    return fib(n - 1) + fib(n - 2);
}

int main(int argc, char **argv)
{
    uint32_t n = bench_size_arg(argc, argv, 40);
    uint32_t result = fib(n);
    printf("fib(%" PRIu32 ") = %" PRIu32 "\n", n, result);
    bench_print_checksum(bench_hash_u64(BENCH_HASH_SEED, result));
    return 0;
}
