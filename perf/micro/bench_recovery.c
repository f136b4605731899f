/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark: how long evg_journal_open() (recovery) takes on a large log
 * (issue 5: "restart of a 10 GiB log takes seconds").
 *
 * Builds a log of --size bytes in DIR/log through lib/journal and the
 * uring store (io_uring, O_DIRECT) with the defaults of
 * docs/configuration.md (4 partitions, 256 MiB segments, 256 KiB
 * batches; the index interval and queue depth of evgate), --producers x
 * --streams (producer, stream) keys, --event-size value bytes per event,
 * level written. Half-way through, every 8th producer starts a new
 * session. The builder is a forked child that waits until every append
 * is durable and then exits without closing the journal: a crash (the
 * last index blocks and checkpoints are not written). Then it times
 * evg_journal_open() in a forked child (a fresh process) in six cases:
 *   crash          the log as the crash left it, page cache dropped
 *                  (not on a reused --keep log, which was closed);
 *   clean          after a clean close (checkpoints present);
 *   cold           the same after dropping the page cache (root only);
 *   torn_tail      a torn batch (a 4 KiB block of a batch header whose
 *                  length runs past the file) after the last batch of
 *                  each partition's last segment, cache dropped;
 *   full_scan_cold checkpoints removed, cache dropped: every record read;
 *   full_scan_warm checkpoints removed again, the log in the page cache.
 * Each child checks that the rebuilt producer states equal those written
 * (and the record count); a difference makes the benchmark exit 1.
 * Bytes read are the child's /proc/self/io rchar (read calls, cached or
 * not) and read_bytes (fetched from the device).
 *
 * Usage: bench_recovery [--dir D] [--size 10G] [--event-size 256]
 *        [--producers 1000] [--streams 4] [--timeout S] [--keep] [--json]
 * With --keep the log stays and a later run with the same parameters
 * reuses it (DIR/bench_recovery.state holds what was written).
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "evg_journal.h"
#include "evg_store.h"

#include "bench_recovery.h"

static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
	got_signal = sig;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: bench_recovery [--dir D] [--size N[K|M|G]] "
		"[--event-size B] [--producers N]\n"
		"                      [--streams N] [--timeout S] [--keep] "
		"[--json] [--help]\n"
		"Builds a log of --size bytes (default 10G) in D/log (default "
		"D /var/tmp/evg-bench-recovery)\n"
		"through the uring store, then times evg_journal_open() "
		"(recovery) after a clean close,\n"
		"with a cold page cache, with torn tails and without "
		"checkpoints, checking the rebuilt\n"
		"producer states. --keep keeps the log and reuses it next "
		"time; --json prints one JSON\n"
		"object (the summary line goes to stderr). Exit 1 on a wrong "
		"result or an error.\n");
}

static int
parse_u64(const char *s, uint64_t *v, bool suffix)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno != 0 || end == s || s[0] == '-')
		return -EINVAL;
	if (suffix && *end != '\0') {
		const char *u = strchr("KMGT", *end);
		unsigned int sh =
			u == NULL ? 0 : 10u * (unsigned)(u - "KMGT" + 1);

		if (u == NULL || *end == '\0' || end[1] != '\0' ||
		    x > (UINT64_MAX >> sh))
			return -EINVAL;
		x <<= sh;
		end++;
	}
	if (*end != '\0')
		return -EINVAL;
	*v = x;
	return 0;
}

