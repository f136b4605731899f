/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the consumer tests share: a fake appliance (fake_sub.h) and a
 * handle on it, the events polled so far, and frames to inject.
 */
#ifndef CONSUMER_TESTUTIL_H
#define CONSUMER_TESTUTIL_H

#include <stdint.h>

#include "evg_client.h"
#include "evg_consumer.h"
#include "fake_sub.h"

#define CONSUMER 9u
#define WAIT_MS 10000 /* generous: a slow, shared machine must not fail */
#define MAX_EVENTS 512u

/* Copies of the events the tests polled. */
struct got {
	uint32_t stream_id;
	uint32_t partition;
	uint64_t offset;
	uint64_t dseq;
	char value[48];
};

extern struct fsub fk;
extern struct evg_consumer *cs;
extern struct evg_consumer_opts opts; /* for the next open */
extern struct got got[MAX_EVENTS];
extern unsigned int nb_got;

/* Suite init and fini: default options (start OLDEST, retry 50 ms);
 * close the handle, stop the fake. */
void setup(void);
void teardown(void);
/* Start the fake, open the handle on the streams. */
void start_streams(const struct fsub_script *s,
		   const struct evg_consumer_stream *st, unsigned int n);
/* The same on stream 1, and wait until subscribed. */
void start(const struct fsub_script *s);
/* Keep a copy of an event in got[]. */
void keep(const struct evg_consumer_event *ev);
/* Poll (max at a time) until n events in all or the wait is over. */
void collect(unsigned int n, unsigned int max, int wait_ms);
struct evg_consumer_stats stats(void);
/* got[] holds stream's offsets from..from+n-1 with dseq 0..n-1. */
void expect_stream_in_order(uint32_t stream, uint64_t from, unsigned int n);
/* Let the handle run for ms (what comes is kept). */
void run_for(int ms);
/* The last CREDIT in the fake's log. */
struct fsub_rx last_credit(void);
/* A sealed one-record DELIVER (offset 100 + dseq, value "x"). */
int deliver_flags(uint8_t *buf, uint32_t consumer, uint64_t session,
		  uint32_t stream, uint64_t dseq, uint16_t flags);
int deliver(uint8_t *buf, uint32_t consumer, uint64_t session, uint32_t stream,
	    uint64_t dseq);

#endif
