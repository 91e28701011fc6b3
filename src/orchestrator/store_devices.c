/*
 * store_devices.c — the devices table and each device's status log.
 *
 * The status log is a table of its own, not a member of the document: it grows by
 * one row per change without rewriting the document, and is bounded per device.
 */
#include "orchestrator/store_internal.h"

#include <stdio.h>
#include <string.h>

static bool is_status(const char *status)
{
    return !strcmp(status, "active") || !strcmp(status, "suspect") || !strcmp(status, "lost");
}

/* Writes doc (without statusLog) under its _id; the caller holds a transaction. */
static store_result write_device(store *s, const json_t *device, char *err, size_t err_size)
{
    const char *id = store_doc_string(device, "_id", "device", err, err_size);
    const char *name = id ? store_doc_string(device, "name", "device", err, err_size) : NULL;
    if (!id || !name)
        return STORE_INVALID;
    const char *status = json_string_value(json_object_get(device, "status"));
    if (status && !is_status(status)) {
        store_error(err, err_size, "device status '%s' is not one of active, suspect, lost",
                    status);
        return STORE_INVALID;
    }
    json_t *doc = json_deep_copy(device);
    json_object_del(doc, "statusLog");
    if (!status)
        json_object_set_new(doc, "status", json_string(status = "active"));
    char now[32];
    store_now_iso(now);
    sqlite3_stmt *stmt = store_prepare(
        s,
        "INSERT INTO devices (id, name, status, blacklisted, doc, created_at, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)"
        " ON CONFLICT(id) DO UPDATE SET name = excluded.name, status = excluded.status,"
        "  blacklisted = excluded.blacklisted, doc = excluded.doc,"
        "  updated_at = excluded.updated_at",
        err, err_size);
    if (!stmt) {
        json_decref(doc);
        return STORE_ERROR;
    }
    store_bind_text(stmt, 1, id);
    store_bind_text(stmt, 2, name);
    store_bind_text(stmt, 3, status);
    sqlite3_bind_int(stmt, 4, json_is_true(json_object_get(device, "blacklisted")));
    store_bind_json(stmt, 5, doc);
    store_bind_text(stmt, 6, now);
    json_decref(doc);
    char conflict[300];
    snprintf(conflict, sizeof conflict, "a device named '%s' already exists", name);
    return store_step_done(s, stmt, conflict, err, err_size);
}

store_result store_device_put(store *s, const json_t *device, char *err, size_t err_size)
{
    if (!store_begin(s, err, err_size))
        return STORE_ERROR;
    return store_end(s, write_device(s, device, err, err_size), err, err_size);
}

static store_result status_log(store *s, const char *id, json_t **out, char *err,
                               size_t err_size)
{
    sqlite3_stmt *stmt = store_prepare(
        s, "SELECT status, time, reason FROM device_status_log WHERE device_id = ?1"
           " ORDER BY seq DESC", err, err_size);
    if (!stmt)
        return STORE_ERROR;
    store_bind_text(stmt, 1, id);
    json_t *log = json_array();
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *reason = (const char *)sqlite3_column_text(stmt, 2);
        json_array_append_new(
            log, json_pack("{s:s, s:s, s:o}", "status", sqlite3_column_text(stmt, 0), "time",
                           sqlite3_column_text(stmt, 1), "reason",
                           reason ? json_string(reason) : json_null()));
    }
    store_release(s, stmt);
    if (rc != SQLITE_DONE) {
        json_decref(log);
        return store_fail(s, "reading a status log", err, err_size);
    }
    *out = log;
    return STORE_OK;
}

/* The device document (without its status log) by id, or by name when no id matches. */
static store_result read_device(store *s, const char *id_or_name, json_t **out, char *err,
                                size_t err_size)
{
    return store_read_doc(s, "SELECT doc FROM devices WHERE id = ?1 OR name = ?1"
                             " ORDER BY id = ?1 DESC LIMIT 1",
                          "device", id_or_name, out, err, err_size);
}

