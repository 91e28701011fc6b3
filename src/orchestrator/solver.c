/*
 * solver.c — node costs, candidates and the joint placement (see solver.h).
 *
 * The chain is a path through layers (one layer of candidate devices per step), so
 * the cheapest placement is a shortest path: a forward pass gives, for each candidate
 * of a step, the cheapest way to place the steps up to it; a backward pass the
 * cheapest way to place the rest. Their sum is the best chain with that step on that
 * device, which is also what the reasons quote for a device that scored lower.
 * O(steps x candidates^2) after an O(steps x devices) filter.
 */
#include "orchestrator/solver_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LISTED_REJECTIONS 3

solver_weights solver_default_weights(void)
{
    return (solver_weights){
        .cpu = 100.0,
        .memory = 50.0,
        .rtt_per_ms = 1.0,
        .rtt_cap_ms = 1000.0,
        .unknown_health = 50.0,
        .unknown_rtt_ms = 50.0,
        .hop_ms = 5.0,
        .number_edge = 1.0,
        .file_edge = 4.0,
        .max_candidates = 64,
    };
}

static double clamp01(double v)
{
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

double solver_capped_rtt(const solver_weights *w, double rtt_ms)
{
    if (rtt_ms < 0 || isnan(rtt_ms))
        rtt_ms = w->unknown_rtt_ms;
    return rtt_ms > w->rtt_cap_ms ? w->rtt_cap_ms : rtt_ms;
}

static solver_node_cost node_cost(const solver_weights *w, const solver_device *d)
{
    solver_node_cost c = {0};
    if (d->cpu_usage >= 0)
        c.cpu = w->cpu * clamp01(d->cpu_usage);
    else
        c.unknown += w->unknown_health / 2;
    if (d->memory_usage >= 0)
        c.memory = w->memory * clamp01(d->memory_usage);
    else
        c.unknown += w->unknown_health / 2;
    c.rtt = w->rtt_per_ms * solver_capped_rtt(w, d->rtt_ms);
    c.total = c.cpu + c.memory + c.rtt + c.unknown;
    return c;
}

/* ---- edges */

static double edge_weight(const solver_weights *w, solver_data data)
{
    return data == SOLVER_DATA_FILE ? w->file_edge : w->number_edge;
}

static double distance(const solver_problem *p, size_t a, size_t b)
{
    if (a == b)
        return 0;
    if (p->distance) {
        double d = p->distance(p->distance_user, a, b);
        if (d >= 0 && !isnan(d))
            return d;
    }
    const solver_weights *w = &p->weights;
    return w->hop_ms + solver_capped_rtt(w, p->devices[a].rtt_ms) + solver_capped_rtt(w, p->devices[b].rtt_ms);
}

/* The cost of the hop from step s - 1 on device a into step s on device b. */
static double edge_cost(const solver_problem *p, size_t s, size_t a, size_t b)
{
    if (a == b)
        return 0;
    return edge_weight(&p->weights, p->steps[s - 1].output) * distance(p, a, b);
}

/* The largest edge cost the default distance can give around step s: what a device
 * may save by being next to its neighbours. */
static double largest_edges(const solver_problem *p, size_t s)
{
    const solver_weights *w = &p->weights;
    double far = w->hop_ms + 2 * solver_capped_rtt(w, w->rtt_cap_ms);
    double sum = 0;
    if (s > 0)
        sum += edge_weight(w, p->steps[s - 1].output) * far;
    if (s + 1 < p->step_count)
        sum += edge_weight(w, p->steps[s].output) * far;
    return sum;
}

/* ---- candidates */

typedef struct work {
    const solver_problem *p;
    solver_result *r;
    size_t **cand;          /* [step] -> device indexes, sorted best first */
    size_t *cand_count;
    size_t *base_count;     /* the cut's own candidates (before neighbours were added) */
    double **fwd, **bwd;
    size_t **back;          /* forward argmin: index into the previous step's candidates */
} work;

static bool better(const solver_result *r, const solver_problem *p, size_t a, size_t b)
{
    double ca = r->node_cost[a].total, cb = r->node_cost[b].total;
    if (ca != cb)
        return ca < cb;
    return strcmp(p->devices[a].id, p->devices[b].id) < 0;
}

/* A max-heap (worst on top) of the best `cap` devices seen. */
static void heap_sift_down(const work *w, size_t *heap, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, worst = i;
        if (l < n && better(w->r, w->p, heap[worst], heap[l]))
            worst = l;
        if (r < n && better(w->r, w->p, heap[worst], heap[r]))
            worst = r;
        if (worst == i)
            return;
        size_t t = heap[i];
        heap[i] = heap[worst];
        heap[worst] = t;
        i = worst;
    }
}

