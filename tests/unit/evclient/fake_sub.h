/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A scripted fake evgate for the consumer tests: a UDP socket on 127.0.0.1
 * served by a thread that speaks the subscriber extension with lib/evf
 * (CHALLENGE with a cookie, SUBSCRIBED, DELIVER within the credit, resend
 * on NAK and after a timeout, COMMITTED), serves a small log of `events`
 * events per stream, and breaks the rules its script asks for. It records
 * every frame the consumer sends.
 *
 * The event at offset o of stream s: key "k<s>", value "s<s>-o<o>",
 * producer 5, session 77, seq o, ts_ns FSUB_TS0 + o; partition s % 4.
 */
#ifndef FAKE_SUB_H
#define FAKE_SUB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "evg_evf_sub.h"

#define FSUB_TS0 1700000000000000000ull
#define FSUB_COOKIE 0xC00C1Eull
#define FSUB_MAX_LOG 8192u
#define FSUB_MAX_FRAMES 4096u

struct fsub_script {
	uint32_t events; /* events of each stream in the log */
	/* by the index of the stream in SUBSCRIBE: its events instead */
	uint32_t events_of[EVG_EVF_SUB_MAX_STREAMS];
	uint32_t per_frame;    /* records per DELIVER (0: 4) */
	uint32_t timeout_ms;   /* SUBSCRIBED's (0: 10000) */
	uint32_t max_inflight; /* SUBSCRIBED's (0: 1000000) */
	uint16_t members;      /* SUBSCRIBED's */
	bool resumed;	       /* SUBSCRIBED flag RESUMED */
	bool reverse_pos;      /* SUBSCRIBED lists the streams backwards */
	bool hold;	       /* answer no SUBSCRIBE with a cookie */
	bool no_deliver;       /* never send DELIVER */
	bool no_committed;     /* never answer COMMIT */
	uint32_t committed_delay_ms;
	unsigned int drop_frame;    /* never send DELIVER number N the
				     * first time (1-based; 0 off) */
	unsigned int dup_frame;	    /* send DELIVER number N twice */
	unsigned int overlap_frame; /* DELIVER number N starts one record
				     * early (the previous one again) */
	unsigned int error_reason;  /* answer SUBSCRIBEs with a cookie... */
	unsigned int error_count;   /* ...this many times with it */
	/* Once the consumer reports this many events received, forget the
	 * subscription (as a restart would): the next CREDIT gets UNKNOWN. */
	uint64_t forget_after;
	uint32_t rto_ms; /* resend from received without progress (0: 300) */
	/* The event at offset pieces_at - 1 (0: none) of every stream has a
	 * value of FSUB_BIG bytes and goes as 3 pieces, a frame each. */
	uint64_t pieces_at;
};

#define FSUB_BIG 3000u
#define FSUB_PIECES 3u

/* One frame the consumer sent. */
struct fsub_rx {
	uint8_t type;
	uint8_t flags;
	uint64_t seq;
	uint64_t at_ns; /* CLOCK_MONOTONIC */
	union {
		struct evg_evf_sub_subscribe sub;
		struct evg_evf_sub_credit credit;
		struct {
			uint64_t token;
			uint64_t processed;
		} unsub;
	} u;
};

/* One DELIVER frame of the current subscription, as first sent. */
struct fsub_sent {
	uint64_t dseq;
	uint32_t count;
	uint32_t sidx;
	uint64_t offset; /* of its first record */
	uint32_t piece;	 /* 1..FSUB_PIECES: a piece of that event; 0 */
};

struct fsub {
	int fd;
	char addr[32];
	struct fsub_script s;
	pthread_mutex_t mu;
	pthread_t thread;
	atomic_bool stop;

	/* The consumer. */
	bool have_peer;
	struct sockaddr_in peer;
	/* The subscription, while `live`. */
	bool live;
	uint32_t consumer_id;
	uint64_t session;
	uint64_t token;
	unsigned int nb;
	uint32_t stream[EVG_EVF_SUB_MAX_STREAMS];
	uint64_t next_off[EVG_EVF_SUB_MAX_STREAMS];
	uint64_t start_off[EVG_EVF_SUB_MAX_STREAMS];
	uint64_t dseq;	    /* next to send */
	uint64_t received;  /* from the last CREDIT */
	uint64_t processed; /* from the last CREDIT */
	uint32_t credit_events;
	uint64_t progress_ns; /* last advance of received */
	unsigned int rr;      /* next stream to deliver from */
	struct fsub_sent sent[FSUB_MAX_FRAMES];
	unsigned int nb_sent;
	unsigned int frames_tx; /* DELIVER frames sent, resends included */
	unsigned int errors_sent;
	bool forgotten;
	uint64_t commit_due_ns; /* delayed COMMITTED; 0 none */
	uint64_t commit_seq;

	/* What it saw. */
	struct fsub_rx log[FSUB_MAX_LOG];
	unsigned int nb_log;
	unsigned int malformed;
	unsigned int subscriptions; /* SUBSCRIBED sent for a new token */
	unsigned int resent;	    /* DELIVER frames sent again */
};

void fsub_start(struct fsub *f, const struct fsub_script *s);
/* The key and value of the event at offset o of stream sid; returns the
 * value's length (key "k<sid>" in key, *key_len). */
uint32_t fsub_event(const struct fsub *f, uint32_t sid, uint64_t o, char *key,
		    uint32_t *key_len, char *val, size_t cap);
void fsub_stop(struct fsub *f);
/* Send raw bytes to the consumer (after its first SUBSCRIBE). */
void fsub_inject(struct fsub *f, const void *buf, size_t len);
/* Frames of a type in the log; with a flag mask, those with it set. */
unsigned int fsub_count(struct fsub *f, uint8_t type, uint8_t flags);
/* Copy the i-th logged frame of a type (0-based); false past the end. */
bool fsub_nth(struct fsub *f, uint8_t type, unsigned int i,
	      struct fsub_rx *out);
/* The token and consumer ids of the live subscription. */
uint64_t fsub_token(struct fsub *f);

#endif
