/*
 * supervisor.c — `liquid supervisor`: start the parts in the order that lets each
 * rely on the one before, wait for SIGTERM or SIGINT, and stop them in the order
 * that loses nothing.
 *
 * Start: instance directory, request history, deployments (restored from disk and
 * serving again), worker pool, HTTP server, and only then advertisement and
 * registration, so an orchestrator that finds the device finds it ready.
 * Stop: stop accepting requests, let calls in flight finish (interrupting those that
 * outlast the grace period), save each module's memory, sync the history, say
 * goodbye. Exit 0.
 */
#define _GNU_SOURCE
#include "cli/commands.h"
#include "supervisor/supervisor.h"

#include "base/fs.h"
#include "supervisor/departures.h"
#include "supervisor/device.h"
#include "supervisor/files.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------- starting */

static bool prepare_instance_dir(supervisor *sv, char *err, size_t err_size)
{
    const char *dir = sv->config->instance_dir;
    if (!fs_mkdir_p(dir, 0755, err, err_size))
        return false;
    if (access(dir, W_OK) != 0) {
        snprintf(err, err_size, "instance directory %s is not writable: %s", dir,
                 strerror(errno));
        return false;
    }
    /* the spool holds files of requests in flight: none survive a restart */
    sv->spool_dir = files_join(dir, "spool", NULL);
    if (!sv->spool_dir) {
        snprintf(err, err_size, "out of memory");
        return false;
    }
    fs_remove_tree(sv->spool_dir, NULL, 0);
    char *uploads = files_join(sv->spool_dir, "uploads", NULL);
    bool ok = uploads && fs_mkdir_p(uploads, 0755, err, err_size);
    free(uploads);
    return ok;
}

static bool start_server(supervisor *sv, char *err, size_t err_size)
{
    char *uploads = files_join(sv->spool_dir, "uploads", NULL);
    http_server_options options = {
        .bind_address = sv->config->bind_address,
        .port = (uint16_t)sv->config->port,
        .max_body_bytes = sv->config->max_upload_bytes,
        .upload_dir = uploads,
        .threads = (unsigned)sv->config->http_threads,
    };
    size_t route_count;
    const http_route *routes = supervisor_routes(&route_count);
    sv->server = uploads ? http_server_start(&options, routes, route_count, sv, err, err_size)
                         : NULL;
    free(uploads);
    return sv->server != NULL;
}

/* A module that moved away before the restart is reloaded from its deployment like
 * any other; the file its move left says the copy is not its state: it redirects, as
 * before the restart (a module_runtime with no target answers 503 "moving"). */
static void mark_moved_modules(supervisor *sv)
{
    size_t count;
    deployment **all = deployment_store_snapshot(sv->deployments, &count);
    for (size_t i = 0; i < count; i++) {
        for (size_t j = 0; j < all[i]->manifest->module_count; j++) {
            const char *module = all[i]->manifest->modules[j].name;
            char *target, *as;
            if (!deployment_moved_to(all[i], module, &target, &as))
                continue;
            module_runtime_lock(all[i]->runtimes[j]);
            module_runtime_settle(all[i]->runtimes[j], true, target, as);
            log_info("module.still_moved", "deployment=%s module=%s target=%s", all[i]->id,
                     module, log_quote(target ? target : "(unknown)"));
            free(target);
            free(as);
        }
        deployment_release(all[i]);
    }
    free(all);
}


/* A supervisor that restarts holding deployments an orchestrator placed (with an
 * epoch) may have been replaced while it was down: it serves them again only once
 * the orchestrator's probes confirm them (two grants, docs/migration.md "Lease"). */
static void start_fenced_if_placed(supervisor *sv)
{
    if (!device_has_orchestrator(sv->device))
        return;
    size_t count;
    deployment **all = deployment_store_snapshot(sv->deployments, &count);
    bool placed = false;
    for (size_t i = 0; i < count; i++) {
        placed = placed || all[i]->manifest->epoch > 0;
        deployment_release(all[i]);
    }
    free(all);
    if (placed) {
        lease_renew(&sv->lease, 1);
        log_info("supervisor.fenced", "reason=%s",
                 log_quote("restarted with deployments an orchestrator placed: serving them "
                           "again once its probes confirm them"));
    }
}

