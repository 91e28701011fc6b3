/*
 * wasm.h — the public interface of Liquid's WebAssembly engine.
 *
 * The engine depends on libc and libm only. Its life cycle:
 *
 *   wasm_module_load()     decode + validate + compile a binary once; the module is
 *                          immutable afterwards and may be shared between threads.
 *   wasm_store_new()       owns every runtime object (instances, memories, tables,
 *                          globals, function instances); freed all at once.
 *   wasm_linker_*()        names what imports resolve to: host functions, or the
 *                          exports of instances already in the store.
 *   wasm_instantiate()     links, allocates, runs data/elem initialisers and start.
 *   wasm_exec_*()          one call stack: call an export, get results or a trap,
 *                          suspend at a safe point and resume later.
 *   wasm_snapshot_*()      serialize an instance (and a suspended call) and restore
 *                          it into a fresh instance of the same module, anywhere.
 *
 * Nothing here is global: two stores never share state, so one thread per store
 * needs no locks. Only wasm_exec_interrupt() may be called from another thread.
 */
#ifndef LIQUID_WASM_H
#define LIQUID_WASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- values */

typedef enum wasm_valtype {
    WASM_I32 = 0x7f,
    WASM_I64 = 0x7e,
    WASM_F32 = 0x7d,
    WASM_F64 = 0x7c,
    WASM_V128 = 0x7b,
    WASM_FUNCREF = 0x70,
    WASM_EXTERNREF = 0x6f,
} wasm_valtype;

/* One value cell. Every value occupies exactly one 64-bit cell on the engine's
 * stack: i32/f32 in the low 32 bits (floats as their bit patterns, so NaN payloads
 * survive), references as a pointer-sized integer with 0 meaning null. */
typedef uint64_t wasm_slot;

typedef struct wasm_func wasm_func; /* a function instance (Wasm or host) */

typedef struct wasm_value {
    wasm_valtype type;
    union {
        uint32_t i32;
        uint64_t i64;
        uint32_t f32_bits;
        uint64_t f64_bits;
        wasm_func *funcref;  /* NULL is ref.null func */
        void *externref;     /* NULL is ref.null extern; any other value is opaque */
    } of;
} wasm_value;

/* ---------------------------------------------------------------- errors */

typedef enum wasm_error_kind {
    WASM_ERR_NONE = 0,
    WASM_ERR_MALFORMED,     /* the bytes are not a well-formed binary module */
    WASM_ERR_INVALID,       /* well-formed but fails validation */
    WASM_ERR_LINK,          /* an import is missing or has the wrong type */
    WASM_ERR_INSTANTIATE,   /* a trap or limit during instantiation (data, elem, start) */
    WASM_ERR_LIMIT,         /* an embedder limit refuses the request */
    WASM_ERR_SNAPSHOT,      /* a snapshot is truncated, corrupt, of another module or version */
    WASM_ERR_NOMEM,
    WASM_ERR_IO,
    WASM_ERR_ARGUMENT,      /* the embedder passed something wrong (bad index, types) */
} wasm_error_kind;

typedef struct wasm_error {
    wasm_error_kind kind;
    bool has_offset;
    size_t offset;          /* byte offset in the module binary, when has_offset */
    char message[512];      /* human-readable, says what rule was broken */
} wasm_error;

const char *wasm_error_kind_name(wasm_error_kind kind);

/* ----------------------------------------------------------------- traps */

typedef enum wasm_trap_kind {
    WASM_TRAP_NONE = 0,
    WASM_TRAP_UNREACHABLE,
    WASM_TRAP_MEMORY_OUT_OF_BOUNDS,
    WASM_TRAP_TABLE_OUT_OF_BOUNDS,      /* also undefined element in call_indirect */
    WASM_TRAP_UNINITIALIZED_ELEMENT,    /* call_indirect through a null entry */
    WASM_TRAP_INDIRECT_CALL_TYPE_MISMATCH,
    WASM_TRAP_INTEGER_OVERFLOW,
    WASM_TRAP_INTEGER_DIVIDE_BY_ZERO,
    WASM_TRAP_INVALID_CONVERSION,       /* float to int of NaN or out of range */
    WASM_TRAP_STACK_EXHAUSTED,          /* call depth or value stack limit */
    WASM_TRAP_FUEL_EXHAUSTED,           /* resumable after wasm_exec_add_fuel() */
    WASM_TRAP_DEADLINE_EXCEEDED,        /* resumable after wasm_exec_set_timeout() */
    WASM_TRAP_MEMORY_LIMIT,             /* memory.grow past the embedder's limit */
    WASM_TRAP_HOST,                     /* a host function failed */
    WASM_TRAP_EXIT,                     /* WASI proc_exit; exit_code holds the status */
} wasm_trap_kind;

typedef struct wasm_trap {
    wasm_trap_kind kind;
    bool has_location;
    uint32_t func_index;    /* index in the function index space of its module */
    uint32_t offset;        /* byte offset of the instruction in the module binary */
    int exit_code;          /* for WASM_TRAP_EXIT */
    char message[256];
} wasm_trap;

