/*
 * fleet_probe.c — parallel health checks with curl's multi interface (see fleet_probe.h).
 */
#define _GNU_SOURCE
#include "orchestrator/fleet_probe.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_HEALTH_BODY (1024 * 1024)
#define POLL_MS 100

struct health_prober {
    CURLM *multi;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

health_prober *health_prober_new(void)
{
    pthread_once(&curl_once, curl_init_once);
    health_prober *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->multi = curl_multi_init();
    if (!p->multi) {
        free(p);
        return NULL;
    }
    return p;
}

void health_prober_free(health_prober *p)
{
    if (!p)
        return;
    curl_multi_cleanup(p->multi);
    free(p);
}

void health_probe_clear(health_probe *probe)
{
    curl_slist_free_all(probe->headers);
    probe->headers = NULL;
    json_decref(probe->report);
    probe->report = NULL;
    free(probe->body);
    probe->body = NULL;
    probe->body_size = 0;
}

static size_t on_body(char *data, size_t size, size_t count, void *user)
{
    health_probe *probe = user;
    size_t n = size * count;
    if (probe->body_size + n > MAX_HEALTH_BODY) {
        probe->body_too_large = true;
        return 0;               /* aborts the transfer */
    }
    char *grown = realloc(probe->body, probe->body_size + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + probe->body_size, data, n);
    probe->body = grown;
    probe->body_size += n;
    probe->body[probe->body_size] = '\0';
    return n;
}

static size_t on_header(char *line, size_t size, size_t count, void *user)
{
    health_probe *probe = user;
    size_t n = size * count;
    static const char name[] = "Custom-Orchestrator-Set:";
    if (n > sizeof name - 1 && strncasecmp(line, name, sizeof name - 1) == 0) {
        const char *value = line + sizeof name - 1;
        while (*value == ' ' || *value == '\t')
            value++;
        probe->orchestrator_set = strncasecmp(value, "true", 4) == 0;
    }
    return n;
}

static CURL *easy_for(health_probe *probe, struct curl_slist *headers, long timeout_ms)
{
    CURL *easy = curl_easy_init();
    char *url;
    if (!easy || asprintf(&url, "%s/health", probe->url) < 0) {
        if (easy)
            curl_easy_cleanup(easy);
        return NULL;
    }
    curl_easy_setopt(easy, CURLOPT_URL, url);
    free(url);      /* curl copies it */
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");      /* devices are reached directly */
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, probe);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, probe);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, probe);
    return easy;
}

static void finish(health_probe *probe, CURL *easy, CURLcode code)
{
    curl_off_t total_us = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &probe->status);
    curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &total_us);
    probe->rtt_ms = (double)total_us / 1000.0;
    if (code != CURLE_OK) {
        if (probe->body_too_large)
            snprintf(probe->error, sizeof probe->error,
                     "GET %s/health: the answer is larger than %d bytes", probe->url,
                     MAX_HEALTH_BODY);
        else if (code == CURLE_OPERATION_TIMEDOUT)
            snprintf(probe->error, sizeof probe->error, "GET %s/health: no answer within %.0f ms",
                     probe->url, probe->rtt_ms);
        else
            snprintf(probe->error, sizeof probe->error, "GET %s/health: %s", probe->url,
                     curl_easy_strerror(code));
        probe->status = 0;
        return;
    }
    if (probe->status != 200) {
        snprintf(probe->error, sizeof probe->error, "GET %s/health answered %ld", probe->url,
                 probe->status);
        return;
    }
    probe->report = probe->body ? json_loads(probe->body, JSON_DECODE_ANY, NULL) : NULL;
    if (!probe->report) {
        snprintf(probe->error, sizeof probe->error, "GET %s/health answered 200 without JSON",
                 probe->url);
        return;
    }
    probe->ok = true;
}

void health_prober_run(health_prober *p, health_probe *probes, size_t n,
                       const char *forwarded_for, long timeout_ms)
{
    struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
    char forwarded[300];
    if (forwarded_for && *forwarded_for) {
        snprintf(forwarded, sizeof forwarded, "X-Forwarded-For: %s", forwarded_for);
        headers = curl_slist_append(headers, forwarded);
    }
    /* Enough cached connections for every device, so each round reuses them. */
    curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS, (long)(n < 16 ? 32 : 2 * n));
    CURL **handles = calloc(n ? n : 1, sizeof *handles);
    size_t added = 0;
    for (size_t i = 0; handles && i < n; i++) {
        health_probe *probe = &probes[i];
        probe->ok = false;
        probe->status = 0;
        probe->orchestrator_set = false;
        probe->rtt_ms = 0;
        probe->error[0] = '\0';
        probe->body_too_large = false;
        health_probe_clear(probe);
        struct curl_slist *own = headers;
        if (probe->epochs) {
            /* the shared headers, then this device's lease */
            char line[64];
            for (struct curl_slist *h = headers; h; h = h->next)
                probe->headers = curl_slist_append(probe->headers, h->data);
            snprintf(line, sizeof line, "X-Liquid-Lease-Ms: %u", probe->lease_ms);
            probe->headers = curl_slist_append(probe->headers, line);
            char *epochs = NULL;
            if (asprintf(&epochs, "X-Liquid-Epochs: %s", probe->epochs) >= 0) {
                probe->headers = curl_slist_append(probe->headers, epochs);
                free(epochs);
            }
            if (probe->headers)
                own = probe->headers;
        }
        CURL *easy = easy_for(probe, own, timeout_ms);
        if (!easy || curl_multi_add_handle(p->multi, easy) != CURLM_OK) {
            snprintf(probe->error, sizeof probe->error, "GET %s/health: cannot start (%s)",
                     probe->url, easy ? "curl refused the transfer" : "out of memory");
            if (easy)
                curl_easy_cleanup(easy);
            continue;
        }
        handles[i] = easy;
        added++;
    }
    while (added > 0) {
        int running = 0;
        if (curl_multi_perform(p->multi, &running) != CURLM_OK)
            break;
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(p->multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *easy = msg->easy_handle;
            CURLcode code = msg->data.result;
            health_probe *probe = NULL;
            curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&probe);
            finish(probe, easy, code);
            curl_multi_remove_handle(p->multi, easy);
            curl_easy_cleanup(easy);
            handles[probe - probes] = NULL;
            added--;
        }
        if (added > 0)
            curl_multi_poll(p->multi, NULL, 0, POLL_MS, NULL);
    }
    /* Only if curl itself failed: the transfers it did not finish. */
    for (size_t i = 0; handles && i < n; i++)
        if (handles[i]) {
            snprintf(probes[i].error, sizeof probes[i].error, "GET %s/health: interrupted "
                     "(curl multi failed)", probes[i].url);
            curl_multi_remove_handle(p->multi, handles[i]);
            curl_easy_cleanup(handles[i]);
        }
    if (!handles)
        for (size_t i = 0; i < n; i++)
            snprintf(probes[i].error, sizeof probes[i].error, "GET %s/health: out of memory",
                     probes[i].url);
    free(handles);
    curl_slist_free_all(headers);
}
