/* SPDX-License-Identifier: BSD-3-Clause */
/* Edges (full-policies, accounting of every mbuf) and the lcore loop. */
#include <errno.h>

#include <criterion/criterion.h>
#include <rte_cycles.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "eal_testutil.h"
#include "evg_pipeline.h"

static struct rte_mempool *pool;

static void
setup(void)
{
	/* Two lcores on one CPU: enough for a consumer on "another lcore". */
	static const char *const extra[] = { "--lcores=0@0,1@0", NULL };

	tu_eal_setup_args(extra);
	pool = rte_pktmbuf_pool_create("tpipe", 1023, 0, 0, 256, SOCKET_ID_ANY);
	cr_assert_not_null(pool);
}

static void
teardown(void)
{
	rte_mempool_free(pool);
	tu_eal_teardown();
}

TestSuite(edge, .init = setup, .fini = teardown);
TestSuite(lcore_loop, .init = setup, .fini = teardown);

static void
alloc_burst(struct rte_mbuf **pkts, unsigned int n)
{
	cr_assert_eq(rte_pktmbuf_alloc_bulk(pool, pkts, n), 0);
}

static unsigned int
in_use(void)
{
	return rte_mempool_in_use_count(pool);
}

Test(edge, init_rejects_bad_sizes_and_duplicate_names)
{
	struct evg_edge a, b;

	cr_assert_eq(evg_edge_init(&a, "e", 12, 0, false, false, EVG_EDGE_DROP),
		     -EINVAL);
	cr_assert_eq(evg_edge_init(&a, "e", 16, 0, false, false, EVG_EDGE_DROP), 0);
	cr_assert_eq(evg_edge_init(&b, "e", 16, 0, false, false, EVG_EDGE_DROP),
		     -EEXIST);
	cr_assert_eq(evg_edge_room(&a), 16, "EXACT_SZ gives all 16 slots");
	evg_edge_fini(&a);
}

Test(edge, drop_edge_frees_and_counts_what_does_not_fit)
{
	struct rte_mbuf *pkts[12], *out[16];
	struct evg_edge e;

	cr_assert_eq(evg_edge_init(&e, "d", 8, 0, false, false, EVG_EDGE_DROP), 0);
	alloc_burst(pkts, 12);
	cr_assert_eq(evg_edge_push(&e, pkts, 12), 8);
	cr_assert_eq(e.stats.enq, 8);
	cr_assert_eq(e.stats.full, 1);
	cr_assert_eq(e.stats.dropped, 4);
	cr_assert_eq(in_use(), 8, "the 4 dropped mbufs are back in the pool");
	cr_assert_eq(evg_edge_pull(&e, out, 16), 8);
	cr_assert_eq(out[0], pkts[0], "FIFO order");
	rte_pktmbuf_free_bulk(out, 8);
	cr_assert_eq(in_use(), 0);
	evg_edge_fini(&e);
}

struct overflow {
	unsigned int calls, items;
	struct rte_mbuf *first;
};

static void
on_full(void *arg, struct rte_mbuf **pkts, unsigned int n)
{
	struct overflow *o = arg;

	o->calls++;
	o->items += n;
	o->first = pkts[0];
	rte_pktmbuf_free_bulk(pkts, n);
}

Test(edge, drop_edge_hands_overflow_to_its_callback)
{
	struct rte_mbuf *pkts[10];
	struct evg_edge e;
	struct overflow o = { 0 };

	cr_assert_eq(evg_edge_init(&e, "cb", 8, 0, false, false, EVG_EDGE_DROP), 0);
	e.on_full = on_full;
	e.on_full_arg = &o;
	alloc_burst(pkts, 10);
	cr_assert_eq(evg_edge_push(&e, pkts, 10), 8);
	cr_assert_eq(o.calls, 1);
	cr_assert_eq(o.items, 2);
	cr_assert_eq(o.first, pkts[8], "the callback gets the ones that did not fit");
	evg_edge_fini(&e);
	cr_assert_eq(in_use(), 0, "fini frees what is still queued");
}

struct consumer {
	struct evg_edge *e;
	unsigned int want, got;
};

static int
consume_slowly(void *arg)
{
	struct consumer *c = arg;
	struct rte_mbuf *pkts[4];

	while (c->got < c->want) {
		unsigned int n = evg_edge_pull(c->e, pkts, RTE_DIM(pkts));

		rte_pktmbuf_free_bulk(pkts, n);
		c->got += n;
		rte_delay_us_block(1);
	}
	return 0;
}

