/*
 * mdns_loop.h — the socket loop an advertiser and a browser share (internal to mdns*.c).
 *
 * libmdnsd is a state machine without I/O: it takes parsed packets (mdnsd_in), hands
 * out packets to send (mdnsd_out) and says how long it may sleep (mdnsd_sleep). This
 * loop owns the UDP socket on port 5353 (shared with Avahi and any other responder
 * through SO_REUSEADDR/SO_REUSEPORT), joins 224.0.0.251, and drives the daemon from a
 * background thread. Everything that touches the daemon holds the loop's lock.
 */
#ifndef LIQUID_BASE_MDNS_LOOP_H
#define LIQUID_BASE_MDNS_LOOP_H

#include <libmdnsd/mdnsd.h>

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MDNS_PORT 5353
#define MDNS_GROUP "224.0.0.251"

typedef struct mdns_loop mdns_loop;

typedef struct mdns_loop_hooks {
    /* With the lock held, after every batch of input and at least every period_ms:
     * the owner's bookkeeping (start queries, re-announce). May be NULL. */
    void (*settle)(mdns_loop *loop, void *user);
    /* Without the lock, after settle: hand events to user callbacks, which may then
     * do anything but stop this loop. May be NULL. */
    void (*deliver)(mdns_loop *loop, void *user);
    void *user;
    unsigned period_ms;     /* 0: 1000 */
} mdns_loop_hooks;

struct mdns_loop {
    mdns_daemon_t *daemon;
    int socket;
    int wake[2];            /* a byte written here ends the thread's wait at once */
    pthread_t thread;
    bool running;
    bool lock_ready;
    pthread_mutex_t lock;
    atomic_bool stopping;
    mdns_loop_hooks hooks;
    unsigned char *packet;  /* MAX_PACKET_LEN bytes: libmdnsd parses in place */
    struct message *message;
    /* Fingerprints of what we sent lately: multicast loops back to our own socket,
     * and libmdnsd would take its own announcements for a rival's (a conflict). */
    struct {
        uint64_t hash;
        time_t at;
    } sent[32];
    unsigned sent_next;
};

/* Creates the daemon and the socket, joined to the group on the interface that has
 * interface_address ("" or NULL: the one the routing table picks). Records and
 * queries may be set up on loop->daemon before mdns_loop_run. */
bool mdns_loop_open(mdns_loop *loop, const char *interface_address, char *err, size_t err_size);
bool mdns_loop_run(mdns_loop *loop, const mdns_loop_hooks *hooks, char *err, size_t err_size);
/* Wakes the thread so that new records or queries go out now (call after unlocking). */
void mdns_loop_wake(mdns_loop *loop);
/* Stops the thread; with goodbye, first withdraws every published record (TTL 0),
 * sent twice so that one lost packet does not leave stale
 * entries in other caches. Then frees everything. */
void mdns_loop_close(mdns_loop *loop, bool goodbye);

/* "_webthing._tcp" (or "_webthing._tcp.local", with or without the final dot) ->
 * "_webthing._tcp.local.", the form libmdnsd matches names in. False, with the reason
 * in err, for anything but "_name._tcp" or "_name._udp". */
bool mdns_service_type_name(const char *type, char *out, size_t out_size, char *err,
                            size_t err_size);

#endif