static int
bad_opt(const char *name, const char *val, const char *why)
{
	fprintf(stderr, "bench_recovery: --%s %s: %s\n", name, val, why);
	return -EINVAL;
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"dir", required_argument, NULL, 'd'},
		{"size", required_argument, NULL, 's'},
		{"event-size", required_argument, NULL, 'e'},
		{"producers", required_argument, NULL, 'p'},
		{"streams", required_argument, NULL, 'S'},
		{"timeout", required_argument, NULL, 't'},
		{"keep", no_argument, NULL, 'k'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	uint64_t v;
	int c;

	*o = (struct opts){.dir = "/var/tmp/evg-bench-recovery",
			   .size = 10ull << 30,
			   .event_size = 256,
			   .producers = 1000,
			   .streams = 4,
			   .timeout = 1800};
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		const char *n = c == '?' ? "" : lo[0].name;

		for (unsigned int i = 0; lo[i].name != NULL; i++)
			if (lo[i].val == c)
				n = lo[i].name;
		switch (c) {
		case 'd':
			o->dir = optarg;
			break;
		case 'k':
			o->keep = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 's':
			if (parse_u64(optarg, &v, true) < 0 || v < (1u << 20))
				return bad_opt(n, optarg, "want 1M or more");
			o->size = v;
			break;
		case 'e':
			if (parse_u64(optarg, &v, false) < 0 ||
			    v > BATCH_BYTES / 2)
				return bad_opt(n, optarg, "want 0 .. 131072");
			o->event_size = (uint32_t)v;
			break;
		case 'p':
		case 'S':
			if (parse_u64(optarg, &v, false) < 0 || v == 0 ||
			    v > (c == 'p' ? 1000000u : 1024u))
				return bad_opt(n, optarg,
					       c == 'p' ? "want 1 .. 1000000"
							: "want 1 .. 1024");
			*(c == 'p' ? &o->producers : &o->streams) = (uint32_t)v;
			break;
		case 't':
			if (parse_u64(optarg, &v, false) < 0 || v == 0)
				return bad_opt(n, optarg, "want seconds > 0");
			o->timeout = (double)v;
			break;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "bench_recovery: unexpected argument %s\n",
			argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static int
prepare(struct bench *b)
{
	struct stat st;
	int rc;

	snprintf(b->log, sizeof(b->log), "%s/log", b->o.dir);
	snprintf(b->side, sizeof(b->side), "%s/bench_recovery.state", b->o.dir);
	if (mkdir(b->o.dir, 0755) == 0) {
		b->made_dir = true;
	} else if (errno != EEXIST) {
		fprintf(stderr, "bench_recovery: mkdir %s: %s\n", b->o.dir,
			strerror(errno));
		return -errno;
	}
	rc = b->o.keep ? br_sidecar_load(b) : 0;
	b->reused = rc == 1;
	if (rc != 0)
		return rc < 0 ? rc : 0;
	if (stat(b->side, &st) == 0) {
		br_remove_log(b, false); /* ours, from an earlier --keep */
	} else if (stat(b->log, &st) == 0) {
		fprintf(stderr,
			"bench_recovery: %s exists and was not made by "
			"bench_recovery; pick another --dir\n",
			b->log);
		return -EEXIST;
	}
	b->owns_log = true;
	b->sc = (struct sidecar){.magic = SIDECAR_MAGIC,
				 .event_size = b->o.event_size,
				 .producers = b->o.producers,
				 .streams = b->o.streams,
				 .size = b->o.size};
	if (mkdir(b->log, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "bench_recovery: mkdir %s: %s\n", b->log,
			strerror(errno));
		return -errno;
	}
	rc = br_build_crashed(b);
	if (rc < 0)
		b->o.keep = false; /* a half-built log is not worth keeping */
	return rc;
}

/* ---- one recovery, in a child ---- */

static void
read_io(uint64_t *rchar, uint64_t *read_bytes)
{
	char line[128];
	FILE *f = fopen("/proc/self/io", "r");

	*rchar = *read_bytes = 0;
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		sscanf(line, "rchar: %" SCNu64, rchar);
		sscanf(line, "read_bytes: %" SCNu64, read_bytes);
	}
	fclose(f);
}

struct verify {
	const struct bench *b;
	uint8_t *seen;
	uint64_t states, bad;
};

static int
verify_one(void *arg, uint32_t producer, uint32_t stream, uint64_t session,
	   uint64_t next_seq)
{
	struct verify *v = arg;
	const struct opts *o = &v->b->o;
	bool in = producer != 0 && producer <= o->producers &&
		  stream < o->streams;
	uint64_t i = in ? (uint64_t)(producer - 1) * o->streams + stream : 0;
	struct pstate e = in ? v->b->exp[i] : (struct pstate){0};

	v->states++;
	if (!in || v->seen[i]++ != 0 || e.session != session ||
	    e.next_seq != next_seq) {
		if (v->bad++ < SHOW_BAD)
			fprintf(stderr,
				"bench_recovery: state (%" PRIu32 ", %" PRIu32
				") = (session %" PRIu64 ", next %" PRIu64
				"), wrote (%" PRIu64 ", %" PRIu64 ")\n",
				producer, stream, session, next_seq, e.session,
				e.next_seq);
	}
	return 0;
}

/* States missing or extra, records counted wrong: all count as bad. */
static void
verify(const struct bench *b, struct evg_journal *j, struct case_res *r)
{
	uint64_t n = (uint64_t)b->o.producers * b->o.streams;
	struct verify v = {.b = b, .seen = calloc(n, 1)};

	if (v.seen == NULL) {
		r->bad = 1;
		return;
	}
	evg_journal_producers(j, verify_one, &v);
	for (uint64_t i = 0; i < n; i++)
		if ((b->exp[i].next_seq != 0) != (v.seen[i] != 0) &&
		    v.bad++ < SHOW_BAD)
			fprintf(stderr,
				"bench_recovery: state of producer %" PRIu64
				" stream %" PRIu64 " missing\n",
				i / b->o.streams + 1, i % b->o.streams);
	if (r->rep.torn_tails != b->want_torn && v.bad++ < SHOW_BAD)
		fprintf(stderr,
			"bench_recovery: %" PRIu64 " torn tails cut, %" PRIu32
			" made\n",
			r->rep.torn_tails, b->want_torn);
	if (r->rep.records != b->sc.records && v.bad++ < SHOW_BAD)
		fprintf(stderr,
			"bench_recovery: %" PRIu64
			" records recovered, %" PRIu64 " written\n",
			r->rep.records, b->sc.records);
	free(v.seen);
	r->states = v.states;
	r->bad = v.bad;
}

static void __attribute__((noreturn)) child(const struct bench *b, int fd)
{
	struct evg_journal_conf c;
	struct evg_journal *j = NULL;
	struct case_res r = {0};
	uint64_t c0, b0;
	char err[512];
	double t0;

	br_conf_init(b, &c);
	read_io(&c0, &b0);
	t0 = peer_now_s();
	r.open_rc = evg_journal_open(&c, &j, &r.rep, err, sizeof(err));
	r.seconds = peer_now_s() - t0;
	read_io(&r.rchar, &r.read_bytes);
	r.rchar -= c0;
	r.read_bytes -= b0;
	if (r.open_rc < 0)
		fprintf(stderr, "bench_recovery: open: %s\n", err);
	else
		verify(b, j, &r);
	if (j != NULL)
		evg_journal_close(j);
	if (write(fd, &r, sizeof(r)) != sizeof(r))
		_exit(1);
	_exit(r.open_rc < 0 ? 1 : r.bad != 0 ? 3 : 0);
}

static int
run_case(struct bench *b, struct bcase *k)
{
	int fds[2], status = 0, rc;
	pid_t pid;

	if (pipe(fds) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		child(b, fds[1]);
	}
	close(fds[1]);
	rc = pid < 0 ? -errno : br_reap(b, pid, &status);
	if (rc == 0 && read(fds[0], &k->r, sizeof(k->r)) != sizeof(k->r))
		rc = -EPIPE;
	close(fds[0]);
	k->ran = rc == 0;
	k->exit_rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
	if (rc < 0)
		fprintf(stderr, "bench_recovery: case %s: %s\n", k->name,
			rc == -ETIMEDOUT ? "past --timeout" : strerror(-rc));
	return rc;
}

/* ---- output ---- */

static const char *
fs_name(const char *dir)
{
	struct statfs sf;

	if (statfs(dir, &sf) < 0)
		return "unknown";
	switch ((unsigned long)sf.f_type) {
	case 0xEF53:
		return "ext4";
	case 0x58465342:
		return "xfs";
	case 0x9123683E:
		return "btrfs";
	case 0x01021994:
		return "tmpfs";
	default:
		return "other";
	}
}

/* The block device under dir ("vda"), from sysfs. */
static void
dev_name(const char *dir, char *buf, size_t len)
{
	char path[128], line[96];
	struct stat st;
	FILE *f;

	snprintf(buf, len, "unknown");
	if (stat(dir, &st) < 0)
		return;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/uevent",
		 major(st.st_dev), minor(st.st_dev));
	f = fopen(path, "r");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "DEVNAME=", 8) == 0) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(buf, len, "%s", line + 8);
		}
	fclose(f);
}

