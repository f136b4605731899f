/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Classification and in-place replies over single-segment mbufs. Every
 * header read is preceded by a length check against the segment's
 * data_len, so a frame cut anywhere is counted, never overread.
 */
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_prefetch.h>
#include <rte_udp.h>

#include "evg_net.h"

#define VLAN_LEN ((uint16_t)sizeof(struct rte_vlan_hdr))
#define ARP_LEN ((uint16_t)sizeof(struct rte_arp_hdr))
#define IP_MIN_LEN ((uint16_t)sizeof(struct rte_ipv4_hdr))
#define UDP_LEN ((uint16_t)sizeof(struct rte_udp_hdr))
#define ICMP_LEN ((uint16_t)sizeof(struct rte_icmp_hdr))
#define REPLY_TTL 64

static_assert(EVG_NET_CLASS_MAX <= UINT8_MAX + 1,
	      "classes must fit the uint8_t array of the burst API");
static_assert(sizeof(struct rte_arp_hdr) == 28, "ARP for Ethernet/IPv4");

static const char *const class_names[EVG_NET_CLASS_MAX] = {
#define NAME_(name, str, desc) [EVG_NET_CLASS_##name] = str,
	EVG_NET_CLASS_FOREACH(NAME_)
#undef NAME_
};

static const char *const class_descs[EVG_NET_CLASS_MAX] = {
#define DESC_(name, str, desc) [EVG_NET_CLASS_##name] = desc,
	EVG_NET_CLASS_FOREACH(DESC_)
#undef DESC_
};

const char *
evg_net_class_name(enum evg_net_class c)
{
	if ((unsigned int)c >= EVG_NET_CLASS_MAX)
		return NULL;
	return class_names[c];
}

const char *
evg_net_class_desc(enum evg_net_class c)
{
	if ((unsigned int)c >= EVG_NET_CLASS_MAX)
		return NULL;
	return class_descs[c];
}

static inline bool
is_vlan_type(rte_be16_t t)
{
	return t == RTE_BE16(RTE_ETHER_TYPE_VLAN) ||
	       t == RTE_BE16(RTE_ETHER_TYPE_QINQ);
}

static enum evg_net_class
classify_arp(const struct evg_net_if *ifc, const struct rte_mbuf *m,
	     struct evg_net_meta *meta)
{
	const struct rte_arp_hdr *arp;

	if (rte_pktmbuf_data_len(m) < meta->l2_len + ARP_LEN)
		return EVG_NET_CLASS_ARP_IGNORED;
	arp = rte_pktmbuf_mtod_offset(m, const struct rte_arp_hdr *,
				      meta->l2_len);
	if (arp->arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) ||
	    arp->arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) ||
	    arp->arp_hlen != RTE_ETHER_ADDR_LEN || arp->arp_plen != 4 ||
	    arp->arp_opcode != RTE_BE16(RTE_ARP_OP_REQUEST) ||
	    arp->arp_data.arp_tip != ifc->ip)
		return EVG_NET_CLASS_ARP_IGNORED;
	meta->l3_len = 0;
	meta->src_ip = arp->arp_data.arp_sip;
	meta->dst_ip = arp->arp_data.arp_tip;
	meta->src_port = 0;
	meta->dst_port = 0;
	meta->payload_off = meta->l2_len;
	meta->payload_len = ARP_LEN;
	return EVG_NET_CLASS_ARP;
}

/* l4 is the IP payload: l4_len bytes at l4_off, all inside the segment. */
static enum evg_net_class
classify_udp(const struct evg_net_if *ifc, const struct rte_mbuf *m,
	     uint16_t l4_off, uint16_t l4_len, struct evg_net_meta *meta)
{
	const struct rte_udp_hdr *udp;
	uint16_t dgram_len;

	if (l4_len < UDP_LEN)
		return EVG_NET_CLASS_UDP_LENGTH;
	udp = rte_pktmbuf_mtod_offset(m, const struct rte_udp_hdr *, l4_off);
	if (udp->dst_port != rte_cpu_to_be_16(ifc->udp_port))
		return EVG_NET_CLASS_UDP_PORT;
	/* Trailing IP payload beyond the UDP length is ignored (RFC 768). */
	dgram_len = rte_be_to_cpu_16(udp->dgram_len);
	if (dgram_len < UDP_LEN || dgram_len > l4_len)
		return EVG_NET_CLASS_UDP_LENGTH;
	meta->src_port = udp->src_port;
	meta->dst_port = udp->dst_port;
	meta->payload_off = l4_off + UDP_LEN;
	meta->payload_len = dgram_len - UDP_LEN;
	return EVG_NET_CLASS_EVF;
}

