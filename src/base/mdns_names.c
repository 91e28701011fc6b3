/*
 * mdns_names.c — service type names as libmdnsd compares them: fully qualified, in
 * the .local domain, with the final dot (its parser writes names that way).
 */
#include "base/mdns_loop.h"

#include <stdio.h>
#include <string.h>

/* One DNS-SD service label: "_" then 1..15 letters, digits or hyphens (RFC 6335). */
static bool service_label_ok(const char *label, size_t len)
{
    if (len < 2 || len > 16 || label[0] != '_')
        return false;
    for (size_t i = 1; i < len; i++) {
        char c = label[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

bool mdns_service_type_name(const char *type, char *out, size_t out_size, char *err,
                            size_t err_size)
{
    if (!type || !*type) {
        snprintf(err, err_size, "no service type given (expected e.g. \"_webthing._tcp\")");
        return false;
    }
    char copy[128];
    snprintf(copy, sizeof copy, "%s", type);
    size_t len = strlen(copy);
    if (len && copy[len - 1] == '.')
        copy[--len] = '\0';
    if (len > 6 && strcmp(copy + len - 6, ".local") == 0)
        copy[len -= 6] = '\0';
    const char *dot = strchr(copy, '.');
    bool ok = dot && service_label_ok(copy, (size_t)(dot - copy)) &&
              (strcmp(dot, "._tcp") == 0 || strcmp(dot, "._udp") == 0);
    if (!ok) {
        snprintf(err, err_size,
                 "service type \"%s\" is not of the form \"_name._tcp\" or \"_name._udp\"", type);
        return false;
    }
    snprintf(out, out_size, "%s.local.", copy);
    return true;
}
