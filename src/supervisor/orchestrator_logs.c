/*
 * orchestrator_logs.c — forwarding log lines to the orchestrator (see orchestrator_logs.h).
 */
#define _GNU_SOURCE
#include "supervisor/orchestrator_logs.h"
#include "base/http_client.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_CAPACITY 1000
#define SEND_TIMEOUT_MS 5000
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 30000

typedef struct log_entry {
    uint64_t seq;
    char *data;                 /* logData JSON text */
} log_entry;

struct orchestrator_logs {
    char *device_name, *device_ip;
    log_level min_level;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    log_entry *ring;
    size_t capacity, head, count;
    uint64_t next_seq;
    uint64_t sent, dropped, dropped_unreported;
    char *endpoint;
    bool stopping;
    struct timespec flush_deadline;
};

/* The sender's own log lines (a failing POST may log) must not feed the queue it
 * is draining, or a down orchestrator would make traffic out of its own absence. */
static _Thread_local bool on_sender_thread;

/* ------------------------------------------------------------- line -> JSON */

/* Reads one key=value token of a log line at *p (value possibly quoted with log.h's
 * escapes); false at the end of the line. */
static bool next_field(const char **p, char *key, size_t key_size, char *value, size_t value_size)
{
    const char *s = *p;
    while (*s == ' ')
        s++;
    if (!*s)
        return false;
    size_t k = 0;
    while (*s && *s != '=' && *s != ' ') {
        if (k + 1 < key_size)
            key[k++] = *s;
        s++;
    }
    key[k] = '\0';
    size_t v = 0;
    if (*s == '=')
        s++;
    if (*s == '"') {
        for (s++; *s && *s != '"'; s++) {
            char c = *s;
            if (c == '\\' && s[1]) {
                c = *++s;
                c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
            }
            if (v + 1 < value_size)
                value[v++] = c;
        }
        if (*s == '"')
            s++;
    } else {
        while (*s && *s != ' ') {
            if (v + 1 < value_size)
                value[v++] = *s;
            s++;
        }
    }
    value[v] = '\0';
    *p = s;
    return true;
}

static const char *upper_level(log_level level)
{
    switch (level) {
    case LOG_DEBUG: return "DEBUG";
    case LOG_INFO: return "INFO";
    case LOG_WARN: return "WARN";
    case LOG_ERROR: return "ERROR";
    }
    return "INFO";
}

json_t *orchestrator_log_data(log_level level, const char *line, const char *device_name,
                              const char *device_ip)
{
    json_t *data = json_pack("{ssssss?}", "loglevel", upper_level(level), "deviceName",
                             device_name ? device_name : "", "deviceIP", device_ip);
    const char *p = line, *message = NULL;
    char key[64], value[1024];
    static const struct {
        const char *field, *key;
    } ids[] = {{"request", "request_id"}, {"deployment", "deployment_id"}, {"module", "module_name"}};
    for (;;) {
        const char *before = p;
        if (!next_field(&p, key, sizeof key, value, sizeof value))
            break;
        if (!strcmp(key, "ts")) {
            json_object_set_new(data, "timestamp", json_string(value));
        } else if (!strcmp(key, "level")) {
            continue;
        } else if (!strcmp(key, "event") && !json_object_get(data, "funcName")) {
            json_object_set_new(data, "funcName", json_string(value));
            message = p;
        } else {
            if (!message)
                message = before;
            for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
                if (!strcmp(key, ids[i].field) && strcmp(value, "-") != 0)
                    json_object_set_new(data, ids[i].key, json_string(value));
        }
    }
    while (message && *message == ' ')
        message++;
    json_object_set_new(data, "message", json_string(message ? message : line));
    if (!json_object_get(data, "message"))   /* not UTF-8: keep the event at least */
        json_object_set_new(data, "message", json_string(""));
    return data;
}

/* ------------------------------------------------------------------- queue */

static void push(orchestrator_logs *logs, char *data)
{
    pthread_mutex_lock(&logs->lock);
    if (logs->count == logs->capacity) {
        free(logs->ring[logs->head].data);
        logs->head = (logs->head + 1) % logs->capacity;
        logs->count--;
        logs->dropped++;
        logs->dropped_unreported++;
    }
    log_entry *e = &logs->ring[(logs->head + logs->count) % logs->capacity];
    e->seq = logs->next_seq++;
    e->data = data;
    logs->count++;
    pthread_cond_signal(&logs->wake);
    pthread_mutex_unlock(&logs->lock);
}

static void sink(log_level level, const char *event, const char *line, void *user)
{
    (void)event;
    orchestrator_logs *logs = user;
    if (on_sender_thread)
        return;
    json_t *data = orchestrator_log_data(level, line, logs->device_name, logs->device_ip);
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    if (text)
        push(logs, text);
}

/* ------------------------------------------------------------------ sender */

static bool post_log_data(const char *endpoint, const char *data, long timeout_ms)
{
    char *encoded = http_url_encode(data);
    if (!encoded)
        return false;
    size_t size = strlen(encoded) + sizeof "logData=";
    char *body = malloc(size);
    if (!body) {
        free(encoded);
        return false;
    }
    int n = snprintf(body, size, "logData=%s", encoded);
    http_result res = {0};
    bool ok = http_request_send("POST", endpoint, NULL, 0, body, (size_t)n,
                                "application/x-www-form-urlencoded", timeout_ms, &res) &&
              res.status >= 200 && res.status < 300;
    http_result_free(&res);
    free(body);
    free(encoded);
    return ok;
}

