/* SPDX-License-Identifier: BSD-3-Clause */
/* evsub's command line: one-line errors naming the option and the value. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evg_text.h"
#include "evsub.h"

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: evsub --server ADDR[:PORT] [options]\n"
		"Subscribe to streams of evgate and print their events.\n"
		"\n"
		"  --server ADDR[:PORT]  the appliance (port 7470 by default)\n"
		"  --consumer ID         consumer id, 1..4294967295 (default: "
		"the pid)\n"
		"  --stream N            a stream to read; repeat for up to 16 "
		"(default 0)\n"
		"  --from OFFSET         start at OFFSET in every stream\n"
		"  --from oldest         start at the oldest event in the log\n"
		"  --from-time TIME      start at the first event with a "
		"timestamp at or\n"
		"                        after TIME: ns since the epoch, or "
		"UTC like\n"
		"                        2026-11-23T10:00:00Z or "
		"...T10:00:00.250Z\n"
		"  --from-end            start with the next event appended "
		"(default)\n"
		"  --group NAME          join consumer group NAME (1..31 of "
		"A-Z a-z 0-9 . _ -)\n"
		"  --policy P            the group's policy: round-robin, "
		"random, weighted,\n"
		"                        least-outstanding, key-hash (default: "
		"the group's)\n"
		"  --weight N            weight for the weighted policy, "
		"1..1000 (default 1)\n"
		"  --credit N            events evgate may send beyond those "
		"processed\n"
		"                        (default 4096)\n"
		"  --credit-bytes N      bytes likewise; 4294967295: no limit "
		"(default 4194304)\n"
		"  --count N             exit after N events\n"
		"  --timeout S           run at most S seconds in all "
		"(default: "
		"no limit)\n"
		"  --idle S              exit after S seconds without an event "
		"(default: never)\n"
		"  --commit-every N      commit the group's progress every N "
		"events (default:\n"
		"                        every second and at exit)\n"
		"  --json                one JSON object per event, and a JSON "
		"summary line\n"
		"  --quiet               no event lines\n"
		"  -h, --help            this text\n"
		"\n"
		"The summary goes to stderr (and with --json also to stdout). "
		"SIGINT and\n"
		"SIGTERM stop, commit (group), unsubscribe and print it.\n"
		"Exit status: 0 normally; 1 when --count events did not come "
		"within\n"
		"--timeout, when not subscribed within --timeout, or on an "
		"error (refused,\n"
		"fenced, policy); 2 for a usage error.\n");
}

static int
bad(const char *opt, const char *val, const char *want)
{
	fprintf(stderr, "evsub: %s '%s': expected %s\n", opt, val, want);
	return -EINVAL;
}

static int
parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max,
	  uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] < '0' ||
	    s[0] > '9' || v < min || v > max) {
		char want[80];

		snprintf(want, sizeof(want), "an integer in %llu..%llu",
			 (unsigned long long)min, (unsigned long long)max);
		return bad(opt, s, want);
	}
	*out = v;
	return 0;
}

static int
parse_seconds(const char *opt, const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || !isfinite(v) || v <= 0 || v > 1e9)
		return bad(opt, s, "a number of seconds > 0");
	*out = v;
	return 0;
}

enum {
	OPT_FROM = 256,
	OPT_FROM_TIME,
	OPT_FROM_END,
	OPT_CREDIT_BYTES,
	OPT_COMMIT_EVERY,
};

static const struct option longopts[] = {
	{"server", required_argument, NULL, 's'},
	{"consumer", required_argument, NULL, 'c'},
	{"stream", required_argument, NULL, 'S'},
	{"from", required_argument, NULL, OPT_FROM},
	{"from-time", required_argument, NULL, OPT_FROM_TIME},
	{"from-end", no_argument, NULL, OPT_FROM_END},
	{"group", required_argument, NULL, 'g'},
	{"policy", required_argument, NULL, 'p'},
	{"weight", required_argument, NULL, 'w'},
	{"credit", required_argument, NULL, 'C'},
	{"credit-bytes", required_argument, NULL, OPT_CREDIT_BYTES},
	{"count", required_argument, NULL, 'n'},
	{"timeout", required_argument, NULL, 't'},
	{"idle", required_argument, NULL, 'i'},
	{"commit-every", required_argument, NULL, OPT_COMMIT_EVERY},
	{"json", no_argument, NULL, 'j'},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int
add_stream(struct evsub_opts *o, const char *arg)
{
	uint64_t v;

	if (parse_u64("--stream", arg, 0, UINT32_MAX, &v) < 0)
		return -EINVAL;
	if (o->nb_streams == EVSUB_MAX_STREAMS)
		return bad("--stream", arg, "at most 16 streams");
	for (unsigned int i = 0; i < o->nb_streams; i++)
		if (o->streams[i].stream_id == v)
			return bad("--stream", arg, "each stream once");
	o->streams[o->nb_streams++].stream_id = (uint32_t)v;
	return 0;
}

/* --from, --from-time, --from-end: one of them. */
static int
set_start(struct evsub_opts *o, int ch, const char *arg, bool *seen)
{
	static const char *const names[] = {"--from", "--from-time",
					    "--from-end"};
	const char *name = names[ch - OPT_FROM];

	if (*seen) {
		fprintf(stderr,
			"evsub: %s: give one of --from, --from-time "
			"and --from-end\n",
			name);
		return -EINVAL;
	}
	*seen = true;
	if (ch == OPT_FROM_END) {
		o->start = EVG_CONSUMER_END;
		return 0;
	}
	if (ch == OPT_FROM_TIME) {
		o->start = EVG_CONSUMER_TIME;
		if (evg_text_parse_time(arg, &o->from) < 0)
			return bad(name, arg,
				   "ns since the epoch or a UTC time like "
				   "2026-11-23T10:00:00Z");
		return 0;
	}
	if (strcmp(arg, "oldest") == 0) {
		o->start = EVG_CONSUMER_OLDEST;
		return 0;
	}
	o->start = EVG_CONSUMER_OFFSET;
	if (arg[0] < '0' || arg[0] > '9')
		return bad(name, arg, "an offset or 'oldest'");
	return parse_u64(name, arg, 0, UINT64_MAX, &o->from);
}

