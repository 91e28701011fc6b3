/*
 * test_orch_store.c — the orchestrator's SQLite store: every table keeps what was
 * put and gives it back (by id and by name), names stay unique, a module in use
 * cannot be deleted, bounded tables drop their oldest rows, everything is found again
 * after reopening, and a transaction that fails midway — or a process that dies
 * inside one — leaves nothing of it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "orchestrator/store.h"

#include "base/fs.h"

#include <pthread.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_http_util.h"

typedef struct fixture {
    char *dir;
    char *path;
    store *s;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = test_make_temp_dir();
    f->path = fs_join(f->dir, "orchestrator.db");
    char err[512] = "";
    f->s = store_open(f->path, err, sizeof err);
    if (!f->s)
        fprintf(stderr, "store_open: %s\n", err);
    *state = f;
    return f->s ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    store_close(f->s);
    fs_remove_tree(f->dir, NULL, 0);
    free(f->dir);
    free(f->path);
    free(f);
    return 0;
}

static void reopen(fixture *f)
{
    store_close(f->s);
    char err[512] = "";
    f->s = store_open(f->path, err, sizeof err);
    if (!f->s)
        fail_msg("reopen: %s", err);
}

static json_t *device(const char *id, const char *name)
{
    return json_pack("{s:s, s:s, s:{s:[s], s:i}, s:{s:{}, s:[s, s]}, s:b}", "_id", id, "name",
                     name, "communication", "addresses", "127.0.0.1", "port", 5000,
                     "description", "platform", "supervisorInterfaces", "fd_write", "sys.delay",
                     "blacklisted", 0);
}

static json_t *module(const char *id, const char *name, const char *digest)
{
    return json_pack("{s:s, s:s, s:[{s:s, s:i}], s:[], s:{s:s, s:s}, s:{s:{s:s}}}", "_id", id,
                     "name", name, "exports", "name", "fibo", "parameterCount", 1,
                     "requirements", "wasm", "originalFilename", "fibo.wasm", "sha256", digest,
                     "dataFiles", "model", "sha256",
                     "1111111111111111111111111111111111111111111111111111111111111111");
}

static json_t *deployment(const char *id, const char *name, const char *device_id,
                          const char *module_ref)
{
    return json_pack("{s:s, s:s, s:b, s:[{s:s, s:s, s:s}], s:{}, s:i}", "_id", id, "name", name,
                     "active", 0, "sequence", "device", device_id, "module", module_ref, "func",
                     "fibo", "fullManifest", "epoch", 1);
}

#define DEV1 "6650aa000000000000000001"
#define DEV2 "6650aa000000000000000002"
#define MOD1 "6650bb000000000000000001"
#define MOD2 "6650bb000000000000000002"
#define DEP1 "6650cc000000000000000001"
#define DIGEST_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DIGEST_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void put_ok(store_result r, const char *err)
{
    if (r != STORE_OK)
        fail_msg("expected STORE_OK, got %d: %s", r, err);
}

/* ---------------------------------------------------------------- devices */

