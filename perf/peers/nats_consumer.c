/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NATS JetStream push consumer peer (perf/README.md, "Delivery to
 * subscribers"): what evgate's subscribers are compared with.
 *
 *   replay  fills a file-storage stream of its own with --count S-byte
 *           messages (js_PublishAsync, PubAcks awaited), then reads them
 *           all back through a push consumer (DeliverAll) on a
 *           synchronous subscription, acknowledging as a real consumer
 *           does (--ack explicit: natsMsg_Ack on every message; all:
 *           AckAll on every --ack-every-th and the last; none). Rate:
 *           messages over the time from the first to the last delivered.
 *           Each message carries its index in its first 8 bytes, so
 *           repeats and jumps are counted.
 *   live    a push consumer (DeliverNew, async handler in libnats's
 *           thread) on an empty stream, and a publisher at --rate
 *           messages/s (js_PublishAsync) for --seconds: the latency of
 *           every message from its publish to its delivery (send time,
 *           CLOCK_MONOTONIC, in its first 8 bytes).
 *
 * The stream is created at the start and deleted at the end;
 * nats_consumer.sh starts the server. Prints one JSON object on stdout
 * and a one-line summary on stderr.
 */
#include <getopt.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <nats/nats.h>

#include "peer_util.h"

#define PROG "nats_consumer"

struct nc_opts {
	const char *url;	 /* = nats://127.0.0.1:4222 */
	const char *stream;	 /* = EVGSUB */
	unsigned int size;	 /* message bytes = 64 (>= 8) */
	bool live;		 /* = false (replay) */
	jsAckPolicy ack;	 /* = js_AckExplicit */
	unsigned int ack_every;	 /* AckAll: every N-th = 64 */
	int64_t max_ack_pending; /* = 65536 */
	uint64_t count;		 /* messages = 1000000 */
	uint64_t rate;		 /* live: messages/s = 10000 */
	double seconds;		 /* live: publishing time = 10 */
	double limit;		 /* replay: reading time at most = 120 */
	int cpu;		 /* = -1 */
};

struct nc_ctx {
	struct nc_opts o;
	char subject[96];
	natsConnection *nc;
	jsCtx *js;
	natsSubscription *sub;
	uint64_t *lat_ns;
	uint64_t lat_cap;
	atomic_uint_fast64_t nlat, delivered, ack_errors;
	uint64_t published, pub_errors, out_of_order, timeouts;
	int64_t dropped; /* by libnats: slow consumer */
	double fill_s, seconds;
	uint64_t t_first, t_last;
	int ran_on;
};

static int
nc_fail(const char *what, natsStatus s)
{
	fprintf(stderr, PROG ": %s: %s (%s)\n", what, natsStatus_GetText(s),
		nats_GetLastError(NULL));
	return -1;
}

static int
nc_connect(struct nc_ctx *c)
{
	const char *subjects[1] = {c->subject};
	jsStreamConfig sc;
	jsOptions jo;
	jsErrCode jerr = 0;
	natsStatus s;

	s = natsConnection_ConnectTo(&c->nc, c->o.url);
	if (s != NATS_OK)
		return nc_fail(c->o.url, s);
	jsOptions_Init(&jo);
	jo.PublishAsync.MaxPending = 4096;
	s = natsConnection_JetStream(&c->js, c->nc, &jo);
	if (s != NATS_OK)
		return nc_fail("JetStream context", s);
	jsStreamConfig_Init(&sc);
	sc.Name = c->o.stream;
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	s = js_AddStream(NULL, c->js, &sc, NULL, &jerr);
	if (s != NATS_OK) {
		fprintf(stderr,
			PROG ": creating stream %s: %s (JetStream error %d; "
			     "is the server started with -js?)\n",
			c->o.stream, natsStatus_GetText(s), (int)jerr);
		return -1;
	}
	return 0;
}

/* The push consumer: a durable-less one on the stream's subject. */
static int
nc_subscribe(struct nc_ctx *c, natsMsgHandler cb)
{
	jsSubOptions so;
	jsErrCode jerr = 0;
	natsStatus s;

	jsSubOptions_Init(&so);
	so.Stream = c->o.stream;
	so.ManualAck = true;
	so.Config.AckPolicy = c->o.ack;
	so.Config.DeliverPolicy = c->o.live ? js_DeliverNew : js_DeliverAll;
	so.Config.MaxAckPending = c->o.max_ack_pending;
	if (cb != NULL)
		s = js_Subscribe(&c->sub, c->js, c->subject, cb, c, NULL, &so,
				 &jerr);
	else
		s = js_SubscribeSync(&c->sub, c->js, c->subject, NULL, &so,
				     &jerr);
	if (s != NATS_OK)
		return nc_fail("push consumer", s);
	natsSubscription_SetPendingLimits(c->sub, -1, -1);
	return 0;
}

static void
nc_ack(struct nc_ctx *c, natsMsg *m, uint64_t i, bool last)
{
	if (c->o.ack == js_AckNone)
		return;
	if (c->o.ack == js_AckAll && !last && (i + 1) % c->o.ack_every != 0)
		return;
	if (natsMsg_Ack(m, NULL) != NATS_OK)
		atomic_fetch_add(&c->ack_errors, 1);
}

/* Fill the stream with count messages, each its index in 8 bytes. */
static int
nc_fill(struct nc_ctx *c, uint8_t *buf)
{
	uint64_t t0 = peer_now_ns();
	jsPubOptions po;

	for (uint64_t i = 0; i < c->o.count; i++) {
		peer_store_le64(buf, i);
		if (js_PublishAsync(c->js, c->subject, buf, (int)c->o.size,
				    NULL) != NATS_OK)
			c->pub_errors++;
	}
	jsPubOptions_Init(&po);
	po.MaxWait = 60000;
	if (js_PublishAsyncComplete(c->js, &po) != NATS_OK)
		return nc_fail("filling: PubAcks missing after 60 s",
			       NATS_TIMEOUT);
	c->published = c->o.count;
	c->fill_s = (double)(peer_now_ns() - t0) * 1e-9;
	return 0;
}

static void
nc_replay(struct nc_ctx *c, const sigset_t *sigs)
{
	uint64_t deadline = peer_now_ns() + (uint64_t)(c->o.limit * 1e9);
	uint64_t next = 0, n = 0;

	while (n < c->o.count && peer_now_ns() < deadline) {
		natsMsg *m = NULL;
		natsStatus s = natsSubscription_NextMsg(&m, c->sub, 200);
		uint64_t idx;

		if (s == NATS_TIMEOUT) {
			c->timeouts++;
			if (peer_signalled(PROG, sigs))
				break;
			continue;
		}
		if (s != NATS_OK)
			break;
		c->t_last = peer_now_ns();
		if (n == 0)
			c->t_first = c->t_last;
		idx = natsMsg_GetDataLength(m) >= 8
			      ? peer_load_le64(
					(const uint8_t *)natsMsg_GetData(m))
			      : next;
		c->out_of_order += idx != next;
		next = idx + 1;
		nc_ack(c, m, n, n + 1 == c->o.count);
		natsMsg_Destroy(m);
		n++;
	}
	atomic_store(&c->delivered, n);
	natsSubscription_GetDropped(c->sub, &c->dropped);
}

static void
nc_on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *arg)
{
	struct nc_ctx *c = arg;
	uint64_t now = peer_now_ns();
	uint_fast64_t n = atomic_fetch_add(&c->delivered, 1);

	(void)nc;
	(void)sub;
	if (natsMsg_GetDataLength(m) >= 8) {
		uint_fast64_t i = atomic_fetch_add(&c->nlat, 1);

		if (i < c->lat_cap)
			c->lat_ns[i] =
				now -
				peer_load_le64(
					(const uint8_t *)natsMsg_GetData(m));
	}
	nc_ack(c, m, n, false);
	natsMsg_Destroy(m);
}

