/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "journal_priv.h" /* evg_jrn_reader_open_store(): the mem store */
#include "jrnst_fixture.h"

#define POLL_LIMIT 200000u
#define WAIT_NS 5000000000ull /* bound on waiting for a retried write */

/* One per test process (Criterion forks a process per test). */
static struct jrnst_fixture fx;

struct jrnst_fixture *
jf(void)
{
	return &fx;
}

void
jf_big_pool_setup(void)
{
	sf_setup_pool(2 * EVG_JRNST_FIFO - 1, NULL);
}

static uint64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
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
journal_open(const struct level *lv, uint32_t partitions, uint32_t batch)
{
	struct evg_journal_recovery rep;
	char err[256];

	fx.jconf = (struct evg_journal_conf){
		.dir = "/evg-jrnst-mem",
		.store = &evg_store_mem_ops,
		.partitions = partitions,
		.segment_bytes = 256 * 1024,
		.batch_bytes = batch,
		.index_interval = 4096,
		.level = lv->level,
		.sync_mode = lv->sync_mode,
		.depth = 16,
		.socket_id = -1,
	};
	if (lv->store == JF_PSYNC) {
		snprintf(fx.dir, sizeof(fx.dir), "/tmp/evg-jrnst-XXXXXX");
		cr_assert_not_null(mkdtemp(fx.dir), "mkdtemp");
		fx.jconf.dir = fx.dir;
		fx.jconf.store = &evg_store_psync_ops;
	}
	cr_assert_eq(evg_journal_open(&fx.jconf, &fx.j, &rep, err, sizeof(err)),
		     0, "%s", err);
}

/* The stage between fx.e.in[] and fx.e.out, over a fresh journal. */
void
jf_start(const struct level *lv, uint32_t partitions, uint32_t batch,
	 unsigned int out_size, uint16_t burst, bool ack_received)
{
	struct evg_jrnst_conf conf = {
		.nb_in = SF_NB_IN,
		.partitions = partitions,
		.burst = burst,
		.storage_failing = &fx.failing,
		.ack_received = ack_received,
	};

	memset(&fx, 0, sizeof(fx));
	fx.failing = true; /* init must clear it */
	fx.t0_ns = clock_ns(CLOCK_REALTIME);
	journal_open(lv, partitions, batch);
	sf_edges_init(&fx.e, "jr", 256, EVG_EDGE_BACKPRESSURE, out_size,
		      EVG_EDGE_BACKPRESSURE);
	conf.journal = fx.j;
	conf.in[0] = &fx.e.in[0];
	conf.in[1] = &fx.e.in[1];
	conf.out = &fx.e.out;
	cr_assert_eq(evg_jrnst_init(&fx.ctx, &conf), 0);
	cr_assert_not(fx.failing, "init leaves storage_failing set");
	fx.node = (struct evg_node){.ops = &evg_jrnst_ops, .ctx = &fx.ctx};
}

void
jf_init(void)
{
	static const struct level written = {JF_MEM, EVG_JOURNAL_WRITTEN, 0};

	jf_start(&written, 1, 8192, 256, 32, false);
}

/* Every test ends here: the stage holds nothing, the journal closes
 * cleanly, and no mbuf is lost. */
