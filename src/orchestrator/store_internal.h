/*
 * store_internal.h — what the store_*.c files share: the connection, its lock, and
 * short helpers around SQLite statements and JSON columns.
 */
#ifndef LIQUID_ORCHESTRATOR_STORE_INTERNAL_H
#define LIQUID_ORCHESTRATOR_STORE_INTERNAL_H

#include "orchestrator/store.h"

#include <pthread.h>
#include <sqlite3.h>

#define STORE_STATEMENT_CACHE 64

typedef struct store_statement {
    char *sql;
    sqlite3_stmt *stmt;
    bool in_use;
} store_statement;

struct store {
    sqlite3 *db;
    pthread_mutex_t lock;   /* recursive: a transaction holds it across calls */
    int depth;              /* nesting of store_begin */
    store_statement cache[STORE_STATEMENT_CACHE];   /* prepared once, reused */
    size_t cached;
};

/* A prepared statement for sql, from the cache when it was prepared before (parsing
 * SQL costs more than running these small statements); on failure writes SQLite's
 * message to err and returns NULL. Call with the lock held; give the statement back
 * with store_release. */
sqlite3_stmt *store_prepare(store *s, const char *sql, char *err, size_t err_size);
/* Resets a statement for its next use (or finalizes one that is not cached). */
void store_release(store *s, sqlite3_stmt *stmt);
/* Binds text, or NULL when value is NULL. */
void store_bind_text(sqlite3_stmt *stmt, int index, const char *value);
/* Binds a JSON value as compact text (NULL for a NULL value). */
bool store_bind_json(sqlite3_stmt *stmt, int index, const json_t *value);
/* The column's text parsed as JSON (a new reference), NULL when the column is NULL. */
json_t *store_column_json(sqlite3_stmt *stmt, int column);

/* Runs a statement to completion; maps SQLite's result to a store_result with a
 * message (a UNIQUE failure is STORE_CONFLICT with `conflict` as the message when it is
 * not NULL). Releases the statement. */
store_result store_step_done(store *s, sqlite3_stmt *stmt, const char *conflict, char *err,
                             size_t err_size);
/* The document (column 0) of the one row sql selects with ?1 bound to id_or_name:
 * STORE_NOT_FOUND "no KIND with id or name '...'" when there is none. Lock held. */
store_result store_read_doc(store *s, const char *sql, const char *kind,
                            const char *id_or_name, json_t **out, char *err, size_t err_size);
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

/* Runs `SELECT doc ...` (already bound) and copies each document's text, so that the
 * texts can be parsed after the lock is released: parsing is most of a list's cost
 * (about 50 us per 2 KB device here), and other threads need not wait for it. */
typedef struct store_texts {
    char **items;
    size_t count, capacity;
} store_texts;
store_result store_collect_texts(store *s, sqlite3_stmt *stmt, store_texts *out, char *err,
                                 size_t err_size);
/* Parses collected texts into an array of documents and frees them. */
json_t *store_texts_parse(store_texts *texts);

/* Deletes the oldest rows of table beyond limit (tables keyed by an integer seq). */
store_result store_trim(store *s, const char *table, long long limit, char *err,
                        size_t err_size);

/* Schema (store_schema.c). */
store_result store_migrate(store *s, char *err, size_t err_size);

#endif
