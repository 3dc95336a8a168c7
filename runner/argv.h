/* argv.h: worker commands: split without a shell, and "{}" replaced by the task id. */
#ifndef JOBSYNC_ARGV_H
#define JOBSYNC_ARGV_H

#include <stddef.h>

/*
 * Split a command line into a NULL-terminated argv like a POSIX shell's
 * word splitting with quotes ('...', "...", backslash) but no expansion of
 * any kind. Returns 0, or -1 with *err set to a static message (unterminated
 * quote, empty command). Free with argv_free().
 */
int argv_split(const char *cmd, char ***out, const char **err);

/* Copy of argv with every "{}" inside each element replaced by id (one element each). */
char **argv_subst(char *const *argv, const char *id);

/* True when some element contains "{}". */
int argv_has_placeholder(char *const *argv);

void argv_free(char **argv);

#endif
