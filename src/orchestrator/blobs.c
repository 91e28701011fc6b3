/*
 * blobs.c — content-addressed files under DIR/ab/cdef... (see blobs.h).
 *
 * Writes go through DIR/tmp/ on the same file system: the bytes are hashed as they are
 * written, fsynced, and renamed to their digest's name, then the directory is fsynced,
 * so a blob either exists whole under its right name or not at all.
 */
#define _GNU_SOURCE
#include "orchestrator/blobs.h"

#include "base/fs.h"
#include "orchestrator/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct blob_store {
    char *dir;
    char *tmp_dir;
};

static bool fail(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fail(char *err, size_t err_size, const char *fmt, ...)
{
    if (err && err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return false;
}

bool blobs_is_digest(const char *text)
{
    if (!text)
        return false;
    size_t n = 0;
    for (; text[n]; n++)
        if (!((text[n] >= '0' && text[n] <= '9') || (text[n] >= 'a' && text[n] <= 'f')))
            return false;
    return n == 64;
}

static void hex(const unsigned char *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

blob_store *blobs_open(const char *dir, char *err, size_t err_size)
{
    blob_store *b = calloc(1, sizeof *b);
    if (!b || !(b->dir = strdup(dir)) || !(b->tmp_dir = fs_join(dir, "tmp"))) {
        fail(err, err_size, "out of memory");
        blobs_close(b);
        return NULL;
    }
    /* a write cut short by a crash leaves only a file in tmp/ */
    if (!fs_remove_tree(b->tmp_dir, err, err_size) ||
        !fs_mkdir_p(b->tmp_dir, 0755, err, err_size)) {
        blobs_close(b);
        return NULL;
    }
    return b;
}

void blobs_close(blob_store *b)
{
    if (!b)
        return;
    free(b->dir);
    free(b->tmp_dir);
    free(b);
}

const char *blobs_dir(const blob_store *b)
{
    return b->dir;
}

char *blobs_path(blob_store *b, const char *digest)
{
    if (!blobs_is_digest(digest))
        return NULL;
    char *path = NULL;
    if (asprintf(&path, "%s/%.2s/%s", b->dir, digest, digest + 2) < 0)
        return NULL;
    return path;
}

bool blobs_has(blob_store *b, const char *digest)
{
    char *path = blobs_path(b, digest);
    struct stat st;
    bool found = path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
    free(path);
    return found;
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Hashes what fd holds from its current position, copying it to out_fd when that is
 * not -1. */
static bool hash_fd(int fd, int out_fd, char digest[BLOB_DIGEST_SIZE], uint64_t *size,
                    const char *what, char *err, size_t err_size)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(ctx);
        return fail(err, err_size, "cannot start SHA-256");
    }
    static const size_t chunk = 256 * 1024;
    unsigned char *buf = malloc(chunk);
    uint64_t total = 0;
    bool ok = buf != NULL;
    while (ok) {
        ssize_t n = read(fd, buf, chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ok = fail(err, err_size, "cannot read %s: %s", what, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        EVP_DigestUpdate(ctx, buf, (size_t)n);
        total += (uint64_t)n;
        for (ssize_t done = 0; out_fd >= 0 && done < n;) {
            ssize_t w = write(out_fd, buf + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                ok = fail(err, err_size, "cannot write a blob: %s", strerror(errno));
                break;
            }
            done += w;
        }
    }
    unsigned char md[32];
    unsigned int md_size = 0;
    if (ok)
        EVP_DigestFinal_ex(ctx, md, &md_size);
    EVP_MD_CTX_free(ctx);
    free(buf);
    if (!ok)
        return false;
    hex(md, 32, digest);
    if (size)
        *size = total;
    return true;
}

static bool check_expected(const char *expected, const char *digest, char *err,
                           size_t err_size)
{
    if (!expected || !strcmp(expected, digest))
        return true;
    return fail(err, err_size, "the bytes have SHA-256 %s, not the expected %s", digest,
                expected);
}

/* Moves a file (temporary, or the caller's) to the blob's name. An existing blob of
 * the same digest is kept and its time renewed, so gc's grace period starts again for
 * a blob that is being referenced anew. *cross_device (may be NULL) is set when from
 * is on another file system, so nothing was moved. */
static bool place(blob_store *b, const char *from, const char *digest, bool *cross_device,
                  char *err, size_t err_size)
{
    if (cross_device)
        *cross_device = false;
    char *path = blobs_path(b, digest);
    char *sub = path ? strndup(path, strlen(b->dir) + 3) : NULL;
    bool ok = path && sub;
    if (!ok)
        fail(err, err_size, "out of memory");
    if (ok && fs_exists(path)) {
        utimensat(AT_FDCWD, path, NULL, 0);
        unlink(from);
    } else if (ok && (ok = fs_mkdir_p(sub, 0755, err, err_size))) {
        chmod(from, 0644);
        if (rename(from, path) == 0) {
            sync_dir(sub);
        } else {
            if (errno == EXDEV && cross_device)
                *cross_device = true;
            ok = fail(err, err_size, "cannot store blob %s: %s", digest, strerror(errno));
        }
    }
    free(path);
    free(sub);
    return ok;
}

static int temp_file(blob_store *b, char **path, char *err, size_t err_size)
{
    if (asprintf(path, "%s/blob-XXXXXX", b->tmp_dir) < 0) {
        *path = NULL;
        fail(err, err_size, "out of memory");
        return -1;
    }
    int fd = mkstemp(*path);
    if (fd < 0) {
        fail(err, err_size, "cannot create a file in %s: %s", b->tmp_dir, strerror(errno));
        free(*path);
        *path = NULL;
    }
    return fd;
}

bool blobs_put_file(blob_store *b, const char *path, bool move, const char *expected,
                    char digest_out[BLOB_DIGEST_SIZE], uint64_t *size_out, char *err,
                    size_t err_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, err_size, "cannot open %s: %s", path, strerror(errno));
    char digest[BLOB_DIGEST_SIZE];
    bool ok;
    if (move) {
        /* hash in place, then rename: no copy when the upload is on our file system */
        ok = hash_fd(fd, -1, digest, size_out, path, err, err_size) &&
             check_expected(expected, digest, err, err_size);
        if (ok && fsync(fd) != 0)
            ok = fail(err, err_size, "cannot sync %s: %s", path, strerror(errno));
        close(fd);
        bool cross_device = false;
        if (ok && !place(b, path, digest, &cross_device, err, err_size)) {
            if (!cross_device)
                return false;
            /* another file system: copy, then remove the original */
            ok = blobs_put_file(b, path, false, expected, digest, size_out, err, err_size);
            if (ok)
                unlink(path);
        }
    } else {
        char *tmp = NULL;
        int out = temp_file(b, &tmp, err, err_size);
        ok = out >= 0 && hash_fd(fd, out, digest, size_out, path, err, err_size) &&
             check_expected(expected, digest, err, err_size);
        if (ok && fsync(out) != 0)
            ok = fail(err, err_size, "cannot sync a blob: %s", strerror(errno));
        if (out >= 0)
            close(out);
        close(fd);
        if (ok)
            ok = place(b, tmp, digest, NULL, err, err_size);
        else if (tmp)
            unlink(tmp);
        free(tmp);
    }
    if (ok)
        memcpy(digest_out, digest, BLOB_DIGEST_SIZE);
    return ok;
}

bool blobs_put_memory(blob_store *b, const void *data, size_t size, const char *expected,
                      char digest_out[BLOB_DIGEST_SIZE], char *err, size_t err_size)
{
    unsigned char md[32];
    unsigned int md_size = 0;
    if (!EVP_Digest(data, size, md, &md_size, EVP_sha256(), NULL))
        return fail(err, err_size, "cannot compute SHA-256");
    char digest[BLOB_DIGEST_SIZE];
    hex(md, 32, digest);
    if (!check_expected(expected, digest, err, err_size))
        return false;
    char *tmp = NULL;
    int fd = temp_file(b, &tmp, err, err_size);
    if (fd < 0)
        return false;
    bool ok = true;
    for (size_t done = 0; ok && done < size;) {
        ssize_t w = write(fd, (const char *)data + done, size - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            ok = fail(err, err_size, "cannot write a blob: %s", strerror(errno));
        else
            done += (size_t)w;
    }
    if (ok && fsync(fd) != 0)
        ok = fail(err, err_size, "cannot sync a blob: %s", strerror(errno));
    close(fd);
    if (ok)
        ok = place(b, tmp, digest, NULL, err, err_size);
    else
        unlink(tmp);
    free(tmp);
    if (ok)
        memcpy(digest_out, digest, BLOB_DIGEST_SIZE);
    return ok;
}

bool blobs_read(blob_store *b, const char *digest, size_t max_bytes, uint8_t **data,
                size_t *size, char *err, size_t err_size)
{
    char *path = blobs_path(b, digest);
    if (!path)
        return fail(err, err_size, "'%s' is not a SHA-256 digest (64 lowercase hex digits)",
                    digest ? digest : "(null)");
    char *bytes = NULL;
    bool ok = fs_read_file(path, max_bytes, &bytes, size, err, err_size);
    free(path);
    *data = (uint8_t *)bytes;
    return ok;
}

bool blobs_verify(blob_store *b, const char *digest, char *err, size_t err_size)
{
    char *path = blobs_path(b, digest);
    if (!path)
        return fail(err, err_size, "'%s' is not a SHA-256 digest", digest ? digest : "(null)");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fail(err, err_size, "blob %s is missing: %s", digest, strerror(errno));
        free(path);
        return false;
    }
    char actual[BLOB_DIGEST_SIZE];
    bool ok = hash_fd(fd, -1, actual, NULL, path, err, err_size);
    close(fd);
    if (ok && strcmp(actual, digest)) {
        /* a damaged blob must not be served as what it claims to be */
        unlink(path);
        ok = fail(err, err_size, "blob %s was damaged on disk (its bytes hash to %s) and "
                  "has been removed: upload it again", digest, actual);
    }
    free(path);
    return ok;
}

bool blobs_remove(blob_store *b, const char *digest)
{
    char *path = blobs_path(b, digest);
    bool ok = path && unlink(path) == 0;
    free(path);
    return ok;
}

/* ------------------------------------------------------------------- gc */

static void mark(const char *digest, void *user)
{
    json_object_set_new((json_t *)user, digest, json_true());
}

static void sweep_dir(const char *dir, const char *prefix, json_t *marked, time_t cutoff,
                      blobs_gc_stats *stats)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char digest[BLOB_DIGEST_SIZE];
    while ((e = readdir(d))) {
        if (strlen(e->d_name) != 62)
            continue;
        snprintf(digest, sizeof digest, "%s%s", prefix, e->d_name);
        if (!blobs_is_digest(digest))
            continue;
        if (json_object_get(marked, digest)) {
            stats->kept++;
            continue;
        }
        char *path = fs_join(dir, e->d_name);
        struct stat st;
        if (path && stat(path, &st) == 0) {
            if (st.st_mtime > cutoff) {
                stats->young++;
            } else if (unlink(path) == 0) {
                stats->removed++;
                stats->bytes_removed += (uint64_t)st.st_size;
            }
        }
        free(path);
    }
    closedir(d);
}

bool blobs_gc(blob_store *b, store *st, unsigned grace_seconds, blobs_gc_stats *stats,
              char *err, size_t err_size)
{
    blobs_gc_stats local = {0};
    json_t *marked = json_object();
    if (store_each_referenced_digest(st, mark, marked, err, err_size) != STORE_OK) {
        json_decref(marked);
        return false;
    }
    time_t cutoff = time(NULL) - (time_t)grace_seconds;
    DIR *d = opendir(b->dir);
    if (!d) {
        json_decref(marked);
        return fail(err, err_size, "cannot read %s: %s", b->dir, strerror(errno));
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        /* only the two-hex-digit directories: not tmp/, ".", ".." */
        bool prefix = strlen(n) == 2 && strchr("0123456789abcdef", n[0]) &&
                      strchr("0123456789abcdef", n[1]);
        if (!prefix)
            continue;
        char *sub = fs_join(b->dir, n);
        if (sub)
            sweep_dir(sub, n, marked, cutoff, &local);
        free(sub);
    }
    closedir(d);
    json_decref(marked);
    if (stats)
        *stats = local;
    return true;
}
