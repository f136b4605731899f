/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/net over real mbufs. Frames are written byte by byte, not with the
 * DPDK structs the library uses, and replies are checked with a checksum
 * routine of the test's own, so a shared misunderstanding cannot pass.
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
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "eal_testutil.h"
#include "evg_evf.h"
#include "evg_net.h"

#define OUR_IP 0x0a000001u  /* 10.0.0.1 */
#define PEER_IP 0x0a000002u /* 10.0.0.2 */
#define OTHER_IP 0x0a000003u
#define PEER_PORT 40000u
#define TCI 0x2064u /* priority 1, VLAN 100 */
#define NO_VLAN (-1)
#define MIN_FRAME 60u /* shortest Ethernet frame without FCS */

static const uint8_t our_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t peer_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static struct rte_mempool *pool;

/* ---- bytes ----------------------------------------------------------- */

struct frame {
	uint8_t b[2048];
	uint16_t len;
	uint16_t l3; /* offset of the IPv4 or ARP header */
};

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* RFC 1071 sum of big-endian words, folded; sum continues a previous one.
 * Data with a correct checksum sums to 0xffff. */
static uint16_t
ocsum(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += get16(p + i);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint16_t
ones_cksum(const uint8_t *p, size_t n)
{
	return (uint16_t)~ocsum(p, n, 0);
}

/* Ethernet header, with an 802.1Q tag unless vlan is NO_VLAN. */
static uint16_t
put_eth(uint8_t *p, const uint8_t *dst, int vlan, uint16_t type)
{
	memcpy(p, dst, 6);
	memcpy(p + 6, peer_mac, 6);
	if (vlan == NO_VLAN) {
		put16(p + 12, type);
		return 14;
	}
	put16(p + 12, 0x8100);
	put16(p + 14, (uint16_t)vlan);
	put16(p + 16, type);
	return 18;
}

/* Zero-pad to the Ethernet minimum, as the sender's NIC does. */
static void
pad(struct frame *f)
{
	if (f->len < MIN_FRAME)
		f->len = MIN_FRAME;
}

static void
fix_ip_cksum(struct frame *f)
{
	uint8_t *ip = f->b + f->l3;

	put16(ip + 10, 0);
	put16(ip + 10, ones_cksum(ip, (size_t)(ip[0] & 0xf) * 4));
}

struct udp_spec {
	int vlan;
	uint32_t dst_ip;
	uint16_t dport;
	uint16_t plen; /* payload bytes, 0x40 + i */
};

static struct udp_spec
udp_to_us(uint16_t plen)
{
	return (struct udp_spec){.vlan = NO_VLAN,
				 .dst_ip = OUR_IP,
				 .dport = EVG_EVF_UDP_PORT,
				 .plen = plen};
}

/* IPv4 header (IHL 5, DF) of a packet with l4_len bytes after it. */
static void
put_ipv4(struct frame *f, uint8_t proto, uint32_t dst, uint16_t l4_len)
{
	uint8_t *ip = f->b + f->l3;

	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + l4_len));
	put16(ip + 4, 0x1234);
	put16(ip + 6, 0x4000);
	ip[8] = 63;
	ip[9] = proto;
	put32(ip + 12, PEER_IP);
	put32(ip + 16, dst);
	fix_ip_cksum(f);
}

static void
build_udp(struct frame *f, const struct udp_spec *s)
{
	uint8_t *udp;

	memset(f, 0, sizeof(*f));
	f->l3 = put_eth(f->b, our_mac, s->vlan, 0x0800);
	put_ipv4(f, 17, s->dst_ip, (uint16_t)(8 + s->plen));
	udp = f->b + f->l3 + 20;
	put16(udp, PEER_PORT);
	put16(udp + 2, s->dport);
	put16(udp + 4, (uint16_t)(8 + s->plen));
	/* What a sender with checksum offload leaves on veth: not a valid
	 * checksum, and it must not matter. */
	put16(udp + 6, 0xbeef);
	for (uint16_t i = 0; i < s->plen; i++)
		udp[8 + i] = (uint8_t)(0x40 + i);
	f->len = (uint16_t)(f->l3 + 28 + s->plen);
	pad(f);
}

static void
build_icmp_echo(struct frame *f, int vlan, uint16_t seq, uint16_t dlen)
{
	uint8_t *icmp;

	memset(f, 0, sizeof(*f));
	f->l3 = put_eth(f->b, our_mac, vlan, 0x0800);
	put_ipv4(f, 1, OUR_IP, (uint16_t)(8 + dlen));
	icmp = f->b + f->l3 + 20;
	icmp[0] = 8;
	put16(icmp + 4, 0x4242);
	put16(icmp + 6, seq);
	for (uint16_t i = 0; i < dlen; i++)
		icmp[8 + i] = (uint8_t)(seq * 7 + i);
	put16(icmp + 2, ones_cksum(icmp, 8u + dlen));
	f->len = (uint16_t)(f->l3 + 28 + dlen);
	pad(f);
}

static void
build_arp(struct frame *f, int vlan, uint16_t op, uint32_t target_ip)
{
	uint8_t *arp;

	memset(f, 0, sizeof(*f));
	f->l3 = put_eth(f->b, bcast_mac, vlan, 0x0806);
	arp = f->b + f->l3;
	put16(arp, 1);
	put16(arp + 2, 0x0800);
	arp[4] = 6;
	arp[5] = 4;
	put16(arp + 6, op);
	memcpy(arp + 8, peer_mac, 6);
	put32(arp + 14, PEER_IP);
	/* target hardware address unknown: zero */
	put32(arp + 24, target_ip);
	f->len = (uint16_t)(f->l3 + 28);
	pad(f);
}

/* ---- mbufs ----------------------------------------------------------- */

static void
net_setup(void)
{
	tu_eal_setup();
	/* No per-lcore cache, so the in-use count is exact. */
	pool = rte_pktmbuf_pool_create("net_test", 63, 0, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE,
				       (int)rte_socket_id());
	cr_assert_not_null(pool, "rte_pktmbuf_pool_create failed");
}

