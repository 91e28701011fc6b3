/*
 * table.c — table.grow. New entries hold the initial value given.
 */
#include "wasm/internal.h"

#include <stdlib.h>

int64_t wasm_table_grow(wasm_table_inst *table, uint32_t delta, wasm_slot init, bool *limit_hit)
{
    if (limit_hit)
        *limit_hit = false;
    uint32_t old_size = table->size;
    if (delta == 0)
        return old_size;
    uint64_t new_size = (uint64_t)old_size + delta;
    if (new_size > table->max)
        return -1;
    if (table->limit && new_size > table->limit) {
        if (limit_hit)
            *limit_hit = true;
        return -1;
    }
    if (new_size > SIZE_MAX / sizeof(wasm_slot))
        return -1;
    wasm_slot *elems = realloc(table->elems, (size_t)new_size * sizeof(wasm_slot));
    if (!elems)
        return -1;
    for (uint64_t i = old_size; i < new_size; i++)
        elems[i] = init;
    table->elems = elems;
    table->size = (uint32_t)new_size;
    return old_size;
}
