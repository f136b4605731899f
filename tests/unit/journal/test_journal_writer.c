/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The write path on the mem store: tickets, group commit, durability in
 * ticket order at both levels, back-pressure, limits, and what a reader
 * sees afterwards.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "journal_priv.h"
#include "journal_testutil.h"

#define MAXREC 4096u

struct fixture {
	struct evg_journal_conf conf;
	struct evg_journal *j;
	struct evg_journal_entry *got;
	unsigned int ngot;
};

static void
start(struct fixture *f, const struct evg_store_ops *ops,
      enum evg_journal_level level, enum evg_journal_sync_mode mode)
{
	tu_conf(&f->conf, "/evg-jrn-mem", ops);
	f->conf.level = level;
	f->conf.sync_mode = mode;
	f->j = tu_open(&f->conf, NULL);
	f->got = calloc(MAXREC, sizeof(*f->got));
	f->ngot = 0;
	cr_assert_not_null(f->got);
}

static void
stop(struct fixture *f)
{
	cr_assert_eq(evg_journal_close(f->j), 0);
	tu_entries_free(f->got, f->ngot);
	free(f->got);
}

static uint64_t
stat_of(const struct fixture *f, uint32_t p, enum evg_journal_stat s)
{
	uint64_t v[EVG_JOURNAL_STAT_MAX];

	evg_journal_stats(f->j, p, v);
	return v[s];
}

static unsigned int
read_back(struct fixture *f, uint32_t p)
{
	struct evg_journal_reader *r = NULL;
	unsigned int n;

	tu_entries_free(f->got, f->ngot);
	cr_assert_eq(evg_jrn_reader_open_store(f->j, p, &r), 0);
	n = tu_read_all(r, f->got, MAXREC);
	f->ngot = n;
	evg_journal_reader_close(r);
	for (unsigned int i = 0; i < n; i++)
		cr_assert_eq(f->got[i].offset, i,
			     "record %u has offset %" PRIu64, i,
			     f->got[i].offset);
	return n;
}

static uint64_t
durable_now(struct fixture *f, uint32_t p)
{
	uint64_t d = 0;

	evg_journal_poll(f->j, p, &d);
	return d;
}

Test(journal_writer, appends_share_a_ticket_until_flush_then_become_durable)
{
	struct fixture f;
	uint64_t first = 99;

	start(&f, &evg_store_mem_ops, EVG_JOURNAL_WRITTEN, 0);
	cr_assert_eq(tu_append(f.j, 0, 1, 0, 1, 0, 3, 10, &first), 1);
	cr_assert_eq(first, 0);
	cr_assert_eq(tu_append(f.j, 0, 1, 0, 1, 3, 2, 10, &first), 1,
		     "an open batch keeps its ticket");
	cr_assert_eq(first, 3);
	cr_assert_eq(durable_now(&f, 0), 0, "nothing is durable before flush");
	cr_assert_eq(evg_journal_flush(f.j, 0), 0);
	tu_wait_durable(f.j, 0, 1);
	cr_assert_eq(tu_append(f.j, 0, 1, 0, 1, 5, 1, 10, &first), 2);
	cr_assert_eq(first, 5);
	evg_journal_flush(f.j, 0);
	tu_wait_durable(f.j, 0, 2);
	cr_assert_eq(read_back(&f, 0), 6);
	for (unsigned int i = 0; i < 6; i++)
		tu_expect_rec(&f.got[i], 1, 0, 1, i, 10);
	stop(&f);
}

Test(journal_writer, one_flush_writes_many_producers_records_in_one_write)
{
	struct fixture f;

	start(&f, &evg_store_mem_ops, EVG_JOURNAL_WRITTEN, 0);
	for (uint32_t k = 0; k < 5; k++)
		for (uint32_t prod = 1; prod <= 10; prod++)
			cr_assert_eq(
				tu_append(f.j, 0, prod, 0, 1, k, 1, 16, NULL),
				1);
	evg_journal_flush(f.j, 0);
	tu_wait_durable(f.j, 0, 1);
	cr_assert_eq(stat_of(&f, 0, EVG_JOURNAL_writes), 1);
	cr_assert_eq(stat_of(&f, 0, EVG_JOURNAL_batches), 1);
	cr_assert_eq(stat_of(&f, 0, EVG_JOURNAL_records), 50);
	/* 64 + 50 * (64 + align8(2 + 16)) = 4464 bytes: two blocks. */
	cr_assert_eq(stat_of(&f, 0, EVG_JOURNAL_bytes), 8192);
	cr_assert_eq(read_back(&f, 0), 50);
	for (unsigned int i = 0; i < 50; i++)
		tu_expect_rec(&f.got[i], i % 10 + 1, 0, 1, i / 10, 16);
	stop(&f);
}

