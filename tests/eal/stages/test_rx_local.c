/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The rx stage, what it handles without a sequencer: its counters and
 * set-up, ARP and ICMP echo answered on the tx edge, replies that cannot
 * be built, and frames dropped at the network or EVF level, each counted
 * under its reason. The fixture (port, edges, checks) is rx_fixture.h;
 * test_rx_seq.c has the frames rx hands on or refuses.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "rx_fixture.h"

TestSuite(rx, .init = rxf_setup, .fini = rxf_teardown);

/* ---- counters and set-up --------------------------------------------- */

Test(rx, counter_names_are_unique_and_each_reads_its_own_value)
{
	static const char *const rx_names[] = {
#define NAME_(name, desc) #name,
		EVG_RX_STATS_FOREACH(NAME_)
#undef NAME_
	};
	const unsigned int n = evg_rx_ops.nb_counters;
	uint64_t v[128];
	char name[64];

	cr_assert_str_eq(evg_rx_ops.name, "rx");
	cr_assert_null(evg_rx_ops.drain);
	cr_assert_eq(n,
		     EVG_RX_STAT_MAX + EVG_NET_CLASS_MAX + EVG_EVF_VERDICT_MAX);
	for (unsigned int i = 0; i < n; i++) {
		cr_assert_not_null(evg_rx_ops.counter_names[i], "name %u", i);
		for (unsigned int j = 0; j < i; j++)
			cr_assert_str_neq(evg_rx_ops.counter_names[i],
					  evg_rx_ops.counter_names[j],
					  "%s named twice",
					  evg_rx_ops.counter_names[i]);
	}
	/* Distinct values, so each name must find its own. */
	for (unsigned int i = 0; i < EVG_RX_STAT_MAX; i++)
		rxf()->ctx.stats.c[i] = 1000 + i;
	for (unsigned int i = 0; i < EVG_NET_CLASS_MAX; i++)
		rxf()->ctx.stats.net.c[i] = 2000 + i;
	for (unsigned int i = 0; i < EVG_EVF_VERDICT_MAX; i++)
		rxf()->ctx.stats.evf.v[i] = 3000 + i;
	evg_rx_ops.read_counters(&rxf()->node, v);
	for (unsigned int i = 0; i < EVG_RX_STAT_MAX; i++)
		cr_assert_eq(v[rxf_name_index(rx_names[i])], 1000 + i, "%s",
			     rx_names[i]);
	for (unsigned int i = 0; i < EVG_NET_CLASS_MAX; i++) {
		snprintf(name, sizeof(name), "net_%s",
			 evg_net_class_name((enum evg_net_class)i));
		cr_assert_eq(v[rxf_name_index(name)], 2000 + i, "%s", name);
	}
	for (unsigned int i = 0; i < EVG_EVF_VERDICT_MAX; i++) {
		snprintf(name, sizeof(name), "evf_%s",
			 evg_evf_verdict_name((enum evg_evf_verdict)i));
		cr_assert_eq(v[rxf_name_index(name)], 3000 + i, "%s", name);
	}
	rxf_expect_all_returned();
}

Test(rx, init_rejects_bad_conf_and_hooks_nak_busy_on_drop_edges_only)
{
	struct evg_rx_ctx *ctx = &rxf()->ctx;
	struct evg_rx_conf ok, c;

	sf_edge(&rxf()->seq_edge[0], "rx_test_d", 8, EVG_EDGE_DROP);
	sf_edge(&rxf()->seq_edge[1], "rx_test_b", 8, EVG_EDGE_BACKPRESSURE);
	ok = rxf_conf_for(2);
	cr_assert_eq(evg_rx_init(NULL, &ok), -EINVAL);
	cr_assert_eq(evg_rx_init(ctx, NULL), -EINVAL);
	SF_EXPECT_EINVAL(evg_rx_init, ctx, ok, ifc, NULL);
	SF_EXPECT_EINVAL(evg_rx_init, ctx, ok, cfg, NULL);
	SF_EXPECT_EINVAL(evg_rx_init, ctx, ok, tx_out, NULL);
	SF_EXPECT_EINVAL(evg_rx_init, ctx, ok, stop_rx, NULL);
	SF_EXPECT_EINVAL(evg_rx_init, ctx, ok, seq_out[1], NULL);
	SF_EXPECT_EINVAL(evg_rx_init, ctx, ok, burst, 0);
	SF_EXPECT_EINVAL(evg_rx_init, ctx, ok, burst, EVG_BURST_MAX + 1);
	SF_EXPECT_EINVAL(evg_rx_init, ctx, ok, nb_shards, 0);
	SF_EXPECT_EINVAL(evg_rx_init, ctx, ok, nb_shards,
			 EVG_STAGES_MAX_SHARDS + 1);
	cr_assert_null(rxf()->seq_edge[0].on_full, "hooked by a refused init");
	c = rxf_conf_for(2);
	c.burst = EVG_BURST_MAX;
	cr_assert_eq(evg_rx_init(ctx, &c), 0);
	cr_assert_not_null(rxf()->seq_edge[0].on_full,
			   "DROP edge without NAK BUSY");
	cr_assert_eq(rxf()->seq_edge[0].on_full_arg, ctx);
	cr_assert_null(rxf()->seq_edge[1].on_full, "BACKPRESSURE edge hooked");
	rxf_expect_counter("packets", 0);
	rxf_expect_all_returned();
}

