/*
 * deployment_store.c — every deployment of this supervisor (see deployment_store.h).
 */
#define _GNU_SOURCE
#include "supervisor/deployment_store.h"

#include "base/fs.h"
#include "base/log.h"
#include "supervisor/deploy_build.h"
#include "supervisor/files.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READY_FILE "READY"
#define MANIFEST_FILE "deployment.json"
#define MAX_MANIFEST_BYTES (64u << 20)

struct deployment_store {
    deploy_settings settings;   /* strings owned below */
    char *instance_dir, *camera_dir, *remote_functions;
    char *root;                 /* <instance>/deployments */
    pthread_mutex_t lock;
    pthread_cond_t deploy_finished;
    deployment **items;         /* oldest first */
    size_t count, capacity;
    char **deploying;           /* ids with a deploy in progress */
    size_t deploying_count;
};

/* ----------------------------------------------------------- the list */

static ssize_t index_of(deployment_store *store, const char *id)
{
    for (size_t i = 0; i < store->count; i++)
        if (!strcmp(store->items[i]->id, id))
            return (ssize_t)i;
    return -1;
}

/* Puts d in the list (the store takes the reference); returns the one it replaced. */
static deployment *swap_in(deployment_store *store, deployment *d)
{
    ssize_t i = index_of(store, d->id);
    if (i >= 0) {
        deployment *old = store->items[i];
        memmove(&store->items[i], &store->items[i + 1],
                (store->count - (size_t)i - 1) * sizeof *store->items);
        store->items[store->count - 1] = d;     /* newest last */
        return old;
    }
    if (store->count == store->capacity) {
        size_t capacity = store->capacity ? 2 * store->capacity : 8;
        deployment **grown = realloc(store->items, capacity * sizeof *grown);
        if (!grown)
            return d;   /* cannot hold it: the caller treats "replaced itself" as failure */
        store->items = grown;
        store->capacity = capacity;
    }
    store->items[store->count++] = d;
    return NULL;
}

/* ------------------------------------------------ one deploy at a time per id */

static bool is_deploying(deployment_store *store, const char *id)
{
    for (size_t i = 0; i < store->deploying_count; i++)
        if (!strcmp(store->deploying[i], id))
            return true;
    return false;
}

static bool begin_deploy(deployment_store *store, const char *id)
{
    pthread_mutex_lock(&store->lock);
    while (is_deploying(store, id))
        pthread_cond_wait(&store->deploy_finished, &store->lock);
    char **grown = realloc(store->deploying, (store->deploying_count + 1) * sizeof *grown);
    char *copy = strdup(id);
    bool ok = grown && copy;
    if (grown)
        store->deploying = grown;
    if (ok)
        store->deploying[store->deploying_count++] = copy;
    else
        free(copy);
    pthread_mutex_unlock(&store->lock);
    return ok;
}

static void end_deploy(deployment_store *store, const char *id)
{
    pthread_mutex_lock(&store->lock);
    for (size_t i = 0; i < store->deploying_count; i++)
        if (!strcmp(store->deploying[i], id)) {
            free(store->deploying[i]);
            store->deploying[i] = store->deploying[--store->deploying_count];
            break;
        }
    pthread_cond_broadcast(&store->deploy_finished);
    pthread_mutex_unlock(&store->lock);
}

/* --------------------------------------------------------------- versions */

static bool parse_version(const char *name, unsigned *version)
{
    if (name[0] != 'v' || !name[1])
        return false;
    char *end;
    unsigned long v = strtoul(name + 1, &end, 10);
    if (*end || v == 0 || v > 1000000000ul)
        return false;
    *version = (unsigned)v;
    return true;
}

static bool is_ready(const char *version_dir)
{
    char *ready = files_join(version_dir, READY_FILE, NULL);
    bool ok = ready && access(ready, F_OK) == 0;
    free(ready);
    return ok;
}

