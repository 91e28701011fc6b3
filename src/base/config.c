/*
 * config.c — settings from defaults, a JSON file, the environment and flags, in that
 * order of precedence, all driven by one option table per service.
 *
 * Every value, whatever its source, goes through the same parser for its type, so
 * "16M" means the same in a flag, a variable and the file, and an error says the same
 * thing wherever the value came from — plus where that was.
 */
#include "base/config.h"

#include "base/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HELP_WIDTH 78
#define HELP_INDENT 6

/* ---- value parsers */

bool config_parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    if (!text)
        return false;
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(text, yes[i])) {
            *out = true;
            return true;
        }
        if (!strcasecmp(text, no[i])) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* A non-negative decimal number with an optional fraction; end gets the suffix. */
static bool parse_amount(const char *text, double *value, const char **end)
{
    if (!text || !isdigit((unsigned char)*text))
        return false;   /* no sign, no leading dot, no empty string */
    char *stop;
    errno = 0;
    double v = strtod(text, &stop);
    if (errno || stop == text || v < 0)
        return false;
    while (*stop == ' ')
        stop++;
    *value = v;
    *end = stop;
    return true;
}

bool config_parse_size(const char *text, uint64_t *bytes)
{
    double v;
    const char *unit;
    if (!parse_amount(text, &v, &unit))
        return false;
    double scale;
    if (!*unit || !strcasecmp(unit, "b"))
        scale = 1;
    else if (!strcasecmp(unit, "k") || !strcasecmp(unit, "kb") || !strcasecmp(unit, "kib"))
        scale = 1024.0;
    else if (!strcasecmp(unit, "m") || !strcasecmp(unit, "mb") || !strcasecmp(unit, "mib"))
        scale = 1024.0 * 1024;
    else if (!strcasecmp(unit, "g") || !strcasecmp(unit, "gb") || !strcasecmp(unit, "gib"))
        scale = 1024.0 * 1024 * 1024;
    else if (!strcasecmp(unit, "t") || !strcasecmp(unit, "tb") || !strcasecmp(unit, "tib"))
        scale = 1024.0 * 1024 * 1024 * 1024;
    else
        return false;
    double total = v * scale;
    if (total > 1.8e19 || total != total)
        return false;
    if (scale == 1 && v != (double)(uint64_t)v)
        return false;   /* a fraction of a byte */
    *bytes = (uint64_t)total;
    return true;
}

bool config_parse_duration(const char *text, uint64_t *milliseconds)
{
    double v;
    const char *unit;
    if (!parse_amount(text, &v, &unit))
        return false;
    double scale;
    if (!*unit || !strcmp(unit, "s") || !strcmp(unit, "sec"))
        scale = 1000;
    else if (!strcmp(unit, "ms"))
        scale = 1;
    else if (!strcmp(unit, "m") || !strcmp(unit, "min"))
        scale = 60000;
    else if (!strcmp(unit, "h"))
        scale = 3600000;
    else
        return false;
    double total = v * scale;
    if (total > 1.8e19 || total != total)
        return false;
    *milliseconds = (uint64_t)(total + 0.5);
    return true;
}

static bool parse_int(const char *text, long long *out)
{
    if (!text || !*text)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end || end == text || isspace((unsigned char)*text))
        return false;
    *out = v;
    return true;
}

/* ---- options */

static void *slot(const config_option *o, void *values)
{
    return (char *)values + o->offset;
}

static const char *type_expectation(const config_option *o, char *buf, size_t size)
{
    switch (o->type) {
    case CONFIG_STRING: return "a string";
    case CONFIG_INT:
        if (o->min < o->max) {
            snprintf(buf, size, "an integer from %lld to %lld", o->min, o->max);
            return buf;
        }
        return "an integer";
    case CONFIG_BOOL: return "true or false";
    case CONFIG_DURATION: return "a duration such as 500ms, 10s, 2m or 1h (a bare number is "
                                 "seconds)";
    case CONFIG_SIZE: return "a size such as 65536, 64K, 16M or 1G";
    case CONFIG_LOG_LEVEL: return "one of debug, info, warn, error";
    }
    return "a value";
}

