/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ACK stage: turns the sequencer's decisions into replies, each built
 * in the mbuf of the frame it answers.
 *
 * ACKs are cumulative, so within one poll the accepted and duplicate DATA
 * frames of a (producer, stream, session) need only one ACK, carrying the
 * latest frame's ack_seq: the slots table keeps that frame per key and the
 * end of the poll turns it into the ACK. ACK_NOW frames and PINGs are
 * answered each on their own; NAKs pass the per-source rate limit first.
 *
 * This stage never knows the ACK level: what sits before it passes a frame
 * on only once its events are durable at that level, in stream order.
 * Nothing is kept across polls, so there is nothing to drain.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include <rte_cycles.h>

#include "evg_stages.h"

static const char *const ack_counter_names[] = {
#define EVG_ACK_NAME_(name, desc) #name,
	EVG_ACK_STATS_FOREACH(EVG_ACK_NAME_)
#undef EVG_ACK_NAME_
};

static_assert(RTE_DIM(ack_counter_names) == EVG_ACK_STAT_MAX,
	      "one name per counter");
static_assert((EVG_ACK_SLOTS & (EVG_ACK_SLOTS - 1)) == 0,
	      "slots are indexed by mask");
static_assert(EVG_ACK_SLOTS <= UINT16_MAX + 1u, "slot indexes are uint16_t");

/* The replies and pending slots of one poll. Each frame yields at most one
 * reply and claims at most one slot, so a burst bounds both. */
struct ack_burst {
	struct rte_mbuf *out[EVG_BURST_MAX];
	uint16_t pending[EVG_BURST_MAX]; /* slots claimed, in claim order */
	unsigned int nb_out;
	unsigned int nb_pending;
};

/*
 * conf->tsc_hz 0 means rte_get_tsc_hz(). Returns 0 or -EINVAL (NULL
 * pointer, no port, nb_in or burst out of range).
 */
int
evg_ack_init(struct evg_ack_ctx *ctx, const struct evg_ack_conf *conf)
{
	if (ctx == NULL || conf == NULL || conf->ifc == NULL ||
	    conf->nb_ports == 0 || conf->out == NULL || conf->nb_in == 0 ||
	    conf->nb_in > EVG_STAGES_MAX_INPUTS || conf->burst == 0 ||
	    conf->burst > EVG_BURST_MAX)
		return -EINVAL;
	for (unsigned int i = 0; i < conf->nb_in; i++)
		if (conf->in[i] == NULL)
			return -EINVAL;
	/* gen 0 with every slot at gen 0: the first poll moves to gen 1. */
	memset(ctx, 0, sizeof(*ctx));
	ctx->conf = *conf;
	evg_nak_limiter_init(&ctx->lim, conf->nak_rate, conf->nak_burst,
			     conf->tsc_hz);
	return 0;
}

/* Start a poll: every slot of earlier polls becomes free. */
static void
ack_next_gen(struct evg_ack_ctx *ctx)
{
	if (++ctx->gen != 0)
		return;
	/* After 2^32 polls a slot left at some gen would match it again. */
	for (unsigned int i = 0; i < EVG_ACK_SLOTS; i++)
		ctx->slots[i].gen = 0;
	ctx->gen = 1;
}

static inline bool
slot_is_key(const struct evg_ack_slot *s, const struct evg_evf_hdr *h)
{
	return s->producer_id == h->producer_id &&
	       s->stream_id == h->stream_id && s->session == h->session;
}

/*
 * The slot of h's key in this poll: the one holding the key, else the free
 * one where it would go (gen != ctx->gen). NULL when every slot holds some
 * other key.
 */
static struct evg_ack_slot *
slot_find(struct evg_ack_ctx *ctx, const struct evg_evf_hdr *h)
{
	uint64_t x = ((uint64_t)h->producer_id << 32 | h->stream_id) *
		     UINT64_C(0x9E3779B97F4A7C15);
	uint32_t i;

	x ^= h->session * UINT64_C(0xC2B2AE3D27D4EB4F);
	i = (uint32_t)(x >> 40) & (EVG_ACK_SLOTS - 1);
	for (unsigned int k = 0; k < EVG_ACK_SLOTS; k++) {
		struct evg_ack_slot *s = &ctx->slots[i];

		if (s->gen != ctx->gen || slot_is_key(s, h))
			return s;
		i = (i + 1) & (EVG_ACK_SLOTS - 1);
	}
	return NULL;
}

