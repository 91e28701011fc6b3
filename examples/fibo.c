/*
 * fibo.c — the Wasm-IoT "fibo" module (wasmiot-api.md §7, §10): a reactor exporting
 * fibo(n), the n-th number of the sequence 1, 1, 2, 3, 5, 8, ... (so fibo(5) = 8 and
 * fibo(12) = 233, the reference trace's answer), and subtract(a, b).
 *
 *   liquid run --invoke fibo fibo.wasm 12       -> 233
 *   GET /{deployment}/modules/fibo/fibo?param0=12  (on a supervisor)
 *
 * No imports: it runs on any supervisor, WASI or not.
 */
// wasm-flags: -mexec-model=reactor
#include <stdint.h>

/* fibo(91) = 7540113804746346429 is the last term that fits in 64 bits. */
#define FIBO_MAX 91

/* fibo(n) for n in 0..91; 0 for a negative n (there is no such term) and -1 when
 * the answer would not fit in 64 bits. */
__attribute__((export_name("fibo"))) int64_t fibo(int64_t n)
{
    if (n < 0)
        return 0;
    if (n > FIBO_MAX)
        return -1;
    int64_t previous = 1, current = 1;
    for (int64_t i = 1; i < n; i++) {
        int64_t next = previous + current;
        previous = current;
        current = next;
    }
    return current;
}

__attribute__((export_name("subtract"))) int64_t subtract(int64_t a, int64_t b)
{
    return a - b;
}
