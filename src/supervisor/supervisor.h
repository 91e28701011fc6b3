/*
 * supervisor.h — `liquid supervisor`, the agent on every device: its settings and the
 * parts one running supervisor is made of, shared by the HTTP handlers.
 *
 *   supervisor_config.c   settings from defaults, a JSON file, environment, flags
 *   supervisor.c          start-up, signals, orderly shutdown
 *   routes.c              the HTTP routes of the Wasm-IoT supervisor API
 *   invocation.c          one function call: arguments, files, run, result, history
 *   chain.c               handing a result to the next step of a pipeline
 *   deployment_store.c    deployments: deploy, swap, remove, restore
 *   history.c             the request history, persisted
 *   device.c              what the device is (sysinfo) and who knows it (orchestrator link)
 */
#ifndef LIQUID_SUPERVISOR_SUPERVISOR_H
#define LIQUID_SUPERVISOR_SUPERVISOR_H

#include "base/http_server.h"
#include "base/log.h"
#include "supervisor/deployment_store.h"
#include "supervisor/executor.h"
#include "supervisor/history.h"
#include "supervisor/lease.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct supervisor_config {
    char *config_file;          /* --config: the JSON file these settings may come from */
    char *name;                 /* device name: mDNS instance, orchestrator identity */
    char *bind_address;
    long long port;
    char *instance_dir;
    char *orchestrator_url;     /* NULL: none (mDNS or POST /register may bring one) */
    char *logging_endpoint;
    long long renewal_seconds;
    bool mdns;
    char *advertised_address;   /* NULL: the primary interface's */
    char *camera_dir;
    char *remote_functions;
    json_t *capabilities;       /* object, from the config file */
    long long history_limit;
    uint64_t max_upload_bytes;
    uint64_t max_download_bytes;
    long long fuel;             /* copied into default_limits */
    manifest_limits default_limits;
    long long workers;
    long long max_queued;       /* POST calls waiting for a worker */
    long long http_threads;
    uint64_t chain_timeout_ms;
    uint64_t download_timeout_ms;
    uint64_t shutdown_grace_ms;
    /* moving functions with their state (docs/migration.md) */
    long long migrate_grace_ms;     /* a running call may finish before it is suspended */
    long long moved_ttl_s;          /* how long a moved module's requests are redirected */
    uint64_t transfer_part_bytes;   /* a state transfer is sent in parts of this size */
    long long checkpoint_interval_ms;   /* checkpoints to the orchestrator (0: none timed) */
    bool checkpoint_after_call;
    long long drain_timeout_ms;     /* SIGTERM: how long the orchestrator may take to drain */
    double move_away_cpu;           /* the CPU rule's threshold (0: off) */
    char *move_away_cpu_text;       /* as given */
    long long move_away_for_s;      /* ... for this long */
    log_level log_level;
} supervisor_config;

/* Fills config from defaults < config file < environment < flags. Returns 0 to run,
 * -1 when --help was printed, or 2 after printing a usage error. */
int supervisor_config_load(supervisor_config *config, int argc, char **argv);
void supervisor_config_free(supervisor_config *config);

typedef struct device device;   /* device.c */
typedef struct departures departures;   /* departures.c */
typedef struct cpu_rule cpu_rule;       /* move_away.c */
typedef struct checkpointer checkpointer;   /* checkpointer.c */

typedef struct supervisor {
    supervisor_config *config;
    deployment_store *deployments;
    history *history;
    executor *executor;
    http_server *server;
    device *device;
    char *spool_dir;            /* <instance>/spool: uploads and files between steps */
    char *transfer_dir;         /* <instance>/transfers: state arriving from a migration */
    departures *departures;     /* moved modules, stale deployments */
    lease lease;                /* the orchestrator's, from its health probes */
    cpu_rule *cpu_rule;         /* --move-away-cpu */
    checkpointer *checkpointer; /* module state to the orchestrator */
    atomic_bool stopping;
    /* Calls carried here by a migration run on threads of their own; stop() waits for
     * them before it frees what they use. */
    pthread_mutex_t carried_lock;
    pthread_cond_t carried_done;
    unsigned carried_running;
} supervisor;

/* The route table (routes.c). */
const http_route *supervisor_routes(size_t *count);

/* GET|POST /{deployment}/modules/{module}/{function} (invocation.c). */
void invocation_handle(supervisor *sv, http_request *req);

/* Resumes a call carried in a state bundle (call: {"requestId", "function", "method",
 * "args", ...}) on its own thread, under its original request id, with its chain
 * continuing from here; the module's runtime holds it suspended (invocation.c). */
bool invocation_resume_carried(supervisor *sv, deployment *dep, const char *module,
                               const json_t *call, const char *base_url, char *err,
                               size_t err_size);

/* The migration routes: POST .../migrate on the source (migrate_out.c), PUT and GET
 * .../state on the target (state_transfer.c). */
void migrate_out_handle(supervisor *sv, http_request *req);
/* A state bundle of the module: state (taken, freed here), the files of its
 * directory — with its subdirectories, or only the top level's files — and the
 * suspended call if any. Symbolic links are never followed nor carried. */
bool migrate_out_bundle(module_runtime *rt, uint8_t *state, size_t state_size,
                        const json_t *call, bool subdirectories, uint8_t **out, size_t *size,
                        char *err, size_t err_size);
void state_transfer_handle_put(supervisor *sv, http_request *req);
void state_transfer_handle_get(supervisor *sv, http_request *req);

/* SIGTERM with an orchestrator: POST /liquid/drain and wait for its answer while
 * still serving. The CPU rule: a thread posting /liquid/move-away (move_away.c). */
void move_away_drain(supervisor *sv);
/* Checkpoints (checkpointer.c): a thread; poke it after a call. */
checkpointer *checkpointer_start(supervisor *sv);
void checkpointer_poke(checkpointer *c);
void checkpointer_stop(checkpointer *c);
cpu_rule *cpu_rule_start(supervisor *sv);
void cpu_rule_stop(cpu_rule *rule);

/* 307 to the same path and query at target (scheme://host:port), the module's name
 * segment changed from module to target_module; body {"status": "moved", "location"}
 * (routes.c). */
void supervisor_redirect_moved(http_request *req, const char *target, const char *module,
                               const char *target_module);
/* Answers a request for a module that migrated away (307) or a deployment whose copy
 * was stale (409); false when neither, and nothing was answered. */
bool supervisor_answer_departed(supervisor *sv, http_request *req, const char *dep_id,
                                const char *module);

/* The base URL others reach this supervisor at, as the client saw it (Host header),
 * for resultUrl and output file links. malloc'ed. */
char *supervisor_base_url(supervisor *sv, http_request *req);

#endif
