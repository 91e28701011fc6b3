/*
 * test_orch_fleet_state.c — the hysteresis of device health, by direct calls: how many
 * failures make a device suspect and lost, how many good checks bring it back, and
 * that one good answer amid failures is not yet trust.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "orchestrator/fleet_state.h"

/* Applies a sequence of results written as "ok" = '+', failure = '-'; returns the
 * states after each as letters: a(ctive), s(uspect), l(ost). */
static void run(device_health *h, const health_thresholds *t, const char *results, char *out)
{
    for (size_t i = 0; results[i]; i++) {
        device_health_record(h, t, results[i] == '+');
        out[i] = "asl"[h->state];
    }
    out[strlen(results)] = '\0';
}

static void assert_trace(const health_thresholds *t, device_state start, const char *results,
                         const char *expected)
{
    device_health h = {.state = start};
    char got[64];
    run(&h, t, results, got);
    if (strcmp(got, expected) != 0)
        fail_msg("results %s from %s: expected states %s, got %s", results,
                 device_state_name(start), expected, got);
}

static void test_defaults(void **state)
{
    (void)state;
    health_thresholds t = health_thresholds_or_defaults(0, 0, 0);
    assert_int_equal(t.suspect_after, 1);
    assert_int_equal(t.lost_after, 3);
    assert_int_equal(t.active_after, 2);
    health_thresholds given = health_thresholds_or_defaults(2, 5, 4);
    assert_int_equal(given.suspect_after, 2);
    assert_int_equal(given.lost_after, 5);
    assert_int_equal(given.active_after, 4);
}

static void test_default_thresholds_lose_a_device_in_three_checks(void **state)
{
    (void)state;
    health_thresholds t = health_thresholds_or_defaults(0, 0, 0);
    /* One failure: suspect; the third in a row: lost; it stays lost while failing. */
    assert_trace(&t, DEVICE_ACTIVE, "---", "ssl");
    assert_trace(&t, DEVICE_ACTIVE, "-----", "sslll");
    /* Back after two good checks in a row, not one. */
    assert_trace(&t, DEVICE_LOST, "++", "la");
    assert_trace(&t, DEVICE_ACTIVE, "---++", "sslla");
}

static void test_one_good_answer_amid_failures_is_not_trust(void **state)
{
    (void)state;
    health_thresholds t = health_thresholds_or_defaults(1, 3, 2);
    /* suspect, then one good answer: still suspect; failures start counting anew,
     * so it takes three more in a row to lose it. */
    assert_trace(&t, DEVICE_ACTIVE, "-+---", "ssssl");
    assert_trace(&t, DEVICE_ACTIVE, "-+-+-+-+", "ssssssss");
    /* A lost device flapping never comes back. */
    assert_trace(&t, DEVICE_LOST, "+-+-+-", "llllll");
    /* Good checks while active change nothing. */
    assert_trace(&t, DEVICE_ACTIVE, "++++", "aaaa");
}

static void test_suspect_after_more_than_one(void **state)
{
    (void)state;
    health_thresholds t = health_thresholds_or_defaults(2, 4, 3);
    assert_trace(&t, DEVICE_ACTIVE, "-----", "assll");
    /* A failure then a good check resets the failure count while still active. */
    assert_trace(&t, DEVICE_ACTIVE, "-+-+-", "aaaaa");
    assert_trace(&t, DEVICE_LOST, "+++", "lla");
}

static void test_lost_at_once_when_thresholds_meet(void **state)
{
    (void)state;
    /* suspect_after >= lost_after: straight from active to lost. */
    health_thresholds t = health_thresholds_or_defaults(3, 2, 1);
    assert_trace(&t, DEVICE_ACTIVE, "--", "al");
    health_thresholds one = health_thresholds_or_defaults(1, 1, 1);
    assert_trace(&one, DEVICE_ACTIVE, "-+", "la");
}

static void test_record_reports_changes_only(void **state)
{
    (void)state;
    health_thresholds t = health_thresholds_or_defaults(1, 3, 2);
    device_health h = {.state = DEVICE_ACTIVE};
    assert_false(device_health_record(&h, &t, true));
    assert_true(device_health_record(&h, &t, false));     /* -> suspect */
    assert_false(device_health_record(&h, &t, false));
    assert_true(device_health_record(&h, &t, false));     /* -> lost */
    assert_int_equal(h.failures, 3);
    assert_int_equal(h.successes, 0);
    assert_false(device_health_record(&h, &t, true));
    assert_int_equal(h.failures, 0);
    assert_int_equal(h.successes, 1);
    assert_true(device_health_record(&h, &t, true));      /* -> active */
}

static void test_force(void **state)
{
    (void)state;
    health_thresholds t = health_thresholds_or_defaults(1, 3, 2);
    device_health h = {.state = DEVICE_ACTIVE, .successes = 7};
    assert_true(device_health_force(&h, DEVICE_LOST));    /* a goodbye, a blacklisting */
    assert_int_equal(h.successes, 0);
    assert_false(device_health_force(&h, DEVICE_LOST));
    /* Counting starts again from zero after a forced state. */
    assert_false(device_health_record(&h, &t, true));
    assert_true(device_health_record(&h, &t, true));
    assert_int_equal(h.state, DEVICE_ACTIVE);
}

static void test_state_names(void **state)
{
    (void)state;
    device_state s;
    for (int i = DEVICE_ACTIVE; i <= DEVICE_LOST; i++) {
        assert_true(device_state_parse(device_state_name((device_state)i), &s));
        assert_int_equal(s, i);
    }
    assert_string_equal(device_state_name(DEVICE_SUSPECT), "suspect");
    assert_false(device_state_parse("inactive", &s));
    assert_false(device_state_parse(NULL, &s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_default_thresholds_lose_a_device_in_three_checks),
        cmocka_unit_test(test_one_good_answer_amid_failures_is_not_trust),
        cmocka_unit_test(test_suspect_after_more_than_one),
        cmocka_unit_test(test_lost_at_once_when_thresholds_meet),
        cmocka_unit_test(test_record_reports_changes_only),
        cmocka_unit_test(test_force),
        cmocka_unit_test(test_state_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