static void test_device_round_trip(void **state)
{
    fixture *f = *state;
    char err[512] = "";
    json_t *d = device(DEV1, "raspi1");
    put_ok(store_device_put(f->s, d, err, sizeof err), err);

    json_t *by_id = NULL, *by_name = NULL;
    put_ok(store_device_get(f->s, DEV1, &by_id, err, sizeof err), err);
    put_ok(store_device_get(f->s, "raspi1", &by_name, err, sizeof err), err);
    assert_true(json_equal(by_id, by_name));
    assert_string_equal(json_string_value(json_object_get(by_id, "status")), "active");
    assert_true(json_equal(json_object_get(by_id, "description"),
                           json_object_get(d, "description")));
    assert_int_equal(json_array_size(json_object_get(by_id, "statusLog")), 0);

    json_t *changes = json_pack("{s:{s:{s:f}, s:s}, s:f, s:i}", "health", "report", "cpuUsage",
                                0.25, "timeOfQuery", "2026-01-01T00:00:00.000Z", "rttMs", 1.5,
                                "okHealthCheckCount", 3);
    json_t *updated = NULL;
    put_ok(store_device_update(f->s, DEV1, changes, &updated, err, sizeof err), err);
    assert_int_equal(json_integer_value(json_object_get(updated, "okHealthCheckCount")), 3);
    assert_string_equal(json_string_value(json_object_get(updated, "name")), "raspi1");
    json_t *again = NULL;
    put_ok(store_device_get(f->s, DEV1, &again, err, sizeof err), err);
    assert_true(json_equal(again, updated));
    json_decref(again);

    assert_int_equal(store_device_get(f->s, "nobody", &again, err, sizeof err), STORE_NOT_FOUND);
    assert_null(again);
    assert_non_null(strstr(err, "nobody"));
    assert_int_equal(store_device_update(f->s, "6650aa00000000000000ffff", changes, NULL, err,
                                         sizeof err), STORE_NOT_FOUND);
    json_decref(changes);
    json_decref(updated);
    json_decref(by_id);
    json_decref(by_name);
    json_decref(d);
}

static void test_device_names_are_unique(void **state)
{
    fixture *f = *state;
    char err[512] = "";
    json_t *a = device(DEV1, "same"), *b = device(DEV2, "same");
    put_ok(store_device_put(f->s, a, err, sizeof err), err);
    assert_int_equal(store_device_put(f->s, b, err, sizeof err), STORE_CONFLICT);
    assert_non_null(strstr(err, "'same'"));
    json_t *list = NULL;
    put_ok(store_device_list(f->s, &list, err, sizeof err), err);
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "_id")), DEV1);

    json_t *no_name = json_pack("{s:s}", "_id", DEV2);
    assert_int_equal(store_device_put(f->s, no_name, err, sizeof err), STORE_INVALID);
    assert_non_null(strstr(err, "name"));
    json_t *bad_status = device(DEV2, "other");
    json_object_set_new(bad_status, "status", json_string("sleeping"));
    assert_int_equal(store_device_put(f->s, bad_status, err, sizeof err), STORE_INVALID);
    json_decref(bad_status);
    json_decref(no_name);
    json_decref(list);
    json_decref(a);
    json_decref(b);
}

static void test_device_status_log(void **state)
{
    fixture *f = *state;
    char err[512] = "";
    json_t *d = device(DEV1, "raspi1");
    put_ok(store_device_put(f->s, d, err, sizeof err), err);
    bool changed = false;
    put_ok(store_device_set_status(f->s, DEV1, "active", "again", &changed, err, sizeof err),
           err);
    assert_false(changed);   /* same status: no change, no log entry */
    put_ok(store_device_set_status(f->s, DEV1, "suspect", "1 failed check", &changed, err,
                                   sizeof err), err);
    assert_true(changed);
    put_ok(store_device_set_status(f->s, DEV1, "lost", "2 failed checks", &changed, err,
                                   sizeof err), err);
    json_t *got = NULL;
    put_ok(store_device_get(f->s, DEV1, &got, err, sizeof err), err);
    assert_string_equal(json_string_value(json_object_get(got, "status")), "lost");
    json_t *log = json_object_get(got, "statusLog");
    assert_int_equal(json_array_size(log), 2);
    /* newest first, as the reference prepends */
    assert_string_equal(json_string_value(json_object_get(json_array_get(log, 0), "status")),
                        "lost");
    assert_string_equal(json_string_value(json_object_get(json_array_get(log, 0), "reason")),
                        "2 failed checks");
    assert_string_equal(json_string_value(json_object_get(json_array_get(log, 1), "status")),
                        "suspect");
    assert_int_equal(store_device_set_status(f->s, DEV1, "inactive", NULL, NULL, err,
                                             sizeof err), STORE_INVALID);
    json_decref(got);

    /* bounded per device, newest kept */
    for (int i = 0; i < STORE_STATUS_LOG_LIMIT + 20; i++)
        put_ok(store_device_set_status(f->s, DEV1, i % 2 ? "lost" : "active", "flap", NULL, err,
                                       sizeof err), err);
    put_ok(store_device_get(f->s, DEV1, &got, err, sizeof err), err);
    assert_int_equal(json_array_size(json_object_get(got, "statusLog")), STORE_STATUS_LOG_LIMIT);
    json_t *list = NULL;
    put_ok(store_device_list(f->s, &list, err, sizeof err), err);
    assert_true(json_equal(json_object_get(json_array_get(list, 0), "statusLog"),
                           json_object_get(got, "statusLog")));
    json_decref(list);
    json_decref(got);
    json_decref(d);
}

