/*
 * events_routes.c — the event_routes[] table: the event stream (GET /events, server-
 * sent events), recent events as JSON (GET /events/recent), /metrics (metrics.c) and
 * the supervisors' logs (device_logs.c).
 */
#define _GNU_SOURCE
#include "orchestrator/event_handlers.h"
#include "orchestrator/events.h"
#include "orchestrator/orchestrator.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_RECENT 100
#define MAX_RECENT 10000

/* A sequence number as a client sends it: digits only. */
static bool parse_seq(const char *text, int64_t *out)
{
    if (!text || !*text || strspn(text, "0123456789") != strlen(text) || strlen(text) > 18)
        return false;
    *out = strtoll(text, NULL, 10);
    return true;
}

/* ------------------------------------------------------------ the stream */

typedef struct stream {
    events_subscription *subscription;
    size_t hello_sent;
    char hello[96];
} stream;

static long stream_next(void *state, char *buf, size_t max)
{
    stream *s = state;
    /* A first comment line, so a client knows at once that it is connected. */
    size_t hello_size = strlen(s->hello);
    if (s->hello_sent < hello_size) {
        size_t n = hello_size - s->hello_sent < max ? hello_size - s->hello_sent : max;
        memcpy(buf, s->hello + s->hello_sent, n);
        s->hello_sent += n;
        return (long)n;
    }
    return events_subscription_read(s->subscription, buf, max);
}

static void stream_done(void *state)
{
    stream *s = state;
    events_subscription_close(s->subscription);
    free(s);
}

static void handle_stream(http_request *req, void *user)
{
    orchestrator *o = user;
    int64_t after = -1, seq;
    const char *query = http_request_query(req, "after");
    const char *last_id = http_request_header(req, "Last-Event-ID");
    if (query && *query) {
        if (!parse_seq(query, &seq))
            return http_respond_error(req, 400, "after: expected an event sequence number "
                                      "(0 or more, as in an event's id), got '%s'", query);
        after = seq;
    }
    if (last_id && *last_id) {
        if (!parse_seq(last_id, &seq))
            return http_respond_error(req, 400, "Last-Event-ID: expected an event sequence "
                                      "number (an event's id), got '%s'", last_id);
        if (seq > after)
            after = seq;
    }
    stream *s = calloc(1, sizeof *s);
    if (s)
        s->subscription = events_subscribe(o->events, after, 0);
    if (!s || !s->subscription) {
        free(s);
        return http_respond_error(req, 503, "cannot follow events now (out of memory); retry");
    }
    snprintf(s->hello, sizeof s->hello, ": liquid events, last seq %lld\n\n",
             (long long)events_last_seq(o->events));
    http_response_header(req, "Cache-Control", "no-cache");
    http_respond_stream(req, 200, "text/event-stream", stream_next, stream_done, s);
}

/* ------------------------------------------------------------ as JSON */

static void handle_recent(http_request *req, void *user)
{
    orchestrator *o = user;
    const char *limit_text = http_request_query(req, "limit");
    const char *after_text = http_request_query(req, "after");
    int64_t limit = DEFAULT_RECENT, after = -1;
    if (limit_text && (!parse_seq(limit_text, &limit) || limit < 1 || limit > MAX_RECENT))
        return http_respond_error(req, 400, "limit: expected a whole number from 1 to %d, "
                                  "got '%s'", MAX_RECENT, limit_text);
    if (after_text && !parse_seq(after_text, &after))
        return http_respond_error(req, 400, "after: expected an event sequence number "
                                  "(0 or more), got '%s'", after_text);
    json_t *list = after >= 0 ? events_since(o->events, after, (size_t)limit)
                              : events_recent(o->events, (size_t)limit);
    http_respond_json(req, 200, list);
}

const http_route event_routes[] = {
    {"GET", "/events", handle_stream},
    {"GET", "/events/recent", handle_recent},
    {"GET", "/metrics", metrics_handle},
    {"POST", "/device/logs", device_logs_post},
    {"GET", "/device/logs", device_logs_get},
};
const size_t event_route_count = sizeof event_routes / sizeof event_routes[0];

/* ------------------------------------------------- the orchestrator part */

bool events_part_start(struct orchestrator *o, char *err, size_t err_size)
{
    o->events = events_new(o->store, 0);
    if (!o->events)
        snprintf(err, err_size, "cannot start the event bus: out of memory or threads");
    return o->events != NULL;
}

void events_part_stop(struct orchestrator *o)
{
    events_free(o->events);
    o->events = NULL;
}
