/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The sending half of evgen's loop: pick a stream and a kind, build the
 * Ethernet/IPv4/UDP/EVF frame straight into an mbuf, hand bursts to the
 * port, and stamp each normal frame's ring slot with the TSC it left at.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "evgen.h"

int
evgen_streams_init(struct evgen *g, char *err, size_t errlen)
{
	const struct evgen_opts *o = &g->o;
	uint32_t n = o->producers * o->streams;

	g->nb_streams = n;
	if (n > 0) { /* --producers 0: a subscriber only */
		g->streams =
			rte_zmalloc("evgen_streams", n * sizeof(*g->streams),
				    RTE_CACHE_LINE_SIZE);
		g->rings =
			rte_zmalloc("evgen_rings",
				    (size_t)n * o->window * sizeof(*g->rings),
				    RTE_CACHE_LINE_SIZE);
	}
	if (n > 0 && (g->streams == NULL || g->rings == NULL)) {
		snprintf(err, errlen,
			 "--producers %u --streams %u --window %u: cannot "
			 "allocate the stream state",
			 o->producers, o->streams, o->window);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct evgen_stream *st = &g->streams[i];
		uint32_t p = i / o->streams;

		st->producer_id = o->producer_base + p;
		st->stream_id = o->stream_base + i % o->streams;
		st->src_port = rte_cpu_to_be_16((uint16_t)(o->src_port + p));
		st->session = o->session;
		st->ring = &g->rings[(size_t)i * o->window];
	}
	for (uint32_t i = 0; i < sizeof(g->value); i++)
		g->value[i] = (uint8_t)('a' + i % 26);
	g->rng = 0x9E3779B97F4A7C15ull ^ o->session;
	evgen_hist_reset(&g->rtt);
	return evgen_mix_init(&g->mix, o->pct);
}

void
evgen_streams_free(struct evgen *g)
{
	rte_free(g->streams);
	rte_free(g->rings);
	g->streams = NULL;
	g->rings = NULL;
}

static uint32_t
event_size(struct evgen *g)
{
	uint64_t x = g->rng;

	if (g->o.size_min == g->o.size_max)
		return g->o.size_min;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	g->rng = x;
	return g->o.size_min + (uint32_t)((x * 0x2545F4914F6CDD1Dull) >> 32) %
				       (g->o.size_max - g->o.size_min + 1u);
}

void
evgen_write_headers(const struct evgen *g, rte_be16_t src_port, uint8_t *p,
		    uint32_t len)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);

	rte_ether_addr_copy(&g->o.dst_mac, &eth->dst_addr);
	rte_ether_addr_copy(&g->src_mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length =
		rte_cpu_to_be_16((uint16_t)(len + sizeof(*ip) + sizeof(*udp)));
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = g->o.src_ip;
	ip->dst_addr = g->o.dst_ip;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp->src_port = src_port;
	udp->dst_port = rte_cpu_to_be_16(g->o.dst_port);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(len + sizeof(*udp)));
	udp->dgram_cksum = 0; /* optional in IPv4; the EVF CRC covers it */
}

/* Break a sealed frame the next of the EVGEN_BAD ways; returns its new
 * length. */
static uint32_t
make_malformed(struct evgen *g, uint8_t *evf, uint32_t len, uint8_t *bad)
{
	*bad = g->bad_next;
	g->bad_next = (uint8_t)((g->bad_next + 1u) % EVGEN_BAD_MAX);
	switch (*bad) {
	case EVGEN_BAD_CRC:
		evf[EVG_EVF_CRC_OFF] ^= 0x01;
		return len;
	case EVGEN_BAD_MAGIC:
		evf[0] ^= 0xFF;
		return len;
	default:
		return 20;
	}
}

/* Fill m with a frame of kind k on stream st; returns the EVF length, or
 * 0 when nothing was built. */
static uint32_t
build(struct evgen *g, struct evgen_stream *st, struct rte_mbuf *m,
      enum evgen_kind k, uint32_t n, uint64_t ts_ns, uint8_t *bad)
{
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	struct evg_evf_hdr h = {
		.producer_id = st->producer_id,
		.stream_id = st->stream_id,
		.session =
			k == EVGEN_KIND_STALE ? st->session - 1 : st->session,
		.seq = st->next_seq,
		.flags = g->o.ack_now ? EVG_EVF_FLAG_ACK_NOW : 0,
	};
	uint32_t cap = g->o.mtu - 28u; /* IPv4 and UDP headers */
	struct evg_evf_builder b;
	int len;

