/*
 * test_http_client.c — the HTTP client against a real server on loopback: requests
 * of every kind, multipart, downloads with their digest and size limit, and the
 * errors a caller must be able to tell apart (refused, timed out, too large).
 */
#define _GNU_SOURCE   /* memmem */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/http_client.h"
#include "base/http_server.h"
#include "base/log.h"

#include <openssl/evp.h>
#include <pthread.h>

#include "test_http_util.h"

#define BLOB_SIZE (1 << 20)
static unsigned char blob[BLOB_SIZE];

static void answer_echo(http_request *req, void *user)
{
    (void)user;
    size_t size;
    const uint8_t *body = http_request_body(req, &size);
    const char *type = http_request_header(req, "Content-Type");
    const char *custom = http_request_header(req, "X-Custom");
    http_respond_json(req, 200, json_pack("{s:s, s:s%, s:s?, s:s?}", "method",
                                          http_request_method(req), "body", (const char *)body,
                                          size, "type", type, "custom", custom));
}

static void answer_status(http_request *req, void *user)
{
    (void)user;
    int code = atoi(http_request_param(req, "code"));
    http_respond_error(req, code, "status %d as asked", code);
}

static void answer_form(http_request *req, void *user)
{
    (void)user;
    json_t *fields = json_object();
    const char *name, *value;
    for (size_t i = 0; http_request_field_at(req, i, &name, &value); i++)
        json_object_set_new(fields, name, json_string(value));
    json_t *files = json_object();
    for (size_t i = 0; i < http_request_upload_count(req); i++) {
        const http_upload *up = http_request_upload_at(req, i);
        char text[64] = "";
        FILE *f = fopen(up->path, "rb");
        size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
        text[n] = '\0';
        if (f)
            fclose(f);
        json_object_set_new(files, up->field,
                            json_pack("{s:s?, s:s?, s:I, s:s}", "filename", up->filename,
                                      "type", up->content_type, "size", (json_int_t)up->size,
                                      "head", text));
    }
    http_respond_json(req, 200, json_pack("{s:o, s:o}", "fields", fields, "files", files));
}

static void answer_blob(http_request *req, void *user)
{
    (void)user;
    http_respond_bytes(req, 200, "application/wasm", blob, BLOB_SIZE);
}

static void answer_abc(http_request *req, void *user)
{
    (void)user;
    http_respond_bytes(req, 200, "text/plain", "abc", 3);
}

/* The blob again, without a Content-Length (chunked): the limit must hold anyway. */
typedef struct chunks {
    size_t sent;
} chunks;

static long next_chunk(void *state, char *buf, size_t max)
{
    chunks *c = state;
    if (c->sent == BLOB_SIZE)
        return -1;
    size_t n = BLOB_SIZE - c->sent < max ? BLOB_SIZE - c->sent : max;
    memcpy(buf, blob + c->sent, n);
    c->sent += n;
    return (long)n;
}

static void free_chunks(void *state)
{
    free(state);
}

static void answer_chunked(http_request *req, void *user)
{
    (void)user;
    http_respond_stream(req, 200, "application/octet-stream", next_chunk, free_chunks,
                        calloc(1, sizeof(chunks)));
}

static void answer_sleepy(http_request *req, void *user)
{
    (void)user;
    test_sleep_ms(1500);
    http_respond_text(req, 200, NULL, "late");
}

static const http_route routes[] = {
    {"*", "/echo", answer_echo},
    {"GET", "/status/{code}", answer_status},
    {"POST", "/form", answer_form},
    {"GET", "/blob", answer_blob},
    {"GET", "/abc", answer_abc},
    {"GET", "/chunked", answer_chunked},
    {"GET", "/sleepy", answer_sleepy},
};

