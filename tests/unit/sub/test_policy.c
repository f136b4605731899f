/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The group policies (evg_sub_pick) and the SUBSCRIBE cookies: what each
 * policy promises over many events, and what a cookie proves.
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "evg_sub.h"

#define N_EVENTS 100000u

static void
cands(struct evg_sub_cand *c, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		c[i] = (struct evg_sub_cand){
			.id = 100 + i, .weight = 1, .room = true};
}

/* Picks for n_events events with generated keys; counts per member. */
static void
run(unsigned int policy, struct evg_sub_cand *c, unsigned int n,
    unsigned int *count)
{
	struct evg_sub_pick_state st;
	char key[32];
	uint64_t rnd = 88172645463325252ull;

	memset(&st, 0, sizeof(st));
	memset(count, 0, n * sizeof(*count));
	for (unsigned int e = 0; e < N_EVENTS; e++) {
		int len = snprintf(key, sizeof(key), "key-%u", e % 977);
		int k;

		rnd ^= rnd << 13;
		rnd ^= rnd >> 7;
		rnd ^= rnd << 17;
		k = evg_sub_pick(policy, c, n, &st, key, (uint32_t)len, rnd);
		cr_assert(k >= 0 && k < (int)n, "policy %u picked %d", policy,
			  k);
		count[k]++;
		c[k].outstanding++;
	}
}

Test(sub_policy, round_robin_takes_the_members_in_turn)
{
	struct evg_sub_cand c[3];
	struct evg_sub_pick_state st = {0};

	cands(c, 3);
	for (unsigned int e = 0; e < 30; e++)
		cr_assert_eq(evg_sub_pick(EVG_EVF_SUB_POLICY_ROUND_ROBIN, c, 3,
					  &st, NULL, 0, 0),
			     (int)(e % 3));
}

Test(sub_policy, round_robin_skips_a_member_without_room)
{
	struct evg_sub_cand c[3];
	struct evg_sub_pick_state st = {0};
	unsigned int count[3] = {0};

	cands(c, 3);
	c[1].room = false;
	for (unsigned int e = 0; e < 1000; e++)
		count[evg_sub_pick(EVG_EVF_SUB_POLICY_ROUND_ROBIN, c, 3, &st,
				   NULL, 0, 0)]++;
	cr_assert_eq(count[1], 0);
	cr_assert_eq(count[0], 500);
	cr_assert_eq(count[2], 500);
}

Test(sub_policy, nobody_with_room_waits)
{
	struct evg_sub_cand c[3];
	struct evg_sub_pick_state st = {0};

	cands(c, 3);
	for (unsigned int i = 0; i < 3; i++)
		c[i].room = false;
	for (unsigned int p = 1; p < EVG_EVF_SUB_POLICY_MAX; p++)
		cr_assert_eq(evg_sub_pick(p, c, 3, &st, "k", 1, 7), -1,
			     "policy %u", p);
}

Test(sub_policy, weighted_3_1_1_gives_three_fifths_to_the_heavy_member)
{
	struct evg_sub_cand c[3];
	unsigned int count[3];

	cands(c, 3);
	c[0].weight = 3;
	run(EVG_EVF_SUB_POLICY_WEIGHTED, c, 3, count);
	/* Smooth WRR is exact over every full cycle of 5. */
	cr_assert_eq(count[0], N_EVENTS / 5 * 3);
	cr_assert_eq(count[1], N_EVENTS / 5);
	cr_assert_eq(count[2], N_EVENTS / 5);
}

Test(sub_policy, weighted_interleaves_instead_of_bursting)
{
	struct evg_sub_cand c[2];
	struct evg_sub_pick_state st = {0};
	int seq[8];

	cands(c, 2);
	c[0].weight = 3;
	for (unsigned int e = 0; e < 8; e++)
		seq[e] = evg_sub_pick(EVG_EVF_SUB_POLICY_WEIGHTED, c, 2, &st,
				      NULL, 0, 0);
	/* a a b a | a a b a: never four of a in a row. */
	cr_assert(seq[0] == 0 && seq[1] == 0 && seq[2] == 1 && seq[3] == 0 &&
		  seq[4] == 0 && seq[5] == 0 && seq[6] == 1 && seq[7] == 0);
}

