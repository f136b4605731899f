/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Store backends (drivers/store): the same behaviour over mem, psync and
 * uring, each test on a directory of its own under /tmp; then what only
 * mem does (fault injection, capacity) and evg_store_find(). The uring
 * cases skip, saying why, where io_uring or O_DIRECT is not available.
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
#define MAX_BUFS 16

struct backend {
	char name[8];
};

static struct backend backends[] = {{"mem"}, {"psync"}, {"uring"}};

/* Per test process (Criterion forks one per test). */
static char tmpdir[] = "/tmp/evg-store-XXXXXX";
static const struct evg_store_ops *ops;
static struct evg_store *st;
static const char *be = "?"; /* the backend, for messages */
static void *bufs[MAX_BUFS];
static unsigned int nb_bufs;

static void
setup(void)
{
	cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
}

static void
teardown(void)
{
	if (st != NULL)
		ops->destroy(st);
	st = NULL;
	while (nb_bufs > 0)
		free(bufs[--nb_bufs]);
	stu_rm_tree(tmpdir);
}

TestSuite(store, .init = setup, .fini = teardown);
TestSuite(store_mem, .init = setup, .fini = teardown);
TestSuite(store_find);

static struct evg_store *
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
	if (strcmp(backend, "uring") == 0)
		stu_skip_without_uring(tmpdir);
	rc = ops->create(&conf, &st);
	cr_assert_eq(rc, 0, "%s: create: %s", be, strerror(-rc));
	return st;
}

static uint8_t
pattern(uint8_t seed, uint64_t i)
{
	return (uint8_t)(seed + i * 7 + (i >> 12));
}

/* len bytes, 4096-aligned, filled from seed; freed at teardown. */
static uint8_t *
block(size_t len, uint8_t seed)
{
	void *p = NULL;

	cr_assert_lt(nb_bufs, MAX_BUFS);
	cr_assert_eq(posix_memalign(&p, BLK, len), 0);
	bufs[nb_bufs++] = p;
	for (size_t i = 0; i < len; i++)
		((uint8_t *)p)[i] = pattern(seed, i);
	return p;
}

static int
open_file(const char *name, bool create, uint64_t prealloc)
{
	int fid = ops->open(st, name, create, prealloc);

	cr_assert_geq(fid, 0, "%s: open %s: %s", be, name, strerror(-fid));
	return fid;
}

static void
write_ok(int fid, const void *buf, uint32_t len, uint64_t off, bool dsync,
	 uint64_t tag)
{
	int rc = ops->write(st, fid, buf, len, off, dsync, tag);

	cr_assert_eq(rc, 0, "%s: write %u at %lu: %s", be, len,
		     (unsigned long)off, strerror(-rc));
}

/* Submit what is queued and collect exactly n completions, reaping at
 * most max_per_reap at a time; uring's arrive when the device answers. */
static void
reap_n(struct evg_store_cqe *cqe, unsigned int n, unsigned int max_per_reap)
{
	struct evg_store_cqe extra;
	double t0 = stu_now_s();
	unsigned int got = 0;
	int rc = ops->submit(st);

	cr_assert_geq(rc, 0, "%s: submit: %s", be, strerror(-rc));
	while (got < n) {
		unsigned int want = n - got;

		rc = ops->reap(st, cqe + got,
			       want < max_per_reap ? want : max_per_reap);
		cr_assert_geq(rc, 0, "%s: reap: %s", be, strerror(-rc));
		cr_assert_leq((unsigned int)rc, want, "%s: reap overran", be);
		got += (unsigned int)rc;
		cr_assert(got == n || stu_now_s() - t0 < DEADLINE_S,
			  "%s: %u of %u completions after %.0f s", be, got, n,
			  DEADLINE_S);
		if (rc == 0)
			usleep(50);
	}
	cr_assert_eq(ops->reap(st, &extra, 1), 0, "%s: a completion too many",
		     be);
	cr_assert_eq(ops->inflight(st), 0u, "%s: still in flight", be);
}

static void
expect_cqe(const struct evg_store_cqe *c, uint64_t tag, int32_t res)
{
	cr_assert_eq(c->tag, tag, "%s: completion tag %lu, expected %lu", be,
		     (unsigned long)c->tag, (unsigned long)tag);
	cr_assert_eq(c->res, res, "%s: tag %lu: res %d, expected %d", be,
		     (unsigned long)tag, c->res, res);
}

