/*
 * mdns_loop.c — one UDP socket on port 5353 and a thread that feeds libmdnsd.
 */
#define _GNU_SOURCE
#include "base/mdns_loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The largest multicast DNS packet we build: a classic Ethernet MTU minus IP and
 * UDP headers, as RFC 6762 §17 asks of responders that do not know better. */
#define MDNS_FRAME 1472

static bool fail(char *err, size_t err_size, const char *what)
{
    snprintf(err, err_size, "%s: %s", what, strerror(errno));
    return false;
}

/* Joins 224.0.0.251 on the interface that has *interface (INADDR_ANY: the one the
 * routing table picks). An address no interface here has (a NAT's public address
 * given as WASMIOT_SUPERVISOR_IP) cannot name the interface: the routing table
 * chooses then, and *interface says so. */
static bool join_group(int s, struct in_addr *interface)
{
    struct ip_mreq group = {.imr_interface = *interface};
    inet_pton(AF_INET, MDNS_GROUP, &group.imr_multiaddr);
    if (setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &group, sizeof group) == 0)
        return true;
    if (interface->s_addr == htonl(INADDR_ANY) || (errno != EADDRNOTAVAIL && errno != ENODEV))
        return false;
    interface->s_addr = group.imr_interface.s_addr = htonl(INADDR_ANY);
    return setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &group, sizeof group) == 0;
}

static bool open_socket(mdns_loop *loop, struct in_addr interface, char *err, size_t err_size)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0)
        return fail(err, err_size, "mDNS socket");
    int on = 1;
    unsigned char ttl = 255, loopback = 1;
    struct sockaddr_in bound = {.sin_family = AF_INET, .sin_port = htons(MDNS_PORT),
                                .sin_addr.s_addr = htonl(INADDR_ANY)};
    /* Port 5353 is shared: Avahi, another Liquid process or a browser in this one. */
    if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
        close(s);
        return fail(err, err_size, "mDNS socket options");
    }
    if (bind(s, (struct sockaddr *)&bound, sizeof bound) != 0) {
        close(s);
        return fail(err, err_size, "binding UDP port 5353 for mDNS");
    }
    if (!join_group(s, &interface)) {
        close(s);
        return fail(err, err_size, "joining the mDNS group 224.0.0.251 (is there a multicast route?)");
    }
    /* TTL 255 is what receivers check (RFC 6762 §11); looping back lets other
     * responders and browsers on this same host hear us. */
    setsockopt(s, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
    setsockopt(s, IPPROTO_IP, IP_MULTICAST_LOOP, &loopback, sizeof loopback);
    if (interface.s_addr != htonl(INADDR_ANY))
        setsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &interface, sizeof interface);
    loop->socket = s;
    return true;
}

bool mdns_loop_open(mdns_loop *loop, const char *interface_address, char *err, size_t err_size)
{
    memset(loop, 0, sizeof *loop);
    loop->socket = loop->wake[0] = loop->wake[1] = -1;
    pthread_mutex_init(&loop->lock, NULL);
    loop->lock_ready = true;
    struct in_addr interface = {.s_addr = htonl(INADDR_ANY)};
    if (interface_address && *interface_address &&
        inet_pton(AF_INET, interface_address, &interface) != 1) {
        snprintf(err, err_size, "\"%s\" is not an IPv4 address", interface_address);
        return false;
    }
    /* libmdnsd's own trace of every record in and out, on stderr, for field debugging. */
    if (getenv("LIQUID_MDNS_DEBUG"))
        mdnsd_log_level("debug");
    loop->packet = calloc(1, MAX_PACKET_LEN);
    loop->message = calloc(1, sizeof *loop->message);
    loop->daemon = mdnsd_new(QCLASS_IN, MDNS_FRAME);
    if (!loop->packet || !loop->message || !loop->daemon) {
        snprintf(err, err_size, "out of memory starting mDNS");
        mdns_loop_close(loop, false);
        return false;
    }
    if (pipe2(loop->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        fail(err, err_size, "mDNS wake-up pipe");
        mdns_loop_close(loop, false);
        return false;
    }
    if (!open_socket(loop, interface, err, err_size)) {
        mdns_loop_close(loop, false);
        return false;
    }
    return true;
}

#define SENT_MEMORY_SECONDS 5

static uint64_t packet_hash(const unsigned char *bytes, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;     /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ bytes[i]) * 0x100000001b3ULL;
    return h ^ len;
}

static void remember_sent(mdns_loop *loop, const unsigned char *bytes, size_t len)
{
    loop->sent[loop->sent_next].hash = packet_hash(bytes, len);
    loop->sent[loop->sent_next].at = time(NULL);
    loop->sent_next = (loop->sent_next + 1) % (sizeof loop->sent / sizeof loop->sent[0]);
}

static bool sent_by_us(const mdns_loop *loop, const unsigned char *bytes, size_t len)
{
    uint64_t h = packet_hash(bytes, len);
    time_t now = time(NULL);
    for (size_t i = 0; i < sizeof loop->sent / sizeof loop->sent[0]; i++)
        if (loop->sent[i].at && loop->sent[i].hash == h && now - loop->sent[i].at <= SENT_MEMORY_SECONDS)
            return true;
    return false;
}

/* mdnsd_out answers multicast with the group address and port 5353 (in network
 * order), and legacy unicast queries with the asker's address and the port as
 * mdnsd_in was given it (host order). */
static void send_message(mdns_loop *loop, struct in_addr ip, unsigned short port)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr = ip};
    struct in_addr group;
    inet_pton(AF_INET, MDNS_GROUP, &group);
    to.sin_port = ip.s_addr == group.s_addr ? htons(MDNS_PORT) : htons(port);
    unsigned char *bytes = message_packet(loop->message);
    int len = message_packet_len(loop->message);
    remember_sent(loop, bytes, (size_t)len);
    sendto(loop->socket, bytes, (size_t)len, 0, (struct sockaddr *)&to, sizeof to);
}

