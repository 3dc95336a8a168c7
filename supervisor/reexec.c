/* reexec.c: one exec of ourselves with GnuTLS's implicit initialisation off (see reexec.h). */
#include "supervisor/reexec.h"

#include <stdlib.h>
#include <unistd.h>

#define GNUTLS_VAR "GNUTLS_NO_IMPLICIT_INIT"
#define MARK_VAR "JOBSYNC_REEXECED"

void reexec_lean(char **argv)
{
	if (getenv(MARK_VAR)) {
		unsetenv(MARK_VAR);
		unsetenv(GNUTLS_VAR);
		return;
	}
	if (getenv(GNUTLS_VAR))
		return;
	if (setenv(GNUTLS_VAR, "1", 1) < 0 || setenv(MARK_VAR, "1", 1) < 0)
		goto undo;
	execv("/proc/self/exe", argv);
undo:
	unsetenv(MARK_VAR);
	unsetenv(GNUTLS_VAR);
}
