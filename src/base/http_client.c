/*
 * http_client.c — outgoing HTTP on libcurl.
 *
 * Every thread keeps one easy handle (reset between calls, which keeps its connection
 * cache), so calls to the same peer reuse a kept-alive connection without any lock.
 * Only http and https are allowed (URLs come from deployment manifests: file:// or
 * gopher:// must not be reachable through them), proxies from the environment are
 * ignored, redirects are never followed, every call has a timeout, and bodies held in
 * memory are bounded.
 */
#include "base/http_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_MS 30000L
#define MAX_CONNECT_MS 10000L
#define MAX_MEMORY_BODY ((size_t)64 << 20)   /* answers held in memory; files use http_download */
#define MAX_ERROR_BODY ((size_t)64 << 10)

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static pthread_key_t handle_key;
static CURLcode global_status = CURLE_OK;

static void free_handle(void *handle)
{
    curl_easy_cleanup(handle);
}

static void global_init(void)
{
    global_status = curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_key_create(&handle_key, free_handle);
}

static CURL *thread_handle(http_result *out)
{
    pthread_once(&global_once, global_init);
    if (global_status != CURLE_OK) {
        snprintf(out->error, sizeof out->error, "libcurl failed to initialise: %s",
                 curl_easy_strerror(global_status));
        return NULL;
    }
    CURL *handle = pthread_getspecific(handle_key);
    if (handle) {
        curl_easy_reset(handle);
        return handle;
    }
    handle = curl_easy_init();
    if (!handle) {
        snprintf(out->error, sizeof out->error, "libcurl could not create a handle");
        return NULL;
    }
    pthread_setspecific(handle_key, handle);
    return handle;
}

void http_result_free(http_result *result)
{
    if (!result)
        return;
    free(result->body);
    free(result->content_type);
    free(result->location);
    result->body = result->content_type = result->location = NULL;
    result->size = 0;
}

json_t *http_result_json(const http_result *result)
{
    if (!result || !result->body)
        return NULL;
    return json_loadb(result->body, result->size, JSON_DECODE_ANY, NULL);
}

char *http_url_encode(const char *s)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t n = s ? strlen(s) : 0;
    char *out = malloc(3 * n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = digits[c >> 4];
            out[o++] = digits[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}

/* ---- where the body goes */

typedef struct sink {
    CURL *handle;
    char *data;
    size_t size, capacity;
    size_t limit;
    bool too_large;
    /* download mode */
    int fd;
    uint64_t file_bytes;
    uint64_t max_file_bytes;
    EVP_MD_CTX *digest;
    bool to_file;        /* decided at the first byte: only a 2xx body goes to the file */
    bool decided;
    int write_errno;
} sink;

static bool sink_append(sink *s, const char *data, size_t size)
{
    if (s->size + size > s->limit) {
        s->too_large = true;
        return false;
    }
    if (s->size + size + 1 > s->capacity) {
        size_t capacity = s->capacity ? s->capacity : 1024;
        while (capacity < s->size + size + 1)
            capacity *= 2;
        char *grown = realloc(s->data, capacity);
        if (!grown)
            return false;
        s->data = grown;
        s->capacity = capacity;
    }
    memcpy(s->data + s->size, data, size);
    s->size += size;
    s->data[s->size] = '\0';
    return true;
}

static bool sink_write_file(sink *s, const char *data, size_t size)
{
    if (s->max_file_bytes && s->file_bytes + size > s->max_file_bytes) {
        s->too_large = true;
        return false;
    }
    EVP_DigestUpdate(s->digest, data, size);
    while (size > 0) {
        ssize_t n = write(s->fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            s->write_errno = errno;
            return false;
        }
        data += n;
        size -= (size_t)n;
        s->file_bytes += (uint64_t)n;
    }
    return true;
}

static size_t on_body(char *data, size_t one, size_t count, void *user)
{
    sink *s = user;
    size_t size = one * count;
    if (s->fd >= 0 && !s->decided) {
        long status = 0;
        curl_easy_getinfo(s->handle, CURLINFO_RESPONSE_CODE, &status);
        s->to_file = status >= 200 && status < 300;
        s->decided = true;
    }
    bool ok = s->to_file ? sink_write_file(s, data, size) : sink_append(s, data, size);
    return ok ? size : 0;
}

/* ---- one exchange */

static void setup_common(CURL *handle, const char *url, long timeout_ms, sink *body,
                         char *curl_error)
{
    if (timeout_ms <= 0)
        timeout_ms = DEFAULT_TIMEOUT_MS;
    curl_easy_setopt(handle, CURLOPT_URL, url);
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout_ms < MAX_CONNECT_MS ? timeout_ms : MAX_CONNECT_MS);
    curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
    /* Devices talk to each other directly; an http_proxy variable in the environment
     * must not route device traffic elsewhere. */
    curl_easy_setopt(handle, CURLOPT_PROXY, "");
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, curl_error);
    curl_easy_setopt(handle, CURLOPT_USERAGENT, "liquid/0.1");
}

