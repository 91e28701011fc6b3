/*
 * camera.c — the camera step of the Wasm-IoT pipelines (wasmiot-api.md §2.5, §7):
 * take_image_predefined_path() captures a frame with the supervisor's camera and
 * writes it to the output mount image.jpeg in the module's directory, from where the
 * supervisor serves it or sends it to the next step (which names an execution mount
 * image.jpeg, such as examples/grayscale.c).
 *
 *   take_image_predefined_path()  camera.takeImageStaticSize into a buffer of ours
 *   take_image_dynamic_size()     camera.takeImageDynamicSize: the host asks our
 *                                 alloc() for room, as the Python reference does
 *   alloc(len)                    that allocator (malloc)
 *
 * Both return the frame's length in bytes, or a negative number with the reason on
 * stderr: -1 the frame is not a JPEG, -2 image.jpeg cannot be written, -3 no memory.
 */
// wasm-flags: -mexec-model=reactor
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

__attribute__((import_module("camera"), import_name("takeImageStaticSize")))
void camera_take_image_static_size(uint8_t *out, uint32_t *size);
__attribute__((import_module("camera"), import_name("takeImageDynamicSize")))
void camera_take_image_dynamic_size(uint8_t **out, uint32_t *size);

#define OUTPUT "image.jpeg"
#define MAX_FRAME (2u << 20)

static uint8_t *frame_buffer;

__attribute__((export_name("alloc"))) void *alloc(uint32_t len)
{
    return malloc(len ? len : 1);
}

/* A JPEG starts with SOI (FF D8) and ends with EOI (FF D9). A supervisor that does
 * not say how much it wrote leaves us the whole buffer: cut after the last EOI. */
static int64_t jpeg_length(const uint8_t *data, uint32_t size)
{
    if (size < 4 || data[0] != 0xFF || data[1] != 0xD8)
        return -1;
    for (uint32_t end = size; end >= 4; end--)
        if (data[end - 2] == 0xFF && data[end - 1] == 0xD9)
            return end;
    return -1;
}

static int32_t save(const uint8_t *data, uint32_t size)
{
    int64_t length = jpeg_length(data, size);
    if (length < 0) {
        fprintf(stderr, "camera: the frame (%u bytes) is not a JPEG\n", size);
        return -1;
    }
    FILE *f = fopen(OUTPUT, "wb");
    if (!f || fwrite(data, 1, (size_t)length, f) != (size_t)length || fclose(f) != 0) {
        fprintf(stderr, "camera: cannot write " OUTPUT "\n");
        return -2;
    }
    return (int32_t)length;
}

__attribute__((export_name("take_image_predefined_path"))) int32_t take_image_predefined_path(void)
{
    if (!frame_buffer && !(frame_buffer = malloc(MAX_FRAME))) {
        fprintf(stderr, "camera: no memory for a frame buffer\n");
        return -3;
    }
    uint32_t size = MAX_FRAME;
    camera_take_image_static_size(frame_buffer, &size);
    return save(frame_buffer, size < MAX_FRAME ? size : MAX_FRAME);
}

__attribute__((export_name("take_image_dynamic_size"))) int32_t take_image_dynamic_size(void)
{
    uint8_t *data = NULL;
    uint32_t size = 0;
    camera_take_image_dynamic_size(&data, &size);
    int32_t result = save(data, size);
    free(data);
    return result;
}
