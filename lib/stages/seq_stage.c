/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The sequencer stage: one per shard. It decides on every DATA and PING
 * frame with its shard's evg_seq_table, writes the decision into the
 * frame's evg_pkt and passes every frame on, in the order it took them.
 *
 * Its output edge is BACKPRESSURE: accepted events must never be dropped.
 * The stage pulls no more frames than that edge has room for, so the push
 * never waits and a slow consumer holds frames back in the rx edges (which
 * answer NAK BUSY when they overflow) rather than here.
 */
#include <assert.h>
#include <errno.h>

#include "evg_stages.h"

static const char *const seqst_counter_names[] = {
#define EVG_SEQST_NAME_(name, desc) #name,
	EVG_SEQST_STATS_FOREACH(EVG_SEQST_NAME_)
#undef EVG_SEQST_NAME_
};

static_assert(RTE_DIM(seqst_counter_names) == EVG_SEQST_STAT_MAX,
	      "one name per counter");
static_assert(EVG_PKT_BUSY <= UINT8_MAX, "evg_pkt.action is a uint8_t");

int
evg_seqst_init(struct evg_seqst_ctx *ctx, const struct evg_seqst_conf *conf)
{
	if (ctx == NULL || conf == NULL || conf->table == NULL ||
	    conf->out == NULL || conf->nb_in == 0 ||
	    conf->nb_in > EVG_STAGES_MAX_INPUTS || conf->burst == 0 ||
	    conf->burst > EVG_BURST_MAX)
		return -EINVAL;
	for (unsigned int i = 0; i < conf->nb_in; i++)
		if (conf->in[i] == NULL)
			return -EINVAL;
	*ctx = (struct evg_seqst_ctx){.conf = *conf};
	return 0;
}

/* Count a DATA frame's decision. */
static void
seqst_count_data(uint64_t *c, const struct evg_seq_result *res, uint32_t count)
{
	switch (res->action) {
	case EVG_SEQ_ACCEPT:
		c[EVG_SEQST_accept]++;
		c[EVG_SEQST_events_accepted] += res->accept;
		c[EVG_SEQST_events_duplicate] += res->skip;
		break;
	case EVG_SEQ_DUPLICATE:
		c[EVG_SEQST_duplicate]++;
		c[EVG_SEQST_events_duplicate] += count;
		break;
	case EVG_SEQ_GAP:
		c[EVG_SEQST_gap]++;
		break;
	case EVG_SEQ_FENCED:
		c[EVG_SEQST_fenced]++;
		break;
	case EVG_SEQ_OVERFLOW:
	default:
		c[EVG_SEQST_overflow]++;
		break;
	}
}

static void
seqst_refuse(struct evg_pkt *pkt, uint8_t action)
{
	pkt->action = action;
	pkt->ack_seq = 0;
	pkt->skip = 0;
	pkt->accept = 0;
}

/*
 * Decide on one frame. rx hands on only validated DATA and PING frames,
 * so anything that is not DATA is a PING. A PING changes no state and
 * carries no events: it counts under `ping`, and under `fenced` when it
 * gets NAK FENCED.
 */
static void
seqst_decide(struct evg_seqst_ctx *ctx, struct evg_pkt *pkt)
{
	const struct evg_evf_hdr *h = &pkt->hdr;
	uint64_t *c = ctx->stats.c;
	struct evg_seq_result res;

	if (unlikely(ctx->conf.storage_failing != NULL &&
		     *ctx->conf.storage_failing)) {
		/* DATA: accepting now would advance next_seq past events the
		 * log cannot take, so refuse before the state moves. PING: its
		 * ACK would wait behind the frames the log has not taken. */
		c[h->type == EVG_EVF_DATA ? EVG_SEQST_data : EVG_SEQST_ping]++;
		c[EVG_SEQST_storage]++;
		seqst_refuse(pkt, EVG_PKT_STORAGE);
		return;
	}
	if (h->type == EVG_EVF_DATA) {
		c[EVG_SEQST_data]++;
		if (evg_seq_table_data(ctx->conf.table, h->producer_id,
				       h->stream_id, h->session, h->seq,
				       h->count, &res) != 0) {
			/* -ENOSPC: a new key and no room for it. */
			c[EVG_SEQST_table_full]++;
			seqst_refuse(pkt, EVG_PKT_BUSY);
			return;
		}
		seqst_count_data(c, &res, h->count);
	} else {
		c[EVG_SEQST_ping]++;
		evg_seq_table_ping(ctx->conf.table, h->producer_id,
				   h->stream_id, h->session, &res);
		if (res.action == EVG_SEQ_FENCED)
			c[EVG_SEQST_fenced]++;
	}
	pkt->action = (uint8_t)res.action;
	pkt->ack_seq = res.ack_seq;
	pkt->skip = res.skip;
	pkt->accept = res.accept;
}

static unsigned int
seqst_poll(struct evg_node *node)
{
	struct evg_seqst_ctx *ctx = node->ctx;
	struct rte_mbuf *pkts[EVG_BURST_MAX];
	unsigned int want, n;

	want = RTE_MIN((unsigned int)ctx->conf.burst,
		       evg_edge_room(ctx->conf.out));
	if (want == 0)
		return 0;
	n = evg_edge_pull_rr(ctx->conf.in, ctx->conf.nb_in, &ctx->next_in, pkts,
			     want);
	if (n == 0)
		return 0;
	ctx->stats.c[EVG_SEQST_in] += n;
	for (unsigned int i = 0; i < n; i++)
		seqst_decide(ctx, evg_pkt(pkts[i]));
	ctx->stats.c[EVG_SEQST_out] += evg_edge_push(ctx->conf.out, pkts, n);
	return n;
}

static void
seqst_read_counters(const struct evg_node *node, uint64_t *values)
{
	const struct evg_seqst_ctx *ctx = node->ctx;

	for (unsigned int i = 0; i < EVG_SEQST_STAT_MAX; i++)
		values[i] = ctx->stats.c[i];
}

const struct evg_stage_ops evg_seqst_ops = {
	.name = "seq",
	.poll = seqst_poll,
	.drain = NULL, /* nothing is kept across polls */
	.counter_names = seqst_counter_names,
	.nb_counters = EVG_SEQST_STAT_MAX,
	.read_counters = seqst_read_counters,
};
