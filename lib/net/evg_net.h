/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet layer of the RX path (docs: PROTOCOL.md, "Transport").
 *
 * - evg_net_classify() / evg_net_classify_burst() sort received Ethernet
 *   frames into EVF datagrams, ARP requests and ICMP echo requests for our
 *   address, or one named drop reason each.
 * - evg_net_arp_reply() and evg_net_icmp_echo_reply() turn a classified
 *   request into its reply in place, ready for rte_eth_tx_burst().
 * - evg_net_udp_reply() writes a UDP datagram (an EVF ACK or NAK) back to
 *   the source of a classified EVF datagram.
 *
 * Frames: Ethernet II with any destination MAC (the port may be
 * promiscuous; classification is by IP), at most one 802.1Q tag, in the
 * frame or stripped by the NIC (RTE_MBUF_F_RX_VLAN_STRIPPED). Replies go
 * back to the frame's source MAC, the last hop, so no ARP cache is needed,
 * and carry the same VLAN tag, written into the frame.
 *
 * Only single-segment mbufs are handled. Nothing here allocates, locks or
 * logs, nor reads outside rte_pktmbuf_data_len(); every function is
 * thread-safe on distinct mbufs.
 */
#ifndef EVG_NET_H
#define EVG_NET_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

/* Our side of a port. */
struct evg_net_if {
	struct rte_ether_addr mac; /* source of every reply */
	rte_be32_t ip;		   /* network order */
	uint16_t udp_port;	   /* host order; EVG_EVF_UDP_PORT by default */
};

/*
 * Every outcome of classification. The first three are delivered; the
 * others are drops, checked in this order, so a frame with several faults
 * is counted under the first. One list yields the enum, the names (also
 * the counter names) and the descriptions.
 */
#define EVG_NET_CLASS_FOREACH(X)                                               \
	X(EVF, "evf", "UDP datagram to our address and EVF port")              \
	X(ARP, "arp", "ARP request for our address")                           \
	X(ICMP_ECHO, "icmp_echo", "ICMP echo request to our address")          \
	X(MULTI_SEG, "multi_seg", "frame spans several mbuf segments")         \
	X(ETH_RUNT, "eth_runt", "shorter than its Ethernet and VLAN headers")  \
	X(VLAN_STACKED, "vlan_stacked", "second VLAN tag or 802.1ad tag")      \
	X(ETHERTYPE, "ethertype", "neither IPv4 nor ARP")                      \
	X(IP_HEADER, "ip_header",                                              \
	  "bad IPv4 version or IHL, or a length beyond the frame")             \
	X(IP_CHECKSUM, "ip_checksum", "IPv4 header checksum wrong")            \
	X(IP_FRAGMENT, "ip_fragment", "IPv4 fragment (MF set or offset != 0)") \
	X(IP_NOT_OURS, "ip_not_ours", "IPv4 destination is not our address")   \
	X(IP_PROTO, "ip_proto", "IPv4 protocol neither UDP nor ICMP")          \
	X(UDP_PORT, "udp_port", "UDP to a port other than ours")               \
	X(UDP_LENGTH, "udp_length",                                            \
	  "UDP header truncated, or length < 8 or beyond the IP payload")      \
	X(ARP_IGNORED, "arp_ignored",                                          \
	  "ARP other than an Ethernet/IPv4 request for our address")           \
	X(ICMP_IGNORED, "icmp_ignored",                                        \
	  "ICMP other than an echo request with a valid checksum")

enum evg_net_class {
#define EVG_NET_CLASS_ENUM_(name, str, desc) EVG_NET_CLASS_##name,
	EVG_NET_CLASS_FOREACH(EVG_NET_CLASS_ENUM_)
#undef EVG_NET_CLASS_ENUM_
	EVG_NET_CLASS_MAX,
};

/* Frames seen per class; meant for a per-lcore stats block. */
struct evg_net_counters {
	uint64_t c[EVG_NET_CLASS_MAX];
};

/* True for the classes that are dropped (counted, not delivered). */
static inline bool
evg_net_class_is_drop(enum evg_net_class c)
{
	return c > EVG_NET_CLASS_ICMP_ECHO;
}

/*
 * What classification learnt about a delivered frame; the app keeps it in
 * the mbuf's private area so that a reply can be built later, even into
 * another mbuf. Contents are unspecified for dropped frames.
 */
struct evg_net_meta {
	struct rte_ether_addr src_mac; /* Ethernet source: where replies go */
	uint16_t l2_len;     /* offset of the IPv4/ARP header: 14, or 18 with
			      * an 802.1Q tag in the frame */
	uint16_t vlan_tci;   /* host order; valid when has_vlan */
	uint8_t has_vlan;    /* tagged, in the frame or stripped by the NIC */
	uint8_t l3_len;	     /* IPv4 header length (0 for ARP) */
	rte_be32_t src_ip;   /* IPv4 source, or ARP sender address */
	rte_be32_t dst_ip;   /* IPv4 destination, or ARP target address */
	rte_be16_t src_port; /* UDP ports (EVF only) */
	rte_be16_t dst_port;
	/* EVF: the UDP payload, i.e. the EVF frame (the UDP length rules, not
	 * the IP length nor the frame length). ICMP_ECHO: the ICMP message.
	 * ARP: the ARP packet. */
	uint16_t payload_off;
	uint16_t payload_len;
};

