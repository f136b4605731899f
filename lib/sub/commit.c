/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Commit points (docs/protocol.md, "Commits"). A feed's commit point per
 * stream is the lowest offset of the stream no member has processed:
 * the first unprocessed record of every member's held frames from that
 * cursor, the first record waiting for redelivery, and where the cursor
 * itself stands, whichever is lowest. The stage writes them into the
 * commits table under its seqlock; the offsets writer thread stores the
 * table and says which generation is durable; a member waiting for its
 * commit then gets COMMITTED.
 */
#include <string.h>
#include <time.h>

#include <rte_mbuf.h>

#include "sub_priv.h"

void
evg_sub_commits_load(struct evg_sub_commits *t, const struct evg_sub_offsets *o)
{
	unsigned int n = o != NULL ? evg_sub_offsets_count(o) : 0;

	rte_seqlock_init(&t->lock);
	t->n = 0;
	for (unsigned int i = 0; i < n && i < EVG_SUB_OFFSETS_MAX; i++)
		t->e[t->n++] = *evg_sub_offsets_entry(o, i);
	t->gen = o != NULL ? evg_sub_offsets_gen(o) : 0;
	__atomic_store_n(&t->durable_gen, t->gen, __ATOMIC_RELEASE);
	__atomic_store_n(&t->store_error, 0, __ATOMIC_RELAXED);
}

uint64_t
evg_sub_commits_snapshot(const struct evg_sub_commits *t,
			 struct evg_sub_offset *e, uint32_t *n)
{
	uint32_t sn;
	uint64_t gen;

	do {
		sn = rte_seqlock_read_begin(&t->lock);
		gen = t->gen;
		*n = t->n <= EVG_SUB_OFFSETS_MAX ? t->n : EVG_SUB_OFFSETS_MAX;
		memcpy(e, t->e, *n * sizeof(*e));
	} while (rte_seqlock_read_retry(&t->lock, sn));
	return gen;
}

void
evg_sub_commits_stored(struct evg_sub_commits *t, uint64_t gen, int err)
{
	__atomic_store_n(&t->store_error, err, __ATOMIC_RELAXED);
	if (err == 0)
		__atomic_store_n(&t->durable_gen, gen, __ATOMIC_RELEASE);
}

int
sub_commit_lookup(const struct evg_sub *s, const char *group, uint32_t stream,
		  uint32_t partition, uint64_t *off, int *idx)
{
	const struct evg_sub_commits *t = s->conf.commits;

	for (uint32_t i = 0; i < t->n; i++) {
		const struct evg_sub_offset *e = &t->e[i];

		if (e->stream_id != stream || strcmp(e->group, group) != 0)
			continue;
		*idx = (int)i;
		/* A log made again with another partition count: the
		 * offset means nothing there. */
		if (e->partition != partition)
			return -ENOENT;
		*off = e->offset;
		return 0;
	}
	*idx = -1;
	return -ENOENT;
}

/* The first unprocessed record's offset among m's held frames from
 * cursor ci; UINT64_MAX when there is none. */
static uint64_t
member_low(const struct sub_member *m, uint8_t ci)
{
	for (uint32_t i = 0; i < m->held_n; i++) {
		const struct sub_held *h = sub_held_at(m, i);
		struct evg_evf_sub_iter it;
		struct evg_evf_sub_record r;
		uint64_t d = h->dseq;

		if (h->cursor != ci || h->dseq + h->count <= m->processed)
			continue;
		evg_evf_sub_iter_init(
			&it, rte_pktmbuf_mtod_offset(h->m, const void *,
						     m->payload_off));
		while (evg_evf_sub_iter_next(&it, &r))
			if (d++ >= m->processed)
				return r.offset;
	}
	return UINT64_MAX;
}

static uint64_t
redo_low(const struct sub_cursor *c)
{
	uint64_t low = UINT64_MAX;

	for (uint32_t i = 0; i < c->redo_n; i++) {
		const struct sub_redo *rd = sub_redo_at(c, i);
		struct evg_evf_sub_iter it;
		struct evg_evf_sub_record r;
		uint16_t k = 0;

		evg_evf_sub_iter_init(
			&it,
			rte_pktmbuf_mtod_offset(rd->m, const void *, rd->off));
		while (evg_evf_sub_iter_next(&it, &r))
			if (k++ >= rd->next && r.offset < low)
				low = r.offset;
	}
	return low;
}

