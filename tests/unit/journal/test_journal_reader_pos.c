/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Where a reader is (evg_journal_reader_pos) and how it leaves a corrupt
 * segment (evg_journal_reader_skip_segment), on logs the psync store
 * writes into a temporary directory: 2 records a batch, a batch a 4 KiB
 * block, so a 64 KiB segment holds 16 batches (32 records) and the
 * segments start at offsets 0, 32, 64, ...
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "journal_testutil.h"

#define BLOCK 4096u
#define PER_SEG 32u /* records of a full segment */

struct fixture {
	char dir[256];
	struct evg_journal_conf conf;
	struct evg_journal_reader *r;
};

static struct fixture fx;

static void
setup(void)
{
	tu_mkdtemp(fx.dir, sizeof(fx.dir));
	tu_conf(&fx.conf, fx.dir, &evg_store_psync_ops);
	fx.r = NULL;
}

static void
teardown(void)
{
	evg_journal_reader_close(fx.r);
	tu_rmrf(fx.dir);
}

TestSuite(reader_pos, .init = setup, .fini = teardown);

/* A closed log of `batches` durable batches of 2 records of (1, 0, 1),
 * seqs from 0; then a reader on it. */
static void
write_log(unsigned int batches)
{
	struct evg_journal *j = tu_open(&fx.conf, NULL);
	char err[512] = "";

	for (unsigned int b = 0; b < batches; b++) {
		int64_t t = tu_append(j, 0, 1, 0, 1, 2 * b, 2, 8, NULL);

		cr_assert_gt(t, 0, "append: %" PRId64, t);
		evg_journal_flush(j, 0);
		tu_wait_durable(j, 0, (uint64_t)t);
	}
	cr_assert_eq(evg_journal_close(j), 0);
	cr_assert_eq(
		evg_journal_reader_open(fx.dir, 0, &fx.r, err, sizeof(err)), 0,
		"%s", err);
}

static void
seg_path(char *buf, size_t len, uint64_t base, const char *ext)
{
	tu_seg_path(buf, len, fx.dir, 0, base, ext);
}

static void
flip_byte(uint64_t base, uint64_t pos)
{
	char path[1024];
	uint8_t b;
	int fd;

	seg_path(path, sizeof(path), base, ".seg");
	fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(pread(fd, &b, 1, (off_t)pos), 1);
	b ^= 0x10;
	cr_assert_eq(pwrite(fd, &b, 1, (off_t)pos), 1);
	close(fd);
}

/* Read records until next() fails; checks offsets follow on from first
 * and returns the error, with *n the records read. */
static int
read_until_error(uint64_t first, unsigned int *n)
{
	struct evg_journal_entry e;
	int rc;

	*n = 0;
	while ((rc = evg_journal_reader_next(fx.r, &e)) == 0) {
		cr_assert_eq(e.offset, first + *n, "record %u", *n);
		cr_assert_eq(e.rec.seq, first + *n);
		(*n)++;
	}
	return rc;
}

static struct evg_journal_reader_pos
pos_of(void)
{
	struct evg_journal_reader_pos p;

	cr_assert_eq(evg_journal_reader_pos(fx.r, &p), 0);
	return p;
}

