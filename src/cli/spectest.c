/*
 * spectest.c — `liquid spectest [--skips FILE] [--verbose] FILE.json`: runs one file
 * of the official WebAssembly test suite, as wabt's wast2json converted it.
 *
 * Commands run in order against one store. Each failure is printed with its line in
 * the .wast and what differed; the last line is the tally, `N passed, M failed, K
 * skipped`, counting every assert_* and action. A `module` or `register` that fails
 * counts as a failure too, so a module that should load cannot fail unnoticed when
 * no assertion follows it. Exit status: 0 iff nothing failed, 1 otherwise (and on a
 * file that cannot be read), 2 on bad usage.
 */
#include "cli/commands.h"
#include "cli/spectest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct spectest_options {
    const char *json_path;
    const char *skips_path;
    bool verbose;
} spectest_options;

typedef struct spectest_tally {
    unsigned passed, failed, skipped;
    unsigned text_modules;          /* of skipped: assertions about .wat text */
} spectest_tally;

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: liquid spectest [--skips FILE] [--verbose] FILE.json\n"
            "\n"
            "Runs one WebAssembly spec test file converted by wabt's wast2json (modules are\n"
            "read relative to it) and prints every failure with its line in the .wast, then\n"
            "`N passed, M failed, K skipped`. Exits 0 iff nothing failed.\n"
            "\n"
            "  --skips FILE   assertions to skip, one `FILE.wast:LINE reason` a line\n"
            "  --verbose      also print the spectest module's output, skipped text-format\n"
            "                 assertions, and passes whose trap text or error kind differs\n");
}

/* Returns 0 on success, else the exit status. */
static int parse_options(int argc, char **argv, spectest_options *options)
{
    memset(options, 0, sizeof *options);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            print_usage(stdout);
            return -1;
        } else if (!strcmp(arg, "--verbose") || !strcmp(arg, "-v")) {
            options->verbose = true;
        } else if (!strcmp(arg, "--skips")) {
            if (i + 1 == argc) {
                fprintf(stderr, "liquid spectest: --skips needs a file\n");
                return 2;
            }
            options->skips_path = argv[++i];
        } else if (arg[0] == '-' && arg[1]) {
            fprintf(stderr, "liquid spectest: unknown option %s\n\n", arg);
            print_usage(stderr);
            return 2;
        } else if (options->json_path) {
            fprintf(stderr, "liquid spectest: one JSON file at a time (%s and %s)\n",
                    options->json_path, arg);
            return 2;
        } else {
            options->json_path = arg;
        }
    }
    if (!options->json_path) {
        print_usage(stderr);
        return 2;
    }
    return 0;
}

static char *directory_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* The .wast the JSON came from, by base name, as skip entries name it. */
static char *wast_name_of(const json_t *root, const char *json_path)
{
    const char *source = json_string_value(json_object_get(root, "source_filename"));
    if (source && *source) {
        const char *slash = strrchr(source, '/');
        return strdup(slash ? slash + 1 : source);
    }
    const char *slash = strrchr(json_path, '/');
    const char *base = slash ? slash + 1 : json_path;
    size_t length = strlen(base);
    if (length > 5 && !strcmp(base + length - 5, ".json"))
        length -= 5;
    char *name = malloc(length + 6);
    if (name)
        snprintf(name, length + 6, "%.*s.wast", (int)length, base);
    return name;
}

static void record(spectest_tally *tally, const spectest_options *options, const char *wast,
                   uint32_t line, const char *type, bool assertion,
                   const spectest_verdict *verdict)
{
    switch (verdict->outcome) {
    case SPECTEST_PASS:
        tally->passed += assertion;
        if (options->verbose && verdict->note)
            printf("%s:%u: %s: note: %s\n", wast, line, type, verdict->detail);
        break;
    case SPECTEST_FAIL:
        /* Counted even for module and register: see the top of this file. */
        tally->failed++;
        printf("%s:%u: %s failed: %s\n", wast, line, type, verdict->detail);
        break;
    case SPECTEST_SKIP:
        tally->skipped += assertion;
        tally->text_modules += assertion;
        if (options->verbose)
            printf("%s:%u: %s skipped: %s\n", wast, line, type, verdict->detail);
        break;
    }
}

