/*
 * verbs.h — what one client verb borrows from another (a deployment shows its devices
 * and modules by name).
 */
#ifndef LIQUID_CLI_VERBS_H
#define LIQUID_CLI_VERBS_H

#include "cli/client.h"

/* The device whose id or name is id_or_name (a new reference), or NULL after saying
 * that there is none. */
json_t *verbs_device_find(const client *c, const char *id_or_name);
/* "active", "suspect", "lost", "blacklisted" (or the reference's status). */
const char *verbs_device_state(const json_t *device);
/* "host:port" of the device's first address. */
const char *verbs_device_address(const json_t *device, char *out, size_t size);

/* {device id: name} of every device; an empty object when they cannot be listed (a
 * table with ids is still right, so that is no error). */
json_t *verbs_device_names(const client *c);

/* Reads a JSON file the user named, saying where it is broken if it is. NULL after
 * printing why. */
json_t *verbs_read_json_file(const char *path, const char *what);
/* Splits "NAME=VALUE" (both non-empty); false if there is no '='. */
bool verbs_split_pair(const char *arg, char *name, size_t name_size, const char **value);

#endif
