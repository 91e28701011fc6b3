/*
 * test_config.c — settings from defaults, a JSON file, the environment and flags:
 * their precedence, every value type, errors that name the option and its source,
 * and the generated --help.
 */
#define _GNU_SOURCE   /* open_memstream, setenv */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/config.h"
#include "base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct settings {
    char *config;
    char *name;
    long long port;
    bool mdns;
    uint64_t max_upload;
    uint64_t renewal_ms;
    log_level log;
    char *orchestrator;
} settings;

static const config_option options[] = {
    {"config", {"LIQUID_TEST_CONFIG"}, CONFIG_STRING, NULL, "a JSON file of settings",
     offsetof(settings, config), "FILE", 0, 0},
    {"name", {"LIQUID_TEST_NAME", "LIQUID_TEST_NAME_ALIAS"}, CONFIG_STRING, "device",
     "the device's name", offsetof(settings, name), "NAME", 0, 0},
    {"port", {"LIQUID_TEST_PORT", "LIQUID_TEST_PORT_ALIAS", "LIQUID_TEST_FLASK_PORT"},
     CONFIG_INT, "5000", "HTTP port to listen on", offsetof(settings, port), "PORT", 0, 65535},
    {"mdns", {"LIQUID_TEST_MDNS"}, CONFIG_BOOL, "true", "advertise over multicast DNS",
     offsetof(settings, mdns), NULL, 0, 0},
    {"max-upload", {"LIQUID_TEST_MAX_UPLOAD"}, CONFIG_SIZE, "64M",
     "largest upload accepted", offsetof(settings, max_upload), NULL, 0, 0},
    {"register-renewal", {"LIQUID_TEST_RENEWAL"}, CONFIG_DURATION, "900",
     "how long without a health check before registering again",
     offsetof(settings, renewal_ms), NULL, 0, 0},
    {"log-level", {"LIQUID_TEST_LOG_LEVEL"}, CONFIG_LOG_LEVEL, "info", "least important "
     "events logged", offsetof(settings, log), NULL, 0, 0},
    {"orchestrator-url", {"LIQUID_TEST_ORCHESTRATOR_URL"}, CONFIG_STRING, NULL,
     "register directly with this orchestrator", offsetof(settings, orchestrator), "URL", 0,
     0},
};

static const char *const sections[] = {"capabilities", NULL};

static const config_spec spec = {
    .usage = "liquid testd [OPTIONS]",
    .summary = "A test service with a summary long enough that the help text has to wrap it "
               "over more than one line of the terminal.",
    .options = options,
    .option_count = sizeof options / sizeof options[0],
    .file_option = "config",
    .file_sections = sections,
};

static const char *const env_names[] = {
    "LIQUID_TEST_CONFIG", "LIQUID_TEST_NAME", "LIQUID_TEST_NAME_ALIAS", "LIQUID_TEST_PORT",
    "LIQUID_TEST_PORT_ALIAS", "LIQUID_TEST_FLASK_PORT", "LIQUID_TEST_MDNS",
    "LIQUID_TEST_MAX_UPLOAD", "LIQUID_TEST_RENEWAL", "LIQUID_TEST_LOG_LEVEL",
    "LIQUID_TEST_ORCHESTRATOR_URL",
};

static char config_path[256];

static int clean_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof env_names / sizeof env_names[0]; i++)
        unsetenv(env_names[i]);
    return 0;
}

static int clean_all(void **state)
{
    clean_env(state);
    if (config_path[0])
        unlink(config_path);
    config_path[0] = '\0';
    return 0;
}

static const char *write_config(const char *json)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(config_path, sizeof config_path, "%s/liquid-config-XXXXXX.json",
             tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemps(config_path, 5);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    return config_path;
}

/* Loads with the given flags (argv[0] is added). */
static config_status load(settings *s, config_extra *extra, char *err, size_t err_size, int n,
                          ...)
{
    char *argv[16] = {"testd"};
    va_list args;
    va_start(args, n);
    for (int i = 0; i < n; i++)
        argv[i + 1] = va_arg(args, char *);
    va_end(args);
    memset(s, 0, sizeof *s);
    err[0] = '\0';
    return config_load(&spec, s, n + 1, argv, extra, err, err_size);
}