/* Publish at the rate for the time (or count), then wait up to 5 s for
 * every message to be delivered. */
static void
nc_live(struct nc_ctx *c, uint8_t *buf, const sigset_t *sigs)
{
	uint64_t t0 = peer_now_ns(), gap = 1000000000ull / c->o.rate;
	uint64_t deadline = t0 + (uint64_t)(c->o.seconds * 1e9), wait_end;
	jsPubOptions po;

	for (uint64_t i = 0; i < c->o.count; i++) {
		uint64_t due = t0 + i * gap, t;

		/* sleep, not spin: libnats's threads share the CPU */
		while ((t = peer_now_ns()) < due) {
			struct timespec ts = {
				.tv_sec = (time_t)(due / 1000000000u),
				.tv_nsec = (long)(due % 1000000000u)};

			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
					NULL);
		}
		if (t >= deadline ||
		    ((i & 1023) == 0 && peer_signalled(PROG, sigs)))
			break;
		peer_store_le64(buf, t);
		if (js_PublishAsync(c->js, c->subject, buf, (int)c->o.size,
				    NULL) != NATS_OK)
			c->pub_errors++;
		c->published++;
	}
	jsPubOptions_Init(&po);
	po.MaxWait = 10000;
	js_PublishAsyncComplete(c->js, &po);
	c->seconds = (double)(peer_now_ns() - t0) * 1e-9;
	wait_end = peer_now_ns() + 5000000000ull;
	while (atomic_load(&c->delivered) < c->published &&
	       peer_now_ns() < wait_end)
		usleep(1000);
	natsSubscription_GetDropped(c->sub, &c->dropped);
}

