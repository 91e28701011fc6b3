/*
 * test_orch_events.c — the event bus: events keep one order for everyone (store,
 * subscribers, listeners) even with many publishers; a slow subscriber is cut off
 * with a notice instead of slowing anyone; a slow listener holds up no publisher;
 * replay after a sequence number comes from memory or, for older events, the store,
 * also after a restart; counters feed /metrics.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "orchestrator/events.h"
#include "orchestrator/store.h"

#include "test_http_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ helpers */

/* Everything a subscription has to say now (until it returns 0 or -1), read through
 * a small buffer so that events split across reads are put back together. */
static char *drain(events_subscription *s, bool *ended)
{
    size_t size = 0, capacity = 4096;
    char *text = malloc(capacity);
    char buf[37];
    long n;
    *ended = false;
    while ((n = events_subscription_read(s, buf, sizeof buf)) > 0) {
        if (size + (size_t)n + 1 > capacity)
            text = realloc(text, capacity *= 2);
        memcpy(text + size, buf, (size_t)n);
        size += (size_t)n;
    }
    *ended = n < 0;
    text[size] = '\0';
    return text;
}

/* The "id:" values of an SSE text, in order. */
static size_t sse_ids(const char *text, long long *ids, size_t max)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, "id: ")) && n < max; p += 4)
        if (p == text || p[-1] == '\n')
            ids[n++] = atoll(p + 4);
    return n;
}

static json_t *data_of(const char *type)
{
    return json_pack("{ss}", "what", type);
}

typedef struct temp_store {
    char dir[64];
    char path[96];
    store *store;
} temp_store;

static void temp_store_open(temp_store *t)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/liquid-events-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof t->path, "%s/orchestrator.db", t->dir);
    char err[256];
    t->store = store_open(t->path, err, sizeof err);
    if (!t->store)
        fail_msg("store_open: %s", err);
}

static void temp_store_close(temp_store *t, bool remove_files)
{
    store_close(t->store);
    t->store = NULL;
    if (remove_files) {
        char command[128];
        snprintf(command, sizeof command, "rm -rf %s", t->dir);
        assert_int_equal(system(command), 0);
    }
}

/* ------------------------------------------------------------- ordering */

static void test_publish_numbers_and_keeps_events_in_order(void **state)
{
    (void)state;
    events *e = events_new(NULL, 0);
    assert_int_equal(events_publish(e, "device.found", "d1", data_of("a")), 1);
    assert_int_equal(events_publish(e, "device.lost", "d1", NULL), 2);
    assert_int_equal(events_publish(e, "deployment.deployed", NULL, data_of("c")), 3);
    assert_int_equal(events_last_seq(e), 3);

    json_t *all = events_since(e, 0, 0);
    assert_int_equal(json_array_size(all), 3);
    json_t *second = json_array_get(all, 1);
    assert_int_equal(json_integer_value(json_object_get(second, "seq")), 2);
    assert_string_equal(json_string_value(json_object_get(second, "type")), "device.lost");
    assert_string_equal(json_string_value(json_object_get(second, "subject")), "d1");
    assert_true(json_is_object(json_object_get(second, "data")));
    assert_true(json_is_null(json_object_get(json_array_get(all, 2), "subject")));
    const char *time = json_string_value(json_object_get(second, "time"));
    assert_non_null(time);
    assert_int_equal(strlen(time), strlen("2026-11-22T10:00:00.123Z"));
    json_decref(all);

    json_t *after = events_since(e, 2, 0);
    assert_int_equal(json_array_size(after), 1);
    json_decref(after);
    json_t *recent = events_recent(e, 2);
    assert_int_equal(json_array_size(recent), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(recent, 0), "seq")), 2);
    json_decref(recent);
    events_free(e);
}

static void test_a_type_that_would_forge_stream_lines_is_refused(void **state)
{
    (void)state;
    events *e = events_new(NULL, 0);
    assert_int_equal(events_publish(e, "device.lost\ndata: {}", "x", NULL), -1);
    assert_int_equal(events_publish(e, "", "x", NULL), -1);
    assert_int_equal(events_last_seq(e), 0);
    events_free(e);
}

typedef struct publisher_args {
    events *e;
    int count;
    int index;
} publisher_args;

static void *publisher(void *arg)
{
    publisher_args *a = arg;
    for (int i = 0; i < a->count; i++) {
        char subject[32];
        snprintf(subject, sizeof subject, "p%d-%d", a->index, i);
        events_publish(a->e, "test.event", subject, json_pack("{si si}", "p", a->index, "i", i));
    }
    return NULL;
}

