/*
 * decode_code.c — the code section: for each defined function, its locals and where
 * its body lies. The instructions themselves are validated and compiled by
 * wasm_compile_function (compile.c) once the whole module is decoded.
 */
#include "wasm/decode.h"

#include <stdlib.h>

/* Locals are run-length encoded, so a few bytes can declare billions. The format
 * caps a function at 2^32-1; we refuse far less, since every local costs a stack
 * slot in each call: the same cap as other engines use per function, and a bound
 * on the whole module so a small binary cannot make us allocate gigabytes. */
#define MAX_LOCALS_PER_FUNCTION 50000u
#define MAX_LOCALS_PER_MODULE (1u << 24)

typedef struct local_group {
    uint32_t count;
    uint8_t type;
} local_group;

static bool decode_locals(decoder *d, wasm_code *code)
{
    const uint8_t *locals_at = d->p;
    uint32_t group_count;
    if (!decoder_read_count(d, &group_count))
        return false;
    local_group *groups = malloc((group_count ? group_count : 1) * sizeof *groups);
    if (!groups)
        return wasm_fail(d->err, WASM_ERR_NOMEM, "out of memory decoding locals");
    uint64_t total = 0;
    for (uint32_t i = 0; i < group_count; i++) {
        if (!decoder_read_u32(d, &groups[i].count) ||
            !decoder_read_valtype(d, &groups[i].type)) {
            free(groups);
            return false;
        }
        total += groups[i].count;
    }
    if (total > MAX_LOCALS_PER_FUNCTION || d->total_locals + total > MAX_LOCALS_PER_MODULE) {
        free(groups);
        return decoder_malformed(d, locals_at, "too many locals: %llu in one function (at "
                                 "most %u, and %u in a module)", (unsigned long long)total,
                                 MAX_LOCALS_PER_FUNCTION, MAX_LOCALS_PER_MODULE);
    }
    d->total_locals += total;

    code->local_types = malloc(total ? total : 1);
    if (!code->local_types) {
        free(groups);
        return wasm_fail(d->err, WASM_ERR_NOMEM, "out of memory decoding locals");
    }
    uint32_t next = 0;
    for (uint32_t i = 0; i < group_count; i++)
        for (uint32_t k = 0; k < groups[i].count; k++)
            code->local_types[next++] = groups[i].type;
    code->local_count = next;
    free(groups);
    return true;
}

/* A body that does not end with `end`. The reference decoder reads on past the
 * body, so what it reports depends on the next byte; say the same thing, because
 * the spec suite checks the reason. */
static bool missing_final_end(decoder *d, const uint8_t *body_end)
{
    if (body_end == d->file_end)
        return decoder_unexpected_end(d, body_end);
    if (*body_end == 0x0b)
        return decoder_malformed(d, body_end, "section size mismatch: the body ends without "
                                 "`end` and the byte after it is one");
    return decoder_malformed(d, body_end - 1, "END opcode expected at the end of the body");
}

static bool decode_code_entry(decoder *d, wasm_code *code)
{
    const uint8_t *size_at = d->p;
    uint32_t size;
    if (!decoder_read_u32(d, &size))
        return false;
    if (size > (size_t)(d->end - d->p))
        return decoder_malformed(d, size_at, "unexpected end of section or function: a body "
                                 "of %u bytes with %zu left", size, (size_t)(d->end - d->p));
    const uint8_t *outer_end = d->end;
    const uint8_t *body_end = d->p + size;
    d->end = body_end;
    if (!decode_locals(d, code))
        return false;
    code->body_offset = (uint32_t)decoder_offset(d, d->p);
    code->body_end = (uint32_t)decoder_offset(d, body_end);

    /* The compiler may rely on the body ending with `end`; whether that `end` closes
     * the function's block is its business. */
    if (d->p == body_end || body_end[-1] != 0x0b)
        return missing_final_end(d, body_end);
    d->p = body_end;
    d->end = outer_end;
    return true;
}

bool decode_code_section(decoder *d)
{
    wasm_module *m = d->module;
    const uint8_t *count_at = d->p;
    uint32_t count;
    if (!decoder_read_u32(d, &count))
        return false;
    uint32_t defined = m->func_count - m->func_import_count;
    if (count != defined)
        return decoder_malformed(d, count_at, "function and code section have inconsistent "
                                 "lengths: %u functions declared, %u bodies", defined, count);
    d->has_code_section = true;
    for (uint32_t i = 0; i < count; i++)
        if (!decode_code_entry(d, &m->codes[i]))
            return false;
    return true;
}
