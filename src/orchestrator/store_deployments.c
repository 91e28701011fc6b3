/*
 * store_deployments.c — the deployments table and the index of their steps (which
 * device and which module each step uses), which answers "what runs on this device"
 * for failover and "who uses this module" for a refused delete.
 */
#include "orchestrator/store_internal.h"

#include <stdio.h>
#include <string.h>

/* A step names its module by id or by name (manifests may say "core:Datalist"); the
 * index holds the id, so a module renamed later is still protected. */
static char *module_id_of(store *s, const char *id_or_name)
{
    sqlite3_stmt *stmt = store_prepare(
        s, "SELECT id FROM modules WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1",
        NULL, 0);
    if (!stmt)
        return NULL;
    store_bind_text(stmt, 1, id_or_name);
    char *id = NULL;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        id = strdup((const char *)sqlite3_column_text(stmt, 0));
    store_release(s, stmt);
    return id;
}

static store_result write_steps(store *s, const char *id, const json_t *deployment, char *err,
                                size_t err_size)
{
    sqlite3_stmt *stmt = store_prepare(s, "DELETE FROM deployment_steps WHERE deployment_id = ?1",
                                       err, err_size);
    if (!stmt)
        return STORE_ERROR;
    store_bind_text(stmt, 1, id);
    store_result r = store_step_done(s, stmt, NULL, err, err_size);
    size_t i;
    json_t *step;
    json_array_foreach((json_t *)json_object_get(deployment, "sequence"), i, step) {
        if (r != STORE_OK)
            break;
        const char *module = json_string_value(json_object_get(step, "module"));
        char *module_id = module ? module_id_of(s, module) : NULL;
        stmt = store_prepare(s, "INSERT INTO deployment_steps (deployment_id, step, device_id,"
                                " module_id, func) VALUES (?1, ?2, ?3, ?4, ?5)", err, err_size);
        if (!stmt) {
            free(module_id);
            return STORE_ERROR;
        }
        store_bind_text(stmt, 1, id);
        sqlite3_bind_int64(stmt, 2, (sqlite3_int64)i);
        store_bind_text(stmt, 3, json_string_value(json_object_get(step, "device")));
        store_bind_text(stmt, 4, module_id ? module_id : module);
        store_bind_text(stmt, 5, json_string_value(json_object_get(step, "func")));
        free(module_id);
        r = store_step_done(s, stmt, NULL, err, err_size);
    }
    return r;
}

static store_result write_deployment(store *s, const json_t *deployment, char *err,
                                     size_t err_size)
{
    const char *id = store_doc_string(deployment, "_id", "deployment", err, err_size);
    const char *name = id ? store_doc_string(deployment, "name", "deployment", err, err_size)
                          : NULL;
    if (!id || !name)
        return STORE_INVALID;
    json_t *sequence = json_object_get(deployment, "sequence");
    if (sequence && !json_is_array(sequence)) {
        store_error(err, err_size, "a deployment's \"sequence\" must be an array");
        return STORE_INVALID;
    }
    char now[32];
    store_now_iso(now);
    sqlite3_stmt *stmt = store_prepare(
        s,
        "INSERT INTO deployments (id, name, active, doc, created_at, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?5)"
        " ON CONFLICT(id) DO UPDATE SET name = excluded.name, active = excluded.active,"
        "  doc = excluded.doc, updated_at = excluded.updated_at",
        err, err_size);
    if (!stmt)
        return STORE_ERROR;
    store_bind_text(stmt, 1, id);
    store_bind_text(stmt, 2, name);
    sqlite3_bind_int(stmt, 3, json_is_true(json_object_get(deployment, "active")));
    store_bind_json(stmt, 4, deployment);
    store_bind_text(stmt, 5, now);
    char conflict[300];
    snprintf(conflict, sizeof conflict,
             "a deployment named '%s' already exists: choose another name, or delete that "
             "deployment first", name);
    store_result r = store_step_done(s, stmt, conflict, err, err_size);
    return r == STORE_OK ? write_steps(s, id, deployment, err, err_size) : r;
}

store_result store_deployment_put(store *s, const json_t *deployment, char *err,
                                  size_t err_size)
{
    if (!store_begin(s, err, err_size))
        return STORE_ERROR;
    return store_end(s, write_deployment(s, deployment, err, err_size), err, err_size);
}