static const char *default_value_name(const config_option *o)
{
    if (o->value_name)
        return o->value_name;
    switch (o->type) {
    case CONFIG_INT: return "N";
    case CONFIG_DURATION: return "DURATION";
    case CONFIG_SIZE: return "SIZE";
    case CONFIG_LOG_LEVEL: return "LEVEL";
    default: return "VALUE";
    }
}

static bool bad_value(const config_option *o, const char *text, const char *source, char *err,
                      size_t err_size)
{
    char expected[96];
    snprintf(err, err_size, "--%s: expected %s, got '%s' (from %s)", o->name,
             type_expectation(o, expected, sizeof expected), text, source);
    return false;
}

/* Sets the option from text; source says where it came from, for errors. */
static bool set_text(const config_option *o, void *values, const char *text, const char *source,
                     char *err, size_t err_size)
{
    void *p = slot(o, values);
    switch (o->type) {
    case CONFIG_STRING: {
        char *copy = strdup(text);
        if (!copy) {
            snprintf(err, err_size, "out of memory");
            return false;
        }
        free(*(char **)p);
        *(char **)p = copy;
        return true;
    }
    case CONFIG_INT: {
        long long v;
        if (!parse_int(text, &v) || (o->min < o->max && (v < o->min || v > o->max)))
            return bad_value(o, text, source, err, err_size);
        *(long long *)p = v;
        return true;
    }
    case CONFIG_BOOL:
        if (!config_parse_bool(text, (bool *)p))
            return bad_value(o, text, source, err, err_size);
        return true;
    case CONFIG_DURATION:
        if (!config_parse_duration(text, (uint64_t *)p))
            return bad_value(o, text, source, err, err_size);
        return true;
    case CONFIG_SIZE:
        if (!config_parse_size(text, (uint64_t *)p))
            return bad_value(o, text, source, err, err_size);
        return true;
    case CONFIG_LOG_LEVEL:
        if (!log_parse_level(text, (log_level *)p))
            return bad_value(o, text, source, err, err_size);
        return true;
    }
    return bad_value(o, text, source, err, err_size);
}

/* A config file value: strings go through the text parser; numbers and booleans are
 * taken as the type allows (a number for a duration is seconds, for a size bytes). */
static bool set_json(const config_option *o, void *values, json_t *value, const char *source,
                     char *err, size_t err_size)
{
    if (json_is_string(value))
        return set_text(o, values, json_string_value(value), source, err, err_size);
    char text[64];
    if (json_is_boolean(value) && o->type == CONFIG_BOOL)
        return set_text(o, values, json_is_true(value) ? "true" : "false", source, err,
                        err_size);
    if (json_is_integer(value) && o->type != CONFIG_BOOL && o->type != CONFIG_LOG_LEVEL) {
        snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
        return set_text(o, values, text, source, err, err_size);
    }
    if (json_is_real(value) && (o->type == CONFIG_DURATION || o->type == CONFIG_SIZE)) {
        snprintf(text, sizeof text, "%.17g", json_real_value(value));
        return set_text(o, values, text, source, err, err_size);
    }
    char expected[96];
    snprintf(err, err_size, "'%s' in %s: expected %s, got a JSON %s", o->name, source,
             type_expectation(o, expected, sizeof expected),
             json_is_object(value) ? "object" : json_is_array(value) ? "array"
             : json_is_null(value) ? "null" : json_is_boolean(value) ? "boolean" : "number");
    return false;
}

/* Option names compare with '-' and '_' as the same character. */
static bool same_name(const char *a, const char *b, size_t b_len)
{
    size_t i = 0;
    for (; a[i] && i < b_len; i++) {
        char x = a[i] == '_' ? '-' : a[i];
        char y = b[i] == '_' ? '-' : b[i];
        if (x != y)
            return false;
    }
    return !a[i] && i == b_len;
}

static const config_option *find_option(const config_spec *spec, const char *name, size_t len)
{
    for (size_t i = 0; i < spec->option_count; i++)
        if (same_name(spec->options[i].name, name, len))
            return &spec->options[i];
    return NULL;
}

