/*
 * history.c — request history in memory, persisted as JSON lines (see history.h).
 */
#define _GNU_SOURCE
#include "supervisor/history.h"

#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define COMPACT_SLACK 64        /* extra lines tolerated before rewriting the file */
#define MAX_LINE_BYTES (16u << 20)

struct history {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    json_t *entries;            /* request_id -> entry, in insertion order */
    size_t limit;
    char *path;
    int fd;                     /* O_APPEND; -1 while the file cannot be opened */
    size_t lines_in_file;
    bool write_failing;         /* logged once until a write works again */
};

/* ---------------------------------------------------------------- memory */

static void evict_oldest(history *h)
{
    while (json_object_size(h->entries) > h->limit) {
        void *it = json_object_iter(h->entries);
        char *key = strdup(json_object_iter_key(it));
        if (!key)
            return;
        json_object_del(h->entries, key);
        free(key);
    }
}

static const char *entry_id(const json_t *entry)
{
    return json_string_value(json_object_get(entry, "request_id"));
}

/* ------------------------------------------------------------------ disk */

static bool write_all(int fd, const char *data, size_t size)
{
    while (size) {
        ssize_t n = write(fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data += n;
        size -= (size_t)n;
    }
    return true;
}

static char *entry_line(const json_t *entry, size_t *size)
{
    char *text = json_dumps(entry, JSON_COMPACT);
    if (!text)
        return NULL;
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (!line) {
        free(text);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    *size = n + 1;
    return line;
}

static void note_write_result(history *h, bool ok, const char *what)
{
    if (!ok && !h->write_failing)
        log_error("history.write_failed",
                  "path=%s what=%s reason=%s hint=%s", log_quote(h->path), what,
                  log_quote(strerror(errno)),
                  log_quote("entries are kept in memory; free disk space or fix permissions"));
    else if (ok && h->write_failing)
        log_info("history.write_recovered", "path=%s", log_quote(h->path));
    h->write_failing = !ok;
}

/* Writes every entry to a temporary file, syncs it and renames it over the
 * history, so a reader (or a crash) sees the old file or the whole new one. */
static bool rewrite_file(history *h)
{
    size_t len = strlen(h->path);
    char *tmp = malloc(len + 8);
    if (!tmp)
        return false;
    snprintf(tmp, len + 8, "%s.tmp", h->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = fd >= 0;
    const char *key;
    json_t *entry;
    json_object_foreach(h->entries, key, entry) {
        size_t size;
        char *line = ok ? entry_line(entry, &size) : NULL;
        ok = line && write_all(fd, line, size);
        free(line);
        if (!ok)
            break;
    }
    ok = ok && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    ok = ok && rename(tmp, h->path) == 0;
    if (!ok) {
        int saved = errno;
        unlink(tmp);
        errno = saved;
    }
    free(tmp);
    note_write_result(h, ok, "compaction");
    if (!ok)
        return false;
    int new_fd = open(h->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (new_fd < 0)
        return false;
    if (h->fd >= 0)
        close(h->fd);
    h->fd = new_fd;
    h->lines_in_file = json_object_size(h->entries);
    return true;
}

static void load_line(history *h, const char *line, size_t size, size_t number, size_t *bad)
{
    json_error_t error;
    json_t *entry = json_loadb(line, size, 0, &error);
    if (!entry || !json_is_object(entry) || !entry_id(entry)) {
        /* a torn last line after a crash, or damage: skip it, keep the rest */
        if (++*bad <= 3)
            log_warn("history.bad_line", "path=%s line=%zu reason=%s", log_quote(h->path),
                     number, log_quote(entry ? "not an entry object" : error.text));
        json_decref(entry);
        return;
    }
    json_object_set_new(h->entries, entry_id(entry), entry);
}

static bool load_file(history *h, char *err, size_t err_size)
{
    FILE *f = fopen(h->path, "r");
    if (!f) {
        if (errno == ENOENT)
            return true;
        snprintf(err, err_size, "cannot read the request history %s: %s", h->path,
                 strerror(errno));
        return false;
    }
    char *line = NULL;
    size_t capacity = 0, number = 0, bad = 0;
    ssize_t n;
    while ((n = getline(&line, &capacity, f)) > 0) {
        number++;
        if ((size_t)n > MAX_LINE_BYTES)
            continue;
        load_line(h, line, (size_t)n, number, &bad);
    }
    free(line);
    fclose(f);
    h->lines_in_file = number;
    evict_oldest(h);
    if (number || bad)
        log_info("history.loaded", "path=%s entries=%zu lines=%zu skipped=%zu",
                 log_quote(h->path), json_object_size(h->entries), number, bad);
    return true;
}

/* --------------------------------------------------------------- the API */

history *history_open(const char *path, size_t limit, char *err, size_t err_size)
{
    history *h = calloc(1, sizeof *h);
    if (!h || !(h->path = strdup(path)) || !(h->entries = json_object())) {
        snprintf(err, err_size, "out of memory opening the request history");
        if (h) {
            free(h->path);
            free(h);
        }
        return NULL;
    }
    h->limit = limit ? limit : 1;
    h->fd = -1;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->changed, NULL);
    if (!load_file(h, err, err_size)) {
        history_close(h);
        return NULL;
    }
    h->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (h->fd < 0) {
        snprintf(err, err_size, "cannot open the request history %s for writing: %s", path,
                 strerror(errno));
        history_close(h);
        return NULL;
    }
    if (h->lines_in_file > json_object_size(h->entries))
        rewrite_file(h);    /* drop evicted and damaged lines now */
    return h;
}

void history_close(history *h)
{
    if (!h)
        return;
    if (h->fd >= 0) {
        fsync(h->fd);
        close(h->fd);
    }
    json_decref(h->entries);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->changed);
    free(h->path);
    free(h);
}

bool history_put(history *h, json_t *entry)
{
    const char *id = entry_id(entry);
    if (!id) {
        json_decref(entry);
        return false;
    }
    size_t size = 0;
    char *line = entry_line(entry, &size);
    pthread_mutex_lock(&h->lock);
    json_object_set_new(h->entries, id, entry);
    evict_oldest(h);
    bool ok = line && h->fd >= 0 && write_all(h->fd, line, size);
    note_write_result(h, ok, "append");
    if (ok && ++h->lines_in_file >= 2 * h->limit + COMPACT_SLACK)
        rewrite_file(h);
    pthread_cond_broadcast(&h->changed);
    pthread_mutex_unlock(&h->lock);
    free(line);
    return ok;
}

static struct timespec deadline_after(long ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

json_t *history_get(history *h, const char *request_id, long wait_ms)
{
    struct timespec deadline = deadline_after(wait_ms > 0 ? wait_ms : 0);
    pthread_mutex_lock(&h->lock);
    json_t *entry = json_object_get(h->entries, request_id);
    while (!entry && wait_ms > 0) {
        if (pthread_cond_timedwait(&h->changed, &h->lock, &deadline) == ETIMEDOUT)
            wait_ms = 0;
        entry = json_object_get(h->entries, request_id);
    }
    json_incref(entry);
    pthread_mutex_unlock(&h->lock);
    return entry;
}

json_t *history_list(history *h)
{
    json_t *list = json_array();
    pthread_mutex_lock(&h->lock);
    const char *key;
    json_t *entry;
    json_object_foreach(h->entries, key, entry)
        json_array_append(list, entry);
    pthread_mutex_unlock(&h->lock);
    return list;
}

size_t history_count(history *h)
{
    pthread_mutex_lock(&h->lock);
    size_t n = json_object_size(h->entries);
    pthread_mutex_unlock(&h->lock);
    return n;
}
