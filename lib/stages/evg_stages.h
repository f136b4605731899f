/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The data path stages of evgate (docs/datapath.md). Each is an
 * evg_stage_ops table over a context struct; the application creates the
 * edges, fills each stage's conf, and places the nodes on lcores.
 *
 *   port queue --> rx --(edge per rx x shard)--> seq --(edge per shard)-->
 *        [journal, issue 5] --> ack --(edge)--> tx --> port queue
 *                    rx --(edge per rx: ARP, ICMP, NAK)--> tx
 *
 * - rx: receives a burst, classifies it (lib/net), answers ARP and ICMP
 *   echo, validates EVF frames (lib/evf), applies the allow list (NAK
 *   REJECTED), and hands every good DATA/PING frame to the sequencer shard
 *   that owns its (producer, stream). When a DROP edge to a shard is full
 *   the frame is answered NAK BUSY.
 * - seq: one per shard; decides on every frame with its evg_seq_table and
 *   writes the decision into the frame's evg_pkt; passes every frame on,
 *   in order. Its output edge is BACKPRESSURE (it never drops accepted
 *   events) and it pulls no more than that edge has room for.
 * - ack: turns decisions into replies: cumulative ACKs coalesced per
 *   (producer, stream, session) over each burst it handles, an ACK of its
 *   own for a DATA frame with ACK_NOW and for a PING, NAK GAP / FENCED /
 *   BUSY rate-limited per source. The reply reuses the frame's mbuf.
 *   Whatever sits between seq and ack must keep frames in order and pass
 *   a frame on only once it has reached the ACK level (the journal does
 *   that), so ack never needs to know the level.
 * - tx: sends bursts on one port queue; frames the port refuses are kept
 *   and retried, then dropped and counted.
 *
 * Every mbuf that enters a stage leaves it: passed on, turned into a
 * reply, or freed and counted. Mempools must be created with
 * EVG_PKT_PRIV_SIZE bytes of private area per mbuf.
 */
#ifndef EVG_STAGES_H
#define EVG_STAGES_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_mbuf.h>

#include "evg_cfg.h"
#include "evg_evf.h"
#include "evg_net.h"
#include "evg_pipeline.h"
#include "evg_seq.h"

#define EVG_STAGES_MAX_SHARDS 64u /* sequencer shards */
#define EVG_STAGES_MAX_INPUTS 64u /* input edges of one stage */

/* What the sequencer decided, beyond enum evg_seq_action: a new
 * (producer, stream) found its shard's table full (NAK BUSY); the log is
 * failing, so the frame was refused without touching the sequencing
 * state (NAK STORAGE). */
#define EVG_PKT_BUSY EVG_SEQ_ACTION_MAX
#define EVG_PKT_STORAGE (EVG_SEQ_ACTION_MAX + 1)

/* Per-frame state in each mbuf's private area, from rx to ack. */
struct evg_pkt {
	struct evg_net_meta net; /* rx: where replies go */
	struct evg_evf_hdr hdr;	 /* rx: the frame's decoded header */
	uint64_t rx_tsc;	 /* rx: rte_rdtsc() when received */
	uint64_t ack_seq;	 /* seq: seq for the reply */
	uint32_t skip;		 /* seq: leading duplicate events */
	uint32_t accept;	 /* seq: events accepted after them */
	uint8_t action;		 /* seq: enum evg_seq_action or EVG_PKT_BUSY */
};

#define EVG_PKT_PRIV_SIZE RTE_ALIGN(sizeof(struct evg_pkt), RTE_MBUF_PRIV_ALIGN)

static inline struct evg_pkt *
evg_pkt(struct rte_mbuf *m)
{
	return (struct evg_pkt *)rte_mbuf_to_priv(m);
}

/*
 * Per-source NAK rate limit (GCRA, one theoretical arrival time per slot):
 * at most `rate` NAKs a second per slot after a burst of `burst`. Sources
 * are hashed onto EVG_NAK_LIMIT_SLOTS slots; sources that share a slot
 * share its budget, which only ever makes the limit stricter, so a flood
 * from spoofed addresses cannot buy itself more replies.
 */
