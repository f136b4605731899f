/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libevclient's consumer against a scripted fake appliance on 127.0.0.1
 * (fake_sub.c): the cookie handshake, SUBSCRIBED's fields, delivery in
 * dseq order through loss, duplicates and overlap, CREDIT (processed,
 * credit, NAK, heartbeat), events in pieces, and the API.
 * test_consumer_control.c has commits, SUB_ERROR and foreign frames.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "consumer_testutil.h"

TestSuite(consumer, .init = setup, .fini = teardown, .timeout = 60);

/* ---- handshake ------------------------------------------------------ */

Test(consumer, no_subscription_before_the_cookie_comes_back)
{
	struct fsub_script s = {.events = 8, .hold = true};
	struct evg_consumer_stream st = {.stream_id = 1};
	struct fsub_rx r;

	start_streams(&s, &st, 1);
	cr_assert_eq(evg_consumer_wait_subscribed(cs, 300), -ETIMEDOUT);
	cr_assert(fsub_nth(&fk, EVG_EVF_SUBSCRIBE, 0, &r));
	cr_expect_eq(r.u.sub.cookie, 0, "first SUBSCRIBE carries no cookie");
	cr_assert(fsub_nth(&fk, EVG_EVF_SUBSCRIBE, 1, &r));
	cr_expect_eq(r.u.sub.cookie, FSUB_COOKIE, "the CHALLENGE's cookie");
	cr_expect_geq(fsub_count(&fk, EVG_EVF_SUBSCRIBE, 0), 3,
		      "no resend every retry_ms");
	cr_expect_eq(fsub_count(&fk, EVG_EVF_CREDIT, 0), 0,
		     "CREDIT before SUBSCRIBED");
	cr_expect_geq(stats().challenges, 1);
	cr_expect_eq(evg_consumer_positions(cs, NULL, 0), 0);
	cr_expect_str_empty(evg_consumer_errmsg(cs), "a timeout is sticky");
}

Test(consumer, subscribed_after_the_second_subscribe)
{
	struct fsub_script s = {.events = 8};
	struct fsub_rx r;

	start(&s);
	cr_expect_eq(fk.subscriptions, 1);
	cr_assert(fsub_nth(&fk, EVG_EVF_SUBSCRIBE, 0, &r));
	cr_expect_eq(r.u.sub.cookie, 0);
	cr_expect_eq(r.u.sub.start, EVG_EVF_SUB_OLDEST);
	cr_expect_eq(r.u.sub.credit_events, 4096);
	cr_expect_eq(r.u.sub.credit_bytes, 4u << 20);
	cr_expect_eq(r.u.sub.nb_streams, 1);
	cr_expect_eq(r.u.sub.streams[0].stream_id, 1);
	cr_assert(fsub_nth(&fk, EVG_EVF_SUBSCRIBE, 1, &r));
	cr_expect_eq(r.u.sub.cookie, FSUB_COOKIE);
	cr_expect_eq(stats().challenges, 1);
}

Test(consumer, positions_members_and_resumed_are_parsed)
{
	struct fsub_script s = {.events = 20,
				.members = 3,
				.resumed = true,
				.reverse_pos = true};
	struct evg_consumer_stream st[2] = {{.stream_id = 9, .offset = 5},
					    {.stream_id = 2, .offset = 7}};
	struct evg_consumer_position pos[4];

	opts.start = EVG_CONSUMER_OFFSET;
	opts.group = "billing";
	start_streams(&s, st, 2);
	cr_expect_eq(evg_consumer_positions(cs, pos, 4), 0);
	cr_assert_eq(evg_consumer_wait_subscribed(cs, WAIT_MS), 0);
	cr_assert_eq(evg_consumer_positions(cs, pos, 4), 2);
	/* In the order the streams were given, not SUBSCRIBED's. */
	cr_expect_eq(pos[0].stream_id, 9);
	cr_expect_eq(pos[0].partition, 1);
	cr_expect_eq(pos[0].start, 5);
	cr_expect_eq(pos[0].end, 20);
	cr_expect_eq(pos[1].stream_id, 2);
	cr_expect_eq(pos[1].partition, 2);
	cr_expect_eq(pos[1].start, 7);
	cr_expect_eq(evg_consumer_positions(cs, pos, 1), 1);
	cr_expect_eq(evg_consumer_resumed(cs), 1);
	cr_expect_eq(evg_consumer_members(cs), 3);
}

