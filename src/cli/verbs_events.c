/*
 * verbs_events.c — `liquid logs` (what supervisors sent to /device/logs) and
 * `liquid events [--follow]` (the orchestrator's event bus: devices found and lost,
 * deployments, executions, migrations; /events/recent, then the /events stream).
 */
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/verbs.h"

#include <stdlib.h>
#include <string.h>

static const char LOGS_USAGE[] =
    "liquid logs [--after ISO-TIME] [--device NAME] [--limit N] [--json] [--orchestrator URL]";
static const char EVENTS_USAGE[] =
    "liquid events [--follow] [--limit N] [--after SEQ] [--json] [--orchestrator URL]";

static bool parse_count(const char *text, long *out)
{
    char *end;
    long value = strtol(text, &end, 10);
    if (!*text || *end || value < 0)
        return false;
    *out = value;
    return true;
}

/* ---- logs */

/* A stored log: the reference keeps {logData, dateReceived}; logData may still be
 * the JSON text the supervisor sent. Returns the record's fields as an object. */
static json_t *log_fields(const json_t *entry, json_t **parsed)
{
    *parsed = NULL;
    json_t *data = json_object_get(entry, "logData");
    if (json_is_string(data)) {
        *parsed = json_loads(json_string_value(data), 0, NULL);
        data = *parsed;
    }
    return json_is_object(data) ? data : (json_t *)entry;
}

static const char *first_string(const json_t *doc, const char *const *keys)
{
    for (; *keys; keys++)
        if (json_is_string(json_object_get(doc, *keys)))
            return json_string_value(json_object_get(doc, *keys));
    return NULL;
}

int command_logs(int argc, char **argv)
{
    client c;
    if (!client_options_parse(&c, &argc, argv))
        return CLIENT_EXIT_USAGE;
    if (c.help) {
        printf("usage: %s\n\nThe logs supervisors forwarded to the orchestrator, oldest first.\n"
               "  --after ISO-TIME   only logs received after this time\n"
               "  --device NAME      only this device's logs\n"
               "  --limit N          the newest N (default 100; 0: all)\n",
               LOGS_USAGE);
        return CLIENT_EXIT_OK;
    }
    const char *after = NULL, *device = NULL;
    long limit = 100;
    for (int i = 1; i < argc;) {
        const char *value;
        if ((value = client_option_value(argc, argv, &i, "--after"))) {
            after = value;
        } else if ((value = client_option_value(argc, argv, &i, "--device"))) {
            device = value;
        } else if ((value = client_option_value(argc, argv, &i, "--limit"))) {
            if (!parse_count(value, &limit))
                return client_usage_error(LOGS_USAGE, "logs: --limit takes a count, got '%s'", value);
        } else {
            return client_usage_error(LOGS_USAGE, "logs: unexpected argument '%s'", argv[i]);
        }
    }
    /* The orchestrator filters and limits (Liquid's ?device= and ?limit=); the same is
     * done below too, for an orchestrator that ignores them. */
    char path[1024] = "/device/logs";
    size_t used = strlen(path);
    const char *names[] = {"after", "device"}, *values[] = {after, device};
    for (size_t k = 0; k < 2; k++) {
        if (!values[k])
            continue;
        char *encoded = http_url_encode(values[k]);
        used += (size_t)snprintf(path + used, sizeof path - used, "%c%s=%s",
                                 used == strlen("/device/logs") ? '?' : '&', names[k],
                                 encoded ? encoded : "");
        free(encoded);
    }
    if (limit > 0 && used < sizeof path)
        snprintf(path + used, sizeof path - used, "%climit=%ld",
                 used == strlen("/device/logs") ? '?' : '&', limit);
    json_t *logs = client_call_json(&c, "GET", path, NULL);
    if (!logs)
        return CLIENT_EXIT_FAILED;
    static const char *const time_keys[] = {"timestamp", "time", "dateReceived", NULL};
    static const char *const device_keys[] = {"deviceName", "device", NULL};
    static const char *const level_keys[] = {"loglevel", "level", NULL};
    static const char *const message_keys[] = {"message", "msg", "line", NULL};
    json_t *selected = json_array();
    size_t i;
    json_t *entry;
    json_array_foreach(logs, i, entry) {
        json_t *parsed;
        json_t *fields = log_fields(entry, &parsed);
        const char *name = first_string(fields, device_keys);
        if (!device || (name && !strcmp(name, device)))
            json_array_append(selected, entry);
        json_decref(parsed);
    }
    size_t count = json_array_size(selected);
    size_t from = limit > 0 && count > (size_t)limit ? count - (size_t)limit : 0;
    if (c.json) {
        json_t *shown = json_array();
        for (size_t k = from; k < count; k++)
            json_array_append(shown, json_array_get(selected, k));
        client_print_json(shown);
        json_decref(shown);
    } else if (count == 0) {
        printf("no logs%s\n", device || after ? " match" : " yet");
    } else {
        static const char *const event_keys[] = {"funcName", "event", NULL};
        client_table *t = client_table_new(5, "TIME", "DEVICE", "LEVEL", "EVENT", "MESSAGE");
        for (size_t k = from; k < count; k++) {
            json_t *parsed;
            json_t *fields = log_fields(json_array_get(selected, k), &parsed);
            const char *time = first_string(fields, time_keys);
            if (!time)
                time = client_dig_string(json_array_get(selected, k), "dateReceived");
            client_table_row(t, time, first_string(fields, device_keys),
                             first_string(fields, level_keys), first_string(fields, event_keys),
                             first_string(fields, message_keys));
            json_decref(parsed);
        }
        client_table_print(t, stdout);
    }
    json_decref(selected);
    json_decref(logs);
    return CLIENT_EXIT_OK;
}

