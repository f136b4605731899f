/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Readers on real files beside a writer (psync store in a temporary
 * directory): following a growing log across rolls and retention, where
 * the end is, when a bad batch is reported, and an end-to-end run at the
 * synced level over several partitions.
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

#define MAXREC 4096u

struct fixture {
	char dir[256];
	struct evg_journal_conf conf;
	struct evg_journal *j;
	struct evg_journal_reader *r;
	struct evg_journal_entry *got;
	uint64_t seq;
};

static struct fixture fx;

static void
setup(void)
{
	tu_mkdtemp(fx.dir, sizeof(fx.dir));
	tu_conf(&fx.conf, fx.dir, &evg_store_psync_ops);
	fx.got = calloc(MAXREC, sizeof(*fx.got));
	cr_assert_not_null(fx.got);
	fx.j = NULL;
	fx.r = NULL;
	fx.seq = 0;
}

static void
teardown(void)
{
	evg_journal_reader_close(fx.r);
	if (fx.j != NULL)
		evg_journal_close(fx.j);
	tu_rmrf(fx.dir);
	free(fx.got);
}

TestSuite(journal_reader, .init = setup, .fini = teardown);

static struct evg_journal_reader *
open_reader(uint32_t p)
{
	struct evg_journal_reader *r = NULL;
	char err[512] = "";

	cr_assert_eq(evg_journal_reader_open(fx.dir, p, &r, err, sizeof(err)),
		     0, "%s", err);
	return r;
}

/* One batch of n records of (1, 0, session 1), durable. */
static void
write_batch(unsigned int n, uint32_t value_size)
{
	int64_t t = tu_append(fx.j, 0, 1, 0, 1, fx.seq, n, value_size, NULL);

	cr_assert_gt(t, 0, "append: %" PRId64, t);
	fx.seq += n;
	evg_journal_flush(fx.j, 0);
	tu_wait_durable(fx.j, 0, (uint64_t)t);
}

Test(journal_reader, reader_follows_a_log_while_it_grows_across_segments)
{
	struct evg_journal_entry e;
	unsigned int n;

	fx.j = tu_open(&fx.conf, NULL);
	fx.r = open_reader(0);
	cr_assert_eq(evg_journal_reader_next(fx.r, &e), -ENODATA);
	for (unsigned int round = 0; round < 40; round++) {
		write_batch(3, 40); /* a block each: a roll every 16 */
		n = tu_read_all(fx.r, fx.got, MAXREC);
		cr_assert_eq(n, 3, "round %u: %u new records", round, n);
		for (unsigned int i = 0; i < n; i++) {
			cr_assert_eq(fx.got[i].offset, round * 3 + i);
			tu_expect_rec(&fx.got[i], 1, 0, 1, round * 3 + i, 40);
		}
		tu_entries_free(fx.got, n);
	}
}

Test(journal_reader, reader_started_at_the_end_sees_only_what_comes_after)
{
	struct evg_journal_entry e;

	fx.j = tu_open(&fx.conf, NULL);
	write_batch(5, 8);
	fx.r = open_reader(0);
	cr_assert_eq(evg_journal_reader_seek_end(fx.r), 0);
	cr_assert_eq(evg_journal_reader_next(fx.r, &e), -ENODATA);
	write_batch(2, 8);
	cr_assert_eq(evg_journal_reader_next(fx.r, &e), 0);
	cr_assert_eq(e.offset, 5);
}

Test(journal_reader, reader_skips_to_what_retention_left_behind_it)
{
	struct evg_journal_entry e;
	uint64_t last = 0;

	fx.conf.retention_bytes = 64 * 1024;
	fx.j = tu_open(&fx.conf, NULL);
	write_batch(2, 8);
	fx.r = open_reader(0);
	cr_assert_eq(evg_journal_reader_next(fx.r, &e), 0);
	cr_assert_eq(e.offset, 0);
	for (unsigned int b = 0; b < 60; b++) /* four segments' worth */
		write_batch(2, 8);
	cr_assert_eq(evg_journal_reader_next(fx.r, &e), 0,
		     "the open segment stays readable after its removal");
	cr_assert_eq(e.offset, 1);
	while (evg_journal_reader_next(fx.r, &e) == 0) {
		cr_assert_gt(e.offset, last, "offsets only grow");
		last = e.offset;
	}
	cr_assert_eq(last, fx.seq - 1, "the reader gets to the end");
}

static void
flip_byte(const char *path, uint64_t pos)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &b, 1, (off_t)pos), 1);
	b ^= 0x10;
	cr_assert_eq(pwrite(fd, &b, 1, (off_t)pos), 1);
	close(fd);
}

Test(journal_reader, corrupt_batch_followed_by_data_is_ebadmsg)
{
	struct evg_journal_entry e;
	char seg[1024];

	fx.j = tu_open(&fx.conf, NULL);
	for (unsigned int b = 0; b < 20; b++) /* segments at 0 and 32 */
		write_batch(2, 8);
	tu_seg_path(seg, sizeof(seg), fx.dir, 0, 0, ".seg");
	flip_byte(seg, 3 * 4096 + 70); /* in the first record of batch 3 */
	fx.r = open_reader(0);
	for (unsigned int i = 0; i < 6; i++)
		cr_assert_eq(evg_journal_reader_next(fx.r, &e), 0);
	cr_assert_eq(evg_journal_reader_next(fx.r, &e), -EBADMSG);
}

