/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * evgen's own options (after "--"). Checked before the EAL starts, so
 * --help and mistakes need no hugepages and no port. Every error is one
 * line naming the option, the value and what was expected.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evgen.h"

enum {
	OPT_DST_IP = 256,
	OPT_DST_PORT,
	OPT_DST_MAC,
	OPT_SRC_IP,
	OPT_SRC_PORT,
	OPT_PRODUCERS,
	OPT_STREAMS,
	OPT_PRODUCER_BASE,
	OPT_STREAM_BASE,
	OPT_SESSION,
	OPT_BATCH,
	OPT_EVENT_SIZE,
	OPT_RATE,
	OPT_FRAME_RATE,
	OPT_DURATION,
	OPT_COUNT,
	OPT_DRAIN_MS,
	OPT_ARP_TIMEOUT_MS,
	OPT_LINK_WAIT_MS,
	OPT_DUP,
	OPT_GAP,
	OPT_STALE,
	OPT_MALFORMED,
	OPT_WINDOW,
	OPT_MTU,
	OPT_ACK_NOW,
	OPT_JSON,
	OPT_PCAP_OUT,
	OPT_SUBSCRIBE,
	OPT_SUB_STREAMS,
	OPT_SUB_FROM,
	OPT_SUB_GROUP,
	OPT_SUB_POLICY,
	OPT_SUB_CREDIT,
	OPT_SUB_COUNT,
	OPT_SUB_SRC_PORT,
	OPT_SUB_CONSUMER_BASE,
	OPT_SUB_SESSION,
	OPT_SUB_IDLE_MS,
	OPT_SUB_WAIT_MS,
	OPT_SUB_DUMP,
	OPT_SUB_DROP,
	OPT_HELP,
};

