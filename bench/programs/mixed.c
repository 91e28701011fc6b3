/*
 * mixed — a CoreMark-like workload of our own design.
 *
 * Each iteration does four unrelated kinds of work, the way real embedded code
 * jumps between data structures, arithmetic, parsing and checksumming:
 *
 *   list    search, update, merge-sort and reverse a linked list in a node pool
 *           (pointer chasing and unpredictable branches)
 *   matrix  16-bit matrix arithmetic: scalar add and scale, matrix-vector and
 *           matrix-matrix products, bit-field extraction (integer multiply/adds)
 *   parse   a state machine that classifies number-like tokens in a text buffer,
 *           then again after corrupting a few bytes (byte loads, switch dispatch)
 *   crc     a bitwise CRC-32 that folds every part's results together
 *
 * Every part's input depends on the previous iteration's CRC, so no iteration
 * can be computed ahead or skipped.
 *
 * usage: mixed [ITERATIONS]   (default 9000)
 */
#include "bench_common.h"

#define LIST_NODES 160
#define MATRIX_DIM 14
#define TOKEN_COUNT 96

/* ------------------------------------------------------------------ crc */

/* CRC-32 (reflected polynomial 0xEDB88320), one bit at a time: slow on purpose,
 * as it exercises shifts and data-dependent branches. */
static uint32_t crc32_byte(uint32_t crc, uint8_t byte)
{
    crc ^= byte;
    for (int bit = 0; bit < 8; bit++)
        crc = (crc & 1u) ? (crc >> 1) ^ 0xedb88320u : crc >> 1;
    return crc;
}

static uint32_t crc32_u16(uint32_t crc, uint16_t value)
{
    crc = crc32_byte(crc, (uint8_t)value);
    return crc32_byte(crc, (uint8_t)(value >> 8));
}

static uint32_t crc32_u32(uint32_t crc, uint32_t value)
{
    crc = crc32_u16(crc, (uint16_t)value);
    return crc32_u16(crc, (uint16_t)(value >> 16));
}

/* ----------------------------------------------------------------- list */

typedef struct list_node {
    struct list_node *next;
    uint16_t key;      /* unique: identifies the node */
    uint16_t value;    /* rewritten every iteration */
} list_node;

static list_node node_pool[LIST_NODES];

static list_node *list_build(void)
{
    for (int i = 0; i < LIST_NODES; i++) {
        node_pool[i].key = (uint16_t)(i * 37u % LIST_NODES);   /* 37 is coprime to 160 */
        node_pool[i].value = (uint16_t)(i * 2654435761u >> 16);
        node_pool[i].next = i + 1 < LIST_NODES ? &node_pool[i + 1] : NULL;
    }
    return &node_pool[0];
}

/* Position of the node with this key, or -1: a linear walk, as a list forces. */
static int list_find(const list_node *head, uint16_t key)
{
    for (int position = 0; head; head = head->next, position++)
        if (head->key == key)
            return position;
    return -1;
}

static list_node *list_reverse(list_node *head)
{
    list_node *reversed = NULL;
    while (head) {
        list_node *next = head->next;
        head->next = reversed;
        reversed = head;
        head = next;
    }
    return reversed;
}

typedef int (*node_order)(const list_node *, const list_node *);

static int order_by_key(const list_node *a, const list_node *b)
{
    return (int)a->key - (int)b->key;
}

/* Orders by a derived quantity rather than a raw field, so the comparison
 * itself costs a little arithmetic, as real sort keys often do. */
static int order_by_mixed_value(const list_node *a, const list_node *b)
{
    int weight_a = (a->value & 0x0fff) ^ (a->value >> 12) * 0x111;
    int weight_b = (b->value & 0x0fff) ^ (b->value >> 12) * 0x111;
    if (weight_a != weight_b)
        return weight_a - weight_b;
    return order_by_key(a, b);
}

/* Bottom-up merge sort: no recursion and no extra memory, stable. */
static list_node *list_sort(list_node *head, node_order before)
{
    for (int run = 1;; run *= 2) {
        list_node *remaining = head, *tail = NULL;
        int merges = 0;
        head = NULL;
        while (remaining) {
            merges++;
            list_node *left = remaining, *right = remaining;
            int left_size = 0;
            while (right && left_size < run)
                right = right->next, left_size++;
            int right_size = run;
            while (left_size > 0 || (right_size > 0 && right)) {
                list_node *taken;
                if (left_size == 0) {
                    taken = right, right = right->next, right_size--;
                } else if (right_size == 0 || !right || before(left, right) <= 0) {
                    taken = left, left = left->next, left_size--;
                } else {
                    taken = right, right = right->next, right_size--;
                }
                if (tail)
                    tail->next = taken;
                else
                    head = taken;
                tail = taken;
            }
            remaining = right;
        }
        tail->next = NULL;
        if (merges <= 1)
            return head;
    }
}

