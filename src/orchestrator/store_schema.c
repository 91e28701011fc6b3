/*
 * store_schema.c — the tables, and the migrations that bring an older database to
 * STORE_SCHEMA_VERSION (PRAGMA user_version).
 *
 * Documents are kept whole as JSON text (`doc`) in the shape the API answers with;
 * beside them, columns hold what is searched or must be unique (names, status), and
 * link tables hold what one document refers to (a deployment's steps, the blobs a
 * module names), so that "which deployments use this module" and "which blobs are
 * still needed" are indexed queries rather than scans of every document.
 *
 * To change the schema, append a migration; never edit one that has shipped.
 */
#include "orchestrator/store_internal.h"

#include <stdio.h>

static const char *const migrations[] = {
    /* 0 -> 1: the first schema */
    "CREATE TABLE devices ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  status TEXT NOT NULL DEFAULT 'active',"
    "  blacklisted INTEGER NOT NULL DEFAULT 0,"
    "  doc TEXT NOT NULL,"
    "  created_at TEXT NOT NULL,"
    "  updated_at TEXT NOT NULL);"
    "CREATE TABLE device_status_log ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    "  time TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  reason TEXT);"
    "CREATE INDEX device_status_log_by_device ON device_status_log(device_id, seq);"
    "CREATE TABLE modules ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  doc TEXT NOT NULL,"
    "  created_at TEXT NOT NULL,"
    "  updated_at TEXT NOT NULL);"
    "CREATE TABLE module_blobs ("
    "  module_id TEXT NOT NULL REFERENCES modules(id) ON DELETE CASCADE,"
    "  role TEXT NOT NULL,"          /* "wasm" or the data file's mount name */
    "  sha256 TEXT NOT NULL,"
    "  PRIMARY KEY (module_id, role));"
    "CREATE INDEX module_blobs_by_digest ON module_blobs(sha256);"
    "CREATE TABLE deployments ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  active INTEGER NOT NULL DEFAULT 0,"
    "  doc TEXT NOT NULL,"
    "  created_at TEXT NOT NULL,"
    "  updated_at TEXT NOT NULL);"
    "CREATE TABLE deployment_steps ("
    "  deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,"
    "  step INTEGER NOT NULL,"
    "  device_id TEXT,"
    "  module_id TEXT,"
    "  func TEXT,"
    "  PRIMARY KEY (deployment_id, step));"
    "CREATE INDEX deployment_steps_by_device ON deployment_steps(device_id);"
    "CREATE INDEX deployment_steps_by_module ON deployment_steps(module_id);"
    "CREATE TABLE executions ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  id TEXT NOT NULL UNIQUE,"
    "  deployment_id TEXT,"
    "  status TEXT,"
    "  doc TEXT NOT NULL,"
    "  created_at TEXT NOT NULL,"
    "  updated_at TEXT NOT NULL);"
    "CREATE INDEX executions_by_deployment ON executions(deployment_id, seq);"
    "CREATE TABLE execution_blobs ("
    "  execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,"
    "  field TEXT NOT NULL,"
    "  sha256 TEXT NOT NULL,"
    "  PRIMARY KEY (execution_id, field));"
    "CREATE INDEX execution_blobs_by_digest ON execution_blobs(sha256);"
    "CREATE TABLE device_logs ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  received_ms INTEGER NOT NULL,"
    "  doc TEXT NOT NULL);"
    "CREATE INDEX device_logs_by_time ON device_logs(received_ms);"
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  time TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  subject TEXT,"
    "  data TEXT);",
    /* 1 -> 2: the newest checkpoint of each module instance (docs/migration.md) */
    "CREATE TABLE checkpoints ("
    "  deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,"
    "  module TEXT NOT NULL,"            /* the module's name on its device */
    "  epoch INTEGER NOT NULL,"
    "  sha256 TEXT NOT NULL,"            /* the full state bundle, a blob */
    "  bytes INTEGER NOT NULL,"
    "  created_at TEXT NOT NULL,"
    "  PRIMARY KEY (deployment_id, module));"
    "CREATE INDEX checkpoints_by_digest ON checkpoints(sha256);",
};

#define MIGRATION_COUNT ((int)(sizeof migrations / sizeof migrations[0]))
_Static_assert(MIGRATION_COUNT == STORE_SCHEMA_VERSION,
               "one migration per schema version");

static int current_version(store *s)
{
    sqlite3_stmt *stmt = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &stmt, NULL) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
        version = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    return version;
}

store_result store_migrate(store *s, char *err, size_t err_size)
{
    if (!store_begin(s, err, err_size))
        return STORE_ERROR;
    int version = current_version(s);
    if (version < 0) {
        store_rollback(s);
        return store_fail(s, "reading the schema version", err, err_size);
    }
    if (version > STORE_SCHEMA_VERSION) {
        store_rollback(s);
        store_error(err, err_size,
                    "the database has schema version %d, newer than this liquid's %d: "
                    "run a newer liquid, or use another --data-dir",
                    version, STORE_SCHEMA_VERSION);
        return STORE_INVALID;
    }
    /* every step and the version bump in one transaction: a crash mid-migration
     * leaves the old schema, which the next start migrates again */
    for (int v = version; v < STORE_SCHEMA_VERSION; v++) {
        char *message = NULL;
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA user_version=%d", v + 1);
        if (sqlite3_exec(s->db, migrations[v], NULL, NULL, &message) != SQLITE_OK ||
            sqlite3_exec(s->db, bump, NULL, NULL, &message) != SQLITE_OK) {
            store_error(err, err_size, "migrating the schema from version %d to %d: %s", v,
                        v + 1, message ? message : sqlite3_errmsg(s->db));
            sqlite3_free(message);
            store_rollback(s);
            return STORE_ERROR;
        }
    }
    return store_commit(s, err, err_size) ? STORE_OK : STORE_ERROR;
}
