/*
 * test_host_camera.c — camera.* backed by a directory of JPEG files: frames come in
 * name order, round robin; the static variant cuts to the buffer and says how much it
 * wrote; the dynamic one asks the module's alloc for room (which may grow memory) and
 * reports where; and every way it cannot work traps with the reason.
 */
#define _GNU_SOURCE
#include "test_host_helpers.h"
#include "wasm/wasi.h"

#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct camera_dir {
    char path[64];
} camera_dir;

static void write_file(const char *dir, const char *name, const void *data, size_t size)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    fclose(f);
}

/* A fresh directory (the camera's position is kept per directory, per process). */
static void make_camera(camera_dir *c)
{
    snprintf(c->path, sizeof c->path, "/tmp/test_host_camera_XXXXXX");
    assert_non_null(mkdtemp(c->path));
}

static void remove_camera(camera_dir *c)
{
    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", c->path);
    assert_int_equal(system(command), 0);
}

/* Checks that guest memory at ptr holds data. */
static void assert_guest_bytes(host_fixture *f, uint32_t ptr, const void *data, size_t size)
{
    uint64_t memory_size;
    uint8_t *memory = wasm_instance_memory(f->instance, &memory_size);
    assert_true(ptr + size <= memory_size);
    assert_memory_equal(memory + ptr, data, size);
}

static void test_static_size_returns_frames_in_name_order_round_robin(void **state)
{
    (void)state;
    camera_dir c;
    make_camera(&c);
    write_file(c.path, "b.jpg", "second frame", 12);
    write_file(c.path, "a.jpeg", "first", 5);
    write_file(c.path, "notes.txt", "not an image", 12);
    write_file(c.path, "C.JPG", "third (upper case)", 18);
    host_fixture *f = host_fixture_new("host_imports", (host_env){.camera_dir = c.path}, false);

    /* Byte order: "C.JPG" < "a.jpeg" < "b.jpg". */
    assert_int_equal(host_call_i32(f, "take_static", 1, 1000), 18);
    assert_guest_bytes(f, 8192, "third (upper case)", 18);
    assert_int_equal(host_call_i32(f, "take_static", 1, 1000), 5);
    assert_guest_bytes(f, 8192, "first", 5);
    assert_int_equal(host_call_i32(f, "take_image", 1, 1000), 12);     /* the older name */
    assert_guest_bytes(f, 8192, "second frame", 12);
    assert_int_equal(host_call_i32(f, "take_static", 1, 1000), 18);    /* round again */

    /* A smaller buffer gets the first bytes, and is told how many. */
    assert_int_equal(host_call_i32(f, "take_static", 1, 3), 3);
    assert_guest_bytes(f, 8192, "fir", 3);
    host_fixture_free(f);
    remove_camera(&c);
}

static void test_dynamic_size_puts_the_frame_where_alloc_says(void **state)
{
    (void)state;
    camera_dir c;
    make_camera(&c);
    /* 200 KB: more than the module's two pages, so alloc must grow memory first. */
    size_t size = 200000;
    uint8_t *frame = malloc(size);
    for (size_t i = 0; i < size; i++)
        frame[i] = (uint8_t)(i * 7 + 3);
    write_file(c.path, "frame.jpg", frame, size);
    host_fixture *f = host_fixture_new("host_imports", (host_env){.camera_dir = c.path}, false);
    assert_int_equal(host_call_i32(f, "memory_pages", 0), 2);

    uint32_t ptr = host_call_i32(f, "take_dynamic", 0);
    assert_int_equal(ptr, 65536);                       /* where the bump allocator starts */
    assert_int_equal(host_call_i32(f, "dynamic_size", 0), size);
    assert_true(host_call_i32(f, "memory_pages", 0) >= 5);
    assert_guest_bytes(f, ptr, frame, size);
    /* The second frame goes after the first: alloc really ran twice. */
    assert_int_equal(host_call_i32(f, "take_dynamic", 0), 65536 + size);
    free(frame);
    host_fixture_free(f);
    remove_camera(&c);
}

