/*
 * departures.h — what left this supervisor, so that requests still arriving for it
 * get an answer that says where it went or why it is gone (docs/migration.md):
 *
 *   moved   one module of a deployment migrated to another supervisor: calls, history
 *           and file requests for it answer 307 to the same path there, for
 *           --moved-ttl-s after the move (the marker outlives DELETE /deploy);
 *   stale   a request carried a newer epoch than this device held for a deployment:
 *           it was placed elsewhere while this copy could not hear of it, so the copy
 *           was dropped and every call answers 409 "stale epoch".
 *
 * A new deployment of the same id (POST /deploy) forgets what it supersedes.
 *
 * Both kinds are kept on disk (departures.json in the instance directory, rewritten
 * atomically on every change, a moved marker with its expiry as wall-clock time), so
 * a supervisor restarted after a module moved away still redirects to it. (That the
 * copy it reloads of such a module never serves is the deployment's own record:
 * deployment_mark_moved.)
 */
#ifndef LIQUID_SUPERVISOR_DEPARTURES_H
#define LIQUID_SUPERVISOR_DEPARTURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct departures departures;

typedef enum departure_kind {
    DEPARTURE_NONE = 0,
    DEPARTURE_MOVED,
    DEPARTURE_STALE,
} departure_kind;

typedef struct departure {
    departure_kind kind;
    char target[512];           /* MOVED: the base URL (scheme://host:port) it went to */
    char target_module[256];    /* MOVED: its name there */
    uint64_t held;              /* STALE: the epoch this device held */
    uint64_t seen;              /* STALE: the newer epoch a request carried */
} departure;

/* Reads the markers kept at path (none if it does not exist; NULL path: memory
 * only). A file that cannot be read or parsed is an error: starting without the
 * markers could serve a module that moved away. */
departures *departures_open(const char *path, uint64_t moved_ttl_ms, char *err,
                            size_t err_size);
void departures_free(departures *d);

void departures_moved(departures *d, const char *deployment, const char *module,
                      const char *target, const char *target_module);
void departures_stale(departures *d, const char *deployment, uint64_t held, uint64_t seen);
/* A new deployment of this id arrived with these modules: forget the stale mark and
 * the moved markers of those modules (they are here again). */
void departures_forget(departures *d, const char *deployment, const char *const *modules,
                       size_t module_count);

/* What is known about (deployment, module); module NULL asks about the deployment. */
departure departures_find(departures *d, const char *deployment, const char *module);

/* Every deployment id marked stale or with a moved module, for logs and tests. */
size_t departures_count(departures *d);

#endif
