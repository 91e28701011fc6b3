/*
 * test_leb128.c — the binary format's LEB128 rules: at most ceil(N/7) bytes, the
 * unused bits of the last byte zero (unsigned) or copies of the sign (signed),
 * padding with 0x80 allowed within the length, and nothing read past the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "wasm/internal.h"

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

/* Reads an N-bit integer from exactly `size` bytes; checks all were consumed on success
 * and none on failure. */
static wasm_leb_status read_all(const uint8_t *bytes, size_t size, unsigned bits,
                                bool is_signed, uint64_t *value)
{
    const uint8_t *p = bytes;
    wasm_leb_status status = wasm_read_leb(&p, bytes + size, bits, is_signed, value);
    if (status == WASM_LEB_OK)
        assert_ptr_equal(p, bytes + size);
    else
        assert_ptr_equal(p, bytes);
    return status;
}

static uint64_t u32_of(const uint8_t *bytes, size_t size)
{
    uint64_t value = 0;
    assert_int_equal(read_all(bytes, size, 32, false, &value), WASM_LEB_OK);
    return value;
}

static int64_t s64_of(const uint8_t *bytes, size_t size, unsigned bits)
{
    uint64_t value = 0;
    assert_int_equal(read_all(bytes, size, bits, true, &value), WASM_LEB_OK);
    return (int64_t)value;
}

static void test_unsigned_values(void **state)
{
    (void)state;
    assert_int_equal(u32_of(BYTES(0x00)), 0);
    assert_int_equal(u32_of(BYTES(0x7f)), 127);
    assert_int_equal(u32_of(BYTES(0x80, 0x01)), 128);
    assert_int_equal(u32_of(BYTES(0xe5, 0x8e, 0x26)), 624485);
    assert_int_equal(u32_of(BYTES(0xff, 0xff, 0xff, 0xff, 0x0f)), UINT32_MAX);
    /* Padding within five bytes is allowed. */
    assert_int_equal(u32_of(BYTES(0x80, 0x80, 0x80, 0x80, 0x00)), 0);
    assert_int_equal(u32_of(BYTES(0x83, 0x80, 0x00)), 3);
}

static void test_unsigned_refusals(void **state)
{
    (void)state;
    uint64_t value;
    /* Sixth byte: too long, even if it is zero. */
    assert_int_equal(read_all(BYTES(0x80, 0x80, 0x80, 0x80, 0x80, 0x00), 32, false, &value),
                     WASM_LEB_TOO_LONG);
    /* Fifth byte may only carry 4 more bits. */
    assert_int_equal(read_all(BYTES(0xff, 0xff, 0xff, 0xff, 0x1f), 32, false, &value),
                     WASM_LEB_TOO_LARGE);
    assert_int_equal(read_all(BYTES(0x80, 0x80, 0x80, 0x80, 0x70), 32, false, &value),
                     WASM_LEB_TOO_LARGE);
    /* A fifth byte that asks for a sixth is too long once the bits are fine. */
    assert_int_equal(read_all(BYTES(0x80, 0x80, 0x80, 0x80, 0x80), 32, false, &value),
                     WASM_LEB_TOO_LONG);
    /* Runs out of bytes. */
    assert_int_equal(read_all(BYTES(0x80, 0x80), 32, false, &value), WASM_LEB_END);
    assert_int_equal(read_all((const uint8_t *)"", 0, 32, false, &value), WASM_LEB_END);
    /* One-bit integers (limits flags): 0 and 1 only. */
    assert_int_equal(read_all(BYTES(0x01), 1, false, &value), WASM_LEB_OK);
    assert_int_equal(read_all(BYTES(0x02), 1, false, &value), WASM_LEB_TOO_LARGE);
    assert_int_equal(read_all(BYTES(0x81, 0x00), 1, false, &value), WASM_LEB_TOO_LONG);
}

