/*
 * checkpoint.c — LQSB bundles and LQCP checkpoints (checkpoint.h): parsing, writing,
 * and a checkpoint applied to its base. Every length read from input is checked
 * against what is left before it is used, so a hostile body costs at most its size.
 */
#include "orchestrator/checkpoint.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WASM_PAGE 65536u
#define SNAPSHOT_HEADER (4 + 4 + 32 + 4)
#define SNAPSHOT_CHECKSUM 32

static bool failed(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool failed(char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
    return false;
}

/* ------------------------------------------------------------ reading */

typedef struct reader {
    const uint8_t *data;
    size_t size, at;
    bool short_read;
} reader;

static bool take(reader *r, size_t n, const uint8_t **out)
{
    if (r->short_read || n > r->size - r->at) {
        r->short_read = true;
        return false;
    }
    *out = r->data + r->at;
    r->at += n;
    return true;
}

static uint64_t get_le(reader *r, size_t n)
{
    const uint8_t *p;
    if (!take(r, n, &p))
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* ------------------------------------------------------------ writing */

typedef struct buffer {
    uint8_t *data;
    size_t size, cap;
    bool failed;
} buffer;

static void put(buffer *b, const void *bytes, size_t n)
{
    if (b->failed || !n)
        return;
    if (b->size + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->size + n)
            cap *= 2;
        uint8_t *grown = realloc(b->data, cap);
        if (!grown) {
            b->failed = true;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->size, bytes, n);
    b->size += n;
}

static void put_le(buffer *b, uint64_t v, size_t n)
{
    uint8_t bytes[8];
    for (size_t i = 0; i < n; i++)
        bytes[i] = (uint8_t)(v >> (8 * i));
    put(b, bytes, n);
}

/* ------------------------------------------------------------ LQSB */

/* One part of a path: what a supervisor accepts as a file name (src/base/fs.c's
 * fs_is_safe_name, and no backslash, as manifest_is_safe_name): not empty, '.' or
 * '..', no control character, at most 255 bytes. */
static bool is_plain_name(const uint8_t *p, size_t n)
{
    if (!n || n > 255 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\' || p[i] == '/')
            return false;
    return true;
}

/* A file's or directory's name in a bundle: plain names joined by '/' — the rule of
 * src/supervisor/state_bundle.c, so a bundle kept here is one a device restores (no
 * empty part, so nothing absolute; never '..'). */
static bool is_relative_path(const uint8_t *name, size_t len)
{
    if (!len || len > BUNDLE_MAX_PATH)
        return false;
    for (size_t at = 0;;) {
        const uint8_t *slash = memchr(name + at, '/', len - at);
        size_t n = slash ? (size_t)(slash - (name + at)) : len - at;
        if (!is_plain_name(name + at, n))
            return false;
        if (!slash)
            return true;
        at += n + 1;
    }
}

bool bundle_parse(const uint8_t *data, size_t size, bundle_section **sections, size_t *count,
                  char *err, size_t err_size)
{
    *sections = NULL;
    *count = 0;
    reader r = {.data = data, .size = size};
    const uint8_t *magic;
    if (!take(&r, 4, &magic) || memcmp(magic, "LQSB", 4))
        return failed(err, err_size, "not a state bundle (it does not start with LQSB)");
    uint32_t version = (uint32_t)get_le(&r, 4);
    uint32_t n = (uint32_t)get_le(&r, 4);
    if (r.short_read)
        return failed(err, err_size, "the state bundle is truncated in its header");
    if (version != 1)
        return failed(err, err_size, "state bundle version %u is not known (1 is)", version);
    /* each section takes at least 13 bytes: a count past that is a lie */
    if (n > (size - r.at) / 13 + 1)
        return failed(err, err_size, "the state bundle claims %u sections in %zu bytes", n,
                      size);
    bundle_section *s = calloc(n + 1, sizeof *s);
    if (!s)
        return failed(err, err_size, "out of memory");
    size_t calls = 0, snapshots = 0;
    for (uint32_t i = 0; i < n; i++) {
        s[i].kind = (uint8_t)get_le(&r, 1);
        s[i].name_len = (uint32_t)get_le(&r, 4);
        const uint8_t *name = NULL, *bytes = NULL;
        take(&r, s[i].name_len, &name);
        s[i].size = get_le(&r, 8);
        if (!r.short_read && s[i].size > r.size - r.at)
            r.short_read = true;
        take(&r, r.short_read ? 0 : (size_t)s[i].size, &bytes);
        if (r.short_read) {
            free(s);
            return failed(err, err_size, "the state bundle is truncated in section %u", i);
        }
        s[i].name = (const char *)name;
        s[i].data = bytes;
        if (s[i].kind < BUNDLE_KIND_SNAPSHOT || s[i].kind > BUNDLE_KIND_DIRECTORY) {
            unsigned kind = s[i].kind;
            free(s);
            return failed(err, err_size, "section %u of the state bundle has unknown kind %u", i,
                          kind);
        }
        bool is_path = s[i].kind == BUNDLE_KIND_FILE || s[i].kind == BUNDLE_KIND_DIRECTORY;
        if (is_path && !is_relative_path(name, s[i].name_len)) {
            free(s);
            return failed(err, err_size, "section %u of the state bundle names a path that is "
                          "not plain names joined by '/' (at most %u bytes)", i,
                          BUNDLE_MAX_PATH);
        }
        if (s[i].kind == BUNDLE_KIND_DIRECTORY && s[i].size) {
            free(s);
            return failed(err, err_size, "section %u of the state bundle is a directory that "
                          "carries bytes", i);
        }
        calls += s[i].kind == BUNDLE_KIND_CALL;
        snapshots += s[i].kind == BUNDLE_KIND_SNAPSHOT;
    }
    if (calls > 1 || snapshots > 1) {
        free(s);
        return failed(err, err_size, "the state bundle has %zu engine snapshots and %zu calls "
                      "(at most one of each)", snapshots, calls);
    }
    if (r.at != size) {
        free(s);
        return failed(err, err_size, "the state bundle has %zu bytes after its last section",
                      size - r.at);
    }
    *sections = s;
    *count = n;
    return true;
}

bool bundle_write(const bundle_section *sections, size_t count, uint8_t **out, size_t *out_size)
{
    buffer b = {0};
    put(&b, "LQSB", 4);
    put_le(&b, 1, 4);
    put_le(&b, count, 4);
    for (size_t i = 0; i < count; i++) {
        put_le(&b, sections[i].kind, 1);
        put_le(&b, sections[i].name_len, 4);
        put(&b, sections[i].name, sections[i].name_len);
        put_le(&b, sections[i].size, 8);
        put(&b, sections[i].data, (size_t)sections[i].size);
    }
    if (b.failed) {
        free(b.data);
        return false;
    }
    *out = b.data;
    *out_size = b.size;
    return true;
}

/* ------------------------------------------------------------ LQSN memory */

static bool checksum_ok(const uint8_t *snap, size_t size)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    return size >= SNAPSHOT_HEADER + SNAPSHOT_CHECKSUM &&
           EVP_Digest(snap, size - SNAPSHOT_CHECKSUM, digest, &n, EVP_sha256(), NULL) &&
           n == SNAPSHOT_CHECKSUM &&
           !memcmp(digest, snap + size - SNAPSHOT_CHECKSUM, SNAPSHOT_CHECKSUM);
}

/* Where a snapshot's memory section starts and ends, and memory 0 read out (when
 * memory is not NULL). */
typedef struct snapshot_memories {
    uint32_t count;
    size_t first_end;           /* offset just past memory 0 */
    size_t end;                 /* offset just past every memory */
    uint64_t size;              /* memory 0's bytes */
} snapshot_memories;

static bool read_memories(const uint8_t *snap, size_t size, snapshot_memories *out,
                          uint8_t **memory, char *err, size_t err_size)
{
    if (memory)
        *memory = NULL;
    if (size < SNAPSHOT_HEADER + 4 + SNAPSHOT_CHECKSUM || memcmp(snap, "LQSN", 4))
        return failed(err, err_size, "the engine snapshot is not one (no LQSN header)");
    if (!checksum_ok(snap, size))
        return failed(err, err_size, "the engine snapshot's checksum does not match: it is "
                      "truncated or corrupted");
    reader r = {.data = snap, .size = size - SNAPSHOT_CHECKSUM, .at = SNAPSHOT_HEADER};
    *out = (snapshot_memories){.count = (uint32_t)get_le(&r, 4)};
    for (uint32_t m = 0; m < out->count && !r.short_read; m++) {
        uint32_t pages = (uint32_t)get_le(&r, 4);
        if (m == 0) {
            out->size = (uint64_t)pages * WASM_PAGE;
            if (out->size > CHECKPOINT_MAX_MEMORY)
                return failed(err, err_size, "the engine snapshot's memory of %u pages is "
                              "larger than 4 GiB", pages);
            if (memory && pages) {
                /* bounded by the input: every page takes at least one byte of it */
                if (pages > r.size - r.at)
                    return failed(err, err_size, "the engine snapshot is truncated in its "
                                  "memory");
                *memory = calloc(pages, WASM_PAGE);
                if (!*memory)
                    return failed(err, err_size, "out of memory for %u pages", pages);
            }
        }
        for (uint32_t p = 0; p < pages && !r.short_read; p++) {
            uint8_t present = (uint8_t)get_le(&r, 1);
            const uint8_t *bytes;
            if (present == 1 && take(&r, WASM_PAGE, &bytes) && m == 0 && memory)
                memcpy(*memory + (size_t)p * WASM_PAGE, bytes, WASM_PAGE);
            else if (present > 1)
                r.short_read = true;
        }
        if (m == 0)
            out->first_end = r.at;
    }
    if (r.short_read) {
        if (memory) {
            free(*memory);
            *memory = NULL;
        }
        return failed(err, err_size, "the engine snapshot's memory section is truncated or "
                      "malformed");
    }
    out->end = r.at;
    return true;
}

/* A saved state is a bare engine snapshot, or (what supervisors and `liquid run`
 * write) "LQSNAP1\0", u64 engine size, the engine snapshot, the WASI state. */
#define STATE_WRAPPER_MAGIC "LQSNAP1"
#define STATE_WRAPPER_HEADER 16

typedef struct saved_state {
    bool wrapped;
    const uint8_t *engine, *wasi;
    size_t engine_size, wasi_size;
} saved_state;

static bool state_split(const uint8_t *data, size_t size, saved_state *out, char *err,
                        size_t err_size)
{
    *out = (saved_state){.engine = data, .engine_size = size};
    if (size < STATE_WRAPPER_HEADER || memcmp(data, STATE_WRAPPER_MAGIC, 8))
        return true;
    reader r = {.data = data, .size = size, .at = 8};
    uint64_t n = get_le(&r, 8);
    if (n > size - STATE_WRAPPER_HEADER)
        return failed(err, err_size, "the saved state claims an engine snapshot of %llu bytes "
                      "in %zu", (unsigned long long)n, size);
    out->wrapped = true;
    out->engine = data + STATE_WRAPPER_HEADER;
    out->engine_size = (size_t)n;
    out->wasi = out->engine + n;
    out->wasi_size = size - STATE_WRAPPER_HEADER - (size_t)n;
    return true;
}

static const bundle_section *snapshot_of(const bundle_section *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i].kind == BUNDLE_KIND_SNAPSHOT)
            return &s[i];
    return NULL;
}

