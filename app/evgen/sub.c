/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The subscriber mode's data path (sub.h): handshakes, DELIVER frames,
 * CREDITs. evgate's frames come in through rx.c (evgen_sub_rx); every
 * frame evgen sends for a subscription is built in evgen_sub_step(), from
 * its own source port, and goes to the port in one burst per step.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "evgen.h"

#define SUB_RETRY_MS 200u /* SUBSCRIBE again when unanswered */
#define SUB_FULL_MS 500u  /* after SUB_ERROR FULL or GROUPS */
#define SUB_CREDIT_MS 2u  /* a changed received goes out within this */
#define SUB_NAK_MS 10u	  /* NAK the same received again after this */

static const char *const sub_ctr_names[] = {
#define EVGEN_SUB_CTR_NAME_(name, desc) #name,
	EVGEN_SUB_CTR_FOREACH(EVGEN_SUB_CTR_NAME_)
#undef EVGEN_SUB_CTR_NAME_
};

const char *
evgen_sub_ctr_name(unsigned int i)
{
	return i < EVGEN_SCTR_MAX ? sub_ctr_names[i] : NULL;
}

const char *
evgen_sub_state_name(unsigned int state)
{
	static const char *const names[] = {"hello", "cookie", "on", "stopped",
					    "closed"};

	return state < RTE_DIM(names) ? names[state] : "?";
}

int
evgen_sub_init(struct evgen *g, char *err, size_t errlen)
{
	const struct evgen_sub_opts *o = &g->o.sub;
	struct evgen_subs *ss = &g->sub;
	uint64_t ms = g->hz / 1000;

	if (o->n == 0)
		return 0;
	ss->s = rte_zmalloc("evgen_subs", o->n * sizeof(*ss->s),
			    RTE_CACHE_LINE_SIZE);
	if (ss->s == NULL) {
		snprintf(err, errlen, "--subscribe %u: cannot allocate", o->n);
		return -ENOMEM;
	}
	if (o->dump != NULL) {
		ss->dump = fopen(o->dump, "w");
		if (ss->dump == NULL) {
			snprintf(err, errlen, "--sub-dump %s: %s", o->dump,
				 strerror(errno));
			return -errno;
		}
	}
	ss->n = o->n;
	ss->retry_tsc = SUB_RETRY_MS * ms;
	ss->full_tsc = SUB_FULL_MS * ms;
	ss->credit_tsc = SUB_CREDIT_MS * ms;
	ss->nak_tsc = SUB_NAK_MS * ms;
	for (uint32_t i = 0; i < o->n; i++) {
		struct evgen_sub *s = &ss->s[i];

		s->consumer_id = o->consumer_base + i;
		s->src_port = rte_cpu_to_be_16((uint16_t)(o->src_port + i));
		s->session = o->session != 0 ? o->session : g->o.session;
		s->state = EVGEN_SUB_HELLO;
		evgen_hist_reset(&s->lat);
	}
	return 0;
}

void
evgen_sub_free(struct evgen *g)
{
	struct evgen_subs *ss = &g->sub;

	rte_pktmbuf_free_bulk(ss->tx, ss->nb_tx);
	ss->nb_tx = 0;
	if (ss->dump != NULL)
		fclose(ss->dump);
	ss->dump = NULL;
	rte_free(ss->s);
	ss->s = NULL;
}

/* ---- sending ------------------------------------------------------------ */

static void
tx_flush(struct evgen *g)
{
	struct evgen_subs *ss = &g->sub;
	uint16_t sent;

	if (ss->nb_tx == 0)
		return;
	sent = rte_eth_tx_burst(g->port_id, 0, ss->tx, (uint16_t)ss->nb_tx);
	if (sent < ss->nb_tx) {
		/* Control frames: the next CREDIT says the same and more. */
		ss->tx_failed += ss->nb_tx - sent;
		rte_pktmbuf_free_bulk(ss->tx + sent, ss->nb_tx - sent);
	}
	ss->nb_tx = 0;
}