/* Every test must give back what it took. Criterion ignores assertions
 * in .fini, but reports a test that crashes there, and the process's exit
 * status fails the meson test. */
static void
net_teardown(void)
{
	unsigned int in_use = rte_mempool_in_use_count(pool);

	rte_mempool_free(pool);
	tu_eal_teardown();
	if (in_use != 0) {
		fprintf(stderr, "%u mbufs leaked\n", in_use);
		abort();
	}
}

TestSuite(net, .init = net_setup, .fini = net_teardown);

static struct rte_mbuf *
to_mbuf(const struct frame *f)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	char *p;

	cr_assert_not_null(m, "pool exhausted");
	p = rte_pktmbuf_append(m, f->len);
	cr_assert_not_null(p, "frame of %u bytes does not fit", f->len);
	memcpy(p, f->b, f->len);
	return m;
}

static const uint8_t *
bytes(const struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod(m, const uint8_t *);
}

/* As a NIC reports a VLAN tag it took out of the frame. */
static void
mark_stripped(struct rte_mbuf *m)
{
	m->ol_flags |= RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED;
	m->vlan_tci = TCI;
}

static const struct evg_net_if ifc = {
	.mac = {.addr_bytes = {0x02, 0, 0, 0, 0, 0x01}},
	.ip = RTE_BE32(OUR_IP),
	.udp_port = EVG_EVF_UDP_PORT,
};

static enum evg_net_class
class_by_name(const char *name)
{
	for (int c = 0; c < EVG_NET_CLASS_MAX; c++)
		if (strcmp(evg_net_class_name((enum evg_net_class)c), name) ==
		    0)
			return (enum evg_net_class)c;
	cr_assert_fail("no class named %s", name);
	return EVG_NET_CLASS_MAX;
}

static enum evg_net_class
classify(struct rte_mbuf *m, struct evg_net_meta *meta)
{
	return evg_net_classify(&ifc, m, meta);
}

static void
expect_class(enum evg_net_class got, enum evg_net_class want)
{
	cr_assert_eq(got, want, "classified %s, expected %s",
		     evg_net_class_name(got), evg_net_class_name(want));
}

/* ---- names ----------------------------------------------------------- */

Test(net, class_names_are_unique_and_described)
{
	for (int i = 0; i < EVG_NET_CLASS_MAX; i++) {
		const char *n = evg_net_class_name((enum evg_net_class)i);

		cr_assert_not_null(n, "class %d has no name", i);
		cr_assert_gt(strlen(evg_net_class_desc((enum evg_net_class)i)),
			     0, "class %s has no description", n);
		for (int j = 0; j < i; j++)
			cr_assert_str_neq(
				n, evg_net_class_name((enum evg_net_class)j),
				"name %s used twice", n);
	}
	cr_assert_null(evg_net_class_name(EVG_NET_CLASS_MAX));
	cr_assert_null(evg_net_class_desc(EVG_NET_CLASS_MAX));
	cr_assert_not(evg_net_class_is_drop(EVG_NET_CLASS_EVF));
	cr_assert_not(evg_net_class_is_drop(EVG_NET_CLASS_ARP));
	cr_assert_not(evg_net_class_is_drop(EVG_NET_CLASS_ICMP_ECHO));
	cr_assert(evg_net_class_is_drop(EVG_NET_CLASS_MULTI_SEG));
	cr_assert(evg_net_class_is_drop(EVG_NET_CLASS_ICMP_IGNORED));
}

/* ---- ARP ------------------------------------------------------------- */

static void
check_arp_reply(const struct rte_mbuf *m, int vlan)
{
	const uint8_t *b = bytes(m);
	uint16_t l3 = vlan == NO_VLAN ? 14 : 18;
	const uint8_t *arp = b + l3;

	cr_assert_eq(rte_pktmbuf_data_len(m), l3 + 28u, "padding not trimmed");
	cr_assert_eq(rte_pktmbuf_pkt_len(m), l3 + 28u);
	cr_assert_arr_eq(b, peer_mac, 6, "Ethernet dst is not the requester");
	cr_assert_arr_eq(b + 6, our_mac, 6, "Ethernet src is not our MAC");
	if (vlan != NO_VLAN) {
		cr_assert_eq(get16(b + 12), 0x8100, "VLAN tag lost");
		cr_assert_eq(get16(b + 14), (uint16_t)vlan, "VLAN TCI changed");
	}
	cr_assert_eq(get16(b + l3 - 2), 0x0806);
	cr_assert_eq(get16(arp), 1, "hardware type");
	cr_assert_eq(get16(arp + 2), 0x0800, "protocol type");
	cr_assert_eq(arp[4], 6);
	cr_assert_eq(arp[5], 4);
	cr_assert_eq(get16(arp + 6), 2, "op is not reply");
	cr_assert_arr_eq(arp + 8, our_mac, 6, "sha is not our MAC");
	cr_assert_eq(get32(arp + 14), OUR_IP, "spa is not our IP");
	cr_assert_arr_eq(arp + 18, peer_mac, 6, "tha is not the requester");
	cr_assert_eq(get32(arp + 24), PEER_IP, "tpa is not the requester");
	cr_assert_eq(m->l2_len, l3);
}

Test(net, arp_request_for_our_ip_becomes_reply_in_place)
{
	const int vlans[] = {NO_VLAN, TCI};

	for (size_t i = 0; i < RTE_DIM(vlans); i++) {
		struct evg_net_meta meta;
		struct frame f;
		struct rte_mbuf *m;

		build_arp(&f, vlans[i], 1, OUR_IP);
		m = to_mbuf(&f);
		expect_class(classify(m, &meta), EVG_NET_CLASS_ARP);
		cr_assert_eq(meta.src_ip, RTE_BE32(PEER_IP));
		cr_assert_eq(evg_net_arp_reply(&ifc, m, &meta), 0);
		check_arp_reply(m, vlans[i]);
		rte_pktmbuf_free(m);
	}
}