static uint64_t
mem_available(void)
{
	char line[128];
	unsigned long long kb = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb << 10;
}

static void
print_machine(const struct bench *b)
{
	struct utsname u;
	double load[3] = {0};
	char dev[128];

	uname(&u);
	dev_name(b->o.dir, dev, sizeof(dev));
	getloadavg(load, 3);
	printf("\"machine\":{\"cores\":%ld,\"loadavg_1m\":%.2f,"
	       "\"mem_available\":%" PRIu64 ",\"kernel\":\"%s\","
	       "\"fs\":\"%s\",\"device\":\"%s\",\"root\":%s},",
	       sysconf(_SC_NPROCESSORS_ONLN), load[0], mem_available(),
	       u.release, fs_name(b->o.dir), dev, b->root ? "true" : "false");
}

static void
print_json(const struct bench *b)
{
	const struct sidecar *s = &b->sc;

	printf("{\"bench\":\"recovery\",");
	print_machine(b);
	printf("\"params\":{\"dir\":\"%s\",\"size\":%" PRIu64
	       ",\"event_size\":%u,\"producers\":%u,\"streams\":%u,"
	       "\"partitions\":%u,\"segment_bytes\":%llu,\"batch_bytes\":%u,"
	       "\"store\":\"uring\"},",
	       b->o.dir, b->o.size, b->o.event_size, b->o.producers,
	       b->o.streams, PARTITIONS, SEGMENT_BYTES, BATCH_BYTES);
	printf("\"build\":{\"reused\":%s,\"bytes\":%" PRIu64
	       ",\"records\":%" PRIu64 ",\"seconds\":%.3f,"
	       "\"write_gb_s\":%.3f},\"cases\":[",
	       b->reused ? "true" : "false", s->bytes, s->records, s->build_s,
	       s->build_s > 0 ? (double)s->bytes / s->build_s / 1e9 : 0);
	for (unsigned int i = 0, first = 1; i < NCASES; i++) {
		const struct bcase *k = &b->cases[i];
		const struct evg_journal_recovery *r = &k->r.rep;

		if (!k->ran)
			continue;
		printf("%s{\"case\":\"%s\",\"cache_dropped\":%s,"
		       "\"seconds\":%.4f,\"bytes_read\":%" PRIu64
		       ",\"bytes_from_device\":%" PRIu64
		       ",\"segments\":%" PRIu64 ",\"batches_scanned\":%" PRIu64
		       ",\"records\":%" PRIu64 ",\"producers\":%" PRIu64
		       ",\"from_checkpoint\":%" PRIu64
		       ",\"torn_tails\":%" PRIu64 ",\"torn_bytes\":%" PRIu64
		       ",\"indexes_rebuilt\":%" PRIu64 ",\"states_ok\":%s}",
		       first ? "" : ",", k->name, k->cold ? "true" : "false",
		       k->r.seconds, k->r.rchar, k->r.read_bytes, r->segments,
		       r->batches, r->records, r->producers, r->from_checkpoint,
		       r->torn_tails, r->torn_bytes, r->indexes_rebuilt,
		       k->exit_rc == 0 ? "true" : "false");
		first = 0;
	}
	printf("]}\n");
}

