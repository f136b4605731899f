/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Segments on the mem store: rolling, the offset and time indexes behind
 * the reader's seeks, and retention by size and by age.
 *
 * The configuration of tu_conf() makes the arithmetic exact: records of
 * 64 + 1000 bytes, 7 to an 8 KiB batch, so a flushed batch is one 8 KiB
 * write, and a 64 KiB segment takes 8 of them (56 records).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "journal_priv.h"
#include "journal_testutil.h"

#define PER_BATCH 7u
#define PER_SEG (8u * PER_BATCH)
#define MAXREC 2048u
#define KEEP_INGEST UINT64_MAX /* tu_rec()'s own ingest_ns */

struct fixture {
	struct evg_journal_conf conf;
	struct evg_journal *j;
	uint64_t next_seq;
	uint64_t ticket;
};

static void
start(struct fixture *f, uint64_t retention_bytes, uint64_t retention_ms)
{
	tu_conf(&f->conf, "/evg-jrn-mem", &evg_store_mem_ops);
	f->conf.retention_bytes = retention_bytes;
	f->conf.retention_ms = retention_ms;
	f->j = tu_open(&f->conf, NULL);
	f->next_seq = 0;
	f->ticket = 0;
}

/* Append and flush full batches whose records all have this ingest
 * time, and wait until they are durable. */