	if (k == EVGEN_KIND_DUP)
		h.seq = st->last_seq;
	else if (k == EVGEN_KIND_GAP)
		h.seq = st->next_seq + g->o.batch;
	else if (k == EVGEN_KIND_STALE)
		h.seq = 0;
	/* the pool's data room is EVG_PORT_DATA_ROOM(--mtu): the frame fits */
	if (rte_pktmbuf_tailroom(m) < EVGEN_HDRS_LEN + cap ||
	    evg_evf_builder_init(&b, p + EVGEN_HDRS_LEN, cap, &h) < 0)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t key = h.seq + i; /* little-endian on the wire */
		uint32_t size = event_size(g);
		uint32_t ks = size < sizeof(key) ? size : sizeof(key);

		if (evg_evf_builder_add(&b, &key, ks, g->value, size - ks,
					ts_ns) < 0)
			return 0;
	}
	len = evg_evf_builder_finish(&b);
	if (len <= 0)
		return 0;
	if (k == EVGEN_KIND_MALFORMED)
		len = (int)make_malformed(g, p + EVGEN_HDRS_LEN, (uint32_t)len,
					  bad);
	evgen_write_headers(g, st->src_port, p, (uint32_t)len);
	m->data_len = (uint16_t)(EVGEN_HDRS_LEN + (uint32_t)len);
	m->pkt_len = m->data_len;
	return (uint32_t)len;
}

static bool
stream_ready(const struct evgen *g, const struct evgen_stream *st)
{
	return !st->stopped && (!g->track || st->tail - st->head < g->o.window);
}

/* The next stream, round robin, that may send; -1 when none may. */
static int
next_stream(struct evgen *g)
{
	for (uint32_t i = 0; i < g->nb_streams; i++) {
		uint32_t idx = g->rr;

		g->rr = g->rr + 1 == g->nb_streams ? 0 : g->rr + 1;
		if (stream_ready(g, &g->streams[idx]))
			return (int)idx;
	}
	return -1;
}

/* The mix's next kind among those this stream can send now; the others
 * stay owed. */
static enum evgen_kind
next_kind(struct evgen *g, const struct evgen_stream *st)
{
	unsigned int allowed = 1u << EVGEN_KIND_MALFORMED;

	if (st->last_n > 0 && st->last_seq + st->last_n <= st->next_seq &&
	    !st->resync_on)
		allowed |= 1u << EVGEN_KIND_DUP;
	if (!g->track || (!st->gap_out && !st->resync_on))
		allowed |= 1u << EVGEN_KIND_GAP;
	/* after the session's first frame, which makes it current */
	if (st->next_seq > 0 && st->session > 1)
		allowed |= 1u << EVGEN_KIND_STALE;
	return evgen_mix_next(&g->mix, allowed);
}

/* Move stream idx's state past a frame just built. */
static void
note_built(struct evgen *g, uint32_t idx, struct evgen_pend *pd)
{
	struct evgen_stream *st = &g->streams[idx];

	if (pd->kind == EVGEN_KIND_GAP) {
		st->gap_out = true;
		st->gap_seq = st->next_seq;
	}
	if (pd->kind != EVGEN_KIND_NORMAL)
		return;
	if (g->track) {
		pd->slot = st->tail & (g->o.window - 1u);
		st->ring[pd->slot].end = st->next_seq + pd->events;
		st->ring[pd->slot].tsc = 0;
		st->tail++;
	}
	st->last_seq = st->next_seq;
	st->last_n = pd->events;
	st->next_seq += pd->events;
	g->events_built += pd->events;
}

/* Build up to max frames into the pending burst; returns the events and
 * frames built (for the pacer). */
static void
produce(struct evgen *g, uint64_t now, uint64_t max, uint64_t *frames,
	uint64_t *events)
{
	uint64_t ts_ns =
		g->rt_base_ns +
		(uint64_t)((double)(now - g->tsc_base) * g->ns_per_tsc);

	while (g->nb_pend < EVGEN_BURST && *frames < max) {
		struct evgen_pend *pd = &g->pd[g->nb_pend];
		struct rte_mbuf *m;
		enum evgen_kind k;
		uint32_t n = g->o.batch;
		int idx;

		if (g->o.count != 0 && g->events_built >= g->o.count)
			break;
		idx = next_stream(g);
		if (idx < 0) {
			g->ctr[EVGEN_CTR_window_full]++;
			break;
		}
		m = rte_pktmbuf_alloc(g->pool);
		if (m == NULL) {
			g->ctr[EVGEN_CTR_alloc_failed]++;
			break;
		}
		k = next_kind(g, &g->streams[idx]);
		if (k == EVGEN_KIND_NORMAL && g->o.count != 0 &&
		    g->o.count - g->events_built < n)
			n = (uint32_t)(g->o.count - g->events_built);
		*pd = (struct evgen_pend){.stream = (uint32_t)idx,
					  .kind = (uint8_t)k,
					  .events = (uint16_t)n};
		pd->bytes =
			build(g, &g->streams[idx], m, k, n, ts_ns, &pd->bad);
		if (pd->bytes == 0) {
			rte_pktmbuf_free(m);
			break;
		}
		note_built(g, (uint32_t)idx, pd);
		g->pm[g->nb_pend++] = m;
		*frames += 1;
		*events += n;
	}
}

