/*
 * functype.c — function types: equality, and signatures written as letters
 * (i=i32 I=i64 f=f32 F=f64 r=funcref e=externref) for host functions.
 */
#include "wasm/internal.h"

#include <stdlib.h>
#include <string.h>

bool wasm_functype_equal(const wasm_functype *a, const wasm_functype *b)
{
    if (a->param_count != b->param_count || a->result_count != b->result_count)
        return false;
    size_t count = (size_t)a->param_count + a->result_count;
    return count == 0 || memcmp(a->types, b->types, count) == 0;
}

static bool valtype_from_letter(char letter, uint8_t *out)
{
    switch (letter) {
    case 'i': *out = WASM_I32; return true;
    case 'I': *out = WASM_I64; return true;
    case 'f': *out = WASM_F32; return true;
    case 'F': *out = WASM_F64; return true;
    case 'r': *out = WASM_FUNCREF; return true;
    case 'e': *out = WASM_EXTERNREF; return true;
    default: return false;
    }
}

bool wasm_functype_from_letters(const char *params, const char *results, wasm_functype *out)
{
    size_t param_count = params ? strlen(params) : 0;
    size_t result_count = results ? strlen(results) : 0;
    memset(out, 0, sizeof *out);
    if (param_count > UINT16_MAX || result_count > UINT16_MAX)
        return false;
    uint8_t *types = malloc(param_count + result_count + 1);
    if (!types)
        return false;
    for (size_t i = 0; i < param_count; i++)
        if (!valtype_from_letter(params[i], &types[i]))
            goto bad_letter;
    for (size_t i = 0; i < result_count; i++)
        if (!valtype_from_letter(results[i], &types[param_count + i]))
            goto bad_letter;
    out->param_count = (uint32_t)param_count;
    out->result_count = (uint32_t)result_count;
    out->types = types;
    return true;

bad_letter:
    free(types);
    return false;
}

void wasm_functype_release(wasm_functype *type)
{
    free(type->types);
    type->types = NULL;
    type->param_count = type->result_count = 0;
}
