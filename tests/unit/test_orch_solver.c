/*
 * test_orch_solver.c — the placement solver: each filter rejects with its reason, the
 * scores prefer idle and near devices, the chain is placed jointly (better than step
 * by step, and equal to brute force over every placement), named devices are honoured
 * or refused, chains whose types do not fit are refused naming both steps, and the
 * answer does not depend on the order devices are listed in.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator/solver.h"

static const char *const wasi_and_camera[] = {"fd_write", "fd_read", "proc_exit",
                                              "takeImageStaticSize", "millis"};
static const char *const wasi_only[] = {"fd_write", "fd_read", "proc_exit", "millis"};
static const char *const qualified[] = {"wasi_snapshot_preview1.fd_write",
                                        "camera.takeImageStaticSize"};
static const char *const camera_cap[] = {"camera"};

static const solver_import wasi_imports[] = {{"wasi_snapshot_preview1", "fd_write"},
                                             {"wasi_snapshot_preview1", "proc_exit"}};
static const solver_import camera_imports[] = {{"wasi_snapshot_preview1", "fd_write"},
                                               {"camera", "takeImageStaticSize"}};

static solver_device device(const char *id, double cpu)
{
    return (solver_device){
        .id = id, .name = id, .state = "active",
        .interfaces = wasi_and_camera, .interface_count = 5,
        .declares_capabilities = true, .capabilities = camera_cap, .capability_count = 1,
        .memory_total_bytes = 1ull << 30, .cpu_usage = cpu, .memory_usage = 0.2, .rtt_ms = 1,
    };
}

static solver_step step(const char *module, const char *function, solver_data output)
{
    return (solver_step){.module = module, .function = function, .imports = wasi_imports,
                         .import_count = 2, .output = output};
}

static solver_problem problem(const solver_device *devices, size_t n, const solver_step *steps,
                              size_t m)
{
    return (solver_problem){.devices = devices, .device_count = n, .steps = steps,
                            .step_count = m, .weights = solver_default_weights()};
}

static size_t index_of(const solver_device *devices, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(devices[i].id, id))
            return i;
    fail_msg("no device %s", id);
    return 0;
}

/* ---- the filter */

static void assert_rejected(const solver_problem *p, size_t dev, const char *words)
{
    char why[512];
    assert_false(solver_device_fits(p, 0, dev, why, sizeof why));
    if (!strstr(why, words))
        fail_msg("expected '%s' in '%s'", words, why);
}

static void test_each_rejection_has_its_reason(void **state)
{
    (void)state;
    solver_device d[7];
    for (int i = 0; i < 7; i++)
        d[i] = device((const char *[]){"ok", "lost", "black", "noimport", "nocam", "small",
                                       "suspect"}[i], 0.1);
    d[1].state = "lost";
    d[2].blacklisted = true;
    d[3].interfaces = wasi_only;
    d[3].interface_count = 4;
    d[4].capability_count = 0;
    d[5].memory_total_bytes = 1 << 20;
    d[5].memory_usage = 0.5;
    d[6].state = "suspect";
    solver_step s = step("camera", "take", SOLVER_DATA_FILE);
    s.imports = camera_imports;
    s.capabilities = camera_cap;
    s.capability_count = 1;
    s.min_memory_bytes = 2 << 20;
    solver_problem p = problem(d, 7, &s, 1);

    char why[512];
    assert_true(solver_device_fits(&p, 0, 0, why, sizeof why));
    assert_rejected(&p, 1, "it is lost, not active");
    assert_rejected(&p, 2, "blacklisted");
    assert_rejected(&p, 3, "camera.takeImageStaticSize");
    assert_rejected(&p, 4, "capability 'camera'");
    assert_rejected(&p, 5, "512 KiB of memory free");
    assert_rejected(&p, 5, "needs at least 2.0 MiB");
    assert_rejected(&p, 6, "suspect");

    /* The bulk filter inside solve agrees with the one-device check. */
    solver_result r;
    char err[1024];
    assert_true(solver_solve(&p, &r, err, sizeof err));
    assert_int_equal(r.placement[0], 0);
    solver_verdict expected[] = {SOLVER_CHOSEN, SOLVER_REJECT_NOT_ACTIVE,
                                 SOLVER_REJECT_BLACKLISTED, SOLVER_REJECT_MISSING_IMPORT,
                                 SOLVER_REJECT_MISSING_CAPABILITY, SOLVER_REJECT_MEMORY,
                                 SOLVER_REJECT_NOT_ACTIVE};
    for (int i = 0; i < 7; i++)
        assert_int_equal(r.judgements[i].verdict, expected[i]);
    solver_result_free(&r);
}