/* Turn m into a reply and queue it; a failure frees m. */
static bool
ack_send(struct evg_ack_ctx *ctx, struct ack_burst *b, struct rte_mbuf *m,
	 enum evg_evf_type type, uint16_t code, uint64_t seq)
{
	if (m->port >= ctx->conf.nb_ports ||
	    evg_pkt_reply(&ctx->conf.ifc[m->port], m, evg_pkt(m), type, code,
			  seq) != 0) {
		ctx->stats.c[EVG_ACK_reply_failed]++;
		rte_pktmbuf_free(m);
		return false;
	}
	b->out[b->nb_out++] = m;
	return true;
}

static void
ack_send_ack(struct evg_ack_ctx *ctx, struct ack_burst *b, struct rte_mbuf *m,
	     enum evg_ack_stat why)
{
	if (!ack_send(ctx, b, m, EVG_EVF_ACK, 0, evg_pkt(m)->ack_seq))
		return;
	ctx->stats.c[EVG_ACK_acks]++;
	if (why != EVG_ACK_acks)
		ctx->stats.c[why]++;
}

static void
ack_send_nak(struct evg_ack_ctx *ctx, struct ack_burst *b, struct rte_mbuf *m,
	     enum evg_evf_nak_code code, uint64_t seq, enum evg_ack_stat stat)
{
	if (!evg_nak_limiter_allow(&ctx->lim, evg_pkt(m)->net.src_ip,
				   rte_rdtsc())) {
		ctx->stats.c[EVG_ACK_naks_limited]++;
		rte_pktmbuf_free(m);
		return;
	}
	if (ack_send(ctx, b, m, EVG_EVF_NAK, (uint16_t)code, seq))
		ctx->stats.c[stat]++;
}

/*
 * Keep m as the pending ACK of its key. Within one key ack_seq never
 * decreases in stream order, so the latest frame carries the cumulative
 * ACK; the max is kept all the same, so that an ACK never goes back.
 */
static void
ack_coalesce(struct evg_ack_ctx *ctx, struct ack_burst *b, struct rte_mbuf *m)
{
	struct evg_pkt *pkt = evg_pkt(m);
	struct evg_ack_slot *s = slot_find(ctx, &pkt->hdr);

	if (s == NULL) {
		ack_send_ack(ctx, b, m, EVG_ACK_acks);
		return;
	}
	if (s->gen != ctx->gen) {
		s->gen = ctx->gen;
		s->producer_id = pkt->hdr.producer_id;
		s->stream_id = pkt->hdr.stream_id;
		s->session = pkt->hdr.session;
		s->m = NULL;
		b->pending[b->nb_pending++] = (uint16_t)(s - ctx->slots);
	} else if (s->m != NULL) {
		pkt->ack_seq = RTE_MAX(pkt->ack_seq, evg_pkt(s->m)->ack_seq);
		rte_pktmbuf_free(s->m);
		ctx->stats.c[EVG_ACK_acks_coalesced]++;
	}
	s->m = m;
}

/*
 * An ACK that goes at once (ACK_NOW, PING) makes a pending ACK of the same
 * key that it covers redundant: fold that one into it.
 */
static void
ack_at_once(struct evg_ack_ctx *ctx, struct ack_burst *b, struct rte_mbuf *m,
	    enum evg_ack_stat why)
{
	struct evg_pkt *pkt = evg_pkt(m);
	struct evg_ack_slot *s = slot_find(ctx, &pkt->hdr);

	if (s != NULL && s->gen == ctx->gen && s->m != NULL &&
	    evg_pkt(s->m)->ack_seq <= pkt->ack_seq) {
		rte_pktmbuf_free(s->m);
		s->m = NULL; /* the key stays: a later frame may fill it */
		ctx->stats.c[EVG_ACK_acks_coalesced]++;
	}
	ack_send_ack(ctx, b, m, why);
}

