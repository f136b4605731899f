/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The rx stage, what it hands on: valid DATA and PING frames to the shard
 * that owns their key, in order, with their evg_pkt filled; the allow
 * list (NAK REJECTED), NAK BUSY for a full shard edge, the per-source NAK
 * limit; and how much rx takes from the port per poll. The fixture is
 * rx_fixture.h; test_rx_local.c has ARP, ICMP and the drops.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>

#include <criterion/criterion.h>
#include <rte_cycles.h>
#include <rte_ring.h>

#include "rx_fixture.h"

TestSuite(rx, .init = rxf_setup, .fini = rxf_teardown);

/* ---- to the sequencer ------------------------------------------------ */

Test(rx, valid_data_reaches_the_shard_seq_shard_names_with_pkt_filled)
{
	struct rte_mbuf *out[16];
	unsigned int seen = 0, busy_shards = 0;
	uint64_t before, after;

	rxf_start(4, EVG_EDGE_DROP, 64);
	for (uint32_t p = 1; p <= 8; p++)
		rxf_inject_data_from(FT_PEER_IP, FT_PEER_PORT, p, STREAM,
				     100 + p, p % 2 ? FT_TCI : FT_NO_VLAN);
	before = rte_rdtsc();
	cr_assert_eq(rxf_poll(), 8);
	after = rte_rdtsc();
	rxf_expect_counters("to_seq=8 evf_ok=8");
	for (unsigned int s = 0; s < 4; s++) {
		unsigned int n =
			rxf_pull(&rxf()->seq_edge[s], out, RTE_DIM(out));

		busy_shards += n > 0;
		for (unsigned int i = 0; i < n; i++) {
			const struct evg_pkt *pkt = evg_pkt(out[i]);
			uint32_t p = pkt->hdr.producer_id;

			cr_assert_eq(evg_seq_shard(p, STREAM, 4), s,
				     "producer %u on shard %u", p, s);
			cr_assert_eq(pkt->hdr.type, EVG_EVF_DATA);
			cr_assert_eq(pkt->hdr.stream_id, STREAM);
			cr_assert_eq(pkt->hdr.session, FT_SESSION);
			cr_assert_eq(pkt->hdr.seq, 100 + p);
			cr_assert_eq(pkt->hdr.count, 1);
			cr_assert_eq(pkt->hdr.length, pkt->net.payload_len);
			cr_assert_eq(pkt->net.src_ip, RTE_BE32(FT_PEER_IP));
			cr_assert_eq(pkt->net.src_port, RTE_BE16(FT_PEER_PORT));
			cr_assert_eq(pkt->net.has_vlan, p % 2);
			cr_assert_eq(pkt->net.payload_off, p % 2 ? 46 : 42);
			cr_assert(pkt->rx_tsc >= before && pkt->rx_tsc <= after,
				  "rx_tsc not taken during the poll");
			cr_assert_eq(out[i]->port, sf_port(),
				     "m->port not set");
			seen |= 1u << p;
		}
		rte_pktmbuf_free_bulk(out, n);
	}
	cr_assert_eq(seen, 0x1feu, "frames lost: %#x", seen);
	cr_assert_geq(busy_shards, 2, "test keys all on one shard");
	rxf_expect_all_returned();
}

Test(rx, frames_of_one_key_keep_their_order)
{
	struct rte_mbuf *out[32];
	uint64_t next[3] = {0};

	rxf_start(4, EVG_EDGE_DROP, 64);
	for (uint64_t seq = 0; seq < 10; seq++)
		for (uint32_t k = 0; k < 3; k++)
			rxf_inject_data(PRODUCER + k, STREAM, seq);
	cr_assert_eq(rxf_poll(), 30);
	for (unsigned int s = 0; s < 4; s++) {
		unsigned int n =
			rxf_pull(&rxf()->seq_edge[s], out, RTE_DIM(out));

		for (unsigned int i = 0; i < n; i++) {
			const struct evg_evf_hdr *h = &evg_pkt(out[i])->hdr;
			uint32_t k = h->producer_id - PRODUCER;

			cr_assert_eq(h->seq, next[k],
				     "producer %u: seq %" PRIu64
				     " after %" PRIu64,
				     h->producer_id, h->seq, next[k]);
			next[k]++;
		}
		rte_pktmbuf_free_bulk(out, n);
	}
	for (uint32_t k = 0; k < 3; k++)
		cr_assert_eq(next[k], 10, "producer %u: %" PRIu64 " frames",
			     PRODUCER + k, next[k]);
	rxf_expect_all_returned();
}

