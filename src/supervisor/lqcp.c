/*
 * lqcp.c — checkpoints: splitting a state, writing and reading LQCP (see lqcp.h).
 */
#include "supervisor/lqcp.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRAP_MAGIC "LQSNAP1"    /* "LQSNAP1\0", u64 engine size, engine, WASI state */
#define WRAP_HEADER 16
#define SNAP_HEADER 44          /* "LQSN", u32 version, u8[32] module digest, u32 flags */
#define SNAP_CHECKSUM 32
#define PAGE 65536u

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static bool failed(char *err, size_t err_size, const char *what)
{
    snprintf(err, err_size, "%s", what);
    return false;
}

/* Memory 0 of an engine snapshot, and where its section ends. */
static bool read_memory(const uint8_t *snap, size_t size, uint8_t **memory, uint64_t *mem_size,
                        size_t *mem_end, char *err, size_t err_size)
{
    *memory = NULL;
    *mem_size = 0;
    if (size < SNAP_HEADER + 4 + SNAP_CHECKSUM || memcmp(snap, "LQSN", 4))
        return failed(err, err_size, "the saved state holds no engine snapshot (LQSN)");
    size_t end = size - SNAP_CHECKSUM, at = SNAP_HEADER;
    uint32_t count = (uint32_t)get_le(snap + at, 4);
    at += 4;
    *mem_end = at;
    if (!count)
        return true;
    if (end - at < 4)
        return failed(err, err_size, "the engine snapshot is truncated in its memory");
    uint32_t pages = (uint32_t)get_le(snap + at, 4);
    at += 4;
    if (pages > end - at)
        return failed(err, err_size, "the engine snapshot is truncated in its memory");
    *memory = pages ? calloc(pages, PAGE) : NULL;
    if (pages && !*memory)
        return failed(err, err_size, "out of memory");
    for (uint32_t p = 0; p < pages; p++) {
        uint8_t present = at < end ? snap[at] : 2;
        at++;
        if (present == 1 && end - at >= PAGE) {
            memcpy(*memory + (size_t)p * PAGE, snap + at, PAGE);
            at += PAGE;
        } else if (present != 0) {
            free(*memory);
            *memory = NULL;
            return failed(err, err_size, "the engine snapshot's memory is malformed");
        }
    }
    *mem_size = (uint64_t)pages * PAGE;
    *mem_end = at;
    return true;
}

bool lqcp_split_state(const uint8_t *state, size_t size, uint8_t **memory,
                      uint64_t *memory_size, uint8_t **rest, size_t *rest_size, char *err,
                      size_t err_size)
{
    const uint8_t *engine = state, *wasi = NULL;
    size_t engine_size = size, wasi_size = 0;
    bool wrapped = size >= WRAP_HEADER && !memcmp(state, WRAP_MAGIC, 8);
    if (wrapped) {
        uint64_t n = get_le(state + 8, 8);
        if (n > size - WRAP_HEADER)
            return failed(err, err_size, "the saved state is truncated");
        engine = state + WRAP_HEADER;
        engine_size = (size_t)n;
        wasi = engine + n;
        wasi_size = size - WRAP_HEADER - (size_t)n;
    }
    size_t mem_end;
    if (!read_memory(engine, engine_size, memory, memory_size, &mem_end, err, err_size))
        return false;
    bool has_memory = get_le(engine + SNAP_HEADER, 4) > 0;
    /* the snapshot with memory 0 as "u32 pages = 0" */
    size_t head = SNAP_HEADER + 4;
    size_t tail = engine_size - SNAP_CHECKSUM - mem_end;
    size_t new_engine = head + (has_memory ? 4 : 0) + tail + SNAP_CHECKSUM;
    size_t total = (wrapped ? WRAP_HEADER : 0) + new_engine + wasi_size;
    uint8_t *out = malloc(total), *p = out;
    if (!out) {
        free(*memory);
        *memory = NULL;
        return failed(err, err_size, "out of memory");
    }
    if (wrapped) {
        memcpy(p, WRAP_MAGIC, 8);
        put_le(p + 8, new_engine, 8);
        p += WRAP_HEADER;
    }
    uint8_t *snap = p;
    memcpy(p, engine, head);
    p += head;
    if (has_memory) {
        put_le(p, 0, 4);
        p += 4;
    }
    memcpy(p, engine + mem_end, tail);
    p += tail;
    SHA256(snap, (size_t)(p - snap), p);
    p += SNAP_CHECKSUM;
    if (wasi_size)
        memcpy(p, wasi, wasi_size);
    *rest = out;
    *rest_size = total;
    return true;
}

