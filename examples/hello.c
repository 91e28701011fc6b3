/*
 * hello.c — the demo program: a WASI command that shows what a sandboxed module
 * sees. It greets, prints its arguments and the GREETING environment variable,
 * lists the preopened data directory (DATA_DIR, default /data) and leaves a
 * small report there.
 *
 *   liquid run --dir /tmp/box::/data --env GREETING=hello hello.wasm world
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int list_directory(const char *path)
{
    DIR *dir = opendir(path);
    if (!dir) {
        perror(path);
        return -1;
    }
    int count = 0;
    printf("files in %s:\n", path);
    for (struct dirent *d; (d = readdir(dir));) {
        if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
            continue;
        printf("  %s%s\n", d->d_name, d->d_type == DT_DIR ? "/" : "");
        count++;
    }
    closedir(dir);
    if (count == 0)
        printf("  (empty)\n");
    return count;
}

static int write_report(const char *dir_path, int argc, char **argv, int files)
{
    char path[512];
    snprintf(path, sizeof path, "%s/report.txt", dir_path);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return -1;
    }
    fprintf(f, "hello.wasm ran with %d argument(s)", argc - 1);
    for (int i = 1; i < argc; i++)
        fprintf(f, " %s", argv[i]);
    fprintf(f, "\nit found %d file(s) in %s\n", files, dir_path);
    fprintf(f, "wall clock at the time: %lld\n", (long long)time(NULL));
    if (fclose(f) != 0) {
        perror(path);
        return -1;
    }
    printf("wrote %s\n", path);
    return 0;
}

int main(int argc, char **argv)
{
    const char *greeting = getenv("GREETING");
    const char *data = getenv("DATA_DIR");
    if (!greeting)
        greeting = "hello";
    if (!data)
        data = "/data";

    printf("%s, %s! (from WebAssembly)\n", greeting, argc > 1 ? argv[1] : "world");
    printf("argc = %d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d] = %s\n", i, argv[i]);
    printf("GREETING = %s\n", getenv("GREETING") ? getenv("GREETING") : "(unset)");

    int files = list_directory(data);
    if (files < 0)
        return 1;
    return write_report(data, argc, argv, files) == 0 ? 0 : 1;
}