Test(rx, each_of_two_shards_gets_its_own_keys)
{
	uint32_t prod[2] = {0, 0};
	struct rte_mbuf *out[4];

	for (uint32_t p = 1; prod[0] == 0 || prod[1] == 0; p++)
		prod[evg_seq_shard(p, STREAM, 2)] = p;
	rxf_start(2, EVG_EDGE_DROP, 64);
	for (uint64_t seq = 0; seq < 2; seq++)
		for (int s = 0; s < 2; s++)
			rxf_inject_data(prod[s], STREAM, seq);
	cr_assert_eq(rxf_poll(), 4);
	for (int s = 0; s < 2; s++) {
		cr_assert_eq(rxf_pull(&rxf()->seq_edge[s], out, RTE_DIM(out)),
			     2);
		for (int i = 0; i < 2; i++) {
			cr_assert_eq(evg_pkt(out[i])->hdr.producer_id, prod[s],
				     "shard %d got producer %u", s,
				     evg_pkt(out[i])->hdr.producer_id);
			cr_assert_eq(evg_pkt(out[i])->hdr.seq, (uint64_t)i);
		}
		rte_pktmbuf_free_bulk(out, 2);
	}
	rxf_expect_all_returned();
}

Test(rx, ping_passes_through_to_seq)
{
	uint8_t evf[EVG_EVF_HDR_LEN];
	struct rte_mbuf *out[2];
	struct ft_frame f;

	rxf_start(1, EVG_EDGE_DROP, 64);
	ft_evf_udp_frame(&f, evf,
			 ft_evf_ping(evf, PRODUCER, STREAM, FT_SESSION),
			 FT_NO_VLAN);
	rxf_inject(&f);
	cr_assert_eq(rxf_poll(), 1);
	cr_assert_eq(rxf_pull(&rxf()->seq_edge[0], out, RTE_DIM(out)), 1);
	cr_assert_eq(evg_pkt(out[0])->hdr.type, EVG_EVF_PING);
	cr_assert_eq(evg_pkt(out[0])->hdr.producer_id, PRODUCER);
	rte_pktmbuf_free(out[0]);
	rxf_expect_edges(0, 0); /* rx does not answer PING itself */
	rxf_expect_counter("to_seq", 1);
	rxf_expect_all_returned();
}

/* ---- allow list and NAKs --------------------------------------------- */

Test(rx, disallowed_source_gets_one_nak_rejected_and_nothing_reaches_seq)
{
	struct rte_mbuf *out[4], *m;

	rxf_allow("10.0.0.2/32");
	rxf_start(1, EVG_EDGE_DROP, 64);
	rxf_inject_data_from(OTHER_SRC, OTHER_PORT, PRODUCER, STREAM, 77,
			     FT_TCI);
	/* From the same source with a bad CRC (in its last byte): dropped as
	 * malformed, not answered. */
	m = rxf_data_mbuf(OTHER_SRC, OTHER_PORT, PRODUCER, STREAM, 78,
			  FT_NO_VLAN);
	*rte_pktmbuf_mtod_offset(m, uint8_t *, m->data_len - 1) ^= 0x01;
	rxf_inject_mbuf(m);
	cr_assert_eq(rxf_poll(), 2);
	cr_assert_eq(rxf_pull(&rxf()->tx_edge, out, RTE_DIM(out)), 1,
		     "not one NAK");
	rxf_check_nak(out[0], FT_TCI, OTHER_SRC, OTHER_PORT,
		      EVG_EVF_NAK_REJECTED, STREAM, 77);
	rte_pktmbuf_free(out[0]);
	rxf_expect_edges(0, 0);
	rxf_expect_counters("rejected=1 naks_rejected=1 evf_crc=1 to_seq=0");
	rxf_expect_all_returned();
}

Test(rx, disallowed_producer_gets_one_nak_rejected)
{
	struct rte_mbuf *out[4];

	rxf_allow("10.0.0.0/24:1-5");
	rxf_start(1, EVG_EDGE_DROP, 64);
	rxf_inject_data(PRODUCER, 9, 5); /* producer 7: not in 1-5 */
	rxf_inject_data(3, 9, 0);
	cr_assert_eq(rxf_poll(), 2);
	cr_assert_eq(rxf_pull(&rxf()->tx_edge, out, RTE_DIM(out)), 1,
		     "not one NAK");
	rxf_check_nak(out[0], FT_NO_VLAN, FT_PEER_IP, FT_PEER_PORT,
		      EVG_EVF_NAK_REJECTED, 9, 5);
	rte_pktmbuf_free(out[0]);
	cr_assert_eq(rxf_pull(&rxf()->seq_edge[0], out, RTE_DIM(out)), 1);
	cr_assert_eq(evg_pkt(out[0])->hdr.producer_id, 3, "allowed one lost");
	rte_pktmbuf_free(out[0]);
	rxf_expect_counters("rejected=1 naks_rejected=1 to_seq=1");
	rxf_expect_all_returned();
}

Test(rx, naks_beyond_the_burst_are_counted_naks_limited)
{
	struct rte_mbuf *out[16];

	rxf()->cfg.nak_rate = 1; /* per second: no refill during the test */
	rxf()->cfg.nak_burst = 4;
	rxf_allow("10.0.0.2/32");
	rxf_start(1, EVG_EDGE_DROP, 64);
	for (uint64_t seq = 0; seq < 10; seq++)
		rxf_inject_data_from(OTHER_SRC, OTHER_PORT, PRODUCER, STREAM,
				     seq, FT_NO_VLAN);
	cr_assert_eq(rxf_poll(), 10);
	cr_assert_eq(rxf_pull(&rxf()->tx_edge, out, RTE_DIM(out)), 4);
	for (unsigned int i = 0; i < 4; i++)
		rxf_check_nak(out[i], FT_NO_VLAN, OTHER_SRC, OTHER_PORT,
			      EVG_EVF_NAK_REJECTED, STREAM, i);
	rte_pktmbuf_free_bulk(out, 4);
	rxf_expect_counters("rejected=10 naks_rejected=4 naks_limited=6");
	rxf_expect_all_returned();
}

