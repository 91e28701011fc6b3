/*
 * verbs_module.c — `liquid module add|describe|list|show|rm`: WebAssembly modules in
 * the orchestrator's registry. `add` uploads the binary (POST /file/module) and, with
 * --description, describes its functions at once (POST /file/module/{id}/upload with
 * the reference's FD JSON as the `functions` field and each data file as a part named
 * after its mount); if the description is refused, the upload is taken back, so a
 * corrected command can simply be run again.
 */
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/verbs.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char USAGE[] =
    "liquid module add FILE.wasm [--name NAME] [--description FD.json] [--data MOUNT=FILE]...\n"
    "       liquid module describe ID FD.json [--data MOUNT=FILE]...\n"
    "       liquid module list|show ID|rm ID   [--json] [--orchestrator URL]";

#define MAX_DATA_FILES 64

static void print_help(void)
{
    printf("usage: %s\n\n"
           "WebAssembly modules in the orchestrator's registry. ID is a module's id or name.\n\n"
           "  add FILE.wasm      upload a module (its name: --name, else the file's name\n"
           "                     without .wasm); with --description, describe it too\n"
           "  describe ID FD     describe (or re-describe) the functions a module exposes\n"
           "  list               every module with its exports and described functions\n"
           "  show ID            exports, imports (requirements), functions, data files\n"
           "  rm ID              delete a module no deployment uses\n\n"
           "  --description FD.json  the function description (Wasm-IoT FD format), e.g.\n"
           "      {\"fibo\": {\"method\": \"GET\", \"parameters\": [{\"name\": \"param0\", "
           "\"type\": \"integer\"}],\n"
           "                \"output\": \"integer\", \"mounts\": []}}\n"
           "      examples/descriptions/ has one for each example module\n"
           "  --data MOUNT=FILE      a data file for a deployment-stage mount (repeatable)\n"
           "  --json                 print the orchestrator's JSON\n"
           "  --orchestrator URL     the orchestrator (default: $LIQUID_ORCHESTRATOR_URL, "
           "else %s)\n",
           USAGE, CLIENT_DEFAULT_URL);
}

json_t *verbs_read_json_file(const char *path, const char *what)
{
    json_error_t error;
    json_t *doc = json_load_file(path, 0, &error);
    if (!doc) {
        if (error.line < 1)
            fprintf(stderr, "liquid: cannot read the %s '%s': %s\n", what, path, error.text);
        else
            fprintf(stderr, "liquid: the %s '%s' is not valid JSON: line %d, column %d: %s\n",
                    what, path, error.line, error.column, error.text);
    }
    return doc;
}

bool verbs_split_pair(const char *arg, char *name, size_t name_size, const char **value)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1] || (size_t)(eq - arg) >= name_size)
        return false;
    memcpy(name, arg, (size_t)(eq - arg));
    name[eq - arg] = '\0';
    *value = eq + 1;
    return true;
}

static bool readable_file(const char *path, const char *what)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "liquid: cannot read the %s '%s': %s\n", what, path, strerror(errno));
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "liquid: the %s '%s' is not a regular file\n", what, path);
        return false;
    }
    return true;
}

/* ---- describing */

typedef struct data_file {
    char mount[256];
    const char *path;
    char *filename;
} data_file;

typedef struct describe_request {
    json_t *functions;          /* the FD document */
    data_file data[MAX_DATA_FILES];
    size_t data_count;
} describe_request;

static void describe_request_free(describe_request *d)
{
    json_decref(d->functions);
    for (size_t i = 0; i < d->data_count; i++)
        free(d->data[i].filename);
}

/* --data MOUNT=FILE, checked before anything is sent. */
static bool add_data_file(describe_request *d, const char *arg)
{
    if (d->data_count == MAX_DATA_FILES) {
        fprintf(stderr, "liquid: at most %d data files\n", MAX_DATA_FILES);
        return false;
    }
    data_file *f = &d->data[d->data_count];
    if (!verbs_split_pair(arg, f->mount, sizeof f->mount, &f->path)) {
        fprintf(stderr, "liquid: --data takes MOUNT=FILE (e.g. --data data=readings.csv), "
                        "got '%s'\n", arg);
        return false;
    }
    if (!readable_file(f->path, "data file"))
        return false;
    char *copy = strdup(f->path);
    f->filename = strdup(basename(copy));
    free(copy);
    d->data_count++;
    return true;
}

