/*
 * http_internal.h — what the files of the HTTP server share (not for services).
 *
 * The server is split by idea: http_server.c runs the libmicrohttpd daemon and moves
 * requests between its threads and the worker pool (http_workers.c); http_path.c
 * normalises paths, decodes percent escapes and matches routes; http_body.c reads
 * bodies (raw, urlencoded, multipart); http_response.c builds answers; http_stream.c
 * keeps server-sent-event streams going; http_request.c has the accessors.
 */
#ifndef LIQUID_BASE_HTTP_INTERNAL_H
#define LIQUID_BASE_HTTP_INTERNAL_H

#include "base/http_server.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/types.h>

/* ---- small per-request arena: every string of a request lives until it is freed */

typedef struct http_arena_block http_arena_block;
typedef struct http_arena {
    http_arena_block *head;
} http_arena;

void *http_arena_alloc(http_arena *arena, size_t size);
char *http_arena_strndup(http_arena *arena, const char *s, size_t n);
void http_arena_free(http_arena *arena);

/* ---- name/value lists (query, fields, captures, extra response headers) */

typedef struct http_pair {
    const char *name;
    const char *value;
} http_pair;

typedef struct http_pairs {
    http_pair *items;
    size_t count, capacity;
} http_pairs;

bool http_pairs_add(http_pairs *pairs, const char *name, const char *value);
const char *http_pairs_find(const http_pairs *pairs, const char *name);
void http_pairs_free(http_pairs *pairs);

/* ---- paths and routes (http_path.c) */

#define HTTP_MAX_SEGMENTS 32

typedef struct http_compiled_route {
    const char *method;
    http_handler_fn handler;
    size_t segment_count;
    char *segments[HTTP_MAX_SEGMENTS];  /* literal text, or the name of a {capture} */
    bool is_capture[HTTP_MAX_SEGMENTS];
} http_compiled_route;

/* Compiles a route pattern; false with a message for a malformed pattern. */
bool http_route_compile(const http_route *route, http_compiled_route *out, char *err,
                        size_t err_size);
void http_route_release(http_compiled_route *route);

/* A request path split into decoded segments after collapsing repeated slashes and
 * resolving "." and ".." (RFC 3986 §5.2.4). Strings live in the arena. */
typedef struct http_split_path {
    size_t count;
    const char *segments[HTTP_MAX_SEGMENTS];
    const char *normalised;     /* "/" + segments joined by "/" */
} http_split_path;

/* false when the path is too deep or has a bad escape (the caller answers 400/404). */
bool http_path_split(const char *raw, http_arena *arena, http_split_path *out);
/* Decodes %XX escapes (and '+' as space when form is true) into a new arena string;
 * NULL on a malformed escape or an encoded NUL. */
char *http_percent_decode(http_arena *arena, const char *s, size_t n, bool form);

typedef enum http_match_result {
    HTTP_MATCH_FOUND,
    HTTP_MATCH_NO_PATH,
    HTTP_MATCH_WRONG_METHOD,
} http_match_result;

/* Finds the first route matching method and path; on a match fills captures. When the
 * path matches but the method does not, allowed gets "GET, POST" style text. */
http_match_result http_route_match(const http_compiled_route *routes, size_t count,
                                   const char *method, const http_split_path *path,
                                   const http_compiled_route **found, http_pairs *captures,
                                   char *allowed, size_t allowed_size);

/* ---- the server and a request in flight */

typedef struct http_workers http_workers;
typedef struct http_streams http_streams;

struct http_server {
    struct MHD_Daemon *daemon;
    http_compiled_route *routes;
    size_t route_count;
    void *user;
    size_t max_body_bytes;
    char *upload_dir;
    uint16_t port;
    atomic_bool stopping;

    http_workers *workers;
    http_streams *streams;

    /* Requests handed to a worker whose connection has not come back to the daemon
     * yet; http_server_stop waits for zero before stopping the daemon, since
     * libmicrohttpd must not be stopped with suspended connections. */
    pthread_mutex_t flight_lock;
    pthread_cond_t flight_done;
    size_t in_flight;
};

