/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The rx stage: one port queue in, one edge per sequencer shard and one
 * edge to tx out (evg_stages.h).
 *
 * A poll takes one burst, classifies every frame into its own evg_pkt
 * (no copy of the metadata), and sorts the burst into three fates: freed
 * (the counter of its class or verdict says why), answered in place (ARP,
 * ICMP echo, NAK REJECTED) and gathered for one push to tx, or gathered
 * for one push to the shard that owns its (producer, stream). The shard
 * batches are filled by a stable counting sort, so frames of one key keep
 * their arrival order whatever else shares the burst. What a full DROP
 * shard edge refuses comes back through its on_full and leaves as NAK
 * BUSY (rx_busy()).
 *
 * Reply counters (arp_replies, icmp_replies, naks_*) count replies built
 * and pushed towards tx; one that the tx edge then drops is counted there,
 * in the edge's own stats.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_prefetch.h>

#include "evg_evf_sub.h"
#include "evg_stages.h"

/* ---- counters ---------------------------------------------------------- */

#define RX_NET_BASE EVG_RX_STAT_MAX
#define RX_EVF_BASE (RX_NET_BASE + EVG_NET_CLASS_MAX)
#define RX_NB_COUNTERS (RX_EVF_BASE + EVG_EVF_VERDICT_MAX)

static_assert(EVG_STAGES_MAX_SHARDS <= UINT8_MAX + 1,
	      "a burst's shard numbers are kept in uint8_t");

/* Each name sits at the index of its value, so the three lists cannot
 * drift from the counters they name. clang-format cannot tell that a list
 * expansion ends a line. */