static void
account(struct evgen *g, const struct evgen_pend *pd, uint64_t tsc)
{
	g->ctr[EVGEN_CTR_frames_sent]++;
	g->ctr[EVGEN_CTR_bytes_sent] += pd->bytes;
	g->kind_frames[pd->kind]++;
	g->kind_events[pd->kind] += pd->events;
	if (pd->kind == EVGEN_KIND_MALFORMED)
		g->bad[pd->bad]++;
	if (pd->kind != EVGEN_KIND_NORMAL)
		return;
	g->ctr[EVGEN_CTR_events_sent] += pd->events;
	if (g->track)
		g->streams[pd->stream].ring[pd->slot].tsc = tsc;
}

void
evgen_tx_step(struct evgen *g, uint64_t now, bool make)
{
	uint64_t frames = 0, events = 0;
	uint16_t sent;

	if (make && g->nb_pend < EVGEN_BURST) {
		uint64_t allowed = evgen_pacer_allowed(&g->pacer, now);

		if (!g->o.rate_frames && allowed != UINT64_MAX)
			allowed /= g->o.batch;
		produce(g, now, allowed, &frames, &events);
		evgen_pacer_consume(&g->pacer,
				    g->o.rate_frames ? frames : events);
	}
	if (g->nb_pend == 0)
		return;
	sent = rte_eth_tx_burst(g->port_id, 0, g->pm, (uint16_t)g->nb_pend);
	now = rte_rdtsc();
	for (uint16_t i = 0; i < sent; i++)
		account(g, &g->pd[i], now);
	if (sent < g->nb_pend) {
		g->ctr[EVGEN_CTR_tx_retries]++;
		memmove(g->pm, g->pm + sent,
			(g->nb_pend - sent) * sizeof(g->pm[0]));
		memmove(g->pd, g->pd + sent,
			(g->nb_pend - sent) * sizeof(g->pd[0]));
	}
	g->nb_pend -= sent;
}

void
evgen_tx_discard(struct evgen *g)
{
	g->ctr[EVGEN_CTR_unsent] += g->nb_pend;
	rte_pktmbuf_free_bulk(g->pm, g->nb_pend);
	g->nb_pend = 0;
}

bool
evgen_all_acked(const struct evgen *g)
{
	if (!g->track)
		return true;
	for (uint32_t i = 0; i < g->nb_streams; i++)
		if (g->streams[i].head != g->streams[i].tail &&
		    !g->streams[i].stopped)
			return false;
	return true;
}

void
evgen_stream_rewind(struct evgen *g, uint32_t idx, uint64_t seq)
{
	struct evgen_stream *st = &g->streams[idx];
	uint32_t mask = g->o.window - 1u, j = 0;

	/* Frames of this stream still waiting for the port would land
	 * beyond the hole: drop them (a stale or malformed one may go). */
	for (uint32_t i = 0; i < g->nb_pend; i++) {
		if (g->pd[i].stream == idx &&
		    (g->pd[i].kind == EVGEN_KIND_NORMAL ||
		     g->pd[i].kind == EVGEN_KIND_DUP ||
		     g->pd[i].kind == EVGEN_KIND_GAP)) {
			rte_pktmbuf_free(g->pm[i]);
			g->ctr[EVGEN_CTR_dropped_on_rewind]++;
			continue;
		}
		g->pm[j] = g->pm[i];
		g->pd[j++] = g->pd[i];
	}
	g->nb_pend = j;
	while (st->tail != st->head &&
	       st->ring[(st->tail - 1u) & mask].end > seq) {
		st->tail--;
		if (st->ring[st->tail & mask].tsc != 0)
			g->ctr[EVGEN_CTR_rtt_lost]++;
	}
	g->ctr[EVGEN_CTR_resyncs]++;
	g->ctr[EVGEN_CTR_events_rewound] += st->next_seq - seq;
	g->events_built -= st->next_seq - seq;
	st->next_seq = seq;
	if (st->last_seq + st->last_n > seq)
		st->last_n = 0;
	st->gap_out = false;
	st->resync_on = true;
	st->resync_seq = seq;
}