/* ---- delivery ------------------------------------------------------- */

Test(consumer, events_arrive_once_in_dseq_order)
{
	struct fsub_script s = {.events = 50};
	struct evg_consumer_stream st[2] = {{.stream_id = 3}, {.stream_id = 6}};
	uint64_t next[2] = {0, 0};
	char want[48];

	start_streams(&s, st, 2);
	collect(100, 64, WAIT_MS);
	for (unsigned int i = 0; i < 100; i++) {
		unsigned int k = got[i].stream_id == 3 ? 0 : 1;

		cr_expect_eq(got[i].dseq, i);
		cr_expect_eq(got[i].partition, got[i].stream_id % 4);
		cr_expect_eq(got[i].offset, next[k], "stream %u",
			     got[i].stream_id);
		snprintf(want, sizeof(want), "s%u-o%" PRIu64, got[i].stream_id,
			 next[k]++);
		cr_expect_str_eq(got[i].value, want);
	}
	cr_expect_eq(next[0], 50);
	cr_expect_eq(next[1], 50);
	cr_expect_eq(stats().events, 100);
	cr_expect_eq(stats().duplicates, 0);
	cr_expect_eq(stats().out_of_order, 0);
	cr_expect_eq(stats().replies_ignored, 0);
	cr_expect_eq(evg_consumer_pending(cs), 0);
}

Test(consumer, every_field_of_an_event_is_delivered)
{
	struct fsub_script s = {.events = 3};
	struct evg_consumer_event ev[4];

	start(&s);
	cr_assert_eq(evg_consumer_poll(cs, ev, 1, WAIT_MS), 1);
	cr_expect_eq(ev[0].stream_id, 1);
	cr_expect_eq(ev[0].partition, 1);
	cr_expect_eq(ev[0].offset, 0);
	cr_expect_eq(ev[0].producer_id, 5);
	cr_expect_eq(ev[0].session, 77);
	cr_expect_eq(ev[0].seq, 0);
	cr_expect_eq(ev[0].ts_ns, FSUB_TS0);
	cr_expect_eq(ev[0].dseq, 0);
	cr_expect_eq(ev[0].redelivered, 0);
	cr_expect_eq(ev[0].key_size, 2);
	cr_expect_arr_eq(ev[0].key, "k1", 2);
	cr_expect_eq(ev[0].value_size, 5);
	cr_expect_arr_eq(ev[0].value, "s1-o0", 5);
	/* process() does not end their validity; the next poll does. */
	cr_assert_geq(evg_consumer_process(cs, evg_client_now_ns()), 0);
	cr_expect_arr_eq(ev[0].value, "s1-o0", 5);
}

Test(consumer, lost_frame_is_asked_again_with_nak_at_received)
{
	struct fsub_script s = {.events = 40, .per_frame = 4, .drop_frame = 3};
	struct fsub_rx r;
	unsigned int naks;

	start(&s);
	collect(40, 64, WAIT_MS);
	expect_stream_in_order(1, 0, 40);
	cr_expect_geq(stats().out_of_order, 1);
	cr_expect_geq(stats().naks, 1);
	naks = fsub_count(&fk, EVG_EVF_CREDIT, EVG_EVF_SUB_F_NAK);
	cr_assert_geq(naks, 1, "no CREDIT with NAK");
	for (unsigned int i = 0;; i++) {
		cr_assert(fsub_nth(&fk, EVG_EVF_CREDIT, i, &r));
		if (r.flags & EVG_EVF_SUB_F_NAK)
			break;
	}
	cr_expect_eq(r.seq, 8, "NAK at received: two frames of 4 arrived");
	cr_expect_geq(fk.resent, 1);
	cr_expect_leq(naks, 3, "%u NAKs for one lost frame", naks);
}

Test(consumer, duplicate_frame_is_dropped)
{
	struct fsub_script s = {.events = 40, .dup_frame = 2};

	start(&s);
	collect(40, 64, WAIT_MS);
	run_for(100);
	expect_stream_in_order(1, 0, 40);
	cr_expect_eq(nb_got, 40);
	cr_expect_geq(stats().duplicates, 1);
	cr_expect_eq(stats().frames, 10);
}

