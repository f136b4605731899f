/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The consumer's buffers: DELIVER frames kept whole in a byte ring (the
 * arena) in dseq order, handed out record by record, an event that came
 * as pieces (MORE / CONT, docs/protocol.md "Frame layouts") joined into
 * one, and frames freed once their events are processed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "consumer_priv.h"

/* Room for len bytes after the newest frame, wrapping to the start when
 * the end is too short; NULL when the live frames leave none. */
static uint8_t *
arena_alloc(struct evg_consumer *c, uint32_t len)
{
	size_t need = ((size_t)len + 7u) & ~(size_t)7u;
	size_t head, off;

	if (c->fr_used == 0)
		c->arena_tail = 0;
	head = c->fr_used == 0 ? 0 : cs_frame_at(c, 0)->off;
	if (c->fr_used == 0 || c->arena_tail > head) {
		if (c->arena_cap - c->arena_tail >= need)
			off = c->arena_tail;
		else if (head > need)
			off = 0; /* wrap; the tail stays short of the head */
		else
			return NULL;
	} else if (head - c->arena_tail > need) {
		off = c->arena_tail;
	} else {
		return NULL;
	}
	c->arena_tail = off + need;
	return c->arena + off;
}

/* Count what the new records bring: whole events, pieces still open,
 * and the offset to resume a plain subscription after. */
static void
account_records(struct evg_consumer *c, struct evg_evf_sub_iter it, int idx)
{
	struct evg_evf_sub_record r;

	while (evg_evf_sub_iter_next(&it, &r)) {
		if (r.flags & EVG_EVF_SUB_REC_MORE) {
			c->partial++;
			continue;
		}
		c->partial = 0;
		c->pending++;
		c->have_last[idx] = true;
		c->last_offset[idx] = r.offset;
	}
}

bool
cs_store_frame(struct evg_consumer *c, const uint8_t *buf,
	       const struct evg_evf_hdr *h, uint32_t skip, int idx)
{
	struct evg_evf_sub_record r;
	struct cs_frame *f;
	uint8_t *mem;

	if (c->fr_used == c->nb_desc)
		return false;
	mem = arena_alloc(c, h->length);
	if (mem == NULL)
		return false;
	memcpy(mem, buf, h->length);
	f = cs_frame_at(c, c->fr_used);
	f->off = (uint32_t)(mem - c->arena);
	f->len = h->length;
	f->epoch = c->epoch;
	f->stream_id = h->stream_id;
	f->partition = evg_evf_sub_deliver_partition(mem);
	evg_evf_sub_iter_init(&f->it, mem);
	for (uint32_t i = 0; i < skip; i++)
		evg_evf_sub_iter_next(&f->it, &r);
	f->dseq = h->seq + skip;
	f->left = h->count - skip;
	account_records(c, f->it, idx);
	c->fr_used++;
	return true;
}

/* ---- handing out -------------------------------------------------------- */

/* Take the next record; false when none is left. */
static bool
next_record(struct evg_consumer *c, struct evg_evf_sub_record *r,
	    struct cs_frame **fp, uint64_t *dseq)
{
	while (c->fr_cur < c->fr_used) {
		struct cs_frame *f = cs_frame_at(c, c->fr_cur);

		if (f->left == 0 || !evg_evf_sub_iter_next(&f->it, r)) {
			f->left = 0; /* a validated frame always has them */
			c->fr_cur++;
			continue;
		}
		*fp = f;
		*dseq = f->dseq++;
		if (--f->left == 0)
			c->fr_cur++;
		return true;
	}
	return false;
}

/* Records the next event takes: 1 for a whole record, else its pieces
 * through the one without MORE (*size and *key: the joined sizes). 0 when
 * a piece is still to come, -1 when the pieces do not join (a CONT first,
 * or a piece missing before a record without CONT). */
static int
event_span(struct evg_consumer *c, uint64_t *size, uint64_t *key)
{
	struct evg_evf_sub_iter it = {0};
	struct evg_evf_sub_record r;
	uint32_t i = c->fr_cur, left = 0;
	int n = 0;

	*size = *key = 0;
	for (;;) {
		while (left == 0) {
			struct cs_frame *f;

			if (i == c->fr_used)
				return 0;
			f = cs_frame_at(c, i++);
			it = f->it;
			left = f->left;
		}
		if (!evg_evf_sub_iter_next(&it, &r))
			return -1;
		left--;
		if ((n == 0) != !(r.flags & EVG_EVF_SUB_REC_CONT))
			return -1;
		*size += (uint64_t)r.key_size + r.value_size;
		*key += r.key_size;
		n++;
		if (!(r.flags & EVG_EVF_SUB_REC_MORE))
			return n;
	}
}

