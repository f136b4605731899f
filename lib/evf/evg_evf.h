/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * EVF/1 codec: the event frame wire format (docs/protocol.md).
 *
 * - evg_evf_validate() checks a received UDP payload against every rule of
 *   the protocol and names the first rule broken.
 * - evg_evf_iter_*() walks the events of a validated DATA frame in place,
 *   without copying.
 * - evg_evf_builder_*() lets a producer append events into a frame until a
 *   byte limit, then seals it (length, count, CRC).
 * - evg_evf_control_build() writes the 40-byte ACK, NAK and PING frames.
 *
 * All wire integers are little-endian; the structs here are host-order
 * views. Nothing here allocates, locks or logs; every function is
 * thread-safe on distinct buffers.
 */
#ifndef EVG_EVF_H
#define EVG_EVF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVG_EVF_MAGIC 0x31465645u /* "EVF1" read as little-endian */
#define EVG_EVF_HDR_LEN 40u
#define EVG_EVF_REC_HDR_LEN 16u
#define EVG_EVF_CRC_OFF 36u
#define EVG_EVF_UDP_PORT 7470u
#define EVG_EVF_MAX_FRAME 65507u /* largest IPv4 UDP payload */
#define EVG_EVF_MAX_COUNT UINT16_MAX
#define EVG_EVF_MAX_KEY UINT16_MAX

enum evg_evf_type {
	EVG_EVF_DATA = 1,
	EVG_EVF_ACK = 2,
	EVG_EVF_NAK = 3,
	EVG_EVF_PING = 4,
	/* 16-18 and 24-28: the subscriber extension, evg_evf_sub.h */
};

/* DATA flags. Other bits are reserved: sent as 0, ignored on receipt. */
#define EVG_EVF_FLAG_ACK_NOW 0x01u

/* NAK reason codes, carried in the count field. */
#define EVG_EVF_NAK_FOREACH(X)                                                 \
	X(GAP, 1, "resend from seq")                                           \
	X(FENCED, 2, "a newer session of this producer exists")               \
	X(BUSY, 3, "appliance overloaded; back off and resend")                \
	X(REJECTED, 4, "producer not allowed")                                 \
	X(STORAGE, 5, "the log cannot persist; back off and resend")

enum evg_evf_nak_code {
#define EVG_EVF_NAK_ENUM_(name, code, desc) EVG_EVF_NAK_##name = code,
	EVG_EVF_NAK_FOREACH(EVG_EVF_NAK_ENUM_)
#undef EVG_EVF_NAK_ENUM_
};

/*
 * Validation verdicts, in the order of the protocol's rule list: a frame
 * that breaks several rules is reported under the first. One list yields
 * the enum, the names (also used as counter names) and the descriptions.
 */
#define EVG_EVF_MALFORMED_FOREACH(X)                                           \
	X(RUNT, "runt", "shorter than the 40-byte header")                     \
	X(MAGIC, "magic", "magic is not EVF1")                                 \
	X(TYPE, "type", "unknown frame type")                                  \
	X(LENGTH, "length", "length field differs from the UDP payload length") \
	X(CRC, "crc", "CRC-32C mismatch")                                      \
	X(COUNT, "count", "DATA with count 0, or PING with count != 0")        \
	X(RECORDS, "records", "records overflow or underfill the frame")       \
	X(KEY_SIZE, "key_size", "a record's key_size exceeds its size")        \
	X(ATTRS, "attrs", "a record's reserved attrs is not 0")                \
	X(FIELD, "field",                                                      \
	  "a subscriber frame's field out of range (version, start, policy, "  \
	  "streams, group, weight, reason, reserved)")                         \
	X(PRODUCER, "producer", "producer_id is 0")                            \
	X(SESSION, "session", "session is 0")                                  \
	X(DIRECTION, "direction",                                              \
	  "ACK, NAK or an evgate-to-consumer frame arriving from the network")

enum evg_evf_verdict {
	EVG_EVF_OK = 0,
#define EVG_EVF_VERDICT_ENUM_(name, str, desc) EVG_EVF_BAD_##name,
	EVG_EVF_MALFORMED_FOREACH(EVG_EVF_VERDICT_ENUM_)
#undef EVG_EVF_VERDICT_ENUM_
	EVG_EVF_VERDICT_MAX,
};
#define EVG_EVF_NB_MALFORMED (EVG_EVF_VERDICT_MAX - 1)

/* Frames seen per verdict: v[EVG_EVF_OK] counts accepted frames, the rest
 * one drop counter per malformation. Meant for a per-lcore stats block. */
struct evg_evf_counters {
	uint64_t v[EVG_EVF_VERDICT_MAX];
};

/* Host-order view of the 40-byte header. */
struct evg_evf_hdr {
	uint32_t magic;
	uint8_t type;
	uint8_t flags;
	uint16_t count;
	uint32_t producer_id;
	uint32_t stream_id;
	uint64_t session;
	uint64_t seq;
	uint32_t length;
	uint32_t crc32c;
};

/* One event of a frame; key and value point into the frame. */
struct evg_evf_event {
	const uint8_t *key;
	const uint8_t *value;
	uint32_t key_size;
	uint32_t value_size;
	uint64_t ts_ns;
};