static void test_device_delete(void **state)
{
    fixture *f = *state;
    char err[512] = "";
    json_t *a = device(DEV1, "a"), *b = device(DEV2, "b");
    put_ok(store_device_put(f->s, a, err, sizeof err), err);
    put_ok(store_device_put(f->s, b, err, sizeof err), err);
    put_ok(store_device_set_status(f->s, DEV1, "lost", "x", NULL, err, sizeof err), err);
    put_ok(store_device_delete(f->s, DEV1, err, sizeof err), err);
    assert_int_equal(store_device_delete(f->s, DEV1, err, sizeof err), STORE_NOT_FOUND);
    /* a device of the same id comes back without the old status log */
    put_ok(store_device_put(f->s, a, err, sizeof err), err);
    json_t *got = NULL;
    put_ok(store_device_get(f->s, DEV1, &got, err, sizeof err), err);
    assert_int_equal(json_array_size(json_object_get(got, "statusLog")), 0);
    long long deleted = 0;
    put_ok(store_device_delete_all(f->s, &deleted, err, sizeof err), err);
    assert_int_equal(deleted, 2);
    json_t *list = NULL;
    put_ok(store_device_list(f->s, &list, err, sizeof err), err);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    json_decref(got);
    json_decref(a);
    json_decref(b);
}

/* ------------------------------------------------- modules and deployments */

static void test_module_round_trip(void **state)
{
    fixture *f = *state;
    char err[512] = "";
    json_t *m = module(MOD1, "fibo", DIGEST_A);
    put_ok(store_module_put(f->s, m, err, sizeof err), err);
    json_t *by_name = NULL, *by_id = NULL;
    put_ok(store_module_get(f->s, "fibo", &by_name, err, sizeof err), err);
    put_ok(store_module_get(f->s, MOD1, &by_id, err, sizeof err), err);
    assert_true(json_equal(by_name, m));
    assert_true(json_equal(by_id, m));
    json_decref(by_id);
    json_t *other = module(MOD2, "fibo", DIGEST_B);
    assert_int_equal(store_module_put(f->s, other, err, sizeof err), STORE_CONFLICT);
    assert_non_null(strstr(err, "'fibo' already exists"));
    json_object_set_new(other, "name", json_string("fibo2"));
    put_ok(store_module_put(f->s, other, err, sizeof err), err);
    json_t *list = NULL;
    put_ok(store_module_list(f->s, &list, err, sizeof err), err);
    assert_int_equal(json_array_size(list), 2);
    assert_int_equal(store_module_get(f->s, "nope", &by_id, err, sizeof err), STORE_NOT_FOUND);
    json_decref(list);
    json_decref(other);
    json_decref(by_name);
    json_decref(m);
}

