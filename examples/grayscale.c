/*
 * grayscale.c — an image-processing step for Wasm-IoT pipelines: grayscale() reads
 * the execution mount image.jpeg (a camera frame, e.g. from examples/camera.c),
 * decodes it with the baseline JPEG decoder below, writes its luminance as the
 * output mount result.pgm (binary PGM), and returns the mean brightness, 0..255.
 *
 *   liquid run --dir FRAMES::. --invoke grayscale grayscale.wasm   -> e.g. 131
 *
 * On failure it returns a negative number and says why on stderr:
 *   -1 image.jpeg cannot be read     -2 a JPEG this decoder does not handle
 *   -3 the JPEG is damaged           -4 result.pgm cannot be written
 *   -5 the image is too large
 *
 * The decoder handles what cameras and encoders produce by default: baseline and
 * extended sequential Huffman JPEG (SOF0/SOF1), 8-bit samples, 1 to 4 components
 * with any sampling factors, interleaved or one scan per component, and restart
 * intervals. Progressive, lossless and arithmetic-coded files are refused. Only
 * the first component (Y, the luminance) is kept; the others are decoded only as far
 * as needed to walk the bitstream.
 */
// wasm-flags: -mexec-model=reactor
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INPUT "image.jpeg"
#define OUTPUT "result.pgm"
#define MAX_INPUT_BYTES (16u << 20)
#define MAX_PIXELS (16u << 20)

enum { ERR_READ = -1, ERR_UNSUPPORTED = -2, ERR_CORRUPT = -3, ERR_WRITE = -4, ERR_SIZE = -5 };

static const uint8_t ZIGZAG[64] = {
    0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,  12, 19, 26, 33, 40, 48,
    41, 34, 27, 20, 13, 6,  7,  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23,
    30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63};

typedef struct huffman {
    bool defined;
    uint8_t values[256];
    int32_t max_code[18];       /* largest code of each length, -1 if none */
    int32_t min_code[17];
    int32_t value_index[17];    /* where the codes of each length start in values */
} huffman;

typedef struct component {
    int id, h, v, quant;
    int dc_table, ac_table;
    int dc_predictor;
    int blocks_wide, blocks_high;   /* of this component, for a scan of it alone */
} component;

typedef struct jpeg {
    const uint8_t *data;
    size_t size, pos;
    uint16_t quant[4][64];          /* in zigzag order, as stored */
    bool quant_defined[4];
    huffman dc[4], ac[4];
    int width, height, component_count, h_max, v_max;
    component components[4];
    int mcus_wide, mcus_high;
    unsigned restart_interval;
    uint8_t *luma;                  /* component 0, padded to whole MCUs */
    int luma_stride, luma_rows;
    bool have_frame;
    const char *error;
    int error_code;
    /* the bit reader of the current scan */
    uint32_t bits;
    int bit_count;
    bool hit_marker;
} jpeg;

static int fail(jpeg *j, int code, const char *why)
{
    if (!j->error) {
        j->error = why;
        j->error_code = code;
    }
    return code;
}

static unsigned read_u16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

/* ------------------------------------------------------------ marker segments */

static int parse_dqt(jpeg *j, const uint8_t *p, size_t len)
{
    while (len > 0) {
        int precision = p[0] >> 4, id = p[0] & 15;
        size_t need = 1 + 64 * (precision ? 2u : 1u);
        if (id > 3 || precision > 1 || len < need)
            return fail(j, ERR_CORRUPT, "bad quantization table");
        for (int k = 0; k < 64; k++)
            j->quant[id][k] = precision ? (uint16_t)read_u16(p + 1 + 2 * k) : p[1 + k];
        j->quant_defined[id] = true;
        p += need;
        len -= need;
    }
    return 0;
}

