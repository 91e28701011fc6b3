/*
 * move_away.c — a supervisor asking its orchestrator to move its modules elsewhere
 * (docs/migration.md, Triggers):
 *
 *   drain     on SIGTERM, POST {orchestrator}/liquid/drain {"device": name} and wait
 *             (at most --drain-timeout-ms) while still serving, so the migrations out
 *             it starts can run; then the supervisor stops as before;
 *   CPU rule  with --move-away-cpu F --move-away-for-s S, CPU use above F for S
 *             seconds posts /liquid/move-away for each module, at most once per module
 *             per S seconds.
 */
#define _GNU_SOURCE
#include "supervisor/supervisor.h"

#include "base/http_client.h"
#include "base/sysinfo.h"
#include "supervisor/device.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void move_away_drain(supervisor *sv)
{
    char *orchestrator = device_orchestrator_url(sv->device);
    if (!orchestrator)
        return;
    char *url;
    if (asprintf(&url, "%s/liquid/drain", orchestrator) < 0) {
        free(orchestrator);
        return;
    }
    json_t *body = json_pack("{s:s}", "device", sv->config->name);
    http_result r = {0};
    log_info("supervisor.draining", "orchestrator=%s timeout_ms=%lld", log_quote(orchestrator),
             sv->config->drain_timeout_ms);
    bool answered = http_post_json(url, body, (long)sv->config->drain_timeout_ms, &r);
    if (answered && r.status < 300)
        log_info("supervisor.drained", "status=%ld seconds=%.3f", r.status, r.seconds);
    else
        log_warn("supervisor.drain_failed", "status=%ld reason=%s hint=%s", r.status,
                 log_quote(answered ? (r.body ? r.body : "") : r.error),
                 log_quote("modules still here stop with the supervisor; their memory is saved"));
    http_result_free(&r);
    json_decref(body);
    free(url);
    free(orchestrator);
}

/* ------------------------------------------------------------- the CPU rule */

typedef struct asked {
    char *key;                  /* "<deployment>/<module>" */
    double at_s;
} asked;

struct cpu_rule {
    supervisor *sv;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    asked *asked;
    size_t asked_count;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Whether this module may be asked about now (once per period), and remember it. */
static bool may_ask(cpu_rule *rule, const char *key, double period_s)
{
    double now = now_s();
    for (size_t i = 0; i < rule->asked_count; i++)
        if (!strcmp(rule->asked[i].key, key)) {
            if (now - rule->asked[i].at_s < period_s)
                return false;
            rule->asked[i].at_s = now;
            return true;
        }
    asked *grown = realloc(rule->asked, (rule->asked_count + 1) * sizeof *grown);
    char *copy = strdup(key);
    if (!grown || !copy) {
        free(copy);
        if (grown)
            rule->asked = grown;
        return false;
    }
    rule->asked = grown;
    rule->asked[rule->asked_count++] = (asked){copy, now};
    return true;
}

static void ask_to_move(cpu_rule *rule, const char *orchestrator, const char *dep,
                        const char *module, double cpu)
{
    supervisor *sv = rule->sv;
    char key[600], reason[200], *url;
    snprintf(key, sizeof key, "%s/%s", dep, module);
    if (!may_ask(rule, key, (double)sv->config->move_away_for_s) ||
        asprintf(&url, "%s/liquid/move-away", orchestrator) < 0)
        return;
    snprintf(reason, sizeof reason, "cpu %.2f above %.2f for %llds", cpu,
             sv->config->move_away_cpu, sv->config->move_away_for_s);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "device", sv->config->name, "deployment",
                             dep, "module", module, "reason", reason);
    http_result r = {0};
    bool answered = http_post_json(url, body, 10000, &r);
    log_info("module.move_away_asked", "deployment=%s module=%s reason=%s status=%ld", dep,
             module, log_quote(reason), answered ? r.status : 0L);
    http_result_free(&r);
    json_decref(body);
    free(url);
}

static void ask_for_all(cpu_rule *rule, double cpu)
{
    char *orchestrator = device_orchestrator_url(rule->sv->device);
    if (!orchestrator)
        return;
    size_t count;
    deployment **all = deployment_store_snapshot(rule->sv->deployments, &count);
    for (size_t i = 0; i < count; i++) {
        for (size_t j = 0; j < all[i]->manifest->module_count; j++)
            if (module_runtime_phase(all[i]->runtimes[j]) == RUNTIME_SERVING)
                ask_to_move(rule, orchestrator, all[i]->id, all[i]->manifest->modules[j].name,
                            cpu);
        deployment_release(all[i]);
    }
    free(all);
    free(orchestrator);
}

static bool wait_a_second(cpu_rule *rule)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 1;
    pthread_mutex_lock(&rule->lock);
    while (!rule->stop &&
           pthread_cond_timedwait(&rule->wake, &rule->lock, &deadline) == 0)
        ;
    bool stop = rule->stop;
    pthread_mutex_unlock(&rule->lock);
    return !stop;
}

static void *cpu_rule_main(void *arg)
{
    cpu_rule *rule = arg;
    sysinfo_sampler *sampler = sysinfo_sampler_new();
    double above_since = 0;
    while (sampler && wait_a_second(rule)) {
        json_t *health = sysinfo_health(sampler, rule->sv->config->instance_dir);
        double cpu = json_number_value(json_object_get(health, "cpuUsage"));
        json_decref(health);
        if (cpu <= rule->sv->config->move_away_cpu) {
            above_since = 0;
            continue;
        }
        if (!above_since)
            above_since = now_s();
        if (now_s() - above_since >= (double)rule->sv->config->move_away_for_s)
            ask_for_all(rule, cpu);
    }
    sysinfo_sampler_free(sampler);
    return NULL;
}

cpu_rule *cpu_rule_start(supervisor *sv)
{
    if (sv->config->move_away_cpu <= 0)
        return NULL;
    cpu_rule *rule = calloc(1, sizeof *rule);
    if (!rule)
        return NULL;
    rule->sv = sv;
    pthread_mutex_init(&rule->lock, NULL);
    pthread_cond_init(&rule->wake, NULL);
    if (pthread_create(&rule->thread, NULL, cpu_rule_main, rule) != 0) {
        pthread_mutex_destroy(&rule->lock);
        pthread_cond_destroy(&rule->wake);
        free(rule);
        return NULL;
    }
    log_info("cpu_rule.started", "cpu=%.2f for_s=%lld", sv->config->move_away_cpu,
             sv->config->move_away_for_s);
    return rule;
}

void cpu_rule_stop(cpu_rule *rule)
{
    if (!rule)
        return;
    pthread_mutex_lock(&rule->lock);
    rule->stop = true;
    pthread_cond_signal(&rule->wake);
    pthread_mutex_unlock(&rule->lock);
    pthread_join(rule->thread, NULL);
    for (size_t i = 0; i < rule->asked_count; i++)
        free(rule->asked[i].key);
    free(rule->asked);
    pthread_mutex_destroy(&rule->lock);
    pthread_cond_destroy(&rule->wake);
    free(rule);
}
