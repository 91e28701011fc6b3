/*
 * supervisor_config.c — the settings of `liquid supervisor`, from (in increasing
 * precedence) built-in defaults, a JSON file, environment variables (the Wasm-IoT
 * references' names where they exist, wasmiot-api.md §2.13) and command-line flags.
 *
 * One table describes every option; parsing, the config file and --help all read it,
 * so the help cannot drift from what is accepted.
 */
#define _GNU_SOURCE
#include "supervisor/supervisor.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef enum option_type {
    OPT_STRING,
    OPT_UINT,           /* unsigned */
    OPT_U64,            /* uint64_t */
    OPT_BOOL,
    OPT_SIZE,           /* bytes: 65536, 64K, 16M, 1G */
    OPT_SECONDS,        /* a duration; a bare number is seconds: 10, 10s, 500ms, 2m */
    OPT_MILLIS,         /* a duration; a bare number is milliseconds */
    OPT_LOG_LEVEL,
} option_type;

typedef struct option {
    const char *name;           /* --name, and the key in the config file */
    const char *envs[4];        /* first is the main one */
    option_type type;
    const char *fallback;       /* default, as text; NULL: unset */
    const char *help;
    size_t offset;              /* in supervisor_config */
    const char *value_name;
} option;

#define AT(field) offsetof(supervisor_config, field)

static const option options[] = {
    {"name", {"WASMIOT_SUPERVISOR_NAME", "SUPERVISOR_NAME", "FLASK_APP"}, OPT_STRING, NULL,
     "device name: the mDNS instance name and the orchestrator's identity for this device "
     "(default: the host name)", AT(name), "NAME"},
    {"bind", {"LIQUID_SUPERVISOR_BIND"}, OPT_STRING, "0.0.0.0",
     "address to listen on (127.0.0.1: this machine only)", AT(bind_address), "ADDRESS"},
    {"port", {"WASMIOT_SUPERVISOR_PORT", "SUPERVISOR_PORT", "FLASK_PORT"}, OPT_UINT, "8080",
     "HTTP port (0: any free port, printed at start)", AT(port), "PORT"},
    {"instance-dir", {"INSTANCE_PATH"}, OPT_STRING, "./instance",
     "where deployments, the request history and saved state are kept", AT(instance_dir),
     "DIR"},
    {"orchestrator-url", {"WASMIOT_ORCHESTRATOR_URL"}, OPT_STRING, NULL,
     "register directly with this orchestrator (POST URL/file/device/discovery/register)",
     AT(orchestrator_url), "URL"},
    {"logging-endpoint", {"WASMIOT_LOGGING_ENDPOINT"}, OPT_STRING, NULL,
     "where logs are forwarded (default: ORCHESTRATOR_URL/device/logs)", AT(logging_endpoint),
     "URL"},
    {"register-renewal", {"WASMIOT_REGISTER_RENEWAL_TIME"}, OPT_UINT, "900",
     "seconds without a health check from the orchestrator before advertising and "
     "registering again", AT(renewal_seconds), "SECONDS"},
    {"mdns", {"LIQUID_MDNS"}, OPT_BOOL, "true",
     "advertise _webthing._tcp over multicast DNS; --no-mdns opens no multicast socket at "
     "all (loopback demos and tests)", AT(mdns), NULL},
    {"address", {"WASMIOT_SUPERVISOR_IP"}, OPT_STRING, NULL,
     "IPv4 address to advertise (default: the primary interface's)", AT(advertised_address),
     "IP"},
    {"camera-dir", {"LIQUID_CAMERA_DIR"}, OPT_STRING, NULL,
     "directory of JPEG files the camera.* host functions capture from, in turn (default: "
     "no camera; they trap)", AT(camera_dir), "DIR"},
    {"remote-functions", {"LIQUID_REMOTE_FUNCTIONS"}, OPT_STRING, NULL,
     "remote_functions.json for communication.rpcCall (default: "
     "INSTANCE_DIR/configs/remote_functions.json)", AT(remote_functions), "FILE"},
    {"history-limit", {"LIQUID_HISTORY_LIMIT"}, OPT_UINT, "1000",
     "request history entries kept (the oldest go first)", AT(history_limit), "N"},
    {"max-upload", {"LIQUID_MAX_UPLOAD"}, OPT_SIZE, "64M",
     "largest request body or uploaded file accepted (413 beyond)", AT(max_upload_bytes),
     "BYTES"},
    {"max-download", {"LIQUID_MAX_DOWNLOAD"}, OPT_SIZE, "256M",
     "largest module binary or data file a deployment may fetch", AT(max_download_bytes),
     "BYTES"},
    {"timeout", {"WASMIOT_MODULE_TIMEOUT_SECONDS"}, OPT_SECONDS, "10",
     "default wall-clock limit of one call (a bare number is seconds; 0: none); a "
     "deployment's limits.timeoutMs overrides it", AT(default_limits.timeout_ms), "DURATION"},
    {"fuel", {"LIQUID_FUEL"}, OPT_U64, "0",
     "default limit of WebAssembly instructions per call (0: none); limits.fuel overrides "
     "it", AT(default_limits.fuel), "N"},
    {"max-memory", {"LIQUID_MAX_MEMORY"}, OPT_SIZE, "256M",
     "default limit of a module's linear memory (0: the module's own); "
     "limits.maxMemoryBytes overrides it", AT(default_limits.max_memory_bytes), "BYTES"},
    {"workers", {"LIQUID_WORKERS"}, OPT_UINT, "0",
     "threads running POST calls in the background (0: one per core, at least 2)",
     AT(workers), "N"},
    {"http-threads", {"LIQUID_HTTP_THREADS"}, OPT_UINT, "0",
     "HTTP worker threads; GET calls run on them (0: 2 per core, at least 4)",
     AT(http_threads), "N"},
    {"chain-timeout", {"LIQUID_CHAIN_TIMEOUT"}, OPT_SECONDS, "30",
     "how long a step waits for the rest of its pipeline", AT(chain_timeout_ms), "DURATION"},
    {"download-timeout", {"LIQUID_DOWNLOAD_TIMEOUT"}, OPT_SECONDS, "30",
     "how long fetching one module or data file may take", AT(download_timeout_ms),
     "DURATION"},
    {"shutdown-grace", {"LIQUID_SHUTDOWN_GRACE"}, OPT_SECONDS, "5",
     "on SIGTERM/SIGINT, how long calls in flight may finish before they are interrupted",
     AT(shutdown_grace_ms), "DURATION"},
    {"log-level", {"LIQUID_LOG_LEVEL"}, OPT_LOG_LEVEL, "info",
     "debug, info, warn or error", AT(log_level), "LEVEL"},
};

