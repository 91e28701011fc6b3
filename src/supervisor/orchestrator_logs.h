/*
 * orchestrator_logs.h — the supervisor's log lines, forwarded to its orchestrator
 * (internal to orchestrator_link.c, and its unit test).
 *
 * A log sink turns each line into the reference's logData JSON (wasmiot-api.md §2.12)
 * and puts it on a bounded queue; a background thread POSTs each as the form field
 * logData to the endpoint. Logging never waits for the network: while there is no
 * endpoint yet, entries wait in the queue; while the orchestrator does not answer,
 * the thread backs off and the queue, when full, drops its oldest entries, counting
 * them, and says how many it dropped once it gets through again.
 */
#ifndef LIQUID_SUPERVISOR_ORCHESTRATOR_LOGS_H
#define LIQUID_SUPERVISOR_ORCHESTRATOR_LOGS_H

#include "base/log.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct orchestrator_logs orchestrator_logs;

/* Starts the sender and adds the sink (for lines of min_level and above). capacity
 * 0: 1000 entries. */
orchestrator_logs *orchestrator_logs_start(const char *device_name, const char *device_ip,
                                           log_level min_level, size_t capacity);
/* Where to send (NULL: hold entries until there is somewhere). Copied. */
void orchestrator_logs_set_endpoint(orchestrator_logs *logs, const char *endpoint);
/* Removes the sink, sends what is queued for at most flush_ms, stops, frees. */
void orchestrator_logs_stop(orchestrator_logs *logs, unsigned flush_ms);

/* Counters, for health reports and tests. */
uint64_t orchestrator_logs_sent(orchestrator_logs *logs);
uint64_t orchestrator_logs_dropped(orchestrator_logs *logs);

/* One log line (as log.h formats it) as logData:
 *   {"timestamp", "loglevel": "INFO|DEBUG|WARN|ERROR", "message", "funcName",
 *    "deviceName", "deviceIP", "request_id"?, "deployment_id"?, "module_name"?}
 * funcName is the event; message is the line without its ts, level and event. */
json_t *orchestrator_log_data(log_level level, const char *line, const char *device_name,
                              const char *device_ip);

#endif
