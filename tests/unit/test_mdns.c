/*
 * test_mdns.c — what mdns_advertise_start and mdns_browse_start refuse, and why, before
 * any socket is opened (so these run anywhere: no multicast leaves this process).
 * Advertising and browsing themselves, against Avahi, are system tests that run inside
 * a private network (tests/system/test_mdns_avahi.py).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/mdns.h"

static const char *const TXT[] = {"path=/", "tls=0", "address=10.77.0.1", NULL};

static mdns_service good_service(void)
{
    return (mdns_service){.instance = "liquid-s1", .type = "_webthing._tcp", .port = 8080,
                          .address = "10.77.0.1", .txt = TXT};
}

static void expect_advertise_refused(const mdns_service *service, const char *reason_part)
{
    char err[256] = "";
    mdns_advertiser *a = mdns_advertise_start(service, err, sizeof err);
    if (a) {
        mdns_advertise_stop(a);
        fail_msg("advertised, expected a refusal mentioning \"%s\"", reason_part);
    }
    if (!strstr(err, reason_part))
        fail_msg("error \"%s\" does not mention \"%s\"", err, reason_part);
}

static void test_advertise_refuses_bad_instance_names(void **state)
{
    (void)state;
    mdns_service s = good_service();
    s.instance = "";
    expect_advertise_refused(&s, "1 to 63 bytes");
    s.instance = "a.b";
    expect_advertise_refused(&s, "must not contain a dot");
    char long_name[80];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    s.instance = long_name;
    expect_advertise_refused(&s, "1 to 63 bytes");
}

static void test_advertise_refuses_bad_types(void **state)
{
    (void)state;
    mdns_service s = good_service();
    const char *bad[] = {"webthing", "_webthing", "_webthing._sctp", "webthing._tcp",
                         "_this-name-is-far-too-long._tcp", "_we bthing._tcp", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        s.type = bad[i];
        expect_advertise_refused(&s, bad[i][0] ? "is not of the form" : "no service type");
    }
}

static void test_advertise_needs_port_and_ipv4_address(void **state)
{
    (void)state;
    mdns_service s = good_service();
    s.port = 0;
    expect_advertise_refused(&s, "needs a port");
    s = good_service();
    s.address = NULL;
    expect_advertise_refused(&s, "IPv4 address");
    s.address = "fe80::1";
    expect_advertise_refused(&s, "IPv4 address");
    s.address = "10.77.0";
    expect_advertise_refused(&s, "\"10.77.0\"");
}

static void test_advertise_refuses_txt_that_cannot_be_encoded(void **state)
{
    (void)state;
    mdns_service s = good_service();
    char big[300];
    memset(big, 'v', sizeof big - 1);
    big[0] = 'k';
    big[1] = '=';
    big[sizeof big - 1] = '\0';
    const char *too_long[] = {"path=/", big, NULL};
    s.txt = too_long;
    expect_advertise_refused(&s, "1 to 255 bytes");
    const char *no_key[] = {"=value", NULL};
    s.txt = no_key;
    expect_advertise_refused(&s, "key=value");
    /* Many entries that each fit but not together in one packet. */
    static char entries[8][201];
    const char *many[9];
    for (int i = 0; i < 8; i++) {
        snprintf(entries[i], sizeof entries[i], "k%d=%0196d", i, 0);
        many[i] = entries[i];
    }
    many[8] = NULL;
    s.txt = many;
    expect_advertise_refused(&s, "in total");
}

static void test_browse_refuses_bad_types(void **state)
{
    (void)state;
    char err[256] = "";
    mdns_browser *b = mdns_browse_start("webthing", NULL, NULL, NULL, err, sizeof err);
    assert_null(b);
    assert_non_null(strstr(err, "\"webthing\" is not of the form"));
    b = mdns_browse_start(NULL, NULL, NULL, NULL, err, sizeof err);
    assert_null(b);
    assert_non_null(strstr(err, "no service type"));
}

int main(void)
{
    /* An empty network namespace: as root directly, else as root of a user namespace. */
    if (unshare(CLONE_NEWNET) != 0 && unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) {
        printf("test_mdns: skipped, cannot make a private network namespace here\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_advertise_refuses_bad_instance_names),
        cmocka_unit_test(test_advertise_refuses_bad_types),
        cmocka_unit_test(test_advertise_needs_port_and_ipv4_address),
        cmocka_unit_test(test_advertise_refuses_txt_that_cannot_be_encoded),
        cmocka_unit_test(test_browse_refuses_bad_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