void
jf_fini(void)
{
	cr_assert_eq(evg_jrnst_held(&fx.ctx), 0, "%u frames still held",
		     evg_jrnst_held(&fx.ctx));
	evg_jrnst_fini(&fx.ctx);
	cr_assert_eq(evg_journal_close(fx.j), 0, "journal close");
	if (fx.dir[0] != '\0')
		nftw(fx.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	sf_edges_fini(&fx.e);
}

struct evg_store *
jf_mem_store(void)
{
	struct evg_store *st = evg_journal_store(fx.j, 0);

	cr_assert_not_null(st);
	return st;
}

/* ---- frames ----------------------------------------------------------- */

/* A DATA frame of events seq .. seq + count - 1 on stream as seq leaves
 * it: with action ACCEPT the first skip events are duplicates and the
 * rest accepted, with DUPLICATE all are, with a NAK action none. */
struct rte_mbuf *
jf_data_frame(uint32_t stream, uint64_t seq, uint16_t count, uint32_t skip,
	      uint8_t action)
{
	struct rte_mbuf *m =
		sf_received_data(FT_PEER_IP, FT_PEER_PORT, PRODUCER, stream,
				 seq, count, FT_NO_VLAN);
	struct evg_pkt *pkt = evg_pkt(m);

	pkt->action = action;
	pkt->ack_seq = seq + count;
	if (action == EVG_SEQ_ACCEPT) {
		pkt->skip = skip;
		pkt->accept = count - skip;
		for (uint32_t k = skip; k < count; k++)
			fx.ev_idx[seq + k] = (uint8_t)k;
	} else if (action == EVG_SEQ_DUPLICATE) {
		pkt->skip = count;
	}
	return m;
}

struct rte_mbuf *
jf_accepted(uint64_t seq, uint16_t count)
{
	return jf_data_frame(STREAM, seq, count, 0, EVG_SEQ_ACCEPT);
}

struct rte_mbuf *
jf_ping(uint32_t stream)
{
	struct rte_mbuf *m = sf_mbuf(0);
	struct evg_pkt *pkt = evg_pkt(m);

	pkt->hdr = (struct evg_evf_hdr){
		.magic = EVG_EVF_MAGIC,
		.type = EVG_EVF_PING,
		.producer_id = PRODUCER,
		.stream_id = stream,
		.session = FT_SESSION,
		.length = EVG_EVF_HDR_LEN,
	};
	pkt->action = EVG_SEQ_ACCEPT;
	return m;
}

/* Queue m on input `in`, remembering the order frames were sent in. */
void
jf_send_on(unsigned int in, struct rte_mbuf *m)
{
	cr_assert_lt(fx.nb_sent, MAX_SENT);
	fx.sent[fx.nb_sent++] = m;
	sf_feed(&fx.e.in[in], m);
}

void
jf_send(struct rte_mbuf *m)
{
	jf_send_on(0, m);
}

/* ---- polling and checks ----------------------------------------------- */

/* One poll; a frame left pending afterwards means an append was refused
 * (the output edge always has room here), which the stage counts once. */
unsigned int
jf_poll(void)
{
	unsigned int n = fx.node.ops->poll(&fx.node);

	fx.refusals += fx.ctx.nb_pending > 0;
	return n;
}

/* Poll until `total` frames have gone out, within POLL_LIMIT polls and
 * WAIT_NS (a failed write is retried a millisecond later). */
void
jf_poll_until_out(uint64_t total)
{
	uint64_t start = clock_ns(CLOCK_MONOTONIC);
	unsigned int polls = 0;

	while (fx.ctx.stats.c[EVG_JRNST_out] < total) {
		cr_assert_lt(polls++, POLL_LIMIT,
			     "%" PRIu64 " of %" PRIu64 " frames out",
			     fx.ctx.stats.c[EVG_JRNST_out], total);
		cr_assert_lt(clock_ns(CLOCK_MONOTONIC) - start, WAIT_NS,
			     "%" PRIu64 " of %" PRIu64 " frames out",
			     fx.ctx.stats.c[EVG_JRNST_out], total);
		jf_poll();
	}
}

/* Take n frames off the output edge: the next n sent, in order. */
void
jf_expect_out_in_order(unsigned int n)
{
	struct rte_mbuf *got[EVG_BURST_MAX];
	unsigned int k;

	while (n > 0) {
		k = evg_edge_pull(&fx.e.out, got, RTE_MIN(n, RTE_DIM(got)));
		cr_assert_gt(k, 0, "%u frames missing on out", n);
		for (unsigned int i = 0; i < k; i++)
			cr_assert_eq(got[i], fx.sent[fx.nb_seen + i],
				     "frame %u out of order", fx.nb_seen + i);
		fx.nb_seen += k;
		n -= k;
		rte_pktmbuf_free_bulk(got, k);
	}
	cr_assert_eq(evg_edge_count(&fx.e.out), 0, "more frames on out");
}

uint64_t
jf_journal_stat(enum evg_journal_stat s)
{
	uint64_t v[EVG_JOURNAL_STAT_MAX];

	evg_journal_stats(fx.j, 0, v);
	return v[s];
}

static struct evg_journal_reader *
log_reader(uint32_t p)
{
	struct evg_journal_reader *r = NULL;
	char err[256];

	if (fx.dir[0] == '\0')
		cr_assert_eq(evg_jrn_reader_open_store(fx.j, p, &r), 0);
	else
		cr_assert_eq(evg_journal_reader_open(fx.dir, p, &r, err,
						     sizeof(err)),
			     0, "%s", err);
	return r;
}

/* Partition 0 holds the events of (PRODUCER, STREAM) seq 0 .. n - 1
 * exactly once, in order, each as its frame carried it. */
void
jf_expect_log(uint64_t n)
{
	static const char value[] = "hello";
	struct evg_journal_reader *r = log_reader(0);
	uint64_t now = clock_ns(CLOCK_REALTIME);
	struct evg_journal_entry e;
	uint64_t seq = 0;
	int rc;

	while ((rc = evg_journal_reader_next(r, &e)) == 0) {
		unsigned int k = fx.ev_idx[seq];
		char key[2] = {'k', (char)('0' + k % 10)};

		cr_assert_lt(seq, n, "more than %" PRIu64 " records", n);
		cr_assert_eq(e.rec.seq, seq,
			     "record %" PRIu64 " has seq %" PRIu64, seq,
			     e.rec.seq);
		cr_assert_eq(e.offset, seq);
		cr_assert_eq(e.rec.producer_id, PRODUCER);
		cr_assert_eq(e.rec.stream_id, STREAM);
		cr_assert_eq(e.rec.session, FT_SESSION);
		cr_assert_eq(e.rec.ts_ns, 1000 + k, "seq %" PRIu64, seq);
		cr_assert_eq(e.rec.key_size, 2);
		cr_assert_arr_eq(e.rec.key, key, 2, "seq %" PRIu64, seq);
		cr_assert_eq(e.rec.value_size, k % 5 + 1);
		cr_assert_arr_eq(e.rec.value, value, k % 5 + 1);
		/* The wall clock at receipt, give or take a second. */
		cr_assert(e.rec.ingest_ns + 1000000000u >= fx.t0_ns &&
				  e.rec.ingest_ns <= now + 1000000000u,
			  "ingest_ns %" PRIu64 " not near now",
			  e.rec.ingest_ns);
		seq++;
	}
	cr_assert_eq(rc, -ENODATA, "reader: %d", rc);
	cr_assert_eq(seq, n, "%" PRIu64 " records, expected %" PRIu64, seq, n);
	evg_journal_reader_close(r);
}
