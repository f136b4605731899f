/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The rx stage over a net_ring port. Frames crafted byte by byte
 * (frame_testutil) go onto the port's RX ring, one evg_rx_ops.poll() runs,
 * and the test reads the edges and the counters the stage exports.
 *
 * The ring PMD only moves mbuf pointers, so every frame put on the port is
 * in use until freed: each test ends by draining the edges and the port
 * and asserting that the pool is whole again.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_ring.h>

#include "eal_testutil.h"
#include "evg_stages.h"
#include "frame_testutil.h"

#define POOL_SIZE 511
#define NB_EDGES 4 /* seq edges, at most */
#define PRODUCER 7u
#define STREAM 42u
#define OTHER_SRC 0x0a000063u /* 10.0.0.99 */
#define OTHER_PORT 40099u

static struct rte_mempool *pool;
static struct rte_ring *port_rx; /* what the port receives */
static uint16_t port;
static struct evg_cfg cfg;
static struct evg_edge seq_edge[NB_EDGES];
static struct evg_edge tx_edge;
static struct evg_rx_ctx ctx;
static struct evg_node node = {.ops = &evg_rx_ops, .ctx = &ctx};
static volatile bool stop_rx;
static uint16_t burst = 32;

static const struct evg_net_if ifc = {
	.mac = {.addr_bytes = {0x02, 0, 0, 0, 0, 0x01}},
	.ip = RTE_BE32(FT_OUR_IP),
	.udp_port = EVG_EVF_UDP_PORT,
};

/* ---- fixture --------------------------------------------------------- */

static void
new_edge(struct evg_edge *e, const char *name, unsigned int size,
	 enum evg_edge_policy policy)
{
	cr_assert_eq(evg_edge_init(e, name, size, SOCKET_ID_ANY, false, false,
				   policy),
		     0, "edge %s", name);
}

static void
rx_setup(void)
{
	static const char *const args[] = {"--vdev=net_ring0", NULL};

	tu_eal_setup_args(args);
	pool = ft_pool_create("rx_test", POOL_SIZE, EVG_PKT_PRIV_SIZE);
	port_rx = ft_ring_port_start("net_ring0", pool, &port);
	new_edge(&tx_edge, "rx_test_tx", 256, EVG_EDGE_DROP);
	cr_assert_eq(evg_cfg_defaults(&cfg), 0);
	cfg.ip = ifc.ip;
}

/* Free whatever sits on the edges and the port. */
static void
drain_all(void)
{
	for (unsigned int s = 0; s < NB_EDGES; s++)
		if (seq_edge[s].ring != NULL)
			ft_ring_free_all(seq_edge[s].ring);
	ft_ring_free_all(tx_edge.ring);
	ft_ring_free_all(port_rx);
}

/* Criterion ignores assertions in .fini; a test that ends early still
 * gets its leak reported, as a crash, by ft_abort_on_leak(). */
static void
rx_teardown(void)
{
	unsigned int leaked;

	drain_all();
	for (unsigned int s = 0; s < NB_EDGES; s++)
		evg_edge_fini(&seq_edge[s]);
	evg_edge_fini(&tx_edge);
	ft_ring_port_stop(port, port_rx);
	leaked = ft_pool_free(pool);
	tu_eal_teardown();
	ft_abort_on_leak(leaked);
}

TestSuite(rx, .init = rx_setup, .fini = rx_teardown);

static struct evg_rx_conf
conf_for(unsigned int nb_shards)
{
	struct evg_rx_conf c = {
		.port_id = port,
		.burst = burst,
		.ifc = &ifc,
		.cfg = &cfg,
		.nb_shards = nb_shards,
		.tx_out = &tx_edge,
		.stop_rx = &stop_rx,
		.tsc_hz = rte_get_tsc_hz(),
	};

	for (unsigned int s = 0; s < nb_shards && s < NB_EDGES; s++)
		c.seq_out[s] = &seq_edge[s];
	return c;
}

/* Edges to nb_shards shards of `size` slots, and the stage over them. */
static void
start(unsigned int nb_shards, enum evg_edge_policy policy, unsigned int size)
{
	struct evg_rx_conf c = conf_for(nb_shards);
	char name[32];

	for (unsigned int s = 0; s < nb_shards; s++) {
		snprintf(name, sizeof(name), "rx_test_seq%u", s);
		new_edge(&seq_edge[s], name, size, policy);
	}
	cr_assert_eq(evg_rx_init(&ctx, &c), 0);
}

