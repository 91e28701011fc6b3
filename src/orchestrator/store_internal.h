/*
 * store_internal.h — what the store_*.c files share: the connection, its lock, and
 * short helpers around SQLite statements and JSON columns.
 */
#ifndef LIQUID_ORCHESTRATOR_STORE_INTERNAL_H
#define LIQUID_ORCHESTRATOR_STORE_INTERNAL_H

#include "orchestrator/store.h"

#include <pthread.h>
#include <sqlite3.h>

struct store {
    sqlite3 *db;
    pthread_mutex_t lock;   /* recursive: a transaction holds it across calls */
    int depth;              /* nesting of store_begin */
};

/* Prepares sql; on failure writes SQLite's message to err and returns NULL. */
sqlite3_stmt *store_prepare(store *s, const char *sql, char *err, size_t err_size);
/* Binds text, or NULL when value is NULL. */
void store_bind_text(sqlite3_stmt *stmt, int index, const char *value);
/* Binds a JSON value as compact text (NULL for a NULL value). */
bool store_bind_json(sqlite3_stmt *stmt, int index, const json_t *value);
/* The column's text parsed as JSON (a new reference), NULL when the column is NULL. */
json_t *store_column_json(sqlite3_stmt *stmt, int column);

/* Runs a statement to completion; maps SQLite's result to a store_result with a
 * message (a UNIQUE failure is STORE_CONFLICT with `conflict` as the message when it is
 * not NULL). Finalizes the statement. */
store_result store_step_done(store *s, sqlite3_stmt *stmt, const char *conflict, char *err,
                             size_t err_size);
/* The message of the connection's last error as a store_result. */
store_result store_fail(store *s, const char *what, char *err, size_t err_size);

/* Commits when result is STORE_OK, rolls back otherwise; returns the final result. */
store_result store_end(store *s, store_result result, char *err, size_t err_size);

/* Writes err when err is not NULL. */
void store_error(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A document's required string member (e.g. "_id"): NULL with an error when missing. */
const char *store_doc_string(const json_t *doc, const char *key, const char *kind, char *err,
                             size_t err_size);

/* Runs `SELECT doc ...` (already bound) and collects the documents into an array. */
store_result store_collect_docs(store *s, sqlite3_stmt *stmt, json_t **out, char *err,
                                size_t err_size);

/* Deletes the oldest rows of table beyond limit (tables keyed by an integer seq). */
store_result store_trim(store *s, const char *table, long long limit, char *err,
                        size_t err_size);

/* Schema (store_schema.c). */
store_result store_migrate(store *s, char *err, size_t err_size);

#endif
