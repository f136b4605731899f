/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Little-endian loads and stores at any alignment: the EVF/1 wire format
 * and the journal's on-disk format are both little-endian, and frames and
 * records sit at arbitrary offsets in buffers, so fields are read and
 * written through memcpy (one unaligned move on x86).
 */
#ifndef EVG_BYTEORDER_H
#define EVG_BYTEORDER_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t
evg_ld16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static inline uint32_t
evg_ld32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t
evg_ld64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static inline void
evg_st16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static inline void
evg_st32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void
evg_st64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

#endif /* EVG_BYTEORDER_H */
