/*
 * error.c — filling wasm_error, and the names of error and trap kinds.
 */
#include "wasm/internal.h"

#include <stdio.h>

static bool fail_with(wasm_error *err, wasm_error_kind kind, bool has_offset, size_t offset,
                      const char *fmt, va_list args)
{
    if (!err)
        return false;
    err->kind = kind;
    err->has_offset = has_offset;
    err->offset = has_offset ? offset : 0;
    vsnprintf(err->message, sizeof err->message, fmt, args);
    return false;
}

bool wasm_fail(wasm_error *err, wasm_error_kind kind, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    fail_with(err, kind, false, 0, fmt, args);
    va_end(args);
    return false;
}

bool wasm_fail_at(wasm_error *err, wasm_error_kind kind, size_t offset, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    fail_with(err, kind, true, offset, fmt, args);
    va_end(args);
    return false;
}

const char *wasm_error_kind_name(wasm_error_kind kind)
{
    switch (kind) {
    case WASM_ERR_NONE: return "none";
    case WASM_ERR_MALFORMED: return "malformed module";
    case WASM_ERR_INVALID: return "invalid module";
    case WASM_ERR_LINK: return "link error";
    case WASM_ERR_INSTANTIATE: return "instantiation failed";
    case WASM_ERR_LIMIT: return "limit exceeded";
    case WASM_ERR_SNAPSHOT: return "bad snapshot";
    case WASM_ERR_NOMEM: return "out of memory";
    case WASM_ERR_IO: return "i/o error";
    case WASM_ERR_ARGUMENT: return "bad argument";
    }
    return "unknown error";
}

const char *wasm_trap_kind_name(wasm_trap_kind kind)
{
    /* The spec suite's trap texts, where it has one, so assert_trap can compare. */
    switch (kind) {
    case WASM_TRAP_NONE: return "none";
    case WASM_TRAP_UNREACHABLE: return "unreachable";
    case WASM_TRAP_MEMORY_OUT_OF_BOUNDS: return "out of bounds memory access";
    case WASM_TRAP_TABLE_OUT_OF_BOUNDS: return "out of bounds table access";
    case WASM_TRAP_UNINITIALIZED_ELEMENT: return "uninitialized element";
    case WASM_TRAP_INDIRECT_CALL_TYPE_MISMATCH: return "indirect call type mismatch";
    case WASM_TRAP_INTEGER_OVERFLOW: return "integer overflow";
    case WASM_TRAP_INTEGER_DIVIDE_BY_ZERO: return "integer divide by zero";
    case WASM_TRAP_INVALID_CONVERSION: return "invalid conversion to integer";
    case WASM_TRAP_STACK_EXHAUSTED: return "call stack exhausted";
    case WASM_TRAP_FUEL_EXHAUSTED: return "fuel exhausted";
    case WASM_TRAP_DEADLINE_EXCEEDED: return "deadline exceeded";
    case WASM_TRAP_MEMORY_LIMIT: return "memory limit exceeded";
    case WASM_TRAP_HOST: return "host function failed";
    case WASM_TRAP_EXIT: return "exit";
    }
    return "unknown trap";
}
