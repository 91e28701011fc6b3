/*
 * chain.c — calling the next step of a pipeline and following it to the end (see
 * chain.h).
 */
#define _GNU_SOURCE
#include "supervisor/chain.h"

#include "base/http_client.h"
#include "base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_FOLLOWED_LINKS 16   /* a Python-style chain of resultUrls, one per step */
#define LONG_POLL_MS 10000      /* what one history request may wait for (Liquid) */
#define FIRST_RETRY_MS 5
#define LAST_RETRY_MS 500

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* The next step's URL: base (to.url, without its trailing '/') + to.path
 * [+ ?param=value]. */
static char *next_url(const manifest_endpoint *to, const char *base, const char *primitive)
{
    size_t base_len = strlen(base);
    while (base_len && base[base_len - 1] == '/')
        base_len--;
    char *query = NULL;
    if (primitive && to->param_count) {
        /* the result becomes the first parameter (the references' rule); a next step
         * that takes no parameters is just called */
        const char *name = to->params[0].name;
        char *name_enc = http_url_encode(name), *value_enc = http_url_encode(primitive);
        if (name_enc && value_enc && asprintf(&query, "?%s=%s", name_enc, value_enc) < 0)
            query = NULL;
        free(name_enc);
        free(value_enc);
        if (!query)
            return NULL;
    }
    char *url;
    if (asprintf(&url, "%.*s%s%s", (int)base_len, base, to->path, query ? query : "") < 0)
        url = NULL;
    free(query);
    return url;
}

/* What an error answer said, for the message: its errorText, or the start of it. */
static void describe_answer(const http_result *r, char *out, size_t size)
{
    json_t *body = http_result_json(r);
    const char *text = json_string_value(json_object_get(body, "errorText"));
    if (!text)
        text = json_string_value(json_object_get(body, "error"));
    if (!text)
        text = json_string_value(json_object_get(body, "result"));
    if (text)
        snprintf(out, size, "%s", text);
    else
        snprintf(out, size, "%.200s", r->body ? r->body : "(no body)");
    json_decref(body);
}

json_t *chain_result_of_entry(const json_t *entry)
{
    json_t *chained = json_object_get(entry, "chainResult");
    if (chained)
        return json_deep_copy(chained);
    json_t *result = json_object_get(entry, "result");
    return json_pack("{s:O}", "result", result ? result : json_null());
}

static bool looks_like_url(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && (!strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8));
}

/* Polls a request-history URL until its entry is done or failed, following
 * Python-style entries whose result is the next step's resultUrl. */
static void follow(const char *result_url, double deadline, chain_outcome *out)
{
    char *url = strdup(result_url);
    long retry = FIRST_RETRY_MS;
    for (int links = 0; url && links < MAX_FOLLOWED_LINKS;) {
        double left = deadline - now_ms();
        if (left <= 0) {
            snprintf(out->error, sizeof out->error,
                     "the next step did not finish in time (%s still pending)", url);
            break;
        }
        long wait = left > LONG_POLL_MS ? LONG_POLL_MS : (long)left;
        char *poll;
        if (asprintf(&poll, "%s%swait=%ld", url, strchr(url, '?') ? "&" : "?", wait) < 0)
            break;
        http_result r = {0};
        bool answered = http_get(poll, wait + 5000, &r);
        free(poll);
        if (!answered) {
            snprintf(out->error, sizeof out->error, "cannot read the next step's result at %s: %s",
                     url, r.error);
        } else if (r.status == 404) {
            http_result_free(&r);
            sleep_ms(retry);     /* pending (a reference supervisor does not wait) */
            retry = retry * 2 > LAST_RETRY_MS ? LAST_RETRY_MS : retry * 2;
            continue;
        } else if (r.status == 200) {
            json_t *entry = http_result_json(&r);
            json_t *result = json_object_get(entry, "result");
            if (!json_object_get(entry, "chainResult") && looks_like_url(result)) {
                free(url);      /* a Python supervisor's link to the step after it */
                url = strdup(json_string_value(result));
                links++;
                json_decref(entry);
                http_result_free(&r);
                continue;
            }
            out->final_result = entry ? chain_result_of_entry(entry) : NULL;
            out->ok = out->final_result != NULL;
            if (!out->ok)
                snprintf(out->error, sizeof out->error, "%s answered something that is not a "
                         "request history entry", url);
            json_decref(entry);
        } else {
            char said[400];
            describe_answer(&r, said, sizeof said);
            snprintf(out->error, sizeof out->error, "the next step failed (%s, HTTP %ld): %s",
                     url, r.status, said);
        }
        http_result_free(&r);
        break;
    }
    free(url);
}

