/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fault-injecting wrapper (drivers/store/fault.c) over mem, psync and
 * uring: disarmed it changes nothing, armed it fails writes, syncs and
 * the creation of preallocated files with the chosen error, in their
 * completion and in queue order, for N operations or until disarmed.
 * Each test on a directory of its own under /tmp; uring cases skip where
 * io_uring or O_DIRECT is unavailable.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "evg_store.h"
#include "store_testutil.h"

#define BLK EVG_STORE_ALIGN
#define DEADLINE_S 10.0

struct backend {
	char name[16];
};

static struct backend backends[] = {
	{"fault-mem"}, {"fault-psync"}, {"fault-uring"}};

/* Per test process (Criterion forks one per test). */
static char tmpdir[] = "/tmp/evg-fault-XXXXXX";
static const struct evg_store_ops *ops;
static struct evg_store *st;
static const char *be = "?";
static void *buf;

static void
setup(void)
{
	cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
	cr_assert_eq(posix_memalign(&buf, BLK, BLK), 0);
	memset(buf, 0xa5, BLK);
}

static void
teardown(void)
{
	if (st != NULL)
		ops->destroy(st);
	st = NULL;
	free(buf);
	stu_rm_tree(tmpdir);
}

TestSuite(store_fault, .init = setup, .fini = teardown);

static void
start(const char *backend, uint32_t depth, uint64_t mem_capacity)
{
	struct evg_store_conf conf = {.dir = tmpdir,
				      .depth = depth,
				      .socket_id = -1,
				      .mem_capacity = mem_capacity};
	int rc;

	be = backend;
	ops = evg_store_find(backend);
	cr_assert_not_null(ops, "no backend %s", backend);
	if (strcmp(backend, "fault-uring") == 0)
		stu_skip_without_uring(tmpdir);
	rc = ops->create(&conf, &st);
	cr_assert_eq(rc, 0, "%s: create: %s", be, strerror(-rc));
}

static int
open_file(const char *name)
{
	int fid = ops->open(st, name, true, 0);

	cr_assert_geq(fid, 0, "%s: open %s: %s", be, name, strerror(-fid));
	return fid;
}

static void
write_ok(int fid, uint64_t off, uint64_t tag)
{
	int rc = ops->write(st, fid, buf, BLK, off, false, tag);

	cr_assert_eq(rc, 0, "%s: write at %lu: %s", be, (unsigned long)off,
		     strerror(-rc));
}

static void
arm(int err, uint32_t count)
{
	cr_assert_eq(evg_store_fault_set(st, err, count), 0, "%s: arm", be);
}

/* Submit and collect exactly n completions, max_per_reap at a time, and
 * check their tags (1, 2, ... from first_tag) and results. */
static void
reap_expect(unsigned int n, unsigned int max_per_reap, uint64_t first_tag,
	    const int32_t *res)
{
	struct evg_store_cqe cqe[16];
	double t0 = stu_now_s();
	unsigned int got = 0;
	int rc = ops->submit(st);

	cr_assert_geq(rc, 0, "%s: submit: %s", be, strerror(-rc));
	while (got < n) {
		unsigned int want = n - got;

		rc = ops->reap(st, cqe + got,
			       want < max_per_reap ? want : max_per_reap);
		cr_assert_geq(rc, 0, "%s: reap: %s", be, strerror(-rc));
		got += (unsigned int)rc;
		cr_assert(got == n || stu_now_s() - t0 < DEADLINE_S,
			  "%s: %u of %u completions", be, got, n);
		if (rc == 0)
			usleep(50);
	}
	for (unsigned int i = 0; i < n; i++) {
		cr_assert_eq(cqe[i].tag, first_tag + i, "%s: cqe %u tag %lu", be,
			     i, (unsigned long)cqe[i].tag);
		cr_assert_eq(cqe[i].res, res[i],
			     "%s: tag %lu: res %d, expected %d", be,
			     (unsigned long)cqe[i].tag, cqe[i].res, res[i]);
	}
	cr_assert_eq(ops->inflight(st), 0u, "%s: still in flight", be);
}

static struct evg_store_fault_state
state(void)
{
	struct evg_store_fault_state s;

	cr_assert_eq(evg_store_fault_get(st, &s), 0);
	return s;
}

#define FAULT_TEST(test)                                                 \
	ParameterizedTestParameters(store_fault, test)                   \
	{                                                                \
		return cr_make_param_array(struct backend, backends,     \
					   sizeof(backends) /            \
						   sizeof(backends[0])); \
	}                                                                \
	ParameterizedTest(struct backend *b, store_fault, test)

FAULT_TEST(armed_fails_writes_and_syncs_in_their_completion_until_disarmed)
{
	const int32_t res[] = {BLK, -EIO, -EIO, -EIO, BLK, 0};
	int fid;

	start(b->name, 8, 0);
	fid = open_file("seg");
	write_ok(fid, 0, 1);
	arm(-EIO, 0);
	cr_assert_eq(state().err, -EIO);
	write_ok(fid, BLK, 2);
	cr_assert_eq(ops->sync(st, fid, 3), 0, "%s: armed sync refused", be);
	write_ok(fid, 2 * BLK, 4);
	arm(0, 0);
	write_ok(fid, BLK, 5);
	cr_assert_eq(ops->sync(st, fid, 6), 0);
	reap_expect(6, 16, 1, res);
	cr_assert_eq(ops->size(st, fid), 2 * BLK,
		     "%s: a failed write reached the file", be);
	cr_assert_eq(state().err, 0);
	cr_assert_eq(state().injected, 3u);
}

