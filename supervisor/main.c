/* main.c: the jobsync command line: dispatch to a subcommand. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "runner/child.h"
#include "supervisor/cli.h"
#include "supervisor/exitcode.h"
#include "supervisor/reexec.h"

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
} commands[] = {
	{"run", cli_run_main, "run a node: join the cluster and hold tokens"},
	{"status", cli_status_main, "show the cluster: nodes, leader, tokens, locks"},
	{"lock", cli_lock_main, "add, list or clear token locks"},
	{"init-db", cli_initdb_main, "create the schema (idempotent)"},
	{"token", cli_token_main, "print the token of task ids"},
	{"config", cli_config_main, "check a config file, or print a sample"},
	{"cron", cli_cron_main, "list cron jobs, show their history, run one now"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: jobsync COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(out, "\n'jobsync COMMAND --help' describes a command.\n"
		     "exit codes: 0 ok, 64 usage, 65 bad data, 69 database unavailable,\n"
		     "            70 internal, 75 name in use by a live node, 78 config\n");
}

int main(int argc, char **argv)
{
	/* A worker that closes its stdin must not kill the node with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if (argc > 1 && (!strcmp(argv[1], "run") || !strcmp(argv[1], "__guard")))
		reexec_lean(argv);
	if (argc > 1 && !strcmp(argv[1], "__guard"))
		return child_guard_main(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("jobsync %s\n", JOBSYNC_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "jobsync: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