/* Iterator over the records of a validated DATA frame. */
struct evg_evf_iter {
	const uint8_t *pos;
	const uint8_t *end;
	uint32_t left;
};

/* Frame builder; fields are private to evf.c. */
struct evg_evf_builder {
	uint8_t *buf;
	uint32_t cap;
	uint32_t len;
	uint32_t count;
};

/* "runt", "magic", ... ("ok" for EVG_EVF_OK); NULL when out of range. */
const char *evg_evf_verdict_name(enum evg_evf_verdict v);
/* One-line human description of a verdict. */
const char *evg_evf_verdict_desc(enum evg_evf_verdict v);
/* Verdict for a rule name as written by evg_evf_verdict_name(), or -EINVAL. */
int evg_evf_verdict_from_name(const char *name);
/* "GAP", "FENCED", ...; NULL for an unknown code. */
const char *evg_evf_nak_name(unsigned int code);

/* Bytes one record of `size` key+value bytes occupies: 16 + align8(size). */
static inline uint64_t
evg_evf_record_len(uint64_t size)
{
	return EVG_EVF_REC_HDR_LEN + ((size + 7u) & ~(uint64_t)7u);
}

/* Largest key+value size of a single event in a frame of `frame_len`
 * bytes; -ENOSPC when not even an empty event fits. */
int64_t evg_evf_max_event_size(uint32_t frame_len);

/* CRC-32C (Castagnoli) of `len` bytes, with the protocol's init and final
 * xor: evg_evf_crc32c("123456789", 9) == 0xE3069283. Hardware CRC when
 * the CPU has it: via ISA-L's crc32_iscsi in evg_evf_dep, via SSE4.2
 * intrinsics in the DPDK-free evg_evf_nodpdk_dep (libevclient). */
uint32_t evg_evf_crc32c(const void *data, size_t len);

/* The frame CRC: CRC-32C over [0, len) with the crc32c field read as 0.
 * len must be >= EVG_EVF_HDR_LEN. */
uint32_t evg_evf_frame_crc(const void *frame, size_t len);

/* Decode the first 40 bytes of buf (no checks). */
void evg_evf_hdr_decode(const void *buf, struct evg_evf_hdr *hdr);
/* Encode hdr into 40 bytes at buf, crc32c field as given. */
void evg_evf_hdr_encode(const struct evg_evf_hdr *hdr, void *buf);
/* Store the frame CRC of the first len bytes into its header. */
void evg_evf_frame_seal(void *frame, size_t len);

/*
 * Validate a received UDP payload of len bytes. Returns EVG_EVF_OK or the
 * first rule the frame breaks. When hdr is not NULL and the payload holds
 * at least a header, *hdr receives the decoded header either way.
 */
enum evg_evf_verdict evg_evf_validate(const void *frame, size_t len,
				      struct evg_evf_hdr *hdr);

/* Start iterating the events of a frame that evg_evf_validate() accepted
 * as DATA. */
void evg_evf_iter_init(struct evg_evf_iter *it, const void *frame);
/* Next event; false after the last one. */
bool evg_evf_iter_next(struct evg_evf_iter *it, struct evg_evf_event *ev);

/*
 * Start a DATA frame in buf (cap bytes). hdr supplies producer_id,
 * stream_id, session, seq and flags; the rest is filled in by
 * evg_evf_builder_finish(). Returns 0, -EINVAL for a NULL buffer or a zero
 * producer or session, -ENOSPC when cap < EVG_EVF_HDR_LEN. A cap above
 * EVG_EVF_MAX_FRAME is treated as EVG_EVF_MAX_FRAME.
 */
int evg_evf_builder_init(struct evg_evf_builder *b, void *buf, size_t cap,
			 const struct evg_evf_hdr *hdr);
/* Append one event. Returns 0, -ENOSPC when it does not fit (the frame is
 * unchanged), -EINVAL for a key over 65535 bytes. */
int evg_evf_builder_add(struct evg_evf_builder *b, const void *key,
			uint32_t key_size, const void *value,
			uint32_t value_size, uint64_t ts_ns);
/* Append events in order until one does not fit; returns how many were
 * appended. */
unsigned int evg_evf_builder_add_bulk(struct evg_evf_builder *b,
				      const struct evg_evf_event *evs,
				      unsigned int n);
/* Events appended so far. */
static inline uint32_t
evg_evf_builder_count(const struct evg_evf_builder *b)
{
	return b->count;
}
/* Write count, length and CRC; returns the frame length, or -ENODATA when
 * no event was added (a DATA frame needs at least one). */
int evg_evf_builder_finish(struct evg_evf_builder *b);

/* Write a sealed 40-byte control frame (ACK, NAK with count = reason code,
 * PING) into buf; returns EVG_EVF_HDR_LEN. */
uint32_t evg_evf_control_build(void *buf, enum evg_evf_type type,
			       uint16_t count, uint32_t producer_id,
			       uint32_t stream_id, uint64_t session,
			       uint64_t seq);

#endif /* EVG_EVF_H */
