/*
 * verbs_exec.c — `liquid exec ID`: runs a deployment's chain once (POST /execute/{id})
 * and prints its result and the time each step took.
 *
 * Arguments are named (--arg param0=12) or positional (12 becomes param0, the next
 * param1...). Without files they travel as JSON, numbers as numbers; with --file
 * MOUNT=PATH they travel as one multipart form, the file parts named after the first
 * step's execution mounts, as the reference's clients send them.
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
    "liquid exec ID [VALUE...] [--arg NAME=VALUE]... [--file MOUNT=PATH]... [--json] "
    "[--orchestrator URL]";

#define MAX_ARGS 64
#define EXEC_TIMEOUT_MS 300000L

static void print_help(void)
{
    printf("usage: %s\n\n"
           "Runs a deployed chain once and prints its result and each step's timing.\n"
           "ID is the deployment's id or name.\n\n"
           "  VALUE...              positional arguments: param0, param1, ...\n"
           "  --arg NAME=VALUE      a named argument (repeatable)\n"
           "  --file MOUNT=PATH     a file for the first step's execution mount (repeatable)\n"
           "  --json                print the orchestrator's JSON answer\n"
           "  --orchestrator URL    the orchestrator (default: $LIQUID_ORCHESTRATOR_URL, "
           "else %s)\n\n"
           "e.g. liquid exec fibo 12    liquid exec pipeline --file image.jpeg=frame.jpg\n",
           USAGE, CLIENT_DEFAULT_URL);
}

typedef struct exec_input {
    char names[MAX_ARGS][128];
    const char *values[MAX_ARGS];
    size_t arg_count;
    char mounts[MAX_ARGS][256];
    const char *paths[MAX_ARGS];
    char *filenames[MAX_ARGS];
    size_t file_count;
} exec_input;

/* "12" -> 12, "1.5" -> 1.5, anything else a string: the orchestrator checks types. */
static json_t *typed_value(const char *text)
{
    char *end;
    errno = 0;
    long long integer = strtoll(text, &end, 10);
    if (*text && !*end && errno == 0)
        return json_integer(integer);
    double number = strtod(text, &end);
    if (*text && !*end && errno == 0)
        return json_real(number);
    return json_string(text);
}

static bool add_arg(exec_input *in, const char *name, const char *value)
{
    if (in->arg_count == MAX_ARGS) {
        fprintf(stderr, "liquid: at most %d arguments\n", MAX_ARGS);
        return false;
    }
    snprintf(in->names[in->arg_count], sizeof in->names[0], "%s", name);
    in->values[in->arg_count++] = value;
    return true;
}

static bool add_file(exec_input *in, const char *arg)
{
    if (in->file_count == MAX_ARGS) {
        fprintf(stderr, "liquid: at most %d files\n", MAX_ARGS);
        return false;
    }
    size_t i = in->file_count;
    if (!verbs_split_pair(arg, in->mounts[i], sizeof in->mounts[0], &in->paths[i])) {
        fprintf(stderr, "liquid: --file takes MOUNT=PATH (e.g. --file image.jpeg=frame.jpg), "
                        "got '%s'\n", arg);
        return false;
    }
    struct stat st;
    if (stat(in->paths[i], &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "liquid: cannot read the file '%s' for mount '%s': %s\n", in->paths[i],
                in->mounts[i], errno ? strerror(errno) : "not a regular file");
        return false;
    }
    char *copy = strdup(in->paths[i]);
    in->filenames[i] = strdup(basename(copy));
    free(copy);
    in->file_count++;
    return true;
}

