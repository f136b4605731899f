/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The journal stage (lib/stages/journal_stage.c) alone, on a healthy log
 * (jrnst_fixture.h): every frame that will be ACKed leaves, in the order
 * it came, only once the events it acknowledges are durable at the level
 * (received: at once; written; synced); NAK frames claim nothing and go
 * on at once; the stage never overfills its output. test_jrnst_faults.c
 * has a failing or busy log, a full FIFO and shutdown.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "jrnst_fixture.h"

TestSuite(jrnst, .init = sf_setup, .fini = sf_teardown);

/* ---- durability levels ------------------------------------------------ */

ParameterizedTestParameters(jrnst, frames_go_on_in_order_only_once_durable)
{
	static struct level levels[] = {
		{JF_MEM, EVG_JOURNAL_WRITTEN, EVG_JOURNAL_SYNC_FDATASYNC},
		{JF_MEM, EVG_JOURNAL_SYNCED, EVG_JOURNAL_SYNC_FDATASYNC},
		{JF_MEM, EVG_JOURNAL_SYNCED, EVG_JOURNAL_SYNC_DSYNC},
		{JF_PSYNC, EVG_JOURNAL_WRITTEN, EVG_JOURNAL_SYNC_FDATASYNC},
		{JF_PSYNC, EVG_JOURNAL_SYNCED, EVG_JOURNAL_SYNC_FDATASYNC},
	};

	return cr_make_param_array(struct level, levels, RTE_DIM(levels));
}

/* Five frames, appended in one poll, wait while their batch is not
 * durable (on mem, its first write fails); they leave together, in
 * order, on the poll that finds it durable at the level: after its
 * fdatasync at level synced, without one at level written. */
ParameterizedTest(struct level *lv, jrnst,
		  frames_go_on_in_order_only_once_durable)
{
	const bool fdatasync = lv->level == EVG_JOURNAL_SYNCED &&
			       lv->sync_mode == EVG_JOURNAL_SYNC_FDATASYNC;
	unsigned int polls = 0;
	uint64_t seq = 0;

	jf_start(lv, 1, 8192, 256, 32, false);
	for (uint16_t i = 0; i < 5; i++) {
		jf_send(jf_accepted(seq, i % 3 + 1));
		seq += i % 3 + 1;
	}
	if (lv->store == JF_MEM)
		cr_assert_eq(evg_store_mem_fail(jf_mem_store(), -EIO), 0);
	cr_assert_eq(jf_poll(), 5, "all five taken");
	cr_assert_eq(JC(events), seq);
	cr_assert_eq(evg_jrnst_held(&jf()->ctx), 5);
	cr_assert_eq(jf()->ctx.last_ticket[0], 1, "one batch");
	for (; lv->store == JF_MEM && polls < 5; polls++)
		cr_assert_eq(jf_poll(), 0, "released a frame not durable");
	cr_assert_eq(JC(out), 0);
	if (lv->store == JF_MEM)
		cr_assert_eq(evg_store_mem_fail(jf_mem_store(), 0), 0);
	while (JC(out) == 0) {
		cr_assert_lt(jf()->ctx.durable[0], 1, "durable, not released");
		cr_assert_lt(polls++, 100000, "never released");
		jf_poll();
	}
	cr_assert_eq(jf()->ctx.durable[0], 1, "released before durable");
	cr_assert_eq(jf_journal_stat(EVG_JOURNAL_syncs) > 0, fdatasync,
		     "%" PRIu64 " fdatasyncs",
		     jf_journal_stat(EVG_JOURNAL_syncs));
	cr_assert_eq(JC(out), 5, "all at once");
	jf_expect_out_in_order(5);
	cr_assert_eq(evg_jrnst_held(&jf()->ctx), 0);
	cr_assert_eq(JC(in), 5);
	cr_assert_eq(JC(waited), 5);
	cr_assert_eq(JC(flushes), 1);
	cr_assert_eq(JC(no_buffer) + JC(storage_errors) + JC(abandoned), 0);
	cr_assert_not(jf()->failing, "no append was refused");
	jf_expect_log(seq);
	jf_fini();
}

/* At ACK level received a frame goes on without waiting: here the log
 * cannot write at all, yet the frames leave; the events still reach the
 * log once it can. */
Test(jrnst, at_level_received_frames_go_on_before_the_log_is_durable)
{
	static const struct level lv = {JF_MEM, EVG_JOURNAL_WRITTEN, 0};

	jf_start(&lv, 1, 8192, 256, 32, true);
	cr_assert_eq(evg_store_mem_fail(jf_mem_store(), -EIO), 0);
	jf_send(jf_accepted(0, 2));
	jf_send(jf_accepted(2, 3));
	cr_assert_eq(jf_poll(), 2);
	cr_assert_eq(jf_poll(), 2, "released on the next poll");
	cr_assert_eq(jf()->ctx.durable[0], 0, "the write failed");
	cr_assert_geq(jf_journal_stat(EVG_JOURNAL_write_errors), 1);
	jf_expect_out_in_order(2);
	cr_assert_eq(JC(waited), 0, "nothing waited for the log");
	cr_assert_eq(JC(events), 5);
	cr_assert_eq(evg_store_mem_fail(jf_mem_store(), 0), 0);
	jf_send(jf_accepted(5, 1));
	jf_poll_until_out(3);
	jf_expect_out_in_order(1);
	jf_expect_log(6);
	cr_assert_eq(jf()->refusals, JC(storage_errors));
	jf_fini();
}

