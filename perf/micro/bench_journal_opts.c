/* SPDX-License-Identifier: BSD-3-Clause */
/* bench_journal: the command line and the head of the JSON output. */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_journal.h"
#include "bench_null_store.h"

static void
usage(FILE *f)
{
	fprintf(f,
		"Usage: " ME " [options]\n"
		"  --mode M        append (default) or latency\n"
		"  --dir D         where the scratch log lives (default /var/tmp)\n"
		"  --store S       null (no I/O, default), mem, uring, psync\n"
		"  --sizes L       event value bytes, comma list (default "
		"64,256,1024; latency: the first)\n"
		"  --flush L       append: flush every N events, comma list, 0 = "
		"when the batch is full (default 32,256)\n"
		"  --burst N       append: records per append call (default 32, "
		"max %d)\n"
		"  --lat-events N  latency: events per batch (default 1)\n"
		"  --batch-kib N   batch (group-commit buffer) size (default 256)\n"
		"  --level L       written (default) or synced\n"
		"  --sync M        synced through dsync (default) or fdatasync\n"
		"  --depth N       store queue depth (default 64)\n"
		"  --segment-mib N segment size (default 256); 4 segments kept\n"
		"  --max-mib N     append: a repetition stops after this many "
		"MiB reach the store (default 65536)\n"
		"  --seconds S     per case, (0, 600] (default 3)\n"
		"  --reps R        append: repetitions per case, 1-%d (default "
		"5)\n"
		"  --cpu N         pin to CPU N (default -1: not pinned)\n"
		"  --io-cpus L     CPUs of the kernel's io workers (uring store):\n"
		"                  auto (default: those the bench may use but\n"
		"                  --cpu; none left: same), same (the bench\n"
		"                  thread's), or a comma list of CPU ids\n"
		"Prints one JSON object on stdout, a summary line on stderr.\n",
		MAX_BURST, MAX_REPS);
}

static void
bad(const char *opt, const char *val, const char *want)
{
	fprintf(stderr, ME ": %s '%s': expected %s\n", opt, val, want);
	exit(2);
}

static unsigned int
parse_list(const char *opt, const char *val, uint64_t lo, uint64_t hi,
	   uint64_t *out)
{
	char buf[256], *save = NULL, *tok;
	unsigned int n = 0;

	snprintf(buf, sizeof(buf), "%s", val);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		if (n == MAX_CASES || peer_parse_u64(tok, lo, hi, &out[n]) < 0)
			bad(opt, val, "a comma list of up to 8 whole numbers "
				      "in range");
		n++;
	}
	if (n == 0)
		bad(opt, val, "a comma list of whole numbers");
	return n;
}

static uint64_t
parse_num(const char *opt, const char *val, uint64_t lo, uint64_t hi)
{
	uint64_t v;

	if (peer_parse_u64(val, lo, hi, &v) < 0) {
		char want[96];

		snprintf(want, sizeof(want), "a whole number %llu-%llu",
			 (unsigned long long)lo, (unsigned long long)hi);
		bad(opt, val, want);
	}
	return v;
}

static void
parse_word(const char *opt, const char *val, struct bj_opts *o)
{
	if (strcmp(opt, "--mode") == 0 && strcmp(val, "append") == 0)
		o->mode = BJ_APPEND;
	else if (strcmp(opt, "--mode") == 0 && strcmp(val, "latency") == 0)
		o->mode = BJ_LATENCY;
	else if (strcmp(opt, "--level") == 0 && strcmp(val, "written") == 0)
		o->level = EVG_JOURNAL_WRITTEN;
	else if (strcmp(opt, "--level") == 0 && strcmp(val, "synced") == 0)
		o->level = EVG_JOURNAL_SYNCED;
	else if (strcmp(opt, "--sync") == 0 && strcmp(val, "dsync") == 0)
		o->sync_mode = EVG_JOURNAL_SYNC_DSYNC;
	else if (strcmp(opt, "--sync") == 0 && strcmp(val, "fdatasync") == 0)
		o->sync_mode = EVG_JOURNAL_SYNC_FDATASYNC;
	else if (strcmp(opt, "--store") == 0) {
		o->store_name = val;
		o->store = strcmp(val, "null") == 0 ? &bench_null_store_ops
						    : evg_store_find(val);
		if (o->store == NULL)
			bad(opt, val, "null, mem, uring or psync");
	} else
		bad(opt, val, strcmp(opt, "--mode") == 0 ? "append or latency"
			      : strcmp(opt, "--level") == 0
				      ? "written or synced"
				      : "dsync or fdatasync");
}

