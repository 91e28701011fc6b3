/*
 * test_orch_fleet.c — the fleet against fake devices (HTTP servers in this process
 * answering the supervisor's description, health and /register): registration and
 * introduction, the health loop moving a device active -> suspect -> lost and back
 * with every change in the store's status log and on the event bus, blacklisting,
 * peers' failure reports, the mDNS goodbye, deletion, and a restart that finds every
 * device again.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "orchestrator/events.h"
#include "orchestrator/fleet.h"
#include "orchestrator/fleet_internal.h"
#include "orchestrator/store.h"

#include "test_http_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INTERVAL_MS 100
#define WAIT_MS 15000

/* ------------------------------------------------------- a fake device */

typedef struct fake_device {
    http_server *server;
    uint16_t port;
    pthread_mutex_t lock;
    bool down;                  /* /health answers 503 */
    bool orchestrator_set;      /* Custom-Orchestrator-Set */
    double cpu;
    int health_requests;
    char forwarded_for[64];
    char registered_url[128];
    const char *interfaces;     /* supervisorInterfaces[0] */
} fake_device;

static fake_device *fake_of(void *user)
{
    return user;
}

static void fake_description(http_request *req, void *user)
{
    fake_device *f = fake_of(user);
    http_respond_json(req, 200, json_pack("{s{s{sI}} s[s]}", "platform", "memory", "totalBytes",
                                          (json_int_t)1 << 30, "supervisorInterfaces",
                                          f->interfaces ? f->interfaces : "fd_write"));
}

static void fake_health(http_request *req, void *user)
{
    fake_device *f = fake_of(user);
    pthread_mutex_lock(&f->lock);
    f->health_requests++;
    const char *xff = http_request_header(req, "X-Forwarded-For");
    snprintf(f->forwarded_for, sizeof f->forwarded_for, "%s", xff ? xff : "");
    bool down = f->down, set = f->orchestrator_set;
    double cpu = f->cpu;
    pthread_mutex_unlock(&f->lock);
    if (down)
        return http_respond_error(req, 503, "pretending to be down");
    http_response_header(req, "Custom-Orchestrator-Set", set ? "true" : "false");
    http_respond_json(req, 200, json_pack("{sf sf}", "cpuUsage", cpu, "memoryUsage", 0.25));
}

static void fake_register(http_request *req, void *user)
{
    fake_device *f = fake_of(user);
    char err[128];
    json_t *body = http_request_json(req, err, sizeof err);
    pthread_mutex_lock(&f->lock);
    snprintf(f->registered_url, sizeof f->registered_url, "%s",
             json_string_value(json_object_get(body, "url")) ?: "(none)");
    f->orchestrator_set = true;
    pthread_mutex_unlock(&f->lock);
    http_respond_json(req, 200, json_pack("{ss}", "status", "success"));
}

static const http_route fake_routes[] = {
    {"GET", "/.well-known/wasmiot-device-description", fake_description},
    {"GET", "/health", fake_health},
    {"POST", "/register", fake_register},
};

static fake_device *fake_start(void)
{
    fake_device *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->lock, NULL);
    f->orchestrator_set = true;
    f->cpu = 0.5;
    http_server_options options = {.bind_address = "127.0.0.1", .threads = 2};
    char err[256];
    f->server = http_server_start(&options, fake_routes, 3, f, err, sizeof err);
    if (!f->server)
        fail_msg("fake device: %s", err);
    f->port = http_server_port(f->server);
    return f;
}

static void fake_set_down(fake_device *f, bool down)
{
    pthread_mutex_lock(&f->lock);
    f->down = down;
    pthread_mutex_unlock(&f->lock);
}

static int fake_health_requests(fake_device *f)
{
    pthread_mutex_lock(&f->lock);
    int n = f->health_requests;
    pthread_mutex_unlock(&f->lock);
    return n;
}

