/*
 * http_server.c — the libmicrohttpd daemon and the life of one request.
 *
 * The daemon's threads (internal polling, a small pool) only do quick work:
 * parse the head of a request, route it, read its body (spooling uploads), and send
 * answers. Once a request is complete its connection is suspended and the request
 * handed to the worker pool, where the service's handler runs and may block for as
 * long as it needs; the worker then resumes the connection, the daemon calls us back
 * and queues the answer the handler left. So a slow handler holds one worker, never
 * a daemon thread, and the fast requests around it keep flowing.
 *
 * Requests the daemon can answer by itself (unknown route, wrong method, body too
 * large, CORS preflight) never visit a worker.
 */
#include "base/http_internal.h"

#include "base/ids.h"
#include "base/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX_BODY (64u << 20)
#define CONNECTION_TIMEOUT_SECONDS 120
#define CONNECTION_LIMIT 4096

double http_now_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* Paths and query arguments are decoded by us (http_path.c), after splitting, so the
 * daemon must hand them over untouched. */
static size_t keep_escapes(void *cls, struct MHD_Connection *connection, char *s)
{
    (void)cls;
    (void)connection;
    return strlen(s);
}

static void format_peer(const struct sockaddr *addr, char *out, size_t size)
{
    snprintf(out, size, "unknown");
    if (!addr)
        return;
    socklen_t len = addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                : sizeof(struct sockaddr_in);
    if (getnameinfo(addr, len, out, (socklen_t)size, NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(out, size, "unknown");
    if (!strncmp(out, "::ffff:", 7) && strchr(out, '.'))
        memmove(out, out + 7, strlen(out + 7) + 1);
}

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    http_request *req = cls;
    char *name = http_percent_decode(&req->arena, key, strlen(key), true);
    char *decoded = value ? http_percent_decode(&req->arena, value, strlen(value), true)
                          : http_arena_strndup(&req->arena, "", 0);
    if (!name || !decoded) {
        req->reject_status = MHD_HTTP_BAD_REQUEST;
        snprintf(req->reject_message, sizeof req->reject_message,
                 "query argument '%.80s' has a malformed percent escape (expected %%XX with "
                 "two hex digits, not %%00)", key);
        return MHD_NO;
    }
    if (!http_pairs_add(&req->query, name, decoded))
        return MHD_NO;
    return MHD_YES;
}

static http_request *request_create(http_server *server, struct MHD_Connection *connection,
                                    const char *url, const char *method)
{
    http_request *req = calloc(1, sizeof *req);
    if (!req)
        return NULL;
    req->server = server;
    req->connection = connection;
    req->started = http_now_seconds();
    req->part.upload_index = -1;
    ids_new_request_id(req->request_id);
    req->method = http_arena_strndup(&req->arena, method, strlen(method));
    req->raw_path = http_arena_strndup(&req->arena, url, strlen(url));
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    format_peer(info ? info->client_addr : NULL, req->peer, sizeof req->peer);
    if (!req->method || !req->raw_path) {
        http_arena_free(&req->arena);
        free(req);
        return NULL;
    }
    return req;
}

static void request_free(http_request *req)
{
    http_body_cleanup(req);
    if (req->response)
        MHD_destroy_response(req->response);
    json_decref(req->json);
    free(req->body);
    free(req->uploads);
    free(req->part.text);
    http_pairs_free(&req->captures);
    http_pairs_free(&req->query);
    http_pairs_free(&req->fields);
    http_pairs_free(&req->response_headers);
    http_arena_free(&req->arena);
    free(req);
}

static enum MHD_Result queue_answer(http_request *req)
{
    if (!req->response) {
        http_respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR,
                           "the request's handler did not answer");
        if (!req->response)
            return MHD_NO;
    }
    http_log_answer(req);
    enum MHD_Result queued = MHD_queue_response(req->connection, req->status, req->response);
    MHD_destroy_response(req->response);
    req->response = NULL;
    return queued;
}

/* Answers on the daemon thread (no handler involved) and sends it. */
static enum MHD_Result answer_now(http_request *req, unsigned status, const char *message)
{
    http_respond_error(req, (int)status, "%s", message);
    return queue_answer(req);
}