static void test_imports_match_qualified_or_by_name(void **state)
{
    (void)state;
    solver_device d[3] = {device("qualified", 0.1), device("bare", 0.1),
                          device("other-module", 0.1)};
    d[0].interfaces = qualified;
    d[0].interface_count = 2;
    static const char *const wrong_module[] = {"wasi_snapshot_preview1.fd_write",
                                               "webcam.takeImageStaticSize"};
    d[2].interfaces = wrong_module;
    d[2].interface_count = 2;
    solver_step s = step("camera", "take", SOLVER_DATA_FILE);
    s.imports = camera_imports;
    solver_problem p = problem(d, 3, &s, 1);
    char why[512];
    assert_true(solver_device_fits(&p, 0, 0, why, sizeof why));
    assert_true(solver_device_fits(&p, 0, 1, why, sizeof why));
    assert_rejected(&p, 2, "camera.takeImageStaticSize");

    solver_result r;
    char err[1024];
    assert_true(solver_solve(&p, &r, err, sizeof err));
    assert_int_equal(r.judgements[2].verdict, SOLVER_REJECT_MISSING_IMPORT);
    assert_true(solver_verdict_name(r.judgements[0].verdict)[0] != 'r');
    solver_result_free(&r);
}

static void test_device_without_capabilities_is_trusted_by_interfaces(void **state)
{
    (void)state;
    solver_device d = device("python-supervisor", 0.1);
    d.declares_capabilities = false;
    d.capability_count = 0;
    solver_step s = step("camera", "take", SOLVER_DATA_FILE);
    s.imports = camera_imports;
    s.capabilities = camera_cap;
    s.capability_count = 1;
    solver_problem p = problem(&d, 1, &s, 1);
    char why[256];
    assert_true(solver_device_fits(&p, 0, 0, why, sizeof why));
}

static void test_no_device_names_the_step_and_the_reasons(void **state)
{
    (void)state;
    solver_device d[2] = {device("a", 0.1), device("b", 0.1)};
    d[0].capability_count = 0;
    d[1].state = "lost";
    solver_step s[2] = {step("fibo", "fibo", SOLVER_DATA_NUMBER),
                        step("camera", "take", SOLVER_DATA_FILE)};
    s[1].capabilities = camera_cap;
    s[1].capability_count = 1;
    solver_problem p = problem(d, 2, s, 2);
    solver_result r;
    char err[1024];
    assert_false(solver_solve(&p, &r, err, sizeof err));
    assert_non_null(strstr(err, "step 2 (camera.take): no device can run it"));
    assert_non_null(strstr(err, "'a': it does not declare the capability 'camera'"));
    assert_non_null(strstr(err, "'b': it is lost"));

    solver_problem empty = problem(NULL, 0, s, 1);
    assert_false(solver_solve(&empty, &r, err, sizeof err));
    assert_non_null(strstr(err, "no devices are known"));
}

/* ---- scores */

static void test_scores_prefer_idle_and_near_devices(void **state)
{
    (void)state;
    solver_device d[3] = {device("busy", 0.9), device("idle", 0.05), device("far", 0.0)};
    d[2].rtt_ms = 300;
    solver_step s = step("fibo", "fibo", SOLVER_DATA_NUMBER);
    solver_problem p = problem(d, 3, &s, 1);
    solver_result r;
    char err[512];
    assert_true(solver_solve(&p, &r, err, sizeof err));
    assert_string_equal(d[r.placement[0]].id, "idle");
    assert_true(r.node_cost[0].cpu > r.node_cost[1].cpu);
    assert_true(r.node_cost[2].rtt > r.node_cost[1].rtt);
    assert_int_equal(r.judgements[0].verdict, SOLVER_SCORED_LOWER);
    assert_true(r.judgements[0].chain_cost > r.total_cost);
    char reason[768];
    solver_reason(&p, &r, 0, 1, reason, sizeof reason);
    assert_non_null(strstr(reason, "chosen"));
    assert_non_null(strstr(reason, "CPU 5%"));
    solver_reason(&p, &r, 0, 0, reason, sizeof reason);
    assert_non_null(strstr(reason, "scored lower"));
    assert_non_null(strstr(reason, "CPU 90%"));
    solver_result_free(&r);

    /* A device that never reported its health costs more than a known, fairly idle one. */
    d[0].cpu_usage = 0.3;
    d[1].cpu_usage = d[1].memory_usage = -1;
    assert_true(solver_solve(&p, &r, err, sizeof err));
    assert_string_equal(d[r.placement[0]].id, "busy");
    solver_reason(&p, &r, 0, 1, reason, sizeof reason);
    assert_non_null(strstr(reason, "no health report"));
    solver_result_free(&r);
}

