/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libevclient's consumer against the fake appliance: commits, every
 * SUB_ERROR reason, the resubscription after UNKNOWN, and frames that are
 * not for the handle.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "consumer_testutil.h"

TestSuite(consumer, .init = setup, .fini = teardown, .timeout = 60);

/* ---- commits -------------------------------------------------------- */

Test(consumer, commit_waits_for_committed)
{
	struct fsub_script s = {.events = 40, .committed_delay_ms = 200};
	uint64_t t0, off = 0;
	struct fsub_rx r;

	opts.group = "g1";
	opts.auto_commit_ms = 0;
	start(&s);
	collect(40, 64, WAIT_MS);
	cr_expect_eq(evg_consumer_committed(cs, 1, &off), -ENOENT);
	t0 = evg_client_now_ns();
	cr_assert_eq(evg_consumer_commit(cs, WAIT_MS), 0, "%s",
		     evg_consumer_errmsg(cs));
	cr_expect_geq(evg_client_now_ns() - t0, 180000000ull,
		      "commit returned before COMMITTED");
	cr_assert_geq(fsub_count(&fk, EVG_EVF_CREDIT, EVG_EVF_SUB_F_COMMIT), 1);
	cr_assert(fsub_nth(&fk, EVG_EVF_CREDIT, 0, &r));
	for (unsigned int i = 0; !(r.flags & EVG_EVF_SUB_F_COMMIT); i++)
		cr_assert(fsub_nth(&fk, EVG_EVF_CREDIT, i, &r));
	cr_expect_eq(r.u.credit.processed, 40, "commit of %" PRIu64,
		     r.u.credit.processed);
	cr_assert_eq(evg_consumer_committed(cs, 1, &off), 0);
	cr_expect_eq(off, 40);
	cr_expect_eq(evg_consumer_committed(cs, 2, &off), -ENOENT);
	cr_expect_eq(stats().commits, 1);
	cr_expect_eq(stats().committed, 1);
}

Test(consumer, commit_is_resent_until_it_times_out)
{
	struct fsub_script s = {.events = 4, .no_committed = true};
	unsigned int n;

	opts.group = "g1";
	start(&s);
	collect(4, 64, WAIT_MS);
	cr_expect_eq(evg_consumer_commit(cs, 300), -ETIMEDOUT);
	n = fsub_count(&fk, EVG_EVF_CREDIT, EVG_EVF_SUB_F_COMMIT);
	cr_expect_geq(n, 3, "%u COMMITs in 300 ms, retry 50 ms", n);
	cr_expect_str_empty(evg_consumer_errmsg(cs), "a timeout is sticky");
}

Test(consumer, auto_commit_asks_without_waiting)
{
	struct fsub_script s = {.events = 8};
	uint64_t off = 0;

	opts.group = "g1";
	opts.auto_commit_ms = 50;
	start(&s);
	collect(8, 64, WAIT_MS);
	run_for(300);
	cr_expect_geq(stats().commits, 1);
	cr_assert_eq(evg_consumer_committed(cs, 1, &off), 0);
	cr_expect_eq(off, 8);
}

Test(consumer, commit_without_a_group_is_enotsup)
{
	struct fsub_script s = {.events = 1};

	start(&s);
	cr_expect_eq(evg_consumer_commit(cs, 100), -ENOTSUP);
}

Test(consumer, close_commits_then_unsubscribes)
{
	struct fsub_script s = {.events = 12};
	struct fsub_rx r;
	uint64_t token;

	opts.group = "g1";
	opts.auto_commit_ms = 0;
	start(&s);
	collect(12, 64, WAIT_MS);
	token = fsub_token(&fk);
	evg_consumer_close(cs, WAIT_MS);
	cs = NULL;
	usleep(100000);
	cr_assert_eq(fsub_count(&fk, EVG_EVF_UNSUBSCRIBE, 0), 1);
	cr_assert(fsub_nth(&fk, EVG_EVF_UNSUBSCRIBE, 0, &r));
	cr_expect_eq(r.seq, 12, "UNSUBSCRIBE at processed");
	cr_expect_eq(r.u.unsub.token, token);
	r = last_credit();
	cr_expect(r.flags & EVG_EVF_SUB_F_COMMIT);
	cr_expect_eq(r.u.credit.processed, 12);
}