Test(journal_writer, durable_waits_for_the_earliest_write_in_flight)
{
	struct fixture f;
	struct evg_store *st;

	start(&f, &tu_hold_ops, EVG_JOURNAL_WRITTEN, 0);
	st = evg_journal_store(f.j, 0);
	tu_hold_set(st, true);
	for (uint64_t t = 1; t <= 3; t++) {
		cr_assert_eq(tu_append(f.j, 0, 1, 0, 1, t, 1, 8, NULL),
			     (int64_t)t);
		evg_journal_flush(f.j, 0);
	}
	cr_assert_eq(durable_now(&f, 0), 0);
	cr_assert_eq(tu_hold_count(st), 3, "three writes held");
	cr_assert(tu_hold_release(st, JRN_TAG(JRN_TAG_WRITE, 3)));
	cr_assert(tu_hold_release(st, JRN_TAG(JRN_TAG_WRITE, 2)));
	cr_assert_eq(durable_now(&f, 0), 0,
		     "tickets 2 and 3 done, 1 in flight: durable stays 0");
	cr_assert(tu_hold_release(st, JRN_TAG(JRN_TAG_WRITE, 1)));
	cr_assert_eq(durable_now(&f, 0), 3);
	tu_hold_set(st, false);
	stop(&f);
}

Test(journal_writer, synced_level_waits_for_the_fdatasync_after_the_write)
{
	struct fixture f;
	struct evg_store *st;

	start(&f, &tu_hold_ops, EVG_JOURNAL_SYNCED, EVG_JOURNAL_SYNC_FDATASYNC);
	st = evg_journal_store(f.j, 0);
	tu_hold_set(st, true);
	tu_append(f.j, 0, 1, 0, 1, 0, 4, 8, NULL);
	evg_journal_flush(f.j, 0);
	cr_assert_eq(durable_now(&f, 0), 0);
	cr_assert(tu_hold_release(st, JRN_TAG(JRN_TAG_WRITE, 1)));
	cr_assert_eq(durable_now(&f, 0), 0, "written is not synced");
	cr_assert_eq(stat_of(&f, 0, EVG_JOURNAL_syncs), 1);
	cr_assert(tu_hold_release(st, JRN_TAG(JRN_TAG_SYNC, 0)));
	cr_assert_eq(durable_now(&f, 0), 1);
	tu_hold_set(st, false);
	stop(&f);
}

Test(journal_writer, one_fdatasync_covers_every_write_completed_before_it)
{
	struct fixture f;

	start(&f, &evg_store_mem_ops, EVG_JOURNAL_SYNCED,
	      EVG_JOURNAL_SYNC_FDATASYNC);
	for (uint64_t t = 1; t <= 3; t++) {
		tu_append(f.j, 0, 1, 0, 1, t, 1, 8, NULL);
		evg_journal_flush(f.j, 0);
	}
	tu_wait_durable(f.j, 0, 3);
	cr_assert_eq(stat_of(&f, 0, EVG_JOURNAL_writes), 3);
	cr_assert_eq(stat_of(&f, 0, EVG_JOURNAL_syncs), 1);
	stop(&f);
}

Test(journal_writer, dsync_mode_is_durable_on_write_completion)
{
	struct fixture f;

	start(&f, &evg_store_mem_ops, EVG_JOURNAL_SYNCED,
	      EVG_JOURNAL_SYNC_DSYNC);
	tu_append(f.j, 0, 1, 0, 1, 0, 4, 8, NULL);
	evg_journal_flush(f.j, 0);
	tu_wait_durable(f.j, 0, 1);
	cr_assert_eq(stat_of(&f, 0, EVG_JOURNAL_syncs), 0);
	stop(&f);
}

Test(journal_writer, all_buffers_in_flight_refuse_appends_with_enobufs)
{
	struct fixture f;
	struct evg_store *st;

	start(&f, &tu_hold_ops, EVG_JOURNAL_WRITTEN, 0);
	st = evg_journal_store(f.j, 0);
	tu_hold_set(st, true);
	for (uint64_t t = 1; t <= JRN_NBUF; t++) {
		cr_assert_eq(tu_append(f.j, 0, 1, 0, 1, t, 1, 8, NULL),
			     (int64_t)t);
		evg_journal_flush(f.j, 0);
	}
	durable_now(&f, 0);
	cr_assert_eq(tu_append(f.j, 0, 1, 0, 1, 9, 1, 8, NULL), -ENOBUFS);
	cr_assert_eq(stat_of(&f, 0, EVG_JOURNAL_busy), 1);
	cr_assert(tu_hold_release(st, JRN_TAG(JRN_TAG_WRITE, 1)));
	cr_assert_eq(durable_now(&f, 0), 1);
	cr_assert_eq(tu_append(f.j, 0, 1, 0, 1, 9, 1, 8, NULL),
		     (int64_t)JRN_NBUF + 1, "a freed buffer takes appends");
	tu_hold_set(st, false);
	for (uint64_t t = 2; t <= JRN_NBUF; t++)
		tu_hold_release(st, JRN_TAG(JRN_TAG_WRITE, t));
	stop(&f);
}