/* The highest version number used under id_dir (0 if none). */
static unsigned highest_version(const char *id_dir, bool ready_only)
{
    DIR *dir = opendir(id_dir);
    unsigned highest = 0;
    if (!dir)
        return 0;
    for (struct dirent *e; (e = readdir(dir));) {
        unsigned v;
        if (!parse_version(e->d_name, &v) || v <= highest)
            continue;
        char *path = files_join(id_dir, e->d_name, NULL);
        if (path && (!ready_only || is_ready(path)))
            highest = v;
        free(path);
    }
    closedir(dir);
    return highest;
}

static char *version_dir(deployment_store *store, const char *id, unsigned version)
{
    char name[32];
    snprintf(name, sizeof name, "v%u", version);
    return files_join(store->root, id, name, NULL);
}

/* ----------------------------------------------------------------- deploy */

static void log_outcome(const char *id, unsigned version, int status, const char *err,
                        double ms)
{
    if (status == 200)
        log_info("deploy.ready", "deployment=%s version=%u ms=%.1f", id, version, ms);
    else
        log_warn("deploy.failed", "deployment=%s version=%u status=%d reason=%s", id, version,
                 status, log_quote(err));
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int storage_status(void)
{
    return errno == ENOSPC || errno == EDQUOT ? 507 : 500;
}

/* The directories files were created or renamed into, synced: their entries must be
 * durable before READY says the version is complete. */
static bool sync_version_dirs(deployment *d)
{
    char *modules = deployment_path(d, "modules", NULL, NULL);
    bool synced = modules && files_sync_dir(modules);
    free(modules);
    for (size_t i = 0; synced && i < d->manifest->module_count; i++) {
        if (d->not_owned[i])
            continue;   /* a kept instance's: it moves in last (deploy_move_sandboxes) */
        char *sandbox = deployment_path(d, "sandbox", d->manifest->modules[i].name, NULL);
        synced = sandbox && files_sync_dir(sandbox);
        free(sandbox);
    }
    return synced && files_sync_dir(d->dir);
}

/* Builds the version, writes its manifest, marks it READY. Every file is written and
 * synced before READY exists, and the syncs are grouped after all the files are in
 * place, so a deploy costs few journal commits (each is milliseconds on small
 * devices). A crash at any point leaves a version without READY, or a complete one. */
static int build_version(deployment_store *store, deployment *d, deployment *previous,
                         char *err, size_t err_size)
{
    if (!fs_mkdir_p(d->dir, 0755, err, err_size))
        return storage_status();
    int status = deploy_build(&store->settings, d, previous, DEPLOY_FETCH, err, err_size);
    if (status != 200)
        return status;
    char *manifest_path = files_join(d->dir, MANIFEST_FILE, NULL);
    char *text = json_dumps(d->manifest->json, JSON_INDENT(2));
    bool written = manifest_path && text &&
                   files_write_synced(manifest_path, text, strlen(text), err, err_size);
    free(manifest_path);
    free(text);
    if (!written)
        return storage_status();
    if (!sync_version_dirs(d)) {
        snprintf(err, err_size, "cannot sync the deployment's files in %s: %s", d->dir,
                 strerror(errno));
        return storage_status();
    }
    /* kept instances' directories move in last: until here a failure leaves the
     * version that serves untouched */
    char *sandboxes = deployment_path(d, "sandbox", NULL, NULL);
    status = sandboxes ? deploy_move_sandboxes(d, d, err, err_size) : 500;
    if (status == 200 && !files_sync_dir(sandboxes)) {
        snprintf(err, err_size, "cannot sync %s: %s", sandboxes, strerror(errno));
        status = storage_status();
    }
    free(sandboxes);
    char *ready = status == 200 ? files_join(d->dir, READY_FILE, NULL) : NULL;
    written = ready && files_write_synced(ready, "ready\n", 6, err, err_size) &&
              files_sync_dir(d->dir);
    free(ready);
    if (status == 200 && !written)
        status = storage_status();
    if (status != 200 && previous) {
        char ignored[256];
        deploy_move_sandboxes(d, previous, ignored, sizeof ignored);
    }
    return status;
}

/* The instances the new version kept become its own; the old version no longer frees
 * them, and holds the new one so they outlive the calls still running in it. */
static void hand_over(deployment *old, deployment *d)
{
    bool any = false;
    for (size_t i = 0; i < d->manifest->module_count; i++) {
        if (!d->not_owned[i])
            continue;
        for (size_t j = 0; j < old->manifest->module_count; j++)
            if (old->runtimes[j] == d->runtimes[i])
                old->not_owned[j] = true;
        d->not_owned[i] = false;
        any = true;
    }
    if (any)
        old->heir = deployment_acquire(d);
}

int deployment_store_deploy(deployment_store *store, json_t *manifest_json, char *err,
                            size_t err_size)
{
    double started = now_ms();
    manifest *m = manifest_parse(manifest_json, err, err_size);
    if (!m)
        return 400;
    char *id = strdup(m->deployment_id);
    if (!id || !begin_deploy(store, id)) {
        free(id);
        manifest_free(m);
        snprintf(err, err_size, "out of memory");
        return 500;
    }
    deployment *held = deployment_store_get(store, id);
    if (held && m->epoch < held->manifest->epoch) {
        snprintf(err, err_size, "stale epoch: this device holds epoch %llu, the request "
                 "carries %llu", (unsigned long long)held->manifest->epoch,
                 (unsigned long long)m->epoch);
        deployment_release(held);
        manifest_free(m);
        end_deploy(store, id);
        free(id);
        return 409;
    }
    char *id_dir = files_join(store->root, id, NULL);
    unsigned version = (id_dir ? highest_version(id_dir, false) : 0) + 1;
    char *dir = version_dir(store, id, version);
    deployment *d = dir ? deployment_new(m, version, dir) : NULL;
    int status = 500;
    if (!d) {
        manifest_free(m);
        snprintf(err, err_size, "out of memory");
    } else {
        log_info("deploy.started", "deployment=%s version=%u modules=%zu", id, version,
                 m->module_count);
        status = build_version(store, d, held, err, err_size);
    }
    if (status == 200) {
        pthread_mutex_lock(&store->lock);
        deployment *old = swap_in(store, d);
        pthread_mutex_unlock(&store->lock);
        if (old == d) {
            snprintf(err, err_size, "out of memory");
            status = 500;
        } else if (old) {
            hand_over(old, d);
            atomic_store(&old->retired, true);
            log_info("deploy.replaced", "deployment=%s version=%u", id, old->version);
            deployment_release(old);
        }
    }
    if (status != 200 && d) {
        /* never served: its directory goes now, before the error is answered (the
         * instances it borrowed stay with the version that serves) */
        deployment_release(d);
        fs_remove_tree(dir, NULL, 0);
    }
    deployment_release(held);
    log_outcome(id, version, status, err, now_ms() - started);
    end_deploy(store, id);
    free(id_dir);
    free(dir);
    free(id);
    return status;
}

/* The running manifest with routes' endpoints and instructions in place of its own. */
static json_t *with_routes(const json_t *manifest_json, const json_t *routes, char *err,
                           size_t err_size)
{
    json_t *endpoints = json_object_get(routes, "endpoints");
    json_t *instructions = json_object_get(routes, "instructions");
    if (!json_is_object(routes) || !json_is_object(endpoints) || !json_is_object(instructions)) {
        snprintf(err, err_size, "(body): expected {\"endpoints\": {...}, \"instructions\": "
                 "{...}}, the members of a mini-manifest a route change replaces");
        return NULL;
    }
    json_t *epoch = json_object_get(routes, "epoch");
    json_t *json = json_deep_copy(manifest_json);
    if (json) {
        json_object_set(json, "endpoints", endpoints);
        json_object_set(json, "instructions", instructions);
        if (epoch)
            json_object_set(json, "epoch", epoch);  /* checked by manifest_parse */
    }
    return json;
}

int deployment_store_update_routes(deployment_store *store, const char *id,
                                   const json_t *routes, char *err, size_t err_size)
{
    if (!begin_deploy(store, id)) {
        snprintf(err, err_size, "out of memory");
        return 500;
    }
    int status = 200;
    deployment *current = deployment_store_get(store, id), *next = NULL;
    json_t *json = NULL;
    manifest *m = NULL;
    if (!current) {
        snprintf(err, err_size, "deployment %s does not exist on this device", id);
        status = 404;
    } else if (!(json = with_routes(current->manifest->json, routes, err, err_size)) ||
               !(m = manifest_parse(json, err, err_size))) {
        status = 400;
    } else if (m->epoch < current->manifest->epoch) {
        snprintf(err, err_size, "stale epoch: this device holds epoch %llu, the request "
                 "carries %llu", (unsigned long long)current->manifest->epoch,
                 (unsigned long long)m->epoch);
        manifest_free(m);
        m = NULL;
        status = 409;
    } else if (!(next = deployment_new(m, current->version, current->dir))) {
        manifest_free(m);
        snprintf(err, err_size, "out of memory");
        status = 500;
    } else {
        memcpy(next->runtimes, current->runtimes, m->module_count * sizeof *next->runtimes);
        status = deploy_check_functions(next, err, err_size);
    }
    char *path = status == 200 ? files_join(current->dir, MANIFEST_FILE, NULL) : NULL;
    char *text = path ? json_dumps(json, JSON_INDENT(2)) : NULL;
    if (status == 200 && !(text && fs_write_atomic(path, text, strlen(text), 0644, err,
                                                    err_size)))
        status = text ? storage_status() : 500;
    if (status == 200) {
        pthread_mutex_lock(&store->lock);
        /* a DELETE may have come in meanwhile: then there is nothing to change */
        deployment *old = index_of(store, id) >= 0 ? swap_in(store, next) : NULL;
        pthread_mutex_unlock(&store->lock);
        if (old == current) {
            /* old hands its runtimes on: calls still running in it keep the heir alive */
            for (size_t i = 0; i < m->module_count; i++)
                old->not_owned[i] = true;
            old->heir = deployment_acquire(next);
            deployment_release(old);
            log_info("deploy.routes_changed", "deployment=%s version=%u", id, next->version);
        } else {
            snprintf(err, err_size, "deployment %s was removed while its routes changed", id);
            status = 404;
        }
    }
    if (status != 200 && next) {
        memset(next->runtimes, 0, m->module_count * sizeof *next->runtimes);
        deployment_release(next);
    }
    free(path);
    free(text);
    json_decref(json);
    deployment_release(current);
    end_deploy(store, id);
    return status;
}

int deployment_store_remove(deployment_store *store, const char *id)
{
    pthread_mutex_lock(&store->lock);
    ssize_t i = index_of(store, id);
    deployment *d = NULL;
    if (i >= 0) {
        d = store->items[i];
        memmove(&store->items[i], &store->items[i + 1],
                (store->count - (size_t)i - 1) * sizeof *store->items);
        store->count--;
    }
    pthread_mutex_unlock(&store->lock);
    if (!d)
        return 404;
    atomic_store(&d->retired, true);
    log_info("deploy.removed", "deployment=%s version=%u", id, d->version);
    deployment_release(d);
    return 200;
}

/* ---------------------------------------------------------------- lookups */

deployment *deployment_store_get(deployment_store *store, const char *id)
{
    pthread_mutex_lock(&store->lock);
    ssize_t i = index_of(store, id);
    deployment *d = i >= 0 ? deployment_acquire(store->items[i]) : NULL;
    pthread_mutex_unlock(&store->lock);
    return d;
}

deployment *deployment_store_find_module(deployment_store *store, const char *module_name)
{
    deployment *found = NULL;
    pthread_mutex_lock(&store->lock);
    for (size_t i = store->count; i-- > 0 && !found;)
        if (manifest_find_module(store->items[i]->manifest, module_name))
            found = deployment_acquire(store->items[i]);
    pthread_mutex_unlock(&store->lock);
    return found;
}

deployment **deployment_store_snapshot(deployment_store *store, size_t *count)
{
    pthread_mutex_lock(&store->lock);
    deployment **all = calloc(store->count ? store->count : 1, sizeof *all);
    *count = 0;
    for (size_t i = 0; all && i < store->count; i++)
        all[(*count)++] = deployment_acquire(store->items[i]);
    pthread_mutex_unlock(&store->lock);
    return all;
}

static void release_all(deployment **all, size_t count)
{
    for (size_t i = 0; i < count; i++)
        deployment_release(all[i]);
    free(all);
}

json_t *deployment_store_list(deployment_store *store)
{
    size_t count;
    deployment **all = deployment_store_snapshot(store, &count);
    json_t *list = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(list, deployment_describe(all[i]));
    release_all(all, count);
    return json_pack("{s:o}", "deployments", list);
}

size_t deployment_store_count(deployment_store *store)
{
    pthread_mutex_lock(&store->lock);
    size_t n = store->count;
    pthread_mutex_unlock(&store->lock);
    return n;
}

void deployment_store_interrupt_all(deployment_store *store)
{
    size_t count;
    deployment **all = deployment_store_snapshot(store, &count);
    for (size_t i = 0; i < count; i++)
        for (size_t j = 0; j < all[i]->manifest->module_count; j++)
            module_runtime_interrupt(all[i]->runtimes[j]);
    release_all(all, count);
}

static void save_module_state(deployment *d, size_t index)
{
    module_runtime *rt = d->runtimes[index];
    const char *name = module_runtime_name(rt);
    uint8_t *state = NULL;
    size_t size = 0;
    char err[512];
    if (module_runtime_phase(rt) == RUNTIME_MOVED) {
        log_info("module.state_not_saved", "deployment=%s module=%s reason=%s", d->id, name,
                 log_quote("it moved to another device"));
        return;     /* its state lives there now: never a second copy here */
    }
    module_runtime_lock(rt);
    bool ok = module_runtime_save_state(rt, &state, &size, err, sizeof err);
    module_runtime_unlock(rt);
    char *dir = ok ? deployment_path(d, "state", NULL, NULL) : NULL;
    char *path = ok ? deployment_path(d, "state", name, ".snap") : NULL;
    ok = ok && dir && path && fs_mkdir_p(dir, 0755, err, sizeof err) &&
         fs_write_atomic(path, state, size, 0644, err, sizeof err);
    if (ok)
        log_info("module.state_saved", "deployment=%s module=%s bytes=%zu", d->id, name, size);
    else
        log_warn("module.state_not_saved", "deployment=%s module=%s reason=%s hint=%s", d->id,
                 name, log_quote(err), log_quote("the module will start afresh"));
    free(state);
    free(dir);
    free(path);
}

void deployment_store_save_states(deployment_store *store)
{
    size_t count;
    deployment **all = deployment_store_snapshot(store, &count);
    for (size_t i = 0; i < count; i++)
        for (size_t j = 0; j < all[i]->manifest->module_count; j++)
            save_module_state(all[i], j);
    release_all(all, count);
}

/* ---------------------------------------------------------------- restore */

static deployment *restore_version(deployment_store *store, const char *id, unsigned version,
                                   char *err, size_t err_size)
{
    char *dir = version_dir(store, id, version);
    char *manifest_path = dir ? files_join(dir, MANIFEST_FILE, NULL) : NULL;
    size_t size = 0;
    char *text = NULL;
    if (manifest_path)
        fs_read_file(manifest_path, MAX_MANIFEST_BYTES, &text, &size, err, err_size);
    json_error_t jerr;
    json_t *json = text ? json_loadb(text, size, 0, &jerr) : NULL;
    if (text && !json)
        snprintf(err, err_size, "%s is not JSON: %s", manifest_path, jerr.text);
    manifest *m = json ? manifest_parse(json, err, err_size) : NULL;
    json_decref(json);
    free(text);
    free(manifest_path);
    if (m && strcmp(m->deployment_id, id)) {
        snprintf(err, err_size, "its manifest is for deployment %s", m->deployment_id);
        manifest_free(m);
        m = NULL;
    }
    deployment *d = m ? deployment_new(m, version, dir) : NULL;
    if (m && !d)
        manifest_free(m);
    free(dir);
    if (d && deploy_build(&store->settings, d, NULL, DEPLOY_RESTORE, err, err_size) != 200) {
        deployment_release(d);  /* not retired: its files stay for inspection */
        d = NULL;
    }
    return d;
}

/* Leftovers of a deploy that never finished, or of a version already replaced. */
static void remove_other_versions(const char *id_dir, unsigned keep)
{
    DIR *dir = opendir(id_dir);
    if (!dir)
        return;
    for (struct dirent *e; (e = readdir(dir));) {
        unsigned v;
        if (!parse_version(e->d_name, &v) || v == keep)
            continue;
        char *path = files_join(id_dir, e->d_name, NULL);
        if (path && fs_remove_tree(path, NULL, 0))
            log_info("deployment.leftover_removed", "dir=%s", log_quote(path));
        free(path);
    }
    closedir(dir);
}

static void restore_one(deployment_store *store, const char *id)
{
    char *id_dir = files_join(store->root, id, NULL);
    if (!id_dir)
        return;
    unsigned version = highest_version(id_dir, true);
    remove_other_versions(id_dir, version);
    if (!version) {
        rmdir(id_dir);  /* nothing ever finished here */
        free(id_dir);
        return;
    }
    char err[1024] = "";
    double started = now_ms();
    deployment *d = restore_version(store, id, version, err, sizeof err);
    if (!d) {
        log_error("deployment.restore_failed", "deployment=%s version=%u reason=%s hint=%s", id,
                  version, log_quote(err), log_quote("deploy it again"));
    } else {
        pthread_mutex_lock(&store->lock);
        deployment *same = swap_in(store, d);
        pthread_mutex_unlock(&store->lock);
        if (same)
            deployment_release(same);
        else
            log_info("deployment.restored", "deployment=%s version=%u modules=%zu ms=%.1f", id,
                     version, d->manifest->module_count, now_ms() - started);
    }
    free(id_dir);
}

static void restore_all(deployment_store *store)
{
    DIR *dir = opendir(store->root);
    if (!dir)
        return;
    char **ids = NULL;
    size_t count = 0;
    for (struct dirent *e; (e = readdir(dir));) {
        if (e->d_name[0] == '.' || !manifest_is_safe_name(e->d_name))
            continue;
        char **grown = realloc(ids, (count + 1) * sizeof *ids);
        if (!grown)
            break;
        ids = grown;
        if ((ids[count] = strdup(e->d_name)))
            count++;
    }
    closedir(dir);
    for (size_t i = 0; i < count; i++) {
        restore_one(store, ids[i]);
        free(ids[i]);
    }
    free(ids);
}

/* ------------------------------------------------------------ open, close */

deployment_store *deployment_store_open(const deploy_settings *settings, char *err,
                                        size_t err_size)
{
    deployment_store *store = calloc(1, sizeof *store);
    if (!store) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    store->settings = *settings;
    store->instance_dir = strdup(settings->instance_dir);
    store->camera_dir = settings->camera_dir ? strdup(settings->camera_dir) : NULL;
    store->remote_functions =
        settings->remote_functions ? strdup(settings->remote_functions) : NULL;
    store->settings.instance_dir = store->instance_dir;
    store->settings.camera_dir = store->camera_dir;
    store->settings.remote_functions = store->remote_functions;
    store->root = store->instance_dir ? files_join(store->instance_dir, "deployments", NULL)
                                      : NULL;
    pthread_mutex_init(&store->lock, NULL);
    pthread_cond_init(&store->deploy_finished, NULL);
    if (!store->root) {
        snprintf(err, err_size, "out of memory");
        deployment_store_close(store);
        return NULL;
    }
    if (!fs_mkdir_p(store->root, 0755, err, err_size)) {
        deployment_store_close(store);
        return NULL;
    }
    restore_all(store);
    return store;
}

void deployment_store_close(deployment_store *store)
{
    if (!store)
        return;
    for (size_t i = 0; i < store->count; i++)
        deployment_release(store->items[i]);
    for (size_t i = 0; i < store->deploying_count; i++)
        free(store->deploying[i]);
    free(store->deploying);
    free(store->items);
    pthread_mutex_destroy(&store->lock);
    pthread_cond_destroy(&store->deploy_finished);
    free(store->instance_dir);
    free(store->camera_dir);
    free(store->remote_functions);
    free(store->root);
    free(store);
}
