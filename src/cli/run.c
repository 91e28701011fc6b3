/*
 * run.c — `liquid run`: run a WebAssembly module on this machine.
 *
 * A WASI command runs its `_start` with the program's arguments and leaves with
 * its exit status; `--invoke` calls one export with typed arguments and prints
 * its results. The same path also suspends a call into a snapshot file and
 * resumes one from it, which is how a call moves between processes (and later
 * devices) without losing its place.
 *
 * Exit status: the program's own, 0 after --invoke, 1 for a module or link error,
 * 2 for a usage error, 75 after a suspension, 134 after a trap.
 */
#define _GNU_SOURCE
#include "cli/commands.h"
#include "wasm/wasi.h"
#include "wasm/wasm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXIT_MODULE_ERROR 1
#define EXIT_USAGE 2
#define EXIT_SUSPENDED 75     /* EX_TEMPFAIL: the work is not done, it can be resumed */
#define EXIT_TRAP 134         /* what a shell shows for abort(): 128 + SIGABRT */
#define MAX_ARGS_PER_OPTION 64

typedef struct run_options {
    const char *invoke;
    const char *dirs[MAX_ARGS_PER_OPTION];
    int dir_count;
    const char *envs[MAX_ARGS_PER_OPTION];
    int env_count;
    uint64_t fuel;
    uint64_t max_memory;
    uint64_t timeout_ms;
    uint64_t suspend_after_ms;
    bool suspend;
    const char *snapshot_path;
    const char *restore_path;
    const char *file;
    int arg_count;          /* the program's arguments, after FILE */
    char **args;
} run_options;

