/*
 * http_response.c — the http_respond_* functions.
 *
 * A handler's answer is built into a libmicrohttpd response and parked on the
 * request; the daemon thread queues it when the worker gives the connection back.
 * Every answer carries Access-Control-Allow-Origin: * (browser clients and the
 * dashboard call devices directly, as Wasm-IoT's orchestrator allows every origin)
 * and X-Request-Id, the id this request has in the logs.
 */
#include "base/http_internal.h"

#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void http_set_response(http_request *req, unsigned status, struct MHD_Response *response)
{
    if (req->answered) {
        log_error("http.answered_twice", "request=%s method=%s path=%s status=%u",
                  req->request_id, req->method, log_quote(req->path), status);
        if (response)
            MHD_destroy_response(response);
        return;
    }
    if (!response) {
        log_error("http.response_failed", "request=%s status=%u", req->request_id, status);
        return;   /* the caller's fallback (or the 500 for no answer) takes over */
    }
    MHD_add_response_header(response, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(response, "X-Request-Id", req->request_id);
    for (size_t i = 0; i < req->response_headers.count; i++)
        MHD_add_response_header(response, req->response_headers.items[i].name,
                                req->response_headers.items[i].value);
    req->response = response;
    req->status = status;
    req->answered = true;
}

void http_log_answer(const http_request *req)
{
    double ms = (http_now_seconds() - req->started) * 1000.0;
    log_debug("http.request", "request=%s method=%s path=%s status=%u ms=%.3f peer=%s",
              req->request_id, req->method, log_quote(req->path ? req->path : req->raw_path),
              req->status, ms, req->peer);
}

void http_response_header(http_request *req, const char *name, const char *value)
{
    if (req->answered || !name || !value)
        return;
    char *n = http_arena_strndup(&req->arena, name, strlen(name));
    char *v = http_arena_strndup(&req->arena, value, strlen(value));
    if (n && v)
        http_pairs_add(&req->response_headers, n, v);
}

/* A response over data: copied, or (copy false) taken over and freed with free(). */
static struct MHD_Response *buffer_response(const void *data, size_t size, bool copy)
{
    struct MHD_Response *response = MHD_create_response_from_buffer(
        size, (void *)data, copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_MUST_FREE);
    if (!response && !copy)
        free((void *)data);
    return response;
}

static void respond_text_response(http_request *req, int status, const char *content_type,
                                  struct MHD_Response *response)
{
    if (response && content_type)
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    http_set_response(req, (unsigned)status, response);
}

void http_respond_json(http_request *req, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(body);
    if (!text) {
        text = strdup("null");
        if (!text)
            return;
    }
    respond_text_response(req, status, "application/json", buffer_response(text, strlen(text),
                                                                          false));
}

void http_respond_error(http_request *req, int status, const char *fmt, ...)
{
    char message[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    /* 503 is the server declining work (stopping, overloaded), not a fault. */
    if (status >= 500 && status != 503)
        log_error("http.error", "request=%s method=%s path=%s status=%d error=%s",
                  req->request_id, req->method, log_quote(req->path ? req->path : req->raw_path),
                  status, log_quote(message));
    else
        log_info("http.error", "request=%s method=%s path=%s status=%d error=%s",
                 req->request_id, req->method, log_quote(req->path ? req->path : req->raw_path),
                 status, log_quote(message));
    json_t *body = json_pack("{s:s, s:s}", "errorText", message, "error", message);
    if (!body) {
        /* Not valid UTF-8 (a message quoting raw client bytes): send it as text. */
        http_respond_text(req, status, "text/plain; charset=utf-8", message);
        return;
    }
    http_respond_json(req, status, body);
}

void http_respond_bytes(http_request *req, int status, const char *content_type,
                        const void *data, size_t size)
{
    respond_text_response(req, status, content_type ? content_type : "application/octet-stream",
                          buffer_response(size ? data : "", size, true));
}

void http_respond_text(http_request *req, int status, const char *content_type,
                       const char *text)
{
    if (!text)
        text = "";
    respond_text_response(req, status, content_type ? content_type : "text/plain; charset=utf-8",
                          buffer_response(text, strlen(text), true));
}

void http_respond_file(http_request *req, int status, const char *content_type,
                       const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int saved = fd < 0 ? errno : EISDIR;
        if (fd >= 0)
            close(fd);
        log_debug("http.file_missing", "request=%s file=%s error=%s", req->request_id,
                  log_quote(path), log_quote(strerror(saved)));
        http_respond_error(req, 404, "file not found: %s",
                           strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
        return;
    }
    /* The daemon reads the file as the client takes it, and closes fd when done. */
    struct MHD_Response *response = MHD_create_response_from_fd64((uint64_t)st.st_size, fd);
    if (!response) {
        close(fd);
        http_respond_error(req, 500, "cannot send file %s", path);
        return;
    }
    respond_text_response(req, status, content_type ? content_type : "application/octet-stream",
                          response);
}

void http_respond_redirect(http_request *req, int status, const char *location)
{
    json_t *body = json_pack("{s:s}", "location", location ? location : "");
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    struct MHD_Response *response = text ? buffer_response(text, strlen(text), false)
                                         : buffer_response("", 0, true);
    if (response && location)
        MHD_add_response_header(response, MHD_HTTP_HEADER_LOCATION, location);
    respond_text_response(req, status, "application/json", response);
}

void http_respond_stream(http_request *req, int status, const char *content_type,
                         http_stream_next_fn next, http_stream_done_fn done, void *state)
{
    struct MHD_Response *response =
        http_stream_response(req->server, req, content_type, next, done, state);
    if (!response) {
        if (done)
            done(state);
        http_respond_error(req, 500, "cannot start the stream");
        return;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    respond_text_response(req, status, content_type ? content_type : "text/event-stream",
                          response);
}
