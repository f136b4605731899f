/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Micro-benchmark: the cost of evg_evf_validate() + iterating every event,
 * per frame, for DATA frames of 1, 8 and 32 events of 64 bytes.
 *
 * Usage: bench_evf [--cpu N] [--seconds S] [--reps R]
 * Prints one JSON object on stdout (with the CPU it ran on) and a one-line
 * summary on stderr. Each case runs R repetitions of about S/R seconds
 * over a ring of distinct frames (so branch predictors cannot memorise one
 * frame), and reports the best and median repetition.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "evg_evf.h"

#include "../peers/peer_util.h"

#define NB_FRAMES 256
#define EVENT_SIZE 64
#define MAX_REPS 32

/* Validate and walk every frame once; returns a checksum of what was read
 * so the compiler cannot drop the work. */
static uint64_t
pass(uint8_t *const *frames, const uint32_t *lens)
{
	uint64_t sum = 0;

	for (int i = 0; i < NB_FRAMES; i++) {
		struct evg_evf_iter it;
		struct evg_evf_event ev;

		if (evg_evf_validate(frames[i], lens[i], NULL) != EVG_EVF_OK)
			abort();
		evg_evf_iter_init(&it, frames[i]);
		while (evg_evf_iter_next(&it, &ev))
			sum += ev.value_size + ev.value[0] + ev.ts_ns;
	}
	return sum;
}

static void
run_case(unsigned int events, double seconds, int reps, int last)
{
	static uint8_t *frames[NB_FRAMES];
	static uint32_t lens[NB_FRAMES];
	double ns[MAX_REPS];
	uint8_t value[EVENT_SIZE];
	uint64_t sink = 0, frames_done = 0;
	uint32_t len = 0;

	for (int f = 0; f < NB_FRAMES; f++) {
		struct evg_evf_hdr h = { .producer_id = 1 + f, .stream_id = 1,
					 .session = 1, .seq = (uint64_t)f * events };
		struct evg_evf_builder b;

		frames[f] = aligned_alloc(64, 4096);
		if (frames[f] == NULL)
			abort();
		for (int i = 0; i < EVENT_SIZE; i++)
			value[i] = (uint8_t)(f + i);
		evg_evf_builder_init(&b, frames[f], 4096, &h);
		for (unsigned int e = 0; e < events; e++)
			evg_evf_builder_add(&b, NULL, 0, value, EVENT_SIZE, e);
		lens[f] = len = (uint32_t)evg_evf_builder_finish(&b);
	}
	for (int r = 0; r < reps; r++) {
		double t0 = peer_now_s(), t1;
		uint64_t n = 0;

		do {
			for (int k = 0; k < 64; k++)
				sink += pass(frames, lens);
			n += 64 * NB_FRAMES;
			t1 = peer_now_s();
		} while (t1 - t0 < seconds / reps);
		ns[r] = (t1 - t0) * 1e9 / (double)n;
		frames_done += n;
	}
	qsort(ns, (size_t)reps, sizeof(ns[0]), peer_cmp_double);
	printf("    {\"events_per_frame\": %u, \"event_bytes\": %u, "
	       "\"frame_bytes\": %u, \"frames\": %llu, "
	       "\"ns_per_frame_best\": %.1f, \"ns_per_frame_median\": %.1f, "
	       "\"ns_per_event_median\": %.2f, \"mframes_per_s_median\": %.2f, "
	       "\"mevents_per_s_median\": %.2f, \"gb_per_s_median\": %.2f, "
	       "\"checksum\": %llu}%s\n",
	       events, EVENT_SIZE, len, (unsigned long long)frames_done, ns[0],
	       ns[reps / 2], ns[reps / 2] / events, 1e3 / ns[reps / 2],
	       1e3 * events / ns[reps / 2], len / ns[reps / 2],
	       (unsigned long long)sink, last ? "" : ",");
	fprintf(stderr, "%s%u ev/frame %.1f ns/frame %.2f ns/event",
		events == 1 ? "bench_evf: validate+iterate, " : "; ", events,
		ns[reps / 2], ns[reps / 2] / events);
	for (int f = 0; f < NB_FRAMES; f++)
		free(frames[f]);
}

static void
usage(FILE *f)
{
	fprintf(f, "Usage: bench_evf [--cpu N] [--seconds S] [--reps R]\n"
		   "  --cpu N      pin to CPU N (default: not pinned)\n"
		   "  --seconds S  time per case, default 3\n"
		   "  --reps R     repetitions per case (1-%d), default 7\n",
		MAX_REPS);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cpu", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 's' },
		{ "reps", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const unsigned int cases[] = { 1, 8, 32 };
	double seconds = 3;
	int reps = 7, cpu = -1, c;
	char host[256] = "unknown";

	while ((c = getopt_long(argc, argv, "c:s:r:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cpu = atoi(optarg);
			break;
		case 's':
			seconds = atof(optarg);
			break;
		case 'r':
			reps = atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (seconds <= 0 || seconds > 600 || reps < 1 || reps > MAX_REPS) {
		fprintf(stderr, "bench_evf: --seconds must be in (0, 600] and "
				"--reps in [1, %d]\n", MAX_REPS);
		return 2;
	}
	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) != 0) {
			fprintf(stderr, "bench_evf: --cpu %d: %s\n", cpu,
				strerror(errno));
			return 2;
		}
	}
	gethostname(host, sizeof(host) - 1);
	printf("{\n  \"bench\": \"evf_validate_iterate\",\n"
	       "  \"host\": \"%s\", \"cpu\": %d, \"cpus_online\": %ld,\n"
	       "  \"seconds_per_case\": %.1f, \"reps\": %d,\n  \"results\": [\n",
	       host, cpu, sysconf(_SC_NPROCESSORS_ONLN), seconds, reps);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(cases[i], seconds, reps,
			 i + 1 == sizeof(cases) / sizeof(cases[0]));
	printf("  ],\n  \"cpu_ran\": %d\n}\n", sched_getcpu());
	fprintf(stderr, " (median, CPU %d)\n", sched_getcpu());
	return 0;
}
