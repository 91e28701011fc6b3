/*
 * test_supervisor_args.c — query arguments to Wasm values by position and type, and
 * results back to the text the Wasm-IoT API answers with.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "supervisor/call_args.h"

static wasm_functype_view type_of(const uint8_t *params, uint32_t count)
{
    wasm_functype_view t = {count, 0, params, NULL};
    return t;
}

/* Converts one argument for a one-parameter function of the given type. */
static bool convert_one(uint8_t type, const char *text, wasm_value *out, char *err,
                        size_t err_size)
{
    uint8_t params[1] = {type};
    call_arg arg = {"param0", text};
    return call_args_convert("f", type_of(params, 1), NULL, &arg, 1, out, err, err_size);
}

static void test_integers(void **state)
{
    (void)state;
    wasm_value v;
    char err[256];
    assert_true(convert_one(WASM_I32, "12", &v, err, sizeof err));
    assert_int_equal(v.type, WASM_I32);
    assert_int_equal(v.of.i32, 12);
    assert_true(convert_one(WASM_I32, "-5", &v, err, sizeof err));
    assert_int_equal((int32_t)v.of.i32, -5);
    assert_true(convert_one(WASM_I32, "4294967295", &v, err, sizeof err));
    assert_int_equal(v.of.i32, 0xffffffffu);
    assert_true(convert_one(WASM_I32, "-2147483648", &v, err, sizeof err));
    assert_int_equal(v.of.i32, 0x80000000u);
    assert_true(convert_one(WASM_I32, "0x10", &v, err, sizeof err));
    assert_int_equal(v.of.i32, 16);
    assert_true(convert_one(WASM_I32, "012", &v, err, sizeof err));     /* not octal */
    assert_int_equal(v.of.i32, 12);
    assert_true(convert_one(WASM_I64, "-9223372036854775808", &v, err, sizeof err));
    assert_int_equal(v.of.i64, 0x8000000000000000ull);
    assert_true(convert_one(WASM_I64, "18446744073709551615", &v, err, sizeof err));
    assert_int_equal(v.of.i64, UINT64_MAX);

    const char *bad[] = {"", " 1", "1 ", "1.5", "12x", "x", "--1", "+-1", "0x", "4294967296",
                         "-2147483649"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (convert_one(WASM_I32, bad[i], &v, err, sizeof err))
            fail_msg("'%s' was accepted as an i32", bad[i]);
        assert_non_null(strstr(err, "param0: '"));
    }
    assert_false(convert_one(WASM_I64, "18446744073709551616", &v, err, sizeof err));
    assert_false(convert_one(WASM_I64, "-9223372036854775809", &v, err, sizeof err));
    assert_string_equal(err, "param0: '-9223372036854775809' is not a whole number (64-bit) "
                             "(parameter 0 of f is i64)");
}

static void test_floats(void **state)
{
    (void)state;
    wasm_value v;
    char err[256];
    double d;
    float f;
    assert_true(convert_one(WASM_F64, "2.5", &v, err, sizeof err));
    memcpy(&d, &v.of.f64_bits, sizeof d);
    assert_true(d == 2.5);
    assert_true(convert_one(WASM_F64, "12", &v, err, sizeof err));
    memcpy(&d, &v.of.f64_bits, sizeof d);
    assert_true(d == 12.0);
    assert_true(convert_one(WASM_F32, "-0.1", &v, err, sizeof err));
    memcpy(&f, &v.of.f32_bits, sizeof f);
    assert_true(f == -0.1f);
    assert_true(convert_one(WASM_F64, "nan", &v, err, sizeof err));
    memcpy(&d, &v.of.f64_bits, sizeof d);
    assert_true(isnan(d));
    assert_true(convert_one(WASM_F64, "-inf", &v, err, sizeof err));
    memcpy(&d, &v.of.f64_bits, sizeof d);
    assert_true(isinf(d) && d < 0);
    assert_false(convert_one(WASM_F64, "1e999", &v, err, sizeof err));
    assert_false(convert_one(WASM_F64, "two", &v, err, sizeof err));
    assert_string_equal(err, "param0: 'two' is not a number (parameter 0 of f is f64)");
    assert_false(convert_one(WASM_F32, "", &v, err, sizeof err));
}

