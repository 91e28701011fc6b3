/*
 * orchestrator_link.c — being found by the orchestrator and staying known to it
 * (see orchestrator_link.h; wasmiot-api.md §2.3, §2.4, §2.12, §4).
 *
 * One background thread does the slow parts, so the supervisor's start and its HTTP
 * handlers never wait on the network: it resolves the orchestrator's host name (to
 * recognise its health checks), registers directly, retrying until the orchestrator
 * answers, and renews. Renewal follows the references: when no health check has come
 * from the orchestrator for the renewal time, the device withdraws its advertisement,
 * waits 5 s so browsers see it go, advertises again, and registers again, so an
 * orchestrator that lost the device (restarted, wiped its table) finds it anew.
 */
#define _GNU_SOURCE
#include "supervisor/orchestrator_link.h"
#include "supervisor/orchestrator_logs.h"
#include "base/http_client.h"
#include "base/log.h"
#include "base/mdns.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DEFAULT_RENEWAL_SECONDS 900
#define READVERTISE_PAUSE_SECONDS 5     /* the references' pause between goodbye and return */
#define REGISTER_TIMEOUT_MS 10000       /* the references' */
#define REGISTER_RETRY_SECONDS 5
#define LOG_FLUSH_MS 2000
#define MAX_URL_ADDRESSES 8

struct orchestrator_link {
    char *device_name;
    uint16_t port;
    char address[INET_ADDRSTRLEN];
    bool mdns;
    char *fixed_log_endpoint;
    unsigned renewal_seconds;

    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    bool stopping;
    char *url;                  /* no trailing slash; NULL: none known */
    char url_host[256];
    bool url_resolved;
    char url_addresses[MAX_URL_ADDRESSES][INET6_ADDRSTRLEN];
    size_t url_address_count;
    bool registered;            /* the current URL knows us (we registered, or it called us) */
    double next_register;       /* monotonic seconds */
    double last_contact;        /* last (re)registration or health check by the orchestrator */

    mdns_advertiser *advertiser;
    orchestrator_logs *logs;
};

static double monotonic_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ addresses */

/* The interface of the default route (/proc/net/route), if there is one. */
static bool default_route_interface(char *out, size_t out_size)
{
    FILE *f = fopen("/proc/net/route", "r");
    if (!f)
        return false;
    char line[256], name[IF_NAMESIZE + 1];
    unsigned long destination, mask;
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        if (sscanf(line, "%16s %lx %*x %*x %*d %*d %*d %lx", name, &destination, &mask) == 3 &&
            destination == 0 && mask == 0) {
            snprintf(out, out_size, "%s", name);
            found = true;
        }
    fclose(f);
    return found;
}

/* The device's main IPv4 address: the default route's interface's, else the first
 * interface that is up and not loopback, else 127.0.0.1. No packet is sent. */
static void primary_ipv4(char *out, size_t out_size)
{
    char route_if[IF_NAMESIZE + 1] = "";
    bool has_route = default_route_interface(route_if, sizeof route_if);
    snprintf(out, out_size, "127.0.0.1");
    struct ifaddrs *list;
    if (getifaddrs(&list) != 0)
        return;
    bool chosen = false;
    for (int pass = has_route ? 0 : 1; pass < 2 && !chosen; pass++) {
        for (struct ifaddrs *ifa = list; ifa && !chosen; ifa = ifa->ifa_next) {
            if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != AF_INET ||
                !(ifa->ifa_flags & IFF_UP) || (ifa->ifa_flags & IFF_LOOPBACK))
                continue;
            if (pass == 0 && strcmp(ifa->ifa_name, route_if) != 0)
                continue;
            inet_ntop(AF_INET, &((struct sockaddr_in *)ifa->ifa_addr)->sin_addr, out, (socklen_t)out_size);
            chosen = true;
        }
    }
    freeifaddrs(list);
}

/* "http://host:3000/x" -> "host"; "http://[::1]:3000" -> "::1". */
static void url_host_of(const char *url, char *out, size_t out_size)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *at = strpbrk(p, "@/");
    if (at && *at == '@')
        p = at + 1;
    size_t n;
    if (*p == '[') {
        p++;
        n = strcspn(p, "]");
    } else {
        n = strcspn(p, ":/?#");
    }
    snprintf(out, out_size, "%.*s", (int)n, p);
}

