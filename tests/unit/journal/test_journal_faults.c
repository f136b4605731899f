/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Failing storage (mem store, evg_store_mem_fail): appends are refused
 * with the error, durability stops at the failed ticket, the failed
 * batch is written again at the same place until it succeeds, and then
 * everything resumes with nothing lost, duplicated or reordered.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "journal_priv.h"
#include "journal_testutil.h"

#define MAXREC 256u

struct fixture {
	struct evg_journal_conf conf;
	struct evg_journal *j;
	struct evg_store *mem; /* the store to break */
	uint64_t seq;
};

static void
start(struct fixture *f, enum evg_journal_level level)
{
	tu_conf(&f->conf, "/evg-jrn-mem", &evg_store_mem_ops);
	f->conf.level = level;
	f->j = tu_open(&f->conf, NULL);
	f->mem = evg_journal_store(f->j, 0);
	f->seq = 0;
}

static int64_t
append_flush(struct fixture *f, unsigned int n)
{
	int64_t t = tu_append(f->j, 0, 1, 0, 1, f->seq, n, 12, NULL);

	if (t > 0) {
		f->seq += n;
		evg_journal_flush(f->j, 0);
	}
	return t;
}

static uint64_t
poll_n(struct fixture *f, unsigned int times)
{
	uint64_t d = 0;

	for (unsigned int i = 0; i < times; i++)
		evg_journal_poll(f->j, 0, &d);
	return d;
}

static uint64_t
stat_of(const struct fixture *f, enum evg_journal_stat s)
{
	uint64_t v[EVG_JOURNAL_STAT_MAX];

	evg_journal_stats(f->j, 0, v);
	return v[s];
}

/* Every record seqs 0 .. seq - 1 exactly once, at offsets 0 .. */
static void
expect_everything_once(struct fixture *f)
{
	struct evg_journal_entry *got = calloc(MAXREC, sizeof(*got));
	struct evg_journal_reader *r = NULL;
	unsigned int n;

	cr_assert_eq(evg_jrn_reader_open_store(f->j, 0, &r), 0);
	n = tu_read_all(r, got, MAXREC);
	cr_assert_eq(n, f->seq, "%u records, expected %" PRIu64, n, f->seq);
	for (unsigned int i = 0; i < n; i++) {
		cr_assert_eq(got[i].offset, i);
		tu_expect_rec(&got[i], 1, 0, 1, i, 12);
	}
	tu_entries_free(got, n);
	evg_journal_reader_close(r);
	free(got);
}

Test(journal_faults, enospc_refuses_appends_and_holds_durable_until_cleared)
{
	struct fixture f;

	start(&f, EVG_JOURNAL_WRITTEN);
	cr_assert_eq(append_flush(&f, 3), 1);
	cr_assert_eq(poll_n(&f, 2), 1);
	cr_assert_eq(evg_store_mem_fail(f.mem, -ENOSPC), 0);
	cr_assert_eq(append_flush(&f, 2), 2);
	cr_assert_eq(poll_n(&f, 5), 1, "durable stops before the failed write");
	cr_assert_geq(stat_of(&f, EVG_JOURNAL_write_errors), 1);
	cr_assert_eq(tu_append(f.j, 0, 1, 0, 1, f.seq, 1, 12, NULL), -ENOSPC,
		     "the caller answers NAK STORAGE");
	cr_assert_geq(stat_of(&f, EVG_JOURNAL_busy), 1);
	cr_assert_eq(evg_store_mem_fail(f.mem, 0), 0);
	tu_wait_durable(f.j, 0, 2); /* the rewrite, a millisecond later */
	cr_assert_eq(append_flush(&f, 4), 3, "appends resume");
	tu_wait_durable(f.j, 0, 3);
	expect_everything_once(&f);
	cr_assert_eq(evg_journal_close(f.j), 0);
}

Test(journal_faults, later_write_that_succeeded_waits_for_the_failed_one)
{
	struct fixture f;

	start(&f, EVG_JOURNAL_WRITTEN);
	cr_assert_eq(evg_store_mem_fail(f.mem, -EIO), 0);
	cr_assert_eq(append_flush(&f, 2), 1); /* its write will fail */
	cr_assert_eq(evg_store_mem_fail(f.mem, 0), 0);
	cr_assert_eq(append_flush(&f, 2), 2); /* queued before the failure */
	cr_assert_eq(poll_n(&f, 1), 0, "ticket 2 done, ticket 1 failed");
	cr_assert_eq(tu_append(f.j, 0, 1, 0, 1, f.seq, 1, 12, NULL), -EIO);
	tu_wait_durable(f.j, 0, 2); /* the rewrite of 1 releases both */
	expect_everything_once(&f);
	cr_assert_eq(stat_of(&f, EVG_JOURNAL_write_errors), 1);
	cr_assert_eq(evg_journal_close(f.j), 0);
}