static void send_pending(mdns_loop *loop)
{
    struct in_addr ip;
    unsigned short port;
    while (mdnsd_out(loop->daemon, loop->message, &ip, &port) > 0)
        send_message(loop, ip, port);
}

static void receive_pending(mdns_loop *loop)
{
    for (;;) {
        struct sockaddr_in from;
        socklen_t from_len = sizeof from;
        /* libmdnsd parses in place and trusts the rest of the buffer to be zero. */
        memset(loop->packet, 0, MAX_PACKET_LEN);
        ssize_t n = recvfrom(loop->socket, loop->packet, MAX_PACKET_LEN, 0,
                             (struct sockaddr *)&from, &from_len);
        if (n <= 0)
            return;
        if (n < 12 || sent_by_us(loop, loop->packet, (size_t)n))
            continue;   /* shorter than a DNS header, or our own looped back */
        memset(loop->message, 0, sizeof *loop->message);
        message_parse(loop->message, loop->packet);
        mdnsd_in(loop->daemon, loop->message, from.sin_addr, ntohs(from.sin_port));
    }
}

static long sleep_ms(mdns_loop *loop)
{
    struct timeval *tv = mdnsd_sleep(loop->daemon);
    long ms = tv->tv_sec * 1000L + tv->tv_usec / 1000;
    long period = loop->hooks.period_ms ? (long)loop->hooks.period_ms : 1000;
    return ms < period ? ms : period;
}

static void *loop_thread(void *arg)
{
    mdns_loop *loop = arg;
    while (!atomic_load(&loop->stopping)) {
        pthread_mutex_lock(&loop->lock);
        if (loop->hooks.settle)
            loop->hooks.settle(loop, loop->hooks.user);
        send_pending(loop);
        long wait = sleep_ms(loop);
        pthread_mutex_unlock(&loop->lock);
        if (loop->hooks.deliver)
            loop->hooks.deliver(loop, loop->hooks.user);

        struct pollfd fds[2] = {{.fd = loop->socket, .events = POLLIN},
                                {.fd = loop->wake[0], .events = POLLIN}};
        if (poll(fds, 2, (int)(wait < 0 ? 0 : wait)) < 0 && errno != EINTR)
            break;
        if (fds[1].revents & POLLIN) {
            char drain[64];
            while (read(loop->wake[0], drain, sizeof drain) > 0)
                ;
        }
        if (fds[0].revents & POLLIN) {
            pthread_mutex_lock(&loop->lock);
            receive_pending(loop);
            pthread_mutex_unlock(&loop->lock);
        }
    }
    return NULL;
}

bool mdns_loop_run(mdns_loop *loop, const mdns_loop_hooks *hooks, char *err, size_t err_size)
{
    if (hooks)
        loop->hooks = *hooks;
    int rc = pthread_create(&loop->thread, NULL, loop_thread, loop);
    if (rc != 0) {
        snprintf(err, err_size, "starting the mDNS thread: %s", strerror(rc));
        return false;
    }
    loop->running = true;
    return true;
}

void mdns_loop_wake(mdns_loop *loop)
{
    if (loop->wake[1] >= 0) {
        char byte = 1;
        ssize_t ignored = write(loop->wake[1], &byte, 1);
        (void)ignored;     /* a full pipe already wakes the thread */
    }
}

/* Every packet libmdnsd builds after mdnsd_shutdown carries withdrawals only. */
static void send_goodbye(mdns_loop *loop)
{
    enum { MAX_PACKETS = 16 };
    unsigned char *packets[MAX_PACKETS];
    int lengths[MAX_PACKETS];
    int count = 0;
    struct in_addr ip;
    unsigned short port;
    mdnsd_shutdown(loop->daemon);
    while (count < MAX_PACKETS && mdnsd_out(loop->daemon, loop->message, &ip, &port) > 0) {
        int len = message_packet_len(loop->message);
        packets[count] = malloc((size_t)len);
        if (!packets[count])
            break;
        memcpy(packets[count], message_packet(loop->message), (size_t)len);
        lengths[count++] = len;
    }
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(MDNS_PORT)};
    inet_pton(AF_INET, MDNS_GROUP, &to.sin_addr);
    for (int round = 0; round < 2; round++) {
        if (round) {
            struct timespec pause = {0, 250000000L};
            nanosleep(&pause, NULL);
        }
        for (int i = 0; i < count; i++)
            sendto(loop->socket, packets[i], (size_t)lengths[i], 0, (struct sockaddr *)&to,
                   sizeof to);
    }
    for (int i = 0; i < count; i++)
        free(packets[i]);
}

void mdns_loop_close(mdns_loop *loop, bool goodbye)
{
    if (loop->running) {
        atomic_store(&loop->stopping, true);
        mdns_loop_wake(loop);
        pthread_join(loop->thread, NULL);
        loop->running = false;
    }
    if (goodbye && loop->daemon && loop->socket >= 0)
        send_goodbye(loop);
    if (loop->daemon)
        mdnsd_free(loop->daemon);
    if (loop->socket >= 0)
        close(loop->socket);
    if (loop->wake[0] >= 0)
        close(loop->wake[0]);
    if (loop->wake[1] >= 0)
        close(loop->wake[1]);
    free(loop->packet);
    free(loop->message);
    if (loop->lock_ready)
        pthread_mutex_destroy(&loop->lock);
    memset(loop, 0, sizeof *loop);
    loop->socket = loop->wake[0] = loop->wake[1] = -1;
}
