/*
 * manifest_solve.c — from a posted manifest to a deployment document: look every
 * reference up (modules and devices by id or name), check each function and the
 * chain's types, solve, build the nodes. Nothing is stored here; the caller stores
 * the document in one transaction, so a refused manifest leaves nothing behind.
 */
#define _GNU_SOURCE
#include "orchestrator/placement.h"

#include "base/ids.h"
#include "orchestrator/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool chain_load_functions(orchestrator *o, const char *const *modules,
                          const char *const *funcs, size_t count, step_function **out,
                          char *err, size_t err_size)
{
    step_function *f = calloc(count + 1, sizeof *f);
    if (!f) {
        snprintf(err, err_size, "out of memory");
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        json_t *module = NULL;
        char why[512];
        store_result r = store_module_get(o->store, modules[i], &module, why, sizeof why);
        if (r != STORE_OK) {
            if (r == STORE_NOT_FOUND)
                snprintf(err, err_size, "sequence[%zu].module: no module '%s' (by id or name): "
                         "upload it first with POST /file/module", i, modules[i]);
            else
                snprintf(err, err_size, "sequence[%zu].module: %s", i, why);
            chain_functions_free(f, i);
            return false;
        }
        bool ok = step_function_load(module, funcs[i], &f[i], why, sizeof why);
        json_decref(module);
        if (!ok) {
            snprintf(err, err_size, "sequence[%zu].func: %s", i, why);
            chain_functions_free(f, i);
            return false;
        }
        f[i].min_memory_bytes = placement_module_min_memory(o, f[i].module);
    }
    *out = f;
    return true;
}

void chain_functions_free(step_function *functions, size_t count)
{
    if (!functions)
        return;
    for (size_t i = 0; i < count; i++)
        step_function_clear(&functions[i]);
    free(functions);
}

static bool check_chain(const step_function *f, size_t count, char *err, size_t err_size)
{
    solver_signature *sig = calloc(count + 1, sizeof *sig);
    if (!sig) {
        snprintf(err, err_size, "out of memory");
        return false;
    }
    for (size_t i = 0; i < count; i++)
        sig[i] = step_function_signature(&f[i]);
    bool ok = solver_check_chain(sig, count, err, err_size);
    free(sig);
    return ok;
}

bool chain_place(orchestrator *o, const char *deployment_id, const step_function *functions,
                 size_t count, const char *const *pins, placed_chain *out, char *err,
                 size_t err_size)
{
    *out = (placed_chain){0};
    placement_problem pp;
    if (!placement_problem_build(o, functions, count, pins, &pp, err, err_size))
        return false;
    solver_result r;
    if (!solver_solve(&pp.problem, &r, err, err_size)) {
        placement_problem_free(&pp);
        return false;
    }
    node_step *steps = calloc(count + 1, sizeof *steps);
    json_t *aliases = NULL;
    bool ok = steps != NULL;
    for (size_t s = 0; ok && s < count; s++) {
        const device_view *v = placement_problem_view(&pp, &r, s);
        steps[s] = (node_step){&functions[s], v->id, v->url ? v->url : ""};
    }
    if (ok)
        out->nodes = deployer_build_nodes(deployment_id, steps, count, o->settings.public_url,
                                          &aliases, err, err_size);
    ok = ok && out->nodes;
    if (ok) {
        out->sequence = json_array();
        for (size_t s = 0; s < count; s++)
            json_array_append_new(
                out->sequence,
                json_pack("{s:s, s:s, s:s, s:s, s:O}", "device", steps[s].device_id, "module",
                          functions[s].module_id, "func", functions[s].func, "moduleName",
                          functions[s].module_name, "alias", json_array_get(aliases, s)));
        out->placement = placement_problem_explain(&pp, &r);
        ok = out->sequence && out->placement;
    }
    if (!ok && !err[0])
        snprintf(err, err_size, "out of memory");
    json_decref(aliases);
    free(steps);
    solver_result_free(&r);
    placement_problem_free(&pp);
    if (!ok)
        placed_chain_clear(out);
    return ok;
}

void placed_chain_clear(placed_chain *c)
{
    json_decref(c->sequence);
    json_decref(c->nodes);
    json_decref(c->placement);
    *c = (placed_chain){0};
}