Test(rx, full_drop_seq_edge_answers_nak_busy_for_the_excess)
{
	struct rte_mbuf *out[8];

	rxf_start(1, EVG_EDGE_DROP, 4);
	for (uint64_t seq = 0; seq < 7; seq++)
		rxf_inject_data(PRODUCER, STREAM, seq);
	cr_assert_eq(rxf_poll(), 7);
	cr_assert_eq(rxf_pull(&rxf()->seq_edge[0], out, RTE_DIM(out)), 4);
	for (unsigned int i = 0; i < 4; i++)
		cr_assert_eq(evg_pkt(out[i])->hdr.seq, i);
	rte_pktmbuf_free_bulk(out, 4);
	cr_assert_eq(rxf_pull(&rxf()->tx_edge, out, RTE_DIM(out)), 3);
	for (unsigned int i = 0; i < 3; i++)
		rxf_check_nak(out[i], FT_NO_VLAN, FT_PEER_IP, FT_PEER_PORT,
			      EVG_EVF_NAK_BUSY, STREAM, 4 + i);
	rte_pktmbuf_free_bulk(out, 3);
	rxf_expect_counters("to_seq=4 naks_busy=3");
	cr_assert_eq(rxf()->seq_edge[0].stats.dropped, 3);
	rxf_expect_all_returned();
}

Test(rx, nak_busy_goes_through_the_rate_limit)
{
	rxf()->cfg.nak_rate = 1;
	rxf()->cfg.nak_burst = 1;
	rxf_start(1, EVG_EDGE_DROP, 2);
	for (uint64_t seq = 0; seq < 5; seq++)
		rxf_inject_data(PRODUCER, STREAM, seq);
	cr_assert_eq(rxf_poll(), 5);
	rxf_expect_edges(2, 1);
	rxf_expect_counters("naks_busy=1 naks_limited=2");
	sf_expect_in_use(3);
	rxf_expect_all_returned();
}

/* ---- input limits ---------------------------------------------------- */

Test(rx, backpressure_seq_edge_with_3_free_slots_takes_at_most_3_frames)
{
	/* If rx pushed more than fits, the edge would give up at once and
	 * count a drop rather than hang the test. */
	static const volatile bool give_up = true;
	struct rte_mbuf *fill[8];

	rxf_start(1, EVG_EDGE_BACKPRESSURE, 8);
	rxf()->seq_edge[0].stop = &give_up;
	cr_assert_eq(rte_pktmbuf_alloc_bulk(sf_pool(), fill, 5), 0);
	cr_assert_eq(evg_edge_push(&rxf()->seq_edge[0], fill, 5), 5);
	for (uint64_t seq = 0; seq < 10; seq++)
		rxf_inject_data(PRODUCER, STREAM, seq);
	cr_assert_eq(rxf_poll(), 3);
	cr_assert_eq(rte_ring_count(sf_port_ring()), 7,
		     "frames taken off the port");
	cr_assert_eq(evg_edge_count(&rxf()->seq_edge[0]), 8);
	cr_assert_eq(rxf_poll(), 0, "polled with a full edge");
	cr_assert_eq(rte_ring_count(sf_port_ring()), 7);
	cr_assert_eq(rxf_pull(&rxf()->seq_edge[0], fill, RTE_DIM(fill)), 8);
	rte_pktmbuf_free_bulk(fill, 8);
	cr_assert_eq(rxf_poll(), 7);
	cr_assert_eq(rxf()->seq_edge[0].stats.dropped, 0);
	rxf_expect_counter("packets", 10);
	rxf_expect_all_returned();
}

Test(rx, burst_is_at_most_conf_burst)
{
	rxf()->burst = 4;
	rxf_start(1, EVG_EDGE_DROP, 64);
	for (uint64_t seq = 0; seq < 10; seq++)
		rxf_inject_data(PRODUCER, STREAM, seq);
	cr_assert_eq(rxf_poll(), 4);
	cr_assert_eq(rte_ring_count(sf_port_ring()), 6);
	rxf_expect_all_returned();
}

Test(rx, stop_rx_set_polls_nothing_and_leaves_frames_on_the_port)
{
	rxf_start(1, EVG_EDGE_DROP, 64);
	for (uint64_t seq = 0; seq < 3; seq++)
		rxf_inject_data(PRODUCER, STREAM, seq);
	rxf()->stop_rx = true;
	cr_assert_eq(rxf_poll(), 0);
	cr_assert_eq(rte_ring_count(sf_port_ring()), 3);
	rxf_expect_counter("packets", 0);
	rxf()->stop_rx = false;
	cr_assert_eq(rxf_poll(), 3);
	rxf_expect_all_returned();
}