bool bundle_memory(const uint8_t *bundle, size_t size, uint8_t **memory, uint64_t *memory_size,
                   char *err, size_t err_size)
{
    bundle_section *s = NULL;
    size_t n = 0;
    *memory = NULL;
    *memory_size = 0;
    if (!bundle_parse(bundle, size, &s, &n, err, err_size))
        return false;
    const bundle_section *snap = snapshot_of(s, n);
    snapshot_memories mem;
    saved_state st;
    bool ok = snap ? state_split(snap->data, (size_t)snap->size, &st, err, err_size) &&
                         read_memories(st.engine, st.engine_size, &mem, memory, err, err_size)
                   : failed(err, err_size, "the state bundle has no engine snapshot");
    if (ok)
        *memory_size = mem.count ? mem.size : 0;
    free(s);
    return ok;
}

/* The engine snapshot `snap` (whose memory 0 has no pages) with memory 0 = memory. */
static bool splice_engine(const uint8_t *snap, size_t size, const uint8_t *memory,
                          uint64_t memory_size, uint8_t **out, size_t *out_size, char *err,
                          size_t err_size)
{
    snapshot_memories mem;
    if (!read_memories(snap, size, &mem, NULL, err, err_size))
        return false;
    if (mem.count == 0 && memory_size)
        return failed(err, err_size, "the checkpoint has %llu bytes of memory but its "
                      "engine snapshot has no memory", (unsigned long long)memory_size);
    if (mem.count && mem.size)
        return failed(err, err_size, "the checkpoint's engine snapshot carries its memory: "
                      "a checkpoint leaves it out (memory 0 of zero pages)");
    buffer b = {0};
    put(&b, snap, SNAPSHOT_HEADER + 4);
    if (mem.count) {
        uint32_t pages = (uint32_t)(memory_size / WASM_PAGE);
        put_le(&b, pages, 4);
        for (uint32_t p = 0; p < pages; p++) {
            const uint8_t *page = memory + (size_t)p * WASM_PAGE;
            bool zero = true;
            for (size_t i = 0; i < WASM_PAGE && zero; i++)
                zero = page[i] == 0;
            put_le(&b, zero ? 0 : 1, 1);
            if (!zero)
                put(&b, page, WASM_PAGE);
        }
        put(&b, snap + mem.first_end, size - SNAPSHOT_CHECKSUM - mem.first_end);
    } else {
        put(&b, snap + SNAPSHOT_HEADER + 4, size - SNAPSHOT_CHECKSUM - SNAPSHOT_HEADER - 4);
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!b.failed && EVP_Digest(b.data, b.size, digest, &n, EVP_sha256(), NULL))
        put(&b, digest, SNAPSHOT_CHECKSUM);
    else
        b.failed = true;
    if (b.failed) {
        free(b.data);
        return failed(err, err_size, "out of memory while rebuilding the snapshot");
    }
    *out = b.data;
    *out_size = b.size;
    return true;
}

