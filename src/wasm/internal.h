/*
 * internal.h — what the parts of the engine share and nobody outside src/wasm sees.
 *
 *   decode.c      bytes -> struct wasm_module (sections, types, imports, exports, ...)
 *   compile.c     one function body -> validated, compiled code (struct wasm_code_compiled)
 *   interp.c      runs compiled code on a wasm_exec's own stack
 *   instance.c    linking and instantiation; store.c owns runtime objects
 *   snapshot.c    instance (+ suspended call) <-> bytes
 *
 * The module is immutable after wasm_module_load() returns. Runtime objects belong
 * to a store.
 */
#ifndef LIQUID_WASM_INTERNAL_H
#define LIQUID_WASM_INTERNAL_H

#include "wasm.h"

#include <stdarg.h>

#define WASM_PAGE_SIZE 65536u
#define WASM_MAX_PAGES 65536u           /* 4 GiB of 32-bit address space */
#define WASM_DEFAULT_CALL_DEPTH 10000u
#define WASM_DEFAULT_STACK_SLOTS (1u << 20)

/* ------------------------------------------------------------ error helpers */

/* Fill err (may be NULL) and return false, so callers can `return wasm_fail(...)`. */
bool wasm_fail(wasm_error *err, wasm_error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool wasm_fail_at(wasm_error *err, wasm_error_kind kind, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* -------------------------------------------------------------------- types */

typedef struct wasm_functype {
    uint32_t param_count;
    uint32_t result_count;
    uint8_t *types;         /* param_count params, then result_count results */
} wasm_functype;

static inline const uint8_t *wasm_functype_params(const wasm_functype *t) { return t->types; }
static inline const uint8_t *wasm_functype_results(const wasm_functype *t)
{
    return t->types + t->param_count;
}
bool wasm_functype_equal(const wasm_functype *a, const wasm_functype *b);

typedef struct wasm_limits_decl {
    uint32_t min;
    uint32_t max;
    bool has_max;
} wasm_limits_decl;

typedef struct wasm_tabletype {
    uint8_t elem_type;      /* WASM_FUNCREF or WASM_EXTERNREF */
    wasm_limits_decl limits;
} wasm_tabletype;

typedef struct wasm_globaltype {
    uint8_t type;
    bool mutable_;
} wasm_globaltype;

/* A constant expression of Wasm 2.0: one instruction and `end`. */
typedef enum wasm_const_op {
    WASM_CONST_I32, WASM_CONST_I64, WASM_CONST_F32, WASM_CONST_F64,
    WASM_CONST_REF_NULL,    /* value unused; type in `type` */
    WASM_CONST_REF_FUNC,    /* value = function index */
    WASM_CONST_GLOBAL_GET,  /* value = global index */
} wasm_const_op;

typedef struct wasm_constexpr {
    wasm_const_op op;
    uint8_t type;           /* the value type it produces */
    uint64_t value;         /* immediate: bits of the constant, or an index */
} wasm_constexpr;

/* ------------------------------------------------------------------- module */

typedef struct wasm_import {
    char *module;           /* NUL-terminated copies; names may hold NUL bytes, */
    char *name;             /* so compare with the lengths */
    uint32_t module_len, name_len;
    wasm_extern_kind kind;
    union {
        uint32_t type_index;        /* FUNC */
        wasm_tabletype table;       /* TABLE */
        wasm_limits_decl memory;    /* MEMORY */
        wasm_globaltype global;     /* GLOBAL */
    } as;
} wasm_import;

typedef struct wasm_export {
    char *name;             /* NUL-terminated copy; may hold NUL bytes */
    uint32_t name_len;
    wasm_extern_kind kind;
    uint32_t index;
} wasm_export;

typedef struct wasm_global_decl {
    wasm_globaltype type;
    wasm_constexpr init;
} wasm_global_decl;

typedef enum wasm_segment_mode {
    WASM_SEGMENT_ACTIVE,
    WASM_SEGMENT_PASSIVE,
    WASM_SEGMENT_DECLARATIVE,
} wasm_segment_mode;

typedef struct wasm_elem_segment {
    wasm_segment_mode mode;
    uint8_t elem_type;
    uint32_t table_index;           /* ACTIVE */
    wasm_constexpr offset;          /* ACTIVE */
    uint32_t item_count;
    wasm_constexpr *items;          /* each REF_FUNC, REF_NULL or GLOBAL_GET */
} wasm_elem_segment;

typedef struct wasm_data_segment {
    wasm_segment_mode mode;
    uint32_t memory_index;          /* ACTIVE */
    wasm_constexpr offset;          /* ACTIVE */
    uint32_t size;
    uint32_t bytes_offset;          /* where the bytes are in module->bytes */
} wasm_data_segment;

struct wasm_code_compiled;           /* the compiler's form; see compile.h */

/* One function defined (not imported) by the module. */
typedef struct wasm_code {
    uint32_t type_index;
    uint32_t local_count;           /* declared locals, not counting params */
    uint8_t *local_types;           /* local_count entries */
    uint32_t body_offset;           /* first instruction, in module->bytes */
    uint32_t body_end;              /* one past the final `end` */
    struct wasm_code_compiled *compiled;
} wasm_code;

struct wasm_module {
    uint8_t *bytes;                 /* private copy of the binary */
    size_t size;
    uint8_t sha256[32];

    wasm_functype *types;
    uint32_t type_count;

    wasm_import *imports;
    uint32_t import_count;

    /* Index spaces: imported entries first, then defined ones. */
    uint32_t func_count, func_import_count;
    uint32_t *func_type_index;      /* func_count entries */
    wasm_code *codes;               /* func_count - func_import_count entries */

    uint32_t table_count, table_import_count;
    wasm_tabletype *tables;         /* table_count entries */

    uint32_t memory_count, memory_import_count;
    wasm_limits_decl *memories;     /* memory_count entries */

    uint32_t global_count, global_import_count;
    wasm_globaltype *global_types;  /* global_count entries */
    wasm_global_decl *globals;      /* global_count - global_import_count entries */

    wasm_export *exports;
    uint32_t export_count;

    bool has_start;
    uint32_t start_func;

    wasm_elem_segment *elems;
    uint32_t elem_count;

    wasm_data_segment *datas;
    uint32_t data_count;
    bool has_data_count_section;

    /* C.refs of the validation rules: functions that may appear in ref.func inside a
     * body (referenced by exports, elem segments or global initialisers). */
    uint8_t *func_declared;         /* func_count entries, 0 or 1 */
};

/* Implemented by the compiler (compile.c): validates one defined function's body and
 * compiles it into code->compiled. Errors carry the byte offset in the module. */
bool wasm_compile_function(wasm_module *module, uint32_t defined_index, wasm_error *err);
void wasm_compiled_free(struct wasm_code_compiled *compiled);

/* Decoder helpers shared with the compiler. LEB128 readers return false when the
 * encoding is malformed (too long, unused bits set) or runs past end. */
bool wasm_read_u32(const uint8_t **p, const uint8_t *end, uint32_t *out);
bool wasm_read_s32(const uint8_t **p, const uint8_t *end, int32_t *out);
bool wasm_read_s33(const uint8_t **p, const uint8_t *end, int64_t *out);
bool wasm_read_s64(const uint8_t **p, const uint8_t *end, int64_t *out);
bool wasm_is_valtype(uint8_t byte);
bool wasm_is_reftype(uint8_t byte);

/* The general LEB128 reader behind the ones above, for callers that want to say why
 * an integer was refused: N-bit unsigned or signed (sign-extended to 64 bits). On
 * failure *p is left where the integer starts. */
typedef enum wasm_leb_status {
    WASM_LEB_OK = 0,
    WASM_LEB_END,           /* ran past end */
    WASM_LEB_TOO_LONG,      /* more than ceil(N/7) bytes */
    WASM_LEB_TOO_LARGE,     /* unused bits of the last byte not zero / sign */
} wasm_leb_status;
wasm_leb_status wasm_read_leb(const uint8_t **p, const uint8_t *end, unsigned bits,
                              bool is_signed, uint64_t *out);
/* The spec suite's wording: "integer representation too long", "integer too large",
 * "unexpected end". */
const char *wasm_leb_status_message(wasm_leb_status status);

/* ---------------------------------------------------------- runtime objects */

typedef struct wasm_memory_inst {
    uint8_t *data;
    uint64_t size;                  /* bytes = pages * WASM_PAGE_SIZE */
    uint32_t pages;
    uint32_t max_pages;             /* the module's max (or WASM_MAX_PAGES) */
    bool has_max;                   /* import matching needs "no max" apart from 65536 */
    uint32_t limit_pages;           /* the embedder's limit; 0 = none */
} wasm_memory_inst;

typedef struct wasm_table_inst {
    uint8_t elem_type;
    uint32_t size;
    uint32_t max;                   /* the table type's max, or UINT32_MAX */
    bool has_max;
    uint32_t limit;                 /* the embedder's limit; 0 = none */
    wasm_slot *elems;               /* funcref: (uintptr_t)(wasm_func *); externref: opaque */
} wasm_table_inst;

typedef struct wasm_global_inst {
    uint8_t type;
    bool mutable_;
    wasm_slot value;
} wasm_global_inst;

struct wasm_func {
    const wasm_functype *type;
    uint32_t type_id;               /* canonical in the store: equal ids <=> equal types */
    wasm_instance *instance;        /* defining instance; NULL for host functions */
    uint32_t index;                 /* in the defining module's function index space */
    const wasm_code *code;          /* NULL for host functions */
    wasm_host_fn host;
    void *host_user;
};

struct wasm_instance {
    wasm_store *store;
    const wasm_module *module;
    wasm_func **funcs;              /* module->func_count entries */
    wasm_table_inst **tables;
    wasm_memory_inst **memories;
    wasm_global_inst **globals;
    uint32_t *type_ids;             /* module type index -> store canonical id */
    uint8_t *elem_dropped;          /* module->elem_count entries */
    uint8_t *data_dropped;          /* module->data_count entries */
    wasm_instance_limits limits;
};

/* store.c: every runtime object is allocated through the store that owns it. */
uint32_t wasm_store_intern_type(wasm_store *store, const wasm_functype *type);
/* The store's own copy of an interned type; lives as long as the store. */
const wasm_functype *wasm_store_type(const wasm_store *store, uint32_t type_id);
wasm_memory_inst *wasm_store_new_memory(wasm_store *store, const wasm_limits_decl *type,
                                        uint32_t limit_pages, wasm_error *err);
wasm_table_inst *wasm_store_new_table(wasm_store *store, const wasm_tabletype *type,
                                      uint32_t limit, wasm_error *err);
wasm_global_inst *wasm_store_new_global(wasm_store *store, uint8_t type, bool mutable_);
wasm_func *wasm_store_new_func(wasm_store *store);

/* memory.grow and table.grow. Return the old size, or -1 when the module's maximum
 * refuses (the spec's answer). When the embedder's limit refuses, return -1 and set
 * *limit_hit so the interpreter can trap with WASM_TRAP_MEMORY_LIMIT. */
int64_t wasm_memory_grow(wasm_memory_inst *memory, uint32_t delta_pages, bool *limit_hit);
int64_t wasm_table_grow(wasm_table_inst *table, uint32_t delta, wasm_slot init,
                        bool *limit_hit);

/* Evaluates a constant expression in an instance under construction. */
wasm_slot wasm_constexpr_eval(const wasm_instance *instance, const wasm_constexpr *expr);

/* --------------------------------------------------------- small utilities */

void wasm_sha256(const uint8_t *data, size_t size, uint8_t out[32]);
/* Parses a signature in letters (see wasm_linker_define_func) into a functype. */
bool wasm_functype_from_letters(const char *params, const char *results, wasm_functype *out);
void wasm_functype_release(wasm_functype *type);

#endif
