/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TX stage on a net_ring port over rings of the test's own: what the
 * stage sends lands on the TX ring, where the test reads it back, and a
 * TX ring left full is a port that refuses frames.
 */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "evg_stages.h"
#include "stage_fixture.h"

static struct {
	struct rte_ring *rxr, *txr;
	uint16_t port;
	struct sf_edges e; /* no out edge: the port is tx's output */
	struct evg_tx_ctx ctx;
	struct evg_node node;
} fx;

#define C(name) (fx.ctx.stats.c[EVG_TX_##name])

TestSuite(tx_stage, .init = sf_setup, .fini = sf_teardown);

/* A started net_ring port whose TX ring holds txr_size frames. */
static void
port_init(unsigned int txr_size)
{
	const unsigned int flags =
		RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ;
	struct rte_eth_conf conf;
	int port;

	memset(&conf, 0, sizeof(conf));
	fx.rxr = rte_ring_create("ttx_rx", 16, rte_socket_id(), flags);
	fx.txr = rte_ring_create("ttx_tx", txr_size, rte_socket_id(), flags);
	cr_assert(fx.rxr != NULL && fx.txr != NULL, "rings: %s",
		  rte_strerror(rte_errno));
	port = rte_eth_from_rings("net_ring_ttx", &fx.rxr, 1, &fx.txr, 1,
				  rte_socket_id());
	cr_assert_geq(port, 0, "rte_eth_from_rings: %s",
		      rte_strerror(rte_errno));
	fx.port = (uint16_t)port;
	cr_assert_eq(rte_eth_dev_configure(fx.port, 1, 1, &conf), 0);
	cr_assert_eq(rte_eth_rx_queue_setup(fx.port, 0, 16, rte_socket_id(),
					    NULL, sf_pool()),
		     0);
	cr_assert_eq(rte_eth_tx_queue_setup(fx.port, 0, txr_size,
					    rte_socket_id(), NULL),
		     0);
	cr_assert_eq(rte_eth_dev_start(fx.port), 0);
}

static void
fx_init(unsigned int txr_size, uint16_t burst, uint32_t stall_polls)
{
	struct evg_tx_conf conf = {
		.nb_in = 2, .burst = burst, .stall_polls = stall_polls};

	memset(&fx, 0, sizeof(fx));
	port_init(txr_size);
	sf_edges_init(&fx.e, "tx", 64, EVG_EDGE_DROP, 0, EVG_EDGE_DROP);
	conf.port_id = fx.port;
	conf.in[0] = &fx.e.in[0];
	conf.in[1] = &fx.e.in[1];
	cr_assert_eq(evg_tx_init(&fx.ctx, &conf), 0);
	fx.node = (struct evg_node){.ops = &evg_tx_ops, .ctx = &fx.ctx};
}

/* What the port sent: take it off the TX ring. */
static unsigned int
wire(struct rte_mbuf **pkts, unsigned int max)
{
	return rte_ring_dequeue_burst(fx.txr, (void **)pkts, max, NULL);
}

static void
wire_free(void)
{
	struct rte_mbuf *pkts[64];
	unsigned int n;

	while ((n = wire(pkts, RTE_DIM(pkts))) > 0)
		rte_pktmbuf_free_bulk(pkts, n);
}

static void
fx_fini(void)
{
	cr_assert_eq(fx.ctx.nb_held, 0, "frames still held");
	cr_assert_eq(rte_eth_dev_stop(fx.port), 0);
	cr_assert_eq(rte_eth_dev_close(fx.port), 0);
	wire_free();
	rte_ring_free(fx.rxr);
	rte_ring_free(fx.txr);
	sf_edges_fini(&fx.e);
}

static unsigned int
poll(void)
{
	return fx.node.ops->poll(&fx.node);
}

static unsigned int
drain(void)
{
	return fx.node.ops->drain(&fx.node);
}

/* A frame of len bytes queued on input `in`. */
static struct rte_mbuf *
feed(unsigned int in, uint16_t len)
{
	struct rte_mbuf *m = sf_mbuf(0);

	cr_assert_not_null(rte_pktmbuf_append(m, len));
	memset(rte_pktmbuf_mtod(m, void *), 0x5A, len);
	sf_feed(&fx.e.in[in], m);
	return m;
}

