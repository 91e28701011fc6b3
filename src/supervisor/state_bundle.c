/*
 * state_bundle.c — writing and reading the state bundle (see state_bundle.h).
 */
#include "supervisor/state_bundle.h"

#include "supervisor/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "LQSB"
#define MAX_SECTIONS 100000u

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

bool state_bundle_write(const state_section *sections, size_t count, uint8_t **out,
                        size_t *out_size)
{
    size_t total = 12;
    for (size_t i = 0; i < count; i++)
        total += 1 + 4 + strlen(sections[i].name) + 8 + (size_t)sections[i].size;
    uint8_t *buf = malloc(total), *p = buf;
    if (!buf)
        return false;
    memcpy(p, MAGIC, 4);
    put_u32(p + 4, STATE_BUNDLE_VERSION);
    put_u32(p + 8, (uint32_t)count);
    p += 12;
    for (size_t i = 0; i < count; i++) {
        size_t name_len = strlen(sections[i].name);
        *p++ = sections[i].kind;
        put_u32(p, (uint32_t)name_len);
        memcpy(p + 4, sections[i].name, name_len);
        p += 4 + name_len;
        put_u64(p, sections[i].size);
        p += 8;
        if (sections[i].size)
            memcpy(p, sections[i].data, (size_t)sections[i].size);
        p += sections[i].size;
    }
    *out = buf;
    *out_size = total;
    return true;
}

bool state_bundle_is_relative_path(const char *name)
{
    size_t len = strlen(name);
    if (!len || len > STATE_BUNDLE_MAX_NAME)
        return false;
    char part[STATE_BUNDLE_MAX_NAME + 1];
    for (const char *at = name;;) {
        const char *slash = strchr(at, '/');
        size_t n = slash ? (size_t)(slash - at) : strlen(at);
        memcpy(part, at, n);
        part[n] = 0;
        if (!manifest_is_safe_name(part))     /* also an empty part: "a//b", "/a", "a/" */
            return false;
        if (!slash)
            return true;
        at = slash + 1;
    }
}

/* ------------------------------------------------------------- reading */

typedef struct reader {
    const uint8_t *data;
    size_t size, at;
    char *err;
    size_t err_size;
} reader;

static bool truncated(reader *r, const char *what)
{
    snprintf(r->err, r->err_size, "the state bundle is truncated: %s at byte %zu needs more "
             "than the %zu bytes left (was the transfer cut short?)", what, r->at,
             r->size - r->at);
    return false;
}

static bool take(reader *r, size_t n, const char *what, const uint8_t **p)
{
    if (r->size - r->at < n)
        return truncated(r, what);
    *p = r->data + r->at;
    r->at += n;
    return true;
}

static bool take_u32(reader *r, const char *what, uint32_t *v)
{
    const uint8_t *p;
    if (!take(r, 4, what, &p))
        return false;
    *v = 0;
    for (int i = 0; i < 4; i++)
        *v |= (uint32_t)p[i] << (8 * i);
    return true;
}

static bool take_u64(reader *r, const char *what, uint64_t *v)
{
    const uint8_t *p;
    if (!take(r, 8, what, &p))
        return false;
    *v = 0;
    for (int i = 0; i < 8; i++)
        *v |= (uint64_t)p[i] << (8 * i);
    return true;
}

static bool corrupt(reader *r, size_t section, const char *fmt, const char *detail)
{
    char what[300];
    snprintf(what, sizeof what, fmt, detail);
    snprintf(r->err, r->err_size, "the state bundle is corrupt: section %zu: %s", section,
             what);
    return false;
}

/* The call's description must say at least which request and function it is. */
static json_t *parse_call(reader *r, size_t i, const state_section *s)
{
    json_error_t jerr;
    json_t *call = json_loadb((const char *)s->data, (size_t)s->size, 0, &jerr);
    if (!json_is_object(call) ||
        !json_is_string(json_object_get(call, "requestId")) ||
        !json_is_string(json_object_get(call, "function")) ||
        strcmp(json_string_value(json_object_get(call, "requestId")), s->name)) {
        json_decref(call);
        corrupt(r, i, "the suspended call is not {\"requestId\": \"%s\", \"function\", ...}",
                s->name);
        return NULL;
    }
    return call;
}

