/* validate_work.h: checks of [tasks], [worker], [service.NAME] and [cron.NAME]. */
#ifndef JOBSYNC_CONFIG_VALIDATE_WORK_H
#define JOBSYNC_CONFIG_VALIDATE_WORK_H

#include "config/config.h"

/*
 * Required keys of every repeated section, task sources, worker modes,
 * commands (split as the runner will), cron schedules and zones, retry
 * delays; appends to *errs.
 */
void config_validate_work(const struct config *cfg, struct config_errors *errs);

#endif
