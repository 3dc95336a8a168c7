/* reexec.h: start the long-running commands without GnuTLS's implicit initialisation. */
#ifndef JOBSYNC_REEXEC_H
#define JOBSYNC_REEXEC_H

/*
 * libpq links libldap, which links GnuTLS, whose library constructor loads
 * its whole crypto stack (about 0.7 MB of resident pages) although jobsync
 * never speaks TLS through it (libpq's own TLS is OpenSSL, and LDAP lookups
 * initialise GnuTLS explicitly). GnuTLS skips that work when
 * GNUTLS_NO_IMPLICIT_INIT=1 is set before the process starts, so the first
 * call sets it and execs the same binary once more (same pid); the second
 * removes the variable again, so children do not inherit it. A variable the
 * user set is left alone; if the exec fails the process simply goes on.
 */
void reexec_lean(char **argv);

#endif
