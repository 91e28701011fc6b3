/*
 * client_table.c — aligned text tables: every column as wide as its widest cell,
 * counted in characters (UTF-8), two spaces between columns, no trailing blanks.
 */
#include "cli/client.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct client_table {
    size_t columns;
    size_t rows;            /* including the header row */
    size_t capacity;
    char **cells;           /* rows x columns */
};

static void *checked(void *p)
{
    if (!p) {
        fprintf(stderr, "liquid: out of memory\n");
        exit(CLIENT_EXIT_FAILED);
    }
    return p;
}

static size_t display_width(const char *s)
{
    size_t width = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            width++;
    return width;
}

/* A cell is one line: newlines and tabs would break the alignment. */
static char *cell_text(const char *value)
{
    char *text = checked(strdup(value ? value : "-"));
    for (char *p = text; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    return text;
}

static void add_row(client_table *t, va_list ap)
{
    if (t->rows == t->capacity) {
        t->capacity = t->capacity ? 2 * t->capacity : 16;
        t->cells = checked(realloc(t->cells, t->capacity * t->columns * sizeof *t->cells));
    }
    for (size_t c = 0; c < t->columns; c++)
        t->cells[t->rows * t->columns + c] = cell_text(va_arg(ap, const char *));
    t->rows++;
}

client_table *client_table_new(size_t columns, ...)
{
    client_table *t = checked(calloc(1, sizeof *t));
    t->columns = columns;
    va_list ap;
    va_start(ap, columns);
    add_row(t, ap);
    va_end(ap);
    return t;
}

void client_table_row(client_table *t, ...)
{
    va_list ap;
    va_start(ap, t);
    add_row(t, ap);
    va_end(ap);
}

void client_table_print(client_table *t, FILE *out)
{
    size_t *widths = checked(calloc(t->columns, sizeof *widths));
    for (size_t r = 0; r < t->rows; r++)
        for (size_t c = 0; c < t->columns; c++) {
            size_t w = display_width(t->cells[r * t->columns + c]);
            if (w > widths[c])
                widths[c] = w;
        }
    for (size_t r = 0; r < t->rows; r++) {
        for (size_t c = 0; c < t->columns; c++) {
            const char *cell = t->cells[r * t->columns + c];
            fputs(cell, out);
            if (c + 1 < t->columns)
                fprintf(out, "%*s", (int)(widths[c] - display_width(cell) + 2), "");
        }
        fputc('\n', out);
    }
    for (size_t i = 0; i < t->rows * t->columns; i++)
        free(t->cells[i]);
    free(t->cells);
    free(widths);
    free(t);
}
