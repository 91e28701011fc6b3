/*
 * solver.h — places a chain of steps on devices, the whole chain at once.
 *
 * A pure unit: plain inputs (the candidate devices with their facts, the steps with
 * what their modules need), no store, no network, no clock, so it is tested and
 * benchmarked on its own and gives the same answer for the same facts.
 *
 * 1. Filter, per step and device: the device is active and not blacklisted; every
 *    import of the module is offered (an entry "module.name" of supervisorInterfaces
 *    matches module and name; a bare entry "name" matches by name only, as the
 *    Wasm-IoT orchestrator does); the capabilities the module needs are declared by
 *    the device (a device that declares no capabilities at all — a reference
 *    supervisor — is trusted by its interfaces); the device's free memory holds the
 *    module's minimum memory; and, for a step the manifest pins, it is that device.
 * 2. Score each device (a cost, lower is better): CPU load, memory load and the
 *    round-trip time the health loop measured; unknown facts cost a fixed penalty.
 * 3. Place jointly: the chain's cost is the sum of its steps' node costs plus an edge
 *    cost for each hop between consecutive steps on different devices (a file weighs
 *    more than a number; a far device costs more than a near one). The cheapest chain
 *    is a shortest path through layers of devices, one layer per step:
 *    - With distances from round-trip times (no distance callback: a hop a -> b is a
 *      round trip through the orchestrator, hop_ms + rtt(a) + rtt(b)), the hop cost
 *      splits into a part of a and a part of b, so each layer costs O(devices): the
 *      search is exact over every device that passed the filter (solver_separable.c).
 *    - With a distance callback (a measured matrix), dynamic programming over steps x
 *      candidates^2, the candidates being the best max_candidates by node cost plus
 *      every candidate of a neighbouring step that passes, so keeping two steps
 *      together is always on the table. A device whose node cost exceeds the step's
 *      best by more than the largest edge cost can never be part of an optimal chain,
 *      so the cut only matters (result->exact false) when more than max_candidates
 *      devices are within that margin of each other.
 *
 * Ties are broken by device id, so the input order of devices never changes the answer.
 */
#ifndef LIQUID_ORCHESTRATOR_SOLVER_H
#define LIQUID_ORCHESTRATOR_SOLVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum solver_data {
    SOLVER_DATA_NONE = 0,   /* nothing flows on (the last step) */
    SOLVER_DATA_NUMBER,     /* a JSON number, sent as the next step's first parameter */
    SOLVER_DATA_FILE,       /* an output mount, sent as a multipart file */
} solver_data;

typedef struct solver_import {
    const char *module;     /* "wasi_snapshot_preview1", "camera", ... */
    const char *name;       /* "fd_write", "takeImageStaticSize", ... */
} solver_import;

typedef struct solver_device {
    const char *id;         /* unique */
    const char *name;
    const char *state;      /* "active", "suspect", "lost", ... (only "active" passes) */
    bool blacklisted;
    bool leaving;           /* draining: only steps pinned to it may stay; no new ones */
    const char *const *interfaces;      /* supervisorInterfaces */
    size_t interface_count;
    bool declares_capabilities;         /* the description has a capabilities object */
    const char *const *capabilities;    /* the names declared present */
    size_t capability_count;
    uint64_t memory_total_bytes;        /* 0: unknown */
    double cpu_usage;       /* 0..1 from the latest health report; negative: unknown */
    double memory_usage;    /* 0..1; negative: unknown */
    double rtt_ms;          /* orchestrator <-> device, from the health loop; negative: unknown */
} solver_device;

typedef struct solver_step {
    const char *module;                 /* the module's name, for reasons */
    const char *function;
    const solver_import *imports;       /* the module's function imports */
    size_t import_count;
    const char *const *capabilities;    /* capabilities the module needs (camera, ...) */
    size_t capability_count;
    uint64_t min_memory_bytes;          /* the module's initial linear memory */
    const char *pinned_device;          /* a device id the step must run on; NULL: choose */
    const char *leaving_device;         /* a device id the step is migrating off; NULL: none */
    solver_data output;                 /* what flows to the next step */
} solver_step;

/* Costs, in one unit ("points"); solver_default_weights() gives the defaults. */
typedef struct solver_weights {
    double cpu;             /* per unit of CPU load (0..1) */
    double memory;          /* per unit of memory load (0..1) */
    double rtt_per_ms;      /* per millisecond of round-trip time */
    double rtt_cap_ms;      /* round-trip times above this count as this */
    double unknown_health;  /* a device without a health report */
    double unknown_rtt_ms;  /* the round-trip time assumed when none was measured */
    double hop_ms;          /* the fixed cost of a hop between two devices, in ms */
    double number_edge;     /* per ms of hop distance, when a number flows */
    double file_edge;       /* per ms of hop distance, when a file flows */
    size_t max_candidates;  /* per step, before pairwise edges (distance callback only) */
} solver_weights;

