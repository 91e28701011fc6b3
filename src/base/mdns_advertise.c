/*
 * mdns_advertise.c — publishes one DNS-SD service:
 *
 *   _services._dns-sd._udp.local.  PTR  _webthing._tcp.local.        (type enumeration)
 *   _webthing._tcp.local.          PTR  liquid-s1._webthing._tcp.local.
 *   liquid-s1._webthing._tcp.local. SRV  0 0 <port> liquid-s1.local.
 *   liquid-s1._webthing._tcp.local. TXT  "path=/" "tls=0" "address=..."
 *   liquid-s1.local.               A    <address>
 *
 * The SRV target is a host name of the service's own rather than the machine's: the
 * device may run Avahi, which owns <hostname>.local with all of the machine's
 * addresses, and announcing that name with one address (cache-flush set) would
 * contradict it and make Avahi rename the host. TTLs are those of RFC 6762 §10:
 * 120 s for records naming a host, 75 minutes for the others.
 */
#define _GNU_SOURCE
#include "base/mdns.h"
#include "base/mdns_loop.h"
#include "base/log.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOST_TTL 120
#define OTHER_TTL 4500
#define TXT_MAX 1300            /* keeps the TXT record in one packet with the rest */
#define REANNOUNCE_SECONDS (HOST_TTL / 2)

enum { RECORD_ENUM, RECORD_PTR, RECORD_SRV, RECORD_TXT, RECORD_A, RECORD_COUNT };

struct mdns_advertiser {
    mdns_loop loop;
    char service_name[128];     /* "_webthing._tcp.local." */
    char instance_name[192];    /* "liquid-s1._webthing._tcp.local." */
    char host_name[80];         /* "liquid-s1.local." */
    char instance[64];
    uint16_t port;
    struct in_addr address;
    unsigned char txt[TXT_MAX];
    unsigned short txt_len;
    mdns_record_t *records[RECORD_COUNT];
    time_t next_announce;
};

static bool instance_ok(const char *instance, char *err, size_t err_size)
{
    size_t len = instance ? strlen(instance) : 0;
    if (len == 0 || len > 63) {
        snprintf(err, err_size, "mDNS instance name must be 1 to 63 bytes (got %zu)", len);
        return false;
    }
    /* libmdnsd keeps names as dotted text, so a dot inside a label cannot be told
     * from a label boundary. */
    if (strchr(instance, '.')) {
        snprintf(err, err_size, "mDNS instance name \"%s\" must not contain a dot", instance);
        return false;
    }
    return true;
}

/* "Liquid S1" -> "Liquid-S1": a host label has letters, digits and hyphens only. */
static void host_label_from(const char *instance, char *out, size_t out_size)
{
    size_t n = 0;
    for (const char *p = instance; *p && n + 1 < out_size; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        out[n++] = ok ? c : '-';
    }
    out[n] = '\0';
}

/* TXT rdata: each "key=value" as a length byte and the bytes (RFC 6763 §6). */
static bool build_txt(mdns_advertiser *a, const char *const *txt, char *err, size_t err_size)
{
    size_t len = 0;
    for (size_t i = 0; txt && txt[i]; i++) {
        size_t item = strlen(txt[i]);
        if (item == 0 || item > 255 || txt[i][0] == '=') {
            snprintf(err, err_size, "TXT entry \"%.40s%s\" (%zu bytes) must be 1 to 255 bytes of key=value",
                     txt[i], item > 40 ? "..." : "", item);
            return false;
        }
        if (len + 1 + item > TXT_MAX) {
            snprintf(err, err_size, "TXT entries exceed %d bytes in total", TXT_MAX);
            return false;
        }
        a->txt[len++] = (unsigned char)item;
        memcpy(a->txt + len, txt[i], item);
        len += item;
    }
    if (len == 0)
        a->txt[len++] = 0;  /* an empty TXT record is one empty string */
    a->txt_len = (unsigned short)len;
    return true;
}

static bool copy_service(mdns_advertiser *a, const mdns_service *service, char *err,
                         size_t err_size)
{
    if (!instance_ok(service->instance, err, err_size) ||
        !mdns_service_type_name(service->type, a->service_name, sizeof a->service_name, err,
                                err_size))
        return false;
    if (service->port == 0) {
        snprintf(err, err_size, "mDNS service \"%s\" needs a port", service->instance);
        return false;
    }
    if (!service->address || inet_pton(AF_INET, service->address, &a->address) != 1) {
        snprintf(err, err_size, "mDNS needs the IPv4 address to announce (got \"%s\")",
                 service->address ? service->address : "");
        return false;
    }
    snprintf(a->instance, sizeof a->instance, "%s", service->instance);
    snprintf(a->instance_name, sizeof a->instance_name, "%s.%s", service->instance,
             a->service_name);
    char label[64];
    host_label_from(service->instance, label, sizeof label);
    snprintf(a->host_name, sizeof a->host_name, "%s.local.", label);
    a->port = service->port;
    return build_txt(a, service->txt, err, err_size);
}

