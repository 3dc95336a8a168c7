/* test_lines.c: the bounded line splitter under every chunking, and the stream reply parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runner/lines.h"

#define MAXOUT 64

/* The lines a splitter delivered, copied. */
struct got {
	int n;
	char text[MAXOUT][64];
	size_t len[MAXOUT];
	bool trunc[MAXOUT];
};

static void collect(const char *line, size_t len, bool truncated, void *arg)
{
	struct got *g = arg;

	assert_true(g->n < MAXOUT);
	assert_true(len < sizeof(g->text[0]));
	assert_int_equal(line[len], '\0');	/* delivered NUL-terminated */
	memcpy(g->text[g->n], line, len);
	g->len[g->n] = len;
	g->trunc[g->n] = truncated;
	g->n++;
}

/* One golden case: input bytes, the bound, and the expected lines ("!" prefix = truncated). */
struct lines_case {
	const char *in;
	size_t inlen;
	size_t max;
	const char *want[6];
	size_t wantlen[6];	/* 0 = strlen (an empty line needs its "" entry and 0) */
	int nwant;
};

#define S(x) x, sizeof(x) - 1

static const struct lines_case cases[] = {
	{ S("a\nb\n"), 16, { "a", "b" }, { 0 }, 2 },
	{ S("a\r\nb\r\n"), 16, { "a", "b" }, { 0 }, 2 },
	{ S("\n\n\r\n"), 16, { "", "", "" }, { 0 }, 3 },
	{ S("abc"), 16, { "abc" }, { 0 }, 1 },			/* flushed at EOF */
	{ S("abc\ndef"), 16, { "abc", "def" }, { 0 }, 2 },
	{ S(""), 16, { 0 }, { 0 }, 0 },
	{ S("abcdefgh\nxy\n"), 4, { "!abcd", "xy" }, { 0 }, 2 },
	{ S("abcd\n"), 4, { "abcd" }, { 0 }, 1 },		/* exactly max */
	{ S("abcd\r\n"), 4, { "abcd" }, { 0 }, 1 },		/* max plus CRLF */
	{ S("abcde\r\n"), 4, { "!abcd" }, { 0 }, 1 },
	{ S("abcd\rx\nz\n"), 4, { "!abcd", "z" }, { 0 }, 2 },	/* the \r was content */
	{ S("abcd\r"), 4, { "!abcd" }, { 0 }, 1 },		/* no \n: \r is content */
	{ S("abc\r\r\n"), 4, { "abc\r" }, { 0 }, 1 },
	{ S("a\rb\n"), 16, { "a\rb" }, { 0 }, 1 },
	{ S("x\r"), 16, { "x\r" }, { 0 }, 1 },
	{ S("abcdefghij"), 4, { "!abcd" }, { 0 }, 1 },		/* cut once, at EOF too */
	{ S("ab\nc\n\n"), 1, { "!a", "c", "" }, { 0 }, 3 },
	{ S("a\0b\nc\n"), 16, { "a\0b", "c" }, { 3, 0 }, 2 },	/* NUL passes through */
	{ S("\xff\xfe\xc3(\n"), 16, { "\xff\xfe\xc3(" }, { 0 }, 1 },
	{ S("12345678901234567890\n1234\n"), 8, { "!12345678", "1234" }, { 0 }, 2 },
};

