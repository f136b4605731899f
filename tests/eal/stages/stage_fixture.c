/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "eal_testutil.h"
#include "evg_stages.h"
#include "frame_testutil.h"
#include "stage_fixture.h"

/* One per test process (Criterion forks a process per test). */
static struct {
	struct rte_mempool *pool;
	struct rte_ring *port_ring; /* NULL: no port */
	uint16_t port;
} sf;

void
sf_setup_pool(unsigned int n, const char *const *eal_extra)
{
	tu_eal_setup_args(eal_extra);
	sf.pool = ft_pool_create("sf_pool", n, EVG_PKT_PRIV_SIZE);
}

void
sf_setup(void)
{
	sf_setup_pool(SF_POOL_SIZE, NULL);
}

void
sf_setup_ring_port(void)
{
	static const char *const args[] = {"--vdev=" SF_RING_PORT, NULL};

	sf_setup_pool(SF_POOL_SIZE, args);
	sf.port_ring = ft_ring_port_start(SF_RING_PORT, sf.pool, &sf.port);
}

void
sf_teardown(void)
{
	unsigned int leaked;

	if (sf.port_ring != NULL)
		ft_ring_port_stop(sf.port, sf.port_ring);
	leaked = ft_pool_free(sf.pool);
	tu_eal_teardown();
	ft_abort_on_leak(leaked);
}

struct rte_mempool *
sf_pool(void)
{
	return sf.pool;
}

uint16_t
sf_port(void)
{
	return sf.port;
}

struct rte_ring *
sf_port_ring(void)
{
	return sf.port_ring;
}

void
sf_edge(struct evg_edge *e, const char *name, unsigned int size,
	enum evg_edge_policy policy)
{
	cr_assert_eq(evg_edge_init(e, name, size, SOCKET_ID_ANY, false, false,
				   policy),
		     0, "edge %s", name);
}

void
sf_edges_init(struct sf_edges *e, const char *prefix, unsigned int in_size,
	      enum evg_edge_policy in_policy, unsigned int out_size,
	      enum evg_edge_policy out_policy)
{
	char name[RTE_RING_NAMESIZE];

	memset(e, 0, sizeof(*e));
	for (unsigned int i = 0; i < SF_NB_IN; i++) {
		snprintf(name, sizeof(name), "%s_in%u", prefix, i);
		sf_edge(&e->in[i], name, in_size, in_policy);
	}
	if (out_size > 0) {
		snprintf(name, sizeof(name), "%s_out", prefix);
		sf_edge(&e->out, name, out_size, out_policy);
	}
}

void
sf_edges_fini(struct sf_edges *e)
{
	for (unsigned int i = 0; i < SF_NB_IN; i++)
		evg_edge_fini(&e->in[i]);
	if (e->out.ring != NULL)
		evg_edge_fini(&e->out);
	sf_expect_in_use(0);
}

void
sf_feed(struct evg_edge *e, struct rte_mbuf *m)
{
	cr_assert_eq(evg_edge_push(e, &m, 1), 1, "edge %s full", e->ring->name);
}

struct rte_mbuf *
sf_mbuf(uint8_t fill)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(sf.pool);

	cr_assert_not_null(m, "pool exhausted");
	memset(evg_pkt(m), fill, sizeof(struct evg_pkt));
	return m;
}

void
sf_expect_in_use(unsigned int want)
{
	unsigned int got = rte_mempool_in_use_count(sf.pool);

	cr_assert_eq(got, want, "%u mbufs in use, expected %u", got, want);
}

void
sf_expect_counter_names(const struct evg_stage_ops *ops, const char *name,
			const char *const *names, unsigned int n)
{
	cr_assert_str_eq(ops->name, name);
	cr_assert_eq(ops->nb_counters, n, "%s: %u counters, expected %u", name,
		     ops->nb_counters, n);
	for (unsigned int i = 0; i < n; i++)
		cr_assert_str_eq(ops->counter_names[i], names[i],
				 "%s: counter %u", name, i);
}

const struct evg_net_if sf_ifc = {
	.mac = {.addr_bytes = {0x02, 0, 0, 0, 0, 0x01}},
	.ip = RTE_BE32(FT_OUR_IP),
	.udp_port = EVG_EVF_UDP_PORT,
};

struct rte_mbuf *
sf_data_mbuf(uint32_t src_ip, uint16_t sport, uint32_t producer,
	     uint32_t stream, uint64_t seq, uint16_t count, int vlan)
{
	uint8_t evf[FT_FRAME_MAX - 64];
	struct ft_udp_spec s = ft_udp_to_us(0);
	struct ft_frame f;

	s.plen = ft_evf_data(evf, sizeof(evf), producer, stream, FT_SESSION,
			     seq, count);
	s.payload = evf;
	s.src_ip = src_ip;
	s.sport = sport;
	s.vlan = vlan;
	ft_build_udp(&f, &s);
	return ft_to_mbuf(sf.pool, &f);
}

struct rte_mbuf *
sf_received_data(uint32_t src_ip, uint16_t sport, uint32_t producer,
		 uint32_t stream, uint64_t seq, uint16_t count, int vlan)
{
	struct rte_mbuf *m =
		sf_data_mbuf(src_ip, sport, producer, stream, seq, count, vlan);
	struct evg_pkt *pkt = evg_pkt(m);

	memset(pkt, 0, sizeof(*pkt));
	cr_assert_eq(evg_net_classify(&sf_ifc, m, &pkt->net),
		     EVG_NET_CLASS_EVF);
	cr_assert_eq(evg_evf_validate(rte_pktmbuf_mtod_offset(
					      m, void *, pkt->net.payload_off),
				      pkt->net.payload_len, &pkt->hdr),
		     EVG_EVF_OK);
	pkt->rx_tsc = rte_rdtsc();
	return m;
}