static const char *
nc_ack_name(jsAckPolicy a)
{
	return a == js_AckExplicit ? "explicit"
	       : a == js_AckAll	   ? "all"
				   : "none";
}

static void
nc_report(struct nc_ctx *c)
{
	uint64_t n = atomic_load(&c->nlat), got = atomic_load(&c->delivered);
	struct peer_lat l =
		peer_lat_summary(c->lat_ns, n < c->lat_cap ? n : c->lat_cap);
	double span = c->o.live ? c->seconds
				: (double)(c->t_last - c->t_first) * 1e-9;
	double ev_s = span > 0 ? (double)got / span : 0;

	printf("{\"bench\": \"nats_consumer\", \"mode\": \"%s\", "
	       "\"storage\": \"file\", \"consumer\": \"push\", \"ack\": "
	       "\"%s\", \"ack_every\": %u, \"max_ack_pending\": %lld, "
	       "\"event_bytes\": %u,\n \"cpus\": {\"client\": %d, "
	       "\"client_ran_on\": %d},\n \"published\": %llu, "
	       "\"fill_s\": %.3f, \"fill_per_s\": %.0f, \"delivered\": %llu, "
	       "\"seconds\": %.3f, \"rate_asked\": %llu, \"events_per_s\": "
	       "%.0f,\n \"latency_us\": {\"samples\": %llu, \"p50\": %.1f, "
	       "\"p99\": %.1f, \"p99_9\": %.1f, \"max\": %.1f},\n"
	       " \"counters\": {\"pub_errors\": %llu, \"ack_errors\": %llu, "
	       "\"out_of_order\": %llu, \"dropped\": %lld, \"timeouts\": "
	       "%llu}}\n",
	       c->o.live ? "live" : "replay", nc_ack_name(c->o.ack),
	       c->o.ack == js_AckAll ? c->o.ack_every : 1,
	       (long long)c->o.max_ack_pending, c->o.size, c->o.cpu, c->ran_on,
	       (unsigned long long)c->published, c->fill_s,
	       c->fill_s > 0 ? (double)c->published / c->fill_s : 0.0,
	       (unsigned long long)got, span,
	       (unsigned long long)(c->o.live ? c->o.rate : 0), ev_s,
	       (unsigned long long)l.n, l.p50_us, l.p99_us, l.p999_us, l.max_us,
	       (unsigned long long)c->pub_errors,
	       (unsigned long long)atomic_load(&c->ack_errors),
	       (unsigned long long)c->out_of_order, (long long)c->dropped,
	       (unsigned long long)c->timeouts);
	fprintf(stderr,
		"nats consumer %s (ack %s): %u B, %llu of %llu delivered, "
		"%.0f msgs/s; latency p50 %.1f p99 %.1f us (client CPU %d)\n",
		c->o.live ? "live" : "replay", nc_ack_name(c->o.ack), c->o.size,
		(unsigned long long)got, (unsigned long long)c->published, ev_s,
		l.p50_us, l.p99_us, c->ran_on);
}