static void fake_stop(fake_device *f)
{
    http_server_stop(f->server);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

/* ---------------------------------------------------- the orchestrator */

typedef struct world {
    char dir[64];
    char db[96];
    orchestrator o;
} world;

static void world_start(world *w, unsigned interval_ms)
{
    memset(w, 0, sizeof *w);
    snprintf(w->dir, sizeof w->dir, "/tmp/liquid-fleet-XXXXXX");
    assert_non_null(mkdtemp(w->dir));
    snprintf(w->db, sizeof w->db, "%s/orchestrator.db", w->dir);
    char err[512];
    w->o.store = store_open(w->db, err, sizeof err);
    assert_non_null(w->o.store);
    w->o.events = events_new(w->o.store, 0);
    w->o.settings = (orchestrator_settings){
        .public_url = "http://127.0.0.1:9/", .mdns = false, .health_interval_ms = interval_ms,
        .suspect_after = 1, .lost_after = 3, .active_after = 2};
    w->o.fleet = fleet_start(&w->o, err, sizeof err);
    if (!w->o.fleet)
        fail_msg("fleet_start: %s", err);
}

static void world_restart_fleet(world *w)
{
    fleet_stop(w->o.fleet);
    char err[512];
    w->o.fleet = fleet_start(&w->o, err, sizeof err);
    if (!w->o.fleet)
        fail_msg("fleet_start: %s", err);
}

static void world_stop(world *w)
{
    fleet_stop(w->o.fleet);
    events_free(w->o.events);
    store_close(w->o.store);
    char command[128];
    snprintf(command, sizeof command, "rm -rf %s", w->dir);
    assert_int_equal(system(command), 0);
}

static json_t *record_for(const char *name, uint16_t port, const char *address)
{
    return json_pack("{ss ss si s[s] s{ss ss}}", "name", name, "type", "webthing", "port",
                     (int)port, "addresses", address, "properties", "path", "/", "tls", "0");
}

static void register_ok(world *w, const char *name, fake_device *f)
{
    json_t *record = record_for(name, f->port, "127.0.0.1");
    char err[1536];
    int status = 0;
    if (!fleet_register(w->o.fleet, record, "127.0.0.1", &status, err, sizeof err))
        fail_msg("register %s: %d %s", name, status, err);
    json_decref(record);
}

static device_state state_of(world *w, const char *name)
{
    device_view v;
    assert_true(fleet_device(w->o.fleet, name, &v));
    device_state s = v.state;
    fleet_view_clear(&v);
    return s;
}

static bool wait_state(world *w, const char *name, device_state want)
{
    double deadline = test_now() + WAIT_MS / 1000.0;
    while (test_now() < deadline) {
        if (state_of(w, name) == want)
            return true;
        test_sleep_ms(10);
    }
    return false;
}

/* Types of the events published so far about subject (NULL: all), comma-joined. */
static char *event_types(world *w, const char *subject)
{
    json_t *all = events_since(w->o.events, 0, 0);
    char *out = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&out, &size);
    size_t i;
    json_t *e;
    bool first = true;
    json_array_foreach(all, i, e) {
        const char *s = json_string_value(json_object_get(e, "subject"));
        if (subject && (!s || strcmp(s, subject) != 0))
            continue;
        fprintf(f, "%s%s", first ? "" : ",", json_string_value(json_object_get(e, "type")));
        first = false;
    }
    fclose(f);
    json_decref(all);
    return out;
}

static json_t *last_event(world *w, const char *type)
{
    json_t *all = events_since(w->o.events, 0, 0);
    json_t *found = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(all, i, e) if (strcmp(json_string_value(json_object_get(e, "type")),
                                             type) == 0) found = e;
    json_incref(found);
    json_decref(all);
    return found;
}

/* Waits for the newest event of a type (a state is in memory a moment before its
 * event is written and published). */
