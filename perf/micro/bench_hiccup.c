/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_hiccup: the host's floor for tail latency. One thread per CPU
 * given spins reading CLOCK_MONOTONIC, as a busy-polling lcore does, and
 * records every gap between two reads longer than --threshold-us: time
 * the thread did not run (the hypervisor took the vCPU, an interrupt, a
 * kernel thread, another task). Any latency measured through these CPUs
 * inherits those gaps: a request that spans one waits for it.
 *
 *   bench_hiccup [--cpus 0,1] [--seconds 5] [--threshold-us 100]
 *
 * Prints one JSON object on stdout (per CPU: gaps, time lost in them,
 * the largest, how many passed 1, 2, 5 and 10 ms) and a summary line on
 * stderr. Run it with nothing else on those CPUs.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../peers/peer_util.h"

#define ME "bench_hiccup"
#define MAX_CPUS 64
static const uint64_t over_ms[] = {1, 2, 5, 10};
#define NOVER (sizeof(over_ms) / sizeof(over_ms[0]))

struct probe {
	int cpu;
	uint64_t run_ns, threshold_ns;
	uint64_t gaps, lost_ns, max_ns, over[NOVER];
	int err;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *
spin(void *arg)
{
	struct probe *p = arg;
	cpu_set_t set;
	uint64_t start, last, end;

	CPU_ZERO(&set);
	CPU_SET(p->cpu, &set);
	p->err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (p->err != 0)
		return NULL;
	start = last = now_ns();
	end = start + p->run_ns;
	while (last < end) {
		uint64_t t = now_ns(), gap = t - last;

		if (gap > p->threshold_ns) {
			p->gaps++;
			p->lost_ns += gap;
			if (gap > p->max_ns)
				p->max_ns = gap;
			for (unsigned int i = 0; i < NOVER; i++)
				p->over[i] += gap > over_ms[i] * 1000000u;
		}
		last = t;
	}
	return NULL;
}

static void
usage(FILE *f)
{
	fprintf(f, "Usage: " ME " [options]\n"
		   "  --cpus L          comma list of CPUs (default: all this "
		   "process may use)\n"
		   "  --seconds S       how long, (0, 600] (default 5)\n"
		   "  --threshold-us N  count gaps longer than this, 1-1000000 "
		   "(default 100)\n"
		   "Prints one JSON object on stdout, a summary line on "
		   "stderr.\n");
}

static int
parse_cpus(const char *s, struct probe *pr, unsigned int *n)
{
	char buf[512], *save = NULL, *tok;
	uint64_t v;

	snprintf(buf, sizeof(buf), "%s", s);
	*n = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		if (*n == MAX_CPUS ||
		    peer_parse_u64(tok, 0, CPU_SETSIZE - 1, &v) < 0)
			return -EINVAL;
		pr[(*n)++].cpu = (int)v;
	}
	return *n > 0 ? 0 : -EINVAL;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"cpus", 1, NULL, 'c'},
		{"seconds", 1, NULL, 's'},
		{"threshold-us", 1, NULL, 't'},
		{"help", 0, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct probe pr[MAX_CPUS];
	pthread_t th[MAX_CPUS];
	unsigned int n = 0;
	double seconds = 5;
	uint64_t threshold_us = 100;
	int c;

	memset(pr, 0, sizeof(pr));
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (parse_cpus(optarg, pr, &n) < 0) {
				fprintf(stderr,
					ME ": --cpus '%s': expected a comma "
					   "list of CPU ids\n",
					optarg);
				return 2;
			}
			break;
		case 's':
			if (peer_parse_seconds(optarg, &seconds) < 0) {
				fprintf(stderr,
					ME ": --seconds '%s': expected (0, "
					   "600]\n",
					optarg);
				return 2;
			}
			break;
		case 't':
			if (peer_parse_u64(optarg, 1, 1000000, &threshold_us) <
			    0) {
				fprintf(stderr,
					ME ": --threshold-us '%s': expected "
					   "1-1000000\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, ME ": unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	if (n == 0) {
		cpu_set_t all;

		if (sched_getaffinity(0, sizeof(all), &all) != 0) {
			perror(ME ": sched_getaffinity");
			return 1;
		}
		for (int i = 0; i < CPU_SETSIZE && n < MAX_CPUS; i++)
			if (CPU_ISSET(i, &all))
				pr[n++].cpu = i;
	}
	for (unsigned int i = 0; i < n; i++) {
		pr[i].run_ns = (uint64_t)(seconds * 1e9);
		pr[i].threshold_ns = threshold_us * 1000u;
		if (pthread_create(&th[i], NULL, spin, &pr[i]) != 0) {
			fprintf(stderr, ME ": pthread_create failed\n");
			return 1;
		}
	}
	for (unsigned int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	printf("{\n \"bench\": \"hiccup\", \"seconds\": %.3f, "
	       "\"threshold_us\": %llu,\n \"cpus\": [\n",
	       seconds, (unsigned long long)threshold_us);
	for (unsigned int i = 0; i < n; i++) {
		const struct probe *p = &pr[i];

		if (p->err != 0) {
			fprintf(stderr, ME ": CPU %d: %s\n", p->cpu,
				strerror(p->err));
			return 2;
		}
		printf("  {\"cpu\": %d, \"gaps\": %llu, \"lost_pct\": %.3f, "
		       "\"max_ms\": %.3f, \"over_1ms\": %llu, \"over_2ms\": "
		       "%llu, \"over_5ms\": %llu, \"over_10ms\": %llu}%s\n",
		       p->cpu, (unsigned long long)p->gaps,
		       100.0 * (double)p->lost_ns / (double)p->run_ns,
		       (double)p->max_ns / 1e6, (unsigned long long)p->over[0],
		       (unsigned long long)p->over[1],
		       (unsigned long long)p->over[2],
		       (unsigned long long)p->over[3], i + 1 < n ? "," : "");
		fprintf(stderr,
			"%sCPU %d: %llu gaps > %llu us, %.2f %% lost, max "
			"%.2f ms, %llu > 2 ms",
			i ? "; " : ME ": ", p->cpu, (unsigned long long)p->gaps,
			(unsigned long long)threshold_us,
			100.0 * (double)p->lost_ns / (double)p->run_ns,
			(double)p->max_ns / 1e6,
			(unsigned long long)p->over[1]);
	}
	printf(" ]\n}\n");
	fprintf(stderr, " (%.0f s spinning)\n", seconds);
	return 0;
}
