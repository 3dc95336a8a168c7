/* cli_token.c: `jobsync token`: print the token of task ids (no database needed). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/cli.h"
#include "supervisor/cli_db.h"
#include "supervisor/exitcode.h"
#include "supervisor/hash.h"

#define TOKEN_DEFAULT_TOTAL 10000

static void token_usage(FILE *out)
{
	fprintf(out,
		"usage: jobsync token [-c FILE | --total N] [ID... | -]\n"
		"\n"
		"Print ID<TAB>TOKEN for each task id: MD5 of the id read as a 128-bit\n"
		"big-endian integer, modulo the number of tokens.\n"
		"\n"
		"  -c, --config FILE  take total_tokens from this config\n"
		"      --total N      number of tokens (default %d)\n"
		"  -h, --help         show this help\n"
		"\n"
		"With no ID, or with '-', ids are read from stdin, one per line.\n"
		"Exit status: 0 ok, 64 usage, 65 an invalid id (e.g. over 1024 bytes),\n"
		"78 invalid config.\n",
		TOKEN_DEFAULT_TOTAL);
}

/* Print one id's token; returns 0 or EXIT_DATAERR. */
static int token_print(const char *id, size_t len, int total)
{
	const char *why = cli_task_check(id, len);
	if (why) {
		fprintf(stderr, "jobsync: %s (%.40s%s)\n", why, id, len > 40 ? "..." : "");
		return EXIT_DATAERR;
	}
	fwrite(id, 1, len, stdout);
	printf("\t%d\n", hash_token_of(id, len, total));
	return 0;
}

/* Read ids from stdin, one per line (CR LF accepted, blank lines skipped). */
static int token_stdin(int total)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		size_t len = (size_t)n;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (len == 0)
			continue;
		if (token_print(line, len, total))
			rc = EXIT_DATAERR;
	}
	if (ferror(stdin)) {
		perror("jobsync: reading stdin");
		rc = EXIT_DATAERR;
	}
	free(line);
	return rc;
}

int cli_token_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"total", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *config_path = NULL, *total_arg = NULL;
	long total = TOKEN_DEFAULT_TOTAL;
	int opt, rc = 0;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 't':
			total_arg = optarg;
			break;
		case 'h':
			token_usage(stdout);
			return EXIT_OK;
		default:
			fprintf(stderr, "jobsync token: bad option '%s' (put -- before ids that "
				"start with '-')\n", argv[optind - 1]);
			token_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (config_path && total_arg) {
		fprintf(stderr, "jobsync token: give -c FILE or --total N, not both\n");
		token_usage(stderr);
		return EXIT_USAGE;
	}
	if (total_arg && !cli_parse_int(total_arg, 1, CLI_TOKENS_MAX, &total)) {
		fprintf(stderr, "jobsync token: --total must be an integer in 1..%d\n",
			CLI_TOKENS_MAX);
		return EXIT_USAGE;
	}
	if (config_path) {
		struct config cfg;
		rc = cli_config_load(config_path, &cfg);
		if (rc)
			return rc;
		total = cfg.total_tokens;
		config_free(&cfg);
	}
	if (optind == argc)
		rc = token_stdin((int)total);
	for (int i = optind; i < argc; i++) {
		int r = !strcmp(argv[i], "-") ? token_stdin((int)total)
					      : token_print(argv[i], strlen(argv[i]), (int)total);
		if (r)
			rc = r;
	}
	if (fflush(stdout) != 0)
		rc = EXIT_SOFTWARE;
	return rc;
}