Test(net, arp_request_for_another_ip_is_ignored)
{
	struct evg_net_meta meta;
	struct frame f;
	struct rte_mbuf *m;

	build_arp(&f, NO_VLAN, 1, OTHER_IP);
	m = to_mbuf(&f);
	expect_class(classify(m, &meta), EVG_NET_CLASS_ARP_IGNORED);
	rte_pktmbuf_free(m);
}

Test(net, arp_reply_and_non_ethernet_arp_are_ignored)
{
	struct evg_net_meta meta;
	struct frame f;
	struct rte_mbuf *m;

	/* a reply to us needs no answer */
	build_arp(&f, NO_VLAN, 2, OUR_IP);
	m = to_mbuf(&f);
	expect_class(classify(m, &meta), EVG_NET_CLASS_ARP_IGNORED);
	rte_pktmbuf_free(m);

	/* hardware address length other than 6 */
	build_arp(&f, NO_VLAN, 1, OUR_IP);
	f.b[f.l3 + 4] = 8;
	m = to_mbuf(&f);
	expect_class(classify(m, &meta), EVG_NET_CLASS_ARP_IGNORED);
	rte_pktmbuf_free(m);

	/* cut inside the ARP packet (an unpadded runt from a vdev) */
	build_arp(&f, NO_VLAN, 1, OUR_IP);
	f.len = (uint16_t)(f.l3 + 27);
	m = to_mbuf(&f);
	expect_class(classify(m, &meta), EVG_NET_CLASS_ARP_IGNORED);
	rte_pktmbuf_free(m);
}

/* ---- ICMP ------------------------------------------------------------ */

static void
check_echo_reply(const struct rte_mbuf *m, const struct frame *req, int vlan,
		 uint16_t dlen)
{
	const uint8_t *b = bytes(m);
	uint16_t l3 = vlan == NO_VLAN ? 14 : 18;
	const uint8_t *ip = b + l3, *icmp = ip + 20;

	cr_assert_eq(rte_pktmbuf_data_len(m), l3 + 28u + dlen,
		     "length %u, expected %u", rte_pktmbuf_data_len(m),
		     l3 + 28u + dlen);
	cr_assert_arr_eq(b, peer_mac, 6, "Ethernet dst is not the requester");
	cr_assert_arr_eq(b + 6, our_mac, 6, "Ethernet src is not our MAC");
	if (vlan != NO_VLAN) {
		cr_assert_eq(get16(b + 12), 0x8100, "VLAN tag lost");
		cr_assert_eq(get16(b + 14), (uint16_t)vlan, "VLAN TCI changed");
	}
	cr_assert_eq(get16(ip + 2), 28u + dlen, "IP total length changed");
	cr_assert_eq(get32(ip + 12), OUR_IP, "IP src is not ours");
	cr_assert_eq(get32(ip + 16), PEER_IP, "IP dst is not the requester");
	cr_assert_eq(ip[8], 64, "TTL");
	cr_assert_eq(ocsum(ip, 20, 0), 0xffff, "IP header checksum wrong");
	cr_assert_eq(icmp[0], 0, "type is not echo reply");
	cr_assert_eq(icmp[1], 0, "code");
	cr_assert_eq(ocsum(icmp, 8u + dlen, 0), 0xffff,
		     "ICMP checksum wrong (seq %u)", get16(icmp + 6));
	/* identifier, sequence and data are echoed */
	cr_assert_arr_eq(icmp + 4, req->b + req->l3 + 24, 4u + dlen,
			 "identifier, sequence or data changed");
}

Test(net, icmp_echo_request_becomes_reply_with_valid_checksums)
{
	const int vlans[] = {NO_VLAN, TCI};

	/* Many sequence numbers and odd and even lengths, so that the
	 * incremental checksum update meets every carry case. */
	for (size_t v = 0; v < RTE_DIM(vlans); v++) {
		for (uint16_t seq = 0; seq < 1000; seq++) {
			uint16_t dlen = seq % 61;
			struct evg_net_meta meta;
			struct frame f;
			struct rte_mbuf *m;

			build_icmp_echo(&f, vlans[v], seq, dlen);
			m = to_mbuf(&f);
			expect_class(classify(m, &meta),
				     EVG_NET_CLASS_ICMP_ECHO);
			cr_assert_eq(meta.payload_len, 8u + dlen);
			cr_assert_eq(evg_net_icmp_echo_reply(&ifc, m, &meta),
				     0);
			check_echo_reply(m, &f, vlans[v], dlen);
			cr_assert_eq(m->l3_len, 20);
			rte_pktmbuf_free(m);
		}
	}
}

Test(net, icmp_that_is_not_a_valid_echo_request_is_ignored)
{
	struct evg_net_meta meta;
	struct frame f;
	struct rte_mbuf *m;
	uint8_t *icmp;

	/* a corrupted data byte */
	build_icmp_echo(&f, NO_VLAN, 1, 32);
	f.b[f.l3 + 20 + 8 + 5] ^= 0x10;
	m = to_mbuf(&f);
	expect_class(classify(m, &meta), EVG_NET_CLASS_ICMP_IGNORED);
	rte_pktmbuf_free(m);

	/* an echo reply, and an echo request with code 1 (checksums fixed) */
	for (int i = 0; i < 2; i++) {
		build_icmp_echo(&f, NO_VLAN, 1, 32);
		icmp = f.b + f.l3 + 20;
		icmp[i] = i == 0 ? 0 : 1;
		put16(icmp + 2, 0);
		put16(icmp + 2, ones_cksum(icmp, 40));
		m = to_mbuf(&f);
		expect_class(classify(m, &meta), EVG_NET_CLASS_ICMP_IGNORED);
		rte_pktmbuf_free(m);
	}

	/* an IP payload too short for the ICMP header */
	build_icmp_echo(&f, NO_VLAN, 1, 0);
	put16(f.b + f.l3 + 2, 24);
	fix_ip_cksum(&f);
	m = to_mbuf(&f);
	expect_class(classify(m, &meta), EVG_NET_CLASS_ICMP_IGNORED);
	rte_pktmbuf_free(m);
}