const char *wasm_trap_kind_name(wasm_trap_kind kind);

/* --------------------------------------------------------------- modules */

typedef struct wasm_module wasm_module;

typedef enum wasm_extern_kind {
    WASM_EXTERN_FUNC = 0,
    WASM_EXTERN_TABLE = 1,
    WASM_EXTERN_MEMORY = 2,
    WASM_EXTERN_GLOBAL = 3,
} wasm_extern_kind;

typedef struct wasm_functype_view {
    uint32_t param_count;
    uint32_t result_count;
    const uint8_t *params;  /* wasm_valtype codes */
    const uint8_t *results;
} wasm_functype_view;

typedef struct wasm_limits_view {
    uint32_t min;
    uint32_t max;
    bool has_max;
} wasm_limits_view;

/* What one import or export is, for the embedder (the orchestrator lists them). */
typedef struct wasm_extern_info {
    const char *module;     /* imports only */
    const char *name;
    wasm_extern_kind kind;
    wasm_functype_view func;        /* kind == FUNC */
    uint8_t table_elem_type;        /* kind == TABLE */
    wasm_limits_view limits;        /* kind == TABLE or MEMORY */
    uint8_t global_type;            /* kind == GLOBAL */
    bool global_mutable;
} wasm_extern_info;

/* Decodes, validates and compiles. The bytes are copied; the caller may free them.
 * On failure returns NULL and fills err (offset and the rule broken). */
wasm_module *wasm_module_load(const uint8_t *bytes, size_t size, wasm_error *err);
void wasm_module_free(wasm_module *module);

uint32_t wasm_module_import_count(const wasm_module *module);
uint32_t wasm_module_export_count(const wasm_module *module);
bool wasm_module_import(const wasm_module *module, uint32_t i, wasm_extern_info *out);
bool wasm_module_export(const wasm_module *module, uint32_t i, wasm_extern_info *out);
/* SHA-256 of the module's bytes, computed at load. */
const uint8_t *wasm_module_sha256(const wasm_module *module);

/* ---------------------------------------------------- stores and linking */

typedef struct wasm_store wasm_store;
typedef struct wasm_instance wasm_instance;
typedef struct wasm_linker wasm_linker;
typedef struct wasm_host_call wasm_host_call;

wasm_store *wasm_store_new(void);
void wasm_store_free(wasm_store *store);    /* frees every object created in it */

/* A host function. args and results are value cells in the order of the signature.
 * Return 0 on success; on failure return the value of wasm_host_trap() or
 * wasm_host_exit(). */
typedef int (*wasm_host_fn)(wasm_host_call *call, const wasm_slot *args, wasm_slot *results,
                            void *user);

/* Signatures as letters: i=i32 I=i64 f=f32 F=f64 r=funcref e=externref, e.g. "iiii" -> "i". */
wasm_linker *wasm_linker_new(wasm_store *store);
void wasm_linker_free(wasm_linker *linker);
bool wasm_linker_define_func(wasm_linker *linker, const char *module, const char *name,
                             const char *params, const char *results, wasm_host_fn fn,
                             void *user, wasm_error *err);
/* Host-created memory, table and global, importable by modules (the spec suite's
 * `spectest` module, shared buffers). has_max false means no maximum. */
bool wasm_linker_define_memory(wasm_linker *linker, const char *module, const char *name,
                               uint32_t min_pages, bool has_max, uint32_t max_pages,
                               wasm_error *err);
bool wasm_linker_define_table(wasm_linker *linker, const char *module, const char *name,
                              wasm_valtype elem_type, uint32_t min, bool has_max, uint32_t max,
                              wasm_error *err);
bool wasm_linker_define_global(wasm_linker *linker, const char *module, const char *name,
                               const wasm_value *value, bool mutable_, wasm_error *err);
/* Makes every export of an instance importable under module_name (spec `register`). */
bool wasm_linker_define_instance(wasm_linker *linker, const char *module_name,
                                 wasm_instance *instance, wasm_error *err);
/* Every (module, name) the linker offers, for device descriptions. */
uint32_t wasm_linker_count(const wasm_linker *linker);
bool wasm_linker_entry(const wasm_linker *linker, uint32_t i, const char **module,
                       const char **name, wasm_extern_kind *kind);

/* What the embedder allows an instance. Zero means "no limit beyond the module's". */
typedef struct wasm_instance_limits {
    uint32_t max_memory_pages;  /* 64 KiB pages per memory */
    uint32_t max_table_elems;
} wasm_instance_limits;

/* Resolves imports (listing every missing one in err), allocates, initialises
 * tables and memories, and runs the start function under exec_limits. */
typedef struct wasm_exec_limits wasm_exec_limits;
wasm_instance *wasm_instantiate(wasm_store *store, const wasm_module *module,
                                const wasm_linker *linker, const wasm_instance_limits *limits,
                                const wasm_exec_limits *start_limits, wasm_error *err);

const wasm_module *wasm_instance_module(const wasm_instance *instance);
wasm_func *wasm_instance_export_func(const wasm_instance *instance, const char *name);
/* The same for names holding NUL bytes (export names are any UTF-8). */
wasm_func *wasm_instance_export_func_sized(const wasm_instance *instance, const char *name,
                                           size_t name_len);