/* Canonical Huffman codes from the counts per length (ITU T.81 Annex C). */
static int parse_dht(jpeg *j, const uint8_t *p, size_t len)
{
    while (len > 0) {
        if (len < 17)
            return fail(j, ERR_CORRUPT, "bad Huffman table");
        int cls = p[0] >> 4, id = p[0] & 15;
        if (cls > 1 || id > 3)
            return fail(j, ERR_CORRUPT, "bad Huffman table class or id");
        huffman *h = cls ? &j->ac[id] : &j->dc[id];
        size_t total = 0;
        for (int l = 1; l <= 16; l++)
            total += p[l];
        if (total > 256 || len < 17 + total)
            return fail(j, ERR_CORRUPT, "bad Huffman table size");
        memcpy(h->values, p + 17, total);
        int32_t code = 0, index = 0;
        for (int l = 1; l <= 16; l++) {
            int count = p[l];
            h->value_index[l] = index;
            h->min_code[l] = code;
            code += count;
            index += count;
            h->max_code[l] = count ? code - 1 : -1;
            code <<= 1;
        }
        h->max_code[17] = INT32_MAX;
        h->defined = true;
        p += 17 + total;
        len -= 17 + total;
    }
    return 0;
}

static int parse_sof(jpeg *j, const uint8_t *p, size_t len)
{
    if (j->have_frame)
        return fail(j, ERR_CORRUPT, "two frame headers");
    if (len < 6 || p[0] != 8)
        return fail(j, ERR_UNSUPPORTED, "only 8-bit samples are supported");
    j->height = (int)read_u16(p + 1);
    j->width = (int)read_u16(p + 3);
    j->component_count = p[5];
    if (j->component_count < 1 || j->component_count > 4 || len < 6 + 3u * j->component_count)
        return fail(j, ERR_CORRUPT, "bad frame header");
    if (j->width == 0 || j->height == 0)
        return fail(j, ERR_UNSUPPORTED, "images whose height comes later (DNL) are not supported");
    if ((uint64_t)j->width * (uint64_t)j->height > MAX_PIXELS)
        return fail(j, ERR_SIZE, "the image has more than 16 million pixels");
    j->h_max = j->v_max = 1;
    for (int i = 0; i < j->component_count; i++) {
        component *c = &j->components[i];
        c->id = p[6 + 3 * i];
        c->h = p[7 + 3 * i] >> 4;
        c->v = p[7 + 3 * i] & 15;
        c->quant = p[8 + 3 * i];
        if (c->h < 1 || c->h > 4 || c->v < 1 || c->v > 4 || c->quant > 3)
            return fail(j, ERR_CORRUPT, "bad component in the frame header");
        j->h_max = c->h > j->h_max ? c->h : j->h_max;
        j->v_max = c->v > j->v_max ? c->v : j->v_max;
    }
    j->mcus_wide = (j->width + 8 * j->h_max - 1) / (8 * j->h_max);
    j->mcus_high = (j->height + 8 * j->v_max - 1) / (8 * j->v_max);
    for (int i = 0; i < j->component_count; i++) {
        component *c = &j->components[i];
        int w = (j->width * c->h + j->h_max - 1) / j->h_max;
        int h = (j->height * c->v + j->v_max - 1) / j->v_max;
        c->blocks_wide = (w + 7) / 8;
        c->blocks_high = (h + 7) / 8;
    }
    component *y = &j->components[0];
    j->luma_stride = j->mcus_wide * y->h * 8;
    j->luma_rows = j->mcus_high * y->v * 8;
    j->luma = calloc((size_t)j->luma_stride, (size_t)j->luma_rows);
    if (!j->luma)
        return fail(j, ERR_SIZE, "no memory for the image");
    j->have_frame = true;
    return 0;
}

/* ------------------------------------------------------------- entropy decoding */

/* The next byte of entropy-coded data: FF 00 is a data FF; any other FF xx is a
 * marker, where the data ends (zeros are fed from there on). */
static unsigned next_byte(jpeg *j)
{
    if (j->hit_marker || j->pos >= j->size)
        return 0;
    unsigned b = j->data[j->pos];
    if (b != 0xFF) {
        j->pos++;
        return b;
    }
    if (j->pos + 1 < j->size && j->data[j->pos + 1] == 0x00) {
        j->pos += 2;
        return 0xFF;
    }
    j->hit_marker = true;
    return 0;
}

