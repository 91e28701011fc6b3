/*
 * device.c — description, health and orchestrator link of this device (see device.h).
 */
#include "supervisor/device.h"

#include "base/fs.h"
#include "base/sysinfo.h"
#include "supervisor/files.h"
#include "supervisor/imports.h"
#include "supervisor/manifest.h"
#include "supervisor/orchestrator_link.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAVED_URL_FILE "orchestrator-url"

struct device {
    const supervisor_config *config;
    pthread_mutex_t lock;       /* the sampler is not thread-safe */
    sysinfo_sampler *sampler;
    json_t *interfaces;
    json_t *capabilities;
    char *saved_url_path;
    char *orchestrator_url;     /* until the link starts */
    orchestrator_link *link;
};

/* The orchestrator URL pushed by POST /register before a restart. */
static char *read_saved_url(const char *path)
{
    char err[256];
    size_t size = 0;
    char *url = NULL;
    if (!fs_exists(path) || !fs_read_file(path, 4096, &url, &size, err, sizeof err))
        return NULL;
    url[strcspn(url, "\r\n")] = '\0';
    if (url && !manifest_is_http_url(url)) {
        free(url);
        return NULL;
    }
    return url;
}

device *device_new(const supervisor_config *config, char *err, size_t err_size)
{
    device *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    d->config = config;
    pthread_mutex_init(&d->lock, NULL);
    d->sampler = sysinfo_sampler_new();
    d->interfaces = imports_interface_names();
    d->capabilities = config->capabilities ? json_deep_copy(config->capabilities)
                                           : json_object();
    if (config->camera_dir && !json_object_get(d->capabilities, "camera"))
        json_object_set_new(d->capabilities, "camera", json_true());
    d->saved_url_path = files_join(config->instance_dir, SAVED_URL_FILE, NULL);
    if (config->orchestrator_url)
        d->orchestrator_url = strdup(config->orchestrator_url);
    else if (d->saved_url_path)
        d->orchestrator_url = read_saved_url(d->saved_url_path);
    if (!d->sampler || !d->interfaces || !d->capabilities || !d->saved_url_path) {
        snprintf(err, err_size, "out of memory");
        device_free(d);
        return NULL;
    }
    return d;
}

bool device_announce(device *d, uint16_t port, char *err, size_t err_size)
{
    /* A supervisor bound to one address can only be reached there: advertise that one
     * (a loopback demo must not be looked for on the machine's network interface). */
    const char *bind = d->config->bind_address;
    bool bound_to_one = bind && *bind && strcmp(bind, "0.0.0.0") != 0 && strchr(bind, '.');
    orchestrator_link_config link_config = {
        .device_name = d->config->name,
        .port = port,
        .address = d->config->advertised_address ? d->config->advertised_address
                   : bound_to_one                 ? bind
                                                  : NULL,
        .mdns = d->config->mdns,
        .orchestrator_url = d->orchestrator_url,
        .logging_endpoint = d->config->logging_endpoint,
        .renewal_seconds = (unsigned)d->config->renewal_seconds,
    };
    orchestrator_link *link = orchestrator_link_start(&link_config, err, err_size);
    if (!link)
        return false;
    pthread_mutex_lock(&d->lock);
    d->link = link;
    pthread_mutex_unlock(&d->lock);
    return true;
}

void device_free(device *d)
{
    if (!d)
        return;
    if (d->link)
        orchestrator_link_stop(d->link);
    if (d->sampler)
        sysinfo_sampler_free(d->sampler);
    json_decref(d->interfaces);
    json_decref(d->capabilities);
    pthread_mutex_destroy(&d->lock);
    free(d->saved_url_path);
    free(d->orchestrator_url);
    free(d);
}

json_t *device_description(device *d)
{
    json_t *platform = sysinfo_platform(d->config->instance_dir);
    return json_pack("{s:s, s:o, s:O, s:O}", "name", d->config->name, "platform",
                     platform ? platform : json_object(), "supervisorInterfaces", d->interfaces,
                     "capabilities", d->capabilities);
}

json_t *device_health(device *d)
{
    pthread_mutex_lock(&d->lock);
    json_t *health = sysinfo_health(d->sampler, d->config->instance_dir);
    pthread_mutex_unlock(&d->lock);
    return health ? health : json_object();
}

char *device_orchestrator_url(device *d)
{
    pthread_mutex_lock(&d->lock);
    char *url = d->link ? orchestrator_link_url(d->link)
                        : d->orchestrator_url ? strdup(d->orchestrator_url) : NULL;
    pthread_mutex_unlock(&d->lock);
    return url;
}

bool device_has_orchestrator(device *d)
{
    pthread_mutex_lock(&d->lock);
    bool known = d->orchestrator_url != NULL;
    if (d->link) {
        char *url = orchestrator_link_url(d->link);
        known = url != NULL;
        free(url);
    }
    pthread_mutex_unlock(&d->lock);
    return known;
}

bool device_set_orchestrator(device *d, const char *url, char *err, size_t err_size)
{
    pthread_mutex_lock(&d->lock);
    char *copy = strdup(url);
    if (copy) {
        free(d->orchestrator_url);
        d->orchestrator_url = copy;
    }
    if (d->link)
        orchestrator_link_set_url(d->link, url);
    pthread_mutex_unlock(&d->lock);
    /* remembered, so a restarted device finds its orchestrator without being told */
    return copy && fs_write_atomic(d->saved_url_path, url, strlen(url), 0644, err, err_size);
}

void device_health_checked(device *d, const char *forwarded_for, const char *peer)
{
    pthread_mutex_lock(&d->lock);
    orchestrator_link *link = d->link;
    pthread_mutex_unlock(&d->lock);
    if (link)
        orchestrator_link_health_checked(link, forwarded_for, peer);
}
