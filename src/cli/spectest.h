/*
 * spectest.h — what the parts of `liquid spectest` share.
 *
 *   spectest.c           the command: options, the JSON file, the loop, the tally
 *   spectest_commands.c  one handler per wast2json command (module, assert_return, ...)
 *   spectest_action.c    running an action: invoke an export or get a global
 *   spectest_values.c    JSON values <-> wasm_value, comparison with the spec's NaN rules
 *   spectest_host.c      the `spectest` host module every test file may import
 *   spectest_skips.c     the list of assertions we knowingly skip, with reasons
 *
 * Nothing here outlives one run of one JSON file.
 */
#ifndef LIQUID_CLI_SPECTEST_H
#define LIQUID_CLI_SPECTEST_H

#include "wasm/wasm.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A hang in one command becomes a failure, not a hung CTest. */
#define SPECTEST_TIMEOUT_MS 10000u

/* ------------------------------------------------------------------ values */

typedef enum spectest_match {
    SPECTEST_MATCH_EXACT,           /* bit-exact, references by identity */
    SPECTEST_MATCH_NAN_CANONICAL,   /* f32/f64: any sign, payload exactly the quiet bit */
    SPECTEST_MATCH_NAN_ARITHMETIC,  /* f32/f64: any sign, quiet bit set, any payload */
    SPECTEST_MATCH_NON_NULL,        /* funcref/externref written without a value */
} spectest_match;

typedef struct spectest_expected {
    spectest_match match;
    wasm_value value;               /* value.type always set */
} spectest_expected;

/* Parse {"type": ..., "value": ...} as wast2json writes it. On failure `why` says
 * what was wrong with the JSON. */
bool spectest_value_parse(const json_t *json, wasm_value *out, char *why, size_t why_size);
bool spectest_expected_parse(const json_t *json, spectest_expected *out, char *why,
                             size_t why_size);
bool spectest_value_matches(const spectest_expected *expected, const wasm_value *got);

/* Human-readable forms for failure messages, e.g. "i32:42", "f32:1.5 (0x3fc00000)". */
void spectest_value_format(const wasm_value *value, char *buf, size_t size);
void spectest_expected_format(const spectest_expected *expected, char *buf, size_t size);
const char *spectest_valtype_name(wasm_valtype type);

/* externref N of the JSON is the opaque non-null pointer N+1 in the engine. */
void *spectest_externref_from_number(uint64_t n);

/* Messages: write or append to a fixed buffer (truncating quietly: they only need to
 * be read), describe an error or trap. */
void spectest_message(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void spectest_append(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void spectest_format_error(const wasm_error *err, char *buf, size_t size);
void spectest_format_trap(const wasm_trap *trap, char *buf, size_t size);

/* --------------------------------------------------------------- host module */

typedef struct spectest_host spectest_host;

/* Defines module `spectest` (print*, global_*, table, memory) in the linker. The
 * returned state backs the print functions and must outlive every call. */
spectest_host *spectest_host_define(wasm_linker *linker, bool verbose, wasm_error *err);
void spectest_host_free(spectest_host *host);

/* -------------------------------------------------------------------- skips */

typedef struct spectest_skip {
    char *wast;                     /* e.g. "float_exprs.wast" */
    uint32_t line;                  /* line of the assertion in the .wast */
    char *reason;
    uint32_t skips_line;            /* where the entry is in the skips file */
    bool used;
} spectest_skip;

typedef struct spectest_skips {
    char *path;
    spectest_skip *entries;
    size_t count;
} spectest_skips;

/* Reads `FILE.wast:LINE reason` lines; '#' starts a comment. On a malformed
 * line fills `why` with the file and line and returns false. */
bool spectest_skips_load(spectest_skips *skips, const char *path, char *why, size_t why_size);
/* The reason to skip wast:line, or NULL. Marks the entry used. */
const char *spectest_skips_find(spectest_skips *skips, const char *wast, uint32_t line);
void spectest_skips_free(spectest_skips *skips);

/* ----------------------------------------------------------------- commands */

typedef struct spectest_named_instance {
    char *name;                     /* "$M" as wast2json writes it */
    wasm_instance *instance;        /* NULL when that module failed to load */
    uint32_t line;
} spectest_named_instance;

/* Everything one JSON file's commands share: one store, so registered instances
 * can import each other's memories, tables, globals and functions. */
typedef struct spectest_session {
    const char *json_dir;           /* module files are relative to it */
    bool verbose;
    wasm_store *store;
    wasm_linker *linker;
    spectest_host *host;

    /* Every module loaded stays alive until the store is freed: a module that
     * failed to instantiate may still have put its functions in a shared table. */
    wasm_module **modules;
    size_t module_count, module_capacity;

    spectest_named_instance *names;
    size_t name_count, name_capacity;

    /* The module the latest `module` command made current, or why there is none. */
    wasm_instance *current;
    char no_current_reason[640];
} spectest_session;

typedef enum spectest_outcome {
    SPECTEST_PASS,
    SPECTEST_FAIL,
    SPECTEST_SKIP,
} spectest_outcome;

/* What a handler says beyond its outcome: why it failed, or why it was skipped. */
typedef struct spectest_verdict {
    spectest_outcome outcome;
    bool note;                      /* a pass worth a line with --verbose */
    char detail[2048];
} spectest_verdict;

bool spectest_session_init(spectest_session *session, const char *json_dir, bool verbose,
                           char *why, size_t why_size);
void spectest_session_free(spectest_session *session);

/* Every call and start function: no fuel, a deadline of SPECTEST_TIMEOUT_MS. */
extern const wasm_exec_limits spectest_limits;

/* The instance an action or register names (NULL: the current one), or NULL with
 * `why` saying why there is none. */
wasm_instance *spectest_find_instance(spectest_session *session, const char *name, char *why,
                                      size_t why_size);

/* ------------------------------------------------------------------ actions */

typedef enum spectest_action_ending {
    SPECTEST_RETURNED,
    SPECTEST_TRAPPED,
    SPECTEST_NOT_RUN,       /* bad JSON, no such module or export, wrong arguments */
} spectest_action_ending;

typedef struct spectest_action_outcome {
    spectest_action_ending ending;
    char what[1024];        /* e.g. `invoke "add"(i32:1, i32:2)`, for messages */
    wasm_value *results;    /* SPECTEST_RETURNED */
    uint32_t result_count;
    wasm_trap trap;         /* SPECTEST_TRAPPED */
    char error[1024];       /* SPECTEST_NOT_RUN */
} spectest_action_outcome;

/* Runs the command's "action" and says how it ended; free the outcome afterwards. */
void spectest_run_action(spectest_session *session, const json_t *command,
                         spectest_action_outcome *outcome);
void spectest_action_outcome_free(spectest_action_outcome *outcome);
/* "returned (i32:1)", "trap ...", "could not run: ..." */
void spectest_describe_ending(const spectest_action_outcome *outcome, char *buf, size_t size);

/* ----------------------------------------------------------------- dispatch */

/* Runs one command; `type` is its "type" field. */
void spectest_run_command(spectest_session *session, const char *type, const json_t *command,
                          spectest_verdict *verdict);
/* Assertions are what the tally counts: every assert_* and action, not module or
 * register. */
bool spectest_command_is_assertion(const char *type);
/* A skipped `module` command leaves no current module; later commands say why. */
void spectest_forget_current(spectest_session *session, const char *why);

#endif