/* ---- SUB_ERROR -------------------------------------------------------- */

static void
expect_refusal(unsigned int reason, int err, const char *name)
{
	struct fsub_script s = {.error_reason = reason, .error_count = 1000};
	struct evg_consumer_stream st = {.stream_id = 1};
	struct evg_consumer_event ev;

	start_streams(&s, &st, 1);
	cr_assert_eq(evg_consumer_wait_subscribed(cs, WAIT_MS), err);
	cr_expect_not_null(strstr(evg_consumer_errmsg(cs), name), "message: %s",
			   evg_consumer_errmsg(cs));
	cr_expect_eq(evg_consumer_poll(cs, &ev, 1, 0), err, "not sticky");
	cr_expect_eq(evg_consumer_process(cs, evg_client_now_ns()), err);
	cr_expect_eq(evg_consumer_next_timeout_ms(cs, evg_client_now_ns()), -1);
	cr_expect_eq(stats().errors, 1);
}

Test(consumer, rejected_is_sticky_eacces)
{
	expect_refusal(EVG_EVF_SUB_ERR_REJECTED, -EACCES, "REJECTED");
}

Test(consumer, fenced_is_sticky_eperm)
{
	expect_refusal(EVG_EVF_SUB_ERR_FENCED, -EPERM, "FENCED");
}

Test(consumer, policy_is_sticky_einval)
{
	opts.group = "g1";
	opts.policy = EVG_CONSUMER_KEY_HASH;
	expect_refusal(EVG_EVF_SUB_ERR_POLICY, -EINVAL, "POLICY");
}

Test(consumer, full_is_retried_then_ebusy)
{
	struct fsub_script s = {.error_reason = EVG_EVF_SUB_ERR_FULL,
				.error_count = 1000};
	struct evg_consumer_stream st = {.stream_id = 1};

	start_streams(&s, &st, 1);
	cr_expect_eq(evg_consumer_wait_subscribed(cs, 400), -EBUSY);
	cr_expect_geq(stats().errors, 3, "%" PRIu64 " tries in 400 ms",
		      stats().errors);
	cr_expect_str_empty(evg_consumer_errmsg(cs), "FULL is sticky");
}

Test(consumer, groups_is_retried_until_it_subscribes)
{
	struct fsub_script s = {.events = 4,
				.error_reason = EVG_EVF_SUB_ERR_GROUPS,
				.error_count = 2};

	opts.group = "g1";
	start(&s);
	cr_expect_eq(stats().errors, 2);
	collect(4, 64, WAIT_MS);
}

Test(consumer, unknown_resubscribes_from_the_offset_after_the_last)
{
	/* Stream 1 from 0 (20 events), stream 2 at its end (nothing). The
	 * fake forgets the subscription once 8 events are received. */
	struct fsub_script s = {.events_of = {20, 30}, .forget_after = 8};
	struct evg_consumer_stream st[2] = {{.stream_id = 1, .offset = 0},
					    {.stream_id = 2, .offset = 30}};
	struct fsub_rx r;
	unsigned int n, reset = 0;
	uint64_t last = 0;

	opts.start = EVG_CONSUMER_OFFSET;
	opts.credit_events = 8;
	start_streams(&s, st, 2);
	collect(20, 64, WAIT_MS);
	for (unsigned int i = 0; i < 20; i++) {
		cr_expect_eq(got[i].stream_id, 1);
		cr_expect_eq(got[i].offset, i, "each event once, in order");
		if (i > 0 && got[i].dseq < got[i - 1].dseq) {
			reset = i;
			last = got[i - 1].offset;
		} else if (i > 0) {
			cr_expect_eq(got[i].dseq, got[i - 1].dseq + 1);
		}
	}
	cr_expect_eq(stats().resubscribes, 1);
	cr_expect_eq(fk.subscriptions, 2);
	cr_assert_gt(reset, 0, "dseq did not restart at 0");
	cr_expect_eq(got[reset].dseq, 0);
	n = fsub_count(&fk, EVG_EVF_SUBSCRIBE, 0);
	cr_assert(fsub_nth(&fk, EVG_EVF_SUBSCRIBE, n - 1, &r));
	cr_expect_eq(r.u.sub.cookie, FSUB_COOKIE, "a new cookie round trip");
	cr_expect_eq(r.u.sub.start, EVG_EVF_SUB_OFFSET);
	cr_expect_eq(r.u.sub.streams[0].stream_id, 1);
	cr_expect_eq(r.u.sub.streams[0].offset, last + 1,
		     "stream 1 resumes at %" PRIu64 ", last received %" PRIu64,
		     r.u.sub.streams[0].offset, last);
	cr_expect_eq(r.u.sub.streams[1].offset, 30,
		     "stream 2 resumes where it started");
}

