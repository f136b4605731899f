/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frames for the lib/net and stage tests, written byte by byte (big-endian
 * helpers and an RFC 1071 checksum of the tests' own), never with the DPDK
 * structs lib/net uses, so a misunderstanding shared by the code and its
 * tests cannot pass.
 *
 * The cast: we are FT_OUR_IP / ft_our_mac on the EVF port; the peer,
 * FT_PEER_IP / ft_peer_mac, sends from FT_PEER_PORT. Addresses are given
 * in host order. A frame goes into a struct ft_frame and from there into
 * an mbuf (ft_to_mbuf()); replies are checked in place in the mbuf
 * (ft_check_*, ft_parse_udp_reply()), with failures reported through
 * Criterion assertions.
 *
 * Sections: bytes and checksums; Ethernet/VLAN/IPv4/UDP/ICMP/ARP frames;
 * EVF payloads (DATA, PING, control frames written independently of
 * lib/evf, one-rule-broken frames, the evf1.tsv vectors); mbufs, pools
 * with a leak check, and ring PMD ports to feed a stage; reply checkers.
 */
#ifndef FRAME_TESTUTIL_H
#define FRAME_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "evg_evf.h"

#define FT_OUR_IP 0x0a000001u	/* 10.0.0.1 */
#define FT_PEER_IP 0x0a000002u	/* 10.0.0.2 */
#define FT_OTHER_IP 0x0a000003u /* 10.0.0.3, neither */
#define FT_PEER_PORT 40000u
#define FT_TCI 0x2064 /* priority 1, VLAN 100 */
#define FT_NO_VLAN (-1)
#define FT_MIN_FRAME 60u /* shortest Ethernet frame without FCS */
#define FT_FRAME_MAX 2048u
#define FT_SESSION 0x0123456789abcdefull /* PROTOCOL.md's vector session */

extern const uint8_t ft_our_mac[6];
extern const uint8_t ft_peer_mac[6];
extern const uint8_t ft_bcast_mac[6];

struct ft_frame {
	uint8_t b[FT_FRAME_MAX];
	uint16_t len;
	uint16_t l3; /* offset of the IPv4 or ARP header */
};

/* Byte offsets of 16-bit fields in an untagged IPv4 frame (in a tagged
 * one, add 4 to those past the MACs), for breaking one field at a time. */
#define FT_AT_ETHERTYPE 12
#define FT_AT_INNER_TYPE 16 /* tagged frames */
#define FT_AT_IP_VHL 14	    /* version/IHL and TOS */
#define FT_AT_IP_LEN 16
#define FT_AT_IP_FRAG 20
#define FT_AT_IP_TTL_PROTO 22
#define FT_AT_IP_SUM 24
#define FT_AT_IP_DST_LO 32 /* low half of the destination address */
#define FT_AT_UDP_DPORT 36
#define FT_AT_UDP_LEN 38
#define FT_AT_ICMP_TYPE 34 /* type and code */

/* ---- bytes ----------------------------------------------------------- */

void ft_put16(uint8_t *p, uint16_t v);
void ft_put32(uint8_t *p, uint32_t v);
uint16_t ft_get16(const uint8_t *p);
uint32_t ft_get32(const uint8_t *p);

/* RFC 1071 sum of big-endian words, folded; sum continues a previous one.
 * Data with a correct checksum sums to 0xffff. */
uint16_t ft_ocsum(const uint8_t *p, size_t n, uint32_t sum);
/* The checksum to store: the complement of ft_ocsum(p, n, 0). */
uint16_t ft_ones_cksum(const uint8_t *p, size_t n);

/* ---- frames ---------------------------------------------------------- */

/* Ethernet header from the peer to dst, with an 802.1Q tag unless vlan is
 * FT_NO_VLAN; returns its length (14 or 18). */
uint16_t ft_put_eth(uint8_t *p, const uint8_t *dst, int vlan, uint16_t type);
/* Zero-pad to the Ethernet minimum, as the sender's NIC does. */
void ft_pad(struct ft_frame *f);
/* Recompute the IPv4 header checksum at f->l3 (after editing a field). */
void ft_fix_ip_cksum(struct ft_frame *f);
/* IPv4 header at f->l3 (IHL 5, DF, TTL 63) of a packet with l4_len bytes
 * after it. */
void ft_put_ipv4(struct ft_frame *f, uint8_t proto, uint32_t src, uint32_t dst,
		 uint16_t l4_len);

struct ft_udp_spec {
	int vlan;	 /* FT_NO_VLAN or a TCI */
	uint32_t src_ip; /* host order */
	uint32_t dst_ip;
	uint16_t sport;
	uint16_t dport;
	const void *payload; /* NULL: bytes 0x40, 0x41, ... */
	uint16_t plen;
};

/* An untagged datagram of plen bytes from the peer to our EVF port. */
struct ft_udp_spec ft_udp_to_us(uint16_t plen);
/* Ethernet + IPv4 + UDP, padded; the UDP checksum is left as a sender
 * with checksum offload leaves it on veth: not valid. */
void ft_build_udp(struct ft_frame *f, const struct ft_udp_spec *s);
/* The common case: the EVF frame evf (len bytes; NULL: the bytes 0x40,
 * 0x41, ...) from the peer to our EVF port, tagged with vlan unless
 * FT_NO_VLAN. */
void ft_evf_udp_frame(struct ft_frame *f, const void *evf, uint16_t len,
		      int vlan);

/* ICMP echo request from the peer to us: identifier 0x4242, sequence seq,
 * dlen data bytes derived from seq. */
void ft_build_icmp_echo(struct ft_frame *f, int vlan, uint16_t seq,
			uint16_t dlen);
/* ARP packet (op 1 request, 2 reply) from the peer asking for target_ip,
 * broadcast. */
void ft_build_arp(struct ft_frame *f, int vlan, uint16_t op,
		  uint32_t target_ip);

/* ---- EVF payloads ---------------------------------------------------- */

/* A sealed DATA frame into buf (cap bytes) of count events, event i with
 * a 2-byte key and a (i % 5 + 1)-byte value; returns its length. */
uint16_t ft_evf_data(uint8_t *buf, size_t cap, uint32_t producer_id,
		     uint32_t stream_id, uint64_t session, uint64_t seq,
		     uint16_t count);
/* A valid two-event DATA frame (producer 7, stream 42, session
 * FT_SESSION, seq 0) with exactly the rule behind malformed verdict v
 * broken, into buf (cap >= 128); returns its length. */
uint16_t ft_evf_malformed(uint8_t *buf, size_t cap, enum evg_evf_verdict v);
/* A sealed PING into buf (EVG_EVF_HDR_LEN bytes); returns its length. */
uint16_t ft_evf_ping(uint8_t *buf, uint32_t producer_id, uint32_t stream_id,
		     uint64_t session);

/* A 40-byte control frame (ACK, NAK: count = reason code), written byte
 * by byte from PROTOCOL.md rather than with lib/evf's encoder, as a reply
 * must read; sealed with evg_evf_frame_crc(). */
void ft_evf_control(uint8_t *buf, uint8_t type, uint16_t count,
		    uint32_t producer_id, uint32_t stream_id, uint64_t session,
		    uint64_t seq);

/* One line of the EVF/1 vectors (tests/data/evf1.tsv): a frame and the
 * verdict a validator must reach on it. */
struct ft_evf_vector {
	enum evg_evf_verdict verdict; /* EVG_EVF_OK for a valid frame */
	uint32_t len;
	uint8_t frame[8192];
	char note[128];
};

/* Open evf1.tsv in EVG_TEST_DATA (set by meson); asserts on failure. */
FILE *ft_evf_vectors_open(void);
/* Read the next vector; false at the end. Asserts on a malformed line. */
bool ft_evf_vector_next(FILE *fp, struct ft_evf_vector *vec);

/* ---- mbufs ----------------------------------------------------------- */

/* A pktmbuf pool of n mbufs with priv_size bytes of private area and no
 * per-lcore cache, so that rte_mempool_in_use_count() is exact. */
struct rte_mempool *ft_pool_create(const char *name, unsigned int n,
				   uint16_t priv_size);
/* Free the pool; returns how many of its mbufs were still in use. */
unsigned int ft_pool_free(struct rte_mempool *pool);
/* For a suite's .fini: Criterion ignores assertions there but reports a
 * test that crashes, so a leak aborts with a message. */
void ft_abort_on_leak(unsigned int leaked);

/* A single-segment mbuf from pool holding f; asserts on failure. */
struct rte_mbuf *ft_to_mbuf(struct rte_mempool *pool, const struct ft_frame *f);
/* As a NIC reports a VLAN tag it took out of the frame. */
void ft_mark_stripped(struct rte_mbuf *m, uint16_t tci);

/* Free every mbuf waiting in r (an edge's or a port's ring). */
void ft_ring_free_all(struct rte_ring *r);

/*
 * Configure and start the ring PMD port made by an EAL argument
 * --vdev=<name> (no vdev arguments): one RX and one TX queue. Returns its
 * queue-0 ring, "ETH_RXTX0_<name>", which is both what the port receives
 * and where it sends: enqueue mbufs there to have them received. (The ring
 * PMD's rte_eth_from_rings() would take rings of the test's own, but the
 * PMD is a plugin that libdpdk's pkg-config does not link.)
 */
struct rte_ring *ft_ring_port_start(const char *name, struct rte_mempool *pool,
				    uint16_t *port);
/* Free what the port's ring holds, stop and close the port. */
void ft_ring_port_stop(uint16_t port, struct rte_ring *r);

/* ---- replies --------------------------------------------------------- */

/* Assert that m is our ARP reply to the peer's request (tagged with vlan
 * unless FT_NO_VLAN), padding trimmed. */
void ft_check_arp_reply(const struct rte_mbuf *m, int vlan);
/* Assert that m is our echo reply to the request req (dlen data bytes):
 * addresses swapped, TTL 64, checksums valid, data echoed. */
void ft_check_echo_reply(const struct rte_mbuf *m, const struct ft_frame *req,
			 int vlan, uint16_t dlen);

/* What a UDP reply says. */
struct ft_udp_reply {
	const uint8_t *eth; /* the frame, in the mbuf */
	int vlan;	    /* TCI, or FT_NO_VLAN */
	uint16_t l3;	    /* offset of the IPv4 header */
	uint32_t src_ip;    /* host order */
	uint32_t dst_ip;
	uint16_t sport;
	uint16_t dport;
	const uint8_t *payload; /* the UDP payload, in the mbuf */
	uint16_t plen;
	struct evg_evf_hdr hdr; /* decoded when plen >= EVG_EVF_HDR_LEN */
	bool evf_sealed; /* an EVF frame: magic, length = plen, CRC right */
};

/*
 * Parse the UDP datagram in m (Ethernet, at most one 802.1Q tag, IPv4,
 * UDP) and assert what every reply must get right: data_len = pkt_len =
 * the datagram exactly, one segment, IHL 5, valid IPv4 and UDP checksums
 * (the UDP one not 0), consistent lengths. A payload of at least a header
 * is decoded as EVF, and evf_sealed says whether it is one.
 */
void ft_parse_udp_reply(const struct rte_mbuf *m, struct ft_udp_reply *r);

/* Assert that m is a UDP reply from us (FT_OUR_IP, EVF port, our MAC,
 * TTL 64, DF) to dst_ip:dport at the peer's MAC, tagged with vlan unless
 * FT_NO_VLAN, carrying exactly payload (len bytes), with the mbuf's
 * l2/l3/l4 lengths set for TX. */
void ft_check_udp_reply(const struct rte_mbuf *m, int vlan, uint32_t dst_ip,
			uint16_t dport, const void *payload, uint16_t len);

#endif /* FRAME_TESTUTIL_H */