/* ---- ARP and ICMP ---------------------------------------------------- */

Test(rx, arp_request_for_our_ip_gets_reply_on_tx_edge)
{
	struct rte_mbuf *out[4];
	struct ft_frame f;
	uint64_t bytes = 0;

	rxf_start(1, EVG_EDGE_DROP, 64);
	ft_build_arp(&f, FT_NO_VLAN, 1, FT_OUR_IP);
	bytes += rxf_inject(&f);
	ft_build_arp(&f, FT_TCI, 1, FT_OUR_IP);
	bytes += rxf_inject(&f);
	ft_build_arp(&f, FT_NO_VLAN, 1, FT_OTHER_IP);
	bytes += rxf_inject(&f);
	cr_assert_eq(rxf_poll(), 3);
	cr_assert_eq(rxf_pull(&rxf()->tx_edge, out, RTE_DIM(out)), 2);
	ft_check_arp_reply(out[0], FT_NO_VLAN);
	ft_check_arp_reply(out[1], FT_TCI);
	rte_pktmbuf_free_bulk(out, 2);
	cr_assert_eq(evg_edge_count(&rxf()->seq_edge[0]), 0);
	rxf_expect_counter("packets", 3);
	rxf_expect_counter("bytes", bytes);
	rxf_expect_counters("net_arp=2 net_arp_ignored=1 arp_replies=2");
	rxf_expect_all_returned();
}

Test(rx, icmp_echo_request_gets_echo_reply_on_tx_edge)
{
	struct ft_frame req[2];
	struct rte_mbuf *out[4];

	rxf_start(1, EVG_EDGE_DROP, 64);
	ft_build_icmp_echo(&req[0], FT_NO_VLAN, 1, 56);
	ft_build_icmp_echo(&req[1], FT_TCI, 2, 7);
	rxf_inject(&req[0]);
	rxf_inject(&req[1]);
	cr_assert_eq(rxf_poll(), 2);
	cr_assert_eq(rxf_pull(&rxf()->tx_edge, out, RTE_DIM(out)), 2);
	ft_check_echo_reply(out[0], &req[0], FT_NO_VLAN, 56);
	ft_check_echo_reply(out[1], &req[1], FT_TCI, 7);
	rte_pktmbuf_free_bulk(out, 2);
	rxf_expect_counters("net_icmp_echo=2 icmp_replies=2 to_seq=0");
	rxf_expect_all_returned();
}

Test(rx, reply_that_cannot_be_built_is_freed_and_counted)
{
	struct ft_frame f[2];

	/* A tag the NIC stripped must go back in, and there is no headroom
	 * for it. */
	rxf_start(1, EVG_EDGE_DROP, 64);
	ft_build_arp(&f[0], FT_NO_VLAN, 1, FT_OUR_IP);
	ft_build_icmp_echo(&f[1], FT_NO_VLAN, 1, 8);
	for (int i = 0; i < 2; i++) {
		struct rte_mbuf *m = ft_to_mbuf(sf_pool(), &f[i]);

		memmove(m->buf_addr, rte_pktmbuf_mtod(m, void *), f[i].len);
		m->data_off = 0;
		ft_mark_stripped(m, FT_TCI);
		rxf_inject_mbuf(m);
	}
	cr_assert_eq(rxf_poll(), 2);
	rxf_expect_edges(0, 0);
	rxf_expect_counters("reply_failed=2 arp_replies=0 icmp_replies=0");
	rxf_expect_all_returned();
}

