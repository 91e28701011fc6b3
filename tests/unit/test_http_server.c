/*
 * test_http_server.c — the HTTP server: routing and normalisation, captures, query
 * order, error bodies, bodies of every kind, concurrency, streams and shutdown.
 * Servers listen on 127.0.0.1 port 0; requests go through the project's HTTP client,
 * or a raw socket where a client library would tidy the request up.
 */
#define _GNU_SOURCE   /* pthread_timedjoin_np */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/http_client.h"
#include "base/http_server.h"
#include "base/log.h"

#include <pthread.h>
#include <stdatomic.h>

#include "test_http_util.h"

/* ---- handlers */

static void answer_echo(http_request *req, void *user)
{
    (void)user;
    json_t *params = json_object();
    const char *names[] = {"deployment", "module", "function", "name"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (http_request_param(req, names[i]))
            json_object_set_new(params, names[i], json_string(http_request_param(req, names[i])));
    json_t *query = json_array();
    const char *name, *value;
    for (size_t i = 0; http_request_query_at(req, i, &name, &value); i++)
        json_array_append_new(query, json_pack("[s,s]", name, value));
    const char *agent = http_request_header(req, "X-Test");
    http_respond_json(req, 200, json_pack("{s:s, s:s, s:o, s:o, s:s, s:s, s:s?, s:s}",
                                          "method", http_request_method(req),
                                          "path", http_request_path(req),
                                          "params", params, "query", query,
                                          "peer", http_request_peer_address(req),
                                          "base", http_request_base_url(req),
                                          "header", agent,
                                          "id", http_request_id(req)));
}

static void answer_json(http_request *req, void *user)
{
    (void)user;
    char err[256];
    json_t *body = http_request_json(req, err, sizeof err);
    if (!body) {
        http_respond_error(req, 400, "%s", err);
        return;
    }
    http_respond_json(req, 200, json_pack("{s:O}", "got", body));
}

static void answer_raw_size(http_request *req, void *user)
{
    (void)user;
    size_t size;
    http_request_body(req, &size);
    http_respond_json(req, 200, json_pack("{s:I}", "size", (json_int_t)size));
}

/* Paths of the uploads the last form request had, to check they were removed. */
static char seen_paths[8][512];
static size_t seen_count;

static void answer_form(http_request *req, void *user)
{
    (void)user;
    json_t *fields = json_array();
    const char *name, *value;
    for (size_t i = 0; http_request_field_at(req, i, &name, &value); i++)
        json_array_append_new(fields, json_pack("[s,s]", name, value));
    json_t *uploads = json_array();
    seen_count = 0;
    for (size_t i = 0; i < http_request_upload_count(req); i++) {
        const http_upload *up = http_request_upload_at(req, i);
        struct stat st;
        bool exists = stat(up->path, &st) == 0 && (uint64_t)st.st_size == up->size;
        /* The first bytes, to compare with what was sent. */
        char head[17] = "";
        FILE *f = fopen(up->path, "rb");
        if (f) {
            size_t n = fread(head, 1, 16, f);
            head[n] = '\0';
            fclose(f);
        }
        if (seen_count < 8)
            snprintf(seen_paths[seen_count++], sizeof seen_paths[0], "%s", up->path);
        json_array_append_new(uploads, json_pack("{s:s, s:s?, s:s?, s:I, s:b, s:s}",
                                                 "field", up->field, "filename", up->filename,
                                                 "type", up->content_type,
                                                 "size", (json_int_t)up->size, "exists", exists,
                                                 "head", head));
    }
    const http_upload *mount = http_request_upload(req, "image.jpeg");
    http_respond_json(req, 200, json_pack("{s:o, s:o, s:b, s:s?}", "fields", fields,
                                          "uploads", uploads, "found", mount != NULL,
                                          "field_a", http_request_field(req, "a")));
}

/* A gate the slow handler waits behind, opened by the test. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static int slow_waiting;

static void gate_reset(void)
{
    pthread_mutex_lock(&gate_lock);
    gate_open = false;
    slow_waiting = 0;
    pthread_mutex_unlock(&gate_lock);
}

static void gate_release(void)
{
    pthread_mutex_lock(&gate_lock);
    gate_open = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

static bool wait_for_slow(int count, long timeout_ms)
{
    double deadline = test_now() + timeout_ms / 1000.0;
    for (;;) {
        pthread_mutex_lock(&gate_lock);
        int waiting = slow_waiting;
        pthread_mutex_unlock(&gate_lock);
        if (waiting >= count)
            return true;
        if (test_now() > deadline)
            return false;
        test_sleep_ms(5);
    }
}

static void answer_slow(http_request *req, void *user)
{
    (void)user;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&gate_lock);
    slow_waiting++;
    while (!gate_open)
        if (pthread_cond_timedwait(&gate_cond, &gate_lock, &until) != 0)
            break;
    bool opened = gate_open;
    pthread_mutex_unlock(&gate_lock);
    http_respond_text(req, opened ? 200 : 504, "text/plain", opened ? "slow" : "gate timeout");
}

static void answer_fast(http_request *req, void *user)
{
    (void)user;
    http_respond_text(req, 200, "text/plain", "fast");
}

static void answer_nothing(http_request *req, void *user)
{
    (void)req;
    (void)user;
}

static char served_file[512];

static void answer_file(http_request *req, void *user)
{
    (void)user;
    const char *name = http_request_param(req, "name");
    if (name && !strcmp(name, "missing"))
        http_respond_file(req, 200, "text/plain", "/nonexistent/liquid/file");
    else
        http_respond_file(req, 200, "application/octet-stream", served_file);
}

static void answer_redirect(http_request *req, void *user)
{
    (void)user;
    http_respond_redirect(req, 307, "http://127.0.0.1:9/elsewhere");
}

/* An event stream: one event every 5 ms, forever, or `limit` events then the end. */
typedef struct ticker {
    int sent;
    int limit;
    double last;
    atomic_bool done;
} ticker;

static ticker the_ticker;

static long ticker_next(void *state, char *buf, size_t max)
{
    ticker *t = state;
    if (t->limit && t->sent == t->limit)
        return -1;
    if (test_now() - t->last < 0.005)
        return 0;
    t->last = test_now();
    int n = snprintf(buf, max, "data: %d\n\n", t->sent++);
    return n;
}

static void ticker_done(void *state)
{
    ticker *t = state;
    atomic_store(&t->done, true);
}

static void answer_stream(http_request *req, void *user)
{
    (void)user;
    const char *limit = http_request_query(req, "limit");
    the_ticker.sent = 0;
    the_ticker.limit = limit ? atoi(limit) : 0;
    the_ticker.last = 0;
    atomic_store(&the_ticker.done, false);
    http_respond_stream(req, 200, "text/event-stream", ticker_next, ticker_done, &the_ticker);
}

static const http_route routes[] = {
    {"GET", "/deploy", answer_echo},
    {"DELETE", "/deploy/{deployment}", answer_echo},
    {"POST", "/json", answer_json},
    {"PUT", "/raw", answer_raw_size},
    {"POST", "/raw", answer_raw_size},
    {"POST", "/form", answer_form},
    {"GET", "/slow", answer_slow},
    {"GET", "/fast", answer_fast},
    {"GET", "/nothing", answer_nothing},
    {"GET", "/files/{name}", answer_file},
    {"GET", "/moved", answer_redirect},
    {"GET", "/events", answer_stream},
    {"*", "/{deployment}/modules/{module}/{function}", answer_echo},
};

/* ---- fixture */

typedef struct fixture {
    http_server *server;
    unsigned port;
    char *upload_dir;
    char base[64];
} fixture;

static int start_server(void **state, size_t max_body, unsigned threads)
{
    fixture *f = calloc(1, sizeof *f);
    f->upload_dir = test_make_temp_dir();
    assert_non_null(f->upload_dir);
    http_server_options options = {
        .bind_address = "127.0.0.1",
        .max_body_bytes = max_body,
        .upload_dir = f->upload_dir,
        .threads = threads,
    };
    char err[256];
    f->server = http_server_start(&options, routes, sizeof routes / sizeof routes[0], NULL, err,
                                  sizeof err);
    if (!f->server)
        fail_msg("server did not start: %s", err);
    f->port = http_server_port(f->server);
    assert_true(f->port > 0);
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%u", f->port);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return start_server(state, 1 << 20, 2);
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->server)
        http_server_stop(f->server);
    test_remove_dir(f->upload_dir);
    free(f->upload_dir);
    free(f);
    return 0;
}

