/*
 * store_bench.c — what the orchestrator's store costs per call, to choose between one
 * connection behind a mutex and a connection per thread (store.c says which and why).
 * Prints one JSON line per measurement:
 *
 *   {"op": "device_put", "threads": 1, "calls": N, "us_per_call": ..., "calls_per_s": ...}
 *
 * Devices carry a realistic description (about 2 KB: platform and ~70 interface
 * names). Measured: device_put (a new device, one transaction), device_update (a
 * health report, as the health loop writes), device_get, device_list over the whole
 * fleet, event_add, and device_update from 4 threads at once.
 *
 *   gcc -O2 -Isrc bench/orchestrator/store_bench.c src/orchestrator/store*.c \
 *       -ljansson -lsqlite3 -lpthread -o /tmp/store_bench && /tmp/store_bench [DEVICES]
 */
#define _GNU_SOURCE
#include "orchestrator/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

/* CPU time of the process: on a shared, loaded machine the wall time is mostly
 * waiting for a core, so both are printed. */
static double cpu_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static double cpu_start;

static void report(const char *op, int threads, long calls, double us)
{
    double cpu = cpu_us() - cpu_start;
    printf("{\"op\": \"%s\", \"threads\": %d, \"calls\": %ld, \"wall_us_per_call\": %.1f, "
           "\"cpu_us_per_call\": %.1f, \"calls_per_s\": %.0f}\n", op, threads, calls,
           us / calls, cpu / calls, calls / (us / 1e6));
    fflush(stdout);
}

static void device_id(int i, char out[25])
{
    snprintf(out, 25, "6650aa%018d", i);
}

static json_t *device(int i)
{
    char id[25], name[32];
    device_id(i, id);
    snprintf(name, sizeof name, "device-%d", i);
    json_t *interfaces = json_array();
    for (int k = 0; k < 70; k++) {
        char fn[32];
        snprintf(fn, sizeof fn, "interface_function_%02d", k);
        json_array_append_new(interfaces, json_string(fn));
    }
    return json_pack("{s:s, s:s, s:{s:[s], s:i}, s:{s:{s:{s:s, s:i, s:I}, s:{s:I}}, s:o},"
                     " s:s, s:b, s:i, s:i}",
                     "_id", id, "name", name, "communication", "addresses", "10.0.0.1", "port",
                     8080, "description", "platform", "cpu", "architecture", "x86_64",
                     "coreCount", 4, "clockSpeedHz", (json_int_t)2400000000LL, "memory",
                     "totalBytes", (json_int_t)8000000000LL, "supervisorInterfaces",
                     interfaces, "status", "active", "blacklisted", 0,
                     "failedHealthCheckCount", 0, "okHealthCheckCount", 0);
}

typedef struct worker {
    store *s;
    int first, count, rounds;
} worker;

static void *update_health(void *arg)
{
    worker *w = arg;
    for (int r = 0; r < w->rounds; r++)
        for (int i = w->first; i < w->first + w->count; i++) {
            char id[25];
            device_id(i, id);
            json_t *changes = json_pack("{s:{s:{s:f, s:f}, s:s}, s:f, s:i}", "health",
                                        "report", "cpuUsage", 0.3, "memoryUsage", 0.5,
                                        "timeOfQuery", "2026-11-22T10:00:00.000Z", "rttMs",
                                        1.2, "okHealthCheckCount", r);
            if (store_device_update(w->s, id, changes, NULL, NULL, 0) != STORE_OK)
                abort();
            json_decref(changes);
        }
    return NULL;
}

int main(int argc, char **argv)
{
    int devices = argc > 1 ? atoi(argv[1]) : 1000;
    char dir[] = "/tmp/store-bench-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char path[64], err[512];
    snprintf(path, sizeof path, "%s/orchestrator.db", dir);
    store *s = store_open(path, err, sizeof err);
    if (!s) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    double t = now_us();
    cpu_start = cpu_us();
    for (int i = 0; i < devices; i++) {
        json_t *d = device(i);
        if (store_device_put(s, d, err, sizeof err) != STORE_OK)
            return fprintf(stderr, "%s\n", err), 1;
        json_decref(d);
    }
    report("device_put", 1, devices, now_us() - t);

    worker one = {s, 0, devices, 1};
    t = now_us();
    cpu_start = cpu_us();
    update_health(&one);
    report("device_update", 1, devices, now_us() - t);

    t = now_us();
    cpu_start = cpu_us();
    for (int i = 0; i < devices; i++) {
        char id[25];
        device_id(i, id);
        json_t *d = NULL;
        if (store_device_get(s, id, &d, NULL, 0) != STORE_OK)
            return 1;
        json_decref(d);
    }
    report("device_get", 1, devices, now_us() - t);

    t = now_us();
    cpu_start = cpu_us();
    json_t *list = NULL;
    store_device_list(s, &list, NULL, 0);
    report("device_list_all", 1, 1, now_us() - t);
    json_decref(list);

    t = now_us();
    cpu_start = cpu_us();
    for (int i = 0; i < devices; i++)
        store_event_add(s, "device.updated", "x", NULL, NULL, NULL, 0);
    report("event_add", 1, devices, now_us() - t);

    enum { THREADS = 4 };
    pthread_t threads[THREADS];
    worker workers[THREADS];
    t = now_us();
    cpu_start = cpu_us();
    for (int k = 0; k < THREADS; k++) {
        workers[k] = (worker){s, k * (devices / THREADS), devices / THREADS, 1};
        pthread_create(&threads[k], NULL, update_health, &workers[k]);
    }
    for (int k = 0; k < THREADS; k++)
        pthread_join(threads[k], NULL);
    report("device_update", THREADS, (devices / THREADS) * THREADS, now_us() - t);

    store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
