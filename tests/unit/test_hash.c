/* test_hash.c: MD5 (RFC 1321 vectors, padding boundaries) and task id -> token vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "supervisor/hash.h"
#include "supervisor/md5.h"

static void md5_hex(const void *data, size_t len, char hex[33])
{
	uint8_t d[16];

	md5_digest(data, len, d);
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* The seven test vectors of RFC 1321, appendix A.5. */
static void test_md5_rfc1321(void **state)
{
	static const struct {
		const char *in;
		const char *hex;
	} v[] = {
		{ "", "d41d8cd98f00b204e9800998ecf8427e" },
		{ "a", "0cc175b9c0f1b6a831c399e269772661" },
		{ "abc", "900150983cd24fb0d6963f7d28e17f72" },
		{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
		{ "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b" },
		{ "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		  "d174ab98d277d9f5a5611c2c9f419d9f" },
		{ "1234567890123456789012345678901234567890"
		  "1234567890123456789012345678901234567890",
		  "57edf4a22be3c955ac49da2e2107b67a" },
	};
	char hex[33];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		md5_hex(v[i].in, strlen(v[i].in), hex);
		assert_string_equal(hex, v[i].hex);
	}
}

/* Lengths around the 56- and 64-byte padding boundaries, and a long input. */
static void test_md5_padding_boundaries(void **state)
{
	static const struct {
		size_t n;
		const char *hex;
	} v[] = {
		{ 55, "ef1772b6dff9a122358552954ad0df65" },
		{ 56, "3b0c8ac703f828b04c6c197006d17218" },
		{ 57, "652b906d60af96844ebd21b674f35e93" },
		{ 63, "b06521f39153d618550606be297466d5" },
		{ 64, "014842d480b571495a4a0363793f7367" },
		{ 65, "c743a45e0d2e6a95cb859adae0248435" },
		{ 1000, "cabe45dcc9ae5b66ba86600cca6b8ba8" },
	};
	char buf[1000];
	char hex[33];

	(void)state;
	memset(buf, 'a', sizeof(buf));
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		md5_hex(buf, v[i].n, hex);
		assert_string_equal(hex, v[i].hex);
	}
}

static int tok(const char *s, int total)
{
	return hash_token_of(s, strlen(s), total);
}

/* The vectors of SPEC section 2 (they match JobSync). */
static void test_token_vectors(void **state)
{
	(void)state;
	assert_int_equal(tok("0", 10000), 7850);
	assert_int_equal(tok("1", 10000), 8411);
	assert_int_equal(tok("123", 10000), 5808);
	assert_int_equal(tok("task-1", 10000), 8390);
	assert_int_equal(tok("abc-def-ghi", 10000), 3218);
	assert_int_equal(tok("0", 100), 50);
	assert_int_equal(tok("1", 100), 11);
	assert_int_equal(tok("123", 100), 8);
	assert_int_equal(tok("task-1", 7), 5);
	/* UTF-8 ids hash their bytes. */
	assert_int_equal(tok("t\xc3\xa2" "che-\xc3\xa9", 10000), 7152);
}

static void test_token_empty_and_total_one(void **state)
{
	char id[32];

	(void)state;
	assert_int_equal(hash_token_of("", 0, 10000), 8366);
	assert_int_equal(hash_token_of("", 0, 100), 66);
	/* len is honoured: bytes past it do not count, embedded NULs do. */
	assert_int_equal(hash_token_of("123456", 3, 10000), 5808);
	assert_int_not_equal(hash_token_of("1\0002", 3, 1000000), hash_token_of("1", 1, 1000000));
	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "task-%d", i);
		assert_int_equal(tok(id, 1), 0);
		int t = tok(id, 10000);
		assert_true(t >= 0 && t < 10000);
		assert_int_equal(tok(id, 10000), t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_md5_rfc1321),
		cmocka_unit_test(test_md5_padding_boundaries),
		cmocka_unit_test(test_token_vectors),
		cmocka_unit_test(test_token_empty_and_total_one),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