Test(reader_pos, pos_counts_segments_batches_and_records_read)
{
	struct evg_journal_reader_pos p;
	struct evg_journal_entry e;
	unsigned int n;

	write_log(20); /* segments at 0 and 32 */
	p = pos_of();
	cr_assert(p.in_segment);
	cr_assert_eq(p.segment_base, 0);
	cr_assert_eq(p.segments, 1, "the segment it opened at");
	cr_assert_eq(p.batches + p.records, 0);
	cr_assert_eq(p.stop, EVG_JOURNAL_STOP_NONE);

	cr_assert_eq(evg_journal_reader_next(fx.r, &e), 0);
	cr_assert_eq(evg_journal_reader_next(fx.r, &e), 0);
	cr_assert_eq(evg_journal_reader_next(fx.r, &e), 0);
	p = pos_of();
	cr_assert_eq(p.next_offset, 3);
	cr_assert_eq(p.byte_pos, BLOCK, "record 3 is in the second batch");
	cr_assert_eq(p.batches, 2);
	cr_assert_eq(p.records, 3);

	cr_assert_eq(read_until_error(3, &n), -ENODATA);
	cr_assert_eq(n, 37);
	p = pos_of();
	cr_assert_eq(p.partition, 0);
	cr_assert_eq(p.segment_base, PER_SEG);
	cr_assert_eq(p.segment_index, 1);
	cr_assert_eq(p.segments, 2);
	cr_assert_eq(p.batches, 20);
	cr_assert_eq(p.records, 40);
	cr_assert_eq(p.next_offset, 40);
	cr_assert_eq(p.skipped_segments, 0);
	cr_assert_eq(p.stop, EVG_JOURNAL_STOP_END);
}

Test(reader_pos, pos_says_where_a_corrupt_batch_stopped_the_reader)
{
	struct evg_journal_reader_pos p;
	unsigned int n;

	write_log(20);
	flip_byte(0, 3 * BLOCK + 70); /* the first record of batch 3 */
	cr_assert_eq(read_until_error(0, &n), -EBADMSG);
	cr_assert_eq(n, 6);
	p = pos_of();
	cr_assert_eq(p.stop, EVG_JOURNAL_STOP_BAD);
	cr_assert_eq(p.segment_base, 0);
	cr_assert_eq(p.stop_pos, 3 * BLOCK);
	cr_assert_eq(p.byte_pos, 3 * BLOCK);
	cr_assert_eq(p.next_offset, 6);
	cr_assert_eq(p.batches, 3);
}

Test(reader_pos, skip_segment_goes_on_at_the_next_segment_after_ebadmsg)
{
	struct evg_journal_reader_pos p;
	unsigned int n;

	write_log(40); /* segments at 0, 32 and 64 */
	flip_byte(PER_SEG, 3 * BLOCK + 70);
	cr_assert_eq(read_until_error(0, &n), -EBADMSG);
	cr_assert_eq(n, PER_SEG + 6);
	cr_assert_eq(evg_journal_reader_skip_segment(fx.r), 0);
	p = pos_of();
	cr_assert_eq(p.segment_base, 2 * PER_SEG);
	cr_assert_eq(p.segment_index, 2);
	cr_assert_eq(p.byte_pos, 0);
	cr_assert_eq(p.next_offset, 2 * PER_SEG);
	cr_assert_eq(p.skipped_segments, 1);
	cr_assert_eq(p.stop, EVG_JOURNAL_STOP_NONE);
	cr_assert_eq(read_until_error(2 * PER_SEG, &n), -ENODATA,
		     "the segment after the corrupt one reads to the end");
	cr_assert_eq(n, 16);
	p = pos_of();
	cr_assert_eq(p.segments, 3);
	cr_assert_eq(p.batches, 3 + 16 + 8, "the bad batch is not counted");
	cr_assert_eq(p.stop, EVG_JOURNAL_STOP_END);
}

Test(reader_pos, skip_segment_in_the_newest_segment_is_enodata_and_stays)
{
	struct evg_journal_reader_pos p;
	struct evg_journal_entry e;
	unsigned int n;

	write_log(20);
	cr_assert_eq(evg_journal_reader_next(fx.r, &e), 0);
	cr_assert_eq(evg_journal_reader_skip_segment(fx.r), 0,
		     "from a good segment too");
	cr_assert_eq(read_until_error(PER_SEG, &n), -ENODATA);
	cr_assert_eq(n, 8);
	cr_assert_eq(evg_journal_reader_skip_segment(fx.r), -ENODATA);
	p = pos_of();
	cr_assert_eq(p.segment_base, PER_SEG);
	cr_assert_eq(p.next_offset, 40);
	cr_assert_eq(p.skipped_segments, 1);
	cr_assert_eq(evg_journal_reader_skip_segment(NULL), -EINVAL);
	cr_assert_eq(evg_journal_reader_pos(NULL, &p), -EINVAL);
	cr_assert_eq(evg_journal_reader_pos(fx.r, NULL), -EINVAL);
}