static const struct option long_opts[] = {
	{"dst-ip", required_argument, NULL, OPT_DST_IP},
	{"dst-port", required_argument, NULL, OPT_DST_PORT},
	{"dst-mac", required_argument, NULL, OPT_DST_MAC},
	{"src-ip", required_argument, NULL, OPT_SRC_IP},
	{"src-port", required_argument, NULL, OPT_SRC_PORT},
	{"producers", required_argument, NULL, OPT_PRODUCERS},
	{"streams", required_argument, NULL, OPT_STREAMS},
	{"producer-base", required_argument, NULL, OPT_PRODUCER_BASE},
	{"stream-base", required_argument, NULL, OPT_STREAM_BASE},
	{"session", required_argument, NULL, OPT_SESSION},
	{"batch", required_argument, NULL, OPT_BATCH},
	{"event-size", required_argument, NULL, OPT_EVENT_SIZE},
	{"rate", required_argument, NULL, OPT_RATE},
	{"frame-rate", required_argument, NULL, OPT_FRAME_RATE},
	{"duration", required_argument, NULL, OPT_DURATION},
	{"count", required_argument, NULL, OPT_COUNT},
	{"drain-ms", required_argument, NULL, OPT_DRAIN_MS},
	{"arp-timeout-ms", required_argument, NULL, OPT_ARP_TIMEOUT_MS},
	{"link-wait-ms", required_argument, NULL, OPT_LINK_WAIT_MS},
	{"dup-pct", required_argument, NULL, OPT_DUP},
	{"gap-pct", required_argument, NULL, OPT_GAP},
	{"stale-pct", required_argument, NULL, OPT_STALE},
	{"malformed-pct", required_argument, NULL, OPT_MALFORMED},
	{"window", required_argument, NULL, OPT_WINDOW},
	{"mtu", required_argument, NULL, OPT_MTU},
	{"ack-now", no_argument, NULL, OPT_ACK_NOW},
	{"json", no_argument, NULL, OPT_JSON},
	{"pcap-out", required_argument, NULL, OPT_PCAP_OUT},
	{"subscribe", required_argument, NULL, OPT_SUBSCRIBE},
	{"sub-streams", required_argument, NULL, OPT_SUB_STREAMS},
	{"sub-from", required_argument, NULL, OPT_SUB_FROM},
	{"sub-group", required_argument, NULL, OPT_SUB_GROUP},
	{"sub-policy", required_argument, NULL, OPT_SUB_POLICY},
	{"sub-credit", required_argument, NULL, OPT_SUB_CREDIT},
	{"sub-count", required_argument, NULL, OPT_SUB_COUNT},
	{"sub-src-port", required_argument, NULL, OPT_SUB_SRC_PORT},
	{"sub-consumer-base", required_argument, NULL, OPT_SUB_CONSUMER_BASE},
	{"sub-session", required_argument, NULL, OPT_SUB_SESSION},
	{"sub-idle-ms", required_argument, NULL, OPT_SUB_IDLE_MS},
	{"sub-wait-ms", required_argument, NULL, OPT_SUB_WAIT_MS},
	{"sub-dump", required_argument, NULL, OPT_SUB_DUMP},
	{"sub-drop-pct", required_argument, NULL, OPT_SUB_DROP},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

void
evgen_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [EAL options] -- [options]\n"
		"Sends EVF/1 DATA frames over UDP/IPv4 from the first DPDK "
		"port, reads the ACKs\nand NAKs, and prints a summary.\n\n"
		"  --dst-ip A          evgate's address (required)\n"
		"  --dst-port P        its UDP port (7470)\n"
		"  --dst-mac M         its MAC; without it, resolved by ARP\n"
		"  --src-ip A          our address (required unless "
		"--pcap-out)\n"
		"  --src-port P        UDP source port of producer 0; producer "
		"i uses P+i (40000)\n"
		"  --producers N       producers (1), ids from --producer-base "
		"(1); 0 with --subscribe\n"
		"  --streams N         streams per producer (1), ids from "
		"--stream-base (0)\n"
		"  --session S         session of every stream (default: "
		"microseconds since 1970)\n"
		"  --batch N           events per frame (16)\n"
		"  --event-size N|N-M  key+value bytes per event, fixed or "
		"uniform in a range (64)\n"
		"  --rate N            events/s over all frames (0: as fast as "
		"possible)\n"
		"  --frame-rate N      frames/s instead\n"
		"  --duration S        send for S seconds (default 5 without "
		"--count)\n"
		"  --count N           stop after N new events\n"
		"  --drain-ms MS       then wait up to MS for the last ACKs "
		"(500)\n"
		"  --dup-pct P         percent of frames that repeat the "
		"stream's previous frame\n"
		"  --gap-pct P         percent of frames sent one frame beyond "
		"the next seq\n"
		"  --stale-pct P       percent of frames with the session "
		"minus one\n"
		"  --malformed-pct P   percent of frames broken on purpose "
		"(crc, magic, runt)\n"
		"  --window N          frames in flight per stream, a power of "
		"two (64)\n"
		"  --mtu N             IP MTU, at most 9000 (jumbo; one mbuf "
		"a frame); frames\n"
		"                      never exceed it (1500)\n"
		"  --ack-now           set ACK_NOW on every DATA frame\n"
		"  --arp-timeout-ms MS give up ARP after MS (3000)\n"
		"  --link-wait-ms MS   wait for the link after start (5000)\n"
		"  --pcap-out FILE     write the frames to FILE instead of a "
		"port (no ACKs)\n"
		"  --json              print the summary as one JSON object\n"
		"Subscribing (also with --producers 0: a consumer only):\n"
		"  --subscribe N       N subscriptions to evgate's log, each "
		"its own consumer id\n"
		"  --sub-streams LIST  their streams, e.g. 0,2-3, at most 16 "
		"(the producers')\n"
		"  --sub-from W        oldest or end (oldest)\n"
		"  --sub-group NAME    one consumer group of them all\n"
		"  --sub-policy P      round-robin, random, weighted, "
		"least-outstanding, key-hash\n"
		"  --sub-credit N      events each may have unprocessed "
		"(4096)\n"
		"  --sub-count N       done once N events arrived in all\n"
		"  --sub-src-port P    UDP port of subscription 0; i uses P+i "
		"(50000)\n"
		"  --sub-consumer-base ID  consumer id of subscription 0 "
		"(1000)\n"
		"  --sub-session S     their session (--session's)\n"
		"  --sub-idle-ms MS    without --sub-count: done after MS "
		"silent (200)\n"
		"  --sub-wait-ms MS    handshakes before sending: at most MS "
		"(3000)\n"
		"  --sub-dump FILE     one line per event received (slow; for "
		"tests)\n"
		"  --sub-drop-pct P    percent of DELIVER frames dropped on "
		"purpose (NAK repair)\n"
		"  --help              this text\n",
		prog);
}

