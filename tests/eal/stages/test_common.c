/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the stages share (lib/stages/common.c): evg_pkt_reply(), which
 * answers a received frame with an EVF control frame, and the per-source
 * NAK rate limit, evg_nak_limiter.
 *
 * The reply tests build frames byte by byte (frame_testutil), fill their
 * evg_pkt as rx does, and check every byte of the reply; each ends by
 * asserting that the pool is whole again. The limiter is plain arithmetic
 * over TSC values the test chooses, and needs no EAL.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>

#include <criterion/criterion.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "evg_stages.h"
#include "frame_testutil.h"
#include "stage_fixture.h"

#define PRODUCER 7u
#define STREAM 42u
#define OTHER_SRC 0x0a000063u /* 10.0.0.99 */
#define OTHER_PORT 40099u

/* ---- evg_pkt_reply --------------------------------------------------- */

TestSuite(pkt_reply, .init = sf_setup, .fini = sf_teardown);

/* A one-event DATA frame (PRODUCER, STREAM) from OTHER_SRC:OTHER_PORT,
 * tagged FT_TCI, classified and validated into its evg_pkt as rx does. */
static struct rte_mbuf *
received_data(uint64_t seq)
{
	return sf_received_data(OTHER_SRC, OTHER_PORT, PRODUCER, STREAM, seq,
				1, FT_TCI);
}

Test(pkt_reply, pkt_reply_answers_the_source_in_the_frame_or_a_fresh_mbuf)
{
	struct rte_mbuf *m = received_data(50);
	struct rte_mbuf *fresh = rte_pktmbuf_alloc(sf_pool());
	uint8_t want[EVG_EVF_HDR_LEN];

	cr_assert_not_null(fresh);
	cr_assert_eq(evg_pkt_reply(&sf_ifc, fresh, evg_pkt(m), EVG_EVF_NAK,
				   EVG_EVF_NAK_STORAGE, 49),
		     0);
	ft_evf_control(want, EVG_EVF_NAK, EVG_EVF_NAK_STORAGE, PRODUCER, STREAM,
		       FT_SESSION, 49);
	ft_check_udp_reply(fresh, FT_TCI, OTHER_SRC, OTHER_PORT, want,
			   sizeof(want));
	cr_assert_eq(evg_pkt_reply(&sf_ifc, m, evg_pkt(m), EVG_EVF_ACK, 0, 51), 0);
	ft_evf_control(want, EVG_EVF_ACK, 0, PRODUCER, STREAM, FT_SESSION, 51);
	ft_check_udp_reply(m, FT_TCI, OTHER_SRC, OTHER_PORT, want,
			   sizeof(want));
	rte_pktmbuf_free(fresh);
	rte_pktmbuf_free(m);
	sf_expect_in_use(0);
}

Test(pkt_reply, pkt_reply_that_does_not_fit_fails_with_enospc)
{
	struct rte_mbuf *m = received_data(1);
	struct rte_mbuf *tiny = rte_pktmbuf_alloc(sf_pool());

	cr_assert_not_null(tiny);
	tiny->data_off = (uint16_t)(tiny->buf_len - 64);
	cr_assert_eq(evg_pkt_reply(&sf_ifc, tiny, evg_pkt(m), EVG_EVF_NAK,
				   EVG_EVF_NAK_BUSY, 1),
		     -ENOSPC);
	cr_assert_eq(rte_pktmbuf_data_len(tiny), 0, "mbuf written on error");
	rte_pktmbuf_free(tiny);
	rte_pktmbuf_free(m);
	sf_expect_in_use(0);
}

/* ---- evg_nak_limiter ------------------------------------------------- */

TestSuite(nak_limiter);

Test(nak_limiter, allows_a_burst_then_one_nak_per_interval)
{
	const rte_be32_t ip = RTE_BE32(FT_PEER_IP);
	struct evg_nak_limiter l;
	const uint64_t t = 1000000;

	evg_nak_limiter_init(&l, 10, 3, 1000); /* one per 100 cycles */
	for (int i = 0; i < 3; i++)
		cr_assert(evg_nak_limiter_allow(&l, ip, t), "burst NAK %d", i);
	cr_assert_not(evg_nak_limiter_allow(&l, ip, t), "beyond the burst");
	cr_assert_not(evg_nak_limiter_allow(&l, ip, t + 99), "early");
	for (uint64_t k = 1; k <= 20; k++) {
		cr_assert(evg_nak_limiter_allow(&l, ip, t + 100 * k),
			  "interval %" PRIu64, k);
		cr_assert_not(evg_nak_limiter_allow(&l, ip, t + 100 * k),
			      "twice in interval %" PRIu64, k);
	}
	/* A quiet spell earns the whole burst back, no more. */
	for (int i = 0; i < 3; i++)
		cr_assert(evg_nak_limiter_allow(&l, ip, t + 100000));
	cr_assert_not(evg_nak_limiter_allow(&l, ip, t + 100000));
}

Test(nak_limiter, sources_on_different_slots_are_independent)
{
	/* 10.0.0.2 and 10.0.0.3 hash to different slots. */
	const rte_be32_t a = RTE_BE32(FT_PEER_IP), b = RTE_BE32(FT_OTHER_IP);
	struct evg_nak_limiter l;

	evg_nak_limiter_init(&l, 1, 2, 1000);
	cr_assert(evg_nak_limiter_allow(&l, a, 5000));
	cr_assert(evg_nak_limiter_allow(&l, a, 5000));
	cr_assert_not(evg_nak_limiter_allow(&l, a, 5000));
	cr_assert(evg_nak_limiter_allow(&l, b, 5000), "a's NAKs limited b");
	cr_assert(evg_nak_limiter_allow(&l, b, 5000));
	cr_assert_not(evg_nak_limiter_allow(&l, b, 5000));
}

Test(nak_limiter, zero_rate_and_burst_are_taken_as_one)
{
	const rte_be32_t ip = RTE_BE32(FT_PEER_IP);
	struct evg_nak_limiter l;

	evg_nak_limiter_init(&l, 0, 0, 1000);
	cr_assert(evg_nak_limiter_allow(&l, ip, 7000));
	cr_assert_not(evg_nak_limiter_allow(&l, ip, 7000));
	cr_assert_not(evg_nak_limiter_allow(&l, ip, 7999));
	cr_assert(evg_nak_limiter_allow(&l, ip, 8000));
}