static int
parse_u32(const char *opt, const char *arg, uint64_t min, uint32_t *out)
{
	uint64_t v;

	if (parse_u64(opt, arg, min, UINT32_MAX, &v) < 0)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int
parse_one(int ch, const char *arg, struct evsub_opts *o, bool *start_seen)
{
	uint64_t v;

	switch (ch) {
	case 's':
		o->server = arg;
		return 0;
	case 'c':
		return parse_u32("--consumer", arg, 1, &o->consumer);
	case 'S':
		return add_stream(o, arg);
	case OPT_FROM:
	case OPT_FROM_TIME:
	case OPT_FROM_END:
		return set_start(o, ch, arg, start_seen);
	case 'g':
		o->group = arg;
		return 0;
	case 'p':
		o->policy = evg_consumer_policy_from_name(arg);
		if (o->policy < 0)
			return bad("--policy", arg,
				   "round-robin, random, weighted, "
				   "least-outstanding or key-hash");
		return 0;
	case 'w':
		if (parse_u64("--weight", arg, 1, 1000, &v) < 0)
			return -EINVAL;
		o->weight = (uint16_t)v;
		return 0;
	case 'C':
		return parse_u32("--credit", arg, 1, &o->credit_events);
	case OPT_CREDIT_BYTES:
		return parse_u32("--credit-bytes", arg, 1, &o->credit_bytes);
	case 'n':
		return parse_u64("--count", arg, 1, UINT64_MAX, &o->count);
	case 't':
		return parse_seconds("--timeout", arg, &o->timeout_s);
	case 'i':
		return parse_seconds("--idle", arg, &o->idle_s);
	case OPT_COMMIT_EVERY:
		return parse_u64("--commit-every", arg, 1, UINT64_MAX,
				 &o->commit_every);
	case 'j':
		o->json = true;
		return 0;
	case 'q':
		o->quiet = true;
		return 0;
	default:
		return -EINVAL;
	}
}

/* 1..31 of [A-Za-z0-9._-], as the protocol has it (the codec is inside
 * libevclient, not exported). */
static bool
group_ok(const char *g)
{
	size_t n = strlen(g);

	if (n == 0 || n > 31)
		return false;
	return strspn(g, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789._-") == n;
}

/* What the options say about each other. */
static int
check(struct evsub_opts *o)
{
	if (o->server == NULL) {
		fprintf(stderr, "evsub: --server is required (see --help)\n");
		return -EINVAL;
	}
	if (o->group != NULL && !group_ok(o->group))
		return bad("--group", o->group, "1..31 of A-Z a-z 0-9 . _ -");
	if (o->group == NULL && (o->policy != 0 || o->commit_every != 0)) {
		fprintf(stderr, "evsub: --%s needs --group\n",
			o->policy != 0 ? "policy" : "commit-every");
		return -EINVAL;
	}
	if (o->nb_streams == 0)
		o->nb_streams = 1; /* stream 0 */
	for (unsigned int i = 0; i < o->nb_streams; i++)
		o->streams[i].offset = o->from;
	return 0;
}

int
evsub_parse(int argc, char **argv, struct evsub_opts *o)
{
	bool start_seen = false;
	int ch;

	*o = (struct evsub_opts){
		.consumer = (uint32_t)getpid(), /* never 0 */
		.start = EVG_CONSUMER_END,
		.weight = 1,
		.credit_events = 4096,
		.credit_bytes = 4u << 20,
	};
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (ch == 'h') {
			usage(stdout);
			return 1;
		}
		if (ch == '?' || ch == ':') {
			fprintf(stderr, "evsub: %s '%s' (see --help)\n",
				ch == '?' ? "unknown option"
					  : "missing value for",
				argv[optind - 1]);
			return -EINVAL;
		}
		if (parse_one(ch, optarg, o, &start_seen) < 0)
			return -EINVAL;
	}
	if (optind < argc) {
		fprintf(stderr,
			"evsub: unexpected argument '%s' (see --help)\n",
			argv[optind]);
		return -EINVAL;
	}
	return check(o);
}
