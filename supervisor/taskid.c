/* taskid.c: what a task id may be: 1-1024 bytes of UTF-8 text on one line. */
#include "supervisor/taskid.h"

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned min;
	unsigned cp;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		len = 2, min = 0x80, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, min = 0x800, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, min = 0x10000, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

const char *taskid_problem(const char *id, size_t len)
{
	if (len == 0)
		return "empty task id";
	if (len > TASKID_MAX)
		return "task id longer than 1024 bytes";
	for (size_t i = 0; i < len;) {
		if (id[i] == '\0')
			return "task id contains a NUL byte";
		if (id[i] == '\n' || id[i] == '\r')
			return "task id contains a line break";
		size_t k = utf8_len((const unsigned char *)id + i, len - i);
		if (!k)
			return "task id is not valid UTF-8";
		i += k;
	}
	return NULL;
}
