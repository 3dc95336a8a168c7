/* test_cron.c: cron parsing, golden next-fire table (month ends, leap days, DST), fuzz, and a slow reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "supervisor/cron.h"

/* "2026-03-08T07:00:00Z" (seconds optional) to time_t. */
static time_t iso(const char *s)
{
	struct tm tm;
	int sec = 0;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		   &tm.tm_min, &sec) < 5)
		fail_msg("bad iso %s", s);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tm.tm_sec = sec;
	return timegm(&tm);
}

static void iso_fmt(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

struct golden {
	const char *expr, *tz, *after, *next; /* next NULL: CRON_NEVER */
};

static const struct golden goldens[] = {
	/* basics, strictly after */
	{ "* * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z" },
	{ "* * * * *", "UTC", "2026-01-01T00:00:30Z", "2026-01-01T00:01:00Z" },
	{ "0 3 * * *", "UTC", "2026-01-01T03:00:00Z", "2026-01-02T03:00:00Z" },
	{ "0 3 * * *", "UTC", "2026-01-01T02:59:59Z", "2026-01-01T03:00:00Z" },
	{ "59 23 31 12 *", "UTC", "2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z" },
	/* month ends: the 31st only in long months */
	{ "0 0 31 * *", "UTC", "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z" },
	{ "0 0 31 * *", "UTC", "2026-04-01T00:00:00Z", "2026-05-31T00:00:00Z" },
	{ "0 0 31 * *", "UTC", "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z" },
	{ "0 0 30 * *", "UTC", "2026-01-30T00:00:00Z", "2026-03-30T00:00:00Z" },
	{ "0 0 31 2,4,5 *", "UTC", "2026-01-01T00:00:00Z", "2026-05-31T00:00:00Z" },
	/* leap days */
	{ "0 0 29 2 *", "UTC", "2025-01-01T00:00:00Z", "2028-02-29T00:00:00Z" },
	{ "0 0 29 2 *", "UTC", "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z" },
	{ "0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z" },
	{ "0 0 29 2 *", "America/New_York", "2025-06-01T00:00:00Z", "2028-02-29T05:00:00Z" },
	{ "0 0 28-29 2 *", "UTC", "2027-02-28T00:00:00Z", "2028-02-28T00:00:00Z" },
	/* @yearly from awkward instants, including the fire instant itself */
	{ "@yearly", "UTC", "2026-12-31T23:59:00Z", "2027-01-01T00:00:00Z" },
	{ "@yearly", "UTC", "2026-12-31T23:59:59Z", "2027-01-01T00:00:00Z" },
	{ "@yearly", "UTC", "2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z" },
	{ "@annually", "UTC", "2027-01-01T00:00:01Z", "2028-01-01T00:00:00Z" },
	{ "@yearly", "America/New_York", "2026-06-15T12:00:00Z", "2027-01-01T05:00:00Z" },
	{ "@yearly", "America/New_York", "2027-01-01T04:59:59Z", "2027-01-01T05:00:00Z" },
	{ "@yearly", "America/New_York", "2027-01-01T05:00:00Z", "2028-01-01T05:00:00Z" },
	{ "@monthly", "UTC", "2026-01-31T12:00:00Z", "2026-02-01T00:00:00Z" },
	{ "@weekly", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z" },
	{ "@daily", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z" },
	{ "@midnight", "UTC", "2026-01-01T23:59:59Z", "2026-01-02T00:00:00Z" },
	{ "@hourly", "UTC", "2026-01-01T00:59:59Z", "2026-01-01T01:00:00Z" },
	/* day-of-week 0 and 7, names (2026-01-01 is a Thursday) */
	{ "0 12 * * 0", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T12:00:00Z" },
	{ "0 12 * * 7", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T12:00:00Z" },
	{ "0 12 * * SUN", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T12:00:00Z" },
	{ "0 12 * jan sun", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T12:00:00Z" },
	{ "0 12 * * mon-fri", "UTC", "2026-01-02T12:00:00Z", "2026-01-05T12:00:00Z" },
	{ "0 12 * * FRI-SUN", "UTC", "2026-01-04T12:00:00Z", "2026-01-09T12:00:00Z" },
	{ "0 12 * * 5-7", "UTC", "2026-01-03T12:00:00Z", "2026-01-04T12:00:00Z" },
	{ "0 0 1 Feb-Apr *", "UTC", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z" },
	/* ranges with steps */
	{ "0 0 1 jan-mar/2 *", "UTC", "2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z" },
	{ "*/7 9-17 * * 1-5", "UTC", "2026-01-02T17:56:00Z", "2026-01-05T09:00:00Z" },
	{ "*/7 9-17 * * 1-5", "UTC", "2026-01-05T09:00:00Z", "2026-01-05T09:07:00Z" },
	{ "10-50/20 * * * *", "UTC", "2026-01-01T00:30:00Z", "2026-01-01T00:50:00Z" },
	{ "5/15 * * * *", "UTC", "2026-01-01T00:50:00Z", "2026-01-01T01:05:00Z" },
	{ "0 */6 * * *", "UTC", "2026-01-01T18:00:00Z", "2026-01-02T00:00:00Z" },
	/* Vixie rule: both restricted = either; one "*" = only the other */
	{ "0 0 13 * 5", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z" },
	{ "0 0 13 * 5", "UTC", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z" },
	{ "0 0 13 * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-13T00:00:00Z" },
	{ "0 0 * * 5", "UTC", "2026-01-09T00:00:00Z", "2026-01-16T00:00:00Z" },
	{ "0 0 */10 * 1", "UTC", "2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z" },
	{ "0 0 */10 * 1", "UTC", "2026-01-05T00:00:00Z", "2026-01-11T00:00:00Z" },
	{ "0 0 31 2 1", "UTC", "2026-01-31T00:00:00Z", "2026-02-02T00:00:00Z" },
	/* New York spring forward 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z) */
	{ "30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T07:00:00Z" },
	{ "30 2 * * *", "America/New_York", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z" },
	{ "0 3 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T07:00:00Z" },
	{ "*/15 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T07:00:00Z" },
	{ "*/15 2 * * *", "America/New_York", "2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z" },
	{ "*/15 * * * *", "America/New_York", "2026-03-08T06:45:00Z", "2026-03-08T07:00:00Z" },
	{ "30 * * * *", "America/New_York", "2026-03-08T06:30:00Z", "2026-03-08T07:30:00Z" },
	{ "0 2 8 3 *", "America/New_York", "2026-01-01T00:00:00Z", "2026-03-08T07:00:00Z" },
	/* New York fall back 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z) */
	{ "30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", "2026-11-01T05:30:00Z" },
	{ "30 1 * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z" },
	{ "30 1 * * *", "America/New_York", "2026-11-01T06:10:00Z", "2026-11-02T06:30:00Z" },
	{ "*/30 * * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z" },
	{ "*/30 * * * *", "America/New_York", "2026-11-01T06:00:00Z", "2026-11-01T06:30:00Z" },
	{ "*/30 * * * *", "America/New_York", "2026-11-01T06:30:00Z", "2026-11-01T07:00:00Z" },
	{ "0 * * * *", "America/New_York", "2026-11-01T05:10:00Z", "2026-11-01T06:00:00Z" },
	{ "0 2 * * *", "America/New_York", "2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z" },
	{ "* 1 * * *", "America/New_York", "2026-11-01T05:59:00Z", "2026-11-02T06:00:00Z" },
	/* London spring forward 2026-03-29 01:00 GMT -> 02:00 BST (01:00Z) */
	{ "30 1 * * *", "Europe/London", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z" },
	{ "30 1 * * *", "Europe/London", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z" },
	{ "@daily", "Europe/London", "2026-03-28T23:59:00Z", "2026-03-29T00:00:00Z" },
	{ "*/20 * * * *", "Europe/London", "2026-03-29T00:40:00Z", "2026-03-29T01:00:00Z" },
	/* London fall back 2026-10-25 02:00 BST -> 01:00 GMT (01:00Z) */
	{ "30 1 * * *", "Europe/London", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z" },
	{ "30 1 * * *", "Europe/London", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z" },
	{ "*/20 * * * *", "Europe/London", "2026-10-25T00:50:00Z", "2026-10-25T01:00:00Z" },
	{ "*/20 * * * *", "Europe/London", "2026-10-25T01:40:00Z", "2026-10-25T02:00:00Z" },
	/* other zones */
	{ "0 9 * * *", "Asia/Kolkata", "2026-01-01T00:00:00Z", "2026-01-01T03:30:00Z" },
	{ "0 9 * * *", "Australia/Sydney", "2026-01-01T00:00:00Z", "2026-01-01T22:00:00Z" },
};

/* The golden table: parse, compute, compare; each call is fast. */
static void test_cron_golden(void **state)
{
	char err[256], got[32];

	(void)state;
	for (size_t i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
		const struct golden *g = &goldens[i];
		struct cron c;
		time_t next = 0;
		int rc;

		if (cron_parse(g->expr, &c, err, sizeof(err)) != 0)
			fail_msg("%s: %s", g->expr, err);
		rc = cron_next(&c, g->tz, iso(g->after), &next);
		if (g->next == NULL) {
			assert_int_equal(rc, CRON_NEVER);
			continue;
		}
		iso_fmt(next, got, sizeof(got));
		if (rc != CRON_OK || next != iso(g->next))
			fail_msg("'%s' %s after %s: got rc %d %s, want %s", g->expr, g->tz, g->after,
				 rc, got, g->next);
	}
}

struct parse_error {
	const char *expr, *msg;
};

static const struct parse_error parse_errors[] = {
	{ "60 * * * *", "minute: 60 is out of range 0-59" },
	{ "* 24 * * *", "hour: 24 is out of range 0-23" },
	{ "* * 32 * *", "day-of-month: 32 is out of range 1-31" },
	{ "* * 0 * *", "day-of-month: 0 is out of range 1-31" },
	{ "* * * 13 *", "month: 13 is out of range 1-12" },
	{ "* * * * 8", "day-of-week: 8 is out of range 0-7" },
	{ "99999999999 * * * *", "minute: 99999999999 is out of range 0-59" },
	{ "*/0 * * * *", "minute: bad step '/0'" },
	{ "*/x * * * *", "minute: bad step '/x'" },
	{ "1/ * * * *", "minute: bad step '/'" },
	{ "* */25 * * *", "hour: step '/25' is out of range 1-24" },
	{ "* * * foo *", "month: bad value 'foo'" },
	{ "* * * * sunday", "day-of-week: bad value 'sunday'" },
	{ "* * * * jan", "day-of-week: bad value 'jan'" },
	{ "5-1 * * * *", "minute: range '5-1' is backwards" },
	{ "* * * * MON-", "day-of-week: missing value" },
	{ "1,,2 * * * *", "minute: empty list item" },
	{ "1, * * * *", "minute: empty list item" },
	{ "* * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 3" },
	{ "* * * * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 6" },
	{ "", "empty schedule" },
	{ "   \t ", "empty schedule" },
	{ "@reboot", "unknown macro '@reboot'" },
	{ "@daily x", "unexpected text after @daily" },
	{ "0 0 30 2 *", "never fires: day 30 does not occur in February" },
	{ "0 0 30,31 feb *", "never fires: day 30 does not occur in February" },
	{ "0 0 31 4,6,9,11 *",
	  "never fires: day 31 does not occur in April, June, September or November" },
	{ "0 0 31 2,4 *", "never fires: day 31 does not occur in February or April" },
};

/* Errors name the field and the token. */
static void test_cron_parse_errors(void **state)
{
	char err[256];
	struct cron c;

	(void)state;
	for (size_t i = 0; i < sizeof(parse_errors) / sizeof(parse_errors[0]); i++) {
		strcpy(err, "untouched");
		assert_int_equal(cron_parse(parse_errors[i].expr, &c, err, sizeof(err)), -1);
		assert_string_equal(err, parse_errors[i].msg);
	}
	assert_int_equal(cron_parse(NULL, &c, err, sizeof(err)), -1);
	assert_int_equal(cron_parse("* * * * *", NULL, err, sizeof(err)), -1);
	/* tiny or absent buffers are fine */
	assert_int_equal(cron_parse("61 * * * *", &c, err, 4), -1);
	assert_string_equal(err, "min");
	assert_int_equal(cron_parse("61 * * * *", &c, NULL, 0), -1);
}

/* The bitsets and flags. */
static void test_cron_parse_struct(void **state)
{
	char err[128];
	struct cron c;

	(void)state;
	assert_int_equal(cron_parse("* * * * *", &c, err, sizeof(err)), 0);
	assert_true(c.minutes == (UINT64_C(1) << 60) - 1);
	assert_true(c.hours == 0xffffffu && c.hour_star);
	assert_true(c.days == 0xfffffffeu && c.months == 0x1ffe && c.weekdays == 0x7f);
	assert_true(c.dom_star && c.dow_star);
	assert_int_equal(cron_parse("0 0 * * 7", &c, err, sizeof(err)), 0);
	assert_int_equal(c.weekdays, 1);
	assert_int_equal(cron_parse("0 0 * * 5-7", &c, err, sizeof(err)), 0);
	assert_int_equal(c.weekdays, 1 | 1 << 5 | 1 << 6);
	assert_int_equal(cron_parse("0 0 * * Sat-Sun", &c, err, sizeof(err)), 0);
	assert_int_equal(c.weekdays, 1 | 1 << 6);
	assert_int_equal(cron_parse("@weekly", &c, err, sizeof(err)), 0);
	assert_true(c.minutes == 1 && c.hours == 1 && c.weekdays == 1 && c.dom_star && !c.dow_star);
	assert_int_equal(cron_parse("  @HOURLY  ", &c, err, sizeof(err)), 0);
	assert_true(c.minutes == 1 && c.hour_star);
	assert_int_equal(cron_parse("0 0 */2 * *", &c, err, sizeof(err)), 0);
	assert_false(c.dom_star); /* "*" with a step counts as restricted */
	assert_int_equal(c.days, 0xaaaaaaaau);
	assert_int_equal(cron_parse("0 0-23 * * *", &c, err, sizeof(err)), 0);
	assert_true(c.hour_star);
	assert_int_equal(cron_parse("0 1-23 * * *", &c, err, sizeof(err)), 0);
	assert_false(c.hour_star);
	assert_int_equal(cron_parse("1,2,3-5,50-59/3 * * * *", &c, err, sizeof(err)), 0);
	assert_true(c.minutes == (0x3eu | UINT64_C(1) << 50 | UINT64_C(1) << 53 |
				  UINT64_C(1) << 56 | UINT64_C(1) << 59));
	assert_int_equal(cron_parse("\t0\t0  1 1\t* \n", &c, err, sizeof(err)), 0);
	assert_true(cron_can_fire(&c));
}

/* Impossible schedules: rejected at parse, NEVER (fast) for hand-built structs. */
static void test_cron_never(void **state)
{
	struct cron c;
	time_t next = 0;
	clock_t t0 = clock();

	(void)state;
	memset(&c, 0, sizeof(c));
	c.minutes = 1;
	c.hours = 1;
	c.days = 1u << 30;
	c.months = 1u << 2;
	c.weekdays = 0x7f;
	c.dow_star = true;
	assert_false(cron_can_fire(&c));
	assert_int_equal(cron_next(&c, "UTC", iso("2026-01-01T00:00:00Z"), &next), CRON_NEVER);
	c.days = 1u << 29;
	assert_true(cron_can_fire(&c));
	assert_int_equal(cron_next(&c, "UTC", iso("2026-01-01T00:00:00Z"), &next), CRON_OK);
	assert_true(next == iso("2028-02-29T00:00:00Z"));
	memset(&c, 0, sizeof(c)); /* empty sets */
	assert_false(cron_can_fire(&c));
	assert_int_equal(cron_next(&c, NULL, 0, &next), CRON_NEVER);
	/* rare schedules stay fast: 2000 searches of 3-8 years */
	assert_int_equal(cron_parse("0 0 29 2 *", &c, NULL, 0), 0);
	for (int i = 0; i < 2000; i++)
		assert_int_equal(cron_next(&c, "America/New_York",
					   iso("2096-03-01T00:00:00Z") + i * 3600, &next), CRON_OK);
	assert_true(next == iso("2104-02-29T05:00:00Z"));
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);
	assert_int_equal(cron_next(&c, "UTC", (time_t)INT64_MAX / 2, &next), CRON_BAD_TIME);
}

/* Zone names, TZ restored, local formatting. */
static void test_cron_tz(void **state)
{
	struct cron c;
	time_t next;
	char buf[64];

	(void)state;
	assert_true(cron_valid_tz(NULL));
	assert_true(cron_valid_tz(""));
	assert_true(cron_valid_tz("UTC"));
	assert_true(cron_valid_tz("America/New_York"));
	assert_true(cron_valid_tz("Europe/London"));
	assert_false(cron_valid_tz("../etc/passwd"));
	assert_false(cron_valid_tz("America/../UTC"));
	assert_false(cron_valid_tz("/usr/share/zoneinfo/UTC"));
	assert_false(cron_valid_tz("Nowhere/Atlantis"));
	assert_false(cron_valid_tz("America"));
	assert_false(cron_valid_tz("zone.tab"));
	assert_false(cron_valid_tz("UTC;rm"));
	assert_int_equal(cron_parse("@daily", &c, NULL, 0), 0);
	assert_int_equal(cron_next(&c, "Mars/Olympus", 0, &next), CRON_BAD_TZ);

	setenv("TZ", "Asia/Tokyo", 1);
	assert_int_equal(cron_next(&c, "America/New_York", 0, &next), CRON_OK);
	assert_string_equal(getenv("TZ"), "Asia/Tokyo");
	/* local zone (NULL) follows TZ: Tokyo midnight is 15:00Z */
	assert_int_equal(cron_next(&c, NULL, iso("2026-01-01T00:00:00Z"), &next), CRON_OK);
	assert_true(next == iso("2026-01-01T15:00:00Z"));
	unsetenv("TZ");
	assert_int_equal(cron_next(&c, "Europe/London", 0, &next), CRON_OK);
	assert_null(getenv("TZ"));

	assert_int_equal(cron_format_local(iso("2026-03-08T07:00:00Z"), "America/New_York", buf,
					   sizeof(buf)), CRON_OK);
	assert_string_equal(buf, "2026-03-08 03:00 EDT");
	assert_int_equal(cron_format_local(iso("2026-07-01T12:00:00Z"), "Europe/London", buf,
					   sizeof(buf)), CRON_OK);
	assert_string_equal(buf, "2026-07-01 13:00 BST");
	assert_int_equal(cron_format_local(0, "UTC", buf, sizeof(buf)), CRON_OK);
	assert_string_equal(buf, "1970-01-01 00:00 UTC");
	assert_int_equal(cron_format_local(0, "../x", buf, sizeof(buf)), CRON_BAD_TZ);
	assert_int_equal(cron_format_local(0, "UTC", buf, 5), CRON_BAD_TIME);
	assert_null(getenv("TZ"));
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int rnd_in(int lo, int hi)
{
	return lo + (int)(rnd() % (uint64_t)(hi - lo + 1));
}

/* Random strings from cron-ish fragments and raw bytes: parse never crashes, errors are set. */
static void test_cron_fuzz(void **state)
{
	static const char *const frags[] = {
		"*", "/", "-", ",", " ", "\t", "0", "1", "7", "59", "60", "31", "32", "12", "99999",
		"jan", "DEC", "sun", "Sat", "mon", "@", "@daily", "@yearly", "@", "x", "*/", "/0",
		"-", "2-", "--", ",,", "\xff", "%s", "%n", "7-0",
	};
	char buf[96], err[128];
	struct cron c;
	time_t next;

	(void)state;
	for (int i = 0; i < 100000; i++) {
		size_t n = 0;
		int parts = rnd_in(0, 14);

		for (int k = 0; k < parts && n < 80; k++) {
			if (rnd() % 8 == 0) {
				buf[n++] = (char)rnd_in(1, 255);
				continue;
			}
			const char *f = frags[rnd() % (sizeof(frags) / sizeof(frags[0]))];
			size_t fl = strlen(f);

			if (n + fl >= 80)
				break;
			memcpy(buf + n, f, fl);
			n += fl;
		}
		buf[n] = '\0';
		err[0] = '\0';
		if (cron_parse(buf, &c, err, sizeof(err)) != 0) {
			assert_true(err[0] != '\0');
			assert_non_null(memchr(err, '\0', sizeof(err)));
			continue;
		}
		assert_true(cron_can_fire(&c));
		if (i % 4 == 0)
			assert_int_equal(cron_next(&c, i % 8 ? "UTC" : "Europe/London",
						   (time_t)(rnd() % 4000000000u), &next), CRON_OK);
	}
	/* hand-built structs with stray bits: an answer or NEVER, never a hang */
	for (int i = 0; i < 20000; i++) {
		int rc;

		c.minutes = rnd() & rnd();
		c.hours = (uint32_t)(rnd() & rnd());
		c.days = (uint32_t)(rnd() & rnd() & rnd());
		c.months = (uint16_t)(rnd() & rnd());
		c.weekdays = (uint8_t)(rnd() & rnd());
		c.dom_star = rnd() % 2;
		c.dow_star = rnd() % 2;
		c.hour_star = rnd() % 2;
		if (c.dom_star)
			c.days = 0xfffffffeu;
		if (c.dow_star)
			c.weekdays = 0x7f;
		rc = cron_next(&c, i % 2 ? "UTC" : "America/New_York",
			       (time_t)(rnd() % 4000000000u), &next);
		assert_true(rc == CRON_OK || rc == CRON_NEVER);
		/* consistent star flags: NEVER only when nothing can fire */
		assert_true(rc != CRON_NEVER || !cron_can_fire(&c));
	}
}

/* Independent matcher: local seconds l (as if UTC) against c with the Vixie rule. */
static bool ref_matches(const struct cron *c, int64_t l)
{
	time_t t = (time_t)l;
	struct tm tm;
	bool dom, dow;

	gmtime_r(&t, &tm);
	if (!(c->minutes >> tm.tm_min & 1) || !(c->hours >> tm.tm_hour & 1) ||
	    !(c->months >> (tm.tm_mon + 1) & 1))
		return false;
	dom = c->days >> tm.tm_mday & 1;
	dow = c->weekdays >> tm.tm_wday & 1;
	return (c->dom_star || c->dow_star) ? dom && dow : dom || dow;
}

/*
 * Slow reference in the zone set in TZ: scan every real minute from 4 hours
 * before `after` to after + horizon. Explicit hours fire on local times never
 * shown before (first occurrence) and at the first minute after a gap that
 * skipped a match; "*" hours fire whenever the clock shows a match.
 */
static bool ref_next(const struct cron *c, time_t after, time_t horizon, time_t *out)
{
	time_t t = (after / 60) * 60 - 4 * 3600;
	int64_t maxl = INT64_MIN, prevl = INT64_MIN;
	bool star = c->hours == 0xffffffu;

	for (; t <= after + horizon; t += 60) {
		struct tm tm;
		int64_t l;
		bool fire;

		localtime_r(&t, &tm);
		l = (int64_t)t + tm.tm_gmtoff;
		fire = ref_matches(c, l) && (star || l > maxl);
		if (!star && !fire && prevl != INT64_MIN && l - prevl > 60)
			for (int64_t s = prevl + 60; s < l && !fire; s += 60)
				fire = s > maxl && ref_matches(c, s);
		if (fire && t > after) {
			*out = t;
			return true;
		}
		if (l > maxl)
			maxl = l;
		prevl = l;
	}
	return false;
}

/* A random field in s: "*", a value, a list, a range, or a step. */
static void rnd_field(char *s, size_t len, int lo, int hi, int star_pct)
{
	int a = rnd_in(lo, hi), b = rnd_in(lo, hi), k = rnd_in(1, 4);

	if (a > b) {
		int x = a;
		a = b;
		b = x;
	}
	if (rnd_in(1, 100) <= star_pct) {
		snprintf(s, len, "*");
		return;
	}
	switch (rnd_in(0, 4)) {
	case 0: snprintf(s, len, "%d", a); break;
	case 1: snprintf(s, len, "%d,%d", a, b); break;
	case 2: snprintf(s, len, "%d-%d", a, b); break;
	case 3: snprintf(s, len, "*/%d", k + 1); break;
	default: snprintf(s, len, "%d-%d/%d", a, b, k); break;
	}
}

/* cron_next equals the minute-by-minute reference (3-day horizon) in UTC and DST zones. */
static void test_cron_property(void **state)
{
	static const char *const zones[] = { "UTC", "America/New_York", "Europe/London" };
	static const char *const transitions[] = {
		"2026-03-08T07:00:00Z", "2026-11-01T06:00:00Z",
		"2026-03-29T01:00:00Z", "2026-10-25T01:00:00Z",
	};
	const time_t horizon = 3 * 86400;
	int checked = 0, fired = 0;

	(void)state;
	for (int z = 0; z < 3; z++) {
		char tzenv[64];

		snprintf(tzenv, sizeof(tzenv), ":%s", zones[z]);
		for (int i = 0; i < 400; i++) {
			char f[5][32], expr[200], err[128];
			struct cron c;
			time_t after, want = 0, got = 0;
			bool has;
			int rc;

			rnd_field(f[0], 32, 0, 59, 30);
			/* hours near the DST hours (0-3) half the time */
			rnd_field(f[1], 32, 0, rnd() % 2 ? 3 : 23, 40);
			rnd_field(f[2], 32, 1, 31, 75);
			rnd_field(f[3], 32, 1, 12, 85);
			rnd_field(f[4], 32, 0, 7, 65);
			snprintf(expr, sizeof(expr), "%s %s %s %s %s", f[0], f[1], f[2], f[3], f[4]);
			if (cron_parse(expr, &c, err, sizeof(err)) != 0)
				continue;
			if (z > 0 && rnd() % 4 != 0)
				after = iso(transitions[rnd() % 2 + (z == 2 ? 2 : 0)]) +
					rnd_in(-36 * 3600, 36 * 3600);
			else
				after = iso("2024-01-01T00:00:00Z") + (time_t)(rnd() % (6 * 365 * 86400u));
			if (rnd() % 2)
				after -= after % 60;
			rc = cron_next(&c, zones[z], after, &got);
			assert_int_equal(rc, CRON_OK);
			setenv("TZ", tzenv, 1);
			tzset();
			has = ref_next(&c, after, horizon, &want);
			unsetenv("TZ");
			tzset();
			checked++;
			if (has) {
				fired++;
				if (got != want) {
					char a[32], g[32], w[32];

					iso_fmt(after, a, sizeof(a));
					iso_fmt(got, g, sizeof(g));
					iso_fmt(want, w, sizeof(w));
					fail_msg("'%s' %s after %s: got %s, reference %s", expr, zones[z],
						 a, g, w);
				}
			} else {
				assert_true(got > after + horizon);
			}
		}
	}
	print_message("property: %d checked, %d fired within 3 days\n", checked, fired);
	assert_true(checked > 1000 && fired > 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cron_golden),
		cmocka_unit_test(test_cron_parse_errors),
		cmocka_unit_test(test_cron_parse_struct),
		cmocka_unit_test(test_cron_never),
		cmocka_unit_test(test_cron_tz),
		cmocka_unit_test(test_cron_fuzz),
		cmocka_unit_test(test_cron_property),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
