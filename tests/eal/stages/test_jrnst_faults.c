/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The journal stage when the log cannot keep up (jrnst_fixture.h): a
 * failing log (evg_store_mem_fail: ENOSPC, EIO) keeps the refused frame
 * and those behind it, raises storage_failing for the sequencers (which
 * then answer new DATA with NAK STORAGE) and resumes when the storage
 * does, with nothing accepted lost or written twice; appends that find
 * every buffer in flight wait; a full FIFO stops the pulls; and at
 * shutdown drain gives up on a log that never becomes durable.
 */
#include <errno.h>
#include <inttypes.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "jrnst_fixture.h"

TestSuite(jrnst, .init = sf_setup, .fini = sf_teardown);

/* A full FIFO stops the pulls; the frames wait on the input edge (and
 * back-pressure reaches the sequencers) until the log catches up. */
TestSuite(jrnst_fifo, .init = jf_big_pool_setup, .fini = sf_teardown);

Test(jrnst_fifo, full_fifo_stops_pulling_until_frames_are_released,
     .timeout = 60)
{
	const unsigned int total = EVG_JRNST_FIFO + 100;
	static const struct level lv = {JF_MEM, EVG_JOURNAL_WRITTEN, 0};
	unsigned int polls = 0;

	jf_start(&lv, 1, 8192, 8192, EVG_BURST_MAX, false);
	jf_send(jf_accepted(0, 1));
	cr_assert_eq(jf_poll(), 1);
	/* Its write fails: the PINGs behind it wait for a ticket that does
	 * not become durable. */
	cr_assert_eq(evg_store_mem_fail(jf_mem_store(), -EIO), 0);
	while (jf()->nb_sent < total && polls++ < 1000) {
		while (jf()->nb_sent < total &&
		       evg_edge_room(&jf()->e.in[0]) > 0)
			jf_send(jf_ping(STREAM));
		jf_poll();
	}
	for (unsigned int i = 0; i < 10; i++)
		jf_poll();
	cr_assert_eq(jf()->nb_sent, total);
	cr_assert_eq(evg_jrnst_held(&jf()->ctx), EVG_JRNST_FIFO,
		     "FIFO not full");
	cr_assert_eq(JC(in), EVG_JRNST_FIFO);
	cr_assert_eq(JC(out), 0);
	cr_assert_eq(evg_edge_count(&jf()->e.in[0]), total - EVG_JRNST_FIFO,
		     "the rest wait on the input");
	cr_assert(jf()->failing,
		  "a failed write raises the flag, with nothing refused");
	cr_assert_eq(JC(storage_errors), 0, "PINGs append nothing");
	cr_assert_eq(evg_store_mem_fail(jf_mem_store(), 0), 0);
	jf_poll_until_out(total);
	jf_expect_out_in_order(total);
	cr_assert_eq(JC(waited), total);
	jf_expect_log(1);
	jf_fini();
}

/* ---- a failing log ---------------------------------------------------- */

/*
 * Found by the chaos suite's EIO case: producers whose window is full
 * only retransmit, and a DUPLICATE appends nothing, so a flag raised only
 * by a refused append was never raised, and they timed out for as long as
 * the disk failed instead of getting NAK STORAGE. A's write fails with no
 * other frame: the flag goes up from the journal's own state, and comes
 * down once the write is retried and made, with no frame pending.
 */
Test(jrnst, failed_write_raises_storage_failing_with_nothing_to_append)
{
	jf_init();
	cr_assert_eq(evg_store_mem_fail(jf_mem_store(), -EIO), 0);
	jf_send(jf_accepted(0, 2)); /* A: appended, its write fails */
	for (unsigned int i = 0; i < 3; i++)
		cr_assert_eq(jf_poll(), i == 0, "A taken, nothing released");
	cr_assert_geq(jf_journal_stat(EVG_JOURNAL_write_errors), 1);
	cr_assert(jf()->failing, "storage_failing not raised");
	cr_assert_eq(JC(storage_errors), 0, "no append was refused");
	cr_assert_eq(jf()->ctx.nb_pending, 0);
	cr_assert_eq(evg_store_mem_fail(jf_mem_store(), 0), 0);
	jf_poll_until_out(1);
	jf_expect_out_in_order(1);
	cr_assert_not(jf()->failing, "still raised once the write was made");
	jf_expect_log(2);
	jf_fini();
}

