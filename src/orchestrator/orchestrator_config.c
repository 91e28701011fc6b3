/*
 * orchestrator_config.c — the settings of `liquid orchestrator`: one option table,
 * read by the shared configuration loader (base/config.h), with the Wasm-IoT
 * orchestrator's environment variables where they exist (wasmiot-api.md §3.11) and a
 * --help generated from the same table.
 */
#define _GNU_SOURCE
#include "orchestrator/orchestrator_config.h"

#include "base/config.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AT(field) offsetof(orchestrator_config, field)

static const config_option options[] = {
    {"config", {"LIQUID_ORCHESTRATOR_CONFIG"}, CONFIG_STRING, NULL,
     "JSON file of settings; its keys are these option names", AT(config_file), "FILE", 0, 0},
    {"bind", {"LIQUID_ORCHESTRATOR_BIND"}, CONFIG_STRING, "0.0.0.0",
     "address to listen on (127.0.0.1: this machine only)", AT(bind_address), "ADDRESS", 0,
     0},
    {"port", {"PUBLIC_PORT", "LIQUID_ORCHESTRATOR_PORT"}, CONFIG_INT, "3000",
     "HTTP port (0: any free port, logged at start)", AT(port), "PORT", 0, 65535},
    {"public-host", {"PUBLIC_HOST"}, CONFIG_STRING, NULL,
     "scheme and host devices reach this orchestrator at, e.g. http://10.0.0.2 (the port "
     "is added); default: http:// and the bind address, or this machine's first "
     "non-loopback IPv4 address when binding to all", AT(public_host), "URL", 0, 0},
    {"public-url", {"LIQUID_PUBLIC_URL"}, CONFIG_STRING, NULL,
     "the whole URL devices reach this orchestrator at (behind a proxy, say), overriding "
     "--public-host and the port", AT(public_url), "URL", 0, 0},
    {"data-dir", {"LIQUID_DATA_DIR"}, CONFIG_STRING, "./orchestrator-data",
     "where the database (orchestrator.db) and the module files (blobs/) are kept",
     AT(data_dir), "DIR", 0, 0},
    {"mdns", {"LIQUID_MDNS"}, CONFIG_BOOL, "true",
     "browse for devices (_webthing._tcp) over multicast DNS; --no-mdns opens no multicast "
     "socket (devices then register with POST /file/device/discovery/register)", AT(mdns),
     NULL, 0, 0},
    {"health-interval", {"LIQUID_HEALTH_INTERVAL"}, CONFIG_DURATION, "2s",
     "how often each device's /health is checked", AT(health_interval_ms), "DURATION", 0, 0},
    {"suspect-after", {"LIQUID_SUSPECT_AFTER"}, CONFIG_INT, "1",
     "failed health checks in a row before an active device is suspect", AT(suspect_after),
     "N", 1, 1000},
    {"lost-after", {"LIQUID_LOST_AFTER", "DEVICE_HEALTHCHECK_THRESHOLD"}, CONFIG_INT, "2",
     "failed health checks in a row before a device is lost and its work is placed elsewhere",
     AT(lost_after), "N", 1, 1000},
    {"active-after", {"LIQUID_ACTIVE_AFTER"}, CONFIG_INT, "3",
     "good health checks in a row before a suspect or lost device is active again",
     AT(active_after), "N", 1, 1000},
    {"max-upload", {"LIQUID_MAX_UPLOAD"}, CONFIG_SIZE, "64M",
     "largest request body or uploaded file accepted (413 beyond)", AT(max_upload_bytes),
     "BYTES", 0, 0},
    {"gc-grace", {"LIQUID_GC_GRACE"}, CONFIG_DURATION, "1h",
     "how old a module file no module refers to must be before it is deleted",
     AT(gc_grace_ms), "DURATION", 0, 0},
    {"http-threads", {"LIQUID_HTTP_THREADS"}, CONFIG_INT, "0",
     "HTTP worker threads (0: the server's default, 2 per core and at least 4)",
     AT(http_threads), "N", 0, 1024},
    {"log-level", {"LIQUID_LOG_LEVEL"}, CONFIG_LOG_LEVEL, "info",
     "least important log lines written", AT(log_level), "LEVEL", 0, 0},
};

static const config_spec spec = {
    .usage = "liquid orchestrator [OPTIONS]",
    .summary =
        "Runs the control plane of one domain. It serves the Wasm-IoT orchestrator API "
        "over HTTP (modules, devices, manifests, execution) plus Liquid's additions "
        "(events, metrics, the dashboard at /), finds devices over mDNS or by "
        "registration, checks their health, places and deploys manifests and keeps "
        "them running when devices fail. Everything it knows is kept in DATA_DIR and "
        "survives a restart. SIGTERM or SIGINT stop it cleanly.",
    .options = options,
    .option_count = sizeof options / sizeof options[0],
    .file_option = "config",
};

