/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The write path of a partition: group commit into rotating buffers,
 * tickets, durability in ticket order, and riding out failing storage.
 *
 * Ticket t lives in buf[t % JRN_NBUF]; the buffer is free again once
 * every ticket up to t is durable, so at most JRN_NBUF batches are open
 * or in flight. A buffer is one batch and one write, starting on a
 * JRN_ALIGN boundary, so a write never touches a block that holds
 * acknowledged data, and a failed write is simply written again at the
 * same place. Writes of a new segment wait until every earlier ticket is
 * durable: a segment with data implies its predecessor is complete.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include <hugetlbfs.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "journal_priv.h"

#define REAP_BURST 32u
#define POLL_ROUNDS 4u
#define HUGE_MIN (2u << 20)	/* smaller buffers are not worth a hugepage */
#define DRAIN_FAIL_POLLS 5000u	/* 0.5 s of a failing store at close */
#define DRAIN_MAX_POLLS 600000u /* 60 s */

enum { MEM_HEAP, MEM_HUGE, MEM_RTE };

/* The one place that picks where buffers come from: rte_malloc on an
 * EAL thread, else hugepages for large buffers, else the heap. */
int
evg_jrn_mem_alloc(struct jrn_mem *m, size_t len, int socket_id)
{
	len = jrn_align(len);
	m->len = len;
	m->p = NULL;
	if (rte_lcore_id() != LCORE_ID_ANY) {
		m->p = rte_zmalloc_socket("evg_journal", len, JRN_ALIGN,
					  socket_id);
		m->kind = MEM_RTE;
	}
	if (m->p == NULL && len >= HUGE_MIN) {
		m->p = get_hugepage_region(len, GHR_STRICT);
		m->kind = MEM_HUGE;
		if (m->p != NULL)
			memset(m->p, 0, len);
	}
	if (m->p == NULL) {
		if (posix_memalign(&m->p, JRN_ALIGN, len) != 0) {
			m->p = NULL;
			m->len = 0;
			return -ENOMEM;
		}
		memset(m->p, 0, len);
		m->kind = MEM_HEAP;
	}
	return 0;
}

void
evg_jrn_mem_free(struct jrn_mem *m)
{
	if (m->p == NULL)
		return;
	if (m->kind == MEM_RTE)
		rte_free(m->p);
	else if (m->kind == MEM_HUGE)
		free_hugepage_region(m->p);
	else
		free(m->p);
	m->p = NULL;
	m->len = 0;
}

static bool
level_fdatasync(const struct evg_journal_conf *c)
{
	return c->level == EVG_JOURNAL_SYNCED &&
	       c->sync_mode == EVG_JOURNAL_SYNC_FDATASYNC;
}

/* The failed buffer is written again, at the same place, by a poll at
 * least JRN_RETRY_NS later (a full disk must not turn the poll loop into
 * a stream of failing writes); the partition refuses appends until every
 * failed buffer has made it. */
static void
buf_fail(struct jrn_part *pt, struct jrn_buf *b, int err)
{
	pt->stats[EVG_JOURNAL_write_errors]++;
	pt->retry_at = jrn_clock_ns(CLOCK_MONOTONIC) + JRN_RETRY_NS;
	if (!b->failed) {
		b->failed = true;
		pt->nfailed++;
	}
	pt->failing = err;
	b->state = JB_FAILED;
}

static void
buf_done(struct jrn_part *pt, struct jrn_buf *b)
{
	b->state = JB_DONE;
	if (b->failed) {
		b->failed = false;
		if (--pt->nfailed == 0)
			pt->failing = 0;
	}
}

/* A new segment is created (fallocate) at a roll, so a full disk usually
 * shows here first. Like a failed write, a failed roll is tried again no
 * sooner than JRN_RETRY_NS later; until then appends get its error at no
 * cost. -ENOBUFS (the segment before is still closing) is no failure. */
static int
buf_roll(struct jrn_part *pt)
{
	uint64_t now;
	int rc;

	if (pt->roll_err < 0) {
		now = jrn_clock_ns(CLOCK_MONOTONIC);
		if (now < pt->roll_at)
			return pt->roll_err;
	}
	rc = evg_jrn_seg_roll(pt);
	if (rc < 0 && rc != -ENOBUFS) {
		pt->stats[EVG_JOURNAL_roll_errors]++;
		pt->roll_err = rc;
		pt->roll_at = jrn_clock_ns(CLOCK_MONOTONIC) + JRN_RETRY_NS;
		return rc;
	}
	if (rc == 0)
		pt->roll_err = 0;
	return rc;
}

