/*
 * test_orch_checkpoint.c — a checkpoint applied to its base gives the full state: a
 * first checkpoint (no base) of a module's memory, restored by the engine into a fresh
 * instance, gives back that memory; a second one carrying only the chunks that changed,
 * applied to the first, gives the changed memory (and nothing else moves); the WASI
 * state and files ride along unchanged. Every malformed checkpoint or bundle is
 * refused with a sentence saying what is wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "orchestrator/checkpoint.h"
#include "wasm/wasm.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 65536u
#define CHUNK 4096u

/* (module (memory (export "memory") 2)) */
static const uint8_t module_bytes[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,                   /* header */
    0x05, 0x03, 0x01, 0x00, 0x02,                                     /* memory min 2 */
    0x07, 0x0a, 0x01, 0x06, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00, /* export */
};

typedef struct world {
    wasm_store *store;
    wasm_module *module;
    wasm_linker *linker;
    wasm_instance *instance;
} world;

static void world_open(world *w)
{
    wasm_error err;
    w->store = wasm_store_new();
    w->module = wasm_module_load(module_bytes, sizeof module_bytes, &err);
    assert_non_null(w->module);
    w->linker = wasm_linker_new(w->store);
    w->instance = wasm_instantiate(w->store, w->module, w->linker, NULL, NULL, &err);
    assert_non_null(w->instance);
}

static void world_close(world *w)
{
    wasm_linker_free(w->linker);
    wasm_store_free(w->store);
    wasm_module_free(w->module);
}

static uint8_t *memory_of(world *w, uint64_t *size)
{
    uint8_t *m = wasm_instance_memory(w->instance, size);
    assert_non_null(m);
    return m;
}

/* ------------------------------------------------------------ building inputs */

typedef struct bytes {
    uint8_t *data;
    size_t size;
} bytes;

static void append(bytes *b, const void *data, size_t n)
{
    b->data = realloc(b->data, b->size + n + 1);
    assert_non_null(b->data);
    memcpy(b->data + b->size, data, n);
    b->size += n;
}

static void append_le(bytes *b, uint64_t v, size_t n)
{
    uint8_t out[8];
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(v >> (8 * i));
    append(b, out, n);
}

/* The engine snapshot with memory 0 cut to zero pages (as a supervisor's checkpoint
 * sends it): header, count, memory 0 -> pages 0, the rest, a new checksum. */
static bytes strip_memory(const uint8_t *snap, size_t size)
{
    size_t at = 44;
    uint32_t count = snap[at] | snap[at + 1] << 8 | snap[at + 2] << 16 | (uint32_t)snap[at + 3] << 24;
    assert_true(count >= 1);
    at += 4;
    uint32_t pages = snap[at] | snap[at + 1] << 8 | snap[at + 2] << 16 | (uint32_t)snap[at + 3] << 24;
    at += 4;
    for (uint32_t p = 0; p < pages; p++)
        at += snap[at] ? 1 + PAGE : 1;
    bytes b = {0};
    append(&b, snap, 48);
    append_le(&b, 0, 4);
    append(&b, snap + at, size - 32 - at);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(b.data, b.size, digest, &n, EVP_sha256(), NULL);
    append(&b, digest, 32);
    return b;
}

/* "LQSNAP1\0" + engine + wasi, as supervisors save a module's state. */
static bytes wrap_state(const bytes *engine, const char *wasi)
{
    bytes b = {0};
    append(&b, "LQSNAP1", 8);
    append_le(&b, engine->size, 8);
    append(&b, engine->data, engine->size);
    append(&b, wasi, strlen(wasi));
    return b;
}

static bytes bundle_of(const bytes *state, const char *file_name, const char *file_text)
{
    bundle_section s[2] = {
        {.kind = BUNDLE_KIND_SNAPSHOT, .name = "", .data = state->data, .size = state->size},
        {.kind = BUNDLE_KIND_FILE, .name = file_name, .name_len = (uint32_t)strlen(file_name),
         .data = (const uint8_t *)file_text, .size = strlen(file_text)},
    };
    bytes b = {0};
    assert_true(bundle_write(s, 2, &b.data, &b.size));
    return b;
}

