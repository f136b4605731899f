/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The consumer groups' offsets store (lib/sub/offsets.c) on real files,
 * each test in a temporary directory of its own: creation, round trips,
 * the slot and generation protocol, torn and corrupt slots, refused
 * entries, failing writes and syncs, the largest set, lookups, and the
 * documented byte layout (docs/storage.md, "Consumer offsets"). The
 * binary is linked with fdatasync and fsync wrapped (meson.build), so the
 * tests see which file the library syncs, when, and can make it fail.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "evg_byteorder.h"
#include "evg_evf.h"
#include "evg_sub_offsets.h"

#define MAX EVG_SUB_OFFSETS_MAX
#define HDR 64u
#define ENT 64u
#define IMG_LEN(n) (HDR + (size_t)(n)*ENT)

/* Each test runs in a process of its own; .fini removes the directory
 * also when an assertion fails. */
static char dir[256];
static struct evg_sub_offset *set_a, *set_b;

static void
setup(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/evg-ofs-XXXXXX", tmp ? tmp : "/tmp");
	cr_assert_not_null(mkdtemp(dir), "mkdtemp %s: %s", dir,
			   strerror(errno));
	set_a = calloc(MAX + 1, sizeof(*set_a));
	set_b = calloc(MAX + 1, sizeof(*set_b));
	cr_assert(set_a != NULL && set_b != NULL);
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
teardown(void)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(set_a);
	free(set_b);
}

TestSuite(sub_offsets, .init = setup, .fini = teardown);

/* ---- the library's syncs (linked with -Wl,--wrap=fdatasync,fsync) ---- */

int __real_fdatasync(int fd);
int __real_fsync(int fd);
int __wrap_fdatasync(int fd);
int __wrap_fsync(int fd);

static struct {
	int fail_errno; /* the next fdatasync or fsync fails with it */
	unsigned int fdatasyncs, fsyncs;
	struct stat synced;   /* the file of the last call */
	uint64_t gen_at_sync; /* fdatasync: the generation its file held */
} io;

static int
io_call(int fd, int (*real)(int))
{
	uint8_t b[HDR];
	int e = io.fail_errno;

	fstat(fd, &io.synced);
	io.gen_at_sync = pread(fd, b, HDR, 0) == HDR ? evg_ld64(b + 16) : 0;
	if (e != 0) {
		io.fail_errno = 0;
		errno = e;
		return -1;
	}
	return real(fd);
}

int
__wrap_fdatasync(int fd)
{
	io.fdatasyncs++;
	return io_call(fd, __real_fdatasync);
}

int
__wrap_fsync(int fd)
{
	io.fsyncs++;
	return io_call(fd, __real_fsync);
}

/* ---- helpers ---- */

static void
slot_path(char *buf, size_t len, unsigned int slot)
{
	snprintf(buf, len, "%s/offsets.%u", dir, slot);
}

/* Entry i of set `seed`: 13 groups, so (group, stream) pairs repeat
 * neither group nor stream alone; values depend on seed and i. */
static void
make_set(struct evg_sub_offset *e, unsigned int n, unsigned int seed)
{
	for (unsigned int i = 0; i < n; i++) {
		memset(&e[i], 0, sizeof(e[i]));
		snprintf(e[i].group, sizeof(e[i].group), "grp.%u-x_%u", i % 13,
			 seed % 3);
		e[i].stream_id = i / 13 + seed;
		e[i].partition = (i / 13 + seed) % 4;
		e[i].offset = (uint64_t)seed * 1000003u + (uint64_t)i * 7u;
		e[i].commit_ns = (uint64_t)seed << 40 | i;
	}
}

static struct evg_sub_offsets *
open_ok(struct evg_sub_offsets_info *info)
{
	struct evg_sub_offsets *o = NULL;
	char err[512];
	int rc = evg_sub_offsets_open(dir, &o, info, err, sizeof(err));

	cr_assert_eq(rc, 0, "open %s: %d %s", dir, rc, err);
	cr_assert_not_null(o);
	return o;
}

static void
store_ok(struct evg_sub_offsets *o, const struct evg_sub_offset *e,
	 unsigned int n)
{
	int rc = evg_sub_offsets_store(o, e, n);

	cr_assert_eq(rc, 0, "store of %u entries: %d", n, rc);
}

/* o holds exactly e[0..n): the same count, each found with its values,
 * and every entry it lists is one of them. */