#define OPTION_COUNT (sizeof options / sizeof options[0])

static void print_help(FILE *out)
{
    fprintf(out,
        "usage: liquid supervisor [OPTIONS]\n"
        "\n"
        "Runs the device agent: it serves the Wasm-IoT supervisor API over HTTP, deploys\n"
        "WebAssembly modules sent to POST /deploy, runs their functions, chains results\n"
        "to the next device, and keeps its deployments and request history across\n"
        "restarts. SIGTERM or SIGINT stop it cleanly.\n"
        "\n"
        "Settings come from, in increasing precedence: defaults, a JSON config file\n"
        "(--config; keys are the option names, e.g. {\"port\": 8080, \"mdns\": false},\n"
        "plus \"capabilities\": {...} declared in the device description), environment\n"
        "variables, and these flags (--opt VALUE or --opt=VALUE):\n"
        "\n"
        "  --config FILE             JSON config file  [env LIQUID_SUPERVISOR_CONFIG]\n");
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const option *o = &options[i];
        char flag[64];
        if (o->type == OPT_BOOL)
            snprintf(flag, sizeof flag, "--%s, --no-%s", o->name, o->name);
        else
            snprintf(flag, sizeof flag, "--%s %s", o->name, o->value_name);
        fprintf(out, "  %-25s %s\n", flag, o->help);
        fprintf(out, "  %-25s [env", "");
        for (int e = 0; e < 4 && o->envs[e]; e++)
            fprintf(out, "%s %s", e ? "," : "", o->envs[e]);
        fprintf(out, "]%s%s\n", o->fallback ? " default: " : "", o->fallback ? o->fallback : "");
    }
    fprintf(out,
        "  -h, --help                this help\n"
        "\n"
        "Sizes take K, M or G (1024-based); durations take ms, s or m.\n"
        "State: a module's memory is saved at a clean shutdown and restored at the next\n"
        "start; after a crash the module starts afresh (its deployment is still served).\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    fprintf(stderr, "liquid supervisor: ");
    vfprintf(stderr, fmt, args);
    fprintf(stderr, "\n(see `liquid supervisor --help`)\n");
    va_end(args);
    return 2;
}

/* ------------------------------------------------------------ values */

