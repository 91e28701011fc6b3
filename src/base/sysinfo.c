/*
 * sysinfo.c — the device description's "platform" and the health report, read from
 * the running machine: /proc and sysfs for CPU, memory, uptime and traffic, statvfs
 * for storage, getifaddrs for addresses, uname and os-release for the system.
 *
 * Anything that cannot be read (a container without cpufreq, a machine without
 * /etc/os-release) is left out of the answer rather than guessed: an orchestrator
 * that sees a key can trust its value.
 */
#define _GNU_SOURCE
#include "base/sysinfo.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <limits.h>
#include <mntent.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------- small readers */

/* The value after "key" and a colon in a "key : value" file such as /proc/cpuinfo,
 * trimmed, into out. False if no line has that key. */
static bool read_colon_field(const char *path, const char *key, char *out, size_t out_size)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[512];
    size_t key_len = strlen(key);
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        if (strncmp(line, key, key_len) != 0)
            continue;
        const char *p = line + key_len;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != ':')
            continue;
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        snprintf(out, out_size, "%s", p);
        out[strcspn(out, "\r\n")] = '\0';
        found = out[0] != '\0';
    }
    fclose(f);
    return found;
}

/* The first unsigned number in a file (sysfs values such as cpuinfo_max_freq). */
static bool read_number_file(const char *path, unsigned long long *out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fscanf(f, "%llu", out) == 1;
    fclose(f);
    return ok;
}

/* KEY="value" or KEY=value from /etc/os-release (or /usr/lib/os-release). */
static bool read_os_release(const char *key, char *out, size_t out_size)
{
    const char *paths[] = {"/etc/os-release", "/usr/lib/os-release"};
    size_t key_len = strlen(key);
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        FILE *f = fopen(paths[i], "r");
        if (!f)
            continue;
        char line[512];
        bool found = false;
        while (!found && fgets(line, sizeof line, f)) {
            if (strncmp(line, key, key_len) != 0 || line[key_len] != '=')
                continue;
            char *value = line + key_len + 1;
            value[strcspn(value, "\r\n")] = '\0';
            size_t len = strlen(value);
            if (len >= 2 && (value[0] == '"' || value[0] == '\'') && value[len - 1] == value[0]) {
                value[len - 1] = '\0';
                value++;
            }
            snprintf(out, out_size, "%s", value);
            found = true;
        }
        fclose(f);
        if (found)
            return true;
    }
    return false;
}

/* Bytes from a /proc/meminfo line ("MemTotal:  16318424 kB"). */
static bool read_meminfo_bytes(const char *key, uint64_t *out)
{
    char value[128];
    if (!read_colon_field("/proc/meminfo", key, value, sizeof value))
        return false;
    unsigned long long kib;
    if (sscanf(value, "%llu", &kib) != 1)
        return false;
    *out = (uint64_t)kib * 1024;
    return true;
}

/* ---------------------------------------------------------------- platform */

static json_t *cpu_object(const struct utsname *uts)
{
    json_t *cpu = json_object();
    json_object_set_new(cpu, "architecture", json_string(uts->machine));
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores > 0)
        json_object_set_new(cpu, "coreCount", json_integer(cores));

    /* The nominal maximum is stable between calls, unlike the current frequency of a
     * core that scales with load; x86 guests often lack cpufreq, so /proc/cpuinfo next. */
    unsigned long long khz;
    char value[256];
    if (read_number_file("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", &khz) && khz)
        json_object_set_new(cpu, "clockSpeedHz", json_integer((json_int_t)(khz * 1000)));
    else if (read_colon_field("/proc/cpuinfo", "cpu MHz", value, sizeof value))
        json_object_set_new(cpu, "clockSpeedHz", json_integer((json_int_t)(atof(value) * 1e6)));

    /* x86 names the model per core; a Raspberry Pi names the board once ("Model"). */
    if (read_colon_field("/proc/cpuinfo", "model name", value, sizeof value) ||
        read_colon_field("/proc/cpuinfo", "Model", value, sizeof value) ||
        read_colon_field("/proc/cpuinfo", "Hardware", value, sizeof value))
        json_object_set_new(cpu, "humanReadableName", json_string(value));
    else
        json_object_set_new(cpu, "humanReadableName", json_string(uts->machine));
    return cpu;
}

