/*
 * journal.c — keeps a file open for a long time: writes LINES numbered lines to
 * PATH, with WORK rounds of computation before each, and only then closes it.
 * Suspended halfway and resumed in another process, it must carry on writing to
 * the same open file at the same offset: the test of liquid's WASI state.
 *
 *   liquid run --dir /tmp/box::/box journal.wasm /box/journal.txt 40 1000000
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t work(uint64_t seed, uint64_t rounds)
{
    for (uint64_t i = 0; i < rounds; i++) {
        seed ^= seed >> 29;
        seed *= UINT64_C(0xbf58476d1ce4e5b9);
        seed += i;
    }
    return seed;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: journal PATH LINES WORK\n");
        return 2;
    }
    int lines = atoi(argv[2]);
    uint64_t rounds = strtoull(argv[3], NULL, 0);
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    uint64_t value = 1;
    for (int i = 0; i < lines; i++) {
        value = work(value, rounds);
        char line[64];
        int n = snprintf(line, sizeof line, "line %d %016" PRIx64 "\n", i, value);
        if (write(fd, line, (size_t)n) != n) {
            perror("write");
            return 1;
        }
    }
    if (close(fd) != 0) {
        perror("close");
        return 1;
    }
    printf("wrote %d lines\n", lines);
    return 0;
}