static void test_signed_values(void **state)
{
    (void)state;
    assert_int_equal(s64_of(BYTES(0x7f), 32), -1);
    assert_int_equal(s64_of(BYTES(0x3f), 32), 63);
    assert_int_equal(s64_of(BYTES(0x40), 32), -64);
    assert_int_equal(s64_of(BYTES(0x80, 0x7f), 32), -128);
    assert_int_equal(s64_of(BYTES(0x80, 0x80, 0x80, 0x80, 0x78), 32), INT32_MIN);
    assert_int_equal(s64_of(BYTES(0xff, 0xff, 0xff, 0xff, 0x07), 32), INT32_MAX);
    assert_int_equal(s64_of(BYTES(0xff, 0xff, 0xff, 0xff, 0x7f), 32), -1);
    assert_true(s64_of(BYTES(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f), 64) ==
                INT64_MIN);
    assert_true(s64_of(BYTES(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00), 64) ==
                INT64_MAX);
    /* s33 block types: -64 is 0x40, and type index 2^32-1 needs five bytes. */
    assert_int_equal(s64_of(BYTES(0x40), 33), -64);
    assert_true(s64_of(BYTES(0xff, 0xff, 0xff, 0xff, 0x0f), 33) == (int64_t)UINT32_MAX);

    const uint8_t bytes[] = {0x80, 0x80, 0x80, 0x80, 0x78};
    const uint8_t *p = bytes;
    int32_t i32 = 0;
    assert_true(wasm_read_s32(&p, bytes + sizeof bytes, &i32));
    assert_int_equal(i32, INT32_MIN);
    const uint8_t minus_one[] = {0x7f};
    int64_t i64 = 0;
    p = minus_one;
    assert_true(wasm_read_s64(&p, minus_one + 1, &i64));
    assert_true(i64 == -1);
}

static void test_signed_refusals(void **state)
{
    (void)state;
    uint64_t value;
    /* Last byte of an s32: bits 31..34 must all equal the sign. */
    assert_int_equal(read_all(BYTES(0xff, 0xff, 0xff, 0xff, 0x0f), 32, true, &value),
                     WASM_LEB_TOO_LARGE);
    assert_int_equal(read_all(BYTES(0x80, 0x80, 0x80, 0x80, 0x70), 32, true, &value),
                     WASM_LEB_TOO_LARGE);
    assert_int_equal(read_all(BYTES(0x80, 0x80, 0x80, 0x80, 0x80, 0x00), 32, true, &value),
                     WASM_LEB_TOO_LONG);
    /* Last byte of an s64: only 0x00 or 0x7f. */
    assert_int_equal(read_all(BYTES(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01),
                              64, true, &value),
                     WASM_LEB_TOO_LARGE);
    assert_int_equal(read_all(BYTES(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7e),
                              64, true, &value),
                     WASM_LEB_TOO_LARGE);
    assert_int_equal(read_all(BYTES(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0x7f),
                              64, true, &value),
                     WASM_LEB_TOO_LONG);
    /* The bool wrappers refuse the same. */
    const uint8_t too_large[] = {0xff, 0xff, 0xff, 0xff, 0x4f};
    const uint8_t *p = too_large;
    int32_t i32;
    assert_false(wasm_read_s32(&p, too_large + sizeof too_large, &i32));
    assert_ptr_equal(p, too_large);
    uint32_t u32;
    assert_false(wasm_read_u32(&p, too_large + sizeof too_large, &u32));
}

static void test_messages_use_the_spec_wording(void **state)
{
    (void)state;
    assert_string_equal(wasm_leb_status_message(WASM_LEB_TOO_LONG),
                        "integer representation too long");
    assert_string_equal(wasm_leb_status_message(WASM_LEB_TOO_LARGE), "integer too large");
    assert_string_equal(wasm_leb_status_message(WASM_LEB_END), "unexpected end");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unsigned_values),
        cmocka_unit_test(test_unsigned_refusals),
        cmocka_unit_test(test_signed_values),
        cmocka_unit_test(test_signed_refusals),
        cmocka_unit_test(test_messages_use_the_spec_wording),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
