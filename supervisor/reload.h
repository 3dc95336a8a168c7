/* reload.h: SIGHUP: read the config file again, validate, diff, then apply live or refuse as a whole. */
#ifndef JOBSYNC_RELOAD_H
#define JOBSYNC_RELOAD_H

struct node;

/*
 * SIGHUP. Load the node's file into a fresh config (with --node applied again,
 * as at startup) and validate it: any error is logged as FILE:LINE: message
 * and the node keeps its running config. A change to a key that only a
 * restart applies (dsn, node, prefix, total_tokens, ...) refuses the whole
 * reload, naming the key. Otherwise everything else is applied live (log,
 * worker, task source, locks, services, cron jobs), n->cfg becomes the new
 * config, and one summary line is logged. n->reloads, n->reload_failures and
 * n->last_reload_ok record the outcome.
 */
void reload_run(struct node *n);

/* At exit, after everything that may point into them is freed: free the reloaded configs. */
void reload_free(struct node *n);

#endif
