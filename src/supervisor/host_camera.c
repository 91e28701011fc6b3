/*
 * host_camera.c — camera.takeImageDynamicSize, camera.takeImageStaticSize (and
 * camera.takeImage, the same as the static one) backed by a directory of JPEG files.
 *
 * The directory is the device's camera: each capture, by any module of this process,
 * returns the next image in name order, round robin, so a pipeline sees a stream of
 * frames and a test knows which frame comes when. A device without a camera
 * directory traps every capture with "no camera configured on this device".
 */
#define _GNU_SOURCE
#include "supervisor/host_guest.h"
#include "base/log.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define MAX_IMAGE_BYTES (32u << 20)
#define MAX_CAMERAS 16
/* The module's alloc runs inside our host call, on an exec of its own; it gets a
 * budget of its own too, generous for an allocator and small beside any call limit. */
#define ALLOC_TIMEOUT_MS 2000
#define ALLOC_FUEL 100000000ull

/* Per camera directory: the index of the next image. */
static pthread_mutex_t cameras_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char *dir;
    unsigned next;
} cameras[MAX_CAMERAS];

static unsigned next_frame_index(const char *dir)
{
    pthread_mutex_lock(&cameras_lock);
    unsigned index = 0;
    int slot = -1;
    for (int i = 0; i < MAX_CAMERAS && slot < 0; i++) {
        if (cameras[i].dir && strcmp(cameras[i].dir, dir) == 0)
            slot = i;
        else if (!cameras[i].dir && (cameras[i].dir = strdup(dir)))
            slot = i;
    }
    if (slot >= 0)
        index = cameras[slot].next++;
    pthread_mutex_unlock(&cameras_lock);
    return index;
}