static void
parse_opt(int c, const char *val, struct bj_opts *o)
{
	switch (c) {
	case 'm': parse_word("--mode", val, o); break;
	case 'd': o->dir = val; break;
	case 'S': parse_word("--store", val, o); break;
	case 'z': o->nsizes = parse_list("--sizes", val, 1, 65536, o->sizes);
		break;
	case 'f': o->nflushes = parse_list("--flush", val, 0, 1u << 24,
					   o->flushes);
		break;
	case 'b': o->burst = parse_num("--burst", val, 1, MAX_BURST); break;
	case 'e': o->lat_events = parse_num("--lat-events", val, 1, MAX_BURST);
		break;
	case 'k': o->batch_kib = parse_num("--batch-kib", val, 8, 65536);
		break;
	case 'l': parse_word("--level", val, o); break;
	case 'y': parse_word("--sync", val, o); break;
	case 'q': o->depth = parse_num("--depth", val, 1, 4096); break;
	case 'g': o->segment_mib = parse_num("--segment-mib", val, 1, 65536);
		break;
	case 'x': o->max_mib = parse_num("--max-mib", val, 1, 1u << 30);
		break;
	case 's':
		if (peer_parse_seconds(val, &o->seconds) < 0)
			bad("--seconds", val, "a number of seconds in (0, 600]");
		break;
	case 'r': o->reps = (int)parse_num("--reps", val, 1, MAX_REPS); break;
	case 'i': o->io_cpus_arg = val; break;
	case 'c':
		o->cpu = strcmp(val, "-1") == 0
				 ? -1
				 : (int)parse_num("--cpu", val, 0, CPU_SETSIZE - 1);
		break;
	}
}

