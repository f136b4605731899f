/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * evsub: subscribe to streams of evgate with libevclient's consumer, print
 * the events, report the rate and the end-to-end latency. docs/evclient.md.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "evg_client.h"
#include "evsub.h"

#define NS_PER_MS 1000000ull
#define POLL_MAX_MS                                            \
	1000 /* a poll wait at most, so signals and limits are \
	      * seen in time */
#define COMMIT_WAIT_MS 5000

static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
	got_signal = sig;
}

static void
set_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};

	sigemptyset(&sa.sa_mask); /* no SA_RESTART: waits return -EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static uint64_t
realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int
open_consumer(struct evsub *s)
{
	const struct evsub_opts *o = &s->o;
	struct evg_consumer_opts co;
	int rc;

	evg_consumer_opts_init(&co);
	co.group = o->group;
	co.policy = o->policy;
	co.weight = o->weight;
	co.start = o->start;
	co.start_time_ns = o->from;
	co.credit_events = o->credit_events;
	co.credit_bytes = o->credit_bytes;
	rc = evg_consumer_open(&s->c, o->consumer, o->server, o->streams,
			       o->nb_streams, &co);
	if (rc < 0)
		fprintf(stderr, "evsub: --server '%s': %s\n", o->server,
			rc == -EINVAL
				? "expected IPv4-ADDRESS[:PORT] or HOST[:PORT]"
				: strerror(-rc));
	return rc;
}

static void
fail_msg(const struct evsub *s, int rc)
{
	const char *m = evg_consumer_errmsg(s->c);

	fprintf(stderr, "evsub: %s\n", *m != '\0' ? m : strerror(-rc));
}

/* Where the subscription starts, on stderr. */
static void
print_subscribed(const struct evsub *s)
{
	struct evg_consumer_position pos[EVSUB_MAX_STREAMS];
	unsigned int n = evg_consumer_positions(s->c, pos, EVSUB_MAX_STREAMS);

	fprintf(stderr, "evsub: subscribed: consumer %u session %llu",
		s->o.consumer, (unsigned long long)evg_consumer_session(s->c));
	if (s->o.group != NULL)
		fprintf(stderr, ", group %s (%u members%s)", s->o.group,
			evg_consumer_members(s->c),
			evg_consumer_resumed(s->c) ? ", resumed at its commit"
						   : "");
	for (unsigned int i = 0; i < n; i++)
		fprintf(stderr, "; stream %u partition %u from %llu (end %llu)",
			pos[i].stream_id, pos[i].partition,
			(unsigned long long)pos[i].start,
			(unsigned long long)pos[i].end);
	fputc('\n', stderr);
}

/* The handshake, within the run's limit. 0, or the exit code. */
static int
subscribe(struct evsub *s, uint64_t deadline)
{
	uint64_t now = evg_client_now_ns();
	int t = deadline == UINT64_MAX
			? -1
			: (int)((deadline - now + NS_PER_MS - 1) / NS_PER_MS);
	int rc = evg_consumer_wait_subscribed(s->c, t);

	if (rc == 0) {
		print_subscribed(s);
		return 0;
	}
	if (rc == -EINTR) {
		s->interrupted = true;
		return EVSUB_EXIT_OK;
	}
	if (rc == -ETIMEDOUT || rc == -EBUSY)
		fprintf(stderr,
			"evsub: not subscribed within --timeout %gs%s\n",
			s->o.timeout_s,
			rc == -EBUSY ? " (evgate is full: FULL or GROUPS)"
				     : "");
	else
		fail_msg(s, rc);
	return EVSUB_EXIT_FAIL;
}

/* Events to ask for: stop at --count and at the next --commit-every, so
 * that what is committed is what was printed. */
static unsigned int
batch_size(const struct evsub *s)
{
	uint64_t n = EVSUB_BATCH;

	if (s->o.count != 0 && s->o.count - s->events < n)
		n = s->o.count - s->events;
	if (s->o.commit_every != 0 &&
	    s->o.commit_every - s->events % s->o.commit_every < n)
		n = s->o.commit_every - s->events % s->o.commit_every;
	return (unsigned int)n;
}

