/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sequencing decisions (evg_seq_decide_*): one test per rule of the
 * protocol's "Sequencing" section, the top of the 64-bit seq space, and a
 * randomized check against an event-by-event reference model.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "evg_seq.h"
#include "seq_testutil.h"

#define S1 0x0123456789ABCDEFull

static struct evg_seq_result
data(struct evg_seq_state *st, bool known, uint64_t session, uint64_t seq,
     uint32_t count)
{
	struct evg_seq_result r;

	memset(&r, 0xA5, sizeof(r)); /* every field must be written */
	evg_seq_decide_data(st, known, session, seq, count, &r);
	return r;
}

static struct evg_seq_result
ping(const struct evg_seq_state *st, bool known, uint64_t session)
{
	struct evg_seq_result r;

	memset(&r, 0xA5, sizeof(r));
	evg_seq_decide_ping(st, known, session, &r);
	return r;
}

static void
expect_state(const struct evg_seq_state *st, uint64_t session, uint64_t next)
{
	cr_assert_eq(st->session, session,
		     "session %" PRIx64 ", expected %" PRIx64, st->session,
		     session);
	cr_assert_eq(st->next_seq, next,
		     "next_seq %" PRIu64 ", expected %" PRIu64, st->next_seq,
		     next);
}

Test(seq_data, first_contact_at_seq_0_is_accepted_whole)
{
	struct evg_seq_state st = {.session = 77, .next_seq = 999}; /* junk */

	tu_seq_expect(data(&st, false, S1, 0, 5), EVG_SEQ_ACCEPT, 5, 0, 5);
	expect_state(&st, S1, 5);
}

Test(seq_data, first_contact_past_seq_0_gets_gap_0_and_records_session)
{
	struct evg_seq_state st = {.session = 77, .next_seq = 999};

	tu_seq_expect(data(&st, false, S1, 5, 3), EVG_SEQ_GAP, 0, 0, 0);
	expect_state(&st, S1, 0);
	/* The producer resends from 0 in the same session. */
	tu_seq_expect(data(&st, true, S1, 0, 8), EVG_SEQ_ACCEPT, 8, 0, 8);
	expect_state(&st, S1, 8);
}

Test(seq_data, in_order_frames_are_accepted_and_next_advances_by_count)
{
	struct evg_seq_state st;
	uint64_t next = 0;

	tu_seq_expect(data(&st, false, S1, 0, 1), EVG_SEQ_ACCEPT, 1, 0, 1);
	next = 1;
	for (uint32_t count = 1; count <= 100; count++) {
		tu_seq_expect(data(&st, true, S1, next, count), EVG_SEQ_ACCEPT,
		       next + count, 0, count);
		next += count;
		expect_state(&st, S1, next);
	}
	tu_seq_expect(data(&st, true, S1, next, UINT16_MAX), EVG_SEQ_ACCEPT,
	       next + UINT16_MAX, 0, UINT16_MAX);
}

Test(seq_data, partial_duplicate_accepts_only_the_new_tail)
{
	struct evg_seq_state st = {.session = S1, .next_seq = 10};

	/* Events 7..11: 7, 8, 9 were seen, 10 and 11 are new. */
	tu_seq_expect(data(&st, true, S1, 7, 5), EVG_SEQ_ACCEPT, 12, 3, 2);
	expect_state(&st, S1, 12);
	/* Only the last event is new. */
	tu_seq_expect(data(&st, true, S1, 2, 11), EVG_SEQ_ACCEPT, 13, 10, 1);
	expect_state(&st, S1, 13);
}

Test(seq_data, full_duplicate_is_dropped_and_reacked_with_next)
{
	struct evg_seq_state st = {.session = S1, .next_seq = 10};

	tu_seq_expect(data(&st, true, S1, 0, 10), EVG_SEQ_DUPLICATE, 10, 10, 0);
	tu_seq_expect(data(&st, true, S1, 9, 1), EVG_SEQ_DUPLICATE, 10, 1, 0);
	tu_seq_expect(data(&st, true, S1, 3, 4), EVG_SEQ_DUPLICATE, 10, 4, 0);
	expect_state(&st, S1, 10);
}