static int get_bits(jpeg *j, int n)
{
    while (j->bit_count < n) {
        j->bits = (j->bits << 8) | next_byte(j);
        j->bit_count += 8;
    }
    int value = (int)((j->bits >> (j->bit_count - n)) & ((1u << n) - 1));
    j->bit_count -= n;
    return value;
}

static int decode_huffman(jpeg *j, const huffman *h)
{
    int32_t code = 0;
    for (int l = 1; l <= 16; l++) {
        code = (code << 1) | get_bits(j, 1);
        if (code <= h->max_code[l])
            return h->values[(h->value_index[l] + code - h->min_code[l]) & 255];
    }
    fail(j, ERR_CORRUPT, "a Huffman code that no table defines");
    return 0;
}

/* A coefficient of `size` bits, in JPEG's sign convention (T.81 F.2.2.1). */
static int receive_extend(jpeg *j, int size)
{
    if (size == 0)
        return 0;
    if (size > 16) {
        fail(j, ERR_CORRUPT, "a coefficient wider than 16 bits");
        return 0;
    }
    int value = get_bits(j, size);
    return value < (1 << (size - 1)) ? value - (1 << size) + 1 : value;
}

/* IDCT basis: cos((2x + 1) u pi / 16) scaled by C(u)/2. */
static float idct_basis[8][8];

static void init_idct(void)
{
    for (int x = 0; x < 8; x++)
        for (int u = 0; u < 8; u++)
            idct_basis[x][u] = (float)((u ? 1.0 : 1.0 / sqrt(2.0)) / 2.0 *
                                       cos((2.0 * x + 1.0) * u * M_PI / 16.0));
}

static void idct_block(const int coefficients[64], uint8_t *out, int stride)
{
    float rows[64];
    for (int v = 0; v < 8; v++)         /* along each row of coefficients */
        for (int x = 0; x < 8; x++) {
            float s = 0;
            for (int u = 0; u < 8; u++)
                s += idct_basis[x][u] * (float)coefficients[v * 8 + u];
            rows[v * 8 + x] = s;
        }
    for (int x = 0; x < 8; x++)         /* then down each column */
        for (int y = 0; y < 8; y++) {
            float s = 0;
            for (int v = 0; v < 8; v++)
                s += idct_basis[y][v] * rows[v * 8 + x];
            int value = (int)lroundf(s + 128.0f);
            out[y * stride + x] = (uint8_t)(value < 0 ? 0 : value > 255 ? 255 : value);
        }
}

/* Decodes one 8x8 block of component c; stores it when c is the luminance. */
static void decode_block(jpeg *j, component *c, bool is_luma, int block_x, int block_y)
{
    int coefficients[64] = {0};
    const uint16_t *q = j->quant[c->quant];
    int size = decode_huffman(j, &j->dc[c->dc_table]);
    c->dc_predictor += receive_extend(j, size);
    coefficients[0] = c->dc_predictor * q[0];
    for (int k = 1; k < 64;) {
        int rs = decode_huffman(j, &j->ac[c->ac_table]);
        int run = rs >> 4, bits = rs & 15;
        if (bits == 0) {
            if (run != 15)
                break;              /* end of block */
            k += 16;
            continue;
        }
        k += run;
        if (k > 63) {
            fail(j, ERR_CORRUPT, "coefficients past the end of a block");
            return;
        }
        coefficients[ZIGZAG[k]] = receive_extend(j, bits) * q[k];
        k++;
    }
    if (!is_luma || block_x * 8 >= j->luma_stride || block_y * 8 >= j->luma_rows)
        return;
    idct_block(coefficients, j->luma + (size_t)block_y * 8 * j->luma_stride + (size_t)block_x * 8,
               j->luma_stride);
}