static json_t *get_json(fixture *f, const char *path, long *status)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", f->base, path);
    http_result r;
    assert_true(http_get(url, 5000, &r));
    *status = r.status;
    json_t *body = http_result_json(&r);
    http_result_free(&r);
    assert_non_null(body);
    return body;
}

static const char *body_of(const char *response)
{
    const char *p = strstr(response, "\r\n\r\n");
    return p ? p + 4 : "";
}

/* ---- tests */

static void test_repeated_slashes_reach_the_route(void **state)
{
    fixture *f = *state;
    char request[] = "GET //deploy HTTP/1.1\r\nHost: device.local:5000\r\nConnection: close\r\n\r\n";
    char response[4096];
    test_raw_exchange(f->port, request, response, sizeof response);
    assert_non_null(strstr(response, "HTTP/1.1 200"));
    json_t *body = json_loads(body_of(response), 0, NULL);
    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(body, "path")), "/deploy");
    /* The base URL is what the client used to reach us. */
    assert_string_equal(json_string_value(json_object_get(body, "base")),
                        "http://device.local:5000");
    json_decref(body);

    const char *variants[] = {"/deploy/", "///deploy//", "/x/../deploy", "/./deploy"};
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        char raw[256];
        snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
                 variants[i]);
        test_raw_exchange(f->port, raw, response, sizeof response);
        if (!strstr(response, "HTTP/1.1 200"))
            fail_msg("%s did not reach /deploy: %.80s", variants[i], response);
    }
}