static size_t edit_distance(const char *a, const char *b, size_t b_len)
{
    size_t a_len = strlen(a);
    if (a_len > 63 || b_len > 63)
        return 99;
    size_t row[64];
    for (size_t j = 0; j <= b_len; j++)
        row[j] = j;
    for (size_t i = 1; i <= a_len; i++) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b_len; j++) {
            size_t above = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diagonal + cost;
            if (above + 1 < best)
                best = above + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diagonal = above;
        }
    }
    return row[b_len];
}

/* " (did you mean --port?)" for a near miss, "" otherwise. */
static void suggestion(const config_spec *spec, const char *name, size_t len, char *out,
                       size_t size)
{
    out[0] = '\0';
    size_t best = 3;
    for (size_t i = 0; i < spec->option_count; i++) {
        size_t d = edit_distance(spec->options[i].name, name, len);
        if (d < best) {
            best = d;
            snprintf(out, size, " (did you mean --%s?)", spec->options[i].name);
        }
    }
}

static const char *command_name(const config_spec *spec, char *buf, size_t size)
{
    /* "liquid supervisor [OPTIONS]" -> "liquid supervisor" */
    const char *usage = spec->usage ? spec->usage : "liquid";
    const char *bracket = strstr(usage, " [");
    size_t n = bracket ? (size_t)(bracket - usage) : strlen(usage);
    snprintf(buf, size, "%.*s", (int)n, usage);
    return buf;
}

/* ---- sources */

static bool apply_defaults(const config_spec *spec, void *values, char *err, size_t err_size)
{
    for (size_t i = 0; i < spec->option_count; i++) {
        const config_option *o = &spec->options[i];
        if (o->fallback && !set_text(o, values, o->fallback, "the built-in default", err,
                                     err_size))
            return false;
    }
    return true;
}

static const char *env_value(const config_option *o, const char **which)
{
    for (size_t k = 0; k < sizeof o->env / sizeof o->env[0] && o->env[k]; k++) {
        const char *v = getenv(o->env[k]);
        if (v && *v) {
            *which = o->env[k];
            return v;
        }
    }
    return NULL;
}

static bool apply_env(const config_spec *spec, void *values, char *err, size_t err_size)
{
    for (size_t i = 0; i < spec->option_count; i++) {
        const config_option *o = &spec->options[i];
        const char *which;
        const char *v = env_value(o, &which);
        if (!v)
            continue;
        char source[128];
        snprintf(source, sizeof source, "environment variable %s", which);
        if (!set_text(o, values, v, source, err, err_size))
            return false;
    }
    return true;
}

static bool is_section(const config_spec *spec, const char *key)
{
    for (const char *const *s = spec->file_sections; s && *s; s++)
        if (!strcmp(*s, key))
            return true;
    return false;
}

static bool apply_file(const config_spec *spec, void *values, const char *path, json_t **doc,
                       char *err, size_t err_size)
{
    json_error_t error;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &error);
    if (!root) {
        if (error.line < 1)
            snprintf(err, err_size, "cannot read config file %s: %s", path, error.text);
        else
            snprintf(err, err_size, "config file %s is not valid JSON: %s (line %d, column %d)",
                     path, error.text, error.line, error.column);
        return false;
    }
    if (!json_is_object(root)) {
        snprintf(err, err_size, "config file %s must hold a JSON object of option names and "
                 "values", path);
        json_decref(root);
        return false;
    }
    char source[300];
    snprintf(source, sizeof source, "config file %s", path);
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value) {
        if (is_section(spec, key))
            continue;
        const config_option *o = find_option(spec, key, strlen(key));
        if (!o || (spec->file_option && !strcmp(o->name, spec->file_option))) {
            char hint[96];
            suggestion(spec, key, strlen(key), hint, sizeof hint);
            snprintf(err, err_size, "unknown option '%s' in config file %s%s", key, path, hint);
            json_decref(root);
            return false;
        }
        if (!set_json(o, values, value, source, err, err_size)) {
            json_decref(root);
            return false;
        }
    }
    *doc = root;
    return true;
}

