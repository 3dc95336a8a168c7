/* cron.c: parse 5-field cron schedules and compute the next fire instant directly, DST-aware. */
#include "supervisor/cron.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One of the five fields: its name, bounds and optional 3-letter names. */
struct cron_field {
	const char *name;
	int min, max;
	const char *const *names; /* names[i] has value min + i (NULL: none) */
	int nnames;
};

static const char *const cron_month_abbr[] = {
	"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
};
static const char *const cron_month_full[] = {
	"January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December",
};
static const char *const cron_day_abbr[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

static const struct cron_field cron_fields[5] = {
	{ "minute", 0, 59, NULL, 0 },
	{ "hour", 0, 23, NULL, 0 },
	{ "day-of-month", 1, 31, NULL, 0 },
	{ "month", 1, 12, cron_month_abbr, 12 },
	{ "day-of-week", 0, 7, cron_day_abbr, 7 },
};

static const struct {
	const char *name;
	const char *expr;
} cron_macros[] = {
	{ "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" }, { "@daily", "0 0 * * *" },    { "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

#define CRON_TOKEN_SHOW 40 /* longest token quoted in an error message */

/* Writes a formatted message to err (if any room) and returns -1. */
__attribute__((format(printf, 3, 4)))
static int cron_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static bool cron_is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static int cron_lower(char ch)
{
	return (ch >= 'A' && ch <= 'Z') ? ch - 'A' + 'a' : (unsigned char)ch;
}

/* Token length clipped for quoting in messages. */
static int cron_show(size_t n)
{
	return n > CRON_TOKEN_SHOW ? CRON_TOKEN_SHOW : (int)n;
}

/*
 * Parses one value (a number or a 3-letter name) of field f from s[0..n).
 * *named tells if it was a name. Range errors name the token.
 */
static int cron_value(const struct cron_field *f, const char *s, size_t n, int *v, bool *named,
		      char *err, size_t errlen)
{
	size_t i;

	*named = false;
	if (n == 0)
		return cron_fail(err, errlen, "%s: missing value", f->name);
	for (i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		;
	if (i == n) {
		int x = 0;

		for (i = 0; i < n && x <= 1000; i++)
			x = x * 10 + (s[i] - '0');
		if (x < f->min || x > f->max)
			return cron_fail(err, errlen, "%s: %.*s is out of range %d-%d", f->name,
					 cron_show(n), s, f->min, f->max);
		*v = x;
		return 0;
	}
	if (f->names != NULL && n == 3) {
		for (int k = 0; k < f->nnames; k++) {
			const char *nm = f->names[k];

			if (cron_lower(s[0]) == nm[0] && cron_lower(s[1]) == nm[1] &&
			    cron_lower(s[2]) == nm[2]) {
				*v = f->min + k;
				*named = true;
				return 0;
			}
		}
	}
	return cron_fail(err, errlen, "%s: bad value '%.*s'", f->name, cron_show(n), s);
}

/*
 * Parses one list item ("*", "a", "a-b", each optionally "/n") of field f
 * from s[0..n) and adds its values to *bits.
 */
static int cron_item(const struct cron_field *f, const char *s, size_t n, uint64_t *bits,
		     char *err, size_t errlen)
{
	const char *slash = memchr(s, '/', n);
	size_t base_n = slash != NULL ? (size_t)(slash - s) : n;
	int lo, hi, step = 1;
	bool named;

	if (n == 0)
		return cron_fail(err, errlen, "%s: empty list item", f->name);
	if (slash != NULL) {
		size_t sn = n - base_n - 1;
		int x = 0;

		if (sn == 0 || sn > 3)
			return cron_fail(err, errlen, "%s: bad step '/%.*s'", f->name, cron_show(sn),
					 slash + 1);
		for (size_t i = 0; i < sn; i++) {
			if (slash[1 + i] < '0' || slash[1 + i] > '9')
				return cron_fail(err, errlen, "%s: bad step '/%.*s'", f->name,
						 cron_show(sn), slash + 1);
			x = x * 10 + (slash[1 + i] - '0');
		}
		if (x == 0)
			return cron_fail(err, errlen, "%s: bad step '/%.*s'", f->name, cron_show(sn),
					 slash + 1);
		if (x > f->max - f->min + 1)
			return cron_fail(err, errlen, "%s: step '/%d' is out of range 1-%d", f->name, x,
					 f->max - f->min + 1);
		step = x;
	}
	if (base_n == 1 && s[0] == '*') {
		lo = f->min;
		hi = f->max;
		if (f->max == 7) /* day-of-week: 7 would repeat Sunday */
			hi = 6;
	} else {
		const char *dash = memchr(s, '-', base_n);

		if (dash == NULL) {
			if (cron_value(f, s, base_n, &lo, &named, err, errlen) != 0)
				return -1;
			hi = slash != NULL ? f->max : lo;
		} else {
			size_t an = (size_t)(dash - s), bn = base_n - an - 1;

			if (cron_value(f, s, an, &lo, &named, err, errlen) != 0 ||
			    cron_value(f, dash + 1, bn, &hi, &named, err, errlen) != 0)
				return -1;
			if (f->max == 7 && named && hi == 0 && lo > 0) /* "FRI-SUN" */
				hi = 7;
			if (lo > hi)
				return cron_fail(err, errlen, "%s: range '%.*s' is backwards", f->name,
						 cron_show(base_n), s);
		}
	}
	for (int v = lo; v <= hi; v += step)
		*bits |= (uint64_t)1 << v;
	return 0;
}

/* Parses a whole field s[0..n) (a comma list) into *bits. */
static int cron_field_parse(const struct cron_field *f, const char *s, size_t n, uint64_t *bits,
			    char *err, size_t errlen)
{
	size_t start = 0;

	*bits = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != ',')
			continue;
		if (cron_item(f, s + start, i - start, bits, err, errlen) != 0)
			return -1;
		start = i + 1;
	}
	if (f->max == 7 && (*bits & (1u << 7)) != 0) /* day-of-week 7 is Sunday */
		*bits = (*bits & ~((uint64_t)1 << 7)) | 1;
	return 0;
}

static bool cron_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int cron_days_in_month(int64_t y, int m)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && cron_leap(y) ? 29 : dim[m - 1];
}

/* Month m's largest day in any year (February: 29). */
static int cron_max_days(int m)
{
	return m == 2 ? 29 : cron_days_in_month(2001, m);
}

/* Finds the first month of c whose days (dom-only schedules) all miss it; -1 if every day fits. */
static int cron_impossible_day(const struct cron *c)
{
	if (c->dom_star || !c->dow_star)
		return -1;
	for (int m = 1; m <= 12; m++) {
		if (!(c->months >> m & 1))
			continue;
		for (int d = 1; d <= cron_max_days(m); d++)
			if (c->days >> d & 1)
				return -1;
	}
	for (int d = 1; d <= 31; d++)
		if (c->days >> d & 1)
			return d;
	return 0;
}

bool cron_can_fire(const struct cron *c)
{
	if (c == NULL || (c->minutes & ((UINT64_C(1) << 60) - 1)) == 0 ||
	    (c->hours & 0xffffffu) == 0 || (c->months & 0x1ffeu) == 0)
		return false;
	if ((c->dom_star || c->dow_star) && ((c->days & 0xfffffffeu) == 0 || (c->weekdays & 0x7f) == 0))
		return false;
	if (!c->dom_star && !c->dow_star && (c->days & 0xfffffffeu) == 0 && (c->weekdays & 0x7f) == 0)
		return false;
	return cron_impossible_day(c) < 0;
}

int cron_parse(const char *expr, struct cron *out, char *err, size_t errlen)
{
	const char *tok[5];
	size_t len[5];
	uint64_t bits[5];
	struct cron c;
	int nf = 0, bad;
	const char *p;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (expr == NULL || out == NULL)
		return cron_fail(err, errlen, "no schedule");
	for (p = expr; cron_is_space(*p); p++)
		;
	if (*p == '@') {
		size_t n = 0;
		const char *q;

		while (p[n] != '\0' && !cron_is_space(p[n]))
			n++;
		for (q = p + n; cron_is_space(*q); q++)
			;
		for (size_t k = 0; k < sizeof(cron_macros) / sizeof(cron_macros[0]); k++) {
			const char *m = cron_macros[k].name;
			size_t i = 0;

			while (i < n && m[i] != '\0' && cron_lower(p[i]) == m[i])
				i++;
			if (i == n && m[i] == '\0') {
				if (*q != '\0')
					return cron_fail(err, errlen, "unexpected text after %s", m);
				return cron_parse(cron_macros[k].expr, out, err, errlen);
			}
		}
		return cron_fail(err, errlen, "unknown macro '%.*s'", cron_show(n), p);
	}
	while (*p != '\0') {
		size_t n = 0;

		while (p[n] != '\0' && !cron_is_space(p[n]))
			n++;
		if (nf < 5) {
			tok[nf] = p;
			len[nf] = n;
		}
		nf++;
		for (p += n; cron_is_space(*p); p++)
			;
	}
	if (nf == 0)
		return cron_fail(err, errlen, "empty schedule");
	if (nf != 5)
		return cron_fail(err, errlen,
				 "expected 5 fields (minute hour day-of-month month day-of-week), got %d",
				 nf);
	for (int i = 0; i < 5; i++)
		if (cron_field_parse(&cron_fields[i], tok[i], len[i], &bits[i], err, errlen) != 0)
			return -1;
	memset(&c, 0, sizeof(c));
	c.minutes = bits[0];
	c.hours = (uint32_t)bits[1];
	c.days = (uint32_t)bits[2];
	c.months = (uint16_t)bits[3];
	c.weekdays = (uint8_t)bits[4];
	c.dom_star = len[2] == 1 && tok[2][0] == '*';
	c.dow_star = len[4] == 1 && tok[4][0] == '*';
	c.hour_star = c.hours == 0xffffffu;
	bad = cron_impossible_day(&c);
	if (bad >= 0) {
		char months[160] = "";
		int nm = 0, total = __builtin_popcount(c.months);

		for (int m = 1; m <= 12; m++) {
			if (!(c.months >> m & 1))
				continue;
			nm++;
			snprintf(months + strlen(months), sizeof(months) - strlen(months), "%s%s",
				 nm == 1 ? "" : nm == total ? " or " : ", ", cron_month_full[m - 1]);
		}
		if (total == 12)
			snprintf(months, sizeof(months), "any month");
		return cron_fail(err, errlen, "never fires: day %d does not occur in %s", bad, months);
	}
	*out = c;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t cron_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The inverse of cron_days_from_civil. */
static void cron_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int64_t cron_floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Smallest set bit >= from (and <= max) in bits, or -1. */
static int cron_next_bit(uint64_t bits, int from, int max)
{
	if (from > max || from > 63)
		return -1;
	bits >>= from;
	if (bits == 0)
		return -1;
	from += __builtin_ctzll(bits);
	return from <= max ? from : -1;
}

/* Does day y-m-d match, with the Vixie rule for day-of-month and day-of-week? */
static bool cron_day_matches(const struct cron *c, int64_t y, int m, int d)
{
	int64_t w = (cron_days_from_civil(y, m, d) + 4) % 7;
	bool dom = c->days >> d & 1, dow = c->weekdays >> (w < 0 ? w + 7 : w) & 1;

	if (c->dom_star || c->dow_star)
		return dom && dow;
	return dom || dow;
}

/*
 * First local minute >= *lsec (local seconds since the epoch, as if UTC,
 * minute-aligned) that matches c, walking year -> month -> day -> hour ->
 * minute on the bitsets. False past year ylimit.
 */
static bool cron_civil_next(const struct cron *c, int64_t *lsec, int64_t ylimit)
{
	int64_t y, days = cron_floor_div(*lsec, 86400), sec = *lsec - days * 86400;
	int mo, d, h = (int)(sec / 3600), mi = (int)(sec % 3600 / 60), x;

	cron_civil_from_days(days, &y, &mo, &d);
	for (;;) {
		if (mi > 59) {
			mi = 0;
			h++;
		}
		if (h > 23) {
			h = 0;
			d++;
		}
		if (mo <= 12 && d > cron_days_in_month(y, mo)) {
			d = 1;
			mo++;
		}
		if (mo > 12) {
			mo = 1;
			y++;
		}
		if (y > ylimit)
			return false;
		x = cron_next_bit(c->months, mo, 12);
		if (x < 0) {
			y++;
			mo = 1, d = 1, h = 0, mi = 0;
			continue;
		}
		if (x != mo)
			mo = x, d = 1, h = 0, mi = 0;
		for (x = d; x <= cron_days_in_month(y, mo) && !cron_day_matches(c, y, mo, x); x++)
			;
		if (x > cron_days_in_month(y, mo)) {
			mo++;
			d = 1, h = 0, mi = 0;
			continue;
		}
		if (x != d)
			d = x, h = 0, mi = 0;
		x = cron_next_bit(c->hours, h, 23);
		if (x < 0) {
			d++;
			h = 0, mi = 0;
			continue;
		}
		if (x != h)
			h = x, mi = 0;
		x = cron_next_bit(c->minutes, mi, 59);
		if (x < 0) {
			h++;
			mi = 0;
			continue;
		}
		mi = x;
		break;
	}
	*lsec = cron_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60;
	return true;
}

/* UTC offset in seconds of the current zone at instant t. */
static int64_t cron_off(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL)
		return 0;
	return tm.tm_gmtoff;
}

#define CRON_NEAR 90000 /* 25 hours: the window searched for a zone transition */

/* First instant in (lo, hi] whose offset differs from lo's (one transition assumed). */
static int64_t cron_transition(int64_t lo, int64_t hi)
{
	int64_t o = cron_off(lo);

	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;

		if (cron_off(mid) == o)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

/* Instants whose local time is x (0, 1 or 2, ascending) in the current zone. */
static int cron_occurrences(int64_t x, int64_t occ[4])
{
	int64_t offs[4];
	int n = 0;

	offs[0] = cron_off(x);
	offs[1] = cron_off(x - offs[0]);
	offs[2] = cron_off(x - CRON_NEAR);
	offs[3] = cron_off(x + CRON_NEAR);
	for (int i = 0; i < 4; i++) {
		int64_t t = x - offs[i];
		int j;

		if (cron_off(t) != offs[i])
			continue;
		for (j = 0; j < n && occ[j] != t; j++)
			;
		if (j < n)
			continue;
		for (j = n++; j > 0 && occ[j - 1] > t; j--)
			occ[j] = occ[j - 1];
		occ[j] = t;
	}
	return n;
}

/* First whole local minute at or after instant t. */
static int64_t cron_ceil_minute(int64_t t)
{
	int64_t l = t + cron_off(t), r = l - cron_floor_div(l, 60) * 60;

	return r == 0 ? t : t + 60 - r;
}

/* For local time x skipped by a gap: the first valid minute after the gap. */
static int64_t cron_gap_end(int64_t x)
{
	int64_t before = cron_off(x - CRON_NEAR), after = cron_off(x + CRON_NEAR);

	if (after <= before) /* no forward jump seen: best effort */
		return cron_ceil_minute(x - before);
	return cron_ceil_minute(cron_transition(x - after, x - before));
}

/*
 * Walks local matches from *lsec on: the first whose fire instant is after
 * `after` (explicit hours: first occurrence or gap end; "*" hours: an actual
 * occurrence, gaps skipped). False if none within the horizon.
 */
static bool cron_walk(const struct cron *c, int64_t lsec, int64_t after, int64_t ylimit,
		      int64_t *fire)
{
	int64_t occ[4];

	for (int guard = 0; guard < 1000; guard++) {
		int n;

		if (!cron_civil_next(c, &lsec, ylimit))
			return false;
		n = cron_occurrences(lsec, occ);
		if (n == 0) {
			int64_t t = cron_gap_end(lsec);

			if (!c->hour_star && t > after) {
				*fire = t;
				return true;
			}
			t += cron_off(t);
			lsec = t > lsec ? cron_floor_div(t + 59, 60) * 60 : lsec + 60;
			continue;
		}
		for (int i = 0; i < (c->hour_star ? n : 1); i++) {
			if (occ[i] > after) {
				*fire = occ[i];
				return true;
			}
		}
		lsec += 60;
	}
	return false;
}

/* The computation of cron_next with the zone already in effect. */
static int cron_next_here(const struct cron *c, int64_t after, int64_t *next)
{
	int64_t now_off = cron_off(after), last_local = after + now_off, best = 0, ylimit;
	int64_t prev_off = cron_off(after - CRON_NEAR), next_off = cron_off(after + CRON_NEAR);
	int64_t y, fire;
	int mo, d;
	bool found = false;

	/* A fall-back just before `after`: its first pass showed later local times. */
	if (prev_off > now_off) {
		int64_t n = cron_transition(after - CRON_NEAR, after);
		int64_t o1 = cron_off(n - 1), o2 = cron_off(n);

		if (n - 1 + o1 > last_local)
			last_local = n - 1 + o1;
		/* "*" hours: the rest of the second pass, local n + o2 .. n + o1 */
		if (c->hour_star) {
			int64_t l = cron_floor_div(after + o2, 60) * 60 + 60;

			cron_civil_from_days(cron_floor_div(l, 86400), &y, &mo, &d);
			if (cron_civil_next(c, &l, y + 1) && l < n + o1 && l - o2 > after) {
				best = l - o2;
				found = true;
			}
		}
	}
	/* "*" hours and a fall-back just ahead: its second pass revisits earlier times. */
	if (c->hour_star && now_off > next_off) {
		int64_t n = cron_transition(after, after + CRON_NEAR);
		int64_t o1 = cron_off(n - 1), o2 = cron_off(n), l = cron_floor_div(n + o2 + 59, 60) * 60;

		cron_civil_from_days(cron_floor_div(l, 86400), &y, &mo, &d);
		if (cron_civil_next(c, &l, y + 1) && l < n + o1 && (!found || l - o2 < best)) {
			best = l - o2;
			found = true;
		}
	}
	cron_civil_from_days(cron_floor_div(last_local, 86400), &y, &mo, &d);
	ylimit = y + CRON_HORIZON_YEARS;
	if (cron_walk(c, cron_floor_div(last_local, 60) * 60 + 60, after, ylimit, &fire) &&
	    (!found || fire < best)) {
		best = fire;
		found = true;
	}
	if (!found)
		return CRON_NEVER;
	*next = (time_t)best;
	return CRON_OK;
}

bool cron_valid_tz(const char *tz)
{
	const char *dir = getenv("TZDIR");
	char path[512], magic[4];
	struct stat st;
	size_t n;
	int fd;
	bool ok;

	if (tz == NULL || tz[0] == '\0')
		return true;
	n = strlen(tz);
	if (n > 200 || tz[0] == '/' || strstr(tz, "..") != NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = tz[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '/' || ch == '_' || ch == '-' || ch == '+' || ch == '.'))
			return false;
	}
	if (dir == NULL || dir[0] == '\0')
		dir = "/usr/share/zoneinfo";
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, tz) >= sizeof(path))
		return false;
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ok = read(fd, magic, 4) == 4 && memcmp(magic, "TZif", 4) == 0;
	close(fd);
	return ok;
}

