/* SPDX-License-Identifier: BSD-3-Clause */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "journal_testutil.h"

#define HOLD_MAX 256u

void
tu_mkdtemp(char *buf, size_t len)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(buf, len, "%s/evg-jrn-XXXXXX", tmp ? tmp : "/tmp");
	cr_assert_not_null(mkdtemp(buf), "mkdtemp %s: %s", buf,
			   strerror(errno));
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
tu_rmrf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
copy_file(const char *src, const char *dst)
{
	char buf[65536];
	int in = open(src, O_RDONLY), out;
	ssize_t n;

	cr_assert_geq(in, 0, "open %s: %s", src, strerror(errno));
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(out, 0, "open %s: %s", dst, strerror(errno));
	while ((n = read(in, buf, sizeof(buf))) > 0)
		cr_assert_eq(write(out, buf, (size_t)n), n, "write %s", dst);
	close(in);
	close(out);
}

/* Regular files and directories, recursively. */
void
tu_copy_log(const char *src, const char *dst)
{
	char from[4096], to[4096];
	struct dirent *de;
	struct stat sb;
	DIR *d = opendir(src);

	cr_assert_not_null(d, "opendir %s: %s", src, strerror(errno));
	cr_assert(mkdir(dst, 0755) == 0 || errno == EEXIST, "mkdir %s", dst);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(from, sizeof(from), "%s/%s", src, de->d_name);
		snprintf(to, sizeof(to), "%s/%s", dst, de->d_name);
		cr_assert_eq(stat(from, &sb), 0, "stat %s", from);
		if (S_ISDIR(sb.st_mode))
			tu_copy_log(from, to);
		else
			copy_file(from, to);
	}
	closedir(d);
}

void
tu_seg_path(char *buf, size_t len, const char *dir, uint32_t p, uint64_t base,
	    const char *ext)
{
	snprintf(buf, len, "%s/p%04" PRIu32 "/%020" PRIu64 "%s", dir, p, base,
		 ext);
}

int64_t
tu_file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (int64_t)sb.st_size : -errno;
}

void
tu_conf(struct evg_journal_conf *c, const char *dir,
	const struct evg_store_ops *ops)
{
	*c = (struct evg_journal_conf){
		.dir = dir,
		.store = ops,
		.partitions = 1,
		.segment_bytes = 64 * 1024,
		.batch_bytes = 8192,
		.index_interval = 4096,
		.level = EVG_JOURNAL_WRITTEN,
		.sync_mode = EVG_JOURNAL_SYNC_FDATASYNC,
		.depth = 16,
		.socket_id = -1,
	};
}

static uint8_t
value_byte(uint32_t producer, uint32_t stream, uint64_t seq, uint32_t i)
{
	return (uint8_t)(producer * 31u + stream * 7u + (uint32_t)seq * 3u + i);
}

struct evg_journal_rec
tu_rec(uint32_t producer, uint32_t stream, uint64_t session, uint64_t seq,
       uint32_t value_size, uint8_t *buf)
{
	int klen = snprintf((char *)buf, 64, "k%" PRIu64, seq);

	for (uint32_t i = 0; i < value_size; i++)
		buf[64 + i] = value_byte(producer, stream, seq, i);
	return (struct evg_journal_rec){
		.producer_id = producer,
		.stream_id = stream,
		.session = session,
		.seq = seq,
		.ts_ns = 1000000000ull + seq,
		.ingest_ns = 2000000000ull + seq,
		.key = buf,
		.value = buf + 64,
		.key_size = (uint32_t)klen,
		.value_size = value_size,
	};
}

void
tu_expect_rec(const struct evg_journal_entry *e, uint32_t producer,
	      uint32_t stream, uint64_t session, uint64_t seq,
	      uint32_t value_size)
{
	uint8_t buf[64 + 4096];
	struct evg_journal_rec want =
		tu_rec(producer, stream, session, seq, value_size, buf);
	const struct evg_journal_rec *got = &e->rec;

	cr_assert(got->producer_id == producer && got->stream_id == stream &&
			  got->session == session && got->seq == seq,
		  "offset %" PRIu64 ": got (%" PRIu32 ", %" PRIu32 ", %" PRIu64
		  ", seq %" PRIu64 "), expected (%" PRIu32 ", %" PRIu32
		  ", %" PRIu64 ", seq %" PRIu64 ")",
		  e->offset, got->producer_id, got->stream_id, got->session,
		  got->seq, producer, stream, session, seq);
	cr_assert(got->ts_ns == want.ts_ns && got->ingest_ns == want.ingest_ns,
		  "offset %" PRIu64 ": timestamps differ", e->offset);
	cr_assert(got->key_size == want.key_size &&
			  memcmp(got->key, want.key, want.key_size) == 0,
		  "offset %" PRIu64 ": key differs", e->offset);
	cr_assert(got->value_size == value_size &&
			  memcmp(got->value, want.value, value_size) == 0,
		  "offset %" PRIu64 ": value differs", e->offset);
}

