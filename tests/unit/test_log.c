/*
 * test_log.c — the log line format, levels, quoting, sinks, and whole lines from
 * many threads at once.
 */
#define _GNU_SOURCE   /* strptime, timegm */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/log.h"

#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- stderr capture: fd 2 goes to a temporary file while a test logs */

typedef struct capture {
    char path[256];
    int saved_stderr;
} capture;

static void capture_begin(capture *c)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(c->path, sizeof c->path, "%s/liquid-log-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(c->path);
    assert_true(fd >= 0);
    fflush(stderr);
    c->saved_stderr = dup(2);
    /* O_APPEND, as a log file opened by a service manager would be. */
    int append = open(c->path, O_WRONLY | O_APPEND);
    dup2(append, 2);
    close(append);
    close(fd);
}

/* Restores stderr and returns what was written (caller frees). */
static char *capture_end(capture *c)
{
    fflush(stderr);
    dup2(c->saved_stderr, 2);
    close(c->saved_stderr);
    FILE *in = fopen(c->path, "rb");
    assert_non_null(in);
    fseek(in, 0, SEEK_END);
    long size = ftell(in);
    fseek(in, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    size_t got = fread(text, 1, (size_t)size, in);
    text[got] = '\0';
    fclose(in);
    unlink(c->path);
    return text;
}

static void assert_matches(const char *text, const char *pattern)
{
    regex_t re;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    int rc = regexec(&re, text, 0, NULL, 0);
    regfree(&re);
    if (rc != 0)
        fail_msg("'%s' does not match /%s/", text, pattern);
}

static int reset_level(void **state)
{
    (void)state;
    log_set_level(LOG_INFO);
    return 0;
}

static void test_line_format(void **state)
{
    (void)state;
    capture c;
    capture_begin(&c);
    time_t before = time(NULL);
    log_info("deploy.ready", "deployment=%s module=%s", "66ab01", "fibo");
    time_t after = time(NULL);
    char *text = capture_end(&c);
    assert_matches(text, "^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
                         "level=info event=deploy\\.ready deployment=66ab01 module=fibo\n$");
    /* The timestamp is UTC and now. */
    struct tm tm = {0};
    assert_non_null(strptime(text + 3, "%Y-%m-%dT%H:%M:%S", &tm));
    time_t logged = timegm(&tm);
    assert_true(logged >= before - 1 && logged <= after + 1);
    free(text);
}

static void test_levels_filter(void **state)
{
    (void)state;
    capture c;
    capture_begin(&c);
    log_set_level(LOG_WARN);
    log_info("hidden", "x=1");
    log_debug("hidden", "x=2");
    log_warn("shown", "x=3");
    log_error("shown", "x=4");
    log_event(LOG_WARN, "no.fields", "%s", "");
    char *text = capture_end(&c);
    assert_null(strstr(text, "hidden"));
    assert_non_null(strstr(text, "level=warn event=shown x=3\n"));
    assert_non_null(strstr(text, "level=error event=shown x=4\n"));
    assert_non_null(strstr(text, "level=warn event=no.fields\n"));
    free(text);

    log_level level;
    assert_true(log_parse_level("DEBUG", &level));
    assert_int_equal(level, LOG_DEBUG);
    assert_true(log_parse_level("warning", &level));
    assert_int_equal(level, LOG_WARN);
    assert_false(log_parse_level("loud", &level));
    assert_string_equal(log_level_name(LOG_ERROR), "error");
}

static void test_quoting(void **state)
{
    (void)state;
    assert_string_equal(log_quote("plain-value_1.2"), "plain-value_1.2");
    assert_string_equal(log_quote(""), "\"\"");
    assert_string_equal(log_quote("two words"), "\"two words\"");
    assert_string_equal(log_quote("say \"hi\""), "\"say \\\"hi\\\"\"");
    assert_string_equal(log_quote("a=b"), "\"a=b\"");
    assert_string_equal(log_quote("line\nbreak\ttab"), "\"line\\nbreak\\ttab\"");
    assert_string_equal(log_quote("\x01"), "\"\\x01\"");
    assert_string_equal(log_quote(NULL), "null");
    /* Eight quoted values can be used in one call. */
    const char *q[8];
    char inputs[8][16];
    for (int i = 0; i < 8; i++) {
        snprintf(inputs[i], sizeof inputs[i], "value %d", i);
        q[i] = log_quote(inputs[i]);
    }
    for (int i = 0; i < 8; i++) {
        char expected[20];
        snprintf(expected, sizeof expected, "\"value %d\"", i);
        assert_string_equal(q[i], expected);
    }
    /* A very long value is cut, still quoted and marked. */
    char long_value[2000];
    memset(long_value, 'x', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = '\0';
    long_value[5] = ' ';
    const char *cut = log_quote(long_value);
    size_t n = strlen(cut);
    assert_true(n < 600);
    assert_int_equal(cut[0], '"');
    assert_int_equal(cut[n - 1], '"');
    assert_non_null(strstr(cut, "...\""));
}

static void test_unquoted_control_characters_stay_on_one_line(void **state)
{
    (void)state;
    capture c;
    capture_begin(&c);
    log_info("bad.fields", "error=%s", "first\nsecond");
    char *text = capture_end(&c);
    assert_int_equal(strchr(text, '\n') - text, (long)strlen(text) - 1);
    free(text);
}

typedef struct seen {
    int calls;
    char last_line[512];
    char last_event[64];
    log_level last_level;
} seen;

static void record_sink(log_level level, const char *event, const char *line, void *user)
{
    seen *s = user;
    s->calls++;
    s->last_level = level;
    snprintf(s->last_line, sizeof s->last_line, "%s", line);
    snprintf(s->last_event, sizeof s->last_event, "%s", event);
}

static void logging_sink(log_level level, const char *event, const char *line, void *user)
{
    (void)level;
    (void)line;
    seen *s = user;
    s->calls++;
    /* A sink that logs (say, about a failed forward) must not call itself. */
    log_warn("sink.echo", "of=%s", event);
}

static void test_sinks(void **state)
{
    (void)state;
    seen all = {0}, errors = {0};
    log_add_sink(record_sink, LOG_DEBUG, &all);
    log_add_sink(record_sink, LOG_ERROR, &errors);
    capture c;
    capture_begin(&c);
    log_info("request.done", "request=%s", "abc");
    log_error("request.failed", "request=%s", "def");
    log_debug("below.level", "x=1");   /* below the global level: no sink sees it */
    log_remove_sink(record_sink, &all);
    log_info("after.removal", "x=1");
    log_remove_sink(record_sink, &errors);

    seen echo = {0};
    log_add_sink(logging_sink, LOG_INFO, &echo);
    log_info("outer", "x=1");
    log_remove_sink(logging_sink, &echo);
    char *text = capture_end(&c);

    assert_int_equal(all.calls, 2);
    assert_int_equal(errors.calls, 1);
    assert_string_equal(errors.last_event, "request.failed");
    assert_int_equal(errors.last_level, LOG_ERROR);
    /* A sink gets the line as written, without the newline. */
    assert_matches(errors.last_line, "^ts=[^ ]+ level=error event=request\\.failed request=def$");
    assert_non_null(strstr(text, errors.last_line));
    assert_int_equal(echo.calls, 1);
    assert_non_null(strstr(text, "event=sink.echo of=outer"));
    assert_non_null(strstr(text, "event=after.removal"));
    free(text);
}

enum { THREADS = 8, LINES = 400 };

static void *log_many(void *arg)
{
    int id = (int)(intptr_t)arg;
    static char xs[6001];
    memset(xs, 'x', 6000);   /* same bytes from every thread: a benign race */
    char padding[700];
    for (int i = 0; i < LINES; i++) {
        /* Lines of very different lengths, some longer than the stack buffer and
         * some longer than PIPE_BUF (4096), which a pipe does not keep whole. */
        size_t n = (size_t)((i * 37 + id * 11) % 600);
        memset(padding, 'a' + id, n);
        padding[n] = '\0';
        log_info("load.line", "thread=%d i=%d pad=%s%s", id, i, padding, i % 25 == 0 ? xs : "");
    }
    return NULL;
}

/* Drains a pipe into a growing buffer until it closes. */
typedef struct drain {
    int fd;
    char *data;
    size_t size, capacity;
} drain;

static void *drain_pipe(void *arg)
{
    drain *d = arg;
    for (;;) {
        if (d->capacity - d->size < 65536) {
            d->capacity = d->capacity ? d->capacity * 2 : 1 << 20;
            d->data = realloc(d->data, d->capacity);
        }
        ssize_t n = read(d->fd, d->data + d->size, d->capacity - d->size - 1);
        if (n <= 0)
            break;
        d->size += (size_t)n;
    }
    d->data[d->size] = '\0';
    return NULL;
}

static void test_lines_from_threads_never_interleave(void **state)
{
    (void)state;
    /* stderr is a pipe here, the case where long writes could interleave. */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    drain d = {.fd = fds[0]};
    pthread_t reader;
    pthread_create(&reader, NULL, drain_pipe, &d);
    fflush(stderr);
    int saved = dup(2);
    dup2(fds[1], 2);
    close(fds[1]);
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++)
        pthread_create(&threads[t], NULL, log_many, (void *)(intptr_t)t);
    for (int t = 0; t < THREADS; t++)
        pthread_join(threads[t], NULL);
    dup2(saved, 2);   /* closes the pipe's last write end */
    close(saved);
    pthread_join(reader, NULL);
    close(fds[0]);
    char *text = d.data;

    static bool got[THREADS][LINES];
    memset(got, 0, sizeof got);
    regex_t re;
    assert_int_equal(regcomp(&re, "^ts=[^ ]+ level=info event=load\\.line thread=([0-9]+) "
                                  "i=([0-9]+) pad=([a-z]*)$", REG_EXTENDED), 0);
    int lines = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        regmatch_t m[4];
        if (regexec(&re, line, 4, m, 0) != 0)
            fail_msg("mangled line: %.120s", line);
        int thread = atoi(line + m[1].rm_so);
        int i = atoi(line + m[2].rm_so);
        assert_true(thread >= 0 && thread < THREADS && i >= 0 && i < LINES);
        assert_false(got[thread][i]);
        got[thread][i] = true;
        /* The padding is one thread's letter only. */
        for (regoff_t k = m[3].rm_so; k < m[3].rm_eo; k++)
            if (line[k] != 'a' + thread && line[k] != 'x')
                fail_msg("line of thread %d holds another thread's bytes", thread);
        assert_int_equal(m[3].rm_eo - m[3].rm_so, (i * 37 + thread * 11) % 600 +
                                                      (i % 25 == 0 ? 6000 : 0));
        lines++;
    }
    regfree(&re);
    assert_int_equal(lines, THREADS * LINES);
    free(text);
}

static void test_huge_fields_are_cut(void **state)
{
    (void)state;
    size_t size = 100000;
    char *body = malloc(size + 1);
    memset(body, 'b', size);
    body[size] = '\0';
    capture c;
    capture_begin(&c);
    log_info("big.body", "body=%s", body);
    char *text = capture_end(&c);
    size_t n = strlen(text);
    assert_true(n < 17 * 1024);
    assert_non_null(strstr(text, "event=big.body body=bbbb"));
    assert_int_equal(text[n - 1], '\n');
    assert_memory_equal(text + n - 4, "...", 3);
    free(text);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_line_format, reset_level),
        cmocka_unit_test_setup(test_levels_filter, reset_level),
        cmocka_unit_test_setup(test_quoting, reset_level),
        cmocka_unit_test_setup(test_unquoted_control_characters_stay_on_one_line, reset_level),
        cmocka_unit_test_setup(test_sinks, reset_level),
        cmocka_unit_test_setup(test_lines_from_threads_never_interleave, reset_level),
        cmocka_unit_test_setup(test_huge_fields_are_cut, reset_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
