/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NATS JetStream peer: publishes S-byte events, one per message, into a
 * file-storage stream of its own, through libnats.
 *
 *   sync   js_Publish: each publish waits for its PubAck; the latency of
 *          every publish is measured.
 *   async  js_PublishAsync with at most --max-pending in flight, then
 *          js_PublishAsyncComplete; the latency of each message, from
 *          its publish to its PubAck (the ACK handler), is measured from
 *          a send time carried in the first 8 bytes of the payload
 *          (sizes under 8 bytes give no async latency).
 *
 * The stream (--stream, file storage, one subject) is created at the
 * start and deleted at the end. nats_peer.sh starts the server.
 * Prints one JSON object on stdout and a one-line summary on stderr.
 */
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <nats/nats.h>

#include "peer_util.h"

#define PROG "nats_peer"

struct np_opts {
	const char *url;	  /* = nats://127.0.0.1:4222 */
	const char *stream;	  /* = EVGPEER */
	unsigned int size;	  /* event bytes = 64 */
	bool async;		  /* = false (sync) */
	uint64_t count;		  /* messages = 1000000 */
	double seconds;		  /* publishing time = 3 */
	unsigned int max_pending; /* async window = 256 */
	int cpu;		  /* = -1 (unpinned) */
};

struct np_ctx {
	struct np_opts o;
	char subject[96];
	natsConnection *nc;
	jsCtx *js;
	uint64_t *lat_ns;
	uint64_t lat_cap;
	atomic_uint_fast64_t nlat;
	atomic_uint_fast64_t acks;
	atomic_uint_fast64_t ack_errors; /* PubAck errors or timeouts */
	uint64_t sent;
	uint64_t pub_errors; /* publish calls that failed */
	double elapsed_s;
	int ran_on;
};

static void
np_lat_add(struct np_ctx *c, uint64_t ns)
{
	uint_fast64_t i = atomic_fetch_add(&c->nlat, 1);

	if (i < c->lat_cap)
		c->lat_ns[i] = ns;
}

static void
np_ack_handler(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae,
	       void *closure)
{
	struct np_ctx *c = closure;

	(void)js;
	if (pa != NULL && pae == NULL) {
		atomic_fetch_add(&c->acks, 1);
		if (natsMsg_GetDataLength(msg) >= 8)
			np_lat_add(c, peer_now_ns() -
					      peer_load_le64(
						      (const uint8_t *)
							      natsMsg_GetData(
								      msg)));
	} else {
		atomic_fetch_add(&c->ack_errors, 1);
	}
	natsMsg_Destroy(msg);
}

static int
np_fail(const char *what, natsStatus s)
{
	fprintf(stderr, "nats_peer: %s: %s (%s)\n", what, natsStatus_GetText(s),
		nats_GetLastError(NULL));
	return -1;
}

static int
np_connect(struct np_ctx *c)
{
	const char *subjects[1] = {c->subject};
	jsStreamConfig sc;
	jsOptions jo;
	jsErrCode jerr = 0;
	natsStatus s;

	s = natsConnection_ConnectTo(&c->nc, c->o.url);
	if (s != NATS_OK)
		return np_fail(c->o.url, s);
	jsOptions_Init(&jo);
	jo.PublishAsync.MaxPending = c->o.max_pending;
	jo.PublishAsync.AckHandler = np_ack_handler;
	jo.PublishAsync.AckHandlerClosure = c;
	s = natsConnection_JetStream(&c->js, c->nc, &jo);
	if (s != NATS_OK)
		return np_fail("JetStream context", s);
	jsStreamConfig_Init(&sc);
	sc.Name = c->o.stream;
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	s = js_AddStream(NULL, c->js, &sc, NULL, &jerr);
	if (s != NATS_OK) {
		fprintf(stderr,
			"nats_peer: creating stream %s: %s (JetStream "
			"error %d; is the server started with -js?)\n",
			c->o.stream, natsStatus_GetText(s), (int)jerr);
		return -1;
	}
	return 0;
}