static void
expect_set(const struct evg_sub_offsets *o, const struct evg_sub_offset *e,
	   unsigned int n, const char *what)
{
	cr_assert_eq(evg_sub_offsets_count(o), n, "%s: %u entries, want %u",
		     what, evg_sub_offsets_count(o), n);
	for (unsigned int i = 0; i < n; i++) {
		struct evg_sub_offset got;
		int rc = evg_sub_offsets_find(o, e[i].group, e[i].stream_id,
					      &got);

		cr_assert_eq(rc, 0, "%s: (%s, %u) not found", what, e[i].group,
			     e[i].stream_id);
		cr_assert_str_eq(got.group, e[i].group, "%s", what);
		cr_assert(got.stream_id == e[i].stream_id &&
				  got.partition == e[i].partition &&
				  got.offset == e[i].offset &&
				  got.commit_ns == e[i].commit_ns,
			  "%s: (%s, %u) has other values", what, e[i].group,
			  e[i].stream_id);
	}
	for (unsigned int i = 0; i < n; i++) {
		const struct evg_sub_offset *x = evg_sub_offsets_entry(o, i);

		cr_assert_not_null(x, "%s: entry %u", what, i);
		cr_assert_eq(
			evg_sub_offsets_find(o, x->group, x->stream_id, NULL),
			0, "%s: entry %u not findable", what, i);
	}
	cr_assert_null(evg_sub_offsets_entry(o, n), "%s: entry past count",
		       what);
}

/* Reopen dir and check what it loads. */
static void
expect_reopen(const struct evg_sub_offset *e, unsigned int n, uint64_t gen,
	      int slot, bool bad0, bool bad1, const char *what)
{
	struct evg_sub_offsets_info info;
	struct evg_sub_offsets *o = open_ok(&info);

	cr_assert_eq(info.gen, gen, "%s: gen %" PRIu64 ", want %" PRIu64, what,
		     info.gen, gen);
	cr_assert_eq(evg_sub_offsets_gen(o), gen, "%s", what);
	cr_assert_eq(info.slot, slot, "%s: slot %d, want %d", what, info.slot,
		     slot);
	cr_assert_eq(info.count, n, "%s: count %u, want %u", what, info.count,
		     n);
	cr_assert(info.slot_bad[0] == bad0 && info.slot_bad[1] == bad1,
		  "%s: slot_bad %d %d, want %d %d", what, info.slot_bad[0],
		  info.slot_bad[1], bad0, bad1);
	expect_set(o, e, n, what);
	evg_sub_offsets_close(o);
}

static size_t
file_read(unsigned int slot, uint8_t *buf, size_t cap)
{
	char path[300];
	ssize_t n;
	int fd;

	slot_path(path, sizeof(path), slot);
	fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	n = read(fd, buf, cap);
	cr_assert_geq(n, 0, "read %s", path);
	close(fd);
	return (size_t)n;
}

static void
file_write(unsigned int slot, const uint8_t *buf, size_t len)
{
	char path[300];
	int fd;

	slot_path(path, sizeof(path), slot);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, buf, len), (ssize_t)len, "write %s", path);
	close(fd);
}

static uint64_t
file_gen(unsigned int slot)
{
	uint8_t b[HDR];

	cr_assert_eq(file_read(slot, b, sizeof(b)), HDR, "offsets.%u", slot);
	return evg_ld64(b + 16);
}

/* The CRC as the format defines it: over [0, len) with its field 0. */
static void
img_seal(uint8_t *b, size_t len)
{
	evg_st32(b + 60, 0);
	evg_st32(b + 60, evg_evf_crc32c(b, len));
}

/* Sets A (gen 1, offsets.1) and B (gen 2, offsets.0) of na and nb
 * entries; the handle is closed. */
static void
store_a_then_b(unsigned int na, unsigned int nb)
{
	struct evg_sub_offsets *o = open_ok(NULL);

	make_set(set_a, na, 1);
	make_set(set_b, nb, 2);
	store_ok(o, set_a, na);
	store_ok(o, set_b, nb);
	evg_sub_offsets_close(o);
}

/* ---- opening ---- */

Test(sub_offsets, new_directory_opens_empty_and_creates_both_slot_files)
{
	struct evg_sub_offsets_info info;
	struct evg_sub_offsets *o;
	struct stat sb;
	char path[300];

	memset(&info, 0xa5, sizeof(info));
	o = open_ok(&info);
	cr_assert_eq(info.gen, 0);
	cr_assert_eq(info.count, 0);
	cr_assert_eq(info.slot, -1);
	cr_assert(!info.slot_bad[0] && !info.slot_bad[1]);
	cr_assert_eq(evg_sub_offsets_gen(o), 0);
	cr_assert_eq(evg_sub_offsets_count(o), 0);
	cr_assert_null(evg_sub_offsets_entry(o, 0));
	for (unsigned int s = 0; s < 2; s++) {
		slot_path(path, sizeof(path), s);
		cr_assert_eq(stat(path, &sb), 0, "%s not created", path);
		cr_assert(S_ISREG(sb.st_mode) && sb.st_size == 0,
			  "%s: not an empty file", path);
	}
	evg_sub_offsets_close(o);
	/* Two empty files are no set, not bad ones; info and err optional. */
	cr_assert_eq(evg_sub_offsets_open(dir, &o, NULL, NULL, 0), 0);
	evg_sub_offsets_close(o);
	expect_reopen(NULL, 0, 0, -1, false, false, "two empty slots");
}