static int
bad(const char *prog, const char *opt, const char *val, const char *want)
{
	fprintf(stderr, "%s: --%s %s: %s\n", prog, opt, val, want);
	return EVGEN_EXIT_CONFIG;
}

static int
parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s[0] == '-' || s[0] == '\0')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static int
parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < lo ||
	    v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static int
parse_size(const char *s, uint32_t *lo, uint32_t *hi)
{
	uint64_t a, b;
	char buf[64];
	char *dash;

	snprintf(buf, sizeof(buf), "%s", s);
	dash = strchr(buf, '-');
	if (dash != NULL)
		*dash = '\0';
	if (parse_u64(buf, 0, EVG_EVF_MAX_FRAME, &a) < 0)
		return -EINVAL;
	b = a;
	if (dash != NULL && parse_u64(dash + 1, a, EVG_EVF_MAX_FRAME, &b) < 0)
		return -EINVAL;
	*lo = (uint32_t)a;
	*hi = (uint32_t)b;
	return 0;
}

static void
defaults(struct evgen_opts *o)
{
	struct timespec ts;

	memset(o, 0, sizeof(*o));
	clock_gettime(CLOCK_REALTIME, &ts);
	o->dst_port = EVG_EVF_UDP_PORT;
	o->src_port = 40000;
	o->producers = 1;
	o->streams = 1;
	o->producer_base = 1;
	o->session = (uint64_t)ts.tv_sec * 1000000u + ts.tv_nsec / 1000;
	o->batch = 16;
	o->size_min = o->size_max = 64;
	o->drain_ms = 500;
	o->arp_timeout_ms = 3000;
	o->link_wait_ms = 5000;
	o->window = 64;
	o->mtu = 1500;
	o->sub.src_port = 50000;
	o->sub.consumer_base = 1000;
	o->sub.start = EVG_EVF_SUB_OLDEST;
	o->sub.credit = 4096;
	o->sub.idle_ms = 200;
	o->sub.wait_ms = 3000;
}

/* "0,2-3": distinct stream ids, at most EVG_EVF_SUB_MAX_STREAMS. */
static int
parse_streams(const char *v, struct evgen_sub_opts *so)
{
	char buf[256];
	char *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", v);
	so->nb_streams = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		char *dash = strchr(tok, '-');
		uint64_t a, b;

		if (dash != NULL)
			*dash = '\0';
		if (parse_u64(tok, 0, UINT32_MAX, &a) < 0)
			return -EINVAL;
		b = a;
		if (dash != NULL && parse_u64(dash + 1, a, UINT32_MAX, &b) < 0)
			return -EINVAL;
		for (uint64_t id = a; id <= b; id++) {
			for (uint8_t i = 0; i < so->nb_streams; i++)
				if (so->streams[i] == id)
					return -EINVAL;
			if (so->nb_streams == EVG_EVF_SUB_MAX_STREAMS)
				return -E2BIG;
			so->streams[so->nb_streams++] = (uint32_t)id;
		}
	}
	return so->nb_streams > 0 ? 0 : -EINVAL;
}