static void test_position_count_and_required(void **state)
{
    (void)state;
    uint8_t params[2] = {WASM_I32, WASM_I64};
    wasm_value out[2];
    char err[256];
    /* by position: names do not matter */
    call_arg args[3] = {{"b", "7"}, {"a", "8"}, {"c", "9"}};
    assert_true(call_args_convert("sub", type_of(params, 2), NULL, args, 2, out, err, sizeof err));
    assert_int_equal(out[0].of.i32, 7);
    assert_int_equal(out[1].type, WASM_I64);
    assert_int_equal(out[1].of.i64, 8);

    assert_false(call_args_convert("sub", type_of(params, 2), NULL, args, 3, out, err, sizeof err));
    assert_string_equal(err, "c: too many arguments: sub takes 2 parameters (i32, i64), 3 given");

    /* undescribed parameters are required */
    assert_false(call_args_convert("sub", type_of(params, 2), NULL, args, 1, out, err, sizeof err));
    assert_string_equal(err, "parameter 1: missing: sub takes 2 parameters (i32, i64), 1 given");

    /* described: required ones must come, optional ones default to 0 */
    manifest_param described[2] = {{"x", SCHEMA_INTEGER, true}, {"y", SCHEMA_INTEGER, true}};
    manifest_endpoint ep = {.params = described, .param_count = 2};
    assert_false(call_args_convert("sub", type_of(params, 2), &ep, args, 1, out, err, sizeof err));
    assert_string_equal(err, "y: missing: sub takes 2 parameters (i32, i64), 1 given");
    described[1].required = false;
    out[1].of.i64 = 99;
    assert_true(call_args_convert("sub", type_of(params, 2), &ep, args, 1, out, err, sizeof err));
    assert_int_equal(out[1].type, WASM_I64);
    assert_int_equal(out[1].of.i64, 0);

    /* no parameters, no arguments */
    assert_true(call_args_convert("get", type_of(params, 0), NULL, NULL, 0, out, err, sizeof err));
}

static void test_reference_types_cannot_be_passed(void **state)
{
    (void)state;
    uint8_t params[1] = {WASM_EXTERNREF};
    call_arg arg = {"param0", "null"};
    wasm_value out[1];
    char err[256];
    assert_false(call_args_convert("r", type_of(params, 1), NULL, &arg, 1, out, err, sizeof err));
    assert_non_null(strstr(err, "externref, which cannot be passed over HTTP"));
}

static const char *formatted(wasm_value v)
{
    static char buf[64];
    call_value_format(&v, buf, sizeof buf);
    return buf;
}

static wasm_value f64_value(double d)
{
    wasm_value v = {.type = WASM_F64};
    memcpy(&v.of.f64_bits, &d, sizeof d);
    return v;
}

static wasm_value f32_value(float f)
{
    wasm_value v = {.type = WASM_F32};
    memcpy(&v.of.f32_bits, &f, sizeof f);
    return v;
}

static void test_result_text(void **state)
{
    (void)state;
    assert_string_equal(formatted((wasm_value){.type = WASM_I32, .of.i32 = 233}), "233");
    assert_string_equal(formatted((wasm_value){.type = WASM_I32, .of.i32 = 0xffffffffu}), "-1");
    assert_string_equal(formatted((wasm_value){.type = WASM_I64, .of.i64 = 1ull << 63}),
                        "-9223372036854775808");
    assert_string_equal(formatted(f64_value(0.1)), "0.1");
    assert_string_equal(formatted(f64_value(2.5)), "2.5");
    assert_string_equal(formatted(f64_value(1.0 / 3.0)), "0.3333333333333333");
    assert_string_equal(formatted(f64_value(1e21)), "1e+21");
    assert_string_equal(formatted(f32_value(0.1f)), "0.1");
    assert_string_equal(formatted(f32_value(16777216.0f)), "16777216");
    assert_string_equal(formatted(f64_value(NAN)), "NaN");
    assert_string_equal(formatted(f64_value(-INFINITY)), "-Infinity");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_floats),
        cmocka_unit_test(test_position_count_and_required),
        cmocka_unit_test(test_reference_types_cannot_be_passed),
        cmocka_unit_test(test_result_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