static bool parse_uint(const char *text, uint64_t *out)
{
    if (!*text || !isdigit((unsigned char)*text))
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_size(const char *text, uint64_t *out)
{
    if (!*text || !isdigit((unsigned char)*text))
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10, end++;
    else if (*end == 'M' || *end == 'm')
        shift = 20, end++;
    else if (*end == 'G' || *end == 'g')
        shift = 30, end++;
    if (errno || *end || (shift && v > (UINT64_MAX >> shift)))
        return false;
    *out = (uint64_t)v << shift;
    return true;
}

static bool parse_duration(const char *text, bool bare_is_seconds, uint64_t *ms)
{
    if (!*text || !isdigit((unsigned char)*text))
        return false;
    errno = 0;
    char *end;
    double v = strtod(text, &end);
    double scale = bare_is_seconds ? 1000 : 1;
    if (!strcmp(end, "ms"))
        scale = 1;
    else if (!strcmp(end, "s"))
        scale = 1000;
    else if (!strcmp(end, "m"))
        scale = 60000;
    else if (*end)
        return false;
    if (errno || v < 0 || v * scale > 1e15)
        return false;
    *ms = (uint64_t)(v * scale + 0.5);
    return true;
}

static bool parse_bool(const char *text, bool *out)
{
    static const char *truthy[] = {"1", "true", "yes", "on"};
    static const char *falsy[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(text, truthy[i]))
            return *out = true, true;
        if (!strcasecmp(text, falsy[i]))
            return *out = false, true;
    }
    return false;
}

static const char *type_expectation(option_type type)
{
    switch (type) {
    case OPT_STRING: return "a string";
    case OPT_UINT: return "a whole number from 0 to 4294967295";
    case OPT_U64: return "a whole number >= 0";
    case OPT_BOOL: return "true or false";
    case OPT_SIZE: return "a size such as 65536, 64K, 16M or 1G";
    case OPT_SECONDS:
    case OPT_MILLIS: return "a duration such as 10, 10s, 500ms or 2m";
    case OPT_LOG_LEVEL: return "debug, info, warn or error";
    }
    return "a value";
}

/* Stores text into the option's field; false if it does not parse. */
static bool set_option(supervisor_config *c, const option *o, const char *text)
{
    char *field = (char *)c + o->offset;
    uint64_t v;
    switch (o->type) {
    case OPT_STRING: {
        char **slot = (char **)field;
        char *copy = *text ? strdup(text) : NULL;
        free(*slot);
        *slot = copy;
        return true;
    }
    case OPT_UINT:
        if (!parse_uint(text, &v) || v > UINT32_MAX)
            return false;
        *(unsigned *)field = (unsigned)v;
        return true;
    case OPT_U64:
        return parse_uint(text, (uint64_t *)field);
    case OPT_BOOL:
        return parse_bool(text, (bool *)field);
    case OPT_SIZE:
        return parse_size(text, (uint64_t *)field);
    case OPT_SECONDS:
    case OPT_MILLIS:
        return parse_duration(text, o->type == OPT_SECONDS, (uint64_t *)field);
    case OPT_LOG_LEVEL:
        return log_parse_level(text, (log_level *)field);
    }
    return false;
}

/* ------------------------------------------------------------ sources */

static const option *find_option(const char *name)
{
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (!strcmp(options[i].name, name))
            return &options[i];
    return NULL;
}

static int load_file(supervisor_config *c, const char *path)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root)
        return usage_error("config file %s: %s (line %d)", path, jerr.text, jerr.line);
    if (!json_is_object(root)) {
        json_decref(root);
        return usage_error("config file %s: expected a JSON object of settings", path);
    }
    const char *key;
    json_t *value;
    int rc = 0;
    json_object_foreach(root, key, value) {
        if (!strcmp(key, "capabilities")) {
            if (!json_is_object(value)) {
                rc = usage_error("config file %s: capabilities: expected an object such as "
                                 "{\"camera\": true}", path);
                break;
            }
            json_decref(c->capabilities);
            c->capabilities = json_incref(value);
            continue;
        }
        const option *o = find_option(key);
        if (!o) {
            rc = usage_error("config file %s: unknown setting '%s'", path, key);
            break;
        }
        char text[64];
        const char *s = json_string_value(value);
        if (json_is_integer(value))
            snprintf(text, sizeof text, "%lld", (long long)json_integer_value(value)), s = text;
        else if (json_is_boolean(value))
            s = json_is_true(value) ? "true" : "false";
        else if (json_is_real(value))
            snprintf(text, sizeof text, "%g", json_real_value(value)), s = text;
        if (!s || !set_option(c, o, s)) {
            rc = usage_error("config file %s: %s: expected %s", path, key,
                             type_expectation(o->type));
            break;
        }
    }
    json_decref(root);
    return rc;
}