Test(sub_policy, random_spreads_evenly_within_two_percent)
{
	struct evg_sub_cand c[4];
	unsigned int count[4];

	cands(c, 4);
	run(EVG_EVF_SUB_POLICY_RANDOM, c, 4, count);
	for (unsigned int i = 0; i < 4; i++)
		cr_assert(count[i] > N_EVENTS / 4 * 98 / 100 &&
				  count[i] < N_EVENTS / 4 * 102 / 100,
			  "member %u got %u", i, count[i]);
}

Test(sub_policy, random_never_picks_a_member_without_room)
{
	struct evg_sub_cand c[4];
	unsigned int count[4];

	cands(c, 4);
	c[2].room = false;
	run(EVG_EVF_SUB_POLICY_RANDOM, c, 4, count);
	cr_assert_eq(count[2], 0);
}

Test(sub_policy, least_outstanding_picks_the_least_busy)
{
	struct evg_sub_cand c[3];
	struct evg_sub_pick_state st = {0};

	cands(c, 3);
	c[0].outstanding = 10;
	c[1].outstanding = 3;
	c[2].outstanding = 7;
	cr_assert_eq(evg_sub_pick(EVG_EVF_SUB_POLICY_LEAST_OUTSTANDING, c, 3,
				  &st, NULL, 0, 0),
		     1);
	c[1].room = false;
	cr_assert_eq(evg_sub_pick(EVG_EVF_SUB_POLICY_LEAST_OUTSTANDING, c, 3,
				  &st, NULL, 0, 0),
		     2);
}

Test(sub_policy, least_outstanding_shares_equally_among_equals)
{
	struct evg_sub_cand c[3];
	unsigned int count[3];

	cands(c, 3);
	run(EVG_EVF_SUB_POLICY_LEAST_OUTSTANDING, c, 3, count);
	for (unsigned int i = 0; i < 3; i++)
		cr_assert(count[i] >= N_EVENTS / 3 - 1 &&
				  count[i] <= N_EVENTS / 3 + 1,
			  "member %u got %u", i, count[i]);
}

Test(sub_policy, key_hash_sends_a_key_always_to_one_member)
{
	struct evg_sub_cand c[3];
	struct evg_sub_pick_state st = {0};
	char key[32];

	cands(c, 3);
	for (unsigned int k = 0; k < 500; k++) {
		int len = snprintf(key, sizeof(key), "sensor-%u", k);
		int first = evg_sub_pick(EVG_EVF_SUB_POLICY_KEY_HASH, c, 3, &st,
					 key, (uint32_t)len, 0);

		for (unsigned int r = 0; r < 5; r++)
			cr_assert_eq(evg_sub_pick(EVG_EVF_SUB_POLICY_KEY_HASH,
						  c, 3, &st, key, (uint32_t)len,
						  r),
				     first, "key %s moved", key);
	}
}

Test(sub_policy, key_hash_spreads_keys_over_the_members)
{
	struct evg_sub_cand c[3];
	unsigned int count[3];

	cands(c, 3);
	run(EVG_EVF_SUB_POLICY_KEY_HASH, c, 3, count);
	for (unsigned int i = 0; i < 3; i++)
		cr_assert(count[i] > N_EVENTS / 3 * 80 / 100 &&
				  count[i] < N_EVENTS / 3 * 120 / 100,
			  "member %u got %u", i, count[i]);
}

/* Rendezvous hashing: when a member goes, only its keys move, and the
 * choice depends on the ids, not the order of the list. */
