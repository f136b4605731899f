/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The rx stage's tests (test_rx_local.c, test_rx_seq.c) over the ring PMD
 * port of stage_fixture: frames crafted byte by byte (frame_testutil) go
 * onto the port's RX ring, one evg_rx_ops.poll() runs, and the test reads
 * the edges and the counters the stage exports.
 *
 * The ring PMD only moves mbuf pointers, so every frame put on the port is
 * in use until freed: each test ends with rxf_expect_all_returned(), which
 * drains the edges and the port and asserts that the pool is whole again.
 */
#ifndef RX_FIXTURE_H
#define RX_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "evg_stages.h"
#include "frame_testutil.h"
#include "stage_fixture.h"

#define RXF_NB_EDGES 4 /* seq edges, at most */
#define PRODUCER 7u
#define STREAM 42u
#define OTHER_SRC 0x0a000063u /* 10.0.0.99 */
#define OTHER_PORT 40099u

/* What one rx test runs (one per test process). */
struct rx_fixture {
	struct evg_cfg cfg; /* allow list and NAK limits, set before start */
	struct evg_edge seq_edge[RXF_NB_EDGES];
	struct evg_edge tx_edge;
	struct evg_rx_ctx ctx;
	struct evg_node node;
	volatile bool stop_rx;
	uint16_t burst; /* 32 unless a test sets it before start */
};

struct rx_fixture *rxf(void);

/* Suite hooks: sf_setup_ring_port(), the tx edge and a default cfg. */
void rxf_setup(void);
void rxf_teardown(void);

/* rx's conf over the first nb_shards seq edges. */
struct evg_rx_conf rxf_conf_for(unsigned int nb_shards);
/* Edges to nb_shards shards of `size` slots, and the stage over them. */
void rxf_start(unsigned int nb_shards, enum evg_edge_policy policy,
	       unsigned int size);
/* Add an allow-list entry ("10.0.0.0/24:1-5") to cfg. */
void rxf_allow(const char *spec);

/* ---- traffic ---------------------------------------------------------- */

void rxf_inject_mbuf(struct rte_mbuf *m);
/* Returns the frame's length. */
uint16_t rxf_inject(const struct ft_frame *f);
/* A one-event DATA mbuf from src_ip:sport. */
struct rte_mbuf *rxf_data_mbuf(uint32_t src_ip, uint16_t sport,
			       uint32_t producer, uint32_t stream, uint64_t seq,
			       int vlan);
void rxf_inject_data_from(uint32_t src_ip, uint16_t sport, uint32_t producer,
			  uint32_t stream, uint64_t seq, int vlan);
/* From the peer, untagged. */
void rxf_inject_data(uint32_t producer, uint32_t stream, uint64_t seq);
unsigned int rxf_poll(void);
/* Take everything off e (at most max) into pkts. */
unsigned int rxf_pull(struct evg_edge *e, struct rte_mbuf **pkts,
		      unsigned int max);

/* ---- checks ----------------------------------------------------------- */

/* Index of the counter called name in evg_rx_ops, or a failed test. */
unsigned int rxf_name_index(const char *name);
void rxf_expect_counter(const char *name, uint64_t want);
/* rxf_expect_counters("a=1 b=0"): each counter named has the value. */
void rxf_expect_counters(const char *list);
/* Frames waiting on the (first) seq edge and on the tx edge. */
void rxf_expect_edges(unsigned int seq, unsigned int tx);
/* Every test ends here: whatever the stage passed on or answered, and
 * whatever it left on the port, is freed, and then no mbuf may be left. */
void rxf_expect_all_returned(void);
/* Assert m is a NAK with reason code answering (PRODUCER, stream,
 * FT_SESSION, seq), sent to dst_ip:dport, every byte as PROTOCOL.md
 * says. */
void rxf_check_nak(const struct rte_mbuf *m, int vlan, uint32_t dst_ip,
		   uint16_t dport, uint16_t code, uint32_t stream,
		   uint64_t seq);

#endif /* RX_FIXTURE_H */
