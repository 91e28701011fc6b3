/*
 * store.h — everything the orchestrator knows, in one SQLite database (WAL).
 *
 * The store keeps documents in the shapes the Wasm-IoT API answers with (devices,
 * modules, deployments as in wasmiot-api.md §3.2-3.5), plus Liquid's own records
 * (executions, device logs, events). Callers put and get jansson objects; the store
 * pulls out the columns it indexes (id, name, status, ...) and keeps the rest whole,
 * so a part can add a member to its documents without a schema change.
 *
 * Identity: every document has "_id" (24 hex digits, ids.h); devices, modules and
 * deployments also have a unique "name". *_get takes either.
 *
 * Consistency: each function is one transaction. To make several calls one change
 * (a deployment and its event, a module and its data files), wrap them in
 * store_begin / store_commit; a failure in between and store_rollback leave nothing
 * of it. A crash at any point leaves the database as of the last commit.
 *
 * Threads: one connection behind one mutex. store_begin holds the mutex until
 * store_commit or store_rollback, so a transaction sees no other thread's writes and
 * other threads wait for it; keep transactions short (no network calls inside).
 *
 * Errors: functions return store_result; err (may be NULL) gets a sentence naming what
 * was wrong, e.g. "a module named 'fibo' already exists".
 */
#ifndef LIQUID_ORCHESTRATOR_STORE_H
#define LIQUID_ORCHESTRATOR_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store;

typedef enum store_result {
    STORE_OK = 0,
    STORE_NOT_FOUND,     /* no document with that id or name */
    STORE_CONFLICT,      /* a unique name is taken, or a referenced row forbids the change */
    STORE_INVALID,       /* the document lacks a required member or has the wrong type */
    STORE_ERROR,         /* SQLite failed (disk full, corrupt file, ...): a 500 */
} store_result;

/* The schema version this build writes (PRAGMA user_version). */
#define STORE_SCHEMA_VERSION 2

/* Opens (creating if needed) the database at path and migrates it to
 * STORE_SCHEMA_VERSION. A database from a newer Liquid is refused. */
store *store_open(const char *path, char *err, size_t err_size);
void store_close(store *s);
int store_schema_version(store *s);

/* Transactions; they nest (an inner one is a savepoint). */
bool store_begin(store *s, char *err, size_t err_size);
bool store_commit(store *s, char *err, size_t err_size);
void store_rollback(store *s);

/* ---- devices
 *
 * {"_id", "name", "communication": {"addresses": [...], "port": N},
 *  "description": {...}, "health": {"report": {...}|null, "timeOfQuery": ISO},
 *  "status": "active"|"suspect"|"lost", "blacklisted": bool,
 *  "failedHealthCheckCount": N, "okHealthCheckCount": N, "rttMs": N,
 *  "statusLog": [{"status", "time", "reason"}, ...]   newest first, read-only here
 *  ... any further members are kept as given }
 */
/* Inserts or replaces by "_id" (statusLog in the document is ignored; see
 * store_device_set_status). Missing status defaults to "active". */
store_result store_device_put(store *s, const json_t *device, char *err, size_t err_size);
/* *out: a new reference to the document, statusLog included. */
store_result store_device_get(store *s, const char *id_or_name, json_t **out, char *err,
                              size_t err_size);
/* *out: an array of every device, oldest first. */
store_result store_device_list(store *s, json_t **out, char *err, size_t err_size);
/* Sets top-level members of a device (e.g. "health", "rttMs", counters), keeping the
 * others; *out (may be NULL) gets the updated document. */
store_result store_device_update(store *s, const char *id, const json_t *changes, json_t **out,
                                 char *err, size_t err_size);
/* Changes status and appends {"status","time","reason"} to its status log in one
 * transaction; *changed (may be NULL) says whether the status was different. The log
 * keeps the newest STORE_STATUS_LOG_LIMIT entries per device. */
#define STORE_STATUS_LOG_LIMIT 100
store_result store_device_set_status(store *s, const char *id, const char *status,
                                     const char *reason, bool *changed, char *err,
                                     size_t err_size);
store_result store_device_delete(store *s, const char *id, char *err, size_t err_size);
store_result store_device_delete_all(store *s, long long *deleted, char *err, size_t err_size);

/* ---- modules
 *
 * {"_id", "name", "exports": [...], "requirements": [...],
 *  "wasm": {"originalFilename", "fileName", "sha256", "size"},
 *  "dataFiles": {"<mount>": {"originalFilename", "fileName", "sha256", "size", "mediaType"}},
 *  "mounts": {"<func>": {"<mount>": {"mediaType", "stage"}}},
 *  "description": {OpenAPI 3.0.3}, "isCoreModule": bool, ... }
 * "fileName" is the sha256 too: blobs are named by digest. */
store_result store_module_put(store *s, const json_t *module, char *err, size_t err_size);
store_result store_module_get(store *s, const char *id_or_name, json_t **out, char *err,
                              size_t err_size);
store_result store_module_list(store *s, json_t **out, char *err, size_t err_size);
/* STORE_CONFLICT, naming the deployment, when a deployment's sequence uses the module. */
store_result store_module_delete(store *s, const char *id, char *err, size_t err_size);
/* Deletes every module no deployment uses; *kept counts those that stay. */
store_result store_module_delete_all(store *s, long long *deleted, long long *kept, char *err,
                                     size_t err_size);