static json_t *wait_event(world *w, const char *type)
{
    double deadline = test_now() + WAIT_MS / 1000.0;
    json_t *e;
    while (!(e = last_event(w, type)) && test_now() < deadline)
        test_sleep_ms(10);
    return e;
}

static json_t *stored(world *w, const char *name)
{
    json_t *doc = NULL;
    char err[256];
    if (store_device_get(w->o.store, name, &doc, err, sizeof err) != STORE_OK)
        return NULL;
    return doc;
}

static char *id_of(world *w, const char *name)
{
    device_view v;
    assert_true(fleet_device(w->o.fleet, name, &v));
    char *id = strdup(v.id);
    fleet_view_clear(&v);
    return id;
}

/* ----------------------------------------------------------------- tests */

static void test_registration_introduces_and_stores_the_device(void **state)
{
    (void)state;
    world w;
    world_start(&w, INTERVAL_MS);
    fake_device *f = fake_start();
    f->cpu = 50;        /* a percentage, as the Python supervisor reports it */
    /* A first address nobody answers on: the second (the request's peer) is used. */
    json_t *record = record_for("dev1", f->port, "192.0.2.123");
    json_object_set_new(record, "addresses", json_pack("[s]", "127.0.0.2"));
    char err[1536];
    int status = 0;
    assert_true(fleet_register(w.o.fleet, record, "::ffff:127.0.0.1", &status, err, sizeof err));
    json_decref(record);

    device_view v;
    assert_true(fleet_device(w.o.fleet, "dev1", &v));
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", f->port);
    assert_string_equal(v.url, url);
    assert_int_equal(v.state, DEVICE_ACTIVE);
    assert_true(fleet_usable(&v));
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(v.description, "supervisorInterfaces"), 0)),
                        "fd_write");
    assert_true(v.cpu > 0.49 && v.cpu < 0.51);
    assert_true(v.memory > 0.24 && v.memory < 0.26);
    assert_true(v.rtt_ms > 0);
    fleet_view_clear(&v);
    assert_int_equal(fake_health_requests(f), 1);   /* checked at once, before answering */

    json_t *doc = stored(&w, "dev1");
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "status")), "active");
    json_t *addresses = json_object_get(json_object_get(doc, "communication"), "addresses");
    assert_int_equal(json_array_size(addresses), 2);
    assert_string_equal(json_string_value(json_array_get(addresses, 1)), "127.0.0.1");
    assert_true(json_is_object(json_object_get(json_object_get(doc, "health"), "report")));
    json_decref(doc);

    /* The health loop goes on, with X-Forwarded-For naming our public host. */
    double deadline = test_now() + WAIT_MS / 1000.0;
    while (fake_health_requests(f) < 4 && test_now() < deadline)
        test_sleep_ms(10);
    assert_true(fake_health_requests(f) >= 4);
    assert_string_equal(f->forwarded_for, "127.0.0.1");
    char *types = event_types(&w, NULL);
    assert_string_equal(types, "device.found");
    free(types);
    /* The fake counts a request when it arrives, the fleet a check when its answer is
     * read: wait for the fleet to catch up with the fourth. */
    fleet_counters c;
    fleet_counters_get(w.o.fleet, &c);
    while (c.health_checks < 4 && test_now() < deadline) {
        test_sleep_ms(10);
        fleet_counters_get(w.o.fleet, &c);
    }
    assert_int_equal(c.devices[DEVICE_ACTIVE], 1);
    assert_int_equal(c.introductions, 1);
    assert_true(c.health_checks >= 4);
    world_stop(&w);
    fake_stop(f);
}