/* The TZ environment saved by cron_tz_enter. */
struct cron_tz_saved {
	char *old;
	bool had, switched;
};

/* Puts zone tz in effect (NULL or "": the local zone), remembering the old TZ. */
static int cron_tz_enter(const char *tz, struct cron_tz_saved *s)
{
	const char *cur = getenv("TZ");
	char want[256];

	s->old = NULL;
	s->had = cur != NULL;
	s->switched = false;
	if (tz != NULL && tz[0] != '\0') {
		if (!cron_valid_tz(tz))
			return CRON_BAD_TZ;
		snprintf(want, sizeof(want), ":%s", tz);
		if (cur == NULL || (strcmp(cur, want) != 0 && strcmp(cur, tz) != 0)) {
			if (cur != NULL && (s->old = strdup(cur)) == NULL)
				return CRON_BAD_TZ;
			if (setenv("TZ", want, 1) != 0) {
				free(s->old);
				return CRON_BAD_TZ;
			}
			s->switched = true;
		}
	}
	tzset();
	return CRON_OK;
}

/* Restores the TZ saved by cron_tz_enter. */
static void cron_tz_leave(struct cron_tz_saved *s)
{
	if (!s->switched)
		return;
	if (s->had)
		setenv("TZ", s->old, 1);
	else
		unsetenv("TZ");
	free(s->old);
	tzset();
}

