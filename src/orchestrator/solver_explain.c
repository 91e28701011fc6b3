/*
 * solver_explain.c — why each device was chosen, scored lower or rejected, in
 * sentences a user reads on GET /file/manifest/{id}, the CLI and the dashboard.
 */
#include "orchestrator/solver_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "CPU 10% 10.0, memory 30% 15.0, round trip 2.1 ms 2.1" */
static void cost_parts(const solver_problem *p, size_t dev, const solver_node_cost *c,
                       char *out, size_t size)
{
    const solver_device *d = &p->devices[dev];
    size_t n = 0;
#define ADD(...) \
    do { \
        if (n < size) \
            n += (size_t)snprintf(out + n, size - n, __VA_ARGS__); \
    } while (0)
    if (d->cpu_usage >= 0)
        ADD("CPU %.0f%% %.1f, ", 100 * (d->cpu_usage > 1 ? 1 : d->cpu_usage), c->cpu);
    if (d->memory_usage >= 0)
        ADD("memory %.0f%% %.1f, ", 100 * (d->memory_usage > 1 ? 1 : d->memory_usage),
            c->memory);
    if (c->unknown > 0)
        ADD("no health report %.1f, ", c->unknown);
    if (d->rtt_ms >= 0 && !isnan(d->rtt_ms))
        ADD("round trip %.1f ms %.1f", d->rtt_ms, c->rtt);
    else
        ADD("round trip not measured yet (%.0f ms assumed) %.1f", p->weights.unknown_rtt_ms,
            c->rtt);
#undef ADD
}

static void hop_sentence(const solver_problem *p, const solver_result *r, size_t s, char *out,
                         size_t size)
{
    if (s == 0) {
        out[0] = '\0';
        return;
    }
    const solver_device *prev = &p->devices[r->placement[s - 1]];
    if (r->placement[s - 1] == r->placement[s])
        snprintf(out, size, "; no hop from step %zu (same device)", s);
    else
        snprintf(out, size, "; the hop from step %zu on '%s' (a %s) costs %.1f", s,
                 solver_device_label(prev),
                 p->steps[s - 1].output == SOLVER_DATA_FILE ? "file" : "number",
                 r->edge_cost[s]);
}

void solver_reason(const solver_problem *p, const solver_result *r, size_t s, size_t dev,
                   char *out, size_t size)
{
    const solver_judgement *j = &r->judgements[s * p->device_count + dev];
    const solver_node_cost *c = &r->node_cost[dev];
    char parts[256], hop[256], why[320];
    switch (j->verdict) {
    case SOLVER_CHOSEN:
        cost_parts(p, dev, c, parts, sizeof parts);
        hop_sentence(p, r, s, hop, sizeof hop);
        snprintf(out, size, "chosen%s: costs %.1f here (%s)%s; the whole chain costs %.1f",
                 p->steps[s].pinned_device ? " (the manifest names this device)" : "",
                 c->total, parts, hop, r->total_cost);
        return;
    case SOLVER_SCORED_LOWER:
        cost_parts(p, dev, c, parts, sizeof parts);
        snprintf(out, size, "scored lower: the best chain with this step here costs %.1f, "
                 "%.1f more than the chosen one; it costs %.1f here (%s)", j->chain_cost,
                 j->chain_cost - r->total_cost, c->total, parts);
        return;
    case SOLVER_NOT_CONSIDERED:
        snprintf(out, size, "scored lower: it costs %.1f here, not among the %zu best "
                 "candidates for the joint search (the last kept costs %.1f)", c->total,
                 p->weights.max_candidates, r->cutoff_cost[s]);
        return;
    default:
        solver_rejection_sentence(p, s, dev, j, why, sizeof why);
        snprintf(out, size, "rejected: %s", why);
        return;
    }
}

/* ---- ordering the others of a step: best first */

typedef struct order_context {
    const solver_problem *p;
    const solver_result *r;
    size_t step;
} order_context;

static _Thread_local const order_context *tls_order;

static int rank(solver_verdict v)
{
    return v == SOLVER_SCORED_LOWER ? 0 : v == SOLVER_NOT_CONSIDERED ? 1 : 2;
}

static int compare_others(const void *a, const void *b)
{
    const order_context *o = tls_order;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    const solver_judgement *jx = &o->r->judgements[o->step * o->p->device_count + x];
    const solver_judgement *jy = &o->r->judgements[o->step * o->p->device_count + y];
    int rx = rank(jx->verdict), ry = rank(jy->verdict);
    if (rx != ry)
        return rx - ry;
    double cx = rx == 0 ? jx->chain_cost : o->r->node_cost[x].total;
    double cy = ry == 0 ? jy->chain_cost : o->r->node_cost[y].total;
    if (rx < 2 && cx != cy)
        return cx < cy ? -1 : 1;
    if (rx == 2 && jx->verdict != jy->verdict)
        return (int)jx->verdict - (int)jy->verdict;
    return strcmp(o->p->devices[x].id, o->p->devices[y].id);
}

static json_t *device_entry(const solver_problem *p, const solver_result *r, size_t s,
                            size_t dev)
{
    char reason[768];
    solver_reason(p, r, s, dev, reason, sizeof reason);
    const solver_device *d = &p->devices[dev];
    return json_pack("{s:s, s:s?, s:s, s:s}", "device", d->id, "deviceName", d->name,
                     "verdict", solver_verdict_name(r->judgements[s * p->device_count + dev].verdict),
                     "reason", reason);
}

static json_t *explain_step(const solver_problem *p, const solver_result *r, size_t s,
                            size_t max_others, size_t *scratch)
{
    size_t chosen = r->placement[s], n = 0;
    for (size_t d = 0; d < p->device_count; d++)
        if (d != chosen)
            scratch[n++] = d;
    order_context context = {p, r, s};
    tls_order = &context;
    qsort(scratch, n, sizeof *scratch, compare_others);
    json_t *others = json_array();
    size_t shown = n < max_others ? n : max_others;
    for (size_t i = 0; i < shown; i++)
        json_array_append_new(others, device_entry(p, r, s, scratch[i]));
    char reason[768];
    solver_reason(p, r, s, chosen, reason, sizeof reason);
    const solver_node_cost *c = &r->node_cost[chosen];
    const solver_step *step = &p->steps[s];
    return json_pack("{s:I, s:s, s:s, s:s, s:s?, s:s, s:{s:f, s:f, s:f, s:f, s:f, s:f}, "
                     "s:I, s:o, s:I}",
                     "step", (json_int_t)s, "module", step->module, "function", step->function,
                     "device", p->devices[chosen].id, "deviceName", p->devices[chosen].name,
                     "reason", reason, "cost", "node", c->total, "cpu", c->cpu, "memory",
                     c->memory, "rtt", c->rtt, "unknown", c->unknown, "hop", r->edge_cost[s],
                     "candidates", (json_int_t)r->candidate_count[s], "others", others,
                     "othersOmitted", (json_int_t)(n - shown));
}

json_t *solver_explain(const solver_problem *p, const solver_result *r, size_t max_others)
{
    size_t *scratch = malloc((p->device_count + 1) * sizeof *scratch);
    json_t *steps = json_array();
    if (!scratch || !steps) {
        free(scratch);
        json_decref(steps);
        return NULL;
    }
    for (size_t s = 0; s < r->step_count; s++) {
        json_t *step = explain_step(p, r, s, max_others, scratch);
        if (!step || json_array_append_new(steps, step)) {
            free(scratch);
            json_decref(steps);
            return NULL;
        }
    }
    free(scratch);
    return steps;
}
