/*
 * snapshot.c — an instance (and a call stopped at a safe point) <-> bytes.
 *
 * Format, all integers little-endian, no pointers:
 *
 *   "LQSN"  u32 version  u8[32] module SHA-256  u32 flags (bit 0: holds a call)
 *   memories  u32 count, each: u32 pages, then per page u8 0 (all zeros) or
 *             u8 1 + 65536 bytes
 *   globals   u32 count, each: u8 type, u8 mutable, u64 value
 *   tables    u32 count, each: u8 element type, u32 size, size x u64
 *   segments  u32 data count + one byte per data segment (1 = dropped),
 *             u32 elem count + one byte per elem segment
 *   call      u8 fuel limited, u64 fuel remaining, u64 fuel used (restore keeps
 *             counting the fuel used; the restoring exec's own limit governs the
 *             rest), u32 frames,
 *             each frame: u32 function index, u8 safe-point kind, u32 Wasm offset
 *             of the safe point, u32 locals (params included), u32 operand height,
 *             then the locals and the operand stack as u64 each
 *   u8[32]  SHA-256 of everything before it
 *
 * References are written as numbers: a funcref as 1 + its index in the instance's
 * function index space (0 is null), an externref as its 64-bit value. A frame
 * records where it stands as the Wasm byte offset of its safe point, never as an
 * internal position, so the snapshot outlives this build of the compiler.
 */
#include "wasm/exec.h"

#include <stdlib.h>
#include <string.h>

#define SNAPSHOT_MAGIC "LQSN"
#define SNAPSHOT_VERSION 1u
#define HEADER_SIZE (4 + 4 + 32 + 4)
#define CHECKSUM_SIZE 32
#define FLAG_HAS_CALL 1u

/* ------------------------------------------------------------------ writing */

typedef struct writer {
    uint8_t *data;
    size_t size, cap;
    bool failed;
} writer;

static void put_bytes(writer *w, const void *bytes, size_t n)
{
    if (w->failed)
        return;
    if (w->size + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->size + n)
            cap *= 2;
        uint8_t *grown = realloc(w->data, cap);
        if (!grown) {
            w->failed = true;
            return;
        }
        w->data = grown;
        w->cap = cap;
    }
    memcpy(w->data + w->size, bytes, n);
    w->size += n;
}

static void put_u8(writer *w, uint8_t v)
{
    put_bytes(w, &v, 1);
}

static void put_u32(writer *w, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put_bytes(w, b, 4);
}

static void put_u64(writer *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put_bytes(w, b, 8);
}

/* ------------------------------------------------------------------ reading */

typedef struct reader {
    const uint8_t *p, *end;
    bool failed;
} reader;

static bool take(reader *r, size_t n, const uint8_t **out)
{
    if (r->failed || (size_t)(r->end - r->p) < n) {
        r->failed = true;
        return false;
    }
    *out = r->p;
    r->p += n;
    return true;
}

static uint8_t get_u8(reader *r)
{
    const uint8_t *b;
    return take(r, 1, &b) ? b[0] : 0;
}

