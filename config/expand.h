/* expand.h: environment expansion of config values. */
#ifndef JOBSYNC_CONFIG_EXPAND_H
#define JOBSYNC_CONFIG_EXPAND_H

#include <stddef.h>

/*
 * Expand ${VAR}, ${VAR:-default} (default also when VAR is empty) and $$ (a
 * literal $) in s; any other $ stays as is. Returns a malloc'd string, or NULL
 * with a message in err (unset variable, bad name, unterminated "${").
 */
char *config_expand_env(const char *s, char *err, size_t errlen);

#endif
