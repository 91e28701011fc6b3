/*
 * store.c — opening the database, transactions, and the helpers the table files share.
 *
 * One connection behind one recursive mutex, statements prepared once and reused.
 * Measured with bench/orchestrator/store_bench.c (2 shared cores, CPU time per call,
 * a 2 KB device document): put 220 us, health update 250 us, get 130 us, an event
 * 60 us, the list of 1,000 devices 110 ms. Most of it is JSON: jansson parses such a
 * document in about 50 us and writes it in 30 us, so lists parse their documents
 * after the lock is released. A connection per thread would let only the SQLite
 * part run in parallel, at the price of SQLITE_BUSY handling on every write; four
 * threads writing health updates through the one connection reach the throughput of
 * one, which is hundreds of devices per second, far above a health loop's needs. A
 * transaction keeps the mutex from store_begin to store_commit, which is also what
 * makes a multi-call change invisible to other threads until it is whole.
 *
 * Durability: WAL with synchronous=NORMAL. A process crash (kill -9) loses nothing
 * committed; a power cut may lose the last transactions but never leaves the file
 * inconsistent.
 */
#define _GNU_SOURCE
#include "orchestrator/store_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void store_error(char *err, size_t err_size, const char *fmt, ...)
{
    if (!err || !err_size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

store_result store_fail(store *s, const char *what, char *err, size_t err_size)
{
    int code = sqlite3_extended_errcode(s->db);
    store_error(err, err_size, "store: %s: %s", what, sqlite3_errmsg(s->db));
    if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY)
        return STORE_CONFLICT;
    return STORE_ERROR;
}

static bool exec_sql(store *s, const char *sql, char *err, size_t err_size)
{
    char *message = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &message) == SQLITE_OK)
        return true;
    store_error(err, err_size, "store: %s: %s", sql, message ? message : sqlite3_errmsg(s->db));
    sqlite3_free(message);
    return false;
}

store *store_open(const char *path, char *err, size_t err_size)
{
    store *s = calloc(1, sizeof *s);
    if (!s) {
        store_error(err, err_size, "out of memory");
        return NULL;
    }
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&s->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    /* FULLMUTEX is redundant with our lock but costs nothing measurable and keeps a
     * mistake (a call outside the lock) from corrupting the connection */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        store_error(err, err_size, "cannot open the database %s: %s", path,
                    s->db ? sqlite3_errmsg(s->db) : "out of memory");
        store_close(s);
        return NULL;
    }
    sqlite3_busy_timeout(s->db, 5000);   /* another process (sqlite3 CLI) holding a lock */
    sqlite3_extended_result_codes(s->db, 1);
    char message[512] = "";
    bool ok = exec_sql(s, "PRAGMA journal_mode=WAL", message, sizeof message) &&
              exec_sql(s, "PRAGMA synchronous=NORMAL", message, sizeof message) &&
              exec_sql(s, "PRAGMA foreign_keys=ON", message, sizeof message);
    if (ok && store_migrate(s, message, sizeof message) != STORE_OK)
        ok = false;
    if (!ok) {
        store_error(err, err_size, "cannot use the database %s: %s", path, message);
        store_close(s);
        return NULL;
    }
    return s;
}

void store_close(store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->cached; i++) {
        sqlite3_finalize(s->cache[i].stmt);
        free(s->cache[i].sql);
    }
    if (s->db)
        sqlite3_close_v2(s->db);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int store_schema_version(store *s)
{
    int version = -1;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &stmt, NULL) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
        version = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&s->lock);
    return version;
}

/* ---------------------------------------------------------- transactions */

bool store_begin(store *s, char *err, size_t err_size)
{
    pthread_mutex_lock(&s->lock);
    char sql[64];
    if (s->depth == 0)
        snprintf(sql, sizeof sql, "BEGIN IMMEDIATE");
    else
        snprintf(sql, sizeof sql, "SAVEPOINT nested%d", s->depth);
    if (!exec_sql(s, sql, err, err_size)) {
        pthread_mutex_unlock(&s->lock);
        return false;
    }
    s->depth++;
    return true;
}

bool store_commit(store *s, char *err, size_t err_size)
{
    char sql[64];
    if (s->depth == 1)
        snprintf(sql, sizeof sql, "COMMIT");
    else
        snprintf(sql, sizeof sql, "RELEASE nested%d", s->depth - 1);
    if (!exec_sql(s, sql, err, err_size)) {
        store_rollback(s);
        return false;
    }
    s->depth--;
    pthread_mutex_unlock(&s->lock);
    return true;
}