Test(sub_offsets, missing_directory_fails_with_enoent_and_a_message)
{
	struct evg_sub_offsets *o = NULL;
	char missing[300], err[512] = "";

	snprintf(missing, sizeof(missing), "%s/nope", dir);
	cr_assert_eq(evg_sub_offsets_open(missing, &o, NULL, err, sizeof(err)),
		     -ENOENT);
	cr_assert_null(o);
	cr_assert_not_null(strstr(err, missing), "err: %s", err);
}

/* ---- storing ---- */

Test(sub_offsets, store_then_reopen_gives_the_same_set)
{
	struct evg_sub_offsets *o = open_ok(NULL);

	make_set(set_a, 50, 7);
	store_ok(o, set_a, 50);
	cr_assert_eq(evg_sub_offsets_gen(o), 1);
	expect_set(o, set_a, 50, "in memory");
	evg_sub_offsets_close(o);
	expect_reopen(set_a, 50, 1, 1, false, false, "reopened");
}

Test(sub_offsets, stores_alternate_slots_and_generations_increase)
{
	struct evg_sub_offsets *o = open_ok(NULL);

	for (unsigned int g = 1; g <= 6; g++) {
		char what[32];

		make_set(set_a, 5 + g, g);
		store_ok(o, set_a, 5 + g);
		cr_assert_eq(evg_sub_offsets_gen(o), g);
		/* Generation g went to offsets.<g % 2>; the other slot still
		 * holds g - 1. */
		cr_assert_eq(file_gen(g % 2), g, "after store %u", g);
		if (g > 1)
			cr_assert_eq(file_gen((g + 1) % 2), g - 1,
				     "store %u touched the other slot", g);
		snprintf(what, sizeof(what), "after store %u", g);
		expect_reopen(set_a, 5 + g, g, (int)(g % 2), false, false,
			      what);
	}
	evg_sub_offsets_close(o);
}

Test(sub_offsets, newest_valid_slot_wins_whichever_slot_it_is)
{
	struct evg_sub_offsets *o;

	store_a_then_b(4, 9);
	/* B (gen 2) is in offsets.0, A (gen 1) in offsets.1. */
	expect_reopen(set_b, 9, 2, 0, false, false, "newest in slot 0");
	o = open_ok(NULL);
	make_set(set_a, 3, 5);
	store_ok(o, set_a, 3);
	evg_sub_offsets_close(o);
	expect_reopen(set_a, 3, 3, 1, false, false, "newest in slot 1");
}

Test(sub_offsets, empty_store_is_a_new_generation_with_no_entries)
{
	struct evg_sub_offsets *o = open_ok(NULL);

	make_set(set_a, 8, 1);
	store_ok(o, set_a, 8);
	store_ok(o, NULL, 0);
	cr_assert_eq(evg_sub_offsets_gen(o), 2);
	expect_set(o, NULL, 0, "in memory");
	cr_assert_eq(evg_sub_offsets_find(o, set_a[0].group, set_a[0].stream_id,
					  NULL),
		     -ENOENT);
	evg_sub_offsets_close(o);
	expect_reopen(NULL, 0, 2, 0, false, false, "empty set");
}

Test(sub_offsets, shorter_set_over_a_longer_one_reads_back_exactly)
{
	struct evg_sub_offsets *o = open_ok(NULL);
	struct stat sb;
	char path[300];

	make_set(set_a, 100, 1);
	store_ok(o, set_a, 100); /* gen 1, offsets.1 */
	store_ok(o, set_a, 100); /* gen 2, offsets.0 */
	make_set(set_b, 3, 9);
	store_ok(o, set_b, 3); /* gen 3 over 100 entries in offsets.1 */
	evg_sub_offsets_close(o);
	slot_path(path, sizeof(path), 1);
	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_geq(sb.st_size, (off_t)IMG_LEN(100),
		      "the older, longer set's tail is still in the file");
	expect_reopen(set_b, 3, 3, 1, false, false, "3 over 100");
	o = open_ok(NULL);
	store_ok(o, set_b + 1, 1); /* gen 4 over 100 entries in offsets.0 */
	evg_sub_offsets_close(o);
	expect_reopen(set_b + 1, 1, 4, 0, false, false, "1 over 100");
}

Test(sub_offsets, group_bytes_after_the_nul_are_not_stored)
{
	struct evg_sub_offsets *o = open_ok(NULL);
	struct evg_sub_offset e = {.stream_id = 3, .offset = 77};
	uint8_t b[IMG_LEN(1)];

	memset(e.group, 'z', sizeof(e.group));
	memcpy(e.group, "abc", 4);
	store_ok(o, &e, 1);
	for (unsigned int i = 4; i < sizeof(e.group); i++)
		cr_assert_eq(evg_sub_offsets_entry(o, 0)->group[i], 0,
			     "memory byte %u", i);
	evg_sub_offsets_close(o);
	cr_assert_eq(file_read(1, b, sizeof(b)), sizeof(b));
	for (unsigned int i = 3; i < 32; i++)
		cr_assert_eq(b[HDR + i], 0, "file byte %u of the name", i);
	memset(e.group + 4, 0, sizeof(e.group) - 4);
	expect_reopen(&e, 1, 1, 1, false, false, "reopened");
}