/* Feed in chunks of size step (0 = two pieces split at cut), then flush; compare. */
static void run_case(const struct lines_case *c, size_t step, size_t cut)
{
	struct lines l;
	struct got g;

	memset(&g, 0, sizeof(g));
	assert_int_equal(lines_init(&l, c->max), 0);
	if (step == 0) {
		assert_int_equal(lines_feed(&l, c->in, cut, collect, &g), 0);
		assert_int_equal(lines_feed(&l, c->in + cut, c->inlen - cut, collect, &g), 0);
	} else {
		for (size_t off = 0; off < c->inlen; off += step) {
			size_t k = c->inlen - off < step ? c->inlen - off : step;

			assert_int_equal(lines_feed(&l, c->in + off, k, collect, &g), 0);
		}
	}
	lines_flush(&l, collect, &g);
	lines_flush(&l, collect, &g);	/* a second flush adds nothing */
	assert_int_equal(g.n, c->nwant);
	for (int i = 0; i < c->nwant; i++) {
		const char *w = c->want[i];
		bool trunc = w[0] == '!';
		size_t wl;

		if (trunc)
			w++;
		wl = c->wantlen[i] ? c->wantlen[i] : strlen(w);
		assert_int_equal(g.trunc[i], trunc);
		assert_int_equal(g.len[i], wl);
		assert_memory_equal(g.text[i], w, wl);
	}
	lines_free(&l);
}

/* Every case, whole, byte by byte, in every chunk size, and split at every position. */
static void test_lines_golden(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct lines_case *c = &cases[i];

		for (size_t step = 1; step <= c->inlen + 1; step++)
			run_case(c, step, 0);
		for (size_t cut = 0; cut <= c->inlen; cut++)
			run_case(c, 0, cut);
	}
}

static void test_lines_init(void **state)
{
	struct lines l;

	(void)state;
	assert_int_equal(lines_init(&l, 0), -1);
	assert_int_equal(lines_init(&l, SIZE_MAX), -1);
	assert_int_equal(lines_init(&l, 1), 0);
	lines_free(&l);
	lines_free(&l);	/* idempotent */
}

/* The reference: split the whole input on '\n', strip one '\r' before it, cut at max. */
static void reference(const char *in, size_t n, size_t max, struct got *g)
{
	size_t start = 0;

	for (size_t i = 0; i <= n; i++) {
		bool nl = i < n && in[i] == '\n';
		size_t len = i - start;

		if (!nl && i < n)
			continue;
		if (!nl && len == 0)
			break;
		char tmp[64];
		size_t k;

		if (nl && len > 0 && in[i - 1] == '\r')
			len--;
		k = len > max ? max : len;
		memcpy(tmp, in + start, k);
		tmp[k] = '\0';
		collect(tmp, k, len > max, g);
		start = i + 1;
	}
}

/* Random bytes from a nasty alphabet, random bounds and chunkings, against the reference. */
static void test_lines_fuzz(void **state)
{
	static const char alphabet[] = { 'a', 'b', '\r', '\n', '\0', (char)0xff, ' ' };
	uint64_t x = 0x1234567;
	char in[200];

	(void)state;
	for (int round = 0; round < 20000; round++) {
		struct got want, g;
		struct lines l;
		size_t n, max, off = 0;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		n = (size_t)(x % 40);
		max = 1 + (size_t)((x >> 8) % 12);
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			/* mostly 'a', so that long lines happen */
			in[i] = (x & 3) ? 'a' : alphabet[(x >> 4) % sizeof(alphabet)];
		}
		memset(&want, 0, sizeof(want));
		memset(&g, 0, sizeof(g));
		reference(in, n, max, &want);
		assert_int_equal(lines_init(&l, max), 0);
		while (off < n) {
			size_t k;

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			k = 1 + (size_t)(x % 7);
			if (k > n - off)
				k = n - off;
			lines_feed(&l, in + off, k, collect, &g);
			off += k;
		}
		lines_flush(&l, collect, &g);
		lines_free(&l);
		assert_int_equal(g.n, want.n);
		for (int i = 0; i < g.n; i++) {
			assert_true(g.len[i] <= max);
			assert_int_equal(g.len[i], want.len[i]);
			assert_int_equal(g.trunc[i], want.trunc[i]);
			assert_memory_equal(g.text[i], want.text[i], g.len[i]);
		}
	}
}

/* One parse case: the line, the kind, and the id and message when not REPLY_BAD. */
struct reply_case {
	const char *line;
	enum reply_kind kind;
	const char *id, *msg;
};