static void test_module_in_use_cannot_be_deleted(void **state)
{
    fixture *f = *state;
    char err[512] = "";
    json_t *m1 = module(MOD1, "fibo", DIGEST_A), *m2 = module(MOD2, "spare", DIGEST_B);
    put_ok(store_module_put(f->s, m1, err, sizeof err), err);
    put_ok(store_module_put(f->s, m2, err, sizeof err), err);
    /* the step names the module by name; the index resolves it to the id */
    json_t *dep = deployment(DEP1, "fibo-dep", DEV1, "fibo");
    put_ok(store_deployment_put(f->s, dep, err, sizeof err), err);

    assert_int_equal(store_module_delete(f->s, MOD1, err, sizeof err), STORE_CONFLICT);
    assert_non_null(strstr(err, "'fibo-dep'"));
    long long deleted = 0, kept = 0;
    put_ok(store_module_delete_all(f->s, &deleted, &kept, err, sizeof err), err);
    assert_int_equal(deleted, 1);
    assert_int_equal(kept, 1);
    json_t *got = NULL;
    put_ok(store_module_get(f->s, MOD1, &got, err, sizeof err), err);
    json_decref(got);
    assert_int_equal(store_module_get(f->s, MOD2, &got, err, sizeof err), STORE_NOT_FOUND);

    put_ok(store_deployment_delete(f->s, DEP1, err, sizeof err), err);
    put_ok(store_module_delete(f->s, MOD1, err, sizeof err), err);
    assert_int_equal(store_module_delete(f->s, MOD1, err, sizeof err), STORE_NOT_FOUND);
    json_decref(dep);
    json_decref(m1);
    json_decref(m2);
}

static void test_deployment_round_trip(void **state)
{
    fixture *f = *state;
    char err[512] = "";
    json_t *m = module(MOD1, "fibo", DIGEST_A);
    put_ok(store_module_put(f->s, m, err, sizeof err), err);
    json_t *dep = deployment(DEP1, "fibo-dep", DEV1, MOD1);
    put_ok(store_deployment_put(f->s, dep, err, sizeof err), err);
    json_t *got = NULL;
    put_ok(store_deployment_get(f->s, "fibo-dep", &got, err, sizeof err), err);
    assert_true(json_equal(got, dep));
    json_decref(got);

    json_t *changes = json_pack("{s:b, s:i, s:[{s:s, s:s, s:s}]}", "active", 1, "epoch", 2,
                                "sequence", "device", DEV2, "module", MOD1, "func", "fibo");
    json_t *updated = NULL;
    put_ok(store_deployment_update(f->s, DEP1, changes, &updated, err, sizeof err), err);
    assert_true(json_is_true(json_object_get(updated, "active")));
    assert_int_equal(json_integer_value(json_object_get(updated, "epoch")), 2);

    /* the step index follows the new sequence: the deployment moved to DEV2 */
    json_t *using = NULL;
    put_ok(store_deployments_using(f->s, DEV1, NULL, &using, err, sizeof err), err);
    assert_int_equal(json_array_size(using), 0);
    json_decref(using);
    put_ok(store_deployments_using(f->s, DEV2, NULL, &using, err, sizeof err), err);
    assert_int_equal(json_array_size(using), 1);
    assert_true(json_equal(json_array_get(using, 0), updated));
    json_decref(using);
    put_ok(store_deployments_using(f->s, NULL, MOD1, &using, err, sizeof err), err);
    assert_int_equal(json_array_size(using), 1);
    json_decref(using);
    put_ok(store_deployments_using(f->s, DEV2, MOD2, &using, err, sizeof err), err);
    assert_int_equal(json_array_size(using), 0);
    json_decref(using);

    json_t *twin = deployment("6650cc000000000000000002", "fibo-dep", DEV1, MOD1);
    assert_int_equal(store_deployment_put(f->s, twin, err, sizeof err), STORE_CONFLICT);
    json_t *bad = json_pack("{s:s, s:s, s:s}", "_id", "6650cc000000000000000003", "name", "x",
                            "sequence", "not a list");
    assert_int_equal(store_deployment_put(f->s, bad, err, sizeof err), STORE_INVALID);
    json_t *list = NULL;
    put_ok(store_deployment_list(f->s, &list, err, sizeof err), err);
    assert_int_equal(json_array_size(list), 1);
    long long deleted = 0;
    put_ok(store_deployment_delete_all(f->s, &deleted, err, sizeof err), err);
    assert_int_equal(deleted, 1);
    assert_int_equal(store_deployment_get(f->s, DEP1, &got, err, sizeof err), STORE_NOT_FOUND);
    json_decref(list);
    json_decref(bad);
    json_decref(twin);
    json_decref(changes);
    json_decref(updated);
    json_decref(dep);
    json_decref(m);
}

