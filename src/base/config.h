/*
 * config.h — one way for every service to take its settings.
 *
 * A service declares its options in a table; config_load fills the service's own
 * settings struct from, in increasing precedence:
 *
 *     built-in defaults  <  a JSON config file  <  environment variables  <  flags
 *
 * Environment variables keep the Wasm-IoT names where they exist (an option may have
 * several, e.g. WASMIOT_SUPERVISOR_PORT, SUPERVISOR_PORT, FLASK_PORT: the first one
 * set wins; an empty variable counts as unset). Flags are --name VALUE or
 * --name=VALUE; booleans are --name, --no-name or --name=false. The config file is a
 * JSON object whose keys are option names ("max-upload" or "max_upload"); its path
 * comes from the option named by spec->file_option, given as a flag or in the
 * environment.
 *
 * Unknown flags, unknown file keys and bad values are errors that name the option
 * and where the value came from. --help prints a text generated from the same table,
 * so it always lists exactly what is accepted.
 *
 *     typedef struct my_settings { long long port; char *name; uint64_t timeout_ms; } my_settings;
 *     static const config_option options[] = {
 *         {"port", {"WASMIOT_SUPERVISOR_PORT", "SUPERVISOR_PORT"}, CONFIG_INT, "5000",
 *          "HTTP port", offsetof(my_settings, port), "PORT", 0, 65535},
 *         ...
 *     };
 */
#ifndef LIQUID_BASE_CONFIG_H
#define LIQUID_BASE_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum config_type {
    CONFIG_STRING,      /* char *, owned by the settings struct (config_free frees it) */
    CONFIG_INT,         /* long long, within [min, max] when min < max */
    CONFIG_BOOL,        /* bool: true/false, 1/0, yes/no, on/off */
    CONFIG_DURATION,    /* uint64_t milliseconds: 500ms, 10s, 1.5s, 2m, 1h; a bare number is seconds */
    CONFIG_SIZE,        /* uint64_t bytes: 65536, 64K, 16M, 1G (K = 1024) */
    CONFIG_LOG_LEVEL,   /* log_level (log.h): debug, info, warn, error */
} config_type;

typedef struct config_option {
    const char *name;          /* --name, and the key in the config file */
    const char *env[4];        /* environment variables, most important first */
    config_type type;
    const char *fallback;      /* the default, written as a user would; NULL: unset */
    const char *help;          /* one sentence or two; wrapped by --help */
    size_t offset;             /* of the value in the settings struct */
    const char *value_name;    /* "PORT" in --help; NULL: derived from the type */
    long long min, max;        /* bounds of a CONFIG_INT, when min < max */
} config_option;

typedef struct config_spec {
    const char *usage;         /* "liquid supervisor [OPTIONS]" */
    const char *summary;       /* what the command does; printed under the usage line */
    const config_option *options;
    size_t option_count;
    const char *file_option;   /* name of the CONFIG_STRING option that holds the config
                                * file's path, or NULL for no config file */
    bool positional;           /* arguments may follow the options (parsing stops at the
                                * first one that is not an option, or after "--") */
    const char *const *file_sections;   /* NULL-terminated top-level keys of the config
                                         * file that the service reads itself */
} config_spec;

typedef enum config_status {
    CONFIG_OK,
    CONFIG_HELP,     /* --help was printed to stdout: exit 0 */
    CONFIG_ERROR,    /* err says what is wrong: print it, exit 2 */
} config_status;

typedef struct config_extra {
    int first_positional;      /* argv index of the first positional argument (argc if none) */
    json_t *file;              /* the config file's document, NULL without one; the caller
                                * owns the reference (sections it reads itself live here) */
} config_extra;

/* argv[0] is the command's name; values must be zeroed before the first call. extra
 * may be NULL. */
config_status config_load(const config_spec *spec, void *values, int argc, char **argv,
                          config_extra *extra, char *err, size_t err_size);
void config_print_help(const config_spec *spec, FILE *out);
/* Frees the strings config_load put in values. */
void config_free(const config_spec *spec, void *values);

/* The value parsers config_load uses, for settings a service reads on its own. */
bool config_parse_bool(const char *text, bool *out);
bool config_parse_size(const char *text, uint64_t *bytes);
bool config_parse_duration(const char *text, uint64_t *milliseconds);

#endif
