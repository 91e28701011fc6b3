/*
 * fleet_intro.c — how a device becomes known (wasmiot-api.md §3.3): its record (from a
 * registration or an mDNS answer) is checked, its description fetched from each of
 * its addresses until one answers, and it is health-checked at once. A device none of
 * whose addresses answers is not kept; one that answers is stored and announced
 * (device.found, or device.updated for a known name whose addresses, port or
 * description changed).
 *
 * Also here: the mDNS goodbye, and telling a device our URL (POST /register, §2.4)
 * when its health answer says it has no orchestrator.
 */
#define _GNU_SOURCE
#include "orchestrator/fleet_internal.h"
#include "orchestrator/fleet_probe.h"

#include "base/http_client.h"
#include "base/json_util.h"
#include "base/log.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DESCRIPTION_PATH "/.well-known/wasmiot-device-description"
#define INTRO_TIMEOUT_MS 5000
#define REGISTER_TIMEOUT_MS 5000
#define REGISTER_RETRY_SECONDS 10.0
#define MAX_ADDRESSES 16
#define MAX_NAME 200

/* -------------------------------------------------------------- records */

char *fleet_base_url(const char *address, uint16_t port)
{
    char *url;
    bool v6 = strchr(address, ':') != NULL;
    if (asprintf(&url, v6 ? "http://[%s]:%u" : "http://%s:%u", address, (unsigned)port) < 0)
        return NULL;
    return url;
}

/* An IP address or host name, nothing that could bend the URL built from it. */
static bool address_ok(const char *a)
{
    size_t n = strlen(a);
    if (n == 0 || n > 253)
        return false;
    for (const char *p = a; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(".-:_%", *p))
            return false;
    return true;
}

static bool name_ok(const char *name, char *err, size_t err_size)
{
    size_t n = strlen(name);
    if (n == 0 || n > MAX_NAME) {
        snprintf(err, err_size, "name: expected 1 to %d characters, got %zu", MAX_NAME, n);
        return false;
    }
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '/') {
            snprintf(err, err_size, "name: '%s' contains a slash or a control character; "
                     "use the supervisor's plain name (e.g. rust-supervisor-1)", name);
            return false;
        }
    return true;
}

void device_record_clear(device_record *r)
{
    free(r->name);
    for (size_t i = 0; i < r->address_count; i++)
        free(r->addresses[i]);
    free(r->addresses);
    memset(r, 0, sizeof *r);
}

static bool add_address(device_record *r, const char *address)
{
    for (size_t i = 0; i < r->address_count; i++)
        if (strcasecmp(r->addresses[i], address) == 0)
            return true;
    if (r->address_count == MAX_ADDRESSES)
        return true;            /* enough to try */
    char **grown = realloc(r->addresses, (r->address_count + 1) * sizeof *grown);
    if (!grown)
        return false;
    r->addresses = grown;
    return (r->addresses[r->address_count] = strdup(address)) && ++r->address_count;
}

/* "::ffff:10.0.0.5" (a v4 peer on a dual-stack socket) -> "10.0.0.5". */
static const char *plain_address(const char *address)
{
    return address && strncasecmp(address, "::ffff:", 7) == 0 && strchr(address + 7, '.')
               ? address + 7
               : address;
}

