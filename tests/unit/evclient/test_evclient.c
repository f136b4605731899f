/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libevclient against a scripted fake appliance on 127.0.0.1
 * (fake_appliance.c): ACK flow, NAK GAP, FENCED, REJECTED, BUSY, STORAGE,
 * retransmission on timeout, the window, flush timeouts, frame sizes,
 * sessions, and the poll()-driven API. No EAL, no DPDK.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "evg_client.h"
#include "fake_appliance.h"

#define PRODUCER 7u
#define STREAM 42u
#define WAIT_MS 10000 /* generous: a slow, shared machine must not fail */

static struct fake fk;
static struct evg_client *cl;
static struct evg_client_opts opts;
static uint64_t acked_by_cb;

static void
count_acks(void *arg, uint64_t first_seq, uint32_t n, uint64_t latency_ns)
{
	(void)arg;
	(void)first_seq;
	(void)latency_ns;
	acked_by_cb += n;
}

static void
setup(void)
{
	cl = NULL;
	acked_by_cb = 0;
	evg_client_opts_init(&opts);
	opts.rto_min_us = 20000; /* quick resends keep the tests short */
	opts.on_ack = count_acks;
}

static void
teardown(void)
{
	evg_client_close(cl);
}

TestSuite(evclient, .init = setup, .fini = teardown, .timeout = 60);

static void
start(const struct fake_script *s)
{
	int rc;

	fake_start(&fk, s);
	rc = evg_client_open(&cl, PRODUCER, STREAM, fk.addr, &opts);
	cr_assert_eq(rc, 0, "evg_client_open(%s): %s", fk.addr, strerror(-rc));
}

