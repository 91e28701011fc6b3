/*
 * verbs_device.c — `liquid device list|show|blacklist|unblacklist|rm`: the devices an
 * orchestrator knows (the reference's /file/device routes plus Liquid's per-device
 * ones), with their state and health.
 */
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/verbs.h"

#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "liquid device list|show ID|blacklist ID|unblacklist ID|rm ID [--json] "
    "[--orchestrator URL]";

static void print_help(void)
{
    printf("usage: %s\n\n"
           "The devices (supervisors) the orchestrator knows, found by mDNS or registered.\n"
           "ID is a device's id or its name.\n\n"
           "  list             every device with its state, CPU, memory and round-trip time\n"
           "  show ID          one device: addresses, health, capabilities, status log\n"
           "  blacklist ID     keep placement away from the device (its steps move away)\n"
           "  unblacklist ID   let placement use it again\n"
           "  rm ID            forget the device (it is found again if it registers)\n\n"
           "  --json                 print the orchestrator's JSON instead of a table\n"
           "  --orchestrator URL     the orchestrator (default: $LIQUID_ORCHESTRATOR_URL, "
           "else %s)\n",
           USAGE, CLIENT_DEFAULT_URL);
}

/* Liquid's state (active/suspect/lost), else the reference's status; "blacklisted" wins. */
const char *verbs_device_state(const json_t *device)
{
    if (json_is_true(json_object_get(device, "blacklisted")))
        return "blacklisted";
    const char *state = client_dig_string(device, "state");
    return state ? state : (client_dig_string(device, "status") ? client_dig_string(device, "status")
                                                                  : "-");
}

const char *verbs_device_address(const json_t *device, char *out, size_t size)
{
    const char *host = json_string_value(json_array_get(client_dig(device, "communication.addresses"), 0));
    json_t *port = client_dig(device, "communication.port");
    if (!host)
        snprintf(out, size, "-");
    else if (json_is_integer(port))
        snprintf(out, size, "%s:%lld", host, (long long)json_integer_value(port));
    else
        snprintf(out, size, "%s", host);
    return out;
}

static double number_or(const json_t *value, double fallback)
{
    return json_is_number(value) ? json_number_value(value) : fallback;
}

static double device_rtt(const json_t *device)
{
    json_t *rtt = json_object_get(device, "rttMs");
    return number_or(rtt ? rtt : json_object_get(device, "rtt_ms"), -1);
}

json_t *verbs_device_find(const client *c, const char *id_or_name)
{
    json_t *devices = client_call_json(c, "GET", "/file/device", NULL);
    if (!devices)
        return NULL;
    json_t *found = NULL;
    size_t i;
    json_t *device;
    json_array_foreach(devices, i, device) {
        const char *id = client_doc_id(device), *name = client_dig_string(device, "name");
        if ((id && !strcmp(id, id_or_name)) || (name && !strcmp(name, id_or_name))) {
            found = json_incref(device);
            break;
        }
    }
    if (!found)
        fprintf(stderr, "liquid: no device '%s' is known to the orchestrator at %s "
                        "(`liquid device list` shows them)\n", id_or_name, c->base_url);
    json_decref(devices);
    return found;
}

json_t *verbs_device_names(const client *c)
{
    json_t *names = json_object();
    char url[1024];
    snprintf(url, sizeof url, "%s/file/device", c->base_url);
    http_result answer;
    if (http_get(url, c->timeout_ms, &answer) && answer.status == 200) {
        json_t *devices = http_result_json(&answer);
        size_t i;
        json_t *device;
        json_array_foreach(devices, i, device) {
            const char *id = client_doc_id(device), *name = client_dig_string(device, "name");
            if (id && name)
                json_object_set_new(names, id, json_string(name));
        }
        json_decref(devices);
    }
    http_result_free(&answer);
    return names;
}

static int device_list(const client *c)
{
    json_t *devices = client_call_json(c, "GET", "/file/device", NULL);
    if (!devices)
        return CLIENT_EXIT_FAILED;
    if (c->json) {
        client_print_json(devices);
        json_decref(devices);
        return CLIENT_EXIT_OK;
    }
    if (json_array_size(devices) == 0) {
        printf("no devices yet: start a supervisor with --orchestrator-url %s, or let the "
               "orchestrator find one by mDNS\n", c->base_url);
        json_decref(devices);
        return CLIENT_EXIT_OK;
    }
    client_table *t = client_table_new(7, "NAME", "STATE", "CPU", "MEMORY", "RTT", "ADDRESS", "ID");
    size_t i;
    json_t *device;
    json_array_foreach(devices, i, device) {
        char cpu[16], memory[16], rtt[32], address[160];
        json_t *report = client_dig(device, "health.report");
        client_format_percent(json_object_get(report, "cpuUsage"), cpu, sizeof cpu);
        client_format_percent(json_object_get(report, "memoryUsage"), memory, sizeof memory);
        client_format_ms(device_rtt(device), rtt, sizeof rtt);
        client_table_row(t, client_dig_string(device, "name"), verbs_device_state(device), cpu,
                         memory, rtt, verbs_device_address(device, address, sizeof address),
                         client_doc_id(device));
    }
    client_table_print(t, stdout);
    json_decref(devices);
    return CLIENT_EXIT_OK;
}

