/*
 * deployment.c — a deployment and its reference count (see deployment.h).
 */
#include "supervisor/deployment.h"

#include "base/fs.h"
#include "base/log.h"
#include "supervisor/files.h"
#include "supervisor/lease.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char *now_rfc3339(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char buf[96];
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             ts.tv_nsec / 1000000L);
    return strdup(buf);
}

deployment *deployment_new(manifest *m, unsigned version, const char *dir)
{
    deployment *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    atomic_init(&d->refs, 1);
    atomic_init(&d->retired, false);
    d->manifest = m;
    d->version = version;
    d->id = strdup(m->deployment_id);
    d->dir = strdup(dir);
    d->deployed_at = now_rfc3339();
    d->created_ms = lease_now_ms();
    d->runtimes = calloc(m->module_count, sizeof *d->runtimes);
    d->not_owned = calloc(m->module_count ? m->module_count : 1, sizeof *d->not_owned);
    if (!d->id || !d->dir || !d->deployed_at || !d->runtimes || !d->not_owned) {
        d->manifest = NULL;     /* the caller still owns it on failure */
        deployment_release(d);
        return NULL;
    }
    return d;
}

deployment *deployment_acquire(deployment *d)
{
    if (d)
        atomic_fetch_add(&d->refs, 1);
    return d;
}

typedef struct removal {
    char *id;
    unsigned version;
    char *dir;
} removal;

static void *remove_files(void *arg)
{
    removal *r = arg;
    char err[512] = "";
    if (fs_remove_tree(r->dir, err, sizeof err))
        log_info("deployment.files_removed", "deployment=%s version=%u dir=%s", r->id,
                 r->version, log_quote(r->dir));
    else
        log_warn("deployment.files_not_removed", "deployment=%s version=%u reason=%s", r->id,
                 r->version, log_quote(err));
    free(r->id);
    free(r->dir);
    free(r);
    return NULL;
}

/* A retired version's files go in the background: deleting a large module takes
 * tens of milliseconds that a deploy or DELETE should not wait for. READY goes
 * first, so a version cut short by a crash is a leftover the next start removes,
 * never a deployment it restores. */
static void remove_files_later(deployment *d)
{
    char *ready = files_join(d->dir, "READY", NULL);
    if (ready)
        unlink(ready);
    free(ready);
    removal *r = malloc(sizeof *r);
    if (r)
        *r = (removal){strdup(d->id), d->version, strdup(d->dir)};
    if (!r || !r->id || !r->dir) {
        if (r) {
            free(r->id);
            free(r->dir);
            free(r);
        }
        return;     /* out of memory: the next start removes the leftover */
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    bool started = pthread_create(&thread, &attr, remove_files, r) == 0;
    pthread_attr_destroy(&attr);
    if (!started)
        remove_files(r);
}

void deployment_release(deployment *d)
{
    if (!d || atomic_fetch_sub(&d->refs, 1) != 1)
        return;
    for (size_t i = 0; d->manifest && d->runtimes && i < d->manifest->module_count; i++)
        if (!d->not_owned[i])
            module_runtime_free(d->runtimes[i]);
    if (d->heir)
        deployment_release(d->heir);
    if (atomic_load(&d->retired) && d->dir)
        remove_files_later(d);
    manifest_free(d->manifest);
    free(d->runtimes);
    free(d->not_owned);
    free(d->id);
    free(d->dir);
    free(d->deployed_at);
    free(d);
}

module_runtime *deployment_module(deployment *d, const char *name,
                                  const manifest_module **module)
{
    for (size_t i = 0; i < d->manifest->module_count; i++)
        if (!strcmp(d->manifest->modules[i].name, name)) {
            if (module)
                *module = &d->manifest->modules[i];
            return d->runtimes[i];
        }
    return NULL;
}

char *deployment_path(const deployment *d, const char *sub, const char *name,
                      const char *suffix)
{
    if (!name)
        return files_join(d->dir, sub, NULL);
    size_t n = strlen(name) + (suffix ? strlen(suffix) : 0) + 1;
    char *leaf = malloc(n);
    if (!leaf)
        return NULL;
    snprintf(leaf, n, "%s%s", name, suffix ? suffix : "");
    char *path = files_join(d->dir, sub, leaf, NULL);
    free(leaf);
    return path;
}

bool deployment_mark_moved(const deployment *d, const char *module, const char *target,
                           const char *target_module, char *err, size_t err_size)
{
    char *dir = deployment_path(d, "state", NULL, NULL);
    char *path = deployment_path(d, "state", module, ".moved");
    json_t *json = json_pack("{s:s, s:s}", "target", target, "targetModule", target_module);
    char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;
    snprintf(err, err_size, "out of memory");
    bool ok = dir && path && text && fs_mkdir_p(dir, 0755, err, err_size) &&
              fs_write_atomic(path, text, strlen(text), 0644, err, err_size);
    free(text);
    json_decref(json);
    free(path);
    free(dir);
    return ok;
}

void deployment_unmark_moved(const deployment *d, const char *module)
{
    char *path = deployment_path(d, "state", module, ".moved");
    if (path)
        unlink(path);
    free(path);
}

bool deployment_moved_to(const deployment *d, const char *module, char **target,
                         char **target_module)
{
    *target = *target_module = NULL;
    char *path = deployment_path(d, "state", module, ".moved");
    char *text = NULL;
    size_t size = 0;
    char err[300];
    if (!path || !fs_exists(path)) {
        free(path);
        return false;
    }
    json_t *json = NULL;
    if (fs_read_file(path, 1 << 16, &text, &size, err, sizeof err))
        json = json_loadb(text, size, 0, NULL);
    const char *to = json_string_value(json_object_get(json, "target"));
    const char *as = json_string_value(json_object_get(json, "targetModule"));
    *target = to ? strdup(to) : NULL;
    *target_module = strdup(as ? as : module);
    if (!to)    /* unreadable: still moved — serving this copy would be worse */
        log_error("module.moved_file_unreadable", "deployment=%s module=%s path=%s",
                  d->id, module, log_quote(path));
    json_decref(json);
    free(text);
    free(path);
    return true;
}

json_t *deployment_describe(const deployment *d)
{
    json_t *modules = json_array();
    for (size_t i = 0; i < d->manifest->module_count; i++) {
        const manifest_module *m = &d->manifest->modules[i];
        json_t *functions = json_array();
        for (size_t j = 0; j < m->function_count; j++)
            json_array_append_new(functions, json_string(m->functions[j].name));
        json_array_append_new(modules, json_pack("{s:s, s:o}", "name", m->name, "functions",
                                                 functions));
    }
    return json_pack("{s:s, s:I, s:s, s:o, s:O}", "deploymentId", d->id, "version",
                     (json_int_t)d->version, "deployedAt", d->deployed_at, "modules", modules,
                     "manifest", d->manifest->json);
}