/* The file holds seed's pattern at [off, off + len); seed 0: zeros. */
static void
expect_bytes(int fid, uint64_t off, uint64_t len, uint8_t seed,
	     uint64_t pattern_off)
{
	uint8_t *got = malloc(len), have = 0, want = 0;
	uint64_t i;
	int64_t n;

	cr_assert_not_null(got);
	n = ops->read(st, fid, got, len, off);
	for (i = 0; n == (int64_t)len && i < len; i++) {
		want = seed ? pattern(seed, pattern_off + i) : 0;
		have = got[i];
		if (have != want)
			break;
	}
	free(got);
	cr_assert_eq(n, (int64_t)len, "%s: read %lu at %lu gave %ld", be,
		     (unsigned long)len, (unsigned long)off, (long)n);
	cr_assert_eq(i, len, "%s: byte %lu is %#x, expected %#x", be,
		     (unsigned long)(off + i), have, want);
}

static int64_t
size_of(int fid)
{
	return ops->size(st, fid);
}

#define BACKEND_TEST(test)                                               \
	ParameterizedTestParameters(store, test)                         \
	{                                                                \
		return cr_make_param_array(struct backend, backends,     \
					   sizeof(backends) /            \
						   sizeof(backends[0])); \
	}                                                                \
	ParameterizedTest(struct backend *b, store, test)

BACKEND_TEST(written_data_reads_back_at_its_offsets)
{
	struct evg_store_cqe cqe[2];
	uint8_t *a, *c, tail[100];
	int fid;

	start(b->name, 8, 0);
	a = block(2 * BLK, 1);
	c = block(BLK, 2);
	fid = open_file("seg", true, 0);
	cr_assert_eq(size_of(fid), 0, "%s: new file not empty", be);
	write_ok(fid, a, 2 * BLK, 0, false, 11);
	write_ok(fid, c, BLK, 3 * BLK, false, 12); /* leaves a hole */
	cr_assert_eq(ops->inflight(st), 2u);
	reap_n(cqe, 2, 8);
	expect_cqe(&cqe[0], 11, 2 * BLK);
	expect_cqe(&cqe[1], 12, BLK);
	cr_assert_eq(size_of(fid), 4 * BLK, "%s: size %ld", be,
		     (long)size_of(fid));
	expect_bytes(fid, 0, 2 * BLK, 1, 0);
	expect_bytes(fid, 2 * BLK, BLK, 0, 0);
	expect_bytes(fid, 3 * BLK, BLK, 2, 0);
	/* Reads need no alignment, and stop at the end. */
	expect_bytes(fid, 100, 50, 1, 100);
	cr_assert_eq(ops->read(st, fid, tail, sizeof(tail), 4 * BLK - 10), 10);
	cr_assert_eq(ops->read(st, fid, tail, sizeof(tail), 4 * BLK), 0);
}

BACKEND_TEST(open_without_create_or_parent_is_enoent)
{
	start(b->name, 4, 0);
	cr_assert_eq(ops->open(st, "missing", false, 0), -ENOENT, "%s", be);
	cr_assert_eq(ops->open(st, "nodir/x", true, 0), -ENOENT, "%s", be);
}

BACKEND_TEST(prealloc_reserves_space_without_changing_size)
{
	struct evg_store_cqe cqe;
	char path[64];
	struct stat sb;
	int fid;

	start(b->name, 4, 0);
	fid = open_file("seg", true, 1 << 20);
	cr_assert_eq(size_of(fid), 0, "%s: prealloc changed the size to %ld",
		     be, (long)size_of(fid));
	if (strcmp(be, "mem") != 0) {
		snprintf(path, sizeof(path), "%s/seg", tmpdir);
		cr_assert_eq(stat(path, &sb), 0);
		cr_assert_geq(sb.st_blocks * 512, 1 << 20,
			      "%s: %ld bytes allocated", be,
			      (long)sb.st_blocks * 512);
	}
	write_ok(fid, block(BLK, 3), BLK, 0, false, 1);
	reap_n(&cqe, 1, 1);
	cr_assert_eq(size_of(fid), BLK, "%s", be);
}