Test(edge, backpressure_edge_delivers_everything_to_a_slow_consumer)
{
	struct evg_edge e;
	struct consumer c = { .e = &e, .want = 5000 };
	unsigned int worker = rte_get_next_lcore(-1, 1, 0);

	cr_assert_lt(worker, RTE_MAX_LCORE, "needs a worker lcore");
	cr_assert_eq(evg_edge_init(&e, "bp", 16, 0, false, false,
				   EVG_EDGE_BACKPRESSURE), 0);
	cr_assert_eq(rte_eal_remote_launch(consume_slowly, &c, worker), 0);
	for (unsigned int sent = 0; sent < c.want; sent += 50) {
		struct rte_mbuf *pkts[50];

		alloc_burst(pkts, 50);
		cr_assert_eq(evg_edge_push(&e, pkts, 50), 50);
	}
	cr_assert_eq(rte_eal_wait_lcore(worker), 0);
	cr_assert_eq(c.got, c.want);
	cr_assert_eq(e.stats.dropped, 0);
	cr_assert_gt(e.stats.retries, 0, "a 16-slot ring must have pushed back");
	cr_assert_eq(in_use(), 0);
	evg_edge_fini(&e);
}

Test(edge, backpressure_gives_up_and_frees_when_stopping)
{
	struct rte_mbuf *pkts[20];
	volatile bool stop = true;
	struct evg_edge e;

	cr_assert_eq(evg_edge_init(&e, "st", 16, 0, false, false,
				   EVG_EDGE_BACKPRESSURE), 0);
	e.stop = &stop;
	alloc_burst(pkts, 20);
	cr_assert_eq(evg_edge_push(&e, pkts, 20), 16);
	cr_assert_eq(e.stats.dropped, 4);
	cr_assert_eq(in_use(), 16);
	evg_edge_fini(&e);
	cr_assert_eq(in_use(), 0);
}

/* Two test stages: a source that makes `total` mbufs in bursts of 8, and
 * a sink that counts them; the sink's drain() takes what is left. */
struct test_stage {
	struct evg_edge *edge;
	unsigned int total, done, drained;
};

static unsigned int
source_poll(struct evg_node *node)
{
	struct test_stage *s = node->ctx;
	struct rte_mbuf *pkts[8];
	unsigned int n = RTE_MIN(8u, s->total - s->done);

	n = RTE_MIN(n, evg_edge_room(s->edge));
	if (n == 0 || rte_pktmbuf_alloc_bulk(pool, pkts, n) != 0)
		return 0;
	s->done += evg_edge_push(s->edge, pkts, n);
	return n;
}

static unsigned int
sink_take(struct test_stage *s, unsigned int max)
{
	struct rte_mbuf *pkts[8];
	unsigned int n = evg_edge_pull(s->edge, pkts, RTE_MIN(max, 8u));

	rte_pktmbuf_free_bulk(pkts, n);
	s->done += n;
	return n;
}

static unsigned int
sink_poll(struct evg_node *node)
{
	/* One at a time, so items are still queued when stop comes. */
	return sink_take(node->ctx, 1);
}

static unsigned int
sink_drain(struct evg_node *node)
{
	struct test_stage *s = node->ctx;
	unsigned int n = sink_take(s, 8);

	s->drained += n;
	return n;
}

Test(lcore_loop, runs_nodes_until_stop_then_drains)
{
	static const struct evg_stage_ops source_ops = { .name = "source", .poll = source_poll };
	static const struct evg_stage_ops sink_ops = { .name = "sink", .poll = sink_poll, .drain = sink_drain };
	volatile bool stop = false;
	struct evg_edge e;
	struct test_stage src = { .edge = &e, .total = 4000 }, snk = { .edge = &e };
	struct evg_node n_src = { &source_ops, &src, { 0 } };
	struct evg_node n_snk = { &sink_ops, &snk, { 0 } };
	struct evg_lcore_plan plan = { .stop = &stop };
	unsigned int worker = rte_get_next_lcore(-1, 1, 0);

	cr_assert_eq(evg_edge_init(&e, "loop", 64, 0, false, false, EVG_EDGE_DROP), 0);
	cr_assert_eq(evg_lcore_plan_add(&plan, &n_src), 0);
	cr_assert_eq(evg_lcore_plan_add(&plan, &n_snk), 0);
	cr_assert_eq(rte_eal_remote_launch(evg_lcore_loop, &plan, worker), 0);
	while (src.done < src.total)
		rte_pause();
	stop = true;
	cr_assert_eq(rte_eal_wait_lcore(worker), 0);
	cr_assert_eq(snk.done, src.total, "every item reached the sink");
	cr_assert_eq(e.stats.dropped, 0, "the source sized bursts by room");
	cr_assert_eq(n_snk.stats.items + snk.drained, src.total);
	cr_assert_gt(n_src.stats.busy_polls, 0);
	cr_assert_gt(plan.loops, 0);
	cr_assert_eq(in_use(), 0);
	evg_edge_fini(&e);
}

Test(lcore_loop, plan_refuses_more_nodes_than_it_holds)
{
	struct evg_lcore_plan plan = { 0 };
	struct evg_node node = { 0 };

	for (int i = 0; i < EVG_LCORE_NODES_MAX; i++)
		cr_assert_eq(evg_lcore_plan_add(&plan, &node), 0);
	cr_assert_eq(evg_lcore_plan_add(&plan, &node), -ENOSPC);
}
