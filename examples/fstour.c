/*
 * fstour.c — a tour of the POSIX calls wasi-libc maps onto WASI, each checked
 * against what it should have done, in the preopened directory given as the
 * first argument. It prints "ok NAME" or "FAILED NAME: why" per step and exits
 * with the number of failures, so a test can see exactly which call broke.
 *
 *   liquid run --dir /tmp/scratch::/t fstour.wasm /t
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int failures;

static void check(const char *name, int ok, const char *why)
{
    if (ok)
        printf("ok %s\n", name);
    else {
        printf("FAILED %s: %s (errno %d: %s)\n", name, why, errno, strerror(errno));
        failures++;
    }
}

static int count_entries(const char *path, const char *want, int *found)
{
    DIR *dir = opendir(path);
    if (!dir)
        return -1;
    int n = 0;
    *found = 0;
    for (struct dirent *d; (d = readdir(dir));) {
        if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
            continue;
        n++;
        *found |= !strcmp(d->d_name, want);
    }
    closedir(dir);
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 2 || chdir(argv[1]) != 0) {
        fprintf(stderr, "usage: fstour DIR (a preopened directory)\n");
        return 100;
    }
    char buf[256];

    check("mkdir", mkdir("tour", 0755) == 0, "mkdir tour");
    check("mkdir-exists", mkdir("tour", 0755) == -1 && errno == EEXIST, "second mkdir");

    int fd = open("tour/data.bin", O_RDWR | O_CREAT | O_TRUNC, 0644);
    check("open-create", fd >= 0, "open O_CREAT");
    check("write", write(fd, "abcdefghij", 10) == 10, "write 10 bytes");
    check("lseek-end", lseek(fd, 0, SEEK_END) == 10, "lseek to end");
    check("pwrite", pwrite(fd, "XY", 2, 3) == 2, "pwrite at 3");
    memset(buf, 0, sizeof buf);
    check("pread", pread(fd, buf, 5, 2) == 5 && !memcmp(buf, "cXYfg", 5), "pread at 2");
    check("ftruncate", ftruncate(fd, 4) == 0, "ftruncate to 4");
    struct stat st;
    check("fstat", fstat(fd, &st) == 0 && st.st_size == 4 && S_ISREG(st.st_mode),
          "fstat after truncate");
    check("fsync", fsync(fd) == 0, "fsync");
    check("close", close(fd) == 0, "close");
    check("close-twice", close(fd) == -1 && errno == EBADF, "second close");

    fd = open("tour/data.bin", O_WRONLY | O_APPEND);
    check("append", fd >= 0 && write(fd, "++", 2) == 2 && close(fd) == 0, "O_APPEND write");
    FILE *f = fopen("tour/data.bin", "r");
    memset(buf, 0, sizeof buf);
    check("fopen-read", f && fread(buf, 1, sizeof buf, f) == 6 && !strcmp(buf, "abcX++"),
          "read back");
    if (f)
        fclose(f);

    check("rename", rename("tour/data.bin", "tour/moved.bin") == 0, "rename");
    check("stat-renamed", stat("tour/moved.bin", &st) == 0 && st.st_size == 6, "stat new name");
    check("stat-old-gone", stat("tour/data.bin", &st) == -1 && errno == ENOENT, "old name");

    check("symlink", symlink("moved.bin", "tour/link") == 0, "symlink");
    ssize_t n = readlink("tour/link", buf, sizeof buf - 1);
    check("readlink", n == 9 && !memcmp(buf, "moved.bin", 9), "readlink");
    check("lstat", lstat("tour/link", &st) == 0 && S_ISLNK(st.st_mode), "lstat sees a link");
    check("stat-follows", stat("tour/link", &st) == 0 && S_ISREG(st.st_mode), "stat follows");
    check("link", link("tour/moved.bin", "tour/hard") == 0, "hard link");
    check("nlink", stat("tour/hard", &st) == 0 && st.st_nlink == 2, "two links");

    int found = 0;
    check("readdir", count_entries("tour", "hard", &found) == 3 && found, "3 entries");

    struct timespec times[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1200000000}};
    check("utimensat", utimensat(AT_FDCWD, "tour/hard", times, 0) == 0 &&
          stat("tour/hard", &st) == 0 && st.st_mtim.tv_sec == 1200000000, "set mtime");

    check("unlink", unlink("tour/hard") == 0 && unlink("tour/link") == 0 &&
          unlink("tour/moved.bin") == 0, "unlink all three");
    check("rmdir", rmdir("tour") == 0, "rmdir");
    check("rmdir-gone", rmdir("tour") == -1 && errno == ENOENT, "second rmdir");

    struct timespec mono1, mono2, real, cpu;
    check("clock-monotonic", clock_gettime(CLOCK_MONOTONIC, &mono1) == 0, "monotonic");
    struct timespec nap = {.tv_nsec = 20 * 1000000};
    check("nanosleep", nanosleep(&nap, NULL) == 0, "sleep 20 ms");
    clock_gettime(CLOCK_MONOTONIC, &mono2);
    long long slept = (mono2.tv_sec - mono1.tv_sec) * 1000000000LL +
                      (mono2.tv_nsec - mono1.tv_nsec);
    check("slept", slept >= 20 * 1000000LL, "monotonic advanced by the sleep");
    check("clock-realtime", clock_gettime(CLOCK_REALTIME, &real) == 0 &&
          real.tv_sec > 1600000000, "a plausible date");
    check("clock-cpu", clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu) == 0, "process cpu");

    unsigned char random[32] = {0}, zeros[32] = {0};
    check("getentropy", getentropy(random, sizeof random) == 0 &&
          memcmp(random, zeros, sizeof random), "32 random bytes");

    check("escape-refused", open("../../outside", O_RDONLY) == -1, "open above the preopen");

    printf("%d failure(s)\n", failures);
    return failures;
}