/* ---- UDP ------------------------------------------------------------- */

static void
check_udp_reply(const struct rte_mbuf *m, int vlan, const void *payload,
		uint16_t len)
{
	const uint8_t *b = bytes(m);
	uint16_t l3 = vlan == NO_VLAN ? 14 : 18;
	const uint8_t *ip = b + l3, *udp = ip + 20;
	uint8_t pseudo[12];

	cr_assert_eq(rte_pktmbuf_data_len(m), l3 + 28u + len,
		     "frame length %u, expected %u", rte_pktmbuf_data_len(m),
		     l3 + 28u + len);
	cr_assert_eq(rte_pktmbuf_pkt_len(m), l3 + 28u + len);
	cr_assert_arr_eq(b, peer_mac, 6, "Ethernet dst is not the sender");
	cr_assert_arr_eq(b + 6, our_mac, 6, "Ethernet src is not our MAC");
	if (vlan != NO_VLAN) {
		cr_assert_eq(get16(b + 12), 0x8100, "VLAN tag lost");
		cr_assert_eq(get16(b + 14), (uint16_t)vlan, "VLAN TCI changed");
	}
	cr_assert_eq(get16(b + l3 - 2), 0x0800, "not IPv4");

	cr_assert_eq(ip[0], 0x45, "version/IHL");
	cr_assert_eq(get16(ip + 2), 28u + len, "IP total length");
	cr_assert_eq(get16(ip + 6), 0x4000, "DF, no fragment offset");
	cr_assert_eq(ip[8], 64, "TTL");
	cr_assert_eq(ip[9], 17, "protocol is not UDP");
	cr_assert_eq(get32(ip + 12), OUR_IP, "IP src is not ours");
	cr_assert_eq(get32(ip + 16), PEER_IP, "IP dst is not the sender");
	cr_assert_eq(ocsum(ip, 20, 0), 0xffff, "IP header checksum wrong");

	cr_assert_eq(get16(udp), EVG_EVF_UDP_PORT, "UDP src port");
	cr_assert_eq(get16(udp + 2), PEER_PORT, "UDP dst port");
	cr_assert_eq(get16(udp + 4), 8u + len, "UDP length");
	cr_assert_neq(get16(udp + 6), 0, "UDP checksum left out");
	put32(pseudo, OUR_IP);
	put32(pseudo + 4, PEER_IP);
	pseudo[8] = 0;
	pseudo[9] = 17;
	put16(pseudo + 10, (uint16_t)(8 + len));
	cr_assert_eq(ocsum(udp, 8u + len, ocsum(pseudo, 12, 0)), 0xffff,
		     "UDP checksum wrong");
	if (len > 0)
		cr_assert_arr_eq(udp + 8, payload, len, "payload differs");

	cr_assert_eq(m->l2_len, l3);
	cr_assert_eq(m->l3_len, 20);
	cr_assert_eq(m->l4_len, 8);
	cr_assert_eq(m->nb_segs, 1);
}

static uint32_t
make_ack(uint8_t *buf)
{
	return evg_evf_control_build(buf, EVG_EVF_ACK, 0, 7, 1, 99, 1234);
}

Test(net, udp_to_our_port_is_evf_with_payload_bounds)
{
	struct udp_spec s = udp_to_us(100);
	struct evg_net_meta meta;
	struct frame f;
	struct rte_mbuf *m;
	const uint8_t *p;

	build_udp(&f, &s);
	m = to_mbuf(&f);
	expect_class(classify(m, &meta), EVG_NET_CLASS_EVF);
	cr_assert_eq(meta.l2_len, 14);
	cr_assert_eq(meta.has_vlan, 0);
	cr_assert_eq(meta.l3_len, 20);
	cr_assert_eq(meta.payload_off, 42);
	cr_assert_eq(meta.payload_len, 100);
	cr_assert_eq(meta.src_ip, RTE_BE32(PEER_IP));
	cr_assert_eq(meta.dst_ip, RTE_BE32(OUR_IP));
	cr_assert_eq(meta.src_port, RTE_BE16(PEER_PORT));
	cr_assert_eq(meta.dst_port, RTE_BE16(EVG_EVF_UDP_PORT));
	cr_assert_arr_eq(meta.src_mac.addr_bytes, peer_mac, 6);
	p = bytes(m) + meta.payload_off;
	for (int i = 0; i < 100; i++)
		cr_assert_eq(p[i], 0x40 + i, "payload byte %d", i);
	rte_pktmbuf_free(m);
}

Test(net, udp_checksum_is_not_checked_so_offloading_senders_pass)
{
	const uint16_t sums[] = {0x0000, 0xbeef, 0xffff};

	for (size_t i = 0; i < RTE_DIM(sums); i++) {
		struct udp_spec s = udp_to_us(40);
		struct evg_net_meta meta;
		struct frame f;
		struct rte_mbuf *m;

		build_udp(&f, &s);
		put16(f.b + f.l3 + 26, sums[i]);
		m = to_mbuf(&f);
		expect_class(classify(m, &meta), EVG_NET_CLASS_EVF);
		rte_pktmbuf_free(m);
	}
}