/* ---- the joint placement */

/* Cost of a given placement, computed here from the published weights. */
static double chain_cost(const solver_problem *p, const solver_result *r, const size_t *at)
{
    double total = 0;
    for (size_t s = 0; s < p->step_count; s++) {
        total += r->node_cost[at[s]].total;
        if (s > 0 && at[s] != at[s - 1]) {
            const solver_weights *w = &p->weights;
            double weight = p->steps[s - 1].output == SOLVER_DATA_FILE ? w->file_edge
                                                                       : w->number_edge;
            double ra = p->devices[at[s - 1]].rtt_ms, rb = p->devices[at[s]].rtt_ms;
            if (p->distance)
                total += weight * p->distance(p->distance_user, at[s - 1], at[s]);
            else
                total += weight * (w->hop_ms + (ra < 0 ? w->unknown_rtt_ms : ra) +
                                   (rb < 0 ? w->unknown_rtt_ms : rb));
        }
    }
    return total;
}

static void test_joint_placement_beats_greedy(void **state)
{
    (void)state;
    /* camera -> grayscale -> classify, files flowing. Greedy takes the idlest device
     * for each step: 'cam' (only cameras) for step 1, then 'gpu' for the others,
     * paying a far file hop. Jointly, the slightly busier 'edge' does all three. */
    solver_device d[3] = {device("cam", 0.0), device("edge", 0.1), device("gpu", 0.0)};
    d[0].rtt_ms = 40;
    d[2].rtt_ms = 40;
    d[2].capability_count = 0;
    solver_step s[3] = {step("camera", "take", SOLVER_DATA_FILE),
                        step("grayscale", "gray", SOLVER_DATA_FILE),
                        step("classify", "infer", SOLVER_DATA_NONE)};
    s[0].capabilities = camera_cap;
    s[0].capability_count = 1;
    /* 'cam' cannot run the others: not enough memory. */
    d[0].memory_total_bytes = 8 << 20;
    s[1].min_memory_bytes = s[2].min_memory_bytes = 64 << 20;
    solver_problem p = problem(d, 3, s, 3);
    solver_result r;
    char err[512];
    assert_true(solver_solve(&p, &r, err, sizeof err));
    size_t edge = index_of(d, 3, "edge"), cam = index_of(d, 3, "cam"),
           gpu = index_of(d, 3, "gpu");
    for (int i = 0; i < 3; i++)
        assert_int_equal(r.placement[i], edge);
    size_t greedy[3] = {cam, gpu, gpu};
    assert_true(r.total_cost < chain_cost(&p, &r, greedy));
    assert_true(fabs(r.total_cost - chain_cost(&p, &r, r.placement)) < 1e-9);
    char reason[768];
    solver_reason(&p, &r, 1, edge, reason, sizeof reason);
    assert_non_null(strstr(reason, "no hop from step 1 (same device)"));
    solver_result_free(&r);
}

static unsigned long long rng_state = 88172645463325252ull;
static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

/* Every placement of a small problem, tried one by one. */
static double brute_force(const solver_problem *p, const solver_result *r, size_t s,
                          size_t *at, double best)
{
    if (s == p->step_count) {
        double c = chain_cost(p, r, at);
        return c < best ? c : best;
    }
    for (size_t d = 0; d < p->device_count; d++) {
        char why[256];
        if (!solver_device_fits(p, s, d, why, sizeof why))
            continue;
        at[s] = d;
        best = brute_force(p, r, s + 1, at, best);
    }
    return best;
}

/* A distance table between devices (a measured matrix rather than round trips). */
static double table[7][7];
static double table_distance(void *user, size_t a, size_t b)
{
    (void)user;
    return table[a][b];
}

