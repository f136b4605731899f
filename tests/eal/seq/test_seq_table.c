/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sequencing table (rte_hash under an EAL): keys kept apart, dedup across
 * frames, a full table, restore after restart, and shard selection.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <criterion/criterion.h>
#include <rte_common.h>
#include <rte_errno.h>
#include <rte_memory.h>

#include "eal_testutil.h"
#include "evg_seq.h"
#include "seq_testutil.h"

#define S1 0x0123456789ABCDEFull

TestSuite(seq_table, .init = tu_eal_setup, .fini = tu_eal_teardown);

static struct evg_seq_table *
table_new(const char *name, uint32_t capacity)
{
	struct evg_seq_table *t =
		evg_seq_table_create(name, capacity, SOCKET_ID_ANY);

	cr_assert_not_null(t, "create %s (%u): %s", name, capacity,
			   rte_strerror(rte_errno));
	return t;
}

static struct evg_seq_result
feed(struct evg_seq_table *t, uint32_t producer, uint32_t stream,
     uint64_t session, uint64_t seq, uint32_t count)
{
	struct evg_seq_result r;
	int rc = evg_seq_table_data(t, producer, stream, session, seq, count,
				    &r);

	cr_assert_eq(rc, 0, "data %u/%u: %d", producer, stream, rc);
	return r;
}

static void
expect_state(const struct evg_seq_table *t, uint32_t producer, uint32_t stream,
	     uint64_t session, uint64_t next)
{
	struct evg_seq_state st;

	cr_assert_eq(evg_seq_table_get(t, producer, stream, &st), 0,
		     "key %u/%u is missing", producer, stream);
	cr_assert_eq(st.session, session, "key %u/%u: session %" PRIx64,
		     producer, stream, st.session);
	cr_assert_eq(st.next_seq, next,
		     "key %u/%u: next %" PRIu64 ", expected %" PRIu64, producer,
		     stream, st.next_seq, next);
}

Test(seq_table, table_keeps_producers_and_streams_apart)
{
	/* Pairs that a sloppy key packing would merge. */
	static const uint32_t keys[][2] = {
		{1, 2},			  /* producer and stream swapped */
		{2, 1},			  /* ... */
		{1, 3},			  /* same producer, next stream */
		{UINT32_MAX, 0},	  /* all bits in one half */
		{0, UINT32_MAX},	  /* ... in the other */
		{UINT32_MAX, UINT32_MAX}, /* ... in both */
		{1, 0},			  /* 1 in either half */
		{0, 1},			  /* ... */
		{0, 1u << 16},		  /* {1, 0} if shifted by 16 */
	};
	const unsigned int n = RTE_DIM(keys);
	struct evg_seq_table *t = table_new("apart", 64);

	for (unsigned int i = 0; i < n; i++)
		tu_seq_expect(feed(t, keys[i][0], keys[i][1], S1 + i, 0, i + 1),
		       EVG_SEQ_ACCEPT, i + 1, 0, i + 1);
	cr_assert_eq(evg_seq_table_count(t), n);
	for (unsigned int i = 0; i < n; i++)
		expect_state(t, keys[i][0], keys[i][1], S1 + i, i + 1);
	cr_assert_eq(evg_seq_table_get(t, 3, 1, &(struct evg_seq_state){0}),
		     -ENOENT);
	evg_seq_table_free(t);
}

Test(seq_table, retransmitted_frames_are_deduplicated_through_the_table)
{
	struct evg_seq_table *t = table_new("dedup", 16);

	tu_seq_expect(feed(t, 7, 42, S1, 0, 10), EVG_SEQ_ACCEPT, 10, 0, 10);
	/* Retransmission overlapping the end: only 10..14 are new. */
	tu_seq_expect(feed(t, 7, 42, S1, 5, 10), EVG_SEQ_ACCEPT, 15, 5, 5);
	tu_seq_expect(feed(t, 7, 42, S1, 0, 10), EVG_SEQ_DUPLICATE, 15, 10, 0);
	tu_seq_expect(feed(t, 7, 42, S1, 20, 1), EVG_SEQ_GAP, 15, 0, 0);
	tu_seq_expect(feed(t, 7, 42, S1 - 1, 15, 1), EVG_SEQ_FENCED, 0, 0, 0);
	expect_state(t, 7, 42, S1, 15);
	/* The other stream of the same producer starts on its own. */
	tu_seq_expect(feed(t, 7, 43, S1, 3, 1), EVG_SEQ_GAP, 0, 0, 0);
	expect_state(t, 7, 42, S1, 15);
	evg_seq_table_free(t);
}