static void
fill(struct evg_consumer_event *ev, const struct cs_frame *f,
     const struct evg_evf_sub_record *r, uint64_t dseq)
{
	*ev = (struct evg_consumer_event){
		.stream_id = f->stream_id,
		.partition = f->partition,
		.offset = r->offset,
		.producer_id = r->producer_id,
		.session = r->session,
		.seq = r->seq,
		.ts_ns = r->ts_ns,
		.dseq = dseq,
		.redelivered = (r->flags & EVG_EVF_SUB_REC_REDELIVERED) != 0,
		.key = r->key,
		.key_size = r->key_size,
		.value = r->value,
		.value_size = r->value_size,
	};
}

static void
handed(struct evg_consumer *c, const struct cs_frame *f, uint64_t dseq_end,
       const struct evg_consumer_event *ev)
{
	c->have_handed = true;
	c->handed_epoch = f->epoch;
	c->handed = dseq_end;
	c->pending--;
	c->st.events++;
	if (ev->redelivered)
		c->st.redelivered++;
}

/* The n pieces from the next record on as one event, its dseq the first
 * piece's; the bytes live in a cs_join until the next call. */
static bool
take_joined(struct evg_consumer *c, struct evg_consumer_event *ev, int n,
	    uint64_t size, uint64_t key)
{
	struct cs_join *j = malloc(sizeof(*j) + size);
	struct evg_evf_sub_record r;
	struct cs_frame *f = NULL;
	uint64_t dseq = 0, at = 0;

	if (j == NULL) {
		cs_fail(c, -ENOMEM, "no memory to join a %llu-byte event",
			(unsigned long long)size);
		return false;
	}
	for (int k = 0; k < n && next_record(c, &r, &f, &dseq); k++) {
		uint64_t len = (uint64_t)r.key_size + r.value_size;

		if (k == 0)
			fill(ev, f, &r, dseq);
		if (r.flags & EVG_EVF_SUB_REC_REDELIVERED)
			ev->redelivered = 1;
		if (len != 0)
			memcpy(j->data + at, r.key,
			       len); /* value follows key */
		at += len;
	}
	j->next = c->joins;
	c->joins = j;
	ev->key = j->data;
	ev->key_size = (uint32_t)key;
	ev->value = j->data + key;
	ev->value_size = (uint32_t)(size - key);
	handed(c, f, dseq + 1, ev);
	return true;
}

bool
cs_take(struct evg_consumer *c, struct evg_consumer_event *ev)
{
	struct evg_evf_sub_record r;
	struct cs_frame *f;
	uint64_t size, key, dseq;
	int n;

	for (;;) {
		n = event_span(c, &size, &key);
		if (n == 0)
			return false;
		if (n > 1)
			return take_joined(c, ev, n, size, key);
		if (!next_record(c, &r, &f, &dseq))
			return false;
		if (n == 1) {
			fill(ev, f, &r, dseq);
			handed(c, f, dseq + 1, ev);
			return true;
		}
		/* A piece that joins nothing: dropped. */
		c->st.replies_ignored++;
		if (!(r.flags & EVG_EVF_SUB_REC_MORE))
			c->pending--;
	}
}

void
cs_free_joins(struct evg_consumer *c)
{
	while (c->joins != NULL) {
		struct cs_join *j = c->joins;

		c->joins = j->next;
		free(j);
	}
}

void
cs_mark_processed(struct evg_consumer *c)
{
	if (c->have_handed && c->handed_epoch == c->epoch &&
	    c->handed > c->processed) {
		c->processed = c->handed;
		/* Below the threshold, the tail of the processing goes out
		 * after retry_ms (a group's members, least-outstanding and
		 * redelivery go by it), not a heartbeat later. */
		if (c->subscribed)
			cs_report_by(c, cs_now() + cs_retry_ns(c));
	}
	cs_free_joins(c);
	while (c->fr_cur > 0) {
		struct cs_frame *f = cs_frame_at(c, 0);

		if (f->epoch == c->epoch)
			c->processed_bytes += f->len;
		c->fr_head = (c->fr_head + 1) % c->nb_desc;
		c->fr_used--;
		c->fr_cur--;
	}
}

void
cs_drop_partial(struct evg_consumer *c)
{
	uint32_t n = c->partial;

	/* The open pieces are the last records kept: shorten the frames'
	 * records left from the newest back. */
	for (uint32_t i = c->fr_used; n > 0 && i > c->fr_cur; i--) {
		struct cs_frame *f = cs_frame_at(c, i - 1);
		uint32_t k = n < f->left ? n : f->left;

		f->left -= k;
		n -= k;
	}
	c->partial = 0;
}
