/*
 * decode.h — the binary decoder's cursor and readers, shared by decode*.c and
 * constexpr.c only. Everything else sees the decoded struct wasm_module.
 *
 * Two kinds of failure:
 *  - malformed: the bytes do not follow the binary format. Decoding stops at once
 *    (the reader functions return false with d->err filled).
 *  - invalid: well-formed, but a module-level validation rule is broken. The first
 *    one is remembered and decoding goes on, because the spec gives malformed
 *    precedence: a module that is both must be reported as malformed.
 */
#ifndef LIQUID_WASM_DECODE_H
#define LIQUID_WASM_DECODE_H

#include "wasm/internal.h"

/*
 * Reads inside a section may run past its end (up to the end of the file); the
 * section's size is checked once it has been read. This is what the spec's
 * reference decoder does, so the reason given for a broken section is the one the
 * spec suite expects (an over-long integer at a section's end is "integer
 * representation too long", not "unexpected end").
 */
typedef struct decoder {
    wasm_module *module;
    const uint8_t *base;        /* module->bytes: offsets are relative to it */
    const uint8_t *file_end;
    const uint8_t *p;           /* the next byte to read */
    const uint8_t *end;         /* how far reads may go: the file, or a function body */
    const uint8_t *section_end; /* where the current section must end */
    bool in_section;
    wasm_error *err;

    wasm_error invalid;         /* the first validation failure, reported at the end */
    bool has_invalid;

    bool imports_indexed;       /* index spaces hold the imports (index_imports) */
    bool has_code_section;
    uint32_t data_count;        /* from the data count section */
    uint64_t total_locals;      /* across all bodies, to bound allocation */
} decoder;

static inline size_t decoder_offset(const decoder *d, const uint8_t *at)
{
    return (size_t)(at - d->base);
}

/* Fill d->err as malformed at `at`; returns false. */
bool decoder_malformed(decoder *d, const uint8_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Remember a validation failure at `at` (the first one wins); decoding goes on. */
void decoder_invalid(decoder *d, const uint8_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Running past the section (or file) end, with the spec suite's wording. */
bool decoder_unexpected_end(decoder *d, const uint8_t *at);

bool decoder_read_byte(decoder *d, uint8_t *out);
bool decoder_read_u32(decoder *d, uint32_t *out);
bool decoder_read_s7(decoder *d, int64_t *out);
bool decoder_read_s32(decoder *d, int32_t *out);
bool decoder_read_s64(decoder *d, int64_t *out);
bool decoder_read_fixed(decoder *d, size_t size, uint64_t *out);   /* little-endian */
/* A vector length: refused before anything is allocated from it when the elements
 * (each at least one byte) cannot fit in what is left. */
bool decoder_read_count(decoder *d, uint32_t *out);
/* A UTF-8 name, copied NUL-terminated (it may also hold NUL bytes). */
bool decoder_read_name(decoder *d, char **out, uint32_t *out_len);
bool decoder_read_valtype(decoder *d, uint8_t *out);
bool decoder_read_reftype(decoder *d, uint8_t *out);
bool decoder_read_tabletype(decoder *d, wasm_tabletype *out);
bool decoder_read_memtype(decoder *d, wasm_limits_decl *out);
bool decoder_read_globaltype(decoder *d, wasm_globaltype *out);

/* Index spaces: once the import section is behind us, the imported entries come
 * first in each space (decode_sections.c). */
bool decoder_index_imports(decoder *d);
/* Record that a function may be referenced by ref.func inside a body (C.refs). */
bool decoder_declare_func(decoder *d, uint32_t func_index);

/* constexpr.c: a constant expression producing `expected_type`, through `end`. */
bool decode_constexpr(decoder *d, uint8_t expected_type, wasm_constexpr *out);

/* One reader per section id (decode_sections.c, decode_segments.c, decode_code.c). */
bool decode_custom_section(decoder *d);
bool decode_type_section(decoder *d);
bool decode_import_section(decoder *d);
bool decode_function_section(decoder *d);
bool decode_table_section(decoder *d);
bool decode_memory_section(decoder *d);
bool decode_global_section(decoder *d);
bool decode_export_section(decoder *d);
bool decode_start_section(decoder *d);
bool decode_element_section(decoder *d);
bool decode_datacount_section(decoder *d);
bool decode_code_section(decoder *d);
bool decode_data_section(decoder *d);

/* decode.c: the whole binary into module (bytes and size already set). */
bool wasm_decode_module(wasm_module *module, wasm_error *err);

#endif