/* The --sub-* options that take a word; 1 when not one of them. */
static int
opt_sub(struct evgen_opts *o, const char *prog, int c, const char *v)
{
	int rc;

	switch (c) {
	case OPT_SUB_STREAMS:
		if (parse_streams(v, &o->sub) < 0)
			return bad(prog, "sub-streams", v,
				   "expected 1 to 16 distinct stream ids "
				   "like 0,2-3");
		return 0;
	case OPT_SUB_FROM:
		if (strcmp(v, "oldest") != 0 && strcmp(v, "end") != 0)
			return bad(prog, "sub-from", v,
				   "expected oldest or end");
		o->sub.start = strcmp(v, "end") == 0 ? EVG_EVF_SUB_END
						     : EVG_EVF_SUB_OLDEST;
		return 0;
	case OPT_SUB_GROUP:
		if (!evg_evf_sub_group_valid(v))
			return bad(prog, "sub-group", v,
				   "expected 1 to 31 of A-Z a-z 0-9 . _ -");
		snprintf(o->sub.group, sizeof(o->sub.group), "%s", v);
		return 0;
	case OPT_SUB_POLICY:
		rc = evg_evf_sub_policy_from_name(v);
		if (rc < 0)
			return bad(prog, "sub-policy", v,
				   "expected round-robin, random, weighted, "
				   "least-outstanding or key-hash");
		o->sub.policy = (uint8_t)rc;
		return 0;
	case OPT_SUB_DUMP:
		o->sub.dump = v;
		return 0;
	case OPT_SUB_DROP:
		if (parse_double(v, 0.0, 50.0, &o->sub.drop_pct) < 0)
			return bad(prog, "sub-drop-pct", v,
				   "expected a percentage from 0 to 50");
		return 0;
	}
	return 1;
}

/* Options that take an address, a name or nothing; 1 when not one of
 * them. */
static int
opt_other(struct evgen_opts *o, const char *prog, int c, const char *v)
{
	const char *name = long_opts[0].name;

	for (const struct option *lo = long_opts; lo->name != NULL; lo++)
		if (lo->val == c)
			name = lo->name;
	switch (c) {
	case OPT_DST_IP:
	case OPT_SRC_IP:
		if (inet_pton(AF_INET, v,
			      c == OPT_DST_IP ? &o->dst_ip : &o->src_ip) != 1)
			return bad(prog, name, v, "expected an IPv4 address");
		return 0;
	case OPT_DST_MAC:
		if (rte_ether_unformat_addr(v, &o->dst_mac) < 0)
			return bad(prog, name, v,
				   "expected a MAC address like "
				   "02:00:00:00:00:01");
		o->have_dst_mac = true;
		return 0;
	case OPT_EVENT_SIZE:
		if (parse_size(v, &o->size_min, &o->size_max) < 0)
			return bad(prog, name, v,
				   "expected N or N-M bytes, N <= M <= 65507");
		return 0;
	case OPT_PCAP_OUT:
		o->pcap_out = v;
		return 0;
	case OPT_ACK_NOW:
		o->ack_now = true;
		return 0;
	case OPT_JSON:
		o->json = true;
		return 0;
	}
	return 1;
}