/* clang-format off */
static const char *const rx_counter_names[RX_NB_COUNTERS] = {
#define RX_NAME_(name, desc) [EVG_RX_##name] = #name,
	EVG_RX_STATS_FOREACH(RX_NAME_)
#undef RX_NAME_
#define NET_NAME_(name, str, desc) \
	[RX_NET_BASE + EVG_NET_CLASS_##name] = "net_" str,
	EVG_NET_CLASS_FOREACH(NET_NAME_)
#undef NET_NAME_
	[RX_EVF_BASE + EVG_EVF_OK] = "evf_ok",
#define EVF_NAME_(name, str, desc) \
	[RX_EVF_BASE + EVG_EVF_BAD_##name] = "evf_" str,
	EVG_EVF_MALFORMED_FOREACH(EVF_NAME_)
#undef EVF_NAME_
};
/* clang-format on */

static void
rx_read_counters(const struct evg_node *node, uint64_t *values)
{
	const struct evg_rx_ctx *ctx = node->ctx;
	const struct evg_rx_stats *st = &ctx->stats;
	unsigned int i;

	for (i = 0; i < EVG_RX_STAT_MAX; i++)
		values[i] = st->c[i];
	for (i = 0; i < EVG_NET_CLASS_MAX; i++)
		values[RX_NET_BASE + i] = st->net.c[i];
	for (i = 0; i < EVG_EVF_VERDICT_MAX; i++)
		values[RX_EVF_BASE + i] = st->evf.v[i];
}

/* ---- one burst --------------------------------------------------------- */

/* Where the frames of one burst go; lives on the poll's stack. */
struct rx_burst {
	uint64_t now;
	uint16_t nb_tx;
	uint16_t nb_free;
	uint16_t nb_seq;
	uint16_t nb_sub;
	struct rte_mbuf *tx[EVG_BURST_MAX];
	struct rte_mbuf *free[EVG_BURST_MAX];
	struct rte_mbuf *seq[EVG_BURST_MAX];
	struct rte_mbuf *sub[EVG_BURST_MAX];
	uint8_t shard[EVG_BURST_MAX];
};

/* Sources (possibly spoofed) get a NAK only within their rate limit. */
static int
rx_nak(struct evg_rx_ctx *ctx, struct rte_mbuf *m, uint16_t code, uint64_t now)
{
	const struct evg_pkt *pkt = evg_pkt(m);

	if (!evg_nak_limiter_allow(&ctx->lim, pkt->net.src_ip, now)) {
		ctx->stats.c[EVG_RX_naks_limited]++;
		return -EBUSY;
	}
	if (evg_evf_sub_from_consumer(pkt->hdr.type)) {
		/* A consumer is refused with the subscriber side's error. */
		struct evg_evf_sub_ids ids = {.consumer_id =
						      pkt->hdr.producer_id,
					      .session = pkt->hdr.session};
		uint8_t frame[EVG_EVF_HDR_LEN];

		(void)evg_evf_sub_error_encode(frame, sizeof(frame), &ids,
					       EVG_EVF_SUB_ERR_REJECTED, 0);
		if (evg_net_udp_reply(ctx->conf.ifc, m, &pkt->net, frame,
				      sizeof(frame)) != 0) {
			ctx->stats.c[EVG_RX_reply_failed]++;
			return -ENOSPC;
		}
		return 0;
	}
	if (evg_pkt_reply(ctx->conf.ifc, m, pkt, EVG_EVF_NAK, code,
			  pkt->hdr.seq) != 0) {
		ctx->stats.c[EVG_RX_reply_failed]++;
		return -ENOSPC;
	}
	return 0;
}

static void
rx_evf(struct evg_rx_ctx *ctx, struct rte_mbuf *m, struct rx_burst *b)
{
	const struct evg_rx_conf *conf = &ctx->conf;
	struct evg_pkt *pkt = evg_pkt(m);
	enum evg_evf_verdict v;

	v = evg_evf_validate(
		rte_pktmbuf_mtod_offset(m, const void *, pkt->net.payload_off),
		pkt->net.payload_len, &pkt->hdr);
	ctx->stats.evf.v[v]++;
	if (unlikely(v != EVG_EVF_OK)) {
		/* Never answered: the appliance must not reflect junk. */
		b->free[b->nb_free++] = m;
		return;
	}
	if (unlikely(!evg_cfg_allows(conf->cfg, pkt->net.src_ip,
				     pkt->hdr.producer_id))) {
		ctx->stats.c[EVG_RX_rejected]++;
		if (rx_nak(ctx, m, EVG_EVF_NAK_REJECTED, b->now) == 0) {
			ctx->stats.c[EVG_RX_naks_rejected]++;
			b->tx[b->nb_tx++] = m;
		} else {
			b->free[b->nb_free++] = m;
		}
		return;
	}
	pkt->rx_tsc = b->now;
	/* ack picks the reply's interface by m->port, which not every PMD
	 * sets (the ring PMD leaves what the sender's mbuf had). */
	m->port = conf->port_id;
	if (evg_evf_sub_from_consumer(pkt->hdr.type)) {
		if (unlikely(conf->sub_out == NULL)) {
			ctx->stats.c[EVG_RX_sub_off]++;
			b->free[b->nb_free++] = m;
		} else {
			b->sub[b->nb_sub++] = m;
		}
		return;
	}
	b->shard[b->nb_seq] = (uint8_t)evg_seq_shard(
		pkt->hdr.producer_id, pkt->hdr.stream_id, conf->nb_shards);
	b->seq[b->nb_seq++] = m;
}

/* ARP and ICMP echo requests become their replies in place. */
static void
rx_answer(struct evg_rx_ctx *ctx, struct rte_mbuf *m, enum evg_net_class c,
	  struct rx_burst *b)
{
	const struct evg_net_meta *meta = &evg_pkt(m)->net;
	int rc;

	if (c == EVG_NET_CLASS_ARP)
		rc = evg_net_arp_reply(ctx->conf.ifc, m, meta);
	else
		rc = evg_net_icmp_echo_reply(ctx->conf.ifc, m, meta);
	if (unlikely(rc != 0)) {
		ctx->stats.c[EVG_RX_reply_failed]++;
		b->free[b->nb_free++] = m;
		return;
	}
	ctx->stats.c[c == EVG_NET_CLASS_ARP ? EVG_RX_arp_replies
					    : EVG_RX_icmp_replies]++;
	b->tx[b->nb_tx++] = m;
}

static void
rx_sort(struct evg_rx_ctx *ctx, struct rte_mbuf **pkts, uint16_t n,
	struct rx_burst *b)
{
	const struct evg_net_if *ifc = ctx->conf.ifc;
	enum evg_net_class c;
	uint64_t bytes = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];

		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		bytes += rte_pktmbuf_pkt_len(m);
		c = evg_net_classify(ifc, m, &evg_pkt(m)->net);
		ctx->stats.net.c[c]++;
		switch (c) {
		case EVG_NET_CLASS_EVF:
			rx_evf(ctx, m, b);
			break;
		case EVG_NET_CLASS_ARP:
		case EVG_NET_CLASS_ICMP_ECHO:
			rx_answer(ctx, m, c, b);
			break;
		default:
			b->free[b->nb_free++] = m;
			break;
		}
	}
	ctx->stats.c[EVG_RX_bytes] += bytes;
}

