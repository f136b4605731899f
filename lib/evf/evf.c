/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * EVF/1 codec. Wire integers are little-endian and frames arrive at any
 * alignment (an IPv4/UDP payload in an mbuf sits at offset 42), so every
 * field access goes through memcpy-based loads and stores.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "evg_byteorder.h"
#include "evg_evf.h"
#include "evg_evf_sub.h"

/* The appliance's build takes CRC-32C from ISA-L (crc32_iscsi: several
 * streams of the crc32 instruction folded with PCLMULQDQ, about three
 * times the speed of one serial crc32 chain, which is what DPDK's
 * rte_hash_crc is: docs/protocol.md); the DPDK-free build (libevclient,
 * libc only) from crc32c.c. */
#ifdef EVG_EVF_NO_DPDK
#include "evf_crc32c.h"
#else
#include <isa-l/crc.h>
#endif

/* The smallest record is 16 bytes, so a frame capped at the largest UDP
 * payload can never hold more events than the 16-bit count field says. */
_Static_assert((EVG_EVF_MAX_FRAME - EVG_EVF_HDR_LEN) / EVG_EVF_REC_HDR_LEN <
		       EVG_EVF_MAX_COUNT,
	       "count field could overflow");

static const char *const verdict_names[EVG_EVF_VERDICT_MAX] = {
	[EVG_EVF_OK] = "ok",
#define NAME_(name, str, desc) [EVG_EVF_BAD_##name] = str,
	EVG_EVF_MALFORMED_FOREACH(NAME_)
#undef NAME_
};

static const char *const verdict_descs[EVG_EVF_VERDICT_MAX] = {
	[EVG_EVF_OK] = "valid frame",
#define DESC_(name, str, desc) [EVG_EVF_BAD_##name] = desc,
	EVG_EVF_MALFORMED_FOREACH(DESC_)
#undef DESC_
};

const char *
evg_evf_verdict_name(enum evg_evf_verdict v)
{
	if ((unsigned int)v >= EVG_EVF_VERDICT_MAX)
		return NULL;
	return verdict_names[v];
}

const char *
evg_evf_verdict_desc(enum evg_evf_verdict v)
{
	if ((unsigned int)v >= EVG_EVF_VERDICT_MAX)
		return NULL;
	return verdict_descs[v];
}

int
evg_evf_verdict_from_name(const char *name)
{
	if (name == NULL)
		return -EINVAL;
	for (int v = 0; v < EVG_EVF_VERDICT_MAX; v++)
		if (strcmp(name, verdict_names[v]) == 0)
			return v;
	return -EINVAL;
}

const char *
evg_evf_nak_name(unsigned int code)
{
	switch (code) {
#define NAK_NAME_(name, code, desc) \
	case code:                  \
		return #name;
		EVG_EVF_NAK_FOREACH(NAK_NAME_)
#undef NAK_NAME_
	default:
		return NULL;
	}
}

int64_t
evg_evf_max_event_size(uint32_t frame_len)
{
	if (frame_len > EVG_EVF_MAX_FRAME)
		frame_len = EVG_EVF_MAX_FRAME;
	if (frame_len < EVG_EVF_HDR_LEN + EVG_EVF_REC_HDR_LEN)
		return -ENOSPC;
	return (frame_len - EVG_EVF_HDR_LEN - EVG_EVF_REC_HDR_LEN) & ~7u;
}

#ifdef EVG_EVF_NO_DPDK

static inline uint32_t
crc_update(uint32_t crc, const uint8_t *p, size_t n)
{
	return evg_evf_crc32c_update(crc, p, n);
}

static inline uint32_t
crc_zero32(uint32_t crc)
{
	static const uint8_t zero[4];

	return evg_evf_crc32c_update(crc, zero, sizeof(zero));
}

#else

/* Raw CRC-32C update (no init, no final xor): crc32_iscsi() takes and
 * returns the raw register. Its length is an int: frames and batches are
 * far below INT_MAX, and longer data goes in pieces. */
static inline uint32_t
crc_update(uint32_t crc, const uint8_t *p, size_t n)
{
	while (n > 0) {
		int piece = n > (1u << 30) ? 1 << 30 : (int)n;

		crc = crc32_iscsi((unsigned char *)(uintptr_t)p, piece, crc);
		p += piece;
		n -= (size_t)piece;
	}
	return crc;
}

static inline uint32_t
crc_zero32(uint32_t crc)
{
	static const uint8_t zero[4];

	return crc_update(crc, zero, sizeof(zero));
}

#endif /* EVG_EVF_NO_DPDK */

uint32_t
evg_evf_crc32c(const void *data, size_t len)
{
	return crc_update(0xFFFFFFFFu, data, len) ^ 0xFFFFFFFFu;
}