typedef struct flag {
    const config_option *option;
    bool negated;
    const char *value;    /* NULL for a bare boolean flag */
    int next;             /* argv index after this flag */
} flag;

/* Reads the flag at argv[i]. Returns 1 for a flag, 0 at the first positional argument
 * (or "--"), -1 for an error, 2 for --help. */
static int read_flag(const config_spec *spec, int argc, char **argv, int i, flag *out,
                     char *err, size_t err_size)
{
    const char *arg = argv[i];
    char cmd[128];
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h"))
        return 2;
    if (!strcmp(arg, "--") || arg[0] != '-' || !strcmp(arg, "-")) {
        if (spec->positional)
            return 0;
        snprintf(err, err_size, "unexpected argument '%s'; %s takes options only (see %s "
                 "--help)", arg, command_name(spec, cmd, sizeof cmd),
                 command_name(spec, cmd, sizeof cmd));
        return -1;
    }
    if (arg[1] != '-') {
        snprintf(err, err_size, "unknown option '%s'; options are spelled --name (see %s "
                 "--help)", arg, command_name(spec, cmd, sizeof cmd));
        return -1;
    }
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    *out = (flag){.next = i + 1};
    out->option = find_option(spec, name, len);
    if (!out->option && len > 3 && !strncmp(name, "no-", 3)) {
        const config_option *o = find_option(spec, name + 3, len - 3);
        if (o && o->type == CONFIG_BOOL && !eq) {
            out->option = o;
            out->negated = true;
            return 1;
        }
    }
    if (!out->option) {
        char hint[96];
        suggestion(spec, name, len, hint, sizeof hint);
        snprintf(err, err_size, "unknown option '--%.*s'%s; see %s --help", (int)len, name, hint,
                 command_name(spec, cmd, sizeof cmd));
        return -1;
    }
    if (eq) {
        out->value = eq + 1;
    } else if (out->option->type != CONFIG_BOOL) {
        if (i + 1 >= argc) {
            snprintf(err, err_size, "--%s needs a value (%s)", out->option->name,
                     default_value_name(out->option));
            return -1;
        }
        out->value = argv[i + 1];
        out->next = i + 2;
    }
    return 1;
}

static bool apply_flag(const flag *f, void *values, char *err, size_t err_size)
{
    if (!f->value)
        return set_text(f->option, values, f->negated ? "false" : "true", "the command line",
                        err, err_size);
    return set_text(f->option, values, f->value, "the command line", err, err_size);
}

/* Walks the flags; with only_option set, applies just that one (the config file's
 * path, needed before the file is read). */
static config_status walk_flags(const config_spec *spec, void *values, int argc, char **argv,
                                const char *only_option, int *first_positional, char *err,
                                size_t err_size)
{
    int i = 1;
    while (i < argc) {
        flag f;
        int kind = read_flag(spec, argc, argv, i, &f, err, err_size);
        if (kind == 2) {
            if (!only_option)
                config_print_help(spec, stdout);
            return CONFIG_HELP;
        }
        if (kind < 0)
            return CONFIG_ERROR;
        if (kind == 0)
            break;
        if ((!only_option || !strcmp(f.option->name, only_option)) &&
            !apply_flag(&f, values, err, err_size))
            return CONFIG_ERROR;
        i = f.next;
    }
    if (first_positional)
        *first_positional = i < argc && !strcmp(argv[i], "--") ? i + 1 : i;
    return CONFIG_OK;
}