static void heap_push(const work *w, size_t *heap, size_t *n, size_t cap, size_t dev)
{
    if (*n < cap) {
        size_t i = (*n)++;
        heap[i] = dev;
        while (i > 0) {
            size_t parent = (i - 1) / 2;
            if (!better(w->r, w->p, heap[parent], heap[i]))
                break;
            size_t t = heap[i];
            heap[i] = heap[parent];
            heap[parent] = t;
            i = parent;
        }
    } else if (better(w->r, w->p, dev, heap[0])) {
        heap[0] = dev;
        heap_sift_down(w, heap, *n, 0);
    }
}

/* qsort has no user pointer: the comparison finds the solve it serves in a
 * thread-local, so solves on different threads do not meet. */
static _Thread_local const work *tls_sort_work;

static int compare_devices(const void *a, const void *b)
{
    const work *w = tls_sort_work;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    if (x == y)
        return 0;
    return better(w->r, w->p, x, y) ? -1 : 1;
}

static void sort_candidates(const work *w, size_t *list, size_t n)
{
    tls_sort_work = w;
    qsort(list, n, sizeof *list, compare_devices);
}

/* Step s's error when no device passes: each rejected device (a few) and why. */
static void no_device_error(const solver_problem *p, const solver_result *r, size_t s,
                            char *err, size_t err_size)
{
    const solver_step *step = &p->steps[s];
    int n = snprintf(err, err_size, "step %zu (%s.%s): no device can run it", s + 1,
                     step->module, step->function);
    if (p->device_count == 0) {
        snprintf(err + n, err_size - (size_t)n, ": no devices are known yet");
        return;
    }
    size_t listed = 0;
    for (size_t d = 0; d < p->device_count && listed < MAX_LISTED_REJECTIONS; d++) {
        const solver_judgement *j = &r->judgements[s * p->device_count + d];
        char why[256];
        solver_rejection_sentence(p, s, d, j, why, sizeof why);
        if ((size_t)n < err_size)
            n += snprintf(err + n, err_size - (size_t)n, "%s '%s': %s", listed ? ";" : ":",
                          solver_device_label(&p->devices[d]), why);
        listed++;
    }
    if (p->device_count > listed && (size_t)n < err_size)
        snprintf(err + n, err_size - (size_t)n, " (and %zu more devices)",
                 p->device_count - listed);
}

static void pinned_error(const solver_problem *p, const solver_result *r, size_t s, char *err,
                         size_t err_size)
{
    const solver_step *step = &p->steps[s];
    for (size_t d = 0; d < p->device_count; d++) {
        if (strcmp(p->devices[d].id, step->pinned_device))
            continue;
        char why[256];
        solver_rejection_sentence(p, s, d, &r->judgements[s * p->device_count + d], why,
                                  sizeof why);
        snprintf(err, err_size, "step %zu (%s.%s): the manifest names device '%s', which "
                 "cannot run it: %s", s + 1, step->module, step->function,
                 solver_device_label(&p->devices[d]), why);
        return;
    }
    snprintf(err, err_size, "step %zu (%s.%s): the manifest names device '%s', which is not "
             "known: register it first or choose another", s + 1, step->module, step->function,
             step->pinned_device);
}

/* Filters every device for every step and keeps each step's candidates: all that pass
 * when the distances come from round-trip times (the search is then exact over all of
 * them), else the best max_candidates by node cost. */
