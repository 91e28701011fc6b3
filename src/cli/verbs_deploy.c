/*
 * verbs_deploy.c — `liquid deploy create|list|show|apply|rm`: deployments made from
 * manifests (POST /file/manifest solves a manifest into a placement; POST
 * /file/manifest/{id} sends each device its part). `show` prints where each step was
 * placed and why, as the orchestrator recorded it.
 */
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/verbs.h"

#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "liquid deploy create MANIFEST.json [--name NAME] [--apply]\n"
    "       liquid deploy list|show ID|apply ID|rm ID   [--json] [--orchestrator URL]";

static void print_help(void)
{
    printf("usage: %s\n\n"
           "Deployments: a manifest's chain of functions placed on devices. ID is a\n"
           "deployment's id or name.\n\n"
           "  create MANIFEST    solve a manifest into a placement (nothing is sent to devices\n"
           "                     yet); --name replaces the manifest's name, --apply deploys it\n"
           "  list               every deployment, its steps and where they run\n"
           "  show ID            the placement: each step's device and the reasons for it\n"
           "  apply ID           send each device its part (all or nothing)\n"
           "  rm ID              delete the deployment from the orchestrator and its devices\n\n"
           "A manifest (examples/manifests/ has some):\n"
           "  {\"name\": \"fibo\", \"sequence\": [{\"device\": null, \"module\": \"fibo\", "
           "\"func\": \"fibo\"}]}\n"
           "device null lets the orchestrator choose; a device id or name pins the step.\n\n"
           "  --json                 print the orchestrator's JSON\n"
           "  --orchestrator URL     the orchestrator (default: $LIQUID_ORCHESTRATOR_URL, "
           "else %s)\n",
           USAGE, CLIENT_DEFAULT_URL);
}

/* ---- names for ids: devices and modules by id, for people */

typedef struct name_book {
    json_t *devices;    /* id -> name */
    json_t *modules;
} name_book;

/* Best effort: a table with ids is still right, so failures here are not errors. */
static void name_book_load(const client *c, name_book *book)
{
    book->devices = verbs_device_names(c);
    book->modules = json_object();
    char url[1024];
    http_result answer;
    snprintf(url, sizeof url, "%s/file/module", c->base_url);
    if (http_get(url, c->timeout_ms, &answer) && answer.status == 200) {
        json_t *docs = http_result_json(&answer);
        size_t i;
        json_t *doc;
        json_array_foreach(docs, i, doc) {
            const char *id = client_doc_id(doc), *name = client_dig_string(doc, "name");
            if (id && name)
                json_object_set_new(book->modules, id, json_string(name));
        }
        json_decref(docs);
    }
    http_result_free(&answer);
}

static void name_book_free(name_book *book)
{
    json_decref(book->devices);
    json_decref(book->modules);
}

/* A step's field as a name: ids are translated, anything else kept. */
static const char *named(const json_t *names, const json_t *value)
{
    if (json_is_object(value))
        value = json_object_get(value, "name") ? json_object_get(value, "name")
                                                 : json_object_get(value, "_id");
    const char *text = json_string_value(value);
    if (!text)
        return NULL;
    const char *name = json_string_value(json_object_get(names, text));
    return name ? name : text;
}

/* The placed sequence: Liquid's solved `sequence` has a device for every step. */
static json_t *placed_steps(const json_t *deployment)
{
    json_t *steps = json_object_get(deployment, "sequence");
    if (!json_is_array(steps))
        steps = client_dig(deployment, "manifest.sequence");
    return steps;
}

static char *steps_summary(const json_t *deployment, const name_book *book)
{
    char out[1024] = "";
    size_t used = 0, i;
    json_t *step;
    json_array_foreach(placed_steps(deployment), i, step) {
        const char *device = named(book->devices, json_object_get(step, "device"));
        used += (size_t)snprintf(out + used, used < sizeof out ? sizeof out - used : 0, "%s%s.%s@%s",
                                 i ? " -> " : "",
                                 named(book->modules, json_object_get(step, "module")) ?: "?",
                                 client_dig_string(step, "func") ?: "?", device ? device : "?");
    }
    return strdup(out);
}