static enum evg_net_class
classify_icmp(const struct rte_mbuf *m, uint16_t l4_off, uint16_t l4_len,
	      struct evg_net_meta *meta)
{
	const struct rte_icmp_hdr *icmp;

	if (l4_len < ICMP_LEN)
		return EVG_NET_CLASS_ICMP_IGNORED;
	icmp = rte_pktmbuf_mtod_offset(m, const struct rte_icmp_hdr *, l4_off);
	if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || icmp->icmp_code != 0)
		return EVG_NET_CLASS_ICMP_IGNORED;
	/* The reply echoes the data, so it must arrive intact; a valid
	 * message sums to 0xffff including its checksum field. */
	if (rte_raw_cksum(icmp, l4_len) != 0xffff)
		return EVG_NET_CLASS_ICMP_IGNORED;
	meta->src_port = 0;
	meta->dst_port = 0;
	meta->payload_off = l4_off;
	meta->payload_len = l4_len;
	return EVG_NET_CLASS_ICMP_ECHO;
}

static enum evg_net_class
classify_ipv4(const struct evg_net_if *ifc, const struct rte_mbuf *m,
	      struct evg_net_meta *meta)
{
	const uint16_t l2 = meta->l2_len;
	const uint16_t frame_len = rte_pktmbuf_data_len(m);
	const struct rte_ipv4_hdr *ip;
	uint16_t ihl, total_len;
	uint64_t csum_flags;

	if (frame_len < l2 + IP_MIN_LEN)
		return EVG_NET_CLASS_IP_HEADER;
	ip = rte_pktmbuf_mtod_offset(m, const struct rte_ipv4_hdr *, l2);
	ihl = rte_ipv4_hdr_len(ip);
	total_len = rte_be_to_cpu_16(ip->total_length);
	/* Frames shorter than 60 bytes arrive padded: the frame may be
	 * longer than the IP packet, never shorter. */
	if ((ip->version_ihl >> 4) != 4 || ihl < IP_MIN_LEN ||
	    total_len < ihl || frame_len < l2 + total_len)
		return EVG_NET_CLASS_IP_HEADER;

	csum_flags = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
	if (csum_flags == RTE_MBUF_F_RX_IP_CKSUM_BAD)
		return EVG_NET_CLASS_IP_CHECKSUM;
	/* GOOD: the NIC checked it; NONE: the NIC vouches for the header
	 * though the field is not filled in (virtio). */
	if (csum_flags == RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN &&
	    rte_ipv4_cksum(ip) != 0)
		return EVG_NET_CLASS_IP_CHECKSUM;
	if (rte_ipv4_frag_pkt_is_fragmented(ip))
		return EVG_NET_CLASS_IP_FRAGMENT;
	if (ip->dst_addr != ifc->ip)
		return EVG_NET_CLASS_IP_NOT_OURS;

	meta->l3_len = (uint8_t)ihl;
	meta->src_ip = ip->src_addr;
	meta->dst_ip = ip->dst_addr;
	switch (ip->next_proto_id) {
	case IPPROTO_UDP:
		return classify_udp(ifc, m, l2 + ihl, total_len - ihl, meta);
	case IPPROTO_ICMP:
		return classify_icmp(m, l2 + ihl, total_len - ihl, meta);
	default:
		return EVG_NET_CLASS_IP_PROTO;
	}
}