static void test_joint_placement_equals_brute_force(void **state)
{
    (void)state;
    static char ids[7][16];
    for (int round = 0; round < 600; round++) {
        solver_device d[7];
        size_t n = 2 + rnd(6);
        for (size_t i = 0; i < n; i++) {
            snprintf(ids[i], sizeof ids[i], "d%d", (int)i);
            d[i] = device(ids[i], rnd(100) / 100.0);
            d[i].memory_usage = rnd(100) / 100.0;
            d[i].rtt_ms = rnd(4) == 0 ? -1.0 : (double)rnd(120);
            if (rnd(3) == 0)
                d[i].capability_count = 0;
        }
        solver_step s[5];
        size_t m = 1 + rnd(5);
        for (size_t i = 0; i < m; i++) {
            s[i] = step("m", "f", rnd(2) ? SOLVER_DATA_FILE : SOLVER_DATA_NUMBER);
            if (rnd(3) == 0) {
                s[i].capabilities = camera_cap;
                s[i].capability_count = 1;
            }
        }
        solver_problem p = problem(d, n, s, m);
        bool measured = round % 2;
        if (measured) {
            /* symmetric, 0 on the diagonal; the solver cuts candidates in this case */
            for (size_t a = 0; a < n; a++)
                for (size_t b = 0; b <= a; b++)
                    table[a][b] = table[b][a] = a == b ? 0 : rnd(150);
            p.distance = table_distance;
        }
        p.weights.max_candidates = 1 + rnd(3);   /* cut hard: exact must stay honest */
        solver_result r;
        char err[1024];
        if (!solver_solve(&p, &r, err, sizeof err)) {
            assert_non_null(strstr(err, "no device can run it"));
            continue;
        }
        size_t at[5];
        double best = brute_force(&p, &r, 0, at, HUGE_VAL);
        assert_true(r.total_cost >= best - 1e-9);
        assert_true(fabs(r.total_cost - chain_cost(&p, &r, r.placement)) < 1e-9);
        if (!measured)
            assert_true(r.exact);   /* round trips: exact over every device, no cut */
        if (r.exact && fabs(r.total_cost - best) > 1e-9)
            fail_msg("round %d: solver %.3f, brute force %.3f, though marked exact", round,
                     r.total_cost, best);
        /* every passing device's chain cost is the best chain through it */
        for (size_t st = 0; st < m && r.exact; st++)
            for (size_t dv = 0; dv < n; dv++) {
                const solver_judgement *j = &r.judgements[st * n + dv];
                if (j->verdict != SOLVER_CHOSEN && j->verdict != SOLVER_SCORED_LOWER)
                    continue;
                assert_true(j->chain_cost >= r.total_cost - 1e-9);
            }
        solver_result_free(&r);

        p.weights.max_candidates = 64;            /* no cut: always the optimum */
        assert_true(solver_solve(&p, &r, err, sizeof err));
        assert_true(r.exact);
        assert_true(fabs(r.total_cost - best) < 1e-9);
        assert_true(fabs(r.total_cost - chain_cost(&p, &r, r.placement)) < 1e-9);
        solver_result_free(&r);
    }
}

/* ---- named devices */

static void test_named_device_honoured_or_refused(void **state)
{
    (void)state;
    solver_device d[2] = {device("busy", 0.9), device("idle", 0.0)};
    solver_step s = step("fibo", "fibo", SOLVER_DATA_NUMBER);
    s.pinned_device = "busy";
    solver_problem p = problem(d, 2, &s, 1);
    solver_result r;
    char err[512];
    assert_true(solver_solve(&p, &r, err, sizeof err));
    assert_string_equal(d[r.placement[0]].id, "busy");
    assert_int_equal(r.judgements[1].verdict, SOLVER_REJECT_NOT_PINNED);
    char reason[768];
    solver_reason(&p, &r, 0, 0, reason, sizeof reason);
    assert_non_null(strstr(reason, "the manifest names this device"));
    solver_result_free(&r);

    d[0].capability_count = 0;
    s.capabilities = camera_cap;
    s.capability_count = 1;
    assert_false(solver_solve(&p, &r, err, sizeof err));
    assert_non_null(strstr(err, "step 1 (fibo.fibo): the manifest names device 'busy', which "
                                "cannot run it: it does not declare the capability 'camera'"));

    s.pinned_device = "ghost";
    assert_false(solver_solve(&p, &r, err, sizeof err));
    assert_non_null(strstr(err, "'ghost', which is not known"));
}

/* ---- determinism */

