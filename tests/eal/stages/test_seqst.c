/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The sequencer stage over real mbufs and edges: the decision it writes
 * into each frame's evg_pkt, its counters, the order it keeps, and how
 * much it takes from its inputs. Frames are mbufs whose evg_pkt header is
 * filled directly, as rx would leave it; their bytes do not matter here.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <criterion/criterion.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "evg_stages.h"
#include "stage_fixture.h"

#define S1 0x0123456789ABCDEFull
#define S2 (S1 + 1)
#define POISON 0xA5u

/* What one test runs: a table, two input edges, the output edge. */
static struct {
	struct evg_seq_table *table;
	struct sf_edges e;
	struct evg_seqst_ctx ctx;
	struct evg_node node;
} fx;

#define C(name) (fx.ctx.stats.c[EVG_SEQST_##name])

TestSuite(seq_stage, .init = sf_setup, .fini = sf_teardown);

static void
fx_init(unsigned int out_size, uint16_t burst, uint32_t capacity)
{
	struct evg_seqst_conf conf = {.nb_in = 2, .burst = burst};

	memset(&fx, 0, sizeof(fx));
	fx.table = evg_seq_table_create("sqst", capacity, SOCKET_ID_ANY);
	cr_assert_not_null(fx.table, "table: %s", rte_strerror(rte_errno));
	sf_edges_init(&fx.e, "sq", 64, EVG_EDGE_DROP, out_size,
		      EVG_EDGE_BACKPRESSURE);
	conf.table = fx.table;
	conf.in[0] = &fx.e.in[0];
	conf.in[1] = &fx.e.in[1];
	conf.out = &fx.e.out;
	cr_assert_eq(evg_seqst_init(&fx.ctx, &conf), 0);
	fx.node = (struct evg_node){.ops = &evg_seqst_ops, .ctx = &fx.ctx};
}

/* Every test ends here: nothing left behind, no mbuf lost. */
static void
fx_fini(void)
{
	evg_seq_table_free(fx.table);
	sf_edges_fini(&fx.e);
}

static unsigned int
poll(void)
{
	return fx.node.ops->poll(&fx.node);
}

/* A frame as rx hands it on; the fields seq writes are poisoned. */
static struct rte_mbuf *
mk(uint8_t type, uint32_t producer, uint32_t stream, uint64_t session,
   uint64_t seq, uint16_t count)
{
	struct rte_mbuf *m = sf_mbuf(POISON);

	evg_pkt(m)->hdr = (struct evg_evf_hdr){
		.magic = EVG_EVF_MAGIC,
		.type = type,
		.count = count,
		.producer_id = producer,
		.stream_id = stream,
		.session = session,
		.seq = seq,
		.length = EVG_EVF_HDR_LEN,
	};
	return m;
}

static void
feed(unsigned int in, struct rte_mbuf *m)
{
	sf_feed(&fx.e.in[in], m);
}

/* Pass one frame through the stage; returns what it decided. */
static struct evg_pkt
through(uint8_t type, uint32_t producer, uint32_t stream, uint64_t session,
	uint64_t seq, uint16_t count)
{
	struct rte_mbuf *m = mk(type, producer, stream, session, seq, count);
	struct rte_mbuf *got;
	struct evg_pkt pkt;

	feed(0, m);
	cr_assert_eq(poll(), 1, "poll handles the one frame");
	cr_assert_eq(evg_edge_pull(&fx.e.out, &got, 1), 1, "frame passed on");
	cr_assert_eq(got, m, "the same mbuf comes out");
	pkt = *evg_pkt(got);
	rte_pktmbuf_free(got);
	return pkt;
}

static struct evg_pkt
data(uint64_t session, uint64_t seq, uint16_t count)
{
	return through(EVG_EVF_DATA, 7, 42, session, seq, count);
}

static void
expect(const struct evg_pkt *p, unsigned int action, uint64_t ack_seq,
       uint32_t skip, uint32_t accept)
{
	cr_assert_eq(p->action, action, "action %u, expected %u", p->action,
		     action);
	cr_assert_eq(p->ack_seq, ack_seq,
		     "ack_seq %" PRIu64 ", expected %" PRIu64, p->ack_seq,
		     ack_seq);
	cr_assert_eq(p->skip, skip, "skip %u, expected %u", p->skip, skip);
	cr_assert_eq(p->accept, accept, "accept %u, expected %u", p->accept,
		     accept);
}