/* A device reference (id or name) to its id; false with a sentence naming where. */
static bool resolve_device(orchestrator *o, const char *ref, const char *where, char *id_out,
                           char *err, size_t err_size)
{
    device_view v;
    if (!fleet_device(o->fleet, ref, &v)) {
        snprintf(err, err_size, "%s: no device '%s' is known (by id or name): GET /file/device "
                 "lists them", where, ref);
        return false;
    }
    snprintf(id_out, 25, "%s", v.id);
    fleet_view_clear(&v);
    return true;
}

typedef struct resolved {
    char (*pins)[25];
    const char **pin_ptrs;
    json_t *failovers;      /* [[id, ...] per step] (without the placed device yet) */
} resolved;

static bool resolve_devices(orchestrator *o, const manifest_request *m, resolved *r, char *err,
                            size_t err_size)
{
    r->pins = calloc(m->step_count, sizeof *r->pins);
    r->pin_ptrs = calloc(m->step_count, sizeof *r->pin_ptrs);
    r->failovers = json_array();
    if (!r->pins || !r->pin_ptrs || !r->failovers) {
        snprintf(err, err_size, "out of memory");
        return false;
    }
    for (size_t i = 0; i < m->step_count; i++) {
        const manifest_step_request *step = &m->steps[i];
        char where[64];
        if (step->device) {
            snprintf(where, sizeof where, "sequence[%zu].device", i);
            if (!resolve_device(o, step->device, where, r->pins[i], err, err_size))
                return false;
            r->pin_ptrs[i] = r->pins[i];
        }
        json_t *list = json_array();
        json_array_append_new(r->failovers, list);
        for (size_t k = 0; k < step->failover_count; k++) {
            char id[25];
            snprintf(where, sizeof where, "sequence[%zu].failovers[%zu]", i, k);
            if (!resolve_device(o, step->failovers[k], where, id, err, err_size))
                return false;
            bool seen = false;
            size_t j;
            json_t *other;
            json_array_foreach(list, j, other)
                seen = seen || !strcmp(json_string_value(other), id);
            if (!seen)
                json_array_append_new(list, json_string(id));
        }
    }
    return true;
}

/* failoversBySequence as the reference keeps it: the placed device first, then the
 * manifest's failovers other than it. */
static json_t *failovers_by_sequence(const json_t *sequence, const json_t *failovers)
{
    json_t *all = json_array();
    size_t i;
    json_t *step;
    json_array_foreach(sequence, i, step) {
        const char *placed = json_string_value(json_object_get(step, "device"));
        json_t *list = json_pack("[s]", placed);
        size_t k;
        json_t *f;
        json_array_foreach(json_array_get(failovers, i), k, f)
            if (strcmp(json_string_value(f), placed))
                json_array_append(list, f);
        json_array_append_new(all, list);
    }
    return all;
}

static json_t *goal_devices(const json_t *sequence)
{
    json_t *goal = json_array();
    size_t i;
    json_t *step;
    json_array_foreach(sequence, i, step)
        json_array_append(goal, json_object_get(step, "device"));
    return goal;
}