bool fleet_record_parse(const json_t *record, const char *peer_address, device_record *out,
                        char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    out->source = "registration";
    const char *name;
    json_int_t port;
    json_t *addresses, *properties;
    if (!json_expect_object(record, NULL, err, err_size) ||
        !json_get_string(record, NULL, "name", &name, err, err_size) ||
        !name_ok(name, err, err_size) ||
        !json_get_int(record, NULL, "port", &port, err, err_size) ||
        !json_opt_array(record, NULL, "addresses", &addresses, err, err_size) ||
        !json_opt_object(record, NULL, "properties", &properties, err, err_size))
        return false;
    if (port < 1 || port > 65535) {
        snprintf(err, err_size, "port: expected 1 to 65535, got %lld", (long long)port);
        return false;
    }
    out->port = (uint16_t)port;
    out->name = strdup(name);
    size_t i;
    json_t *a;
    json_array_foreach(addresses, i, a) {
        if (!json_is_string(a) || !address_ok(json_string_value(a))) {
            json_where where = JSON_MEMBER(NULL, "addresses");
            json_where item = JSON_INDEX(&where, i);
            json_fail(&item, NULL, err, err_size, "expected an IP address or host name, got %s",
                      json_is_string(a) ? json_string_value(a) : json_type_phrase(a));
            device_record_clear(out);
            return false;
        }
        if (!add_address(out, json_string_value(a)))
            goto oom;
    }
    /* The reference appends the TXT record's address when it is not listed. */
    const char *txt_address = json_string_value(json_object_get(properties, "address"));
    if (txt_address && address_ok(txt_address) && !add_address(out, txt_address))
        goto oom;
    /* The address the registration came from is tried last: a supervisor bound to
     * loopback or behind NAT may list an address the orchestrator cannot reach. */
    const char *peer = plain_address(peer_address);
    if (peer && address_ok(peer) && !add_address(out, peer))
        goto oom;
    if (out->address_count == 0) {
        snprintf(err, err_size, "addresses: none given, and the request's own address is "
                 "unknown; list the device's IP addresses");
        device_record_clear(out);
        return false;
    }
    if (!out->name)
        goto oom;
    return true;
oom:
    snprintf(err, err_size, "out of memory");
    device_record_clear(out);
    return false;
}

/* ------------------------------------------------ one introduction a name */

static bool name_in_progress(const fleet *f, const char *name)
{
    for (size_t i = 0; i < f->introducing_count; i++)
        if (strcmp(f->introducing[i], name) == 0)
            return true;
    return false;
}

/* Two registrations of one name (a supervisor retrying) must not both create it. */
static void begin_turn(fleet *f, const char *name)
{
    pthread_mutex_lock(&f->lock);
    while (name_in_progress(f, name))
        pthread_cond_wait(&f->turn, &f->lock);
    char **grown = realloc(f->introducing, (f->introducing_count + 1) * sizeof *grown);
    if (grown) {
        f->introducing = grown;
        f->introducing[f->introducing_count++] = (char *)name;
    }
    pthread_mutex_unlock(&f->lock);
}

static void end_turn(fleet *f, const char *name)
{
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < f->introducing_count; i++)
        if (f->introducing[i] == name) {
            f->introducing[i] = f->introducing[--f->introducing_count];
            break;
        }
    pthread_cond_broadcast(&f->turn);
    pthread_mutex_unlock(&f->lock);
}

/* ---------------------------------------------------------- introducing */

/* GET the description from each address in turn; the index of the one that answered,
 * or -1 with every address's failure in tried. */
static long fetch_description(const device_record *r, json_t **description, char *tried,
                              size_t tried_size)
{
    size_t used = 0;
    tried[0] = '\0';
    for (size_t i = 0; i < r->address_count; i++) {
        char *base = fleet_base_url(r->addresses[i], r->port);
        char *url = NULL;
        if (!base || asprintf(&url, "%s%s", base, DESCRIPTION_PATH) < 0) {
            free(base);
            return -1;
        }
        http_result res = {0};
        char why[300] = "";
        if (!http_get(url, INTRO_TIMEOUT_MS, &res))
            snprintf(why, sizeof why, "%s", res.error);
        else if (res.status != 200)
            snprintf(why, sizeof why, "GET %s answered %ld", url, res.status);
        else if (!(*description = http_result_json(&res)) || !json_is_object(*description)) {
            /* (json_is_object is a macro: its argument must not parse anything) */
            json_decref(*description);
            *description = NULL;
            snprintf(why, sizeof why, "GET %s answered 200 without a JSON object", url);
        }
        http_result_free(&res);
        free(url);
        free(base);
        if (*description)
            return (long)i;
        int n = snprintf(tried + used, tried_size - used, "%s%s", used ? "; " : "", why);
        if (n > 0 && (size_t)n < tried_size - used)
            used += (size_t)n;
    }
    return -1;
}

