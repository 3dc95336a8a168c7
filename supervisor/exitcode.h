/* exitcode.h: the process exit statuses jobsync documents (sysexits-style). */
#ifndef JOBSYNC_EXITCODE_H
#define JOBSYNC_EXITCODE_H

enum exitcode {
	EXIT_OK = 0,          /* success, or a clean drain */
	EXIT_USAGE = 64,      /* bad command line */
	EXIT_DATAERR = 65,    /* bad input data (task id, lock file, date) */
	EXIT_UNAVAILABLE = 69,/* database unreachable or schema missing */
	EXIT_SOFTWARE = 70,   /* internal error */
	EXIT_TEMPFAIL = 75,   /* a live node already uses this name; retry later */
	EXIT_CONFIG = 78,     /* bad config, or config that contradicts the cluster */
};

#endif
