/*
 * log.c — one key=value line per event on stderr, and sinks that receive each line.
 *
 * A line is built completely in memory and written with a single write(2) under a
 * lock, so lines from different threads never interleave, whether stderr is a file,
 * a pipe or a terminal. Fields longer than MAX_FIELD_BYTES are cut (marked "..."),
 * and control characters become spaces, so one event is always one line.
 *
 * Sinks run outside the sinks lock, so a sink may itself log or add sinks; while a
 * thread runs sinks, its own log calls skip them, so a sink that logs cannot recurse.
 * log_remove_sink waits for calls of that sink in progress on other threads, so the
 * caller may free the sink's state as soon as it returns.
 */
#include "base/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SINKS 16
#define LINE_STACK_BYTES 2048
#define MAX_FIELD_BYTES (16 * 1024)
#define QUOTE_SLOTS 8
#define QUOTE_BYTES 512

typedef struct log_sink {
    log_sink_fn fn;
    void *user;
    log_level min_level;
    unsigned active_calls;
    bool removed;         /* taken out of the list while a call was still running */
} log_sink;

static atomic_int current_level = LOG_INFO;
static pthread_mutex_t sinks_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sinks_idle = PTHREAD_COND_INITIALIZER;
static log_sink *sinks[MAX_SINKS];
static size_t sink_count;
static _Thread_local int in_sink;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(log_level level)
{
    atomic_store(&current_level, (int)level);
}

const char *log_level_name(log_level level)
{
    if ((int)level < 0 || (size_t)level >= sizeof level_names / sizeof level_names[0])
        return "unknown";
    return level_names[level];
}

bool log_parse_level(const char *name, log_level *out)
{
    if (!name)
        return false;
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (!strcasecmp(name, level_names[i])) {
            *out = (log_level)i;
            return true;
        }
    }
    if (!strcasecmp(name, "warning")) {
        *out = LOG_WARN;
        return true;
    }
    return false;
}

static bool needs_quotes(const char *value)
{
    if (!*value)
        return true;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
            return true;
    return false;
}

/* Appends c to out (capacity cap, position *o) escaped for a quoted value. */
static void put_escaped(char *out, size_t cap, size_t *o, unsigned char c)
{
    char tmp[5];
    const char *s = tmp;
    switch (c) {
    case '"': s = "\\\""; break;
    case '\\': s = "\\\\"; break;
    case '\n': s = "\\n"; break;
    case '\r': s = "\\r"; break;
    case '\t': s = "\\t"; break;
    default:
        if (c < ' ' || c == 0x7f)
            snprintf(tmp, sizeof tmp, "\\x%02x", c);
        else
            tmp[0] = (char)c, tmp[1] = '\0';
    }
    size_t n = strlen(s);
    if (*o + n < cap) {
        memcpy(out + *o, s, n);
        *o += n;
    }
}

