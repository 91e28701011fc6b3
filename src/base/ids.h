/*
 * ids.h — identifiers.
 *
 * Object ids have the shape of MongoDB ObjectIds, which Wasm-IoT clients expect for
 * deployments, modules and devices: 24 lowercase hex digits encoding 4 bytes of
 * seconds since the epoch (big-endian, so ids sort by creation time), 5 random bytes
 * chosen once per process, and a 3-byte counter that starts at a random value.
 *
 * Request ids tag one request in the logs of every device it crosses: 16 hex digits,
 * random per process and counted, so two devices never hand out the same one.
 */
#ifndef LIQUID_BASE_IDS_H
#define LIQUID_BASE_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDS_OBJECT_ID_SIZE 25    /* 24 hex digits + NUL */
#define IDS_REQUEST_ID_SIZE 17   /* 16 hex digits + NUL */

void ids_new_object_id(char out[IDS_OBJECT_ID_SIZE]);
/* An object id for a given time (seconds since the epoch), e.g. to build a query bound. */
void ids_object_id_at(uint32_t seconds, char out[IDS_OBJECT_ID_SIZE]);
bool ids_is_object_id(const char *s);
/* The creation time of an object id (seconds since the epoch); false if s is not one. */
bool ids_object_id_time(const char *s, uint32_t *seconds);

void ids_new_request_id(char out[IDS_REQUEST_ID_SIZE]);

/* Fills buf with random bytes from the kernel (getrandom); false if it failed. */
bool ids_random_bytes(void *buf, size_t size);

#endif
