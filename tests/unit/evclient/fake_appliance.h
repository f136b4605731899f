/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A scripted fake evgate for the libevclient tests: a UDP socket on
 * 127.0.0.1 served by a thread that decodes frames with lib/evf, keeps one
 * (producer, stream) sequence like the appliance does (sessions, GAP,
 * duplicates) and answers as its script says.
 */
#ifndef FAKE_APPLIANCE_H
#define FAKE_APPLIANCE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "evg_evf.h"

struct fake_script {
	unsigned int drop_data; /* silently drop the first N DATA frames */
	unsigned int drop_nth;	/* drop DATA frame number N (1-based); 0 off */
	unsigned int nak_busy;	/* answer the first N DATA frames NAK BUSY */
	unsigned int nak_storage;  /* ... NAK STORAGE */
	bool fence;		   /* answer every DATA frame NAK FENCED */
	bool reject;		   /* ... NAK REJECTED */
	bool silent;		   /* never ACK */
	unsigned int ack_every;	   /* ACK every Nth accepted frame (0 = 1),
				    * and always on ACK_NOW and PING */
	unsigned int ack_delay_ms; /* wait before each ACK */
};

/* What the fake saw; read it after fake_stop(). */
struct fake_seen {
	uint64_t data_frames;
	uint64_t pings;
	uint64_t max_len;
	uint64_t accepted; /* events taken in seq order */
	uint64_t duplicates;
	uint64_t bad_values; /* accepted events whose value is not "ev-<seq>" */
	uint64_t malformed;
	uint64_t acks;
	uint64_t naks;
	uint64_t ack_now_frames;
	uint64_t sessions; /* distinct sessions seen, in rising order */
};

struct fake {
	int fd;
	char addr[32];
	struct fake_script s;
	struct fake_seen seen;
	uint64_t session;
	uint64_t next;
	pthread_t thread;
	atomic_bool stop;
};

/* Bind, then serve in a thread until fake_stop(). */
void fake_start(struct fake *f, const struct fake_script *s);
void fake_stop(struct fake *f);

#endif
