/* cli_config.c: `jobsync config check|sample|reference`, offline tools around the config table. */
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "supervisor/cli.h"
#include "supervisor/exitcode.h"

static const char config_usage[] =
	"usage: jobsync config check FILE...   report every error as FILE:LINE: message\n"
	"       jobsync config sample          print a commented sample config\n"
	"       jobsync config reference       print the key reference as Markdown\n";

static bool is_help(const char *arg)
{
	return !strcmp(arg, "--help") || !strcmp(arg, "-h");
}

/* Check each file independently ("-" is stdin); exit 78 if any has an error. */
static int config_check(int argc, char **argv)
{
	int status = EXIT_OK;

	if (argc >= 2 && is_help(argv[1])) {
		fputs("usage: jobsync config check FILE...\n"
		      "Parse and validate each FILE (\"-\" = stdin); print every problem as\n"
		      "FILE:LINE: message on stderr and exit 78, or \"FILE: ok\" and exit 0.\n",
		      stdout);
		return EXIT_OK;
	}
	if (argc < 2) {
		fputs(config_usage, stderr);
		return EXIT_USAGE;
	}
	for (int i = 1; i < argc; i++) {
		struct config cfg = {0};
		struct config_errors errs = {0};

		if (!strcmp(argv[i], "-"))
			config_parse_file(stdin, "-", &cfg, &errs);
		else
			config_load(argv[i], &cfg, &errs);
		if (errs.n) {
			config_errors_print(&errs, stderr);
			status = EXIT_CONFIG;
		} else {
			printf("%s: ok\n", argv[i]);
		}
		config_errors_free(&errs);
		config_free(&cfg);
	}
	return status;
}

/* `sample` and `reference` take no arguments but --help. */
static int config_print(int argc, char **argv, void (*print)(FILE *), const char *help)
{
	if (argc >= 2 && is_help(argv[1])) {
		fputs(help, stdout);
		return EXIT_OK;
	}
	if (argc != 1) {
		fputs(config_usage, stderr);
		return EXIT_USAGE;
	}
	print(stdout);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_SOFTWARE;
}

int cli_config_main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(config_usage, stderr);
		return EXIT_USAGE;
	}
	if (is_help(argv[1])) {
		fputs(config_usage, stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "check"))
		return config_check(argc - 1, argv + 1);
	if (!strcmp(argv[1], "sample"))
		return config_print(argc - 1, argv + 1, config_sample,
				    "usage: jobsync config sample\n"
				    "Print a commented config with every key at its default.\n");
	if (!strcmp(argv[1], "reference"))
		return config_print(argc - 1, argv + 1, config_reference_md,
				    "usage: jobsync config reference\n"
				    "Print the config keys as a Markdown table.\n");
	fprintf(stderr, "jobsync config: unknown command '%s'\n%s", argv[1], config_usage);
	return EXIT_USAGE;
}