/* The next step is told this deployment's epoch, so a copy of it that was replaced
 * learns so (docs/migration.md), whether it is sent files or not. */
static bool call_next(const manifest_endpoint *to, const char *url, const chain_file *files,
                      size_t file_count, long timeout_ms, const uint64_t *epoch, http_result *r)
{
    char epoch_text[24];
    snprintf(epoch_text, sizeof epoch_text, "%llu", epoch ? (unsigned long long)*epoch : 0ull);
    http_header header = {"X-Liquid-Epoch", epoch_text};
    if (file_count) {
        http_part *parts = calloc(file_count, sizeof *parts);
        if (!parts) {
            snprintf(r->error, sizeof r->error, "out of memory");
            return false;
        }
        for (size_t i = 0; i < file_count; i++)
            parts[i] = (http_part){.field = files[i].mount, .path = files[i].path,
                                   .filename = files[i].mount,
                                   .content_type = "application/octet-stream"};
        bool answered = http_post_multipart_with_headers(url, &header, epoch ? 1 : 0, parts,
                                                         file_count, timeout_ms, r);
        free(parts);
        return answered;
    }
    return http_request_send(strcmp(to->method, "post") ? "GET" : "POST", url, &header,
                             epoch ? 1 : 0, NULL, 0, NULL, timeout_ms, r);
}

/* scheme://host:port of a URL (malloc'ed), or NULL. */
static char *base_of(const char *url)
{
    const char *host = url ? strstr(url, "://") : NULL;
    if (!host)
        return NULL;
    const char *end = strchr(host + 3, '/');
    return end ? strndup(url, (size_t)(end - url)) : strdup(url);
}

/* How long a fenced next step is asked again, and how often. */
#define FENCED_RETRY_MS 10000
#define FENCED_PAUSE_MS 200

static bool fenced(const http_result *r)
{
    return r->status == 503 && r->body && strstr(r->body, "fenced");
}

/* Why the next step should be looked up again, or NULL. */
static const char *reroute_reason(bool answered, const http_result *r)
{
    if (!answered)
        return "unreachable";
    if (r->status == 307)
        return "moved";
    if (r->status == 409 && r->body && strstr(r->body, "stale epoch"))
        return "stale epoch";
    return NULL;
}

/* Where the next step runs now: the orchestrator's word (with the placement's epoch,
 * *has_epoch), else the 307's Location. */
static char *look_up(const manifest_endpoint *to, const chain_context *ctx,
                     const http_result *r, uint64_t *epoch, bool *has_epoch)
{
    *has_epoch = false;
    char module[256] = "", function[256] = "";
    if (sscanf(to->path, "/%*[^/]/modules/%255[^/]/%255[^/?]", module, function) != 2)
        return NULL;
    if (ctx->orchestrator_url) {
        char *m = http_url_encode(module), *f = http_url_encode(function), *url = NULL;
        if (m && f && asprintf(&url, "%s/liquid/route/%s/%s?function=%s", ctx->orchestrator_url,
                               ctx->deployment, m, f) < 0)
            url = NULL;
        free(m);
        free(f);
        http_result answer = {0};
        char *base = NULL;
        if (url && http_get(url, 5000, &answer) && answer.status == 200) {
            json_t *body = http_result_json(&answer);
            base = base_of(json_string_value(json_object_get(body, "url")));
            json_t *e = json_object_get(body, "epoch");
            if (base && json_is_integer(e) && json_integer_value(e) >= 0) {
                *epoch = (uint64_t)json_integer_value(e);
                *has_epoch = true;
            }
            json_decref(body);
        }
        http_result_free(&answer);
        free(url);
        if (base && r->status == 307 && !strcmp(base, to->url)) {
            /* the source answers 307 before the orchestrator has recorded the move:
             * until it has, the source's Location is the newer word */
            free(base);
            base = NULL;
        }
        if (base)
            return base;
    }
    return r->status == 307 ? base_of(r->location) : NULL;
}

