/*
 * log.h — one line per event, key=value, on stderr:
 *
 *   ts=2026-11-22T10:00:00.123Z level=info event=deploy.ready deployment=66.. module=fibo
 *
 * The event name says what happened; the fields carry the ids (deployment, module,
 * request, trace) that let a reader follow one request across devices. Values with
 * spaces or quotes are quoted. A sink can be added (the supervisor forwards its logs to
 * the orchestrator); sinks are called with the formatted line, outside any lock.
 */
#ifndef LIQUID_BASE_LOG_H
#define LIQUID_BASE_LOG_H

#include <stdbool.h>

/* <syslog.h> (which libmdnsd's header includes) defines LOG_DEBUG and LOG_INFO as
 * macros. In a file that includes both, ours win when syslog.h comes first; when it
 * comes after, the log_debug()... macros below still work, as they use the values. */
#ifdef LOG_DEBUG
#undef LOG_DEBUG
#endif
#ifdef LOG_INFO
#undef LOG_INFO
#endif

typedef enum log_level {
    LOG_DEBUG = 0,
    LOG_INFO,
    LOG_WARN,
    LOG_ERROR,
} log_level;

void log_set_level(log_level level);
bool log_parse_level(const char *name, log_level *out);   /* "debug", "info", ... */
const char *log_level_name(log_level level);

/* fields is a printf format producing `key=value key2=value2`; use log_quote() for
 * values that may contain spaces. */
void log_event(log_level level, const char *event, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(event, ...) log_event((log_level)0, event, __VA_ARGS__)
#define log_info(event, ...) log_event((log_level)1, event, __VA_ARGS__)
#define log_warn(event, ...) log_event((log_level)2, event, __VA_ARGS__)
#define log_error(event, ...) log_event((log_level)3, event, __VA_ARGS__)

/* Quotes a value for a log line when it needs it; returns a thread-local buffer that
 * stays valid until the same thread's next 8 calls. */
const char *log_quote(const char *value);

typedef void (*log_sink_fn)(log_level level, const char *event, const char *line, void *user);
void log_add_sink(log_sink_fn sink, log_level min_level, void *user);
void log_remove_sink(log_sink_fn sink, void *user);

#endif