static void describe_failure(CURLcode code, const char *url, long timeout_ms, const sink *body,
                             const char *curl_error, http_result *out)
{
    const char *detail = curl_error[0] ? curl_error : curl_easy_strerror(code);
    if (timeout_ms <= 0)
        timeout_ms = DEFAULT_TIMEOUT_MS;
    if (body->too_large || code == CURLE_FILESIZE_EXCEEDED) {
        unsigned long long limit = body->to_file || (!body->decided && body->fd >= 0)
                                       ? (unsigned long long)body->max_file_bytes
                                       : (unsigned long long)body->limit;
        snprintf(out->error, sizeof out->error, "the answer from %.120s is larger than the "
                 "limit of %llu bytes", url, limit);
    } else if (body->write_errno) {
        snprintf(out->error, sizeof out->error, "cannot write the download from %.120s: %s",
                 url, strerror(body->write_errno));
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
        snprintf(out->error, sizeof out->error, "no answer from %.120s within %ld ms", url,
                 timeout_ms);
    } else if (code == CURLE_COULDNT_CONNECT) {
        snprintf(out->error, sizeof out->error, "cannot connect to %.120s: %s", url, detail);
    } else if (code == CURLE_UNSUPPORTED_PROTOCOL || code == CURLE_URL_MALFORMAT) {
        snprintf(out->error, sizeof out->error, "cannot fetch '%.120s': only http:// and "
                 "https:// URLs are supported (%s)", url, detail);
    } else {
        snprintf(out->error, sizeof out->error, "request to %.120s failed: %s", url, detail);
    }
}