/* An mbuf whose UDP payload starts at *evf with cap bytes; NULL when the
 * pool is empty. */
static struct rte_mbuf *
tx_alloc(struct evgen *g, uint8_t **evf, size_t *cap)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(g->pool);

	if (m == NULL) {
		g->sub.alloc_failed++;
		return NULL;
	}
	*evf = rte_pktmbuf_mtod(m, uint8_t *) + EVGEN_HDRS_LEN;
	*cap = g->o.mtu - 28u;
	return m;
}

static void
tx_queue(struct evgen *g, const struct evgen_sub *s, struct rte_mbuf *m,
	 int len)
{
	struct evgen_subs *ss = &g->sub;

	if (len <= 0) {
		rte_pktmbuf_free(m);
		return;
	}
	evgen_write_headers(g, s->src_port, rte_pktmbuf_mtod(m, uint8_t *),
			    (uint32_t)len);
	m->data_len = (uint16_t)(EVGEN_HDRS_LEN + (uint32_t)len);
	m->pkt_len = m->data_len;
	ss->tx[ss->nb_tx++] = m;
	if (ss->nb_tx == RTE_DIM(ss->tx))
		tx_flush(g);
}

static void
send_subscribe(struct evgen *g, struct evgen_sub *s, uint64_t now)
{
	const struct evgen_sub_opts *o = &g->o.sub;
	struct evg_evf_sub_ids ids = {.consumer_id = s->consumer_id,
				      .session = s->session};
	struct evg_evf_sub_subscribe req = {
		.cookie = s->cookie,
		.start = o->start,
		.policy = o->policy,
		.nb_streams = o->nb_streams,
		.credit_events = o->credit,
		.credit_bytes = EVG_EVF_SUB_NO_BYTE_LIMIT,
	};
	struct rte_mbuf *m;
	uint8_t *evf;
	size_t cap;

	m = tx_alloc(g, &evf, &cap);
	if (m == NULL)
		return;
	memcpy(req.group, o->group, sizeof(req.group));
	for (uint8_t i = 0; i < o->nb_streams; i++)
		req.streams[i].stream_id = o->streams[i];
	tx_queue(g, s, m, evg_evf_sub_subscribe_encode(evf, cap, &ids, &req));
	s->ctr[EVGEN_SCTR_subscribes]++;
	s->next_hello = now + g->sub.retry_tsc;
}

static void
send_credit(struct evgen *g, struct evgen_sub *s, uint8_t flags, uint64_t now)
{
	struct evg_evf_sub_ids ids = {.consumer_id = s->consumer_id,
				      .session = s->session};
	struct evg_evf_sub_credit c = {
		.received = s->received,
		.token = s->token,
		.processed = s->received,
		.credit_events = g->o.sub.credit,
		.credit_bytes = EVG_EVF_SUB_NO_BYTE_LIMIT,
		.flags = flags,
	};
	struct rte_mbuf *m;
	uint8_t *evf;
	size_t cap;

	m = tx_alloc(g, &evf, &cap);
	if (m == NULL)
		return;
	tx_queue(g, s, m, evg_evf_sub_credit_encode(evf, cap, &ids, &c));
	s->ctr[EVGEN_SCTR_credits]++;
	s->reported = s->received;
	s->t_credit = now;
	if (flags & EVG_EVF_SUB_F_NAK) {
		s->ctr[EVGEN_SCTR_naks]++;
		s->nak_at = s->received;
		s->t_nak = now;
		s->want_nak = false;
	}
}

/* CREDIT when a quarter of the credit has arrived since the last, when
 * received changed and SUB_CREDIT_MS passed, and at least every quarter
 * of evgate's timeout; a NAK once per gap (again after SUB_NAK_MS). */
