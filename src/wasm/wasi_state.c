/*
 * wasi_state.c — the guest's open files as bytes, so a program moved to another
 * process or device finds them open again at the same offsets.
 *
 * Only what can be re-created is recorded: for each file or directory the guest
 * opened, its guest fd, the preopen it lies under (by guest name, since host
 * paths differ between devices), its path beneath that preopen, how it was
 * opened and where it stood. Stdio and preopens belong to the embedder's
 * configuration and are not recorded.
 *
 * Format (little-endian): "LQWASI" u16 version, u32 count, then per file:
 *   u32 fd, u8 filetype, u8 access (1 read, 2 write), u16 fdflags,
 *   u64 rights_base, u64 rights_inheriting, u64 offset,
 *   u32 length + preopen name, u32 length + path.
 */
#define _GNU_SOURCE
#include "wasi_internal.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STATE_MAGIC "LQWASI"
#define STATE_MAGIC_SIZE 6
#define STATE_VERSION 1
#define STATE_MAX_FD 4096u
#define STATE_MAX_STRING 65536u

/* ------------------------------------------------------------------ save */

static bool put_bytes(wasi_buffer *out, const void *data, size_t size)
{
    return wasi_buffer_append(out, data, size);
}

static bool put_u16(wasi_buffer *out, uint16_t v)
{
    uint8_t b[2];
    wasi_put_u16(b, v);
    return put_bytes(out, b, 2);
}

static bool put_u32(wasi_buffer *out, uint32_t v)
{
    uint8_t b[4];
    wasi_put_u32(b, v);
    return put_bytes(out, b, 4);
}

static bool put_u64(wasi_buffer *out, uint64_t v)
{
    uint8_t b[8];
    wasi_put_u64(b, v);
    return put_bytes(out, b, 8);
}

static bool put_string(wasi_buffer *out, const char *s)
{
    size_t len = strlen(s);
    return put_u32(out, (uint32_t)len) && put_bytes(out, s, len);
}

static bool is_saved(const wasi_fd_entry *e)
{
    return e->kind == WASI_FD_HOST && !e->is_preopen && !e->is_stdio && e->preopen_name &&
           e->path;
}

bool wasi_ctx_save(const wasi_ctx *ctx, uint8_t **out, size_t *out_size, wasm_error *err)
{
    wasi_buffer buf = {0};
    uint32_t count = 0;
    for (uint32_t fd = 0; fd < ctx->fd_capacity; fd++)
        count += is_saved(&ctx->fds[fd]);
    bool ok = put_bytes(&buf, STATE_MAGIC, STATE_MAGIC_SIZE) && put_u16(&buf, STATE_VERSION) &&
              put_u32(&buf, count);
    for (uint32_t fd = 0; ok && fd < ctx->fd_capacity; fd++) {
        const wasi_fd_entry *e = &ctx->fds[fd];
        if (!is_saved(e))
            continue;
        off_t offset = 0;
        if (e->filetype != WASI_FILETYPE_DIRECTORY) {
            offset = lseek(e->host_fd, 0, SEEK_CUR);
            if (offset < 0)
                offset = 0;     /* not seekable: nothing to restore */
        }
        uint8_t access = (uint8_t)((e->readable ? 1 : 0) | (e->writable ? 2 : 0));
        uint8_t head[4] = {e->filetype, access, 0, 0};
        wasi_put_u16(head + 2, e->fdflags);
        ok = put_u32(&buf, fd) && put_bytes(&buf, head, 4) && put_u64(&buf, e->rights_base) &&
             put_u64(&buf, e->rights_inheriting) && put_u64(&buf, (uint64_t)offset) &&
             put_string(&buf, e->preopen_name) && put_string(&buf, e->path);
    }
    if (!ok) {
        free(buf.data);
        return wasm_fail(err, WASM_ERR_NOMEM, "out of memory saving the WASI state");
    }
    *out = buf.data;
    *out_size = buf.size;
    return true;
}

/* --------------------------------------------------------------- restore */

typedef struct reader {
    const uint8_t *p, *end;
} reader;

