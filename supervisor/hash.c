/* hash.c: task id -> token, MD5 read as a 128-bit big-endian integer mod total. */
#include "supervisor/hash.h"

#include <stdint.h>

#include "supervisor/md5.h"

int hash_token_of(const char *id, size_t len, int total_tokens)
{
	uint8_t d[16];
	uint64_t r = 0;

	if (total_tokens <= 1)
		return 0;
	md5_digest(id, len, d);
	/* Horner's rule mod total: r < 2^31, so r * 256 + 255 fits easily. */
	for (int i = 0; i < 16; i++)
		r = (r * 256 + d[i]) % (uint64_t)total_tokens;
	return (int)r;
}