static void test_dynamic_size_checks_its_slots_before_running_alloc(void **state)
{
    (void)state;
    camera_dir c;
    make_camera(&c);
    write_file(c.path, "frame.jpg", "frame", 5);
    host_fixture *f = host_fixture_new("host_imports", (host_env){.camera_dir = c.path}, false);
    assert_int_equal(host_call(f, "take_dynamic_at", 2, 0, 131070), WASM_STATUS_TRAP);
    assert_contains(host_trap(f)->message, "camera.takeImageDynamicSize: the size slot at 131070");
    /* alloc did not run: the next frame still goes to the start of the heap. */
    assert_int_equal(host_call_i32(f, "take_dynamic", 0), 65536);
    host_fixture_free(f);
    remove_camera(&c);
}

static void test_static_size_refuses_a_buffer_outside_memory(void **state)
{
    (void)state;
    camera_dir c;
    make_camera(&c);
    write_file(c.path, "frame.jpg", "0123456789", 10);
    host_fixture *f = host_fixture_new("host_imports", (host_env){.camera_dir = c.path}, false);
    uint64_t memory_size;
    uint8_t *memory = wasm_instance_memory(f->instance, &memory_size);
    memory[8] = 100;    /* capacity 100 at 8 */
    assert_int_equal(host_call(f, "take_static_at", 2, 131068, 8), WASM_STATUS_TRAP);
    assert_contains(host_trap(f)->message, "camera.takeImageStaticSize: the buffer at 131068..131078");
    host_fixture_free(f);
    remove_camera(&c);
}

static void test_capture_without_a_camera_traps(void **state)
{
    (void)state;
    host_fixture *f = host_fixture_new("host_imports", (host_env){0}, false);
    assert_int_equal(host_call(f, "take_static", 1, 100), WASM_STATUS_TRAP);
    assert_string_equal(host_trap(f)->message,
                        "camera.takeImageStaticSize: no camera configured on this device");
    assert_int_equal(host_call(f, "take_dynamic", 0), WASM_STATUS_TRAP);
    assert_string_equal(host_trap(f)->message,
                        "camera.takeImageDynamicSize: no camera configured on this device");
    host_fixture_free(f);
}

static void test_capture_from_a_directory_without_images_traps(void **state)
{
    (void)state;
    camera_dir c;
    make_camera(&c);
    write_file(c.path, "readme.txt", "no images here", 14);
    host_fixture *f = host_fixture_new("host_imports", (host_env){.camera_dir = c.path}, false);
    assert_int_equal(host_call(f, "take_static", 1, 100), WASM_STATUS_TRAP);
    assert_contains(host_trap(f)->message, "holds no .jpg or .jpeg image");
    host_fixture_free(f);
    remove_camera(&c);
    f = host_fixture_new("host_imports", (host_env){.camera_dir = "/nonexistent/camera"}, false);
    assert_int_equal(host_call(f, "take_static", 1, 100), WASM_STATUS_TRAP);
    assert_contains(host_trap(f)->message, "cannot read the camera directory /nonexistent/camera: No such file or directory");
    host_fixture_free(f);
}

static void test_dynamic_size_needs_an_alloc_export_and_the_store(void **state)
{
    (void)state;
    camera_dir c;
    make_camera(&c);
    write_file(c.path, "frame.jpg", "frame", 5);
    host_fixture *f = host_fixture_new("host_camera_no_alloc", (host_env){.camera_dir = c.path}, false);
    assert_int_equal(host_call(f, "take_dynamic", 0), WASM_STATUS_TRAP);
    assert_contains(host_trap(f)->message, "the module must export alloc(i32) -> i32");
    host_fixture_free(f);
    f = host_fixture_new("host_imports", (host_env){.camera_dir = c.path}, true);
    assert_int_equal(host_call(f, "take_dynamic", 0), WASM_STATUS_TRAP);
    assert_contains(host_trap(f)->message, "gave its host functions no store");
    host_fixture_free(f);
    remove_camera(&c);
}