Test(seq_data, gap_frame_gets_nak_with_next_expected_seq)
{
	struct evg_seq_state st = {.session = S1, .next_seq = 10};

	tu_seq_expect(data(&st, true, S1, 11, 1), EVG_SEQ_GAP, 10, 0, 0);
	tu_seq_expect(data(&st, true, S1, UINT64_MAX - 1, 1), EVG_SEQ_GAP, 10, 0, 0);
	expect_state(&st, S1, 10);
	/* The frame that closes the gap is accepted. */
	tu_seq_expect(data(&st, true, S1, 10, 2), EVG_SEQ_ACCEPT, 12, 0, 2);
}

Test(seq_data, lower_session_is_fenced_and_state_unchanged)
{
	struct evg_seq_state st = {.session = S1, .next_seq = 10};

	tu_seq_expect(data(&st, true, S1 - 1, 10, 1), EVG_SEQ_FENCED, 0, 0, 0);
	tu_seq_expect(data(&st, true, 1, 0, 1), EVG_SEQ_FENCED, 0, 0, 0);
	expect_state(&st, S1, 10);
}

Test(seq_data, higher_session_restarts_at_0_and_fences_the_old_one)
{
	struct evg_seq_state st = {.session = S1, .next_seq = 10};

	tu_seq_expect(data(&st, true, S1 + 1, 0, 4), EVG_SEQ_ACCEPT, 4, 0, 4);
	expect_state(&st, S1 + 1, 4);
	tu_seq_expect(data(&st, true, S1, 10, 1), EVG_SEQ_FENCED, 0, 0, 0);
	expect_state(&st, S1 + 1, 4);
}

Test(seq_data, higher_session_past_seq_0_gets_gap_0_and_still_fences_the_old)
{
	struct evg_seq_state st = {.session = S1, .next_seq = 10};

	/* Even a seq the old session had reached is a gap in the new one. */
	tu_seq_expect(data(&st, true, S1 + 5, 10, 2), EVG_SEQ_GAP, 0, 0, 0);
	expect_state(&st, S1 + 5, 0);
	tu_seq_expect(data(&st, true, S1, 10, 2), EVG_SEQ_FENCED, 0, 0, 0);
}

Test(seq_data, zero_count_frame_changes_nothing)
{
	struct evg_seq_state st = {.session = S1, .next_seq = 10};

	tu_seq_expect(data(&st, true, S1, 10, 0), EVG_SEQ_DUPLICATE, 10, 0, 0);
	expect_state(&st, S1, 10);
}

/*
 * next_seq cannot hold 2^64, so a session's last event is seq 2^64 - 2,
 * which leaves next_seq = UINT64_MAX. Such states only come from a restore;
 * the decisions get them directly.
 */
Test(seq_top, seqs_up_to_2_64_minus_2_are_accepted)
{
	struct evg_seq_state st = {.session = S1, .next_seq = UINT64_MAX - 3};

	tu_seq_expect(data(&st, true, S1, UINT64_MAX - 3, 2), EVG_SEQ_ACCEPT,
	       UINT64_MAX - 1, 0, 2);
	tu_seq_expect(data(&st, true, S1, UINT64_MAX - 2, 2), EVG_SEQ_ACCEPT,
	       UINT64_MAX, 1, 1);
	expect_state(&st, S1, UINT64_MAX);
}

Test(seq_top, frame_that_would_wrap_next_seq_is_refused_as_overflow)
{
	struct evg_seq_state st = {.session = S1, .next_seq = UINT64_MAX - 1};

	/* Events 2^64-2 and 2^64-1: next would be 2^64. */
	tu_seq_expect(data(&st, true, S1, UINT64_MAX - 1, 2), EVG_SEQ_OVERFLOW,
	       UINT64_MAX - 1, 0, 0);
	expect_state(&st, S1, UINT64_MAX - 1);
	st.next_seq = UINT64_MAX;
	tu_seq_expect(data(&st, true, S1, UINT64_MAX, 1), EVG_SEQ_OVERFLOW, UINT64_MAX,
	       0, 0);
	/* Partly duplicate, and the new tail would wrap. */
	tu_seq_expect(data(&st, true, S1, UINT64_MAX - 1, 2), EVG_SEQ_OVERFLOW,
	       UINT64_MAX, 0, 0);
	tu_seq_expect(data(&st, true, S1, UINT64_MAX - 100, UINT16_MAX),
	       EVG_SEQ_OVERFLOW, UINT64_MAX, 0, 0);
	expect_state(&st, S1, UINT64_MAX);
	/* The way out is a new session. */
	tu_seq_expect(data(&st, true, S1 + 1, 0, 1), EVG_SEQ_ACCEPT, 1, 0, 1);
}

