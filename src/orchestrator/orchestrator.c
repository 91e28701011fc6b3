/*
 * orchestrator.c — `liquid orchestrator`: start the parts in the order that lets each
 * rely on the one before, wait for SIGTERM or SIGINT, and stop them in reverse.
 *
 * Start: data directory, store (migrated), blobs, then the parts of `parts[]` in
 * order (events, fleet, placement: each may read the store and start threads), and
 * only then the HTTP server with the routes of `route_tables[]`, so no request meets
 * a part that is not ready. Stop: the server first (requests in flight finish), then
 * the parts in reverse, then blobs and store. Exit 0.
 */
#define _GNU_SOURCE
#include "cli/commands.h"
#include "orchestrator/orchestrator.h"

#include "base/fs.h"
#include "base/log.h"
#include "orchestrator/blobs.h"
#include "orchestrator/events.h"
#include "orchestrator/fleet.h"
#include "orchestrator/migration.h"
#include "orchestrator/orchestrator_config.h"
#include "orchestrator/placement.h"
#include "orchestrator/store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Every part's routes, joined into the server's one table in this order (the first
 * matching route wins, so a part whose patterns overlap another's goes first). Each
 * helper adds its table's line here when the table exists. */
typedef struct route_table {
    const http_route *routes;
    const size_t *count;
} route_table;

static const route_table route_tables[] = {
    {module_routes, &module_route_count},
    {device_routes, &device_route_count},
    {event_routes, &event_route_count},
    {liquid_routes, &liquid_route_count},         /* before /file/manifest/{id} */
    {manifest_routes, &manifest_route_count},
    {dashboard_routes, &dashboard_route_count},   /* last: "/" and /static/ only */
};

/* Parts with threads of their own, started in this order before the server and
 * stopped in reverse after it (orchestrator.h). */
static const orchestrator_part parts[] = {
    {"events", events_part_start, events_part_stop},
    {"fleet", fleet_part_start, fleet_part_stop},
    {"placement", placement_start, placement_stop},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------- starting */

static http_route *joined_routes(size_t *count)
{
    size_t total = 0;
    for (size_t i = 0; i < COUNT(route_tables); i++)
        total += *route_tables[i].count;
    http_route *all = calloc(total ? total : 1, sizeof *all);
    if (!all)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < COUNT(route_tables); i++)
        for (size_t j = 0; j < *route_tables[i].count; j++)
            all[n++] = route_tables[i].routes[j];
    *count = n;
    return all;
}

/* With --port 0 the port is chosen before anything starts, because the public URL
 * (which holds it) is handed to devices by parts that start before the server. The
 * port is free when probed; another process taking it in between makes the server's
 * start fail with a message, never a wrong URL. */
static bool choose_free_port(const char *bind_address, uint16_t *port, char *err,
                             size_t err_size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET};
    if (!bind_address || inet_pton(AF_INET, bind_address, &addr.sin_addr) != 1)
        addr.sin_addr.s_addr = htonl(INADDR_ANY);
    socklen_t len = sizeof addr;
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
              getsockname(fd, (struct sockaddr *)&addr, &len) == 0;
    if (ok)
        *port = ntohs(addr.sin_port);
    else
        snprintf(err, err_size, "cannot find a free port on %s: %s",
                 bind_address ? bind_address : "0.0.0.0", strerror(errno));
    if (fd >= 0)
        close(fd);
    return ok;
}

typedef struct running {
    orchestrator o;
    orchestrator_config *config;
    char *public_url;
    char *store_path;
    char *blobs_dir;
    char *upload_dir;
    size_t parts_started;
} running;

static bool open_data(running *r, char *err, size_t err_size)
{
    const char *dir = r->config->data_dir;
    if (!fs_mkdir_p(dir, 0755, err, err_size))
        return false;
    if (access(dir, W_OK) != 0) {
        snprintf(err, err_size, "data directory %s is not writable: %s", dir, strerror(errno));
        return false;
    }
    r->store_path = fs_join(dir, "orchestrator.db");
    r->blobs_dir = fs_join(dir, "blobs");
    /* uploads are spooled on the blobs' file system so a module is renamed, not copied */
    r->upload_dir = fs_join(dir, "uploads");
    if (!r->store_path || !r->blobs_dir || !r->upload_dir) {
        snprintf(err, err_size, "out of memory");
        return false;
    }
    fs_remove_tree(r->upload_dir, NULL, 0);   /* uploads of requests a crash cut short */
    if (!fs_mkdir_p(r->upload_dir, 0755, err, err_size))
        return false;
    r->o.store = store_open(r->store_path, err, err_size);
    if (!r->o.store)
        return false;
    r->o.blobs = blobs_open(r->blobs_dir, err, err_size);
    if (!r->o.blobs)
        return false;
    /* files of modules deleted before a crash, or of uploads a crash cut short */
    blobs_gc_stats stats;
    char message[512];
    if (!blobs_gc(r->o.blobs, r->o.store, r->o.settings.blob_gc_grace_seconds, &stats, message,
                  sizeof message))
        log_warn("blobs.gc_failed", "reason=%s", log_quote(message));
    else if (stats.removed)
        log_info("blobs.gc", "removed=%llu bytes=%llu kept=%llu",
                 (unsigned long long)stats.removed, (unsigned long long)stats.bytes_removed,
                 (unsigned long long)stats.kept);
    return true;
}

