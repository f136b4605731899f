/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TX stage: sends what its input edges carry (replies from ack and
 * rx) on one port queue.
 *
 * Frames the port refuses are held and offered again, first thing, on the
 * following polls; no new frames are taken while some are held, so the
 * inputs back up (and their producers see full edges) instead of this
 * stage piling frames up. When the queue stays full for stall_polls polls
 * in a row, the held frames are dropped and counted: a wedged port must
 * not hold mbufs forever.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include <rte_ethdev.h>

#include "evg_stages.h"

static const char *const tx_counter_names[] = {
#define EVG_TX_NAME_(name, desc) #name,
	EVG_TX_STATS_FOREACH(EVG_TX_NAME_)
#undef EVG_TX_NAME_
};

static_assert(RTE_DIM(tx_counter_names) == EVG_TX_STAT_MAX,
	      "one name per counter");
static_assert(EVG_BURST_MAX <= UINT16_MAX,
	      "held frames are counted in 16 bits");

/*
 * Returns 0, -EINVAL (NULL pointer, nb_in or burst out of range) or
 * -ENODEV (port_id names no ethdev).
 */
int
evg_tx_init(struct evg_tx_ctx *ctx, const struct evg_tx_conf *conf)
{
	if (ctx == NULL || conf == NULL || conf->nb_in == 0 ||
	    conf->nb_in > EVG_STAGES_MAX_INPUTS || conf->burst == 0 ||
	    conf->burst > EVG_BURST_MAX)
		return -EINVAL;
	for (unsigned int i = 0; i < conf->nb_in; i++)
		if (conf->in[i] == NULL)
			return -EINVAL;
	if (!rte_eth_dev_is_valid_port(conf->port_id))
		return -ENODEV;
	memset(ctx, 0, sizeof(*ctx));
	ctx->conf = *conf;
	if (ctx->conf.stall_polls == 0)
		ctx->conf.stall_polls = EVG_TX_STALL_POLLS;
	return 0;
}

/*
 * Offer pkts[0..n) to the port and count what it took. Lengths are read
 * before the call: a sent mbuf belongs to the driver. Returns how many
 * were sent; the rest, pkts[sent..n), are still the caller's.
 */
static uint16_t
tx_send(struct evg_tx_ctx *ctx, struct rte_mbuf **pkts, uint16_t n)
{
	uint64_t bytes = 0;
	uint16_t sent;

	for (uint16_t i = 0; i < n; i++)
		bytes += rte_pktmbuf_pkt_len(pkts[i]);
	sent = rte_eth_tx_burst(ctx->conf.port_id, ctx->conf.queue_id, pkts, n);
	for (uint16_t i = sent; i < n; i++)
		bytes -= rte_pktmbuf_pkt_len(pkts[i]);
	ctx->stats.c[EVG_TX_packets] += sent;
	ctx->stats.c[EVG_TX_bytes] += bytes;
	return sent;
}

/*
 * Offer the held frames again. When some stay held, the poll counts as a
 * retry, and as a stall if none went; after stall_polls stalls in a row
 * the held frames are dropped. Returns the frames sent or dropped.
 */
static unsigned int
tx_retry_held(struct evg_tx_ctx *ctx)
{
	uint16_t sent = tx_send(ctx, ctx->held, ctx->nb_held);
	uint16_t left = ctx->nb_held - sent;

	if (sent > 0) {
		memmove(ctx->held, ctx->held + sent,
			left * sizeof(ctx->held[0]));
		ctx->stalled = 0;
	}
	ctx->nb_held = left;
	if (left == 0)
		return sent;
	ctx->stats.c[EVG_TX_retries]++;
	if (sent > 0 || ++ctx->stalled < ctx->conf.stall_polls)
		return sent;
	rte_pktmbuf_free_bulk(ctx->held, left);
	ctx->stats.c[EVG_TX_dropped] += left;
	ctx->nb_held = 0;
	ctx->stalled = 0;
	return left;
}

static unsigned int
tx_poll(struct evg_node *node)
{
	struct evg_tx_ctx *ctx = node->ctx;
	struct rte_mbuf *pkts[EVG_BURST_MAX];
	unsigned int done = 0;
	uint16_t n, sent;

	if (ctx->nb_held > 0) {
		done = tx_retry_held(ctx);
		if (ctx->nb_held > 0)
			return done;
	}
	n = (uint16_t)evg_edge_pull_rr(ctx->conf.in, ctx->conf.nb_in,
				       &ctx->next_in, pkts, ctx->conf.burst);
	if (n == 0)
		return done;
	sent = tx_send(ctx, pkts, n);
	if (sent < n) {
		ctx->nb_held = n - sent;
		memcpy(ctx->held, pkts + sent, ctx->nb_held * sizeof(pkts[0]));
		ctx->stalled = 0;
	}
	return done + n;
}

/* Shutdown: only held frames are left (the edges ran empty before). */
static unsigned int
tx_drain(struct evg_node *node)
{
	struct evg_tx_ctx *ctx = node->ctx;
	unsigned int held = ctx->nb_held;

	if (held > 0)
		tx_retry_held(ctx);
	return held;
}

static void
tx_read_counters(const struct evg_node *node, uint64_t *values)
{
	const struct evg_tx_ctx *ctx = node->ctx;

	for (unsigned int i = 0; i < EVG_TX_STAT_MAX; i++)
		values[i] = ctx->stats.c[i];
}

const struct evg_stage_ops evg_tx_ops = {
	.name = "tx",
	.poll = tx_poll,
	.drain = tx_drain,
	.counter_names = tx_counter_names,
	.nb_counters = EVG_TX_STAT_MAX,
	.read_counters = tx_read_counters,
};