/* An LQCP: the chunks of memory whose index is listed, and the rest. */
static bytes checkpoint_of(const uint8_t *memory, uint64_t memory_size, const uint32_t *chunks,
                           size_t n, const bytes *rest)
{
    bytes b = {0};
    append(&b, "LQCP", 4);
    append_le(&b, 1, 4);
    append_le(&b, CHUNK, 4);
    append_le(&b, memory_size, 8);
    append_le(&b, n, 4);
    for (size_t i = 0; i < n; i++) {
        append_le(&b, chunks[i], 4);
        append(&b, memory + (size_t)chunks[i] * CHUNK, CHUNK);
    }
    append_le(&b, rest->size, 8);
    append(&b, rest->data, rest->size);
    return b;
}

/* The rest of a world's state: its snapshot without memory, wrapped, with a file. */
static bytes rest_of(world *w, const char *wasi, const char *file_text)
{
    uint8_t *snap = NULL;
    size_t size = 0;
    wasm_error err;
    assert_true(wasm_snapshot_save(w->instance, NULL, &snap, &size, &err));
    bytes engine = strip_memory(snap, size);
    bytes state = wrap_state(&engine, wasi);
    bytes rest = bundle_of(&state, "notes.txt", file_text);
    free(snap);
    free(engine.data);
    free(state.data);
    return rest;
}

/* Restores a full bundle's engine snapshot into a fresh world; checks the other
 * sections; returns the world (the caller closes it). */
static void restore(const uint8_t *full, size_t size, world *w, const char *wasi,
                    const char *file_text)
{
    bundle_section *s = NULL;
    size_t n = 0;
    char err[256];
    assert_true(bundle_parse(full, size, &s, &n, err, sizeof err));
    assert_int_equal(n, 2);
    assert_int_equal(s[0].kind, BUNDLE_KIND_SNAPSHOT);
    assert_memory_equal(s[0].data, "LQSNAP1", 8);
    uint64_t engine_size = 0;
    for (int i = 0; i < 8; i++)
        engine_size |= (uint64_t)s[0].data[8 + i] << (8 * i);
    assert_int_equal(s[0].size - 16 - engine_size, strlen(wasi));
    assert_memory_equal(s[0].data + 16 + engine_size, wasi, strlen(wasi));
    assert_int_equal(s[1].kind, BUNDLE_KIND_FILE);
    assert_int_equal(s[1].size, strlen(file_text));
    assert_memory_equal(s[1].data, file_text, strlen(file_text));
    world_open(w);
    wasm_error werr;
    assert_true(wasm_snapshot_restore(w->instance, NULL, s[0].data + 16, (size_t)engine_size,
                                      &werr));
    free(s);
}

/* ------------------------------------------------------------ tests */

