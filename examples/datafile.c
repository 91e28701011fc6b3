/*
 * datafile.c — a module with a deployment-stage data file (wasmiot-api.md §2.10): the
 * supervisor downloads the deployment's file for the mount `data` into the module's
 * directory, and these functions compute on it. `data` is CSV: one record per line,
 * fields separated by commas, an optional header line (any line whose first field is
 * not a number is skipped), integers in the columns summed.
 *
 *   total(column)   the sum of the integers in that column (0 is the first)
 *   rows()          how many records hold numbers
 *
 *   liquid run --dir DIR::. --invoke total datafile.wasm 1
 *
 * Both return -1 when `data` cannot be read (and say so on stderr), and total returns
 * -2 for a negative column.
 */
// wasm-flags: -mexec-model=reactor
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DATA "data"
#define MAX_LINE 4096

/* Field `column` of a CSV line as an integer; false if there is none or it is not one. */
static bool field_value(const char *line, int32_t column, int64_t *out)
{
    const char *p = line;
    for (int32_t i = 0; i < column; i++) {
        p = strchr(p, ',');
        if (!p)
            return false;
        p++;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    char *end;
    long long value = strtoll(p, &end, 10);
    if (end == p)
        return false;
    while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
        end++;
    if (*end && *end != ',')
        return false;
    *out = value;
    return true;
}

/* The sum of column over every record (or the count of records); -1 when the file
 * cannot be read. */
static int64_t fold(int32_t column, bool count_only)
{
    FILE *f = fopen(DATA, "r");
    if (!f) {
        fprintf(stderr, "datafile: cannot read the deployment file '" DATA "'\n");
        return -1;
    }
    char line[MAX_LINE];
    int64_t result = 0, first;
    while (fgets(line, sizeof line, f)) {
        if (!field_value(line, 0, &first))
            continue;       /* a header, a comment or an empty line */
        int64_t value;
        if (count_only)
            result++;
        else if (field_value(line, column, &value))
            result += value;
    }
    fclose(f);
    return result;
}

__attribute__((export_name("total"))) int64_t total(int32_t column)
{
    return column < 0 ? -2 : fold(column, false);
}

__attribute__((export_name("rows"))) int32_t rows(void)
{
    return (int32_t)fold(0, true);
}