uint64_t lqcp_chunk_hash(const uint8_t *chunk, size_t size)
{
    /* 64-bit multiply-xorshift over 8-byte words: a few GB/s, plenty against 4 KiB
     * chunks compared once per checkpoint */
    uint64_t h = 0x9e3779b97f4a7c15ull ^ size;
    size_t i = 0;
    for (; i + 8 <= size; i += 8) {
        uint64_t w;
        memcpy(&w, chunk + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    for (; i < size; i++)
        h = (h ^ chunk[i]) * 0x100000001b3ull;
    h ^= h >> 29;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 32);
}

/* Header, chunks taken from chunk(i) (the bytes of the i-th chunk listed), rest. */
static bool write_checkpoint(uint64_t memory_size, const uint32_t *indexes, size_t count,
                             const uint8_t *(*chunk)(const void *source, size_t i),
                             const void *source, const uint8_t *rest, size_t rest_size,
                             uint8_t **out, size_t *out_size)
{
    size_t total = 4 + 4 + 4 + 8 + 4 + count * (4 + LQCP_CHUNK) + 8 + rest_size;
    uint8_t *buf = malloc(total), *p = buf;
    if (!buf)
        return false;
    memcpy(p, "LQCP", 4);
    put_le(p + 4, LQCP_VERSION, 4);
    put_le(p + 8, LQCP_CHUNK, 4);
    put_le(p + 12, memory_size, 8);
    put_le(p + 20, count, 4);
    p += 24;
    for (size_t i = 0; i < count; i++) {
        put_le(p, indexes[i], 4);
        memcpy(p + 4, chunk(source, i), LQCP_CHUNK);
        p += 4 + LQCP_CHUNK;
    }
    put_le(p, rest_size, 8);
    memcpy(p + 8, rest, rest_size);
    *out = buf;
    *out_size = total;
    return true;
}

typedef struct in_memory {
    const uint8_t *memory;
    const uint32_t *indexes;
} in_memory;

static const uint8_t *chunk_in_memory(const void *source, size_t i)
{
    const in_memory *m = source;
    return m->memory + (size_t)m->indexes[i] * LQCP_CHUNK;
}

static const uint8_t *chunk_packed(const void *source, size_t i)
{
    return (const uint8_t *)source + i * LQCP_CHUNK;
}

bool lqcp_write(const uint8_t *memory, uint64_t memory_size, const uint32_t *chunks,
                size_t chunk_count, const uint8_t *rest, size_t rest_size, uint8_t **out,
                size_t *out_size)
{
    in_memory source = {memory, chunks};
    return write_checkpoint(memory_size, chunks, chunk_count, chunk_in_memory, &source, rest,
                            rest_size, out, out_size);
}

bool lqcp_write_packed(uint64_t memory_size, const uint32_t *indexes, const uint8_t *chunks,
                       size_t chunk_count, const uint8_t *rest, size_t rest_size,
                       uint8_t **out, size_t *out_size)
{
    return write_checkpoint(memory_size, indexes, chunk_count, chunk_packed, chunks, rest,
                            rest_size, out, out_size);
}

bool lqcp_read(const uint8_t *data, size_t size, lqcp_view *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    if (size < 24)
        return failed(err, err_size, "the checkpoint is truncated in its header");
    if (memcmp(data, "LQCP", 4))
        return failed(err, err_size, "not a checkpoint (it does not start with \"LQCP\")");
    if (get_le(data + 4, 4) != LQCP_VERSION)
        return failed(err, err_size, "checkpoint version not supported");
    if (get_le(data + 8, 4) != LQCP_CHUNK)
        return failed(err, err_size, "checkpoint chunk size is not 4096");
    out->memory_size = get_le(data + 12, 8);
    out->chunk_count = (uint32_t)get_le(data + 20, 4);
    size_t at = 24;
    if (out->chunk_count > (size - at) / (4 + LQCP_CHUNK))
        return failed(err, err_size, "the checkpoint is truncated in its chunks");
    out->chunks = data + at;
    for (uint32_t i = 0; i < out->chunk_count; i++, at += 4 + LQCP_CHUNK)
        if ((uint64_t)(get_le(data + at, 4) + 1) * LQCP_CHUNK > out->memory_size)
            return failed(err, err_size, "a checkpoint chunk lies past the memory's end");
    if (size - at < 8)
        return failed(err, err_size, "the checkpoint is truncated before its rest");
    out->rest_size = get_le(data + at, 8);
    at += 8;
    if (out->rest_size != size - at)
        return failed(err, err_size, "the checkpoint's rest is truncated or followed by "
                      "extra bytes");
    out->rest = data + at;
    return true;
}