static bool start_server(running *r, char *err, size_t err_size)
{
    size_t count = 0;
    http_route *routes = joined_routes(&count);
    if (!routes) {
        snprintf(err, err_size, "out of memory");
        return false;
    }
    http_server_options options = {
        .bind_address = r->o.settings.bind_address,
        .port = r->o.settings.port,
        .max_body_bytes = r->o.settings.max_upload_bytes,
        .upload_dir = r->upload_dir,
        .threads = (unsigned)r->config->http_threads,
    };
    r->o.server = http_server_start(&options, routes, count, &r->o, err, err_size);
    free(routes);   /* the server copies the table */
    return r->o.server != NULL;
}

static bool start(running *r, char *err, size_t err_size)
{
    const orchestrator_config *c = r->config;
    uint16_t port = (uint16_t)c->port;
    if (port == 0 && !choose_free_port(c->bind_address, &port, err, err_size))
        return false;
    r->public_url = orchestrator_config_public_url(c, port);
    if (!r->public_url) {
        snprintf(err, err_size, "out of memory");
        return false;
    }
    r->o.settings = (orchestrator_settings){
        .bind_address = c->bind_address,
        .port = port,
        .public_url = r->public_url,
        .data_dir = c->data_dir,
        .mdns = c->mdns,
        .health_interval_ms = (unsigned)c->health_interval_ms,
        .suspect_after = (unsigned)c->suspect_after,
        .lost_after = (unsigned)c->lost_after,
        .active_after = (unsigned)c->active_after,
        .max_upload_bytes = (size_t)c->max_upload_bytes,
        .blob_gc_grace_seconds = (unsigned)(c->gc_grace_ms / 1000),
    };
    if (!open_data(r, err, err_size))
        return false;
    for (size_t i = 0; i < COUNT(parts); i++) {
        if (parts[i].start && !parts[i].start(&r->o, err, err_size))
            return false;
        r->parts_started = i + 1;
    }
    if (!start_server(r, err, err_size))
        return false;
    log_info("orchestrator.started",
             "port=%u public_url=%s data_dir=%s mdns=%s health_interval_ms=%u schema=%d",
             (unsigned)http_server_port(r->o.server), log_quote(r->public_url),
             log_quote(c->data_dir), c->mdns ? "on" : "off", r->o.settings.health_interval_ms,
             store_schema_version(r->o.store));
    return true;
}

/* ------------------------------------------------------------- stopping */

static void stop(running *r)
{
    if (r->o.server)
        http_server_stop(r->o.server);
    r->o.server = NULL;
    for (size_t i = r->parts_started; i > 0; i--)
        if (parts[i - 1].stop)
            parts[i - 1].stop(&r->o);
    r->parts_started = 0;
    if (r->o.blobs)
        blobs_close(r->o.blobs);
    if (r->o.store)
        store_close(r->o.store);
    r->o.blobs = NULL;
    r->o.store = NULL;
    free(r->public_url);
    free(r->store_path);
    free(r->blobs_dir);
    if (r->upload_dir)
        fs_remove_tree(r->upload_dir, NULL, 0);
    free(r->upload_dir);
}

/* ---------------------------------------------------------------- main */

int command_orchestrator(int argc, char **argv)
{
    orchestrator_config config;
    int rc = orchestrator_config_load(&config, argc, argv);
    if (rc)
        return rc < 0 ? 0 : rc;
    log_set_level(config.log_level);
    /* every thread inherits this mask; the main thread takes the signals in sigwait */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    running r = {.config = &config};
    char err[1024] = "";
    if (!start(&r, err, sizeof err)) {
        fprintf(stderr, "liquid orchestrator: %s\n", err);
        log_error("orchestrator.start_failed", "reason=%s", log_quote(err));
        stop(&r);
        orchestrator_config_free(&config);
        return 1;
    }
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    log_info("orchestrator.stopping", "signal=%s",
             signal_number == SIGINT ? "SIGINT" : "SIGTERM");
    stop(&r);
    log_info("orchestrator.stopped", "data_dir=%s", log_quote(config.data_dir));
    orchestrator_config_free(&config);
    return 0;
}
