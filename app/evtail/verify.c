/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * evtail --verify: read every record of every partition (the reader checks
 * each batch's CRC-32C: -EBADMSG is a corrupt batch before the tail; a torn
 * tail is the end, as for evgate's recovery) and check that within each
 * (producer, stream, session) the seqs rise strictly: no duplicate and no
 * step back. Offsets must rise within a partition.
 *
 * The seq state is an open-addressing table keyed by (producer, stream,
 * session): a session that comes back later is still checked against what
 * it had.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "evtail.h"

/* Problems printed one a line; past this many, only counted. */
#define PROBLEMS_SHOWN 100u

struct seq_slot {
	uint64_t session;
	uint64_t seq;	 /* the highest so far */
	uint64_t offset; /* where it was */
	uint32_t producer;
	uint32_t stream;
	uint32_t partition;
	bool used;
};

struct verify {
	const struct evtail_opts *o;
	struct seq_slot *slots;
	size_t cap; /* a power of two */
	size_t used;
	uint64_t records;
	uint64_t problems;
	uint32_t partitions;
};

static void
problem(struct verify *v, uint32_t partition, uint64_t offset, const char *what)
{
	if (v->problems++ < PROBLEMS_SHOWN)
		printf("%s: partition %" PRIu32 ", offset %" PRIu64 ": %s\n",
		       v->o->dir, partition, offset, what);
}

static size_t
slot_hash(uint32_t producer, uint32_t stream, uint64_t session)
{
	uint64_t h = ((uint64_t)producer << 32 | stream) ^
		     (session * 0x9e3779b97f4a7c15ull);

	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 29;
	return (size_t)h;
}

static struct seq_slot *
slot_find(struct seq_slot *slots, size_t cap, uint32_t producer,
	  uint32_t stream, uint64_t session)
{
	size_t i = slot_hash(producer, stream, session) & (cap - 1);

	while (slots[i].used &&
	       (slots[i].producer != producer || slots[i].stream != stream ||
		slots[i].session != session))
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
			*slot_find(slots, cap, s->producer, s->stream,
				   s->session) = *s;
	}
	free(v->slots);
	v->slots = slots;
	v->cap = cap;
	return 0;
}

static int
check_seq(struct verify *v, const struct evg_journal_entry *e)
{
	const struct evg_journal_rec *r = &e->rec;
	struct seq_slot *s;
	char what[256];

	if ((v->used + 1) * 2 > v->cap && slots_grow(v) < 0)
		return -ENOMEM;
	s = slot_find(v->slots, v->cap, r->producer_id, r->stream_id,
		      r->session);
	if (!s->used) {
		*s = (struct seq_slot){.producer = r->producer_id,
				       .stream = r->stream_id,
				       .session = r->session,
				       .used = true};
		v->used++;
	} else if (r->seq <= s->seq) {
		snprintf(what, sizeof(what),
			 "producer %" PRIu32 ", stream %" PRIu32
			 ", session %" PRIu64 ": seq %" PRIu64
			 " %s seq %" PRIu64 " (partition %" PRIu32
			 ", offset %" PRIu64 ")",
			 r->producer_id, r->stream_id, r->session, r->seq,
			 r->seq == s->seq ? "duplicates" : "goes back after",
			 s->seq, s->partition, s->offset);
		problem(v, e->partition, e->offset, what);
		return 0;
	}
	s->seq = r->seq;
	s->partition = e->partition;
	s->offset = e->offset;
	return 0;
}

static void
corrupt(struct verify *v, uint32_t p, uint64_t next, bool any, int err)
{
	char what[160];

	if (err == -EBADMSG)
		snprintf(what, sizeof(what),
			 "corrupt batch (CRC or framing)%s; the rest of "
			 "partition %" PRIu32 " is not checked",
			 any ? "" : " where the partition starts", p);
	else
		snprintf(what, sizeof(what),
			 "%s; the rest of partition %" PRIu32 " is not checked",
			 strerror(-err), p);
	problem(v, p, next, what);
}

/* Every record of partition p; a negative errno when evtail cannot go on
 * (said). Corruption is a problem, not an error. */
static int
verify_partition(struct verify *v, uint32_t p)
{
	struct evg_journal_reader *r;
	struct evg_journal_entry e;
	uint64_t next = 0;
	bool any = false;
	char err[256] = "";
	int ret;

	ret = evg_journal_reader_open(v->o->dir, p, &r, err, sizeof(err));
	if (ret < 0) { /* err names the directory too */
		fprintf(stderr, "evtail: %s: partition %" PRIu32 ": %s\n",
			v->o->dir, p, strerror(-ret));
		return ret;
	}
	while ((ret = evg_journal_reader_next(r, &e)) == 0) {
		if (any && e.offset < next) {
			snprintf(err, sizeof(err),
				 "offset after offset %" PRIu64 " (not rising)",
				 next - 1);
			problem(v, p, e.offset, err);
		}
		any = true;
		next = e.offset + 1;
		v->records++;
		ret = check_seq(v, &e);
		if (ret < 0)
			break;
	}
	evg_journal_reader_close(r);
	if (ret == -ENOMEM) {
		fprintf(stderr, "evtail: %s\n", strerror(ENOMEM));
		return ret;
	}
	if (ret != -ENODATA)
		corrupt(v, p, next, any, ret);
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Distinct producers (with_stream: (producer, stream) pairs) seen. */
static uint64_t
count_distinct(const struct verify *v, bool with_stream)
{
	uint64_t *ids = malloc((v->used + 1) * sizeof(*ids));
	uint64_t n = 0;
	size_t k = 0;

	if (ids == NULL)
		return 0;
	for (size_t i = 0; i < v->cap; i++) {
		const struct seq_slot *s = &v->slots[i];

		if (s->used)
			ids[k++] = (uint64_t)s->producer << 32 |
				   (with_stream ? s->stream : 0);
	}
	qsort(ids, k, sizeof(*ids), cmp_u64);
	for (size_t i = 0; i < k; i++)
		if (i == 0 || ids[i] != ids[i - 1])
			n++;
	free(ids);
	return n;
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
	if (ret == 0) {
		if (v.problems > PROBLEMS_SHOWN)
			printf("%s: %" PRIu64 " more problems not shown\n",
			       o->dir, v.problems - PROBLEMS_SHOWN);
		printf("%s: partitions %" PRIu32 ", records %" PRIu64
		       ", producers %" PRIu64 ", producer streams %" PRIu64
		       ", sessions %zu, problems %" PRIu64 "\n",
		       o->dir, v.partitions, v.records,
		       count_distinct(&v, false), count_distinct(&v, true),
		       v.used, v.problems);
	}
	free(v.slots);
	if (ret == -ENOMEM)
		return EVTAIL_EXIT_BAD;
	if (ret < 0)
		return EVTAIL_EXIT_USAGE;
	return v.problems != 0 ? EVTAIL_EXIT_BAD : EVTAIL_EXIT_OK;
}