Test(sub_offsets, max_entries_round_trip)
{
	struct evg_sub_offsets *o = open_ok(NULL);

	make_set(set_a, MAX, 4);
	store_ok(o, set_a, MAX);
	expect_set(o, set_a, MAX, "in memory");
	store_ok(o, set_a, MAX); /* and over a full slot */
	evg_sub_offsets_close(o);
	expect_reopen(set_a, MAX, 2, 0, false, false, "reopened");
}

/* ---- lookups ---- */

Test(sub_offsets, find_hits_and_misses)
{
	struct evg_sub_offset e[4] = {
		{.group = "g1", .stream_id = 5, .offset = 10},
		{.group = "g12", .stream_id = 5, .offset = 20},
		{.group = "g1", .stream_id = 6, .offset = 30},
		{.group = "billing", .stream_id = 0, .offset = 40},
	};
	struct evg_sub_offsets *o = open_ok(NULL);
	struct evg_sub_offset got;
	char longname[40];

	store_ok(o, e, 4);
	for (unsigned int i = 0; i < 4; i++) {
		memset(&got, 0, sizeof(got));
		cr_assert_eq(evg_sub_offsets_find(o, e[i].group, e[i].stream_id,
						  &got),
			     0, "(%s, %u)", e[i].group, e[i].stream_id);
		cr_assert_eq(got.offset, e[i].offset, "(%s, %u)", e[i].group,
			     e[i].stream_id);
	}
	cr_assert_eq(evg_sub_offsets_find(o, "g1", 5, NULL), 0);
	cr_assert_eq(evg_sub_offsets_find(o, "g", 5, NULL), -ENOENT);
	cr_assert_eq(evg_sub_offsets_find(o, "g123", 5, NULL), -ENOENT);
	cr_assert_eq(evg_sub_offsets_find(o, "g1", 7, NULL), -ENOENT);
	cr_assert_eq(evg_sub_offsets_find(o, "billing", 5, NULL), -ENOENT);
	cr_assert_eq(evg_sub_offsets_find(o, "g 1", 5, NULL), -ENOENT);
	memset(longname, 'g', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	cr_assert_eq(evg_sub_offsets_find(o, longname, 5, NULL), -ENOENT);
	/* The index follows the set: what the new set lacks is gone. */
	store_ok(o, e + 3, 1);
	cr_assert_eq(evg_sub_offsets_find(o, "g1", 5, NULL), -ENOENT);
	cr_assert_eq(evg_sub_offsets_find(o, "billing", 0, &got), 0);
	cr_assert_eq(got.offset, 40);
	evg_sub_offsets_close(o);
}

/* ---- refused stores ---- */

/* A store of e[0..n) must fail with -EINVAL and change nothing: not the
 * set in memory, not its generation, not a byte of either file. */
static void
expect_refused(struct evg_sub_offsets *o, const struct evg_sub_offset *e,
	       unsigned int n, const char *what)
{
	static uint8_t before[2][IMG_LEN(16)], after[2][IMG_LEN(16)];
	size_t len[2];
	int rc;

	for (unsigned int s = 0; s < 2; s++)
		len[s] = file_read(s, before[s], sizeof(before[s]));
	rc = evg_sub_offsets_store(o, e, n);
	cr_assert_eq(rc, -EINVAL, "%s: store gave %d", what, rc);
	cr_assert_eq(evg_sub_offsets_gen(o), 1, "%s", what);
	expect_set(o, set_a, 10, what);
	for (unsigned int s = 0; s < 2; s++) {
		cr_assert_eq(file_read(s, after[s], sizeof(after[s])), len[s],
			     "%s: offsets.%u", what, s);
		cr_assert_eq(memcmp(before[s], after[s], len[s]), 0,
			     "%s: offsets.%u changed", what, s);
	}
	expect_reopen(set_a, 10, 1, 1, false, false, what);
}

Test(sub_offsets, bad_group_name_is_refused_and_the_durable_set_is_unchanged)
{
	static const char *const bad[] = {"", "has space", "a/b", "caf\xc3\xa9",
					  "tab\there"};
	struct evg_sub_offsets *o = open_ok(NULL);
	struct evg_sub_offset e[4];

	make_set(set_a, 10, 1);
	store_ok(o, set_a, 10);
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		make_set(e, 4, 2);
		snprintf(e[3].group, sizeof(e[3].group), "%s", bad[i]);
		expect_refused(o, e, 4, bad[i]);
	}
	/* 32 name bytes without a NUL. */
	make_set(e, 4, 2);
	memset(e[1].group, 'a', sizeof(e[1].group));
	expect_refused(o, e, 4, "32 characters");
	/* 31 characters is the longest name. */
	make_set(e, 4, 2);
	memset(e[1].group, 'a', sizeof(e[1].group) - 1);
	e[1].group[31] = '\0';
	store_ok(o, e, 4);
	evg_sub_offsets_close(o);
	expect_reopen(e, 4, 2, 0, false, false, "31 characters");
}