static void print_field(const char *name, const char *value)
{
    printf("%-14s %s\n", name, value && *value ? value : "-");
}

static void print_status_log(const json_t *device)
{
    json_t *log = json_object_get(device, "statusLog");
    if (!log)
        log = json_object_get(device, "status_log");
    if (json_array_size(log) == 0)
        return;
    printf("\nstatus log (newest first):\n");
    client_table *t = client_table_new(3, "  TIME", "STATUS", "REASON");
    size_t i;
    json_t *entry;
    json_array_foreach(log, i, entry) {
        if (i >= 10)
            break;
        char time[80];
        snprintf(time, sizeof time, "  %s", client_dig_string(entry, "time") ? client_dig_string(entry, "time") : "-");
        client_table_row(t, time, client_dig_string(entry, "status"),
                         client_dig_string(entry, "reason"));
    }
    client_table_print(t, stdout);
}

static int device_show(const client *c, const char *id)
{
    json_t *device = verbs_device_find(c, id);
    if (!device)
        return CLIENT_EXIT_FAILED;
    if (c->json) {
        client_print_json(device);
        json_decref(device);
        return CLIENT_EXIT_OK;
    }
    char text[256];
    json_t *report = client_dig(device, "health.report");
    print_field("name", client_dig_string(device, "name"));
    print_field("id", client_doc_id(device));
    print_field("state", verbs_device_state(device));
    print_field("address", verbs_device_address(device, text, sizeof text));
    client_format_percent(json_object_get(report, "cpuUsage"), text, sizeof text);
    print_field("cpu", text);
    client_format_percent(json_object_get(report, "memoryUsage"), text, sizeof text);
    print_field("memory", text);
    client_format_ms(device_rtt(device), text, sizeof text);
    print_field("rtt", text);
    print_field("last health", client_dig_string(device, "health.timeOfQuery"));
    json_t *capabilities = client_dig(device, "description.capabilities");
    char *caps = json_object_size(capabilities) ? client_value_text(capabilities) : NULL;
    print_field("capabilities", caps);
    free(caps);
    json_t *interfaces = client_dig(device, "description.supervisorInterfaces");
    snprintf(text, sizeof text, "%zu host functions", json_array_size(interfaces));
    print_field("offers", text);
    const char *cpu_name = client_dig_string(device, "description.platform.cpu.humanReadableName");
    print_field("cpu model", cpu_name);
    print_status_log(device);
    json_decref(device);
    return CLIENT_EXIT_OK;
}

/* blacklist, unblacklist, rm: the reference routes take the id, so a name is looked up. */
static int device_change(const client *c, const char *verb, const char *id_or_name)
{
    json_t *device = verbs_device_find(c, id_or_name);
    if (!device)
        return CLIENT_EXIT_FAILED;
    const char *id = client_doc_id(device);
    char *name = strdup(client_dig_string(device, "name") ? client_dig_string(device, "name") : id);
    char *path = !strcmp(verb, "rm") ? client_path("/file/device/%s", id)
                                     : client_path("/file/device/%s/%s", id, verb);
    http_result answer;
    bool ok = client_call(c, !strcmp(verb, "rm") ? "DELETE" : "POST", path, NULL, &answer);
    if (ok) {
        json_t *doc = http_result_json(&answer);
        if (c->json)
            client_print_json(doc ? doc : json_object());
        else if (!strcmp(verb, "rm"))
            printf("device %s (%s) removed\n", name, id);
        else
            printf("device %s (%s) %sed\n", name, id, verb);
        json_decref(doc);
        http_result_free(&answer);
    }
    free(path);
    free(name);
    json_decref(device);
    return ok ? CLIENT_EXIT_OK : CLIENT_EXIT_FAILED;
}

int command_device(int argc, char **argv)
{
    client c;
    if (!client_options_parse(&c, &argc, argv))
        return CLIENT_EXIT_USAGE;
    if (c.help) {
        print_help();
        return CLIENT_EXIT_OK;
    }
    if (argc < 2)
        return client_usage_error(USAGE, "device: say what to do (list, show, blacklist, "
                                         "unblacklist, rm)");
    const char *verb = argv[1];
    if (!strcmp(verb, "list") || !strcmp(verb, "ls")) {
        if (argc > 2)
            return client_usage_error(USAGE, "device list: unexpected argument '%s'", argv[2]);
        return device_list(&c);
    }
    bool known = !strcmp(verb, "show") || !strcmp(verb, "blacklist") ||
                 !strcmp(verb, "unblacklist") || !strcmp(verb, "rm");
    if (!known)
        return client_usage_error(USAGE, "device: unknown action '%s'", verb);
    if (argc != 3)
        return client_usage_error(USAGE, "device %s: needs exactly one device id or name", verb);
    return !strcmp(verb, "show") ? device_show(&c, argv[2]) : device_change(&c, verb, argv[2]);
}