Test(seq_table, ping_answers_from_the_table_and_never_adds_a_key)
{
	struct evg_seq_table *t = table_new("ping", 16);
	struct evg_seq_result r;

	feed(t, 7, 42, S1, 0, 3);
	cr_assert_eq(evg_seq_table_ping(t, 7, 42, S1, &r), 0);
	tu_seq_expect(r, EVG_SEQ_ACCEPT, 3, 0, 0);
	cr_assert_eq(evg_seq_table_ping(t, 7, 42, S1 + 1, &r), 0);
	tu_seq_expect(r, EVG_SEQ_ACCEPT, 0, 0, 0);
	cr_assert_eq(evg_seq_table_ping(t, 7, 42, S1 - 1, &r), 0);
	tu_seq_expect(r, EVG_SEQ_FENCED, 0, 0, 0);
	cr_assert_eq(evg_seq_table_ping(t, 8, 42, S1, &r), 0);
	tu_seq_expect(r, EVG_SEQ_ACCEPT, 0, 0, 0);
	cr_assert_eq(evg_seq_table_count(t), 1);
	evg_seq_table_free(t);
}

/* Fill a table of `capacity` keys, then check the next new key is refused
 * while every known key keeps working. */
static void
check_full_table(const char *name, uint32_t capacity)
{
	struct evg_seq_table *t = table_new(name, capacity);
	struct evg_seq_state st = {.session = S1, .next_seq = 0};
	struct evg_seq_result r = {.action = EVG_SEQ_ACTION_MAX};

	for (uint32_t p = 1; p <= capacity; p++)
		tu_seq_expect(feed(t, p, p % 7, S1, 0, 1), EVG_SEQ_ACCEPT, 1, 0, 1);
	cr_assert_eq(evg_seq_table_count(t), capacity);
	cr_assert_eq(evg_seq_table_capacity(t), capacity);
	cr_assert_eq(evg_seq_table_data(t, capacity + 1, 0, S1, 0, 1, &r),
		     -ENOSPC, "a new key fits in a full table");
	cr_assert_eq(r.action, EVG_SEQ_ACTION_MAX, "result written on -ENOSPC");
	cr_assert_eq(evg_seq_table_set(t, capacity + 1, 0, &st), -ENOSPC);
	cr_assert_eq(evg_seq_table_count(t), capacity);
	for (uint32_t p = 1; p <= capacity; p++)
		tu_seq_expect(feed(t, p, p % 7, S1, 1, 2), EVG_SEQ_ACCEPT, 3, 0, 2);
	/* Setting a known key needs no room. */
	st.next_seq = 99;
	cr_assert_eq(evg_seq_table_set(t, 1, 1, &st), 0);
	expect_state(t, 1, 1, S1, 99);
	evg_seq_table_free(t);
}

Test(seq_table, full_table_refuses_new_keys_with_enospc)
{
	check_full_table("full3", 3); /* below one rte_hash bucket */
	check_full_table("full100", 100);
	/* Sequential keys at 100% load: needs the extendable buckets. */
	check_full_table("full8192", 8192);
}

struct saved {
	uint32_t producer, stream;
	struct evg_seq_state st;
};

#define NB_SAVED 200

/* Checkpoint every entry of t through the iterator. */
static unsigned int
checkpoint(const struct evg_seq_table *t, struct saved *out, unsigned int max)
{
	uint32_t next = 0;
	unsigned int n = 0;

	while (n < max &&
	       evg_seq_table_iterate(t, &next, &out[n].producer, &out[n].stream,
				     &out[n].st) == 0)
		n++;
	cr_assert_eq(evg_seq_table_iterate(t, &next, &out[0].producer,
					   &out[0].stream, &out[0].st),
		     -ENOENT, "iteration goes past %u entries", n);
	return n;
}