static bool take(reader *r, size_t n, const uint8_t **out)
{
    if ((size_t)(r->end - r->p) < n)
        return false;
    *out = r->p;
    r->p += n;
    return true;
}

static bool take_u32(reader *r, uint32_t *v)
{
    const uint8_t *p;
    if (!take(r, 4, &p))
        return false;
    *v = wasi_get_u32(p);
    return true;
}

static bool take_u64(reader *r, uint64_t *v)
{
    const uint8_t *p;
    if (!take(r, 8, &p))
        return false;
    *v = wasi_get_u64(p);
    return true;
}

static bool take_string(reader *r, char **out)
{
    uint32_t len;
    const uint8_t *p;
    if (!take_u32(r, &len) || len > STATE_MAX_STRING || !take(r, len, &p) ||
        memchr(p, '\0', len))
        return false;
    *out = strndup((const char *)p, len);
    return *out != NULL;
}

typedef struct saved_file {
    uint32_t fd;
    uint8_t filetype, access;
    uint16_t fdflags;
    uint64_t rights_base, rights_inheriting, offset;
    char *preopen_name, *path;
    int host_fd;
} saved_file;

static void free_saved_files(saved_file *files, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        free(files[i].preopen_name);
        free(files[i].path);
        if (files[i].host_fd >= 0)
            close(files[i].host_fd);
    }
    free(files);
}

static bool parse_state(const uint8_t *data, size_t size, saved_file **out, uint32_t *count,
                        wasm_error *err)
{
    reader r = {data, data + size};
    const uint8_t *p;
    if (!take(&r, STATE_MAGIC_SIZE + 2, &p) || memcmp(p, STATE_MAGIC, STATE_MAGIC_SIZE))
        return wasm_fail(err, WASM_ERR_SNAPSHOT, "not a WASI state (bad magic)");
    uint16_t version = (uint16_t)(p[6] | p[7] << 8);
    if (version != STATE_VERSION)
        return wasm_fail(err, WASM_ERR_SNAPSHOT, "WASI state version %u is not supported "
                         "(this build reads version %u)", version, STATE_VERSION);
    if (!take_u32(&r, count) || *count > STATE_MAX_FD)
        return wasm_fail(err, WASM_ERR_SNAPSHOT, "WASI state is truncated or corrupt");
    saved_file *files = calloc(*count ? *count : 1, sizeof *files);
    if (!files)
        return wasm_fail(err, WASM_ERR_NOMEM, "out of memory restoring the WASI state");
    for (uint32_t i = 0; i < *count; i++)
        files[i].host_fd = -1;
    bool ok = true;
    for (uint32_t i = 0; ok && i < *count; i++) {
        saved_file *f = &files[i];
        ok = take_u32(&r, &f->fd) && f->fd < STATE_MAX_FD && take(&r, 4, &p);
        if (ok) {
            f->filetype = p[0];
            f->access = p[1];
            f->fdflags = (uint16_t)(p[2] | p[3] << 8);
        }
        ok = ok && take_u64(&r, &f->rights_base) && take_u64(&r, &f->rights_inheriting) &&
             take_u64(&r, &f->offset) && f->offset <= INT64_MAX &&
             take_string(&r, &f->preopen_name) && take_string(&r, &f->path);
    }
    if (!ok || r.p != r.end) {
        free_saved_files(files, *count);
        return wasm_fail(err, WASM_ERR_SNAPSHOT, "WASI state is truncated or corrupt");
    }
    *out = files;
    return true;
}

static const wasi_fd_entry *find_preopen(const wasi_ctx *ctx, const char *name)
{
    for (uint32_t fd = 0; fd < ctx->fd_capacity; fd++)
        if (ctx->fds[fd].kind == WASI_FD_HOST && ctx->fds[fd].is_preopen &&
            !strcmp(ctx->fds[fd].preopen_name, name))
            return &ctx->fds[fd];
    return NULL;
}