Test(sub_offsets,
     duplicate_group_and_stream_is_refused_and_the_durable_set_is_unchanged)
{
	struct evg_sub_offsets *o = open_ok(NULL);
	struct evg_sub_offset e[16];

	make_set(set_a, 10, 1);
	store_ok(o, set_a, 10);
	make_set(e, 16, 2);
	e[15] = e[0];
	e[15].offset += 1;
	expect_refused(o, e, 16, "first and last the same");
	/* The same group on another stream, the same stream in another
	 * group: both fine. */
	make_set(e, 16, 2);
	memcpy(e[15].group, e[0].group, sizeof(e[0].group));
	e[15].stream_id = e[0].stream_id + 100;
	snprintf(e[14].group, sizeof(e[14].group), "other-group");
	e[14].stream_id = e[0].stream_id;
	store_ok(o, e, 16);
	evg_sub_offsets_close(o);
	expect_reopen(e, 16, 2, 0, false, false, "near duplicates");
}

Test(sub_offsets, more_than_max_entries_are_refused)
{
	struct evg_sub_offsets *o = open_ok(NULL);

	make_set(set_a, 10, 1);
	store_ok(o, set_a, 10);
	make_set(set_b, MAX + 1, 3);
	expect_refused(o, set_b, MAX + 1, "max + 1");
	expect_refused(o, NULL, 3, "no entries for n = 3");
	evg_sub_offsets_close(o);
}

/* ---- failing stores ---- */

Test(sub_offsets,
     failing_write_keeps_the_previous_set_and_the_next_store_retries_the_slot)
{
	struct rlimit lim,
		small = {.rlim_cur = 1000, .rlim_max = RLIM_INFINITY};
	struct evg_sub_offsets *o = open_ok(NULL);
	struct stat sb;
	char path[300];
	int rc;

	make_set(set_a, 10, 1);
	make_set(set_b, 100, 2);
	store_ok(o, set_a, 10); /* gen 1, offsets.1 */
	/* Writes past 1000 bytes fail with EFBIG: the first pwrite comes
	 * back short, the next fails. */
	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &lim), 0);
	small.rlim_max = lim.rlim_max;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
	rc = evg_sub_offsets_store(o, set_b, 100);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	cr_assert_eq(rc, -EFBIG, "store gave %d", rc);
	cr_assert_eq(evg_sub_offsets_gen(o), 1);
	expect_set(o, set_a, 10, "after the failed store");
	slot_path(path, sizeof(path), 0);
	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_eq(sb.st_size, 1000, "the torn write's bytes");
	expect_reopen(set_a, 10, 1, 1, true, false, "torn offsets.0 on disk");
	/* The next store writes gen 2 to the same slot again. */
	store_ok(o, set_b, 100);
	cr_assert_eq(evg_sub_offsets_gen(o), 2);
	evg_sub_offsets_close(o);
	expect_reopen(set_b, 100, 2, 0, false, false, "retried");
}

Test(sub_offsets, store_into_a_removed_directory_fails_and_keeps_the_set)
{
	struct evg_sub_offsets *o = open_ok(NULL);
	int rc;

	make_set(set_a, 10, 1);
	make_set(set_b, 20, 2);
	store_ok(o, set_a, 10);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	rc = evg_sub_offsets_store(o, set_b, 20);
	cr_assert_eq(rc, -ENOENT, "store gave %d", rc);
	cr_assert_eq(evg_sub_offsets_gen(o), 1);
	expect_set(o, set_a, 10, "after the failed store");
	evg_sub_offsets_close(o);
}

Test(sub_offsets, store_fdatasyncs_the_slot_it_wrote_before_counting_it)
{
	struct evg_sub_offsets *o = open_ok(NULL);
	struct stat sb;
	char path[300];

	make_set(set_a, 10, 1);
	for (unsigned int g = 1; g <= 2; g++) {
		io.fdatasyncs = 0;
		store_ok(o, set_a, 10);
		slot_path(path, sizeof(path), g % 2);
		cr_assert_eq(stat(path, &sb), 0);
		cr_assert_eq(io.fdatasyncs, 1, "store %u: %u fdatasyncs", g,
			     io.fdatasyncs);
		cr_assert(io.synced.st_ino == sb.st_ino &&
				  io.synced.st_dev == sb.st_dev,
			  "store %u synced another file than offsets.%u", g,
			  g % 2);
		cr_assert_eq(io.gen_at_sync, g,
			     "store %u synced before it wrote", g);
	}
	evg_sub_offsets_close(o);
}

