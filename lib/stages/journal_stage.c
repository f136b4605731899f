/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The journal stage (evg_stages.h): append accepted events, hold the
 * frames that will be ACKed until the log says they are durable.
 *
 * Order is the whole point. Frames arrive in sequencing order; each one
 * that will carry an ACK (accepted, duplicate, PING) enters the FIFO with
 * the ticket of the last append made so far in its partition, and the
 * FIFO is released strictly in order, each entry once its partition is
 * durable up to its ticket. A duplicate or a PING therefore never
 * overtakes the events it acknowledges, even when those are still in
 * flight.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_pause.h>

#include "evg_journal.h"
#include "evg_stages.h"

/* The most events one single-segment frame can hold. */
#define JRNST_MAX_EVENTS \
	((UINT16_MAX - EVG_EVF_HDR_LEN) / EVG_EVF_REC_HDR_LEN + 1)
#define JRNST_DRAIN_POLLS 200000u

/* clang-format off */
static const char *const jrnst_counter_names[EVG_JRNST_STAT_MAX] = {
#define JRNST_NAME_(name, desc) [EVG_JRNST_##name] = #name,
	EVG_JRNST_STATS_FOREACH(JRNST_NAME_)
#undef JRNST_NAME_
};
/* clang-format on */

int
evg_jrnst_init(struct evg_jrnst_ctx *ctx, const struct evg_jrnst_conf *conf)
{
	struct timespec now;

	if (ctx == NULL || conf == NULL || conf->journal == NULL ||
	    conf->out == NULL || conf->storage_failing == NULL ||
	    conf->nb_in == 0 || conf->nb_in > EVG_STAGES_MAX_INPUTS ||
	    conf->burst == 0 || conf->burst > EVG_BURST_MAX ||
	    conf->partitions == 0 ||
	    conf->partitions > EVG_JRNST_MAX_PARTITIONS)
		return -EINVAL;
	for (unsigned int i = 0; i < conf->nb_in; i++)
		if (conf->in[i] == NULL)
			return -EINVAL;
	memset(ctx, 0, sizeof(*ctx));
	ctx->conf = *conf;
	if (ctx->conf.drain_polls == 0)
		ctx->conf.drain_polls = JRNST_DRAIN_POLLS;
	ctx->recs = rte_zmalloc("evg_jrnst_recs",
				JRNST_MAX_EVENTS * sizeof(*ctx->recs), 0);
	if (ctx->recs == NULL)
		return -ENOMEM;
	/* Ingest time: the wall clock at init plus TSC ticks since. */
	clock_gettime(CLOCK_REALTIME, &now);
	ctx->tsc_base = rte_rdtsc();
	ctx->ns_base =
		(uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	ctx->tsc_hz = rte_get_tsc_hz();
	*conf->storage_failing = false;
	return 0;
}

static unsigned int
fifo_count(const struct evg_jrnst_ctx *ctx)
{
	return ctx->tail - ctx->head;
}

void
evg_jrnst_fini(struct evg_jrnst_ctx *ctx)
{
	while (fifo_count(ctx) > 0)
		rte_pktmbuf_free(ctx->fifo[ctx->head++ % EVG_JRNST_FIFO].m);
	rte_pktmbuf_free_bulk(ctx->pending, ctx->nb_pending);
	ctx->nb_pending = 0;
	rte_free(ctx->recs);
	ctx->recs = NULL;
}

static uint64_t
ingest_ns(const struct evg_jrnst_ctx *ctx, uint64_t tsc)
{
	uint64_t d = tsc - ctx->tsc_base;

	return ctx->ns_base + d / ctx->tsc_hz * 1000000000u +
	       d % ctx->tsc_hz * 1000000000u / ctx->tsc_hz;
}

/* The accepted events of m as journal records; returns how many. */
static unsigned int
frame_records(struct evg_jrnst_ctx *ctx, struct rte_mbuf *m)
{
	const struct evg_pkt *pkt = evg_pkt(m);
	uint64_t ingest = ingest_ns(ctx, pkt->rx_tsc);
	struct evg_evf_event ev;
	struct evg_evf_iter it;
	unsigned int i = 0, n = 0;

	evg_evf_iter_init(&it, rte_pktmbuf_mtod_offset(m, const void *,
						       pkt->net.payload_off));
	while (n < pkt->accept && n < JRNST_MAX_EVENTS &&
	       evg_evf_iter_next(&it, &ev)) {
		if (i++ < pkt->skip)
			continue;
		ctx->recs[n] = (struct evg_journal_rec){
			.producer_id = pkt->hdr.producer_id,
			.stream_id = pkt->hdr.stream_id,
			.session = pkt->hdr.session,
			.seq = pkt->hdr.seq + pkt->skip + n,
			.ts_ns = ev.ts_ns,
			.ingest_ns = ingest,
			.key = ev.key,
			.value = ev.value,
			.key_size = ev.key_size,
			.value_size = ev.value_size,
		};
		n++;
	}
	return n;
}

static bool
wants_ack(const struct evg_pkt *pkt)
{
	return pkt->action == EVG_SEQ_ACCEPT ||
	       pkt->action == EVG_SEQ_DUPLICATE;
}

/*
 * Take one frame: append its events, then queue it in the FIFO (ACKs) or
 * hand it straight on (NAKs, via *now). Returns 0, or the append's error
 * (-ENOBUFS, -ENOSPC, -EIO, ...): the frame is then untouched and must be
 * offered again.
 */
static int
take(struct evg_jrnst_ctx *ctx, struct rte_mbuf *m, struct rte_mbuf **now,
     unsigned int *nb_now, bool *appended)
{
	const struct evg_pkt *pkt = evg_pkt(m);
	uint32_t p =
		evg_journal_partition(ctx->conf.journal, pkt->hdr.stream_id);
	struct evg_jrnst_entry *e;

	if (!wants_ack(pkt)) {
		now[(*nb_now)++] = m;
		return 0;
	}
	if (pkt->hdr.type == EVG_EVF_DATA && pkt->action == EVG_SEQ_ACCEPT &&
	    pkt->accept > 0) {
		unsigned int n = frame_records(ctx, m);
		int64_t t = n == 0 ? (int64_t)ctx->last_ticket[p]
				   : evg_journal_append(ctx->conf.journal, p,
							ctx->recs, n, NULL);

		if (t < 0)
			return (int)t;
		*appended |= n > 0;
		ctx->last_ticket[p] = (uint64_t)t;
		ctx->dirty[p] = 1;
		ctx->stats.c[EVG_JRNST_events] += n;
	}
	e = &ctx->fifo[ctx->tail++ % EVG_JRNST_FIFO];
	e->m = m;
	e->partition = p;
	e->ticket = ctx->conf.ack_received ? 0 : ctx->last_ticket[p];
	return 0;
}

/* Count why a frame could not be taken, and tell the sequencers whether
 * the log is failing: set on a refused append, cleared by one that made it. */
static void
note_result(struct evg_jrnst_ctx *ctx, int rc, bool appended)
{
	if (rc == -ENOBUFS) {
		ctx->stats.c[EVG_JRNST_no_buffer]++;
	} else if (rc != 0 && rc != -EAGAIN) {
		/* -ENOSPC, -EIO and the like. -EMSGSIZE cannot come: the
		 * configuration makes a batch hold the largest frame. */
		ctx->stats.c[EVG_JRNST_storage_errors]++;
		*ctx->conf.storage_failing = true;
		return;
	}
	if (appended && *ctx->conf.storage_failing)
		*ctx->conf.storage_failing = false;
}

/*
 * Flush what was appended, reap completions, learn what is durable, and
 * whether the log is failing. A failing log raises the flag even when
 * nothing is appended: producers whose window is full only retransmit
 * (DUPLICATE, no append), and would otherwise time out again and again
 * instead of getting NAK STORAGE (found by the chaos suite's EIO case).
 * Once no partition fails and no frame waits, the flag drops: new DATA
 * will show whether the log takes it.
 */
static void
journal_io(struct evg_jrnst_ctx *ctx)
{
	bool failing = false;

	for (uint32_t p = 0; p < ctx->conf.partitions; p++) {
		if (ctx->dirty[p]) {
			if (evg_journal_flush(ctx->conf.journal, p) == 0) {
				ctx->dirty[p] = 0;
				ctx->stats.c[EVG_JRNST_flushes]++;
			}
		}
		(void)evg_journal_poll(ctx->conf.journal, p, &ctx->durable[p]);
		failing |= evg_journal_failing(ctx->conf.journal, p) < 0;
	}
	if (failing)
		*ctx->conf.storage_failing = true;
	else if (ctx->nb_pending == 0 && *ctx->conf.storage_failing)
		*ctx->conf.storage_failing = false;
}

/* Release the FIFO's durable head, in order, as far as out has room. */
static unsigned int
release(struct evg_jrnst_ctx *ctx)
{
	struct rte_mbuf *pkts[EVG_BURST_MAX];
	unsigned int room = RTE_MIN(evg_edge_room(ctx->conf.out),
				    (unsigned int)EVG_BURST_MAX);
	unsigned int n = 0;

	while (n < room && fifo_count(ctx) > 0) {
		const struct evg_jrnst_entry *e =
			&ctx->fifo[ctx->head % EVG_JRNST_FIFO];

		if (e->ticket > ctx->durable[e->partition])
			break;
		if (e->ticket > 0)
			ctx->stats.c[EVG_JRNST_waited]++;
		pkts[n++] = e->m;
		ctx->head++;
	}
	if (n > 0)
		ctx->stats.c[EVG_JRNST_out] +=
			evg_edge_push(ctx->conf.out, pkts, n);
	return n;
}

/*
 * Offer the pending frames in order. Once one cannot be taken (the log has
 * no free buffer, or is failing), every later frame that waits for the log
 * stays pending behind it, in order. A NAK claims nothing and needs no log,
 * so it goes on even then (into now[], at most cap of them): a failing log
 * still answers NAK STORAGE, BUSY, GAP and FENCED at once.
 */
static unsigned int
take_pending(struct evg_jrnst_ctx *ctx, struct rte_mbuf **now,
	     unsigned int *nb_now, unsigned int cap)
{
	unsigned int kept = 0, taken = 0;
	bool appended = false;
	int rc = 0;

	for (unsigned int i = 0; i < ctx->nb_pending; i++) {
		struct rte_mbuf *m = ctx->pending[i];
		bool nak = !wants_ack(evg_pkt(m));

		if (nak && *nb_now == cap) {
			if (rc == 0)
				rc = -EAGAIN; /* out is full: the rest waits */
		} else if (rc == 0) {
			rc = take(ctx, m, now, nb_now, &appended);
			if (rc == 0) {
				taken++;
				continue;
			}
		} else if (nak) {
			now[(*nb_now)++] = m;
			taken++;
			continue;
		}
		ctx->pending[kept++] = m;
	}
	ctx->nb_pending = kept;
	note_result(ctx, rc, appended);
	return taken;
}

static unsigned int
jrnst_poll(struct evg_node *node)
{
	struct evg_jrnst_ctx *ctx = node->ctx;
	struct rte_mbuf *now[EVG_BURST_MAX];
	unsigned int want, nb_now = 0, work, n;

	journal_io(ctx);
	work = release(ctx);
	/* Pull while nothing waits to be retried, or while the log is
	 * failing: then the sequencers answer NAK STORAGE, and those NAKs
	 * must not queue behind the frame that waits for the log. Every
	 * frame pulled may end in the FIFO: leave room for all of them. */
	if (ctx->nb_pending == 0 || *ctx->conf.storage_failing) {
		want = EVG_JRNST_FIFO - fifo_count(ctx) - ctx->nb_pending;
		want = RTE_MIN(want, (unsigned int)ctx->conf.burst);
		n = evg_edge_pull_rr(ctx->conf.in, ctx->conf.nb_in,
				     &ctx->next_in,
				     ctx->pending + ctx->nb_pending, want);
		ctx->nb_pending += n;
		ctx->stats.c[EVG_JRNST_in] += n;
	}
	if (ctx->nb_pending > 0)
		work += take_pending(ctx, now, &nb_now,
				     RTE_MIN(evg_edge_room(ctx->conf.out),
					     (unsigned int)EVG_BURST_MAX));
	if (nb_now > 0)
		ctx->stats.c[EVG_JRNST_out] +=
			evg_edge_push(ctx->conf.out, now, nb_now);
	return work;
}

/* Shutdown: keep flushing and releasing until the FIFO is empty, or give
 * up after drain_polls calls (the log never became durable: the frames
 * are freed unanswered, and their producers retransmit). */
static unsigned int
jrnst_drain(struct evg_node *node)
{
	struct evg_jrnst_ctx *ctx = node->ctx;
	unsigned int left;

	(void)jrnst_poll(node);
	left = fifo_count(ctx) + ctx->nb_pending;
	if (left == 0)
		return 0;
	if (++ctx->drains < ctx->conf.drain_polls) {
		rte_pause();
		return left;
	}
	ctx->stats.c[EVG_JRNST_abandoned] += left;
	while (fifo_count(ctx) > 0)
		rte_pktmbuf_free(ctx->fifo[ctx->head++ % EVG_JRNST_FIFO].m);
	rte_pktmbuf_free_bulk(ctx->pending, ctx->nb_pending);
	ctx->nb_pending = 0;
	return 0;
}

static void
jrnst_read_counters(const struct evg_node *node, uint64_t *values)
{
	const struct evg_jrnst_ctx *ctx = node->ctx;

	for (unsigned int i = 0; i < EVG_JRNST_STAT_MAX; i++)
		values[i] = ctx->stats.c[i];
}

const struct evg_stage_ops evg_jrnst_ops = {
	.name = "journal",
	.poll = jrnst_poll,
	.drain = jrnst_drain,
	.counter_names = jrnst_counter_names,
	.nb_counters = EVG_JRNST_STAT_MAX,
	.read_counters = jrnst_read_counters,
};