/* ---- drops ----------------------------------------------------------- */

Test(rx, net_level_drops_are_counted_and_freed)
{
	uint8_t evf[128];
	uint16_t len = ft_evf_data(evf, sizeof(evf), PRODUCER, STREAM,
				   FT_SESSION, 0, 1);
	struct ft_frame f;

	rxf_start(1, EVG_EDGE_DROP, 64);
	ft_evf_udp_frame(&f, evf, len, FT_NO_VLAN);
	ft_put16(f.b + FT_AT_UDP_DPORT, 53);
	rxf_inject(&f);
	ft_evf_udp_frame(&f, evf, len, FT_NO_VLAN);
	ft_put16(f.b + FT_AT_IP_DST_LO, 3);
	ft_fix_ip_cksum(&f);
	rxf_inject(&f);
	ft_evf_udp_frame(&f, evf, len, FT_NO_VLAN);
	ft_put16(f.b + FT_AT_IP_FRAG, 0x2000); /* more fragments */
	ft_fix_ip_cksum(&f);
	rxf_inject(&f);
	cr_assert_eq(rxf_poll(), 3);
	rxf_expect_counters(
		"net_udp_port=1 net_ip_not_ours=1 net_ip_fragment=1 "
		"net_evf=0 evf_ok=0");
	rxf_expect_edges(0, 0);
	rxf_expect_all_returned();
}

static void
expect_evf_counts(const uint64_t *want)
{
	char name[64];

	for (int v = 0; v < EVG_EVF_VERDICT_MAX; v++) {
		snprintf(name, sizeof(name), "evf_%s",
			 evg_evf_verdict_name((enum evg_evf_verdict)v));
		rxf_expect_counter(name, want[v]);
	}
}

ParameterizedTestParameters(rx, malformed_evf_counted_under_its_reason_only)
{
	static int verdicts[EVG_EVF_NB_MALFORMED];

	for (int i = 0; i < EVG_EVF_NB_MALFORMED; i++)
		verdicts[i] = i + 1;
	return cr_make_param_array(int, verdicts, EVG_EVF_NB_MALFORMED);
}

ParameterizedTest(int *v, rx, malformed_evf_counted_under_its_reason_only)
{
	uint64_t want[EVG_EVF_VERDICT_MAX] = {0};
	uint8_t evf[256];
	struct ft_frame f;

	rxf_start(1, EVG_EDGE_DROP, 64);
	ft_evf_udp_frame(&f, evf, ft_evf_malformed(evf, sizeof(evf), *v),
			 FT_NO_VLAN);
	rxf_inject(&f);
	cr_assert_eq(rxf_poll(), 1);
	want[*v] = 1;
	expect_evf_counts(want);
	rxf_expect_counter("net_evf", 1);
	rxf_expect_edges(0, 0); /* never stored, never answered */
	rxf_expect_counter("to_seq", 0);
	rxf_expect_all_returned();
}

Test(rx, evf1_vectors_are_counted_under_their_verdicts)
{
	static struct ft_evf_vector vec;
	uint64_t want[EVG_EVF_VERDICT_MAX] = {0};
	FILE *fp = ft_evf_vectors_open();
	unsigned int n = 0;
	struct ft_frame f;

	rxf_start(1, EVG_EDGE_DROP, 64);
	while (ft_evf_vector_next(fp, &vec)) {
		/* A frame beyond a standard MTU cannot arrive in one mbuf. */
		if (vec.len + 46 > FT_FRAME_MAX)
			continue;
		want[vec.verdict]++;
		ft_evf_udp_frame(&f, vec.frame, (uint16_t)vec.len, FT_NO_VLAN);
		rxf_inject(&f);
		cr_assert_eq(rxf_poll(), 1, "vector %s", vec.note);
		n++;
	}
	fclose(fp);
	cr_assert_geq(n, 30, "only %u vectors", n);
	expect_evf_counts(want);
	rxf_expect_counter("to_seq", want[EVG_EVF_OK]);
	cr_assert_eq(evg_edge_count(&rxf()->tx_edge), 0,
		     "a vector was answered");
	sf_expect_in_use(want[EVG_EVF_OK]);
	rxf_expect_all_returned();
}
