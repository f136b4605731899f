/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sequencing for exactly-once ingest (docs/protocol.md, "Sequencing").
 *
 * Per (producer_id, stream_id) the appliance keeps the current session and
 * the next expected seq. The decision on a DATA or PING frame is a pure
 * function over that state (evg_seq_decide_*); evg_seq_table keeps the
 * states of one sequencer shard in an rte_hash, and evg_seq_shard() says
 * which shard owns a key.
 *
 * A table is owned by one lcore: no locks, and nothing on the data path
 * (decide, data, ping, get) logs or allocates.
 */
#ifndef EVG_SEQ_H
#define EVG_SEQ_H

#include <stdbool.h>
#include <stdint.h>

/* Longest table name accepted by evg_seq_table_create(): the rte_hash
 * behind it derives ring names from it, and DPDK silently truncates those
 * past 28 characters (two long names could then collide). */
#define EVG_SEQ_NAME_MAX 14u

/* Sequencing state of one (producer, stream). */
struct evg_seq_state {
	uint64_t session;  /* current session; a lower one is fenced */
	uint64_t next_seq; /* next expected seq in that session */
};

/*
 * What to do with a frame. One list yields the enum and the names, which
 * double as counter names.
 *   ACCEPT     DATA: append `accept` events after skipping `skip`; PING:
 *              answer ACK ack_seq.
 *   DUPLICATE  every event was seen before: drop them, re-ACK ack_seq.
 *   GAP        frame starts past ack_seq: drop it, answer NAK GAP ack_seq.
 *   FENCED     a newer session exists: drop it, answer NAK FENCED.
 *   OVERFLOW   accepting would carry next_seq past UINT64_MAX (a session
 *              holds at most 2^64 - 1 events): drop it. No reply fits; a
 *              correct producer starts a new session long before.
 */
#define EVG_SEQ_ACTION_FOREACH(X) \
	X(ACCEPT, "accept")       \
	X(DUPLICATE, "duplicate") \
	X(GAP, "gap")             \
	X(FENCED, "fenced")       \
	X(OVERFLOW, "overflow")

/* clang-format cannot tell that the list expansion ends a line. */
/* clang-format off */
enum evg_seq_action {
#define EVG_SEQ_ACTION_ENUM_(name, str) EVG_SEQ_##name,
	EVG_SEQ_ACTION_FOREACH(EVG_SEQ_ACTION_ENUM_)
#undef EVG_SEQ_ACTION_ENUM_
	EVG_SEQ_ACTION_MAX,
};
/* clang-format on */

struct evg_seq_result {
	enum evg_seq_action action;
	/* seq for the reply: the next expected seq (ACK, NAK GAP); 0 for
	 * FENCED. For ACCEPT that includes this frame's events, so only an
	 * ACK at level `received` may carry it at once; the durable levels
	 * ACK once the log has them. */
	uint64_t ack_seq;
	uint32_t skip;	 /* leading events of the frame that are duplicates */
	uint32_t accept; /* events accepted after them */
};

/* "accept", "duplicate", ...; NULL when out of range. */
const char *evg_seq_action_name(enum evg_seq_action a);

/*
 * Decide on one DATA frame carrying events seq .. seq + count - 1; *st is
 * updated in place. known = false means first contact: *st is then only
 * written. A first contact or a higher session becomes current with next
 * seq 0, even when the frame itself is then refused (GAP). count is 1 ..
 * 65535 (a frame with count 0 is a DUPLICATE that changes nothing).
 */
void evg_seq_decide_data(struct evg_seq_state *st, bool known, uint64_t session,
			 uint64_t seq, uint32_t count,
			 struct evg_seq_result *res);

/*
 * Decide on a PING; never changes state. Current session: ACCEPT with
 * ack_seq = next_seq. Unknown key (known = false, st may be NULL) or a
 * higher session: ACCEPT with ack_seq 0. Lower session: FENCED.
 */
void evg_seq_decide_ping(const struct evg_seq_state *st, bool known,
			 uint64_t session, struct evg_seq_result *res);

/* Sequencing states of one shard, up to a fixed number of keys. */
struct evg_seq_table;

/*
 * Create a table for `capacity` keys on NUMA socket socket_id
 * (SOCKET_ID_ANY allowed); its rte_hash is named "evgseq_<name>".
 * Returns NULL with rte_errno: EINVAL (NULL name, capacity 0 or above
 * 2^30), ENAMETOOLONG (name over EVG_SEQ_NAME_MAX), EEXIST (name in use),
 * ENOMEM.
 */
struct evg_seq_table *evg_seq_table_create(const char *name, uint32_t capacity,
					   int socket_id);
/* NULL is a no-op. */
void evg_seq_table_free(struct evg_seq_table *t);

/*
 * Look up (producer, stream), adding it on first contact, and decide on a
 * DATA frame as evg_seq_decide_data() does. Returns 0 with *res filled, or
 * -ENOSPC when the key is new and the table is full (*res untouched; the
 * caller answers NAK BUSY).
 */
int evg_seq_table_data(struct evg_seq_table *t, uint32_t producer_id,
		       uint32_t stream_id, uint64_t session, uint64_t seq,
		       uint32_t count, struct evg_seq_result *res);
/* Decide on a PING as evg_seq_decide_ping() does; never adds a key.
 * Returns 0. */
int evg_seq_table_ping(const struct evg_seq_table *t, uint32_t producer_id,
		       uint32_t stream_id, uint64_t session,
		       struct evg_seq_result *res);

/* Copy the state of (producer, stream) to *out; -ENOENT when unknown. */
int evg_seq_table_get(const struct evg_seq_table *t, uint32_t producer_id,
		      uint32_t stream_id, struct evg_seq_state *out);
/* Set the state of (producer, stream), adding the key if needed: restores
 * state rebuilt from the log after a restart. Returns 0, -EINVAL for a
 * NULL state or session 0, -ENOSPC when the key is new and the table is
 * full. */
int evg_seq_table_set(struct evg_seq_table *t, uint32_t producer_id,
		      uint32_t stream_id, const struct evg_seq_state *st);
/* Number of keys in the table. */
uint32_t evg_seq_table_count(const struct evg_seq_table *t);
/* Keys the table holds at most. */
uint32_t evg_seq_table_capacity(const struct evg_seq_table *t);

/*
 * Walk all keys, in no particular order (checkpoints, telemetry): set
 * *next = 0, then call until it fails. Returns 0 with the key and its state
 * filled, -ENOENT after the last key, -EINVAL for a NULL argument. The
 * table must not change during the walk.
 */
int evg_seq_table_iterate(const struct evg_seq_table *t, uint32_t *next,
			  uint32_t *producer_id, uint32_t *stream_id,
			  struct evg_seq_state *out);

/*
 * Which of n shards owns (producer, stream): 0 .. n - 1 (0 when n is 0).
 * Stable across runs and hosts, and independent of the hash the tables use
 * internally, so the keys of one shard still spread over its buckets.
 */
unsigned int evg_seq_shard(uint32_t producer_id, uint32_t stream_id,
			   unsigned int n);

#endif /* EVG_SEQ_H */
