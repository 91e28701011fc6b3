/*
 * fs.c — directories, atomic writes, bounded reads, safe names.
 */
#define _GNU_SOURCE   /* mkostemp, O_DIRECTORY */
#include "base/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define COPY_BUFFER_BYTES (64 * 1024)

static bool fail(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fills err (if any) with fmt plus ": strerror(errno)" and keeps errno. */
static bool fail(char *err, size_t err_size, const char *fmt, ...)
{
    int saved = errno;
    if (err && err_size) {
        va_list args;
        va_start(args, fmt);
        int n = vsnprintf(err, err_size, fmt, args);
        va_end(args);
        if (n >= 0 && (size_t)n < err_size)
            snprintf(err + n, err_size - (size_t)n, ": %s", strerror(saved));
    }
    errno = saved;
    return false;
}

char *fs_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    bool slash = a > 0 && dir[a - 1] != '/';
    char *path = malloc(a + slash + b + 1);
    if (!path)
        return NULL;
    memcpy(path, dir, a);
    if (slash)
        path[a] = '/';
    memcpy(path + a + slash, name, b + 1);
    return path;
}

bool fs_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

bool fs_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool fs_is_safe_name(const char *name)
{
    if (!name || !*name || !strcmp(name, ".") || !strcmp(name, ".."))
        return false;
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++, n++)
        if (*p == '/' || *p < 0x20 || *p == 0x7f)
            return false;
    return n <= 255;
}

bool fs_mkdir_p(const char *path, mode_t mode, char *err, size_t err_size)
{
    if (!path || !*path) {
        errno = EINVAL;
        return fail(err, err_size, "cannot create a directory with an empty name");
    }
    char *copy = strdup(path);
    if (!copy)
        return fail(err, err_size, "cannot create directory '%s'", path);
    /* Each prefix in turn; EEXIST is fine as long as it is a directory in the end. */
    for (char *p = copy + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(copy, mode) != 0 && errno != EEXIST) {
            fail(err, err_size, "cannot create directory '%s'", copy);
            free(copy);
            return false;
        }
        *p = saved;
        if (!saved)
            break;
    }
    free(copy);
    if (!fs_is_dir(path)) {
        errno = ENOTDIR;
        return fail(err, err_size, "cannot create directory '%s'", path);
    }
    return true;
}

/* Removes the entries of the directory open as fd, then closes it. */
static bool remove_contents(int fd, const char *shown, char *err, size_t err_size)
{
    DIR *dir = fdopendir(fd);
    if (!dir) {
        close(fd);
        return fail(err, err_size, "cannot read directory '%s'", shown);
    }
    bool ok = true;
    struct dirent *entry;
    while (ok && (errno = 0, entry = readdir(dir))) {
        const char *name = entry->d_name;
        if (!strcmp(name, ".") || !strcmp(name, ".."))
            continue;
        struct stat st;
        if (fstatat(dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT)
                continue;
            ok = fail(err, err_size, "cannot remove '%s/%s'", shown, name);
            break;
        }
        if (S_ISDIR(st.st_mode)) {
            char *child_shown = fs_join(shown, name);
            int child = openat(dirfd(dir), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (child < 0 || !child_shown) {
                if (child >= 0)
                    close(child);
                ok = fail(err, err_size, "cannot open directory '%s/%s'", shown, name);
            } else {
                ok = remove_contents(child, child_shown, err, err_size);
            }
            free(child_shown);
            if (ok && unlinkat(dirfd(dir), name, AT_REMOVEDIR) != 0 && errno != ENOENT)
                ok = fail(err, err_size, "cannot remove directory '%s/%s'", shown, name);
        } else if (unlinkat(dirfd(dir), name, 0) != 0 && errno != ENOENT) {
            ok = fail(err, err_size, "cannot remove '%s/%s'", shown, name);
        }
    }
    if (ok && errno != 0)
        ok = fail(err, err_size, "cannot read directory '%s'", shown);
    closedir(dir);
    return ok;
}

bool fs_remove_tree(const char *path, char *err, size_t err_size)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? true : fail(err, err_size, "cannot remove '%s'", path);
    if (!S_ISDIR(st.st_mode)) {
        if (unlink(path) != 0 && errno != ENOENT)
            return fail(err, err_size, "cannot remove '%s'", path);
        return true;
    }
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return fail(err, err_size, "cannot open directory '%s'", path);
    if (!remove_contents(fd, path, err, err_size))
        return false;
    if (rmdir(path) != 0 && errno != ENOENT)
        return fail(err, err_size, "cannot remove directory '%s'", path);
    return true;
}

static bool write_all(int fd, const void *data, size_t size)
{
    const char *p = data;
    while (size > 0) {
        ssize_t n = write(fd, p, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return false;
        p += n;
        size -= (size_t)n;
    }
    return true;
}

/* The directory part of path, for the temporary file and the directory fsync. */
static char *parent_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

static void sync_directory(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);   /* best effort: some file systems refuse fsync on directories */
        close(fd);
    }
}