static enum MHD_Result answer_preflight(http_request *req, const char *allowed)
{
    struct MHD_Response *response = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    if (!response)
        return MHD_NO;
    MHD_add_response_header(response, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(response, "Access-Control-Allow-Methods",
                            allowed && *allowed ? allowed
                                                : "GET, POST, PUT, PATCH, DELETE, OPTIONS");
    const char *wanted = MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND,
                                                     "Access-Control-Request-Headers");
    MHD_add_response_header(response, "Access-Control-Allow-Headers",
                            wanted ? wanted : "Content-Type");
    MHD_add_response_header(response, "Access-Control-Max-Age", "86400");
    http_set_response(req, MHD_HTTP_NO_CONTENT, response);
    return queue_answer(req);
}

/* Routes a request that just arrived; answers at once when no handler is needed. */
static enum MHD_Result begin_request(http_request *req)
{
    http_server *server = req->server;
    if (atomic_load(&server->stopping))
        return answer_now(req, MHD_HTTP_SERVICE_UNAVAILABLE,
                          "the server is shutting down; retry on another device or later");
    MHD_get_connection_values(req->connection, MHD_GET_ARGUMENT_KIND, collect_query, req);
    if (req->reject_status)
        return answer_now(req, req->reject_status, req->reject_message);

    http_split_path path;
    if (!http_path_split(req->raw_path, &req->arena, &path)) {
        req->path = req->raw_path;
        return answer_now(req, MHD_HTTP_BAD_REQUEST,
                          "the request path is malformed (a bad percent escape, an encoded "
                          "NUL byte, or more than 32 segments)");
    }
    req->path = path.normalised;

    bool preflight = !strcmp(req->method, "OPTIONS");
    char allowed[128];
    http_match_result match = http_route_match(
        server->routes, server->route_count, preflight ? "*" : req->method, &path,
        &req->route, &req->captures, allowed, sizeof allowed);
    if (preflight) {
        /* Any route on the path makes the preflight succeed; the browser then sends the
         * real request, which gets its own 405 if the method is wrong. */
        if (match == HTTP_MATCH_NO_PATH)
            return answer_now(req, MHD_HTTP_NOT_FOUND, "no route for this path");
        if (match == HTTP_MATCH_FOUND)
            allowed[0] = '\0';
        return answer_preflight(req, allowed);
    }
    if (match == HTTP_MATCH_NO_PATH) {
        char message[300];
        snprintf(message, sizeof message, "no route for %s %.200s", req->method, req->path);
        return answer_now(req, MHD_HTTP_NOT_FOUND, message);
    }
    if (match == HTTP_MATCH_WRONG_METHOD) {
        char message[400];
        snprintf(message, sizeof message, "method %s is not allowed on %.200s; allowed: %s",
                 req->method, req->path, allowed);
        http_response_header(req, "Allow", allowed);
        return answer_now(req, MHD_HTTP_METHOD_NOT_ALLOWED, message);
    }
    if (!http_body_begin(req))
        return answer_now(req, req->reject_status, req->reject_message);
    return MHD_YES;
}

/* The whole request is here: hand it to a worker. */
static enum MHD_Result dispatch(http_request *req)
{
    http_body_finish(req);
    if (req->reject_status)
        return answer_now(req, req->reject_status, req->reject_message);
    http_server *server = req->server;
    /* Checked under the lock http_server_stop sets it under, so a request is either
     * counted before the stop starts waiting or refused. */
    pthread_mutex_lock(&server->flight_lock);
    bool stopping = atomic_load(&server->stopping);
    if (!stopping)
        server->in_flight++;
    pthread_mutex_unlock(&server->flight_lock);
    if (stopping)
        return answer_now(req, MHD_HTTP_SERVICE_UNAVAILABLE,
                          "the server is shutting down; retry on another device or later");
    req->dispatched = true;
    MHD_suspend_connection(req->connection);
    http_workers_submit(server->workers, req);
    return MHD_YES;
}

