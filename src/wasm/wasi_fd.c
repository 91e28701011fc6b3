/*
 * wasi_fd.c — the fd_* functions: reading and writing through guest iovecs,
 * seeking, stat, directory listing and the fd table's own operations.
 */
#define _GNU_SOURCE
#include "wasi_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

/* --------------------------------------------------------------- helpers */

static uint16_t host_result(int rc)
{
    return rc < 0 ? wasi_errno_from_host(errno) : WASI_ESUCCESS;
}

static uint64_t timespec_ns(const struct timespec *ts)
{
    /* Unsigned, so a time before 1970 wraps as WASI's u64 expects instead of overflowing. */
    return (uint64_t)ts->tv_sec * UINT64_C(1000000000) + (uint64_t)ts->tv_nsec;
}

bool wasi_store_filestat(const wasi_call *call, uint32_t ptr, const struct stat *st)
{
    uint8_t *p = wasi_guest_range(call, ptr, 64);
    if (!p)
        return false;
    memset(p, 0, 64);
    wasi_put_u64(p + 0, (uint64_t)st->st_dev);
    wasi_put_u64(p + 8, (uint64_t)st->st_ino);
    p[16] = wasi_filetype_of_mode(st->st_mode);
    wasi_put_u64(p + 24, (uint64_t)st->st_nlink);
    wasi_put_u64(p + 32, (uint64_t)st->st_size);
    wasi_put_u64(p + 40, timespec_ns(&st->st_atim));
    wasi_put_u64(p + 48, timespec_ns(&st->st_mtim));
    wasi_put_u64(p + 56, timespec_ns(&st->st_ctim));
    return true;
}

uint16_t wasi_times_from_flags(uint64_t atim, uint64_t mtim, uint16_t fstflags,
                               struct timespec times[2])
{
    const uint64_t times_in[2] = {atim, mtim};
    for (int i = 0; i < 2; i++) {
        uint16_t set = i ? WASI_FSTFLAG_MTIM : WASI_FSTFLAG_ATIM;
        uint16_t now = i ? WASI_FSTFLAG_MTIM_NOW : WASI_FSTFLAG_ATIM_NOW;
        if ((fstflags & set) && (fstflags & now))
            return WASI_EINVAL;
        if (fstflags & now) {
            times[i].tv_sec = 0;
            times[i].tv_nsec = UTIME_NOW;
        } else if (fstflags & set) {
            times[i].tv_sec = (time_t)(times_in[i] / 1000000000u);
            times[i].tv_nsec = (long)(times_in[i] % 1000000000u);
        } else {
            times[i].tv_sec = 0;
            times[i].tv_nsec = UTIME_OMIT;
        }
    }
    return WASI_ESUCCESS;
}

/* The guest's iovec array as host iovecs, every buffer bounds-checked. The total is
 * capped at what the u32 result can report. *out is malloc'ed. */
static uint16_t gather_iovecs(const wasi_call *call, uint32_t iovs, uint32_t count,
                              struct iovec **out, int *out_count)
{
    if (count > IOV_MAX)
        return WASI_EINVAL;
    const uint8_t *array = wasi_guest_range(call, iovs, (uint64_t)count * 8);
    if (!array)
        return WASI_EFAULT;
    struct iovec *vec = malloc((count ? count : 1) * sizeof *vec);
    if (!vec)
        return WASI_ENOMEM;
    uint64_t room = UINT32_MAX;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t buf = wasi_get_u32(array + 8 * i), len = wasi_get_u32(array + 8 * i + 4);
        uint8_t *host = wasi_guest_range(call, buf, len);
        if (!host) {
            free(vec);
            return WASI_EFAULT;
        }
        vec[i].iov_base = host;
        vec[i].iov_len = len < room ? len : (size_t)room;
        room -= vec[i].iov_len;
    }
    *out = vec;
    *out_count = (int)count;
    return WASI_ESUCCESS;
}

static wasi_fd_entry *host_entry(wasi_call *call, uint32_t fd, uint16_t *err)
{
    wasi_fd_entry *entry = wasi_fd_get(call->ctx, fd);
    if (!entry)
        *err = WASI_EBADF;
    else if (entry->kind != WASI_FD_HOST)
        *err = WASI_ESPIPE;    /* captured or empty stdio: a stream, no file behind it */
    else
        return entry;
    return NULL;
}

/* ------------------------------------------------------- reading, writing */

