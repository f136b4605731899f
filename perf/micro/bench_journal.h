/* SPDX-License-Identifier: BSD-3-Clause */
/* bench_journal (bench_journal.c): options, shared by its two files. */
#ifndef BENCH_JOURNAL_H
#define BENCH_JOURNAL_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "evg_journal.h"
#include "evg_store.h"

#include "../peers/peer_util.h"

#define ME "bench_journal"
#define MAX_CASES 8
#define MAX_REPS 32
#define MAX_BURST 256

enum bj_mode { BJ_APPEND, BJ_LATENCY };

struct bj_opts {
	const char *dir;
	const char *store_name;
	const struct evg_store_ops *store;
	enum bj_mode mode;
	uint64_t sizes[MAX_CASES], flushes[MAX_CASES];
	unsigned int nsizes, nflushes;
	uint64_t batch_kib, depth, burst, lat_events, segment_mib, max_mib;
	enum evg_journal_level level;
	enum evg_journal_sync_mode sync_mode;
	double seconds;
	int reps, cpu;
	const char *io_cpus_arg; /* --io-cpus: auto, same or a list */
	cpu_set_t io_cpus;	 /* resolved by bj_pin(); has_io_cpus */
	bool has_io_cpus;
	char io_cpus_text[128];	 /* for the output: "0", "same" */
};

/* Parse the command line into *o; exits 0 after --help, 2 on an error. */
void bj_parse(int argc, char **argv, struct bj_opts *o);
/* Resolve --io-cpus against the CPUs the process may use, then pin the
 * thread to --cpu (-1: leave it); exits 2 when either fails. */
void bj_pin(struct bj_opts *o);
/* The JSON object's opening and its fields up to "results". */
void bj_print_head(const struct bj_opts *o, const char *host,
		   const struct peer_fs *fs);

#endif /* BENCH_JOURNAL_H */