typedef struct fixture {
    http_server *server;
    char base[64];
    char *dir;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = test_make_temp_dir();
    http_server_options options = {.bind_address = "127.0.0.1", .upload_dir = f->dir};
    char err[256];
    f->server = http_server_start(&options, routes, sizeof routes / sizeof routes[0], NULL, err,
                                  sizeof err);
    if (!f->server)
        fail_msg("server: %s", err);
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%u", http_server_port(f->server));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    http_server_stop(f->server);
    test_remove_dir(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void url_of(const fixture *f, const char *path, char *out, size_t size)
{
    snprintf(out, size, "%s%s", f->base, path);
}

static void test_get_and_statuses(void **state)
{
    fixture *f = *state;
    char url[128];
    url_of(f, "/echo", url, sizeof url);
    http_result r;
    assert_true(http_get(url, 5000, &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "application/json");
    json_t *body = http_result_json(&r);
    assert_string_equal(json_string_value(json_object_get(body, "method")), "GET");
    json_decref(body);
    assert_true(r.seconds > 0);
    http_result_free(&r);

    /* An HTTP error is an answer: true, with the status and the body. */
    url_of(f, "/status/503", url, sizeof url);
    assert_true(http_get(url, 5000, &r));
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "status 503 as asked"));
    http_result_free(&r);
}

static void test_post_json_and_custom_requests(void **state)
{
    fixture *f = *state;
    char url[128];
    url_of(f, "/echo", url, sizeof url);
    json_t *doc = json_pack("{s:s}", "url", "http://orchestrator:3000");
    http_result r;
    assert_true(http_post_json(url, doc, 5000, &r));
    json_decref(doc);
    json_t *body = http_result_json(&r);
    assert_string_equal(json_string_value(json_object_get(body, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(body, "type")), "application/json");
    json_t *echoed = json_loads(json_string_value(json_object_get(body, "body")), 0, NULL);
    assert_string_equal(json_string_value(json_object_get(echoed, "url")),
                        "http://orchestrator:3000");
    json_decref(echoed);
    json_decref(body);
    http_result_free(&r);

    http_header headers[] = {{"X-Custom", "yes"}};
    assert_true(http_request_send("DELETE", url, headers, 1, NULL, 0, NULL, 5000, &r));
    body = http_result_json(&r);
    assert_string_equal(json_string_value(json_object_get(body, "method")), "DELETE");
    assert_string_equal(json_string_value(json_object_get(body, "custom")), "yes");
    json_decref(body);
    http_result_free(&r);
}

static void test_multipart_upload(void **state)
{
    fixture *f = *state;
    char path[600];
    snprintf(path, sizeof path, "%s/input.jpeg", f->dir);
    FILE *out = fopen(path, "wb");
    fputs("JPEGDATA", out);
    fclose(out);
    http_part parts[] = {
        {.field = "name", .value = "fibo"},
        {.field = "image.jpeg", .path = path, .content_type = "image/jpeg"},
        {.field = "module", .data = "\0asm", .size = 4, .filename = "fibo.wasm",
         .content_type = "application/wasm"},
    };
    char url[128];
    url_of(f, "/form", url, sizeof url);
    http_result r;
    assert_true(http_post_multipart(url, parts, 3, 5000, &r));
    assert_int_equal(r.status, 200);
    json_t *body = http_result_json(&r);
    assert_string_equal(json_string_value(json_object_get(json_object_get(body, "fields"),
                                                          "name")), "fibo");
    json_t *files = json_object_get(body, "files");
    json_t *image = json_object_get(files, "image.jpeg");
    /* A file part is named after its field unless told otherwise (Wasm-IoT mounts). */
    assert_string_equal(json_string_value(json_object_get(image, "filename")), "image.jpeg");
    assert_string_equal(json_string_value(json_object_get(image, "head")), "JPEGDATA");
    assert_string_equal(json_string_value(json_object_get(image, "type")), "image/jpeg");
    json_t *module = json_object_get(files, "module");
    assert_string_equal(json_string_value(json_object_get(module, "filename")), "fibo.wasm");
    assert_int_equal(json_integer_value(json_object_get(module, "size")), 4);
    json_decref(body);
    http_result_free(&r);

    /* A missing file is the caller's error, said before anything is sent. */
    http_part missing = {.field = "x", .path = "/nonexistent/file.bin"};
    assert_false(http_post_multipart(url, &missing, 1, 5000, &r));
    assert_non_null(strstr(r.error, "/nonexistent/file.bin"));
    http_result_free(&r);
}

static void sha256_of(const void *data, size_t size, uint8_t out[32])
{
    unsigned int n = 0;
    EVP_Digest(data, size, out, &n, EVP_sha256(), NULL);
}

static void test_download_writes_file_and_digest(void **state)
{
    fixture *f = *state;
    char url[128], path[600], part[700];
    url_of(f, "/blob", url, sizeof url);
    snprintf(path, sizeof path, "%s/module.wasm", f->dir);
    snprintf(part, sizeof part, "%s.part", path);
    uint8_t digest[32], expected[32];
    http_result r;
    assert_true(http_download(url, path, 0, 5000, digest, &r));
    assert_int_equal(r.status, 200);
    assert_null(r.body);
    assert_int_equal(r.size, BLOB_SIZE);
    sha256_of(blob, BLOB_SIZE, expected);
    assert_memory_equal(digest, expected, 32);
    http_result_free(&r);
    FILE *in = fopen(path, "rb");
    assert_non_null(in);
    unsigned char *copy = malloc(BLOB_SIZE + 1);
    assert_int_equal(fread(copy, 1, BLOB_SIZE + 1, in), BLOB_SIZE);
    fclose(in);
    assert_memory_equal(copy, blob, BLOB_SIZE);
    free(copy);
    assert_int_not_equal(access(part, F_OK), 0);

    /* The standard SHA-256 test vector, as a check on the digest itself. */
    url_of(f, "/abc", url, sizeof url);
    assert_true(http_download(url, path, 10, 5000, digest, &r));
    const uint8_t abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                             0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                             0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    assert_memory_equal(digest, abc, 32);
    http_result_free(&r);
}

static void test_download_refuses_more_than_max_bytes(void **state)
{
    fixture *f = *state;
    const char *sources[] = {"/blob", "/chunked"};   /* with and without Content-Length */
    for (size_t i = 0; i < 2; i++) {
        char url[128], path[600], part[700];
        url_of(f, sources[i], url, sizeof url);
        snprintf(path, sizeof path, "%s/too-big-%zu", f->dir, i);
        snprintf(part, sizeof part, "%s.part", path);
        uint8_t digest[32];
        http_result r;
        assert_false(http_download(url, path, 1000, 5000, digest, &r));
        if (!strstr(r.error, "larger than the limit of 1000 bytes"))
            fail_msg("%s: %s", sources[i], r.error);
        assert_int_not_equal(access(path, F_OK), 0);
        assert_int_not_equal(access(part, F_OK), 0);
        http_result_free(&r);
    }
    /* Exactly at the limit is fine. */
    char url[128], path[600];
    url_of(f, "/chunked", url, sizeof url);
    snprintf(path, sizeof path, "%s/exact", f->dir);
    uint8_t digest[32];
    http_result r;
    assert_true(http_download(url, path, BLOB_SIZE, 5000, digest, &r));
    assert_int_equal(r.size, BLOB_SIZE);
    http_result_free(&r);
}

static void test_download_of_an_error_keeps_no_file(void **state)
{
    fixture *f = *state;
    char url[128], path[600];
    url_of(f, "/status/404", url, sizeof url);
    snprintf(path, sizeof path, "%s/never", f->dir);
    uint8_t digest[32];
    http_result r;
    assert_true(http_download(url, path, 0, 5000, digest, &r));
    assert_int_equal(r.status, 404);
    assert_non_null(r.body);
    assert_non_null(strstr(r.body, "status 404 as asked"));
    assert_int_not_equal(access(path, F_OK), 0);
    http_result_free(&r);
}

static void test_refused_connection_and_timeout(void **state)
{
    fixture *f = *state;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/anything", test_unused_port());
    http_result r;
    assert_false(http_get(url, 5000, &r));
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.error, "cannot connect"));
    http_result_free(&r);

    url_of(f, "/sleepy", url, sizeof url);
    double start = test_now();
    assert_false(http_get(url, 200, &r));
    double took = test_now() - start;
    assert_non_null(strstr(r.error, "within 200 ms"));
    assert_true(took < 1.4);
    http_result_free(&r);

    /* Only http and https: a manifest URL cannot read local files. */
    assert_false(http_get("file:///etc/passwd", 1000, &r));
    assert_non_null(strstr(r.error, "http://"));
    assert_null(r.body);
    http_result_free(&r);
}