Test(seq_stage, first_contact_at_seq_0_is_accepted_with_ack_seq_count)
{
	struct evg_pkt p;

	fx_init(64, 32, 16);
	p = data(S1, 0, 3);
	expect(&p, EVG_SEQ_ACCEPT, 3, 0, 3);
	cr_assert_eq(C(in), 1);
	cr_assert_eq(C(out), 1);
	cr_assert_eq(C(data), 1);
	cr_assert_eq(C(accept), 1);
	cr_assert_eq(C(events_accepted), 3);
	cr_assert_eq(C(events_duplicate), 0);
	fx_fini();
}

Test(seq_stage, repeated_frame_is_duplicate_and_re_acked_at_next_seq)
{
	struct evg_pkt p;

	fx_init(64, 32, 16);
	data(S1, 0, 3);
	p = data(S1, 0, 3);
	expect(&p, EVG_SEQ_DUPLICATE, 3, 3, 0);
	cr_assert_eq(C(duplicate), 1);
	cr_assert_eq(C(accept), 1, "only the first frame counts as accepted");
	cr_assert_eq(C(events_duplicate), 3, "every event of the frame");
	cr_assert_eq(C(events_accepted), 3);
	fx_fini();
}

Test(seq_stage, partial_duplicate_skips_seen_events_and_accepts_the_rest)
{
	struct evg_pkt p;

	fx_init(64, 32, 16);
	data(S1, 0, 3);
	p = data(S1, 1, 4); /* events 1, 2 seen; 3, 4 new */
	expect(&p, EVG_SEQ_ACCEPT, 5, 2, 2);
	cr_assert_eq(C(accept), 2);
	cr_assert_eq(C(events_accepted), 5);
	cr_assert_eq(C(events_duplicate), 2, "the skipped events count");
	fx_fini();
}

Test(seq_stage, frame_past_next_seq_is_a_gap_with_next_expected_seq)
{
	struct evg_pkt p;

	fx_init(64, 32, 16);
	data(S1, 0, 2);
	p = data(S1, 5, 1);
	expect(&p, EVG_SEQ_GAP, 2, 0, 0);
	cr_assert_eq(C(gap), 1);
	p = data(S1, 2, 1);
	expect(&p, EVG_SEQ_ACCEPT, 3, 0, 1);
	fx_fini();
}

Test(seq_stage, lower_session_is_fenced)
{
	struct evg_pkt p;

	fx_init(64, 32, 16);
	data(S2, 0, 1);
	p = data(S1, 1, 1);
	expect(&p, EVG_SEQ_FENCED, 0, 0, 0);
	cr_assert_eq(C(fenced), 1);
	cr_assert_eq(C(events_accepted), 1);
	fx_fini();
}

Test(seq_stage, higher_session_restarts_at_seq_0)
{
	struct evg_pkt p;

	fx_init(64, 32, 16);
	data(S1, 0, 5);
	p = data(S2, 3, 1);
	expect(&p, EVG_SEQ_GAP, 0, 0, 0); /* new session: from 0 */
	p = data(S2, 0, 2);
	expect(&p, EVG_SEQ_ACCEPT, 2, 0, 2);
	p = data(S1, 5, 1);
	expect(&p, EVG_SEQ_FENCED, 0, 0, 0);
	fx_fini();
}

Test(seq_stage, seq_past_2_64_is_overflow)
{
	const struct evg_seq_state st = {.session = S1,
					 .next_seq = UINT64_MAX - 1};
	struct evg_pkt p;

	fx_init(64, 32, 16);
	cr_assert_eq(evg_seq_table_set(fx.table, 7, 42, &st), 0);
	p = data(S1, UINT64_MAX - 1, 2);
	cr_assert_eq(p.action, EVG_SEQ_OVERFLOW);
	cr_assert_eq(C(overflow), 1);
	cr_assert_eq(C(events_accepted), 0);
	fx_fini();
}

Test(seq_stage, ping_answers_next_seq_zero_when_unknown_and_fences_old_sessions)
{
	struct evg_seq_state st;
	struct evg_pkt p;

	fx_init(64, 32, 16);
	p = through(EVG_EVF_PING, 9, 1, S1, 0, 0);
	expect(&p, EVG_SEQ_ACCEPT, 0, 0, 0);
	cr_assert_eq(evg_seq_table_get(fx.table, 9, 1, &st), -ENOENT,
		     "a PING adds no key");
	data(S2, 0, 4);
	p = through(EVG_EVF_PING, 7, 42, S2, 0, 0);
	expect(&p, EVG_SEQ_ACCEPT, 4, 0, 0);
	p = through(EVG_EVF_PING, 7, 42, S2 + 1, 0, 0);
	expect(&p, EVG_SEQ_ACCEPT, 0, 0, 0); /* higher session: unknown */
	p = through(EVG_EVF_PING, 7, 42, S1, 0, 0);
	expect(&p, EVG_SEQ_FENCED, 0, 0, 0);
	cr_assert_eq(C(ping), 4);
	cr_assert_eq(C(data), 1);
	cr_assert_eq(C(fenced), 1);
	cr_assert_eq(C(accept), 1, "PINGs accept no events");
	cr_assert_eq(evg_seq_table_get(fx.table, 7, 42, &st), 0);
	cr_assert_eq(st.session, S2, "a PING never changes state");
	fx_fini();
}

