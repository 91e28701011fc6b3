/*
 * client.h — what the `liquid` client verbs (device, module, deploy, exec, logs,
 * events) share: the orchestrator's URL and the output mode, calls to its HTTP API
 * that turn every failure into one sentence for the user, and aligned tables.
 *
 * A verb parses its arguments with client_options_parse (which takes out the common
 * options wherever they stand), calls the orchestrator with client_call*, and prints
 * either a table/summary or, with --json, the orchestrator's own JSON.
 *
 * Exit statuses: 0 done, 1 the orchestrator could not be reached or refused the
 * request, 2 the command line was wrong (with a usage line on stderr).
 */
#ifndef LIQUID_CLI_CLIENT_H
#define LIQUID_CLI_CLIENT_H

#include "base/http_client.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CLIENT_DEFAULT_URL "http://127.0.0.1:3000"
#define CLIENT_EXIT_OK 0
#define CLIENT_EXIT_FAILED 1
#define CLIENT_EXIT_USAGE 2

typedef struct client {
    char base_url[512];         /* without a trailing slash */
    bool json;                  /* --json: print the orchestrator's JSON */
    bool help;                  /* --help or -h was given */
    long timeout_ms;
} client;

/* Takes --orchestrator URL (or LIQUID_ORCHESTRATOR_URL, or the default), --json and
 * --help out of argv, wherever they are, compacting the rest in place (argv[0]
 * stays). False after printing why when a common option is malformed. */
bool client_options_parse(client *c, int *argc, char **argv);

/* Value of a verb's option: matches "--name VALUE" and "--name=VALUE" at argv[*i],
 * advancing *i past what it used. NULL when argv[*i] is another argument; exits the
 * process with status 2 when the value is missing. */
const char *client_option_value(int argc, char **argv, int *i, const char *name);

/* A usage error: "liquid VERB: message" and the usage line on stderr; returns 2. */
int client_usage_error(const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A failure: "liquid: message" on stderr; returns 1. */
int client_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* path with each %s argument percent-encoded as one path segment; caller frees. */
char *client_path(const char *fmt, ...);

/* Calls METHOD base_url+path with an optional JSON body. On a 2xx answer returns true
 * and stores the answer (caller frees with http_result_free); otherwise prints what
 * went wrong (unreachable, or the orchestrator's error text) and returns false. */
bool client_call(const client *c, const char *method, const char *path, const json_t *body,
                 http_result *out);
bool client_call_multipart(const client *c, const char *path, const http_part *parts,
                           size_t part_count, http_result *out);
/* client_call, then the answer parsed as JSON (NULL after printing why). */
json_t *client_call_json(const client *c, const char *method, const char *path,
                         const json_t *body);

/* Prints JSON indented, with a newline. */
void client_print_json(const json_t *value);

/* ---- reading documents leniently (the reference's fields, Liquid's additions) */

/* The string at a dotted path ("health.report.cpuUsage" style), or NULL. */
json_t *client_dig(const json_t *doc, const char *dotted_path);
const char *client_dig_string(const json_t *doc, const char *dotted_path);
/* A document's id: "_id" or "id". */
const char *client_doc_id(const json_t *doc);
/* Any JSON value as short text for a table cell; caller frees. */
char *client_value_text(const json_t *value);
/* "12%" for a 0..1 fraction (or a 0..100 percentage); "-" for none. */
void client_format_percent(const json_t *value, char *out, size_t size);
/* "3.2 ms" / "1.25 s" / "-". */
void client_format_ms(double ms, char *out, size_t size);

/* ---- aligned tables */

typedef struct client_table client_table;
client_table *client_table_new(size_t columns, ...);    /* the column headers */
/* Adds one row of `columns` cells; NULL cells print as "-". */
void client_table_row(client_table *t, ...);
/* Prints with each column padded to its widest cell and frees the table. */
void client_table_print(client_table *t, FILE *out);

/* ---- streaming (server-sent events) */

/* Called for each event of a text/event-stream: the event's id, type and data (any
 * of them may be NULL). Return false to stop. */
typedef bool (*client_event_fn)(const char *id, const char *type, const char *data,
                                void *user);
/* GETs path and feeds its events to fn until the stream ends, fn returns false or an
 * error occurs (printed). Returns true when the stream ended normally. */
bool client_stream_events(const client *c, const char *path, client_event_fn fn, void *user);

#endif
