/*
 * solver_chain.c — whether each step's output can be the next step's input.
 *
 * A supervisor passes a step's result on by itself (wasmiot-api.md §2.9): a number
 * becomes the next step's first query parameter; an output file travels as a
 * multipart part named after its mount, which the next step must take as an
 * execution mount of the same name. Nothing else reaches the next step, so anything
 * more it needs would be missing at every call: such a chain is refused when the
 * manifest is created, not discovered at the first execution.
 */
#include "orchestrator/solver.h"

#include <stdio.h>
#include <string.h>

static bool is_number_type(const char *type)
{
    return !type || !strcmp(type, "integer") || !strcmp(type, "float") ||
           !strcmp(type, "number");
}

solver_data solver_output_data(const solver_signature *sig)
{
    return is_number_type(sig->output_type) && !sig->output_mount ? SOLVER_DATA_NUMBER
                                                                   : SOLVER_DATA_FILE;
}

static bool is_float(const char *type)
{
    return type && (!strcmp(type, "float") || !strcmp(type, "number"));
}

static bool has_mount(const solver_signature *sig, const char *name)
{
    for (size_t i = 0; i < sig->execution_mount_count; i++)
        if (!strcmp(sig->execution_mounts[i], name))
            return true;
    return false;
}

/* "steps 1 (camera.take) and 2 (gray.gray) cannot be chained: " */
static int prefix(const solver_signature *a, const solver_signature *b, size_t i, char *err,
                  size_t size)
{
    return snprintf(err, size, "steps %zu (%s.%s) and %zu (%s.%s) cannot be chained: ", i + 1,
                    a->module, a->function, i + 2, b->module, b->function);
}

static bool number_fits(const solver_signature *a, const solver_signature *b, size_t i,
                        char *err, size_t size)
{
    int n = prefix(a, b, i, err, size);
    if ((size_t)n >= size)
        n = (int)size - 1;
    char *rest = err + n;
    size_t left = size - (size_t)n;
    const char *out = a->output_type ? a->output_type : "integer";
    if (b->param_count == 0) {
        snprintf(rest, left, "step %zu outputs a number (%s) but step %zu takes no parameter "
                 "to receive it%s", i + 1, out, i + 2,
                 b->execution_mount_count ? " (it takes a file)" : "");
        return false;
    }
    if (!is_number_type(b->param_types[0])) {
        snprintf(rest, left, "step %zu outputs a number (%s) but step %zu's first parameter "
                 "is of type %s", i + 1, out, i + 2, b->param_types[0]);
        return false;
    }
    if (is_float(out) && !is_float(b->param_types[0])) {
        snprintf(rest, left, "step %zu outputs a float but step %zu's first parameter is an "
                 "integer", i + 1, i + 2);
        return false;
    }
    if (b->param_count > 1) {
        snprintf(rest, left, "step %zu takes %zu parameters but step %zu gives it only one "
                 "number", i + 2, b->param_count, i + 1);
        return false;
    }
    if (b->execution_mount_count > 0) {
        snprintf(rest, left, "step %zu needs the file '%s' at each call, which step %zu does "
                 "not produce", i + 2, b->execution_mounts[0], i + 1);
        return false;
    }
    return true;
}

static bool file_fits(const solver_signature *a, const solver_signature *b, size_t i,
                      char *err, size_t size)
{
    int n = prefix(a, b, i, err, size);
    if ((size_t)n >= size)
        n = (int)size - 1;
    char *rest = err + n;
    size_t left = size - (size_t)n;
    if (!a->output_mount) {
        snprintf(rest, left, "step %zu outputs a file (%s) but its module describes no output "
                 "mount for it", i + 1, a->output_type);
        return false;
    }
    if (!has_mount(b, a->output_mount)) {
        if (b->execution_mount_count)
            snprintf(rest, left, "step %zu outputs the file '%s' but step %zu takes the file "
                     "'%s' (an execution mount must have the output mount's name)", i + 1,
                     a->output_mount, i + 2, b->execution_mounts[0]);
        else
            snprintf(rest, left, "step %zu outputs the file '%s' but step %zu has no "
                     "execution mount of that name%s", i + 1, a->output_mount, i + 2,
                     b->param_count ? " (it takes numbers)" : "");
        return false;
    }
    if (b->param_count > 0) {
        snprintf(rest, left, "step %zu also needs %zu parameter%s, which step %zu's file "
                 "output cannot give", i + 2, b->param_count, b->param_count > 1 ? "s" : "",
                 i + 1);
        return false;
    }
    for (size_t m = 0; m < b->execution_mount_count; m++)
        if (strcmp(b->execution_mounts[m], a->output_mount)) {
            snprintf(rest, left, "step %zu also needs the file '%s' at each call, which step "
                     "%zu does not produce", i + 2, b->execution_mounts[m], i + 1);
            return false;
        }
    return true;
}

bool solver_check_chain(const solver_signature *steps, size_t count, char *err,
                        size_t err_size)
{
    for (size_t i = 0; i + 1 < count; i++) {
        const solver_signature *a = &steps[i], *b = &steps[i + 1];
        bool fits = solver_output_data(a) == SOLVER_DATA_NUMBER
                        ? number_fits(a, b, i, err, err_size)
                        : file_fits(a, b, i, err, err_size);
        if (!fits)
            return false;
    }
    return true;
}
