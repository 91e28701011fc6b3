/*
 * http_body.c — reading request bodies.
 *
 * Raw bodies (JSON, wasm, anything that is not a form) are kept in memory up to the
 * server's max_body_bytes. Form bodies (application/x-www-form-urlencoded and
 * multipart/form-data) go through libmicrohttpd's post processor: text fields stay in
 * memory, while a part that carries a filename, or a text part that grows past
 * SPOOL_THRESHOLD, is written to a temporary file in the upload directory as it
 * arrives, so a large module or image never sits in memory. Each spooled part is
 * limited by max_body_bytes; the form as a whole by FORM_LIMIT_FACTOR times that and
 * MAX_PARTS parts, so a client cannot fill the disk through one request.
 *
 * Spooled files are removed when the handler is done with the request, unless the
 * handler renamed them away, and when the client leaves mid-upload.
 */
#define _GNU_SOURCE   /* mkostemp */
#include "base/http_internal.h"

#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPOOL_THRESHOLD (64 * 1024)
#define FORM_LIMIT_FACTOR 4
#define MAX_PARTS 256
#define POST_BUFFER_BYTES (16 * 1024)
#define DISCARD_LIMIT ((uint64_t)64 << 20)

static void reject(http_request *req, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reject(http_request *req, unsigned status, const char *fmt, ...)
{
    if (req->reject_status)
        return;   /* the first problem is the one worth reporting */
    req->reject_status = status;
    va_list args;
    va_start(args, fmt);
    vsnprintf(req->reject_message, sizeof req->reject_message, fmt, args);
    va_end(args);
}

static bool media_type_is(const char *content_type, const char *wanted)
{
    size_t n = strlen(wanted);
    if (strncasecmp(content_type, wanted, n))
        return false;
    char next = content_type[n];
    return next == '\0' || next == ';' || next == ' ' || next == '\t';
}

static uint64_t form_limit(const http_server *server)
{
    return (uint64_t)server->max_body_bytes * FORM_LIMIT_FACTOR;
}

/* ---- spooling */

static http_upload_entry *new_upload(http_request *req, const char *field, const char *filename,
                                     const char *content_type)
{
    if (req->upload_count == MAX_PARTS) {
        reject(req, MHD_HTTP_CONTENT_TOO_LARGE, "the form has more than %d file parts; send "
               "fewer files per request", MAX_PARTS);
        return NULL;
    }
    if (req->upload_count == req->upload_capacity) {
        size_t capacity = req->upload_capacity ? req->upload_capacity * 2 : 4;
        http_upload_entry *uploads = realloc(req->uploads, capacity * sizeof *uploads);
        if (!uploads) {
            reject(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory reading the form");
            return NULL;
        }
        req->uploads = uploads;
        req->upload_capacity = capacity;
    }
    size_t dir_len = strlen(req->server->upload_dir);
    char *path = http_arena_alloc(&req->arena, dir_len + 32);
    if (!path) {
        reject(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory reading the form");
        return NULL;
    }
    snprintf(path, dir_len + 32, "%s/liquid-upload-XXXXXX", req->server->upload_dir);
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        log_error("http.spool_failed", "request=%s dir=%s error=%s", req->request_id,
                  log_quote(req->server->upload_dir), log_quote(strerror(errno)));
        reject(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot store the uploaded file: %s",
               strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        reject(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot store the uploaded file: %s",
               strerror(errno));
        close(fd);
        unlink(path);
        return NULL;
    }
    http_upload_entry *entry = &req->uploads[req->upload_count++];
    *entry = (http_upload_entry){
        .upload = {
            .field = http_arena_strndup(&req->arena, field, strlen(field)),
            .filename = filename ? http_arena_strndup(&req->arena, filename, strlen(filename))
                                 : NULL,
            .content_type = content_type
                                ? http_arena_strndup(&req->arena, content_type,
                                                     strlen(content_type))
                                : NULL,
            .path = path,
        },
        .fd = fd,
        .dev = st.st_dev,
        .ino = st.st_ino,
    };
    return entry;
}

static bool spool_write(http_request *req, http_upload_entry *entry, const char *data,
                        size_t size)
{
    if (entry->upload.size + size > req->server->max_body_bytes) {
        reject(req, MHD_HTTP_CONTENT_TOO_LARGE, "uploaded part '%.100s' is larger than the "
               "limit of %zu bytes; send a smaller file or raise the server's body limit",
               entry->upload.field, req->server->max_body_bytes);
        return false;
    }
    while (size > 0) {
        ssize_t n = write(entry->fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;
            log_error("http.spool_failed", "request=%s path=%s error=%s", req->request_id,
                      log_quote(entry->upload.path), log_quote(strerror(saved)));
            reject(req, saved == ENOSPC ? MHD_HTTP_INSUFFICIENT_STORAGE
                                        : MHD_HTTP_INTERNAL_SERVER_ERROR,
                   "cannot store uploaded part '%.100s': %s", entry->upload.field,
                   strerror(saved));
            return false;
        }
        data += n;
        size -= (size_t)n;
        entry->upload.size += (uint64_t)n;
    }
    return true;
}

static void close_spool(http_upload_entry *entry)
{
    if (entry->fd >= 0) {
        close(entry->fd);
        entry->fd = -1;
    }
}

/* ---- form parts */

/* Ends the part being received: a text part becomes a field. */
static bool finish_part(http_request *req)
{
    http_form_part *part = &req->part;
    if (!part->active)
        return true;
    bool ok = true;
    if (part->upload_index >= 0) {
        close_spool(&req->uploads[part->upload_index]);
    } else {
        const char *value = http_arena_strndup(&req->arena, part->text ? part->text : "",
                                               part->text_size);
        const char *name = http_arena_strndup(&req->arena, part->field, strlen(part->field));
        if (!value || !name || !http_pairs_add(&req->fields, name, value)) {
            reject(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory reading the form");
            ok = false;
        }
    }
    free(part->field);
    part->field = NULL;
    part->text_size = 0;
    part->upload_index = -1;
    part->active = false;
    return ok;
}

static bool start_part(http_request *req, const char *key, const char *filename,
                       const char *content_type)
{
    http_form_part *part = &req->part;
    part->field = strdup(key ? key : "");
    if (!part->field) {
        reject(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory reading the form");
        return false;
    }
    part->active = true;
    part->text_size = 0;
    part->upload_index = -1;
    if (filename) {
        if (!new_upload(req, part->field, filename, content_type))
            return false;
        part->upload_index = (long)req->upload_count - 1;
    }
    return true;
}

static bool append_text(http_request *req, const char *data, size_t size,
                        const char *content_type)
{
    http_form_part *part = &req->part;
    if (part->text_size + size > SPOOL_THRESHOLD) {
        /* Too big to keep in memory: the text so far and the rest go to a file. */
        http_upload_entry *entry = new_upload(req, part->field, NULL, content_type);
        if (!entry)
            return false;
        entry->from_text = true;
        part->upload_index = (long)req->upload_count - 1;
        return spool_write(req, entry, part->text ? part->text : "", part->text_size) &&
               spool_write(req, entry, data, size);
    }
    if (req->field_bytes + size > req->server->max_body_bytes) {
        reject(req, MHD_HTTP_CONTENT_TOO_LARGE, "the form's text fields are larger than the "
               "limit of %zu bytes", req->server->max_body_bytes);
        return false;
    }
    if (part->text_size + size + 1 > part->text_capacity) {
        size_t capacity = part->text_capacity ? part->text_capacity : 256;
        while (capacity < part->text_size + size + 1)
            capacity *= 2;
        char *text = realloc(part->text, capacity);
        if (!text) {
            reject(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory reading the form");
            return false;
        }
        part->text = text;
        part->text_capacity = capacity;
    }
    memcpy(part->text + part->text_size, data, size);
    part->text_size += size;
    req->field_bytes += size;
    return true;
}

static bool same_part(const http_form_part *part, const char *key, uint64_t off)
{
    if (!part->active)
        return false;
    if (off > 0)
        return true;
    /* The post processor announces a part once before its bytes arrive, possibly with
     * no data; a second offset-0 call for the same name with nothing received yet is
     * still that part. */
    return part->text_size == 0 && part->upload_index < 0 && !strcmp(part->field, key ? key : "");
}

static enum MHD_Result on_form_data(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *filename, const char *content_type,
                                    const char *transfer_encoding, const char *data,
                                    uint64_t off, size_t size)
{
    (void)kind;
    (void)transfer_encoding;
    http_request *req = cls;
    http_form_part *part = &req->part;
    if (req->reject_status)
        return MHD_NO;
    if (!same_part(part, key, off)) {
        if (!finish_part(req) || !start_part(req, key, filename, content_type))
            return MHD_NO;
    } else if (part->upload_index < 0 && filename && part->text_size == 0) {
        /* first announcement had no filename yet (cannot happen today; cheap to allow) */
        if (!new_upload(req, part->field, filename, content_type))
            return MHD_NO;
        part->upload_index = (long)req->upload_count - 1;
    }
    if (size == 0)
        return MHD_YES;
    bool ok = part->upload_index >= 0
                  ? spool_write(req, &req->uploads[part->upload_index], data, size)
                  : append_text(req, data, size, content_type);
    return ok ? MHD_YES : MHD_NO;
}

/* ---- the body as a whole */

bool http_body_begin(http_request *req)
{
    struct MHD_Connection *connection = req->connection;
    const char *length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *type = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_CONTENT_TYPE);
    bool form = type && (media_type_is(type, MHD_HTTP_POST_ENCODING_FORM_URLENCODED) ||
                         media_type_is(type, MHD_HTTP_POST_ENCODING_MULTIPART_FORMDATA));
    uint64_t limit = form ? form_limit(req->server) : req->server->max_body_bytes;
    if (length) {
        char *end;
        errno = 0;
        unsigned long long declared = strtoull(length, &end, 10);
        if (!errno && end != length && declared > limit) {
            reject(req, MHD_HTTP_CONTENT_TOO_LARGE, "request body of %llu bytes is larger than "
                   "the limit of %llu bytes; send less or raise the server's body limit",
                   declared, (unsigned long long)limit);
            return false;
        }
    }
    if (!form)
        return true;
    req->body_kind = HTTP_BODY_FORM;
    req->post = MHD_create_post_processor(connection, POST_BUFFER_BYTES, on_form_data, req);
    if (!req->post) {
        reject(req, MHD_HTTP_BAD_REQUEST, "cannot read a '%s' body: multipart/form-data "
               "needs a boundary parameter of at least 2 characters", type);
        return false;
    }
    return true;
}

static bool feed_raw(http_request *req, const char *data, size_t size)
{
    if (req->body_size + size > req->server->max_body_bytes) {
        reject(req, MHD_HTTP_CONTENT_TOO_LARGE, "request body is larger than the limit of %zu "
               "bytes; send less or raise the server's body limit",
               req->server->max_body_bytes);
        return false;
    }
    if (req->body_size + size + 1 > req->body_capacity) {
        size_t capacity = req->body_capacity ? req->body_capacity : 1024;
        while (capacity < req->body_size + size + 1)
            capacity *= 2;
        uint8_t *body = realloc(req->body, capacity);
        if (!body) {
            reject(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory reading the body");
            return false;
        }
        req->body = body;
        req->body_capacity = capacity;
    }
    memcpy(req->body + req->body_size, data, size);
    req->body_size += size;
    req->body[req->body_size] = '\0';
    return true;
}

bool http_body_feed(http_request *req, const char *data, size_t size)
{
    req->received += size;
    if (req->reject_status) {
        /* Refused already. libmicrohttpd cannot answer before the body is over, so the
         * rest is read and dropped, and the error goes out at the end; a client that
         * keeps sending far past the limit is cut off instead. */
        req->discarded += size;
        return req->discarded <= DISCARD_LIMIT;
    }
    if (req->body_kind == HTTP_BODY_RAW) {
        feed_raw(req, data, size);
        return true;
    }
    if (req->received > form_limit(req->server)) {
        reject(req, MHD_HTTP_CONTENT_TOO_LARGE, "the form is larger than the limit of %llu "
               "bytes", (unsigned long long)form_limit(req->server));
        return true;
    }
    if (MHD_post_process(req->post, data, size) != MHD_YES && !req->reject_status)
        reject(req, MHD_HTTP_BAD_REQUEST, "the %s body is malformed",
               MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND,
                                           MHD_HTTP_HEADER_CONTENT_TYPE));
    return true;
}

void http_body_finish(http_request *req)
{
    if (req->body_kind != HTTP_BODY_FORM || !req->post)
        return;
    bool complete = MHD_destroy_post_processor(req->post) == MHD_YES;
    req->post = NULL;
    finish_part(req);
    for (size_t i = 0; i < req->upload_count; i++)
        close_spool(&req->uploads[i]);
    if (!complete && !req->reject_status)
        reject(req, MHD_HTTP_BAD_REQUEST, "the form body ended before its final boundary; "
               "send the whole multipart/form-data body");
}

void http_body_cleanup(http_request *req)
{
    if (req->post) {
        MHD_destroy_post_processor(req->post);
        req->post = NULL;
    }
    for (size_t i = 0; i < req->upload_count; i++) {
        http_upload_entry *entry = &req->uploads[i];
        close_spool(entry);
        /* A file the handler renamed away is gone (or, in theory, replaced by another
         * request's spool file of the same random name): only our own inode goes. */
        struct stat st;
        if (entry->upload.path && lstat(entry->upload.path, &st) == 0 &&
            st.st_dev == entry->dev && st.st_ino == entry->ino)
            unlink(entry->upload.path);
    }
    req->upload_count = 0;
    free(req->part.field);
    req->part.field = NULL;
    req->part.active = false;
}
