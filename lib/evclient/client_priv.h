/* SPDX-License-Identifier: BSD-3-Clause */
/* libevclient internals shared by client.c (set-up, blocking calls) and
 * proto.c (window, frames, replies, timers). */
#ifndef EVG_CLIENT_PRIV_H
#define EVG_CLIENT_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "evg_client.h"
#include "evg_evf.h"

#define CL_UDP_IP_HDRS 28u /* IPv4 (20) + UDP (8) */
#define CL_DEFAULT_MTU 1500u
#define CL_MIN_PAYLOAD 64u /* header + one record of up to 8 bytes */
#define CL_RX_BURST 256u   /* replies read per evg_client_process() */

/* One DATA frame of the window: open (being filled), sealed and waiting
 * to be sent, or sent and waiting for its ACK. */
struct cl_frame {
	uint8_t *buf;
	uint32_t len;	      /* sealed length; 0 while open */
	uint32_t count;	      /* events in it */
	uint32_t acked;	      /* of them already acknowledged */
	uint64_t seq;	      /* seq of its first event */
	uint64_t first_tx_ns; /* first transmission; 0 = not yet */
};

struct evg_client {
	int fd;
	uint32_t producer_id;
	uint32_t stream_id;
	uint64_t session;
	struct evg_client_opts o;
	uint32_t max_payload;

	/* The window: a ring of nb_frames frame buffers; nb_used of them from
	 * head on hold events, the last one open while `open`. Frames
	 * [head, head + tx_pos) have been sent since the last go-back. */
	struct cl_frame *frames;
	uint8_t *mem;
	uint32_t nb_frames;
	uint32_t head;
	uint32_t nb_used;
	uint32_t tx_pos;
	bool open;
	struct evg_evf_builder b;
	uint64_t open_ns;

	uint64_t next_seq;  /* seq of the next queued event */
	uint64_t acked_seq; /* every event below it is acknowledged */

	uint64_t rto_ns;     /* current retransmission timeout */
	uint64_t rto_at;     /* when it expires; 0 = not armed */
	uint64_t backoff_ns; /* current BUSY/STORAGE pause; 0 = none */
	uint64_t backoff_until;
	uint64_t gap_seq; /* last NAK GAP acted on, and when */
	uint64_t gap_ns;
	bool gap_valid;
	bool want_out; /* a send would have blocked */

	int err; /* sticky error, 0 = none */
	char errmsg[192];
	struct evg_client_stats st;
};

static inline struct cl_frame *
cl_frame_at(struct evg_client *c, uint32_t i)
{
	return &c->frames[(c->head + i) % c->nb_frames];
}

static inline uint32_t
cl_nb_sealed(const struct evg_client *c)
{
	return c->nb_used - (c->open ? 1u : 0u);
}

/* Set the sticky error with a message; returns err. */
int cl_fail(struct evg_client *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Seal the open frame, if any (ACK_NOW on request). */
void cl_seal(struct evg_client *c, bool ack_now);
/* Send the sealed frames due; returns how many went out, or the sticky
 * error. */
int cl_tx(struct evg_client *c, uint64_t now);
/* Send one PING for (producer, stream, session). */
void cl_ping(struct evg_client *c, uint64_t now);

#endif /* EVG_CLIENT_PRIV_H */
