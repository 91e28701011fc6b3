/*
 * spectest_values.c — the values of a wast2json file and how results are compared.
 *
 * wast2json writes every number as a decimal string of its bits (i32 and f32 as
 * unsigned 32-bit, i64 and f64 as unsigned 64-bit), so floats compare bit-exactly
 * and NaN payloads survive. Two expected values are patterns rather than values:
 * `nan:canonical` and `nan:arithmetic`, with the meaning the spec gives them.
 */
#include "cli/spectest.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F32_SIGN 0x80000000u
#define F32_EXPONENT 0x7f800000u
#define F32_QUIET 0x00400000u
#define F64_SIGN 0x8000000000000000ull
#define F64_EXPONENT 0x7ff0000000000000ull
#define F64_QUIET 0x0008000000000000ull

static const struct {
    const char *name;
    wasm_valtype type;
} valtype_names[] = {
    {"i32", WASM_I32},         {"i64", WASM_I64},         {"f32", WASM_F32},
    {"f64", WASM_F64},         {"v128", WASM_V128},       {"funcref", WASM_FUNCREF},
    {"externref", WASM_EXTERNREF},
};

const char *spectest_valtype_name(wasm_valtype type)
{
    for (size_t i = 0; i < sizeof valtype_names / sizeof valtype_names[0]; i++)
        if (valtype_names[i].type == type)
            return valtype_names[i].name;
    return "unknown-type";
}

static bool valtype_from_name(const char *name, wasm_valtype *out)
{
    for (size_t i = 0; i < sizeof valtype_names / sizeof valtype_names[0]; i++)
        if (!strcmp(valtype_names[i].name, name)) {
            *out = valtype_names[i].type;
            return true;
        }
    return false;
}

void *spectest_externref_from_number(uint64_t n)
{
    /* Never 0, which the engine reads as null. */
    return (void *)(uintptr_t)(n + 1);
}

/* A decimal string of at most `max`. wabt writes bits unsigned, but a minus sign
 * is accepted and wrapped so a hand-written file is not refused for it. */
static bool parse_decimal(const char *text, uint64_t max, uint64_t *out)
{
    if (!text || !*text)
        return false;
    errno = 0;
    char *end = NULL;
    uint64_t value;
    if (text[0] == '-') {
        long long negative = strtoll(text, &end, 10);
        value = (uint64_t)negative & max;
    } else {
        if (text[0] < '0' || text[0] > '9')
            return false;
        unsigned long long positive = strtoull(text, &end, 10);
        value = positive;
        if (value > max)
            return false;
    }
    if (errno || *end)
        return false;
    *out = value;
    return true;
}

/* Reads "type" and, when present, "value" of one JSON value object. */
static bool parse_type_and_text(const json_t *json, wasm_valtype *type, const char **text,
                                char *why, size_t why_size)
{
    if (!json_is_object(json)) {
        snprintf(why, why_size, "a value is not a JSON object");
        return false;
    }
    const char *type_name = json_string_value(json_object_get(json, "type"));
    if (!type_name) {
        snprintf(why, why_size, "a value has no \"type\" string");
        return false;
    }
    if (!valtype_from_name(type_name, type)) {
        snprintf(why, why_size, "unknown value type \"%s\"", type_name);
        return false;
    }
    if (*type == WASM_V128) {
        snprintf(why, why_size, "v128 values are not supported yet (SIMD)");
        return false;
    }
    const json_t *value = json_object_get(json, "value");
    if (value && !json_is_string(value)) {
        snprintf(why, why_size, "the \"value\" of a %s is not a string", type_name);
        return false;
    }
    *text = value ? json_string_value(value) : NULL;
    return true;
}

static bool parse_bits(wasm_valtype type, const char *text, wasm_value *out, char *why,
                       size_t why_size)
{
    memset(out, 0, sizeof *out);
    out->type = type;
    uint64_t bits;
    switch (type) {
    case WASM_I32:
    case WASM_F32:
        if (!text || !parse_decimal(text, UINT32_MAX, &bits))
            break;
        out->of.i32 = (uint32_t)bits;
        return true;
    case WASM_I64:
    case WASM_F64:
        if (!text || !parse_decimal(text, UINT64_MAX, &bits))
            break;
        out->of.i64 = bits;
        return true;
    case WASM_FUNCREF:
        /* Only null can be written down: a function has no number in the JSON. */
        if (text && !strcmp(text, "null")) {
            out->of.funcref = NULL;
            return true;
        }
        break;
    case WASM_EXTERNREF:
        if (text && !strcmp(text, "null")) {
            out->of.externref = NULL;
            return true;
        }
        if (text && parse_decimal(text, UINT64_MAX - 1, &bits)) {
            out->of.externref = spectest_externref_from_number(bits);
            return true;
        }
        break;
    default:
        break;
    }
    snprintf(why, why_size, "bad %s value \"%s\"", spectest_valtype_name(type),
             text ? text : "(missing)");
    return false;
}

bool spectest_value_parse(const json_t *json, wasm_value *out, char *why, size_t why_size)
{
    wasm_valtype type;
    const char *text;
    if (!parse_type_and_text(json, &type, &text, why, why_size))
        return false;
    return parse_bits(type, text, out, why, why_size);
}