Test(seq_table, restored_state_turns_a_retransmission_into_a_duplicate)
{
	struct evg_seq_table *t = table_new("before", NB_SAVED);
	struct saved saved[NB_SAVED + 1];
	unsigned int n;
	bool seen[NB_SAVED] = {false};

	for (uint32_t i = 0; i < NB_SAVED; i++)
		feed(t, 100 + i, i % 3, S1 + i, 0, i + 1);
	n = checkpoint(t, saved, RTE_DIM(saved));
	cr_assert_eq(n, NB_SAVED, "iterated %u of %u keys", n, NB_SAVED);
	evg_seq_table_free(t);

	/* Restart: a fresh table restored from the checkpoint. */
	t = table_new("after", NB_SAVED);
	for (unsigned int i = 0; i < n; i++)
		cr_assert_eq(evg_seq_table_set(t, saved[i].producer,
					       saved[i].stream, &saved[i].st),
			     0);
	cr_assert_eq(evg_seq_table_count(t), NB_SAVED);
	for (uint32_t i = 0; i < NB_SAVED; i++)
		expect_state(t, 100 + i, i % 3, S1 + i, i + 1);
	n = checkpoint(t, saved, RTE_DIM(saved));
	for (unsigned int i = 0; i < n; i++) {
		uint32_t k = saved[i].producer - 100;

		cr_assert(k < NB_SAVED && !seen[k], "key %u twice", k);
		seen[k] = true;
	}
	cr_assert_eq(n, NB_SAVED);

	/* Producer 105 (i = 5) retransmits its unacknowledged frame. */
	tu_seq_expect(feed(t, 105, 5 % 3, S1 + 5, 0, 6), EVG_SEQ_DUPLICATE, 6, 6, 0);
	tu_seq_expect(feed(t, 105, 5 % 3, S1 + 5, 6, 2), EVG_SEQ_ACCEPT, 8, 0, 2);
	tu_seq_expect(feed(t, 105, 5 % 3, S1 + 4, 8, 1), EVG_SEQ_FENCED, 0, 0, 0);
	evg_seq_table_free(t);
}

Test(seq_table, set_refuses_a_missing_state_or_session_0)
{
	struct evg_seq_table *t = table_new("set", 8);
	struct evg_seq_state zero = {.session = 0, .next_seq = 5};

	cr_assert_eq(evg_seq_table_set(t, 1, 1, NULL), -EINVAL);
	cr_assert_eq(evg_seq_table_set(t, 1, 1, &zero), -EINVAL);
	cr_assert_eq(evg_seq_table_count(t), 0);
	evg_seq_table_free(t);
}

Test(seq_table, create_reports_bad_arguments_in_rte_errno)
{
	char longest[EVG_SEQ_NAME_MAX + 2];
	struct evg_seq_table *t;

	memset(longest, 'n', sizeof(longest));
	longest[EVG_SEQ_NAME_MAX] = '\0';
	t = table_new(longest, 8);
	cr_assert_null(evg_seq_table_create(longest, 8, SOCKET_ID_ANY));
	cr_assert_eq(rte_errno, EEXIST);
	longest[EVG_SEQ_NAME_MAX] = 'n';
	longest[EVG_SEQ_NAME_MAX + 1] = '\0';
	cr_assert_null(evg_seq_table_create(longest, 8, SOCKET_ID_ANY));
	cr_assert_eq(rte_errno, ENAMETOOLONG);
	cr_assert_null(evg_seq_table_create("zero", 0, SOCKET_ID_ANY));
	cr_assert_eq(rte_errno, EINVAL);
	cr_assert_null(evg_seq_table_create(NULL, 8, SOCKET_ID_ANY));
	cr_assert_eq(rte_errno, EINVAL);
	evg_seq_table_free(t);
	evg_seq_table_free(NULL);
}

Test(seq_shard, shard_is_stable_and_within_range)
{
	/* Pinned: a change here moves keys between shards. */
	cr_assert_eq(evg_seq_shard(7, 42, 4), 3u);
	cr_assert_eq(evg_seq_shard(1, 0, 16), 8u);
	cr_assert_eq(evg_seq_shard(UINT32_MAX, UINT32_MAX, 3), 1u);
	for (unsigned int n = 1; n <= 64; n++)
		for (uint32_t p = 1; p <= 64; p++) {
			unsigned int s = evg_seq_shard(p, p * 31, n);

			cr_assert_lt(s, n, "shard %u of %u", s, n);
			cr_assert_eq(evg_seq_shard(p, p * 31, n), s);
		}
	cr_assert_eq(evg_seq_shard(7, 42, 1), 0);
	cr_assert_eq(evg_seq_shard(7, 42, 0), 0);
}

Test(seq_shard, shard_spreads_10000_keys_evenly_over_4_shards)
{
	unsigned int hits[4] = {0};

	/* 100 producers with 100 streams each: structured, not random. */
	for (uint32_t p = 1; p <= 100; p++)
		for (uint32_t s = 0; s < 100; s++)
			hits[evg_seq_shard(p, s, 4)]++;
	for (unsigned int i = 0; i < 4; i++)
		cr_assert(hits[i] >= 2000 && hits[i] <= 3000,
			  "shard %u got %u of 10000 keys", i, hits[i]);
}
