/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Recovery at open, on real files (psync store in a temporary directory):
 * restarts, torn tails cut at every byte, corruption before the tail,
 * indexes rebuilt, and producer states with and without a checkpoint.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "journal_priv.h"
#include "journal_testutil.h"

#define MAXREC 1024u
#define VAL 20u /* record = 64 + align8(2 + 20) = 88 bytes */

struct fixture {
	char dir[256];
	char copy[1024];
	struct evg_journal_conf conf;
	struct evg_journal_entry *got;
};

/* Each test runs in a process of its own; .fini removes the directories
 * also when an assertion fails. */
static struct fixture fx;

static void
setup(void)
{
	struct fixture *f = &fx;

	tu_mkdtemp(f->dir, sizeof(f->dir));
	cr_assert_lt(snprintf(f->copy, sizeof(f->copy), "%s-copy", f->dir),
		     (int)sizeof(f->copy));
	tu_conf(&f->conf, f->dir, &evg_store_psync_ops);
	f->got = calloc(MAXREC, sizeof(*f->got));
	cr_assert_not_null(f->got);
}

static void
teardown(void)
{
	struct fixture *f = &fx;

	tu_rmrf(f->dir);
	tu_rmrf(f->copy);
	free(f->got);
}

TestSuite(journal_recovery, .init = setup, .fini = teardown);

/* Write batches of `per` records (producer 1, stream 0, session 1) and
 * close: seqs 0 .. batches * per - 1. */
static void
write_log(const struct evg_journal_conf *c, unsigned int batches,
	  unsigned int per)
{
	struct evg_journal *j = tu_open(c, NULL);

	for (unsigned int b = 0; b < batches; b++) {
		int64_t t = tu_append(j, 0, 1, 0, 1, (uint64_t)b * per, per,
				      VAL, NULL);

		cr_assert_gt(t, 0);
		evg_journal_flush(j, 0);
		tu_wait_durable(j, 0, (uint64_t)t);
	}
	cr_assert_eq(evg_journal_close(j), 0);
}

/* Open dir, read partition 0 with a POSIX reader, check the records are
 * seqs 0 .. n - 1, close. */
static void
expect_log(struct fixture *f, const char *dir, unsigned int n,
	   struct evg_journal_recovery *rep)
{
	struct evg_journal_conf c = f->conf;
	struct evg_journal_reader *r = NULL;
	struct evg_journal *j;
	char err[256] = "";
	unsigned int got;

	c.dir = dir;
	j = tu_open(&c, rep);
	cr_assert_eq(evg_journal_reader_open(dir, 0, &r, err, sizeof(err)), 0,
		     "%s", err);
	got = tu_read_all(r, f->got, MAXREC);
	cr_assert_eq(got, n, "%u records after recovery, expected %u", got, n);
	for (unsigned int i = 0; i < n; i++)
		tu_expect_rec(&f->got[i], 1, 0, 1, i, VAL);
	tu_entries_free(f->got, got);
	evg_journal_reader_close(r);
	cr_assert_eq(evg_journal_close(j), 0);
}

static void
truncate_file(const char *path, uint64_t len)
{
	cr_assert_eq(truncate(path, (off_t)len), 0, "truncate %s", path);
}

static void
flip_byte(const char *path, uint64_t pos)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &b, 1, (off_t)pos), 1);
	b ^= 0xFF;
	cr_assert_eq(pwrite(fd, &b, 1, (off_t)pos), 1);
	close(fd);
}

Test(journal_recovery, reopen_continues_offsets_after_the_last_record)
{
	struct fixture *f = &fx;
	struct evg_journal_recovery rep;
	struct evg_journal *j;
	uint64_t first = 0;

	write_log(&f->conf, 10, 3);
	j = tu_open(&f->conf, &rep);
	cr_assert_eq(rep.records, 30);
	cr_assert_eq(rep.segments, 1);
	cr_assert(rep.torn_bytes == 0 && rep.torn_tails == 0);
	cr_assert_eq(rep.indexes_rebuilt, 0, "a clean close leaves indexes");
	cr_assert_eq(tu_append(j, 0, 1, 0, 1, 30, 2, VAL, &first), 1,
		     "tickets start again at 1");
	cr_assert_eq(first, 30);
	evg_journal_flush(j, 0);
	tu_wait_durable(j, 0, 1);
	cr_assert_eq(evg_journal_close(j), 0);
	expect_log(f, f->dir, 32, &rep);
}

