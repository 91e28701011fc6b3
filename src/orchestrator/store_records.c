/*
 * store_records.c — what accumulates: executions, device logs and events. Each table
 * is bounded (the oldest rows go first), so a long-running orchestrator's database
 * does not grow without end.
 */
#include "orchestrator/store_internal.h"

#include <stdio.h>
#include <string.h>

#define EXECUTION_LIMIT 100000

/* ------------------------------------------------------------ executions */

static store_result write_execution_blobs(store *s, const char *id, const json_t *execution,
                                          char *err, size_t err_size)
{
    sqlite3_stmt *stmt = store_prepare(s, "DELETE FROM execution_blobs WHERE execution_id = ?1",
                                       err, err_size);
    if (!stmt)
        return STORE_ERROR;
    store_bind_text(stmt, 1, id);
    store_result r = store_step_done(s, stmt, NULL, err, err_size);
    const char *field;
    json_t *file;
    json_object_foreach((json_t *)json_object_get(execution, "inputFiles"), field, file) {
        /* a digest, or an object holding one as "sha256" */
        const char *digest = json_is_string(file)
                                 ? json_string_value(file)
                                 : json_string_value(json_object_get(file, "sha256"));
        if (r != STORE_OK || !digest)
            continue;
        stmt = store_prepare(s, "INSERT OR REPLACE INTO execution_blobs (execution_id, field,"
                                " sha256) VALUES (?1, ?2, ?3)", err, err_size);
        if (!stmt)
            return STORE_ERROR;
        store_bind_text(stmt, 1, id);
        store_bind_text(stmt, 2, field);
        store_bind_text(stmt, 3, digest);
        r = store_step_done(s, stmt, NULL, err, err_size);
    }
    return r;
}

static store_result write_execution(store *s, const json_t *execution, char *err,
                                    size_t err_size)
{
    const char *id = store_doc_string(execution, "_id", "execution", err, err_size);
    if (!id)
        return STORE_INVALID;
    char now[32];
    store_now_iso(now);
    sqlite3_stmt *stmt = store_prepare(
        s,
        "INSERT INTO executions (id, deployment_id, status, doc, created_at, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?5)"
        " ON CONFLICT(id) DO UPDATE SET deployment_id = excluded.deployment_id,"
        "  status = excluded.status, doc = excluded.doc, updated_at = excluded.updated_at",
        err, err_size);
    if (!stmt)
        return STORE_ERROR;
    store_bind_text(stmt, 1, id);
    store_bind_text(stmt, 2, json_string_value(json_object_get(execution, "deployment")));
    store_bind_text(stmt, 3, json_string_value(json_object_get(execution, "status")));
    store_bind_json(stmt, 4, execution);
    store_bind_text(stmt, 5, now);
    store_result r = store_step_done(s, stmt, NULL, err, err_size);
    return r == STORE_OK ? write_execution_blobs(s, id, execution, err, err_size) : r;
}

store_result store_execution_put(store *s, const json_t *execution, char *err,
                                 size_t err_size)
{
    if (!store_begin(s, err, err_size))
        return STORE_ERROR;
    store_result r = write_execution(s, execution, err, err_size);
    if (r == STORE_OK)
        r = store_trim(s, "executions", EXECUTION_LIMIT, err, err_size);
    return store_end(s, r, err, err_size);
}

static store_result read_execution(store *s, const char *id, json_t **out, char *err,
                                   size_t err_size)
{
    sqlite3_stmt *stmt = store_prepare(s, "SELECT doc FROM executions WHERE id = ?1", err,
                                       err_size);
    if (!stmt)
        return STORE_ERROR;
    store_bind_text(stmt, 1, id);
    int rc = sqlite3_step(stmt);
    json_t *doc = rc == SQLITE_ROW ? store_column_json(stmt, 0) : NULL;
    store_release(s, stmt);
    if (rc == SQLITE_DONE) {
        store_error(err, err_size, "no execution with id '%s'", id);
        return STORE_NOT_FOUND;
    }
    if (!doc)
        return store_fail(s, "reading an execution", err, err_size);
    *out = doc;
    return STORE_OK;
}

