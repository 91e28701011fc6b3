/*
 * spectest_skips.c — the assertions Liquid knowingly skips, each with its reason.
 *
 * One entry a line, `FILE.wast:LINE reason`, '#' to the end of a line is a comment.
 * A malformed entry stops the run: a skip list that silently skips the wrong thing
 * would hide failures.
 */
#include "cli/spectest.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *trim(char *text)
{
    while (isspace((unsigned char)*text))
        text++;
    size_t length = strlen(text);
    while (length && isspace((unsigned char)text[length - 1]))
        text[--length] = '\0';
    return text;
}

static bool add_entry(spectest_skips *skips, const char *wast, uint32_t line, const char *reason,
                      uint32_t skips_line)
{
    spectest_skip *grown = realloc(skips->entries, (skips->count + 1) * sizeof *grown);
    if (!grown)
        return false;
    skips->entries = grown;
    spectest_skip *entry = &skips->entries[skips->count];
    entry->wast = strdup(wast);
    entry->reason = strdup(reason);
    entry->line = line;
    entry->skips_line = skips_line;
    entry->used = false;
    if (!entry->wast || !entry->reason) {
        free(entry->wast);
        free(entry->reason);
        return false;
    }
    skips->count++;
    return true;
}

/* Parses one non-empty, comment-free line: "FILE.wast:LINE reason". */
static bool parse_entry(spectest_skips *skips, char *text, uint32_t skips_line, char *why,
                        size_t why_size)
{
    char *location = text;
    char *reason = text;
    while (*reason && !isspace((unsigned char)*reason))
        reason++;
    if (*reason)
        *reason++ = '\0';
    reason = trim(reason);

    char *colon = strrchr(location, ':');
    if (!colon || colon == location) {
        snprintf(why, why_size, "%s:%u: expected FILE.wast:LINE, got \"%s\"", skips->path,
                 skips_line, location);
        return false;
    }
    *colon = '\0';
    errno = 0;
    char *end = NULL;
    unsigned long line = strtoul(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || line == 0 || line > UINT32_MAX) {
        snprintf(why, why_size, "%s:%u: bad line number \"%s\"", skips->path, skips_line,
                 colon + 1);
        return false;
    }
    if (!*reason) {
        snprintf(why, why_size, "%s:%u: the skip of %s:%lu gives no reason", skips->path,
                 skips_line, location, line);
        return false;
    }
    if (!add_entry(skips, location, (uint32_t)line, reason, skips_line)) {
        snprintf(why, why_size, "out of memory reading %s", skips->path);
        return false;
    }
    return true;
}

bool spectest_skips_load(spectest_skips *skips, const char *path, char *why, size_t why_size)
{
    memset(skips, 0, sizeof *skips);
    skips->path = strdup(path);
    FILE *file = fopen(path, "r");
    if (!skips->path || !file) {
        snprintf(why, why_size, "cannot read skips file %s: %s", path, strerror(errno));
        if (file)
            fclose(file);
        return false;
    }
    char buffer[4096];
    uint32_t skips_line = 0;
    bool ok = true;
    while (ok && fgets(buffer, sizeof buffer, file)) {
        skips_line++;
        if (!strchr(buffer, '\n') && !feof(file)) {
            snprintf(why, why_size, "%s:%u: line longer than %zu bytes", path, skips_line,
                     sizeof buffer - 2);
            ok = false;
            break;
        }
        char *comment = strchr(buffer, '#');
        if (comment)
            *comment = '\0';
        char *text = trim(buffer);
        if (*text)
            ok = parse_entry(skips, text, skips_line, why, why_size);
    }
    if (ok && ferror(file)) {
        snprintf(why, why_size, "error reading %s", path);
        ok = false;
    }
    fclose(file);
    return ok;
}

const char *spectest_skips_find(spectest_skips *skips, const char *wast, uint32_t line)
{
    for (size_t i = 0; i < skips->count; i++) {
        spectest_skip *entry = &skips->entries[i];
        if (entry->line == line && !strcmp(entry->wast, wast)) {
            entry->used = true;
            return entry->reason;
        }
    }
    return NULL;
}

void spectest_skips_free(spectest_skips *skips)
{
    for (size_t i = 0; i < skips->count; i++) {
        free(skips->entries[i].wast);
        free(skips->entries[i].reason);
    }
    free(skips->entries);
    free(skips->path);
    memset(skips, 0, sizeof *skips);
}
