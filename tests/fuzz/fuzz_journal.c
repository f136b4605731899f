/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: the journal's segment scan, recovery, checkpoints, index
 * files and readers, over a log directory built from the input in the
 * mem store (drivers/store/mem.c), so that no file system is touched.
 *
 * Input: chunks of a 1-byte tag, a 2-byte little-endian length and that
 * many bytes (cut at the end of the input). The low 4 bits of the tag
 * pick a file of partition 0 of a one-partition log, and the bytes are
 * appended to it:
 *   0 A.seg  1 A.idx  2 A.tix  3 B.seg  4 B.idx  5 B.tix
 *   6 checkpoint.0  7 checkpoint.1  8 journal.meta (else a valid one)
 *   9 base offset of A, 10 of B (u64 from the first 8 bytes; A is 0 and
 *   B is 1 unless given), 11-15 ignored.
 * Tag bit 0x10 pads the file with zeros to a 4096 boundary before the
 * bytes, 0x20 after them: real segments (a batch per block) stay small.
 * tests/fuzz/journal_seeds.c writes real logs in this form.
 *
 * Each input goes through (abort when an invariant breaks):
 * 1. a reader on the files as given (no recovery): records come in
 *    increasing offsets, consecutive within a segment; -EBADMSG leaves a
 *    stop reason and skip_segment() moves on; a seek by offset lands at
 *    or after it; the reader's counts match what it returned;
 * 2. evg_journal_open(): either fails with a negative errno and one line,
 *    or opens; then a reader sees exactly rep.records records when it
 *    meets no bad batch, the producer states are those the records give
 *    when no checkpoint was in the input, and one record appended lands at
 *    the end offset;
 * 3. close, then open what close left: no torn bytes, one record more,
 *    the same producer states (plus the appended record's).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_TARGET "fuzz_journal"
#include "fuzz_check.h"

#define NKINDS 11u
#define NAMED_MAX 32u /* files a log may hold */
#define FILE_MAX (1u << 20)
#define READ_MAX 4096u	 /* reader calls per walk */
#define STATES_MAX 512u	 /* producer states compared */
#define APPEND_PRODUCER 0x7fffffffu
#define META_TEXT "evgate journal\nformat 1\npartitions 1\n"

enum { F_META = 8, F_ABASE = 9, F_BBASE = 10 };

struct fz_file {
	char name[64]; /* relative to the log directory */
	uint8_t *p;
	size_t len;
};

/* The files of a log directory: those an input describes, then those
 * close() left. */
struct fz_log {
	struct fz_file f[NAMED_MAX];
	unsigned int n;
	bool ckpt; /* the input has checkpoint bytes */
};

struct fz_state {
	uint64_t key;
	uint64_t session;
	uint64_t next_seq;
};

struct fz_states {
	struct fz_state s[STATES_MAX];
	uint32_t n;
	bool overflow;
};

/* What a reader walk saw. */
struct fz_walk {
	uint64_t records;
	uint64_t first, last; /* offsets */
	bool bad;	      /* met -EBADMSG */
	bool clean;	      /* read to the end: no -EBADMSG, stop END */
	struct fz_states states;
};

/*
 * libFuzzer gives the target no argument, and the journal creates its
 * store instances itself: the store wrapper finds the log to pre-fill
 * (and to save at destroy) here. Set only for the duration of one input.
 */
static struct fz_log *fz_cur;
static struct evg_store_ops fz_ops;

static void
fz_file_append(struct fz_file *f, const uint8_t *b, size_t n, bool pad_before,
	       bool pad_after)
{
	size_t start = f->len, end;
	uint8_t *np;

	if (pad_before)
		start = (size_t)jrn_align(start);
	end = start + n;
	if (pad_after)
		end = (size_t)jrn_align(end);
	if (end > FILE_MAX)
		return;
	np = realloc(f->p, end ? end : 1);
	CHECK(np != NULL);
	memset(np + f->len, 0, end - f->len);
	memcpy(np + start, b, n);
	f->p = np;
	f->len = end;
	if (f->name[0] == '\0')
		f->name[0] = '?'; /* present; named once the bases are known */
}

static void
fz_kind_name(unsigned int kind, const uint64_t *base, char *buf, size_t len)
{
	static const char *const ext[] = {".seg", ".idx", ".tix"};

	if (kind < 6)
		evg_jrn_file_name(buf, len, 0, base[kind / 3], ext[kind % 3]);
	else if (kind < 8)
		evg_jrn_ckpt_name(buf, len, 0, kind - 6);
	else
		snprintf(buf, len, "%s", JRN_META_NAME);
}

static void
fz_log_parse(struct fz_log *lg, const uint8_t *d, size_t size)
{
	uint64_t base[2] = {0, 1};

	memset(lg, 0, sizeof(*lg));
	lg->n = NKINDS - 2;
	while (size >= 3) {
		uint8_t tag = d[0], kind = tag & 0x0f;
		size_t n = (size_t)d[1] | (size_t)d[2] << 8;

		d += 3;
		size -= 3;
		n = n < size ? n : size;
		if (kind == F_ABASE || kind == F_BBASE) {
			uint8_t b[8] = {0};

			memcpy(b, d, n < 8 ? n : 8);
			base[kind - F_ABASE] = evg_ld64(b);
		} else if (kind < NKINDS - 2) {
			fz_file_append(&lg->f[kind], d, n, tag & 0x10,
				       tag & 0x20);
			lg->ckpt |= kind == 6 || kind == 7;
		}
		d += n;
		size -= n;
	}
	if (lg->f[F_META].name[0] == '\0')
		fz_file_append(&lg->f[F_META], (const uint8_t *)META_TEXT,
			       strlen(META_TEXT), false, false);
	for (unsigned int i = 0; i < lg->n; i++)
		if (lg->f[i].name[0] != '\0')
			fz_kind_name(i, base, lg->f[i].name,
				     sizeof(lg->f[i].name));
}

static void
fz_log_free(struct fz_log *lg)
{
	for (unsigned int i = 0; i < lg->n; i++)
		free(lg->f[i].p);
	memset(lg, 0, sizeof(*lg));
}

/* Write one file through the store's data path (whole aligned blocks,
 * then truncated to its length). */
static void
fz_put(struct evg_store *st, const char *name, const uint8_t *b, size_t len)
{
	size_t plen = (size_t)jrn_align(len ? len : 1);
	uint8_t *buf = aligned_alloc(JRN_ALIGN, plen);
	int fid = evg_store_mem_ops.open(st, name, true, 0);

	CHECK(buf != NULL && fid >= 0);
	memset(buf, 0, plen);
	memcpy(buf, b, len);
	CHECK(evg_jrn_write_wait(st, &evg_store_mem_ops, fid, buf,
				 (uint32_t)plen, 0) == 0);
	CHECK(evg_store_mem_ops.truncate(st, fid, len) == 0);
	evg_store_mem_ops.close(st, fid);
	free(buf);
}

static int
fz_create(const struct evg_store_conf *conf, struct evg_store **st)
{
	const struct fz_log *lg = fz_cur;
	char name[64];
	int rc = evg_store_mem_ops.create(conf, st);

	if (rc < 0 || lg == NULL)
		return rc;
	evg_jrn_part_name(name, sizeof(name), 0);
	CHECK(evg_store_mem_ops.mkdir(*st, name) == 0);
	for (unsigned int i = 0; i < lg->n; i++)
		if (lg->f[i].name[0] != '\0')
			fz_put(*st, lg->f[i].name, lg->f[i].p, lg->f[i].len);
	return 0;
}

struct fz_save {
	struct evg_store *st;
	struct fz_log *lg;
	const char *dir;
};

static void
fz_save_one(void *arg, const char *entry)
{
	struct fz_save *sv = arg;
	struct fz_file *f;
	int fid;
	int64_t sz;

	if (sv->lg->n == NAMED_MAX)
		return;
	f = &sv->lg->f[sv->lg->n];
	snprintf(f->name, sizeof(f->name), "%s%s%s", sv->dir,
		 sv->dir[0] ? "/" : "", entry);
	fid = evg_store_mem_ops.open(sv->st, f->name, false, 0);
	CHECK(fid >= 0);
	sz = evg_store_mem_ops.size(sv->st, fid);
	CHECK(sz >= 0);
	f->p = malloc(sz ? (size_t)sz : 1);
	CHECK(f->p != NULL);
	CHECK(evg_store_mem_ops.read(sv->st, fid, f->p, (uint64_t)sz, 0) == sz);
	f->len = (size_t)sz;
	evg_store_mem_ops.close(sv->st, fid);
	sv->lg->n++;
}

/* Replace the log by every file the store holds (a restart after it). */
static void
fz_destroy(struct evg_store *st)
{
	struct fz_log *lg = fz_cur;
	char part[16];
	bool ckpt;

	if (lg != NULL) {
		struct fz_save sv = {.st = st, .lg = lg, .dir = ""};
		int fid = evg_store_mem_ops.open(st, JRN_META_NAME, false, 0);

		ckpt = lg->ckpt;
		fz_log_free(lg);
		lg->ckpt = ckpt;
		if (fid >= 0) {
			evg_store_mem_ops.close(st, fid);
			fz_save_one(&sv, JRN_META_NAME);
		}
		evg_jrn_part_name(part, sizeof(part), 0);
		sv.dir = part;
		evg_store_mem_ops.list(st, part, fz_save_one, &sv);
	}
	evg_store_mem_ops.destroy(st);
}

/* Fold a record into the states as recovery does (docs/storage.md). */
static void
fz_fold(struct fz_states *ss, uint32_t producer, uint32_t stream,
	uint64_t session, uint64_t seq)
{
	uint64_t key = (uint64_t)producer << 32 | stream;
	struct fz_state *s = NULL;

	for (uint32_t i = 0; i < ss->n && s == NULL; i++)
		if (ss->s[i].key == key)
			s = &ss->s[i];
	if (s == NULL) {
		if (ss->n == STATES_MAX) {
			ss->overflow = true;
			return;
		}
		s = &ss->s[ss->n++];
		*s = (struct fz_state){key, session, seq + 1};
		return;
	}
	if (session > s->session) {
		s->session = session;
		s->next_seq = seq + 1;
	} else if (session == s->session && seq + 1 > s->next_seq) {
		s->next_seq = seq + 1;
	}
}

static int
fz_take_state(void *arg, uint32_t producer, uint32_t stream, uint64_t session,
	      uint64_t next_seq)
{
	struct fz_states *ss = arg;

	if (ss->n == STATES_MAX) {
		ss->overflow = true;
		return 1;
	}
	ss->s[ss->n++] = (struct fz_state){(uint64_t)producer << 32 | stream,
					   session, next_seq};
	return 0;
}

static int
fz_state_cmp(const void *a, const void *b)
{
	const struct fz_state *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

static bool
fz_states_equal(struct fz_states *a, struct fz_states *b)
{
	if (a->overflow || b->overflow)
		return true; /* too many to compare */
	qsort(a->s, a->n, sizeof(a->s[0]), fz_state_cmp);
	qsort(b->s, b->n, sizeof(b->s[0]), fz_state_cmp);
	return a->n == b->n && memcmp(a->s, b->s, a->n * sizeof(a->s[0])) == 0;
}

static void
fz_check_entry(const struct evg_journal_entry *e)
{
	const struct evg_journal_rec *r = &e->rec;
	volatile uint8_t sum = 0;

	CHECK(e->partition == 0);
	CHECK(r->key_size == 0 || r->key != NULL);
	CHECK(r->value_size == 0 || r->value != NULL);
	CHECK(evg_jrn_rec_len(r->key_size, r->value_size) != 0);
	/* Touch every byte: ASan checks they are inside the reader's. */
	for (uint32_t i = 0; i < r->key_size; i++)
		sum += ((const uint8_t *)r->key)[i];
	for (uint32_t i = 0; i < r->value_size; i++)
		sum += ((const uint8_t *)r->value)[i];
	(void)sum;
}

/* Read a partition from where r stands to its end, skipping bad segments. */
static void
fz_walk(struct evg_journal_reader *r, struct fz_walk *w)
{
	struct evg_journal_reader_pos pos;
	struct evg_journal_entry e;
	bool jump = true; /* the next offset may be anything */

	memset(w, 0, sizeof(*w));
	for (unsigned int calls = 0; calls < READ_MAX; calls++) {
		int rc = evg_journal_reader_next(r, &e);

		if (rc == 0) {
			fz_check_entry(&e);
			CHECK(jump || e.offset == w->last + 1);
			if (w->records++ == 0)
				w->first = e.offset;
			w->last = e.offset;
			jump = false;
			fz_fold(&w->states, e.rec.producer_id, e.rec.stream_id,
				e.rec.session, e.rec.seq);
			continue;
		}
		CHECK(evg_journal_reader_pos(r, &pos) == 0);
		if (rc == -ENODATA) {
			CHECK(pos.stop != EVG_JOURNAL_STOP_NONE);
			w->clean = !w->bad && pos.stop == EVG_JOURNAL_STOP_END;
			break;
		}
		CHECK(rc == -EBADMSG);
		CHECK(pos.stop == EVG_JOURNAL_STOP_TORN ||
		      pos.stop == EVG_JOURNAL_STOP_BAD ||
		      pos.stop == EVG_JOURNAL_STOP_GAP);
		w->bad = true;
		jump = true;
		rc = evg_journal_reader_skip_segment(r);
		CHECK(rc == 0 || rc == -ENODATA);
		if (rc == -ENODATA)
			break;
	}
}

/* Seeks on a reader that has walked w: by offset, by time, to the end. */
static void
fz_seeks(struct evg_journal_reader *r, const struct fz_walk *w)
{
	struct evg_journal_entry e;
	uint64_t target = w->first + (w->last - w->first) / 2;
	int rc;

	if (evg_journal_reader_seek_offset(r, target) == 0) {
		rc = evg_journal_reader_next(r, &e);
		CHECK(rc == 0 || rc == -ENODATA || rc == -EBADMSG);
		if (rc == 0) {
			fz_check_entry(&e);
			CHECK(e.offset >= target);
			if (w->clean && w->records > 0)
				CHECK(e.offset == target);
		}
	}
	if (evg_journal_reader_seek_time(r, target * 1000) == 0) {
		rc = evg_journal_reader_next(r, &e);
		CHECK(rc == 0 || rc == -ENODATA || rc == -EBADMSG);
	}
	if (evg_journal_reader_seek_end(r) == 0) {
		rc = evg_journal_reader_next(r, &e);
		CHECK(rc == 0 || rc == -ENODATA || rc == -EBADMSG);
	}
}

/* Stage 1: a reader on the files as the input gives them. */
static void
fz_read_raw(void)
{
	struct evg_store_conf sc = {.dir = "fz", .depth = 4, .socket_id = -1};
	struct jrn_part *pt = aligned_alloc(64, sizeof(*pt));
	struct evg_journal j = {.conf = {.store = &evg_store_mem_ops,
					 .partitions = 1}};
	struct evg_journal_reader *r;
	struct evg_journal_reader_pos pos;
	struct fz_walk w;

	CHECK(pt != NULL);
	memset(pt, 0, sizeof(*pt));
	CHECK(fz_create(&sc, &pt->st) == 0);
	j.parts = pt;
	if (evg_jrn_reader_open_store(&j, 0, &r) == 0) {
		fz_walk(r, &w);
		CHECK(evg_journal_reader_pos(r, &pos) == 0);
		CHECK(pos.records == w.records);
		fz_seeks(r, &w);
		evg_journal_reader_close(r);
	}
	evg_store_mem_ops.destroy(pt->st);
	free(pt);
}

static int
fz_open(struct evg_journal **j, struct evg_journal_recovery *rep)
{
	struct evg_journal_conf c = {
		.dir = "fz",
		.store = &fz_ops,
		.partitions = 1,
		.segment_bytes = 64 * 1024,
		.batch_bytes = 8192,
		.index_interval = 4096,
		.level = EVG_JOURNAL_WRITTEN,
		.sync_mode = EVG_JOURNAL_SYNC_FDATASYNC,
		.depth = 16,
		.socket_id = -1,
	};
	char err[512] = "";
	int rc = evg_journal_open(&c, j, rep, err, sizeof(err));

	if (rc < 0) {
		CHECK(rc > -4096 && err[0] != '\0' && !strchr(err, '\n'));
		*j = NULL;
	}
	return rc;
}

/* Read all of an open journal; check it against its recovery report. */
static void
fz_read_open(struct evg_journal *j, const struct evg_journal_recovery *rep,
	     struct fz_walk *w)
{
	struct evg_journal_reader *r;

	CHECK(evg_jrn_reader_open_store(j, 0, &r) == 0);
	fz_walk(r, w);
	evg_journal_reader_close(r);
	/* Recovery does not read batches before a segment's last index
	 * entry (docs/storage.md): a reader may stop on one of them. */
	if (w->clean) {
		if (w->records != rep->records)
			fprintf(stderr, "read %" PRIu64 ", recovered %" PRIu64
				"\n", w->records, rep->records);
		CHECK(w->records == rep->records);
	}
}

/* Append one record and wait until it is written; its offset. */
static uint64_t
fz_append_one(struct evg_journal *j, struct fz_states *states)
{
	static const char key[] = "fuzz", value[] = "appended after recovery";
	struct evg_journal_rec rec = {
		.producer_id = APPEND_PRODUCER, .stream_id = 0, .session = 1,
		.seq = 7, .ts_ns = 1, .ingest_ns = 2, .key = key,
		.value = value, .key_size = 4, .value_size = sizeof(value)};
	uint64_t first = 0, durable = 0;
	int64_t t = evg_journal_append(j, 0, &rec, 1, &first);

	CHECK(t >= 1);
	CHECK(evg_journal_flush(j, 0) == 0);
	for (unsigned int i = 0; i < 1000 && durable < (uint64_t)t; i++)
		CHECK(evg_journal_poll(j, 0, &durable) >= 0);
	CHECK(durable >= (uint64_t)t);
	fz_fold(states, rec.producer_id, rec.stream_id, rec.session, rec.seq);
	return first;
}

/* Stages 2 and 3: recover, read, append, close, recover again. */
static void
fz_recover(struct fz_log *lg)
{
	struct evg_journal_recovery rep, rep2;
	struct evg_journal *j;
	struct fz_states *st1 = calloc(2, sizeof(*st1)), *st2 = st1 + 1;
	struct fz_walk *w = calloc(1, sizeof(*w));
	uint64_t off;

	CHECK(st1 != NULL && w != NULL);
	if (fz_open(&j, &rep) == 0) {
		fz_read_open(j, &rep, w);
		CHECK(evg_journal_producers(j, fz_take_state, st1) >= 0);
		if (!lg->ckpt && w->clean)
			CHECK(fz_states_equal(st1, &w->states));
		off = fz_append_one(j, st1);
		if (w->clean && w->records > 0)
			CHECK(off == w->last + 1);
		CHECK(evg_journal_close(j) == 0); /* fz_destroy saves the log */
		CHECK(fz_open(&j, &rep2) == 0);
		if (rep2.torn_bytes != 0 || rep2.records != rep.records + 1)
			fprintf(stderr,
				"first open: %" PRIu64 " segments, %" PRIu64
				" records, %" PRIu64 " torn bytes; after an "
				"append and close: %" PRIu64 ", %" PRIu64
				", %" PRIu64 "\n",
				rep.segments, rep.records, rep.torn_bytes,
				rep2.segments, rep2.records, rep2.torn_bytes);
		CHECK(rep2.torn_bytes == 0 && rep2.torn_tails == 0);
		CHECK(rep2.records == rep.records + 1);
		CHECK(evg_journal_producers(j, fz_take_state, st2) >= 0);
		CHECK(fz_states_equal(st1, st2));
		CHECK(evg_journal_close(j) == 0);
	}
	free(w);
	free(st1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_log lg;

	if (fz_ops.create == NULL) {
		fz_ops = evg_store_mem_ops;
		fz_ops.name = "fuzz-mem";
		fz_ops.create = fz_create;
		fz_ops.destroy = fz_destroy;
	}
	fz_log_parse(&lg, data, size);
	fz_cur = &lg;
	fz_read_raw();
	fz_recover(&lg);
	fz_cur = NULL;
	fz_log_free(&lg);
	return 0;
}