static uint32_t get_u32(reader *r)
{
    const uint8_t *b;
    if (!take(r, 4, &b))
        return 0;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t get_u64(reader *r)
{
    const uint8_t *b;
    if (!take(r, 8, &b))
        return 0;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

/* ------------------------------------------------------------- references */

static bool is_ref(uint8_t type)
{
    return type == WASM_FUNCREF;
}

/* A funcref as 1 + its index in the instance's function index space. */
static bool encode_cell(const wasm_instance *instance, uint8_t type, wasm_slot cell,
                        uint64_t *out, wasm_error *err)
{
    if (!is_ref(type) || cell == 0) {
        *out = cell;
        return true;
    }
    const wasm_func *func = (const wasm_func *)(uintptr_t)cell;
    if (func->instance == instance) {
        *out = (uint64_t)func->index + 1;
        return true;
    }
    for (uint32_t i = 0; i < instance->module->func_import_count; i++)
        if (instance->funcs[i] == func) {
            *out = (uint64_t)i + 1;
            return true;
        }
    return wasm_fail(err, WASM_ERR_SNAPSHOT,
                     "cannot snapshot a reference to a function of another instance or a host "
                     "function that this instance does not import");
}

static bool decode_cell(const wasm_instance *instance, uint8_t type, uint64_t value,
                        wasm_slot *out, wasm_error *err)
{
    if (!is_ref(type) || value == 0) {
        *out = value;
        return true;
    }
    if (value > instance->module->func_count)
        return wasm_fail(err, WASM_ERR_SNAPSHOT,
                         "corrupt snapshot: function reference %llu out of range",
                         (unsigned long long)value);
    *out = (wasm_slot)(uintptr_t)instance->funcs[value - 1];
    return true;
}

/* -------------------------------------------------------------------- save */

static void save_memories(writer *w, const wasm_instance *instance, bool without_memory0)
{
    uint32_t count = instance->module->memory_count;
    put_u32(w, count);
    for (uint32_t m = 0; m < count; m++) {
        const wasm_memory_inst *memory = instance->memories[m];
        if (m == 0 && without_memory0) {
            put_u32(w, 0);      /* the caller keeps memory 0's bytes its own way */
            continue;
        }
        put_u32(w, memory->pages);
        for (uint32_t page = 0; page < memory->pages; page++) {
            const uint8_t *bytes = memory->data + (size_t)page * WASM_PAGE_SIZE;
            bool zero = true;
            for (size_t i = 0; i < WASM_PAGE_SIZE && zero; i++)
                zero = bytes[i] == 0;
            put_u8(w, zero ? 0 : 1);
            if (!zero)
                put_bytes(w, bytes, WASM_PAGE_SIZE);
        }
    }
}

static bool save_globals(writer *w, const wasm_instance *instance, wasm_error *err)
{
    uint32_t count = instance->module->global_count;
    put_u32(w, count);
    for (uint32_t g = 0; g < count; g++) {
        const wasm_global_inst *global = instance->globals[g];
        uint64_t value;
        if (!encode_cell(instance, global->type, global->value, &value, err))
            return false;
        put_u8(w, global->type);
        put_u8(w, global->mutable_);
        put_u64(w, value);
    }
    return true;
}

static bool save_tables(writer *w, const wasm_instance *instance, wasm_error *err)
{
    uint32_t count = instance->module->table_count;
    put_u32(w, count);
    for (uint32_t t = 0; t < count; t++) {
        const wasm_table_inst *table = instance->tables[t];
        put_u8(w, table->elem_type);
        put_u32(w, table->size);
        for (uint32_t i = 0; i < table->size; i++) {
            uint64_t value;
            if (!encode_cell(instance, table->elem_type, table->elems[i], &value, err))
                return false;
            put_u64(w, value);
        }
    }
    return true;
}

static void save_segments(writer *w, const wasm_instance *instance)
{
    const wasm_module *module = instance->module;
    put_u32(w, module->data_count);
    for (uint32_t i = 0; i < module->data_count; i++)
        put_u8(w, instance->data_dropped[i] ? 1 : 0);
    put_u32(w, module->elem_count);
    for (uint32_t i = 0; i < module->elem_count; i++)
        put_u8(w, instance->elem_dropped[i] ? 1 : 0);
}

static bool save_cells(writer *w, const wasm_instance *instance, const uint8_t *types,
                       const wasm_slot *cells, uint32_t n, wasm_error *err)
{
    for (uint32_t i = 0; i < n; i++) {
        uint64_t value;
        if (!encode_cell(instance, types[i], cells[i], &value, err))
            return false;
        put_u64(w, value);
    }
    return true;
}

static bool save_call(writer *w, const wasm_instance *instance, const wasm_exec *exec,
                      wasm_error *err)
{
    put_u8(w, exec->fuel_limited);
    put_u64(w, exec->fuel_remaining);
    put_u64(w, exec->fuel_used);
    put_u32(w, exec->depth);
    for (uint32_t d = 0; d < exec->depth; d++) {
        const wasm_frame *frame = &exec->frames[d];
        const struct wasm_code_compiled *code = frame->code;
        if (frame->instance != instance)
            return wasm_fail(err, WASM_ERR_SNAPSHOT,
                             "cannot snapshot a call that runs through another instance "
                             "(frame %u, function %u)", d, code->func_index);
        const wasm_safe_point *sp =
            wasm_compiled_safe_point_at(code, (uint32_t)(frame->pc - code->code));
        bool top = d + 1 == exec->depth;
        if (!sp || (top && sp->kind == WASM_SAFE_CALL) || (!top && sp->kind != WASM_SAFE_CALL))
            return wasm_fail(err, WASM_ERR_SNAPSHOT,
                             "the call is not stopped at a safe point (frame %u, function %u)",
                             d, code->func_index);
        put_u32(w, code->func_index);
        put_u8(w, sp->kind);
        put_u32(w, sp->wasm_offset);
        put_u32(w, code->local_count);
        put_u32(w, sp->height);
        if (!save_cells(w, instance, code->local_types, frame->fp, code->local_count, err) ||
            !save_cells(w, instance, code->stack_types + sp->types_at,
                        frame->fp + code->stack_base, sp->height, err))
            return false;
    }
    return true;
}

static bool save_snapshot(const wasm_instance *instance, const wasm_exec *exec,
                          bool without_memory0, uint8_t **out, size_t *out_size,
                          wasm_error *err);

bool wasm_snapshot_save(const wasm_instance *instance, const wasm_exec *exec, uint8_t **out,
                        size_t *out_size, wasm_error *err)
{
    return save_snapshot(instance, exec, false, out, out_size, err);
}

bool wasm_snapshot_save_without_memory0(const wasm_instance *instance, const wasm_exec *exec,
                                        uint8_t **out, size_t *out_size, wasm_error *err)
{
    return save_snapshot(instance, exec, true, out, out_size, err);
}

static bool save_snapshot(const wasm_instance *instance, const wasm_exec *exec,
                          bool without_memory0, uint8_t **out, size_t *out_size,
                          wasm_error *err)
{
    if (!instance || !out || !out_size)
        return wasm_fail(err, WASM_ERR_ARGUMENT, "snapshot: no instance or output given");
    bool with_call = exec && wasm_exec_resumable(exec);
    writer w = {0};
    put_bytes(&w, SNAPSHOT_MAGIC, 4);
    put_u32(&w, SNAPSHOT_VERSION);
    put_bytes(&w, instance->module->sha256, 32);
    put_u32(&w, with_call ? FLAG_HAS_CALL : 0);
    save_memories(&w, instance, without_memory0);
    bool ok = save_globals(&w, instance, err) && save_tables(&w, instance, err);
    if (ok) {
        save_segments(&w, instance);
        if (with_call)
            ok = save_call(&w, instance, exec, err);
    }
    if (ok && !w.failed) {
        uint8_t digest[32];
        wasm_sha256(w.data, w.size, digest);
        put_bytes(&w, digest, 32);
    }
    if (!ok || w.failed) {
        free(w.data);
        return ok ? wasm_fail(err, WASM_ERR_NOMEM, "out of memory writing a snapshot") : false;
    }
    *out = w.data;
    *out_size = w.size;
    return true;
}

/* ----------------------------------------------------------------- restore */

static bool corrupt(wasm_error *err, const char *what)
{
    return wasm_fail(err, WASM_ERR_SNAPSHOT, "corrupt snapshot: %s", what);
}

/* Checks the envelope: size, checksum, magic, version. The body follows. */
static bool open_snapshot(const uint8_t *data, size_t size, reader *r, uint32_t *flags,
                          const uint8_t **sha, wasm_error *err)
{
    if (!data || size < HEADER_SIZE + CHECKSUM_SIZE)
        return wasm_fail(err, WASM_ERR_SNAPSHOT, "snapshot truncated: %zu bytes", size);
    if (memcmp(data, SNAPSHOT_MAGIC, 4) != 0)
        return wasm_fail(err, WASM_ERR_SNAPSHOT, "not a Liquid snapshot (bad magic)");
    uint8_t digest[32];
    wasm_sha256(data, size - CHECKSUM_SIZE, digest);
    if (memcmp(digest, data + size - CHECKSUM_SIZE, CHECKSUM_SIZE) != 0)
        return wasm_fail(err, WASM_ERR_SNAPSHOT,
                         "snapshot checksum mismatch: it is truncated or corrupted");
    r->p = data + 4;
    r->end = data + size - CHECKSUM_SIZE;
    r->failed = false;
    uint32_t version = get_u32(r);
    if (version != SNAPSHOT_VERSION)
        return wasm_fail(err, WASM_ERR_SNAPSHOT,
                         "unknown snapshot format version %u (this build reads version %u)",
                         version, SNAPSHOT_VERSION);
    const uint8_t *hash = data + 8;
    take(r, 32, &hash);
    *sha = hash;
    *flags = get_u32(r);
    return true;
}

bool wasm_snapshot_has_call(const uint8_t *data, size_t size)
{
    reader r;
    uint32_t flags;
    const uint8_t *sha;
    return open_snapshot(data, size, &r, &flags, &sha, NULL) && (flags & FLAG_HAS_CALL);
}

static bool restore_memories(reader *r, wasm_instance *instance, wasm_error *err)
{
    uint32_t count = get_u32(r);
    if (count != instance->module->memory_count)
        return corrupt(err, "memory count differs from the module's");
    for (uint32_t m = 0; m < count; m++) {
        wasm_memory_inst *memory = instance->memories[m];
        uint32_t pages = get_u32(r);
        if (r->failed || pages > WASM_MAX_PAGES)
            return corrupt(err, "memory size");
        if (pages < memory->pages)
            return wasm_fail(err, WASM_ERR_SNAPSHOT,
                             "snapshot memory %u has %u pages, fewer than the instance's %u",
                             m, pages, memory->pages);
        if (pages > memory->pages) {
            bool limit_hit = false;
            if (wasm_memory_grow(memory, pages - memory->pages, &limit_hit) < 0)
                return wasm_fail(err, WASM_ERR_SNAPSHOT,
                                 "cannot grow memory %u to the snapshot's %u pages%s", m, pages,
                                 limit_hit ? " (embedder limit)" : "");
        }
        for (uint32_t page = 0; page < pages; page++) {
            uint8_t *bytes = memory->data + (size_t)page * WASM_PAGE_SIZE;
            uint8_t kind = get_u8(r);
            const uint8_t *src;
            if (kind == 0)
                memset(bytes, 0, WASM_PAGE_SIZE);
            else if (kind == 1 && take(r, WASM_PAGE_SIZE, &src))
                memcpy(bytes, src, WASM_PAGE_SIZE);
            else
                return corrupt(err, "memory page");
        }
    }
    return true;
}

static bool restore_globals(reader *r, wasm_instance *instance, wasm_error *err)
{
    uint32_t count = get_u32(r);
    if (count != instance->module->global_count)
        return corrupt(err, "global count differs from the module's");
    for (uint32_t g = 0; g < count; g++) {
        wasm_global_inst *global = instance->globals[g];
        uint8_t type = get_u8(r);
        uint8_t mutable_ = get_u8(r);
        uint64_t value = get_u64(r);
        if (r->failed || type != global->type || mutable_ != (global->mutable_ ? 1 : 0))
            return corrupt(err, "global type differs from the module's");
        if (!decode_cell(instance, type, value, &global->value, err))
            return false;
    }
    return true;
}

static bool restore_tables(reader *r, wasm_instance *instance, wasm_error *err)
{
    uint32_t count = get_u32(r);
    if (count != instance->module->table_count)
        return corrupt(err, "table count differs from the module's");
    for (uint32_t t = 0; t < count; t++) {
        wasm_table_inst *table = instance->tables[t];
        uint8_t type = get_u8(r);
        uint32_t size = get_u32(r);
        if (r->failed || type != table->elem_type)
            return corrupt(err, "table type differs from the module's");
        if ((uint64_t)size * 8 > (uint64_t)(r->end - r->p))
            return corrupt(err, "table size");
        if (size < table->size)
            return wasm_fail(err, WASM_ERR_SNAPSHOT,
                             "snapshot table %u has %u elements, fewer than the instance's %u",
                             t, size, table->size);
        if (size > table->size) {
            bool limit_hit = false;
            if (wasm_table_grow(table, size - table->size, 0, &limit_hit) < 0)
                return wasm_fail(err, WASM_ERR_SNAPSHOT,
                                 "cannot grow table %u to the snapshot's %u elements", t, size);
        }
        for (uint32_t i = 0; i < size; i++)
            if (!decode_cell(instance, type, get_u64(r), &table->elems[i], err))
                return false;
    }
    return true;
}

static bool restore_segments(reader *r, wasm_instance *instance, wasm_error *err)
{
    const wasm_module *module = instance->module;
    if (get_u32(r) != module->data_count)
        return corrupt(err, "data segment count differs from the module's");
    for (uint32_t i = 0; i < module->data_count; i++)
        instance->data_dropped[i] = get_u8(r) ? 1 : 0;
    if (get_u32(r) != module->elem_count)
        return corrupt(err, "elem segment count differs from the module's");
    for (uint32_t i = 0; i < module->elem_count; i++)
        instance->elem_dropped[i] = get_u8(r) ? 1 : 0;
    return !r->failed || corrupt(err, "segments");
}

static bool restore_cells(reader *r, const wasm_instance *instance, const uint8_t *types,
                          wasm_slot *cells, uint32_t n, wasm_error *err)
{
    if ((uint64_t)n * 8 > (uint64_t)(r->end - r->p))
        return corrupt(err, "frame cells");
    for (uint32_t i = 0; i < n; i++)
        if (!decode_cell(instance, types[i], get_u64(r), &cells[i], err))
            return false;
    return true;
}

static bool restore_call(reader *r, wasm_instance *instance, wasm_exec *exec, wasm_error *err)
{
    const wasm_module *module = instance->module;
    (void)get_u8(r);        /* the fuel limit and what was left of it, where it stopped */
    (void)get_u64(r);
    uint64_t fuel_used = get_u64(r);
    uint32_t depth = get_u32(r);
    if (r->failed || depth == 0)
        return corrupt(err, "call header");
    if (depth > exec->max_depth)
        return wasm_fail(err, WASM_ERR_SNAPSHOT,
                         "the suspended call is %u frames deep; this exec allows %u", depth,
                         exec->max_depth);
    wasm_slot *fp = exec->stack;
    wasm_slot *stack_end = exec->stack + exec->stack_cells;
    const wasm_functype *caller_waits_for = NULL;
    for (uint32_t d = 0; d < depth; d++) {
        uint32_t func_index = get_u32(r);
        uint8_t kind = get_u8(r);
        uint32_t offset = get_u32(r);
        uint32_t locals = get_u32(r);
        uint32_t height = get_u32(r);
        if (r->failed)
            return corrupt(err, "frame header");
        if (func_index < module->func_import_count || func_index >= module->func_count)
            return corrupt(err, "frame function index");
        const struct wasm_code_compiled *code =
            module->codes[func_index - module->func_import_count].compiled;
        const wasm_safe_point *sp = wasm_compiled_safe_point_find(code, kind, offset);
        bool top = d + 1 == depth;
        if (!sp || sp->height != height || locals != code->local_count ||
            (top && kind == WASM_SAFE_CALL) || (!top && kind != WASM_SAFE_CALL))
            return corrupt(err, "frame does not match a safe point of the module");
        if (d > 0) {
            /* the caller waits for a function of a given type: a frame of another
             * type would leave values of the wrong types in the caller's cells */
            const wasm_functype *expected = caller_waits_for;
            const wasm_functype *actual = &module->types[module->func_type_index[func_index]];
            if (!expected || !wasm_functype_equal(expected, actual))
                return corrupt(err, "a frame is not of the type its caller called");
        }
        caller_waits_for = sp->callee_type;
        if (code->frame_cells > (size_t)(stack_end - fp))
            return wasm_fail(err, WASM_ERR_SNAPSHOT,
                             "the suspended call needs more stack than this exec allows");
        wasm_frame *frame = &exec->frames[d];
        frame->code = code;
        frame->instance = instance;
        frame->fp = fp;
        frame->pc = code->code + sp->resume_pos;
        wasm_frame_init(fp, code);
        if (!restore_cells(r, instance, code->local_types, fp, locals, err) ||
            !restore_cells(r, instance, code->stack_types + sp->types_at, fp + code->stack_base,
                           height, err))
            return false;
        /* the next frame's parameters are this frame's argument cells */
        fp += code->stack_base + height;
    }
    if (r->p != r->end)
        return corrupt(err, "trailing bytes");
    const struct wasm_code_compiled *outer = exec->frames[0].code;
    exec->call_type = &module->types[module->func_type_index[outer->func_index]];
    exec->depth = depth;
    /* the fuel spent goes on counting; how much more it may spend is the restoring
     * exec's own limit, as for a call it starts */
    exec->fuel_used = fuel_used;
    exec->fuel_limited = exec->limits.fuel != 0;
    exec->fuel_remaining = exec->limits.fuel;
    exec->has_results = false;
    memset(&exec->trap, 0, sizeof exec->trap);
    exec->status = WASM_STATUS_SUSPENDED;
    return true;
}

bool wasm_snapshot_restore(wasm_instance *instance, wasm_exec *exec, const uint8_t *data,
                           size_t size, wasm_error *err)
{
    if (!instance)
        return wasm_fail(err, WASM_ERR_ARGUMENT, "snapshot restore: no instance given");
    reader r;
    uint32_t flags;
    const uint8_t *sha;
    if (!open_snapshot(data, size, &r, &flags, &sha, err))
        return false;
    if (memcmp(sha, instance->module->sha256, 32) != 0)
        return wasm_fail(err, WASM_ERR_SNAPSHOT,
                         "the snapshot is of another module (its SHA-256 differs)");
    if ((flags & ~FLAG_HAS_CALL) != 0)
        return corrupt(err, "unknown flags");
    if ((flags & FLAG_HAS_CALL) && !exec)
        return wasm_fail(err, WASM_ERR_ARGUMENT,
                         "the snapshot holds a suspended call: give an exec to restore it into");
    if (!restore_memories(&r, instance, err) || !restore_globals(&r, instance, err) ||
        !restore_tables(&r, instance, err) || !restore_segments(&r, instance, err))
        return false;
    if (flags & FLAG_HAS_CALL)
        return restore_call(&r, instance, exec, err);
    return r.p == r.end || corrupt(err, "trailing bytes");
}
