/* work_reload.c: SIGHUP for the task engine: the mode takes the new [worker], a new [tasks] relists. */
#include <stdlib.h>
#include <string.h>

#include "config/diff.h"
#include "supervisor/log.h"
#include "supervisor/node.h"
#include "supervisor/source.h"
#include "supervisor/work.h"

/* True when a [tasks] key other than the NOTIFY channel changed (the node LISTENs for that). */
static bool source_changed(const struct config_diff *d)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].key && !d->v[i].item && !strcmp(d->v[i].section, "tasks") &&
		    strcmp(d->v[i].key->name, "channel"))
			return true;
	return false;
}

/*
 * Replace the source by one built from the new [tasks] and list at once. The
 * old one is closed (a listing under way is dropped) and freed with the engine,
 * once its handles are surely closed. Listed tasks stay known: a source can
 * add tasks, and the claims in the database decide who runs what (G1-G3).
 */
static void restart_source(struct work *w)
{
	struct source **v = realloc(w->old_src, (w->nold_src + 1) * sizeof *v);
	struct source *s = v ? source_new(w) : NULL;

	if (v)
		w->old_src = v;
	if (!s) {
		log_error("reload: cannot start the new task source (out of memory); the running "
			  "one keeps listing");
		return;
	}
	source_close(w->src);
	w->old_src[w->nold_src++] = w->src;
	w->src = s;
	/* Batch (poll_interval_sec = 0): completion waits for the new listing. */
	w->listing_done = false;
	log_info("tasks: source %s restarted by the reload; listing again",
		 source_name(w->n->cfg->tasks.source));
	source_start(s);
}

void work_reload(struct work *w, const struct config *old, const struct config_diff *d)
{
	if (w->stopped)
		return;
	if (config_diff_has(d, "worker", NULL) && w->mode->reload)
		w->mode->reload(w, old);
	if (source_changed(d))
		restart_source(w);
	/* The engine's tick (every 200 ms) starts and claims with the new limits. */
}