static bool choose_candidates(work *w, char *err, size_t err_size)
{
    const solver_problem *p = w->p;
    solver_result *r = w->r;
    size_t cap = p->weights.max_candidates ? p->weights.max_candidates : 1;
    bool cut = p->distance != NULL;
    solver_filter *filter = solver_filter_new(p);
    if (!filter) {
        snprintf(err, err_size, "out of memory while solving");
        return false;
    }
    bool ok = true;
    for (size_t s = 0; s < p->step_count && ok; s++) {
        w->cand[s] = cut ? malloc((3 * cap + 1) * sizeof **w->cand) : NULL;
        if (cut && !w->cand[s]) {
            snprintf(err, err_size, "out of memory while solving");
            ok = false;
            break;
        }
        size_t passed = 0, n = 0;
        for (size_t d = 0; d < p->device_count; d++) {
            solver_judgement *j = &r->judgements[s * p->device_count + d];
            solver_filter_judge(filter, s, d, j);
            if (!solver_verdict_passes(j->verdict))
                continue;
            j->verdict = cut ? SOLVER_NOT_CONSIDERED : SOLVER_SCORED_LOWER;
            passed++;
            if (cut)
                heap_push(w, w->cand[s], &n, cap, d);
        }
        if (passed == 0) {
            if (p->steps[s].pinned_device)
                pinned_error(p, r, s, err, err_size);
            else
                no_device_error(p, r, s, err, err_size);
            ok = false;
            break;
        }
        r->cutoff_cost[s] = HUGE_VAL;
        r->candidate_count[s] = passed;
        if (!cut)
            continue;
        sort_candidates(w, w->cand[s], n);
        for (size_t k = 0; k < n; k++)
            r->judgements[s * p->device_count + w->cand[s][k]].verdict = SOLVER_SCORED_LOWER;
        w->cand_count[s] = w->base_count[s] = n;
        if (passed > n) {
            double last = r->node_cost[w->cand[s][n - 1]].total;
            double best = r->node_cost[w->cand[s][0]].total;
            r->cutoff_cost[s] = last;
            /* Excluded devices cost at least `last`; if that is beyond what any edge
             * can make up, nothing optimal was cut. */
            if (last <= best + largest_edges(p, s))
                r->exact = false;
        }
    }
    solver_filter_free(filter);
    return ok;
}

/* Adds to each step the neighbours' candidates that pass it, so that "both steps on
 * the same device" is always a choice the joint search sees. Extras are appended
 * after every step's own cut (cand[t][0..base_count[t]) stays the cut), then sorted. */
static void add_neighbours(work *w)
{
    const solver_problem *p = w->p;
    for (size_t s = 0; s < p->step_count; s++)
        for (int side = -1; side <= 1; side += 2) {
            if ((side < 0 && s == 0) || (side > 0 && s + 1 == p->step_count))
                continue;
            size_t t = (size_t)((long)s + side);
            for (size_t i = 0; i < w->base_count[t]; i++) {
                size_t d = w->cand[t][i];
                solver_judgement *j = &w->r->judgements[s * p->device_count + d];
                if (j->verdict != SOLVER_NOT_CONSIDERED)
                    continue;       /* rejected here, or already a candidate */
                j->verdict = SOLVER_SCORED_LOWER;
                w->cand[s][w->cand_count[s]++] = d;
            }
        }
    for (size_t s = 0; s < p->step_count; s++) {
        sort_candidates(w, w->cand[s], w->cand_count[s]);
        w->r->candidate_count[s] = w->cand_count[s];
    }
}

/* ---- the joint search */

static bool search(work *w)
{
    const solver_problem *p = w->p;
    size_t S = p->step_count;
    for (size_t s = 0; s < S; s++) {
        size_t n = w->cand_count[s];
        w->fwd[s] = malloc(n * sizeof **w->fwd);
        w->bwd[s] = malloc(n * sizeof **w->bwd);
        w->back[s] = malloc(n * sizeof **w->back);
        if (!w->fwd[s] || !w->bwd[s] || !w->back[s])
            return false;
    }
    for (size_t s = 0; s < S; s++)
        for (size_t j = 0; j < w->cand_count[s]; j++) {
            size_t d = w->cand[s][j];
            double best = 0;
            size_t arg = 0;
            if (s > 0) {
                best = HUGE_VAL;
                for (size_t i = 0; i < w->cand_count[s - 1]; i++) {
                    double c = w->fwd[s - 1][i] + edge_cost(p, s, w->cand[s - 1][i], d);
                    if (c < best) {
                        best = c;
                        arg = i;
                    }
                }
            }
            w->fwd[s][j] = best + w->r->node_cost[d].total;
            w->back[s][j] = arg;
        }
    for (size_t s = S; s-- > 0;)
        for (size_t j = 0; j < w->cand_count[s]; j++) {
            size_t d = w->cand[s][j];
            double best = 0;
            if (s + 1 < S) {
                best = HUGE_VAL;
                for (size_t k = 0; k < w->cand_count[s + 1]; k++) {
                    double c = w->bwd[s + 1][k] + edge_cost(p, s + 1, d, w->cand[s + 1][k]);
                    if (c < best)
                        best = c;
                }
            }
            w->bwd[s][j] = best + w->r->node_cost[d].total;
        }
    return true;
}