/*
 * One push per shard: a stable counting sort of the burst's good frames
 * by shard, then each shard's run in one evg_edge_push(). What a DROP
 * edge refuses goes to rx_busy() through its on_full.
 */
static void
rx_to_seq(struct evg_rx_ctx *ctx, struct rx_burst *b)
{
	const struct evg_rx_conf *conf = &ctx->conf;
	uint16_t start[EVG_STAGES_MAX_SHARDS + 1] = {0};
	struct rte_mbuf *sorted[EVG_BURST_MAX];
	uint16_t pos[EVG_STAGES_MAX_SHARDS];
	unsigned int s, done = 0;

	if (conf->nb_shards == 1) {
		done = evg_edge_push(conf->seq_out[0], b->seq, b->nb_seq);
		ctx->stats.c[EVG_RX_to_seq] += done;
		return;
	}
	for (uint16_t i = 0; i < b->nb_seq; i++)
		start[b->shard[i] + 1]++;
	for (s = 0; s < conf->nb_shards; s++) {
		start[s + 1] += start[s];
		pos[s] = start[s];
	}
	for (uint16_t i = 0; i < b->nb_seq; i++)
		sorted[pos[b->shard[i]]++] = b->seq[i];
	for (s = 0; s < conf->nb_shards; s++)
		if (start[s + 1] > start[s])
			done += evg_edge_push(conf->seq_out[s],
					      sorted + start[s],
					      start[s + 1] - start[s]);
	ctx->stats.c[EVG_RX_to_seq] += done;
}

/* conf.burst, but no more than any BACKPRESSURE shard edge can take now:
 * its consumer may run on this lcore, so rx must not wait on it. */
static uint16_t
rx_burst_size(const struct evg_rx_conf *conf)
{
	unsigned int burst = conf->burst;

	for (unsigned int s = 0; s < conf->nb_shards; s++)
		if (conf->seq_out[s]->policy == EVG_EDGE_BACKPRESSURE)
			burst = RTE_MIN(burst, evg_edge_room(conf->seq_out[s]));
	return (uint16_t)burst;
}

