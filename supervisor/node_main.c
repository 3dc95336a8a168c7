/* node_main.c: `jobsync run`: options, config, then the node's loop. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "supervisor/cli.h"
#include "supervisor/exitcode.h"
#include "supervisor/log.h"
#include "supervisor/node.h"

static void run_usage(FILE *out)
{
	fprintf(out,
		"usage: jobsync run -c FILE [--node NAME] [--date YYYY-MM-DD]\n"
		"\n"
		"Join the cluster configured in FILE and hold a share of its tokens until\n"
		"SIGTERM or SIGINT (a graceful leave; a second signal stops at once).\n"
		"SIGHUP reads FILE again and applies what can change live; an invalid\n"
		"file, or a change only a restart applies, keeps the running config.\n"
		"\n"
		"  -c, --config FILE   the node's INI file (required)\n"
		"  -n, --node NAME     node name (overrides [cluster] node)\n"
		"  -d, --date DATE     processing date for claims and audits (default today)\n"
		"  -h, --help          this text\n");
}

/* True when s is a real calendar date written YYYY-MM-DD. */
static bool valid_date(const char *s)
{
	struct tm tm = {0};
	const char *end = strptime(s, "%Y-%m-%d", &tm);
	if (!end || *end || strlen(s) != 10)
		return false;
	struct tm copy = tm;
	copy.tm_isdst = -1;
	time_t t = mktime(&copy);
	struct tm back;
	return t != (time_t)-1 && localtime_r(&t, &back) && back.tm_mday == tm.tm_mday &&
	       back.tm_mon == tm.tm_mon && back.tm_year == tm.tm_year;
}

int cli_run_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"node", required_argument, NULL, 'n'},
		{"date", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = NULL, *node = NULL, *date = NULL;
	struct config cfg;
	struct config_errors errs = {0};
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:n:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'n': node = optarg; break;
		case 'd': date = optarg; break;
		case 'h': run_usage(stdout); return EXIT_OK;
		default: run_usage(stderr); return EXIT_USAGE;
		}
	}
	if (!path || optind != argc) {
		fprintf(stderr, "jobsync run: %s\n", !path ? "-c FILE is required"
							 : "unexpected argument");
		run_usage(stderr);
		return EXIT_USAGE;
	}
	if (date && !valid_date(date)) {
		fprintf(stderr, "jobsync run: --date '%s' is not a date of the form YYYY-MM-DD\n", date);
		return EXIT_USAGE;
	}
	config_defaults(&cfg);
	if (config_load(path, &cfg, &errs) == 0 && node) {
		free(cfg.node);
		cfg.node = strdup(node);
		config_validate(&cfg, &errs);
	}
	if (errs.n > 0) {
		config_errors_print(&errs, stderr);
		config_errors_free(&errs);
		config_free(&cfg);
		return EXIT_CONFIG;
	}
	log_setup(cfg.node, cfg.log_level, cfg.log_format);
	rc = node_run(&cfg, date, node); /* a SIGHUP reload applies --node again */
	config_free(&cfg);
	return rc;
}