static void run_commands(spectest_session *session, const json_t *commands, const char *wast,
                         spectest_skips *skips, const spectest_options *options,
                         spectest_tally *tally)
{
    size_t index;
    const json_t *command;
    json_array_foreach(commands, index, command) {
        const char *type = json_string_value(json_object_get(command, "type"));
        json_int_t number = json_integer_value(json_object_get(command, "line"));
        uint32_t line = number > 0 && number <= (json_int_t)UINT32_MAX ? (uint32_t)number : 0;
        spectest_verdict verdict;
        if (!json_is_object(command) || !type) {
            verdict.outcome = SPECTEST_FAIL;
            verdict.note = false;
            snprintf(verdict.detail, sizeof verdict.detail,
                     "command %zu of the JSON has no \"type\"", index);
            record(tally, options, wast, line, "command", true, &verdict);
            continue;
        }
        bool assertion = spectest_command_is_assertion(type);
        const char *reason = skips ? spectest_skips_find(skips, wast, line) : NULL;
        if (reason) {
            printf("%s:%u: %s skipped: %s\n", wast, line, type, reason);
            tally->skipped += assertion;
            if (!strcmp(type, "module")) {
                char why[256];
                snprintf(why, sizeof why, "the module of line %u was skipped", line);
                spectest_forget_current(session, why);
            }
            continue;
        }
        spectest_run_command(session, type, command, &verdict);
        record(tally, options, wast, line, type, assertion, &verdict);
        fflush(stdout);
    }
}

/* Entries of this .wast that matched no command are probably stale line numbers. */
static void warn_unused_skips(const spectest_skips *skips, const char *wast)
{
    for (size_t i = 0; i < skips->count; i++) {
        const spectest_skip *entry = &skips->entries[i];
        if (!entry->used && !strcmp(entry->wast, wast))
            fprintf(stderr, "%s:%u: warning: no command at %s:%u to skip\n", skips->path,
                    entry->skips_line, wast, entry->line);
    }
}

static int run_file(const spectest_options *options, spectest_skips *skips)
{
    json_error_t json_error;
    json_t *root = json_load_file(options->json_path, JSON_ALLOW_NUL, &json_error);
    if (!root) {
        if (json_error.line > 0)    /* a syntax error, not an unreadable file */
            fprintf(stderr, "liquid spectest: %s:%d:%d: %s\n", options->json_path,
                    json_error.line, json_error.column, json_error.text);
        else
            fprintf(stderr, "liquid spectest: %s\n", json_error.text);
        return 1;
    }
    const json_t *commands = json_object_get(root, "commands");
    if (!json_is_array(commands)) {
        fprintf(stderr, "liquid spectest: %s: no \"commands\" array; is it wast2json output?\n",
                options->json_path);
        json_decref(root);
        return 1;
    }
    char *json_dir = directory_of(options->json_path);
    char *wast = wast_name_of(root, options->json_path);
    spectest_session session;
    char why[1024];
    int status = 1;
    if (!json_dir || !wast) {
        fprintf(stderr, "liquid spectest: out of memory\n");
    } else if (!spectest_session_init(&session, json_dir, options->verbose, why, sizeof why)) {
        fprintf(stderr, "liquid spectest: %s\n", why);
        spectest_session_free(&session);
    } else {
        spectest_tally tally = {0};
        run_commands(&session, commands, wast, skips, options, &tally);
        spectest_session_free(&session);
        if (skips)
            warn_unused_skips(skips, wast);
        if (tally.text_modules)
            printf("%u of the skipped are text-format modules (needs a .wat parser)\n",
                   tally.text_modules);
        printf("%u passed, %u failed, %u skipped\n", tally.passed, tally.failed, tally.skipped);
        status = tally.failed ? 1 : 0;
    }
    free(wast);
    free(json_dir);
    json_decref(root);
    return status;
}

int command_spectest(int argc, char **argv)
{
    spectest_options options;
    int status = parse_options(argc, argv, &options);
    if (status)
        return status < 0 ? 0 : status;

    spectest_skips skips;
    bool have_skips = options.skips_path != NULL;
    if (have_skips) {
        char why[1024];
        if (!spectest_skips_load(&skips, options.skips_path, why, sizeof why)) {
            fprintf(stderr, "liquid spectest: %s\n", why);
            spectest_skips_free(&skips);
            return 1;
        }
    }
    status = run_file(&options, have_skips ? &skips : NULL);
    if (have_skips)
        spectest_skips_free(&skips);
    fflush(stdout);
    return status;
}
