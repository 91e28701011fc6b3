/*
 * wasi_ctx.c — the WASI context: configuration, the guest's fd table, guest memory
 * access and the translation of host errno values to WASI's.
 */
#define _GNU_SOURCE
#include "wasi_internal.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WASI_MAX_FDS 4096u  /* beyond this the guest gets EMFILE */

/* ------------------------------------------------------------ small pieces */

bool wasi_buffer_append(wasi_buffer *buffer, const void *data, size_t size)
{
    if (size > SIZE_MAX - buffer->size)
        return false;
    if (buffer->size + size > buffer->capacity) {
        size_t capacity = buffer->capacity ? buffer->capacity : 256;
        while (capacity < buffer->size + size)
            capacity = capacity > SIZE_MAX / 2 ? buffer->size + size : capacity * 2;
        uint8_t *grown = realloc(buffer->data, capacity);
        if (!grown)
            return false;
        buffer->data = grown;
        buffer->capacity = capacity;
    }
    if (size)
        memcpy(buffer->data + buffer->size, data, size);
    buffer->size += size;
    return true;
}

static char *copy_string(const char *s)
{
    size_t len = strlen(s);
    char *copy = malloc(len + 1);
    if (copy)
        memcpy(copy, s, len + 1);
    return copy;
}

static bool push_string(char ***list, uint32_t *count, const char *s)
{
    char *copy = copy_string(s);
    char **grown = copy ? realloc(*list, (*count + 1) * sizeof **list) : NULL;
    if (!grown) {
        free(copy);
        return false;
    }
    grown[(*count)++] = copy;
    *list = grown;
    return true;
}

/* ------------------------------------------------------------ guest memory */

uint8_t *wasi_guest_range(const wasi_call *call, uint32_t ptr, uint64_t len)
{
    /* 64-bit arithmetic: ptr + len cannot wrap, so one comparison is enough. */
    if (!call->memory || (uint64_t)ptr + len > call->memory_size)
        return NULL;
    return call->memory + ptr;
}

void wasi_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

void wasi_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void wasi_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t wasi_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t wasi_get_u64(const uint8_t *p)
{
    return (uint64_t)wasi_get_u32(p) | (uint64_t)wasi_get_u32(p + 4) << 32;
}

bool wasi_store_u8(const wasi_call *call, uint32_t ptr, uint8_t v)
{
    uint8_t *p = wasi_guest_range(call, ptr, 1);
    if (p)
        *p = v;
    return p != NULL;
}

bool wasi_store_u16(const wasi_call *call, uint32_t ptr, uint16_t v)
{
    uint8_t *p = wasi_guest_range(call, ptr, 2);
    if (p)
        wasi_put_u16(p, v);
    return p != NULL;
}

bool wasi_store_u32(const wasi_call *call, uint32_t ptr, uint32_t v)
{
    uint8_t *p = wasi_guest_range(call, ptr, 4);
    if (p)
        wasi_put_u32(p, v);
    return p != NULL;
}

bool wasi_store_u64(const wasi_call *call, uint32_t ptr, uint64_t v)
{
    uint8_t *p = wasi_guest_range(call, ptr, 8);
    if (p)
        wasi_put_u64(p, v);
    return p != NULL;
}

bool wasi_load_u32(const wasi_call *call, uint32_t ptr, uint32_t *v)
{
    const uint8_t *p = wasi_guest_range(call, ptr, 4);
    if (p)
        *v = wasi_get_u32(p);
    return p != NULL;
}

bool wasi_load_u64(const wasi_call *call, uint32_t ptr, uint64_t *v)
{
    const uint8_t *p = wasi_guest_range(call, ptr, 8);
    if (p)
        *v = wasi_get_u64(p);
    return p != NULL;
}

/* ------------------------------------------------------------------ errno */