static void test_defaults(void **state)
{
    (void)state;
    settings s;
    char err[512];
    assert_int_equal(load(&s, NULL, err, sizeof err, 0), CONFIG_OK);
    assert_string_equal(s.name, "device");
    assert_int_equal(s.port, 5000);
    assert_true(s.mdns);
    assert_int_equal(s.max_upload, 64ull << 20);
    assert_int_equal(s.renewal_ms, 900000);
    assert_int_equal(s.log, LOG_INFO);
    assert_null(s.orchestrator);
    assert_null(s.config);
    config_free(&spec, &s);
}

static void test_precedence_default_file_env_flag(void **state)
{
    (void)state;
    settings s;
    char err[512];
    const char *file = write_config("{\"port\": 6000, \"name\": \"from-file\", "
                                    "\"max_upload\": \"2M\", \"mdns\": false}");
    setenv("LIQUID_TEST_CONFIG", file, 1);

    /* file over default */
    assert_int_equal(load(&s, NULL, err, sizeof err, 0), CONFIG_OK);
    assert_int_equal(s.port, 6000);
    assert_string_equal(s.name, "from-file");
    assert_int_equal(s.max_upload, 2u << 20);
    assert_false(s.mdns);
    config_free(&spec, &s);

    /* env over file */
    setenv("LIQUID_TEST_PORT", "7000", 1);
    assert_int_equal(load(&s, NULL, err, sizeof err, 0), CONFIG_OK);
    assert_int_equal(s.port, 7000);
    assert_string_equal(s.name, "from-file");
    config_free(&spec, &s);

    /* flag over env, in both spellings */
    assert_int_equal(load(&s, NULL, err, sizeof err, 2, "--port", "8000"), CONFIG_OK);
    assert_int_equal(s.port, 8000);
    config_free(&spec, &s);
    assert_int_equal(load(&s, NULL, err, sizeof err, 2, "--port=8001", "--mdns"), CONFIG_OK);
    assert_int_equal(s.port, 8001);
    assert_true(s.mdns);
    config_free(&spec, &s);

    /* The file can also be named by a flag, which beats the variable. */
    unsetenv("LIQUID_TEST_CONFIG");
    unsetenv("LIQUID_TEST_PORT");
    assert_int_equal(load(&s, NULL, err, sizeof err, 2, "--config", file), CONFIG_OK);
    assert_int_equal(s.port, 6000);
    config_free(&spec, &s);
}

static void test_environment_aliases(void **state)
{
    (void)state;
    settings s;
    char err[512];
    setenv("LIQUID_TEST_FLASK_PORT", "5100", 1);
    assert_int_equal(load(&s, NULL, err, sizeof err, 0), CONFIG_OK);
    assert_int_equal(s.port, 5100);
    config_free(&spec, &s);
    /* The first name listed wins over its aliases. */
    setenv("LIQUID_TEST_PORT", "5200", 1);
    assert_int_equal(load(&s, NULL, err, sizeof err, 0), CONFIG_OK);
    assert_int_equal(s.port, 5200);
    config_free(&spec, &s);
    /* An empty variable is unset (compose files pass VAR= for "nothing"). */
    setenv("LIQUID_TEST_PORT", "", 1);
    assert_int_equal(load(&s, NULL, err, sizeof err, 0), CONFIG_OK);
    assert_int_equal(s.port, 5100);
    config_free(&spec, &s);
}

static void test_value_types(void **state)
{
    (void)state;
    settings s;
    char err[512];
    setenv("LIQUID_TEST_MDNS", "no", 1);
    setenv("LIQUID_TEST_RENEWAL", "500ms", 1);
    assert_int_equal(load(&s, NULL, err, sizeof err, 3, "--max-upload=1.5K", "--log-level",
                          "debug"), CONFIG_OK);
    assert_false(s.mdns);
    assert_int_equal(s.renewal_ms, 500);
    assert_int_equal(s.max_upload, 1536);
    assert_int_equal(s.log, LOG_DEBUG);
    config_free(&spec, &s);

    assert_int_equal(load(&s, NULL, err, sizeof err, 3, "--no-mdns", "--register-renewal",
                          "2m"), CONFIG_OK);
    assert_false(s.mdns);
    assert_int_equal(s.renewal_ms, 120000);
    config_free(&spec, &s);

    uint64_t ms, bytes;
    assert_true(config_parse_duration("1.5", &ms));
    assert_int_equal(ms, 1500);
    assert_true(config_parse_duration("1h", &ms));
    assert_int_equal(ms, 3600000);
    assert_false(config_parse_duration("-1", &ms));
    assert_false(config_parse_duration("10 parsecs", &ms));
    assert_true(config_parse_size("1G", &bytes));
    assert_int_equal(bytes, 1ull << 30);
    assert_false(config_parse_size("1.5", &bytes));
    assert_false(config_parse_size("", &bytes));
}

