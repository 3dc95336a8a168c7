/* dsn.h: keep database passwords out of logs: redact conninfo, scrub libpq messages. */
#ifndef JOBSYNC_DSN_H
#define JOBSYNC_DSN_H

/*
 * A malloc'd copy of conninfo (key=value form or a postgresql:// URI) that is
 * safe to log: every password value is replaced by "***". A key=value string
 * that cannot be parsed is redacted from the first unparsable key onwards.
 * Returns NULL only on allocation failure; NULL conninfo gives "".
 */
char *dsn_redact(const char *conninfo);

/*
 * Overwrite in place, with '*', every occurrence inside msg (typically a
 * libpq error message) of any password that conninfo carries, both as
 * written and as decoded (quotes, backslash escapes, %XX).
 */
void dsn_scrub_message(char *msg, const char *conninfo);

#endif