static unsigned int
rx_poll(struct evg_node *node)
{
	struct evg_rx_ctx *ctx = node->ctx;
	const struct evg_rx_conf *conf = &ctx->conf;
	struct rte_mbuf *pkts[EVG_BURST_MAX];
	struct rx_burst b;
	uint16_t burst, n;

	if (*conf->stop_rx)
		return 0;
	burst = rx_burst_size(conf);
	if (burst == 0)
		return 0;
	n = rte_eth_rx_burst(conf->port_id, conf->queue_id, pkts, burst);
	if (n == 0)
		return 0;
	ctx->stats.c[EVG_RX_packets] += n;
	b.now = rte_rdtsc();
	b.nb_tx = 0;
	b.nb_free = 0;
	b.nb_seq = 0;
	b.nb_sub = 0;
	rx_sort(ctx, pkts, n, &b);
	if (b.nb_free > 0)
		rte_pktmbuf_free_bulk(b.free, b.nb_free);
	if (b.nb_tx > 0)
		evg_edge_push(conf->tx_out, b.tx, b.nb_tx);
	if (b.nb_seq > 0)
		rx_to_seq(ctx, &b);
	if (b.nb_sub > 0)
		ctx->stats.c[EVG_RX_to_sub] +=
			evg_edge_push(conf->sub_out, b.sub, b.nb_sub);
	return n;
}

/* ---- NAK BUSY ---------------------------------------------------------- */

/* on_full of the DROP shard edges: each refused frame becomes NAK BUSY. */
static void
rx_busy(void *arg, struct rte_mbuf **pkts, unsigned int n)
{
	struct evg_rx_ctx *ctx = arg;
	struct rte_mbuf *tx[EVG_BURST_MAX];
	struct rte_mbuf *drop[EVG_BURST_MAX];
	uint64_t now = rte_rdtsc();
	unsigned int nb_tx, nb_drop, i, k;

	for (i = 0; i < n; i += k) {
		k = RTE_MIN(n - i, (unsigned int)EVG_BURST_MAX);
		nb_tx = 0;
		nb_drop = 0;
		for (unsigned int j = i; j < i + k; j++) {
			if (rx_nak(ctx, pkts[j], EVG_EVF_NAK_BUSY, now) == 0) {
				ctx->stats.c[EVG_RX_naks_busy]++;
				tx[nb_tx++] = pkts[j];
			} else {
				drop[nb_drop++] = pkts[j];
			}
		}
		if (nb_drop > 0)
			rte_pktmbuf_free_bulk(drop, nb_drop);
		if (nb_tx > 0)
			evg_edge_push(ctx->conf.tx_out, tx, nb_tx);
	}
}

/* ---- set-up ------------------------------------------------------------ */

static int
rx_conf_check(const struct evg_rx_conf *conf)
{
	if (conf->ifc == NULL || conf->cfg == NULL || conf->tx_out == NULL ||
	    conf->stop_rx == NULL)
		return -EINVAL;
	if (conf->burst == 0 || conf->burst > EVG_BURST_MAX)
		return -EINVAL;
	if (conf->nb_shards == 0 || conf->nb_shards > EVG_STAGES_MAX_SHARDS)
		return -EINVAL;
	for (unsigned int s = 0; s < conf->nb_shards; s++)
		if (conf->seq_out[s] == NULL)
			return -EINVAL;
	return 0;
}

int
evg_rx_init(struct evg_rx_ctx *ctx, const struct evg_rx_conf *conf)
{
	int rc;

	if (ctx == NULL || conf == NULL)
		return -EINVAL;
	rc = rx_conf_check(conf);
	if (rc != 0)
		return rc;
	memset(ctx, 0, sizeof(*ctx));
	ctx->conf = *conf;
	evg_nak_limiter_init(&ctx->lim, conf->cfg->nak_rate,
			     conf->cfg->nak_burst, conf->tsc_hz);
	for (unsigned int s = 0; s < conf->nb_shards; s++) {
		struct evg_edge *e = conf->seq_out[s];

		if (e->policy == EVG_EDGE_DROP) {
			e->on_full = rx_busy;
			e->on_full_arg = ctx;
		}
	}
	return 0;
}

const struct evg_stage_ops evg_rx_ops = {
	.name = "rx",
	.poll = rx_poll,
	.drain = NULL,
	.counter_names = rx_counter_names,
	.nb_counters = RX_NB_COUNTERS,
	.read_counters = rx_read_counters,
};