static int is_jpeg(const struct dirent *entry)
{
    const char *dot = strrchr(entry->d_name, '.');
    return entry->d_name[0] != '.' && dot &&
           (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static bool read_image(const char *path, uint8_t **out, uint32_t *size, char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0) {
        snprintf(err, err_size, "cannot be read: %s", strerror(errno));
        if (f)
            fclose(f);
        return false;
    }
    if (st.st_size <= 0 || (uint64_t)st.st_size > MAX_IMAGE_BYTES) {
        snprintf(err, err_size, "is %lld bytes; a frame must be 1 byte to %u MiB",
                 (long long)st.st_size, MAX_IMAGE_BYTES >> 20);
        fclose(f);
        return false;
    }
    *out = malloc((size_t)st.st_size);
    bool ok = *out && fread(*out, 1, (size_t)st.st_size, f) == (size_t)st.st_size;
    fclose(f);
    if (!ok) {
        free(*out);
        *out = NULL;
        snprintf(err, err_size, "cannot be read whole");
        return false;
    }
    *size = (uint32_t)st.st_size;
    return true;
}

/* The next frame of env's camera (malloc'ed), or NULL after a trap. */
static uint8_t *capture(wasm_host_call *call, const host_env *env, uint32_t *size,
                        const char *function)
{
    if (!env || !env->camera_dir) {
        wasm_host_trap(call, WASM_TRAP_HOST, "%s: no camera configured on this device", function);
        return NULL;
    }
    struct dirent **names;
    int count = scandir(env->camera_dir, &names, is_jpeg, by_name);
    if (count < 0) {
        wasm_host_trap(call, WASM_TRAP_HOST, "%s: cannot read the camera directory %s: %s",
                       function, env->camera_dir, strerror(errno));
        return NULL;
    }
    if (count == 0) {
        free(names);
        wasm_host_trap(call, WASM_TRAP_HOST,
                       "%s: the camera directory %s holds no .jpg or .jpeg image", function,
                       env->camera_dir);
        return NULL;
    }
    char path[4096], err[128];
    snprintf(path, sizeof path, "%s/%s", env->camera_dir,
             names[next_frame_index(env->camera_dir) % (unsigned)count]->d_name);
    for (int i = 0; i < count; i++)
        free(names[i]);
    free(names);
    uint8_t *image = NULL;
    if (!read_image(path, &image, size, err, sizeof err)) {
        wasm_host_trap(call, WASM_TRAP_HOST, "%s: image %s %s", function, path, err);
        return NULL;
    }
    log_debug("host.camera", "deployment=%s module=%s image=%s bytes=%u",
              log_quote(env->deployment_id), log_quote(env->module_name), log_quote(path), *size);
    return image;
}

/* (i32 outPtr, i32 sizePtr) -> (): reads the buffer's capacity as a little-endian u32
 * at sizePtr, writes the frame there cut to that capacity, and writes back at sizePtr
 * how many bytes it wrote (the references leave the capacity in place; a module that
 * wants the frame's length otherwise has no way to know it). */
int host_camera_static_size(wasm_host_call *call, const wasm_slot *args, wasm_slot *results,
                            void *user)
{
    (void)results;
    const char *function = "camera.takeImageStaticSize";
    uint32_t out_ptr = (uint32_t)args[0], size_ptr = (uint32_t)args[1], capacity, size;
    if (!host_guest_read_u32(call, size_ptr, &capacity, "camera.takeImageStaticSize: the size"))
        return -1;
    uint8_t *image = capture(call, user, &size, function);
    if (!image)
        return -1;
    uint32_t n = size < capacity ? size : capacity;
    uint8_t *out = host_guest_bytes(call, out_ptr, n, "camera.takeImageStaticSize: the buffer");
    if (out)
        memcpy(out, image, n);
    free(image);
    if (!out || !host_guest_write_u32(call, size_ptr, n, "camera.takeImageStaticSize: the size"))
        return -1;
    return 0;
}

/* Calls the module's alloc(len) -> ptr export on an exec of its own (the calling
 * exec is busy running us). Returns false after a trap. */
static bool call_alloc(wasm_host_call *call, const host_env *env, uint32_t len, uint32_t *ptr)
{
    const char *function = "camera.takeImageDynamicSize";
    wasm_func *alloc = wasm_instance_export_func(wasm_host_instance(call), "alloc");
    wasm_functype_view type = alloc ? wasm_func_type(alloc) : (wasm_functype_view){0};
    if (!alloc || type.param_count != 1 || type.result_count != 1 || type.params[0] != WASM_I32 ||
        type.results[0] != WASM_I32) {
        wasm_host_trap(call, WASM_TRAP_HOST,
                       "%s: the module must export alloc(i32) -> i32 to receive the image",
                       function);
        return false;
    }
    if (!env->store) {
        wasm_host_trap(call, WASM_TRAP_HOST,
                       "%s: this supervisor gave its host functions no store, so the module's "
                       "alloc cannot be called", function);
        return false;
    }
    wasm_exec_limits limits = {.fuel = ALLOC_FUEL, .timeout_ms = ALLOC_TIMEOUT_MS};
    wasm_exec *exec = wasm_exec_new(env->store, &limits);
    if (!exec) {
        wasm_host_trap(call, WASM_TRAP_HOST, "%s: out of memory", function);
        return false;
    }
    wasm_value arg = {.type = WASM_I32, .of.i32 = len}, result;
    bool ok = wasm_exec_call(exec, alloc, &arg, 1) == WASM_STATUS_OK &&
              wasm_exec_results(exec, &result, 1) == 1;
    if (ok)
        *ptr = result.of.i32;
    else
        wasm_host_trap(call, WASM_TRAP_HOST, "%s: alloc(%u) failed: %s", function, len,
                       wasm_exec_trap(exec)->message);
    wasm_exec_free(exec);
    return ok;
}

/* (i32 outPtrPtr, i32 outSizePtr) -> (): as the Python reference, asks the module's
 * alloc(len) export for a buffer, writes the frame into it, then writes the buffer's
 * address and the frame's length as little-endian u32s at outPtrPtr and outSizePtr.
 * (The Rust reference writes at address 0 instead, over whatever the module keeps
 * there.) */
int host_camera_dynamic_size(wasm_host_call *call, const wasm_slot *args, wasm_slot *results,
                             void *user)
{
    (void)results;
    const host_env *env = user;
    const char *function = "camera.takeImageDynamicSize";
    uint32_t ptr_ptr = (uint32_t)args[0], size_ptr = (uint32_t)args[1], size, buffer;
    /* Check where the answers go before anything runs in the module. */
    if (!host_guest_bytes(call, ptr_ptr, 4, "camera.takeImageDynamicSize: the pointer slot") ||
        !host_guest_bytes(call, size_ptr, 4, "camera.takeImageDynamicSize: the size slot"))
        return -1;
    uint8_t *image = capture(call, env, &size, function);
    if (!image)
        return -1;
    if (!call_alloc(call, env, size, &buffer)) {
        free(image);
        return -1;
    }
    /* alloc may have grown memory: look it up again. */
    uint8_t *out = host_guest_bytes(call, buffer, size,
                                    "camera.takeImageDynamicSize: the buffer alloc returned");
    if (out)
        memcpy(out, image, size);
    free(image);
    if (!out || !host_guest_write_u32(call, ptr_ptr, buffer, "camera.takeImageDynamicSize: the pointer slot") ||
        !host_guest_write_u32(call, size_ptr, size, "camera.takeImageDynamicSize: the size slot"))
        return -1;
    return 0;
}