static void
take_batch(struct evsub *s, const struct evg_consumer_event *evs, int n)
{
	uint64_t rt = realtime_ns(), mono = evg_client_now_ns();

	if (s->t_first == 0)
		s->t_first = mono;
	s->t_last = mono;
	for (int i = 0; i < n; i++) {
		const struct evg_consumer_event *ev = &evs[i];

		if (ev->ts_ns != 0) /* a clock behind the producer's: 0 */
			evsub_hist_record(&s->lat,
					  rt > ev->ts_ns ? rt - ev->ts_ns : 0);
		s->redelivered += ev->redelivered != 0;
		if (s->o.quiet)
			continue;
		if (s->o.json)
			evsub_print_json(stdout, ev);
		else
			evsub_print_text(stdout, ev);
	}
	s->events += (uint64_t)n;
	fflush(stdout);
}

/* --commit-every: the group's progress, waited for. false on a signal. */
static bool
commit_due(struct evsub *s)
{
	int rc;

	if (s->o.commit_every == 0 || s->events % s->o.commit_every != 0)
		return true;
	rc = evg_consumer_commit(s->c, COMMIT_WAIT_MS);
	if (rc == -ETIMEDOUT)
		fprintf(stderr,
			"evsub: commit after %llu events not "
			"confirmed within %d ms\n",
			(unsigned long long)s->events, COMMIT_WAIT_MS);
	return rc != -EINTR;
}

/* Milliseconds to wait in one poll: up to the deadline, the idle limit
 * and POLL_MAX_MS. */
static int
wait_ms(uint64_t now, uint64_t deadline, uint64_t idle_at)
{
	uint64_t until = deadline < idle_at ? deadline : idle_at;
	uint64_t ms =
		until <= now ? 0 : (until - now + NS_PER_MS - 1) / NS_PER_MS;

	return ms > POLL_MAX_MS ? POLL_MAX_MS : (int)ms;
}

static int
run(struct evsub *s, uint64_t deadline)
{
	uint64_t idle_ns = (uint64_t)(s->o.idle_s * 1e9);
	uint64_t last = evg_client_now_ns();
	struct evg_consumer_event evs[EVSUB_BATCH];

	for (;;) {
		uint64_t now = evg_client_now_ns();
		uint64_t idle_at = idle_ns != 0 ? last + idle_ns : UINT64_MAX;
		int n;

		if (got_signal != 0) {
			s->interrupted = true;
			return EVSUB_EXIT_OK;
		}
		if (s->o.count != 0 && s->events >= s->o.count)
			return EVSUB_EXIT_OK;
		if (now >= idle_at)
			return EVSUB_EXIT_OK;
		if (now >= deadline) {
			if (s->o.count == 0)
				return EVSUB_EXIT_OK;
			fprintf(stderr,
				"evsub: %llu of %llu events within --timeout "
				"%gs\n",
				(unsigned long long)s->events,
				(unsigned long long)s->o.count, s->o.timeout_s);
			return EVSUB_EXIT_FAIL;
		}
		n = evg_consumer_poll(s->c, evs, batch_size(s),
				      wait_ms(now, deadline, idle_at));
		if (n == -EINTR)
			continue;
		if (n < 0) {
			fail_msg(s, n);
			return EVSUB_EXIT_FAIL;
		}
		if (n == 0)
			continue;
		take_batch(s, evs, n);
		last = evg_client_now_ns();
		if (!commit_due(s))
			got_signal = SIGINT;
	}
}

int
main(int argc, char **argv)
{
	struct evsub s = {0};
	uint64_t deadline = UINT64_MAX;
	int rc;

	rc = evsub_parse(argc, argv, &s.o);
	if (rc != 0)
		return rc > 0 ? EVSUB_EXIT_OK : EVSUB_EXIT_USAGE;
	rc = open_consumer(&s);
	if (rc < 0)
		return rc == -EINVAL ? EVSUB_EXIT_USAGE : EVSUB_EXIT_FAIL;
	set_signals();
	if (s.o.timeout_s > 0)
		deadline =
			evg_client_now_ns() + (uint64_t)(s.o.timeout_s * 1e9);
	rc = subscribe(&s, deadline);
	if (rc == 0 && !s.interrupted)
		rc = run(&s, deadline);
	/* The last commit is waited for (a second signal cuts it short),
	 * so that the summary counts it; close then only unsubscribes. */
	if (s.o.group != NULL && *evg_consumer_errmsg(s.c) == '\0' &&
	    s.events > 0)
		evg_consumer_commit(s.c, COMMIT_WAIT_MS);
	evsub_report(&s);
	evg_consumer_close(s.c, 0);
	return rc;
}