/* Three batches of two records at 0, 4096 and 8192; the last is
 * 64 + 2 * 88 = 240 bytes long. */
#define LAST_POS 8192u
#define LAST_LEN 240u

Test(journal_recovery, torn_tail_at_every_byte_of_the_last_batch_is_cut)
{
	struct fixture *f = &fx;
	struct evg_journal_recovery rep;
	char seg[1024];

	write_log(&f->conf, 3, 2);
	for (uint64_t k = 0; k < LAST_LEN; k++) {
		tu_copy_log(f->dir, f->copy);
		tu_seg_path(seg, sizeof(seg), f->copy, 0, 0, ".seg");
		truncate_file(seg, LAST_POS + k);
		expect_log(f, f->copy, 4, &rep);
		cr_assert_eq(rep.torn_bytes, k, "cut at %" PRIu64, k);
		cr_assert_eq(rep.torn_tails, k > 0);
		cr_assert_eq(rep.records, 4);
		cr_assert_eq(tu_file_size(seg), LAST_POS);
		tu_rmrf(f->copy);
	}
}

Test(journal_recovery,
     cut_inside_the_padding_after_the_last_batch_loses_nothing)
{
	struct fixture *f = &fx;
	struct evg_journal_recovery rep;
	char seg[1024];

	write_log(&f->conf, 3, 2);
	tu_copy_log(f->dir, f->copy);
	tu_seg_path(seg, sizeof(seg), f->copy, 0, 0, ".seg");
	truncate_file(seg, LAST_POS + LAST_LEN);
	expect_log(f, f->copy, 6, &rep);
	cr_assert(rep.torn_bytes == 0 && rep.torn_tails == 0);
}

/* Found by fuzz_journal: junk in the last batch's block, after its end,
 * was kept; the writer appended at the next block, and the next open
 * read the junk as a bad batch and cut the appended records. */
Test(journal_recovery,
     junk_after_the_last_batch_in_its_block_is_cut_appends_survive)
{
	struct fixture *f = &fx;
	struct evg_journal_recovery rep;
	struct evg_journal *j;
	char seg[1024];
	int64_t size;

	write_log(&f->conf, 3, 2);
	tu_seg_path(seg, sizeof(seg), f->dir, 0, 0, ".seg");
	size = tu_file_size(seg);
	for (uint64_t k = 0; k < 20; k++)
		flip_byte(seg, LAST_POS + LAST_LEN + k); /* zeros -> 0xff */
	j = tu_open(&f->conf, &rep);
	cr_assert_eq(rep.records, 6);
	cr_assert_eq(rep.torn_bytes, (uint64_t)size - (LAST_POS + LAST_LEN),
		     "cut from the end of the last batch");
	cr_assert_eq(tu_file_size(seg), LAST_POS + LAST_LEN);
	cr_assert_eq(tu_append(j, 0, 1, 0, 1, 6, 1, VAL, NULL), 1);
	evg_journal_flush(j, 0);
	tu_wait_durable(j, 0, 1);
	cr_assert_eq(evg_journal_close(j), 0);
	expect_log(f, f->dir, 7, &rep);
	cr_assert(rep.torn_bytes == 0 && rep.torn_tails == 0,
		  "the appended record survives: torn %" PRIu64,
		  rep.torn_bytes);
}

Test(journal_recovery, corrupt_byte_anywhere_in_the_last_batch_cuts_it)
{
	struct fixture *f = &fx;
	struct evg_journal_recovery rep;
	char seg[1024];

	write_log(&f->conf, 3, 2);
	for (uint64_t k = 0; k < LAST_LEN; k++) {
		tu_copy_log(f->dir, f->copy);
		tu_seg_path(seg, sizeof(seg), f->copy, 0, 0, ".seg");
		flip_byte(seg, LAST_POS + k);
		expect_log(f, f->copy, 4, &rep);
		cr_assert_eq(rep.torn_bytes, 4096, "flip at %" PRIu64, k);
		cr_assert_eq(rep.torn_tails, 1);
		tu_rmrf(f->copy);
	}
}