Test(journal_faults, failed_fdatasync_rewrites_the_data_and_syncs_again)
{
	struct fixture f;

	start(&f, EVG_JOURNAL_SYNCED);
	/* mem fails what is queued while failing: the write is queued by
	 * the flush, the fdatasync by the poll after the write completes. */
	cr_assert_eq(append_flush(&f, 2), 1);
	cr_assert_eq(evg_store_mem_fail(f.mem, -EIO), 0);
	cr_assert_eq(poll_n(&f, 1), 0);
	cr_assert_eq(stat_of(&f, EVG_JOURNAL_write_errors), 1);
	cr_assert_eq(tu_append(f.j, 0, 1, 0, 1, f.seq, 1, 12, NULL), -EIO);
	cr_assert_eq(evg_store_mem_fail(f.mem, 0), 0);
	tu_wait_durable(f.j, 0, 1);
	cr_assert_eq(stat_of(&f, EVG_JOURNAL_writes), 2, "written again");
	cr_assert_eq(stat_of(&f, EVG_JOURNAL_syncs), 2, "and synced again");
	expect_everything_once(&f);
	cr_assert_eq(evg_journal_close(f.j), 0);
}

Test(journal_faults, storage_full_for_many_polls_loses_nothing)
{
	struct fixture f;
	uint64_t durable;

	start(&f, EVG_JOURNAL_WRITTEN);
	for (unsigned int round = 0; round < 5; round++) {
		cr_assert_gt(append_flush(&f, 5), 0);
		cr_assert_eq(evg_store_mem_fail(f.mem, -ENOSPC), 0);
		cr_assert_gt(append_flush(&f, 5), 0);
		durable = poll_n(&f, 20);
		cr_assert_eq(tu_append(f.j, 0, 1, 0, 1, f.seq, 1, 12, NULL),
			     -ENOSPC);
		cr_assert_eq(evg_store_mem_fail(f.mem, 0), 0);
		tu_wait_durable(f.j, 0, durable + 1);
	}
	tu_wait_durable(f.j, 0, 10);
	expect_everything_once(&f);
	cr_assert_geq(stat_of(&f, EVG_JOURNAL_write_errors), 5);
	cr_assert_eq(evg_journal_close(f.j), 0);
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

Test(journal_faults, failed_write_is_retried_at_most_once_a_millisecond)
{
	struct fixture f;
	uint64_t t0, errors;

	start(&f, EVG_JOURNAL_WRITTEN);
	cr_assert_eq(evg_store_mem_fail(f.mem, -EIO), 0);
	cr_assert_eq(append_flush(&f, 1), 1);
	t0 = mono_ms();
	poll_n(&f, 5000);
	errors = stat_of(&f, EVG_JOURNAL_write_errors);
	cr_assert_geq(errors, 1);
	cr_assert_leq(errors, mono_ms() - t0 + 2,
		      "%" PRIu64 " failed writes in %" PRIu64 " ms", errors,
		      mono_ms() - t0);
	cr_assert_eq(evg_store_mem_fail(f.mem, 0), 0);
	tu_wait_durable(f.j, 0, 1);
	cr_assert_eq(evg_journal_close(f.j), 0);
}

/* Segments are preallocated, so a full disk shows first when a roll
 * creates the next one: the roll fails, is counted, and is tried again at
 * most once a millisecond, not at every append; once space returns the
 * log rolls and resumes with nothing lost. */
Test(journal_faults, failed_roll_is_retried_at_most_once_a_millisecond)
{
	const struct jrn_part *pt;
	struct fixture f;
	uint64_t t0, errors, batches;
	int64_t t;

	start(&f, EVG_JOURNAL_WRITTEN);
	pt = &f.j->parts[0];
	while (pt->seg[pt->cur].pos < f.conf.segment_bytes) {
		cr_assert_gt(append_flush(&f, 8), 0);
		tu_wait_durable(f.j, 0, stat_of(&f, EVG_JOURNAL_batches));
	}
	batches = stat_of(&f, EVG_JOURNAL_batches);
	cr_assert_eq(evg_store_mem_fail(f.mem, -ENOSPC), 0);
	t0 = mono_ms();
	for (unsigned int i = 0; i < 5000; i++) {
		cr_assert_eq(tu_append(f.j, 0, 1, 0, 1, f.seq, 1, 12, NULL),
			     -ENOSPC, "append %u during the failed roll", i);
		poll_n(&f, 1);
	}
	errors = stat_of(&f, EVG_JOURNAL_roll_errors);
	cr_assert_geq(errors, 1);
	cr_assert_leq(errors, mono_ms() - t0 + 2,
		      "%" PRIu64 " failed rolls in %" PRIu64 " ms", errors,
		      mono_ms() - t0);
	cr_assert_eq(stat_of(&f, EVG_JOURNAL_rolls), 0);
	cr_assert_eq(evg_store_mem_fail(f.mem, 0), 0);
	t0 = mono_ms();
	while ((t = append_flush(&f, 3)) == -ENOSPC)
		cr_assert_lt(mono_ms() - t0, 1000, "the roll never resumed");
	cr_assert_gt(t, 0);
	cr_assert_eq(stat_of(&f, EVG_JOURNAL_rolls), 1);
	tu_wait_durable(f.j, 0, batches + 1);
	expect_everything_once(&f);
	cr_assert_eq(evg_journal_close(f.j), 0);
}

Test(journal_faults, close_reports_storage_that_never_recovers)
{
	struct fixture f;

	start(&f, EVG_JOURNAL_WRITTEN);
	cr_assert_eq(evg_store_mem_fail(f.mem, -ENOSPC), 0);
	cr_assert_eq(append_flush(&f, 1), 1);
	cr_assert_eq(evg_journal_close(f.j), -ENOSPC);
}
