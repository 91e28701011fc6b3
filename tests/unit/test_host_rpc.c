/*
 * test_host_rpc.c — communication.rpcCall sends the module's bytes, as the multipart
 * field "img", to the URL remote_functions.json gives the name, over real HTTP on
 * loopback; and traps with the reason when it cannot (no table, unknown name, bad
 * pointer, a receiver that fails or is not there).
 */
#define _GNU_SOURCE
#include "test_host_helpers.h"
#include "base/http_server.h"

#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

/* What the receiving server saw. */
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static char seen_img[256];
static char seen_filename[64];
static int seen_count;

static void sink(http_request *req, void *user)
{
    (void)user;
    const http_upload *img = http_request_upload(req, "img");
    if (!img) {
        http_respond_error(req, 400, "no img part");
        return;
    }
    pthread_mutex_lock(&seen_lock);
    FILE *f = fopen(img->path, "rb");
    size_t n = f ? fread(seen_img, 1, sizeof seen_img - 1, f) : 0;
    seen_img[n] = '\0';
    if (f)
        fclose(f);
    snprintf(seen_filename, sizeof seen_filename, "%s", img->filename ? img->filename : "");
    seen_count++;
    pthread_mutex_unlock(&seen_lock);
    http_respond_json(req, 200, json_pack("{ss}", "status", "ok"));
}

static void broken(http_request *req, void *user)
{
    (void)user;
    http_respond_error(req, 500, "the receiver failed");
}

static const http_route ROUTES[] = {
    {"POST", "/sink", sink},
    {"POST", "/broken", broken},
};

typedef struct rpc_world {
    http_server *server;
    char table[64];
} rpc_world;

/* A server on loopback and a remote_functions.json naming its routes (and a port
 * nobody listens on). */
static int setup(void **state)
{
    rpc_world *w = calloc(1, sizeof *w);
    char err[256];
    http_server_options options = {.bind_address = "127.0.0.1"};
    w->server = http_server_start(&options, ROUTES, 2, NULL, err, sizeof err);
    if (!w->server)
        fail_msg("server: %s", err);
    snprintf(w->table, sizeof w->table, "/tmp/test_host_rpc_XXXXXX");
    int fd = mkstemp(w->table);
    FILE *f = fdopen(fd, "w");
    uint16_t port = http_server_port(w->server);
    fprintf(f,
            "{\"sink\": {\"host\": \"http://127.0.0.1:%u/sink\"},"
            " \"brok\": {\"host\": \"http://127.0.0.1:%u/broken\"},"
            " \"gone\": {\"host\": \"http://127.0.0.1:1/nothing\"},"
            " \"nohost\": {\"url\": \"http://127.0.0.1:%u/sink\"}}",
            port, port, port);
    fclose(f);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    rpc_world *w = *state;
    http_server_stop(w->server);
    unlink(w->table);
    free(w);
    return 0;
}

/* Writes name at 64 in the module's memory and calls rpc(64, len, 16, data_len). */
static wasm_status call_rpc(host_fixture *f, const char *name, uint32_t data_ptr, uint32_t data_len)
{
    uint64_t size;
    uint8_t *memory = wasm_instance_memory(f->instance, &size);
    memcpy(memory + 64, name, strlen(name));
    return host_call(f, "rpc", 4, 64, (uint32_t)strlen(name), data_ptr, data_len);
}

static void test_rpc_posts_the_bytes_as_img(void **state)
{
    rpc_world *w = *state;
    host_fixture *f = host_fixture_new("host_imports", (host_env){.remote_functions = w->table,
                                                                  .deployment_id = "dep1",
                                                                  .module_name = "cam"}, false);
    int before = seen_count;
    assert_int_equal(call_rpc(f, "sink", 16, 13), WASM_STATUS_OK);
    pthread_mutex_lock(&seen_lock);
    assert_int_equal(seen_count, before + 1);
    assert_string_equal(seen_img, "hello, device");
    assert_string_equal(seen_filename, "img");
    pthread_mutex_unlock(&seen_lock);
    host_fixture_free(f);
}

static void test_rpc_traps_with_the_reason(void **state)
{
    rpc_world *w = *state;
    host_fixture *f = host_fixture_new("host_imports", (host_env){.remote_functions = w->table}, false);
    assert_int_equal(call_rpc(f, "elsewhere", 16, 13), WASM_STATUS_TRAP);
    assert_contains(host_trap(f)->message,
                    "communication.rpcCall: no remote function \"elsewhere\" with a \"host\" URL in");
    assert_int_equal(call_rpc(f, "nohost", 16, 13), WASM_STATUS_TRAP);
    assert_contains(host_trap(f)->message, "no remote function \"nohost\" with a \"host\" URL");
    assert_int_equal(call_rpc(f, "brok", 16, 13), WASM_STATUS_TRAP);
    assert_contains(host_trap(f)->message, "answered HTTP 500");
    assert_int_equal(call_rpc(f, "gone", 16, 13), WASM_STATUS_TRAP);
    assert_contains(host_trap(f)->message, "gone at http://127.0.0.1:1/nothing did not answer");
    assert_int_equal(call_rpc(f, "sink", 131000, 1000), WASM_STATUS_TRAP);
    assert_contains(host_trap(f)->message, "communication.rpcCall: the data at 131000..132000 is outside");
    assert_int_equal(host_call(f, "rpc", 4, 64, 0, 16, 13), WASM_STATUS_TRAP);
    assert_contains(host_trap(f)->message, "the function name must be 1 to 256 bytes, got 0");
    host_fixture_free(f);
}

static void test_rpc_without_a_table_traps(void **state)
{
    (void)state;
    host_fixture *f = host_fixture_new("host_imports", (host_env){0}, false);
    assert_int_equal(call_rpc(f, "sink", 16, 13), WASM_STATUS_TRAP);
    assert_contains(host_trap(f)->message, "no remote functions are configured on this device");
    host_fixture_free(f);
    f = host_fixture_new("host_imports", (host_env){.remote_functions = "/nonexistent/rf.json"}, false);
    assert_int_equal(call_rpc(f, "sink", 16, 13), WASM_STATUS_TRAP);
    assert_contains(host_trap(f)->message, "cannot read /nonexistent/rf.json");
    host_fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rpc_posts_the_bytes_as_img),
        cmocka_unit_test(test_rpc_traps_with_the_reason),
        cmocka_unit_test(test_rpc_without_a_table_traps),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