static bool addresses_equal(const fleet_member *d, const device_record *r)
{
    if (d->address_count != r->address_count || d->port != r->port)
        return false;
    for (size_t i = 0; i < r->address_count; i++)
        if (strcmp(d->addresses[i], r->addresses[i]) != 0)
            return false;
    return true;
}

static bool take_addresses(fleet_member *d, const device_record *r, size_t answered)
{
    char **copy = calloc(r->address_count, sizeof *copy);
    if (!copy)
        return false;
    for (size_t i = 0; i < r->address_count; i++)
        if (!(copy[i] = strdup(r->addresses[i]))) {
            while (i-- > 0)
                free(copy[i]);
            free(copy);
            return false;
        }
    for (size_t i = 0; i < d->address_count; i++)
        free(d->addresses[i]);
    free(d->addresses);
    d->addresses = copy;
    d->address_count = r->address_count;
    d->port = r->port;
    return fleet_set_address_locked(d, answered);
}

/* Memory and the change list, once the network has answered; lock held. */
static bool record_introduction(fleet *f, const device_record *r, size_t answered,
                                json_t *description, health_probe *probe, fleet_changes *c,
                                char *id_out, bool *needs_register)
{
    fleet_member *d = fleet_find_locked(f, r->name);
    bool is_new = d == NULL;
    if (is_new && !(d = fleet_add_locked(f, r->name)))
        return false;
    /* Which address answered is no news (the health loop moves between them). */
    bool changed = is_new || !addresses_equal(d, r) || !json_equal(d->description, description);
    if (!take_addresses(d, r, answered)) {
        if (is_new)
            fleet_remove_locked(f, d);
        return false;
    }
    json_decref(d->description);
    d->description = json_incref(description);
    snprintf(id_out, 25, "%s", d->id);
    f->counters.introductions++;
    if (changed) {
        char reason[512];
        snprintf(reason, sizeof reason, "%s; description from %s",
                 r->source ? r->source : "introduced", d->url);
        fleet_change *change = fleet_change_add(c, d);
        if (change) {
            json_t *doc = fleet_member_document(d);
            if (is_new) {
                change->document = doc;
            } else {
                change->updates = json_pack(
                    "{sO* sO* sO*}", "communication", json_object_get(doc, "communication"),
                    "description", json_object_get(doc, "description"), "url",
                    json_object_get(doc, "url"));
                json_decref(doc);
            }
            change->event = is_new ? "device.found" : "device.updated";
            change->event_data = fleet_event_data(d, d->health.state, !is_new, reason);
        }
        log_info(is_new ? "device.found" : "device.updated", "device=%s name=%s url=%s via=%s",
                 d->id, log_quote(d->name), log_quote(d->url), r->source ? r->source : "");
    }
    /* A blacklisted device is not checked; its state stays lost. */
    if (!d->blacklisted) {
        f->counters.health_checks++;
        if (!probe->ok)
            f->counters.health_check_failures++;
        fleet_record_check_locked(f, d, probe->ok, probe->report, probe->rtt_ms, probe->error,
                                  c);
        probe->report = NULL;
        *needs_register = probe->ok && !probe->orchestrator_set;
    }
    return true;
}