store_result store_execution_get(store *s, const char *id, json_t **out, char *err,
                                 size_t err_size)
{
    *out = NULL;
    pthread_mutex_lock(&s->lock);
    store_result r = read_execution(s, id, out, err, err_size);
    pthread_mutex_unlock(&s->lock);
    return r;
}

store_result store_execution_update(store *s, const char *id, const json_t *changes,
                                    json_t **out, char *err, size_t err_size)
{
    if (out)
        *out = NULL;
    if (!json_is_object(changes)) {
        store_error(err, err_size, "execution changes must be an object");
        return STORE_INVALID;
    }
    if (!store_begin(s, err, err_size))
        return STORE_ERROR;
    json_t *doc = NULL;
    store_result r = read_execution(s, id, &doc, err, err_size);
    if (r == STORE_OK) {
        json_object_update(doc, (json_t *)changes);
        json_object_set_new(doc, "_id", json_string(id));
        r = write_execution(s, doc, err, err_size);
    }
    if (r == STORE_OK && out)
        *out = json_incref(doc);
    json_decref(doc);
    return store_end(s, r, err, err_size);
}

store_result store_execution_list(store *s, const char *deployment_id, size_t limit,
                                  json_t **out, char *err, size_t err_size)
{
    *out = NULL;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *stmt = store_prepare(
        s, "SELECT doc FROM executions WHERE ?1 IS NULL OR deployment_id = ?1"
           " ORDER BY seq DESC LIMIT ?2", err, err_size);
    store_result r = STORE_ERROR;
    store_texts texts;
    if (stmt) {
        store_bind_text(stmt, 1, deployment_id);
        sqlite3_bind_int64(stmt, 2, limit ? (sqlite3_int64)limit : -1);
        r = store_collect_texts(s, stmt, &texts, err, err_size);
    }
    pthread_mutex_unlock(&s->lock);
    if (r == STORE_OK)
        *out = store_texts_parse(&texts);
    return r;
}

/* ----------------------------------------------------------- device logs */

store_result store_log_add(store *s, const json_t *log, int64_t *seq, char *err,
                           size_t err_size)
{
    if (!json_is_object(log)) {
        store_error(err, err_size, "a log entry must be a JSON object");
        return STORE_INVALID;
    }
    char now[32];
    store_now_iso(now);
    int64_t now_ms = 0;
    store_parse_iso(now, &now_ms);
    json_t *doc = json_deep_copy(log);
    json_object_set_new(doc, "dateReceived", json_string(now));
    if (!store_begin(s, err, err_size)) {
        json_decref(doc);
        return STORE_ERROR;
    }
    sqlite3_stmt *stmt = store_prepare(
        s, "INSERT INTO device_logs (received_ms, doc) VALUES (?1, ?2)", err, err_size);
    store_result r = STORE_ERROR;
    if (stmt) {
        sqlite3_bind_int64(stmt, 1, now_ms);
        store_bind_json(stmt, 2, doc);
        r = store_step_done(s, stmt, NULL, err, err_size);
    }
    if (r == STORE_OK && seq)
        *seq = sqlite3_last_insert_rowid(s->db);
    if (r == STORE_OK)
        r = store_trim(s, "device_logs", STORE_LOG_LIMIT, err, err_size);
    json_decref(doc);
    return store_end(s, r, err, err_size);
}

store_result store_log_list(store *s, const char *after, size_t limit, json_t **out,
                            char *err, size_t err_size)
{
    *out = NULL;
    int64_t after_ms = INT64_MIN;
    if (after && !store_parse_iso(after, &after_ms)) {
        store_error(err, err_size,
                    "after: '%s' is not an ISO 8601 time such as 2024-06-15T09:42:25.877Z",
                    after);
        return STORE_INVALID;
    }
    pthread_mutex_lock(&s->lock);
    /* newest `limit` entries, answered oldest first */
    sqlite3_stmt *stmt = store_prepare(
        s, "SELECT doc FROM (SELECT seq, doc FROM device_logs WHERE received_ms > ?1"
           " ORDER BY seq DESC LIMIT ?2) ORDER BY seq", err, err_size);
    store_result r = STORE_ERROR;
    store_texts texts;
    if (stmt) {
        sqlite3_bind_int64(stmt, 1, after_ms);
        sqlite3_bind_int64(stmt, 2, limit ? (sqlite3_int64)limit : -1);
        r = store_collect_texts(s, stmt, &texts, err, err_size);
    }
    pthread_mutex_unlock(&s->lock);
    if (r == STORE_OK)
        *out = store_texts_parse(&texts);
    return r;
}