Test(journal_writer, oversized_records_are_refused_and_leave_no_trace)
{
	struct fixture f;
	static uint8_t big[70000];
	struct evg_journal_rec r = {
		.producer_id = 1, .session = 1, .key = big, .key_size = 65536};
	uint64_t first = 0;

	start(&f, &evg_store_mem_ops, EVG_JOURNAL_WRITTEN, 0);
	cr_assert_eq(evg_journal_append(f.j, 0, &r, 1, NULL), -EMSGSIZE,
		     "a key over 65535 bytes");
	r.key_size = 10;
	r.value = big;
	r.value_size = f.conf.batch_bytes; /* cannot fit with the headers */
	cr_assert_eq(evg_journal_append(f.j, 0, &r, 1, NULL), -EMSGSIZE);
	cr_assert_eq(tu_append(f.j, 0, 1, 0, 1, 0, 1, 8, &first), 1);
	cr_assert_eq(first, 0, "refused records took no offsets");
	stop(&f);
}

Test(journal_writer, full_batch_is_sealed_and_appends_go_on_in_the_next)
{
	struct fixture f;
	uint64_t last = 0;
	unsigned int n = 0;

	start(&f, &evg_store_mem_ops, EVG_JOURNAL_WRITTEN, 0);
	/* 8 KiB batches hold 7 records of 64 + 1000 bytes. */
	for (uint64_t s = 0; s < 20; s++) {
		int64_t t = tu_append(f.j, 0, 3, 0, 1, s, 1, 1000, NULL);

		cr_assert_gt(t, 0);
		cr_assert_geq((uint64_t)t, last);
		last = (uint64_t)t;
		evg_journal_poll(f.j, 0, NULL);
	}
	cr_assert_eq(last, 3, "20 records in batches of 7");
	evg_journal_flush(f.j, 0);
	tu_wait_durable(f.j, 0, last);
	n = read_back(&f, 0);
	cr_assert_eq(n, 20);
	for (unsigned int i = 0; i < n; i++)
		tu_expect_rec(&f.got[i], 3, 0, 1, i, 1000);
	stop(&f);
}

Test(journal_writer, partitions_have_their_own_offsets_and_tickets)
{
	struct fixture f;
	uint64_t first = 9;

	tu_conf(&f.conf, "/evg-jrn-mem", &evg_store_mem_ops);
	f.conf.partitions = 3;
	f.j = tu_open(&f.conf, NULL);
	f.got = calloc(MAXREC, sizeof(*f.got));
	f.ngot = 0;
	cr_assert_eq(evg_journal_partition(f.j, 7), 1);
	cr_assert_eq(tu_append(f.j, 1, 1, 7, 1, 0, 2, 8, &first), 1);
	cr_assert_eq(tu_append(f.j, 2, 1, 8, 1, 0, 1, 8, &first), 1);
	cr_assert_eq(first, 0);
	evg_journal_flush(f.j, 1);
	evg_journal_flush(f.j, 2);
	tu_wait_durable(f.j, 1, 1);
	tu_wait_durable(f.j, 2, 1);
	cr_assert_eq(read_back(&f, 0), 0);
	cr_assert_eq(read_back(&f, 1), 2);
	cr_assert_eq(read_back(&f, 2), 1);
	cr_assert_eq(f.got[0].partition, 2);
	cr_assert_eq(evg_journal_append(f.j, 3, &f.got[0].rec, 1, NULL),
		     -EINVAL, "partition 3 of 3");
	stop(&f);
}

