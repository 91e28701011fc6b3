/*
 * test_checkpoint.c — the supervisor's checkpoints (LQCP, docs/migration.md): a saved
 * state splits into its memory and a memory-less rest; the orchestrator's own code
 * (checkpoint_apply) rebuilds from a full checkpoint, and from an incremental one on
 * top of it, a bundle the engine restores to exactly the instance that was saved;
 * only changed chunks are sent, and taking only those from the live memory (with the
 * engine saving the rest) gives the same checkpoint; malformed ones are refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_exec_helpers.h"

#include "orchestrator/checkpoint.h"
#include "supervisor/lqcp.h"
#include "supervisor/state_bundle.h"

#include <stdlib.h>
#include <string.h>

typedef struct world {
    wasm_store *store;
    wasm_module *module;
    wasm_linker *linker;
    wasm_instance *instance;
    wasm_exec *exec;
} world;

static void world_open(world *w)
{
    w->store = wasm_store_new();
    w->module = load_wat_module("checkpoint_memory");
    w->linker = wasm_linker_new(w->store);
    w->instance = instantiate_or_fail(w->store, w->module, w->linker, NULL);
    w->exec = wasm_exec_new(w->store, NULL);
}

static void world_close(world *w)
{
    wasm_exec_free(w->exec);
    wasm_linker_free(w->linker);
    wasm_store_free(w->store);
    wasm_module_free(w->module);
}

static void poke(world *w, uint32_t addr, uint32_t value)
{
    wasm_value args[2] = {i32_value(addr), i32_value(value)};
    assert_int_equal(wasm_exec_call(w->exec, export_or_fail(w->instance, "poke"), args, 2),
                     WASM_STATUS_OK);
}

static uint32_t peek(world *w, uint32_t addr)
{
    return call_i32(w->exec, w->instance, "peek", (wasm_value[]){i32_value(addr)}, 1);
}

/* What the checkpointer does: split, list the chunks whose hash changed. */
typedef struct split {
    uint8_t *memory, *rest_state, *rest;
    uint64_t memory_size;
    size_t rest_state_size, rest_size;
} split;

static split split_instance(world *w)
{
    uint8_t *state;
    size_t size;
    wasm_error err = {0};
    assert_true(wasm_snapshot_save(w->instance, NULL, &state, &size, &err));
    split s = {0};
    char why[200];
    assert_true(lqcp_split_state(state, size, &s.memory, &s.memory_size, &s.rest_state,
                                 &s.rest_state_size, why, sizeof why));
    state_section section = {BUNDLE_STATE, "", s.rest_state, s.rest_state_size};
    assert_true(state_bundle_write(&section, 1, &s.rest, &s.rest_size));
    free(state);
    return s;
}

static void split_free(split *s)
{
    free(s->memory);
    free(s->rest_state);
    free(s->rest);
}

static size_t changed_chunks(const uint8_t *before, const uint8_t *after, uint64_t size,
                             uint32_t *out)
{
    size_t n = 0;
    for (uint32_t i = 0; (uint64_t)i * LQCP_CHUNK < size; i++) {
        uint64_t was = before ? lqcp_chunk_hash(before + (size_t)i * LQCP_CHUNK, LQCP_CHUNK)
                              : 0;
        static const uint8_t zero[LQCP_CHUNK];
        if (!before)
            was = lqcp_chunk_hash(zero, LQCP_CHUNK);
        if (lqcp_chunk_hash(after + (size_t)i * LQCP_CHUNK, LQCP_CHUNK) != was)
            out[n++] = i;
    }
    return n;
}

/* Restores a full bundle from the orchestrator into a fresh instance. */
static void restore_into_fresh(const uint8_t *bundle, size_t size, world *fresh)
{
    state_bundle b;
    char why[300];
    if (!state_bundle_read(bundle, size, &b, why, sizeof why))
        fail_msg("%s", why);
    world_open(fresh);
    wasm_error err = {0};
    if (!wasm_snapshot_restore(fresh->instance, NULL, b.state->data, (size_t)b.state->size, &err))
        fail_msg("%s", err.message);
    state_bundle_free(&b);
}