static const struct reply_case replies[] = {
	{ "42 ok", REPLY_OK, "42", "" },
	{ "a b c ok", REPLY_OK, "a b c", "" },		/* ids may contain spaces */
	{ "x ok ok", REPLY_OK, "x ok", "" },
	{ "42 fail disk full", REPLY_FAIL, "42", "disk full" },
	{ "42 fail", REPLY_FAIL, "42", "" },		/* empty message */
	{ "42 fail ", REPLY_FAIL, "42", "" },
	{ "a b fail c fail d", REPLY_FAIL, "a b", "c fail d" },	/* the FIRST " fail " */
	{ "7 fail not ok", REPLY_FAIL, "7", "not ok" },	/* a failure wins */
	{ "inv 2024 fail  two spaces", REPLY_FAIL, "inv 2024", " two spaces" },
	{ " ok", REPLY_BAD, NULL, NULL },
	{ "ok", REPLY_BAD, NULL, NULL },
	{ "", REPLY_BAD, NULL, NULL },
	{ "42", REPLY_BAD, NULL, NULL },
	{ "42 OK", REPLY_BAD, NULL, NULL },
	{ "42 okay", REPLY_BAD, NULL, NULL },
	{ "42 failed", REPLY_BAD, NULL, NULL },
	{ "42ok", REPLY_BAD, NULL, NULL },
	{ " fail x", REPLY_BAD, NULL, NULL },		/* empty id */
	{ " fail", REPLY_BAD, NULL, NULL },
	{ "fail x", REPLY_BAD, NULL, NULL },
	{ "42 ok ", REPLY_BAD, NULL, NULL },
	{ "garbage \xff\xfe", REPLY_BAD, NULL, NULL },
};

static void test_lines_parse_reply(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		const struct reply_case *c = &replies[i];
		const char *id = (const char *)1, *msg = (const char *)1;
		size_t idlen = 999, msglen = 999;
		enum reply_kind k = lines_parse_reply(c->line, strlen(c->line), &id, &idlen, &msg,
						      &msglen);

		assert_int_equal(k, c->kind);
		if (k == REPLY_BAD) {
			/* nothing is set */
			assert_ptr_equal(id, (const char *)1);
			assert_int_equal(idlen, 999);
			assert_ptr_equal(msg, (const char *)1);
			assert_int_equal(msglen, 999);
			continue;
		}
		assert_ptr_equal(id, c->line);
		assert_int_equal(idlen, strlen(c->id));
		assert_memory_equal(id, c->id, idlen);
		assert_int_equal(msglen, strlen(c->msg));
		assert_memory_equal(msg, c->msg, msglen);
	}
}

/* Binary lines (NUL inside) parse by length; NULL msg pointers are allowed. */
static void test_lines_parse_binary(void **state)
{
	static const char line[] = "a\0b fail x\0y";
	const char *id;
	size_t idlen;

	(void)state;
	assert_int_equal(lines_parse_reply(line, sizeof(line) - 1, &id, &idlen, NULL, NULL),
			 REPLY_FAIL);
	assert_int_equal(idlen, 3);
	assert_int_equal(lines_parse_reply("\0 ok", 4, &id, &idlen, NULL, NULL), REPLY_OK);
	assert_int_equal(idlen, 1);
	/* Random bytes never crash and never point outside the line. */
	uint64_t x = 99;
	char buf[32];
	for (int r = 0; r < 50000; r++) {
		const char *msg;
		size_t n, msglen;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		n = (size_t)(x % sizeof(buf));
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[i] = " okfail\0x"[x % 9];
		}
		if (lines_parse_reply(buf, n, &id, &idlen, &msg, &msglen) != REPLY_BAD) {
			assert_true(idlen > 0 && idlen <= n);
			assert_true(msg >= buf && msg + msglen == buf + n);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_golden),
		cmocka_unit_test(test_lines_init),
		cmocka_unit_test(test_lines_fuzz),
		cmocka_unit_test(test_lines_parse_reply),
		cmocka_unit_test(test_lines_parse_binary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
