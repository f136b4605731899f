/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Opening and closing a journal: configuration checks, the journal.meta
 * file, partition set-up and tear-down, and the small queries.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "journal_priv.h"

#define META_FMT "evgate journal\nformat %u\npartitions %u\n"

static const char *const stat_names[] = {
#define EVG_JOURNAL_STAT_NAME_(name, desc) #name,
	EVG_JOURNAL_STATS_FOREACH(EVG_JOURNAL_STAT_NAME_)
#undef EVG_JOURNAL_STAT_NAME_
};

static int __attribute__((format(printf, 4, 5)))
fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int
check_conf(const struct evg_journal_conf *c, char *err, size_t errlen)
{
	if (c->dir == NULL || c->dir[0] == '\0' ||
	    strlen(c->dir) >= sizeof(((struct evg_journal *)0)->dir))
		return fail(-EINVAL, err, errlen,
			    "journal: dir is missing or too long");
	if (c->store == NULL)
		return fail(-EINVAL, err, errlen, "journal: no store backend");
	if (c->partitions < 1 || c->partitions > EVG_JOURNAL_MAX_PARTITIONS)
		return fail(-EINVAL, err, errlen,
			    "journal: partitions = %" PRIu32
			    " is invalid: expected 1 to %u",
			    c->partitions, EVG_JOURNAL_MAX_PARTITIONS);
	if (c->batch_bytes < JRN_ALIGN || c->batch_bytes > JRN_MAX_BATCH ||
	    c->batch_bytes % JRN_ALIGN != 0)
		return fail(-EINVAL, err, errlen,
			    "journal: batch_bytes = %" PRIu32
			    " is invalid: expected a multiple of %u from %u "
			    "to %u",
			    c->batch_bytes, JRN_ALIGN, JRN_ALIGN,
			    JRN_MAX_BATCH);
	if (c->segment_bytes < c->batch_bytes ||
	    c->segment_bytes > (1ull << 40))
		return fail(-EINVAL, err, errlen,
			    "journal: segment_bytes = %" PRIu64
			    " is invalid: expected batch_bytes (%" PRIu32
			    ") to 1 TiB",
			    c->segment_bytes, c->batch_bytes);
	if (c->index_interval == 0)
		return fail(-EINVAL, err, errlen,
			    "journal: index_interval = 0 is invalid: expected "
			    "a number of bytes, e.g. 65536");
	if (c->depth == 0 || c->level > EVG_JOURNAL_SYNCED ||
	    c->sync_mode > EVG_JOURNAL_SYNC_DSYNC)
		return fail(-EINVAL, err, errlen,
			    "journal: depth = %" PRIu32
			    ", level = %d, sync_mode = %d: expected depth >= 1 "
			    "and a known level and sync mode",
			    c->depth, (int)c->level, (int)c->sync_mode);
	return 0;
}

int
evg_jrn_meta_parse(const char *text, uint32_t *partitions)
{
	unsigned int format, n;

	if (sscanf(text, META_FMT, &format, &n) != 2)
		return -EBADMSG;
	if (format != JRN_FORMAT_VERSION)
		return -EPROTO;
	if (n < 1 || n > EVG_JOURNAL_MAX_PARTITIONS)
		return -EBADMSG;
	*partitions = n;
	return 0;
}

static int
meta_create(struct evg_store *st, const struct evg_store_ops *ops,
	    uint32_t partitions, int socket_id)
{
	struct jrn_mem m;
	int fid, dfid, len, rc;

	rc = evg_jrn_mem_alloc(&m, JRN_ALIGN, socket_id);
	if (rc < 0)
		return rc;
	len = snprintf(m.p, JRN_ALIGN, META_FMT, JRN_FORMAT_VERSION,
		       partitions);
	fid = ops->open(st, JRN_META_NAME, true, 0);
	rc = fid < 0 ? fid
		     : evg_jrn_write_wait(st, ops, fid, m.p, JRN_ALIGN, 0);
	if (rc == 0)
		rc = ops->truncate(st, fid, (uint64_t)len);
	if (rc == 0)
		rc = ops->sync_now(st, fid);
	if (fid >= 0)
		ops->close(st, fid);
	dfid = rc == 0 ? ops->open(st, "", false, 0) : -1;
	if (dfid >= 0) {
		ops->sync_now(st, dfid);
		ops->close(st, dfid);
	}
	evg_jrn_mem_free(&m);
	return rc;
}

