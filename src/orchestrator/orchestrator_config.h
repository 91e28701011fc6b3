/*
 * orchestrator_config.h — the settings of `liquid orchestrator` as the configuration
 * loader fills them (defaults < JSON file < environment < flags), and their conversion
 * into the orchestrator_settings every part reads.
 */
#ifndef LIQUID_ORCHESTRATOR_CONFIG_H
#define LIQUID_ORCHESTRATOR_CONFIG_H

#include "base/log.h"
#include "orchestrator/orchestrator.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct orchestrator_config {
    char *config_file;
    char *bind_address;
    long long port;
    char *public_host;           /* PUBLIC_HOST: scheme and host, as the reference */
    char *public_url;            /* the whole URL, overriding PUBLIC_HOST and the port */
    char *data_dir;
    bool mdns;
    uint64_t health_interval_ms;
    long long suspect_after;
    long long lost_after;
    long long active_after;
    uint64_t max_upload_bytes;
    uint64_t gc_grace_ms;
    long long http_threads;
    log_level log_level;
} orchestrator_config;

/* 0: loaded; -1: --help was printed (exit 0); otherwise the exit status of a usage error
 * (already printed). */
int orchestrator_config_load(orchestrator_config *c, int argc, char **argv);
void orchestrator_config_free(orchestrator_config *c);

/* The URL devices reach us at, when no --public-url was given: PUBLIC_HOST, or the
 * bind address, or this machine's first non-loopback IPv4 address, plus the port.
 * Returns a new string. */
char *orchestrator_config_public_url(const orchestrator_config *c, uint16_t port);

#endif
