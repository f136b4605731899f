/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The subscriber stage: evgate's consumer side (docs/datapath.md, "sub";
 * the protocol in docs/protocol.md, "Subscribers").
 *
 *   rx --(edge per rx queue: SUBSCRIBE, CREDIT, UNSUBSCRIBE)--> sub
 *   sub --(edge)--> tx: CHALLENGE, SUBSCRIBED, DELIVER, COMMITTED, SUB_ERROR
 *   sub <-- the log (one reader per (feed, stream), up to what the journal
 *           reports durable: evg_journal_durable_end())
 *
 * One node, on one lcore, owns every subscription, group ("feed") and
 * reader; nothing is shared with other lcores but the rings, the
 * journal's durable ends (atomic loads) and the commits table (a seqlock,
 * read by the offsets writer thread). A poll handles one burst of
 * consumers' frames, does the timed work (timeouts, resends, commit
 * replies) at most once a millisecond, then delivers a bounded number of
 * events. It reads the log with plain pread()s and opens readers when a
 * consumer subscribes: the only system calls; it never waits on a lock.
 *
 * Delivery frames are kept (a reference on their mbuf) until the consumer
 * reports them processed: a resend is the same mbuf again, and a group
 * member that goes away gives its unprocessed records back to the group
 * (redelivery) without reading the log again.
 */
#ifndef EVG_SUB_H
#define EVG_SUB_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_mbuf.h>
#include <rte_seqlock.h>

#include "evg_cfg.h"
#include "evg_evf_sub.h"
#include "evg_net.h"
#include "evg_pipeline.h"
#include "evg_stages.h"
#include "evg_sub_offsets.h"

#define EVG_SUB_MAX_MEMBERS 64u			     /* members of one group */
#define EVG_SUB_FEED_STREAMS EVG_EVF_SUB_MAX_STREAMS /* streams of a group */
#define EVG_SUB_HELD_MAX 8192u /* DELIVER frames kept per subscription */

/* ---- member selection (pure; unit-tested) ---- */

/* A group member as the policies see it for one event. */
struct evg_sub_cand {
	uint32_t id;	      /* consumer id (key-hash) */
	uint16_t weight;      /* weighted: 1..1000 */
	bool room;	      /* its credit takes the event */
	uint64_t outstanding; /* delivered, not processed */
};

/* What a policy remembers between events, per (group, stream). */
struct evg_sub_pick_state {
	uint32_t rr;			  /* round-robin: next index */
	int64_t cur[EVG_SUB_MAX_MEMBERS]; /* weighted: running weights */
};

/*
 * The member (an index into c[0..n)) that gets the next event under
 * policy, or -1 when it must wait: no candidate has room, or, under
 * key-hash, the key's member has none. rnd is a random 64-bit value
 * (random policy). Members keep their index between calls for the state
 * to mean anything (callers reset it when membership changes).
 */
int evg_sub_pick(unsigned int policy, const struct evg_sub_cand *c,
		 unsigned int n, struct evg_sub_pick_state *st, const void *key,
		 uint32_t key_len, uint64_t rnd);

/* Rendezvous score of a key for a member: the highest wins (key-hash). */
uint64_t evg_sub_hrw_score(const void *key, uint32_t key_len, uint32_t id);

/* ---- cookies (anti-spoofing) ---- */

/* Keys rotate every EVG_SUB_COOKIE_EPOCH_S; the previous is accepted. */
#define EVG_SUB_COOKIE_EPOCH_S 30u

struct evg_sub_cookie_keys {
	uint64_t epoch[2];
	uint8_t key[2][16];
	bool set[2];
};

/* The cookie for (ip, port, consumer id, session) at epoch (seconds /
 * EVG_SUB_COOKIE_EPOCH_S); draws a new key when the epoch is new. */
uint64_t evg_sub_cookie_make(struct evg_sub_cookie_keys *k, uint64_t epoch,
			     rte_be32_t ip, rte_be16_t port,
			     uint32_t consumer_id, uint64_t session);
/* Whether cookie is one make() gave at epoch or the one before. */
bool evg_sub_cookie_check(struct evg_sub_cookie_keys *k, uint64_t epoch,
			  uint64_t cookie, rte_be32_t ip, rte_be16_t port,
			  uint32_t consumer_id, uint64_t session);

/* ---- the commits table (stage <-> offsets writer thread) ---- */

/*
 * The groups' commit points. The stage writes them (under the seqlock) and
 * bumps gen; the offsets writer thread copies a consistent snapshot,
 * stores it (evg_sub_offsets_store) and publishes durable_gen. A commit is
 * durable once durable_gen >= the gen that included it.
 */
struct evg_sub_commits {
	rte_seqlock_t lock;
	uint64_t gen;
	uint32_t n;
	struct evg_sub_offset e[EVG_SUB_OFFSETS_MAX];
	uint64_t durable_gen; /* written by the writer (atomic) */
	int store_error;      /* last store's -errno, 0 (atomic) */
};

/* Fill from a loaded offsets set; durable_gen = gen = its generation. */
void evg_sub_commits_load(struct evg_sub_commits *t,
			  const struct evg_sub_offsets *o);
/* Writer side: copy the table into e (room for EVG_SUB_OFFSETS_MAX);
 * returns its gen, *n the entries. */
uint64_t evg_sub_commits_snapshot(const struct evg_sub_commits *t,
				  struct evg_sub_offset *e, uint32_t *n);
/* Writer side: gen is on disk (or err: it is not). */
void evg_sub_commits_stored(struct evg_sub_commits *t, uint64_t gen, int err);

/* ---- the stage ---- */