BACKEND_TEST(truncate_shrinks_and_extends_with_zeros)
{
	struct evg_store_cqe cqe;
	uint8_t buf[2 * BLK];
	int fid;

	start(b->name, 4, 0);
	fid = open_file("seg", true, 0);
	write_ok(fid, block(2 * BLK, 4), 2 * BLK, 0, false, 1);
	reap_n(&cqe, 1, 1);
	cr_assert_eq(ops->truncate(st, fid, BLK), 0, "%s", be);
	cr_assert_eq(size_of(fid), BLK, "%s", be);
	cr_assert_eq(ops->read(st, fid, buf, sizeof(buf), 0), BLK, "%s", be);
	cr_assert_eq(ops->truncate(st, fid, BLK + 100), 0, "%s", be);
	cr_assert_eq(size_of(fid), BLK + 100, "%s", be);
	expect_bytes(fid, 0, BLK, 4, 0);
	expect_bytes(fid, BLK, 100, 0, 0);
}

BACKEND_TEST(remove_deletes_a_file_or_an_empty_directory)
{
	int fid;

	start(b->name, 4, 0);
	cr_assert_eq(ops->close(st, open_file("f", true, 0)), 0);
	cr_assert_eq(ops->remove(st, "f"), 0, "%s", be);
	cr_assert_eq(ops->open(st, "f", false, 0), -ENOENT, "%s", be);
	cr_assert_eq(ops->remove(st, "f"), -ENOENT, "%s", be);
	cr_assert_eq(ops->mkdir(st, "d"), 0, "%s", be);
	fid = open_file("d/x", true, 0);
	cr_assert_eq(ops->close(st, fid), 0);
	cr_assert_eq(ops->remove(st, "d"), -ENOTEMPTY, "%s", be);
	cr_assert_eq(ops->remove(st, "d/x"), 0, "%s", be);
	cr_assert_eq(ops->remove(st, "d"), 0, "%s", be);
	cr_assert_eq(ops->open(st, "d/y", true, 0), -ENOENT, "%s", be);
}

struct names {
	char v[8][32];
	unsigned int n;
};