static uint32_t list_work(list_node **list, uint32_t seed)
{
    uint32_t crc = seed;
    for (uint16_t probe = 0; probe < 12; probe++) {
        uint16_t key = (uint16_t)((seed + probe * 13u) % (LIST_NODES + 8)); /* some miss */
        crc = crc32_u16(crc, (uint16_t)list_find(*list, key));
    }
    for (list_node *node = *list; node; node = node->next)
        node->value = (uint16_t)(node->value * 33u + seed + node->key);

    *list = list_sort(*list, order_by_mixed_value);
    int visited = 0;
    for (list_node *node = *list; node && visited < 16; node = node->next, visited++)
        crc = crc32_u16(crc, node->value);
    *list = list_reverse(*list);
    crc = crc32_u16(crc, (*list)->key);
    *list = list_sort(*list, order_by_key);
    return crc;
}

/* --------------------------------------------------------------- matrix */

typedef struct matrix_set {
    uint16_t a[MATRIX_DIM][MATRIX_DIM];
    uint16_t b[MATRIX_DIM][MATRIX_DIM];
    uint32_t product[MATRIX_DIM][MATRIX_DIM];
    uint16_t vector[MATRIX_DIM];
} matrix_set;

static matrix_set matrices;

static void matrix_init(matrix_set *m)
{
    uint32_t state = 12345u;
    for (int i = 0; i < MATRIX_DIM; i++) {
        for (int j = 0; j < MATRIX_DIM; j++) {
            state = state * 1103515245u + 12345u;
            m->a[i][j] = (uint16_t)(state >> 20);
            m->b[i][j] = (uint16_t)(state >> 9);
        }
        m->vector[i] = (uint16_t)(i * 7 + 3);
    }
}

/* How many cells exceed the running mean: a branchy reduction. */
static uint32_t count_above_running_mean(uint32_t cells[MATRIX_DIM][MATRIX_DIM])
{
    uint64_t sum = 0;
    uint32_t above = 0;
    for (uint32_t i = 0; i < MATRIX_DIM; i++)
        for (uint32_t j = 0; j < MATRIX_DIM; j++) {
            uint32_t seen = i * MATRIX_DIM + j + 1;
            sum += cells[i][j];
            if ((uint64_t)cells[i][j] * seen > sum)
                above++;
        }
    return above;
}

static uint32_t matrix_work(matrix_set *m, uint32_t seed)
{
    uint16_t addend = (uint16_t)(seed | 1u), scale = (uint16_t)((seed >> 16) | 3u);
    uint32_t crc = seed;

    for (int i = 0; i < MATRIX_DIM; i++)
        for (int j = 0; j < MATRIX_DIM; j++)
            m->a[i][j] = (uint16_t)(m->a[i][j] + addend);

    for (int i = 0; i < MATRIX_DIM; i++)
        for (int j = 0; j < MATRIX_DIM; j++)
            m->product[i][j] = (uint32_t)m->a[i][j] * scale;
    crc = crc32_u32(crc, count_above_running_mean(m->product));

    for (int i = 0; i < MATRIX_DIM; i++) {
        uint32_t dot = 0;
        for (int j = 0; j < MATRIX_DIM; j++)
            dot += (uint32_t)m->a[i][j] * m->vector[j];
        crc = crc32_u32(crc, dot);
    }

    for (int i = 0; i < MATRIX_DIM; i++)
        for (int j = 0; j < MATRIX_DIM; j++) {
            uint32_t dot = 0;
            for (int k = 0; k < MATRIX_DIM; k++)
                dot += (uint32_t)m->a[i][k] * m->b[k][j];
            m->product[i][j] = dot;
        }
    crc = crc32_u32(crc, count_above_running_mean(m->product));

    /* Bit fields from the middle of each product, multiplied back together. */
    for (int i = 0; i < MATRIX_DIM; i++)
        for (int j = 0; j < MATRIX_DIM; j++) {
            uint32_t field = (m->product[i][j] >> 5) & 0x7fu;
            uint32_t other = (m->product[j][i] >> 11) & 0x3fu;
            m->product[i][j] = field * other + (field ^ other);
        }
    crc = crc32_u32(crc, count_above_running_mean(m->product));

    /* Undo the scalar add so the matrices do not drift toward a fixed point. */
    for (int i = 0; i < MATRIX_DIM; i++)
        for (int j = 0; j < MATRIX_DIM; j++)
            m->a[i][j] = (uint16_t)(m->a[i][j] - addend + (uint16_t)(seed & 1u));
    return crc;
}

