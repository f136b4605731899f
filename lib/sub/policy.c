/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Which group member gets the next event (docs/protocol.md, "Consumer
 * groups"). Pure functions over a candidate list: no EAL, no state but
 * the caller's evg_sub_pick_state.
 */
#include <string.h>

#include <rte_hash_crc.h>

#include "evg_sub.h"

/* splitmix64's finaliser: every input bit reaches every output bit. */
static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

uint64_t
evg_sub_hrw_score(const void *key, uint32_t key_len, uint32_t id)
{
	uint32_t h = rte_hash_crc(key, key_len, 0x9e3779b9u);

	return mix64(((uint64_t)h << 32) ^ id ^ ((uint64_t)id << 17));
}

static int
pick_rr(const struct evg_sub_cand *c, unsigned int n,
	struct evg_sub_pick_state *st)
{
	for (unsigned int k = 0; k < n; k++) {
		unsigned int i = (st->rr + k) % n;

		if (c[i].room) {
			st->rr = (i + 1) % n;
			return (int)i;
		}
	}
	return -1;
}

static int
pick_random(const struct evg_sub_cand *c, unsigned int n, uint64_t rnd)
{
	unsigned int with_room = 0, want;

	for (unsigned int i = 0; i < n; i++)
		with_room += c[i].room;
	if (with_room == 0)
		return -1;
	want = (unsigned int)(rnd % with_room);
	for (unsigned int i = 0; i < n; i++)
		if (c[i].room && want-- == 0)
			return (int)i;
	return -1;
}

/* Smooth weighted round-robin (as nginx's upstreams): every candidate
 * gains its weight, the highest is picked and pays the total back, so
 * weights 3:1 give the sequence a a b a, a a b a, ... */
static int
pick_weighted(const struct evg_sub_cand *c, unsigned int n,
	      struct evg_sub_pick_state *st)
{
	int64_t total = 0;
	int best = -1;

	for (unsigned int i = 0; i < n; i++) {
		int64_t w = c[i].weight == 0 ? 1 : c[i].weight;

		if (!c[i].room)
			continue;
		st->cur[i] += w;
		total += w;
		if (best < 0 || st->cur[i] > st->cur[best])
			best = (int)i;
	}
	if (best >= 0)
		st->cur[best] -= total;
	return best;
}

/* Fewest outstanding; ties go round-robin so equal members share. */
static int
pick_least(const struct evg_sub_cand *c, unsigned int n,
	   struct evg_sub_pick_state *st)
{
	int best = -1;

	for (unsigned int k = 0; k < n; k++) {
		unsigned int i = (st->rr + k) % n;

		if (c[i].room &&
		    (best < 0 || c[i].outstanding < c[best].outstanding))
			best = (int)i;
	}
	if (best >= 0)
		st->rr = ((unsigned int)best + 1) % n;
	return best;
}

/* Rendezvous hashing over every member, room or not: the key's member
 * depends only on the key and the member ids, and when a member goes
 * only its keys move. */
static int
pick_key(const struct evg_sub_cand *c, unsigned int n, const void *key,
	 uint32_t key_len)
{
	uint64_t best_score = 0;
	int best = -1;

	for (unsigned int i = 0; i < n; i++) {
		uint64_t sc = evg_sub_hrw_score(key, key_len, c[i].id);

		if (best < 0 || sc > best_score ||
		    (sc == best_score && c[i].id < c[best].id)) {
			best = (int)i;
			best_score = sc;
		}
	}
	return best >= 0 && c[best].room ? best : -1;
}

int
evg_sub_pick(unsigned int policy, const struct evg_sub_cand *c, unsigned int n,
	     struct evg_sub_pick_state *st, const void *key, uint32_t key_len,
	     uint64_t rnd)
{
	if (c == NULL || st == NULL || n == 0 || n > EVG_SUB_MAX_MEMBERS)
		return -1;
	switch (policy) {
	case EVG_EVF_SUB_POLICY_RANDOM:
		return pick_random(c, n, rnd);
	case EVG_EVF_SUB_POLICY_WEIGHTED:
		return pick_weighted(c, n, st);
	case EVG_EVF_SUB_POLICY_LEAST_OUTSTANDING:
		return pick_least(c, n, st);
	case EVG_EVF_SUB_POLICY_KEY_HASH:
		return pick_key(c, n, key, key_len);
	default:
		return pick_rr(c, n, st);
	}
}