static void
nc_usage(FILE *f)
{
	fprintf(f,
		"Usage: nats_consumer [options]\n"
		"A NATS JetStream push consumer on a file stream of its own.\n"
		"  --url U           server (default nats://127.0.0.1:4222)\n"
		"  --mode M          replay (fill, then read from the start) "
		"or "
		"live (default replay)\n"
		"  --ack A           explicit, all or none (default explicit)\n"
		"  --ack-every N     with --ack all: ack every N-th message "
		"(default 64)\n"
		"  --max-ack-pending N  consumer's MaxAckPending (default "
		"65536)\n"
		"  --size S          message bytes, 8..1048576 (default 64)\n"
		"  --count C         replay: messages; live: at most (default "
		"1000000)\n"
		"  --rate R          live: messages/s (default 10000)\n"
		"  --seconds T       live: publishing time, (0, 600] (default "
		"10)\n"
		"  --limit T         replay: reading time at most, (0, 600] "
		"(default 120)\n"
		"  --stream NAME     stream to create and delete (default "
		"EVGSUB)\n"
		"  --cpu C           pin the client (default unpinned)\n"
		"Prints one JSON object on stdout, a summary line on "
		"stderr.\n");
}

static int
nc_opt_word(struct nc_opts *o, int opt, const char *v)
{
	if (opt == 'm') {
		if (strcmp(v, "replay") != 0 && strcmp(v, "live") != 0)
			return peer_bad(PROG, "--mode", v, "replay or live");
		o->live = strcmp(v, "live") == 0;
		return 0;
	}
	if (strcmp(v, "explicit") == 0)
		o->ack = js_AckExplicit;
	else if (strcmp(v, "all") == 0)
		o->ack = js_AckAll;
	else if (strcmp(v, "none") == 0)
		o->ack = js_AckNone;
	else
		return peer_bad(PROG, "--ack", v, "explicit, all or none");
	return 0;
}

static int
nc_opt(void *arg, int opt, const char *v)
{
	struct nc_opts *o = arg;
	uint64_t x;

	switch (opt) {
	case 'u':
		o->url = v;
		return 0;
	case 'm':
	case 'a':
		return nc_opt_word(o, opt, v);
	case 'e':
		if (peer_parse_u64(v, 1, 1000000, &x))
			return peer_bad(PROG, "--ack-every", v, "1..1000000");
		o->ack_every = (unsigned int)x;
		return 0;
	case 'P':
		if (peer_parse_u64(v, 1, 10000000, &x))
			return peer_bad(PROG, "--max-ack-pending", v,
					"1..10000000");
		o->max_ack_pending = (int64_t)x;
		return 0;
	case 's':
		if (peer_parse_u64(v, 8, 1 << 20, &x))
			return peer_bad(PROG, "--size", v, "8..1048576");
		o->size = (unsigned int)x;
		return 0;
	case 'c':
		if (peer_parse_u64(v, 1, 100000000, &o->count))
			return peer_bad(PROG, "--count", v, "1..100000000");
		return 0;
	case 'r':
		if (peer_parse_u64(v, 1, 100000000, &o->rate))
			return peer_bad(PROG, "--rate", v, "1..100000000");
		return 0;
	case 't':
		if (peer_parse_seconds(v, &o->seconds))
			return peer_bad(PROG, "--seconds", v,
					"a number in (0, 600]");
		return 0;
	case 'l':
		if (peer_parse_seconds(v, &o->limit))
			return peer_bad(PROG, "--limit", v,
					"a number in (0, 600]");
		return 0;
	case 'n':
		if (*v == '\0' || strpbrk(v, " .*>\t") != NULL)
			return peer_bad(PROG, "--stream", v,
					"a name without spaces, '.', '*', '>'");
		o->stream = v;
		return 0;
	case 'C':
		if (peer_parse_u64(v, 0, CPU_SETSIZE - 1, &x))
			return peer_bad(PROG, "--cpu", v, "a CPU number");
		o->cpu = (int)x;
		return 0;
	}
	return -1;
}

