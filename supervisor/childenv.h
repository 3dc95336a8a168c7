/* childenv.h: the environment of every child (workers, services, cron): the node's plus JOBSYNC_*. */
#ifndef JOBSYNC_CHILDENV_H
#define JOBSYNC_CHILDENV_H

struct node;

/*
 * A complete, NULL-terminated environment for a child: the node's own
 * environment without any inherited JOBSYNC_* variable, then JOBSYNC_NODE and
 * JOBSYNC_SITE of n, then each "KEY=VALUE" of extra (NULL-terminated, may be
 * NULL). Returns NULL when out of memory. Free with childenv_free().
 */
char **childenv_new(const struct node *n, const char *const *extra);

void childenv_free(char **env);

#endif