Test(consumer, partial_overlap_skips_the_records_seen)
{
	struct fsub_script s = {.events = 40, .overlap_frame = 3};

	start(&s);
	collect(40, 64, WAIT_MS);
	run_for(100);
	cr_expect_eq(nb_got, 40);
	expect_stream_in_order(1, 0, 40);
	cr_expect_eq(stats().duplicates, 0);
	cr_expect_eq(stats().out_of_order, 0);
	cr_expect_eq(stats().frames, 10);
}

Test(consumer, credit_reports_processed_and_the_flow_goes_on)
{
	struct fsub_script s = {.events = 64, .per_frame = 2};
	struct fsub_rx r;
	unsigned int n;

	opts.credit_events = 8;
	opts.credit_bytes = 100000;
	start(&s);
	collect(64, 1, WAIT_MS); /* one at a time: processed moves slowly */
	expect_stream_in_order(1, 0, 64);
	run_for(200); /* the last events count as processed */
	r = last_credit();
	cr_expect_eq(r.seq, 64, "received %" PRIu64, r.seq);
	cr_expect_eq(r.u.credit.processed, 64, "processed %" PRIu64,
		     r.u.credit.processed);
	n = fsub_count(&fk, EVG_EVF_CREDIT, 0);
	for (unsigned int i = 0; i < n; i++) {
		cr_assert(fsub_nth(&fk, EVG_EVF_CREDIT, i, &r));
		cr_expect_leq(r.u.credit.processed, r.seq);
		cr_expect_eq(r.u.credit.credit_events, 8);
		cr_expect_eq(r.u.credit.credit_bytes, 100000);
		cr_expect_eq(r.u.credit.token, fsub_token(&fk));
	}
	cr_expect_geq(n, 64 / 8, "%u CREDITs for 64 events, credit 8", n);
}

Test(consumer, heartbeat_is_sent_while_idle)
{
	struct fsub_script s = {.no_deliver = true, .timeout_ms = 400};
	struct fsub_rx a, b;
	unsigned int n;

	start(&s);
	run_for(700);
	n = fsub_count(&fk, EVG_EVF_CREDIT, 0);
	/* Every 100 ms (timeout / 4): about 7; a busy machine may lose a
	 * few wake-ups, but never all. */
	cr_expect_geq(n, 4, "%u CREDITs in 700 ms", n);
	cr_expect_leq(n, 12, "%u CREDITs in 700 ms", n);
	for (unsigned int i = 0; i + 1 < n; i++) {
		cr_assert(fsub_nth(&fk, EVG_EVF_CREDIT, i, &a));
		cr_assert(fsub_nth(&fk, EVG_EVF_CREDIT, i + 1, &b));
		cr_expect_eq(b.seq, 0);
		cr_expect_eq(b.u.credit.processed, 0);
		cr_expect_geq(b.at_ns - a.at_ns, 80000000ull,
			      "CREDITs %u ms apart",
			      (unsigned int)((b.at_ns - a.at_ns) / 1000000));
	}
}

/* ---- events in pieces ------------------------------------------------ */

static void
expect_big(const struct got *g, uint64_t dseq)
{
	char key[16], val[FSUB_BIG + 1];
	uint32_t klen,
		vlen = fsub_event(&fk, 1, 2, key, &klen, val, sizeof(val));

	val[vlen] = '\0';
	cr_expect_eq(g->offset, 2);
	cr_expect_eq(g->dseq, dseq, "dseq of the first piece");
	cr_expect_eq(strncmp(g->value, val, sizeof(g->value) - 1), 0);
}

