/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/net over real mbufs. Frames are written byte by byte, not with the
 * DPDK structs the library uses, and replies are checked with a checksum
 * routine of the test's own (frame_testutil), so a shared misunderstanding
 * cannot pass.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "eal_testutil.h"
#include "evg_evf.h"
#include "evg_net.h"
#include "frame_testutil.h"

static struct rte_mempool *pool;

/* ---- mbufs ----------------------------------------------------------- */

static void
net_setup(void)
{
	tu_eal_setup();
	pool = ft_pool_create("net_test", 63, 0);
}

static void
net_teardown(void)
{
	unsigned int leaked = ft_pool_free(pool);

	tu_eal_teardown();
	ft_abort_on_leak(leaked);
}

TestSuite(net, .init = net_setup, .fini = net_teardown);

static const uint8_t *
bytes(const struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod(m, const uint8_t *);
}

static const struct evg_net_if ifc = {
	.mac = {.addr_bytes = {0x02, 0, 0, 0, 0, 0x01}},
	.ip = RTE_BE32(FT_OUR_IP),
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

/* f in an mbuf of its own, classified as want into *meta. */
static struct rte_mbuf *
mbuf_of_class(const struct ft_frame *f, struct evg_net_meta *meta,
	      enum evg_net_class want)
{
	struct rte_mbuf *m = ft_to_mbuf(pool, f);

	expect_class(classify(m, meta), want);
	return m;
}

static void
expect_frame_class(const struct ft_frame *f, enum evg_net_class want)
{
	struct evg_net_meta meta;

	rte_pktmbuf_free(mbuf_of_class(f, &meta, want));
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

Test(net, arp_request_for_our_ip_becomes_reply_in_place)
{
	const int vlans[] = {FT_NO_VLAN, FT_TCI};

	for (size_t i = 0; i < RTE_DIM(vlans); i++) {
		struct evg_net_meta meta;
		struct ft_frame f;
		struct rte_mbuf *m;

		ft_build_arp(&f, vlans[i], 1, FT_OUR_IP);
		m = mbuf_of_class(&f, &meta, EVG_NET_CLASS_ARP);
		cr_assert_eq(meta.src_ip, RTE_BE32(FT_PEER_IP));
		cr_assert_eq(evg_net_arp_reply(&ifc, m, &meta), 0);
		ft_check_arp_reply(m, vlans[i]);
		rte_pktmbuf_free(m);
	}
}

Test(net, arp_request_for_another_ip_is_ignored)
{
	struct ft_frame f;

	ft_build_arp(&f, FT_NO_VLAN, 1, FT_OTHER_IP);
	expect_frame_class(&f, EVG_NET_CLASS_ARP_IGNORED);
}

Test(net, arp_reply_and_non_ethernet_arp_are_ignored)
{
	struct ft_frame f;

	/* a reply to us needs no answer */
	ft_build_arp(&f, FT_NO_VLAN, 2, FT_OUR_IP);
	expect_frame_class(&f, EVG_NET_CLASS_ARP_IGNORED);

	/* hardware address length other than 6 */
	ft_build_arp(&f, FT_NO_VLAN, 1, FT_OUR_IP);
	f.b[f.l3 + 4] = 8;
	expect_frame_class(&f, EVG_NET_CLASS_ARP_IGNORED);

	/* cut inside the ARP packet (an unpadded runt from a vdev) */
	ft_build_arp(&f, FT_NO_VLAN, 1, FT_OUR_IP);
	f.len = (uint16_t)(f.l3 + 27);
	expect_frame_class(&f, EVG_NET_CLASS_ARP_IGNORED);
}

/* ---- ICMP ------------------------------------------------------------ */

Test(net, icmp_echo_request_becomes_reply_with_valid_checksums)
{
	const int vlans[] = {FT_NO_VLAN, FT_TCI};

	/* Many sequence numbers and odd and even lengths, so that the
	 * incremental checksum update meets every carry case. */
	for (size_t v = 0; v < RTE_DIM(vlans); v++) {
		for (uint16_t seq = 0; seq < 1000; seq++) {
			uint16_t dlen = seq % 61;
			struct evg_net_meta meta;
			struct ft_frame f;
			struct rte_mbuf *m;

			ft_build_icmp_echo(&f, vlans[v], seq, dlen);
			m = mbuf_of_class(&f, &meta, EVG_NET_CLASS_ICMP_ECHO);
			cr_assert_eq(meta.payload_len, 8u + dlen);
			cr_assert_eq(evg_net_icmp_echo_reply(&ifc, m, &meta),
				     0);
			ft_check_echo_reply(m, &f, vlans[v], dlen);
			cr_assert_eq(m->l3_len, 20);
			rte_pktmbuf_free(m);
		}
	}
}

Test(net, icmp_that_is_not_a_valid_echo_request_is_ignored)
{
	struct ft_frame f;
	uint8_t *icmp;

	/* a corrupted data byte */
	ft_build_icmp_echo(&f, FT_NO_VLAN, 1, 32);
	f.b[f.l3 + 20 + 8 + 5] ^= 0x10;
	expect_frame_class(&f, EVG_NET_CLASS_ICMP_IGNORED);

	/* an echo reply, and an echo request with code 1 (checksums fixed) */
	for (int i = 0; i < 2; i++) {
		ft_build_icmp_echo(&f, FT_NO_VLAN, 1, 32);
		icmp = f.b + f.l3 + 20;
		icmp[i] = i == 0 ? 0 : 1;
		ft_put16(icmp + 2, 0);
		ft_put16(icmp + 2, ft_ones_cksum(icmp, 40));
		expect_frame_class(&f, EVG_NET_CLASS_ICMP_IGNORED);
	}

	/* an IP payload too short for the ICMP header */
	ft_build_icmp_echo(&f, FT_NO_VLAN, 1, 0);
	ft_put16(f.b + f.l3 + 2, 24);
	ft_fix_ip_cksum(&f);
	expect_frame_class(&f, EVG_NET_CLASS_ICMP_IGNORED);
}

/* ---- UDP ------------------------------------------------------------- */

/* A reply from us to the peer's EVF datagram, checked byte by byte. */
static void
check_udp_reply(const struct rte_mbuf *m, int vlan, const void *payload,
		uint16_t len)
{
	ft_check_udp_reply(m, vlan, FT_PEER_IP, FT_PEER_PORT, payload, len);
}

static uint32_t
make_ack(uint8_t *buf)
{
	return evg_evf_control_build(buf, EVG_EVF_ACK, 0, 7, 1, 99, 1234);
}

Test(net, udp_to_our_port_is_evf_with_payload_bounds)
{
	struct evg_net_meta meta;
	struct ft_frame f;
	struct rte_mbuf *m;
	const uint8_t *p;

	ft_evf_udp_frame(&f, NULL, 100, FT_NO_VLAN);
	m = mbuf_of_class(&f, &meta, EVG_NET_CLASS_EVF);
	cr_assert_eq(meta.l2_len, 14);
	cr_assert_eq(meta.has_vlan, 0);
	cr_assert_eq(meta.l3_len, 20);
	cr_assert_eq(meta.payload_off, 42);
	cr_assert_eq(meta.payload_len, 100);
	cr_assert_eq(meta.src_ip, RTE_BE32(FT_PEER_IP));
	cr_assert_eq(meta.dst_ip, RTE_BE32(FT_OUR_IP));
	cr_assert_eq(meta.src_port, RTE_BE16(FT_PEER_PORT));
	cr_assert_eq(meta.dst_port, RTE_BE16(EVG_EVF_UDP_PORT));
	cr_assert_arr_eq(meta.src_mac.addr_bytes, ft_peer_mac, 6);
	p = bytes(m) + meta.payload_off;
	for (int i = 0; i < 100; i++)
		cr_assert_eq(p[i], 0x40 + i, "payload byte %d", i);
	rte_pktmbuf_free(m);
}

Test(net, udp_checksum_is_not_checked_so_offloading_senders_pass)
{
	const uint16_t sums[] = {0x0000, 0xbeef, 0xffff};

	for (size_t i = 0; i < RTE_DIM(sums); i++) {
		struct ft_frame f;

		ft_evf_udp_frame(&f, NULL, 40, FT_NO_VLAN);
		ft_put16(f.b + f.l3 + 26, sums[i]);
		expect_frame_class(&f, EVG_NET_CLASS_EVF);
	}
}

Test(net, vlan_tagged_udp_is_evf_and_reply_keeps_tag)
{
	struct evg_net_meta meta;
	uint8_t ack[EVG_EVF_HDR_LEN];
	struct ft_frame f;
	struct rte_mbuf *m;

	ft_evf_udp_frame(&f, NULL, 200, FT_TCI);
	m = mbuf_of_class(&f, &meta, EVG_NET_CLASS_EVF);
	cr_assert_eq(meta.l2_len, 18);
	cr_assert_eq(meta.has_vlan, 1);
	cr_assert_eq(meta.vlan_tci, FT_TCI);
	cr_assert_eq(meta.payload_off, 46);
	cr_assert_eq(meta.payload_len, 200);
	cr_assert_eq(bytes(m)[meta.payload_off], 0x40);

	cr_assert_eq(evg_net_udp_reply(&ifc, m, &meta, ack, make_ack(ack)), 0);
	check_udp_reply(m, FT_TCI, ack, sizeof(ack));
	cr_assert_eq(evg_evf_validate(bytes(m) + 46, 40, NULL),
		     EVG_EVF_BAD_DIRECTION, "reply does not carry the ACK");
	rte_pktmbuf_free(m);
}

Test(net, padded_minimum_frame_gives_udp_payload_len)
{
	const uint16_t plens[] = {0, 1, 4, 17, 18};

	for (size_t i = 0; i < RTE_DIM(plens); i++) {
		struct evg_net_meta meta;
		struct ft_frame f;
		struct rte_mbuf *m;

		ft_evf_udp_frame(&f, NULL, plens[i], FT_NO_VLAN);
		cr_assert_eq(f.len, FT_MIN_FRAME, "test frame not padded");
		m = mbuf_of_class(&f, &meta, EVG_NET_CLASS_EVF);
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
		struct evg_net_meta meta;
		struct ft_frame f;
		struct rte_mbuf *m;

		ft_evf_udp_frame(&f, NULL, 1000, FT_NO_VLAN);
		m = mbuf_of_class(&f, &meta, EVG_NET_CLASS_EVF);
		m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD;
		cr_assert_eq(
			evg_net_udp_reply(&ifc, m, &meta, payload, lens[i]), 0);
		check_udp_reply(m, FT_NO_VLAN, payload, lens[i]);
		cr_assert_eq(m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK, 0,
			     "RX flags left on a TX mbuf");
		rte_pktmbuf_free(m);
	}
}

Test(net, udp_reply_into_fresh_mbuf_needs_only_meta)
{
	struct evg_net_meta meta;
	uint8_t ack[EVG_EVF_HDR_LEN];
	struct ft_frame f;
	struct rte_mbuf *m;

	ft_evf_udp_frame(&f, NULL, 64, FT_TCI);
	m = mbuf_of_class(&f, &meta, EVG_NET_CLASS_EVF);
	rte_pktmbuf_free(m);

	m = rte_pktmbuf_alloc(pool);
	cr_assert_not_null(m);
	cr_assert_eq(evg_net_udp_reply(&ifc, m, &meta, ack, make_ack(ack)), 0);
	check_udp_reply(m, FT_TCI, ack, sizeof(ack));
	rte_pktmbuf_free(m);
}

Test(net, udp_reply_payload_may_sit_in_the_same_mbuf)
{
	/* Once with the payload where the new one goes, once with a stripped
	 * tag to write back, which moves the payload 4 bytes on. */
	for (int stripped = 0; stripped < 2; stripped++) {
		uint8_t ack[EVG_EVF_HDR_LEN];
		struct evg_net_meta meta;
		struct ft_frame f;
		struct rte_mbuf *m;

		ft_evf_udp_frame(&f, NULL, EVG_EVF_HDR_LEN, FT_NO_VLAN);
		make_ack(ack);
		memcpy(f.b + 42, ack, sizeof(ack));
		m = ft_to_mbuf(pool, &f);
		if (stripped)
			ft_mark_stripped(m, FT_TCI);
		expect_class(classify(m, &meta), EVG_NET_CLASS_EVF);
		cr_assert_eq(evg_net_udp_reply(&ifc, m, &meta,
					       bytes(m) + meta.payload_off,
					       meta.payload_len),
			     0);
		check_udp_reply(m, stripped ? FT_TCI : FT_NO_VLAN, ack,
				sizeof(ack));
		rte_pktmbuf_free(m);
	}
}

Test(net, udp_reply_that_does_not_fit_fails_with_enospc)
{
	static uint8_t big[RTE_MBUF_DEFAULT_DATAROOM];
	struct evg_net_meta meta;
	struct ft_frame f;
	struct rte_mbuf *m;
	uint16_t room;

	ft_evf_udp_frame(&f, NULL, 16, FT_NO_VLAN);
	m = mbuf_of_class(&f, &meta, EVG_NET_CLASS_EVF);
	room = (uint16_t)(m->buf_len - m->data_off - 42);
	cr_assert_eq(evg_net_udp_reply(&ifc, m, &meta, big, room + 1), -ENOSPC);
	cr_assert_eq(rte_pktmbuf_data_len(m), f.len, "mbuf changed on error");
	cr_assert_eq(evg_net_udp_reply(&ifc, m, &meta, big, UINT16_MAX),
		     -ENOSPC);
	cr_assert_eq(evg_net_udp_reply(&ifc, m, &meta, big, room), 0);
	check_udp_reply(m, FT_NO_VLAN, big, room);
	rte_pktmbuf_free(m);
}

Test(net, replies_leave_alone_mbufs_they_cannot_write)
{
	struct evg_net_meta meta;
	struct ft_frame f;
	struct rte_mbuf *m;

	/* shared: another reference may still read it */
	ft_build_arp(&f, FT_NO_VLAN, 1, FT_OUR_IP);
	m = mbuf_of_class(&f, &meta, EVG_NET_CLASS_ARP);
	rte_mbuf_refcnt_update(m, 1);
	cr_assert_eq(evg_net_arp_reply(&ifc, m, &meta), -EINVAL);
	cr_assert_eq(evg_net_udp_reply(&ifc, m, &meta, "x", 1), -EINVAL);
	cr_assert_arr_eq(bytes(m), f.b, f.len, "shared mbuf written");
	rte_pktmbuf_free(m);
	rte_pktmbuf_free(m);

	/* a stripped tag to put back, and no headroom for it */
	ft_build_icmp_echo(&f, FT_NO_VLAN, 1, 8);
	m = rte_pktmbuf_alloc(pool);
	cr_assert_not_null(m);
	m->data_off = 0;
	memcpy(rte_pktmbuf_append(m, f.len), f.b, f.len);
	ft_mark_stripped(m, FT_TCI);
	expect_class(classify(m, &meta), EVG_NET_CLASS_ICMP_ECHO);
	cr_assert_eq(evg_net_icmp_echo_reply(&ifc, m, &meta), -ENOSPC);
	cr_assert_eq(rte_pktmbuf_data_len(m), f.len);
	cr_assert_arr_eq(bytes(m), f.b, f.len, "refused mbuf written");
	rte_pktmbuf_free(m);
}

/* ---- VLAN stripped by the NIC ---------------------------------------- */

Test(net, stripped_vlan_tag_is_put_back_in_replies)
{
	uint8_t ack[EVG_EVF_HDR_LEN];
	struct evg_net_meta meta;
	struct ft_frame f;
	struct rte_mbuf *m;

	ft_build_icmp_echo(&f, FT_NO_VLAN, 9, 56);
	m = ft_to_mbuf(pool, &f);
	ft_mark_stripped(m, FT_TCI);
	expect_class(classify(m, &meta), EVG_NET_CLASS_ICMP_ECHO);
	cr_assert_eq(meta.has_vlan, 1);
	cr_assert_eq(meta.vlan_tci, FT_TCI);
	cr_assert_eq(meta.l2_len, 14, "tag counted as if in the frame");
	cr_assert_eq(evg_net_icmp_echo_reply(&ifc, m, &meta), 0);
	ft_check_echo_reply(m, &f, FT_TCI, 56);
	cr_assert_eq(m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED, 0);
	cr_assert_eq(m->l2_len, 18);
	rte_pktmbuf_free(m);

	ft_build_arp(&f, FT_NO_VLAN, 1, FT_OUR_IP);
	m = ft_to_mbuf(pool, &f);
	ft_mark_stripped(m, FT_TCI);
	expect_class(classify(m, &meta), EVG_NET_CLASS_ARP);
	cr_assert_eq(evg_net_arp_reply(&ifc, m, &meta), 0);
	ft_check_arp_reply(m, FT_TCI);
	rte_pktmbuf_free(m);

	ft_evf_udp_frame(&f, NULL, 100, FT_NO_VLAN);
	m = ft_to_mbuf(pool, &f);
	ft_mark_stripped(m, FT_TCI);
	expect_class(classify(m, &meta), EVG_NET_CLASS_EVF);
	cr_assert_eq(meta.payload_off, 42);
	cr_assert_eq(evg_net_udp_reply(&ifc, m, &meta, ack, make_ack(ack)), 0);
	check_udp_reply(m, FT_TCI, ack, sizeof(ack));
	rte_pktmbuf_free(m);
}

/* ---- bounds ---------------------------------------------------------- */

/*
 * Classify every prefix of f, each in a heap buffer of exactly
 * that size behind a hand-made mbuf, so that AddressSanitizer sees any
 * read past data_len (mempool memory would hide it). Prefixes of need
 * bytes or more classify as want, shorter ones as drops.
 */
static void
check_prefixes(const struct ft_frame *f, uint16_t need, enum evg_net_class want)
{
	for (uint16_t cut = 0; cut <= f->len; cut++) {
		uint8_t *buf = malloc(cut > 0 ? cut : 1);
		struct evg_net_meta meta;
		struct rte_mbuf fake;
		enum evg_net_class c;

		cr_assert_not_null(buf);
		memcpy(buf, f->b, cut);
		memset(&fake, 0, sizeof(fake));
		fake.buf_addr = buf;
		fake.buf_len = cut;
		fake.data_len = cut;
		fake.pkt_len = cut;
		fake.nb_segs = 1;
		c = evg_net_classify(&ifc, &fake, &meta);
		free(buf);
		if (cut >= need)
			cr_assert_eq(c, want, "%u of %u bytes: %s", cut, f->len,
				     evg_net_class_name(c));
		else
			cr_assert(evg_net_class_is_drop(c),
				  "%u of %u bytes: %s", cut, f->len,
				  evg_net_class_name(c));
	}
}

Test(net, classify_reads_nothing_past_data_len)
{
	struct ft_frame f;

	ft_evf_udp_frame(&f, NULL, 40, FT_NO_VLAN);
	check_prefixes(&f, 14 + 20 + 8 + 40, EVG_NET_CLASS_EVF);
	ft_evf_udp_frame(&f, NULL, 40, FT_TCI);
	check_prefixes(&f, 18 + 20 + 8 + 40, EVG_NET_CLASS_EVF);
	ft_build_icmp_echo(&f, FT_NO_VLAN, 5, 32);
	check_prefixes(&f, 14 + 20 + 8 + 32, EVG_NET_CLASS_ICMP_ECHO);
	ft_build_arp(&f, FT_TCI, 1, FT_OUR_IP);
	check_prefixes(&f, 18 + 28, EVG_NET_CLASS_ARP);

	/* IP packets too short for their UDP or ICMP header, unpadded */
	ft_evf_udp_frame(&f, NULL, 0, FT_NO_VLAN);
	ft_put16(f.b + FT_AT_IP_LEN, 20 + 2);
	ft_fix_ip_cksum(&f);
	f.len = 14 + 20 + 2;
	check_prefixes(&f, f.len, EVG_NET_CLASS_UDP_LENGTH);

	ft_build_icmp_echo(&f, FT_NO_VLAN, 5, 0);
	ft_put16(f.b + FT_AT_IP_LEN, 20 + 2);
	ft_fix_ip_cksum(&f);
	f.len = 14 + 20 + 2;
	check_prefixes(&f, f.len, EVG_NET_CLASS_ICMP_IGNORED);
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
		struct evg_net_meta meta;
		struct ft_frame f;
		struct rte_mbuf *m;

		ft_evf_udp_frame(&f, NULL, 40, FT_NO_VLAN);
		if (cases[i].corrupt)
			f.b[f.l3 + 10] ^= 0x01;
		m = ft_to_mbuf(pool, &f);
		m->ol_flags |= cases[i].flags;
		cr_assert_eq(classify(m, &meta), cases[i].want, "case %zu: %s",
			     i, evg_net_class_name(classify(m, &meta)));
		rte_pktmbuf_free(m);
	}
}

/* ---- drops ----------------------------------------------------------- */

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
	{"IPv6", "ethertype", UDP, .at = FT_AT_ETHERTYPE, .val = 0x86dd},
	{"802.1Q in 802.1Q", "vlan_stacked", UDP_TAGGED, .at = FT_AT_INNER_TYPE,
	 .val = 0x8100},
	{"802.1ad tag", "vlan_stacked", UDP_TAGGED, .at = FT_AT_ETHERTYPE,
	 .val = 0x88a8},
	{"tag in frame and stripped", "vlan_stacked", UDP_TAGGED,
	 .stripped = true},
	{"IP version 6", "ip_header", UDP, .at = FT_AT_IP_VHL, .val = 0x6500,
	 .fix_ip_sum = true},
	{"IHL 4", "ip_header", UDP, .at = FT_AT_IP_VHL, .val = 0x4400,
	 .fix_ip_sum = true},
	{"IP total length beyond the frame", "ip_header", UDP, .cut = 50},
	{"frame cut inside the IP header", "ip_header", UDP, .cut = 14 + 19},
	{"IP total length below IHL", "ip_header", UDP, .at = FT_AT_IP_LEN,
	 .val = 19, .fix_ip_sum = true},
	{"IP checksum wrong", "ip_checksum", UDP, .at = FT_AT_IP_SUM, .val = 0},
	{"NIC says IP checksum bad", "ip_checksum", UDP,
	 .ol_flags = RTE_MBUF_F_RX_IP_CKSUM_BAD},
	{"more fragments", "ip_fragment", UDP, .at = FT_AT_IP_FRAG,
	 .val = 0x2000, .fix_ip_sum = true},
	{"last fragment", "ip_fragment", UDP, .at = FT_AT_IP_FRAG, .val = 185,
	 .fix_ip_sum = true},
	{"to 10.0.0.3", "ip_not_ours", UDP, .at = FT_AT_IP_DST_LO, .val = 3,
	 .fix_ip_sum = true},
	{"TCP", "ip_proto", UDP, .at = FT_AT_IP_TTL_PROTO, .val = 0x3f06,
	 .fix_ip_sum = true},
	{"UDP to port 53", "udp_port", UDP, .at = FT_AT_UDP_DPORT, .val = 53},
	{"UDP length 7", "udp_length", UDP, .at = FT_AT_UDP_LEN, .val = 7},
	{"UDP length beyond IP", "udp_length", UDP, .at = FT_AT_UDP_LEN,
	 .val = 8 + 16 + 1},
	{"IP payload shorter than UDP header", "udp_length", UDP,
	 .at = FT_AT_IP_LEN, .val = 24, .fix_ip_sum = true},
	{"two segments", "multi_seg", UDP, .chained = true},
	{"ARP for 10.0.0.3", "arp_ignored", .base = ARP_OTHER_IP},
	{"ICMP timestamp", "icmp_ignored", ICMP_ECHO, .at = FT_AT_ICMP_TYPE,
	 .val = 0x0d00},
};