Test(sub_offsets, interrupted_fdatasync_is_retried)
{
	struct evg_sub_offsets *o = open_ok(NULL);

	make_set(set_a, 10, 1);
	io.fdatasyncs = 0;
	io.fail_errno = EINTR;
	store_ok(o, set_a, 10);
	cr_assert_eq(io.fdatasyncs, 2);
	cr_assert_eq(evg_sub_offsets_gen(o), 1);
	evg_sub_offsets_close(o);
}

Test(sub_offsets,
     failing_fdatasync_keeps_the_previous_set_and_the_next_store_retries_it)
{
	struct evg_sub_offsets *o = open_ok(NULL);
	struct evg_sub_offset c[5];
	int rc;

	make_set(set_a, 10, 1);
	make_set(set_b, 20, 2);
	make_set(c, 5, 3);
	store_ok(o, set_a, 10); /* gen 1, offsets.1 */
	io.fail_errno = EIO;
	rc = evg_sub_offsets_store(o, set_b, 20);
	cr_assert_eq(rc, -EIO, "store gave %d", rc);
	cr_assert_eq(evg_sub_offsets_gen(o), 1);
	expect_set(o, set_a, 10, "after the failed sync");
	/* The same slot again, with the same generation, synced. */
	io.fdatasyncs = 0;
	store_ok(o, c, 5);
	cr_assert_eq(io.fdatasyncs, 1);
	cr_assert_eq(io.gen_at_sync, 2);
	cr_assert_eq(evg_sub_offsets_gen(o), 2);
	evg_sub_offsets_close(o);
	expect_reopen(c, 5, 2, 0, false, false, "after the retry");
}

Test(sub_offsets, creating_slot_files_syncs_the_directory_once)
{
	struct evg_sub_offsets *o;
	struct stat sb;
	char path[300];

	cr_assert_eq(stat(dir, &sb), 0);
	io.fsyncs = 0;
	o = open_ok(NULL);
	evg_sub_offsets_close(o);
	cr_assert_eq(io.fsyncs, 1, "%u fsyncs for two new files", io.fsyncs);
	cr_assert(S_ISDIR(io.synced.st_mode) && io.synced.st_ino == sb.st_ino,
		  "the fsync was not of the directory");
	io.fsyncs = 0;
	o = open_ok(NULL);
	evg_sub_offsets_close(o);
	cr_assert_eq(io.fsyncs, 0, "no new file, yet %u fsyncs", io.fsyncs);
	slot_path(path, sizeof(path), 1);
	cr_assert_eq(unlink(path), 0);
	o = open_ok(NULL);
	evg_sub_offsets_close(o);
	cr_assert_eq(io.fsyncs, 1, "offsets.1 created again: %u fsyncs",
		     io.fsyncs);
}

Test(sub_offsets, failing_directory_sync_fails_the_open)
{
	struct evg_sub_offsets *o = NULL;
	char err[512] = "";

	io.fail_errno = EIO;
	cr_assert_eq(evg_sub_offsets_open(dir, &o, NULL, err, sizeof(err)),
		     -EIO);
	cr_assert_null(o);
	cr_assert_not_null(strstr(err, dir), "err: %s", err);
}

/* ---- torn and corrupt slots ---- */

Test(sub_offsets, torn_newest_slot_at_every_length_falls_back_to_the_previous)
{
	uint8_t img[IMG_LEN(3)];

	store_a_then_b(5, 3);
	cr_assert_eq(file_read(0, img, sizeof(img)), sizeof(img));
	for (size_t len = 1; len < sizeof(img); len++) {
		char what[32];

		snprintf(what, sizeof(what), "cut at %zu", len);
		file_write(0, img, len);
		expect_reopen(set_a, 5, 1, 1, true, false, what);
	}
	/* Cut to nothing it is an empty slot: no set, not a bad one. */
	file_write(0, img, 0);
	expect_reopen(set_a, 5, 1, 1, false, false, "cut at 0");
}

Test(sub_offsets, torn_write_over_an_older_set_falls_back_to_the_previous)
{
	static uint8_t old[IMG_LEN(60)], cur[IMG_LEN(60)], mix[IMG_LEN(60)];
	struct evg_sub_offsets *o = open_ok(NULL);

	/* offsets.0 holds gen 2, then gen 4 over it; gen 3 is in
	 * offsets.1. A crash during gen 4's write leaves a prefix of it
	 * over the rest of gen 2. */
	make_set(set_a, 60, 1);
	store_ok(o, set_a, 60);
	make_set(set_a, 60, 2);
	store_ok(o, set_a, 60);
	cr_assert_eq(file_read(0, old, sizeof(old)), sizeof(old));
	make_set(set_b, 60, 3);
	store_ok(o, set_b, 60);
	make_set(set_a, 60, 4);
	store_ok(o, set_a, 60);
	evg_sub_offsets_close(o);
	cr_assert_eq(file_read(0, cur, sizeof(cur)), sizeof(cur));
	for (size_t k = 1; k < sizeof(cur); k += 37) {
		char what[32];

		memcpy(mix, cur, k);
		memcpy(mix + k, old + k, sizeof(mix) - k);
		file_write(0, mix, sizeof(mix));
		snprintf(what, sizeof(what), "new up to %zu", k);
		if (memcmp(mix, cur, sizeof(mix)) == 0) /* all that differs */
			expect_reopen(set_a, 60, 4, 0, false, false, what);
		else /* gen 2 when only equal bytes were written */
			expect_reopen(set_b, 60, 3, 1,
				      memcmp(mix, old, sizeof(mix)) != 0, false,
				      what);
	}
}