solver_weights solver_default_weights(void);

/* The distance in ms between two devices, by index into the problem's devices;
 * negative when unknown (then it is estimated as a round trip through the
 * orchestrator: hop_ms + rtt(a) + rtt(b)). Never called with a == b. */
typedef double (*solver_distance_fn)(void *user, size_t a, size_t b);

typedef struct solver_problem {
    const solver_device *devices;
    size_t device_count;
    const solver_step *steps;
    size_t step_count;
    solver_weights weights;
    solver_distance_fn distance;    /* may be NULL */
    void *distance_user;
} solver_problem;

/* Why a device was not chosen for a step, most decisive first. */
typedef enum solver_verdict {
    SOLVER_CHOSEN = 0,
    SOLVER_SCORED_LOWER,        /* passed, but the chain costs more with it */
    SOLVER_NOT_CONSIDERED,      /* passed, but not among the best candidates */
    SOLVER_REJECT_NOT_PINNED,   /* the manifest names another device for this step */
    SOLVER_REJECT_MOVING_AWAY,  /* the step is being migrated off this device */
    SOLVER_REJECT_BLACKLISTED,
    SOLVER_REJECT_NOT_ACTIVE,
    SOLVER_REJECT_MISSING_IMPORT,
    SOLVER_REJECT_MISSING_CAPABILITY,
    SOLVER_REJECT_MEMORY,
} solver_verdict;

const char *solver_verdict_name(solver_verdict verdict);   /* "rejected: missing import" ... */

/* One device's fate at one step. */
typedef struct solver_judgement {
    solver_verdict verdict;
    size_t missing;             /* import or capability index of the step, for reasons */
    size_t missing_count;       /* how many imports are missing */
    double chain_cost;          /* the best chain with this step here; HUGE_VAL if none */
} solver_judgement;

/* A device's node cost and what it is made of. */
typedef struct solver_node_cost {
    double total, cpu, memory, rtt, unknown;
} solver_node_cost;

typedef struct solver_result {
    size_t step_count, device_count;
    size_t *placement;              /* the chosen device index of each step */
    double total_cost;
    double *edge_cost;              /* edge_cost[s]: the hop from step s-1 into s (0 for s = 0) */
    solver_node_cost *node_cost;    /* per device */
    solver_judgement *judgements;   /* [step * device_count + device] */
    size_t *candidate_count;        /* per step: the candidates the joint search used */
    double *cutoff_cost;            /* per step: the node cost of the last candidate kept by
                                     * the cut, HUGE_VAL when nothing was cut */
    bool exact;                     /* false if the candidate cut may have hidden a better chain */
} solver_result;

/* Solves; false with a sentence in err when a step has no device that can run it
 * (naming the step and, for each rejected device up to a few, why), or when a pinned
 * device cannot run its step (naming the device and the reason). */
bool solver_solve(const solver_problem *problem, solver_result *result, char *err,
                  size_t err_size);
void solver_result_free(solver_result *result);

/* Whether one device passes one step's filter; when it does not, a sentence saying
 * why ("it does not offer the imports camera.takeImageStaticSize") goes to why. */
bool solver_device_fits(const solver_problem *problem, size_t step, size_t device, char *why,
                        size_t why_size);

/* The sentence for one judgement: "chosen: ...", "rejected: ...", "scored lower: ...". */
void solver_reason(const solver_problem *problem, const solver_result *result, size_t step,
                   size_t device, char *out, size_t out_size);

/* The placement with its reasons, as stored and shown by GET /file/manifest/{id}:
 * [{"step", "module", "function", "device", "deviceName", "reason", "cost": {...},
 *   "others": [{"device", "deviceName", "verdict", "reason"}], "othersOmitted"}]
 * Others are listed best first (scored lower, then not considered, then rejected),
 * at most max_others per step (the rest are counted). */
json_t *solver_explain(const solver_problem *problem, const solver_result *result,
                       size_t max_others);

/* ---- chain typing: can step i's output feed step i + 1? */

typedef struct solver_signature {
    const char *module, *function;      /* for messages */
    const char *const *param_types;     /* "integer", "float", ... in order */
    size_t param_count;
    const char *const *execution_mounts;
    size_t execution_mount_count;
    const char *output_type;            /* "integer", "float", or a file media type */
    const char *output_mount;           /* the output mount's name when a file; else NULL */
} solver_signature;

/* What flows out of a function with this signature (number or file). */
solver_data solver_output_data(const solver_signature *signature);

/* Checks every hop; false with a sentence naming both steps when step i's output
 * cannot be step i+1's input: a number needs a numeric first parameter (a float
 * does not fit an integer one) and no further parameters or execution mounts; a file
 * needs an execution mount of the same name and no parameters. */
bool solver_check_chain(const solver_signature *steps, size_t count, char *err,
                        size_t err_size);

#endif