static void test_captures_are_decoded_after_splitting(void **state)
{
    fixture *f = *state;
    long status;
    json_t *body = get_json(f, "/dep%201/modules/my%2Fmod/fn?x=1", &status);
    assert_int_equal(status, 200);
    json_t *params = json_object_get(body, "params");
    assert_string_equal(json_string_value(json_object_get(params, "deployment")), "dep 1");
    assert_string_equal(json_string_value(json_object_get(params, "module")), "my/mod");
    assert_string_equal(json_string_value(json_object_get(params, "function")), "fn");
    json_decref(body);

    /* An encoded NUL would cut a C string short: refused. */
    body = get_json(f, "/dep/modules/a%00b/fn", &status);
    assert_int_equal(status, 400);
    json_decref(body);
}

static void test_query_arguments_keep_url_order(void **state)
{
    fixture *f = *state;
    long status;
    json_t *body = get_json(f, "/d/modules/m/f?param1=2&param0=1&text=a+b%2Bc&empty=&flag", &status);
    assert_int_equal(status, 200);
    json_t *query = json_object_get(body, "query");
    assert_int_equal(json_array_size(query), 5);
    const char *expect[5][2] = {{"param1", "2"}, {"param0", "1"}, {"text", "a b+c"},
                                {"empty", ""}, {"flag", ""}};
    for (size_t i = 0; i < 5; i++) {
        json_t *pair = json_array_get(query, i);
        assert_string_equal(json_string_value(json_array_get(pair, 0)), expect[i][0]);
        assert_string_equal(json_string_value(json_array_get(pair, 1)), expect[i][1]);
    }
    assert_string_equal(json_string_value(json_object_get(body, "peer")), "127.0.0.1");
    json_decref(body);
}

