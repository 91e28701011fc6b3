/*
 * http_client.h — outgoing HTTP for every Liquid service (libcurl).
 *
 * Each thread keeps its own curl handle, so connections to the same peer are reused
 * (keep-alive) without locks. Every call has a timeout. A call returns false only
 * when no HTTP answer arrived (refused, unreachable, timed out, too large), with the
 * reason in result->error; any HTTP status, 4xx and 5xx included, returns true.
 */
#ifndef LIQUID_BASE_HTTP_CLIENT_H
#define LIQUID_BASE_HTTP_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct http_result {
    long status;                /* HTTP status, 0 if none arrived */
    char *body;                 /* NUL-terminated; NULL when the body went to a file */
    size_t size;
    char *content_type;         /* may be NULL */
    char *location;             /* Location header of a redirect, may be NULL */
    double seconds;             /* total time of the exchange */
    char error[256];            /* why it failed, when the call returned false */
} http_result;

void http_result_free(http_result *result);
/* The body parsed as JSON, or NULL. The caller owns the returned reference. */
json_t *http_result_json(const http_result *result);

typedef struct http_header {
    const char *name;
    const char *value;
} http_header;

/* One part of a multipart/form-data body: a text field (value), a file from disk
 * (path), or bytes from memory (data/size). filename defaults to the field name. */
typedef struct http_part {
    const char *field;
    const char *value;
    const char *path;
    const void *data;
    size_t size;
    const char *filename;
    const char *content_type;
} http_part;

/* Redirects are not followed: Liquid's callers decide (a moved module answers 307). */
bool http_request_send(const char *method, const char *url, const http_header *headers,
                       size_t header_count, const void *body, size_t body_size,
                       const char *content_type, long timeout_ms, http_result *out);
bool http_get(const char *url, long timeout_ms, http_result *out);
bool http_post_json(const char *url, const json_t *body, long timeout_ms, http_result *out);
bool http_post_multipart(const char *url, const http_part *parts, size_t part_count,
                         long timeout_ms, http_result *out);
/* The same, with extra request headers (a chained call's X-Liquid-Epoch, say). */
bool http_post_multipart_with_headers(const char *url, const http_header *headers,
                                      size_t header_count, const http_part *parts,
                                      size_t part_count, long timeout_ms, http_result *out);
/* GET url into a file at path (written to path.part, then renamed), refusing more than
 * max_bytes (0: no limit); fills sha256 with the digest of what was written. */
bool http_download(const char *url, const char *path, uint64_t max_bytes, long timeout_ms,
                   uint8_t sha256[32], http_result *out);

/* Percent-encodes s for a query string; the caller frees the result. */
char *http_url_encode(const char *s);

#endif