/* ---- events */

typedef struct event_printer {
    bool json;
    long long last_seq;
    json_t *names;      /* device and deployment ids -> names, for people */
} event_printer;

#define EVENT_LINE "%-5s %-24s %-26s %-18s %s\n"

/* A name for an id when one is known, else the text itself. */
static const char *name_of(const event_printer *p, const char *id)
{
    const char *name = id ? json_string_value(json_object_get(p->names, id)) : NULL;
    return name ? name : id;
}

/* The data as "key=value" pairs, ids as names, numbers short, the subject left out. */
static char *event_summary(const event_printer *p, const json_t *event)
{
    json_t *data = json_object_get(event, "data");
    if (!json_is_object(data))
        return client_value_text(data);
    const char *subject = client_dig_string(event, "subject");
    char out[1024] = "";
    size_t used = 0;
    const char *key;
    json_t *value;
    json_object_foreach(data, key, value) {
        char cell[256];
        if (json_is_string(value)) {
            if (subject && !strcmp(json_string_value(value), subject))
                continue;
            snprintf(cell, sizeof cell, "%s", name_of(p, json_string_value(value)));
        } else if (json_is_real(value)) {
            snprintf(cell, sizeof cell, "%.1f", json_real_value(value));
        } else {
            char *text = client_value_text(value);
            snprintf(cell, sizeof cell, "%s", text);
            free(text);
        }
        const char *quote = strchr(cell, ' ') ? "\"" : "";
        if (used < sizeof out)
            used += (size_t)snprintf(out + used, sizeof out - used, "%s%s=%s%s%s", used ? " " : "",
                                     key, quote, cell, quote);
    }
    return strdup(out);
}

static void print_event_line(const event_printer *p, const json_t *event)
{
    json_t *seq = json_object_get(event, "seq");
    char seq_text[32];
    snprintf(seq_text, sizeof seq_text, "%lld", (long long)(json_is_integer(seq) ? json_integer_value(seq) : 0));
    char *summary = event_summary(p, event);
    printf(EVENT_LINE, seq_text, client_dig_string(event, "time") ?: "-",
           client_dig_string(event, "type") ?: "-",
           name_of(p, client_dig_string(event, "subject")) ?: "-", summary);
    free(summary);
}

/* Device and deployment names, so events read as "device.lost kitchen-pi". */
static json_t *load_names(const client *c)
{
    json_t *names = verbs_device_names(c);
    char url[1024];
    snprintf(url, sizeof url, "%s/file/manifest", c->base_url);
    http_result answer;
    if (http_get(url, c->timeout_ms, &answer) && answer.status == 200) {
        json_t *docs = http_result_json(&answer);
        size_t i;
        json_t *doc;
        json_array_foreach(docs, i, doc) {
            const char *id = client_doc_id(doc), *name = client_dig_string(doc, "name");
            if (id && name)
                json_object_set_new(names, id, json_string(name));
        }
        json_decref(docs);
    }
    http_result_free(&answer);
    return names;
}

