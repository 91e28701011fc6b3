/*
 * mdns.c — `liquid mdns`: look at and take part in DNS-SD over multicast DNS by hand,
 * the way avahi-browse and avahi-publish do, with Liquid's own implementation (the
 * one the supervisor advertises with and the orchestrator browses with).
 *
 *   liquid mdns browse [--type T] [--for SECONDS]
 *   liquid mdns advertise NAME PORT ADDRESS [--type T] [--txt KEY=VALUE]... [--for SECONDS]
 *
 * browse prints one JSON object per line as instances come and go; advertise
 * publishes until it is stopped (SIGINT, SIGTERM) or the time is up, then says
 * goodbye. Both send multicast on the local network.
 */
#include "cli/commands.h"
#include "base/mdns.h"

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_TYPE "_webthing._tcp"
#define MAX_TXT 32

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: liquid mdns browse [--type TYPE] [--for SECONDS]\n"
            "       liquid mdns advertise NAME PORT ADDRESS [--type TYPE] [--txt KEY=VALUE]...\n"
            "                             [--for SECONDS]\n"
            "\n"
            "DNS-SD over multicast DNS (interoperates with Avahi). TYPE defaults to %s.\n"
            "browse prints one JSON line per instance found or lost; advertise publishes\n"
            "NAME (an instance name without dots) at ADDRESS:PORT until interrupted or\n"
            "SECONDS have passed, then withdraws it. Both send multicast on the local\n"
            "network: run them only where that is allowed.\n",
            DEFAULT_TYPE);
}

/* Sleeps in short steps until a signal or the deadline (seconds <= 0: no deadline). */
static void wait_until_stopped(double seconds)
{
    struct timespec start, now, step = {0, 100000000L};
    clock_gettime(CLOCK_MONOTONIC, &start);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    while (!stop_requested) {
        nanosleep(&step, NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
        double elapsed = (double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9;
        if (seconds > 0 && elapsed >= seconds)
            break;
    }
}

static void print_line(json_t *event)
{
    char *text = json_dumps(event, JSON_COMPACT | JSON_SORT_KEYS);
    if (text) {
        printf("%s\n", text);
        fflush(stdout);
        free(text);
    }
    json_decref(event);
}

static void on_found(const mdns_found *found, void *user)
{
    (void)user;
    json_t *txt = json_object();
    for (size_t i = 0; found->txt && found->txt[i]; i++) {
        const char *eq = strchr(found->txt[i], '=');
        char key[256];
        snprintf(key, sizeof key, "%.*s", eq ? (int)(eq - found->txt[i]) : (int)strlen(found->txt[i]),
                 found->txt[i]);
        json_object_set_new(txt, key, json_string(eq ? eq + 1 : ""));
    }
    print_line(json_pack("{sssssssssiso}", "event", "found", "instance", found->instance, "host",
                         found->host, "address", found->address, "port", (int)found->port,
                         "txt", txt));
}

static void on_lost(const char *instance, void *user)
{
    (void)user;
    print_line(json_pack("{ssss}", "event", "lost", "instance", instance));
}

static bool parse_seconds(const char *text, double *out)
{
    char *end;
    *out = strtod(text, &end);
    return *text && !*end && *out > 0;
}

static int browse(int argc, char **argv)
{
    const char *type = DEFAULT_TYPE;
    double seconds = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--type") && i + 1 < argc) {
            type = argv[++i];
        } else if (!strcmp(argv[i], "--for") && i + 1 < argc) {
            if (!parse_seconds(argv[++i], &seconds)) {
                fprintf(stderr, "liquid mdns: --for needs a positive number of seconds, got '%s'\n", argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "liquid mdns browse: unexpected argument '%s'\n\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    char err[256];
    mdns_browser *b = mdns_browse_start(type, on_found, on_lost, NULL, err, sizeof err);
    if (!b) {
        fprintf(stderr, "liquid mdns browse: %s\n", err);
        return 1;
    }
    wait_until_stopped(seconds);
    mdns_browse_stop(b);
    return 0;
}

static int advertise(int argc, char **argv)
{
    const char *positional[3] = {NULL, NULL, NULL};
    const char *txt[MAX_TXT + 1] = {NULL};
    size_t positional_count = 0, txt_count = 0;
    mdns_service service = {.type = DEFAULT_TYPE};
    double seconds = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--type") && i + 1 < argc) {
            service.type = argv[++i];
        } else if (!strcmp(argv[i], "--txt") && i + 1 < argc) {
            if (txt_count == MAX_TXT) {
                fprintf(stderr, "liquid mdns advertise: at most %d --txt entries\n", MAX_TXT);
                return 2;
            }
            txt[txt_count++] = argv[++i];
        } else if (!strcmp(argv[i], "--for") && i + 1 < argc) {
            if (!parse_seconds(argv[++i], &seconds)) {
                fprintf(stderr, "liquid mdns: --for needs a positive number of seconds, got '%s'\n", argv[i]);
                return 2;
            }
        } else if (argv[i][0] != '-' && positional_count < 3) {
            positional[positional_count++] = argv[i];
        } else {
            fprintf(stderr, "liquid mdns advertise: unexpected argument '%s'\n\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (positional_count != 3) {
        fprintf(stderr, "liquid mdns advertise: NAME, PORT and ADDRESS are required\n\n");
        usage(stderr);
        return 2;
    }
    char *end;
    long port = strtol(positional[1], &end, 10);
    if (*end || port < 1 || port > 65535) {
        fprintf(stderr, "liquid mdns advertise: PORT must be 1..65535, got '%s'\n", positional[1]);
        return 2;
    }
    service.instance = positional[0];
    service.port = (uint16_t)port;
    service.address = positional[2];
    service.txt = txt;
    char err[256];
    mdns_advertiser *a = mdns_advertise_start(&service, err, sizeof err);
    if (!a) {
        fprintf(stderr, "liquid mdns advertise: %s\n", err);
        return 1;
    }
    wait_until_stopped(seconds);
    mdns_advertise_stop(a);
    return 0;
}

int command_mdns(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "browse"))
        return browse(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "advertise"))
        return advertise(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
