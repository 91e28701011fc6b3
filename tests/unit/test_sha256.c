/*
 * test_sha256.c — SHA-256 against the FIPS 180-4 examples (NIST's "abc", the
 * two-block message, one million 'a') and messages whose padding ends exactly at,
 * or spills past, a block boundary (expected values from coreutils sha256sum).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/internal.h"

static void hex_of(const uint8_t digest[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

static void assert_sha256(const void *data, size_t size, const char *expected_hex)
{
    uint8_t digest[32];
    char hex[65];
    wasm_sha256(data, size, digest);
    hex_of(digest, hex);
    assert_string_equal(hex, expected_hex);
}

static void test_fips_examples(void **state)
{
    (void)state;
    assert_sha256("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_sha256("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_sha256(two_blocks, strlen(two_blocks),
                  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *long_message = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                               "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    assert_sha256(long_message, strlen(long_message),
                  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void test_one_million_a(void **state)
{
    (void)state;
    size_t size = 1000000;
    char *data = malloc(size);
    assert_non_null(data);
    memset(data, 'a', size);
    assert_sha256(data, size, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(data);
}

/* "abcd...zabc..." of a given length. */
static void assert_alphabet(size_t size, const char *expected_hex)
{
    char data[128];
    assert_true(size <= sizeof data);
    for (size_t i = 0; i < size; i++)
        data[i] = (char)('a' + i % 26);
    assert_sha256(data, size, expected_hex);
}

static void test_padding_boundaries(void **state)
{
    (void)state;
    /* 55 bytes: the length still fits in the block; 56: it does not. */
    assert_alphabet(55, "595615dbe4f0f407ae397d08b4c2cb870cb9b0e11937416f950c5160acf9c005");
    assert_alphabet(56, "784f623b787495078e93ff28a25b581df0584055a7e71d8cd90c454716b92f51");
    assert_alphabet(63, "5ca3e1ef5207490eac01a795e5cc94d59582a5118bf9534665c8668d87aa647c");
    assert_alphabet(64, "2fcd5a0d60e4c941381fcc4e00a4bf8be422c3ddfafb93c809e8d1e2bfffae8e");
    assert_alphabet(65, "1b3cd1877ab2f2f19f7be001722554f336cb799df0329de0bb4c118dc6abc06d");
    assert_alphabet(119, "faef67da856d6fd9c8d12f9ed0a4fefd3cf0ce085ab43e2907418d457e3c354b");
    assert_alphabet(120, "c9512b08619c19fbb503c7da6b46ef20301e5f7a7a5f43989182398536f5c5c8");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fips_examples),
        cmocka_unit_test(test_one_million_a),
        cmocka_unit_test(test_padding_boundaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
