/*
 * events.c — the event bus (see events.h).
 *
 * One mutex guards everything here. An event becomes a record shared by reference
 * between the memory ring (the newest `keep`), each subscriber's queue and the
 * listeners' queue; its server-sent-events text is written once, at publication.
 * Listeners run on a thread of their own, so a slow one (placement redeploying after
 * a device.lost) never holds up the health loop that published it.
 *
 * Lock order: the store's (store_begin) before ours. A publisher takes the store first
 * so that the seq the store assigns and the order subscribers see are the same order,
 * and so that a caller already inside a store transaction cannot deadlock with us.
 */
#define _GNU_SOURCE
#include "orchestrator/events.h"
#include "orchestrator/store.h"
#include "base/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_KEEP 1024
#define DEFAULT_QUEUE_LIMIT 1000
#define REPLAY_BATCH 100
#define FREE_WAIT_SECONDS 2

const double events_latency_bounds[EVENTS_LATENCY_BUCKETS] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

typedef struct event_record {
    int64_t seq;
    unsigned refs;              /* under the bus lock */
    char *type;
    char *subject;
    json_t *data;               /* read by listeners only, on the bus thread */
    char *json;                 /* the whole event as compact JSON */
    char *sse;                  /* "id: ...\nevent: ...\ndata: ...\n\n" */
    size_t sse_size;
} event_record;

/* A FIFO of records; each element holds one reference. */
typedef struct record_queue {
    event_record **items;
    size_t head, count, capacity;
} record_queue;

typedef struct listener {
    events_listener_fn fn;
    void *user;
    int64_t from_seq;           /* it hears events after this one */
} listener;

struct events_subscription {
    events *bus;
    record_queue queue;
    size_t queue_limit;
    int64_t replay_after;       /* replay events in (replay_after, replay_until] first */
    int64_t replay_until;
    int64_t last_sent;          /* seq of the last event handed to the client */
    bool overflowed;
    bool ended;                 /* -1 from now on */
    char *pending;              /* text not yet handed to the client */
    size_t pending_size, pending_sent;
    struct events_subscription *next;
};

struct events {
    store *store;
    size_t keep;
    pthread_mutex_t lock;
    pthread_cond_t changed;     /* listener queue, listener runs, subscriptions closing */
    int64_t last_seq;

    event_record **ring;        /* the newest `keep`, oldest at ring_head */
    size_t ring_head, ring_count;

    events_subscription *subscriptions;
    size_t subscription_count;
    bool closing;

    listener *listeners;
    size_t listener_count;
    record_queue to_listeners;
    pthread_t thread;
    bool thread_running;
    listener running;           /* the listener being called, {NULL} if none */

    events_counters counters;
    uint64_t latency_buckets[EVENTS_LATENCY_BUCKETS + 1];
    json_t *by_type;
};

/* -------------------------------------------------------------- records */

static void record_release(event_record *r)
{
    if (!r || --r->refs > 0)
        return;
    json_decref(r->data);
    free(r->type);
    free(r->subject);
    free(r->json);
    free(r->sse);
    free(r);
}

static event_record *record_new(int64_t seq, const char *time_iso, const char *type,
                                const char *subject, json_t *data)
{
    event_record *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->seq = seq;
    r->refs = 1;
    r->type = strdup(type);
    r->subject = subject ? strdup(subject) : NULL;
    r->data = data;
    json_t *doc = json_object();
    json_object_set_new(doc, "seq", json_integer(seq));
    json_object_set_new(doc, "time", json_string(time_iso));
    json_object_set_new(doc, "type", json_string(type));
    json_object_set_new(doc, "subject", subject ? json_string(subject) : json_null());
    json_object_set(doc, "data", data);
    r->json = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!r->type || (subject && !r->subject) || !r->json ||
        asprintf(&r->sse, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)seq, type,
                 r->json) < 0) {
        r->sse = NULL;
        r->data = NULL;         /* the caller still owns data on failure */
        record_release(r);
        return NULL;
    }
    r->sse_size = strlen(r->sse);
    return r;
}

/* --------------------------------------------------------------- queues */

