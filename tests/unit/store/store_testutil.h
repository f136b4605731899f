/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the store tests (test_store.c, test_store_fault.c) share: the
 * per-test directory's removal, the uring skip probe and a clock for
 * deadlines. Header only: each test stays one executable.
 */
#ifndef STORE_TESTUTIL_H
#define STORE_TESTUTIL_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <liburing.h>

static inline int
stu_rm_entry(const char *path, const struct stat *sb, int type,
	     struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

/* Removes dir and everything under it. */
static inline void
stu_rm_tree(const char *dir)
{
	nftw(dir, stu_rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Skip, not fail, where the machine lacks what uring needs (io_uring, or
 * O_DIRECT on dir); probed without the code under test. */
static inline void
stu_skip_without_uring(const char *dir)
{
	struct io_uring ring;
	char path[64];
	int rc, fd;

	rc = io_uring_queue_init(4, &ring, 0);
	if (rc < 0)
		cr_skip_test("uring: io_uring_queue_init: %s", strerror(-rc));
	io_uring_queue_exit(&ring);
	snprintf(path, sizeof(path), "%s/odirect-probe", dir);
	fd = open(path, O_CREAT | O_RDWR | O_DIRECT | O_CLOEXEC, 0644);
	if (fd < 0 && errno == EINVAL)
		cr_skip_test("uring: %s refuses O_DIRECT", dir);
	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	close(fd);
	unlink(path);
}

static inline double
stu_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif /* STORE_TESTUTIL_H */