bool fleet_introduce(fleet *f, const device_record *r, int *status, char *err,
                     size_t err_size)
{
    begin_turn(f, r->name);
    json_t *description = NULL;
    char tried[1024];
    long answered = fetch_description(r, &description, tried, sizeof tried);
    if (answered < 0) {
        pthread_mutex_lock(&f->lock);
        f->counters.introduction_failures++;
        pthread_mutex_unlock(&f->lock);
        snprintf(err, err_size, "device '%s' was not added: no address answered GET %s (%s). "
                 "Check that the supervisor runs and that the orchestrator can reach it at "
                 "these addresses and port %u.", r->name, DESCRIPTION_PATH, tried,
                 (unsigned)r->port);
        *status = 502;
        log_warn("device.introduction_failed", "name=%s via=%s reason=%s", log_quote(r->name),
                 r->source ? r->source : "", log_quote(tried));
        end_turn(f, r->name);
        return false;
    }
    char *url = fleet_base_url(r->addresses[answered], r->port);
    health_probe probe = {.url = url};
    health_prober *prober = health_prober_new();
    if (prober && url)
        health_prober_run(prober, &probe, 1, f->public_host, INTRO_TIMEOUT_MS);
    else
        snprintf(probe.error, sizeof probe.error, "out of memory");
    health_prober_free(prober);

    fleet_changes c = {0};
    char id[25] = "";
    bool needs_register = false;
    pthread_mutex_lock(&f->write_lock);
    pthread_mutex_lock(&f->lock);
    bool ok = record_introduction(f, r, (size_t)answered, description, &probe, &c, id,
                                  &needs_register);
    pthread_mutex_unlock(&f->lock);
    fleet_apply_changes(f, &c);
    pthread_mutex_unlock(&f->write_lock);
    end_turn(f, r->name);

    health_probe_clear(&probe);
    json_decref(description);
    if (!ok) {
        snprintf(err, err_size, "out of memory while adding device '%s'", r->name);
        *status = 500;
    } else if (needs_register) {
        fleet_register_with_device(f, id, url);
    }
    free(url);
    return ok;
}

bool fleet_register(fleet *f, const json_t *record, const char *peer_address, int *status,
                    char *err, size_t err_size)
{
    device_record r;
    if (!fleet_record_parse(record, peer_address, &r, err, err_size)) {
        *status = 400;
        return false;
    }
    bool ok = fleet_introduce(f, &r, status, err, err_size);
    device_record_clear(&r);
    return ok;
}

/* ---------------------------------------------------------- goodbyes */

void fleet_goodbye(fleet *f, const char *name)
{
    fleet_changes c = {0};
    pthread_mutex_lock(&f->write_lock);
    pthread_mutex_lock(&f->lock);
    fleet_member *d = fleet_find_locked(f, name);
    if (d && d->health.state != DEVICE_LOST) {
        device_state previous = d->health.state;
        device_health_force(&d->health, DEVICE_LOST);
        fleet_change *update = fleet_change_add(&c, d);
        if (update)
            update->updates = fleet_health_updates(d);
        fleet_change_state(&c, d, previous, "mDNS goodbye: the device left the network");
    }
    pthread_mutex_unlock(&f->lock);
    fleet_apply_changes(f, &c);
    pthread_mutex_unlock(&f->write_lock);
}

/* ---------------------------------------------------- POST /register */

void fleet_register_with_device(fleet *f, const char *device_id, const char *url)
{
    if (!f->public_url || !url)
        return;
    double now = fleet_monotonic();
    pthread_mutex_lock(&f->lock);
    fleet_member *d = fleet_find_locked(f, device_id);
    bool due = d && (d->last_register == 0 || now - d->last_register >= REGISTER_RETRY_SECONDS);
    if (due)
        d->last_register = now;
    pthread_mutex_unlock(&f->lock);
    if (!due)
        return;
    char *endpoint;
    if (asprintf(&endpoint, "%s/register", url) < 0)
        return;
    json_t *body = json_pack("{ss}", "url", f->public_url);
    http_result res = {0};
    bool answered = http_post_json(endpoint, body, REGISTER_TIMEOUT_MS, &res);
    if (answered && res.status >= 200 && res.status < 300)
        log_info("device.told_orchestrator", "device=%s url=%s orchestrator=%s", device_id,
                 log_quote(url), log_quote(f->public_url));
    else
        log_warn("device.register_failed", "device=%s url=%s status=%ld error=%s", device_id,
                 log_quote(url), res.status,
                 log_quote(answered ? (res.body ? res.body : "") : res.error));
    http_result_free(&res);
    json_decref(body);
    free(endpoint);
}