static void
print_table(const struct bench *b)
{
	printf("%-15s %5s %9s %12s %12s %5s %8s %9s %5s\n", "case", "cold",
	       "seconds", "bytes_read", "from_device", "segs", "batches",
	       "producers", "torn");
	for (unsigned int i = 0; i < NCASES; i++) {
		const struct bcase *k = &b->cases[i];

		if (k->ran)
			printf("%-15s %5s %9.4f %12" PRIu64 " %12" PRIu64
			       " %5" PRIu64 " %8" PRIu64 " %9" PRIu64
			       " %5" PRIu64 "%s\n",
			       k->name, k->cold ? "yes" : "no", k->r.seconds,
			       k->r.rchar, k->r.read_bytes, k->r.rep.segments,
			       k->r.rep.batches, k->r.rep.producers,
			       k->r.rep.torn_tails,
			       k->exit_rc == 0 ? "" : "  WRONG");
	}
}

static bool
print_summary(const struct bench *b, FILE *f)
{
	bool ok = true, dropped = false;

	fprintf(f,
		"bench_recovery: %.2f GiB log (%s), %" PRIu64
		" records, built at %.2f GB/s%s;",
		(double)b->sc.bytes / (1u << 30), fs_name(b->o.dir),
		b->sc.records,
		b->sc.build_s > 0 ? (double)b->sc.bytes / b->sc.build_s / 1e9
				  : 0,
		b->reused ? " (reused)" : "");
	for (unsigned int i = 0; i < NCASES; i++) {
		const struct bcase *k = &b->cases[i];

		ok = ok && (k->skipped || (k->ran && k->exit_rc == 0));
		if (k->ran)
			fprintf(f, " %s %.3f s", k->name, k->r.seconds);
		else if (k->skipped)
			fprintf(f, " %s n/a (reused log)", k->name);
	}
	for (unsigned int i = 0; i < NCASES; i++)
		dropped = dropped || b->cases[i].cold;
	fprintf(f, "; page cache dropped: %s; states %s\n",
		dropped	  ? "yes"
		: b->root ? "no (failed)"
			  : "no (not root)",
		ok ? "verified" : "WRONG or incomplete");
	return ok;
}

