/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * EVF/1 subscriber extension, version 1 (docs/protocol.md, "Subscribers"):
 * the frames consumers and evgate exchange to deliver the log's events.
 * Producer frames (types 1-4) are unchanged; these are types 16-18
 * (consumer -> evgate) and 24-28 (evgate -> consumer), with the same
 * 40-byte header, magic and CRC-32C. In them the header's producer_id is
 * the consumer id and session the subscription's session.
 *
 * evg_evf_validate() checks every one of them (structure and fields,
 * rules in protocol order); here are the host-order views, encoders and
 * decoders of their bodies, and the DELIVER builder and iterator. Decoders
 * expect a frame that evg_evf_validate() accepted (EVG_EVF_OK for types
 * 16-18, EVG_EVF_BAD_DIRECTION for 24-28). Nothing here allocates, locks
 * or logs; every function is thread-safe on distinct buffers.
 */
#ifndef EVG_EVF_SUB_H
#define EVG_EVF_SUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evg_evf.h"

#define EVG_EVF_SUB_VERSION 1u

/* Frame types. */
enum evg_evf_sub_type {
	EVG_EVF_SUBSCRIBE = 16,	  /* consumer -> evgate */
	EVG_EVF_CREDIT = 17,	  /* consumer -> evgate */
	EVG_EVF_UNSUBSCRIBE = 18, /* consumer -> evgate */
	EVG_EVF_CHALLENGE = 24,	  /* evgate -> consumer */
	EVG_EVF_SUBSCRIBED = 25,  /* evgate -> consumer */
	EVG_EVF_DELIVER = 26,	  /* evgate -> consumer */
	EVG_EVF_COMMITTED = 27,	  /* evgate -> consumer */
	EVG_EVF_SUB_ERROR = 28,	  /* evgate -> consumer */
};

/* True for the subscriber types a consumer sends (16-18). */
static inline bool
evg_evf_sub_from_consumer(unsigned int type)
{
	return type >= EVG_EVF_SUBSCRIBE && type <= EVG_EVF_UNSUBSCRIBE;
}

/* True for the subscriber types evgate sends (24-28). */
static inline bool
evg_evf_sub_from_appliance(unsigned int type)
{
	return type >= EVG_EVF_CHALLENGE && type <= EVG_EVF_SUB_ERROR;
}

/* Sizes. A SUBSCRIBE is at least 128 bytes, so that no reply evgate sends
 * before the cookie round trip (CHALLENGE 48, SUB_ERROR 40) is larger
 * than what it answers. */
#define EVG_EVF_SUB_MAX_STREAMS 16u
#define EVG_EVF_SUB_GROUP_LEN 32u /* name bytes, NUL-padded; <= 31 chars */
#define EVG_EVF_SUB_SUBSCRIBE_MIN 128u
#define EVG_EVF_SUB_SUBSCRIBE_FIXED 104u /* before the stream entries */
#define EVG_EVF_SUB_STREAM_LEN 16u
#define EVG_EVF_SUB_CHALLENGE_LEN 48u
#define EVG_EVF_SUB_CREDIT_LEN 64u
#define EVG_EVF_SUB_UNSUBSCRIBE_LEN 48u
#define EVG_EVF_SUB_SUBSCRIBED_FIXED 64u
#define EVG_EVF_SUB_SUBSCRIBED_ENTRY 24u
#define EVG_EVF_SUB_COMMITTED_ENTRY 16u
#define EVG_EVF_SUB_DELIVER_FIXED 48u /* header + partition + reserved */
#define EVG_EVF_SUB_REC_HDR_LEN 48u
#define EVG_EVF_SUB_MAX_WEIGHT 1000u
#define EVG_EVF_SUB_NO_BYTE_LIMIT UINT32_MAX /* credit_bytes */

/* Where a subscription starts (SUBSCRIBE `start`). */
enum evg_evf_sub_start {
	EVG_EVF_SUB_OLDEST = 0, /* the oldest event still in the log */
	EVG_EVF_SUB_END = 1,	/* the next event appended: live tail */
	EVG_EVF_SUB_OFFSET = 2, /* each stream entry's offset */
	EVG_EVF_SUB_TIME = 3,	/* first event with ts_ns >= start_time */
	EVG_EVF_SUB_START_MAX,
};