static bool queue_push(record_queue *q, event_record *r)
{
    if (q->count == q->capacity) {
        size_t capacity = q->capacity ? q->capacity * 2 : 16;
        event_record **items = malloc(capacity * sizeof *items);
        if (!items)
            return false;
        for (size_t i = 0; i < q->count; i++)
            items[i] = q->items[(q->head + i) % q->capacity];
        free(q->items);
        q->items = items;
        q->head = 0;
        q->capacity = capacity;
    }
    q->items[(q->head + q->count) % q->capacity] = r;
    q->count++;
    r->refs++;
    return true;
}

/* The oldest record, whose reference passes to the caller; NULL if empty. */
static event_record *queue_pop(record_queue *q)
{
    if (q->count == 0)
        return NULL;
    event_record *r = q->items[q->head];
    q->head = (q->head + 1) % q->capacity;
    q->count--;
    return r;
}

static void queue_clear(record_queue *q)
{
    event_record *r;
    while ((r = queue_pop(q)))
        record_release(r);
    free(q->items);
    memset(q, 0, sizeof *q);
}

/* ------------------------------------------------------------- counters */

static void count_event(events *e, const event_record *r)
{
    e->counters.published++;
    json_t *n = json_object_get(e->by_type, r->type);
    json_object_set_new(e->by_type, r->type, json_integer(n ? json_integer_value(n) + 1 : 1));
    bool finished = strcmp(r->type, "execution.finished") == 0;
    bool failed = strcmp(r->type, "execution.failed") == 0;
    if (!finished && !failed)
        return;
    e->counters.executions++;
    if (failed)
        e->counters.execution_failures++;
    json_t *ms = json_object_get(r->data, "durationMs");
    if (!json_is_number(ms) || json_number_value(ms) < 0)
        return;     /* counted, but a latency nobody measured is not made up */
    double seconds = json_number_value(ms) / 1000.0;
    e->counters.execution_seconds_sum += seconds;
    size_t bucket = 0;
    while (bucket < EVENTS_LATENCY_BUCKETS && seconds > events_latency_bounds[bucket])
        bucket++;
    e->latency_buckets[bucket]++;
}

void events_counters_get(events *e, events_counters *counters,
                         uint64_t buckets[EVENTS_LATENCY_BUCKETS + 1], json_t **by_type)
{
    pthread_mutex_lock(&e->lock);
    if (counters)
        *counters = e->counters;
    if (buckets) {
        uint64_t running = 0;
        for (size_t i = 0; i <= EVENTS_LATENCY_BUCKETS; i++) {
            running += e->latency_buckets[i];
            buckets[i] = running;
        }
    }
    if (by_type)
        *by_type = json_deep_copy(e->by_type);
    pthread_mutex_unlock(&e->lock);
}

/* ------------------------------------------------------------ publishing */

static void ring_add(events *e, event_record *r)
{
    if (e->ring_count == e->keep) {
        record_release(e->ring[e->ring_head]);
        e->ring_head = (e->ring_head + 1) % e->keep;
        e->ring_count--;
    }
    e->ring[(e->ring_head + e->ring_count) % e->keep] = r;
    e->ring_count++;
    r->refs++;
}

static void deliver_to_subscribers(events *e, event_record *r)
{
    for (events_subscription *s = e->subscriptions; s; s = s->next) {
        if (s->overflowed || s->ended || r->seq <= s->replay_until)
            continue;
        if (s->queue.count >= s->queue_limit || !queue_push(&s->queue, r)) {
            /* Cut it off rather than hold an unbounded backlog for it; it is told so
             * when it next reads, and may reconnect with Last-Event-ID. */
            s->overflowed = true;
            e->counters.subscribers_overflowed++;
            event_record *old;
            while ((old = queue_pop(&s->queue)))
                record_release(old);
            log_warn("events.subscriber_overflow", "queued=%zu seq=%lld", s->queue_limit,
                     (long long)r->seq);
        }
    }
}