Test(net, vlan_tagged_udp_is_evf_and_reply_keeps_tag)
{
	struct udp_spec s = udp_to_us(200);
	struct evg_net_meta meta;
	uint8_t ack[EVG_EVF_HDR_LEN];
	struct frame f;
	struct rte_mbuf *m;

	s.vlan = TCI;
	build_udp(&f, &s);
	m = to_mbuf(&f);
	expect_class(classify(m, &meta), EVG_NET_CLASS_EVF);
	cr_assert_eq(meta.l2_len, 18);
	cr_assert_eq(meta.has_vlan, 1);
	cr_assert_eq(meta.vlan_tci, TCI);
	cr_assert_eq(meta.payload_off, 46);
	cr_assert_eq(meta.payload_len, 200);
	cr_assert_eq(bytes(m)[meta.payload_off], 0x40);

	cr_assert_eq(evg_net_udp_reply(&ifc, m, &meta, ack, make_ack(ack)), 0);
	check_udp_reply(m, TCI, ack, sizeof(ack));
	cr_assert_eq(evg_evf_validate(bytes(m) + 46, 40, NULL),
		     EVG_EVF_BAD_DIRECTION, "reply does not carry the ACK");
	rte_pktmbuf_free(m);
}

Test(net, padded_minimum_frame_gives_udp_payload_len)
{
	const uint16_t plens[] = {0, 1, 4, 17, 18};

	for (size_t i = 0; i < RTE_DIM(plens); i++) {
		struct udp_spec s = udp_to_us(plens[i]);
		struct evg_net_meta meta;
		struct frame f;
		struct rte_mbuf *m;

		build_udp(&f, &s);
		cr_assert_eq(f.len, MIN_FRAME, "test frame not padded");
		m = to_mbuf(&f);
		expect_class(classify(m, &meta), EVG_NET_CLASS_EVF);
		cr_assert_eq(meta.payload_len, plens[i],
			     "payload_len %u for a %u-byte payload",
			     meta.payload_len, plens[i]);
		rte_pktmbuf_free(m);
	}
}

Test(net, udp_reply_is_a_datagram_a_kernel_accepts)
{
	const uint16_t lens[] = {0, 1, 40, 41, 1400};
	uint8_t payload[1400];

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 13 + 5);
	for (size_t i = 0; i < RTE_DIM(lens); i++) {
		struct udp_spec s = udp_to_us(1000);
		struct evg_net_meta meta;
		struct frame f;
		struct rte_mbuf *m;

		build_udp(&f, &s);
		m = to_mbuf(&f);
		expect_class(classify(m, &meta), EVG_NET_CLASS_EVF);
		m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD;
		cr_assert_eq(
			evg_net_udp_reply(&ifc, m, &meta, payload, lens[i]), 0);
		check_udp_reply(m, NO_VLAN, payload, lens[i]);
		cr_assert_eq(m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK, 0,
			     "RX flags left on a TX mbuf");
		rte_pktmbuf_free(m);
	}
}

Test(net, udp_reply_into_fresh_mbuf_needs_only_meta)
{
	struct udp_spec s = udp_to_us(64);
	struct evg_net_meta meta;
	uint8_t ack[EVG_EVF_HDR_LEN];
	struct frame f;
	struct rte_mbuf *m;

	s.vlan = TCI;
	build_udp(&f, &s);
	m = to_mbuf(&f);
	expect_class(classify(m, &meta), EVG_NET_CLASS_EVF);
	rte_pktmbuf_free(m);

	m = rte_pktmbuf_alloc(pool);
	cr_assert_not_null(m);
	cr_assert_eq(evg_net_udp_reply(&ifc, m, &meta, ack, make_ack(ack)), 0);
	check_udp_reply(m, TCI, ack, sizeof(ack));
	rte_pktmbuf_free(m);
}

Test(net, udp_reply_payload_may_sit_in_the_same_mbuf)
{
	/* Once with the payload where the new one goes, once with a stripped
	 * tag to write back, which moves the payload 4 bytes on. */
	for (int stripped = 0; stripped < 2; stripped++) {
		struct udp_spec s = udp_to_us(EVG_EVF_HDR_LEN);
		uint8_t ack[EVG_EVF_HDR_LEN];
		struct evg_net_meta meta;
		struct frame f;
		struct rte_mbuf *m;

		build_udp(&f, &s);
		make_ack(ack);
		memcpy(f.b + 42, ack, sizeof(ack));
		m = to_mbuf(&f);
		if (stripped) {
			m->ol_flags |= RTE_MBUF_F_RX_VLAN |
				       RTE_MBUF_F_RX_VLAN_STRIPPED;
			m->vlan_tci = TCI;
		}
		expect_class(classify(m, &meta), EVG_NET_CLASS_EVF);
		cr_assert_eq(evg_net_udp_reply(&ifc, m, &meta,
					       bytes(m) + meta.payload_off,
					       meta.payload_len),
			     0);
		check_udp_reply(m, stripped ? (int)TCI : NO_VLAN, ack,
				sizeof(ack));
		rte_pktmbuf_free(m);
	}
}

Test(net, udp_reply_that_does_not_fit_fails_with_enospc)
{
	static uint8_t big[RTE_MBUF_DEFAULT_DATAROOM];
	struct udp_spec s = udp_to_us(16);
	struct evg_net_meta meta;
	struct frame f;
	struct rte_mbuf *m;
	uint16_t room;

	build_udp(&f, &s);
	m = to_mbuf(&f);
	expect_class(classify(m, &meta), EVG_NET_CLASS_EVF);
	room = (uint16_t)(m->buf_len - m->data_off - 42);
	cr_assert_eq(evg_net_udp_reply(&ifc, m, &meta, big, room + 1), -ENOSPC);
	cr_assert_eq(rte_pktmbuf_data_len(m), f.len, "mbuf changed on error");
	cr_assert_eq(evg_net_udp_reply(&ifc, m, &meta, big, UINT16_MAX),
		     -ENOSPC);
	cr_assert_eq(evg_net_udp_reply(&ifc, m, &meta, big, room), 0);
	check_udp_reply(m, NO_VLAN, big, room);
	rte_pktmbuf_free(m);
}