store_result store_device_get(store *s, const char *id_or_name, json_t **out, char *err,
                              size_t err_size)
{
    *out = NULL;
    /* a read: the lock alone keeps the two queries consistent (every write in this
     * process takes it too), without the cost of a write transaction */
    pthread_mutex_lock(&s->lock);
    json_t *doc = NULL, *log = NULL;
    store_result r = read_device(s, id_or_name, &doc, err, err_size);
    if (r == STORE_OK)
        r = status_log(s, json_string_value(json_object_get(doc, "_id")), &log, err, err_size);
    if (r == STORE_OK) {
        json_object_set_new(doc, "statusLog", log);
        *out = doc;
    } else {
        json_decref(doc);
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

store_result store_device_list(store *s, json_t **out, char *err, size_t err_size)
{
    *out = NULL;
    /* a read: the lock alone keeps the two queries consistent (every write in this
     * process takes it too), without the cost of a write transaction */
    pthread_mutex_lock(&s->lock);
    store_texts texts = {0};
    sqlite3_stmt *stmt = store_prepare(s, "SELECT doc FROM devices ORDER BY created_at, id",
                                       err, err_size);
    store_result r = stmt ? store_collect_texts(s, stmt, &texts, err, err_size) : STORE_ERROR;
    /* every log in one query, attached by id: one query per device would make a
     * list of thousands of devices slow */
    json_t *logs = json_object();
    if (r == STORE_OK)
        stmt = store_prepare(s, "SELECT device_id, status, time, reason FROM device_status_log"
                                " ORDER BY seq DESC", err, err_size);
    if (r == STORE_OK && stmt) {
        while (sqlite3_step(stmt) == SQLITE_ROW) {
            const char *id = (const char *)sqlite3_column_text(stmt, 0);
            json_t *log = json_object_get(logs, id);
            if (!log)
                json_object_set_new(logs, id, log = json_array());
            const char *reason = (const char *)sqlite3_column_text(stmt, 3);
            json_array_append_new(
                log, json_pack("{s:s, s:s, s:o}", "status", sqlite3_column_text(stmt, 1),
                               "time", sqlite3_column_text(stmt, 2), "reason",
                               reason ? json_string(reason) : json_null()));
        }
        store_release(s, stmt);
    } else if (r == STORE_OK) {
        r = STORE_ERROR;
    }
    pthread_mutex_unlock(&s->lock);
    json_t *list = store_texts_parse(&texts);
    if (r == STORE_OK) {
        size_t i;
        json_t *doc;
        json_array_foreach(list, i, doc) {
            json_t *log = json_object_get(logs, json_string_value(json_object_get(doc, "_id")));
            json_object_set_new(doc, "statusLog", log ? json_incref(log) : json_array());
        }
        *out = list;
    } else {
        json_decref(list);
    }
    json_decref(logs);
    return r;
}

store_result store_device_update(store *s, const char *id, const json_t *changes, json_t **out,
                                 char *err, size_t err_size)
{
    if (out)
        *out = NULL;
    if (!json_is_object(changes)) {
        store_error(err, err_size, "device changes must be an object");
        return STORE_INVALID;
    }
    if (!store_begin(s, err, err_size))
        return STORE_ERROR;
    json_t *doc = NULL;
    store_result r = read_device(s, id, &doc, err, err_size);
    if (r == STORE_OK && strcmp(json_string_value(json_object_get(doc, "_id")), id)) {
        store_error(err, err_size, "no device with id '%s'", id);
        r = STORE_NOT_FOUND;
    }
    if (r == STORE_OK) {
        json_object_update(doc, (json_t *)changes);
        json_object_set_new(doc, "_id", json_string(id));   /* the id cannot change */
        r = write_device(s, doc, err, err_size);
    }
    json_t *log = NULL;
    if (r == STORE_OK && out && (r = status_log(s, id, &log, err, err_size)) == STORE_OK) {
        json_object_set_new(doc, "statusLog", log);
        *out = json_incref(doc);
    }
    json_decref(doc);
    return store_end(s, r, err, err_size);
}

store_result store_device_set_status(store *s, const char *id, const char *status,
                                     const char *reason, bool *changed, char *err,
                                     size_t err_size)
{
    if (changed)
        *changed = false;
    if (!status || !is_status(status)) {
        store_error(err, err_size, "device status '%s' is not one of active, suspect, lost",
                    status ? status : "(null)");
        return STORE_INVALID;
    }
    if (!store_begin(s, err, err_size))
        return STORE_ERROR;
    json_t *doc = NULL;
    store_result r = read_device(s, id, &doc, err, err_size);
    if (r == STORE_OK && strcmp(json_string_value(json_object_get(doc, "_id")), id)) {
        store_error(err, err_size, "no device with id '%s'", id);
        r = STORE_NOT_FOUND;
    }
    const char *old = r == STORE_OK ? json_string_value(json_object_get(doc, "status")) : NULL;
    if (r == STORE_OK && (!old || strcmp(old, status))) {
        json_object_set_new(doc, "status", json_string(status));
        r = write_device(s, doc, err, err_size);
        char now[32];
        store_now_iso(now);
        sqlite3_stmt *stmt = r == STORE_OK ? store_prepare(
            s, "INSERT INTO device_status_log (device_id, time, status, reason)"
               " VALUES (?1, ?2, ?3, ?4)", err, err_size) : NULL;
        if (stmt) {
            store_bind_text(stmt, 1, id);
            store_bind_text(stmt, 2, now);
            store_bind_text(stmt, 3, status);
            store_bind_text(stmt, 4, reason);
            r = store_step_done(s, stmt, NULL, err, err_size);
        } else if (r == STORE_OK) {
            r = STORE_ERROR;
        }
        stmt = r == STORE_OK ? store_prepare(
            s, "DELETE FROM device_status_log WHERE device_id = ?1 AND seq NOT IN"
               " (SELECT seq FROM device_status_log WHERE device_id = ?1"
               "  ORDER BY seq DESC LIMIT ?2)", err, err_size) : NULL;
        if (stmt) {
            store_bind_text(stmt, 1, id);
            sqlite3_bind_int(stmt, 2, STORE_STATUS_LOG_LIMIT);
            r = store_step_done(s, stmt, NULL, err, err_size);
        } else if (r == STORE_OK) {
            r = STORE_ERROR;
        }
        if (r == STORE_OK && changed)
            *changed = true;
    }
    json_decref(doc);
    return store_end(s, r, err, err_size);
}

store_result store_device_delete(store *s, const char *id, char *err, size_t err_size)
{
    if (!store_begin(s, err, err_size))
        return STORE_ERROR;
    sqlite3_stmt *stmt = store_prepare(s, "DELETE FROM devices WHERE id = ?1", err, err_size);
    if (!stmt)
        return store_end(s, STORE_ERROR, err, err_size);
    store_bind_text(stmt, 1, id);
    store_result r = store_step_done(s, stmt, NULL, err, err_size);
    if (r == STORE_OK && sqlite3_changes(s->db) == 0) {
        store_error(err, err_size, "no device with id '%s'", id);
        r = STORE_NOT_FOUND;
    }
    return store_end(s, r, err, err_size);
}

store_result store_device_delete_all(store *s, long long *deleted, char *err, size_t err_size)
{
    if (deleted)
        *deleted = 0;
    if (!store_begin(s, err, err_size))
        return STORE_ERROR;
    sqlite3_stmt *stmt = store_prepare(s, "DELETE FROM devices", err, err_size);
    store_result r = stmt ? store_step_done(s, stmt, NULL, err, err_size) : STORE_ERROR;
    if (r == STORE_OK && deleted)
        *deleted = sqlite3_changes(s->db);
    return store_end(s, r, err, err_size);
}