/* The daemon has a dispatched request's connection back. */
static void end_flight(http_request *req)
{
    http_server *server = req->server;
    req->dispatched = false;
    pthread_mutex_lock(&server->flight_lock);
    if (--server->in_flight == 0)
        pthread_cond_broadcast(&server->flight_done);
    pthread_mutex_unlock(&server->flight_lock);
}

/* Back on the daemon thread after the worker resumed the connection. */
static enum MHD_Result finish_dispatched(http_request *req)
{
    enum MHD_Result result = queue_answer(req);
    end_flight(req);
    return result;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *connection, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **context)
{
    (void)version;
    http_server *server = cls;
    http_request *req = *context;
    if (!req) {
        req = request_create(server, connection, url, method);
        if (!req)
            return MHD_NO;
        *context = req;
        return begin_request(req);
    }
    if (req->dispatched)
        return finish_dispatched(req);
    if (req->answered) {
        *upload_data_size = 0;   /* an early answer is queued; what follows is dropped */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t size = *upload_data_size;
        *upload_data_size = 0;
        return http_body_feed(req, upload_data, size) ? MHD_YES : MHD_NO;
    }
    return dispatch(req);
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **context,
                         enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)connection;
    http_request *req = *context;
    if (!req)
        return;
    *context = NULL;
    /* A client that left while its handler ran: once resumed, the daemon finds the
     * connection dead and ends it here without calling us back first. */
    if (req->dispatched)
        end_flight(req);
    if (code != MHD_REQUEST_TERMINATED_COMPLETED_OK && code != MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN)
        log_debug("http.aborted", "request=%s method=%s path=%s code=%d", req->request_id,
                  req->method, log_quote(req->path ? req->path : req->raw_path), (int)code);
    request_free(req);
}

void http_server_run_request(http_request *req)
{
    req->route->handler(req, req->server->user);
    /* Uploads the handler did not move go now, not when the answer has been sent. */
    http_body_cleanup(req);
    if (!req->response)
        http_respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR,
                           "the request's handler returned without answering");
    MHD_resume_connection(req->connection);
}

static void daemon_log(void *cls, const char *fmt, va_list args)
{
    (void)cls;
    char message[512];
    vsnprintf(message, sizeof message, fmt, args);
    size_t n = strlen(message);
    while (n > 0 && (message[n - 1] == '\n' || message[n - 1] == ' '))
        message[--n] = '\0';
    log_debug("http.daemon", "message=%s", log_quote(message));
}

static bool resolve_bind(const char *address, uint16_t port, struct sockaddr_storage *out,
                         bool *ipv6, char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    if (!address || !*address)
        address = "0.0.0.0";
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, address, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        *ipv6 = false;
        return true;
    }
    if (inet_pton(AF_INET6, address, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        *ipv6 = true;
        return true;
    }
    snprintf(err, err_size, "bind address '%s' is not a numeric IPv4 or IPv6 address "
             "(use 0.0.0.0 for every interface or 127.0.0.1 for loopback only)", address);
    return false;
}

static unsigned default_threads(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    return cores * 2 < 4 ? 4 : (unsigned)cores * 2;
}

static unsigned daemon_threads(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    return cores > 4 ? 4 : (unsigned)cores;
}

static void server_free(http_server *server)
{
    if (server->workers)
        http_workers_stop(server->workers);
    if (server->streams)
        http_streams_free(server->streams);
    for (size_t i = 0; i < server->route_count; i++)
        http_route_release(&server->routes[i]);
    free(server->routes);
    free(server->upload_dir);
    pthread_mutex_destroy(&server->flight_lock);
    pthread_cond_destroy(&server->flight_done);
    free(server);
}