#define EVG_NAK_LIMIT_SLOTS 1024u

struct evg_nak_limiter {
	uint64_t interval;  /* TSC cycles per NAK at the steady rate */
	uint64_t tolerance; /* interval * (burst - 1) */
	uint64_t tat[EVG_NAK_LIMIT_SLOTS];
};

/* rate and burst >= 1 (lib/cfg enforces it; 0 is taken as 1); tsc_hz 0
 * means rte_get_tsc_hz(). */
void evg_nak_limiter_init(struct evg_nak_limiter *l, uint32_t rate,
			  uint32_t burst, uint64_t tsc_hz);
/* True when a NAK to src_ip (network order) may go out at TSC now. */
bool evg_nak_limiter_allow(struct evg_nak_limiter *l, rte_be32_t src_ip,
			   uint64_t now);

/*
 * Build a 40-byte EVF control frame (ACK or NAK) answering the frame whose
 * evg_pkt is pkt, into m (which may be that frame's own mbuf): same
 * producer, stream and session; count = NAK reason code (0 for an ACK).
 * Returns 0 or the -errno of evg_net_udp_reply().
 */
int evg_pkt_reply(const struct evg_net_if *ifc, struct rte_mbuf *m,
		  const struct evg_pkt *pkt, enum evg_evf_type type,
		  uint16_t code, uint64_t seq);

/* ---- rx ---------------------------------------------------------------- */

/* rx counters beyond the per-class (lib/net) and per-verdict (lib/evf)
 * ones, which the stage also exports ("net_<class>", "evf_<verdict>"). */
#define EVG_RX_STATS_FOREACH(X)                                        \
	X(packets, "frames received from the port queue")              \
	X(bytes, "bytes received from the port queue")                 \
	X(to_seq, "EVF frames handed to a sequencer shard")            \
	X(arp_replies, "ARP replies sent towards tx")                  \
	X(icmp_replies, "ICMP echo replies sent towards tx")           \
	X(rejected, "frames refused by the allow list (never stored)") \
	X(naks_rejected, "NAK or SUB_ERROR REJECTED sent")             \
	X(to_sub, "consumer frames handed to the subscriber stage")    \
	X(sub_off, "consumer frames dropped: [sub] max_subscribers = 0") \
	X(naks_busy, "NAK BUSY sent: a sequencer ring was full")       \
	X(naks_limited, "NAKs not sent: per-source rate limit")        \
	X(reply_failed, "replies that could not be built (frame freed)")

/* clang-format off */
enum evg_rx_stat {
#define EVG_RX_STAT_ENUM_(name, desc) EVG_RX_##name,
	EVG_RX_STATS_FOREACH(EVG_RX_STAT_ENUM_)
#undef EVG_RX_STAT_ENUM_
	EVG_RX_STAT_MAX,
};
/* clang-format on */

struct evg_rx_stats {
	uint64_t c[EVG_RX_STAT_MAX];
	struct evg_net_counters net;
	struct evg_evf_counters evf;
} __rte_cache_aligned;

struct evg_rx_conf {
	uint16_t port_id;
	uint16_t queue_id;
	uint16_t burst;		      /* 1 .. EVG_BURST_MAX */
	const struct evg_net_if *ifc; /* this port's address */
	const struct evg_cfg *cfg;    /* allow list, nak_rate, nak_burst */
	struct evg_edge *seq_out[EVG_STAGES_MAX_SHARDS];
	unsigned int nb_shards;	      /* 1 .. EVG_STAGES_MAX_SHARDS */
	struct evg_edge *tx_out;      /* ARP, ICMP and NAK replies */
	/* Consumer frames (SUBSCRIBE, CREDIT, UNSUBSCRIBE) to the
	 * subscriber stage; NULL: the consumer side is off. */
	struct evg_edge *sub_out;
	const volatile bool *stop_rx; /* when set, stop polling the port */
	uint64_t tsc_hz;
};

