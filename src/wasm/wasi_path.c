/*
 * wasi_path.c — sandboxed path resolution and the path_* functions.
 *
 * A guest path is walked one component at a time from its directory fd. Each
 * intermediate directory is opened with O_NOFOLLOW and kept on a stack, so `..`
 * is a pop of that stack, never a host `..`: climbing above the preopen is
 * refused instead of reaching the host. Symbolic links are read and spliced into
 * the rest of the path by hand, so they too are resolved beneath the preopen and
 * an absolute or escaping target is refused. The final component is handed to an
 * *at() call with symlinks not followed, so a link swapped in meanwhile fails
 * rather than leads out. String prefix checks play no part.
 */
#define _GNU_SOURCE
#include "wasi_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef O_PATH
#define WASI_OPEN_WALK (O_PATH | O_NOFOLLOW | O_CLOEXEC)
#else
#define WASI_OPEN_WALK (O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
#endif

/* ------------------------------------------------------------ the walker */

/* The directories descended into; fds[0] is the root and is not ours to close. */
typedef struct dir_stack {
    int *fds;
    size_t count, capacity;
} dir_stack;

static bool dir_stack_push(dir_stack *stack, int fd)
{
    if (stack->count == stack->capacity) {
        size_t capacity = stack->capacity ? stack->capacity * 2 : 8;
        int *grown = realloc(stack->fds, capacity * sizeof *grown);
        if (!grown)
            return false;
        stack->fds = grown;
        stack->capacity = capacity;
    }
    stack->fds[stack->count++] = fd;
    return true;
}

static void dir_stack_clear(dir_stack *stack)
{
    for (size_t i = 1; i < stack->count; i++)
        close(stack->fds[i]);
    free(stack->fds);
}

/* Replaces pending with the link's target followed by what came after the link
 * (rest starts at '/' or is empty). */
static uint16_t splice_symlink(int dirfd, const char *name, char **pending, size_t rest,
                               unsigned *links)
{
    if (++*links > WASI_MAX_SYMLINKS)
        return WASI_ELOOP;
    char target[PATH_MAX];
    ssize_t n = readlinkat(dirfd, name, target, sizeof target);
    if (n < 0)
        return wasi_errno_from_host(errno);
    if ((size_t)n >= sizeof target)
        return WASI_ENAMETOOLONG;
    if (n == 0)
        return WASI_ENOENT;
    if (target[0] == '/')
        return WASI_ENOTCAPABLE;   /* an absolute target names the host's root */
    size_t rest_len = strlen(*pending + rest);
    char *spliced = malloc((size_t)n + rest_len + 1);
    if (!spliced)
        return WASI_ENOMEM;
    memcpy(spliced, target, (size_t)n);
    memcpy(spliced + n, *pending + rest, rest_len + 1);
    free(*pending);
    *pending = spliced;
    return WASI_ESUCCESS;
}

/* Descends into the directory `name` beneath the stack's top: pushes it, or
 * reports that it is a symbolic link to splice (*is_link). */
static uint16_t descend(dir_stack *stack, const char *name, bool *is_link)
{
    int top = stack->fds[stack->count - 1];
    int fd = openat(top, name, WASI_OPEN_WALK);
    *is_link = false;
    if (fd < 0) {
        /* Without O_PATH, O_NOFOLLOW on a link fails; find out whether it was one. */
        int saved = errno;
        struct stat st;
        if (fstatat(top, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
            *is_link = true;
            return WASI_ESUCCESS;
        }
        return wasi_errno_from_host(saved);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int saved = errno;
        close(fd);
        return wasi_errno_from_host(saved);
    }
    if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode)) {
        close(fd);
        if (S_ISLNK(st.st_mode)) {
            *is_link = true;
            return WASI_ESUCCESS;
        }
        return WASI_ENOTDIR;
    }
    if (!dir_stack_push(stack, fd)) {
        close(fd);
        return WASI_ENOMEM;
    }
    return WASI_ESUCCESS;
}