/* ---------------------------------------------------------------- events */

store_result store_event_add(store *s, const char *type, const char *subject,
                             const json_t *data, int64_t *seq, char *err, size_t err_size)
{
    if (!type || !*type) {
        store_error(err, err_size, "an event needs a type");
        return STORE_INVALID;
    }
    char now[32];
    store_now_iso(now);
    if (!store_begin(s, err, err_size))
        return STORE_ERROR;
    sqlite3_stmt *stmt = store_prepare(
        s, "INSERT INTO events (time, type, subject, data) VALUES (?1, ?2, ?3, ?4)", err,
        err_size);
    store_result r = STORE_ERROR;
    if (stmt) {
        store_bind_text(stmt, 1, now);
        store_bind_text(stmt, 2, type);
        store_bind_text(stmt, 3, subject);
        store_bind_json(stmt, 4, data);
        r = store_step_done(s, stmt, NULL, err, err_size);
    }
    if (r == STORE_OK && seq)
        *seq = sqlite3_last_insert_rowid(s->db);
    if (r == STORE_OK)
        r = store_trim(s, "events", STORE_EVENT_LIMIT, err, err_size);
    return store_end(s, r, err, err_size);
}

store_result store_event_list(store *s, int64_t after_seq, size_t limit, json_t **out,
                              char *err, size_t err_size)
{
    *out = NULL;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *stmt = store_prepare(
        s, "SELECT seq, time, type, subject, data FROM events WHERE seq > ?1"
           " ORDER BY seq LIMIT ?2", err, err_size);
    store_result r = STORE_ERROR;
    if (stmt) {
        sqlite3_bind_int64(stmt, 1, after_seq);
        sqlite3_bind_int64(stmt, 2, limit ? (sqlite3_int64)limit : -1);
        json_t *list = json_array();
        int rc;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
            const char *subject = (const char *)sqlite3_column_text(stmt, 3);
            json_t *data = store_column_json(stmt, 4);
            json_array_append_new(
                list, json_pack("{s:I, s:s, s:s, s:o, s:o}", "seq",
                                (json_int_t)sqlite3_column_int64(stmt, 0), "time",
                                sqlite3_column_text(stmt, 1), "type",
                                sqlite3_column_text(stmt, 2), "subject",
                                subject ? json_string(subject) : json_null(), "data",
                                data ? data : json_null()));
        }
        store_release(s, stmt);
        if (rc == SQLITE_DONE) {
            *out = list;
            r = STORE_OK;
        } else {
            json_decref(list);
            r = store_fail(s, "reading events", err, err_size);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

int64_t store_event_last_seq(store *s)
{
    pthread_mutex_lock(&s->lock);
    int64_t seq = 0;
    sqlite3_stmt *stmt = store_prepare(s, "SELECT COALESCE(MAX(seq), 0) FROM events", NULL, 0);
    if (stmt && sqlite3_step(stmt) == SQLITE_ROW)
        seq = sqlite3_column_int64(stmt, 0);
    store_release(s, stmt);
    pthread_mutex_unlock(&s->lock);
    return seq;
}

/* ----------------------------------------------------------------- blobs */

store_result store_each_referenced_digest(store *s, void (*fn)(const char *digest, void *user),
                                          void *user, char *err, size_t err_size)
{
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *stmt = store_prepare(
        s, "SELECT sha256 FROM module_blobs UNION SELECT sha256 FROM execution_blobs"
        " UNION SELECT sha256 FROM checkpoints", err,
        err_size);
    store_result r = STORE_ERROR;
    if (stmt) {
        int rc;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
            fn((const char *)sqlite3_column_text(stmt, 0), user);
        r = rc == SQLITE_DONE ? STORE_OK : store_fail(s, "reading blob references", err,
                                                     err_size);
        store_release(s, stmt);
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}
