/* cli.h: entry points of the jobsync subcommands; each returns an exit code. */
#ifndef JOBSYNC_CLI_H
#define JOBSYNC_CLI_H

/* argv[0] is the subcommand name; each handles its own --help. */
int cli_run_main(int argc, char **argv);      /* supervisor/node_main.c */
int cli_status_main(int argc, char **argv);   /* supervisor/cli_status.c */
int cli_lock_main(int argc, char **argv);     /* supervisor/cli_lock.c */
int cli_initdb_main(int argc, char **argv);   /* supervisor/cli_initdb.c */
int cli_token_main(int argc, char **argv);    /* supervisor/cli_token.c */
int cli_config_main(int argc, char **argv);   /* supervisor/cli_config.c */
int cli_cron_main(int argc, char **argv);     /* supervisor/cli_cron.c */

#endif