static int
nc_parse(int argc, char **argv, struct nc_opts *o)
{
	static const struct option lo[] = {
		{"url", required_argument, NULL, 'u'},
		{"mode", required_argument, NULL, 'm'},
		{"ack", required_argument, NULL, 'a'},
		{"ack-every", required_argument, NULL, 'e'},
		{"max-ack-pending", required_argument, NULL, 'P'},
		{"size", required_argument, NULL, 's'},
		{"count", required_argument, NULL, 'c'},
		{"rate", required_argument, NULL, 'r'},
		{"seconds", required_argument, NULL, 't'},
		{"limit", required_argument, NULL, 'l'},
		{"stream", required_argument, NULL, 'n'},
		{"cpu", required_argument, NULL, 'C'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};

	return peer_getopt(PROG, argc, argv, lo, nc_usage, nc_opt, o);
}

static void
nc_close(struct nc_ctx *c)
{
	if (c->sub != NULL) {
		natsSubscription_Unsubscribe(c->sub);
		natsSubscription_Destroy(c->sub);
	}
	if (c->js != NULL) {
		js_DeleteStream(c->js, c->o.stream, NULL, NULL);
		jsCtx_Destroy(c->js);
	}
	if (c->nc != NULL) {
		natsConnection_Close(c->nc);
		natsConnection_Destroy(c->nc);
	}
	nats_CloseAndWait(2000);
}

/* Fill and read back, or subscribe and publish live; 0 or -1. */
static int
nc_run(struct nc_ctx *c, uint8_t *buf, const sigset_t *sigs)
{
	if (nc_connect(c) != 0)
		return -1;
	if (!c->o.live) {
		if (nc_fill(c, buf) != 0 || nc_subscribe(c, NULL) != 0)
			return -1;
		nc_replay(c, sigs);
	} else {
		if (nc_subscribe(c, nc_on_msg) != 0)
			return -1;
		nc_live(c, buf, sigs);
	}
	c->ran_on = sched_getcpu();
	nc_report(c);
	return c->pub_errors || atomic_load(&c->ack_errors) ||
			       atomic_load(&c->delivered) < c->published
		       ? -1
		       : 0;
}

int
main(int argc, char **argv)
{
	struct nc_ctx c = {
		.o = {.url = "nats://127.0.0.1:4222",
		      .stream = "EVGSUB",
		      .size = 64,
		      .ack = js_AckExplicit,
		      .ack_every = 64,
		      .max_ack_pending = 65536,
		      .count = 1000000,
		      .rate = 10000,
		      .seconds = 10,
		      .limit = 120,
		      .cpu = -1},
	};
	sigset_t sigs;
	uint8_t *buf;
	int rc = nc_parse(argc, argv, &c.o);

	if (rc != 0)
		return rc > 0 ? 0 : 2;
	/* before libnats starts its threads, so they inherit it */
	if (peer_pin(PROG, c.o.cpu) != 0)
		return 2;
	peer_block_signals(&sigs);
	snprintf(c.subject, sizeof(c.subject), "evgsub.%s", c.o.stream);
	c.lat_cap = c.o.count < (1u << 24) ? c.o.count : (1u << 24);
	c.lat_ns = malloc(c.lat_cap * sizeof(uint64_t));
	buf = calloc(1, c.o.size);
	if (c.lat_ns == NULL || buf == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		rc = 1;
	} else {
		memset(buf, 0xa5, c.o.size);
		rc = nc_run(&c, buf, &sigs) == 0 ? 0 : 1;
	}
	nc_close(&c);
	free(buf);
	free(c.lat_ns);
	return rc;
}
