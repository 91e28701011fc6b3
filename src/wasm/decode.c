/*
 * decode.c — the outline of a binary module: header, then sections in their
 * required order, each exactly as long as it says. The section readers live in
 * decode_sections.c, decode_segments.c and decode_code.c.
 */
#include "wasm/decode.h"

#include <stdlib.h>
#include <string.h>

#define WASM_MAGIC 0x6d736100u       /* "\0asm" */
#define WASM_VERSION 1u

typedef bool (*section_reader)(decoder *d);

typedef struct section_kind {
    const char *name;
    unsigned rank;                  /* position in the required order */
    section_reader read;
} section_kind;

/* By section id. The data count section (12) sits between element and code. */
static const section_kind section_kinds[13] = {
    [0] = {"custom", 0, decode_custom_section},
    [1] = {"type", 1, decode_type_section},
    [2] = {"import", 2, decode_import_section},
    [3] = {"function", 3, decode_function_section},
    [4] = {"table", 4, decode_table_section},
    [5] = {"memory", 5, decode_memory_section},
    [6] = {"global", 6, decode_global_section},
    [7] = {"export", 7, decode_export_section},
    [8] = {"start", 8, decode_start_section},
    [9] = {"element", 9, decode_element_section},
    [12] = {"data count", 10, decode_datacount_section},
    [10] = {"code", 11, decode_code_section},
    [11] = {"data", 12, decode_data_section},
};

static bool decode_header(decoder *d)
{
    uint64_t magic, version;
    if (!decoder_read_fixed(d, 4, &magic))
        return false;
    if (magic != WASM_MAGIC)
        return decoder_malformed(d, d->base, "magic header not detected");
    if (!decoder_read_fixed(d, 4, &version))
        return false;
    if (version != WASM_VERSION)
        return decoder_malformed(d, d->base + 4, "unknown binary version %u",
                                 (unsigned)version);
    return true;
}

static bool decode_one_section(decoder *d, unsigned *last_rank)
{
    const uint8_t *section_at = d->p;
    uint8_t id = *d->p++;
    if (id >= sizeof section_kinds / sizeof section_kinds[0])
        return decoder_malformed(d, section_at, "malformed section id %u", id);
    const section_kind *kind = &section_kinds[id];

    const uint8_t *size_at = d->p;
    uint32_t size;
    if (!decoder_read_u32(d, &size))
        return false;
    if (size > (size_t)(d->file_end - d->p))
        return decoder_malformed(d, size_at, "length out of bounds: the %s section claims %u "
                                 "bytes, %zu are left", kind->name, size,
                                 (size_t)(d->file_end - d->p));

    if (kind->rank != 0) {
        if (kind->rank <= *last_rank)
            return decoder_malformed(d, section_at, "unexpected content after last section: "
                                     "a %s section, out of order or repeated", kind->name);
        *last_rank = kind->rank;
        if (kind->rank > 2 && !d->imports_indexed && !decoder_index_imports(d))
            return false;
    }

    const uint8_t *content_at = d->p;
    d->section_end = d->p + size;
    d->in_section = true;
    if (!kind->read(d))
        return false;
    if (d->p != d->section_end)
        return decoder_malformed(d, content_at, "section size mismatch: the %s section "
                                 "declares %u bytes but its content takes %zu",
                                 kind->name, size, (size_t)(d->p - content_at));
    d->in_section = false;
    return true;
}

/* What can only be checked once every section has been seen. */
static bool check_section_counts(decoder *d)
{
    wasm_module *m = d->module;
    uint32_t defined_funcs = m->func_count - m->func_import_count;
    if (defined_funcs > 0 && !d->has_code_section)
        return decoder_malformed(d, d->file_end, "function and code section have inconsistent "
                                 "lengths: %u functions declared, no code section",
                                 defined_funcs);
    if (m->has_data_count_section && d->data_count != m->data_count)
        return decoder_malformed(d, d->file_end, "data count and data section have "
                                 "inconsistent lengths: data count %u, %u segments",
                                 d->data_count, m->data_count);
    return true;
}

bool wasm_decode_module(wasm_module *module, wasm_error *err)
{
    decoder d;
    memset(&d, 0, sizeof d);
    d.module = module;
    d.base = module->bytes;
    d.file_end = module->bytes + module->size;
    d.p = d.base;
    d.end = d.file_end;
    d.err = err;

    if (!decode_header(&d))
        return false;
    unsigned last_rank = 0;
    while (d.p < d.file_end)
        if (!decode_one_section(&d, &last_rank))
            return false;
    if (!d.imports_indexed && !decoder_index_imports(&d))
        return false;
    if (!check_section_counts(&d))
        return false;
    if (!module->func_declared) {
        module->func_declared = calloc(module->func_count ? module->func_count : 1, 1);
        if (!module->func_declared)
            return wasm_fail(err, WASM_ERR_NOMEM, "out of memory decoding the module");
    }
    if (d.has_invalid) {
        if (err)
            *err = d.invalid;
        return false;
    }
    return true;
}
