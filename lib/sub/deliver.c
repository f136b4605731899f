/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Delivery: read each cursor's log records up to the durable end, pick
 * the member that gets each one, pack them into DELIVER frames, send the
 * frames and keep them until processed; resend from a consumer's
 * `received` on NAK or rto.
 *
 * A frame holds records of one stream for one member, at consecutive
 * dseqs. It is built in an mbuf of the DELIVER pool right where its UDP
 * payload goes (evg_net_udp_hdrs_len()), sealed at the end of the cursor's
 * turn or when the next record does not fit, then kept in the member's
 * held ring; what goes to tx is another reference to the same mbuf
 * (refcnt), so a resend costs nothing but that reference.
 */
#include <errno.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_random.h>

#include "sub_priv.h"

/* ---- credit ------------------------------------------------------------- */

/* Whether member m may take `pieces` more records (frames of their own
 * when pieces > 1) of rec_bytes DELIVER bytes in all. */
static bool
member_room(const struct evg_sub *s, const struct sub_member *m,
	    unsigned int pieces, uint64_t rec_bytes)
{
	uint64_t inflight = m->next_dseq - m->processed;
	uint64_t lim = RTE_MIN((uint64_t)m->credit_events, s->max_inflight);
	uint64_t bytes = m->held_bytes + m->open_bytes;
	uint32_t frames = m->held_n + (m->open_m != NULL ? 1 : 0) + pieces;

	/* With nothing in flight an event goes, all its pieces, even when
	 * the credit is smaller than that: else it could never go. */
	if (m->resend < m->held_n ||
	    (inflight > 0 && inflight + pieces > lim) || lim == 0 ||
	    frames > m->held_cap)
		return false;
	/* Nothing outstanding: one record always goes, whatever the byte
	 * credit, or a credit below one record would stop the flow. */
	return m->credit_bytes == EVG_EVF_SUB_NO_BYTE_LIMIT || bytes == 0 ||
	       bytes + rec_bytes <= m->credit_bytes;
}

/* ---- frames ------------------------------------------------------------- */

static int
frame_open(struct evg_sub *s, struct sub_member *m, struct rte_mbuf *mb,
	   uint8_t ci)
{
	const struct sub_cursor *c = &s->feeds[m->feed].cursors[ci];
	struct evg_evf_sub_ids ids = {.consumer_id = m->consumer_id,
				      .stream_id = c->stream_id,
				      .session = m->session};
	uint32_t room = (uint32_t)(mb->buf_len - mb->data_off) - m->payload_off;
	int rc;

	rc = evg_evf_sub_builder_init(
		&m->b, rte_pktmbuf_mtod_offset(mb, void *, m->payload_off),
		RTE_MIN(room, (uint32_t)s->conf.frame_max), &ids, m->next_dseq,
		c->partition);
	if (rc < 0)
		return rc;
	m->open_m = mb;
	m->open_cursor = ci;
	m->open_bytes = EVG_EVF_SUB_DELIVER_FIXED;
	return 0;
}