/* ------------------------------------------------------ accumulating tables */

static void test_executions(void **state)
{
    fixture *f = *state;
    char err[512] = "";
    for (int i = 0; i < 5; i++) {
        char id[32];
        snprintf(id, sizeof id, "6650dd00000000000000000%d", i);
        json_t *e = json_pack("{s:s, s:s, s:s, s:{s:i}, s:{s:s}}", "_id", id, "deployment",
                              i < 3 ? DEP1 : "6650cc000000000000000009", "status", "running",
                              "input", "param0", i, "inputFiles", "image.jpeg", DIGEST_A);
        put_ok(store_execution_put(f->s, e, err, sizeof err), err);
        json_decref(e);
    }
    json_t *done = json_pack("{s:s, s:o, s:[{s:i}]}", "status", "success", "result",
                             json_string("233"), "steps", "ms", 4);
    json_t *updated = NULL;
    put_ok(store_execution_update(f->s, "6650dd000000000000000001", done, &updated, err,
                                  sizeof err), err);
    assert_string_equal(json_string_value(json_object_get(updated, "status")), "success");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(updated, "input"),
                                                        "param0")), 1);
    json_t *got = NULL;
    put_ok(store_execution_get(f->s, "6650dd000000000000000001", &got, err, sizeof err), err);
    assert_true(json_equal(got, updated));
    json_decref(got);

    json_t *list = NULL;
    put_ok(store_execution_list(f->s, DEP1, 0, &list, err, sizeof err), err);
    assert_int_equal(json_array_size(list), 3);   /* newest first */
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "_id")),
                        "6650dd000000000000000002");
    json_decref(list);
    put_ok(store_execution_list(f->s, NULL, 2, &list, err, sizeof err), err);
    assert_int_equal(json_array_size(list), 2);
    json_decref(list);
    assert_int_equal(store_execution_get(f->s, "6650dd0000000000000000ff", &got, err, sizeof err),
                     STORE_NOT_FOUND);
    json_decref(updated);
    json_decref(done);
}

static void test_device_logs(void **state)
{
    fixture *f = *state;
    char err[512] = "";
    char before[32];
    store_now_iso(before);
    usleep(5000);
    for (int i = 0; i < 3; i++) {
        json_t *log = json_pack("{s:s, s:i}", "deviceName", "s1", "n", i);
        int64_t seq = 0;
        put_ok(store_log_add(f->s, log, &seq, err, sizeof err), err);
        assert_true(seq > 0);
        json_decref(log);
    }
    json_t *list = NULL;
    put_ok(store_log_list(f->s, NULL, 0, &list, err, sizeof err), err);
    assert_int_equal(json_array_size(list), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "n")), 0);
    assert_non_null(json_object_get(json_array_get(list, 0), "dateReceived"));
    json_decref(list);
    /* `after` in any ISO form compares by time, not as text */
    put_ok(store_log_list(f->s, before, 0, &list, err, sizeof err), err);
    assert_int_equal(json_array_size(list), 3);
    json_decref(list);
    put_ok(store_log_list(f->s, "2999-01-01T00:00:00Z", 0, &list, err, sizeof err), err);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    put_ok(store_log_list(f->s, "2000-01-01", 2, &list, err, sizeof err), err);
    assert_int_equal(json_array_size(list), 2);   /* the newest two, oldest first */
    assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "n")), 1);
    json_decref(list);
    assert_int_equal(store_log_list(f->s, "yesterday", 0, &list, err, sizeof err),
                     STORE_INVALID);
    assert_non_null(strstr(err, "yesterday"));
}

