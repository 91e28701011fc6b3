/*
 * test_orchestrator_link.c — the supervisor's link to its orchestrator, against a fake
 * orchestrator on loopback (mDNS off, as everywhere outside a private test network):
 * direct registration with the reference's record, retried until the orchestrator is
 * up; renewal after the renewal time without a health check from the orchestrator, and
 * none while it checks; the URL pushed by POST /register; log lines forwarded as
 * logData, without ever blocking the logger, dropping the oldest while it is down and
 * saying how many once it is back.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/http_server.h"
#include "base/log.h"
#include "supervisor/orchestrator_link.h"
#include "supervisor/orchestrator_logs.h"

/* ------------------------------------------------------- the fake orchestrator */

typedef struct fake_orchestrator {
    http_server *server;
    uint16_t port;
    char url[64];
    pthread_mutex_t lock;
    json_t *registrations;      /* bodies of POST /file/device/discovery/register */
    json_t *logs;               /* logData of POST /device/logs, parsed */
} fake_orchestrator;

static void on_register(http_request *req, void *user)
{
    fake_orchestrator *o = user;
    char err[128];
    json_t *body = http_request_json(req, err, sizeof err);
    pthread_mutex_lock(&o->lock);
    json_array_append(o->registrations, body ? body : json_null());
    pthread_mutex_unlock(&o->lock);
    http_respond_json(req, 200, json_pack("{ss}", "status", "ok"));
}

static void on_logs(http_request *req, void *user)
{
    fake_orchestrator *o = user;
    const char *data = http_request_field(req, "logData");
    json_t *entry = data ? json_loads(data, 0, NULL) : NULL;
    pthread_mutex_lock(&o->lock);
    json_array_append_new(o->logs, entry ? entry : json_string("<no logData field>"));
    pthread_mutex_unlock(&o->lock);
    http_respond_json(req, 200, json_object());
}

static const http_route ROUTES[] = {
    {"POST", "/file/device/discovery/register", on_register},
    {"POST", "/device/logs", on_logs},
};

static void fake_start(fake_orchestrator *o, uint16_t port)
{
    char err[256];
    http_server_options options = {.bind_address = "127.0.0.1", .port = port};
    o->server = http_server_start(&options, ROUTES, 2, o, err, sizeof err);
    if (!o->server)
        fail_msg("fake orchestrator: %s", err);
    o->port = http_server_port(o->server);
    snprintf(o->url, sizeof o->url, "http://127.0.0.1:%u", o->port);
}

static fake_orchestrator *fake_new(void)
{
    fake_orchestrator *o = calloc(1, sizeof *o);
    pthread_mutex_init(&o->lock, NULL);
    o->registrations = json_array();
    o->logs = json_array();
    fake_start(o, 0);
    return o;
}

static void fake_stop_server(fake_orchestrator *o)
{
    http_server_stop(o->server);
    o->server = NULL;
}

static void fake_free(fake_orchestrator *o)
{
    if (o->server)
        fake_stop_server(o);
    json_decref(o->registrations);
    json_decref(o->logs);
    pthread_mutex_destroy(&o->lock);
    free(o);
}