struct evg_journal *
tu_open(const struct evg_journal_conf *c, struct evg_journal_recovery *rep)
{
	struct evg_journal *j = NULL;
	char err[512] = "";
	int rc = evg_journal_open(c, &j, rep, err, sizeof(err));

	cr_assert_eq(rc, 0, "open %s: %d (%s)", c->dir, rc, err);
	return j;
}

int64_t
tu_append(struct evg_journal *j, uint32_t p, uint32_t producer, uint32_t stream,
	  uint64_t session, uint64_t seq, unsigned int n, uint32_t value_size,
	  uint64_t *first)
{
	struct evg_journal_rec recs[64];
	uint8_t *bufs = malloc((size_t)n * (64 + value_size));
	int64_t t;

	cr_assert(n <= 64 && bufs != NULL);
	for (unsigned int i = 0; i < n; i++)
		recs[i] = tu_rec(producer, stream, session, seq + i, value_size,
				 bufs + (size_t)i * (64 + value_size));
	t = evg_journal_append(j, p, recs, n, first);
	free(bufs);
	return t;
}

void
tu_wait_durable(struct evg_journal *j, uint32_t p, uint64_t ticket)
{
	const struct timespec pause = {.tv_nsec = 100000};
	uint64_t durable = 0;

	for (int i = 0; i < 20000; i++) {
		evg_journal_poll(j, p, &durable);
		if (durable >= ticket)
			return;
		nanosleep(&pause, NULL);
	}
	cr_assert_fail("durable stayed at %" PRIu64 ", expected %" PRIu64,
		       durable, ticket);
}

/* Entries keep their key and value in a copy of their own: the
 * reader's buffer changes with every call. */
unsigned int
tu_read_all(struct evg_journal_reader *r, struct evg_journal_entry *out,
	    unsigned int max)
{
	struct evg_journal_entry e;
	unsigned int n = 0;
	int rc;

	while ((rc = evg_journal_reader_next(r, &e)) == 0) {
		uint8_t *copy = malloc(e.rec.key_size + e.rec.value_size + 1);

		cr_assert_lt(n, max, "more records than expected");
		cr_assert_not_null(copy);
		memcpy(copy, e.rec.key, e.rec.key_size);
		memcpy(copy + e.rec.key_size, e.rec.value, e.rec.value_size);
		e.rec.key = copy;
		e.rec.value = copy + e.rec.key_size;
		out[n++] = e;
	}
	cr_assert_eq(rc, -ENODATA, "reader_next: %d, expected -ENODATA", rc);
	return n;
}

void
tu_entries_free(struct evg_journal_entry *e, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		free((void *)(uintptr_t)e[i].rec.key);
		e[i].rec.key = e[i].rec.value = NULL;
	}
}

/* ---- the holding store ---- */

struct hold_store {
	const struct evg_store_ops *ops; /* &tu_hold_ops */
	struct evg_store *in;
	bool hold;
	struct evg_store_cqe held[HOLD_MAX];
	unsigned int nheld;
	struct evg_store_cqe ready[HOLD_MAX];
	unsigned int nready;
};

static struct hold_store *
hold_of(struct evg_store *st)
{
	return (struct hold_store *)st;
}

static int
hold_create(const struct evg_store_conf *conf, struct evg_store **st)
{
	struct hold_store *h = calloc(1, sizeof(*h));
	int rc;

	if (h == NULL)
		return -ENOMEM;
	rc = evg_store_mem_ops.create(conf, &h->in);
	if (rc < 0) {
		free(h);
		return rc;
	}
	h->ops = &tu_hold_ops;
	*st = (struct evg_store *)h;
	return 0;
}

static void
hold_destroy(struct evg_store *st)
{
	evg_store_mem_ops.destroy(hold_of(st)->in);
	free(st);
}

#define IN(st) (hold_of(st)->in)