static void test_unknown_route_and_wrong_method_have_error_bodies(void **state)
{
    fixture *f = *state;
    long status;
    json_t *body = get_json(f, "/no/such/route", &status);
    assert_int_equal(status, 404);
    assert_non_null(strstr(json_string_value(json_object_get(body, "errorText")), "/no/such/route"));
    assert_string_equal(json_string_value(json_object_get(body, "error")),
                        json_string_value(json_object_get(body, "errorText")));
    json_decref(body);

    char response[4096];
    test_raw_exchange(f->port, "POST /deploy HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n"
                      "Connection: close\r\n\r\n", response, sizeof response);
    assert_non_null(strstr(response, "HTTP/1.1 405"));
    assert_non_null(strstr(response, "Allow: GET"));
    assert_non_null(strstr(response, "Access-Control-Allow-Origin: *"));
    body = json_loads(body_of(response), 0, NULL);
    assert_non_null(body);
    assert_non_null(strstr(json_string_value(json_object_get(body, "errorText")), "POST"));
    json_decref(body);
}

static void test_cors_preflight_and_header(void **state)
{
    fixture *f = *state;
    char response[4096];
    test_raw_exchange(f->port, "OPTIONS /json HTTP/1.1\r\nHost: h\r\nOrigin: http://ui\r\n"
                      "Access-Control-Request-Method: POST\r\n"
                      "Access-Control-Request-Headers: content-type\r\nConnection: close\r\n\r\n",
                      response, sizeof response);
    assert_non_null(strstr(response, "HTTP/1.1 204"));
    assert_non_null(strstr(response, "Access-Control-Allow-Origin: *"));
    assert_non_null(strstr(response, "Access-Control-Allow-Headers: content-type"));
    test_raw_exchange(f->port, "GET /fast HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
                      response, sizeof response);
    assert_non_null(strstr(response, "Access-Control-Allow-Origin: *"));
    assert_non_null(strstr(response, "X-Request-Id: "));
}

static void test_json_bodies_and_parse_errors(void **state)
{
    fixture *f = *state;
    char url[128];
    snprintf(url, sizeof url, "%s/json", f->base);
    http_result r;
    json_t *doc = json_pack("{s:s, s:[i,i]}", "deploymentId", "abc", "n", 1, 2);
    assert_true(http_post_json(url, doc, 5000, &r));
    json_decref(doc);
    assert_int_equal(r.status, 200);
    json_t *body = http_result_json(&r);
    assert_string_equal(json_string_value(json_object_get(json_object_get(body, "got"),
                                                          "deploymentId")), "abc");
    json_decref(body);
    http_result_free(&r);

    const char *broken = "{\"deploymentId\": ";
    assert_true(http_request_send("POST", url, NULL, 0, broken, strlen(broken),
                                  "application/json", 5000, &r));
    assert_int_equal(r.status, 400);
    body = http_result_json(&r);
    assert_non_null(strstr(json_string_value(json_object_get(body, "errorText")),
                           "not valid JSON"));
    json_decref(body);
    http_result_free(&r);

    assert_true(http_request_send("POST", url, NULL, 0, NULL, 0, "application/json", 5000, &r));
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "empty"));
    http_result_free(&r);
}

static void test_body_over_limit_is_413(void **state)
{
    fixture *f = *state;   /* limit: 1 MiB */
    char url[128];
    snprintf(url, sizeof url, "%s/raw", f->base);
    size_t size = (1 << 20) + 1;
    char *big = malloc(size);
    memset(big, 'x', size);
    http_result r;
    assert_true(http_request_send("PUT", url, NULL, 0, big, size, "application/octet-stream",
                                  5000, &r));
    assert_int_equal(r.status, 413);
    json_t *body = http_result_json(&r);
    assert_non_null(body);
    assert_non_null(strstr(json_string_value(json_object_get(body, "errorText")), "limit"));
    json_decref(body);
    http_result_free(&r);

    /* Without Content-Length (chunked), the limit is found while reading. */
    http_header chunked = {"Transfer-Encoding", "chunked"};
    assert_true(http_request_send("POST", url, &chunked, 1, big, size,
                                  "application/octet-stream", 5000, &r));
    assert_int_equal(r.status, 413);
    http_result_free(&r);

    /* Exactly at the limit is fine. */
    assert_true(http_request_send("PUT", url, NULL, 0, big, size - 1, "application/octet-stream",
                                  5000, &r));
    assert_int_equal(r.status, 200);
    body = http_result_json(&r);
    assert_int_equal(json_integer_value(json_object_get(body, "size")), size - 1);
    json_decref(body);
    http_result_free(&r);
    free(big);
}

