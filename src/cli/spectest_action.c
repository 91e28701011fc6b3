/*
 * spectest_action.c — runs the action of a command: invoke an exported function
 * with the JSON's arguments, or get an exported global, on a fresh wasm_exec.
 *
 * An action ends in one of three ways: it returned values, it trapped, or it could
 * not be run at all (bad JSON, no such module or export, arguments that do not fit
 * the signature). The assertions in spectest_commands.c judge which was right.
 */
#include "cli/spectest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void spectest_action_outcome_free(spectest_action_outcome *outcome)
{
    free(outcome->results);
    outcome->results = NULL;
}

/* Globals are found by C string: a name with a NUL byte cannot be asked for. Say so
 * rather than look up a different, shorter name. (Functions have a sized lookup.) */
static const char *exact_name(const json_t *json)
{
    const char *text = json_string_value(json);
    if (text && strlen(text) != json_string_length(json))
        return NULL;
    return text;
}

/* An export name for a message: control bytes (names.wast has them all) as \xx. */
static void append_name(char *buf, size_t size, const char *name, size_t length)
{
    spectest_append(buf, size, "\"");
    for (size_t i = 0; i < length; i++) {
        unsigned char byte = (unsigned char)name[i];
        if (byte < 0x20 || byte == 0x7f || byte == '"' || byte == '\\')
            spectest_append(buf, size, "\\%02x", byte);
        else
            spectest_append(buf, size, "%c", byte);
    }
    spectest_append(buf, size, "\"");
}