Test(consumer, unknown_resubscribes_a_group_as_the_options_say)
{
	struct fsub_script s = {.events = 20, .forget_after = 8};
	struct fsub_rx r;
	unsigned int n;

	opts.group = "g1";
	opts.credit_events = 8;
	start(&s);
	collect(20, 64, WAIT_MS);
	cr_expect_eq(stats().resubscribes, 1);
	n = fsub_count(&fk, EVG_EVF_SUBSCRIBE, 0);
	cr_assert(fsub_nth(&fk, EVG_EVF_SUBSCRIBE, n - 1, &r));
	cr_expect_eq(r.u.sub.start, EVG_EVF_SUB_OLDEST);
	cr_expect_str_eq(r.u.sub.group, "g1");
}

Test(consumer, foreign_and_malformed_frames_are_ignored_and_counted)
{
	struct fsub_script s = {.no_deliver = true};
	struct evg_evf_sub_subscribed sd = {.token = 1, .nb = 1};
	struct evg_evf_sub_ids ids = {.consumer_id = CONSUMER};
	struct evg_consumer_event ev;
	uint8_t buf[256];
	uint64_t se;
	int len;

	start(&s);
	se = evg_consumer_session(cs);
	ids.session = se;
	len = deliver(buf, CONSUMER, se, 1, 0);
	buf[len - 1] ^= 1; /* CRC */
	fsub_inject(&fk, buf, (size_t)len);
	fsub_inject(&fk, buf, 10); /* runt */
	len = deliver(buf, CONSUMER + 1, se, 1, 0);
	fsub_inject(&fk, buf, (size_t)len);
	len = deliver(buf, CONSUMER, se + 1, 1, 0);
	fsub_inject(&fk, buf, (size_t)len);
	len = deliver(buf, CONSUMER, se, 2, 0); /* not a stream of ours */
	fsub_inject(&fk, buf, (size_t)len);
	evg_evf_control_build(buf, EVG_EVF_ACK, 0, CONSUMER, 0, se, 0);
	fsub_inject(&fk, buf, EVG_EVF_HDR_LEN);
	len = evg_evf_sub_unsubscribe_encode(buf, sizeof(buf), &ids, 1, 0);
	fsub_inject(&fk, buf, (size_t)len); /* consumer -> evgate type */
	len = evg_evf_sub_subscribed_encode(buf, sizeof(buf), &ids, &sd);
	fsub_inject(&fk, buf, (size_t)len); /* another token */
	cr_expect_eq(evg_consumer_poll(cs, &ev, 1, 300), 0);
	cr_expect_eq(stats().replies_ignored, 8, "%" PRIu64 " ignored",
		     stats().replies_ignored);
	cr_expect_eq(stats().resubscribes, 0);
	/* A SUBSCRIBED again with the right token is harmless. */
	sd.token = fsub_token(&fk);
	len = evg_evf_sub_subscribed_encode(buf, sizeof(buf), &ids, &sd);
	fsub_inject(&fk, buf, (size_t)len);
	/* And the handle still takes what is for it. */
	len = deliver(buf, CONSUMER, se, 1, 0);
	fsub_inject(&fk, buf, (size_t)len);
	cr_assert_eq(evg_consumer_poll(cs, &ev, 1, WAIT_MS), 1);
	cr_expect_eq(ev.offset, 100);
	cr_expect_eq(ev.dseq, 0);
	cr_expect_eq(stats().replies_ignored, 8);
}