Test(seq_top, duplicates_at_the_top_are_still_reacked)
{
	struct evg_seq_state st = {.session = S1, .next_seq = UINT64_MAX};

	tu_seq_expect(data(&st, true, S1, UINT64_MAX - 2, 2), EVG_SEQ_DUPLICATE,
	       UINT64_MAX, 2, 0);
	tu_seq_expect(data(&st, true, S1, UINT64_MAX - UINT16_MAX, UINT16_MAX),
	       EVG_SEQ_DUPLICATE, UINT64_MAX, UINT16_MAX, 0);
	expect_state(&st, S1, UINT64_MAX);
}

Test(seq_ping, ping_in_current_session_acks_next_expected_seq)
{
	struct evg_seq_state st = {.session = S1, .next_seq = 42};

	tu_seq_expect(ping(&st, true, S1), EVG_SEQ_ACCEPT, 42, 0, 0);
	expect_state(&st, S1, 42);
}

Test(seq_ping, ping_from_unknown_producer_acks_seq_0)
{
	tu_seq_expect(ping(NULL, false, S1), EVG_SEQ_ACCEPT, 0, 0, 0);
}

Test(seq_ping, ping_in_higher_session_acks_0_and_changes_nothing)
{
	struct evg_seq_state st = {.session = S1, .next_seq = 42};

	tu_seq_expect(ping(&st, true, S1 + 1), EVG_SEQ_ACCEPT, 0, 0, 0);
	expect_state(&st, S1, 42);
	/* The old session is not fenced by a ping. */
	tu_seq_expect(data(&st, true, S1, 42, 1), EVG_SEQ_ACCEPT, 43, 0, 1);
}

Test(seq_ping, ping_in_lower_session_is_fenced)
{
	struct evg_seq_state st = {.session = S1, .next_seq = 42};

	tu_seq_expect(ping(&st, true, S1 - 1), EVG_SEQ_FENCED, 0, 0, 0);
	expect_state(&st, S1, 42);
}

Test(seq_names, action_names_are_the_counter_names)
{
	cr_assert_str_eq(evg_seq_action_name(EVG_SEQ_ACCEPT), "accept");
	cr_assert_str_eq(evg_seq_action_name(EVG_SEQ_DUPLICATE), "duplicate");
	cr_assert_str_eq(evg_seq_action_name(EVG_SEQ_GAP), "gap");
	cr_assert_str_eq(evg_seq_action_name(EVG_SEQ_FENCED), "fenced");
	cr_assert_str_eq(evg_seq_action_name(EVG_SEQ_OVERFLOW), "overflow");
	cr_assert_null(evg_seq_action_name(EVG_SEQ_ACTION_MAX));
}

/*
 * Reference model: the protocol's rules applied event by event, with
 * 128-bit arithmetic so that the top of the seq space needs no care.
 */
struct model {
	bool known;
	uint64_t session;
	uint64_t next;
};

static struct evg_seq_result
model_data(struct model *m, uint64_t session, uint64_t seq, uint32_t count)
{
	struct evg_seq_result r = {.action = EVG_SEQ_FENCED};
	unsigned __int128 next, ev;
	uint32_t dup = 0, fresh = 0;

	if (m->known && session < m->session)
		return r;
	if (!m->known || session > m->session) {
		m->known = true;
		m->session = session;
		m->next = 0;
	}
	r.ack_seq = m->next;
	if (seq > m->next) {
		r.action = EVG_SEQ_GAP;
		return r;
	}
	next = m->next;
	for (uint32_t i = 0; i < count; i++) {
		ev = (unsigned __int128)seq + i;
		if (ev < next)
			dup++;
		else
			fresh++;
	}
	if (fresh == 0) {
		r.action = EVG_SEQ_DUPLICATE;
		r.skip = dup;
	} else if (next + fresh > UINT64_MAX) {
		r.action = EVG_SEQ_OVERFLOW;
	} else {
		m->next += fresh;
		r.action = EVG_SEQ_ACCEPT;
		r.ack_seq = m->next;
		r.skip = dup;
		r.accept = fresh;
	}
	return r;
}