void store_rollback(store *s)
{
    char sql[96];
    if (s->depth == 1)
        snprintf(sql, sizeof sql, "ROLLBACK");
    else
        snprintf(sql, sizeof sql, "ROLLBACK TO nested%d; RELEASE nested%d", s->depth - 1,
                 s->depth - 1);
    /* a failed COMMIT may have ended the transaction already; then there is nothing
     * to roll back and the error is expected */
    if (sqlite3_get_autocommit(s->db) == 0 || s->depth > 1)
        exec_sql(s, sql, NULL, 0);
    s->depth--;
    pthread_mutex_unlock(&s->lock);
}

store_result store_end(store *s, store_result result, char *err, size_t err_size)
{
    if (result != STORE_OK) {
        store_rollback(s);
        return result;
    }
    return store_commit(s, err, err_size) ? STORE_OK : STORE_ERROR;
}

/* ------------------------------------------------------------- statements */

sqlite3_stmt *store_prepare(store *s, const char *sql, char *err, size_t err_size)
{
    store_statement *free_slot = NULL;
    for (size_t i = 0; i < s->cached; i++) {
        store_statement *c = &s->cache[i];
        if (strcmp(c->sql, sql))
            continue;
        if (c->in_use)
            break;   /* the same statement again while it runs: prepare another */
        c->in_use = true;
        return c->stmt;
    }
    if (s->cached < STORE_STATEMENT_CACHE)
        free_slot = &s->cache[s->cached];
    sqlite3_stmt *stmt = NULL;
    unsigned flags = free_slot ? SQLITE_PREPARE_PERSISTENT : 0;
    if (sqlite3_prepare_v3(s->db, sql, -1, flags, &stmt, NULL) != SQLITE_OK) {
        store_fail(s, "prepare", err, err_size);
        return NULL;
    }
    if (free_slot && (free_slot->sql = strdup(sql))) {
        free_slot->stmt = stmt;
        free_slot->in_use = true;
        s->cached++;
    }
    return stmt;
}

void store_release(store *s, sqlite3_stmt *stmt)
{
    if (!stmt)
        return;
    for (size_t i = 0; i < s->cached; i++) {
        if (s->cache[i].stmt == stmt) {
            sqlite3_reset(stmt);
            sqlite3_clear_bindings(stmt);
            s->cache[i].in_use = false;
            return;
        }
    }
    sqlite3_finalize(stmt);
}

void store_bind_text(sqlite3_stmt *stmt, int index, const char *value)
{
    if (value)
        sqlite3_bind_text(stmt, index, value, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(stmt, index);
}

bool store_bind_json(sqlite3_stmt *stmt, int index, const json_t *value)
{
    if (!value) {
        sqlite3_bind_null(stmt, index);
        return true;
    }
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text)
        return false;
    sqlite3_bind_text(stmt, index, text, -1, free);
    return true;
}

json_t *store_column_json(sqlite3_stmt *stmt, int column)
{
    const char *text = (const char *)sqlite3_column_text(stmt, column);
    if (!text)
        return NULL;
    return json_loads(text, JSON_DECODE_ANY, NULL);
}

store_result store_read_doc(store *s, const char *sql, const char *kind,
                            const char *id_or_name, json_t **out, char *err, size_t err_size)
{
    sqlite3_stmt *stmt = store_prepare(s, sql, err, err_size);
    if (!stmt)
        return STORE_ERROR;
    store_bind_text(stmt, 1, id_or_name);
    int rc = sqlite3_step(stmt);
    json_t *doc = rc == SQLITE_ROW ? store_column_json(stmt, 0) : NULL;
    store_release(s, stmt);
    if (rc == SQLITE_DONE) {
        store_error(err, err_size, "no %s with id or name '%s'", kind, id_or_name);
        return STORE_NOT_FOUND;
    }
    if (!doc) {
        char what[64];
        snprintf(what, sizeof what, "reading a %s", kind);
        return store_fail(s, what, err, err_size);
    }
    *out = doc;
    return STORE_OK;
}

