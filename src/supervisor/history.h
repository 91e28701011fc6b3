/*
 * history.h — the request history of a supervisor (wasmiot-api.md §2.7), kept in
 * memory for reading and in an append-only file so that it survives a restart.
 *
 * Why a file of JSON lines rather than SQLite: a call adds one entry, and one
 * write(2) of one line is the cheapest durable step there is (the goal is 10,000
 * calls/s); a line torn by a crash is recognisable and skipped on reading; and the
 * bound ("keep the newest N") is kept by rewriting the file from memory — to a
 * temporary file, synced, then renamed over the old one — once it holds N + max(N,
 * 4096) lines (so the rewrite, which holds the history's lock, stays rare). A write reaches the kernel before the call is answered, so a
 * supervisor that crashes loses nothing; a power cut may lose the last moments.
 *
 * Entries are JSON objects with a string "request_id"; putting an entry whose id is
 * already there replaces it in place. Entries are never modified after a put, so
 * references handed out may be read (serialized) from any thread.
 */
#ifndef LIQUID_SUPERVISOR_HISTORY_H
#define LIQUID_SUPERVISOR_HISTORY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct history history;

/* Opens (creating if needed) the file at path, loads what it holds, keeps the
 * newest `limit` entries (at least 1). NULL with the reason in err if the file
 * cannot be opened or created. */
history *history_open(const char *path, size_t limit, char *err, size_t err_size);
/* Syncs the file and frees everything. */
void history_close(history *h);

/* Adds the entry (the history takes the reference), evicting the oldest beyond the
 * limit. Returns false if it could not be written to disk (it is kept in memory and
 * served all the same; the reason is logged). */
bool history_put(history *h, json_t *entry);

/* The entry with this id (a new reference) or NULL. With wait_ms > 0, waits up to
 * that long for it to be put (long polling by the next device of a chain). */
json_t *history_get(history *h, const char *request_id, long wait_ms);
/* Every entry, oldest first (a new array). */
json_t *history_list(history *h);
size_t history_count(history *h);

#endif