static json_t *memory_object(void)
{
    json_t *memory = json_object();
    uint64_t total;
    if (read_meminfo_bytes("MemTotal", &total))
        json_object_set_new(memory, "totalBytes", json_integer((json_int_t)total));
    return memory;
}

/* The mount whose mount point is the longest prefix of path: its device when it is
 * a real one ("/dev/sda1", as the Rust reference reports), else its mount point. */
static void storage_name_of(const char *path, char *out, size_t out_size)
{
    char resolved[PATH_MAX];
    if (!realpath(path, resolved))
        snprintf(resolved, sizeof resolved, "%s", path);
    snprintf(out, out_size, "/");
    FILE *mounts = setmntent("/proc/self/mounts", "r");
    if (!mounts)
        return;
    size_t best = 0;
    struct mntent entry;
    char buffer[4096];
    while (getmntent_r(mounts, &entry, buffer, sizeof buffer)) {
        size_t len = strlen(entry.mnt_dir);
        bool prefix = strncmp(resolved, entry.mnt_dir, len) == 0 &&
                      (resolved[len] == '/' || resolved[len] == '\0' || len == 1);
        if (!prefix || len < best)
            continue;
        best = len;
        snprintf(out, out_size, "%s",
                 entry.mnt_fsname[0] == '/' ? entry.mnt_fsname : entry.mnt_dir);
    }
    endmntent(mounts);
}

static json_t *storage_object(const char *path)
{
    json_t *storage = json_object();
    struct statvfs fs;
    if (statvfs(path, &fs) != 0)
        return storage;
    char name[PATH_MAX];
    storage_name_of(path, name, sizeof name);
    json_object_set_new(storage, name,
                        json_integer((json_int_t)((uint64_t)fs.f_blocks * fs.f_frsize)));
    return storage;
}

static unsigned prefix_length(const struct sockaddr *mask)
{
    const uint8_t *bytes;
    size_t size;
    if (!mask)
        return 0;
    if (mask->sa_family == AF_INET) {
        bytes = (const uint8_t *)&((const struct sockaddr_in *)mask)->sin_addr;
        size = 4;
    } else if (mask->sa_family == AF_INET6) {
        bytes = (const uint8_t *)&((const struct sockaddr_in6 *)mask)->sin6_addr;
        size = 16;
    } else {
        return 0;
    }
    unsigned bits = 0;
    for (size_t i = 0; i < size; i++)
        bits += (unsigned)__builtin_popcount(bytes[i]);
    return bits;
}

static json_t *interface_entry(json_t *network, const char *name)
{
    json_t *entry = json_object_get(network, name);
    if (!entry) {
        entry = json_object();
        json_object_set_new(entry, "ipInfo", json_array());
        json_object_set_new(network, name, entry);
    }
    return entry;
}

static void add_interface_address(json_t *network, const struct ifaddrs *ifa)
{
    json_t *entry = interface_entry(network, ifa->ifa_name);
    int family = ifa->ifa_addr->sa_family;
    if (family == AF_PACKET) {
        const struct sockaddr_ll *ll = (const struct sockaddr_ll *)ifa->ifa_addr;
        if (ll->sll_halen != 6)
            return;
        char mac[18];
        snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", ll->sll_addr[0],
                 ll->sll_addr[1], ll->sll_addr[2], ll->sll_addr[3], ll->sll_addr[4],
                 ll->sll_addr[5]);
        json_object_set_new(entry, "macAddress", json_string(mac));
        return;
    }
    char text[INET6_ADDRSTRLEN];
    const void *address = family == AF_INET
                              ? (const void *)&((const struct sockaddr_in *)ifa->ifa_addr)->sin_addr
                              : (const void *)&((const struct sockaddr_in6 *)ifa->ifa_addr)->sin6_addr;
    if (!inet_ntop(family, address, text, sizeof text))
        return;
    char cidr[INET6_ADDRSTRLEN + 8];
    snprintf(cidr, sizeof cidr, "%s/%u", text, prefix_length(ifa->ifa_netmask));
    json_array_append_new(json_object_get(entry, "ipInfo"), json_string(cidr));
}