static void full_then_incremental_rebuild_the_instance(void **unused)
{
    (void)unused;
    world w;
    world_open(&w);
    poke(&w, 100, 41);
    poke(&w, 70000, 7);         /* the second page */
    split one = split_instance(&w);
    assert_int_equal(one.memory_size, 4 * 65536);
    uint64_t size;
    uint8_t *live = wasm_instance_memory(w.instance, &size);
    assert_memory_equal(one.memory, live, size);

    uint32_t chunks[64];
    size_t n = changed_chunks(NULL, one.memory, one.memory_size, chunks);
    assert_int_equal(n, 2);     /* only the chunks that are not zero */
    uint8_t *cp, *full;
    size_t cp_size, full_size;
    uint64_t memory_size;
    char err[300];
    assert_true(lqcp_write(one.memory, one.memory_size, chunks, n, one.rest, one.rest_size, &cp,
                           &cp_size));
    if (!checkpoint_apply(NULL, 0, cp, cp_size, &full, &full_size, &memory_size, err,
                          sizeof err))
        fail_msg("the orchestrator refused the checkpoint: %s", err);
    assert_int_equal(memory_size, one.memory_size);
    world fresh;
    restore_into_fresh(full, full_size, &fresh);
    assert_int_equal(peek(&fresh, 100), 41);
    assert_int_equal(peek(&fresh, 70000), 7);
    assert_int_equal(call_i32(fresh.exec, fresh.instance, "pokes", NULL, 0), 2);
    world_close(&fresh);
    free(cp);

    /* one more change: one chunk travels, applied on the full bundle */
    poke(&w, 200000, 99);
    split two = split_instance(&w);
    n = changed_chunks(one.memory, two.memory, two.memory_size, chunks);
    assert_int_equal(n, 1);
    assert_int_equal(chunks[0], 200000 / LQCP_CHUNK);
    uint8_t *full2;
    size_t full2_size;
    assert_true(lqcp_write(two.memory, two.memory_size, chunks, n, two.rest, two.rest_size, &cp,
                           &cp_size));
    assert_true(cp_size < 3 * LQCP_CHUNK + two.rest_size);
    if (!checkpoint_apply(full, full_size, cp, cp_size, &full2, &full2_size, &memory_size, err,
                          sizeof err))
        fail_msg("the orchestrator refused the incremental checkpoint: %s", err);
    restore_into_fresh(full2, full2_size, &fresh);
    assert_int_equal(peek(&fresh, 100), 41);
    assert_int_equal(peek(&fresh, 200000), 99);
    assert_int_equal(call_i32(fresh.exec, fresh.instance, "pokes", NULL, 0), 3);
    world_close(&fresh);
    free(cp);
    free(full);
    free(full2);
    split_free(&one);
    split_free(&two);
    world_close(&w);
}

static void unchanged_memory_sends_no_chunk(void **unused)
{
    (void)unused;
    world w;
    world_open(&w);
    poke(&w, 8, 1);
    split a = split_instance(&w);
    (void)peek(&w, 8);
    split b = split_instance(&w);
    uint32_t chunks[64];
    assert_int_equal(changed_chunks(a.memory, b.memory, b.memory_size, chunks), 0);
    assert_int_equal(a.rest_size, b.rest_size);
    assert_memory_equal(a.rest, b.rest, a.rest_size);
    split_free(&a);
    split_free(&b);
    world_close(&w);
}

/* What the supervisor's checkpointer does under the module lock: the engine saves
 * all but memory 0, and only the chunks that changed are copied out of the live
 * memory. The result must be byte for byte what splitting a full save gives, and the
 * orchestrator must rebuild the instance from it. */