static const char *yes_no(const json_t *value)
{
    return json_is_true(value) ? "yes" : "no";
}

static int deploy_list(const client *c)
{
    json_t *deployments = client_call_json(c, "GET", "/file/manifest", NULL);
    if (!deployments)
        return CLIENT_EXIT_FAILED;
    if (c->json) {
        client_print_json(deployments);
        json_decref(deployments);
        return CLIENT_EXIT_OK;
    }
    if (json_array_size(deployments) == 0) {
        printf("no deployments yet: create one with `liquid deploy create MANIFEST.json`\n");
        json_decref(deployments);
        return CLIENT_EXIT_OK;
    }
    name_book book;
    name_book_load(c, &book);
    client_table *t = client_table_new(5, "NAME", "ACTIVE", "FAILOVER", "STEPS", "ID");
    size_t i;
    json_t *d;
    json_array_foreach(deployments, i, d) {
        char *steps = steps_summary(d, &book);
        client_table_row(t, client_dig_string(d, "name"), yes_no(json_object_get(d, "active")),
                         yes_no(json_object_get(d, "isInFailover")), steps, client_doc_id(d));
        free(steps);
    }
    client_table_print(t, stdout);
    name_book_free(&book);
    json_decref(deployments);
    return CLIENT_EXIT_OK;
}

static json_t *fetch_deployment(const client *c, const char *id)
{
    char *path = client_path("/file/manifest/%s", id);
    json_t *doc = client_call_json(c, "GET", path, NULL);
    free(path);
    if (json_is_array(doc)) {   /* tolerate an array of one, as the module route gives */
        json_t *first = json_incref(json_array_get(doc, 0));
        json_decref(doc);
        return first;
    }
    return doc;
}

/* One judgement of another device: "name: rejected: it does not offer ...". */
static void print_other(const json_t *other, const name_book *book)
{
    if (json_is_string(other)) {
        printf("      %s\n", json_string_value(other));
        return;
    }
    const char *device = client_dig_string(other, "deviceName");
    if (!device)
        device = named(book->devices, json_object_get(other, "device"));
    const char *why = client_dig_string(other, "reason");
    char *rest = why ? NULL : client_value_text(other);
    printf("      %s: %s\n", device ? device : "?", why ? why : rest);
    free(rest);
}

/* The placement of each step and the reasons the orchestrator recorded for it:
 * [{"step", "module", "function", "device", "deviceName", "reason", "others": [...],
 *   "othersOmitted"}]. */
static void print_placement(const json_t *deployment, const name_book *book)
{
    json_t *steps = placed_steps(deployment);
    printf("\nsteps:\n");
    client_table *t = client_table_new(4, "  #", "FUNCTION", "DEVICE", "ADDRESS");
    size_t i;
    json_t *step;
    json_array_foreach(steps, i, step) {
        char index[32], function[256];
        snprintf(index, sizeof index, "  %zu", i);
        const char *module_name = named(book->modules, json_object_get(step, "module"));
        const char *func = client_dig_string(step, "func");
        snprintf(function, sizeof function, "%s.%s", module_name ?: "?", func ?: "?");
        const char *device_id = json_string_value(json_object_get(step, "device"));
        json_t *node = device_id ? json_object_get(json_object_get(deployment, "fullManifest"),
                                                   device_id) : NULL;
        json_t *endpoint = json_object_get(
            json_object_get(json_object_get(node, "endpoints"), module_name ?: ""), func ?: "");
        client_table_row(t, index, function, named(book->devices, json_object_get(step, "device")),
                         client_dig_string(endpoint, "url"));
    }
    client_table_print(t, stdout);

    /* {"steps": [...], "totalCost", "exact", ...}, or the steps alone */
    json_t *placement = json_object_get(deployment, "placement");
    json_t *reasons = json_is_array(placement) ? placement : json_object_get(placement, "steps");
    if (!json_is_array(reasons))
        return;
    printf("\nwhy:\n");
    json_t *total = json_object_get(placement, "totalCost");
    if (json_is_number(total))
        printf("  the chain costs %.1f in all%s\n", json_number_value(total),
               json_is_false(json_object_get(placement, "exact"))
                   ? " (the search skipped some candidates: a cheaper chain may exist)" : "");
    json_t *r;
    json_array_foreach(reasons, i, r) {
        if (json_is_string(r)) {
            printf("  step %zu: %s\n", i, json_string_value(r));
            continue;
        }
        const char *chosen = client_dig_string(r, "deviceName");
        if (!chosen)
            chosen = named(book->devices, json_object_get(r, "device"));
        printf("  step %zu, %s.%s on %s\n", i, client_dig_string(r, "module") ?: "?",
               client_dig_string(r, "function") ?: "?", chosen ? chosen : "-");
        const char *why = client_dig_string(r, "reason");
        if (why)
            printf("    %s\n", why);
        json_t *others = json_object_get(r, "others");
        size_t k;
        json_t *other;
        if (json_array_size(others))
            printf("    other devices:\n");
        json_array_foreach(others, k, other)
            print_other(other, book);
        json_t *omitted = json_object_get(r, "othersOmitted");
        if (json_is_integer(omitted) && json_integer_value(omitted) > 0)
            printf("      (and %lld more)\n", (long long)json_integer_value(omitted));
    }
}