/* Every interface that is up, loopback included: a loopback-only demo is a real setup. */
static json_t *network_object(void)
{
    json_t *network = json_object();
    struct ifaddrs *list;
    if (getifaddrs(&list) != 0)
        return network;
    for (struct ifaddrs *ifa = list; ifa; ifa = ifa->ifa_next) {
        if (!ifa->ifa_addr || !(ifa->ifa_flags & IFF_UP))
            continue;
        int family = ifa->ifa_addr->sa_family;
        if (family == AF_INET || family == AF_INET6 || family == AF_PACKET)
            add_interface_address(network, ifa);
    }
    freeifaddrs(list);
    return network;
}

static json_t *system_object(const struct utsname *uts)
{
    json_t *system = json_object();
    json_object_set_new(system, "hostName", json_string(uts->nodename));
    json_object_set_new(system, "kernel", json_string(uts->release));
    char value[256];
    json_object_set_new(system, "name",
                        json_string(read_os_release("NAME", value, sizeof value) ? value
                                                                                  : uts->sysname));
    if (read_os_release("VERSION_ID", value, sizeof value))
        json_object_set_new(system, "os", json_string(value));
    return system;
}

json_t *sysinfo_platform(const char *storage_path)
{
    struct utsname uts;
    if (uname(&uts) != 0)
        memset(&uts, 0, sizeof uts);
    json_t *platform = json_object();
    json_object_set_new(platform, "cpu", cpu_object(&uts));
    json_object_set_new(platform, "memory", memory_object());
    json_object_set_new(platform, "storage", storage_object(storage_path ? storage_path : "/"));
    json_object_set_new(platform, "network", network_object());
    json_object_set_new(platform, "system", system_object(&uts));
    return platform;
}

/* ------------------------------------------------------------------ health */

typedef struct cpu_times {
    uint64_t busy;
    uint64_t total;
} cpu_times;

struct sysinfo_sampler {
    pthread_mutex_t lock;       /* health checks may come from several HTTP threads */
    bool has_cpu;
    cpu_times cpu;
    double last_cpu;            /* the figure of the last interval long enough to measure */
    json_t *traffic;            /* {<if>: [down, up]} at the previous call */
};

/* Minimum interval for a CPU figure to mean something: /proc/stat counts in ticks
 * of 10 ms, so a shorter interval is mostly rounding. */
#define CPU_SAMPLE_MIN_TICKS 5

static bool read_cpu_times(cpu_times *out)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return false;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 4)
        return false;
    uint64_t idle = v[3] + v[4];    /* idle + iowait: waiting is not using the CPU */
    out->total = 0;
    for (int i = 0; i < 8; i++)
        out->total += v[i];
    out->busy = out->total - idle;
    return true;
}

static double fraction(double part, double whole)
{
    if (whole <= 0)
        return 0;
    double f = part / whole;
    return f < 0 ? 0 : f > 1 ? 1 : f;
}

/* CPU use since the previous call. A health check must answer quickly (the
 * orchestrator takes its time as the device's round trip), so it never waits for an
 * interval: the sampler takes its first reading when it is made, and a call that
 * comes too soon after the previous one repeats that one's figure. */
static bool cpu_usage(sysinfo_sampler *s, double *out)
{
    cpu_times now;
    if (!read_cpu_times(&now))
        return false;
    if (!s->has_cpu) {
        s->cpu = now;
        s->has_cpu = true;
        *out = 0;
        return true;
    }
    if (now.total - s->cpu.total < CPU_SAMPLE_MIN_TICKS) {
        *out = s->last_cpu;
        return true;
    }
    s->last_cpu = fraction((double)(now.busy - s->cpu.busy), (double)(now.total - s->cpu.total));
    s->cpu = now;
    *out = s->last_cpu;
    return true;
}

