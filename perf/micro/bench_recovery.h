/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_recovery (bench_recovery.c): shared between the measuring side
 * and the log side (bench_recovery_log.c: building the log as a crash
 * leaves it, the sidecar, and what each case does to the log).
 */
#ifndef BENCH_RECOVERY_H
#define BENCH_RECOVERY_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "evg_journal.h"
#include "../peers/peer_util.h"

#define PARTITIONS 4u /* docs/configuration.md defaults */
#define SEGMENT_BYTES (256ull << 20)
#define BATCH_BYTES (256u << 10)
#define INDEX_INTERVAL (64u << 10) /* as app/evgate/journal.c */
#define DEPTH 64u
#define APPEND_N 32u		  /* records per append call */
#define SIDECAR_MAGIC 0x31535242u /* "BRS1" */
#define NCASES 6u
#define SHOW_BAD 5u /* mismatches printed at most */

struct opts {
	const char *dir;
	uint64_t size;
	uint32_t event_size;
	uint32_t producers;
	uint32_t streams;
	double timeout;
	bool keep;
	bool json;
};

struct pstate {
	uint64_t session;
	uint64_t next_seq; /* 0: never written */
	uint64_t restart;  /* the next event starts session + 1 */
};

/* DIR/bench_recovery.state: this header, then the expected states. */
struct sidecar {
	uint32_t magic;
	uint32_t event_size;
	uint32_t producers;
	uint32_t streams;
	uint64_t size; /* --size asked for */
	uint64_t bytes;
	uint64_t records;
	double build_s;
};

/* One recovery, as the child measured it. */
struct case_res {
	struct evg_journal_recovery rep;
	double seconds; /* wall time of evg_journal_open() */
	uint64_t rchar, read_bytes;
	uint64_t states, bad;
	int open_rc;
};

struct bcase {
	const char *name;
	bool ran;
	bool skipped; /* crash: a reused log was closed cleanly */
	bool cold;    /* page cache dropped before */
	int exit_rc;  /* of the child: 0 ok, 1 open failed, 3 wrong states */
	struct case_res r;
};

struct bench {
	struct opts o;
	char log[4096];
	char side[4096];
	double t_start;
	double deadline;
	bool root;
	bool reused;
	bool owns_log; /* made here: removed unless kept */
	bool made_dir; /* --dir did not exist: ours to remove */
	struct sidecar sc;
	struct pstate *exp; /* producers x streams, index (p - 1) * S + s */
	struct bcase cases[NCASES];
	uint64_t ticket[PARTITIONS]; /* highest given out, while building */
	uint32_t want_torn;	     /* torn tails the next recovery must cut */
	volatile sig_atomic_t *stop; /* SIGINT or SIGTERM seen */
};

/* bench_recovery_log.c */
void br_conf_init(const struct bench *b, struct evg_journal_conf *c);
bool br_past_deadline(const struct bench *b);
/* Wait for a child, killing it (by its pid) past the deadline. */
int br_reap(const struct bench *b, pid_t pid, int *status);
/* 1: a kept log reused, 0: nothing there, < 0: a log that does not fit. */
int br_sidecar_load(struct bench *b);
/* Build the log in a child that ends without closing it (a crash). */
int br_build_crashed(struct bench *b);
/* Only what the benchmark made: DIR/log, the sidecar, DIR if empty. */
void br_remove_log(const struct bench *b, bool dir_too);
int br_drop_caches(void);
int br_remove_checkpoints(const struct bench *b);
int br_tear_tails(const struct bench *b);

#endif /* BENCH_RECOVERY_H */