/* Create the meta file in a new log directory, or check it. */
static int
meta_check(struct evg_journal *j, char *err, size_t errlen)
{
	const struct evg_store_ops *ops = j->conf.store;
	/* io_cpus here too: the kernel moves no io worker that exists
	 * already, and this store's write would start the first one. */
	struct evg_store_conf sc = {.dir = j->dir,
				    .depth = 1,
				    .socket_id = j->conf.socket_id,
				    .io_cpus = j->conf.io_cpus};
	struct evg_store *st;
	char text[256] = "";
	uint32_t n = 0;
	int fid, rc;

	rc = ops->create(&sc, &st);
	if (rc < 0)
		return fail(rc, err, errlen, "log dir %s: cannot open: %s",
			    j->dir, strerror(-rc));
	fid = ops->open(st, JRN_META_NAME, false, 0);
	if (fid == -ENOENT) {
		rc = meta_create(st, ops, j->conf.partitions,
				 j->conf.socket_id);
		if (rc < 0)
			fail(rc, err, errlen,
			     "log dir %s: cannot create %s: %s", j->dir,
			     JRN_META_NAME, strerror(-rc));
	} else if (fid < 0) {
		rc = fail(fid, err, errlen, "log dir %s: cannot open %s: %s",
			  j->dir, JRN_META_NAME, strerror(-fid));
	} else {
		int64_t got = ops->read(st, fid, text, sizeof(text) - 1, 0);

		ops->close(st, fid);
		rc = got < 0 ? (int)got : evg_jrn_meta_parse(text, &n);
		if (rc < 0)
			fail(rc, err, errlen, "log dir %s: bad %s: %s", j->dir,
			     JRN_META_NAME,
			     rc == -EPROTO ? "unknown format version"
					   : strerror(-rc));
		else if (n != j->conf.partitions)
			rc = fail(-EINVAL, err, errlen,
				  "log dir %s has %" PRIu32
				  " partitions, config says %" PRIu32,
				  j->dir, n, j->conf.partitions);
	}
	ops->destroy(st);
	return rc;
}

/* Index entries a segment can get: one per batch at most, and one per
 * index_interval bytes. */
static uint32_t
index_cap(const struct evg_journal_conf *c)
{
	uint64_t span = c->segment_bytes + c->batch_bytes;
	uint64_t n = span / JRN_ALIGN;

	if (span / c->index_interval < n)
		n = span / c->index_interval;
	return (uint32_t)RTE_MIN(n + 2, (uint64_t)UINT32_MAX / 2);
}

int
evg_jrn_part_init(struct jrn_part *pt, struct evg_journal *j, uint32_t id)
{
	const struct evg_store_ops *ops = j->conf.store;
	struct evg_store_conf sc = {.dir = j->dir,
				    .depth = j->conf.depth,
				    .socket_id = j->conf.socket_id,
				    .io_cpus = j->conf.io_cpus};
	uint64_t ilen = (uint64_t)index_cap(&j->conf) * JRN_IDX_ENTRY;
	char name[64];
	int rc;

	pt->j = j;
	pt->id = id;
	pt->open = -1;
	pt->dirfid = pt->ckpt.fid[0] = pt->ckpt.fid[1] = -1;
	rc = ops->create(&sc, &pt->st);
	if (rc < 0) {
		pt->st = NULL;
		return rc;
	}
	evg_jrn_part_name(name, sizeof(name), id);
	rc = ops->mkdir(pt->st, name);
	if (rc < 0 && rc != -EEXIST)
		return rc;
	pt->dirfid = ops->open(pt->st, name, false, 0);
	if (pt->dirfid < 0)
		return pt->dirfid;
	for (unsigned int s = 0; s < 2; s++) {
		evg_jrn_ckpt_name(name, sizeof(name), id, s);
		pt->ckpt.fid[s] = ops->open(pt->st, name, true, 0);
		if (pt->ckpt.fid[s] < 0)
			return pt->ckpt.fid[s];
	}
	for (unsigned int i = 0; i < JRN_NBUF; i++) {
		rc = evg_jrn_mem_alloc(&pt->buf[i].mem, j->bufcap,
				       j->conf.socket_id);
		if (rc < 0)
			return rc;
		pt->buf[i].p = pt->buf[i].mem.p;
	}
	for (unsigned int s = 0; s < 2; s++) {
		rc = evg_jrn_mem_alloc(&pt->seg[s].idx, ilen,
				       j->conf.socket_id);
		if (rc == 0)
			rc = evg_jrn_mem_alloc(&pt->seg[s].tix, ilen,
					       j->conf.socket_id);
		if (rc < 0)
			return rc;
		pt->seg[s].cap = (uint32_t)(ilen / JRN_IDX_ENTRY);
	}
	return evg_jrn_ptable_init(&pt->states);
}

void
evg_jrn_part_fini(struct jrn_part *pt)
{
	const struct evg_store_ops *ops = pt->j->conf.store;

	if (pt->st != NULL) {
		evg_jrn_seg_release(pt, 0);
		evg_jrn_seg_release(pt, 1);
		for (unsigned int s = 0; s < 2; s++)
			if (pt->ckpt.fid[s] >= 0)
				ops->close(pt->st, pt->ckpt.fid[s]);
		if (pt->dirfid >= 0)
			ops->close(pt->st, pt->dirfid);
		ops->destroy(pt->st);
		pt->st = NULL;
	}
	for (unsigned int i = 0; i < JRN_NBUF; i++)
		evg_jrn_mem_free(&pt->buf[i].mem);
	for (unsigned int s = 0; s < 2; s++) {
		evg_jrn_mem_free(&pt->seg[s].idx);
		evg_jrn_mem_free(&pt->seg[s].tix);
	}
	evg_jrn_mem_free(&pt->ckpt.mem);
	evg_jrn_ptable_free(&pt->states);
	free(pt->segs);
	pt->segs = NULL;
}