/* Globals: read and write an exported global (writes need a mutable global). */
bool wasm_instance_export_global(const wasm_instance *instance, const char *name,
                                 wasm_value *out);
bool wasm_instance_set_global(wasm_instance *instance, const char *name, const wasm_value *v);
/* Memory 0 of the instance (NULL if it has none). The pointer is valid until the
 * next call into the instance: memory.grow may move it. */
uint8_t *wasm_instance_memory(const wasm_instance *instance, uint64_t *size_bytes);

wasm_functype_view wasm_func_type(const wasm_func *func);

/* ------------------------------------------------------- host functions */

/* Memory 0 of the instance that called the host function (NULL if none). */
uint8_t *wasm_host_memory(wasm_host_call *call, uint64_t *size_bytes);
wasm_instance *wasm_host_instance(wasm_host_call *call);
/* Record a trap; return what it returns from the host function. */
int wasm_host_trap(wasm_host_call *call, wasm_trap_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* End the whole call with WASM_TRAP_EXIT and this status (WASI proc_exit). */
int wasm_host_exit(wasm_host_call *call, int exit_code);
/* True once wasm_exec_interrupt() was called: long host calls (sleep) should return. */
bool wasm_host_interrupted(wasm_host_call *call);

/* ------------------------------------------------------------- executing */

struct wasm_exec_limits {
    uint64_t fuel;              /* Wasm instructions, approximately; 0 = unlimited */
    uint64_t timeout_ms;        /* wall clock per call; 0 = none */
    uint32_t max_call_depth;    /* 0 = default (10000) */
    uint32_t stack_slots;       /* value cells of the engine stack; 0 = default (1M) */
};

typedef enum wasm_status {
    WASM_STATUS_OK = 0,         /* finished; read results */
    WASM_STATUS_TRAP,           /* read wasm_exec_trap() */
    WASM_STATUS_SUSPENDED,      /* stopped at a safe point; resume, snapshot or discard */
} wasm_status;

typedef struct wasm_exec wasm_exec;

wasm_exec *wasm_exec_new(wasm_store *store, const wasm_exec_limits *limits);
void wasm_exec_free(wasm_exec *exec);

/* Calls func with args (types must match its signature, else WASM_ERR_ARGUMENT as
 * a trap of kind HOST with the reason). */
wasm_status wasm_exec_call(wasm_exec *exec, wasm_func *func, const wasm_value *args,
                           uint32_t arg_count);
/* Continues a suspended call, or one stopped by fuel or deadline. */
wasm_status wasm_exec_resume(wasm_exec *exec);
/* Results of the last call that finished with OK. Returns how many. */
uint32_t wasm_exec_results(const wasm_exec *exec, wasm_value *out, uint32_t capacity);
const wasm_trap *wasm_exec_trap(const wasm_exec *exec);
/* True if the last status can be continued with wasm_exec_resume(). */
bool wasm_exec_resumable(const wasm_exec *exec);

/* Thread-safe: ask the running call to stop at its next safe point (a loop
 * back-edge or a call boundary). The call then returns WASM_STATUS_SUSPENDED. */
void wasm_exec_interrupt(wasm_exec *exec);
void wasm_exec_add_fuel(wasm_exec *exec, uint64_t fuel);
uint64_t wasm_exec_fuel_used(const wasm_exec *exec);
void wasm_exec_set_timeout(wasm_exec *exec, uint64_t timeout_ms);

/* ------------------------------------------------------------- snapshots */

/* Serializes the instance's memories, globals, tables, dropped data/elem segments
 * and, if exec is non-NULL and suspended, its call: frames, locals and value stack.
 * The format is versioned, little-endian, pointer-free, and records the module's
 * SHA-256. *out is malloc'ed; the caller frees it. */
bool wasm_snapshot_save(const wasm_instance *instance, const wasm_exec *exec, uint8_t **out,
                        size_t *out_size, wasm_error *err);
/* The same with memory 0 written as zero pages (everything else as above, checksum
 * over what is written): for an embedder that copies memory 0 itself, only the parts
 * it needs (a checkpoint's changed chunks), instead of all of it. */
bool wasm_snapshot_save_without_memory0(const wasm_instance *instance, const wasm_exec *exec,
                                        uint8_t **out, size_t *out_size, wasm_error *err);
/* Restores into a fresh instance of the same module. If the snapshot holds a
 * suspended call, exec must be a fresh exec of the instance's store; afterwards
 * wasm_exec_resume(exec) finishes it. Refuses another module, a truncated or
 * corrupt snapshot, or an unknown version, with a clear error. */
bool wasm_snapshot_restore(wasm_instance *instance, wasm_exec *exec, const uint8_t *data,
                           size_t size, wasm_error *err);
/* Whether a snapshot carries a suspended call (false if malformed). */
bool wasm_snapshot_has_call(const uint8_t *data, size_t size);

#ifdef __cplusplus
}
#endif
#endif