Test(seq_stage, full_table_marks_new_key_busy_and_counts_it)
{
	struct evg_pkt p;

	fx_init(64, 32, 1);
	data(S1, 0, 1);
	p = through(EVG_EVF_DATA, 8, 42, S1, 0, 1);
	cr_assert_eq(p.action, EVG_PKT_BUSY, "action %u", p.action);
	cr_assert_eq(p.skip, 0);
	cr_assert_eq(p.accept, 0);
	cr_assert_eq(C(table_full), 1);
	p = data(S1, 1, 1);
	expect(&p, EVG_SEQ_ACCEPT, 2, 0, 1); /* the known key goes on */
	cr_assert_eq(C(out), 3, "a BUSY frame is passed on too");
	fx_fini();
}

Test(seq_stage, failing_log_refuses_data_and_ping_without_moving_the_state)
{
	volatile bool failing = false;
	struct evg_seqst_conf conf;
	struct evg_pkt p;

	fx_init(64, 32, 16);
	conf = fx.ctx.conf;
	conf.storage_failing = &failing;
	cr_assert_eq(evg_seqst_init(&fx.ctx, &conf), 0);
	p = data(S1, 0, 4);
	expect(&p, EVG_SEQ_ACCEPT, 4, 0, 4);
	failing = true;
	p = data(S1, 4, 2);
	expect(&p, EVG_PKT_STORAGE, 0, 0, 0);
	/* A PING's ACK would queue behind frames the log has not taken. */
	p = through(EVG_EVF_PING, 7, 42, S1, 0, 0);
	expect(&p, EVG_PKT_STORAGE, 0, 0, 0);
	cr_assert_eq(C(storage), 2, "one DATA frame and one PING refused");
	cr_assert_eq(C(ping), 1);
	failing = false;
	p = through(EVG_EVF_PING, 7, 42, S1, 0, 0);
	expect(&p, EVG_SEQ_ACCEPT, 4, 0, 0);
	p = data(S1, 4, 2);
	expect(&p, EVG_SEQ_ACCEPT, 6, 0, 2);
	fx_fini();
}

Test(seq_stage, burst_keeps_input_order)
{
	struct rte_mbuf *sent[24], *got[32];
	unsigned int n;

	fx_init(64, 32, 16);
	/* Two keys interleaved; a reordering turns later frames into GAPs. */
	for (unsigned int i = 0; i < 24; i++) {
		sent[i] = mk(EVG_EVF_DATA, 1 + i % 2, 5, S1, i / 2, 1);
		feed(0, sent[i]);
	}
	cr_assert_eq(poll(), 24);
	n = evg_edge_pull(&fx.e.out, got, RTE_DIM(got));
	cr_assert_eq(n, 24);
	for (unsigned int i = 0; i < n; i++) {
		cr_assert_eq(got[i], sent[i], "frame %u out of order", i);
		expect(evg_pkt(got[i]), EVG_SEQ_ACCEPT, i / 2 + 1, 0, 1);
	}
	rte_pktmbuf_free_bulk(got, n);
	fx_fini();
}

/* Overfilling the BACKPRESSURE edge would spin forever: time out instead. */
Test(seq_stage, pull_is_bounded_by_room_on_out_edge, .timeout = 30)
{
	struct rte_mbuf *fill[5], *sent[6], *got[8];

	fx_init(8, 32, 16);
	cr_assert_eq(rte_pktmbuf_alloc_bulk(sf_pool(), fill, 5), 0);
	cr_assert_eq(evg_edge_push(&fx.e.out, fill, 5), 5);
	for (unsigned int i = 0; i < 6; i++) {
		sent[i] = mk(EVG_EVF_DATA, 7, 42, S1, i, 1);
		feed(0, sent[i]);
	}
	cr_assert_eq(poll(), 3, "3 free slots on out: 3 frames");
	cr_assert_eq(evg_edge_count(&fx.e.out), 8);
	cr_assert_eq(evg_edge_count(&fx.e.in[0]), 3,
		     "the rest wait in the input");
	cr_assert_eq(fx.e.out.stats.full, 0, "the push never found out full");
	cr_assert_eq(poll(), 0, "no room: nothing taken");
	cr_assert_eq(evg_edge_count(&fx.e.in[0]), 3);
	cr_assert_eq(C(in), 3);

	cr_assert_eq(evg_edge_pull(&fx.e.out, got, 8), 8);
	for (unsigned int i = 0; i < 3; i++)
		cr_assert_eq(got[5 + i], sent[i]);
	rte_pktmbuf_free_bulk(got, 8);
	cr_assert_eq(poll(), 3, "room again: the rest go");
	cr_assert_eq(C(accept), 6);
	fx_fini();
}