Test(net, replies_leave_alone_mbufs_they_cannot_write)
{
	struct evg_net_meta meta;
	struct frame f;
	struct rte_mbuf *m;

	/* shared: another reference may still read it */
	build_arp(&f, NO_VLAN, 1, OUR_IP);
	m = to_mbuf(&f);
	expect_class(classify(m, &meta), EVG_NET_CLASS_ARP);
	rte_mbuf_refcnt_update(m, 1);
	cr_assert_eq(evg_net_arp_reply(&ifc, m, &meta), -EINVAL);
	cr_assert_eq(evg_net_udp_reply(&ifc, m, &meta, "x", 1), -EINVAL);
	cr_assert_arr_eq(bytes(m), f.b, f.len, "shared mbuf written");
	rte_pktmbuf_free(m);
	rte_pktmbuf_free(m);

	/* a stripped tag to put back, and no headroom for it */
	build_icmp_echo(&f, NO_VLAN, 1, 8);
	m = rte_pktmbuf_alloc(pool);
	cr_assert_not_null(m);
	m->data_off = 0;
	memcpy(rte_pktmbuf_append(m, f.len), f.b, f.len);
	mark_stripped(m);
	expect_class(classify(m, &meta), EVG_NET_CLASS_ICMP_ECHO);
	cr_assert_eq(evg_net_icmp_echo_reply(&ifc, m, &meta), -ENOSPC);
	cr_assert_eq(rte_pktmbuf_data_len(m), f.len);
	cr_assert_arr_eq(bytes(m), f.b, f.len, "refused mbuf written");
	rte_pktmbuf_free(m);
}

/* ---- VLAN stripped by the NIC ---------------------------------------- */

Test(net, stripped_vlan_tag_is_put_back_in_replies)
{
	struct udp_spec s = udp_to_us(100);
	uint8_t ack[EVG_EVF_HDR_LEN];
	struct evg_net_meta meta;
	struct frame f;
	struct rte_mbuf *m;

	build_icmp_echo(&f, NO_VLAN, 9, 56);
	m = to_mbuf(&f);
	mark_stripped(m);
	expect_class(classify(m, &meta), EVG_NET_CLASS_ICMP_ECHO);
	cr_assert_eq(meta.has_vlan, 1);
	cr_assert_eq(meta.vlan_tci, TCI);
	cr_assert_eq(meta.l2_len, 14, "tag counted as if in the frame");
	cr_assert_eq(evg_net_icmp_echo_reply(&ifc, m, &meta), 0);
	check_echo_reply(m, &f, TCI, 56);
	cr_assert_eq(m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED, 0);
	cr_assert_eq(m->l2_len, 18);
	rte_pktmbuf_free(m);

	build_arp(&f, NO_VLAN, 1, OUR_IP);
	m = to_mbuf(&f);
	mark_stripped(m);
	expect_class(classify(m, &meta), EVG_NET_CLASS_ARP);
	cr_assert_eq(evg_net_arp_reply(&ifc, m, &meta), 0);
	check_arp_reply(m, TCI);
	rte_pktmbuf_free(m);

	build_udp(&f, &s);
	m = to_mbuf(&f);
	mark_stripped(m);
	expect_class(classify(m, &meta), EVG_NET_CLASS_EVF);
	cr_assert_eq(meta.payload_off, 42);
	cr_assert_eq(evg_net_udp_reply(&ifc, m, &meta, ack, make_ack(ack)), 0);
	check_udp_reply(m, TCI, ack, sizeof(ack));
	rte_pktmbuf_free(m);
}

/* ---- bounds ---------------------------------------------------------- */

/* A frame; its first need bytes classify as want, shorter prefixes drop. */
struct prefix_case {
	struct frame f;
	uint16_t need;
	enum evg_net_class want;
};

/*
 * Classify every prefix of the frame, each in a heap buffer of exactly
 * that size behind a hand-made mbuf, so that AddressSanitizer sees any
 * read past data_len (mempool memory would hide it).
 */
static void
check_prefixes(const struct prefix_case *pc)
{
	for (uint16_t cut = 0; cut <= pc->f.len; cut++) {
		uint8_t *buf = malloc(cut > 0 ? cut : 1);
		struct evg_net_meta meta;
		struct rte_mbuf fake;
		enum evg_net_class c;

		cr_assert_not_null(buf);
		memcpy(buf, pc->f.b, cut);
		memset(&fake, 0, sizeof(fake));
		fake.buf_addr = buf;
		fake.buf_len = cut;
		fake.data_len = cut;
		fake.pkt_len = cut;
		fake.nb_segs = 1;
		c = evg_net_classify(&ifc, &fake, &meta);
		free(buf);
		if (cut >= pc->need)
			cr_assert_eq(c, pc->want, "%u of %u bytes: %s", cut,
				     pc->f.len, evg_net_class_name(c));
		else
			cr_assert(evg_net_class_is_drop(c),
				  "%u of %u bytes: %s", cut, pc->f.len,
				  evg_net_class_name(c));
	}
}

Test(net, classify_reads_nothing_past_data_len)
{
	struct udp_spec s = udp_to_us(40);
	struct prefix_case pc;

	build_udp(&pc.f, &s);
	pc.need = 14 + 20 + 8 + 40;
	pc.want = EVG_NET_CLASS_EVF;
	check_prefixes(&pc);

	s.vlan = TCI;
	build_udp(&pc.f, &s);
	pc.need = 18 + 20 + 8 + 40;
	check_prefixes(&pc);

	build_icmp_echo(&pc.f, NO_VLAN, 5, 32);
	pc.need = 14 + 20 + 8 + 32;
	pc.want = EVG_NET_CLASS_ICMP_ECHO;
	check_prefixes(&pc);

	build_arp(&pc.f, TCI, 1, OUR_IP);
	pc.need = 18 + 28;
	pc.want = EVG_NET_CLASS_ARP;
	check_prefixes(&pc);

	/* IP packets too short for their UDP or ICMP header, unpadded */
	s = udp_to_us(0);
	build_udp(&pc.f, &s);
	put16(pc.f.b + 14 + 2, 20 + 2);
	fix_ip_cksum(&pc.f);
	pc.f.len = pc.need = 14 + 20 + 2;
	pc.want = EVG_NET_CLASS_UDP_LENGTH;
	check_prefixes(&pc);

	build_icmp_echo(&pc.f, NO_VLAN, 5, 0);
	put16(pc.f.b + 14 + 2, 20 + 2);
	fix_ip_cksum(&pc.f);
	pc.f.len = pc.need = 14 + 20 + 2;
	pc.want = EVG_NET_CLASS_ICMP_IGNORED;
	check_prefixes(&pc);
}