typedef enum io_direction { IO_READ, IO_WRITE } io_direction;

static uint16_t transfer(wasi_call *call, const wasm_slot *args, io_direction dir,
                         bool positioned)
{
    uint32_t fd = wasi_arg_u32(args, 0), iovs = wasi_arg_u32(args, 1);
    uint32_t count = wasi_arg_u32(args, 2);
    uint64_t offset = positioned ? wasi_arg_u64(args, 3) : 0;
    uint32_t done_out = wasi_arg_u32(args, positioned ? 4 : 3);
    wasi_fd_entry *entry = wasi_fd_get(call->ctx, fd);
    if (!entry)
        return WASI_EBADF;
    if (!wasi_guest_range(call, done_out, 4))
        return WASI_EFAULT;
    struct iovec *vec;
    int vec_count;
    uint16_t err = gather_iovecs(call, iovs, count, &vec, &vec_count);
    if (err)
        return err;

    ssize_t done = 0;
    if (entry->kind == WASI_FD_HOST) {
        if (offset > INT64_MAX)
            err = WASI_EINVAL;
        else if (dir == IO_READ)
            done = positioned ? preadv(entry->host_fd, vec, vec_count, (off_t)offset)
                              : readv(entry->host_fd, vec, vec_count);
        else
            done = positioned ? pwritev(entry->host_fd, vec, vec_count, (off_t)offset)
                              : writev(entry->host_fd, vec, vec_count);
        if (!err && done < 0)
            err = wasi_errno_from_host(errno);
    } else if (positioned) {
        err = WASI_ESPIPE;
    } else if (entry->kind == WASI_FD_EMPTY) {
        err = dir == IO_READ ? WASI_ESUCCESS : WASI_EBADF;  /* reads see end of file */
    } else if (dir == IO_READ) {
        err = WASI_EBADF;
    } else {
        for (int i = 0; i < vec_count && !err; i++) {
            if (!wasi_buffer_append(entry->capture, vec[i].iov_base, vec[i].iov_len))
                err = WASI_ENOSPC;
            else
                done += (ssize_t)vec[i].iov_len;
        }
    }
    free(vec);
    if (!err)
        wasi_store_u32(call, done_out, (uint32_t)done);
    return err;
}

uint16_t wasi_fd_read(wasi_call *call, const wasm_slot *args)
{
    return transfer(call, args, IO_READ, false);
}

uint16_t wasi_fd_write(wasi_call *call, const wasm_slot *args)
{
    return transfer(call, args, IO_WRITE, false);
}

uint16_t wasi_fd_pread(wasi_call *call, const wasm_slot *args)
{
    return transfer(call, args, IO_READ, true);
}

uint16_t wasi_fd_pwrite(wasi_call *call, const wasm_slot *args)
{
    return transfer(call, args, IO_WRITE, true);
}

/* ------------------------------------------------------------- position */

uint16_t wasi_fd_seek(wasi_call *call, const wasm_slot *args)
{
    int64_t offset = (int64_t)wasi_arg_u64(args, 1);
    uint32_t whence = wasi_arg_u32(args, 2), result_out = wasi_arg_u32(args, 3);
    uint16_t err;
    wasi_fd_entry *entry = host_entry(call, wasi_arg_u32(args, 0), &err);
    if (!entry)
        return err;
    static const int host_whence[] = {SEEK_SET, SEEK_CUR, SEEK_END};
    if (whence > 2)
        return WASI_EINVAL;
    if (!wasi_guest_range(call, result_out, 8))
        return WASI_EFAULT;
    off_t position = lseek(entry->host_fd, (off_t)offset, host_whence[whence]);
    if (position < 0)
        return wasi_errno_from_host(errno);
    wasi_store_u64(call, result_out, (uint64_t)position);
    return WASI_ESUCCESS;
}

uint16_t wasi_fd_tell(wasi_call *call, const wasm_slot *args)
{
    uint16_t err;
    wasi_fd_entry *entry = host_entry(call, wasi_arg_u32(args, 0), &err);
    if (!entry)
        return err;
    if (!wasi_guest_range(call, wasi_arg_u32(args, 1), 8))
        return WASI_EFAULT;
    off_t position = lseek(entry->host_fd, 0, SEEK_CUR);
    if (position < 0)
        return wasi_errno_from_host(errno);
    wasi_store_u64(call, wasi_arg_u32(args, 1), (uint64_t)position);
    return WASI_ESUCCESS;
}