static void
collect(void *arg, const char *entry)
{
	struct names *l = arg;

	cr_assert_lt(l->n, 8u, "%s: too many entries", be);
	snprintf(l->v[l->n++], sizeof(l->v[0]), "%s", entry);
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The entries of dir, sorted, joined with ','. */
static const char *
listing(const char *dir)
{
	static char out[256];
	struct names l = {.n = 0};
	int rc = ops->list(st, dir, collect, &l);

	cr_assert_eq(rc, 0, "%s: list '%s': %s", be, dir, strerror(-rc));
	qsort(l.v, l.n, sizeof(l.v[0]), cmp_name);
	out[0] = '\0';
	for (unsigned int i = 0; i < l.n; i++) {
		strcat(out, i ? "," : "");
		strcat(out, l.v[i]);
	}
	return out;
}

BACKEND_TEST(list_names_each_entry_of_a_directory_once)
{
	start(b->name, 4, 0);
	cr_assert_str_eq(listing(""), "", "%s", be);
	cr_assert_eq(ops->mkdir(st, "p0"), 0);
	cr_assert_eq(ops->mkdir(st, "p1"), 0);
	cr_assert_eq(ops->mkdir(st, "p0/sub"), 0);
	ops->close(st, open_file("p0/a.seg", true, 0));
	ops->close(st, open_file("p0/b.idx", true, 0));
	ops->close(st, open_file("p0/sub/deep", true, 0));
	ops->close(st, open_file("top", true, 0));
	cr_assert_str_eq(listing("p0"), "a.seg,b.idx,sub", "%s", be);
	cr_assert_str_eq(listing(""), "p0,p1,top", "%s", be);
	cr_assert_str_eq(listing("."), "p0,p1,top", "%s", be);
	cr_assert_str_eq(listing("p1"), "", "%s", be);
	cr_assert_eq(ops->list(st, "nope", collect, NULL), -ENOENT, "%s", be);
}

BACKEND_TEST(mkdir_makes_a_directory_that_takes_files)
{
	start(b->name, 4, 0);
	cr_assert_eq(ops->open(st, "d/x", true, 0), -ENOENT, "%s", be);
	cr_assert_eq(ops->mkdir(st, "d"), 0, "%s", be);
	cr_assert_eq(ops->mkdir(st, "d"), -EEXIST, "%s", be);
	cr_assert_eq(ops->mkdir(st, "e/f"), -ENOENT, "%s", be);
	open_file("d/x", true, 0);
}

BACKEND_TEST(unaligned_write_is_rejected_with_einval)
{
	uint8_t *buf;
	int fid;

	start(b->name, 4, 0);
	buf = block(2 * BLK, 5);
	fid = open_file("seg", true, 0);
	cr_assert_eq(ops->write(st, fid, buf + 512, BLK, 0, false, 1), -EINVAL,
		     "%s: unaligned buffer", be);
	cr_assert_eq(ops->write(st, fid, buf, BLK, 512, false, 2), -EINVAL,
		     "%s: unaligned offset", be);
	cr_assert_eq(ops->write(st, fid, buf, 512, 0, false, 3), -EINVAL,
		     "%s: unaligned length", be);
	cr_assert_eq(ops->write(st, fid, buf, 0, 0, false, 4), -EINVAL,
		     "%s: empty write", be);
	cr_assert_eq(ops->inflight(st), 0u, "%s", be);
	cr_assert_eq(ops->submit(st), 0, "%s", be);
	cr_assert_eq(size_of(fid), 0, "%s", be);
}

BACKEND_TEST(queue_full_at_depth_refuses_with_ebusy_until_reaped)
{
	struct evg_store_cqe cqe[4];
	uint8_t *buf;
	int fid;

	start(b->name, 4, 0);
	buf = block(BLK, 6);
	fid = open_file("seg", true, 0);
	for (uint64_t i = 0; i < 4; i++)
		write_ok(fid, buf, BLK, i * BLK, false, i);
	cr_assert_eq(ops->write(st, fid, buf, BLK, 4 * BLK, false, 9), -EBUSY,
		     "%s", be);
	cr_assert_eq(ops->sync(st, fid, 9), -EBUSY, "%s", be);
	cr_assert_eq(ops->submit(st), 4, "%s", be);
	/* Submitted but not reaped still counts. */
	cr_assert_eq(ops->inflight(st), 4u, "%s", be);
	cr_assert_eq(ops->sync(st, fid, 9), -EBUSY, "%s", be);
	reap_n(cqe, 4, 4);
	write_ok(fid, buf, BLK, 4 * BLK, false, 5);
	reap_n(cqe, 1, 1);
	expect_cqe(&cqe[0], 5, BLK);
}

/* Sizes, dsync flags, syncs and two files mixed, so that a device that
 * completes out of order would show it. */
BACKEND_TEST(completions_come_back_in_queue_order_with_their_tags)
{
	struct evg_store_cqe cqe[32];
	int32_t want[32];
	uint64_t off[2] = {0, 0};
	unsigned int n = 0;
	uint8_t *buf;
	int fid[2];

	start(b->name, 32, 0);
	buf = block(16 * BLK, 7);
	fid[0] = open_file("a", true, 0);
	fid[1] = open_file("b", true, 0);
	for (unsigned int i = 0; i < 24; i++) {
		uint32_t len = (uint32_t)(1 + (i * 5) % 16) * BLK;
		int f = i % 3 == 2;

		write_ok(fid[f], buf, len, off[f], i % 4 == 1, 1000 + n);
		off[f] += len;
		want[n++] = (int32_t)len;
		if (i % 6 == 5) {
			cr_assert_eq(ops->sync(st, fid[f], 1000 + n), 0);
			want[n++] = 0;
		}
	}
	reap_n(cqe, n, 5);
	for (unsigned int i = 0; i < n; i++)
		expect_cqe(&cqe[i], 1000 + i, want[i]);
	cr_assert_eq(size_of(fid[0]), (int64_t)off[0], "%s", be);
	cr_assert_eq(size_of(fid[1]), (int64_t)off[1], "%s", be);
}

BACKEND_TEST(sync_completes_with_0_after_the_writes_before_it)
{
	struct evg_store_cqe cqe[5];
	uint8_t *buf;
	int fid;

	start(b->name, 8, 0);
	buf = block(BLK, 8);
	fid = open_file("seg", true, 0);
	write_ok(fid, buf, BLK, 0, false, 1);
	write_ok(fid, buf, BLK, BLK, false, 2);
	write_ok(fid, buf, BLK, 2 * BLK, true, 3);
	cr_assert_eq(ops->sync(st, fid, 4), 0, "%s", be);
	write_ok(fid, buf, BLK, 3 * BLK, false, 5);
	cr_assert_eq(ops->submit(st), 5, "%s", be);
	reap_n(cqe, 5, 5);
	for (unsigned int i = 0; i < 5; i++)
		expect_cqe(&cqe[i], i + 1, i == 3 ? 0 : (int32_t)BLK);
	cr_assert_eq(ops->sync_now(st, fid), 0, "%s", be);
}

BACKEND_TEST(reopened_file_has_the_data_written_before_close)
{
	struct evg_store_cqe cqe;
	int fid;

	start(b->name, 4, 0);
	fid = open_file("seg", true, 0);
	write_ok(fid, block(3 * BLK, 9), 3 * BLK, 0, true, 1);
	reap_n(&cqe, 1, 1);
	cr_assert_eq(ops->close(st, fid), 0, "%s", be);
	fid = open_file("seg", false, 0);
	cr_assert_eq(size_of(fid), 3 * BLK, "%s", be);
	expect_bytes(fid, 0, 3 * BLK, 9, 0);
	if (strcmp(be, "mem") == 0)
		return; /* its files live as long as the store */
	ops->destroy(st);
	st = NULL;
	start(be, 4, 0);
	fid = open_file("seg", false, 0);
	cr_assert_eq(size_of(fid), 3 * BLK, "%s: new store", be);
	expect_bytes(fid, 0, 3 * BLK, 9, 0);
}

BACKEND_TEST(close_with_operations_pending_is_ebusy)
{
	struct evg_store_cqe cqe;
	int fid;

	start(b->name, 4, 0);
	fid = open_file("seg", true, 0);
	write_ok(fid, block(BLK, 10), BLK, 0, false, 1);
	cr_assert_eq(ops->close(st, fid), -EBUSY, "%s", be);
	reap_n(&cqe, 1, 1);
	cr_assert_eq(ops->close(st, fid), 0, "%s", be);
	cr_assert_eq(ops->close(st, fid), -EBADF, "%s", be);
}

BACKEND_TEST(unknown_file_id_is_ebadf)
{
	uint8_t *buf;

	start(b->name, 4, 0);
	buf = block(BLK, 11);
	cr_assert_eq(size_of(3), -EBADF, "%s", be);
	cr_assert_eq(ops->read(st, -1, buf, 1, 0), -EBADF, "%s", be);
	cr_assert_eq(ops->truncate(st, 7, 0), -EBADF, "%s", be);
	cr_assert_eq(ops->sync_now(st, 7), -EBADF, "%s", be);
	cr_assert_eq(ops->write(st, 5, buf, BLK, 0, false, 1), -EBADF, "%s",
		     be);
	cr_assert_eq(ops->sync(st, -2, 1), -EBADF, "%s", be);
	cr_assert_eq(ops->inflight(st), 0u, "%s", be);
}

BACKEND_TEST(directory_opens_for_sync_now_but_refuses_writes)
{
	int root, d;

	start(b->name, 4, 0);
	cr_assert_eq(ops->mkdir(st, "p0"), 0);
	root = open_file("", false, 0);
	d = open_file("p0", false, 0);
	cr_assert_eq(ops->sync_now(st, root), 0, "%s", be);
	cr_assert_eq(ops->sync_now(st, d), 0, "%s", be);
	cr_assert_eq(ops->write(st, d, block(BLK, 12), BLK, 0, false, 1),
		     -EBADF, "%s", be);
	cr_assert_eq(ops->sync(st, d, 2), -EBADF, "%s", be);
	cr_assert_eq(ops->close(st, d), 0, "%s", be);
	cr_assert_eq(ops->close(st, root), 0, "%s", be);
}

BACKEND_TEST(create_refuses_depth_0)
{
	struct evg_store_conf conf = {.dir = tmpdir, .depth = 0};
	struct evg_store *s = NULL;

	start(b->name, 1, 0);
	cr_assert_eq(ops->create(&conf, &s), -EINVAL, "%s", be);
	cr_assert_null(s);
	if (strcmp(be, "mem") == 0)
		return; /* it has no directory to miss */
	conf.depth = 4;
	conf.dir = "/nonexistent/evg-store";
	cr_assert_eq(ops->create(&conf, &s), -ENOENT, "%s", be);
}

/* ---- mem only ---- */

Test(store_mem, injected_error_fails_writes_and_syncs_until_cleared)
{
	struct evg_store_cqe cqe[4];
	uint8_t *buf;
	int fid;

	start("mem", 8, 0);
	buf = block(BLK, 13);
	fid = open_file("seg", true, 0);
	write_ok(fid, buf, BLK, 0, false, 1);
	cr_assert_eq(evg_store_mem_fail(st, -ENOSPC), 0);
	write_ok(fid, buf, BLK, BLK, false, 2);
	cr_assert_eq(ops->sync(st, fid, 3), 0);
	cr_assert_eq(evg_store_mem_fail(st, -EIO), 0);
	write_ok(fid, buf, BLK, BLK, true, 4);
	reap_n(cqe, 4, 4);
	expect_cqe(&cqe[0], 1, BLK);
	expect_cqe(&cqe[1], 2, -ENOSPC);
	expect_cqe(&cqe[2], 3, -ENOSPC);
	expect_cqe(&cqe[3], 4, -EIO);
	cr_assert_eq(size_of(fid), BLK, "failed writes changed the file");
	cr_assert_eq(evg_store_mem_fail(st, 0), 0);
	write_ok(fid, buf, BLK, BLK, false, 5);
	cr_assert_eq(ops->sync(st, fid, 6), 0);
	reap_n(cqe, 2, 2);
	expect_cqe(&cqe[0], 5, BLK);
	expect_cqe(&cqe[1], 6, 0);
	cr_assert_eq(size_of(fid), 2 * BLK);
}

Test(store_mem, injected_error_spares_operations_queued_before_it)
{
	struct evg_store_cqe cqe;
	int fid;

	start("mem", 4, 0);
	fid = open_file("seg", true, 0);
	write_ok(fid, block(BLK, 14), BLK, 0, false, 1);
	cr_assert_eq(evg_store_mem_fail(st, -EIO), 0);
	reap_n(&cqe, 1, 1);
	expect_cqe(&cqe, 1, BLK);
}

Test(store_mem, capacity_fails_growth_past_it_with_enospc)
{
	struct evg_store_cqe cqe[3];
	uint8_t *buf;
	int f1, f2;

	start("mem", 8, 2 * BLK);
	buf = block(2 * BLK, 15);
	f1 = open_file("a", true, 0);
	f2 = open_file("b", true, 0);
	write_ok(f1, buf, 2 * BLK, 0, false, 1);
	write_ok(f2, buf, BLK, 0, false, 2);
	write_ok(f1, buf, BLK, BLK, false, 3); /* overwrites: no growth */
	reap_n(cqe, 3, 3);
	expect_cqe(&cqe[0], 1, 2 * BLK);
	expect_cqe(&cqe[1], 2, -ENOSPC);
	expect_cqe(&cqe[2], 3, BLK);
	cr_assert_eq(size_of(f2), 0);
	/* Space comes back by truncating or removing. */
	cr_assert_eq(ops->truncate(st, f1, BLK), 0);
	write_ok(f2, buf, BLK, 0, false, 4);
	reap_n(cqe, 1, 1);
	expect_cqe(&cqe[0], 4, BLK);
	cr_assert_eq(ops->close(st, f1), 0);
	cr_assert_eq(ops->remove(st, "a"), 0);
	write_ok(f2, buf, BLK, BLK, false, 5);
	reap_n(cqe, 1, 1);
	expect_cqe(&cqe[0], 5, BLK);
}

/* Like O_DIRECT, a buffer must stay untouched until its completion: mem
 * copies it only then, so a caller that reuses it early is caught. */
Test(store_mem, write_takes_the_buffer_contents_at_completion)
{
	struct evg_store_cqe cqe;
	uint8_t *buf;
	int fid;

	start("mem", 4, 0);
	buf = block(BLK, 16);
	fid = open_file("seg", true, 0);
	write_ok(fid, buf, BLK, 0, false, 1);
	for (uint32_t i = 0; i < BLK; i++)
		buf[i] = pattern(17, i);
	reap_n(&cqe, 1, 1);
	expect_bytes(fid, 0, BLK, 17, 0);
}

Test(store_mem, fail_injection_is_einval_for_other_backends_and_errors)
{
	start("mem", 4, 0);
	cr_assert_eq(evg_store_mem_fail(st, EIO), -EINVAL, "positive errno");
	cr_assert_eq(evg_store_mem_fail(NULL, -EIO), -EINVAL);
	ops->destroy(st);
	st = NULL;
	start("psync", 4, 0);
	cr_assert_eq(evg_store_mem_fail(st, -EIO), -EINVAL);
}

Test(store_find, finds_each_backend_by_name_and_null_for_unknown)
{
	cr_assert_eq(evg_store_find("uring"), &evg_store_uring_ops);
	cr_assert_eq(evg_store_find("psync"), &evg_store_psync_ops);
	cr_assert_eq(evg_store_find("mem"), &evg_store_mem_ops);
	cr_assert_str_eq(evg_store_uring_ops.name, "uring");
	cr_assert_str_eq(evg_store_psync_ops.name, "psync");
	cr_assert_str_eq(evg_store_mem_ops.name, "mem");
	cr_assert_null(evg_store_find("URING"));
	cr_assert_null(evg_store_find("xfs"));
	cr_assert_null(evg_store_find(""));
	cr_assert_null(evg_store_find(NULL));
}
