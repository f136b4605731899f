/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The receiving half of evgen's loop: ARP (answer requests for our
 * address, learn evgate's MAC from its reply) and the EVF ACK/NAK frames
 * from evgate's address and port, matched to streams by (producer,
 * stream, session). An ACK pops the frames it covers from the stream's
 * ring and records each one's RTT. Frames to a subscription's port go
 * to sub.c.
 */
#include <errno.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "evg_net.h"
#include "evgen.h"

static struct evgen_stream *
find_stream(struct evgen *g, const struct evg_evf_hdr *h, uint32_t *idx)
{
	uint64_t p = (uint64_t)h->producer_id - g->o.producer_base;
	uint64_t s = (uint64_t)h->stream_id - g->o.stream_base;

	if (h->producer_id < g->o.producer_base || p >= g->o.producers ||
	    h->stream_id < g->o.stream_base || s >= g->o.streams)
		return NULL;
	*idx = (uint32_t)(p * g->o.streams + s);
	return &g->streams[*idx];
}

static void
on_ack(struct evgen *g, struct evgen_stream *st, uint64_t seq, uint64_t now)
{
	uint32_t mask = g->o.window - 1u;

	g->ctr[EVGEN_CTR_acks]++;
	if (seq > st->acked)
		st->acked = seq;
	if (st->resync_on && seq > st->resync_seq)
		st->resync_on = false;
	while (st->head != st->tail && st->ring[st->head & mask].end <= seq) {
		uint64_t sent = st->ring[st->head & mask].tsc;

		if (sent != 0 && now > sent)
			evgen_hist_record(&g->rtt,
					  (uint64_t)((double)(now - sent) *
						     g->ns_per_tsc));
		else
			g->ctr[EVGEN_CTR_rtt_lost]++;
		st->head++;
	}
}

static void
on_nak(struct evgen *g, uint32_t idx, const struct evg_evf_hdr *h)
{
	struct evgen_stream *st = &g->streams[idx];

	g->ctr[EVGEN_CTR_naks]++;
	g->nak[h->count < EVGEN_NAK_CODES ? h->count : 0]++;
	switch (h->count) {
	case EVG_EVF_NAK_GAP:
		if (st->gap_out && h->seq == st->gap_seq) {
			st->gap_out = false;
			g->ctr[EVGEN_CTR_naks_gap_deliberate]++;
			return;
		}
		/* not ours: a real hole */
		__attribute__((fallthrough));
	case EVG_EVF_NAK_BUSY:
	case EVG_EVF_NAK_STORAGE:
		/* Events from seq on were not taken: send them again, once
		 * per hole (the frames behind it bring the same NAK). */
		if (h->seq < st->next_seq && h->seq >= st->acked &&
		    !(st->resync_on && h->seq == st->resync_seq))
			evgen_stream_rewind(g, idx, h->seq);
		return;
	case EVG_EVF_NAK_FENCED:
		if (h->session != st->session) {
			g->ctr[EVGEN_CTR_naks_fenced_stale]++;
			return;
		}
		/* our own session is fenced */
		__attribute__((fallthrough));
	default:
		if (!st->stopped)
			g->ctr[EVGEN_CTR_streams_stopped]++;
		st->stopped = true;
	}
}

/* An EVF frame for us: ACK or NAK. */
static void
on_evf(struct evgen *g, const uint8_t *p, uint32_t len, uint64_t now)
{
	struct evgen_stream *st;
	struct evg_evf_hdr h;
	uint32_t idx;

	/* Replies break only the "never from the network" rule. */
	if (evg_evf_validate(p, len, &h) != EVG_EVF_BAD_DIRECTION) {
		g->ctr[EVGEN_CTR_rx_other]++;
		return;
	}
	st = find_stream(g, &h, &idx);
	if (st == NULL || (h.type == EVG_EVF_ACK && h.session != st->session) ||
	    (h.type == EVG_EVF_NAK && h.session != st->session &&
	     h.session != st->session - 1)) {
		g->ctr[EVGEN_CTR_unmatched]++;
		return;
	}
	if (h.type == EVG_EVF_ACK)
		on_ack(g, st, h.seq, now);
	else
		on_nak(g, idx, &h);
}

/* IPv4/UDP from evgate's address and port to ours; anything else counts
 * as rx_other. */