static void
ack_one(struct evg_ack_ctx *ctx, struct ack_burst *b, struct rte_mbuf *m)
{
	const struct evg_pkt *pkt = evg_pkt(m);

	switch (pkt->action) {
	case EVG_SEQ_ACCEPT:
	case EVG_SEQ_DUPLICATE:
		if (pkt->hdr.type == EVG_EVF_PING)
			ack_at_once(ctx, b, m, EVG_ACK_acks_ping);
		else if (pkt->hdr.flags & EVG_EVF_FLAG_ACK_NOW)
			ack_at_once(ctx, b, m, EVG_ACK_acks_now);
		else
			ack_coalesce(ctx, b, m);
		break;
	case EVG_SEQ_GAP:
		ack_send_nak(ctx, b, m, EVG_EVF_NAK_GAP, pkt->ack_seq,
			     EVG_ACK_naks_gap);
		break;
	case EVG_SEQ_FENCED:
		ack_send_nak(ctx, b, m, EVG_EVF_NAK_FENCED, 0,
			     EVG_ACK_naks_fenced);
		break;
	case EVG_PKT_BUSY:
		ack_send_nak(ctx, b, m, EVG_EVF_NAK_BUSY, pkt->hdr.seq,
			     EVG_ACK_naks_busy);
		break;
	case EVG_PKT_STORAGE:
		ack_send_nak(ctx, b, m, EVG_EVF_NAK_STORAGE, pkt->hdr.seq,
			     EVG_ACK_naks_storage);
		break;
	case EVG_SEQ_OVERFLOW:
		ctx->stats.c[EVG_ACK_overflow]++;
		rte_pktmbuf_free(m);
		break;
	default:
		/* No decision the sequencer writes: nothing to answer. */
		ctx->stats.c[EVG_ACK_reply_failed]++;
		rte_pktmbuf_free(m);
		break;
	}
}

/* Turn every pending slot of the poll into its ACK, in claim order. */
static void
ack_flush(struct evg_ack_ctx *ctx, struct ack_burst *b)
{
	for (unsigned int i = 0; i < b->nb_pending; i++) {
		struct evg_ack_slot *s = &ctx->slots[b->pending[i]];
		struct rte_mbuf *m = s->m;

		s->m = NULL;
		if (m != NULL)
			ack_send_ack(ctx, b, m, EVG_ACK_acks);
	}
}

static unsigned int
ack_poll(struct evg_node *node)
{
	struct evg_ack_ctx *ctx = node->ctx;
	struct rte_mbuf *pkts[EVG_BURST_MAX];
	struct ack_burst b;
	unsigned int want, n;

	/* One reply at most per frame: the out edge can take them all. */
	want = RTE_MIN((unsigned int)ctx->conf.burst,
		       evg_edge_room(ctx->conf.out));
	if (want == 0)
		return 0;
	n = evg_edge_pull_rr(ctx->conf.in, ctx->conf.nb_in, &ctx->next_in, pkts,
			     want);
	if (n == 0)
		return 0;
	ctx->stats.c[EVG_ACK_in] += n;
	ack_next_gen(ctx);
	b.nb_out = 0;
	b.nb_pending = 0;
	for (unsigned int i = 0; i < n; i++)
		ack_one(ctx, &b, pkts[i]);
	ack_flush(ctx, &b);
	if (b.nb_out > 0)
		evg_edge_push(ctx->conf.out, b.out, b.nb_out);
	return n;
}

static void
ack_read_counters(const struct evg_node *node, uint64_t *values)
{
	const struct evg_ack_ctx *ctx = node->ctx;

	for (unsigned int i = 0; i < EVG_ACK_STAT_MAX; i++)
		values[i] = ctx->stats.c[i];
}

const struct evg_stage_ops evg_ack_ops = {
	.name = "ack",
	.poll = ack_poll,
	.drain = NULL, /* nothing is kept across polls */
	.counter_names = ack_counter_names,
	.nb_counters = EVG_ACK_STAT_MAX,
	.read_counters = ack_read_counters,
};