/* How a consumer group spreads events over its members. 0 in SUBSCRIBE:
 * the group's own (configured, or set by its first member), else
 * round-robin. */
#define EVG_EVF_SUB_POLICY_FOREACH(X)                                       \
	X(ROUND_ROBIN, 1, "round-robin", "each member in turn")             \
	X(RANDOM, 2, "random", "a member drawn at random")                  \
	X(WEIGHTED, 3, "weighted", "in proportion to the members' weights") \
	X(LEAST_OUTSTANDING, 4, "least-outstanding",                        \
	  "the member with the fewest unprocessed deliveries")              \
	X(KEY_HASH, 5, "key-hash",                                          \
	  "by the event's key: the same key, the same member")

enum evg_evf_sub_policy {
	EVG_EVF_SUB_POLICY_DEFAULT = 0,
#define EVG_EVF_SUB_POLICY_ENUM_(name, code, str, desc) \
	EVG_EVF_SUB_POLICY_##name = code,
	EVG_EVF_SUB_POLICY_FOREACH(EVG_EVF_SUB_POLICY_ENUM_)
#undef EVG_EVF_SUB_POLICY_ENUM_
		EVG_EVF_SUB_POLICY_MAX,
};

/* "round-robin", ...; NULL for 0 or out of range. */
const char *evg_evf_sub_policy_name(unsigned int policy);
/* The policy of a name as above, or -EINVAL. */
int evg_evf_sub_policy_from_name(const char *name);

/* SUB_ERROR reasons (the header's count). */
#define EVG_EVF_SUB_ERROR_FOREACH(X)                                    \
	X(REJECTED, 1, "consumer not allowed by the allow list")        \
	X(FULL, 2, "evgate serves as many subscriptions as it can")     \
	X(FENCED, 3, "a newer session of this consumer id exists")      \
	X(POLICY, 4, "the group exists with another policy")            \
	X(GROUPS, 5, "no room for another group, or the group is full") \
	X(UNKNOWN, 6,                                                   \
	  "no such subscription (expired or evgate restarted): "        \
	  "subscribe again")

enum evg_evf_sub_error {
#define EVG_EVF_SUB_ERROR_ENUM_(name, code, desc) EVG_EVF_SUB_ERR_##name = code,
	EVG_EVF_SUB_ERROR_FOREACH(EVG_EVF_SUB_ERROR_ENUM_)
#undef EVG_EVF_SUB_ERROR_ENUM_
		EVG_EVF_SUB_ERR_MAX,
};

/* "REJECTED", ...; NULL for an unknown code. */
const char *evg_evf_sub_error_name(unsigned int code);
/* One line saying what it means; NULL for an unknown code. */
const char *evg_evf_sub_error_desc(unsigned int code);

/* CREDIT flags (header flags). */
#define EVG_EVF_SUB_F_NAK 0x01u	   /* resend from the header's seq now */
#define EVG_EVF_SUB_F_COMMIT 0x02u /* group: make the commit durable */
/* SUBSCRIBED flags (body). */
#define EVG_EVF_SUB_F_RESUMED 0x01u /* the group started at its commit */
/* DELIVER record flags. An event too large for one DELIVER frame at the
 * port's MTU goes as pieces, one a frame, at consecutive dseqs: each
 * carries the next bytes of key + value (key_size: the key bytes in this
 * piece), every piece but the last has MORE, every piece but the first
 * CONT; all carry the event's offset, producer, session, seq and ts. */
#define EVG_EVF_SUB_REC_REDELIVERED 0x01u /* sent to another member first */
#define EVG_EVF_SUB_REC_MORE 0x02u	  /* the next record continues it */
#define EVG_EVF_SUB_REC_CONT 0x04u	  /* it continues the previous one */
#define EVG_EVF_SUB_REC_FLAGS 0x07u	  /* the flags defined */

/* The header fields every subscriber frame sets (host order). */
struct evg_evf_sub_ids {
	uint32_t consumer_id; /* never 0 */
	uint32_t stream_id;   /* DELIVER: its stream; others 0 */
	uint64_t session;     /* never 0 */
};