static void
allow(const char *spec)
{
	char err[EVG_CFG_ERR_LEN];

	cr_assert_eq(evg_cfg_parse_allow(spec, &cfg.allow[cfg.nb_allow], err,
					 sizeof(err)),
		     0, "%s", err);
	cfg.nb_allow++;
}

/* ---- traffic --------------------------------------------------------- */

static void
inject_mbuf(struct rte_mbuf *m)
{
	cr_assert_eq(rte_ring_enqueue(port_rx, m), 0, "port ring full");
}

/* Returns the frame's length. */
static uint16_t
inject(const struct ft_frame *f)
{
	inject_mbuf(ft_to_mbuf(pool, f));
	return f->len;
}

/* A one-event DATA mbuf from src_ip:sport. */
static struct rte_mbuf *
data_mbuf(uint32_t src_ip, uint16_t sport, uint32_t producer, uint32_t stream,
	  uint64_t seq, int vlan)
{
	uint8_t evf[128];
	struct ft_udp_spec s = ft_udp_to_us(0);
	struct ft_frame f;

	s.plen = ft_evf_data(evf, sizeof(evf), producer, stream, FT_SESSION,
			     seq, 1);
	s.payload = evf;
	s.src_ip = src_ip;
	s.sport = sport;
	s.vlan = vlan;
	ft_build_udp(&f, &s);
	return ft_to_mbuf(pool, &f);
}

static void
inject_data_from(uint32_t src_ip, uint16_t sport, uint32_t producer,
		 uint32_t stream, uint64_t seq, int vlan)
{
	inject_mbuf(data_mbuf(src_ip, sport, producer, stream, seq, vlan));
}

static void
inject_data(uint32_t producer, uint32_t stream, uint64_t seq)
{
	inject_data_from(FT_PEER_IP, FT_PEER_PORT, producer, stream, seq,
			 FT_NO_VLAN);
}

static unsigned int
poll_rx(void)
{
	return evg_rx_ops.poll(&node);
}

/* Take everything off e (at most max) into pkts. */
static unsigned int
pull(struct evg_edge *e, struct rte_mbuf **pkts, unsigned int max)
{
	unsigned int n = evg_edge_pull(e, pkts, max);

	cr_assert_eq(evg_edge_count(e), 0, "more than %u frames on an edge",
		     max);
	return n;
}

static unsigned int
name_index(const char *name)
{
	for (unsigned int i = 0; i < evg_rx_ops.nb_counters; i++)
		if (strcmp(evg_rx_ops.counter_names[i], name) == 0)
			return i;
	cr_assert_fail("no rx counter named %s", name);
	return 0;
}

static uint64_t
counter(const char *name)
{
	uint64_t v[128];

	cr_assert_leq(evg_rx_ops.nb_counters, RTE_DIM(v));
	evg_rx_ops.read_counters(&node, v);
	return v[name_index(name)];
}

static void
expect_counter(const char *name, uint64_t want)
{
	uint64_t got = counter(name);

	cr_assert_eq(got, want, "counter %s is %" PRIu64 ", expected %" PRIu64,
		     name, got, want);
}

/* expect_counters("a=1 b=0"): each counter named has the value given. */
static void
expect_counters(const char *list)
{
	char name[64];
	uint64_t want;
	int used;

	while (sscanf(list, " %63[^=]=%" SCNu64 "%n", name, &want, &used) ==
	       2) {
		expect_counter(name, want);
		list += used;
	}
	cr_assert_eq(*list, '\0', "bad counter list at \"%s\"", list);
}

static void
expect_in_use(unsigned int want)
{
	unsigned int got = rte_mempool_in_use_count(pool);

	cr_assert_eq(got, want, "%u mbufs in use, expected %u", got, want);
}

/* Frames waiting on the (first) seq edge and on the tx edge. */
static void
expect_edges(unsigned int seq, unsigned int tx)
{
	cr_assert_eq(evg_edge_count(&seq_edge[0]), seq, "%u frames to seq",
		     evg_edge_count(&seq_edge[0]));
	cr_assert_eq(evg_edge_count(&tx_edge), tx, "%u frames to tx",
		     evg_edge_count(&tx_edge));
}

/* Every test ends here: whatever the stage passed on or answered, and
 * whatever it left on the port, is freed, and then no mbuf may be left. */