/* ---- IPv4 checksum offload flags -------------------------------------- */

Test(net, nic_checksum_flags_decide_over_the_software_check)
{
	const struct {
		uint64_t flags;
		bool corrupt;
		enum evg_net_class want;
	} cases[] = {
		{RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN, false, EVG_NET_CLASS_EVF},
		{RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN, true,
		 EVG_NET_CLASS_IP_CHECKSUM},
		{RTE_MBUF_F_RX_IP_CKSUM_BAD, false, EVG_NET_CLASS_IP_CHECKSUM},
		{RTE_MBUF_F_RX_IP_CKSUM_GOOD, true, EVG_NET_CLASS_EVF},
		{RTE_MBUF_F_RX_IP_CKSUM_NONE, true, EVG_NET_CLASS_EVF},
	};

	for (size_t i = 0; i < RTE_DIM(cases); i++) {
		struct udp_spec s = udp_to_us(40);
		struct evg_net_meta meta;
		struct frame f;
		struct rte_mbuf *m;

		build_udp(&f, &s);
		if (cases[i].corrupt)
			f.b[f.l3 + 10] ^= 0x01;
		m = to_mbuf(&f);
		m->ol_flags |= cases[i].flags;
		cr_assert_eq(classify(m, &meta), cases[i].want, "case %zu: %s",
			     i, evg_net_class_name(classify(m, &meta)));
		rte_pktmbuf_free(m);
	}
}

/* ---- drops ----------------------------------------------------------- */

/* Byte offsets in an untagged frame (tagged: +4 past the MACs). */
#define AT_ETHERTYPE 12
#define AT_INNER_TYPE 16 /* tagged frames */
#define AT_IP_VHL 14	 /* version/IHL and TOS */
#define AT_IP_LEN 16
#define AT_IP_FRAG 20
#define AT_IP_TTL_PROTO 22
#define AT_IP_SUM 24
#define AT_IP_DST_LO 32
#define AT_UDP_DPORT 36
#define AT_UDP_LEN 38
#define AT_ICMP_TYPE 34

enum drop_base { UDP, UDP_TAGGED, ARP_OTHER_IP, ICMP_ECHO };

/* A valid frame of some base, then one fault. */
struct drop_case {
	const char *what;
	const char *name; /* the class it must be counted under */
	enum drop_base base;
	uint16_t cut;	  /* frame length, unpadded (0: keep) */
	uint16_t at, val; /* 16-bit field to overwrite (at 0: none) */
	bool fix_ip_sum;  /* recompute the IP checksum after the write */
	bool stripped;	  /* the NIC also reports a stripped tag */
	bool chained;	  /* a second segment follows */
	uint64_t ol_flags;
};

static const struct drop_case drops[] = {
	{"runt", "eth_runt", UDP, .cut = 13},
	{"tagged runt", "eth_runt", UDP_TAGGED, .cut = 16},
	{"IPv6", "ethertype", UDP, .at = AT_ETHERTYPE, .val = 0x86dd},
	{"802.1Q in 802.1Q", "vlan_stacked", UDP_TAGGED, .at = AT_INNER_TYPE,
	 .val = 0x8100},
	{"802.1ad tag", "vlan_stacked", UDP_TAGGED, .at = AT_ETHERTYPE,
	 .val = 0x88a8},
	{"tag in frame and stripped", "vlan_stacked", UDP_TAGGED,
	 .stripped = true},
	{"IP version 6", "ip_header", UDP, .at = AT_IP_VHL, .val = 0x6500,
	 .fix_ip_sum = true},
	{"IHL 4", "ip_header", UDP, .at = AT_IP_VHL, .val = 0x4400,
	 .fix_ip_sum = true},
	{"IP total length beyond the frame", "ip_header", UDP, .cut = 50},
	{"frame cut inside the IP header", "ip_header", UDP, .cut = 14 + 19},
	{"IP total length below IHL", "ip_header", UDP, .at = AT_IP_LEN,
	 .val = 19, .fix_ip_sum = true},
	{"IP checksum wrong", "ip_checksum", UDP, .at = AT_IP_SUM, .val = 0},
	{"NIC says IP checksum bad", "ip_checksum", UDP,
	 .ol_flags = RTE_MBUF_F_RX_IP_CKSUM_BAD},
	{"more fragments", "ip_fragment", UDP, .at = AT_IP_FRAG, .val = 0x2000,
	 .fix_ip_sum = true},
	{"last fragment", "ip_fragment", UDP, .at = AT_IP_FRAG, .val = 185,
	 .fix_ip_sum = true},
	{"to 10.0.0.3", "ip_not_ours", UDP, .at = AT_IP_DST_LO, .val = 3,
	 .fix_ip_sum = true},
	{"TCP", "ip_proto", UDP, .at = AT_IP_TTL_PROTO, .val = 0x3f06,
	 .fix_ip_sum = true},
	{"UDP to port 53", "udp_port", UDP, .at = AT_UDP_DPORT, .val = 53},
	{"UDP length 7", "udp_length", UDP, .at = AT_UDP_LEN, .val = 7},
	{"UDP length beyond IP", "udp_length", UDP, .at = AT_UDP_LEN,
	 .val = 8 + 16 + 1},
	{"IP payload shorter than UDP header", "udp_length", UDP,
	 .at = AT_IP_LEN, .val = 24, .fix_ip_sum = true},
	{"two segments", "multi_seg", UDP, .chained = true},
	{"ARP for 10.0.0.3", "arp_ignored", .base = ARP_OTHER_IP},
	{"ICMP timestamp", "icmp_ignored", ICMP_ECHO, .at = AT_ICMP_TYPE,
	 .val = 0x0d00},
};