static int
opt_num(struct evgen_opts *o, const char *prog, int c, const char *v)
{
	static const char want[] = "expected a whole number in range";
	uint64_t n = 0;
	double d;
	int rc = 0;

	switch (c) {
	case OPT_DUP:
	case OPT_GAP:
	case OPT_STALE:
	case OPT_MALFORMED:
		if (parse_double(v, 0.0, 100.0, &d) < 0)
			return bad(prog, long_opts[c - OPT_DST_IP].name, v,
				   "expected a percentage from 0 to 100");
		o->pct[EVGEN_KIND_DUP + (c - OPT_DUP)] = d;
		return 0;
	case OPT_DURATION:
		if (parse_double(v, 0.0, 1e7, &o->duration_s) < 0)
			return bad(prog, "duration", v,
				   "expected seconds, 0 to 1e7");
		return 0;
	}
#define NUM_(id, lo, hi, field)                     \
	case id:                                    \
		rc = parse_u64(v, lo, hi, &n);      \
		o->field = (__typeof__(o->field))n; \
		break;
	switch (c) {
		NUM_(OPT_DST_PORT, 1, UINT16_MAX, dst_port)
		NUM_(OPT_SRC_PORT, 1, UINT16_MAX, src_port)
		NUM_(OPT_PRODUCERS, 0, 65536, producers)
		NUM_(OPT_STREAMS, 1, 65536, streams)
		NUM_(OPT_PRODUCER_BASE, 1, UINT32_MAX, producer_base)
		NUM_(OPT_STREAM_BASE, 0, UINT32_MAX, stream_base)
		NUM_(OPT_SESSION, 1, UINT64_MAX, session)
		NUM_(OPT_BATCH, 1, EVG_EVF_MAX_COUNT, batch)
		NUM_(OPT_RATE, 0, UINT64_MAX / 2, rate)
		NUM_(OPT_COUNT, 0, UINT64_MAX / 2, count)
		NUM_(OPT_DRAIN_MS, 0, 3600000, drain_ms)
		NUM_(OPT_ARP_TIMEOUT_MS, 1, 3600000, arp_timeout_ms)
		NUM_(OPT_LINK_WAIT_MS, 0, 3600000, link_wait_ms)
		NUM_(OPT_WINDOW, 1, 65536, window)
		NUM_(OPT_MTU, 128, EVGEN_MAX_MTU, mtu)
		NUM_(OPT_SUBSCRIBE, 0, EVGEN_SUB_MAX, sub.n)
		NUM_(OPT_SUB_CREDIT, 1, 16777216, sub.credit)
		NUM_(OPT_SUB_COUNT, 0, UINT64_MAX / 2, sub.count)
		NUM_(OPT_SUB_SRC_PORT, 1, UINT16_MAX, sub.src_port)
		NUM_(OPT_SUB_CONSUMER_BASE, 1, UINT32_MAX, sub.consumer_base)
		NUM_(OPT_SUB_SESSION, 1, UINT64_MAX, sub.session)
		NUM_(OPT_SUB_IDLE_MS, 0, 3600000, sub.idle_ms)
		NUM_(OPT_SUB_WAIT_MS, 0, 3600000, sub.wait_ms)
	case OPT_FRAME_RATE:
		rc = parse_u64(v, 0, UINT64_MAX / 2, &o->rate);
		o->rate_frames = true;
		break;
	default:
		return 1;
	}
#undef NUM_
	if (rc < 0)
		return bad(prog, long_opts[c - OPT_DST_IP].name, v, want);
	return 0;
}

/* What the --sub-* options say with the others; -1 when they agree. */
static int
check_sub(struct evgen_opts *o, const char *prog)
{
	struct evgen_sub_opts *so = &o->sub;
	uint64_t lo = so->src_port, hi = lo + so->n;
	char v[32];

	snprintf(v, sizeof(v), "%u", so->n);
	if (so->n == 0 && o->producers == 0)
		return bad(prog, "producers", "0",
			   "needs --subscribe (a subscriber only)");
	if (so->n == 0)
		return -1;
	if (o->pcap_out != NULL)
		return bad(prog, "subscribe", v,
			   "not with --pcap-out (no replies come)");
	if (hi - 1 > UINT16_MAX)
		return bad(prog, "subscribe", v,
			   "their source ports (--sub-src-port + i) pass "
			   "65535");
	if (o->producers > 0 && lo < (uint64_t)o->src_port + o->producers &&
	    o->src_port < hi)
		return bad(prog, "subscribe", v,
			   "their source ports (--sub-src-port + i) overlap "
			   "the producers' (--src-port + i)");
	if ((uint64_t)so->consumer_base + so->n - 1 > UINT32_MAX)
		return bad(prog, "subscribe", v,
			   "their consumer ids (--sub-consumer-base + i) "
			   "pass 4294967295");
	if (so->nb_streams == 0 && o->streams > EVG_EVF_SUB_MAX_STREAMS)
		return bad(prog, "subscribe", v,
			   "more than 16 producer streams: give "
			   "--sub-streams");
	for (uint32_t i = 0; so->nb_streams == 0 && i < o->streams; i++)
		so->streams[i] = o->stream_base + i;
	if (so->nb_streams == 0)
		so->nb_streams = (uint8_t)o->streams;
	return -1;
}

