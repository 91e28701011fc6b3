/*
 * wasi_poll.c — poll_oneoff: what wasi-libc's sleep(), nanosleep() and poll() use.
 *
 * Files and stdio are always ready here, so fd subscriptions are answered at once.
 * Clock subscriptions sleep, but in short slices: an interrupt from another thread
 * (wasm_exec_interrupt, for suspending or migrating the program) must not wait for
 * a long sleep to end. An interrupted sleep reports its clock as fired, as if the
 * time had passed, since preview 1 has no way to say "woken early".
 */
#define _GNU_SOURCE
#include "wasi_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SUBSCRIPTION_SIZE 48
#define EVENT_SIZE 32
#define MAX_SUBSCRIPTIONS 65536u
#define SLEEP_SLICE_NS 10000000u    /* how late an interrupt may be noticed */
#define EVENT_CLOCK 0
#define EVENT_FD_READ 1
#define EVENT_FD_WRITE 2
#define SUBCLOCK_ABSTIME 1
#define EVENTRW_HANGUP 1

static void put_event(uint8_t *event, uint64_t userdata, uint16_t error, uint8_t type,
                      uint64_t nbytes, uint16_t flags)
{
    memset(event, 0, EVENT_SIZE);
    wasi_put_u64(event, userdata);
    wasi_put_u16(event + 8, error);
    event[10] = type;
    wasi_put_u64(event + 16, nbytes);
    wasi_put_u16(event + 24, flags);
}

/* How many bytes a read would find (for a regular file, up to its end). */
static void fd_readiness(wasi_ctx *ctx, uint32_t fd, uint8_t type, uint16_t *error,
                         uint64_t *nbytes, uint16_t *flags)
{
    wasi_fd_entry *entry = wasi_fd_get(ctx, fd);
    *error = WASI_ESUCCESS;
    *nbytes = 0;
    *flags = 0;
    if (!entry) {
        *error = WASI_EBADF;
    } else if (entry->kind == WASI_FD_EMPTY) {
        *flags = EVENTRW_HANGUP;
    } else if (entry->kind == WASI_FD_HOST && type == EVENT_FD_READ) {
        struct stat st;
        off_t position = lseek(entry->host_fd, 0, SEEK_CUR);
        if (fstat(entry->host_fd, &st) == 0 && S_ISREG(st.st_mode) && position >= 0 &&
            st.st_size > position)
            *nbytes = (uint64_t)(st.st_size - position);
    }
}

static uint64_t monotonic_ns(void)
{
    uint64_t ns = 0;
    wasi_clock_now(1, &ns);
    return ns;
}

static bool interrupted(const wasi_call *call)
{
    return call->host && wasm_host_interrupted(call->host);
}

static void sleep_until(const wasi_call *call, uint64_t deadline)
{
    for (uint64_t now = monotonic_ns(); now < deadline && !interrupted(call);
         now = monotonic_ns()) {
        uint64_t slice = deadline - now < SLEEP_SLICE_NS ? deadline - now : SLEEP_SLICE_NS;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)slice};
        nanosleep(&ts, NULL);
    }
}

/* Nanoseconds until a clock subscription fires, or an error for a bad clock. */
static uint16_t clock_remaining(const uint8_t *sub, uint64_t *remaining)
{
    uint32_t clock = wasi_get_u32(sub + 16);
    uint64_t timeout = wasi_get_u64(sub + 24);
    uint16_t flags = (uint16_t)(sub[40] | sub[41] << 8);
    uint64_t now;
    uint16_t err = wasi_clock_now(clock, &now);
    if (err)
        return err;
    if (flags & SUBCLOCK_ABSTIME)
        *remaining = timeout > now ? timeout - now : 0;
    else
        *remaining = timeout;
    return WASI_ESUCCESS;
}

uint16_t wasi_poll_oneoff(wasi_call *call, const wasm_slot *args)
{
    uint32_t in = wasi_arg_u32(args, 0), out = wasi_arg_u32(args, 1);
    uint32_t count = wasi_arg_u32(args, 2), nevents_out = wasi_arg_u32(args, 3);
    if (count == 0)
        return WASI_EINVAL;     /* would block forever */
    if (count > MAX_SUBSCRIPTIONS)
        return WASI_EINVAL;     /* bounds the copy below, whatever the guest asks */
    const uint8_t *guest_subs = wasi_guest_range(call, in, (uint64_t)count * SUBSCRIPTION_SIZE);
    uint8_t *events = wasi_guest_range(call, out, (uint64_t)count * EVENT_SIZE);
    if (!guest_subs || !events || !wasi_guest_range(call, nevents_out, 4))
        return WASI_EFAULT;
    /* A copy, since the guest may let its event buffer overlap the subscriptions;
     * with each clock's time left, taken once so all count from the same moment. */
    uint8_t *subs = malloc((size_t)count * (SUBSCRIPTION_SIZE + 8));
    if (!subs)
        return WASI_ENOMEM;
    memcpy(subs, guest_subs, (size_t)count * SUBSCRIPTION_SIZE);
    uint64_t *remaining = (uint64_t *)(void *)(subs + (size_t)count * SUBSCRIPTION_SIZE);

    uint32_t nevents = 0;
    bool have_clock = false;
    uint64_t soonest = UINT64_MAX;
    uint16_t err = WASI_ESUCCESS;
    for (uint32_t i = 0; i < count && !err; i++) {
        const uint8_t *sub = subs + (size_t)i * SUBSCRIPTION_SIZE;
        uint64_t userdata = wasi_get_u64(sub);
        uint8_t type = sub[8];
        remaining[i] = UINT64_MAX;
        if (type == EVENT_CLOCK) {
            uint16_t clock_err = clock_remaining(sub, &remaining[i]);
            if (clock_err) {
                remaining[i] = UINT64_MAX;
                put_event(events + (size_t)nevents++ * EVENT_SIZE, userdata, clock_err, type,
                          0, 0);
                continue;
            }
            have_clock = true;
            soonest = remaining[i] < soonest ? remaining[i] : soonest;
        } else if (type == EVENT_FD_READ || type == EVENT_FD_WRITE) {
            uint16_t error, flags;
            uint64_t nbytes;
            fd_readiness(call->ctx, wasi_get_u32(sub + 16), type, &error, &nbytes, &flags);
            put_event(events + (size_t)nevents++ * EVENT_SIZE, userdata, error, type, nbytes,
                      flags);
        } else {
            err = WASI_EINVAL;
        }
    }

    /* Nothing ready yet: sleep until the soonest clock, then report every clock due. */
    if (!err && nevents == 0 && have_clock) {
        uint64_t start = monotonic_ns();
        sleep_until(call, soonest > UINT64_MAX - start ? UINT64_MAX : start + soonest);
        for (uint32_t i = 0; i < count; i++)
            if (subs[(size_t)i * SUBSCRIPTION_SIZE + 8] == EVENT_CLOCK && remaining[i] <= soonest)
                put_event(events + (size_t)nevents++ * EVENT_SIZE,
                          wasi_get_u64(subs + (size_t)i * SUBSCRIPTION_SIZE), WASI_ESUCCESS,
                          EVENT_CLOCK, 0, 0);
    }
    free(subs);
    if (!err)
        wasi_store_u32(call, nevents_out, nevents);
    return err;
}