typedef struct recorded {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    json_t *seen;               /* [{type, subject, data}] */
    bool gate_closed;
    events *e;
    bool unlisten_self;
} recorded;

static void record_listener(const char *type, const char *subject, const json_t *data,
                            void *user)
{
    recorded *r = user;
    pthread_mutex_lock(&r->lock);
    while (r->gate_closed)
        pthread_cond_wait(&r->changed, &r->lock);
    json_array_append_new(r->seen, json_pack("{ss ss? sO}", "type", type, "subject", subject,
                                             "data", (json_t *)data));
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->lock);
}

static size_t wait_seen(recorded *r, size_t count, long timeout_ms)
{
    double deadline = test_now() + timeout_ms / 1000.0;
    pthread_mutex_lock(&r->lock);
    while (json_array_size(r->seen) < count && test_now() < deadline) {
        pthread_mutex_unlock(&r->lock);
        test_sleep_ms(5);
        pthread_mutex_lock(&r->lock);
    }
    size_t n = json_array_size(r->seen);
    pthread_mutex_unlock(&r->lock);
    return n;
}

static void recorded_init(recorded *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->changed, NULL);
    r->seen = json_array();
}

static void recorded_free(recorded *r)
{
    json_decref(r->seen);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->changed);
}

static void test_many_publishers_one_order_for_everyone(void **state)
{
    (void)state;
    temp_store t;
    temp_store_open(&t);
    events *e = events_new(t.store, 64);
    recorded r;
    recorded_init(&r);
    events_listen(e, record_listener, &r);
    events_subscription *sub = events_subscribe(e, -1, 10000);

    enum { PUBLISHERS = 4, EACH = 150, TOTAL = PUBLISHERS * EACH };
    pthread_t threads[PUBLISHERS];
    publisher_args args[PUBLISHERS];
    for (int i = 0; i < PUBLISHERS; i++) {
        args[i] = (publisher_args){e, EACH, i};
        pthread_create(&threads[i], NULL, publisher, &args[i]);
    }
    for (int i = 0; i < PUBLISHERS; i++)
        pthread_join(threads[i], NULL);
    assert_int_equal(events_last_seq(e), TOTAL);

    /* The subscriber sees 1..TOTAL in order, nothing twice. */
    bool ended;
    char *text = drain(sub, &ended);
    assert_false(ended);
    static long long ids[TOTAL + 1];
    assert_int_equal(sse_ids(text, ids, TOTAL + 1), TOTAL);
    for (int i = 0; i < TOTAL; i++)
        assert_int_equal(ids[i], i + 1);
    free(text);

    /* Listeners hear the same order; each publisher's own events stay in its order. */
    assert_int_equal(wait_seen(&r, TOTAL, 10000), TOTAL);
    int next_of[PUBLISHERS] = {0};
    json_t *stored = events_since(e, 0, 0);     /* older than the 64 in memory: the store */
    assert_int_equal(json_array_size(stored), TOTAL);
    for (size_t i = 0; i < TOTAL; i++) {
        json_t *heard = json_object_get(json_array_get(r.seen, i), "data");
        json_t *kept = json_object_get(json_array_get(stored, i), "data");
        assert_true(json_equal(heard, kept));
        int p = (int)json_integer_value(json_object_get(heard, "p"));
        assert_int_equal(json_integer_value(json_object_get(heard, "i")), next_of[p]++);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(stored, i), "seq")),
                         (json_int_t)i + 1);
    }
    json_decref(stored);
    events_subscription_close(sub);
    events_unlisten(e, record_listener, &r);
    events_free(e);
    recorded_free(&r);
    temp_store_close(&t, true);
}

/* ----------------------------------------------------------- slow readers */