static int deploy_show(const client *c, const char *id)
{
    json_t *deployment = fetch_deployment(c, id);
    if (!deployment)
        return CLIENT_EXIT_FAILED;
    if (c->json) {
        client_print_json(deployment);
        json_decref(deployment);
        return CLIENT_EXIT_OK;
    }
    name_book book;
    name_book_load(c, &book);
    printf("%-10s %s\n%-10s %s\n%-10s %s\n%-10s %s\n", "name", client_dig_string(deployment, "name"),
           "id", client_doc_id(deployment), "active", yes_no(json_object_get(deployment, "active")),
           "failover", yes_no(json_object_get(deployment, "isInFailover")));
    json_t *epoch = json_object_get(deployment, "epoch");
    if (json_is_integer(epoch))
        printf("%-10s %lld\n", "epoch", (long long)json_integer_value(epoch));
    const char *validation = client_dig_string(deployment, "validationError");
    if (validation)
        printf("%-10s %s\n", "warning", validation);
    print_placement(deployment, &book);
    name_book_free(&book);
    json_decref(deployment);
    return CLIENT_EXIT_OK;
}

/* POST /file/manifest/{id}: each device's answer in a table. */
static int deploy_apply(const client *c, const char *id)
{
    char *path = client_path("/file/manifest/%s", id);
    json_t *answer = client_call_json(c, "POST", path, NULL);
    free(path);
    if (!answer)
        return CLIENT_EXIT_FAILED;
    if (c->json) {
        client_print_json(answer);
        json_decref(answer);
        return CLIENT_EXIT_OK;
    }
    name_book book;
    name_book_load(c, &book);
    client_table *t = client_table_new(3, "DEVICE", "STATUS", "ANSWER");
    const char *device;
    json_t *response;
    json_object_foreach(json_object_get(answer, "deviceResponses"), device, response) {
        char status[16];
        json_t *code = json_object_get(response, "status");
        snprintf(status, sizeof status, "%lld", (long long)(json_is_integer(code) ? json_integer_value(code) : 0));
        json_t *data = json_object_get(response, "data");
        char *text = client_value_text(data);
        const char *name = json_string_value(json_object_get(book.devices, device));
        client_table_row(t, name ? name : device, status, text);
        free(text);
    }
    client_table_print(t, stdout);
    printf("deployment %s deployed\n", id);
    name_book_free(&book);
    json_decref(answer);
    return CLIENT_EXIT_OK;
}

static int deploy_remove(const client *c, const char *id)
{
    char *path = client_path("/file/manifest/%s", id);
    http_result answer;
    bool ok = client_call(c, "DELETE", path, NULL, &answer);
    free(path);
    if (!ok)
        return CLIENT_EXIT_FAILED;
    json_t *doc = http_result_json(&answer);
    if (c->json)
        client_print_json(doc ? doc : json_object());
    else
        printf("deployment %s removed\n", id);
    json_decref(doc);
    http_result_free(&answer);
    return CLIENT_EXIT_OK;
}