static void
on_ipv4(struct evgen *g, struct rte_mbuf *m, uint64_t now)
{
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(
		m, const struct rte_ipv4_hdr *, sizeof(struct rte_ether_hdr));
	uint32_t len = rte_pktmbuf_data_len(m), ihl, ulen;
	const struct rte_udp_hdr *udp;

	if (len < sizeof(struct rte_ether_hdr) + sizeof(*ip))
		goto other;
	ihl = rte_ipv4_hdr_len(ip);
	if (ip->next_proto_id != IPPROTO_UDP || ip->dst_addr != g->o.src_ip ||
	    ip->src_addr != g->o.dst_ip ||
	    len < sizeof(struct rte_ether_hdr) + ihl + sizeof(*udp))
		goto other;
	udp = (const struct rte_udp_hdr *)((const uint8_t *)ip + ihl);
	ulen = rte_be_to_cpu_16(udp->dgram_len);
	if (udp->src_port != rte_cpu_to_be_16(g->o.dst_port) ||
	    ulen < sizeof(*udp) ||
	    sizeof(struct rte_ether_hdr) + ihl + ulen > len)
		goto other;
	/* to a subscription's port: evgate's subscriber frames (sub.c) */
	if (!evgen_sub_rx(g, (const uint8_t *)(udp + 1), ulen - sizeof(*udp),
			  udp->dst_port, now))
		on_evf(g, (const uint8_t *)(udp + 1), ulen - sizeof(*udp), now);
	return;
other:
	g->ctr[EVGEN_CTR_rx_other]++;
}

/* ARP: a request for our address is answered in place (true: m went to
 * the port); a reply from evgate teaches us its MAC. */
static bool
on_arp(struct evgen *g, struct rte_mbuf *m)
{
	struct evg_net_if ifc = {.mac = g->src_mac, .ip = g->o.src_ip};
	const struct rte_arp_hdr *arp;
	struct evg_net_meta meta;

	if (evg_net_classify(&ifc, m, &meta) == EVG_NET_CLASS_ARP) {
		if (evg_net_arp_reply(&ifc, m, &meta) == 0 &&
		    rte_eth_tx_burst(g->port_id, 0, &m, 1) == 1) {
			g->ctr[EVGEN_CTR_arp_replies]++;
			return true;
		}
		return false;
	}
	arp = rte_pktmbuf_mtod_offset(m, const struct rte_arp_hdr *,
				      sizeof(struct rte_ether_hdr));
	if (rte_pktmbuf_data_len(m) <
		    sizeof(struct rte_ether_hdr) + sizeof(*arp) ||
	    arp->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REPLY) ||
	    arp->arp_data.arp_sip != g->o.dst_ip) {
		g->ctr[EVGEN_CTR_rx_other]++;
		return false;
	}
	if (!g->o.have_dst_mac) {
		g->o.dst_mac = arp->arp_data.arp_sha;
		g->o.have_dst_mac = true;
	}
	return false;
}

unsigned int
evgen_rx_step(struct evgen *g, uint64_t now)
{
	struct rte_mbuf *pkts[EVGEN_BURST];
	uint16_t n = rte_eth_rx_burst(g->port_id, 0, pkts, EVGEN_BURST);

	for (uint16_t i = 0; i < n; i++) {
		const struct rte_ether_hdr *eth =
			rte_pktmbuf_mtod(pkts[i], const struct rte_ether_hdr *);
		bool kept = false;

		if (rte_pktmbuf_data_len(pkts[i]) < sizeof(*eth))
			g->ctr[EVGEN_CTR_rx_other]++;
		else if (eth->ether_type ==
			 rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP))
			kept = on_arp(g, pkts[i]);
		else if (eth->ether_type ==
			 rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
			on_ipv4(g, pkts[i], now);
		else
			g->ctr[EVGEN_CTR_rx_other]++;
		if (!kept)
			rte_pktmbuf_free(pkts[i]);
	}
	return n;
}

static int
arp_request(struct evgen *g)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(g->pool);
	struct rte_ether_hdr *eth;
	struct rte_arp_hdr *arp;

	if (m == NULL)
		return -ENOMEM;
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	arp = (struct rte_arp_hdr *)(eth + 1);
	memset(&eth->dst_addr, 0xFF, sizeof(eth->dst_addr));
	rte_ether_addr_copy(&g->src_mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	arp->arp_hlen = RTE_ETHER_ADDR_LEN;
	arp->arp_plen = 4;
	arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
	rte_ether_addr_copy(&g->src_mac, &arp->arp_data.arp_sha);
	arp->arp_data.arp_sip = g->o.src_ip;
	memset(&arp->arp_data.arp_tha, 0, sizeof(arp->arp_data.arp_tha));
	arp->arp_data.arp_tip = g->o.dst_ip;
	m->data_len = m->pkt_len = sizeof(*eth) + sizeof(*arp);
	if (rte_eth_tx_burst(g->port_id, 0, &m, 1) != 1) {
		rte_pktmbuf_free(m);
		return -ENOBUFS;
	}
	g->ctr[EVGEN_CTR_arp_requests]++;
	return 0;
}

int
evgen_arp_resolve(struct evgen *g)
{
	uint64_t start = rte_get_tsc_cycles(), last = 0;
	uint64_t every = g->hz / 5, limit = g->hz / 1000 * g->o.arp_timeout_ms;

	while (!g->o.have_dst_mac) {
		uint64_t now = rte_get_tsc_cycles();

		if (*g->signal != 0)
			return -EINTR;
		if (now - start > limit)
			return -ETIMEDOUT;
		if (last == 0 || now - last >= every) {
			arp_request(g);
			last = now;
		}
		if (evgen_rx_step(g, now) == 0)
			rte_delay_us_sleep(1000);
	}
	return 0;
}
