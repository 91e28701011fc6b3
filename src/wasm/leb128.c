/*
 * leb128.c — the variable-length integers of the WebAssembly binary format.
 *
 * The format is strict where most LEB128 readers are lenient: an N-bit integer
 * takes at most ceil(N/7) bytes, and in the last byte the bits beyond N must be
 * zeros (unsigned) or copies of the sign bit (signed). binary-leb128.wast tests
 * each rule, and telling "too long" from "too large" gives the user the reason.
 */
#include "wasm/internal.h"

wasm_leb_status wasm_read_leb(const uint8_t **p, const uint8_t *end, unsigned bits,
                              bool is_signed, uint64_t *out)
{
    const uint8_t *cursor = *p;
    uint64_t result = 0;
    unsigned shift = 0;
    int bits_left = (int)bits;
    uint8_t byte;

    for (;;) {
        if (bits_left <= 0)
            return WASM_LEB_TOO_LONG;
        if (cursor >= end)
            return WASM_LEB_END;
        byte = *cursor++;
        if (bits_left < 7) {
            /* The last byte that may carry payload: check the bits past N. */
            if (is_signed) {
                uint8_t mask = (uint8_t)((0xffu << (bits_left - 1)) & 0x7fu);
                if ((byte & mask) != 0 && (byte & mask) != mask)
                    return WASM_LEB_TOO_LARGE;
            } else if ((byte & 0x7fu) >= (1u << bits_left)) {
                return WASM_LEB_TOO_LARGE;
            }
        }
        result |= (uint64_t)(byte & 0x7fu) << shift;
        shift += 7;
        bits_left -= 7;
        if (!(byte & 0x80u))
            break;
    }
    if (is_signed && shift < 64 && (byte & 0x40u))
        result |= ~(uint64_t)0 << shift;
    *p = cursor;
    *out = result;
    return WASM_LEB_OK;
}

const char *wasm_leb_status_message(wasm_leb_status status)
{
    switch (status) {
    case WASM_LEB_OK: return "ok";
    case WASM_LEB_END: return "unexpected end";
    case WASM_LEB_TOO_LONG: return "integer representation too long";
    case WASM_LEB_TOO_LARGE: return "integer too large";
    }
    return "malformed integer";
}

bool wasm_read_u32(const uint8_t **p, const uint8_t *end, uint32_t *out)
{
    uint64_t value;
    if (wasm_read_leb(p, end, 32, false, &value) != WASM_LEB_OK)
        return false;
    *out = (uint32_t)value;
    return true;
}

bool wasm_read_s32(const uint8_t **p, const uint8_t *end, int32_t *out)
{
    uint64_t value;
    if (wasm_read_leb(p, end, 32, true, &value) != WASM_LEB_OK)
        return false;
    /* The last-byte check guarantees the value fits; convert without UB. */
    uint32_t low = (uint32_t)value;
    *out = low <= INT32_MAX ? (int32_t)low : -(int32_t)(~low) - 1;
    return true;
}

bool wasm_read_s33(const uint8_t **p, const uint8_t *end, int64_t *out)
{
    uint64_t value;
    if (wasm_read_leb(p, end, 33, true, &value) != WASM_LEB_OK)
        return false;
    *out = value <= INT64_MAX ? (int64_t)value : -(int64_t)(~value) - 1;
    return true;
}

bool wasm_read_s64(const uint8_t **p, const uint8_t *end, int64_t *out)
{
    uint64_t value;
    if (wasm_read_leb(p, end, 64, true, &value) != WASM_LEB_OK)
        return false;
    *out = value <= INT64_MAX ? (int64_t)value : -(int64_t)(~value) - 1;
    return true;
}

bool wasm_is_valtype(uint8_t byte)
{
    /* v128 (0x7b) waits for SIMD support. */
    return byte == WASM_I32 || byte == WASM_I64 || byte == WASM_F32 || byte == WASM_F64 ||
           wasm_is_reftype(byte);
}

bool wasm_is_reftype(uint8_t byte)
{
    return byte == WASM_FUNCREF || byte == WASM_EXTERNREF;
}
