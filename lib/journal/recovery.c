/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Recovery of one partition at open (docs/storage.md, "Recovery"):
 * drop trailing segments that never got a batch, check every segment
 * from its last index entry to its end (extending or rebuilding the
 * index), cut the torn tail of the last one, then rebuild producer states
 * from the checkpoint and the records after it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "journal_priv.h"

struct rctx {
	struct jrn_part *pt;
	struct jrn_fs fs;
	struct jrn_scanbuf sb;
	struct evg_journal_recovery *rep;
	char *err;
	size_t errlen;
	bool torn;
};

/* What checking one segment found; the entries are its index. */
struct segrec {
	uint64_t base;
	uint64_t end_pos;  /* where the next batch goes */
	uint64_t data_end; /* the end of the last valid batch */
	uint64_t end_offset;
	uint64_t next_idx;
	uint64_t max_ts;
	uint64_t max_ingest;
	uint32_t n;
	uint32_t cap;
	uint32_t loaded; /* entries found on disk and kept */
	bool dirty;	 /* the files differ from the entries */
	struct jrn_mem idx, tix;
};

static int __attribute__((format(printf, 3, 4)))
fail(struct rctx *x, int rc, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(x->err, x->errlen, "%s/", x->pt->j->dir);
	if (n >= 0 && (size_t)n < x->errlen) {
		va_start(ap, fmt);
		vsnprintf(x->err + n, x->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static void
segrec_free(struct segrec *sr)
{
	evg_jrn_mem_free(&sr->idx);
	evg_jrn_mem_free(&sr->tix);
}

static void
segrec_add(struct segrec *sr, uint64_t off, uint64_t pos)
{
	uint64_t at = (uint64_t)sr->n * JRN_IDX_ENTRY;

	jrn_ient_put((uint8_t *)sr->idx.p + at, off, pos);
	jrn_ient_put((uint8_t *)sr->tix.p + at, sr->max_ts, off);
	sr->n++;
}

/* Keep the entries .idx and .tix agree on and that point into the file;
 * the walk starts at the last of them. */
static int
load_index(struct rctx *x, struct segrec *sr, uint64_t size)
{
	const struct evg_journal_conf *c = &x->pt->j->conf;
	struct jrn_ilist idx, tix;
	uint32_t k = 0;
	int rc;

	rc = evg_jrn_ilist_load(&x->fs, x->pt->id, sr->base, false, &idx);
	if (rc == 0)
		rc = evg_jrn_ilist_load(&x->fs, x->pt->id, sr->base, true,
					&tix);
	if (rc < 0) {
		evg_jrn_ilist_free(&idx);
		return rc;
	}
	while (k < idx.n && k < tix.n && idx.a[k] == tix.b[k] &&
	       idx.b[k] < size)
		k++;
	sr->cap = k + (uint32_t)(size / JRN_ALIGN) + 2;
	rc = evg_jrn_mem_alloc(&sr->idx, (uint64_t)sr->cap * JRN_IDX_ENTRY,
			       c->socket_id);
	if (rc == 0)
		rc = evg_jrn_mem_alloc(&sr->tix,
				       (uint64_t)sr->cap * JRN_IDX_ENTRY,
				       c->socket_id);
	for (uint32_t i = 0; rc == 0 && i < k; i++) {
		sr->max_ts = tix.a[i];
		segrec_add(sr, idx.a[i], idx.b[i]);
	}
	sr->loaded = k;
	sr->dirty = idx.n != k || tix.n != k;
	evg_jrn_ilist_free(&idx);
	evg_jrn_ilist_free(&tix);
	return rc;
}

static int
write_index_file(struct rctx *x, const struct segrec *sr, bool tix)
{
	const struct evg_store_ops *ops = x->pt->j->conf.store;
	uint64_t len = jrn_align((uint64_t)sr->n * JRN_IDX_ENTRY);
	char name[64];
	int fid, rc = 0;

	evg_jrn_file_name(name, sizeof(name), x->pt->id, sr->base,
			  tix ? ".tix" : ".idx");
	fid = ops->open(x->pt->st, name, true, 0);
	if (fid < 0)
		return fid;
	if (len > 0)
		rc = evg_jrn_write_wait(x->pt->st, ops, fid,
					tix ? sr->tix.p : sr->idx.p,
					(uint32_t)len, 0);
	if (rc == 0)
		rc = ops->truncate(x->pt->st, fid, len);
	ops->close(x->pt->st, fid);
	return rc;
}

/* Walk from the last index entry to the end; true when it ended cleanly
 * (only zero padding, if anything, after the last batch). */
/* Drop the last index entry of sr. */
static void
segrec_pop(struct segrec *sr)
{
	sr->n--;
	memset((uint8_t *)sr->idx.p + (uint64_t)sr->n * JRN_IDX_ENTRY, 0,
	       JRN_IDX_ENTRY);
	memset((uint8_t *)sr->tix.p + (uint64_t)sr->n * JRN_IDX_ENTRY, 0,
	       JRN_IDX_ENTRY);
}

/* Walk the batches from the last index entry (or the start) to the end;
 * *found: the entry's batch, where it started, is valid. */
static int
walk_from_last(struct rctx *x, struct segrec *sr, struct jrn_cursor *cur,
	       bool *found)
{
	const struct evg_journal_conf *c = &x->pt->j->conf;
	int rc;

	cur->pos = 0;
	cur->next_offset = sr->base;
	sr->next_idx = 0;
	sr->max_ts = 0;
	if (sr->n > 0) {
		uint8_t *e = (uint8_t *)sr->idx.p +
			     (uint64_t)(sr->n - 1) * JRN_IDX_ENTRY;

		cur->next_offset = evg_ld64(e);
		cur->pos = evg_ld64(e + 8);
		sr->next_idx = cur->pos + c->index_interval;
		sr->max_ts = evg_ld64((uint8_t *)sr->tix.p +
				      (uint64_t)(sr->n - 1) * JRN_IDX_ENTRY);
	}
	sr->end_pos = sr->data_end = cur->pos;
	*found = false;
	while ((rc = evg_jrn_cursor_next(cur)) == JRN_SCAN_BATCH) {
		uint64_t at = cur->pos - cur->h.length;

		*found = true;
		x->rep->batches++;
		sr->max_ts = RTE_MAX(sr->max_ts, cur->h.max_ts);
		sr->max_ingest = RTE_MAX(sr->max_ingest, cur->h.ingest_ns);
		if (at >= sr->next_idx && sr->n < sr->cap) {
			segrec_add(sr, cur->h.first_offset, at);
			sr->next_idx = at + c->index_interval;
		}
		sr->end_pos = jrn_align(cur->pos);
		sr->data_end = cur->pos;
	}
	return rc;
}

/*
 * Walk a segment from its last index entry. An entry whose batch is not
 * valid vouches for nothing before it either: drop it and walk again from
 * the one before (found by fuzz_journal: the offsets of a removed entry
 * were taken as the segment's end, so records appended after recovery were
 * lost at the next open).
 */
static int
walk(struct rctx *x, struct segrec *sr, struct jrn_file *f, uint64_t size,
     bool *clean)
{
	struct jrn_cursor cur = {
		.f = f, .sb = &x->sb, .size = size, .partition = x->pt->id};
	bool found;
	int rc;

	for (;;) {
		rc = walk_from_last(x, sr, &cur, &found);
		if (rc < 0)
			return rc;
		if (found || sr->n == 0)
			break;
		segrec_pop(sr);
	}
	/* An entry at or past the end names a batch that is not there. */
	while (sr->n > 0 && evg_ld64((uint8_t *)sr->idx.p +
				     (uint64_t)(sr->n - 1) * JRN_IDX_ENTRY +
				     8) >= sr->end_pos)
		segrec_pop(sr);
	sr->dirty = sr->dirty || sr->n != sr->loaded;
	sr->end_offset = cur.next_offset;
	*clean = rc == JRN_SCAN_END && cur.stop >= size;
	return 0;
}

static const char *
segname(const struct rctx *x, uint64_t base, char *buf, size_t len)
{
	evg_jrn_file_name(buf, len, x->pt->id, base, ".seg");
	return buf;
}

/* Whether bytes [from, to) of f, within one block, are all zero (an
 * error reads as not). */
static bool
zeros(struct jrn_file *f, uint64_t from, uint64_t to)
{
	uint8_t buf[JRN_ALIGN];
	int64_t n;

	if (to <= from)
		return true;
	if (to - from > sizeof(buf))
		return false;
	n = evg_jrn_file_read(f, buf, to - from, from);
	if (n != (int64_t)(to - from))
		return false;
	for (int64_t i = 0; i < n; i++)
		if (buf[i] != 0)
			return false;
	return true;
}

/* Check one segment; the last one may lose a torn tail. */
static int
check_segment(struct rctx *x, struct segrec *sr, bool last)
{
	const struct evg_store_ops *ops = x->pt->j->conf.store;
	struct jrn_file f;
	char name[64];
	int64_t size;
	bool clean = false;
	int rc;

	segname(x, sr->base, name, sizeof(name));
	rc = evg_jrn_file_open(&x->fs, name, &f);
	if (rc < 0)
		return fail(x, rc, "%s: cannot open: %s", name, strerror(-rc));
	size = evg_jrn_file_size(&f);
	rc = size < 0 ? (int)size : load_index(x, sr, (uint64_t)size);
	if (rc == 0)
		rc = walk(x, sr, &f, (uint64_t)size, &clean);
	if (rc == 0 && !clean && !last)
		rc = fail(x, -EBADMSG,
			  "%s: corrupt or incomplete batch at byte %" PRIu64
			  " of a segment that is not the last; the log is "
			  "damaged beyond its tail",
			  name, sr->end_pos);
	/*
	 * The writer goes on at end_pos, the block after the last valid
	 * batch. Junk left in that batch's own block, after its end, would
	 * read as a bad batch at the next open, which would then cut
	 * everything written after it (found by fuzz_journal: a record
	 * appended and closed was lost). So when that stretch is not all
	 * zeros the tail goes from the end of the batch.
	 */
	if (rc == 0 && last) {
		uint64_t cut = sr->end_pos;

		if (!clean && (uint64_t)size > sr->data_end &&
		    !zeros(&f, sr->data_end,
			   RTE_MIN((uint64_t)size, sr->end_pos)))
			cut = sr->data_end;
		if ((uint64_t)size > cut) {
			rc = ops->truncate(x->pt->st, f.h, cut);
			x->rep->torn_bytes += (uint64_t)size - cut;
			x->torn = true;
		}
	}
	evg_jrn_file_close(&f);
	if (rc == 0 && sr->dirty) {
		x->rep->indexes_rebuilt++;
		rc = write_index_file(x, sr, false);
		if (rc == 0)
			rc = write_index_file(x, sr, true);
	}
	return rc;
}

/* A trailing segment whose first batch is not valid was created by a
 * roll whose writes never landed: remove it. */
static int
drop_empty_tail(struct rctx *x, struct jrn_seglist *sl)
{
	static const char *const ext[] = {".seg", ".idx", ".tix"};
	const struct evg_store_ops *ops = x->pt->j->conf.store;
	char name[64];

	while (sl->n > 1) {
		uint64_t base = sl->base[sl->n - 1];
		struct jrn_file f;
		struct jrn_cursor cur = {.f = &f,
					 .sb = &x->sb,
					 .next_offset = base,
					 .partition = x->pt->id};
		int64_t size;
		int rc = evg_jrn_file_open(
			&x->fs, segname(x, base, name, sizeof(name)), &f);

		if (rc < 0)
			return rc;
		size = evg_jrn_file_size(&f);
		cur.size = size < 0 ? 0 : (uint64_t)size;
		rc = size < 0 ? (int)size : evg_jrn_cursor_next(&cur);
		evg_jrn_file_close(&f);
		if (rc < 0)
			return rc;
		if (rc == JRN_SCAN_BATCH)
			break;
		for (unsigned int i = 0; i < 3; i++) {
			evg_jrn_file_name(name, sizeof(name), x->pt->id, base,
					  ext[i]);
			ops->remove(x->pt->st, name);
		}
		x->rep->torn_bytes += (uint64_t)size;
		x->torn = x->torn || size > 0;
		sl->n--;
	}
	return 0;
}

/* Make the last segment the writer's active one. */
static int
take_active(struct rctx *x, struct segrec *sr)
{
	struct jrn_part *pt = x->pt;
	struct jrn_seg *sg = &pt->seg[pt->cur];
	int rc;

	if (sr->n > sg->cap) {
		uint32_t cap = sr->n + sg->cap;

		evg_jrn_mem_free(&sg->idx);
		evg_jrn_mem_free(&sg->tix);
		rc = evg_jrn_mem_alloc(&sg->idx, (uint64_t)cap * JRN_IDX_ENTRY,
				       pt->j->conf.socket_id);
		if (rc == 0)
			rc = evg_jrn_mem_alloc(&sg->tix,
					       (uint64_t)cap * JRN_IDX_ENTRY,
					       pt->j->conf.socket_id);
		if (rc < 0)
			return rc;
		sg->cap = cap;
	}
	rc = evg_jrn_seg_open(pt, pt->cur, sr->base);
	if (rc < 0)
		return rc;
	memcpy(sg->idx.p, sr->idx.p, (size_t)sr->n * JRN_IDX_ENTRY);
	memcpy(sg->tix.p, sr->tix.p, (size_t)sr->n * JRN_IDX_ENTRY);
	sg->n = sg->durable_n = sr->n;
	sg->blocks = sr->n / JRN_IDX_PER_BLOCK;
	sg->pos = sr->end_pos;
	sg->next_idx = sr->n > 0 ? sr->next_idx : 0;
	sg->max_ts = sr->max_ts;
	sg->max_ingest = sr->max_ingest;
	pt->next_offset = sr->end_offset;
	__atomic_store_n(&pt->durable_end, pt->next_offset, __ATOMIC_RELEASE);
	return 0;
}

static int
check_segments(struct rctx *x, const struct jrn_seglist *sl)
{
	char name[64];
	uint64_t end = 0;
	int rc = 0;

	for (uint32_t i = 0; rc == 0 && i < sl->n; i++) {
		struct segrec sr = {.base = sl->base[i]};
		bool last = i + 1 == sl->n;

		if (i > 0 && sr.base != end)
			rc = fail(x, -EBADMSG,
				  "%s starts at offset %" PRIu64
				  " but the segment before ends at %" PRIu64,
				  segname(x, sr.base, name, sizeof(name)),
				  sr.base, end);
		if (rc == 0)
			rc = check_segment(x, &sr, last);
		if (rc == 0)
			rc = evg_jrn_seginfo_push(x->pt, sr.base, sr.end_pos,
						  sr.max_ingest);
		if (rc == 0 && last)
			rc = take_active(x, &sr);
		end = sr.end_offset;
		x->rep->segments++;
		segrec_free(&sr);
	}
	return rc;
}

/* Fold the records at offsets >= from into the producer states. */
static int
scan_states(struct rctx *x, const struct jrn_seglist *sl, uint64_t from)
{
	struct jrn_ptable *pt = &x->pt->states;
	char name[64];
	int rc = 0;

	for (uint32_t i = 0; rc == 0 && i < sl->n; i++) {
		struct jrn_cursor cur = {.sb = &x->sb,
					 .partition = x->pt->id,
					 .next_offset = sl->base[i]};
		struct jrn_ilist il;
		struct jrn_file f;
		int64_t size;
		int n = 0;

		if (i + 1 < sl->n && sl->base[i + 1] <= from)
			continue;
		rc = evg_jrn_ilist_load(&x->fs, x->pt->id, sl->base[i], false,
					&il);
		for (uint32_t k = 0; rc == 0 && k < il.n && il.a[k] <= from;
		     k++) {
			cur.next_offset = il.a[k];
			cur.pos = il.b[k];
		}
		evg_jrn_ilist_free(&il);
		if (rc == 0)
			rc = evg_jrn_file_open(
				&x->fs,
				segname(x, sl->base[i], name, sizeof(name)),
				&f);
		if (rc < 0)
			break;
		cur.f = &f;
		size = evg_jrn_file_size(&f);
		cur.size = size < 0 ? 0 : (uint64_t)size;
		while (rc == 0 &&
		       (n = evg_jrn_cursor_next(&cur)) == JRN_SCAN_BATCH) {
			const uint8_t *p = x->sb.p + EVG_JOURNAL_BATCH_HDR_LEN;
			struct evg_journal_rec r;
			uint64_t off;

			x->rep->batches++;
			rc = evg_jrn_ptable_reserve(pt, cur.h.count);
			for (uint32_t k = 0; rc == 0 && k < cur.h.count; k++) {
				p += evg_jrn_rec_decode(p, UINT32_MAX, &r,
							&off);
				if (off >= from)
					evg_jrn_ptable_update(pt, r.producer_id,
							      r.stream_id,
							      r.session, r.seq);
			}
		}
		evg_jrn_file_close(&f);
		if (rc == 0 && n < 0)
			rc = n;
	}
	return rc;
}

/* Checkpoints past the recovered end belong to data that is gone; they
 * must not come back once the log grows past them again. */
static int
load_states(struct rctx *x, const struct jrn_seglist *sl)
{
	const struct evg_store_ops *ops = x->pt->j->conf.store;
	struct jrn_ckpt_pos pos = {0};
	unsigned int stale = 0;
	uint64_t from;
	int rc;

	rc = evg_jrn_ckpt_load(&x->fs, x->pt->id, x->pt->next_offset,
			       &x->pt->states, &pos, &stale);
	if (rc < 0)
		return fail(x, rc,
			    "p%04" PRIu32 ": cannot read checkpoints: %s",
			    x->pt->id, strerror(-rc));
	x->rep->from_checkpoint += x->pt->states.n;
	x->pt->ckpt.gen = pos.gen;
	for (unsigned int s = 0; s < 2; s++)
		if (stale & (1u << s))
			ops->truncate(x->pt->st, x->pt->ckpt.fid[s], 0);
	from = rc == 1 ? pos.next_offset : 0;
	rc = scan_states(x, sl, from);
	x->rep->producers += x->pt->states.n;
	return rc;
}

int
evg_jrn_recover_part(struct jrn_part *pt, struct evg_journal_recovery *rep,
		     char *err, size_t errlen)
{
	struct rctx x = {
		.pt = pt,
		.rep = rep,
		.err = err,
		.errlen = errlen,
		.fs = {.ops = pt->j->conf.store, .st = pt->st, .dirfd = -1}};
	struct jrn_seglist sl = {0};
	int rc;

	rc = evg_jrn_seglist_load(&x.fs, pt->id, &sl);
	if (rc < 0)
		rc = fail(&x, rc, "p%04" PRIu32 ": cannot list: %s", pt->id,
			  strerror(-rc));
	if (rc == 0)
		rc = drop_empty_tail(&x, &sl);
	if (rc == 0 && sl.n == 0) {
		rc = evg_jrn_seginfo_push(pt, 0, 0, 0);
		if (rc == 0)
			rc = evg_jrn_seg_open(pt, pt->cur, 0);
	} else if (rc == 0) {
		rc = check_segments(&x, &sl);
	}
	if (rc == 0)
		rc = load_states(&x, &sl);
	if (rc == 0 && sl.n > 0)
		rep->records += pt->next_offset - sl.base[0];
	rep->torn_tails += x.torn;
	evg_jrn_seglist_free(&sl);
	evg_jrn_scanbuf_free(&x.sb);
	return rc;
}
