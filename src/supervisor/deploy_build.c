/*
 * deploy_build.c — fetch, check and start the modules of one deployment version
 * (see deploy_build.h).
 */
#include "supervisor/deploy_build.h"

#include "base/fs.h"
#include "base/http_client.h"
#include "base/log.h"
#include "supervisor/call_args.h"
#include "supervisor/files.h"
#include "supervisor/imports.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define HTTP_OK 200
#define HTTP_BAD_REQUEST 400
#define HTTP_INTERNAL 500
#define HTTP_BAD_GATEWAY 502
#define HTTP_INSUFFICIENT_STORAGE 507

/* Where one module's deploy time goes, for the deploy.module log line. */
typedef struct module_timing {
    double fetch_ms, load_ms, start_ms;
    size_t bytes;
} module_timing;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A local write failed: 507 if the disk is full, else 500. */
static int local_failure(const char *dir)
{
    struct statvfs st;
    if (statvfs(dir, &st) == 0 && (uint64_t)st.f_bavail * st.f_frsize < (1u << 20))
        return HTTP_INSUFFICIENT_STORAGE;
    return errno == ENOSPC || errno == EDQUOT ? HTTP_INSUFFICIENT_STORAGE : HTTP_INTERNAL;
}

static void hex_digest(const uint8_t digest[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

/* Downloads url to path; `field` names the manifest field for the message. */
static int fetch(const deploy_settings *s, const char *field, const char *url, const char *path,
                 uint8_t sha256[32], char *err, size_t err_size)
{
    http_result result = {0};
    bool answered = http_download(url, path, s->max_download_bytes, s->download_timeout_ms,
                                  sha256, &result);
    int status = HTTP_OK;
    if (!answered && strstr(result.error, "cannot write")) {
        /* the file server answered; this side could not keep the file */
        snprintf(err, err_size, "%s: cannot store the file from %s on this device: %s", field,
                 url, result.error);
        status = strstr(result.error, strerror(ENOSPC)) ? HTTP_INSUFFICIENT_STORAGE
                                                        : HTTP_INTERNAL;
    } else if (!answered) {
        snprintf(err, err_size, "%s: cannot fetch %s: %s", field, url, result.error);
        status = HTTP_BAD_GATEWAY;
    } else if (result.status != 200) {
        snprintf(err, err_size, "%s: %s answered HTTP %ld instead of the file", field, url,
                 result.status);
        /* 4xx: the manifest names a file that is not there (fix the manifest);
         * 5xx: the server holding it failed (try again later) */
        status = result.status >= 400 && result.status < 500 ? HTTP_BAD_REQUEST
                                                             : HTTP_BAD_GATEWAY;
        remove(path);
    }
    http_result_free(&result);
    return status;
}

/* Every function the manifest describes must be an export taking numbers. */
static int check_exports(const manifest_module *mm, const wasm_module *module, char *err,
                         size_t err_size)
{
    for (size_t i = 0; i < mm->function_count; i++) {
        const manifest_function *f = &mm->functions[i];
        if (!f->endpoint)
            continue;
        bool found = false;
        for (uint32_t e = 0; e < wasm_module_export_count(module) && !found; e++) {
            wasm_extern_info info;
            if (!wasm_module_export(module, e, &info) || info.kind != WASM_EXTERN_FUNC ||
                strcmp(info.name, f->name))
                continue;
            found = true;
            for (uint32_t p = 0; p < info.func.param_count; p++) {
                uint8_t t = info.func.params[p];
                if (t != WASM_I32 && t != WASM_I64 && t != WASM_F32 && t != WASM_F64) {
                    snprintf(err, err_size, "endpoints.%s.%s: parameter %" PRIu32 " of the "
                             "export is %s, which cannot be passed over HTTP", mm->name,
                             f->name, p, call_valtype_name(t));
                    return HTTP_BAD_REQUEST;
                }
            }
        }
        if (!found) {
            snprintf(err, err_size, "endpoints.%s.%s: module %s exports no function '%s'",
                     mm->name, f->name, mm->name, f->name);
            return HTTP_BAD_REQUEST;
        }
    }
    return HTTP_OK;
}

int deploy_check_functions(const deployment *d, char *err, size_t err_size)
{
    for (size_t i = 0; i < d->manifest->module_count; i++) {
        int status = check_exports(&d->manifest->modules[i],
                                   module_runtime_module(d->runtimes[i]), err, err_size);
        if (status != HTTP_OK)
            return status;
    }
    return HTTP_OK;
}

/* The module's binary: fetched (and its digest checked) or read back from disk. */
static int load_module(const deploy_settings *s, deployment *d, size_t index,
                       deploy_source source, wasm_module **out, module_timing *timing,
                       char *err, size_t err_size)
{
    const manifest_module *mm = &d->manifest->modules[index];
    char *path = deployment_path(d, "modules", mm->name, ".wasm");
    char field[64];
    snprintf(field, sizeof field, "modules[%zu].urls.binary", index);
    uint8_t digest[32];
    int status = HTTP_OK;
    if (!path) {
        snprintf(err, err_size, "out of memory");
        return HTTP_INTERNAL;
    }
    double started = now_ms();
    if (source == DEPLOY_FETCH)
        status = fetch(s, field, mm->binary_url, path, digest, err, err_size);
    double fetched = now_ms();
    timing->fetch_ms = fetched - started;
    size_t size = 0;
    char *bytes = NULL;
    if (status == HTTP_OK &&
        !fs_read_file(path, s->max_download_bytes, &bytes, &size, err, err_size))
        status = source == DEPLOY_FETCH ? local_failure(d->dir) : HTTP_INTERNAL;
    free(path);
    if (status != HTTP_OK)
        return status;
    if (source == DEPLOY_FETCH && mm->has_sha256 && memcmp(digest, mm->sha256, 32)) {
        char got[65], want[65];
        hex_digest(digest, got);
        hex_digest(mm->sha256, want);
        snprintf(err, err_size, "modules[%zu].sha256: %s served a binary with digest %s, the "
                 "manifest expects %s", index, mm->binary_url, got, want);
        free(bytes);
        return HTTP_BAD_REQUEST;
    }
    wasm_error werr = {0};
    *out = wasm_module_load((const uint8_t *)bytes, size, &werr);
    free(bytes);
    timing->bytes = size;
    timing->load_ms = now_ms() - fetched;
    if (!*out) {
        int n = snprintf(err, err_size, "modules[%zu] (%s): not a valid WebAssembly module: %s: %s",
                         index, mm->name, wasm_error_kind_name(werr.kind), werr.message);
        if (werr.has_offset && n > 0 && (size_t)n < err_size)
            snprintf(err + n, err_size - (size_t)n, " (at byte offset 0x%zx)", werr.offset);
        return HTTP_BAD_REQUEST;
    }
    char missing[768];
    if (!imports_check(*out, missing, sizeof missing)) {
        snprintf(err, err_size, "modules[%zu] (%s): imports this supervisor does not offer: %s",
                 index, mm->name, missing);
        return HTTP_BAD_REQUEST;
    }
    return check_exports(mm, *out, err, err_size);
}

static int fetch_data_files(const deploy_settings *s, deployment *d, size_t index,
                            const char *sandbox, char *err, size_t err_size)
{
    const manifest_module *mm = &d->manifest->modules[index];
    for (size_t i = 0; i < mm->data_file_count; i++) {
        char *path = files_join(sandbox, mm->data_files[i].mount, NULL);
        char field[320];
        snprintf(field, sizeof field, "modules[%zu].urls.other.%s", index,
                 mm->data_files[i].mount);
        uint8_t digest[32];
        int status = path ? fetch(s, field, mm->data_files[i].url, path, digest, err, err_size)
                          : HTTP_INTERNAL;
        free(path);
        if (status != HTTP_OK)
            return status;
    }
    return HTTP_OK;
}

static uint8_t *read_saved_state(deployment *d, const char *module, size_t *size)
{
    char *path = deployment_path(d, "state", module, ".snap");
    char err[256];
    char *state = NULL;
    if (path && fs_exists(path)) {
        if (!fs_read_file(path, 0, &state, size, err, sizeof err))
            log_warn("module.state_unreadable", "deployment=%s module=%s reason=%s", d->id,
                     module, log_quote(err));
        /* restored once: a crash later must not bring back this older memory */
        remove(path);
    }
    free(path);
    return (uint8_t *)state;
}

static int start_module(const deploy_settings *s, deployment *d, size_t index,
                        deploy_source source, char *err, size_t err_size)
{
    const manifest_module *mm = &d->manifest->modules[index];
    wasm_module *module = NULL;
    module_timing timing = {0};
    int status = load_module(s, d, index, source, &module, &timing, err, err_size);
    char *sandbox = deployment_path(d, "sandbox", mm->name, NULL);
    if (status == HTTP_OK && !sandbox) {
        snprintf(err, err_size, "out of memory");
        status = HTTP_INTERNAL;
    }
    if (status == HTTP_OK && !fs_mkdir_p(sandbox, 0755, err, err_size))
        status = local_failure(d->dir);
    if (status == HTTP_OK && source == DEPLOY_FETCH)
        status = fetch_data_files(s, d, index, sandbox, err, err_size);
    if (status != HTTP_OK) {
        if (module)
            wasm_module_free(module);
        free(sandbox);
        return status;
    }
    module_runtime_config config = {
        .deployment_id = d->id,
        .name = mm->name,
        .sandbox_dir = sandbox,
        .camera_dir = s->camera_dir,
        .remote_functions = s->remote_functions,
        .limits = manifest_effective_limits(d->manifest, mm, &s->default_limits),
    };
    size_t state_size = 0;
    uint8_t *state = source == DEPLOY_RESTORE ? read_saved_state(d, mm->name, &state_size)
                                              : NULL;
    char state_err[256] = "", why[512];
    bool had_state = state != NULL;
    double starting = now_ms();
    d->runtimes[index] = module_runtime_new(&config, module, state, state_size, state_err,
                                            sizeof state_err, why, sizeof why);
    free(state);
    free(sandbox);
    if (state_err[0])
        log_warn("module.state_not_restored", "deployment=%s module=%s reason=%s hint=%s", d->id,
                 mm->name, log_quote(state_err), log_quote("the module starts afresh"));
    else if (had_state && d->runtimes[index])
        log_info("module.state_restored", "deployment=%s module=%s bytes=%zu", d->id, mm->name,
                 state_size);
    if (!d->runtimes[index]) {
        snprintf(err, err_size, "modules[%zu] (%s): cannot start: %s", index, mm->name, why);
        return HTTP_BAD_REQUEST;
    }
    timing.start_ms = now_ms() - starting;
    log_debug("deploy.module", "deployment=%s module=%s bytes=%zu fetch_ms=%.1f load_ms=%.1f "
              "start_ms=%.1f", d->id, mm->name, timing.bytes, timing.fetch_ms, timing.load_ms,
              timing.start_ms);
    return HTTP_OK;
}

/* The previous version's instance of module mm when it can go on serving in the new
 * one: the same binary (by SHA-256: without one nothing proves it), the same id, and
 * still here (not moved away). */
static module_runtime *keepable(deployment *previous, const manifest_module *mm)
{
    const manifest_module *before = NULL;
    module_runtime *rt = previous ? deployment_module(previous, mm->name, &before) : NULL;
    if (!rt || !mm->has_sha256 || !before->has_sha256 || memcmp(mm->sha256, before->sha256, 32))
        return NULL;
    if ((mm->id == NULL) != (before->id == NULL) || (mm->id && strcmp(mm->id, before->id)))
        return NULL;
    return module_runtime_phase(rt) == RUNTIME_MOVED ? NULL : rt;
}

/* The kept instance's binary, in the new version for a restart to load: a hard link
 * (same file system), else a copy. */
static int link_binary(const deploy_settings *s, deployment *previous, deployment *d,
                       const char *name, char *err, size_t err_size)
{
    char *from = deployment_path(previous, "modules", name, ".wasm");
    char *to = deployment_path(d, "modules", name, ".wasm");
    int status = HTTP_OK;
    char *bytes = NULL;
    size_t size = 0;
    if (!from || !to) {
        snprintf(err, err_size, "out of memory");
        status = HTTP_INTERNAL;
    } else if (link(from, to) != 0 &&
               !(fs_read_file(from, s->max_download_bytes, &bytes, &size, err, err_size) &&
                 fs_write_atomic(to, bytes, size, 0644, err, err_size))) {
        status = local_failure(d->dir);
    }
    free(bytes);
    free(from);
    free(to);
    return status;
}

static int keep_module(const deploy_settings *s, deployment *previous, deployment *d,
                       size_t index, module_runtime *rt, char *err, size_t err_size)
{
    const manifest_module *mm = &d->manifest->modules[index];
    int status = check_exports(mm, module_runtime_module(rt), err, err_size);
    if (status == HTTP_OK)
        status = link_binary(s, previous, d, mm->name, err, err_size);
    if (status != HTTP_OK)
        return status;
    d->runtimes[index] = rt;
    d->not_owned[index] = true;     /* previous's until d is in place */
    log_info("deploy.module_kept", "deployment=%s module=%s from_version=%u version=%u",
             d->id, mm->name, previous->version, d->version);
    return HTTP_OK;
}

int deploy_move_sandboxes(deployment *d, const deployment *into, char *err, size_t err_size)
{
    for (size_t i = 0; i < d->manifest->module_count; i++) {
        if (!d->not_owned[i] || !d->runtimes[i])
            continue;
        char *path = deployment_path(into, "sandbox", d->manifest->modules[i].name, NULL);
        bool ok = path && (!strcmp(path, module_runtime_sandbox(d->runtimes[i])) ||
                           module_runtime_relocate(d->runtimes[i], path, err, err_size));
        if (!path)
            snprintf(err, err_size, "out of memory");
        free(path);
        if (!ok)
            return HTTP_INTERNAL;
    }
    return HTTP_OK;
}

int deploy_build(const deploy_settings *settings, deployment *d, deployment *previous,
                 deploy_source source, char *err, size_t err_size)
{
    char *modules_dir = deployment_path(d, "modules", NULL, NULL);
    bool made = modules_dir && fs_mkdir_p(modules_dir, 0755, err, err_size);
    free(modules_dir);
    if (!made)
        return local_failure(d->dir);
    char *sandboxes = deployment_path(d, "sandbox", NULL, NULL);
    made = sandboxes && fs_mkdir_p(sandboxes, 0755, err, err_size);
    free(sandboxes);
    if (!made)
        return local_failure(d->dir);
    for (size_t i = 0; i < d->manifest->module_count; i++) {
        module_runtime *kept = keepable(previous, &d->manifest->modules[i]);
        int status = kept ? keep_module(settings, previous, d, i, kept, err, err_size)
                          : start_module(settings, d, i, source, err, err_size);
        if (status != HTTP_OK)
            return status;
    }
    return HTTP_OK;
}
