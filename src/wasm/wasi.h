/*
 * wasi.h — WASI preview 1 (`wasi_snapshot_preview1`) for Liquid's engine.
 *
 * One wasi_ctx serves one module instance. The embedder configures it (argv,
 * environ, preopened directories, stdin, where stdout/stderr go), then
 * wasi_link() defines every preview-1 function in a linker, so the module's
 * imports resolve. The context must outlive the instance.
 *
 *   wasi_ctx *wasi = wasi_ctx_new();
 *   wasi_ctx_add_arg(wasi, "prog.wasm");
 *   wasi_ctx_preopen_dir(wasi, "/srv/data", "/data", &err);
 *   wasi_ctx_capture_stdout(wasi);
 *   wasi_link(wasi, linker, &err);
 *   ... instantiate, call _start ...
 *   wasi_captured_stdout(wasi, &size);
 *
 * Sandboxing: a guest reaches the host file system only beneath its preopened
 * directories. `..`, absolute paths and symbolic links that would leave a
 * preopen fail with a WASI errno; every guest pointer is bounds-checked.
 */
#ifndef LIQUID_WASI_H
#define LIQUID_WASI_H

#include "wasm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wasi_ctx wasi_ctx;

/* A context with no arguments, no environment, no preopens, an empty stdin and
 * stdout/stderr passed through to the host's fds 1 and 2. NULL when out of memory. */
wasi_ctx *wasi_ctx_new(void);
/* Closes every host fd the context opened. */
void wasi_ctx_free(wasi_ctx *ctx);

/* argv[0] first, as the program will see it. The strings are copied. */
bool wasi_ctx_add_arg(wasi_ctx *ctx, const char *arg);
/* "KEY=VALUE"; the string is copied. */
bool wasi_ctx_add_env(wasi_ctx *ctx, const char *key_value);

/* Makes the host directory host_path visible to the guest as guest_path (for
 * example "/data" or "."). Preopens get guest fds 3, 4, ... in the order added.
 * Fails (with the host's reason) if host_path is not an openable directory. */
bool wasi_ctx_preopen_dir(wasi_ctx *ctx, const char *host_path, const char *guest_path,
                          wasm_error *err);

/* The guest's stdin reads host_fd (not closed by the context); -1 means an empty
 * stdin (reads return end of file), the default. */
void wasi_ctx_set_stdin(wasi_ctx *ctx, int host_fd);
/* stdout/stderr write to host_fd (not closed by the context). */
void wasi_ctx_set_stdout(wasi_ctx *ctx, int host_fd);
void wasi_ctx_set_stderr(wasi_ctx *ctx, int host_fd);
/* stdout/stderr are collected in growable buffers instead. */
void wasi_ctx_capture_stdout(wasi_ctx *ctx);
void wasi_ctx_capture_stderr(wasi_ctx *ctx);
/* What the guest wrote so far to a captured stream (size 0 if not captured). The
 * pointer stays valid until the guest writes again or the context is freed. */
const uint8_t *wasi_captured_stdout(const wasi_ctx *ctx, size_t *size);
const uint8_t *wasi_captured_stderr(const wasi_ctx *ctx, size_t *size);

/* Defines every wasi_snapshot_preview1 function in the linker, each bound to ctx.
 * Functions this host cannot offer (sockets, proc_raise) exist and answer ENOSYS
 * or ENOTSUP, so any module built by wasi-libc or Rust's wasm32-wasi links. */
bool wasi_link(wasi_ctx *ctx, wasm_linker *linker, wasm_error *err);
/* How many functions wasi_link() defines, and their names (for listings). */
uint32_t wasi_function_count(void);
const char *wasi_function_name(uint32_t i);

/* The guest's open files (not stdio or preopens): guest fd, the preopen they were
 * opened under, their path beneath it, flags and offset, as bytes (versioned,
 * little-endian), so a migrated program finds its files open again. *out is
 * malloc'ed. Restoring into a context configured with the same preopens reopens
 * each file at its saved offset; a file that no longer exists fails the restore. */
bool wasi_ctx_save(const wasi_ctx *ctx, uint8_t **out, size_t *out_size, wasm_error *err);
bool wasi_ctx_restore(wasi_ctx *ctx, const uint8_t *data, size_t size, wasm_error *err);

#ifdef __cplusplus
}
#endif
#endif
