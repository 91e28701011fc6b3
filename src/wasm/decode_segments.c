/*
 * decode_segments.c — element and data segments, and the data count section.
 *
 * A segment's first field is a small bit set (2.0 binary format, §5.5.12/§5.5.14):
 *   element: bit 0 = passive or declarative, bit 1 = explicit table index (active)
 *            or declarative (not active), bit 2 = items are expressions
 *   data:    0 = active on memory 0, 1 = passive, 2 = active with a memory index
 */
#include "wasm/decode.h"

#include <stdlib.h>

enum {
    ELEM_NOT_ACTIVE = 1,
    ELEM_EXPLICIT_TABLE_OR_DECLARATIVE = 2,
    ELEM_EXPRESSIONS = 4,
};

static bool out_of_memory(decoder *d)
{
    return wasm_fail(d->err, WASM_ERR_NOMEM, "out of memory decoding the module");
}

static const char *reftype_name(uint8_t type)
{
    return type == WASM_FUNCREF ? "funcref" : "externref";
}

/* An implicit table or memory index is reported at the segment's start. */
static bool decode_elem_mode(decoder *d, uint32_t flags, const uint8_t *segment_at,
                             wasm_elem_segment *segment)
{
    const wasm_module *m = d->module;
    if (flags & ELEM_NOT_ACTIVE) {
        segment->mode = flags & ELEM_EXPLICIT_TABLE_OR_DECLARATIVE ? WASM_SEGMENT_DECLARATIVE
                                                                   : WASM_SEGMENT_PASSIVE;
        return true;
    }
    segment->mode = WASM_SEGMENT_ACTIVE;
    const uint8_t *table_at = flags & ELEM_EXPLICIT_TABLE_OR_DECLARATIVE ? d->p : segment_at;
    segment->table_index = 0;
    if ((flags & ELEM_EXPLICIT_TABLE_OR_DECLARATIVE) &&
        !decoder_read_u32(d, &segment->table_index))
        return false;
    if (segment->table_index >= m->table_count)
        decoder_invalid(d, table_at, "unknown table %u", segment->table_index);
    return decode_constexpr(d, WASM_I32, &segment->offset);
}

/* The element type: implicit funcref (flags 0 and 4), an "elemkind" byte for
 * function indices, or a reference type for expressions. */
static bool decode_elem_type(decoder *d, uint32_t flags, wasm_elem_segment *segment)
{
    segment->elem_type = WASM_FUNCREF;
    if (!(flags & (ELEM_NOT_ACTIVE | ELEM_EXPLICIT_TABLE_OR_DECLARATIVE)))
        return true;
    if (flags & ELEM_EXPRESSIONS)
        return decoder_read_reftype(d, &segment->elem_type);
    const uint8_t *kind_at = d->p;
    uint8_t kind = 0;
    if (!decoder_read_byte(d, &kind))
        return false;
    if (kind != 0x00)
        return decoder_malformed(d, kind_at, "malformed element kind 0x%02x", kind);
    return true;
}

static bool decode_elem_items(decoder *d, uint32_t flags, wasm_elem_segment *segment)
{
    const wasm_module *m = d->module;
    uint32_t count;
    if (!decoder_read_count(d, &count))
        return false;
    segment->items = calloc(count ? count : 1, sizeof *segment->items);
    if (!segment->items)
        return out_of_memory(d);
    segment->item_count = count;
    for (uint32_t i = 0; i < count; i++) {
        wasm_constexpr *item = &segment->items[i];
        if (flags & ELEM_EXPRESSIONS) {
            if (!decode_constexpr(d, segment->elem_type, item))
                return false;
            continue;
        }
        const uint8_t *index_at = d->p;
        uint32_t func_index;
        if (!decoder_read_u32(d, &func_index))
            return false;
        *item = (wasm_constexpr){WASM_CONST_REF_FUNC, WASM_FUNCREF, func_index};
        if (func_index >= m->func_count)
            decoder_invalid(d, index_at, "unknown function %u", func_index);
        else if (!decoder_declare_func(d, func_index))
            return false;
    }
    return true;
}

bool decode_element_section(decoder *d)
{
    wasm_module *m = d->module;
    uint32_t count;
    if (!decoder_read_count(d, &count))
        return false;
    m->elems = calloc(count ? count : 1, sizeof *m->elems);
    if (!m->elems)
        return out_of_memory(d);
    for (uint32_t i = 0; i < count; i++) {
        wasm_elem_segment *segment = &m->elems[i];
        m->elem_count = i + 1;
        const uint8_t *flags_at = d->p;
        uint32_t flags;
        if (!decoder_read_u32(d, &flags))
            return false;
        if (flags > 7)
            return decoder_malformed(d, flags_at, "malformed elements segment kind %u", flags);
        if (!decode_elem_mode(d, flags, flags_at, segment) || !decode_elem_type(d, flags, segment) ||
            !decode_elem_items(d, flags, segment))
            return false;
        if (segment->mode == WASM_SEGMENT_ACTIVE && segment->table_index < m->table_count &&
            m->tables[segment->table_index].elem_type != segment->elem_type)
            decoder_invalid(d, flags_at, "type mismatch: element segment %u holds %s, table "
                            "%u holds %s", i, reftype_name(segment->elem_type),
                            segment->table_index,
                            reftype_name(m->tables[segment->table_index].elem_type));
    }
    return true;
}

bool decode_datacount_section(decoder *d)
{
    if (!decoder_read_u32(d, &d->data_count))
        return false;
    d->module->has_data_count_section = true;
    return true;
}

bool decode_data_section(decoder *d)
{
    wasm_module *m = d->module;
    const uint8_t *count_at = d->p;
    uint32_t count;
    if (!decoder_read_count(d, &count))
        return false;
    if (m->has_data_count_section && count != d->data_count)
        return decoder_malformed(d, count_at, "data count and data section have inconsistent "
                                 "lengths: data count %u, %u segments", d->data_count, count);
    m->datas = calloc(count ? count : 1, sizeof *m->datas);
    if (!m->datas)
        return out_of_memory(d);
    for (uint32_t i = 0; i < count; i++) {
        wasm_data_segment *segment = &m->datas[i];
        m->data_count = i + 1;
        const uint8_t *flags_at = d->p;
        uint32_t flags;
        if (!decoder_read_u32(d, &flags))
            return false;
        if (flags > 2)
            return decoder_malformed(d, flags_at, "malformed data segment kind %u", flags);
        segment->mode = flags == 1 ? WASM_SEGMENT_PASSIVE : WASM_SEGMENT_ACTIVE;
        if (segment->mode == WASM_SEGMENT_ACTIVE) {
            const uint8_t *memory_at = flags == 2 ? d->p : flags_at;
            if (flags == 2 && !decoder_read_u32(d, &segment->memory_index))
                return false;
            if (segment->memory_index >= m->memory_count)
                decoder_invalid(d, memory_at, "unknown memory %u", segment->memory_index);
            if (!decode_constexpr(d, WASM_I32, &segment->offset))
                return false;
        }
        const uint8_t *size_at = d->p;
        if (!decoder_read_u32(d, &segment->size))
            return false;
        if (segment->size > (size_t)(d->end - d->p))
            return decoder_malformed(d, size_at, "unexpected end of section or function: "
                                     "data segment %u claims %u bytes, %zu are left", i,
                                     segment->size, (size_t)(d->end - d->p));
        segment->bytes_offset = (uint32_t)decoder_offset(d, d->p);
        d->p += segment->size;
    }
    return true;
}
