/*
 * decode_reader.c — reading the primitive values of the binary format (integers,
 * names, types, limits) with every bound checked, so no malformed input can make
 * the decoder read past its buffer or allocate from an unchecked length.
 */
#include "wasm/decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool decoder_malformed(decoder *d, const uint8_t *at, const char *fmt, ...)
{
    if (!d->err)
        return false;
    va_list args;
    va_start(args, fmt);
    d->err->kind = WASM_ERR_MALFORMED;
    d->err->has_offset = true;
    d->err->offset = decoder_offset(d, at);
    vsnprintf(d->err->message, sizeof d->err->message, fmt, args);
    va_end(args);
    return false;
}

void decoder_invalid(decoder *d, const uint8_t *at, const char *fmt, ...)
{
    if (d->has_invalid)
        return;
    va_list args;
    va_start(args, fmt);
    d->has_invalid = true;
    d->invalid.kind = WASM_ERR_INVALID;
    d->invalid.has_offset = true;
    d->invalid.offset = decoder_offset(d, at);
    vsnprintf(d->invalid.message, sizeof d->invalid.message, fmt, args);
    va_end(args);
}

bool decoder_unexpected_end(decoder *d, const uint8_t *at)
{
    /* The spec interpreter says "unexpected end" for a truncated header and
     * "unexpected end of section or function" inside one; the second starts with
     * the first, so the suite accepts it wherever it expects the short form. */
    if (!d->in_section)
        return decoder_malformed(d, at, "unexpected end");
    return decoder_malformed(d, at, "unexpected end of section or function");
}

bool decoder_read_byte(decoder *d, uint8_t *out)
{
    if (d->p >= d->end)
        return decoder_unexpected_end(d, d->p);
    *out = *d->p++;
    return true;
}

static bool read_leb(decoder *d, unsigned bits, bool is_signed, uint64_t *out)
{
    const uint8_t *start = d->p;
    wasm_leb_status status = wasm_read_leb(&d->p, d->end, bits, is_signed, out);
    if (status == WASM_LEB_OK)
        return true;
    if (status == WASM_LEB_END)
        return decoder_unexpected_end(d, start);
    return decoder_malformed(d, start, "%s", wasm_leb_status_message(status));
}

bool decoder_read_u32(decoder *d, uint32_t *out)
{
    uint64_t value;
    if (!read_leb(d, 32, false, &value))
        return false;
    *out = (uint32_t)value;
    return true;
}

bool decoder_read_s7(decoder *d, int64_t *out)
{
    uint64_t value;
    if (!read_leb(d, 7, true, &value))
        return false;
    *out = (int64_t)(value & 0x7f) - ((value & 0x40) ? 0x80 : 0);
    return true;
}

bool decoder_read_s32(decoder *d, int32_t *out)
{
    const uint8_t *p = d->p;
    if (!wasm_read_s32(&p, d->end, out)) {
        uint64_t unused;
        return read_leb(d, 32, true, &unused);     /* fails again, saying why */
    }
    d->p = p;
    return true;
}

bool decoder_read_s64(decoder *d, int64_t *out)
{
    const uint8_t *p = d->p;
    if (!wasm_read_s64(&p, d->end, out)) {
        uint64_t unused;
        return read_leb(d, 64, true, &unused);
    }
    d->p = p;
    return true;
}

bool decoder_read_fixed(decoder *d, size_t size, uint64_t *out)
{
    if ((size_t)(d->end - d->p) < size)
        return decoder_unexpected_end(d, d->end);
    uint64_t value = 0;
    for (size_t i = 0; i < size; i++)
        value |= (uint64_t)d->p[i] << (8 * i);
    d->p += size;
    *out = value;
    return true;
}

/* Each element takes at least one byte, so a count larger than what is left would
 * run past the end whatever the elements are: refuse it before allocating. */
bool decoder_read_count(decoder *d, uint32_t *out)
{
    const uint8_t *start = d->p;
    uint32_t count;
    if (!decoder_read_u32(d, &count))
        return false;
    if (count > (size_t)(d->end - d->p))
        return decoder_malformed(d, start,
                                 "unexpected end of section or function: %u elements do not "
                                 "fit in the %zu bytes left",
                                 count, (size_t)(d->end - d->p));
    *out = count;
    return true;
}

/* Well-formed UTF-8 (Unicode 3.9, table 3-7): no overlong forms, no surrogates,
 * nothing past U+10FFFF. */
