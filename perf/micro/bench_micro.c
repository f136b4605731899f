/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Micro-benchmarks of two data-path primitives (issue 7, item 6), in ns:
 *
 *   ring hop   evg_edge (lib/pipeline, SPSC rte_ring, back-pressure):
 *              evg_edge_push() of a burst of 32 mbuf pointers, then
 *              evg_edge_pull() of 32, on one lcore; and with --peer-cpu,
 *              a producer lcore pushing and a consumer lcore pulling
 *              (the cache-line traffic of a real hop between stages).
 *              ns per event and per burst.
 *   seq        evg_seq_table (lib/seq) with 1k, 100k and 1M keys,
 *              visited in a random order: insert (first contact through
 *              evg_seq_table_data()), hit (data() accepting the next seq
 *              of a known key) and miss (evg_seq_table_get() of an
 *              unknown key). ns per operation.
 *
 * The EAL runs without hugepages or PCI (--no-huge --no-pci --no-shconf
 * --no-telemetry -m 256, a --file-prefix of its own), with its lcores on
 * --cpu and --peer-cpu. Each case runs --reps repetitions of
 * --seconds / --reps after a warm-up; the median is reported.
 * Prints one JSON object on stdout and a one-line summary on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "evg_eal_util.h"
#include "evg_pipeline.h"
#include "evg_seq.h"

#include "../peers/peer_util.h"

#define ME "bench_micro"
#define BURST 32u
#define RING_SIZE 1024u
#define MAX_REPS 32
#define CHECK_EVERY 1024u

struct bm_opts {
	double seconds;
	int reps, cpu, peer_cpu;
	uint64_t max_keys;
};

struct bm_hop {
	struct evg_edge edge;
	struct rte_mbuf *pkts[BURST];
	volatile bool stop;
	uint64_t pulled;
	int consumer_cpu;
};

static volatile sig_atomic_t bm_interrupted;

static void
on_signal(int sig)
{
	(void)sig;
	bm_interrupted = 1;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(v[0]), peer_cmp_double);
	return v[n / 2];
}