static bool send_execution(const client *c, const char *id, const exec_input *in,
                           http_result *answer)
{
    char *path = client_path("/execute/%s", id);
    bool ok;
    if (in->file_count == 0) {
        json_t *body = json_object();
        for (size_t i = 0; i < in->arg_count; i++)
            json_object_set_new(body, in->names[i], typed_value(in->values[i]));
        ok = client_call(c, "POST", path, body, answer);
        json_decref(body);
    } else {
        http_part parts[2 * MAX_ARGS];
        memset(parts, 0, sizeof parts);
        size_t n = 0;
        for (size_t i = 0; i < in->arg_count; i++)
            parts[n++] = (http_part){.field = in->names[i], .value = in->values[i]};
        for (size_t i = 0; i < in->file_count; i++)
            parts[n++] = (http_part){.field = in->mounts[i], .path = in->paths[i],
                                     .filename = in->filenames[i],
                                     .content_type = "application/octet-stream"};
        ok = client_call_multipart(c, path, parts, n, answer);
    }
    free(path);
    return ok;
}

/* The value a person wants from the reference's result shapes: ["233", null] (Python),
 * {"result": "233"} (Rust), [null, ["out.pgm"]] (a file), or a plain value. */
static const json_t *primary_result(const json_t *result)
{
    for (int depth = 0; depth < 8; depth++) {
        if (json_is_object(result) && json_object_get(result, "result"))
            result = json_object_get(result, "result");
        else if (json_is_array(result) && json_array_size(result) == 2 &&
                 json_is_null(json_array_get(result, 0)))
            result = json_array_get(result, 1);
        else if (json_is_array(result) && json_array_size(result) == 2 &&
                 json_is_null(json_array_get(result, 1)))
            result = json_array_get(result, 0);
        else
            break;
    }
    return result;
}

/* A step's own time: the supervisor's totalUs includes waiting for the steps after it
 * (chainUs), which the next rows show. */
static double step_ms(const json_t *step)
{
    static const char *const ms_keys[] = {"durationMs", "ms", "elapsedMs"};
    for (size_t i = 0; i < sizeof ms_keys / sizeof ms_keys[0]; i++) {
        json_t *v = json_object_get(step, ms_keys[i]);
        if (json_is_number(v))
            return json_number_value(v);
    }
    json_t *timings = json_object_get(step, "timings");
    json_t *total = json_object_get(timings, "totalUs"), *chain = json_object_get(timings, "chainUs");
    if (json_is_number(total))
        return (json_number_value(total) - (json_is_number(chain) ? json_number_value(chain) : 0)) /
               1000.0;
    json_t *run = json_object_get(timings, "runUs");
    return json_is_number(run) ? json_number_value(run) / 1000.0 : -1;
}

static void print_steps(const json_t *steps, const json_t *device_names)
{
    if (json_array_size(steps) == 0)
        return;
    printf("\nsteps:\n");
    client_table *t = client_table_new(5, "  #", "FUNCTION", "DEVICE", "TIME", "RESULT");
    size_t i;
    json_t *step;
    json_array_foreach(steps, i, step) {
        char index[32], function[256], time[32];
        snprintf(index, sizeof index, "  %zu", i);
        const char *module = client_dig_string(step, "module");
        if (!module)
            module = client_dig_string(step, "moduleName");
        const char *func = client_dig_string(step, "func");
        if (!func)
            func = client_dig_string(step, "function");
        snprintf(function, sizeof function, "%s.%s", module ? module : "?", func ? func : "?");
        const char *device = client_dig_string(step, "deviceName");
        if (!device)
            device = client_dig_string(device_names, client_dig_string(step, "device") ?: "");
        if (!device)
            device = client_dig_string(step, "device");
        client_format_ms(step_ms(step), time, sizeof time);
        json_t *outcome = json_object_get(step, "error");
        if (!json_is_string(outcome))
            outcome = json_object_get(step, "result");
        char *text = NULL;
        json_t *outputs = json_object_get(step, "outputs");
        if (json_is_null(primary_result(outcome)) && json_array_size(outputs)) {
            const char *url = json_string_value(json_array_get(outputs, 0));
            const char *slash = url ? strrchr(url, '/') : NULL;
            text = strdup(slash ? slash + 1 : url ? url : "-");   /* the file it wrote */
        } else {
            text = client_value_text(primary_result(outcome));
        }
        client_table_row(t, index, function, device, time, text);
        free(text);
    }
    client_table_print(t, stdout);
}