/* Seal the open frame, keep it, send it. */
static void
frame_seal(struct evg_sub *s, struct sub_member *m, uint64_t now)
{
	struct rte_mbuf *mb = m->open_m;
	bool resending = m->resend < m->held_n;
	struct sub_held *h;
	int len;

	if (mb == NULL)
		return;
	m->open_m = NULL;
	m->open_bytes = 0;
	len = evg_evf_sub_builder_finish(&m->b);
	if (len < 0 ||
	    evg_net_udp_wrap(s->conf.ifc, mb, &m->to, (uint16_t)len) != 0) {
		/* Cannot happen for a frame the builder sized; the records
		 * would be lost to the consumer, so say so loudly. */
		s->stats[EVG_SUB_reply_failed]++;
		rte_pktmbuf_free(mb);
		return;
	}
	h = sub_held_at(m, m->held_n++);
	*h = (struct sub_held){.m = mb,
			       .dseq = m->b.count > 0
					       ? m->next_dseq - m->b.count
					       : m->next_dseq,
			       .bytes = (uint32_t)len,
			       .count = (uint16_t)m->b.count,
			       .cursor = m->open_cursor};
	m->held_bytes += (uint32_t)len;
	m->st[SM_FRAMES]++;
	m->st[SM_BYTES] += (uint32_t)len;
	s->stats[EVG_SUB_frames]++;
	s->stats[EVG_SUB_bytes] += (uint32_t)len;
	/* While a resend runs, this frame goes out in its turn. */
	if (!resending) {
		m->resend = m->held_n;
		rte_mbuf_refcnt_update(mb, 1);
		if (!sub_out(s, mb)) {
			sub_flush_out(s);
			(void)sub_out(s, mb);
		}
	}
	if (m->rto_at == 0)
		m->rto_at = now + m->rto_cur;
}

static void
feed_seal_all(struct evg_sub *s, struct sub_feed *f, uint64_t now)
{
	for (uint16_t k = 0; k < f->nb_members; k++)
		frame_seal(s, &s->members[f->members[k]], now);
}

/* Frames tx can still take this poll. */
static unsigned int
tx_room(const struct evg_sub *s)
{
	unsigned int room = evg_edge_room(s->conf.out);

	return room > s->nb_out ? room - s->nb_out : 0;
}

/* ---- which member ------------------------------------------------------- */

static int
choose(struct evg_sub *s, struct sub_feed *f, uint8_t ci,
       const struct evg_evf_sub_record *r, unsigned int pieces, uint64_t bytes)
{
	struct sub_cursor *c = &f->cursors[ci];
	struct evg_sub_cand cand[EVG_SUB_MAX_MEMBERS];
	uint16_t map[EVG_SUB_MAX_MEMBERS];
	unsigned int n = 0;
	int k;

	for (uint16_t i = 0; i < f->nb_members; i++) {
		const struct sub_member *m = &s->members[f->members[i]];

		if (!(m->cursors & (1u << ci)))
			continue;
		map[n] = f->members[i];
		cand[n++] = (struct evg_sub_cand){
			.id = m->consumer_id,
			.weight = m->weight,
			.room = member_room(s, m, pieces, bytes),
			.outstanding = m->next_dseq - m->processed,
		};
	}
	if (n == 1 && cand[0].room)
		return map[0];
	k = n == 1 ? -1
		   : evg_sub_pick(
			     f->policy, cand, n, &c->pick, r->key, r->key_size,
			     f->policy == EVG_EVF_SUB_POLICY_RANDOM ? rte_rand()
								    : 0);
	if (k >= 0) {
		c->stalled = false;
		return map[k];
	}
	/* A wait starts: counted once, on the members without room (under
	 * key-hash, the key's may be the only one). */
	if (!c->stalled) {
		c->stalled = true;
		s->stats[EVG_SUB_stalls]++;
		for (unsigned int i = 0; i < n; i++)
			s->members[map[i]].st[SM_STALLS] += !cand[i].room;
	}
	return -1;
}

/* ---- one record --------------------------------------------------------- */

static unsigned int
nb_pieces(uint64_t size, uint32_t per_frame)
{
	return size <= per_frame
		       ? 1u
		       : (unsigned int)((size + per_frame - 1) / per_frame);
}

/* Send record r (key and value contiguous, as in the log and in frames)
 * of cursor ci to the member the policy picks. 1 when it went, 0 when it
 * must wait (no member with room, no mbuf, tx full). */