const char *log_quote(const char *value)
{
    static _Thread_local char slots[QUOTE_SLOTS][QUOTE_BYTES];
    static _Thread_local unsigned next_slot;
    if (!value)
        return "null";
    if (!needs_quotes(value))
        return value;
    char *out = slots[next_slot++ % QUOTE_SLOTS];
    size_t o = 0;
    const size_t room = QUOTE_BYTES - 5;   /* closing quote, "..." and NUL */
    out[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        size_t before = o;
        put_escaped(out, room, &o, *p);
        if (o == before) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

/* Control characters in fields that were not quoted would break the one-line rule. */
static void escape_controls(char *line)
{
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            *p = ' ';
}

static size_t format_timestamp(char *out, size_t size)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(out + n, size - n, ".%03ldZ", now.tv_nsec / 1000000);
    return n;
}

static void write_all(int fd, const char *data, size_t size)
{
    while (size > 0) {
        ssize_t n = write(fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;   /* nowhere to report a failing stderr */
        data += n;
        size -= (size_t)n;
    }
}

static void run_sinks(log_level level, const char *event, const char *line)
{
    log_sink *chosen[MAX_SINKS];
    size_t count = 0;
    pthread_mutex_lock(&sinks_lock);
    for (size_t i = 0; i < sink_count; i++) {
        if (level >= sinks[i]->min_level) {
            sinks[i]->active_calls++;
            chosen[count++] = sinks[i];
        }
    }
    pthread_mutex_unlock(&sinks_lock);
    if (!count)
        return;
    in_sink++;
    for (size_t i = 0; i < count; i++)
        chosen[i]->fn(level, event, line, chosen[i]->user);
    in_sink--;
    pthread_mutex_lock(&sinks_lock);
    for (size_t i = 0; i < count; i++)
        if (--chosen[i]->active_calls == 0 && chosen[i]->removed)
            free(chosen[i]);
    pthread_cond_broadcast(&sinks_idle);
    pthread_mutex_unlock(&sinks_lock);
}

void log_event(log_level level, const char *event, const char *fields, ...)
{
    if ((int)level < atomic_load(&current_level))
        return;
    char stack[LINE_STACK_BYTES];
    char head[96];
    size_t head_size = (size_t)snprintf(head, sizeof head, "ts=");
    head_size += format_timestamp(head + head_size, sizeof head - head_size);
    head_size += (size_t)snprintf(head + head_size, sizeof head - head_size, " level=%s event=",
                                  log_level_name(level));

    va_list args, again;
    va_start(args, fields);
    va_copy(again, args);
    char probe[1];
    int field_size = fields && *fields ? vsnprintf(probe, 0, fields, args) : 0;
    va_end(args);
    if (field_size < 0)
        field_size = 0;
    bool cut = field_size > MAX_FIELD_BYTES;   /* someone logged a whole body */
    if (cut)
        field_size = MAX_FIELD_BYTES;
    size_t event_size = strlen(event ? event : "-");
    size_t total = head_size + event_size + (field_size ? 1 + (size_t)field_size : 0) + 2;
    char *line = total <= sizeof stack ? stack : malloc(total);
    if (!line) {
        va_end(again);
        return;
    }
    memcpy(line, head, head_size);
    memcpy(line + head_size, event ? event : "-", event_size);
    size_t n = head_size + event_size;
    if (field_size) {
        line[n++] = ' ';
        vsnprintf(line + n, (size_t)field_size + 1, fields, again);
        n += (size_t)field_size;
        if (cut)
            memcpy(line + n - 3, "...", 3);
    }
    va_end(again);
    line[n] = '\0';
    escape_controls(line);
    line[n] = '\n';
    /* A write to a pipe longer than PIPE_BUF may interleave with other writers; the
     * lock keeps this process's lines whole whatever stderr is. */
    pthread_mutex_lock(&write_lock);
    write_all(STDERR_FILENO, line, n + 1);
    pthread_mutex_unlock(&write_lock);
    line[n] = '\0';
    if (!in_sink)
        run_sinks(level, event, line);
    if (line != stack)
        free(line);
}

void log_add_sink(log_sink_fn fn, log_level min_level, void *user)
{
    log_sink *sink = calloc(1, sizeof *sink);
    if (!sink)
        return;
    *sink = (log_sink){.fn = fn, .user = user, .min_level = min_level};
    pthread_mutex_lock(&sinks_lock);
    if (sink_count < MAX_SINKS) {
        sinks[sink_count++] = sink;
        sink = NULL;
    }
    pthread_mutex_unlock(&sinks_lock);
    if (sink) {
        free(sink);
        log_warn("log.sink_refused", "reason=%s max=%d", log_quote("too many log sinks"),
                 MAX_SINKS);
    }
}

void log_remove_sink(log_sink_fn fn, void *user)
{
    pthread_mutex_lock(&sinks_lock);
    for (size_t i = 0; i < sink_count; i++) {
        if (sinks[i]->fn != fn || sinks[i]->user != user)
            continue;
        log_sink *sink = sinks[i];
        memmove(&sinks[i], &sinks[i + 1], (sink_count - i - 1) * sizeof sinks[0]);
        sink_count--;
        /* A sink removing itself from inside a call would wait for itself forever. */
        while (sink->active_calls > 0 && !in_sink)
            pthread_cond_wait(&sinks_idle, &sinks_lock);
        if (sink->active_calls == 0)
            free(sink);
        else
            sink->removed = true;   /* the last call in progress frees it */
        break;
    }
    pthread_mutex_unlock(&sinks_lock);
}
