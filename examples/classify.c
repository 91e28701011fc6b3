/*
 * classify.c — the "inference" step of the demo pipeline camera -> grayscale ->
 * classify: classify() reads the execution mount result.pgm (the grayscale step's
 * output, an 8-bit binary PGM), computes three features of the picture and returns
 * the index of the nearest of a few fixed class centroids:
 *
 *   0 dark       little light, little detail
 *   1 bright     much light, little detail
 *   2 flat       mid-grey and even (fog, a wall)
 *   3 textured   many edges (foliage, stripes, text)
 *   4 contrasty  large light and dark areas side by side
 *
 *   liquid run --dir FRAMES::. --invoke classify classify.wasm   -> e.g. 3
 *
 * It is not a neural network, but it has the shape of one's last step: features in,
 * a class index out, the same answer for the same picture on every device (integer
 * arithmetic only). class_feature(i) returns feature i of the last picture classified,
 * so a caller can see why: 0 mean brightness, 1 contrast (standard deviation), 2 edge
 * density, each scaled to 0..255.
 *
 * On failure it returns a negative number and says why on stderr:
 *   -1 result.pgm cannot be read   -2 it is not an 8-bit binary PGM   -3 it is too large
 */
// wasm-flags: -mexec-model=reactor
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define INPUT "result.pgm"
#define MAX_PIXELS (16u << 20)
/* Neighbouring pixels further apart than this count as an edge. */
#define EDGE_STEP 24

enum { ERR_READ = -1, ERR_FORMAT = -2, ERR_SIZE = -3 };
enum { FEATURE_MEAN, FEATURE_CONTRAST, FEATURE_EDGES, FEATURE_COUNT };

/* Centroids in feature space (mean, contrast, edges), each 0..255. */
static const int32_t CENTROIDS[][FEATURE_COUNT] = {
    {45, 20, 10},     /* dark */
    {210, 20, 10},    /* bright */
    {128, 12, 4},     /* flat */
    {128, 50, 140},   /* textured */
    {128, 100, 40},   /* contrasty */
};
#define CLASS_COUNT ((int32_t)(sizeof CENTROIDS / sizeof CENTROIDS[0]))

static int32_t last_features[FEATURE_COUNT];

/* The next header number of a PGM (after whitespace and # comments), or -1. */
static long header_number(FILE *f)
{
    int c = fgetc(f);
    for (;;) {
        while (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            c = fgetc(f);
        if (c != '#')
            break;
        while (c != '\n' && c != EOF)
            c = fgetc(f);
    }
    if (c < '0' || c > '9')
        return -1;
    long value = 0;
    while (c >= '0' && c <= '9' && value < 100000000) {
        value = value * 10 + (c - '0');
        c = fgetc(f);
    }
    /* Exactly one whitespace byte ends the header's last number; we read it here. */
    return (c == ' ' || c == '\t' || c == '\r' || c == '\n') ? value : -1;
}

/* Reads result.pgm into a new buffer; the error code when it cannot. */
static int32_t read_pgm(uint8_t **pixels, long *width, long *height)
{
    FILE *f = fopen(INPUT, "rb");
    if (!f) {
        fprintf(stderr, "classify: cannot read " INPUT " (the grayscale step's output)\n");
        return ERR_READ;
    }
    int32_t status = 0;
    long maxval = 0;
    if (fgetc(f) != 'P' || fgetc(f) != '5' || (*width = header_number(f)) <= 0 ||
        (*height = header_number(f)) <= 0 || (maxval = header_number(f)) != 255) {
        fprintf(stderr, "classify: " INPUT " is not an 8-bit binary PGM (P5, maxval 255)\n");
        status = ERR_FORMAT;
    } else if ((uint64_t)*width * (uint64_t)*height > MAX_PIXELS) {
        fprintf(stderr, "classify: " INPUT " is %ldx%ld, larger than %u pixels\n", *width,
                *height, MAX_PIXELS);
        status = ERR_SIZE;
    } else {
        size_t count = (size_t)*width * (size_t)*height;
        *pixels = malloc(count);
        if (!*pixels) {
            fprintf(stderr, "classify: no memory for %zu pixels\n", count);
            status = ERR_SIZE;
        } else if (fread(*pixels, 1, count, f) != count) {
            fprintf(stderr, "classify: " INPUT " ends before its %zu pixels\n", count);
            free(*pixels);
            status = ERR_FORMAT;
        }
    }
    fclose(f);
    return status;
}

/* Mean, standard deviation and share of edges (pairs of neighbours more than
 * EDGE_STEP apart), each scaled to 0..255. Two passes (mean, then deviations) keep the
 * sums exact in 64 bits for any picture we accept. */
static void compute_features(const uint8_t *pixels, long width, long height,
                             int32_t features[FEATURE_COUNT])
{
    uint64_t count = (uint64_t)width * (uint64_t)height;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < count; i++)
        sum += pixels[i];
    int64_t mean = (int64_t)((sum + count / 2) / count);

    uint64_t squares = 0, edges = 0, pairs = 0;
    for (long y = 0; y < height; y++) {
        for (long x = 0; x < width; x++) {
            int32_t value = pixels[y * width + x];
            squares += (uint64_t)((value - mean) * (value - mean));
            if (x + 1 < width) {
                pairs++;
                edges += abs(value - pixels[y * width + x + 1]) > EDGE_STEP;
            }
            if (y + 1 < height) {
                pairs++;
                edges += abs(value - pixels[(y + 1) * width + x]) > EDGE_STEP;
            }
        }
    }
    uint64_t variance = squares / count;
    uint64_t deviation = 0;   /* integer square root, so every device agrees */
    while ((deviation + 1) * (deviation + 1) <= variance)
        deviation++;
    features[FEATURE_MEAN] = (int32_t)mean;
    features[FEATURE_CONTRAST] = (int32_t)(deviation > 127 ? 255 : deviation * 2);
    features[FEATURE_EDGES] = pairs ? (int32_t)((edges * 255 + pairs / 2) / pairs) : 0;
}

/* The nearest centroid; the lower index wins a tie. */
static int32_t nearest_class(const int32_t features[FEATURE_COUNT])
{
    int32_t best = 0;
    int64_t best_distance = INT64_MAX;
    for (int32_t c = 0; c < CLASS_COUNT; c++) {
        int64_t distance = 0;
        for (int i = 0; i < FEATURE_COUNT; i++) {
            int64_t d = features[i] - CENTROIDS[c][i];
            distance += d * d;
        }
        if (distance < best_distance) {
            best_distance = distance;
            best = c;
        }
    }
    return best;
}

__attribute__((export_name("classify"))) int32_t classify(void)
{
    uint8_t *pixels = NULL;
    long width = 0, height = 0;
    int32_t status = read_pgm(&pixels, &width, &height);
    if (status < 0)
        return status;
    compute_features(pixels, width, height, last_features);
    free(pixels);
    return nearest_class(last_features);
}

__attribute__((export_name("class_feature"))) int32_t class_feature(int32_t i)
{
    return i >= 0 && i < FEATURE_COUNT ? last_features[i] : -1;
}

__attribute__((export_name("class_count"))) int32_t class_count(void)
{
    return CLASS_COUNT;
}