static void full_then_incremental(void **state)
{
    (void)state;
    world src;
    world_open(&src);
    uint64_t size = 0;
    uint8_t *m = memory_of(&src, &size);
    assert_int_equal(size, 2 * PAGE);
    memcpy(m + 5, "counter=41", 10);
    memset(m + PAGE + 3 * CHUNK, 0xab, CHUNK);      /* chunk 19 */

    /* the first: every non-zero chunk, no base */
    bytes rest = rest_of(&src, "wasi-1", "first");
    uint32_t first_chunks[] = {0, 19};
    bytes cp1 = checkpoint_of(m, size, first_chunks, 2, &rest);
    uint8_t *full1 = NULL;
    size_t full1_size = 0;
    uint64_t memory_size = 0;
    char err[256] = "";
    assert_true(checkpoint_apply(NULL, 0, cp1.data, cp1.size, &full1, &full1_size, &memory_size,
                                 err, sizeof err));
    assert_int_equal(memory_size, 2 * PAGE);
    world a;
    restore(full1, full1_size, &a, "wasi-1", "first");
    uint64_t a_size = 0;
    assert_memory_equal(memory_of(&a, &a_size), m, 2 * PAGE);
    world_close(&a);

    /* the second: one changed chunk, on the first */
    memcpy(m + 5, "counter=42", 10);
    bytes rest2 = rest_of(&src, "wasi-2", "second");
    uint32_t changed[] = {0};
    bytes cp2 = checkpoint_of(m, size, changed, 1, &rest2);
    assert_true(cp2.size < cp1.size);
    uint8_t *full2 = NULL;
    size_t full2_size = 0;
    assert_true(checkpoint_apply(full1, full1_size, cp2.data, cp2.size, &full2, &full2_size,
                                 &memory_size, err, sizeof err));
    world b;
    restore(full2, full2_size, &b, "wasi-2", "second");
    uint64_t b_size = 0;
    uint8_t *restored = memory_of(&b, &b_size);
    assert_memory_equal(restored, m, 2 * PAGE);     /* chunk 19 came from the base */
    assert_memory_equal(restored + 5, "counter=42", 10);
    assert_int_equal(restored[PAGE + 3 * CHUNK], 0xab);
    world_close(&b);

    /* the same without the base loses chunk 19: the base mattered */
    uint8_t *alone = NULL;
    size_t alone_size = 0;
    assert_true(checkpoint_apply(NULL, 0, cp2.data, cp2.size, &alone, &alone_size, &memory_size,
                                 err, sizeof err));
    uint8_t *alone_memory = NULL;
    assert_true(bundle_memory(alone, alone_size, &alone_memory, &memory_size, err, sizeof err));
    assert_int_equal(alone_memory[PAGE + 3 * CHUNK], 0);

    free(alone);
    free(alone_memory);
    free(full1);
    free(full2);
    free(rest.data);
    free(rest2.data);
    free(cp1.data);
    free(cp2.data);
    world_close(&src);
}

static void memory_that_grew_is_zero_past_the_base(void **state)
{
    (void)state;
    world src;
    world_open(&src);
    uint64_t size = 0;
    uint8_t *m = memory_of(&src, &size);
    m[0] = 7;
    bytes rest = rest_of(&src, "", "x");
    uint32_t first[] = {0};
    bytes cp = checkpoint_of(m, size, first, 1, &rest);
    uint8_t *full = NULL, *memory = NULL;
    size_t full_size = 0;
    uint64_t memory_size = 0;
    char err[256];
    assert_true(checkpoint_apply(NULL, 0, cp.data, cp.size, &full, &full_size, &memory_size, err,
                                 sizeof err));
    assert_true(bundle_memory(full, full_size, &memory, &memory_size, err, sizeof err));
    assert_int_equal(memory_size, 2 * PAGE);
    assert_int_equal(memory[0], 7);
    for (size_t i = 1; i < 2 * PAGE; i++)
        if (memory[i])
            fail_msg("byte %zu is %u, not 0", i, memory[i]);
    free(memory);
    free(full);
    free(cp.data);
    free(rest.data);
    world_close(&src);
}