store_result store_step_done(store *s, sqlite3_stmt *stmt, const char *conflict, char *err,
                             size_t err_size)
{
    int rc = sqlite3_step(stmt);
    store_result result = STORE_OK;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        result = store_fail(s, "write", err, err_size);
        if (result == STORE_CONFLICT && conflict)
            store_error(err, err_size, "%s", conflict);
    }
    store_release(s, stmt);
    return result;
}

store_result store_collect_texts(store *s, sqlite3_stmt *stmt, store_texts *out, char *err,
                                 size_t err_size)
{
    *out = (store_texts){0};
    int rc;
    bool ok = true;
    while (ok && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(stmt, 0);
        if (!text)
            continue;
        if (out->count == out->capacity) {
            size_t capacity = out->capacity ? 2 * out->capacity : 64;
            char **grown = realloc(out->items, capacity * sizeof *grown);
            ok = grown != NULL;
            if (ok) {
                out->items = grown;
                out->capacity = capacity;
            }
        }
        if (ok && !(out->items[out->count] = strdup(text)))
            ok = false;
        if (ok)
            out->count++;
    }
    store_result result = STORE_OK;
    if (!ok) {
        store_error(err, err_size, "store: out of memory reading a list");
        result = STORE_ERROR;
    } else if (rc != SQLITE_DONE) {
        result = store_fail(s, "read", err, err_size);
    }
    store_release(s, stmt);
    if (result != STORE_OK)
        json_decref(store_texts_parse(out));
    return result;
}

json_t *store_texts_parse(store_texts *texts)
{
    json_t *list = json_array();
    for (size_t i = 0; i < texts->count; i++) {
        json_t *doc = json_loads(texts->items[i], JSON_DECODE_ANY, NULL);
        if (doc)
            json_array_append_new(list, doc);
        free(texts->items[i]);
    }
    free(texts->items);
    *texts = (store_texts){0};
    return list;
}

const char *store_doc_string(const json_t *doc, const char *key, const char *kind, char *err,
                             size_t err_size)
{
    const char *value = json_string_value(json_object_get(doc, key));
    if (!value || !*value)
        store_error(err, err_size, "a %s document needs a non-empty string \"%s\"", kind, key);
    return value && *value ? value : NULL;
}

store_result store_trim(store *s, const char *table, long long limit, char *err,
                        size_t err_size)
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "DELETE FROM %s WHERE seq <= (SELECT MAX(seq) FROM %s) - %lld", table, table,
             limit);
    sqlite3_stmt *stmt = store_prepare(s, sql, err, err_size);
    return stmt ? store_step_done(s, stmt, NULL, err, err_size) : STORE_ERROR;
}

/* ------------------------------------------------------------------- time */

void store_now_iso(char out[32])
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(now.tv_nsec / 1000000));
}

static bool read_digits(const char **p, int count, int *value)
{
    *value = 0;
    for (int i = 0; i < count; i++) {
        if (**p < '0' || **p > '9')
            return false;
        *value = *value * 10 + (*(*p)++ - '0');
    }
    return true;
}

bool store_parse_iso(const char *text, int64_t *ms)
{
    if (!text)
        return false;
    const char *p = text;
    int year, month, day, hour = 0, minute = 0, second = 0;
    if (!read_digits(&p, 4, &year) || *p++ != '-' || !read_digits(&p, 2, &month) ||
        *p++ != '-' || !read_digits(&p, 2, &day))
        return false;
    long millis = 0;
    int offset_minutes = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (!read_digits(&p, 2, &hour) || *p++ != ':' || !read_digits(&p, 2, &minute))
            return false;
        if (*p == ':') {
            p++;
            if (!read_digits(&p, 2, &second))
                return false;
            if (*p == '.') {
                p++;
                long scale = 100;
                if (*p < '0' || *p > '9')
                    return false;
                while (*p >= '0' && *p <= '9') {
                    millis += (*p++ - '0') * scale;
                    scale /= 10;
                }
            }
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
            if (!read_digits(&p, 2, &oh))
                return false;
            if (*p == ':')
                p++;
            if (*p && !read_digits(&p, 2, &om))
                return false;
            offset_minutes = sign * (oh * 60 + om);
        }
    }
    if (*p || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
        second > 60)
        return false;
    struct tm tm = {.tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day,
                    .tm_hour = hour, .tm_min = minute, .tm_sec = second};
    time_t seconds = timegm(&tm);
    *ms = ((int64_t)seconds - (int64_t)offset_minutes * 60) * 1000 + millis;
    return true;
}
