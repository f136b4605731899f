/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * evgen's subscriber mode (docs/evgen.md, "Subscribing"): N subscriptions
 * to evgate's log, each with its own consumer id and UDP source port, run
 * by the same loop as the producers. Per subscription: the cookie
 * handshake (SUBSCRIBE, CHALLENGE, SUBSCRIBE with the cookie,
 * SUBSCRIBED), then DELIVER frames checked (validation, dseq continuity:
 * a jump is NAKed, repeats are dropped), acknowledged by CREDIT (received
 * = processed: evgen consumes as it receives), counted, and the latency
 * from each record's ts_ns (stamped by evgen's own producers with the
 * TSC-derived clock of its RTT histograms) recorded in a histogram.
 */
#ifndef EVGEN_SUB_H
#define EVGEN_SUB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_byteorder.h>

#include "evg_evf_sub.h"
#include "hist.h"

#define EVGEN_SUB_MAX 1024u /* --subscribe */

/* --sub-* options. */
struct evgen_sub_opts {
	uint32_t n;		/* --subscribe: subscriptions, 0: none */
	uint16_t src_port;	/* of subscription 0; i uses src_port + i */
	uint32_t consumer_base; /* consumer id of subscription 0 */
	uint64_t session;	/* 0: evgen's --session */
	uint8_t start;		/* EVG_EVF_SUB_OLDEST or EVG_EVF_SUB_END */
	uint8_t policy;		/* 0: the group's */
	uint8_t nb_streams;	/* 0: the producers' streams */
	uint32_t streams[EVG_EVF_SUB_MAX_STREAMS];
	char group[EVG_EVF_SUB_GROUP_LEN];
	uint32_t credit;  /* events beyond processed */
	uint64_t count;	  /* stop once this many events arrived in all */
	uint32_t idle_ms; /* without count: done after this long silent */
	uint32_t wait_ms; /* handshakes before producing: at most this */
	const char *dump; /* --sub-dump FILE: one line per event */
	double drop_pct;  /* DELIVER frames dropped on purpose */
};

/* Per-subscription counters; one list gives enum, names, descriptions. */
#define EVGEN_SUB_CTR_FOREACH(X)                                              \
	X(events, "events received whole (pieces count once, at the last)")   \
	X(frames, "DELIVER frames that brought new records")                  \
	X(bytes, "EVF bytes of those frames")                                 \
	X(pieces, "records that are pieces of a larger event (MORE/CONT)")    \
	X(redelivered, "events flagged REDELIVERED (from another member)")    \
	X(gaps, "dseq jumps (a lost frame): each answered by a NAK")          \
	X(naks, "CREDIT frames sent with the NAK flag")                       \
	X(duplicates, "records with a dseq already received (dropped)")       \
	X(dropped_past_gap, "records beyond a gap (dropped; evgate resends)") \
	X(out_of_order, "events not above the last offset of their stream "   \
			"(REDELIVERED ones excepted)")                        \
	X(credits, "CREDIT frames sent (NAKs included)")                      \
	X(subscribes, "SUBSCRIBE frames sent")                                \
	X(challenges, "CHALLENGE frames received")                            \
	X(resubscribes, "handshakes started again (SUB_ERROR UNKNOWN, FULL, " \
			"GROUPS)")                                            \
	X(sub_errors, "SUB_ERROR frames received")                            \
	X(unmatched, "frames for it in a state that takes none, or of a "     \
		     "stream it did not ask for")                             \
	X(dropped, "DELIVER frames dropped on purpose (--sub-drop-pct)")

enum evgen_sub_ctr {
#define EVGEN_SUB_CTR_ENUM_(name, desc) EVGEN_SCTR_##name,
	EVGEN_SUB_CTR_FOREACH(EVGEN_SUB_CTR_ENUM_)
#undef EVGEN_SUB_CTR_ENUM_
		EVGEN_SCTR_MAX,
};

enum evgen_sub_state {
	EVGEN_SUB_HELLO,   /* SUBSCRIBE sent (or due), no cookie yet */
	EVGEN_SUB_COOKIE,  /* SUBSCRIBE with the CHALLENGE's cookie sent */
	EVGEN_SUB_ON,	   /* SUBSCRIBED: receiving */
	EVGEN_SUB_STOPPED, /* SUB_ERROR REJECTED, FENCED or POLICY */
	EVGEN_SUB_CLOSED,  /* UNSUBSCRIBE sent at the end */
};

struct evgen_sub {
	uint32_t consumer_id;
	rte_be16_t src_port;
	uint8_t state;
	uint8_t error; /* the SUB_ERROR reason that stopped it, or 0 */
	uint64_t session;
	uint64_t cookie, token;
	uint64_t next_hello;		  /* TSC of the next SUBSCRIBE */
	struct evg_evf_sub_subscribed ok; /* what SUBSCRIBED said */
	/* Delivery seqs: every one below received has arrived (and is
	 * processed: evgen keeps nothing); max_seen, the end of the highest
	 * frame seen (beyond received: a gap is open). */
	uint64_t received, max_seen;
	uint64_t reported; /* received in the last CREDIT */
	uint64_t t_credit; /* TSC of the last CREDIT */
	bool want_nak;
	uint64_t nak_at, t_nak;	  /* received and TSC of the last NAK */
	uint64_t gap_at;	  /* received when the open gap was counted */
	uint64_t t_first, t_last; /* TSC of the first, last new records */
	uint64_t last_off[EVG_EVF_SUB_MAX_STREAMS]; /* +1; 0: none yet */
	double drop_acc; /* --sub-drop-pct's error-diffusion accumulator */
	uint64_t ctr[EVGEN_SCTR_MAX];
	struct evgen_hist lat; /* ns, ts_ns to reception */
};

/* Every subscription, and what belongs to none of them. */
struct evgen_subs {
	uint32_t n;
	struct evgen_sub *s;
	uint64_t events; /* all subscriptions' ctr[events] */
	uint64_t t_first, t_last;
	uint64_t t_phase; /* TSC the idle wait counts from */
	uint64_t retry_tsc, credit_tsc, nak_tsc, full_tsc;
	uint64_t err[EVG_EVF_SUB_ERR_MAX]; /* SUB_ERRORs by reason */
	uint64_t unknown;    /* subscriber frames for no subscription */
	uint64_t bad_frames; /* to a subscription port, not valid EVF */
	uint64_t tx_failed;  /* control frames the port did not take */
	uint64_t alloc_failed;
	uint32_t nb_tx;
	struct rte_mbuf *tx[32];
	FILE *dump;
};

const char *evgen_sub_ctr_name(unsigned int i);
const char *evgen_sub_state_name(unsigned int state);

#endif /* EVGEN_SUB_H */
