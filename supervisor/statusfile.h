/* statusfile.h: the status JSON written atomically (temp, fsync, rename) off the loop. */
#ifndef JOBSYNC_STATUSFILE_H
#define JOBSYNC_STATUSFILE_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

struct statusfile;

/*
 * Check that path can be written (its directory exists and is writable) and
 * prepare the writer. NULL with a message in err on failure.
 */
struct statusfile *statusfile_new(uv_loop_t *loop, const char *path, char *err, size_t errlen);

/* Write text (taken over, malloc'd) as the file's new content. One write runs
 * at a time in the thread pool; a newer text replaces one still waiting. */
void statusfile_write(struct statusfile *f, char *text);

/* No write in flight or waiting. */
bool statusfile_idle(const struct statusfile *f);

/* Free once idle (a write in flight finishes first; then the writer frees itself). */
void statusfile_free(struct statusfile *f);

#endif