/* ---- what waits, and for what ----------------------------------------- */

Test(jrnst, nak_frames_go_on_at_once_and_append_nothing)
{
	static const uint8_t naks[] = {EVG_SEQ_GAP, EVG_SEQ_FENCED,
				       EVG_SEQ_OVERFLOW, EVG_PKT_BUSY,
				       EVG_PKT_STORAGE};

	jf_init();
	for (unsigned int i = 0; i < RTE_DIM(naks); i++)
		jf_send(jf_data_frame(STREAM, 10 + i, 2, 0, naks[i]));
	cr_assert_eq(jf_poll(), RTE_DIM(naks));
	cr_assert_eq(JC(out), RTE_DIM(naks), "passed on in the same poll");
	jf_expect_out_in_order(RTE_DIM(naks));
	cr_assert_eq(JC(events), 0);
	cr_assert_eq(JC(waited), 0);
	cr_assert_eq(jf()->ctx.last_ticket[0], 0, "nothing appended");
	cr_assert_eq(jf_journal_stat(EVG_JOURNAL_records), 0);
	jf_expect_log(0);
	jf_fini();
}

/* A NAK claims nothing, so it need not wait behind ACKs still held. */
Test(jrnst, nak_frame_overtakes_frames_waiting_for_the_log)
{
	struct rte_mbuf *acc, *gap, *got[2];

	jf_init();
	acc = jf_accepted(0, 1);
	gap = jf_data_frame(STREAM, 5, 1, 0, EVG_SEQ_GAP);
	jf_send(acc);
	jf_send(gap);
	cr_assert_eq(jf_poll(), 2);
	cr_assert_eq(evg_edge_pull(&jf()->e.out, got, 2), 1);
	cr_assert_eq(got[0], gap, "the NAK first");
	jf_poll_until_out(2);
	cr_assert_eq(evg_edge_pull(&jf()->e.out, got + 1, 1), 1);
	cr_assert_eq(got[1], acc);
	rte_pktmbuf_free_bulk(got, 2);
	jf_expect_log(1);
	jf_fini();
}

/* A duplicate or a PING acknowledges events appended before it: it waits
 * for them (their ticket), and leaves behind them. */
Test(jrnst, duplicate_and_ping_wait_for_the_events_appended_before_them)
{
	jf_init();
	jf_send(jf_accepted(0, 3));
	jf_send(jf_data_frame(STREAM, 0, 3, 0, EVG_SEQ_DUPLICATE));
	jf_send(jf_ping(STREAM));
	cr_assert_eq(jf_poll(), 3);
	cr_assert_eq(evg_jrnst_held(&jf()->ctx), 3, "all three wait");
	cr_assert_eq(JC(events), 3, "the duplicate appends nothing");
	for (unsigned int i = 0; i < 3; i++)
		cr_assert_eq(jf()->ctx.fifo[i].ticket, 1, "entry %u", i);
	jf_poll_until_out(3);
	jf_expect_out_in_order(3);
	cr_assert_eq(JC(waited), 3);
	jf_expect_log(3);
	jf_fini();
}

Test(jrnst, ping_with_nothing_in_flight_waits_for_no_ticket)
{
	jf_init();
	jf_send(jf_ping(STREAM));
	cr_assert_eq(jf_poll(), 1);
	cr_assert_eq(jf()->ctx.fifo[0].ticket, 0);
	cr_assert_eq(jf_poll(), 1, "released by the next poll");
	jf_expect_out_in_order(1);
	cr_assert_eq(JC(waited), 0, "ticket 0: it never waited");
	jf_fini();
}

/* The FIFO is released strictly in order: a PING of an idle partition
 * waits behind an ACK of a busy one. */
Test(jrnst, fifo_keeps_order_across_partitions)
{
	static const struct level lv = {JF_MEM, EVG_JOURNAL_WRITTEN, 0};

	jf_start(&lv, 2, 8192, 256, 32, false);
	jf_send(jf_accepted(0, 2));
	jf_send(jf_ping(STREAM_P1));
	cr_assert_eq(jf_poll(), 2);
	cr_assert_eq(jf()->ctx.fifo[1].partition, 1);
	cr_assert_eq(jf()->ctx.fifo[1].ticket, 0);
	cr_assert_eq(JC(out), 0, "the PING did not overtake");
	jf_poll_until_out(2);
	jf_expect_out_in_order(2);
	cr_assert_eq(JC(waited), 1);
	jf_expect_log(2);
	jf_fini();
}