/* What the options say together. */
static int
check(struct evgen_opts *o, const char *prog)
{
	uint64_t frame =
		EVG_EVF_HDR_LEN + o->batch * evg_evf_record_len(o->size_max);
	char v[32];

	if (o->dst_ip == 0) {
		fprintf(stderr, "%s: --dst-ip: required\n", prog);
		return EVGEN_EXIT_CONFIG;
	}
	if (o->src_ip == 0 && o->pcap_out == NULL) {
		fprintf(stderr,
			"%s: --src-ip: required (except with "
			"--pcap-out)\n",
			prog);
		return EVGEN_EXIT_CONFIG;
	}
	snprintf(v, sizeof(v), "%u", o->window);
	if ((o->window & (o->window - 1)) != 0)
		return bad(prog, "window", v, "expected a power of two");
	snprintf(v, sizeof(v), "%u", o->producers);
	if ((uint64_t)o->src_port + o->producers - 1 > UINT16_MAX)
		return bad(prog, "producers", v,
			   "their source ports (--src-port + i) pass 65535");
	if ((uint64_t)o->producers * o->streams > EVGEN_MAX_STREAMS)
		return bad(prog, "producers", v,
			   "times --streams: more than 1048576 streams");
	if (o->pct[EVGEN_KIND_DUP] + o->pct[EVGEN_KIND_GAP] +
		    o->pct[EVGEN_KIND_STALE] + o->pct[EVGEN_KIND_MALFORMED] >
	    100.0) {
		fprintf(stderr,
			"%s: --dup-pct + --gap-pct + --stale-pct + "
			"--malformed-pct: above 100\n",
			prog);
		return EVGEN_EXIT_CONFIG;
	}
	if (frame + 28u > o->mtu) {
		uint64_t fit = (o->mtu - 28u - EVG_EVF_HDR_LEN) /
			       evg_evf_record_len(o->size_max);

		snprintf(v, sizeof(v), "%u", o->batch);
		fprintf(stderr,
			"%s: --batch %s: frames of %" PRIu64
			" bytes with events of %u bytes exceed --mtu %u "
			"(at most %" PRIu64 " events fit)\n",
			prog, v, frame, o->size_max, o->mtu, fit);
		return EVGEN_EXIT_CONFIG;
	}
	if (o->duration_s == 0.0 && o->producers == 0)
		o->duration_s = o->sub.count != 0 ? 60.0 : 5.0;
	else if (o->duration_s == 0.0 && o->count == 0)
		o->duration_s = 5.0;
	return check_sub(o, prog);
}

int
evgen_options_parse(struct evgen_opts *o, const char *prog, int argc,
		    char **argv)
{
	int c, rc;

	defaults(o);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		if (c == 'h' || c == OPT_HELP) {
			evgen_usage(stdout, prog);
			return 0;
		}
		if (c == '?' || c == ':') {
			fprintf(stderr,
				"%s: %s: unknown option or missing "
				"value (see --help)\n",
				prog, argv[optind - 1]);
			return EVGEN_EXIT_CONFIG;
		}
		rc = opt_other(o, prog, c, optarg);
		if (rc == 1)
			rc = opt_sub(o, prog, c, optarg);
		if (rc == 1)
			rc = opt_num(o, prog, c, optarg);
		if (rc != 0)
			return rc;
	}
	if (optind < argc) {
		fprintf(stderr, "%s: %s: unexpected argument (see --help)\n",
			prog, argv[optind]);
		return EVGEN_EXIT_CONFIG;
	}
	return check(o, prog);
}