Test(journal_recovery, producer_states_follow_a_cut_tail)
{
	struct fixture *f = &fx;
	struct evg_journal_recovery rep;
	struct evg_journal *j;
	char seg[1024];

	write_log(&f->conf, 3, 2); /* the checkpoint at close says seq 6 */
	tu_seg_path(seg, sizeof(seg), f->dir, 0, 0, ".seg");
	truncate_file(seg, LAST_POS + 100);
	j = tu_open(&f->conf, &rep);
	cr_assert_eq(rep.from_checkpoint, 0,
		     "a checkpoint past the cut must not be used");
	cr_assert_eq(rep.producers, 1);
	cr_assert_eq(evg_journal_close(j), 0);
	expect_log(f, f->dir, 4, &rep);
}

Test(journal_recovery, corruption_before_the_tail_fails_open_naming_the_file)
{
	struct fixture *f = &fx;
	struct evg_journal *j = NULL;
	char seg[1024], err[512] = "";
	int rc;

	write_log(&f->conf, 20, 2); /* 16 blocks to a segment: two of them */
	tu_seg_path(seg, sizeof(seg), f->dir, 0, 32, ".seg");
	cr_assert_gt(tu_file_size(seg), 0, "a second segment at offset 32");
	tu_seg_path(seg, sizeof(seg), f->dir, 0, 0, ".seg");
	flip_byte(seg, 15 * 4096 + 100); /* the first segment's last batch */
	rc = evg_journal_open(&f->conf, &j, NULL, err, sizeof(err));
	cr_assert_eq(rc, -EBADMSG, "open: %d (%s)", rc, err);
	cr_assert_not_null(strstr(err, "p0000/00000000000000000000.seg"), "%s",
			   err);
	cr_assert_not_null(strstr(err, "not the last"), "%s", err);
}

Test(journal_recovery, missing_segment_in_the_middle_fails_open)
{
	struct fixture *f = &fx;
	struct evg_journal *j = NULL;
	char seg[1024], err[512] = "";

	write_log(&f->conf, 40, 2); /* segments at 0, 32, 64 */
	tu_seg_path(seg, sizeof(seg), f->dir, 0, 32, ".seg");
	cr_assert_eq(unlink(seg), 0);
	cr_assert_eq(evg_journal_open(&f->conf, &j, NULL, err, sizeof(err)),
		     -EBADMSG);
	cr_assert_not_null(strstr(err, "starts at offset 64"), "%s", err);
}

static void
read_file(const char *path, uint8_t *buf, size_t cap, int64_t *len)
{
	int fd = open(path, O_RDONLY);

	cr_assert_geq(fd, 0, "open %s", path);
	*len = read(fd, buf, cap);
	close(fd);
}

Test(journal_recovery, missing_indexes_are_rebuilt_as_they_were)
{
	struct fixture *f = &fx;
	struct evg_journal_recovery rep;
	struct evg_journal *j;
	uint8_t want[8192], got[8192];
	int64_t wlen, glen;
	char idx[1024], tix[1024];

	write_log(&f->conf, 20, 2);
	tu_seg_path(idx, sizeof(idx), f->dir, 0, 0, ".idx");
	tu_seg_path(tix, sizeof(tix), f->dir, 0, 32, ".tix");
	read_file(idx, want, sizeof(want), &wlen);
	cr_assert_eq(unlink(idx), 0);
	cr_assert_eq(unlink(tix), 0);
	j = tu_open(&f->conf, &rep);
	cr_assert_eq(rep.indexes_rebuilt, 2);
	cr_assert_eq(evg_journal_close(j), 0);
	read_file(idx, got, sizeof(got), &glen);
	cr_assert(glen == wlen && memcmp(want, got, (size_t)wlen) == 0,
		  "the rebuilt index differs from the one written");
	j = tu_open(&f->conf, &rep);
	cr_assert_eq(rep.indexes_rebuilt, 0);
	cr_assert_eq(evg_journal_close(j), 0);
}

