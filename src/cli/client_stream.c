/*
 * client_stream.c — following a server-sent-events stream (`liquid events --follow`).
 *
 * The shared HTTP client holds whole answers in memory, which a stream never ends;
 * this reads one with libcurl directly and parses it as it arrives: `id:`, `event:`
 * and `data:` lines, a blank line ending each event, `:` lines ignored (keep-alive
 * comments).
 */
#include "cli/client.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PENDING (4u << 20)   /* an event larger than this is a broken stream */

typedef struct sse_reader {
    CURL *handle;
    client_event_fn fn;
    void *user;
    bool stopped;               /* the callback asked to stop */
    bool too_large;
    long status;
    char *pending;              /* bytes not yet ending in a newline */
    size_t pending_len;
    char *id, *type, *data;     /* the event being assembled */
    char *error_body;           /* a non-2xx answer's text */
} sse_reader;

static char *append(char *to, const char *text, size_t len, const char *separator)
{
    size_t old = to ? strlen(to) : 0, sep = to && separator ? strlen(separator) : 0;
    char *grown = realloc(to, old + sep + len + 1);
    if (!grown)
        return to;
    if (sep)
        memcpy(grown + old, separator, sep);
    memcpy(grown + old + sep, text, len);
    grown[old + sep + len] = '\0';
    return grown;
}

static void reset_event(sse_reader *r)
{
    free(r->id);
    free(r->type);
    free(r->data);
    r->id = r->type = r->data = NULL;
}

static void handle_line(sse_reader *r, char *line, size_t len)
{
    if (len > 0 && line[len - 1] == '\r')
        line[--len] = '\0';
    if (len == 0) {
        if ((r->data || r->type) && !r->fn(r->id, r->type, r->data, r->user))
            r->stopped = true;
        reset_event(r);
        return;
    }
    if (line[0] == ':')
        return;
    char *colon = memchr(line, ':', len);
    size_t name_len = colon ? (size_t)(colon - line) : len;
    const char *value = colon ? colon + 1 : "";
    if (*value == ' ')
        value++;
    size_t value_len = strlen(value);
    if (name_len == 4 && !strncmp(line, "data", 4)) {
        r->data = append(r->data, value, value_len, "\n");
    } else if (name_len == 5 && !strncmp(line, "event", 5)) {
        free(r->type);
        r->type = strndup(value, value_len);
    } else if (name_len == 2 && !strncmp(line, "id", 2)) {
        free(r->id);
        r->id = strndup(value, value_len);
    }
}

static size_t on_bytes(char *bytes, size_t size, size_t count, void *user)
{
    sse_reader *r = user;
    size_t n = size * count;
    if (r->status == 0)
        curl_easy_getinfo(r->handle, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->status < 200 || r->status >= 300) {
        if (!r->error_body || strlen(r->error_body) < 4096)
            r->error_body = append(r->error_body, bytes, n, NULL);
        return n;
    }
    if (r->pending_len + n > MAX_PENDING) {
        r->too_large = true;
        return 0;
    }
    char *grown = realloc(r->pending, r->pending_len + n + 1);
    if (!grown)
        return 0;
    r->pending = grown;
    memcpy(r->pending + r->pending_len, bytes, n);
    r->pending_len += n;
    r->pending[r->pending_len] = '\0';
    size_t start = 0;
    for (size_t i = 0; i < r->pending_len && !r->stopped; i++) {
        if (r->pending[i] == '\n') {
            r->pending[i] = '\0';
            handle_line(r, r->pending + start, i - start);
            start = i + 1;
        }
    }
    memmove(r->pending, r->pending + start, r->pending_len - start);
    r->pending_len -= start;
    return r->stopped ? 0 : n;
}

bool client_stream_events(const client *c, const char *path, client_event_fn fn, void *user)
{
    char url[2048];
    snprintf(url, sizeof url, "%s%s", c->base_url, path);
    sse_reader r = {.fn = fn, .user = user};
    r.handle = curl_easy_init();
    if (!r.handle) {
        fprintf(stderr, "liquid: libcurl could not create a handle\n");
        return false;
    }
    struct curl_slist *headers = curl_slist_append(NULL, "Accept: text/event-stream");
    char curl_error[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(r.handle, CURLOPT_URL, url);
    curl_easy_setopt(r.handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r.handle, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(r.handle, CURLOPT_PROXY, "");
    curl_easy_setopt(r.handle, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(r.handle, CURLOPT_ERRORBUFFER, curl_error);
    curl_easy_setopt(r.handle, CURLOPT_WRITEFUNCTION, on_bytes);
    curl_easy_setopt(r.handle, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(r.handle, CURLOPT_USERAGENT, "liquid/0.1");
    CURLcode code = curl_easy_perform(r.handle);
    if (r.status == 0)
        curl_easy_getinfo(r.handle, CURLINFO_RESPONSE_CODE, &r.status);
    bool ok = false;
    if (r.stopped) {
        ok = true;
    } else if (r.too_large) {
        fprintf(stderr, "liquid: an event on %s is larger than %u bytes; the stream is "
                        "broken\n", path, MAX_PENDING);
    } else if (r.status == 0) {
        fprintf(stderr,
                "liquid: cannot reach the orchestrator at %s (%s).\n"
                "Is it running? Start one with `liquid orchestrator`, or point at another "
                "with --orchestrator URL or LIQUID_ORCHESTRATOR_URL.\n",
                c->base_url, curl_error[0] ? curl_error : curl_easy_strerror(code));
    } else if (r.status < 200 || r.status >= 300) {
        fprintf(stderr, "liquid: GET %s: the orchestrator answered %ld: %.400s\n", path,
                r.status, r.error_body ? r.error_body : "(no details)");
    } else if (code != CURLE_OK) {
        fprintf(stderr, "liquid: the event stream from %s broke off: %s\n", c->base_url,
                curl_error[0] ? curl_error : curl_easy_strerror(code));
    } else {
        ok = true;
    }
    reset_event(&r);
    free(r.pending);
    free(r.error_body);
    curl_slist_free_all(headers);
    curl_easy_cleanup(r.handle);
    return ok;
}