static void test_unreachable_device_is_not_kept(void **state)
{
    (void)state;
    world w;
    world_start(&w, INTERVAL_MS);
    fake_device *f = fake_start();
    uint16_t dead_port = f->port;
    fake_stop(f);       /* nothing listens there now */
    json_t *record = record_for("ghost", dead_port, "127.0.0.1");
    char err[1536];
    int status = 0;
    assert_false(fleet_register(w.o.fleet, record, "127.0.0.1", &status, err, sizeof err));
    assert_int_equal(status, 502);
    assert_non_null(strstr(err, "'ghost' was not added"));
    assert_non_null(strstr(err, "/.well-known/wasmiot-device-description"));
    device_view v;
    assert_false(fleet_device(w.o.fleet, "ghost", &v));
    assert_null(stored(&w, "ghost"));
    assert_int_equal(events_last_seq(w.o.events), 0);
    json_decref(record);
    world_stop(&w);
}

static void expect_bad_record(world *w, json_t *record, const char *peer, const char *message)
{
    char err[1536] = "";
    int status = 0;
    assert_false(fleet_register(w->o.fleet, record, peer, &status, err, sizeof err));
    assert_int_equal(status, 400);
    if (!strstr(err, message))
        fail_msg("expected an error containing \"%s\", got \"%s\"", message, err);
    json_decref(record);
}

static void test_bad_records_are_refused_with_the_reason(void **state)
{
    (void)state;
    world w;
    world_start(&w, INTERVAL_MS);
    expect_bad_record(&w, json_pack("{si}", "port", 8080), "127.0.0.1", "name: missing");
    expect_bad_record(&w, json_pack("{ss}", "name", "a"), "127.0.0.1", "port: missing");
    expect_bad_record(&w, json_pack("{ss si}", "name", "a", "port", 70000), "127.0.0.1",
                      "port: expected 1 to 65535, got 70000");
    expect_bad_record(&w, json_pack("{ss si}", "name", "", "port", 80), "127.0.0.1", "name:");
    expect_bad_record(&w, json_pack("{ss si}", "name", "../x", "port", 80), "127.0.0.1",
                      "slash");
    expect_bad_record(&w, json_pack("{ss si s[s]}", "name", "a", "port", 80, "addresses",
                                    "evil.com/x?"), "127.0.0.1", "addresses[0]: expected");
    expect_bad_record(&w, json_pack("{ss si s[i]}", "name", "a", "port", 80, "addresses", 1),
                      "127.0.0.1", "addresses[0]: expected an IP address or host name");
    expect_bad_record(&w, json_pack("{ss si}", "name", "a", "port", 80), NULL,
                      "addresses: none given");
    expect_bad_record(&w, json_string("x"), "127.0.0.1", "expected an object");
    assert_int_equal(events_last_seq(w.o.events), 0);
    world_stop(&w);
}

static void test_failures_make_it_suspect_then_lost_and_good_checks_bring_it_back(void **state)
{
    (void)state;
    world w;
    world_start(&w, INTERVAL_MS);
    fake_device *f = fake_start();
    register_ok(&w, "dev1", f);
    char *id = id_of(&w, "dev1");

    fake_set_down(f, true);
    assert_true(wait_state(&w, "dev1", DEVICE_LOST));
    json_t *lost = wait_event(&w, "device.lost");
    assert_non_null(lost);
    json_t *data = json_object_get(lost, "data");
    assert_string_equal(json_string_value(json_object_get(data, "previous")), "suspect");
    assert_string_equal(json_string_value(json_object_get(data, "name")), "dev1");
    /* lost_after = 3: the third failure in a row, and it says what failed. */
    const char *reason = json_string_value(json_object_get(data, "reason"));
    assert_non_null(strstr(reason, "3 failed health checks in a row"));
    assert_non_null(strstr(reason, "answered 503"));
    json_decref(lost);
    device_view v;
    assert_true(fleet_device(w.o.fleet, "dev1", &v));
    assert_false(fleet_usable(&v));
    assert_null(v.health);      /* the reference clears the report on failure */
    fleet_view_clear(&v);

    fake_set_down(f, false);
    assert_true(wait_state(&w, "dev1", DEVICE_ACTIVE));
    json_t *active = wait_event(&w, "device.active");
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(active, "data"),
                                                             "reason")),
                           "2 good health checks in a row"));
    json_decref(active);
    char *types = event_types(&w, id);
    assert_string_equal(types, "device.found,device.suspect,device.lost,device.active");
    free(types);

    /* The status log, newest first, says the same. */
    json_t *doc = stored(&w, "dev1");
    json_t *log = json_object_get(doc, "statusLog");
    assert_int_equal(json_array_size(log), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(log, 0), "status")),
                        "active");
    assert_string_equal(json_string_value(json_object_get(json_array_get(log, 1), "status")),
                        "lost");
    assert_string_equal(json_string_value(json_object_get(json_array_get(log, 2), "status")),
                        "suspect");
    assert_non_null(json_string_value(json_object_get(json_array_get(log, 2), "reason")));
    json_decref(doc);
    fleet_counters c;
    fleet_counters_get(w.o.fleet, &c);
    assert_true(c.health_check_failures >= 3);
    free(id);
    world_stop(&w);
    fake_stop(f);
}

