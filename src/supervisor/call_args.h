/*
 * call_args.h — turning an HTTP call's query arguments into WebAssembly values, and a
 * function's result back into the text the Wasm-IoT API answers with.
 *
 * Arguments map to the export's parameters by position (wasmiot-api.md §2.6, §5.4):
 * the first query argument is the first parameter, whatever its name. Each is
 * converted to the parameter's Wasm type; a value that does not parse is an error
 * naming the argument, never a silent 0 (the Rust reference's behaviour).
 */
#ifndef LIQUID_SUPERVISOR_CALL_ARGS_H
#define LIQUID_SUPERVISOR_CALL_ARGS_H

#include "supervisor/manifest.h"
#include "wasm/wasm.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct call_arg {
    const char *name;
    const char *value;
} call_arg;

/* Converts args[0..count) to values for a function of the given type. Parameters
 * past the last argument are an error when the endpoint marks them required or does
 * not describe them at all, and 0 otherwise. out needs type.param_count cells. */
bool call_args_convert(const char *function, wasm_functype_view type,
                       const manifest_endpoint *endpoint, const call_arg *args, size_t count,
                       wasm_value *out, char *err, size_t err_size);

/* One value as text: whole numbers in decimal (i32 and i64 signed), floats with the
 * fewest digits that read back to the same value, NaN and Infinity as Python's
 * json.dumps writes them. Returns the length written (buffer of at least 32). */
size_t call_value_format(const wasm_value *v, char *buf, size_t size);

const char *call_valtype_name(uint8_t type);

#endif