static void record(work *w)
{
    const solver_problem *p = w->p;
    solver_result *r = w->r;
    size_t S = p->step_count, last = 0;
    for (size_t j = 1; j < w->cand_count[S - 1]; j++)
        if (w->fwd[S - 1][j] < w->fwd[S - 1][last])
            last = j;
    r->total_cost = w->fwd[S - 1][last];
    size_t j = last;
    for (size_t s = S; s-- > 0;) {
        r->placement[s] = w->cand[s][j];
        j = w->back[s][j];
    }
    for (size_t s = 0; s < S; s++) {
        r->edge_cost[s] = s ? edge_cost(p, s, r->placement[s - 1], r->placement[s]) : 0;
        for (size_t k = 0; k < w->cand_count[s]; k++) {
            size_t d = w->cand[s][k];
            solver_judgement *jd = &r->judgements[s * p->device_count + d];
            jd->chain_cost = w->fwd[s][k] + w->bwd[s][k] - r->node_cost[d].total;
            jd->verdict = d == r->placement[s] ? SOLVER_CHOSEN : SOLVER_SCORED_LOWER;
        }
    }
}

static void free_work(work *w)
{
    for (size_t s = 0; s < w->p->step_count; s++) {
        if (w->cand)
            free(w->cand[s]);
        if (w->fwd)
            free(w->fwd[s]);
        if (w->bwd)
            free(w->bwd[s]);
        if (w->back)
            free(w->back[s]);
    }
    free(w->cand);
    free(w->cand_count);
    free(w->base_count);
    free(w->fwd);
    free(w->bwd);
    free(w->back);
}

static bool allocate(const solver_problem *p, solver_result *r, work *w)
{
    size_t S = p->step_count, D = p->device_count;
    *r = (solver_result){.step_count = S, .device_count = D, .exact = true};
    r->placement = calloc(S, sizeof *r->placement);
    r->edge_cost = calloc(S, sizeof *r->edge_cost);
    r->node_cost = calloc(D + 1, sizeof *r->node_cost);
    r->judgements = calloc(S * D + 1, sizeof *r->judgements);
    r->candidate_count = calloc(S, sizeof *r->candidate_count);
    r->cutoff_cost = calloc(S, sizeof *r->cutoff_cost);
    *w = (work){.p = p, .r = r};
    w->cand = calloc(S, sizeof *w->cand);
    w->cand_count = calloc(S, sizeof *w->cand_count);
    w->base_count = calloc(S, sizeof *w->base_count);
    w->fwd = calloc(S, sizeof *w->fwd);
    w->bwd = calloc(S, sizeof *w->bwd);
    w->back = calloc(S, sizeof *w->back);
    return r->placement && r->edge_cost && r->node_cost && r->judgements &&
           r->candidate_count && r->cutoff_cost && w->cand && w->cand_count &&
           w->base_count && w->fwd && w->bwd && w->back;
}

bool solver_solve(const solver_problem *p, solver_result *r, char *err, size_t err_size)
{
    if (p->step_count == 0) {
        *r = (solver_result){0};
        snprintf(err, err_size, "the manifest has no steps: give sequence at least one "
                 "{\"module\", \"func\"}");
        return false;
    }
    work w;
    bool ok = allocate(p, r, &w);
    if (!ok)
        snprintf(err, err_size, "out of memory while solving");
    for (size_t d = 0; ok && d < p->device_count; d++)
        r->node_cost[d] = node_cost(&p->weights, &p->devices[d]);
    ok = ok && choose_candidates(&w, err, err_size);
    if (ok && !p->distance) {
        ok = solver_separable_search(p, r);
        if (!ok)
            snprintf(err, err_size, "out of memory while solving");
        free_work(&w);
        if (!ok)
            solver_result_free(r);
        return ok;
    }
    if (ok) {
        add_neighbours(&w);
        ok = search(&w);
        if (!ok)
            snprintf(err, err_size, "out of memory while solving");
    }
    if (ok)
        record(&w);
    free_work(&w);
    if (!ok)
        solver_result_free(r);
    return ok;
}

void solver_result_free(solver_result *r)
{
    if (!r)
        return;
    free(r->placement);
    free(r->edge_cost);
    free(r->node_cost);
    free(r->judgements);
    free(r->candidate_count);
    free(r->cutoff_cost);
    *r = (solver_result){0};
}