static void print_help(FILE *out)
{
    fprintf(out,
        "usage: liquid run [OPTIONS] FILE.wasm [ARGS...]\n"
        "\n"
        "Runs a WebAssembly module. Without --invoke, FILE must be a WASI command: its\n"
        "_start runs with argv = [FILE, ARGS...] and liquid exits with the program's exit\n"
        "status. Options go before FILE; everything after FILE is the program's.\n"
        "\n"
        "options:\n"
        "  --invoke FUNC        call the export FUNC with ARGS converted to its parameter\n"
        "                       types (i32/i64: decimal or 0x hex; f32/f64: decimal, nan,\n"
        "                       inf, -inf) and print its results, one per line; a reactor's\n"
        "                       _initialize runs first if exported\n"
        "  --dir HOST::GUEST    let the program use host directory HOST as GUEST\n"
        "                       (repeatable; --dir PATH means PATH::PATH); it cannot reach\n"
        "                       anything outside these directories\n"
        "  --env KEY=VALUE      set an environment variable for the program (repeatable)\n"
        "  --fuel N             trap after about N WebAssembly instructions\n"
        "  --max-memory BYTES   trap when linear memory would grow past BYTES (at least\n"
        "                       65536, one page)\n"
        "  --timeout MS         trap when the call runs longer than MS milliseconds\n"
        "  --suspend-after MS   interrupt the call after MS milliseconds; if it is still\n"
        "                       running, write a snapshot of the instance and the suspended\n"
        "                       call (and the program's open files) to the --snapshot\n"
        "                       file and exit 75\n"
        "  --snapshot PATH      where --suspend-after writes its snapshot (nothing is\n"
        "                       written if the call finishes first); without\n"
        "                       --suspend-after, the instance's state is saved there after\n"
        "                       the call succeeds (to --restore and --invoke later). Written\n"
        "                       to a temporary file, synced, then renamed into place\n"
        "  --restore PATH       instantiate FILE afresh, restore the snapshot PATH into it\n"
        "                       and resume its suspended call; the results or exit status\n"
        "                       are those of an uninterrupted run. Files the program had\n"
        "                       open are reopened beneath the same --dir guest paths.\n"
        "                       A snapshot without a call restores the state, then\n"
        "                       runs as usual (_start, or --invoke FUNC)\n"
        "  -h, --help           show this help\n"
        "\n"
        "exit status: the program's own (0 when _start returns); 0 after --invoke; 1 for a\n"
        "module that cannot be read, loaded or linked; 2 for a usage error; 75 when the\n"
        "call was suspended into a snapshot; 134 when it trapped (message on stderr:\n"
        "`liquid: trap: MESSAGE (function INDEX, offset 0xHEX)`).\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    fprintf(stderr, "liquid run: ");
    vfprintf(stderr, fmt, args);
    fprintf(stderr, "\n(see `liquid run --help`)\n");
    va_end(args);
    return EXIT_USAGE;
}

/* ------------------------------------------------------------ arguments */

static bool parse_u64(const char *text, uint64_t *out)
{
    if (!*text || *text == '-' || *text == '+')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 0);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

/* Splits "--name=value" or takes the next argument as the value. */
static bool option_value(int argc, char **argv, int *i, const char *name, const char **value)
{
    size_t len = strlen(name);
    if (!strncmp(argv[*i], name, len) && argv[*i][len] == '=') {
        *value = argv[*i] + len + 1;
        return true;
    }
    if (strcmp(argv[*i], name))
        return false;
    *value = *i + 1 < argc ? argv[++*i] : NULL;
    return true;
}

static int parse_options(int argc, char **argv, run_options *o)
{
    memset(o, 0, sizeof *o);
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        const char *arg = argv[i], *v = NULL;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            print_help(stdout);
            return -1;
        }
        if (!strcmp(arg, "--")) {
            i++;
            break;
        }
        bool numeric = false;
        uint64_t *number = NULL;
        if (option_value(argc, argv, &i, "--invoke", &v)) {
            o->invoke = v;
        } else if (option_value(argc, argv, &i, "--dir", &v)) {
            if (v && o->dir_count == MAX_ARGS_PER_OPTION)
                return usage_error("too many --dir options (at most %d)", MAX_ARGS_PER_OPTION);
            if (v)
                o->dirs[o->dir_count++] = v;
        } else if (option_value(argc, argv, &i, "--env", &v)) {
            if (v && !strchr(v, '='))
                return usage_error("--env needs KEY=VALUE, got '%s'", v);
            if (v && o->env_count == MAX_ARGS_PER_OPTION)
                return usage_error("too many --env options (at most %d)", MAX_ARGS_PER_OPTION);
            if (v)
                o->envs[o->env_count++] = v;
        } else if (option_value(argc, argv, &i, "--fuel", &v)) {
            numeric = true, number = &o->fuel;
        } else if (option_value(argc, argv, &i, "--max-memory", &v)) {
            numeric = true, number = &o->max_memory;
        } else if (option_value(argc, argv, &i, "--timeout", &v)) {
            numeric = true, number = &o->timeout_ms;
        } else if (option_value(argc, argv, &i, "--suspend-after", &v)) {
            numeric = true, number = &o->suspend_after_ms;
            o->suspend = true;
        } else if (option_value(argc, argv, &i, "--snapshot", &v)) {
            o->snapshot_path = v;
        } else if (option_value(argc, argv, &i, "--restore", &v)) {
            o->restore_path = v;
        } else {
            return usage_error("unknown option '%s'", arg);
        }
        if (!v)
            return usage_error("option '%s' needs a value", arg);
        if (numeric && !parse_u64(v, number))
            return usage_error("'%s' is not a non-negative whole number", v);
        if (numeric && number != &o->suspend_after_ms && *number == 0)
            return usage_error("%s must be greater than 0", arg);
    }
    if (i >= argc)
        return usage_error("missing FILE.wasm");
    if (o->max_memory && o->max_memory < 65536)
        return usage_error("--max-memory must be at least 65536 bytes (one page)");
    if (o->suspend && !o->snapshot_path)
        return usage_error("--suspend-after needs --snapshot PATH to write the snapshot to");
    o->file = argv[i];
    o->args = argv + i + 1;
    o->arg_count = argc - i - 1;
    return 0;
}

/* ------------------------------------------------------------- files */

static uint8_t *read_file(const char *path, size_t *size, const char *what)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "liquid: cannot open %s '%s': %s\n", what, path, strerror(errno));
        return NULL;
    }
    uint8_t *data = NULL;
    size_t used = 0, capacity = 0;
    for (;;) {
        if (used == capacity) {
            capacity = capacity ? capacity * 2 : 65536;
            uint8_t *grown = realloc(data, capacity);
            if (!grown) {
                fprintf(stderr, "liquid: %s '%s' is too large to read\n", what, path);
                free(data);
                fclose(f);
                return NULL;
            }
            data = grown;
        }
        size_t n = fread(data + used, 1, capacity - used, f);
        used += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        fprintf(stderr, "liquid: cannot read %s '%s': %s\n", what, path, strerror(errno));
        free(data);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *size = used;
    return data;
}