/* Between restart intervals: drop the partial byte, step over RSTn, reset predictors. */
static void restart(jpeg *j, component *scan[], int scan_count)
{
    j->bits = 0;
    j->bit_count = 0;
    while (j->pos + 1 < j->size && !(j->data[j->pos] == 0xFF && j->data[j->pos + 1] >= 0xD0 &&
                                     j->data[j->pos + 1] <= 0xD7))
        j->pos++;
    if (j->pos + 1 < j->size)
        j->pos += 2;
    j->hit_marker = false;
    for (int i = 0; i < scan_count; i++)
        scan[i]->dc_predictor = 0;
}

static int decode_scan(jpeg *j, component *scan[], int scan_count)
{
    bool interleaved = scan_count > 1;
    /* One component alone is coded block by block over its own size; several are
     * coded MCU by MCU, each MCU holding h x v blocks of each. */
    int units_wide = interleaved ? j->mcus_wide : scan[0]->blocks_wide;
    int units_high = interleaved ? j->mcus_high : scan[0]->blocks_high;
    unsigned units_left_in_interval = j->restart_interval;
    for (int i = 0; i < scan_count; i++)
        scan[i]->dc_predictor = 0;
    j->bits = 0;
    j->bit_count = 0;
    j->hit_marker = false;
    for (int uy = 0; uy < units_high && !j->error; uy++)
        for (int ux = 0; ux < units_wide && !j->error; ux++) {
            if (j->restart_interval && units_left_in_interval == 0) {
                restart(j, scan, scan_count);
                units_left_in_interval = j->restart_interval;
            }
            for (int i = 0; i < scan_count; i++) {
                component *c = scan[i];
                bool is_luma = c == &j->components[0];
                if (!interleaved) {
                    decode_block(j, c, is_luma, ux, uy);
                    continue;
                }
                for (int by = 0; by < c->v; by++)
                    for (int bx = 0; bx < c->h; bx++)
                        decode_block(j, c, is_luma, ux * c->h + bx, uy * c->v + by);
            }
            units_left_in_interval--;
        }
    /* Step to the marker after the scan. */
    while (j->pos + 1 < j->size && !(j->data[j->pos] == 0xFF && j->data[j->pos + 1] != 0x00 &&
                                     (j->data[j->pos + 1] < 0xD0 || j->data[j->pos + 1] > 0xD7)))
        j->pos++;
    return j->error ? j->error_code : 0;
}

static int parse_sos(jpeg *j, const uint8_t *p, size_t len)
{
    if (!j->have_frame)
        return fail(j, ERR_CORRUPT, "a scan before the frame header");
    int count = len ? p[0] : 0;
    if (count < 1 || count > 4 || len < 4 + 2u * count)
        return fail(j, ERR_CORRUPT, "bad scan header");
    component *scan[4];
    for (int i = 0; i < count; i++) {
        int id = p[1 + 2 * i], tables = p[2 + 2 * i];
        scan[i] = NULL;
        for (int c = 0; c < j->component_count; c++)
            if (j->components[c].id == id)
                scan[i] = &j->components[c];
        if (!scan[i])
            return fail(j, ERR_CORRUPT, "a scan of a component the frame does not have");
        scan[i]->dc_table = tables >> 4;
        scan[i]->ac_table = tables & 15;
        if (scan[i]->dc_table > 3 || scan[i]->ac_table > 3 || !j->dc[scan[i]->dc_table].defined ||
            !j->ac[scan[i]->ac_table].defined || !j->quant_defined[scan[i]->quant])
            return fail(j, ERR_CORRUPT, "a scan that uses an undefined table");
    }
    return decode_scan(j, scan, count);
}

/* --------------------------------------------------------------------- the file */

