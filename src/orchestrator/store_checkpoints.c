/*
 * store_checkpoints.c — the newest checkpoint of each module instance (store.h).
 *
 * One row per (deployment, module): a new checkpoint replaces the row in the same
 * transaction that reads the one it replaces, so the caller can remove that blob once
 * nothing names it, and a crash leaves either the old pointer or the new one.
 */
#include "orchestrator/store_internal.h"

#include <stdio.h>
#include <string.h>

static json_t *row_document(sqlite3_stmt *stmt)
{
    return json_pack("{s:s, s:s, s:I, s:s, s:I, s:s}", "deployment",
                     (const char *)sqlite3_column_text(stmt, 0), "module",
                     (const char *)sqlite3_column_text(stmt, 1), "epoch",
                     (json_int_t)sqlite3_column_int64(stmt, 2), "sha256",
                     (const char *)sqlite3_column_text(stmt, 3), "bytes",
                     (json_int_t)sqlite3_column_int64(stmt, 4), "createdAt",
                     (const char *)sqlite3_column_text(stmt, 5));
}

#define COLUMNS "deployment_id, module, epoch, sha256, bytes, created_at"

store_result store_checkpoint_get(store *s, const char *deployment_id, const char *module,
                                  json_t **out, char *err, size_t err_size)
{
    *out = NULL;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *stmt = store_prepare(
        s, "SELECT " COLUMNS " FROM checkpoints WHERE deployment_id = ? AND module = ?", err,
        err_size);
    store_result r = STORE_ERROR;
    if (stmt) {
        store_bind_text(stmt, 1, deployment_id);
        store_bind_text(stmt, 2, module);
        int rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW) {
            *out = row_document(stmt);
            r = STORE_OK;
        } else if (rc == SQLITE_DONE) {
            store_error(err, err_size, "no checkpoint of module '%s' of deployment %s", module,
                        deployment_id);
            r = STORE_NOT_FOUND;
        } else {
            r = store_fail(s, "reading a checkpoint", err, err_size);
        }
        store_release(s, stmt);
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

store_result store_checkpoint_list(store *s, const char *deployment_id, json_t **out,
                                   char *err, size_t err_size)
{
    *out = json_array();
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *stmt = store_prepare(
        s, "SELECT " COLUMNS " FROM checkpoints WHERE deployment_id = ? ORDER BY module", err,
        err_size);
    store_result r = STORE_ERROR;
    if (stmt) {
        store_bind_text(stmt, 1, deployment_id);
        int rc;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
            json_array_append_new(*out, row_document(stmt));
        r = rc == SQLITE_DONE ? STORE_OK : store_fail(s, "listing checkpoints", err, err_size);
        store_release(s, stmt);
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

static store_result read_current(store *s, const char *deployment_id, const char *module,
                                 int64_t *epoch, char digest[65], char *err, size_t err_size)
{
    digest[0] = '\0';
    *epoch = -1;
    sqlite3_stmt *stmt = store_prepare(
        s, "SELECT epoch, sha256 FROM checkpoints WHERE deployment_id = ? AND module = ?", err,
        err_size);
    if (!stmt)
        return STORE_ERROR;
    store_bind_text(stmt, 1, deployment_id);
    store_bind_text(stmt, 2, module);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *epoch = sqlite3_column_int64(stmt, 0);
        snprintf(digest, 65, "%s", (const char *)sqlite3_column_text(stmt, 1));
    }
    store_release(s, stmt);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK
                                                 : store_fail(s, "reading a checkpoint", err,
                                                              err_size);
}

static store_result count_users(store *s, const char *digest, bool *used, char *err,
                                size_t err_size)
{
    sqlite3_stmt *stmt =
        store_prepare(s, "SELECT COUNT(*) FROM checkpoints WHERE sha256 = ?", err, err_size);
    if (!stmt)
        return STORE_ERROR;
    store_bind_text(stmt, 1, digest);
    int rc = sqlite3_step(stmt);
    *used = rc == SQLITE_ROW && sqlite3_column_int64(stmt, 0) > 0;
    store_release(s, stmt);
    return rc == SQLITE_ROW ? STORE_OK : store_fail(s, "counting checkpoints", err, err_size);
}

store_result store_checkpoint_put(store *s, const char *deployment_id, const char *module,
                                  int64_t epoch, const char *sha256, int64_t bytes,
                                  char old_digest[65], bool *old_still_used, char *err,
                                  size_t err_size)
{
    char old[65];
    int64_t old_epoch;
    bool used = false;
    if (!store_begin(s, err, err_size))
        return STORE_ERROR;
    store_result r = read_current(s, deployment_id, module, &old_epoch, old, err, err_size);
    if (r == STORE_OK && old_epoch > epoch) {
        store_error(err, err_size, "stale epoch: the newest checkpoint of module '%s' is of "
                    "epoch %lld, this one of %lld", module, (long long)old_epoch,
                    (long long)epoch);
        r = STORE_CONFLICT;
    }
    if (r == STORE_OK) {
        char now[32];
        store_now_iso(now);
        sqlite3_stmt *stmt = store_prepare(
            s, "INSERT INTO checkpoints (" COLUMNS ") VALUES (?, ?, ?, ?, ?, ?)"
               " ON CONFLICT(deployment_id, module) DO UPDATE SET epoch = excluded.epoch,"
               " sha256 = excluded.sha256, bytes = excluded.bytes,"
               " created_at = excluded.created_at",
            err, err_size);
        if (!stmt) {
            r = STORE_ERROR;
        } else {
            store_bind_text(stmt, 1, deployment_id);
            store_bind_text(stmt, 2, module);
            sqlite3_bind_int64(stmt, 3, epoch);
            store_bind_text(stmt, 4, sha256);
            sqlite3_bind_int64(stmt, 5, bytes);
            store_bind_text(stmt, 6, now);
            r = store_step_done(s, stmt, NULL, err, err_size);
        }
    }
    if (r == STORE_OK && old[0])
        r = count_users(s, old, &used, err, err_size);
    r = store_end(s, r, err, err_size);
    if (old_digest)
        snprintf(old_digest, 65, "%s", r == STORE_OK ? old : "");
    if (old_still_used)
        *old_still_used = used;
    return r;
}
