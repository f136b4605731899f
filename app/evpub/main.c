/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * evpub: send events to evgate over UDP with libevclient, wait for every
 * ACK, report the rate and the ACK latency. docs/evclient.md.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evpub.h"

static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
	got_signal = sig;
}

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: evpub --server ADDR[:PORT] --producer ID [options]\n"
		"Send events to evgate (EVF/1 over UDP) and wait for their "
		"ACKs.\n"
		"Events come from stdin, one per line (\"key<TAB>value\" or "
		"just a\n"
		"value), from --file, or are generated with --count.\n"
		"\n"
		"  --server ADDR[:PORT]  the appliance (port 7470 by default)\n"
		"  --producer ID         producer id, 1..4294967295\n"
		"  --stream ID           stream id (default 0)\n"
		"  --file PATH           read events from PATH instead of "
		"stdin\n"
		"  --count N             generate N events instead of reading\n"
		"  --size B              value bytes of a generated event "
		"(default 64)\n"
		"  --rate R              generated events per second (default "
		"0: as\n"
		"                        fast as the window allows)\n"
		"  --timeout S           seconds to wait for room in the "
		"window and,\n"
		"                        at the end, for the last ACK (default "
		"10)\n"
		"  --ack-timeout MS      an event ACKed later than MS after "
		"its frame\n"
		"                        was sent counts as not acknowledged "
		"in time\n"
		"                        (default 0: no limit)\n"
		"  --mtu BYTES           path MTU to fill frames to (default: "
		"the\n"
		"                        route's, IP_MTU; frames are MTU - 28 "
		"bytes)\n"
		"  --session N           session (default: CLOCK_REALTIME in "
		"ns)\n"
		"  --window N            unacknowledged events at most "
		"(default 65536)\n"
		"  --linger-us US        hold a part-filled frame up to US "
		"(default 0)\n"
		"  --json                also print the summary as one JSON "
		"line\n"
		"  -h, --help            this text\n"
		"\n"
		"Exit status: 0 when every event was acknowledged in time, 1 "
		"when\n"
		"not (or on an error), 2 for a usage error.\n");
}

static int
bad(const char *opt, const char *val, const char *want)
{
	fprintf(stderr, "evpub: %s '%s': expected %s\n", opt, val, want);
	return -EINVAL;
}

static int
parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max,
	  uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min ||
	    v > max) {
		char want[80];

		snprintf(want, sizeof(want), "an integer in %llu..%llu",
			 (unsigned long long)min, (unsigned long long)max);
		return bad(opt, s, want);
	}
	*out = v;
	return 0;
}

static int
parse_double(const char *opt, const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || !isfinite(v) || v < 0)
		return bad(opt, s, "a number >= 0");
	*out = v;
	return 0;
}