/* Write to a temporary file beside PATH, sync it, rename it over PATH: a reader
 * sees the old snapshot or the whole new one, never a torn one. */
static bool write_file_atomically(const char *path, const uint8_t *data, size_t size)
{
    size_t len = strlen(path);
    char *tmp = malloc(len + 32);
    if (!tmp)
        return false;
    snprintf(tmp, len + 32, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = fd >= 0;
    for (size_t done = 0; ok && done < size;) {
        ssize_t n = write(fd, data + done, size - done);
        if (n < 0 && errno == EINTR)
            continue;
        ok = n > 0;
        done += ok ? (size_t)n : 0;
    }
    ok = ok && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    ok = ok && rename(tmp, path) == 0;
    if (!ok) {
        fprintf(stderr, "liquid: cannot write snapshot '%s': %s\n", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return ok;
}

/* ------------------------------------------------------------- values */

static const char *type_name(uint8_t type)
{
    switch (type) {
    case WASM_I32: return "i32";
    case WASM_I64: return "i64";
    case WASM_F32: return "f32";
    case WASM_F64: return "f64";
    case WASM_V128: return "v128";
    case WASM_FUNCREF: return "funcref";
    case WASM_EXTERNREF: return "externref";
    }
    return "unknown";
}

/* Whole numbers: decimal (signed or unsigned) or 0x hex, within the type's range. */
static bool parse_integer(const char *text, int bits, uint64_t *out)
{
    errno = 0;
    char *end;
    if (text[0] == '-') {
        long long v = strtoll(text, &end, 0);
        if (errno || *end || end == text)
            return false;
        if (bits == 32 && v < INT32_MIN)
            return false;
        *out = (uint64_t)v;
        if (bits == 32)
            *out &= UINT32_MAX;
        return true;
    }
    unsigned long long v = strtoull(text, &end, 0);
    if (errno || *end || end == text || (bits == 32 && v > UINT32_MAX))
        return false;
    *out = v;
    return true;
}

static bool parse_float(const char *text, bool is_f32, wasm_value *out)
{
    errno = 0;
    char *end;
    double d = strtod(text, &end);  /* accepts nan, inf, -inf, hex floats */
    if (*end || end == text)
        return false;
    if (is_f32) {
        float f = (float)d;
        memcpy(&out->of.f32_bits, &f, 4);
    } else {
        memcpy(&out->of.f64_bits, &d, 8);
    }
    return true;
}

static bool parse_value(const char *text, uint8_t type, wasm_value *out)
{
    uint64_t bits;
    memset(out, 0, sizeof *out);
    out->type = type;
    switch (type) {
    case WASM_I32:
        if (!parse_integer(text, 32, &bits))
            return false;
        out->of.i32 = (uint32_t)bits;
        return true;
    case WASM_I64:
        return parse_integer(text, 64, &out->of.i64);
    case WASM_F32:
        return parse_float(text, true, out);
    case WASM_F64:
        return parse_float(text, false, out);
    case WASM_FUNCREF:
    case WASM_EXTERNREF:
        return !strcmp(text, "null");   /* only a null reference can be written here */
    }
    return false;
}

/* Floats print with enough digits to read back the same bits; NaNs that are not
 * the canonical one show their payload. */
static void print_float(double value, bool negative_nan, uint64_t payload, uint64_t canonical,
                        int digits)
{
    if (isnan(value)) {
        printf("%snan", negative_nan ? "-" : "");
        if (payload != canonical)
            printf(":0x%" PRIx64, payload);
        printf("\n");
    } else if (isinf(value)) {
        printf("%sinf\n", value < 0 ? "-" : "");
    } else {
        printf("%.*g\n", digits, value);
    }
}

static void print_value(const wasm_value *v)
{
    switch (v->type) {
    case WASM_I32:
        printf("%" PRId32 "\n", (int32_t)v->of.i32);
        break;
    case WASM_I64:
        printf("%" PRId64 "\n", (int64_t)v->of.i64);
        break;
    case WASM_F32: {
        float f;
        memcpy(&f, &v->of.f32_bits, 4);
        print_float(f, v->of.f32_bits >> 31, v->of.f32_bits & 0x7fffffu, 0x400000u, 9);
        break;
    }
    case WASM_F64: {
        double d;
        memcpy(&d, &v->of.f64_bits, 8);
        print_float(d, v->of.f64_bits >> 63, v->of.f64_bits & UINT64_C(0xfffffffffffff),
                    UINT64_C(0x8000000000000), 17);
        break;
    }
    case WASM_FUNCREF:
        printf(v->of.funcref ? "funcref\n" : "null\n");
        break;
    case WASM_EXTERNREF:
        printf(v->of.externref ? "externref\n" : "null\n");
        break;
    default:
        printf("(%s)\n", type_name(v->type));
    }
}

/* ----------------------------------------------------- suspension timer */

/* A thread that interrupts the call after a delay, unless told the call ended. */
typedef struct suspend_timer {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool done;
    bool started;
    uint64_t delay_ms;
    wasm_exec *exec;
} suspend_timer;

static void *suspend_timer_main(void *arg)
{
    suspend_timer *t = arg;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += (time_t)(t->delay_ms / 1000);
    deadline.tv_nsec += (long)(t->delay_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&t->lock);
    int rc = 0;
    while (!t->done && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&t->wake, &t->lock, &deadline);
    if (!t->done)
        wasm_exec_interrupt(t->exec);
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

static bool suspend_timer_start(suspend_timer *t, wasm_exec *exec, uint64_t delay_ms)
{
    memset(t, 0, sizeof *t);
    t->exec = exec;
    t->delay_ms = delay_ms;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->wake, NULL);
    t->started = pthread_create(&t->thread, NULL, suspend_timer_main, t) == 0;
    if (!t->started)
        fprintf(stderr, "liquid: cannot start the suspension timer\n");
    return t->started;
}

static void suspend_timer_stop(suspend_timer *t)
{
    if (!t->started)
        return;
    pthread_mutex_lock(&t->lock);
    t->done = true;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->wake);
    t->started = false;
}

/* ------------------------------------------------------- snapshot files */

/* A snapshot file holds the engine's snapshot (instance and suspended call) and
 * the WASI state (the guest's open files), so a program resumes with its files:
 *   "LQSNAP1\0", u64 little-endian engine size, engine bytes, WASI bytes.
 * A file without this header is taken as a bare engine snapshot. */
#define SNAPSHOT_FILE_MAGIC "LQSNAP1"
#define SNAPSHOT_FILE_HEADER 16

static uint8_t *pack_snapshot(const uint8_t *engine, size_t engine_size, const uint8_t *wasi,
                              size_t wasi_size, size_t *out_size)
{
    uint8_t *out = malloc(SNAPSHOT_FILE_HEADER + engine_size + wasi_size);
    if (!out)
        return NULL;
    memcpy(out, SNAPSHOT_FILE_MAGIC, 8);    /* with its NUL */
    for (int i = 0; i < 8; i++)
        out[8 + i] = (uint8_t)((uint64_t)engine_size >> (8 * i));
    memcpy(out + SNAPSHOT_FILE_HEADER, engine, engine_size);
    memcpy(out + SNAPSHOT_FILE_HEADER + engine_size, wasi, wasi_size);
    *out_size = SNAPSHOT_FILE_HEADER + engine_size + wasi_size;
    return out;
}

/* Splits a snapshot file; false if its header claims more than it holds. */
static bool unpack_snapshot(const uint8_t *data, size_t size, const uint8_t **engine,
                            size_t *engine_size, const uint8_t **wasi, size_t *wasi_size)
{
    *engine = data;
    *engine_size = size;
    *wasi = NULL;
    *wasi_size = 0;
    if (size < SNAPSHOT_FILE_HEADER || memcmp(data, SNAPSHOT_FILE_MAGIC, 8))
        return true;
    uint64_t n = 0;
    for (int i = 0; i < 8; i++)
        n |= (uint64_t)data[8 + i] << (8 * i);
    if (n > size - SNAPSHOT_FILE_HEADER)
        return false;
    *engine = data + SNAPSHOT_FILE_HEADER;
    *engine_size = (size_t)n;
    *wasi = *engine + n;
    *wasi_size = size - SNAPSHOT_FILE_HEADER - (size_t)n;
    return true;
}

/* ------------------------------------------------------------- running */

typedef struct run_state {
    run_options *options;
    wasm_module *module;
    wasm_store *store;
    wasm_linker *linker;
    wasi_ctx *wasi;
    wasm_instance *instance;
    wasm_exec *exec;
    wasm_exec_limits limits;
} run_state;

static void report_error(const char *file, const wasm_error *err)
{
    fprintf(stderr, "liquid: %s: %s: %s", file, wasm_error_kind_name(err->kind), err->message);
    if (err->has_offset)
        fprintf(stderr, " (at byte offset 0x%zx)", err->offset);
    fprintf(stderr, "\n");
}

static int report_trap(const wasm_trap *trap)
{
    if (trap->kind == WASM_TRAP_EXIT)
        return trap->exit_code;
    fflush(stdout);
    const char *message = trap->message[0] ? trap->message : wasm_trap_kind_name(trap->kind);
    fprintf(stderr, "liquid: trap: %s", message);
    if (trap->has_location)
        fprintf(stderr, " (function %" PRIu32 ", offset 0x%" PRIx32 ")", trap->func_index,
                trap->offset);
    fprintf(stderr, "\n");
    return EXIT_TRAP;
}

static bool configure_wasi(run_state *s)
{
    run_options *o = s->options;
    wasm_error err = {0};
    s->wasi = wasi_ctx_new();
    if (!s->wasi)
        return false;
    bool ok = wasi_ctx_add_arg(s->wasi, o->file);
    for (int i = 0; ok && !o->invoke && i < o->arg_count; i++)
        ok = wasi_ctx_add_arg(s->wasi, o->args[i]);
    for (int i = 0; ok && i < o->env_count; i++)
        ok = wasi_ctx_add_env(s->wasi, o->envs[i]);
    if (!ok) {
        fprintf(stderr, "liquid: out of memory\n");
        return false;
    }
    wasi_ctx_set_stdin(s->wasi, STDIN_FILENO);
    for (int i = 0; i < o->dir_count; i++) {
        /* HOST::GUEST, or one path meaning both. */
        const char *spec = o->dirs[i], *sep = strstr(spec, "::");
        char *host = sep ? strndup(spec, (size_t)(sep - spec)) : strdup(spec);
        const char *guest = sep ? sep + 2 : spec;
        ok = host && *host && *guest && wasi_ctx_preopen_dir(s->wasi, host, guest, &err);
        free(host);
        if (!ok) {
            if (err.kind)
                fprintf(stderr, "liquid: --dir %s: %s\n", spec, err.message);
            else
                fprintf(stderr, "liquid: --dir %s: expected HOST::GUEST or PATH\n", spec);
            return false;
        }
    }
    return true;
}

static int setup(run_state *s)
{
    run_options *o = s->options;
    wasm_error err = {0};
    size_t size;
    uint8_t *bytes = read_file(o->file, &size, "module");
    if (!bytes)
        return EXIT_MODULE_ERROR;
    s->module = wasm_module_load(bytes, size, &err);
    free(bytes);
    if (!s->module) {
        report_error(o->file, &err);
        return EXIT_MODULE_ERROR;
    }
    if (!configure_wasi(s))
        return EXIT_USAGE;
    s->store = wasm_store_new();
    s->linker = s->store ? wasm_linker_new(s->store) : NULL;
    if (!s->linker || !wasi_link(s->wasi, s->linker, &err)) {
        report_error(o->file, &err);
        return EXIT_MODULE_ERROR;
    }
    s->limits.fuel = o->fuel;
    s->limits.timeout_ms = o->timeout_ms;
    wasm_instance_limits instance_limits = {
        .max_memory_pages = (uint32_t)(o->max_memory / 65536 > UINT32_MAX
                                           ? UINT32_MAX
                                           : o->max_memory / 65536),
    };
    s->instance = wasm_instantiate(s->store, s->module, s->linker, &instance_limits,
                                   &s->limits, &err);
    if (!s->instance) {
        report_error(o->file, &err);
        return EXIT_MODULE_ERROR;
    }
    s->exec = wasm_exec_new(s->store, &s->limits);
    if (!s->exec) {
        fprintf(stderr, "liquid: out of memory\n");
        return EXIT_MODULE_ERROR;
    }
    return 0;
}

static void teardown(run_state *s)
{
    if (s->exec)
        wasm_exec_free(s->exec);
    if (s->linker)
        wasm_linker_free(s->linker);
    if (s->store)
        wasm_store_free(s->store);
    wasi_ctx_free(s->wasi);
    if (s->module)
        wasm_module_free(s->module);
}

/* The names of the exported functions, for a helpful "no such export" message. */
static void list_exported_functions(const wasm_module *module)
{
    fprintf(stderr, "exported functions:");
    int listed = 0;
    for (uint32_t i = 0; i < wasm_module_export_count(module); i++) {
        wasm_extern_info info;
        if (wasm_module_export(module, i, &info) && info.kind == WASM_EXTERN_FUNC) {
            fprintf(stderr, " %s", info.name);
            listed++;
        }
    }
    fprintf(stderr, listed ? "\n" : " (none)\n");
}

static int convert_arguments(const run_options *o, const wasm_func *func, wasm_value *args)
{
    wasm_functype_view type = wasm_func_type(func);
    if ((uint32_t)o->arg_count != type.param_count) {
        fprintf(stderr, "liquid run: %s takes %" PRIu32 " argument%s (", o->invoke,
                type.param_count, type.param_count == 1 ? "" : "s");
        for (uint32_t i = 0; i < type.param_count; i++)
            fprintf(stderr, "%s%s", i ? " " : "", type_name(type.params[i]));
        fprintf(stderr, "), %d given\n", o->arg_count);
        return EXIT_USAGE;
    }
    for (uint32_t i = 0; i < type.param_count; i++)
        if (!parse_value(o->args[i], type.params[i], &args[i])) {
            fprintf(stderr, "liquid run: argument %" PRIu32 " of %s, '%s', is not a valid %s\n",
                    i + 1, o->invoke, o->args[i], type_name(type.params[i]));
            return EXIT_USAGE;
        }
    return 0;
}

/* Saves the instance, the guest's open files and, if it is suspended, the call
 * to the --snapshot file. */
static int write_snapshot(run_state *s, bool suspended)
{
    wasm_error err = {0};
    uint8_t *engine = NULL, *wasi_state = NULL, *file = NULL;
    size_t engine_size = 0, wasi_size = 0, file_size = 0;
    if (!wasm_snapshot_save(s->instance, suspended ? s->exec : NULL, &engine, &engine_size,
                            &err) ||
        !wasi_ctx_save(s->wasi, &wasi_state, &wasi_size, &err)) {
        report_error(s->options->file, &err);
        free(engine);
        return EXIT_MODULE_ERROR;
    }
    file = pack_snapshot(engine, engine_size, wasi_state, wasi_size, &file_size);
    if (!file)
        fprintf(stderr, "liquid: out of memory writing the snapshot\n");
    bool written = file && write_file_atomically(s->options->snapshot_path, file, file_size);
    free(engine);
    free(wasi_state);
    free(file);
    if (!written)
        return EXIT_MODULE_ERROR;
    fprintf(stderr, "%ssnapshot written to %s\n", suspended ? "suspended: " : "",
            s->options->snapshot_path);
    return suspended ? EXIT_SUSPENDED : 0;
}

/* After the call ended (or suspended): results, exit status, trap or snapshot. */
static int finish(run_state *s, wasm_status status)
{
    fflush(stdout);
    if (status == WASM_STATUS_TRAP)
        return report_trap(wasm_exec_trap(s->exec));
    if (status == WASM_STATUS_SUSPENDED) {
        if (s->options->snapshot_path)
            return write_snapshot(s, true);
        fprintf(stderr, "liquid: the call was suspended without being asked to\n");
        return EXIT_TRAP;
    }
    wasm_value results[64];
    uint32_t count = wasm_exec_results(s->exec, results, 64);
    for (uint32_t i = 0; i < count && i < 64; i++)
        print_value(&results[i]);
    fflush(stdout);
    /* With --suspend-after, a call that finished first is just a normal run. */
    bool save_state = s->options->snapshot_path && !s->options->suspend;
    return save_state ? write_snapshot(s, false) : 0;
}

/* Runs the call (a fresh one, or the restored one) under the suspension timer. */
static wasm_status run_call(run_state *s, wasm_func *func, const wasm_value *args,
                            uint32_t count, bool resume)
{
    suspend_timer timer;
    bool timed = s->options->suspend && suspend_timer_start(&timer, s->exec,
                                                             s->options->suspend_after_ms);
    wasm_status status = resume ? wasm_exec_resume(s->exec)
                                : wasm_exec_call(s->exec, func, args, count);
    if (timed)
        suspend_timer_stop(&timer);
    return status;
}

static int restore_snapshot(run_state *s, bool *resumed, int *exit_status)
{
    size_t size;
    wasm_error err = {0};
    uint8_t *data = read_file(s->options->restore_path, &size, "snapshot");
    if (!data)
        return EXIT_MODULE_ERROR;
    const uint8_t *engine, *wasi;
    size_t engine_size, wasi_size;
    bool has_call = false, ok = unpack_snapshot(data, size, &engine, &engine_size, &wasi,
                                                &wasi_size);
    if (!ok) {
        err.kind = WASM_ERR_SNAPSHOT;
        snprintf(err.message, sizeof err.message, "the file is truncated");
    } else {
        has_call = wasm_snapshot_has_call(engine, engine_size);
        ok = wasm_snapshot_restore(s->instance, has_call ? s->exec : NULL, engine,
                                   engine_size, &err);
        /* The guest's files reopen beneath the --dir preopens of this run. */
        ok = ok && (!wasi || wasi_ctx_restore(s->wasi, wasi, wasi_size, &err));
    }
    free(data);
    if (!ok) {
        fprintf(stderr, "liquid: cannot restore snapshot '%s' into %s: %s: %s\n",
                s->options->restore_path, s->options->file, wasm_error_kind_name(err.kind),
                err.message);
        return EXIT_MODULE_ERROR;
    }
    *resumed = has_call;
    if (has_call)
        *exit_status = finish(s, run_call(s, NULL, NULL, 0, true));
    return 0;
}

static int invoke_or_start(run_state *s)
{
    run_options *o = s->options;
    const char *name = o->invoke ? o->invoke : "_start";
    wasm_func *func = wasm_instance_export_func(s->instance, name);
    if (!func) {
        fprintf(stderr, "liquid: %s has no exported function '%s'%s\n", o->file, name,
                o->invoke ? "" : " (not a WASI command; use --invoke FUNC for a reactor)");
        list_exported_functions(s->module);
        return o->invoke ? EXIT_USAGE : EXIT_MODULE_ERROR;
    }
    wasm_value args[64];
    if (o->invoke) {
        wasm_functype_view type = wasm_func_type(func);
        if (type.param_count > 64) {
            fprintf(stderr, "liquid run: %s takes too many parameters\n", name);
            return EXIT_USAGE;
        }
        int rc = convert_arguments(o, func, args);
        if (rc)
            return rc;
        /* A reactor sets itself up in _initialize before any other export is used,
         * but a restored instance has been set up already. */
        wasm_func *init = o->restore_path ? NULL
                                          : wasm_instance_export_func(s->instance, "_initialize");
        if (init) {
            wasm_status status = wasm_exec_call(s->exec, init, NULL, 0);
            if (status != WASM_STATUS_OK)
                return finish(s, status);
        }
    }
    wasm_status status = run_call(s, func, args, o->invoke ? (uint32_t)o->arg_count : 0, false);
    return finish(s, status);
}

int command_run(int argc, char **argv)
{
    run_options options;
    int rc = parse_options(argc, argv, &options);
    if (rc)
        return rc < 0 ? 0 : rc;
    run_state state = {.options = &options};
    rc = setup(&state);
    if (!rc) {
        bool resumed = false;
        int exit_status = 0;
        if (options.restore_path)
            rc = restore_snapshot(&state, &resumed, &exit_status);
        if (!rc)
            rc = resumed ? exit_status : invoke_or_start(&state);
    }
    fflush(stdout);
    teardown(&state);
    return rc;
}