static void test_order_of_devices_does_not_matter(void **state)
{
    (void)state;
    enum { N = 40 };
    static char ids[N][8];
    solver_device d[N];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "dev%02d", i % 100);
        d[i] = device(ids[i], (i % 5) / 10.0);   /* many ties */
        d[i].rtt_ms = 2;
    }
    solver_step s[4] = {step("a", "f", SOLVER_DATA_NUMBER), step("b", "f", SOLVER_DATA_FILE),
                        step("c", "f", SOLVER_DATA_NUMBER), step("d", "f", SOLVER_DATA_NONE)};
    solver_problem p = problem(d, N, s, 4);
    p.weights.max_candidates = 4;
    solver_result first;
    char err[512];
    assert_true(solver_solve(&p, &first, err, sizeof err));
    const char *chosen[4];
    for (int i = 0; i < 4; i++)
        chosen[i] = d[first.placement[i]].id;
    for (int round = 0; round < 20; round++) {
        solver_device shuffled[N];
        memcpy(shuffled, d, sizeof d);
        for (int i = N - 1; i > 0; i--) {
            int j = (int)rnd((unsigned)i + 1);
            solver_device t = shuffled[i];
            shuffled[i] = shuffled[j];
            shuffled[j] = t;
        }
        solver_problem q = p;
        q.devices = shuffled;
        solver_result r;
        assert_true(solver_solve(&q, &r, err, sizeof err));
        for (int i = 0; i < 4; i++)
            assert_string_equal(shuffled[r.placement[i]].id, chosen[i]);
        assert_true(r.total_cost == first.total_cost);
        solver_result_free(&r);
    }
    solver_result_free(&first);
}

/* ---- the explanation */

static void test_explain_lists_others_best_first(void **state)
{
    (void)state;
    solver_device d[4] = {device("a", 0.5), device("b", 0.1), device("c", 0.3),
                          device("gone", 0.0)};
    d[3].state = "lost";
    solver_step s[2] = {step("fibo", "fibo", SOLVER_DATA_NUMBER),
                        step("fibo", "fibo", SOLVER_DATA_NONE)};
    solver_problem p = problem(d, 4, s, 2);
    solver_result r;
    char err[512];
    assert_true(solver_solve(&p, &r, err, sizeof err));
    json_t *explained = solver_explain(&p, &r, 2);
    assert_non_null(explained);
    assert_int_equal(json_array_size(explained), 2);
    json_t *first = json_array_get(explained, 0);
    assert_string_equal(json_string_value(json_object_get(first, "device")), "b");
    assert_non_null(strstr(json_string_value(json_object_get(first, "reason")), "chosen"));
    json_t *others = json_object_get(first, "others");
    assert_int_equal(json_array_size(others), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(others, 0), "device")),
                        "c");
    assert_string_equal(json_string_value(json_object_get(json_array_get(others, 1), "device")),
                        "a");
    assert_int_equal(json_integer_value(json_object_get(first, "othersOmitted")), 1);
    json_decref(explained);

    explained = solver_explain(&p, &r, 10);
    others = json_object_get(json_array_get(explained, 1), "others");
    json_t *last = json_array_get(others, 2);
    assert_string_equal(json_string_value(json_object_get(last, "device")), "gone");
    assert_string_equal(json_string_value(json_object_get(last, "verdict")),
                        "rejected: not active");
    assert_non_null(strstr(json_string_value(json_object_get(last, "reason")), "lost"));
    json_decref(explained);
    solver_result_free(&r);
}

static void test_large_fleet_is_placed_exactly(void **state)
{
    (void)state;
    enum { N = 10000 };
    solver_device *d = calloc(N, sizeof *d);
    char (*ids)[16] = calloc(N, sizeof *ids);
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "d%05d", i);
        d[i] = device(ids[i], (i * 7919 % 1000) / 1000.0);
        d[i].rtt_ms = (i * 104729 % 200) / 10.0;
    }
    solver_step s[10];
    for (int i = 0; i < 10; i++)
        s[i] = step("m", "f", i % 2 ? SOLVER_DATA_FILE : SOLVER_DATA_NUMBER);
    solver_problem p = problem(d, N, s, 10);
    solver_result r;
    char err[512];
    assert_true(solver_solve(&p, &r, err, sizeof err));
    assert_true(r.exact);   /* round trips: every passing device is a candidate */
    for (int i = 0; i < 10; i++) {
        assert_true(r.candidate_count[i] > 9000);
        assert_true(r.cutoff_cost[i] == HUGE_VAL);
    }
    /* Every device is judged, and exactly one is chosen per step. */
    size_t chosen = 0;
    for (size_t i = 0; i < 10 * (size_t)N; i++)
        chosen += r.judgements[i].verdict == SOLVER_CHOSEN;
    assert_int_equal(chosen, 10);
    solver_result_free(&r);
    free(d);
    free(ids);
}

