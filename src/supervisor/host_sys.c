/*
 * host_sys.c — sys.millis, sys.delay, sys.print, sys.println, sys.printInt.
 *
 * Output goes to the supervisor's standard output, as the references print it, one
 * write per call so that lines of modules running in parallel do not interleave.
 */
#include "supervisor/host_guest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* () -> i32: milliseconds since the Unix epoch, as the reference returns them. The
 * count does not fit 32 bits, so modules get its low 32 bits: differences between two
 * readings are right (in unsigned arithmetic) for 49 days. */
int host_sys_millis(wasm_host_call *call, const wasm_slot *args, wasm_slot *results, void *user)
{
    (void)call, (void)args, (void)user;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
    results[0] = (uint32_t)ms;
    return 0;
}

/* Sleep slice: how soon a delay notices that the call is being interrupted. */
#define DELAY_SLICE_MS 10

/* (i32 ms) -> (). Sleeps in short slices and returns early when the engine asks the
 * call to stop (a migration suspending it, or its deadline), so a module waiting in
 * sys.delay never holds a migration up by more than a slice. */
int host_sys_delay(wasm_host_call *call, const wasm_slot *args, wasm_slot *results, void *user)
{
    (void)results, (void)user;
    int32_t ms = (int32_t)(uint32_t)args[0];
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (ms > 0 && !wasm_host_interrupted(call)) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t elapsed_ns = (int64_t)(now.tv_sec - start.tv_sec) * 1000000000 +
                             (now.tv_nsec - start.tv_nsec);
        int64_t left_ns = (int64_t)ms * 1000000 - elapsed_ns;
        if (left_ns <= 0)
            break;
        int64_t slice_ns = left_ns < DELAY_SLICE_MS * 1000000L ? left_ns : DELAY_SLICE_MS * 1000000L;
        struct timespec pause = {0, (long)slice_ns};
        nanosleep(&pause, NULL);
    }
    return 0;
}

static int print_string(wasm_host_call *call, const wasm_slot *args, bool newline,
                        const char *what)
{
    uint32_t ptr = (uint32_t)args[0], len = (uint32_t)args[1];
    const uint8_t *text = host_guest_bytes(call, ptr, len, what);
    if (!text)
        return -1;
    if (!newline) {
        fwrite(text, 1, len, stdout);
    } else {
        char *line = malloc((size_t)len + 1);
        if (!line)
            return wasm_host_trap(call, WASM_TRAP_HOST, "%s: out of memory", what);
        memcpy(line, text, len);
        line[len] = '\n';
        fwrite(line, 1, (size_t)len + 1, stdout);
        free(line);
    }
    fflush(stdout);
    return 0;
}

/* (i32 ptr, i32 len) -> (): the UTF-8 bytes, as they are. */
int host_sys_print(wasm_host_call *call, const wasm_slot *args, wasm_slot *results, void *user)
{
    (void)results, (void)user;
    return print_string(call, args, false, "sys.print: the string");
}

/* (i32 ptr, i32 len) -> (): the string and a newline. The Python reference declares
 * println(i32) and adds "\n" to that integer, which raises a TypeError, so no module
 * ever used it successfully; we do not copy that bug and give println the signature
 * and meaning of print. */
int host_sys_println(wasm_host_call *call, const wasm_slot *args, wasm_slot *results,
                     void *user)
{
    (void)results, (void)user;
    return print_string(call, args, true, "sys.println: the string");
}

/* (i32) -> (): the signed integer in decimal and a newline, like Python's print(). */
int host_sys_print_int(wasm_host_call *call, const wasm_slot *args, wasm_slot *results,
                       void *user)
{
    (void)call, (void)results, (void)user;
    printf("%d\n", (int32_t)(uint32_t)args[0]);
    fflush(stdout);
    return 0;
}
