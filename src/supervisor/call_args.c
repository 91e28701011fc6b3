/*
 * call_args.c — query arguments to Wasm values, results to text (see call_args.h).
 */
#include "supervisor/call_args.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *call_valtype_name(uint8_t type)
{
    switch (type) {
    case WASM_I32: return "i32";
    case WASM_I64: return "i64";
    case WASM_F32: return "f32";
    case WASM_F64: return "f64";
    case WASM_V128: return "v128";
    case WASM_FUNCREF: return "funcref";
    case WASM_EXTERNREF: return "externref";
    }
    return "unknown";
}

/* Decimal, or hexadecimal with 0x; never octal (a leading 0 is decimal). */
static bool parse_whole(const char *text, int bits, uint64_t *out)
{
    const char *digits = text;
    bool negative = false;
    if (*digits == '-' || *digits == '+')
        negative = *digits++ == '-';
    int base = 10;
    if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
        base = 16, digits += 2;
    if (!*digits || *digits == '-' || *digits == '+' || *digits == ' ')
        return false;
    errno = 0;
    char *end;
    unsigned long long magnitude = strtoull(digits, &end, base);
    if (errno || *end)
        return false;
    uint64_t max_positive = bits == 32 ? UINT32_MAX : UINT64_MAX;
    uint64_t max_negative = bits == 32 ? (uint64_t)1 << 31 : (uint64_t)1 << 63;
    if (negative ? magnitude > max_negative : magnitude > max_positive)
        return false;
    uint64_t v = negative ? (uint64_t)0 - magnitude : magnitude;
    *out = bits == 32 ? (v & UINT32_MAX) : v;
    return true;
}

static bool parse_real(const char *text, double *out)
{
    if (!*text || *text == ' ')
        return false;
    errno = 0;
    char *end;
    double d = strtod(text, &end);
    if (*end || end == text || (errno == ERANGE && isinf(d)))
        return false;
    *out = d;
    return true;
}

static bool parse_arg(const char *text, uint8_t type, wasm_value *out)
{
    memset(out, 0, sizeof *out);
    out->type = (wasm_valtype)type;
    uint64_t bits;
    double d;
    switch (type) {
    case WASM_I32:
        if (!parse_whole(text, 32, &bits))
            return false;
        out->of.i32 = (uint32_t)bits;
        return true;
    case WASM_I64:
        return parse_whole(text, 64, &out->of.i64);
    case WASM_F32: {
        if (!parse_real(text, &d))
            return false;
        float f = (float)d;
        memcpy(&out->of.f32_bits, &f, sizeof f);
        return true;
    }
    case WASM_F64:
        if (!parse_real(text, &d))
            return false;
        memcpy(&out->of.f64_bits, &d, sizeof d);
        return true;
    }
    return false;
}

static const char *type_meaning(uint8_t type)
{
    switch (type) {
    case WASM_I32: return "a whole number from -2147483648 to 4294967295";
    case WASM_I64: return "a whole number (64-bit)";
    case WASM_F32:
    case WASM_F64: return "a number";
    }
    return "a value this supervisor cannot pass over HTTP";
}

static void describe_signature(const char *function, wasm_functype_view type, char *buf,
                               size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "%s takes %" PRIu32 " parameter%s (", function,
                                   type.param_count, type.param_count == 1 ? "" : "s");
    for (uint32_t i = 0; i < type.param_count && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "",
                                 call_valtype_name(type.params[i]));
    if (used < size)
        snprintf(buf + used, size - used, ")");
}

bool call_args_convert(const char *function, wasm_functype_view type,
                       const manifest_endpoint *endpoint, const call_arg *args, size_t count,
                       wasm_value *out, char *err, size_t err_size)
{
    char signature[256];
    describe_signature(function, type, signature, sizeof signature);
    if (count > type.param_count) {
        snprintf(err, err_size, "%s: too many arguments: %s, %zu given",
                 args[type.param_count].name, signature, count);
        return false;
    }
    for (uint32_t i = 0; i < type.param_count; i++) {
        uint8_t t = type.params[i];
        if (t != WASM_I32 && t != WASM_I64 && t != WASM_F32 && t != WASM_F64) {
            snprintf(err, err_size, "%s: parameter %" PRIu32 " is %s, which cannot be passed "
                     "over HTTP", signature, i, call_valtype_name(t));
            return false;
        }
        if (i < count) {
            if (!parse_arg(args[i].value, t, &out[i])) {
                snprintf(err, err_size, "%s: '%s' is not %s (parameter %" PRIu32 " of %s is %s)",
                         args[i].name, args[i].value, type_meaning(t), i, function,
                         call_valtype_name(t));
                return false;
            }
            continue;
        }
        const manifest_param *described =
            endpoint && i < endpoint->param_count ? &endpoint->params[i] : NULL;
        if (!described || described->required) {
            if (described)
                snprintf(err, err_size, "%s: missing: %s, %zu given", described->name,
                         signature, count);
            else
                snprintf(err, err_size, "parameter %" PRIu32 ": missing: %s, %zu given", i,
                         signature, count);
            return false;
        }
        memset(&out[i], 0, sizeof out[i]);
        out[i].type = (wasm_valtype)t;
    }
    return true;
}

/* The fewest significant digits that read back to exactly d. */
static size_t format_real(double d, bool single, char *buf, size_t size)
{
    if (isnan(d))
        return (size_t)snprintf(buf, size, "NaN");
    if (isinf(d))
        return (size_t)snprintf(buf, size, d < 0 ? "-Infinity" : "Infinity");
    int max_digits = single ? 9 : 17;
    for (int digits = 1; digits <= max_digits; digits++) {
        int n = snprintf(buf, size, "%.*g", digits, d);
        double back = strtod(buf, NULL);
        if (single ? (float)back == (float)d : back == d)
            return (size_t)n;
    }
    return (size_t)snprintf(buf, size, "%.*g", max_digits, d);
}

size_t call_value_format(const wasm_value *v, char *buf, size_t size)
{
    switch (v->type) {
    case WASM_I32:
        return (size_t)snprintf(buf, size, "%" PRId32, (int32_t)v->of.i32);
    case WASM_I64:
        return (size_t)snprintf(buf, size, "%" PRId64, (int64_t)v->of.i64);
    case WASM_F32: {
        float f;
        memcpy(&f, &v->of.f32_bits, sizeof f);
        return format_real(f, true, buf, size);
    }
    case WASM_F64: {
        double d;
        memcpy(&d, &v->of.f64_bits, sizeof d);
        return format_real(d, false, buf, size);
    }
    default:
        return (size_t)snprintf(buf, size, "null");
    }
}