static void
expect_all_returned(void)
{
	drain_all();
	expect_in_use(0);
}

/* Assert m is a NAK with reason code answering (PRODUCER, stream,
 * FT_SESSION, seq), sent to dst_ip:dport, every byte as PROTOCOL.md says. */
static void
check_nak(const struct rte_mbuf *m, int vlan, uint32_t dst_ip, uint16_t dport,
	  uint16_t code, uint32_t stream, uint64_t seq)
{
	uint8_t want[EVG_EVF_HDR_LEN];

	ft_evf_control(want, EVG_EVF_NAK, code, PRODUCER, stream, FT_SESSION,
		       seq);
	ft_check_udp_reply(m, vlan, dst_ip, dport, want, sizeof(want));
}

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
		ctx.stats.c[i] = 1000 + i;
	for (unsigned int i = 0; i < EVG_NET_CLASS_MAX; i++)
		ctx.stats.net.c[i] = 2000 + i;
	for (unsigned int i = 0; i < EVG_EVF_VERDICT_MAX; i++)
		ctx.stats.evf.v[i] = 3000 + i;
	evg_rx_ops.read_counters(&node, v);
	for (unsigned int i = 0; i < EVG_RX_STAT_MAX; i++)
		cr_assert_eq(v[name_index(rx_names[i])], 1000 + i, "%s",
			     rx_names[i]);
	for (unsigned int i = 0; i < EVG_NET_CLASS_MAX; i++) {
		snprintf(name, sizeof(name), "net_%s",
			 evg_net_class_name((enum evg_net_class)i));
		cr_assert_eq(v[name_index(name)], 2000 + i, "%s", name);
	}
	for (unsigned int i = 0; i < EVG_EVF_VERDICT_MAX; i++) {
		snprintf(name, sizeof(name), "evf_%s",
			 evg_evf_verdict_name((enum evg_evf_verdict)i));
		cr_assert_eq(v[name_index(name)], 3000 + i, "%s", name);
	}
	expect_all_returned();
}