/* ------------------------------------------------------- file operations */

uint16_t wasi_fd_advise(wasi_call *call, const wasm_slot *args)
{
    static const int host_advice[] = {POSIX_FADV_NORMAL, POSIX_FADV_SEQUENTIAL,
                                      POSIX_FADV_RANDOM, POSIX_FADV_WILLNEED,
                                      POSIX_FADV_DONTNEED, POSIX_FADV_NOREUSE};
    uint32_t advice = wasi_arg_u32(args, 3);
    uint16_t err;
    wasi_fd_entry *entry = host_entry(call, wasi_arg_u32(args, 0), &err);
    if (!entry)
        return err;
    if (advice > 5)
        return WASI_EINVAL;
    /* Advice is a hint: where the host has none to take (pipes), it is ignored. */
    int rc = posix_fadvise(entry->host_fd, (off_t)wasi_arg_u64(args, 1),
                           (off_t)wasi_arg_u64(args, 2), host_advice[advice]);
    return rc == ESPIPE ? WASI_ESUCCESS : wasi_errno_from_host(rc);
}

uint16_t wasi_fd_allocate(wasi_call *call, const wasm_slot *args)
{
    uint64_t offset = wasi_arg_u64(args, 1), len = wasi_arg_u64(args, 2);
    uint16_t err;
    wasi_fd_entry *entry = host_entry(call, wasi_arg_u32(args, 0), &err);
    if (!entry)
        return err;
    if (offset > INT64_MAX || len > INT64_MAX - offset)
        return WASI_EINVAL;
    return wasi_errno_from_host(posix_fallocate(entry->host_fd, (off_t)offset, (off_t)len));
}

uint16_t wasi_fd_close(wasi_call *call, const wasm_slot *args)
{
    wasi_fd_entry *entry = wasi_fd_get(call->ctx, wasi_arg_u32(args, 0));
    if (!entry)
        return WASI_EBADF;
    wasi_fd_release(entry);
    return WASI_ESUCCESS;
}

static uint16_t sync_fd(wasi_call *call, const wasm_slot *args, bool data_only)
{
    wasi_fd_entry *entry = wasi_fd_get(call->ctx, wasi_arg_u32(args, 0));
    if (!entry)
        return WASI_EBADF;
    if (entry->kind != WASI_FD_HOST)
        return WASI_ESUCCESS;  /* a buffer in memory is always "on disk" */
    return host_result(data_only ? fdatasync(entry->host_fd) : fsync(entry->host_fd));
}

uint16_t wasi_fd_datasync(wasi_call *call, const wasm_slot *args)
{
    return sync_fd(call, args, true);
}

uint16_t wasi_fd_sync(wasi_call *call, const wasm_slot *args)
{
    return sync_fd(call, args, false);
}

uint16_t wasi_fd_fdstat_get(wasi_call *call, const wasm_slot *args)
{
    wasi_fd_entry *entry = wasi_fd_get(call->ctx, wasi_arg_u32(args, 0));
    if (!entry)
        return WASI_EBADF;
    uint8_t *p = wasi_guest_range(call, wasi_arg_u32(args, 1), 24);
    if (!p)
        return WASI_EFAULT;
    memset(p, 0, 24);
    p[0] = entry->filetype;
    wasi_put_u16(p + 2, entry->fdflags);
    wasi_put_u64(p + 8, entry->rights_base);
    wasi_put_u64(p + 16, entry->rights_inheriting);
    return WASI_ESUCCESS;
}

uint16_t wasi_fd_fdstat_set_flags(wasi_call *call, const wasm_slot *args)
{
    uint32_t flags = wasi_arg_u32(args, 1);
    wasi_fd_entry *entry = wasi_fd_get(call->ctx, wasi_arg_u32(args, 0));
    if (!entry)
        return WASI_EBADF;
    if (flags & ~(uint32_t)(WASI_FDFLAG_APPEND | WASI_FDFLAG_NONBLOCK))
        return WASI_ENOTSUP;   /* Linux cannot change the sync flags of an open file */
    /* The host's own stdio is shared with the embedder: record, don't change it. */
    if (entry->kind == WASI_FD_HOST && !entry->is_stdio) {
        int host_flags = fcntl(entry->host_fd, F_GETFL);
        if (host_flags < 0)
            return wasi_errno_from_host(errno);
        host_flags &= ~(O_APPEND | O_NONBLOCK);
        if (flags & WASI_FDFLAG_APPEND)
            host_flags |= O_APPEND;
        if (flags & WASI_FDFLAG_NONBLOCK)
            host_flags |= O_NONBLOCK;
        if (fcntl(entry->host_fd, F_SETFL, host_flags) < 0)
            return wasi_errno_from_host(errno);
    }
    entry->fdflags = (uint16_t)((entry->fdflags & ~(WASI_FDFLAG_APPEND | WASI_FDFLAG_NONBLOCK)) |
                                flags);
    return WASI_ESUCCESS;
}

