/* SPDX-License-Identifier: BSD-3-Clause */
/* evsub: subscribes to evgate's streams through libevclient's consumer. */
#ifndef EVSUB_H
#define EVSUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "evg_consumer.h"

#define EVSUB_BATCH 64u
#define EVSUB_MAX_STREAMS 16u

/* Exit codes. */
enum {
	EVSUB_EXIT_OK = 0,
	EVSUB_EXIT_FAIL = 1, /* --count not reached in time, an error */
	EVSUB_EXIT_USAGE = 2,
};

struct evsub_opts {
	const char *server;
	uint32_t consumer;
	unsigned int nb_streams;
	struct evg_consumer_stream streams[EVSUB_MAX_STREAMS];
	enum evg_consumer_start start;
	uint64_t from; /* offset (OFFSET) or ns (TIME) */
	const char *group;
	int policy;
	uint16_t weight;
	uint32_t credit_events;
	uint32_t credit_bytes;
	uint64_t count;	       /* 0: no limit */
	double timeout_s;      /* 0: none */
	double idle_s;	       /* 0: none */
	uint64_t commit_every; /* 0: only the automatic commits */
	bool json;
	bool quiet;
};

/* Latencies in ns, HDR-style: below 64 one bucket each, above 32 linear
 * sub-buckets per power of two (a bucket is at most 1/32 of its lower
 * bound wide: a percentile is within 3.2 %). Fixed memory, whatever the
 * run's length. */
#define EVSUB_HIST_SUB_BITS 5u
#define EVSUB_HIST_SUB (1u << EVSUB_HIST_SUB_BITS)
#define EVSUB_HIST_NB ((64u - EVSUB_HIST_SUB_BITS + 1u) * EVSUB_HIST_SUB)

struct evsub_hist {
	uint64_t count;
	uint64_t max;
	uint64_t b[EVSUB_HIST_NB];
};

struct evsub {
	struct evsub_opts o;
	struct evg_consumer *c;
	struct evsub_hist lat;
	uint64_t events;
	uint64_t redelivered;
	uint64_t t_first, t_last; /* CLOCK_MONOTONIC ns of the first and
				   * last batch with events; 0: none */
	bool interrupted;
};

/* options.c: 0, 1 after --help, -EINVAL after printing the problem. */
int evsub_parse(int argc, char **argv, struct evsub_opts *o);

/* output.c */
void evsub_print_text(FILE *out, const struct evg_consumer_event *ev);
void evsub_print_json(FILE *out, const struct evg_consumer_event *ev);

/* report.c */
void evsub_hist_record(struct evsub_hist *h, uint64_t v);
/* The p-th percentile (0 < p <= 100) in ns; 0 when empty. */
uint64_t evsub_hist_percentile(const struct evsub_hist *h, double p);
/* The summary on stderr, and with --json one line on stdout. */
void evsub_report(const struct evsub *s);

#endif
