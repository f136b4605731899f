/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sequencing state per (producer, stream). The decisions are pure; the
 * table is an rte_hash from the 8-byte key producer << 32 | stream to a
 * position, and a state array indexed by that position. Keys are never
 * deleted: a producer's state must outlive its silence, or a late
 * retransmission would be taken for a new session.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_jhash.h>
#include <rte_malloc.h>
#include <rte_ring.h>

#include "evg_seq.h"

#define SEQ_HASH_PREFIX "evgseq_"
/* rte_hash refuses tables of fewer entries than one bucket holds. */
#define SEQ_HASH_MIN_ENTRIES 8u
/* Any constant will do; changing it moves every key to another shard. */
#define SEQ_SHARD_SEED 0x65766773u

/* rte_hash names its extendable-bucket ring "HT_EXT_<name>". */
_Static_assert(sizeof("HT_EXT_" SEQ_HASH_PREFIX) - 1 + EVG_SEQ_NAME_MAX <=
		       RTE_RING_NAMESIZE - 1,
	       "EVG_SEQ_NAME_MAX lets DPDK truncate ring names");

struct evg_seq_table {
	struct rte_hash *hash;
	struct evg_seq_state *states; /* indexed by rte_hash key position */
	uint32_t capacity;
	uint32_t count;
};

static const char *const action_names[EVG_SEQ_ACTION_MAX] = {
#define NAME_(name, str) [EVG_SEQ_##name] = str,
	EVG_SEQ_ACTION_FOREACH(NAME_)
#undef NAME_
};

const char *
evg_seq_action_name(enum evg_seq_action a)
{
	if ((unsigned int)a >= EVG_SEQ_ACTION_MAX)
		return NULL;
	return action_names[a];
}

static inline void
result_set(struct evg_seq_result *res, enum evg_seq_action action,
	   uint64_t ack_seq, uint32_t skip, uint32_t accept)
{
	res->action = action;
	res->ack_seq = ack_seq;
	res->skip = skip;
	res->accept = accept;
}

void
evg_seq_decide_data(struct evg_seq_state *st, bool known, uint64_t session,
		    uint64_t seq, uint32_t count, struct evg_seq_result *res)
{
	uint64_t next, skip;
	uint32_t accept;

	if (!known || session > st->session) {
		/* The new session is current from now on, even if this
		 * frame is refused: the producer has moved on. */
		st->session = session;
		st->next_seq = 0;
	} else if (session < st->session) {
		result_set(res, EVG_SEQ_FENCED, 0, 0, 0);
		return;
	}
	/* From here a new session is the same case as the current one
	 * with next 0: seq 0 is accepted whole, any other seq is a gap. */
	next = st->next_seq;
	if (seq > next) {
		result_set(res, EVG_SEQ_GAP, next, 0, 0);
		return;
	}
	skip = next - seq;
	if (skip >= count) {
		result_set(res, EVG_SEQ_DUPLICATE, next, count, 0);
		return;
	}
	accept = count - (uint32_t)skip;
	if (accept > UINT64_MAX - next) {
		result_set(res, EVG_SEQ_OVERFLOW, next, 0, 0);
		return;
	}
	st->next_seq = next + accept;
	result_set(res, EVG_SEQ_ACCEPT, st->next_seq, (uint32_t)skip, accept);
}

void
evg_seq_decide_ping(const struct evg_seq_state *st, bool known,
		    uint64_t session, struct evg_seq_result *res)
{
	if (known && session < st->session)
		result_set(res, EVG_SEQ_FENCED, 0, 0, 0);
	else if (known && session == st->session)
		result_set(res, EVG_SEQ_ACCEPT, st->next_seq, 0, 0);
	else
		result_set(res, EVG_SEQ_ACCEPT, 0, 0, 0);
}

static inline uint64_t
seq_key(uint32_t producer_id, uint32_t stream_id)
{
	return (uint64_t)producer_id << 32 | stream_id;
}

static void
table_destroy(struct evg_seq_table *t)
{
	rte_hash_free(t->hash);
	rte_free(t->states);
	rte_free(t);
}