static void test_urlencoded_fields(void **state)
{
    fixture *f = *state;
    char url[128];
    snprintf(url, sizeof url, "%s/form", f->base);
    const char *form = "a=1&logData=%7B%22message%22%3A+%22hi+there%22%7D&a=2";
    http_result r;
    assert_true(http_request_send("POST", url, NULL, 0, form, strlen(form),
                                  "application/x-www-form-urlencoded", 5000, &r));
    assert_int_equal(r.status, 200);
    json_t *body = http_result_json(&r);
    json_t *fields = json_object_get(body, "fields");
    assert_int_equal(json_array_size(fields), 3);
    assert_string_equal(json_string_value(json_array_get(json_array_get(fields, 1), 1)),
                        "{\"message\": \"hi there\"}");
    assert_string_equal(json_string_value(json_object_get(body, "field_a")), "1");
    json_decref(body);
    http_result_free(&r);
}

static void test_multipart_fields_and_files(void **state)
{
    fixture *f = *state;
    char url[128];
    snprintf(url, sizeof url, "%s/form", f->base);
    /* A file on disk (200 KiB), bytes from memory, and text fields. */
    char big_path[600];
    snprintf(big_path, sizeof big_path, "%s/../liquid-test-big-%d.bin", f->upload_dir, getpid());
    FILE *out = fopen(big_path, "wb");
    assert_non_null(out);
    for (int i = 0; i < 200 * 1024; i++)
        fputc("BIGFILE-"[i % 8], out);
    fclose(out);
    http_part parts[] = {
        {.field = "a", .value = "first"},
        {.field = "image.jpeg", .path = big_path, .content_type = "image/jpeg"},
        {.field = "small", .data = "tiny bytes", .size = 10, .filename = "small.bin"},
        {.field = "b", .value = ""},
    };
    http_result r;
    assert_true(http_post_multipart(url, parts, 4, 5000, &r));
    unlink(big_path);
    assert_int_equal(r.status, 200);
    json_t *body = http_result_json(&r);
    assert_non_null(body);
    json_t *fields = json_object_get(body, "fields");
    assert_int_equal(json_array_size(fields), 2);
    assert_string_equal(json_string_value(json_object_get(body, "field_a")), "first");
    assert_string_equal(json_string_value(json_array_get(json_array_get(fields, 1), 0)), "b");
    assert_string_equal(json_string_value(json_array_get(json_array_get(fields, 1), 1)), "");
    json_t *uploads = json_object_get(body, "uploads");
    assert_int_equal(json_array_size(uploads), 2);
    json_t *image = json_array_get(uploads, 0);
    assert_string_equal(json_string_value(json_object_get(image, "field")), "image.jpeg");
    assert_string_equal(json_string_value(json_object_get(image, "filename")), "image.jpeg");
    assert_string_equal(json_string_value(json_object_get(image, "type")), "image/jpeg");
    assert_int_equal(json_integer_value(json_object_get(image, "size")), 200 * 1024);
    assert_true(json_is_true(json_object_get(image, "exists")));
    assert_string_equal(json_string_value(json_object_get(image, "head")), "BIGFILE-BIGFILE-");
    json_t *small = json_array_get(uploads, 1);
    assert_string_equal(json_string_value(json_object_get(small, "filename")), "small.bin");
    assert_string_equal(json_string_value(json_object_get(small, "head")), "tiny bytes");
    assert_true(json_is_true(json_object_get(body, "found")));
    json_decref(body);
    http_result_free(&r);
    /* The spooled files are gone once the handler has answered. */
    assert_int_equal(seen_count, 2);
    for (size_t i = 0; i < seen_count; i++)
        assert_int_not_equal(access(seen_paths[i], F_OK), 0);
    assert_int_equal(test_count_entries(f->upload_dir), 0);
}

