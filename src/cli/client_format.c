/*
 * client_format.c — reading the orchestrator's documents leniently and turning values
 * into short table cells. Leniently, because the same field is spelled differently by
 * the reference's Python and Rust peers (0..100 or 0..1 CPU, camelCase or snake_case),
 * and a client should show what it gets rather than refuse it.
 */
#include "cli/client.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

json_t *client_dig(const json_t *doc, const char *dotted_path)
{
    const json_t *at = doc;
    const char *p = dotted_path;
    while (at && *p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        char key[128];
        if (len >= sizeof key || !json_is_object(at))
            return NULL;
        memcpy(key, p, len);
        key[len] = '\0';
        at = json_object_get(at, key);
        p = dot ? dot + 1 : p + len;
    }
    return (json_t *)at;
}

const char *client_dig_string(const json_t *doc, const char *dotted_path)
{
    return json_string_value(client_dig(doc, dotted_path));
}

const char *client_doc_id(const json_t *doc)
{
    const char *id = json_string_value(json_object_get(doc, "_id"));
    return id ? id : json_string_value(json_object_get(doc, "id"));
}

char *client_value_text(const json_t *value)
{
    if (!value || json_is_null(value))
        return strdup("-");
    if (json_is_string(value))
        return strdup(json_string_value(value));
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    return text ? text : strdup("?");
}

void client_format_percent(const json_t *value, char *out, size_t size)
{
    if (!json_is_number(value)) {
        snprintf(out, size, "-");
        return;
    }
    double v = json_number_value(value);
    /* The Python reference reports psutil's 0..100, everyone else a 0..1 fraction. */
    double percent = v > 1.0 ? v : v * 100.0;
    snprintf(out, size, "%.0f%%", percent);
}

void client_format_ms(double ms, char *out, size_t size)
{
    if (!(ms >= 0) || isinf(ms))
        snprintf(out, size, "-");
    else if (ms < 10)
        snprintf(out, size, "%.2f ms", ms);
    else if (ms < 1000)
        snprintf(out, size, "%.0f ms", ms);
    else
        snprintf(out, size, "%.2f s", ms / 1000);
}