/* n events "ev-<seq>" (what the fake checks), value padded to vsize. */
static int
send_events(uint64_t n, uint32_t vsize)
{
	char v[2048];

	for (uint64_t i = 0; i < n; i++) {
		uint64_t seq = evg_client_next_seq(cl);
		int len = snprintf(v, sizeof(v), "ev-%" PRIu64, seq);
		uint32_t sz = vsize > (uint32_t)len ? vsize : (uint32_t)len;
		int rc;

		memset(v + len, '.', sz - (uint32_t)len);
		rc = evg_client_send(cl, "k", 1, v, sz, 0, WAIT_MS);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static struct evg_client_stats
stats(void)
{
	struct evg_client_stats s;

	evg_client_stats(cl, &s);
	return s;
}

static void
expect_all_once(uint64_t n)
{
	cr_expect_eq(fk.seen.accepted, n,
		     "fake accepted %" PRIu64 " events, sent %" PRIu64,
		     fk.seen.accepted, n);
	cr_expect_eq(fk.seen.bad_values, 0, "%" PRIu64 " events out of order",
		     fk.seen.bad_values);
	cr_expect_eq(stats().events_acked, n);
	cr_expect_eq(acked_by_cb, n, "ACK callback saw %" PRIu64, acked_by_cb);
	cr_expect_eq(evg_client_unacked(cl), 0);
}

Test(evclient, every_event_is_acked_once_in_order)
{
	start(NULL);
	cr_assert_eq(send_events(1000, 40), 0);
	cr_assert_eq(evg_client_flush(cl, WAIT_MS), 0, "%s",
		     evg_client_errmsg(cl));
	fake_stop(&fk);
	expect_all_once(1000);
	cr_expect_eq(fk.seen.duplicates, 0);
	cr_expect_eq(fk.seen.malformed, 0);
}

Test(evclient, batch_packs_events_into_few_frames)
{
	struct evg_client_event evs[200];
	char vals[200][16];
	int err;

	opts.max_payload = 1472;
	start(NULL);
	for (int i = 0; i < 200; i++) {
		int len = snprintf(vals[i], sizeof(vals[i]), "ev-%d", i);

		evs[i] = (struct evg_client_event){.value = vals[i],
						   .value_size = (uint32_t)len};
	}
	cr_assert_eq(evg_client_send_batch(cl, evs, 200, WAIT_MS, &err), 200);
	cr_assert_eq(err, 0);
	cr_assert_eq(evg_client_flush(cl, WAIT_MS), 0, "%s",
		     evg_client_errmsg(cl));
	fake_stop(&fk);
	expect_all_once(200);
	/* 200 records of 24 bytes in 1432-byte bodies: 4 frames. */
	cr_expect_eq(stats().frames_sent, 4, "%" PRIu64 " frames",
		     stats().frames_sent);
}

Test(evclient, coalesced_acks_acknowledge_every_event)
{
	struct fake_script s = {.ack_every = 5};

	start(&s);
	cr_assert_eq(send_events(300, 8), 0);
	cr_assert_eq(evg_client_flush(cl, WAIT_MS), 0, "%s",
		     evg_client_errmsg(cl));
	fake_stop(&fk);
	expect_all_once(300);
	cr_expect_lt(fk.seen.acks, fk.seen.data_frames,
		     "%" PRIu64 " ACKs for %" PRIu64 " frames", fk.seen.acks,
		     fk.seen.data_frames);
}

Test(evclient, nak_gap_resends_from_the_seq_it_names)
{
	struct fake_script s = {.drop_nth = 2};
	struct evg_client_event ev[64];
	char vals[64][16];
	int err;

	/* Small frames and one batch: frames 3.. arrive after the lost 2nd. */
	opts.max_payload = 128;
	opts.rto_min_us = 5000000; /* the GAP, not a timeout, must recover */
	opts.rto_max_us = 5000000;
	start(&s);
	for (int i = 0; i < 64; i++) {
		int len = snprintf(vals[i], sizeof(vals[i]), "ev-%d", i);

		ev[i] = (struct evg_client_event){.value = vals[i],
						  .value_size = (uint32_t)len};
	}
	cr_assert_eq(evg_client_send_batch(cl, ev, 64, WAIT_MS, &err), 64);
	cr_assert_eq(evg_client_flush(cl, WAIT_MS), 0, "%s",
		     evg_client_errmsg(cl));
	fake_stop(&fk);
	expect_all_once(64);
	cr_expect_geq(stats().naks_gap, 1);
	cr_expect_geq(stats().frames_resent, 1);
	cr_expect_eq(stats().timeouts, 0,
		     "recovered by timeout, not by the GAP");
}

Test(evclient, fenced_stops_with_eperm_and_a_message)
{
	struct fake_script s = {.fence = true};

	start(&s);
	/* One send: the NAK may only be read by the flush. */
	cr_assert_eq(send_events(1, 8), 0);
	cr_assert_eq(evg_client_flush(cl, WAIT_MS), -EPERM);
	cr_expect_not_null(strstr(evg_client_errmsg(cl), "FENCED"),
			   "message: %s", evg_client_errmsg(cl));
	cr_expect_eq(evg_client_send(cl, "k", 1, "v", 1, 0, 0), -EPERM);
	cr_expect_eq(evg_client_process(cl, evg_client_now_ns()), -EPERM);
	fake_stop(&fk);
	cr_expect_eq(fk.seen.accepted, 0);
}

Test(evclient, rejected_stops_with_eacces_and_a_message)
{
	struct fake_script s = {.reject = true};

	start(&s);
	cr_assert_eq(send_events(1, 8), 0);
	cr_assert_eq(evg_client_flush(cl, WAIT_MS), -EACCES);
	cr_expect_not_null(strstr(evg_client_errmsg(cl), "REJECTED"),
			   "message: %s", evg_client_errmsg(cl));
	cr_expect_eq(evg_client_append(cl, "k", 1, "v", 1, 0), -EACCES);
	fake_stop(&fk);
}

Test(evclient, busy_backs_off_then_succeeds)
{
	struct fake_script s = {.nak_busy = 3};

	/* One frame and a long RTO: only the back-off can resend it. */
	opts.rto_min_us = opts.rto_max_us = 5000000;
	start(&s);
	cr_assert_eq(send_events(1, 8), 0);
	cr_assert_eq(evg_client_flush(cl, WAIT_MS), 0, "%s",
		     evg_client_errmsg(cl));
	fake_stop(&fk);
	expect_all_once(1);
	cr_expect_eq(stats().naks_busy, 3);
	cr_expect_eq(stats().frames_resent, 3);
	cr_expect_eq(stats().timeouts, 0,
		     "resent by the timeout, not the back-off");
}

Test(evclient, storage_backs_off_then_succeeds)
{
	struct fake_script s = {.nak_storage = 2};

	opts.rto_min_us = opts.rto_max_us = 5000000;
	start(&s);
	cr_assert_eq(send_events(1, 8), 0);
	cr_assert_eq(evg_client_flush(cl, WAIT_MS), 0, "%s",
		     evg_client_errmsg(cl));
	fake_stop(&fk);
	expect_all_once(1);
	cr_expect_eq(stats().naks_storage, 2);
	cr_expect_eq(stats().timeouts, 0,
		     "resent by the timeout, not the back-off");
}

Test(evclient, lost_frame_is_resent_after_the_timeout)
{
	struct fake_script s = {.drop_data = 1};

	start(&s);
	cr_assert_eq(send_events(1, 8), 0);
	cr_assert_eq(evg_client_flush(cl, WAIT_MS), 0, "%s",
		     evg_client_errmsg(cl));
	fake_stop(&fk);
	expect_all_once(1);
	cr_expect_geq(stats().timeouts, 1);
	cr_expect_geq(stats().frames_resent, 1);
}

Test(evclient, full_window_gives_eagain_without_blocking)
{
	struct fake_script s = {.silent = true};

	opts.window_events = 8;
	start(&s);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(evg_client_append(cl, NULL, 0, "v", 1, 0), 0);
	cr_expect_eq(evg_client_append(cl, NULL, 0, "v", 1, 0), -EAGAIN);
	cr_expect_eq(evg_client_send(cl, NULL, 0, "v", 1, 0, 50), -ETIMEDOUT);
	cr_expect_eq(evg_client_unacked(cl), 8);
	fake_stop(&fk);
}

Test(evclient, full_window_blocks_send_until_an_ack)
{
	struct fake_script s = {.ack_delay_ms = 50};

	opts.window_events = 4;
	start(&s);
	cr_assert_eq(send_events(4, 8), 0);
	/* The 5th waits for an ACK to make room. */
	cr_assert_eq(send_events(1, 8), 0);
	cr_expect_geq(stats().events_acked, 1, "send returned with no room");
	cr_assert_eq(evg_client_flush(cl, WAIT_MS), 0, "%s",
		     evg_client_errmsg(cl));
	fake_stop(&fk);
	expect_all_once(5);
}

Test(evclient, flush_times_out_when_nothing_is_acked)
{
	struct fake_script s = {.silent = true};

	start(&s);
	cr_assert_eq(send_events(5, 8), 0);
	cr_expect_eq(evg_client_flush(cl, 100), -ETIMEDOUT);
	cr_expect_eq(evg_client_unacked(cl), 5);
	cr_expect_str_empty(evg_client_errmsg(cl), "a timeout is not sticky");
	fake_stop(&fk);
	cr_expect_geq(fk.seen.ack_now_frames + fk.seen.pings, 1,
		      "flush asked for no immediate ACK (ACK_NOW or PING)");
}

Test(evclient, frames_never_exceed_the_max_payload)
{
	uint64_t rng = 12345;
	char v[256];
	uint32_t max;

	opts.max_payload = 200;
	start(NULL);
	max = evg_client_max_event_size(cl);
	cr_assert_eq(max, 200 - 40 - 16);
	for (uint64_t i = 0; i < 500; i++) {
		int len = snprintf(v, sizeof(v), "ev-%" PRIu64, i);
		uint32_t sz;

		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		sz = (uint32_t)(rng >> 33) % (max - 1) + 1; /* key of 1 byte */
		if (sz < (uint32_t)len + 1)
			sz = (uint32_t)len + 1;
		memset(v + len, '.', sz - (uint32_t)len);
		cr_assert_eq(evg_client_send(cl, "k", 1, v, sz - 1, 0, WAIT_MS),
			     0);
	}
	cr_expect_eq(evg_client_send(cl, "k", 1, v, max, 0, 0), -EMSGSIZE);
	cr_assert_eq(evg_client_flush(cl, WAIT_MS), 0, "%s",
		     evg_client_errmsg(cl));
	fake_stop(&fk);
	expect_all_once(500);
	cr_expect_leq(fk.seen.max_len, 200, "a frame of %" PRIu64 " bytes",
		      fk.seen.max_len);
	cr_expect_eq(fk.seen.malformed, 0);
}

Test(evclient, session_increases_across_two_opens)
{
	struct evg_client *second = NULL;

	start(NULL);
	cr_assert_eq(send_events(2, 8), 0);
	cr_assert_eq(evg_client_flush(cl, WAIT_MS), 0);
	cr_assert_eq(evg_client_open(&second, PRODUCER, STREAM, fk.addr, &opts),
		     0);
	cr_expect_gt(evg_client_session(second), evg_client_session(cl));
	cr_expect_eq(evg_client_send(second, NULL, 0, "ev-0", 4, 0, WAIT_MS),
		     0);
	cr_expect_eq(evg_client_flush(second, WAIT_MS), 0, "%s",
		     evg_client_errmsg(second));
	evg_client_close(second);
	fake_stop(&fk);
	cr_expect_eq(fk.seen.sessions, 2);
	cr_expect_eq(fk.seen.bad_values, 0);
}

Test(evclient, poll_driven_loop_gets_every_ack)
{
	uint64_t queued = 0;
	char v[32];

	opts.window_events = 16;
	start(NULL);
	while (evg_client_unacked(cl) > 0 || queued < 500) {
		uint64_t now = evg_client_now_ns();
		struct pollfd p = {.fd = evg_client_fd(cl)};
		int t, rc;

		while (queued < 500) {
			int len = snprintf(v, sizeof(v), "ev-%" PRIu64, queued);

			rc = evg_client_append(cl, NULL, 0, v, (uint32_t)len,
					       0);
			if (rc == -EAGAIN)
				break;
			cr_assert_eq(rc, 0);
			queued++;
		}
		cr_assert_geq(evg_client_process(cl, now), 0);
		if ((queued < 500 &&
		     evg_client_unacked(cl) < opts.window_events) ||
		    evg_client_unacked(cl) == 0)
			continue; /* queue more, or done, before waiting */
		p.events = evg_client_poll_events(cl);
		t = evg_client_next_timeout_ms(cl, evg_client_now_ns());
		cr_assert(p.events != 0 || t >= 0 ||
				  evg_client_unacked(cl) == 0,
			  "unacked events but nothing to wait for");
		poll(&p, 1, t < 0 || t > 1000 ? 1000 : t);
	}
	fake_stop(&fk);
	expect_all_once(500);
}

Test(evclient, open_rejects_bad_arguments)
{
	struct evg_client *c = NULL;

	cr_expect_eq(evg_client_open(&c, 0, 1, "127.0.0.1:7470", NULL),
		     -EINVAL);
	cr_expect_eq(evg_client_open(&c, 1, 1, "127.0.0.1:0", NULL), -EINVAL);
	cr_expect_eq(evg_client_open(&c, 1, 1, "127.0.0.1:x", NULL), -EINVAL);
	opts.max_payload = 10;
	cr_expect_eq(evg_client_open(&c, 1, 1, "127.0.0.1", &opts), -EINVAL);
	cr_expect_null(c);
}