struct evg_evf_sub_stream {
	uint32_t stream_id;
	uint64_t offset; /* start OFFSET: the first offset wanted */
};

/* SUBSCRIBE. Header: seq 0, count 0. */
struct evg_evf_sub_subscribe {
	uint64_t cookie; /* 0, then the CHALLENGE's */
	uint8_t start;	 /* enum evg_evf_sub_start */
	uint8_t policy;	 /* enum evg_evf_sub_policy */
	uint8_t nb_streams;
	uint16_t weight;		   /* weighted: 1..1000; 0 means 1 */
	uint32_t credit_events;		   /* initial credit */
	uint32_t credit_bytes;		   /* EVG_EVF_SUB_NO_BYTE_LIMIT: none */
	uint64_t start_time;		   /* TIME: ns since the epoch */
	char group[EVG_EVF_SUB_GROUP_LEN]; /* "" = no group */
	struct evg_evf_sub_stream streams[EVG_EVF_SUB_MAX_STREAMS];
};

/* CREDIT (also the heartbeat). Header: seq = received (every delivery seq
 * below it has arrived), flags NAK / COMMIT. */
struct evg_evf_sub_credit {
	uint64_t received;
	uint64_t token;
	uint64_t processed;	/* every delivery seq below it is done */
	uint32_t credit_events; /* may have this many beyond processed */
	uint32_t credit_bytes;	/* ... and this many payload bytes */
	uint8_t flags;
};

struct evg_evf_sub_start_pos {
	uint32_t stream_id;
	uint32_t partition;
	uint64_t start; /* the first offset it delivers from */
	uint64_t end;	/* the log's end (next offset) when subscribed */
};

/* SUBSCRIBED. Header: seq = first delivery seq (0), count = nb. */
struct evg_evf_sub_subscribed {
	uint64_t token;	       /* to echo in CREDIT and UNSUBSCRIBE */
	uint32_t timeout_ms;   /* silent this long, the subscription ends */
	uint32_t max_inflight; /* events evgate keeps unprocessed at most */
	uint16_t flags;	       /* EVG_EVF_SUB_F_RESUMED */
	uint16_t members;      /* group members with this one; 0: no group */
	uint32_t partitions;   /* of the log */
	uint8_t nb;
	struct evg_evf_sub_start_pos pos[EVG_EVF_SUB_MAX_STREAMS];
};

struct evg_evf_sub_commit_pos {
	uint32_t stream_id;
	uint32_t partition;
	uint64_t offset; /* every event of the stream below it is processed */
};

/* COMMITTED. Header: seq = the processed delivery seq the commit covers,
 * count = nb. */
struct evg_evf_sub_committed {
	uint64_t processed;
	uint8_t nb;
	struct evg_evf_sub_commit_pos pos[EVG_EVF_SUB_MAX_STREAMS];
};

/* One DELIVER record; key and value point into the frame. */
struct evg_evf_sub_record {
	uint64_t offset;
	uint64_t session;
	uint64_t seq;
	uint64_t ts_ns;
	uint32_t producer_id;
	uint32_t key_size;
	uint32_t value_size;
	uint16_t flags; /* EVG_EVF_SUB_REC_REDELIVERED */
	const uint8_t *key;
	const uint8_t *value;
};

/* Bytes a DELIVER record of `size` key+value bytes occupies. */
static inline uint64_t
evg_evf_sub_record_len(uint64_t size)
{
	return EVG_EVF_SUB_REC_HDR_LEN + ((size + 7u) & ~(uint64_t)7u);
}

/* A group name is 1..31 of [A-Za-z0-9._-]. */
bool evg_evf_sub_group_valid(const char *name);

/*
 * Encoders write a sealed frame into buf (cap bytes) and return its length,
 * or -ENOSPC (cap too small), -EINVAL (a zero id or session, nb_streams
 * 0 or above 16, a bad group name, start, policy or weight).
 * SUBSCRIBE is padded with zeros to EVG_EVF_SUB_SUBSCRIBE_MIN.
 */
int evg_evf_sub_subscribe_encode(void *buf, size_t cap,
				 const struct evg_evf_sub_ids *ids,
				 const struct evg_evf_sub_subscribe *s);