static void
die(const char *what, int err)
{
	fprintf(stderr, ME ": %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

/* ---- ring hop ---- */

/* One lcore: push a burst, pull it back. ns per event. */
static double
hop_local(struct bm_hop *h, double secs)
{
	struct rte_mbuf *out[BURST];
	uint64_t n = 0;
	double t0 = peer_now_s(), t;

	do {
		for (unsigned int i = 0; i < CHECK_EVERY; i++) {
			evg_edge_push(&h->edge, h->pkts, BURST);
			if (evg_edge_pull(&h->edge, out, BURST) != BURST)
				abort();
		}
		n += CHECK_EVERY * BURST;
		t = peer_now_s();
	} while (t - t0 < secs && !bm_interrupted);
	return (t - t0) * 1e9 / (double)n;
}

static int
hop_consumer(void *arg)
{
	struct bm_hop *h = arg;
	struct rte_mbuf *out[BURST];
	uint64_t n = 0;

	h->consumer_cpu = sched_getcpu();
	while (!h->stop || evg_edge_count(&h->edge) > 0)
		n += evg_edge_pull(&h->edge, out, BURST);
	h->pulled = n;
	return 0;
}

/* Producer here, consumer on lcore `worker`. ns per event delivered. */
static double
hop_remote(struct bm_hop *h, unsigned int worker, double secs)
{
	double t0, t;
	int rc;

	h->stop = false;
	h->pulled = 0;
	rc = rte_eal_remote_launch(hop_consumer, h, worker);
	if (rc < 0)
		die("rte_eal_remote_launch", rc);
	t0 = peer_now_s();
	do {
		for (unsigned int i = 0; i < CHECK_EVERY; i++)
			evg_edge_push(&h->edge, h->pkts, BURST);
		t = peer_now_s();
	} while (t - t0 < secs && !bm_interrupted);
	h->stop = true;
	rte_eal_wait_lcore(worker);
	t = peer_now_s();
	return (t - t0) * 1e9 / (double)h->pulled;
}

static void
print_hop(const char *name, double *ns, int reps, bool last)
{
	double m = median(ns, reps);

	printf("  \"%s\": {\"ns_per_event_median\": %.2f, "
	       "\"ns_per_event_best\": %.2f, \"ns_per_burst_median\": %.1f, "
	       "\"mevents_per_s_median\": %.1f}%s\n",
	       name, m, ns[0], m * BURST, 1e3 / m, last ? "" : ",");
}

static void
bench_hop(const struct bm_opts *o, struct rte_mempool *mp)
{
	static struct bm_hop h;
	double ns[MAX_REPS], local, per = o->seconds / o->reps;
	unsigned int worker = rte_get_next_lcore(-1, 1, 0);
	int rc;

	rc = evg_edge_init(&h.edge, "bm_hop", RING_SIZE, SOCKET_ID_ANY, false,
			   false, EVG_EDGE_BACKPRESSURE);
	if (rc < 0)
		die("evg_edge_init", rc);
	h.edge.stop = &h.stop;
	if (rte_pktmbuf_alloc_bulk(mp, h.pkts, BURST) != 0)
		die("rte_pktmbuf_alloc_bulk", ENOMEM);
	printf(" \"ring_hop\": {\"burst\": %u, \"ring_size\": %u,\n", BURST,
	       RING_SIZE);
	hop_local(&h, per / 10);
	for (int r = 0; r < o->reps; r++)
		ns[r] = hop_local(&h, per);
	print_hop("one_lcore", ns, o->reps, worker >= RTE_MAX_LCORE);
	local = median(ns, o->reps);
	fprintf(stderr, ME ": ring hop %.2f ns/event on one lcore", local);
	if (worker < RTE_MAX_LCORE) {
		hop_remote(&h, worker, per / 10);
		for (int r = 0; r < o->reps; r++)
			ns[r] = hop_remote(&h, worker, per);
		print_hop("two_lcores", ns, o->reps, true);
		fprintf(stderr, ", %.2f across two", median(ns, o->reps));
	}
	printf(" },\n \"consumer_cpu_ran\": %d,\n",
	       worker < RTE_MAX_LCORE ? h.consumer_cpu : -1);
	rte_pktmbuf_free_bulk(h.pkts, BURST);
	evg_edge_fini(&h.edge);
}

/* ---- sequencer table ---- */

struct bm_key {
	uint32_t producer_id;
	uint32_t stream_id;
};

struct bm_seq {
	struct evg_seq_table *t;
	struct bm_key *keys; /* n distinct keys in a random order */
	uint32_t n, pos;
	uint64_t pass; /* seq each key gets on this pass */
};

static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Distinct keys (an odd multiplier is a bijection on 32 bits), in a
 * Fisher-Yates shuffled order; stream ids 1-4. */
static void
seq_keys(struct bm_seq *s, uint32_t n)
{
	uint64_t rng = 0x9e3779b97f4a7c15ull;

	s->keys = malloc(n * sizeof(s->keys[0]));
	if (s->keys == NULL)
		die("keys", ENOMEM);
	for (uint32_t i = 0; i < n; i++)
		s->keys[i] = (struct bm_key){(i + 1) * 2654435761u, 1 + (i & 3)};
	for (uint32_t i = n - 1; i > 0; i--) {
		uint32_t k = (uint32_t)(xorshift(&rng) % (i + 1));
		struct bm_key tmp = s->keys[i];

		s->keys[i] = s->keys[k];
		s->keys[k] = tmp;
	}
	s->n = n;
}

/* A fresh table with every key inserted; ns per insert. */
static double
seq_fill(struct bm_seq *s)
{
	struct evg_seq_result res;
	double t0;

	evg_seq_table_free(s->t);
	s->t = evg_seq_table_create("bmseq", s->n, SOCKET_ID_ANY);
	if (s->t == NULL)
		die("evg_seq_table_create", rte_errno);
	t0 = peer_now_s();
	for (uint32_t i = 0; i < s->n; i++)
		if (evg_seq_table_data(s->t, s->keys[i].producer_id,
				       s->keys[i].stream_id, 1, 0, 1,
				       &res) != 0 ||
		    res.action != EVG_SEQ_ACCEPT)
			die("insert: not accepted", EPROTO);
	s->pos = 0;
	s->pass = 1;
	return (peer_now_s() - t0) * 1e9 / s->n;
}

/* Hits: each key in turn accepts its next seq. ns per lookup. */
static double
seq_hits(struct bm_seq *s, double secs)
{
	struct evg_seq_result res;
	uint64_t ops = 0;
	double t0 = peer_now_s(), t;

	do {
		for (unsigned int i = 0; i < CHECK_EVERY; i++) {
			const struct bm_key *k = &s->keys[s->pos];

			if (evg_seq_table_data(s->t, k->producer_id,
					       k->stream_id, 1, s->pass, 1,
					       &res) != 0 ||
			    res.action != EVG_SEQ_ACCEPT)
				die("hit: not accepted", EPROTO);
			if (++s->pos == s->n) {
				s->pos = 0;
				s->pass++;
			}
		}
		ops += CHECK_EVERY;
		t = peer_now_s();
	} while (t - t0 < secs && !bm_interrupted);
	return (t - t0) * 1e9 / (double)ops;
}

/* Misses: the same producers on stream 5, which no key has. */
static double
seq_misses(struct bm_seq *s, double secs)
{
	struct evg_seq_state st;
	uint64_t ops = 0;
	uint32_t pos = 0;
	double t0 = peer_now_s(), t;

	do {
		for (unsigned int i = 0; i < CHECK_EVERY; i++) {
			if (evg_seq_table_get(s->t, s->keys[pos].producer_id, 5,
					      &st) != -ENOENT)
				die("miss: key found", EPROTO);
			pos = pos + 1 == s->n ? 0 : pos + 1;
		}
		ops += CHECK_EVERY;
		t = peer_now_s();
	} while (t - t0 < secs && !bm_interrupted);
	return (t - t0) * 1e9 / (double)ops;
}

static void
bench_seq_case(const struct bm_opts *o, uint32_t n, bool last)
{
	struct bm_seq s = {0};
	double ins[MAX_REPS], hit[MAX_REPS], miss[MAX_REPS];
	double per = o->seconds / o->reps, m_ins, m_hit, m_miss;

	seq_keys(&s, n);
	seq_fill(&s);
	seq_hits(&s, per / 10);
	for (int r = 0; r < o->reps; r++) {
		ins[r] = seq_fill(&s);
		hit[r] = seq_hits(&s, per / 2);
		miss[r] = seq_misses(&s, per / 2);
	}
	m_ins = median(ins, o->reps);
	m_hit = median(hit, o->reps); /* sorts hit[]: hit[0] is the best */
	m_miss = median(miss, o->reps);
	printf("   {\"keys\": %u, \"insert_ns_median\": %.1f, "
	       "\"hit_ns_median\": %.1f, \"hit_ns_best\": %.1f, "
	       "\"miss_ns_median\": %.1f}%s\n",
	       n, m_ins, m_hit, hit[0], m_miss, last ? "" : ",");
	fprintf(stderr, "; seq %uk keys hit %.1f ns", n / 1000, m_hit);
	evg_seq_table_free(s.t);
	free(s.keys);
}

static void
bench_seq(const struct bm_opts *o)
{
	static const uint32_t sizes[] = {1000, 100000, 1000000};
	unsigned int nb = 0;

	while (nb < RTE_DIM(sizes) && sizes[nb] <= o->max_keys)
		nb++;
	printf(" \"seq\": [\n");
	for (unsigned int i = 0; i < nb; i++)
		bench_seq_case(o, sizes[i], i + 1 == nb);
	printf(" ],\n");
}

/* CPU time of the process (all its lcores) over wall time since t0: 1.0
 * per busy lcore when nothing else competes for the CPUs. */
static double
cpu_share(double t0)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
		(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6) /
	       (peer_now_s() - t0);
}

/* ---- command line, EAL ---- */

static void
usage(FILE *f)
{
	fprintf(f,
		"Usage: " ME " [options]\n"
		"  --cpu N        lcore (CPU) of the benchmark (default: the "
		"CPU it starts on)\n"
		"  --peer-cpu M   consumer lcore of the two-lcore ring hop "
		"(default -1: that case is skipped)\n"
		"  --seconds S    per case, (0, 600] (default 3)\n"
		"  --reps R       repetitions per case, 1-%d (default 5)\n"
		"  --max-keys K   largest sequencer table: 1000, 100000 or "
		"1000000 (default)\n"
		"Prints one JSON object on stdout, a summary line on stderr.\n",
		MAX_REPS);
}

static int
parse_cpu(const char *opt, const char *val, bool allow_none)
{
	uint64_t v;

	if (allow_none && strcmp(val, "-1") == 0)
		return -1;
	if (peer_parse_u64(val, 0, RTE_MAX_LCORE - 1, &v) < 0 ||
	    v >= (uint64_t)sysconf(_SC_NPROCESSORS_CONF)) {
		fprintf(stderr, ME ": %s '%s': expected a CPU number below %ld\n",
			opt, val, sysconf(_SC_NPROCESSORS_CONF));
		exit(2);
	}
	return (int)v;
}

static void
parse(int argc, char **argv, struct bm_opts *o)
{
	static const struct option opts[] = {
		{"cpu", 1, NULL, 'c'},	    {"peer-cpu", 1, NULL, 'p'},
		{"seconds", 1, NULL, 's'},  {"reps", 1, NULL, 'r'},
		{"max-keys", 1, NULL, 'k'}, {"help", 0, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	uint64_t v;
	int c;

	*o = (struct bm_opts){.seconds = 3, .reps = 5, .cpu = sched_getcpu(),
			      .peer_cpu = -1, .max_keys = 1000000};
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		const char *bad = NULL;

		if (c == 'h') {
			usage(stdout);
			exit(0);
		} else if (c == 'c') {
			o->cpu = parse_cpu("--cpu", optarg, false);
		} else if (c == 'p') {
			o->peer_cpu = parse_cpu("--peer-cpu", optarg, true);
		} else if (c == 's') {
			if (peer_parse_seconds(optarg, &o->seconds) < 0)
				bad = "--seconds: expected (0, 600]";
		} else if (c == 'r') {
			if (peer_parse_u64(optarg, 1, MAX_REPS, &v) < 0)
				bad = "--reps: expected 1-32";
			o->reps = (int)v;
		} else if (c == 'k') {
			if (peer_parse_u64(optarg, 1000, 1000000,
					   &o->max_keys) < 0)
				bad = "--max-keys: expected 1000-1000000";
		} else {
			usage(stderr);
			exit(2);
		}
		if (bad != NULL) {
			fprintf(stderr, ME ": %s, got '%s'\n", bad, optarg);
			exit(2);
		}
	}
	if (o->peer_cpu == o->cpu) {
		fprintf(stderr, ME ": --peer-cpu %d: expected a CPU other than "
				"--cpu\n", o->peer_cpu);
		exit(2);
	}
}

static void
eal_start(const struct bm_opts *o)
{
	char prefix[64], lcores[64];
	char *argv[] = {
		(char *)ME, (char *)"--no-huge", (char *)"--no-pci",
		(char *)"--no-shconf", (char *)"--no-telemetry", (char *)"-m",
		(char *)"256", (char *)"--log-level=4", (char *)"--file-prefix",
		prefix, (char *)"-l", lcores, NULL,
	};

	snprintf(prefix, sizeof(prefix), "bench_micro_%ld", (long)getpid());
	if (o->peer_cpu >= 0)
		snprintf(lcores, sizeof(lcores), "%d,%d", o->cpu, o->peer_cpu);
	else
		snprintf(lcores, sizeof(lcores), "%d", o->cpu);
	if (rte_eal_init((int)RTE_DIM(argv) - 1, argv) < 0) {
		fprintf(stderr, ME ": EAL: %s\n", rte_strerror(rte_errno));
		exit(1);
	}
}

/* The EAL's runtime directory: its files, then itself. */
int
main(int argc, char **argv)
{
	struct rte_mempool *mp;
	struct bm_opts o;
	char host[256] = "unknown";
	double t0 = peer_now_s();

	parse(argc, argv, &o);
	eal_start(&o);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	mp = rte_pktmbuf_pool_create("bm_pool", 255, 0, 0,
				     RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (mp == NULL)
		die("rte_pktmbuf_pool_create", rte_errno);
	gethostname(host, sizeof(host) - 1);
	printf("{\n \"bench\": \"micro\", \"host\": \"%s\", "
	       "\"cpus_online\": %ld, \"cpu\": %d, \"peer_cpu\": %d,\n"
	       " \"seconds_per_case\": %.3f, \"reps\": %d,\n",
	       host, sysconf(_SC_NPROCESSORS_ONLN), o.cpu, o.peer_cpu,
	       o.seconds, o.reps);
	bench_hop(&o, mp);
	bench_seq(&o);
	printf(" \"cpu_ran\": %d, \"cpu_share\": %.3f, \"interrupted\": %s\n}\n",
	       sched_getcpu(), cpu_share(t0), bm_interrupted ? "true" : "false");
	fprintf(stderr, " (CPU %d, peer CPU %d, %ld CPUs online)\n",
		sched_getcpu(), o.peer_cpu, sysconf(_SC_NPROCESSORS_ONLN));
	rte_mempool_free(mp);
	/* --no-shconf still makes the runtime directory; leave none behind */
	evg_eal_cleanup();
	return bm_interrupted ? 130 : 0;
}