static int
deliver_record(struct evg_sub *s, struct sub_feed *f, uint8_t ci,
	       const struct evg_evf_sub_record *r, uint64_t now)
{
	uint64_t size = (uint64_t)r->key_size + r->value_size;
	struct rte_mbuf *mbs[8];
	struct sub_member *m;
	unsigned int pieces;
	uint32_t per;
	int mi;

	if (tx_room(s) < 2) {
		s->stats[EVG_SUB_tx_full]++;
		return 0;
	}
	per = s->piece_max;
	pieces = nb_pieces(size, per);
	if (pieces > RTE_DIM(mbs) - 1)
		pieces = RTE_DIM(mbs) - 1; /* cannot be: events fit a batch */
	mi = choose(s, f, ci, r, pieces,
		    evg_evf_sub_record_len(size) +
			    (pieces - 1) * (EVG_EVF_SUB_DELIVER_FIXED +
					    EVG_EVF_SUB_REC_HDR_LEN));
	if (mi < 0)
		return 0;
	m = &s->members[mi];
	if (pieces == 1) {
		if (m->open_m != NULL &&
		    (m->open_cursor != ci ||
		     evg_evf_sub_builder_room(&m->b) < (int64_t)size))
			frame_seal(s, m, now);
		if (m->open_m == NULL) {
			if (rte_pktmbuf_alloc_bulk(s->conf.pool, mbs, 1) != 0) {
				s->stats[EVG_SUB_no_mbuf]++;
				return 0;
			}
			if (frame_open(s, m, mbs[0], ci) < 0) {
				rte_pktmbuf_free(mbs[0]);
				s->stats[EVG_SUB_reply_failed]++;
				return 0;
			}
		}
		(void)evg_evf_sub_builder_add(&m->b, r);
		m->next_dseq++;
		m->open_bytes += evg_evf_sub_record_len(size);
	} else {
		struct evg_evf_sub_record p = *r;
		const uint8_t *data = r->key;
		uint64_t at = 0;

		if (rte_pktmbuf_alloc_bulk(s->conf.pool, mbs, pieces) != 0) {
			s->stats[EVG_SUB_no_mbuf]++;
			return 0;
		}
		frame_seal(s, m, now);
		for (unsigned int i = 0; i < pieces; i++) {
			uint64_t n = RTE_MIN((uint64_t)per, size - at);

			p.key = data + at;
			p.key_size =
				at < r->key_size
					? (uint32_t)RTE_MIN(n, r->key_size - at)
					: 0;
			p.value = p.key + p.key_size;
			p.value_size = (uint32_t)(n - p.key_size);
			p.flags =
				(uint16_t)((r->flags &
					    EVG_EVF_SUB_REC_REDELIVERED) |
					   (i > 0 ? EVG_EVF_SUB_REC_CONT : 0) |
					   (i + 1 < pieces
						    ? EVG_EVF_SUB_REC_MORE
						    : 0));
			(void)frame_open(s, m, mbs[i], ci);
			(void)evg_evf_sub_builder_add(&m->b, &p);
			m->next_dseq++;
			frame_seal(s, m, now);
			at += n;
		}
	}
	if (r->flags & EVG_EVF_SUB_REC_REDELIVERED) {
		m->st[SM_REDELIVERED]++;
		s->stats[EVG_SUB_redelivered]++;
	} else {
		m->st[SM_EVENTS]++;
		s->stats[EVG_SUB_events]++;
	}
	return 1;
}

/* ---- redelivery --------------------------------------------------------- */

/* The head redo record as one whole record (pieces joined into scratch);
 * *entries: how many redo frames it takes. False when a piece is
 * missing (the frames were not all given back): the stray pieces are
 * dropped. */
static bool
redo_record(struct evg_sub *s, struct sub_cursor *c,
	    struct evg_evf_sub_record *r, uint32_t *entries)
{
	struct sub_redo *rd = sub_redo_at(c, 0);
	struct evg_evf_sub_iter it;
	uint32_t key_at = 0, val_at = 0, k = 0;

