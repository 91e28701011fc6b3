/*
 * history.c — request history in memory, persisted as JSON lines (see history.h).
 *
 * Each entry is kept as the line that was written for it, not as a JSON tree: a call
 * serializes its entry once, the same bytes go to the file and stay in memory, and
 * compaction writes them again without serializing anything. Readers (far rarer than
 * writers) parse the line they ask for. A line is about half the memory of the tree.
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

#define MIN_COMPACT_SLACK 4096  /* lines beyond the limit tolerated before rewriting */
#define MAX_LINE_BYTES (16u << 20)

struct history {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    json_t *lines;              /* request_id -> JSON string of the line, insertion order */
    size_t limit;
    char *path;
    int fd;                     /* O_APPEND */
    size_t lines_in_file;
    bool write_failing;         /* logged once until a write works again */
    bool unsaved;               /* an append failed (perhaps half-written): the next
                                 * write rewrites the whole file instead */
};

static const char *entry_id(const json_t *entry)
{
    return json_string_value(json_object_get(entry, "request_id"));
}

static void evict_oldest(history *h)
{
    while (json_object_size(h->lines) > h->limit) {
        void *it = json_object_iter(h->lines);
        char *key = strdup(json_object_iter_key(it));
        if (!key)
            return;
        json_object_del(h->lines, key);
        free(key);
    }
}

/* The file may hold this many lines before it is rewritten with the live ones. */
static size_t compaction_threshold(const history *h)
{
    return h->limit + (h->limit > MIN_COMPACT_SLACK ? h->limit : MIN_COMPACT_SLACK);
}

/* ------------------------------------------------------------------ disk */

static bool write_all(int fd, const char *data, size_t size)
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

static void note_write_result(history *h, bool ok, const char *what)
{
    if (!ok && !h->write_failing)
        log_error("history.write_failed", "path=%s what=%s reason=%s hint=%s",
                  log_quote(h->path), what, log_quote(strerror(errno)),
                  log_quote("entries are kept in memory; free disk space or fix permissions"));
    else if (ok && h->write_failing)
        log_info("history.write_recovered", "path=%s", log_quote(h->path));
    h->write_failing = !ok;
}

/* Writes the live lines to a temporary file, syncs it and renames it over the
 * history: a reader, or a crash, sees the old file or the whole new one. */
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
    json_t *line;
    json_object_foreach(h->lines, key, line) {
        ok = write_all(fd, json_string_value(line), json_string_length(line));
        if (!ok)
            break;
    }
    ok = ok && fsync(fd) == 0;
    int saved = errno;
    if (fd >= 0 && close(fd) != 0 && ok)
        ok = false, saved = errno;
    if (ok && rename(tmp, h->path) != 0)
        ok = false, saved = errno;
    if (!ok)
        unlink(tmp);
    free(tmp);
    errno = saved;
    note_write_result(h, ok, "compaction");
    int new_fd = ok ? open(h->path, O_WRONLY | O_APPEND | O_CLOEXEC) : -1;
    if (new_fd < 0)
        return false;
    if (h->fd >= 0)
        close(h->fd);
    h->fd = new_fd;
    h->lines_in_file = json_object_size(h->lines);
    h->unsaved = false;
    return true;
}

static void load_line(history *h, const char *line, size_t size, size_t number, size_t *bad)
{
    json_error_t error;
    json_t *entry = json_loadb(line, size, 0, &error);
    const char *id = entry_id(entry);
    bool complete = size && line[size - 1] == '\n';
    if (!entry || !json_is_object(entry) || !id || !complete) {
        /* a torn last line after a crash, or damage: skip it, keep the rest */
        if (++*bad <= 3)
            log_warn("history.bad_line", "path=%s line=%zu reason=%s", log_quote(h->path),
                     number, log_quote(!entry ? error.text : "not a whole entry line"));
    } else {
        json_object_set_new(h->lines, id, json_stringn_nocheck(line, size));
    }
    json_decref(entry);
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
        if ((size_t)n <= MAX_LINE_BYTES)
            load_line(h, line, (size_t)n, number, &bad);
    }
    free(line);
    fclose(f);
    h->lines_in_file = number;
    evict_oldest(h);
    if (number)
        log_info("history.loaded", "path=%s entries=%zu lines=%zu skipped=%zu",
                 log_quote(h->path), json_object_size(h->lines), number, bad);
    return true;
}