enum evg_net_class
evg_net_classify(const struct evg_net_if *ifc, const struct rte_mbuf *m,
		 struct evg_net_meta *meta)
{
	const struct rte_ether_hdr *eth;
	const struct rte_vlan_hdr *vlan;
	rte_be16_t type;

	if (unlikely(m->nb_segs != 1))
		return EVG_NET_CLASS_MULTI_SEG;
	if (unlikely(rte_pktmbuf_data_len(m) < RTE_ETHER_HDR_LEN))
		return EVG_NET_CLASS_ETH_RUNT;
	eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	type = eth->ether_type;
	meta->l2_len = RTE_ETHER_HDR_LEN;
	meta->has_vlan = 0;
	meta->vlan_tci = 0;
	if (m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) {
		meta->has_vlan = 1;
		meta->vlan_tci = m->vlan_tci;
	}
	if (is_vlan_type(type)) {
		if (meta->has_vlan || type != RTE_BE16(RTE_ETHER_TYPE_VLAN))
			return EVG_NET_CLASS_VLAN_STACKED;
		if (rte_pktmbuf_data_len(m) < RTE_ETHER_HDR_LEN + VLAN_LEN)
			return EVG_NET_CLASS_ETH_RUNT;
		vlan = (const struct rte_vlan_hdr *)(eth + 1);
		type = vlan->eth_proto;
		if (is_vlan_type(type))
			return EVG_NET_CLASS_VLAN_STACKED;
		meta->has_vlan = 1;
		meta->vlan_tci = rte_be_to_cpu_16(vlan->vlan_tci);
		meta->l2_len += VLAN_LEN;
	}
	rte_ether_addr_copy(&eth->src_addr, &meta->src_mac);

	if (type == RTE_BE16(RTE_ETHER_TYPE_IPV4))
		return classify_ipv4(ifc, m, meta);
	if (type == RTE_BE16(RTE_ETHER_TYPE_ARP))
		return classify_arp(ifc, m, meta);
	return EVG_NET_CLASS_ETHERTYPE;
}

void
evg_net_classify_burst(const struct evg_net_if *ifc,
		       struct rte_mbuf *const *pkts, uint16_t n,
		       struct evg_net_meta *metas, uint8_t *classes,
		       struct evg_net_counters *counters)
{
	enum evg_net_class c;

	for (uint16_t i = 0; i < n; i++) {
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		c = evg_net_classify(ifc, pkts[i], &metas[i]);
		classes[i] = (uint8_t)c;
		counters->c[c]++;
	}
}

/* The reply functions write into m: it must be ours alone and flat. A
 * PMD's external buffer is fine while no other mbuf shares it. */
static inline bool
writable(const struct rte_mbuf *m)
{
	if (m->nb_segs != 1 || rte_mbuf_refcnt_read(m) != 1 ||
	    RTE_MBUF_CLONED(m))
		return false;
	return !RTE_MBUF_HAS_EXTBUF(m) ||
	       rte_mbuf_ext_refcnt_read(m->shinfo) == 1;
}

/*
 * A reply reuses a received mbuf: drop its RX offload flags (which PMDs
 * could misread on TX, e.g. a stale VLAN-stripped flag) and say where the
 * headers are.
 */
static void
tx_prepare(struct rte_mbuf *m, uint16_t l2, uint16_t l3, uint16_t l4)
{
	m->ol_flags &= RTE_MBUF_F_EXTERNAL;
	m->vlan_tci = 0;
	m->l2_len = l2;
	m->l3_len = l3;
	m->l4_len = l4;
}

/* The NIC stripped the tag: it is in meta but not in the frame. */
static inline bool
tag_stripped(const struct evg_net_meta *meta)
{
	return meta->has_vlan && meta->l2_len == RTE_ETHER_HDR_LEN;
}

/*
 * Checks before an in-place reply writes anything, so that a refused mbuf
 * is left as received.
 */
static int
in_place_check(const struct rte_mbuf *m, const struct evg_net_meta *meta,
	       uint16_t len)
{
	if (!writable(m) || rte_pktmbuf_data_len(m) < len)
		return -EINVAL;
	if (tag_stripped(meta) && rte_pktmbuf_headroom(m) < VLAN_LEN)
		return -ENOSPC;
	return 0;
}