uint16_t wasi_fd_fdstat_set_rights(wasi_call *call, const wasm_slot *args)
{
    uint64_t base = wasi_arg_u64(args, 1), inheriting = wasi_arg_u64(args, 2);
    wasi_fd_entry *entry = wasi_fd_get(call->ctx, wasi_arg_u32(args, 0));
    if (!entry)
        return WASI_EBADF;
    if ((base & ~entry->rights_base) || (inheriting & ~entry->rights_inheriting))
        return WASI_ENOTCAPABLE;   /* rights can only be dropped */
    entry->rights_base = base;
    entry->rights_inheriting = inheriting;
    return WASI_ESUCCESS;
}

uint16_t wasi_fd_filestat_get(wasi_call *call, const wasm_slot *args)
{
    wasi_fd_entry *entry = wasi_fd_get(call->ctx, wasi_arg_u32(args, 0));
    if (!entry)
        return WASI_EBADF;
    struct stat st;
    if (entry->kind == WASI_FD_HOST) {
        if (fstat(entry->host_fd, &st) != 0)
            return wasi_errno_from_host(errno);
    } else {
        memset(&st, 0, sizeof st);
        st.st_mode = S_IFCHR;
        st.st_nlink = 1;
    }
    return wasi_store_filestat(call, wasi_arg_u32(args, 1), &st) ? WASI_ESUCCESS : WASI_EFAULT;
}

uint16_t wasi_fd_filestat_set_size(wasi_call *call, const wasm_slot *args)
{
    uint64_t size = wasi_arg_u64(args, 1);
    uint16_t err;
    wasi_fd_entry *entry = host_entry(call, wasi_arg_u32(args, 0), &err);
    if (!entry)
        return err;
    if (size > INT64_MAX)
        return WASI_EINVAL;
    return host_result(ftruncate(entry->host_fd, (off_t)size));
}

uint16_t wasi_fd_filestat_set_times(wasi_call *call, const wasm_slot *args)
{
    uint16_t err;
    wasi_fd_entry *entry = host_entry(call, wasi_arg_u32(args, 0), &err);
    if (!entry)
        return err;
    struct timespec times[2];
    err = wasi_times_from_flags(wasi_arg_u64(args, 1), wasi_arg_u64(args, 2),
                                (uint16_t)wasi_arg_u32(args, 3), times);
    if (err)
        return err;
    return host_result(futimens(entry->host_fd, times));
}

/* ------------------------------------------------------------- preopens */

uint16_t wasi_fd_prestat_get(wasi_call *call, const wasm_slot *args)
{
    wasi_fd_entry *entry = wasi_fd_get(call->ctx, wasi_arg_u32(args, 0));
    if (!entry || !entry->is_preopen)
        return WASI_EBADF;  /* wasi-libc stops scanning preopens at the first EBADF */
    uint8_t *p = wasi_guest_range(call, wasi_arg_u32(args, 1), 8);
    if (!p)
        return WASI_EFAULT;
    memset(p, 0, 8);    /* tag 0: a directory */
    wasi_put_u32(p + 4, (uint32_t)strlen(entry->preopen_name));
    return WASI_ESUCCESS;
}

uint16_t wasi_fd_prestat_dir_name(wasi_call *call, const wasm_slot *args)
{
    uint32_t len = wasi_arg_u32(args, 2);
    wasi_fd_entry *entry = wasi_fd_get(call->ctx, wasi_arg_u32(args, 0));
    if (!entry || !entry->is_preopen)
        return WASI_EBADF;
    uint8_t *dest = wasi_guest_range(call, wasi_arg_u32(args, 1), len);
    if (!dest)
        return WASI_EFAULT;
    size_t name_len = strlen(entry->preopen_name);
    if (len < name_len)
        return WASI_ENAMETOOLONG;
    memcpy(dest, entry->preopen_name, name_len);
    return WASI_ESUCCESS;
}

