/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What every stage test sets up: an EAL, a pool of mbufs with the evg_pkt
 * private area (no per-lcore cache, so the in-use count is exact), the
 * input and output edges of the stage under test, and the checks that end
 * a test. Criterion runs each test in a process of its own:
 *
 *   TestSuite(seq_stage, .init = sf_setup, .fini = sf_teardown);
 *
 *   fx_init():  sf_edges_init(&fx.e, "sq", 64, EVG_EDGE_DROP,
 *                             out_size, EVG_EDGE_BACKPRESSURE);
 *   fx_fini():  sf_edges_fini(&fx.e);  (asserts the pool is whole)
 *
 * sf_teardown() frees the pool and aborts (Criterion ignores assertions
 * in .fini, but reports a crash) when mbufs are still in use, so a test
 * that ends early still gets its leak reported.
 */
#ifndef STAGE_FIXTURE_H
#define STAGE_FIXTURE_H

#include <errno.h>
#include <stdint.h>

#include <criterion/criterion.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "evg_net.h"
#include "evg_pipeline.h"

#define SF_POOL_SIZE 1023u /* mbufs, enough for a burst of EVG_BURST_MAX */
#define SF_NB_IN 2u	   /* input edges of the stage under test */
#define SF_RING_PORT "net_ring0"

/* ---- suite hooks ------------------------------------------------------ */

/* EAL and a pool of SF_POOL_SIZE mbufs. */
void sf_setup(void);
/* The same with a ring PMD port, SF_RING_PORT, started over the pool:
 * sf_port() is its id, sf_port_ring() what it receives (and sends). */
void sf_setup_ring_port(void);
/* EAL, a pool of n mbufs and, unless NULL, extra EAL arguments. */
void sf_setup_pool(unsigned int n, const char *const *eal_extra);
/* Stop the port (freeing what its ring holds), free the pool, stop the
 * EAL; abort when mbufs were still in use. */
void sf_teardown(void);

struct rte_mempool *sf_pool(void);
uint16_t sf_port(void);
struct rte_ring *sf_port_ring(void);

/* ---- edges ------------------------------------------------------------ */

/* An edge, single-producer single-consumer, or a failed test. */
void sf_edge(struct evg_edge *e, const char *name, unsigned int size,
	     enum evg_edge_policy policy);

/* The edges around the stage under test. */
struct sf_edges {
	struct evg_edge in[SF_NB_IN];
	struct evg_edge out; /* ring NULL when the stage has none */
};

/* SF_NB_IN inputs "<prefix>_in<i>" and, when out_size > 0, "<prefix>_out". */
void sf_edges_init(struct sf_edges *e, const char *prefix, unsigned int in_size,
		   enum evg_edge_policy in_policy, unsigned int out_size,
		   enum evg_edge_policy out_policy);
/* Free the edges (not what they hold) and assert the pool is whole: a
 * frame left on an edge counts as lost. */
void sf_edges_fini(struct sf_edges *e);

/* Push one mbuf onto e, or fail the test. */
void sf_feed(struct evg_edge *e, struct rte_mbuf *m);

/* ---- mbufs and counters ----------------------------------------------- */

/* An mbuf from the pool with its evg_pkt set to byte fill. */
struct rte_mbuf *sf_mbuf(uint8_t fill);
void sf_expect_in_use(unsigned int want);

/* Our interface: FT_OUR_IP, MAC 02:00:00:00:00:01, the EVF port. */
extern const struct evg_net_if sf_ifc;
/* A DATA frame of count events (ft_evf_data(), session FT_SESSION) from
 * src_ip:sport to our EVF port, tagged with vlan unless FT_NO_VLAN. */
struct rte_mbuf *sf_data_mbuf(uint32_t src_ip, uint16_t sport,
			      uint32_t producer, uint32_t stream, uint64_t seq,
			      uint16_t count, int vlan);
/* The same, classified and validated into its evg_pkt (net, hdr, rx_tsc)
 * as rx hands it to a sequencer. */
struct rte_mbuf *sf_received_data(uint32_t src_ip, uint16_t sport,
				  uint32_t producer, uint32_t stream,
				  uint64_t seq, uint16_t count, int vlan);

/* Assert that ops is named name and exports exactly names[0 .. n), in
 * that order. */
void sf_expect_counter_names(const struct evg_stage_ops *ops, const char *name,
			     const char *const *names, unsigned int n);

/* A stage's init refuses ok with one field changed: -EINVAL. */
#define SF_EXPECT_EINVAL(init, ctx, ok, field, value)               \
	do {                                                        \
		__typeof__(ok) bad_ = (ok);                         \
		bad_.field = (value);                               \
		cr_assert_eq(init((ctx), &bad_), -EINVAL,           \
			     "init accepted " #field " = " #value); \
	} while (0)

/* What every stage's init refuses in the inputs and burst of its conf ok
 * (whose in[ok.nb_in] must be NULL): no input, too many, a NULL one,
 * burst 0 and burst past EVG_BURST_MAX. */
#define SF_EXPECT_EINVAL_INPUTS_AND_BURST(init, ctx, ok)                   \
	do {                                                               \
		SF_EXPECT_EINVAL(init, ctx, ok, nb_in, 0);                 \
		SF_EXPECT_EINVAL(init, ctx, ok, nb_in,                     \
				 EVG_STAGES_MAX_INPUTS + 1);               \
		SF_EXPECT_EINVAL(init, ctx, ok, nb_in, (ok).nb_in + 1);    \
		SF_EXPECT_EINVAL(init, ctx, ok, burst, 0);                 \
		SF_EXPECT_EINVAL(init, ctx, ok, burst, EVG_BURST_MAX + 1); \
	} while (0)

#endif /* STAGE_FIXTURE_H */