uint32_t
evg_evf_frame_crc(const void *frame, size_t len)
{
	const uint8_t *p = frame;
	uint32_t crc;

	crc = crc_update(0xFFFFFFFFu, p, EVG_EVF_CRC_OFF);
	crc = crc_zero32(crc); /* the crc32c field, read as 0 */
	crc = crc_update(crc, p + EVG_EVF_HDR_LEN, len - EVG_EVF_HDR_LEN);
	return crc ^ 0xFFFFFFFFu;
}

void
evg_evf_hdr_decode(const void *buf, struct evg_evf_hdr *h)
{
	const uint8_t *p = buf;

	h->magic = evg_ld32(p + 0);
	h->type = p[4];
	h->flags = p[5];
	h->count = evg_ld16(p + 6);
	h->producer_id = evg_ld32(p + 8);
	h->stream_id = evg_ld32(p + 12);
	h->session = evg_ld64(p + 16);
	h->seq = evg_ld64(p + 24);
	h->length = evg_ld32(p + 32);
	h->crc32c = evg_ld32(p + 36);
}

void
evg_evf_hdr_encode(const struct evg_evf_hdr *h, void *buf)
{
	uint8_t *p = buf;

	evg_st32(p + 0, h->magic);
	p[4] = h->type;
	p[5] = h->flags;
	evg_st16(p + 6, h->count);
	evg_st32(p + 8, h->producer_id);
	evg_st32(p + 12, h->stream_id);
	evg_st64(p + 16, h->session);
	evg_st64(p + 24, h->seq);
	evg_st32(p + 32, h->length);
	evg_st32(p + 36, h->crc32c);
}

void
evg_evf_frame_seal(void *frame, size_t len)
{
	evg_st32((uint8_t *)frame + EVG_EVF_CRC_OFF,
		 evg_evf_frame_crc(frame, len));
}

/*
 * Walk count records over n bytes. Structure is checked first (records
 * must fill the frame exactly); key_size and attrs violations are only
 * remembered, so the verdict is the first rule broken in protocol order
 * whatever record breaks it.
 */
static enum evg_evf_verdict
check_records(const uint8_t *p, uint32_t n, uint32_t count)
{
	const uint8_t *end = p + n;
	uint32_t bad_key = 0, bad_attrs = 0;

	for (uint32_t i = 0; i < count; i++) {
		uint64_t size, rec_len;

		if ((size_t)(end - p) < EVG_EVF_REC_HDR_LEN)
			return EVG_EVF_BAD_RECORDS;
		size = evg_ld32(p);
		rec_len = evg_evf_record_len(size);
		if (rec_len > (size_t)(end - p))
			return EVG_EVF_BAD_RECORDS;
		bad_key |= evg_ld16(p + 4) > size;
		bad_attrs |= evg_ld16(p + 6);
		p += rec_len;
	}
	if (p != end)
		return EVG_EVF_BAD_RECORDS;
	if (bad_key)
		return EVG_EVF_BAD_KEY_SIZE;
	if (bad_attrs)
		return EVG_EVF_BAD_ATTRS;
	return EVG_EVF_OK;
}

enum evg_evf_verdict
evg_evf_validate(const void *frame, size_t len, struct evg_evf_hdr *out)
{
	const uint8_t *p = frame;
	struct evg_evf_hdr h;
	enum evg_evf_verdict v;

	if (len < EVG_EVF_HDR_LEN)
		return EVG_EVF_BAD_RUNT;
	evg_evf_hdr_decode(p, &h);
	if (out != NULL)
		*out = h;
	if (h.magic != EVG_EVF_MAGIC)
		return EVG_EVF_BAD_MAGIC;
	if ((h.type < EVG_EVF_DATA || h.type > EVG_EVF_PING) &&
	    !evg_evf_sub_from_consumer(h.type) &&
	    !evg_evf_sub_from_appliance(h.type))
		return EVG_EVF_BAD_TYPE;
	if (h.length != len)
		return EVG_EVF_BAD_LENGTH;
	if (evg_evf_frame_crc(p, len) != h.crc32c)
		return EVG_EVF_BAD_CRC;
	if (h.type == EVG_EVF_DATA) {
		if (h.count == 0)
			return EVG_EVF_BAD_COUNT;
		v = check_records(p + EVG_EVF_HDR_LEN,
				  h.length - EVG_EVF_HDR_LEN, h.count);
		if (v != EVG_EVF_OK)
			return v;
	} else if (h.type == EVG_EVF_PING) {
		if (h.count != 0)
			return EVG_EVF_BAD_COUNT;
		if (h.length != EVG_EVF_HDR_LEN)
			return EVG_EVF_BAD_RECORDS;
	} else if (h.type >= EVG_EVF_SUBSCRIBE) {
		v = evg_evf_sub_check(p, &h);
		if (v != EVG_EVF_OK)
			return v;
	}
	if (h.producer_id == 0)
		return EVG_EVF_BAD_PRODUCER;
	if (h.session == 0)
		return EVG_EVF_BAD_SESSION;
	if (h.type == EVG_EVF_ACK || h.type == EVG_EVF_NAK ||
	    evg_evf_sub_from_appliance(h.type))
		return EVG_EVF_BAD_DIRECTION;
	return EVG_EVF_OK;
}

