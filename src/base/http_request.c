/*
 * http_request.c — what a handler reads from a request.
 */
#include "base/http_internal.h"

#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

const char *http_request_method(const http_request *req)
{
    return req->method;
}

const char *http_request_path(const http_request *req)
{
    return req->path;
}

const char *http_request_param(const http_request *req, const char *name)
{
    return http_pairs_find(&req->captures, name);
}

size_t http_request_query_count(const http_request *req)
{
    return req->query.count;
}

bool http_request_query_at(const http_request *req, size_t i, const char **name,
                           const char **value)
{
    if (i >= req->query.count)
        return false;
    if (name)
        *name = req->query.items[i].name;
    if (value)
        *value = req->query.items[i].value;
    return true;
}

const char *http_request_query(const http_request *req, const char *name)
{
    return http_pairs_find(&req->query, name);
}

const char *http_request_header(const http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, name);
}

const char *http_request_peer_address(const http_request *req)
{
    return req->peer;
}

/* A Host header is used in URLs we hand out, so it must look like host[:port]. */
static bool plausible_host(const char *host)
{
    if (!*host || strlen(host) > 255)
        return false;
    for (const char *p = host; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_' ||
                  c == '%';
        if (!ok)
            return false;
    }
    return true;
}

/* Without a usable Host header: the address the connection arrived on. */
static const char *local_base_url(http_request *req)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(req->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    char host[80] = "127.0.0.1";
    if (info && getsockname(info->connect_fd, (struct sockaddr *)&addr, &len) == 0) {
        char text[64];
        if (getnameinfo((struct sockaddr *)&addr, len, text, sizeof text, NULL, 0,
                        NI_NUMERICHOST) == 0) {
            const char *shown = !strncmp(text, "::ffff:", 7) && strchr(text, '.') ? text + 7
                                                                                   : text;
            if (strchr(shown, ':'))
                snprintf(host, sizeof host, "[%s]", shown);
            else
                snprintf(host, sizeof host, "%s", shown);
        }
    }
    char url[128];
    snprintf(url, sizeof url, "http://%s:%u", host, (unsigned)req->server->port);
    return http_arena_strndup(&req->arena, url, strlen(url));
}

const char *http_request_base_url(const http_request *req)
{
    http_request *mutable = (http_request *)req;   /* computed once, cached */
    if (req->base_url)
        return req->base_url;
    const char *host = http_request_header(req, MHD_HTTP_HEADER_HOST);
    if (host && plausible_host(host)) {
        size_t n = strlen(host) + 8;
        char *url = http_arena_alloc(&mutable->arena, n);
        if (url) {
            snprintf(url, n, "http://%s", host);
            mutable->base_url = url;
            return url;
        }
    }
    mutable->base_url = local_base_url(mutable);
    return req->base_url ? req->base_url : "http://127.0.0.1";
}

const uint8_t *http_request_body(const http_request *req, size_t *size)
{
    if (size)
        *size = req->body_size;
    return req->body ? req->body : (const uint8_t *)"";
}

json_t *http_request_json(http_request *req, char *err, size_t err_size)
{
    if (req->json)
        return req->json;
    if (req->body_kind == HTTP_BODY_FORM) {
        snprintf(err, err_size, "expected a JSON body, got a form (%s); send Content-Type: "
                 "application/json", http_request_header(req, MHD_HTTP_HEADER_CONTENT_TYPE));
        return NULL;
    }
    if (req->body_size == 0) {
        snprintf(err, err_size, "the request body is empty; expected a JSON document");
        return NULL;
    }
    json_error_t error;
    req->json = json_loadb((const char *)req->body, req->body_size, JSON_DECODE_ANY, &error);
    if (!req->json)
        snprintf(err, err_size, "the request body is not valid JSON: %s (line %d, column %d)",
                 error.text, error.line, error.column);
    return req->json;
}

size_t http_request_field_count(const http_request *req)
{
    return req->fields.count;
}

bool http_request_field_at(const http_request *req, size_t i, const char **name,
                           const char **value)
{
    if (i >= req->fields.count)
        return false;
    if (name)
        *name = req->fields.items[i].name;
    if (value)
        *value = req->fields.items[i].value;
    return true;
}

const char *http_request_field(const http_request *req, const char *name)
{
    return http_pairs_find(&req->fields, name);
}

size_t http_request_upload_count(const http_request *req)
{
    return req->upload_count;
}

const http_upload *http_request_upload_at(const http_request *req, size_t i)
{
    return i < req->upload_count ? &req->uploads[i].upload : NULL;
}

const http_upload *http_request_upload(const http_request *req, const char *name)
{
    for (size_t i = 0; i < req->upload_count; i++)
        if (!strcmp(req->uploads[i].upload.field, name))
            return &req->uploads[i].upload;
    return NULL;
}

const char *http_request_id(const http_request *req)
{
    return req->request_id;
}