Test(journal_recovery, empty_segment_left_by_a_roll_is_dropped_with_the_tail)
{
	struct fixture *f = &fx;
	struct evg_journal_recovery rep;
	char seg[1024], next[1024];
	int fd;

	write_log(&f->conf, 3, 2);
	tu_seg_path(seg, sizeof(seg), f->dir, 0, 0, ".seg");
	tu_seg_path(next, sizeof(next), f->dir, 0, 6, ".seg");
	truncate_file(seg, LAST_POS + 50);
	fd = open(next, O_WRONLY | O_CREAT, 0644);
	cr_assert_geq(fd, 0);
	close(fd);
	expect_log(f, f->dir, 4, &rep);
	cr_assert_eq(rep.segments, 1);
	cr_assert_eq(rep.torn_bytes, 50);
	cr_assert_lt(tu_file_size(next), 0, "the empty segment is gone");
}

Test(journal_recovery, other_partition_count_is_refused_with_both_counts)
{
	struct fixture *f = &fx;
	struct evg_journal *j = NULL;
	char err[512] = "";

	f->conf.partitions = 2;
	cr_assert_eq(evg_journal_close(tu_open(&f->conf, NULL)), 0);
	cr_assert_eq(evg_journal_partitions(f->dir), 2);
	f->conf.partitions = 3;
	cr_assert_eq(evg_journal_open(&f->conf, &j, NULL, err, sizeof(err)),
		     -EINVAL);
	cr_assert_not_null(strstr(err, "has 2 partitions, config says 3"), "%s",
			   err);
}

/* ---- producer states ---- */

struct pstate {
	uint32_t producer, stream;
	uint64_t session, next;
};

struct pwalk {
	struct pstate s[16];
	unsigned int n;
};

static int
collect(void *arg, uint32_t producer, uint32_t stream, uint64_t session,
	uint64_t next)
{
	struct pwalk *w = arg;

	cr_assert_lt(w->n, 16);
	w->s[w->n++] = (struct pstate){producer, stream, session, next};
	return 0;
}

static void
expect_states(struct evg_journal *j, const struct pstate *want, unsigned int n)
{
	struct pwalk w = {.n = 0};

	cr_assert_eq(evg_journal_producers(j, collect, &w), 0);
	cr_assert_eq(w.n, n, "%u producer states, expected %u", w.n, n);
	for (unsigned int i = 0; i < n; i++) {
		unsigned int k = 0;

		while (k < w.n && (w.s[k].producer != want[i].producer ||
				   w.s[k].stream != want[i].stream))
			k++;
		cr_assert_lt(k, w.n, "no state for producer %" PRIu32,
			     want[i].producer);
		cr_assert(w.s[k].session == want[i].session &&
				  w.s[k].next == want[i].next,
			  "producer %" PRIu32 ": (%" PRIu64 ", %" PRIu64
			  "), expected (%" PRIu64 ", %" PRIu64 ")",
			  want[i].producer, w.s[k].session, w.s[k].next,
			  want[i].session, want[i].next);
	}
}

static void
append_durable(struct evg_journal *j, uint32_t producer, uint32_t stream,
	       uint64_t session, uint64_t seq, unsigned int n)
{
	int64_t t =
		tu_append(j, 0, producer, stream, session, seq, n, VAL, NULL);

	cr_assert_gt(t, 0);
	evg_journal_flush(j, 0);
	tu_wait_durable(j, 0, (uint64_t)t);
}

static const struct pstate all_states[] = {
	{1, 0, 6, 3},	/* session 5 seqs 0..9, then session 6 seqs 0..2 */
	{2, 1, 1, 100}, /* seqs 0..99 */
	{3, 2, 9, 5},	/* session 9 seqs 0..4; a stale session 8 after */
};

static void
write_states(struct evg_journal *j)
{
	append_durable(j, 1, 0, 5, 0, 10);
	for (unsigned int i = 0; i < 100; i += 50)
		append_durable(j, 2, 1, 1, i, 50);
	append_durable(j, 3, 2, 9, 0, 5);
	append_durable(j, 1, 0, 6, 0, 3);
	append_durable(j, 3, 2, 8, 50, 1);
}

static void
remove_checkpoints(const char *dir)
{
	char path[1024];

	for (unsigned int s = 0; s < 2; s++) {
		cr_assert_lt(snprintf(path, sizeof(path),
				      "%s/p0000/checkpoint.%u", dir, s),
			     (int)sizeof(path));
		unlink(path);
	}
}