int64_t events_publish(events *e, const char *type, const char *subject, json_t *data)
{
    if (!type || !*type || strpbrk(type, "\r\n")) {
        /* It becomes an SSE "event:" line: a line break would forge other fields. */
        log_error("events.bad_type", "type=%s", log_quote(type ? type : "(null)"));
        json_decref(data);
        return -1;
    }
    if (!data)
        data = json_object();
    char now[32];
    store_now_iso(now);
    char err[256] = "";
    bool in_store_tx = e->store && store_begin(e->store, err, sizeof err);
    pthread_mutex_lock(&e->lock);
    int64_t seq = e->last_seq + 1;
    if (e->store) {
        int64_t stored = 0;
        if (store_event_add(e->store, type, subject, data, &stored, err, sizeof err) != STORE_OK)
            log_error("events.store_failed", "type=%s error=%s", log_quote(type),
                      log_quote(err));
        else if (stored > e->last_seq)
            seq = stored;
    }
    e->last_seq = seq;
    event_record *r = record_new(seq, now, type, subject, data);
    if (!r) {
        pthread_mutex_unlock(&e->lock);
        if (in_store_tx && !store_commit(e->store, err, sizeof err))
            log_error("events.store_failed", "type=%s error=%s", log_quote(type),
                      log_quote(err));
        log_error("events.publish_failed", "type=%s error=%s", log_quote(type),
                  "out of memory");
        json_decref(data);
        return seq;
    }
    count_event(e, r);
    ring_add(e, r);
    deliver_to_subscribers(e, r);
    if (e->thread_running && e->listener_count > 0 && queue_push(&e->to_listeners, r))
        pthread_cond_broadcast(&e->changed);
    record_release(r);
    pthread_mutex_unlock(&e->lock);
    if (in_store_tx && !store_commit(e->store, err, sizeof err))
        log_error("events.store_failed", "type=%s error=%s", log_quote(type), log_quote(err));
    return seq;
}

/* ------------------------------------------------------------- listeners */

static bool still_listening(const events *e, const listener *l)
{
    for (size_t i = 0; i < e->listener_count; i++)
        if (e->listeners[i].fn == l->fn && e->listeners[i].user == l->user)
            return true;
    return false;
}