static void
credit_step(struct evgen *g, struct evgen_sub *s, uint64_t now)
{
	const struct evgen_subs *ss = &g->sub;
	uint64_t win = RTE_MIN((uint64_t)g->o.sub.credit,
			       (uint64_t)s->ok.max_inflight);
	uint64_t quarter = RTE_MAX(win / 4, (uint64_t)1);
	uint64_t beat = g->hz / 1000 * RTE_MAX(s->ok.timeout_ms / 4, 1u);

	if (s->want_nak &&
	    (s->nak_at != s->received || now - s->t_nak >= ss->nak_tsc)) {
		send_credit(g, s, EVG_EVF_SUB_F_NAK, now);
		return;
	}
	if (s->received - s->reported >= quarter ||
	    (s->received != s->reported &&
	     now - s->t_credit >= ss->credit_tsc) ||
	    now - s->t_credit >= beat)
		send_credit(g, s, 0, now);
}

void
evgen_sub_step(struct evgen *g, uint64_t now)
{
	struct evgen_subs *ss = &g->sub;

	for (uint32_t i = 0; i < ss->n; i++) {
		struct evgen_sub *s = &ss->s[i];

		if (s->state == EVGEN_SUB_ON)
			credit_step(g, s, now);
		else if ((s->state == EVGEN_SUB_HELLO ||
			  s->state == EVGEN_SUB_COOKIE) &&
			 now >= s->next_hello)
			send_subscribe(g, s, now);
	}
	tx_flush(g);
}

void
evgen_sub_close(struct evgen *g)
{
	struct evgen_subs *ss = &g->sub;

	for (uint32_t i = 0; i < ss->n; i++) {
		struct evgen_sub *s = &ss->s[i];
		struct evg_evf_sub_ids ids = {.consumer_id = s->consumer_id,
					      .session = s->session};
		struct rte_mbuf *m;
		uint8_t *evf;
		size_t cap;

		if (s->state != EVGEN_SUB_ON)
			continue;
		/* evgate caps UNSUBSCRIBE's processed at the received it
		 * knows: tell it first, or a group gets those again. */
		if (s->reported != s->received)
			send_credit(g, s, 0, rte_rdtsc());
		m = tx_alloc(g, &evf, &cap);
		if (m == NULL)
			break;
		tx_queue(g, s, m,
			 evg_evf_sub_unsubscribe_encode(evf, cap, &ids,
							s->token, s->received));
		s->state = EVGEN_SUB_CLOSED;
	}
	tx_flush(g);
}

bool
evgen_sub_ready(const struct evgen *g)
{
	for (uint32_t i = 0; i < g->sub.n; i++)
		if (g->sub.s[i].state < EVGEN_SUB_ON)
			return false;
	return true;
}

void
evgen_sub_idle_from(struct evgen *g, uint64_t now)
{
	g->sub.t_phase = now;
}

bool
evgen_sub_done(const struct evgen *g, uint64_t now)
{
	const struct evgen_subs *ss = &g->sub;
	uint64_t idle = g->hz / 1000 * g->o.sub.idle_ms;

	if (ss->n == 0)
		return true;
	if (g->o.sub.count != 0)
		return ss->events >= g->o.sub.count;
	for (uint32_t i = 0; i < ss->n; i++) {
		const struct evgen_sub *s = &ss->s[i];

		if (s->state <= EVGEN_SUB_ON &&
		    now - RTE_MAX(s->t_last, ss->t_phase) < idle)
			return false;
	}
	return true;
}

/* ---- receiving ---------------------------------------------------------- */

