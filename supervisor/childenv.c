/* childenv.c: build the environment of leader-only children (services, cron). */
#include "supervisor/childenv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/node.h"

extern char **environ;

/* Append a copy of s (or "key=value" when value is given) at env[*k]; false when out of memory. */
static bool childenv_put(char **env, size_t *k, const char *key, const char *value)
{
	char *s;

	if (value) {
		size_t len = strlen(key) + strlen(value) + 2;
		s = malloc(len);
		if (s)
			snprintf(s, len, "%s=%s", key, value);
	} else {
		s = strdup(key);
	}
	if (!s)
		return false;
	env[(*k)++] = s;
	return true;
}

char **childenv_new(const struct node *n, const char *const *extra)
{
	size_t count = 0, nextra = 0, k = 0;
	char **env;

	while (environ[count])
		count++;
	while (extra && extra[nextra])
		nextra++;
	env = calloc(count + nextra + 3, sizeof *env);
	if (!env)
		return NULL;
	/* A node started by another jobsync must not pass its parent's identity on. */
	for (size_t i = 0; i < count; i++)
		if (strncmp(environ[i], "JOBSYNC_", 8) != 0 && !childenv_put(env, &k, environ[i], NULL))
			goto fail;
	if (!childenv_put(env, &k, "JOBSYNC_NODE", n->cfg->node ? n->cfg->node : "") ||
	    !childenv_put(env, &k, "JOBSYNC_SITE", n->cfg->site ? n->cfg->site : ""))
		goto fail;
	for (size_t i = 0; i < nextra; i++)
		if (!childenv_put(env, &k, extra[i], NULL))
			goto fail;
	return env;
fail:
	childenv_free(env);
	return NULL;
}

void childenv_free(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}