/*
 * A tag the NIC stripped is written back into the frame, so that the reply
 * needs no TX offload to carry it. in_place_check() made room.
 */
static void
vlan_restore(struct rte_mbuf *m, const struct evg_net_meta *meta)
{
	struct rte_ether_hdr *eth;
	struct rte_vlan_hdr *vlan;

	if (!tag_stripped(meta))
		return;
	m->data_off -= VLAN_LEN;
	m->data_len += VLAN_LEN;
	m->pkt_len += VLAN_LEN;
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	memmove(eth, (uint8_t *)eth + VLAN_LEN, 2 * RTE_ETHER_ADDR_LEN);
	vlan = (struct rte_vlan_hdr *)(eth + 1);
	/* The inner type is the old ether_type, already in place. */
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_VLAN);
	vlan->vlan_tci = rte_cpu_to_be_16(meta->vlan_tci);
}

static uint16_t
reply_l2_len(const struct evg_net_meta *meta)
{
	return meta->has_vlan ? RTE_ETHER_HDR_LEN + VLAN_LEN
			      : RTE_ETHER_HDR_LEN;
}

int
evg_net_arp_reply(const struct evg_net_if *ifc, struct rte_mbuf *m,
		  const struct evg_net_meta *meta)
{
	struct rte_ether_hdr *eth;
	struct rte_arp_hdr *arp;
	struct rte_arp_ipv4 *a;
	uint16_t len = meta->l2_len + ARP_LEN;
	int rc = in_place_check(m, meta, len);

	if (rc != 0)
		return rc;
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	arp = rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *, meta->l2_len);
	a = &arp->arp_data;

	arp->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
	a->arp_tha = a->arp_sha;
	a->arp_tip = a->arp_sip;
	rte_ether_addr_copy(&ifc->mac, &a->arp_sha);
	a->arp_sip = ifc->ip;
	/* RFC 826: the reply goes to the sender hardware address. */
	rte_ether_addr_copy(&a->arp_tha, &eth->dst_addr);
	rte_ether_addr_copy(&ifc->mac, &eth->src_addr);

	rte_pktmbuf_trim(m, rte_pktmbuf_data_len(m) - len); /* padding */
	vlan_restore(m, meta);
	tx_prepare(m, reply_l2_len(meta), 0, 0);
	m->packet_type = RTE_PTYPE_L2_ETHER_ARP;
	return 0;
}

int
evg_net_icmp_echo_reply(const struct evg_net_if *ifc, struct rte_mbuf *m,
			const struct evg_net_meta *meta)
{
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;
	struct rte_icmp_hdr *icmp;
	uint16_t len = meta->payload_off + meta->payload_len;
	uint32_t sum;
	int rc = in_place_check(m, meta, len);

	if (rc != 0)
		return rc;
	if (meta->payload_len < ICMP_LEN ||
	    meta->payload_off != meta->l2_len + meta->l3_len)
		return -EINVAL;
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, meta->l2_len);
	icmp = rte_pktmbuf_mtod_offset(m, struct rte_icmp_hdr *,
				       meta->payload_off);

	rte_ether_addr_copy(&meta->src_mac, &eth->dst_addr);
	rte_ether_addr_copy(&ifc->mac, &eth->src_addr);
	ip->dst_addr = meta->src_ip;
	ip->src_addr = ifc->ip;
	ip->time_to_live = REPLY_TTL;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);

	/* Only the type changes (8 -> 0), so update the checksum by RFC 1624
	 * eqn. 3 instead of summing the data again: HC' = ~(~HC + ~m + m'),
	 * m being the type/code word. */
	sum = (uint16_t)~rte_be_to_cpu_16(icmp->icmp_cksum);
	sum += (uint16_t) ~(RTE_IP_ICMP_ECHO_REQUEST << 8);
	sum += RTE_IP_ICMP_ECHO_REPLY << 8;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	icmp->icmp_cksum = rte_cpu_to_be_16((uint16_t)~sum);

	rte_pktmbuf_trim(m, rte_pktmbuf_data_len(m) - len); /* padding */
	vlan_restore(m, meta);
	tx_prepare(m, reply_l2_len(meta), meta->l3_len, 0);
	m->packet_type =
		RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV4 | RTE_PTYPE_L4_ICMP;
	return 0;
}