static int decode(jpeg *j)
{
    if (j->size < 4 || j->data[0] != 0xFF || j->data[1] != 0xD8)
        return fail(j, ERR_CORRUPT, INPUT " is not a JPEG file");
    j->pos = 2;
    for (;;) {
        while (j->pos < j->size && j->data[j->pos] == 0xFF && j->pos + 1 < j->size &&
               j->data[j->pos + 1] == 0xFF)
            j->pos++;       /* fill bytes */
        if (j->pos + 2 > j->size || j->data[j->pos] != 0xFF)
            return j->have_frame ? 0 : fail(j, ERR_CORRUPT, "the file ends before an image");
        unsigned marker = j->data[j->pos + 1];
        j->pos += 2;
        if (marker == 0xD9)
            return j->have_frame ? 0 : fail(j, ERR_CORRUPT, "no image before the end");
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7))
            continue;       /* markers without a length */
        if (j->pos + 2 > j->size)
            return fail(j, ERR_CORRUPT, "a marker segment cut short");
        size_t len = read_u16(j->data + j->pos);
        if (len < 2 || j->pos + len > j->size)
            return fail(j, ERR_CORRUPT, "a marker segment cut short");
        const uint8_t *p = j->data + j->pos + 2;
        j->pos += len;
        len -= 2;
        int rc = 0;
        if (marker == 0xC0 || marker == 0xC1)
            rc = parse_sof(j, p, len);
        else if (marker >= 0xC2 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC)
            rc = fail(j, ERR_UNSUPPORTED, "progressive, lossless and arithmetic-coded JPEGs are not supported");
        else if (marker == 0xC4)
            rc = parse_dht(j, p, len);
        else if (marker == 0xDB)
            rc = parse_dqt(j, p, len);
        else if (marker == 0xDD)
            j->restart_interval = len >= 2 ? read_u16(p) : 0;
        else if (marker == 0xDA)
            rc = parse_sos(j, p, len);
        if (rc)
            return rc;
    }
}

/* The luminance at image resolution (component 0 may itself be subsampled). */
static uint8_t luma_at(const jpeg *j, int x, int y)
{
    const component *c = &j->components[0];
    int lx = x * c->h / j->h_max, ly = y * c->v / j->v_max;
    return j->luma[(size_t)ly * j->luma_stride + lx];
}

static int write_pgm(const jpeg *j, uint64_t *sum)
{
    FILE *f = fopen(OUTPUT, "wb");
    if (!f)
        return ERR_WRITE;
    fprintf(f, "P5\n%d %d\n255\n", j->width, j->height);
    uint8_t *row = malloc((size_t)j->width);
    bool ok = row != NULL;
    *sum = 0;
    for (int y = 0; ok && y < j->height; y++) {
        for (int x = 0; x < j->width; x++) {
            row[x] = luma_at(j, x, y);
            *sum += row[x];
        }
        ok = fwrite(row, 1, (size_t)j->width, f) == (size_t)j->width;
    }
    free(row);
    return fclose(f) == 0 && ok ? 0 : ERR_WRITE;
}

static uint8_t *read_input(size_t *size, int *error)
{
    FILE *f = fopen(INPUT, "rb");
    *error = ERR_READ;
    if (!f)
        return NULL;
    long length = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    uint8_t *data = NULL;
    if (length > (long)MAX_INPUT_BYTES)
        *error = ERR_SIZE;
    else if (length >= 0 && fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)length + 1)))
        *size = fread(data, 1, (size_t)length, f);
    fclose(f);
    return data;
}

__attribute__((export_name("grayscale"))) int32_t grayscale(void)
{
    static bool ready;
    if (!ready) {
        init_idct();
        ready = true;
    }
    jpeg j = {0};
    int read_error;
    j.data = read_input(&j.size, &read_error);
    if (!j.data) {
        fprintf(stderr, "grayscale: %s\n", read_error == ERR_SIZE
                                               ? INPUT " is larger than 16 MiB"
                                               : "cannot read " INPUT);
        return read_error;
    }
    int rc = decode(&j);
    uint64_t sum = 0;
    if (rc == 0) {
        rc = write_pgm(&j, &sum);
        if (rc)
            fprintf(stderr, "grayscale: cannot write " OUTPUT "\n");
    } else {
        fprintf(stderr, "grayscale: " INPUT ": %s\n", j.error);
    }
    free((void *)j.data);
    free(j.luma);
    if (rc)
        return rc;
    uint64_t pixels = (uint64_t)j.width * (uint64_t)j.height;
    return (int32_t)((sum + pixels / 2) / pixels);
}
