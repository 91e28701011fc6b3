/*
 * ids.c — object ids (MongoDB ObjectId shape) and request ids.
 *
 * Randomness comes from getrandom(2) once per process; after that, ids are made by
 * counting, which costs one atomic increment and keeps ids of one process distinct
 * even when many are made in the same second.
 */
#include "base/ids.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static pthread_once_t seed_once = PTHREAD_ONCE_INIT;
static uint8_t process_random[5];
static atomic_uint_fast32_t object_counter;
static uint64_t request_prefix;
static atomic_uint_fast64_t request_counter;

bool ids_random_bytes(void *buf, size_t size)
{
    uint8_t *p = buf;
    while (size > 0) {
        ssize_t n = getrandom(p, size, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        size -= (size_t)n;
    }
    return true;
}

static void seed(void)
{
    uint8_t bytes[5 + 4 + 8];
    if (!ids_random_bytes(bytes, sizeof bytes)) {
        /* No kernel randomness (very old kernel or seccomp): fall back to the clock
         * and address-space layout, which still differ between processes. */
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        uint64_t mix = (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 20) ^
                       (uint64_t)(uintptr_t)&now;
        for (size_t i = 0; i < sizeof bytes; i++) {
            mix = mix * 6364136223846793005ULL + 1442695040888963407ULL;
            bytes[i] = (uint8_t)(mix >> 56);
        }
    }
    memcpy(process_random, bytes, 5);
    uint32_t counter_start = (uint32_t)bytes[5] << 16 | (uint32_t)bytes[6] << 8 | bytes[7];
    atomic_store(&object_counter, counter_start);
    memcpy(&request_prefix, bytes + 9, 8);
}

static void put_hex(char *out, const uint8_t *bytes, size_t size)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < size; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * size] = '\0';
}

void ids_object_id_at(uint32_t seconds, char out[IDS_OBJECT_ID_SIZE])
{
    pthread_once(&seed_once, seed);
    uint32_t count = (uint32_t)atomic_fetch_add(&object_counter, 1) & 0xffffff;
    uint8_t bytes[12] = {
        (uint8_t)(seconds >> 24), (uint8_t)(seconds >> 16), (uint8_t)(seconds >> 8),
        (uint8_t)seconds,
    };
    memcpy(bytes + 4, process_random, 5);
    bytes[9] = (uint8_t)(count >> 16);
    bytes[10] = (uint8_t)(count >> 8);
    bytes[11] = (uint8_t)count;
    put_hex(out, bytes, sizeof bytes);
}

void ids_new_object_id(char out[IDS_OBJECT_ID_SIZE])
{
    ids_object_id_at((uint32_t)time(NULL), out);
}

bool ids_is_object_id(const char *s)
{
    if (!s)
        return false;
    for (size_t i = 0; i < 24; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
              (s[i] >= 'A' && s[i] <= 'F')))
            return false;
    return s[24] == '\0';
}

bool ids_object_id_time(const char *s, uint32_t *seconds)
{
    if (!ids_is_object_id(s))
        return false;
    uint32_t value = 0;
    for (size_t i = 0; i < 8; i++) {
        char c = s[i];
        int digit = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
        value = value << 4 | (uint32_t)digit;
    }
    *seconds = value;
    return true;
}

void ids_new_request_id(char out[IDS_REQUEST_ID_SIZE])
{
    pthread_once(&seed_once, seed);
    /* The counter is mixed so consecutive ids do not look alike in logs; the mix is a
     * bijection of 64-bit values, so ids of one process never repeat. */
    uint64_t x = request_prefix + atomic_fetch_add(&request_counter, 1) * 0x9e3779b97f4a7c15ULL;
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 29;
    uint8_t bytes[8];
    for (int i = 0; i < 8; i++)
        bytes[i] = (uint8_t)(x >> (56 - 8 * i));
    put_hex(out, bytes, sizeof bytes);
}
