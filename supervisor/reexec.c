/* reexec.c: one exec of ourselves with GnuTLS's implicit initialisation off (see reexec.h). */
#include "supervisor/reexec.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#define GNUTLS_VAR "GNUTLS_NO_IMPLICIT_INIT"
#define MARK_VAR "JOBSYNC_REEXECED"

void reexec_lean(char **argv)
{
	char path[PATH_MAX];

	if (getenv(MARK_VAR)) {
		unsetenv(MARK_VAR);
		unsetenv(GNUTLS_VAR);
		return;
	}
	if (getenv(GNUTLS_VAR))
		return;
	/* The real path, not /proc/self/exe: the process name (comm) comes from it. */
	ssize_t len = readlink("/proc/self/exe", path, sizeof path - 1);
	if (len <= 0 || (size_t)len >= sizeof path - 1)
		return;
	path[len] = '\0';
	if (setenv(GNUTLS_VAR, "1", 1) < 0 || setenv(MARK_VAR, "1", 1) < 0)
		goto undo;
	execv(path, argv);
undo:
	unsetenv(MARK_VAR);
	unsetenv(GNUTLS_VAR);
}
