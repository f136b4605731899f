/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Feeds (a consumer group's shared position, or a plain subscription's
 * own), their cursors and their members.
 *
 * A cursor is a journal reader over its stream's partition. It starts at
 * the group's commit point when the group has one for the stream,
 * otherwise where the first SUBSCRIBE that needs the stream says. A
 * member that goes away gives its held frames' unprocessed records to
 * their cursors' redo queues (each frame once, with a reference on its
 * mbuf), from where they are delivered again before anything new.
 */
#include <errno.h>
#include <string.h>

#include <rte_malloc.h>

#include "sub_priv.h"

int
sub_feed_find(struct evg_sub *s, const char *name)
{
	for (uint32_t i = 0; i < s->max_feeds; i++)
		if (s->feeds[i].used && s->feeds[i].named &&
		    strcmp(s->feeds[i].name, name) == 0)
			return (int)i;
	return -ENOENT;
}

int
sub_feed_new(struct evg_sub *s, const char *name, uint8_t policy)
{
	for (uint32_t i = 0; i < s->max_feeds; i++) {
		struct sub_feed *f = &s->feeds[i];

		if (f->used)
			continue;
		memset(f, 0, sizeof(*f));
		f->used = true;
		f->named = name != NULL && name[0] != '\0';
		if (f->named)
			snprintf(f->name, sizeof(f->name), "%s", name);
		f->policy = policy;
		s->nb_feeds++;
		return (int)i;
	}
	return -ENOSPC;
}

uint64_t
sub_cursor_pos(const struct sub_cursor *c)
{
	return c->have ? c->e.offset : c->next_offset;
}

/* Position a new cursor's reader at the start asked for (or the commit)
 * and note the offset of the first record it will give. */
static int
cursor_seek(struct evg_sub *s, struct sub_cursor *c,
	    const struct evg_evf_sub_subscribe *req, uint64_t offset,
	    bool from_commit)
{
	struct evg_journal_reader_pos pos;
	int rc;

	if (!from_commit && req->start == EVG_EVF_SUB_TIME)
		rc = evg_journal_reader_seek_time(c->r, req->start_time);
	else if (!from_commit && req->start == EVG_EVF_SUB_END)
		rc = evg_journal_reader_seek_offset(
			c->r, sub_durable_end(s, c->partition));
	else if (!from_commit && req->start == EVG_EVF_SUB_OLDEST)
		rc = evg_journal_reader_seek_offset(c->r, 0);
	else
		rc = evg_journal_reader_seek_offset(c->r, offset);
	if (rc == 0)
		rc = evg_journal_reader_pos(c->r, &pos);
	if (rc < 0)
		return rc;
	/* Below the oldest segment (retention took the rest) the reader
	 * gives the oldest record there is. */
	c->next_offset = pos.in_segment
				 ? RTE_MAX(pos.next_offset, pos.segment_base)
				 : pos.next_offset;
	return 0;
}

int
sub_cursor_get(struct evg_sub *s, struct sub_feed *f,
	       const struct evg_evf_sub_subscribe *req, uint32_t stream,
	       uint64_t offset, bool *resumed)
{
	struct sub_cursor *c;
	char err[128];
	uint64_t committed = 0;
	bool from_commit = false;
	int rc;

	for (uint8_t i = 0; i < f->nb_cursors; i++)
		if (f->cursors[i].stream_id == stream)
			return i;
	if (f->nb_cursors >= EVG_SUB_FEED_STREAMS)
		return -ENOSPC;
	c = &f->cursors[f->nb_cursors];
	memset(c, 0, sizeof(*c));
	c->stream_id = stream;
	c->partition = stream % s->conf.partitions;
	c->commit_idx = -1;
	if (f->named)
		from_commit =
			sub_commit_lookup(s, f->name, stream, c->partition,
					  &committed, &c->commit_idx) == 0;
	c->redo_cap = SUB_REDO_MIN;
	c->redo = rte_zmalloc_socket("evg_sub_redo",
				     c->redo_cap * sizeof(*c->redo), 0,
				     s->conf.socket_id);
	if (c->redo == NULL)
		return -ENOMEM;
	rc = evg_journal_reader_open(s->conf.log_dir, c->partition, &c->r, err,
				     sizeof(err));
	if (rc == 0)
		rc = cursor_seek(s, c, req, from_commit ? committed : offset,
				 from_commit);
	if (rc < 0) {
		evg_journal_reader_close(c->r);
		rte_free(c->redo);
		memset(c, 0, sizeof(*c));
		s->stats[EVG_SUB_reader_open_errors]++;
		return rc;
	}
	*resumed |= from_commit;
	return f->nb_cursors++;
}

