/*
 * files.c — reads a text file from a preopened directory, writes an upper-cased
 * copy with a summary line, prints the counts and exits with a status that
 * depends on the input, so a test can check every part of a WASI round trip.
 *
 *   liquid run --dir /tmp/box::/work files.wasm /work/in.txt /work/out.txt
 *
 * Exit status: the number of lines of the input (at most 99); 100 if the input
 * cannot be read, 101 if the output cannot be written, 102 for a usage error.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_NO_INPUT 100
#define EXIT_NO_OUTPUT 101
#define EXIT_USAGE 102

typedef struct counts {
    long lines, words, bytes;
} counts;

static char *read_all(const char *path, long *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *data = NULL;
    long used = 0, capacity = 0;
    for (;;) {
        if (used == capacity) {
            capacity = capacity ? capacity * 2 : 4096;
            char *grown = realloc(data, (size_t)capacity);
            if (!grown) {
                free(data);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            data = grown;
        }
        size_t n = fread(data + used, 1, (size_t)(capacity - used), f);
        used += (long)n;
        if (n == 0)
            break;
    }
    fclose(f);
    *size = used;
    return data;
}

static counts transform(char *text, long size)
{
    counts c = {0, 0, size};
    int in_word = 0;
    for (long i = 0; i < size; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch == '\n')
            c.lines++;
        if (isspace(ch))
            in_word = 0;
        else if (!in_word)
            in_word = 1, c.words++;
        text[i] = (char)toupper(ch);
    }
    if (size > 0 && text[size - 1] != '\n')
        c.lines++;  /* a last line without its newline still counts */
    return c;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: files INPUT OUTPUT\n");
        return EXIT_USAGE;
    }
    long size = 0;
    char *text = read_all(argv[1], &size);
    if (!text) {
        fprintf(stderr, "files: cannot read %s: %s\n", argv[1], strerror(errno));
        return EXIT_NO_INPUT;
    }
    counts c = transform(text, size);

    FILE *out = fopen(argv[2], "w");
    if (!out) {
        fprintf(stderr, "files: cannot write %s: %s\n", argv[2], strerror(errno));
        free(text);
        return EXIT_NO_OUTPUT;
    }
    fwrite(text, 1, (size_t)size, out);
    fprintf(out, "-- %ld lines, %ld words, %ld bytes\n", c.lines, c.words, c.bytes);
    int failed = fclose(out) != 0;
    free(text);
    if (failed) {
        fprintf(stderr, "files: cannot finish %s: %s\n", argv[2], strerror(errno));
        return EXIT_NO_OUTPUT;
    }
    printf("lines: %ld\nwords: %ld\nbytes: %ld\n", c.lines, c.words, c.bytes);
    return c.lines > 99 ? 99 : (int)c.lines;
}
