/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Readers: walk a partition's segments in offset order with plain POSIX
 * I/O, checking every batch, while a writer may be appending.
 *
 * The end of the log is the first place without a complete valid batch;
 * the reader stops there (-ENODATA) and looks again on the next call.
 * It moves on to the next segment when one starts at the offset it has
 * reached (the writer rolled). Anything else at the end of a segment (a
 * bad or incomplete batch, or a next segment at another offset) is
 * reported (-EBADMSG) only when a later segment holds data: the writer
 * starts writing a segment only once everything before it is durable, so
 * it cannot be a write still in progress. What stopped the reader is kept
 * for evg_journal_reader_pos(); skip_segment() leaves a corrupt segment.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "journal_priv.h"

struct evg_journal_reader {
	struct jrn_fs fs;
	uint32_t partition;
	bool have_seg;
	uint64_t base; /* of the open segment */
	struct jrn_file f;
	struct jrn_cursor cur;
	struct jrn_scanbuf sb;
	struct jrn_seglist sl;
	uint64_t target; /* records below this offset are skipped */
	uint32_t rec_i;	 /* next record of the batch in sb */
	uint32_t rec_n;
	uint64_t rec_pos;
	uint64_t batch_pos; /* of the batch in sb */
	enum evg_journal_reader_stop stop;
	uint64_t stop_pos;
	uint64_t segments, batches, records, skipped; /* since open */
};

static int
read_meta(int dirfd, uint32_t *partitions)
{
	char text[256];
	ssize_t n;
	int fd;

	fd = openat(dirfd, JRN_META_NAME, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, text, sizeof(text) - 1, 0);
	close(fd);
	if (n < 0)
		return -errno;
	text[n] = '\0';
	return evg_jrn_meta_parse(text, partitions);
}

int
evg_journal_partitions(const char *dir)
{
	uint32_t n = 0;
	int dirfd, rc;

	if (dir == NULL)
		return -EINVAL;
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	rc = read_meta(dirfd, &n);
	close(dirfd);
	return rc < 0 ? rc : (int)n;
}

static void
forget_batch(struct evg_journal_reader *r)
{
	r->rec_i = r->rec_n = 0;
}

/* Open segment base at the last index entry at or before off. */
static int
open_at(struct evg_journal_reader *r, uint64_t base, uint64_t off)
{
	bool other = !r->have_seg || base != r->base;
	struct jrn_ilist il;
	char name[64];
	int rc;

	evg_jrn_file_close(&r->f);
	r->have_seg = false;
	r->stop = EVG_JOURNAL_STOP_NONE;
	forget_batch(r);
	evg_jrn_file_name(name, sizeof(name), r->partition, base, ".seg");
	rc = evg_jrn_file_open(&r->fs, name, &r->f);
	if (rc < 0)
		return rc;
	r->segments += other;
	r->have_seg = true;
	r->base = base;
	r->cur = (struct jrn_cursor){.f = &r->f,
				     .sb = &r->sb,
				     .next_offset = base,
				     .partition = r->partition};
	if (evg_jrn_ilist_load(&r->fs, r->partition, base, false, &il) < 0)
		return 0; /* no index: walk from the start */
	for (uint32_t k = 0; k < il.n && il.a[k] <= off; k++) {
		r->cur.next_offset = il.a[k];
		r->cur.pos = il.b[k];
	}
	evg_jrn_ilist_free(&il);
	return 0;
}

static int
refresh_size(struct evg_journal_reader *r)
{
	int64_t size = evg_jrn_file_size(&r->f);

	if (size < 0)
		return (int)size;
	r->cur.size = (uint64_t)size;
	return 0;
}