static uint64_t
commit_point(const struct evg_sub *s, const struct sub_feed *f, uint8_t ci)
{
	const struct sub_cursor *c = &f->cursors[ci];
	uint64_t low = RTE_MIN(sub_cursor_pos(c), redo_low(c));

	for (uint16_t k = 0; k < f->nb_members; k++)
		low = RTE_MIN(low, member_low(&s->members[f->members[k]], ci));
	return low;
}

static uint64_t
realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
sub_commit(struct evg_sub *s, struct sub_feed *f)
{
	struct evg_sub_commits *t = s->conf.commits;
	uint64_t pts[EVG_SUB_FEED_STREAMS], now = realtime_ns();
	bool change = false;

	if (!f->named)
		return 0;
	for (uint8_t ci = 0; ci < f->nb_cursors; ci++) {
		struct sub_cursor *c = &f->cursors[ci];

		pts[ci] = commit_point(s, f, ci);
		if (c->commit_idx < 0 && t->n >= EVG_SUB_OFFSETS_MAX) {
			s->stats[EVG_SUB_commits_full]++;
			return 0;
		}
		change |= c->commit_idx < 0 ||
			  t->e[c->commit_idx].offset != pts[ci] ||
			  t->e[c->commit_idx].partition != c->partition;
	}
	if (!change)
		return t->gen;
	rte_seqlock_write_lock(&t->lock);
	for (uint8_t ci = 0; ci < f->nb_cursors; ci++) {
		struct sub_cursor *c = &f->cursors[ci];
		struct evg_sub_offset *e;

		if (c->commit_idx < 0) {
			c->commit_idx = (int)t->n++;
			e = &t->e[c->commit_idx];
			memset(e, 0, sizeof(*e));
			memcpy(e->group, f->name, sizeof(e->group));
			e->stream_id = c->stream_id;
		}
		e = &t->e[c->commit_idx];
		e->partition = c->partition;
		e->offset = pts[ci];
		e->commit_ns = now;
	}
	t->gen++;
	rte_seqlock_write_unlock(&t->lock);
	return t->gen;
}

void
sub_commit_replies(struct evg_sub *s)
{
	const struct evg_sub_commits *t = s->conf.commits;
	uint64_t durable = __atomic_load_n(&t->durable_gen, __ATOMIC_ACQUIRE);
	uint8_t buf[EVG_EVF_HDR_LEN +
		    EVG_EVF_SUB_MAX_STREAMS * EVG_EVF_SUB_COMMITTED_ENTRY];

	for (uint32_t i = 0; i < s->max_members; i++) {
		struct sub_member *m = &s->members[i];
		const struct sub_feed *f = &s->feeds[m->feed];
		struct evg_evf_sub_ids ids;
		struct evg_evf_sub_committed c = {.processed =
							  m->commit_processed};
		struct rte_mbuf *mb;
		int len;

		if (!m->used || !m->commit_wait || m->commit_gen > durable)
			continue;
		m->commit_wait = false;
		for (uint8_t ci = 0; ci < f->nb_cursors; ci++) {
			const struct sub_cursor *cu = &f->cursors[ci];

			if (!(m->cursors & (1u << ci)) || cu->commit_idx < 0)
				continue;
			c.pos[c.nb++] = (struct evg_evf_sub_commit_pos){
				.stream_id = cu->stream_id,
				.partition = cu->partition,
				.offset = t->e[cu->commit_idx].offset,
			};
		}
		ids = (struct evg_evf_sub_ids){.consumer_id = m->consumer_id,
					       .session = m->session};
		len = evg_evf_sub_committed_encode(buf, sizeof(buf), &ids, &c);
		mb = rte_pktmbuf_alloc(s->conf.pool);
		if (len < 0 || mb == NULL ||
		    evg_net_udp_reply(s->conf.ifc, mb, &m->to, buf,
				      (uint16_t)len) != 0 ||
		    !sub_out(s, mb)) {
			s->stats[EVG_SUB_reply_failed]++;
			rte_pktmbuf_free(mb);
			m->commit_wait = true; /* next time */
			continue;
		}
		s->stats[EVG_SUB_commits_durable]++;
	}
}