Test(sub_offsets, flipped_bit_anywhere_in_the_newest_slot_falls_back)
{
	uint8_t img[IMG_LEN(3)];

	store_a_then_b(5, 3);
	cr_assert_eq(file_read(0, img, sizeof(img)), sizeof(img));
	for (size_t i = 0; i < sizeof(img) * 8; i++) {
		char what[40];

		img[i / 8] ^= (uint8_t)(1u << (i % 8));
		file_write(0, img, sizeof(img));
		img[i / 8] ^= (uint8_t)(1u << (i % 8));
		snprintf(what, sizeof(what), "byte %zu bit %zu", i / 8, i % 8);
		expect_reopen(set_a, 5, 1, 1, true, false, what);
	}
	file_write(0, img, sizeof(img));
	expect_reopen(set_b, 3, 2, 0, false, false, "restored");
}

Test(sub_offsets, garbage_in_the_newest_slot_falls_back_and_is_flagged)
{
	static uint8_t junk[300000];
	const size_t lens[] = {IMG_LEN(3), 63, 64, sizeof(junk)};
	struct evg_sub_offsets_info info;
	struct evg_sub_offsets *o = NULL;
	char err[512];

	store_a_then_b(5, 3);
	srand(42);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)rand();
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		char what[32];

		file_write(0, junk, lens[k]);
		snprintf(what, sizeof(what), "%zu bytes of junk", lens[k]);
		expect_reopen(set_a, 5, 1, 1, true, false, what);
	}
	/* A slot of zeros (a write whose size landed but not its data). */
	memset(junk, 0, IMG_LEN(3));
	file_write(0, junk, IMG_LEN(3));
	expect_reopen(set_a, 5, 1, 1, true, false, "zeros");
	/* err says which file was not used, and that the other was. */
	cr_assert_eq(evg_sub_offsets_open(dir, &o, &info, err, sizeof(err)), 0);
	cr_assert_not_null(strstr(err, "offsets.0"), "err: %s", err);
	cr_assert_not_null(strstr(err, "offsets.1"), "err: %s", err);
	evg_sub_offsets_close(o);
}

Test(sub_offsets, torn_first_store_opens_empty_and_flags_the_slot)
{
	uint8_t junk[100];
	struct evg_sub_offsets *o = open_ok(NULL);

	evg_sub_offsets_close(o);
	memset(junk, 0x5a, sizeof(junk));
	file_write(1, junk, sizeof(junk));
	expect_reopen(NULL, 0, 0, -1, false, true, "junk in offsets.1");
	/* The first store (gen 1) goes to offsets.1 and repairs it. */
	o = open_ok(NULL);
	make_set(set_a, 2, 1);
	store_ok(o, set_a, 2);
	evg_sub_offsets_close(o);
	expect_reopen(set_a, 2, 1, 1, false, false, "after the first store");
}

Test(sub_offsets, both_slots_corrupt_fail_with_ebadmsg_and_one_line_naming_them)
{
	struct evg_sub_offsets *o = (struct evg_sub_offsets *)&o;
	struct evg_sub_offsets_info info;
	uint8_t img[IMG_LEN(5)];
	char err[512] = "";
	size_t len;

	store_a_then_b(5, 3);
	for (unsigned int s = 0; s < 2; s++) {
		len = file_read(s, img, sizeof(img));
		img[len - 1] ^= 0x10;
		file_write(s, img, len);
	}
	cr_assert_eq(evg_sub_offsets_open(dir, &o, &info, err, sizeof(err)),
		     -EBADMSG);
	cr_assert_eq(o, (struct evg_sub_offsets *)&o, "*out was written");
	cr_assert_not_null(strstr(err, "offsets.0"), "err: %s", err);
	cr_assert_not_null(strstr(err, "offsets.1"), "err: %s", err);
	cr_assert_not_null(strstr(err, dir), "err: %s", err);
	cr_assert_null(strchr(err, '\n'), "err is one line: %s", err);
}

/* Opening leaves a line in err naming the bad slot and why. */
static void
expect_err_says(const char *why, const char *what)
{
	struct evg_sub_offsets *o = NULL;
	char err[512] = "";

	cr_assert_eq(evg_sub_offsets_open(dir, &o, NULL, err, sizeof(err)), 0);
	evg_sub_offsets_close(o);
	cr_assert(strstr(err, "offsets.0") != NULL && strstr(err, why),
		  "%s: err \"%s\" does not say \"%s\"", what, err, why);
}