Test(sub_policy, key_hash_moves_only_the_departed_members_keys)
{
	struct evg_sub_cand c[3], two[2], rev[3];
	struct evg_sub_pick_state st = {0};
	char key[32];

	cands(c, 3);
	two[0] = c[0];
	two[1] = c[2];
	rev[0] = c[2];
	rev[1] = c[1];
	rev[2] = c[0];
	for (unsigned int k = 0; k < 2000; k++) {
		uint32_t len = (uint32_t)snprintf(key, sizeof(key), "k%u", k);
		int a = evg_sub_pick(EVG_EVF_SUB_POLICY_KEY_HASH, c, 3, &st,
				     key, len, 0);
		int b = evg_sub_pick(EVG_EVF_SUB_POLICY_KEY_HASH, two, 2, &st,
				     key, len, 0);
		int r = evg_sub_pick(EVG_EVF_SUB_POLICY_KEY_HASH, rev, 3, &st,
				     key, len, 0);

		cr_assert_eq(rev[r].id, c[a].id, "order changed key %s", key);
		if (a != 1)
			cr_assert_eq(two[b].id, c[a].id, "key %s moved", key);
	}
}

Test(sub_policy, key_hash_waits_for_the_keys_member)
{
	struct evg_sub_cand c[3];
	struct evg_sub_pick_state st = {0};
	int k;

	cands(c, 3);
	k = evg_sub_pick(EVG_EVF_SUB_POLICY_KEY_HASH, c, 3, &st, "order-7", 7,
			 0);
	c[k].room = false;
	cr_assert_eq(evg_sub_pick(EVG_EVF_SUB_POLICY_KEY_HASH, c, 3, &st,
				  "order-7", 7, 0),
		     -1);
}

/* ---- cookies ---------------------------------------------------------- */

Test(sub_cookie, a_cookie_holds_for_its_epoch_and_the_next)
{
	struct evg_sub_cookie_keys k = {0};
	uint64_t c = evg_sub_cookie_make(&k, 10, 0x0100000a, 0x1234, 7, 99);

	cr_assert(evg_sub_cookie_check(&k, 10, c, 0x0100000a, 0x1234, 7, 99));
	cr_assert(evg_sub_cookie_check(&k, 11, c, 0x0100000a, 0x1234, 7, 99));
	cr_assert_not(
		evg_sub_cookie_check(&k, 12, c, 0x0100000a, 0x1234, 7, 99));
}

Test(sub_cookie, a_cookie_proves_only_its_address_port_consumer_and_session)
{
	struct evg_sub_cookie_keys k = {0};
	uint64_t c = evg_sub_cookie_make(&k, 3, 0x0100000a, 0x1234, 7, 99);

	cr_assert_not(
		evg_sub_cookie_check(&k, 3, c, 0x0200000a, 0x1234, 7, 99));
	cr_assert_not(
		evg_sub_cookie_check(&k, 3, c, 0x0100000a, 0x1235, 7, 99));
	cr_assert_not(
		evg_sub_cookie_check(&k, 3, c, 0x0100000a, 0x1234, 8, 99));
	cr_assert_not(
		evg_sub_cookie_check(&k, 3, c, 0x0100000a, 0x1234, 7, 98));
	cr_assert_not(
		evg_sub_cookie_check(&k, 3, c ^ 2, 0x0100000a, 0x1234, 7, 99));
}

Test(sub_cookie, keys_are_random_and_change_with_the_epoch)
{
	struct evg_sub_cookie_keys a = {0}, b = {0};
	uint64_t ca = evg_sub_cookie_make(&a, 5, 1, 2, 3, 4);
	uint64_t cb = evg_sub_cookie_make(&b, 5, 1, 2, 3, 4);
	uint64_t later = evg_sub_cookie_make(&a, 7, 1, 2, 3, 4);

	cr_assert_neq(ca, cb, "two evgates drew the same key");
	cr_assert_neq(ca, later);
	/* Epoch 7 reused epoch 5's slot: epoch 5's cookie is gone. */
	cr_assert_not(evg_sub_cookie_check(&a, 7, ca, 1, 2, 3, 4));
	cr_assert(evg_sub_cookie_check(&a, 7, later, 1, 2, 3, 4));
}
