/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Small helpers shared by the peer benchmarks (header only, so each
 * benchmark stays one executable with no library of its own): a
 * monotonic clock, a qsort comparison of doubles, little-endian loads and stores, latency percentiles,
 * the filesystem under a directory, the strict number parsing the options
 * use, the option loop, CPU pinning and the SIGINT/SIGTERM poll.
 */
#ifndef PEER_UTIL_H
#define PEER_UTIL_H

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <mntent.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t
peer_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The same clock in seconds, for rates and time limits. */
static inline double
peer_now_s(void)
{
	return (double)peer_now_ns() * 1e-9;
}

static inline void
peer_store_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t
peer_load_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static inline int
peer_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static inline int
peer_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Latency summary in microseconds; sorts v in place. */
struct peer_lat {
	uint64_t n;
	double p50_us, p99_us, p999_us, max_us;
};

static inline double
peer_pct(const uint64_t *v, uint64_t n, double q)
{
	uint64_t i = (uint64_t)(q * (double)(n - 1) + 0.5);

	return (double)v[i] / 1e3;
}

static inline struct peer_lat
peer_lat_summary(uint64_t *v, uint64_t n)
{
	struct peer_lat l = {.n = n};

	if (n == 0)
		return l;
	qsort(v, n, sizeof(*v), peer_cmp_u64);
	l.p50_us = peer_pct(v, n, 0.50);
	l.p99_us = peer_pct(v, n, 0.99);
	l.p999_us = peer_pct(v, n, 0.999);
	l.max_us = (double)v[n - 1] / 1e3;
	return l;
}

/*
 * The filesystem type and device that hold dir, from the mount with the
 * longest mount point that is a prefix of dir's real path (what findmnt
 * --target says); "unknown" when that cannot be found.
 */
struct peer_fs {
	char type[32];
	char dev[128];
};

static inline int
peer_path_under(const char *path, const char *mnt)
{
	size_t n = strlen(mnt);

	if (strcmp(mnt, "/") == 0)
		return 1;
	return strncmp(path, mnt, n) == 0 && (path[n] == '/' || path[n] == 0);
}

static inline struct peer_fs
peer_fs_of(const char *dir)
{
	struct peer_fs fs = {"unknown", "unknown"};
	char real[PATH_MAX];
	size_t best = 0;
	struct mntent *m;
	FILE *f;

	if (realpath(dir, real) == NULL)
		return fs;
	f = setmntent("/proc/self/mounts", "r");
	if (f == NULL)
		return fs;
	while ((m = getmntent(f)) != NULL) {
		size_t n = strlen(m->mnt_dir);

		if (!peer_path_under(real, m->mnt_dir) || n < best)
			continue;
		best = n;
		snprintf(fs.type, sizeof(fs.type), "%s", m->mnt_type);
		snprintf(fs.dev, sizeof(fs.dev), "%s", m->mnt_fsname);
	}
	endmntent(f);
	return fs;
}

/* Parses all of s as an unsigned number in [lo, hi]; 0 or -EINVAL. */
static inline int
peer_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s == '\0' || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static inline int
peer_parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !(v > 0.0 && v <= 600.0))
		return -EINVAL;
	*out = v;
	return 0;
}

/* "PROG: OPT 'VAL': expected WANT" on stderr; returns -1. */
static inline int
peer_bad(const char *prog, const char *opt, const char *val, const char *want)
{
	fprintf(stderr, "%s: %s '%s': expected %s\n", prog, opt, val, want);
	return -1;
}

/*
 * getopt_long over lo: --help prints usage on stdout (1); an unknown
 * option prints it on stderr (-1); every other option goes to
 * opt(o, option, value), which says why and returns nonzero to refuse it
 * (-1). Arguments are refused. 0: run.
 */
static inline int
peer_getopt(const char *prog, int argc, char **argv,
	    const struct option *lo, void (*usage)(FILE *f),
	    int (*opt)(void *o, int option, const char *value), void *o)
{
	int c;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 1;
		}
		if (c == '?') {
			usage(stderr);
			return -1;
		}
		if (opt(o, c, optarg) != 0)
			return -1;
	}
	if (optind < argc)
		return peer_bad(prog, "argument", argv[optind], "no arguments");
	return 0;
}

/* Pins the calling thread (and the threads it starts later) to cpu; no-op
 * for cpu < 0. 0, or -1 after "PROG: --cpu: why" on stderr. */
static inline int
peer_pin(const char *prog, int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0) {
		fprintf(stderr, "%s: --cpu: %s\n", prog, strerror(errno));
		return -1;
	}
	return 0;
}

/* Blocks SIGINT and SIGTERM (also in threads started later), so that the
 * run polls for them with peer_signalled() between bounded steps. */
static inline void
peer_block_signals(sigset_t *sigs)
{
	sigemptyset(sigs);
	sigaddset(sigs, SIGINT);
	sigaddset(sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, sigs, NULL);
}

/* True, after "PROG: signal N, stopping" on stderr, once SIGINT or SIGTERM
 * is pending; never waits. */
static inline bool
peer_signalled(const char *prog, const sigset_t *sigs)
{
	struct timespec zero = {0, 0};
	int sig = sigtimedwait(sigs, NULL, &zero);

	if (sig == SIGINT || sig == SIGTERM) {
		fprintf(stderr, "%s: signal %d, stopping\n", prog, sig);
		return true;
	}
	return false;
}

#endif /* PEER_UTIL_H */