static bool is_link_at(int dirfd, const char *name)
{
    struct stat st;
    return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

static uint16_t walk(dir_stack *stack, char **pending, bool follow_final, wasi_resolved *out)
{
    unsigned links = 0;
    size_t pos = 0;
    for (;;) {
        char *p = *pending;
        while (p[pos] == '/')
            pos++;
        if (!p[pos]) {  /* nothing left: the directory we are in */
            out->name = strdup(".");
            return out->name ? WASI_ESUCCESS : WASI_ENOMEM;
        }
        size_t start = pos;
        while (p[pos] && p[pos] != '/')
            pos++;
        size_t after = pos;
        while (p[after] == '/')
            after++;
        bool last = !p[after];
        bool slash_after = after > pos;
        if (pos - start > NAME_MAX)
            return WASI_ENAMETOOLONG;
        char name[NAME_MAX + 1];
        memcpy(name, p + start, pos - start);
        name[pos - start] = '\0';

        if (!strcmp(name, ".") || !strcmp(name, "..")) {
            if (name[1] == '.') {
                if (stack->count == 1)
                    return WASI_ENOTCAPABLE;    /* above the preopen */
                close(stack->fds[--stack->count]);
            }
            continue;
        }

        int top = stack->fds[stack->count - 1];
        uint16_t err;
        if (last) {
            /* A trailing slash asks for a directory, which a link must be followed to. */
            if ((follow_final || slash_after) && is_link_at(top, name)) {
                err = splice_symlink(top, name, pending, pos, &links);
                if (err)
                    return err;
                pos = 0;
                continue;
            }
            out->name = strdup(name);
            out->trailing_slash = slash_after;
            return out->name ? WASI_ESUCCESS : WASI_ENOMEM;
        }
        bool is_link;
        err = descend(stack, name, &is_link);
        if (err)
            return err;
        if (is_link) {
            err = splice_symlink(top, name, pending, pos, &links);
            if (err)
                return err;
            pos = 0;
        }
    }
}

uint16_t wasi_path_resolve(int root_fd, const char *path, size_t len, bool follow_final,
                           wasi_resolved *out)
{
    memset(out, 0, sizeof *out);
    out->dirfd = -1;
    if (len == 0)
        return WASI_ENOENT;
    if (len > WASI_MAX_PATH)
        return WASI_ENAMETOOLONG;
    if (memchr(path, '\0', len))
        return WASI_EILSEQ;     /* the host would silently cut the name there */
    if (path[0] == '/')
        return WASI_ENOTCAPABLE;
    char *pending = strndup(path, len);
    dir_stack stack = {0};
    if (!pending || !dir_stack_push(&stack, root_fd)) {
        free(pending);
        free(stack.fds);
        return WASI_ENOMEM;
    }
    uint16_t err = walk(&stack, &pending, follow_final, out);
    free(pending);
    if (err) {
        free(out->name);
        out->name = NULL;
        dir_stack_clear(&stack);
        return err;
    }
    /* Hand the top directory to the caller and close the ones above it. */
    out->dirfd = stack.fds[stack.count - 1];
    out->owns_dirfd = stack.count > 1;
    if (out->owns_dirfd)
        stack.count--;
    dir_stack_clear(&stack);
    return WASI_ESUCCESS;
}

void wasi_resolved_release(wasi_resolved *resolved)
{
    if (resolved->owns_dirfd && resolved->dirfd >= 0)
        close(resolved->dirfd);
    free(resolved->name);
    memset(resolved, 0, sizeof *resolved);
    resolved->dirfd = -1;
}

uint16_t wasi_path_open_host(int root_fd, const char *path, size_t len, int host_flags,
                             int *host_fd)
{
    wasi_resolved resolved;
    uint16_t err = wasi_path_resolve(root_fd, path, len, true, &resolved);
    if (err)
        return err;
    int fd = openat(resolved.dirfd, resolved.name, host_flags | O_NOFOLLOW | O_CLOEXEC, 0666);
    err = fd < 0 ? wasi_errno_from_host(errno) : WASI_ESUCCESS;
    wasi_resolved_release(&resolved);
    *host_fd = fd;
    return err;
}

/* ------------------------------------------------------ guest-facing calls */

/* Resolves the guest's (fd, path_ptr, path_len) beneath that directory. */
static uint16_t resolve_guest_path(wasi_call *call, uint32_t fd, uint32_t path_ptr,
                                   uint32_t path_len, bool follow_final, wasi_resolved *out,
                                   wasi_fd_entry **dir_out)
{
    wasi_fd_entry *dir;
    memset(out, 0, sizeof *out);
    out->dirfd = -1;
    uint16_t err = wasi_fd_directory(call->ctx, fd, &dir);
    if (err)
        return err;
    const char *path = (const char *)wasi_guest_range(call, path_ptr, path_len);
    if (!path)
        return WASI_EFAULT;
    if (dir_out)
        *dir_out = dir;
    return wasi_path_resolve(dir->host_fd, path, path_len, follow_final, out);
}

static uint16_t host_result(int rc)
{
    return rc < 0 ? wasi_errno_from_host(errno) : WASI_ESUCCESS;
}

/* The rights the guest asked for tell whether it reads, writes or both. */
static int access_mode(uint64_t rights)
{
    bool read = rights & (WASI_RIGHT_FD_READ | WASI_RIGHT_FD_READDIR);
    bool write = rights & (WASI_RIGHT_FD_WRITE | WASI_RIGHT_FD_DATASYNC |
                           WASI_RIGHT_FD_ALLOCATE | WASI_RIGHT_FD_FILESTAT_SET_SIZE);
    return write ? (read ? O_RDWR : O_WRONLY) : O_RDONLY;
}

static int open_flags(uint32_t oflags, uint32_t fdflags, uint64_t rights, bool trailing_slash)
{
    int flags = access_mode(rights) | O_NOFOLLOW | O_CLOEXEC;
    if (oflags & WASI_OFLAG_CREAT)
        flags |= O_CREAT;
    if ((oflags & WASI_OFLAG_DIRECTORY) || trailing_slash)
        flags |= O_DIRECTORY;
    if (oflags & WASI_OFLAG_EXCL)
        flags |= O_EXCL;
    if (oflags & WASI_OFLAG_TRUNC)
        flags |= O_TRUNC;
    if (fdflags & WASI_FDFLAG_APPEND)
        flags |= O_APPEND;
    if (fdflags & WASI_FDFLAG_DSYNC)
        flags |= O_DSYNC;
    if (fdflags & WASI_FDFLAG_SYNC)
        flags |= O_SYNC;
    if (fdflags & WASI_FDFLAG_RSYNC)
        flags |= O_RSYNC;
    if (fdflags & WASI_FDFLAG_NONBLOCK)
        flags |= O_NONBLOCK;
    return flags;
}

/* "dir/name", remembered so wasi_ctx_save can reopen the file after a migration. */
static char *join_path(const char *dir, const char *path, size_t len)
{
    size_t dir_len = dir ? strlen(dir) : 0;
    char *joined = malloc(dir_len + 1 + len + 1);
    if (!joined)
        return NULL;
    size_t n = 0;
    if (dir_len) {
        memcpy(joined, dir, dir_len);
        joined[dir_len] = '/';
        n = dir_len + 1;
    }
    memcpy(joined + n, path, len);
    joined[n + len] = '\0';
    return joined;
}

uint16_t wasi_path_open(wasi_call *call, const wasm_slot *args)
{
    uint32_t dirflags = wasi_arg_u32(args, 1), path_ptr = wasi_arg_u32(args, 2);
    uint32_t path_len = wasi_arg_u32(args, 3), oflags = wasi_arg_u32(args, 4);
    uint64_t rights_base = wasi_arg_u64(args, 5), rights_inheriting = wasi_arg_u64(args, 6);
    uint32_t fdflags = wasi_arg_u32(args, 7), fd_out = wasi_arg_u32(args, 8);
    if (!wasi_guest_range(call, fd_out, 4))
        return WASI_EFAULT;

    wasi_resolved resolved;
    wasi_fd_entry *dir;
    uint16_t err = resolve_guest_path(call, wasi_arg_u32(args, 0), path_ptr, path_len,
                                      dirflags & WASI_LOOKUP_SYMLINK_FOLLOW, &resolved, &dir);
    if (err) {
        wasi_resolved_release(&resolved);
        return err;
    }
    int flags = open_flags(oflags, fdflags, rights_base, resolved.trailing_slash);
    int host_fd = openat(resolved.dirfd, resolved.name, flags, 0666);
    err = host_result(host_fd);
    wasi_resolved_release(&resolved);
    if (err)
        return err;

    struct stat st;
    uint32_t fd;
    bool allocated = false;
    char *preopen_name = dir->preopen_name ? strdup(dir->preopen_name) : NULL;
    char *path = join_path(dir->path, (const char *)call->memory + path_ptr, path_len);
    if (fstat(host_fd, &st) != 0)
        err = wasi_errno_from_host(errno);
    else if (!preopen_name || !path)
        err = WASI_ENOMEM;
    else
        allocated = wasi_fd_new_slot(call->ctx, &fd, &err);
    if (!allocated) {
        free(preopen_name);
        free(path);
        close(host_fd);
        return err;
    }
    wasi_fd_entry *entry = &call->ctx->fds[fd];
    entry->kind = WASI_FD_HOST;
    entry->host_fd = host_fd;
    entry->owns_host_fd = true;
    entry->filetype = wasi_filetype_of_mode(st.st_mode);
    entry->fdflags = (uint16_t)fdflags;
    bool is_dir = S_ISDIR(st.st_mode);
    entry->rights_base = rights_base & (is_dir ? WASI_RIGHTS_ALL : WASI_RIGHTS_FILE);
    entry->rights_inheriting = is_dir ? rights_inheriting & WASI_RIGHTS_ALL : 0;
    entry->preopen_name = preopen_name;
    entry->path = path;
    entry->readable = (flags & O_ACCMODE) != O_WRONLY;
    entry->writable = (flags & O_ACCMODE) != O_RDONLY;
    wasi_store_u32(call, fd_out, fd);
    return WASI_ESUCCESS;
}

uint16_t wasi_path_create_directory(wasi_call *call, const wasm_slot *args)
{
    wasi_resolved r;
    uint16_t err = resolve_guest_path(call, wasi_arg_u32(args, 0), wasi_arg_u32(args, 1),
                                      wasi_arg_u32(args, 2), false, &r, NULL);
    if (!err)
        err = host_result(mkdirat(r.dirfd, r.name, 0777));
    wasi_resolved_release(&r);
    return err;
}

uint16_t wasi_path_remove_directory(wasi_call *call, const wasm_slot *args)
{
    wasi_resolved r;
    uint16_t err = resolve_guest_path(call, wasi_arg_u32(args, 0), wasi_arg_u32(args, 1),
                                      wasi_arg_u32(args, 2), false, &r, NULL);
    if (!err)
        err = host_result(unlinkat(r.dirfd, r.name, AT_REMOVEDIR));
    wasi_resolved_release(&r);
    return err;
}

uint16_t wasi_path_unlink_file(wasi_call *call, const wasm_slot *args)
{
    wasi_resolved r;
    uint16_t err = resolve_guest_path(call, wasi_arg_u32(args, 0), wasi_arg_u32(args, 1),
                                      wasi_arg_u32(args, 2), false, &r, NULL);
    if (!err && r.trailing_slash)
        err = WASI_ENOTDIR;
    if (!err)
        err = host_result(unlinkat(r.dirfd, r.name, 0));
    wasi_resolved_release(&r);
    return err;
}

uint16_t wasi_path_filestat_get(wasi_call *call, const wasm_slot *args)
{
    uint32_t buf = wasi_arg_u32(args, 4);
    wasi_resolved r;
    uint16_t err = resolve_guest_path(call, wasi_arg_u32(args, 0), wasi_arg_u32(args, 2),
                                      wasi_arg_u32(args, 3),
                                      wasi_arg_u32(args, 1) & WASI_LOOKUP_SYMLINK_FOLLOW, &r,
                                      NULL);
    struct stat st;
    if (!err)
        err = host_result(fstatat(r.dirfd, r.name, &st, AT_SYMLINK_NOFOLLOW));
    if (!err && !wasi_store_filestat(call, buf, &st))
        err = WASI_EFAULT;
    wasi_resolved_release(&r);
    return err;
}

uint16_t wasi_path_filestat_set_times(wasi_call *call, const wasm_slot *args)
{
    struct timespec times[2];
    uint16_t err = wasi_times_from_flags(wasi_arg_u64(args, 4), wasi_arg_u64(args, 5),
                                         (uint16_t)wasi_arg_u32(args, 6), times);
    if (err)
        return err;
    wasi_resolved r;
    err = resolve_guest_path(call, wasi_arg_u32(args, 0), wasi_arg_u32(args, 2),
                             wasi_arg_u32(args, 3),
                             wasi_arg_u32(args, 1) & WASI_LOOKUP_SYMLINK_FOLLOW, &r, NULL);
    if (!err)
        err = host_result(utimensat(r.dirfd, r.name, times, AT_SYMLINK_NOFOLLOW));
    wasi_resolved_release(&r);
    return err;
}

uint16_t wasi_path_link(wasi_call *call, const wasm_slot *args)
{
    wasi_resolved from, to = {.dirfd = -1};
    /* A followed source is resolved here, in the sandbox: linkat() must never be the
     * one to follow it, or a link to a host file could be hard-linked inside. */
    uint16_t err = resolve_guest_path(call, wasi_arg_u32(args, 0), wasi_arg_u32(args, 2),
                                      wasi_arg_u32(args, 3),
                                      wasi_arg_u32(args, 1) & WASI_LOOKUP_SYMLINK_FOLLOW,
                                      &from, NULL);
    if (!err)
        err = resolve_guest_path(call, wasi_arg_u32(args, 4), wasi_arg_u32(args, 5),
                                 wasi_arg_u32(args, 6), false, &to, NULL);
    if (!err)
        err = host_result(linkat(from.dirfd, from.name, to.dirfd, to.name, 0));
    wasi_resolved_release(&from);
    wasi_resolved_release(&to);
    return err;
}

uint16_t wasi_path_rename(wasi_call *call, const wasm_slot *args)
{
    wasi_resolved from, to = {.dirfd = -1};
    uint16_t err = resolve_guest_path(call, wasi_arg_u32(args, 0), wasi_arg_u32(args, 1),
                                      wasi_arg_u32(args, 2), false, &from, NULL);
    if (!err)
        err = resolve_guest_path(call, wasi_arg_u32(args, 3), wasi_arg_u32(args, 4),
                                 wasi_arg_u32(args, 5), false, &to, NULL);
    if (!err)
        err = host_result(renameat(from.dirfd, from.name, to.dirfd, to.name));
    wasi_resolved_release(&from);
    wasi_resolved_release(&to);
    return err;
}

uint16_t wasi_path_symlink(wasi_call *call, const wasm_slot *args)
{
    uint32_t target_ptr = wasi_arg_u32(args, 0), target_len = wasi_arg_u32(args, 1);
    const char *target = (const char *)wasi_guest_range(call, target_ptr, target_len);
    if (!target)
        return WASI_EFAULT;
    if (target_len == 0 || memchr(target, '\0', target_len))
        return target_len ? WASI_EILSEQ : WASI_ENOENT;
    /* Such a link could never be followed here; refusing it also keeps the host's
     * own users from being led out of the sandbox directory by it. */
    if (target[0] == '/')
        return WASI_ENOTCAPABLE;
    char *target_copy = strndup(target, target_len);
    if (!target_copy)
        return WASI_ENOMEM;
    wasi_resolved r;
    uint16_t err = resolve_guest_path(call, wasi_arg_u32(args, 2), wasi_arg_u32(args, 3),
                                      wasi_arg_u32(args, 4), false, &r, NULL);
    if (!err)
        err = host_result(symlinkat(target_copy, r.dirfd, r.name));
    wasi_resolved_release(&r);
    free(target_copy);
    return err;
}

uint16_t wasi_path_readlink(wasi_call *call, const wasm_slot *args)
{
    uint32_t buf = wasi_arg_u32(args, 3), buf_len = wasi_arg_u32(args, 4);
    uint32_t used_out = wasi_arg_u32(args, 5);
    uint8_t *dest = wasi_guest_range(call, buf, buf_len);
    if (!dest || !wasi_guest_range(call, used_out, 4))
        return WASI_EFAULT;
    wasi_resolved r;
    uint16_t err = resolve_guest_path(call, wasi_arg_u32(args, 0), wasi_arg_u32(args, 1),
                                      wasi_arg_u32(args, 2), false, &r, NULL);
    char target[PATH_MAX];
    ssize_t n = 0;
    if (!err) {
        n = readlinkat(r.dirfd, r.name, target, sizeof target);
        err = host_result((int)(n < 0 ? -1 : 0));
    }
    wasi_resolved_release(&r);
    if (err)
        return err;
    /* Like readlink(2), a short buffer gets the first part of the target. */
    size_t copied = (size_t)n < buf_len ? (size_t)n : buf_len;
    memcpy(dest, target, copied);
    wasi_store_u32(call, used_out, (uint32_t)copied);
    return WASI_ESUCCESS;
}