	evg_evf_sub_iter_init(
		&it, rte_pktmbuf_mtod_offset(rd->m, const void *, rd->off));
	for (uint16_t i = 0; i <= rd->next; i++)
		(void)evg_evf_sub_iter_next(&it, r);
	*entries = 0;
	if (r->flags & EVG_EVF_SUB_REC_CONT)
		return false; /* the start of the event is not here */
	if (!(r->flags & EVG_EVF_SUB_REC_MORE)) {
		r->flags |= EVG_EVF_SUB_REC_REDELIVERED;
		return true;
	}
	/* Pieces: one a frame, in the next redo entries. */
	for (;;) {
		if (key_at + val_at + r->key_size + r->value_size >
		    sizeof(s->scratch))
			return false;
		memcpy(s->scratch + key_at, r->key, r->key_size);
		key_at += r->key_size;
		memcpy(s->scratch_val + val_at, r->value, r->value_size);
		val_at += r->value_size;
		k++;
		if (!(r->flags & EVG_EVF_SUB_REC_MORE))
			break;
		if (k >= c->redo_n)
			return false;
		rd = sub_redo_at(c, k);
		evg_evf_sub_iter_init(
			&it,
			rte_pktmbuf_mtod_offset(rd->m, const void *, rd->off));
		if (!evg_evf_sub_iter_next(&it, r) ||
		    !(r->flags & EVG_EVF_SUB_REC_CONT))
			return false;
	}
	/* Key then value, contiguous, as deliver_record() wants them. */
	memmove(s->scratch + key_at, s->scratch_val, val_at);
	r->key = s->scratch;
	r->key_size = key_at;
	r->value = s->scratch + key_at;
	r->value_size = val_at;
	r->flags = EVG_EVF_SUB_REC_REDELIVERED;
	*entries = k - 1;
	return true;
}

static void
redo_pop(struct sub_cursor *c, uint32_t extra)
{
	struct sub_redo *rd = sub_redo_at(c, 0);

	if (extra == 0 && ++rd->next < rd->count)
		return;
	for (uint32_t i = 0; i <= extra && c->redo_n > 0; i++) {
		rte_pktmbuf_free(sub_redo_at(c, 0)->m);
		c->redo_head = (c->redo_head + 1) % c->redo_cap;
		c->redo_n--;
	}
}

static int
deliver_redo(struct evg_sub *s, struct sub_feed *f, uint8_t ci, uint64_t now)
{
	struct sub_cursor *c = &f->cursors[ci];
	struct evg_evf_sub_record r;
	uint32_t extra;

	if (!redo_record(s, c, &r, &extra)) {
		s->stats[EVG_SUB_read_errors]++;
		redo_pop(c, extra);
		return 1;
	}
	if (deliver_record(s, f, ci, &r, now) == 0)
		return 0;
	redo_pop(c, extra);
	return 1;
}

/* ---- one cursor --------------------------------------------------------- */

/* The cursor's next record into c->e, if the log has one durable; false
 * when there is nothing to read now. */
static bool
cursor_fill(struct evg_sub *s, struct sub_cursor *c, uint64_t end, uint64_t now)
{
	struct evg_journal_reader_pos pos;
	int rc;

	if (c->next_offset >= end || now < c->retry_tsc)
		return false;
	rc = evg_journal_reader_next(c->r, &c->e);
	if (rc == 0) {
		c->have = true;
		c->next_offset = c->e.offset + 1;
		return true;
	}
	c->retry_tsc = now + s->retry_tsc;
	if (rc == -EBADMSG) {
		/* A corrupt batch: what follows in its segment is lost to
		 * every reader (evtail --verify says where); go on. */
		s->stats[EVG_SUB_read_errors]++;
		if (evg_journal_reader_skip_segment(c->r) == 0 &&
		    evg_journal_reader_pos(c->r, &pos) == 0)
			c->next_offset = pos.next_offset;
	} else if (rc != -ENODATA) {
		s->stats[EVG_SUB_read_errors]++;
	}
	return false;
}