uint16_t wasi_errno_from_host(int host_errno)
{
    switch (host_errno) {
    case 0: return WASI_ESUCCESS;
    case E2BIG: return WASI_E2BIG;
    case EACCES: return WASI_EACCES;
    case EADDRINUSE: return WASI_EADDRINUSE;
    case EADDRNOTAVAIL: return WASI_EADDRNOTAVAIL;
    case EAFNOSUPPORT: return WASI_EAFNOSUPPORT;
    case EAGAIN: return WASI_EAGAIN;
    case EALREADY: return WASI_EALREADY;
    case EBADF: return WASI_EBADF;
    case EBADMSG: return WASI_EBADMSG;
    case EBUSY: return WASI_EBUSY;
    case ECANCELED: return WASI_ECANCELED;
    case ECHILD: return WASI_ECHILD;
    case ECONNABORTED: return WASI_ECONNABORTED;
    case ECONNREFUSED: return WASI_ECONNREFUSED;
    case ECONNRESET: return WASI_ECONNRESET;
    case EDEADLK: return WASI_EDEADLK;
    case EDESTADDRREQ: return WASI_EDESTADDRREQ;
    case EDOM: return WASI_EDOM;
    case EDQUOT: return WASI_EDQUOT;
    case EEXIST: return WASI_EEXIST;
    case EFAULT: return WASI_EFAULT;
    case EFBIG: return WASI_EFBIG;
    case EHOSTUNREACH: return WASI_EHOSTUNREACH;
    case EIDRM: return WASI_EIDRM;
    case EILSEQ: return WASI_EILSEQ;
    case EINPROGRESS: return WASI_EINPROGRESS;
    case EINTR: return WASI_EINTR;
    case EINVAL: return WASI_EINVAL;
    case EIO: return WASI_EIO;
    case EISCONN: return WASI_EISCONN;
    case EISDIR: return WASI_EISDIR;
    case ELOOP: return WASI_ELOOP;
    case EMFILE: return WASI_EMFILE;
    case EMLINK: return WASI_EMLINK;
    case EMSGSIZE: return WASI_EMSGSIZE;
    case EMULTIHOP: return WASI_EMULTIHOP;
    case ENAMETOOLONG: return WASI_ENAMETOOLONG;
    case ENETDOWN: return WASI_ENETDOWN;
    case ENETRESET: return WASI_ENETRESET;
    case ENETUNREACH: return WASI_ENETUNREACH;
    case ENFILE: return WASI_ENFILE;
    case ENOBUFS: return WASI_ENOBUFS;
    case ENODEV: return WASI_ENODEV;
    case ENOENT: return WASI_ENOENT;
    case ENOEXEC: return WASI_ENOEXEC;
    case ENOLCK: return WASI_ENOLCK;
    case ENOLINK: return WASI_ENOLINK;
    case ENOMEM: return WASI_ENOMEM;
    case ENOMSG: return WASI_ENOMSG;
    case ENOPROTOOPT: return WASI_ENOPROTOOPT;
    case ENOSPC: return WASI_ENOSPC;
    case ENOSYS: return WASI_ENOSYS;
    case ENOTCONN: return WASI_ENOTCONN;
    case ENOTDIR: return WASI_ENOTDIR;
    case ENOTEMPTY: return WASI_ENOTEMPTY;
    case ENOTRECOVERABLE: return WASI_ENOTRECOVERABLE;
    case ENOTSOCK: return WASI_ENOTSOCK;
    case ENOTSUP: return WASI_ENOTSUP;   /* == EOPNOTSUPP on Linux */
    case ENOTTY: return WASI_ENOTTY;
    case ENXIO: return WASI_ENXIO;
    case EOVERFLOW: return WASI_EOVERFLOW;
    case EOWNERDEAD: return WASI_EOWNERDEAD;
    case EPERM: return WASI_EPERM;
    case EPIPE: return WASI_EPIPE;
    case EPROTO: return WASI_EPROTO;
    case EPROTONOSUPPORT: return WASI_EPROTONOSUPPORT;
    case EPROTOTYPE: return WASI_EPROTOTYPE;
    case ERANGE: return WASI_ERANGE;
    case EROFS: return WASI_EROFS;
    case ESPIPE: return WASI_ESPIPE;
    case ESRCH: return WASI_ESRCH;
    case ESTALE: return WASI_ESTALE;
    case ETIMEDOUT: return WASI_ETIMEDOUT;
    case ETXTBSY: return WASI_ETXTBSY;
    case EXDEV: return WASI_EXDEV;
    default: return WASI_EIO;
    }
}

/* ------------------------------------------------------------ the fd table */

