/*
 * supervisor_config.c — the settings of `liquid supervisor`: one option table, read by
 * the shared configuration loader (base/config.h) from defaults, a JSON file, the
 * environment (the Wasm-IoT references' variable names where they exist,
 * wasmiot-api.md §2.13) and flags, with a --help generated from the same table.
 */
#define _GNU_SOURCE
#include "supervisor/supervisor.h"

#include "base/config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define AT(field) offsetof(supervisor_config, field)

static const config_option options[] = {
    {"config", {"LIQUID_SUPERVISOR_CONFIG"}, CONFIG_STRING, NULL,
     "JSON file of settings (keys are these option names), plus \"capabilities\": {...} "
     "declared in the device description, e.g. {\"camera\": true, \"accelerator\": \"npu\"}",
     AT(config_file), "FILE", 0, 0},
    {"name", {"WASMIOT_SUPERVISOR_NAME", "SUPERVISOR_NAME", "FLASK_APP"}, CONFIG_STRING, NULL,
     "device name: the mDNS instance name, and the identity an orchestrator knows this "
     "device by (default: the host name)", AT(name), "NAME", 0, 0},
    {"bind", {"LIQUID_SUPERVISOR_BIND"}, CONFIG_STRING, "0.0.0.0",
     "address to listen on (127.0.0.1: this machine only)", AT(bind_address), "ADDRESS", 0, 0},
    {"port", {"WASMIOT_SUPERVISOR_PORT", "SUPERVISOR_PORT", "FLASK_PORT"}, CONFIG_INT, "8080",
     "HTTP port (0: any free port, logged at start)", AT(port), "PORT", 0, 65535},
    {"instance-dir", {"INSTANCE_PATH"}, CONFIG_STRING, "./instance",
     "where deployments, the request history and saved module memory are kept",
     AT(instance_dir), "DIR", 0, 0},
    {"orchestrator-url", {"WASMIOT_ORCHESTRATOR_URL"}, CONFIG_STRING, NULL,
     "register directly with this orchestrator (POST URL/file/device/discovery/register); "
     "POST /register sets it too, and it is remembered across restarts",
     AT(orchestrator_url), "URL", 0, 0},
    {"logging-endpoint", {"WASMIOT_LOGGING_ENDPOINT"}, CONFIG_STRING, NULL,
     "where logs are forwarded (default: ORCHESTRATOR_URL/device/logs)", AT(logging_endpoint),
     "URL", 0, 0},
    {"register-renewal", {"WASMIOT_REGISTER_RENEWAL_TIME"}, CONFIG_INT, "900",
     "seconds without a health check from the orchestrator before advertising and "
     "registering again", AT(renewal_seconds), "SECONDS", 1, 86400 * 365},
    {"mdns", {"LIQUID_MDNS"}, CONFIG_BOOL, "true",
     "advertise _webthing._tcp over multicast DNS; --no-mdns opens no multicast socket at "
     "all (for loopback demos and tests, which register directly)", AT(mdns), NULL, 0, 0},
    {"address", {"WASMIOT_SUPERVISOR_IP"}, CONFIG_STRING, NULL,
     "IPv4 address to advertise (default: the --bind address when it is one IPv4 "
     "address, else the primary interface's)", AT(advertised_address),
     "IP", 0, 0},
    {"camera-dir", {"LIQUID_CAMERA_DIR"}, CONFIG_STRING, NULL,
     "directory of JPEG files the camera.* host functions capture, in turn by name "
     "(default: no camera; camera calls trap saying so)", AT(camera_dir), "DIR", 0, 0},
    {"remote-functions", {"LIQUID_REMOTE_FUNCTIONS"}, CONFIG_STRING, NULL,
     "remote_functions.json for communication.rpcCall (default: "
     "INSTANCE_DIR/configs/remote_functions.json)", AT(remote_functions), "FILE", 0, 0},
    {"history-limit", {"LIQUID_HISTORY_LIMIT"}, CONFIG_INT, "1000",
     "request history entries kept; the oldest go first", AT(history_limit), "N", 1,
     100000000},
    {"max-upload", {"LIQUID_MAX_UPLOAD"}, CONFIG_SIZE, "64M",
     "largest request body or uploaded file accepted (413 beyond)", AT(max_upload_bytes),
     "BYTES", 0, 0},
    {"max-download", {"LIQUID_MAX_DOWNLOAD"}, CONFIG_SIZE, "256M",
     "largest module binary or data file a deployment may fetch", AT(max_download_bytes),
     "BYTES", 0, 0},
    {"timeout", {"WASMIOT_MODULE_TIMEOUT_SECONDS"}, CONFIG_DURATION, "10",
     "default wall-clock limit of one call (0: none); a deployment's limits.timeoutMs "
     "overrides it", AT(default_limits.timeout_ms), "DURATION", 0, 0},
    {"fuel", {"LIQUID_FUEL"}, CONFIG_INT, "0",
     "default limit of WebAssembly instructions per call (0: none); limits.fuel overrides "
     "it", AT(fuel), "N", 0, 0x7fffffffffffffffLL},
    {"max-memory", {"LIQUID_MAX_MEMORY"}, CONFIG_SIZE, "256M",
     "default limit of a module's linear memory (0: only the module's own maximum); "
     "limits.maxMemoryBytes overrides it", AT(default_limits.max_memory_bytes), "BYTES", 0, 0},
    {"workers", {"LIQUID_WORKERS"}, CONFIG_INT, "0",
     "threads running POST calls in the background (0: one per core, at least 2)",
     AT(workers), "N", 0, 1024},
    {"max-queued", {"LIQUID_MAX_QUEUED"}, CONFIG_INT, "10000",
     "POST calls that may wait for a worker; beyond, a POST is refused with 503", AT(max_queued),
     "N", 1, 100000000},
    {"http-threads", {"LIQUID_HTTP_THREADS"}, CONFIG_INT, "0",
     "HTTP worker threads, on which GET calls run (0: the server's default, 2 per core and "
     "at least 4)", AT(http_threads), "N", 0, 1024},
    {"chain-timeout", {"LIQUID_CHAIN_TIMEOUT"}, CONFIG_DURATION, "30",
     "how long a step waits for the rest of its pipeline", AT(chain_timeout_ms), "DURATION",
     0, 0},
    {"download-timeout", {"LIQUID_DOWNLOAD_TIMEOUT"}, CONFIG_DURATION, "30",
     "how long fetching one module binary or data file may take", AT(download_timeout_ms),
     "DURATION", 0, 0},
    {"shutdown-grace", {"LIQUID_SHUTDOWN_GRACE"}, CONFIG_DURATION, "5",
     "on SIGTERM or SIGINT, how long calls in flight may go on before they are interrupted",
     AT(shutdown_grace_ms), "DURATION", 0, 0},
    {"migrate-grace-ms", {"LIQUID_MIGRATE_GRACE_MS"}, CONFIG_INT, "50",
     "when a module migrates, how long its running call may go on before it is suspended "
     "and carried to the target", AT(migrate_grace_ms), "MS", 0, 3600000},
    {"moved-ttl-s", {"LIQUID_MOVED_TTL_S"}, CONFIG_INT, "600",
     "how long requests for a module that migrated away are redirected (307) to its new "
     "device", AT(moved_ttl_s), "SECONDS", 0, 86400 * 365},
    {"transfer-part", {"LIQUID_TRANSFER_PART"}, CONFIG_SIZE, "4M",
     "a migration sends the module's state in parts of this size; a broken transfer "
     "continues from the last part the target kept", AT(transfer_part_bytes), "BYTES", 0, 0},
    {"checkpoint-interval-ms", {"LIQUID_CHECKPOINT_INTERVAL_MS"}, CONFIG_INT, "1000",
     "with an orchestrator, how often module instances that ran a call are checkpointed to "
     "it (only the changed memory travels; 0: only after calls)", AT(checkpoint_interval_ms),
     "MS", 0, 86400000},
    {"checkpoint-after-call", {"LIQUID_CHECKPOINT_AFTER_CALL"}, CONFIG_BOOL, "true",
     "also checkpoint right after each call that changed a module's state",
     AT(checkpoint_after_call), NULL, 0, 0},
    {"drain-timeout-ms", {"LIQUID_DRAIN_TIMEOUT_MS"}, CONFIG_INT, "30000",
     "on SIGTERM with an orchestrator, how long to wait for it to move this device's modules "
     "away (POST /liquid/drain) before stopping", AT(drain_timeout_ms), "MS", 0, 3600000},
    {"move-away-cpu", {"LIQUID_MOVE_AWAY_CPU"}, CONFIG_STRING, NULL,
     "ask the orchestrator to move modules away when CPU use (0..1) stays above this for "
     "--move-away-for-s (default: off)", AT(move_away_cpu_text), "FRACTION", 0, 0},
    {"move-away-for-s", {"LIQUID_MOVE_AWAY_FOR_S"}, CONFIG_INT, "10",
     "how long CPU use must stay above --move-away-cpu; also the least time between two "
     "requests for one module", AT(move_away_for_s), "SECONDS", 1, 86400},
    {"log-level", {"LIQUID_LOG_LEVEL"}, CONFIG_LOG_LEVEL, "info",
     "least important log lines written", AT(log_level), "LEVEL", 0, 0},
};