/* Create the rte_hash and the state array of t; 0 or a positive errno. */
static int
table_init(struct evg_seq_table *t, const char *name, int socket_id)
{
	char hname[RTE_HASH_NAMESIZE];
	struct rte_hash_parameters hp = {
		.name = hname,
		.entries = RTE_MAX(t->capacity, SEQ_HASH_MIN_ENTRIES),
		.key_len = sizeof(uint64_t),
		.hash_func = rte_hash_crc,
		.socket_id = socket_id,
		/* Without extendable buckets a cuckoo table can refuse a key
		 * before it is full; with them only `capacity` limits it. */
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	int32_t slots;

	snprintf(hname, sizeof(hname), SEQ_HASH_PREFIX "%s", name);
	rte_errno = 0;
	t->hash = rte_hash_create(&hp);
	if (t->hash == NULL)
		return rte_errno != 0 ? rte_errno : ENOMEM;
	/* Positions run below the largest key id; +1 in case it is one. */
	slots = rte_hash_max_key_id(t->hash);
	if (slots < 0)
		return EINVAL;
	t->states = rte_zmalloc_socket("evg_seq_states",
				       ((size_t)slots + 1) * sizeof(*t->states),
				       RTE_CACHE_LINE_SIZE, socket_id);
	return t->states == NULL ? ENOMEM : 0;
}

struct evg_seq_table *
evg_seq_table_create(const char *name, uint32_t capacity, int socket_id)
{
	struct evg_seq_table *t;
	int err;

	if (name == NULL || capacity == 0 || capacity > RTE_HASH_ENTRIES_MAX) {
		rte_errno = EINVAL;
		return NULL;
	}
	if (strlen(name) > EVG_SEQ_NAME_MAX) {
		rte_errno = ENAMETOOLONG;
		return NULL;
	}
	t = rte_zmalloc_socket("evg_seq_table", sizeof(*t), RTE_CACHE_LINE_SIZE,
			       socket_id);
	if (t == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	t->capacity = capacity;
	err = table_init(t, name, socket_id);
	if (err != 0) {
		table_destroy(t);
		rte_errno = err;
		return NULL;
	}
	return t;
}

void
evg_seq_table_free(struct evg_seq_table *t)
{
	if (t != NULL)
		table_destroy(t);
}

/* Position of key, or -ENOENT; *sig receives its hash for a later add. */
static inline int32_t
table_lookup(const struct evg_seq_table *t, const uint64_t *key,
	     hash_sig_t *sig)
{
	*sig = rte_hash_hash(t->hash, key);
	return rte_hash_lookup_with_hash(t->hash, key, *sig);
}

/* Add a key known to be absent; its position, or -ENOSPC. */
static inline int32_t
table_add(struct evg_seq_table *t, const uint64_t *key, hash_sig_t sig)
{
	int32_t pos;

	if (t->count >= t->capacity)
		return -ENOSPC;
	pos = rte_hash_add_key_with_hash(t->hash, key, sig);
	if (pos < 0)
		return pos;
	t->count++;
	return pos;
}

int
evg_seq_table_data(struct evg_seq_table *t, uint32_t producer_id,
		   uint32_t stream_id, uint64_t session, uint64_t seq,
		   uint32_t count, struct evg_seq_result *res)
{
	uint64_t key = seq_key(producer_id, stream_id);
	hash_sig_t sig;
	int32_t pos = table_lookup(t, &key, &sig);
	bool known = pos >= 0;

	if (!known) {
		pos = table_add(t, &key, sig);
		if (pos < 0)
			return pos;
	}
	evg_seq_decide_data(&t->states[pos], known, session, seq, count, res);
	return 0;
}

int
evg_seq_table_ping(const struct evg_seq_table *t, uint32_t producer_id,
		   uint32_t stream_id, uint64_t session,
		   struct evg_seq_result *res)
{
	uint64_t key = seq_key(producer_id, stream_id);
	hash_sig_t sig;
	int32_t pos = table_lookup(t, &key, &sig);

	evg_seq_decide_ping(pos >= 0 ? &t->states[pos] : NULL, pos >= 0,
			    session, res);
	return 0;
}

int
evg_seq_table_get(const struct evg_seq_table *t, uint32_t producer_id,
		  uint32_t stream_id, struct evg_seq_state *out)
{
	uint64_t key = seq_key(producer_id, stream_id);
	hash_sig_t sig;
	int32_t pos = table_lookup(t, &key, &sig);

	if (pos < 0)
		return -ENOENT;
	*out = t->states[pos];
	return 0;
}

int
evg_seq_table_set(struct evg_seq_table *t, uint32_t producer_id,
		  uint32_t stream_id, const struct evg_seq_state *st)
{
	uint64_t key = seq_key(producer_id, stream_id);
	hash_sig_t sig;
	int32_t pos;

	if (st == NULL || st->session == 0)
		return -EINVAL;
	pos = table_lookup(t, &key, &sig);
	if (pos < 0) {
		pos = table_add(t, &key, sig);
		if (pos < 0)
			return pos;
	}
	t->states[pos] = *st;
	return 0;
}

uint32_t
evg_seq_table_count(const struct evg_seq_table *t)
{
	return t->count;
}

uint32_t
evg_seq_table_capacity(const struct evg_seq_table *t)
{
	return t->capacity;
}

int
evg_seq_table_iterate(const struct evg_seq_table *t, uint32_t *next,
		      uint32_t *producer_id, uint32_t *stream_id,
		      struct evg_seq_state *out)
{
	const void *kp;
	void *data;
	uint64_t key;
	int32_t pos;

	if (t == NULL || next == NULL || producer_id == NULL ||
	    stream_id == NULL || out == NULL)
		return -EINVAL;
	pos = rte_hash_iterate(t->hash, &kp, &data, next);
	if (pos < 0)
		return pos == -ENOENT ? -ENOENT : -EINVAL;
	memcpy(&key, kp, sizeof(key));
	*producer_id = (uint32_t)(key >> 32);
	*stream_id = (uint32_t)key;
	*out = t->states[pos];
	return 0;
}

unsigned int
evg_seq_shard(uint32_t producer_id, uint32_t stream_id, unsigned int n)
{
	/* jhash, not the tables' CRC: CRCs with different seeds differ by
	 * a constant, so sharding on one would pin the low bits the table
	 * picks buckets by. Multiply-shift maps the hash onto 0 .. n - 1. */
	uint32_t h = rte_jhash_2words(producer_id, stream_id, SEQ_SHARD_SEED);

	return (unsigned int)(((uint64_t)h * n) >> 32);
}