int evg_evf_sub_credit_encode(void *buf, size_t cap,
			      const struct evg_evf_sub_ids *ids,
			      const struct evg_evf_sub_credit *c);
int evg_evf_sub_unsubscribe_encode(void *buf, size_t cap,
				   const struct evg_evf_sub_ids *ids,
				   uint64_t token, uint64_t processed);
int evg_evf_sub_challenge_encode(void *buf, size_t cap,
				 const struct evg_evf_sub_ids *ids,
				 uint64_t cookie);
int evg_evf_sub_subscribed_encode(void *buf, size_t cap,
				  const struct evg_evf_sub_ids *ids,
				  const struct evg_evf_sub_subscribed *s);
int evg_evf_sub_committed_encode(void *buf, size_t cap,
				 const struct evg_evf_sub_ids *ids,
				 const struct evg_evf_sub_committed *c);
int evg_evf_sub_error_encode(void *buf, size_t cap,
			     const struct evg_evf_sub_ids *ids,
			     enum evg_evf_sub_error reason, uint64_t detail);

/* Decoders of validated frames (len = the frame's length). */
void evg_evf_sub_subscribe_decode(const void *frame,
				  struct evg_evf_sub_subscribe *s);
void evg_evf_sub_credit_decode(const void *frame, struct evg_evf_sub_credit *c);
/* UNSUBSCRIBE: the token; *processed from the header's seq. */
void evg_evf_sub_unsubscribe_decode(const void *frame, uint64_t *token,
				    uint64_t *processed);
uint64_t evg_evf_sub_challenge_cookie(const void *frame);
void evg_evf_sub_subscribed_decode(const void *frame,
				   struct evg_evf_sub_subscribed *s);
void evg_evf_sub_committed_decode(const void *frame,
				  struct evg_evf_sub_committed *c);

/* DELIVER builder: events of one stream for one subscription, from
 * delivery seq dseq on. */
struct evg_evf_sub_builder {
	uint8_t *buf;
	uint32_t cap;
	uint32_t len;
	uint32_t count;
};

/* Start a DELIVER frame in buf (cap bytes, capped at EVG_EVF_MAX_FRAME).
 * 0, -EINVAL (NULL, zero id or session), -ENOSPC (cap below 48 + one
 * empty record). */
int evg_evf_sub_builder_init(struct evg_evf_sub_builder *b, void *buf,
			     size_t cap, const struct evg_evf_sub_ids *ids,
			     uint64_t dseq, uint32_t partition);
/* Room left for the key and value of one more record, or -1 when not even
 * an empty one fits (or the frame holds 65535 records). */
static inline int64_t
evg_evf_sub_builder_room(const struct evg_evf_sub_builder *b)
{
	if (b->count == UINT16_MAX || b->cap - b->len < EVG_EVF_SUB_REC_HDR_LEN)
		return -1;
	return (int64_t)((b->cap - b->len - EVG_EVF_SUB_REC_HDR_LEN) & ~7u);
}
/* Append one record (r->key/value copied; key_size + value_size bytes).
 * 0, -ENOSPC (does not fit; frame unchanged), -EINVAL (key > 65535). */
int evg_evf_sub_builder_add(struct evg_evf_sub_builder *b,
			    const struct evg_evf_sub_record *r);
/* Write count, length and CRC; the length, or -ENODATA when empty. */
int evg_evf_sub_builder_finish(struct evg_evf_sub_builder *b);

/* Iterator over a validated DELIVER frame's records. */
struct evg_evf_sub_iter {
	const uint8_t *pos;
	const uint8_t *end;
	uint32_t left;
};

/* The partition a validated DELIVER frame's records are from. */
uint32_t evg_evf_sub_deliver_partition(const void *frame);
void evg_evf_sub_iter_init(struct evg_evf_sub_iter *it, const void *frame);
bool evg_evf_sub_iter_next(struct evg_evf_sub_iter *it,
			   struct evg_evf_sub_record *r);

/* For evg_evf_validate(): rules 6-9 and `field` for types 16-28 (the
 * header's rules 1-5 already passed). Not for other callers. */
enum evg_evf_verdict evg_evf_sub_check(const uint8_t *frame,
				       const struct evg_evf_hdr *h);

#endif /* EVG_EVF_SUB_H */
