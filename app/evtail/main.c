/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * evtail: read evgate's journal (lib/journal) from the log directory.
 *
 * Plain POSIX reads through the journal's reader API: no EAL, no store
 * backend, nothing written, so it runs beside a writing evgate. Without
 * --follow it prints what is there and exits; with --follow it polls
 * every partition round-robin, a bounded burst each, and sleeps 50 ms
 * when none had anything new. --verify is in verify.c, the printers in
 * format.c.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evg_signal.h"
#include "evg_version.h"
#include "evg_text.h"
#include "evtail.h"

#define POLL_NS (50 * 1000 * 1000)
/* With --follow, records read from one partition before the next. */
#define FOLLOW_BURST 1024u

/* The only state a signal handler can reach. */
static volatile sig_atomic_t got_signal;

struct tail {
	const struct evtail_opts *o;
	uint32_t n;		       /* partitions read */
	uint32_t *part;		       /* their numbers */
	struct evg_journal_reader **r; /* their readers */
	uint64_t *next;		       /* offset after the last read */
	uint64_t printed;
};

enum {
	OPT_FROM = 256,
	OPT_FROM_TIME,
	OPT_FROM_END,
	OPT_STREAM,
	OPT_PRODUCER,
	OPT_JSON,
	OPT_VERIFY,
};