static int
buf_open(struct jrn_part *pt)
{
	uint64_t t = pt->last_ticket + 1;
	struct jrn_buf *b = &pt->buf[t % JRN_NBUF];
	int rc;

	if (b->state != JB_FREE)
		return -ENOBUFS;
	if (pt->seg[pt->cur].pos >= pt->j->conf.segment_bytes) {
		rc = buf_roll(pt);
		if (rc < 0)
			return rc;
	}
	b->state = JB_OPEN;
	b->ticket = t;
	b->len = EVG_JOURNAL_BATCH_HDR_LEN;
	b->count = 0;
	b->first_offset = pt->next_offset;
	b->min_ts = b->max_ts = b->ingest = 0;
	b->seg = pt->cur;
	b->failed = false;
	pt->last_ticket = t;
	pt->open = (int)(t % JRN_NBUF);
	return 0;
}

static void
buf_seal(struct jrn_part *pt)
{
	struct jrn_buf *b = &pt->buf[pt->open];
	struct jrn_seg *sg = &pt->seg[b->seg];
	struct jrn_batch_hdr h = {
		.magic = EVG_JOURNAL_BATCH_MAGIC,
		.hdr_len = EVG_JOURNAL_BATCH_HDR_LEN,
		.length = b->len,
		.count = b->count,
		.first_offset = b->first_offset,
		.min_ts = b->min_ts,
		.max_ts = b->max_ts,
		.ingest_ns = b->ingest,
		.partition = pt->id,
	};

	evg_jrn_batch_hdr_encode(&h, b->p);
	evg_st32(b->p + JRN_B_CRC, evg_jrn_batch_crc(b->p, b->len));
	b->wlen = (uint32_t)jrn_align(b->len);
	memset(b->p + b->len, 0, b->wlen - b->len);
	b->pos = sg->pos;
	sg->pos += b->wlen;
	sg->max_ts = RTE_MAX(sg->max_ts, b->max_ts);
	sg->max_ingest = RTE_MAX(sg->max_ingest, b->ingest);
	evg_jrn_seg_index_add(pt, b);
	b->state = JB_SEALED;
	pt->open = -1;
	pt->stats[EVG_JOURNAL_batches]++;
	pt->ckpt.bytes_since += b->wlen;
	if (pt->ckpt.bytes_since >= JRN_CKPT_BYTES ||
	    sg->pos >= pt->j->conf.segment_bytes)
		evg_jrn_ckpt_snapshot(pt, b->ticket);
}

static void
buf_add(struct jrn_part *pt, struct jrn_buf *b, const struct evg_journal_rec *r)
{
	b->len +=
		(uint32_t)evg_jrn_rec_encode(b->p + b->len, r, pt->next_offset);
	b->count++;
	if (r->ts_ns != 0) {
		b->min_ts = b->min_ts == 0 ? r->ts_ns
					   : RTE_MIN(b->min_ts, r->ts_ns);
		b->max_ts = RTE_MAX(b->max_ts, r->ts_ns);
	}
	b->ingest = RTE_MAX(b->ingest, r->ingest_ns);
	evg_jrn_ptable_update(&pt->states, r->producer_id, r->stream_id,
			      r->session, r->seq);
	pt->next_offset++;
}

/* Bytes the n records take, or -EMSGSIZE. */
static int64_t
recs_len(const struct evg_journal_rec *recs, unsigned int n, uint32_t cap)
{
	uint64_t need = 0;

	for (unsigned int i = 0; i < n; i++) {
		uint64_t len =
			evg_jrn_rec_len(recs[i].key_size, recs[i].value_size);

		if (len == 0)
			return -EMSGSIZE;
		need += len;
		if (need > cap - EVG_JOURNAL_BATCH_HDR_LEN)
			return -EMSGSIZE;
	}
	return (int64_t)need;
}

int64_t
evg_journal_append(struct evg_journal *j, uint32_t p,
		   const struct evg_journal_rec *recs, unsigned int n,
		   uint64_t *first_offset)
{
	struct jrn_part *pt;
	struct jrn_buf *b;
	int64_t need;
	int rc;

	if (j == NULL || p >= j->conf.partitions || recs == NULL || n == 0)
		return -EINVAL;
	pt = &j->parts[p];
	if (pt->failing < 0) {
		pt->stats[EVG_JOURNAL_busy]++;
		return pt->failing;
	}
	need = recs_len(recs, n, j->bufcap);
	if (need < 0)
		return need;
	if (evg_jrn_ptable_reserve(&pt->states, n) < 0)
		return -ENOMEM;
	if (pt->open >= 0 && pt->buf[pt->open].len + need > j->bufcap)
		evg_journal_flush(j, p);
	if (pt->open < 0) {
		rc = buf_open(pt);
		if (rc < 0) {
			pt->stats[EVG_JOURNAL_busy]++;
			return rc;
		}
	}
	b = &pt->buf[pt->open];
	if (first_offset != NULL)
		*first_offset = pt->next_offset;
	for (unsigned int i = 0; i < n; i++)
		buf_add(pt, b, &recs[i]);
	pt->stats[EVG_JOURNAL_records] += n;
	return (int64_t)b->ticket;
}