static bool reopen(const wasi_ctx *ctx, saved_file *f, wasm_error *err)
{
    const wasi_fd_entry *preopen = find_preopen(ctx, f->preopen_name);
    if (!preopen)
        return wasm_fail(err, WASM_ERR_SNAPSHOT, "fd %u was open under the preopened "
                         "directory '%s', which this context does not have", f->fd,
                         f->preopen_name);
    int flags = (f->access & 2) ? ((f->access & 1) ? O_RDWR : O_WRONLY) : O_RDONLY;
    if (f->filetype == WASI_FILETYPE_DIRECTORY)
        flags = O_RDONLY | O_DIRECTORY;
    if (f->fdflags & WASI_FDFLAG_APPEND)
        flags |= O_APPEND;
    if (f->fdflags & WASI_FDFLAG_NONBLOCK)
        flags |= O_NONBLOCK;
    uint16_t e = wasi_path_open_host(preopen->host_fd, f->path, strlen(f->path), flags,
                                     &f->host_fd);
    if (e)
        return wasm_fail(err, WASM_ERR_SNAPSHOT, "cannot reopen '%s' under '%s' as fd %u "
                         "(WASI errno %u)", f->path, f->preopen_name, f->fd, e);
    if (f->filetype != WASI_FILETYPE_DIRECTORY && f->offset &&
        lseek(f->host_fd, (off_t)f->offset, SEEK_SET) < 0)
        return wasm_fail(err, WASM_ERR_SNAPSHOT, "cannot seek '%s' back to offset %llu: %s",
                         f->path, (unsigned long long)f->offset, strerror(errno));
    return true;
}

/* Makes guest fd `fd` exist in the table (free), growing it if needed. */
static bool reserve_fd(wasi_ctx *ctx, uint32_t fd)
{
    if (fd < ctx->fd_capacity)
        return true;
    uint32_t capacity = ctx->fd_capacity ? ctx->fd_capacity : 8;
    while (capacity <= fd)
        capacity *= 2;
    wasi_fd_entry *grown = realloc(ctx->fds, capacity * sizeof *grown);
    if (!grown)
        return false;
    memset(grown + ctx->fd_capacity, 0, (capacity - ctx->fd_capacity) * sizeof *grown);
    ctx->fds = grown;
    ctx->fd_capacity = capacity;
    return true;
}

bool wasi_ctx_restore(wasi_ctx *ctx, const uint8_t *data, size_t size, wasm_error *err)
{
    saved_file *files = NULL;
    uint32_t count = 0;
    if (!parse_state(data, size, &files, &count, err))
        return false;
    /* Open everything first, so a failure leaves the context as it was. */
    bool ok = true;
    for (uint32_t i = 0; ok && i < count; i++) {
        ok = reopen(ctx, &files[i], err);
        for (uint32_t j = 0; ok && j < i; j++)
            if (files[j].fd == files[i].fd)
                ok = wasm_fail(err, WASM_ERR_SNAPSHOT, "fd %u appears twice", files[i].fd);
        if (ok && wasi_fd_get(ctx, files[i].fd))
            ok = wasm_fail(err, WASM_ERR_SNAPSHOT, "fd %u is already in use (a preopen or "
                           "stdio of this context)", files[i].fd);
        if (ok && !reserve_fd(ctx, files[i].fd))
            ok = wasm_fail(err, WASM_ERR_NOMEM, "out of memory restoring the WASI state");
    }
    for (uint32_t i = 0; ok && i < count; i++) {
        saved_file *f = &files[i];
        wasi_fd_entry *e = &ctx->fds[f->fd];
        e->kind = WASI_FD_HOST;
        e->host_fd = f->host_fd;
        e->owns_host_fd = true;
        e->filetype = f->filetype;
        e->fdflags = f->fdflags;
        e->rights_base = f->rights_base;
        e->rights_inheriting = f->rights_inheriting;
        e->readable = f->access & 1;
        e->writable = (f->access & 2) != 0;
        e->preopen_name = f->preopen_name;
        e->path = f->path;
        f->host_fd = -1;
        f->preopen_name = f->path = NULL;
    }
    free_saved_files(files, count);
    return ok;
}
