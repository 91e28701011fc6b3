/*
 * verbs_migrate.c — `liquid migrate DEPLOYMENT STEP|MODULE [--to DEVICE]`: moves one
 * step of a deployment to another device with its state (POST
 * /file/manifest/{id}/migrate, docs/migration.md), and `liquid migrate --list
 * DEPLOYMENT`: the migrations a deployment has been through, newest last.
 *
 * STEP is the step's index in the sequence (from 0) or its module's name; without
 * --to the orchestrator's solver picks the device.
 */
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/verbs.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "liquid migrate DEPLOYMENT STEP|MODULE [--to DEVICE] [--json] [--orchestrator URL]\n"
    "       liquid migrate --list DEPLOYMENT [--json] [--orchestrator URL]";

#define MIGRATE_TIMEOUT_MS 600000L

static void print_help(void)
{
    printf("usage: %s\n\n"
           "Moves one step of a deployed chain to another device with its state: the\n"
           "source device stops taking calls to it, sends its memory, files and a\n"
           "call in progress straight to the target, and the chain is pointed there.\n"
           "STEP is the step's index in the sequence (from 0), MODULE its module's name.\n\n"
           "  --to DEVICE           the device to move it to (id or name); without it the\n"
           "                        orchestrator picks one as it does when deploying\n"
           "  --list                the deployment's migrations, oldest first\n"
           "  --json                print the orchestrator's JSON answer\n"
           "  --orchestrator URL    the orchestrator (default: $LIQUID_ORCHESTRATOR_URL, "
           "else %s)\n\n"
           "e.g. liquid migrate counter-demo counter --to edge-2    "
           "liquid migrate --list counter-demo\n",
           USAGE, CLIENT_DEFAULT_URL);
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

static const char *cell(const json_t *doc, const char *key, char *buf, size_t size)
{
    const json_t *v = json_object_get(doc, key);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    }
    if (json_is_real(v)) {
        client_format_ms(json_real_value(v), buf, size);
        return buf;
    }
    return NULL;
}

static void print_records(const json_t *records)
{
    client_table *t = client_table_new(9, "ID", "STEP", "MODULE", "FROM", "TO", "TRIGGER",
                                       "STATUS", "UNAVAILABLE", "STARTED");
    size_t i;
    json_t *r;
    json_array_foreach(records, i, r) {
        char step[24], unavailable[32] = "-";
        const json_t *u = json_object_get(r, "unavailableMs");
        if (json_is_number(u))
            client_format_ms(json_number_value(u), unavailable, sizeof unavailable);
        const char *status = json_string_value(json_object_get(r, "status"));
        client_table_row(t, json_string_value(json_object_get(r, "id")),
                         cell(r, "step", step, sizeof step),
                         json_string_value(json_object_get(r, "module")),
                         json_string_value(json_object_get(r, "fromName")),
                         json_string_value(json_object_get(r, "toName")),
                         json_string_value(json_object_get(r, "trigger")), status, unavailable,
                         json_string_value(json_object_get(r, "startedAt")));
    }
    client_table_print(t, stdout);
}

static int list(const client *c, const char *deployment)
{
    char *path = client_path("/file/manifest/%s", deployment);
    json_t *doc = client_call_json(c, "GET", path, NULL);
    free(path);
    if (!doc)
        return CLIENT_EXIT_FAILED;
    const json_t *records = json_object_get(doc, "migrations");
    if (c->json) {
        client_print_json(json_is_array(records) ? records : json_array());
    } else if (!json_array_size(records)) {
        printf("deployment '%s' has not been migrated\n",
               json_string_value(json_object_get(doc, "name")));
    } else {
        print_records(records);
    }
    json_decref(doc);
    return CLIENT_EXIT_OK;
}

static int migrate(const client *c, const char *deployment, const char *step, const char *to)
{
    json_t *body = all_digits(step) ? json_pack("{s:I}", "step", (json_int_t)atoll(step))
                                    : json_pack("{s:s}", "module", step);
    if (to)
        json_object_set_new(body, "device", json_string(to));
    char *path = client_path("/file/manifest/%s/migrate", deployment);
    client long_call = *c;
    long_call.timeout_ms = MIGRATE_TIMEOUT_MS;     /* a large memory takes its time */
    json_t *record = client_call_json(&long_call, "POST", path, body);
    free(path);
    json_decref(body);
    if (!record)
        return CLIENT_EXIT_FAILED;
    if (c->json) {
        client_print_json(record);
    } else {
        char took[32] = "-", unavailable[32] = "-";
        const json_t *d = json_object_get(record, "durationMs");
        const json_t *u = json_object_get(record, "unavailableMs");
        if (json_is_number(d))
            client_format_ms(json_number_value(d), took, sizeof took);
        if (json_is_number(u))
            client_format_ms(json_number_value(u), unavailable, sizeof unavailable);
        printf("moved step %" JSON_INTEGER_FORMAT " (%s) from %s to %s in %s "
               "(unavailable %s, %" JSON_INTEGER_FORMAT " bytes)\n",
               json_integer_value(json_object_get(record, "step")),
               json_string_value(json_object_get(record, "module")),
               json_string_value(json_object_get(record, "fromName")),
               json_string_value(json_object_get(record, "toName")), took, unavailable,
               json_integer_value(json_object_get(record, "bytes")));
        const json_t *resumed = json_object_get(record, "resumedCall");
        if (json_is_string(resumed))
            printf("call %s carried over and resumed there\n", json_string_value(resumed));
    }
    json_decref(record);
    return CLIENT_EXIT_OK;
}

int command_migrate(int argc, char **argv)
{
    client c;
    if (!client_options_parse(&c, &argc, argv))
        return CLIENT_EXIT_USAGE;
    if (c.help) {
        print_help();
        return CLIENT_EXIT_OK;
    }
    const char *positional[3] = {0};
    size_t count = 0;
    const char *to = NULL;
    bool listing = false;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if ((v = client_option_value(argc, argv, &i, "--to"))) {
            to = v;
        } else if (!strcmp(argv[i], "--list")) {
            listing = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return client_usage_error(USAGE, "unknown option '%s'", argv[i]);
        } else if (count == 2 || (listing && count == 1)) {
            return client_usage_error(USAGE, "unexpected argument '%s'", argv[i]);
        } else {
            positional[count++] = argv[i];
        }
    }
    if (listing) {
        if (count != 1 || to)
            return client_usage_error(USAGE, "--list takes one DEPLOYMENT%s",
                                      to ? " and no --to" : "");
        return list(&c, positional[0]);
    }
    if (count != 2)
        return client_usage_error(USAGE, "name the DEPLOYMENT and the STEP (index from 0) or "
                                  "MODULE to move");
    return migrate(&c, positional[0], positional[1], to);
}
