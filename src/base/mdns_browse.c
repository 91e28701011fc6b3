/*
 * mdns_browse.c — finds the instances of one service type and resolves each:
 *
 *   PTR <type>          -> instance names        (the browse query runs for the
 *   SRV, TXT <instance> -> host, port, key=value  whole life of the browser;
 *   A <host>            -> IPv4 address           libmdnsd refreshes its answers)
 *
 * libmdnsd calls our answer functions from inside its input processing; they only
 * note what arrived. The loop's settle step then starts the follow-up queries and
 * decides what to report, and the deliver step calls the user without any lock held.
 *
 * Two quirks of libmdnsd shape this file. It caches records that arrive unasked
 * (announcements) but tells a query registered later nothing about them, and it
 * sends those cached records as known answers, which silences the responders: so
 * every new query is first answered from the cache (mdnsd_list). And it caches a
 * record again each time it is announced, so one copy expiring does not mean the
 * record is gone: an instance is lost only when no live copy of its PTR is left.
 */
#define _GNU_SOURCE
#include "base/mdns.h"
#include "base/mdns_loop.h"
#include "base/log.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

typedef struct browse_instance {
    char *name;                 /* "liquid-s1._webthing._tcp.local." */
    char *instance;             /* "liquid-s1" */
    bool alive;                 /* a PTR names it */
    bool check_gone;            /* a PTR copy expired or said goodbye: any left? */
    bool queried;               /* SRV and TXT queries are running */
    char *target;               /* from SRV: "liquid-s1.local." */
    uint16_t port;
    char **txt;                 /* NULL-terminated */
    bool has_txt;
    char address[INET_ADDRSTRLEN];
    char *reported;             /* what found() was last told, NULL if nothing */
    struct browse_instance *next;
} browse_instance;

typedef struct address_query {
    char *host;
    struct address_query *next;
} address_query;

typedef struct browse_event {
    bool lost;
    char *instance;
    char *host;                 /* found only: the target without the final dot */
    char address[INET_ADDRSTRLEN];
    uint16_t port;
    char **txt;
    struct browse_event *next;
} browse_event;

struct mdns_browser {
    mdns_loop loop;
    char service_name[128];
    mdns_found_fn found;
    mdns_lost_fn lost;
    void *user;
    browse_instance *instances;
    address_query *address_queries;
    browse_event *events, **events_tail;
};

/* ------------------------------------------------------------ small helpers */

static void free_strings(char **list)
{
    for (size_t i = 0; list && list[i]; i++)
        free(list[i]);
    free(list);
}

static char **copy_strings(char *const *list)
{
    size_t n = 0;
    while (list && list[n])
        n++;
    char **copy = calloc(n + 1, sizeof *copy);
    for (size_t i = 0; copy && i < n; i++)
        copy[i] = strdup(list[i]);
    return copy;
}

/* TXT rdata (length-prefixed strings) -> NULL-terminated list; empty strings dropped. */
static char **parse_txt(const unsigned char *data, size_t len)
{
    char **list = calloc(len / 2 + 2, sizeof *list);
    size_t n = 0, i = 0;
    while (list && i < len) {
        size_t item = data[i++];
        if (item > len - i)
            break;
        if (item)
            list[n++] = strndup((const char *)data + i, item);
        i += item;
    }
    return list;
}

static void set_string(char **field, const char *value)
{
    if (*field && value && strcmp(*field, value) == 0)
        return;
    free(*field);
    *field = value ? strdup(value) : NULL;
}

static browse_instance *find_instance(mdns_browser *b, const char *name)
{
    for (browse_instance *i = b->instances; i; i = i->next)
        if (strcmp(i->name, name) == 0)
            return i;
    return NULL;
}

static void free_instance(browse_instance *i)
{
    free(i->name);
    free(i->instance);
    free(i->target);
    free_strings(i->txt);
    free(i->reported);
    free(i);
}

static void free_event(browse_event *e)
{
    free(e->instance);
    free(e->host);
    free_strings(e->txt);
    free(e);
}

static void queue_event(mdns_browser *b, browse_event *e)
{
    e->next = NULL;
    *b->events_tail = e;
    b->events_tail = &e->next;
}

/* ------------------------------------------- answers (inside libmdnsd's input) */