static struct rte_mbuf *
make_drop(const struct drop_case *d)
{
	struct rte_mbuf *m, *tail;
	struct ft_frame f;

	switch (d->base) {
	case UDP:
		ft_evf_udp_frame(&f, NULL, 16, FT_NO_VLAN);
		break;
	case UDP_TAGGED:
		ft_evf_udp_frame(&f, NULL, 16, FT_TCI);
		break;
	case ARP_OTHER_IP:
		ft_build_arp(&f, FT_NO_VLAN, 1, FT_OTHER_IP);
		break;
	case ICMP_ECHO:
		ft_build_icmp_echo(&f, FT_NO_VLAN, 1, 12);
		break;
	}
	if (d->at != 0)
		ft_put16(f.b + d->at, d->val);
	if (d->fix_ip_sum)
		ft_fix_ip_cksum(&f);
	if (d->cut != 0)
		f.len = d->cut;
	m = ft_to_mbuf(pool, &f);
	m->ol_flags |= d->ol_flags;
	if (d->stripped)
		ft_mark_stripped(m, FT_TCI);
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
	struct ft_frame f;
	uint16_t n = 0;

	ft_evf_udp_frame(&f, NULL, 300, FT_NO_VLAN);
	pkts[n++] = ft_to_mbuf(pool, &f);
	want[EVG_NET_CLASS_EVF]++;
	for (size_t i = 0; i < RTE_DIM(drops); i++) {
		pkts[n++] = make_drop(&drops[i]);
		want[class_by_name(drops[i].name)]++;
	}
	ft_build_arp(&f, FT_TCI, 1, FT_OUR_IP);
	pkts[n++] = ft_to_mbuf(pool, &f);
	want[EVG_NET_CLASS_ARP]++;
	ft_build_icmp_echo(&f, FT_NO_VLAN, 3, 20);
	pkts[n++] = ft_to_mbuf(pool, &f);
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
	cr_assert_eq(metas[n - 2].vlan_tci, FT_TCI);
	cr_assert_eq(classes[n - 1], EVG_NET_CLASS_ICMP_ECHO);
	rte_pktmbuf_free_bulk(pkts, n);
}

Test(net, mbufs_all_return_to_the_pool)
{
	struct evg_net_meta meta;
	uint8_t ack[EVG_EVF_HDR_LEN];
	struct ft_frame f;
	struct rte_mbuf *m;

	for (size_t i = 0; i < RTE_DIM(drops); i++)
		rte_pktmbuf_free(make_drop(&drops[i]));
	ft_evf_udp_frame(&f, NULL, 40, FT_NO_VLAN);
	m = mbuf_of_class(&f, &meta, EVG_NET_CLASS_EVF);
	cr_assert_eq(evg_net_udp_reply(&ifc, m, &meta, ack, make_ack(ack)), 0);
	rte_pktmbuf_free(m);
	cr_assert_eq(rte_mempool_in_use_count(pool), 0, "%u mbufs still in use",
		     rte_mempool_in_use_count(pool));
}