void
sub_feed_join(struct evg_sub *s, struct sub_feed *f, uint16_t mi)
{
	struct sub_member *m = &s->members[mi];

	m->slot = f->nb_members;
	f->members[f->nb_members++] = mi;
	for (uint8_t ci = 0; ci < f->nb_cursors; ci++) {
		if (m->cursors & (1u << ci))
			f->cursors[ci].takers++;
		/* Indexes moved: the policies start afresh. */
		memset(&f->cursors[ci].pick, 0, sizeof(f->cursors[ci].pick));
	}
}

void
sub_feed_free(struct evg_sub *s, struct sub_feed *f)
{
	for (uint8_t ci = 0; ci < f->nb_cursors; ci++) {
		struct sub_cursor *c = &f->cursors[ci];

		for (uint32_t i = 0; i < c->redo_n; i++)
			rte_pktmbuf_free(sub_redo_at(c, i)->m);
		rte_free(c->redo);
		evg_journal_reader_close(c->r);
	}
	s->nb_groups -= f->named;
	memset(f, 0, sizeof(*f));
	s->nb_feeds--;
}

/* Make room for one more frame in c's redo ring: double it, in order
 * from slot 0. False when memory is short. */
static bool
redo_room(struct evg_sub *s, struct sub_cursor *c)
{
	struct sub_redo *n;

	if (c->redo_n < c->redo_cap)
		return true;
	n = rte_zmalloc_socket("evg_sub_redo", 2 * c->redo_cap * sizeof(*n), 0,
			       s->conf.socket_id);
	if (n == NULL)
		return false;
	for (uint32_t i = 0; i < c->redo_n; i++)
		n[i] = *sub_redo_at(c, i);
	rte_free(c->redo);
	c->redo = n;
	c->redo_head = 0;
	c->redo_cap *= 2;
	return true;
}

/* Give the unprocessed records of m's held frames back to their cursors
 * (the frame's reference moves to the redo queue). */
static void
give_back(struct evg_sub *s, struct sub_feed *f, struct sub_member *m)
{
	for (uint32_t i = 0; i < m->held_n; i++) {
		struct sub_held *h = sub_held_at(m, i);
		struct sub_cursor *c = &f->cursors[h->cursor];
		uint64_t skip =
			m->processed > h->dseq ? m->processed - h->dseq : 0;

		if (skip >= h->count || f->nb_members <= 1 ||
		    !redo_room(s, c)) {
			/* Out of memory: these records are lost to the group
			 * (counted; the log still has them). */
			if (skip < h->count && f->nb_members > 1)
				s->stats[EVG_SUB_redo_lost]++;
			rte_pktmbuf_free(h->m);
			continue;
		}
		*sub_redo_at(c, c->redo_n++) = (struct sub_redo){
			.m = h->m,
			.next = (uint16_t)skip,
			.count = h->count,
			.off = m->payload_off,
		};
	}
	m->held_n = 0;
	m->held_head = 0;
	m->resend = 0;
	m->held_bytes = 0;
}

void
sub_member_remove(struct evg_sub *s, uint16_t mi, uint64_t now)
{
	struct sub_member *m = &s->members[mi];
	struct sub_feed *f = &s->feeds[m->feed];

	bool last = f->nb_members == 1;

	RTE_SET_USED(now);
	if (m->open_m != NULL) {
		rte_pktmbuf_free(m->open_m);
		m->open_m = NULL;
	}
	/* The last member: the commit point still sees what it had not
	 * processed; the feed goes with it. */
	if (last)
		(void)sub_commit(s, f);
	give_back(s, f, m);
	for (uint8_t ci = 0; ci < f->nb_cursors; ci++) {
		if (m->cursors & (1u << ci))
			f->cursors[ci].takers--;
		memset(&f->cursors[ci].pick, 0, sizeof(f->cursors[ci].pick));
	}
	f->members[m->slot] = f->members[--f->nb_members];
	s->members[f->members[m->slot]].slot = m->slot;
	rte_free(m->held);
	memset(m, 0, sizeof(*m));
	s->nb_members--;
	sub_by_id_rebuild(s);
	if (last)
		sub_feed_free(s, f);
}