static void test_slow_subscriber_is_told_and_cut_off_others_go_on(void **state)
{
    (void)state;
    events *e = events_new(NULL, 0);
    events_subscription *slow = events_subscribe(e, -1, 5);
    events_subscription *keeping_up = events_subscribe(e, -1, 5);
    bool ended;
    for (int i = 0; i < 20; i++) {
        events_publish(e, "test.event", NULL, NULL);
        if (i % 3 == 2)
            free(drain(keeping_up, &ended));    /* reads now and then: never 5 behind */
    }
    /* Before the cut: the slow one read the first event. */
    char *text = drain(slow, &ended);
    assert_true(ended);
    assert_non_null(strstr(text, "event: overflow\n"));
    assert_non_null(strstr(text, "fell more than 5 events behind"));
    assert_non_null(strstr(text, "Last-Event-ID"));
    assert_null(strstr(text, "id: "));          /* no event beyond the cut is sent */
    free(text);
    char buf[16];
    assert_int_equal(events_subscription_read(slow, buf, sizeof buf), -1);

    text = drain(keeping_up, &ended);
    assert_false(ended);
    long long ids[32];
    size_t n = sse_ids(text, ids, 32);
    assert_true(n >= 1);
    assert_int_equal(ids[n - 1], 20);
    free(text);

    events_counters c;
    events_counters_get(e, &c, NULL, NULL);
    assert_int_equal(c.subscribers_overflowed, 1);
    events_subscription_close(slow);
    events_subscription_close(keeping_up);
    events_free(e);
}

static void test_slow_listener_holds_up_no_publisher(void **state)
{
    (void)state;
    events *e = events_new(NULL, 0);
    recorded r;
    recorded_init(&r);
    r.gate_closed = true;       /* the listener blocks on its first event */
    events_listen(e, record_listener, &r);
    for (int i = 0; i < 200; i++)
        events_publish(e, "test.event", NULL, json_pack("{si}", "i", i));
    /* Every publish returned although the listener has heard nothing yet. */
    assert_int_equal(events_last_seq(e), 200);
    assert_int_equal(wait_seen(&r, 1, 50), 0);
    pthread_mutex_lock(&r.lock);
    r.gate_closed = false;
    pthread_cond_broadcast(&r.changed);
    pthread_mutex_unlock(&r.lock);
    assert_int_equal(wait_seen(&r, 200, 10000), 200);
    for (int i = 0; i < 200; i++)
        assert_int_equal(json_integer_value(json_object_get(
                             json_object_get(json_array_get(r.seen, (size_t)i), "data"), "i")),
                         i);
    events_unlisten(e, record_listener, &r);
    events_publish(e, "test.after", NULL, NULL);
    events_free(e);     /* delivers what is queued: to nobody now */
    assert_int_equal(json_array_size(r.seen), 200);
    recorded_free(&r);
}

static void self_removing_listener(const char *type, const char *subject, const json_t *data,
                                   void *user)
{
    recorded *r = user;
    record_listener(type, subject, data, user);
    events_unlisten(r->e, self_removing_listener, r);   /* must not wait for itself */
}

static void test_listener_may_unlisten_itself_and_hears_only_later_events(void **state)
{
    (void)state;
    events *e = events_new(NULL, 0);
    events_publish(e, "test.before", NULL, NULL);
    recorded r;
    recorded_init(&r);
    r.e = e;
    events_listen(e, self_removing_listener, &r);
    events_publish(e, "test.first", NULL, NULL);
    events_publish(e, "test.second", NULL, NULL);
    events_free(e);
    assert_int_equal(json_array_size(r.seen), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r.seen, 0), "type")),
                        "test.first");
    recorded_free(&r);
}

/* --------------------------------------------------------------- replay */

static void test_replay_then_live_without_gap_or_repeat(void **state)
{
    (void)state;
    temp_store t;
    temp_store_open(&t);
    events *e = events_new(t.store, 4);     /* 4 in memory: older ones from the store */
    for (int i = 0; i < 10; i++)
        events_publish(e, "test.event", NULL, json_pack("{si}", "i", i));
    events_subscription *s = events_subscribe(e, 3, 0);
    events_publish(e, "test.live", NULL, NULL);     /* published after subscribing */
    bool ended;
    char *text = drain(s, &ended);
    long long ids[32];
    size_t n = sse_ids(text, ids, 32);
    assert_int_equal(n, 8);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ids[i], 4 + (long long)i);
    assert_non_null(strstr(text, "event: test.live\n"));
    /* Each event's data line is the whole event as JSON. */
    assert_non_null(strstr(text, "id: 4\nevent: test.event\ndata: {\"seq\":4,"));
    free(text);
    events_subscription_close(s);

    /* -1: only what comes next; after the newest: nothing to replay. */
    s = events_subscribe(e, -1, 0);
    text = drain(s, &ended);
    assert_string_equal(text, "");
    free(text);
    events_subscription_close(s);
    events_free(e);

    /* After a restart the numbering goes on and old events are still replayed. */
    temp_store_close(&t, false);
    char err[256];
    t.store = store_open(t.path, err, sizeof err);
    assert_non_null(t.store);
    e = events_new(t.store, 0);
    assert_int_equal(events_last_seq(e), 11);
    assert_int_equal(events_publish(e, "test.restarted", NULL, NULL), 12);
    s = events_subscribe(e, 9, 0);
    text = drain(s, &ended);
    assert_int_equal(sse_ids(text, ids, 32), 3);
    assert_int_equal(ids[0], 10);
    assert_int_equal(ids[2], 12);
    free(text);
    events_subscription_close(s);
    json_t *recent = events_recent(e, 3);
    assert_int_equal(json_array_size(recent), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(recent, 2), "type")),
                        "test.restarted");
    json_decref(recent);
    events_free(e);
    temp_store_close(&t, true);
}

