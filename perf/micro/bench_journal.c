/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark of the journal's write path (lib/journal) through a store
 * backend, one partition, one thread, no EAL:
 *
 *   --mode append   evg_journal_append() of --burst records per call, an
 *                   evg_journal_flush() every --flush events (0: only when
 *                   the batch is full), evg_journal_poll() after every
 *                   call, as the journal stage does. Per case (event size x
 *                   flush): ns per event and per call, the part of it
 *                   spent outside poll() ("build": records, batch header,
 *                   CRC-32C, index), events/s, payload MB/s and the MB/s
 *                   handed to the store (headers and padding included).
 *                   --store null discards the writes (no I/O: the
 *                   journal's own cost); uring/psync/mem really write.
 *   --mode latency  one small batch at a time: append --lat-events
 *                   events, flush, poll until the ticket is durable at
 *                   --level; p50/p99/p99.9/max in microseconds.
 *
 * Every repetition opens a fresh journal in a scratch directory under
 * --dir (removed at the end, also on SIGINT/SIGTERM), warms up for a
 * tenth of its time, then measures; the median repetition is reported.
 * Prints one JSON object on stdout and a one-line summary on stderr.
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evg_journal.h"
#include "evg_store.h"

#include "../peers/peer_util.h"
#include "bench_journal.h"

/* One repetition's figures. */
struct bj_rep {
	double secs, events, calls, poll_secs, disk_bytes;
	double cpu_secs; /* this thread's CPU time in secs */
};

struct bj_ctx {
	const struct bj_opts *o;
	char scratch[4096];
	volatile sig_atomic_t *stop;
	struct evg_journal_rec recs[MAX_BURST];
	uint8_t *value;
	uint64_t seq;
	uint64_t *lat; /* latency samples, ns */
	uint64_t nlat, maxlat;
};

static volatile sig_atomic_t bj_stop_flag;

static void
on_signal(int sig)
{
	(void)sig;
	bj_stop_flag = 1;
}

static void
die(const char *what, int err)
{
	fprintf(stderr, ME ": %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rm_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static double
cpu_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t
stat_of(struct evg_journal *j, unsigned int which)
{
	uint64_t v[EVG_JOURNAL_STAT_MAX];

	evg_journal_stats(j, 0, v);
	return v[which];
}

static struct evg_journal *
journal_open(struct bj_ctx *c, int rep)
{
	const struct bj_opts *o = c->o;
	char dir[4200], err[256];
	struct evg_journal *j;
	struct evg_journal_conf conf = {
		.dir = dir,
		.store = o->store,
		.partitions = 1,
		.segment_bytes = o->segment_mib << 20,
		.batch_bytes = (uint32_t)(o->batch_kib << 10),
		.index_interval = 64u << 10,
		/* bounds the disk used: at most 4 segments behind */
		.retention_bytes = (o->segment_mib << 20) * 4,
		.level = o->level,
		.sync_mode = o->sync_mode,
		.depth = (uint32_t)o->depth,
		.socket_id = -1,
		.io_cpus = o->has_io_cpus ? &o->io_cpus : NULL,
	};
	int rc;

	snprintf(dir, sizeof(dir), "%s/r%d", c->scratch, rep);
	if (mkdir(dir, 0700) != 0)
		die(dir, errno);
	rc = evg_journal_open(&conf, &j, NULL, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, ME ": --dir %s: %s\n", o->dir, err);
		exit(1);
	}
	return j;
}

static void
journal_close(struct bj_ctx *c, struct evg_journal *j, int rep)
{
	char dir[4200];
	int rc = evg_journal_close(j);

	if (rc < 0)
		die("closing the journal", rc);
	snprintf(dir, sizeof(dir), "%s/r%d", c->scratch, rep);
	rm_tree(dir);
}

/* The next n records: 16 producers in turn, consecutive seqs. */
static void
recs_next(struct bj_ctx *c, unsigned int n, uint32_t size)
{
	for (unsigned int i = 0; i < n; i++) {
		struct evg_journal_rec *r = &c->recs[i];
		uint64_t s = c->seq++;

		r->producer_id = 1 + (uint32_t)(s & 15);
		r->stream_id = 1;
		r->session = 1;
		r->seq = s >> 4;
		r->ts_ns = s + 1;
		r->ingest_ns = s + 1;
		r->value = c->value;
		r->value_size = size;
	}
}

/* Append n records, polling while every buffer is in flight. */
static int64_t
append_all(struct bj_ctx *c, struct evg_journal *j, unsigned int n,
	   uint32_t size, double *poll_secs)
{
	int64_t t;

	recs_next(c, n, size);
	while ((t = evg_journal_append(j, 0, c->recs, n, NULL)) == -ENOBUFS) {
		double t0 = peer_now_s();
		int rc = evg_journal_poll(j, 0, NULL);

		*poll_secs += peer_now_s() - t0;
		if (rc < 0)
			return rc;
		if (*c->stop)
			return -EINTR;
	}
	return t;
}

/* Appends for `secs` (or until max_mib reach the store): one rep. */
static int
run_append(struct bj_ctx *c, struct evg_journal *j, uint32_t size,
	   uint64_t flush, double secs, struct bj_rep *r)
{
	unsigned int burst = (unsigned int)c->o->burst;
	uint64_t bytes0 = stat_of(j, EVG_JOURNAL_bytes), since = 0;
	uint64_t cap = c->o->max_mib << 20;
	double t0 = peer_now_s(), t = t0, c0 = cpu_now_s();

	memset(r, 0, sizeof(*r));
	while (t - t0 < secs && !*c->stop) {
		int64_t tk = append_all(c, j, burst, size, &r->poll_secs);
		double p0;

		if (tk < 0)
			return (int)tk;
		r->events += burst;
		r->calls++;
		since += burst;
		if (flush > 0 && since >= flush) {
			evg_journal_flush(j, 0);
			since = 0;
		}
		p0 = peer_now_s();
		if (evg_journal_poll(j, 0, NULL) < 0)
			return -EIO;
		t = peer_now_s();
		r->poll_secs += t - p0;
		if (stat_of(j, EVG_JOURNAL_bytes) - bytes0 > cap)
			break;
	}
	r->secs = t - t0;
	r->cpu_secs = cpu_now_s() - c0;
	r->disk_bytes = (double)(stat_of(j, EVG_JOURNAL_bytes) - bytes0);
	return 0;
}

/* One small batch at a time, each timed until it is durable. */
static int
run_latency(struct bj_ctx *c, struct evg_journal *j, uint32_t size,
	    double secs, bool record)
{
	unsigned int n = (unsigned int)c->o->lat_events;
	double t0 = peer_now_s(), ignored = 0;

	while (peer_now_s() - t0 < secs && !*c->stop && c->nlat < c->maxlat) {
		uint64_t s = peer_now_ns(), durable = 0;
		int64_t tk = append_all(c, j, n, size, &ignored);

		if (tk < 0)
			return (int)tk;
		evg_journal_flush(j, 0);
		while (durable < (uint64_t)tk) {
			if (evg_journal_poll(j, 0, &durable) < 0)
				return -EIO;
			if (*c->stop)
				return -EINTR;
		}
		if (record)
			c->lat[c->nlat++] = peer_now_ns() - s;
	}
	return 0;
}

static int
cmp_rep(const void *a, const void *b)
{
	const struct bj_rep *x = a, *y = b;
	double nx = x->secs / x->events, ny = y->secs / y->events;

	return (nx > ny) - (nx < ny);
}

static void
print_append_case(uint32_t size, uint64_t flush, unsigned int burst,
		  struct bj_rep *reps, int n, bool last)
{
	const struct bj_rep *m;
	double events = 0;

	for (int i = 0; i < n; i++)
		events += reps[i].events;
	qsort(reps, (size_t)n, sizeof(reps[0]), cmp_rep);
	m = &reps[n / 2];
	printf("  {\"event_bytes\": %u, \"flush_every\": %llu, \"burst\": %u, "
	       "\"events\": %.0f, \"ns_per_event_median\": %.1f, "
	       "\"ns_per_event_best\": %.1f, \"ns_per_call_median\": %.1f, "
	       "\"build_ns_per_event_median\": %.1f, "
	       "\"mevents_per_s_median\": %.3f, "
	       "\"payload_mb_per_s_median\": %.1f, "
	       "\"store_mb_per_s_median\": %.1f, \"rep_seconds\": %.3f, "
	       "\"cpu_ns_per_event\": %.1f, \"cpu_share\": %.3f}%s\n",
	       size, (unsigned long long)flush, burst, events,
	       m->secs * 1e9 / m->events, reps[0].secs * 1e9 / reps[0].events,
	       m->secs * 1e9 / m->calls,
	       (m->secs - m->poll_secs) * 1e9 / m->events,
	       m->events / m->secs / 1e6, m->events * size / m->secs / 1e6,
	       m->disk_bytes / m->secs / 1e6, m->secs,
	       m->cpu_secs * 1e9 / m->events, m->cpu_secs / m->secs,
	       last ? "" : ",");
	if (last)
		fprintf(stderr, ME ": %u B events, flush every %llu: "
				"%.1f ns/event (build %.1f), %.1f MB/s to the "
				"store",
			size, (unsigned long long)flush,
			m->secs * 1e9 / m->events,
			(m->secs - m->poll_secs) * 1e9 / m->events,
			m->disk_bytes / m->secs / 1e6);
}

static void
bench_append(struct bj_ctx *c)
{
	const struct bj_opts *o = c->o;
	double per = o->seconds / o->reps;
	struct bj_rep reps[MAX_REPS];
	int rep_id = 0;

	printf(" \"results\": [\n");
	for (unsigned int s = 0; s < o->nsizes; s++) {
		for (unsigned int f = 0; f < o->nflushes; f++) {
			bool last = s + 1 == o->nsizes && f + 1 == o->nflushes;

			for (int r = 0; r < o->reps; r++, rep_id++) {
				struct evg_journal *j = journal_open(c, rep_id);
				struct bj_rep warm;
				int rc = run_append(c, j, (uint32_t)o->sizes[s],
						    o->flushes[f], per / 10,
						    &warm);

				if (rc == 0)
					rc = run_append(c, j,
							(uint32_t)o->sizes[s],
							o->flushes[f], per,
							&reps[r]);
				journal_close(c, j, rep_id);
				if (rc < 0)
					die("append", rc);
			}
			print_append_case((uint32_t)o->sizes[s], o->flushes[f],
					  (unsigned int)o->burst, reps,
					  o->reps, last);
		}
	}
	printf(" ]");
}

static void
bench_latency(struct bj_ctx *c)
{
	const struct bj_opts *o = c->o;
	uint32_t size = (uint32_t)o->sizes[0];
	struct evg_journal *j = journal_open(c, 0);
	struct peer_lat l;
	int rc;

	c->maxlat = 4000000;
	c->lat = malloc(c->maxlat * sizeof(c->lat[0]));
	if (c->lat == NULL)
		die("latency samples", ENOMEM);
	rc = run_latency(c, j, size, o->seconds / 10, false);
	if (rc == 0)
		rc = run_latency(c, j, size, o->seconds, true);
	journal_close(c, j, 0);
	if (rc < 0)
		die("append", rc);
	l = peer_lat_summary(c->lat, c->nlat);
	printf(" \"results\": {\"event_bytes\": %u, \"events_per_batch\": "
	       "%llu, \"batches\": %llu, \"batches_per_s\": %.1f, "
	       "\"latency_us\": {\"p50\": %.1f, \"p99\": %.1f, "
	       "\"p99_9\": %.1f, \"max\": %.1f}}",
	       size, (unsigned long long)o->lat_events,
	       (unsigned long long)l.n, (double)l.n / o->seconds, l.p50_us,
	       l.p99_us, l.p999_us, l.max_us);
	fprintf(stderr, ME ": %llu x %u B per batch, append+flush -> durable: "
			"p50 %.1f p99 %.1f p99.9 %.1f us",
		(unsigned long long)o->lat_events, size, l.p50_us, l.p99_us,
		l.p999_us);
	free(c->lat);
}

int
main(int argc, char **argv)
{
	struct bj_opts o;
	struct bj_ctx c = {.o = &o, .stop = &bj_stop_flag};
	struct peer_fs fs;
	char host[256] = "unknown";

	bj_parse(argc, argv, &o);
	bj_pin(&o);
	snprintf(c.scratch, sizeof(c.scratch), "%s/bench_journal.XXXXXX",
		 o.dir);
	if (mkdtemp(c.scratch) == NULL)
		die(o.dir, errno);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	c.value = calloc(1, 65536);
	if (c.value == NULL)
		die("value buffer", ENOMEM);
	fs = peer_fs_of(o.dir);
	gethostname(host, sizeof(host) - 1);
	bj_print_head(&o, host, &fs);
	if (o.mode == BJ_APPEND)
		bench_append(&c);
	else
		bench_latency(&c);
	printf(",\n \"cpu_ran\": %d, \"interrupted\": %s\n}\n", sched_getcpu(),
	       bj_stop_flag ? "true" : "false");
	fprintf(stderr, " (%s store, %s on %s, CPU %d, io workers on %s)\n",
		o.store_name, fs.type, fs.dev, sched_getcpu(), o.io_cpus_text);
	rm_tree(c.scratch);
	free(c.value);
	return bj_stop_flag ? 130 : 0;
}