static void test_events_are_bounded(void **state)
{
    fixture *f = *state;
    char err[512] = "";
    assert_int_equal(store_event_last_seq(f->s), 0);
    const int extra = 7;
    assert_true(store_begin(f->s, err, sizeof err));
    for (int i = 0; i < STORE_EVENT_LIMIT + extra; i++) {
        json_t *data = json_pack("{s:i}", "i", i);
        put_ok(store_event_add(f->s, "device.found", DEV1, data, NULL, err, sizeof err), err);
        json_decref(data);
    }
    assert_true(store_commit(f->s, err, sizeof err));
    assert_int_equal(store_event_last_seq(f->s), STORE_EVENT_LIMIT + extra);
    json_t *all = NULL;
    put_ok(store_event_list(f->s, 0, 0, &all, err, sizeof err), err);
    assert_int_equal(json_array_size(all), STORE_EVENT_LIMIT);
    json_t *first = json_array_get(all, 0);
    assert_int_equal(json_integer_value(json_object_get(first, "seq")), extra + 1);
    assert_string_equal(json_string_value(json_object_get(first, "type")), "device.found");
    assert_string_equal(json_string_value(json_object_get(first, "subject")), DEV1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(first, "data"), "i")),
                     extra);
    json_decref(all);
    put_ok(store_event_list(f->s, STORE_EVENT_LIMIT + extra - 2, 0, &all, err, sizeof err), err);
    assert_int_equal(json_array_size(all), 2);
    json_decref(all);
    put_ok(store_event_list(f->s, 0, 3, &all, err, sizeof err), err);
    assert_int_equal(json_array_size(all), 3);
    json_decref(all);
    assert_int_equal(store_event_add(f->s, "", NULL, NULL, NULL, err, sizeof err), STORE_INVALID);
}

/* ------------------------------------------------- restarts and transactions */

static void test_reopen_finds_everything(void **state)
{
    fixture *f = *state;
    char err[512] = "";
    json_t *d = device(DEV1, "raspi1"), *m = module(MOD1, "fibo", DIGEST_A);
    json_t *dep = deployment(DEP1, "fibo-dep", DEV1, MOD1);
    json_t *e = json_pack("{s:s, s:s, s:s}", "_id", "6650dd000000000000000001", "deployment",
                          DEP1, "status", "success");
    put_ok(store_device_put(f->s, d, err, sizeof err), err);
    put_ok(store_device_set_status(f->s, DEV1, "suspect", "slow", NULL, err, sizeof err), err);
    put_ok(store_module_put(f->s, m, err, sizeof err), err);
    put_ok(store_deployment_put(f->s, dep, err, sizeof err), err);
    put_ok(store_execution_put(f->s, e, err, sizeof err), err);
    put_ok(store_event_add(f->s, "deployment.created", DEP1, NULL, NULL, err, sizeof err), err);
    json_t *log = json_pack("{s:s}", "message", "hello");
    put_ok(store_log_add(f->s, log, NULL, err, sizeof err), err);

    reopen(f);
    assert_int_equal(store_schema_version(f->s), STORE_SCHEMA_VERSION);
    json_t *got = NULL;
    put_ok(store_device_get(f->s, "raspi1", &got, err, sizeof err), err);
    assert_string_equal(json_string_value(json_object_get(got, "status")), "suspect");
    assert_int_equal(json_array_size(json_object_get(got, "statusLog")), 1);
    json_decref(got);
    put_ok(store_module_get(f->s, "fibo", &got, err, sizeof err), err);
    assert_true(json_equal(got, m));
    json_decref(got);
    put_ok(store_deployment_get(f->s, DEP1, &got, err, sizeof err), err);
    assert_true(json_equal(got, dep));
    json_decref(got);
    put_ok(store_execution_get(f->s, "6650dd000000000000000001", &got, err, sizeof err), err);
    assert_true(json_equal(got, e));
    json_decref(got);
    assert_int_equal(store_event_last_seq(f->s), 1);
    put_ok(store_log_list(f->s, NULL, 0, &got, err, sizeof err), err);
    assert_int_equal(json_array_size(got), 1);
    json_decref(got);
    /* the deployment still protects its module after the restart */
    assert_int_equal(store_module_delete(f->s, MOD1, err, sizeof err), STORE_CONFLICT);
    json_decref(log);
    json_decref(e);
    json_decref(dep);
    json_decref(m);
    json_decref(d);
}