static int on_ptr(mdns_answer_t *answer, void *user)
{
    mdns_browser *b = user;
    const char *name = answer->rdname;
    size_t len = name ? strlen(name) : 0, suffix = strlen(b->service_name);
    /* Only "<instance>.<type>" belongs to this browser. */
    if (len <= suffix + 1 || strcmp(name + len - suffix, b->service_name) != 0 ||
        name[len - suffix - 1] != '.')
        return 0;
    browse_instance *i = find_instance(b, name);
    if (answer->ttl == 0) {
        if (i)
            i->check_gone = true;
        return 0;
    }
    if (!i) {
        i = calloc(1, sizeof *i);
        if (!i)
            return 0;
        i->name = strdup(name);
        i->instance = strndup(name, len - suffix - 1);
        i->next = b->instances;
        b->instances = i;
    }
    i->alive = true;
    return 0;
}

static int on_srv(mdns_answer_t *answer, void *user)
{
    browse_instance *i = find_instance(user, answer->name);
    if (i && answer->ttl != 0 && answer->rdname) {
        set_string(&i->target, answer->rdname);
        i->port = answer->srv.port;
    }
    return 0;
}

static int on_txt(mdns_answer_t *answer, void *user)
{
    browse_instance *i = find_instance(user, answer->name);
    if (i && answer->ttl != 0) {
        free_strings(i->txt);
        i->txt = parse_txt(answer->rdata, answer->rdata ? answer->rdlen : 0);
        i->has_txt = i->txt != NULL;
    }
    return 0;
}

static int on_a(mdns_answer_t *answer, void *user)
{
    mdns_browser *b = user;
    /* The raw rdata is the address in network order; libmdnsd's decoded copy has
     * been in host order in some versions. */
    if (answer->ttl == 0 || !answer->rdata || answer->rdlen != 4)
        return 0;
    for (browse_instance *i = b->instances; i; i = i->next)
        if (i->target && strcmp(i->target, answer->name) == 0)
            inet_ntop(AF_INET, answer->rdata, i->address, sizeof i->address);
    return 0;
}

/* ------------------------------------------------------------------ settle */

/* Registers a query and answers it at once from what libmdnsd already cached. */
static void query_with_cache(mdns_browser *b, const char *name, int type,
                             int (*answer)(mdns_answer_t *, void *))
{
    mdns_daemon_t *d = b->loop.daemon;
    mdnsd_query(d, name, type, answer, b);
    for (mdns_answer_t *a = mdnsd_list(d, name, type, NULL); a; a = mdnsd_list(d, name, type, a))
        answer(a, b);
}

/* Is a copy of the PTR naming this instance still cached and unexpired? (The cache
 * keeps an absolute expiry time in the ttl field.) */
static bool ptr_still_cached(mdns_browser *b, const browse_instance *i)
{
    mdns_daemon_t *d = b->loop.daemon;
    struct timeval now;
    gettimeofday(&now, NULL);
    for (mdns_answer_t *a = mdnsd_list(d, b->service_name, QTYPE_PTR, NULL); a;
         a = mdnsd_list(d, b->service_name, QTYPE_PTR, a))
        if (a->rdname && strcmp(a->rdname, i->name) == 0 && a->ttl > (unsigned long)now.tv_sec)
            return true;
    return false;
}

static void ensure_address_query(mdns_browser *b, const char *host)
{
    for (address_query *q = b->address_queries; q; q = q->next)
        if (strcmp(q->host, host) == 0)
            return;
    address_query *q = calloc(1, sizeof *q);
    if (!q || !(q->host = strdup(host))) {
        free(q);
        return;
    }
    q->next = b->address_queries;
    b->address_queries = q;
    query_with_cache(b, host, QTYPE_A, on_a);
}

static char *signature_of(const browse_instance *i)
{
    size_t size = strlen(i->target) + 64;
    for (size_t k = 0; i->txt && i->txt[k]; k++)
        size += strlen(i->txt[k]) + 1;
    char *s = malloc(size);
    if (!s)
        return NULL;
    int n = snprintf(s, size, "%s|%u|%s", i->target, i->port, i->address);
    for (size_t k = 0; i->txt && i->txt[k]; k++)
        n += snprintf(s + n, size - (size_t)n, "|%s", i->txt[k]);
    return s;
}