static unsigned int
deliver_cursor(struct evg_sub *s, struct sub_feed *f, uint8_t ci,
	       unsigned int budget, uint64_t now)
{
	struct sub_cursor *c = &f->cursors[ci];
	uint64_t end = sub_durable_end(s, c->partition);
	unsigned int done = 0;

	if (c->takers == 0)
		return 0;
	while (done < budget) {
		struct evg_evf_sub_record r;

		if (c->redo_n > 0) {
			if (deliver_redo(s, f, ci, now) == 0)
				break;
			done++;
			continue;
		}
		if (!c->have) {
			if (!cursor_fill(s, c, end, now))
				break;
			done++;
		}
		/* Never past what the journal says is durable (a reader may
		 * see a batch that is written but not yet synced). */
		if (c->e.offset >= end)
			break;
		if (c->e.rec.stream_id != c->stream_id) {
			c->have = false;
			continue;
		}
		r = (struct evg_evf_sub_record){
			.offset = c->e.offset,
			.session = c->e.rec.session,
			.seq = c->e.rec.seq,
			.ts_ns = c->e.rec.ts_ns,
			.producer_id = c->e.rec.producer_id,
			.key_size = c->e.rec.key_size,
			.value_size = c->e.rec.value_size,
			.key = c->e.rec.key,
			.value = c->e.rec.value,
		};
		if (deliver_record(s, f, ci, &r, now) == 0)
			break;
		c->have = false;
		done++;
	}
	return done;
}

unsigned int
sub_deliver(struct evg_sub *s, uint64_t now)
{
	unsigned int budget = s->conf.deliver_budget, done = 0;

	for (uint32_t i = 0; i < s->max_members; i++)
		if (s->members[i].used &&
		    s->members[i].resend < s->members[i].held_n)
			done += sub_resend(s, &s->members[i]);
	for (uint32_t k = 0; k < s->max_feeds && done < budget; k++) {
		struct sub_feed *f =
			&s->feeds[(s->next_feed + k) % s->max_feeds];

		if (!f->used)
			continue;
		for (uint8_t ci = 0; ci < f->nb_cursors && done < budget; ci++)
			done += deliver_cursor(s, f, ci, budget - done, now);
		feed_seal_all(s, f, now);
	}
	s->next_feed = (s->next_feed + 1) % s->max_feeds;
	return done;
}

/* ---- held frames -------------------------------------------------------- */

void
sub_release(struct evg_sub *s, struct sub_member *m)
{
	RTE_SET_USED(s);
	while (m->held_n > 0) {
		struct sub_held *h = sub_held_at(m, 0);

		if (h->dseq + h->count > m->processed)
			break;
		m->held_bytes -= h->bytes;
		rte_pktmbuf_free(h->m);
		m->held_head = (m->held_head + 1) % m->held_cap;
		m->held_n--;
		if (m->resend > 0)
			m->resend--;
	}
}

void
sub_go_back(struct evg_sub *s, struct sub_member *m, uint64_t dseq)
{
	RTE_SET_USED(s);
	for (uint32_t i = 0; i < m->held_n; i++) {
		const struct sub_held *h = sub_held_at(m, i);

		if (h->dseq + h->count > dseq) {
			m->resend = RTE_MIN(m->resend, i);
			return;
		}
	}
}

unsigned int
sub_resend(struct evg_sub *s, struct sub_member *m)
{
	unsigned int n = 0;

	while (m->resend < m->held_n && tx_room(s) > 0) {
		struct rte_mbuf *mb = sub_held_at(m, m->resend)->m;

		if (!sub_out(s, mb))
			break;
		rte_mbuf_refcnt_update(mb, 1);
		m->resend++;
		m->st[SM_RESENT]++;
		s->stats[EVG_SUB_frames_resent]++;
		n++;
	}
	return n;
}

void
sub_flush_out(struct evg_sub *s)
{
	if (s->nb_out == 0)
		return;
	(void)evg_edge_push(s->conf.out, s->out, s->nb_out);
	s->nb_out = 0;
}