static void test_failed_transaction_leaves_nothing(void **state)
{
    fixture *f = *state;
    char err[512] = "";
    json_t *m = module(MOD1, "fibo", DIGEST_A);
    put_ok(store_module_put(f->s, m, err, sizeof err), err);

    /* a deployment, its device and an event, then a module whose name is taken */
    json_t *d = device(DEV1, "raspi1"), *dep = deployment(DEP1, "fibo-dep", DEV1, MOD1);
    json_t *dup = module(MOD2, "fibo", DIGEST_B);
    assert_true(store_begin(f->s, err, sizeof err));
    put_ok(store_device_put(f->s, d, err, sizeof err), err);
    put_ok(store_deployment_put(f->s, dep, err, sizeof err), err);
    put_ok(store_event_add(f->s, "deployment.created", DEP1, NULL, NULL, err, sizeof err), err);
    assert_int_equal(store_module_put(f->s, dup, err, sizeof err), STORE_CONFLICT);
    store_rollback(f->s);

    json_t *got = NULL;
    assert_int_equal(store_device_get(f->s, DEV1, &got, err, sizeof err), STORE_NOT_FOUND);
    assert_int_equal(store_deployment_get(f->s, DEP1, &got, err, sizeof err), STORE_NOT_FOUND);
    assert_int_equal(store_event_last_seq(f->s), 0);
    assert_int_equal(store_module_get(f->s, MOD2, &got, err, sizeof err), STORE_NOT_FOUND);
    /* the module that was there before is untouched, and no longer protected */
    put_ok(store_module_get(f->s, MOD1, &got, err, sizeof err), err);
    assert_true(json_equal(got, m));
    json_decref(got);

    /* a nested failure rolls back only the inner part */
    assert_true(store_begin(f->s, err, sizeof err));
    put_ok(store_device_put(f->s, d, err, sizeof err), err);
    assert_true(store_begin(f->s, err, sizeof err));
    put_ok(store_deployment_put(f->s, dep, err, sizeof err), err);
    store_rollback(f->s);
    assert_true(store_commit(f->s, err, sizeof err));
    put_ok(store_device_get(f->s, DEV1, &got, err, sizeof err), err);
    json_decref(got);
    assert_int_equal(store_deployment_get(f->s, DEP1, &got, err, sizeof err), STORE_NOT_FOUND);

    reopen(f);
    put_ok(store_device_get(f->s, DEV1, &got, err, sizeof err), err);
    json_decref(got);
    assert_int_equal(store_deployment_get(f->s, DEP1, &got, err, sizeof err), STORE_NOT_FOUND);
    json_decref(dup);
    json_decref(dep);
    json_decref(d);
    json_decref(m);
}

/* A process that dies in the middle of a transaction (kill -9, a crash) leaves the
 * database as of the last commit, intact. */
static void test_crash_inside_transaction(void **state)
{
    fixture *f = *state;
    char err[512] = "";
    json_t *d1 = device(DEV1, "kept");
    put_ok(store_device_put(f->s, d1, err, sizeof err), err);
    store_close(f->s);
    f->s = NULL;
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        store *s = store_open(f->path, NULL, 0);
        json_t *d2 = device(DEV2, "lost-in-crash");
        if (!s || !store_begin(s, NULL, 0) || store_device_put(s, d2, NULL, 0) != STORE_OK ||
            store_device_delete(s, DEV1, NULL, 0) != STORE_OK)
            _exit(3);
        _exit(0);   /* no commit, no close: as if killed */
    }
    int status = 0;
    waitpid(child, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    reopen(f);
    json_t *got = NULL;
    put_ok(store_device_get(f->s, "kept", &got, err, sizeof err), err);
    json_decref(got);
    assert_int_equal(store_device_get(f->s, DEV2, &got, err, sizeof err), STORE_NOT_FOUND);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "ok");
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    json_decref(d1);
}

