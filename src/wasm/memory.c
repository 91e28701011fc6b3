/*
 * memory.c — memory.grow. New pages are zeroed. The data may move, so whoever
 * caches the pointer (the interpreter) reloads it after a grow.
 */
#include "wasm/internal.h"

#include <stdlib.h>
#include <string.h>

int64_t wasm_memory_grow(wasm_memory_inst *memory, uint32_t delta_pages, bool *limit_hit)
{
    if (limit_hit)
        *limit_hit = false;
    uint32_t old_pages = memory->pages;
    if (delta_pages == 0)
        return old_pages;
    uint64_t new_pages = (uint64_t)old_pages + delta_pages;
    if (new_pages > memory->max_pages || new_pages > WASM_MAX_PAGES)
        return -1;
    if (memory->limit_pages && new_pages > memory->limit_pages) {
        if (limit_hit)
            *limit_hit = true;
        return -1;
    }
    uint64_t new_size = new_pages * WASM_PAGE_SIZE;
    if (new_size > SIZE_MAX)
        return -1;
    /* Failing to get the memory is not a trap: memory.grow answers -1. */
    uint8_t *data = realloc(memory->data, (size_t)new_size);
    if (!data)
        return -1;
    memset(data + memory->size, 0, (size_t)(new_size - memory->size));
    memory->data = data;
    memory->size = new_size;
    memory->pages = (uint32_t)new_pages;
    return old_pages;
}