/* ---- chain typing */

static const char *const one_int[] = {"integer"};
static const char *const one_float[] = {"float"};
static const char *const two_ints[] = {"integer", "integer"};
static const char *const image[] = {"image.jpeg"};
static const char *const other_file[] = {"frame.png"};

static void assert_chain_refused(const solver_signature *steps, size_t n, const char *words)
{
    char err[512];
    assert_false(solver_check_chain(steps, n, err, sizeof err));
    if (!strstr(err, words))
        fail_msg("expected '%s' in '%s'", words, err);
}

static void test_chain_types(void **state)
{
    (void)state;
    solver_signature fibo = {"fibo", "fibo", one_int, 1, NULL, 0, "integer", NULL};
    solver_signature half = {"math", "half", one_float, 1, NULL, 0, "float", NULL};
    solver_signature sub = {"fibo", "subtract", two_ints, 2, NULL, 0, "integer", NULL};
    solver_signature camera = {"camera", "take", NULL, 0, NULL, 0, "image/jpg", "image.jpeg"};
    solver_signature gray = {"grayscale", "gray", NULL, 0, image, 1, "integer", NULL};
    solver_signature png = {"png", "read", NULL, 0, other_file, 1, "integer", NULL};
    solver_signature trigger = {"trigger", "go", NULL, 0, NULL, 0, "integer", NULL};
    char err[512];

    assert_int_equal(solver_output_data(&fibo), SOLVER_DATA_NUMBER);
    assert_int_equal(solver_output_data(&camera), SOLVER_DATA_FILE);
    assert_true(solver_check_chain((solver_signature[]){fibo, fibo, fibo}, 3, err, sizeof err));
    assert_true(solver_check_chain((solver_signature[]){camera, gray, fibo}, 3, err, sizeof err));
    assert_true(solver_check_chain((solver_signature[]){fibo, half}, 2, err, sizeof err));
    assert_true(solver_check_chain((solver_signature[]){fibo}, 1, err, sizeof err));

    assert_chain_refused((solver_signature[]){fibo, camera}, 2,
                         "steps 1 (fibo.fibo) and 2 (camera.take) cannot be chained: step 1 "
                         "outputs a number (integer) but step 2 takes no parameter");
    assert_chain_refused((solver_signature[]){camera, fibo}, 2,
                         "step 1 outputs the file 'image.jpeg' but step 2 has no execution "
                         "mount of that name");
    assert_chain_refused((solver_signature[]){camera, png}, 2,
                         "step 2 takes the file 'frame.png'");
    assert_chain_refused((solver_signature[]){half, fibo}, 2,
                         "step 1 outputs a float but step 2's first parameter is an integer");
    assert_chain_refused((solver_signature[]){fibo, sub}, 2,
                         "step 2 takes 2 parameters but step 1 gives it only one number");
    assert_chain_refused((solver_signature[]){fibo, gray}, 2, "outputs a number");
    assert_chain_refused((solver_signature[]){fibo, fibo, trigger}, 3,
                         "steps 2 (fibo.fibo) and 3 (trigger.go)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_rejection_has_its_reason),
        cmocka_unit_test(test_imports_match_qualified_or_by_name),
        cmocka_unit_test(test_device_without_capabilities_is_trusted_by_interfaces),
        cmocka_unit_test(test_no_device_names_the_step_and_the_reasons),
        cmocka_unit_test(test_scores_prefer_idle_and_near_devices),
        cmocka_unit_test(test_joint_placement_beats_greedy),
        cmocka_unit_test(test_joint_placement_equals_brute_force),
        cmocka_unit_test(test_named_device_honoured_or_refused),
        cmocka_unit_test(test_order_of_devices_does_not_matter),
        cmocka_unit_test(test_explain_lists_others_best_first),
        cmocka_unit_test(test_large_fleet_is_placed_exactly),
        cmocka_unit_test(test_chain_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