#define EVG_SUB_STATS_FOREACH(X)                                               \
	X(in, "consumer frames taken from rx")                                 \
	X(subscribes, "SUBSCRIBE frames")                                      \
	X(challenges, "CHALLENGE frames sent")                                 \
	X(challenges_limited, "CHALLENGEs not sent: per-source rate limit")    \
	X(cookie_bad, "SUBSCRIBEs with a cookie that is not valid (again "     \
		      "challenged)")                                           \
	X(subscribed, "subscriptions made")                                    \
	X(resubscribed, "SUBSCRIBEs for a subscription that exists "           \
			"(SUBSCRIBED again)")                                  \
	X(replaced, "subscriptions replaced by a newer session")               \
	X(refused_full, "SUBSCRIBEs refused: FULL")                            \
	X(refused_fenced, "SUBSCRIBEs refused: FENCED")                        \
	X(refused_policy, "SUBSCRIBEs refused: POLICY")                        \
	X(refused_groups, "SUBSCRIBEs refused: GROUPS")                        \
	X(credits, "CREDIT frames")                                            \
	X(credit_bad, "CREDITs whose received is past what was sent "          \
		      "(ignored)")                                             \
	X(naks, "CREDITs with NAK: resent from the consumer's received")       \
	X(naks_repeated, "NAKs for what a resend just sent (ignored)")         \
	X(commits, "commits asked for")                                        \
	X(commits_durable, "COMMITTED frames sent")                            \
	X(commits_full, "commits refused: the table holds "                    \
			"EVG_SUB_OFFSETS_MAX points")                          \
	X(commit_no_group, "COMMIT flags from subscriptions without a group")  \
	X(unsubscribes, "UNSUBSCRIBE frames")                                  \
	X(unknown, "frames for no subscription (SUB_ERROR UNKNOWN, "           \
		   "rate-limited)")                                            \
	X(bad_token, "frames with a wrong token or from another address "      \
		     "(dropped)")                                              \
	X(errors_limited, "SUB_ERRORs not sent: per-source rate limit")        \
	X(timeouts, "subscriptions ended: nothing heard for timeout_ms")       \
	X(rto, "resends after rto_ms without progress")                        \
	X(frames, "DELIVER frames sent for the first time")                    \
	X(frames_resent, "DELIVER frames sent again (NAK, rto)")               \
	X(events, "events delivered (first time)")                             \
	X(bytes, "DELIVER payload bytes sent for the first time")              \
	X(redelivered, "events delivered again to another group member")       \
	X(stalls, "waits for a member with room (credit) that began")          \
	X(no_mbuf, "DELIVER frames not built: the pool was empty")             \
	X(tx_full, "delivery rounds cut short: the ring to tx was full")       \
	X(read_errors, "log read errors (a bad batch: segment skipped)")       \
	X(reader_open_errors, "readers that could not be opened (FULL)")       \
	X(redo_lost, "DELIVER frames given back that found no memory to wait " \
		     "in: their records are not delivered again")              \
	X(reply_failed, "replies that could not be built (frame freed)")

/* clang-format off */
enum evg_sub_stat {
#define EVG_SUB_STAT_ENUM_(name, desc) EVG_SUB_##name,
	EVG_SUB_STATS_FOREACH(EVG_SUB_STAT_ENUM_)
#undef EVG_SUB_STAT_ENUM_
	EVG_SUB_STAT_MAX,
};
/* clang-format on */

struct evg_journal;

struct evg_sub_conf {
	const struct evg_net_if *ifc;
	const struct evg_cfg *cfg; /* [sub], allow list, nak_rate/burst */
	struct evg_journal *journal;
	const char *log_dir;
	uint32_t partitions;
	struct evg_edge *in[EVG_STAGES_MAX_INPUTS]; /* from rx */
	unsigned int nb_in;
	struct evg_edge *out;	  /* to tx */
	struct rte_mempool *pool; /* DELIVER frames */
	uint16_t frame_max;	  /* largest DELIVER payload (UDP) */
	uint16_t burst;		  /* consumer frames per poll */
	uint32_t deliver_budget;  /* records per poll; 0: 256 */
	struct evg_sub_commits *commits;
	const volatile bool *stop; /* set: deliver nothing more (shutdown) */
	uint64_t tsc_hz;
	int socket_id;
};

struct evg_sub;

/* 0 and *out, -EINVAL (bad conf), -ENOMEM. */
int evg_sub_create(const struct evg_sub_conf *conf, struct evg_sub **out);
/* Frees every frame held, closes the readers. */
void evg_sub_free(struct evg_sub *s);
extern const struct evg_stage_ops evg_sub_ops; /* node->ctx: evg_sub */

/* ---- telemetry (control thread; reads while the lcore runs) ---- */

/* One subscription as telemetry shows it. */
struct evg_sub_info {
	uint32_t consumer_id;
	uint64_t session;
	rte_be32_t ip;
	rte_be16_t port;
	char group[EVG_EVF_SUB_GROUP_LEN];
	uint8_t policy;
	uint8_t nb_streams;
	uint32_t streams[EVG_EVF_SUB_MAX_STREAMS];
	uint64_t next_dseq, received, processed;
	uint32_t credit_events, credit_bytes;
	uint32_t held_frames;
	uint64_t held_bytes;
	uint64_t lag; /* events of its streams' cursors not yet read */
	uint64_t events, frames, bytes, frames_resent, redelivered, stalls;
	uint64_t age_ms, idle_ms;
};

/* Fill up to max subscriptions; returns how many there are. Values are
 * read without stopping the lcore: each is consistent, the set may not
 * be. */
unsigned int evg_sub_list(const struct evg_sub *s, struct evg_sub_info *out,
			  unsigned int max);
/* Subscriptions and groups in use. */
unsigned int evg_sub_count(const struct evg_sub *s, unsigned int *groups);

#endif /* EVG_SUB_H */