static int load_env(supervisor_config *c)
{
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const option *o = &options[i];
        /* the first variable set wins, in the order listed */
        for (int e = 0; e < 4 && o->envs[e]; e++) {
            const char *value = getenv(o->envs[e]);
            if (!value)
                continue;
            if (!set_option(c, o, value))
                return usage_error("environment %s='%s': expected %s", o->envs[e], value,
                                   type_expectation(o->type));
            break;
        }
    }
    return 0;
}

/* --name VALUE, --name=VALUE, --flag, --no-flag */
static int load_flags(supervisor_config *c, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2))
            return usage_error("unexpected argument '%s'", arg);
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        if (name_len == 6 && !strncmp(name, "config", 6)) {
            if (!eq)
                i++;    /* read earlier, before the file was loaded */
            continue;
        }
        bool negated = name_len > 3 && !strncmp(name, "no-", 3);
        const option *o = NULL;
        for (size_t k = 0; k < OPTION_COUNT && !o; k++) {
            const char *candidate = options[k].name;
            const char *n = negated && options[k].type == OPT_BOOL ? name + 3 : name;
            size_t len = negated && options[k].type == OPT_BOOL ? name_len - 3 : name_len;
            if (strlen(candidate) == len && !strncmp(candidate, n, len))
                o = &options[k];
        }
        if (!o)
            return usage_error("unknown option '%.*s'", (int)name_len + 2, arg);
        const char *value;
        if (o->type == OPT_BOOL && !eq)
            value = negated ? "false" : "true";
        else if (negated)
            return usage_error("--no-%s takes no value", o->name);
        else if (eq)
            value = eq + 1;
        else if (i + 1 < argc)
            value = argv[++i];
        else
            return usage_error("--%s needs a value (%s)", o->name, type_expectation(o->type));
        if (!set_option(c, o, value))
            return usage_error("--%s '%s': expected %s", o->name, value,
                               type_expectation(o->type));
    }
    return 0;
}

static const char *config_path(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config"))
            return i + 1 < argc ? argv[i + 1] : "";
        if (!strncmp(argv[i], "--config=", 9))
            return argv[i] + 9;
    }
    return getenv("LIQUID_SUPERVISOR_CONFIG");
}

static int check(supervisor_config *c)
{
    if (c->port > 65535)
        return usage_error("--port %u: expected 0 to 65535", c->port);
    if (!c->instance_dir)
        return usage_error("--instance-dir: must not be empty");
    if (c->orchestrator_url && strncmp(c->orchestrator_url, "http://", 7) &&
        strncmp(c->orchestrator_url, "https://", 8))
        return usage_error("--orchestrator-url '%s': expected an http(s) URL",
                           c->orchestrator_url);
    if (c->default_limits.max_memory_bytes && c->default_limits.max_memory_bytes < 65536)
        return usage_error("--max-memory: at least 65536 (one page), or 0");
    if (!c->history_limit)
        return usage_error("--history-limit: at least 1");
    if (!c->name) {
        char host[256] = "";
        gethostname(host, sizeof host - 1);
        c->name = strdup(*host ? host : "liquid-supervisor");
    }
    if (!c->remote_functions &&
        asprintf(&c->remote_functions, "%s/configs/remote_functions.json", c->instance_dir) < 0)
        c->remote_functions = NULL;
    if (!c->workers) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        c->workers = cores > 2 ? (unsigned)cores : 2;
    }
    c->default_limits.has_timeout_ms = c->default_limits.has_fuel =
        c->default_limits.has_max_memory_bytes = true;
    return 0;
}

int supervisor_config_load(supervisor_config *c, int argc, char **argv)
{
    memset(c, 0, sizeof *c);
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            print_help(stdout);
            return -1;
        }
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (options[i].fallback && !set_option(c, &options[i], options[i].fallback))
            return usage_error("internal: bad default for --%s", options[i].name);
    const char *file = config_path(argc, argv);
    int rc = 0;
    if (file && !*file)
        rc = usage_error("--config needs a file name");
    else if (file)
        rc = load_file(c, file);
    if (!rc)
        rc = load_env(c);
    if (!rc)
        rc = load_flags(c, argc, argv);
    if (!rc)
        rc = check(c);
    if (rc)
        supervisor_config_free(c);
    return rc;
}

void supervisor_config_free(supervisor_config *c)
{
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (options[i].type == OPT_STRING) {
            char **slot = (char **)((char *)c + options[i].offset);
            free(*slot);
            *slot = NULL;
        }
    json_decref(c->capabilities);
    c->capabilities = NULL;
}