static void test_blacklisted_device_is_lost_and_not_checked_until_unblacklisted(void **state)
{
    (void)state;
    world w;
    world_start(&w, INTERVAL_MS);
    fake_device *f = fake_start();
    register_ok(&w, "dev1", f);
    char id[25];
    assert_true(fleet_set_blacklisted(w.o.fleet, "dev1", true, id));
    device_view v;
    assert_true(fleet_device(w.o.fleet, id, &v));
    assert_true(v.blacklisted);
    assert_int_equal(v.state, DEVICE_LOST);
    assert_false(fleet_usable(&v));
    fleet_view_clear(&v);
    json_t *event = last_event(&w, "device.blacklisted");
    assert_non_null(event);
    assert_string_equal(json_string_value(json_object_get(json_object_get(event, "data"),
                                                          "state")), "lost");
    json_decref(event);

    int before = fake_health_requests(f);
    test_sleep_ms(5 * INTERVAL_MS);
    /* At most a check that was already under way when it was blacklisted. */
    assert_true(fake_health_requests(f) <= before + 1);
    assert_int_equal(state_of(&w, "dev1"), DEVICE_LOST);

    assert_true(fleet_set_blacklisted(w.o.fleet, "dev1", false, id));
    assert_true(wait_state(&w, "dev1", DEVICE_ACTIVE));
    json_decref(wait_event(&w, "device.active"));
    char *types = event_types(&w, id);
    assert_string_equal(types, "device.found,device.blacklisted,device.unblacklisted,"
                               "device.active");
    free(types);
    json_t *doc = stored(&w, id);
    assert_false(json_is_true(json_object_get(doc, "blacklisted")));
    json_decref(doc);
    char none[25];
    assert_false(fleet_set_blacklisted(w.o.fleet, "nobody", true, none));
    world_stop(&w);
    fake_stop(f);
}

static void test_device_without_orchestrator_is_told_our_url(void **state)
{
    (void)state;
    world w;
    world_start(&w, INTERVAL_MS);
    fake_device *f = fake_start();
    f->orchestrator_set = false;
    register_ok(&w, "dev1", f);
    pthread_mutex_lock(&f->lock);
    /* Trailing slash of the public URL left out, as the reference sends it. */
    assert_string_equal(f->registered_url, "http://127.0.0.1:9");
    pthread_mutex_unlock(&f->lock);
    world_stop(&w);
    fake_stop(f);
}