static void *parallel_get(void *arg)
{
    const char *url = arg;
    for (int i = 0; i < 50; i++) {
        http_result r;
        if (!http_get(url, 5000, &r) || r.status != 200)
            return (void *)1;
        http_result_free(&r);
    }
    return NULL;
}

static void test_threads_have_their_own_handles(void **state)
{
    fixture *f = *state;
    char url[128];
    url_of(f, "/echo", url, sizeof url);
    pthread_t threads[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&threads[i], NULL, parallel_get, url);
    for (int i = 0; i < 4; i++) {
        void *failed;
        pthread_join(threads[i], &failed);
        assert_null(failed);
    }
}

/* A minimal keep-alive server that counts the connections it accepts. */
typedef struct counting_server {
    int listener;
    unsigned port;
    int accepted;
    int answered;
    int expected;
} counting_server;

static void *serve_counting(void *arg)
{
    counting_server *cs = arg;
    while (cs->answered < cs->expected) {
        int fd = accept(cs->listener, NULL, NULL);
        if (fd < 0)
            break;
        cs->accepted++;
        char buf[4096];
        size_t have = 0;
        for (;;) {
            char *end = memmem(buf, have, "\r\n\r\n", 4);
            if (end) {
                size_t used = (size_t)(end + 4 - buf);
                memmove(buf, buf + used, have - used);
                have -= used;
                const char *answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                test_send_all(fd, answer, strlen(answer));
                if (++cs->answered == cs->expected)
                    break;
                continue;
            }
            ssize_t n = recv(fd, buf + have, sizeof buf - have, 0);
            if (n <= 0)
                break;
            have += (size_t)n;
        }
        close(fd);
    }
    return NULL;
}

