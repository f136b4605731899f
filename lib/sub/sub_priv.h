/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/sub internals shared by the stage's files:
 *   stage.c    the node: poll, timers, counters, create/free, telemetry
 *   control.c  consumers' frames: SUBSCRIBE, CREDIT, UNSUBSCRIBE; replies
 *   feed.c     groups ("feeds"), their cursors (readers) and members
 *   deliver.c  building, sending, holding and resending DELIVER frames
 *   commit.c   commit points and the commits table
 *   policy.c   member selection; cookie.c: the SUBSCRIBE cookies
 *
 * Words: a *member* is one subscription (a plain subscription is the only
 * member of an unnamed feed); a *feed* is a group's shared position: one
 * *cursor* (a journal reader over a stream's partition) per stream.
 */
#ifndef EVG_SUB_PRIV_H
#define EVG_SUB_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "evg_journal.h"
#include "evg_sub.h"

#define SUB_NONE UINT16_MAX
#define SUB_TIMER_MS 1u		/* timed work at most this often */
#define SUB_RETRY_US 50u	/* re-read the log after -ENODATA */
#define SUB_DELIVER_BUDGET 256u /* records per poll by default */
#define SUB_RTO_MAX_FACTOR 16u	/* rto doubles up to rto_ms x this */
#define SUB_SCRATCH 65536u	/* the largest event a redelivery joins */
#define SUB_HELD_MIN 16u	/* frames a subscription may hold, at least */
#define SUB_REDO_MIN 256u	/* redo ring slots at first; it grows */

/* A DELIVER frame kept until its records are processed. */
struct sub_held {
	struct rte_mbuf *m;
	uint64_t dseq;	/* of its first record */
	uint32_t bytes; /* EVF frame length */
	uint16_t count;
	uint8_t cursor; /* the feed cursor (stream) it is from */
};

/* Records given back by a departed member, delivered again first. */
struct sub_redo {
	struct rte_mbuf *m; /* a reference, freed when done */
	uint16_t next;	    /* index of the next record to redeliver */
	uint16_t count;
	uint16_t off; /* EVF frame start in m */
};

enum sub_mstat {
	SM_EVENTS,
	SM_FRAMES,
	SM_BYTES,
	SM_RESENT,
	SM_REDELIVERED,
	SM_STALLS,
	SM_STAT_MAX,
};

struct sub_member {
	bool used;
	uint32_t consumer_id;
	uint64_t session;
	uint64_t token;
	struct evg_net_meta to; /* where DELIVER frames go */
	uint16_t feed;
	uint16_t slot; /* index in the feed's member list */
	uint16_t weight;
	uint16_t cursors; /* bit c: takes the feed's cursor c */
	uint8_t nb_streams;
	uint32_t streams[EVG_EVF_SUB_MAX_STREAMS]; /* as subscribed */
	uint16_t payload_off; /* evg_net_udp_hdrs_len(&to) */
	/* Delivery seqs: next to give out; the consumer's received and
	 * processed. */
	uint64_t next_dseq, received, processed;
	uint32_t credit_events, credit_bytes;
	/* Held frames, a ring in dseq order; [resend, held_n) are to be
	 * sent again (go-back from received), resend == held_n: none. */
	struct sub_held *held;
	uint32_t held_cap, held_head, held_n, resend;
	uint64_t held_bytes;
	/* The frame being filled in this delivery round. */
	struct rte_mbuf *open_m;
	struct evg_evf_sub_builder b;
	uint8_t open_cursor;
	uint64_t open_bytes; /* payload bytes of it counted against credit */
	/* Timers (TSC). */
	uint64_t created_tsc, last_rx_tsc;
	uint64_t rto_at; /* 0: not armed */
	uint64_t rto_cur;
	uint64_t nak_received; /* the last NAK acted on, and when */
	uint64_t nak_tsc;
	/* A commit waiting to be durable: the table gen, what it covers. */
	uint64_t commit_gen;
	uint64_t commit_processed;
	bool commit_wait;
	uint64_t st[SM_STAT_MAX];
};

struct sub_cursor {
	uint32_t stream_id;
	uint32_t partition;
	struct evg_journal_reader *r;
	bool have; /* e holds the next record, undelivered */
	struct evg_journal_entry e;
	uint64_t next_offset; /* of the next record to read */
	uint64_t retry_tsc;   /* after -ENODATA: not before */
	uint16_t takers;      /* members taking this stream */
	bool stalled;	      /* waiting for a member with room */
	struct evg_sub_pick_state pick;
	struct sub_redo *redo; /* ring */
	uint32_t redo_cap, redo_head, redo_n;
	int commit_idx; /* entry in the commits table, -1: none yet */
};

struct sub_feed {
	bool used;
	bool named;
	char name[EVG_EVF_SUB_GROUP_LEN];
	uint8_t policy;
	bool resumed; /* some cursor started at a commit */
	uint16_t nb_members;
	uint16_t members[EVG_SUB_MAX_MEMBERS]; /* member indexes */
	uint8_t nb_cursors;
	struct sub_cursor cursors[EVG_SUB_FEED_STREAMS];
};

struct evg_sub {
	struct evg_sub_conf conf;
	uint32_t max_members, max_feeds;
	uint32_t timeout_ms, rto_ms, max_inflight;
	/* Frames one subscription may hold: a share of the DELIVER pool, so
	 * that subscribers who do not process cannot take every mbuf. */
	uint32_t held_cap;
	struct sub_member *members;
	struct sub_feed *feeds;
	uint32_t nb_members, nb_feeds, nb_groups, max_groups;
	/* consumer id -> member index; open addressing, SUB_NONE empty,
	 * rebuilt on removal (small, control path). */
	uint16_t *by_id;
	uint32_t by_id_mask;
	unsigned int next_in; /* round-robin over the rx edges */
	uint32_t next_feed;   /* where the next delivery round starts */
	uint64_t next_timer;  /* TSC of the next timed work */
	uint64_t timer_tsc;   /* SUB_TIMER_MS in TSC */
	uint64_t retry_tsc;   /* SUB_RETRY_US in TSC */
	uint64_t timeout_tsc, rto_tsc;
	uint64_t tsc_base; /* TSC at create, for cookie epochs */
	struct evg_nak_limiter lim;
	struct evg_sub_cookie_keys keys;
	/* Key + value bytes a DELIVER frame always holds (larger events go
	 * as pieces), and room to join pieces given back for redelivery. */
	uint32_t piece_max;
	uint8_t scratch[SUB_SCRATCH];
	uint8_t scratch_val[SUB_SCRATCH];
	/* Replies and DELIVER frames to push to tx at the end of a poll. */
	uint16_t nb_out;
	struct rte_mbuf *out[EVG_BURST_MAX];
	uint64_t stats[EVG_SUB_STAT_MAX];
};

/* ---- control.c ---- */
void sub_control(struct evg_sub *s, struct rte_mbuf *m, uint64_t now);
/* Send a 40/48-byte reply built into m (the frame answered): rate-limited
 * per source; frees m when not sent. */
void sub_reply_error(struct evg_sub *s, struct rte_mbuf *m,
		     const struct evg_evf_hdr *h, enum evg_evf_sub_error why,
		     uint64_t detail);

/* ---- feed.c ---- */
int sub_feed_find(struct evg_sub *s, const char *name);
int sub_feed_new(struct evg_sub *s, const char *name, uint8_t policy);
/* The cursor of stream in feed f, created (reader opened at its start)
 * when missing; -ENOSPC, or the reader's -errno. */
int sub_cursor_get(struct evg_sub *s, struct sub_feed *f,
		   const struct evg_evf_sub_subscribe *req, uint32_t stream,
		   uint64_t offset, bool *resumed);
/* Where the cursor stands: the offset of the next record it gives. */
uint64_t sub_cursor_pos(const struct sub_cursor *c);
/* Join member mi to feed f (its cursors mask set). */
void sub_feed_join(struct evg_sub *s, struct sub_feed *f, uint16_t mi);
/* Remove member mi: its unprocessed records go back to the feed, its
 * held frames are released; a feed left empty is committed and freed. */
void sub_member_remove(struct evg_sub *s, uint16_t mi, uint64_t now);
void sub_feed_free(struct evg_sub *s, struct sub_feed *f);

/* ---- deliver.c ---- */
/* One delivery round over the feeds: at most budget records. */
unsigned int sub_deliver(struct evg_sub *s, uint64_t now);
/* Release held frames below processed. */
void sub_release(struct evg_sub *s, struct sub_member *m);
/* Resend the held frames from the one holding dseq on. */
void sub_go_back(struct evg_sub *s, struct sub_member *m, uint64_t dseq);
/* Send what resend owes, as far as tx takes it; returns frames sent. */
unsigned int sub_resend(struct evg_sub *s, struct sub_member *m);
/* Queue an mbuf for tx (a reference is taken by the caller). */
static inline bool
sub_out(struct evg_sub *s, struct rte_mbuf *m)
{
	if (s->nb_out == EVG_BURST_MAX)
		return false;
	s->out[s->nb_out++] = m;
	return true;
}
void sub_flush_out(struct evg_sub *s);

/* ---- commit.c ---- */
/* Compute feed f's commit points into the table; returns the table gen
 * that holds them, or 0 when the table is full. */
uint64_t sub_commit(struct evg_sub *s, struct sub_feed *f);
/* The committed offset of (group, stream): 0 and *off, or -ENOENT. */
int sub_commit_lookup(const struct evg_sub *s, const char *group,
		      uint32_t stream, uint32_t partition, uint64_t *off,
		      int *idx);
/* COMMITTED replies whose commit has become durable. */
void sub_commit_replies(struct evg_sub *s);

/* ---- stage.c ---- */
static inline struct sub_held *
sub_held_at(const struct sub_member *m, uint32_t i)
{
	return &m->held[(m->held_head + i) % m->held_cap];
}

static inline struct sub_redo *
sub_redo_at(const struct sub_cursor *c, uint32_t i)
{
	return &c->redo[(c->redo_head + i) % c->redo_cap];
}

int sub_by_id_find(const struct evg_sub *s, uint32_t consumer_id);
void sub_by_id_rebuild(struct evg_sub *s);
uint64_t sub_durable_end(const struct evg_sub *s, uint32_t partition);

#endif /* EVG_SUB_PRIV_H */