static void test_peer_reports_count_once_per_interval(void **state)
{
    (void)state;
    world w;
    world_start(&w, 60000);     /* no health round during the test: reports only */
    fake_device *f = fake_start();
    register_ok(&w, "dev1", f);
    char *id = id_of(&w, "dev1");
    for (int i = 0; i < 5; i++)
        fleet_report_failure(w.o.fleet, id, "POST /x: connection refused");
    fleet_report_failure(w.o.fleet, "000000000000000000000000", "unknown: ignored");
    assert_true(wait_state(&w, "dev1", DEVICE_SUSPECT));
    json_decref(wait_event(&w, "device.suspect"));
    test_sleep_ms(200);
    fleet_counters c;
    fleet_counters_get(w.o.fleet, &c);
    assert_int_equal(c.peer_failure_reports, 1);
    assert_int_equal(state_of(&w, "dev1"), DEVICE_SUSPECT);     /* one failure, not five */
    json_t *event = last_event(&w, "device.suspect");
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(event, "data"),
                                                             "reason")),
                           "reported by a peer: POST /x: connection refused"));
    json_decref(event);
    free(id);
    world_stop(&w);
    fake_stop(f);
}

static void test_goodbye_reregistration_delete_and_restart(void **state)
{
    (void)state;
    world w;
    world_start(&w, 60000);
    fake_device *f = fake_start();
    fake_device *g = fake_start();
    register_ok(&w, "dev1", f);
    register_ok(&w, "dev2", g);
    char *id1 = id_of(&w, "dev1");

    fleet_goodbye(w.o.fleet, "dev1");
    assert_int_equal(state_of(&w, "dev1"), DEVICE_LOST);
    json_t *event = last_event(&w, "device.lost");
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(event, "data"),
                                                             "reason")), "mDNS goodbye"));
    json_decref(event);

    /* The same name from another port is the same device, updated. */
    fake_device *f2 = fake_start();
    register_ok(&w, "dev1", f2);
    char *again = id_of(&w, "dev1");
    assert_string_equal(again, id1);
    free(again);
    device_view v;
    assert_true(fleet_device(w.o.fleet, "dev1", &v));
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", f2->port);
    assert_string_equal(v.url, url);
    assert_int_equal(v.state, DEVICE_LOST);     /* one good check is not yet trust */
    fleet_view_clear(&v);
    char *types = event_types(&w, id1);
    assert_string_equal(types, "device.found,device.lost,device.updated");
    free(types);

    /* A restart finds both, with their ids, states and addresses. */
    world_restart_fleet(&w);
    device_view *all;
    size_t n = fleet_snapshot(w.o.fleet, &all);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(all[i].name, "dev1") == 0) {
            assert_string_equal(all[i].id, id1);
            assert_string_equal(all[i].url, url);
            assert_int_equal(all[i].state, DEVICE_LOST);
        } else {
            assert_string_equal(all[i].name, "dev2");
            assert_int_equal(all[i].state, DEVICE_ACTIVE);
            assert_non_null(all[i].description);
        }
    }
    fleet_views_free(all, n);

    char deleted[25];
    assert_true(fleet_delete(w.o.fleet, "dev1", deleted));
    assert_string_equal(deleted, id1);
    assert_false(fleet_device(w.o.fleet, "dev1", &v));
    assert_null(stored(&w, "dev1"));
    assert_false(fleet_delete(w.o.fleet, "dev1", deleted));
    assert_int_equal(fleet_delete_all(w.o.fleet), 1);
    assert_int_equal(fleet_snapshot(w.o.fleet, &all), 0);
    types = event_types(&w, NULL);
    assert_non_null(strstr(types, "device.deleted,device.deleted"));
    free(types);
    free(id1);
    world_stop(&w);
    fake_stop(f);
    fake_stop(f2);
    fake_stop(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registration_introduces_and_stores_the_device),
        cmocka_unit_test(test_unreachable_device_is_not_kept),
        cmocka_unit_test(test_bad_records_are_refused_with_the_reason),
        cmocka_unit_test(test_failures_make_it_suspect_then_lost_and_good_checks_bring_it_back),
        cmocka_unit_test(test_blacklisted_device_is_lost_and_not_checked_until_unblacklisted),
        cmocka_unit_test(test_device_without_orchestrator_is_told_our_url),
        cmocka_unit_test(test_peer_reports_count_once_per_interval),
        cmocka_unit_test(test_goodbye_reregistration_delete_and_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
