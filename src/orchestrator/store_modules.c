/*
 * store_modules.c — the modules table, and the blobs each module names (its binary
 * and data files), which is what blobs_gc keeps.
 */
#include "orchestrator/store_internal.h"

#include <stdio.h>
#include <string.h>

static store_result add_blob(store *s, const char *id, const char *role, const json_t *file,
                             char *err, size_t err_size)
{
    const char *digest = json_string_value(json_object_get(file, "sha256"));
    if (!digest)
        return STORE_OK;
    sqlite3_stmt *stmt = store_prepare(
        s, "INSERT OR REPLACE INTO module_blobs (module_id, role, sha256) VALUES (?1, ?2, ?3)",
        err, err_size);
    if (!stmt)
        return STORE_ERROR;
    store_bind_text(stmt, 1, id);
    store_bind_text(stmt, 2, role);
    store_bind_text(stmt, 3, digest);
    return store_step_done(s, stmt, NULL, err, err_size);
}

/* The blob rows mirror the document: rewritten whole with it. */
static store_result write_blobs(store *s, const char *id, const json_t *module, char *err,
                                size_t err_size)
{
    sqlite3_stmt *stmt = store_prepare(s, "DELETE FROM module_blobs WHERE module_id = ?1", err,
                                       err_size);
    if (!stmt)
        return STORE_ERROR;
    store_bind_text(stmt, 1, id);
    store_result r = store_step_done(s, stmt, NULL, err, err_size);
    if (r == STORE_OK)
        r = add_blob(s, id, "wasm", json_object_get(module, "wasm"), err, err_size);
    const char *mount;
    json_t *file;
    json_object_foreach((json_t *)json_object_get(module, "dataFiles"), mount, file) {
        if (r == STORE_OK)
            r = add_blob(s, id, mount, file, err, err_size);
    }
    return r;
}

static store_result write_module(store *s, const json_t *module, char *err, size_t err_size)
{
    const char *id = store_doc_string(module, "_id", "module", err, err_size);
    const char *name = id ? store_doc_string(module, "name", "module", err, err_size) : NULL;
    if (!id || !name)
        return STORE_INVALID;
    char now[32];
    store_now_iso(now);
    sqlite3_stmt *stmt = store_prepare(
        s,
        "INSERT INTO modules (id, name, doc, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)"
        " ON CONFLICT(id) DO UPDATE SET name = excluded.name, doc = excluded.doc,"
        "  updated_at = excluded.updated_at",
        err, err_size);
    if (!stmt)
        return STORE_ERROR;
    store_bind_text(stmt, 1, id);
    store_bind_text(stmt, 2, name);
    store_bind_json(stmt, 3, module);
    store_bind_text(stmt, 4, now);
    char conflict[300];
    snprintf(conflict, sizeof conflict,
             "a module named '%s' already exists: choose another name, or delete that module "
             "first", name);
    store_result r = store_step_done(s, stmt, conflict, err, err_size);
    return r == STORE_OK ? write_blobs(s, id, module, err, err_size) : r;
}

store_result store_module_put(store *s, const json_t *module, char *err, size_t err_size)
{
    if (!store_begin(s, err, err_size))
        return STORE_ERROR;
    return store_end(s, write_module(s, module, err, err_size), err, err_size);
}

store_result store_module_get(store *s, const char *id_or_name, json_t **out, char *err,
                              size_t err_size)
{
    *out = NULL;
    pthread_mutex_lock(&s->lock);
    store_result r = store_read_doc(s, "SELECT doc FROM modules WHERE id = ?1 OR name = ?1"
                                       " ORDER BY id = ?1 DESC LIMIT 1",
                                    "module", id_or_name, out, err, err_size);
    pthread_mutex_unlock(&s->lock);
    return r;
}

store_result store_module_list(store *s, json_t **out, char *err, size_t err_size)
{
    *out = NULL;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *stmt = store_prepare(s, "SELECT doc FROM modules ORDER BY created_at, id",
                                       err, err_size);
    store_texts texts;
    store_result r = stmt ? store_collect_texts(s, stmt, &texts, err, err_size) : STORE_ERROR;
    pthread_mutex_unlock(&s->lock);
    if (r == STORE_OK)
        *out = store_texts_parse(&texts);
    return r;
}

/* The name of a deployment using the module, for the 409 that says which. */
static store_result check_unused(store *s, const char *id, char *err, size_t err_size)
{
    sqlite3_stmt *stmt = store_prepare(
        s, "SELECT d.name FROM deployment_steps st JOIN deployments d ON d.id = st.deployment_id"
           " WHERE st.module_id = ?1 LIMIT 1", err, err_size);
    if (!stmt)
        return STORE_ERROR;
    store_bind_text(stmt, 1, id);
    store_result r = STORE_OK;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        store_error(err, err_size,
                    "module %s is used by deployment '%s': delete the deployment first", id,
                    (const char *)sqlite3_column_text(stmt, 0));
        r = STORE_CONFLICT;
    } else if (rc != SQLITE_DONE) {
        r = store_fail(s, "reading deployments", err, err_size);
    }
    store_release(s, stmt);
    return r;
}

store_result store_module_delete(store *s, const char *id, char *err, size_t err_size)
{
    if (!store_begin(s, err, err_size))
        return STORE_ERROR;
    store_result r = check_unused(s, id, err, err_size);
    sqlite3_stmt *stmt = r == STORE_OK ? store_prepare(s, "DELETE FROM modules WHERE id = ?1",
                                                       err, err_size) : NULL;
    if (stmt) {
        store_bind_text(stmt, 1, id);
        r = store_step_done(s, stmt, NULL, err, err_size);
        if (r == STORE_OK && sqlite3_changes(s->db) == 0) {
            store_error(err, err_size, "no module with id '%s'", id);
            r = STORE_NOT_FOUND;
        }
    } else if (r == STORE_OK) {
        r = STORE_ERROR;
    }
    return store_end(s, r, err, err_size);
}

store_result store_module_delete_all(store *s, long long *deleted, long long *kept, char *err,
                                     size_t err_size)
{
    if (deleted)
        *deleted = 0;
    if (kept)
        *kept = 0;
    if (!store_begin(s, err, err_size))
        return STORE_ERROR;
    sqlite3_stmt *stmt = store_prepare(
        s, "DELETE FROM modules WHERE id NOT IN"
           " (SELECT module_id FROM deployment_steps WHERE module_id IS NOT NULL)", err,
        err_size);
    store_result r = stmt ? store_step_done(s, stmt, NULL, err, err_size) : STORE_ERROR;
    if (r == STORE_OK && deleted)
        *deleted = sqlite3_changes(s->db);
    stmt = r == STORE_OK ? store_prepare(s, "SELECT COUNT(*) FROM modules", err, err_size)
                         : NULL;
    if (stmt) {
        if (sqlite3_step(stmt) == SQLITE_ROW && kept)
            *kept = sqlite3_column_int64(stmt, 0);
        store_release(s, stmt);
    }
    return store_end(s, r, err, err_size);
}