static bool parse_args(const json_t *json, wasm_value **args, uint32_t *count, char *why,
                       size_t why_size)
{
    *args = NULL;
    *count = 0;
    if (!json)
        return true;
    if (!json_is_array(json)) {
        snprintf(why, why_size, "\"args\" is not an array");
        return false;
    }
    size_t n = json_array_size(json);
    if (n > UINT32_MAX) {
        snprintf(why, why_size, "too many arguments");
        return false;
    }
    *args = calloc(n ? n : 1, sizeof **args);
    if (!*args) {
        snprintf(why, why_size, "out of memory");
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if (!spectest_value_parse(json_array_get(json, i), &(*args)[i], why, why_size)) {
            free(*args);
            *args = NULL;
            return false;
        }
    *count = (uint32_t)n;
    return true;
}

static void describe_invoke(spectest_action_outcome *outcome, const char *module,
                            const char *field, size_t field_length, const wasm_value *args,
                            uint32_t count)
{
    snprintf(outcome->what, sizeof outcome->what, "invoke %s%s", module ? module : "",
             module ? "." : "");
    append_name(outcome->what, sizeof outcome->what, field, field_length);
    spectest_append(outcome->what, sizeof outcome->what, "(");
    for (uint32_t i = 0; i < count; i++) {
        char value[96];
        spectest_value_format(&args[i], value, sizeof value);
        spectest_append(outcome->what, sizeof outcome->what, "%s%s", i ? ", " : "", value);
    }
    spectest_append(outcome->what, sizeof outcome->what, ")");
}

static bool args_fit_signature(const wasm_func *func, const wasm_value *args, uint32_t count,
                               char *why, size_t why_size)
{
    wasm_functype_view type = wasm_func_type(func);
    if (type.param_count != count) {
        snprintf(why, why_size, "the function takes %u arguments, the test gives %u",
                 type.param_count, count);
        return false;
    }
    for (uint32_t i = 0; i < count; i++)
        if (type.params[i] != args[i].type) {
            snprintf(why, why_size, "argument %u is %s but the function takes %s", i,
                     spectest_valtype_name(args[i].type),
                     spectest_valtype_name((wasm_valtype)type.params[i]));
            return false;
        }
    return true;
}

static void call_function(spectest_session *session, wasm_func *func, const wasm_value *args,
                          uint32_t count, spectest_action_outcome *outcome)
{
    wasm_exec *exec = wasm_exec_new(session->store, &spectest_limits);
    if (!exec) {
        outcome->ending = SPECTEST_NOT_RUN;
        snprintf(outcome->error, sizeof outcome->error, "cannot create an exec (out of memory)");
        return;
    }
    wasm_status status = wasm_exec_call(exec, func, args, count);
    if (status == WASM_STATUS_OK) {
        uint32_t expected = wasm_func_type(func).result_count;
        outcome->results = calloc(expected ? expected : 1, sizeof *outcome->results);
        if (!outcome->results) {
            outcome->ending = SPECTEST_NOT_RUN;
            snprintf(outcome->error, sizeof outcome->error, "out of memory");
        } else {
            outcome->result_count = wasm_exec_results(exec, outcome->results, expected);
            outcome->ending = SPECTEST_RETURNED;
        }
    } else if (status == WASM_STATUS_TRAP) {
        const wasm_trap *trap = wasm_exec_trap(exec);
        outcome->ending = SPECTEST_TRAPPED;
        if (trap) {
            outcome->trap = *trap;
        } else {
            outcome->trap.kind = WASM_TRAP_NONE;
            snprintf(outcome->trap.message, sizeof outcome->trap.message,
                     "the engine reported a trap but no trap record");
        }
    } else {
        outcome->ending = SPECTEST_NOT_RUN;
        snprintf(outcome->error, sizeof outcome->error,
                 "the call was suspended though nothing asked it to (status %d)", (int)status);
    }
    wasm_exec_free(exec);
}

static void run_invoke(spectest_session *session, const json_t *action, const char *module,
                       wasm_instance *instance, spectest_action_outcome *outcome)
{
    const json_t *name = json_object_get(action, "field");
    const char *field = json_string_value(name);
    size_t field_length = json_string_length(name);
    wasm_value *args = NULL;
    uint32_t count = 0;
    outcome->ending = SPECTEST_NOT_RUN;
    if (!field) {
        snprintf(outcome->what, sizeof outcome->what, "invoke");
        snprintf(outcome->error, sizeof outcome->error, "the action has no \"field\" string");
        return;
    }
    if (!parse_args(json_object_get(action, "args"), &args, &count, outcome->error,
                    sizeof outcome->error)) {
        describe_invoke(outcome, module, field, field_length, NULL, 0);
        return;
    }
    describe_invoke(outcome, module, field, field_length, args, count);
    if (instance) {     /* else outcome->error already says why */
        wasm_func *func = wasm_instance_export_func_sized(instance, field, field_length);
        if (!func) {
            snprintf(outcome->error, sizeof outcome->error, "no exported function ");
            append_name(outcome->error, sizeof outcome->error, field, field_length);
        } else if (args_fit_signature(func, args, count, outcome->error, sizeof outcome->error)) {
            call_function(session, func, args, count, outcome);
        }
    }
    free(args);
}

static void run_get(const json_t *action, const char *module, wasm_instance *instance,
                    spectest_action_outcome *outcome)
{
    const char *field = exact_name(json_object_get(action, "field"));
    outcome->ending = SPECTEST_NOT_RUN;
    snprintf(outcome->what, sizeof outcome->what, "get %s%s\"%s\"", module ? module : "",
             module ? "." : "", field ? field : "?");
    if (!field) {
        snprintf(outcome->error, sizeof outcome->error,
                 "the global's name is missing or holds a NUL byte");
        return;
    }
    if (!instance)
        return;     /* outcome->error already says why */
    outcome->results = calloc(1, sizeof *outcome->results);
    if (!outcome->results) {
        snprintf(outcome->error, sizeof outcome->error, "out of memory");
        return;
    }
    if (!wasm_instance_export_global(instance, field, &outcome->results[0])) {
        snprintf(outcome->error, sizeof outcome->error, "no exported global \"%s\"", field);
        return;
    }
    outcome->result_count = 1;
    outcome->ending = SPECTEST_RETURNED;
}

void spectest_run_action(spectest_session *session, const json_t *command,
                         spectest_action_outcome *outcome)
{
    memset(outcome, 0, sizeof *outcome);
    outcome->ending = SPECTEST_NOT_RUN;
    const json_t *action = json_object_get(command, "action");
    const char *type = json_string_value(json_object_get(action, "type"));
    if (!json_is_object(action) || !type) {
        snprintf(outcome->what, sizeof outcome->what, "action");
        snprintf(outcome->error, sizeof outcome->error, "the command has no valid \"action\"");
        return;
    }
    const char *module = json_string_value(json_object_get(action, "module"));
    wasm_instance *instance = spectest_find_instance(session, module, outcome->error,
                                            sizeof outcome->error);
    if (!strcmp(type, "invoke")) {
        run_invoke(session, action, module, instance, outcome);
    } else if (!strcmp(type, "get")) {
        run_get(action, module, instance, outcome);
    } else {
        snprintf(outcome->what, sizeof outcome->what, "%s", type);
        snprintf(outcome->error, sizeof outcome->error, "unknown action type \"%s\"", type);
    }
}

static void format_results(const spectest_action_outcome *outcome, char *buf, size_t size)
{
    buf[0] = '\0';
    spectest_append(buf, size, "(");
    for (uint32_t i = 0; i < outcome->result_count; i++) {
        char value[96];
        spectest_value_format(&outcome->results[i], value, sizeof value);
        spectest_append(buf, size, "%s%s", i ? ", " : "", value);
    }
    spectest_append(buf, size, ")");
}

/* How an action that should have returned or trapped ended otherwise. */
void spectest_describe_ending(const spectest_action_outcome *outcome, char *buf, size_t size)
{
    switch (outcome->ending) {
    case SPECTEST_RETURNED: {
        char results[1024];
        format_results(outcome, results, sizeof results);
        snprintf(buf, size, "returned %s", results);
        break;
    }
    case SPECTEST_TRAPPED:
        spectest_format_trap(&outcome->trap, buf, size);
        break;
    case SPECTEST_NOT_RUN:
        snprintf(buf, size, "could not run: %s", outcome->error);
        break;
    }
}