static void
udp_reply_headers(const struct evg_net_if *ifc, uint8_t *frame,
		  const struct evg_net_meta *meta, uint16_t len, bool cksum)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)frame;
	struct rte_vlan_hdr *vlan;
	struct rte_ipv4_hdr *ip;
	struct rte_udp_hdr *udp;
	const uint16_t l2 = reply_l2_len(meta);

	rte_ether_addr_copy(&meta->src_mac, &eth->dst_addr);
	rte_ether_addr_copy(&ifc->mac, &eth->src_addr);
	if (meta->has_vlan) {
		eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_VLAN);
		vlan = (struct rte_vlan_hdr *)(eth + 1);
		vlan->vlan_tci = rte_cpu_to_be_16(meta->vlan_tci);
		vlan->eth_proto = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	} else {
		eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	}

	ip = (struct rte_ipv4_hdr *)(frame + l2);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->type_of_service = 0;
	ip->total_length = rte_cpu_to_be_16(IP_MIN_LEN + UDP_LEN + len);
	/* DF set, so ID 0 is fine (RFC 6864: atomic datagrams). */
	ip->packet_id = 0;
	ip->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = REPLY_TTL;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = ifc->ip;
	ip->dst_addr = meta->src_ip;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);

	udp = (struct rte_udp_hdr *)(ip + 1);
	udp->src_port = rte_cpu_to_be_16(ifc->udp_port);
	udp->dst_port = meta->src_port;
	udp->dgram_len = rte_cpu_to_be_16(UDP_LEN + len);
	udp->dgram_cksum = 0;
	if (cksum)
		udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
}

/* The datagram's headers in front of len payload bytes already in
 * place; with cksum, the UDP checksum too. */
static int
udp_datagram(const struct evg_net_if *ifc, struct rte_mbuf *m,
	     const struct evg_net_meta *meta, const void *payload, uint16_t len,
	     bool cksum)
{
	const uint16_t l2 = reply_l2_len(meta);
	const uint32_t hdrs = l2 + IP_MIN_LEN + UDP_LEN;
	uint8_t *frame;

	if (!writable(m))
		return -EINVAL;
	if ((uint32_t)IP_MIN_LEN + UDP_LEN + len > UINT16_MAX ||
	    (uint32_t)m->data_off + hdrs + len > m->buf_len)
		return -ENOSPC;
	frame = rte_pktmbuf_mtod(m, uint8_t *);
	/* Payload first: it may sit in m, e.g. built over the received
	 * frame's payload, where the new headers would overwrite it. */
	if (payload != NULL && len > 0)
		memmove(frame + hdrs, payload, len);
	udp_reply_headers(ifc, frame, meta, len, cksum);
	m->data_len = (uint16_t)(hdrs + len);
	m->pkt_len = m->data_len;
	tx_prepare(m, l2, IP_MIN_LEN, UDP_LEN);
	m->packet_type =
		RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV4 | RTE_PTYPE_L4_UDP;
	return 0;
}

int
evg_net_udp_reply(const struct evg_net_if *ifc, struct rte_mbuf *m,
		  const struct evg_net_meta *meta, const void *payload,
		  uint16_t len)
{
	return udp_datagram(ifc, m, meta, payload, len, true);
}

uint16_t
evg_net_udp_hdrs_len(const struct evg_net_meta *meta)
{
	return (uint16_t)(reply_l2_len(meta) + IP_MIN_LEN + UDP_LEN);
}

int
evg_net_udp_wrap(const struct evg_net_if *ifc, struct rte_mbuf *m,
		 const struct evg_net_meta *meta, uint16_t len)
{
	return udp_datagram(ifc, m, meta, NULL, len, false);
}
