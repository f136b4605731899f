/* SPDX-License-Identifier: BSD-3-Clause */
/* What the consumer tests share (consumer_testutil.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "consumer_testutil.h"

struct fsub fk;
struct evg_consumer *cs;
struct evg_consumer_opts opts;

struct got got[MAX_EVENTS];
unsigned int nb_got;

void
setup(void)
{
	cs = NULL;
	nb_got = 0;
	evg_consumer_opts_init(&opts);
	opts.start = EVG_CONSUMER_OLDEST;
	opts.retry_ms = 50; /* quick resends keep the tests short */
}

void
teardown(void)
{
	evg_consumer_close(cs, 0);
	fsub_stop(&fk);
}

void
start_streams(const struct fsub_script *s, const struct evg_consumer_stream *st,
	      unsigned int n)
{
	int rc;

	fsub_start(&fk, s);
	rc = evg_consumer_open(&cs, CONSUMER, fk.addr, st, n, &opts);
	cr_assert_eq(rc, 0, "evg_consumer_open(%s): %s", fk.addr,
		     strerror(-rc));
}

/* Subscribed to stream 1. */
void
start(const struct fsub_script *s)
{
	struct evg_consumer_stream st = {.stream_id = 1};

	start_streams(s, &st, 1);
	cr_assert_eq(evg_consumer_wait_subscribed(cs, WAIT_MS), 0, "%s",
		     evg_consumer_errmsg(cs));
}

void
keep(const struct evg_consumer_event *ev)
{
	struct got *g = &got[nb_got++];
	size_t n = ev->value_size < sizeof(g->value) - 1 ? ev->value_size
							 : sizeof(g->value) - 1;

	cr_assert_leq(nb_got, MAX_EVENTS);
	g->stream_id = ev->stream_id;
	g->partition = ev->partition;
	g->offset = ev->offset;
	g->dseq = ev->dseq;
	memcpy(g->value, ev->value, n);
	g->value[n] = '\0';
}

/* Poll (max at a time) until n events in all or the wait is over. */
void
collect(unsigned int n, unsigned int max, int wait_ms)
{
	struct evg_consumer_event ev[64];
	uint64_t deadline = evg_client_now_ns() + (uint64_t)wait_ms * 1000000;

	while (nb_got < n && evg_client_now_ns() < deadline) {
		unsigned int want = n - nb_got < max ? n - nb_got : max;
		int k = evg_consumer_poll(cs, ev, want, 100);

		cr_assert_geq(k, 0, "poll: %s (%s)", strerror(-k),
			      evg_consumer_errmsg(cs));
		for (int i = 0; i < k; i++)
			keep(&ev[i]);
	}
	cr_assert_eq(nb_got, n, "%u events of %u", nb_got, n);
}

struct evg_consumer_stats
stats(void)
{
	struct evg_consumer_stats s;

	evg_consumer_stats(cs, &s);
	return s;
}

/* Events of one stream: offsets from..from+n-1, dseq i, once each. */
void
expect_stream_in_order(uint32_t stream, uint64_t from, unsigned int n)
{
	char want[48];

	cr_assert_eq(nb_got, n);
	for (unsigned int i = 0; i < n; i++) {
		snprintf(want, sizeof(want), "s%u-o%" PRIu64, stream, from + i);
		cr_expect_eq(got[i].stream_id, stream, "event %u", i);
		cr_expect_eq(got[i].offset, from + i, "event %u", i);
		cr_expect_eq(got[i].dseq, i, "event %u: dseq %" PRIu64, i,
			     got[i].dseq);
		cr_expect_str_eq(got[i].value, want, "event %u", i);
	}
}

/* Let the handle run (timers, CREDITs) for ms. */
void
run_for(int ms)
{
	struct evg_consumer_event ev;
	uint64_t end = evg_client_now_ns() + (uint64_t)ms * 1000000;

	cr_assert_geq(evg_consumer_poll(cs, &ev, 0, 0), 0);
	while (evg_client_now_ns() < end) {
		int n = evg_consumer_poll(cs, &ev, 1, 10);

		cr_assert_geq(n, 0, "poll: %s", strerror(-n));
		if (n == 1)
			keep(&ev); /* whatever comes is counted */
	}
}

/* The last CREDIT in the fake's log. */
struct fsub_rx
last_credit(void)
{
	unsigned int n = fsub_count(&fk, EVG_EVF_CREDIT, 0);
	struct fsub_rx r;

	cr_assert_gt(n, 0, "no CREDIT sent");
	cr_assert(fsub_nth(&fk, EVG_EVF_CREDIT, n - 1, &r));
	return r;
}

int
deliver_flags(uint8_t *buf, uint32_t consumer, uint64_t session,
	      uint32_t stream, uint64_t dseq, uint16_t flags)
{
	struct evg_evf_sub_ids ids = {.consumer_id = consumer,
				      .stream_id = stream,
				      .session = session};
	struct evg_evf_sub_record rec = {.offset = 100 + dseq,
					 .producer_id = 5,
					 .value = (const uint8_t *)"x",
					 .value_size = 1,
					 .flags = flags};
	struct evg_evf_sub_builder b;

	cr_assert_eq(
		evg_evf_sub_builder_init(&b, buf, 256, &ids, dseq, stream % 4),
		0);
	cr_assert_eq(evg_evf_sub_builder_add(&b, &rec), 0);
	return evg_evf_sub_builder_finish(&b);
}

int
deliver(uint8_t *buf, uint32_t consumer, uint64_t session, uint32_t stream,
	uint64_t dseq)
{
	return deliver_flags(buf, consumer, session, stream, dseq, 0);
}
