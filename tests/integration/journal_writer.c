/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * journal_writer: append a deterministic pattern of records to a journal
 * through the psync store, for the evtail integration test
 * (test_evtail.py mirrors the pattern).
 *
 *   journal_writer DIR [--partitions 2] [--producers 3] [--streams 4]
 *       [--events 1000] [--start 0] [--session 1] [--segment-bytes 65536]
 *       [--batch-bytes 16384] [--flush-every 64]
 *       [--ts-start 1795428000000000000] [--ts-step 1000000]
 *       [--seq-from N]
 *
 * Event i (start <= i < start + events):
 *   producer  1 + i % producers
 *   stream    (i / producers) % streams
 *   seq       1 + i / (producers * streams); with --seq-from N,
 *             N + (i - start) / (producers * streams) (a session that
 *             starts at --start)
 *   ts_ns     ts_start + i * ts_step (ingest_ns the same)
 *   key       empty when i % 13 == 0, else "key-%06d"
 *   value     empty when i % 11 == 0; else i % 7 == 3: 1 + i % 97 bytes
 *             (i * 31 + k) & 0xff; i % 7 == 5: "événement %d ✓"; else
 *             "value %d " and i % 80 'x's.
 *
 * It appends, flushes every flush-every events, polls until everything is
 * durable (written), closes and exits 0; 1 on any error (one line).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evg_journal.h"
#include "evg_store.h"

#define WAIT_S 30 /* for room in the buffers, and for durability */

struct writer_opts {
	const char *dir;
	uint64_t partitions, producers, streams, events, start, session;
	uint64_t segment_bytes, batch_bytes, flush_every, ts_start, ts_step;
	uint64_t seq_from; /* UINT64_MAX: not given */
};

struct writer {
	const struct writer_opts *o;
	struct evg_journal *j;
	uint64_t *ticket; /* highest ticket per partition */
	uint8_t value[128];
	char key[32];
};

static uint64_t
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

static int
parse_args(int argc, char **argv, struct writer_opts *o)
{
	static const struct option opts[] = {
		{"partitions", required_argument, NULL, 0},
		{"producers", required_argument, NULL, 0},
		{"streams", required_argument, NULL, 0},
		{"events", required_argument, NULL, 0},
		{"start", required_argument, NULL, 0},
		{"session", required_argument, NULL, 0},
		{"segment-bytes", required_argument, NULL, 0},
		{"batch-bytes", required_argument, NULL, 0},
		{"flush-every", required_argument, NULL, 0},
		{"ts-start", required_argument, NULL, 0},
		{"ts-step", required_argument, NULL, 0},
		{"seq-from", required_argument, NULL, 0},
		{NULL, 0, NULL, 0},
	};
	uint64_t *vals[] = {&o->partitions,    &o->producers,	&o->streams,
			    &o->events,	       &o->start,	&o->session,
			    &o->segment_bytes, &o->batch_bytes, &o->flush_every,
			    &o->ts_start,      &o->ts_step,	&o->seq_from};
	int c, idx;
	char *end;

	*o = (struct writer_opts){.partitions = 2,
				  .producers = 3,
				  .streams = 4,
				  .events = 1000,
				  .session = 1,
				  .segment_bytes = 65536,
				  .batch_bytes = 16384,
				  .flush_every = 64,
				  .ts_start = UINT64_C(1795428000000000000),
				  .ts_step = 1000000,
				  .seq_from = UINT64_MAX};
	while ((c = getopt_long(argc, argv, "", opts, &idx)) != -1) {
		if (c != 0)
			return -EINVAL;
		errno = 0;
		*vals[idx] = strtoull(optarg, &end, 10);
		if (*end != '\0' || errno != 0 || optarg[0] == '-') {
			fprintf(stderr,
				"journal_writer: --%s %s: not a number\n",
				opts[idx].name, optarg);
			return -EINVAL;
		}
	}
	if (optind + 1 != argc || o->producers == 0 || o->streams == 0 ||
	    o->flush_every == 0) {
		fprintf(stderr, "usage: journal_writer DIR [--partitions N] "
				"[--producers N] [--streams N] [--events N] "
				"...\n");
		return -EINVAL;
	}
	o->dir = argv[optind];
	return 0;
}