static void test_connections_are_kept_alive(void **state)
{
    (void)state;
    counting_server cs = {.expected = 3};
    cs.listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    assert_int_equal(bind(cs.listener, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(listen(cs.listener, 4), 0);
    getsockname(cs.listener, (struct sockaddr *)&addr, &len);
    cs.port = ntohs(addr.sin_port);
    pthread_t thread;
    pthread_create(&thread, NULL, serve_counting, &cs);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/x", cs.port);
    for (int i = 0; i < 3; i++) {
        http_result r;
        assert_true(http_get(url, 5000, &r));
        assert_string_equal(r.body, "ok");
        http_result_free(&r);
    }
    pthread_join(thread, NULL);
    close(cs.listener);
    /* Three calls from one thread, one connection. */
    assert_int_equal(cs.accepted, 1);
    assert_int_equal(cs.answered, 3);
}

static void test_url_encode(void **state)
{
    (void)state;
    char *encoded = http_url_encode("a b/c?d=\xc3\xa9&e~_.-");
    assert_string_equal(encoded, "a%20b%2Fc%3Fd%3D%C3%A9%26e~_.-");
    free(encoded);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    for (size_t i = 0; i < BLOB_SIZE; i++)
        blob[i] = (unsigned char)(i * 7 + (i >> 9));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_and_statuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_json_and_custom_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multipart_upload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_download_writes_file_and_digest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_download_refuses_more_than_max_bytes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_download_of_an_error_keeps_no_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_connection_and_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_have_their_own_handles, setup, teardown),
        cmocka_unit_test(test_connections_are_kept_alive),
        cmocka_unit_test(test_url_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