static int usage_error(const char *message)
{
    bool hinted = strstr(message, "--help") != NULL;
    fprintf(stderr, "liquid orchestrator: %s%s\n", message,
            hinted ? "" : "; see liquid orchestrator --help");
    return 2;
}

static bool is_http_url(const char *text)
{
    return !strncmp(text, "http://", 7) || !strncmp(text, "https://", 8);
}

/* What the table cannot say: cross-field checks. */
static int check(const orchestrator_config *c)
{
    char message[512];
    if (!c->data_dir || !*c->data_dir)
        return usage_error("--data-dir: must not be empty");
    if (c->public_host && !is_http_url(c->public_host)) {
        snprintf(message, sizeof message,
                 "--public-host '%s': expected a scheme and host such as http://10.0.0.2 "
                 "(PUBLIC_HOST includes the scheme)", c->public_host);
        return usage_error(message);
    }
    if (c->public_url && !is_http_url(c->public_url)) {
        snprintf(message, sizeof message, "--public-url '%s': expected an http(s) URL",
                 c->public_url);
        return usage_error(message);
    }
    if (c->health_interval_ms < 100)
        return usage_error("--health-interval: at least 100ms");
    if (c->lost_after < c->suspect_after)
        return usage_error("--lost-after: must be at least --suspect-after (a device is "
                           "suspect before it is lost)");
    if (c->max_upload_bytes && c->max_upload_bytes < 1024)
        return usage_error("--max-upload: at least 1K");
    return 0;
}

int orchestrator_config_load(orchestrator_config *c, int argc, char **argv)
{
    memset(c, 0, sizeof *c);
    config_extra extra;
    char err[512];
    config_status status = config_load(&spec, c, argc, argv, &extra, err, sizeof err);
    if (status == CONFIG_HELP)
        return -1;
    if (status == CONFIG_ERROR) {
        orchestrator_config_free(c);
        return usage_error(err);
    }
    json_decref(extra.file);
    if (extra.first_positional < argc) {
        snprintf(err, sizeof err, "unexpected argument '%s'", argv[extra.first_positional]);
        orchestrator_config_free(c);
        return usage_error(err);
    }
    int rc = check(c);
    if (rc)
        orchestrator_config_free(c);
    return rc;
}

void orchestrator_config_free(orchestrator_config *c)
{
    config_free(&spec, c);
}

/* The first IPv4 address of an interface that is up and not loopback, so that the
 * URL given to devices on other hosts is one they can reach. */
static bool first_external_ipv4(char *out, size_t size)
{
    struct ifaddrs *list = NULL;
    if (getifaddrs(&list) != 0)
        return false;
    bool found = false;
    for (struct ifaddrs *i = list; i && !found; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
            continue;
        if (!(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK))
            continue;
        const struct sockaddr_in *in = (const struct sockaddr_in *)i->ifa_addr;
        found = inet_ntop(AF_INET, &in->sin_addr, out, (socklen_t)size) != NULL;
    }
    freeifaddrs(list);
    return found;
}

char *orchestrator_config_public_url(const orchestrator_config *c, uint16_t port)
{
    char *url = NULL;
    if (c->public_url) {
        size_t n = strlen(c->public_url);
        while (n > 0 && c->public_url[n - 1] == '/')   /* parts append "/file/..." */
            n--;
        return strndup(c->public_url, n);
    }
    if (c->public_host) {
        size_t n = strlen(c->public_host);
        while (n > 0 && c->public_host[n - 1] == '/')
            n--;
        if (asprintf(&url, "%.*s:%u", (int)n, c->public_host, (unsigned)port) < 0)
            return NULL;
        return url;
    }
    char host[64] = "127.0.0.1";
    const char *bind = c->bind_address;
    if (bind && *bind && strcmp(bind, "0.0.0.0") && strcmp(bind, "::"))
        snprintf(host, sizeof host, "%s", bind);
    else if (!first_external_ipv4(host, sizeof host))
        snprintf(host, sizeof host, "127.0.0.1");
    bool ipv6 = strchr(host, ':') != NULL;
    if (asprintf(&url, "http://%s%s%s:%u", ipv6 ? "[" : "", host, ipv6 ? "]" : "",
                 (unsigned)port) < 0)
        return NULL;
    return url;
}
