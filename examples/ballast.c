/*
 * ballast.c — a reactor module whose state is mostly linear memory, for measuring how
 * long moving a function with its state takes (bench/migration): ballast(mib, percent)
 * grows the ballast to that many MiB, writing every new byte, and changes that share
 * of its 4 KiB chunks (a checkpoint then has that much to send), or with (0, -1)
 * answers digest(), every byte folded into one number so a moved copy can be checked
 * against the original; fill and touch do one of the two; size() answers at once.
 *
 *   liquid run --invoke ballast ballast.wasm 16 1      -> 16777216
 *
 * The ballast is memory this module grows itself at the end of linear memory, so its
 * size is exact: no allocator overhead, and nothing else lives in it.
 */
// wasm-flags: -mexec-model=reactor
#include <stdint.h>

#define PAGE_BYTES 65536u        /* a WebAssembly page */
#define CHUNK_BYTES 4096u        /* what a checkpoint counts as one changed chunk */

static uint8_t *ballast;         /* start of the grown region (0 until the first fill) */
static uint32_t ballast_bytes;
static uint64_t generation;      /* bumped by every fill and touch: new bytes each time */

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= UINT64_C(0x7fb5d329728ea185);
    x ^= x >> 27;
    x *= UINT64_C(0x81dadef4bc2dd44d);
    x ^= x >> 33;
    return x;
}

/* Grows linear memory so the ballast holds `bytes`; false when memory cannot grow. */
static int grow_to(uint32_t bytes)
{
    if (bytes <= ballast_bytes)
        return 1;
    uint32_t pages = (bytes - ballast_bytes + PAGE_BYTES - 1) / PAGE_BYTES;
    uintptr_t old_pages = __builtin_wasm_memory_grow(0, pages);
    if (old_pages == (uintptr_t)-1)
        return 0;
    if (!ballast)
        ballast = (uint8_t *)(old_pages * PAGE_BYTES);
    /* Nothing else grows memory, so the new pages follow the ballast directly. */
    ballast_bytes += pages * PAGE_BYTES;
    return 1;
}

/* Writes every byte from `from` to the end of the ballast. */
static void write_from(uint32_t from)
{
    generation++;
    uint64_t *words = (uint64_t *)ballast;
    for (uint32_t i = from / 8; i < ballast_bytes / 8; i++)
        words[i] = mix(generation * UINT64_C(0x9e3779b97f4a7c15) + i);
}

/* Changes `percent` of the ballast's 4 KiB chunks, spread evenly (one word in every
 * 100/percent-th chunk). Returns how many chunks changed. */
static int32_t touch_chunks(int32_t percent)
{
    if (percent <= 0 || !ballast_bytes)
        return 0;
    uint32_t stride = percent >= 100 ? 1 : 100u / (uint32_t)percent;
    uint32_t chunks = ballast_bytes / CHUNK_BYTES;
    generation++;
    int32_t changed = 0;
    for (uint32_t c = 0; c < chunks; c += stride) {
        uint64_t *word = (uint64_t *)(ballast + (uint64_t)c * CHUNK_BYTES);
        *word = mix(*word ^ generation);
        changed++;
    }
    return changed;
}

/* Every byte of the ballast folded into one number (0 when there is none). */
__attribute__((export_name("digest"))) int64_t digest(void)
{
    const uint64_t *words = (const uint64_t *)ballast;
    uint64_t h = ballast_bytes;
    for (uint32_t i = 0; i < ballast_bytes / 8; i++)
        h = mix(h ^ words[i]);
    return (int64_t)(h >> 1);
}

/* The one export a deployment calls (a manifest step names one function): grows the
 * ballast to at least `mib` MiB, writing every new byte, then changes `percent` of
 * its chunks. Returns the ballast's size in bytes, or -1 when memory cannot grow that
 * far. ballast(0, 0) changes nothing: a cheap probe of whether the module serves;
 * ballast(0, -1) changes nothing and answers digest(), to check a moved copy. */
__attribute__((export_name("ballast"))) int64_t ballast_step(int32_t mib, int32_t percent)
{
    if (mib == 0 && percent < 0)
        return digest();
    uint32_t old = ballast_bytes;
    if (mib < 0 || mib > 4000 || !grow_to((uint32_t)mib * 1024u * 1024u))
        return -1;
    if (ballast_bytes > old)
        write_from(old);
    touch_chunks(percent);
    return ballast_bytes;
}

/* Rewrites the whole ballast at `mib` MiB (it never shrinks); its size in bytes. */
__attribute__((export_name("fill"))) int64_t fill(int32_t mib)
{
    if (mib < 0 || mib > 4000 || !grow_to((uint32_t)mib * 1024u * 1024u))
        return -1;
    write_from(0);
    return ballast_bytes;
}

__attribute__((export_name("touch"))) int32_t touch(int32_t percent)
{
    return touch_chunks(percent);
}

/* The ballast's size in bytes: cheap, for probing whether the module serves. */
__attribute__((export_name("size"))) int64_t size(void)
{
    return ballast_bytes;
}
