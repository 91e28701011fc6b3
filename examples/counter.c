/*
 * counter.c — a reactor module (no main; the host calls its exports) with state
 * that lives on between calls: a count, and a history of every change kept in a
 * heap buffer that grows. Later issues move it between devices mid-life.
 *
 *   liquid run --invoke add counter.wasm 5      -> 5
 *
 * _initialize (run by the host first) runs the constructor below.
 */
// wasm-flags: -mexec-model=reactor
#include <stdint.h>
#include <stdlib.h>

static int64_t count;
static int64_t *history;     /* every value the count had, oldest first */
static uint32_t history_len, history_capacity;

__attribute__((constructor)) static void counter_start(void)
{
    history_capacity = 16;
    history = malloc(history_capacity * sizeof *history);
}

static int64_t record(int64_t value)
{
    if (history && history_len == history_capacity) {
        int64_t *grown = realloc(history, 2 * history_capacity * sizeof *history);
        if (grown) {
            history = grown;
            history_capacity *= 2;
        }
    }
    if (history && history_len < history_capacity)
        history[history_len++] = value;
    count = value;
    return count;
}

__attribute__((export_name("increment"))) int64_t increment(void)
{
    return record(count + 1);
}

__attribute__((export_name("add"))) int64_t add(int64_t n)
{
    return record(count + n);
}

__attribute__((export_name("get"))) int64_t get(void)
{
    return count;
}

/* How many changes were recorded, and the value after the i-th one (0 if none). */
__attribute__((export_name("changes"))) int32_t changes(void)
{
    return (int32_t)history_len;
}

__attribute__((export_name("value_after"))) int64_t value_after(int32_t i)
{
    return i >= 0 && (uint32_t)i < history_len ? history[i] : 0;
}