/* "evf", "arp", ... as used for counter names; NULL when out of range. */
const char *evg_net_class_name(enum evg_net_class c);
/* One-line description of a class; NULL when out of range. */
const char *evg_net_class_desc(enum evg_net_class c);

/*
 * Classify one received frame. meta is filled for EVF, ARP and ICMP_ECHO.
 *
 * The IPv4 header checksum is checked in software unless the NIC vouched
 * for it (RTE_MBUF_F_RX_IP_CKSUM_GOOD or _NONE); RTE_MBUF_F_RX_IP_CKSUM_BAD
 * drops the frame. The UDP checksum is not checked: producers on veth send
 * with checksum offload, so their datagrams carry only the pseudo-header
 * sum and would all look corrupt, and the EVF frame's own CRC-32C covers
 * every payload byte anyway. ICMP echo checksums are checked, since a reply
 * echoes the payload.
 */
enum evg_net_class evg_net_classify(const struct evg_net_if *ifc,
				    const struct rte_mbuf *m,
				    struct evg_net_meta *meta);

/*
 * Burst form for the RX stage: classify pkts[0..n), writing classes[i] and
 * metas[i], and add one to counters->c[class] for each. Frees nothing:
 * the caller acts on the classes.
 */
void evg_net_classify_burst(const struct evg_net_if *ifc,
			    struct rte_mbuf *const *pkts, uint16_t n,
			    struct evg_net_meta *metas, uint8_t *classes,
			    struct evg_net_counters *counters);

/*
 * Turn an ARP request classified EVG_NET_CLASS_ARP into our reply, in
 * place: op 2, sender = us, target = the requester, Ethernet destination
 * = the requester's hardware address. Returns 0; -EINVAL when m is
 * shared (refcnt > 1, a clone, or on a shared external buffer),
 * multi-segment or shorter than meta says; -ENOSPC when a stripped VLAN
 * tag cannot be put back for want of headroom. On error m is unchanged.
 */
int evg_net_arp_reply(const struct evg_net_if *ifc, struct rte_mbuf *m,
		      const struct evg_net_meta *meta);

/*
 * Turn an echo request classified EVG_NET_CLASS_ICMP_ECHO into the echo
 * reply, in place: addresses swapped, type 0, TTL 64, identifier, sequence
 * and data kept, checksums updated, Ethernet padding trimmed. Returns as
 * evg_net_arp_reply().
 */
int evg_net_icmp_echo_reply(const struct evg_net_if *ifc, struct rte_mbuf *m,
			    const struct evg_net_meta *meta);

/*
 * Write into m a UDP datagram from ifc (ip:udp_port) to the source
 * (MAC, IP, port, VLAN) of the EVF datagram that meta describes, carrying
 * len bytes of payload (e.g. a 40-byte EVF ACK). m may be the received
 * mbuf or a fresh one; its data starts where it is now, and its previous
 * contents are overwritten. payload may point into m. TTL 64, DF set,
 * IPv4 and UDP checksums computed in software (the peer's kernel checks
 * them and the port may lack offloads); m->l2_len, l3_len and l4_len are
 * set for the TX path. Returns 0; -ENOSPC when the datagram does not fit
 * in m's buffer (or exceeds 65535 bytes of IPv4); -EINVAL when m is
 * shared or multi-segment, as for evg_net_arp_reply().
 */
int evg_net_udp_reply(const struct evg_net_if *ifc, struct rte_mbuf *m,
		      const struct evg_net_meta *meta, const void *payload,
		      uint16_t len);

/* Bytes before the UDP payload of the datagrams evg_net_udp_reply() and
 * evg_net_udp_wrap() write towards meta's source: Ethernet (with its VLAN
 * tag, if any), IPv4 and UDP headers. */
uint16_t evg_net_udp_hdrs_len(const struct evg_net_meta *meta);

/*
 * As evg_net_udp_reply(), for a payload of len bytes the caller has
 * already written at evg_net_udp_hdrs_len(meta) from m's data start (so
 * nothing is moved), and with UDP checksum 0 ("none", RFC 768): for
 * frames that carry a check of their own over every byte (EVF's CRC-32C)
 * and are sent at rate, such as DELIVER frames. Returns as
 * evg_net_udp_reply().
 */
int evg_net_udp_wrap(const struct evg_net_if *ifc, struct rte_mbuf *m,
		     const struct evg_net_meta *meta, uint16_t len);

#endif /* EVG_NET_H */