static bool check_section(reader *r, size_t i, state_bundle *b)
{
    state_section *s = &b->sections[i];
    switch (s->kind) {
    case BUNDLE_STATE:
        if (b->state)
            return corrupt(r, i, "%s", "a second module state");
        if (*s->name)
            return corrupt(r, i, "the module state is named '%s' (must be \"\")", s->name);
        b->state = s;
        return true;
    case BUNDLE_FILE:
    case BUNDLE_DIRECTORY:
        if (!state_bundle_is_relative_path(s->name))
            return corrupt(r, i, "path '%s' is not plain names joined by '/'", s->name);
        if (s->kind == BUNDLE_DIRECTORY && s->size)
            return corrupt(r, i, "directory '%s' carries bytes", s->name);
        for (size_t j = 0; j < i; j++)
            if ((b->sections[j].kind == BUNDLE_FILE || b->sections[j].kind == BUNDLE_DIRECTORY)
                && !strcmp(b->sections[j].name, s->name))
                return corrupt(r, i, "path '%s' appears twice", s->name);
        return true;
    case BUNDLE_CALL:
        if (b->call)
            return corrupt(r, i, "%s", "a second suspended call");
        return (b->call = parse_call(r, i, s)) != NULL;
    default: {
        char kind[16];
        snprintf(kind, sizeof kind, "%u", s->kind);
        return corrupt(r, i, "unknown section kind %s", kind);
    }
    }
}

static bool read_section(reader *r, size_t i, state_bundle *b)
{
    const uint8_t *p;
    uint32_t name_len;
    uint64_t size;
    state_section *s = &b->sections[i];
    if (!take(r, 1, "a section kind", &p))
        return false;
    s->kind = *p;
    if (!take_u32(r, "a section name length", &name_len))
        return false;
    if (name_len > STATE_BUNDLE_MAX_NAME)
        return corrupt(r, i, "%s", "a name longer than 1024 bytes");
    if (!take(r, name_len, "a section name", &p))
        return false;
    if (memchr(p, 0, name_len))
        return corrupt(r, i, "%s", "a name holding a NUL byte");
    char *name = malloc(name_len + 1);
    if (!name) {
        snprintf(r->err, r->err_size, "out of memory");
        return false;
    }
    memcpy(name, p, name_len);
    name[name_len] = 0;
    s->name = name;
    if (!take_u64(r, "a section size", &size))
        return false;
    if (size > r->size - r->at)
        return truncated(r, "a section's bytes");
    s->data = r->data + r->at;
    s->size = size;
    r->at += (size_t)size;
    return check_section(r, i, b);
}

bool state_bundle_read(const uint8_t *data, size_t size, state_bundle *out, char *err,
                       size_t err_size)
{
    memset(out, 0, sizeof *out);
    reader r = {data, size, 0, err, err_size};
    const uint8_t *magic;
    uint32_t version, count;
    if (!take(&r, 4, "the magic \"LQSB\"", &magic))
        return false;
    if (memcmp(magic, MAGIC, 4)) {
        snprintf(err, err_size, "not a state bundle (it does not start with \"LQSB\")");
        return false;
    }
    if (!take_u32(&r, "the version", &version) || !take_u32(&r, "the section count", &count))
        return false;
    if (version != STATE_BUNDLE_VERSION) {
        snprintf(err, err_size, "state bundle version %u is not supported (this supervisor "
                 "reads version %d)", version, STATE_BUNDLE_VERSION);
        return false;
    }
    if (count > MAX_SECTIONS || count > (size - r.at) / 13) {
        snprintf(err, err_size, "the state bundle is corrupt or truncated: %u sections "
                 "cannot fit in %zu bytes", count, size - r.at);
        return false;
    }
    out->sections = calloc(count ? count : 1, sizeof *out->sections);
    if (!out->sections) {
        snprintf(err, err_size, "out of memory");
        return false;
    }
    out->count = count;
    for (size_t i = 0; i < count; i++)
        if (!read_section(&r, i, out)) {
            state_bundle_free(out);
            return false;
        }
    if (r.at != size) {
        snprintf(err, err_size, "the state bundle is corrupt: %zu bytes after its last "
                 "section", size - r.at);
        state_bundle_free(out);
        return false;
    }
    if (!out->state) {
        snprintf(err, err_size, "the state bundle holds no module state (section kind 1)");
        state_bundle_free(out);
        return false;
    }
    return true;
}

void state_bundle_free(state_bundle *bundle)
{
    for (size_t i = 0; bundle->sections && i < bundle->count; i++)
        free((char *)bundle->sections[i].name);
    free(bundle->sections);
    json_decref(bundle->call);
    memset(bundle, 0, sizeof *bundle);
}