/* Each case: the checkpoint made good, then broken one way; the sentence names it. */
static void malformed_inputs_are_refused(void **state)
{
    (void)state;
    world src;
    world_open(&src);
    uint64_t size = 0;
    uint8_t *m = memory_of(&src, &size);
    bytes rest = rest_of(&src, "w", "f");
    uint32_t chunks[] = {1};
    bytes good = checkpoint_of(m, size, chunks, 1, &rest);
    uint8_t *out = NULL;
    size_t out_size = 0;
    uint64_t msize = 0;
    char err[256];

#define REFUSED(data, n, words)                                                              \
    do {                                                                                     \
        err[0] = '\0';                                                                       \
        assert_false(checkpoint_apply(NULL, 0, (data), (n), &out, &out_size, &msize, err,   \
                                      sizeof err));                                          \
        if (!strstr(err, (words)))                                                           \
            fail_msg("expected '%s' in: %s", (words), err);                                  \
    } while (0)

    bytes b = {0};
    append(&b, good.data, good.size);
    b.data[0] = 'X';
    REFUSED(b.data, b.size, "not a checkpoint");
    memcpy(b.data, good.data, good.size);
    b.data[4] = 2;
    REFUSED(b.data, b.size, "version 2");
    memcpy(b.data, good.data, good.size);
    b.data[8] = 0x00, b.data[9] = 0x30;             /* chunk size 12288 */
    REFUSED(b.data, b.size, "does not divide");
    memcpy(b.data, good.data, good.size);
    b.data[24] = 1;                                 /* chunk index 1 -> past 32 chunks? */
    b.data[26] = 1;                                 /* index 65537 */
    REFUSED(b.data, b.size, "past the memory's end");
    REFUSED(good.data, 30, "claims 1 chunks");
    REFUSED(good.data, good.size - 1, "rest is");
    /* a snapshot whose checksum does not match */
    bytes saved = {0};
    {
        uint8_t *snap = NULL;
        size_t snap_size = 0;
        wasm_error werr;
        assert_true(wasm_snapshot_save(src.instance, NULL, &snap, &snap_size, &werr));
        bytes engine = strip_memory(snap, snap_size);
        engine.data[46] ^= 1;
        saved = wrap_state(&engine, "");
        free(snap);
        free(engine.data);
    }
    bytes bad_rest = bundle_of(&saved, "f", "x");
    bytes bad = checkpoint_of(m, size, chunks, 1, &bad_rest);
    REFUSED(bad.data, bad.size, "checksum does not match");
    /* a rest that carries a call */
    bundle_section with_call[2] = {
        {.kind = BUNDLE_KIND_SNAPSHOT, .name = "", .data = saved.data, .size = saved.size},
        {.kind = BUNDLE_KIND_CALL, .name = "r1", .name_len = 2, .data = (const uint8_t *)"{}",
         .size = 2},
    };
    bytes call_rest = {0};
    assert_true(bundle_write(with_call, 2, &call_rest.data, &call_rest.size));
    bytes call = checkpoint_of(m, size, chunks, 1, &call_rest);
    REFUSED(call.data, call.size, "no suspended call");
    /* a section of a kind no one knows */
    bundle_section odd = {.kind = 9, .name = "", .data = (const uint8_t *)"x", .size = 1};
    bytes odd_bundle = {0};
    assert_true(bundle_write(&odd, 1, &odd_bundle.data, &odd_bundle.size));
    bundle_section *parsed = NULL;
    size_t parsed_count = 0;
    assert_false(bundle_parse(odd_bundle.data, odd_bundle.size, &parsed, &parsed_count, err,
                              sizeof err));
    assert_non_null(strstr(err, "unknown kind 9"));
    free(odd_bundle.data);
    /* a file name that climbs out */
    bytes climb = bundle_of(&rest, "../etc", "x");
    bundle_section *s = NULL;
    size_t n = 0;
    assert_false(bundle_parse(climb.data, climb.size, &s, &n, err, sizeof err));
    assert_non_null(strstr(err, "not plain names joined by '/'"));
    /* an unknown base: a bundle that is not one */
    assert_false(checkpoint_apply((const uint8_t *)"LQSBxxxx", 8, good.data, good.size, &out,
                                  &out_size, &msize, err, sizeof err));
    assert_non_null(strstr(err, "truncated"));
#undef REFUSED
    free(b.data);
    free(good.data);
    free(rest.data);
    free(saved.data);
    free(bad_rest.data);
    free(bad.data);
    free(call_rest.data);
    free(call.data);
    free(climb.data);
    world_close(&src);
}

/* A bundle of the module state, a directory and a file or directory at `path`. */
static bytes bundle_with_path(const bytes *state, uint8_t kind, const char *path)
{
    bundle_section s[3] = {
        {.kind = BUNDLE_KIND_SNAPSHOT, .name = "", .data = state->data, .size = state->size},
        {.kind = BUNDLE_KIND_DIRECTORY, .name = "logs", .name_len = 4},
        {.kind = kind, .name = path, .name_len = (uint32_t)strlen(path),
         .data = (const uint8_t *)"entry", .size = kind == BUNDLE_KIND_FILE ? 5 : 0},
    };
    bytes b = {0};
    assert_true(bundle_write(s, 3, &b.data, &b.size));
    return b;
}

/* Supervisors carry subdirectories (kind 4, paths joined by '/'): a checkpoint with
 * them is kept whole, and a path a supervisor would refuse is refused here too. */