static const struct option long_opts[] = {
	{"partition", required_argument, NULL, 'p'},
	{"from", required_argument, NULL, OPT_FROM},
	{"from-time", required_argument, NULL, OPT_FROM_TIME},
	{"from-end", no_argument, NULL, OPT_FROM_END},
	{"follow", no_argument, NULL, 'f'},
	{"stream", required_argument, NULL, OPT_STREAM},
	{"producer", required_argument, NULL, OPT_PRODUCER},
	{"count", required_argument, NULL, 'n'},
	{"json", no_argument, NULL, OPT_JSON},
	{"verify", no_argument, NULL, OPT_VERIFY},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static void
usage(void)
{
	printf("Usage: evtail [options] DIR\n"
	       "       evtail --verify [--json] [--partition N] DIR\n"
	       "Print the records of evgate's journal in the log directory "
	       "DIR.\nReads only: runs while evgate writes, needs no EAL.\n"
	       "\n"
	       "  -p, --partition N   read partition N only (default: all\n"
	       "                      partitions, one after another; with\n"
	       "                      --follow, polled round-robin)\n"
	       "      --from OFFSET   start at record offset OFFSET (in each\n"
	       "                      partition read)\n"
	       "      --from-time T   start at time T: ns since the epoch, or\n"
	       "                      ISO-8601 UTC like 2026-11-23T10:00:00Z\n"
	       "      --from-end      start after the last record\n"
	       "  -f, --follow        keep reading as the log grows (polls\n"
	       "                      every 50 ms; SIGINT/SIGTERM exit 0)\n"
	       "      --stream ID     only records of stream ID\n"
	       "      --producer ID   only records of producer ID\n"
	       "  -n, --count N       stop after N records printed\n"
	       "      --json          one JSON object a line (key_b64 and\n"
	       "                      value_b64: base64 with padding)\n"
	       "      --verify        check every batch CRC and every\n"
	       "                      (producer, stream) seq sequence; go on\n"
	       "                      past a corrupt segment; print a summary\n"
	       "                      per partition and in all; with\n"
	       "                      --json, also a JSON line per (producer,\n"
	       "                      stream, session): first_seq, last_seq,\n"
	       "                      records\n"
	       "  -h, --help          this text\n"
	       "  -V, --version       the version\n"
	       "\n"
	       "Exit status: 0 clean; 1 corruption or a sequence problem; "
	       "2 a usage\nerror or an unreadable DIR.\n");
}

static int
usage_error(const char *what, const char *arg, const char *expected)
{
	if (arg != NULL)
		fprintf(stderr, "evtail: %s %s: %s\n", what, arg, expected);
	else
		fprintf(stderr, "evtail: %s: %s\n", what, expected);
	return -EINVAL;
}

static int
parse_u64(const char *s, uint64_t max, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (*end != '\0' || errno != 0 || *v > max)
		return -EINVAL;
	return 0;
}

static int
parse_u32_opt(const char *name, const char *arg, uint32_t *v)
{
	uint64_t x;

	if (parse_u64(arg, UINT32_MAX, &x) < 0)
		return usage_error(name, arg,
				   "expected a number 0..4294967295");
	*v = (uint32_t)x;
	return 0;
}

static int
set_from(struct evtail_opts *o, enum evtail_from from, const char *name,
	 const char *arg)
{
	int ret = 0;

	if (o->from != EVTAIL_FROM_START)
		return usage_error(
			name, NULL,
			"give one of --from, --from-time and --from-end");
	o->from = from;
	if (from == EVTAIL_FROM_OFFSET &&
	    parse_u64(arg, UINT64_MAX, &o->from_value) < 0)
		return usage_error(name, arg, "expected a record offset");
	if (from == EVTAIL_FROM_TIME)
		ret = evg_text_parse_time(arg, &o->from_value);
	if (ret < 0)
		return usage_error(name, arg,
				   "expected ns since the epoch or an ISO-8601 "
				   "UTC time like 2026-11-23T10:00:00Z");
	return 0;
}

/* One option; 1 when evtail should exit 0 at once (--help, --version). */
static int
parse_opt(struct evtail_opts *o, int c, const char *arg, const char *opt)
{
	switch (c) {
	case 'p':
		o->all_partitions = false;
		return parse_u32_opt("--partition", arg, &o->partition);
	case OPT_FROM:
		return set_from(o, EVTAIL_FROM_OFFSET, "--from", arg);
	case OPT_FROM_TIME:
		return set_from(o, EVTAIL_FROM_TIME, "--from-time", arg);
	case OPT_FROM_END:
		return set_from(o, EVTAIL_FROM_END, "--from-end", arg);
	case 'f':
		o->follow = true;
		return 0;
	case OPT_STREAM:
		o->has_stream = true;
		return parse_u32_opt("--stream", arg, &o->stream);
	case OPT_PRODUCER:
		o->has_producer = true;
		return parse_u32_opt("--producer", arg, &o->producer);
	case 'n':
		if (parse_u64(arg, UINT64_MAX, &o->count) < 0 || o->count == 0)
			return usage_error("--count", arg,
					   "expected a number >= 1");
		return 0;
	case OPT_JSON:
		o->json = true;
		return 0;
	case OPT_VERIFY:
		o->verify = true;
		return 0;
	case 'h':
		usage();
		return 1;
	case 'V':
		printf("evtail %s\n", EVG_VERSION);
		return 1;
	case ':':
		return usage_error(opt, NULL, "needs a value");
	case '?':
		/* A known long option given a value it does not take. */
		if (optopt != 0 && strncmp(opt, "--", 2) == 0)
			return usage_error(opt, NULL, "takes no value");
		/* fall through */
	default:
		return usage_error(opt, NULL,
				   "unknown option (see evtail --help)");
	}
}

static int
check_opts(const struct evtail_opts *o, int argc, char **argv)
{
	if (optind >= argc)
		return usage_error("missing DIR", NULL, "see evtail --help");
	if (optind + 1 < argc)
		return usage_error(argv[optind + 1], NULL,
				   "unexpected argument (one DIR only)");
	if (o->verify && (o->follow || o->has_stream || o->has_producer ||
			  o->count != 0 || o->from != EVTAIL_FROM_START))
		return usage_error("--verify", NULL,
				   "takes --partition and --json only");
	return 0;
}

/* 0 to go on, 1 to exit 0, -EINVAL for a usage error (said). */
static int
parse_args(int argc, char **argv, struct evtail_opts *o)
{
	char shortopt[3] = "-?";
	const char *opt;
	int c, ret;

	*o = (struct evtail_opts){.all_partitions = true};
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:fn:hV", long_opts, NULL)) !=
	       -1) {
		/* getopt names no unknown long option; argv has it. */
		opt = argv[optind - 1];
		if ((c == '?' || c == ':') && optopt != 0) {
			shortopt[1] = (char)optopt;
			if (strncmp(opt, "--", 2) != 0)
				opt = shortopt;
		}
		ret = parse_opt(o, c, optarg, opt);
		if (ret != 0)
			return ret;
	}
	ret = check_opts(o, argc, argv);
	if (ret == 0)
		o->dir = argv[optind];
	return ret;
}