/* Runs the exchange set up on handle and fills out; the body stays with sink. */
static bool perform(CURL *handle, const char *url, long timeout_ms, sink *body,
                    const char *curl_error, http_result *out)
{
    CURLcode code = curl_easy_perform(handle);
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_getinfo(handle, CURLINFO_TOTAL_TIME, &out->seconds);
    if (code != CURLE_OK) {
        describe_failure(code, url, timeout_ms, body, curl_error, out);
        out->status = body->too_large ? out->status : 0;
        return false;
    }
    char *type = NULL;
    if (curl_easy_getinfo(handle, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type)
        out->content_type = strdup(type);
    char *location = NULL;
    if (curl_easy_getinfo(handle, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location)
        out->location = strdup(location);
    return true;
}

static void result_reset(http_result *out)
{
    memset(out, 0, sizeof *out);
}

static void take_body(sink *body, http_result *out)
{
    if (body->to_file) {
        free(body->data);
        return;
    }
    out->body = body->data ? body->data : strdup("");
    out->size = body->size;
}

static struct curl_slist *build_headers(const http_header *headers, size_t count,
                                        const char *content_type)
{
    struct curl_slist *list = NULL;
    char line[1024];
    for (size_t i = 0; i < count; i++) {
        snprintf(line, sizeof line, "%s: %s", headers[i].name, headers[i].value);
        struct curl_slist *next = curl_slist_append(list, line);
        if (!next)
            break;
        list = next;
    }
    if (content_type) {
        snprintf(line, sizeof line, "Content-Type: %s", content_type);
        struct curl_slist *next = curl_slist_append(list, line);
        if (next)
            list = next;
    }
    return list;
}

bool http_request_send(const char *method, const char *url, const http_header *headers,
                       size_t header_count, const void *body, size_t body_size,
                       const char *content_type, long timeout_ms, http_result *out)
{
    result_reset(out);
    CURL *handle = thread_handle(out);
    if (!handle)
        return false;
    char curl_error[CURL_ERROR_SIZE] = "";
    sink received = {.handle = handle, .limit = MAX_MEMORY_BODY, .fd = -1};
    setup_common(handle, url, timeout_ms, &received, curl_error);
    if (!method || !strcmp(method, "GET")) {
        curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L);
    } else if (!strcmp(method, "HEAD")) {
        curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, method);
        if (body || !strcmp(method, "POST") || !strcmp(method, "PUT")) {
            curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_size);
            curl_easy_setopt(handle, CURLOPT_POSTFIELDS, body ? body : "");
        }
    }
    struct curl_slist *list = build_headers(headers, header_count, content_type);
    if (list)
        curl_easy_setopt(handle, CURLOPT_HTTPHEADER, list);
    bool ok = perform(handle, url, timeout_ms, &received, curl_error, out);
    curl_slist_free_all(list);
    if (ok)
        take_body(&received, out);
    else
        free(received.data);
    return ok;
}

bool http_get(const char *url, long timeout_ms, http_result *out)
{
    return http_request_send("GET", url, NULL, 0, NULL, 0, NULL, timeout_ms, out);
}

bool http_post_json(const char *url, const json_t *body, long timeout_ms, http_result *out)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text) {
        result_reset(out);
        snprintf(out->error, sizeof out->error, "cannot encode the JSON body for %.120s", url);
        return false;
    }
    bool ok = http_request_send("POST", url, NULL, 0, text, strlen(text), "application/json",
                                timeout_ms, out);
    free(text);
    return ok;
}

static bool add_part(curl_mime *mime, const http_part *part, http_result *out)
{
    curl_mimepart *p = curl_mime_addpart(mime);
    if (!p || !part->field)
        goto fail;
    curl_mime_name(p, part->field);
    if (part->path) {
        if (access(part->path, R_OK) != 0) {
            snprintf(out->error, sizeof out->error, "cannot read file '%.150s' for form "
                     "field '%.60s': %s", part->path, part->field, strerror(errno));
            return false;
        }
        if (curl_mime_filedata(p, part->path) != CURLE_OK)
            goto fail;
        curl_mime_filename(p, part->filename ? part->filename : part->field);
    } else if (part->data) {
        if (curl_mime_data(p, part->data, part->size) != CURLE_OK)
            goto fail;
        curl_mime_filename(p, part->filename ? part->filename : part->field);
    } else {
        if (curl_mime_data(p, part->value ? part->value : "", CURL_ZERO_TERMINATED) != CURLE_OK)
            goto fail;
        if (part->filename)
            curl_mime_filename(p, part->filename);
    }
    if (part->content_type)
        curl_mime_type(p, part->content_type);
    return true;
fail:
    snprintf(out->error, sizeof out->error, "cannot build form field '%.60s'",
             part->field ? part->field : "(unnamed)");
    return false;
}

bool http_post_multipart(const char *url, const http_part *parts, size_t part_count,
                         long timeout_ms, http_result *out)
{
    return http_post_multipart_with_headers(url, NULL, 0, parts, part_count, timeout_ms, out);
}

