/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The writer's segments: files, index entries and index writes, rolling,
 * retention, and the "aux" operations (index and checkpoint writes) that
 * run beside the data writes without gating durability.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "journal_priv.h"

#define WAIT_TAG JRN_TAG(JRN_TAG_AUX, JRN_NAUX)
#define WAIT_MAX_NS (30ull * 1000000000ull) /* a store that never answers */

static int
open_file(struct jrn_part *pt, uint64_t base, const char *ext,
	  uint64_t prealloc)
{
	char name[64];

	evg_jrn_file_name(name, sizeof(name), pt->id, base, ext);
	return pt->j->conf.store->open(pt->st, name, true, prealloc);
}

int
evg_jrn_seg_open(struct jrn_part *pt, uint8_t s, uint64_t base)
{
	const struct evg_store_ops *ops = pt->j->conf.store;
	struct jrn_seg *sg = &pt->seg[s];
	int fid, idx, tix;

	fid = open_file(pt, base, ".seg", pt->j->conf.segment_bytes);
	if (fid < 0)
		return fid;
	idx = open_file(pt, base, ".idx", 0);
	tix = idx < 0 ? idx : open_file(pt, base, ".tix", 0);
	if (idx < 0 || tix < 0) {
		ops->close(pt->st, fid);
		if (idx >= 0)
			ops->close(pt->st, idx);
		return idx < 0 ? idx : tix;
	}
	memset(sg->idx.p, 0, jrn_align((uint64_t)sg->n * JRN_IDX_ENTRY));
	memset(sg->tix.p, 0, jrn_align((uint64_t)sg->n * JRN_IDX_ENTRY));
	sg->base = base;
	sg->pos = 0;
	sg->next_idx = 0;
	sg->max_ts = 0;
	sg->max_ingest = 0;
	sg->ops = 0;
	sg->n = sg->durable_n = sg->blocks = 0;
	sg->fid = fid;
	sg->idx_fid = idx;
	sg->tix_fid = tix;
	sg->live = true;
	return 0;
}

void
evg_jrn_seg_release(struct jrn_part *pt, uint8_t s)
{
	const struct evg_store_ops *ops = pt->j->conf.store;
	struct jrn_seg *sg = &pt->seg[s];

	if (!sg->live)
		return;
	ops->close(pt->st, sg->fid);
	ops->close(pt->st, sg->idx_fid);
	ops->close(pt->st, sg->tix_fid);
	sg->live = false;
}

void
evg_jrn_seg_index_add(struct jrn_part *pt, struct jrn_buf *b)
{
	struct jrn_seg *sg = &pt->seg[b->seg];
	uint64_t at = (uint64_t)sg->n * JRN_IDX_ENTRY;

	if (b->pos >= sg->next_idx && sg->n < sg->cap) {
		jrn_ient_put((uint8_t *)sg->idx.p + at, b->first_offset,
			     b->pos);
		jrn_ient_put((uint8_t *)sg->tix.p + at, sg->max_ts,
			     b->first_offset);
		sg->n++;
		sg->next_idx = b->pos + pt->j->conf.index_interval;
	}
	b->idx_n = sg->n;
}

/* A block of entries is written once all of them are durable; a final
 * segment also gets its partial last block. Blocks never change after
 * they are queued, so the store may read them at any time. */
void
evg_jrn_seg_index_flush(struct jrn_part *pt, uint8_t s, bool all)
{
	struct jrn_seg *sg = &pt->seg[s];
	uint32_t want =
		all ? (sg->n + JRN_IDX_PER_BLOCK - 1) / JRN_IDX_PER_BLOCK
		    : sg->durable_n / JRN_IDX_PER_BLOCK;
	unsigned int free_aux = 0;

	for (unsigned int i = 0; i < JRN_NAUX; i++)
		free_aux += pt->aux[i].what == JA_FREE;
	while (sg->blocks < want && free_aux >= 2) {
		uint64_t off = (uint64_t)sg->blocks * JRN_ALIGN;

		evg_jrn_aux_add(pt, JA_IDX, s, sg->idx_fid,
				(uint8_t *)sg->idx.p + off, JRN_ALIGN, off,
				false);
		evg_jrn_aux_add(pt, JA_IDX, s, sg->tix_fid,
				(uint8_t *)sg->tix.p + off, JRN_ALIGN, off,
				false);
		sg->blocks++;
		free_aux -= 2;
	}
}