static bool start(supervisor *sv, char *err, size_t err_size)
{
    const supervisor_config *c = sv->config;
    if (!prepare_instance_dir(sv, err, err_size))
        return false;
    char *history_path = files_join(c->instance_dir, "history.jsonl", NULL);
    sv->history = history_path ? history_open(history_path, (size_t)c->history_limit, err, err_size)
                               : NULL;
    free(history_path);
    if (!sv->history)
        return false;
    char *departures_path = files_join(c->instance_dir, "departures.json", NULL);
    sv->departures = departures_path ? departures_open(departures_path,
                                                       (uint64_t)c->moved_ttl_s * 1000, err,
                                                       err_size)
                                     : NULL;
    if (!departures_path)
        snprintf(err, err_size, "out of memory");
    free(departures_path);
    if (!sv->departures)
        return false;
    sv->transfer_dir = files_join(c->instance_dir, "transfers", NULL);
    if (!sv->transfer_dir) {
        snprintf(err, err_size, "out of memory");
        return false;
    }
    sv->device = device_new(c, err, err_size);
    if (!sv->device)
        return false;
    deploy_settings settings = {
        .instance_dir = c->instance_dir,
        .camera_dir = c->camera_dir,
        .remote_functions = c->remote_functions,
        .default_limits = c->default_limits,
        .download_timeout_ms = (long)c->download_timeout_ms,
        .max_download_bytes = c->max_download_bytes,
    };
    sv->deployments = deployment_store_open(&settings, err, err_size);
    if (!sv->deployments)
        return false;
    mark_moved_modules(sv);
    start_fenced_if_placed(sv);
    sv->executor = executor_start((unsigned)c->workers, (size_t)c->max_queued, err, err_size);
    if (!sv->executor || !start_server(sv, err, err_size))
        return false;
    uint16_t port = http_server_port(sv->server);
    log_info("supervisor.listening", "name=%s address=%s port=%u deployments=%zu history=%zu",
             log_quote(c->name), c->bind_address ? c->bind_address : "0.0.0.0", port,
             deployment_store_count(sv->deployments), history_count(sv->history));
    if (!device_announce(sv->device, port, err, err_size))
        return false;
    sv->cpu_rule = cpu_rule_start(sv);
    sv->checkpointer = checkpointer_start(sv);
    return true;
}

/* ------------------------------------------------------------- stopping */

typedef struct grace_timer {
    pthread_mutex_t lock;
    pthread_cond_t done_changed;
    bool done;
    uint64_t grace_ms;
    deployment_store *deployments;
} grace_timer;

/* Interrupts calls still running when the grace period ends. */
static void *grace_timer_main(void *arg)
{
    grace_timer *t = arg;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += (time_t)(t->grace_ms / 1000);
    deadline.tv_nsec += (long)(t->grace_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&t->lock);
    int rc = 0;
    while (!t->done && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&t->done_changed, &t->lock, &deadline);
    bool interrupt = !t->done;
    pthread_mutex_unlock(&t->lock);
    if (interrupt) {
        log_warn("supervisor.interrupting", "grace_ms=%llu",
                 (unsigned long long)t->grace_ms);
        deployment_store_interrupt_all(t->deployments);
    }
    return NULL;
}

static void stop(supervisor *sv)
{
    cpu_rule_stop(sv->cpu_rule);
    atomic_store(&sv->stopping, true);
    grace_timer timer = {.grace_ms = sv->config->shutdown_grace_ms,
                         .deployments = sv->deployments};
    pthread_mutex_init(&timer.lock, NULL);
    pthread_cond_init(&timer.done_changed, NULL);
    pthread_t thread;
    bool timed = sv->deployments &&
                 pthread_create(&thread, NULL, grace_timer_main, &timer) == 0;
    if (sv->server)
        http_server_stop(sv->server);       /* no new requests; GET calls finish */
    if (sv->executor)
        executor_stop(sv->executor);        /* POST calls finish; queued ones are recorded */
    pthread_mutex_lock(&sv->carried_lock);  /* calls carried here by a migration finish */
    while (sv->carried_running > 0)
        pthread_cond_wait(&sv->carried_done, &sv->carried_lock);
    pthread_mutex_unlock(&sv->carried_lock);
    /* No call runs any more: none can poke the checkpointer after it is gone. */
    checkpointer_stop(sv->checkpointer);
    sv->checkpointer = NULL;
    if (timed) {
        pthread_mutex_lock(&timer.lock);
        timer.done = true;
        pthread_cond_signal(&timer.done_changed);
        pthread_mutex_unlock(&timer.lock);
        pthread_join(thread, NULL);
    }
    pthread_mutex_destroy(&timer.lock);
    pthread_cond_destroy(&timer.done_changed);
    if (sv->deployments) {
        deployment_store_save_states(sv->deployments);
        deployment_store_close(sv->deployments);
    }
    history_close(sv->history);
    device_free(sv->device);    /* mDNS goodbye, last logs forwarded */
    free(sv->spool_dir);
    free(sv->transfer_dir);
    departures_free(sv->departures);
}

/* ---------------------------------------------------------------- main */

int command_supervisor(int argc, char **argv)
{
    supervisor_config config;
    int rc = supervisor_config_load(&config, argc, argv);
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

    supervisor sv = {.config = &config};
    pthread_mutex_init(&sv.carried_lock, NULL);
    pthread_cond_init(&sv.carried_done, NULL);
    atomic_init(&sv.stopping, false);
    char err[1024] = "";
    if (!start(&sv, err, sizeof err)) {
        fprintf(stderr, "liquid supervisor: %s\n", err);
        log_error("supervisor.start_failed", "reason=%s", log_quote(err));
        stop(&sv);
        supervisor_config_free(&config);
        return 1;
    }
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    log_info("supervisor.stopping", "signal=%s", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
    if (signal_number == SIGTERM)
        move_away_drain(&sv);   /* still serving: the migrations out need it */
    stop(&sv);
    log_info("supervisor.stopped", "name=%s", log_quote(config.name));
    supervisor_config_free(&config);
    return 0;
}
