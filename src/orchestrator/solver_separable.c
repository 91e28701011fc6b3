/*
 * solver_separable.c — the exact joint search when the distance between two devices
 * is the round trip through the orchestrator (solver.h, no distance callback).
 *
 * Then the cost of a hop from device a to another device b is
 *
 *     weight x (hop_ms + rtt(a) + rtt(b)),        and 0 when a == b,
 *
 * a sum of a part of a and a part of b. The best way to reach device b at step s from
 * any *other* device is therefore the best value of (cost so far + weight x (hop_ms +
 * rtt(a))) over the previous step's devices, plus weight x rtt(b): one pass finds the
 * best and the second best (for b itself being the best), and each device then costs
 * O(1). Staying on the same device is the other choice. The whole chain is so placed
 * exactly over every device that passed the filter in O(steps x devices), with no
 * candidate cut; the backward pass does the same from the end, so the best chain
 * through each (step, device) is known too, for the reasons.
 *
 * Ties are broken by device id, never by the order devices were listed in.
 */
#include "orchestrator/solver_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct best_two {
    double value1, value2;
    size_t device1, device2;    /* SIZE_MAX when there is none */
} best_two;

static bool before(const solver_problem *p, double v, size_t d, double w, size_t e)
{
    if (v != w)
        return v < w;
    return e == SIZE_MAX || strcmp(p->devices[d].id, p->devices[e].id) < 0;
}

static void consider(const solver_problem *p, best_two *b, double v, size_t d)
{
    if (before(p, v, d, b->value1, b->device1)) {
        b->value2 = b->value1;
        b->device2 = b->device1;
        b->value1 = v;
        b->device1 = d;
    } else if (before(p, v, d, b->value2, b->device2)) {
        b->value2 = v;
        b->device2 = d;
    }
}

static double weight_after(const solver_problem *p, size_t s)
{
    return p->steps[s].output == SOLVER_DATA_FILE ? p->weights.file_edge
                                                  : p->weights.number_edge;
}

/* The best and second best of (cost[d] + weight x (hop + rtt(d))) over one step. */
static best_two best_leaving(const solver_problem *p, const double *cost, const double *rtt,
                             double weight)
{
    best_two b = {HUGE_VAL, HUGE_VAL, SIZE_MAX, SIZE_MAX};
    for (size_t d = 0; d < p->device_count; d++)
        if (cost[d] < HUGE_VAL)
            consider(p, &b, cost[d] + weight * (p->weights.hop_ms + rtt[d]), d);
    return b;
}

/* One layer: out[d] = node(d) + min(stay on d, come from the best other device). */
static void layer(const solver_problem *p, const solver_result *r, size_t s, const double *from,
                  const double *rtt, double weight, double *out, size_t *back)
{
    best_two b = best_leaving(p, from, rtt, weight);
    const solver_judgement *j = &r->judgements[s * p->device_count];
    for (size_t d = 0; d < p->device_count; d++) {
        out[d] = HUGE_VAL;
        if (j[d].verdict != SOLVER_SCORED_LOWER)
            continue;
        bool other_is_second = d == b.device1;
        double other = (other_is_second ? b.value2 : b.value1) + weight * rtt[d];
        size_t other_device = other_is_second ? b.device2 : b.device1;
        double stay = from[d];
        if (stay <= other) {
            out[d] = stay;
            if (back)
                back[d] = d;
        } else {
            out[d] = other;
            if (back)
                back[d] = other_device;
        }
        if (out[d] < HUGE_VAL)
            out[d] += r->node_cost[d].total;
    }
}

bool solver_separable_search(const solver_problem *p, solver_result *r)
{
    size_t S = p->step_count, D = p->device_count;
    double *fwd = malloc((S * D + 1) * sizeof *fwd);
    double *bwd = malloc((S * D + 1) * sizeof *bwd);
    size_t *back = malloc((S * D + 1) * sizeof *back);
    double *rtt = malloc((D + 1) * sizeof *rtt);
    if (!fwd || !bwd || !back || !rtt) {
        free(fwd);
        free(bwd);
        free(back);
        free(rtt);
        return false;
    }
    for (size_t d = 0; d < D; d++) {
        rtt[d] = solver_capped_rtt(&p->weights, p->devices[d].rtt_ms);
        bool passes = r->judgements[d].verdict == SOLVER_SCORED_LOWER;
        fwd[d] = passes ? r->node_cost[d].total : HUGE_VAL;
        bwd[(S - 1) * D + d] = r->judgements[(S - 1) * D + d].verdict == SOLVER_SCORED_LOWER
                                   ? r->node_cost[d].total
                                   : HUGE_VAL;
    }
    for (size_t s = 1; s < S; s++)
        layer(p, r, s, fwd + (s - 1) * D, rtt, weight_after(p, s - 1), fwd + s * D,
              back + s * D);
    for (size_t s = S - 1; s-- > 0;)
        layer(p, r, s, bwd + (s + 1) * D, rtt, weight_after(p, s), bwd + s * D, NULL);

    /* The end of the best chain, then back along it. */
    size_t last = SIZE_MAX;
    for (size_t d = 0; d < D; d++)
        if (fwd[(S - 1) * D + d] < HUGE_VAL &&
            (last == SIZE_MAX || before(p, fwd[(S - 1) * D + d], d, fwd[(S - 1) * D + last], last)))
            last = d;
    if (last == SIZE_MAX) {     /* cannot be: every step has a device that passed */
        free(fwd);
        free(bwd);
        free(back);
        free(rtt);
        return false;
    }
    r->total_cost = fwd[(S - 1) * D + last];
    size_t d = last;
    for (size_t s = S; s-- > 0;) {
        r->placement[s] = d;
        if (s > 0)
            d = back[s * D + d];
    }
    for (size_t s = 0; s < S; s++) {
        size_t here = r->placement[s];
        r->edge_cost[s] = s == 0 || r->placement[s - 1] == here
                              ? 0
                              : weight_after(p, s - 1) *
                                    (p->weights.hop_ms + rtt[r->placement[s - 1]] + rtt[here]);
        for (size_t e = 0; e < D; e++) {
            solver_judgement *j = &r->judgements[s * D + e];
            if (j->verdict != SOLVER_SCORED_LOWER)
                continue;
            double f = fwd[s * D + e], b = bwd[s * D + e];
            j->chain_cost = f < HUGE_VAL && b < HUGE_VAL ? f + b - r->node_cost[e].total
                                                         : HUGE_VAL;
        }
        r->judgements[s * D + here].verdict = SOLVER_CHOSEN;
    }
    free(fwd);
    free(bwd);
    free(back);
    free(rtt);
    return true;
}