Test(jrnst, partial_duplicate_appends_only_the_events_after_the_skipped_ones)
{
	jf_init();
	jf_send(jf_accepted(0, 3));
	jf_send(jf_data_frame(STREAM, 1, 4, 2, EVG_SEQ_ACCEPT)); /* 1, 2 seen */
	jf_poll_until_out(2);
	jf_expect_out_in_order(2);
	cr_assert_eq(JC(events), 5);
	jf_expect_log(5); /* seq 3, 4: the second frame's events 2, 3 */
	jf_fini();
}

Test(jrnst, frames_from_two_inputs_are_all_appended_once)
{
	jf_init();
	jf_send_on(0, jf_accepted(0, 1));
	jf_send_on(1, jf_accepted(1, 1));
	jf_poll_until_out(2);
	jf_expect_out_in_order(2);
	jf_expect_log(2);
	cr_assert_eq(JC(in), 2);
	jf_fini();
}

/* ---- back-pressure ---------------------------------------------------- */

/* The stage never overfills its BACKPRESSURE output (which would spin):
 * frames that wait for an ACK go into the FIFO whatever the room on out,
 * and are released only as room appears, in order. */
Test(jrnst, release_is_bounded_by_room_on_out, .timeout = 30)
{
	static const struct level lv = {JF_MEM, EVG_JOURNAL_WRITTEN, 0};
	struct rte_mbuf *fill[5];

	jf_start(&lv, 1, 8192, 8, 32, false);
	cr_assert_eq(rte_pktmbuf_alloc_bulk(sf_pool(), fill, 5), 0);
	cr_assert_eq(evg_edge_push(&jf()->e.out, fill, 5), 5);
	for (uint64_t seq = 0; seq < 6; seq++)
		jf_send(jf_accepted(seq, 1));
	for (unsigned int i = 0; i < 1000 && JC(out) < 3; i++)
		jf_poll();
	cr_assert_eq(JC(in), 6, "every frame taken into the FIFO");
	cr_assert_eq(JC(out), 3, "released into the 3 free slots");
	cr_assert_eq(evg_edge_count(&jf()->e.out), 8);
	cr_assert_eq(jf_poll(), 0, "no room: nothing released");
	cr_assert_eq(evg_jrnst_held(&jf()->ctx), 3);
	cr_assert_eq(jf()->e.out.stats.full, 0, "a push found out full");
	cr_assert_eq(evg_edge_pull(&jf()->e.out, fill, 5), 5);
	rte_pktmbuf_free_bulk(fill, 5);
	jf_poll_until_out(6);
	jf_expect_out_in_order(6);
	cr_assert_eq(jf()->e.out.stats.full, 0);
	jf_expect_log(6);
	jf_fini();
}

/* ---- configuration and counters --------------------------------------- */

Test(jrnst, init_rejects_bad_conf)
{
	struct evg_jrnst_conf ok;
	static struct evg_jrnst_ctx ctx; /* 130 KiB: not on the stack */

	jf_init();
	ok = jf()->ctx.conf;
	ok.nb_in = 1;
	ok.in[1] = NULL;
	ok.drain_polls = 0;
	cr_assert_eq(evg_jrnst_init(&ctx, &ok), 0);
	cr_assert_gt(ctx.conf.drain_polls, 0, "drain_polls 0 picks a default");
	evg_jrnst_fini(&ctx);
	cr_assert_eq(evg_jrnst_init(NULL, &ok), -EINVAL);
	cr_assert_eq(evg_jrnst_init(&ctx, NULL), -EINVAL);
	SF_EXPECT_EINVAL(evg_jrnst_init, &ctx, ok, journal, NULL);
	SF_EXPECT_EINVAL(evg_jrnst_init, &ctx, ok, out, NULL);
	SF_EXPECT_EINVAL(evg_jrnst_init, &ctx, ok, storage_failing, NULL);
	SF_EXPECT_EINVAL(evg_jrnst_init, &ctx, ok, partitions, 0);
	SF_EXPECT_EINVAL(evg_jrnst_init, &ctx, ok, partitions,
			 EVG_JRNST_MAX_PARTITIONS + 1);
	SF_EXPECT_EINVAL_INPUTS_AND_BURST(evg_jrnst_init, &ctx, ok);
	jf_fini();
}

Test(jrnst, counters_are_exported_by_name)
{
	static const char *const names[] = {
		"in",	   "out",	"waited",	  "events",
		"flushes", "no_buffer", "storage_errors", "abandoned",
	};
	const struct evg_stage_ops *ops = &evg_jrnst_ops;
	uint64_t v[RTE_DIM(names)];

	sf_expect_counter_names(ops, "journal", names, RTE_DIM(names));
	cr_assert_not_null(ops->drain);
	jf_init();
	jf_send(jf_accepted(0, 4));
	jf_poll_until_out(1);
	jf_expect_out_in_order(1);
	ops->read_counters(&jf()->node, v);
	cr_assert_eq(memcmp(v, jf()->ctx.stats.c, sizeof(v)), 0);
	cr_assert_eq(v[EVG_JRNST_in], 1);
	cr_assert_eq(v[EVG_JRNST_out], 1);
	cr_assert_eq(v[EVG_JRNST_events], 4);
	jf_fini();
}
