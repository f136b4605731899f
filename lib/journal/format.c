/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Batch and record encoding (docs/storage.md, "Batch" and "Record").
 * Everything is little-endian and goes through memcpy loads and stores,
 * so a batch can be checked wherever a read put it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "evg_evf.h"
#include "journal_priv.h"

/* Record header offsets. */
#define R_SIZE 0
#define R_KEY_SIZE 4
#define R_ATTRS 6
#define R_OFFSET 8
#define R_PRODUCER 16
#define R_STREAM 20
#define R_SESSION 24
#define R_SEQ 32
#define R_TS 40
#define R_INGEST 48
#define R_RESERVED 56

_Static_assert(EVG_JOURNAL_BATCH_HDR_LEN == 64, "batch header is 64 bytes");
_Static_assert(EVG_JOURNAL_REC_HDR_LEN == R_RESERVED + 8,
	       "record header is 64 bytes");

void
evg_jrn_batch_hdr_encode(const struct jrn_batch_hdr *h, void *buf)
{
	uint8_t *p = buf;

	evg_st32(p + JRN_B_MAGIC, h->magic);
	evg_st16(p + JRN_B_HDR_LEN, h->hdr_len);
	evg_st16(p + JRN_B_FLAGS, h->flags);
	evg_st32(p + JRN_B_LENGTH, h->length);
	evg_st32(p + JRN_B_COUNT, h->count);
	evg_st64(p + JRN_B_FIRST, h->first_offset);
	evg_st64(p + JRN_B_MIN_TS, h->min_ts);
	evg_st64(p + JRN_B_MAX_TS, h->max_ts);
	evg_st64(p + JRN_B_INGEST, h->ingest_ns);
	evg_st32(p + JRN_B_PARTITION, h->partition);
	memset(p + JRN_B_PARTITION + 4, 0, JRN_B_CRC - JRN_B_PARTITION - 4);
	evg_st32(p + JRN_B_CRC, h->crc32c);
}

void
evg_jrn_batch_hdr_decode(const void *buf, struct jrn_batch_hdr *h)
{
	const uint8_t *p = buf;

	h->magic = evg_ld32(p + JRN_B_MAGIC);
	h->hdr_len = evg_ld16(p + JRN_B_HDR_LEN);
	h->flags = evg_ld16(p + JRN_B_FLAGS);
	h->length = evg_ld32(p + JRN_B_LENGTH);
	h->count = evg_ld32(p + JRN_B_COUNT);
	h->first_offset = evg_ld64(p + JRN_B_FIRST);
	h->min_ts = evg_ld64(p + JRN_B_MIN_TS);
	h->max_ts = evg_ld64(p + JRN_B_MAX_TS);
	h->ingest_ns = evg_ld64(p + JRN_B_INGEST);
	h->partition = evg_ld32(p + JRN_B_PARTITION);
	h->crc32c = evg_ld32(p + JRN_B_CRC);
}

uint32_t
evg_jrn_batch_crc(void *batch, uint32_t len)
{
	uint8_t *field = (uint8_t *)batch + JRN_B_CRC;
	uint8_t saved[4];
	uint32_t crc;

	memcpy(saved, field, sizeof(saved));
	memset(field, 0, sizeof(saved));
	crc = evg_evf_crc32c(batch, len);
	memcpy(field, saved, sizeof(saved));
	return crc;
}

bool
evg_jrn_batch_len_ok(const struct jrn_batch_hdr *h)
{
	return h->length >= EVG_JOURNAL_BATCH_HDR_LEN &&
	       h->length <= JRN_MAX_BATCH && (h->length & 7u) == 0;
}