uint8_t wasi_filetype_of_mode(unsigned mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG: return WASI_FILETYPE_REGULAR_FILE;
    case S_IFDIR: return WASI_FILETYPE_DIRECTORY;
    case S_IFCHR: return WASI_FILETYPE_CHARACTER_DEVICE;
    case S_IFBLK: return WASI_FILETYPE_BLOCK_DEVICE;
    case S_IFLNK: return WASI_FILETYPE_SYMBOLIC_LINK;
    case S_IFSOCK: return WASI_FILETYPE_SOCKET_STREAM;
    default: return WASI_FILETYPE_UNKNOWN;  /* FIFOs have no WASI type */
    }
}

wasi_fd_entry *wasi_fd_get(wasi_ctx *ctx, uint32_t fd)
{
    if (fd >= ctx->fd_capacity || ctx->fds[fd].kind == WASI_FD_FREE)
        return NULL;
    return &ctx->fds[fd];
}

uint16_t wasi_fd_directory(wasi_ctx *ctx, uint32_t fd, wasi_fd_entry **out)
{
    wasi_fd_entry *entry = wasi_fd_get(ctx, fd);
    if (!entry)
        return WASI_EBADF;
    if (entry->kind != WASI_FD_HOST || entry->filetype != WASI_FILETYPE_DIRECTORY)
        return WASI_ENOTDIR;
    *out = entry;
    return WASI_ESUCCESS;
}

bool wasi_fd_new_slot(wasi_ctx *ctx, uint32_t *fd, uint16_t *err)
{
    for (uint32_t i = 0; i < ctx->fd_capacity; i++)
        if (ctx->fds[i].kind == WASI_FD_FREE) {
            *fd = i;
            return true;
        }
    if (ctx->fd_capacity >= WASI_MAX_FDS) {
        *err = WASI_EMFILE;
        return false;
    }
    uint32_t capacity = ctx->fd_capacity ? ctx->fd_capacity * 2 : 8;
    wasi_fd_entry *grown = realloc(ctx->fds, capacity * sizeof *grown);
    if (!grown) {
        *err = WASI_ENOMEM;
        return false;
    }
    memset(grown + ctx->fd_capacity, 0, (capacity - ctx->fd_capacity) * sizeof *grown);
    *fd = ctx->fd_capacity;
    ctx->fds = grown;
    ctx->fd_capacity = capacity;
    return true;
}

void wasi_fd_release(wasi_fd_entry *entry)
{
    if (entry->dir)
        closedir(entry->dir);   /* closes its own dup of the fd */
    if (entry->owns_host_fd && entry->host_fd >= 0)
        close(entry->host_fd);
    free(entry->preopen_name);
    free(entry->path);
    memset(entry, 0, sizeof *entry);
}

/* What a host fd passed through as stdio looks like to the guest: a terminal is a
 * character device without seek rights (so wasi-libc's isatty() says yes). */
static void describe_stdio(wasi_fd_entry *entry)
{
    struct stat st;
    bool seekable = false;
    entry->filetype = WASI_FILETYPE_UNKNOWN;
    if (entry->kind == WASI_FD_HOST && fstat(entry->host_fd, &st) == 0) {
        entry->filetype = wasi_filetype_of_mode(st.st_mode);
        seekable = S_ISREG(st.st_mode);
    } else if (entry->kind == WASI_FD_CAPTURE || entry->kind == WASI_FD_EMPTY) {
        entry->filetype = WASI_FILETYPE_CHARACTER_DEVICE;
    }
    uint64_t seek_rights = WASI_RIGHT_FD_SEEK | (UINT64_C(1) << 5) /* fd_tell */;
    entry->rights_base = seekable ? WASI_RIGHTS_FILE : WASI_RIGHTS_FILE & ~seek_rights;
    entry->rights_inheriting = 0;
}

static void set_stdio(wasi_ctx *ctx, uint32_t fd, wasi_fd_kind kind, int host_fd)
{
    wasi_fd_entry *entry = &ctx->fds[fd];
    wasi_fd_release(entry);
    entry->kind = kind;
    entry->host_fd = host_fd;
    entry->is_stdio = true;
    entry->readable = fd == 0;
    entry->writable = fd != 0;
    if (kind == WASI_FD_CAPTURE)
        entry->capture = fd == 1 ? &ctx->stdout_buffer : &ctx->stderr_buffer;
    describe_stdio(entry);
}