Test(consumer, pieces_are_joined_into_one_event)
{
	struct fsub_script s = {.events = 6, .pieces_at = 3};
	struct evg_consumer_event ev[8];
	char key[16], val[FSUB_BIG];
	uint32_t klen, vlen;
	struct fsub_rx r;
	unsigned int n;
	int k;

	opts.credit_events = 3; /* room for the three pieces and no more */
	start(&s);
	vlen = fsub_event(&fk, 1, 2, key, &klen, val, sizeof(val));
	while (nb_got < 3) {
		k = evg_consumer_poll(cs, ev, 1, WAIT_MS);
		cr_assert_eq(k, 1, "poll: %d %s", k, evg_consumer_errmsg(cs));
		keep(&ev[0]);
	}
	cr_assert_eq(ev[0].key_size, klen);
	cr_expect_arr_eq(ev[0].key, key, klen);
	cr_assert_eq(ev[0].value_size, vlen, "joined value of %u bytes",
		     ev[0].value_size);
	cr_expect_arr_eq(ev[0].value, val, vlen);
	expect_big(&got[2], 2);
	collect(6, 64, WAIT_MS);
	for (unsigned int i = 3; i < 6; i++) {
		cr_expect_eq(got[i].offset, i);
		cr_expect_eq(got[i].dseq, i + FSUB_PIECES - 1);
	}
	run_for(200);
	r = last_credit();
	cr_expect_eq(r.u.credit.processed, 6 + FSUB_PIECES - 1);
	n = fsub_count(&fk, EVG_EVF_CREDIT, 0);
	for (unsigned int i = 0; i < n; i++) {
		cr_assert(fsub_nth(&fk, EVG_EVF_CREDIT, i, &r));
		cr_expect(r.u.credit.processed <= 2 ||
				  r.u.credit.processed >= 2 + FSUB_PIECES,
			  "processed %" PRIu64 " inside the pieced event",
			  r.u.credit.processed);
	}
	cr_expect_eq(stats().events, 6);
}

Test(consumer, lost_piece_is_asked_again_then_joined)
{
	/* Frame 1: offsets 0-1; frames 2-4: the pieces of offset 2. */
	struct fsub_script s = {.events = 6, .pieces_at = 3, .drop_frame = 3};

	start(&s);
	collect(6, 64, WAIT_MS);
	for (unsigned int i = 0; i < 6; i++)
		cr_expect_eq(got[i].offset, i);
	expect_big(&got[2], 2);
	cr_expect_geq(stats().naks, 1);
}

Test(consumer, piece_that_joins_nothing_is_dropped)
{
	struct fsub_script s = {.no_deliver = true};
	struct evg_consumer_event ev;
	uint8_t buf[256];
	uint64_t se;
	int len;

	start(&s);
	se = evg_consumer_session(cs);
	len = deliver_flags(buf, CONSUMER, se, 1, 0, EVG_EVF_SUB_REC_CONT);
	fsub_inject(&fk, buf, (size_t)len); /* the end of nothing */
	len = deliver(buf, CONSUMER, se, 1, 1);
	fsub_inject(&fk, buf, (size_t)len);
	cr_assert_eq(evg_consumer_poll(cs, &ev, 1, WAIT_MS), 1);
	cr_expect_eq(ev.dseq, 1);
	cr_expect_eq(stats().replies_ignored, 1);
	cr_expect_eq(stats().events, 1);
}

/* ---- the API ---------------------------------------------------------- */

struct stop_at {
	unsigned int seen, stop;
	uint64_t last_dseq;
};

static int
on_event(void *arg, const struct evg_consumer_event *ev)
{
	struct stop_at *s = arg;

	s->last_dseq = ev->dseq;
	return ++s->seen == s->stop;
}

Test(consumer, dispatch_stops_when_the_callback_says_so)
{
	struct fsub_script s = {.events = 8, .per_frame = 8};
	struct stop_at at = {.stop = 3};

	start(&s);
	while (evg_consumer_pending(cs) < 8)
		cr_assert_geq(evg_consumer_dispatch(cs, on_event, &at, 0, 50),
			      0);
	cr_expect_eq(evg_consumer_dispatch(cs, on_event, &at, 64, WAIT_MS), 3);
	cr_expect_eq(at.last_dseq, 2);
	cr_expect_eq(evg_consumer_pending(cs), 5);
	at.stop = 0;
	cr_expect_eq(evg_consumer_dispatch(cs, on_event, &at, 64, WAIT_MS), 5);
	cr_expect_eq(at.last_dseq, 7);
	cr_expect_eq(evg_consumer_pending(cs), 0);
}