/* ------------------------------------------------------------- renumber */

uint16_t wasi_fd_renumber(wasi_call *call, const wasm_slot *args)
{
    uint32_t from = wasi_arg_u32(args, 0), to = wasi_arg_u32(args, 1);
    wasi_fd_entry *source = wasi_fd_get(call->ctx, from);
    wasi_fd_entry *target = wasi_fd_get(call->ctx, to);
    if (!source || !target)
        return WASI_EBADF;
    if (from == to)
        return WASI_ESUCCESS;
    wasi_fd_release(target);
    *target = *source;
    memset(source, 0, sizeof *source);  /* moved, not closed */
    return WASI_ESUCCESS;
}

/* --------------------------------------------------------------- readdir */

static uint8_t filetype_of_dirent(DIR *dir, const struct dirent *d)
{
    switch (d->d_type) {
    case DT_REG: return WASI_FILETYPE_REGULAR_FILE;
    case DT_DIR: return WASI_FILETYPE_DIRECTORY;
    case DT_LNK: return WASI_FILETYPE_SYMBOLIC_LINK;
    case DT_CHR: return WASI_FILETYPE_CHARACTER_DEVICE;
    case DT_BLK: return WASI_FILETYPE_BLOCK_DEVICE;
    case DT_SOCK: return WASI_FILETYPE_SOCKET_STREAM;
    case DT_UNKNOWN: {
        struct stat st;
        if (fstatat(dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            return wasi_filetype_of_mode(st.st_mode);
        return WASI_FILETYPE_UNKNOWN;
    }
    default: return WASI_FILETYPE_UNKNOWN;
    }
}

/* A cookie is the index of the next entry. The stream is rewound and skipped
 * forward whenever the guest asks for another position than where it stands. */
static uint16_t seek_directory(wasi_fd_entry *entry, uint64_t cookie, uint64_t *position)
{
    if (!entry->dir) {
        int fd = openat(entry->host_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return wasi_errno_from_host(errno);
        entry->dir = fdopendir(fd);
        if (!entry->dir) {
            int saved = errno;
            close(fd);
            return wasi_errno_from_host(saved);
        }
        *position = 0;
    }
    if (*position != cookie) {
        rewinddir(entry->dir);
        *position = 0;
        while (*position < cookie && readdir(entry->dir))
            ++*position;
    }
    return WASI_ESUCCESS;
}

uint16_t wasi_fd_readdir(wasi_call *call, const wasm_slot *args)
{
    uint32_t buf = wasi_arg_u32(args, 1), buf_len = wasi_arg_u32(args, 2);
    uint64_t cookie = wasi_arg_u64(args, 3);
    uint32_t used_out = wasi_arg_u32(args, 4);
    wasi_fd_entry *entry;
    uint16_t err = wasi_fd_directory(call->ctx, wasi_arg_u32(args, 0), &entry);
    if (err)
        return err;
    uint8_t *dest = wasi_guest_range(call, buf, buf_len);
    if (!dest || !wasi_guest_range(call, used_out, 4))
        return WASI_EFAULT;
    uint64_t position = entry->dir ? entry->dir_position : 0;
    err = seek_directory(entry, cookie, &position);
    if (err)
        return err;

    uint32_t used = 0;
    while (used < buf_len) {
        errno = 0;
        struct dirent *d = readdir(entry->dir);
        if (!d) {
            if (errno)
                err = wasi_errno_from_host(errno);
            break;
        }
        position++;
        uint8_t header[24] = {0};
        size_t name_len = strlen(d->d_name);
        wasi_put_u64(header, position);
        wasi_put_u64(header + 8, (uint64_t)d->d_ino);
        wasi_put_u32(header + 16, (uint32_t)name_len);
        header[20] = filetype_of_dirent(entry->dir, d);
        /* The last entry may not fit: the guest sees a full buffer and asks again
         * from that entry's cookie with more room, as the ABI intends. */
        uint32_t n = buf_len - used < 24 ? buf_len - used : 24;
        memcpy(dest + used, header, n);
        used += n;
        n = buf_len - used < name_len ? buf_len - used : (uint32_t)name_len;
        memcpy(dest + used, d->d_name, n);
        used += n;
    }
    entry->dir_position = position;
    if (err)
        return err;
    wasi_store_u32(call, used_out, used);
    return WASI_ESUCCESS;
}