static bool is_valid_utf8(const uint8_t *s, size_t size)
{
    size_t i = 0;
    while (i < size) {
        uint8_t lead = s[i];
        size_t trail;
        uint8_t second_min = 0x80, second_max = 0xbf;
        if (lead < 0x80) {
            i++;
            continue;
        } else if (lead >= 0xc2 && lead <= 0xdf) {
            trail = 1;
        } else if (lead >= 0xe0 && lead <= 0xef) {
            trail = 2;
            if (lead == 0xe0)
                second_min = 0xa0;      /* overlong */
            else if (lead == 0xed)
                second_max = 0x9f;      /* surrogates */
        } else if (lead >= 0xf0 && lead <= 0xf4) {
            trail = 3;
            if (lead == 0xf0)
                second_min = 0x90;      /* overlong */
            else if (lead == 0xf4)
                second_max = 0x8f;      /* past U+10FFFF */
        } else {
            return false;
        }
        if (size - i <= trail)
            return false;
        if (s[i + 1] < second_min || s[i + 1] > second_max)
            return false;
        for (size_t k = 2; k <= trail; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        i += trail + 1;
    }
    return true;
}

bool decoder_read_name(decoder *d, char **out, uint32_t *out_len)
{
    const uint8_t *start = d->p;
    uint32_t size;
    if (!decoder_read_u32(d, &size))
        return false;
    if (size > (size_t)(d->end - d->p))
        return decoder_malformed(d, start, "length out of bounds: a name of %u bytes with %zu "
                                 "bytes left", size, (size_t)(d->end - d->p));
    if (!is_valid_utf8(d->p, size))
        return decoder_malformed(d, start, "malformed UTF-8 encoding");
    char *copy = malloc((size_t)size + 1);
    if (!copy)
        return wasm_fail(d->err, WASM_ERR_NOMEM, "out of memory copying a name");
    memcpy(copy, d->p, size);
    copy[size] = '\0';
    d->p += size;
    *out = copy;
    *out_len = size;
    return true;
}

bool decoder_read_valtype(decoder *d, uint8_t *out)
{
    const uint8_t *start = d->p;
    uint8_t byte = 0;
    if (!decoder_read_byte(d, &byte))
        return false;
    if (byte == WASM_V128)
        return decoder_malformed(d, start, "malformed value type: v128 (SIMD) is not supported");
    if (!wasm_is_valtype(byte))
        return decoder_malformed(d, start, "malformed value type 0x%02x", byte);
    *out = byte;
    return true;
}

bool decoder_read_reftype(decoder *d, uint8_t *out)
{
    const uint8_t *start = d->p;
    uint8_t byte = 0;
    if (!decoder_read_byte(d, &byte))
        return false;
    if (!wasm_is_reftype(byte))
        return decoder_malformed(d, start, "malformed reference type 0x%02x", byte);
    *out = byte;
    return true;
}

/* Limits: a flag (a 1-bit LEB128, so 0x02 is "integer too large"), min, maybe max. */
static bool read_limits(decoder *d, wasm_limits_decl *out)
{
    uint64_t flag;
    if (!read_leb(d, 1, false, &flag))
        return false;
    out->has_max = flag == 1;
    if (!decoder_read_u32(d, &out->min))
        return false;
    out->max = 0;
    if (out->has_max && !decoder_read_u32(d, &out->max))
        return false;
    return true;
}

bool decoder_read_tabletype(decoder *d, wasm_tabletype *out)
{
    if (!decoder_read_reftype(d, &out->elem_type))
        return false;
    const uint8_t *limits_at = d->p;
    if (!read_limits(d, &out->limits))
        return false;
    if (out->limits.has_max && out->limits.min > out->limits.max)
        decoder_invalid(d, limits_at, "size minimum must not be greater than maximum");
    return true;
}

bool decoder_read_memtype(decoder *d, wasm_limits_decl *out)
{
    const uint8_t *limits_at = d->p;
    if (!read_limits(d, out))
        return false;
    if (out->min > WASM_MAX_PAGES || (out->has_max && out->max > WASM_MAX_PAGES))
        decoder_invalid(d, limits_at, "memory size must be at most 65536 pages (4GiB)");
    else if (out->has_max && out->min > out->max)
        decoder_invalid(d, limits_at, "size minimum must not be greater than maximum");
    return true;
}

bool decoder_read_globaltype(decoder *d, wasm_globaltype *out)
{
    if (!decoder_read_valtype(d, &out->type))
        return false;
    const uint8_t *start = d->p;
    uint8_t mutability = 0;
    if (!decoder_read_byte(d, &mutability))
        return false;
    if (mutability > 1)
        return decoder_malformed(d, start, "malformed mutability 0x%02x", mutability);
    out->mutable_ = mutability == 1;
    return true;
}