static void test_newer_schema_is_refused(void **state)
{
    fixture *f = *state;
    store_close(f->s);
    f->s = NULL;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    char err[512] = "";
    assert_null(store_open(f->path, err, sizeof err));
    assert_non_null(strstr(err, "schema version 99"));
    assert_non_null(strstr(err, "newer"));
    /* put it back so teardown can close a real store */
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version=%d", STORE_SCHEMA_VERSION);
    sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    reopen(f);
}

static void test_unwritable_path_is_an_error(void **state)
{
    (void)state;
    char err[512] = "";
    assert_null(store_open("/nonexistent-dir/x/orchestrator.db", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent-dir/x/orchestrator.db"));
}

/* --------------------------------------------------------------- threads */

typedef struct writer {
    store *s;
    int index;
    int failures;
} writer;

static void *write_devices(void *arg)
{
    writer *w = arg;
    for (int i = 0; i < 100; i++) {
        char id[32], name[32];
        snprintf(id, sizeof id, "6650ee%02d%016d", w->index, i);
        snprintf(name, sizeof name, "w%d-%d", w->index, i);
        json_t *d = device(id, name);
        /* a transaction of two writes: readers never see one without the other */
        if (!store_begin(w->s, NULL, 0)) {
            w->failures++;
            json_decref(d);
            continue;
        }
        if (store_device_put(w->s, d, NULL, 0) != STORE_OK ||
            store_device_set_status(w->s, id, "suspect", "t", NULL, NULL, 0) != STORE_OK) {
            store_rollback(w->s);
            w->failures++;
        } else if (!store_commit(w->s, NULL, 0)) {
            w->failures++;
        }
        json_decref(d);
        json_t *list = NULL;
        if (store_device_list(w->s, &list, NULL, 0) != STORE_OK)
            w->failures++;
        size_t k;
        json_t *dev;
        json_array_foreach(list, k, dev) {
            if (strcmp(json_string_value(json_object_get(dev, "status")), "suspect"))
                w->failures++;
        }
        json_decref(list);
    }
    return NULL;
}

static void test_threads_share_the_store(void **state)
{
    fixture *f = *state;
    enum { THREADS = 4 };
    pthread_t threads[THREADS];
    writer writers[THREADS];
    for (int i = 0; i < THREADS; i++) {
        writers[i] = (writer){f->s, i, 0};
        pthread_create(&threads[i], NULL, write_devices, &writers[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(writers[i].failures, 0);
    }
    json_t *list = NULL;
    char err[512] = "";
    put_ok(store_device_list(f->s, &list, err, sizeof err), err);
    assert_int_equal(json_array_size(list), THREADS * 100);
    json_decref(list);
}

/* ------------------------------------------------------------------ time */

static void test_parse_iso(void **state)
{
    (void)state;
    int64_t ms = 0;
    assert_true(store_parse_iso("1970-01-01T00:00:01Z", &ms));
    assert_int_equal(ms, 1000);
    assert_true(store_parse_iso("1970-01-01T00:00:01.5Z", &ms));
    assert_int_equal(ms, 1500);
    assert_true(store_parse_iso("1970-01-01T01:00:00+01:00", &ms));
    assert_int_equal(ms, 0);
    assert_true(store_parse_iso("1970-01-02", &ms));
    assert_int_equal(ms, 86400000);
    assert_true(store_parse_iso("2024-06-15T09:42:25.877Z", &ms));
    assert_int_equal(ms, 1718444545877LL);
    char now[32];
    store_now_iso(now);
    assert_true(store_parse_iso(now, &ms));
    assert_false(store_parse_iso("2024-13-01", &ms));
    assert_false(store_parse_iso("2024-06-15T09:42:25Zjunk", &ms));
    assert_false(store_parse_iso("", &ms));
    assert_false(store_parse_iso(NULL, &ms));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_device_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_names_are_unique, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_status_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_module_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_module_in_use_cannot_be_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deployment_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_executions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_logs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_are_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_finds_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_transaction_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_inside_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_is_refused, setup, teardown),
        cmocka_unit_test(test_unwritable_path_is_an_error),
        cmocka_unit_test_setup_teardown(test_threads_share_the_store, setup, teardown),
        cmocka_unit_test(test_parse_iso),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
