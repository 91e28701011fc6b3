/*
 * test_orch_migration_epochs.c — the epoch bookkeeping behind the lease
 * (docs/migration.md, "Epochs"): a deployment's epoch is written into every node; what
 * each device should hold lists the deployed deployments placed on it with their
 * epochs, not the undeployed ones; while a change is being sent its devices are listed
 * too, with the lower of the two epochs where one is listed already (a device is never
 * told to drop a copy it was just given), and once the change is done they are not.
 * The solver's "leaving" devices and the one-migration-per-deployment claim are kept
 * here too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "orchestrator/events.h"
#include "orchestrator/fleet.h"
#include "orchestrator/migration.h"
#include "orchestrator/placement.h"
#include "orchestrator/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct world {
    char dir[64];
    char db[96];
    orchestrator o;
} world;

static int world_start(void **state)
{
    world *w = calloc(1, sizeof *w);
    snprintf(w->dir, sizeof w->dir, "/tmp/liquid-epochs-XXXXXX");
    assert_non_null(mkdtemp(w->dir));
    snprintf(w->db, sizeof w->db, "%s/orchestrator.db", w->dir);
    char err[512];
    w->o.store = store_open(w->db, err, sizeof err);
    assert_non_null(w->o.store);
    w->o.events = events_new(w->o.store, 0);
    w->o.settings = (orchestrator_settings){
        .public_url = "http://127.0.0.1:9/", .mdns = false, .health_interval_ms = 3600000,
        .suspect_after = 1, .lost_after = 3, .active_after = 2};
    w->o.fleet = fleet_start(&w->o, err, sizeof err);
    assert_non_null(w->o.fleet);
    if (!placement_start(&w->o, err, sizeof err))
        fail_msg("placement_start: %s", err);
    *state = w;
    return 0;
}

static int world_stop(void **state)
{
    world *w = *state;
    placement_stop(&w->o);
    fleet_stop(w->o.fleet);
    events_free(w->o.events);
    store_close(w->o.store);
    char command[128];
    snprintf(command, sizeof command, "rm -rf %s", w->dir);
    assert_int_equal(system(command), 0);
    free(w);
    return 0;
}

/* A deployment document placed on the given devices, at epoch, deployed or not. */
static json_t *deployment(const char *id, const char *name, json_int_t epoch, bool active,
                          const char *const *devices, size_t n)
{
    json_t *nodes = json_object(), *sequence = json_array();
    for (size_t i = 0; i < n; i++) {
        json_object_set_new(nodes, devices[i], json_pack("{s:s, s:[]}", "deploymentId", id,
                                                         "modules"));
        json_array_append_new(sequence, json_pack("{s:s, s:s, s:s}", "device", devices[i],
                                                  "module", "m", "func", "f"));
    }
    json_t *doc = json_pack("{s:s, s:s, s:o, s:o, s:b, s:s, s:s}", "_id", id, "name", name,
                            "sequence", sequence, "fullManifest", nodes, "active", active,
                            "createdAt", "2026-01-01T00:00:00Z", "updatedAt",
                            "2026-01-01T00:00:00Z");
    deployment_set_epoch(doc, epoch);
    return doc;
}

static void put(world *w, json_t *doc)
{
    char err[256];
    assert_int_equal(store_deployment_put(w->o.store, doc, err, sizeof err), STORE_OK);
    json_decref(doc);
}

static json_int_t held(const json_t *by_device, const char *device, const char *deployment)
{
    const json_t *e = json_object_get(json_object_get(by_device, device), deployment);
    return e ? json_integer_value(e) : -1;
}

static void epoch_is_in_every_node(void **state)
{
    (void)state;
    const char *devices[] = {"aaaaaaaaaaaaaaaaaaaaaaa1", "aaaaaaaaaaaaaaaaaaaaaaa2"};
    json_t *doc = deployment("dddddddddddddddddddddd01", "d1", 4, true, devices, 2);
    assert_int_equal(deployment_epoch(doc), 4);
    deployment_set_epoch(doc, 5);
    const char *device;
    json_t *node;
    size_t n = 0;
    json_object_foreach(json_object_get(doc, "fullManifest"), device, node) {
        assert_int_equal(json_integer_value(json_object_get(node, "epoch")), 5);
        n++;
    }
    assert_int_equal(n, 2);
    assert_int_equal(deployment_epoch(doc), 5);
    json_t *reference = json_pack("{s:s}", "_id", "x");
    assert_int_equal(deployment_epoch(reference), 0);     /* a reference document */
    json_decref(reference);
    json_decref(doc);
}