/* ---- main ---- */

/* What each case does to the log (and the page cache) before opening. */
struct case_spec {
	const char *name;
	bool cold, tear, no_ckpt;
};

static const struct case_spec case_specs[NCASES] = {
	{"crash", true, false, false},
	{"clean", false, false, false},
	{"cold", true, false, false},
	{"torn_tail", true, true, false},
	{"full_scan_cold", true, false, true},
	{"full_scan_warm", false, false, true},
};

static int
run_cases(struct bench *b)
{
	int rc = 0;

	for (unsigned int i = 0; rc == 0 && i < NCASES; i++) {
		const struct case_spec *cs = &case_specs[i];
		struct bcase *k = &b->cases[i];

		k->name = cs->name;
		k->skipped = i == 0 && b->reused;
		if (k->skipped)
			continue;
		b->want_torn = cs->tear ? PARTITIONS : 0;
		if (cs->tear)
			rc = br_tear_tails(b);
		if (rc == 0 && cs->no_ckpt)
			rc = br_remove_checkpoints(b);
		if (rc == 0 && cs->cold)
			k->cold = b->root && br_drop_caches() == 0;
		if (rc < 0)
			fprintf(stderr, "bench_recovery: preparing %s: %s\n",
				k->name, strerror(-rc));
		else
			rc = run_case(b, k);
	}
	return rc;
}

int
main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	struct bench b = {0};
	bool ok;
	int rc;

	if (parse_args(argc, argv, &b.o) < 0)
		return 1;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	b.stop = &got_signal;
	b.root = geteuid() == 0;
	b.t_start = peer_now_s();
	b.deadline = b.t_start + b.o.timeout;
	b.exp = calloc((uint64_t)b.o.producers * b.o.streams, sizeof(*b.exp));
	if (b.exp == NULL) {
		fprintf(stderr, "bench_recovery: out of memory\n");
		return 1;
	}
	rc = prepare(&b);
	if (rc == 0)
		rc = run_cases(&b);
	if (b.sc.bytes > 0) {
		if (b.o.json)
			print_json(&b);
		else
			print_table(&b);
	}
	ok = b.sc.bytes > 0 && print_summary(&b, b.o.json ? stderr : stdout) &&
	     rc == 0;
	if (got_signal != 0)
		fprintf(stderr, "bench_recovery: stopped by signal %d\n",
			(int)got_signal);
	if (b.owns_log && !b.o.keep)
		br_remove_log(&b, b.made_dir);
	free(b.exp);
	return ok ? 0 : 1;
}
