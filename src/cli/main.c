/*
 * main.c — `liquid`: one executable, subcommands in the manner of k3s.
 */
#include "cli/commands.h"

#include <stdio.h>
#include <string.h>

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"run", command_run, "run a WebAssembly module locally (WASI command or one export)"},
    {"spectest", command_spectest, "run one WebAssembly spec test file converted by wast2json"},
    {"orchestrator", command_orchestrator, "run the control plane of one domain (Wasm-IoT orchestrator API)"},
    {"supervisor", command_supervisor, "run the device agent (Wasm-IoT supervisor API)"},
    {"mdns", command_mdns, "browse or advertise DNS-SD services over multicast DNS"},
    {"device", command_device, "list, show, blacklist or remove an orchestrator's devices"},
    {"module", command_module, "add, describe, list, show or remove modules"},
    {"deploy", command_deploy, "create, list, show, apply or remove deployments"},
    {"exec", command_exec, "run a deployment once and print its result"},
    {"migrate", command_migrate, "move a deployed step to another device with its state"},
    {"logs", command_logs, "show the logs supervisors sent to the orchestrator"},
    {"events", command_events, "show (or --follow) the orchestrator's events"},
};

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: liquid COMMAND [OPTIONS] [ARGS...]\n"
            "\n"
            "Liquid runs WebAssembly functions across a fleet of devices and moves them,\n"
            "with their state, from device to device.\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "  %-12s %s\n"
            "  %-12s %s\n"
            "\n"
            "`liquid COMMAND --help` describes each command.\n",
            "version", "print the version", "help", "print this help");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "help") || !strcmp(name, "--help") || !strcmp(name, "-h")) {
        print_usage(stdout);
        return 0;
    }
    if (!strcmp(name, "version") || !strcmp(name, "--version")) {
        printf("liquid %s\n", LIQUID_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(name, commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "liquid: unknown command '%s'\n\n", name);
    print_usage(stderr);
    return 2;
}
