/*
 * client.c — options every client verb shares, and calls to the orchestrator that
 * turn each failure into one sentence saying what to do.
 */
#include "cli/client.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TIMEOUT_MS 60000L

static bool set_base_url(client *c, const char *url, const char *from)
{
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        fprintf(stderr,
                "liquid: the orchestrator URL '%s' (from %s) must start with http:// or "
                "https://, e.g. %s\n",
                url, from, CLIENT_DEFAULT_URL);
        return false;
    }
    size_t len = strlen(url);
    while (len > 0 && url[len - 1] == '/')
        len--;
    if (len >= sizeof c->base_url) {
        fprintf(stderr, "liquid: the orchestrator URL (from %s) is too long\n", from);
        return false;
    }
    memcpy(c->base_url, url, len);
    c->base_url[len] = '\0';
    return true;
}

bool client_options_parse(client *c, int *argc, char **argv)
{
    memset(c, 0, sizeof *c);
    c->timeout_ms = DEFAULT_TIMEOUT_MS;
    const char *env = getenv("LIQUID_ORCHESTRATOR_URL");
    if (env && *env) {
        if (!set_base_url(c, env, "LIQUID_ORCHESTRATOR_URL"))
            return false;
    } else {
        set_base_url(c, CLIENT_DEFAULT_URL, "the default");
    }
    int kept = 1;
    for (int i = 1; i < *argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--")) {   /* the rest is positional, as given */
            while (i < *argc)
                argv[kept++] = argv[i++];
            break;
        }
        if (!strcmp(arg, "--json")) {
            c->json = true;
        } else if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            c->help = true;
        } else if (!strcmp(arg, "--orchestrator") || !strcmp(arg, "-o")) {
            if (i + 1 >= *argc) {
                fprintf(stderr, "liquid: %s needs a URL, e.g. %s\n", arg, CLIENT_DEFAULT_URL);
                return false;
            }
            if (!set_base_url(c, argv[++i], "--orchestrator"))
                return false;
        } else if (!strncmp(arg, "--orchestrator=", 15)) {
            if (!set_base_url(c, arg + 15, "--orchestrator"))
                return false;
        } else {
            argv[kept++] = argv[i];
        }
    }
    *argc = kept;
    argv[kept] = NULL;
    return true;
}

const char *client_option_value(int argc, char **argv, int *i, const char *name)
{
    const char *arg = argv[*i];
    size_t len = strlen(name);
    if (strncmp(arg, name, len) != 0)
        return NULL;
    if (arg[len] == '=') {
        (*i)++;
        return arg + len + 1;
    }
    if (arg[len] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "liquid: %s needs a value\n", name);
        exit(CLIENT_EXIT_USAGE);
    }
    *i += 2;
    return argv[*i - 1];
}

int client_usage_error(const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("liquid: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: %s\n", usage);
    return CLIENT_EXIT_USAGE;
}

int client_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("liquid: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLIENT_EXIT_FAILED;
}

char *client_path(const char *fmt, ...)
{
    /* Each %s becomes one encoded segment; everything else is copied. */
    size_t cap = strlen(fmt) + 1, len = 0;
    char *out = malloc(cap);
    va_list ap;
    va_start(ap, fmt);
    for (const char *p = fmt; out && *p; p++) {
        const char *piece = NULL;
        char *encoded = NULL;
        char single[2] = {*p, 0};
        if (p[0] == '%' && p[1] == 's') {
            encoded = http_url_encode(va_arg(ap, const char *));
            piece = encoded ? encoded : "";
            p++;
        } else {
            piece = single;
        }
        size_t n = strlen(piece);
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            char *grown = realloc(out, cap);
            if (!grown) {
                free(out);
                out = NULL;
            } else {
                out = grown;
            }
        }
        if (out) {
            memcpy(out + len, piece, n);
            len += n;
        }
        free(encoded);
    }
    va_end(ap);
    if (!out) {
        fprintf(stderr, "liquid: out of memory\n");
        exit(CLIENT_EXIT_FAILED);
    }
    out[len] = '\0';
    return out;
}

/* The orchestrator's own words from an error answer: the Wasm-IoT body
 * {"errorText", "error"}, the reference's {"err"} / {"error"} variants, or the text. */
static char *error_text_of(const http_result *answer)
{
    json_t *doc = http_result_json(answer);
    char *text = NULL;
    if (json_is_object(doc)) {
        static const char *const keys[] = {"errorText", "error", "err", "message", "result"};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0] && !text; i++) {
            json_t *value = json_object_get(doc, keys[i]);
            if (json_is_string(value) && json_string_length(value) > 0)
                text = strdup(json_string_value(value));
        }
    }
    json_decref(doc);
    if (!text && answer->body && answer->size > 0) {
        size_t n = answer->size > 400 ? 400 : answer->size;
        text = strndup(answer->body, n);
        for (char *p = text; p && *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
    }
    return text ? text : strdup("(no details)");
}

static bool check_answer(const client *c, const char *method, const char *path, bool sent,
                         http_result *out)
{
    if (!sent) {
        fprintf(stderr,
                "liquid: cannot reach the orchestrator at %s (%s).\n"
                "Is it running? Start one with `liquid orchestrator`, or point at another "
                "with --orchestrator URL or LIQUID_ORCHESTRATOR_URL.\n",
                c->base_url, out->error);
        http_result_free(out);
        return false;
    }
    if (out->status >= 200 && out->status < 300)
        return true;
    char *text = error_text_of(out);
    fprintf(stderr, "liquid: %s %s: the orchestrator answered %ld: %s\n", method, path,
            out->status, text);
    free(text);
    http_result_free(out);
    return false;
}

bool client_call(const client *c, const char *method, const char *path, const json_t *body,
                 http_result *out)
{
    char url[2048];
    snprintf(url, sizeof url, "%s%s", c->base_url, path);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    memset(out, 0, sizeof *out);
    bool sent = http_request_send(method, url, NULL, 0, text, text ? strlen(text) : 0,
                                  text ? "application/json" : NULL, c->timeout_ms, out);
    free(text);
    return check_answer(c, method, path, sent, out);
}

bool client_call_multipart(const client *c, const char *path, const http_part *parts,
                           size_t part_count, http_result *out)
{
    char url[2048];
    snprintf(url, sizeof url, "%s%s", c->base_url, path);
    memset(out, 0, sizeof *out);
    bool sent = http_post_multipart(url, parts, part_count, c->timeout_ms, out);
    return check_answer(c, "POST", path, sent, out);
}

json_t *client_call_json(const client *c, const char *method, const char *path,
                         const json_t *body)
{
    http_result answer;
    if (!client_call(c, method, path, body, &answer))
        return NULL;
    json_t *doc = http_result_json(&answer);
    if (!doc)
        fprintf(stderr, "liquid: %s %s: the orchestrator's answer is not JSON: %.200s\n",
                method, path, answer.body ? answer.body : "");
    http_result_free(&answer);
    return doc;
}

void client_print_json(const json_t *value)
{
    char *text = json_dumps(value, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (text) {
        puts(text);
        free(text);
    }
}
