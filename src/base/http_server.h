/*
 * http_server.h — the HTTP server every Liquid service is built on (libmicrohttpd).
 *
 * A service hands the server a table of routes ("GET /file/module/{id}/wasm"); each
 * request is matched after its path is normalised (repeated slashes are one slash, as
 * Wasm-IoT clients send `//deploy`), its body read (JSON/raw bodies in memory up to a
 * limit, multipart file parts spooled to temporary files), and the route's handler
 * called on one of the server's worker threads. A handler may block (a chained call
 * waits for the next device) without stopping other requests. A handler must answer
 * exactly once with one of the http_respond_* functions; a handler that returns without
 * answering gets a 500.
 *
 * Unknown routes get a JSON 404; a known path with another method gets a 405; a body
 * over the limit gets a 413; all with the Wasm-IoT error body
 * {"errorText": "...", "error": "..."}.
 */
#ifndef LIQUID_BASE_HTTP_SERVER_H
#define LIQUID_BASE_HTTP_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct http_server http_server;
typedef struct http_request http_request;

typedef void (*http_handler_fn)(http_request *req, void *user);

/* A route: method ("GET", "POST", ..., or "*" for any) and a pattern whose segments
 * are literals or {name} captures, e.g. "/{deployment}/modules/{module}/{function}".
 * The first matching route wins, so list specific patterns before general ones. */
typedef struct http_route {
    const char *method;
    const char *pattern;
    http_handler_fn handler;
} http_route;

typedef struct http_server_options {
    const char *bind_address;   /* NULL or "0.0.0.0": all interfaces; "127.0.0.1": loopback */
    uint16_t port;              /* 0: pick a free port (read it back with http_server_port) */
    size_t max_body_bytes;      /* JSON/raw bodies and each upload; 0: 64 MiB */
    const char *upload_dir;     /* where multipart files are spooled; NULL: $TMPDIR or /tmp */
    unsigned threads;           /* worker threads; 0: 2 x cores, at least 4 */
} http_server_options;

http_server *http_server_start(const http_server_options *options, const http_route *routes,
                               size_t route_count, void *user, char *err, size_t err_size);
uint16_t http_server_port(const http_server *server);
/* Stops accepting, lets handlers in flight finish, frees the server. */
void http_server_stop(http_server *server);

/* ---- reading a request (valid until the handler answers) */

const char *http_request_method(const http_request *req);
const char *http_request_path(const http_request *req);     /* normalised, without query */
/* A {name} capture of the matched route's pattern (URL-decoded). */
const char *http_request_param(const http_request *req, const char *name);
/* Query-string arguments, in the order they appear in the URL (Wasm-IoT maps them to
 * function parameters by position). */
size_t http_request_query_count(const http_request *req);
bool http_request_query_at(const http_request *req, size_t i, const char **name,
                           const char **value);
const char *http_request_query(const http_request *req, const char *name);
const char *http_request_header(const http_request *req, const char *name);
const char *http_request_peer_address(const http_request *req);    /* numeric IP */
/* The scheme://host:port the client used to reach us, from the Host header. */
const char *http_request_base_url(const http_request *req);
/* The id this request carries in log lines (request=...) and in the X-Request-Id
 * response header: 16 hex digits, unique per server process. */
const char *http_request_id(const http_request *req);

/* Raw body (not multipart). NUL-terminated for convenience; size excludes the NUL. */
const uint8_t *http_request_body(const http_request *req, size_t *size);
/* The body parsed as JSON; NULL with a message in err if it is not JSON. The
 * request keeps ownership. */
json_t *http_request_json(http_request *req, char *err, size_t err_size);

/* Text fields of a multipart/form-data or application/x-www-form-urlencoded body. */
size_t http_request_field_count(const http_request *req);
bool http_request_field_at(const http_request *req, size_t i, const char **name,
                           const char **value);
const char *http_request_field(const http_request *req, const char *name);

/* File parts of a multipart body, spooled to temporary files that are removed after
 * the handler answers unless the handler moves them away (rename). A part counts as
 * a file when it has a filename, or when its text grows past 64 KiB (then filename is
 * NULL and it is not among the text fields). Each is limited to max_body_bytes. */
typedef struct http_upload {
    const char *field;          /* the form field name */
    const char *filename;       /* as the client sent it; may be NULL */
    const char *content_type;   /* may be NULL */
    const char *path;           /* the temporary file holding the bytes */
    uint64_t size;
} http_upload;
size_t http_request_upload_count(const http_request *req);
const http_upload *http_request_upload_at(const http_request *req, size_t i);
const http_upload *http_request_upload(const http_request *req, const char *field);

/* ---- answering (exactly once per request) */

/* Adds a response header; call before answering. */
void http_response_header(http_request *req, const char *name, const char *value);
/* body is stolen (json_decref'd by the server). */
void http_respond_json(http_request *req, int status, json_t *body);
/* {"errorText": <formatted>, "error": <formatted>}, and a log line. */
void http_respond_error(http_request *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void http_respond_bytes(http_request *req, int status, const char *content_type,
                        const void *data, size_t size);
void http_respond_text(http_request *req, int status, const char *content_type,
                       const char *text);
/* Streams a file from disk (404 JSON error if it cannot be opened). */
void http_respond_file(http_request *req, int status, const char *content_type,
                       const char *path);
void http_respond_redirect(http_request *req, int status, const char *location);

/* A long-lived response (server-sent events): the server calls `next` from one of
 * its threads whenever the client can take more, so `next` must not block; it writes
 * at most `max` bytes into buf and returns the count, 0 to wait (it is called again
 * after a short pause), or -1 to end the stream. `done` is called once when the
 * stream ends for any reason (client gone, server stopping). A text/event-stream
 * that stays silent gets a comment line now and then, which is how a departed
 * client is noticed. */
typedef long (*http_stream_next_fn)(void *state, char *buf, size_t max);
typedef void (*http_stream_done_fn)(void *state);
void http_respond_stream(http_request *req, int status, const char *content_type,
                         http_stream_next_fn next, http_stream_done_fn done, void *state);

#endif