/* ---- deployments
 *
 * {"_id", "name", "manifest": {as posted}, "sequence": [{"device", "module", "func"}],
 *  "fullManifest": {"<deviceId>": DeploymentNode}, "placement": {reasons},
 *  "failoversBySequence": [[...]], "goalDeployment": [...], "active": bool,
 *  "isInFailover": bool, "epoch": N, "createdAt", "updatedAt", ... }
 * The store indexes sequence[*].device and sequence[*].module, which is what
 * store_deployments_using answers from. */
store_result store_deployment_put(store *s, const json_t *deployment, char *err,
                                  size_t err_size);
store_result store_deployment_get(store *s, const char *id_or_name, json_t **out, char *err,
                                  size_t err_size);
store_result store_deployment_list(store *s, json_t **out, char *err, size_t err_size);
store_result store_deployment_update(store *s, const char *id, const json_t *changes,
                                     json_t **out, char *err, size_t err_size);
store_result store_deployment_delete(store *s, const char *id, char *err, size_t err_size);
store_result store_deployment_delete_all(store *s, long long *deleted, char *err,
                                         size_t err_size);
/* Deployments whose sequence places a step on device_id (device_id may be NULL) and/or
 * uses module_id (may be NULL): *out is an array of deployment documents. */
store_result store_deployments_using(store *s, const char *device_id, const char *module_id,
                                     json_t **out, char *err, size_t err_size);

/* ---- executions
 *
 * {"_id", "deployment": id, "input": {...}, "inputFiles": {"<field>": sha256},
 *  "status": "running"|"success"|"failed", "result": ..., "steps": [{timings}],
 *  "error": text|null, "createdAt", "finishedAt", ... } */
store_result store_execution_put(store *s, const json_t *execution, char *err,
                                 size_t err_size);
store_result store_execution_get(store *s, const char *id, json_t **out, char *err,
                                 size_t err_size);
store_result store_execution_update(store *s, const char *id, const json_t *changes,
                                    json_t **out, char *err, size_t err_size);
/* Newest first; deployment_id NULL for all; limit 0 for no limit. */
store_result store_execution_list(store *s, const char *deployment_id, size_t limit,
                                  json_t **out, char *err, size_t err_size);

/* ---- device logs (POST /device/logs): bounded, the oldest go first. */
#define STORE_LOG_LIMIT 100000
/* log is the supervisor's logData object; "dateReceived" is added. *seq (may be NULL)
 * gets the entry's sequence number. */
store_result store_log_add(store *s, const json_t *log, int64_t *seq, char *err,
                           size_t err_size);
/* Entries received after the ISO time `after` (NULL: all), oldest first, at most
 * limit (0: no limit, newest kept when limited). */
store_result store_log_list(store *s, const char *after, size_t limit, json_t **out,
                            char *err, size_t err_size);

/* ---- events: bounded, the oldest go first.
 * {"seq": N, "time": ISO, "type": "device.lost", "subject": id, "data": {...}} */
#define STORE_EVENT_LIMIT 10000
store_result store_event_add(store *s, const char *type, const char *subject,
                             const json_t *data, int64_t *seq, char *err, size_t err_size);
/* Events with seq > after_seq, oldest first, at most limit (0: no limit). */
store_result store_event_list(store *s, int64_t after_seq, size_t limit, json_t **out,
                              char *err, size_t err_size);
int64_t store_event_last_seq(store *s);

/* ---- checkpoints: the newest complete state bundle of each module instance
 * {"deployment", "module", "epoch", "sha256", "bytes", "createdAt"}; the bundle is a
 * blob. Deleting the deployment deletes its checkpoints. */
store_result store_checkpoint_get(store *s, const char *deployment_id, const char *module,
                                  json_t **out, char *err, size_t err_size);
/* Records a checkpoint as the newest of its instance, in one transaction with reading
 * the one it replaces: old_digest (may be NULL) gets that one's digest ("" if none),
 * and *old_still_used whether another checkpoint still names it. STORE_CONFLICT when
 * the instance already has a checkpoint of a newer epoch. */
store_result store_checkpoint_put(store *s, const char *deployment_id, const char *module,
                                  int64_t epoch, const char *sha256, int64_t bytes,
                                  char old_digest[65], bool *old_still_used, char *err,
                                  size_t err_size);
/* Every checkpoint of a deployment (an array, by module). */
store_result store_checkpoint_list(store *s, const char *deployment_id, json_t **out,
                                   char *err, size_t err_size);

/* ---- blobs referenced by documents (blobs_gc marks with it): calls fn once per
 * sha256 a module, data file or execution input refers to. */
store_result store_each_referenced_digest(store *s, void (*fn)(const char *digest, void *user),
                                          void *user, char *err, size_t err_size);

/* The current time as ISO 8601 UTC with milliseconds ("2026-11-22T10:00:00.123Z"). */
void store_now_iso(char out[32]);
/* Reads an ISO 8601 time ("2024-06-15T09:42:25Z", with optional fraction and a Z or
 * +hh:mm offset; a date alone is midnight UTC) as milliseconds since the epoch. */
bool store_parse_iso(const char *text, int64_t *ms);

#endif