static const struct option longopts[] = {
	{"server", required_argument, NULL, 's'},
	{"producer", required_argument, NULL, 'p'},
	{"stream", required_argument, NULL, 'S'},
	{"file", required_argument, NULL, 'f'},
	{"count", required_argument, NULL, 'n'},
	{"size", required_argument, NULL, 'b'},
	{"rate", required_argument, NULL, 'r'},
	{"timeout", required_argument, NULL, 't'},
	{"ack-timeout", required_argument, NULL, 'a'},
	{"mtu", required_argument, NULL, 'm'},
	{"session", required_argument, NULL, 'e'},
	{"window", required_argument, NULL, 'w'},
	{"linger-us", required_argument, NULL, 'l'},
	{"json", no_argument, NULL, 'j'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int
parse_one(int ch, const char *arg, struct evpub_opts *o)
{
	uint64_t v = 0;
	int rc = 0;

	switch (ch) {
	case 's':
		o->server = arg;
		return 0;
	case 'f':
		o->file = arg;
		return 0;
	case 'j':
		o->json = true;
		return 0;
	case 'r':
		return parse_double("--rate", arg, &o->rate);
	case 't':
		return parse_double("--timeout", arg, &o->timeout_s);
	case 'a':
		return parse_double("--ack-timeout", arg, &o->ack_timeout_ms);
	case 'p':
		rc = parse_u64("--producer", arg, 1, UINT32_MAX, &v);
		o->producer = (uint32_t)v;
		break;
	case 'S':
		rc = parse_u64("--stream", arg, 0, UINT32_MAX, &v);
		o->stream = (uint32_t)v;
		break;
	case 'n':
		rc = parse_u64("--count", arg, 1, UINT64_MAX, &o->count);
		break;
	case 'b':
		rc = parse_u64("--size", arg, 0, 65507, &v);
		o->size = (uint32_t)v;
		break;
	case 'm':
		rc = parse_u64("--mtu", arg, 92, 65535, &v);
		o->mtu = (uint32_t)v;
		break;
	case 'e':
		rc = parse_u64("--session", arg, 1, UINT64_MAX, &o->session);
		break;
	case 'w':
		rc = parse_u64("--window", arg, 1, UINT32_MAX, &v);
		o->window = (uint32_t)v;
		break;
	case 'l':
		rc = parse_u64("--linger-us", arg, 0, 10000000, &v);
		o->linger_us = (uint32_t)v;
		break;
	default:
		return -EINVAL;
	}
	return rc;
}

/* 0, 1 for --help, -EINVAL after printing the problem. */
int
evpub_parse(int argc, char **argv, struct evpub_opts *o)
{
	int ch;

	*o = (struct evpub_opts){.size = 64, .timeout_s = 10, .window = 65536};
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (ch == 'h') {
			usage(stdout);
			return 1;
		}
		if (ch == '?' || ch == ':') {
			fprintf(stderr, "evpub: %s '%s' (see --help)\n",
				ch == '?' ? "unknown option"
					  : "missing value for",
				argv[optind - 1]);
			return -EINVAL;
		}
		if (parse_one(ch, optarg, o) < 0)
			return -EINVAL;
	}
	if (optind < argc) {
		fprintf(stderr,
			"evpub: unexpected argument '%s' (see --help)\n",
			argv[optind]);
		return -EINVAL;
	}
	if (o->server == NULL || o->producer == 0) {
		fprintf(stderr, "evpub: --server and --producer are required "
				"(see --help)\n");
		return -EINVAL;
	}
	if (o->count > 0 && o->file != NULL) {
		fprintf(stderr,
			"evpub: --count and --file exclude each other\n");
		return -EINVAL;
	}
	return 0;
}

static int
open_client(struct evpub *p)
{
	struct evg_client_opts co;
	int rc;

	evg_client_opts_init(&co);
	co.session = p->o.session;
	co.max_payload = p->o.mtu != 0 ? p->o.mtu - 28 : 0;
	co.window_events = p->o.window;
	co.linger_us = p->o.linger_us;
	co.on_ack = evpub_lat_add;
	co.on_ack_arg = &p->lat;
	p->lat.late_ns = (uint64_t)(p->o.ack_timeout_ms * 1e6);
	rc = evg_client_open(&p->c, p->o.producer, p->o.stream, p->o.server,
			     &co);
	if (rc < 0)
		fprintf(stderr, "evpub: --server '%s': %s\n", p->o.server,
			rc == -EINVAL
				? "expected IPv4-ADDRESS[:PORT] or HOST[:PORT]"
				: strerror(-rc));
	return rc;
}

static void
set_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};

	sigemptyset(&sa.sa_mask); /* no SA_RESTART: waits return -EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* After the input: wait for the outstanding ACKs; a signal during this
 * wait cuts it short (-EINTR). */
static int
final_flush(struct evpub *p)
{
	return evg_client_flush(p->c, (int)(p->o.timeout_s * 1000.0));
}

int
main(int argc, char **argv)
{
	struct evpub p = {.stop = &got_signal};
	bool interrupted, all;
	int rc;

	rc = evpub_parse(argc, argv, &p.o);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	if (open_client(&p) < 0)
		return 1;
	set_signals();
	p.t0 = evg_client_now_ns();
	rc = p.o.count > 0 ? evpub_run_generated(&p) : evpub_run_lines(&p);
	interrupted = got_signal != 0 || rc == -EINTR;
	got_signal = 0;
	rc = final_flush(&p);
	if (rc < 0 && rc != -ETIMEDOUT && rc != -EINTR)
		fprintf(stderr, "evpub: %s\n",
			*evg_client_errmsg(p.c) ? evg_client_errmsg(p.c)
						: strerror(-rc));
	else if (rc == -ETIMEDOUT)
		fprintf(stderr,
			"evpub: %llu of %llu events not acknowledged within "
			"%gs\n",
			(unsigned long long)evg_client_unacked(p.c),
			(unsigned long long)p.sent, p.o.timeout_s);
	p.t_end = evg_client_now_ns();
	all = p.err == 0 && evg_client_unacked(p.c) == 0 && p.lat.late == 0 &&
	      p.lat.events == p.sent && !p.lat.oom;
	evpub_report(&p, all, interrupted);
	evg_client_close(p.c);
	evpub_lat_free(&p.lat);
	free(p.in.buf);
	return all ? 0 : 1;
}
