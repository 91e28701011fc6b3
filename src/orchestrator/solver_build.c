/*
 * solver_build.c — the solver's plain inputs, from the fleet's snapshot and the steps'
 * functions (see placement.h). Everything the solver reads points into the snapshot
 * and the step functions, which outlive the solve.
 */
#include "orchestrator/placement.h"
#include "orchestrator/migration.h"

#include "orchestrator/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A capability counts as declared when its value says "present": true, a non-zero
 * number, a non-empty object or array, or a string other than none/false/no/off. */
static bool capability_present(const json_t *value)
{
    if (json_is_true(value))
        return true;
    if (json_is_number(value))
        return json_number_value(value) != 0;
    if (json_is_object(value))
        return json_object_size(value) > 0;
    if (json_is_array(value))
        return json_array_size(value) > 0;
    if (json_is_string(value)) {
        const char *s = json_string_value(value);
        return *s && strcasecmp(s, "none") && strcasecmp(s, "false") && strcasecmp(s, "no") &&
               strcasecmp(s, "off") && strcmp(s, "0");
    }
    return false;
}

/* platform.memory.totalBytes (Rust reference, Liquid) or .bytes (Python reference). */
static uint64_t total_memory(const json_t *description)
{
    json_t *memory = json_object_get(json_object_get(description, "platform"), "memory");
    json_t *v = json_object_get(memory, "totalBytes");
    if (!json_is_number(v))
        v = json_object_get(memory, "bytes");
    double bytes = json_is_number(v) ? json_number_value(v) : 0;
    return bytes > 0 ? (uint64_t)bytes : 0;
}

static size_t count_strings(const device_view *views, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += json_array_size(json_object_get(views[i].description, "supervisorInterfaces")) +
                 json_object_size(json_object_get(views[i].description, "capabilities"));
    return total;
}

static void fill_device(const device_view *v, solver_device *d, const char ***cursor)
{
    json_t *interfaces = json_object_get(v->description, "supervisorInterfaces");
    json_t *capabilities = json_object_get(v->description, "capabilities");
    *d = (solver_device){
        .id = v->id,
        .name = v->name,
        .state = device_state_name(v->state),
        .blacklisted = v->blacklisted,
        .declares_capabilities = json_is_object(capabilities),
        .memory_total_bytes = total_memory(v->description),
        .cpu_usage = v->health ? v->cpu : -1,
        .memory_usage = v->health ? v->memory : -1,
        .rtt_ms = v->health && v->rtt_ms > 0 ? v->rtt_ms : -1,
    };
    d->interfaces = *cursor;
    size_t i;
    json_t *value;
    json_array_foreach(interfaces, i, value)
        if (json_is_string(value))
            (*cursor)[d->interface_count++] = json_string_value(value);
    *cursor += d->interface_count;
    d->capabilities = *cursor;
    const char *key;
    json_object_foreach(capabilities, key, value)
        if (capability_present(value))
            (*cursor)[d->capability_count++] = key;
    *cursor += d->capability_count;
}

bool placement_problem_build(orchestrator *o, const step_function *functions, size_t count,
                             const char *const *pins, placement_problem *out, char *err,
                             size_t err_size)
{
    *out = (placement_problem){0};
    out->view_count = fleet_snapshot(o->fleet, &out->views);
    size_t n = out->view_count;
    const char **strings = calloc(count_strings(out->views, n) + 1, sizeof *strings);
    out->devices = calloc(n + 1, sizeof *out->devices);
    out->steps = calloc(count + 1, sizeof *out->steps);
    out->storage = strings;
    if (!strings || !out->devices || !out->steps) {
        snprintf(err, err_size, "out of memory");
        placement_problem_free(out);
        return false;
    }
    const char **cursor = strings;
    for (size_t i = 0; i < n; i++) {
        fill_device(&out->views[i], &out->devices[i], &cursor);
        /* being drained: steps already there stay (pinned) until they move */
        out->devices[i].leaving = placement_is_leaving(o->placement, out->views[i].id);
    }
    for (size_t s = 0; s < count; s++) {
        const step_function *f = &functions[s];
        out->steps[s] = (solver_step){
            .module = f->module_name,
            .function = f->func,
            .imports = f->imports,
            .import_count = f->import_count,
            .capabilities = f->capabilities,
            .capability_count = f->capability_count,
            .min_memory_bytes = f->min_memory_bytes,
            .pinned_device = pins ? pins[s] : NULL,
            .leaving_device = placement_step_leaving(o->placement, s),
            .output = s + 1 < count ? solver_output_data(&(solver_signature){
                                          .output_type = f->output_type,
                                          .output_mount = f->output_mount})
                                    : SOLVER_DATA_NONE,
        };
    }
    out->problem = (solver_problem){
        .devices = out->devices,
        .device_count = n,
        .steps = out->steps,
        .step_count = count,
        .weights = solver_default_weights(),
    };
    return true;
}

void placement_problem_free(placement_problem *pp)
{
    if (!pp)
        return;
    fleet_views_free(pp->views, pp->view_count);
    free(pp->devices);
    free(pp->steps);
    free(pp->storage);
    *pp = (placement_problem){0};
}

const device_view *placement_problem_view(const placement_problem *pp, const solver_result *r,
                                          size_t step)
{
    return &pp->views[r->placement[step]];
}

json_t *placement_problem_explain(const placement_problem *pp, const solver_result *r)
{
    char now[32];
    store_now_iso(now);
    json_t *steps = solver_explain(&pp->problem, r, 20);
    if (!steps)
        return NULL;
    return json_pack("{s:f, s:b, s:s, s:I, s:o}", "totalCost", r->total_cost, "exact", r->exact,
                     "solvedAt", now, "devicesConsidered", (json_int_t)pp->view_count, "steps",
                     steps);
}
