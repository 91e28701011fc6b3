/*
 * http_path.c — request paths and routes.
 *
 * A path is split on slashes before any percent escape is decoded, so "%2F" inside a
 * capture stays part of that capture instead of becoming a separator; empty segments
 * (from "//deploy", the Wasm-IoT orchestrator's double slash, or a trailing slash)
 * vanish, and "." / ".." are resolved as RFC 3986 §5.2.4 says. Handlers that use a
 * capture as a file name still check it with fs_is_safe_name: a decoded capture may
 * hold any byte but NUL.
 */
#include "base/http_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- arena */

struct http_arena_block {
    http_arena_block *next;
    size_t used, capacity;
    max_align_t data[];
};

void *http_arena_alloc(http_arena *arena, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    http_arena_block *block = arena->head;
    if (!block || block->capacity - block->used < size) {
        size_t capacity = size > 3000 ? size : 4096 - sizeof(http_arena_block);
        block = malloc(sizeof *block + capacity);
        if (!block)
            return NULL;
        block->capacity = capacity;
        block->used = 0;
        block->next = arena->head;
        arena->head = block;
    }
    void *p = (char *)block->data + block->used;
    block->used += size;
    return p;
}

char *http_arena_strndup(http_arena *arena, const char *s, size_t n)
{
    char *copy = http_arena_alloc(arena, n + 1);
    if (!copy)
        return NULL;
    memcpy(copy, s, n);
    copy[n] = '\0';
    return copy;
}

void http_arena_free(http_arena *arena)
{
    http_arena_block *block = arena->head;
    while (block) {
        http_arena_block *next = block->next;
        free(block);
        block = next;
    }
    arena->head = NULL;
}

/* ---- pairs */

bool http_pairs_add(http_pairs *pairs, const char *name, const char *value)
{
    if (pairs->count == pairs->capacity) {
        size_t capacity = pairs->capacity ? pairs->capacity * 2 : 8;
        http_pair *items = realloc(pairs->items, capacity * sizeof *items);
        if (!items)
            return false;
        pairs->items = items;
        pairs->capacity = capacity;
    }
    pairs->items[pairs->count++] = (http_pair){name, value};
    return true;
}

const char *http_pairs_find(const http_pairs *pairs, const char *name)
{
    for (size_t i = 0; i < pairs->count; i++)
        if (!strcmp(pairs->items[i].name, name))
            return pairs->items[i].value;
    return NULL;
}

void http_pairs_free(http_pairs *pairs)
{
    free(pairs->items);
    *pairs = (http_pairs){0};
}

/* ---- percent decoding */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *http_percent_decode(http_arena *arena, const char *s, size_t n, bool form)
{
    char *out = http_arena_alloc(arena, n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 1 < n ? hex_value(s[i + 1]) : -1;
            int lo = i + 2 < n ? hex_value(s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return NULL;
            c = (char)(hi * 16 + lo);
            if (c == '\0')
                return NULL;   /* a NUL would cut the value short in every C caller */
            i += 2;
        } else if (c == '+' && form) {
            c = ' ';
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return out;
}

/* ---- path splitting */

bool http_path_split(const char *raw, http_arena *arena, http_split_path *out)
{
    out->count = 0;
    size_t total = 1;
    const char *p = raw;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 1 && p[0] == '.') {
            /* "." names the current segment: nothing to add */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (out->count > 0)
                out->count--;
        } else {
            if (out->count == HTTP_MAX_SEGMENTS)
                return false;
            char *segment = http_percent_decode(arena, p, n, false);
            if (!segment)
                return false;
            out->segments[out->count++] = segment;
        }
        p += n;
    }
    for (size_t i = 0; i < out->count; i++)
        total += strlen(out->segments[i]) + 1;
    char *joined = http_arena_alloc(arena, total + 1);
    if (!joined)
        return false;
    char *w = joined;
    *w++ = '/';
    for (size_t i = 0; i < out->count; i++) {
        size_t n = strlen(out->segments[i]);
        memcpy(w, out->segments[i], n);
        w += n;
        if (i + 1 < out->count)
            *w++ = '/';
    }
    *w = '\0';
    out->normalised = joined;
    return true;
}

/* ---- routes */

bool http_route_compile(const http_route *route, http_compiled_route *out, char *err,
                        size_t err_size)
{
    *out = (http_compiled_route){.method = route->method, .handler = route->handler};
    if (!route->method || !route->pattern || !route->handler || route->pattern[0] != '/') {
        snprintf(err, err_size, "route '%s %s': needs a method, a pattern starting with '/' "
                 "and a handler", route->method ? route->method : "(null)",
                 route->pattern ? route->pattern : "(null)");
        return false;
    }
    const char *p = route->pattern;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (out->segment_count == HTTP_MAX_SEGMENTS) {
            snprintf(err, err_size, "route '%s': more than %d segments", route->pattern,
                     HTTP_MAX_SEGMENTS);
            http_route_release(out);
            return false;
        }
        bool capture = n >= 2 && p[0] == '{' && p[n - 1] == '}';
        if (capture && n == 2) {
            snprintf(err, err_size, "route '%s': a capture needs a name", route->pattern);
            http_route_release(out);
            return false;
        }
        const char *text = capture ? p + 1 : p;
        size_t text_n = capture ? n - 2 : n;
        char *copy = strndup(text, text_n);
        if (!copy) {
            snprintf(err, err_size, "out of memory");
            http_route_release(out);
            return false;
        }
        out->is_capture[out->segment_count] = capture;
        out->segments[out->segment_count++] = copy;
        p += n;
    }
    return true;
}

void http_route_release(http_compiled_route *route)
{
    for (size_t i = 0; i < route->segment_count; i++)
        free(route->segments[i]);
    route->segment_count = 0;
}

static bool path_matches(const http_compiled_route *route, const http_split_path *path)
{
    if (route->segment_count != path->count)
        return false;
    for (size_t i = 0; i < path->count; i++)
        if (!route->is_capture[i] && strcmp(route->segments[i], path->segments[i]))
            return false;
    return true;
}

static bool method_matches(const char *route_method, const char *method)
{
    if (!strcmp(route_method, "*") || !strcmp(route_method, method))
        return true;
    /* HEAD is a GET without the body; libmicrohttpd drops the body itself. */
    return !strcmp(method, "HEAD") && !strcmp(route_method, "GET");
}

static void add_allowed(char *allowed, size_t size, const char *method)
{
    if (!size || strstr(allowed, method))
        return;
    size_t used = strlen(allowed);
    snprintf(allowed + used, size - used, "%s%s", used ? ", " : "", method);
}

http_match_result http_route_match(const http_compiled_route *routes, size_t count,
                                   const char *method, const http_split_path *path,
                                   const http_compiled_route **found, http_pairs *captures,
                                   char *allowed, size_t allowed_size)
{
    bool path_known = false;
    if (allowed_size)
        allowed[0] = '\0';
    for (size_t r = 0; r < count; r++) {
        const http_compiled_route *route = &routes[r];
        if (!path_matches(route, path))
            continue;
        path_known = true;
        if (!method_matches(route->method, method)) {
            add_allowed(allowed, allowed_size, route->method);
            continue;
        }
        for (size_t i = 0; i < path->count; i++)
            if (route->is_capture[i] &&
                !http_pairs_add(captures, route->segments[i], path->segments[i]))
                return HTTP_MATCH_NO_PATH;
        *found = route;
        return HTTP_MATCH_FOUND;
    }
    return path_known ? HTTP_MATCH_WRONG_METHOD : HTTP_MATCH_NO_PATH;
}