static void
journal_free(struct evg_journal *j, uint32_t inited)
{
	for (uint32_t p = 0; p < inited; p++)
		evg_jrn_part_fini(&j->parts[p]);
	free(j->parts);
	free(j);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
evg_journal_open(const struct evg_journal_conf *conf, struct evg_journal **jp,
		 struct evg_journal_recovery *rep, char *err, size_t errlen)
{
	struct evg_journal_recovery local;
	struct evg_journal *j;
	double t0 = now_s();
	uint32_t p = 0, inited = 0;
	int rc;

	if (conf == NULL || jp == NULL)
		return fail(-EINVAL, err, errlen, "journal: no configuration");
	rc = check_conf(conf, err, errlen);
	if (rc < 0)
		return rc;
	rep = rep != NULL ? rep : &local;
	memset(rep, 0, sizeof(*rep));
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return fail(-ENOMEM, err, errlen, "journal: out of memory");
	j->conf = *conf;
	strcpy(j->dir, conf->dir);
	j->conf.dir = j->dir;
	if (conf->io_cpus != NULL) {
		j->io_cpus = *conf->io_cpus;
		j->conf.io_cpus = &j->io_cpus;
	}
	j->bufcap = conf->batch_bytes;
	j->parts = aligned_alloc(64, conf->partitions * sizeof(*j->parts));
	if (j->parts == NULL) {
		free(j);
		return fail(-ENOMEM, err, errlen, "journal: out of memory");
	}
	memset(j->parts, 0, conf->partitions * sizeof(*j->parts));
	rc = meta_check(j, err, errlen);
	for (; rc == 0 && p < conf->partitions; p++) {
		inited = p + 1;
		rc = evg_jrn_part_init(&j->parts[p], j, p);
		if (rc < 0) {
			fail(rc, err, errlen,
			     "log dir %s: partition %" PRIu32 ": %s", j->dir, p,
			     strerror(-rc));
			break;
		}
		rc = evg_jrn_recover_part(&j->parts[p], rep, err, errlen);
	}
	if (rc < 0) {
		journal_free(j, inited);
		return rc;
	}
	rep->seconds = now_s() - t0;
	*jp = j;
	return 0;
}

/* Index blocks not yet written, the checkpoint, and a last sync. */
static int
part_finish(struct jrn_part *pt)
{
	const struct evg_store_ops *ops = pt->j->conf.store;
	struct jrn_seg *sg = &pt->seg[pt->cur];
	uint32_t want = (sg->n + JRN_IDX_PER_BLOCK - 1) / JRN_IDX_PER_BLOCK;
	int rc = 0;

	for (; rc == 0 && sg->blocks < want; sg->blocks++) {
		uint64_t off = (uint64_t)sg->blocks * JRN_ALIGN;

		rc = evg_jrn_write_wait(pt->st, ops, sg->idx_fid,
					(uint8_t *)sg->idx.p + off, JRN_ALIGN,
					off);
		if (rc == 0)
			rc = evg_jrn_write_wait(pt->st, ops, sg->tix_fid,
						(uint8_t *)sg->tix.p + off,
						JRN_ALIGN, off);
	}
	if (rc == 0)
		rc = ops->sync_now(pt->st, sg->fid);
	if (rc == 0)
		rc = evg_jrn_ckpt_write_now(pt);
	return rc;
}

int
evg_journal_close(struct evg_journal *j)
{
	int rc = 0;

	if (j == NULL)
		return -EINVAL;
	for (uint32_t p = 0; p < j->conf.partitions; p++) {
		int r = evg_jrn_part_drain(&j->parts[p]);

		if (r == 0)
			r = part_finish(&j->parts[p]);
		if (r < 0 && rc == 0)
			rc = r;
	}
	journal_free(j, j->conf.partitions);
	return rc;
}

uint32_t
evg_journal_partition(const struct evg_journal *j, uint32_t stream_id)
{
	return stream_id % j->conf.partitions;
}

int
evg_journal_producers(const struct evg_journal *j,
		      int (*fn)(void *arg, uint32_t producer_id,
				uint32_t stream_id, uint64_t session,
				uint64_t next_seq),
		      void *arg)
{
	if (j == NULL || fn == NULL)
		return -EINVAL;
	for (uint32_t p = 0; p < j->conf.partitions; p++) {
		const struct jrn_ptable *pt = &j->parts[p].states;

		for (uint32_t i = 0; i < pt->cap; i++) {
			const struct jrn_pstate *s = &pt->t[i];
			int rc;

			if (!s->used)
				continue;
			rc = fn(arg, (uint32_t)(s->key >> 32), (uint32_t)s->key,
				s->session, s->next_seq);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

const char *
evg_journal_stat_name(unsigned int i)
{
	return i < EVG_JOURNAL_STAT_MAX ? stat_names[i] : NULL;
}

struct evg_store *
evg_journal_store(struct evg_journal *j, uint32_t p)
{
	if (j == NULL || p >= j->conf.partitions)
		return NULL;
	return j->parts[p].st;
}
