/*
 * mdns.h — DNS-SD over multicast DNS (RFC 6762/6763) with libmdnsd, interoperating
 * with Avahi and other responders on the same host and network.
 *
 * An advertiser publishes one service (PTR, SRV, TXT and A records) and answers
 * queries for it until stopped; a browser keeps a query for a service type running and
 * reports instances as they appear (resolved: host, address, port, TXT) and go
 * (goodbye or expiry). Each runs its own socket loop in a background thread.
 *
 * Multicast leaves the host: callers must only start these inside a private test
 * network or on a real device LAN. A supervisor with mDNS switched off never calls
 * them, so no multicast socket is even opened.
 */
#ifndef LIQUID_BASE_MDNS_H
#define LIQUID_BASE_MDNS_H

#include <stddef.h>
#include <stdint.h>

typedef struct mdns_service {
    const char *instance;      /* "liquid-s1" */
    const char *type;          /* "_webthing._tcp" */
    uint16_t port;
    const char *address;       /* IPv4 to announce (A record) */
    const char *const *txt;    /* NULL-terminated "key=value" strings: path=/ tls=0 address=... */
} mdns_service;

typedef struct mdns_advertiser mdns_advertiser;
/* Copies everything it needs from service. NULL on failure, with the reason in err. */
mdns_advertiser *mdns_advertise_start(const mdns_service *service, char *err, size_t err_size);
void mdns_advertise_stop(mdns_advertiser *a);    /* sends the goodbye (TTL 0) */

/* What a browser found. Every pointer is valid only during the callback. */
typedef struct mdns_found {
    const char *instance;      /* "liquid-s1", without the service type */
    const char *host;          /* "h1.local" (the SRV target) */
    const char *address;       /* "10.77.0.1" */
    uint16_t port;
    const char *const *txt;    /* NULL-terminated "key=value" strings */
} mdns_found;
typedef void (*mdns_found_fn)(const mdns_found *found, void *user);
typedef void (*mdns_lost_fn)(const char *instance, void *user);

/* Callbacks run on the browser's thread. found is called once an instance is fully
 * resolved, and again when its port, address or TXT change; lost when it says goodbye
 * or its records expire. */
typedef struct mdns_browser mdns_browser;        /* the orchestrator (next issue) browses */
mdns_browser *mdns_browse_start(const char *type, mdns_found_fn found, mdns_lost_fn lost,
                                void *user, char *err, size_t err_size);
void mdns_browse_stop(mdns_browser *b);

#endif