static bool
seg_has_buffers(const struct jrn_part *pt, uint8_t s)
{
	for (unsigned int i = 0; i < JRN_NBUF; i++)
		if (pt->buf[i].state != JB_FREE && pt->buf[i].seg == s)
			return true;
	return false;
}

void
evg_jrn_seg_reap_old(struct jrn_part *pt)
{
	uint8_t s = (uint8_t)(1 - pt->cur);
	struct jrn_seg *sg = &pt->seg[s];

	if (!sg->live || seg_has_buffers(pt, s))
		return;
	evg_jrn_seg_index_flush(pt, s, true);
	if (sg->ops == 0 && sg->blocks * JRN_IDX_PER_BLOCK >= sg->n)
		evg_jrn_seg_release(pt, s);
}

int
evg_jrn_seginfo_push(struct jrn_part *pt, uint64_t base, uint64_t bytes,
		     uint64_t max_ingest)
{
	struct jrn_seginfo *si;

	if (pt->nsegs == pt->segs_cap) {
		uint32_t cap = pt->segs_cap ? pt->segs_cap * 2 : 16;

		si = realloc(pt->segs, cap * sizeof(*si));
		if (si == NULL)
			return -ENOMEM;
		pt->segs = si;
		pt->segs_cap = cap;
	}
	si = &pt->segs[pt->nsegs++];
	si->base = base;
	si->bytes = bytes;
	si->max_ingest = max_ingest;
	return 0;
}

int
evg_jrn_seg_roll(struct jrn_part *pt)
{
	uint8_t old = pt->cur, s = (uint8_t)(1 - pt->cur);
	int rc;

	if (pt->seg[s].live)
		return -ENOBUFS; /* the one before is still closing */
	pt->segs[pt->nsegs - 1].bytes = pt->seg[old].pos;
	pt->segs[pt->nsegs - 1].max_ingest = pt->seg[old].max_ingest;
	rc = evg_jrn_seginfo_push(pt, pt->next_offset, 0, 0);
	if (rc < 0)
		return rc;
	rc = evg_jrn_seg_open(pt, s, pt->next_offset);
	if (rc < 0) {
		pt->nsegs--;
		return rc;
	}
	/* The new name must outlive a crash before its data is synced. */
	pt->j->conf.store->sync_now(pt->st, pt->dirfid);
	pt->cur = s;
	pt->stats[EVG_JOURNAL_rolls]++;
	evg_jrn_retention(pt, true);
	return 0;
}

static int
remove_segment(struct jrn_part *pt, uint64_t base)
{
	static const char *const ext[] = {".seg", ".idx", ".tix"};
	char name[64];
	int rc;

	for (unsigned int i = 0; i < 3; i++) {
		evg_jrn_file_name(name, sizeof(name), pt->id, base, ext[i]);
		rc = pt->j->conf.store->remove(pt->st, name);
		if (rc < 0 && rc != -ENOENT && i == 0)
			return rc;
	}
	return 0;
}

static bool
retention_due(const struct jrn_part *pt, const struct jrn_seginfo *si,
	      uint64_t total, uint64_t now)
{
	const struct evg_journal_conf *c = &pt->j->conf;

	if (c->retention_bytes > 0 && total > c->retention_bytes)
		return true;
	return c->retention_ms > 0 && si->max_ingest != 0 &&
	       now > si->max_ingest &&
	       now - si->max_ingest > c->retention_ms * 1000000ull;
}

/* Whole segments, oldest first, never the active one nor the previous
 * one while it is still being closed; at most JRN_RETENTION_MAX a call. */
