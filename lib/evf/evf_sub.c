/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * EVF/1 subscriber extension: body checks, encoders, decoders, the
 * DELIVER builder and iterator (evg_evf_sub.h, docs/protocol.md).
 * Offsets below are bytes from the frame's start.
 */
#include <errno.h>
#include <string.h>

#include "evg_byteorder.h"
#include "evg_evf_sub.h"

/* SUBSCRIBE body */
#define SU_COOKIE 40
#define SU_VERSION 48
#define SU_START 49
#define SU_POLICY 50
#define SU_NB 51
#define SU_WEIGHT 52
#define SU_RSVD 54
#define SU_CREDIT_EV 56
#define SU_CREDIT_BY 60
#define SU_TIME 64
#define SU_GROUP 72
#define SU_STREAMS EVG_EVF_SUB_SUBSCRIBE_FIXED
/* CREDIT, UNSUBSCRIBE, CHALLENGE */
#define CR_TOKEN 40
#define CR_PROCESSED 48
#define CR_CREDIT_EV 56
#define CR_CREDIT_BY 60
/* SUBSCRIBED */
#define SD_TOKEN 40
#define SD_TIMEOUT 48
#define SD_INFLIGHT 52
#define SD_FLAGS 56
#define SD_MEMBERS 58
#define SD_PARTS 60
/* DELIVER */
#define DL_PARTITION 40
#define DL_RSVD 44

_Static_assert(EVG_EVF_SUB_SUBSCRIBE_FIXED + EVG_EVF_SUB_MAX_STREAMS *
						     EVG_EVF_SUB_STREAM_LEN <=
		       EVG_EVF_MAX_FRAME,
	       "a SUBSCRIBE fits a datagram");

static const char *const policy_names[EVG_EVF_SUB_POLICY_MAX] = {
#define NAME_(name, code, str, desc) [code] = str,
	EVG_EVF_SUB_POLICY_FOREACH(NAME_)
#undef NAME_
};

static const char *const error_names[EVG_EVF_SUB_ERR_MAX] = {
#define NAME_(name, code, desc) [code] = #name,
	EVG_EVF_SUB_ERROR_FOREACH(NAME_)
#undef NAME_
};

static const char *const error_descs[EVG_EVF_SUB_ERR_MAX] = {
#define DESC_(name, code, desc) [code] = desc,
	EVG_EVF_SUB_ERROR_FOREACH(DESC_)
#undef DESC_
};

const char *
evg_evf_sub_policy_name(unsigned int policy)
{
	return policy < EVG_EVF_SUB_POLICY_MAX ? policy_names[policy] : NULL;
}

int
evg_evf_sub_policy_from_name(const char *name)
{
	if (name == NULL)
		return -EINVAL;
	for (unsigned int i = 1; i < EVG_EVF_SUB_POLICY_MAX; i++)
		if (strcmp(policy_names[i], name) == 0)
			return (int)i;
	return -EINVAL;
}

const char *
evg_evf_sub_error_name(unsigned int code)
{
	return code < EVG_EVF_SUB_ERR_MAX ? error_names[code] : NULL;
}

const char *
evg_evf_sub_error_desc(unsigned int code)
{
	return code < EVG_EVF_SUB_ERR_MAX ? error_descs[code] : NULL;
}

static bool
group_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

bool
evg_evf_sub_group_valid(const char *name)
{
	size_t n;

	if (name == NULL)
		return false;
	for (n = 0; name[n] != '\0'; n++)
		if (n >= EVG_EVF_SUB_GROUP_LEN - 1 || !group_char(name[n]))
			return false;
	return n > 0;
}

/* The 32 group bytes of a SUBSCRIBE: all zero, or a valid name followed
 * by zeros only. */
static bool
group_field_valid(const uint8_t *g)
{
	size_t n = 0;

	while (n < EVG_EVF_SUB_GROUP_LEN && g[n] != 0) {
		if (!group_char((char)g[n]))
			return false;
		n++;
	}
	if (n >= EVG_EVF_SUB_GROUP_LEN)
		return false; /* no NUL: 32 characters is one too many */
	for (size_t i = n; i < EVG_EVF_SUB_GROUP_LEN; i++)
		if (g[i] != 0)
			return false;
	return true;
}