static bool memory_usage(double *out)
{
    uint64_t total, available;
    if (!read_meminfo_bytes("MemTotal", &total) || !read_meminfo_bytes("MemAvailable", &available))
        return false;
    *out = fraction((double)(total - (available < total ? available : total)), (double)total);
    return true;
}

/* Used over usable, as df computes it: blocks reserved for root count as neither. */
static bool storage_usage(const char *path, double *out)
{
    struct statvfs fs;
    if (statvfs(path, &fs) != 0 || fs.f_blocks == 0)
        return false;
    double used = (double)(fs.f_blocks - fs.f_bfree);
    *out = fraction(used, used + (double)fs.f_bavail);
    return true;
}

static bool uptime_seconds(double *out)
{
    FILE *f = fopen("/proc/uptime", "r");
    if (!f)
        return false;
    bool ok = fscanf(f, "%lf", out) == 1;
    fclose(f);
    return ok;
}

/* Bytes received and sent per interface since the previous call (since boot on the
 * first one), from the cumulative counters of /proc/net/dev. */
static json_t *network_usage(sysinfo_sampler *s)
{
    json_t *usage = json_object();
    json_t *now = json_object();
    FILE *f = fopen("/proc/net/dev", "r");
    if (!f)
        return usage;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;   /* the two header lines */
        *colon = '\0';
        char *name = line + strspn(line, " ");
        unsigned long long down, up, skip;
        if (sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu", &down, &skip,
                   &skip, &skip, &skip, &skip, &skip, &skip, &up) != 9)
            continue;
        json_object_set_new(now, name, json_pack("[II]", (json_int_t)down, (json_int_t)up));
        json_int_t down_before = 0, up_before = 0;
        json_t *before = s->traffic ? json_object_get(s->traffic, name) : NULL;
        if (before) {
            down_before = json_integer_value(json_array_get(before, 0));
            up_before = json_integer_value(json_array_get(before, 1));
        }
        /* Counters restart when an interface is re-created: count from zero then. */
        json_int_t d = (json_int_t)down >= down_before ? (json_int_t)down - down_before : (json_int_t)down;
        json_int_t u = (json_int_t)up >= up_before ? (json_int_t)up - up_before : (json_int_t)up;
        json_object_set_new(usage, name, json_pack("{sIsI}", "downBytes", d, "upBytes", u));
    }
    fclose(f);
    json_decref(s->traffic);
    s->traffic = now;
    return usage;
}

sysinfo_sampler *sysinfo_sampler_new(void)
{
    sysinfo_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    s->has_cpu = read_cpu_times(&s->cpu);   /* the first check has an interval to measure */
    return s;
}

void sysinfo_sampler_free(sysinfo_sampler *s)
{
    if (!s)
        return;
    json_decref(s->traffic);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

json_t *sysinfo_health(sysinfo_sampler *s, const char *storage_path)
{
    if (!s)
        return NULL;
    const char *path = storage_path ? storage_path : "/";
    json_t *health = json_object();
    double value;
    pthread_mutex_lock(&s->lock);
    if (cpu_usage(s, &value))
        json_object_set_new(health, "cpuUsage", json_real(value));
    json_object_set_new(health, "networkUsage", network_usage(s));
    pthread_mutex_unlock(&s->lock);
    if (memory_usage(&value))
        json_object_set_new(health, "memoryUsage", json_real(value));
    json_t *storage = json_object();
    if (storage_usage(path, &value))
        json_object_set_new(storage, "disk", json_real(value));
    json_object_set_new(health, "storageUsage", storage);
    if (uptime_seconds(&value))
        json_object_set_new(health, "uptime", json_integer((json_int_t)value));
    return health;
}