/* Opens a new temporary file next to path; fills tmp (caller frees). */
static int open_temp_beside(const char *path, char **tmp)
{
    size_t n = strlen(path) + 16;
    *tmp = malloc(n);
    if (!*tmp)
        return -1;
    snprintf(*tmp, n, "%s.tmp-XXXXXX", path);
    return mkostemp(*tmp, O_CLOEXEC);
}

/* fsyncs and closes fd, renames tmp over path and syncs the directory. */
static bool commit_temp(int fd, char *tmp, const char *path, mode_t mode, char *err,
                        size_t err_size)
{
    bool ok = fchmod(fd, mode) == 0 && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        saved = errno;
    }
    if (!ok) {
        unlink(tmp);
        free(tmp);
        errno = saved;
        return fail(err, err_size, "cannot write '%s'", path);
    }
    free(tmp);
    char *dir = parent_of(path);
    if (dir) {
        sync_directory(dir);
        free(dir);
    }
    return true;
}

bool fs_write_atomic(const char *path, const void *data, size_t size, mode_t mode, char *err,
                     size_t err_size)
{
    char *tmp = NULL;
    int fd = open_temp_beside(path, &tmp);
    if (fd < 0) {
        int saved = errno;
        free(tmp);
        errno = saved;
        return fail(err, err_size, "cannot write '%s'", path);
    }
    if (!write_all(fd, data, size)) {
        int saved = errno;
        close(fd);
        unlink(tmp);
        free(tmp);
        errno = saved;
        return fail(err, err_size, "cannot write '%s'", path);
    }
    return commit_temp(fd, tmp, path, mode, err, err_size);
}

bool fs_read_file(const char *path, size_t max_bytes, char **data, size_t *size, char *err,
                  size_t err_size)
{
    *data = NULL;
    if (size)
        *size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, err_size, "cannot read '%s'", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return fail(err, err_size, "cannot read '%s'", path);
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        errno = EISDIR;
        return fail(err, err_size, "cannot read '%s'", path);
    }
    size_t capacity = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 4096;
    if (max_bytes && S_ISREG(st.st_mode) && (uint64_t)st.st_size > max_bytes) {
        close(fd);
        errno = EFBIG;
        if (err && err_size)
            snprintf(err, err_size, "'%s' is %lld bytes, more than the limit of %zu", path,
                     (long long)st.st_size, max_bytes);
        return false;
    }
    char *buf = malloc(capacity);
    size_t used = 0;
    for (;;) {
        if (!buf)
            break;
        if (used + 1 >= capacity) {
            char *grown = realloc(buf, capacity * 2);
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            capacity *= 2;
        }
        ssize_t n = read(fd, buf + used, capacity - used - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;
            free(buf);
            close(fd);
            errno = saved;
            return fail(err, err_size, "cannot read '%s'", path);
        }
        if (n == 0)
            break;
        used += (size_t)n;
        if (max_bytes && used > max_bytes) {
            /* The file grew, or is not a regular file: the limit holds anyway. */
            free(buf);
            close(fd);
            errno = EFBIG;
            if (err && err_size)
                snprintf(err, err_size, "'%s' is more than the limit of %zu bytes", path,
                         max_bytes);
            return false;
        }
    }
    close(fd);
    if (!buf) {
        errno = ENOMEM;
        return fail(err, err_size, "cannot read '%s'", path);
    }
    buf[used] = '\0';
    *data = buf;
    if (size)
        *size = used;
    return true;
}

bool fs_copy_file(const char *from, const char *to, char *err, size_t err_size)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (in < 0 || fstat(in, &st) != 0) {
        int saved = errno;
        if (in >= 0)
            close(in);
        errno = saved;
        return fail(err, err_size, "cannot copy '%s'", from);
    }
    if (!S_ISREG(st.st_mode)) {
        close(in);
        errno = EINVAL;
        return fail(err, err_size, "cannot copy '%s' (not a regular file)", from);
    }
    char *tmp = NULL;
    int out = open_temp_beside(to, &tmp);
    if (out < 0) {
        int saved = errno;
        close(in);
        free(tmp);
        errno = saved;
        return fail(err, err_size, "cannot copy to '%s'", to);
    }
    char *buf = malloc(COPY_BUFFER_BYTES);
    bool ok = buf != NULL;
    bool read_failed = false;
    while (ok) {
        ssize_t n = read(in, buf, COPY_BUFFER_BYTES);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ok = n == 0;
            read_failed = n < 0;
            break;
        }
        ok = write_all(out, buf, (size_t)n);
    }
    int saved = errno;
    free(buf);
    close(in);
    if (!ok) {
        close(out);
        unlink(tmp);
        free(tmp);
        errno = saved;
        return read_failed ? fail(err, err_size, "cannot copy '%s'", from)
                           : fail(err, err_size, "cannot copy to '%s'", to);
    }
    return commit_temp(out, tmp, to, st.st_mode & 07777, err, err_size);
}

bool fs_disk_free(const char *path, uint64_t *free_bytes, uint64_t *total_bytes)
{
    struct statvfs vfs;
    if (statvfs(path, &vfs) != 0)
        return false;
    if (free_bytes)
        *free_bytes = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    if (total_bytes)
        *total_bytes = (uint64_t)vfs.f_blocks * vfs.f_frsize;
    return true;
}