Test(journal_reader, bad_last_batch_of_the_log_is_its_end_not_an_error)
{
	struct evg_journal_entry e;
	char seg[1024];

	fx.j = tu_open(&fx.conf, NULL);
	for (unsigned int b = 0; b < 4; b++)
		write_batch(2, 8);
	tu_seg_path(seg, sizeof(seg), fx.dir, 0, 0, ".seg");
	flip_byte(seg, 3 * 4096 + 70);
	fx.r = open_reader(0);
	for (unsigned int i = 0; i < 6; i++)
		cr_assert_eq(evg_journal_reader_next(fx.r, &e), 0);
	cr_assert_eq(evg_journal_reader_next(fx.r, &e), -ENODATA,
		     "it may be a write in progress");
	flip_byte(seg, 3 * 4096 + 70); /* the write "completes" */
	cr_assert_eq(evg_journal_reader_next(fx.r, &e), 0);
	cr_assert_eq(e.offset, 6);
}

Test(journal_reader, reader_stops_before_a_batch_that_is_still_incomplete)
{
	struct evg_journal_entry e;
	uint8_t block[4096];
	char seg[1024];
	int fd;

	fx.j = tu_open(&fx.conf, NULL);
	write_batch(2, 8);
	write_batch(2, 8);
	cr_assert_eq(evg_journal_close(fx.j), 0);
	fx.j = NULL;
	tu_seg_path(seg, sizeof(seg), fx.dir, 0, 0, ".seg");
	fd = open(seg, O_RDWR);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, block, 100, 4096), 100);
	/* The first 100 bytes of a copy of batch 1 at 8192: a header that
	 * promises more than the file holds. */
	cr_assert_eq(pwrite(fd, block, 100, 8192), 100);
	close(fd);
	fx.r = open_reader(0);
	for (unsigned int i = 0; i < 4; i++)
		cr_assert_eq(evg_journal_reader_next(fx.r, &e), 0);
	cr_assert_eq(evg_journal_reader_next(fx.r, &e), -ENODATA);
}

Test(journal_reader, synced_log_over_four_partitions_reads_back_per_stream)
{
	uint64_t next[8] = {0};
	unsigned int total = 0;
	char err[512] = "";
	struct evg_journal_reader *r = NULL;

	fx.conf.partitions = 4;
	fx.conf.level = EVG_JOURNAL_SYNCED;
	fx.j = tu_open(&fx.conf, NULL);
	for (unsigned int i = 0; i < 64; i++) {
		uint32_t stream = i % 8,
			 p = evg_journal_partition(fx.j, stream);
		int64_t t = tu_append(fx.j, p, 100 + stream, stream, 1,
				      next[stream], 8, 32, NULL);

		cr_assert_gt(t, 0);
		next[stream] += 8;
		if (i % 3 == 0)
			evg_journal_flush(fx.j, p);
		for (uint32_t q = 0; q < 4; q++)
			evg_journal_poll(fx.j, q, NULL);
	}
	cr_assert_eq(evg_journal_close(fx.j), 0);
	fx.j = NULL;
	cr_assert_eq(evg_journal_partitions(fx.dir), 4);
	memset(next, 0, sizeof(next));
	for (uint32_t p = 0; p < 4; p++) {
		unsigned int n;

		fx.r = open_reader(p);
		n = tu_read_all(fx.r, fx.got, MAXREC);
		for (unsigned int i = 0; i < n; i++) {
			uint32_t s = fx.got[i].rec.stream_id;

			cr_assert_eq(s % 4, p, "stream %" PRIu32 " in p%u", s,
				     p);
			tu_expect_rec(&fx.got[i], 100 + s, s, 1, next[s]++, 32);
		}
		tu_entries_free(fx.got, n);
		total += n;
		evg_journal_reader_close(fx.r);
		fx.r = NULL;
	}
	cr_assert_eq(total, 64 * 8);
	cr_assert_eq(evg_journal_reader_open(fx.dir, 4, &r, err, sizeof(err)),
		     -EINVAL);
	cr_assert_not_null(strstr(err, "has 4 partitions, no partition 4"),
			   "%s", err);
}

/* io_uring with O_DIRECT, where the kernel and filesystem allow it. */
Test(journal_reader, uring_store_log_reads_back_after_reopen)
{
	struct evg_store_conf sc = {.dir = fx.dir, .depth = 8};
	struct evg_journal_recovery rep;
	struct evg_store *st = NULL;
	unsigned int n;
	int rc = evg_store_uring_ops.create(&sc, &st);

	if (rc < 0)
		cr_skip_test("uring store unavailable: %s", strerror(-rc));
	evg_store_uring_ops.destroy(st);
	fx.conf.store = &evg_store_uring_ops;
	fx.conf.level = EVG_JOURNAL_SYNCED;
	fx.j = tu_open(&fx.conf, NULL);
	for (unsigned int b = 0; b < 40; b++) /* three segments */
		write_batch(3, 100);
	cr_assert_eq(evg_journal_close(fx.j), 0);
	fx.j = tu_open(&fx.conf, &rep);
	cr_assert_eq(rep.records, 120);
	cr_assert_eq(rep.torn_tails, 0);
	write_batch(3, 100);
	fx.r = open_reader(0);
	n = tu_read_all(fx.r, fx.got, MAXREC);
	cr_assert_eq(n, 123);
	for (unsigned int i = 0; i < n; i++)
		tu_expect_rec(&fx.got[i], 1, 0, 1, i, 100);
	tu_entries_free(fx.got, n);
}