/* One record of an accepted DELIVER frame. */
static void
on_record(struct evgen *g, struct evgen_sub *s, uint32_t si,
	  const struct evg_evf_sub_record *r, uint32_t partition,
	  uint64_t now_ns)
{
	const uint16_t piece = EVG_EVF_SUB_REC_MORE | EVG_EVF_SUB_REC_CONT;

	if (r->flags & piece)
		s->ctr[EVGEN_SCTR_pieces]++;
	if (!(r->flags & EVG_EVF_SUB_REC_CONT)) {
		if (r->offset + 1 <= s->last_off[si] &&
		    !(r->flags & EVG_EVF_SUB_REC_REDELIVERED))
			s->ctr[EVGEN_SCTR_out_of_order]++;
		if (r->offset + 1 > s->last_off[si])
			s->last_off[si] = r->offset + 1;
	}
	if (r->flags & EVG_EVF_SUB_REC_MORE)
		return; /* the event ends with a later piece */
	s->ctr[EVGEN_SCTR_events]++;
	g->sub.events++;
	if (r->flags & EVG_EVF_SUB_REC_REDELIVERED)
		s->ctr[EVGEN_SCTR_redelivered]++;
	evgen_hist_record(&s->lat, now_ns > r->ts_ns ? now_ns - r->ts_ns : 0);
	if (g->sub.dump != NULL)
		fprintf(g->sub.dump,
			"%u %u %u %" PRIu64 " %u %" PRIu64 " %" PRIu64 " %u\n",
			(unsigned int)(s - g->sub.s), g->o.sub.streams[si],
			partition, r->offset, r->producer_id, r->session,
			r->seq, r->flags);
}

/* Where frame [d, d + n) stands against received: how many of its first
 * records to skip, or -1 when it brings nothing (repeat, or past a gap:
 * counted, a NAK asked for). */
static int64_t
dseq_check(struct evgen_sub *s, uint64_t d, uint64_t n)
{
	if (d + n > s->max_seen)
		s->max_seen = d + n;
	if (d + n <= s->received) {
		s->ctr[EVGEN_SCTR_duplicates] += n;
		return -1;
	}
	if (d > s->received) {
		if (s->gap_at != s->received + 1) {
			s->ctr[EVGEN_SCTR_gaps]++;
			s->gap_at = s->received + 1;
		}
		s->ctr[EVGEN_SCTR_dropped_past_gap] += n;
		s->want_nak = true;
		return -1;
	}
	s->ctr[EVGEN_SCTR_duplicates] += s->received - d;
	return (int64_t)(s->received - d);
}

static int
stream_index(const struct evgen *g, uint32_t stream_id)
{
	for (uint8_t i = 0; i < g->o.sub.nb_streams; i++)
		if (g->o.sub.streams[i] == stream_id)
			return i;
	return -1;
}

static void
on_deliver(struct evgen *g, struct evgen_sub *s, const uint8_t *p,
	   const struct evg_evf_hdr *h, uint64_t now)
{
	int si = stream_index(g, h->stream_id);
	uint64_t now_ns;
	struct evg_evf_sub_iter it;
	struct evg_evf_sub_record r;
	uint32_t partition;
	int64_t skip;

	if (s->state == EVGEN_SUB_CLOSED)
		return; /* the rest of what was in flight at the end */
	if (s->state != EVGEN_SUB_ON || si < 0) {
		s->ctr[EVGEN_SCTR_unmatched]++;
		return;
	}
	s->drop_acc += g->o.sub.drop_pct;
	if (s->drop_acc >= 100.0) {
		s->drop_acc -= 100.0;
		s->ctr[EVGEN_SCTR_dropped]++;
		return; /* as if lost on the way: a gap or evgate's rto */
	}
	skip = dseq_check(s, h->seq, h->count);
	if (skip < 0)
		return;
	now_ns = g->rt_base_ns +
		 (uint64_t)((double)(now - g->tsc_base) * g->ns_per_tsc);
	partition = evg_evf_sub_deliver_partition(p);
	evg_evf_sub_iter_init(&it, p);
	for (int64_t k = 0; evg_evf_sub_iter_next(&it, &r); k++)
		if (k >= skip)
			on_record(g, s, (uint32_t)si, &r, partition, now_ns);
	s->received = h->seq + h->count;
	if (s->received >= s->max_seen)
		s->want_nak = false;
	s->ctr[EVGEN_SCTR_frames]++;
	s->ctr[EVGEN_SCTR_bytes] += h->length;
	if (s->t_first == 0)
		s->t_first = now;
	s->t_last = now;
	if (g->sub.t_first == 0)
		g->sub.t_first = now;
	g->sub.t_last = now;
}

