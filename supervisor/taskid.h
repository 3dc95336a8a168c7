/* taskid.h: the rule for task ids (SPEC: UTF-8 text up to 1024 bytes). */
#ifndef JOBSYNC_TASKID_H
#define JOBSYNC_TASKID_H

#include <stddef.h>

#define TASKID_MAX 1024

/*
 * NULL when id[0..len) is a usable task id: 1 to 1024 bytes of valid UTF-8
 * without NUL or line breaks (ids travel one per line to stream workers and
 * PostgreSQL text cannot hold NUL or invalid UTF-8); else why not.
 */
const char *taskid_problem(const char *id, size_t len);

#endif
