/*
 * test_sysinfo.c — the device description's platform and the health report carry the
 * machine's own values: each is compared with what the kernel says through another
 * interface (sysconf, uname, statvfs, gethostname), and the health figures move when
 * the test makes the machine busy or sends traffic.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "base/sysinfo.h"

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void test_platform_cpu_and_system_match_the_kernel(void **state)
{
    (void)state;
    json_t *platform = sysinfo_platform("/");
    assert_non_null(platform);
    struct utsname uts;
    assert_int_equal(uname(&uts), 0);

    json_t *cpu = json_object_get(platform, "cpu");
    assert_string_equal(json_string_value(json_object_get(cpu, "architecture")), uts.machine);
    assert_int_equal(json_integer_value(json_object_get(cpu, "coreCount")),
                     sysconf(_SC_NPROCESSORS_ONLN));
    assert_non_null(json_string_value(json_object_get(cpu, "humanReadableName")));
    json_t *clock = json_object_get(cpu, "clockSpeedHz");
    if (clock)    /* absent only where neither cpufreq nor "cpu MHz" exists */
        assert_true(json_integer_value(clock) > 1000000);

    json_t *system = json_object_get(platform, "system");
    char host[256];
    assert_int_equal(gethostname(host, sizeof host), 0);
    assert_string_equal(json_string_value(json_object_get(system, "hostName")), host);
    assert_string_equal(json_string_value(json_object_get(system, "kernel")), uts.release);
    assert_non_null(json_string_value(json_object_get(system, "name")));
    json_decref(platform);
}

static void test_platform_memory_and_storage_match_the_kernel(void **state)
{
    (void)state;
    json_t *platform = sysinfo_platform("/tmp");
    json_int_t total = json_integer_value(json_object_get(json_object_get(platform, "memory"),
                                                          "totalBytes"));
    long long physical = (long long)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
    /* MemTotal and the page count come from the same kernel figure. */
    assert_true(total > 0);
    assert_true(llabs((long long)total - physical) <= sysconf(_SC_PAGESIZE));

    json_t *storage = json_object_get(platform, "storage");
    assert_int_equal(json_object_size(storage), 1);
    struct statvfs fs;
    assert_int_equal(statvfs("/tmp", &fs), 0);
    const char *name;
    json_t *bytes;
    json_object_foreach(storage, name, bytes) {
        assert_true(name[0] == '/');
        assert_int_equal(json_integer_value(bytes), (json_int_t)((uint64_t)fs.f_blocks * fs.f_frsize));
    }
    json_decref(platform);
}

static void test_platform_lists_loopback_with_its_address(void **state)
{
    (void)state;
    json_t *platform = sysinfo_platform(NULL);
    json_t *lo = json_object_get(json_object_get(platform, "network"), "lo");
    assert_non_null(lo);
    json_t *ips = json_object_get(lo, "ipInfo");
    bool found = false;
    size_t i;
    json_t *ip;
    json_array_foreach(ips, i, ip) {
        if (strcmp(json_string_value(ip), "127.0.0.1/8") == 0)
            found = true;
    }
    assert_true(found);
    json_decref(platform);
}

static void assert_fraction(json_t *value)
{
    assert_true(json_is_real(value));
    assert_true(json_real_value(value) >= 0 && json_real_value(value) <= 1);
}

static void test_health_has_every_figure_as_a_fraction(void **state)
{
    (void)state;
    sysinfo_sampler *s = sysinfo_sampler_new();
    json_t *health = sysinfo_health(s, "/");
    assert_fraction(json_object_get(health, "cpuUsage"));
    assert_fraction(json_object_get(health, "memoryUsage"));
    assert_true(json_real_value(json_object_get(health, "memoryUsage")) > 0);
    assert_fraction(json_object_get(json_object_get(health, "storageUsage"), "disk"));
    FILE *f = fopen("/proc/uptime", "r");
    double uptime;
    assert_int_equal(fscanf(f, "%lf", &uptime), 1);
    fclose(f);
    json_int_t reported = json_integer_value(json_object_get(health, "uptime"));
    assert_true(reported > 0 && reported <= (json_int_t)uptime + 1 && reported >= (json_int_t)uptime - 2);
    assert_true(json_is_object(json_object_get(json_object_get(health, "networkUsage"), "lo")));
    json_decref(health);
    sysinfo_sampler_free(s);
}

/* One core kept busy for the whole interval shows up as at least a good part of one
 * core's share of the machine. */
static void test_health_cpu_use_is_measured_over_the_interval(void **state)
{
    (void)state;
    sysinfo_sampler *s = sysinfo_sampler_new();
    json_decref(sysinfo_health(s, "/"));
    double end = now_seconds() + 0.6;
    volatile unsigned long spin = 0;
    while (now_seconds() < end)
        spin++;
    json_t *health = sysinfo_health(s, "/");
    double usage = json_real_value(json_object_get(health, "cpuUsage"));
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (usage < 0.5 / (double)cores)
        fail_msg("cpuUsage %.3f after a busy interval on %ld cores", usage, cores);
    json_decref(health);
    sysinfo_sampler_free(s);
}

/* Traffic is counted since the previous call: bytes sent over loopback in between show
 * up in both directions of lo. */
static void test_health_traffic_is_counted_since_the_previous_call(void **state)
{
    (void)state;
    int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(rx, (struct sockaddr *)&addr, sizeof addr), 0);
    socklen_t len = sizeof addr;
    assert_int_equal(getsockname(rx, (struct sockaddr *)&addr, &len), 0);

    sysinfo_sampler *s = sysinfo_sampler_new();
    json_decref(sysinfo_health(s, "/"));
    static char payload[8000];
    enum { PACKETS = 50 };
    for (int i = 0; i < PACKETS; i++) {
        assert_int_equal(sendto(tx, payload, sizeof payload, 0, (struct sockaddr *)&addr, sizeof addr),
                         (ssize_t)sizeof payload);
        char in[sizeof payload];
        assert_int_equal(recv(rx, in, sizeof in, 0), (ssize_t)sizeof payload);
    }
    json_t *health = sysinfo_health(s, "/");
    json_t *lo = json_object_get(json_object_get(health, "networkUsage"), "lo");
    json_int_t down = json_integer_value(json_object_get(lo, "downBytes"));
    json_int_t up = json_integer_value(json_object_get(lo, "upBytes"));
    assert_true(down >= PACKETS * (json_int_t)sizeof payload);
    assert_true(up >= PACKETS * (json_int_t)sizeof payload);
    json_decref(health);

    /* And a third call right away counts only what happened since the second. */
    health = sysinfo_health(s, "/");
    lo = json_object_get(json_object_get(health, "networkUsage"), "lo");
    assert_true(json_integer_value(json_object_get(lo, "downBytes")) < down);
    json_decref(health);
    sysinfo_sampler_free(s);
    close(rx);
    close(tx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_platform_cpu_and_system_match_the_kernel),
        cmocka_unit_test(test_platform_memory_and_storage_match_the_kernel),
        cmocka_unit_test(test_platform_lists_loopback_with_its_address),
        cmocka_unit_test(test_health_has_every_figure_as_a_fraction),
        cmocka_unit_test(test_health_cpu_use_is_measured_over_the_interval),
        cmocka_unit_test(test_health_traffic_is_counted_since_the_previous_call),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