Test(seq_stage, inputs_are_taken_round_robin)
{
	struct rte_mbuf *a[4], *b[4], *got[2];
	struct rte_mbuf **want[4][2] = {
		{&a[0], &a[1]},
		{&b[0], &b[1]},
		{&a[2], &a[3]},
		{&b[2], &b[3]},
	};

	fx_init(64, 2, 16);
	for (unsigned int i = 0; i < 4; i++) {
		a[i] = mk(EVG_EVF_DATA, 1, 1, S1, i, 1);
		b[i] = mk(EVG_EVF_DATA, 2, 1, S1, i, 1);
		feed(0, a[i]);
		feed(1, b[i]);
	}
	for (unsigned int p = 0; p < 4; p++) {
		cr_assert_eq(poll(), 2, "poll %u takes a burst", p);
		cr_assert_eq(evg_edge_pull(&fx.e.out, got, 2), 2);
		cr_assert_eq(got[0], *want[p][0], "poll %u: wrong input", p);
		cr_assert_eq(got[1], *want[p][1], "poll %u: wrong input", p);
		rte_pktmbuf_free_bulk(got, 2);
	}
	cr_assert_eq(poll(), 0);
	fx_fini();
}

Test(seq_stage, poll_fills_its_burst_from_the_next_input)
{
	struct rte_mbuf *got[8];

	fx_init(64, 8, 16);
	for (unsigned int i = 0; i < 2; i++)
		feed(0, mk(EVG_EVF_DATA, 1, 1, S1, i, 1));
	for (unsigned int i = 0; i < 4; i++)
		feed(1, mk(EVG_EVF_DATA, 2, 1, S1, i, 1));
	cr_assert_eq(poll(), 6, "input 0 had 2: 4 more from input 1");
	cr_assert_eq(evg_edge_pull(&fx.e.out, got, 8), 6);
	rte_pktmbuf_free_bulk(got, 6);
	fx_fini();
}

Test(seq_stage, init_rejects_bad_conf)
{
	struct evg_seqst_conf ok = {.nb_in = 1, .burst = 32}, c;
	struct evg_seqst_ctx ctx;

	fx_init(64, 32, 16);
	ok.table = fx.table;
	ok.in[0] = &fx.e.in[0];
	ok.out = &fx.e.out;
	cr_assert_eq(evg_seqst_init(&ctx, &ok), 0);
	cr_assert_eq(evg_seqst_init(NULL, &ok), -EINVAL);
	cr_assert_eq(evg_seqst_init(&ctx, NULL), -EINVAL);
	SF_EXPECT_EINVAL(evg_seqst_init, &ctx, ok, table, NULL);
	SF_EXPECT_EINVAL(evg_seqst_init, &ctx, ok, out, NULL);
	SF_EXPECT_EINVAL_INPUTS_AND_BURST(evg_seqst_init, &ctx, ok);
	c = ok;
	c.burst = EVG_BURST_MAX;
	cr_assert_eq(evg_seqst_init(&ctx, &c), 0, "the largest burst");
	fx_fini();
}

Test(seq_stage, counters_are_exported_by_name)
{
	static const char *const names[] = {
		"in",
		"out",
		"data",
		"ping",
		"accept",
		"duplicate",
		"gap",
		"fenced",
		"overflow",
		"table_full",
		"storage",
		"events_accepted",
		"events_duplicate",
	};
	const struct evg_stage_ops *ops = &evg_seqst_ops;
	uint64_t v[RTE_DIM(names)];

	sf_expect_counter_names(ops, "seq", names, RTE_DIM(names));
	cr_assert_null(ops->drain, "seq keeps nothing across polls");
	fx_init(64, 32, 16);
	data(S1, 0, 3);
	data(S1, 0, 3);
	ops->read_counters(&fx.node, v);
	cr_assert_eq(memcmp(v, fx.ctx.stats.c, sizeof(v)), 0);
	cr_assert_eq(v[EVG_SEQST_in], 2);
	cr_assert_eq(v[EVG_SEQST_events_duplicate], 3);
	fx_fini();
}