static uint32_t
subscribe_len(unsigned int nb)
{
	uint32_t len =
		EVG_EVF_SUB_SUBSCRIBE_FIXED + nb * EVG_EVF_SUB_STREAM_LEN;

	return len < EVG_EVF_SUB_SUBSCRIBE_MIN ? EVG_EVF_SUB_SUBSCRIBE_MIN
					       : len;
}

static enum evg_evf_verdict
check_subscribe_fields(const uint8_t *p)
{
	unsigned int nb = p[SU_NB];

	if (p[SU_VERSION] != EVG_EVF_SUB_VERSION ||
	    p[SU_START] >= EVG_EVF_SUB_START_MAX ||
	    p[SU_POLICY] >= EVG_EVF_SUB_POLICY_MAX || nb == 0 ||
	    nb > EVG_EVF_SUB_MAX_STREAMS ||
	    evg_ld16(p + SU_WEIGHT) > EVG_EVF_SUB_MAX_WEIGHT ||
	    evg_ld16(p + SU_RSVD) != 0 || !group_field_valid(p + SU_GROUP))
		return EVG_EVF_BAD_FIELD;
	for (unsigned int i = 0; i < nb; i++) {
		const uint8_t *e = p + SU_STREAMS + i * EVG_EVF_SUB_STREAM_LEN;

		if (evg_ld32(e + 4) != 0)
			return EVG_EVF_BAD_FIELD;
		for (unsigned int k = 0; k < i; k++)
			if (evg_ld32(p + SU_STREAMS +
				     k * EVG_EVF_SUB_STREAM_LEN) == evg_ld32(e))
				return EVG_EVF_BAD_FIELD; /* listed twice */
	}
	return EVG_EVF_OK;
}

/* DELIVER records: structure first, then key_size, then attrs (record
 * flags other than REDELIVERED, reserved word), as DATA's are checked. */
