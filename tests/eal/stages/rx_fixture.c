/* SPDX-License-Identifier: BSD-3-Clause */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <rte_cycles.h>
#include <rte_ring.h>

#include "rx_fixture.h"

static struct rx_fixture fx = {
	.node = {.ops = &evg_rx_ops, .ctx = &fx.ctx},
	.burst = 32,
};

struct rx_fixture *
rxf(void)
{
	return &fx;
}

void
rxf_setup(void)
{
	sf_setup_ring_port();
	sf_edge(&fx.tx_edge, "rx_test_tx", 256, EVG_EDGE_DROP);
	cr_assert_eq(evg_cfg_defaults(&fx.cfg), 0);
	fx.cfg.ip = sf_ifc.ip;
}

/* Free whatever sits on the edges and the port. */
static void
drain_all(void)
{
	for (unsigned int s = 0; s < RXF_NB_EDGES; s++)
		if (fx.seq_edge[s].ring != NULL)
			ft_ring_free_all(fx.seq_edge[s].ring);
	ft_ring_free_all(fx.tx_edge.ring);
	ft_ring_free_all(sf_port_ring());
}

void
rxf_teardown(void)
{
	drain_all();
	for (unsigned int s = 0; s < RXF_NB_EDGES; s++)
		evg_edge_fini(&fx.seq_edge[s]);
	evg_edge_fini(&fx.tx_edge);
	sf_teardown();
}

struct evg_rx_conf
rxf_conf_for(unsigned int nb_shards)
{
	struct evg_rx_conf c = {
		.port_id = sf_port(),
		.burst = fx.burst,
		.ifc = &sf_ifc,
		.cfg = &fx.cfg,
		.nb_shards = nb_shards,
		.tx_out = &fx.tx_edge,
		.stop_rx = &fx.stop_rx,
		.tsc_hz = rte_get_tsc_hz(),
	};

	for (unsigned int s = 0; s < nb_shards && s < RXF_NB_EDGES; s++)
		c.seq_out[s] = &fx.seq_edge[s];
	return c;
}

void
rxf_start(unsigned int nb_shards, enum evg_edge_policy policy,
	  unsigned int size)
{
	struct evg_rx_conf c = rxf_conf_for(nb_shards);
	char name[32];

	for (unsigned int s = 0; s < nb_shards; s++) {
		snprintf(name, sizeof(name), "rx_test_seq%u", s);
		sf_edge(&fx.seq_edge[s], name, size, policy);
	}
	cr_assert_eq(evg_rx_init(&fx.ctx, &c), 0);
}

void
rxf_allow(const char *spec)
{
	char err[EVG_CFG_ERR_LEN];

	cr_assert_eq(evg_cfg_parse_allow(spec, &fx.cfg.allow[fx.cfg.nb_allow],
					 err, sizeof(err)),
		     0, "%s", err);
	fx.cfg.nb_allow++;
}

/* ---- traffic ---------------------------------------------------------- */

void
rxf_inject_mbuf(struct rte_mbuf *m)
{
	cr_assert_eq(rte_ring_enqueue(sf_port_ring(), m), 0, "port ring full");
}

uint16_t
rxf_inject(const struct ft_frame *f)
{
	rxf_inject_mbuf(ft_to_mbuf(sf_pool(), f));
	return f->len;
}

struct rte_mbuf *
rxf_data_mbuf(uint32_t src_ip, uint16_t sport, uint32_t producer,
	      uint32_t stream, uint64_t seq, int vlan)
{
	return sf_data_mbuf(src_ip, sport, producer, stream, seq, 1, vlan);
}

void
rxf_inject_data_from(uint32_t src_ip, uint16_t sport, uint32_t producer,
		     uint32_t stream, uint64_t seq, int vlan)
{
	rxf_inject_mbuf(
		rxf_data_mbuf(src_ip, sport, producer, stream, seq, vlan));
}

void
rxf_inject_data(uint32_t producer, uint32_t stream, uint64_t seq)
{
	rxf_inject_data_from(FT_PEER_IP, FT_PEER_PORT, producer, stream, seq,
			     FT_NO_VLAN);
}

unsigned int
rxf_poll(void)
{
	return evg_rx_ops.poll(&fx.node);
}

unsigned int
rxf_pull(struct evg_edge *e, struct rte_mbuf **pkts, unsigned int max)
{
	unsigned int n = evg_edge_pull(e, pkts, max);

	cr_assert_eq(evg_edge_count(e), 0, "more than %u frames on an edge",
		     max);
	return n;
}

/* ---- checks ----------------------------------------------------------- */

unsigned int
rxf_name_index(const char *name)
{
	for (unsigned int i = 0; i < evg_rx_ops.nb_counters; i++)
		if (strcmp(evg_rx_ops.counter_names[i], name) == 0)
			return i;
	cr_assert_fail("no rx counter named %s", name);
	return 0;
}

void
rxf_expect_counter(const char *name, uint64_t want)
{
	uint64_t v[128], got;

	cr_assert_leq(evg_rx_ops.nb_counters, RTE_DIM(v));
	evg_rx_ops.read_counters(&fx.node, v);
	got = v[rxf_name_index(name)];
	cr_assert_eq(got, want, "counter %s is %" PRIu64 ", expected %" PRIu64,
		     name, got, want);
}

void
rxf_expect_counters(const char *list)
{
	char name[64];
	uint64_t want;
	int used;

	while (sscanf(list, " %63[^=]=%" SCNu64 "%n", name, &want, &used) ==
	       2) {
		rxf_expect_counter(name, want);
		list += used;
	}
	cr_assert_eq(*list, '\0', "bad counter list at \"%s\"", list);
}

void
rxf_expect_edges(unsigned int seq, unsigned int tx)
{
	cr_assert_eq(evg_edge_count(&fx.seq_edge[0]), seq, "%u frames to seq",
		     evg_edge_count(&fx.seq_edge[0]));
	cr_assert_eq(evg_edge_count(&fx.tx_edge), tx, "%u frames to tx",
		     evg_edge_count(&fx.tx_edge));
}

void
rxf_expect_all_returned(void)
{
	drain_all();
	sf_expect_in_use(0);
}

void
rxf_check_nak(const struct rte_mbuf *m, int vlan, uint32_t dst_ip,
	      uint16_t dport, uint16_t code, uint32_t stream, uint64_t seq)
{
	uint8_t want[EVG_EVF_HDR_LEN];

	ft_evf_control(want, EVG_EVF_NAK, code, PRODUCER, stream, FT_SESSION,
		       seq);
	ft_check_udp_reply(m, vlan, dst_ip, dport, want, sizeof(want));
}
