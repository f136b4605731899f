/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The journal stage's tests (test_jrnst.c, test_jrnst_faults.c): the
 * stage alone between stage_fixture's edges, over a journal on the mem
 * store (which completes writes only when they are reaped, and fails them
 * on demand with evg_store_mem_fail()) or on psync in a directory of the
 * test's own. Frames are real DATA frames (sf_received_data) carrying the
 * decision seq would write; what the stage appended is read back from the
 * log and checked event by event.
 *
 *   TestSuite(jrnst, .init = sf_setup, .fini = sf_teardown);
 *   jf_init(); jf_send(jf_accepted(0, 3)); jf_poll_until_out(1);
 *   jf_expect_out_in_order(1); jf_expect_log(3); jf_fini();
 */
#ifndef JRNST_FIXTURE_H
#define JRNST_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "evg_journal.h"
#include "evg_stages.h"
#include "evg_store.h"
#include "frame_testutil.h"
#include "stage_fixture.h"

#define PRODUCER 7u
#define STREAM 42u     /* partition 0 of 1 or 2 */
#define STREAM_P1 43u  /* partition 1 of 2 */
#define MAX_SEQ 512u   /* events a test appends, at most */
#define MAX_SENT 8192u /* frames a test sends, at most */

enum jf_store { JF_MEM, JF_PSYNC };

/* Where the log lives and the level frames wait for. */
struct level {
	enum jf_store store;
	enum evg_journal_level level;
	enum evg_journal_sync_mode sync_mode;
};

struct jrnst_fixture {
	struct evg_journal_conf jconf;
	struct evg_journal *j;
	char dir[64]; /* psync: the log directory, removed at the end */
	struct sf_edges e;
	volatile bool failing; /* the stage's storage_failing */
	struct evg_jrnst_ctx ctx;
	struct evg_node node;
	uint8_t ev_idx[MAX_SEQ]; /* seq -> index of its event in its frame */
	struct rte_mbuf *sent[MAX_SENT]; /* in the order sent */
	unsigned int nb_sent, nb_seen;
	uint64_t refusals; /* polls that ended with a frame left pending */
	uint64_t t0_ns;	   /* wall clock before the stage started */
};

struct jrnst_fixture *jf(void);

#define JC(name) (jf()->ctx.stats.c[EVG_JRNST_##name])

/* Suite init for a pool that holds a full FIFO and more. */
void jf_big_pool_setup(void);

/* The stage between jf()->e.in[] and e.out (out_size slots), both
 * BACKPRESSURE, over a fresh journal of `partitions` partitions and
 * batches of `batch` bytes. */
void jf_start(const struct level *lv, uint32_t partitions, uint32_t batch,
	      unsigned int out_size, uint16_t burst, bool ack_received);
/* The common case: mem store, level written, 1 partition, 8 KiB batches,
 * out 256 slots, burst 32. */
void jf_init(void);
/* Every test ends here: the stage holds nothing, the journal closes
 * cleanly, and no mbuf is lost. */
void jf_fini(void);
/* Partition 0's store (mem: for evg_store_mem_fail()). */
struct evg_store *jf_mem_store(void);

/* A DATA frame of events seq .. seq + count - 1 on stream as seq leaves
 * it: with action ACCEPT the first skip events are duplicates and the
 * rest accepted, with DUPLICATE all are, with a NAK action none. */
struct rte_mbuf *jf_data_frame(uint32_t stream, uint64_t seq, uint16_t count,
			       uint32_t skip, uint8_t action);
/* Accepted DATA of (PRODUCER, STREAM). */
struct rte_mbuf *jf_accepted(uint64_t seq, uint16_t count);
/* A PING of (PRODUCER, stream), as seq passes it on to be ACKed. */
struct rte_mbuf *jf_ping(uint32_t stream);
/* Queue m on input `in` (0 for jf_send), remembering the order. */
void jf_send_on(unsigned int in, struct rte_mbuf *m);
void jf_send(struct rte_mbuf *m);

/* One poll; a frame left pending afterwards means an append was refused
 * (the output edge has room in these tests), which the stage counts once:
 * jf()->refusals counts such polls. Returns the poll's work. */
unsigned int jf_poll(void);
/* Poll until `total` frames have gone out in all, within bounds of polls
 * and time (a failed write is retried a millisecond later). */
void jf_poll_until_out(uint64_t total);
/* Take n frames off the output edge: the next n sent, in order. */
void jf_expect_out_in_order(unsigned int n);
/* A write-path counter of partition 0. */
uint64_t jf_journal_stat(enum evg_journal_stat s);
/* Partition 0 holds the events of (PRODUCER, STREAM) seq 0 .. n - 1
 * exactly once, in order, each as its frame carried it. */
void jf_expect_log(uint64_t n);

#endif /* JRNST_FIXTURE_H */