/* Another responder claims one of our unique names with other data. libmdnsd drops
 * the record; the device name is the device's identity, so we do not rename. */
static void on_conflict(char *name, int type, void *user)
{
    mdns_advertiser *a = user;
    log_error("mdns.conflict", "name=%s type=%d instance=%s reason=%s", log_quote(name), type,
              log_quote(a->instance),
              log_quote("another host announces this name with other data; give this device "
                        "a unique name"));
    for (int i = 0; i < RECORD_COUNT; i++) {
        const mdns_answer_t *data = a->records[i] ? mdnsd_record_data(a->records[i]) : NULL;
        if (data && data->type == type && strcmp(data->name, name) == 0)
            a->records[i] = NULL;
    }
}

/* Sets (or sets again) the data of every record, which makes libmdnsd announce it. */
static void announce(mdns_advertiser *a)
{
    mdns_daemon_t *d = a->loop.daemon;
    mdns_record_t **r = a->records;
    if (r[RECORD_ENUM])
        mdnsd_set_host(d, r[RECORD_ENUM], a->service_name);
    if (r[RECORD_PTR])
        mdnsd_set_host(d, r[RECORD_PTR], a->instance_name);
    if (r[RECORD_SRV])
        mdnsd_set_srv(d, r[RECORD_SRV], 0, 0, a->port, a->host_name);
    if (r[RECORD_TXT])
        mdnsd_set_raw(d, r[RECORD_TXT], (const char *)a->txt, a->txt_len);
    /* The address as raw rdata, so that libmdnsd compares our own announcement,
     * looped back to us, byte for byte with what it sent, and sees no conflict. */
    if (r[RECORD_A])
        mdnsd_set_raw(d, r[RECORD_A], (const char *)&a->address, 4);
    a->next_announce = time(NULL) + REANNOUNCE_SECONDS;
}

static void create_records(mdns_advertiser *a)
{
    mdns_daemon_t *d = a->loop.daemon;
    a->records[RECORD_ENUM] = mdnsd_shared(d, "_services._dns-sd._udp.local.", QTYPE_PTR, OTHER_TTL);
    a->records[RECORD_PTR] = mdnsd_shared(d, a->service_name, QTYPE_PTR, OTHER_TTL);
    a->records[RECORD_SRV] = mdnsd_unique(d, a->instance_name, QTYPE_SRV, HOST_TTL, on_conflict, a);
    a->records[RECORD_TXT] = mdnsd_unique(d, a->instance_name, QTYPE_TXT, OTHER_TTL, on_conflict, a);
    a->records[RECORD_A] = mdnsd_unique(d, a->host_name, QTYPE_A, HOST_TTL, on_conflict, a);
    announce(a);
}

/* libmdnsd refreshes records before they expire only for some of them (the first of
 * each hash bucket), so every record is announced again well within its TTL. */
static void settle(mdns_loop *loop, void *user)
{
    (void)loop;
    mdns_advertiser *a = user;
    if (time(NULL) >= a->next_announce)
        announce(a);
}

mdns_advertiser *mdns_advertise_start(const mdns_service *service, char *err, size_t err_size)
{
    if (!service) {
        snprintf(err, err_size, "no mDNS service given");
        return NULL;
    }
    mdns_advertiser *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    if (!copy_service(a, service, err, err_size) ||
        !mdns_loop_open(&a->loop, service->address, err, err_size)) {
        free(a);
        return NULL;
    }
    create_records(a);
    mdns_loop_hooks hooks = {.settle = settle, .user = a};
    if (!mdns_loop_run(&a->loop, &hooks, err, err_size)) {
        mdns_loop_close(&a->loop, false);
        free(a);
        return NULL;
    }
    log_info("mdns.advertise", "instance=%s type=%s port=%u address=%s",
             log_quote(a->instance), a->service_name, a->port, service->address);
    return a;
}

void mdns_advertise_stop(mdns_advertiser *a)
{
    if (!a)
        return;
    mdns_loop_close(&a->loop, true);
    log_info("mdns.goodbye", "instance=%s", log_quote(a->instance));
    free(a);
}