void chain_forward(const manifest_endpoint *to, const char *primitive, const chain_file *files,
                   size_t file_count, long timeout_ms, const chain_context *ctx,
                   chain_outcome *out)
{
    memset(out, 0, sizeof *out);
    const char *request_id = ctx->request_id;
    double deadline = now_ms() + (double)timeout_ms;
    out->next_url = next_url(to, to->url, file_count ? NULL : primitive);
    if (!out->next_url) {
        snprintf(out->error, sizeof out->error, "out of memory");
        return;
    }
    http_result r = {0};
    bool answered = call_next(to, out->next_url, files, file_count, timeout_ms, &ctx->epoch,
                              &r);
    const char *why = reroute_reason(answered, &r);
    uint64_t epoch = 0;
    bool has_epoch = false;
    char *base = why ? look_up(to, ctx, &r, &epoch, &has_epoch) : NULL;
    /* Asked again where it is now; or at the same place with the placement's epoch when
     * ours was older (our routes changed while this call ran: the call began with the
     * old epoch, and the hop it now goes to already holds the new one). */
    bool same_place = base && !strcmp(base, to->url);
    bool newer_epoch = why && !strcmp(why, "stale epoch") && has_epoch &&
                       epoch > ctx->epoch;
    char *again = base && (!same_place || newer_epoch)
                      ? next_url(to, base, file_count ? NULL : primitive)
                      : NULL;
    if (again) {
        log_info("chain.rerouted", "request=%s deployment=%s from=%s to=%s reason=%s",
                 request_id, ctx->deployment, log_quote(out->next_url), log_quote(again),
                 log_quote(why));
        http_result_free(&r);
        free(out->next_url);
        out->next_url = again;
        out->new_base = base;
        base = NULL;
        /* this deployment's epoch may be behind the new placement's until the
         * orchestrator's routes arrive: send the placement's, or none */
        answered = call_next(to, out->next_url, files, file_count, timeout_ms,
                             has_epoch ? &epoch : NULL, &r);
    }
    free(base);
    /* A next step that is fenced (its device came back and has not had the probes that
     * let it serve again, or is being replaced) is asked again for a while: nothing ran
     * there, and it serves again within a few health intervals or is re-placed. */
    for (double until = now_ms() + FENCED_RETRY_MS;
         answered && fenced(&r) && now_ms() < until && now_ms() < deadline;) {
        sleep_ms(FENCED_PAUSE_MS);
        uint64_t placed = 0;
        bool has_placed = false;
        char *moved = look_up(to, ctx, &r, &placed, &has_placed);
        char *url = moved && strcmp(moved, to->url) ? next_url(to, moved, file_count ? NULL
                                                                                    : primitive)
                                                    : NULL;
        if (url) {
            log_info("chain.rerouted", "request=%s deployment=%s from=%s to=%s reason=fenced",
                     request_id, ctx->deployment, log_quote(out->next_url), log_quote(url));
            free(out->next_url);
            out->next_url = url;
            free(out->new_base);
            out->new_base = moved;
            moved = NULL;
        }
        free(moved);
        http_result_free(&r);
        answered = call_next(to, out->next_url, files, file_count, timeout_ms,
                             url && has_placed ? &placed : &ctx->epoch, &r);
    }
    if (!answered) {
        snprintf(out->error, sizeof out->error, "the next step %s cannot be reached: %s",
                 out->next_url, r.error);
    } else if (r.status >= 300) {
        char said[400];
        describe_answer(&r, said, sizeof said);
        snprintf(out->error, sizeof out->error, "the next step %s answered HTTP %ld: %s",
                 out->next_url, r.status, said);
    } else {
        json_t *body = http_result_json(&r);
        json_t *result_url = json_object_get(body, "resultUrl");
        if (json_is_string(result_url))
            out->next_result_url = strdup(json_string_value(result_url));
        json_t *result = json_object_get(body, "result");
        if (result && !looks_like_url(result)) {
            out->final_result = json_incref(result);
            out->ok = true;
        } else if (result || out->next_result_url) {
            follow(result ? json_string_value(result) : out->next_result_url, deadline, out);
        } else {
            snprintf(out->error, sizeof out->error,
                     "the next step %s answered without a result or a resultUrl", out->next_url);
        }
        json_decref(body);
    }
    http_result_free(&r);
    if (out->ok)
        log_debug("chain.done", "request=%s next=%s", request_id, log_quote(out->next_url));
    else
        log_warn("chain.failed", "request=%s next=%s reason=%s", request_id,
                 log_quote(out->next_url), log_quote(out->error));
}

void chain_outcome_free(chain_outcome *out)
{
    json_decref(out->final_result);
    free(out->next_url);
    free(out->next_result_url);
    free(out->new_base);
    memset(out, 0, sizeof *out);
}