json_t *manifest_solve(orchestrator *o, const manifest_request *m, const char *id, char *err,
                       size_t err_size)
{
    if (err_size)
        err[0] = '\0';
    const char **modules = calloc(m->step_count, sizeof *modules);
    const char **funcs = calloc(m->step_count, sizeof *funcs);
    step_function *functions = NULL;
    resolved res = {0};
    placed_chain chain = {0};
    json_t *doc = NULL;
    char new_id[IDS_OBJECT_ID_SIZE];
    if (!modules || !funcs) {
        snprintf(err, err_size, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < m->step_count; i++) {
        modules[i] = m->steps[i].module;
        funcs[i] = m->steps[i].func;
    }
    if (!chain_load_functions(o, modules, funcs, m->step_count, &functions, err, err_size))
        goto done;
    if (!check_chain(functions, m->step_count, err, err_size) ||
        !resolve_devices(o, m, &res, err, err_size))
        goto done;
    if (!id) {
        ids_new_object_id(new_id);
        id = new_id;
    }
    if (!chain_place(o, id, functions, m->step_count, res.pin_ptrs, &chain, err, err_size))
        goto done;
    char now[32];
    store_now_iso(now);
    json_t *pins = json_array();
    for (size_t i = 0; i < m->step_count; i++)
        json_array_append_new(pins, res.pin_ptrs[i] ? json_string(res.pin_ptrs[i]) : json_null());
    doc = json_pack("{s:s, s:s, s:O, s:O, s:O, s:O, s:o, s:o, s:o, s:b, s:b, s:I, s:s, s:s}",
                    "_id", id, "name", m->name, "manifest", m->json, "sequence", chain.sequence,
                    "fullManifest", chain.nodes, "placement", chain.placement,
                    "failoversBySequence", failovers_by_sequence(chain.sequence, res.failovers),
                    "goalDeployment", goal_devices(chain.sequence), "pins", pins, "active", 0,
                    "isInFailover", 0, "epoch", (json_int_t)1, "createdAt", now, "updatedAt",
                    now);
    if (!doc)
        snprintf(err, err_size, "out of memory");
    else
        deployment_set_epoch(doc, 1);
done:
    placed_chain_clear(&chain);
    json_decref(res.failovers);
    free(res.pins);
    free(res.pin_ptrs);
    chain_functions_free(functions, m->step_count);
    free(modules);
    free(funcs);
    return doc;
}

const char **deployment_pins(const json_t *deployment)
{
    const json_t *sequence = json_object_get(deployment, "sequence");
    const json_t *pins = json_object_get(deployment, "pins");
    const char **out = calloc(json_array_size(sequence) + 1, sizeof *out);
    for (size_t i = 0; out && i < json_array_size(sequence); i++)
        out[i] = json_string_value(json_array_get(pins, i));
    return out;
}

bool deployment_replace(orchestrator *o, json_t *deployment, const char *const *pins,
                        char *err, size_t err_size)
{
    if (err_size)
        err[0] = '\0';
    const json_t *sequence = json_object_get(deployment, "sequence");
    size_t n = json_array_size(sequence);
    const char **modules = calloc(n + 1, sizeof *modules);
    const char **funcs = calloc(n + 1, sizeof *funcs);
    step_function *functions = NULL;
    placed_chain chain = {0};
    bool ok = modules && funcs;
    for (size_t i = 0; ok && i < n; i++) {
        modules[i] = json_string_value(json_object_get(json_array_get(sequence, i), "module"));
        funcs[i] = json_string_value(json_object_get(json_array_get(sequence, i), "func"));
        ok = modules[i] && funcs[i];
    }
    if (!ok && !err[0])
        snprintf(err, err_size, "the stored deployment has no valid sequence");
    ok = ok && chain_load_functions(o, modules, funcs, n, &functions, err, err_size) &&
         chain_place(o, json_string_value(json_object_get(deployment, "_id")), functions, n,
                     pins, &chain, err, err_size);
    if (ok) {
        char now[32];
        store_now_iso(now);
        json_int_t epoch = deployment_epoch(deployment);
        json_object_set(deployment, "sequence", chain.sequence);
        json_object_set(deployment, "fullManifest", chain.nodes);
        json_object_set(deployment, "placement", chain.placement);
        deployment_set_epoch(deployment, epoch + 1);
        json_object_set_new(deployment, "updatedAt", json_string(now));
    }
    placed_chain_clear(&chain);
    chain_functions_free(functions, n);
    free(modules);
    free(funcs);
    return ok;
}

json_int_t deployment_epoch(const json_t *deployment)
{
    return json_integer_value(json_object_get(deployment, "epoch"));
}

void nodes_set_epoch(json_t *nodes, json_int_t epoch)
{
    const char *device;
    json_t *node;
    json_object_foreach(nodes, device, node)
        if (json_is_object(node))
            json_object_set_new(node, "epoch", json_integer(epoch));
}

void deployment_set_epoch(json_t *deployment, json_int_t epoch)
{
    json_object_set_new(deployment, "epoch", json_integer(epoch));
    nodes_set_epoch(json_object_get(deployment, "fullManifest"), epoch);
}