/* A saved state (bare or wrapped) with its engine snapshot's memory put back. */
static bool splice_memory(const uint8_t *state, size_t size, const uint8_t *memory,
                          uint64_t memory_size, uint8_t **out, size_t *out_size, char *err,
                          size_t err_size)
{
    saved_state st;
    uint8_t *engine = NULL;
    size_t engine_size = 0;
    if (!state_split(state, size, &st, err, err_size) ||
        !splice_engine(st.engine, st.engine_size, memory, memory_size, &engine, &engine_size,
                       err, err_size))
        return false;
    if (!st.wrapped) {
        *out = engine;
        *out_size = engine_size;
        return true;
    }
    buffer b = {0};
    put(&b, STATE_WRAPPER_MAGIC, 8);    /* with its NUL */
    put_le(&b, engine_size, 8);
    put(&b, engine, engine_size);
    put(&b, st.wasi, st.wasi_size);
    free(engine);
    if (b.failed) {
        free(b.data);
        return failed(err, err_size, "out of memory while rebuilding the saved state");
    }
    *out = b.data;
    *out_size = b.size;
    return true;
}

/* ------------------------------------------------------------ LQCP */

bool checkpoint_apply(const uint8_t *base, size_t base_size, const uint8_t *cp, size_t cp_size,
                      uint8_t **out, size_t *out_size, uint64_t *memory_size_out, char *err,
                      size_t err_size)
{
    reader r = {.data = cp, .size = cp_size};
    const uint8_t *magic;
    if (!take(&r, 4, &magic) || memcmp(magic, "LQCP", 4))
        return failed(err, err_size, "not a checkpoint (it does not start with LQCP)");
    uint32_t version = (uint32_t)get_le(&r, 4);
    uint32_t chunk_size = (uint32_t)get_le(&r, 4);
    uint64_t memory_size = get_le(&r, 8);
    uint32_t n_chunks = (uint32_t)get_le(&r, 4);
    if (r.short_read)
        return failed(err, err_size, "the checkpoint is truncated in its header");
    if (version != 1)
        return failed(err, err_size, "checkpoint version %u is not known (1 is)", version);
    if (!chunk_size || WASM_PAGE % chunk_size)
        return failed(err, err_size, "chunk size %u does not divide a 64 KiB page", chunk_size);
    if (memory_size % WASM_PAGE || memory_size > CHECKPOINT_MAX_MEMORY)
        return failed(err, err_size, "memory size %llu is not a whole number of 64 KiB pages "
                      "up to 4 GiB", (unsigned long long)memory_size);
    if (n_chunks > (r.size - r.at) / ((uint64_t)chunk_size + 4))
        return failed(err, err_size, "the checkpoint claims %u chunks of %u bytes but is "
                      "only %zu bytes long", n_chunks, chunk_size, cp_size);
    uint8_t *memory = NULL;
    uint64_t base_memory_size = 0;
    if (base && !bundle_memory(base, base_size, &memory, &base_memory_size, err, err_size))
        return false;
    if (memory_size != base_memory_size) {
        /* the memory grew (or this is the first): zeros past what the base held;
         * calloc leaves untouched pages unmapped, so a large claim costs little */
        uint8_t *resized = memory_size ? calloc(1, (size_t)memory_size) : NULL;
        if (memory_size && !resized) {
            free(memory);
            return failed(err, err_size, "out of memory for %llu bytes of module memory",
                          (unsigned long long)memory_size);
        }
        if (resized && memory)
            memcpy(resized, memory, (size_t)(base_memory_size < memory_size ? base_memory_size
                                                                             : memory_size));
        free(memory);
        memory = resized;
    }
    uint64_t chunk_count = memory_size / chunk_size;
    for (uint32_t i = 0; i < n_chunks; i++) {
        uint32_t index = (uint32_t)get_le(&r, 4);
        const uint8_t *bytes = NULL;
        if (!take(&r, chunk_size, &bytes)) {
            free(memory);
            return failed(err, err_size, "the checkpoint is truncated in chunk %u", i);
        }
        if (index >= chunk_count) {
            free(memory);
            return failed(err, err_size, "chunk %u is past the memory's end (%llu chunks)",
                          index, (unsigned long long)chunk_count);
        }
        memcpy(memory + (size_t)index * chunk_size, bytes, chunk_size);
    }
    uint64_t rest_size = get_le(&r, 8);
    const uint8_t *rest = NULL;
    if (!r.short_read && rest_size != r.size - r.at) {
        free(memory);
        return failed(err, err_size, "the checkpoint's rest is %llu bytes but %zu follow",
                      (unsigned long long)rest_size, r.size - r.at);
    }
    if (!take(&r, (size_t)rest_size, &rest)) {
        free(memory);
        return failed(err, err_size, "the checkpoint is truncated");
    }
    bundle_section *s = NULL;
    size_t n = 0;
    if (!bundle_parse(rest, (size_t)rest_size, &s, &n, err, err_size)) {
        free(memory);
        return false;
    }
    bool ok = true;
    uint8_t *snap = NULL;
    size_t snap_size = 0;
    for (size_t i = 0; i < n && ok; i++)
        if (s[i].kind == BUNDLE_KIND_CALL)
            ok = failed(err, err_size, "a checkpoint carries no suspended call");
    bundle_section *engine = (bundle_section *)snapshot_of(s, n);
    if (ok && !engine)
        ok = failed(err, err_size, "the checkpoint's rest has no engine snapshot");
    if (ok)
        ok = splice_memory(engine->data, (size_t)engine->size, memory, memory_size, &snap,
                           &snap_size, err, err_size);
    if (ok) {
        engine->data = snap;
        engine->size = snap_size;
        ok = bundle_write(s, n, out, out_size) ||
             failed(err, err_size, "out of memory while writing the bundle");
    }
    if (ok && memory_size_out)
        *memory_size_out = memory_size;
    free(snap);
    free(s);
    free(memory);
    return ok;
}
