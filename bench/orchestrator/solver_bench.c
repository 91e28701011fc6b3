/*
 * solver_bench.c — the placement solver alone: a 10-step chain over N synthetic
 * devices, for each N given (default 10 100 1000 10000). Prints one JSON line per N:
 *
 *   {"devices": N, "steps": 10, "runs": R, "median_ms": ..., "min_ms": ..., "max_ms": ...,
 *    "exact": true|false, "candidates": [...per step], "cost": ...}
 *
 * The fleet is made to look real: each device has its own copy of its interface list
 * (about 70 names: WASI preview 1, sys.*, camera.*), a third have a camera, loads
 * and round-trip times vary, a few are lost or blacklisted. Steps alternate numbers
 * and files; every third needs the camera. Only solver_solve is timed (the inputs are
 * built once per N, as the orchestrator builds them from its fleet snapshot).
 *
 *   gcc -O2 -Isrc bench/orchestrator/solver_bench.c src/orchestrator/solver*.c -ljansson -lm
 */
#define _GNU_SOURCE
#include "orchestrator/solver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STEPS 10

static const char *const wasi[] = {
    "args_get", "args_sizes_get", "environ_get", "environ_sizes_get", "clock_res_get",
    "clock_time_get", "fd_advise", "fd_allocate", "fd_close", "fd_datasync",
    "fd_fdstat_get", "fd_fdstat_set_flags", "fd_fdstat_set_rights", "fd_filestat_get",
    "fd_filestat_set_size", "fd_filestat_set_times", "fd_pread", "fd_prestat_get",
    "fd_prestat_dir_name", "fd_pwrite", "fd_read", "fd_readdir", "fd_renumber", "fd_seek",
    "fd_sync", "fd_tell", "fd_write", "path_create_directory", "path_filestat_get",
    "path_filestat_set_times", "path_link", "path_open", "path_readlink",
    "path_remove_directory", "path_rename", "path_symlink", "path_unlink_file",
    "poll_oneoff", "proc_exit", "proc_raise", "sched_yield", "random_get", "sock_accept",
    "sock_recv", "sock_send", "sock_shutdown", "millis", "delay", "print", "println",
    "printInt", "rpcCall", "takeImage", "takeImageDynamicSize", "takeImageStaticSize",
    "ping", "getTemperature", "getHumidity", "load", "load_by_name",
    "init_execution_context", "set_input", "compute", "get_output", "alloc_a", "alloc_b",
    "alloc_c", "alloc_d", "alloc_e", "alloc_f"};
#define WASI_COUNT (sizeof wasi / sizeof *wasi)

static const solver_import step_imports[] = {
    {"wasi_snapshot_preview1", "fd_write"}, {"wasi_snapshot_preview1", "fd_read"},
    {"wasi_snapshot_preview1", "fd_close"}, {"wasi_snapshot_preview1", "fd_seek"},
    {"wasi_snapshot_preview1", "path_open"}, {"wasi_snapshot_preview1", "proc_exit"},
    {"wasi_snapshot_preview1", "environ_get"}, {"wasi_snapshot_preview1", "clock_time_get"},
    {"wasi_snapshot_preview1", "fd_prestat_get"}, {"camera", "takeImageStaticSize"},
};
static const char *const camera[] = {"camera"};

static unsigned long long rng = 0x9E3779B97F4A7C15ull;
static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void run(size_t n, int runs)
{
    solver_device *devices = calloc(n, sizeof *devices);
    char **ids = calloc(n, sizeof *ids);
    char ***lists = calloc(n, sizeof *lists);
    for (size_t i = 0; i < n; i++) {
        if (asprintf(&ids[i], "%024zx", i + 1) < 0)
            exit(1);
        lists[i] = calloc(WASI_COUNT, sizeof **lists);
        for (size_t k = 0; k < WASI_COUNT; k++)
            lists[i][k] = strdup(wasi[k]);     /* each device its own strings */
        bool has_camera = uniform() < 0.33;
        double r = uniform();
        devices[i] = (solver_device){
            .id = ids[i], .name = ids[i],
            .state = r < 0.02 ? "lost" : r < 0.03 ? "suspect" : "active",
            .blacklisted = uniform() < 0.01,
            .interfaces = (const char *const *)lists[i], .interface_count = WASI_COUNT,
            .declares_capabilities = true,
            .capabilities = has_camera ? camera : NULL, .capability_count = has_camera,
            .memory_total_bytes = (uint64_t)(256 + uniform() * 4096) << 20,
            .cpu_usage = uniform(), .memory_usage = uniform() * 0.9,
            .rtt_ms = uniform() < 0.05 ? -1 : 0.3 + uniform() * 40,
        };
    }
    solver_step steps[STEPS];
    for (int s = 0; s < STEPS; s++) {
        bool needs_camera = s % 3 == 0;
        steps[s] = (solver_step){
            .module = "m", .function = "f", .imports = step_imports,
            .import_count = needs_camera ? 10 : 9,
            .capabilities = needs_camera ? camera : NULL, .capability_count = needs_camera,
            .min_memory_bytes = 2 << 20,
            .output = s + 1 == STEPS ? SOLVER_DATA_NONE
                      : s % 2   ? SOLVER_DATA_FILE : SOLVER_DATA_NUMBER,
        };
    }
    solver_problem p = {.devices = devices, .device_count = n, .steps = steps,
                        .step_count = STEPS, .weights = solver_default_weights()};
    double *ms = calloc((size_t)runs, sizeof *ms);
    solver_result r = {0};
    char err[1024];
    for (int i = 0; i < runs; i++) {
        solver_result_free(&r);
        double t0 = now_ms();
        if (!solver_solve(&p, &r, err, sizeof err)) {
            fprintf(stderr, "solve failed: %s\n", err);
            exit(1);
        }
        ms[i] = now_ms() - t0;
    }
    qsort(ms, (size_t)runs, sizeof *ms, compare_doubles);
    printf("{\"devices\": %zu, \"steps\": %d, \"runs\": %d, \"median_ms\": %.3f, "
           "\"min_ms\": %.3f, \"max_ms\": %.3f, \"exact\": %s, \"cost\": %.2f, \"candidates\": [",
           n, STEPS, runs, ms[runs / 2], ms[0], ms[runs - 1], r.exact ? "true" : "false",
           r.total_cost);
    for (int s = 0; s < STEPS; s++)
        printf("%s%zu", s ? ", " : "", r.candidate_count[s]);
    printf("]}\n");
    fflush(stdout);
    solver_result_free(&r);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < WASI_COUNT; k++)
            free(lists[i][k]);
        free(lists[i]);
        free(ids[i]);
    }
    free(lists);
    free(ids);
    free(devices);
    free(ms);
}

int main(int argc, char **argv)
{
    int runs = 21;
    size_t sizes[16] = {10, 100, 1000, 10000};
    size_t count = 4;
    int first = 1;
    if (argc > 2 && !strcmp(argv[1], "--runs")) {
        runs = atoi(argv[2]);
        first = 3;
    }
    if (runs < 1)
        runs = 1;
    if (argc > first) {
        count = 0;
        for (int i = first; i < argc && count < 16; i++)
            sizes[count++] = (size_t)strtoull(argv[i], NULL, 10);
    }
    for (size_t i = 0; i < count; i++)
        run(sizes[i], runs);
    return 0;
}
