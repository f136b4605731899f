/* SPDX-License-Identifier: BSD-3-Clause */
/* libevclient's consumer internals shared by consumer.c (set-up, blocking
 * calls, getters) and consumer_proto.c (frames, buffers, timers). */
#ifndef EVG_CONSUMER_PRIV_H
#define EVG_CONSUMER_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "evg_consumer.h"
#include "evg_evf_sub.h"

#define CS_NS_PER_MS 1000000ull
#define CS_SLOT_LEN 65536u /* a receive buffer: any UDP datagram fits */
#define CS_RX_BATCH 16u	   /* datagrams per recvmmsg() */
#define CS_RX_MAX 256u	   /* datagrams read per process() at most */
/* A new `received` is told to evgate at most this late (delayed ack), so
 * that evgate does not resend what arrived while processed stands still. */
#define CS_ACK_DELAY_NS (2 * CS_NS_PER_MS)
#define CS_TX_RETRY_NS (1 * CS_NS_PER_MS)      /* after a send that failed */
#define CS_HB_DEFAULT_NS (1000 * CS_NS_PER_MS) /* SUBSCRIBED timeout 0 */
/* The arena holds the credit's worth of frames, within these bounds. */
#define CS_ARENA_MIN (256u << 10)
#define CS_ARENA_MAX (64u << 20)
#define CS_ARENA_NO_LIMIT (16u << 20) /* credit_bytes UINT32_MAX */
/* A DELIVER frame of one record of n bytes takes 96 + align8(n) bytes. */
#define CS_FRAME_OVERHEAD (EVG_EVF_SUB_DELIVER_FIXED + EVG_EVF_SUB_REC_HDR_LEN)

/* One DELIVER frame kept in the arena, from its first record not seen
 * before (partial overlap) on. */
struct cs_frame {
	struct evg_evf_sub_iter it; /* the next record to hand out */
	uint64_t dseq;		    /* delivery seq of that record */
	uint32_t off;		    /* in the arena */
	uint32_t len;		    /* frame bytes */
	uint32_t left;		    /* records not yet handed out */
	uint32_t epoch;		    /* subscription it came in */
	uint32_t stream_id;
	uint32_t partition;
};

/* An event joined from pieces; valid until the next call. */
struct cs_join {
	struct cs_join *next;
	uint8_t data[];
};

struct cs_commit_pos {
	bool valid;
	uint64_t offset;
};

struct evg_consumer {
	int fd;
	uint32_t consumer_id;
	uint64_t session;
	struct evg_consumer_opts o;
	char group[EVG_EVF_SUB_GROUP_LEN]; /* "" without a group */
	unsigned int nb_streams;
	struct evg_consumer_stream streams[EVG_EVF_SUB_MAX_STREAMS];

	/* Handshake. */
	bool subscribed;
	bool resub_offsets;   /* next SUBSCRIBE: from the offsets reached */
	uint64_t cookie;      /* 0 until a CHALLENGE */
	uint64_t sub_next_ns; /* next SUBSCRIBE (re)send */
	uint64_t sub_ns;      /* last SUBSCRIBED taken */
	int busy_reason;      /* the last answer was FULL or GROUPS */

	/* From the last SUBSCRIBED; pos[] by the index of streams[]. */
	uint64_t token;
	uint32_t timeout_ms;
	uint32_t max_inflight;
	uint32_t partitions;
	uint16_t sflags;
	uint16_t members;
	bool have_pos[EVG_EVF_SUB_MAX_STREAMS];
	struct evg_consumer_position pos[EVG_EVF_SUB_MAX_STREAMS];

	/* Delivery in the current subscription (epoch); dseqs restart at 0
	 * in each. */
	uint32_t epoch;
	uint64_t received;	  /* every dseq below it has arrived */
	uint64_t processed;	  /* every dseq below it is done */
	uint64_t processed_bytes; /* frame bytes freed as processed */
	bool have_handed;
	uint32_t handed_epoch; /* of the last event handed out */
	uint64_t handed;       /* dseq after it */
	bool have_last[EVG_EVF_SUB_MAX_STREAMS];
	uint64_t last_offset[EVG_EVF_SUB_MAX_STREAMS]; /* last received */