static void test_big_text_part_is_spooled(void **state)
{
    fixture *f = *state;
    char url[128];
    snprintf(url, sizeof url, "%s/form", f->base);
    size_t size = 300 * 1024;
    char *text = malloc(size + 1);
    memset(text, 't', size);
    text[size] = '\0';
    http_part parts[] = {{.field = "a", .value = text}};
    http_result r;
    assert_true(http_post_multipart(url, parts, 1, 5000, &r));
    free(text);
    assert_int_equal(r.status, 200);
    json_t *body = http_result_json(&r);
    assert_int_equal(json_array_size(json_object_get(body, "fields")), 0);
    json_t *up = json_array_get(json_object_get(body, "uploads"), 0);
    assert_non_null(up);
    assert_int_equal(json_integer_value(json_object_get(up, "size")), size);
    assert_true(json_is_null(json_object_get(up, "filename")) ||
                !json_object_get(up, "filename"));
    json_decref(body);
    http_result_free(&r);
    assert_int_equal(test_count_entries(f->upload_dir), 0);
}

static void test_multipart_part_over_limit_is_refused(void **state)
{
    fixture *f = *state;   /* limit: 1 MiB per part */
    char url[128];
    snprintf(url, sizeof url, "%s/form", f->base);
    size_t size = (1 << 20) + 100;
    char *big = malloc(size);
    memset(big, 'z', size);
    http_part parts[] = {{.field = "a", .value = "x"},
                         {.field = "module", .data = big, .size = size, .filename = "m.wasm"}};
    http_result r;
    bool answered = http_post_multipart(url, parts, 2, 5000, &r);
    free(big);
    assert_true(answered);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body, "module"));
    http_result_free(&r);
    assert_int_equal(test_wait_entries(f->upload_dir, 0, 2000), 0);
}