Test(rx, init_rejects_bad_conf_and_hooks_nak_busy_on_drop_edges_only)
{
	struct evg_rx_conf c;

	new_edge(&seq_edge[0], "rx_test_d", 8, EVG_EDGE_DROP);
	new_edge(&seq_edge[1], "rx_test_b", 8, EVG_EDGE_BACKPRESSURE);
	c = conf_for(2);
	cr_assert_eq(evg_rx_init(NULL, &c), -EINVAL);
	cr_assert_eq(evg_rx_init(&ctx, NULL), -EINVAL);
#define BAD_(field, value)                                            \
	do {                                                          \
		c = conf_for(2);                                      \
		c.field = value;                                      \
		cr_assert_eq(evg_rx_init(&ctx, &c), -EINVAL, #field); \
	} while (0)
	BAD_(ifc, NULL);
	BAD_(cfg, NULL);
	BAD_(tx_out, NULL);
	BAD_(stop_rx, NULL);
	BAD_(seq_out[1], NULL);
	BAD_(burst, 0);
	BAD_(burst, EVG_BURST_MAX + 1);
	BAD_(nb_shards, 0);
	BAD_(nb_shards, EVG_STAGES_MAX_SHARDS + 1);
#undef BAD_
	cr_assert_null(seq_edge[0].on_full, "hooked by a refused init");
	c = conf_for(2);
	c.burst = EVG_BURST_MAX;
	cr_assert_eq(evg_rx_init(&ctx, &c), 0);
	cr_assert_not_null(seq_edge[0].on_full, "DROP edge without NAK BUSY");
	cr_assert_eq(seq_edge[0].on_full_arg, &ctx);
	cr_assert_null(seq_edge[1].on_full, "BACKPRESSURE edge hooked");
	expect_counter("packets", 0);
	expect_all_returned();
}

/* ---- ARP and ICMP ---------------------------------------------------- */

Test(rx, arp_request_for_our_ip_gets_reply_on_tx_edge)
{
	struct rte_mbuf *out[4];
	struct ft_frame f;
	uint64_t bytes = 0;

	start(1, EVG_EDGE_DROP, 64);
	ft_build_arp(&f, FT_NO_VLAN, 1, FT_OUR_IP);
	bytes += inject(&f);
	ft_build_arp(&f, FT_TCI, 1, FT_OUR_IP);
	bytes += inject(&f);
	ft_build_arp(&f, FT_NO_VLAN, 1, FT_OTHER_IP);
	bytes += inject(&f);
	cr_assert_eq(poll_rx(), 3);
	cr_assert_eq(pull(&tx_edge, out, RTE_DIM(out)), 2);
	ft_check_arp_reply(out[0], FT_NO_VLAN);
	ft_check_arp_reply(out[1], FT_TCI);
	rte_pktmbuf_free_bulk(out, 2);
	cr_assert_eq(evg_edge_count(&seq_edge[0]), 0);
	expect_counter("packets", 3);
	expect_counter("bytes", bytes);
	expect_counters("net_arp=2 net_arp_ignored=1 arp_replies=2");
	expect_all_returned();
}

Test(rx, icmp_echo_request_gets_echo_reply_on_tx_edge)
{
	struct ft_frame req[2];
	struct rte_mbuf *out[4];

	start(1, EVG_EDGE_DROP, 64);
	ft_build_icmp_echo(&req[0], FT_NO_VLAN, 1, 56);
	ft_build_icmp_echo(&req[1], FT_TCI, 2, 7);
	inject(&req[0]);
	inject(&req[1]);
	cr_assert_eq(poll_rx(), 2);
	cr_assert_eq(pull(&tx_edge, out, RTE_DIM(out)), 2);
	ft_check_echo_reply(out[0], &req[0], FT_NO_VLAN, 56);
	ft_check_echo_reply(out[1], &req[1], FT_TCI, 7);
	rte_pktmbuf_free_bulk(out, 2);
	expect_counters("net_icmp_echo=2 icmp_replies=2 to_seq=0");
	expect_all_returned();
}

Test(rx, reply_that_cannot_be_built_is_freed_and_counted)
{
	struct ft_frame f[2];

	/* A tag the NIC stripped must go back in, and there is no headroom
	 * for it. */
	start(1, EVG_EDGE_DROP, 64);
	ft_build_arp(&f[0], FT_NO_VLAN, 1, FT_OUR_IP);
	ft_build_icmp_echo(&f[1], FT_NO_VLAN, 1, 8);
	for (int i = 0; i < 2; i++) {
		struct rte_mbuf *m = ft_to_mbuf(pool, &f[i]);

		memmove(m->buf_addr, rte_pktmbuf_mtod(m, void *), f[i].len);
		m->data_off = 0;
		ft_mark_stripped(m, FT_TCI);
		inject_mbuf(m);
	}
	cr_assert_eq(poll_rx(), 2);
	expect_edges(0, 0);
	expect_counters("reply_failed=2 arp_replies=0 icmp_replies=0");
	expect_all_returned();
}

/* ---- drops ----------------------------------------------------------- */

Test(rx, net_level_drops_are_counted_and_freed)
{
	uint8_t evf[128];
	uint16_t len = ft_evf_data(evf, sizeof(evf), PRODUCER, STREAM,
				   FT_SESSION, 0, 1);
	struct ft_frame f;

	start(1, EVG_EDGE_DROP, 64);
	ft_evf_udp_frame(&f, evf, len, FT_NO_VLAN);
	ft_put16(f.b + FT_AT_UDP_DPORT, 53);
	inject(&f);
	ft_evf_udp_frame(&f, evf, len, FT_NO_VLAN);
	ft_put16(f.b + FT_AT_IP_DST_LO, 3);
	ft_fix_ip_cksum(&f);
	inject(&f);
	ft_evf_udp_frame(&f, evf, len, FT_NO_VLAN);
	ft_put16(f.b + FT_AT_IP_FRAG, 0x2000); /* more fragments */
	ft_fix_ip_cksum(&f);
	inject(&f);
	cr_assert_eq(poll_rx(), 3);
	expect_counters("net_udp_port=1 net_ip_not_ours=1 net_ip_fragment=1 "
			"net_evf=0 evf_ok=0");
	expect_edges(0, 0);
	expect_all_returned();
}

static void
expect_evf_counts(const uint64_t *want)
{
	char name[64];

	for (int v = 0; v < EVG_EVF_VERDICT_MAX; v++) {
		snprintf(name, sizeof(name), "evf_%s",
			 evg_evf_verdict_name((enum evg_evf_verdict)v));
		expect_counter(name, want[v]);
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

	start(1, EVG_EDGE_DROP, 64);
	ft_evf_udp_frame(&f, evf, ft_evf_malformed(evf, sizeof(evf), *v),
			 FT_NO_VLAN);
	inject(&f);
	cr_assert_eq(poll_rx(), 1);
	want[*v] = 1;
	expect_evf_counts(want);
	expect_counter("net_evf", 1);
	expect_edges(0, 0); /* never stored, never answered */
	expect_counter("to_seq", 0);
	expect_all_returned();
}

Test(rx, evf1_vectors_are_counted_under_their_verdicts)
{
	static struct ft_evf_vector vec;
	uint64_t want[EVG_EVF_VERDICT_MAX] = {0};
	FILE *fp = ft_evf_vectors_open();
	unsigned int n = 0;
	struct ft_frame f;

	start(1, EVG_EDGE_DROP, 64);
	while (ft_evf_vector_next(fp, &vec)) {
		/* A frame beyond a standard MTU cannot arrive in one mbuf. */
		if (vec.len + 46 > FT_FRAME_MAX)
			continue;
		want[vec.verdict]++;
		ft_evf_udp_frame(&f, vec.frame, (uint16_t)vec.len, FT_NO_VLAN);
		inject(&f);
		cr_assert_eq(poll_rx(), 1, "vector %s", vec.note);
		n++;
	}
	fclose(fp);
	cr_assert_geq(n, 30, "only %u vectors", n);
	expect_evf_counts(want);
	expect_counter("to_seq", want[EVG_EVF_OK]);
	cr_assert_eq(evg_edge_count(&tx_edge), 0, "a vector was answered");
	expect_in_use(want[EVG_EVF_OK]);
	expect_all_returned();
}

/* ---- to the sequencer ------------------------------------------------ */

Test(rx, valid_data_reaches_the_shard_seq_shard_names_with_pkt_filled)
{
	struct rte_mbuf *out[16];
	unsigned int seen = 0, busy_shards = 0;
	uint64_t before, after;

	start(4, EVG_EDGE_DROP, 64);
	for (uint32_t p = 1; p <= 8; p++)
		inject_data_from(FT_PEER_IP, FT_PEER_PORT, p, STREAM, 100 + p,
				 p % 2 ? FT_TCI : FT_NO_VLAN);
	before = rte_rdtsc();
	cr_assert_eq(poll_rx(), 8);
	after = rte_rdtsc();
	expect_counters("to_seq=8 evf_ok=8");
	for (unsigned int s = 0; s < 4; s++) {
		unsigned int n = pull(&seq_edge[s], out, RTE_DIM(out));

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
			cr_assert_eq(out[i]->port, port, "m->port not set");
			seen |= 1u << p;
		}
		rte_pktmbuf_free_bulk(out, n);
	}
	cr_assert_eq(seen, 0x1feu, "frames lost: %#x", seen);
	cr_assert_geq(busy_shards, 2, "test keys all on one shard");
	expect_all_returned();
}

Test(rx, frames_of_one_key_keep_their_order)
{
	struct rte_mbuf *out[32];
	uint64_t next[3] = {0};

	start(4, EVG_EDGE_DROP, 64);
	for (uint64_t seq = 0; seq < 10; seq++)
		for (uint32_t k = 0; k < 3; k++)
			inject_data(PRODUCER + k, STREAM, seq);
	cr_assert_eq(poll_rx(), 30);
	for (unsigned int s = 0; s < 4; s++) {
		unsigned int n = pull(&seq_edge[s], out, RTE_DIM(out));

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
	expect_all_returned();
}

Test(rx, each_of_two_shards_gets_its_own_keys)
{
	uint32_t prod[2] = {0, 0};
	struct rte_mbuf *out[4];

	for (uint32_t p = 1; prod[0] == 0 || prod[1] == 0; p++)
		prod[evg_seq_shard(p, STREAM, 2)] = p;
	start(2, EVG_EDGE_DROP, 64);
	for (uint64_t seq = 0; seq < 2; seq++)
		for (int s = 0; s < 2; s++)
			inject_data(prod[s], STREAM, seq);
	cr_assert_eq(poll_rx(), 4);
	for (int s = 0; s < 2; s++) {
		cr_assert_eq(pull(&seq_edge[s], out, RTE_DIM(out)), 2);
		for (int i = 0; i < 2; i++) {
			cr_assert_eq(evg_pkt(out[i])->hdr.producer_id, prod[s],
				     "shard %d got producer %u", s,
				     evg_pkt(out[i])->hdr.producer_id);
			cr_assert_eq(evg_pkt(out[i])->hdr.seq, (uint64_t)i);
		}
		rte_pktmbuf_free_bulk(out, 2);
	}
	expect_all_returned();
}

Test(rx, ping_passes_through_to_seq)
{
	uint8_t evf[EVG_EVF_HDR_LEN];
	struct rte_mbuf *out[2];
	struct ft_frame f;

	start(1, EVG_EDGE_DROP, 64);
	ft_evf_udp_frame(&f, evf,
			 ft_evf_ping(evf, PRODUCER, STREAM, FT_SESSION),
			 FT_NO_VLAN);
	inject(&f);
	cr_assert_eq(poll_rx(), 1);
	cr_assert_eq(pull(&seq_edge[0], out, RTE_DIM(out)), 1);
	cr_assert_eq(evg_pkt(out[0])->hdr.type, EVG_EVF_PING);
	cr_assert_eq(evg_pkt(out[0])->hdr.producer_id, PRODUCER);
	rte_pktmbuf_free(out[0]);
	expect_edges(0, 0); /* rx does not answer PING itself */
	expect_counter("to_seq", 1);
	expect_all_returned();
}

/* ---- allow list and NAKs --------------------------------------------- */

Test(rx, disallowed_source_gets_one_nak_rejected_and_nothing_reaches_seq)
{
	struct rte_mbuf *out[4], *m;

	allow("10.0.0.2/32");
	start(1, EVG_EDGE_DROP, 64);
	inject_data_from(OTHER_SRC, OTHER_PORT, PRODUCER, STREAM, 77, FT_TCI);
	/* From the same source with a bad CRC (in its last byte): dropped as
	 * malformed, not answered. */
	m = data_mbuf(OTHER_SRC, OTHER_PORT, PRODUCER, STREAM, 78, FT_NO_VLAN);
	*rte_pktmbuf_mtod_offset(m, uint8_t *, m->data_len - 1) ^= 0x01;
	inject_mbuf(m);
	cr_assert_eq(poll_rx(), 2);
	cr_assert_eq(pull(&tx_edge, out, RTE_DIM(out)), 1, "not one NAK");
	check_nak(out[0], FT_TCI, OTHER_SRC, OTHER_PORT, EVG_EVF_NAK_REJECTED,
		  STREAM, 77);
	rte_pktmbuf_free(out[0]);
	expect_edges(0, 0);
	expect_counters("rejected=1 naks_rejected=1 evf_crc=1 to_seq=0");
	expect_all_returned();
}

Test(rx, disallowed_producer_gets_one_nak_rejected)
{
	struct rte_mbuf *out[4];

	allow("10.0.0.0/24:1-5");
	start(1, EVG_EDGE_DROP, 64);
	inject_data(PRODUCER, 9, 5); /* producer 7: not in 1-5 */
	inject_data(3, 9, 0);
	cr_assert_eq(poll_rx(), 2);
	cr_assert_eq(pull(&tx_edge, out, RTE_DIM(out)), 1, "not one NAK");
	check_nak(out[0], FT_NO_VLAN, FT_PEER_IP, FT_PEER_PORT,
		  EVG_EVF_NAK_REJECTED, 9, 5);
	rte_pktmbuf_free(out[0]);
	cr_assert_eq(pull(&seq_edge[0], out, RTE_DIM(out)), 1);
	cr_assert_eq(evg_pkt(out[0])->hdr.producer_id, 3, "allowed one lost");
	rte_pktmbuf_free(out[0]);
	expect_counters("rejected=1 naks_rejected=1 to_seq=1");
	expect_all_returned();
}

Test(rx, naks_beyond_the_burst_are_counted_naks_limited)
{
	struct rte_mbuf *out[16];

	cfg.nak_rate = 1; /* per second: no refill during the test */
	cfg.nak_burst = 4;
	allow("10.0.0.2/32");
	start(1, EVG_EDGE_DROP, 64);
	for (uint64_t seq = 0; seq < 10; seq++)
		inject_data_from(OTHER_SRC, OTHER_PORT, PRODUCER, STREAM, seq,
				 FT_NO_VLAN);
	cr_assert_eq(poll_rx(), 10);
	cr_assert_eq(pull(&tx_edge, out, RTE_DIM(out)), 4);
	for (unsigned int i = 0; i < 4; i++)
		check_nak(out[i], FT_NO_VLAN, OTHER_SRC, OTHER_PORT,
			  EVG_EVF_NAK_REJECTED, STREAM, i);
	rte_pktmbuf_free_bulk(out, 4);
	expect_counters("rejected=10 naks_rejected=4 naks_limited=6");
	expect_all_returned();
}

Test(rx, full_drop_seq_edge_answers_nak_busy_for_the_excess)
{
	struct rte_mbuf *out[8];

	start(1, EVG_EDGE_DROP, 4);
	for (uint64_t seq = 0; seq < 7; seq++)
		inject_data(PRODUCER, STREAM, seq);
	cr_assert_eq(poll_rx(), 7);
	cr_assert_eq(pull(&seq_edge[0], out, RTE_DIM(out)), 4);
	for (unsigned int i = 0; i < 4; i++)
		cr_assert_eq(evg_pkt(out[i])->hdr.seq, i);
	rte_pktmbuf_free_bulk(out, 4);
	cr_assert_eq(pull(&tx_edge, out, RTE_DIM(out)), 3);
	for (unsigned int i = 0; i < 3; i++)
		check_nak(out[i], FT_NO_VLAN, FT_PEER_IP, FT_PEER_PORT,
			  EVG_EVF_NAK_BUSY, STREAM, 4 + i);
	rte_pktmbuf_free_bulk(out, 3);
	expect_counters("to_seq=4 naks_busy=3");
	cr_assert_eq(seq_edge[0].stats.dropped, 3);
	expect_all_returned();
}

Test(rx, nak_busy_goes_through_the_rate_limit)
{
	cfg.nak_rate = 1;
	cfg.nak_burst = 1;
	start(1, EVG_EDGE_DROP, 2);
	for (uint64_t seq = 0; seq < 5; seq++)
		inject_data(PRODUCER, STREAM, seq);
	cr_assert_eq(poll_rx(), 5);
	expect_edges(2, 1);
	expect_counters("naks_busy=1 naks_limited=2");
	expect_in_use(3);
	expect_all_returned();
}

/* ---- input limits ---------------------------------------------------- */

Test(rx, backpressure_seq_edge_with_3_free_slots_takes_at_most_3_frames)
{
	/* If rx pushed more than fits, the edge would give up at once and
	 * count a drop rather than hang the test. */
	static const volatile bool give_up = true;
	struct rte_mbuf *fill[8];

	start(1, EVG_EDGE_BACKPRESSURE, 8);
	seq_edge[0].stop = &give_up;
	cr_assert_eq(rte_pktmbuf_alloc_bulk(pool, fill, 5), 0);
	cr_assert_eq(evg_edge_push(&seq_edge[0], fill, 5), 5);
	for (uint64_t seq = 0; seq < 10; seq++)
		inject_data(PRODUCER, STREAM, seq);
	cr_assert_eq(poll_rx(), 3);
	cr_assert_eq(rte_ring_count(port_rx), 7, "frames taken off the port");
	cr_assert_eq(evg_edge_count(&seq_edge[0]), 8);
	cr_assert_eq(poll_rx(), 0, "polled with a full edge");
	cr_assert_eq(rte_ring_count(port_rx), 7);
	cr_assert_eq(pull(&seq_edge[0], fill, RTE_DIM(fill)), 8);
	rte_pktmbuf_free_bulk(fill, 8);
	cr_assert_eq(poll_rx(), 7);
	cr_assert_eq(seq_edge[0].stats.dropped, 0);
	expect_counter("packets", 10);
	expect_all_returned();
}

Test(rx, burst_is_at_most_conf_burst)
{
	burst = 4;
	start(1, EVG_EDGE_DROP, 64);
	for (uint64_t seq = 0; seq < 10; seq++)
		inject_data(PRODUCER, STREAM, seq);
	cr_assert_eq(poll_rx(), 4);
	cr_assert_eq(rte_ring_count(port_rx), 6);
	expect_all_returned();
}

Test(rx, stop_rx_set_polls_nothing_and_leaves_frames_on_the_port)
{
	start(1, EVG_EDGE_DROP, 64);
	for (uint64_t seq = 0; seq < 3; seq++)
		inject_data(PRODUCER, STREAM, seq);
	stop_rx = true;
	cr_assert_eq(poll_rx(), 0);
	cr_assert_eq(rte_ring_count(port_rx), 3);
	expect_counter("packets", 0);
	stop_rx = false;
	cr_assert_eq(poll_rx(), 3);
	expect_all_returned();
}