static void taking_only_changed_chunks_gives_the_same_checkpoint(void **unused)
{
    (void)unused;
    world w;
    world_open(&w);
    poke(&w, 100, 41);
    split one = split_instance(&w);
    poke(&w, 140000, 5);        /* the third page: one chunk changes */
    split two = split_instance(&w);

    uint8_t *rest_state;
    size_t rest_state_size;
    wasm_error werr = {0};
    assert_true(wasm_snapshot_save_without_memory0(w.instance, NULL, &rest_state,
                                                   &rest_state_size, &werr));
    assert_int_equal(rest_state_size, two.rest_state_size);
    assert_memory_equal(rest_state, two.rest_state, rest_state_size);

    uint64_t size;
    const uint8_t *live = wasm_instance_memory(w.instance, &size);
    uint32_t chunks[64];
    size_t n = changed_chunks(one.memory, live, size, chunks);
    assert_int_equal(n, 1);
    uint8_t packed[LQCP_CHUNK];
    memcpy(packed, live + (size_t)chunks[0] * LQCP_CHUNK, LQCP_CHUNK);
    uint8_t *from_packed, *from_memory;
    size_t packed_size, memory_size_written;
    assert_true(lqcp_write_packed(size, chunks, packed, n, two.rest, two.rest_size,
                                  &from_packed, &packed_size));
    assert_true(lqcp_write(two.memory, two.memory_size, chunks, n, two.rest, two.rest_size,
                           &from_memory, &memory_size_written));
    assert_int_equal(packed_size, memory_size_written);
    assert_memory_equal(from_packed, from_memory, packed_size);

    /* the orchestrator rebuilds the instance from it on top of the first checkpoint */
    uint32_t first[64];
    size_t first_n = changed_chunks(NULL, one.memory, one.memory_size, first);
    uint8_t *cp, *base, *full;
    size_t cp_size, base_size, full_size;
    uint64_t memory_size;
    char err[300];
    assert_true(lqcp_write(one.memory, one.memory_size, first, first_n, one.rest, one.rest_size,
                           &cp, &cp_size));
    if (!checkpoint_apply(NULL, 0, cp, cp_size, &base, &base_size, &memory_size, err,
                          sizeof err))
        fail_msg("the orchestrator refused the full checkpoint: %s", err);
    if (!checkpoint_apply(base, base_size, from_packed, packed_size, &full, &full_size,
                          &memory_size, err, sizeof err))
        fail_msg("the orchestrator refused the packed checkpoint: %s", err);
    world fresh;
    restore_into_fresh(full, full_size, &fresh);
    assert_int_equal(peek(&fresh, 100), 41);
    assert_int_equal(peek(&fresh, 140000), 5);
    assert_int_equal(call_i32(fresh.exec, fresh.instance, "pokes", NULL, 0), 2);
    world_close(&fresh);
    free(cp);
    free(base);
    free(full);
    free(from_packed);
    free(from_memory);
    free(rest_state);
    split_free(&one);
    split_free(&two);
    world_close(&w);
}

static void malformed_checkpoints_refused(void **unused)
{
    (void)unused;
    uint8_t memory[2 * LQCP_CHUNK] = {1};
    uint32_t chunks[] = {1};
    const uint8_t rest[] = "REST";
    uint8_t *cp;
    size_t size;
    assert_true(lqcp_write(memory, sizeof memory, chunks, 1, rest, 4, &cp, &size));
    lqcp_view v;
    char err[200];
    assert_true(lqcp_read(cp, size, &v, err, sizeof err));
    assert_int_equal(v.chunk_count, 1);
    assert_int_equal(v.rest_size, 4);
    assert_memory_equal(v.rest, "REST", 4);
    for (size_t cut = 0; cut < size; cut++)
        assert_false(lqcp_read(cp, cut, &v, err, sizeof err));
    cp[20] = 9;                 /* more chunks than there are bytes */
    assert_false(lqcp_read(cp, size, &v, err, sizeof err));
    assert_non_null(strstr(err, "truncated"));
    cp[20] = 1;
    cp[24] = 5;                 /* chunk 5 of a memory of 2 */
    assert_false(lqcp_read(cp, size, &v, err, sizeof err));
    assert_non_null(strstr(err, "past the memory"));
    cp[24] = 1;
    cp[0] = 'X';
    assert_false(lqcp_read(cp, size, &v, err, sizeof err));
    assert_non_null(strstr(err, "LQCP"));
    free(cp);
    uint8_t *m, *r;
    uint64_t ms;
    size_t rs;
    assert_false(lqcp_split_state((const uint8_t *)"LQSNAP1\0\xff\0\0\0\0\0\0\0", 16, &m, &ms,
                                  &r, &rs, err, sizeof err));
    assert_false(lqcp_split_state((const uint8_t *)"not a snapshot", 14, &m, &ms, &r, &rs, err,
                                  sizeof err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_then_incremental_rebuild_the_instance),
        cmocka_unit_test(unchanged_memory_sends_no_chunk),
        cmocka_unit_test(taking_only_changed_chunks_gives_the_same_checkpoint),
        cmocka_unit_test(malformed_checkpoints_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