static void test_malformed_multipart_is_400(void **state)
{
    fixture *f = *state;
    char response[4096];
    const char *body = "--XYZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue";
    char request[512];
    snprintf(request, sizeof request,
             "POST /form HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
             "Content-Type: multipart/form-data; boundary=XYZ\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    test_raw_exchange(f->port, request, response, sizeof response);
    assert_non_null(strstr(response, "HTTP/1.1 400"));
    assert_non_null(strstr(response, "errorText"));

    snprintf(request, sizeof request,
             "POST /form HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
             "Content-Type: multipart/form-data\r\nContent-Length: 3\r\n\r\nabc");
    test_raw_exchange(f->port, request, response, sizeof response);
    assert_non_null(strstr(response, "HTTP/1.1 400"));
    assert_non_null(strstr(response, "boundary"));
}

static void test_client_leaving_mid_upload_leaves_no_files(void **state)
{
    fixture *f = *state;
    int fd = test_connect(f->port);
    assert_true(fd >= 0);
    const char *head =
        "POST /form HTTP/1.1\r\nHost: h\r\nContent-Type: multipart/form-data; boundary=XYZW\r\n"
        "Content-Length: 900000\r\n\r\n"
        "--XYZW\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f.bin\"\r\n\r\n";
    assert_true(test_send_all(fd, head, strlen(head)));
    char chunk[32 * 1024];
    memset(chunk, 'q', sizeof chunk);
    for (int i = 0; i < 4; i++)
        assert_true(test_send_all(fd, chunk, sizeof chunk));
    /* The spool file exists while the upload is going on... */
    assert_int_equal(test_wait_entries(f->upload_dir, 1, 2000), 1);
    close(fd);
    /* ...and is removed when the client goes away. */
    assert_int_equal(test_wait_entries(f->upload_dir, 0, 3000), 0);
}

typedef struct call {
    char url[256];
    long timeout_ms;
    http_result result;
    bool ok;
    double seconds;
} call;

static void *call_thread(void *arg)
{
    call *c = arg;
    double start = test_now();
    c->ok = http_get(c->url, c->timeout_ms, &c->result);
    c->seconds = test_now() - start;
    return NULL;
}

static void test_blocking_handlers_do_not_stop_fast_ones(void **state)
{
    fixture *f = *state;   /* 2 workers: the pool must grow past them */
    gate_reset();
    enum { SLOW = 6 };
    call slow[SLOW];
    pthread_t threads[SLOW];
    for (int i = 0; i < SLOW; i++) {
        memset(&slow[i], 0, sizeof slow[i]);
        snprintf(slow[i].url, sizeof slow[i].url, "%s/slow", f->base);
        slow[i].timeout_ms = 15000;
        pthread_create(&threads[i], NULL, call_thread, &slow[i]);
    }
    assert_true(wait_for_slow(SLOW, 5000));
    /* Every slow handler is blocked; a fast request still gets through. */
    call fast = {.timeout_ms = 3000};
    snprintf(fast.url, sizeof fast.url, "%s/fast", f->base);
    call_thread(&fast);
    assert_true(fast.ok);
    assert_int_equal(fast.result.status, 200);
    assert_string_equal(fast.result.body, "fast");
    http_result_free(&fast.result);
    gate_release();
    for (int i = 0; i < SLOW; i++) {
        pthread_join(threads[i], NULL);
        assert_true(slow[i].ok);
        assert_int_equal(slow[i].result.status, 200);
        http_result_free(&slow[i].result);
    }
}

static void test_handler_without_answer_gets_500(void **state)
{
    fixture *f = *state;
    long status;
    json_t *body = get_json(f, "/nothing", &status);
    assert_int_equal(status, 500);
    assert_non_null(json_object_get(body, "errorText"));
    json_decref(body);
}

static void test_file_and_redirect_answers(void **state)
{
    fixture *f = *state;
    snprintf(served_file, sizeof served_file, "%s/../liquid-test-served-%d", f->upload_dir,
             getpid());
    FILE *out = fopen(served_file, "wb");
    for (int i = 0; i < 100000; i++)
        fputc('a' + i % 26, out);
    fclose(out);
    char url[256];
    snprintf(url, sizeof url, "%s/files/x", f->base);
    http_result r;
    assert_true(http_get(url, 5000, &r));
    assert_int_equal(r.status, 200);
    assert_int_equal(r.size, 100000);
    assert_int_equal(r.body[99999], 'a' + 99999 % 26);
    http_result_free(&r);
    unlink(served_file);

    snprintf(url, sizeof url, "%s/files/missing", f->base);
    assert_true(http_get(url, 5000, &r));
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body, "errorText"));
    http_result_free(&r);

    snprintf(url, sizeof url, "%s/moved", f->base);
    assert_true(http_get(url, 5000, &r));
    assert_int_equal(r.status, 307);   /* not followed */
    assert_string_equal(r.location, "http://127.0.0.1:9/elsewhere");
    http_result_free(&r);
}

static void test_event_stream_delivers_and_ends_when_client_leaves(void **state)
{
    fixture *f = *state;
    int fd = test_connect(f->port);
    assert_true(fd >= 0);
    const char *request = "GET /events HTTP/1.1\r\nHost: h\r\n\r\n";
    assert_true(test_send_all(fd, request, strlen(request)));
    char buf[8192];
    test_recv_until(fd, buf, sizeof buf, 5000, "data: 3\n\n");
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    assert_non_null(strstr(buf, "text/event-stream"));
    assert_non_null(strstr(buf, "data: 0\n\n"));
    assert_non_null(strstr(buf, "data: 3\n\n"));
    assert_false(atomic_load(&the_ticker.done));
    close(fd);
    double deadline = test_now() + 5;
    while (!atomic_load(&the_ticker.done) && test_now() < deadline)
        test_sleep_ms(10);
    assert_true(atomic_load(&the_ticker.done));
}

