/*
 * events.h — the orchestrator's event bus.
 *
 * Every change the orchestrator makes or sees is an event:
 *
 *     {"seq": 42, "time": "2026-11-22T10:00:00.123Z", "type": "device.lost",
 *      "subject": "<device id>", "data": {...}}
 *
 * `seq` grows by one per event and comes from the store, so it keeps growing across
 * restarts and an event's seq is the same live and replayed. Events reach:
 *
 *   - the store (store_event_add), bounded there to the newest STORE_EVENT_LIMIT;
 *   - in-process listeners (placement re-places steps on device.lost), called on the
 *     bus's own thread in seq order, one at a time;
 *   - subscribers: each GET /events client has a bounded queue; a client that falls
 *     that far behind is sent an `overflow` event saying so and is disconnected, so a
 *     slow client costs memory up to its bound and never blocks a publisher.
 *
 * Type names are "<noun>.<past participle or state>". Those in use:
 *
 *   device.found  device.updated  device.active  device.suspect  device.lost
 *   device.blacklisted  device.unblacklisted  device.deleted     (fleet.h says what each carries)
 *   deployment.*  migration.*                                     (placement)
 *   execution.finished  execution.failed    data MUST hold "durationMs" (a number):
 *                                           /metrics counts and histograms them from it
 *
 * Counters for /metrics (events by type, executions and their latencies) are kept
 * here, because every such fact passes through the bus.
 */
#ifndef LIQUID_ORCHESTRATOR_EVENTS_H
#define LIQUID_ORCHESTRATOR_EVENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store;
typedef struct events events;

/* store may be NULL (events then live in memory only: unit tests). keep: the newest
 * events held in memory for replay without a store query (0: 1024). */
events *events_new(store *store, size_t keep);
/* Delivers what listeners have not seen yet, ends every subscription, frees. */
void events_free(events *e);

/* Publishes an event; data (an object, or NULL for {}) is stolen. subject may be
 * NULL. Thread-safe; never waits for a listener or subscriber. Returns its seq.
 *
 * Publish after the change it reports is committed. Inside a store transaction the
 * stored event is part of that transaction (a rollback removes it, though live
 * subscribers have already seen it). */
int64_t events_publish(events *e, const char *type, const char *subject, json_t *data);

/* In-process listeners: called on the bus's thread, in seq order, one event at a time,
 * for every event published after events_listen returns. A listener may take its time
 * (later events wait for it, publishers do not) and may publish. data is read-only
 * and valid during the call. */
typedef void (*events_listener_fn)(const char *type, const char *subject, const json_t *data,
                                   void *user);
void events_listen(events *e, events_listener_fn fn, void *user);
/* Removes a listener; when it returns, fn is not running and will not be called again
 * (call it before freeing what user points to). */
void events_unlisten(events *e, events_listener_fn fn, void *user);

/* Events with seq > after_seq, oldest first, at most limit (0: all that are kept):
 * an array of event objects. From memory when it holds them, else from the store. */
json_t *events_since(events *e, int64_t after_seq, size_t limit);
/* The newest `limit` events, oldest first (GET /events/recent). */
json_t *events_recent(events *e, size_t limit);
int64_t events_last_seq(events *e);

/* ---- subscriptions: what GET /events streams (also used directly by unit tests) */

typedef struct events_subscription events_subscription;
/* Replays every kept event with seq > after_seq (-1: none, only new ones), then
 * delivers new events. queue_limit: events a subscriber may fall behind by before it
 * is cut off (0: 1000). */
events_subscription *events_subscribe(events *e, int64_t after_seq, size_t queue_limit);
/* Writes up to max bytes of server-sent-events text into buf:
 *     id: 42\nevent: device.lost\ndata: {...}\n\n
 * Returns the byte count, 0 when there is nothing to send yet, -1 once the stream is
 * over (the bus is gone, or the subscriber overflowed and was told so). Never blocks
 * on other subscribers. */
long events_subscription_read(events_subscription *s, char *buf, size_t max);
void events_subscription_close(events_subscription *s);

/* ---- counters for /metrics (monotonic for the life of the process) */

typedef struct events_counters {
    uint64_t published;
    uint64_t executions;              /* execution.finished + execution.failed */
    uint64_t execution_failures;      /* execution.failed */
    double execution_seconds_sum;
    uint64_t subscribers_overflowed;  /* SSE clients cut off for falling behind */
} events_counters;

/* Upper bounds (seconds) of the execution-latency histogram buckets, without +Inf. */
#define EVENTS_LATENCY_BUCKETS 12
extern const double events_latency_bounds[EVENTS_LATENCY_BUCKETS];
/* Fills counters, cumulative bucket counts (EVENTS_LATENCY_BUCKETS + 1, the last
 * being +Inf), and by_type: an object {"device.lost": N, ...} (new reference). */
void events_counters_get(events *e, events_counters *counters,
                         uint64_t buckets[EVENTS_LATENCY_BUCKETS + 1], json_t **by_type);

/* The orchestrator part (orchestrator.c's parts[]): events_new(o->store) into
 * o->events, and events_free. Start it before the parts that publish. */
struct orchestrator;
bool events_part_start(struct orchestrator *o, char *err, size_t err_size);
void events_part_stop(struct orchestrator *o);

/* The HTTP routes (events_routes.c): GET /events, GET /events/recent, GET /metrics,
 * POST|GET /device/logs — the event_routes[] table of orchestrator.h. */

#endif