static bool load_description(describe_request *d, const char *path)
{
    d->functions = verbs_read_json_file(path, "description");
    if (!d->functions)
        return false;
    if (!json_is_object(d->functions) || json_object_size(d->functions) == 0) {
        fprintf(stderr, "liquid: the description '%s' must be a JSON object with one member per "
                        "function, e.g. {\"fibo\": {\"method\": \"GET\", \"parameters\": "
                        "[...], \"output\": \"integer\", \"mounts\": []}}\n", path);
        return false;
    }
    return true;
}

/* POST /file/module/{id}/upload; the answer (the generated OpenAPI) in *out. */
static bool send_description(const client *c, const char *module_id, const describe_request *d,
                             json_t **out)
{
    char *text = json_dumps(d->functions, JSON_COMPACT);
    http_part parts[MAX_DATA_FILES + 1];
    memset(parts, 0, sizeof parts);
    parts[0].field = "functions";
    parts[0].value = text;
    for (size_t i = 0; i < d->data_count; i++) {
        parts[i + 1].field = d->data[i].mount;
        parts[i + 1].path = d->data[i].path;
        parts[i + 1].filename = d->data[i].filename;
        parts[i + 1].content_type = "application/octet-stream";
    }
    char *path = client_path("/file/module/%s/upload", module_id);
    http_result answer;
    bool ok = client_call_multipart(c, path, parts, d->data_count + 1, &answer);
    if (ok) {
        *out = http_result_json(&answer);
        http_result_free(&answer);
    }
    free(path);
    free(text);
    return ok;
}

/* ---- showing */