static void
on_signal(int sig)
{
	got_signal = sig;
}

static bool
matches(const struct evtail_opts *o, const struct evg_journal_entry *e)
{
	return (!o->has_stream || e->rec.stream_id == o->stream) &&
	       (!o->has_producer || e->rec.producer_id == o->producer);
}

static bool
done(const struct tail *t)
{
	return got_signal != 0 ||
	       (t->o->count != 0 && t->printed >= t->o->count);
}

static int
read_error(const struct tail *t, uint32_t i, int err)
{
	const char *dir = t->o->dir;

	if (err != -EBADMSG)
		fprintf(stderr, "evtail: %s: partition %" PRIu32 ": %s\n", dir,
			t->part[i], strerror(-err));
	else if (t->next[i] == UINT64_MAX)
		fprintf(stderr,
			"evtail: %s: partition %" PRIu32
			": corrupt batch where reading started\n",
			dir, t->part[i]);
	else
		fprintf(stderr,
			"evtail: %s: partition %" PRIu32
			": corrupt batch at offset %" PRIu64 "\n",
			dir, t->part[i], t->next[i]);
	return err;
}

/* Up to budget records of reader i; returns how many were read (printed
 * or filtered), fewer at the end, or a negative errno (said). */
static int64_t
drain(struct tail *t, uint32_t i, uint64_t budget)
{
	struct evg_journal_entry e;
	uint64_t n;
	int ret;

	for (n = 0; n < budget && !done(t); n++) {
		ret = evg_journal_reader_next(t->r[i], &e);
		if (ret == -ENODATA)
			break;
		if (ret < 0)
			return read_error(t, i, ret);
		t->next[i] = e.offset + 1;
		if (!matches(t->o, &e))
			continue;
		if (t->o->json)
			evtail_print_json(stdout, &e);
		else
			evtail_print_text(stdout, &e);
		t->printed++;
	}
	return (int64_t)n;
}

static int
follow(struct tail *t)
{
	const struct timespec poll = {.tv_nsec = POLL_NS};

	while (!done(t)) {
		int64_t progress = 0;

		for (uint32_t i = 0; i < t->n && !done(t); i++) {
			int64_t n = drain(t, i, FOLLOW_BURST);

			if (n < 0)
				return EVTAIL_EXIT_BAD;
			progress += n;
		}
		if (progress == 0 && !done(t)) {
			fflush(stdout);
			nanosleep(&poll, NULL);
		}
	}
	return EVTAIL_EXIT_OK;
}

static int
seek(struct tail *t, uint32_t i)
{
	const struct evtail_opts *o = t->o;
	int ret = 0;

	t->next[i] = UINT64_MAX;
	if (o->from == EVTAIL_FROM_OFFSET) {
		ret = evg_journal_reader_seek_offset(t->r[i], o->from_value);
		t->next[i] = o->from_value;
	} else if (o->from == EVTAIL_FROM_TIME) {
		ret = evg_journal_reader_seek_time(t->r[i], o->from_value);
	} else if (o->from == EVTAIL_FROM_END) {
		ret = evg_journal_reader_seek_end(t->r[i]);
	}
	if (ret == -EBADMSG)
		return read_error(t, i, ret);
	if (ret < 0)
		fprintf(stderr, "evtail: %s: partition %" PRIu32 ": seek: %s\n",
			o->dir, t->part[i], strerror(-ret));
	return ret;
}