config_status config_load(const config_spec *spec, void *values, int argc, char **argv,
                          config_extra *extra, char *err, size_t err_size)
{
    if (extra)
        *extra = (config_extra){.first_positional = argc};
    if (!apply_defaults(spec, values, err, err_size))
        return CONFIG_ERROR;

    const config_option *file_option =
        spec->file_option ? find_option(spec, spec->file_option, strlen(spec->file_option))
                          : NULL;
    if (file_option) {
        /* The file's own path comes from the environment or a flag, never the file. */
        const char *which;
        const char *v = env_value(file_option, &which);
        if (v) {
            char source[128];
            snprintf(source, sizeof source, "environment variable %s", which);
            if (!set_text(file_option, values, v, source, err, err_size))
                return CONFIG_ERROR;
        }
        config_status status = walk_flags(spec, values, argc, argv, file_option->name, NULL,
                                          err, err_size);
        if (status == CONFIG_ERROR)
            return status;
        if (status == CONFIG_HELP) {
            config_print_help(spec, stdout);
            return status;
        }
        const char *path = *(char **)slot(file_option, values);
        if (path && *path) {
            json_t *doc = NULL;
            if (!apply_file(spec, values, path, &doc, err, err_size))
                return CONFIG_ERROR;
            if (extra)
                extra->file = doc;
            else
                json_decref(doc);
        }
    }
    if (!apply_env(spec, values, err, err_size))
        return CONFIG_ERROR;
    int first = argc;
    config_status status = walk_flags(spec, values, argc, argv, NULL, &first, err, err_size);
    if (extra)
        extra->first_positional = first;
    if (status != CONFIG_OK && extra) {
        json_decref(extra->file);
        extra->file = NULL;
    }
    return status;
}

void config_free(const config_spec *spec, void *values)
{
    for (size_t i = 0; i < spec->option_count; i++) {
        const config_option *o = &spec->options[i];
        if (o->type == CONFIG_STRING) {
            char **p = slot(o, values);
            free(*p);
            *p = NULL;
        }
    }
}

/* ---- --help */

/* Prints text wrapped at HELP_WIDTH, every line indented by indent spaces. */
static void print_wrapped(FILE *out, const char *text, int indent)
{
    const char *p = text;
    while (*p) {
        while (*p == ' ')
            p++;
        int room = HELP_WIDTH - indent;
        const char *line_end = p;
        const char *last_space = NULL;
        while (*line_end && *line_end != '\n' && line_end - p < room) {
            if (*line_end == ' ')
                last_space = line_end;
            line_end++;
        }
        if (*line_end && *line_end != '\n' && last_space)
            line_end = last_space;
        fprintf(out, "%*s%.*s\n", indent, "", (int)(line_end - p), p);
        p = *line_end == '\n' ? line_end + 1 : line_end;
    }
}

void config_print_help(const config_spec *spec, FILE *out)
{
    fprintf(out, "usage: %s\n", spec->usage ? spec->usage : "liquid [OPTIONS]");
    if (spec->summary) {
        fputc('\n', out);
        print_wrapped(out, spec->summary, 0);
    }
    fprintf(out, "\noptions (later sources win: default < config file < environment < "
                 "flag):\n");
    for (size_t i = 0; i < spec->option_count; i++) {
        const config_option *o = &spec->options[i];
        if (o->type == CONFIG_BOOL)
            fprintf(out, "  --%s, --no-%s\n", o->name, o->name);
        else
            fprintf(out, "  --%s %s\n", o->name, default_value_name(o));
        if (o->help)
            print_wrapped(out, o->help, HELP_INDENT);
        char line[512];
        size_t n = 0;
        line[0] = '\0';
        for (size_t k = 0; k < sizeof o->env / sizeof o->env[0] && o->env[k]; k++)
            n += (size_t)snprintf(line + n, sizeof line - n, "%s%s", k ? ", " : "env: ",
                                  o->env[k]);
        if (n)
            print_wrapped(out, line, HELP_INDENT);
        snprintf(line, sizeof line, "default: %s", o->fallback ? o->fallback : "none");
        print_wrapped(out, line, HELP_INDENT);
    }
    fprintf(out, "  -h, --help\n");
    print_wrapped(out, "print this help and exit", HELP_INDENT);
    if (spec->file_option) {
        const char *example = "name";
        for (size_t i = 0; i < spec->option_count; i++) {
            if (strcmp(spec->options[i].name, spec->file_option)) {
                example = spec->options[i].name;
                break;
            }
        }
        char note[256];
        snprintf(note, sizeof note, "The config file (--%s) is a JSON object of option names "
                 "and values, e.g. {\"%s\": ...}.", spec->file_option, example);
        fputc('\n', out);
        print_wrapped(out, note, 0);
    }
}