Test(journal_recovery, producer_states_are_rebuilt_from_records_alone)
{
	struct fixture *f = &fx;
	struct evg_journal_recovery rep;
	struct evg_journal *j;

	j = tu_open(&f->conf, NULL);
	write_states(j);
	expect_states(j, all_states, 3);
	cr_assert_eq(evg_journal_close(j), 0);
	remove_checkpoints(f->dir);
	j = tu_open(&f->conf, &rep);
	cr_assert_eq(rep.from_checkpoint, 0);
	cr_assert_eq(rep.producers, 3);
	expect_states(j, all_states, 3);
	cr_assert_eq(evg_journal_close(j), 0);
}

Test(journal_recovery, producer_states_are_checkpoint_plus_the_records_after)
{
	struct fixture *f = &fx;
	struct evg_journal_recovery rep;
	struct evg_journal *j;
	const struct pstate later[] = {
		{1, 0, 7, 2}, {2, 1, 1, 100}, {3, 2, 9, 5}, {4, 4, 1, 1}};

	j = tu_open(&f->conf, NULL);
	write_states(j);
	cr_assert_eq(evg_journal_close(j), 0); /* checkpoint: 3 states */
	j = tu_open(&f->conf, &rep);
	cr_assert_eq(rep.from_checkpoint, 3);
	append_durable(j, 1, 0, 7, 0, 2);
	append_durable(j, 4, 4, 1, 0, 1);
	/* A copy of the files as a crash would leave them: the checkpoint
	 * of the first close, and the new records after it. */
	tu_copy_log(f->dir, f->copy);
	cr_assert_eq(evg_journal_close(j), 0);
	f->conf.dir = f->copy;
	j = tu_open(&f->conf, &rep);
	cr_assert_eq(rep.from_checkpoint, 3);
	cr_assert_eq(rep.producers, 4);
	expect_states(j, later, 4);
	cr_assert_eq(evg_journal_close(j), 0);
}

Test(journal_recovery, checkpoint_keeps_states_of_segments_retention_removed)
{
	struct fixture *f = &fx;
	struct evg_journal_recovery rep;
	struct evg_journal *j;
	const struct pstate want[] = {{9, 9, 3, 1}, {1, 0, 1, 200}};
	char seg[1024];

	f->conf.retention_bytes = 64 * 1024;
	j = tu_open(&f->conf, NULL);
	append_durable(j, 9, 9, 3, 0, 1); /* only in segment 0 */
	for (unsigned int i = 0; i < 200; i += 5)
		append_durable(j, 1, 0, 1, i, 5); /* 40 blocks: 3 segments */
	cr_assert_eq(evg_journal_close(j), 0);
	tu_seg_path(seg, sizeof(seg), f->dir, 0, 0, ".seg");
	cr_assert_lt(tu_file_size(seg), 0, "segment 0 was removed");
	j = tu_open(&f->conf, &rep);
	expect_states(j, want, 2);
	cr_assert_eq(evg_journal_close(j), 0);
	remove_checkpoints(f->dir);
	j = tu_open(&f->conf, &rep);
	expect_states(j, &want[1], 1); /* without it, producer 9 is lost */
	cr_assert_eq(evg_journal_close(j), 0);
}

Test(journal_recovery, checkpoint_of_records_cut_away_never_comes_back)
{
	struct fixture *f = &fx;
	struct evg_journal *j;
	const struct pstate want[] = {{1, 0, 1, 20}};
	char seg[1024];

	/* Two closes: checkpoints of generations 1 and 2, both covering
	 * producer 5, whose records are then cut off. */
	j = tu_open(&f->conf, NULL);
	append_durable(j, 1, 0, 1, 0, 2);
	cr_assert_eq(evg_journal_close(j), 0);
	j = tu_open(&f->conf, NULL);
	append_durable(j, 5, 5, 9, 0, 2);
	cr_assert_eq(evg_journal_close(j), 0);
	tu_seg_path(seg, sizeof(seg), f->dir, 0, 0, ".seg");
	truncate_file(seg, 4096);
	/* The log grows past where both checkpoints stood (not so far
	 * that a roll writes a new one); a crash. */
	j = tu_open(&f->conf, NULL);
	for (unsigned int s = 2; s < 20; s += 2)
		append_durable(j, 1, 0, 1, s, 2);
	tu_copy_log(f->dir, f->copy);
	cr_assert_eq(evg_journal_close(j), 0);
	f->conf.dir = f->copy;
	j = tu_open(&f->conf, NULL);
	expect_states(j, want, 1);
	cr_assert_eq(evg_journal_close(j), 0);
}