void
evg_jrn_retention(struct jrn_part *pt, bool force)
{
	const struct evg_journal_conf *c = &pt->j->conf;
	const struct jrn_seg *old = &pt->seg[1 - pt->cur];
	uint64_t total = 0, now;

	if (c->retention_bytes == 0 && c->retention_ms == 0)
		return;
	if (!force) {
		now = jrn_clock_ns(CLOCK_MONOTONIC);
		if (now < pt->retention_next)
			return;
		pt->retention_next = now + JRN_RETENTION_PERIOD_NS;
	}
	now = jrn_clock_ns(CLOCK_REALTIME);
	pt->segs[pt->nsegs - 1].bytes = pt->seg[pt->cur].pos;
	for (uint32_t i = 0; i < pt->nsegs; i++)
		total += pt->segs[i].bytes;
	for (unsigned int k = 0; k < JRN_RETENTION_MAX && pt->nsegs > 1; k++) {
		struct jrn_seginfo *si = &pt->segs[0];

		if ((old->live && old->base == si->base) ||
		    !retention_due(pt, si, total, now) ||
		    remove_segment(pt, si->base) < 0)
			break;
		total -= si->bytes;
		memmove(si, si + 1, (pt->nsegs - 1) * sizeof(*si));
		pt->nsegs--;
		pt->stats[EVG_JOURNAL_retention_removed]++;
	}
}

int
evg_jrn_aux_add(struct jrn_part *pt, enum jrn_aux_what what, uint8_t s, int fid,
		const void *buf, uint32_t len, uint64_t off, bool sync)
{
	for (unsigned int i = 0; i < JRN_NAUX; i++) {
		struct jrn_aux *a = &pt->aux[i];

		if (a->what != JA_FREE)
			continue;
		*a = (struct jrn_aux){.what = what,
				      .sync = sync,
				      .seg = s,
				      .fid = fid,
				      .buf = buf,
				      .len = len,
				      .off = off};
		if (what == JA_IDX)
			pt->seg[s].ops++;
		return 0;
	}
	return -ENOBUFS;
}

/* In slot order, stopping at the first refusal, so that a checkpoint's
 * sync is never queued before its write. */
void
evg_jrn_aux_queue(struct jrn_part *pt)
{
	const struct evg_store_ops *ops = pt->j->conf.store;

	for (unsigned int i = 0; i < JRN_NAUX; i++) {
		struct jrn_aux *a = &pt->aux[i];
		uint64_t tag = JRN_TAG(JRN_TAG_AUX, i);
		int rc;

		if (a->what == JA_FREE || a->queued)
			continue;
		if (a->sync)
			rc = ops->sync(pt->st, a->fid, tag);
		else
			rc = ops->write(pt->st, a->fid, a->buf, a->len, a->off,
					false, tag);
		if (rc == -EBUSY)
			break;
		a->queued = true;
		if (rc < 0)
			evg_jrn_aux_complete(pt, i, rc);
	}
}

void
evg_jrn_aux_complete(struct jrn_part *pt, unsigned int i, int32_t res)
{
	struct jrn_aux *a = &pt->aux[i];
	bool ok = a->sync ? res == 0 : res == (int32_t)a->len;

	if (!ok)
		pt->stats[EVG_JOURNAL_write_errors]++;
	if (a->what == JA_IDX)
		pt->seg[a->seg].ops--;
	else if (a->what == JA_CKPT)
		evg_jrn_ckpt_done(pt, ok ? 0 : -EIO);
	a->what = JA_FREE;
}

int
evg_jrn_write_wait(struct evg_store *st, const struct evg_store_ops *ops,
		   int fid, const void *buf, uint32_t len, uint64_t off)
{
	const struct timespec pause = {.tv_nsec = 20000};
	uint64_t give_up = jrn_clock_ns(CLOCK_MONOTONIC) + WAIT_MAX_NS;
	struct evg_store_cqe cqe;
	int rc;

	rc = ops->write(st, fid, buf, len, off, false, WAIT_TAG);
	if (rc < 0)
		return rc;
	ops->submit(st);
	for (;;) {
		rc = ops->reap(st, &cqe, 1);
		if (rc < 0)
			return rc;
		if (rc == 1 && cqe.tag == WAIT_TAG)
			break;
		if (jrn_clock_ns(CLOCK_MONOTONIC) > give_up)
			return -ETIMEDOUT;
		nanosleep(&pause, NULL);
	}
	if (cqe.res < 0)
		return cqe.res;
	return cqe.res == (int32_t)len ? 0 : -EIO;
}