static store_result read_deployment(store *s, const char *id_or_name, json_t **out, char *err,
                                    size_t err_size)
{
    return store_read_doc(s, "SELECT doc FROM deployments WHERE id = ?1 OR name = ?1"
                             " ORDER BY id = ?1 DESC LIMIT 1",
                          "deployment", id_or_name, out, err, err_size);
}

store_result store_deployment_get(store *s, const char *id_or_name, json_t **out, char *err,
                                  size_t err_size)
{
    *out = NULL;
    pthread_mutex_lock(&s->lock);
    store_result r = read_deployment(s, id_or_name, out, err, err_size);
    pthread_mutex_unlock(&s->lock);
    return r;
}

store_result store_deployment_list(store *s, json_t **out, char *err, size_t err_size)
{
    *out = NULL;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *stmt = store_prepare(s, "SELECT doc FROM deployments ORDER BY created_at, id",
                                       err, err_size);
    store_texts texts;
    store_result r = stmt ? store_collect_texts(s, stmt, &texts, err, err_size) : STORE_ERROR;
    pthread_mutex_unlock(&s->lock);
    if (r == STORE_OK)
        *out = store_texts_parse(&texts);
    return r;
}

store_result store_deployment_update(store *s, const char *id, const json_t *changes,
                                     json_t **out, char *err, size_t err_size)
{
    if (out)
        *out = NULL;
    if (!json_is_object(changes)) {
        store_error(err, err_size, "deployment changes must be an object");
        return STORE_INVALID;
    }
    if (!store_begin(s, err, err_size))
        return STORE_ERROR;
    json_t *doc = NULL;
    store_result r = read_deployment(s, id, &doc, err, err_size);
    if (r == STORE_OK && strcmp(json_string_value(json_object_get(doc, "_id")), id)) {
        store_error(err, err_size, "no deployment with id '%s'", id);
        r = STORE_NOT_FOUND;
    }
    if (r == STORE_OK) {
        json_object_update(doc, (json_t *)changes);
        json_object_set_new(doc, "_id", json_string(id));
        r = write_deployment(s, doc, err, err_size);
    }
    if (r == STORE_OK && out)
        *out = json_incref(doc);
    json_decref(doc);
    return store_end(s, r, err, err_size);
}

store_result store_deployment_delete(store *s, const char *id, char *err, size_t err_size)
{
    if (!store_begin(s, err, err_size))
        return STORE_ERROR;
    sqlite3_stmt *stmt = store_prepare(s, "DELETE FROM deployments WHERE id = ?1", err,
                                       err_size);
    if (!stmt)
        return store_end(s, STORE_ERROR, err, err_size);
    store_bind_text(stmt, 1, id);
    store_result r = store_step_done(s, stmt, NULL, err, err_size);
    if (r == STORE_OK && sqlite3_changes(s->db) == 0) {
        store_error(err, err_size, "no deployment with id '%s'", id);
        r = STORE_NOT_FOUND;
    }
    return store_end(s, r, err, err_size);
}

store_result store_deployment_delete_all(store *s, long long *deleted, char *err,
                                         size_t err_size)
{
    if (deleted)
        *deleted = 0;
    if (!store_begin(s, err, err_size))
        return STORE_ERROR;
    sqlite3_stmt *stmt = store_prepare(s, "DELETE FROM deployments", err, err_size);
    store_result r = stmt ? store_step_done(s, stmt, NULL, err, err_size) : STORE_ERROR;
    if (r == STORE_OK && deleted)
        *deleted = sqlite3_changes(s->db);
    return store_end(s, r, err, err_size);
}

store_result store_deployments_using(store *s, const char *device_id, const char *module_id,
                                     json_t **out, char *err, size_t err_size)
{
    *out = NULL;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *stmt = store_prepare(
        s, "SELECT doc FROM deployments WHERE id IN (SELECT deployment_id FROM deployment_steps"
           "  WHERE (?1 IS NULL OR device_id = ?1) AND (?2 IS NULL OR module_id = ?2))"
           " ORDER BY created_at, id", err, err_size);
    store_result r = STORE_ERROR;
    store_texts texts;
    if (stmt) {
        store_bind_text(stmt, 1, device_id);
        store_bind_text(stmt, 2, module_id);
        r = store_collect_texts(s, stmt, &texts, err, err_size);
    }
    pthread_mutex_unlock(&s->lock);
    if (r == STORE_OK)
        *out = store_texts_parse(&texts);
    return r;
}
