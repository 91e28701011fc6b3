/*
 * files.c — file operations of the supervisor beyond base/fs.h (see files.h).
 */
#define _GNU_SOURCE
#include "supervisor/files.h"

#include "base/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *files_join(const char *first, ...)
{
    va_list args;
    size_t len = strlen(first);
    va_start(args, first);
    for (const char *p; (p = va_arg(args, const char *));)
        len += 1 + strlen(p);
    va_end(args);
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    char *w = stpcpy(out, first);
    va_start(args, first);
    for (const char *p; (p = va_arg(args, const char *));) {
        *w++ = '/';
        w = stpcpy(w, p);
    }
    va_end(args);
    return out;
}

bool files_move(const char *from, const char *to, char *err, size_t err_size)
{
    if (rename(from, to) == 0)
        return true;
    if (errno != EXDEV) {
        int saved = errno;
        snprintf(err, err_size, "cannot move %s to %s: %s", from, to, strerror(saved));
        errno = saved;
        return false;
    }
    if (!fs_copy_file(from, to, err, err_size))
        return false;
    unlink(from);
    return true;
}

bool files_write_synced(const char *path, const void *data, size_t size, char *err,
                        size_t err_size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = fd >= 0;
    for (const char *p = data; ok && size;) {
        ssize_t n = write(fd, p, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = ENOSPC;
            ok = false;
            break;
        }
        p += n;
        size -= (size_t)n;
    }
    ok = ok && fsync(fd) == 0;
    int saved = errno;
    if (fd >= 0 && close(fd) != 0 && ok)
        ok = false, saved = errno;
    if (!ok) {
        snprintf(err, err_size, "cannot write %s: %s", path, strerror(saved));
        errno = saved;
    }
    return ok;
}

bool files_sync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = fsync(fd) == 0;
    int saved = errno;
    close(fd);
    errno = saved;
    return ok;
}

int files_open_regular(const char *dir, const char *name)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -1;
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    int saved = errno;
    close(dfd);
    if (fd < 0) {
        errno = saved == ELOOP ? ENOENT : saved;
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        errno = ENOENT;
        return -1;
    }
    return fd;
}