static bool on_stream_event(const char *id, const char *type, const char *data, void *user)
{
    event_printer *p = user;
    json_t *event = data ? json_loads(data, JSON_DECODE_ANY, NULL) : NULL;
    if (!json_is_object(event)) {   /* a data line that is not an event document */
        json_decref(event);
        event = json_object();
        json_object_set_new(event, "data", data ? json_string(data) : json_null());
    }
    if (type && !json_object_get(event, "type"))
        json_object_set_new(event, "type", json_string(type));
    if (id && !json_object_get(event, "seq"))
        json_object_set_new(event, "seq", json_integer(strtoll(id, NULL, 10)));
    json_t *seq = json_object_get(event, "seq");
    if (json_is_integer(seq) && json_integer_value(seq) <= p->last_seq) {
        json_decref(event);   /* already shown from the recent list */
        return true;
    }
    if (json_is_integer(seq))
        p->last_seq = json_integer_value(seq);
    if (p->json) {
        char *text = json_dumps(event, JSON_COMPACT);
        puts(text ? text : "{}");
        free(text);
    } else {
        print_event_line(p, event);
    }
    fflush(stdout);
    json_decref(event);
    return true;
}

int command_events(int argc, char **argv)
{
    client c;
    if (!client_options_parse(&c, &argc, argv))
        return CLIENT_EXIT_USAGE;
    if (c.help) {
        printf("usage: %s\n\nThe orchestrator's events: devices found, suspect, lost; "
               "deployments; executions.\n"
               "  --limit N     how many recent events to show first (default 50; 0: none)\n"
               "  --after SEQ   only events after this sequence number\n"
               "  --follow      then keep printing events as they happen (Ctrl-C stops);\n"
               "                with --json, one JSON document per line\n",
               EVENTS_USAGE);
        return CLIENT_EXIT_OK;
    }
    bool follow = false;
    long limit = 50, after = -1;
    for (int i = 1; i < argc;) {
        const char *value;
        if (!strcmp(argv[i], "--follow") || !strcmp(argv[i], "-f")) {
            follow = true;
            i++;
        } else if ((value = client_option_value(argc, argv, &i, "--limit"))) {
            if (!parse_count(value, &limit))
                return client_usage_error(EVENTS_USAGE, "events: --limit takes a count, got '%s'", value);
        } else if ((value = client_option_value(argc, argv, &i, "--after"))) {
            if (!parse_count(value, &after))
                return client_usage_error(EVENTS_USAGE, "events: --after takes a sequence number, "
                                                        "got '%s'", value);
        } else {
            return client_usage_error(EVENTS_USAGE, "events: unexpected argument '%s'", argv[i]);
        }
    }
    char path[256];
    json_t *recent = json_array();   /* --limit 0: no history, only what happens next */
    if (limit > 0) {
        json_decref(recent);
        snprintf(path, sizeof path, "/events/recent?limit=%ld", limit);
        recent = client_call_json(&c, "GET", path, NULL);
        if (!recent)
            return CLIENT_EXIT_FAILED;
    }
    json_t *events = json_is_array(recent) ? recent : json_object_get(recent, "events");
    event_printer printer = {.json = c.json, .last_seq = after,
                             .names = c.json ? json_object() : load_names(&c)};
    if (c.json && !follow) {
        json_t *shown = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(events, i, e) {
            json_t *seq = json_object_get(e, "seq");
            if (!json_is_integer(seq) || json_integer_value(seq) > after)
                json_array_append(shown, e);
        }
        client_print_json(shown);
        json_decref(shown);
    } else {
        if (!c.json)
            printf(EVENT_LINE, "SEQ", "TIME", "TYPE", "SUBJECT", "DATA");
        size_t i;
        json_t *e;
        json_array_foreach(events, i, e) {
            char *text = json_dumps(e, JSON_COMPACT);
            on_stream_event(NULL, NULL, text, &printer);
            free(text);
        }
    }
    json_decref(recent);
    int status = CLIENT_EXIT_OK;
    if (follow) {
        fflush(stdout);
        if (printer.last_seq >= 0)
            snprintf(path, sizeof path, "/events?after=%lld", printer.last_seq);
        else if (limit > 0)     /* nothing happened yet: everything from the start */
            snprintf(path, sizeof path, "/events?after=0");
        else                    /* from now on */
            snprintf(path, sizeof path, "/events");
        if (!client_stream_events(&c, path, on_stream_event, &printer))
            status = CLIENT_EXIT_FAILED;
    }
    json_decref(printer.names);
    return status;
}