http_server *http_server_start(const http_server_options *options, const http_route *routes,
                               size_t route_count, void *user, char *err, size_t err_size)
{
    http_server_options defaults = {0};
    if (!options)
        options = &defaults;
    http_server *server = calloc(1, sizeof *server);
    if (!server) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&server->flight_lock, NULL);
    pthread_cond_init(&server->flight_done, NULL);
    server->user = user;
    server->max_body_bytes = options->max_body_bytes ? options->max_body_bytes : DEFAULT_MAX_BODY;
    const char *tmp = getenv("TMPDIR");
    server->upload_dir = strdup(options->upload_dir ? options->upload_dir
                                : tmp && *tmp ? tmp : "/tmp");
    server->routes = calloc(route_count ? route_count : 1, sizeof *server->routes);
    if (!server->upload_dir || !server->routes) {
        snprintf(err, err_size, "out of memory");
        server_free(server);
        return NULL;
    }
    for (size_t i = 0; i < route_count; i++) {
        if (!http_route_compile(&routes[i], &server->routes[i], err, err_size)) {
            server_free(server);
            return NULL;
        }
        server->route_count++;
    }
    if (access(server->upload_dir, W_OK | X_OK) != 0) {
        snprintf(err, err_size, "upload directory '%s' is not a writable directory: %s",
                 server->upload_dir, strerror(errno));
        server_free(server);
        return NULL;
    }

    struct sockaddr_storage bind_addr;
    bool ipv6 = false;
    if (!resolve_bind(options->bind_address, options->port, &bind_addr, &ipv6, err, err_size)) {
        server_free(server);
        return NULL;
    }
    unsigned threads = options->threads ? options->threads : default_threads();
    unsigned max_threads = threads * 8 < 64 ? 64 : threads * 8;
    server->workers = http_workers_start(threads, max_threads, err, err_size);
    server->streams = server->workers ? http_streams_start(err, err_size) : NULL;
    if (!server->workers || !server->streams) {
        server_free(server);
        return NULL;
    }

    /* poll(), not epoll: libmicrohttpd 0.9.75's edge-triggered epoll loop misses a FIN
     * that arrives together with the last bytes of a body, so a client that left
     * mid-upload would hold its connection and spool files until the timeout. With a
     * handful of daemon threads and device-sized connection counts, poll costs
     * nothing measurable (bench: same requests/s either way). */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | (ipv6 ? MHD_USE_IPv6 : 0);
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&bind_addr;
    if (ipv6 && IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr))
        flags |= MHD_USE_DUAL_STACK;
    server->daemon = MHD_start_daemon(
        flags, options->port, NULL, NULL, on_access, server,
        MHD_OPTION_EXTERNAL_LOGGER, daemon_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&bind_addr,
        MHD_OPTION_THREAD_POOL_SIZE, daemon_threads(),
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, server,
        MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_SECONDS,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_END);
    if (!server->daemon) {
        int saved = errno;
        snprintf(err, err_size, "cannot listen on %s port %u: %s",
                 options->bind_address ? options->bind_address : "0.0.0.0",
                 (unsigned)options->port,
                 saved == EADDRINUSE ? "the port is in use by another program; choose another "
                                       "port" : saved ? strerror(saved) : "libmicrohttpd refused "
                                       "to start");
        server_free(server);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(server->daemon,
                                                           MHD_DAEMON_INFO_BIND_PORT);
    server->port = info ? info->port : options->port;
    log_debug("http.listening", "address=%s port=%u workers=%u",
              options->bind_address ? options->bind_address : "0.0.0.0", server->port, threads);
    return server;
}

uint16_t http_server_port(const http_server *server)
{
    return server ? server->port : 0;
}

void http_server_stop(http_server *server)
{
    if (!server)
        return;
    pthread_mutex_lock(&server->flight_lock);
    atomic_store(&server->stopping, true);
    pthread_mutex_unlock(&server->flight_lock);
    /* No new connections; those already open get 503 for any new request. */
    MHD_socket listener = MHD_quiesce_daemon(server->daemon);
    if (listener != MHD_INVALID_SOCKET)
        close(listener);
    pthread_mutex_lock(&server->flight_lock);
    while (server->in_flight > 0)
        pthread_cond_wait(&server->flight_done, &server->flight_lock);
    pthread_mutex_unlock(&server->flight_lock);
    http_streams_shutdown(server->streams);
    MHD_stop_daemon(server->daemon);
    server_free(server);
}
