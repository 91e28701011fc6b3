/*
 * metrics.c — GET /metrics in the Prometheus text exposition format (version 0.0.4):
 * devices by state, deployments, executions with a latency histogram, health checks,
 * events. Counters come from the fleet and the event bus and only grow while the
 * process lives (Prometheus reads a restart as a counter reset); gauges are read
 * fresh at each scrape.
 */
#define _GNU_SOURCE
#include "orchestrator/event_handlers.h"
#include "orchestrator/events.h"
#include "orchestrator/fleet.h"
#include "orchestrator/migration.h"
#include "orchestrator/orchestrator.h"
#include "orchestrator/store.h"

#include <stdio.h>
#include <stdlib.h>

static void header(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with \, " and line breaks escaped, as the format requires. */
static void label_value(FILE *out, const char *value)
{
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"')
            fprintf(out, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", out);
        else
            fputc(*p, out);
    }
}

static void devices(FILE *out, orchestrator *o)
{
    fleet_counters c = {0};
    if (o->fleet)
        fleet_counters_get(o->fleet, &c);
    header(out, "liquid_devices", "gauge",
           "Devices the orchestrator knows, by health state (a blacklisted device is lost).");
    for (int state = DEVICE_ACTIVE; state <= DEVICE_LOST; state++)
        fprintf(out, "liquid_devices{state=\"%s\"} %zu\n", device_state_name(state),
                c.devices[state]);
    header(out, "liquid_devices_blacklisted", "gauge", "Devices blacklisted by a user.");
    fprintf(out, "liquid_devices_blacklisted %zu\n", c.blacklisted);
    header(out, "liquid_health_checks_total", "counter",
           "Health checks made (the health loop and introductions).");
    fprintf(out, "liquid_health_checks_total %llu\n", (unsigned long long)c.health_checks);
    header(out, "liquid_health_check_failures_total", "counter",
           "Health checks that got no healthy answer.");
    fprintf(out, "liquid_health_check_failures_total %llu\n",
            (unsigned long long)c.health_check_failures);
    header(out, "liquid_peer_failure_reports_total", "counter",
           "Failures of a device reported by peers and counted as failed checks.");
    fprintf(out, "liquid_peer_failure_reports_total %llu\n",
            (unsigned long long)c.peer_failure_reports);
    header(out, "liquid_device_introductions_total", "counter",
           "Device introductions (description fetched), by outcome.");
    fprintf(out, "liquid_device_introductions_total{outcome=\"success\"} %llu\n",
            (unsigned long long)c.introductions);
    fprintf(out, "liquid_device_introductions_total{outcome=\"failure\"} %llu\n",
            (unsigned long long)c.introduction_failures);
}

static void deployments(FILE *out, orchestrator *o)
{
    json_t *list = NULL;
    char err[256];
    if (!o->store || store_deployment_list(o->store, &list, err, sizeof err) != STORE_OK)
        return;     /* a gauge we cannot read is left out rather than reported as 0 */
    size_t active = 0, failover = 0, i;
    json_t *d;
    json_array_foreach(list, i, d) {
        active += json_is_true(json_object_get(d, "active"));
        failover += json_is_true(json_object_get(d, "isInFailover"));
    }
    header(out, "liquid_deployments", "gauge", "Deployments in the store, by whether they are "
           "deployed (active).");
    fprintf(out, "liquid_deployments{active=\"true\"} %zu\n", active);
    fprintf(out, "liquid_deployments{active=\"false\"} %zu\n", json_array_size(list) - active);
    header(out, "liquid_deployments_in_failover", "gauge",
           "Deployments with a step moved off its device after a failure.");
    fprintf(out, "liquid_deployments_in_failover %zu\n", failover);
    json_decref(list);
}

static void executions_and_events(FILE *out, orchestrator *o)
{
    events_counters c = {0};
    uint64_t buckets[EVENTS_LATENCY_BUCKETS + 1] = {0};
    json_t *by_type = NULL;
    events_counters_get(o->events, &c, buckets, &by_type);
    header(out, "liquid_executions_total", "counter", "Executions finished, by outcome.");
    fprintf(out, "liquid_executions_total{outcome=\"success\"} %llu\n",
            (unsigned long long)(c.executions - c.execution_failures));
    fprintf(out, "liquid_executions_total{outcome=\"failure\"} %llu\n",
            (unsigned long long)c.execution_failures);
    header(out, "liquid_execution_duration_seconds", "histogram",
           "Time from a request to /execute to its result.");
    for (size_t i = 0; i < EVENTS_LATENCY_BUCKETS; i++)
        fprintf(out, "liquid_execution_duration_seconds_bucket{le=\"%g\"} %llu\n",
                events_latency_bounds[i], (unsigned long long)buckets[i]);
    fprintf(out, "liquid_execution_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
            (unsigned long long)buckets[EVENTS_LATENCY_BUCKETS]);
    fprintf(out, "liquid_execution_duration_seconds_sum %.6f\n", c.execution_seconds_sum);
    fprintf(out, "liquid_execution_duration_seconds_count %llu\n",
            (unsigned long long)buckets[EVENTS_LATENCY_BUCKETS]);
    header(out, "liquid_events_published_total", "counter", "Events published, by type.");
    const char *type;
    json_t *n;
    json_object_foreach(by_type, type, n) {
        fputs("liquid_events_published_total{type=\"", out);
        label_value(out, type);
        fprintf(out, "\"} %lld\n", (long long)json_integer_value(n));
    }
    header(out, "liquid_event_subscribers_dropped_total", "counter",
           "Event-stream clients disconnected for falling too far behind.");
    fprintf(out, "liquid_event_subscribers_dropped_total %llu\n",
            (unsigned long long)c.subscribers_overflowed);
    header(out, "liquid_event_last_seq", "gauge", "Sequence number of the newest event.");
    fprintf(out, "liquid_event_last_seq %lld\n", (long long)events_last_seq(o->events));
    json_decref(by_type);
}

/* Moving functions (docs/migration.md, "Events and metrics"). */
static void migrations(FILE *out, orchestrator *o)
{
    migration_counters c;
    migration_counters_get(o->placement, &c);
    header(out, "liquid_migrations_total", "counter", "Planned migrations, by outcome.");
    fprintf(out, "liquid_migrations_total{outcome=\"completed\"} %llu\n",
            (unsigned long long)c.completed);
    fprintf(out, "liquid_migrations_total{outcome=\"failed\"} %llu\n",
            (unsigned long long)c.failed);
    header(out, "liquid_migration_unavailable_seconds", "histogram",
           "Time a migrated module admitted no call, as its source measured it.");
    for (size_t i = 0; i < MIGRATION_BUCKETS; i++)
        fprintf(out, "liquid_migration_unavailable_seconds_bucket{le=\"%g\"} %llu\n",
                migration_unavailable_bounds[i], (unsigned long long)c.unavailable[i]);
    fprintf(out, "liquid_migration_unavailable_seconds_bucket{le=\"+Inf\"} %llu\n",
            (unsigned long long)c.unavailable[MIGRATION_BUCKETS]);
    fprintf(out, "liquid_migration_unavailable_seconds_sum %.6f\n", c.unavailable_seconds_sum);
    fprintf(out, "liquid_migration_unavailable_seconds_count %llu\n",
            (unsigned long long)c.unavailable[MIGRATION_BUCKETS]);
    header(out, "liquid_checkpoints_total", "counter", "Checkpoints stored.");
    fprintf(out, "liquid_checkpoints_total %llu\n", (unsigned long long)c.checkpoints);
    header(out, "liquid_checkpoint_bytes_total", "counter",
           "Bytes of checkpoints received (what changed, not the full state).");
    fprintf(out, "liquid_checkpoint_bytes_total %llu\n", (unsigned long long)c.checkpoint_bytes);
    header(out, "liquid_checkpoints_restored_total", "counter",
           "Checkpoints sent to a device that replaced a lost one.");
    fprintf(out, "liquid_checkpoints_restored_total %llu\n",
            (unsigned long long)c.checkpoints_restored);
    header(out, "liquid_reroutes_total", "counter",
           "Route lookups by supervisors whose next hop moved or went away.");
    fprintf(out, "liquid_reroutes_total %llu\n", (unsigned long long)c.reroutes);
    header(out, "liquid_executions_retried_total", "counter",
           "Executions run again after the device of a step was lost mid-way.");
    fprintf(out, "liquid_executions_retried_total %llu\n",
            (unsigned long long)c.executions_retried);
}

void metrics_handle(http_request *req, void *user)
{
    orchestrator *o = user;
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out)
        return http_respond_error(req, 500, "out of memory");
    devices(out, o);
    deployments(out, o);
    executions_and_events(out, o);
    migrations(out, o);
    fclose(out);
    http_respond_bytes(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, size);
    free(text);
}