Test(journal_writer, store_queue_of_depth_one_still_gets_everything_durable)
{
	struct fixture f;
	uint64_t t = 0;

	tu_conf(&f.conf, "/evg-jrn-mem", &evg_store_mem_ops);
	f.conf.depth = 1;
	f.conf.level = EVG_JOURNAL_SYNCED;
	f.j = tu_open(&f.conf, NULL);
	f.got = calloc(MAXREC, sizeof(*f.got));
	f.ngot = 0;
	for (uint64_t s = 0; s < 30 * 7; s += 7) { /* rolls, index writes */
		int64_t r = tu_append(f.j, 0, 1, 0, 1, s, 7, 1000, NULL);

		cr_assert_gt(r, 0, "append: %" PRId64, r);
		t = (uint64_t)r;
		evg_journal_flush(f.j, 0);
		evg_journal_poll(f.j, 0, NULL);
	}
	tu_wait_durable(f.j, 0, t);
	cr_assert_eq(read_back(&f, 0), 30 * 7);
	stop(&f);
}

/* Buffers of 2 MiB and more come from hugepages where there are some. */
Test(journal_writer, megabyte_batches_carry_megabyte_records)
{
	struct fixture f;
	static uint8_t val[3u << 20];
	struct evg_journal_rec r = {.producer_id = 2,
				    .session = 1,
				    .value = val,
				    .value_size = sizeof(val)};
	struct evg_journal_reader *rd = NULL;
	struct evg_journal_entry e;

	tu_conf(&f.conf, "/evg-jrn-mem", &evg_store_mem_ops);
	f.conf.batch_bytes = 4u << 20;
	f.conf.segment_bytes = 16u << 20;
	f.j = tu_open(&f.conf, NULL);
	f.got = NULL;
	f.ngot = 0;
	for (size_t i = 0; i < sizeof(val); i++)
		val[i] = (uint8_t)(i * 7);
	for (uint64_t s = 0; s < 6; s++) {
		r.seq = s;
		cr_assert_eq(evg_journal_append(f.j, 0, &r, 1, NULL),
			     (int64_t)s + 1, "one record per batch");
		evg_journal_poll(f.j, 0, NULL);
	}
	evg_journal_flush(f.j, 0);
	tu_wait_durable(f.j, 0, 6);
	cr_assert_eq(evg_jrn_reader_open_store(f.j, 0, &rd), 0);
	for (uint64_t s = 0; s < 6; s++) {
		cr_assert_eq(evg_journal_reader_next(rd, &e), 0);
		cr_assert(e.rec.seq == s && e.rec.value_size == sizeof(val) &&
			  memcmp(e.rec.value, val, sizeof(val)) == 0);
	}
	cr_assert_eq(evg_journal_reader_next(rd, &e), -ENODATA);
	evg_journal_reader_close(rd);
	stop(&f);
}

static int64_t
index_size(struct evg_store *st)
{
	int fid = tu_hold_ops.open(st, "p0000/00000000000000000000.idx", false,
				   0);
	int64_t size;

	cr_assert_geq(fid, 0);
	size = tu_hold_ops.size(st, fid);
	tu_hold_ops.close(st, fid);
	return size;
}

/* An index on disk must never name a batch a crash could take away. */
Test(journal_writer, index_block_is_written_once_its_batches_are_durable)
{
	struct fixture f;
	struct evg_store *st;
	int64_t t = 0;

	tu_conf(&f.conf, "/evg-jrn-mem", &tu_hold_ops);
	f.conf.segment_bytes = 4u << 20; /* an entry for each of 1024 */
	f.j = tu_open(&f.conf, NULL);
	f.got = NULL;
	f.ngot = 0;
	st = evg_journal_store(f.j, 0);
	for (uint64_t s = 0; s < JRN_IDX_PER_BLOCK - 2; s++) {
		t = tu_append(f.j, 0, 1, 0, 1, s, 1, 8, NULL);
		evg_journal_flush(f.j, 0);
		tu_wait_durable(f.j, 0, (uint64_t)t);
	}
	/* The last two entries of the block: the first one's batch becomes
	 * durable while the second one's is still in flight. */
	tu_hold_set(st, true);
	for (uint64_t s = JRN_IDX_PER_BLOCK - 2; s < JRN_IDX_PER_BLOCK; s++) {
		t = tu_append(f.j, 0, 1, 0, 1, s, 1, 8, NULL);
		evg_journal_flush(f.j, 0);
	}
	durable_now(&f, 0);
	cr_assert(tu_hold_release(st, JRN_TAG(JRN_TAG_WRITE, (uint64_t)t - 1)));
	cr_assert_eq(durable_now(&f, 0), (uint64_t)t - 1);
	cr_assert_eq(index_size(st), 0,
		     "a full block, but its last batch is in flight");
	cr_assert(tu_hold_release(st, JRN_TAG(JRN_TAG_WRITE, (uint64_t)t)));
	tu_hold_set(st, false);
	tu_wait_durable(f.j, 0, (uint64_t)t);
	durable_now(&f, 0);
	cr_assert_eq(index_size(st), 4096);
	stop(&f);
}