static void
expect_wire(struct rte_mbuf *const *want, unsigned int n)
{
	struct rte_mbuf *got[64];

	cr_assert_eq(wire(got, RTE_DIM(got)), n, "frames on the wire");
	for (unsigned int i = 0; i < n; i++)
		cr_assert_eq(got[i], want[i], "frame %u on the wire", i);
	rte_pktmbuf_free_bulk(got, n);
}

Test(tx_stage, frames_from_two_inputs_reach_the_port_and_are_counted)
{
	struct rte_mbuf *want[5];

	fx_init(16, 8, 0);
	for (unsigned int i = 0; i < 3; i++)
		want[i] = feed(0, 60);
	for (unsigned int i = 3; i < 5; i++)
		want[i] = feed(1, 100);
	cr_assert_eq(poll(), 5);
	cr_assert_eq(C(packets), 5);
	cr_assert_eq(C(bytes), 3 * 60 + 2 * 100);
	cr_assert_eq(fx.ctx.nb_held, 0);
	expect_wire(want, 5);
	cr_assert_eq(poll(), 0, "idle");
	fx_fini();
}

Test(tx_stage, inputs_are_taken_round_robin)
{
	struct rte_mbuf *want[4];

	fx_init(16, 1, 0);
	for (unsigned int i = 0; i < 2; i++) {
		want[2 * i] = feed(0, 64);
		want[2 * i + 1] = feed(1, 64);
	}
	for (unsigned int p = 0; p < 4; p++)
		cr_assert_eq(poll(), 1, "poll %u sends one", p);
	expect_wire(want, 4);
	fx_fini();
}

Test(tx_stage, full_queue_holds_frames_and_sends_them_first_later)
{
	struct rte_mbuf *a[6], *b[2], *want[4];

	fx_init(4, 8, 0);
	for (unsigned int i = 0; i < 6; i++)
		a[i] = feed(0, 64);
	cr_assert_eq(poll(), 6);
	cr_assert_eq(C(packets), 4, "the queue took 4");
	cr_assert_eq(C(bytes), 4 * 64, "bytes of what was taken only");
	cr_assert_eq(fx.ctx.nb_held, 2);
	for (unsigned int i = 0; i < 2; i++)
		b[i] = feed(1, 64);
	cr_assert_eq(poll(), 0, "queue still full");
	cr_assert_eq(C(retries), 1);
	cr_assert_eq(evg_edge_count(&fx.e.in[1]), 2,
		     "no new frames while held");
	expect_wire(a, 4); /* the port drains its queue */
	cr_assert_eq(poll(), 4, "2 held, then 2 new");
	want[0] = a[4];
	want[1] = a[5];
	want[2] = b[0];
	want[3] = b[1];
	expect_wire(want, 4);
	cr_assert_eq(C(packets), 8);
	cr_assert_eq(C(bytes), 8 * 64);
	cr_assert_eq(C(dropped), 0);
	fx_fini();
}

Test(tx_stage, queue_that_stays_full_drops_held_frames_after_stall_polls)
{
	fx_init(4, 8, 3);
	for (unsigned int i = 0; i < 6; i++)
		feed(0, 64);
	cr_assert_eq(poll(), 6);
	cr_assert_eq(fx.ctx.nb_held, 2);
	cr_assert_eq(poll(), 0);
	cr_assert_eq(poll(), 0);
	cr_assert_eq(fx.ctx.nb_held, 2, "two stalls: still held");
	cr_assert_eq(C(dropped), 0);
	cr_assert_eq(poll(), 2, "third stall: dropped");
	cr_assert_eq(fx.ctx.nb_held, 0);
	cr_assert_eq(C(dropped), 2);
	cr_assert_eq(C(retries), 3);
	cr_assert_eq(C(packets), 4);
	cr_assert_eq(rte_mempool_in_use_count(sf_pool()), 4,
		     "dropped frames freed; the 4 on the wire remain");
	fx_fini();
}

