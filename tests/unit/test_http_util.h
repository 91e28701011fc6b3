/*
 * test_http_util.h — helpers shared by the HTTP unit tests: raw socket exchanges
 * (for what a well-behaved client library would not send), waiting with a deadline,
 * and temporary directories.
 */
#ifndef LIQUID_TEST_HTTP_UTIL_H
#define LIQUID_TEST_HTTP_UTIL_H

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static inline double test_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static inline void test_sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static inline int test_connect(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline bool test_send_all(int fd, const void *data, size_t size)
{
    const char *p = data;
    while (size > 0) {
        ssize_t n = send(fd, p, size, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        size -= (size_t)n;
    }
    return true;
}

/* Reads what arrives within timeout_ms (or until the peer closes) into buf. */
static inline size_t test_recv_until(int fd, char *buf, size_t size, long timeout_ms,
                                     const char *stop_at)
{
    size_t got = 0;
    double deadline = test_now() + timeout_ms / 1000.0;
    while (got + 1 < size) {
        long left = (long)((deadline - test_now()) * 1000);
        if (left <= 0)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            break;
        ssize_t n = recv(fd, buf + got, size - got - 1, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = '\0';
        if (stop_at && strstr(buf, stop_at))
            break;
    }
    buf[got] = '\0';
    return got;
}

/* Sends a whole request (it should say Connection: close) and reads the answer. */
static inline size_t test_raw_exchange(unsigned port, const char *request, char *buf,
                                       size_t size)
{
    int fd = test_connect(port);
    if (fd < 0)
        return 0;
    test_send_all(fd, request, strlen(request));
    size_t got = test_recv_until(fd, buf, size, 5000, NULL);
    close(fd);
    return got;
}

static inline char *test_make_temp_dir(void)
{
    const char *base = getenv("TMPDIR");
    char pattern[512];
    snprintf(pattern, sizeof pattern, "%s/liquid-test-XXXXXX", base && *base ? base : "/tmp");
    char *dir = mkdtemp(pattern);
    return dir ? strdup(dir) : NULL;
}

static inline size_t test_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return (size_t)-1;
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            count++;
    closedir(d);
    return count;
}

/* Waits until dir has `want` entries; returns the last count seen. */
static inline size_t test_wait_entries(const char *dir, size_t want, long timeout_ms)
{
    double deadline = test_now() + timeout_ms / 1000.0;
    size_t count;
    while ((count = test_count_entries(dir)) != want && test_now() < deadline)
        test_sleep_ms(10);
    return count;
}

static inline void test_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[1024];
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* A port nobody listens on: bound then closed again. */
static inline unsigned test_unused_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    bind(fd, (struct sockaddr *)&addr, sizeof addr);
    getsockname(fd, (struct sockaddr *)&addr, &len);
    close(fd);
    return ntohs(addr.sin_port);
}

#endif
