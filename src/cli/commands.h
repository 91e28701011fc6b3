/*
 * commands.h — the subcommands of the `liquid` executable. Each takes the arguments
 * after its own name (argv[0] is the subcommand) and returns the process exit status.
 */
#ifndef LIQUID_CLI_COMMANDS_H
#define LIQUID_CLI_COMMANDS_H

int command_run(int argc, char **argv);        /* run.c: run a module locally */
int command_spectest(int argc, char **argv);   /* spectest.c: run a wast2json file */
int command_supervisor(int argc, char **argv); /* supervisor/supervisor.c: the device agent */
int command_mdns(int argc, char **argv);       /* mdns.c: browse or advertise DNS-SD services */
int command_orchestrator(int argc, char **argv); /* orchestrator/orchestrator.c: the control plane */
/* The client verbs of an orchestrator (client*.c, verbs_*.c). */
int command_device(int argc, char **argv);     /* verbs_device.c */
int command_module(int argc, char **argv);     /* verbs_module.c */
int command_deploy(int argc, char **argv);     /* verbs_deploy.c */
int command_exec(int argc, char **argv);       /* verbs_exec.c */
int command_migrate(int argc, char **argv);    /* verbs_migrate.c */
int command_logs(int argc, char **argv);       /* verbs_events.c */
int command_events(int argc, char **argv);     /* verbs_events.c */

#endif