uint64_t
evg_jrn_rec_encode(void *buf, const struct evg_journal_rec *r, uint64_t off)
{
	uint8_t *p = buf;
	uint32_t size = r->key_size + r->value_size;
	uint64_t len = evg_jrn_rec_len(r->key_size, r->value_size);

	evg_st32(p + R_SIZE, size);
	evg_st16(p + R_KEY_SIZE, (uint16_t)r->key_size);
	evg_st16(p + R_ATTRS, 0);
	evg_st64(p + R_OFFSET, off);
	evg_st32(p + R_PRODUCER, r->producer_id);
	evg_st32(p + R_STREAM, r->stream_id);
	evg_st64(p + R_SESSION, r->session);
	evg_st64(p + R_SEQ, r->seq);
	evg_st64(p + R_TS, r->ts_ns);
	evg_st64(p + R_INGEST, r->ingest_ns);
	evg_st64(p + R_RESERVED, 0);
	p += EVG_JOURNAL_REC_HDR_LEN;
	if (r->key_size > 0)
		memcpy(p, r->key, r->key_size);
	if (r->value_size > 0)
		memcpy(p + r->key_size, r->value, r->value_size);
	memset(p + size, 0, len - EVG_JOURNAL_REC_HDR_LEN - size);
	return len;
}

int64_t
evg_jrn_rec_decode(const void *buf, uint64_t avail, struct evg_journal_rec *r,
		   uint64_t *off)
{
	const uint8_t *p = buf;
	uint32_t size, key_size;
	uint64_t len;

	if (avail < EVG_JOURNAL_REC_HDR_LEN)
		return -EBADMSG;
	size = evg_ld32(p + R_SIZE);
	key_size = evg_ld16(p + R_KEY_SIZE);
	len = EVG_JOURNAL_REC_HDR_LEN + jrn_align8(size);
	if (key_size > size || len > avail || evg_ld16(p + R_ATTRS) != 0)
		return -EBADMSG;
	*off = evg_ld64(p + R_OFFSET);
	r->producer_id = evg_ld32(p + R_PRODUCER);
	r->stream_id = evg_ld32(p + R_STREAM);
	r->session = evg_ld64(p + R_SESSION);
	r->seq = evg_ld64(p + R_SEQ);
	r->ts_ns = evg_ld64(p + R_TS);
	r->ingest_ns = evg_ld64(p + R_INGEST);
	r->key_size = key_size;
	r->value_size = size - key_size;
	r->key = p + EVG_JOURNAL_REC_HDR_LEN;
	r->value = p + EVG_JOURNAL_REC_HDR_LEN + key_size;
	return (int64_t)len;
}

int
evg_jrn_batch_verify(void *batch, const struct jrn_batch_hdr *h,
		     uint32_t partition)
{
	const uint8_t *p = batch;
	uint64_t pos = EVG_JOURNAL_BATCH_HDR_LEN;
	struct evg_journal_rec r;
	uint64_t off;

	if (h->magic != EVG_JOURNAL_BATCH_MAGIC ||
	    h->hdr_len != EVG_JOURNAL_BATCH_HDR_LEN || h->flags != 0 ||
	    !evg_jrn_batch_len_ok(h) || h->partition != partition ||
	    h->count == 0)
		return -EBADMSG;
	if (evg_jrn_batch_crc(batch, h->length) != h->crc32c)
		return -EBADMSG;
	for (uint32_t i = 0; i < h->count; i++) {
		int64_t n =
			evg_jrn_rec_decode(p + pos, h->length - pos, &r, &off);

		if (n < 0 || off != h->first_offset + i)
			return -EBADMSG;
		pos += (uint64_t)n;
	}
	return pos == h->length ? 0 : -EBADMSG;
}

int
evg_jrn_part_name(char *buf, size_t len, uint32_t p)
{
	return snprintf(buf, len, "p%04" PRIu32, p);
}

int
evg_jrn_file_name(char *buf, size_t len, uint32_t p, uint64_t base,
		  const char *ext)
{
	return snprintf(buf, len, "p%04" PRIu32 "/%020" PRIu64 "%s", p, base,
			ext);
}

int
evg_jrn_parse_name(const char *entry, const char *ext, uint64_t *base)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 20; i++) {
		unsigned int d = (unsigned int)(entry[i] - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	if (strcmp(entry + i, ext) != 0)
		return -EINVAL;
	*base = v;
	return 0;
}