typedef struct stream_reader {
    events_subscription *s;
    int events_read;
    bool ended;
} stream_reader;

/* Reads as the HTTP server does: polls until the stream is over, then closes it. */
static void *read_until_end(void *arg)
{
    stream_reader *r = arg;
    char buf[512];
    double deadline = test_now() + 10;
    long n;
    while ((n = events_subscription_read(r->s, buf, sizeof buf)) >= 0 && test_now() < deadline) {
        if (n == 0)
            test_sleep_ms(5);
        else if (strstr(buf, "id: "))
            r->events_read++;
    }
    r->ended = n < 0;
    events_subscription_close(r->s);
    return NULL;
}

static void test_stream_ends_when_the_bus_stops(void **state)
{
    (void)state;
    events *e = events_new(NULL, 0);
    stream_reader r = {.s = events_subscribe(e, -1, 0)};
    pthread_t reader;
    pthread_create(&reader, NULL, read_until_end, &r);
    events_publish(e, "test.event", NULL, NULL);
    /* events_free ends the stream and waits for its reader to close it. */
    events_free(e);
    pthread_join(reader, NULL);
    assert_true(r.ended);
}

/* -------------------------------------------------------------- counters */

static void test_counters_for_metrics(void **state)
{
    (void)state;
    events *e = events_new(NULL, 0);
    events_publish(e, "execution.finished", "x1", json_pack("{si}", "durationMs", 3));
    events_publish(e, "execution.finished", "x2", json_pack("{sf}", "durationMs", 120.5));
    events_publish(e, "execution.failed", "x3", json_pack("{si}", "durationMs", 45000));
    events_publish(e, "execution.failed", "x4", NULL);     /* no duration: counted only */
    events_publish(e, "device.lost", "d", NULL);
    events_counters c;
    uint64_t buckets[EVENTS_LATENCY_BUCKETS + 1];
    json_t *by_type;
    events_counters_get(e, &c, buckets, &by_type);
    assert_int_equal(c.published, 5);
    assert_int_equal(c.executions, 4);
    assert_int_equal(c.execution_failures, 2);
    assert_true(c.execution_seconds_sum > 45.12 && c.execution_seconds_sum < 45.13);
    assert_int_equal(buckets[0], 1);                        /* le 0.005: the 3 ms one */
    /* 0.1205 s falls in le 0.25 (index 5): cumulative from there on. */
    assert_int_equal(buckets[4], 1);
    assert_int_equal(buckets[5], 2);
    assert_int_equal(buckets[EVENTS_LATENCY_BUCKETS - 1], 2);   /* le 30 */
    assert_int_equal(buckets[EVENTS_LATENCY_BUCKETS], 3);       /* +Inf */
    assert_int_equal(json_integer_value(json_object_get(by_type, "execution.failed")), 2);
    assert_int_equal(json_integer_value(json_object_get(by_type, "device.lost")), 1);
    json_decref(by_type);
    events_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_numbers_and_keeps_events_in_order),
        cmocka_unit_test(test_a_type_that_would_forge_stream_lines_is_refused),
        cmocka_unit_test(test_many_publishers_one_order_for_everyone),
        cmocka_unit_test(test_slow_subscriber_is_told_and_cut_off_others_go_on),
        cmocka_unit_test(test_slow_listener_holds_up_no_publisher),
        cmocka_unit_test(test_listener_may_unlisten_itself_and_hears_only_later_events),
        cmocka_unit_test(test_replay_then_live_without_gap_or_repeat),
        cmocka_unit_test(test_stream_ends_when_the_bus_stops),
        cmocka_unit_test(test_counters_for_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
