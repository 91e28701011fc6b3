/*
 * files.c — file operations for the supervisor (see files.h).
 */
#define _GNU_SOURCE
#include "supervisor/files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
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

bool files_mkdir_p(const char *path, char *err, size_t err_size)
{
    char *copy = strdup(path);
    if (!copy) {
        snprintf(err, err_size, "out of memory");
        return false;
    }
    for (char *p = copy + 1;; p++) {
        if (*p && *p != '/')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
            int saved = errno;
            snprintf(err, err_size, "cannot create directory %s: %s", copy, strerror(saved));
            free(copy);
            errno = saved;
            return false;
        }
        *p = saved;
        if (!saved)
            break;
    }
    free(copy);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, err_size, "%s exists and is not a directory", path);
        return false;
    }
    return true;
}

static bool remove_at(int parent, const char *name)
{
    if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
        return true;
    if (errno != EISDIR && errno != EPERM)
        return false;
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return false;
    DIR *dir = fdopendir(fd);
    if (!dir) {
        close(fd);
        return false;
    }
    bool ok = true;
    for (struct dirent *e; (e = readdir(dir));) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            ok &= remove_at(dirfd(dir), e->d_name);
    }
    closedir(dir);
    return unlinkat(parent, name, AT_REMOVEDIR) == 0 && ok;
}

bool files_remove_tree(const char *path)
{
    return remove_at(AT_FDCWD, path);
}

static bool write_all(int fd, const uint8_t *data, size_t size)
{
    while (size) {
        ssize_t n = write(fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = ENOSPC;
            return false;
        }
        data += n;
        size -= (size_t)n;
    }
    return true;
}

static void sync_parent(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

bool files_write_atomic(const char *path, const void *data, size_t size, char *err,
                        size_t err_size)
{
    char *tmp = malloc(strlen(path) + 5);
    if (!tmp) {
        snprintf(err, err_size, "out of memory");
        return false;
    }
    strcat(strcpy(tmp, path), ".tmp");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = fd >= 0 && write_all(fd, data, size) && fsync(fd) == 0;
    int saved = errno;
    if (fd >= 0 && close(fd) != 0 && ok)
        ok = false, saved = errno;
    if (ok && rename(tmp, path) != 0)
        ok = false, saved = errno;
    if (!ok) {
        unlink(tmp);
        snprintf(err, err_size, "cannot write %s: %s", path, strerror(saved));
    } else {
        sync_parent(path);
    }
    free(tmp);
    errno = ok ? 0 : saved;     /* callers tell a full disk (ENOSPC) from other causes */
    return ok;
}

uint8_t *files_read(const char *path, size_t max_bytes, size_t *size, char *err,
                    size_t err_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, err_size, "cannot read %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max_bytes) {
        snprintf(err, err_size, S_ISREG(st.st_mode) ? "%s is larger than %zu bytes"
                                                    : "%s is not a regular file", path,
                 max_bytes);
        close(fd);
        return NULL;
    }
    size_t want = (size_t)st.st_size, used = 0;
    uint8_t *data = malloc(want ? want : 1);
    while (data && used < want) {
        ssize_t n = read(fd, data + used, want - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t)n;
    }
    if (!data || used != want) {
        snprintf(err, err_size, "cannot read %s: %s", path,
                 data ? "it changed while being read" : "out of memory");
        free(data);
        close(fd);
        return NULL;
    }
    close(fd);
    *size = used;
    return data;
}

bool files_copy(const char *from, const char *to, char *err, size_t err_size)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        snprintf(err, err_size, "cannot read %s: %s", from, strerror(errno));
        return false;
    }
    char *tmp = malloc(strlen(to) + 5);
    if (!tmp) {
        close(in);
        snprintf(err, err_size, "out of memory");
        return false;
    }
    strcat(strcpy(tmp, to), ".tmp");
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = out >= 0;
    uint8_t buf[65536];
    while (ok) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ok = n == 0;
            break;
        }
        ok = write_all(out, buf, (size_t)n);
    }
    int saved = errno;
    if (out >= 0 && close(out) != 0 && ok)
        ok = false, saved = errno;
    close(in);
    if (ok && rename(tmp, to) != 0)
        ok = false, saved = errno;
    if (!ok) {
        unlink(tmp);
        snprintf(err, err_size, "cannot copy %s to %s: %s", from, to, strerror(saved));
    }
    free(tmp);
    errno = ok ? 0 : saved;
    return ok;
}

bool files_move(const char *from, const char *to, char *err, size_t err_size)
{
    if (rename(from, to) == 0)
        return true;
    if (errno != EXDEV) {
        snprintf(err, err_size, "cannot move %s to %s: %s", from, to, strerror(errno));
        return false;
    }
    if (!files_copy(from, to, err, err_size))
        return false;
    unlink(from);
    return true;
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