static void test_bad_values_name_the_option_and_source(void **state)
{
    (void)state;
    settings s;
    char err[512];
    assert_int_equal(load(&s, NULL, err, sizeof err, 1, "--port=abc"), CONFIG_ERROR);
    assert_non_null(strstr(err, "--port"));
    assert_non_null(strstr(err, "abc"));
    assert_non_null(strstr(err, "command line"));
    config_free(&spec, &s);

    assert_int_equal(load(&s, NULL, err, sizeof err, 2, "--port", "70000"), CONFIG_ERROR);
    assert_non_null(strstr(err, "from 0 to 65535"));
    config_free(&spec, &s);

    setenv("LIQUID_TEST_PORT_ALIAS", "12x", 1);
    assert_int_equal(load(&s, NULL, err, sizeof err, 0), CONFIG_ERROR);
    assert_non_null(strstr(err, "LIQUID_TEST_PORT_ALIAS"));
    config_free(&spec, &s);
    unsetenv("LIQUID_TEST_PORT_ALIAS");

    const char *file = write_config("{\"mdns\": \"perhaps\"}");
    assert_int_equal(load(&s, NULL, err, sizeof err, 2, "--config", file), CONFIG_ERROR);
    assert_non_null(strstr(err, "--mdns"));
    assert_non_null(strstr(err, file));
    config_free(&spec, &s);

    assert_int_equal(load(&s, NULL, err, sizeof err, 1, "--max-upload=lots"), CONFIG_ERROR);
    assert_non_null(strstr(err, "16M"));   /* the message shows what a size looks like */
    config_free(&spec, &s);

    assert_int_equal(load(&s, NULL, err, sizeof err, 1, "--log-level=chatty"), CONFIG_ERROR);
    assert_non_null(strstr(err, "debug, info"));
    config_free(&spec, &s);
}

static void test_unknown_options_and_missing_values(void **state)
{
    (void)state;
    settings s;
    char err[512];
    assert_int_equal(load(&s, NULL, err, sizeof err, 1, "--prot=1"), CONFIG_ERROR);
    assert_non_null(strstr(err, "--prot"));
    assert_non_null(strstr(err, "did you mean --port?"));
    config_free(&spec, &s);

    assert_int_equal(load(&s, NULL, err, sizeof err, 1, "--port"), CONFIG_ERROR);
    assert_non_null(strstr(err, "--port needs a value"));
    config_free(&spec, &s);

    assert_int_equal(load(&s, NULL, err, sizeof err, 1, "-p"), CONFIG_ERROR);
    assert_non_null(strstr(err, "-p"));
    config_free(&spec, &s);

    assert_int_equal(load(&s, NULL, err, sizeof err, 1, "stray"), CONFIG_ERROR);
    assert_non_null(strstr(err, "unexpected argument 'stray'"));
    config_free(&spec, &s);

    const char *file = write_config("{\"naem\": \"x\"}");
    assert_int_equal(load(&s, NULL, err, sizeof err, 2, "--config", file), CONFIG_ERROR);
    assert_non_null(strstr(err, "unknown option 'naem'"));
    assert_non_null(strstr(err, "did you mean --name?"));
    config_free(&spec, &s);
    unlink(config_path);

    file = write_config("{\"port\": ");
    assert_int_equal(load(&s, NULL, err, sizeof err, 2, "--config", file), CONFIG_ERROR);
    assert_non_null(strstr(err, "not valid JSON"));
    config_free(&spec, &s);
    unlink(config_path);

    file = write_config("[1, 2]");
    assert_int_equal(load(&s, NULL, err, sizeof err, 2, "--config", file), CONFIG_ERROR);
    assert_non_null(strstr(err, "JSON object"));
    config_free(&spec, &s);

    assert_int_equal(load(&s, NULL, err, sizeof err, 2, "--config", "/nonexistent/x.json"),
                     CONFIG_ERROR);
    assert_non_null(strstr(err, "/nonexistent/x.json"));
    config_free(&spec, &s);
}