static void
event(struct writer *w, uint64_t i, struct evg_journal_rec *r)
{
	const struct writer_opts *o = w->o;
	int len = 0;

	*r = (struct evg_journal_rec){
		.producer_id = (uint32_t)(1 + i % o->producers),
		.stream_id = (uint32_t)(i / o->producers % o->streams),
		.session = o->session,
		.seq = 1 + i / (o->producers * o->streams),
		.ts_ns = o->ts_start + i * o->ts_step,
		.key = w->key,
		.value = w->value,
	};
	r->ingest_ns = r->ts_ns;
	if (o->seq_from != UINT64_MAX)
		r->seq = o->seq_from +
			 (i - o->start) / (o->producers * o->streams);
	if (i % 13 != 0)
		r->key_size = (uint32_t)snprintf(w->key, sizeof(w->key),
						 "key-%06" PRIu64, i);
	if (i % 11 == 0) {
		len = 0;
	} else if (i % 7 == 3) {
		len = (int)(1 + i % 97);
		for (int k = 0; k < len; k++)
			w->value[k] = (uint8_t)((i * 31 + (uint64_t)k) & 0xff);
	} else if (i % 7 == 5) {
		len = snprintf(
			(char *)w->value, sizeof(w->value),
			"\xc3\xa9v\xc3\xa9nement %" PRIu64 " \xe2\x9c\x93", i);
	} else {
		len = snprintf((char *)w->value, sizeof(w->value),
			       "value %" PRIu64 " %.*s", i, (int)(i % 80),
			       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	}
	r->value_size = (uint32_t)len;
}

static int
flush_all(struct writer *w, bool wait)
{
	uint64_t deadline = now_s() + WAIT_S;
	bool pending;

	do {
		pending = false;
		for (uint32_t p = 0; p < w->o->partitions; p++) {
			uint64_t durable = 0;
			int ret = evg_journal_flush(w->j, p);

			if (ret >= 0)
				ret = evg_journal_poll(w->j, p, &durable);
			if (ret < 0)
				return ret;
			pending |= durable < w->ticket[p];
		}
	} while (wait && pending && now_s() < deadline);
	return wait && pending ? -ETIMEDOUT : 0;
}

static int
append(struct writer *w, uint64_t i)
{
	uint64_t deadline = now_s() + WAIT_S;
	struct evg_journal_rec r;
	uint64_t off;
	uint32_t p;
	int64_t t;

	event(w, i, &r);
	p = evg_journal_partition(w->j, r.stream_id);
	while ((t = evg_journal_append(w->j, p, &r, 1, &off)) == -ENOBUFS &&
	       now_s() < deadline)
		flush_all(w, false);
	if (t < 0)
		return (int)t;
	if ((uint64_t)t > w->ticket[p])
		w->ticket[p] = (uint64_t)t;
	return 0;
}

static int
write_events(struct writer *w)
{
	const struct writer_opts *o = w->o;
	int ret = 0;

	for (uint64_t i = o->start; i < o->start + o->events && ret == 0; i++) {
		ret = append(w, i);
		if (ret == 0 && (i + 1 - o->start) % o->flush_every == 0)
			ret = flush_all(w, false);
	}
	if (ret == 0)
		ret = flush_all(w, true);
	return ret;
}

int
main(int argc, char **argv)
{
	struct evg_journal_recovery rep;
	struct writer_opts o;
	struct evg_journal_conf conf;
	struct writer w = {.o = &o};
	char err[256] = "";
	int ret;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	conf = (struct evg_journal_conf){
		.dir = o.dir,
		.store = evg_store_find("psync"),
		.partitions = (uint32_t)o.partitions,
		.segment_bytes = o.segment_bytes,
		.batch_bytes = (uint32_t)o.batch_bytes,
		.index_interval = 4096,
		.level = EVG_JOURNAL_WRITTEN,
		.depth = 8,
		.socket_id = -1,
	};
	w.ticket = calloc(o.partitions, sizeof(*w.ticket));
	if (conf.store == NULL || w.ticket == NULL) {
		fprintf(stderr,
			"journal_writer: no psync store or no memory\n");
		return 1;
	}
	ret = evg_journal_open(&conf, &w.j, &rep, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "journal_writer: %s: %s\n", o.dir,
			err[0] != '\0' ? err : strerror(-ret));
		return 1;
	}
	ret = write_events(&w);
	if (ret < 0)
		fprintf(stderr, "journal_writer: %s: appending: %s\n", o.dir,
			strerror(-ret));
	if (evg_journal_close(w.j) < 0 && ret == 0)
		ret = -EIO;
	free(w.ticket);
	if (ret == 0)
		printf("journal_writer: %s: events %" PRIu64 "..%" PRIu64
		       " appended, recovered %" PRIu64 " records before\n",
		       o.dir, o.start, o.start + o.events - 1, rep.records);
	return ret < 0 ? 1 : 0;
}