/* Whether the segment at base starts with a valid batch. */
static bool
has_data(struct evg_journal_reader *r, uint64_t base)
{
	struct jrn_scanbuf sb = {0};
	struct jrn_file f;
	struct jrn_cursor c = {.f = &f,
			       .sb = &sb,
			       .next_offset = base,
			       .partition = r->partition};
	char name[64];
	int64_t size;
	bool ok = false;

	evg_jrn_file_name(name, sizeof(name), r->partition, base, ".seg");
	if (evg_jrn_file_open(&r->fs, name, &f) < 0)
		return false;
	size = evg_jrn_file_size(&f);
	c.size = size < 0 ? 0 : (uint64_t)size;
	ok = evg_jrn_cursor_next(&c) == JRN_SCAN_BATCH;
	evg_jrn_file_close(&f);
	evg_jrn_scanbuf_free(&sb);
	return ok;
}

/* What the cursor's non-batch result scan means. Zero blocks skipped
 * before a bad batch are a write that has not landed yet while a later
 * one has: incomplete, not bad. */
static enum evg_journal_reader_stop
stop_kind(const struct evg_journal_reader *r, int scan)
{
	if (scan == JRN_SCAN_TORN)
		return EVG_JOURNAL_STOP_TORN;
	if (scan != JRN_SCAN_BAD)
		return EVG_JOURNAL_STOP_END;
	return r->cur.stop > jrn_align(r->cur.pos) ? EVG_JOURNAL_STOP_TORN
						   : EVG_JOURNAL_STOP_BAD;
}

/* At the end of the open segment (scan: what the cursor found): 1 when
 * the reader moved to another one, 0 at the end of the log, -EBADMSG, or
 * < 0 on errors. */
static int
next_segment(struct evg_journal_reader *r, int scan)
{
	uint64_t later = UINT64_MAX;
	bool listed = false, bad = scan == JRN_SCAN_BAD;
	int rc = evg_jrn_seglist_load(&r->fs, r->partition, &r->sl);

	if (rc < 0)
		return rc;
	for (uint32_t i = 0; i < r->sl.n; i++) {
		uint64_t b = r->sl.base[i];

		listed = listed || (r->have_seg && b == r->base);
		if ((!r->have_seg || b > r->base) && b < later)
			later = b;
	}
	if (later == UINT64_MAX)
		return 0;
	/* The writer rolled at this offset; or retention took the segment
	 * under the reader, and the records in between are gone. */
	if (!r->have_seg || (!listed && !bad) ||
	    (scan == JRN_SCAN_END && later == r->cur.next_offset))
		goto move;
	if (has_data(r, later)) {
		if (r->stop == EVG_JOURNAL_STOP_END)
			r->stop = EVG_JOURNAL_STOP_GAP;
		return -EBADMSG;
	}
	if (later == r->cur.next_offset && !bad)
		goto move;
	return 0;
move:
	rc = open_at(r, later, later);
	return rc < 0 ? rc : 1;
}

static void
fill_entry(struct evg_journal_reader *r, struct evg_journal_entry *e,
	   const struct evg_journal_rec *rec, uint64_t off)
{
	e->rec = *rec;
	e->partition = r->partition;
	e->offset = off;
}

int
evg_journal_reader_next(struct evg_journal_reader *r,
			struct evg_journal_entry *e)
{
	struct evg_journal_rec rec;
	uint64_t off;
	int rc;

	if (r == NULL || e == NULL)
		return -EINVAL;
	for (;;) {
		if (r->rec_i < r->rec_n) {
			int64_t n = evg_jrn_rec_decode(
				r->sb.p + r->rec_pos,
				r->cur.h.length - r->rec_pos, &rec, &off);

			if (n < 0)
				return -EBADMSG;
			r->rec_pos += (uint64_t)n;
			r->rec_i++;
			if (off < r->target)
				continue;
			fill_entry(r, e, &rec, off);
			r->records++;
			r->stop = EVG_JOURNAL_STOP_NONE;
			return 0;
		}
		rc = r->have_seg ? refresh_size(r) : 0;
		if (rc == 0 && r->have_seg)
			rc = evg_jrn_cursor_next(&r->cur);
		else if (rc == 0)
			rc = JRN_SCAN_END;
		if (rc < 0)
			return rc;
		if (rc == JRN_SCAN_BATCH) {
			r->batches++;
			if (r->cur.next_offset <= r->target)
				continue; /* all of it is before target */
			r->rec_i = 0;
			r->rec_n = r->cur.h.count;
			r->rec_pos = EVG_JOURNAL_BATCH_HDR_LEN;
			r->batch_pos = r->cur.pos - r->cur.h.length;
			continue;
		}
		r->stop = stop_kind(r, rc);
		r->stop_pos = r->cur.stop;
		if (rc == JRN_SCAN_BAD && r->stop == EVG_JOURNAL_STOP_TORN)
			r->stop_pos = jrn_align(r->cur.pos); /* the hole */
		rc = next_segment(r, rc);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return -ENODATA;
	}
}

