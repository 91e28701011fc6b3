/*
 * matmul — dense double-precision matrix multiply, C = A x B, then D = C x A.
 *
 * The i-k-j loop order streams rows of B and C, the cache-friendly order a C
 * programmer would write. It measures f64 loads, stores, multiplies and adds
 * in a triple loop. Note that gcc -O2 vectorizes the inner loop natively while
 * the wasm build has no SIMD, which widens this program's ratio to native.
 *
 * usage: matmul [N]   (default 600: two N x N products)
 */
#include "bench_common.h"

/* A small deterministic generator so both builds start from the same matrices.
 * Values are multiples of 1/64 in [-8, 8): exact in binary, yet varied. */
static uint32_t next_random(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state >> 8;
}

static void fill_matrix(double *m, uint32_t n, uint32_t *state)
{
    for (uint32_t i = 0; i < n * n; i++)
        m[i] = (double)(int32_t)(next_random(state) % 1024u) / 64.0 - 8.0;
}

/* out = left x right, all n x n, row-major. */
static void multiply(double *out, const double *left, const double *right, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        double *out_row = out + (size_t)i * n;
        for (uint32_t j = 0; j < n; j++)
            out_row[j] = 0.0;
        for (uint32_t k = 0; k < n; k++) {
            double scale = left[(size_t)i * n + k];
            const double *right_row = right + (size_t)k * n;
            for (uint32_t j = 0; j < n; j++)
                out_row[j] += scale * right_row[j];
        }
    }
}

int main(int argc, char **argv)
{
    uint32_t n = bench_size_arg(argc, argv, 600);
    if (n > 4096) {
        fprintf(stderr, "matmul: N must be at most 4096\n");
        return 2;
    }
    size_t cells = (size_t)n * n;
    double *a = malloc(cells * sizeof *a), *b = malloc(cells * sizeof *b);
    double *c = malloc(cells * sizeof *c), *d = malloc(cells * sizeof *d);
    if (!a || !b || !c || !d) {
        fprintf(stderr, "matmul: cannot allocate four %" PRIu32 "x%" PRIu32 " matrices\n", n, n);
        return 1;
    }

    uint32_t state = 20261122u;
    fill_matrix(a, n, &state);
    fill_matrix(b, n, &state);
    multiply(c, a, b, n);
    multiply(d, c, a, n);

    uint64_t checksum = BENCH_HASH_SEED;
    double trace = 0.0;
    for (size_t i = 0; i < cells; i++)
        checksum = bench_hash_double(checksum, d[i]);
    for (uint32_t i = 0; i < n; i++)
        trace += d[(size_t)i * n + i];
    printf("trace(A*B*A) = %.6e\n", trace);
    bench_print_checksum(checksum);
    free(a), free(b), free(c), free(d);
    return 0;
}