Test(consumer, event_loop_core_drives_the_handle)
{
	struct fsub_script s = {.events = 40};
	struct evg_consumer_stream st = {.stream_id = 1};
	struct evg_consumer_event ev[16];
	uint64_t deadline = evg_client_now_ns() + WAIT_MS * 1000000ull;

	start_streams(&s, &st, 1);
	while (nb_got < 40 && evg_client_now_ns() < deadline) {
		struct pollfd p = {.fd = evg_consumer_fd(cs), .events = POLLIN};
		int t = evg_consumer_next_timeout_ms(cs, evg_client_now_ns());
		int n;

		cr_assert_geq(t, 0, "a live handle always has a timer");
		poll(&p, 1, t > 100 ? 100 : t);
		cr_assert_geq(evg_consumer_process(cs, evg_client_now_ns()), 0);
		n = evg_consumer_poll(cs, ev, 16, 0);
		cr_assert_geq(n, 0);
		for (int i = 0; i < n; i++)
			keep(&ev[i]);
	}
	expect_stream_in_order(1, 0, 40);
}

Test(consumer, open_rejects_bad_arguments)
{
	struct evg_consumer_stream st[17];
	struct evg_consumer *c = NULL;
	struct evg_consumer_opts o;

	for (unsigned int i = 0; i < 17; i++)
		st[i] = (struct evg_consumer_stream){.stream_id = i};
	cr_expect_eq(evg_consumer_open(&c, 0, "127.0.0.1", st, 1, NULL),
		     -EINVAL);
	cr_expect_eq(evg_consumer_open(&c, 1, "127.0.0.1", st, 0, NULL),
		     -EINVAL);
	cr_expect_eq(evg_consumer_open(&c, 1, "127.0.0.1", st, 17, NULL),
		     -EINVAL);
	st[1].stream_id = 0;
	cr_expect_eq(evg_consumer_open(&c, 1, "127.0.0.1", st, 2, NULL),
		     -EINVAL, "a stream twice");
	cr_expect_eq(evg_consumer_open(&c, 1, "127.0.0.1:0", st, 1, NULL),
		     -EINVAL);
	cr_expect_eq(evg_consumer_open(&c, 1, "127.0.0.1:x", st, 1, NULL),
		     -EINVAL);
	evg_consumer_opts_init(&o);
	o.group = "no spaces";
	cr_expect_eq(evg_consumer_open(&c, 1, "127.0.0.1", st, 1, &o), -EINVAL);
	o.group = "";
	cr_expect_eq(evg_consumer_open(&c, 1, "127.0.0.1", st, 1, &o), -EINVAL);
	evg_consumer_opts_init(&o);
	o.weight = 1001;
	cr_expect_eq(evg_consumer_open(&c, 1, "127.0.0.1", st, 1, &o), -EINVAL);
	evg_consumer_opts_init(&o);
	o.policy = 6;
	cr_expect_eq(evg_consumer_open(&c, 1, "127.0.0.1", st, 1, &o), -EINVAL);
	evg_consumer_opts_init(&o);
	o.credit_events = 0;
	cr_expect_eq(evg_consumer_open(&c, 1, "127.0.0.1", st, 1, &o), -EINVAL);
	evg_consumer_opts_init(&o);
	o.start = 4;
	cr_expect_eq(evg_consumer_open(&c, 1, "127.0.0.1", st, 1, &o), -EINVAL);
	cr_expect_null(c);
	evg_consumer_close(NULL, 0);
}

Test(consumer, names_of_policies_and_counters)
{
	cr_expect_eq(evg_consumer_policy_from_name("key-hash"),
		     EVG_CONSUMER_KEY_HASH);
	cr_expect_eq(evg_consumer_policy_from_name("round-robin"),
		     EVG_CONSUMER_ROUND_ROBIN);
	cr_expect_eq(evg_consumer_policy_from_name("nope"), -EINVAL);
	cr_expect_str_eq(evg_consumer_policy_name(EVG_CONSUMER_WEIGHTED),
			 "weighted");
	cr_expect_null(evg_consumer_policy_name(0));
	cr_expect_null(evg_consumer_policy_name(6));
	for (int i = 0; i < EVG_CONSUMER_STAT_MAX; i++) {
		const char *n = evg_consumer_stat_name(i);

		cr_assert_not_null(n);
		for (int k = 0; k < i; k++)
			cr_expect_str_neq(n, evg_consumer_stat_name(k));
	}
	cr_expect_str_eq(evg_consumer_stat_name(EVG_CONSUMER_STAT_naks),
			 "naks");
	cr_expect_null(evg_consumer_stat_name(EVG_CONSUMER_STAT_MAX));
}