/* ---------------------------------------------------------------- parse */

typedef enum token_class {
    TOKEN_EMPTY,
    TOKEN_INTEGER,     /* 42  -7  +3 */
    TOKEN_HEX,         /* 0x1f */
    TOKEN_DECIMAL,     /* 3.25  -.5 */
    TOKEN_SCIENTIFIC,  /* 6.02e23  1E-9 */
    TOKEN_INVALID,
    TOKEN_CLASS_COUNT,
} token_class;

typedef enum scan_state {
    SCAN_START, SCAN_SIGN, SCAN_ZERO, SCAN_HEX_MARK, SCAN_HEX_DIGITS, SCAN_DIGITS,
    SCAN_POINT, SCAN_FRACTION, SCAN_EXPONENT_MARK, SCAN_EXPONENT_SIGN,
    SCAN_EXPONENT_DIGITS, SCAN_INVALID,
} scan_state;

static char text[TOKEN_COUNT * 12 + 1];
static size_t text_length;

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_hex_letter(char c) { return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

static scan_state scan_step(scan_state state, char c)
{
    switch (state) {
    case SCAN_START:
        if (c == '+' || c == '-') return SCAN_SIGN;
        if (c == '0') return SCAN_ZERO;
        if (is_digit(c)) return SCAN_DIGITS;
        if (c == '.') return SCAN_POINT;
        return SCAN_INVALID;
    case SCAN_SIGN:
        if (is_digit(c)) return SCAN_DIGITS;
        if (c == '.') return SCAN_POINT;
        return SCAN_INVALID;
    case SCAN_ZERO:
        if (c == 'x' || c == 'X') return SCAN_HEX_MARK;
        if (is_digit(c)) return SCAN_DIGITS;
        if (c == '.') return SCAN_FRACTION;
        if (c == 'e' || c == 'E') return SCAN_EXPONENT_MARK;
        return SCAN_INVALID;
    case SCAN_HEX_MARK:
    case SCAN_HEX_DIGITS:
        if (is_digit(c) || is_hex_letter(c)) return SCAN_HEX_DIGITS;
        return SCAN_INVALID;
    case SCAN_DIGITS:
        if (is_digit(c)) return SCAN_DIGITS;
        if (c == '.') return SCAN_FRACTION;
        if (c == 'e' || c == 'E') return SCAN_EXPONENT_MARK;
        return SCAN_INVALID;
    case SCAN_POINT:
        if (is_digit(c)) return SCAN_FRACTION;
        return SCAN_INVALID;
    case SCAN_FRACTION:
        if (is_digit(c)) return SCAN_FRACTION;
        if (c == 'e' || c == 'E') return SCAN_EXPONENT_MARK;
        return SCAN_INVALID;
    case SCAN_EXPONENT_MARK:
        if (c == '+' || c == '-') return SCAN_EXPONENT_SIGN;
        if (is_digit(c)) return SCAN_EXPONENT_DIGITS;
        return SCAN_INVALID;
    case SCAN_EXPONENT_SIGN:
    case SCAN_EXPONENT_DIGITS:
        if (is_digit(c)) return SCAN_EXPONENT_DIGITS;
        return SCAN_INVALID;
    case SCAN_INVALID:
        return SCAN_INVALID;
    }
    return SCAN_INVALID;
}

static token_class classify_final_state(scan_state state)
{
    switch (state) {
    case SCAN_START: return TOKEN_EMPTY;
    case SCAN_ZERO:
    case SCAN_DIGITS: return TOKEN_INTEGER;
    case SCAN_HEX_DIGITS: return TOKEN_HEX;
    case SCAN_FRACTION: return TOKEN_DECIMAL;
    case SCAN_EXPONENT_DIGITS: return TOKEN_SCIENTIFIC;
    default: return TOKEN_INVALID;
    }
}

/* Appends one token of a randomly chosen shape, then a comma. */
static void append_token(uint32_t *state)
{
    static const char alphabet[] = "0123456789abcdef";
    *state = *state * 1664525u + 1013904223u;
    uint32_t r = *state >> 8;
    char token[12];
    int n = 0;
    switch (r % 5) {
    case 0:   /* integer, maybe signed */
        if (r & 0x100) token[n++] = (r & 0x200) ? '-' : '+';
        for (uint32_t d = 1 + (r >> 12) % 6; d > 0; d--) token[n++] = alphabet[(r >> (d + 3)) % 10];
        break;
    case 1:   /* hex */
        token[n++] = '0', token[n++] = 'x';
        for (uint32_t d = 1 + (r >> 12) % 4; d > 0; d--) token[n++] = alphabet[(r >> (2 * d)) % 16];
        break;
    case 2:   /* decimal */
        for (uint32_t d = (r >> 12) % 3; d > 0; d--) token[n++] = alphabet[(r >> d) % 10];
        token[n++] = '.';
        for (uint32_t d = 1 + (r >> 14) % 4; d > 0; d--) token[n++] = alphabet[(r >> (d + 5)) % 10];
        break;
    case 3:   /* scientific */
        token[n++] = alphabet[1 + (r >> 9) % 9], token[n++] = '.', token[n++] = alphabet[(r >> 13) % 10];
        token[n++] = (r & 0x40) ? 'e' : 'E';
        if (r & 0x80) token[n++] = '-';
        token[n++] = alphabet[(r >> 17) % 10], token[n++] = alphabet[(r >> 21) % 10];
        break;
    default:  /* almost a number */
        token[n++] = alphabet[(r >> 9) % 10], token[n++] = 'q', token[n++] = alphabet[(r >> 13) % 10];
        break;
    }
    memcpy(text + text_length, token, (size_t)n);
    text_length += (size_t)n;
    text[text_length++] = ',';
}

static void text_init(void)
{
    uint32_t state = 2718281u;
    text_length = 0;
    for (int i = 0; i < TOKEN_COUNT; i++)
        append_token(&state);
    text[text_length] = '\0';
}

/* Scans the whole text, counting tokens by class and states entered. */
static uint32_t scan_text(uint32_t counts[TOKEN_CLASS_COUNT])
{
    uint32_t transitions = 0;
    scan_state state = SCAN_START;
    for (size_t i = 0; i < text_length; i++) {
        char c = text[i];
        if (c == ',') {
            counts[classify_final_state(state)]++;
            state = SCAN_START;
            continue;
        }
        scan_state next = scan_step(state, c);
        transitions += next != state;
        state = next;
    }
    return transitions;
}

static uint32_t parse_work(uint32_t seed)
{
    uint32_t counts[TOKEN_CLASS_COUNT] = {0};
    uint32_t crc = crc32_u32(seed, scan_text(counts));

    /* Corrupt a few bytes (never a separator), scan again, then restore. */
    size_t stride = 7 + seed % 29;
    char saved[TOKEN_COUNT * 12 / 7 + 1];
    int corrupted = 0;
    for (size_t i = seed % stride; i < text_length; i += stride) {
        saved[corrupted++] = text[i];
        if (text[i] == ',')
            continue;
        char replacement = (char)('+' + ((uint8_t)text[i] ^ (uint8_t)seed) % 64u);
        text[i] = replacement == ',' ? '.' : replacement;
    }
    crc = crc32_u32(crc, scan_text(counts));
    corrupted = 0;
    for (size_t i = seed % stride; i < text_length; i += stride)
        text[i] = saved[corrupted++];

    for (int k = 0; k < TOKEN_CLASS_COUNT; k++)
        crc = crc32_u32(crc, counts[k]);
    return crc;
}

/* ----------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    uint32_t iterations = bench_size_arg(argc, argv, 9000);
    list_node *list = list_build();
    matrix_init(&matrices);
    text_init();

    uint32_t crc = 0xffffffffu;
    uint64_t checksum = BENCH_HASH_SEED;
    for (uint32_t i = 0; i < iterations; i++) {
        uint32_t seed = crc ^ i;
        uint32_t list_crc = list_work(&list, seed);
        uint32_t matrix_crc = matrix_work(&matrices, seed ^ list_crc);
        uint32_t parse_crc = parse_work(seed + matrix_crc);
        crc = crc32_u32(crc32_u32(crc32_u32(crc, list_crc), matrix_crc), parse_crc);
        if ((i & 255u) == 255u)
            checksum = bench_hash_u64(checksum, crc);
    }
    checksum = bench_hash_u64(checksum, crc);
    printf("iterations: %" PRIu32 ", final crc: %08" PRIx32 "\n", iterations, crc);
    bench_print_checksum(checksum);
    return 0;
}
