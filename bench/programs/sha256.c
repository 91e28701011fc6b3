/*
 * sha256 — SHA-256 (FIPS 180-4) of a generated buffer, chained over rounds.
 *
 * 32-bit rotates, shifts, xors and adds with a 64-entry message schedule: it
 * measures integer ALU throughput and local-variable traffic. Each round hashes
 * the buffer with the previous digest stamped into its head, so rounds cannot
 * be merged. A known-answer test runs first, so a broken build cannot report a
 * speed.
 *
 * usage: sha256 [KIB]   (default 1024 KiB buffer; 48 rounds)
 */
#include "bench_common.h"

#define ROUNDS 48

typedef struct sha256_state {
    uint32_t h[8];
    uint8_t block[64];
    uint32_t block_used;
    uint64_t total_bytes;
} sha256_state;

/* FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube
 * roots of the first 64 primes. */
static const uint32_t round_constants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t rotate_right(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

static uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void compress_block(uint32_t h[8], const uint8_t block[64])
{
    uint32_t schedule[64];
    for (int t = 0; t < 16; t++)
        schedule[t] = load_be32(block + 4 * t);
    for (int t = 16; t < 64; t++) {
        uint32_t w15 = schedule[t - 15], w2 = schedule[t - 2];
        uint32_t sigma0 = rotate_right(w15, 7) ^ rotate_right(w15, 18) ^ (w15 >> 3);
        uint32_t sigma1 = rotate_right(w2, 17) ^ rotate_right(w2, 19) ^ (w2 >> 10);
        schedule[t] = schedule[t - 16] + sigma0 + schedule[t - 7] + sigma1;
    }

    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    uint32_t e = h[4], f = h[5], g = h[6], k = h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t big_sigma1 = rotate_right(e, 6) ^ rotate_right(e, 11) ^ rotate_right(e, 25);
        uint32_t choose = (e & f) ^ (~e & g);
        uint32_t temp1 = k + big_sigma1 + choose + round_constants[t] + schedule[t];
        uint32_t big_sigma0 = rotate_right(a, 2) ^ rotate_right(a, 13) ^ rotate_right(a, 22);
        uint32_t majority = (a & b) ^ (a & c) ^ (b & c);
        uint32_t temp2 = big_sigma0 + majority;
        k = g, g = f, f = e, e = d + temp1;
        d = c, c = b, b = a, a = temp1 + temp2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d;
    h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

static void sha256_init(sha256_state *s)
{
    /* §5.3.3: the fractional parts of the square roots of the first 8 primes. */
    static const uint32_t initial[8] = {
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    };
    memcpy(s->h, initial, sizeof initial);
    s->block_used = 0;
    s->total_bytes = 0;
}

static void sha256_update(sha256_state *s, const uint8_t *data, size_t length)
{
    s->total_bytes += length;
    while (length > 0) {
        if (s->block_used == 0 && length >= 64) {
            compress_block(s->h, data);    /* whole blocks skip the copy */
            data += 64, length -= 64;
            continue;
        }
        size_t take = 64 - s->block_used;
        if (take > length)
            take = length;
        memcpy(s->block + s->block_used, data, take);
        s->block_used += (uint32_t)take, data += take, length -= take;
        if (s->block_used == 64) {
            compress_block(s->h, s->block);
            s->block_used = 0;
        }
    }
}

static void sha256_final(sha256_state *s, uint8_t digest[32])
{
    uint64_t bit_length = s->total_bytes * 8;
    uint8_t pad[72] = {0x80};
    size_t pad_length = (s->block_used < 56 ? 56 : 120) - s->block_used;
    for (int i = 0; i < 8; i++)
        pad[pad_length + i] = (uint8_t)(bit_length >> (56 - 8 * i));
    sha256_update(s, pad, pad_length + 8);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++)
            digest[4 * i + j] = (uint8_t)(s->h[i] >> (24 - 8 * j));
}

static void sha256_of(const uint8_t *data, size_t length, uint8_t digest[32])
{
    sha256_state s;
    sha256_init(&s);
    sha256_update(&s, data, length);
    sha256_final(&s, digest);
}

/* The FIPS 180-4 example "abc" and the two-block 56-byte example. */
static int known_answers_hold(void)
{
    static const char *const messages[2] = {
        "abc",
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
    };
    static const uint8_t expected_head[2][4] = {
        {0xba, 0x78, 0x16, 0xbf},
        {0x24, 0x8d, 0x6a, 0x61},
    };
    static const uint8_t expected_tail[2][4] = {
        {0xf2, 0x00, 0x15, 0xad},
        {0x19, 0xdb, 0x06, 0xc1},
    };
    for (int i = 0; i < 2; i++) {
        uint8_t digest[32];
        sha256_of((const uint8_t *)messages[i], strlen(messages[i]), digest);
        if (memcmp(digest, expected_head[i], 4) != 0 || memcmp(digest + 28, expected_tail[i], 4) != 0)
            return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    uint32_t kib = bench_size_arg(argc, argv, 1024);
    if (kib > 65536) {
        fprintf(stderr, "sha256: buffer must be at most 65536 KiB\n");
        return 2;
    }
    if (!known_answers_hold()) {
        fprintf(stderr, "sha256: known-answer test failed; this build computes SHA-256 wrongly\n");
        return 1;
    }

    size_t length = (size_t)kib * 1024;
    uint8_t *buffer = malloc(length);
    if (!buffer) {
        fprintf(stderr, "sha256: cannot allocate %" PRIu32 " KiB\n", kib);
        return 1;
    }
    uint32_t state = 0x9e3779b9u;
    for (size_t i = 0; i < length; i++) {
        state ^= state << 13, state ^= state >> 17, state ^= state << 5;
        buffer[i] = (uint8_t)state;
    }

    uint8_t digest[32] = {0};
    for (int round = 0; round < ROUNDS; round++) {
        memcpy(buffer, digest, sizeof digest);
        sha256_of(buffer, length - (size_t)round, digest);
    }

    uint64_t checksum = BENCH_HASH_SEED;
    printf("digest: ");
    for (int i = 0; i < 32; i++) {
        printf("%02x", digest[i]);
        checksum = bench_hash_u64(checksum, digest[i]);
    }
    printf("\n");
    bench_print_checksum(checksum);
    free(buffer);
    return 0;
}