static uint8_t *read_whole(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc((size_t)n);
    assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return data;
}

static void call_export_expecting(wasm_exec *exec, wasm_instance *instance, const char *name,
                                  int32_t expected)
{
    wasm_func *func = wasm_instance_export_func(instance, name);
    assert_non_null(func);
    if (wasm_exec_call(exec, func, NULL, 0) != WASM_STATUS_OK)
        fail_msg("%s trapped: %s", name, wasm_exec_trap(exec)->message);
    wasm_value result;
    assert_int_equal(wasm_exec_results(exec, &result, 1), 1);
    assert_int_equal((int32_t)result.of.i32, expected);
}

/* examples/camera.c, as a supervisor runs it: WASI with the module's directory as ".",
 * and the camera. Both of its capture paths write the frame to image.jpeg. */
static void test_camera_example_writes_the_frame_as_image_jpeg(void **state)
{
    (void)state;
    camera_dir c, sandbox;
    make_camera(&c);
    make_camera(&sandbox);
    size_t frame_size;
    uint8_t *frame = read_whole(LIQUID_SOURCE_DIR "/tests/data/images/scene_64x48_420.jpg", &frame_size);
    write_file(c.path, "frame.jpg", frame, frame_size);

    size_t size;
    uint8_t *bytes = read_whole(LIQUID_BUILD_DIR "/examples/camera.wasm", &size);
    wasm_error err = {0};
    wasm_module *module = wasm_module_load(bytes, size, &err);
    free(bytes);
    assert_non_null(module);
    wasm_store *store = wasm_store_new();
    wasm_linker *linker = wasm_linker_new(store);
    wasi_ctx *wasi = wasi_ctx_new();
    assert_true(wasi_ctx_preopen_dir(wasi, sandbox.path, ".", &err));
    assert_true(wasi_link(wasi, linker, &err));
    host_env env = {.camera_dir = c.path, .store = store};
    char message[256];
    assert_true(host_functions_define(linker, &env, message, sizeof message));
    wasm_instance *instance = wasm_instantiate(store, module, linker, NULL, NULL, &err);
    if (!instance)
        fail_msg("camera.wasm: %s", err.message);
    wasm_exec *exec = wasm_exec_new(store, NULL);
    wasm_func *init = wasm_instance_export_func(instance, "_initialize");
    if (init)
        assert_int_equal(wasm_exec_call(exec, init, NULL, 0), WASM_STATUS_OK);

    const char *paths[] = {"take_image_predefined_path", "take_image_dynamic_size"};
    for (size_t i = 0; i < 2; i++) {
        char written[128];
        snprintf(written, sizeof written, "%s/image.jpeg", sandbox.path);
        unlink(written);
        call_export_expecting(exec, instance, paths[i], (int32_t)frame_size);
        size_t got_size;
        uint8_t *got = read_whole(written, &got_size);
        assert_int_equal(got_size, frame_size);
        assert_memory_equal(got, frame, frame_size);
        free(got);
    }
    wasm_exec_free(exec);
    wasm_linker_free(linker);
    wasm_store_free(store);
    wasi_ctx_free(wasi);
    wasm_module_free(module);
    free(frame);
    remove_camera(&c);
    remove_camera(&sandbox);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_static_size_returns_frames_in_name_order_round_robin),
        cmocka_unit_test(test_dynamic_size_puts_the_frame_where_alloc_says),
        cmocka_unit_test(test_dynamic_size_checks_its_slots_before_running_alloc),
        cmocka_unit_test(test_static_size_refuses_a_buffer_outside_memory),
        cmocka_unit_test(test_capture_without_a_camera_traps),
        cmocka_unit_test(test_capture_from_a_directory_without_images_traps),
        cmocka_unit_test(test_dynamic_size_needs_an_alloc_export_and_the_store),
        cmocka_unit_test(test_camera_example_writes_the_frame_as_image_jpeg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