/* "fibo/fibo" -> the function name of a described path "/{deployment}/modules/M/F". */
static const char *path_function(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static char *joined_exports(const json_t *module)
{
    char *out = strdup("");
    size_t i;
    json_t *export;
    json_array_foreach(json_object_get(module, "exports"), i, export) {
        const char *name = client_dig_string(export, "name");
        if (!name)
            continue;
        size_t len = strlen(out) + strlen(name) + 3;
        char *grown = realloc(out, len);
        if (!grown)
            break;
        out = grown;
        if (*out)
            strcat(out, ", ");
        strcat(out, name);
    }
    return out;
}

static char *joined_described(const json_t *module)
{
    char *out = strdup("");
    const char *path;
    json_t *ops;
    json_object_foreach(client_dig(module, "description.paths"), path, ops) {
        const char *name = path_function(path);
        size_t len = strlen(out) + strlen(name) + 3;
        char *grown = realloc(out, len);
        if (!grown)
            break;
        out = grown;
        if (*out)
            strcat(out, ", ");
        strcat(out, name);
    }
    return out;
}

static int module_list(const client *c)
{
    json_t *modules = client_call_json(c, "GET", "/file/module", NULL);
    if (!modules)
        return CLIENT_EXIT_FAILED;
    if (c->json) {
        client_print_json(modules);
        json_decref(modules);
        return CLIENT_EXIT_OK;
    }
    if (json_array_size(modules) == 0) {
        printf("no modules yet: add one with `liquid module add FILE.wasm --description FD.json`\n");
        json_decref(modules);
        return CLIENT_EXIT_OK;
    }
    client_table *t = client_table_new(5, "NAME", "EXPORTS", "DESCRIBED", "IMPORTS", "ID");
    size_t i;
    json_t *module;
    json_array_foreach(modules, i, module) {
        char *exports = joined_exports(module), *described = joined_described(module);
        char imports[32];
        snprintf(imports, sizeof imports, "%zu", json_array_size(json_object_get(module, "requirements")));
        client_table_row(t, client_dig_string(module, "name"), *exports ? exports : "-",
                         *described ? described : "-", imports, client_doc_id(module));
        free(exports);
        free(described);
    }
    client_table_print(t, stdout);
    json_decref(modules);
    return CLIENT_EXIT_OK;
}

/* GET /file/module/{id} answers an array even for one module (the reference). */
static json_t *fetch_module(const client *c, const char *id)
{
    char *path = client_path("/file/module/%s", id);
    json_t *doc = client_call_json(c, "GET", path, NULL);
    free(path);
    if (json_is_array(doc)) {
        json_t *first = json_incref(json_array_get(doc, 0));
        json_decref(doc);
        if (!first)
            fprintf(stderr, "liquid: no module '%s' (`liquid module list` shows them)\n", id);
        return first;
    }
    return doc;
}

static void print_signature_row(client_table *t, const json_t *export)
{
    json_t *params = json_object_get(export, "params"), *results = json_object_get(export, "results");
    char signature[512];
    if (json_is_array(params)) {
        size_t used = (size_t)snprintf(signature, sizeof signature, "(");
        size_t i;
        json_t *p;
        json_array_foreach(params, i, p)
            used += (size_t)snprintf(signature + used, used < sizeof signature ? sizeof signature - used : 0,
                                     "%s%s", i ? ", " : "", json_string_value(p) ? json_string_value(p) : "?");
        used += (size_t)snprintf(signature + used, used < sizeof signature ? sizeof signature - used : 0, ")");
        json_array_foreach(results, i, p)
            used += (size_t)snprintf(signature + used, used < sizeof signature ? sizeof signature - used : 0,
                                     "%s%s", i ? ", " : " -> ", json_string_value(p) ? json_string_value(p) : "?");
    } else {
        json_t *count = json_object_get(export, "parameterCount");
        snprintf(signature, sizeof signature, "%lld parameter(s)",
                 (long long)(json_is_integer(count) ? json_integer_value(count) : 0));
    }
    char name[256];
    snprintf(name, sizeof name, "  %s", client_dig_string(export, "name") ? client_dig_string(export, "name") : "?");
    client_table_row(t, name, signature);
}

static bool is_http_method(const char *key)
{
    static const char *const methods[] = {"get", "post", "put", "delete", "patch", "head"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (!strcmp(key, methods[i]))
            return true;
    return false;
}

/* One row per described function: method, parameters, output, mounts. */
static void print_functions(const json_t *module)
{
    json_t *paths = client_dig(module, "description.paths");
    if (json_object_size(paths) == 0) {
        printf("\nnot described yet: `liquid module describe %s FD.json`\n",
               client_dig_string(module, "name") ? client_dig_string(module, "name") : "ID");
        return;
    }
    printf("\nfunctions:\n");
    client_table *t = client_table_new(5, "  FUNCTION", "METHOD", "PARAMETERS", "OUTPUT", "MOUNTS");
    const char *path;
    json_t *operations;
    json_object_foreach(paths, path, operations) {
        const char *function = path_function(path), *method;
        json_t *op;
        json_object_foreach(operations, method, op) {
            if (!is_http_method(method))
                continue;   /* path-level members: parameters, summary, ... */
            char params[512] = "", output[128] = "-", mounts[512] = "", name[256];
            size_t i, used = 0;
            json_t *p;
            json_array_foreach(json_object_get(op, "parameters"), i, p)
                used += (size_t)snprintf(params + used, used < sizeof params ? sizeof params - used : 0,
                                         "%s%s:%s", used ? " " : "",
                                         client_dig_string(p, "name") ? client_dig_string(p, "name") : "?",
                                         client_dig_string(p, "schema.type") ? client_dig_string(p, "schema.type") : "?");
            const char *media;
            json_t *content;
            json_object_foreach(client_dig(op, "responses.200.content"), media, content) {
                const char *type = client_dig_string(content, "schema.type");
                snprintf(output, sizeof output, "%s",
                         !strcmp(media, "application/json") && type ? type : media);
                break;
            }
            const char *mount;
            json_t *m;
            used = 0;
            json_object_foreach(client_dig(json_object_get(module, "mounts"), function), mount, m)
                used += (size_t)snprintf(mounts + used, used < sizeof mounts ? sizeof mounts - used : 0,
                                         "%s%s(%s)", used ? " " : "", mount,
                                         client_dig_string(m, "stage") ? client_dig_string(m, "stage") : "?");
            char upper[16];
            snprintf(upper, sizeof upper, "%s", method);
            for (char *u = upper; *u; u++)
                *u = (char)(*u >= 'a' && *u <= 'z' ? *u - 32 : *u);
            snprintf(name, sizeof name, "  %s", function);
            client_table_row(t, name, upper, *params ? params : "-", output, *mounts ? mounts : "-");
        }
    }
    client_table_print(t, stdout);
}

static int module_show(const client *c, const char *id)
{
    json_t *module = fetch_module(c, id);
    if (!module)
        return CLIENT_EXIT_FAILED;
    if (c->json) {
        client_print_json(module);
        json_decref(module);
        return CLIENT_EXIT_OK;
    }
    const char *digest = client_dig_string(module, "sha256");
    if (!digest)
        digest = client_dig_string(module, "digest");
    if (!digest)
        digest = client_dig_string(module, "wasm.sha256");
    printf("%-10s %s\n%-10s %s\n%-10s %s\n", "name", client_dig_string(module, "name"), "id",
           client_doc_id(module), "sha256", digest ? digest : "-");
    const char *original = client_dig_string(module, "wasm.originalFilename");
    if (original)
        printf("%-10s %s\n", "file", original);

    printf("\nexports:\n");
    client_table *t = client_table_new(2, "  NAME", "SIGNATURE");
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(module, "exports"), i, item)
        print_signature_row(t, item);
    client_table_print(t, stdout);

    json_t *requirements = json_object_get(module, "requirements");
    printf("\nimports (a device must offer each):%s\n", json_array_size(requirements) ? "" : " none");
    json_array_foreach(requirements, i, item)
        printf("  %s.%s\n", client_dig_string(item, "module") ? client_dig_string(item, "module") : "?",
               client_dig_string(item, "name") ? client_dig_string(item, "name") : "?");

    print_functions(module);
    json_t *data_files = json_object_get(module, "dataFiles");
    if (json_object_size(data_files)) {
        printf("\ndata files:\n");
        const char *mount;
        json_t *file;
        json_object_foreach(data_files, mount, file) {
            const char *from = client_dig_string(file, "originalFilename");
            printf("  %s%s%s\n", mount, from ? " <- " : "", from ? from : "");
        }
    }
    json_decref(module);
    return CLIENT_EXIT_OK;
}

/* ---- adding, describing, removing */

static int module_describe_verb(const client *c, int argc, char **argv)
{
    describe_request d = {0};
    const char *id = NULL, *fd_path = NULL;
    int status = CLIENT_EXIT_USAGE;
    for (int i = 2; i < argc;) {
        const char *value;
        if ((value = client_option_value(argc, argv, &i, "--data"))) {
            if (!add_data_file(&d, value))
                goto done;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            status = client_usage_error(USAGE, "module describe: unknown option '%s'", argv[i]);
            goto done;
        } else if (!id) {
            id = argv[i++];
        } else if (!fd_path) {
            fd_path = argv[i++];
        } else {
            status = client_usage_error(USAGE, "module describe: unexpected argument '%s'", argv[i]);
            goto done;
        }
    }
    if (!id || !fd_path) {
        status = client_usage_error(USAGE, "module describe: needs a module id or name and a "
                                           "description file");
        goto done;
    }
    status = CLIENT_EXIT_FAILED;
    if (!load_description(&d, fd_path))
        goto done;
    json_t *openapi = NULL;
    if (send_description(c, id, &d, &openapi)) {
        if (c->json)
            client_print_json(openapi ? openapi : json_null());
        else
            printf("module %s described: %zu function(s)\n", id, json_object_size(d.functions));
        status = CLIENT_EXIT_OK;
    }
    json_decref(openapi);
done:
    describe_request_free(&d);
    return status;
}

static char *default_module_name(const char *file)
{
    char *copy = strdup(file);
    char *name = strdup(basename(copy));
    free(copy);
    size_t len = strlen(name);
    if (len > 5 && !strcmp(name + len - 5, ".wasm"))
        name[len - 5] = '\0';
    return name;
}

/* Takes back a module whose description was refused; says so either way. */
static void take_back(const client *c, const char *id)
{
    char *path = client_path("/file/module/%s", id);
    http_result answer;
    if (client_call(c, "DELETE", path, NULL, &answer)) {
        fprintf(stderr, "liquid: the module was not kept; fix the description and run the "
                        "same command again\n");
        http_result_free(&answer);
    } else {
        fprintf(stderr, "liquid: the module stays uploaded as %s, undescribed: describe it with "
                        "`liquid module describe %s FD.json`\n", id, id);
    }
    free(path);
}

static int module_add(const client *c, int argc, char **argv)
{
    describe_request d = {0};
    const char *file = NULL, *name_option = NULL, *fd_path = NULL;
    int status = CLIENT_EXIT_USAGE;
    char *name = NULL, *id = NULL, *filename = NULL;
    json_t *created = NULL, *openapi = NULL;
    for (int i = 2; i < argc;) {
        const char *value;
        if ((value = client_option_value(argc, argv, &i, "--name"))) {
            name_option = value;
        } else if ((value = client_option_value(argc, argv, &i, "--description"))) {
            fd_path = value;
        } else if ((value = client_option_value(argc, argv, &i, "--data"))) {
            if (!add_data_file(&d, value))
                goto done;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            status = client_usage_error(USAGE, "module add: unknown option '%s'", argv[i]);
            goto done;
        } else if (!file) {
            file = argv[i++];
        } else {
            status = client_usage_error(USAGE, "module add: unexpected argument '%s' (one .wasm "
                                               "file at a time)", argv[i]);
            goto done;
        }
    }
    if (!file) {
        status = client_usage_error(USAGE, "module add: needs a .wasm file");
        goto done;
    }
    if (d.data_count && !fd_path) {
        status = client_usage_error(USAGE, "module add: --data goes with --description (the "
                                           "description says which mount each file is for)");
        goto done;
    }
    status = CLIENT_EXIT_FAILED;
    if (!readable_file(file, "module") || (fd_path && !load_description(&d, fd_path)))
        goto done;
    name = name_option ? strdup(name_option) : default_module_name(file);
    char *copy = strdup(file);
    filename = strdup(basename(copy));
    free(copy);

    http_part parts[2] = {
        {.field = "name", .value = name},
        {.field = "module", .path = file, .filename = filename, .content_type = "application/wasm"},
    };
    http_result answer;
    if (!client_call_multipart(c, "/file/module", parts, 2, &answer))
        goto done;
    created = http_result_json(&answer);
    http_result_free(&answer);
    const char *new_id = client_doc_id(created);
    if (!new_id) {
        fprintf(stderr, "liquid: the orchestrator accepted the module but did not say its id\n");
        goto done;
    }
    id = strdup(new_id);
    if (fd_path && !send_description(c, id, &d, &openapi)) {
        take_back(c, id);
        goto done;
    }
    status = CLIENT_EXIT_OK;
    if (c->json) {
        json_t *module = fetch_module(c, id);
        client_print_json(module ? module : created);
        json_decref(module);
    } else {
        printf("module %s added: id %s%s\n", name, id,
               fd_path ? ", described" : " (describe it with `liquid module describe`)");
    }
done:
    json_decref(created);
    json_decref(openapi);
    describe_request_free(&d);
    free(name);
    free(id);
    free(filename);
    return status;
}

static int module_remove(const client *c, const char *id)
{
    char *path = client_path("/file/module/%s", id);
    http_result answer;
    bool ok = client_call(c, "DELETE", path, NULL, &answer);
    free(path);
    if (!ok)
        return CLIENT_EXIT_FAILED;
    if (c->json) {
        json_t *doc = http_result_json(&answer);
        client_print_json(doc ? doc : json_object());
        json_decref(doc);
    } else {
        printf("module %s removed\n", id);
    }
    http_result_free(&answer);
    return CLIENT_EXIT_OK;
}

int command_module(int argc, char **argv)
{
    client c;
    if (!client_options_parse(&c, &argc, argv))
        return CLIENT_EXIT_USAGE;
    if (c.help) {
        print_help();
        return CLIENT_EXIT_OK;
    }
    if (argc < 2)
        return client_usage_error(USAGE, "module: say what to do (add, describe, list, show, rm)");
    const char *verb = argv[1];
    if (!strcmp(verb, "add"))
        return module_add(&c, argc, argv);
    if (!strcmp(verb, "describe"))
        return module_describe_verb(&c, argc, argv);
    if (!strcmp(verb, "list") || !strcmp(verb, "ls")) {
        if (argc > 2)
            return client_usage_error(USAGE, "module list: unexpected argument '%s'", argv[2]);
        return module_list(&c);
    }
    if (!strcmp(verb, "show") || !strcmp(verb, "rm")) {
        if (argc != 3)
            return client_usage_error(USAGE, "module %s: needs exactly one module id or name", verb);
        return !strcmp(verb, "show") ? module_show(&c, argv[2]) : module_remove(&c, argv[2]);
    }
    return client_usage_error(USAGE, "module: unknown action '%s'", verb);
}