/* "::ffff:10.0.0.5" -> "10.0.0.5": peers on a dual-stack socket. */
static const char *plain_address(const char *address)
{
    return address && strncasecmp(address, "::ffff:", 7) == 0 && strchr(address + 7, '.')
               ? address + 7
               : address;
}

/* Resolves the URL's host outside the lock (it may take a while) and stores what it
 * found; the orchestrator's health checks come from one of these addresses. */
static void resolve_url_host(orchestrator_link *link, const char *host)
{
    char found[MAX_URL_ADDRESSES][INET6_ADDRSTRLEN];
    size_t count = 0;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *list;
    if (getaddrinfo(host, NULL, &hints, &list) == 0) {
        for (struct addrinfo *a = list; a && count < MAX_URL_ADDRESSES; a = a->ai_next) {
            const void *addr = a->ai_family == AF_INET
                                   ? (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
                                   : (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
            if (inet_ntop(a->ai_family, addr, found[count], sizeof found[count]))
                count++;
        }
        freeaddrinfo(list);
    }
    pthread_mutex_lock(&link->lock);
    if (strcmp(link->url_host, host) == 0) {     /* the URL did not change meanwhile */
        memcpy(link->url_addresses, found, sizeof found);
        link->url_address_count = count;
    }
    pthread_mutex_unlock(&link->lock);
}

static bool is_orchestrator_address(const orchestrator_link *link, const char *candidate)
{
    if (!candidate || !*candidate || !link->url)
        return false;
    if (strcasecmp(candidate, link->url_host) == 0)
        return true;
    for (size_t i = 0; i < link->url_address_count; i++)
        if (strcmp(candidate, link->url_addresses[i]) == 0)
            return true;
    return false;
}

/* --------------------------------------------------------------- mDNS side */

static bool advertise(orchestrator_link *link, char *err, size_t err_size)
{
    char address_txt[INET_ADDRSTRLEN + 16];
    snprintf(address_txt, sizeof address_txt, "address=%s", link->address);
    const char *txt[] = {"path=/", "tls=0", address_txt, NULL};
    mdns_service service = {.instance = link->device_name, .type = "_webthing._tcp",
                            .port = link->port, .address = link->address, .txt = txt};
    link->advertiser = mdns_advertise_start(&service, err, err_size);
    return link->advertiser != NULL;
}

/* --------------------------------------------------------- registration */

/* POST {url}/file/device/discovery/register with the record the Rust reference
 * sends; the orchestrator then reads our description and health. */
static bool register_with(orchestrator_link *link, const char *url)
{
    char endpoint[1024];
    snprintf(endpoint, sizeof endpoint, "%s/file/device/discovery/register", url);
    json_t *body = json_pack("{sssssisss[s]s{ssssss}}", "name", link->device_name, "type",
                             "webthing", "port", (int)link->port, "host", link->address,
                             "addresses", link->address, "properties", "path", "/", "tls", "0",
                             "address", link->address);
    http_result res = {0};
    bool answered = http_post_json(endpoint, body, REGISTER_TIMEOUT_MS, &res);
    bool ok = answered && res.status >= 200 && res.status < 300;
    if (ok)
        log_info("orchestrator.registered", "url=%s device=%s", log_quote(url),
                 log_quote(link->device_name));
    else
        log_warn("orchestrator.register_failed", "url=%s status=%ld error=%s retry_s=%d",
                 log_quote(url), res.status,
                 log_quote(answered ? "the orchestrator refused the registration" : res.error),
                 REGISTER_RETRY_SECONDS);
    json_decref(body);
    http_result_free(&res);
    return ok;
}

/* Sleeps up to seconds unless stopped; lock held. False once stopping. */
static bool pause_locked(orchestrator_link *link, double seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    long ns = (long)((seconds - (double)(long)seconds) * 1e9) + until.tv_nsec;
    until.tv_sec += (time_t)seconds + ns / 1000000000L;
    until.tv_nsec = ns % 1000000000L;
    if (!link->stopping)
        pthread_cond_timedwait(&link->wake, &link->lock, &until);
    return !link->stopping;
}

/* Withdraws and re-announces the advertisement, and registers again; lock held. */
static void renew(orchestrator_link *link)
{
    log_info("orchestrator.renew", "device=%s reason=%s after_s=%u", log_quote(link->device_name),
             log_quote("no health check from the orchestrator"), link->renewal_seconds);
    if (link->mdns && link->advertiser) {
        mdns_advertiser *old = link->advertiser;
        link->advertiser = NULL;
        pthread_mutex_unlock(&link->lock);
        mdns_advertise_stop(old);
        pthread_mutex_lock(&link->lock);
        if (!pause_locked(link, READVERTISE_PAUSE_SECONDS))
            return;
        char err[256];
        pthread_mutex_unlock(&link->lock);
        bool ok = advertise(link, err, sizeof err);
        pthread_mutex_lock(&link->lock);
        if (!ok)
            log_error("mdns.advertise_failed", "device=%s error=%s", log_quote(link->device_name),
                      log_quote(err));
    }
    link->registered = false;
    link->next_register = 0;
    link->last_contact = monotonic_seconds();
}

static void *link_thread(void *arg)
{
    orchestrator_link *link = arg;
    pthread_mutex_lock(&link->lock);
    while (!link->stopping) {
        if (link->url && !link->url_resolved) {
            char host[256];
            snprintf(host, sizeof host, "%s", link->url_host);
            link->url_resolved = true;
            pthread_mutex_unlock(&link->lock);
            resolve_url_host(link, host);
            pthread_mutex_lock(&link->lock);
            continue;
        }
        double now = monotonic_seconds();
        if (link->url && !link->registered && now >= link->next_register) {
            char *url = strdup(link->url);
            pthread_mutex_unlock(&link->lock);
            bool ok = url && register_with(link, url);
            pthread_mutex_lock(&link->lock);
            if (url && link->url && strcmp(url, link->url) == 0) {
                link->registered = ok;
                link->next_register = monotonic_seconds() + REGISTER_RETRY_SECONDS;
                if (ok)
                    link->last_contact = monotonic_seconds();
            }
            free(url);
            continue;
        }
        if (now - link->last_contact >= link->renewal_seconds) {
            renew(link);
            continue;
        }
        pause_locked(link, 1.0);
    }
    pthread_mutex_unlock(&link->lock);
    return NULL;
}

/* ---------------------------------------------------------------- the URL */

static void log_endpoint_for(const orchestrator_link *link, const char *url, char *out, size_t size)
{
    if (link->fixed_log_endpoint)
        snprintf(out, size, "%s", link->fixed_log_endpoint);
    else if (url)
        snprintf(out, size, "%s/device/logs", url);
    else
        out[0] = '\0';
}

/* Stores url (trailing slashes dropped); lock held. */
static void set_url_locked(orchestrator_link *link, const char *url)
{
    free(link->url);
    link->url = NULL;
    link->url_host[0] = '\0';
    link->url_address_count = 0;
    if (url && *url) {
        size_t n = strlen(url);
        while (n > 0 && url[n - 1] == '/')
            n--;
        link->url = strndup(url, n);
        if (link->url)
            url_host_of(link->url, link->url_host, sizeof link->url_host);
    }
    link->url_resolved = false;
    link->registered = false;
    link->next_register = 0;
}

void orchestrator_link_set_url(orchestrator_link *link, const char *url)
{
    if (!link)
        return;
    char endpoint[1024];
    pthread_mutex_lock(&link->lock);
    set_url_locked(link, url);
    /* The orchestrator told us its URL itself (POST /register): it knows us already,
     * so there is nothing to register, and this counts as hearing from it. */
    link->registered = link->url != NULL;
    link->last_contact = monotonic_seconds();
    log_endpoint_for(link, link->url, endpoint, sizeof endpoint);
    pthread_cond_signal(&link->wake);
    pthread_mutex_unlock(&link->lock);
    orchestrator_logs_set_endpoint(link->logs, endpoint[0] ? endpoint : NULL);
    log_info("orchestrator.url_set", "url=%s", log_quote(url ? url : "-"));
}

char *orchestrator_link_url(orchestrator_link *link)
{
    if (!link)
        return NULL;
    pthread_mutex_lock(&link->lock);
    char *url = link->url ? strdup(link->url) : NULL;
    pthread_mutex_unlock(&link->lock);
    return url;
}

void orchestrator_link_health_checked(orchestrator_link *link, const char *forwarded_for,
                                      const char *peer_address)
{
    if (!link)
        return;
    /* X-Forwarded-For may list proxies after the client: the client is first. */
    char first[256] = "";
    if (forwarded_for) {
        size_t skip = strspn(forwarded_for, " ");
        snprintf(first, sizeof first, "%.*s", (int)strcspn(forwarded_for + skip, ", "),
                 forwarded_for + skip);
    }
    pthread_mutex_lock(&link->lock);
    if (is_orchestrator_address(link, first) ||
        is_orchestrator_address(link, plain_address(peer_address)))
        link->last_contact = monotonic_seconds();
    pthread_mutex_unlock(&link->lock);
}

/* -------------------------------------------------------------- lifecycle */

static void free_link(orchestrator_link *link)
{
    free(link->device_name);
    free(link->fixed_log_endpoint);
    free(link->url);
    pthread_mutex_destroy(&link->lock);
    pthread_cond_destroy(&link->wake);
    free(link);
}

orchestrator_link *orchestrator_link_start(const orchestrator_link_config *config,
                                           char *err, size_t err_size)
{
    if (!config || !config->device_name || !*config->device_name || !config->port) {
        snprintf(err, err_size, "the orchestrator link needs the device name and HTTP port");
        return NULL;
    }
    orchestrator_link *link = calloc(1, sizeof *link);
    if (!link) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&link->lock, NULL);
    pthread_cond_init(&link->wake, NULL);
    link->device_name = strdup(config->device_name);
    link->port = config->port;
    link->mdns = config->mdns;
    link->renewal_seconds = config->renewal_seconds ? config->renewal_seconds
                                                    : DEFAULT_RENEWAL_SECONDS;
    link->fixed_log_endpoint = config->logging_endpoint && *config->logging_endpoint
                                   ? strdup(config->logging_endpoint) : NULL;
    struct in_addr check;
    if (config->address && inet_pton(AF_INET, config->address, &check) != 1) {
        snprintf(err, err_size, "the address to advertise, \"%s\", is not an IPv4 address",
                 config->address);
        free_link(link);
        return NULL;
    }
    if (config->address)
        snprintf(link->address, sizeof link->address, "%s", config->address);
    else
        primary_ipv4(link->address, sizeof link->address);
    set_url_locked(link, config->orchestrator_url);
    link->last_contact = monotonic_seconds();

    if (link->mdns && !advertise(link, err, err_size)) {
        free_link(link);
        return NULL;
    }
    char endpoint[1024];
    log_endpoint_for(link, link->url, endpoint, sizeof endpoint);
    link->logs = orchestrator_logs_start(link->device_name, link->address, LOG_INFO, 0);
    orchestrator_logs_set_endpoint(link->logs, endpoint[0] ? endpoint : NULL);
    if (pthread_create(&link->thread, NULL, link_thread, link) != 0) {
        snprintf(err, err_size, "cannot start the orchestrator link's thread");
        orchestrator_logs_stop(link->logs, 0);
        mdns_advertise_stop(link->advertiser);
        free_link(link);
        return NULL;
    }
    log_info("orchestrator.link", "device=%s address=%s port=%u mdns=%s url=%s renewal_s=%u",
             log_quote(link->device_name), link->address, link->port, link->mdns ? "on" : "off",
             log_quote(link->url ? link->url : "-"), link->renewal_seconds);
    return link;
}

void orchestrator_link_stop(orchestrator_link *link)
{
    if (!link)
        return;
    pthread_mutex_lock(&link->lock);
    link->stopping = true;
    pthread_cond_signal(&link->wake);
    pthread_mutex_unlock(&link->lock);
    pthread_join(link->thread, NULL);
    mdns_advertise_stop(link->advertiser);      /* the goodbye */
    orchestrator_logs_stop(link->logs, LOG_FLUSH_MS);
    free_link(link);
}