/* Instants cron_next accepts: years 1 to about 9000. */
#define CRON_MIN_TIME INT64_C(-62135596800)
#define CRON_MAX_TIME INT64_C(221845392000)

int cron_next(const struct cron *c, const char *tz, time_t after, time_t *next)
{
	struct cron_tz_saved saved;
	int64_t t;
	int rc;

	if (c == NULL || next == NULL)
		return CRON_NEVER;
	if ((int64_t)after < CRON_MIN_TIME || (int64_t)after > CRON_MAX_TIME)
		return CRON_BAD_TIME;
	if (!cron_can_fire(c))
		return tz == NULL || cron_valid_tz(tz) ? CRON_NEVER : CRON_BAD_TZ;
	rc = cron_tz_enter(tz, &saved);
	if (rc != CRON_OK)
		return rc;
	rc = cron_next_here(c, (int64_t)after, &t);
	cron_tz_leave(&saved);
	if (rc == CRON_OK)
		*next = (time_t)t;
	return rc;
}

int cron_format_local(time_t t, const char *tz, char *buf, size_t len)
{
	struct cron_tz_saved saved;
	struct tm tm;
	int rc;

	if (buf == NULL || len == 0)
		return CRON_BAD_TIME;
	buf[0] = '\0';
	rc = cron_tz_enter(tz, &saved);
	if (rc != CRON_OK)
		return rc;
	if (localtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M %Z", &tm) == 0) {
		buf[0] = '\0';
		rc = CRON_BAD_TIME;
	}
	cron_tz_leave(&saved);
	return rc;
}
