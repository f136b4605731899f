/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * evtail --verify: read every batch of every partition (the reader checks
 * each batch's CRC-32C, framing and offsets) and every record's place in
 * its (producer, stream) sequence, as PROTOCOL.md defines it: within a
 * session the seqs follow on one by one (no duplicate, no step back, no
 * gap); a higher session starts a new sequence at seq 0; a lower session
 * than one already in the log (a fenced one) never appears.
 *
 * A corrupt batch (or an incomplete one, or records missing between
 * segments) followed by data is reported with its partition, segment
 * file, byte position and offset; the rest of that segment is skipped
 * (evg_journal_reader_skip_segment) and the later segments are verified.
 * The newest data of a partition may end in a torn tail, an incomplete
 * last batch: a running evgate may be appending it (or a crash left it,
 * which recovery cuts), so it is reported but is not corruption. A
 * complete batch that is bad there is corruption, once it is still bad
 * when read again RETRY_NS later (a write that lands out of order may
 * show half done for a moment).
 *
 * With --json, one JSON line per (producer, stream, session) too: its
 * first and last seq and its records in order, so that a test can check
 * millions of ACKed events without reading every record.
 *
 * The first record of a (producer, stream) is not checked against seq 0:
 * retention may have removed what came before it. After a skipped
 * segment, the next record of each (producer, stream) may leave a gap or
 * open a session at any seq: those records went with the segment.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evtail.h"

/* Problems printed one a line; past this many, only counted. */
#define PROBLEMS_SHOWN 100u
/* A bad last batch is read again this much later, at most RETRIES times
 * per partition. */
#define RETRY_NS (200 * 1000 * 1000)
#define RETRIES 3u

/* The state of one (producer, stream): its current session and the
 * highest seq of it so far. */
struct seq_slot {
	uint64_t session;
	uint64_t seq;
	uint64_t first_seq; /* of the session, as in the log */
	uint64_t records;   /* of the session that followed in order */
	uint64_t offset;    /* where it was */
	uint64_t gen;	    /* verify's skip count when it was */
	uint32_t producer;
	uint32_t stream;
	uint32_t partition;
	bool used;
};

/* Totals, per partition and over all. */
struct counts {
	uint64_t segments;
	uint64_t batches;
	uint64_t records;
	uint64_t corrupt;
	uint64_t seq_errors;
	uint64_t torn;
	uint64_t other; /* read errors */
};

struct verify {
	const struct evtail_opts *o;
	struct seq_slot *slots;
	size_t cap; /* a power of two */
	size_t used;
	uint64_t sessions;
	uint64_t gen; /* segments skipped so far */
	uint64_t shown;
	struct counts part;
	struct counts all;
	uint32_t partitions;
};

static void __attribute__((format(printf, 4, 5)))
problem(struct verify *v, uint32_t partition, uint64_t offset, const char *fmt,
	...)
{
	va_list ap;

	if (v->shown++ >= PROBLEMS_SHOWN)
		return;
	printf("%s: partition %" PRIu32 ", offset %" PRIu64 ": ", v->o->dir,
	       partition, offset);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static size_t
slot_hash(uint32_t producer, uint32_t stream)
{
	uint64_t h = (uint64_t)producer << 32 | stream;

	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 29;
	return (size_t)h;
}

static struct seq_slot *
slot_find(struct seq_slot *slots, size_t cap, uint32_t producer,
	  uint32_t stream)
{
	size_t i = slot_hash(producer, stream) & (cap - 1);

	while (slots[i].used &&
	       (slots[i].producer != producer || slots[i].stream != stream))
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

/* Keeps the table at most half full. */
static int
slots_grow(struct verify *v)
{
	size_t cap = v->cap == 0 ? 1024 : v->cap * 2;
	struct seq_slot *slots = calloc(cap, sizeof(*slots));

	if (slots == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < v->cap; i++) {
		const struct seq_slot *s = &v->slots[i];

		if (s->used)
			*slot_find(slots, cap, s->producer, s->stream) = *s;
	}
	free(v->slots);
	v->slots = slots;
	v->cap = cap;
	return 0;
}

static void
seq_error(struct verify *v, const struct evg_journal_entry *e,
	  const struct seq_slot *s, const char *what)
{
	const struct evg_journal_rec *r = &e->rec;

	v->part.seq_errors++;
	problem(v, e->partition, e->offset,
		"producer %" PRIu32 ", stream %" PRIu32 ", session %" PRIu64
		": seq %" PRIu64 " %s (partition %" PRIu32 ", offset %" PRIu64
		")",
		r->producer_id, r->stream_id, r->session, r->seq, what,
		s->partition, s->offset);
}

/* Whether record e may follow the state s; says why not. Returns true
 * when the state moves on to e. */
static bool
seq_follows(struct verify *v, const struct evg_journal_entry *e,
	    const struct seq_slot *s)
{
	const struct evg_journal_rec *r = &e->rec;
	bool skipped = s->gen != v->gen; /* records may be gone between */
	char what[160];

	if (r->session < s->session) {
		snprintf(what, sizeof(what),
			 "of a session older than session %" PRIu64 " (fenced)",
			 s->session);
		seq_error(v, e, s, what);
		return false;
	}
	if (r->session > s->session) {
		v->sessions++;
		if (r->seq != 0 && !skipped) {
			snprintf(what, sizeof(what),
				 "opens the session after session %" PRIu64
				 ", expected seq 0",
				 s->session);
			seq_error(v, e, s, what);
		}
		return true;
	}
	if (r->seq <= s->seq) {
		snprintf(what, sizeof(what), "%s seq %" PRIu64,
			 r->seq == s->seq ? "duplicates" : "goes back after",
			 s->seq);
		seq_error(v, e, s, what);
		return false;
	}
	if (r->seq != s->seq + 1 && !skipped) {
		snprintf(what, sizeof(what),
			 "follows seq %" PRIu64 ": seqs %" PRIu64 "..%" PRIu64
			 " missing",
			 s->seq, s->seq + 1, r->seq - 1);
		seq_error(v, e, s, what);
	}
	return true;
}

/* --verify --json: one line per (producer, stream, session). */
static void
session_line(const struct verify *v, const struct seq_slot *s)
{
	if (!v->o->json)
		return;
	printf("{\"producer\": %" PRIu32 ", \"stream\": %" PRIu32
	       ", \"session\": %" PRIu64 ", \"first_seq\": %" PRIu64
	       ", \"last_seq\": %" PRIu64 ", \"records\": %" PRIu64
	       ", \"partition\": %" PRIu32 "}\n",
	       s->producer, s->stream, s->session, s->first_seq, s->seq,
	       s->records, s->partition);
}

static int
check_seq(struct verify *v, const struct evg_journal_entry *e)
{
	const struct evg_journal_rec *r = &e->rec;
	struct seq_slot *s;

	if ((v->used + 1) * 2 > v->cap && slots_grow(v) < 0)
		return -ENOMEM;
	s = slot_find(v->slots, v->cap, r->producer_id, r->stream_id);
	if (!s->used) {
		*s = (struct seq_slot){.producer = r->producer_id,
				       .stream = r->stream_id,
				       .used = true};
		v->used++;
		v->sessions++;
	} else if (!seq_follows(v, e, s)) {
		return 0;
	}
	if (s->records == 0 || r->session != s->session) {
		if (s->records != 0)
			session_line(v, s);
		s->first_seq = r->seq;
		s->records = 0;
	}
	s->records++;
	s->session = r->session;
	s->seq = r->seq;
	s->partition = e->partition;
	s->offset = e->offset;
	s->gen = v->gen;
	return 0;
}

static void
seg_name(char *buf, size_t len, const struct evg_journal_reader_pos *ps)
{
	snprintf(buf, len, "p%04" PRIu32 "/%020" PRIu64 ".seg", ps->partition,
		 ps->segment_base);
}

static const char *
stop_what(enum evg_journal_reader_stop stop)
{
	switch (stop) {
	case EVG_JOURNAL_STOP_BAD:
		return "corrupt batch (CRC-32C, framing or offsets)";
	case EVG_JOURNAL_STOP_TORN:
		return "corrupt segment: incomplete batch before later data";
	case EVG_JOURNAL_STOP_GAP:
		return "corrupt log: records missing after the segment end";
	default:
		return "corrupt log";
	}
}

/* After -EBADMSG: say where, skip the rest of the segment. 0 to go on,
 * 1 when nothing follows, < 0 on errors (said). */
static int
corrupt_segment(struct verify *v, struct evg_journal_reader *r)
{
	struct evg_journal_reader_pos at, next;
	char name[48], later[48];
	int ret;

	evg_journal_reader_pos(r, &at);
	seg_name(name, sizeof(name), &at);
	v->part.corrupt++;
	ret = evg_journal_reader_skip_segment(r);
	if (ret < 0 && ret != -ENODATA)
		return ret;
	evg_journal_reader_pos(r, &next);
	seg_name(later, sizeof(later), &next);
	if (ret == -ENODATA) {
		problem(v, at.partition, at.next_offset,
			"%s at byte %" PRIu64 " of %s; nothing after it",
			stop_what(at.stop), at.stop_pos, name);
		return 1;
	}
	v->gen++;
	problem(v, at.partition, at.next_offset,
		"%s at byte %" PRIu64 " of %s; offsets %" PRIu64 "..%" PRIu64
		" not read, verify goes on at %s",
		stop_what(at.stop), at.stop_pos, name, at.next_offset,
		next.segment_base - 1, later);
	return 0;
}

/* At the end of a partition's data: a torn tail is said but is no
 * problem; a complete bad batch is, when still bad after a while.
 * 1 when the reader should go on (the batch got written). */
static int
tail(struct verify *v, struct evg_journal_reader *r, unsigned int *retries)
{
	const struct timespec wait = {.tv_nsec = RETRY_NS};
	struct evg_journal_reader_pos ps;
	char name[48];

	evg_journal_reader_pos(r, &ps);
	if (ps.stop == EVG_JOURNAL_STOP_BAD && (*retries)++ < RETRIES) {
		nanosleep(&wait, NULL);
		return 1;
	}
	seg_name(name, sizeof(name), &ps);
	if (ps.stop == EVG_JOURNAL_STOP_TORN) {
		v->part.torn++;
		printf("%s: partition %" PRIu32 ", offset %" PRIu64
		       ": torn tail at byte %" PRIu64 " of %s (an append in "
		       "progress, or a crash that recovery cuts): not "
		       "corruption\n",
		       v->o->dir, ps.partition, ps.next_offset, ps.stop_pos,
		       name);
	} else if (ps.stop == EVG_JOURNAL_STOP_BAD) {
		v->part.corrupt++;
		problem(v, ps.partition, ps.next_offset,
			"%s at byte %" PRIu64 " of %s, the newest segment: "
			"complete but bad",
			stop_what(ps.stop), ps.stop_pos, name);
	}
	return 0;
}

/* Read partition p to its end. < 0 when evtail cannot go on (said). */
static int
read_partition(struct verify *v, struct evg_journal_reader *r, uint32_t p)
{
	struct evg_journal_entry e;
	unsigned int retries = 0;
	uint64_t next = 0;
	bool any = false;
	int ret;

	for (;;) {
		ret = evg_journal_reader_next(r, &e);
		if (ret == 0) {
			if (any && e.offset < next)
				problem(v, p, e.offset,
					"offset after offset %" PRIu64
					" (not rising)",
					next - 1);
			v->part.other += any && e.offset < next;
			any = true;
			next = e.offset + 1;
			v->part.records++;
			ret = check_seq(v, &e);
		} else if (ret == -EBADMSG) {
			ret = corrupt_segment(v, r);
		} else if (ret == -ENODATA) {
			if (tail(v, r, &retries) == 0)
				return 0;
			continue;
		}
		if (ret == 1)
			return 0;
		if (ret < 0)
			return ret;
	}
}

static void
add_counts(struct counts *to, const struct counts *c)
{
	to->segments += c->segments;
	to->batches += c->batches;
	to->records += c->records;
	to->corrupt += c->corrupt;
	to->seq_errors += c->seq_errors;
	to->torn += c->torn;
	to->other += c->other;
}

/* Every record of partition p; a negative errno when evtail cannot go on
 * (said). Corruption is a problem, not an error. */
static int
verify_partition(struct verify *v, uint32_t p)
{
	struct evg_journal_reader_pos ps;
	struct evg_journal_reader *r;
	char err[256] = "";
	int ret;

	v->part = (struct counts){0};
	ret = evg_journal_reader_open(v->o->dir, p, &r, err, sizeof(err));
	if (ret < 0) { /* err names the directory too */
		fprintf(stderr, "evtail: %s: partition %" PRIu32 ": %s\n",
			v->o->dir, p, strerror(-ret));
		return ret;
	}
	ret = read_partition(v, r, p);
	evg_journal_reader_pos(r, &ps);
	evg_journal_reader_close(r);
	if (ret == -ENOMEM) {
		fprintf(stderr, "evtail: %s\n", strerror(ENOMEM));
		return ret;
	}
	if (ret < 0) {
		v->part.other++;
		problem(v, p, ps.next_offset,
			"%s; the rest of partition %" PRIu32 " is not checked",
			strerror(-ret), p);
	}
	v->part.segments = ps.segments;
	v->part.batches = ps.batches;
	printf("%s: partition %" PRIu32 ": segments %" PRIu64
	       ", batches %" PRIu64 ", records %" PRIu64
	       ", corrupt batches %" PRIu64 ", sequence errors %" PRIu64
	       ", torn tail %s\n",
	       v->o->dir, p, ps.segments, ps.batches, v->part.records,
	       v->part.corrupt, v->part.seq_errors,
	       v->part.torn ? "yes" : "no");
	add_counts(&v->all, &v->part);
	return 0;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* Distinct producers seen. */
static uint64_t
count_producers(const struct verify *v)
{
	uint32_t *ids = malloc((v->used + 1) * sizeof(*ids));
	uint64_t n = 0;
	size_t k = 0;

	if (ids == NULL)
		return 0;
	for (size_t i = 0; i < v->cap; i++)
		if (v->slots[i].used)
			ids[k++] = v->slots[i].producer;
	qsort(ids, k, sizeof(*ids), cmp_u32);
	for (size_t i = 0; i < k; i++)
		if (i == 0 || ids[i] != ids[i - 1])
			n++;
	free(ids);
	return n;
}

static void
summary(const struct verify *v)
{
	const struct counts *a = &v->all;
	uint64_t problems = a->corrupt + a->seq_errors + a->other;

	if (v->shown > PROBLEMS_SHOWN)
		printf("%s: %" PRIu64 " more problems not shown\n", v->o->dir,
		       v->shown - PROBLEMS_SHOWN);
	printf("%s: partitions %" PRIu32 ", segments %" PRIu64
	       ", batches %" PRIu64 ", records %" PRIu64 ", producers %" PRIu64
	       ", producer streams %zu"
	       ", sessions %" PRIu64 ", corrupt batches %" PRIu64
	       ", sequence errors %" PRIu64 ", torn tails %" PRIu64
	       ", problems %" PRIu64 "\n",
	       v->o->dir, v->partitions, a->segments, a->batches, a->records,
	       count_producers(v), v->used, v->sessions, a->corrupt,
	       a->seq_errors, a->torn, problems);
}

int
evtail_verify(const struct evtail_opts *o, uint32_t partitions)
{
	struct verify v = {.o = o};
	uint32_t first = o->all_partitions ? 0 : o->partition;
	uint32_t end = o->all_partitions ? partitions : o->partition + 1;
	int ret = 0;

	for (uint32_t p = first; p < end && ret == 0; p++) {
		ret = verify_partition(&v, p);
		v.partitions++;
	}
	for (size_t i = 0; ret == 0 && i < v.cap; i++)
		if (v.slots[i].used)
			session_line(&v, &v.slots[i]);
	if (ret == 0)
		summary(&v);
	free(v.slots);
	if (ret == -ENOMEM)
		return EVTAIL_EXIT_BAD;
	if (ret < 0)
		return EVTAIL_EXIT_USAGE;
	return v.all.corrupt + v.all.seq_errors + v.all.other != 0
		       ? EVTAIL_EXIT_BAD
		       : EVTAIL_EXIT_OK;
}