struct evg_rx_ctx {
	struct evg_rx_conf conf;
	struct evg_nak_limiter lim;
	struct evg_rx_stats stats;
};

/*
 * Set ctx up from conf. Installs the NAK BUSY handler as on_full of every
 * seq_out edge with the DROP policy. Returns 0 or -EINVAL (NULL pointer,
 * burst or nb_shards out of range).
 */
int evg_rx_init(struct evg_rx_ctx *ctx, const struct evg_rx_conf *conf);
extern const struct evg_stage_ops evg_rx_ops; /* node->ctx: evg_rx_ctx */

/* ---- seq --------------------------------------------------------------- */

#define EVG_SEQST_STATS_FOREACH(X)                                          \
	X(in, "frames taken from rx")                                       \
	X(out, "frames passed on")                                          \
	X(data, "DATA frames")                                              \
	X(ping, "PING frames")                                              \
	X(accept, "frames with events accepted")                            \
	X(duplicate, "frames whose every event was a duplicate")            \
	X(gap, "frames refused: gap (NAK GAP)")                             \
	X(fenced, "frames refused: older session (NAK FENCED)")             \
	X(overflow, "frames refused: seq would pass 2^64 - 1")              \
	X(table_full, "frames refused: new key, table full (NAK BUSY)")     \
	X(storage, "DATA and PING refused: the log is failing (NAK STORAGE)") \
	X(events_accepted, "events accepted")                               \
	X(events_duplicate, "duplicate events dropped")

/* clang-format off */
enum evg_seqst_stat {
#define EVG_SEQST_STAT_ENUM_(name, desc) EVG_SEQST_##name,
	EVG_SEQST_STATS_FOREACH(EVG_SEQST_STAT_ENUM_)
#undef EVG_SEQST_STAT_ENUM_
	EVG_SEQST_STAT_MAX,
};
/* clang-format on */

struct evg_seqst_stats {
	uint64_t c[EVG_SEQST_STAT_MAX];
} __rte_cache_aligned;

struct evg_seqst_conf {
	struct evg_seq_table *table;		    /* this shard's state */
	struct evg_edge *in[EVG_STAGES_MAX_INPUTS]; /* one per rx node */
	unsigned int nb_in;
	struct evg_edge *out; /* to ack (or the journal); BACKPRESSURE */
	uint16_t burst;
	/* Set by the journal stage while the log cannot persist; DATA frames
	 * are then refused (EVG_PKT_STORAGE). NULL: no journal. */
	const volatile bool *storage_failing;
};

struct evg_seqst_ctx {
	struct evg_seqst_conf conf;
	unsigned int next_in; /* round-robin start */
	struct evg_seqst_stats stats;
};

int evg_seqst_init(struct evg_seqst_ctx *ctx,
		   const struct evg_seqst_conf *conf);
extern const struct evg_stage_ops evg_seqst_ops; /* node->ctx: evg_seqst_ctx */

/* ---- ack --------------------------------------------------------------- */

#define EVG_ACK_STATS_FOREACH(X)                                            \
	X(in, "frames taken from the sequencer (or journal)")               \
	X(acks, "ACK frames sent")                                          \
	X(acks_coalesced, "ACKs folded into a later ACK of the same burst") \
	X(acks_now, "ACKs sent at once for ACK_NOW")                        \
	X(acks_ping, "ACKs answering a PING")                               \
	X(naks_gap, "NAK GAP sent")                                         \
	X(naks_fenced, "NAK FENCED sent")                                   \
	X(naks_busy, "NAK BUSY sent (sequencer table full)")                \
	X(naks_storage, "NAK STORAGE sent (the log is failing)")            \
	X(naks_limited, "NAKs not sent: per-source rate limit")             \
	X(overflow, "frames dropped without a reply (seq overflow)")        \
	X(reply_failed, "replies that could not be built (frame freed)")

/* clang-format off */
enum evg_ack_stat {
#define EVG_ACK_STAT_ENUM_(name, desc) EVG_ACK_##name,
	EVG_ACK_STATS_FOREACH(EVG_ACK_STAT_ENUM_)
#undef EVG_ACK_STAT_ENUM_
	EVG_ACK_STAT_MAX,
};
/* clang-format on */