Test(reader_pos, missing_middle_segment_is_ebadmsg_gap_then_skippable)
{
	static const char *const ext[] = {".seg", ".idx", ".tix"};
	struct evg_journal_reader_pos p;
	char path[1024];
	unsigned int n;

	write_log(40);
	evg_journal_reader_close(fx.r);
	fx.r = NULL;
	for (unsigned int i = 0; i < 3; i++) {
		seg_path(path, sizeof(path), PER_SEG, ext[i]);
		cr_assert_eq(unlink(path), 0, "%s", path);
	}
	cr_assert_eq(evg_journal_reader_open(fx.dir, 0, &fx.r, NULL, 0), 0);
	cr_assert_eq(read_until_error(0, &n), -EBADMSG);
	cr_assert_eq(n, PER_SEG);
	p = pos_of();
	cr_assert_eq(p.stop, EVG_JOURNAL_STOP_GAP);
	cr_assert_eq(p.next_offset, PER_SEG);
	cr_assert_eq(evg_journal_reader_skip_segment(fx.r), 0);
	cr_assert_eq(read_until_error(2 * PER_SEG, &n), -ENODATA);
	cr_assert_eq(n, 16);
}

Test(reader_pos, crc_bad_last_batch_is_the_end_and_pos_says_bad)
{
	struct evg_journal_reader_pos p;
	unsigned int n;

	write_log(4);
	flip_byte(0, 3 * BLOCK + 70);
	cr_assert_eq(read_until_error(0, &n), -ENODATA);
	cr_assert_eq(n, 6);
	p = pos_of();
	cr_assert_eq(p.stop, EVG_JOURNAL_STOP_BAD);
	cr_assert_eq(p.stop_pos, 3 * BLOCK);
}

Test(reader_pos, incomplete_last_batch_is_torn)
{
	struct evg_journal_reader_pos p;
	uint8_t block[100];
	char path[1024];
	unsigned int n;
	int fd;

	write_log(2);
	seg_path(path, sizeof(path), 0, ".seg");
	fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	/* The first 100 bytes of a copy of batch 1 at 8192: a header that
	 * promises more than the file holds. */
	cr_assert_eq(pread(fd, block, sizeof(block), BLOCK), 100);
	cr_assert_eq(pwrite(fd, block, sizeof(block), 2 * BLOCK), 100);
	close(fd);
	cr_assert_eq(read_until_error(0, &n), -ENODATA);
	cr_assert_eq(n, 4);
	p = pos_of();
	cr_assert_eq(p.stop, EVG_JOURNAL_STOP_TORN);
	cr_assert_eq(p.stop_pos, 2 * BLOCK);
}

Test(reader_pos, unwritten_block_before_a_later_batch_is_torn_not_bad)
{
	struct evg_journal_reader_pos p;
	uint8_t zero[BLOCK] = {0};
	char path[1024];
	unsigned int n;
	int fd;

	write_log(4);
	seg_path(path, sizeof(path), 0, ".seg");
	fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	/* Batch 2 not landed yet, batch 3 already has: out of order. */
	cr_assert_eq(pwrite(fd, zero, BLOCK, 2 * BLOCK), BLOCK);
	close(fd);
	cr_assert_eq(read_until_error(0, &n), -ENODATA);
	cr_assert_eq(n, 4);
	p = pos_of();
	cr_assert_eq(p.stop, EVG_JOURNAL_STOP_TORN);
	cr_assert_eq(p.stop_pos, 2 * BLOCK, "where the hole starts");
}
