/*
 * event_handlers.h — handlers of the event_routes[] table that live in files of their
 * own (the table is in events_routes.c). User data is the orchestrator.
 */
#ifndef LIQUID_ORCHESTRATOR_EVENT_HANDLERS_H
#define LIQUID_ORCHESTRATOR_EVENT_HANDLERS_H

#include "base/http_server.h"

void metrics_handle(http_request *req, void *user);          /* metrics.c: GET /metrics */
void device_logs_post(http_request *req, void *user);        /* device_logs.c */
void device_logs_get(http_request *req, void *user);

#endif