static void report_if_changed(mdns_browser *b, browse_instance *i)
{
    if (!i->target || !i->has_txt || !i->address[0])
        return;     /* not resolved yet */
    char *signature = signature_of(i);
    if (!signature || (i->reported && strcmp(signature, i->reported) == 0)) {
        free(signature);
        return;
    }
    browse_event *e = calloc(1, sizeof *e);
    if (!e) {
        free(signature);
        return;
    }
    e->instance = strdup(i->instance);
    size_t host_len = strlen(i->target);
    e->host = strndup(i->target, host_len && i->target[host_len - 1] == '.' ? host_len - 1 : host_len);
    snprintf(e->address, sizeof e->address, "%s", i->address);
    e->port = i->port;
    e->txt = copy_strings(i->txt);
    queue_event(b, e);
    free(i->reported);
    i->reported = signature;
}

/* Its SRV, TXT and A queries stay registered: libmdnsd (0.12) cannot remove a query
 * (mdnsd_query with no answer function indexes its query table with the cache
 * table's size and crashes). They cost nothing once their answers expire, answer
 * into nothing while the instance is unknown, and serve it again if it returns. */
static void forget_instance(mdns_browser *b, browse_instance *i)
{
    if (i->reported) {
        browse_event *e = calloc(1, sizeof *e);
        if (e) {
            e->lost = true;
            e->instance = strdup(i->instance);
            queue_event(b, e);
        }
    }
}

static void settle(mdns_loop *loop, void *user)
{
    (void)loop;
    mdns_browser *b = user;
    browse_instance **link = &b->instances;
    while (*link) {
        browse_instance *i = *link;
        if (i->check_gone) {
            i->check_gone = false;
            i->alive = ptr_still_cached(b, i);
        }
        if (!i->alive) {
            forget_instance(b, i);
            *link = i->next;
            free_instance(i);
            continue;
        }
        if (!i->queried) {
            i->queried = true;
            query_with_cache(b, i->name, QTYPE_SRV, on_srv);
            query_with_cache(b, i->name, QTYPE_TXT, on_txt);
        }
        if (i->target)
            ensure_address_query(b, i->target);
        report_if_changed(b, i);
        link = &i->next;
    }
}

/* ----------------------------------------------------------------- deliver */

static void deliver(mdns_loop *loop, void *user)
{
    mdns_browser *b = user;
    pthread_mutex_lock(&loop->lock);
    browse_event *events = b->events;
    b->events = NULL;
    b->events_tail = &b->events;
    pthread_mutex_unlock(&loop->lock);
    while (events) {
        browse_event *e = events;
        events = e->next;
        if (e->lost && b->lost) {
            b->lost(e->instance, b->user);
        } else if (!e->lost && b->found) {
            mdns_found found = {.instance = e->instance, .host = e->host, .address = e->address,
                                .port = e->port, .txt = (const char *const *)e->txt};
            b->found(&found, b->user);
        }
        free_event(e);
    }
}

/* -------------------------------------------------------------- public API */

mdns_browser *mdns_browse_start(const char *type, mdns_found_fn found, mdns_lost_fn lost,
                                void *user, char *err, size_t err_size)
{
    mdns_browser *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    if (!mdns_service_type_name(type, b->service_name, sizeof b->service_name, err, err_size) ||
        !mdns_loop_open(&b->loop, NULL, err, err_size)) {
        free(b);
        return NULL;
    }
    b->found = found;
    b->lost = lost;
    b->user = user;
    b->events_tail = &b->events;
    query_with_cache(b, b->service_name, QTYPE_PTR, on_ptr);
    mdns_loop_hooks hooks = {.settle = settle, .deliver = deliver, .user = b};
    if (!mdns_loop_run(&b->loop, &hooks, err, err_size)) {
        mdns_loop_close(&b->loop, false);
        free(b);
        return NULL;
    }
    log_info("mdns.browse", "type=%s", b->service_name);
    return b;
}

void mdns_browse_stop(mdns_browser *b)
{
    if (!b)
        return;
    mdns_loop_close(&b->loop, false);
    while (b->instances) {
        browse_instance *i = b->instances;
        b->instances = i->next;
        free_instance(i);
    }
    while (b->address_queries) {
        address_query *q = b->address_queries;
        b->address_queries = q->next;
        free(q->host);
        free(q);
    }
    while (b->events) {
        browse_event *e = b->events;
        b->events = e->next;
        free_event(e);
    }
    free(b);
}