/* In ticket order; a buffer of a newer segment waits for every earlier
 * ticket to be durable. */
static void
queue_writes(struct jrn_part *pt)
{
	const struct evg_journal_conf *c = &pt->j->conf;
	bool dsync = c->level == EVG_JOURNAL_SYNCED &&
		     c->sync_mode == EVG_JOURNAL_SYNC_DSYNC;
	uint64_t base0 = 0;

	for (uint64_t t = pt->durable + 1; t <= pt->last_ticket; t++) {
		struct jrn_buf *b = &pt->buf[t % JRN_NBUF];
		struct jrn_seg *sg = &pt->seg[b->seg];
		int rc;

		if (t == pt->durable + 1)
			base0 = sg->base;
		if (b->state == JB_OPEN || sg->base != base0)
			break;
		if (b->state != JB_SEALED)
			continue;
		rc = c->store->write(pt->st, sg->fid, b->p, b->wlen, b->pos,
				     dsync, JRN_TAG(JRN_TAG_WRITE, t));
		if (rc == -EBUSY)
			break;
		if (rc < 0) {
			buf_fail(pt, b, rc);
			continue;
		}
		b->state = JB_WRITING;
		sg->ops++;
		pt->stats[EVG_JOURNAL_writes]++;
		pt->stats[EVG_JOURNAL_bytes] += b->wlen;
	}
}

/* One fdatasync in flight at a time, covering every write completed
 * before it was queued (all of one segment, by the rule above). */
static void
queue_sync(struct jrn_part *pt)
{
	const struct evg_journal_conf *c = &pt->j->conf;
	unsigned int n = 0;
	uint8_t s = 0;
	int rc;

	if (!level_fdatasync(c) || pt->syncing)
		return;
	for (unsigned int i = 0; i < JRN_NBUF; i++)
		if (pt->buf[i].state == JB_WRITTEN) {
			s = pt->buf[i].seg;
			n++;
		}
	if (n == 0)
		return;
	rc = c->store->sync(pt->st, pt->seg[s].fid, JRN_TAG(JRN_TAG_SYNC, 0));
	if (rc == -EBUSY)
		return;
	for (unsigned int i = 0; i < JRN_NBUF; i++) {
		struct jrn_buf *b = &pt->buf[i];

		if (b->state != JB_WRITTEN)
			continue;
		if (rc < 0)
			buf_fail(pt, b, rc);
		else
			b->state = JB_SYNCING;
	}
	if (rc < 0)
		return;
	pt->syncing = true;
	pt->sync_seg = s;
	pt->seg[s].ops++;
	pt->stats[EVG_JOURNAL_syncs]++;
}

static void
complete_write(struct jrn_part *pt, uint64_t t, int32_t res)
{
	struct jrn_buf *b = &pt->buf[t % JRN_NBUF];

	if (b->ticket != t || b->state != JB_WRITING)
		return;
	pt->seg[b->seg].ops--;
	if (res != (int32_t)b->wlen)
		buf_fail(pt, b, res < 0 ? res : -EIO);
	else if (level_fdatasync(&pt->j->conf))
		b->state = JB_WRITTEN;
	else
		buf_done(pt, b);
}

/* A failed fdatasync leaves the page cache's state unknown: write the
 * data it covered again, then sync again. */
static void
complete_sync(struct jrn_part *pt, int32_t res)
{
	pt->syncing = false;
	pt->seg[pt->sync_seg].ops--;
	for (unsigned int i = 0; i < JRN_NBUF; i++) {
		struct jrn_buf *b = &pt->buf[i];

		if (b->state != JB_SYNCING)
			continue;
		if (res < 0)
			buf_fail(pt, b, res);
		else
			buf_done(pt, b);
	}
}

static void
advance_durable(struct jrn_part *pt)
{
	while (pt->durable < pt->last_ticket) {
		struct jrn_buf *b = &pt->buf[(pt->durable + 1) % JRN_NBUF];

		if (b->state != JB_DONE)
			break;
		pt->durable++;
		pt->seg[b->seg].durable_n = b->idx_n;
		__atomic_store_n(&pt->durable_end, b->first_offset + b->count,
				 __ATOMIC_RELEASE);
		b->state = JB_FREE;
	}
}