static enum evg_evf_verdict
check_deliver_records(const uint8_t *p, uint32_t n, uint32_t count)
{
	const uint8_t *end = p + n;
	uint32_t bad_key = 0, bad_attrs = 0;

	for (uint32_t i = 0; i < count; i++) {
		uint64_t size, rec_len;

		if ((size_t)(end - p) < EVG_EVF_SUB_REC_HDR_LEN)
			return EVG_EVF_BAD_RECORDS;
		size = evg_ld32(p);
		rec_len = evg_evf_sub_record_len(size);
		if (rec_len > (size_t)(end - p))
			return EVG_EVF_BAD_RECORDS;
		bad_key |= evg_ld16(p + 4) > size;
		bad_attrs |= (evg_ld16(p + 6) & ~EVG_EVF_SUB_REC_FLAGS) |
			     evg_ld32(p + 12);
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

/* Rule 6 (count): what the count field must be for the type. */
static bool
count_ok(const struct evg_evf_hdr *h)
{
	switch (h->type) {
	case EVG_EVF_DELIVER:
	case EVG_EVF_SUB_ERROR:
		return h->count != 0;
	case EVG_EVF_SUBSCRIBED:
		return h->count != 0 && h->count <= EVG_EVF_SUB_MAX_STREAMS;
	case EVG_EVF_COMMITTED:
		return h->count <= EVG_EVF_SUB_MAX_STREAMS;
	default:
		return h->count == 0;
	}
}

/* Rule 7 (records): the length the type's body needs. */
static enum evg_evf_verdict
check_length(const uint8_t *p, const struct evg_evf_hdr *h)
{
	unsigned int nb;

	switch (h->type) {
	case EVG_EVF_SUBSCRIBE:
		/* nb_streams (byte 51) only once the frame is long enough:
		 * a 40-byte SUBSCRIBE has none. */
		if (h->length < EVG_EVF_SUB_SUBSCRIBE_MIN)
			return EVG_EVF_BAD_RECORDS;
		nb = p[SU_NB];
		/* A bad nb_streams is a field error (rule 10). */
		if (nb == 0 || nb > EVG_EVF_SUB_MAX_STREAMS)
			return h->length % 8 == 0 ? EVG_EVF_OK
						  : EVG_EVF_BAD_RECORDS;
		return h->length == subscribe_len(nb) ? EVG_EVF_OK
						      : EVG_EVF_BAD_RECORDS;
	case EVG_EVF_CREDIT:
		return h->length == EVG_EVF_SUB_CREDIT_LEN
			       ? EVG_EVF_OK
			       : EVG_EVF_BAD_RECORDS;
	case EVG_EVF_UNSUBSCRIBE:
		return h->length == EVG_EVF_SUB_UNSUBSCRIBE_LEN
			       ? EVG_EVF_OK
			       : EVG_EVF_BAD_RECORDS;
	case EVG_EVF_CHALLENGE:
		return h->length == EVG_EVF_SUB_CHALLENGE_LEN
			       ? EVG_EVF_OK
			       : EVG_EVF_BAD_RECORDS;
	case EVG_EVF_SUBSCRIBED:
		return h->length == EVG_EVF_SUB_SUBSCRIBED_FIXED +
					       h->count *
						       EVG_EVF_SUB_SUBSCRIBED_ENTRY
			       ? EVG_EVF_OK
			       : EVG_EVF_BAD_RECORDS;
	case EVG_EVF_COMMITTED:
		return h->length == EVG_EVF_HDR_LEN +
					       h->count *
						       EVG_EVF_SUB_COMMITTED_ENTRY
			       ? EVG_EVF_OK
			       : EVG_EVF_BAD_RECORDS;
	case EVG_EVF_SUB_ERROR:
		return h->length == EVG_EVF_HDR_LEN ? EVG_EVF_OK
						    : EVG_EVF_BAD_RECORDS;
	default: /* DELIVER */
		if (h->length < EVG_EVF_SUB_DELIVER_FIXED)
			return EVG_EVF_BAD_RECORDS;
		return check_deliver_records(
			p + EVG_EVF_SUB_DELIVER_FIXED,
			h->length - EVG_EVF_SUB_DELIVER_FIXED, h->count);
	}
}

enum evg_evf_verdict
evg_evf_sub_check(const uint8_t *p, const struct evg_evf_hdr *h)
{
	enum evg_evf_verdict v;

	if (!count_ok(h))
		return EVG_EVF_BAD_COUNT;
	v = check_length(p, h);
	if (v != EVG_EVF_OK)
		return v;
	switch (h->type) {
	case EVG_EVF_SUBSCRIBE:
		return check_subscribe_fields(p);
	case EVG_EVF_CREDIT:
		return evg_ld64(p + CR_PROCESSED) > h->seq ? EVG_EVF_BAD_FIELD
							   : EVG_EVF_OK;
	case EVG_EVF_SUB_ERROR:
		return h->count >= EVG_EVF_SUB_ERR_MAX ? EVG_EVF_BAD_FIELD
						       : EVG_EVF_OK;
	case EVG_EVF_DELIVER:
		return evg_ld32(p + DL_RSVD) != 0 ? EVG_EVF_BAD_FIELD
						  : EVG_EVF_OK;
	default:
		return EVG_EVF_OK;
	}
}

/* ---- encoders -------------------------------------------------------- */

static int
start_frame(void *buf, size_t cap, const struct evg_evf_sub_ids *ids,
	    enum evg_evf_sub_type type, uint8_t flags, uint16_t count,
	    uint64_t seq, uint32_t len)
{
	struct evg_evf_hdr h = {
		.magic = EVG_EVF_MAGIC,
		.type = (uint8_t)type,
		.flags = flags,
		.count = count,
		.seq = seq,
		.length = len,
	};

	if (buf == NULL || ids == NULL || ids->consumer_id == 0 ||
	    ids->session == 0)
		return -EINVAL;
	if (cap < len)
		return -ENOSPC;
	h.producer_id = ids->consumer_id;
	h.stream_id = type == EVG_EVF_DELIVER ? ids->stream_id : 0;
	h.session = ids->session;
	memset(buf, 0, len);
	evg_evf_hdr_encode(&h, buf);
	return 0;
}

static int
seal(void *buf, uint32_t len)
{
	evg_evf_frame_seal(buf, len);
	return (int)len;
}

int
evg_evf_sub_subscribe_encode(void *buf, size_t cap,
			     const struct evg_evf_sub_ids *ids,
			     const struct evg_evf_sub_subscribe *s)
{
	uint8_t *p = buf;
	size_t glen;
	uint32_t len;
	int rc;

	if (s == NULL || s->nb_streams == 0 ||
	    s->nb_streams > EVG_EVF_SUB_MAX_STREAMS ||
	    s->start >= EVG_EVF_SUB_START_MAX ||
	    s->policy >= EVG_EVF_SUB_POLICY_MAX ||
	    s->weight > EVG_EVF_SUB_MAX_WEIGHT)
		return -EINVAL;
	glen = strnlen(s->group, EVG_EVF_SUB_GROUP_LEN);
	if (glen > 0 && !evg_evf_sub_group_valid(s->group))
		return -EINVAL;
	for (unsigned int i = 0; i < s->nb_streams; i++)
		for (unsigned int k = 0; k < i; k++)
			if (s->streams[k].stream_id == s->streams[i].stream_id)
				return -EINVAL;
	len = subscribe_len(s->nb_streams);
	rc = start_frame(buf, cap, ids, EVG_EVF_SUBSCRIBE, 0, 0, 0, len);
	if (rc < 0)
		return rc;
	evg_st64(p + SU_COOKIE, s->cookie);
	p[SU_VERSION] = EVG_EVF_SUB_VERSION;
	p[SU_START] = s->start;
	p[SU_POLICY] = s->policy;
	p[SU_NB] = s->nb_streams;
	evg_st16(p + SU_WEIGHT, s->weight);
	evg_st32(p + SU_CREDIT_EV, s->credit_events);
	evg_st32(p + SU_CREDIT_BY, s->credit_bytes);
	evg_st64(p + SU_TIME, s->start_time);
	memcpy(p + SU_GROUP, s->group, glen);
	for (unsigned int i = 0; i < s->nb_streams; i++) {
		uint8_t *e = p + SU_STREAMS + i * EVG_EVF_SUB_STREAM_LEN;

		evg_st32(e, s->streams[i].stream_id);
		evg_st64(e + 8, s->streams[i].offset);
	}
	return seal(buf, len);
}

int
evg_evf_sub_credit_encode(void *buf, size_t cap,
			  const struct evg_evf_sub_ids *ids,
			  const struct evg_evf_sub_credit *c)
{
	uint8_t *p = buf;
	int rc;

	if (c == NULL || c->processed > c->received)
		return -EINVAL;
	rc = start_frame(buf, cap, ids, EVG_EVF_CREDIT,
			 c->flags & (EVG_EVF_SUB_F_NAK | EVG_EVF_SUB_F_COMMIT),
			 0, c->received, EVG_EVF_SUB_CREDIT_LEN);
	if (rc < 0)
		return rc;
	evg_st64(p + CR_TOKEN, c->token);
	evg_st64(p + CR_PROCESSED, c->processed);
	evg_st32(p + CR_CREDIT_EV, c->credit_events);
	evg_st32(p + CR_CREDIT_BY, c->credit_bytes);
	return seal(buf, EVG_EVF_SUB_CREDIT_LEN);
}

int
evg_evf_sub_unsubscribe_encode(void *buf, size_t cap,
			       const struct evg_evf_sub_ids *ids,
			       uint64_t token, uint64_t processed)
{
	int rc = start_frame(buf, cap, ids, EVG_EVF_UNSUBSCRIBE, 0, 0,
			     processed, EVG_EVF_SUB_UNSUBSCRIBE_LEN);

	if (rc < 0)
		return rc;
	evg_st64((uint8_t *)buf + CR_TOKEN, token);
	return seal(buf, EVG_EVF_SUB_UNSUBSCRIBE_LEN);
}

int
evg_evf_sub_challenge_encode(void *buf, size_t cap,
			     const struct evg_evf_sub_ids *ids, uint64_t cookie)
{
	int rc = start_frame(buf, cap, ids, EVG_EVF_CHALLENGE, 0, 0, 0,
			     EVG_EVF_SUB_CHALLENGE_LEN);

	if (rc < 0)
		return rc;
	evg_st64((uint8_t *)buf + CR_TOKEN, cookie);
	return seal(buf, EVG_EVF_SUB_CHALLENGE_LEN);
}

int
evg_evf_sub_subscribed_encode(void *buf, size_t cap,
			      const struct evg_evf_sub_ids *ids,
			      const struct evg_evf_sub_subscribed *s)
{
	uint8_t *p = buf;
	uint32_t len;
	int rc;

	if (s == NULL || s->nb == 0 || s->nb > EVG_EVF_SUB_MAX_STREAMS)
		return -EINVAL;
	len = EVG_EVF_SUB_SUBSCRIBED_FIXED +
	      s->nb * EVG_EVF_SUB_SUBSCRIBED_ENTRY;
	rc = start_frame(buf, cap, ids, EVG_EVF_SUBSCRIBED, 0, s->nb, 0, len);
	if (rc < 0)
		return rc;
	evg_st64(p + SD_TOKEN, s->token);
	evg_st32(p + SD_TIMEOUT, s->timeout_ms);
	evg_st32(p + SD_INFLIGHT, s->max_inflight);
	evg_st16(p + SD_FLAGS, s->flags);
	evg_st16(p + SD_MEMBERS, s->members);
	evg_st32(p + SD_PARTS, s->partitions);
	for (unsigned int i = 0; i < s->nb; i++) {
		uint8_t *e = p + EVG_EVF_SUB_SUBSCRIBED_FIXED +
			     i * EVG_EVF_SUB_SUBSCRIBED_ENTRY;

		evg_st32(e, s->pos[i].stream_id);
		evg_st32(e + 4, s->pos[i].partition);
		evg_st64(e + 8, s->pos[i].start);
		evg_st64(e + 16, s->pos[i].end);
	}
	return seal(buf, len);
}

int
evg_evf_sub_committed_encode(void *buf, size_t cap,
			     const struct evg_evf_sub_ids *ids,
			     const struct evg_evf_sub_committed *c)
{
	uint8_t *p = buf;
	uint32_t len;
	int rc;

	if (c == NULL || c->nb > EVG_EVF_SUB_MAX_STREAMS)
		return -EINVAL;
	len = EVG_EVF_HDR_LEN + c->nb * EVG_EVF_SUB_COMMITTED_ENTRY;
	rc = start_frame(buf, cap, ids, EVG_EVF_COMMITTED, 0, c->nb,
			 c->processed, len);
	if (rc < 0)
		return rc;
	for (unsigned int i = 0; i < c->nb; i++) {
		uint8_t *e =
			p + EVG_EVF_HDR_LEN + i * EVG_EVF_SUB_COMMITTED_ENTRY;

		evg_st32(e, c->pos[i].stream_id);
		evg_st32(e + 4, c->pos[i].partition);
		evg_st64(e + 8, c->pos[i].offset);
	}
	return seal(buf, len);
}

int
evg_evf_sub_error_encode(void *buf, size_t cap,
			 const struct evg_evf_sub_ids *ids,
			 enum evg_evf_sub_error reason, uint64_t detail)
{
	int rc;

	if ((unsigned int)reason == 0 || reason >= EVG_EVF_SUB_ERR_MAX)
		return -EINVAL;
	rc = start_frame(buf, cap, ids, EVG_EVF_SUB_ERROR, 0, (uint16_t)reason,
			 detail, EVG_EVF_HDR_LEN);
	if (rc < 0)
		return rc;
	return seal(buf, EVG_EVF_HDR_LEN);
}

/* ---- decoders -------------------------------------------------------- */

void
evg_evf_sub_subscribe_decode(const void *frame, struct evg_evf_sub_subscribe *s)
{
	const uint8_t *p = frame;

	memset(s, 0, sizeof(*s));
	s->cookie = evg_ld64(p + SU_COOKIE);
	s->start = p[SU_START];
	s->policy = p[SU_POLICY];
	s->nb_streams = p[SU_NB];
	s->weight = evg_ld16(p + SU_WEIGHT);
	s->credit_events = evg_ld32(p + SU_CREDIT_EV);
	s->credit_bytes = evg_ld32(p + SU_CREDIT_BY);
	s->start_time = evg_ld64(p + SU_TIME);
	memcpy(s->group, p + SU_GROUP, EVG_EVF_SUB_GROUP_LEN);
	s->group[EVG_EVF_SUB_GROUP_LEN - 1] = '\0';
	for (unsigned int i = 0;
	     i < s->nb_streams && i < EVG_EVF_SUB_MAX_STREAMS; i++) {
		const uint8_t *e = p + SU_STREAMS + i * EVG_EVF_SUB_STREAM_LEN;

		s->streams[i].stream_id = evg_ld32(e);
		s->streams[i].offset = evg_ld64(e + 8);
	}
}

void
evg_evf_sub_credit_decode(const void *frame, struct evg_evf_sub_credit *c)
{
	const uint8_t *p = frame;

	c->received = evg_ld64(p + 24);
	c->flags = p[5];
	c->token = evg_ld64(p + CR_TOKEN);
	c->processed = evg_ld64(p + CR_PROCESSED);
	c->credit_events = evg_ld32(p + CR_CREDIT_EV);
	c->credit_bytes = evg_ld32(p + CR_CREDIT_BY);
}

void
evg_evf_sub_unsubscribe_decode(const void *frame, uint64_t *token,
			       uint64_t *processed)
{
	const uint8_t *p = frame;

	*token = evg_ld64(p + CR_TOKEN);
	*processed = evg_ld64(p + 24);
}

uint64_t
evg_evf_sub_challenge_cookie(const void *frame)
{
	return evg_ld64((const uint8_t *)frame + CR_TOKEN);
}

void
evg_evf_sub_subscribed_decode(const void *frame,
			      struct evg_evf_sub_subscribed *s)
{
	const uint8_t *p = frame;

	memset(s, 0, sizeof(*s));
	s->token = evg_ld64(p + SD_TOKEN);
	s->timeout_ms = evg_ld32(p + SD_TIMEOUT);
	s->max_inflight = evg_ld32(p + SD_INFLIGHT);
	s->flags = evg_ld16(p + SD_FLAGS);
	s->members = evg_ld16(p + SD_MEMBERS);
	s->partitions = evg_ld32(p + SD_PARTS);
	s->nb = (uint8_t)evg_ld16(p + 6);
	for (unsigned int i = 0; i < s->nb && i < EVG_EVF_SUB_MAX_STREAMS;
	     i++) {
		const uint8_t *e = p + EVG_EVF_SUB_SUBSCRIBED_FIXED +
				   i * EVG_EVF_SUB_SUBSCRIBED_ENTRY;

		s->pos[i].stream_id = evg_ld32(e);
		s->pos[i].partition = evg_ld32(e + 4);
		s->pos[i].start = evg_ld64(e + 8);
		s->pos[i].end = evg_ld64(e + 16);
	}
}

void
evg_evf_sub_committed_decode(const void *frame, struct evg_evf_sub_committed *c)
{
	const uint8_t *p = frame;

	memset(c, 0, sizeof(*c));
	c->processed = evg_ld64(p + 24);
	c->nb = (uint8_t)evg_ld16(p + 6);
	for (unsigned int i = 0; i < c->nb && i < EVG_EVF_SUB_MAX_STREAMS;
	     i++) {
		const uint8_t *e =
			p + EVG_EVF_HDR_LEN + i * EVG_EVF_SUB_COMMITTED_ENTRY;

		c->pos[i].stream_id = evg_ld32(e);
		c->pos[i].partition = evg_ld32(e + 4);
		c->pos[i].offset = evg_ld64(e + 8);
	}
}

/* ---- DELIVER ----------------------------------------------------------- */

int
evg_evf_sub_builder_init(struct evg_evf_sub_builder *b, void *buf, size_t cap,
			 const struct evg_evf_sub_ids *ids, uint64_t dseq,
			 uint32_t partition)
{
	int rc;

	if (b == NULL)
		return -EINVAL;
	if (cap > EVG_EVF_MAX_FRAME)
		cap = EVG_EVF_MAX_FRAME;
	if (cap < EVG_EVF_SUB_DELIVER_FIXED + EVG_EVF_SUB_REC_HDR_LEN)
		return buf == NULL || ids == NULL ? -EINVAL : -ENOSPC;
	rc = start_frame(buf, cap, ids, EVG_EVF_DELIVER, 0, 0, dseq,
			 EVG_EVF_SUB_DELIVER_FIXED);
	if (rc < 0)
		return rc;
	evg_st32((uint8_t *)buf + DL_PARTITION, partition);
	b->buf = buf;
	b->cap = (uint32_t)cap;
	b->len = EVG_EVF_SUB_DELIVER_FIXED;
	b->count = 0;
	return 0;
}

int
evg_evf_sub_builder_add(struct evg_evf_sub_builder *b,
			const struct evg_evf_sub_record *r)
{
	uint64_t size = (uint64_t)r->key_size + r->value_size;
	uint64_t rec_len = evg_evf_sub_record_len(size);
	uint8_t *p;

	if (r->key_size > EVG_EVF_MAX_KEY)
		return -EINVAL;
	if (b->count == UINT16_MAX || rec_len > b->cap - b->len)
		return -ENOSPC;
	p = b->buf + b->len;
	evg_st32(p, (uint32_t)size);
	evg_st16(p + 4, (uint16_t)r->key_size);
	evg_st16(p + 6, r->flags & EVG_EVF_SUB_REC_FLAGS);
	evg_st32(p + 8, r->producer_id);
	evg_st32(p + 12, 0);
	evg_st64(p + 16, r->offset);
	evg_st64(p + 24, r->session);
	evg_st64(p + 32, r->seq);
	evg_st64(p + 40, r->ts_ns);
	p += EVG_EVF_SUB_REC_HDR_LEN;
	if (r->key_size != 0)
		memcpy(p, r->key, r->key_size);
	if (r->value_size != 0)
		memcpy(p + r->key_size, r->value, r->value_size);
	memset(p + size, 0, rec_len - EVG_EVF_SUB_REC_HDR_LEN - size);
	b->len += (uint32_t)rec_len;
	b->count++;
	return 0;
}

int
evg_evf_sub_builder_finish(struct evg_evf_sub_builder *b)
{
	if (b->count == 0)
		return -ENODATA;
	evg_st16(b->buf + 6, (uint16_t)b->count);
	evg_st32(b->buf + 32, b->len);
	return seal(b->buf, b->len);
}

uint32_t
evg_evf_sub_deliver_partition(const void *frame)
{
	return evg_ld32((const uint8_t *)frame + DL_PARTITION);
}

void
evg_evf_sub_iter_init(struct evg_evf_sub_iter *it, const void *frame)
{
	const uint8_t *p = frame;

	it->pos = p + EVG_EVF_SUB_DELIVER_FIXED;
	it->end = p + evg_ld32(p + 32);
	it->left = evg_ld16(p + 6);
}

bool
evg_evf_sub_iter_next(struct evg_evf_sub_iter *it, struct evg_evf_sub_record *r)
{
	const uint8_t *p = it->pos;
	uint32_t size, key_size;

	if (it->left == 0 || (size_t)(it->end - p) < EVG_EVF_SUB_REC_HDR_LEN)
		return false;
	size = evg_ld32(p);
	key_size = evg_ld16(p + 4);
	if (evg_evf_sub_record_len(size) > (size_t)(it->end - p) ||
	    key_size > size)
		return false;
	r->flags = evg_ld16(p + 6);
	r->producer_id = evg_ld32(p + 8);
	r->offset = evg_ld64(p + 16);
	r->session = evg_ld64(p + 24);
	r->seq = evg_ld64(p + 32);
	r->ts_ns = evg_ld64(p + 40);
	r->key = p + EVG_EVF_SUB_REC_HDR_LEN;
	r->key_size = key_size;
	r->value = r->key + key_size;
	r->value_size = size - key_size;
	it->pos = p + evg_evf_sub_record_len(size);
	it->left--;
	return true;
}