/* Start the handshake again (after UNKNOWN: a new subscription, from
 * dseq 0). */
static void
rehello(struct evgen_sub *s, uint64_t at)
{
	s->state = EVGEN_SUB_HELLO;
	s->cookie = 0;
	s->next_hello = at;
	s->received = s->reported = s->max_seen = 0;
	s->want_nak = false;
	s->ctr[EVGEN_SCTR_resubscribes]++;
}

static void
on_error(struct evgen *g, struct evgen_sub *s, const struct evg_evf_hdr *h,
	 uint64_t now)
{
	unsigned int why = h->count;

	s->ctr[EVGEN_SCTR_sub_errors]++;
	g->sub.err[why < EVG_EVF_SUB_ERR_MAX ? why : 0]++;
	switch (why) {
	case EVG_EVF_SUB_ERR_FULL:
	case EVG_EVF_SUB_ERR_GROUPS:
		if (s->state != EVGEN_SUB_ON)
			rehello(s, now + g->sub.full_tsc);
		return;
	case EVG_EVF_SUB_ERR_UNKNOWN:
		if (s->state == EVGEN_SUB_ON)
			rehello(s, now);
		return;
	default:
		if (s->state <= EVGEN_SUB_ON) {
			s->state = EVGEN_SUB_STOPPED;
			s->error = (uint8_t)why;
		}
	}
}

static void
on_control(struct evgen *g, struct evgen_sub *s, const uint8_t *p,
	   const struct evg_evf_hdr *h, uint64_t now)
{
	switch (h->type) {
	case EVG_EVF_CHALLENGE:
		s->ctr[EVGEN_SCTR_challenges]++;
		if (s->state != EVGEN_SUB_HELLO && s->state != EVGEN_SUB_COOKIE)
			break;
		s->cookie = evg_evf_sub_challenge_cookie(p);
		s->state = EVGEN_SUB_COOKIE;
		s->next_hello = now; /* at once, with the cookie */
		break;
	case EVG_EVF_SUBSCRIBED:
		if (s->state != EVGEN_SUB_HELLO && s->state != EVGEN_SUB_COOKIE)
			break; /* a repeat: the first one counts */
		evg_evf_sub_subscribed_decode(p, &s->ok);
		s->token = s->ok.token;
		s->state = EVGEN_SUB_ON;
		s->received = s->reported = s->max_seen = h->seq;
		s->t_credit = now;
		break;
	case EVG_EVF_SUB_ERROR:
		on_error(g, s, h, now);
		break;
	default: /* COMMITTED: evgen never asks for a commit */
		s->ctr[EVGEN_SCTR_unmatched]++;
	}
}

bool
evgen_sub_rx(struct evgen *g, const uint8_t *p, uint32_t len, rte_be16_t dport,
	     uint64_t now)
{
	struct evgen_subs *ss = &g->sub;
	uint32_t i = (uint32_t)(rte_be_to_cpu_16(dport) - g->o.sub.src_port);
	struct evgen_sub *s;
	struct evg_evf_hdr h;

	if (ss->n == 0 || rte_be_to_cpu_16(dport) < g->o.sub.src_port ||
	    i >= ss->n)
		return false;
	s = &ss->s[i];
	/* evgate's frames break only the "never from the network" rule */
	if (evg_evf_validate(p, len, &h) != EVG_EVF_BAD_DIRECTION ||
	    !evg_evf_sub_from_appliance(h.type)) {
		ss->bad_frames++;
		return true;
	}
	if (h.producer_id != s->consumer_id || h.session != s->session) {
		ss->unknown++;
		return true;
	}
	if (h.type == EVG_EVF_DELIVER)
		on_deliver(g, s, p, &h, now);
	else
		on_control(g, s, p, &h, now);
	return true;
}