static void test_file_sections_are_left_to_the_service(void **state)
{
    (void)state;
    settings s;
    char err[512];
    config_extra extra;
    const char *file = write_config("{\"capabilities\": {\"camera\": true}, \"port\": 0}");
    assert_int_equal(load(&s, &extra, err, sizeof err, 2, "--config", file), CONFIG_OK);
    assert_int_equal(s.port, 0);
    assert_non_null(extra.file);
    assert_true(json_is_true(json_object_get(json_object_get(extra.file, "capabilities"),
                                             "camera")));
    assert_int_equal(extra.first_positional, 3);
    json_decref(extra.file);
    config_free(&spec, &s);
}

static void test_positional_arguments(void **state)
{
    (void)state;
    config_spec run_spec = spec;
    run_spec.positional = true;
    run_spec.file_option = NULL;
    settings s = {0};
    char err[512];
    config_extra extra;
    char *argv[] = {"run", "--port", "1", "module.wasm", "--port", "x"};
    assert_int_equal(config_load(&run_spec, &s, 6, argv, &extra, err, sizeof err), CONFIG_OK);
    assert_int_equal(s.port, 1);
    assert_int_equal(extra.first_positional, 3);   /* what follows belongs to the program */
    config_free(&run_spec, &s);

    char *dashes[] = {"run", "--", "--looks-like-a-flag"};
    memset(&s, 0, sizeof s);
    assert_int_equal(config_load(&run_spec, &s, 3, dashes, &extra, err, sizeof err), CONFIG_OK);
    assert_int_equal(extra.first_positional, 2);
    config_free(&run_spec, &s);
}

static void test_help_text(void **state)
{
    (void)state;
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    config_print_help(&spec, out);
    fclose(out);
    assert_non_null(strstr(text, "usage: liquid testd [OPTIONS]"));
    for (size_t i = 0; i < spec.option_count; i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", options[i].name);
        if (!strstr(text, flag))
            fail_msg("--help lacks %s", flag);
        for (size_t k = 0; k < 4 && options[i].env[k]; k++)
            if (!strstr(text, options[i].env[k]))
                fail_msg("--help lacks %s", options[i].env[k]);
    }
    assert_non_null(strstr(text, "--port PORT"));
    assert_non_null(strstr(text, "HTTP port to listen on"));
    assert_non_null(strstr(text, "env: LIQUID_TEST_PORT, LIQUID_TEST_PORT_ALIAS, "
                                 "LIQUID_TEST_FLASK_PORT\n      default: 5000\n"));
    assert_non_null(strstr(text, "{\"name\": ...}"));
    assert_non_null(strstr(text, "--mdns, --no-mdns"));
    assert_non_null(strstr(text, "default: none"));
    /* Wrapped: no line is longer than the terminal. */
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        if (strlen(line) > 78)
            fail_msg("help line too long: %s", line);
    free(text);

    /* --help stops loading and says so. */
    settings s;
    char err[512];
    fflush(stdout);
    int saved = dup(1);
    FILE *devnull = fopen("/dev/null", "w");
    dup2(fileno(devnull), 1);
    config_status status = load(&s, NULL, err, sizeof err, 2, "--port=1", "--help");
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    fclose(devnull);
    assert_int_equal(status, CONFIG_HELP);
    config_free(&spec, &s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, clean_env, clean_all),
        cmocka_unit_test_setup_teardown(test_precedence_default_file_env_flag, clean_env,
                                        clean_all),
        cmocka_unit_test_setup_teardown(test_environment_aliases, clean_env, clean_all),
        cmocka_unit_test_setup_teardown(test_value_types, clean_env, clean_all),
        cmocka_unit_test_setup_teardown(test_bad_values_name_the_option_and_source, clean_env,
                                        clean_all),
        cmocka_unit_test_setup_teardown(test_unknown_options_and_missing_values, clean_env,
                                        clean_all),
        cmocka_unit_test_setup_teardown(test_file_sections_are_left_to_the_service, clean_env,
                                        clean_all),
        cmocka_unit_test_setup_teardown(test_positional_arguments, clean_env, clean_all),
        cmocka_unit_test_setup_teardown(test_help_text, clean_env, clean_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