static struct evg_seq_result
model_ping(const struct model *m, uint64_t session)
{
	struct evg_seq_result r = {.action = EVG_SEQ_ACCEPT};

	if (m->known && session < m->session)
		r.action = EVG_SEQ_FENCED;
	else if (m->known && session == m->session)
		r.ack_seq = m->next;
	return r;
}

/* splitmix64: fixed seed, same sequence on every run. */
static uint64_t
rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t
pick_session(uint64_t *s, const struct model *m)
{
	uint64_t r = rnd(s) % 100;

	if (!m->known || r < 3)
		return 1 + rnd(s) % 8; /* anything: lower, same or higher */
	if (r < 6)
		return m->session + 1;
	return m->session;
}

/* Mostly around next expected, sometimes anywhere, sometimes at the top. */
static uint64_t
pick_seq(uint64_t *s, const struct model *m)
{
	uint64_t r = rnd(s) % 100;
	uint64_t back;

	if (r < 5)
		return rnd(s);
	if (r < 10)
		return UINT64_MAX - rnd(s) % 70;
	if (r < 15)
		return 0;
	back = rnd(s) % 70;
	return m->next - (back < m->next ? back : m->next) + rnd(s) % 3;
}

static uint32_t
pick_count(uint64_t *s)
{
	if (rnd(s) % 200 == 0)
		return 1 + (uint32_t)(rnd(s) % UINT16_MAX);
	return 1 + (uint32_t)(rnd(s) % 64);
}

static void
check_same(struct evg_seq_result got, struct evg_seq_result want,
	   const struct evg_seq_state *st, const struct model *m, int iter)
{
	cr_assert(got.action == want.action && got.ack_seq == want.ack_seq &&
			  got.skip == want.skip && got.accept == want.accept,
		  "iteration %d: got %s ack %" PRIu64 " skip %u accept %u, "
		  "model %s ack %" PRIu64 " skip %u accept %u",
		  iter, evg_seq_action_name(got.action), got.ack_seq, got.skip,
		  got.accept, evg_seq_action_name(want.action), want.ack_seq,
		  want.skip, want.accept);
	cr_assert(st->session == m->session && st->next_seq == m->next,
		  "iteration %d: state %" PRIx64 "/%" PRIu64 ", model %" PRIx64
		  "/%" PRIu64,
		  iter, st->session, st->next_seq, m->session, m->next);
}

#define NB_KEYS 8
#define NB_ITERS 100000

/* One random step on key k: a DATA frame, a PING, or (rarely) a restore
 * close to the top of the seq space. */
static void
random_step(uint64_t *s, struct evg_seq_state *st, struct model *m, int iter,
	    uint64_t seen[EVG_SEQ_ACTION_MAX])
{
	uint64_t r = rnd(s) % 100;
	uint64_t session = pick_session(s, m);
	struct evg_seq_result got, want;

	if (r < 10) {
		want = model_ping(m, session);
		got = ping(m->known ? st : NULL, m->known, session);
	} else if (r < 11 && m->known) {
		m->next = UINT64_MAX - rnd(s) % 200;
		st->next_seq = m->next;
		return;
	} else {
		uint64_t seq = pick_seq(s, m);
		uint32_t count = pick_count(s);
		bool known = m->known;

		want = model_data(m, session, seq, count);
		got = data(st, known, session, seq, count);
	}
	check_same(got, want, st, m, iter);
	seen[got.action]++;
}

Test(seq_model, random_frames_match_the_reference_model)
{
	struct evg_seq_state st[NB_KEYS];
	struct model m[NB_KEYS];
	uint64_t seen[EVG_SEQ_ACTION_MAX] = {0};
	uint64_t s = 20240611;

	memset(st, 0, sizeof(st));
	memset(m, 0, sizeof(m));
	for (int i = 0; i < NB_ITERS; i++) {
		unsigned int k = (unsigned int)(rnd(&s) % NB_KEYS);

		random_step(&s, &st[k], &m[k], i, seen);
	}
	/* The generator must have reached every rule. */
	for (int a = 0; a < EVG_SEQ_ACTION_MAX; a++)
		cr_assert_geq(seen[a], 100, "only %" PRIu64 " results were %s",
			      seen[a], evg_seq_action_name(a));
}