struct evg_ack_stats {
	uint64_t c[EVG_ACK_STAT_MAX];
} __rte_cache_aligned;

/* Pending coalesced ACKs of one burst: open addressing, cleared by
 * generation. */
#define EVG_ACK_SLOTS 1024u

struct evg_ack_slot {
	uint32_t gen;
	uint32_t producer_id;
	uint32_t stream_id;
	uint64_t session;
	struct rte_mbuf *m; /* the latest frame of the key; becomes the ACK */
};

struct evg_ack_conf {
	const struct evg_net_if *ifc; /* indexed by mbuf port */
	uint16_t nb_ports;
	struct evg_edge *in[EVG_STAGES_MAX_INPUTS]; /* one per shard */
	unsigned int nb_in;
	struct evg_edge *out; /* to tx */
	uint16_t burst;
	uint32_t nak_rate;
	uint32_t nak_burst;
	uint64_t tsc_hz;
};

struct evg_ack_ctx {
	struct evg_ack_conf conf;
	unsigned int next_in;
	uint32_t gen;
	struct evg_nak_limiter lim;
	struct evg_ack_slot slots[EVG_ACK_SLOTS];
	struct evg_ack_stats stats;
};

int evg_ack_init(struct evg_ack_ctx *ctx, const struct evg_ack_conf *conf);
extern const struct evg_stage_ops evg_ack_ops; /* node->ctx: evg_ack_ctx */

/* ---- journal --------------------------------------------------------------
 */

/*
 * Between seq and ack when the ACK level is written or synced. Frames come
 * in sequencing order; the accepted events of each DATA frame are appended
 * to the log (evg_journal.h), and every frame that will be answered with
 * an ACK (accepted, duplicate, PING) waits in a FIFO until everything
 * appended before it in its partition is durable, then goes on to ack in
 * FIFO order: an ACK never covers an event that has not reached the
 * level. Frames answered with a NAK (gap, fenced, busy, storage) claim
 * nothing and go on at once.
 *
 * When the log fails (ENOSPC, EIO) the frame is kept and retried, and so
 * are the frames behind it that wait for the log; the storage_failing flag
 * makes the sequencers refuse new DATA and PING with NAK STORAGE, which go
 * on at once, and writing resumes when the storage does.
 */
#define EVG_JRNST_STATS_FOREACH(X)                                      \
	X(in, "frames taken from the sequencers")                       \
	X(out, "frames passed on to ack")                               \
	X(waited, "frames that waited in the FIFO for durability")      \
	X(events, "events appended to the log")                         \
	X(flushes, "partition flushes (group commits)")                 \
	X(no_buffer,                                                    \
	  "appends deferred: every buffer of a partition in flight")    \
	X(storage_errors, "appends refused by a failing log (retried)") \
	X(abandoned, "frames freed unanswered at shutdown (log never "  \
		     "durable)")

/* clang-format off */
enum evg_jrnst_stat {
#define EVG_JRNST_STAT_ENUM_(name, desc) EVG_JRNST_##name,
	EVG_JRNST_STATS_FOREACH(EVG_JRNST_STAT_ENUM_)
#undef EVG_JRNST_STAT_ENUM_
	EVG_JRNST_STAT_MAX,
};
/* clang-format on */

struct evg_journal;
struct evg_journal_rec;

#define EVG_JRNST_FIFO 4096u /* frames waiting for durability, at most */
#define EVG_JRNST_MAX_PARTITIONS 1024u

struct evg_jrnst_conf {
	struct evg_journal *journal;
	uint32_t partitions;			    /* the journal's */
	struct evg_edge *in[EVG_STAGES_MAX_INPUTS]; /* one per shard */
	unsigned int nb_in;
	struct evg_edge *out; /* to ack */
	uint16_t burst;
	volatile bool *storage_failing; /* written here, read by seq */
	/* Drain calls at shutdown before waiting frames are given up. */
	uint32_t drain_polls;
	/* ACK level received: frames go on without waiting for the log. */
	bool ack_received;
};