bool spectest_expected_parse(const json_t *json, spectest_expected *out, char *why,
                             size_t why_size)
{
    wasm_valtype type;
    const char *text;
    if (!parse_type_and_text(json, &type, &text, why, why_size))
        return false;
    memset(out, 0, sizeof *out);
    out->value.type = type;
    bool is_float = type == WASM_F32 || type == WASM_F64;
    if (is_float && text && !strcmp(text, "nan:canonical")) {
        out->match = SPECTEST_MATCH_NAN_CANONICAL;
        return true;
    }
    if (is_float && text && !strcmp(text, "nan:arithmetic")) {
        out->match = SPECTEST_MATCH_NAN_ARITHMETIC;
        return true;
    }
    if ((type == WASM_FUNCREF || type == WASM_EXTERNREF) && !text) {
        out->match = SPECTEST_MATCH_NON_NULL;
        return true;
    }
    out->match = SPECTEST_MATCH_EXACT;
    return parse_bits(type, text, &out->value, why, why_size);
}

static bool f32_is_nan_with_payload(uint32_t bits, bool canonical)
{
    uint32_t magnitude = bits & ~F32_SIGN;
    if (canonical)
        return magnitude == (F32_EXPONENT | F32_QUIET);
    return (magnitude & (F32_EXPONENT | F32_QUIET)) == (F32_EXPONENT | F32_QUIET);
}

static bool f64_is_nan_with_payload(uint64_t bits, bool canonical)
{
    uint64_t magnitude = bits & ~F64_SIGN;
    if (canonical)
        return magnitude == (F64_EXPONENT | F64_QUIET);
    return (magnitude & (F64_EXPONENT | F64_QUIET)) == (F64_EXPONENT | F64_QUIET);
}

bool spectest_value_matches(const spectest_expected *expected, const wasm_value *got)
{
    wasm_valtype type = expected->value.type;
    if (got->type != type)
        return false;
    switch (expected->match) {
    case SPECTEST_MATCH_NAN_CANONICAL:
    case SPECTEST_MATCH_NAN_ARITHMETIC: {
        bool canonical = expected->match == SPECTEST_MATCH_NAN_CANONICAL;
        if (type == WASM_F32)
            return f32_is_nan_with_payload(got->of.f32_bits, canonical);
        return f64_is_nan_with_payload(got->of.f64_bits, canonical);
    }
    case SPECTEST_MATCH_NON_NULL:
        return type == WASM_FUNCREF ? got->of.funcref != NULL : got->of.externref != NULL;
    case SPECTEST_MATCH_EXACT:
        break;
    }
    switch (type) {
    case WASM_I32:
        return got->of.i32 == expected->value.of.i32;
    case WASM_F32:
        return got->of.f32_bits == expected->value.of.f32_bits;
    case WASM_I64:
        return got->of.i64 == expected->value.of.i64;
    case WASM_F64:
        return got->of.f64_bits == expected->value.of.f64_bits;
    case WASM_FUNCREF:
        return got->of.funcref == expected->value.of.funcref;
    case WASM_EXTERNREF:
        return got->of.externref == expected->value.of.externref;
    default:
        return false;
    }
}

void spectest_value_format(const wasm_value *value, char *buf, size_t size)
{
    float f32;
    double f64;
    switch (value->type) {
    case WASM_I32:
        snprintf(buf, size, "i32:%" PRIu32, value->of.i32);
        break;
    case WASM_I64:
        snprintf(buf, size, "i64:%" PRIu64, value->of.i64);
        break;
    case WASM_F32:
        memcpy(&f32, &value->of.f32_bits, sizeof f32);
        snprintf(buf, size, "f32:%.9g (0x%08" PRIx32 ")", (double)f32, value->of.f32_bits);
        break;
    case WASM_F64:
        memcpy(&f64, &value->of.f64_bits, sizeof f64);
        snprintf(buf, size, "f64:%.17g (0x%016" PRIx64 ")", f64, value->of.f64_bits);
        break;
    case WASM_FUNCREF:
        snprintf(buf, size, "funcref:%s", value->of.funcref ? "<function>" : "null");
        break;
    case WASM_EXTERNREF:
        if (!value->of.externref)
            snprintf(buf, size, "externref:null");
        else   /* back to the number the JSON used */
            snprintf(buf, size, "externref:%" PRIuPTR, (uintptr_t)value->of.externref - 1);
        break;
    default:
        snprintf(buf, size, "%s:?", spectest_valtype_name(value->type));
        break;
    }
}

void spectest_expected_format(const spectest_expected *expected, char *buf, size_t size)
{
    const char *type = spectest_valtype_name(expected->value.type);
    switch (expected->match) {
    case SPECTEST_MATCH_NAN_CANONICAL:
        snprintf(buf, size, "%s:nan:canonical", type);
        break;
    case SPECTEST_MATCH_NAN_ARITHMETIC:
        snprintf(buf, size, "%s:nan:arithmetic", type);
        break;
    case SPECTEST_MATCH_NON_NULL:
        snprintf(buf, size, "%s:non-null", type);
        break;
    case SPECTEST_MATCH_EXACT:
        spectest_value_format(&expected->value, buf, size);
        break;
    }
}

/* ----------------------------------------------------------- messages */

void spectest_message(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}

void spectest_append(char *buf, size_t size, const char *fmt, ...)
{
    size_t used = strlen(buf);
    if (used + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, size - used, fmt, ap);
    va_end(ap);
}

void spectest_format_error(const wasm_error *err, char *buf, size_t size)
{
    if (err->has_offset)
        snprintf(buf, size, "%s at byte 0x%zx: %s", wasm_error_kind_name(err->kind), err->offset,
                 err->message);
    else
        snprintf(buf, size, "%s: %s", wasm_error_kind_name(err->kind), err->message);
}

void spectest_format_trap(const wasm_trap *trap, char *buf, size_t size)
{
    snprintf(buf, size, "trap %s: %s", wasm_trap_kind_name(trap->kind), trap->message);
    if (trap->has_location)
        spectest_append(buf, size, " (function %u, byte 0x%x)", trap->func_index, trap->offset);
}