static void
np_publish(struct np_ctx *c, uint8_t *buf, const sigset_t *sigs)
{
	uint64_t t0 = peer_now_ns();
	uint64_t deadline = t0 + (uint64_t)(c->o.seconds * 1e9);
	jsPubOptions po;

	for (; c->sent < c->o.count; c->sent++) {
		uint64_t t = peer_now_ns();
		natsStatus s;

		if (t >= deadline ||
		    ((c->sent & 1023) == 0 && peer_signalled(PROG, sigs)))
			break;
		if (c->o.size >= 8)
			peer_store_le64(buf, t);
		if (c->o.async) {
			s = js_PublishAsync(c->js, c->subject, buf,
					    (int)c->o.size, NULL);
		} else {
			jsPubAck *pa = NULL;

			s = js_Publish(&pa, c->js, c->subject, buf,
				       (int)c->o.size, NULL, NULL);
			if (s == NATS_OK) {
				np_lat_add(c, peer_now_ns() - t);
				atomic_fetch_add(&c->acks, 1);
			}
			jsPubAck_Destroy(pa);
		}
		if (s != NATS_OK)
			c->pub_errors++;
	}
	if (c->o.async) {
		jsPubOptions_Init(&po);
		po.MaxWait = 10000;
		if (js_PublishAsyncComplete(c->js, &po) != NATS_OK)
			fprintf(stderr,
				"nats_peer: PubAcks still missing after "
				"10 s\n");
	}
	c->elapsed_s = (double)(peer_now_ns() - t0) * 1e-9;
	c->ran_on = sched_getcpu();
}

static void
np_report(struct np_ctx *c)
{
	uint64_t n = atomic_load(&c->nlat);
	struct peer_lat l =
		peer_lat_summary(c->lat_ns, n < c->lat_cap ? n : c->lat_cap);
	uint64_t acks = atomic_load(&c->acks);
	double ev_s = c->elapsed_s > 0 ? (double)acks / c->elapsed_s : 0;
	const char *mode = c->o.async ? "async" : "sync";

	printf("{\"bench\": \"nats_jetstream\", \"mode\": \"%s\", "
	       "\"storage\": \"file\", \"url\": \"%s\", \"event_bytes\": %u, "
	       "\"max_pending\": %u,\n \"cpus\": {\"client\": %d, "
	       "\"client_ran_on\": %d, \"online\": %ld},\n"
	       " \"seconds\": %.3f, \"published\": %llu, \"acked\": %llu, "
	       "\"events_per_s\": %.0f, \"mb_per_s\": %.2f,\n"
	       " \"latency_us\": {\"samples\": %llu, \"p50\": %.1f, \"p99\": "
	       "%.1f, \"p99_9\": %.1f, \"max\": %.1f},\n"
	       " \"counters\": {\"pub_errors\": %llu, \"ack_errors\": %llu}}\n",
	       mode, c->o.url, c->o.size, c->o.async ? c->o.max_pending : 1,
	       c->o.cpu, c->ran_on, sysconf(_SC_NPROCESSORS_ONLN), c->elapsed_s,
	       (unsigned long long)c->sent, (unsigned long long)acks, ev_s,
	       ev_s * c->o.size / 1e6, (unsigned long long)l.n, l.p50_us,
	       l.p99_us, l.p999_us, l.max_us, (unsigned long long)c->pub_errors,
	       (unsigned long long)atomic_load(&c->ack_errors));
	fprintf(stderr,
		"nats %s: %u B, %.0f events/s, latency p50 %.1f p99 "
		"%.1f p99.9 %.1f us, errors %llu (client CPU %d)\n",
		mode, c->o.size, ev_s, l.p50_us, l.p99_us, l.p999_us,
		(unsigned long long)(c->pub_errors +
				     atomic_load(&c->ack_errors)),
		c->ran_on);
}

static void
np_usage(FILE *f)
{
	fprintf(f,
		"Usage: nats_peer [options]\n"
		"Publishes S-byte events to a NATS JetStream file stream.\n"
		"  --url U          server (default nats://127.0.0.1:4222)\n"
		"  --mode sync|async  js_Publish or js_PublishAsync (default "
		"sync)\n"
		"  --size S         event bytes, 1..1048576 (default 64)\n"
		"  --seconds T      publishing time, (0, 600] (default 3)\n"
		"  --count C        at most C messages (default 1000000)\n"
		"  --max-pending P  async window, 1..1000000 (default 256)\n"
		"  --stream NAME    stream to create and delete (default "
		"EVGPEER)\n"
		"  --cpu C          pin the client (default unpinned)\n"
		"Prints one JSON object on stdout, a summary line on "
		"stderr.\n");
}

