/*
 * spectest_commands.c — what each command of a wast2json file means, run against
 * the engine's public API.
 *
 * The commands of one file share a store and a linker: `module` instantiates and
 * becomes current, `register` makes an instance's exports importable by name, and
 * the assertions check one action (invoke or get) or one module each. Every call
 * gets a fresh wasm_exec without fuel but with a deadline, so a hang is a failure.
 */
#include "cli/spectest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const wasm_exec_limits spectest_limits = {
    .fuel = 0,
    .timeout_ms = SPECTEST_TIMEOUT_MS,
};

static void verdict_set(spectest_verdict *verdict, spectest_outcome outcome, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void verdict_set(spectest_verdict *verdict, spectest_outcome outcome, const char *fmt, ...)
{
    verdict->outcome = outcome;
    verdict->note = false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(verdict->detail, sizeof verdict->detail, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------ session */

bool spectest_session_init(spectest_session *session, const char *json_dir, bool verbose,
                           char *why, size_t why_size)
{
    memset(session, 0, sizeof *session);
    session->json_dir = json_dir;
    session->verbose = verbose;
    snprintf(session->no_current_reason, sizeof session->no_current_reason,
             "no module has been defined before this command");
    session->store = wasm_store_new();
    session->linker = session->store ? wasm_linker_new(session->store) : NULL;
    if (!session->linker) {
        snprintf(why, why_size, "cannot create the engine's store and linker (out of memory)");
        return false;
    }
    wasm_error err = {0};
    session->host = spectest_host_define(session->linker, verbose, &err);
    if (!session->host) {
        char text[600];
        spectest_format_error(&err, text, sizeof text);
        snprintf(why, why_size, "cannot define the spectest host module: %s", text);
        return false;
    }
    return true;
}

void spectest_session_free(spectest_session *session)
{
    if (session->linker)
        wasm_linker_free(session->linker);
    if (session->store)
        wasm_store_free(session->store);
    for (size_t i = 0; i < session->module_count; i++)
        wasm_module_free(session->modules[i]);
    free(session->modules);
    for (size_t i = 0; i < session->name_count; i++)
        free(session->names[i].name);
    free(session->names);
    spectest_host_free(session->host);
    memset(session, 0, sizeof *session);
}

static bool keep_module(spectest_session *session, wasm_module *module)
{
    if (session->module_count == session->module_capacity) {
        size_t capacity = session->module_capacity ? 2 * session->module_capacity : 16;
        wasm_module **grown = realloc(session->modules, capacity * sizeof *grown);
        if (!grown)
            return false;
        session->modules = grown;
        session->module_capacity = capacity;
    }
    session->modules[session->module_count++] = module;
    return true;
}

static spectest_named_instance *find_name(spectest_session *session, const char *name)
{
    for (size_t i = 0; i < session->name_count; i++)
        if (!strcmp(session->names[i].name, name))
            return &session->names[i];
    return NULL;
}

/* A later module of the same name replaces the earlier one, as in the wast. */
static bool bind_name(spectest_session *session, const char *name, wasm_instance *instance,
                      uint32_t line)
{
    spectest_named_instance *entry = find_name(session, name);
    if (!entry) {
        if (session->name_count == session->name_capacity) {
            size_t capacity = session->name_capacity ? 2 * session->name_capacity : 8;
            spectest_named_instance *grown =
                realloc(session->names, capacity * sizeof *grown);
            if (!grown)
                return false;
            session->names = grown;
            session->name_capacity = capacity;
        }
        char *copy = strdup(name);
        if (!copy)
            return false;
        entry = &session->names[session->name_count++];
        entry->name = copy;
    }
    entry->instance = instance;
    entry->line = line;
    return true;
}

static uint32_t command_line(const json_t *command)
{
    json_int_t line = json_integer_value(json_object_get(command, "line"));
    return line > 0 && line <= (json_int_t)UINT32_MAX ? (uint32_t)line : 0;
}

/* ------------------------------------------------------------------ modules */

static uint8_t *read_file(const char *path, size_t *size, char *why, size_t why_size)
{
    FILE *file = fopen(path, "rb");
    if (!file) {
        spectest_message(why, why_size, "cannot open module file %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t capacity = 1 << 16, used = 0;
    uint8_t *bytes = malloc(capacity);
    bool failed = !bytes;
    while (!failed) {
        used += fread(bytes + used, 1, capacity - used, file);
        if (used < capacity)
            break;
        uint8_t *grown = realloc(bytes, capacity * 2);
        failed = !grown;
        if (grown) {
            bytes = grown;
            capacity *= 2;
        }
    }
    failed = failed || ferror(file);
    fclose(file);
    if (failed) {
        spectest_message(why, why_size, "cannot read module file %s", path);
        free(bytes);
        return NULL;
    }
    *size = used;
    return bytes;
}

typedef enum load_result {
    LOAD_OK,
    LOAD_UNREADABLE,        /* the test itself is broken: no verdict on the engine */
    LOAD_REJECTED,          /* the engine refused the bytes */
} load_result;

/* Reads the command's "filename" (relative to the JSON) and loads it. On LOAD_OK the
 * module belongs to the session. */
static load_result load_module(spectest_session *session, const json_t *command,
                               wasm_module **out, wasm_error *err, char *why, size_t why_size)
{
    const char *filename = json_string_value(json_object_get(command, "filename"));
    if (!filename || !*filename) {
        snprintf(why, why_size, "the command has no \"filename\"");
        return LOAD_UNREADABLE;
    }
    char path[4096];
    int length = filename[0] == '/'
                     ? snprintf(path, sizeof path, "%s", filename)
                     : snprintf(path, sizeof path, "%s/%s", session->json_dir, filename);
    if (length < 0 || (size_t)length >= sizeof path) {
        snprintf(why, why_size, "module path too long: %s", filename);
        return LOAD_UNREADABLE;
    }
    size_t size = 0;
    uint8_t *bytes = read_file(path, &size, why, why_size);
    if (!bytes)
        return LOAD_UNREADABLE;
    memset(err, 0, sizeof *err);
    wasm_module *module = wasm_module_load(bytes, size, err);
    free(bytes);
    if (!module) {
        char text[640];
        spectest_format_error(err, text, sizeof text);
        snprintf(why, why_size, "%s: %s", filename, text);
        return LOAD_REJECTED;
    }
    if (!keep_module(session, module)) {
        wasm_module_free(module);
        snprintf(why, why_size, "out of memory");
        return LOAD_UNREADABLE;
    }
    *out = module;
    return LOAD_OK;
}

static wasm_instance *instantiate(spectest_session *session, const wasm_module *module,
                                  wasm_error *err)
{
    const wasm_instance_limits no_limits = {0};
    memset(err, 0, sizeof *err);
    return wasm_instantiate(session->store, module, session->linker, &no_limits,
                            &spectest_limits, err);
}

static void run_module(spectest_session *session, const json_t *command,
                       spectest_verdict *verdict)
{
    uint32_t line = command_line(command);
    const char *name = json_string_value(json_object_get(command, "name"));
    session->current = NULL;

    wasm_module *module = NULL;
    wasm_error err;
    char why[1024];
    wasm_instance *instance = NULL;
    if (load_module(session, command, &module, &err, why, sizeof why) == LOAD_OK) {
        instance = instantiate(session, module, &err);
        if (!instance) {
            char text[640];
            spectest_format_error(&err, text, sizeof text);
            snprintf(why, sizeof why, "cannot instantiate: %s", text);
        }
    }
    if (name && !bind_name(session, name, instance, line)) {
        verdict_set(verdict, SPECTEST_FAIL, "out of memory");
        return;
    }
    if (!instance) {
        snprintf(session->no_current_reason, sizeof session->no_current_reason,
                 "the module of line %u did not load", line);
        verdict_set(verdict, SPECTEST_FAIL, "module should load but: %s", why);
        return;
    }
    session->current = instance;
    verdict_set(verdict, SPECTEST_PASS, "loaded");
}

void spectest_forget_current(spectest_session *session, const char *why)
{
    session->current = NULL;
    snprintf(session->no_current_reason, sizeof session->no_current_reason, "%s", why);
}

/* Resolves the instance an action or register names, or says why there is none. */
wasm_instance *spectest_find_instance(spectest_session *session, const char *name, char *why,
                                    size_t why_size)
{
    if (!name) {
        if (!session->current)
            snprintf(why, why_size, "%s", session->no_current_reason);
        return session->current;
    }
    spectest_named_instance *entry = find_name(session, name);
    if (!entry) {
        snprintf(why, why_size, "no module is named %s", name);
        return NULL;
    }
    if (!entry->instance)
        snprintf(why, why_size, "module %s (line %u) did not load", name, entry->line);
    return entry->instance;
}

static void run_register(spectest_session *session, const json_t *command,
                         spectest_verdict *verdict)
{
    const char *as = json_string_value(json_object_get(command, "as"));
    const char *name = json_string_value(json_object_get(command, "name"));
    char why[1024];
    if (!as) {
        verdict_set(verdict, SPECTEST_FAIL, "register has no \"as\" name");
        return;
    }
    wasm_instance *instance = spectest_find_instance(session, name, why, sizeof why);
    if (!instance) {
        verdict_set(verdict, SPECTEST_FAIL, "cannot register as \"%s\": %s", as, why);
        return;
    }
    wasm_error err = {0};
    if (!wasm_linker_define_instance(session->linker, as, instance, &err)) {
        spectest_format_error(&err, why, sizeof why);
        verdict_set(verdict, SPECTEST_FAIL, "cannot register as \"%s\": %s", as, why);
        return;
    }
    verdict_set(verdict, SPECTEST_PASS, "registered");
}

static void run_plain_action(spectest_session *session, const json_t *command,
                             spectest_verdict *verdict)
{
    spectest_action_outcome outcome;
    spectest_run_action(session, command, &outcome);
    if (outcome.ending == SPECTEST_RETURNED) {
        verdict_set(verdict, SPECTEST_PASS, "%s", outcome.what);
    } else {
        char ending[1400];
        spectest_describe_ending(&outcome, ending, sizeof ending);
        verdict_set(verdict, SPECTEST_FAIL, "%s: %s", outcome.what, ending);
    }
    spectest_action_outcome_free(&outcome);
}

static void run_assert_return(spectest_session *session, const json_t *command,
                              spectest_verdict *verdict)
{
    spectest_action_outcome outcome;
    spectest_run_action(session, command, &outcome);
    char ending[1400];
    if (outcome.ending != SPECTEST_RETURNED) {
        spectest_describe_ending(&outcome, ending, sizeof ending);
        verdict_set(verdict, SPECTEST_FAIL, "%s: %s", outcome.what, ending);
        spectest_action_outcome_free(&outcome);
        return;
    }
    const json_t *expected = json_object_get(command, "expected");
    size_t count = json_array_size(expected);
    bool same = json_is_array(expected) && count == outcome.result_count;
    char wanted[1024] = "(";
    for (size_t i = 0; i < count; i++) {
        spectest_expected value;
        char why[256];
        if (!spectest_expected_parse(json_array_get(expected, i), &value, why, sizeof why)) {
            verdict_set(verdict, SPECTEST_FAIL, "%s: bad expected value: %s", outcome.what,
                        why);
            spectest_action_outcome_free(&outcome);
            return;
        }
        if (same && !spectest_value_matches(&value, &outcome.results[i]))
            same = false;
        char text[96];
        spectest_expected_format(&value, text, sizeof text);
        spectest_append(wanted, sizeof wanted, "%s%s", i ? ", " : "", text);
    }
    spectest_append(wanted, sizeof wanted, ")");
    if (same) {
        verdict_set(verdict, SPECTEST_PASS, "%s", outcome.what);
    } else {
        spectest_describe_ending(&outcome, ending, sizeof ending);
        verdict_set(verdict, SPECTEST_FAIL, "%s: expected %s, %s", outcome.what, wanted, ending);
    }
    spectest_action_outcome_free(&outcome);
}

/* The spec's own traps; running out of time, fuel or stack is not one of them. */
static bool is_spec_trap(wasm_trap_kind kind)
{
    switch (kind) {
    case WASM_TRAP_UNREACHABLE:
    case WASM_TRAP_MEMORY_OUT_OF_BOUNDS:
    case WASM_TRAP_TABLE_OUT_OF_BOUNDS:
    case WASM_TRAP_UNINITIALIZED_ELEMENT:
    case WASM_TRAP_INDIRECT_CALL_TYPE_MISMATCH:
    case WASM_TRAP_INTEGER_OVERFLOW:
    case WASM_TRAP_INTEGER_DIVIDE_BY_ZERO:
    case WASM_TRAP_INVALID_CONVERSION:
        return true;
    default:
        return false;
    }
}

/* What the reference interpreter says for each kind, for the loose comparison. */
static const char *spec_trap_text(wasm_trap_kind kind)
{
    switch (kind) {
    case WASM_TRAP_UNREACHABLE: return "unreachable";
    case WASM_TRAP_MEMORY_OUT_OF_BOUNDS: return "out of bounds memory access";
    case WASM_TRAP_TABLE_OUT_OF_BOUNDS: return "out of bounds table access|undefined element";
    case WASM_TRAP_UNINITIALIZED_ELEMENT: return "uninitialized element";
    case WASM_TRAP_INDIRECT_CALL_TYPE_MISMATCH: return "indirect call type mismatch";
    case WASM_TRAP_INTEGER_OVERFLOW: return "integer overflow";
    case WASM_TRAP_INTEGER_DIVIDE_BY_ZERO: return "integer divide by zero";
    case WASM_TRAP_INVALID_CONVERSION: return "invalid conversion to integer";
    case WASM_TRAP_STACK_EXHAUSTED: return "call stack exhausted";
    default: return "";
    }
}

/* True if `expected` names the same trap: a prefix of one of the kind's texts (the
 * suite sometimes adds an index, "uninitialized element 2"), or part of our message. */
static bool trap_text_agrees(const wasm_trap *trap, const char *expected)
{
    if (!expected || strstr(trap->message, expected))
        return true;
    const char *texts = spec_trap_text(trap->kind);
    while (*texts) {
        size_t length = strcspn(texts, "|");
        size_t wanted = strlen(expected);
        size_t common = length < wanted ? length : wanted;
        if (common && !strncmp(texts, expected, common))
            return true;
        texts += length + (texts[length] == '|');
    }
    return false;
}

static void run_assert_trap(spectest_session *session, const json_t *command,
                            spectest_verdict *verdict, bool exhaustion)
{
    const char *text = json_string_value(json_object_get(command, "text"));
    spectest_action_outcome outcome;
    spectest_run_action(session, command, &outcome);
    bool trapped = outcome.ending == SPECTEST_TRAPPED;
    bool pass = trapped && (exhaustion ? outcome.trap.kind == WASM_TRAP_STACK_EXHAUSTED
                                       : is_spec_trap(outcome.trap.kind));
    if (pass) {
        verdict_set(verdict, SPECTEST_PASS, "%s", outcome.what);
        if (session->verbose && !trap_text_agrees(&outcome.trap, text)) {
            char got[512];
            spectest_format_trap(&outcome.trap, got, sizeof got);
            verdict_set(verdict, SPECTEST_PASS, "%s: trap text differs: expected \"%s\", got %s",
                        outcome.what, text ? text : "", got);
            verdict->note = true;
        }
    } else {
        char ending[1400];
        spectest_describe_ending(&outcome, ending, sizeof ending);
        verdict_set(verdict, SPECTEST_FAIL, "%s: expected %s \"%s\", %s", outcome.what,
                    exhaustion ? "stack exhaustion" : "a trap", text ? text : "", ending);
    }
    spectest_action_outcome_free(&outcome);
}

/* ------------------------------------------------------- module assertions */

static bool is_text_module(const json_t *command)
{
    const char *module_type = json_string_value(json_object_get(command, "module_type"));
    return module_type && !strcmp(module_type, "text");
}

/* assert_invalid and assert_malformed: the binary must not load. */
static void run_assert_rejected(spectest_session *session, const json_t *command,
                                spectest_verdict *verdict, wasm_error_kind expected_kind)
{
    const char *text = json_string_value(json_object_get(command, "text"));
    wasm_module *module = NULL;
    wasm_error err;
    char why[1024];
    switch (load_module(session, command, &module, &err, why, sizeof why)) {
    case LOAD_OK:
        verdict_set(verdict, SPECTEST_FAIL, "module loaded but should be rejected: \"%s\"",
                    text ? text : "");
        break;
    case LOAD_UNREADABLE:
        verdict_set(verdict, SPECTEST_FAIL, "cannot test: %s", why);
        break;
    case LOAD_REJECTED:
        verdict_set(verdict, SPECTEST_PASS, "rejected");
        if (session->verbose && err.kind != expected_kind) {
            verdict_set(verdict, SPECTEST_PASS, "expected %s \"%s\", rejected as %s",
                        wasm_error_kind_name(expected_kind), text ? text : "", why);
            verdict->note = true;
        }
        break;
    }
}

/* assert_unlinkable and assert_uninstantiable: loads, then instantiation fails. */
static void run_assert_not_instantiable(spectest_session *session, const json_t *command,
                                        spectest_verdict *verdict, wasm_error_kind expected_kind)
{
    const char *text = json_string_value(json_object_get(command, "text"));
    wasm_module *module = NULL;
    wasm_error err;
    char why[1024];
    load_result loaded = load_module(session, command, &module, &err, why, sizeof why);
    if (loaded != LOAD_OK) {
        verdict_set(verdict, SPECTEST_FAIL, "module should load, then fail to instantiate "
                    "(\"%s\"), but: %s", text ? text : "", why);
        return;
    }
    if (instantiate(session, module, &err)) {
        verdict_set(verdict, SPECTEST_FAIL, "module instantiated but should fail with %s \"%s\"",
                    wasm_error_kind_name(expected_kind), text ? text : "");
        return;
    }
    spectest_format_error(&err, why, sizeof why);
    if (err.kind == expected_kind)
        verdict_set(verdict, SPECTEST_PASS, "%s", why);
    else
        verdict_set(verdict, SPECTEST_FAIL, "expected %s \"%s\", got %s",
                    wasm_error_kind_name(expected_kind), text ? text : "", why);
}

/* --------------------------------------------------------------- dispatch */

bool spectest_command_is_assertion(const char *type)
{
    return !strncmp(type, "assert_", 7) || !strcmp(type, "action");
}

void spectest_run_command(spectest_session *session, const char *type, const json_t *command,
                          spectest_verdict *verdict)
{
    verdict->detail[0] = '\0';
    bool module_assertion = !strcmp(type, "assert_invalid") || !strcmp(type, "assert_malformed") ||
                            !strcmp(type, "assert_unlinkable") ||
                            !strcmp(type, "assert_uninstantiable");
    if (module_assertion && is_text_module(command)) {
        verdict_set(verdict, SPECTEST_SKIP, "text-format module (needs a .wat parser)");
        return;
    }
    if (!strcmp(type, "module"))
        run_module(session, command, verdict);
    else if (!strcmp(type, "register"))
        run_register(session, command, verdict);
    else if (!strcmp(type, "action"))
        run_plain_action(session, command, verdict);
    else if (!strcmp(type, "assert_return"))
        run_assert_return(session, command, verdict);
    else if (!strcmp(type, "assert_trap"))
        run_assert_trap(session, command, verdict, false);
    else if (!strcmp(type, "assert_exhaustion"))
        run_assert_trap(session, command, verdict, true);
    else if (!strcmp(type, "assert_invalid"))
        run_assert_rejected(session, command, verdict, WASM_ERR_INVALID);
    else if (!strcmp(type, "assert_malformed"))
        run_assert_rejected(session, command, verdict, WASM_ERR_MALFORMED);
    else if (!strcmp(type, "assert_unlinkable"))
        run_assert_not_instantiable(session, command, verdict, WASM_ERR_LINK);
    else if (!strcmp(type, "assert_uninstantiable"))
        run_assert_not_instantiable(session, command, verdict, WASM_ERR_INSTANTIATE);
    else
        verdict_set(verdict, SPECTEST_FAIL, "unknown command type \"%s\"", type);
}