static size_t registration_count(fake_orchestrator *o)
{
    pthread_mutex_lock(&o->lock);
    size_t n = json_array_size(o->registrations);
    pthread_mutex_unlock(&o->lock);
    return n;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Waits up to seconds for at least n registrations. */
static bool wait_registrations(fake_orchestrator *o, size_t n, double seconds)
{
    double end = now_s() + seconds;
    while (now_s() < end) {
        if (registration_count(o) >= n)
            return true;
        sleep_ms(50);
    }
    return registration_count(o) >= n;
}

/* The first logged entry whose funcName is event, or NULL within seconds. */
static json_t *wait_log(fake_orchestrator *o, const char *event, double seconds)
{
    double end = now_s() + seconds;
    do {
        pthread_mutex_lock(&o->lock);
        size_t i;
        json_t *entry, *found = NULL;
        json_array_foreach(o->logs, i, entry) {
            const char *name = json_string_value(json_object_get(entry, "funcName"));
            if (!found && name && !strcmp(name, event))
                found = json_incref(entry);
        }
        pthread_mutex_unlock(&o->lock);
        if (found)
            return found;
        sleep_ms(50);
    } while (now_s() < end);
    return NULL;
}

static orchestrator_link_config config_for(const char *url, unsigned renewal)
{
    return (orchestrator_link_config){.device_name = "dev-a", .port = 5000,
                                      .address = "127.0.0.1", .mdns = false,
                                      .orchestrator_url = url, .renewal_seconds = renewal};
}

/* --------------------------------------------------------------------- tests */

static void test_registers_with_the_reference_record(void **state)
{
    (void)state;
    fake_orchestrator *o = fake_new();
    char url[80];
    snprintf(url, sizeof url, "%s//", o->url);     /* trailing slashes are dropped */
    orchestrator_link_config config = config_for(url, 0);
    char err[256];
    orchestrator_link *link = orchestrator_link_start(&config, err, sizeof err);
    assert_non_null(link);
    assert_true(wait_registrations(o, 1, 5));
    json_t *expected = json_pack("{sssssisss[s]s{ssssss}}", "name", "dev-a", "type", "webthing",
                                 "port", 5000, "host", "127.0.0.1", "addresses", "127.0.0.1",
                                 "properties", "path", "/", "tls", "0", "address", "127.0.0.1");
    pthread_mutex_lock(&o->lock);
    json_t *got = json_array_get(o->registrations, 0);
    if (!json_equal(got, expected)) {
        char *text = json_dumps(got, JSON_SORT_KEYS);
        fail_msg("registered %s", text);
    }
    pthread_mutex_unlock(&o->lock);
    json_decref(expected);
    char *current = orchestrator_link_url(link);
    assert_string_equal(current, o->url);
    free(current);
    orchestrator_link_stop(link);
    fake_free(o);
}

static void test_registration_is_retried_until_the_orchestrator_is_up(void **state)
{
    (void)state;
    fake_orchestrator *o = fake_new();
    uint16_t port = o->port;
    fake_stop_server(o);                          /* down when the supervisor starts */
    orchestrator_link_config config = config_for(o->url, 0);
    char err[256];
    orchestrator_link *link = orchestrator_link_start(&config, err, sizeof err);
    assert_non_null(link);
    sleep_ms(500);
    fake_start(o, port);
    assert_true(wait_registrations(o, 1, 12));
    orchestrator_link_stop(link);
    fake_free(o);
}

/* Health checks that keep coming from elsewhere do not count; the orchestrator's do. */
static void test_renews_without_health_checks_from_the_orchestrator(void **state)
{
    (void)state;
    fake_orchestrator *o = fake_new();
    orchestrator_link_config config = config_for(o->url, 1);
    char err[256];
    orchestrator_link *link = orchestrator_link_start(&config, err, sizeof err);
    assert_non_null(link);
    assert_true(wait_registrations(o, 1, 5));
    double end = now_s() + 3.5;
    while (now_s() < end) {
        orchestrator_link_health_checked(link, "10.9.9.9", "10.9.9.9");
        sleep_ms(100);
    }
    assert_true(registration_count(o) >= 3);     /* renewed about every second */

    size_t before = registration_count(o);
    end = now_s() + 3;
    for (int i = 0; now_s() < end; i++) {
        /* The orchestrator's checks: by peer address, or named first in X-Forwarded-For. */
        if (i % 2)
            orchestrator_link_health_checked(link, NULL, "::ffff:127.0.0.1");
        else
            orchestrator_link_health_checked(link, "127.0.0.1, 10.0.0.1", "10.0.0.1");
        sleep_ms(100);
    }
    assert_int_equal(registration_count(o), before);
    orchestrator_link_stop(link);
    fake_free(o);
}

static void test_url_pushed_by_the_orchestrator_takes_logs_and_needs_no_registration(void **state)
{
    (void)state;
    fake_orchestrator *o = fake_new();
    orchestrator_link_config config = config_for(NULL, 0);
    char err[256];
    orchestrator_link *link = orchestrator_link_start(&config, err, sizeof err);
    assert_non_null(link);
    assert_null(orchestrator_link_url(link));
    log_info("test.before_url", "deployment=d0");          /* held until there is a URL */
    char pushed[80];
    snprintf(pushed, sizeof pushed, "%s/", o->url);
    orchestrator_link_set_url(link, pushed);
    char *current = orchestrator_link_url(link);
    assert_string_equal(current, o->url);
    free(current);
    log_warn("test.event", "deployment=d1 module=fibo request=r-42 note=%s",
             log_quote("hello \"world\""));
    json_t *entry = wait_log(o, "test.event", 5);
    assert_non_null(entry);
    assert_string_equal(json_string_value(json_object_get(entry, "loglevel")), "WARN");
    assert_string_equal(json_string_value(json_object_get(entry, "deviceName")), "dev-a");
    assert_string_equal(json_string_value(json_object_get(entry, "deviceIP")), "127.0.0.1");
    assert_string_equal(json_string_value(json_object_get(entry, "deployment_id")), "d1");
    assert_string_equal(json_string_value(json_object_get(entry, "module_name")), "fibo");
    assert_string_equal(json_string_value(json_object_get(entry, "request_id")), "r-42");
    assert_non_null(strstr(json_string_value(json_object_get(entry, "message")),
                           "note=\"hello \\\"world\\\"\""));
    assert_non_null(json_string_value(json_object_get(entry, "timestamp")));
    json_decref(entry);
    json_t *early = wait_log(o, "test.before_url", 5);
    assert_non_null(early);
    json_decref(early);
    sleep_ms(300);
    assert_int_equal(registration_count(o), 0);
    orchestrator_link_stop(link);
    fake_free(o);
}

static void test_log_data_from_a_line(void **state)
{
    (void)state;
    json_t *data = orchestrator_log_data(
        LOG_ERROR,
        "ts=2026-01-02T03:04:05.678Z level=error event=call.failed deployment=66ab module=- "
        "request=f00d error=\"trap: out of \\\"fuel\\\"\"",
        "dev-b", NULL);
    json_t *expected = json_pack("{ss ss ss ss ss so ss ss}", "timestamp", "2026-01-02T03:04:05.678Z",
                                 "loglevel", "ERROR", "funcName", "call.failed", "deviceName",
                                 "dev-b", "deployment_id", "66ab", "deviceIP", json_null(),
                                 "request_id", "f00d", "message",
                                 "deployment=66ab module=- request=f00d error=\"trap: out of "
                                 "\\\"fuel\\\"\"");
    if (!json_equal(data, expected)) {
        char *text = json_dumps(data, JSON_SORT_KEYS);
        fail_msg("got %s", text);
    }
    json_decref(data);
    json_decref(expected);
}

static void test_logging_never_waits_and_drops_the_oldest_while_down(void **state)
{
    (void)state;
    fake_orchestrator *o = fake_new();
    uint16_t port = o->port;
    fake_stop_server(o);
    orchestrator_logs *logs = orchestrator_logs_start("dev-c", "127.0.0.1", LOG_INFO, 10);
    char endpoint[96];
    snprintf(endpoint, sizeof endpoint, "%s/device/logs", o->url);
    orchestrator_logs_set_endpoint(logs, endpoint);
    double start = now_s();
    for (int i = 0; i < 500; i++)
        log_info("test.burst", "n=%d", i);
    assert_true(now_s() - start < 1.0);
    assert_true(orchestrator_logs_dropped(logs) >= 490 - 1);
    fake_start(o, port);
    json_t *notice = wait_log(o, "log.dropped", 15);
    assert_non_null(notice);
    assert_string_equal(json_string_value(json_object_get(notice, "loglevel")), "WARN");
    assert_non_null(strstr(json_string_value(json_object_get(notice, "message")), "count="));
    json_decref(notice);
    /* The newest entries survived: the last one arrives. */
    double end = now_s() + 10;
    bool last_arrived = false;
    while (!last_arrived && now_s() < end) {
        pthread_mutex_lock(&o->lock);
        size_t i;
        json_t *entry;
        json_array_foreach(o->logs, i, entry)
            if (strstr(json_string_value(json_object_get(entry, "message")) ?: "", "n=499"))
                last_arrived = true;
        pthread_mutex_unlock(&o->lock);
        sleep_ms(50);
    }
    assert_true(last_arrived);
    orchestrator_logs_stop(logs, 1000);
    fake_free(o);
}

static void test_start_refuses_a_bad_config(void **state)
{
    (void)state;
    char err[256];
    orchestrator_link_config config = config_for(NULL, 0);
    config.address = "not-an-ip";
    assert_null(orchestrator_link_start(&config, err, sizeof err));
    assert_non_null(strstr(err, "\"not-an-ip\", is not an IPv4 address"));
    config = config_for(NULL, 0);
    config.device_name = "";
    assert_null(orchestrator_link_start(&config, err, sizeof err));
    assert_non_null(strstr(err, "device name"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registers_with_the_reference_record),
        cmocka_unit_test(test_registration_is_retried_until_the_orchestrator_is_up),
        cmocka_unit_test(test_renews_without_health_checks_from_the_orchestrator),
        cmocka_unit_test(test_url_pushed_by_the_orchestrator_takes_logs_and_needs_no_registration),
        cmocka_unit_test(test_log_data_from_a_line),
        cmocka_unit_test(test_logging_never_waits_and_drops_the_oldest_while_down),
        cmocka_unit_test(test_start_refuses_a_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