FAULT_TEST(count_fails_exactly_the_next_n_operations_then_disarms)
{
	const int32_t res[] = {-ENOSPC, -ENOSPC, BLK, 0};
	int fid;

	start(b->name, 8, 0);
	fid = open_file("seg");
	arm(-ENOSPC, 2);
	cr_assert_eq(state().left, 2u);
	write_ok(fid, 0, 1);
	cr_assert_eq(state().left, 1u);
	cr_assert_eq(ops->sync(st, fid, 2), 0);
	cr_assert_eq(state().err, 0, "%s: still armed after its count", be);
	write_ok(fid, 0, 3);
	cr_assert_eq(ops->sync(st, fid, 4), 0);
	reap_expect(4, 16, 1, res);
	cr_assert_eq(state().injected, 2u);
}

/* The journal advances its durable point with each completion in turn:
 * a failed one must come out in its place, also across partial reaps. */
FAULT_TEST(failed_completions_keep_their_place_in_queue_order)
{
	const int32_t res[] = {BLK, -EIO, BLK, -EIO, BLK};
	int fid;

	start(b->name, 8, 0);
	fid = open_file("seg");
	write_ok(fid, 0, 1);
	arm(-EIO, 1);
	write_ok(fid, BLK, 2);
	write_ok(fid, 2 * BLK, 3);
	arm(-EIO, 1);
	cr_assert_eq(ops->sync(st, fid, 4), 0);
	write_ok(fid, 3 * BLK, 5);
	reap_expect(5, 1, 1, res);
}

FAULT_TEST(armed_fails_creating_a_preallocated_file_not_the_control_path)
{
	int64_t got;
	int fid;

	start(b->name, 8, 0);
	fid = open_file("old");
	arm(-ENOSPC, 0);
	cr_assert_eq(ops->open(st, "new", true, 1 << 20), -ENOSPC, "%s", be);
	cr_assert_eq(ops->open(st, "new", false, 0), -ENOENT,
		     "%s: the failed open created the file", be);
	cr_assert_geq(ops->open(st, "plain", true, 0), 0, "%s", be);
	cr_assert_eq(ops->mkdir(st, "dir"), 0, "%s", be);
	cr_assert_eq(ops->sync_now(st, fid), 0, "%s", be);
	got = ops->read(st, fid, buf, BLK, 0);
	cr_assert_eq(got, 0, "%s: read %ld", be, (long)got);
	cr_assert_eq(state().injected, 1u);
	arm(0, 0);
	cr_assert_geq(ops->open(st, "new", true, 1 << 20), 0, "%s", be);
}

FAULT_TEST(armed_keeps_the_wrapped_stores_submission_errors)
{
	int fid;

	start(b->name, 2, 0);
	fid = open_file("seg");
	arm(-EIO, 0);
	cr_assert_eq(ops->write(st, fid, (char *)buf + 1, BLK, 0, false, 1),
		     -EINVAL, "%s: misaligned", be);
	cr_assert_eq(ops->sync(st, 99, 1), -EBADF, "%s: bad file id", be);
	write_ok(fid, 0, 1);
	write_ok(fid, BLK, 2);
	cr_assert_eq(ops->write(st, fid, buf, BLK, 0, false, 3), -EBUSY,
		     "%s: full queue", be);
	cr_assert_eq(ops->sync(st, fid, 3), -EBUSY, "%s", be);
	cr_assert_eq(ops->close(st, fid), -EBUSY, "%s: close with pending", be);
}

/* Disarmed, what the wrapped store reports passes unchanged: here mem's
 * capacity ENOSPC in a completion, and submission errors. */
Test(store_fault, disarmed_passes_errors_through_unchanged)
{
	const int32_t res[] = {BLK, -ENOSPC, 0};
	int f1, f2;

	start("fault-mem", 2, BLK);
	f1 = open_file("a");
	f2 = open_file("b");
	write_ok(f1, 0, 1);
	write_ok(f2, 0, 2);
	cr_assert_eq(ops->write(st, f1, buf, BLK, 0, false, 9), -EBUSY);
	reap_expect(2, 16, 1, res);
	cr_assert_eq(ops->write(st, f1, (char *)buf + 8, BLK, 0, false, 9),
		     -EINVAL);
	cr_assert_eq(ops->write(st, 42, buf, BLK, 0, false, 9), -EBADF);
	cr_assert_eq(ops->sync(st, f1, 3), 0);
	reap_expect(1, 16, 3, res + 2);
	cr_assert_eq(state().injected, 0u);
}

Test(store_fault, set_is_einval_for_other_backends_and_positive_errno)
{
	struct evg_store_fault_state s;

	start("fault-mem", 4, 0);
	cr_assert_eq(evg_store_fault_set(st, EIO, 0), -EINVAL);
	cr_assert_eq(evg_store_fault_set(NULL, -EIO, 0), -EINVAL);
	cr_assert_eq(evg_store_fault_get(st, NULL), -EINVAL);
	cr_assert_eq(evg_store_mem_fail(st, -EIO), -EINVAL,
		     "the wrapper is not the mem store");
	ops->destroy(st);
	st = NULL;
	start("mem", 4, 0);
	cr_assert_eq(evg_store_fault_set(st, -EIO, 0), -EINVAL);
	cr_assert_eq(evg_store_fault_get(st, &s), -EINVAL);
}

Test(store_fault, each_wrapper_is_found_by_name)
{
	cr_assert_eq(evg_store_find("fault-uring"), &evg_store_fault_uring_ops);
	cr_assert_eq(evg_store_find("fault-psync"), &evg_store_fault_psync_ops);
	cr_assert_eq(evg_store_find("fault-mem"), &evg_store_fault_mem_ops);
	cr_assert_null(evg_store_find("fault"));
}