static char *dropped_notice(orchestrator_logs *logs, uint64_t count)
{
    char line[256];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(line, sizeof line,
             "ts=%s level=warn event=log.dropped count=%llu reason=\"the orchestrator did not "
             "take log entries\"", ts, (unsigned long long)count);
    json_t *data = orchestrator_log_data(LOG_WARN, line, logs->device_name, logs->device_ip);
    char *text = json_dumps(data, JSON_COMPACT);
    json_decref(data);
    return text;
}

static long ms_until(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (deadline->tv_sec - now.tv_sec) * 1000L + (deadline->tv_nsec - now.tv_nsec) / 1000000L;
}

static struct timespec in_ms(long ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Sends the oldest entry (or the dropped notice first); lock held on entry and exit. */
static bool send_one(orchestrator_logs *logs, long timeout_ms)
{
    uint64_t unreported = logs->dropped_unreported;
    bool notice = unreported > 0;
    uint64_t seq = logs->ring[logs->head].seq;
    char *data = notice ? dropped_notice(logs, unreported) : strdup(logs->ring[logs->head].data);
    char *endpoint = strdup(logs->endpoint);
    pthread_mutex_unlock(&logs->lock);
    bool ok = data && endpoint && post_log_data(endpoint, data, timeout_ms);
    free(data);
    free(endpoint);
    pthread_mutex_lock(&logs->lock);
    if (!ok)
        return false;
    if (notice) {
        logs->dropped_unreported -= unreported;
    } else if (logs->count && logs->ring[logs->head].seq == seq) {
        free(logs->ring[logs->head].data);     /* (unless it was dropped meanwhile) */
        logs->head = (logs->head + 1) % logs->capacity;
        logs->count--;
        logs->sent++;
    }
    return true;
}

static void *sender_thread(void *arg)
{
    orchestrator_logs *logs = arg;
    on_sender_thread = true;
    long backoff = 0;
    pthread_mutex_lock(&logs->lock);
    for (;;) {
        bool ready = logs->count > 0 && logs->endpoint;
        if (logs->stopping) {
            long left = ms_until(&logs->flush_deadline);
            if (!ready || left <= 0 || backoff > 0)
                break;      /* nothing (more) to flush, or the orchestrator is down */
            if (!send_one(logs, left < SEND_TIMEOUT_MS ? left : SEND_TIMEOUT_MS))
                backoff = 1;
            continue;
        }
        if (!ready) {
            struct timespec until = in_ms(1000);
            pthread_cond_timedwait(&logs->wake, &logs->lock, &until);
            continue;
        }
        if (send_one(logs, SEND_TIMEOUT_MS)) {
            backoff = 0;
            continue;
        }
        backoff = backoff ? (backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2)
                          : BACKOFF_FIRST_MS;
        struct timespec until = in_ms(backoff);
        while (!logs->stopping && pthread_cond_timedwait(&logs->wake, &logs->lock, &until) == 0)
            ;   /* new entries do not end a back-off; only its end or a stop does */
    }
    pthread_mutex_unlock(&logs->lock);
    return NULL;
}

/* ------------------------------------------------------------------ public */

orchestrator_logs *orchestrator_logs_start(const char *device_name, const char *device_ip,
                                           log_level min_level, size_t capacity)
{
    orchestrator_logs *logs = calloc(1, sizeof *logs);
    if (!logs)
        return NULL;
    logs->capacity = capacity ? capacity : DEFAULT_CAPACITY;
    logs->ring = calloc(logs->capacity, sizeof *logs->ring);
    logs->device_name = strdup(device_name ? device_name : "");
    logs->device_ip = device_ip ? strdup(device_ip) : NULL;
    logs->min_level = min_level;
    pthread_mutex_init(&logs->lock, NULL);
    pthread_cond_init(&logs->wake, NULL);
    if (!logs->ring || !logs->device_name ||
        pthread_create(&logs->thread, NULL, sender_thread, logs) != 0) {
        pthread_mutex_destroy(&logs->lock);
        pthread_cond_destroy(&logs->wake);
        free(logs->ring);
        free(logs->device_name);
        free(logs->device_ip);
        free(logs);
        return NULL;
    }
    log_add_sink(sink, min_level, logs);
    return logs;
}

void orchestrator_logs_set_endpoint(orchestrator_logs *logs, const char *endpoint)
{
    if (!logs)
        return;
    pthread_mutex_lock(&logs->lock);
    free(logs->endpoint);
    logs->endpoint = endpoint && *endpoint ? strdup(endpoint) : NULL;
    pthread_cond_signal(&logs->wake);
    pthread_mutex_unlock(&logs->lock);
}

void orchestrator_logs_stop(orchestrator_logs *logs, unsigned flush_ms)
{
    if (!logs)
        return;
    log_remove_sink(sink, logs);
    pthread_mutex_lock(&logs->lock);
    logs->stopping = true;
    logs->flush_deadline = in_ms((long)flush_ms);
    pthread_cond_signal(&logs->wake);
    pthread_mutex_unlock(&logs->lock);
    pthread_join(logs->thread, NULL);
    for (size_t i = 0; i < logs->count; i++)
        free(logs->ring[(logs->head + i) % logs->capacity].data);
    pthread_mutex_destroy(&logs->lock);
    pthread_cond_destroy(&logs->wake);
    free(logs->ring);
    free(logs->endpoint);
    free(logs->device_name);
    free(logs->device_ip);
    free(logs);
}

uint64_t orchestrator_logs_sent(orchestrator_logs *logs)
{
    pthread_mutex_lock(&logs->lock);
    uint64_t n = logs->sent;
    pthread_mutex_unlock(&logs->lock);
    return n;
}

uint64_t orchestrator_logs_dropped(orchestrator_logs *logs)
{
    pthread_mutex_lock(&logs->lock);
    uint64_t n = logs->dropped;
    pthread_mutex_unlock(&logs->lock);
    return n;
}