static int
np_bad(const char *opt, const char *val, const char *want)
{
	return peer_bad(PROG, opt, val, want);
}

static int
np_opt(void *arg, int opt, const char *v)
{
	struct np_opts *o = arg;
	uint64_t x;

	switch (opt) {
	case 'u':
		o->url = v;
		return 0;
	case 'm':
		if (strcmp(v, "sync") != 0 && strcmp(v, "async") != 0)
			return np_bad("--mode", v, "sync or async");
		o->async = strcmp(v, "async") == 0;
		return 0;
	case 's':
		if (peer_parse_u64(v, 1, 1 << 20, &x))
			return np_bad("--size", v, "1..1048576");
		o->size = (unsigned int)x;
		return 0;
	case 't':
		if (peer_parse_seconds(v, &o->seconds))
			return np_bad("--seconds", v, "a number in (0, 600]");
		return 0;
	case 'c':
		if (peer_parse_u64(v, 1, UINT64_MAX, &o->count))
			return np_bad("--count", v, "a number >= 1");
		return 0;
	case 'p':
		if (peer_parse_u64(v, 1, 1000000, &x))
			return np_bad("--max-pending", v, "1..1000000");
		o->max_pending = (unsigned int)x;
		return 0;
	case 'n':
		if (*v == '\0' || strpbrk(v, " .*>\t") != NULL)
			return np_bad("--stream", v,
				      "a name without spaces, '.', '*', '>'");
		o->stream = v;
		return 0;
	case 'C':
		if (peer_parse_u64(v, 0, CPU_SETSIZE - 1, &x))
			return np_bad("--cpu", v, "a CPU number");
		o->cpu = (int)x;
		return 0;
	}
	return -1;
}

/* 0: run; 1: --help printed; -1: bad options (already said why). */
static int
np_parse(int argc, char **argv, struct np_opts *o)
{
	static const struct option lo[] = {
		{"url", required_argument, NULL, 'u'},
		{"mode", required_argument, NULL, 'm'},
		{"size", required_argument, NULL, 's'},
		{"seconds", required_argument, NULL, 't'},
		{"count", required_argument, NULL, 'c'},
		{"max-pending", required_argument, NULL, 'p'},
		{"stream", required_argument, NULL, 'n'},
		{"cpu", required_argument, NULL, 'C'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};

	return peer_getopt(PROG, argc, argv, lo, np_usage, np_opt, o);
}


static void
np_close(struct np_ctx *c)
{
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

int
main(int argc, char **argv)
{
	struct np_ctx c = {
		.o = {.url = "nats://127.0.0.1:4222",
		      .stream = "EVGPEER",
		      .size = 64,
		      .count = 1000000,
		      .seconds = 3,
		      .max_pending = 256,
		      .cpu = -1},
	};
	sigset_t sigs;
	uint8_t *buf;
	int rc = np_parse(argc, argv, &c.o);

	if (rc != 0)
		return rc > 0 ? 0 : 2;
	/* before libnats starts its threads, so they inherit it */
	if (peer_pin(PROG, c.o.cpu) != 0)
		return 2;
	peer_block_signals(&sigs);
	snprintf(c.subject, sizeof(c.subject), "evgpeer.%s", c.o.stream);
	c.lat_cap = c.o.count < (1u << 24) ? c.o.count : (1u << 24);
	c.lat_ns = malloc(c.lat_cap * sizeof(uint64_t));
	buf = calloc(1, c.o.size);
	if (c.lat_ns == NULL || buf == NULL) {
		fprintf(stderr, "nats_peer: out of memory\n");
		rc = 1;
	} else if (np_connect(&c) != 0) {
		rc = 1;
	} else {
		memset(buf, 0xa5, c.o.size);
		np_publish(&c, buf, &sigs);
		np_report(&c);
		rc = c.pub_errors || atomic_load(&c.ack_errors) ? 1 : 0;
	}
	np_close(&c);
	free(buf);
	free(c.lat_ns);
	return rc;
}