	/* CREDIT. */
	uint64_t received_sent; /* as of the last CREDIT sent */
	uint64_t processed_sent;
	uint64_t processed_bytes_sent;
	uint64_t credit_ns;	/* when it was sent */
	uint64_t tx_wait_until; /* a CREDIT send failed: retry from then */
	uint64_t ack_at;	/* a CREDIT by then (received, processed moved
				 * below the threshold); 0 = nothing new */
	bool credit_now;	/* a duplicate came: say where we stand */
	bool nak_due;
	bool nak_valid; /* the last NAK sent: for which received, when */
	uint64_t nak_seq;
	uint64_t nak_ns;

	/* Commits (groups). */
	bool commit_pending; /* until COMMITTED covers commit_target */
	bool commit_now;     /* send the COMMIT at once */
	uint64_t commit_target;
	uint64_t commit_ns;    /* last COMMIT sent */
	uint64_t commit_asked; /* processed of the last commit asked for */
	uint64_t auto_ns;      /* last automatic commit (or SUBSCRIBED) */
	bool have_committed;
	uint64_t committed_seq;	  /* of the last COMMITTED, */
	uint32_t committed_epoch; /* in this subscription */
	struct cs_commit_pos committed[EVG_EVF_SUB_MAX_STREAMS];

	/* Received frames: a byte ring (arena) of frames in arrival order,
	 * described by a ring of nb_desc cs_frame. Of the fr_used frames
	 * from fr_head on, the first fr_cur have been handed out whole and
	 * are freed by the next call. */
	uint8_t *arena;
	size_t arena_cap;
	size_t arena_tail;
	struct cs_frame *frames;
	uint32_t nb_desc;
	uint32_t fr_head;
	uint32_t fr_used;
	uint32_t fr_cur;
	uint64_t pending;      /* whole events (records without MORE) not yet
				* handed out */
	uint32_t partial;      /* pieces (MORE) after the last whole event */
	struct cs_join *joins; /* events joined from pieces, handed out */

	/* recvmmsg() scratch: CS_RX_BATCH slots of CS_SLOT_LEN. */
	uint8_t *scratch;
	struct mmsghdr msgs[CS_RX_BATCH];
	struct iovec iov[CS_RX_BATCH];

	int err; /* sticky error, 0 = none */
	char errmsg[192];
	struct evg_consumer_stats st;
};

static inline struct cs_frame *
cs_frame_at(struct evg_consumer *c, uint32_t i)
{
	return &c->frames[(c->fr_head + i) % c->nb_desc];
}

static inline uint64_t
cs_retry_ns(const struct evg_consumer *c)
{
	return (uint64_t)c->o.retry_ms * CS_NS_PER_MS;
}

/* A CREDIT by t at the latest. */
static inline void
cs_report_by(struct evg_consumer *c, uint64_t t)
{
	if (c->ack_at == 0 || t < c->ack_at)
		c->ack_at = t;
}

/* consumer_proto.c */

/* The index of stream_id in c->streams, or -1. */
int cs_stream_index(const struct evg_consumer *c, uint32_t stream_id);
/* CLOCK_MONOTONIC ns (evg_client_now_ns()). */
uint64_t cs_now(void);
/* Set the sticky error with a message; returns err. */
int cs_fail(struct evg_consumer *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Send the SUBSCRIBE of the current handshake and schedule its resend. */
void cs_send_subscribe(struct evg_consumer *c, uint64_t now);
/* Send UNSUBSCRIBE (seq = processed, the token). */
void cs_send_unsubscribe(struct evg_consumer *c);
/* Ask for a commit of what is processed now (sent by process()). */
void cs_ask_commit(struct evg_consumer *c);

/* consumer_buf.c */

/* Keep a DELIVER frame (h->length bytes at buf, validated) whose first
 * `skip` records were received before; stream index idx. false when there
 * is no room: the frame counts as not received. */
bool cs_store_frame(struct evg_consumer *c, const uint8_t *buf,
		    const struct evg_evf_hdr *h, uint32_t skip, int idx);
/* Hand out the next whole event (pieces joined); false when there is
 * none. */
bool cs_take(struct evg_consumer *c, struct evg_consumer_event *ev);
/* The events handed out so far are processed: move processed, free their
 * frames and joined events. */
void cs_mark_processed(struct evg_consumer *c);
/* Forget the pieces of an event that will not be completed (the
 * subscription they came in is gone). */
void cs_drop_partial(struct evg_consumer *c);
/* Free the joined events. */
void cs_free_joins(struct evg_consumer *c);

#endif /* EVG_CONSUMER_PRIV_H */
