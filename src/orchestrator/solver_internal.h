/*
 * solver_internal.h — what the solver's files share (not for other parts).
 */
#ifndef LIQUID_ORCHESTRATOR_SOLVER_INTERNAL_H
#define LIQUID_ORCHESTRATOR_SOLVER_INTERNAL_H

#include "orchestrator/solver.h"

/* The filter of one step over every device, with the imports matched through a
 * table of the names the steps need (one hash per interface entry, instead of a
 * string comparison per import and entry). */
typedef struct solver_filter solver_filter;

solver_filter *solver_filter_new(const solver_problem *problem);
void solver_filter_free(solver_filter *filter);
/* Fills j (verdict, missing) for one step and device; the verdict is SOLVER_CHOSEN
 * for a device that passes (the caller refines it). */
void solver_filter_judge(const solver_filter *filter, size_t step, size_t device,
                         solver_judgement *j);

/* The same decision for one device without the table (failover checks, messages). */
void solver_filter_judge_one(const solver_problem *problem, size_t step, size_t device,
                             solver_judgement *j);

/* True for the verdicts that mean "passed the filter". */
static inline bool solver_verdict_passes(solver_verdict v)
{
    return v == SOLVER_CHOSEN || v == SOLVER_SCORED_LOWER || v == SOLVER_NOT_CONSIDERED;
}

/* "rejected: it does not offer the import camera.takeImageStaticSize (and 2 more)" */
void solver_rejection_sentence(const solver_problem *problem, size_t step, size_t device,
                               const solver_judgement *j, char *out, size_t out_size);

/* A round-trip time as costs count it: unknown ones assumed, long ones capped. */
double solver_capped_rtt(const solver_weights *w, double rtt_ms);

/* The joint search when distances are round trips through the orchestrator (no
 * distance callback): exact over every device that passed the filter, in
 * O(steps x devices). The judgements of passing devices must be SOLVER_SCORED_LOWER;
 * fills placement, total_cost, edge_cost, chain costs and the chosen verdicts. */
bool solver_separable_search(const solver_problem *p, solver_result *r);

/* The device's label in messages: 'name' (or 'id' when it has no name). */
const char *solver_device_label(const solver_device *device);

#endif