/* --------------------------------------------------------------- the API */

history *history_open(const char *path, size_t limit, char *err, size_t err_size)
{
    history *h = calloc(1, sizeof *h);
    if (!h || !(h->path = strdup(path)) || !(h->lines = json_object())) {
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
    if (h->lines_in_file > json_object_size(h->lines))
        rewrite_file(h);    /* drop evicted and damaged lines now */
    return h;
}

void history_close(history *h)
{
    if (!h)
        return;
    if (h->unsaved)
        rewrite_file(h);    /* a last chance for entries a full disk kept from the file */
    if (h->fd >= 0) {
        fsync(h->fd);
        close(h->fd);
    }
    json_decref(h->lines);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->changed);
    free(h->path);
    free(h);
}

bool history_put(history *h, json_t *entry)
{
    const char *id = entry_id(entry);
    char *text = id ? json_dumps(entry, JSON_COMPACT) : NULL;
    size_t size = text ? strlen(text) : 0;
    char *line = text ? realloc(text, size + 2) : NULL;
    if (!line) {
        free(text);
        json_decref(entry);
        return false;
    }
    line[size++] = '\n';
    line[size] = '\0';
    json_t *value = json_stringn_nocheck(line, size);
    pthread_mutex_lock(&h->lock);
    json_object_set_new(h->lines, id, value);
    evict_oldest(h);
    bool ok;
    if (h->unsaved) {
        ok = rewrite_file(h);   /* after a failed append: no line glued to a torn one */
    } else {
        ok = h->fd >= 0 && write_all(h->fd, line, size);
        note_write_result(h, ok, "append");
        h->unsaved = !ok;
        if (ok && ++h->lines_in_file >= compaction_threshold(h))
            rewrite_file(h);
    }
    pthread_cond_broadcast(&h->changed);
    pthread_mutex_unlock(&h->lock);
    free(line);
    json_decref(entry);
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

static json_t *parse_line(json_t *line)
{
    json_t *entry = line ? json_loadb(json_string_value(line), json_string_length(line), 0, NULL)
                         : NULL;
    json_decref(line);
    return entry;
}

json_t *history_get(history *h, const char *request_id, long wait_ms)
{
    struct timespec deadline = deadline_after(wait_ms > 0 ? wait_ms : 0);
    pthread_mutex_lock(&h->lock);
    json_t *line = json_object_get(h->lines, request_id);
    while (!line && wait_ms > 0) {
        if (pthread_cond_timedwait(&h->changed, &h->lock, &deadline) == ETIMEDOUT)
            wait_ms = 0;
        line = json_object_get(h->lines, request_id);
    }
    json_incref(line);      /* immutable: parsed outside the lock */
    pthread_mutex_unlock(&h->lock);
    return parse_line(line);
}

json_t *history_list(history *h)
{
    json_t *lines = json_array();
    pthread_mutex_lock(&h->lock);
    const char *key;
    json_t *line;
    json_object_foreach(h->lines, key, line)
        json_array_append(lines, line);
    pthread_mutex_unlock(&h->lock);
    json_t *list = json_array();
    size_t i;
    json_array_foreach(lines, i, line) {
        json_t *entry = json_loadb(json_string_value(line), json_string_length(line), 0, NULL);
        if (entry)
            json_array_append_new(list, entry);
    }
    json_decref(lines);
    return list;
}

size_t history_count(history *h)
{
    pthread_mutex_lock(&h->lock);
    size_t n = json_object_size(h->lines);
    pthread_mutex_unlock(&h->lock);
    return n;
}
