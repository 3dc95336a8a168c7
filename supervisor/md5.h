/* md5.h: MD5 message digest (RFC 1321), used only to map task ids to tokens. */
#ifndef JOBSYNC_MD5_H
#define JOBSYNC_MD5_H

#include <stddef.h>
#include <stdint.h>

/* Write the 16-byte MD5 digest of data[0..len) to out. */
void md5_digest(const void *data, size_t len, uint8_t out[16]);

#endif