/* Readers on every partition read, positioned; an exit code. */
static int
open_readers(struct tail *t, uint32_t partitions)
{
	const struct evtail_opts *o = t->o;
	char err[256];
	int ret;

	t->n = o->all_partitions ? partitions : 1;
	/* A stream lives in partition stream % partitions (evg_journal.h). */
	if (o->all_partitions && o->has_stream)
		t->n = 1;
	t->part = calloc(t->n, sizeof(*t->part));
	t->r = calloc(t->n, sizeof(*t->r));
	t->next = calloc(t->n, sizeof(*t->next));
	if (t->part == NULL || t->r == NULL || t->next == NULL) {
		fprintf(stderr, "evtail: %s\n", strerror(ENOMEM));
		return EVTAIL_EXIT_BAD;
	}
	for (uint32_t i = 0; i < t->n; i++) {
		t->part[i] = !o->all_partitions ? o->partition
			     : o->has_stream	? o->stream % partitions
						: i;
		err[0] = '\0';
		ret = evg_journal_reader_open(o->dir, t->part[i], &t->r[i], err,
					      sizeof(err));
		if (ret < 0) { /* err names the directory too */
			fprintf(stderr,
				"evtail: %s: partition %" PRIu32 ": %s\n",
				o->dir, t->part[i], strerror(-ret));
			return EVTAIL_EXIT_USAGE;
		}
		ret = seek(t, i);
		if (ret < 0)
			return ret == -EBADMSG || ret == -EIO
				       ? EVTAIL_EXIT_BAD
				       : EVTAIL_EXIT_USAGE;
	}
	return EVTAIL_EXIT_OK;
}

static void
close_readers(struct tail *t)
{
	for (uint32_t i = 0; t->r != NULL && i < t->n; i++)
		if (t->r[i] != NULL)
			evg_journal_reader_close(t->r[i]);
	free(t->part);
	free(t->r);
	free(t->next);
}

static int
tail(const struct evtail_opts *o, uint32_t partitions)
{
	struct tail t = {.o = o};
	int rc;

	rc = open_readers(&t, partitions);
	if (rc == EVTAIL_EXIT_OK && o->follow) {
		rc = follow(&t);
	} else if (rc == EVTAIL_EXIT_OK) {
		for (uint32_t i = 0; i < t.n && !done(&t); i++)
			if (drain(&t, i, UINT64_MAX) < 0) {
				rc = EVTAIL_EXIT_BAD;
				break;
			}
	}
	close_readers(&t);
	return rc;
}

/* The partition count of DIR, or -1 after saying why (exit 2). */
static int64_t
partitions_of(const struct evtail_opts *o)
{
	int n = evg_journal_partitions(o->dir);

	if (n < 0) {
		fprintf(stderr, "evtail: %s: %s\n", o->dir, strerror(-n));
		return -1;
	}
	if (n == 0) {
		fprintf(stderr, "evtail: %s: not a log directory\n", o->dir);
		return -1;
	}
	if (!o->all_partitions && o->partition >= (uint32_t)n) {
		fprintf(stderr,
			"evtail: %s: no partition %" PRIu32
			" (the log has %d, 0..%d)\n",
			o->dir, o->partition, n, n - 1);
		return -1;
	}
	return n;
}

int
main(int argc, char **argv)
{
	struct evtail_opts o;
	int64_t partitions;
	int rc;

	rc = parse_args(argc, argv, &o);
	if (rc != 0)
		return rc > 0 ? EVTAIL_EXIT_OK : EVTAIL_EXIT_USAGE;
	partitions = partitions_of(&o);
	if (partitions < 0)
		return EVTAIL_EXIT_USAGE;
	/* No SA_RESTART: the poll sleep ends at the signal. */
	evg_signals_install(on_signal);
	if (o.verify)
		rc = evtail_verify(&o, (uint32_t)partitions);
	else
		rc = tail(&o, (uint32_t)partitions);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "evtail: stdout: %s\n", strerror(errno));
		return EVTAIL_EXIT_BAD;
	}
	return rc;
}