static void paths_and_directories_in_the_rest(void **state)
{
    (void)state;
    world src;
    world_open(&src);
    uint64_t size = 0;
    uint8_t *m = memory_of(&src, &size);
    m[0] = 9;
    uint8_t *snap = NULL;
    size_t snap_size = 0;
    wasm_error werr;
    assert_true(wasm_snapshot_save(src.instance, NULL, &snap, &snap_size, &werr));
    bytes engine = strip_memory(snap, snap_size);
    bytes saved = wrap_state(&engine, "");
    char err[256] = "";

    /* accepted: nested file and an empty directory survive a checkpoint */
    bytes rest = bundle_with_path(&saved, BUNDLE_KIND_FILE, "logs/2024/today.txt");
    uint32_t first[] = {0};
    bytes cp = checkpoint_of(m, size, first, 1, &rest);
    uint8_t *full = NULL;
    size_t full_size = 0;
    uint64_t memory_size = 0;
    assert_true(checkpoint_apply(NULL, 0, cp.data, cp.size, &full, &full_size, &memory_size,
                                 err, sizeof err));
    bundle_section *s = NULL;
    size_t n = 0;
    assert_true(bundle_parse(full, full_size, &s, &n, err, sizeof err));
    assert_int_equal(n, 3);
    assert_int_equal(s[1].kind, BUNDLE_KIND_DIRECTORY);
    assert_int_equal(s[1].name_len, 4);
    assert_memory_equal(s[1].name, "logs", 4);
    assert_int_equal(s[2].kind, BUNDLE_KIND_FILE);
    assert_int_equal(s[2].name_len, strlen("logs/2024/today.txt"));
    assert_memory_equal(s[2].name, "logs/2024/today.txt", s[2].name_len);
    assert_memory_equal(s[2].data, "entry", 5);
    free(s);
    bytes empty_dir = bundle_with_path(&saved, BUNDLE_KIND_DIRECTORY, "logs/empty");
    assert_true(bundle_parse(empty_dir.data, empty_dir.size, &s, &n, err, sizeof err));
    free(s);

    /* refused: what is not plain names joined by '/', or too long */
    char longest[1100];
    memset(longest, 'a', sizeof longest);
    for (size_t i = 100; i < sizeof longest; i += 101)
        longest[i] = '/';
    longest[1024] = 0;      /* 1024 bytes: the most a path may have */
    bytes fits = bundle_with_path(&saved, BUNDLE_KIND_FILE, longest);
    assert_true(bundle_parse(fits.data, fits.size, &s, &n, err, sizeof err));
    free(s);
    free(fits.data);
    longest[1024] = 'a';
    longest[1025] = 0;
    const char *bad[] = {"/etc/passwd", "logs/../../etc", "..", "a//b", "a/", ".", "a/./b",
                         "a\\b", "a/\x01", longest};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        for (uint8_t kind = BUNDLE_KIND_FILE; kind <= BUNDLE_KIND_DIRECTORY; kind += 2) {
            bytes b = bundle_with_path(&saved, kind, bad[i]);
            err[0] = 0;
            if (bundle_parse(b.data, b.size, &s, &n, err, sizeof err))
                fail_msg("path '%s' (kind %u) was accepted", bad[i], kind);
            assert_non_null(strstr(err, "not plain names joined by '/'"));
            free(b.data);
        }
    /* refused: a directory with bytes */
    bundle_section dir_with_bytes[2] = {
        {.kind = BUNDLE_KIND_SNAPSHOT, .name = "", .data = saved.data, .size = saved.size},
        {.kind = BUNDLE_KIND_DIRECTORY, .name = "logs", .name_len = 4,
         .data = (const uint8_t *)"x", .size = 1},
    };
    bytes odd = {0};
    assert_true(bundle_write(dir_with_bytes, 2, &odd.data, &odd.size));
    assert_false(bundle_parse(odd.data, odd.size, &s, &n, err, sizeof err));
    assert_non_null(strstr(err, "directory that carries bytes"));

    free(odd.data);
    free(empty_dir.data);
    free(full);
    free(cp.data);
    free(rest.data);
    free(saved.data);
    free(engine.data);
    free(snap);
    world_close(&src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_then_incremental),
        cmocka_unit_test(memory_that_grew_is_zero_past_the_base),
        cmocka_unit_test(malformed_inputs_are_refused),
        cmocka_unit_test(paths_and_directories_in_the_rest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