static int
hold_mkdir(struct evg_store *st, const char *name)
{
	return evg_store_mem_ops.mkdir(IN(st), name);
}

static int
hold_open(struct evg_store *st, const char *name, bool create, uint64_t pre)
{
	return evg_store_mem_ops.open(IN(st), name, create, pre);
}

static int
hold_close(struct evg_store *st, int fid)
{
	return evg_store_mem_ops.close(IN(st), fid);
}

static int64_t
hold_size(struct evg_store *st, int fid)
{
	return evg_store_mem_ops.size(IN(st), fid);
}

static int
hold_truncate(struct evg_store *st, int fid, uint64_t len)
{
	return evg_store_mem_ops.truncate(IN(st), fid, len);
}

static int64_t
hold_read(struct evg_store *st, int fid, void *buf, uint64_t len, uint64_t off)
{
	return evg_store_mem_ops.read(IN(st), fid, buf, len, off);
}

static int
hold_remove(struct evg_store *st, const char *name)
{
	return evg_store_mem_ops.remove(IN(st), name);
}

static int
hold_list(struct evg_store *st, const char *name,
	  void (*fn)(void *arg, const char *entry), void *arg)
{
	return evg_store_mem_ops.list(IN(st), name, fn, arg);
}

static int
hold_sync_now(struct evg_store *st, int fid)
{
	return evg_store_mem_ops.sync_now(IN(st), fid);
}

static int
hold_write(struct evg_store *st, int fid, const void *buf, uint32_t len,
	   uint64_t off, bool dsync, uint64_t tag)
{
	return evg_store_mem_ops.write(IN(st), fid, buf, len, off, dsync, tag);
}

static int
hold_sync(struct evg_store *st, int fid, uint64_t tag)
{
	return evg_store_mem_ops.sync(IN(st), fid, tag);
}

static int
hold_submit(struct evg_store *st)
{
	return evg_store_mem_ops.submit(IN(st));
}

/* The wrapped store completes (and stores the bytes) at once; the
 * completion is kept back while holding. */
static int
hold_reap(struct evg_store *st, struct evg_store_cqe *cqe, unsigned int max)
{
	struct hold_store *h = hold_of(st);
	struct evg_store_cqe got[HOLD_MAX];
	unsigned int n = 0;
	int k = evg_store_mem_ops.reap(h->in, got, HOLD_MAX - h->nheld);

	for (int i = 0; i < k; i++) {
		if (h->hold)
			h->held[h->nheld++] = got[i];
		else
			h->ready[h->nready++] = got[i];
	}
	while (n < max && n < h->nready) {
		cqe[n] = h->ready[n];
		n++;
	}
	memmove(h->ready, h->ready + n, (h->nready - n) * sizeof(*cqe));
	h->nready -= n;
	return (int)n;
}

static unsigned int
hold_inflight(const struct evg_store *st)
{
	const struct hold_store *h = (const struct hold_store *)st;

	return evg_store_mem_ops.inflight(h->in) + h->nheld + h->nready;
}

const struct evg_store_ops tu_hold_ops = {
	.name = "hold",
	.create = hold_create,
	.destroy = hold_destroy,
	.mkdir = hold_mkdir,
	.open = hold_open,
	.close = hold_close,
	.size = hold_size,
	.truncate = hold_truncate,
	.read = hold_read,
	.remove = hold_remove,
	.list = hold_list,
	.sync_now = hold_sync_now,
	.write = hold_write,
	.sync = hold_sync,
	.submit = hold_submit,
	.reap = hold_reap,
	.inflight = hold_inflight,
};

void
tu_hold_set(struct evg_store *st, bool hold)
{
	hold_of(st)->hold = hold;
}

bool
tu_hold_release(struct evg_store *st, uint64_t tag)
{
	struct hold_store *h = hold_of(st);

	for (unsigned int i = 0; i < h->nheld; i++) {
		if (h->held[i].tag != tag)
			continue;
		h->ready[h->nready++] = h->held[i];
		memmove(&h->held[i], &h->held[i + 1],
			(h->nheld - i - 1) * sizeof(h->held[0]));
		h->nheld--;
		return true;
	}
	return false;
}

unsigned int
tu_hold_count(const struct evg_store *st)
{
	return ((const struct hold_store *)st)->nheld;
}

struct evg_store *
tu_hold_inner(struct evg_store *st)
{
	return hold_of(st)->in;
}