static const char *const file_sections[] = {"capabilities", NULL};

static const config_spec spec = {
    .usage = "liquid supervisor [OPTIONS]",
    .summary =
        "Runs the device agent. It serves the Wasm-IoT supervisor API over HTTP, deploys the "
        "WebAssembly modules an orchestrator sends to POST /deploy, runs their functions, "
        "chains results to the next device, and keeps its deployments and request history "
        "across restarts. SIGTERM or SIGINT stop it cleanly: calls in flight finish, each "
        "module's memory is saved and restored at the next start (after a crash a module "
        "starts afresh; its deployment is still served).",
    .options = options,
    .option_count = sizeof options / sizeof options[0],
    .file_option = "config",
    .file_sections = file_sections,
};

static int usage_error(const char *message)
{
    bool hinted = strstr(message, "--help") != NULL;
    fprintf(stderr, "liquid supervisor: %s%s\n", message,
            hinted ? "" : "; see liquid supervisor --help");
    return 2;
}

/* What the table cannot say: cross-field checks and computed defaults. */
static int finish(supervisor_config *c)
{
    char message[512];
    if (!c->instance_dir)
        return usage_error("--instance-dir: must not be empty");
    if (c->orchestrator_url && strncmp(c->orchestrator_url, "http://", 7) &&
        strncmp(c->orchestrator_url, "https://", 8)) {
        snprintf(message, sizeof message, "--orchestrator-url '%s': expected an http(s) URL",
                 c->orchestrator_url);
        return usage_error(message);
    }
    if (c->default_limits.max_memory_bytes && c->default_limits.max_memory_bytes < 65536)
        return usage_error("--max-memory: at least 65536 bytes (one page), or 0");
    if (c->capabilities && !json_is_object(c->capabilities))
        return usage_error("config file: capabilities: expected an object such as "
                           "{\"camera\": true}");
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
        c->workers = cores > 2 ? cores : 2;
    }
    if (c->move_away_cpu_text) {
        char *end;
        c->move_away_cpu = strtod(c->move_away_cpu_text, &end);
        if (end == c->move_away_cpu_text || *end || !(c->move_away_cpu > 0) ||
            c->move_away_cpu >= 1) {
            snprintf(message, sizeof message, "--move-away-cpu '%s': expected a fraction "
                     "between 0 and 1, e.g. 0.9", c->move_away_cpu_text);
            return usage_error(message);
        }
    }
    if (c->transfer_part_bytes < 4096)
        return usage_error("--transfer-part: at least 4096 bytes");
    c->default_limits.fuel = (uint64_t)c->fuel;
    c->default_limits.has_timeout_ms = c->default_limits.has_fuel =
        c->default_limits.has_max_memory_bytes = true;
    return 0;
}

int supervisor_config_load(supervisor_config *c, int argc, char **argv)
{
    memset(c, 0, sizeof *c);
    config_extra extra;
    char err[512];
    config_status status = config_load(&spec, c, argc, argv, &extra, err, sizeof err);
    if (status == CONFIG_HELP) {
        supervisor_config_free(c);
        return -1;
    }
    if (status == CONFIG_ERROR) {
        supervisor_config_free(c);
        return usage_error(err);
    }
    if (extra.first_positional < argc) {
        snprintf(err, sizeof err, "unexpected argument '%s'", argv[extra.first_positional]);
        json_decref(extra.file);
        supervisor_config_free(c);
        return usage_error(err);
    }
    c->capabilities = json_incref(json_object_get(extra.file, "capabilities"));
    json_decref(extra.file);
    int rc = finish(c);
    if (rc)
        supervisor_config_free(c);
    return rc;
}

void supervisor_config_free(supervisor_config *c)
{
    config_free(&spec, c);
    json_decref(c->capabilities);
    c->capabilities = NULL;
}