Test(journal_recovery, missing_log_directory_fails_open_naming_it)
{
	struct fixture *f = &fx;
	struct evg_journal *j = NULL;
	char err[512] = "";

	f->conf.dir = f->copy; /* never created */
	cr_assert_eq(evg_journal_open(&f->conf, &j, NULL, err, sizeof(err)),
		     -ENOENT);
	cr_assert_not_null(strstr(err, f->copy), "%s", err);
	cr_assert_null(j);
}

Test(journal_recovery, invalid_configuration_names_the_option_and_value)
{
	struct fixture *f = &fx;
	struct evg_journal *j = NULL;
	char err[512] = "";

	f->conf.batch_bytes = 5000;
	cr_assert_eq(evg_journal_open(&f->conf, &j, NULL, err, sizeof(err)),
		     -EINVAL);
	cr_assert_not_null(strstr(err, "batch_bytes = 5000"), "%s", err);
	f->conf.batch_bytes = 8192;
	f->conf.partitions = 0;
	cr_assert_eq(evg_journal_open(&f->conf, &j, NULL, err, sizeof(err)),
		     -EINVAL);
	cr_assert_not_null(strstr(err, "partitions = 0"), "%s", err);
}

Test(journal_recovery, checkpoint_written_at_a_roll_serves_after_a_crash)
{
	struct fixture *f = &fx;
	struct evg_journal_recovery rep;
	struct evg_journal *j;
	const struct pstate want[] = {{1, 0, 1, 40}, {2, 2, 4, 1}};

	j = tu_open(&f->conf, NULL);
	append_durable(j, 2, 2, 4, 0, 1);
	for (unsigned int s = 0; s < 40; s += 2) /* rolls after 16 blocks */
		append_durable(j, 1, 0, 1, s, 2);
	for (int i = 0; i < 100; i++)
		evg_journal_poll(j, 0, NULL); /* the checkpoint's write */
	tu_copy_log(f->dir, f->copy);
	cr_assert_eq(evg_journal_close(j), 0);
	f->conf.dir = f->copy;
	j = tu_open(&f->conf, &rep);
	cr_assert_eq(rep.from_checkpoint, 2,
		     "the roll's checkpoint has both producers");
	expect_states(j, want, 2);
	cr_assert_eq(evg_journal_close(j), 0);
}

Test(journal_recovery, recovery_reads_only_from_the_last_index_entry_on_disk)
{
	struct fixture *f = &fx;
	struct evg_journal_recovery rep;
	struct evg_journal *j;
	char idx[1024];

	f->conf.segment_bytes = 4u << 20; /* 1024 blocks, 1024 entries */
	j = tu_open(&f->conf, NULL);
	for (unsigned int b = 0; b < 300; b++)
		append_durable(j, 1, 0, 1, b, 1);
	for (int i = 0; i < 100; i++)
		evg_journal_poll(j, 0, NULL);
	tu_seg_path(idx, sizeof(idx), f->dir, 0, 0, ".idx");
	cr_assert_eq(tu_file_size(idx), 4096,
		     "the first 256 entries are written once durable");
	tu_copy_log(f->dir, f->copy);
	cr_assert_eq(evg_journal_close(j), 0);
	f->conf.dir = f->copy;
	j = tu_open(&f->conf, &rep);
	cr_assert_eq(rep.records, 300);
	/* From entry 255 (batch 255) to batch 299, twice: for the index
	 * and for the producer states, which have no checkpoint. */
	cr_assert_eq(rep.batches, 45 + 300, "%" PRIu64 " batches read",
		     rep.batches);
	cr_assert_eq(rep.indexes_rebuilt, 1, "the index is extended");
	cr_assert_eq(evg_journal_close(j), 0);
}