static int
reader_new(struct evg_journal_reader **rp, uint32_t partition)
{
	struct evg_journal_reader *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return -ENOMEM;
	r->partition = partition;
	r->f.h = -1;
	r->fs.dirfd = -1;
	*rp = r;
	return 0;
}

int
evg_journal_reader_open(const char *dir, uint32_t partition,
			struct evg_journal_reader **rp, char *err,
			size_t errlen)
{
	struct evg_journal_reader *r;
	uint32_t n = 0;
	int rc;

	if (dir == NULL || rp == NULL)
		return -EINVAL;
	rc = reader_new(&r, partition);
	if (rc < 0)
		return rc;
	r->fs.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc = r->fs.dirfd < 0 ? -errno : read_meta(r->fs.dirfd, &n);
	if (rc < 0 && err != NULL)
		snprintf(err, errlen, "log dir %s: cannot read %s: %s", dir,
			 JRN_META_NAME, strerror(-rc));
	if (rc == 0 && partition >= n) {
		rc = -EINVAL;
		if (err != NULL)
			snprintf(err, errlen,
				 "log dir %s has %" PRIu32
				 " partitions, no partition %" PRIu32,
				 dir, n, partition);
	}
	if (rc == 0)
		rc = evg_journal_reader_seek_offset(r, 0);
	if (rc < 0) {
		evg_journal_reader_close(r);
		return rc;
	}
	*rp = r;
	return 0;
}

int
evg_jrn_reader_open_store(struct evg_journal *j, uint32_t p,
			  struct evg_journal_reader **rp)
{
	struct evg_journal_reader *r;
	int rc;

	if (j == NULL || p >= j->conf.partitions)
		return -EINVAL;
	rc = reader_new(&r, p);
	if (rc < 0)
		return rc;
	r->fs.ops = j->conf.store;
	r->fs.st = j->parts[p].st;
	rc = evg_journal_reader_seek_offset(r, 0);
	if (rc < 0) {
		evg_journal_reader_close(r);
		return rc;
	}
	*rp = r;
	return 0;
}

void
evg_journal_reader_close(struct evg_journal_reader *r)
{
	if (r == NULL)
		return;
	evg_jrn_file_close(&r->f);
	if (r->fs.dirfd >= 0)
		close(r->fs.dirfd);
	evg_jrn_scanbuf_free(&r->sb);
	evg_jrn_seglist_free(&r->sl);
	free(r);
}

int
evg_journal_reader_seek_offset(struct evg_journal_reader *r, uint64_t off)
{
	uint32_t i = 0;
	int rc;

	if (r == NULL)
		return -EINVAL;
	rc = evg_jrn_seglist_load(&r->fs, r->partition, &r->sl);
	if (rc < 0)
		return rc;
	r->target = off;
	if (r->sl.n == 0) {
		evg_jrn_file_close(&r->f);
		r->have_seg = false;
		forget_batch(r);
		return 0;
	}
	while (i + 1 < r->sl.n && r->sl.base[i + 1] <= off)
		i++;
	return open_at(r, r->sl.base[i], off);
}

int
evg_journal_reader_seek_end(struct evg_journal_reader *r)
{
	int rc = evg_journal_reader_seek_offset(r, UINT64_MAX);

	if (rc < 0 || !r->have_seg)
		return rc;
	rc = refresh_size(r);
	while (rc == 0 && (rc = evg_jrn_cursor_next(&r->cur)) == JRN_SCAN_BATCH)
		rc = 0;
	r->target = r->cur.next_offset;
	return rc < 0 ? rc : 0;
}