static unsigned int
reap(struct jrn_part *pt)
{
	struct evg_store_cqe cqe[REAP_BURST];
	int n = pt->j->conf.store->reap(pt->st, cqe, REAP_BURST);

	for (int i = 0; i < n; i++) {
		uint64_t v = JRN_TAG_VAL(cqe[i].tag);

		switch (JRN_TAG_KIND(cqe[i].tag)) {
		case JRN_TAG_WRITE:
			complete_write(pt, v, cqe[i].res);
			break;
		case JRN_TAG_SYNC:
			complete_sync(pt, cqe[i].res);
			break;
		case JRN_TAG_AUX:
			if (v < JRN_NAUX)
				evg_jrn_aux_complete(pt, (unsigned int)v,
						     cqe[i].res);
			break;
		}
	}
	advance_durable(pt);
	return n > 0 ? (unsigned int)n : 0;
}

int
evg_journal_flush(struct evg_journal *j, uint32_t p)
{
	struct jrn_part *pt;

	if (j == NULL || p >= j->conf.partitions)
		return -EINVAL;
	pt = &j->parts[p];
	if (pt->open < 0)
		return 0;
	buf_seal(pt);
	queue_writes(pt);
	return 0;
}

uint64_t
evg_journal_durable_end(const struct evg_journal *j, uint32_t p)
{
	if (j == NULL || p >= j->conf.partitions)
		return UINT64_MAX;
	return __atomic_load_n(&j->parts[p].durable_end, __ATOMIC_ACQUIRE);
}

int
evg_journal_poll(struct evg_journal *j, uint32_t p, uint64_t *durable)
{
	struct jrn_part *pt;
	unsigned int handled = 0;

	if (j == NULL || p >= j->conf.partitions)
		return -EINVAL;
	pt = &j->parts[p];
	if (pt->nfailed > 0 && jrn_clock_ns(CLOCK_MONOTONIC) >= pt->retry_at)
		for (unsigned int i = 0; i < JRN_NBUF; i++)
			if (pt->buf[i].state == JB_FAILED)
				pt->buf[i].state = JB_SEALED;
	for (unsigned int round = 0; round < POLL_ROUNDS; round++) {
		unsigned int n = reap(pt);
		int queued;

		handled += n;
		queue_writes(pt);
		queue_sync(pt);
		evg_jrn_seg_index_flush(pt, pt->cur, false);
		evg_jrn_seg_reap_old(pt);
		evg_jrn_ckpt_poll(pt);
		evg_jrn_aux_queue(pt);
		queued = j->conf.store->submit(pt->st);
		if (n == 0 && queued <= 0)
			break;
	}
	evg_jrn_retention(pt, false);
	if (durable != NULL)
		*durable = pt->durable;
	return (int)handled;
}

/* Everything sealed is durable, the previous segment is closed, and no
 * index or checkpoint write is in flight. */
static bool
part_idle(const struct jrn_part *pt)
{
	if (pt->durable != pt->last_ticket || pt->ckpt.state != CK_IDLE ||
	    pt->seg[1 - pt->cur].live)
		return false;
	for (unsigned int i = 0; i < JRN_NAUX; i++)
		if (pt->aux[i].what != JA_FREE)
			return false;
	return true;
}

int
evg_jrn_part_drain(struct jrn_part *pt)
{
	const struct timespec pause = {.tv_nsec = 100000};
	unsigned int failing = 0;

	evg_journal_flush(pt->j, pt->id);
	for (unsigned int i = 0; i < DRAIN_MAX_POLLS; i++) {
		int n = evg_journal_poll(pt->j, pt->id, NULL);

		if (n == 0 && part_idle(pt))
			return 0;
		failing = pt->failing < 0 ? failing + 1 : 0;
		if (failing > DRAIN_FAIL_POLLS)
			return pt->failing;
		if (n == 0 || failing > 0)
			nanosleep(&pause, NULL);
	}
	return -ETIMEDOUT;
}

int
evg_journal_failing(const struct evg_journal *j, uint32_t p)
{
	const struct jrn_part *pt;

	if (j == NULL || p >= j->conf.partitions)
		return -EINVAL;
	pt = &j->parts[p];
	return pt->failing < 0 ? pt->failing : pt->roll_err;
}

void
evg_journal_stats(const struct evg_journal *j, uint32_t p, uint64_t *values)
{
	if (j == NULL || p >= j->conf.partitions || values == NULL)
		return;
	memcpy(values, j->parts[p].stats, sizeof(j->parts[p].stats));
}