static void lease_lists_deployed_and_pending(void **state)
{
    world *w = *state;
    const char *a = "aaaaaaaaaaaaaaaaaaaaaaa1", *b = "aaaaaaaaaaaaaaaaaaaaaaa2",
               *c = "aaaaaaaaaaaaaaaaaaaaaaa3";
    const char *ab[] = {a, b}, *just_b[] = {b}, *bc[] = {b, c};
    const char *d1 = "dddddddddddddddddddddd01", *d2 = "dddddddddddddddddddddd02",
               *d3 = "dddddddddddddddddddddd03";
    put(w, deployment(d1, "one", 7, true, ab, 2));
    put(w, deployment(d2, "two", 3, true, just_b, 1));
    put(w, deployment(d3, "three", 1, false, ab, 2));    /* created, not deployed */

    json_t *by = placement_epochs_by_device(&w->o);
    assert_int_equal(held(by, a, d1), 7);
    assert_int_equal(held(by, b, d1), 7);
    assert_int_equal(held(by, b, d2), 3);
    assert_int_equal(held(by, a, d3), -1);
    assert_null(json_object_get(by, c));
    json_decref(by);

    /* d1 moving from a to c: c gets its node while the store still says a; the old
     * epoch is what both are told until the change is stored */
    json_t *next = deployment(d1, "one", 8, true, bc, 2);
    placement_pending_add(w->o.placement, d1, json_object_get(next, "fullManifest"), 7);
    by = placement_epochs_by_device(&w->o);
    assert_int_equal(held(by, c, d1), 7);
    assert_int_equal(held(by, b, d1), 7);
    assert_int_equal(held(by, a, d1), 7);
    json_decref(by);
    /* a pending epoch above the stored one never raises what a device is told */
    placement_pending_clear(w->o.placement, d1);
    placement_pending_add(w->o.placement, d1, json_object_get(next, "fullManifest"), 9);
    by = placement_epochs_by_device(&w->o);
    assert_int_equal(held(by, b, d1), 7);
    assert_int_equal(held(by, c, d1), 9);
    json_decref(by);
    /* stored, and the change over: a holds nothing of d1 any more */
    put(w, next);
    placement_pending_clear(w->o.placement, d1);
    by = placement_epochs_by_device(&w->o);
    assert_int_equal(held(by, a, d1), -1);
    assert_int_equal(held(by, c, d1), 8);
    assert_int_equal(held(by, b, d1), 8);
    assert_int_equal(held(by, b, d2), 3);
    json_decref(by);
}

static void leaving_devices_and_claims(void **state)
{
    world *w = *state;
    placement *p = w->o.placement;
    const char *a = "aaaaaaaaaaaaaaaaaaaaaaa1";
    assert_false(placement_is_leaving(p, a));
    placement_set_leaving(p, a, true);
    assert_true(placement_is_leaving(p, a));
    placement_set_leaving(p, a, false);
    assert_false(placement_is_leaving(p, a));

    assert_true(placement_claim_migration(p, "d1"));
    assert_false(placement_claim_migration(p, "d1"));
    assert_true(placement_claim_migration(p, "d2"));
    placement_release_migration(p, "d1");
    assert_true(placement_claim_migration(p, "d1"));
    placement_release_migration(p, "d1");
    placement_release_migration(p, "d2");

    migration_count_done(p, true, 7.0);
    migration_count_done(p, true, 300.0);
    migration_count_done(p, false, 0);
    migration_counters c;
    migration_counters_get(p, &c);
    assert_int_equal(c.completed, 2);
    assert_int_equal(c.failed, 1);
    assert_int_equal(c.unavailable[0], 0);                  /* <= 5 ms */
    assert_int_equal(c.unavailable[1], 1);                  /* <= 10 ms */
    assert_int_equal(c.unavailable[5], 1);                  /* <= 250 ms */
    assert_int_equal(c.unavailable[6], 2);                  /* <= 500 ms */
    assert_int_equal(c.unavailable[MIGRATION_BUCKETS], 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(epoch_is_in_every_node),
        cmocka_unit_test_setup_teardown(lease_lists_deployed_and_pending, world_start,
                                        world_stop),
        cmocka_unit_test_setup_teardown(leaving_devices_and_claims, world_start, world_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