void
evg_evf_iter_init(struct evg_evf_iter *it, const void *frame)
{
	const uint8_t *p = frame;

	it->pos = p + EVG_EVF_HDR_LEN;
	it->end = p + evg_ld32(p + 32);
	it->left = evg_ld16(p + 6);
}

bool
evg_evf_iter_next(struct evg_evf_iter *it, struct evg_evf_event *ev)
{
	const uint8_t *p = it->pos;
	uint32_t size, key_size;

	/* Cheap guards so a misused iterator stops instead of overrunning. */
	if (it->left == 0 || (size_t)(it->end - p) < EVG_EVF_REC_HDR_LEN)
		return false;
	size = evg_ld32(p);
	key_size = evg_ld16(p + 4);
	if (evg_evf_record_len(size) > (size_t)(it->end - p) || key_size > size)
		return false;
	ev->key = p + EVG_EVF_REC_HDR_LEN;
	ev->key_size = key_size;
	ev->value = ev->key + key_size;
	ev->value_size = size - key_size;
	ev->ts_ns = evg_ld64(p + 8);
	it->pos = p + evg_evf_record_len(size);
	it->left--;
	return true;
}

int
evg_evf_builder_init(struct evg_evf_builder *b, void *buf, size_t cap,
		     const struct evg_evf_hdr *hdr)
{
	struct evg_evf_hdr h;

	if (b == NULL || buf == NULL || hdr == NULL || hdr->producer_id == 0 ||
	    hdr->session == 0)
		return -EINVAL;
	if (cap < EVG_EVF_HDR_LEN)
		return -ENOSPC;
	h = *hdr;
	h.magic = EVG_EVF_MAGIC;
	h.type = EVG_EVF_DATA;
	h.count = 0;
	h.length = EVG_EVF_HDR_LEN;
	h.crc32c = 0;
	evg_evf_hdr_encode(&h, buf);
	b->buf = buf;
	b->cap = cap > EVG_EVF_MAX_FRAME ? EVG_EVF_MAX_FRAME : (uint32_t)cap;
	b->len = EVG_EVF_HDR_LEN;
	b->count = 0;
	return 0;
}

int
evg_evf_builder_add(struct evg_evf_builder *b, const void *key,
		    uint32_t key_size, const void *value, uint32_t value_size,
		    uint64_t ts_ns)
{
	uint64_t size = (uint64_t)key_size + value_size;
	uint64_t rec_len = evg_evf_record_len(size);
	uint8_t *r;

	if (key_size > EVG_EVF_MAX_KEY)
		return -EINVAL;
	if (rec_len > b->cap - b->len)
		return -ENOSPC;
	r = b->buf + b->len;
	evg_st32(r, (uint32_t)size);
	evg_st16(r + 4, (uint16_t)key_size);
	evg_st16(r + 6, 0);
	evg_st64(r + 8, ts_ns);
	r += EVG_EVF_REC_HDR_LEN;
	if (key_size != 0)
		memcpy(r, key, key_size);
	if (value_size != 0)
		memcpy(r + key_size, value, value_size);
	memset(r + size, 0, rec_len - EVG_EVF_REC_HDR_LEN - size);
	b->len += (uint32_t)rec_len;
	b->count++;
	return 0;
}

unsigned int
evg_evf_builder_add_bulk(struct evg_evf_builder *b,
			 const struct evg_evf_event *evs, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (evg_evf_builder_add(b, evs[i].key, evs[i].key_size,
					evs[i].value, evs[i].value_size,
					evs[i].ts_ns) != 0)
			break;
	return i;
}

int
evg_evf_builder_finish(struct evg_evf_builder *b)
{
	if (b->count == 0)
		return -ENODATA;
	evg_st16(b->buf + 6, (uint16_t)b->count);
	evg_st32(b->buf + 32, b->len);
	evg_evf_frame_seal(b->buf, b->len);
	return (int)b->len;
}

uint32_t
evg_evf_control_build(void *buf, enum evg_evf_type type, uint16_t count,
		      uint32_t producer_id, uint32_t stream_id,
		      uint64_t session, uint64_t seq)
{
	struct evg_evf_hdr h = {
		.magic = EVG_EVF_MAGIC,
		.type = (uint8_t)type,
		.count = count,
		.producer_id = producer_id,
		.stream_id = stream_id,
		.session = session,
		.seq = seq,
		.length = EVG_EVF_HDR_LEN,
	};

	evg_evf_hdr_encode(&h, buf);
	evg_evf_frame_seal(buf, EVG_EVF_HDR_LEN);
	return EVG_EVF_HDR_LEN;
}