typedef enum http_body_kind {
    HTTP_BODY_RAW = 0,
    HTTP_BODY_FORM,       /* urlencoded or multipart, through MHD_PostProcessor */
} http_body_kind;

typedef struct http_upload_entry {
    http_upload upload;
    int fd;               /* open while its bytes arrive, -1 after */
    bool from_text;       /* a text field that grew past the in-memory threshold */
    dev_t dev;            /* identify the spool file, so cleanup never removes a file */
    ino_t ino;            /* of the same name that is not ours */
} http_upload_entry;

/* The part of a form body being received: text collects in `text` until it grows
 * past the threshold or the part is a file, then it goes to an upload entry. */
typedef struct http_form_part {
    bool active;
    char *field;
    char *text;
    size_t text_size, text_capacity;
    long upload_index;    /* -1 while the part is still text */
} http_form_part;

struct http_request {
    http_server *server;
    struct MHD_Connection *connection;
    http_arena arena;
    const char *method;
    const char *path;
    const char *raw_path;
    const http_compiled_route *route;
    http_pairs captures;
    http_pairs query;
    http_pairs fields;
    http_pairs response_headers;
    char request_id[32];
    char peer[64];
    const char *base_url;
    double started;

    /* body */
    http_body_kind body_kind;
    uint8_t *body;
    size_t body_size, body_capacity;
    struct MHD_PostProcessor *post;
    http_form_part part;
    http_upload_entry *uploads;
    size_t upload_count, upload_capacity;
    size_t field_bytes;
    json_t *json;
    uint64_t received;    /* body bytes so far, to bound whole forms */
    uint64_t discarded;   /* body bytes dropped after the request was refused */

    /* A failure found while the body arrived: answered once the body is read. */
    unsigned reject_status;
    char reject_message[256];

    /* answer */
    bool dispatched;      /* handed to a worker: counted in server->in_flight */
    bool answered;
    unsigned status;
    struct MHD_Response *response;
};

/* ---- body (http_body.c) */

/* Prepares body reading from the request headers; false when the request must be
 * refused at once (req->reject_status says why). */
bool http_body_begin(http_request *req);
/* Takes one chunk of the body; false to drop the connection. A chunk that breaks a
 * limit sets req->reject_status and the caller answers. */
bool http_body_feed(http_request *req, const char *data, size_t size);
/* Flushes the form parser and closes spool files. */
void http_body_finish(http_request *req);
/* Closes and removes every spooled file that was not moved away. */
void http_body_cleanup(http_request *req);

/* ---- answers (http_response.c) */

/* Builds {"errorText": m, "error": m} as a response without a request (the daemon's
 * own 404/405/413 answers go through http_respond_error too). */
void http_set_response(http_request *req, unsigned status, struct MHD_Response *response);
void http_log_answer(const http_request *req);
double http_now_seconds(void);

/* ---- worker pool (http_workers.c) */

http_workers *http_workers_start(unsigned threads, unsigned max_threads, char *err,
                                 size_t err_size);
void http_workers_submit(http_workers *workers, http_request *req);
/* Waits for queued work to finish and joins every thread. */
void http_workers_stop(http_workers *workers);
/* Runs the handler of req on the calling (worker) thread, then gives the connection
 * back to the daemon. */
void http_server_run_request(http_request *req);

/* ---- server-sent-event streams (http_stream.c) */

http_streams *http_streams_start(char *err, size_t err_size);
/* Ends every stream (their next callbacks see the server stopping) and waits until
 * none is parked away from the daemon. */
void http_streams_shutdown(http_streams *streams);
void http_streams_free(http_streams *streams);
struct MHD_Response *http_stream_response(http_server *server, http_request *req,
                                          const char *content_type, http_stream_next_fn next,
                                          http_stream_done_fn done, void *state);

#endif