/* The 201 answer is the id as a JSON string in quotes (the reference's quirk); a
 * plain id or {"id"} is accepted too. */
static char *created_id(const http_result *answer)
{
    json_t *doc = json_loads(answer->body ? answer->body : "", JSON_DECODE_ANY, NULL);
    char *id = NULL;
    if (json_is_string(doc))
        id = strdup(json_string_value(doc));
    else if (json_is_object(doc) && client_doc_id(doc))
        id = strdup(client_doc_id(doc));
    else if (answer->body && answer->size > 0 && answer->size < 128)
        id = strndup(answer->body, strcspn(answer->body, " \r\n\""));
    json_decref(doc);
    return id;
}

static int deploy_create(const client *c, int argc, char **argv)
{
    const char *file = NULL, *name = NULL;
    bool apply = false;
    for (int i = 2; i < argc;) {
        const char *value;
        if ((value = client_option_value(argc, argv, &i, "--name"))) {
            name = value;
        } else if (!strcmp(argv[i], "--apply")) {
            apply = true;
            i++;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return client_usage_error(USAGE, "deploy create: unknown option '%s'", argv[i]);
        } else if (!file) {
            file = argv[i++];
        } else {
            return client_usage_error(USAGE, "deploy create: unexpected argument '%s'", argv[i]);
        }
    }
    if (!file)
        return client_usage_error(USAGE, "deploy create: needs a manifest file");
    json_t *manifest = verbs_read_json_file(file, "manifest");
    if (!manifest)
        return CLIENT_EXIT_FAILED;
    if (!json_is_object(manifest)) {
        json_decref(manifest);
        return client_fail("the manifest '%s' must be a JSON object: {\"name\": ..., \"sequence\": "
                           "[{\"device\": null, \"module\": ..., \"func\": ...}]}", file);
    }
    if (name)
        json_object_set_new(manifest, "name", json_string(name));
    http_result answer;
    bool ok = client_call(c, "POST", "/file/manifest", manifest, &answer);
    json_decref(manifest);
    if (!ok)
        return CLIENT_EXIT_FAILED;
    char *id = created_id(&answer);
    http_result_free(&answer);
    if (!id)
        return client_fail("the orchestrator created the deployment but did not say its id");
    int status = CLIENT_EXIT_OK;
    if (!c->json)
        printf("deployment created: id %s\n", id);
    if (apply)
        status = deploy_apply(c, id);
    if (status == CLIENT_EXIT_OK)
        status = deploy_show(c, id);
    free(id);
    return status;
}

int command_deploy(int argc, char **argv)
{
    client c;
    if (!client_options_parse(&c, &argc, argv))
        return CLIENT_EXIT_USAGE;
    if (c.help) {
        print_help();
        return CLIENT_EXIT_OK;
    }
    if (argc < 2)
        return client_usage_error(USAGE, "deploy: say what to do (create, list, show, apply, rm)");
    const char *verb = argv[1];
    if (!strcmp(verb, "create"))
        return deploy_create(&c, argc, argv);
    if (!strcmp(verb, "list") || !strcmp(verb, "ls")) {
        if (argc > 2)
            return client_usage_error(USAGE, "deploy list: unexpected argument '%s'", argv[2]);
        return deploy_list(&c);
    }
    if (!strcmp(verb, "show") || !strcmp(verb, "apply") || !strcmp(verb, "rm")) {
        if (argc != 3)
            return client_usage_error(USAGE, "deploy %s: needs exactly one deployment id or name",
                                      verb);
        if (!strcmp(verb, "show"))
            return deploy_show(&c, argv[2]);
        return !strcmp(verb, "apply") ? deploy_apply(&c, argv[2]) : deploy_remove(&c, argv[2]);
    }
    return client_usage_error(USAGE, "deploy: unknown action '%s'", verb);
}