/* The offset of the first record of segment base with ts_ns >= ts, when
 * there is one: walk from the last .tix entry whose max is below ts. */
static int
find_time(struct evg_journal_reader *r, uint64_t base, uint64_t ts,
	  uint64_t *found)
{
	struct jrn_ilist tix;
	uint64_t from = base;
	int rc;

	rc = evg_jrn_ilist_load(&r->fs, r->partition, base, true, &tix);
	if (rc < 0)
		return rc;
	for (uint32_t k = 0; k < tix.n && tix.a[k] < ts; k++)
		from = tix.b[k];
	evg_jrn_ilist_free(&tix);
	rc = open_at(r, base, from);
	if (rc == 0)
		rc = refresh_size(r);
	while (rc == 0 &&
	       (rc = evg_jrn_cursor_next(&r->cur)) == JRN_SCAN_BATCH) {
		const uint8_t *p = r->sb.p + EVG_JOURNAL_BATCH_HDR_LEN;
		struct evg_journal_rec rec;
		uint64_t off;

		rc = 0;
		if (r->cur.h.max_ts < ts)
			continue;
		for (uint32_t i = 0; i < r->cur.h.count; i++) {
			p += evg_jrn_rec_decode(p, UINT32_MAX, &rec, &off);
			if (rec.ts_ns >= ts) {
				*found = off;
				return 1;
			}
		}
	}
	return rc < 0 ? rc : 0;
}

int
evg_journal_reader_seek_time(struct evg_journal_reader *r, uint64_t ts_ns)
{
	uint64_t found = 0;
	int rc;

	if (r == NULL)
		return -EINVAL;
	if (ts_ns == 0)
		return evg_journal_reader_seek_offset(r, 0);
	rc = evg_jrn_seglist_load(&r->fs, r->partition, &r->sl);
	for (uint32_t i = 0; rc == 0 && i < r->sl.n; i++) {
		rc = find_time(r, r->sl.base[i], ts_ns, &found);
		if (rc == 1)
			return evg_journal_reader_seek_offset(r, found);
	}
	return rc < 0 ? rc : evg_journal_reader_seek_end(r);
}

int
evg_journal_reader_pos(const struct evg_journal_reader *r,
		       struct evg_journal_reader_pos *pos)
{
	uint64_t next;
	bool in_batch;
	uint32_t i = 0;

	if (r == NULL || pos == NULL)
		return -EINVAL;
	in_batch = r->rec_i < r->rec_n;
	next = in_batch ? r->cur.h.first_offset + r->rec_i : r->cur.next_offset;
	/* After a seek the records below its target are skipped. */
	if (next < r->target)
		next = r->target;
	while (r->have_seg && i < r->sl.n && r->sl.base[i] != r->base)
		i++;
	*pos = (struct evg_journal_reader_pos){
		.partition = r->partition,
		.in_segment = r->have_seg,
		.segment_index = r->have_seg && i < r->sl.n ? i : UINT32_MAX,
		.segment_base = r->have_seg ? r->base : 0,
		.byte_pos = in_batch ? r->batch_pos : jrn_align(r->cur.pos),
		.next_offset = next,
		.stop = r->stop,
		.stop_pos = r->stop_pos,
		.segments = r->segments,
		.batches = r->batches,
		.records = r->records,
		.skipped_segments = r->skipped,
	};
	return 0;
}

int
evg_journal_reader_skip_segment(struct evg_journal_reader *r)
{
	uint64_t later = UINT64_MAX;
	int rc;

	if (r == NULL)
		return -EINVAL;
	rc = evg_jrn_seglist_load(&r->fs, r->partition, &r->sl);
	if (rc < 0)
		return rc;
	for (uint32_t i = 0; i < r->sl.n; i++) {
		uint64_t b = r->sl.base[i];

		if ((!r->have_seg || b > r->base) && b < later)
			later = b;
	}
	if (later == UINT64_MAX)
		return -ENODATA;
	r->skipped += r->have_seg;
	return open_at(r, later, later);
}