/* A field that breaks a rule, in a slot whose CRC is made good again:
 * only the rule can refuse it. */
struct mutation {
	const char *what;
	size_t at;	   /* byte offset in the image */
	unsigned int size; /* 1, 2, 4 or 8; 32: all name bytes = value */
	uint64_t value;
	const char *why; /* in the line open leaves in err */
};

static void
poke(uint8_t *b, const struct mutation *m)
{
	switch (m->size) {
	case 1:
		b[m->at] = (uint8_t)m->value;
		break;
	case 2:
		evg_st16(b + m->at, (uint16_t)m->value);
		break;
	case 4:
		evg_st32(b + m->at, (uint32_t)m->value);
		break;
	case 8:
		evg_st64(b + m->at, m->value);
		break;
	default:
		memset(b + m->at, (int)m->value, m->size);
	}
}

Test(sub_offsets, invalid_fields_with_a_good_crc_are_refused)
{
	static const struct mutation muts[] = {
		{"magic", 0, 4, 0x324f5645, "bad magic"},
		{"version 2", 4, 2, 2, "version"},
		{"header_len 128", 6, 2, 128, "bad header"},
		{"count 3 for 2 entries", 8, 4, 3, "too short for 3 entries"},
		{"count above the maximum", 8, 4, MAX + 1, "more entries"},
		{"entry_len 56", 12, 4, 56, "bad header"},
		{"generation 0", 16, 8, 0, "generation"},
		{"odd generation in offsets.0", 16, 8, 3, "generation"},
		{"header reserved", 40, 1, 1, "bad header"},
		{"empty group name", HDR, 32, 0, "entry 0: bad group name"},
		{"bad character in a name", HDR + 1, 1, '!', "bad group name"},
		{"no NUL in 32 name bytes", HDR, 32, 'x', "bad group name"},
		{"junk after the name's NUL", HDR + 30, 1, 'x', "padding"},
		{"entry reserved", HDR + 56, 8, 1, "reserved"},
		{"second entry's key repeats the first", 0, 0, 0,
		 "entry 1: (group, stream) twice"},
	};
	uint8_t img[IMG_LEN(2)], bad[IMG_LEN(2)];

	store_a_then_b(5, 2);
	cr_assert_eq(file_read(0, img, sizeof(img)), sizeof(img));
	for (size_t k = 0; k < sizeof(muts) / sizeof(muts[0]); k++) {
		memcpy(bad, img, sizeof(bad));
		if (muts[k].size == 0) {
			memcpy(bad + HDR + ENT, bad + HDR, 36);
		} else {
			poke(bad, &muts[k]);
		}
		img_seal(bad, sizeof(bad));
		file_write(0, bad, sizeof(bad));
		expect_reopen(set_a, 5, 1, 1, true, false, muts[k].what);
		expect_err_says(muts[k].why, muts[k].what);
	}
	/* The unchanged image, sealed by the test, is accepted: the CRC is
	 * the documented one. */
	memcpy(bad, img, sizeof(bad));
	img_seal(bad, sizeof(bad));
	cr_assert_eq(memcmp(bad, img, sizeof(img)), 0, "CRC differs");
	file_write(0, bad, sizeof(bad));
	expect_reopen(set_b, 2, 2, 0, false, false, "resealed as it was");
}

/* ---- the documented format ---- */

/* docs/storage.md, "Consumer offsets", worked example (the same four
 * lines): group "billing", stream 42, partition 2, offset 1000,
 * committed at 1700000000000000000, as generation 1 in offsets.1. */
static const char example_hex[] =
	"45564f3101004000010000004000000001000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000055444f3d"
	"62696c6c696e6700000000000000000000000000000000000000000000000000"
	"2a00000002000000e80300000000000000002a36fe9c97170000000000000000";

static size_t
unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	unsigned int v;

	while (*s != '\0' && n < cap) {
		if (*s == ' ') {
			s++;
			continue;
		}
		cr_assert_eq(sscanf(s, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

Test(sub_offsets, documented_example_slot_is_byte_exact)
{
	struct evg_sub_offset e = {.group = "billing",
				   .stream_id = 42,
				   .partition = 2,
				   .offset = 1000,
				   .commit_ns = 1700000000000000000ull};
	struct evg_sub_offsets *o = open_ok(NULL);
	uint8_t want[IMG_LEN(1)], got[IMG_LEN(1) + 1];

	cr_assert_eq(unhex(example_hex, want, sizeof(want)), sizeof(want));
	store_ok(o, &e, 1);
	evg_sub_offsets_close(o);
	cr_assert_eq(file_read(1, got, sizeof(got)), sizeof(want));
	for (size_t i = 0; i < sizeof(want); i++)
		cr_assert_eq(got[i], want[i], "byte %zu: %02x, documented %02x",
			     i, got[i], want[i]);
	expect_reopen(&e, 1, 1, 1, false, false, "example");
}
