/* cron.h: pure 5-field cron schedules: parse, next fire instant in an IANA zone (DST-aware). */
#ifndef JOBSYNC_CRON_H
#define JOBSYNC_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * A parsed schedule: one bitset per field.
 *  minutes   bit m for minute 0-59
 *  hours     bit h for hour 0-23
 *  days      bit d for day-of-month 1-31
 *  months    bit m for month 1-12
 *  weekdays  bit d for day-of-week 0-6 (Sunday = 0; "7" is folded into 0)
 *
 * dom_star / dow_star say the field was written exactly "*" (or came from a
 * macro that leaves it open). Vixie rule: when both day fields are
 * restricted, a day matches if EITHER matches; when one is "*", only the
 * other restricts. Note: "*" followed by a step ("* / 2" without spaces)
 * counts as restricted here, unlike historic Vixie/cronie, which look only at
 * the first character.
 *
 * hour_star says every hour 0-23 is in the set ("*", "0-23", ...). It picks
 * the DST behaviour (see cron_next).
 */
struct cron {
	uint64_t minutes;
	uint32_t hours;
	uint32_t days;
	uint16_t months;
	uint8_t weekdays;
	bool dom_star;
	bool dow_star;
	bool hour_star;
};

/* Results of cron_next (and cron_format_local). */
enum cron_result {
	CRON_OK = 0,
	CRON_NEVER = 1,       /* no fire instant within CRON_HORIZON_YEARS */
	CRON_BAD_TZ = -1,     /* zone name rejected by cron_valid_tz */
	CRON_BAD_TIME = -2,   /* instant outside what the C library can convert */
};

/* cron_next searches at most this many years past `after`. */
#define CRON_HORIZON_YEARS 10

/*
 * Parses a standard 5-field expression "minute hour day-of-month month
 * day-of-week" or a macro (@yearly @annually @monthly @weekly @daily
 * @midnight @hourly). Fields accept "*", numbers, lists "a,b", ranges "a-b",
 * steps "* /n" (no space), "a-b/n" and "a/n" (a through the field maximum),
 * month names JAN-DEC and day names SUN-SAT (any case, also in ranges; SUN
 * ends a range as 7: "FRI-SUN"). Day-of-week 0 and 7 are both Sunday.
 *
 * A schedule that can never fire (only day-of-month restricts and none of its
 * days occurs in any of its months, e.g. "0 0 30 2 *") is rejected here with
 * "never fires: day 30 does not occur in February".
 *
 * Returns 0 and fills *out, or -1 with a message in err (if errlen > 0)
 * naming the field and the offending token, e.g.
 * "day-of-month: 32 is out of range 1-31" or "minute: bad step '/0'".
 * Never crashes on any input (NULL expr included).
 */
int cron_parse(const char *expr, struct cron *out, char *err, size_t errlen);

/*
 * True if some day of the schedule exists in the calendar (cron_parse only
 * returns such schedules; this is for structs built by hand).
 */
bool cron_can_fire(const struct cron *c);

/*
 * True if tz is NULL or "" (the node's local zone) or names a zone file under
 * $TZDIR or /usr/share/zoneinfo ("UTC", "Europe/London"). Names with a
 * leading '/', a ".." component or unusual characters are rejected.
 */
bool cron_valid_tz(const char *tz);

/*
 * Computes the first fire instant strictly after `after` in zone tz (NULL or
 * "" = local zone), directly (year -> month -> day -> hour -> minute on the
 * bitsets, never minute by minute).
 *
 * DST, in local wall-clock terms:
 *  - Schedules with an explicit hour (hour_star false) fire ONCE per matching
 *    local time: a time skipped by a spring-forward gap fires at the first
 *    valid minute after the gap (02:30 on 2026-03-08 in America/New_York
 *    fires at 03:00 EDT; several skipped times fire once there); a time
 *    repeated by a fall-back fires at its first occurrence only.
 *  - Schedules whose hour set is every hour fire "as the clock shows": at
 *    every real minute whose local time matches, so both passes through a
 *    repeated hour fire and minutes skipped by a gap do not.
 *
 * Temporarily sets the TZ environment variable (saved and restored, with
 * tzset) when tz is given: not thread-safe, meant for the single-threaded
 * core. Returns CRON_OK with *next set, CRON_NEVER, CRON_BAD_TZ or
 * CRON_BAD_TIME.
 */
int cron_next(const struct cron *c, const char *tz, time_t after, time_t *next);

/*
 * Formats t as "2026-03-08 03:00 EDT" in zone tz (NULL or "" = local).
 * Returns CRON_OK, CRON_BAD_TZ or CRON_BAD_TIME (also when buf is too small).
 */
int cron_format_local(time_t t, const char *tz, char *buf, size_t len);

#endif