bool http_post_multipart_with_headers(const char *url, const http_header *headers,
                                      size_t header_count, const http_part *parts,
                                      size_t part_count, long timeout_ms, http_result *out)
{
    result_reset(out);
    CURL *handle = thread_handle(out);
    if (!handle)
        return false;
    curl_mime *mime = curl_mime_init(handle);
    if (!mime) {
        snprintf(out->error, sizeof out->error, "out of memory building a form");
        return false;
    }
    for (size_t i = 0; i < part_count; i++) {
        if (!add_part(mime, &parts[i], out)) {
            curl_mime_free(mime);
            return false;
        }
    }
    char curl_error[CURL_ERROR_SIZE] = "";
    sink received = {.handle = handle, .limit = MAX_MEMORY_BODY, .fd = -1};
    setup_common(handle, url, timeout_ms, &received, curl_error);
    curl_easy_setopt(handle, CURLOPT_MIMEPOST, mime);
    /* curl writes the multipart Content-Type (with its boundary) itself */
    struct curl_slist *list = build_headers(headers, header_count, NULL);
    if (list)
        curl_easy_setopt(handle, CURLOPT_HTTPHEADER, list);
    bool ok = perform(handle, url, timeout_ms, &received, curl_error, out);
    curl_slist_free_all(list);
    curl_mime_free(mime);
    if (ok)
        take_body(&received, out);
    else
        free(received.data);
    return ok;
}

static bool sync_and_rename(const char *from, const char *to, int fd, http_result *out)
{
    bool synced = fsync(fd) == 0;
    if (close(fd) != 0)
        synced = false;
    if (!synced) {
        snprintf(out->error, sizeof out->error, "cannot save download '%.150s': %s", from,
                 strerror(errno));
        return false;
    }
    if (rename(from, to) != 0) {
        snprintf(out->error, sizeof out->error, "cannot rename download to '%.150s': %s", to,
                 strerror(errno));
        return false;
    }
    return true;
}

bool http_download(const char *url, const char *path, uint64_t max_bytes, long timeout_ms,
                   uint8_t sha256[32], http_result *out)
{
    result_reset(out);
    CURL *handle = thread_handle(out);
    if (!handle)
        return false;
    size_t path_len = strlen(path);
    char *part_path = malloc(path_len + 6);
    EVP_MD_CTX *digest = EVP_MD_CTX_new();
    if (!part_path || !digest || !EVP_DigestInit_ex(digest, EVP_sha256(), NULL)) {
        free(part_path);
        EVP_MD_CTX_free(digest);
        snprintf(out->error, sizeof out->error, "out of memory starting a download");
        return false;
    }
    snprintf(part_path, path_len + 6, "%s.part", path);
    int fd = open(part_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(out->error, sizeof out->error, "cannot create '%.150s': %s", part_path,
                 strerror(errno));
        free(part_path);
        EVP_MD_CTX_free(digest);
        return false;
    }
    char curl_error[CURL_ERROR_SIZE] = "";
    sink received = {.handle = handle, .limit = MAX_ERROR_BODY, .fd = fd,
                     .max_file_bytes = max_bytes, .digest = digest};
    setup_common(handle, url, timeout_ms, &received, curl_error);
    curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L);
    if (max_bytes)
        curl_easy_setopt(handle, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_bytes);
    bool ok = perform(handle, url, timeout_ms, &received, curl_error, out);
    bool saved = false;
    if (ok && out->status >= 200 && out->status < 300) {
        /* An empty 2xx body never reached the write callback: still a (empty) file. */
        received.to_file = true;
        unsigned int digest_size = 0;
        EVP_DigestFinal_ex(digest, sha256, &digest_size);
        out->size = (size_t)received.file_bytes;
        saved = sync_and_rename(part_path, path, fd, out);
        fd = -1;
        ok = saved;
    }
    if (fd >= 0)
        close(fd);
    if (!saved)
        unlink(part_path);
    if (ok && !received.to_file)
        take_body(&received, out);
    else
        free(received.data);
    free(part_path);
    EVP_MD_CTX_free(digest);
    return ok;
}