static void
write_batches(struct fixture *f, unsigned int batches, uint64_t ingest_ns)
{
	struct evg_journal_rec recs[PER_BATCH];
	uint8_t *buf = malloc(PER_BATCH * (64 + 1000));

	cr_assert_not_null(buf);
	for (unsigned int b = 0; b < batches; b++) {
		int64_t t;

		for (unsigned int i = 0; i < PER_BATCH; i++) {
			recs[i] = tu_rec(1, 0, 1, f->next_seq + i, 1000,
					 buf + i * (64 + 1000));
			if (ingest_ns != KEEP_INGEST)
				recs[i].ingest_ns = ingest_ns;
		}
		t = evg_journal_append(f->j, 0, recs, PER_BATCH, NULL);
		cr_assert_gt(t, 0, "append: %" PRId64, t);
		f->next_seq += PER_BATCH;
		f->ticket = (uint64_t)t;
		evg_journal_flush(f->j, 0);
		tu_wait_durable(f->j, 0, f->ticket);
	}
	free(buf);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct listing {
	uint64_t seg[64];
	unsigned int nseg;
	unsigned int nidx;
	unsigned int ntix;
};

static void
list_one(void *arg, const char *entry)
{
	struct listing *l = arg;
	uint64_t base;

	if (evg_jrn_parse_name(entry, ".seg", &base) == 0 && l->nseg < 64)
		l->seg[l->nseg++] = base;
	l->nidx += evg_jrn_parse_name(entry, ".idx", &base) == 0;
	l->ntix += evg_jrn_parse_name(entry, ".tix", &base) == 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
list_segments(struct fixture *f, struct listing *l)
{
	memset(l, 0, sizeof(*l));
	cr_assert_eq(evg_store_mem_ops.list(evg_journal_store(f->j, 0), "p0000",
					    list_one, l),
		     0);
	qsort(l->seg, l->nseg, sizeof(l->seg[0]), cmp_u64);
}

static struct evg_journal_reader *
reader(struct fixture *f)
{
	struct evg_journal_reader *r = NULL;

	cr_assert_eq(evg_jrn_reader_open_store(f->j, 0, &r), 0);
	return r;
}

static uint64_t
next_offset(struct evg_journal_reader *r)
{
	struct evg_journal_entry e;
	int rc = evg_journal_reader_next(r, &e);

	cr_assert_eq(rc, 0, "reader_next: %d", rc);
	return e.offset;
}

/* Let the previous segment finish closing, then apply retention now
 * rather than at the next periodic check. */
static void
retain_now(struct fixture *f)
{
	for (int i = 0; i < 100; i++)
		evg_journal_poll(f->j, 0, NULL);
	evg_jrn_retention(&f->j->parts[0], true);
}

Test(journal_segment, segment_rolls_at_segment_bytes_named_by_first_offset)
{
	struct fixture f;
	struct evg_journal_entry *got = calloc(MAXREC, sizeof(*got));
	struct evg_journal_reader *r;
	struct listing l;
	uint64_t v[EVG_JOURNAL_STAT_MAX];
	unsigned int n;

	start(&f, 0, 0);
	write_batches(&f, 20, KEEP_INGEST);
	list_segments(&f, &l);
	cr_assert_eq(l.nseg, 3, "20 batches of 8 KiB in 64 KiB segments");
	cr_assert_eq(l.seg[1], PER_SEG);
	cr_assert_eq(l.seg[2], 2 * PER_SEG);
	cr_assert(l.nidx == 3 && l.ntix == 3, "an .idx and a .tix each");
	evg_journal_stats(f.j, 0, v);
	cr_assert_eq(v[EVG_JOURNAL_rolls], 2);
	r = reader(&f);
	n = tu_read_all(r, got, MAXREC);
	cr_assert_eq(n, 20 * PER_BATCH);
	for (unsigned int i = 0; i < n; i++) {
		cr_assert_eq(got[i].offset, i);
		tu_expect_rec(&got[i], 1, 0, 1, i, 1000);
	}
	tu_entries_free(got, n);
	evg_journal_reader_close(r);
	cr_assert_eq(evg_journal_close(f.j), 0);
	free(got);
}

Test(journal_segment, closed_segment_index_points_at_its_batches)
{
	struct fixture f;
	struct evg_store *st;
	uint8_t idx[4096], hdr[64];
	int fid, sfid;
	int64_t len;

	start(&f, 0, 0);
	f.conf.index_interval = 16384; /* every other 8 KiB batch */
	cr_assert_eq(evg_journal_close(f.j), 0);
	f.j = tu_open(&f.conf, NULL);
	write_batches(&f, 12, 1);
	retain_now(&f);
	st = evg_journal_store(f.j, 0);
	fid = evg_store_mem_ops.open(st, "p0000/00000000000000000000.idx",
				     false, 0);
	sfid = evg_store_mem_ops.open(st, "p0000/00000000000000000000.seg",
				      false, 0);
	cr_assert(fid >= 0 && sfid >= 0);
	len = evg_store_mem_ops.read(st, fid, idx, sizeof(idx), 0);
	cr_assert_eq(len, 4096, "the index is one padded block");
	for (unsigned int k = 0; k < 4; k++) {
		uint64_t off = evg_ld64(idx + 16 * k);
		uint64_t pos = evg_ld64(idx + 16 * k + 8);

		cr_assert_eq(pos, k * 16384, "entry %u at %" PRIu64, k, pos);
		cr_assert_eq(off, k * 2 * PER_BATCH);
		evg_store_mem_ops.read(st, sfid, hdr, sizeof(hdr), pos);
		cr_assert_eq(evg_ld64(hdr + JRN_B_FIRST), off,
			     "entry %u names the batch at its position", k);
	}
	cr_assert_eq(evg_ld64(idx + 16 * 4 + 8), 0, "then zero padding");
	evg_store_mem_ops.close(st, fid);
	evg_store_mem_ops.close(st, sfid);
	cr_assert_eq(evg_journal_close(f.j), 0);
}

Test(journal_segment, offset_seek_lands_on_that_record_in_any_segment)
{
	static const uint64_t targets[] = {0, 1, 6, 7, 55, 56, 57, 100, 167};
	struct fixture f;
	struct evg_journal_reader *r;

	start(&f, 0, 0);
	write_batches(&f, 24, 1); /* offsets 0 .. 167, three segments */
	r = reader(&f);
	for (unsigned int i = 0; i < sizeof(targets) / sizeof(targets[0]);
	     i++) {
		cr_assert_eq(evg_journal_reader_seek_offset(r, targets[i]), 0);
		cr_assert_eq(next_offset(r), targets[i]);
		if (targets[i] < 167)
			cr_assert_eq(next_offset(r), targets[i] + 1);
	}
	evg_journal_reader_close(r);
	cr_assert_eq(evg_journal_close(f.j), 0);
}

Test(journal_segment, seek_past_the_end_waits_for_that_offset)
{
	struct fixture f;
	struct evg_journal_reader *r;
	struct evg_journal_entry e;

	start(&f, 0, 0);
	write_batches(&f, 2, 1); /* offsets 0 .. 13 */
	r = reader(&f);
	cr_assert_eq(evg_journal_reader_seek_offset(r, 20), 0);
	cr_assert_eq(evg_journal_reader_next(r, &e), -ENODATA);
	write_batches(&f, 2, 1); /* 14 .. 27 */
	cr_assert_eq(next_offset(r), 20);
	cr_assert_eq(evg_journal_reader_seek_end(r), 0);
	cr_assert_eq(evg_journal_reader_next(r, &e), -ENODATA);
	write_batches(&f, 1, 1);
	cr_assert_eq(next_offset(r), 28, "seek_end then new data");
	evg_journal_reader_close(r);
	cr_assert_eq(evg_journal_close(f.j), 0);
}

/* tu_rec() gives record seq the timestamp 1e9 + seq. */
Test(journal_segment, time_seek_finds_the_first_record_at_or_after_ts)
{
	static const uint64_t seqs[] = {0, 3, 7, 56, 99, 100, 167};
	struct fixture f;
	struct evg_journal_reader *r;
	struct evg_journal_entry e;

	start(&f, 0, 0);
	write_batches(&f, 24, 1);
	r = reader(&f);
	for (unsigned int i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
		cr_assert_eq(evg_journal_reader_seek_time(r, 1000000000ull +
								     seqs[i]),
			     0);
		cr_assert_eq(next_offset(r), seqs[i], "ts 1e9 + %" PRIu64,
			     seqs[i]);
	}
	cr_assert_eq(evg_journal_reader_seek_time(r, 1), 0);
	cr_assert_eq(next_offset(r), 0, "a time before the log: its start");
	cr_assert_eq(evg_journal_reader_seek_time(r, 5000000000ull), 0);
	cr_assert_eq(evg_journal_reader_next(r, &e), -ENODATA,
		     "a time after the log: its end");
	evg_journal_reader_close(r);
	cr_assert_eq(evg_journal_close(f.j), 0);
}

/* A batch of two records with producer timestamps a and b. */
static void
write_ts_pair(struct fixture *f, uint64_t a, uint64_t b)
{
	uint8_t buf[2][64 + 8];
	struct evg_journal_rec recs[2] = {
		tu_rec(1, 0, 1, f->next_seq, 8, buf[0]),
		tu_rec(1, 0, 1, f->next_seq + 1, 8, buf[1]),
	};
	int64_t t;

	recs[0].ts_ns = a;
	recs[1].ts_ns = b;
	t = evg_journal_append(f->j, 0, recs, 2, NULL);
	cr_assert_gt(t, 0);
	f->next_seq += 2;
	evg_journal_flush(f->j, 0);
	tu_wait_durable(f->j, 0, (uint64_t)t);
}

Test(journal_segment, time_seek_out_of_order_finds_first_in_offset_order)
{
	static const uint64_t ts[][2] = {{500, 1}, {550, 5}, {350, 1},
					 {150, 1}, {100, 0}, {600, 5}};
	struct fixture f;
	struct evg_journal_reader *r;

	start(&f, 0, 0);
	write_ts_pair(&f, 100, 500);	   /* offsets 0, 1 */
	write_ts_pair(&f, 200, 300);	   /* 2, 3: each batch is indexed */
	write_ts_pair(&f, 400, 600);	   /* 4, 5 */
	write_batches(&f, 8, KEEP_INGEST); /* roll: the indexes are written */
	retain_now(&f);
	r = reader(&f);
	for (unsigned int i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		cr_assert_eq(evg_journal_reader_seek_time(r, ts[i][0]), 0);
		cr_assert_eq(next_offset(r), ts[i][1],
			     "first record at or after %" PRIu64, ts[i][0]);
	}
	evg_journal_reader_close(r);
	cr_assert_eq(evg_journal_close(f.j), 0);
}

Test(journal_segment, size_retention_removes_oldest_whole_segments)
{
	struct fixture f;
	struct evg_journal_reader *r;
	struct listing l;
	uint64_t v[EVG_JOURNAL_STAT_MAX];

	start(&f, 3 * 65536, 0);
	write_batches(&f, 8 * 9 + 3, 1); /* segments 0 .. 8 full, 9 active */
	retain_now(&f);
	list_segments(&f, &l);
	/* 3 full segments and the active one's 24 KiB exceed 192 KiB. */
	cr_assert_eq(l.nseg, 3, "the newest segments within 192 KiB remain");
	cr_assert_eq(l.seg[0], 7 * PER_SEG);
	cr_assert_eq(l.seg[2], 9 * PER_SEG);
	cr_assert(l.nidx == 3 && l.ntix == 3, "indexes go with segments");
	evg_journal_stats(f.j, 0, v);
	cr_assert_eq(v[EVG_JOURNAL_retention_removed], 7);
	r = reader(&f);
	cr_assert_eq(next_offset(r), 7 * PER_SEG,
		     "a reader starts at the oldest kept record");
	evg_journal_reader_close(r);
	cr_assert_eq(evg_journal_close(f.j), 0);
}

Test(journal_segment, retention_never_removes_the_active_segment)
{
	struct fixture f;
	struct listing l;

	start(&f, 1, 1);
	write_batches(&f, 8 * 3 + 1, 1); /* all of it over both limits */
	retain_now(&f);
	list_segments(&f, &l);
	cr_assert_eq(l.nseg, 1);
	cr_assert_eq(l.seg[0], 3 * PER_SEG);
	cr_assert_eq(evg_journal_close(f.j), 0);
}

Test(journal_segment, age_retention_removes_segments_older_than_retention)
{
	struct fixture f;
	struct listing l;
	uint64_t now = now_ns();

	start(&f, 0, 60000);
	write_batches(&f, 16, now - 3600ull * 1000000000ull); /* 1 h old */
	write_batches(&f, 9, now);
	retain_now(&f);
	list_segments(&f, &l);
	cr_assert_eq(l.nseg, 2, "two old segments go, the recent ones stay");
	cr_assert_eq(l.seg[0], 2 * PER_SEG);
	cr_assert_eq(evg_journal_close(f.j), 0);
}

Test(journal_segment, segment_without_ingest_times_is_not_aged_out)
{
	struct fixture f;
	struct listing l;

	start(&f, 0, 1);
	write_batches(&f, 17, 0);
	retain_now(&f);
	list_segments(&f, &l);
	cr_assert_eq(l.nseg, 3);
	cr_assert_eq(evg_journal_close(f.j), 0);
}