static int print_execution(const client *c, const json_t *answer)
{
    const json_t *result = primary_result(json_object_get(answer, "result"));
    char *text = client_value_text(result);
    printf("result     %s\n", text);
    free(text);
    json_t *outputs = json_object_get(answer, "outputs");
    if (!outputs)
        outputs = client_dig(answer, "result.outputs");
    size_t i;
    json_t *url;
    json_array_foreach(outputs, i, url)
        if (json_is_string(url))
            printf("output     %s\n", json_string_value(url));
    const char *from = client_dig_string(answer, "fetched_from_device");
    if (from)
        printf("from       %s\n", from);
    const char *execution = client_dig_string(answer, "executionId");
    if (execution)
        printf("execution  %s\n", execution);
    json_t *total = json_object_get(answer, "durationMs");
    if (json_is_number(total)) {
        char time[32];
        client_format_ms(json_number_value(total), time, sizeof time);
        printf("time       %s\n", time);
    }
    if (json_is_true(json_object_get(answer, "isInFailover")))
        printf("note       the deployment runs on failover devices\n");
    json_t *names = json_array_size(json_object_get(answer, "steps")) ? verbs_device_names(c) : NULL;
    print_steps(json_object_get(answer, "steps"), names);
    json_decref(names);
    return CLIENT_EXIT_OK;
}

int command_exec(int argc, char **argv)
{
    client c;
    if (!client_options_parse(&c, &argc, argv))
        return CLIENT_EXIT_USAGE;
    if (c.help) {
        print_help();
        return CLIENT_EXIT_OK;
    }
    c.timeout_ms = EXEC_TIMEOUT_MS;
    exec_input in = {0};
    const char *id = NULL;
    size_t positional = 0;
    int status = CLIENT_EXIT_USAGE;
    for (int i = 1; i < argc;) {
        const char *value;
        char name[128];
        if ((value = client_option_value(argc, argv, &i, "--arg"))) {
            const char *arg_value;
            if (!verbs_split_pair(value, name, sizeof name, &arg_value)) {
                status = client_usage_error(USAGE, "exec: --arg takes NAME=VALUE (e.g. --arg "
                                                   "param0=12), got '%s'", value);
                goto done;
            }
            if (!add_arg(&in, name, arg_value))
                goto done;
        } else if ((value = client_option_value(argc, argv, &i, "--file"))) {
            if (!add_file(&in, value)) {
                status = CLIENT_EXIT_FAILED;
                goto done;
            }
        } else if (argv[i][0] == '-' && argv[i][1] && !(argv[i][1] >= '0' && argv[i][1] <= '9')) {
            status = client_usage_error(USAGE, "exec: unknown option '%s'", argv[i]);
            goto done;
        } else if (!id) {
            id = argv[i++];
        } else {
            snprintf(name, sizeof name, "param%zu", positional++);
            if (!add_arg(&in, name, argv[i++]))
                goto done;
        }
    }
    if (!id) {
        status = client_usage_error(USAGE, "exec: needs a deployment id or name");
        goto done;
    }
    http_result answer;
    status = CLIENT_EXIT_FAILED;
    if (!send_execution(&c, id, &in, &answer))
        goto done;
    json_t *doc = http_result_json(&answer);
    if (!doc) {
        fprintf(stderr, "liquid: the orchestrator's answer is not JSON: %.200s\n",
                answer.body ? answer.body : "");
    } else if (c.json) {
        client_print_json(doc);
        status = CLIENT_EXIT_OK;
    } else {
        status = print_execution(&c, doc);
    }
    json_decref(doc);
    http_result_free(&answer);
done:
    for (size_t i = 0; i < in.file_count; i++)
        free(in.filenames[i]);
    return status;
}
