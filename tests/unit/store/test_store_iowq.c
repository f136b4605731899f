/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The uring store's io_cpus (evg_store_conf): the kernel's io workers
 * ("iou-wrk-<tid>" threads of this process, which run every fdatasync)
 * run on the CPUs given, for the thread that created the store and for
 * another thread that submits later; without io_cpus they keep the
 * submitting thread's CPUs; an empty set fails create().
 * The thread is pinned to the last CPU and the workers asked onto the
 * first, so the cases need two CPUs and skip on one.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "evg_store.h"
#include "store_testutil.h"

#define BLK EVG_STORE_ALIGN
#define DEADLINE_S 10.0

static char tmpdir[] = "/tmp/evg-store-iowq-XXXXXX";
static const struct evg_store_ops *ops;
static void *buf;
static cpu_set_t first_cpu, last_cpu;

static void
setup(void)
{
	cpu_set_t all;
	int first = -1, last = -1;

	cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
	stu_skip_without_uring(tmpdir);
	cr_assert_eq(sched_getaffinity(0, sizeof(all), &all), 0);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &all)) {
			first = first < 0 ? c : first;
			last = c;
		}
	if (first == last)
		cr_skip_test("one CPU: io workers cannot be moved off it");
	CPU_ZERO(&first_cpu);
	CPU_SET(first, &first_cpu);
	CPU_ZERO(&last_cpu);
	CPU_SET(last, &last_cpu);
	cr_assert_eq(sched_setaffinity(0, sizeof(last_cpu), &last_cpu), 0);
	ops = evg_store_find("uring");
	cr_assert_not_null(ops);
	cr_assert_eq(posix_memalign(&buf, BLK, BLK), 0);
	memset(buf, 0x5a, BLK);
}

static void
teardown(void)
{
	free(buf);
	stu_rm_tree(tmpdir);
}

TestSuite(store_iowq, .init = setup, .fini = teardown);

static struct evg_store *
create(const cpu_set_t *io_cpus)
{
	struct evg_store_conf conf = {
		.dir = tmpdir, .depth = 8, .socket_id = -1, .io_cpus = io_cpus};
	struct evg_store *st = NULL;
	int rc = ops->create(&conf, &st);

	cr_assert_eq(rc, 0, "create: %s", strerror(-rc));
	return st;
}

/* A write and an fdatasync of file name, submitted from the calling
 * thread and reaped; the fdatasync always runs in an io worker. 0, or
 * what failed (no Criterion assertion: other threads call it too). */
static const char *
write_and_sync(struct evg_store *st, const char *name)
{
	struct evg_store_cqe cqe[2];
	unsigned int got = 0;
	double end = stu_now_s() + DEADLINE_S;
	int fid = ops->open(st, name, true, BLK);

	if (fid < 0)
		return "open";
	if (ops->write(st, fid, buf, BLK, 0, false, 1) != 0 ||
	    ops->sync(st, fid, 2) != 0 || ops->submit(st) < 0)
		return "queueing the write and the sync";
	while (got < 2 && stu_now_s() < end) {
		int n = ops->reap(st, cqe + got, 2 - got);

		if (n < 0)
			return "reap";
		got += (unsigned int)n;
	}
	ops->close(st, fid);
	if (got < 2)
		return "no completions within the deadline";
	return cqe[0].res == BLK && cqe[1].res == 0
		       ? NULL
		       : "the write or sync failed";
}

/*
 * The io workers of thread tid (named "iou-wrk-<tid>"): how many there
 * are, and how many run on exactly the CPUs of want.
 */
static void
workers_of(pid_t tid, const cpu_set_t *want, int *n, int *on_want)
{
	char name[64], comm[64], path[96];
	struct dirent *de;
	DIR *d = opendir("/proc/self/task");

	*n = *on_want = 0;
	if (d == NULL)
		return;
	snprintf(name, sizeof(name), "iou-wrk-%d\n", (int)tid);
	while ((de = readdir(d)) != NULL) {
		pid_t t = (pid_t)atoi(de->d_name);
		cpu_set_t cs;
		FILE *f;

		if (t <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%d/comm", (int)t);
		f = fopen(path, "r");
		if (f == NULL)
			continue; /* it exited */
		if (fgets(comm, sizeof(comm), f) != NULL &&
		    strcmp(comm, name) == 0) {
			(*n)++;
			if (sched_getaffinity(t, sizeof(cs), &cs) == 0 &&
			    CPU_EQUAL(&cs, want))
				(*on_want)++;
		}
		fclose(f);
	}
	closedir(d);
}

static void
expect_workers_on(pid_t tid, const cpu_set_t *want, const char *what)
{
	int n, on;

	workers_of(tid, want, &n, &on);
	cr_assert_gt(n, 0, "%s: no io worker of thread %d after a sync", what,
		     (int)tid);
	cr_assert_eq(on, n, "%s: %d of %d io workers on the CPUs asked", what,
		     on, n);
}

static void
sync_ok(struct evg_store *st, const char *name)
{
	const char *failed = write_and_sync(st, name);

	cr_assert_null(failed, "write and sync of %s: %s", name, failed);
}

Test(store_iowq, io_cpus_put_the_creating_threads_workers_there)
{
	struct evg_store *st = create(&first_cpu);

	sync_ok(st, "a");
	expect_workers_on(gettid(), &first_cpu, "creating thread");
	ops->destroy(st);
}

Test(store_iowq, without_io_cpus_workers_keep_the_submitting_threads_cpus)
{
	struct evg_store *st = create(NULL);

	sync_ok(st, "a");
	expect_workers_on(gettid(), &last_cpu, "no io_cpus");
	ops->destroy(st);
}

/* A second thread on the poller's CPU, like a journal lcore: it submits
 * and counts its workers before it exits (they exit with it). */
struct other {
	struct evg_store *st;
	const char *failed;
	int workers, on_first;
};

static void *
other_thread(void *arg)
{
	struct other *o = arg;

	if (sched_setaffinity(0, sizeof(last_cpu), &last_cpu) != 0)
		o->failed = "sched_setaffinity";
	else
		o->failed = write_and_sync(o->st, "b");
	workers_of(gettid(), &first_cpu, &o->workers, &o->on_first);
	return NULL;
}

Test(store_iowq, a_second_submitting_thread_gets_its_workers_placed_too)
{
	struct other o = {.st = create(&first_cpu)};
	pthread_t t;

	sync_ok(o.st, "a"); /* the creating thread first */
	cr_assert_eq(pthread_create(&t, NULL, other_thread, &o), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	ops->destroy(o.st);
	cr_assert_null(o.failed, "second thread: %s", o.failed);
	cr_assert_gt(o.workers, 0, "second thread: no io worker after a sync");
	cr_assert_eq(o.on_first, o.workers,
		     "second thread: %d of %d io workers on the CPU asked",
		     o.on_first, o.workers);
}

Test(store_iowq, an_empty_set_fails_create_with_einval)
{
	struct evg_store_conf conf = {
		.dir = tmpdir, .depth = 8, .socket_id = -1};
	struct evg_store *st = NULL;
	cpu_set_t none;

	CPU_ZERO(&none);
	conf.io_cpus = &none;
	cr_assert_eq(ops->create(&conf, &st), -EINVAL);
	cr_assert_null(st);
}