struct evg_jrnst_entry {
	struct rte_mbuf *m;
	uint64_t ticket;
	uint32_t partition;
};

struct evg_jrnst_ctx {
	struct evg_jrnst_conf conf;
	unsigned int next_in;
	uint32_t head, tail; /* FIFO indexes, free-running */
	uint32_t drains;
	/* Frames pulled but not taken yet (an append to retry, and the frames
	 * behind it that wait for the log, in order). Together with the FIFO
	 * at most EVG_JRNST_FIFO. */
	uint32_t nb_pending;
	struct rte_mbuf *pending[EVG_JRNST_FIFO];
	struct evg_journal_rec *recs; /* one frame's events (init allocates) */
	uint64_t tsc_base, ns_base, tsc_hz; /* rx_tsc -> ingest ns */
	uint64_t last_ticket[EVG_JRNST_MAX_PARTITIONS];
	uint64_t durable[EVG_JRNST_MAX_PARTITIONS];
	uint8_t dirty[EVG_JRNST_MAX_PARTITIONS]; /* appended since flush */
	struct evg_jrnst_entry fifo[EVG_JRNST_FIFO];
	struct evg_jrnst_stats {
		uint64_t c[EVG_JRNST_STAT_MAX];
	} __rte_cache_aligned stats;
};

/* 0, -EINVAL (bad conf), -ENOMEM. evg_jrnst_fini() frees what init
 * allocated and any frame still held. */
int evg_jrnst_init(struct evg_jrnst_ctx *ctx,
		   const struct evg_jrnst_conf *conf);
void evg_jrnst_fini(struct evg_jrnst_ctx *ctx);
/* Frames the stage holds (waiting for durability or to be retried); the
 * control thread reads it at shutdown to know when the stage is done. */
static inline unsigned int
evg_jrnst_held(const struct evg_jrnst_ctx *ctx)
{
	return (ctx->tail - ctx->head) + ctx->nb_pending;
}
extern const struct evg_stage_ops evg_jrnst_ops; /* node->ctx: jrnst_ctx */

/* ---- tx ---------------------------------------------------------------- */

#define EVG_TX_STATS_FOREACH(X)                            \
	X(packets, "frames the port took")                 \
	X(bytes, "bytes the port took")                    \
	X(retries, "polls that found the port queue full") \
	X(dropped, "frames dropped: the port queue stayed full")

/* clang-format off */
enum evg_tx_stat {
#define EVG_TX_STAT_ENUM_(name, desc) EVG_TX_##name,
	EVG_TX_STATS_FOREACH(EVG_TX_STAT_ENUM_)
#undef EVG_TX_STAT_ENUM_
	EVG_TX_STAT_MAX,
};
/* clang-format on */

struct evg_tx_stats {
	uint64_t c[EVG_TX_STAT_MAX];
} __rte_cache_aligned;

struct evg_tx_conf {
	uint16_t port_id;
	uint16_t queue_id;
	struct evg_edge *in[EVG_STAGES_MAX_INPUTS];
	unsigned int nb_in;
	uint16_t burst;
	/* Consecutive polls without progress before the held frames are
	 * dropped; 0 picks the default (EVG_TX_STALL_POLLS). */
	uint32_t stall_polls;
};

#define EVG_TX_STALL_POLLS 1024u

struct evg_tx_ctx {
	struct evg_tx_conf conf;
	unsigned int next_in;
	uint16_t nb_held; /* frames the port refused, sent first next poll */
	uint32_t stalled; /* polls in a row that sent nothing held */
	struct rte_mbuf *held[EVG_BURST_MAX];
	struct evg_tx_stats stats;
};

int evg_tx_init(struct evg_tx_ctx *ctx, const struct evg_tx_conf *conf);
extern const struct evg_stage_ops evg_tx_ops; /* node->ctx: evg_tx_ctx */

#endif /* EVG_STAGES_H */