Test(tx_stage, stall_count_restarts_when_the_queue_takes_some)
{
	struct rte_mbuf *a[8], *one;

	fx_init(4, 8, 2);
	for (unsigned int i = 0; i < 8; i++)
		a[i] = feed(0, 64);
	cr_assert_eq(poll(), 8);
	cr_assert_eq(fx.ctx.nb_held, 4);
	for (unsigned int round = 0; round < 3; round++) {
		cr_assert_eq(poll(), 0, "round %u: stall", round);
		cr_assert_eq(wire(&one, 1), 1);
		cr_assert_eq(one, a[round]);
		rte_pktmbuf_free(one);
		cr_assert_eq(poll(), 1, "round %u: one more went", round);
	}
	cr_assert_eq(C(dropped), 0, "never 2 stalls in a row");
	cr_assert_eq(fx.ctx.nb_held, 1);
	cr_assert_eq(poll(), 0);
	cr_assert_eq(poll(), 1, "2 stalls in a row: dropped");
	cr_assert_eq(C(dropped), 1);
	expect_wire(a + 3, 4); /* each held frame went once, in order */
	fx_fini();
}

Test(tx_stage, drain_sends_held_frames_once_room_appears)
{
	struct rte_mbuf *a[6];

	fx_init(4, 8, 0);
	for (unsigned int i = 0; i < 6; i++)
		a[i] = feed(0, 64);
	cr_assert_eq(poll(), 6);
	cr_assert_eq(drain(), 2, "2 still held");
	expect_wire(a, 4);
	cr_assert_eq(drain(), 2, "2 sent");
	expect_wire(a + 4, 2);
	cr_assert_eq(drain(), 0, "nothing held");
	cr_assert_eq(C(packets), 6);
	cr_assert_eq(C(dropped), 0);
	fx_fini();
}

Test(tx_stage, drain_drops_held_frames_after_stall_polls_calls)
{
	unsigned int calls = 0;

	fx_init(4, 8, 5);
	for (unsigned int i = 0; i < 6; i++)
		feed(0, 64);
	cr_assert_eq(poll(), 6);
	while (drain() != 0 && calls < 100)
		calls++;
	cr_assert_eq(calls, 5, "dropped on the 5th fruitless call");
	cr_assert_eq(C(dropped), 2);
	cr_assert_eq(C(packets), 4);
	fx_fini();
}

Test(tx_stage, init_rejects_bad_conf)
{
	struct evg_tx_conf ok = {.nb_in = 1, .burst = 32}, c;
	struct evg_tx_ctx ctx;

	fx_init(16, 8, 0);
	ok.port_id = fx.port;
	ok.in[0] = &fx.e.in[0];
	cr_assert_eq(evg_tx_init(&ctx, &ok), 0);
	cr_assert_eq(ctx.conf.stall_polls, EVG_TX_STALL_POLLS,
		     "stall_polls 0 picks the default");
	cr_assert_eq(evg_tx_init(NULL, &ok), -EINVAL);
	cr_assert_eq(evg_tx_init(&ctx, NULL), -EINVAL);
	SF_EXPECT_EINVAL_INPUTS_AND_BURST(evg_tx_init, &ctx, ok);
	c = ok;
	c.port_id = RTE_MAX_ETHPORTS - 1;
	cr_assert_eq(evg_tx_init(&ctx, &c), -ENODEV, "no such port");
	c = ok;
	c.stall_polls = 7;
	cr_assert_eq(evg_tx_init(&ctx, &c), 0);
	cr_assert_eq(ctx.conf.stall_polls, 7);
	fx_fini();
}

Test(tx_stage, counters_are_exported_by_name)
{
	static const char *const names[] = {
		"packets",
		"bytes",
		"retries",
		"dropped",
	};
	const struct evg_stage_ops *ops = &evg_tx_ops;
	uint64_t v[RTE_DIM(names)];

	sf_expect_counter_names(ops, "tx", names, RTE_DIM(names));
	cr_assert_not_null(ops->drain);
	fx_init(16, 8, 0);
	feed(0, 70);
	cr_assert_eq(poll(), 1);
	ops->read_counters(&fx.node, v);
	cr_assert_eq(memcmp(v, fx.ctx.stats.c, sizeof(v)), 0);
	cr_assert_eq(v[EVG_TX_bytes], 70);
	fx_fini();
}
