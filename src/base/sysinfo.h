/*
 * sysinfo.h — what a supervisor tells about its device: real values read from the
 * machine (/proc, sysfs, statvfs, getifaddrs, uname), never made up.
 *
 * The key names follow the Rust reference supervisor (wasmiot-api.md §2.2, §2.3), the
 * one whose values are real, so orchestrators written for it read ours unchanged.
 */
#ifndef LIQUID_BASE_SYSINFO_H
#define LIQUID_BASE_SYSINFO_H

#include <jansson.h>

/* The "platform" object of the device description:
 *   cpu {architecture, coreCount, clockSpeedHz, humanReadableName},
 *   memory {totalBytes},
 *   storage {<mount or device>: totalBytes},
 *   network {<ifname>: {ipInfo: ["a.b.c.d/len"], macAddress}},
 *   system {hostName, kernel, name, os}
 * storage_path is the directory whose file system is reported (the supervisor's
 * instance directory); NULL means "/". Never NULL: what cannot be read is left out. */
json_t *sysinfo_platform(const char *storage_path);

/* Remembers /proc/stat and the traffic counters between calls, so CPU use and traffic
 * are measured over the interval since the previous call rather than since boot.
 * One sampler may serve several threads (it locks). */
typedef struct sysinfo_sampler sysinfo_sampler;
sysinfo_sampler *sysinfo_sampler_new(void);
void sysinfo_sampler_free(sysinfo_sampler *s);

/* {"cpuUsage": 0..1, "memoryUsage": 0..1, "storageUsage": {"disk": 0..1},
 *  "uptime": seconds, "networkUsage": {<if>: {"downBytes", "upBytes"}}}
 * CPU use over the interval since the previous call (or a short sample of 0.1 s on the
 * first call, or when the previous call was too recent to measure); traffic in bytes
 * since the previous call (since boot on the first). */
json_t *sysinfo_health(sysinfo_sampler *s, const char *storage_path);

#endif