static void *listener_thread(void *arg)
{
    events *e = arg;
    pthread_mutex_lock(&e->lock);
    for (;;) {
        event_record *r = queue_pop(&e->to_listeners);
        if (!r) {
            if (e->closing)
                break;
            pthread_cond_wait(&e->changed, &e->lock);
            continue;
        }
        /* A copy, since listeners may come and go (or unlisten themselves) meanwhile;
         * each is checked again before its call. */
        size_t n = e->listener_count;
        listener *list = n ? malloc(n * sizeof *list) : NULL;
        if (list)
            memcpy(list, e->listeners, n * sizeof *list);
        for (size_t i = 0; list && i < n; i++) {
            if (r->seq <= list[i].from_seq || !still_listening(e, &list[i]))
                continue;
            e->running = list[i];
            pthread_mutex_unlock(&e->lock);
            list[i].fn(r->type, r->subject, r->data, list[i].user);
            pthread_mutex_lock(&e->lock);
            e->running = (listener){0};
            pthread_cond_broadcast(&e->changed);
        }
        if (n && !list)
            log_error("events.listeners_skipped", "seq=%lld error=%s", (long long)r->seq,
                      "out of memory");
        free(list);
        record_release(r);
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

void events_listen(events *e, events_listener_fn fn, void *user)
{
    pthread_mutex_lock(&e->lock);
    listener *grown = realloc(e->listeners, (e->listener_count + 1) * sizeof *grown);
    if (grown) {
        e->listeners = grown;
        e->listeners[e->listener_count++] = (listener){fn, user, e->last_seq};
    } else {
        log_error("events.listen_failed", "error=%s", "out of memory");
    }
    pthread_mutex_unlock(&e->lock);
}

void events_unlisten(events *e, events_listener_fn fn, void *user)
{
    pthread_mutex_lock(&e->lock);
    for (size_t i = 0; i < e->listener_count; i++)
        if (e->listeners[i].fn == fn && e->listeners[i].user == user) {
            memmove(&e->listeners[i], &e->listeners[i + 1],
                    (e->listener_count - i - 1) * sizeof *e->listeners);
            e->listener_count--;
            break;
        }
    /* A listener removing itself from inside its own call must not wait for itself. */
    bool on_bus_thread = e->thread_running && pthread_equal(pthread_self(), e->thread);
    while (!on_bus_thread && e->running.fn == fn && e->running.user == user)
        pthread_cond_wait(&e->changed, &e->lock);
    pthread_mutex_unlock(&e->lock);
}

/* --------------------------------------------------------------- reading */

static json_t *record_json(const event_record *r)
{
    return json_loads(r->json, 0, NULL);
}

int64_t events_last_seq(events *e)
{
    pthread_mutex_lock(&e->lock);
    int64_t seq = e->last_seq;
    pthread_mutex_unlock(&e->lock);
    return seq;
}

/* From memory when the ring holds every event after after_seq; false if it cannot
 * tell (older events may be in the store only). Lock held. */
static bool since_from_ring(events *e, int64_t after_seq, size_t limit, json_t *out)
{
    if (e->ring_count == 0)
        return e->last_seq <= after_seq || !e->store;
    const event_record *oldest = e->ring[e->ring_head];
    if (oldest->seq > after_seq + 1 && e->store)
        return false;
    for (size_t i = 0; i < e->ring_count && (limit == 0 || json_array_size(out) < limit); i++) {
        const event_record *r = e->ring[(e->ring_head + i) % e->keep];
        if (r->seq > after_seq)
            json_array_append_new(out, record_json(r));
    }
    return true;
}

json_t *events_since(events *e, int64_t after_seq, size_t limit)
{
    json_t *out = json_array();
    pthread_mutex_lock(&e->lock);
    bool done = since_from_ring(e, after_seq, limit, out);
    pthread_mutex_unlock(&e->lock);
    if (done)
        return out;
    json_t *stored = NULL;
    char err[256];
    if (store_event_list(e->store, after_seq, limit, &stored, err, sizeof err) != STORE_OK) {
        log_error("events.replay_failed", "after=%lld error=%s", (long long)after_seq,
                  log_quote(err));
        return out;
    }
    json_decref(out);
    return stored;
}

json_t *events_recent(events *e, size_t limit)
{
    if (limit == 0)
        return json_array();
    pthread_mutex_lock(&e->lock);
    int64_t from = e->last_seq - (int64_t)limit;
    pthread_mutex_unlock(&e->lock);
    json_t *events = events_since(e, from < 0 ? 0 : from, 0);
    /* Seqs skipped by a failed store write leave fewer than limit; never more. */
    while (json_array_size(events) > limit)
        json_array_remove(events, 0);
    return events;
}

/* ---------------------------------------------------------- subscriptions */

events_subscription *events_subscribe(events *e, int64_t after_seq, size_t queue_limit)
{
    events_subscription *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->bus = e;
    s->queue_limit = queue_limit ? queue_limit : DEFAULT_QUEUE_LIMIT;
    pthread_mutex_lock(&e->lock);
    s->replay_until = e->last_seq;
    s->replay_after = after_seq < 0 ? e->last_seq : after_seq;
    s->last_sent = s->replay_after;
    s->ended = e->closing;
    s->next = e->subscriptions;
    e->subscriptions = s;
    e->subscription_count++;
    pthread_mutex_unlock(&e->lock);
    return s;
}

static bool set_pending(events_subscription *s, const char *text, size_t size)
{
    char *copy = malloc(size);
    if (!copy)
        return false;
    memcpy(copy, text, size);
    free(s->pending);
    s->pending = copy;
    s->pending_size = size;
    s->pending_sent = 0;
    return true;
}

/* Puts the next replayed events into s->pending; false when replay is over. */
static bool next_replay(events_subscription *s)
{
    while (s->replay_after < s->replay_until) {
        json_t *batch = events_since(s->bus, s->replay_after, REPLAY_BATCH);
        char *text = NULL;
        size_t size = 0;
        FILE *out = open_memstream(&text, &size);
        bool beyond = json_array_size(batch) == 0;
        size_t i;
        json_t *event;
        json_array_foreach(batch, i, event) {
            int64_t seq = json_integer_value(json_object_get(event, "seq"));
            if (seq > s->replay_until) {
                beyond = true;
                break;
            }
            char *json = json_dumps(event, JSON_COMPACT);
            if (out && json)
                fprintf(out, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)seq,
                        json_string_value(json_object_get(event, "type")), json);
            free(json);
            s->replay_after = seq;
            s->last_sent = seq;
        }
        /* Kept events end before replay_until (trimmed, or a store write failed):
         * nothing more to replay. */
        if (beyond)
            s->replay_after = s->replay_until;
        json_decref(batch);
        if (out)
            fclose(out);
        bool filled = text && size > 0 && set_pending(s, text, size);
        free(text);
        if (filled)
            return true;
    }
    return false;
}

/* Fills s->pending with what comes next; false if there is nothing now. */
static bool refill(events_subscription *s)
{
    events *e = s->bus;
    if (next_replay(s))
        return true;
    pthread_mutex_lock(&e->lock);
    bool filled = false;
    if (e->closing) {
        s->ended = true;
    } else if (s->overflowed) {
        char text[512];
        int n = snprintf(text, sizeof text,
                         "event: overflow\ndata: {\"errorText\": \"this client fell more than "
                         "%zu events behind and was disconnected; reconnect with "
                         "Last-Event-ID: %lld to receive the rest\", \"lastSeq\": %lld}\n\n",
                         s->queue_limit, (long long)s->last_sent, (long long)s->last_sent);
        filled = set_pending(s, text, (size_t)n);
        s->ended = true;        /* after this text */
    } else {
        event_record *r = queue_pop(&s->queue);
        if (r) {
            filled = set_pending(s, r->sse, r->sse_size);
            if (filled)
                s->last_sent = r->seq;
            record_release(r);
        }
    }
    pthread_mutex_unlock(&e->lock);
    return filled;
}

long events_subscription_read(events_subscription *s, char *buf, size_t max)
{
    if (s->pending_sent >= s->pending_size) {
        if (s->ended || !refill(s))
            return s->ended && s->pending_sent >= s->pending_size ? -1 : 0;
    }
    size_t n = s->pending_size - s->pending_sent;
    if (n > max)
        n = max;
    memcpy(buf, s->pending + s->pending_sent, n);
    s->pending_sent += n;
    return (long)n;
}

void events_subscription_close(events_subscription *s)
{
    if (!s)
        return;
    events *e = s->bus;
    pthread_mutex_lock(&e->lock);
    for (events_subscription **p = &e->subscriptions; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    e->subscription_count--;
    queue_clear(&s->queue);
    pthread_cond_broadcast(&e->changed);
    pthread_mutex_unlock(&e->lock);
    free(s->pending);
    free(s);
}

/* ------------------------------------------------------------- lifecycle */

events *events_new(store *store, size_t keep)
{
    events *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->store = store;
    e->keep = keep ? keep : DEFAULT_KEEP;
    e->ring = calloc(e->keep, sizeof *e->ring);
    e->by_type = json_object();
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->changed, NULL);
    if (store)
        e->last_seq = store_event_last_seq(store);
    if (!e->ring || !e->by_type || pthread_create(&e->thread, NULL, listener_thread, e) != 0) {
        free(e->ring);
        json_decref(e->by_type);
        pthread_mutex_destroy(&e->lock);
        pthread_cond_destroy(&e->changed);
        free(e);
        return NULL;
    }
    e->thread_running = true;
    return e;
}

void events_free(events *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->lock);
    e->closing = true;
    pthread_cond_broadcast(&e->changed);
    pthread_mutex_unlock(&e->lock);
    pthread_join(e->thread, NULL);      /* it drains its queue first */

    /* Streams notice `closing` at their next read and close; the HTTP server is
     * normally stopped before us, so there are none left. */
    pthread_mutex_lock(&e->lock);
    e->thread_running = false;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += FREE_WAIT_SECONDS;
    while (e->subscription_count > 0 &&
           pthread_cond_timedwait(&e->changed, &e->lock, &until) == 0) {
    }
    size_t left = e->subscription_count;
    pthread_mutex_unlock(&e->lock);
    if (left > 0) {
        /* Freeing now would pull the bus from under their next read. */
        log_error("events.free_leaked", "subscriptions=%zu reason=%s", left,
                  log_quote("event streams still open: stop the HTTP server first"));
        return;
    }
    for (size_t i = 0; i < e->ring_count; i++)
        record_release(e->ring[(e->ring_head + i) % e->keep]);
    free(e->ring);
    queue_clear(&e->to_listeners);
    free(e->listeners);
    json_decref(e->by_type);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->changed);
    free(e);
}