/* ------------------------------------------------------------ configuration */

wasi_ctx *wasi_ctx_new(void)
{
    wasi_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    uint32_t fd;
    uint16_t err;
    for (int i = 0; i < 3; i++) {
        if (!wasi_fd_new_slot(ctx, &fd, &err)) {
            wasi_ctx_free(ctx);
            return NULL;
        }
        ctx->fds[fd].kind = WASI_FD_EMPTY;  /* taken; set_stdio says what it is */
    }
    set_stdio(ctx, 0, WASI_FD_EMPTY, -1);
    set_stdio(ctx, 1, WASI_FD_HOST, STDOUT_FILENO);
    set_stdio(ctx, 2, WASI_FD_HOST, STDERR_FILENO);
    return ctx;
}

void wasi_ctx_free(wasi_ctx *ctx)
{
    if (!ctx)
        return;
    for (uint32_t i = 0; i < ctx->fd_capacity; i++)
        wasi_fd_release(&ctx->fds[i]);
    free(ctx->fds);
    for (uint32_t i = 0; i < ctx->arg_count; i++)
        free(ctx->args[i]);
    free(ctx->args);
    for (uint32_t i = 0; i < ctx->env_count; i++)
        free(ctx->envs[i]);
    free(ctx->envs);
    free(ctx->stdout_buffer.data);
    free(ctx->stderr_buffer.data);
    free(ctx);
}

bool wasi_ctx_add_arg(wasi_ctx *ctx, const char *arg)
{
    return push_string(&ctx->args, &ctx->arg_count, arg);
}

bool wasi_ctx_add_env(wasi_ctx *ctx, const char *key_value)
{
    return push_string(&ctx->envs, &ctx->env_count, key_value);
}

bool wasi_ctx_preopen_dir(wasi_ctx *ctx, const char *host_path, const char *guest_path,
                          wasm_error *err)
{
    int dirfd = open(host_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return wasm_fail(err, WASM_ERR_IO, "cannot open directory '%s' to preopen: %s",
                         host_path, strerror(errno));
    uint32_t fd;
    uint16_t wasi_err;
    char *name = copy_string(guest_path);
    if (!name || !wasi_fd_new_slot(ctx, &fd, &wasi_err)) {
        free(name);
        close(dirfd);
        return wasm_fail(err, WASM_ERR_NOMEM, "no room for another preopened directory");
    }
    wasi_fd_entry *entry = &ctx->fds[fd];
    entry->kind = WASI_FD_HOST;
    entry->host_fd = dirfd;
    entry->owns_host_fd = true;
    entry->is_preopen = true;
    entry->filetype = WASI_FILETYPE_DIRECTORY;
    entry->rights_base = WASI_RIGHTS_ALL;
    entry->rights_inheriting = WASI_RIGHTS_ALL;
    entry->preopen_name = name;
    entry->readable = true;
    return true;
}

void wasi_ctx_set_stdin(wasi_ctx *ctx, int host_fd)
{
    set_stdio(ctx, 0, host_fd < 0 ? WASI_FD_EMPTY : WASI_FD_HOST, host_fd);
}

void wasi_ctx_set_stdout(wasi_ctx *ctx, int host_fd)
{
    set_stdio(ctx, 1, WASI_FD_HOST, host_fd);
}

void wasi_ctx_set_stderr(wasi_ctx *ctx, int host_fd)
{
    set_stdio(ctx, 2, WASI_FD_HOST, host_fd);
}

void wasi_ctx_capture_stdout(wasi_ctx *ctx)
{
    set_stdio(ctx, 1, WASI_FD_CAPTURE, -1);
}

void wasi_ctx_capture_stderr(wasi_ctx *ctx)
{
    set_stdio(ctx, 2, WASI_FD_CAPTURE, -1);
}

const uint8_t *wasi_captured_stdout(const wasi_ctx *ctx, size_t *size)
{
    *size = ctx->stdout_buffer.size;
    return ctx->stdout_buffer.data;
}

const uint8_t *wasi_captured_stderr(const wasi_ctx *ctx, size_t *size)
{
    *size = ctx->stderr_buffer.size;
    return ctx->stderr_buffer.data;
}