ParameterizedTestParameters(jrnst, failing_log_holds_frames_until_it_recovers)
{
	static int errs[] = {-ENOSPC, -EIO};

	return cr_make_param_array(int, errs, RTE_DIM(errs));
}

/*
 * B's write fails; C's append is then refused: C and D behind it stay
 * pending in order, storage_failing is raised for the sequencers, and
 * each poll retries once. The NAK G claims nothing and goes on at once,
 * and the stage keeps pulling (E) while the log fails, so that the NAK
 * STORAGE the sequencers now answer do not queue behind C. When the
 * storage recovers, B's batch is written again and B, C, D, E leave in
 * order; the log holds every event once.
 */
ParameterizedTest(int *err, jrnst, failing_log_holds_frames_until_it_recovers)
{
	jf_init();
	jf_send(jf_accepted(0, 3)); /* A */
	jf_poll_until_out(1);
	jf_expect_out_in_order(1);
	cr_assert_eq(evg_store_mem_fail(jf_mem_store(), *err), 0);
	jf_send(jf_accepted(3, 2)); /* B: appended, its write will fail */
	cr_assert_eq(jf_poll(), 1);
	cr_assert_eq(jf_poll(), 0, "B's write failed: nothing to release");
	cr_assert_eq(jf_journal_stat(EVG_JOURNAL_write_errors), 1);
	cr_assert(jf()->failing,
		  "the log reports failing: raised before any refusal");
	cr_assert_eq(JC(storage_errors), 0);
	jf_send(jf_accepted(5, 1));			      /* C */
	jf_send(jf_data_frame(STREAM, 9, 1, 0, EVG_SEQ_GAP)); /* G */
	jf_send(jf_accepted(6, 1));			      /* D */
	cr_assert_eq(jf_poll(), 1, "only the NAK G goes on");
	cr_assert(jf()->failing, "storage_failing not raised");
	cr_assert_eq(JC(storage_errors), 1);
	cr_assert_eq(jf()->ctx.nb_pending, 2, "C, D pending");
	cr_assert_eq(evg_jrnst_held(&jf()->ctx), 3);
	cr_assert_eq(JC(out), 2, "A and the NAK G");
	/* Sent A, B, C, G, D; out shows A, then G ahead of B, C, D. */
	{
		struct rte_mbuf *g = jf()->sent[3];

		jf()->sent[3] = jf()->sent[2];
		jf()->sent[2] = jf()->sent[1];
		jf()->sent[1] = g;
	}
	jf_expect_out_in_order(1);
	jf_send(jf_accepted(7, 1)); /* E */
	for (unsigned int i = 0; i < 5; i++)
		cr_assert_eq(jf_poll(), 0);
	cr_assert_eq(JC(storage_errors), 6, "one refusal a poll");
	cr_assert_eq(JC(in), 6, "the stage pulls while the log fails");
	cr_assert_eq(evg_edge_count(&jf()->e.in[0]), 0);
	cr_assert_eq(jf()->ctx.nb_pending, 3, "C, D, E pending, in order");
	cr_assert_eq(JC(out), 2, "nothing that waits for the log released");
	cr_assert_eq(evg_store_mem_fail(jf_mem_store(), 0), 0);
	jf_poll_until_out(6);
	cr_assert_not(jf()->failing, "storage_failing still raised");
	jf_expect_out_in_order(4); /* B, C, D, E */
	cr_assert_eq(JC(storage_errors), jf()->refusals);
	cr_assert_eq(JC(no_buffer), 0);
	cr_assert_eq(JC(events), 8);
	cr_assert_eq(JC(waited), 5);
	jf_expect_log(8);
	jf_fini();
}

/* Four batches in flight and a fifth wanted: the append waits for a
 * buffer (no_buffer), the frame and those behind it stay pending, and
 * nothing is lost or written twice. */