static void test_event_stream_that_ends(void **state)
{
    fixture *f = *state;
    char url[128];
    snprintf(url, sizeof url, "%s/events?limit=3", f->base);
    http_result r;
    assert_true(http_get(url, 5000, &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "data: 0\n\ndata: 1\n\ndata: 2\n\n");
    http_result_free(&r);
    /* The server lets go of the stream right after its last bytes, maybe just after
     * the client has read them. */
    double deadline = test_now() + 5;
    while (!atomic_load(&the_ticker.done) && test_now() < deadline)
        test_sleep_ms(5);
    assert_true(atomic_load(&the_ticker.done));
}

static void *gate_release_later(void *arg)
{
    (void)arg;
    test_sleep_ms(200);
    gate_release();
    return NULL;
}

static void test_stop_with_requests_in_flight(void **state)
{
    fixture *f = *state;
    gate_reset();
    call slow = {.timeout_ms = 15000};
    snprintf(slow.url, sizeof slow.url, "%s/slow", f->base);
    pthread_t thread;
    pthread_create(&thread, NULL, call_thread, &slow);
    /* A stream is open too. */
    int stream_fd = test_connect(f->port);
    const char *request = "GET /events HTTP/1.1\r\nHost: h\r\n\r\n";
    test_send_all(stream_fd, request, strlen(request));
    char buf[4096];
    test_recv_until(stream_fd, buf, sizeof buf, 5000, "data: 1\n\n");
    assert_true(wait_for_slow(1, 5000));

    /* Open the gate a little after the stop has begun: the stop waits for it. */
    pthread_t opener;
    pthread_create(&opener, NULL, gate_release_later, NULL);
    http_server_stop(f->server);
    f->server = NULL;
    pthread_join(opener, NULL);
    pthread_join(thread, NULL);
    assert_true(slow.ok);
    assert_int_equal(slow.result.status, 200);
    assert_string_equal(slow.result.body, "slow");
    http_result_free(&slow.result);
    assert_true(atomic_load(&the_ticker.done));
    close(stream_fd);
    /* Nobody listens any more. */
    http_result r;
    char url[128];
    snprintf(url, sizeof url, "%s/fast", f->base);
    assert_false(http_get(url, 2000, &r));
}

static void *stop_server(void *arg)
{
    http_server_stop(arg);
    return NULL;
}

static void test_client_leaving_during_handler_does_not_hold_stop(void **state)
{
    fixture *f = *state;
    gate_reset();
    int fd = test_connect(f->port);
    const char *request = "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n";
    assert_true(test_send_all(fd, request, strlen(request)));
    assert_true(wait_for_slow(1, 5000));
    close(fd);   /* gone while its handler runs */
    test_sleep_ms(50);
    gate_release();
    /* The handler's answer has nowhere to go; the server must still stop promptly. */
    pthread_t stopper;
    pthread_create(&stopper, NULL, stop_server, f->server);
    f->server = NULL;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    if (pthread_timedjoin_np(stopper, NULL, &until) != 0)
        fail_msg("http_server_stop still waits for a request whose client left");
}

int main(void)
{
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_repeated_slashes_reach_the_route, setup, teardown),
        cmocka_unit_test_setup_teardown(test_captures_are_decoded_after_splitting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_arguments_keep_url_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_route_and_wrong_method_have_error_bodies,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_cors_preflight_and_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_bodies_and_parse_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_over_limit_is_413, setup, teardown),
        cmocka_unit_test_setup_teardown(test_urlencoded_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multipart_fields_and_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_text_part_is_spooled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multipart_part_over_limit_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_multipart_is_400, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_leaving_mid_upload_leaves_no_files, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_blocking_handlers_do_not_stop_fast_ones, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_handler_without_answer_gets_500, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_and_redirect_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_stream_delivers_and_ends_when_client_leaves,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_stream_that_ends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_with_requests_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_leaving_during_handler_does_not_hold_stop,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