void
bj_parse(int argc, char **argv, struct bj_opts *o)
{
	static const struct option opts[] = {
		{"mode", 1, NULL, 'm'},	      {"dir", 1, NULL, 'd'},
		{"store", 1, NULL, 'S'},      {"sizes", 1, NULL, 'z'},
		{"flush", 1, NULL, 'f'},      {"burst", 1, NULL, 'b'},
		{"lat-events", 1, NULL, 'e'}, {"batch-kib", 1, NULL, 'k'},
		{"level", 1, NULL, 'l'},      {"sync", 1, NULL, 'y'},
		{"depth", 1, NULL, 'q'},      {"segment-mib", 1, NULL, 'g'},
		{"max-mib", 1, NULL, 'x'},    {"seconds", 1, NULL, 's'},
		{"reps", 1, NULL, 'r'},	      {"cpu", 1, NULL, 'c'},
		{"io-cpus", 1, NULL, 'i'},    {"help", 0, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	*o = (struct bj_opts){
		.dir = "/var/tmp", .store_name = "null",
		.store = &bench_null_store_ops, .mode = BJ_APPEND,
		.sizes = {64, 256, 1024}, .nsizes = 3,
		.flushes = {32, 256}, .nflushes = 2,
		.batch_kib = 256, .depth = 64, .burst = 32, .lat_events = 1,
		.segment_mib = 256, .max_mib = 65536,
		.level = EVG_JOURNAL_WRITTEN,
		.sync_mode = EVG_JOURNAL_SYNC_DSYNC, .seconds = 3, .reps = 5,
		.cpu = -1, .io_cpus_arg = "auto",
	};
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (c == '?') {
			usage(stderr);
			exit(2);
		}
		parse_opt(c, optarg, o);
	}
	if (optind < argc)
		bad("argument", argv[optind], "options only (see --help)");
	if (o->batch_kib % 4 != 0 || o->segment_mib << 10 < o->batch_kib)
		bad("--batch-kib", "", "a multiple of 4, at most the segment");
}

/* --io-cpus into o->io_cpus (has_io_cpus false: "same"); allowed: the
 * CPUs the process may use. */
static void
io_cpus_resolve(struct bj_opts *o, const cpu_set_t *allowed)
{
	uint64_t ids[MAX_CASES];
	unsigned int n;
	size_t len = 0;

	CPU_ZERO(&o->io_cpus);
	if (strcmp(o->io_cpus_arg, "same") == 0) {
		snprintf(o->io_cpus_text, sizeof(o->io_cpus_text), "same");
		return;
	}
	if (strcmp(o->io_cpus_arg, "auto") == 0) {
		if (o->cpu >= 0) { /* unpinned, the bench has no CPU of its own */
			CPU_OR(&o->io_cpus, &o->io_cpus, allowed);
			CPU_CLR(o->cpu, &o->io_cpus);
		}
	} else {
		n = parse_list("--io-cpus", o->io_cpus_arg, 0,
			       CPU_SETSIZE - 1, ids);
		for (unsigned int i = 0; i < n; i++) {
			if (!CPU_ISSET(ids[i], allowed))
				bad("--io-cpus", o->io_cpus_arg,
				    "CPUs this process may run on");
			CPU_SET(ids[i], &o->io_cpus);
		}
	}
	o->has_io_cpus = CPU_COUNT(&o->io_cpus) > 0;
	if (!o->has_io_cpus) {
		snprintf(o->io_cpus_text, sizeof(o->io_cpus_text), "same");
		return;
	}
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &o->io_cpus) &&
		    len + 8 < sizeof(o->io_cpus_text))
			len += (size_t)snprintf(o->io_cpus_text + len,
						sizeof(o->io_cpus_text) - len,
						"%s%d", len ? "," : "", c);
}

void
bj_pin(struct bj_opts *o)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) != 0) {
		fprintf(stderr, ME ": sched_getaffinity: %s\n", strerror(errno));
		exit(2);
	}
	io_cpus_resolve(o, &set);
	if (o->cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(o->cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0) {
		fprintf(stderr, ME ": --cpu %d: %s\n", o->cpu, strerror(errno));
		exit(2);
	}
}

static const char *
level_name(const struct bj_opts *o)
{
	if (o->level == EVG_JOURNAL_WRITTEN)
		return "written";
	return o->sync_mode == EVG_JOURNAL_SYNC_DSYNC ? "synced_dsync"
						      : "synced_fdatasync";
}

void
bj_print_head(const struct bj_opts *o, const char *host,
	      const struct peer_fs *fs)
{
	printf("{\n \"bench\": \"journal_%s\", \"host\": \"%s\", "
	       "\"cpus_online\": %ld, \"cpu\": %d, \"io_cpus\": \"%s\",\n"
	       " \"dir\": \"%s\", \"fs\": \"%s\", \"device\": \"%s\",\n"
	       " \"store\": \"%s\", \"level\": \"%s\", \"batch_bytes\": %llu, "
	       "\"depth\": %llu, \"segment_bytes\": %llu,\n"
	       " \"seconds_per_case\": %.3f, \"reps\": %d,\n",
	       o->mode == BJ_APPEND ? "append" : "latency", host,
	       sysconf(_SC_NPROCESSORS_ONLN), o->cpu, o->io_cpus_text, o->dir,
	       fs->type,
	       fs->dev, o->store_name, level_name(o),
	       (unsigned long long)o->batch_kib << 10,
	       (unsigned long long)o->depth,
	       (unsigned long long)o->segment_mib << 20, o->seconds,
	       o->mode == BJ_APPEND ? o->reps : 1);
}