Test(jrnst, appends_wait_for_a_free_buffer_and_lose_nothing)
{
	static const struct level lv = {JF_MEM, EVG_JOURNAL_WRITTEN, 0};
	unsigned int n;

	jf_start(&lv, 1, 4096, 256, 64, false);
	for (uint64_t seq = 0; seq < 320; seq += 8)
		jf_send(jf_accepted(seq, 8));
	n = jf_poll();
	cr_assert_eq(JC(in), 40, "one poll pulls the 40 frames");
	cr_assert(n > 0 && jf()->ctx.nb_pending == 40 - n,
		  "%u taken, %u pending: 4 batches took them all", n,
		  jf()->ctx.nb_pending);
	cr_assert_eq(JC(no_buffer), 1);
	cr_assert_not(jf()->failing, "a busy log is not a failing one");
	jf_poll_until_out(40);
	jf_expect_out_in_order(40);
	cr_assert_eq(JC(no_buffer), jf()->refusals);
	cr_assert_eq(JC(storage_errors), 0);
	cr_assert_eq(JC(events), 320);
	jf_expect_log(320);
	jf_fini();
}

/* ---- shutdown --------------------------------------------------------- */

Test(jrnst, drain_releases_what_becomes_durable_then_reports_done)
{
	unsigned int calls = 0;

	jf_init();
	jf_send(jf_accepted(0, 2));
	jf_send(jf_ping(STREAM));
	cr_assert_eq(jf_poll(), 2);
	while (jf()->node.ops->drain(&jf()->node) != 0)
		cr_assert_lt(calls++, 100, "drain never done");
	jf_expect_out_in_order(2);
	cr_assert_eq(JC(abandoned), 0);
	jf_expect_log(2);
	jf_fini();
}

/* A log that never becomes durable: after drain_polls calls the frames
 * still held are freed unanswered (their producers retransmit). */
Test(jrnst, drain_gives_up_after_drain_polls_and_counts_frames_abandoned)
{
	struct evg_jrnst_conf conf;
	unsigned int calls = 0;

	jf_init();
	conf = jf()->ctx.conf;
	evg_jrnst_fini(&jf()->ctx);
	conf.drain_polls = 5;
	cr_assert_eq(evg_jrnst_init(&jf()->ctx, &conf), 0);
	cr_assert_eq(evg_store_mem_fail(jf_mem_store(), -EIO), 0);
	jf_send(jf_accepted(0, 1));
	cr_assert_eq(jf_poll(), 1);
	cr_assert_eq(jf_poll(), 0, "its write failed");
	jf_send(jf_accepted(1, 1)); /* refused: stays pending */
	jf_send(jf_ping(STREAM));
	while (jf()->node.ops->drain(&jf()->node) != 0)
		cr_assert_lt(calls++, 100, "drain never gave up");
	cr_assert_eq(calls, 4, "gave up on the 5th call");
	cr_assert_eq(JC(abandoned), 3);
	cr_assert_eq(evg_jrnst_held(&jf()->ctx), 0);
	cr_assert_eq(JC(out), 0);
	sf_expect_in_use(0);
	cr_assert_eq(evg_store_mem_fail(jf_mem_store(), 0), 0);
	jf_fini();
}

Test(jrnst, fini_frees_the_frames_still_held)
{
	jf_init();
	jf_send(jf_accepted(0, 1));
	cr_assert_eq(evg_store_mem_fail(jf_mem_store(), -ENOSPC), 0);
	cr_assert_eq(jf_poll(), 1);
	cr_assert_eq(jf_poll(), 0);
	jf_send(jf_accepted(1, 1));
	cr_assert_eq(jf_poll(), 0, "refused: pending");
	cr_assert_eq(evg_jrnst_held(&jf()->ctx), 2);
	evg_jrnst_fini(&jf()->ctx);
	cr_assert_eq(evg_jrnst_held(&jf()->ctx), 0);
	sf_expect_in_use(0);
	cr_assert_eq(evg_store_mem_fail(jf_mem_store(), 0), 0);
	jf_fini();
}
