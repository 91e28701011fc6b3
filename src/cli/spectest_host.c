/*
 * spectest_host.c — the `spectest` module the spec suite's tests import.
 *
 * Its contents are fixed by the suite (the reference interpreter's spectest.ml):
 * print functions of several signatures, four immutable globals holding 666 or
 * 666.6, a funcref table of 10..20 elements and a memory of 1..2 pages. The print
 * functions are silent unless --verbose: tests call them, they check nothing.
 */
#include "cli/spectest.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct spectest_printer {
    const char *name;
    const char *params;             /* signature letters; no results */
    bool verbose;
} spectest_printer;

static const struct {
    const char *name;
    const char *params;
} print_functions[] = {
    {"print", ""},           {"print_i32", "i"},      {"print_i64", "I"},
    {"print_f32", "f"},      {"print_f64", "F"},      {"print_i32_f32", "if"},
    {"print_f64_f64", "FF"},
};

#define PRINT_FUNCTION_COUNT (sizeof print_functions / sizeof print_functions[0])

struct spectest_host {
    spectest_printer printers[PRINT_FUNCTION_COUNT];
};

static void print_argument(char letter, wasm_slot slot)
{
    uint32_t low = (uint32_t)slot;
    float f32;
    double f64;
    switch (letter) {
    case 'i':
        printf("%" PRId32, (int32_t)low);
        break;
    case 'I':
        printf("%" PRId64, (int64_t)slot);
        break;
    case 'f':
        memcpy(&f32, &low, sizeof f32);
        printf("%.9g", (double)f32);
        break;
    case 'F':
        memcpy(&f64, &slot, sizeof f64);
        printf("%.17g", f64);
        break;
    }
}

static int spectest_print(wasm_host_call *call, const wasm_slot *args, wasm_slot *results,
                          void *user)
{
    (void)call;
    (void)results;
    const spectest_printer *printer = user;
    if (!printer->verbose)
        return 0;
    printf("spectest.%s(", printer->name);
    for (size_t i = 0; printer->params[i]; i++) {
        if (i)
            printf(", ");
        print_argument(printer->params[i], args[i]);
    }
    printf(")\n");
    return 0;
}

static bool define_globals(wasm_linker *linker, wasm_error *err)
{
    float f32 = 666.6f;
    double f64 = 666.6;
    wasm_value i32_value = {.type = WASM_I32, .of.i32 = 666};
    wasm_value i64_value = {.type = WASM_I64, .of.i64 = 666};
    wasm_value f32_value = {.type = WASM_F32};
    wasm_value f64_value = {.type = WASM_F64};
    memcpy(&f32_value.of.f32_bits, &f32, sizeof f32);
    memcpy(&f64_value.of.f64_bits, &f64, sizeof f64);
    return wasm_linker_define_global(linker, "spectest", "global_i32", &i32_value, false, err) &&
           wasm_linker_define_global(linker, "spectest", "global_i64", &i64_value, false, err) &&
           wasm_linker_define_global(linker, "spectest", "global_f32", &f32_value, false, err) &&
           wasm_linker_define_global(linker, "spectest", "global_f64", &f64_value, false, err);
}

spectest_host *spectest_host_define(wasm_linker *linker, bool verbose, wasm_error *err)
{
    spectest_host *host = calloc(1, sizeof *host);
    if (!host) {
        snprintf(err->message, sizeof err->message, "out of memory");
        err->kind = WASM_ERR_NOMEM;
        return NULL;
    }
    for (size_t i = 0; i < PRINT_FUNCTION_COUNT; i++) {
        spectest_printer *printer = &host->printers[i];
        printer->name = print_functions[i].name;
        printer->params = print_functions[i].params;
        printer->verbose = verbose;
        if (!wasm_linker_define_func(linker, "spectest", printer->name, printer->params, "",
                                     spectest_print, printer, err))
            goto fail;
    }
    if (!define_globals(linker, err) ||
        !wasm_linker_define_table(linker, "spectest", "table", WASM_FUNCREF, 10, true, 20, err) ||
        !wasm_linker_define_memory(linker, "spectest", "memory", 1, true, 2, err))
        goto fail;
    return host;
fail:
    free(host);
    return NULL;
}

void spectest_host_free(spectest_host *host)
{
    free(host);
}