static struct rte_mbuf *
make_drop(const struct drop_case *d)
{
	struct udp_spec s = udp_to_us(16);
	struct rte_mbuf *m, *tail;
	struct frame f;

	switch (d->base) {
	case UDP_TAGGED:
		s.vlan = TCI;
		/* fall through */
	case UDP:
		build_udp(&f, &s);
		break;
	case ARP_OTHER_IP:
		build_arp(&f, NO_VLAN, 1, OTHER_IP);
		break;
	case ICMP_ECHO:
		build_icmp_echo(&f, NO_VLAN, 1, 12);
		break;
	}
	if (d->at != 0)
		put16(f.b + d->at, d->val);
	if (d->fix_ip_sum)
		fix_ip_cksum(&f);
	if (d->cut != 0)
		f.len = d->cut;
	m = to_mbuf(&f);
	m->ol_flags |= d->ol_flags;
	if (d->stripped)
		mark_stripped(m);
	if (d->chained) {
		tail = rte_pktmbuf_alloc(pool);
		cr_assert_not_null(tail);
		cr_assert_not_null(rte_pktmbuf_append(tail, 10));
		cr_assert_eq(rte_pktmbuf_chain(m, tail), 0);
	}
	return m;
}

ParameterizedTestParameters(net, drop_is_counted_under_its_own_name)
{
	static int idx[RTE_DIM(drops)];

	for (size_t i = 0; i < RTE_DIM(drops); i++)
		idx[i] = (int)i;
	return cr_make_param_array(int, idx, RTE_DIM(drops));
}

ParameterizedTest(int *i, net, drop_is_counted_under_its_own_name)
{
	enum evg_net_class want = class_by_name(drops[*i].name);
	struct evg_net_counters counters = {0};
	struct rte_mbuf *m = make_drop(&drops[*i]);
	struct evg_net_meta meta;
	uint8_t cls = 0xff;

	evg_net_classify_burst(&ifc, &m, 1, &meta, &cls, &counters);
	cr_assert_eq(cls, want, "%s: classified %s, expected %s",
		     drops[*i].what, evg_net_class_name(cls), drops[*i].name);
	cr_assert(evg_net_class_is_drop(cls));
	for (int c = 0; c < EVG_NET_CLASS_MAX; c++)
		cr_assert_eq(counters.c[c], c == (int)want ? 1u : 0u,
			     "%s: counter %s is %" PRIu64, drops[*i].what,
			     evg_net_class_name((enum evg_net_class)c),
			     counters.c[c]);
	rte_pktmbuf_free(m);
}

Test(net, burst_counts_every_frame_once)
{
	struct rte_mbuf *pkts[RTE_DIM(drops) + 3];
	struct evg_net_meta metas[RTE_DIM(pkts)];
	uint64_t want[EVG_NET_CLASS_MAX] = {0};
	struct evg_net_counters counters = {0};
	uint8_t classes[RTE_DIM(pkts)];
	struct udp_spec s = udp_to_us(300);
	struct frame f;
	uint16_t n = 0;

	build_udp(&f, &s);
	pkts[n++] = to_mbuf(&f);
	want[EVG_NET_CLASS_EVF]++;
	for (size_t i = 0; i < RTE_DIM(drops); i++) {
		pkts[n++] = make_drop(&drops[i]);
		want[class_by_name(drops[i].name)]++;
	}
	build_arp(&f, TCI, 1, OUR_IP);
	pkts[n++] = to_mbuf(&f);
	want[EVG_NET_CLASS_ARP]++;
	build_icmp_echo(&f, NO_VLAN, 3, 20);
	pkts[n++] = to_mbuf(&f);
	want[EVG_NET_CLASS_ICMP_ECHO]++;

	/* twice: counters add up across bursts */
	for (int round = 1; round <= 2; round++) {
		evg_net_classify_burst(&ifc, pkts, n, metas, classes,
				       &counters);
		for (int c = 0; c < EVG_NET_CLASS_MAX; c++)
			cr_assert_eq(counters.c[c], round * want[c],
				     "counter %s",
				     evg_net_class_name((enum evg_net_class)c));
	}
	cr_assert_eq(classes[0], EVG_NET_CLASS_EVF);
	cr_assert_eq(metas[0].payload_len, 300);
	cr_assert_eq(classes[n - 2], EVG_NET_CLASS_ARP);
	cr_assert_eq(metas[n - 2].vlan_tci, TCI);
	cr_assert_eq(classes[n - 1], EVG_NET_CLASS_ICMP_ECHO);
	rte_pktmbuf_free_bulk(pkts, n);
}

Test(net, mbufs_all_return_to_the_pool)
{
	struct udp_spec s = udp_to_us(40);
	struct evg_net_meta meta;
	uint8_t ack[EVG_EVF_HDR_LEN];
	struct frame f;
	struct rte_mbuf *m;

	for (size_t i = 0; i < RTE_DIM(drops); i++)
		rte_pktmbuf_free(make_drop(&drops[i]));
	build_udp(&f, &s);
	m = to_mbuf(&f);
	expect_class(classify(m, &meta), EVG_NET_CLASS_EVF);
	cr_assert_eq(evg_net_udp_reply(&ifc, m, &meta, ack, make_ack(ack)), 0);
	rte_pktmbuf_free(m);
	cr_assert_eq(rte_mempool_in_use_count(pool), 0, "%u mbufs still in use",
		     rte_mempool_in_use_count(pool));
}
